// kun model -> ONNX ModelProto. The model is walked layer by layer (Sequential / Graph / Residual
// recursively); each leaf layer is run once on zeros of its input shape (eval mode, no grad) to learn
// its output shape and to build lazily sized layers, then emitted as ONNX nodes reading its
// parameters under their dotted state-dict names.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numbers>
#include <set>

#include "kun/apps/onnx/export.h"
#include "kun/apps/onnx/module.h"
#include "kun/autograd/variable.h"
#include "kun/nn/graph.h"
#include "kun/nn/layers.h"
#include "kun/nn/sequential.h"
#include "kun/tensor/ops.h"

#ifndef ONNX_NAMESPACE
#define ONNX_NAMESPACE onnx
#endif

namespace kun::onnx {
namespace pb = ::ONNX_NAMESPACE;
namespace detail {
void tensor_to_proto(const Tensor& t, pb::TensorProto& tp);  // onnx_model.cpp
}

namespace {

using nn::json;

// A value flowing through the export: its ONNX name and its traced shape (batch dim included).
struct Value {
  std::string name;
  Shape shape;
  DType dtype = DType::f32;
};

int64_t get_i(const json& c, const char* key, int64_t dflt) {
  if (!c.contains(key) || c[key].is_null()) return dflt;
  return c[key].get<int64_t>();
}
// Size2 in config JSON: an int or [h, w].
std::pair<int64_t, int64_t> get2(const json& c, const char* key, int64_t dflt) {
  if (!c.contains(key) || c[key].is_null()) return {dflt, dflt};
  const json& j = c[key];
  if (j.is_array()) return {j.at(0).get<int64_t>(), j.at(1).get<int64_t>()};
  return {j.get<int64_t>(), j.get<int64_t>()};
}

class Exporter {
 public:
  Exporter(pb::GraphProto& g, int64_t opset) : g_(g), opset_(opset) {}

  // Emits `layer` (its parameters live under `prefix`, e.g. "3." or "block.body.") on `ins`.
  std::vector<Value> emit(nn::Module& layer, const std::string& path, const std::vector<Value>& ins) {
    const std::string type = layer.type_name();
    const std::string prefix = path.empty() ? "" : path + ".";
    const std::string who = "layer '" + (path.empty() ? std::string("<model>") : path) + "' (" + type + ")";
    if (type == "sequential") {
      KUN_CHECK(ins.size() == 1, ValueError, "onnx export: ", who, " takes one input, got ", ins.size());
      Value v = ins[0];
      for (const auto& [name, child] : layer.named_children()) v = emit(*child, prefix + name, {v})[0];
      return {v};
    }
    if (type == "graph") return emit_graph(static_cast<nn::Graph&>(layer), prefix, ins);
    if (type == "residual") {
      nn::ModulePtr body = layer.child("body");
      Value y = emit(*body, prefix + "body", ins)[0];
      Value s = ins[0];
      for (const auto& [name, child] : layer.named_children())
        if (name == "shortcut") s = emit(*child, prefix + "shortcut", ins)[0];
      Value r = node("Add", {y.name, s.name}, y.shape, path + "/add");
      return {activation(r, layer.config().value("activation", std::string()), path)};
    }
    // Leaf layer: trace it for the output shape.
    Shape out_shape = trace(layer, ins, who);
    return {emit_leaf(layer, type, who, path, prefix, ins, out_shape)};
  }

  void add_initializer(const std::string& name, const Tensor& t) {
    if (!initializers_.insert(name).second) return;
    pb::TensorProto* tp = g_.add_initializer();
    detail::tensor_to_proto(t.contiguous(), *tp);
    tp->set_name(name);
  }

 private:
  pb::GraphProto& g_;
  int64_t opset_;
  std::set<std::string> names_, initializers_;
  int counter_ = 0;

  std::string fresh(const std::string& base) {
    std::string n = base;
    while (!names_.insert(n).second) n = base + "_" + std::to_string(++counter_);
    return n;
  }

