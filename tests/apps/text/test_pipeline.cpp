// kun text pipeline: config checks, each model kind trained end to end on a small synthetic
// sentiment corpus through the same path as `kun text train`, save / load, MLM pre-training then
// fine-tuning, the metrics, and the defined behaviour for awkward input through the CLI.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <random>

#include "golden_util.h"
#include "kun/apps/text/classifier.h"
#include "kun/apps/text/pipeline.h"
#include "kun/core/threading.h"

using namespace kun;
using namespace kun::text;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("kun_text_pipeline_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// n texts of 6-14 filler words plus one sentiment word; label pos / neg by the sentiment word.
void write_corpus(const fs::path& path, int n, uint64_t seed) {
  const std::vector<std::string> filler = {"the", "movie", "plot", "actor", "scene", "was", "a", "film", "and",
                                           "story", "it", "this", "of", "with", "camera", "music"};
  const std::vector<std::string> pos = {"great", "superb", "wonderful", "loved"};
  const std::vector<std::string> neg = {"awful", "boring", "terrible", "hated"};
  std::mt19937_64 rng(seed);
  std::ofstream f(path);
  f << "text,label\n";
  for (int i = 0; i < n; ++i) {
    const bool p = rng() % 2;
    const int len = 6 + static_cast<int>(rng() % 9), at = static_cast<int>(rng() % len);
    std::string t;
    for (int w = 0; w < len; ++w) {
      t += (w ? " " : "");
      t += w == at ? (p ? pos : neg)[rng() % 4] : filler[rng() % filler.size()];
    }
    f << "\"" << t << ".\"," << (p ? "pos" : "neg") << "\n";
  }
}

std::string job_toml(const fs::path& dir, const std::string& model, const std::string& train,
                     const std::string& out) {
  return "[data]\nkind = \"file\"\npath = \"" + (dir / "train.csv").string() + "\"\ntest_path = \"" +
         (dir / "test.csv").string() + "\"\nvalidation_split = 0.2\n[tokenizer]\nnum_words = 100\nmaxlen = 12\n" +
         "[model]\n" + model + "\n[train]\nseed = 3\n" + train + "\n[output]\npath = \"" + (dir / out).string() +
         "\"\n";
}

struct Cli {
  int code = 0;
  std::string out, err;
};
Cli run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "text");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  Cli r;
  r.code = cli_main(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  std::cout.flush();
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

class TextPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = temp_dir();
    write_corpus(dir_ / "train.csv", 400, 1);
    write_corpus(dir_ / "test.csv", 200, 2);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static TrainReport train(const std::string& model, const std::string& tr, const std::string& out) {
    TextJob job = parse_text_job_text(job_toml(dir_, model, tr, out), "test.toml");
    FILE* devnull = std::fopen("/dev/null", "w");
    TrainReport r = run_text_job(job, devnull, 2);
    std::fclose(devnull);
    return r;
  }
  static inline fs::path dir_;
};

}  // namespace

TEST(TextJobConfig, UnknownKeysAndBadValuesAreClearErrors) {
  KUN_EXPECT_ERROR(parse_text_job_text("[train]\nepoch = 3\n", "x.toml"), "x.toml", "[train]", "unknown key 'epoch'",
                   "did you mean 'epochs'");
  KUN_EXPECT_ERROR(parse_text_job_text("[model]\nkind = \"cnn\"\n", "x.toml"), "kind must be bag, fasttext");
  KUN_EXPECT_ERROR(parse_text_job_text("[model]\nkind = \"bag\"\nd_model = 3\n", "x.toml"), "[model]",
                   "unknown key 'd_model'");
  KUN_EXPECT_ERROR(parse_text_job_text("[train]\ntask = \"pretrain_mlm\"\n", "x.toml"), "pretrain_mlm",
                   "transformer");
  KUN_EXPECT_ERROR(parse_text_job_text("[tokenizer]\npadding = \"pre\"\n", "x.toml"), "padding must be \"post\"");
  KUN_EXPECT_ERROR(parse_text_job_text("[data]\nkind = \"file\"\n", "x.toml"), "needs path");
  KUN_EXPECT_ERROR(parse_text_job_text("[train\n", "x.toml"), "x.toml");
  TextJob j = parse_text_job_text("[model]\nkind = \"bilstm\"\nhidden = 8\n[train]\nepochs = 2\n", "ok.toml");
  EXPECT_EQ(j.model_kind, "bilstm");
  EXPECT_EQ(j.model.at("hidden"), 8);
  EXPECT_EQ(j.train.at("epochs"), 2);
}

