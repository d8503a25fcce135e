// nn::Module: the base of every layer and model. A module owns parameters (trainable Variables),
// buffers (non-trained state such as running statistics) and child modules, each registered by
// NAME, so state dicts, checkpoints and error messages speak in names like "block1.conv.weight".
//
// Modules are held by std::shared_ptr. Architectures are choosable at run time: each module type
// reports type_name() and config() (its constructor options as JSON), and a registry maps type
// names to factories, so Module::from_config(json) rebuilds a saved architecture.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "kun/autograd/variable.h"
#include "kun/tensor/tensor_dict.h"

namespace kun::nn {

using json = nlohmann::json;

// Tag for the constructors that rebuild a layer from its config() JSON: Dense(json, FromConfig{}).
struct FromConfig {};

class Module;
using ModulePtr = std::shared_ptr<Module>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;  // parameters are shared handles; copying a module would alias them
  Module& operator=(const Module&) = delete;
  // Moving is fine (the handles move with it): it lets `Sequential{Dense(...), ReLU()}` take layers by value.
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // ---- what subclasses provide ----
  // Single-input forward. Modules with other signatures add their own methods; the default throws.
  virtual Variable forward(const Variable& x);
  Variable operator()(const Variable& x) { return forward(x); }
  // Registry name of the type ("dense", "conv2d", ...). Must match the name used with register_type.
  virtual std::string type_name() const { return "module"; }
  // Constructor options as JSON (not weights). Containers include their children's to_config().
  virtual json config() const { return json::object(); }

  // ---- registration (called from subclass constructors) ----
  // Registers a trainable parameter; `v` is marked requires_grad. Returns the same handle.
  Variable register_parameter(const std::string& name, Variable v);
  Variable register_parameter(const std::string& name, const Tensor& t, bool requires_grad = true);
  // Registers a buffer: saved in the state dict, never trained.
  Tensor register_buffer(const std::string& name, const Tensor& t);
  ModulePtr register_module(const std::string& name, ModulePtr child);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    register_module(name, ModulePtr(child));
    return child;
  }

  // ---- lookup (own entries only; names without dots) ----
  Variable& parameter(const std::string& name);
  Tensor& buffer(const std::string& name);
  ModulePtr child(const std::string& name) const;

  // ---- hierarchy (dotted names, depth-first in registration order) ----
  std::vector<std::pair<std::string, Variable>> named_parameters(bool recurse = true) const;
  std::vector<Variable> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, ModulePtr>>& named_children() const { return children_; }
  // This module ("") and every descendant with its dotted path.
  std::vector<std::pair<std::string, Module*>> named_modules();

  // ---- modes ----
  // Sets training mode here and in every descendant (dropout, batch norm, ... read is_training()).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Number of parameter elements (all, or only those with requires_grad).
  int64_t parameter_count(bool trainable_only = false) const;
  void zero_grad();

  // ---- state ----
  // Parameters then buffers of each module, depth first. The tensors SHARE storage with the live
  // module (no copy): save them or clone() them before training further.
  TensorDict state_dict() const;
  // Copies values in (converting dtype if needed). Everything is validated before anything is
  // copied: a shape mismatch is always an error; with strict, missing and unexpected keys are too.
  void load_state_dict(const TensorDict& state, bool strict = true);

  // ---- architecture as JSON ----
  // {"type": type_name(), "config": config()}
  json to_config() const;
  using Factory = std::function<ModulePtr(const json& config)>;
  // Registers a type for from_config. Re-registering a name replaces the factory.
  static void register_type(const std::string& type, Factory factory);
  static bool has_type(const std::string& type);
  static std::vector<std::string> registered_types();
  // Builds a module from {"type": ..., "config": {...}}; throws ValueError for unknown types.
  static ModulePtr from_config(const json& j);

 protected:
  bool training_ = true;

 private:
  void check_new_name(const std::string& name, const char* what) const;
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out,
                          bool recurse) const;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out,
                       bool recurse) const;

  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
};

// Registers the builtin layer types (called once, lazily, by Module::from_config). Layers add one
// line each in src/nn/builtin_modules.cpp; a static library would drop self-registering objects.
void register_builtin_modules();

}  // namespace kun::nn

// For types defined in an application (linked directly, so a static registrar is kept):
//   KUN_REGISTER_MODULE("my_block", [](const nlohmann::json& c) { return std::make_shared<MyBlock>(c); });
#define KUN_REGISTER_MODULE_CAT2(a, b) a##b
#define KUN_REGISTER_MODULE_CAT(a, b) KUN_REGISTER_MODULE_CAT2(a, b)
#define KUN_REGISTER_MODULE(type_name_str, factory)                                            \
  static const bool KUN_REGISTER_MODULE_CAT(kun_module_registered_, __LINE__) = [] {           \
    ::kun::nn::Module::register_type(type_name_str, factory);                                  \
    return true;                                                                               \
  }()
