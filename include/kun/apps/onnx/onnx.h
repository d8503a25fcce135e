// ONNX interop: load an .onnx file into a kun graph and run it with kun's tensor kernels.
//
//   auto m = kun::onnx::Model::load("cnn.onnx");
//   std::vector<kun::Tensor> y = m.run({x});            // graph inputs in declaration order
//
// The protobuf classes stay inside src/apps/onnx (pimpl); this header only speaks kun types.
// Errors are kun::Error subclasses whose message starts with "onnx:" and names the node:
//   UnsupportedError  an operator, domain, data type or attribute kun does not implement
//   IOError           a missing, truncated or corrupt file
//   ValueError        a malformed graph (a cycle, an undefined input, a missing attribute)
//   ShapeError        a shape mismatch met while running a node
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kun/core/error.h"
#include "kun/tensor/tensor.h"

namespace kun::onnx {

namespace detail {
struct ModelAccess;  // the importer's internals (src/apps/onnx)
}

// An operator (or data type, or attribute value) that the importer does not implement.
class UnsupportedError : public ValueError {
 public:
  UnsupportedError(const std::string& msg, std::string op) : ValueError(msg), op_(std::move(op)) {}
  const std::string& op() const { return op_; }  // the operator type, e.g. "DeformConv"

 private:
  std::string op_;
};

struct ValueInfo {
  std::string name;
  int elem_type = 0;          // ONNX TensorProto.DataType (1 float, 7 int64, ...); 0 unknown
  std::vector<int64_t> dims;  // -1 for a dynamic (symbolic or unknown) dim
  std::vector<std::string> dim_names;  // symbolic names ("batch"), empty strings for fixed dims
  bool has_shape = false;
};

struct NodeInfo {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;
};

struct ImportOptions {
  bool run_checker = false;  // also run onnx::checker::check_model (strict: rejects opsets it does not know)
};

class Model {
 public:
  static Model load(const std::string& path, const ImportOptions& opt = {});
  // `source` names the model in error messages.
  static Model from_bytes(const std::string& bytes, const std::string& source = "<memory>",
                          const ImportOptions& opt = {});

  // Graph inputs that are fed by the caller (initializers excluded), and graph outputs.
  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;
  const std::vector<NodeInfo>& nodes() const;  // in execution (topological) order
  int64_t opset() const;                       // default-domain opset version
  std::map<std::string, Tensor> weights() const;  // initializers by name

  // Runs inference. Inputs in the order of inputs(); returns outputs in the order of outputs().
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const;

  struct Impl;  // the importer's graph form (src/apps/onnx); opaque here

 private:
  friend struct detail::ModelAccess;
  std::shared_ptr<const Impl> impl_;
};

// Operator types of the default domain the importer maps (sorted).
std::vector<std::string> supported_operators();
bool is_supported(const std::string& op_type);

// Reads a serialized TensorProto (the backend test data's input_0.pb / output_0.pb files).
Tensor read_tensor_pb(const std::string& path);
void write_tensor_pb(const std::string& path, const Tensor& t, const std::string& name = "");
// kun dtype <-> ONNX TensorProto.DataType; to_dtype throws UnsupportedError for types kun lacks.
int onnx_elem_type(DType dtype);
DType to_dtype(int elem_type, const std::string& where);
std::string elem_type_name(int elem_type);

// `kun onnx <verb>`: run, info (import). Returns the process exit code; never throws.
int cli_main(int argc, char** argv);

}  // namespace kun::onnx
