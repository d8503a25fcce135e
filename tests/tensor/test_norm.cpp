// layer_norm / batch_norm / dropout: golden values (forward, grads, running stats), gradchecks,
// extreme inputs, errors, and dropout statistics and determinism.
#include <gtest/gtest.h>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using namespace kun::testing;

namespace {
const json& C(const char* name) { return golden_case("nnops", name); }
}  // namespace

TEST(NormOps, LayerNormGolden) {
  {
    const json& c = C("layer_norm_last1");
    Variable x(input(c, "x"), true), w(input(c, "w"), true), b(input(c, "b"), true);
    Variable y = layer_norm(x, {5}, w, b);
    EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
    y.backward(input(c, "gy"));
    EXPECT_TRUE(close(x.grad(), output(c, "gx"), 1e-4, 1e-5));
    EXPECT_TRUE(close(w.grad(), output(c, "gw"), 1e-4, 1e-5));
    EXPECT_TRUE(close(b.grad(), output(c, "gb"), 1e-4, 1e-5));
  }
  {
    const json& c = C("layer_norm_last2");
    EXPECT_TRUE(close(layer_norm(input(c, "x"), {3, 4}), output(c, "y"), 1e-4, 1e-5));
  }
  {
    const json& c = C("layer_norm_weight_nc");
    Tensor x = input(c, "xt").t();
    EXPECT_TRUE(close(layer_norm(x, {6}, input(c, "w"), Tensor(), {.eps = 1e-3}), output(c, "y"), 1e-4, 1e-5));
  }
}

TEST(NormOps, BatchNormGolden) {
  for (const char* name : {"batch_norm_train_2d", "batch_norm_train_3d", "batch_norm_train_4d", "batch_norm_eval_3d"}) {
    SCOPED_TRACE(name);
    const json& c = C(name);
    BatchNormOptions o{.training = c["attrs"]["training"].get<bool>(),
                       .momentum = c["attrs"]["momentum"].get<double>(),
                       .eps = c["attrs"]["eps"].get<double>()};
    Tensor rm = input(c, "rm"), rv = input(c, "rv");
    Variable x(input(c, "x"), true), w(input(c, "w"), true), b(input(c, "b"), true);
    Variable y = batch_norm(x, rm, rv, w, b, o);
    EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
    EXPECT_TRUE(close(rm, output(c, "rm"), 1e-4, 1e-6));
    EXPECT_TRUE(close(rv, output(c, "rv"), 1e-4, 1e-6));
    if (c["inputs"].contains("gy")) {
      y.backward(input(c, "gy"));
      EXPECT_TRUE(close(x.grad(), output(c, "gx"), 1e-4, 1e-5));
      EXPECT_TRUE(close(w.grad(), output(c, "gw"), 1e-4, 1e-5));
      EXPECT_TRUE(close(b.grad(), output(c, "gb"), 1e-4, 1e-5));
    }
  }
}

TEST(NormOps, Gradcheck) {
  Generator g(5);
  Tensor x = randn({3, 2, 4}, DType::f64, &g), w = randn({4}, DType::f64, &g), b = randn({4}, DType::f64, &g);
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return layer_norm(v[0], {4}, v[1], v[2]); }, {x, w, b}));
  Tensor w2 = randn({2, 4}, DType::f64, &g);
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return layer_norm(v[0], {2, 4}, v[1]); }, {x, w2}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return layer_norm(v[0], {2, 4}); }, {x}));
  // non-contiguous input
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return layer_norm(transpose(v[0], 0, 2), {3}); }, {x}));

  Tensor xb = randn({4, 3, 5}, DType::f64, &g), wb = randn({3}, DType::f64, &g), bb = randn({3}, DType::f64, &g);
  for (bool training : {true, false}) {
    EXPECT_TRUE(grad_ok(
        [training](const std::vector<Variable>& v) {
          Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);  // fresh buffers each call
          return batch_norm(v[0], rm, rv, v[1], v[2], {.training = training});
        },
        {xb, wb, bb}))
        << "training " << training;
  }
  Tensor x2 = randn({5, 3}, DType::f64, &g);
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return batch_norm(v[0], Tensor(), Tensor()); }, {x2}));
  Tensor x4 = randn({2, 3, 2, 2}, DType::f64, &g);
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Variable>& v) { return batch_norm(v[0], Tensor(), Tensor(), v[1], Variable()); }, {x4, wb}));
  // dropout: same generator state each call, so the mask is fixed
  Tensor xd = randn({4, 7}, DType::f64, &g);
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Variable>& v) {
        Generator dg(99);
        return dropout(v[0], 0.3, true, &dg);
      },
      {xd}));
}

