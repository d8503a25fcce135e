// Convolution and pooling forward+backward (peer: bench/peers/torch_conv.py, same case names).
// The *_fb cases run the forward kernel and all the gradients (input, weight, bias) given an
// upstream gradient, like PyTorch's y = conv2d(x, w, b); y.backward(gy).
#include <benchmark/benchmark.h>

#include "kun/kun.h"

using namespace kun;

namespace {

void run_conv_fb(benchmark::State& st, Shape xs, int64_t out, int64_t k, Conv2dOptions o) {
  Tensor x = randn(xs), w = randn({out, xs[1] / o.groups, k, k}), b = randn({out});
  Tensor y = conv2d(x, w, b, o);
  Tensor gy = randn(y.shape());
  for (auto _ : st) {
    Tensor yy = conv2d(x, w, b, o);
    ConvGrads g = conv2d_backward(gy, x, w, o);
    benchmark::DoNotOptimize(yy.raw_data());
    benchmark::DoNotOptimize(g.input.raw_data());
  }
}

// The same through autograd Variables (x is an intermediate, as inside a network).
void run_conv_fb_autograd(benchmark::State& st, Shape xs, int64_t out, int64_t k, Conv2dOptions o) {
  Variable x0(randn(xs), true), w(randn({out, xs[1], k, k}), true), b(randn({out}), true);
  Tensor gy = randn(conv2d(x0.data(), w.data(), b.data(), o).shape());
  for (auto _ : st) {
    Variable y = conv2d(x0, w, b, o);
    y.backward(gy);
    benchmark::DoNotOptimize(w.grad().raw_data());
    x0.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
}

void run_conv_fwd(benchmark::State& st, Shape xs, int64_t out, int64_t k, Conv2dOptions o) {
  Tensor x = randn(xs), w = randn({out, xs[1], k, k}), b = randn({out});
  for (auto _ : st) benchmark::DoNotOptimize(conv2d(x, w, b, o).raw_data());
}

}  // namespace

static void BM_conv2d_fb_mnist(benchmark::State& st) { run_conv_fb(st, {64, 1, 28, 28}, 32, 3, {}); }
static void BM_conv2d_fb_resnet(benchmark::State& st) { run_conv_fb(st, {32, 64, 56, 56}, 64, 3, {.padding = 1}); }
static void BM_conv2d_fb_mnist2(benchmark::State& st) { run_conv_fb(st, {64, 32, 13, 13}, 64, 3, {}); }
static void BM_conv2d_fb_mnist_autograd(benchmark::State& st) {
  run_conv_fb_autograd(st, {64, 1, 28, 28}, 32, 3, {});
}
static void BM_conv2d_fwd_mnist(benchmark::State& st) { run_conv_fwd(st, {64, 1, 28, 28}, 32, 3, {}); }
static void BM_conv2d_fwd_resnet(benchmark::State& st) { run_conv_fwd(st, {32, 64, 56, 56}, 64, 3, {.padding = 1}); }
BENCHMARK(BM_conv2d_fb_mnist)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_conv2d_fb_mnist2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_conv2d_fb_resnet)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv2d_fb_mnist_autograd)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_conv2d_fwd_mnist)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_conv2d_fwd_resnet)->Unit(benchmark::kMillisecond);

namespace {
void run_maxpool_fb(benchmark::State& st, Shape xs, Pool2dOptions o) {
  Tensor x = randn(xs);
  Tensor gy = randn(max_pool2d(x, o).shape());
  for (auto _ : st) {
    auto [y, idx] = max_pool2d_with_indices(x, o);
    Tensor gx = max_pool2d_backward(gy, idx, x.shape());
    benchmark::DoNotOptimize(gx.raw_data());
  }
}
void run_avgpool_fb(benchmark::State& st, Shape xs, Pool2dOptions o) {
  Tensor x = randn(xs);
  Tensor gy = randn(avg_pool2d(x, o).shape());
  for (auto _ : st) {
    Tensor y = avg_pool2d(x, o);
    Tensor gx = avg_pool2d_backward(gy, x.shape(), o);
    benchmark::DoNotOptimize(y.raw_data());
    benchmark::DoNotOptimize(gx.raw_data());
  }
}
}  // namespace

static void BM_maxpool2d_fb_mnist(benchmark::State& st) { run_maxpool_fb(st, {64, 32, 26, 26}, {.kernel = 2}); }
static void BM_maxpool2d_fb_resnet(benchmark::State& st) {
  run_maxpool_fb(st, {32, 64, 56, 56}, {.kernel = 3, .stride = 2, .padding = 1});
}
static void BM_avgpool2d_fb_k2(benchmark::State& st) { run_avgpool_fb(st, {64, 32, 26, 26}, {.kernel = 2}); }
BENCHMARK(BM_maxpool2d_fb_mnist)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_maxpool2d_fb_resnet)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_avgpool2d_fb_k2)->Unit(benchmark::kMicrosecond);
