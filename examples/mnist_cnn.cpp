// The seeds' MNIST CNN, trained the Keras way:
//   Conv2D 32 3x3 relu -> MaxPool 2 -> Flatten -> Dense 128 relu -> Dense 10 (logits),
//   Adam 1e-3, sparse categorical cross-entropy, 5 epochs of batch 64.
//
//   kun_example_mnist_cnn [MNIST_DIR] [--strong] [--epochs N]
//
// MNIST_DIR defaults to $KUN_DATA_DIR, else ../shared/data/mnist. --strong trains a bigger net
// (two conv blocks with batch norm and dropout, shift/rotation augmentation, a cosine LR schedule)
// aiming at 99.4%+ test accuracy.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kun/core/rng.h"
#include "kun/core/threading.h"
#include "kun/data/mnist.h"
#include "kun/data/transform.h"
#include "kun/nn/activation.h"
#include "kun/nn/layers.h"
#include "kun/nn/sequential.h"
#include "kun/optim/adam.h"
#include "kun/optim/schedule.h"
#include "kun/train/model.h"

using namespace kun;

namespace {

std::shared_ptr<nn::Sequential> seed_cnn() {
  return std::make_shared<nn::Sequential>(
      nn::Conv2D({.out_channels = 32, .kernel = 3, .activation = "relu"}), nn::MaxPool2D({.kernel = 2}), nn::Flatten(),
      nn::Dense({.units = 128, .activation = "relu"}), nn::Dense({.units = 10}));
}

// Two conv blocks (conv 3x3 "same" -> batch norm -> relu -> pool), then dropout and a dense head:
// about 4.5x the seed net's arithmetic, the most that fits 15 minutes of two cores.
std::shared_ptr<nn::Sequential> strong_cnn() {
  auto m = std::make_shared<nn::Sequential>();
  for (int64_t ch : {32, 64}) {
    m->add(nn::Conv2D({.out_channels = ch, .kernel = 3, .padding = 1, .use_bias = false}));
    m->add(nn::BatchNorm());
    m->add(nn::ReLU());
    m->add(nn::MaxPool2D({.kernel = 2}));
  }
  m->add(nn::Flatten());  // (N, 64 * 7 * 7)
  m->add(nn::Dropout(0.25));
  m->add(nn::Dense({.units = 128, .use_bias = false}));
  m->add(nn::BatchNorm());
  m->add(nn::ReLU());
  m->add(nn::Dropout(0.25));
  m->add(nn::Dense({.units = 10}));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string dir;
    bool strong = false;
    int epochs = 0;  // 0: the variant's default
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--strong") == 0) strong = true;
      else if (std::strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) epochs = std::atoi(argv[++i]);
      else dir = argv[i];
    }
    auto t0 = std::chrono::steady_clock::now();
    data::MnistData mnist = data::mnist(dir);
    std::printf("MNIST: %lld training, %lld test images; %d threads\n", (long long)mnist.train.size(),
                (long long)mnist.test.size(), num_threads());

    manual_seed(0);
    train::Model model(strong ? strong_cnn() : seed_cnn());
    model.compile(optim::Adam({.lr = strong ? 2e-3 : 1e-3}), loss::SparseCategoricalCrossentropy({.from_logits = true}),
                  {metric::Accuracy()});

    train::FitOptions fit{.epochs = 5, .batch_size = 64, .seed = 0, .verbose = 1};
    if (epochs > 0) fit.epochs = epochs;
    if (strong) {
      fit.epochs = 8;
      fit.batch_size = 128;
      if (epochs > 0) fit.epochs = epochs;
      // The test set's figures after every epoch, for watching only (no choice is made on them).
      fit.validation_data = std::make_shared<data::TensorDataset>(mnist.test);
      // Small shifts and rotations: digits stay digits, the net stops memorizing pixel positions.
      fit.transform = [](data::Example b, Generator& gen) {
        b.x = data::augment(b.x, {.max_rotation_degrees = 10, .max_shift = 2}, gen);
        return b;
      };
      const int64_t total = fit.epochs;
      fit.callbacks.push_back(std::make_shared<train::LearningRateScheduler>(
          train::LearningRateScheduler::ScheduleFactory([total](optim::Optimizer& o) {
            return std::make_shared<optim::CosineAnnealingLR>(o, optim::CosineAnnealingLROptions{.t_max = total,
                                                                                                 .eta_min = 1e-5});
          })));
    }
    auto t1 = std::chrono::steady_clock::now();
    model.fit(mnist.train, fit);
    auto t2 = std::chrono::steady_clock::now();
    train::Evaluation ev = model.evaluate(mnist.test);
    auto t3 = std::chrono::steady_clock::now();
    auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    std::printf("test: %s\n", train::ProgressBar::format_figures(ev.values).c_str());
    std::printf("test accuracy %.2f%% | training %.1f s (%.0f images/s), evaluation %.1f s, total %.1f s\n",
                100.0 * ev["accuracy"], secs(t1, t2),
                double(mnist.train.size()) * fit.epochs / secs(t1, t2), secs(t2, t3), secs(t0, t3));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_cnn: %s\n", e.what());
    return 1;
  }
}
