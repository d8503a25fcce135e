// End to end: runs the `kun` binary on a tiny synthetic .npy dataset (always available) and, when
// the MNIST files are present, on a few hundred MNIST images; checks exit codes, the run records,
// `kun predict` output and one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kun/core/rng.h"
#include "kun/data/image.h"
#include "kun/data/npy.h"
#include "kun/tensor/tensor.h"

namespace fs = std::filesystem;
using namespace kun;

namespace {

#ifndef KUN_CLI_BINARY
#define KUN_CLI_BINARY ""
#endif

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = KUN_CLI_BINARY;
    if (bin_.empty() || !fs::exists(bin_)) GTEST_SKIP() << "kun binary not built: " << bin_;
    dir_ = fs::temp_directory_path() / ("kun_cli_e2e_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  // Runs `kun <args>` in the temp dir with 2 threads.
  Result kun(const std::string& args) {
    Result r;
    const std::string cmd = "cd '" + dir_.string() + "' && OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive '" + bin_ + "' " +
                            args + " > out.txt 2> err.txt";
    int st = std::system(cmd.c_str());
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(dir_ / "out.txt");
    r.err = slurp(dir_ / "err.txt");
    return r;
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  // 300 examples (1, 6, 6): class 0 has a bright left half, class 1 a bright right half, class 2 is dark.
  void make_synthetic() {
    Generator g(5);
    std::vector<float> x(300 * 36);
    std::vector<int64_t> y(300);
    std::vector<float> noise = kun::rand(Shape{300 * 36}, DType::f32, &g).to_vector<float>();
    for (int i = 0; i < 300; ++i) {
      y[size_t(i)] = i % 3;
      for (int r = 0; r < 6; ++r)
        for (int c = 0; c < 6; ++c) {
          float base = (y[size_t(i)] == 0 && c < 3) || (y[size_t(i)] == 1 && c >= 3) ? 0.8f : 0.1f;
          x[size_t(i * 36 + r * 6 + c)] = base + 0.2f * noise[size_t(i * 36 + r * 6 + c)];
        }
    }
    data::write_npy((dir_ / "x.npy").string(), from_vector(x, Shape{300, 1, 6, 6}));
    data::write_npy((dir_ / "y.npy").string(), from_vector(y, Shape{300}));
    // One example for predict: a bright-left image (class "left").
    std::vector<float> one(x.begin(), x.begin() + 36);
    data::write_npy((dir_ / "one.npy").string(), from_vector(one, Shape{1, 6, 6}));
    data::write_image((dir_ / "one.png").string(), from_vector(one, Shape{1, 6, 6}));
    write("tiny.toml", R"([run]
name = "tiny"
[data]
kind = "npy"
x = "x.npy"
y = "y.npy"
test_split = 0.2
validation_split = 0.1
classes = ["left", "right", "dark"]
[[model.layers]]
type = "conv2d"
out_channels = 4
kernel = 3
padding = "same"
activation = "relu"
[[model.layers]]
type = "flatten"
[[model.layers]]
type = "dense"
units = 3
[train]
optimizer = { name = "adam", lr = 0.01 }
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 3
batch_size = 16
verbose = 2
)");
  }

  std::string bin_;
  fs::path dir_;
};

}  // namespace

TEST_F(CliTest, HelpVersionAndUsageErrors) {
  Result h = kun("--help");
  EXPECT_EQ(h.code, 0);
  for (const char* verb : {"train", "eval", "predict", "summary", "runs", "recsys", "version"})
    EXPECT_NE(h.out.find(verb), std::string::npos) << verb;
  Result th = kun("train --help");
  EXPECT_EQ(th.code, 0);
  for (const char* flag : {"--output", "--runs-db", "--epochs", "--batch-size", "--threads", "--no-record"})
    EXPECT_NE(th.out.find(flag), std::string::npos) << flag;
  Result v = kun("version");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("kun ", 0), 0u);
  Result u = kun("frobnicate");
  EXPECT_EQ(u.code, 2);
  EXPECT_EQ(lines(u.err), 1u) << u.err;
  EXPECT_EQ(u.err.rfind("kun: error: ", 0), 0u) << u.err;
  Result none = kun("");
  EXPECT_EQ(none.code, 2);
  Result badflag = kun("train --epochs zero");
  EXPECT_EQ(badflag.code, 2);
}

TEST_F(CliTest, BadConfigsFailWithOneLine) {
  write("typo.toml", "[data]\nkind = \"mnist\"\n[[model.layers]]\ntype = \"dense\"\nunits = 3\n[train]\nepoch = 5\n");
  Result r = kun("train typo.toml --runs-db db/kun.db");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("kun: error: config typo.toml: [train] unknown key 'epoch'; did you mean 'epochs'?"),
            std::string::npos)
      << r.err;
  Result missing = kun("train nope.toml");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(lines(missing.err), 1u);
  EXPECT_NE(missing.err.find("nope.toml"), std::string::npos);
  Result nomodel = kun("predict nothing.kun x.png");
  EXPECT_EQ(nomodel.code, 1);
  EXPECT_EQ(lines(nomodel.err), 1u) << nomodel.err;
  Result runs = kun("runs list --runs-db none/kun.db");
  EXPECT_EQ(runs.code, 1);
  EXPECT_NE(runs.err.find("no run records"), std::string::npos);
}

