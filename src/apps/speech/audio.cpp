// Audio I/O on libsndfile + libsamplerate. Third-party types stay in this file.
#include "kun/apps/speech/audio.h"

#include <samplerate.h>
#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

namespace kun::speech {

namespace {

// RAII handle: closes the SNDFILE on every path out.
struct SndFile {
  SNDFILE* f = nullptr;
  SF_INFO info{};
  SndFile() = default;
  SndFile(const SndFile&) = delete;
  SndFile& operator=(const SndFile&) = delete;
  ~SndFile() {
    if (f) sf_close(f);
  }
};

void open_for_read(SndFile& s, const std::string& path, const char* op) {
  std::memset(&s.info, 0, sizeof(s.info));
  s.f = sf_open(path.c_str(), SFM_READ, &s.info);
  if (!s.f) {
    // sf_strerror(nullptr) reports why the last sf_open failed (missing file, unknown format, ...).
    std::string why = sf_strerror(nullptr);
    bool exists = std::filesystem::exists(path);
    KUN_CHECK(false, IOError, op, ": cannot read audio file '", path, "': ",
              exists ? "" : "no such file; ", "libsndfile says: ", why);
  }
}

std::string format_name(int format) {
  std::string out;
  SF_FORMAT_INFO fi{};
  fi.format = format & SF_FORMAT_TYPEMASK;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof(fi)) == 0 && fi.name) out = fi.name;
  SF_FORMAT_INFO si{};
  si.format = format & SF_FORMAT_SUBMASK;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &si, sizeof(si)) == 0 && si.name) out += std::string(" / ") + si.name;
  return out;
}

int src_converter(ResampleQuality q) {
  switch (q) {
    case ResampleQuality::best: return SRC_SINC_BEST_QUALITY;
    case ResampleQuality::medium: return SRC_SINC_MEDIUM_QUALITY;
    case ResampleQuality::fastest: return SRC_SINC_FASTEST;
    case ResampleQuality::linear: return SRC_LINEAR;
  }
  return SRC_SINC_MEDIUM_QUALITY;
}

void check_signal(const Tensor& x, const char* op) {
  KUN_CHECK(x.defined(), ValueError, op, ": got an undefined tensor");
  KUN_CHECK(x.dim() == 1 || x.dim() == 2, ShapeError, op, ": expected (samples,) or (channels, samples), got ",
            x.shape());
  x.check_dtype(DType::f32, op);
}

}  // namespace

AudioInfo audio_info(const std::string& path) {
  SndFile s;
  open_for_read(s, path, "audio_info");
  AudioInfo a;
  a.frames = s.info.frames;
  a.sample_rate = s.info.samplerate;
  a.channels = s.info.channels;
  a.format = format_name(s.info.format);
  return a;
}

