// ONNX export (every exportable layer kind, the MNIST CNN, Graph models), the checker, re-import to
// the same outputs; imported graphs as kun model files (kun predict / Model::load); fine-tuning an
// imported graph through autograd.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "golden_util.h"
#include "kun/apps/onnx/export.h"
#include "kun/apps/onnx/module.h"
#include "kun/apps/onnx/onnx.h"
#include "kun/data/npy.h"
#include <onnx/onnx_pb.h>
#include "kun/autograd/ops.h"
#include "kun/nn/activation.h"
#include "kun/nn/graph.h"
#include "kun/nn/layers.h"
#include "kun/nn/recurrent.h"
#include "kun/nn/sequential.h"
#include "kun/nn/transformer.h"
#include "kun/optim/adam.h"
#include "kun/train/config.h"
#include "kun/train/model.h"

namespace {

using namespace kun;
namespace fs = std::filesystem;
using kun::testing::close;
namespace pb = ::onnx;
namespace ko = kun::onnx;

Tensor forward_eval(nn::Module& m, const std::vector<Tensor>& xs) {
  NoGradGuard ng;
  m.eval();
  if (auto* g = dynamic_cast<nn::Graph*>(&m)) {
    std::vector<Variable> vs;
    for (const auto& x : xs) vs.emplace_back(x);
    return g->forward_many(vs)[0].data();
  }
  return m.forward(Variable(xs[0])).data();
}

// Exports (the checker runs inside), re-imports, and compares with the module on `xs`.
::testing::AssertionResult round_trip(nn::Module& m, const std::vector<Tensor>& xs, ko::ExportOptions opt = {},
                                      double rtol = 1e-5, double atol = 1e-5) {
  if (opt.input_shapes.empty() && !dynamic_cast<nn::Graph*>(&m))
    for (const auto& x : xs) opt.input_shapes.push_back(std::vector<int64_t>(x.shape().begin() + 1, x.shape().end()));
  std::string bytes = ko::export_bytes(m, opt);
  auto back = ko::Model::from_bytes(bytes, m.type_name() + ".onnx", {.run_checker = true});
  Tensor want = forward_eval(m, xs);
  Tensor got = back.run(xs)[0];
  auto r = close(got, want, rtol, atol);
  if (!r) return r;
  // The re-imported graph on the autograd path (fine-tuning) gives the same, and gradients reach every
  // floating-point parameter.
  auto gm = std::make_shared<ko::GraphModule>(back);
  std::vector<Variable> vs;
  for (const auto& x : xs) vs.emplace_back(x, is_floating(x.dtype()));
  Variable y = gm->forward_many(vs);
  r = close(y.data(), want, rtol, atol);
  if (!r) return r << " (autograd path)";
  sum(mul(y, y)).backward();
  for (const auto& [name, p] : gm->named_parameters())
    if (!p.has_grad()) return ::testing::AssertionFailure() << "parameter '" << name << "' got no gradient";
  return r;
}

TEST(OnnxExport, EachLayerKindReimportsToTheSameOutputs) {
  manual_seed(7);
  {
    nn::Sequential m{nn::Dense({.units = 5, .activation = "tanh"}), nn::Dense({.units = 3, .use_bias = false})};
    EXPECT_TRUE(round_trip(m, {randn({4, 6})})) << "dense";
    nn::Sequential m3{nn::Dense({.units = 5})};  // (N, T, F): MatMul + Add
    EXPECT_TRUE(round_trip(m3, {randn({2, 3, 6})})) << "dense 3-D";
  }
  {
    nn::Sequential m{nn::Conv2D({.out_channels = 4, .kernel = 3, .padding = "same"}),
                     nn::Conv2D({.out_channels = 6, .kernel = {3, 2}, .stride = 2, .padding = 1, .groups = 2}),
                     nn::Conv2D({.out_channels = 3, .kernel = 2, .dilation = 2, .activation = "relu"})};
    EXPECT_TRUE(round_trip(m, {randn({2, 3, 11, 10})})) << "conv2d";
  }
  {
    nn::Sequential m{nn::Conv1D({.out_channels = 4, .kernel = 3, .padding = "same"}),
                     nn::Conv1D({.out_channels = 2, .kernel = 2, .stride = 2}), nn::MaxPool1D({.kernel = 2}),
                     nn::AvgPool1D({.kernel = 2, .stride = 1, .padding = 1})};
    EXPECT_TRUE(round_trip(m, {randn({2, 3, 17})})) << "conv1d + 1-D pools";
  }
  {
    nn::Sequential m{nn::Conv2DTranspose({.out_channels = 3, .kernel = 3, .stride = 2, .padding = 1, .output_padding = 1})};
    EXPECT_TRUE(round_trip(m, {randn({2, 4, 5, 6})})) << "conv2d_transpose";
  }
  {
    nn::Sequential m{nn::MaxPool2D({.kernel = 3, .stride = 2, .padding = 1}), nn::AvgPool2D({.kernel = 2, .padding = 1}),
                     nn::MaxPool2D({.kernel = 2, .ceil_mode = true})};
    EXPECT_TRUE(round_trip(m, {randn({2, 3, 13, 12})})) << "2-D pools";
  }
  for (auto* gp : {static_cast<nn::Module*>(new nn::GlobalAveragePooling2D()), static_cast<nn::Module*>(new nn::GlobalMaxPooling2D())}) {
    nn::Sequential m(std::vector<nn::ModulePtr>{nn::ModulePtr(gp)});
    EXPECT_TRUE(round_trip(m, {randn({2, 3, 5, 4})})) << gp->type_name();
  }
  for (auto* gp : {static_cast<nn::Module*>(new nn::GlobalAveragePooling1D()), static_cast<nn::Module*>(new nn::GlobalMaxPooling1D())}) {
    nn::Sequential m(std::vector<nn::ModulePtr>{nn::ModulePtr(gp)});
    EXPECT_TRUE(round_trip(m, {randn({2, 3, 5})})) << gp->type_name();
  }
  {
    nn::Sequential m{nn::Flatten(), nn::Dropout(0.3), nn::Reshape({4, -1}), nn::LayerNorm()};
    EXPECT_TRUE(round_trip(m, {randn({3, 2, 4, 3})})) << "flatten / dropout / reshape / layer_norm";
    nn::Sequential m2{nn::LayerNorm({.normalized_shape = {4, 3}, .affine = false})};
    EXPECT_TRUE(round_trip(m2, {randn({3, 2, 4, 3})})) << "layer_norm over 2 dims, no affine";
  }
  {
    auto bn = std::make_shared<nn::BatchNorm>(nn::BatchNormOptions{.num_features = 3});
    bn->buffer("running_mean").copy_(randn({3}));
    bn->buffer("running_var").copy_(add(abs(randn({3})), 0.5));
    bn->parameter("weight").data().copy_(randn({3}));
    nn::Sequential m(std::vector<nn::ModulePtr>{bn});
    EXPECT_TRUE(round_trip(m, {randn({2, 3, 4, 4})})) << "batch_norm 4-D";
    EXPECT_TRUE(round_trip(m, {randn({5, 3})})) << "batch_norm 2-D";
  }
  {
    nn::Sequential m{nn::Embedding({.num_embeddings = 10, .embedding_dim = 4, .padding_idx = std::nullopt}), nn::Flatten()};
    ko::ExportOptions o;
    o.input_shapes = {{5}};
    std::string bytes = ko::export_bytes(m, o);
    auto back = ko::Model::from_bytes(bytes);
    EXPECT_EQ(back.inputs()[0].elem_type, ko::onnx_elem_type(DType::i64));
    Tensor ids = randint(0, 10, {3, 5});
    EXPECT_TRUE(close(back.run({ids})[0], forward_eval(m, {ids}))) << "embedding";
  }
  for (const char* act : {"relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "softplus", "elu", "leaky_relu",
                          "softmax", "log_softmax"}) {
    nn::Sequential m{nn::Activation(act)};
    EXPECT_TRUE(round_trip(m, {mul(randn({3, 7}), 3.0)})) << act;
  }
  {
    nn::Sequential m{nn::LeakyReLU(0.2), nn::ELU(0.7)};
    EXPECT_TRUE(round_trip(m, {randn({3, 7})})) << "leaky_relu / elu layers";
  }
}

TEST(OnnxExport, RecurrentLayers) {
  manual_seed(3);
  for (bool bidir : {false, true})
    for (bool seqs : {false, true}) {
      nn::RecurrentOptions o{.hidden_size = 5, .num_layers = 2, .bidirectional = bidir, .return_sequences = seqs};
      nn::Sequential lstm{nn::LSTM(o)};
      EXPECT_TRUE(round_trip(lstm, {randn({3, 6, 4})})) << "lstm bidir " << bidir << " seqs " << seqs;
      nn::Sequential gru{nn::GRU(o)};
      EXPECT_TRUE(round_trip(gru, {randn({3, 6, 4})})) << "gru bidir " << bidir << " seqs " << seqs;
      auto ro = o;
      ro.nonlinearity = bidir ? "relu" : "tanh";
      nn::Sequential rnn{nn::SimpleRNN(ro)};
      EXPECT_TRUE(round_trip(rnn, {randn({3, 6, 4})})) << "simple_rnn bidir " << bidir << " seqs " << seqs;
    }
  // Time-major layer, dynamic sequence length in the file.
  nn::Sequential tm{nn::LSTM({.hidden_size = 3, .batch_first = false, .return_sequences = true})};
  tm.forward(Variable(randn({4, 2, 5})));
  std::string bytes = ko::export_bytes(tm, {.input_shapes = {{-1, 5}}});
  auto back = ko::Model::from_bytes(bytes);
  EXPECT_EQ(back.inputs()[0].dims[1], -1);
  Tensor x = randn({7, 2, 5});  // (T, N, I): the file's "batch" dim is T here
  EXPECT_TRUE(close(back.run({x})[0], forward_eval(tm, {x}), 1e-5, 1e-5));
}

// The MNIST CNN of the examples, with batch norm and dropout.
std::shared_ptr<nn::Sequential> mnist_cnn() {
  return std::make_shared<nn::Sequential>(
      nn::Conv2D({.out_channels = 8, .kernel = 3, .padding = "same", .activation = "relu"}), nn::BatchNorm(),
      nn::MaxPool2D({.kernel = 2}), nn::Conv2D({.out_channels = 16, .kernel = 3, .activation = "relu"}),
      nn::MaxPool2D({.kernel = 2}), nn::Flatten(), nn::Dense({.units = 32, .activation = "relu"}), nn::Dropout(0.25),
      nn::Dense({.units = 10}));
}

TEST(OnnxExport, MnistCnnFileRoundTrip) {
  manual_seed(11);
  auto net = mnist_cnn();
  Tensor x = rand({4, 1, 28, 28});
  net->forward(Variable(x));  // build
  const std::string path = (fs::temp_directory_path() / "kun_export_mnist.onnx").string();
  ko::export_model(*net, path, {.input_shapes = {{1, 28, 28}}});
  EXPECT_TRUE(net->is_training()) << "export restores the training flag";
  auto back = ko::Model::load(path, {.run_checker = true});
  EXPECT_EQ(back.inputs()[0].dim_names[0], "batch");
  EXPECT_EQ(back.opset(), 17);
  auto w = back.weights();
  EXPECT_TRUE(w.count("0.weight") && w.count("1.running_var") && w.count("8.bias")) << "state-dict names";
  EXPECT_TRUE(close(back.run({x})[0], forward_eval(*net, {x}), 1e-4, 1e-5));
  Tensor x1 = rand({1, 1, 28, 28});  // another batch size
  EXPECT_TRUE(close(back.run({x1})[0], forward_eval(*net, {x1}), 1e-4, 1e-5));
  fs::remove(path);
}

TEST(OnnxExport, GraphModels) {
  manual_seed(5);
  nn::Graph g;
  auto img = g.input("image", {3, 8, 8});
  auto feats = g.input("features", {4});
  auto h = g.add(nn::Conv2D({.out_channels = 4, .kernel = 3, .padding = "same"}), {img}, "conv");
  auto r = g.add(nn::Add(), {h, g.add(nn::Conv2D({.out_channels = 4, .kernel = 1}), {img}, "skip")}, "sum");
  auto f = g.add(nn::GlobalAveragePooling2D(), {r}, "gap");
  auto cat = g.add(nn::Concatenate(1), {f, feats}, "cat");
  auto res = g.add(nn::Residual(std::make_shared<nn::Dense>(nn::DenseOptions{.units = 8}),
                                std::make_shared<nn::Dense>(nn::DenseOptions{.units = 8}), "relu"),
                   {cat}, "res");
  g.set_outputs({g.add(nn::Dense({.units = 2}), {res}, "head")});
  Tensor a = randn({3, 3, 8, 8}), b = randn({3, 4});
  ASSERT_TRUE(round_trip(g, {a, b}));
  auto back = ko::Model::from_bytes(ko::export_bytes(g));
  ASSERT_EQ(back.inputs().size(), 2u);
  EXPECT_EQ(back.inputs()[0].name, "image");
  EXPECT_TRUE(back.weights().count("conv.weight") && back.weights().count("res.body.weight"));
}

TEST(OnnxExport, ErrorsNameTheLayer) {
  nn::Sequential m{nn::Dense({.units = 4}), nn::MultiHeadAttention({.embed_dim = 4, .num_heads = 2})};
  KUN_EXPECT_ERROR(ko::export_bytes(m, {.input_shapes = {{3, 4}}}), "layer '1' (multi_head_attention)",
                   "cannot be exported", "dense");
  nn::Sequential s{nn::Dense({.units = 4})};
  KUN_EXPECT_ERROR(ko::export_bytes(s), "input shape", "--input-shape");
  KUN_EXPECT_ERROR(ko::export_bytes(s, {.input_shapes = {{3}}, .opset = 9}), "opset must be 14..17");
  nn::Sequential bad{nn::Conv2D({.out_channels = 2, .kernel = 3})};
  KUN_EXPECT_ERROR(ko::export_bytes(bad, {.input_shapes = {{5}}}), "layer '0' (conv2d)");
}

// ---------------------------------------------------------------- imported graphs as kun modules

std::string exported_cnn_bytes(std::shared_ptr<nn::Sequential>& net) {
  manual_seed(21);
  net = mnist_cnn();
  net->forward(Variable(rand({2, 1, 28, 28})));
  // Non-trivial batch-norm statistics.
  auto bn = (*net)[1];
  bn->buffer("running_mean").copy_(mul(randn({8}), 0.1));
  bn->buffer("running_var").copy_(add(abs(randn({8})), 0.5));
  return ko::export_bytes(*net, {.input_shapes = {{1, 28, 28}}});
}

TEST(OnnxModule, ImportedGraphSavesAsKunModel) {
  std::shared_ptr<nn::Sequential> net;
  const std::string bytes = exported_cnn_bytes(net);
  auto dir = fs::temp_directory_path();
  const std::string onnx_path = (dir / "kun_import_cnn.onnx").string(), kun_path = (dir / "kun_import_cnn.kun").string();
  { std::ofstream(onnx_path, std::ios::binary) << bytes; }
  ko::import_to_kun(onnx_path, kun_path);
  ASSERT_TRUE(fs::exists(kun_path));
  auto meta = train::load_meta(kun_path);
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->input_shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(meta->output_activation, "softmax");  // logits

  ko::register_graph_module();  // idempotent (already registered: this test links the module)
  train::Model loaded = train::Model::load(kun_path);
  EXPECT_EQ(loaded.module().type_name(), "onnx_graph");
  Tensor x = rand({5, 1, 28, 28});
  EXPECT_TRUE(close(loaded.predict(x), forward_eval(*net, {x}), 1e-4, 1e-5));
  // Parameters keep the initializer names; batch-norm statistics are buffers.
  std::set<std::string> names;
  for (const auto& [n, v] : loaded.module().named_parameters()) names.insert(n);
  EXPECT_TRUE(names.count("0.weight") && names.count("8.bias") && names.count("1.weight")) << *names.begin();
  EXPECT_FALSE(names.count("1.running_mean"));
  bool has_stat = false;
  for (const auto& [n, t] : loaded.module().named_buffers()) has_stat = has_stat || n == "1.running_var";
  EXPECT_TRUE(has_stat);

  // Corrupt embedded graph: a clear IOError, never a crash.
  nlohmann::json cfg = loaded.module().to_config();
  cfg["config"]["graph"] = "@@@@";
  KUN_EXPECT_ERROR(nn::Module::from_config(cfg), "onnx_graph", "base64");
  fs::remove(onnx_path);
  fs::remove(kun_path);
  fs::remove(train::meta_path_for(kun_path));
}

TEST(OnnxModule, KunCliImportPredictAndExport) {
#ifdef KUN_CLI_BINARY
  std::shared_ptr<nn::Sequential> net;
  const std::string bytes = exported_cnn_bytes(net);
  auto dir = fs::temp_directory_path() / "kun_onnx_cli_test";
  fs::create_directories(dir);
  const std::string onnx_path = (dir / "cnn.onnx").string(), kun_path = (dir / "cnn.kun").string();
  { std::ofstream(onnx_path, std::ios::binary) << bytes; }
  const std::string kun = KUN_CLI_BINARY;
  const std::string quiet = " > " + (dir / "out.txt").string() + " 2>&1";
  ASSERT_EQ(std::system((kun + " onnx import " + onnx_path + " -o " + kun_path + quiet).c_str()), 0);
  ASSERT_TRUE(fs::exists(kun_path));
  data::write_npy((dir / "x.npy").string(), rand({2, 1, 28, 28}));
  EXPECT_EQ(std::system((kun + " predict " + kun_path + " " + (dir / "x.npy").string() + quiet).c_str()), 0);
  // An imported model exports back as its graph with its (here unchanged) weights.
  ASSERT_EQ(std::system((kun + " onnx export " + kun_path + " -o " + (dir / "back.onnx").string() + quiet).c_str()), 0);
  {
    auto back = ko::Model::load((dir / "back.onnx").string(), {.run_checker = true});
    Tensor x = rand({2, 1, 28, 28});
    EXPECT_TRUE(close(back.run({x})[0], forward_eval(*net, {x}), 1e-4, 1e-5));
  }

  // Bad files: one clear line, non-zero exit, no .kun written.
  {
    std::ofstream(dir / "cut.onnx", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    const std::string bad = (dir / "bad.kun").string();
    EXPECT_NE(std::system((kun + " onnx import " + (dir / "cut.onnx").string() + " -o " + bad + quiet).c_str()), 0);
    EXPECT_FALSE(fs::exists(bad));
    std::ifstream err((dir / "out.txt").string());
    std::string msg((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    EXPECT_NE(msg.find("kun onnx: onnx:"), std::string::npos) << msg;
  }

  // A kun model file of kun layers exports from the command line, its input shape from the sidecar.
  train::Model km{nn::ModulePtr(net)};
  const std::string native = (dir / "native.kun").string(), out = (dir / "native.onnx").string();
  km.save(native, false);
  train::ModelMeta meta;
  meta.input_shape = {1, 28, 28};
  train::save_meta(native, meta);
  ASSERT_EQ(std::system((kun + " onnx export " + native + " -o " + out + quiet).c_str()), 0);
  auto back = ko::Model::load(out, {.run_checker = true});
  Tensor x = rand({3, 1, 28, 28});
  EXPECT_TRUE(close(back.run({x})[0], forward_eval(*net, {x}), 1e-4, 1e-5));
  fs::remove_all(dir);
#else
  GTEST_SKIP() << "no kun binary";
#endif
}

TEST(OnnxModule, FineTuningAnImportedCnnLowersTheLoss) {
  std::shared_ptr<nn::Sequential> net;
  const std::string bytes = exported_cnn_bytes(net);
  auto imported = ko::Model::from_bytes(bytes, "cnn.onnx");
  const Tensor w_imported = imported.weights().at("0.weight").clone();
  auto gm = std::make_shared<ko::GraphModule>(imported);
  EXPECT_EQ(gm->initializer_paths().at("0.weight"), "0.weight");

  // The autograd path computes what the inference path computes.
  Tensor x = rand({6, 1, 28, 28});
  Tensor infer = gm->forward(Variable(x)).data();
  Variable xg(x, true);
  Tensor grad_path = gm->forward(xg).data();
  EXPECT_TRUE(close(grad_path, infer, 1e-4, 1e-5));

  // MNIST-like data: the class is the bright quadrant-ish stripe position.
  manual_seed(2);
  const int64_t N = 64;
  Tensor xs = mul(rand({N, 1, 28, 28}), 0.2);
  Tensor ys = randint(0, 10, {N});
  for (int64_t i = 0; i < N; ++i) {
    int64_t cls = ys.data<int64_t>()[i];
    xs.select(0, i).narrow(1, 2 * cls + 4, 2).fill_(1.0);
  }
  train::Model m{nn::ModulePtr(gm)};
  m.compile(optim::Adam({.lr = 2e-3}), loss::SparseCategoricalCrossentropy({.from_logits = true}));
  const std::string first_name = gm->named_parameters().front().first;
  Tensor before = gm->named_parameters().front().second.data().clone();
  double loss0 = m.evaluate(xs, ys)["loss"];
  m.fit(xs, ys, {.epochs = 4, .batch_size = 16, .verbose = 0});
  double loss1 = m.evaluate(xs, ys)["loss"];
  EXPECT_LT(loss1, loss0 * 0.7) << "loss " << loss0 << " -> " << loss1;
  EXPECT_FALSE(close(gm->named_parameters().front().second.data(), before)) << first_name << " did not change";
  EXPECT_TRUE(close(imported.weights().at("0.weight"), w_imported)) << "the imported Model's own weights stay put";

  // The fine-tuned weights save and load with the graph.
  const std::string path = (fs::temp_directory_path() / "kun_finetuned.kun").string();
  m.save(path);
  train::Model again = train::Model::load(path);
  EXPECT_TRUE(close(again.predict(xs), m.predict(xs), 1e-5, 1e-6));
  fs::remove(path);
}

TEST(OnnxModule, TrainingThroughAnOpWithoutGradientNamesTheNode) {
  // y = Softsign(x W): W trains (MatMul has a gradient) but Softsign has none in kun.
  pb::ModelProto mp;
  mp.set_ir_version(8);
  mp.add_opset_import()->set_version(17);
  auto& g = *mp.mutable_graph();
  auto* w = g.add_initializer();
  w->set_name("lin.W");
  w->set_data_type(pb::TensorProto::FLOAT);
  w->add_dims(4);
  w->add_dims(3);
  for (int k = 0; k < 12; ++k) w->add_float_data(0.1f * k);
  auto io = [](pb::ValueInfoProto* v, const std::string& name, int64_t f) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(pb::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("batch");
    tt->mutable_shape()->add_dim()->set_dim_value(f);
  };
  io(g.add_input(), "x", 4);
  io(g.add_output(), "y", 3);
  auto* mm = g.add_node();
  mm->set_op_type("MatMul");
  mm->set_name("mm");
  mm->add_input("x");
  mm->add_input("lin.W");
  mm->add_output("h");
  auto* fl = g.add_node();
  fl->set_op_type("Softsign");
  fl->set_name("squash");
  fl->add_input("h");
  fl->add_output("y");
  std::string bytes;
  mp.SerializeToString(&bytes);
  auto gm = std::make_shared<ko::GraphModule>(ko::Model::from_bytes(bytes));
  EXPECT_EQ(gm->named_parameters().size(), 1u);
  EXPECT_EQ(gm->named_parameters()[0].first, "lin.W");
  {
    NoGradGuard ng;  // inference is fine
    EXPECT_EQ(gm->forward(Variable(randn({2, 4}))).shape(), Shape({2, 3}));
  }
  KUN_EXPECT_ERROR(gm->forward(Variable(randn({2, 4}))), "node 'squash' (Softsign)", "no gradient");
}

// ---------------------------------------------------------------- PyTorch-exported models (tests/onnx/torch_*,
// written by scripts/gen_onnx_torch_models.py)

std::string torch_file(const std::string& name) { return std::string(KUN_GOLDEN_DIR) + "/../onnx/" + name; }

// max |got - want| / max |want| (the PyTorch round trip's measure).
double rel_err(const Tensor& got, const Tensor& want) {
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double num = 0, den = 1e-12;
  for (size_t i = 0; i < g.size(); ++i) {
    num = std::max(num, std::abs(g[i] - w[i]));
    den = std::max(den, std::abs(w[i]));
  }
  return num / den;
}

TEST(OnnxTorch, ExportedModelsMatchPyTorch) {
  for (const char* name : {"torch_cnn", "torch_lstm"}) {
    auto m = ko::Model::load(torch_file(std::string(name) + ".onnx"));
    Tensor x = data::read_npy(torch_file(std::string(name) + "_x.npy"));
    Tensor want = data::read_npy(torch_file(std::string(name) + "_y.npy"));
    Tensor got = m.run({x})[0];
    ASSERT_EQ(got.shape(), want.shape()) << name;
    EXPECT_LE(rel_err(got, want), 1e-5) << name;
    // The autograd path (fine-tuning) computes the same.
    auto gm = std::make_shared<ko::GraphModule>(m);
    Tensor via_grad = gm->forward(Variable(x, true)).data();
    EXPECT_LE(rel_err(via_grad, want), 1e-5) << name << " (autograd path)";
  }
}

TEST(OnnxTorch, FineTuneThePyTorchCnn) {
  auto gm = std::make_shared<ko::GraphModule>(ko::Model::load(torch_file("torch_cnn.onnx")));
  std::set<std::string> names;
  for (const auto& [n, v] : gm->named_parameters()) names.insert(n);
  EXPECT_TRUE(names.count("fc1.weight") && names.count("conv2.bias")) << "parameters named from initializers";
  // 12 x 12 images whose class k sets the brightness (0.2 k plus noise): survives the global pool.
  manual_seed(4);
  const int64_t N = 96;
  Tensor ys = randint(0, 10, {N});
  Tensor xs = add(mul(rand({N, 1, 12, 12}), 0.3), mul(ys.to(DType::f32).view({N, 1, 1, 1}), 0.2));
  train::Model m{nn::ModulePtr(gm)};
  m.compile(optim::Adam({.lr = 1e-2}), loss::SparseCategoricalCrossentropy({.from_logits = true}));
  const double loss0 = m.evaluate(xs, ys)["loss"];
  Tensor w0 = gm->named_parameters().front().second.data().clone();
  m.fit(xs, ys, {.epochs = 6, .batch_size = 16, .verbose = 0});
  const double loss1 = m.evaluate(xs, ys)["loss"];
  EXPECT_LT(loss1, loss0 * 0.7) << loss0 << " -> " << loss1;
  EXPECT_FALSE(close(gm->named_parameters().front().second.data(), w0));
  // Back to ONNX with the tuned weights.
  auto back = ko::Model::from_bytes(ko::export_bytes(*gm), "tuned.onnx", {.run_checker = true});
  EXPECT_TRUE(close(back.run({xs})[0], m.predict(xs), 1e-5, 1e-5));
}

TEST(OnnxTorch, FineTuneThePyTorchLstm) {
  auto gm = std::make_shared<ko::GraphModule>(ko::Model::load(torch_file("torch_lstm.onnx")));
  manual_seed(9);
  Tensor xs = randn({48, 7, 5});
  Tensor ys = tanh(sum(xs.narrow(2, 0, 3), {1}));  // (48, 3): a target the model can fit
  train::Model m{nn::ModulePtr(gm)};
  m.compile(optim::Adam({.lr = 1e-2}), loss::MeanSquaredError());
  const double loss0 = m.evaluate(xs, ys)["loss"];
  m.fit(xs, ys, {.epochs = 8, .batch_size = 16, .verbose = 0});
  const double loss1 = m.evaluate(xs, ys)["loss"];
  EXPECT_LT(loss1, loss0 * 0.8) << loss0 << " -> " << loss1;
}

TEST(OnnxTorch, RoundTripScript) {
  // scripts/onnx_roundtrip.py exports from PyTorch, runs `kun onnx run`, and fails above 1e-5 relative error.
#ifdef KUN_CLI_BINARY
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-torch is not installed";
  const std::string build = fs::path(KUN_CLI_BINARY).parent_path().string();
  const std::string script = std::string(KUN_GOLDEN_DIR) + "/../../scripts/onnx_roundtrip.py";
  const std::string log = (fs::temp_directory_path() / "kun_onnx_roundtrip.log").string();
  int rc = std::system(("/usr/bin/python3 " + script + " --build " + build + " --threads 1 --repeat 2 > " + log + " 2>&1").c_str());
  std::ifstream f(log);
  std::string out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cnn"), std::string::npos) << out;
  EXPECT_EQ(out.find("MISMATCH"), std::string::npos) << out;
  fs::remove(log);
#else
  GTEST_SKIP() << "no kun binary";
#endif
}

}  // namespace
