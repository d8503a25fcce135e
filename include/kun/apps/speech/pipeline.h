// From audio files to model inputs and back: the feature pipeline a speech model is trained with
// (saved inside the model file so transcription repeats it exactly), the datasets it builds, the CTC
// loss as a kun loss object, and SpeechModel = train::Model + pipeline + labels in one file.
//
//   FeaturePipeline fp({.kind = FeatureKind::mfcc, .layout = FeatureLayout::sequence});
//   Tensor x = fp.input(read_audio("7_theo_3.wav", {.target_rate = 8000}).samples);  // (101, 13)
//
// A clip's raw features are (F, T): F coefficients (n_mfcc or n_mels, x3 with deltas), T frames.
// The model input has a fixed number of frames, max_frames() = frames of max_seconds of audio:
// a shorter clip is padded with zero frames (after normalization) in front (pad_front, so a
// recurrent layer's last state sits right after the speech) or at the end; a longer clip is an error
// or keeps its first max_seconds (TooLong). Layouts: image (1, F, T) for Conv2D, sequence (T', F')
// for recurrent layers, where `stack` consecutive frames are concatenated into one step (T' = T /
// stack, F' = F * stack: fewer, wider steps for CTC models).
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kun/apps/speech/audio.h"
#include "kun/apps/speech/ctc.h"
#include "kun/apps/speech/datasets.h"
#include "kun/nn/loss.h"
#include "kun/tensor/tensor.h"
#include "kun/train/model.h"

namespace kun::speech {

enum class FeatureKind { mfcc, log_mel };
enum class FeatureLayout { image, sequence };
enum class FeatureNorm { none, global, utterance };  // global: per-coefficient mean/std of the training set

struct FeatureOptions {
  FeatureKind kind = FeatureKind::mfcc;
  int sample_rate = 8000;      // audio is mixed to mono and resampled to this rate first
  int64_t n_fft = 256;
  int64_t win_length = 200;    // 25 ms at 8 kHz
  int64_t hop_length = 80;     // 10 ms at 8 kHz
  int64_t n_mels = 40;
  int64_t n_mfcc = 13;
  bool deltas = false;         // append deltas and delta-deltas (F x 3)
  FeatureNorm normalize = FeatureNorm::global;
  double max_seconds = 1.0;    // the model's input window
  TooLong on_too_long = TooLong::truncate;  // for training / eval data; transcribe chooses its own
  bool pad_front = true;       // zero frames before a short clip (false: after it)
  FeatureLayout layout = FeatureLayout::image;
  int64_t stack = 1;           // sequence layout: frames joined per step
  nlohmann::json to_json() const;
  static FeatureOptions from_json(const nlohmann::json& j);  // ValueError naming a bad key / value
};

class FeaturePipeline {
 public:
  explicit FeaturePipeline(const FeatureOptions& opt = {});
  const FeatureOptions& options() const { return opt_; }

  int64_t num_coeffs() const;   // F
  int64_t max_samples() const;  // round(max_seconds * sample_rate)
  int64_t max_frames() const;   // frames of max_samples, rounded down to a multiple of stack
  Shape input_shape() const;    // one example, no batch dim

  // (samples,) float32 at sample_rate -> (F, T) features (utterance CMVN applied when chosen; global
  // statistics are not). A clip shorter than n_fft samples is zero-padded to n_fft first. Longer
  // than max_seconds: ValueError (TooLong::error) or the first max_seconds (TooLong::truncate).
  Tensor raw(const Tensor& wave, TooLong on_too_long) const;
  Tensor raw(const Tensor& wave) const { return raw(wave, opt_.on_too_long); }
  // Frames of raw features a clip of `samples` samples gives (before padding).
  int64_t frames_of(int64_t samples) const;
  // Raw (F, T) -> one model input: normalized, padded to max_frames, in the layout. T <= max_frames.
  Tensor input(const Tensor& raw_features) const;
  // Steps of the model input that hold speech for a clip of T raw frames (sequence layout: ceil(T / stack)).
  int64_t steps_of(int64_t raw_frames) const;

