// Dispatch and autograd overhead on tiny tensors (where PyTorch eager pays microseconds per op).
#include <benchmark/benchmark.h>

#include "kun/kun.h"

using namespace kun;

// add of two 64-float tensors, forward + backward (peer: bench/peers/torch_ops.py add64_fwd_bwd)
static void BM_add64_fwd_bwd(benchmark::State& st) {
  Variable a(randn({64}), true), b(randn({64}), true);
  Tensor seed = ones({64});
  for (auto _ : st) {
    Variable c = add(a, b);
    c.backward(seed);
    benchmark::DoNotOptimize(a.grad().raw_data());
    a.zero_grad();
    b.zero_grad();
  }
}
BENCHMARK(BM_add64_fwd_bwd);

static void BM_add64_fwd(benchmark::State& st) {
  Tensor a = randn({64}), b = randn({64});
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b).raw_data());
}
BENCHMARK(BM_add64_fwd);
