// Differentiable shape ops: each piece's gradient lands in its slice of the input gradient.
#pragma once
#include <vector>

#include "kun/autograd/variable.h"
#include "kun/tensor/ops_shape.h"

namespace kun {

Variable concat(const std::vector<Variable>& xs, int64_t dim = 0);
Variable stack(const std::vector<Variable>& xs, int64_t dim = 0);
// Pieces are narrow views; a piece that never reaches the loss contributes zeros.
std::vector<Variable> split(const Variable& x, int64_t size, int64_t dim = 0);
std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Variable> chunk(const Variable& x, int64_t n, int64_t dim = 0);
Variable pad(const Variable& x, const std::vector<int64_t>& pads, const PadOptions& opt = {});

}  // namespace kun
