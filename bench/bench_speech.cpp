// Speech features and CTC (peer: bench/peers/torch_speech.py, torchaudio 0.13.1 / torch 1.13).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>

#include "kun/apps/speech/ctc.h"
#include "kun/apps/speech/features.h"
#include "kun/kun.h"

using namespace kun;

namespace {
speech::MfccOptions bench_mfcc() {
  // ../shared/bench/peers/bench_mfcc.py: 13 coeffs, n_fft 256, win 200, hop 80, 40 mels, center, 8 kHz.
  return {.n_mfcc = 13,
          .mel = {.sample_rate = 8000, .n_fft = 256, .win_length = 200, .hop_length = 80, .n_mels = 40}};
}
}  // namespace

// MFCC of one second of 8 kHz audio: (8000,) -> (13, 101).
static void BM_mfcc_1s_8k(benchmark::State& st) {
  speech::Mfcc mfcc(bench_mfcc());
  Tensor x = randn({8000});
  for (auto _ : st) benchmark::DoNotOptimize(mfcc(x).raw_data());
}
BENCHMARK(BM_mfcc_1s_8k);

// A batch of 64 one-second clips: (64, 8000) -> (64, 13, 101), clips in parallel.
static void BM_mfcc_batch64_1s_8k(benchmark::State& st) {
  speech::Mfcc mfcc(bench_mfcc());
  Tensor x = randn({64, 8000});
  for (auto _ : st) benchmark::DoNotOptimize(mfcc(x).raw_data());
}
BENCHMARK(BM_mfcc_batch64_1s_8k);

// log-mel (80 mels, 16 kHz, n_fft 400, hop 160) of one second: (16000,) -> (80, 101).
static void BM_logmel_1s_16k(benchmark::State& st) {
  speech::MelSpectrogram mel({.sample_rate = 16000, .n_fft = 400, .hop_length = 160, .n_mels = 80});
  Tensor x = randn({16000});
  for (auto _ : st) benchmark::DoNotOptimize(mel.log_mel(x, 80.0).raw_data());
}
BENCHMARK(BM_logmel_1s_16k);

// CTC loss + gradient: T=100 frames, batch 16, 28 classes, targets of 20 labels.
static void BM_ctc_T100_N16_C28(benchmark::State& st) {
  Generator g(1);
  Tensor logits = randn({100, 16, 28}, DType::f32, &g);
  // log_softmax by hand (kun's op lives on another branch).
  Tensor lp = logits.clone();
  float* p = lp.data<float>();
  for (int64_t r = 0; r < 100 * 16; ++r) {
    float mx = p[r * 28], s = 0;
    for (int c = 0; c < 28; ++c) mx = std::max(mx, p[r * 28 + c]);
    for (int c = 0; c < 28; ++c) s += std::exp(p[r * 28 + c] - mx);
    for (int c = 0; c < 28; ++c) p[r * 28 + c] -= mx + std::log(s);
  }
  Tensor targets = randint(1, 28, {16, 20}, DType::i64, &g);
  Tensor il = full({16}, 100, DType::i64), tl = full({16}, 20, DType::i64);
  for (auto _ : st) {
    auto r = speech::ctc_loss_forward(lp, targets, il, tl, {.reduction = speech::CtcReduction::mean});
    benchmark::DoNotOptimize(r.grad.raw_data());
  }
}
BENCHMARK(BM_ctc_T100_N16_C28);
