// Differentiable normalization and dropout (fused kernels from kun/tensor/ops_norm.h).
#pragma once
#include "kun/autograd/variable.h"
#include "kun/tensor/ops_norm.h"

namespace kun {

// weight / bias: Variables of normalized_shape, or default-constructed Variable() for none.
Variable layer_norm(const Variable& x, const Shape& normalized_shape, const Variable& weight = Variable(),
                    const Variable& bias = Variable(), const LayerNormOptions& opt = {});
// running_mean / running_var are buffers (Tensors), updated in place when opt.training.
Variable batch_norm(const Variable& x, const Tensor& running_mean, const Tensor& running_var,
                    const Variable& weight = Variable(), const Variable& bias = Variable(),
                    const BatchNormOptions& opt = {});
// Backward applies the same mask (regenerated from the generator's seed and offset, not stored).
Variable dropout(const Variable& x, double p, bool training = true, Generator* gen = nullptr);

}  // namespace kun
