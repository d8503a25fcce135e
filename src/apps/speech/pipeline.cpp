// Feature pipeline, feature datasets, CTC loss object and the one-file speech model.
#include "kun/apps/speech/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "kun/apps/speech/features.h"
#include "kun/autograd/variable.h"
#include "kun/core/threading.h"
#include "kun/tensor/ops.h"
#include "kun/tensor/safetensors.h"

namespace kun::speech {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kind_name(FeatureKind k) { return k == FeatureKind::mfcc ? "mfcc" : "log_mel"; }
const char* layout_name(FeatureLayout l) { return l == FeatureLayout::image ? "image" : "sequence"; }
const char* norm_name(FeatureNorm n) {
  return n == FeatureNorm::none ? "none" : n == FeatureNorm::global ? "global" : "utterance";
}

MelSpectrogramOptions mel_options(const FeatureOptions& o) {
  MelSpectrogramOptions m;
  m.sample_rate = o.sample_rate;
  m.n_fft = o.n_fft;
  m.win_length = o.win_length;
  m.hop_length = o.hop_length;
  m.n_mels = o.n_mels;
  return m;
}

// (F, T) -> (3F, T): the features, their deltas and delta-deltas.
Tensor with_deltas(const Tensor& c) {
  Tensor d1 = compute_deltas(c);
  Tensor d2 = compute_deltas(d1);
  return concat({c, d1, d2}, 0);
}

Tensor tensor_from_floats(const json& j, const char* what) {
  KUN_CHECK(j.is_array(), ValueError, "speech features: '", what, "' must be an array of numbers");
  std::vector<float> v;
  for (const auto& x : j) v.push_back(x.get<float>());
  return from_vector(v);
}

}  // namespace

// ---------------- options ----------------

json FeatureOptions::to_json() const {
  return {{"kind", kind_name(kind)},
          {"sample_rate", sample_rate},
          {"n_fft", n_fft},
          {"win_length", win_length},
          {"hop_length", hop_length},
          {"n_mels", n_mels},
          {"n_mfcc", n_mfcc},
          {"deltas", deltas},
          {"normalize", norm_name(normalize)},
          {"max_seconds", max_seconds},
          {"too_long", on_too_long == TooLong::error ? "error" : "truncate"},
          {"pad", pad_front ? "front" : "end"},
          {"layout", layout_name(layout)},
          {"stack", stack}};
}

FeatureOptions FeatureOptions::from_json(const json& j) {
  KUN_CHECK(j.is_object(), ValueError, "speech features: expected a table of options, got ", j.dump());
  FeatureOptions o;
  auto str = [&](const char* key, std::initializer_list<const char*> allowed) -> std::string {
    const std::string v = j.at(key).get<std::string>();
    for (const char* a : allowed)
      if (v == a) return v;
    std::string list;
    for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
    kun::detail::throw_error<ValueError>("speech features: ", key, " must be one of ", list, ", got '", v, "'");
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    try {
      if (k == "kind") o.kind = str("kind", {"mfcc", "log_mel", "logmel"}) == "mfcc" ? FeatureKind::mfcc : FeatureKind::log_mel;
      else if (k == "sample_rate") o.sample_rate = it->get<int>();
      else if (k == "n_fft") o.n_fft = it->get<int64_t>();
      else if (k == "win_length") o.win_length = it->get<int64_t>();
      else if (k == "hop_length") o.hop_length = it->get<int64_t>();
      else if (k == "n_mels") o.n_mels = it->get<int64_t>();
      else if (k == "n_mfcc") o.n_mfcc = it->get<int64_t>();
      else if (k == "deltas") o.deltas = it->get<bool>();
      else if (k == "normalize") {
        const std::string v = str("normalize", {"none", "global", "utterance"});
        o.normalize = v == "none" ? FeatureNorm::none : v == "global" ? FeatureNorm::global : FeatureNorm::utterance;
      } else if (k == "max_seconds") o.max_seconds = it->get<double>();
      else if (k == "too_long") o.on_too_long = str("too_long", {"error", "truncate"}) == "error" ? TooLong::error : TooLong::truncate;
      else if (k == "pad") o.pad_front = str("pad", {"front", "end"}) == "front";
      else if (k == "layout") o.layout = str("layout", {"image", "sequence"}) == "image" ? FeatureLayout::image : FeatureLayout::sequence;
      else if (k == "stack") o.stack = it->get<int64_t>();
      else
        kun::detail::throw_error<ValueError>("speech features: unknown key '", k,
                                        "'; accepted: kind, sample_rate, n_fft, win_length, hop_length, n_mels, "
                                        "n_mfcc, deltas, normalize, max_seconds, too_long, pad, layout, stack");
    } catch (const json::exception& e) {
      kun::detail::throw_error<ValueError>("speech features: '", k, "' has the wrong type (", it->dump(), "): ", e.what());
    }
  }
  return o;
}

