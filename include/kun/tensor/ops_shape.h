// Shape ops that build new tensors from pieces: concat, stack, split, chunk, pad.
#pragma once
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun {

// Joins tensors of equal dtype and rank along `dim` (all other extents must match).
Tensor concat(const std::vector<Tensor>& xs, int64_t dim = 0);
// Joins tensors of identical shape along a new dim inserted at `dim`.
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);

// Views of x cut along `dim` into pieces of `size` (the last one may be smaller).
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim = 0);
// Views of x cut along `dim` into pieces of the given sizes (they must sum to x.size(dim)).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// Views of x cut into `n` pieces of ceil(size / n) along `dim` (fewer when the size runs out).
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim = 0);

enum class PadMode { constant, reflect, replicate };

struct PadOptions {
  PadMode mode = PadMode::constant;
  double value = 0.0;  // fill value of constant mode
};

// Pads the last dims like torch.nn.functional.pad: pads = {left_last, right_last, left_prev,
// right_prev, ...}. Constant mode accepts negative pads (cropping); reflect needs pad < size.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const PadOptions& opt = {});
// Gradient of pad: sums grad (the padded shape) back into a tensor of `in_shape`.
Tensor pad_backward(const Tensor& grad, const Shape& in_shape, const std::vector<int64_t>& pads, PadMode mode);

}  // namespace kun
