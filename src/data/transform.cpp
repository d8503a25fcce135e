#include "kun/data/transform.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "kun/core/threading.h"

namespace kun::data {

namespace {

// The (outer, C, inner) view a scaler reduces over: statistics are per C, reduced over outer and inner.
struct Layout {
  int64_t outer, channels, inner;
  Shape stat_shape;
};

Layout scaler_layout(const Tensor& x, bool per_channel, const char* op) {
  x.check_dtype(DType::f32, op);
  if (per_channel) {
    KUN_CHECK(x.dim() >= 2, ShapeError, op, ": per_channel needs (N, C, ...), got ", x.shape());
    int64_t inner = 1;
    for (int d = 2; d < x.dim(); ++d) inner *= x.size(d);
    return {x.size(0), x.size(1), inner, Shape{x.size(1)}};
  }
  KUN_CHECK(x.dim() >= 1, ShapeError, op, ": expected (N, features...), got a scalar");
  Shape s(x.shape().begin() + 1, x.shape().end());
  return {x.size(0), s.numel(), 1, s};
}

void check_apply_shape(const Tensor& x, const Layout& l, const Tensor& stat, const char* op) {
  KUN_CHECK(stat.defined(), ValueError, op, ": call fit() on the training split before apply()");
  KUN_CHECK(l.stat_shape == stat.shape(), ShapeError, op, ": fitted on features of shape ", stat.shape(),
            ", got input ", x.shape());
}

// out = (x - shift[c]) * scale[c] over the (outer, C, inner) layout.
Tensor affine(const Tensor& x_in, const Layout& l, const std::vector<float>& shift, const std::vector<float>& scale) {
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::f32);
  const float* s = x.data<float>();
  float* d = out.data<float>();
  const int64_t row = l.channels * l.inner;
  parallel_for(l.outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(row, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t c = 0; c < l.channels; ++c) {
        const float sh = shift[c], sc = scale[c];
        const float* src = s + o * row + c * l.inner;
        float* dst = d + o * row + c * l.inner;
        for (int64_t i = 0; i < l.inner; ++i) dst[i] = (src[i] - sh) * sc;
      }
  });
  return out;
}

}  // namespace

Standardizer& Standardizer::fit(const Tensor& train_x) {
  Layout l = scaler_layout(train_x, opts_.per_channel, "Standardizer::fit");
  KUN_CHECK(l.outer > 0, ValueError, "Standardizer::fit: the training data is empty: ", train_x.shape());
  Tensor x = train_x.contiguous();
  const float* p = x.data<float>();
  const int64_t row = l.channels * l.inner;
  const double count = static_cast<double>(l.outer) * static_cast<double>(l.inner);
  // Two passes in float64 (mean, then squared deviations): stable for large offsets.
  std::vector<double> mean(l.channels, 0.0), var(l.channels, 0.0);
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.inner; ++i) mean[c] += p[o * row + c * l.inner + i];
  for (auto& m : mean) m /= count;
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.inner; ++i) {
        double dv = p[o * row + c * l.inner + i] - mean[c];
        var[c] += dv * dv;
      }
  std::vector<float> m32(l.channels), s32(l.channels);
  for (int64_t c = 0; c < l.channels; ++c) {
    m32[c] = static_cast<float>(mean[c]);
    s32[c] = static_cast<float>(std::sqrt(var[c] / count));
    KUN_CHECK(std::isfinite(m32[c]) && std::isfinite(s32[c]), ValueError,
              "Standardizer::fit: feature ", c, " has a non-finite mean or std; the training data contains NaN/inf");
  }
  mean_ = from_vector(m32, l.stat_shape);
  std_ = from_vector(s32, l.stat_shape);
  return *this;
}

Tensor Standardizer::apply(const Tensor& x) const {
  Layout l = scaler_layout(x, opts_.per_channel, "Standardizer::apply");
  check_apply_shape(x, l, mean_, "Standardizer::apply");
  std::vector<float> shift = mean_.to_vector<float>(), scale = std_.to_vector<float>();
  for (auto& s : scale) s = s > 0 ? 1.0f / s : 1.0f;  // constant feature: centre only
  return affine(x, l, shift, scale);
}

