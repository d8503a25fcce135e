// Speech features on float32 Tensors, numerically matching torchaudio 0.13 (transforms.Spectrogram,
// MelSpectrogram, AmplitudeToDB, MFCC; functional.melscale_fbanks, create_dct, compute_deltas).
// Layouts follow torchaudio: a signal is (samples,) or (batch, samples); a spectrogram is
// (freq, time) or (batch, freq, time). Transforms use FFTW (float32); FFT plans are created once
// per size and shared (planning is serialized by a mutex; execution is thread-safe).
//
// For repeated use build a transform object once (it precomputes the window, the filterbank, the
// DCT matrix and the FFT plan), like torchaudio's transforms:
//   speech::Mfcc mfcc({.n_mfcc = 13, .mel = {.sample_rate = 8000, .n_fft = 256, .win_length = 200,
//                                            .hop_length = 80, .n_mels = 40}});
//   Tensor c = mfcc(wave);                         // wave (8000,) -> c (13, 101)
//   std::vector<Tensor> cs = mfcc.batch(clips);    // clips of any lengths, in parallel
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun::speech {

enum class WindowType { hann, hamming, rectangular };
enum class PadMode { reflect, constant, replicate };  // how center=true pads the signal ends
enum class SpecNorm { none, window, frame_length };   // torchaudio's normalized=False / "window" / "frame_length"
enum class MelScale { htk, slaney };
enum class MelNorm { none, slaney };                  // slaney: divide each triangle by its width (area norm)
enum class DbScale { power, magnitude };              // AmplitudeToDB stype: 10*log10 or 20*log10

// A window of `length` samples (float32). periodic=true is torch's default (hann_window(N) ==
// the first N points of a symmetric window of N+1 points).
Tensor window(WindowType type, int64_t length, bool periodic = true);

// y[0] = x[0], y[i] = x[i] - coeff * x[i-1], along the last dim of (samples,) or (batch, samples).
Tensor pre_emphasis(const Tensor& x, double coeff = 0.97);

// torchaudio.transforms.Spectrogram defaults.
struct SpectrogramOptions {
  int64_t n_fft = 400;
  int64_t win_length = 0;   // 0: n_fft. The window is zero-padded (centered) to n_fft.
  int64_t hop_length = 0;   // 0: win_length / 2
  int64_t pad = 0;          // zeros added at both ends before framing
  WindowType window = WindowType::hann;
  bool periodic = true;
  double power = 2.0;       // |X|^power: 2 power spectrum, 1 magnitude (> 0)
  SpecNorm normalized = SpecNorm::none;
  bool center = true;       // pad n_fft/2 at both ends so frame t is centered at t * hop
  PadMode pad_mode = PadMode::reflect;
};

// torchaudio.transforms.MelSpectrogram defaults.
struct MelSpectrogramOptions {
  int sample_rate = 16000;
  int64_t n_fft = 400;
  int64_t win_length = 0;
  int64_t hop_length = 0;
  double f_min = 0.0;
  double f_max = 0.0;       // 0: sample_rate / 2 (integer division, like torchaudio)
  int64_t pad = 0;
  int64_t n_mels = 128;
  WindowType window = WindowType::hann;
  bool periodic = true;
  double power = 2.0;
  SpecNorm normalized = SpecNorm::none;
  bool center = true;
  PadMode pad_mode = PadMode::reflect;
  MelNorm norm = MelNorm::none;
  MelScale mel_scale = MelScale::htk;
  SpectrogramOptions spectrogram() const;
};

// torchaudio.transforms.AmplitudeToDB defaults (amin 1e-10, ref 1, no top_db).
struct AmplitudeToDbOptions {
  DbScale stype = DbScale::power;
  std::optional<double> top_db;  // clamp at (max - top_db), the max taken like torchaudio (see amplitude_to_db)
  double amin = 1e-10;
  double ref = 1.0;
};

// torchaudio.transforms.MFCC defaults: 40 coefficients, DCT-II orthonormal, dB mel spectrogram
// with top_db = 80 (log_mels = true uses ln(mel + 1e-6) instead), mel defaults as above.
struct MfccOptions {
  int64_t n_mfcc = 40;
  bool log_mels = false;
  double top_db = 80.0;     // torchaudio fixes 80; <= 0 disables the clamp
  bool ortho = true;        // DCT-II norm "ortho" (false: torchaudio's norm=None, i.e. 2 * cos)
  int64_t lifter = 0;       // sinusoidal liftering c_n *= 1 + L/2 sin(pi n / L); 0 = off (torchaudio has none)
  MelSpectrogramOptions mel{};
};

// ---- one-shot functions (build the transform, run it once) ----
// x: (samples,) or (batch, samples). Returns (n_fft/2+1, frames, 2) [re, im] or (batch, ...).
Tensor stft(const Tensor& x, const SpectrogramOptions& opt = {});
// Returns (n_fft/2+1, frames) or (batch, n_fft/2+1, frames).
Tensor spectrogram(const Tensor& x, const SpectrogramOptions& opt = {});
// (n_freqs, n_mels) triangular filters, same as torchaudio.functional.melscale_fbanks.
Tensor melscale_fbanks(int64_t n_freqs, double f_min, double f_max, int64_t n_mels, int sample_rate,
                       MelNorm norm = MelNorm::none, MelScale scale = MelScale::htk);
// Returns (n_mels, frames) or (batch, n_mels, frames).
Tensor mel_spectrogram(const Tensor& x, const MelSpectrogramOptions& opt = {});
// torchaudio.functional.amplitude_to_DB. top_db uses the max over the last 3 dims of a >= 3-D input
// (torchaudio treats dim -3 as channels: a (batch, freq, time) input shares ONE max), over the
// whole tensor for 2-D. The transform objects below apply top_db per clip instead.
Tensor amplitude_to_db(const Tensor& x, const AmplitudeToDbOptions& opt = {});
// log-mel: amplitude_to_db(mel_spectrogram(x), top_db) per clip.
Tensor log_mel_spectrogram(const Tensor& x, const MelSpectrogramOptions& opt = {},
                           std::optional<double> top_db = 80.0);
// (n_mels, n_mfcc) DCT-II matrix, right-multiplied like torchaudio.functional.create_dct.
Tensor create_dct(int64_t n_mfcc, int64_t n_mels, bool ortho = true);
// Returns (n_mfcc, frames) or (batch, n_mfcc, frames).
Tensor mfcc(const Tensor& x, const MfccOptions& opt = {});
// Sinusoidal lifter along dim -2 (the coefficient axis) of (..., n_mfcc, time).
Tensor lifter(const Tensor& c, int64_t L);
// torchaudio.functional.compute_deltas (replicate padding): (..., freq, time) -> same shape.
Tensor compute_deltas(const Tensor& x, int64_t win_length = 5);

// Per-utterance mean (and variance) normalization over time (last dim) of (..., freq, time):
// y = (x - mean_t) / max(std_t, eps), std the population std (divide by T).
struct CmvnOptions {
  bool variance = true;
  double eps = 1e-10;
};
Tensor cmvn(const Tensor& x, const CmvnOptions& opt = {});

// ---- transform objects (precomputed window / filterbank / DCT / FFT plan; thread-safe to call) ----
namespace detail {
struct FrontEnd;  // framing + FFT + filterbank state, defined in features.cpp
}

class Spectrogram {
 public:
  explicit Spectrogram(const SpectrogramOptions& opt = {});
  Tensor operator()(const Tensor& x) const;  // (samples,) -> (freq, frames); (B, samples) -> (B, freq, frames)
  std::vector<Tensor> batch(const std::vector<Tensor>& clips) const;  // clips of any length, in parallel
  int64_t num_frames(int64_t samples) const;
  const SpectrogramOptions& options() const { return opt_; }

 private:
  SpectrogramOptions opt_;
  std::shared_ptr<const detail::FrontEnd> fe_;
};

class MelSpectrogram {
 public:
  explicit MelSpectrogram(const MelSpectrogramOptions& opt = {});
  Tensor operator()(const Tensor& x) const;  // (samples,) -> (n_mels, frames); batch as Spectrogram
  std::vector<Tensor> batch(const std::vector<Tensor>& clips) const;
  // dB version (amplitude_to_db with top_db per clip); top_db nullopt: no clamp.
  Tensor log_mel(const Tensor& x, std::optional<double> top_db = 80.0) const;
  Tensor filterbank() const;  // (n_freqs, n_mels)
  int64_t num_frames(int64_t samples) const;
  const MelSpectrogramOptions& options() const { return opt_; }

 private:
  MelSpectrogramOptions opt_;
  std::shared_ptr<const detail::FrontEnd> fe_;
};

class Mfcc {
 public:
  explicit Mfcc(const MfccOptions& opt = {});
  Tensor operator()(const Tensor& x) const;  // (samples,) -> (n_mfcc, frames); (B, samples) -> (B, n_mfcc, frames)
  std::vector<Tensor> batch(const std::vector<Tensor>& clips) const;
  int64_t num_frames(int64_t samples) const;
  const MfccOptions& options() const { return opt_; }

 private:
  MfccOptions opt_;
  std::shared_ptr<const detail::FrontEnd> fe_;
};

}  // namespace kun::speech
