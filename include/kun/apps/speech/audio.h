// Audio input and output: read WAV / FLAC / OGG (libsndfile) of any sample rate and channel count
// into float32 Tensors, mix to mono, resample (libsamplerate), normalize, write WAV.
// Samples are float32 in [-1, 1] (integer PCM is scaled by libsndfile).
#pragma once
#include <cstdint>
#include <string>

#include "kun/tensor/tensor.h"

namespace kun::speech {

// What a file holds, without decoding it.
struct AudioInfo {
  int64_t frames = 0;    // samples per channel
  int sample_rate = 0;   // Hz
  int channels = 0;
  std::string format;    // e.g. "WAV (Microsoft) / Signed 16 bit PCM"
  double seconds() const { return sample_rate > 0 ? static_cast<double>(frames) / sample_rate : 0.0; }
};

enum class Normalize { none, peak, rms };
enum class TooLong { error, truncate };  // what read_audio does with a clip longer than max_seconds
enum class ResampleQuality { best, medium, fastest, linear };  // libsamplerate's sinc converters / linear

struct AudioReadOptions {
  bool mono = true;                 // average the channels; false keeps (channels, samples)
  int target_rate = 0;              // resample to this rate (Hz); 0 keeps the file's rate
  ResampleQuality quality = ResampleQuality::medium;
  double max_seconds = 0.0;         // 0: no limit; measured after resampling
  TooLong on_too_long = TooLong::error;
  Normalize normalize = Normalize::none;
  double peak = 1.0;                // target of Normalize::peak (max |x|)
  double rms = 0.1;                 // target of Normalize::rms
};

struct Audio {
  Tensor samples;        // float32: (samples,) when mono, else (channels, samples)
  int sample_rate = 0;
  int64_t frames() const { return samples.defined() ? samples.size(-1) : 0; }
  double seconds() const { return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0; }
};

// Header only. Throws IOError naming the file and libsndfile's reason when it cannot be opened.
AudioInfo audio_info(const std::string& path);

// Decodes a whole file. Throws IOError for a missing, unreadable, corrupt or zero-length file
// (message: the path and what libsndfile said), and ValueError for a clip longer than
// max_seconds when on_too_long == TooLong::error.
Audio read_audio(const std::string& path, const AudioReadOptions& opt = {});

// (channels, samples) -> (samples,) by averaging the channels; a 1-D tensor is returned as is.
Tensor to_mono(const Tensor& x);

// Resamples (samples,) or (channels, samples) from `from_rate` to `to_rate` Hz. The output has
// exactly round(samples * to_rate / from_rate) samples per channel.
Tensor resample(const Tensor& x, int from_rate, int to_rate, ResampleQuality quality = ResampleQuality::medium);

// Scales so that max |x| == peak; an all-zero signal is returned unchanged (copied).
Tensor normalize_peak(const Tensor& x, double peak = 1.0);
// Scales so that sqrt(mean(x^2)) == rms; an all-zero signal is returned unchanged (copied).
Tensor normalize_rms(const Tensor& x, double rms = 0.1);

enum class WavEncoding { pcm16, float32 };
// Writes (samples,) or (channels, samples) float samples as a WAV file (via a temporary file and a
// rename, so a failure never leaves a half-written file). PCM16 clips to [-1, 1].
void write_wav(const std::string& path, const Tensor& x, int sample_rate, WavEncoding enc = WavEncoding::pcm16);

}  // namespace kun::speech
