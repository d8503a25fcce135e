// Forward and backward of the differentiable shape ops, side by side.
#include "kun/autograd/shape.h"

#include "kun/autograd/view.h"
#include "kun/tensor/ops.h"

namespace kun {

Variable concat(const std::vector<Variable>& xs, int64_t dim) {
  std::vector<Tensor> ts;
  ts.reserve(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    KUN_CHECK(xs[i].defined(), ValueError, "concat: variable ", i, " is undefined");
    ts.push_back(xs[i].data());
  }
  Tensor out = concat(ts, dim);
  const int d = normalize_dim(dim, out.dim(), "concat");
  return make_result(out, xs, "concat", [d](const Tensor& g, Node& n) {
    int64_t start = 0;
    for (auto& in : n.inputs) {
      const int64_t len = in.shape()[d];
      if (in.requires_grad()) in.accumulate_grad(g.narrow(d, start, len));
      start += len;
    }
  });
}

Variable stack(const std::vector<Variable>& xs, int64_t dim) {
  KUN_CHECK(!xs.empty(), ValueError, "stack: expected at least one tensor, got an empty list");
  KUN_CHECK(xs[0].defined(), ValueError, "stack: variable 0 is undefined");
  const int d = normalize_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Variable> us;
  us.reserve(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    KUN_CHECK(xs[i].defined(), ValueError, "stack: variable ", i, " is undefined");
    KUN_CHECK(xs[i].shape() == xs[0].shape(), ShapeError, "stack: expected every tensor to have shape ", xs[0].shape(),
              ", got ", xs[i].shape(), " at position ", i);
    us.push_back(unsqueeze(xs[i], d));
  }
  return concat(us, d);
}

namespace {
// Pieces as differentiable narrows at the offsets the Tensor split chose.
std::vector<Variable> pieces(const Variable& x, const std::vector<Tensor>& parts, int d) {
  std::vector<Variable> out;
  out.reserve(parts.size());
  int64_t start = 0;
  for (const Tensor& p : parts) {
    out.push_back(narrow(x, d, start, p.shape()[d]));
    start += p.shape()[d];
  }
  return out;
}
}  // namespace

std::vector<Variable> split(const Variable& x, int64_t size, int64_t dim) {
  auto parts = split(x.data(), size, dim);
  return pieces(x, parts, normalize_dim(dim, x.dim(), "split"));
}

std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int64_t dim) {
  auto parts = split(x.data(), sizes, dim);
  return pieces(x, parts, normalize_dim(dim, x.dim(), "split"));
}

std::vector<Variable> chunk(const Variable& x, int64_t n, int64_t dim) {
  auto parts = chunk(x.data(), n, dim);
  return pieces(x, parts, normalize_dim(dim, x.dim(), "chunk"));
}

Variable pad(const Variable& x, const std::vector<int64_t>& pads, const PadOptions& opt) {
  return make_result(pad(x.data(), pads, opt), {x}, "pad", [pads, mode = opt.mode](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(pad_backward(g, n.inputs[0].shape(), pads, mode));
  });
}

}  // namespace kun
