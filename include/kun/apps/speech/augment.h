// Data augmentation for speech, all seeded by a kun::Generator (same seed -> same output, for any
// thread count): added noise at a chosen SNR, time shift, speed perturbation, SpecAugment masks.
#pragma once
#include <cstdint>
#include <vector>

#include "kun/apps/speech/audio.h"
#include "kun/core/rng.h"
#include "kun/tensor/tensor.h"

namespace kun::speech {

// A uniform double in [0, 1) drawn from gen (advances its offset by one).
double uniform01(Generator& gen);

// x + white Gaussian noise scaled so that 10 log10(P_signal / P_noise) = snr_db. x: (samples,) or
// (channels, samples), float32. A silent signal is returned unchanged (its SNR is undefined).
Tensor add_noise(const Tensor& x, double snr_db, Generator& gen);
// Same with a given noise recording: a random excerpt (tiled if shorter than x) is scaled to snr_db.
Tensor add_noise(const Tensor& x, const Tensor& noise, double snr_db, Generator& gen);

enum class ShiftMode { zeros, wrap };  // fill the vacated samples with zeros, or rotate
// Shifts by a uniform integer in [-max_shift, max_shift] samples (positive: later in time).
Tensor time_shift(const Tensor& x, int64_t max_shift, Generator& gen, ShiftMode mode = ShiftMode::zeros);
// Shifts by exactly `shift` samples.
Tensor shift(const Tensor& x, int64_t shift, ShiftMode mode = ShiftMode::zeros);

// Plays the clip `factor` times faster (pitch changes too, as in Kaldi's speed perturbation):
// resamples to round(samples / factor) samples, keeping the sample rate label.
Tensor speed_perturb(const Tensor& x, double factor, ResampleQuality quality = ResampleQuality::medium);
// Picks one of `factors` uniformly (e.g. {0.9, 1.0, 1.1}).
Tensor speed_perturb(const Tensor& x, const std::vector<double>& factors, Generator& gen,
                     ResampleQuality quality = ResampleQuality::medium);

// SpecAugment masks with torchaudio's FrequencyMasking / TimeMasking semantics per mask: width
// w = floor(u * param) and start = floor(v * (size - w)) with u, v uniform, masking [start, start + w).
// The time mask param is capped at floor(p * T) like torchaudio's `p`.
struct SpecAugmentOptions {
  int64_t freq_mask_param = 0;  // 0: no frequency masks
  int64_t n_freq_masks = 1;
  int64_t time_mask_param = 0;  // 0: no time masks
  int64_t n_time_masks = 1;
  double p = 1.0;               // max fraction of the frames one time mask may cover
  double mask_value = 0.0;
};
// spec: (freq, time) or (batch, freq, time) float32/float64; batch items get independent masks.
Tensor spec_augment(const Tensor& spec, const SpecAugmentOptions& opt, Generator& gen);

}  // namespace kun::speech