TEST_F(CliTest, TrainPredictEvalRunsOnSyntheticData) {
  make_synthetic();
  Result s = kun("summary tiny.toml");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("Total params"), std::string::npos);

  Result t = kun("train tiny.toml --runs-db db/kun.db --show 3");
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  EXPECT_NE(t.out.find("test (60 examples): loss:"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("bit-identical"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("predicted"), std::string::npos);
  const std::string model = "db/1/model.kun";
  ASSERT_TRUE(fs::exists(dir_ / model)) << t.out;
  ASSERT_TRUE(fs::exists(dir_ / (model + ".meta.json")));

  // The classes are easy: the model must get the bright-left example right, with a probability.
  Result p = kun("predict " + model + " one.npy one.png x.npy -k 2");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("one.npy: left ("), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("one.png: left ("), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("x.npy[299]: "), std::string::npos);  // a batch: one line per row
  EXPECT_EQ(lines(p.out), 302u);

  Result e = kun("eval " + model);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("accuracy:"), std::string::npos) << e.out;

  Result ms = kun("summary " + model);
  EXPECT_EQ(ms.code, 0) << ms.err;
  EXPECT_NE(ms.out.find("left, right, dark"), std::string::npos) << ms.out;

  // A second run, then the records.
  Result t2 = kun("train tiny.toml --runs-db db/kun.db --epochs 1 --show 0 -o other.kun");
  ASSERT_EQ(t2.code, 0) << t2.err;
  Result l = kun("runs list --runs-db db/kun.db");
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_NE(l.out.find("tiny"), std::string::npos);
  EXPECT_NE(l.out.find("finished"), std::string::npos);
  EXPECT_EQ(lines(l.out), 3u) << l.out;
  Result sh = kun("runs show 1 --runs-db db/kun.db");
  ASSERT_EQ(sh.code, 0) << sh.err;
  EXPECT_NE(sh.out.find("val_accuracy"), std::string::npos) << sh.out;
  Result c = kun("runs compare 1 2 --runs-db db/kun.db");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("train.epochs"), std::string::npos) << c.out;
  Result pl = kun("runs plot 1 --runs-db db/kun.db");
  ASSERT_EQ(pl.code, 0) << pl.err;
  std::string svg = slurp(dir_ / "db/1/curves.svg");
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(kun("runs show 9 --runs-db db/kun.db").code, 1);

  // A failing run is recorded as failed with its error.
  write("broken.toml", slurp(dir_ / "tiny.toml") + "\n");
  fs::remove(dir_ / "y.npy");
  Result f = kun("train broken.toml --runs-db db/kun.db");
  EXPECT_EQ(f.code, 1);
  EXPECT_EQ(lines(f.err), 1u) << f.err;
  Result l2 = kun("runs show 3 --runs-db db/kun.db");
  EXPECT_NE(l2.out.find("failed"), std::string::npos) << l2.out;
  EXPECT_NE(l2.out.find("y.npy"), std::string::npos) << l2.out;
}

TEST_F(CliTest, MnistFewHundredImagesOneEpoch) {
  const char* env = std::getenv("KUN_DATA_DIR");
  fs::path mnist = env ? fs::path(env) : fs::path(KUN_GOLDEN_DIR) / "../../../shared/data/mnist";
  if (!fs::exists(mnist / "train-images-idx3-ubyte.gz") && !fs::exists(mnist / "mnist" / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "MNIST not found (set KUN_DATA_DIR)";
  if (fs::exists(mnist / "mnist")) mnist /= "mnist";
  write("m.toml", "[data]\nkind = \"mnist\"\npath = \"" + fs::absolute(mnist).string() +
                      "\"\ntrain_limit = 500\ntest_limit = 200\n[[model.layers]]\ntype = \"flatten\"\n"
                      "[[model.layers]]\ntype = \"dense\"\nunits = 32\nactivation = \"relu\"\n[[model.layers]]\n"
                      "type = \"dense\"\nunits = 10\n[train]\nepochs = 1\nbatch_size = 50\nverbose = 0\n");
  Result t = kun("train m.toml --no-record -o m.kun --show 2");
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  EXPECT_NE(t.out.find("test (200 examples)"), std::string::npos) << t.out;
  Result e = kun("eval m.kun --data mnist:" + fs::absolute(mnist).string() + " --limit 100");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("on 100 test examples"), std::string::npos) << e.out;
}
