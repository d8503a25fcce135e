// Reductions and softmax: PyTorch golden values (forward and the gradient of a fixed projection),
// float64 gradchecks, extreme inputs, the threaded paths against a plain reference, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using namespace kun::testing;

namespace {

std::vector<int64_t> dims_of(const json& a) {
  if (!a.contains("dims")) return {};
  return a["dims"].get<std::vector<int64_t>>();
}

double p_of(const json& a) {
  const json& p = a["p"];
  if (p.is_string()) return p.get<std::string>() == "inf" ? kInf : -kInf;
  return p.get<double>();
}

// Runs the op named in the case on a Variable; returns {values, indices (may be undefined)}.
std::pair<Variable, Tensor> run_case(const json& a, const Variable& x) {
  const std::string op = a["op"];
  const bool keepdim = a.value("keepdim", false);
  auto dims = dims_of(a);
  if (op == "sum") return {sum(x, dims, keepdim), {}};
  if (op == "mean") return {mean(x, dims, keepdim), {}};
  if (op == "prod") return {prod(x, dims, keepdim), {}};
  if (op == "amax") return {amax(x, dims, keepdim), {}};
  if (op == "amin") return {amin(x, dims, keepdim), {}};
  if (op == "max" || op == "min") {
    auto r = op == "max" ? max(x, a["dim"].get<int64_t>(), keepdim) : min(x, a["dim"].get<int64_t>(), keepdim);
    return {r.values, r.indices};
  }
  if (op == "argmax" || op == "argmin") {
    std::optional<int64_t> d;
    if (!a["dim"].is_null()) d = a["dim"].get<int64_t>();
    Tensor i = op == "argmax" ? argmax(x.data(), d, keepdim) : argmin(x.data(), d, keepdim);
    return {Variable(), i};
  }
  if (op == "var" || op == "std") {
    VarOptions o{.correction = a["correction"].get<double>(), .keepdim = keepdim};
    return {op == "var" ? var(x, dims, o) : kun::std(x, dims, o), {}};
  }
  if (op == "logsumexp") return {logsumexp(x, dims, keepdim), {}};
  if (op == "norm") return {norm(x, p_of(a), dims, keepdim), {}};
  if (op == "softmax") return {softmax(x, a["dim"].get<int64_t>()), {}};
  if (op == "log_softmax") return {log_softmax(x, a["dim"].get<int64_t>()), {}};
  throw std::runtime_error("unknown op " + op);
}

}  // namespace

TEST(ReduceGolden, AllCasesForwardAndGradient) {
  const json& cases = golden("reduce")["cases"];
  int forward = 0, grads = 0;
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    SCOPED_TRACE(it.key());
    const json& c = it.value();
    const json& a = c["attrs"];
    Tensor xt = input(c, "x");
    Variable x(xt, true);
    Variable xin = x;
    if (a["transpose"].get<bool>()) {
      // non-contiguous input: a transposed view (the Variable holds the view; grads map back)
      xin = Variable(xt.transpose(-1, -2), true);
    }
    auto [y, idx] = run_case(a, xin);
    if (y.defined()) {
      EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
      ++forward;
    } else {
      EXPECT_TRUE(close(idx, output(c, "y"), 0, 0));
      ++forward;
    }
    if (c["outputs"].contains("i")) {
      EXPECT_TRUE(close(idx, output(c, "i"), 0, 0));
    }
    if (c["outputs"].contains("gx") && y.defined()) {
      Tensor w = linspace(-1, 1, y.numel()).reshape(y.shape());
      y.backward(w);
      Tensor g = xin.grad();
      if (a["transpose"].get<bool>()) g = g.transpose(-1, -2);
      EXPECT_TRUE(close(g.contiguous(), output(c, "gx"), 1e-4, 1e-5));
      ++grads;
    }
  }
  EXPECT_GE(forward, 45);
  EXPECT_GE(grads, 35);
}

