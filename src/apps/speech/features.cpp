// Speech features: framing, windows, FFTW STFT, mel filterbanks, dB, MFCC, deltas, CMVN.
// Numerics follow torchaudio 0.13 (see features.h); the hot path per clip is
//   extend (zero + center padding) -> per frame: window, r2c FFT, |X|^p, sparse mel filters
//   -> vectorized log over the whole (n_mels, T) block -> top_db clamp -> DCT as a small GEMM.
#include "kun/apps/speech/features.h"

#include <fftw3.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numbers>
#include <unordered_map>

#include "kun/core/threading.h"

namespace kun::speech {

namespace {

constexpr double kPi = std::numbers::pi;
// Frames per task when one clip is split across threads. A frame costs ~0.15 us (n_fft 256), while
// waking a second OpenMP thread costs microseconds (and far more on a busy machine), so only long
// clips (> ~10 s at a 10 ms hop) are split; batches are parallel over clips instead.
constexpr int64_t kFrameGrain = 512;

// 8 floats as one value (GCC/Clang vector extension): keeps small accumulator tiles in registers,
// where plain float[8] arrays get spilled to the stack every iteration. Element-wise + - * work.
// (Without AVX the compiler splits it into two SSE registers; these helpers are internal and
// inlined, so the ABI note GCC gives for 32-byte vector returns does not matter.)
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8f __attribute__((vector_size(32)));
inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof(v)); }
// (p[0], p[1]) repeated 4 times: one 64-bit broadcast.
inline v8f pair8(const float* p) {
  typedef double v4d __attribute__((vector_size(32)));
  double d;
  std::memcpy(&d, p, sizeof(d));
  const v4d v = {d, d, d, d};
  return std::bit_cast<v8f>(v);
}

// ---- FFTW plan cache: planning is not thread-safe, execution with new arrays is. ----
std::mutex& plan_mutex() {
  static std::mutex m;
  return m;
}

// One cache for both plan kinds: key = n * 2 + (complex ? 1 : 0).
// The plans live until the process exits; then they and FFTW's planner memory are released.
struct PlanCache {
  std::unordered_map<int64_t, fftwf_plan> plans;
  PlanCache() = default;
  PlanCache(const PlanCache&) = delete;
  PlanCache& operator=(const PlanCache&) = delete;
  ~PlanCache() {
    for (auto& kv : plans) fftwf_destroy_plan(kv.second);
    fftwf_cleanup();
  }
};

fftwf_plan cached_plan(int64_t n, bool complex) {
  static PlanCache cache;
  auto& plans = cache.plans;
  std::lock_guard<std::mutex> lk(plan_mutex());
  const int64_t key = n * 2 + (complex ? 1 : 0);
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  // MEASURE times a few algorithms once per size (milliseconds); huge sizes just estimate.
  const unsigned flags = (n <= 8192 ? FFTW_MEASURE : FFTW_ESTIMATE);
  fftwf_plan p = nullptr;
  if (complex) {
    // Interleaved complex: FFTW has SIMD codelets for it at every size (its split-complex plans of
    // size 400 are 6x slower).
    fftwf_complex* in = fftwf_alloc_complex(static_cast<size_t>(n));
    fftwf_complex* out = fftwf_alloc_complex(static_cast<size_t>(n));
    p = fftwf_plan_dft_1d(static_cast<int>(n), in, out, FFTW_FORWARD, flags);
    fftwf_free(in);
    fftwf_free(out);
  } else {
    float* in = fftwf_alloc_real(static_cast<size_t>(n));
    fftwf_complex* out = fftwf_alloc_complex(static_cast<size_t>(n / 2 + 1));
    p = fftwf_plan_dft_r2c_1d(static_cast<int>(n), in, out, flags);
    fftwf_free(in);
    fftwf_free(out);
  }
  KUN_CHECK(p != nullptr, ValueError, "stft: FFTW could not plan an FFT of size ", n);
  plans.emplace(key, p);
  return p;
}

// Per-thread FFT buffers (allocated by fftwf_alloc_*, so they have the planner's alignment).
struct FftScratch {
  float* in = nullptr;            // one real frame (n_fft)
  fftwf_complex* out = nullptr;   // its one-sided spectrum (n_fft/2 + 1)
  fftwf_complex* cin = nullptr;   // two frames packed as re + i im (n_fft)
  fftwf_complex* cout = nullptr;  // their transform (n_fft)
  float* split = nullptr;         // the transform deinterleaved: re, im (2 x n_fft)
  int64_t cap = 0;
  std::vector<float> pw, pw2;     // |X|^p of one frame / of the second frame of a pair
  std::vector<float> pp;          // the pair interleaved (2 x (n_fft/2 + 1))
  void ensure(int64_t n_fft) {
    if (n_fft > cap) {
      release();
      in = fftwf_alloc_real(static_cast<size_t>(n_fft));
      out = fftwf_alloc_complex(static_cast<size_t>(n_fft / 2 + 1));
      cin = fftwf_alloc_complex(static_cast<size_t>(n_fft));
      cout = fftwf_alloc_complex(static_cast<size_t>(n_fft));
      split = fftwf_alloc_real(static_cast<size_t>(2 * n_fft));
      cap = n_fft;
    }
    pw.resize(static_cast<size_t>(n_fft / 2 + 1));
    pw2.resize(static_cast<size_t>(n_fft / 2 + 1));
    pp.resize(static_cast<size_t>(2 * (n_fft / 2 + 1)));
  }
  void release() {
    if (in) fftwf_free(in);
    if (out) fftwf_free(out);
    if (split) fftwf_free(split);
    if (cin) fftwf_free(cin);
    if (cout) fftwf_free(cout);
    in = split = nullptr;
    out = cin = cout = nullptr;
  }
  FftScratch() = default;
  FftScratch(const FftScratch&) = delete;
  FftScratch& operator=(const FftScratch&) = delete;
  ~FftScratch() { release(); }
};
thread_local FftScratch t_fft;
thread_local std::vector<float> t_ext;   // padded signal of the clip being processed
thread_local std::vector<float> t_block; // (n_mels, T) mel block of the clip being processed

