// Losses: PyTorch golden values (loss and input gradient) for every option combination, float64
// gradchecks of each loss variant, extreme logits, and target / shape errors.
#include <gtest/gtest.h>

#include <cmath>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using namespace kun::testing;

namespace {

Reduction reduction_of(const std::string& s) {
  if (s == "mean") return Reduction::mean;
  if (s == "sum") return Reduction::sum;
  if (s == "none") return Reduction::none;
  if (s == "batchmean") return Reduction::batchmean;
  throw std::runtime_error("unknown reduction " + s);
}

Tensor opt_input(const json& c, const char* name) {
  return c["inputs"].contains(name) ? input(c, name) : Tensor();
}

// Runs the loss named in attrs; `t` is the target Variable (differentiable for regression losses).
Variable run_loss(const json& c, const Variable& x, const Variable& t) {
  const json& a = c["attrs"];
  const std::string op = a["op"];
  const Reduction r = reduction_of(a["reduction"]);
  Tensor w = opt_input(c, "w"), pw = opt_input(c, "pw");
  if (op == "cross_entropy")
    return cross_entropy(x, t.data(),
                         {.weight = w,
                          .ignore_index = a.value("ignore_index", int64_t{-100}),
                          .label_smoothing = a.value("label_smoothing", 0.0),
                          .reduction = r});
  if (op == "nll_loss") return nll_loss(x, t.data(), {.weight = w, .reduction = r});
  if (op == "bce_with_logits") return binary_cross_entropy_with_logits(x, t.data(), {.weight = w, .pos_weight = pw, .reduction = r});
  if (op == "bce") return binary_cross_entropy(x, t.data(), {.weight = w, .reduction = r});
  RegressionLossOptions ro{.reduction = r, .delta = a.value("delta", 1.0), .beta = a.value("beta", 1.0)};
  if (op == "mse") return mse_loss(x, t, ro);
  if (op == "l1") return l1_loss(x, t, ro);
  if (op == "huber") return huber_loss(x, t, ro);
  if (op == "smooth_l1") return smooth_l1_loss(x, t, ro);
  if (op == "kl_div") return kl_div(x, t.data(), {.reduction = r, .log_target = a.value("log_target", false)});
  throw std::runtime_error("unknown loss " + op);
}

}  // namespace

TEST(LossGolden, AllCasesForwardAndGradient) {
  const json& cases = golden("loss")["cases"];
  int n = 0;
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    SCOPED_TRACE(it.key());
    const json& c = it.value();
    const bool tr = c["attrs"]["transpose"].get<bool>();
    Tensor xt = input(c, "x");
    Variable x(tr ? xt.transpose(-1, -2) : xt, true);  // transposed: a non-contiguous view
    Tensor tt = input(c, "t");
    Variable t(tt, c["outputs"].contains("gt"));
    Variable y = run_loss(c, x, t);
    EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
    Tensor proj = y.dim() ? linspace(-1, 1, y.numel()).reshape(y.shape()) : ones({});
    y.backward(proj);
    Tensor gx = tr ? x.grad().transpose(-1, -2).contiguous() : x.grad();
    EXPECT_TRUE(close(gx, output(c, "gx"), 1e-4, 1e-5));
    if (c["outputs"].contains("gt")) {
      EXPECT_TRUE(close(t.grad(), output(c, "gt"), 1e-4, 1e-5));
    }
    ++n;
  }
  EXPECT_GE(n, 60);
}

