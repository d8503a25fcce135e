// Forward and backward of the differentiable views, side by side.
#include "kun/autograd/view.h"

#include "kun/tensor/ops.h"

namespace kun {

namespace {
// Backward of a view that keeps every element exactly once: reshape the grad back.
Variable reshaping(Tensor out, const Variable& x, const char* name) {
  return make_result(std::move(out), {x}, name,
                     [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(g.reshape(n.inputs[0].shape())); });
}

// Backward of a view that picks a sub-block: zeros of x's shape with the same view filled by g.
template <typename ViewFn>
Variable sub_view(const Variable& x, const char* name, ViewFn vf) {
  return make_result(vf(x.data()), {x}, name, [vf](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    Tensor z = zeros(in.shape(), g.dtype());
    vf(z).copy_(g);
    in.accumulate_grad(z);
  });
}
}  // namespace

Variable view(const Variable& x, const Shape& shape) { return reshaping(x.data().view(shape), x, "view"); }
Variable reshape(const Variable& x, const Shape& shape) { return reshaping(x.data().reshape(shape), x, "reshape"); }
Variable squeeze(const Variable& x) { return reshaping(x.data().squeeze(), x, "squeeze"); }
Variable squeeze(const Variable& x, int64_t dim) { return reshaping(x.data().squeeze(dim), x, "squeeze"); }
Variable unsqueeze(const Variable& x, int64_t dim) { return reshaping(x.data().unsqueeze(dim), x, "unsqueeze"); }
Variable flatten(const Variable& x, int64_t start_dim, int64_t end_dim) {
  return reshaping(x.data().flatten(start_dim, end_dim), x, "flatten");
}

Variable permute(const Variable& x, const std::vector<int64_t>& dims) {
  Tensor out = x.data().permute(dims);  // validates dims
  std::vector<int64_t> inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inv[normalize_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  return make_result(out, {x}, "permute",
                     [inv](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(g.permute(inv)); });
}

Variable transpose(const Variable& x, int64_t d0, int64_t d1) {
  return make_result(x.data().transpose(d0, d1), {x}, "transpose",
                     [d0, d1](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(g.transpose(d0, d1)); });
}

Variable t(const Variable& x) {
  return make_result(x.data().t(), {x}, "t", [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(g.t()); });
}

Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  return sub_view(x, "narrow", [=](const Tensor& a) { return a.narrow(dim, start, length); });
}

Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  return sub_view(x, "slice", [=](const Tensor& a) { return a.slice(dim, start, end, step); });
}

Variable select(const Variable& x, int64_t dim, int64_t index) {
  return sub_view(x, "select", [=](const Tensor& a) { return a.select(dim, index); });
}

Variable expand(const Variable& x, const Shape& shape) {
  return make_result(x.data().expand(shape), {x}, "expand",
                     [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(sum_to(g, n.inputs[0].shape())); });
}

Variable contiguous(const Variable& x) {
  if (x.data().is_contiguous()) return x;
  return make_result(x.data().contiguous(), {x}, "contiguous",
                     [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(g); });
}

Variable to(const Variable& x, DType dtype) {
  if (dtype == x.dtype()) return x;
  if (!is_floating(dtype)) return Variable(x.data().to(dtype));  // integers carry no gradient
  return make_result(x.data().to(dtype), {x}, "to",
                     [](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(g.to(n.inputs[0].dtype())); });
}

}  // namespace kun
