// Elementwise ops: memory-bound large tensors (16M floats = 64 MB, far beyond the caches) and
// compute-bound activations on 1M floats (4 MB, cache-resident). Peer: bench/peers/torch_elementwise.py.
// Outputs are preallocated by the caching allocator after the first iteration, as in PyTorch.
#include <benchmark/benchmark.h>

#include "kun/kun.h"

using namespace kun;

namespace {
constexpr int64_t k16M = int64_t{1} << 24;
constexpr int64_t k1M = int64_t{1} << 20;

template <typename F>
void run_unary(benchmark::State& st, int64_t n, const F& f) {
  Tensor x = randn({n});
  for (auto _ : st) benchmark::DoNotOptimize(f(x).raw_data());
  st.SetBytesProcessed(st.iterations() * n * 8);  // read x, write y
}
}  // namespace

static void BM_exp_16M(benchmark::State& st) { run_unary(st, k16M, [](const Tensor& x) { return kun::exp(x); }); }
BENCHMARK(BM_exp_16M)->Unit(benchmark::kMicrosecond);

static void BM_relu_16M(benchmark::State& st) { run_unary(st, k16M, [](const Tensor& x) { return relu(x); }); }
BENCHMARK(BM_relu_16M)->Unit(benchmark::kMicrosecond);

static void BM_gelu_16M(benchmark::State& st) { run_unary(st, k16M, [](const Tensor& x) { return gelu(x); }); }
BENCHMARK(BM_gelu_16M)->Unit(benchmark::kMicrosecond);

static void BM_add_16M(benchmark::State& st) {
  Tensor a = randn({k16M}), b = randn({k16M});
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b).raw_data());
  st.SetBytesProcessed(st.iterations() * k16M * 12);
}
BENCHMARK(BM_add_16M)->Unit(benchmark::kMicrosecond);

static void BM_exp_1M(benchmark::State& st) { run_unary(st, k1M, [](const Tensor& x) { return kun::exp(x); }); }
BENCHMARK(BM_exp_1M)->Unit(benchmark::kMicrosecond);

static void BM_log_1M(benchmark::State& st) {
  Tensor x = add(kun::abs(randn({k1M})), 0.01);
  for (auto _ : st) benchmark::DoNotOptimize(kun::log(x).raw_data());
}
BENCHMARK(BM_log_1M)->Unit(benchmark::kMicrosecond);

static void BM_tanh_1M(benchmark::State& st) { run_unary(st, k1M, [](const Tensor& x) { return kun::tanh(x); }); }
BENCHMARK(BM_tanh_1M)->Unit(benchmark::kMicrosecond);

static void BM_sigmoid_1M(benchmark::State& st) { run_unary(st, k1M, [](const Tensor& x) { return sigmoid(x); }); }
BENCHMARK(BM_sigmoid_1M)->Unit(benchmark::kMicrosecond);

static void BM_gelu_1M(benchmark::State& st) { run_unary(st, k1M, [](const Tensor& x) { return gelu(x); }); }
BENCHMARK(BM_gelu_1M)->Unit(benchmark::kMicrosecond);

static void BM_gelu_tanh_1M(benchmark::State& st) {
  run_unary(st, k1M, [](const Tensor& x) { return gelu(x, GeluApprox::tanh); });
}
BENCHMARK(BM_gelu_tanh_1M)->Unit(benchmark::kMicrosecond);

static void BM_silu_1M(benchmark::State& st) { run_unary(st, k1M, [](const Tensor& x) { return silu(x); }); }
BENCHMARK(BM_silu_1M)->Unit(benchmark::kMicrosecond);

static void BM_softplus_1M(benchmark::State& st) { run_unary(st, k1M, [](const Tensor& x) { return softplus(x); }); }
BENCHMARK(BM_softplus_1M)->Unit(benchmark::kMicrosecond);

// forward + backward through the autograd tape (fused backward kernels)
template <typename F>
void run_fwd_bwd(benchmark::State& st, int64_t n, const F& f) {
  Variable x(randn({n}), true);
  Tensor seed = ones({n});
  for (auto _ : st) {
    Variable y = f(x);
    y.backward(seed);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
  }
}
static void BM_sigmoid_1M_fwd_bwd(benchmark::State& st) {
  run_fwd_bwd(st, k1M, [](const Variable& x) { return sigmoid(x); });
}
BENCHMARK(BM_sigmoid_1M_fwd_bwd)->Unit(benchmark::kMicrosecond);

static void BM_gelu_1M_fwd_bwd(benchmark::State& st) {
  run_fwd_bwd(st, k1M, [](const Variable& x) { return gelu(x); });
}
BENCHMARK(BM_gelu_1M_fwd_bwd)->Unit(benchmark::kMicrosecond);

static void BM_relu_16M_fwd_bwd(benchmark::State& st) {
  run_fwd_bwd(st, k16M, [](const Variable& x) { return relu(x); });
}
BENCHMARK(BM_relu_16M_fwd_bwd)->Unit(benchmark::kMicrosecond);

static void BM_all_finite_16M(benchmark::State& st) {
  Tensor x = randn({k16M});
  for (auto _ : st) benchmark::DoNotOptimize(kun::all_finite(x));
  st.SetBytesProcessed(st.iterations() * k16M * 4);
}
BENCHMARK(BM_all_finite_16M)->Unit(benchmark::kMicrosecond);