  // Global normalization: per-coefficient mean and std over all frames of these clips.
  void fit(const std::vector<Tensor>& raws);
  bool fitted() const { return mean_.defined(); }

  // Reads a file (any format / rate / channels) and returns the wave at sample_rate.
  Tensor load(const std::string& path) const;

  nlohmann::json to_json() const;  // options + statistics
  static FeaturePipeline from_json(const nlohmann::json& j);

 private:
  FeatureOptions opt_;
  std::shared_ptr<const void> transform_;  // the Mfcc or MelSpectrogram object
  Tensor mean_, inv_std_;                  // (F) float32
};

// ---- datasets ----

struct FeatureSet {
  Tensor x;                      // (N, ...input_shape) float32
  Tensor y;                      // classify: (N) int64 labels; ctc: (N, 1 + max_digits) int64 (see CtcLoss)
  std::vector<std::string> names;  // a name per example (file, or "string i")
  int64_t truncated = 0;         // clips cut to max_seconds
};

// Raw features of every clip (files decoded and featurized in parallel). Throws the reader's error
// naming the file when one cannot be read.
std::vector<Tensor> raw_features(const FeaturePipeline& fp, const std::vector<std::string>& paths,
                                 int64_t* truncated = nullptr);
// Labels of clips -> a classification set (fits nothing: call fp.fit on the training raws first).
FeatureSet make_feature_set(const FeaturePipeline& fp, const std::vector<Tensor>& raws,
                            const std::vector<int64_t>& labels);

// CTC targets: y row = [input steps holding speech, token_1 + 1, ..., token_k + 1, 0 ...] (label
// ids shifted by one, 0 pads; blank is class 0 of the model output).
FeatureSet make_ctc_set(const FeaturePipeline& fp, const DigitStringBuilder& b, int64_t max_digits,
                        int64_t* truncated = nullptr);

// CTC as a kun loss over the model's (N, T, C) logits: log_softmax over C, then ctc_loss_forward
// (blank 0, reduction mean) on the frames y[:, 0] says hold speech; infeasible samples count zero
// (zero_infinity) so a rare too-short input does not stop training.
class CtcLoss : public loss::Loss {
 public:
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "ctc"; }
};

// Splits y of a CTC set into (steps, token sequence) per example.
std::vector<int64_t> ctc_input_steps(const Tensor& y);
std::vector<std::vector<int64_t>> ctc_targets(const Tensor& y);

// ---- the saved model ----

enum class SpeechTask { classify, ctc };

// One file: Model::save's format (architecture + weights, without optimizer state) plus the
// metadata key "kun_speech" holding {"task", "labels", "features": pipeline JSON, "data"}.
struct SpeechModel {
  std::shared_ptr<train::Model> model;
  FeaturePipeline features;
  SpeechTask task = SpeechTask::classify;
  std::vector<std::string> labels;  // class names; ctc: the token names (blank excluded)
  nlohmann::json data;              // the [data] section it was trained on (eval's default data)

  void save(const std::string& path) const;
  // IOError naming the file when it is not a kun speech model (a plain kun model lacks "kun_speech").
  static SpeechModel load(const std::string& path);
};

struct Transcription {
  std::string text;           // classify: the label; ctc: tokens joined by spaces
  std::vector<int64_t> tokens;
  double confidence = 0;      // classify: softmax probability; ctc: exp(log P(labeling)) of the best beam
  std::vector<std::pair<std::string, double>> top;  // classify: the best classes with probabilities
};

struct TranscribeOptions {
  TooLong on_too_long = TooLong::error;  // a clip longer than the model's window
  int64_t beam_width = 8;                // ctc: 1 = greedy
  int64_t top_k = 3;
};

// Featurizes one wave (at the model's rate) and decodes the model's output.
Transcription transcribe(SpeechModel& m, const Tensor& wave, const TranscribeOptions& opt = {});

}  // namespace kun::speech