Normalizer& Normalizer::fit(const Tensor& train_x) {
  Layout l = scaler_layout(train_x, opts_.per_channel, "Normalizer::fit");
  KUN_CHECK(l.outer > 0, ValueError, "Normalizer::fit: the training data is empty: ", train_x.shape());
  Tensor x = train_x.contiguous();
  const float* p = x.data<float>();
  const int64_t row = l.channels * l.inner;
  std::vector<float> lo(l.channels, INFINITY), hi(l.channels, -INFINITY);
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.inner; ++i) {
        float v = p[o * row + c * l.inner + i];
        KUN_CHECK(std::isfinite(v), ValueError, "Normalizer::fit: non-finite value ", v, " in example ", o);
        lo[c] = std::min(lo[c], v);
        hi[c] = std::max(hi[c], v);
      }
  min_ = from_vector(lo, l.stat_shape);
  max_ = from_vector(hi, l.stat_shape);
  return *this;
}

Tensor Normalizer::apply(const Tensor& x) const {
  Layout l = scaler_layout(x, opts_.per_channel, "Normalizer::apply");
  check_apply_shape(x, l, min_, "Normalizer::apply");
  std::vector<float> lo = min_.to_vector<float>(), hi = max_.to_vector<float>(), scale(lo.size());
  for (size_t c = 0; c < lo.size(); ++c) scale[c] = hi[c] > lo[c] ? 1.0f / (hi[c] - lo[c]) : 0.0f;
  return affine(x, l, lo, scale);
}

// ---------------------------------------------------------------------------------------------
// Augmentation

namespace {

// Accepts (N, C, H, W) or (C, H, W); returns the 4-D contiguous batch.
Tensor as_batch(const Tensor& x, const char* op) {
  KUN_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError, op, ": expected images (N, C, H, W) or (C, H, W), got ",
            x.shape());
  x.check_dtype(DType::f32, op);
  return (x.dim() == 3 ? x.unsqueeze(0) : x).contiguous();
}

Tensor restore(const Tensor& out, const Tensor& in) { return in.dim() == 3 ? out.squeeze(0) : out; }

// Runs fn(image index, 4 random words, src image, dst image) for every image, in parallel.
template <typename F>
Tensor per_image(const Tensor& x_in, Generator& gen, const char* op, const F& fn) {
  Tensor x = as_batch(x_in, op);
  const int64_t n = x.size(0), per = x.numel() / std::max<int64_t>(n, 1);
  const uint64_t key = gen.seed(), base = gen.reserve(static_cast<uint64_t>(n));
  Tensor out = Tensor::empty(x.shape(), DType::f32);
  const float* s = x.data<float>();
  float* d = out.data<float>();
  parallel_for(n, std::max<int64_t>(1, 16384 / std::max<int64_t>(per, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) fn(philox(key, base + static_cast<uint64_t>(i)), s + i * per, d + i * per);
  });
  return restore(out, x_in);
}

// dst(y, x) = src(y - dy, x - dx), zero where that falls outside. src/dst: (C, H, W).
void shift_image(const float* src, float* dst, int64_t C, int64_t H, int64_t W, int64_t dy, int64_t dx) {
  std::memset(dst, 0, sizeof(float) * C * H * W);
  const int64_t y0 = std::max<int64_t>(0, dy), y1 = std::min(H, H + dy);
  const int64_t x0 = std::max<int64_t>(0, dx), x1 = std::min(W, W + dx);
  if (y0 >= y1 || x0 >= x1) return;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = y0; y < y1; ++y)
      std::memcpy(dst + (c * H + y) * W + x0, src + (c * H + y - dy) * W + x0 - dx, sizeof(float) * (x1 - x0));
}

// Uniform integer in [-m, m] from 32 random bits.
int64_t symmetric_int(uint32_t r, int64_t m) {
  return static_cast<int64_t>((uint64_t{r} * static_cast<uint64_t>(2 * m + 1)) >> 32) - m;
}

}  // namespace

Tensor random_crop(const Tensor& x, int64_t padding, Generator& gen) {
  KUN_CHECK(padding >= 0, ValueError, "random_crop: padding must be >= 0, got ", padding);
  Tensor b = as_batch(x, "random_crop");
  const int64_t C = b.size(1), H = b.size(2), W = b.size(3);
  // A crop at offset (oy, ox) of the zero-padded image equals a shift by (padding - oy, padding - ox).
  return per_image(b, gen, "random_crop", [&](std::array<uint32_t, 4> r, const float* s, float* d) {
           shift_image(s, d, C, H, W, symmetric_int(r[0], padding), symmetric_int(r[1], padding));
         }).view(x.shape());
}

