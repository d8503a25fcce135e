// Differentiable matrix products. Gradients are GEMMs on transposed views (no copies) and are
// reduced back over broadcast batch dims.
#pragma once
#include "kun/autograd/variable.h"

namespace kun {

Variable matmul(const Variable& a, const Variable& b);  // torch.matmul semantics, see ops_linalg.h
Variable mm(const Variable& a, const Variable& b);      // (M, K) @ (K, N)
Variable bmm(const Variable& a, const Variable& b);     // (B, M, K) @ (B, K, N)
// x (..., in), w (out, in), b (out) or undefined -> (..., out)
Variable linear(const Variable& x, const Variable& w, const Variable& b = Variable());

}  // namespace kun
