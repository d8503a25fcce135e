// Shape, indexing and normalization ops (peer: bench/peers/torch_nnops.py, same case names).
#include <benchmark/benchmark.h>

#include "kun/kun.h"

using namespace kun;

// layer_norm over the last dim of (4096, 1024) with weight and bias, forward + backward.
static void BM_layer_norm_fb_4096x1024(benchmark::State& st) {
  Variable x(randn({4096, 1024}), true), w(randn({1024}), true), b(randn({1024}), true);
  Tensor seed = randn({4096, 1024});
  for (auto _ : st) {
    Variable y = layer_norm(x, {1024}, w, b);
    y.backward(seed);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
}
BENCHMARK(BM_layer_norm_fb_4096x1024)->Unit(benchmark::kMicrosecond);

// batch_norm training on (64, 64, 28, 28) with weight, bias and running stats, forward + backward.
static void BM_batch_norm_fb_64x64x28x28(benchmark::State& st) {
  Variable x(randn({64, 64, 28, 28}), true), w(randn({64}), true), b(randn({64}), true);
  Tensor rm = zeros({64}), rv = ones({64});
  Tensor seed = randn({64, 64, 28, 28});
  for (auto _ : st) {
    Variable y = batch_norm(x, rm, rv, w, b);
    y.backward(seed);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
}
BENCHMARK(BM_batch_norm_fb_64x64x28x28)->Unit(benchmark::kMicrosecond);

// embedding lookup of 16384 ids (a (64, 256) batch) into a (100000, 64) table, forward + backward.
static void BM_embedding_fb_100000x64_n16384(benchmark::State& st) {
  Variable w(randn({100000, 64}), true);
  Tensor idx = randint(0, 100000, {64, 256});
  Tensor seed = randn({64, 256, 64});
  for (auto _ : st) {
    Variable y = embedding(idx, w);
    y.backward(seed);
    benchmark::DoNotOptimize(w.grad().raw_data());
    w.zero_grad();
  }
}
BENCHMARK(BM_embedding_fb_100000x64_n16384)->Unit(benchmark::kMicrosecond);

// concat of 8 tensors (64, 4096) along dim 1, forward.
static void BM_concat_8x64x4096_dim1(benchmark::State& st) {
  std::vector<Tensor> xs;
  for (int i = 0; i < 8; ++i) xs.push_back(randn({64, 4096}));
  for (auto _ : st) benchmark::DoNotOptimize(concat(xs, 1).raw_data());
}
BENCHMARK(BM_concat_8x64x4096_dim1)->Unit(benchmark::kMicrosecond);

// concat of 8 tensors (64, 4096) along dim 0, forward + backward.
static void BM_concat_fb_8x64x4096_dim0(benchmark::State& st) {
  std::vector<Variable> xs;
  for (int i = 0; i < 8; ++i) xs.emplace_back(randn({64, 4096}), true);
  Tensor seed = randn({512, 4096});
  for (auto _ : st) {
    Variable y = concat(xs, 0);
    y.backward(seed);
    benchmark::DoNotOptimize(xs[0].grad().raw_data());
    for (auto& x : xs) x.zero_grad();
  }
}
BENCHMARK(BM_concat_fb_8x64x4096_dim0)->Unit(benchmark::kMicrosecond);
