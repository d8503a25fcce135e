// Forward and backward of the elementwise ops, side by side.
#include "kun/autograd/elementwise.h"

#include "kun/tensor/ops.h"

namespace kun {

Variable add(const Variable& a, const Variable& b) {
  return make_result(add(a.data(), b.data()), {a, b}, "add", [](const Tensor& g, Node& n) {
    for (auto& in : n.inputs)
      if (in.requires_grad()) in.accumulate_grad(sum_to(g, in.shape()));
  });
}

Variable sub(const Variable& a, const Variable& b) {
  return make_result(sub(a.data(), b.data()), {a, b}, "sub", [](const Tensor& g, Node& n) {
    if (n.inputs[0].requires_grad()) n.inputs[0].accumulate_grad(sum_to(g, n.inputs[0].shape()));
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

Variable neg(const Variable& a) { return mul(a, -1.0); }

}  // namespace kun
