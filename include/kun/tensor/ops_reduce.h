// Reductions, softmax and their backward kernels (no autograd; see kun/autograd/reduce.h).
// `dims` lists the dims to reduce (negative dims count from the end; empty = all dims).
// Float reductions accumulate in the input dtype over vectorized partial sums; integer sums in int64.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun {

// Sum of a broadcast result back to `shape` (the reverse of broadcasting): sums over leading
// dims and over dims where shape has 1. Used by the gradients of broadcasting ops.
Tensor sum_to(const Tensor& x, const Shape& shape);

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);  // float only
Tensor prod(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Largest / smallest value over dims; NaN propagates.
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// max/min over one dim: the values and the int64 index of the first extreme element.
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // int64
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
// Index of the first largest / smallest element along dim (no dim: over the flattened tensor).
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);

// var/std divide by (K - correction) with K the number of reduced elements: correction 1 is the
// unbiased estimator (PyTorch's default, unbiased=true), 0 the population one.
struct VarOptions {
  double correction = 1;
  bool keepdim = false;
};
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, const VarOptions& opt = {});
Tensor std(const Tensor& x, const std::vector<int64_t>& dims = {}, const VarOptions& opt = {});

// log(sum(exp(x))) over dims, computed as m + log(sum(exp(x - m))) with m the max (stable).
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// Vector p-norm over dims: p = 2 (default), 1, +inf (max |x|), -inf (min |x|), 0 (count of
// non-zeros) or any other p > 0: (sum |x|^p)^(1/p).
constexpr double kInf = std::numeric_limits<double>::infinity();
Tensor norm(const Tensor& x, double p = 2, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// softmax / log_softmax along one dim (stable: the max is subtracted first).
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- backward kernels (used by kun/autograd; all take the reduced grad with keepdim shape) ----
// grad_x = grad_y * y - y * sum(grad_y * y, dim)   with y = softmax(x)
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim);
// grad_x = grad_y - exp(y) * sum(grad_y, dim)       with y = log_softmax(x)
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim);
// amax/amin: grad split evenly between the elements equal to the result (`out_keep`).
Tensor amax_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& out_keep, const std::vector<int64_t>& dims);
// max(dim)/min(dim): grad_keep (keepdim shape) scattered to `indices_keep` along dim of a zero tensor of `shape`.
Tensor index_backward(const Tensor& grad_keep, const Tensor& indices_keep, const Shape& shape, int64_t dim);
// grad_x = grad * exp(x - lse)
Tensor logsumexp_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& lse_keep);
// p-norm gradient; 0 where the norm is 0 (a subgradient) so it never produces NaN.
Tensor norm_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& norm_keep, double p,
                     const std::vector<int64_t>& dims);
// grad_x = grad * (x - mean) / (std * (K - correction)); 0 where std is 0.
Tensor std_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& mean_keep, const Tensor& std_keep,
                    double denom);
// prod gradient: product of the other elements (exact when x holds zeros).
Tensor prod_backward(const Tensor& grad_keep, const Tensor& x, const std::vector<int64_t>& dims);

// Shape of x with the reduced dims kept as size 1 (empty dims = all).
Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& dims, const char* op = "reduce");

}  // namespace kun
