#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kun/kun.h"

using namespace kun;

TEST(Tensor, FactoriesAndViews) {
  Tensor a = arange(0, 24, 1, DType::f32).view({2, 3, 4});
  EXPECT_EQ(a.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(a.is_contiguous());
  Tensor t = a.permute({2, 0, 1});
  EXPECT_EQ(t.shape(), (Shape{4, 2, 3}));
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  // element (k, i, j) of the permuted view is a[i, j, k] = i*12 + j*4 + k
  auto v = c.to_vector<float>();
  EXPECT_FLOAT_EQ(v[(3 * 2 + 1) * 3 + 2], 1 * 12 + 2 * 4 + 3);
  EXPECT_EQ(a.storage(), t.storage());  // views share storage
  Tensor n = a.narrow(1, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 2, 4}));
  EXPECT_FLOAT_EQ(n.contiguous().to_vector<float>()[0], 4);
  Tensor s = a.slice(2, 0, 4, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_FLOAT_EQ(s.contiguous().to_vector<float>()[1], 2);
  Tensor e = tensor({1, 2, 3}).unsqueeze(0).expand({4, 3});
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_FLOAT_EQ(e.contiguous().to_vector<float>()[10], 2);
  EXPECT_EQ(a.reshape({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_THROW(a.view({5, -1}), ShapeError);
  EXPECT_THROW(t.view({24}), ShapeError);           // non-contiguous: view impossible
  EXPECT_EQ(t.reshape({24}).numel(), 24);          // reshape copies
  EXPECT_EQ(a.squeeze().shape(), a.shape());
  EXPECT_EQ(a.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(a.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(a.select(1, 2).shape(), (Shape{2, 4}));
}

TEST(Tensor, DtypeConversionAndFill) {
  Tensor a = full({3}, 2.7, DType::f64);
  EXPECT_EQ(a.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_THROW(a.data<float>(), TypeError);
  EXPECT_DOUBLE_EQ(scalar_tensor(5).item<double>(), 5.0);
  EXPECT_THROW(a.item<double>(), ValueError);
}

TEST(Random, SameNumbersForAnyThreadCount) {
  Generator g1(42), g2(42);
  set_num_threads(1);
  Tensor a = randn({100000}, DType::f32, &g1);
  set_num_threads(2);
  Tensor b = randn({100000}, DType::f32, &g2);
  set_num_threads(0);
  EXPECT_TRUE(allclose(a, b, 0, 0));
  auto v = a.to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  s = std::sqrt(s / v.size());
  EXPECT_NEAR(m, 0.0, 0.02);
  EXPECT_NEAR(s, 1.0, 0.02);
  Tensor p = randperm(10, &g1);
  auto pv = p.to_vector<int64_t>();
  std::sort(pv.begin(), pv.end());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pv[i], i);
}

TEST(Autograd, AddMulBroadcastAndReuse) {
  Variable x(from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  Variable b(from_vector<double>({10, 20, 30}, {3}), true);
  Variable y = sum(mul(add(x, b), x));  // x used twice; b broadcast
  y.backward();
  // dy/dx = 2x + b ; dy/db = sum over rows of x
  auto gx = x.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(gx[0], 2 * 1 + 10);
  EXPECT_DOUBLE_EQ(gx[5], 2 * 6 + 30);
  auto gb = b.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(gb[0], 1 + 4);
  EXPECT_DOUBLE_EQ(gb[2], 3 + 6);
  EXPECT_FALSE(y.grad_fn());  // graph freed
}

TEST(Autograd, NoGradAndDetach) {
  Variable x(ones({3}), true);
  {
    NoGradGuard g;
    Variable y = mul(x, 2.0);
    EXPECT_FALSE(y.requires_grad());
  }
  Variable z = mul(x.detach(), 2.0);
  EXPECT_FALSE(z.requires_grad());
  EXPECT_THROW(z.backward(), ValueError);
}

TEST(Autograd, Gradcheck) {
  auto r = gradcheck([](const std::vector<Variable>& v) { return div(mul(v[0], v[1]), add(v[1], 3.0)); },
                     {randn({3, 4}, DType::f64), rand({4}, DType::f64)});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Autograd, LeafGradsNeverAliasEachOther) {
  // add's backward hands the same gradient buffer to both inputs: each leaf must own its copy,
  // so scaling one grad in place (as clipping does) leaves the other alone.
  Variable a(ones({4}), true), b(ones({4}), true);
  add(a, b).backward(ones({4}));
  EXPECT_NE(a.grad().storage(), b.grad().storage());
  Tensor ga = a.grad();
  mul_(ga, 3.0);
  EXPECT_FLOAT_EQ(b.grad().to_vector<float>()[0], 1.0f);
}