// ---------------- pipeline ----------------

FeaturePipeline::FeaturePipeline(const FeatureOptions& opt) : opt_(opt) {
  KUN_CHECK(opt.sample_rate > 0, ValueError, "speech features: sample_rate must be > 0, got ", opt.sample_rate);
  KUN_CHECK(opt.n_fft > 0 && opt.hop_length > 0 && opt.win_length > 0 && opt.win_length <= opt.n_fft, ValueError,
            "speech features: need n_fft > 0, hop_length > 0 and 0 < win_length <= n_fft, got n_fft ", opt.n_fft,
            ", win_length ", opt.win_length, ", hop_length ", opt.hop_length);
  KUN_CHECK(opt.n_mels > 0 && (opt.kind != FeatureKind::mfcc || (opt.n_mfcc > 0 && opt.n_mfcc <= opt.n_mels)),
            ValueError, "speech features: need n_mels > 0 and 0 < n_mfcc <= n_mels, got n_mels ", opt.n_mels,
            ", n_mfcc ", opt.n_mfcc);
  KUN_CHECK(opt.max_seconds > 0 && opt.stack >= 1, ValueError,
            "speech features: max_seconds must be > 0 and stack >= 1, got ", opt.max_seconds, " and ", opt.stack);
  KUN_CHECK(max_frames() >= 1, ValueError, "speech features: max_seconds ", opt.max_seconds,
            " gives no complete step of ", opt.stack, " frames");
  if (opt.kind == FeatureKind::mfcc)
    transform_ = std::make_shared<const Mfcc>(MfccOptions{.n_mfcc = opt.n_mfcc, .mel = mel_options(opt)});
  else
    transform_ = std::make_shared<const MelSpectrogram>(mel_options(opt));
}

int64_t FeaturePipeline::num_coeffs() const {
  const int64_t f = opt_.kind == FeatureKind::mfcc ? opt_.n_mfcc : opt_.n_mels;
  return opt_.deltas ? 3 * f : f;
}

int64_t FeaturePipeline::max_samples() const { return std::llround(opt_.max_seconds * opt_.sample_rate); }

// center = true framing: 1 + samples / hop frames.
int64_t FeaturePipeline::frames_of(int64_t samples) const {
  return 1 + std::max(samples, opt_.n_fft) / opt_.hop_length;
}

int64_t FeaturePipeline::max_frames() const {
  const int64_t t = frames_of(max_samples());
  return t / opt_.stack * opt_.stack;
}

int64_t FeaturePipeline::steps_of(int64_t raw_frames) const {
  const int64_t t = std::min(raw_frames, max_frames());
  return opt_.layout == FeatureLayout::sequence ? (t + opt_.stack - 1) / opt_.stack : t;
}

Shape FeaturePipeline::input_shape() const {
  if (opt_.layout == FeatureLayout::image) return {1, num_coeffs(), max_frames()};
  return {max_frames() / opt_.stack, num_coeffs() * opt_.stack};
}

Tensor FeaturePipeline::raw(const Tensor& wave_in, TooLong on_too_long) const {
  KUN_CHECK(wave_in.defined() && wave_in.dim() == 1 && wave_in.dtype() == DType::f32, ValueError,
            "speech features: expected a mono float32 wave (samples,), got ",
            wave_in.defined() ? wave_in.shape().str() : std::string("an undefined tensor"));
  KUN_CHECK(wave_in.numel() > 0, ValueError, "speech features: the clip holds no samples");
  Tensor wave = wave_in.contiguous();
  if (wave.numel() > max_samples()) {
    KUN_CHECK(on_too_long == TooLong::truncate, ValueError, "clip is ",
              double(wave.numel()) / opt_.sample_rate, " s long but the model takes at most ", opt_.max_seconds,
              " s; trim it, or let kun keep the first ", opt_.max_seconds, " s (transcribe --too-long truncate)");
    wave = wave.narrow(0, 0, max_samples()).contiguous();
  }
  if (wave.numel() < opt_.n_fft) {  // reflect padding needs > n_fft / 2 samples: pad short clips with silence
    Tensor w = zeros({opt_.n_fft});
    std::copy(wave.data<float>(), wave.data<float>() + wave.numel(), w.data<float>());
    wave = w;
  }
  Tensor f = opt_.kind == FeatureKind::mfcc ? (*static_cast<const Mfcc*>(transform_.get()))(wave)
                                            : static_cast<const MelSpectrogram*>(transform_.get())->log_mel(wave, 80.0);
  if (opt_.deltas) f = with_deltas(f);
  if (opt_.normalize == FeatureNorm::utterance) f = cmvn(f);
  return f.contiguous();
}

