// Feature scaling fitted on the training split only, and seeded image augmentation on batches.
#pragma once
#include <cstdint>

#include "kun/core/rng.h"
#include "kun/tensor/tensor.h"

namespace kun::data {

struct ScalerOptions {
  // false: one statistic per feature (reduce over dim 0 of (N, F...)).
  // true: one per channel of (N, C, ...) images (reduce over every dim but 1).
  bool per_channel = false;
};

// (x - mean) / std with statistics from fit(); a constant feature (std 0) is only centred.
class Standardizer {
 public:
  explicit Standardizer(ScalerOptions opts = {}) : opts_(opts) {}
  Standardizer& fit(const Tensor& train_x);  // train_x float32 (N, ...)
  Tensor apply(const Tensor& x) const;       // x float32 with the fitted trailing shape
  bool fitted() const { return mean_.defined(); }
  const Tensor& mean() const { return mean_; }  // per feature (F...) or per channel (C,)
  const Tensor& std() const { return std_; }

 private:
  ScalerOptions opts_;
  Tensor mean_, std_;
};

// (x - min) / (max - min) into [0, 1] on the training range; a constant feature maps to 0.
class Normalizer {
 public:
  explicit Normalizer(ScalerOptions opts = {}) : opts_(opts) {}
  Normalizer& fit(const Tensor& train_x);
  Tensor apply(const Tensor& x) const;
  bool fitted() const { return min_.defined(); }
  const Tensor& min() const { return min_; }
  const Tensor& max() const { return max_; }

 private:
  ScalerOptions opts_;
  Tensor min_, max_;
};

// ---- augmentation on image batches x (N, C, H, W) float32 (or a single (C, H, W) image) ----
// Each image draws its own parameters from gen (counter-based: image i uses counter offset + i),
// so the result depends only on the generator state, never on the thread count. Each call
// advances gen by N.

// Pads by `padding` zeros on every side, then crops a random H x W window.
Tensor random_crop(const Tensor& x, int64_t padding, Generator& gen);
// Mirrors each image left-right with probability p.
Tensor random_horizontal_flip(const Tensor& x, Generator& gen, double p = 0.5);
// Rotates each image about its centre by a uniform angle in [-max_degrees, max_degrees] (bilinear, zero fill).
Tensor random_rotation(const Tensor& x, double max_degrees, Generator& gen);
// Shifts each image by integer offsets in [-max_shift, max_shift] on both axes (zero fill).
Tensor random_shift(const Tensor& x, int64_t max_shift, Generator& gen);

struct AugmentOptions {
  int64_t crop_padding = 0;   // random_crop when > 0
  bool horizontal_flip = false;
  double max_rotation_degrees = 0;
  int64_t max_shift = 0;
};

// The enabled augmentations in a fixed order: crop, flip, rotation, shift.
Tensor augment(const Tensor& x, const AugmentOptions& opts, Generator& gen);

}  // namespace kun::data
