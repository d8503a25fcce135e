// An imported ONNX graph as an nn::Module: train::Model can fit, evaluate, predict, save and load it.
//
//   auto net = std::make_shared<kun::onnx::GraphModule>(kun::onnx::Model::load("cnn.onnx"));
//   kun::train::Model m(net);                       // parameters named after the initializers
//   m.compile(optim::Adam({.lr = 1e-3}), ...); m.fit(x, y);
//   m.save("cnn.kun");                              // kun predict / train::Model::load run it
//
// Initializers become parameters (floating point, trainable) or buffers (integer constants and the
// running mean / variance of BatchNormalization) under their own names; a dotted name nests as
// submodules ("conv1.weight" is parameter "weight" of child "conv1"), so named_parameters() gives the
// initializer names back. A name that cannot nest (empty segment, clash) has its dots replaced by '_'.
//
// forward() runs the graph through kun's kernels. With gradients wanted, each node that has a kun
// gradient (Conv, Gemm, MatMul, elementwise math, activations, Softmax, pools, BatchNormalization
// (frozen statistics), LayerNormalization, Gather, Concat, Reshape, Transpose, LSTM, GRU, ...) runs on
// autograd Variables; a node without one is fine while none of its inputs needs a gradient (shape
// arithmetic), else forward throws an UnsupportedError naming it. Dropout is the identity.
//
// Saved as module type "onnx_graph": the config holds the graph without its initializers (base64 of
// the ModelProto) and the initializer list; the weights are the module's state dict.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "kun/apps/onnx/onnx.h"
#include "kun/nn/layers.h"

namespace kun::onnx {

class GraphModule : public nn::MultiInputModule {
 public:
  explicit GraphModule(Model model);
  GraphModule(const nn::json& config, nn::FromConfig);

  // Inputs in the order of model().inputs(); returns the first output.
  Variable forward_many(const std::vector<Variable>& xs) override;
  // Every graph output, in the order of model().outputs().
  std::vector<Variable> forward_outputs(const std::vector<Variable>& xs);

  std::string type_name() const override { return "onnx_graph"; }
  nn::json config() const override;
  const Model& model() const { return model_; }
  // The ONNX model with the current (e.g. fine-tuned) weights as its initializers; export_model of a
  // GraphModule writes this.
  std::string onnx_bytes() const;
  // Initializer name -> dotted parameter / buffer path in this module.
  const std::map<std::string, std::string>& initializer_paths() const { return paths_; }

 private:
  struct Slot {
    std::string path;
    bool trainable = false;
    Variable param;  // trainable
    Tensor buffer;   // not trainable
  };
  void register_initializers(const std::map<std::string, Tensor>& init);
  std::map<std::string, Tensor> current_weights() const;

  Model model_;
  std::map<std::string, std::string> paths_;
  std::map<std::string, Slot> slots_;  // by initializer name
};

// Registers module type "onnx_graph" for nn::Module::from_config / train::Model::load (idempotent). It
// happens on its own when this file's code is linked (anything above used); a program that only loads
// .kun files of imported models calls it first, since a static library drops unreferenced registrars.
void register_graph_module();

// `kun onnx import model.onnx -o model.kun`: imports, wraps in a GraphModule and saves it with
// train::Model::save (atomic), plus the `<model>.kun.meta.json` sidecar kun predict reads (input shape
// from the ONNX input, without the batch dim; see KunImportOptions).
struct KunImportOptions {
  // How kun predict reads the outputs: "softmax", "sigmoid", "none", or "auto": none after a final
  // Softmax, else softmax (logits, and log-probabilities, softmax to probabilities).
  std::string output_activation = "auto";
  std::vector<std::string> classes = {};
};
void import_to_kun(const std::string& onnx_path, const std::string& kun_path, const KunImportOptions& opt = {});

}  // namespace kun::onnx
