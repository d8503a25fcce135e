// Differentiable convolution and pooling (options as in kun/tensor/ops_conv.h).
#pragma once
#include "kun/autograd/variable.h"
#include "kun/tensor/ops_conv.h"

namespace kun {

// x (N, C, H, W), w (O, C/groups, kH, kW), b (O) or undefined
Variable conv2d(const Variable& x, const Variable& w, const Variable& b = Variable(), const Conv2dOptions& opt = {});
// x (N, C, L), w (O, C/groups, k), b (O) or undefined
Variable conv1d(const Variable& x, const Variable& w, const Variable& b = Variable(), const Conv1dOptions& opt = {});
// x (N, C, H, W), w (C, O/groups, kH, kW), b (O) or undefined
Variable conv_transpose2d(const Variable& x, const Variable& w, const Variable& b = Variable(),
                          const ConvTranspose2dOptions& opt = {});

Variable max_pool2d(const Variable& x, const Pool2dOptions& opt);
Variable avg_pool2d(const Variable& x, const Pool2dOptions& opt);
Variable max_pool1d(const Variable& x, const Pool1dOptions& opt);
Variable avg_pool1d(const Variable& x, const Pool1dOptions& opt);
Variable adaptive_avg_pool2d(const Variable& x, Size2 output_size);
Variable adaptive_avg_pool1d(const Variable& x, int64_t output_size);
Variable global_avg_pool2d(const Variable& x);  // (N, C, H, W) -> (N, C)

}  // namespace kun
