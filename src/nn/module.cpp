#include "kun/nn/module.h"

#include <map>
#include <mutex>
#include <sstream>
#include <unordered_set>

namespace kun::nn {

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, Module::Factory> factories;
};
Registry& registry() {
  static Registry r;
  return r;
}

std::string join_names(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? ", " : "") << "'" << names[i] << "'";
  return os.str();
}

}  // namespace

Variable Module::forward(const Variable&) {
  detail::throw_error<ValueError>(type_name(), ": forward(const Variable&) is not defined for this module; ",
                                  "call its own forward method");
}

void Module::check_new_name(const std::string& name, const char* what) const {
  KUN_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError, type_name(), ": ", what, " name '",
            name, "' must be non-empty and contain no '.'");
  auto taken = [&](const auto& v) {
    for (const auto& [n, x] : v)
      if (n == name) return true;
    return false;
  };
  KUN_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), ValueError, type_name(), ": cannot register ",
            what, " '", name, "': the name is already used by a parameter, buffer or submodule");
}

Variable Module::register_parameter(const std::string& name, Variable v) {
  check_new_name(name, "parameter");
  KUN_CHECK(v.defined(), ValueError, type_name(), ": parameter '", name, "' is undefined");
  KUN_CHECK(v.is_leaf(), ValueError, type_name(), ": parameter '", name,
            "' must be a leaf variable (detach() it first)");
  if (!v.requires_grad()) v.set_requires_grad(true);
  params_.emplace_back(name, v);
  return v;
}

Variable Module::register_parameter(const std::string& name, const Tensor& t, bool requires_grad) {
  check_new_name(name, "parameter");
  KUN_CHECK(t.defined(), ValueError, type_name(), ": parameter '", name, "' is undefined");
  Variable v(t.contiguous(), requires_grad);  // optimizers update parameters in place: keep them dense
  params_.emplace_back(name, v);
  return v;
}

Tensor Module::register_buffer(const std::string& name, const Tensor& t) {
  check_new_name(name, "buffer");
  KUN_CHECK(t.defined(), ValueError, type_name(), ": buffer '", name, "' is undefined");
  buffers_.emplace_back(name, t);
  return t;
}

ModulePtr Module::register_module(const std::string& name, ModulePtr child) {
  check_new_name(name, "submodule");
  KUN_CHECK(child != nullptr, ValueError, type_name(), ": submodule '", name, "' is null");
  KUN_CHECK(child.get() != this, ValueError, type_name(), ": a module cannot contain itself");
  children_.emplace_back(name, child);
  return child;
}

Variable& Module::parameter(const std::string& name) {
  for (auto& [n, v] : params_)
    if (n == name) return v;
  detail::throw_error<IndexError>(type_name(), ": no parameter named '", name, "'");
}

Tensor& Module::buffer(const std::string& name) {
  for (auto& [n, t] : buffers_)
    if (n == name) return t;
  detail::throw_error<IndexError>(type_name(), ": no buffer named '", name, "'");
}

ModulePtr Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  detail::throw_error<IndexError>(type_name(), ": no submodule named '", name, "'");
}

void Module::collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out,
                                bool recurse) const {
  for (const auto& [n, v] : params_) out.emplace_back(prefix + n, v);
  if (!recurse) return;
  for (const auto& [n, m] : children_) m->collect_parameters(prefix + n + ".", out, true);
}

void Module::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out,
                             bool recurse) const {
  for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, m] : children_) m->collect_buffers(prefix + n + ".", out, true);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Variable>> out;
  collect_parameters("", out, recurse);
  return out;
}

std::vector<Variable> Module::parameters(bool recurse) const {
  std::vector<Variable> out;
  for (auto& [n, v] : named_parameters(recurse)) out.push_back(v);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_buffers("", out, recurse);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [n, m] : children_)
    for (auto& [sub, ptr] : m->named_modules()) out.emplace_back(sub.empty() ? n : n + "." + sub, ptr);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