TEST(NormOps, ExtremeInputsStayFinite) {
  // constant rows: variance 0 -> output 0 (bias), gradient finite
  Variable xc(full({2, 8}, 5.0, DType::f32), true);
  Variable y = layer_norm(xc, {8});
  EXPECT_TRUE(all_finite(y.data()));
  EXPECT_TRUE(close(y.data(), zeros({2, 8}), 0, 1e-6));
  sum(mul(y, y)).backward();
  EXPECT_TRUE(all_finite(xc.grad()));
  // huge values with a tiny spread: two-pass variance must not cancel catastrophically
  Tensor h = add(mul(randn({4, 64}), 1.0), 1e4);
  Tensor yh = layer_norm(h, {64});
  EXPECT_TRUE(all_finite(yh));
  auto v = yh.to_vector<double>();
  double s2 = 0;
  for (int i = 0; i < 64; ++i) s2 += v[i] * v[i];
  EXPECT_NEAR(s2 / 64, 1.0, 1e-2);
  Tensor hb = add(randn({8, 3, 16}), 1e4);
  Tensor rm = zeros({3}), rv = ones({3});
  Tensor yb = batch_norm(hb, rm, rv);
  EXPECT_TRUE(all_finite(yb));
  EXPECT_TRUE(all_finite(rv));
  Tensor cb = full({4, 2, 3}, -7.0);
  EXPECT_TRUE(all_finite(batch_norm(cb, Tensor(), Tensor())));
  EXPECT_TRUE(all_finite(dropout(full({100}, 1e38), 0.5)));
}

TEST(NormOps, BatchNormRunningStatsAndEval) {
  // x: (N=4, C=1): values 1, 2, 3, 4 -> mean 2.5, biased var 1.25, unbiased 5/3
  Tensor x = from_vector<float>({1, 2, 3, 4}, {4, 1});
  Tensor rm = zeros({1}), rv = ones({1});
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), {.momentum = 0.5, .eps = 0});
  EXPECT_NEAR(rm.item<float>(), 1.25, 1e-6);
  EXPECT_NEAR(rv.item<float>(), 0.5 + 0.5 * 5.0 / 3.0, 1e-6);
  EXPECT_NEAR(y.to_vector<float>()[0], (1 - 2.5) / std::sqrt(1.25), 1e-5);
  Tensor ye = batch_norm(x, rm, rv, Tensor(), Tensor(), {.training = false, .eps = 0});
  EXPECT_NEAR(ye.to_vector<float>()[3], (4 - rm.item<float>()) / std::sqrt(rv.item<float>()), 1e-5);
  EXPECT_NEAR(rm.item<float>(), 1.25, 1e-6);  // eval leaves the running stats alone
}

TEST(NormOps, DropoutStatisticsAndDeterminism) {
  const int64_t n = 200000;
  const double p = 0.3;
  Tensor x = ones({n});
  Generator g1(2024), g2(2024);
  set_num_threads(1);
  Tensor a = dropout(x, p, true, &g1);
  set_num_threads(2);
  Tensor b = dropout(x, p, true, &g2);
  set_num_threads(0);
  EXPECT_TRUE(allclose(a, b, 0, 0));
  auto v = a.to_vector<float>();
  int64_t kept = 0;
  double total = 0;
  for (float e : v) {
    if (e != 0) {
      ++kept;
      EXPECT_FLOAT_EQ(e, static_cast<float>(1.0 / (1.0 - p)));
    }
    total += e;
  }
  const double frac = static_cast<double>(kept) / n;
  // binomial std of the keep fraction: sqrt(p(1-p)/n) ~ 0.001; allow 5 sigma
  EXPECT_NEAR(frac, 1 - p, 0.005);
  EXPECT_NEAR(total / n, 1.0, 0.01);  // inverted dropout keeps the expectation
  // the next draw differs (the generator advanced)
  EXPECT_FALSE(allclose(dropout(x, p, true, &g1), a, 0, 0));
  // eval and p = 0 are the identity; p = 1 gives zeros
  EXPECT_TRUE(allclose(dropout(x, p, false, &g1), x, 0, 0));
  EXPECT_TRUE(allclose(dropout(x, 0.0, true, &g1), x, 0, 0));
  EXPECT_TRUE(allclose(dropout(x, 1.0, true, &g1), zeros({n}), 0, 0));
  // the Variable version applies the same mask in backward
  Generator g3(2024);
  Variable xv(ones({n}), true);
  Variable yv = dropout(xv, p, true, &g3);
  EXPECT_TRUE(allclose(yv.data(), a, 0, 0));
  sum(yv).backward();
  EXPECT_TRUE(allclose(xv.grad(), a, 0, 0));
}

