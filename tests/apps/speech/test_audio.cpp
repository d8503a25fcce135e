// Audio I/O: formats, channels, rates, resampling, normalization, and the error cases.
#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "kun/apps/speech/audio.h"
#include "speech_test_util.h"

using namespace kun;
using namespace kun::speech;
using namespace kun::testing;
using kun::speech::testing::temp_dir;
namespace fs = std::filesystem;

namespace {

Tensor sine(int64_t n, double hz, int rate, double amp = 0.5) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(amp * std::sin(2 * M_PI * hz * i / rate));
  return from_vector(v);
}

// Writes interleaved float frames with libsndfile in any container (the library only writes WAV).
void write_with_sndfile(const std::string& path, int format, const std::vector<float>& inter, int channels, int rate) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  sf_writef_float(f, inter.data(), static_cast<sf_count_t>(inter.size() / channels));
  sf_close(f);
}

}  // namespace

TEST(SpeechAudio, WavRoundTripFloatAndPcm16) {
  const std::string dir = temp_dir("roundtrip");
  Tensor x = sine(800, 300, 8000);
  write_wav(dir + "/f.wav", x, 8000, WavEncoding::float32);
  Audio a = read_audio(dir + "/f.wav");
  EXPECT_EQ(a.sample_rate, 8000);
  EXPECT_TRUE(close(a.samples, x, 0, 0));  // float32 WAV is exact
  write_wav(dir + "/p.wav", x, 8000);
  Audio b = read_audio(dir + "/p.wav");
  EXPECT_TRUE(close(b.samples, x, 0, 1.0 / 16384));  // 16-bit quantization
  AudioInfo info = audio_info(dir + "/p.wav");
  EXPECT_EQ(info.frames, 800);
  EXPECT_EQ(info.channels, 1);
  EXPECT_NE(info.format.find("WAV"), std::string::npos) << info.format;
  EXPECT_FALSE(fs::exists(dir + "/p.wav.tmp" + std::to_string(::getpid())));  // temp file renamed away
  fs::remove_all(dir);
}

TEST(SpeechAudio, StereoFile44kMixedAndResampled) {
  const std::string dir = temp_dir("stereo");
  // 2 channels at 44.1 kHz: left a 440 Hz sine, right silence -> mono is half the sine.
  const int64_t n = 44100 / 2;
  Tensor l = sine(n, 440, 44100);
  std::vector<float> inter(static_cast<size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) inter[2 * i] = l.data<float>()[i];
  write_wav(dir + "/s.wav", from_vector(inter, {n, 2}).t().contiguous(), 44100, WavEncoding::float32);
  AudioInfo info = audio_info(dir + "/s.wav");
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.sample_rate, 44100);
  Audio both = read_audio(dir + "/s.wav", {.mono = false});
  ASSERT_EQ(both.samples.shape(), Shape({2, n}));
  EXPECT_TRUE(close(both.samples.select(0, 0).contiguous(), l, 0, 0));
  Audio mono = read_audio(dir + "/s.wav");
  ASSERT_EQ(mono.samples.shape(), Shape({n}));
  EXPECT_TRUE(close(mono.samples, mul(l, 0.5), 1e-6, 1e-7));
  // Resampled to 8 kHz: exact length, and still a 440 Hz sine of amplitude 0.25 (away from the ends).
  Audio r = read_audio(dir + "/s.wav", {.target_rate = 8000});
  EXPECT_EQ(r.sample_rate, 8000);
  ASSERT_EQ(r.frames(), std::llround(n * 8000.0 / 44100));
  Tensor want = sine(r.frames(), 440, 8000, 0.25);
  EXPECT_TRUE(close(r.samples.narrow(0, 200, 3000).contiguous(), want.narrow(0, 200, 3000).contiguous(), 0, 2e-3));
  // to_mono / resample directly on tensors, 2-D in -> 2-D out.
  Tensor rs = resample(both.samples, 44100, 16000);
  EXPECT_EQ(rs.shape(), Shape({2, std::llround(n * 16000.0 / 44100)}));
  EXPECT_TRUE(close(to_mono(both.samples), mono.samples, 1e-6, 1e-7));
  fs::remove_all(dir);
}

