// Augmentation: exact SNR, shifts, speed perturbation, SpecAugment; determinism by seed.
#include <cmath>
#include <set>

#include "kun/apps/speech/augment.h"
#include "speech_test_util.h"

using namespace kun;
using namespace kun::speech;
using namespace kun::testing;

namespace {
Tensor tone(int64_t n, double hz, int rate = 8000) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * hz * i / rate));
  return from_vector(v);
}
double power(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return s / v.size();
}
int64_t zero_crossings(const Tensor& x) {
  auto v = x.to_vector<float>();
  int64_t z = 0;
  for (size_t i = 1; i < v.size(); ++i) z += (v[i - 1] < 0) != (v[i] < 0);
  return z;
}
}  // namespace

TEST(SpeechAugment, NoiseHitsTheRequestedSnrAndIsSeeded) {
  Tensor x = tone(8000, 300);
  for (double snr : {20.0, 5.0, -3.0}) {
    Generator g(42);
    Tensor y = add_noise(x, snr, g);
    auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
    std::vector<float> n(xv.size());
    for (size_t i = 0; i < n.size(); ++i) n[i] = yv[i] - xv[i];
    EXPECT_NEAR(10 * std::log10(power(xv) / power(n)), snr, 1e-3);
    Generator g2(42);
    EXPECT_TRUE(close(add_noise(x, snr, g2), y, 0, 0));  // same seed, same noise
    Generator g3(43);
    EXPECT_FALSE(close(add_noise(x, snr, g3), y, 0, 0));
  }
  // A given (shorter) noise recording is tiled; SNR still exact.
  Generator g(1);
  Tensor noise = randn({777}, DType::f32, &g);
  Tensor y = add_noise(x, noise, 10.0, g);
  auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
  std::vector<float> n(xv.size());
  for (size_t i = 0; i < n.size(); ++i) n[i] = yv[i] - xv[i];
  EXPECT_NEAR(10 * std::log10(power(xv) / power(n)), 10.0, 1e-3);
  EXPECT_TRUE(close(add_noise(zeros({100}), 10.0, g), zeros({100}), 0, 0));  // silence: unchanged, no NaN
  KUN_EXPECT_ERROR(add_noise(x, std::nan(""), g), "add_noise", "snr_db");
  KUN_EXPECT_ERROR(add_noise(x, zeros({0}), 3.0, g), "add_noise", "non-empty");
}

TEST(SpeechAugment, TimeShift) {
  Tensor x = tensor({1, 2, 3, 4, 5});
  EXPECT_TRUE(close(shift(x, 2), tensor({0, 0, 1, 2, 3}), 0, 0));
  EXPECT_TRUE(close(shift(x, -1), tensor({2, 3, 4, 5, 0}), 0, 0));
  EXPECT_TRUE(close(shift(x, 2, ShiftMode::wrap), tensor({4, 5, 1, 2, 3}), 0, 0));
  Generator g(5);
  std::set<std::vector<float>> seen;
  for (int i = 0; i < 50; ++i) {
    Tensor y = time_shift(x, 2, g);
    auto v = y.to_vector<float>();
    // must be one of the five shifts in [-2, 2]
    bool ok = false;
    for (int s = -2; s <= 2; ++s) ok |= close(y, shift(x, s), 0, 0);
    EXPECT_TRUE(ok);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 5u);
  Generator a(9), b(9);
  EXPECT_TRUE(close(time_shift(x, 2, a), time_shift(x, 2, b), 0, 0));
  KUN_EXPECT_ERROR(time_shift(x, -1, g), "time_shift", "max_shift");
}

TEST(SpeechAugment, SpeedPerturbation) {
  Tensor x = tone(8000, 400);
  Tensor f = speed_perturb(x, 1.1);
  EXPECT_EQ(f.numel(), std::llround(8000 / 1.1));
  // 400 Hz played 1.1x faster is 440 Hz at the same sample rate: ~10% more zero crossings per sample.
  const double zx = static_cast<double>(zero_crossings(x)) / x.numel();
  const double zf = static_cast<double>(zero_crossings(f)) / f.numel();
  EXPECT_NEAR(zf / zx, 1.1, 0.01);
  EXPECT_EQ(speed_perturb(x, 0.9).numel(), std::llround(8000 / 0.9));
  Generator g(3);
  for (int i = 0; i < 10; ++i) {
    int64_t n = speed_perturb(x, {0.9, 1.0, 1.1}, g).numel();
    EXPECT_TRUE(n == 8889 || n == 8000 || n == 7273) << n;
  }
  KUN_EXPECT_ERROR(speed_perturb(x, 10.0), "speed_perturb", "factor");
}

TEST(SpeechAugment, SpecAugmentMasks) {
  Tensor spec = ones({40, 100});
  SpecAugmentOptions o{.freq_mask_param = 10, .n_freq_masks = 2, .time_mask_param = 20, .n_time_masks = 2};
  Generator g(11);
  Tensor m = spec_augment(spec, o, g);
  Generator g2(11);
  EXPECT_TRUE(close(spec_augment(spec, o, g2), m, 0, 0));
  auto v = m.to_vector<float>();
  // A masked cell is 0; fully masked rows / columns form contiguous bands no wider than 2 * param.
  int64_t rows = 0, cols = 0;
  for (int f = 0; f < 40; ++f) {
    bool all = true;
    for (int t = 0; t < 100; ++t) all &= v[f * 100 + t] == 0;
    rows += all;
  }
  for (int t = 0; t < 100; ++t) {
    bool all = true;
    for (int f = 0; f < 40; ++f) all &= v[f * 100 + t] == 0;
    cols += all;
  }
  EXPECT_LE(rows, 2 * 9);
  EXPECT_LE(cols, 2 * 19);
  double masked = 0;
  for (float x : v) masked += x == 0;
  EXPECT_GT(masked, 0);  // with this seed some mask has width > 0
  // p caps the time mask at floor(p * T) frames; mask_value is used.
  Generator g3(2);
  Tensor capped = spec_augment(ones({1, 5, 10}), {.time_mask_param = 100, .p = 0.2, .mask_value = -7}, g3);
  auto c = capped.to_vector<float>();
  int64_t tm = 0;
  for (int t = 0; t < 10; ++t) tm += c[t] == -7;
  EXPECT_LE(tm, 1);  // width = floor(u * 2) <= 1
  KUN_EXPECT_ERROR(spec_augment(ones({4}), o, g), "spec_augment", "(freq, time)");
  KUN_EXPECT_ERROR(spec_augment(spec, {.p = 2.0}, g), "spec_augment", "p must be");
}