  pb::NodeProto* raw_node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                          const std::string& name) {
    pb::NodeProto* n = g_.add_node();
    n->set_op_type(op);
    n->set_name(fresh("node:" + name));
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }
  // One-output node; the output value is named after the node.
  Value node(const std::string& op, const std::vector<std::string>& in, const Shape& shape, const std::string& name,
             pb::NodeProto** out_node = nullptr, DType dt = DType::f32) {
    std::string out = fresh(name);
    pb::NodeProto* n = raw_node(op, in, {out}, name);
    if (out_node) *out_node = n;
    return {out, shape, dt};
  }
  static void attr_i(pb::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_f(pb::NodeProto* n, const std::string& name, double v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(v));
  }
  static void attr_s(pb::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::STRING);
    a->set_s(v);
  }
  static void attr_ints(pb::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr_strings(pb::NodeProto* n, const std::string& name, const std::vector<std::string>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::STRINGS);
    for (const auto& x : v) a->add_strings(x);
  }
  // An int64 constant as an initializer (shapes, axes).
  std::string const_i64(const std::string& name, const std::vector<int64_t>& v) {
    std::string n = fresh(name);
    Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, DType::i64);
    for (size_t k = 0; k < v.size(); ++k) t.data<int64_t>()[k] = v[k];
    add_initializer(n, t);
    return n;
  }
  std::string const_f32(const std::string& name, const Tensor& t) {
    std::string n = fresh(name);
    add_initializer(n, t.to(DType::f32));
    return n;
  }

  // Runs the layer on zeros of the inputs' shapes (eval, no grad): gives the output shape and builds lazy layers.
  static Shape trace(nn::Module& layer, const std::vector<Value>& ins, const std::string& who) {
    NoGradGuard ng;
    std::vector<Variable> xs;
    for (const auto& v : ins) xs.emplace_back(zeros(v.shape, v.dtype));
    try {
      if (xs.size() == 1) return layer.forward(xs[0]).shape();
      auto* multi = dynamic_cast<nn::MultiInputModule*>(&layer);
      KUN_CHECK(multi, ValueError, who, " takes one input, got ", xs.size());
      return multi->forward_many(xs).shape();
    } catch (const Error& e) {
      throw ValueError(std::string("onnx export: ") + who + ": " + e.what());
    }
  }

  Tensor param(nn::Module& layer, const std::string& name, const std::string& who) {
    for (const auto& [n, v] : layer.named_parameters(false))
      if (n == name) return v.data();
    for (const auto& [n, t] : layer.named_buffers(false))
      if (n == name) return t;
    throw ValueError("onnx export: " + who + " has no parameter '" + name + "' (was it built?)");
  }
  bool has_param(nn::Module& layer, const std::string& name) {
    for (const auto& [n, v] : layer.named_parameters(false))
      if (n == name) return true;
    return false;
  }
  // The parameter as an initializer under its dotted name; returns that name.
  std::string weight(nn::Module& layer, const std::string& prefix, const std::string& name, const std::string& who) {
    add_initializer(prefix + name, param(layer, name, who).to(DType::f32));
    names_.insert(prefix + name);
    return prefix + name;
  }

  Value activation(const Value& x, const std::string& act, const std::string& path) {
    if (act.empty() || act == "linear") return x;
    const std::string base = path + "/" + act;
    if (act == "relu") return node("Relu", {x.name}, x.shape, base);
    if (act == "sigmoid") return node("Sigmoid", {x.name}, x.shape, base);
    if (act == "tanh") return node("Tanh", {x.name}, x.shape, base);
    if (act == "softplus") return node("Softplus", {x.name}, x.shape, base);
    if (act == "elu" || act == "leaky_relu") {
      pb::NodeProto* n = nullptr;
      Value y = node(act == "elu" ? "Elu" : "LeakyRelu", {x.name}, x.shape, base, &n);
      attr_f(n, "alpha", act == "elu" ? 1.0 : 0.01);
      return y;
    }
    if (act == "softmax" || act == "log_softmax") {
      pb::NodeProto* n = nullptr;
      Value y = node(act == "softmax" ? "Softmax" : "LogSoftmax", {x.name}, x.shape, base, &n);
      attr_i(n, "axis", -1);
      return y;
    }
    if (act == "silu" || act == "swish") {
      Value s = node("Sigmoid", {x.name}, x.shape, base + "/sigmoid");
      return node("Mul", {x.name, s.name}, x.shape, base);
    }
    if (act == "gelu") {  // 0.5 x (1 + erf(x / sqrt 2))
      std::string k = const_f32(base + "/inv_sqrt2", scalar_tensor(1.0 / std::sqrt(2.0)));
      std::string one = const_f32(base + "/one", scalar_tensor(1.0));
      std::string half = const_f32(base + "/half", scalar_tensor(0.5));
      Value a = node("Mul", {x.name, k}, x.shape, base + "/scale");
      Value e = node("Erf", {a.name}, x.shape, base + "/erf");
      Value p = node("Add", {e.name, one}, x.shape, base + "/plus1");
      Value h = node("Mul", {x.name, half}, x.shape, base + "/half_x");
      return node("Mul", {h.name, p.name}, x.shape, base);
    }
    if (act == "gelu_tanh") {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      std::string c3 = const_f32(base + "/c3", scalar_tensor(0.044715));
      std::string k = const_f32(base + "/k", scalar_tensor(std::sqrt(2.0 / std::numbers::pi)));
      std::string one = const_f32(base + "/one", scalar_tensor(1.0));
      std::string half = const_f32(base + "/half", scalar_tensor(0.5));
      Value x2 = node("Mul", {x.name, x.name}, x.shape, base + "/x2");
      Value x3 = node("Mul", {x2.name, x.name}, x.shape, base + "/x3");
      Value t = node("Mul", {x3.name, c3}, x.shape, base + "/c3x3");
      Value s = node("Add", {x.name, t.name}, x.shape, base + "/inner");
      Value u = node("Mul", {s.name, k}, x.shape, base + "/scaled");
      Value th = node("Tanh", {u.name}, x.shape, base + "/tanh");
      Value p = node("Add", {th.name, one}, x.shape, base + "/plus1");
      Value h = node("Mul", {x.name, half}, x.shape, base + "/half_x");
      return node("Mul", {h.name, p.name}, x.shape, base);
    }
    throw UnsupportedError("onnx export: layer '" + path + "': activation '" + act + "' cannot be exported", act);
  }

  // "same" / "valid" / ints -> ONNX pads (begin_h, begin_w, end_h, end_w) for the given kernel and dilation.
  static std::vector<int64_t> conv_pads(const json& pj, const std::vector<int64_t>& k, const std::vector<int64_t>& d) {
    const size_t n = k.size();
    std::vector<int64_t> b(n, 0), e(n, 0);
    if (pj.is_string()) {
      if (pj.get<std::string>() == "same")
        for (size_t i = 0; i < n; ++i) {  // total d (k - 1); the odd one extra goes to the end (PyTorch)
          int64_t total = d[i] * (k[i] - 1);
          b[i] = total / 2;
          e[i] = total - b[i];
        }
    } else if (pj.is_array()) {
      for (size_t i = 0; i < n; ++i) b[i] = e[i] = pj.at(n == 1 ? 1 : i).get<int64_t>();
    } else if (!pj.is_null()) {
      for (size_t i = 0; i < n; ++i) b[i] = e[i] = pj.get<int64_t>();
    }
    std::vector<int64_t> r = b;
    r.insert(r.end(), e.begin(), e.end());
    return r;
  }

  Value emit_leaf(nn::Module& layer, const std::string& type, const std::string& who, const std::string& path,
                  const std::string& prefix, const std::vector<Value>& ins, const Shape& out_shape) {
    const json c = layer.config();
    const Value& x = ins[0];
    if (type == "dense") {
      Value y;
      if (x.shape.size() == 2) {
        pb::NodeProto* n = nullptr;
        std::vector<std::string> in{x.name, weight(layer, prefix, "weight", who)};
        if (has_param(layer, "bias")) in.push_back(weight(layer, prefix, "bias", who));
        y = node("Gemm", in, out_shape, path + "/gemm", &n);
        attr_i(n, "transB", 1);
      } else {  // (..., in) @ W^T (+ b): MatMul broadcasts the leading dims
        std::string wt = fresh(prefix + "weight_t");
        add_initializer(wt, param(layer, "weight", who).t().contiguous().to(DType::f32));
        y = node("MatMul", {x.name, wt}, out_shape, path + "/matmul");
        if (has_param(layer, "bias")) y = node("Add", {y.name, weight(layer, prefix, "bias", who)}, out_shape, path + "/bias");
      }
      return activation(y, c.value("activation", std::string()), path);
    }
    if (type == "conv2d" || type == "conv1d") {
      const bool two = type == "conv2d";
      auto [kh, kw] = get2(c, "kernel", 3);
      auto [sh, sw] = get2(c, "stride", 1);
      auto [dh, dw] = get2(c, "dilation", 1);
      std::vector<int64_t> k = two ? std::vector<int64_t>{kh, kw} : std::vector<int64_t>{kh};
      std::vector<int64_t> s = two ? std::vector<int64_t>{sh, sw} : std::vector<int64_t>{sh};
      std::vector<int64_t> d = two ? std::vector<int64_t>{dh, dw} : std::vector<int64_t>{dh};
      std::vector<std::string> in{x.name, weight(layer, prefix, "weight", who)};
      if (has_param(layer, "bias")) in.push_back(weight(layer, prefix, "bias", who));
      pb::NodeProto* n = nullptr;
      Value y = node("Conv", in, out_shape, path + "/conv", &n);
      attr_ints(n, "kernel_shape", k);
      attr_ints(n, "strides", s);
      attr_ints(n, "dilations", d);
      attr_ints(n, "pads", conv_pads(c.value("padding", json(0)), k, d));
      attr_i(n, "group", get_i(c, "groups", 1));
      return activation(y, c.value("activation", std::string()), path);
    }
    if (type == "conv2d_transpose") {
      auto [kh, kw] = get2(c, "kernel", 3);
      auto [sh, sw] = get2(c, "stride", 1);
      auto [ph, pw] = get2(c, "padding", 0);
      auto [oh, ow] = get2(c, "output_padding", 0);
      std::vector<std::string> in{x.name, weight(layer, prefix, "weight", who)};
      if (has_param(layer, "bias")) in.push_back(weight(layer, prefix, "bias", who));
      pb::NodeProto* n = nullptr;
      Value y = node("ConvTranspose", in, out_shape, path + "/conv_transpose", &n);
      attr_ints(n, "kernel_shape", {kh, kw});
      attr_ints(n, "strides", {sh, sw});
      attr_ints(n, "pads", {ph, pw, ph, pw});
      if (oh || ow) attr_ints(n, "output_padding", {oh, ow});
      attr_i(n, "group", get_i(c, "groups", 1));
      return activation(y, c.value("activation", std::string()), path);
    }
    if (type == "max_pool2d" || type == "avg_pool2d" || type == "max_pool1d" || type == "avg_pool1d") {
      const bool two = type.back() == 'd' && type[type.size() - 2] == '2';
      auto [kh, kw] = get2(c, "kernel", 2);
      auto [sh, sw] = get2(c, "stride", 0);
      auto [ph, pw] = get2(c, "padding", 0);
      if (sh == 0) sh = kh;
      if (sw == 0) sw = kw;
      pb::NodeProto* n = nullptr;
      const bool is_max = type.rfind("max", 0) == 0;
      Value y = node(is_max ? "MaxPool" : "AveragePool", {x.name}, out_shape, path + (is_max ? "/max_pool" : "/avg_pool"), &n);
      attr_ints(n, "kernel_shape", two ? std::vector<int64_t>{kh, kw} : std::vector<int64_t>{kh});
      attr_ints(n, "strides", two ? std::vector<int64_t>{sh, sw} : std::vector<int64_t>{sh});
      attr_ints(n, "pads", two ? std::vector<int64_t>{ph, pw, ph, pw} : std::vector<int64_t>{ph, ph});
      if (c.value("ceil_mode", false)) attr_i(n, "ceil_mode", 1);
      if (!is_max) attr_i(n, "count_include_pad", 1);  // kun's average pools count the padding
      return y;
    }
    if (type.rfind("global_", 0) == 0) {  // global_{avg,max}_pool{1,2}d: (N, C, ...) -> (N, C)
      const bool is_max = type.find("max") != std::string::npos;
      Shape keep = x.shape;
      for (int d = 2; d < static_cast<int>(keep.size()); ++d) keep[d] = 1;
      Value p = node(is_max ? "GlobalMaxPool" : "GlobalAveragePool", {x.name}, keep, path + "/pool");
      pb::NodeProto* n = nullptr;
      Value y = node("Flatten", {p.name}, out_shape, path + "/flatten", &n);
      attr_i(n, "axis", 1);
      return y;
    }
    if (type == "flatten") {
      pb::NodeProto* n = nullptr;
      Value y = node("Flatten", {x.name}, out_shape, path + "/flatten", &n);
      attr_i(n, "axis", 1);
      return y;
    }
    if (type == "reshape") {
      std::vector<int64_t> s{0};  // 0: copy the batch dim
      for (const auto& v : c.at("shape")) s.push_back(v.get<int64_t>());
      return node("Reshape", {x.name, const_i64(prefix + "shape", s)}, out_shape, path + "/reshape");
    }
    if (type == "dropout") return {x.name, out_shape, x.dtype};  // inference: the identity, no node
    if (type == "activation") return activation(x, c.value("name", std::string()), path);
    if (type == "leaky_relu" || type == "elu") {
      pb::NodeProto* n = nullptr;
      Value y = node(type == "elu" ? "Elu" : "LeakyRelu", {x.name}, out_shape, path + "/" + type, &n);
      attr_f(n, "alpha", type == "elu" ? c.value("alpha", 1.0) : c.value("negative_slope", 0.01));
      return y;
    }
    if (type == "batch_norm") {
      const int64_t C = x.shape[1];
      std::string scale = has_param(layer, "weight") ? weight(layer, prefix, "weight", who) : const_f32(prefix + "weight", ones({C}));
      std::string bias = has_param(layer, "bias") ? weight(layer, prefix, "bias", who) : const_f32(prefix + "bias", zeros({C}));
      pb::NodeProto* n = nullptr;
      Value y = node("BatchNormalization",
                     {x.name, scale, bias, weight(layer, prefix, "running_mean", who), weight(layer, prefix, "running_var", who)},
                     out_shape, path + "/batch_norm", &n);
      attr_f(n, "epsilon", c.value("eps", 1e-5));
      attr_f(n, "momentum", 1.0 - c.value("momentum", 0.1));  // ONNX: running = running * momentum + batch * (1 - momentum)
      return y;
    }
    if (type == "layer_norm") {
      KUN_CHECK(opset_ >= 17, ValueError, "onnx export: ", who, " needs opset 17 (LayerNormalization), the export uses ", opset_);
      auto ns = c.value("normalized_shape", std::vector<int64_t>{});
      Shape nshape(ns);
      std::string scale = has_param(layer, "weight") ? weight(layer, prefix, "weight", who) : const_f32(prefix + "weight", ones(nshape));
      std::vector<std::string> in{x.name, scale};
      if (has_param(layer, "bias")) in.push_back(weight(layer, prefix, "bias", who));
      pb::NodeProto* n = nullptr;
      Value y = node("LayerNormalization", in, out_shape, path + "/layer_norm", &n);
      attr_i(n, "axis", -static_cast<int64_t>(ns.size()));
      attr_f(n, "epsilon", c.value("eps", 1e-5));
      return y;
    }
    if (type == "embedding") {
      KUN_CHECK(!is_floating(x.dtype), TypeError, "onnx export: ", who, " needs integer ids; declare the input as int64 (input_dtypes)");
      return node("Gather", {weight(layer, prefix, "weight", who), x.name}, out_shape, path + "/gather");
    }
    if (type == "add") {
      Value s = x;
      for (size_t k = 1; k < ins.size(); ++k)
        s = node("Add", {s.name, ins[k].name}, k + 1 == ins.size() ? out_shape : s.shape, path + "/add");
      return s;
    }
    if (type == "concatenate") {
      std::vector<std::string> in;
      for (const auto& v : ins) in.push_back(v.name);
      pb::NodeProto* n = nullptr;
      Value y = node("Concat", in, out_shape, path + "/concat", &n);
      attr_i(n, "axis", get_i(c, "axis", 1));
      return y;
    }
    if (type == "lstm" || type == "gru" || type == "simple_rnn")
      return emit_recurrent(layer, type, who, path, prefix, x, c, out_shape);
    throw UnsupportedError("onnx export: " + who + " cannot be exported to ONNX (exportable layer types: " +
                               join(exportable_layer_types()) + ")",
                           type);
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }

  // kun's recurrent layers use PyTorch's layouts: gates (i, f, g, o) for LSTM and (r, z, n) for GRU;
  // ONNX wants (i, o, f, c) and (z, r, h), weights stacked per direction, biases as [Wb; Rb].
  Tensor reorder_gates(const Tensor& w, const std::string& type, int64_t H) {
    if (type == "simple_rnn") return w;
    std::vector<int> order = type == "lstm" ? std::vector<int>{0, 3, 1, 2} : std::vector<int>{1, 0, 2};
    std::vector<Tensor> parts;
    for (int g : order) parts.push_back(w.narrow(0, g * H, H));
    return concat(parts, 0);
  }

  Value emit_recurrent(nn::Module& layer, const std::string& type, const std::string& who, const std::string& path,
                       const std::string& prefix, const Value& x, const json& c, const Shape& out_shape) {
    const int64_t H = c.at("hidden_size").get<int64_t>(), L = get_i(c, "num_layers", 1);
    const bool bidir = c.value("bidirectional", false), batch_first = c.value("batch_first", true);
    const bool seqs = c.value("return_sequences", false), bias = c.value("bias", true);
    const int64_t D = bidir ? 2 : 1;
    KUN_CHECK(x.shape.size() == 3, ShapeError, "onnx export: ", who, ": input must be 3-D, got ", x.shape);
    const int64_t N = batch_first ? x.shape[0] : x.shape[1], T = batch_first ? x.shape[1] : x.shape[0];
    const std::string op = type == "lstm" ? "LSTM" : (type == "gru" ? "GRU" : "RNN");
    // ONNX recurrent ops take (T, N, I) (layout 0).
    Value seq = x;
    if (batch_first) {
      pb::NodeProto* n = nullptr;
      seq = node("Transpose", {x.name}, {T, N, x.shape[2]}, path + "/to_time_major", &n);
      attr_ints(n, "perm", {1, 0, 2});
    }
    Value y_h;
    for (int64_t l = 0; l < L; ++l) {
      std::vector<Tensor> ws, rs, bs;
      for (int64_t d = 0; d < D; ++d) {
        const std::string sfx = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
        ws.push_back(reorder_gates(param(layer, "weight_ih" + sfx, who), type, H));
        rs.push_back(reorder_gates(param(layer, "weight_hh" + sfx, who), type, H));
        if (bias)
          bs.push_back(concat({reorder_gates(param(layer, "bias_ih" + sfx, who), type, H),
                               reorder_gates(param(layer, "bias_hh" + sfx, who), type, H)}, 0));
      }
      const std::string lp = prefix + "onnx_l" + std::to_string(l);
      std::string W = const_f32(lp + ".W", stack(ws, 0)), R = const_f32(lp + ".R", stack(rs, 0));
      std::vector<std::string> in{seq.name, W, R};
      if (bias) in.push_back(const_f32(lp + ".B", stack(bs, 0)));
      const std::string base = path + "/" + type + "_l" + std::to_string(l);
      std::string y = fresh(base + "/Y"), yh = fresh(base + "/Y_h");
      std::vector<std::string> outs{y, yh};
      if (op == "LSTM") outs.push_back(fresh(base + "/Y_c"));
      pb::NodeProto* n = raw_node(op, in, outs, base);
      attr_i(n, "hidden_size", H);
      if (bidir) attr_s(n, "direction", "bidirectional");
      if (op == "GRU") attr_i(n, "linear_before_reset", 1);  // PyTorch's GRU applies r after W_hn h + b_hn
      if (op == "RNN") {
        std::string act = c.value("nonlinearity", std::string("tanh")) == "relu" ? "Relu" : "Tanh";
        attr_strings(n, "activations", std::vector<std::string>(D, act));
      }
      // Y: (T, D, N, H) -> (T, N, D, H) -> (T, N, D*H): the next layer's input.
      pb::NodeProto* tn = nullptr;
      Value yt = node("Transpose", {y}, {T, N, D, H}, base + "/Y_tnd", &tn);
      attr_ints(tn, "perm", {0, 2, 1, 3});
      seq = node("Reshape", {yt.name, const_i64(base + "/shape_tnh", {0, 0, -1})}, {T, N, D * H}, base + "/Y_seq");
      y_h = {yh, {D, N, H}, DType::f32};
    }
    if (seqs) {
      if (!batch_first) return seq;
      pb::NodeProto* n = nullptr;
      Value r = node("Transpose", {seq.name}, out_shape, path + "/to_batch_major", &n);
      attr_ints(n, "perm", {1, 0, 2});
      return r;
    }
    // Last state of the top layer, directions concatenated: Y_h (D, N, H) -> (N, D, H) -> (N, D*H).
    pb::NodeProto* n = nullptr;
    Value t = node("Transpose", {y_h.name}, {N, D, H}, path + "/h_n", &n);
    attr_ints(n, "perm", {1, 0, 2});
    return node("Reshape", {t.name, const_i64(path + "/shape_nh", {0, -1})}, out_shape, path + "/last_state");
  }

  std::vector<Value> emit_graph(nn::Graph& g, const std::string& prefix, const std::vector<Value>& ins) {
    const auto& nodes = g.nodes();
    KUN_CHECK(ins.size() == g.inputs().size(), ValueError, "onnx export: the graph takes ", g.inputs().size(),
              " inputs, got ", ins.size());
    std::vector<Value> values(nodes.size());
    for (size_t k = 0; k < g.inputs().size(); ++k) values[g.inputs()[k]] = ins[k];
    for (size_t i = 0; i < nodes.size(); ++i) {
      const auto& n = nodes[i];
      if (!n.layer) continue;
      std::vector<Value> xs;
      for (int j : n.inputs) xs.push_back(values[j]);
      // The node's parameters are registered under the child name that holds this layer.
      std::string child = n.name;
      for (const auto& [name, m] : g.named_children())
        if (m == n.layer) child = name;
      values[i] = emit(*n.layer, prefix + child, xs)[0];
    }
    std::vector<Value> out;
    for (int o : g.outputs()) out.push_back(values[o]);
    return out;
  }
};

