// Speech features vs torchaudio 0.13.1 golden values (tests/golden/gen_speech.py).
#include <filesystem>

#include "kun/apps/speech/audio.h"
#include "kun/apps/speech/features.h"
#include "speech_test_util.h"

using namespace kun;
using namespace kun::speech;
using namespace kun::testing;
using kun::speech::testing::fsdd_dir;
using kun::speech::testing::max_rel_err;
using kun::speech::testing::rel_close;

namespace {

Tensor signal(const std::string& case_name) {
  const auto& c = golden_case("speech", case_name);
  return from_json(golden_case("speech", "signals")["inputs"][c["attrs"]["signal"].get<std::string>()]);
}

MelSpectrogramOptions bench_mel() {
  return {.sample_rate = 8000, .n_fft = 256, .win_length = 200, .hop_length = 80, .n_mels = 40};
}
MfccOptions bench_mfcc() { return {.n_mfcc = 13, .mel = bench_mel()}; }

}  // namespace

TEST(SpeechFeatures, WindowsMatchTorch) {
  EXPECT_TRUE(rel_close(window(WindowType::hann, 11, false), output(golden_case("speech", "window_hann_sym"), "y"), 1e-5));
  EXPECT_TRUE(rel_close(window(WindowType::hamming, 16), output(golden_case("speech", "window_hamming"), "y"), 1e-5));
  auto r = window(WindowType::rectangular, 4).to_vector<float>();
  EXPECT_EQ(r, std::vector<float>(4, 1.0f));
  KUN_EXPECT_ERROR(window(WindowType::hann, 0), "window", "length");
}

TEST(SpeechFeatures, SpectrogramPowerMatchesTorchaudio) {
  Tensor x = signal("spec_power");
  Tensor y = spectrogram(x, {.n_fft = 64, .win_length = 48, .hop_length = 16});
  EXPECT_TRUE(rel_close(y, output(golden_case("speech", "spec_power"), "y")));
}

TEST(SpeechFeatures, SpectrogramMagnitudeHammingNormalized) {
  Tensor y = spectrogram(signal("spec_mag_hamming_norm"), {.n_fft = 64, .hop_length = 20,
                                                           .window = WindowType::hamming, .power = 1.0,
                                                           .normalized = SpecNorm::window});
  EXPECT_TRUE(rel_close(y, output(golden_case("speech", "spec_mag_hamming_norm"), "y")));
}

TEST(SpeechFeatures, SpectrogramNoCenterWithPad) {
  Tensor y = spectrogram(signal("spec_nocenter_pad"), {.n_fft = 50, .hop_length = 25, .pad = 7, .center = false});
  EXPECT_TRUE(rel_close(y, output(golden_case("speech", "spec_nocenter_pad"), "y")));
}

TEST(SpeechFeatures, SpectrogramConstantPadModePower15) {
  Tensor y = spectrogram(signal("spec_constant_pad_mode"),
                         {.n_fft = 32, .hop_length = 16, .power = 1.5, .pad_mode = speech::PadMode::constant});
  EXPECT_TRUE(rel_close(y, output(golden_case("speech", "spec_constant_pad_mode"), "y")));
}

TEST(SpeechFeatures, StftComplexMatchesTorch) {
  Tensor y = stft(signal("stft_complex"), {.n_fft = 32, .hop_length = 10});
  EXPECT_TRUE(rel_close(y, output(golden_case("speech", "stft_complex"), "y")));
}

// The filterbanks are built with torchaudio's float32 steps; torch.linspace's rounding is not reproduced
// bit for bit, so a filter edge can move by 1 ulp: weights agree to ~2e-6 absolute (<= 1e-4 relative).
TEST(SpeechFeatures, FilterbanksMatchTorchaudio) {
  EXPECT_TRUE(rel_close(melscale_fbanks(65, 0.0, 4000.0, 24, 8000), output(golden_case("speech", "fbank_htk"), "y")));
  EXPECT_TRUE(rel_close(melscale_fbanks(101, 20.0, 7600.0, 32, 16000, MelNorm::slaney, MelScale::slaney),
                        output(golden_case("speech", "fbank_slaney"), "y")));
  EXPECT_TRUE(rel_close(create_dct(13, 40, true), output(golden_case("speech", "dct_ortho"), "y"), 1e-5));
  EXPECT_TRUE(rel_close(create_dct(8, 20, false), output(golden_case("speech", "dct_none"), "y"), 1e-5));
  KUN_EXPECT_ERROR(melscale_fbanks(65, 100.0, 50.0, 24, 8000), "melscale_fbanks", "f_min");
}

