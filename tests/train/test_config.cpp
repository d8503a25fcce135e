// Run configs: the examples and the embedded default parse and build; every error path names
// the file, the section and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "golden_util.h"
#include "kun/data/npy.h"
#include "kun/nn/summary.h"
#include "kun/train/config.h"

using namespace kun;
using namespace kun::train;
namespace fs = std::filesystem;

namespace {

const std::string kExamples = std::string(KUN_GOLDEN_DIR) + "/../../examples";

RunConfig parse(const std::string& text) { return parse_config_text(text, "toml", "t.toml"); }

// A minimal valid config with `extra` spliced into [train] and `layers` as the model.
std::string cfg(const std::string& train_extra = "", const std::string& layers = "[[model.layers]]\ntype = \"dense\"\nunits = 3\n",
                const std::string& data = "kind = \"mnist\"\n") {
  return "[data]\n" + data + "\n" + layers + "\n[train]\n" + train_extra;
}

std::string read(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("kun_test_config_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(Config, EmbeddedDefaultMatchesExampleFile) {
  EXPECT_EQ(read(kExamples + "/fashion_mnist.toml"), std::string(default_config_toml()));
  RunConfig rc = default_config();
  EXPECT_EQ(rc.data.kind, "fashion_mnist");
  EXPECT_EQ(rc.data.channels, 1);
  EXPECT_GE(rc.train.epochs, 1);
  EXPECT_EQ(output_activation(rc), "softmax");
  EXPECT_EQ(known_input_shape(rc), (std::vector<int64_t>{1, 28, 28}));
}

TEST(Config, EveryExampleParsesAndBuilds) {
  int n = 0;
  for (const char* name : {"fashion_mnist.toml", "mnist_cnn.toml", "mnist_strong.toml", "resnet_small.toml"}) {
    SCOPED_TRACE(name);
    RunConfig rc = parse_config_file(kExamples + "/" + name);
    nn::ModulePtr m = build_module(rc);
    std::string s = nn::summary(*m, Shape(known_input_shape(rc)));
    EXPECT_NE(s.find("Total params"), std::string::npos);
    EXPECT_GT(m->parameter_count(), 1000);
    EXPECT_NO_THROW(build_optimizer(rc.train));
    EXPECT_NO_THROW(build_loss(rc));
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(Config, SeedsCnnShapeAndParameterCount) {
  RunConfig rc = parse_config_file(kExamples + "/mnist_cnn.toml");
  nn::ModulePtr m = build_module(rc);
  nn::build(*m, Shape{1, 28, 28});
  // conv 32*9+32 = 320, dense 5408*128+128 = 692352, dense 128*10+10 = 1290
  EXPECT_EQ(m->parameter_count(), 320 + 692352 + 1290);
  // The last layer has a softmax: the loss takes probabilities and predictions need no activation.
  EXPECT_EQ(output_activation(rc), "none");
  EXPECT_EQ(rc.train.epochs, 5);
  EXPECT_EQ(rc.train.batch_size, 64);
  EXPECT_DOUBLE_EQ(rc.data.validation_split, 0.1);
}

TEST(Config, JsonConfigsWork) {
  RunConfig rc = parse_config_text(R"({"data": {"kind": "mnist"},
     "model": {"layers": [{"type": "flatten"}, {"type": "Dense", "units": 10}]},
     "train": {"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 2}})",
                                   "json", "c.json");
  EXPECT_EQ(rc.train.epochs, 2);
  EXPECT_EQ(rc.model["config"]["layers"][1]["type"], "dense");
  EXPECT_EQ(rc.train.optimizer["name"], "sgd");
  KUN_EXPECT_ERROR(parse_config_text("{\"data\": ", "json", "bad.json"), "config bad.json", "not valid JSON");
}

TEST(Config, KerasSpellingsAndShorthands) {
  RunConfig rc = parse(cfg("", R"([[model.layers]]
type = "Conv2D"
filters = 8
kernel_size = [3, 3]
strides = 1
padding = "same"
[[model.layers]]
type = "MaxPooling2D"
pool_size = 2
[[model.layers]]
type = "BatchNormalization"
[[model.layers]]
type = "ReLU"
[[model.layers]]
type = "GlobalAveragePooling2D"
[[model.layers]]
type = "dense"
units = 4
)"));
  const auto& ls = rc.model["config"]["layers"];
  EXPECT_EQ(ls[0]["type"], "conv2d");
  EXPECT_EQ(ls[0]["config"]["out_channels"], 8);
  EXPECT_EQ(ls[1]["type"], "max_pool2d");
  EXPECT_EQ(ls[2]["type"], "batch_norm");
  EXPECT_EQ(ls[3]["type"], "activation");
  EXPECT_EQ(ls[3]["config"]["name"], "relu");
  nn::ModulePtr m = build_module(rc);
  nn::build(*m, Shape{3, 8, 8});
  EXPECT_GT(m->parameter_count(), 0);
}

TEST(Config, GraphModels) {
  RunConfig rc = parse(cfg("", R"([model]
type = "graph"
outputs = ["out"]
[[model.inputs]]
name = "x"
shape = [1, 8, 8]
[[model.nodes]]
name = "c1"
inputs = ["x"]
type = "conv2d"
out_channels = 4
padding = "same"
[[model.nodes]]
name = "c2"
inputs = ["x"]
type = "conv2d"
out_channels = 4
kernel = 1
[[model.nodes]]
name = "sum"
inputs = ["c1", "c2"]
type = "add"
[[model.nodes]]
name = "flat"
inputs = ["sum"]
type = "flatten"
[[model.nodes]]
name = "out"
inputs = ["flat"]
type = "dense"
units = 3
)"));
  EXPECT_EQ(rc.input_shape, (std::vector<int64_t>{1, 8, 8}));
  nn::ModulePtr m = build_module(rc);
  std::string s = nn::summary(*m, Shape{1, 8, 8});
  EXPECT_NE(s.find("(None, 3)"), std::string::npos) << s;
  KUN_EXPECT_ERROR(parse(cfg("", R"([model]
type = "graph"
outputs = ["y"]
[[model.inputs]]
name = "x"
shape = [4]
[[model.nodes]]
name = "y"
inputs = ["z"]
type = "dense"
units = 2
)")),
                   "t.toml", "[[model.nodes]] #1 'y'", "input 'z' is not an earlier node");
}

TEST(Config, UnknownKeysNameSectionAndSuggest) {
  KUN_EXPECT_ERROR(parse(cfg("epoch = 5\n")), "config t.toml: [train] unknown key 'epoch'; did you mean 'epochs'?");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\n", "kind = \"mnist\"\nvalidation_splt = 0.1\n")),
                   "[data] unknown key 'validation_splt'; did you mean 'validation_split'?");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"conv2d\"\nout_chanels = 3\n")),
                   "[[model.layers]] #1 (conv2d): unknown key 'out_chanels'; did you mean 'out_channels'?");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"flatten\"\nunits = 3\n")),
                   "[[model.layers]] #1 (flatten): unknown key 'units'");
  KUN_EXPECT_ERROR(parse("[trian]\nepochs = 1\n"), "top level: unknown key 'trian'; did you mean 'train'?");
  KUN_EXPECT_ERROR(parse(cfg("early_stopping = { patience = 2, monitr = \"loss\" }\n")),
                   "[train.early_stopping] unknown key 'monitr'; did you mean 'monitor'?");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\n",
                             "kind = \"mnist\"\naugment = { flip = true }\n")),
                   "[data.augment] unknown key 'flip'");
}