// dims after the batch: fixed, or named "d<k>" where `declared` has -1, or unknown when `unknown`.
void set_value_info(pb::ValueInfoProto* vi, const std::string& name, DType dt, const Shape& shape,
                    const std::vector<int64_t>& declared, bool unknown = false) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_elem_type(dt));
  auto* sh = tt->mutable_shape();
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    auto* dim = sh->add_dim();
    if (d == 0) dim->set_dim_param("batch");
    else if (unknown) continue;
    else if (d - 1 < static_cast<int>(declared.size()) && declared[d - 1] < 0) dim->set_dim_param(std::string(1, 'd').append(std::to_string(d)));
    else dim->set_dim_value(shape[d]);
  }
}

}  // namespace

std::vector<std::string> exportable_layer_types() {
  return {"activation", "add", "avg_pool1d", "avg_pool2d", "batch_norm", "concatenate", "conv1d", "conv2d",
          "conv2d_transpose", "dense", "dropout", "elu", "embedding", "flatten", "global_avg_pool1d",
          "global_avg_pool2d", "global_max_pool1d", "global_max_pool2d", "graph", "gru", "layer_norm", "leaky_relu",
          "lstm", "max_pool1d", "max_pool2d", "onnx_graph", "reshape", "residual", "sequential", "simple_rnn"};
}