// Natural log of a positive normal float given as its bits, Cephes-style range reduction (~1 ulp).
// Integer and arithmetic operations only (no selects), so `#pragma omp simd` loops vectorize it.
inline float fast_ln_bits(uint32_t b) {
  const uint32_t mant = b & 0x007fffffu;
  const int32_t small = mant < 0x3504f3u;  // mantissa below sqrt(1/2): use 2m so that m - 1 is centered
  const float e = static_cast<float>(static_cast<int32_t>(b >> 23) - 126 - small);
  float m = std::bit_cast<float>(mant | 0x3f000000u);  // in [0.5, 1)
  m = m + static_cast<float>(small) * m - 1.0f;
  const float z = m * m;
  // ln(1 + m) = m - m^2/2 + m^3 P(m), P of degree 6 fitted (weighted least squares on Chebyshev
  // nodes) over m in [sqrt(1/2) - 1, sqrt(2) - 1]: max error 7.4e-9, below float rounding of the result.
  float y = 8.4792245272e-2f;
  y = y * m - 1.4316922772e-1f;
  y = y * m + 1.5020851495e-1f;
  y = y * m - 1.6574555605e-1f;
  y = y * m + 1.9951403733e-1f;
  y = y * m - 2.5001292913e-1f;
  y = y * m + 3.3334266930e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * e;
  y += -0.5f * z;
  return m + y + 0.693359375f * e;
}

// v[i] <- scale * ln(max(v[i], lo) + add) for v[i] >= 0 (power values), lo + add a positive normal
// float. For non-negative floats the integer order of the bits is the numeric order.
// Returns the largest result (taken in the same pass: its max chain hides behind the polynomial).
float log_inplace(float* v, int64_t n, float scale, float lo, float add) {
  const uint32_t lo_bits = std::bit_cast<uint32_t>(lo);
  float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
  for (int64_t i = 0; i < n; ++i) {
    uint32_t b = std::bit_cast<uint32_t>(v[i]);
    b = b > lo_bits ? b : lo_bits;
    const float r = scale * fast_ln_bits(std::bit_cast<uint32_t>(std::bit_cast<float>(b) + add));
    v[i] = r;
    mx = mx > r ? mx : r;
  }
  return mx;
}

double hz_to_mel(double f, MelScale s) {
  if (s == MelScale::htk) return 2595.0 * std::log10(1.0 + f / 700.0);
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  return f >= min_log_hz ? min_log_mel + std::log(f / min_log_hz) / logstep : f / f_sp;
}

// The filterbank and the DCT matrix are built with torchaudio's float32 arithmetic, step by step
// (torchaudio computes them in float32: e.g. the DCT's cos argument pi/n_mels*(m+0.5)*k is rounded
// to float before the cos, which moves entries by up to ~4e-6). Every intermediate goes through
// r32() so the compiler cannot fuse a multiply-add and round differently.
inline float r32(float x) {
  volatile float v = x;
  return v;
}

// torch.linspace for float32 on an AVX2 CPU: first half counted up from start, second half down from end.
std::vector<float> linspace_f32(double start_d, double end_d, int64_t steps) {
  const float start = static_cast<float>(start_d), end = static_cast<float>(end_d);
  std::vector<float> out(static_cast<size_t>(steps));
  if (steps == 1) {
    out[0] = start;
    return out;
  }
  const float step = r32(r32(end - start) / static_cast<float>(steps - 1));
  const int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    out[i] = i < half ? r32(start + r32(step * static_cast<float>(i)))
                      : r32(end - r32(step * static_cast<float>(steps - i - 1)));
  return out;
}

float mel_to_hz_f32(float m, MelScale s) {
  if (s == MelScale::htk) {
    const float p = static_cast<float>(std::pow(10.0, static_cast<double>(r32(m / 2595.0f))));
    return r32(700.0f * r32(p - 1.0f));
  }
  const float f_sp = static_cast<float>(200.0 / 3), min_log_mel = static_cast<float>(1000.0 / (200.0 / 3));
  const float logstep = static_cast<float>(std::log(6.4) / 27.0);
  if (m >= min_log_mel) {
    const float a = r32(logstep * r32(m - min_log_mel));
    return r32(1000.0f * static_cast<float>(std::exp(static_cast<double>(a))));
  }
  return r32(0.0f + r32(f_sp * m));
}

// Dense (n_freqs, n_mels) filterbank, torchaudio's construction in float32.
std::vector<float> fbanks_f32(int64_t n_freqs, double f_min, double f_max, int64_t n_mels, int sample_rate,
                              MelNorm norm, MelScale scale) {
  KUN_CHECK(n_freqs >= 2, ValueError, "melscale_fbanks: n_freqs must be >= 2, got ", n_freqs);
  KUN_CHECK(n_mels >= 1, ValueError, "melscale_fbanks: n_mels must be >= 1, got ", n_mels);
  KUN_CHECK(sample_rate > 0, ValueError, "melscale_fbanks: sample_rate must be > 0, got ", sample_rate);
  KUN_CHECK(f_min >= 0 && f_max > f_min, ValueError, "melscale_fbanks: need 0 <= f_min < f_max, got f_min=", f_min,
            ", f_max=", f_max);
  std::vector<float> all_freqs = linspace_f32(0.0, static_cast<double>(sample_rate / 2), n_freqs);  // integer division
  std::vector<float> f_pts = linspace_f32(hz_to_mel(f_min, scale), hz_to_mel(f_max, scale), n_mels + 2);
  for (float& f : f_pts) f = mel_to_hz_f32(f, scale);
  std::vector<float> fb(static_cast<size_t>(n_freqs * n_mels));
  for (int64_t k = 0; k < n_freqs; ++k) {
    for (int64_t m = 0; m < n_mels; ++m) {
      const float down = r32(r32(-1.0f * r32(f_pts[m] - all_freqs[k])) / r32(f_pts[m + 1] - f_pts[m]));
      const float up = r32(r32(f_pts[m + 2] - all_freqs[k]) / r32(f_pts[m + 2] - f_pts[m + 1]));
      float w = std::max(0.0f, std::min(down, up));
      if (norm == MelNorm::slaney) w = r32(w * r32(2.0f / r32(f_pts[m + 2] - f_pts[m])));
      fb[k * n_mels + m] = w;
    }
  }
  return fb;
}

std::vector<float> window_f32(WindowType type, int64_t n, bool periodic) {
  std::vector<float> w(static_cast<size_t>(n), 1.0f);
  if (type == WindowType::rectangular || n == 1) return w;
  const double denom = periodic ? static_cast<double>(n) : static_cast<double>(n - 1);
  const double a = type == WindowType::hann ? 0.5 : 0.54, b = 1.0 - a;
  for (int64_t i = 0; i < n; ++i) w[i] = static_cast<float>(a - b * std::cos(2.0 * kPi * static_cast<double>(i) / denom));
  return w;
}

}  // namespace

