// LR schedule sequences vs torch.optim.lr_scheduler (tests/golden/gen_optim.py).
#include <memory>

#include "golden_util.h"

using namespace kun;
using namespace kun::optim;
using kun::testing::golden_case;
using kun::testing::json;

namespace {

std::vector<double> run_schedule(const json& c) {
  const json& a = c["attrs"];
  Variable w(zeros({1}), true);
  SGD opt({w}, {.lr = a["base_lr"].get<double>()});
  const std::string kind = a["kind"];
  const int epochs = a["epochs"];
  std::vector<double> lrs{opt.lr()};
  if (kind == "plateau") {
    ReduceLROnPlateau s(opt, {.mode = a["mode"], .factor = a["factor"], .patience = a["patience"],
                              .threshold = a["threshold"], .threshold_mode = a["threshold_mode"],
                              .cooldown = a["cooldown"], .min_lr = a["min_lr"]});
    auto metrics = kun::testing::input(c, "metrics").to_vector<double>();
    for (int e = 0; e < epochs; ++e) {
      s.step(metrics[e]);
      lrs.push_back(opt.lr());
    }
    return lrs;
  }
  std::unique_ptr<LRScheduler> s;
  if (kind == "step") s = std::make_unique<StepLR>(opt, StepLROptions{a["step_size"], a["gamma"]});
  if (kind == "multistep")
    s = std::make_unique<MultiStepLR>(opt, MultiStepLROptions{a["milestones"].get<std::vector<int64_t>>(), a["gamma"]});
  if (kind == "exponential") s = std::make_unique<ExponentialLR>(opt, ExponentialLROptions{a["gamma"]});
  if (kind == "cosine") s = std::make_unique<CosineAnnealingLR>(opt, CosineAnnealingLROptions{a["t_max"], a["eta_min"]});
  if (kind == "linear")
    s = std::make_unique<LinearLR>(opt, LinearLROptions{a["start_factor"], a["end_factor"], a["total_iters"]});
  if (kind == "warmup_cosine") {
    int64_t warm = a["warmup"];
    auto w1 = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = a["start_factor"], .total_iters = warm});
    auto c1 = std::make_shared<CosineAnnealingLR>(opt, CosineAnnealingLROptions{.t_max = a["t_max"]});
    s = std::make_unique<SequentialLR>(opt, std::vector<std::shared_ptr<LRScheduler>>{w1, c1},
                                       std::vector<int64_t>{warm});
  }
  if (!s) throw std::runtime_error("unknown schedule " + kind);
  lrs[0] = opt.lr();  // construction applies epoch 0
  for (int e = 0; e < epochs; ++e) {
    s->step();
    lrs.push_back(opt.lr());
  }
  return lrs;
}

}  // namespace

TEST(ScheduleGolden, SequencesMatchTorch) {
  for (const char* name : {"step_lr", "multistep_lr", "exponential_lr", "cosine_lr", "linear_lr", "warmup_cosine",
                           "plateau_min", "plateau_max_abs"}) {
    SCOPED_TRACE(name);
    const json& c = golden_case("optim", name);
    std::vector<double> got = run_schedule(c);
    Tensor want = kun::testing::output(c, "lrs");
    EXPECT_TRUE(kun::testing::close(from_vector(got), want, 1e-5, 1e-9));
  }
}

TEST(Schedule, PerGroupBaseLrAndResume) {
  Variable a(zeros({1}), true), b(zeros({1}), true);
  ParamGroup g0, g1;
  g0.params = {a};
  g1.params = {b};
  g1.lr = 1.0;
  SGD opt({g0, g1}, {.lr = 0.1});
  ExponentialLR s(opt, {.gamma = 0.5});
  s.step();
  s.step();
  EXPECT_NEAR(opt.param_groups()[0].lr.value(), 0.025, 1e-12);
  EXPECT_NEAR(opt.param_groups()[1].lr.value(), 0.25, 1e-12);
  // Resuming: a new schedule on the same optimizer keeps the original base lrs (initial_lr).
  ExponentialLR again(opt, {.gamma = 0.5});
  again.set_epoch(3);
  EXPECT_NEAR(opt.lr(), 0.0125, 1e-12);
  EXPECT_EQ(again.last_lr().size(), 2u);
}

TEST(Schedule, BadOptionsAreRejected) {
  Variable a(zeros({1}), true);
  SGD opt({a}, {.lr = 0.1});
  KUN_EXPECT_ERROR(StepLR(opt, {.step_size = 0}), "StepLR", "step_size must be > 0");
  KUN_EXPECT_ERROR(ReduceLROnPlateau(opt, {.mode = "up"}), "ReduceLROnPlateau", "mode must be", "up");
  KUN_EXPECT_ERROR(CosineAnnealingLR(opt, {.t_max = 0}), "t_max must be > 0");
  auto lin = std::make_shared<LinearLR>(opt, LinearLROptions{});
  KUN_EXPECT_ERROR(SequentialLR(opt, {lin}, {3}), "SequentialLR", "one milestone fewer");
}

TEST(Schedule, PlateauResumesExactly) {
  const std::vector<double> metrics = {1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 0.5, 0.6, 0.7, 0.8};
  auto run = [&](bool split) {
    Variable a(zeros({1}), true);
    SGD opt({a}, {.lr = 1.0});
    ReduceLROnPlateauOptions o{.factor = 0.5, .patience = 1, .cooldown = 1};
    auto s = std::make_unique<ReduceLROnPlateau>(opt, o);
    std::vector<double> lrs;
    for (size_t e = 0; e < metrics.size(); ++e) {
      if (split && e == 4) {  // "restart the process": new optimizer + schedule from saved state
        TensorDict os = opt.state_dict(), ss = s->state_dict();
        Variable b(zeros({1}), true);
        static std::unique_ptr<SGD> opt2;
        opt2 = std::make_unique<SGD>(std::vector<Variable>{b}, SGDOptions{.lr = 1.0});
        opt2->load_state_dict(os);
        s = std::make_unique<ReduceLROnPlateau>(*opt2, o);
        s->load_state_dict(ss);
        s->step(metrics[e]);
        lrs.push_back(opt2->lr());
        for (++e; e < metrics.size(); ++e) {
          s->step(metrics[e]);
          lrs.push_back(opt2->lr());
        }
        break;
      }
      s->step(metrics[e]);
      lrs.push_back(opt.lr());
    }
    return lrs;
  };
  std::vector<double> straight = run(false), resumed = run(true);
  EXPECT_EQ(straight, resumed);
  EXPECT_LT(straight.back(), 1.0);
}
