// Parameter initializers. Each fills a float32/float64 tensor IN PLACE (through its storage, so
// pass a parameter's data()) from a seeded Generator (nullptr: the default generator), and
// returns it. Fans follow PyTorch: for a weight of shape (out, in, k...), fan_in = in * prod(k)
// and fan_out = out * prod(k).
#pragma once
#include <utility>

#include "kun/core/rng.h"
#include "kun/tensor/tensor.h"

namespace kun::nn::init {

enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu, selu };
enum class FanMode { fan_in, fan_out };

// Recommended gain: linear/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)),
// selu 3/4. `negative_slope` is only read for leaky_relu.
double calculate_gain(Nonlinearity nl, double negative_slope = 0.01);
// {fan_in, fan_out}; throws ShapeError for tensors with fewer than 2 dims.
std::pair<int64_t, int64_t> compute_fans(const Shape& shape);

const Tensor& uniform_(const Tensor& t, double lo = 0.0, double hi = 1.0, Generator* gen = nullptr);
const Tensor& normal_(const Tensor& t, double mean = 0.0, double stddev = 1.0, Generator* gen = nullptr);
// Normal(mean, stddev) restricted to [lo, hi] (absolute bounds, like torch.nn.init.trunc_normal_),
// sampled exactly by inverting the normal CDF.
const Tensor& trunc_normal_(const Tensor& t, double mean = 0.0, double stddev = 1.0, double lo = -2.0, double hi = 2.0,
                            Generator* gen = nullptr);
const Tensor& constant_(const Tensor& t, double value);
const Tensor& zeros_(const Tensor& t);
const Tensor& ones_(const Tensor& t);

// Glorot / Xavier: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)), or N(0, gain^2 * 2 / (fan_in + fan_out)).
const Tensor& xavier_uniform_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);
const Tensor& xavier_normal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);
inline const Tensor& glorot_uniform_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr) {
  return xavier_uniform_(t, gain, gen);
}
inline const Tensor& glorot_normal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr) {
  return xavier_normal_(t, gain, gen);
}

// He / Kaiming: std = gain / sqrt(fan), gain from `nonlinearity` (with slope `a` for leaky_relu).
struct KaimingOptions {
  double a = 0.0;  // negative slope of leaky_relu
  FanMode mode = FanMode::fan_in;
  Nonlinearity nonlinearity = Nonlinearity::leaky_relu;  // with a = 0 this is relu's sqrt(2), as in PyTorch
};
const Tensor& kaiming_uniform_(const Tensor& t, const KaimingOptions& opt = {}, Generator* gen = nullptr);
const Tensor& kaiming_normal_(const Tensor& t, const KaimingOptions& opt = {}, Generator* gen = nullptr);
inline const Tensor& he_uniform_(const Tensor& t, const KaimingOptions& opt = {}, Generator* gen = nullptr) {
  return kaiming_uniform_(t, opt, gen);
}
inline const Tensor& he_normal_(const Tensor& t, const KaimingOptions& opt = {}, Generator* gen = nullptr) {
  return kaiming_normal_(t, opt, gen);
}

// LeCun normal (Keras/SELU convention): truncated normal at +-2 sigma, rescaled so the standard
// deviation is exactly sqrt(1 / fan_in).
const Tensor& lecun_normal_(const Tensor& t, Generator* gen = nullptr);

// (Semi-)orthogonal: the tensor viewed as (rows = size(0), cols = numel / rows) gets orthonormal
// rows or columns (whichever are fewer) times `gain`, from the QR of a normal matrix (Householder,
// signs fixed so the draw is uniform over orthogonal matrices).
const Tensor& orthogonal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace kun::nn::init
