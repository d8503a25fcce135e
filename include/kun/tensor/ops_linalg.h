// Dense linear algebra on float32 / float64 tensors (OpenBLAS underneath).
// Transposed views (t(), transpose(-1, -2), permute) are handed to BLAS as transposes, no copy.
#pragma once
#include "kun/tensor/tensor.h"

namespace kun {

// torch.matmul semantics:
//   (K) @ (K)                -> ()          dot product
//   (M, K) @ (K)             -> (M)         matrix-vector
//   (K) @ (K, N)             -> (N)         vector-matrix
//   (M, K) @ (K, N)          -> (M, N)
//   (..., M, K) @ (..., K, N) -> (broadcast(...), M, N)   batch dims broadcast; a 1-D operand
//   gets a 1 prepended (a) / appended (b) for the product, removed from the result.
// Both operands must have the same float dtype.
Tensor matmul(const Tensor& a, const Tensor& b);

// Strictly 2-D product: (M, K) @ (K, N) -> (M, N).
Tensor mm(const Tensor& a, const Tensor& b);

// Batched product without broadcasting: (B, M, K) @ (B, K, N) -> (B, M, N).
Tensor bmm(const Tensor& a, const Tensor& b);

// PyTorch's linear layer: x (..., in), w (out, in), optional b (out) -> (..., out) = x @ w^T + b.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace kun