TEST(SpeechFeatures, MelSpectrogramHtkAndSlaney) {
  Tensor x = signal("mel_htk");
  EXPECT_TRUE(rel_close(mel_spectrogram(x, bench_mel()), output(golden_case("speech", "mel_htk"), "y")));
  MelSpectrogramOptions o = bench_mel();
  o.norm = MelNorm::slaney;
  o.mel_scale = MelScale::slaney;
  EXPECT_TRUE(rel_close(mel_spectrogram(x, o), output(golden_case("speech", "mel_slaney"), "y")));
}

TEST(SpeechFeatures, AmplitudeToDbMatchesTorchaudio) {
  const auto& c2 = golden_case("speech", "db_2d");
  EXPECT_TRUE(rel_close(amplitude_to_db(input(c2, "x"), {.top_db = 40.0}), output(c2, "y")));
  // 3-D input: torchaudio takes ONE max over the whole (channel, freq, time) block.
  const auto& c3 = golden_case("speech", "db_3d_magnitude");
  EXPECT_TRUE(rel_close(amplitude_to_db(input(c3, "x"), {.stype = DbScale::magnitude, .top_db = 50.0}), output(c3, "y")));
}

TEST(SpeechFeatures, MfccMatchesTorchaudio) {
  Tensor x = signal("mfcc_synth");
  EXPECT_TRUE(rel_close(mfcc(x, bench_mfcc()), output(golden_case("speech", "mfcc_synth"), "y")));
  MfccOptions lm{.n_mfcc = 20, .log_mels = true, .mel = bench_mel()};
  EXPECT_TRUE(rel_close(mfcc(x, lm), output(golden_case("speech", "mfcc_log_mels"), "y")));
  // torchaudio.transforms.MFCC() with every default (16 kHz, 40 coeffs, 128 mels, n_fft 400).
  EXPECT_TRUE(rel_close(mfcc(signal("mfcc_default16k")), output(golden_case("speech", "mfcc_default16k"), "y")));
}

TEST(SpeechFeatures, DeltasCmvnLifter) {
  const auto& c = golden_case("speech", "deltas");
  Tensor m = input(c, "x");
  Tensor d1 = compute_deltas(m);
  EXPECT_TRUE(rel_close(d1, output(c, "d1")));
  EXPECT_TRUE(rel_close(compute_deltas(d1), output(c, "d2")));
  EXPECT_TRUE(rel_close(compute_deltas(m, 7), output(c, "d7")));
  EXPECT_TRUE(rel_close(cmvn(m), output(golden_case("speech", "cmvn"), "y")));
  EXPECT_TRUE(rel_close(lifter(m, 22), output(golden_case("speech", "lifter22"), "y")));
  // The lifter built into Mfcc equals lifter() applied afterwards.
  Tensor x = signal("mfcc_synth");
  MfccOptions o = bench_mfcc();
  o.lifter = 22;
  EXPECT_TRUE(rel_close(mfcc(x, o), lifter(mfcc(x, bench_mfcc()), 22), 1e-6));
  // cmvn of a constant row stays finite (std floor eps).
  Tensor k = full({2, 5}, 3.0);
  EXPECT_TRUE(all_finite(cmvn(k)));
  KUN_EXPECT_ERROR(compute_deltas(m, 2), "compute_deltas", "win_length");
}

TEST(SpeechFeatures, PreEmphasis) {
  Tensor x = tensor({1.0f, 2.0f, 4.0f});
  EXPECT_TRUE(close(pre_emphasis(x, 0.5), tensor({1.0f, 1.5f, 3.0f})));
  Tensor b = from_vector<float>({1, 2, 3, 4}, {2, 2});
  EXPECT_TRUE(close(pre_emphasis(b, 1.0), from_vector<float>({1, 1, 3, 1}, {2, 2})));
}

