// Differentiable views: forward equals the Tensor view, backward maps the gradient back.
#include <gtest/gtest.h>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using namespace kun::testing;

namespace {
using Fn = std::function<Variable(const std::vector<Variable>&)>;
// Multiplies by a fixed non-uniform weight so a wrong element mapping changes the gradient.
Variable weighted(const Variable& y) {
  Tensor w = arange(1, static_cast<double>(y.numel()) + 1, 1, y.dtype()).reshape(y.shape());
  return mul(y, Variable(w));
}
}  // namespace

TEST(ViewGrad, GradcheckEveryView) {
  Generator g(1);
  Tensor x = randn({2, 3, 4}, DType::f64, &g);
  std::vector<std::pair<const char*, Fn>> cases = {
      {"view", [](auto& v) { return view(v[0], {6, -1}); }},
      {"reshape_nc", [](auto& v) { return reshape(transpose(v[0], 0, 2), {-1}); }},
      {"permute", [](auto& v) { return permute(v[0], {2, 0, 1}); }},
      {"transpose", [](auto& v) { return transpose(v[0], -1, 0); }},
      {"t", [](auto& v) { return t(select(v[0], 0, 1)); }},
      {"narrow", [](auto& v) { return narrow(v[0], 1, 1, 2); }},
      {"slice_step", [](auto& v) { return slice(v[0], -1, 0, 4, 2); }},
      {"slice_neg", [](auto& v) { return slice(v[0], 1, -2, 3); }},
      {"select_neg", [](auto& v) { return select(v[0], -1, -1); }},
      {"expand", [](auto& v) { return expand(narrow(v[0], 1, 0, 1), {3, 2, 3, 4}); }},
      {"squeeze_all", [](auto& v) { return squeeze(narrow(v[0], 1, 2, 1)); }},
      {"squeeze_dim", [](auto& v) { return squeeze(narrow(v[0], 2, 0, 1), -1); }},
      {"unsqueeze", [](auto& v) { return unsqueeze(v[0], -1); }},
      {"flatten", [](auto& v) { return flatten(v[0], 1); }},
      {"contiguous", [](auto& v) { return contiguous(permute(v[0], {1, 2, 0})); }},
      {"to_f32_and_back", [](auto& v) { return to(to(v[0], DType::f32), DType::f64); }},
      {"reuse", [](auto& v) { return add(narrow(v[0], 2, 0, 2), slice(v[0], 2, 1, 4, 2)); }},
  };
  for (auto& [name, f] : cases) {
    GradcheckOptions o;
    if (std::string(name) == "to_f32_and_back") o.atol = 1e-3, o.eps = 1e-3;  // the f32 hop rounds
    EXPECT_TRUE(grad_ok([&f](const std::vector<Variable>& v) { return weighted(f(v)); }, {x}, o)) << name;
  }
}

TEST(ViewGrad, BackwardValues) {
  Variable x(arange(0, 6, 1, DType::f32).reshape({2, 3}), true);
  Variable y = select(x, 1, 2);  // (2)
  EXPECT_EQ(y.data().to_vector<float>(), (std::vector<float>{2, 5}));
  EXPECT_EQ(y.data().storage(), x.data().storage());  // still a view
  sum(mul(y, 3.0)).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 0, 3, 0, 0, 3}));
  x.zero_grad();
  sum(expand(unsqueeze(x, 0), {4, 2, 3})).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(6, 4.f));
  x.zero_grad();
  // to(f64) on a f32 variable: grad comes back as f32
  sum(to(x, DType::f64)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::f32);
  // to(int64) is a constant
  EXPECT_FALSE(to(x, DType::i64).requires_grad());
}

TEST(ViewGrad, ExtremeValuesStayFinite) {
  Variable x(full({3, 4}, 3e38, DType::f32), true);
  Variable y = slice(permute(x, {1, 0}), 0, 0, 4, 3);
  EXPECT_TRUE(all_finite(y.data()));
  y.backward(full(y.shape(), 1e30, DType::f32));
  EXPECT_TRUE(all_finite(x.grad()));
}

TEST(ViewGrad, Errors) {
  Variable x(zeros({2, 3}), true);
  KUN_EXPECT_ERROR(view(x, {5, -1}), "view");
  EXPECT_THROW(view(x, {5, -1}), ShapeError);
  KUN_EXPECT_ERROR(permute(x, {0, 0}), "permute", "twice");
  KUN_EXPECT_ERROR(narrow(x, 1, 2, 2), "narrow", "[2, 4)", "size 3");
  EXPECT_THROW(select(x, 0, 2), IndexError);
  KUN_EXPECT_ERROR(expand(x, {2, 4}), "expand", "(2, 3)", "(2, 4)");
  KUN_EXPECT_ERROR(t(unsqueeze(x, 0)), "t", "2-D", "(1, 2, 3)");
  EXPECT_THROW(transpose(x, 0, 2), IndexError);
}
