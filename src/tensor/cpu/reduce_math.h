// Internal: small math helpers shared by the reduction, softmax and loss kernels. Written as
// plain branch-free scalar code so `#pragma omp simd` loops around them vectorize.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace kun::cpu {

// exp(x) for float: x = n*ln2 + r with |r| <= ln2/2, exp(r) by a degree-7 minimax polynomial,
// 2^n built in the exponent bits. Relative error ~2 ulp. Inputs below -88 give 0 and above 88
// are clamped (softmax-style callers only pass x <= 0). NaN stays NaN.
inline float exp_fast(float x) {
  x = x < -88.0f ? -88.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  float t = x * 1.44269504088896341f + shifter;
  float n = t - shifter;
  uint32_t ni = std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(shifter);  // n as a two's complement int
  float r = x - n * 0.693359375f;   // ln2 split in a high part exact in float ...
  r = r - n * -2.12194440e-4f;      // ... and the low remainder
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n; n = -127 (x = -88) yields exponent bits 0, i.e. 0.0f
  float scale = std::bit_cast<float>((ni + 127u) << 23);
  return p * scale;
}
inline double exp_fast(double x) { return std::exp(x); }

template <typename T>
inline T max_nan(T a, T b) {  // NaN-propagating max
  return (b > a || b != b) ? b : a;
}
template <typename T>
inline T min_nan(T a, T b) {
  return (b < a || b != b) ? b : a;
}

// Largest of n contiguous values (-inf for n == 0), with independent lanes so it vectorizes.
template <typename T>
T max_contiguous(const T* x, int64_t n) {
  constexpr int kLanes = 32 / sizeof(T) * 2;
  T m = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  if (n >= kLanes) {
    T lane[kLanes];
    for (int j = 0; j < kLanes; ++j) lane[j] = m;
    for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    }
    for (int j = 0; j < kLanes; ++j) m = lane[j] > m ? lane[j] : m;
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

}  // namespace kun::cpu
