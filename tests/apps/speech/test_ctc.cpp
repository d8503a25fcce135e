// CTC loss and gradient vs torch.nn.functional.ctc_loss, finite differences, decoders, metrics.
#include <cmath>
#include <functional>
#include <map>

#include "kun/apps/speech/ctc.h"
#include "speech_test_util.h"

using namespace kun;
using namespace kun::speech;
using namespace kun::testing;

namespace {

struct CtcCase {
  Tensor lp, targets, il, tl;
  int64_t blank;
  bool zero_inf;
};

CtcCase load(const std::string& name) {
  const auto& c = golden_case("speech", name);
  return {input(c, "log_probs"), input(c, "targets"), input(c, "input_lengths"), input(c, "target_lengths"),
          c["attrs"]["blank"].get<int64_t>(), c["attrs"]["zero_infinity"].get<bool>()};
}

// A normalized (T, N, C) float64 log-softmax of random logits.
Tensor random_log_probs(int64_t T, int64_t N, int64_t C, uint64_t seed, double scale = 1.0) {
  Generator g(seed);
  Tensor x = mul(randn({T, N, C}, DType::f64, &g), scale);
  double* p = x.data<double>();
  for (int64_t r = 0; r < T * N; ++r) {
    double mx = -1e300, s = 0;
    for (int64_t c = 0; c < C; ++c) mx = std::max(mx, p[r * C + c]);
    for (int64_t c = 0; c < C; ++c) s += std::exp(p[r * C + c] - mx);
    for (int64_t c = 0; c < C; ++c) p[r * C + c] -= mx + std::log(s);
  }
  return x;
}

}  // namespace

TEST(SpeechCtc, LossAndGradMatchTorch) {
  for (const char* name : {"ctc_small_f32", "ctc_small_f64", "ctc_concat_targets", "ctc_blank_last", "ctc_extreme"}) {
    SCOPED_TRACE(name);
    const auto& gc = golden_case("speech", name);
    CtcCase c = load(name);
    const bool f32 = c.lp.dtype() == DType::f32;
    const double rtol = f32 ? 1e-4 : 1e-9, atol = f32 ? 2e-6 : 1e-12;
    CtcOptions o{.blank = c.blank, .reduction = CtcReduction::none, .zero_infinity = c.zero_inf};
    CtcResult none = ctc_loss_forward(c.lp, c.targets, c.il, c.tl, o);
    EXPECT_TRUE(close(none.loss, output(gc, "loss_none"), rtol, atol));
    for (auto [red, key] : {std::pair{CtcReduction::sum, std::string("sum")}, std::pair{CtcReduction::mean, std::string("mean")}}) {
      o.reduction = red;
      o.grad = CtcGrad::torch;
      CtcResult r = ctc_loss_forward(c.lp, c.targets, c.il, c.tl, o);
      EXPECT_EQ(r.loss.dim(), 0);
      EXPECT_TRUE(close(r.loss, output(gc, "loss_" + key), rtol, atol)) << key;
      Tensor tg = output(gc, "grad_" + key);
      if (gc["outputs"].contains("grad_f64_" + key)) {
        // Peaked float32 input: torch's float32 recursion is off by ~1e-4; kun (float64 inside) matches
        // torch run in float64 on the same numbers, and torch's float32 result loosely.
        EXPECT_TRUE(close(r.grad, output(gc, "grad_f64_" + key), 1e-5, 1e-6)) << key << " (torch f64)";
        EXPECT_TRUE(close(r.grad, tg, 1e-3, 5e-4)) << key << " (torch f32)";
        tg = output(gc, "grad_f64_" + key);
      } else {
        EXPECT_TRUE(close(r.grad, tg, rtol, atol)) << key << " (torch convention)";
      }
      // The exact gradient is torch's minus exp(log_probs) * scale on the valid frames.
      o.grad = CtcGrad::log_probs;
      CtcResult e = ctc_loss_forward(c.lp, c.targets, c.il, c.tl, o);
      auto lp = c.lp.to_vector<double>(), ge = e.grad.to_vector<double>(), gt = tg.to_vector<double>();
      auto il = c.il.to_vector<int64_t>(), tl = c.tl.to_vector<int64_t>();
      const int64_t T = c.lp.size(0), N = c.lp.size(1), C = c.lp.size(2);
      double worst = 0;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) {
          const double sc = red == CtcReduction::mean ? 1.0 / (std::max<int64_t>(tl[n], 1) * N) : 1.0;
          for (int64_t k = 0; k < C; ++k) {
            const size_t i = (t * N + n) * C + k;
            const double want = t < il[n] ? gt[i] - std::exp(lp[i]) * sc : 0.0;
            worst = std::max(worst, std::abs(ge[i] - want));
          }
        }
      EXPECT_LT(worst, f32 ? 1e-5 : 1e-12) << key << " (exact convention)";
    }
  }
}