// ---- the shared front end: framing, FFT, filterbank, DCT ----
namespace detail {

struct FrontEnd {
  int64_t n_fft = 0, win_length = 0, hop = 0, pad = 0, n_freq = 0, win_off = 0;
  bool center = true;
  PadMode pad_mode = PadMode::reflect;
  double power = 2.0;
  float mag_scale = 1.0f;  // normalization applied to |X|
  std::vector<float> win;  // win_length values
  fftwf_plan plan = nullptr;   // real -> complex, n_fft (single frames, complex output)
  fftwf_plan cplan = nullptr;  // complex, n_fft (two real frames per transform)
  // Filterbank, sparse per mel: weights fb_w[fb_off[m] .. fb_off[m+1]) apply to bins fb_start[m]...
  int64_t n_mels = 0;
  std::vector<int64_t> fb_start, fb_off;
  std::vector<float> fb_w;
  std::vector<float> fb_dense;  // (n_freq, n_mels) for MelSpectrogram::filterbank()
  // The same filters in blocks of 4 consecutive mels: block b spans bins [blk_lo[b], blk_hi[b]) and
  // stores, per bin, the 4 weights each twice (zero outside a filter) at blk_w[blk_off[b] + (k - lo) * 8 + j]:
  // lane j holds mel m0 + j/2 of frame j%2, matching an interleaved pair of power spectra.
  std::vector<int64_t> blk_lo, blk_hi, blk_off;
  std::vector<float> blk_w;
  // MFCC
  int64_t n_mfcc = 0;
  std::vector<float> dct;       // (n_mfcc, n_mels)
  std::vector<float> lift;      // (n_mfcc) or empty

  explicit FrontEnd(const SpectrogramOptions& o) {
    KUN_CHECK(o.n_fft >= 2, ValueError, "Spectrogram: n_fft must be >= 2, got ", o.n_fft);
    n_fft = o.n_fft;
    win_length = o.win_length > 0 ? o.win_length : n_fft;
    KUN_CHECK(win_length <= n_fft, ValueError, "Spectrogram: win_length (", win_length, ") must be <= n_fft (", n_fft,
              ")");
    hop = o.hop_length > 0 ? o.hop_length : std::max<int64_t>(win_length / 2, 1);
    KUN_CHECK(o.pad >= 0, ValueError, "Spectrogram: pad must be >= 0, got ", o.pad);
    KUN_CHECK(o.power > 0, ValueError, "Spectrogram: power must be > 0 (2 power, 1 magnitude), got ", o.power);
    pad = o.pad;
    center = o.center;
    pad_mode = o.pad_mode;
    power = o.power;
    n_freq = n_fft / 2 + 1;
    win_off = (n_fft - win_length) / 2;
    win = window_f32(o.window, win_length, o.periodic);
    if (o.normalized == SpecNorm::window) {
      double s = 0;
      for (float v : win) s += static_cast<double>(v) * v;
      mag_scale = static_cast<float>(1.0 / std::sqrt(s));
    } else if (o.normalized == SpecNorm::frame_length) {
      mag_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n_fft)));
    }
    plan = cached_plan(n_fft, false);
    cplan = cached_plan(n_fft, true);
  }

  void set_mel(const MelSpectrogramOptions& o) {
    const double f_max = o.f_max > 0 ? o.f_max : static_cast<double>(o.sample_rate / 2);
    std::vector<float> fb = fbanks_f32(n_freq, o.f_min, f_max, o.n_mels, o.sample_rate, o.norm, o.mel_scale);
    n_mels = o.n_mels;
    fb_dense.assign(fb.begin(), fb.end());
    fb_start.assign(static_cast<size_t>(n_mels), 0);
    fb_off.assign(static_cast<size_t>(n_mels + 1), 0);
    fb_w.clear();
    for (int64_t m = 0; m < n_mels; ++m) {
      int64_t lo = -1, hi = -1;
      for (int64_t k = 0; k < n_freq; ++k)
        if (fb[k * n_mels + m] > 0) {
          if (lo < 0) lo = k;
          hi = k;
        }
      fb_start[m] = lo < 0 ? 0 : lo;
      if (lo >= 0)
        for (int64_t k = lo; k <= hi; ++k) fb_w.push_back(fb[k * n_mels + m]);
      fb_off[m + 1] = static_cast<int64_t>(fb_w.size());
    }
    blk_lo.clear();
    blk_hi.clear();
    blk_off.clear();
    blk_w.clear();
    for (int64_t m0 = 0; m0 < n_mels; m0 += 4) {
      int64_t lo = n_freq, hi = 0;
      for (int64_t m = m0; m < std::min(m0 + 4, n_mels); ++m)
        if (fb_off[m + 1] > fb_off[m]) {
          lo = std::min(lo, fb_start[m]);
          hi = std::max(hi, fb_start[m] + fb_off[m + 1] - fb_off[m]);
        }
      if (hi <= lo) lo = hi = 0;
      blk_lo.push_back(lo);
      blk_hi.push_back(hi);
      blk_off.push_back(static_cast<int64_t>(blk_w.size()));
      for (int64_t k = lo; k < hi; ++k)
        for (int64_t j = 0; j < 8; ++j) blk_w.push_back(m0 + j / 2 < n_mels ? fb[k * n_mels + m0 + j / 2] : 0.0f);
    }
  }

  void set_mfcc(const MfccOptions& o) {
    KUN_CHECK(o.n_mfcc >= 1 && o.n_mfcc <= n_mels, ValueError, "Mfcc: n_mfcc must be in [1, n_mels=", n_mels,
              "], got ", o.n_mfcc);
    KUN_CHECK(o.lifter >= 0, ValueError, "Mfcc: lifter must be >= 0 (0 = off), got ", o.lifter);
    n_mfcc = o.n_mfcc;
    Tensor d = create_dct(n_mfcc, n_mels, o.ortho);  // (n_mels, n_mfcc)
    const float* p = d.data<float>();
    dct.resize(static_cast<size_t>(n_mfcc * n_mels));
    for (int64_t k = 0; k < n_mfcc; ++k)
      for (int64_t m = 0; m < n_mels; ++m) dct[k * n_mels + m] = p[m * n_mfcc + k];
    lift.clear();
    if (o.lifter > 0)
      for (int64_t k = 0; k < n_mfcc; ++k)
        lift.push_back(static_cast<float>(1.0 + 0.5 * o.lifter * std::sin(kPi * k / o.lifter)));
  }

  int64_t padded_length(int64_t n) const { return n + 2 * pad + (center ? 2 * (n_fft / 2) : 0); }

  void check_length(int64_t n, const char* op) const {
    KUN_CHECK(n >= 1, ValueError, op, ": the signal is empty");
    if (center && pad_mode == PadMode::reflect)
      KUN_CHECK(n_fft / 2 < n + 2 * pad, ValueError, op, ": center=true with reflect padding needs more than n_fft/2 = ",
                n_fft / 2, " samples, got ", n, "; pad the clip or use PadMode::constant");
    KUN_CHECK(padded_length(n) >= n_fft, ValueError, op, ": a signal of ", n, " samples is shorter than n_fft = ",
              n_fft, " (with center=false)");
  }

  int64_t frames(int64_t n) const { return 1 + (padded_length(n) - n_fft) / hop; }

  // ext <- zero padding `pad`, then center padding n_fft/2 per pad_mode. Throws on NaN/inf input.
  void extend(const float* x, int64_t n, std::vector<float>& ext, const char* op) const {
    const int64_t m = n + 2 * pad, P = center ? n_fft / 2 : 0, len = m + 2 * P;
    ext.resize(static_cast<size_t>(len));
    float* e = ext.data();
    std::fill(e, e + P + pad, 0.0f);
    // Largest |x| as bits: an integer max has a 1-cycle dependency chain (a float sum of x * 0,
    // the obvious NaN/inf test, serializes on the 4-cycle add latency: ~1 us per second of audio).
    uint32_t mx = 0;
    float* body = e + P + pad;
#pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < n; ++i) {
      body[i] = x[i];
      const uint32_t a = std::bit_cast<uint32_t>(x[i]) & 0x7fffffffu;
      mx = mx > a ? mx : a;
    }
    if (mx >= 0x7f800000u) {  // exponent all ones: inf or NaN
      int64_t bad = 0;
      while (bad < n && std::isfinite(x[bad])) ++bad;
      KUN_CHECK(false, ValueError, op, ": the signal has a non-finite sample (", x[bad], ") at index ", bad);
    }
    std::fill(e + P + pad + n, e + len, 0.0f);
    if (!center || P == 0) return;
    const float* y = e + P;  // the zero-padded signal, length m
    for (int64_t k = 1; k <= P; ++k) {
      float l = 0, r = 0;
      if (pad_mode == PadMode::reflect) {
        l = y[k];
        r = y[m - 1 - k];
      } else if (pad_mode == PadMode::replicate) {
        l = y[0];
        r = y[m - 1];
      }
      e[P - k] = l;
      e[P + m - 1 + k] = r;
    }
  }

  // |X|^power from |X|^2 (already scaled), in place.
  void apply_power(float* pw, int64_t count) const {
    if (power == 1.0) {
#pragma omp simd
      for (int64_t k = 0; k < count; ++k) pw[k] = std::sqrt(pw[k]);
    } else if (power != 2.0) {
      const float h = static_cast<float>(power / 2);
      for (int64_t k = 0; k < count; ++k) pw[k] = std::pow(pw[k], h);
    }
  }

  // Windowed frame t of the padded signal into dst[win_off, win_off + win_length).
  void window_frame(const float* ext, int64_t t, float* dst) const {
    const float* src = ext + t * hop + win_off;
    const float* w = win.data();
    dst += win_off;
#pragma omp simd
    for (int64_t i = 0; i < win_length; ++i) dst[i] = src[i] * w[i];
  }

