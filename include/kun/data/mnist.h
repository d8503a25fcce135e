// MNIST and Fashion-MNIST from their four IDX files (plain or .gz):
//   train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
#pragma once
#include <string>

#include "kun/data/dataset.h"

namespace kun::data {

struct MnistData {
  TensorDataset train;  // x (60000, 1, 28, 28) float32 in [0, 1], y (60000,) int64 in [0, 10)
  TensorDataset test;   // x (10000, 1, 28, 28), y (10000,)
};

// dir "" means: $KUN_DATA_DIR (the files themselves, or a mnist/ subfolder of it), else the relative
// path ../shared/data/mnist.
MnistData mnist(const std::string& dir = "");
// dir "" means: $KUN_DATA_DIR/fashion-mnist when it exists, else /usr/share/datasets/fashion-mnist
// (Debian's dataset-fashion-mnist package).
MnistData fashion_mnist(const std::string& dir = "");

// Loads one images/labels pair from `dir`; `stem` is "train" or "t10k". Checks the counts agree,
// images are (N, 28, 28) uint8 and labels are in [0, 10).
TensorDataset load_mnist_split(const std::string& dir, const std::string& stem);

// uint8 (N, ...) -> float32 in [0, 1], threaded.
Tensor u8_to_unit_float(const Tensor& u8);

}  // namespace kun::data