Audio read_audio(const std::string& path, const AudioReadOptions& opt) {
  KUN_CHECK(opt.target_rate >= 0, ValueError, "read_audio: target_rate must be >= 0 (0 keeps the file's rate), got ",
            opt.target_rate);
  KUN_CHECK(opt.max_seconds >= 0, ValueError, "read_audio: max_seconds must be >= 0 (0: no limit), got ",
            opt.max_seconds);
  SndFile s;
  open_for_read(s, path, "read_audio");
  const int64_t frames = s.info.frames;
  const int channels = s.info.channels, rate = s.info.samplerate;
  KUN_CHECK(frames > 0, IOError, "read_audio: '", path, "' holds no samples (zero-length audio; libsndfile reads ",
            format_name(s.info.format), ", ", channels, " channel(s) at ", rate, " Hz, 0 frames)");
  KUN_CHECK(channels > 0 && rate > 0, IOError, "read_audio: '", path, "' has an invalid header (", channels,
            " channels, ", rate, " Hz)");

  // A too-long clip is rejected before decoding, or only its first max_seconds are decoded.
  int64_t want = frames;
  const double secs = static_cast<double>(frames) / rate;
  if (opt.max_seconds > 0 && secs > opt.max_seconds) {
    KUN_CHECK(opt.on_too_long == TooLong::truncate, ValueError, "read_audio: '", path, "' is ", secs,
              " s long, more than max_seconds=", opt.max_seconds,
              "; set on_too_long = TooLong::truncate to keep its beginning");
    want = static_cast<int64_t>(std::ceil(opt.max_seconds * rate));
  }

  std::vector<float> inter(static_cast<size_t>(want * channels));
  sf_count_t got = sf_readf_float(s.f, inter.data(), want);
  KUN_CHECK(got > 0, IOError, "read_audio: '", path, "' is corrupt: no frame could be decoded (libsndfile says: ",
            sf_strerror(s.f), ")");
  // libsndfile's frame count comes from the header; a truncated file yields fewer frames: keep what decoded.
  const int64_t n = got;

  Tensor x;
  if (channels == 1 || opt.mono) {
    x = Tensor::empty({n}, DType::f32);
    float* p = x.data<float>();
    if (channels == 1) {
      std::memcpy(p, inter.data(), sizeof(float) * n);
    } else {
      const float inv = 1.0f / static_cast<float>(channels);
      for (int64_t i = 0; i < n; ++i) {
        float acc = 0;
        for (int c = 0; c < channels; ++c) acc += inter[i * channels + c];
        p[i] = acc * inv;
      }
    }
    if (!opt.mono) x = x.unsqueeze(0);  // a mono file read with mono=false is (1, samples)
  } else {
    x = Tensor::empty({channels, n}, DType::f32);
    float* p = x.data<float>();
    for (int c = 0; c < channels; ++c)
      for (int64_t i = 0; i < n; ++i) p[c * n + i] = inter[i * channels + c];
  }

  Audio a{x, rate};
  if (opt.target_rate > 0 && opt.target_rate != rate) {
    a.samples = resample(a.samples, rate, opt.target_rate, opt.quality);
    a.sample_rate = opt.target_rate;
  }
  if (opt.max_seconds > 0) {
    const int64_t cap = static_cast<int64_t>(std::floor(opt.max_seconds * a.sample_rate + 1e-9));
    if (a.frames() > cap) a.samples = a.samples.narrow(-1, 0, cap).contiguous();
  }
  if (opt.normalize == Normalize::peak) a.samples = normalize_peak(a.samples, opt.peak);
  if (opt.normalize == Normalize::rms) a.samples = normalize_rms(a.samples, opt.rms);
  return a;
}

Tensor to_mono(const Tensor& x) {
  check_signal(x, "to_mono");
  if (x.dim() == 1) return x;
  Tensor c = x.contiguous();
  const int64_t ch = c.size(0), n = c.size(1);
  KUN_CHECK(ch > 0, ShapeError, "to_mono: expected at least one channel, got ", x.shape());
  Tensor out = zeros({n});
  const float* s = c.data<float>();
  float* o = out.data<float>();
  for (int64_t k = 0; k < ch; ++k)
    for (int64_t i = 0; i < n; ++i) o[i] += s[k * n + i];
  const float inv = 1.0f / static_cast<float>(ch);
  for (int64_t i = 0; i < n; ++i) o[i] *= inv;
  return out;
}