#ifdef __AVX2__
  // pp[2k], pp[2k + 1] for k = 1 .. n_fft/2 straight from the interleaved transform co (n_fft % 8 == 0):
  // 4 bins per step, A = Z[k..k+3] and B = Z[N-k-3..N-k] reversed (one 64-bit permute), S = A + conj(B),
  // D = A - conj(B); blends of S^2, D^2 and one pair swap give the (|S|^2, |D|^2) pairs.
  // Replaces a deinterleave pass and reversed loads that cost about as much as the arithmetic.
  void separate_pair_avx2(const float* co, float* pp, float q) const {
    const __m256 conj = _mm256_setr_ps(0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f);
    const __m256 qv = _mm256_set1_ps(q);
    const int64_t half = n_fft / 2;
    for (int64_t k = 1; k <= half; k += 4) {
      const __m256 a = _mm256_loadu_ps(co + 2 * k);
      const __m256 b_fwd = _mm256_loadu_ps(co + 2 * (n_fft - k - 3));
      const __m256 b = _mm256_xor_ps(_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(b_fwd), 0x1B)), conj);
      const __m256 sv = _mm256_add_ps(a, b), dv = _mm256_sub_ps(a, b);
      // x = (Sr^2, Di^2, ...), y = (Si^2, Dr^2, ...): x + y = (|S_k|^2, |D_k|^2, |S_k+1|^2, ...) with
      // one in-lane shuffle (blends are not shuffles; a horizontal add would cost two more).
      const __m256 s2 = _mm256_mul_ps(sv, sv), d2 = _mm256_mul_ps(dv, dv);
      const __m256 x = _mm256_blend_ps(s2, d2, 0xAA);
      const __m256 y = _mm256_permute_ps(_mm256_blend_ps(d2, s2, 0xAA), 0xB1);
      _mm256_storeu_ps(pp + 2 * k, _mm256_mul_ps(_mm256_add_ps(x, y), qv));
    }
  }
