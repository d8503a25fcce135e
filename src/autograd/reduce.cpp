// Forward and backward of the reductions and softmax, side by side. The backward kernels live in
// src/tensor/cpu/ (reduce.cpp, softmax.cpp); here the gradient of a reduced result is first
// reshaped to the keepdim shape so it broadcasts against the input.
#include "kun/autograd/reduce.h"

#include "kun/tensor/ops.h"

namespace kun {

namespace {
// The reduced grad (or output) as a keepdim-shaped tensor.
Tensor keep(const Tensor& t, const Shape& in, const std::vector<int64_t>& dims) {
  return t.reshape(keepdim_shape(in, dims));
}
}  // namespace

Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(sum(x.data(), dims, keepdim), {x}, "sum", [dims](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    in.accumulate_grad(keep(g, in.shape(), dims).expand(in.shape()));  // accumulate_grad copies views
  });
}

Variable mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = mean(x.data(), dims, keepdim);
  const double k = out.numel() ? static_cast<double>(x.numel()) / static_cast<double>(out.numel()) : 1.0;
  return make_result(out, {x}, "mean", [dims, k](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    in.accumulate_grad(mul(keep(g, in.shape(), dims).expand(in.shape()), 1.0 / k));
  });
}

Variable prod(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(prod(x.data(), dims, keepdim), {x}, "prod", [dims](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    in.accumulate_grad(prod_backward(keep(g, in.shape(), dims), in.data(), dims));
  });
}

namespace {
Variable extreme(const Variable& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
  Tensor out = is_max ? amax(x.data(), dims, keepdim) : amin(x.data(), dims, keepdim);
  return make_result(out, {x}, is_max ? "amax" : "amin", [dims, out](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    const Shape& s = in.shape();
    in.accumulate_grad(amax_backward(keep(g, s, dims), in.data(), keep(out, s, dims), dims));
  });
}

VariableIndices extreme_index(const Variable& x, int64_t dim, bool keepdim, bool is_max) {
  ValuesIndices r = is_max ? max(x.data(), dim, keepdim) : min(x.data(), dim, keepdim);
  Tensor idx = r.indices;
  Variable v = make_result(r.values, {x}, is_max ? "max" : "min", [dim, idx](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    const Shape& s = in.shape();
    std::vector<int64_t> d{dim};
    in.accumulate_grad(index_backward(keep(g, s, d), keep(idx, s, d), s, dim));
  });
  return {v, idx};
}
}  // namespace

Variable amax(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) { return extreme(x, dims, keepdim, true); }
Variable amin(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) { return extreme(x, dims, keepdim, false); }
VariableIndices max(const Variable& x, int64_t dim, bool keepdim) { return extreme_index(x, dim, keepdim, true); }
VariableIndices min(const Variable& x, int64_t dim, bool keepdim) { return extreme_index(x, dim, keepdim, false); }

Variable var(const Variable& x, const std::vector<int64_t>& dims, const VarOptions& opt) {
  Tensor out = var(x.data(), dims, opt);
  const double k = out.numel() ? static_cast<double>(x.numel()) / static_cast<double>(out.numel()) : 1.0;
  const double denom = std::max(k - opt.correction, 0.0);
  return make_result(out, {x}, "var", [dims, denom](const Tensor& g, Node& n) {
    // d var / dx = 2 (x - mean) / (K - correction)
    const Variable& in = n.inputs[0];
    Tensor mu = mean(in.data(), dims, true);
    in.accumulate_grad(mul(mul(sub(in.data(), mu), keep(g, in.shape(), dims)), 2.0 / denom));
  });
}

Variable std(const Variable& x, const std::vector<int64_t>& dims, const VarOptions& opt) {
  Tensor out = std(x.data(), dims, opt);
  const double k = out.numel() ? static_cast<double>(x.numel()) / static_cast<double>(out.numel()) : 1.0;
  const double denom = std::max(k - opt.correction, 0.0);
  return make_result(out, {x}, "std", [dims, denom, out](const Tensor& g, Node& n) {
    // d std / dx = (x - mean) / (std (K - correction)), 0 where std is 0
    const Variable& in = n.inputs[0];
    const Shape& s = in.shape();
    Tensor mu = mean(in.data(), dims, true);
    in.accumulate_grad(std_backward(keep(g, s, dims), in.data(), mu, keep(out, s, dims), denom));
  });
}

Variable logsumexp(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = logsumexp(x.data(), dims, keepdim);
  return make_result(out, {x}, "logsumexp", [dims, out](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    const Shape& s = in.shape();
    in.accumulate_grad(logsumexp_backward(keep(g, s, dims), in.data(), keep(out, s, dims)));
  });
}

Variable norm(const Variable& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = norm(x.data(), p, dims, keepdim);
  return make_result(out, {x}, "norm", [p, dims, out](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    const Shape& s = in.shape();
    in.accumulate_grad(norm_backward(keep(g, s, dims), in.data(), keep(out, s, dims), p, dims));
  });
}

Variable softmax(const Variable& x, int64_t dim) {
  Tensor y = softmax(x.data(), dim);
  return make_result(y, {x}, "softmax",
                     [y, dim](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(softmax_backward(g, y, dim)); });
}

Variable log_softmax(const Variable& x, int64_t dim) {
  Tensor y = log_softmax(x.data(), dim);
  return make_result(y, {x}, "log_softmax", [y, dim](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(log_softmax_backward(g, y, dim));
  });
}

}  // namespace kun
