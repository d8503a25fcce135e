#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "data/data_test_util.h"
#include "golden_util.h"
#include "kun/data/idx.h"
#include "kun/data/mnist.h"

using namespace kun;
using namespace kun::data;
using kun::testing::TempDir;
namespace fs = std::filesystem;

namespace {
// The MNIST folder the tests use: $KUN_DATA_DIR (or its mnist/), else ../shared/data/mnist from
// the repository root (the tests may run from the root or from build/).
std::string mnist_dir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("KUN_DATA_DIR")) {
    candidates.push_back(env);
    candidates.push_back(fs::path(env) / "mnist");
  }
#ifdef KUN_GOLDEN_DIR
  candidates.push_back(fs::path(KUN_GOLDEN_DIR) / "../../../shared/data/mnist");
#endif
  candidates.push_back("../shared/data/mnist");
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(c / "train-images-idx3-ubyte.gz", ec) || fs::exists(c / "train-images-idx3-ubyte", ec))
      return c.string();
  }
  return "";
}
}  // namespace

TEST(DataMnist, RealFilesCountsAndFirstLabel) {
  std::string dir = mnist_dir();
  if (dir.empty()) GTEST_SKIP() << "MNIST not found (set KUN_DATA_DIR or place it in ../shared/data/mnist)";
  auto t0 = std::chrono::steady_clock::now();
  MnistData d = mnist(dir);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ info ] mnist(%s): train+test read and converted in %.3f s\n", dir.c_str(), secs);
  EXPECT_EQ(d.train.size(), 60000);
  EXPECT_EQ(d.test.size(), 10000);
  EXPECT_EQ(d.train.x().shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(d.train.x().dtype(), DType::f32);
  EXPECT_EQ(d.train.y().dtype(), DType::i64);
  EXPECT_EQ(d.train.y().select(0, 0).item<int64_t>(), 5);
  Tensor first = d.train.get(0).x;
  float mx = 0;
  for (float v : first.to_vector<float>()) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
    mx = std::max(mx, v);
  }
  EXPECT_EQ(mx, 1.0f);
}

TEST(DataMnist, FashionMnistIfInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz")) GTEST_SKIP() << "Fashion-MNIST not installed";
  MnistData d = fashion_mnist(dir);
  EXPECT_EQ(d.train.size(), 60000);
  EXPECT_EQ(d.test.size(), 10000);
  EXPECT_EQ(d.train.y().select(0, 0).item<int64_t>(), 9);  // the first Fashion-MNIST item is an ankle boot
}

TEST(DataMnist, TinyFakeDirectoryAndErrors) {
  TempDir dir;
  Tensor u8 = full({3, 28, 28}, 255, DType::u8);
  u8.select(0, 0).fill_(0);
  write_idx(dir.file("train-images-idx3-ubyte.gz"), u8, true);
  write_idx(dir.file("train-labels-idx1-ubyte"), from_vector(std::vector<uint8_t>{5, 0, 9}), false);
  TensorDataset ds = load_mnist_split(dir.path().string(), "train");
  EXPECT_EQ(ds.x().shape(), (Shape{3, 1, 28, 28}));
  EXPECT_EQ(ds.y().to_vector<int64_t>(), (std::vector<int64_t>{5, 0, 9}));
  EXPECT_EQ(ds.x().select(0, 0).to_vector<float>()[0], 0.0f);
  EXPECT_EQ(ds.x().select(0, 1).to_vector<float>()[0], 1.0f);

  KUN_EXPECT_ERROR(load_mnist_split(dir.path().string(), "t10k"), "mnist", "missing t10k-images-idx3-ubyte");
  KUN_EXPECT_ERROR(mnist(dir.file("absent")), "mnist", "absent", "no such directory");
  write_idx(dir.file("train-labels-idx1-ubyte"), from_vector(std::vector<uint8_t>{5, 12, 9}), false);
  KUN_EXPECT_ERROR(load_mnist_split(dir.path().string(), "train"), "train-labels-idx1-ubyte", "label 12 at item 1",
                   "out of range [0, 10)");
  write_idx(dir.file("train-labels-idx1-ubyte"), from_vector(std::vector<uint8_t>{5, 1}), false);
  KUN_EXPECT_ERROR(load_mnist_split(dir.path().string(), "train"), "has 2 labels", "has 3 images");
}