// ---- gradchecks (float64) ----
TEST(ReduceGrad, Gradcheck) {
  Generator gen(7);
  Tensor x = randn({3, 4, 5}, DType::f64, &gen);
  Tensor xt = randn({4, 3}, DType::f64, &gen).t();  // non-contiguous
  auto f1 = [](std::function<Variable(const Variable&)> f) {
    return [f](const std::vector<Variable>& v) { return f(v[0]); };
  };
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return sum(v, {0, 2}); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return mean(v, {1}, true); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return mean(v); }), {xt}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return prod(v, {2}); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return amax(v, {0, 2}); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return amin(v, {1}); }), {xt}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return max(v, 1).values; }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return min(v, 0, true).values; }), {xt}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return var(v, {1}); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return var(v, {}, {.correction = 0}); }), {xt}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return kun::std(v, {0, 2}, {.keepdim = true}); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return logsumexp(v, {2}); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return logsumexp(v, {0, 1}); }), {xt.unsqueeze(0)}));
  for (double p : {1.0, 2.0, 3.0, 0.5, kInf, -kInf})
    EXPECT_TRUE(grad_ok(f1([p](auto& v) { return norm(v, p, {1}); }), {x})) << "p=" << p;
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return norm(v); }), {xt}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return softmax(v, -1); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return softmax(v, 1); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return softmax(v, 0); }), {xt}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return log_softmax(v, -1); }), {x}));
  EXPECT_TRUE(grad_ok(f1([](auto& v) { return log_softmax(v, 0); }), {x}));
}

TEST(ReduceGrad, TiesAndZeros) {
  // amax splits evenly between ties; max(dim) routes to the returned (first) index
  Variable x(from_vector<double>({1, 3, 3, 2}, {1, 4}), true);
  amax(x, {1}).backward(ones({1}, DType::f64));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0.5, 0.5, 0}));
  x.zero_grad();
  max(x, 1).values.backward(ones({1}, DType::f64));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 0, 0}));
  // norm at 0 and std of a constant: subgradient 0, never NaN
  for (double p : {2.0, 1.0, 3.0, kInf}) {
    Variable z(zeros({3}, DType::f64), true);
    norm(z, p).backward();
    EXPECT_TRUE(all_finite(z.grad())) << "p=" << p;
    EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{0, 0, 0})) << "p=" << p;
  }
  Variable c(full({4}, 2.0, DType::f64), true);
  kun::std(c).backward();
  EXPECT_TRUE(all_finite(c.grad()));
  // prod with a zero: exact gradient, no division
  Variable pz(from_vector<double>({2, 0, 3}, {3}), true);
  prod(pz).backward();
  EXPECT_EQ(pz.grad().to_vector<double>(), (std::vector<double>{0, 6, 0}));
}

// ---- threaded paths against a plain double reference ----
TEST(ReduceLarge, SumPathsMatchReferenceForAnyThreadCount) {
  Generator gen(3);
  Tensor big = randn({1 << 20}, DType::f32, &gen);  // full reduction: chunked partials
  auto v = big.to_vector<double>();
  double ref = 0;
  for (double d : v) ref += d;
  set_num_threads(1);
  double s1 = sum(big).item<double>();
  set_num_threads(2);
  double s2 = sum(big).item<double>();
  set_num_threads(0);
  EXPECT_NEAR(s1, ref, 1e-2);
  EXPECT_EQ(s1, s2);  // fixed chunking: same bits for any thread count

  // (B, N) over dim 0 (bias gradient) and (N, C, H, W) -> (C) (batch norm)
  Tensor b = randn({512, 300}, DType::f32, &gen);
  Tensor cols = sum(b, {0});
  auto bv = b.to_vector<double>();
  auto cv = cols.to_vector<double>();
  for (int j = 0; j < 300; j += 37) {
    double r = 0;
    for (int i = 0; i < 512; ++i) r += bv[i * 300 + j];
    EXPECT_NEAR(cv[j], r, 1e-3);
  }
  Tensor nchw = randn({16, 3, 40, 40}, DType::f32, &gen);
  Tensor per_c = sum(nchw, {0, 2, 3});
  auto nv = nchw.to_vector<double>();
  for (int c = 0; c < 3; ++c) {
    double r = 0;
    for (int n = 0; n < 16; ++n)
      for (int k = 0; k < 1600; ++k) r += nv[(n * 3 + c) * 1600 + k];
    EXPECT_NEAR(per_c.to_vector<double>()[c], r, 1e-2);
  }
  EXPECT_TRUE(close(mean(nchw, {0, 2, 3}), div(per_c, full({3}, 16 * 1600.0)), 1e-5, 1e-6));
  // integer sum promotes to int64
  Tensor ints = arange(10, DType::i32);
  EXPECT_EQ(sum(ints).dtype(), DType::i64);
  EXPECT_EQ(sum(ints).item<int64_t>(), 45);
  EXPECT_EQ(amax(ints).item<int64_t>(), 9);
  EXPECT_EQ(amax(ints).dtype(), DType::i32);
}

