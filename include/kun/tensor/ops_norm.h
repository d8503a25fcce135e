// Normalization and dropout: fused forward and backward kernels (float32/float64).
#pragma once
#include <array>
#include <vector>

#include "kun/core/rng.h"
#include "kun/tensor/tensor.h"

namespace kun {

struct LayerNormOptions {
  double eps = 1e-5;
};

// Forward results kept for the backward pass.
struct LayerNormForward {
  Tensor y;     // x's shape
  Tensor mean;  // (rows), rows = x.numel() / prod(normalized_shape)
  Tensor rstd;  // (rows), 1 / sqrt(var + eps) with the biased variance
};
struct NormGrads {
  Tensor dx, dweight, dbias;  // undefined when not requested
};

// Normalizes over the trailing dims `normalized_shape` (which must equal x's last dims), then
// scales by weight and shifts by bias (each normalized_shape, optional: pass Tensor()).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), const LayerNormOptions& opt = {});
LayerNormForward layer_norm_forward(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                                    const Tensor& bias, const LayerNormOptions& opt = {});
// grad: x's shape. need = {dx, dweight, dbias}.
NormGrads layer_norm_backward(const Tensor& grad, const Tensor& x, const Shape& normalized_shape, const Tensor& mean,
                              const Tensor& rstd, const Tensor& weight, std::array<bool, 3> need = {true, true, true});

struct BatchNormOptions {
  bool training = true;   // batch statistics (and running-stat update) vs running statistics
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch
  double eps = 1e-5;
};
struct BatchNormForward {
  Tensor y;     // x's shape
  Tensor mean;  // (C) statistics used for normalization
  Tensor rstd;  // (C)
};

// x: (N, C), (N, C, L) or (N, C, H, W). running_mean / running_var: (C), updated in place when
// training (unbiased variance for the running stat), required in eval. weight / bias: (C) or Tensor().
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), const BatchNormOptions& opt = {});
BatchNormForward batch_norm_forward(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                    const Tensor& weight, const Tensor& bias, const BatchNormOptions& opt = {});
// training selects the batch-statistics gradient (mean and rstd depend on x) or the eval one.
NormGrads batch_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, bool training, std::array<bool, 3> need = {true, true, true});

// Inverted dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p).
// Identity when !training or p == 0; zeros when p == 1. The mask depends only on the generator's
// seed and offset (never on the thread count).
Tensor dropout(const Tensor& x, double p, bool training = true, Generator* gen = nullptr);
// The kernel behind dropout: the mask of element i (row-major) comes from Philox(key, offset + i / 4).
// Reserve (numel + 3) / 4 counters for a fresh mask. Backward reuses it with the same key and offset.
Tensor dropout_masked(const Tensor& x, double p, uint64_t key, uint64_t offset);

}  // namespace kun
