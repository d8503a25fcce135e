// The seeds' MNIST CNN end to end (peer: bench/peers/torch_mnist.py, same case names, mirroring
// ../shared/bench/peers/bench_mnist_cnn.py): Conv2D 32 3x3 relu -> MaxPool 2 -> Flatten ->
// Dense 128 relu -> Dense 10, sparse cross-entropy from logits, Adam 1e-3, random data.
// One iteration = one training step (zero_grad, forward, loss, backward, Adam step) or one
// inference batch in eval mode under NoGradGuard (compare.py reports images/s = batch / time).
#include <benchmark/benchmark.h>

#include <memory>

#include "kun/kun.h"
#include "kun/nn/layers.h"
#include "kun/nn/sequential.h"

using namespace kun;

namespace {

std::shared_ptr<nn::Sequential> make_mnist_cnn() {
  manual_seed(0);
  auto m = std::make_shared<nn::Sequential>(
      nn::Conv2D({.out_channels = 32, .kernel = 3, .activation = "relu", .in_channels = 1}),
      nn::MaxPool2D({.kernel = 2}), nn::Flatten(),
      nn::Dense({.units = 128, .in_features = 13 * 13 * 32, .activation = "relu"}), nn::Dense({.units = 10}));
  return m;
}

void run_train(benchmark::State& st, int64_t bs) {
  auto model = make_mnist_cnn();
  Tensor x = rand({bs, 1, 28, 28});
  Tensor y = randint(0, 10, {bs});
  Variable xv(x, false);
  // Build the lazily-shaped layers before handing the parameters to the optimizer.
  { NoGradGuard g; (*model)(xv); }
  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  auto step = [&] {
    opt.zero_grad();
    Variable loss = cross_entropy((*model)(xv), y);
    loss.backward();
    opt.step();
    return loss;
  };
  for (int i = 0; i < 5; ++i) step();
  for (auto _ : st) {
    Variable loss = step();
    benchmark::DoNotOptimize(loss.data().raw_data());
  }
}

void run_infer(benchmark::State& st, int64_t bs) {
  auto model = make_mnist_cnn();
  model->eval();
  Variable xv(rand({bs, 1, 28, 28}), false);
  NoGradGuard g;
  for (int i = 0; i < 5; ++i) (*model)(xv);
  for (auto _ : st) {
    Variable out = (*model)(xv);
    benchmark::DoNotOptimize(out.data().raw_data());
  }
}

}  // namespace

static void BM_mnist_train_bs64(benchmark::State& st) { run_train(st, 64); }
static void BM_mnist_train_bs32(benchmark::State& st) { run_train(st, 32); }
static void BM_mnist_infer_bs1(benchmark::State& st) { run_infer(st, 1); }
static void BM_mnist_infer_bs256(benchmark::State& st) { run_infer(st, 256); }
BENCHMARK(BM_mnist_train_bs64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_mnist_train_bs32)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_mnist_infer_bs1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_mnist_infer_bs256)->Unit(benchmark::kMicrosecond)->UseRealTime();
