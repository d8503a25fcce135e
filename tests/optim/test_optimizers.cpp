// Optimizer trajectories vs torch.optim (tests/golden/gen_optim.py), state-dict resume, errors.
#include <memory>

#include "golden_util.h"

using namespace kun;
using namespace kun::optim;
using kun::testing::golden_case;
using kun::testing::json;

namespace {

const char* kOptimizerCases[] = {"sgd_plain",         "sgd_weight_decay",
                                 "sgd_momentum_dampening", "sgd_nesterov_wd",
                                 "sgd_groups",        "adam",
                                 "adam_weight_decay", "adam_amsgrad",
                                 "adam_skip",         "adamw",
                                 "adamw_amsgrad",     "rmsprop",
                                 "rmsprop_centered_momentum", "adagrad",
                                 "adagrad_decay_init"};

double get(const json& a, const char* k, double dflt) { return a.contains(k) ? a[k].get<double>() : dflt; }

// Builds the optimizer a golden case describes (the same keyword arguments torch.optim got).
std::unique_ptr<Optimizer> make_optimizer(const json& a, const std::vector<ParamGroup>& groups) {
  const std::string kind = a["opt"];
  if (kind == "sgd")
    return std::make_unique<SGD>(groups, SGDOptions{.lr = get(a, "lr", 0.01), .momentum = get(a, "momentum", 0),
                                                    .dampening = get(a, "dampening", 0),
                                                    .weight_decay = get(a, "weight_decay", 0),
                                                    .nesterov = a.value("nesterov", false)});
  double b1 = a.contains("betas") ? a["betas"][0].get<double>() : 0.9;
  double b2 = a.contains("betas") ? a["betas"][1].get<double>() : 0.999;
  if (kind == "adam")
    return std::make_unique<Adam>(groups, AdamOptions{.lr = get(a, "lr", 1e-3), .beta1 = b1, .beta2 = b2,
                                                      .eps = get(a, "eps", 1e-8),
                                                      .weight_decay = get(a, "weight_decay", 0),
                                                      .amsgrad = a.value("amsgrad", false)});
  if (kind == "adamw")
    return std::make_unique<AdamW>(groups, AdamWOptions{.lr = get(a, "lr", 1e-3), .beta1 = b1, .beta2 = b2,
                                                        .eps = get(a, "eps", 1e-8),
                                                        .weight_decay = get(a, "weight_decay", 1e-2),
                                                        .amsgrad = a.value("amsgrad", false)});
  if (kind == "rmsprop")
    return std::make_unique<RMSProp>(groups, RMSPropOptions{.lr = get(a, "lr", 1e-2), .alpha = get(a, "alpha", 0.99),
                                                            .eps = get(a, "eps", 1e-8),
                                                            .weight_decay = get(a, "weight_decay", 0),
                                                            .momentum = get(a, "momentum", 0),
                                                            .centered = a.value("centered", false)});
  if (kind == "adagrad")
    return std::make_unique<Adagrad>(
        groups, AdagradOptions{.lr = get(a, "lr", 1e-2), .lr_decay = get(a, "lr_decay", 0),
                               .weight_decay = get(a, "weight_decay", 0),
                               .initial_accumulator_value = get(a, "initial_accumulator_value", 0),
                               .eps = get(a, "eps", 1e-10)});
  throw std::runtime_error("unknown optimizer " + kind);
}

struct Rig {
  Variable w0, w1;
  Tensor c0, c1;
  std::vector<ParamGroup> groups;
};

Rig setup(const json& c) {
  Rig s;
  s.w0 = Variable(kun::testing::input(c, "p0"), true);
  s.w1 = Variable(kun::testing::input(c, "p1"), true);
  s.c0 = kun::testing::input(c, "c0");
  s.c1 = kun::testing::input(c, "c1");
  const json& a = c["attrs"];
  if (a.contains("group1")) {
    ParamGroup g0, g1;
    g0.params = {s.w0};
    g1.params = {s.w1};
    g1.lr = get(a["group1"], "lr", 0.0);
    if (a["group1"].contains("weight_decay")) g1.weight_decay = a["group1"]["weight_decay"].get<double>();
    s.groups = {g0, g1};
  } else {
    s.groups = one_group({s.w0, s.w1});
  }
  return s;
}

// The deterministic gradient of the golden script: grad = 2 * p + c (float32, same rounding).
void set_grads(Rig& s, int step, const json& skip) {
  s.w0.set_grad(add(mul(s.w0.data(), 2.0), s.c0));
  bool skipped = false;
  for (const auto& k : skip) skipped |= k.get<int>() == step;
  if (skipped) s.w1.zero_grad();
  else s.w1.set_grad(add(mul(s.w1.data(), 2.0), s.c1));
}

}  // namespace