TEST(SpeechCtc, InfeasibleTargets) {
  CtcCase c = load("ctc_infeasible");
  CtcResult r = ctc_loss_forward(c.lp, c.targets, c.il, c.tl, {.reduction = CtcReduction::none});
  auto l = r.loss.to_vector<double>();
  const auto& gi = golden_case("speech", "ctc_infeasible");
  auto isinf = output(gi, "loss_none_isinf").to_vector<int64_t>();
  auto want = output(gi, "loss_none").to_vector<double>();
  ASSERT_TRUE(isinf[0] && !isinf[1]);
  EXPECT_TRUE(std::isinf(l[0]) && l[0] > 0);  // "1 1" in 2 frames needs a blank between: impossible
  EXPECT_NEAR(l[1], want[1], 1e-12);
  EXPECT_TRUE(all_finite(r.grad));  // never NaN: the infeasible sample's gradient is zero
  const auto& gz = golden_case("speech", "ctc_infeasible_zero");
  for (auto red : {CtcReduction::none, CtcReduction::sum, CtcReduction::mean}) {
    CtcResult z = ctc_loss_forward(c.lp, c.targets, c.il, c.tl,
                                   {.reduction = red, .zero_infinity = true, .grad = CtcGrad::torch});
    if (red == CtcReduction::none) {
      EXPECT_TRUE(close(z.loss, output(gz, "loss_none"), 1e-9, 1e-12));
    }
    if (red == CtcReduction::sum) {
      EXPECT_TRUE(close(z.loss, output(gz, "loss_sum"), 1e-9, 1e-12));
      EXPECT_TRUE(close(z.grad, output(gz, "grad_sum"), 1e-9, 1e-12));
    }
    if (red == CtcReduction::mean) {
      EXPECT_TRUE(close(z.loss, output(gz, "loss_mean"), 1e-9, 1e-12));
      EXPECT_TRUE(close(z.grad, output(gz, "grad_mean"), 1e-9, 1e-12));
    }
  }
}

// Central differences in float64 on free (unnormalized) log_probs: the exact gradient must match.
TEST(SpeechCtc, GradientMatchesFiniteDifferences) {
  Tensor lp = random_log_probs(7, 3, 4, 11);
  Tensor targets = from_vector<int64_t>({1, 2, 2, 3, 1, 0, 2, 0, 0}, {3, 3});
  Tensor il = from_vector<int64_t>({7, 6, 5}), tl = from_vector<int64_t>({3, 2, 1});
  for (auto red : {CtcReduction::sum, CtcReduction::mean}) {
    CtcOptions o{.reduction = red};
    Tensor g = ctc_loss_forward(lp, targets, il, tl, o).grad;
    const double eps = 1e-6;
    double worst = 0;
    double* p = lp.data<double>();
    for (int64_t i = 0; i < lp.numel(); ++i) {
      const double keep = p[i];
      p[i] = keep + eps;
      const double up = ctc_loss_forward(lp, targets, il, tl, {.reduction = red, .compute_grad = false}).loss.item<double>();
      p[i] = keep - eps;
      const double dn = ctc_loss_forward(lp, targets, il, tl, {.reduction = red, .compute_grad = false}).loss.item<double>();
      p[i] = keep;
      worst = std::max(worst, std::abs((up - dn) / (2 * eps) - g.data<double>()[i]));
    }
    EXPECT_LT(worst, 1e-7) << (red == CtcReduction::sum ? "sum" : "mean");
  }
}

TEST(SpeechCtc, ExtremeInputsStayFinite) {
  // Very peaked distributions (log probs down to ~-2000) and long sequences.
  Tensor lp = random_log_probs(300, 2, 6, 5, 60.0).to(DType::f32);
  Tensor targets = randint(1, 6, {2, 40}, DType::i64);
  CtcResult r = ctc_loss_forward(lp, targets, from_vector<int64_t>({300, 250}), from_vector<int64_t>({40, 35}),
                                 {.reduction = CtcReduction::none});
  EXPECT_TRUE(all_finite(r.loss));
  EXPECT_TRUE(all_finite(r.grad));
  // Empty targets: the loss is -sum of blank log probs.
  Tensor lp2 = random_log_probs(5, 1, 3, 2);
  CtcResult e = ctc_loss_forward(lp2, zeros({1, 0}, DType::i64), from_vector<int64_t>({5}), from_vector<int64_t>({0}),
                                 {.reduction = CtcReduction::sum});
  double want = 0;
  for (int64_t t = 0; t < 5; ++t) want -= lp2.data<double>()[t * 3];
  EXPECT_NEAR(e.loss.item<double>(), want, 1e-12);
}

