// Matrix products: kun's matmul against calling cblas_sgemm directly on the same buffers (the
// ratio shows kun's overhead), and linear forward+backward against PyTorch
// (peer: bench/peers/torch_linalg.py).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "kun/kun.h"

using namespace kun;

namespace {

void run_matmul(benchmark::State& st, int64_t M, int64_t K, int64_t N) {
  Tensor a = randn({M, K}), b = randn({K, N});
  for (auto _ : st) benchmark::DoNotOptimize(matmul(a, b).raw_data());
  st.SetItemsProcessed(st.iterations() * 2 * M * N * K);  // flops
}

void run_sgemm(benchmark::State& st, int64_t M, int64_t K, int64_t N) {
  Tensor a = randn({M, K}), b = randn({K, N}), c = Tensor::empty({M, N});
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, a.data<float>(), (int)K,
                b.data<float>(), (int)N, 0.0f, c.data<float>(), (int)N);
    benchmark::DoNotOptimize(c.raw_data());
  }
  st.SetItemsProcessed(st.iterations() * 2 * M * N * K);
}

}  // namespace

static void BM_matmul_1024(benchmark::State& st) { run_matmul(st, 1024, 1024, 1024); }
static void BM_cblas_sgemm_1024(benchmark::State& st) { run_sgemm(st, 1024, 1024, 1024); }
static void BM_matmul_256(benchmark::State& st) { run_matmul(st, 256, 256, 256); }
static void BM_cblas_sgemm_256(benchmark::State& st) { run_sgemm(st, 256, 256, 256); }
static void BM_matmul_4096x512x512(benchmark::State& st) { run_matmul(st, 4096, 512, 512); }
static void BM_cblas_sgemm_4096x512x512(benchmark::State& st) { run_sgemm(st, 4096, 512, 512); }
BENCHMARK(BM_matmul_1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cblas_sgemm_1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_matmul_256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_cblas_sgemm_256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_matmul_4096x512x512)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cblas_sgemm_4096x512x512)->Unit(benchmark::kMillisecond);

// A transposed operand goes to BLAS as CblasTrans (no copy): should cost about the same.
static void BM_matmul_1024_bT(benchmark::State& st) {
  Tensor a = randn({1024, 1024}), b = randn({1024, 1024});
  Tensor bt = b.t();
  for (auto _ : st) benchmark::DoNotOptimize(matmul(a, bt).raw_data());
}
BENCHMARK(BM_matmul_1024_bT)->Unit(benchmark::kMillisecond);

// Many small products: (32, 64, 64) @ (32, 64, 64).
static void BM_bmm_32x64x64(benchmark::State& st) {
  Tensor a = randn({32, 64, 64}), b = randn({32, 64, 64});
  for (auto _ : st) benchmark::DoNotOptimize(bmm(a, b).raw_data());
}
BENCHMARK(BM_bmm_32x64x64);

namespace {
void run_linear_fb(benchmark::State& st, int64_t B, int64_t in, int64_t out) {
  Variable x(randn({B, in}), false), w(randn({out, in}), true), b(randn({out}), true);
  Tensor seed = ones({B, out});
  for (auto _ : st) {
    Variable y = linear(x, w, b);
    y.backward(seed);
    benchmark::DoNotOptimize(w.grad().raw_data());
    w.zero_grad();
    b.zero_grad();
  }
}
void run_linear_fb_x(benchmark::State& st, int64_t B, int64_t in, int64_t out) {
  // input also needs its gradient (a hidden layer)
  Variable x(randn({B, in}), true), w(randn({out, in}), true), b(randn({out}), true);
  Tensor seed = ones({B, out});
  for (auto _ : st) {
    Variable y = linear(x, w, b);
    y.backward(seed);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
}
}  // namespace

static void BM_linear_fwd_bwd_64x784x128(benchmark::State& st) { run_linear_fb(st, 64, 784, 128); }
static void BM_linear_fwd_bwd_64x128x10(benchmark::State& st) { run_linear_fb_x(st, 64, 128, 10); }
static void BM_linear_fwd_bwd_256x1024x1024(benchmark::State& st) { run_linear_fb_x(st, 256, 1024, 1024); }
BENCHMARK(BM_linear_fwd_bwd_64x784x128);
BENCHMARK(BM_linear_fwd_bwd_64x128x10);
BENCHMARK(BM_linear_fwd_bwd_256x1024x1024);

static void BM_linear_fwd_64x784x128(benchmark::State& st) {
  Tensor x = randn({64, 784}), w = randn({128, 784}), b = randn({128});
  for (auto _ : st) benchmark::DoNotOptimize(linear(x, w, b).raw_data());
}
BENCHMARK(BM_linear_fwd_64x784x128);