// ---- gradchecks (float64) for each loss and option ----
TEST(LossGrad, Gradcheck) {
  Generator gen(11);
  Tensor x = randn({5, 4}, DType::f64, &gen);
  Tensor x4 = randn({2, 3, 2, 2}, DType::f64, &gen);
  Tensor tgt = from_vector<int64_t>({0, 3, -100, 1, 2}, {5});
  Tensor tgt_no_ign = from_vector<int64_t>({0, 3, 2, 1, 3}, {5});
  Tensor t4 = from_vector<int64_t>({0, 1, 2, 2, 1, -100, 0, 2}, {2, 2, 2});
  Tensor w = from_vector<double>({0.5, 1.0, 2.0, 1.5}, {4});
  Tensor w3 = from_vector<double>({0.5, 1.0, 2.0}, {3});
  Tensor probs = softmax(randn({5, 4}, DType::f64, &gen), 1);
  auto f = [](std::function<Variable(const Variable&)> g) {
    return [g](const std::vector<Variable>& v) { return g(v[0]); };
  };
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    EXPECT_TRUE(grad_ok(f([&](auto& v) { return cross_entropy(v, tgt, {.reduction = r}); }), {x}));
    EXPECT_TRUE(grad_ok(f([&](auto& v) {
                          return cross_entropy(v, tgt, {.weight = w, .label_smoothing = 0.2, .reduction = r});
                        }),
                        {x}));
    EXPECT_TRUE(grad_ok(f([&](auto& v) {
                          return cross_entropy(v, t4, {.weight = w3, .label_smoothing = 0.1, .reduction = r});
                        }),
                        {x4}));
    EXPECT_TRUE(grad_ok(f([&](auto& v) { return cross_entropy(v, probs, {.weight = w, .label_smoothing = 0.1, .reduction = r}); }), {x}));
    EXPECT_TRUE(grad_ok(f([&](auto& v) { return nll_loss(v, tgt, {.weight = w, .reduction = r}); }), {x}));
    Tensor tb = rand({5, 4}, DType::f64, &gen);
    EXPECT_TRUE(grad_ok(f([&](auto& v) {
                          return binary_cross_entropy_with_logits(v, tb, {.weight = tb, .pos_weight = w, .reduction = r});
                        }),
                        {x}));
    Tensor pin = add(mul(rand({5, 4}, DType::f64, &gen), 0.8), 0.1);
    EXPECT_TRUE(grad_ok(f([&](auto& v) { return binary_cross_entropy(v, tb, {.weight = tb, .reduction = r}); }), {pin}));
    Tensor y = randn({5, 4}, DType::f64, &gen);
    for (double beta : {0.0, 0.5}) {
      RegressionLossOptions o{.reduction = r, .delta = 0.6, .beta = beta};
      auto two = [&](auto loss) {
        return [loss, o](const std::vector<Variable>& v) { return loss(v[0], v[1], o); };
      };
      EXPECT_TRUE(grad_ok(two([](auto& a, auto& b, auto& o) { return mse_loss(a, b, o); }), {x, y}));
      EXPECT_TRUE(grad_ok(two([](auto& a, auto& b, auto& o) { return l1_loss(a, b, o); }), {x, y}));
      EXPECT_TRUE(grad_ok(two([](auto& a, auto& b, auto& o) { return huber_loss(a, b, o); }), {x, y}));
      EXPECT_TRUE(grad_ok(two([](auto& a, auto& b, auto& o) { return smooth_l1_loss(a, b, o); }), {x, y}));
    }
    Tensor lq = log_softmax(x, 1);
    EXPECT_TRUE(grad_ok(f([&](auto& v) { return kl_div(v, probs, {.reduction = r}); }), {lq}));
    EXPECT_TRUE(grad_ok(f([&](auto& v) { return kl_div(v, log_softmax(y, 1), {.reduction = r, .log_target = true}); }), {lq}));
  }
  EXPECT_TRUE(grad_ok(f([&](auto& v) { return kl_div(v, probs, {.reduction = Reduction::batchmean}); }), {x}));
  EXPECT_TRUE(grad_ok(f([&](auto& v) { return cross_entropy(v, tgt_no_ign, {.ignore_index = 3}); }),
                      {x.t().contiguous().t()}));
}

// ---- extreme inputs ----
TEST(LossExtreme, StaysFinite) {
  Variable x(from_vector<float>({1e4f, -1e4f, 0, -1e4f, 1e4f, 1e4f}, {2, 3}), true);
  Tensor t = from_vector<int64_t>({1, 2}, {2});
  Variable l = cross_entropy(x, t, {.label_smoothing = 0.1});
  EXPECT_TRUE(all_finite(l.data()));
  l.backward();
  EXPECT_TRUE(all_finite(x.grad()));
  Variable z(from_vector<float>({100, -100, 1e4f, -1e4f}, {4}), true);
  Tensor tz = from_vector<float>({0, 1, 0, 1}, {4});
  Variable b = binary_cross_entropy_with_logits(z, tz, {.reduction = Reduction::none});
  EXPECT_TRUE(all_finite(b.data()));
  EXPECT_NEAR(b.data().to_vector<double>()[0], 100.0, 1e-3);
  b.backward(ones({4}));
  EXPECT_TRUE(all_finite(z.grad()));
  Variable p(from_vector<float>({0, 1, 1e-30f}, {3}), true);
  Variable bc = binary_cross_entropy(p, from_vector<float>({1, 0, 1}, {3}), {.reduction = Reduction::sum});
  EXPECT_NEAR(bc.item<double>(), 200.0 - std::log(1e-30), 1e-2);  // log(0) and log(1 - 1) clamped at -100
  bc.backward();
  EXPECT_TRUE(all_finite(p.grad()));
  // very negative logits: log_softmax stays finite, cross-entropy exact
  Tensor neg = full({2, 4}, -1e30);
  EXPECT_NEAR(cross_entropy(neg, from_vector<int64_t>({0, 3}, {2})).item<double>(), std::log(4.0), 1e-5);
}

