// Export of kun models (Sequential, Graph and the builtin layers) to ONNX (opset 17).
//
//   nn::Sequential net{nn::Conv2D({.out_channels = 8, .kernel = 3}), nn::ReLU(), nn::Flatten(), nn::Dense({.units = 10})};
//   kun::onnx::export_model(net, "net.onnx", {.input_shapes = {{1, 28, 28}}});
//
// Each layer becomes the ONNX nodes that compute it (Dense -> Gemm or MatMul + Add, Conv2D -> Conv,
// LSTM -> LSTM with the gates reordered, Dropout -> nothing (inference), BatchNorm -> BatchNormalization with the
// running statistics, ...). Parameters become initializers under their dotted state-dict names
// ("0.weight", "conv1.bias"), so an exported model re-imports with the same names. The batch dim is
// symbolic ("batch"). The exported file always passes onnx::checker::check_model and strict shape
// inference; a layer kun cannot
// express in ONNX is a kun::onnx::UnsupportedError naming the layer's path and type.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kun/apps/onnx/onnx.h"
#include "kun/nn/module.h"

namespace kun::onnx {

struct ExportOptions {
  // One per model input, WITHOUT the batch dim. A Graph declares its own (this overrides them);
  // a Sequential needs one. -1 marks a dynamic dim (named "d<k>" in the file; traced with size 2).
  std::vector<std::vector<int64_t>> input_shapes = {};
  // Element type per input; empty: int64 when the first layer is an Embedding, else float32.
  std::vector<DType> input_dtypes = {};
  std::vector<std::string> input_names = {};   // default: the Graph's input names, or "input"
  std::vector<std::string> output_names = {};  // default: "output" (or "output_<k>")
  int64_t opset = 17;                          // 14..17: LSTM/GRU/LayerNormalization need >= 14 / 17
  std::string graph_name = "kun";
  bool run_checker = true;  // run onnx::checker::check_model on the result (throws ValueError on failure)
};

// The serialized ModelProto. The module is traced once in eval mode on zeros (to learn each layer's
// shapes and to build lazily sized layers); its training flag is restored afterwards.
std::string export_bytes(nn::Module& model, const ExportOptions& opt = {});
// Writes the file atomically (temp file + rename).
void export_model(nn::Module& model, const std::string& path, const ExportOptions& opt = {});

// onnx::checker::check_model plus strict shape / type inference on serialized bytes; throws ValueError
// with ONNX's message.
void check_model_bytes(const std::string& bytes, const std::string& source = "<memory>");

// Layer types export_model knows (registry names: "dense", "conv2d", ...).
std::vector<std::string> exportable_layer_types();

}  // namespace kun::onnx
