// Differentiable views and conversions. The output shares storage with the input where the
// Tensor view does; backward maps the gradient back through the view to the input's shape.
#pragma once
#include <vector>

#include "kun/autograd/variable.h"

namespace kun {

Variable view(const Variable& x, const Shape& shape);
Variable reshape(const Variable& x, const Shape& shape);
Variable permute(const Variable& x, const std::vector<int64_t>& dims);
Variable transpose(const Variable& x, int64_t d0, int64_t d1);
Variable t(const Variable& x);
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length);
Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Variable select(const Variable& x, int64_t dim, int64_t index);
Variable expand(const Variable& x, const Shape& shape);  // grad = sum_to(grad, x.shape())
Variable squeeze(const Variable& x);
Variable squeeze(const Variable& x, int64_t dim);
Variable unsqueeze(const Variable& x, int64_t dim);
Variable flatten(const Variable& x, int64_t start_dim = 0, int64_t end_dim = -1);
Variable contiguous(const Variable& x);
// Converts the data; the gradient is converted back to x's dtype. Converting to an integer
// dtype gives a constant (no gradient flows through it).
Variable to(const Variable& x, DType dtype);

}  // namespace kun