void FeaturePipeline::fit(const std::vector<Tensor>& raws) {
  if (opt_.normalize != FeatureNorm::global) return;
  KUN_CHECK(!raws.empty(), ValueError, "speech features: global normalization needs training clips, got none");
  const int64_t F = num_coeffs();
  std::vector<double> s(F, 0.0), s2(F, 0.0);
  int64_t n = 0;
  for (const Tensor& r : raws) {
    KUN_CHECK(r.dim() == 2 && r.size(0) == F, ShapeError, "speech features: raw features must be (", F, ", T), got ",
              r.shape());
    const int64_t T = r.size(1);
    const float* p = r.data<float>();
    for (int64_t f = 0; f < F; ++f)
      for (int64_t t = 0; t < T; ++t) {
        const double v = p[f * T + t];
        s[f] += v;
        s2[f] += v * v;
      }
    n += T;
  }
  std::vector<float> mean(F), inv(F);
  for (int64_t f = 0; f < F; ++f) {
    const double m = s[f] / double(n);
    const double var = std::max(s2[f] / double(n) - m * m, 0.0);
    mean[f] = float(m);
    inv[f] = float(1.0 / std::max(std::sqrt(var), 1e-5));
  }
  mean_ = from_vector(mean);
  inv_std_ = from_vector(inv);
}

Tensor FeaturePipeline::input(const Tensor& r) const {
  const int64_t F = num_coeffs();
  KUN_CHECK(r.dim() == 2 && r.size(0) == F, ShapeError, "speech features: raw features must be (", F, ", T), got ",
            r.shape());
  KUN_CHECK(opt_.normalize != FeatureNorm::global || fitted(), ValueError,
            "speech features: global normalization is not fitted (call fit on the training clips)");
  const int64_t Tmax = max_frames();
  const int64_t T = std::min(r.size(1), Tmax);
  const int64_t t0 = opt_.pad_front ? Tmax - T : 0;  // first output frame holding speech
  Tensor rc = r.contiguous();
  const float* src = rc.data<float>();
  const int64_t Tin = rc.size(1);
  const float* mean = fitted() ? mean_.data<float>() : nullptr;
  const float* inv = fitted() ? inv_std_.data<float>() : nullptr;
  auto value = [&](int64_t f, int64_t t) {  // normalized feature f of raw frame t
    const float v = src[f * Tin + t];
    return mean ? (v - mean[f]) * inv[f] : v;
  };
  if (opt_.layout == FeatureLayout::image) {
    Tensor out = zeros({1, F, Tmax});
    float* o = out.data<float>();
    for (int64_t f = 0; f < F; ++f)
      for (int64_t t = 0; t < T; ++t) o[f * Tmax + t0 + t] = value(f, t);
    return out;
  }
  // sequence: output frame u = t0 + t goes to step u / stack, slot u % stack: (Tmax / stack, stack * F)
  Tensor out = zeros({Tmax / opt_.stack, F * opt_.stack});
  float* o = out.data<float>();
  for (int64_t t = 0; t < T; ++t) {
    const int64_t u = t0 + t;
    float* row = o + u * F;  // row-major: step u / stack, slot u % stack is exactly offset u * F
    for (int64_t f = 0; f < F; ++f) row[f] = value(f, t);
  }
  return out;
}

Tensor FeaturePipeline::load(const std::string& path) const {
  return read_audio(path, {.mono = true, .target_rate = opt_.sample_rate}).samples;
}

