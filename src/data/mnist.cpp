#include "kun/data/mnist.h"

#include <cstdlib>
#include <filesystem>

#include "kun/core/threading.h"
#include "kun/data/idx.h"

namespace kun::data {

namespace fs = std::filesystem;

namespace {

// "<dir>/<name>" or "<dir>/<name>.gz", whichever exists (plain first).
std::string find_idx(const std::string& dir, const std::string& name) {
  std::error_code ec;
  fs::path plain = fs::path(dir) / name;
  if (fs::is_regular_file(plain, ec)) return plain.string();
  fs::path gz = fs::path(dir) / (name + ".gz");
  if (fs::is_regular_file(gz, ec)) return gz.string();
  KUN_CHECK(fs::is_directory(dir, ec), IOError, "mnist: ", dir, ": no such directory; set KUN_DATA_DIR or pass the ",
            "folder holding train-images-idx3-ubyte.gz and the other three files");
  detail::throw_error<IOError>("mnist: ", dir, ": missing ", name, " (or ", name, ".gz)");
}

bool has_mnist_files(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "train-images-idx3-ubyte.gz", ec) ||
         fs::is_regular_file(dir / "train-images-idx3-ubyte", ec);
}

}  // namespace

Tensor u8_to_unit_float(const Tensor& u8) {
  u8.check_dtype(DType::u8, "u8_to_unit_float");
  Tensor src = u8.contiguous();
  Tensor out = Tensor::empty(src.shape(), DType::f32);
  const uint8_t* s = src.data<uint8_t>();
  float* d = out.data<float>();
  parallel_for(src.numel(), 1 << 16, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) d[i] = static_cast<float>(s[i]) * (1.0f / 255.0f);
  });
  return out;
}

TensorDataset load_mnist_split(const std::string& dir, const std::string& stem) {
  const std::string img_path = find_idx(dir, stem + "-images-idx3-ubyte");
  const std::string lbl_path = find_idx(dir, stem + "-labels-idx1-ubyte");
  Tensor images = read_idx(img_path);
  Tensor labels = read_idx(lbl_path);
  KUN_CHECK(images.dtype() == DType::u8 && images.dim() == 3 && images.size(1) == 28 && images.size(2) == 28,
            IOError, "mnist: ", img_path, ": expected uint8 images (N, 28, 28), got ", images.dtype(), " ",
            images.shape());
  KUN_CHECK(labels.dtype() == DType::u8 && labels.dim() == 1, IOError, "mnist: ", lbl_path,
            ": expected uint8 labels (N,), got ", labels.dtype(), " ", labels.shape());
  KUN_CHECK(labels.size(0) == images.size(0), IOError, "mnist: ", lbl_path, " has ", labels.size(0),
            " labels but ", img_path, " has ", images.size(0), " images");
  const int64_t n = images.size(0);
  Tensor y = Tensor::empty({n}, DType::i64);
  const uint8_t* l = labels.data<uint8_t>();
  int64_t* yd = y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    KUN_CHECK(l[i] < 10, IOError, "mnist: ", lbl_path, ": label ", int{l[i]}, " at item ", i,
              " (byte offset ", 8 + i, ") out of range [0, 10)");
    yd[i] = l[i];
  }
  return TensorDataset(u8_to_unit_float(images).view({n, 1, 28, 28}), y);
}

MnistData mnist(const std::string& dir) {
  std::string d = dir;
  if (d.empty()) {
    const char* env = std::getenv("KUN_DATA_DIR");
    if (env && *env) {
      d = has_mnist_files(env) ? std::string(env) : (fs::path(env) / "mnist").string();
    } else {
      d = "../shared/data/mnist";
    }
  }
  return {load_mnist_split(d, "train"), load_mnist_split(d, "t10k")};
}

MnistData fashion_mnist(const std::string& dir) {
  std::string d = dir;
  if (d.empty()) {
    const char* env = std::getenv("KUN_DATA_DIR");
    if (env && *env && has_mnist_files(fs::path(env) / "fashion-mnist"))
      d = (fs::path(env) / "fashion-mnist").string();
    else
      d = "/usr/share/datasets/fashion-mnist";
  }
  return {load_mnist_split(d, "train"), load_mnist_split(d, "t10k")};
}

}  // namespace kun::data
