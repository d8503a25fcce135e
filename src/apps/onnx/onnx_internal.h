// Internal to the ONNX importer: the parsed node form and the operator registry. No protobuf here,
// so the operator implementations compile without the generated headers.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kun/apps/onnx/onnx.h"
#include "kun/tensor/tensor.h"

namespace kun::onnx::detail {

// One attribute value; only the field matching `kind` is meaningful.
struct Attr {
  enum Kind { none, i, f, s, t, ints, floats, strings, graph } kind = none;
  int64_t i_val = 0;
  double f_val = 0;
  std::string s_val;
  Tensor t_val;
  std::vector<int64_t> ints_val;
  std::vector<double> floats_val;
  std::vector<std::string> strings_val;
};

struct Node {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;  // "" marks an omitted optional input / output
  std::map<std::string, Attr> attrs;
};

// What an operator sees while running one node.
struct OpContext {
  const Node& node;
  int64_t opset;
  std::vector<Tensor> in;  // undefined Tensor() for omitted optional inputs
  size_t n_out;            // number of outputs the node declares
  // Sequence values (SequenceConstruct, SplitToSequence ...): seq_in[k] is set when input k is a
  // sequence; an op producing a sequence for output k fills seq_out[k] (and leaves that tensor undefined).
  std::vector<const std::vector<Tensor>*> seq_in = {};
  std::map<size_t, std::vector<Tensor>> seq_out = {};

  const std::vector<Tensor>& sequence(size_t k) const;  // throws when input k is not a sequence

  bool has_input(size_t k) const { return k < in.size() && in[k].defined(); }
  const Tensor& input(size_t k) const;  // throws when missing
  bool has_attr(const std::string& a) const { return node.attrs.count(a) != 0; }
  int64_t attr_i(const std::string& a, int64_t def) const;
  int64_t attr_i(const std::string& a) const;  // required
  double attr_f(const std::string& a, double def) const;
  std::string attr_s(const std::string& a, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& a, const std::vector<int64_t>& def = {}) const;
  std::vector<double> attr_floats(const std::string& a, const std::vector<double>& def = {}) const;
  const Attr* attr(const std::string& a) const;
};

using OpFn = std::vector<Tensor> (*)(OpContext& ctx);
const std::map<std::string, OpFn>& op_registry();

}  // namespace kun::onnx::detail

namespace kun::onnx {

struct Model::Impl {
  std::string source;
  int64_t opset = 0;
  std::vector<ValueInfo> inputs, outputs;
  std::vector<NodeInfo> node_infos;
  std::vector<detail::Node> nodes;         // topological order
  std::vector<detail::OpFn> fns;           // one per node
  std::map<std::string, Tensor> weights;   // initializers
  // For freeing intermediates early: index of the last node reading each value.
  std::unordered_map<std::string, size_t> last_use;
  // The ModelProto without its initializers (their data lives in `weights`): what a .kun file embeds.
  std::string graph_bytes;
};

namespace detail {

struct ModelAccess {
  static const Model::Impl& impl(const Model& m) { return *m.impl_; }
  static Model make(std::shared_ptr<const Model::Impl> impl) {
    Model m;
    m.impl_ = std::move(impl);
    return m;
  }
  // Rebuilds a model from Impl::graph_bytes plus the initializer tensors (by name).
  static Model with_weights(const std::string& graph_bytes, const std::map<std::string, Tensor>& weights,
                            const std::string& source);
};

// Runs the graph with `weights` standing in for the initializers (same names).
std::map<std::string, Tensor> run_graph(const Model::Impl& m, const std::map<std::string, Tensor>& inputs,
                                        const std::map<std::string, Tensor>& weights);
// Impl::graph_bytes with `weights` added back as initializers.
std::string graph_bytes_with_weights(const std::string& graph_bytes, const std::map<std::string, Tensor>& weights);
// Checks a fed input against the declared dtype and shape.
void check_input(const ValueInfo& vi, const Tensor& x);

}  // namespace detail
}  // namespace kun::onnx
