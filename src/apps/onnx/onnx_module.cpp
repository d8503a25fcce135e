// GraphModule: an imported ONNX graph as an nn::Module (inference through the importer's tensor ops,
// training through autograd Variables), its "onnx_graph" registration, and `kun onnx import -o x.kun`.
#include "kun/apps/onnx/module.h"

#include <filesystem>
#include <set>

#include "kun/autograd/ops.h"
#include "kun/train/config.h"
#include "kun/train/model.h"
#include "onnx_internal.h"

namespace kun::onnx {

using detail::ModelAccess;

namespace detail {
// onnx_grad.cpp: the graph on Variables.
std::vector<Variable> run_graph_variables(const Model::Impl& m, const std::vector<Variable>& inputs,
                                          const std::map<std::string, Variable>& weights);
// Operators with a Variable (differentiable) implementation; `frozen_input(op, k)` is true for inputs
// that never get a gradient (BatchNormalization's running statistics).
bool has_gradient(const std::string& op_type);
bool frozen_input(const std::string& op_type, size_t k);
}  // namespace detail

namespace {

// ---------------------------------------------------------------- base64 (the graph in the JSON config)

const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64_encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string b64_decode(const std::string& in) {
  int map[256];
  std::fill(std::begin(map), std::end(map), -1);
  for (int k = 0; k < 64; ++k) map[uint8_t(kB64[k])] = k;
  KUN_CHECK(in.size() % 4 == 0, IOError, "onnx_graph: the embedded graph is not valid base64 (length ", in.size(), ")");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char ch = in[i + k];
      if (ch == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      v[k] = map[uint8_t(ch)];
      KUN_CHECK(v[k] >= 0 && pad == 0, IOError, "onnx_graph: the embedded graph is not valid base64");
    }
    uint32_t x = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += char((x >> 16) & 255);
    if (pad < 2) out += char((x >> 8) & 255);
    if (pad < 1) out += char(x & 255);
  }
  return out;
}

// A plain container for nesting dotted parameter names.
class Scope : public nn::Module {
 public:
  std::string type_name() const override { return "onnx_scope"; }
};

// Splits "a.b.c" into {"a", "b", "c"}; empty when some segment is empty.
std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> parts;
  size_t b = 0;
  while (true) {
    size_t e = s.find('.', b);
    parts.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (parts.back().empty()) return {};
    if (e == std::string::npos) return parts;
    b = e + 1;
  }
}

std::string mangle(std::string s) {
  for (char& ch : s)
    if (ch == '.') ch = '_';
  return s.empty() ? std::string("_") : s;
}

}  // namespace

// ---------------------------------------------------------------- GraphModule

GraphModule::GraphModule(Model model) : model_(std::move(model)) {
  // Copies: training this module must not change the weights seen through other handles of `model`.
  std::map<std::string, Tensor> init;
  for (const auto& [name, t] : model_.weights()) init[name] = t.clone();
  register_initializers(init);
  eval();  // imported graphs are inference graphs; train::Model::fit switches the mode itself
}

GraphModule::GraphModule(const nn::json& c, nn::FromConfig) {
  KUN_CHECK(c.contains("graph") && c["graph"].is_string() && c.contains("initializers"), IOError,
            "onnx_graph: the config lacks 'graph' / 'initializers' (not a kun onnx_graph model?)");
  const std::string bytes = b64_decode(c["graph"].get<std::string>());
  // Placeholder weights of the recorded names, shapes and dtypes; the model file's state dict fills them.
  std::map<std::string, Tensor> init;
  for (const auto& j : c["initializers"]) {
    DType dt = dtype_from_name(j.at("dtype").get<std::string>());
    init[j.at("name").get<std::string>()] = zeros(Shape(j.at("shape").get<std::vector<int64_t>>()), dt);
  }
  model_ = ModelAccess::with_weights(bytes, init, c.value("source", std::string("onnx_graph")));
  register_initializers(init);
  eval();
}

void GraphModule::register_initializers(const std::map<std::string, Tensor>& init) {
  const Model::Impl& impl = ModelAccess::impl(model_);
  // An initializer trains when it is floating point and every node reading it has a gradient there.
  std::map<std::string, bool> trainable;
  for (const auto& [name, t] : init) trainable[name] = is_floating(t.dtype());
  for (const auto& n : impl.nodes)
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      auto it = trainable.find(n.inputs[k]);
      if (it != trainable.end() && (!detail::has_gradient(n.op_type) || detail::frozen_input(n.op_type, k)))
        it->second = false;
    }
  std::set<std::string> used;
  for (const auto& [name, t] : init) {
    // Nest "a.b.c" as child a -> child b -> entry c when every level is free; else one mangled name.
    std::vector<std::string> parts = split_dots(name);
    nn::Module* owner = this;
    std::string leaf = mangle(name), path = leaf;
    if (parts.size() > 1) {
      nn::Module* m = this;
      bool ok = true;
      for (size_t k = 0; ok && k + 1 < parts.size(); ++k) {
        nn::ModulePtr ch;
        for (const auto& [cn, cm] : m->named_children())
          if (cn == parts[k]) ch = cm;
        if (!ch) {
          bool taken = false;
          for (const auto& [pn, pv] : m->named_parameters(false)) taken = taken || pn == parts[k];
          for (const auto& [bn, bv] : m->named_buffers(false)) taken = taken || bn == parts[k];
          if (taken) ok = false;
          else ch = m->register_module(parts[k], std::make_shared<Scope>());
        } else if (ch->type_name() != "onnx_scope") {
          ok = false;
        }
        if (ok) m = ch.get();
      }
      bool leaf_free = ok;
      if (ok) {
        for (const auto& [cn, cm] : m->named_children()) leaf_free = leaf_free && cn != parts.back();
        for (const auto& [pn, pv] : m->named_parameters(false)) leaf_free = leaf_free && pn != parts.back();
        for (const auto& [bn, bv] : m->named_buffers(false)) leaf_free = leaf_free && bn != parts.back();
      }
      if (leaf_free) {
        owner = m;
        leaf = parts.back();
        path = name;
      }
    }
    if (owner == this) {
      auto is_child = [this](const std::string& n) {
        for (const auto& [cn, cm] : named_children())
          if (cn == n) return true;
        return false;
      };
      while (used.count(leaf) || is_child(leaf)) leaf += "_";
      path = leaf;
    }
    used.insert(path);
    Slot s;
    s.path = path;
    s.trainable = trainable[name];
    if (s.trainable) s.param = owner->register_parameter(leaf, t.contiguous(), true);
    else s.buffer = owner->register_buffer(leaf, t.contiguous());
    paths_[name] = path;
    slots_[name] = s;
  }
}

