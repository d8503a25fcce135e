// Forward and backward of the elementwise ops, side by side. Backward closures capture only the
// tensors their formula needs (the input's data is reachable through the node's inputs; the
// output is captured as a Tensor, never as the Variable, which would make a cycle).
#include "kun/autograd/elementwise.h"

#include "kun/tensor/ops.h"

namespace kun {

namespace {
// Accumulates g (in the broadcast shape) into v, summed back to v's shape.
void accumulate_reduced(const Variable& v, const Tensor& g) {
  if (v.requires_grad()) v.accumulate_grad(sum_to(g, v.shape()));
}
// An input's data in the gradient's dtype and expanded to its (broadcast) shape.
Tensor as_grad_operand(const Variable& v, const Tensor& g) {
  Tensor t = v.data().dtype() == g.dtype() ? v.data() : v.data().to(g.dtype());
  return t.shape() == g.shape() ? t : t.expand(g.shape());
}
}  // namespace

// ---------------------------------------------------------------- binary

Variable add(const Variable& a, const Variable& b) {
  return make_result(add(a.data(), b.data()), {a, b}, "add", [](const Tensor& g, Node& n) {
    for (auto& in : n.inputs) accumulate_reduced(in, g);
  });
}

Variable sub(const Variable& a, const Variable& b) {
  return make_result(sub(a.data(), b.data()), {a, b}, "sub", [](const Tensor& g, Node& n) {
    accumulate_reduced(n.inputs[0], g);
    if (n.inputs[1].requires_grad()) n.inputs[1].accumulate_grad(sum_to(neg(g), n.inputs[1].shape()));
  });
}

Variable mul(const Variable& a, const Variable& b) {
  return make_result(mul(a.data(), b.data()), {a, b}, "mul", [](const Tensor& g, Node& n) {
    const Variable &x = n.inputs[0], &y = n.inputs[1];
    if (x.requires_grad()) x.accumulate_grad(sum_to(mul(g, y.data()), x.shape()));
    if (y.requires_grad()) y.accumulate_grad(sum_to(mul(g, x.data()), y.shape()));
  });
}

Variable div(const Variable& a, const Variable& b) {
  return make_result(div(a.data(), b.data()), {a, b}, "div", [](const Tensor& g, Node& n) {
    const Variable &x = n.inputs[0], &y = n.inputs[1];
    Tensor gx = div(g, y.data());  // d(x/y)/dx = 1/y
    if (x.requires_grad()) x.accumulate_grad(sum_to(gx, x.shape()));
    // d(x/y)/dy = -x/y^2 = -(g/y) * x/y
    if (y.requires_grad()) y.accumulate_grad(sum_to(neg(mul(gx, div(x.data(), y.data()))), y.shape()));
  });
}

Variable add(const Variable& a, double s) {
  return make_result(add(a.data(), s), {a}, "add_scalar",
                     [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(g); });
}

Variable mul(const Variable& a, double s) {
  return make_result(mul(a.data(), s), {a}, "mul_scalar",
                     [s](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(mul(g, s)); });
}

Variable maximum(const Variable& a, const Variable& b) {
  return make_result(maximum(a.data(), b.data()), {a, b}, "maximum", [](const Tensor& g, Node& n) {
    auto [ga, gb] = maximum_backward(g, as_grad_operand(n.inputs[0], g), as_grad_operand(n.inputs[1], g));
    accumulate_reduced(n.inputs[0], ga);
    accumulate_reduced(n.inputs[1], gb);
  });
}

Variable minimum(const Variable& a, const Variable& b) {
  return make_result(minimum(a.data(), b.data()), {a, b}, "minimum", [](const Tensor& g, Node& n) {
    auto [ga, gb] = minimum_backward(g, as_grad_operand(n.inputs[0], g), as_grad_operand(n.inputs[1], g));
    accumulate_reduced(n.inputs[0], ga);
    accumulate_reduced(n.inputs[1], gb);
  });
}

Variable pow(const Variable& a, const Variable& b) {
  return make_result(pow(a.data(), b.data()), {a, b}, "pow", [](const Tensor& g, Node& n) {
    auto [ga, gb] = pow_backward(g, as_grad_operand(n.inputs[0], g), as_grad_operand(n.inputs[1], g));
    accumulate_reduced(n.inputs[0], ga);
    accumulate_reduced(n.inputs[1], gb);
  });
}

Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  return make_result(where(cond, a.data(), b.data()), {a, b}, "where", [cond](const Tensor& g, Node& n) {
    if (n.inputs[0].requires_grad()) accumulate_reduced(n.inputs[0], where(cond, g, 0.0));
    if (n.inputs[1].requires_grad()) accumulate_reduced(n.inputs[1], where(cond, 0.0, g));
  });
}

