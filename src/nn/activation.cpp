#include "kun/nn/activation.h"

#include "kun/autograd/ops.h"

namespace kun::nn {

namespace {
const char* kNames = "linear, relu, sigmoid, tanh, gelu, gelu_tanh, silu, swish, softplus, elu, leaky_relu, softmax, log_softmax";
}

void check_activation_name(const std::string& n, const char* who) {
  static const char* known[] = {"",     "linear", "relu",     "sigmoid", "tanh",       "gelu",    "gelu_tanh",
                                "silu", "swish",  "softplus", "elu",     "leaky_relu", "softmax", "log_softmax"};
  for (const char* k : known)
    if (n == k) return;
  detail::throw_error<ValueError>(who, ": unknown activation '", n, "'; expected one of ", kNames);
}

Variable activate(const Variable& x, const std::string& n) {
  if (n.empty() || n == "linear") return x;
  if (n == "relu") return relu(x);
  if (n == "sigmoid") return sigmoid(x);
  if (n == "tanh") return tanh(x);
  if (n == "gelu") return gelu(x, GeluApprox::none);
  if (n == "gelu_tanh") return gelu(x, GeluApprox::tanh);
  if (n == "silu" || n == "swish") return silu(x);
  if (n == "softplus") return softplus(x);
  if (n == "elu") return elu(x);
  if (n == "leaky_relu") return leaky_relu(x);
  if (n == "softmax") return softmax(x, -1);
  if (n == "log_softmax") return log_softmax(x, -1);
  check_activation_name(n, "activation");
  return x;
}

Activation::Activation(std::string name) : name_(std::move(name)) { check_activation_name(name_, "Activation"); }
Activation::Activation(const json& c, FromConfig) : Activation(c.value("name", std::string("linear"))) {}

Variable LeakyReLU::forward(const Variable& x) { return leaky_relu(x, slope_); }
Variable ELU::forward(const Variable& x) { return elu(x, alpha_); }

}  // namespace kun::nn
