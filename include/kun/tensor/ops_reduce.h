// Reductions.
#pragma once
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun {

// Sum of a broadcast result back to `shape` (the reverse of broadcasting): sums over leading
// dims and over dims where shape has 1. Used by the gradients of broadcasting ops.
Tensor sum_to(const Tensor& x, const Shape& shape);

// Sum over `dims` (empty = all dims).
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

}  // namespace kun