TEST(NormOps, Errors) {
  Tensor x = zeros({2, 3, 4});
  KUN_EXPECT_ERROR(layer_norm(x, {3}), "layer_norm", "normalized_shape (3,)", "(2, 3, 4)");
  EXPECT_THROW(layer_norm(x, {3}), ShapeError);
  KUN_EXPECT_ERROR(layer_norm(x, {4}, zeros({3})), "layer_norm", "weight", "(4,)", "(3,)");
  KUN_EXPECT_ERROR(layer_norm(x.to(DType::i64), {4}), "layer_norm", "float32 or float64", "int64");
  EXPECT_THROW(layer_norm(x.to(DType::i64), {4}), TypeError);
  Tensor rm = zeros({3}), rv = ones({3});
  KUN_EXPECT_ERROR(batch_norm(zeros({5}), rm, rv), "batch_norm", "(N, C)", "(5,)");
  KUN_EXPECT_ERROR(batch_norm(x, zeros({4}), rv), "batch_norm", "running_mean", "(3,)", "(4,)");
  KUN_EXPECT_ERROR(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), {.training = false}), "batch_norm", "eval",
                   "running_mean");
  KUN_EXPECT_ERROR(batch_norm(zeros({1, 3}), rm, rv), "batch_norm", "more than 1 value", "(1, 3)");
  EXPECT_THROW(batch_norm(zeros({1, 3}), rm, rv), ValueError);
  KUN_EXPECT_ERROR(batch_norm(x, rm.to(DType::f64), rv), "batch_norm", "running_mean", "float32", "float64");
  KUN_EXPECT_ERROR(dropout(x, 1.5), "dropout", "[0, 1]", "1.5");
  KUN_EXPECT_ERROR(dropout(x, -0.1), "dropout", "[0, 1]", "-0.1");
  KUN_EXPECT_ERROR(dropout(x.to(DType::i32), 0.5), "dropout", "int32");
}

TEST(NormOps, NonContiguousAndThreadCounts) {
  Generator g(8);
  Tensor x = randn({64, 300}, DType::f32, &g);
  // dropout follows the logical (row-major) order, so a transposed input gets the mask of its copy
  Generator d1(5), d2(5);
  Tensor xt = x.t();
  EXPECT_TRUE(close(dropout(xt, 0.5, true, &d1), dropout(xt.contiguous(), 0.5, true, &d2), 0, 0));
  // layer_norm / batch_norm give the same result with 1 and 2 threads (rows / channels are independent)
  Tensor big = randn({256, 512}, DType::f32, &g);
  set_num_threads(1);
  Tensor l1 = layer_norm(big, {512});
  Tensor b1 = batch_norm(big.view({256, 8, 64}), Tensor(), Tensor());
  set_num_threads(2);
  Tensor l2 = layer_norm(big, {512});
  Tensor b2 = batch_norm(big.view({256, 8, 64}), Tensor(), Tensor());
  set_num_threads(0);
  EXPECT_TRUE(close(l1, l2, 0, 0));
  EXPECT_TRUE(close(b1, b2, 0, 0));
}

TEST(NormOps, DropoutMaskIsTheScalarPhiloxStream) {
  // The kernel draws eight Philox blocks at a time; every element must still get exactly the
  // draw of the scalar philox(key, offset + i / 4) word i % 4, for any length and offset.
  for (int64_t n : {1, 3, 31, 32, 33, 100, 4096 * 4 + 37}) {
    for (uint64_t offset : {uint64_t{0}, uint64_t{5}, uint64_t{1} << 33}) {
    for (double p : {0.1, 0.4, 0.5}) {
      Tensor x = add(rand({n}), 0.5);  // nonzero everywhere
      Tensor y = dropout_masked(x, p, 0x1234567890ull, offset).contiguous();
      const float* px = x.data<float>();
      const float* py = y.data<float>();
      int64_t bad = 0;
      for (int64_t i = 0; i < n; ++i) {
        const auto w = philox(0x1234567890ull, offset + static_cast<uint64_t>(i / 4));
        const bool keep = u32_to_unit_float(w[i % 4]) >= static_cast<float>(p);
        const float want = keep ? px[i] * static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
        bad += py[i] != want;
      }
      EXPECT_EQ(bad, 0) << "n " << n << " offset " << offset << " p " << p;
    }
    }
  }
}