Tensor resample(const Tensor& x, int from_rate, int to_rate, ResampleQuality quality) {
  check_signal(x, "resample");
  KUN_CHECK(from_rate > 0 && to_rate > 0, ValueError, "resample: rates must be positive, got ", from_rate, " -> ",
            to_rate);
  const double ratio = static_cast<double>(to_rate) / from_rate;
  KUN_CHECK(ratio >= 1.0 / 256 && ratio <= 256, ValueError, "resample: ratio ", to_rate, "/", from_rate,
            " is outside libsamplerate's range [1/256, 256]");
  if (from_rate == to_rate) return x.contiguous().clone();
  Tensor c = x.contiguous();
  const bool one = c.dim() == 1;
  const int64_t ch = one ? 1 : c.size(0), n = c.size(-1);
  const int64_t out_n = std::llround(static_cast<double>(n) * ratio);
  Tensor out = zeros(one ? Shape{out_n} : Shape{ch, out_n});
  if (n == 0 || out_n == 0) return out;

  // libsamplerate wants interleaved frames.
  std::vector<float> in(static_cast<size_t>(n * ch)), res(static_cast<size_t>((out_n + 64) * ch));
  const float* s = c.data<float>();
  for (int64_t k = 0; k < ch; ++k)
    for (int64_t i = 0; i < n; ++i) in[i * ch + k] = s[k * n + i];
  SRC_DATA d{};
  d.data_in = in.data();
  d.data_out = res.data();
  d.input_frames = static_cast<long>(n);
  d.output_frames = static_cast<long>(out_n + 64);
  d.src_ratio = ratio;
  d.end_of_input = 1;
  int err = src_simple(&d, src_converter(quality), static_cast<int>(ch));
  KUN_CHECK(err == 0, ValueError, "resample: libsamplerate failed: ", src_strerror(err));
  const int64_t gen = std::min<int64_t>(d.output_frames_gen, out_n);  // the rest stays zero
  float* o = out.data<float>();
  for (int64_t k = 0; k < ch; ++k)
    for (int64_t i = 0; i < gen; ++i) o[k * out_n + i] = res[i * ch + k];
  return out;
}

Tensor normalize_peak(const Tensor& x, double peak) {
  check_signal(x, "normalize_peak");
  KUN_CHECK(peak > 0, ValueError, "normalize_peak: peak must be > 0, got ", peak);
  Tensor out = x.contiguous().clone();
  float* p = out.data<float>();
  const int64_t n = out.numel();
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(p[i]));
  if (m == 0) return out;
  const float s = static_cast<float>(peak / m);
  for (int64_t i = 0; i < n; ++i) p[i] *= s;
  return out;
}

Tensor normalize_rms(const Tensor& x, double rms) {
  check_signal(x, "normalize_rms");
  KUN_CHECK(rms > 0, ValueError, "normalize_rms: rms must be > 0, got ", rms);
  Tensor out = x.contiguous().clone();
  float* p = out.data<float>();
  const int64_t n = out.numel();
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(p[i]) * p[i];
  if (ss == 0 || n == 0) return out;
  const float s = static_cast<float>(rms / std::sqrt(ss / n));
  for (int64_t i = 0; i < n; ++i) p[i] *= s;
  return out;
}

void write_wav(const std::string& path, const Tensor& x, int sample_rate, WavEncoding enc) {
  check_signal(x, "write_wav");
  KUN_CHECK(sample_rate > 0, ValueError, "write_wav: sample_rate must be > 0, got ", sample_rate);
  Tensor c = x.contiguous();
  const int64_t ch = c.dim() == 1 ? 1 : c.size(0), n = c.size(-1);
  KUN_CHECK(ch > 0 && ch <= 1024, ShapeError, "write_wav: expected 1..1024 channels, got ", x.shape());
  std::vector<float> inter(static_cast<size_t>(n * ch));
  const float* s = c.data<float>();
  for (int64_t k = 0; k < ch; ++k)
    for (int64_t i = 0; i < n; ++i) inter[i * ch + k] = s[k * n + i];

  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = static_cast<int>(ch);
  info.format = SF_FORMAT_WAV | (enc == WavEncoding::pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  KUN_CHECK(f != nullptr, IOError, "write_wav: cannot create '", tmp, "': libsndfile says: ", sf_strerror(nullptr));
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t wrote = sf_writef_float(f, inter.data(), n);
  const std::string why = sf_strerror(f);
  const int close_err = sf_close(f);
  std::error_code ec;
  if (wrote != n || close_err != 0) {
    std::filesystem::remove(tmp, ec);
    KUN_CHECK(false, IOError, "write_wav: writing '", path, "' failed after ", wrote, " of ", n,
              " frames: libsndfile says: ", why);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string msg = ec.message();
    std::filesystem::remove(tmp, ec);
    KUN_CHECK(false, IOError, "write_wav: cannot move the finished file to '", path, "': ", msg);
  }
}

}  // namespace kun::speech