TEST(ReduceLarge, SoftmaxRowsAndColumnsAgree) {
  Generator gen(5);
  Tensor x = randn({64, 300}, DType::f32, &gen);
  Tensor a = softmax(x, 1);
  Tensor b = softmax(x.t().contiguous(), 0).t();  // same math along a non-last dim
  EXPECT_TRUE(close(a, b.contiguous(), 1e-5, 1e-7));
  Tensor rs = sum(a, {1});
  EXPECT_TRUE(close(rs, ones({64}), 1e-5, 1e-5));
  EXPECT_TRUE(close(log_softmax(x, 1), log_softmax(x.t().contiguous(), 0).t().contiguous(), 1e-5, 1e-5));
}

// ---- extreme inputs ----
TEST(ReduceExtreme, StaysFinite) {
  Tensor big = from_vector<float>({1e4f, -1e4f, 0, 9999, -1e38f, 1e38f}, {1, 6});
  Tensor s = softmax(big, 1);
  EXPECT_TRUE(all_finite(s));
  EXPECT_NEAR(sum(s).item<double>(), 1.0, 1e-6);
  Tensor ls = log_softmax(big, 1);
  EXPECT_TRUE(all_finite(ls));
  Tensor neg = full({2, 5}, -1e30);
  EXPECT_TRUE(all_finite(log_softmax(neg, 1)));
  EXPECT_TRUE(close(log_softmax(neg, 1), full({2, 5}, -std::log(5.0)), 1e-5, 1e-6));
  EXPECT_TRUE(all_finite(logsumexp(big, {1})));
  EXPECT_NEAR(logsumexp(full({3}, 1e30), {0}).item<double>(), 1e30, 1e24);
  EXPECT_EQ(logsumexp(full({3}, -kInf), {0}).item<double>(), -kInf);
  Variable v(from_vector<double>({1e4, -1e4, 0}, {3}), true);
  log_softmax(v, 0).backward(ones({3}, DType::f64));
  EXPECT_TRUE(all_finite(v.grad()));
  EXPECT_TRUE(all_finite(norm(full({4}, 1e18), 2)));
}

// ---- errors ----
TEST(ReduceErrors, BadDimsAndTypes) {
  Tensor x = randn({2, 3});
  KUN_EXPECT_ERROR(sum(x, {2}), "sum", "2");
  KUN_EXPECT_ERROR(sum(x, {1, -1}), "sum", "twice");
  KUN_EXPECT_ERROR(mean(arange(4, DType::i64)), "mean", "int64");
  KUN_EXPECT_ERROR(softmax(x, 3), "softmax");
  KUN_EXPECT_ERROR(log_softmax(arange(4, DType::i64), 0), "log_softmax", "int64");
  KUN_EXPECT_ERROR(max(x, -3), "max");
  KUN_EXPECT_ERROR(max(zeros({0, 3}), 0), "max", "size 0");
  KUN_EXPECT_ERROR(amax(zeros({0, 3}), {0}), "amax", "zero-size");
  KUN_EXPECT_ERROR(norm(x, -1), "norm", "p");
  KUN_EXPECT_ERROR(var(x, {5}), "var");
  KUN_EXPECT_ERROR(argmax(zeros({0})), "argmax", "empty");
  EXPECT_THROW(logsumexp(x, {7}), IndexError);
  // empty reductions that do have an identity
  EXPECT_EQ(sum(zeros({0, 3}), {0}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(prod(zeros({0})).item<float>(), 1.0f);
}
