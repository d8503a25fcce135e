// Initializers: fans, gains, statistics within tolerance of the formula, determinism per seed.
#include <cmath>

#include "golden_util.h"

using namespace kun;
using namespace kun::nn;

namespace {

struct Stats {
  double mean, std, min, max;
};
Stats stats(const Tensor& t) {
  auto v = t.to_vector<double>();
  double s = 0, s2 = 0, lo = v[0], hi = v[0];
  for (double x : v) {
    s += x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  double mean = s / v.size();
  for (double x : v) s2 += (x - mean) * (x - mean);
  return {mean, std::sqrt(s2 / (v.size() - 1)), lo, hi};
}

}  // namespace

TEST(Init, FansAndGains) {
  EXPECT_EQ(init::compute_fans({64, 32}), std::make_pair(int64_t{32}, int64_t{64}));
  EXPECT_EQ(init::compute_fans({16, 8, 3, 3}), std::make_pair(int64_t{72}, int64_t{144}));
  KUN_EXPECT_ERROR(init::compute_fans({5}), "at least 2 dims", "(5,)");
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::leaky_relu, 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::linear), 1.0);
}

TEST(Init, StatisticsMatchFormulas) {
  Generator gen(11);
  const double n = 256 * 128;  // fan_in 128, fan_out 256 ; relative std error ~ 1/sqrt(2n) = 0.4%
  auto check = [&](const Tensor& t, double want_std, const char* what) {
    Stats s = stats(t);
    EXPECT_NEAR(s.mean, 0.0, 4 * want_std / std::sqrt(n)) << what;
    EXPECT_NEAR(s.std, want_std, 0.02 * want_std) << what;
  };
  Tensor w = Tensor::empty({256, 128});
  init::xavier_uniform_(w, 1.0, &gen);
  check(w, std::sqrt(2.0 / 384), "xavier_uniform");
  EXPECT_LE(stats(w).max, std::sqrt(6.0 / 384));
  init::xavier_normal_(w, 2.0, &gen);
  check(w, 2.0 * std::sqrt(2.0 / 384), "xavier_normal");
  init::kaiming_uniform_(w, {}, &gen);
  check(w, std::sqrt(2.0 / 128), "kaiming_uniform");
  EXPECT_LE(stats(w).max, std::sqrt(6.0 / 128));
  init::kaiming_normal_(w, {.mode = init::FanMode::fan_out, .nonlinearity = init::Nonlinearity::relu}, &gen);
  check(w, std::sqrt(2.0 / 256), "kaiming_normal fan_out");
  init::he_normal_(w, {.a = 0.2}, &gen);
  check(w, std::sqrt(2.0 / 1.04 / 128), "he_normal leaky");
  init::lecun_normal_(w, &gen);
  check(w, std::sqrt(1.0 / 128), "lecun_normal");
  EXPECT_LE(stats(w).max, 2 * std::sqrt(1.0 / 128) / 0.8796256610342398 + 1e-6);
  init::normal_(w, 1.0, 0.5, &gen);
  EXPECT_NEAR(stats(w).mean, 1.0, 0.02);
  init::uniform_(w, -3, 1, &gen);
  EXPECT_NEAR(stats(w).mean, -1.0, 0.03);
  EXPECT_GE(stats(w).min, -3.0);
  init::trunc_normal_(w, 0.5, 1.0, 0.0, 1.0, &gen);
  Stats tr = stats(w);
  EXPECT_GE(tr.min, 0.0);
  EXPECT_LE(tr.max, 1.0);
  EXPECT_NEAR(tr.mean, 0.5, 0.01);  // symmetric truncation around the mean
  // Truncated at +-2 sigma: std = 0.8796 sigma.
  Tensor t2 = Tensor::empty({256, 128}, DType::f64);
  init::trunc_normal_(t2, 0.0, 1.0, -2.0, 2.0, &gen);
  EXPECT_NEAR(stats(t2).std, 0.87962566, 0.01);
  init::constant_(w, 0.25);
  EXPECT_EQ(stats(w).min, 0.25);
  init::zeros_(w);
  EXPECT_EQ(stats(w).max, 0.0);
  init::ones_(w);
  EXPECT_EQ(stats(w).min, 1.0);
}

TEST(Init, DeterministicPerSeed) {
  Tensor a = Tensor::empty({32, 16, 3}), b = Tensor::empty({32, 16, 3}), c = Tensor::empty({32, 16, 3});
  Generator g1(42), g2(42), g3(43);
  init::kaiming_uniform_(a, {}, &g1);
  init::kaiming_uniform_(b, {}, &g2);
  init::kaiming_uniform_(c, {}, &g3);
  EXPECT_TRUE(kun::testing::close(a, b, 0, 0));
  EXPECT_FALSE(kun::testing::close(a, c, 0, 0));
  init::trunc_normal_(a, 0, 1, -2, 2, &g1);
  init::trunc_normal_(b, 0, 1, -2, 2, &g2);
  EXPECT_TRUE(kun::testing::close(a, b, 0, 0));
}

TEST(Init, OrthogonalGivesOrthonormalRowsOrColumns) {
  Generator gen(9);
  for (Shape shape : {Shape{20, 20}, Shape{30, 10}, Shape{8, 4, 3}}) {
    Tensor w = Tensor::empty(shape, DType::f64);
    init::orthogonal_(w, 1.0, &gen);
    Tensor m = w.reshape({shape[0], -1});
    const int64_t rows = m.size(0), cols = m.size(1);
    // Q^T Q = I over the smaller side.
    const bool tall = rows >= cols;
    const int64_t k = tall ? cols : rows;
    auto v = m.contiguous().to_vector<double>();
    double worst = 0;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        double dot = 0;
        for (int64_t r = 0; r < (tall ? rows : cols); ++r)
          dot += tall ? v[r * cols + i] * v[r * cols + j] : v[i * cols + r] * v[j * cols + r];
        worst = std::max(worst, std::abs(dot - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(worst, 1e-10) << shape;
  }
  Tensor f = Tensor::empty({6, 6});
  init::orthogonal_(f, 2.0, &gen);
  auto v = f.to_vector<double>();
  double norm0 = 0;
  for (int j = 0; j < 6; ++j) norm0 += v[j] * v[j];
  EXPECT_NEAR(norm0, 4.0, 1e-5);  // rows have norm = gain
  KUN_EXPECT_ERROR(init::orthogonal_(Tensor::empty({4}), 1.0, &gen), "orthogonal_", "at least 2 dims");
}

TEST(Init, RejectsNonFloatAndWritesThroughViews) {
  Tensor i = zeros({4, 4}, DType::i64);
  KUN_EXPECT_ERROR(init::normal_(i), "init::normal_", "float32 or float64", "int64");
  KUN_EXPECT_ERROR(init::uniform_(zeros({2, 2}), 1.0, 0.0), "lo <= hi");
  // A parameter's data() is filled in place, also for a strided view.
  Variable p(zeros({4, 6}), true);
  init::constant_(p.data().narrow(1, 2, 2), 3.0);
  auto v = p.data().to_vector<float>();
  EXPECT_EQ(v[2], 3.f);
  EXPECT_EQ(v[3], 3.f);
  EXPECT_EQ(v[4], 0.f);
  Generator gen(1);
  init::xavier_normal_(p.data(), 1.0, &gen);
  EXPECT_NE(p.data().to_vector<float>()[4], 0.f);
}