// ---- errors ----
TEST(LossErrors, TargetsAndShapes) {
  Tensor x = randn({3, 5});
  KUN_EXPECT_ERROR(cross_entropy(x, from_vector<int64_t>({0, 7, 1}, {3})), "cross_entropy", "7", "(1)", "C=5");
  KUN_EXPECT_ERROR(cross_entropy(x, from_vector<int64_t>({0, -1, 1}, {3})), "cross_entropy", "-1", "(1)", "C=5");
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({5, 0, 1}, {3})), IndexError);
  Tensor x4 = randn({2, 5, 2, 2});
  Tensor t4 = zeros({2, 2, 2}, DType::i64);
  t4.data<int64_t>()[7] = 9;
  KUN_EXPECT_ERROR(cross_entropy(x4, t4), "cross_entropy", "9", "(1, 1, 1)", "C=5");
  KUN_EXPECT_ERROR(nll_loss(x, from_vector<int64_t>({0, 1, 5}, {3})), "nll_loss", "5", "(2)", "C=5");
  KUN_EXPECT_ERROR(cross_entropy(x, zeros({4}, DType::i64)), "cross_entropy", "(4,)", "(3, 5)");
  KUN_EXPECT_ERROR(cross_entropy(x, zeros({3, 4})), "cross_entropy", "(3, 4)", "(3, 5)");
  KUN_EXPECT_ERROR(cross_entropy(x, zeros({3}, DType::i64), {.weight = ones({4})}), "cross_entropy", "weight", "(4,)");
  KUN_EXPECT_ERROR(cross_entropy(x, zeros({3}, DType::i64), {.label_smoothing = 1.5}), "label_smoothing");
  KUN_EXPECT_ERROR(cross_entropy(x, zeros({3}, DType::i64), {.reduction = Reduction::batchmean}), "batchmean");
  KUN_EXPECT_ERROR(mse_loss(x, zeros({5, 3})), "mse_loss", "(3, 5)", "(5, 3)");
  KUN_EXPECT_ERROR(binary_cross_entropy_with_logits(x, zeros({3})), "binary_cross_entropy_with_logits", "(3,)");
  KUN_EXPECT_ERROR(binary_cross_entropy_with_logits(x, zeros({3, 5}), {.pos_weight = ones({4})}), "pos_weight", "(4,)");
  KUN_EXPECT_ERROR(binary_cross_entropy(full({2}, 1.5), zeros({2})), "binary_cross_entropy", "[0, 1]", "1.5");
  KUN_EXPECT_ERROR(huber_loss(x, x, {.delta = 0}), "huber_loss", "delta");
  KUN_EXPECT_ERROR(kl_div(x, zeros({2})), "kl_div", "(2,)");
  KUN_EXPECT_ERROR(cross_entropy(arange(4, DType::i64), zeros({}, DType::i64)), "cross_entropy", "int64");
}

// ---- the threaded path on a realistic size, against log_softmax, for 1 and 2 threads ----
TEST(LossLarge, CrossEntropyMatchesLogSoftmaxForAnyThreadCount) {
  Generator gen(21);
  Tensor x = mul(randn({512, 1000}, DType::f32, &gen), 4.0);
  Tensor t = randint(0, 1000, {512}, DType::i64, &gen);
  auto lp = log_softmax(x, 1).to_vector<double>();
  auto tv = t.to_vector<int64_t>();
  double ref = 0;
  for (int i = 0; i < 512; ++i) ref -= lp[i * 1000 + tv[i]];
  ref /= 512;
  set_num_threads(1);
  Variable v1(x, true);
  Variable l1 = cross_entropy(v1, t);
  l1.backward();
  set_num_threads(2);
  Variable v2(x, true);
  Variable l2 = cross_entropy(v2, t);
  l2.backward();
  set_num_threads(0);
  EXPECT_NEAR(l1.item<double>(), ref, 1e-4 * std::abs(ref));
  EXPECT_EQ(l1.item<double>(), l2.item<double>());  // fixed chunking
  EXPECT_TRUE(close(v1.grad(), v2.grad(), 0, 0));
  // d/dx = (softmax - onehot) / N
  Tensor want = softmax(x, 1);
  float* w = want.data<float>();
  for (int i = 0; i < 512; ++i) w[i * 1000 + tv[i]] -= 1.0f;
  EXPECT_TRUE(close(v1.grad(), mul(want, 1.0 / 512), 1e-4, 1e-8));
}