TEST(TextMetrics, ReportCountsPrecisionRecallF1) {
  // truth:     0 0 0 1 1 1 1
  // predicted: 0 1 0 1 1 0 1   -> tp(1) = 3, fp(1) = 1, fn(1) = 1
  auto r = classification_report({0, 0, 0, 1, 1, 1, 1}, {0, 1, 0, 1, 1, 0, 1}, {"neg", "pos"});
  EXPECT_EQ(r.confusion[0][0], 2);
  EXPECT_EQ(r.confusion[0][1], 1);
  EXPECT_EQ(r.confusion[1][0], 1);
  EXPECT_EQ(r.confusion[1][1], 3);
  EXPECT_NEAR(r.accuracy, 5.0 / 7, 1e-12);
  EXPECT_NEAR(r.precision[1], 0.75, 1e-12);
  EXPECT_NEAR(r.recall[1], 0.75, 1e-12);
  EXPECT_NEAR(r.precision[0], 2.0 / 3, 1e-12);
  EXPECT_NEAR(r.f1[0], 2.0 / 3, 1e-12);
  EXPECT_NEAR(r.macro_f1, (0.75 + 2.0 / 3) / 2, 1e-12);
  // a class never predicted: precision 0, not NaN
  auto z = classification_report({0, 1}, {0, 0}, {"a", "b"});
  EXPECT_EQ(z.precision[1], 0.0);
  EXPECT_EQ(z.f1[1], 0.0);
  EXPECT_NE(r.str().find("confusion matrix"), std::string::npos);
  KUN_EXPECT_ERROR(classification_report({0}, {0, 1}, {"a", "b"}), "1 labels but 2 predictions");
}

TEST_F(TextPipeline, EachKindLearnsTheCorpusAndReloadsIdentically) {
  struct Case {
    std::string model, train, out;
  };
  const std::vector<Case> cases = {
      {"kind = \"bag\"\nembedding_dim = 8\nhidden = 8", "epochs = 30\nlr = 0.01", "bag.kun"},
      {"kind = \"fasttext\"\ndim = 8\nbuckets = 1000", "epochs = 10\nlr = 0.5", "ft.kun"},
      {"kind = \"bilstm\"\nembedding_dim = 8\nhidden = 8\ndense = 8", "epochs = 12\nlr = 0.01", "lstm.kun"},
      {"kind = \"transformer\"\nd_model = 16\nnhead = 2\nnum_layers = 1\ndim_feedforward = 32",
       "epochs = 12\nlr = 0.003", "tr.kun"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.model);
    TrainReport r = train(c.model, c.train, c.out);
    EXPECT_GE(r.test_accuracy, 0.95);  // one sentiment word decides the label
    EXPECT_GE(r.best_epoch, 1);
    TextModel m = TextModel::load(r.output);
    EXPECT_EQ(m.labels, (std::vector<std::string>{"neg", "pos"}));
    const std::vector<std::string> texts = {"the movie was superb", "an awful film", ""};
    Tensor p = m.predict_proba(texts);
    ASSERT_EQ(p.shape(), Shape({3, 2}));
    EXPECT_EQ(m.predict(texts)[0], 1);
    EXPECT_EQ(m.predict(texts)[1], 0);
    // A second load predicts exactly the same.
    Tensor q = TextModel::load(r.output).predict_proba(texts);
    EXPECT_TRUE(kun::testing::close(p, q, 0, 0));
  }
}