#endif

  // Calls sink(t, pw) for frames [t0, t1): pw holds |X_k|^power (n_freq values); a sink with a
  // pair(t, pp) member gets frames t and t + 1 at once, interleaved. When Complex: sink(t, const
  // fftwf_complex*) with the unnormalized one-sided spectrum of the frame.
  // Power spectra go two frames per complex FFT (z = a + i b): FFTW's complex 256-point transform
  // costs about half of two real ones (its real transforms lack SIMD codelets). With A = Z[k], B = conj(Z[N-k]):
  // |X_a|^2 = |A + B|^2 / 4 and |X_b|^2 = |A - B|^2 / 4.
  template <bool Complex, typename Sink>
  void frames_range(const float* ext, int64_t t0, int64_t t1, Sink&& sink) const {
    FftScratch& s = t_fft;
    s.ensure(n_fft);
    const float sc2 = mag_scale * mag_scale;
    int64_t t = t0;
    if constexpr (!Complex) {
      float* ci = reinterpret_cast<float*>(s.cin);
      const float* co = reinterpret_cast<const float*>(s.cout);
      float* zr = s.split;
      float* zi = s.split + n_fft;
      std::fill(ci, ci + 2 * win_off, 0.0f);
      std::fill(ci + 2 * (win_off + win_length), ci + 2 * n_fft, 0.0f);
      float* p1 = s.pw.data();
      float* p2 = s.pw2.data();
      float* pp = s.pp.data();
      const float q = 0.25f * sc2;
      const float* zr_end = zr + n_fft;  // zr_end[-k] = Re Z[N-k]
      const float* zi_end = zi + n_fft;
      const float* w = win.data();
      for (; t + 1 < t1; t += 2) {
        // Frame t in the real parts, frame t + 1 in the imaginary parts (one interleaving loop).
        const float* sa = ext + t * hop + win_off;
        const float* sb = sa + hop;
        float* dst = ci + 2 * win_off;
#pragma omp simd
        for (int64_t i = 0; i < win_length; ++i) {
          dst[2 * i] = sa[i] * w[i];
          dst[2 * i + 1] = sb[i] * w[i];
        }
        fftwf_execute_dft(cplan, s.cin, s.cout);
        // pp interleaves the two spectra: pp[2k] = |X_t[k]|^2, pp[2k + 1] = |X_{t+1}[k]|^2.
        pp[0] = co[0] * co[0] * sc2;  // k = 0: A = B = Z[0]
        pp[1] = co[1] * co[1] * sc2;
#ifdef __AVX2__
        if (n_fft % 8 == 0) {
          separate_pair_avx2(co, pp, q);
        } else
#endif
        {
#pragma omp simd
          for (int64_t k = 0; k < n_fft; ++k) {
            zr[k] = co[2 * k];
            zi[k] = co[2 * k + 1];
          }
#pragma omp simd
          for (int64_t k = 1; k < n_freq; ++k) {
            const float br = zr_end[-k], bi = zi_end[-k];
            const float sr = zr[k] + br, si = zi[k] - bi, dr = zr[k] - br, di = zi[k] + bi;
            pp[2 * k] = (sr * sr + si * si) * q;
            pp[2 * k + 1] = (dr * dr + di * di) * q;
          }
        }
        apply_power(pp, 2 * n_freq);
        if constexpr (requires { sink.pair(t, pp); }) {
          sink.pair(t, static_cast<const float*>(pp));  // both frames at once
        } else {
          for (int64_t k = 0; k < n_freq; ++k) {
            p1[k] = pp[2 * k];
            p2[k] = pp[2 * k + 1];
          }
          sink(t, static_cast<const float*>(p1));
          sink(t + 1, static_cast<const float*>(p2));
        }
      }
    }
    if (t >= t1) return;
    float* in = s.in;
    std::fill(in, in + win_off, 0.0f);
    std::fill(in + win_off + win_length, in + n_fft, 0.0f);
    float* pw = s.pw.data();
    for (; t < t1; ++t) {
      window_frame(ext, t, in);
      fftwf_execute_dft_r2c(plan, in, s.out);
      if constexpr (Complex) {
        sink(t, static_cast<const fftwf_complex*>(s.out));
      } else {
        const float* c = reinterpret_cast<const float*>(s.out);
#pragma omp simd
        for (int64_t k = 0; k < n_freq; ++k) pw[k] = (c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1]) * sc2;
        apply_power(pw, n_freq);
        sink(t, static_cast<const float*>(pw));
      }
    }
  }

  // All T frames, split across threads when the clip is long and we are not already in a parallel region.
  template <bool Complex, typename Sink>
  void all_frames(const float* ext, int64_t T, Sink&& sink) const {
    // Split at even frame indices, so the frame pairing (and so every rounding) is the same for any
    // thread count: results are bit-identical to a single-threaded run.
    parallel_for((T + 1) / 2, kFrameGrain / 2, [&](int64_t b, int64_t e) {
      frames_range<Complex>(ext, 2 * b, std::min(2 * e, T), sink);
    });
  }

  // Mel power of one frame into column t of a (n_mels, stride) block.
  void mel_frame(const float* pw, float* block, int64_t t, int64_t stride) const {
    for (int64_t m = 0; m < n_mels; ++m) {
      const float* wm = fb_w.data() + fb_off[m];
      const float* pm = pw + fb_start[m];
      const int64_t len = fb_off[m + 1] - fb_off[m];
      float acc = 0;
      for (int64_t j = 0; j < len; ++j) acc += wm[j] * pm[j];
      block[m * stride + t] = acc;
    }
  }
  // Two frames at once (t and t + 1) from their interleaved spectra pp: each vector lane is one
  // (mel, frame) of a block of 4 mels; per bin one FMA of the duplicated weights with the broadcast
  // pair (pp[2k], pp[2k+1]). Even and odd bins use separate accumulators to hide the FMA latency.
  void mel_pair(const float* pp, float* block, int64_t t, int64_t stride) const {
    const int64_t nb = static_cast<int64_t>(blk_lo.size());
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t lo = blk_lo[b], len = blk_hi[b] - lo;
      const float* W = blk_w.data() + blk_off[b];
      const float* q = pp + 2 * lo;
      v8f a = {}, c = {};
      int64_t k = 0;
      for (; k + 1 < len; k += 2) {
        a += load8(W + k * 8) * pair8(q + 2 * k);
        c += load8(W + k * 8 + 8) * pair8(q + 2 * k + 2);
      }
      if (k < len) a += load8(W + k * 8) * pair8(q + 2 * k);
      a += c;
      const int64_t mn = std::min<int64_t>(4, n_mels - b * 4);
      for (int64_t j = 0; j < mn; ++j) {
        float* row = block + (b * 4 + j) * stride + t;
        row[0] = a[2 * j];
        row[1] = a[2 * j + 1];
      }
    }
  }

  // ---- per-clip drivers; out points at the clip's contiguous output ----
  void spectrogram_clip(const float* x, int64_t n, float* out, const char* op) const {
    std::vector<float>& ext = t_ext;
    extend(x, n, ext, op);
    const int64_t T = frames(n);
    all_frames<false>(ext.data(), T, [&](int64_t t, const float* pw) {
      for (int64_t k = 0; k < n_freq; ++k) out[k * T + t] = pw[k];
    });
  }

  void stft_clip(const float* x, int64_t n, float* out, const char* op) const {
    std::vector<float>& ext = t_ext;
    extend(x, n, ext, op);
    const int64_t T = frames(n);
    all_frames<true>(ext.data(), T, [&](int64_t t, const fftwf_complex* c) {
      for (int64_t k = 0; k < n_freq; ++k) {
        out[(k * T + t) * 2] = c[k][0] * mag_scale;
        out[(k * T + t) * 2 + 1] = c[k][1] * mag_scale;
      }
    });
  }

  // Mel power into a (n_mels, stride) block, stride >= T (MFCC pads rows for its blocked DCT).
  void mel_clip(const float* x, int64_t n, float* out, const char* op, int64_t stride = 0) const {
    std::vector<float>& ext = t_ext;
    extend(x, n, ext, op);
    const int64_t T = frames(n);
    if (stride == 0) stride = T;
    struct Sink {
      const FrontEnd* fe;
      float* out;
      int64_t stride;
      void operator()(int64_t t, const float* pw) const { fe->mel_frame(pw, out, t, stride); }
      void pair(int64_t t, const float* pp) const { fe->mel_pair(pp, out, t, stride); }
    } sink{this, out, stride};
    all_frames<false>(ext.data(), T, sink);
  }

  // 10*log10(max(v, 1e-10)) in place over a (rows, T) block, then the top_db clamp over the block.
  static void to_db(float* v, int64_t count, std::optional<double> top_db) {
    const float mx = log_inplace(v, count, 4.3429448190325175f /* 10 / ln 10 */, 1e-10f, 0.0f);
    if (top_db && *top_db > 0) {
      const float floor_db = mx - static_cast<float>(*top_db);
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) v[i] = v[i] > floor_db ? v[i] : floor_db;
    }
  }

  void mfcc_clip(const float* x, int64_t n, float* out, const MfccOptions& o, const char* op) const {
    const int64_t T = frames(n);
    const int64_t Tp = (T + 7) / 8 * 8;  // rows padded to whole 8-frame blocks for the DCT below
    std::vector<float>& block = t_block;
    block.resize(static_cast<size_t>(n_mels * Tp));
    for (int64_t m = 0; m < n_mels; ++m) std::fill(block.data() + m * Tp + T, block.data() + (m + 1) * Tp, 0.0f);
    mel_clip(x, n, block.data(), op, Tp);  // fills columns [0, T)
    float* v = block.data();
    const int64_t count = n_mels * Tp;  // padding columns become -100 dB: never above a real frame's max
    if (o.log_mels) {
      log_inplace(v, count, 1.0f, 0.0f, 1e-6f);  // ln(mel + 1e-6); mel >= 0
    } else {
      to_db(v, count, o.top_db > 0 ? std::optional<double>(o.top_db) : std::nullopt);
    }
    // out (n_mfcc, T) = dct (n_mfcc, n_mels) @ v (n_mels, Tp), register-blocked: up to 13 coefficients
    // x 8 frames of accumulators, one load of v per mel band feeding up to 13 FMAs.
    for (int64_t k0 = 0; k0 < n_mfcc;) {
      const int64_t rem = n_mfcc - k0;
      if (rem >= 13) {
        dct_rows<13>(v, T, Tp, k0, out);
        k0 += 13;
      } else if (rem >= 8) {
        dct_rows<8>(v, T, Tp, k0, out);
        k0 += 8;
      } else if (rem >= 4) {
        dct_rows<4>(v, T, Tp, k0, out);
        k0 += 4;
      } else {
        dct_rows<1>(v, T, Tp, k0, out);
        k0 += 1;
      }
    }
  }

  // Rows [k0, k0 + K) of out (n_mfcc, T) = dct @ v, v (n_mels, Tp) with Tp a multiple of 8.
  template <int K>
  void dct_rows(const float* v, int64_t T, int64_t Tp, int64_t k0, float* out) const {
    const float* dp = dct.data();  // (n_mfcc, n_mels)
    for (int64_t t0 = 0; t0 < Tp; t0 += 8) {
      v8f acc[K] = {};
      for (int64_t m = 0; m < n_mels; ++m) {
        const v8f r = load8(v + m * Tp + t0);
        for (int kk = 0; kk < K; ++kk) acc[kk] += dp[(k0 + kk) * n_mels + m] * r;
      }
      const int64_t tn = std::min<int64_t>(8, T - t0);
      for (int kk = 0; kk < K; ++kk) {
        const float l = lift.empty() ? 1.0f : lift[k0 + kk];
        float* o_k = out + (k0 + kk) * T + t0;
        for (int64_t j = 0; j < tn; ++j) o_k[j] = acc[kk][j] * l;
      }
    }
  }
};

}  // namespace detail