int64_t Module::parameter_count(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [name, v] : named_parameters())
    if (!trainable_only || v.requires_grad()) n += v.numel();
  return n;
}

void Module::zero_grad() {
  for (auto& [n, v] : named_parameters()) v.zero_grad();
}

TensorDict Module::state_dict() const {
  // Per module: its parameters, then its buffers, then its children (depth first), so related
  // tensors sit together in files.
  TensorDict d;
  std::function<void(const std::string&, const Module&)> visit = [&](const std::string& prefix, const Module& m) {
    for (const auto& [n, v] : m.params_) d.insert(prefix + n, v.data());
    for (const auto& [n, t] : m.buffers_) d.insert(prefix + n, t);
    for (const auto& [n, c] : m.children_) visit(prefix + n + ".", *c);
  };
  visit("", *this);
  return d;
}

void Module::load_state_dict(const TensorDict& state, bool strict) {
  // Targets: every parameter's data tensor and every buffer, by dotted name.
  struct Target {
    std::string name;
    Tensor t;
    const char* kind;
  };
  std::vector<Target> targets;
  std::unordered_set<std::string> known;
  for (auto& [n, v] : named_parameters()) targets.push_back({n, v.data(), "parameter"});
  for (auto& [n, t] : named_buffers()) targets.push_back({n, t, "buffer"});
  for (const auto& tg : targets) known.insert(tg.name);

  std::vector<std::string> missing, unexpected;
  for (const auto& tg : targets) {
    const Tensor* src = state.find(tg.name);
    if (!src) {
      missing.push_back(tg.name);
      continue;
    }
    KUN_CHECK(src->defined() && src->shape() == tg.t.shape(), ShapeError, "load_state_dict: ", tg.kind, " '",
              tg.name, "' expects shape ", tg.t.shape(), ", file has ",
              src->defined() ? src->shape().str() : std::string("an undefined tensor"));
  }
  for (const auto& [n, t] : state)
    if (!known.count(n)) unexpected.push_back(n);
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::ostringstream os;
    os << "load_state_dict: state does not match " << type_name() << ":";
    if (!missing.empty()) os << " missing keys " << join_names(missing) << ";";
    if (!unexpected.empty()) os << " unexpected keys " << join_names(unexpected) << ";";
    os << " pass strict=false to load the matching subset";
    throw ValueError(os.str());
  }
  NoGradGuard no_grad;
  for (auto& tg : targets)
    if (const Tensor* src = state.find(tg.name)) tg.t.copy_(*src);
}

json Module::to_config() const { return json{{"type", type_name()}, {"config", config()}}; }

void Module::register_type(const std::string& type, Factory factory) {
  KUN_CHECK(!type.empty() && factory, ValueError, "Module::register_type: needs a name and a factory");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.factories[type] = std::move(factory);
}

bool Module::has_type(const std::string& type) {
  static std::once_flag builtins;
  std::call_once(builtins, register_builtin_modules);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.factories.count(type) != 0;
}

std::vector<std::string> Module::registered_types() {
  has_type("");  // makes sure the builtins are in
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [n, f] : r.factories) out.push_back(n);
  return out;
}

ModulePtr Module::from_config(const json& j) {
  KUN_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(), ValueError,
            "Module::from_config: expected {\"type\": <name>, \"config\": {...}}, got ", j.dump());
  const std::string type = j["type"].get<std::string>();
  if (!has_type(type)) {
    std::ostringstream os;
    os << "Module::from_config: unknown module type '" << type << "'; registered types: ";
    auto types = registered_types();
    os << (types.empty() ? std::string("(none)") : join_names(types));
    throw ValueError(os.str());
  }
  Factory f;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    f = r.factories.at(type);
  }
  json cfg = j.contains("config") ? j["config"] : json::object();
  ModulePtr m = f(cfg);
  KUN_CHECK(m != nullptr, ValueError, "Module::from_config: the factory for '", type, "' returned null");
  return m;
}

}  // namespace kun::nn
