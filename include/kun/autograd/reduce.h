// Differentiable reductions and softmax (forward and backward in src/autograd/reduce.cpp).
// Semantics follow the Tensor versions in kun/tensor/ops_reduce.h; gradients follow PyTorch:
// max(dim)/min(dim) route the gradient to the returned index, amax/amin split it evenly between
// ties, norm's gradient is 0 where the norm is 0.
#pragma once
#include <vector>

#include "kun/autograd/variable.h"
#include "kun/tensor/ops_reduce.h"

namespace kun {

Variable sum(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable mean(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable prod(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable amax(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Variable amin(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

struct VariableIndices {
  Variable values;
  Tensor indices;  // int64, not differentiable
};
VariableIndices max(const Variable& x, int64_t dim, bool keepdim = false);
VariableIndices min(const Variable& x, int64_t dim, bool keepdim = false);

Variable var(const Variable& x, const std::vector<int64_t>& dims = {}, const VarOptions& opt = {});
Variable std(const Variable& x, const std::vector<int64_t>& dims = {}, const VarOptions& opt = {});
Variable logsumexp(const Variable& x, const std::vector<int64_t>& dims, bool keepdim = false);
Variable norm(const Variable& x, double p = 2, const std::vector<int64_t>& dims = {}, bool keepdim = false);

Variable softmax(const Variable& x, int64_t dim);
Variable log_softmax(const Variable& x, int64_t dim);

}  // namespace kun