// The acceptance check: MFCC and log-mel of real FSDD clips within 1e-4 relative error.
TEST(SpeechFeatures, RealFsddClipsMatchTorchaudio) {
  const std::string dir = fsdd_dir();
  if (dir.empty()) GTEST_SKIP() << "FSDD not found (set KUN_FSDD)";
  Mfcc mf(bench_mfcc());
  MelSpectrogram mel(bench_mel());
  MelSpectrogramOptions so = bench_mel();
  so.norm = MelNorm::slaney;
  so.mel_scale = MelScale::slaney;
  MelSpectrogram mel_sl(so);
  int checked = 0;
  for (const auto& [name, c] : golden("speech")["cases"].items()) {
    if (name.rfind("fsdd_", 0) != 0) continue;
    Audio a = read_audio(dir + "/recordings/" + c["attrs"]["file"].get<std::string>());
    ASSERT_EQ(a.sample_rate, 8000);
    ASSERT_EQ(a.frames(), c["attrs"]["samples"].get<int64_t>());
    Tensor m = mf(a.samples);
    EXPECT_TRUE(rel_close(m, output(c, "mfcc"))) << name;
    EXPECT_TRUE(rel_close(mel.log_mel(a.samples, 80.0), output(c, "logmel"))) << name;
    if (c["outputs"].contains("mel_slaney")) {
      EXPECT_TRUE(rel_close(mel_sl(a.samples), output(c, "mel_slaney"))) << name;
    }
    if (c["outputs"].contains("deltas")) {
      EXPECT_TRUE(rel_close(compute_deltas(m), output(c, "deltas"))) << name;
    }
    Tensor lm = mel.log_mel(a.samples, 80.0);
    std::printf("[ info ] %s: max rel err (floor 1e-2 / 1e-3 of max): mfcc %.2e / %.2e, log-mel %.2e / %.2e\n",
                name.c_str(), max_rel_err(m, output(c, "mfcc")), max_rel_err(m, output(c, "mfcc"), 1e-3),
                max_rel_err(lm, output(c, "logmel")), max_rel_err(lm, output(c, "logmel"), 1e-3));
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(SpeechFeatures, BatchEqualsPerClipAndAnyLength) {
  Mfcc mf(bench_mfcc());
  Generator g(7);
  std::vector<Tensor> clips;
  for (int i = 0; i < 9; ++i) clips.push_back(mul(randn({1000 + 377 * i}, DType::f32, &g), 0.1));
  auto outs = mf.batch(clips);
  ASSERT_EQ(outs.size(), clips.size());
  for (size_t i = 0; i < clips.size(); ++i) {
    EXPECT_EQ(outs[i].size(1), mf.num_frames(clips[i].size(0)));
    EXPECT_TRUE(close(outs[i], mf(clips[i]), 0, 0)) << i;  // bit-identical to the one-clip path
  }
  // (B, samples) -> (B, n_mfcc, T), per clip (top_db per clip, unlike torchaudio's batched MFCC).
  Tensor two = randn({2, 4000}, DType::f32, &g);
  Tensor b = mf(two);
  ASSERT_EQ(b.shape(), Shape({2, 13, 51}));
  EXPECT_TRUE(close(b.select(0, 1).contiguous(), mf(two.select(0, 1).contiguous()), 0, 0));
  // A long clip is split across threads: same numbers as single-threaded.
  Tensor longx = randn({80000}, DType::f32, &g);
  Tensor par = mf(longx);
  int nt = num_threads();
  set_num_threads(1);
  Tensor ser = mf(longx);
  set_num_threads(nt);
  EXPECT_TRUE(close(par, ser, 0, 0));
}

TEST(SpeechFeatures, ExtremeInputsStayFinite) {
  Mfcc mf(bench_mfcc());
  EXPECT_TRUE(all_finite(mf(zeros({8000}))));            // silence: clamped at amin, then top_db
  EXPECT_TRUE(all_finite(mf(full({8000}, 1e4))));        // huge DC
  EXPECT_TRUE(all_finite(mf(mul(randn({8000}), 1e-30))));  // denormal-range input
  MfccOptions lm = bench_mfcc();
  lm.log_mels = true;
  EXPECT_TRUE(all_finite(Mfcc(lm)(zeros({8000}))));
  EXPECT_TRUE(all_finite(amplitude_to_db(zeros({3, 4}), {.top_db = 80.0})));
}

TEST(SpeechFeatures, BadInputsGiveClearErrors) {
  Mfcc mf(bench_mfcc());
  KUN_EXPECT_ERROR(mf(zeros({2, 3, 100})), "Mfcc", "(samples,) or (batch, samples)", "(2, 3, 100)");
  KUN_EXPECT_ERROR(mf(zeros({8000}, DType::f64)), "Mfcc", "float32", "float64");
  KUN_EXPECT_ERROR(mf(zeros({100})), "Mfcc", "n_fft/2 = 128", "got 100");
  Tensor bad = zeros({8000});
  bad.data<float>()[1234] = std::nanf("");
  KUN_EXPECT_ERROR(mf(bad), "Mfcc", "non-finite", "1234");
  KUN_EXPECT_ERROR(Mfcc({.n_mfcc = 50, .mel = bench_mel()}), "Mfcc", "n_mfcc", "50");
  KUN_EXPECT_ERROR(Spectrogram({.n_fft = 64, .win_length = 100}), "win_length", "n_fft");
  KUN_EXPECT_ERROR(Spectrogram({.n_fft = 64, .power = 0}), "power");
  KUN_EXPECT_ERROR(spectrogram(zeros({40}), {.n_fft = 64, .center = false}), "shorter than n_fft");
  KUN_EXPECT_ERROR(mf.batch({zeros({2, 100})}), "Mfcc", "clip 0", "1-D");
}
