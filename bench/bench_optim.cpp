// One optimizer step over 1M float32 parameters (one tensor); peers: bench/peers/torch_optim.py.
#include <benchmark/benchmark.h>

#include "kun/kun.h"

using namespace kun;

namespace {
constexpr int64_t kParams = 1 << 20;
}

static void BM_adam_step_1M(benchmark::State& st) {
  Variable w(randn({kParams}), true);
  w.set_grad(randn({kParams}));
  optim::Adam opt({w}, {.lr = 1e-3});
  for (auto _ : st) {
    opt.step();
    benchmark::DoNotOptimize(w.data().raw_data());
  }
}
BENCHMARK(BM_adam_step_1M);

static void BM_sgd_momentum_step_1M(benchmark::State& st) {
  Variable w(randn({kParams}), true);
  w.set_grad(randn({kParams}));
  optim::SGD opt({w}, {.lr = 1e-3, .momentum = 0.9});
  for (auto _ : st) {
    opt.step();
    benchmark::DoNotOptimize(w.data().raw_data());
  }
}
BENCHMARK(BM_sgd_momentum_step_1M);
