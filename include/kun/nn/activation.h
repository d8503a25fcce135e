// Activation functions by name, and activation layers.
#pragma once
#include <string>

#include "kun/nn/module.h"

namespace kun::nn {

// Applies the activation called `name`: "" or "linear" (identity), "relu", "sigmoid", "tanh",
// "gelu" (erf form), "gelu_tanh", "silu" (or "swish"), "softplus", "elu", "leaky_relu",
// "softmax" and "log_softmax" (over the last dim). Throws ValueError listing the names otherwise.
Variable activate(const Variable& x, const std::string& name);
void check_activation_name(const std::string& name, const char* who);

// A layer applying one activation: Activation("relu"), or the named shorthands below.
class Activation : public Module {
 public:
  explicit Activation(std::string name);
  Activation(const json& config, FromConfig);
  Variable forward(const Variable& x) override { return activate(x, name_); }
  std::string type_name() const override { return "activation"; }
  json config() const override { return {{"name", name_}}; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

struct ReLU : Activation {
  ReLU() : Activation("relu") {}
};
struct Sigmoid : Activation {
  Sigmoid() : Activation("sigmoid") {}
};
struct Tanh : Activation {
  Tanh() : Activation("tanh") {}
};
struct GELU : Activation {
  explicit GELU(bool tanh_approximation = false) : Activation(tanh_approximation ? "gelu_tanh" : "gelu") {}
};
struct SiLU : Activation {
  SiLU() : Activation("silu") {}
};
struct Softmax : Activation {
  Softmax() : Activation("softmax") {}
};
struct LogSoftmax : Activation {
  LogSoftmax() : Activation("log_softmax") {}
};

// LeakyReLU and ELU carry a parameter.
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : slope_(negative_slope) {}
  LeakyReLU(const json& c, FromConfig) : slope_(c.value("negative_slope", 0.01)) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "leaky_relu"; }
  json config() const override { return {{"negative_slope", slope_}}; }

 private:
  double slope_;
};

class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(alpha) {}
  ELU(const json& c, FromConfig) : alpha_(c.value("alpha", 1.0)) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "elu"; }
  json config() const override { return {{"alpha", alpha_}}; }

 private:
  double alpha_;
};

}  // namespace kun::nn