TEST(SpeechCtc, BadInputsGiveClearErrors) {
  Tensor lp = random_log_probs(5, 2, 4, 1);
  Tensor tg = from_vector<int64_t>({1, 2, 3, 1}, {2, 2});
  Tensor il = from_vector<int64_t>({5, 5}), tl = from_vector<int64_t>({2, 2});
  KUN_EXPECT_ERROR(ctc_loss_forward(lp.select(1, 0), tg, il, tl), "ctc_loss", "(T, N, C)");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp.to(DType::i64), tg, il, tl), "ctc_loss", "float32 or float64");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp, from_vector<int64_t>({1, 0, 3, 1}, {2, 2}), il, tl), "ctc_loss", "blank=0");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp, from_vector<int64_t>({1, 9, 3, 1}, {2, 2}), il, tl), "ctc_loss", "is 9");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp, tg, from_vector<int64_t>({6, 5}), tl), "input_lengths[0] = 6", "T=5");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp, tg, il, from_vector<int64_t>({3, 2})), "target_lengths[0] = 3", "S=2");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp, tg, il, from_vector<int64_t>({2})), "target_lengths", "N=2");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp, tg.to(DType::f32), il, tl), "targets", "int32 or int64");
  KUN_EXPECT_ERROR(ctc_loss_forward(lp, tg, il, tl, {.blank = 4}), "blank", "C=4");
}

TEST(SpeechCtc, GreedyDecode) {
  // Frames argmax: 1 1 0 1 2 2 0 -> "1 1 2"
  const std::vector<int64_t> path = {1, 1, 0, 1, 2, 2, 0};
  Tensor lp = full({7, 3}, std::log(0.1), DType::f64);
  for (int64_t t = 0; t < 7; ++t) lp.data<double>()[t * 3 + path[t]] = std::log(0.8);
  auto h = ctc_greedy_decode(lp);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].tokens, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(h[0].log_prob, 7 * std::log(0.8), 1e-12);
  auto h4 = ctc_greedy_decode(lp.unsqueeze(1), from_vector<int64_t>({4}));  // first 4 frames only
  EXPECT_EQ(h4[0].tokens, (std::vector<int64_t>{1, 1}));
}

// The beam search's best labeling and its probability agree with brute-force enumeration of all
// paths, and its log prob equals -ctc_loss of that labeling.
TEST(SpeechCtc, BeamSearchFindsBestLabeling) {
  const int64_t T = 5, C = 3;
  for (uint64_t seed : {1u, 2u, 3u, 4u}) {
    Tensor lp = random_log_probs(T, 1, C, seed, 1.5);
    const double* p = lp.data<double>();
    std::map<std::vector<int64_t>, double> prob;  // labeling -> probability
    for (int64_t code = 0; code < 243; ++code) {  // 3^5 paths
      int64_t x = code, prev = -1;
      double lpp = 0;
      std::vector<int64_t> lab;
      for (int64_t t = 0; t < T; ++t) {
        const int64_t c = x % C;
        x /= C;
        lpp += p[t * C + c];
        if (c != 0 && c != prev) lab.push_back(c);
        prev = c;
      }
      prob[lab] += std::exp(lpp);
    }
    auto best = std::max_element(prob.begin(), prob.end(), [](auto& a, auto& b) { return a.second < b.second; });
    auto hs = ctc_beam_search(lp, {}, {.beam_width = 64, .n_best = 3});
    ASSERT_EQ(hs[0].size(), 3u);
    EXPECT_EQ(hs[0][0].tokens, best->first) << "seed " << seed;
    EXPECT_NEAR(hs[0][0].log_prob, std::log(best->second), 1e-9);
    EXPECT_GE(hs[0][0].log_prob, hs[0][1].log_prob);
    if (!best->first.empty()) {
      Tensor tg = from_vector<int64_t>(best->first, {1, static_cast<int64_t>(best->first.size())});
      double nll = ctc_loss_forward(lp, tg, from_vector<int64_t>({T}),
                                    from_vector<int64_t>({static_cast<int64_t>(best->first.size())}),
                                    {.reduction = CtcReduction::sum, .compute_grad = false})
                       .loss.item<double>();
      EXPECT_NEAR(hs[0][0].log_prob, -nll, 1e-9);
    }
  }
  KUN_EXPECT_ERROR(ctc_beam_search(random_log_probs(3, 1, 3, 1), {}, {.beam_width = 0}), "beam_width");
}

TEST(SpeechCtc, EditDistanceAndErrorRates) {
  EXPECT_EQ(edit_distance(std::vector<int64_t>{1, 2, 3}, std::vector<int64_t>{1, 3}), 1);
  EXPECT_EQ(edit_distance(std::vector<int64_t>{}, std::vector<int64_t>{4, 4}), 2);
  EXPECT_EQ(edit_distance(std::vector<int64_t>{1, 2, 3}, std::vector<int64_t>{3, 2, 1}), 2);
  EXPECT_DOUBLE_EQ(char_error_rate({"kitten"}, {"sitting"}), 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(word_error_rate({"one two three", "four"}, {"one too three", "four five"}), 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(token_error_rate({{1, 2}, {3}}, {{1, 2}, {3}}), 0.0);
  KUN_EXPECT_ERROR(word_error_rate({"a"}, {}), "word_error_rate", "1 references but 0 hypotheses");
}