json FeaturePipeline::to_json() const {
  json j = {{"options", opt_.to_json()}};
  if (fitted()) {
    j["mean"] = mean_.to_vector<float>();
    j["inv_std"] = inv_std_.to_vector<float>();
  }
  return j;
}

FeaturePipeline FeaturePipeline::from_json(const json& j) {
  KUN_CHECK(j.is_object() && j.contains("options"), ValueError, "speech features: expected {\"options\": ...}");
  FeaturePipeline fp(FeatureOptions::from_json(j.at("options")));
  if (j.contains("mean")) {
    fp.mean_ = tensor_from_floats(j.at("mean"), "mean");
    fp.inv_std_ = tensor_from_floats(j.at("inv_std"), "inv_std");
    KUN_CHECK(fp.mean_.numel() == fp.num_coeffs() && fp.inv_std_.numel() == fp.num_coeffs(), ValueError,
              "speech features: normalization statistics have ", fp.mean_.numel(), " entries, expected ",
              fp.num_coeffs());
  }
  return fp;
}

// ---------------- datasets ----------------

std::vector<Tensor> raw_features(const FeaturePipeline& fp, const std::vector<std::string>& paths, int64_t* truncated) {
  std::vector<Tensor> out(paths.size());
  std::vector<char> cut(paths.size(), 0);
  std::vector<std::string> errors(paths.size());
  const int64_t limit = fp.max_samples();
  parallel_for(int64_t(paths.size()), 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      try {
        Tensor w = fp.load(paths[size_t(i)]);
        cut[size_t(i)] = w.numel() > limit;
        out[size_t(i)] = fp.raw(w);
      } catch (const std::exception& ex) {
        errors[size_t(i)] = ex.what();
      }
    }
  });
  for (size_t i = 0; i < paths.size(); ++i)
    KUN_CHECK(errors[i].empty(), IOError, "speech data: '", paths[i], "': ", errors[i]);
  if (truncated) *truncated = std::count(cut.begin(), cut.end(), 1);
  return out;
}

FeatureSet make_feature_set(const FeaturePipeline& fp, const std::vector<Tensor>& raws, const std::vector<int64_t>& labels) {
  KUN_CHECK(raws.size() == labels.size(), ValueError, "speech data: ", raws.size(), " clips but ", labels.size(), " labels");
  Shape one = fp.input_shape();
  std::vector<int64_t> dims = {int64_t(raws.size())};
  for (int64_t d : one) dims.push_back(d);
  FeatureSet s;
  s.x = Tensor::empty(Shape(dims));
  const int64_t per = one.numel();
  float* x = s.x.data<float>();
  parallel_for(int64_t(raws.size()), 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Tensor in = fp.input(raws[size_t(i)]);
      std::copy(in.data<float>(), in.data<float>() + per, x + i * per);
    }
  });
  s.y = from_vector(labels);
  return s;
}

FeatureSet make_ctc_set(const FeaturePipeline& fp, const DigitStringBuilder& b, int64_t max_digits, int64_t* truncated) {
  const int64_t n = b.size();
  std::vector<Tensor> raws(static_cast<size_t>(n));
  std::vector<std::vector<int64_t>> digits(static_cast<size_t>(n));
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<char> too_long(size_t(n), 0);
  parallel_for(n, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      try {
        DigitString s = b.get(i);
        digits[size_t(i)] = s.digits;
        if (s.audio.numel() > fp.max_samples()) {  // cutting would lose digits of the target: leave it out
          too_long[size_t(i)] = 1;
          continue;
        }
        raws[size_t(i)] = fp.raw(s.audio, TooLong::error);
      } catch (const std::exception& ex) {
        errors[size_t(i)] = ex.what();
      }
    }
  });
  for (int64_t i = 0; i < n; ++i) KUN_CHECK(errors[size_t(i)].empty(), IOError, "digit string ", i, ": ", errors[size_t(i)]);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i)
    if (!too_long[size_t(i)]) keep.push_back(i);
  if (truncated) *truncated = n - int64_t(keep.size());
  Shape one = fp.input_shape();
  std::vector<int64_t> dims = {int64_t(keep.size())};
  for (int64_t d : one) dims.push_back(d);
  FeatureSet s;
  s.x = Tensor::empty(Shape(dims));
  s.y = zeros({int64_t(keep.size()), 1 + max_digits}, DType::i64);
  const int64_t per = one.numel();
  float* x = s.x.data<float>();
  int64_t* y = s.y.data<int64_t>();
  for (size_t k = 0; k < keep.size(); ++k) {
    const size_t i = size_t(keep[k]);
    Tensor in = fp.input(raws[i]);
    std::copy(in.data<float>(), in.data<float>() + per, x + int64_t(k) * per);
    KUN_CHECK(int64_t(digits[i].size()) <= max_digits, ValueError, "digit string ", i, " has ", digits[i].size(),
              " digits, more than max_digits ", max_digits);
    int64_t* row = y + int64_t(k) * (1 + max_digits);
    row[0] = fp.steps_of(raws[i].size(1));
    for (size_t d = 0; d < digits[i].size(); ++d) row[1 + d] = digits[i][d] + 1;
    s.names.push_back("string " + std::to_string(i));
  }
  return s;
}

