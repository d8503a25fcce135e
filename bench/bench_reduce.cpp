// Reductions, softmax and cross-entropy (peer: bench/peers/torch_reduce.py, same case names).
#include <benchmark/benchmark.h>

#include "kun/kun.h"

using namespace kun;

// full sum of 16M floats (chunked partials over threads)
static void BM_sum_16M(benchmark::State& st) {
  Tensor x = randn({1 << 24});
  for (auto _ : st) benchmark::DoNotOptimize(sum(x).raw_data());
}
BENCHMARK(BM_sum_16M);

// bias-gradient shape: (B, N) -> (N), columns vectorized
static void BM_sum_dim0_4096x1024(benchmark::State& st) {
  Tensor x = randn({4096, 1024});
  for (auto _ : st) benchmark::DoNotOptimize(sum(x, {0}).raw_data());
}
BENCHMARK(BM_sum_dim0_4096x1024);

static void BM_sum_dim1_4096x1024(benchmark::State& st) {
  Tensor x = randn({4096, 1024});
  for (auto _ : st) benchmark::DoNotOptimize(sum(x, {1}).raw_data());
}
BENCHMARK(BM_sum_dim1_4096x1024);

// batch-norm shape: (N, C, H, W) -> (C)
static void BM_sum_nchw_to_c_32x64x56x56(benchmark::State& st) {
  Tensor x = randn({32, 64, 56, 56});
  for (auto _ : st) benchmark::DoNotOptimize(sum(x, {0, 2, 3}).raw_data());
}
BENCHMARK(BM_sum_nchw_to_c_32x64x56x56);

static void BM_softmax_4096x1024_fwd(benchmark::State& st) {
  Tensor x = randn({4096, 1024});
  for (auto _ : st) benchmark::DoNotOptimize(softmax(x, 1).raw_data());
}
BENCHMARK(BM_softmax_4096x1024_fwd);

static void BM_softmax_4096x1024_fwd_bwd(benchmark::State& st) {
  Variable x(randn({4096, 1024}), true);
  Tensor seed = randn({4096, 1024});
  for (auto _ : st) {
    Variable y = softmax(x, 1);
    y.backward(seed);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
  }
}
BENCHMARK(BM_softmax_4096x1024_fwd_bwd);

static void BM_log_softmax_4096x1024_fwd(benchmark::State& st) {
  Tensor x = randn({4096, 1024});
  for (auto _ : st) benchmark::DoNotOptimize(log_softmax(x, 1).raw_data());
}
BENCHMARK(BM_log_softmax_4096x1024_fwd);

// softmax over a non-last dim: (64, 256, 64) along dim 1
static void BM_softmax_dim1_64x256x64_fwd(benchmark::State& st) {
  Tensor x = randn({64, 256, 64});
  for (auto _ : st) benchmark::DoNotOptimize(softmax(x, 1).raw_data());
}
BENCHMARK(BM_softmax_dim1_64x256x64_fwd);

static void BM_cross_entropy_512x1000_fwd_bwd(benchmark::State& st) {
  Variable x(randn({512, 1000}), true);
  Tensor t = randint(0, 1000, {512});
  for (auto _ : st) {
    Variable l = cross_entropy(x, t);
    l.backward();
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
  }
}
BENCHMARK(BM_cross_entropy_512x1000_fwd_bwd);

static void BM_cross_entropy_512x1000_fwd(benchmark::State& st) {
  Tensor x = randn({512, 1000});
  Tensor t = randint(0, 1000, {512});
  for (auto _ : st) benchmark::DoNotOptimize(cross_entropy(x, t).raw_data());
}
BENCHMARK(BM_cross_entropy_512x1000_fwd);