TEST(SpeechAudio, ReadsFlacAndOgg) {
  const std::string dir = temp_dir("formats");
  Tensor x = sine(4000, 500, 16000, 0.3);
  std::vector<float> v = x.to_vector<float>();
  write_with_sndfile(dir + "/a.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, v, 1, 16000);
  write_with_sndfile(dir + "/a.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, v, 1, 16000);
  Audio f = read_audio(dir + "/a.flac");
  EXPECT_EQ(f.sample_rate, 16000);
  EXPECT_TRUE(close(f.samples, x, 0, 1.0 / 16384));  // lossless
  Audio o = read_audio(dir + "/a.ogg");
  EXPECT_EQ(o.sample_rate, 16000);
  ASSERT_EQ(o.frames(), 4000);
  double err = 0;  // lossy: compare the energy of the difference
  for (int64_t i = 0; i < 4000; ++i) err += std::pow(o.samples.data<float>()[i] - x.data<float>()[i], 2);
  EXPECT_LT(std::sqrt(err / 4000), 0.02);
  fs::remove_all(dir);
}

TEST(SpeechAudio, ErrorsNameTheFileAndTheReason) {
  const std::string dir = temp_dir("errors");
  KUN_EXPECT_ERROR(read_audio(dir + "/missing.wav"), "read_audio", "missing.wav", "no such file", "libsndfile says");
  { std::ofstream(dir + "/empty.wav"); }  // zero bytes
  KUN_EXPECT_ERROR(read_audio(dir + "/empty.wav"), "read_audio", "empty.wav", "libsndfile says");
  {
    std::ofstream f(dir + "/junk.wav", std::ios::binary);
    for (int i = 0; i < 1000; ++i) f.put(static_cast<char>((i * 37) & 0xff));
  }
  KUN_EXPECT_ERROR(read_audio(dir + "/junk.wav"), "read_audio", "junk.wav", "libsndfile says");
  KUN_EXPECT_ERROR(audio_info(dir + "/junk.wav"), "audio_info", "junk.wav");
  // A valid header with no samples.
  write_wav(dir + "/zero.wav", zeros({0}), 8000);
  KUN_EXPECT_ERROR(read_audio(dir + "/zero.wav"), "read_audio", "zero.wav", "zero-length");
  // A truncated file (header says more than the file holds): the decodable part is returned.
  write_wav(dir + "/t.wav", sine(8000, 200, 8000), 8000);
  fs::resize_file(dir + "/t.wav", 44 + 2 * 3000);
  Audio t = read_audio(dir + "/t.wav");
  EXPECT_GT(t.frames(), 0);
  EXPECT_LE(t.frames(), 3000);
  KUN_EXPECT_ERROR(write_wav(dir + "/no/such/dir/x.wav", zeros({10}), 8000), "write_wav", "cannot create");
  KUN_EXPECT_ERROR(write_wav(dir + "/x.wav", zeros({10}), 0), "write_wav", "sample_rate");
  KUN_EXPECT_ERROR(resample(zeros({10}), 8000, 8000 * 300), "resample", "range");
  fs::remove_all(dir);
}

TEST(SpeechAudio, TooLongClipErrorsOrTruncates) {
  const std::string dir = temp_dir("long");
  write_wav(dir + "/l.wav", sine(24000, 300, 8000), 8000);  // 3 s
  KUN_EXPECT_ERROR(read_audio(dir + "/l.wav", {.max_seconds = 2.0}), "l.wav", "3 s long", "max_seconds=2", "truncate");
  Audio a = read_audio(dir + "/l.wav", {.max_seconds = 2.0, .on_too_long = TooLong::truncate});
  EXPECT_EQ(a.frames(), 16000);
  Audio b = read_audio(dir + "/l.wav", {.target_rate = 16000, .max_seconds = 1.5, .on_too_long = TooLong::truncate});
  EXPECT_EQ(b.frames(), 24000);
  EXPECT_EQ(read_audio(dir + "/l.wav", {.max_seconds = 3.0}).frames(), 24000);  // exactly at the limit
  fs::remove_all(dir);
}

TEST(SpeechAudio, Normalization) {
  Tensor x = sine(1000, 100, 8000, 0.2);
  auto p = normalize_peak(x, 0.9).to_vector<float>();
  float mx = 0;
  for (float v : p) mx = std::max(mx, std::abs(v));
  EXPECT_NEAR(mx, 0.9f, 1e-6);
  auto r = normalize_rms(x, 0.1).to_vector<float>();
  double ss = 0;
  for (float v : r) ss += v * v;
  EXPECT_NEAR(std::sqrt(ss / r.size()), 0.1, 1e-6);
  EXPECT_TRUE(close(normalize_peak(zeros({5})), zeros({5}), 0, 0));  // silence stays silence (no NaN)
  EXPECT_TRUE(close(normalize_rms(zeros({5})), zeros({5}), 0, 0));
  const std::string dir = temp_dir("norm");
  write_wav(dir + "/n.wav", x, 8000, WavEncoding::float32);
  Audio a = read_audio(dir + "/n.wav", {.normalize = Normalize::peak});
  EXPECT_NEAR(a.samples.to_vector<float>()[20], x.to_vector<float>()[20] / 0.2f, 1e-3);
  KUN_EXPECT_ERROR(normalize_peak(x, 0), "normalize_peak", "peak");
  KUN_EXPECT_ERROR(to_mono(zeros({2, 2, 2})), "to_mono", "(channels, samples)");
  fs::remove_all(dir);
}