TEST_F(TextPipeline, MlmPretrainThenFinetuneLoadsTheEncoder) {
  const std::string arch = "kind = \"transformer\"\nd_model = 16\nnhead = 2\nnum_layers = 1\ndim_feedforward = 32";
  TrainReport pre = train(arch, "task = \"pretrain_mlm\"\nepochs = 2\nlr = 0.003", "mlm.kun");
  EXPECT_LT(pre.test_accuracy, 0);  // no classification score for a pre-training job
  TextModel ck = TextModel::load(pre.output);
  EXPECT_EQ(ck.task, "pretrain_mlm");
  KUN_EXPECT_ERROR(ck.predict_proba({"x"}), "pretrain_mlm checkpoint", "init");
  // The MLM head was trained: its loss went down.
  const auto losses = ck.info.at("mlm_loss").get<std::vector<double>>();
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_LT(losses[1], losses[0]);
  // Fine-tuning starts from the checkpoint's encoder weights (identical before any step).
  TextJob job = parse_text_job_text(
      job_toml(dir_, "kind = \"transformer\"", "init = \"" + (dir_ / "mlm.kun").string() + "\"\nepochs = 6\nlr = 0.003",
               "ft_tr.kun"),
      "ft.toml");
  FILE* devnull = std::fopen("/dev/null", "w");
  TrainReport fin = run_text_job(job, devnull, 0);
  std::fclose(devnull);
  EXPECT_GE(fin.test_accuracy, 0.95);
  TextModel tuned = TextModel::load(fin.output);
  EXPECT_EQ(tuned.tokenizer.to_json(), ck.tokenizer.to_json());  // the checkpoint's vocabulary
}

TEST_F(TextPipeline, CliTrainEvalPredictAndAwkwardInput) {
  const fs::path cfg = dir_ / "cli.toml";
  std::ofstream(cfg) << job_toml(dir_, "kind = \"bag\"\nembedding_dim = 8\nhidden = 8", "epochs = 20\nlr = 0.01",
                                 "cli.kun");
  Cli t = run_cli({"train", cfg.string(), "-v", "1"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("Epoch 20/20"), std::string::npos);
  EXPECT_NE(t.out.find("val_accuracy"), std::string::npos);
  EXPECT_NE(t.out.find("confusion matrix"), std::string::npos);
  const std::string model = (dir_ / "cli.kun").string();

  Cli e = run_cli({"eval", "--model", model, "--data", (dir_ / "test.csv").string()});
  ASSERT_EQ(e.code, 0) << e.err;
  for (const char* part : {"accuracy", "precision", "recall", "f1", "confusion matrix", "neg", "pos"})
    EXPECT_NE(e.out.find(part), std::string::npos) << part;
  Cli e2 = run_cli({"eval", "--model", model});  // the training config's test file
  ASSERT_EQ(e2.code, 0) << e2.err;
  EXPECT_EQ(e.out, e2.out);

  // Empty text, only unknown words, invalid UTF-8, a text far longer than maxlen: one defined line each.
  std::string longtext;
  for (int i = 0; i < 20000; ++i) longtext += i % 2 ? "superb " : "plot ";
  const std::vector<std::string> awkward = {"", "zzzq xxyv qqqq", std::string("bad \xff\xfe bytes \xc3"), longtext,
                                            "The movie was wonderful!"};
  std::vector<std::string> args = {"predict", "--model", model, "--json"};
  args.insert(args.end(), awkward.begin(), awkward.end());
  Cli p = run_cli(args);
  ASSERT_EQ(p.code, 0) << p.err;
  std::istringstream lines(p.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);  // valid JSON even for invalid UTF-8 input
    const double pr = j.at("probability").get<double>();
    EXPECT_TRUE(std::isfinite(pr) && pr >= 0.5 && pr <= 1.0) << line;
    EXPECT_NEAR(j.at("probabilities").at("neg").get<double>() + j.at("probabilities").at("pos").get<double>(), 1.0,
                1e-5);
    ++n;
  }
  EXPECT_EQ(n, 5);
  // Same text as the library's prediction: the saved tokenizer reproduces the preprocessing.
  TextModel m = TextModel::load(model);
  EXPECT_EQ(nlohmann::json::parse(p.out.substr(p.out.rfind("{\"label\""))).at("label"),
            m.labels[m.predict({awkward.back()})[0]]);
  // The only-unknown-words text is encoded as OOV ids, the empty one as all padding.
  Tensor ids = m.encode({awkward[0], awkward[1]});
  EXPECT_EQ(ids.to_vector<int64_t>()[0], 0);
  EXPECT_EQ(ids.to_vector<int64_t>()[12], 1);  // <OOV>
  // The long text is cut to maxlen.
  EXPECT_EQ(m.encode({longtext}).size(1), 12);

  // Plain output and texts from a file (one per line).
  const fs::path lines_file = dir_ / "texts.txt";
  std::ofstream(lines_file) << "a superb film\n\nawful\n";
  Cli pf = run_cli({"predict", "--model", model, "--file", lines_file.string()});
  ASSERT_EQ(pf.code, 0) << pf.err;
  EXPECT_EQ(std::count(pf.out.begin(), pf.out.end(), '\n'), 3);
  EXPECT_EQ(pf.out.rfind("pos\t", 0), 0u);

  // Errors: one line on stderr, exit code 1, never a crash.
  Cli missing = run_cli({"predict", "--model", (dir_ / "nope.kun").string(), "x"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos);
  const fs::path junk = dir_ / "junk.kun";
  std::ofstream(junk) << "not a model";
  Cli bad = run_cli({"eval", "--model", junk.string()});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("kun text:"), std::string::npos);
  Cli none = run_cli({"predict", "--model", model});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("give texts"), std::string::npos);
}