namespace {

using detail::FrontEnd;

void check_wave(const Tensor& x, const char* op) {
  KUN_CHECK(x.defined(), ValueError, op, ": got an undefined tensor");
  KUN_CHECK(x.dim() == 1 || x.dim() == 2, ShapeError, op, ": expected a signal (samples,) or (batch, samples), got ",
            x.shape());
  KUN_CHECK(x.dtype() == DType::f32, TypeError, op, ": expected a float32 signal, got ", x.dtype(),
            "; convert with .to(DType::f32)");
}

// Runs clip_fn(x_ptr, n, out_ptr) per row of a (samples,) or (B, samples) signal, clips in parallel.
// rows_per_frame: output is (rows, T) per clip (times `inner` floats per element, 2 for complex).
template <typename ClipFn>
Tensor run_rows(const Tensor& x, const FrontEnd& fe, int64_t rows, int64_t inner, const char* op, ClipFn&& clip_fn) {
  check_wave(x, op);
  Tensor c = x.contiguous();
  const int64_t n = c.size(-1);
  fe.check_length(n, op);
  const int64_t T = fe.frames(n);
  const bool batched = c.dim() == 2;
  const int64_t B = batched ? c.size(0) : 1;
  Shape shape = inner == 1 ? Shape{rows, T} : Shape{rows, T, inner};
  if (batched) shape = inner == 1 ? Shape{B, rows, T} : Shape{B, rows, T, inner};
  Tensor out = Tensor::empty(shape, DType::f32);
  const float* px = c.data<float>();
  float* po = out.data<float>();
  const int64_t per = rows * T * inner;
  parallel_for(B, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) clip_fn(px + i * n, n, po + i * per);
  });
  return out;
}

template <typename ClipFn>
std::vector<Tensor> run_batch(const std::vector<Tensor>& clips, const FrontEnd& fe, int64_t rows, const char* op,
                              ClipFn&& clip_fn) {
  std::vector<Tensor> src(clips.size()), outs(clips.size());
  for (size_t i = 0; i < clips.size(); ++i) {
    KUN_CHECK(clips[i].defined() && clips[i].dim() == 1, ShapeError, op, ": clip ", i,
              " must be a 1-D signal (samples,), got ", clips[i].defined() ? clips[i].shape() : Shape{});
    KUN_CHECK(clips[i].dtype() == DType::f32, TypeError, op, ": clip ", i, " must be float32, got ", clips[i].dtype());
    src[i] = clips[i].contiguous();
    fe.check_length(src[i].size(0), op);
    outs[i] = Tensor::empty({rows, fe.frames(src[i].size(0))}, DType::f32);
  }
  parallel_for(static_cast<int64_t>(clips.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) clip_fn(src[i].data<float>(), src[i].size(0), outs[i].data<float>());
  });
  return outs;
}

}  // namespace

// ---- windows and simple ops ----

Tensor window(WindowType type, int64_t length, bool periodic) {
  KUN_CHECK(length >= 1, ValueError, "window: length must be >= 1, got ", length);
  return from_vector(window_f32(type, length, periodic));
}