Tensor random_shift(const Tensor& x, int64_t max_shift, Generator& gen) {
  KUN_CHECK(max_shift >= 0, ValueError, "random_shift: max_shift must be >= 0, got ", max_shift);
  Tensor b = as_batch(x, "random_shift");
  const int64_t C = b.size(1), H = b.size(2), W = b.size(3);
  return per_image(b, gen, "random_shift", [&](std::array<uint32_t, 4> r, const float* s, float* d) {
           shift_image(s, d, C, H, W, symmetric_int(r[0], max_shift), symmetric_int(r[1], max_shift));
         }).view(x.shape());
}

Tensor random_horizontal_flip(const Tensor& x, Generator& gen, double p) {
  KUN_CHECK(p >= 0 && p <= 1, ValueError, "random_horizontal_flip: p must be in [0, 1], got ", p);
  Tensor b = as_batch(x, "random_horizontal_flip");
  const int64_t rows = b.size(1) * b.size(2), W = b.size(3);
  return per_image(b, gen, "random_horizontal_flip", [&](std::array<uint32_t, 4> r, const float* s, float* d) {
           const bool flip = u32_to_unit_float(r[0]) < p;
           for (int64_t y = 0; y < rows; ++y) {
             if (flip)
               for (int64_t xx = 0; xx < W; ++xx) d[y * W + xx] = s[y * W + W - 1 - xx];
             else
               std::memcpy(d + y * W, s + y * W, sizeof(float) * W);
           }
         }).view(x.shape());
}

Tensor random_rotation(const Tensor& x, double max_degrees, Generator& gen) {
  KUN_CHECK(max_degrees >= 0 && max_degrees <= 180, ValueError,
            "random_rotation: max_degrees must be in [0, 180], got ", max_degrees);
  Tensor b = as_batch(x, "random_rotation");
  const int64_t C = b.size(1), H = b.size(2), W = b.size(3);
  const float cy = (H - 1) * 0.5f, cx = (W - 1) * 0.5f;
  return per_image(b, gen, "random_rotation", [&](std::array<uint32_t, 4> r, const float* s, float* d) {
           const double deg = (2.0 * u32_to_unit_float(r[0]) - 1.0) * max_degrees;
           const float ca = static_cast<float>(std::cos(deg * std::numbers::pi / 180)),
                       sa = static_cast<float>(std::sin(deg * std::numbers::pi / 180));
           // Inverse map: each output pixel samples the source at the point rotated back.
           for (int64_t y = 0; y < H; ++y)
             for (int64_t xx = 0; xx < W; ++xx) {
               const float u = xx - cx, v = y - cy;
               const float sx = ca * u + sa * v + cx, sy = -sa * u + ca * v + cy;
               const float fx = std::floor(sx), fy = std::floor(sy);
               const int64_t ix = static_cast<int64_t>(fx), iy = static_cast<int64_t>(fy);
               const float wx = sx - fx, wy = sy - fy;
               for (int64_t c = 0; c < C; ++c) {
                 const float* img = s + c * H * W;
                 auto at = [&](int64_t yy, int64_t xq) {
                   return (yy >= 0 && yy < H && xq >= 0 && xq < W) ? img[yy * W + xq] : 0.0f;
                 };
                 float top = at(iy, ix) + (at(iy, ix + 1) - at(iy, ix)) * wx;
                 float bot = at(iy + 1, ix) + (at(iy + 1, ix + 1) - at(iy + 1, ix)) * wx;
                 d[(c * H + y) * W + xx] = top + (bot - top) * wy;
               }
             }
         }).view(x.shape());
}

Tensor augment(const Tensor& x, const AugmentOptions& opts, Generator& gen) {
  Tensor out = x;
  if (opts.crop_padding > 0) out = random_crop(out, opts.crop_padding, gen);
  if (opts.horizontal_flip) out = random_horizontal_flip(out, gen);
  if (opts.max_rotation_degrees > 0) out = random_rotation(out, opts.max_rotation_degrees, gen);
  if (opts.max_shift > 0) out = random_shift(out, opts.max_shift, gen);
  return out;
}

}  // namespace kun::data