void check_model_bytes(const std::string& bytes, const std::string& source) {
  pb::ModelProto mp;
  KUN_CHECK(mp.ParseFromString(bytes), IOError, "onnx: '", source, "' is not a valid ONNX model");
  try {
    pb::checker::check_model(mp);
  } catch (const std::exception& e) {
    throw ValueError("onnx: '" + source + "' fails the ONNX checker: " + e.what());
  }
  // Strict shape and type inference too: every node's inferred output must agree with the declared
  // graph outputs (what other runtimes check when they load the file).
  try {
    pb::shape_inference::InferShapes(mp, pb::OpSchemaRegistry::Instance(), pb::ShapeInferenceOptions(true, 1, true));
  } catch (const std::exception& e) {
    throw ValueError("onnx: '" + source + "' fails ONNX shape inference: " + e.what());
  }
}

std::string export_bytes(nn::Module& model, const ExportOptions& opt) {
  if (auto* gm = dynamic_cast<GraphModule*>(&model)) {  // an imported graph: itself, with its current weights
    std::string bytes = gm->onnx_bytes();
    if (opt.run_checker) check_model_bytes(bytes, "exported onnx_graph");
    return bytes;
  }
  KUN_CHECK(opt.opset >= 14 && opt.opset <= 17, ValueError, "onnx export: opset must be 14..17, got ", opt.opset);
  auto* graph = dynamic_cast<nn::Graph*>(&model);
  // Inputs: names, shapes (without batch), dtypes.
  std::vector<std::vector<int64_t>> shapes = opt.input_shapes;
  std::vector<std::string> names = opt.input_names;
  if (graph) {
    const size_t n = graph->inputs().size();
    if (shapes.empty())
      for (int id : graph->inputs()) shapes.push_back(graph->nodes()[id].input_shape.vec());
    if (names.empty())
      for (int id : graph->inputs()) names.push_back(graph->nodes()[id].name);
    KUN_CHECK(shapes.size() == n, ValueError, "onnx export: the graph has ", n, " inputs, input_shapes gives ", shapes.size());
  }
  KUN_CHECK(!shapes.empty(), ValueError, "onnx export: a ", model.type_name(),
            " model needs its input shape (without the batch dim), e.g. input_shapes = {{1, 28, 28}} "
            "(kun onnx export --input-shape 1,28,28)");
  if (names.empty()) {
    for (size_t k = 0; k < shapes.size(); ++k) names.push_back(shapes.size() == 1 ? "input" : "input_" + std::to_string(k));
  }
  KUN_CHECK(names.size() == shapes.size(), ValueError, "onnx export: ", shapes.size(), " inputs but ", names.size(), " input names");
  std::vector<DType> dtypes = opt.input_dtypes;
  if (dtypes.empty()) {
    // An input read by an Embedding (directly or as a Sequential's first layer) carries integer ids.
    auto starts_with_embedding = [](nn::Module* m) {
      while (m->type_name() == "sequential" && !m->named_children().empty()) m = m->named_children()[0].second.get();
      return m->type_name() == "embedding";
    };
    dtypes.assign(shapes.size(), DType::f32);
    if (graph) {
      for (size_t k = 0; k < shapes.size(); ++k)
        for (const auto& n : graph->nodes())
          if (n.layer && n.inputs.size() == 1 && n.inputs[0] == graph->inputs()[k] && starts_with_embedding(n.layer.get()))
            dtypes[k] = DType::i64;
    } else if (starts_with_embedding(&model)) {
      dtypes[0] = DType::i64;
    }
  }
  KUN_CHECK(dtypes.size() == shapes.size(), ValueError, "onnx export: ", shapes.size(), " inputs but ", dtypes.size(), " input dtypes");

  pb::ModelProto mp;
  mp.set_ir_version(8);
  mp.set_producer_name("kun");
  mp.set_producer_version("1");
  auto* os = mp.add_opset_import();
  os->set_domain("");
  os->set_version(opt.opset);
  pb::GraphProto& g = *mp.mutable_graph();
  g.set_name(opt.graph_name);

  bool any_dynamic = false;  // a dynamic non-batch input dim: output dims past the batch are left unknown
  for (const auto& s : shapes)
    for (int64_t d : s) any_dynamic = any_dynamic || d < 0;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<Value> outs;
  try {
    Exporter ex(g, opt.opset);
    std::vector<Value> ins;
    for (size_t k = 0; k < shapes.size(); ++k) {
      Shape s{1};  // traced with batch 1 (the file's batch dim is symbolic)
      for (int64_t d : shapes[k]) s.push_back(d < 0 ? 2 : d);
      ins.push_back({names[k], s, dtypes[k]});
      set_value_info(g.add_input(), names[k], dtypes[k], s, shapes[k]);
    }
    outs = ex.emit(model, "", ins);
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  // Graph outputs get stable names: the producing node's output is renamed (an Identity only when the
  // value is a graph input or initializer, or already an output).
  std::set<std::string> fixed, renamed;
  for (const auto& i : g.input()) fixed.insert(i.name());
  for (const auto& i : g.initializer()) fixed.insert(i.name());
  for (size_t k = 0; k < outs.size(); ++k) {
    std::string name = k < opt.output_names.size() ? opt.output_names[k]
                                                    : (outs.size() == 1 ? "output" : "output_" + std::to_string(k));
    const std::string old = outs[k].name;
    if (fixed.count(old) || renamed.count(old)) {
      pb::NodeProto* n = g.add_node();
      n->set_op_type("Identity");
      n->set_name("node:" + name);
      n->add_input(old);
      n->add_output(name);
    } else {
      for (auto& n : *g.mutable_node()) {
        for (auto& v : *n.mutable_input())
          if (v == old) v = name;
        for (auto& v : *n.mutable_output())
          if (v == old) v = name;
      }
      for (size_t j = k + 1; j < outs.size(); ++j)
        if (outs[j].name == old) outs[j].name = name;
      renamed.insert(name);
    }
    set_value_info(g.add_output(), name, outs[k].dtype, outs[k].shape, {}, any_dynamic);
  }
  std::string bytes;
  KUN_CHECK(mp.SerializeToString(&bytes), ValueError, "onnx export: cannot serialize the model (larger than 2 GB?)");
  if (opt.run_checker) check_model_bytes(bytes, "exported " + model.type_name());
  return bytes;
}

void export_model(nn::Module& model, const std::string& path, const ExportOptions& opt) {
  std::string bytes = export_bytes(model, opt);
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    KUN_CHECK(f.good(), IOError, "onnx export: cannot write '", tmp, "'");
  }
  KUN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, IOError, "onnx export: cannot rename '", tmp, "' to '", path, "'");
}

}  // namespace kun::onnx
