// Seeded augmentation: noise at an SNR, time shift, speed perturbation, SpecAugment.
#include "kun/apps/speech/augment.h"

#include <algorithm>
#include <cmath>

#include "kun/tensor/ops.h"

namespace kun::speech {

namespace {

void check_wave(const Tensor& x, const char* op) {
  KUN_CHECK(x.defined() && (x.dim() == 1 || x.dim() == 2), ShapeError, op,
            ": expected (samples,) or (channels, samples), got ", x.defined() ? x.shape() : Shape{});
  x.check_dtype(DType::f32, op);
}

double mean_power(const float* p, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i]) * p[i];
  return n > 0 ? s / static_cast<double>(n) : 0.0;
}

// x + gain * noise (both contiguous, same numel) into a new tensor; gain sets the SNR.
Tensor mix_at_snr(const Tensor& xc, const std::vector<float>& noise, double snr_db) {
  const int64_t n = xc.numel();
  const float* s = xc.data<float>();
  Tensor out = xc.clone();
  const double ps = mean_power(s, n), pn = mean_power(noise.data(), n);
  if (ps == 0 || pn == 0) return out;  // silent signal or silent noise: nothing to scale to
  const float g = static_cast<float>(std::sqrt(ps / (pn * std::pow(10.0, snr_db / 10.0))));
  float* o = out.data<float>();
  for (int64_t i = 0; i < n; ++i) o[i] += g * noise[i];
  return out;
}

}  // namespace

double uniform01(Generator& gen) {
  auto r = philox(gen.seed(), gen.reserve(1));
  return u64_to_unit_double(r[0], r[1]);
}

Tensor add_noise(const Tensor& x, double snr_db, Generator& gen) {
  check_wave(x, "add_noise");
  KUN_CHECK(std::isfinite(snr_db), ValueError, "add_noise: snr_db must be finite, got ", snr_db);
  Tensor xc = x.contiguous();
  Tensor z = randn(xc.shape(), DType::f32, &gen);
  return mix_at_snr(xc, z.to_vector<float>(), snr_db);
}

Tensor add_noise(const Tensor& x, const Tensor& noise, double snr_db, Generator& gen) {
  check_wave(x, "add_noise");
  KUN_CHECK(noise.defined() && noise.dim() == 1 && noise.numel() > 0, ShapeError,
            "add_noise: noise must be a non-empty (samples,) signal, got ", noise.defined() ? noise.shape() : Shape{});
  noise.check_dtype(DType::f32, "add_noise");
  KUN_CHECK(std::isfinite(snr_db), ValueError, "add_noise: snr_db must be finite, got ", snr_db);
  Tensor xc = x.contiguous();
  const std::vector<float> src = noise.contiguous().to_vector<float>();
  const int64_t len = static_cast<int64_t>(src.size()), n = xc.numel();
  // A random excerpt, tiled when the noise is shorter than the signal (all channels get the same noise run).
  const int64_t start = static_cast<int64_t>(uniform01(gen) * static_cast<double>(len));
  std::vector<float> nz(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) nz[i] = src[(start + i) % len];
  return mix_at_snr(xc, nz, snr_db);
}

Tensor shift(const Tensor& x, int64_t s, ShiftMode mode) {
  check_wave(x, "shift");
  Tensor xc = x.contiguous();
  const int64_t n = xc.size(-1), rows = n > 0 ? xc.numel() / n : 0;
  Tensor out = zeros(xc.shape());
  const float* p = xc.data<float>();
  float* o = out.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) {
      int64_t j = i - s;  // out[i] = x[i - s]
      if (mode == ShiftMode::wrap) j = ((j % n) + n) % n;
      if (j >= 0 && j < n) o[r * n + i] = p[r * n + j];
    }
  return out;
}

Tensor time_shift(const Tensor& x, int64_t max_shift, Generator& gen, ShiftMode mode) {
  KUN_CHECK(max_shift >= 0, ValueError, "time_shift: max_shift must be >= 0, got ", max_shift);
  const int64_t s = static_cast<int64_t>(std::floor(uniform01(gen) * static_cast<double>(2 * max_shift + 1))) - max_shift;
  return shift(x, s, mode);
}

Tensor speed_perturb(const Tensor& x, double factor, ResampleQuality quality) {
  check_wave(x, "speed_perturb");
  KUN_CHECK(factor >= 0.25 && factor <= 4.0, ValueError, "speed_perturb: factor must be in [0.25, 4], got ", factor);
  if (factor == 1.0) return x.contiguous().clone();
  // Resampling from rate R*factor to R leaves round(n / factor) samples: the same content, faster.
  const int from = 1000000, to = static_cast<int>(std::lround(1000000.0 / factor));
  return resample(x, from, to, quality);
}

Tensor speed_perturb(const Tensor& x, const std::vector<double>& factors, Generator& gen, ResampleQuality quality) {
  KUN_CHECK(!factors.empty(), ValueError, "speed_perturb: factors must not be empty");
  size_t i = static_cast<size_t>(uniform01(gen) * static_cast<double>(factors.size()));
  return speed_perturb(x, factors[std::min(i, factors.size() - 1)], quality);
}

Tensor spec_augment(const Tensor& spec, const SpecAugmentOptions& opt, Generator& gen) {
  KUN_CHECK(spec.defined() && (spec.dim() == 2 || spec.dim() == 3), ShapeError,
            "spec_augment: expected (freq, time) or (batch, freq, time), got ", spec.defined() ? spec.shape() : Shape{});
  KUN_CHECK(opt.freq_mask_param >= 0 && opt.time_mask_param >= 0 && opt.n_freq_masks >= 0 && opt.n_time_masks >= 0,
            ValueError, "spec_augment: mask params and counts must be >= 0");
  KUN_CHECK(opt.p >= 0 && opt.p <= 1, ValueError, "spec_augment: p must be in [0, 1], got ", opt.p);
  Tensor out = spec.contiguous().clone();
  const int64_t F = out.size(-2), T = out.size(-1), B = out.dim() == 3 ? out.size(0) : 1;
  const int64_t tparam = std::min<int64_t>(opt.time_mask_param, static_cast<int64_t>(std::floor(opt.p * T)));
  KUN_DISPATCH_FLOAT(out.dtype(), "spec_augment", [&] {
    scalar_t* base = out.data<scalar_t>();
    const scalar_t v = static_cast<scalar_t>(opt.mask_value);
    for (int64_t b = 0; b < B; ++b) {
      scalar_t* s = base + b * F * T;
      auto draw = [&](int64_t param, int64_t size, int64_t& start, int64_t& width) {
        const double w = uniform01(gen) * static_cast<double>(param);
        const double st = uniform01(gen) * (static_cast<double>(size) - w);
        start = static_cast<int64_t>(st);
        width = static_cast<int64_t>(w);
      };
      for (int64_t k = 0; k < opt.n_freq_masks && opt.freq_mask_param > 0; ++k) {
        int64_t st, w;
        draw(opt.freq_mask_param, F, st, w);
        for (int64_t f = st; f < std::min(st + w, F); ++f) std::fill(s + f * T, s + (f + 1) * T, v);
      }
      for (int64_t k = 0; k < opt.n_time_masks && tparam > 0; ++k) {
        int64_t st, w;
        draw(tparam, T, st, w);
        for (int64_t f = 0; f < F; ++f) std::fill(s + f * T + st, s + f * T + std::min(st + w, T), v);
      }
    }
  });
  return out;
}

}  // namespace kun::speech
