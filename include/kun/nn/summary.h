// Model summaries (layer, output shape, parameter count), like Keras' summary(), and build():
// materializing the parameters of layers whose input sizes are inferred.
#pragma once
#include <string>
#include <vector>

#include "kun/nn/module.h"

namespace kun::nn {

struct SummaryRow {
  std::string name;  // child name ("0", "conv2d_1", ...)
  std::string type;  // type_name()
  Shape output_shape;  // batch dim included (as 1)
  int64_t params = 0;  // parameters of this layer (recursively)
};

// Runs one example of `input_shape` (no batch dim) through the model in eval mode without
// recording gradients, so lazily sized layers create their parameters. Integer dtypes feed
// zeros as ids (embedding models).
void build(Module& model, const Shape& input_shape, DType dtype = DType::f32);

// The rows of the summary (Sequential and Graph models list their layers; any other module is one row).
std::vector<SummaryRow> summarize(Module& model, const Shape& input_shape, DType dtype = DType::f32);

// The summary table as text:
//   Layer (type)             Output Shape          Param #
//   0 (conv2d)               (None, 32, 26, 26)    320
//   ...
//   Total params: 225,034 / Trainable params / Non-trainable params
std::string summary(Module& model, const Shape& input_shape, DType dtype = DType::f32);

// 225034 -> "225,034"
std::string group_thousands(int64_t n);

}  // namespace kun::nn