std::vector<int64_t> ctc_input_steps(const Tensor& y) {
  KUN_CHECK(y.dim() == 2 && y.size(1) >= 2 && y.dtype() == DType::i64, ShapeError,
            "CTC targets must be int64 (N, 1 + max_tokens) rows [steps, token+1, ..., 0...], got ", y.shape());
  Tensor c = y.contiguous();
  std::vector<int64_t> out;
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(c.data<int64_t>()[i * c.size(1)]);
  return out;
}

std::vector<std::vector<int64_t>> ctc_targets(const Tensor& y) {
  ctc_input_steps(y);  // checks the layout
  Tensor c = y.contiguous();
  const int64_t S = c.size(1);
  std::vector<std::vector<int64_t>> out(size_t(c.size(0)));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 1; j < S; ++j) {
      const int64_t v = c.data<int64_t>()[i * S + j];
      if (v > 0) out[size_t(i)].push_back(v - 1);
    }
  return out;
}

Variable CtcLoss::operator()(const Variable& pred, const Tensor& target) const {
  KUN_CHECK(pred.dim() == 3, ShapeError, "ctc loss: the model must output (N, T, classes) logits, got ", pred.shape());
  const int64_t N = pred.size(0), T = pred.size(1), C = pred.size(2);
  KUN_CHECK(target.dim() == 2 && target.size(0) == N, ShapeError, "ctc loss: targets must be (", N,
            ", 1 + max_tokens), got ", target.shape());
  std::vector<int64_t> steps = ctc_input_steps(target);
  Tensor y = target.contiguous();
  const int64_t S = y.size(1) - 1;
  std::vector<int64_t> tgt_len(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    steps[size_t(i)] = std::clamp<int64_t>(steps[size_t(i)], 1, T);
    int64_t k = 0;
    for (int64_t j = 0; j < S; ++j) {
      const int64_t v = y.data<int64_t>()[i * (S + 1) + 1 + j];
      KUN_CHECK(v >= 0 && v < C, ValueError, "ctc loss: token ", v - 1, " of example ", i, " is outside the model's ",
                C - 1, " output classes (+ blank)");
      k += v > 0;
    }
    tgt_len[size_t(i)] = k;
  }
  // (N, T, C) -> time-major log-probabilities (T, N, C)
  Tensor lp = log_softmax(pred.data().contiguous(), 2).permute({1, 0, 2}).contiguous();
  Tensor targets = y.narrow(1, 1, S).contiguous();
  CtcResult r = ctc_loss_forward(lp, targets, from_vector(steps), from_vector(tgt_len),
                                 {.blank = 0, .reduction = CtcReduction::mean, .zero_infinity = true,
                                  .grad = CtcGrad::torch});
  // CtcGrad::torch is the gradient with respect to the logits before log_softmax: (T, N, C) -> (N, T, C)
  Tensor g = r.grad.permute({1, 0, 2}).contiguous();
  return make_result(r.loss, {pred}, "ctc_loss", [g](const Tensor& grad_out, Node& node) {
    node.inputs[0].accumulate_grad(mul(g, grad_out.item_double()));
  });
}

// ---------------- the model file ----------------