TEST(Config, BadValuesAndTypes) {
  KUN_EXPECT_ERROR(parse(cfg("epochs = \"5\"\n")), "[train]", "'epochs' must be an integer");
  KUN_EXPECT_ERROR(parse(cfg("batch_size = 0\n")), "[train] 'batch_size' must be >= 1, got 0");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\n", "kind = \"mnits\"\n")),
                   "[data] 'kind' must be one of", "got 'mnits'; did you mean 'mnist'?");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\n", "kind = \"mnist\"\nvalidation_split = 1.5\n")),
                   "'validation_split' must be in [0, 1)");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = \"ten\"\n")),
                   "[[model.layers]] #1 (dense): 'units' must be an integer", "\"ten\"");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\n")), "[[model.layers]] #1 (dense): needs 'units'");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"dens\"\nunits = 3\n")),
                   "unknown layer type 'dens'; did you mean 'dense'?");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\nunits = 3\n")), "[[model.layers]] #1", "needs a type");
  KUN_EXPECT_ERROR(parse(cfg("", "[[model.layers]]\ntype = \"residual\"\nactivation = \"relu\"\n")),
                   "(residual): needs a 'body'");
  KUN_EXPECT_ERROR(parse(cfg("optimizer = { name = \"adam\", learning_rate = 0.1 }\n")), "[train] optimizer:",
                   "unknown option 'learning_rate'");
  KUN_EXPECT_ERROR(parse(cfg("optimizer = \"adamax\"\n")), "[train] optimizer:");
  KUN_EXPECT_ERROR(parse(cfg("loss = \"crossentropy\"\n")), "[train] loss:", "crossentropy");
  KUN_EXPECT_ERROR(parse(cfg("metrics = [\"acuracy\"]\n")), "[train] metrics:", "acuracy");
  KUN_EXPECT_ERROR(parse(cfg("lr_schedule = { name = \"cosine\", t_max = 0 }\n")), "[train.lr_schedule] 't_max' must be >= 1");
  KUN_EXPECT_ERROR(parse("[data]\nkind = \"mnist\"\n"), "missing section [model]");
  KUN_EXPECT_ERROR(parse("[data]\nkind = \"npy\"\n[[model.layers]]\ntype = \"flatten\"\n"), "kind = \"npy\" needs x");
  // A layer whose options parse but that the layer itself rejects: the layer's message, with the file.
  RunConfig bad = parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = -2\n"));
  KUN_EXPECT_ERROR(build_module(bad), "config t.toml: [model]:", "units must be > 0");
  KUN_EXPECT_ERROR(build_module(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\nactivation = \"relux\"\n"))),
                   "unknown activation 'relux'");
}