TEST(TextModels, ShapesMasksAndErrors) {
  BiLSTMClassifier lstm({.vocab_size = 20, .embedding_dim = 4, .hidden = 3, .dense = 5, .num_classes = 2});
  Tensor ids = from_vector(std::vector<int64_t>{3, 4, 5, 0, 0, 0, 0, 0}, {2, 4});  // second row empty
  Variable y = lstm.forward(Variable(ids));
  EXPECT_EQ(y.shape(), Shape({2, 2}));
  EXPECT_TRUE(all_finite(y.data()));
  // Padding after the true end does not change the result.
  Tensor longer = from_vector(std::vector<int64_t>{3, 4, 5, 0, 0, 0, 0, 0, 0, 0}, {1, 10});
  lstm.eval();
  EXPECT_TRUE(kun::testing::close(lstm.forward(Variable(longer)).data(), lstm.forward(Variable(ids.narrow(0, 0, 1))).data(), 1e-6,
                    1e-6));
  KUN_EXPECT_ERROR(lstm.forward(Variable(from_vector(std::vector<int64_t>{25}, {1, 1}))), "outside the vocabulary",
                   "25");

  TextTransformer tr({.vocab_size = 20, .max_len = 8, .d_model = 8, .nhead = 2, .num_layers = 1,
                      .dim_feedforward = 16});
  tr.eval();
  Variable z = tr.forward(Variable(ids));
  EXPECT_EQ(z.shape(), Shape({2, 2}));
  EXPECT_TRUE(all_finite(z.data()));  // the all-padding row too
  Tensor padded = from_vector(std::vector<int64_t>{3, 4, 5, 0, 0, 0, 0, 0}, {1, 8});
  EXPECT_TRUE(kun::testing::close(tr.forward(Variable(padded)).data(), tr.forward(Variable(ids.narrow(0, 0, 1))).data(), 1e-5, 1e-5));
  KUN_EXPECT_ERROR(tr.forward(Variable(zeros({1, 9}, DType::i64))), "exceeds max_len 8");
  Variable mlm = tr.mlm_logits(ids, from_vector(std::vector<int64_t>{0, 2}));
  EXPECT_EQ(mlm.shape(), Shape({2, 20}));
  KUN_EXPECT_ERROR(TextTransformer({.vocab_size = 20, .d_model = 10, .nhead = 3}), "divisible by nhead");
}
