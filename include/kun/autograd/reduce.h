// Differentiable reductions.
#pragma once
#include <vector>

#include "kun/autograd/variable.h"

namespace kun {

Variable sum(const Variable& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

}  // namespace kun
