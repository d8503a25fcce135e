// Gradient clipping (vs values torch.nn.utils.clip_grad_norm_ gives, worked by hand), finiteness
// checks, and the L1/L2 penalties (gradcheck).
#include <cmath>
#include <limits>

#include "golden_util.h"

using namespace kun;
using namespace kun::optim;

TEST(Clip, GradNormScalesToMaxNorm) {
  Variable a(zeros({2}), true), b(zeros({1}), true), c(zeros({3}), true);  // c has no grad
  a.set_grad(tensor({3.f, 0.f}));
  b.set_grad(tensor({4.f}));
  double total = clip_grad_norm({a, b, c}, 1.0);
  EXPECT_NEAR(total, 5.0, 1e-9);
  // coef = 1 / (5 + 1e-6)
  EXPECT_NEAR(a.grad().to_vector<double>()[0], 3.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_NEAR(b.grad().to_vector<double>()[0], 4.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_FALSE(c.has_grad());
  // Below the limit: untouched.
  a.set_grad(tensor({0.3f, 0.4f}));
  EXPECT_NEAR(clip_grad_norm({a}, 1.0), 0.5, 1e-7);
  EXPECT_FLOAT_EQ(a.grad().to_vector<float>()[1], 0.4f);
}

TEST(Clip, OtherNormsAndValue) {
  Variable a(zeros({3}), true);
  a.set_grad(tensor({1.f, -3.f, 2.f}));
  EXPECT_NEAR(clip_grad_norm({a}, 100.0, 1.0), 6.0, 1e-9);
  EXPECT_NEAR(clip_grad_norm({a}, 100.0, std::numeric_limits<double>::infinity()), 3.0, 1e-9);
  EXPECT_NEAR(clip_grad_norm({a}, 100.0, 3.0), std::cbrt(36.0), 1e-9);
  clip_grad_value({a}, 1.5);
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1.f, -1.5f, 1.5f}));
  KUN_EXPECT_ERROR(clip_grad_norm({a}, -1.0), "clip_grad_norm", "max_norm must be >= 0");
  KUN_EXPECT_ERROR(clip_grad_value({a}, -1.0), "clip_grad_value");
}

TEST(Clip, NonFiniteGradsAreReportedByName) {
  Variable a(zeros({2}), true), b(zeros({40000}), true);
  a.set_grad(tensor({1.f, 2.f}));
  Tensor gb = zeros({40000});
  gb.data<float>()[39999] = std::numeric_limits<float>::infinity();
  b.set_grad(gb);
  std::string bad;
  EXPECT_FALSE(grads_finite({a, b}, &bad, {"fc1.weight", "fc2.bias"}));
  EXPECT_EQ(bad, "fc2.bias");
  EXPECT_FALSE(grads_finite({a, b}, &bad));
  EXPECT_EQ(bad, "parameter 1");
  gb.data<float>()[39999] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(grads_finite({b}));
  // A non-finite norm leaves grads untouched (the trainer decides what to do).
  EXPECT_TRUE(std::isnan(clip_grad_norm({a, b}, 1.0)));
  EXPECT_FLOAT_EQ(a.grad().to_vector<float>()[1], 2.f);
  gb.data<float>()[39999] = 1.f;
  EXPECT_TRUE(grads_finite({a, b}));
  KUN_EXPECT_ERROR(grads_finite({a, b}, nullptr, {"x"}), "grads_finite", "1 names for 2 parameters");
}

TEST(Penalty, ValuesAndGradcheck) {
  Variable a(tensor({1.f, -2.f}), true), b(tensor({0.5f}), true);
  EXPECT_FLOAT_EQ(l1_penalty({a, b}).item<float>(), 3.5f);
  EXPECT_FLOAT_EQ(l2_penalty({a, b}).item<float>(), 5.25f);
  Variable loss = add(l2_penalty({a, b}), mul(l1_penalty({a}), 0.5));
  loss.backward();
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{2.5f, -4.5f}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{1.f}));
  Generator gen(3);
  std::vector<Tensor> in = {randn({3, 2}, DType::f64, &gen), randn({4}, DType::f64, &gen)};
  EXPECT_TRUE(kun::testing::grad_ok([](const std::vector<Variable>& v) { return l2_penalty(v); }, in));
  EXPECT_TRUE(kun::testing::grad_ok([](const std::vector<Variable>& v) { return l1_penalty(v); }, in));
  KUN_EXPECT_ERROR(l1_penalty({}), "l1_penalty", "at least one parameter");
  Variable d(ones({2}, DType::f64), true);
  KUN_EXPECT_ERROR(l2_penalty({a, d}), "l2_penalty", "parameter 1 is float64");
}