// ---------------------------------------------------------------- unary

Variable neg(const Variable& a) {
  return make_result(neg(a.data()), {a}, "neg", [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(neg(g)); });
}

Variable exp(const Variable& x) {
  Tensor y = exp(x.data());
  return make_result(y, {x}, "exp", [y](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(mul(g, y)); });
}

Variable log(const Variable& x) {
  return make_result(log(x.data()), {x}, "log",
                     [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(div(g, n.inputs[0].data())); });
}

Variable log1p(const Variable& x) {
  return make_result(log1p(x.data()), {x}, "log1p", [](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(log1p_backward(g, n.inputs[0].data()));
  });
}

Variable sqrt(const Variable& x) {
  Tensor y = sqrt(x.data());
  return make_result(y, {x}, "sqrt",
                     [y](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(sqrt_backward(g, y)); });
}

Variable rsqrt(const Variable& x) {
  Tensor y = rsqrt(x.data());
  return make_result(y, {x}, "rsqrt",
                     [y](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(rsqrt_backward(g, y)); });
}

Variable reciprocal(const Variable& x) {
  Tensor y = reciprocal(x.data());
  return make_result(y, {x}, "reciprocal",
                     [y](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(reciprocal_backward(g, y)); });
}

Variable abs(const Variable& x) {
  return make_result(abs(x.data()), {x}, "abs", [](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(abs_backward(g, n.inputs[0].data()));
  });
}

Variable square(const Variable& x) {
  return make_result(square(x.data()), {x}, "square", [](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(pow_backward(g, n.inputs[0].data(), 2.0));
  });
}

Variable pow(const Variable& x, double e) {
  return make_result(pow(x.data(), e), {x}, "pow_scalar", [e](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(pow_backward(g, n.inputs[0].data(), e));
  });
}

Variable sin(const Variable& x) {
  return make_result(sin(x.data()), {x}, "sin", [](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(mul(g, cos(n.inputs[0].data())));
  });
}

Variable cos(const Variable& x) {
  return make_result(cos(x.data()), {x}, "cos", [](const Tensor& g, Node& n) {
    Tensor gx = mul(g, sin(n.inputs[0].data()));
    n.inputs[0].accumulate_grad(mul_(gx, -1.0));
  });
}

Variable tanh(const Variable& x) {
  Tensor y = tanh(x.data());
  return make_result(y, {x}, "tanh", [y](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(tanh_backward(g, y)); });
}

Variable erf(const Variable& x) {
  return make_result(erf(x.data()), {x}, "erf", [](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(erf_backward(g, n.inputs[0].data()));
  });
}

Variable sign(const Variable& x) {
  return make_result(sign(x.data()), {x}, "sign",
                     [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(zeros_like(g)); });
}

Variable clamp(const Variable& x, std::optional<double> lo, std::optional<double> hi) {
  return make_result(clamp(x.data(), lo, hi), {x}, "clamp", [lo, hi](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(clamp_backward(g, n.inputs[0].data(), lo, hi));
  });
}

// ---------------------------------------------------------------- activations

Variable sigmoid(const Variable& x) {
  Tensor y = sigmoid(x.data());
  return make_result(y, {x}, "sigmoid",
                     [y](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(sigmoid_backward(g, y)); });
}

Variable relu(const Variable& x) {
  return make_result(relu(x.data()), {x}, "relu", [](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(relu_backward(g, n.inputs[0].data()));
  });
}

Variable leaky_relu(const Variable& x, double slope) {
  return make_result(leaky_relu(x.data(), slope), {x}, "leaky_relu", [slope](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(leaky_relu_backward(g, n.inputs[0].data(), slope));
  });
}

Variable elu(const Variable& x, double alpha) {
  Tensor y = elu(x.data(), alpha);
  return make_result(y, {x}, "elu", [y, alpha](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(elu_backward(g, n.inputs[0].data(), y, alpha));
  });
}

Variable gelu(const Variable& x, GeluApprox approximate) {
  return make_result(gelu(x.data(), approximate), {x}, "gelu", [approximate](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(gelu_backward(g, n.inputs[0].data(), approximate));
  });
}

Variable silu(const Variable& x) {
  return make_result(silu(x.data()), {x}, "silu", [](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(silu_backward(g, n.inputs[0].data()));
  });
}

Variable softplus(const Variable& x, double beta, double threshold) {
  return make_result(softplus(x.data(), beta, threshold), {x}, "softplus", [beta, threshold](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(softplus_backward(g, n.inputs[0].data(), beta, threshold));
  });
}

}  // namespace kun