TEST(Config, TomlSyntaxErrorsGiveTheLine) {
  KUN_EXPECT_ERROR(parse("[data]\nkind = \"mnist\"\nepochs = = 3\n"), "config t.toml:3:");
  KUN_EXPECT_ERROR(parse_config_file("/nonexistent/kun.toml"), "config /nonexistent/kun.toml", "cannot open");
}

TEST(Config, LossFromLogitsIsInferred) {
  RunConfig logits = parse(cfg("loss = \"sparse_categorical_crossentropy\"\n"));
  EXPECT_EQ(output_activation(logits), "softmax");
  RunConfig probs = parse(cfg("loss = \"sparse_categorical_crossentropy\"\n",
                              "[[model.layers]]\ntype = \"dense\"\nunits = 3\nactivation = \"softmax\"\n"));
  EXPECT_EQ(output_activation(probs), "none");
  RunConfig explicit_logits = parse(cfg("loss = { name = \"binary_crossentropy\", from_logits = true }\n"));
  EXPECT_EQ(output_activation(explicit_logits), "sigmoid");
  RunConfig mse = parse(cfg("loss = \"mse\"\nmetrics = [\"mae\"]\n"));
  EXPECT_EQ(output_activation(mse), "none");
}

TEST(Config, ClosestName) {
  EXPECT_EQ(closest_name("epoch", {"epochs", "batch_size"}), "epochs");
  EXPECT_EQ(closest_name("batchsize", {"epochs", "batch_size"}), "batch_size");
  EXPECT_EQ(closest_name("zzzzzz", {"epochs", "batch_size"}), "");
}