TEST(OptimGolden, TrajectoriesMatchTorch) {
  for (const char* name : kOptimizerCases) {
    SCOPED_TRACE(name);
    const json& c = golden_case("optim", name);
    Rig s = setup(c);
    auto opt = make_optimizer(c["attrs"], s.groups);
    Tensor want0 = kun::testing::output(c, "p0"), want1 = kun::testing::output(c, "p1");
    int steps = c["attrs"]["steps"];
    for (int k = 0; k < steps; ++k) {
      set_grads(s, k, c["attrs"]["skip"]);
      opt->step();
      EXPECT_TRUE(kun::testing::close(s.w0.data(), want0.select(0, k).contiguous(), 1e-5, 1e-6)) << "step " << k;
      EXPECT_TRUE(kun::testing::close(s.w1.data(), want1.select(0, k).contiguous(), 1e-5, 1e-6)) << "step " << k;
    }
  }
}

// Stopping after 2 steps, saving the state dict, and resuming in a fresh optimizer (fresh
// parameters loaded with the same values) gives bit-identical results to running straight through.
TEST(OptimState, ResumeIsExact) {
  for (const char* name : kOptimizerCases) {
    SCOPED_TRACE(name);
    const json& c = golden_case("optim", name);
    const json& a = c["attrs"];
    Rig ref = setup(c);
    auto ref_opt = make_optimizer(a, ref.groups);
    Rig first = setup(c);
    auto first_opt = make_optimizer(a, first.groups);
    for (int k = 0; k < 2; ++k) {
      set_grads(ref, k, a["skip"]);
      ref_opt->step();
      set_grads(first, k, a["skip"]);
      first_opt->step();
    }
    TensorDict saved = first_opt->state_dict();
    Rig second = setup(c);
    second.w0.data().copy_(first.w0.data());
    second.w1.data().copy_(first.w1.data());
    auto second_opt = make_optimizer(a, second.groups);
    second_opt->set_lr(123.0);  // must be restored from the dict
    second_opt->load_state_dict(saved);
    // Stepping the first optimizer further must not change what was saved.
    set_grads(first, 2, a["skip"]);
    first_opt->step();
    for (int k = 2; k < 5; ++k) {
      set_grads(ref, k, a["skip"]);
      ref_opt->step();
      set_grads(second, k, a["skip"]);
      second_opt->step();
    }
    EXPECT_TRUE(kun::testing::close(second.w0.data(), ref.w0.data(), 0, 0));
    EXPECT_TRUE(kun::testing::close(second.w1.data(), ref.w1.data(), 0, 0));
  }
}

TEST(OptimState, DictNamesStepsAndBuffers) {
  Variable w(ones({2, 3}), true);
  Adam opt({w}, {.lr = 0.1, .amsgrad = true});
  w.set_grad(ones({2, 3}));
  opt.step();
  opt.step();
  TensorDict d = opt.state_dict();
  EXPECT_EQ(d.at("state.0.0.step").item<int64_t>(), 2);
  EXPECT_EQ(d.at("state.0.0.exp_avg").shape(), Shape({2, 3}));
  EXPECT_TRUE(d.contains("state.0.0.exp_avg_sq"));
  EXPECT_TRUE(d.contains("state.0.0.max_exp_avg_sq"));
  EXPECT_DOUBLE_EQ(d.at("group.0.lr").item<double>(), 0.1);
  // The dict survives a trip through a tensor file.
  std::string path = ::testing::TempDir() + "/kun_optim_state.safetensors";
  safetensors::save(path, d);
  TensorDict back = safetensors::load(path).tensors;
  Variable w2(ones({2, 3}), true);
  Adam opt2({w2}, {.lr = 0.5});
  opt2.load_state_dict(back);
  EXPECT_DOUBLE_EQ(opt2.lr(), 0.1);
  EXPECT_TRUE(kun::testing::close(opt2.state_dict().at("state.0.0.exp_avg"), d.at("state.0.0.exp_avg"), 0, 0));
}