Tensor pre_emphasis(const Tensor& x, double coeff) {
  check_wave(x, "pre_emphasis");
  Tensor c = x.contiguous();
  Tensor out = Tensor::empty(c.shape(), DType::f32);
  const int64_t n = c.size(-1), rows = c.numel() / std::max<int64_t>(n, 1);
  const float* s = c.data<float>();
  float* o = out.data<float>();
  const float a = static_cast<float>(coeff);
  for (int64_t r = 0; r < rows; ++r) {
    const float* sr = s + r * n;
    float* orow = o + r * n;
    if (n > 0) orow[0] = sr[0];
    for (int64_t i = 1; i < n; ++i) orow[i] = sr[i] - a * sr[i - 1];
  }
  return out;
}

SpectrogramOptions MelSpectrogramOptions::spectrogram() const {
  SpectrogramOptions s;
  s.n_fft = n_fft;
  s.win_length = win_length;
  s.hop_length = hop_length;
  s.pad = pad;
  s.window = window;
  s.periodic = periodic;
  s.power = power;
  s.normalized = normalized;
  s.center = center;
  s.pad_mode = pad_mode;
  return s;
}

Tensor melscale_fbanks(int64_t n_freqs, double f_min, double f_max, int64_t n_mels, int sample_rate, MelNorm norm,
                       MelScale scale) {
  return from_vector(fbanks_f32(n_freqs, f_min, f_max, n_mels, sample_rate, norm, scale), {n_freqs, n_mels});
}

Tensor create_dct(int64_t n_mfcc, int64_t n_mels, bool ortho) {
  KUN_CHECK(n_mfcc >= 1 && n_mels >= 1, ValueError, "create_dct: n_mfcc and n_mels must be >= 1, got ", n_mfcc, ", ",
            n_mels);
  // torchaudio: cos(pi / n_mels * (n + 0.5) * k) in float32, then ortho scaling in float32.
  const float c = static_cast<float>(kPi / static_cast<double>(n_mels));
  const float s0 = static_cast<float>(1.0 / std::sqrt(2.0)), s = static_cast<float>(std::sqrt(2.0 / n_mels));
  std::vector<float> d(static_cast<size_t>(n_mels * n_mfcc));
  for (int64_t m = 0; m < n_mels; ++m)
    for (int64_t k = 0; k < n_mfcc; ++k) {
      const float arg = r32(r32(c * r32(static_cast<float>(m) + 0.5f)) * static_cast<float>(k));
      float v = static_cast<float>(std::cos(static_cast<double>(arg)));
      if (ortho) {
        if (k == 0) v = r32(v * s0);
        v = r32(v * s);
      } else {
        v = r32(v * 2.0f);
      }
      d[m * n_mfcc + k] = v;
    }
  return from_vector(d, {n_mels, n_mfcc});
}

Tensor amplitude_to_db(const Tensor& x, const AmplitudeToDbOptions& opt) {
  KUN_CHECK(x.defined() && x.dim() >= 1, ShapeError, "amplitude_to_db: expected a (..., freq, time) tensor, got ",
            x.defined() ? x.shape() : Shape{});
  KUN_CHECK(opt.amin > 0, ValueError, "amplitude_to_db: amin must be > 0, got ", opt.amin);
  KUN_CHECK(!opt.top_db || *opt.top_db >= 0, ValueError, "amplitude_to_db: top_db must be >= 0, got ",
            opt.top_db.value_or(0));
  Tensor c = x.contiguous();
  Tensor out = Tensor::empty(c.shape(), c.dtype());
  const double mult = opt.stype == DbScale::power ? 10.0 : 20.0;
  const double off = mult * std::log10(std::max(opt.amin, opt.ref));
  const int64_t n = c.numel();
  // top_db groups: whole tensor for <= 2-D, else the last three dims (torchaudio's packed channels).
  const int64_t group = c.dim() <= 2 ? std::max<int64_t>(n, 1) : c.size(-1) * c.size(-2) * c.size(-3);
  KUN_DISPATCH_FLOAT(c.dtype(), "amplitude_to_db", [&] {
    const scalar_t* s = c.data<scalar_t>();
    scalar_t* o = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      o[i] = static_cast<scalar_t>(mult * std::log10(std::max<double>(s[i], opt.amin)) - off);
    if (opt.top_db && group > 0)
      for (int64_t g = 0; g < n; g += group) {
        scalar_t mx = o[g];
        for (int64_t i = g; i < g + group; ++i) mx = std::max(mx, o[i]);
        const scalar_t fl = static_cast<scalar_t>(mx - *opt.top_db);
        for (int64_t i = g; i < g + group; ++i) o[i] = std::max(o[i], fl);
      }
  });
  return out;
}

Tensor lifter(const Tensor& c, int64_t L) {
  KUN_CHECK(c.defined() && c.dim() >= 2, ShapeError, "lifter: expected (..., n_mfcc, time), got ",
            c.defined() ? c.shape() : Shape{});
  KUN_CHECK(L >= 0, ValueError, "lifter: L must be >= 0, got ", L);
  Tensor x = c.contiguous().clone();
  if (L == 0) return x;
  const int64_t K = x.size(-2), T = x.size(-1), rows = x.numel() / std::max<int64_t>(K * T, 1);
  KUN_DISPATCH_FLOAT(x.dtype(), "lifter", [&] {
    scalar_t* p = x.data<scalar_t>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < K; ++k) {
        const scalar_t l = static_cast<scalar_t>(1.0 + 0.5 * static_cast<double>(L) * std::sin(kPi * k / L));
        scalar_t* row = p + (r * K + k) * T;
        for (int64_t t = 0; t < T; ++t) row[t] *= l;
      }
  });
  return x;
}

Tensor compute_deltas(const Tensor& x, int64_t win_length) {
  KUN_CHECK(x.defined() && x.dim() >= 1, ShapeError, "compute_deltas: expected (..., freq, time), got ",
            x.defined() ? x.shape() : Shape{});
  KUN_CHECK(win_length >= 3, ValueError, "compute_deltas: win_length must be >= 3, got ", win_length);
  Tensor c = x.contiguous();
  Tensor out = Tensor::empty(c.shape(), c.dtype());
  const int64_t T = c.size(-1), rows = T > 0 ? c.numel() / T : 0, N = (win_length - 1) / 2;
  const double denom = static_cast<double>(N * (N + 1) * (2 * N + 1)) / 3.0;
  KUN_DISPATCH_FLOAT(c.dtype(), "compute_deltas", [&] {
    const scalar_t* s = c.data<scalar_t>();
    scalar_t* o = out.data<scalar_t>();
    parallel_for(rows, 16, [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const scalar_t* row = s + r * T;
        for (int64_t t = 0; t < T; ++t) {
          scalar_t acc = 0;
          for (int64_t k = 1; k <= N; ++k) {
            const int64_t hi = std::min(t + k, T - 1), lo = std::max<int64_t>(t - k, 0);
            acc += static_cast<scalar_t>(k) * (row[hi] - row[lo]);
          }
          o[r * T + t] = static_cast<scalar_t>(acc / denom);
        }
      }
    });
  });
  return out;
}