void SpeechModel::save(const std::string& path) const {
  KUN_CHECK(model != nullptr, ValueError, "SpeechModel::save: no model");
  // Model::save writes the architecture and weights; the speech settings join its metadata.
  const std::string tmp = path + ".part-" + std::to_string(::getpid());
  model->save(tmp, /*include_optimizer=*/false);
  safetensors::File f;
  try {
    f = safetensors::load(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  json meta = {{"version", 1},
               {"task", task == SpeechTask::classify ? "classify" : "ctc"},
               {"labels", labels},
               {"features", features.to_json()},
               {"data", data}};
  f.metadata["kun_speech"] = meta.dump();
  f.metadata.erase("format");   // safetensors::save adds its own
  f.metadata.erase("version");
  safetensors::save(path, f.tensors, f.metadata);
}

SpeechModel SpeechModel::load(const std::string& path) {
  KUN_CHECK(fs::exists(path), IOError, "speech model '", path, "' does not exist (train one with kun speech train CONFIG)");
  safetensors::File f = safetensors::load(path);
  auto it = f.metadata.find("kun_speech");
  KUN_CHECK(it != f.metadata.end(), IOError, "'", path,
            "' is not a kun speech model (no 'kun_speech' metadata; make one with kun speech train)");
  SpeechModel m;
  try {
    json j = json::parse(it->second);
    const std::string task = j.at("task").get<std::string>();
    KUN_CHECK(task == "classify" || task == "ctc", IOError, "unknown task '", task, "'");
    m.task = task == "classify" ? SpeechTask::classify : SpeechTask::ctc;
    m.labels = j.at("labels").get<std::vector<std::string>>();
    m.features = FeaturePipeline::from_json(j.at("features"));
    m.data = j.value("data", json());
  } catch (const json::exception& e) {
    kun::detail::throw_error<IOError>("speech model '", path, "': the 'kun_speech' metadata is malformed: ", e.what());
  } catch (const Error& e) {
    kun::detail::throw_error<IOError>("speech model '", path, "': ", e.what());
  }
  m.model = std::make_shared<train::Model>(train::Model::load(path));
  return m;
}

// ---------------- transcription ----------------

Transcription transcribe(SpeechModel& m, const Tensor& wave, const TranscribeOptions& opt) {
  Tensor raw = m.features.raw(wave, opt.on_too_long);
  Tensor x = m.features.input(raw).unsqueeze(0);
  Tensor out = m.model->predict(x, 1);  // classify: (1, C); ctc: (1, T, C)
  Transcription t;
  if (m.task == SpeechTask::classify) {
    KUN_CHECK(out.dim() == 2 && out.size(1) == int64_t(m.labels.size()), ShapeError, "transcribe: the model outputs ",
              out.shape(), " but has ", m.labels.size(), " labels");
    // Probabilities: a softmax unless the outputs already are (non-negative, summing to 1).
    std::vector<float> v = out.contiguous().to_vector<float>();
    double sum = 0;
    bool probs = true;
    for (float p : v) probs = probs && p >= 0, sum += p;
    if (!(probs && std::abs(sum - 1.0) < 1e-3)) v = softmax(out, 1).contiguous().to_vector<float>();
    std::vector<int64_t> order(v.size());
    for (size_t i = 0; i < v.size(); ++i) order[i] = int64_t(i);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[size_t(a)] > v[size_t(b)]; });
    t.tokens = {order[0]};
    t.text = m.labels[size_t(order[0])];
    t.confidence = v[size_t(order[0])];
    for (int64_t k = 0; k < std::min<int64_t>(opt.top_k, int64_t(v.size())); ++k)
      t.top.emplace_back(m.labels[size_t(order[size_t(k)])], v[size_t(order[size_t(k)])]);
    return t;
  }
  KUN_CHECK(out.dim() == 3 && out.size(2) == int64_t(m.labels.size()) + 1, ShapeError, "transcribe: the CTC model outputs ",
            out.shape(), " but has ", m.labels.size(), " tokens + blank");
  Tensor lp = log_softmax(out.contiguous(), 2).permute({1, 0, 2}).contiguous();  // (T, 1, C)
  Tensor len = from_vector(std::vector<int64_t>{m.features.steps_of(raw.size(1))});
  Hypothesis best;
  if (opt.beam_width <= 1) {
    best = ctc_greedy_decode(lp, len)[0];
  } else {
    best = ctc_beam_search(lp, len, {.beam_width = opt.beam_width, .blank = 0, .n_best = 1})[0][0];
  }
  for (int64_t tok : best.tokens) {
    t.tokens.push_back(tok - 1);
    t.text += (t.text.empty() ? "" : " ") + m.labels[size_t(tok - 1)];
  }
  t.confidence = std::exp(best.log_prob);
  return t;
}

}  // namespace kun::speech