TEST(OptimState, MismatchedDictIsRejected) {
  Variable a(ones({2}), true), b(ones({3}), true);
  SGD one({a}, {.lr = 0.1, .momentum = 0.9});
  a.set_grad(ones({2}));
  one.step();
  TensorDict d = one.state_dict();
  SGD two({a, b}, {.lr = 0.1, .momentum = 0.9});
  KUN_EXPECT_ERROR(two.load_state_dict(d), "SGD.load_state_dict", "group 0 was saved with 1 parameters", "has 2");
  Variable c(ones({4}), true);
  SGD three({c}, {.lr = 0.1, .momentum = 0.9});
  KUN_EXPECT_ERROR(three.load_state_dict(d), "state.0.0.momentum_buffer", "shape (2,)", "(4,)");
  KUN_EXPECT_ERROR(three.load_state_dict(TensorDict{}), "missing 'group.0.lr'");
}

TEST(Optim, SkipsParamsWithoutGradAndChecksInputs) {
  Variable a(ones({2}), true), b(ones({2}), true);
  SGD opt({a, b}, {.lr = 0.5});
  a.set_grad(ones({2}));
  opt.step();
  EXPECT_TRUE(kun::testing::close(a.data(), full({2}, 0.5)));
  EXPECT_TRUE(kun::testing::close(b.data(), ones({2})));  // no grad: untouched
  opt.zero_grad();
  EXPECT_FALSE(a.has_grad());
  b.set_grad(ones({3}));
  KUN_EXPECT_ERROR(opt.step(), "SGD", "grad of parameter 1", "(3,)");
  KUN_EXPECT_ERROR(SGD({a}, {.lr = 0.1, .nesterov = true}), "nesterov needs momentum > 0");
  KUN_EXPECT_ERROR(Adam({a}, {.beta1 = 1.0}), "Adam", "betas must be in [0, 1)");
  KUN_EXPECT_ERROR(SGD({a, a}, {.lr = 0.1}), "listed twice");
  Variable ints(zeros({2}, DType::i64));
  KUN_EXPECT_ERROR(SGD({ints}, {}), "must be float32 or float64");
  KUN_EXPECT_ERROR(opt.set_lr(-1), "lr must be >= 0");
}

// Large parameters go through the threaded path; results must equal the single-thread run.
TEST(Optim, ThreadedStepMatchesSingleThread) {
  const int64_t n = 300000;
  auto run = [&](int threads) {
    set_num_threads(threads);
    Generator gen(7);
    Variable w(randn({n}, DType::f32, &gen), true);
    Adam opt({w}, {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
    for (int k = 0; k < 3; ++k) {
      w.set_grad(add(mul(w.data(), 2.0), 0.25));
      opt.step();
    }
    set_num_threads(0);
    return w.data();
  };
  Tensor one = run(1), two = run(2);
  EXPECT_TRUE(kun::testing::close(one, two, 0, 0));
}

TEST(Optim, Float64Parameters) {
  Variable w(full({3}, 2.0, DType::f64), true);
  SGD opt({w}, {.lr = 0.25, .momentum = 0.5});
  w.set_grad(full({3}, 1.0, DType::f64));
  opt.step();  // buf = 1, w = 2 - 0.25
  w.set_grad(full({3}, 1.0, DType::f64));
  opt.step();  // buf = 0.5 + 1 = 1.5, w = 1.75 - 0.375
  EXPECT_DOUBLE_EQ(w.data().to_vector<double>()[0], 1.375);
}