Tensor cmvn(const Tensor& x, const CmvnOptions& opt) {
  KUN_CHECK(x.defined() && x.dim() >= 1, ShapeError, "cmvn: expected (..., freq, time), got ",
            x.defined() ? x.shape() : Shape{});
  KUN_CHECK(opt.eps > 0, ValueError, "cmvn: eps must be > 0, got ", opt.eps);
  Tensor c = x.contiguous();
  Tensor out = Tensor::empty(c.shape(), c.dtype());
  const int64_t T = c.size(-1), rows = T > 0 ? c.numel() / T : 0;
  KUN_DISPATCH_FLOAT(c.dtype(), "cmvn", [&] {
    const scalar_t* s = c.data<scalar_t>();
    scalar_t* o = out.data<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      const scalar_t* row = s + r * T;
      double mean = 0;
      for (int64_t t = 0; t < T; ++t) mean += row[t];
      mean /= static_cast<double>(T);
      double scale = 1.0;
      if (opt.variance) {
        double var = 0;
        for (int64_t t = 0; t < T; ++t) var += (row[t] - mean) * (row[t] - mean);
        scale = 1.0 / std::max(std::sqrt(var / static_cast<double>(T)), opt.eps);
      }
      for (int64_t t = 0; t < T; ++t) o[r * T + t] = static_cast<scalar_t>((row[t] - mean) * scale);
    }
  });
  return out;
}

// ---- transforms ----

Spectrogram::Spectrogram(const SpectrogramOptions& opt) : opt_(opt), fe_(std::make_shared<FrontEnd>(opt)) {}

int64_t Spectrogram::num_frames(int64_t samples) const { return fe_->frames(samples); }

Tensor Spectrogram::operator()(const Tensor& x) const {
  const FrontEnd& fe = *fe_;
  return run_rows(x, fe, fe.n_freq, 1, "Spectrogram",
                  [&](const float* p, int64_t n, float* o) { fe.spectrogram_clip(p, n, o, "Spectrogram"); });
}

std::vector<Tensor> Spectrogram::batch(const std::vector<Tensor>& clips) const {
  const FrontEnd& fe = *fe_;
  return run_batch(clips, fe, fe.n_freq, "Spectrogram",
                   [&](const float* p, int64_t n, float* o) { fe.spectrogram_clip(p, n, o, "Spectrogram"); });
}

MelSpectrogram::MelSpectrogram(const MelSpectrogramOptions& opt) : opt_(opt) {
  auto fe = std::make_shared<FrontEnd>(opt.spectrogram());
  fe->set_mel(opt);
  fe_ = std::move(fe);
}

int64_t MelSpectrogram::num_frames(int64_t samples) const { return fe_->frames(samples); }

Tensor MelSpectrogram::filterbank() const { return from_vector(fe_->fb_dense, {fe_->n_freq, fe_->n_mels}); }

Tensor MelSpectrogram::operator()(const Tensor& x) const {
  const FrontEnd& fe = *fe_;
  return run_rows(x, fe, fe.n_mels, 1, "MelSpectrogram",
                  [&](const float* p, int64_t n, float* o) { fe.mel_clip(p, n, o, "MelSpectrogram"); });
}

std::vector<Tensor> MelSpectrogram::batch(const std::vector<Tensor>& clips) const {
  const FrontEnd& fe = *fe_;
  return run_batch(clips, fe, fe.n_mels, "MelSpectrogram",
                   [&](const float* p, int64_t n, float* o) { fe.mel_clip(p, n, o, "MelSpectrogram"); });
}

Tensor MelSpectrogram::log_mel(const Tensor& x, std::optional<double> top_db) const {
  KUN_CHECK(!top_db || *top_db >= 0, ValueError, "MelSpectrogram::log_mel: top_db must be >= 0, got ",
            top_db.value_or(0));
  const FrontEnd& fe = *fe_;
  return run_rows(x, fe, fe.n_mels, 1, "log_mel", [&](const float* p, int64_t n, float* o) {
    fe.mel_clip(p, n, o, "log_mel");
    FrontEnd::to_db(o, fe.n_mels * fe.frames(n), top_db);
  });
}

Mfcc::Mfcc(const MfccOptions& opt) : opt_(opt) {
  auto fe = std::make_shared<FrontEnd>(opt.mel.spectrogram());
  fe->set_mel(opt.mel);
  fe->set_mfcc(opt);
  fe_ = std::move(fe);
}

int64_t Mfcc::num_frames(int64_t samples) const { return fe_->frames(samples); }

Tensor Mfcc::operator()(const Tensor& x) const {
  const FrontEnd& fe = *fe_;
  return run_rows(x, fe, fe.n_mfcc, 1, "Mfcc",
                  [&](const float* p, int64_t n, float* o) { fe.mfcc_clip(p, n, o, opt_, "Mfcc"); });
}

std::vector<Tensor> Mfcc::batch(const std::vector<Tensor>& clips) const {
  const FrontEnd& fe = *fe_;
  return run_batch(clips, fe, fe.n_mfcc, "Mfcc",
                   [&](const float* p, int64_t n, float* o) { fe.mfcc_clip(p, n, o, opt_, "Mfcc"); });
}

// ---- one-shot functions ----

Tensor stft(const Tensor& x, const SpectrogramOptions& opt) {
  FrontEnd fe(opt);
  return run_rows(x, fe, fe.n_freq, 2, "stft",
                  [&](const float* p, int64_t n, float* o) { fe.stft_clip(p, n, o, "stft"); });
}

Tensor spectrogram(const Tensor& x, const SpectrogramOptions& opt) { return Spectrogram(opt)(x); }
Tensor mel_spectrogram(const Tensor& x, const MelSpectrogramOptions& opt) { return MelSpectrogram(opt)(x); }
Tensor log_mel_spectrogram(const Tensor& x, const MelSpectrogramOptions& opt, std::optional<double> top_db) {
  return MelSpectrogram(opt).log_mel(x, top_db);
}
Tensor mfcc(const Tensor& x, const MfccOptions& opt) { return Mfcc(opt)(x); }

}  // namespace kun::speech
