// Accuracy of the vectorized float32 kernels over the whole float range: every op's float32 result
// against its float64 reference path (std:: functions) rounded to float32, measured in ulp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;

namespace {

// Inputs: 2^22 bit patterns spread evenly over all floats (every exponent, both signs, inf, NaN),
// plus a dense uniform grid over [-12, 12] where the activations do their interesting work.
const Tensor& sweep_inputs() {
  static Tensor t = [] {
    std::vector<float> v;
    for (uint64_t i = 0; i < (uint64_t{1} << 22); ++i) {
      uint32_t bits = static_cast<uint32_t>(i * 1024 + 123);
      float f;
      std::memcpy(&f, &bits, 4);
      v.push_back(f);
    }
    for (int i = 0; i <= 1 << 21; ++i) v.push_back(-12.0f + 24.0f * static_cast<float>(i) / (1 << 21));
    for (float f : {0.0f, -0.0f, 1e-45f, -1e-45f, 1e-38f, 88.72f, 88.73f, -87.33f, -103.9f, -104.0f, 0.625f,
                    -0.625f, 0.921875f, 9.0f, 1e4f, -1e4f, 1e30f, -1e30f})
      v.push_back(f);
    return from_vector(v);
  }();
  return t;
}

int64_t ordered(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i < 0 ? int64_t{std::numeric_limits<int32_t>::min()} - i : i;
}

struct UlpReport {
  int64_t max_ulp = 0;
  float worst_x = 0, got = 0, want = 0;
  std::string mismatch;  // a special-value disagreement, if any
};

// Compares f(x float32) with f(x float64) rounded; differences below `abs_floor` (results that
// underflow slightly differently) or below rel_floor * |want| are not counted.
UlpReport ulp_error(const std::function<Tensor(const Tensor&)>& f, double abs_floor, double rel_floor) {
  const Tensor& x = sweep_inputs();
  auto got = f(x).to_vector<float>();
  auto want = f(x.to(DType::f64)).to(DType::f32).to_vector<float>();
  auto xs = x.to_vector<float>();
  UlpReport r;
  for (size_t i = 0; i < got.size(); ++i) {
    float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g) || std::isinf(w) || std::isinf(g)) {
      bool same = (std::isnan(w) && std::isnan(g)) || g == w;
      if (!same && r.mismatch.empty())
        r.mismatch = "x=" + std::to_string(xs[i]) + " got " + std::to_string(g) + " want " + std::to_string(w);
      continue;
    }
    double diff = std::abs(static_cast<double>(g) - w);
    if (diff <= abs_floor || diff <= rel_floor * std::abs(w)) continue;
    int64_t d = std::abs(ordered(g) - ordered(w));
    if (d > r.max_ulp) r = {d, xs[i], g, w, r.mismatch};
  }
  return r;
}

void expect_ulp(const char* name, const std::function<Tensor(const Tensor&)>& f, int64_t max_ulp,
                double abs_floor = 1e-37, double rel_floor = 0) {
  UlpReport r = ulp_error(f, abs_floor, rel_floor);
  EXPECT_TRUE(r.mismatch.empty()) << name << ": special value mismatch: " << r.mismatch;
  EXPECT_LE(r.max_ulp, max_ulp) << name << ": worst at x=" << r.worst_x << " got " << r.got << " want " << r.want;
  std::printf("  %-12s max error %lld ulp (beyond the floors)\n", name, static_cast<long long>(r.max_ulp));
}

}  // namespace

TEST(ElementwiseVec, TranscendentalsWithinFewUlp) {
  expect_ulp("exp", [](const Tensor& x) { return kun::exp(x); }, 2);
  expect_ulp("log", [](const Tensor& x) { return kun::log(x); }, 2);
  expect_ulp("log1p", [](const Tensor& x) { return kun::log1p(x); }, 3);
  expect_ulp("tanh", [](const Tensor& x) { return kun::tanh(x); }, 3);
  expect_ulp("erf", [](const Tensor& x) { return kun::erf(x); }, 3);
  expect_ulp("sigmoid", [](const Tensor& x) { return sigmoid(x); }, 3);
  expect_ulp("silu", [](const Tensor& x) { return silu(x); }, 4);
  expect_ulp("softplus", [](const Tensor& x) { return softplus(x); }, 3);
  expect_ulp("softplus_b2", [](const Tensor& x) { return softplus(x, 2.0, 10.0); }, 3);
  expect_ulp("elu", [](const Tensor& x) { return elu(x); }, 4);
  expect_ulp("gelu", [](const Tensor& x) { return gelu(x); }, 8);
  // The float rounding of the argument 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) costs about |2u| ulp
  // in the far negative tail (1e-5 relative at x = -9.5, where gelu is 1e-32).
  expect_ulp("gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApprox::tanh); }, 8, 1e-37, 2e-5);
  expect_ulp("sqrt", [](const Tensor& x) { return kun::sqrt(x); }, 0);
  expect_ulp("rsqrt", [](const Tensor& x) { return rsqrt(x); }, 1);
}

TEST(ElementwiseVec, GradientKernelsWithinFewUlp) {
  // Gradient kernels with g = 1 (so the result is the derivative itself). These derivatives cross
  // zero (gelu' near x = -0.75, silu' near -1.28), where the error is relative to the terms that
  // cancel (about 1), not to the result: hence an absolute floor of 1e-7.
  auto with_ones = [](auto fn) {
    return [fn](const Tensor& x) { return fn(ones_like(x), x); };
  };
  expect_ulp("gelu'", with_ones([](const Tensor& g, const Tensor& x) { return gelu_backward(g, x, GeluApprox::none); }), 8, 1e-7);
  expect_ulp("gelu_tanh'", with_ones([](const Tensor& g, const Tensor& x) { return gelu_backward(g, x, GeluApprox::tanh); }), 8, 1e-7, 2e-5);
  expect_ulp("silu'", with_ones([](const Tensor& g, const Tensor& x) { return silu_backward(g, x); }), 8, 1e-7);
  expect_ulp("softplus'", with_ones([](const Tensor& g, const Tensor& x) { return softplus_backward(g, x, 1, 20); }), 3);
  expect_ulp("erf'", with_ones([](const Tensor& g, const Tensor& x) { return erf_backward(g, x); }), 4);
}