std::map<std::string, Tensor> GraphModule::current_weights() const {
  std::map<std::string, Tensor> w;
  for (const auto& [name, s] : slots_) w[name] = s.trainable ? s.param.data() : s.buffer;
  return w;
}

std::vector<Variable> GraphModule::forward_outputs(const std::vector<Variable>& xs) {
  const Model::Impl& impl = ModelAccess::impl(model_);
  KUN_CHECK(xs.size() == impl.inputs.size(), ValueError, "onnx_graph: the graph takes ", impl.inputs.size(),
            " inputs (", impl.inputs.empty() ? std::string() : impl.inputs[0].name, "...), got ", xs.size());
  bool need_grad = false;
  if (grad_enabled()) {
    for (const auto& [name, s] : slots_) need_grad = need_grad || (s.trainable && s.param.requires_grad());
    for (const auto& x : xs) need_grad = need_grad || x.requires_grad();
  }
  if (!need_grad) {  // inference: the importer's tensor path on the current weights
    std::map<std::string, Tensor> feeds;
    for (size_t k = 0; k < xs.size(); ++k) feeds[impl.inputs[k].name] = xs[k].data();
    auto out = detail::run_graph(impl, feeds, current_weights());
    std::vector<Variable> r;
    for (const auto& o : impl.outputs) r.emplace_back(out.at(o.name));
    return r;
  }
  std::map<std::string, Variable> w;
  for (const auto& [name, s] : slots_) w[name] = s.trainable ? s.param : Variable(s.buffer);
  return detail::run_graph_variables(impl, xs, w);
}

std::string GraphModule::onnx_bytes() const {
  return detail::graph_bytes_with_weights(ModelAccess::impl(model_).graph_bytes, current_weights());
}

Variable GraphModule::forward_many(const std::vector<Variable>& xs) { return forward_outputs(xs).at(0); }

nn::json GraphModule::config() const {
  const Model::Impl& impl = ModelAccess::impl(model_);
  nn::json inits = nn::json::array();
  for (const auto& [name, s] : slots_) {
    const Tensor& t = s.trainable ? s.param.data() : s.buffer;
    inits.push_back({{"name", name}, {"dtype", std::string(dtype_name(t.dtype()))}, {"shape", t.shape().vec()}});
  }
  return {{"format", "onnx ModelProto without initializers, base64"},
          {"opset", impl.opset},
          {"graph", b64_encode(impl.graph_bytes)},
          {"initializers", inits}};
}

void register_graph_module() {
  nn::Module::register_type("onnx_graph",
                            [](const nlohmann::json& c) { return std::make_shared<GraphModule>(c, nn::FromConfig{}); });
}
// Runs whenever this file is linked (import_to_kun / GraphModule users link it).
[[maybe_unused]] static const bool kGraphModuleRegistered = [] {
  register_graph_module();
  return true;
}();

void import_to_kun(const std::string& onnx_path, const std::string& kun_path, const KunImportOptions& opt) {
  Model m = Model::load(onnx_path);
  auto net = std::make_shared<GraphModule>(m);
  train::Model tm{nn::ModulePtr(net)};
  tm.save(kun_path, false);
  // The sidecar kun predict reads: input shape without the batch dim, output activation.
  train::ModelMeta meta;
  if (!m.inputs().empty()) {
    const auto& in = m.inputs()[0];
    for (size_t d = 1; d < in.dims.size(); ++d) meta.input_shape.push_back(in.dims[d]);
    meta.channels = meta.input_shape.size() == 3 && meta.input_shape[0] > 0 ? int(meta.input_shape[0]) : 1;
  }
  meta.classes = opt.classes;
  std::string act = opt.output_activation;
  if (act == "auto") {
    std::string last;
    for (auto it = m.nodes().rbegin(); it != m.nodes().rend() && (last.empty() || last == "Identity"); ++it) last = it->op_type;
    act = last == "Softmax" ? "none" : "softmax";  // logits and log-probabilities both softmax to probabilities
  }
  meta.output_activation = act;
  train::save_meta(kun_path, meta);
}

}  // namespace kun::onnx