TEST(Config, NpyDataWithTestSplitAndStandardization) {
  fs::path dir = temp_dir("npy");
  // 200 examples (1, 4, 4): class = whether the mean is above 0.5; values scaled by 10 so standardizing matters.
  std::vector<float> xs;
  std::vector<int64_t> ys;
  Generator g(7);
  Tensor r = kun::rand(Shape{200, 1, 4, 4}, DType::f32, &g);
  std::vector<float> rv = r.to_vector<float>();
  for (int i = 0; i < 200; ++i) {
    float m = 0;
    for (int k = 0; k < 16; ++k) m += rv[size_t(i * 16 + k)];
    ys.push_back(m / 16 > 0.5f);
  }
  for (float v : rv) xs.push_back(v * 10 + 3);
  data::write_npy((dir / "x.npy").string(), from_vector(xs, Shape{200, 1, 4, 4}));
  data::write_npy((dir / "y.npy").string(), from_vector(ys, Shape{200}));
  RunConfig rc = parse(cfg("", "[[model.layers]]\ntype = \"flatten\"\n[[model.layers]]\ntype = \"dense\"\nunits = 2\n",
                           "kind = \"npy\"\nx = \"" + (dir / "x.npy").string() + "\"\ny = \"" + (dir / "y.npy").string() +
                               "\"\ntest_split = 0.25\nnormalize = \"standardize\"\n"));
  PreparedData d = load_data(rc.data, 3);
  EXPECT_EQ(d.train.size(), 150);
  EXPECT_EQ(d.test.size(), 50);
  EXPECT_EQ(d.input_shape, (std::vector<int64_t>{1, 4, 4}));
  EXPECT_EQ(d.classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(d.preprocess.kind, "standardize");
  // Training data standardized per channel: mean ~0, std ~1.
  std::vector<float> tv = d.train.x().to_vector<float>();
  double mean = 0, sq = 0;
  for (float v : tv) mean += v;
  mean /= double(tv.size());
  for (float v : tv) sq += (v - mean) * (v - mean);
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(std::sqrt(sq / double(tv.size())), 1.0, 1e-2);
  // The fitted preprocessing survives the metadata round trip and gives identical results.
  ModelMeta meta;
  meta.input_shape = d.input_shape;
  meta.classes = d.classes;
  meta.preprocess = d.preprocess;
  meta.data = data_config_to_json(rc.data);
  save_meta((dir / "m.kun").string(), meta);
  auto back = load_meta((dir / "m.kun").string());
  ASSERT_TRUE(back.has_value());
  Tensor raw = from_vector(std::vector<float>(xs.begin(), xs.begin() + 16), Shape{1, 1, 4, 4});
  EXPECT_TRUE(allclose(back->preprocess.apply(raw), d.preprocess.apply(raw), 0, 0));
  DataConfig dc = data_config_from_json(back->data, "meta");
  EXPECT_EQ(dc.kind, "npy");
  EXPECT_DOUBLE_EQ(dc.test_split, 0.25);
  EXPECT_FALSE(load_meta((dir / "none.kun").string()).has_value());
  std::ofstream((dir / "bad.kun.meta.json").string()) << "{not json";
  KUN_EXPECT_ERROR(load_meta((dir / "bad.kun").string()), "bad.kun.meta.json", "corrupt");
  fs::remove_all(dir);
}

TEST(Config, CsvDataAndAugmentation) {
  fs::path dir = temp_dir("csv");
  {
    std::ofstream f(dir / "t.csv");
    f << "a,b,label\n";
    for (int i = 0; i < 40; ++i) f << i << "," << (i % 7) << "," << (i % 3) << "\n";
  }
  RunConfig rc = parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\n",
                           "kind = \"csv\"\npath = \"" + (dir / "t.csv").string() +
                               "\"\nlabel_column = \"label\"\ntest_split = 0.5\nnormalize = \"minmax\"\ntrain_limit = 10\n"));
  PreparedData d = load_data(rc.data, 0);
  EXPECT_EQ(d.train.size(), 10);
  EXPECT_EQ(d.test.size(), 20);
  EXPECT_EQ(d.input_shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(d.classes.size(), 3u);
  EXPECT_FALSE(make_augmentation(rc.data));
  RunConfig aug = parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\n",
                            "kind = \"mnist\"\naugment = { shift = 2, horizontal_flip = true }\n"));
  data::BatchTransform t = make_augmentation(aug.data);
  ASSERT_TRUE(t);
  Generator g(1);
  data::Example b = t({ones({2, 1, 6, 6}), Tensor()}, g);
  EXPECT_EQ(b.x.shape(), (Shape{2, 1, 6, 6}));
  KUN_EXPECT_ERROR(load_data(parse(cfg("", "[[model.layers]]\ntype = \"dense\"\nunits = 3\n",
                                       "kind = \"csv\"\npath = \"" + (dir / "missing.csv").string() + "\"\n"))
                                 .data),
                   "missing.csv");
  fs::remove_all(dir);
}
