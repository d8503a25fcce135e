// The speech model pipeline: feature layouts and padding, normalization, the too-long rule, the CTC
// loss object's gradient, the one-file model, transcription, and the `kun speech` verbs end to end
// (bad audio files through the CLI; tiny trainings on FSDD when the data is present).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "kun/apps/speech/speech.h"
#include "kun/autograd/variable.h"
#include "kun/nn/module.h"
#include "kun/optim/adam.h"
#include "kun/tensor/ops.h"
#include "kun/tensor/safetensors.h"
#include "speech_test_util.h"

namespace fs = std::filesystem;
using namespace kun;
using namespace kun::speech;
using kun::speech::testing::fsdd_dir;
using kun::speech::testing::temp_dir;

namespace {

Tensor tone(double seconds, int rate, double hz = 440.0) {
  const int64_t n = std::llround(seconds * rate);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(0.3 * std::sin(2 * M_PI * hz * double(i) / rate) + 0.01 * std::sin(0.37 * double(i * i % 1009)));
  return from_vector(v);
}

// A small classifier over the sequence layout: LSTM(8) -> Dense(3).
SpeechModel tiny_classifier(const FeatureOptions& fo) {
  SpeechModel m;
  m.features = FeaturePipeline(fo);
  m.features.fit({m.features.raw(tone(0.5, fo.sample_rate)), m.features.raw(tone(0.3, fo.sample_rate, 880))});
  nlohmann::json arch = {{"type", "sequential"},
                         {"config",
                          {{"layers", nlohmann::json::array({{{"type", "lstm"}, {"config", {{"hidden_size", 8}}}},
                                                             {{"type", "dense"}, {"config", {{"units", 3}}}}})}}}};
  m.model = std::make_shared<train::Model>(nn::Module::from_config(arch));
  const Shape s = m.features.input_shape();
  m.model->predict(zeros({1, s[0], s[1]}));  // builds the lazily sized layers
  m.labels = {"low", "high", "other"};
  return m;
}

FeatureOptions seq_options() {
  FeatureOptions fo;
  fo.layout = FeatureLayout::sequence;
  fo.max_seconds = 0.5;
  return fo;
}

}  // namespace

TEST(SpeechPipeline, OptionsRoundTripAndStrictKeys) {
  FeatureOptions o;
  o.kind = FeatureKind::log_mel;
  o.deltas = true;
  o.stack = 3;
  o.pad_front = false;
  o.layout = FeatureLayout::sequence;
  o.normalize = FeatureNorm::utterance;
  FeatureOptions b = FeatureOptions::from_json(o.to_json());
  EXPECT_EQ(b.to_json(), o.to_json());
  KUN_EXPECT_ERROR(FeatureOptions::from_json({{"n_mfccs", 13}}), "unknown key 'n_mfccs'", "n_mfcc");
  KUN_EXPECT_ERROR(FeatureOptions::from_json({{"layout", "grid"}}), "layout must be one of image, sequence", "grid");
  KUN_EXPECT_ERROR(FeatureOptions::from_json({{"n_fft", "big"}}), "'n_fft' has the wrong type");
}

TEST(SpeechPipeline, LayoutsPaddingAndNormalization) {
  FeatureOptions o;  // MFCC 13, 1 s at 8 kHz: 101 frames
  FeaturePipeline img(o);
  EXPECT_EQ(img.input_shape(), (Shape{1, 13, 101}));
  Tensor w = tone(0.3, 8000);  // 2400 samples -> 31 frames
  Tensor r = img.raw(w);
  ASSERT_EQ(r.shape(), (Shape{13, 31}));
  img.fit({r});
  Tensor x = img.input(r);
  ASSERT_EQ(x.shape(), (Shape{1, 13, 101}));
  // pad front: 70 zero frames, then the normalized features (mean 0, std 1 per coefficient here)
  auto xv = x.to_vector<float>();
  for (int f = 0; f < 13; ++f) {
    double s = 0, s2 = 0;
    for (int t = 0; t < 70; ++t) EXPECT_EQ(xv[size_t(f * 101 + t)], 0.0f);
    for (int t = 70; t < 101; ++t) s += xv[size_t(f * 101 + t)], s2 += double(xv[size_t(f * 101 + t)]) * xv[size_t(f * 101 + t)];
    EXPECT_NEAR(s / 31, 0.0, 1e-4);
    if (f > 0) {
      EXPECT_NEAR(s2 / 31, 1.0, 1e-3);
    }
  }
  auto rv = r.to_vector<float>();
  // the values are (raw - mean) * inv_std, coefficient by coefficient
  nlohmann::json j = img.to_json();
  const float m3 = j["mean"][3].get<float>(), i3 = j["inv_std"][3].get<float>();
  EXPECT_NEAR(xv[size_t(3 * 101 + 70 + 5)], (rv[size_t(3 * 31 + 5)] - m3) * i3, 1e-5);

  // sequence, end padding, 3 frames per step with deltas: (33, 117)
  FeatureOptions s = o;
  s.layout = FeatureLayout::sequence;
  s.pad_front = false;
  s.stack = 3;
  s.deltas = true;
  s.normalize = FeatureNorm::none;
  FeaturePipeline seq(s);
  EXPECT_EQ(seq.input_shape(), (Shape{33, 117}));
  Tensor rs = seq.raw(w);
  ASSERT_EQ(rs.shape(), (Shape{39, 31}));
  EXPECT_EQ(seq.steps_of(31), 11);
  Tensor xs = seq.input(rs);
  ASSERT_EQ(xs.shape(), (Shape{33, 117}));
  auto sv = xs.to_vector<float>(), rsv = rs.to_vector<float>();
  // frame t = 7 is step 2, slot 1; coefficient 20 (a delta)
  EXPECT_EQ(sv[size_t(2 * 117 + 1 * 39 + 20)], rsv[size_t(20 * 31 + 7)]);
  EXPECT_EQ(sv[size_t(11 * 117)], 0.0f);  // after the speech: zeros

  // the pipeline round-trips through JSON with its statistics
  FeaturePipeline back = FeaturePipeline::from_json(img.to_json());
  EXPECT_TRUE(allclose(back.input(r), x, 0, 0));
  KUN_EXPECT_ERROR(FeaturePipeline(o).input(r), "not fitted");
}

TEST(SpeechPipeline, TooLongShortAndBadWaves) {
  FeatureOptions o;
  o.max_seconds = 0.5;
  FeaturePipeline fp(o);
  Tensor longw = tone(0.8, 8000);
  KUN_EXPECT_ERROR(fp.raw(longw, TooLong::error), "0.8 s long", "at most 0.5 s", "--too-long truncate");
  Tensor r = fp.raw(longw, TooLong::truncate);
  EXPECT_EQ(r.size(1), fp.frames_of(4000));
  // keeps the FIRST 0.5 s: equal to the features of the first 4000 samples
  EXPECT_TRUE(allclose(r, fp.raw(longw.narrow(0, 0, 4000).contiguous()), 0, 0));
  // a clip shorter than n_fft is padded with silence (torch would reject it)
  Tensor tiny = tone(0.01, 8000);  // 80 samples
  EXPECT_EQ(fp.raw(tiny).shape(), (Shape{13, fp.frames_of(80)}));
  KUN_EXPECT_ERROR(fp.raw(zeros({0})), "no samples");
  KUN_EXPECT_ERROR(fp.raw(zeros({2, 100})), "mono float32 wave");
}

TEST(SpeechPipeline, CtcLossGradientMatchesFiniteDifferences) {
  Generator g(3);
  const int64_t N = 2, T = 7, C = 4;
  Tensor logits = randn({N, T, C}, DType::f64, &g);
  // rows: [steps, token+1 ...]
  Tensor y = from_vector(std::vector<int64_t>{6, 1, 3, 0, 7, 2, 2, 3}, Shape{2, 4});
  CtcLoss loss;
  Variable p(logits.clone(), true);
  Variable l = loss(p, y);
  l.backward();
  Tensor grad = p.grad().contiguous();
  auto eval = [&](const Tensor& x) { return loss(Variable(x), y).data().item_double(); };
  const double h = 1e-6;
  double worst = 0;
  for (int64_t i = 0; i < logits.numel(); ++i) {
    Tensor a = logits.clone(), b = logits.clone();
    a.data<double>()[i] += h;
    b.data<double>()[i] -= h;
    const double num = (eval(a) - eval(b)) / (2 * h);
    worst = std::max(worst, std::abs(num - grad.data<double>()[i]));
  }
  EXPECT_LT(worst, 1e-6);
  // steps beyond the speech get no gradient (example 0 uses 6 of 7 steps)
  for (int64_t c = 0; c < C; ++c) EXPECT_EQ(grad.data<double>()[(0 * T + 6) * C + c], 0.0);
  EXPECT_EQ(ctc_targets(y), (std::vector<std::vector<int64_t>>{{0, 2}, {1, 1, 2}}));
  KUN_EXPECT_ERROR(loss(Variable(randn({2, 7, 3}, DType::f64, &g)), y), "outside the model's 2 output classes");
}

TEST(SpeechPipeline, ModelFileRoundTripAndTranscribe) {
  SpeechModel m = tiny_classifier(seq_options());
  const std::string dir = temp_dir("model_file");
  const std::string path = dir + "/tiny.kun";
  m.save(path);
  SpeechModel b = SpeechModel::load(path);
  EXPECT_EQ(b.labels, m.labels);
  EXPECT_EQ(b.features.to_json(), m.features.to_json());
  Tensor w = tone(0.4, 8000, 660);
  Transcription t1 = transcribe(m, w), t2 = transcribe(b, w);
  EXPECT_EQ(t1.text, t2.text);
  EXPECT_DOUBLE_EQ(t1.confidence, t2.confidence);
  EXPECT_GT(t1.confidence, 1.0 / 3 - 1e-9);
  EXPECT_LE(t1.confidence, 1.0);
  // a plain kun model (no speech settings) is refused with a clear message
  m.model->save(dir + "/plain.kun", false);
  KUN_EXPECT_ERROR(SpeechModel::load(dir + "/plain.kun"), "not a kun speech model");
  KUN_EXPECT_ERROR(SpeechModel::load(dir + "/missing.kun"), "does not exist");
  KUN_EXPECT_ERROR(transcribe(m, tone(0.9, 8000)), "at most 0.5 s");
  fs::remove_all(dir);
}

// ---------------- the kun speech verbs ----------------

#ifndef KUN_CLI_BINARY
#define KUN_CLI_BINARY ""
#endif

namespace {

struct CliRun {
  int code = -1;
  std::string out, err;
};

class SpeechCli : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = KUN_CLI_BINARY;
    if (bin_.empty() || !fs::exists(bin_)) GTEST_SKIP() << "kun binary not built";
    dir_ = temp_dir(std::string("cli_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  CliRun kun(const std::string& args) {
    const std::string cmd = "cd '" + dir_ + "' && OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive '" + bin_ + "' " + args +
                            " > out.txt 2> err.txt";
    const int st = std::system(cmd.c_str());
    CliRun r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    auto slurp = [](const fs::path& p) {
      std::ifstream f(p);
      std::stringstream s;
      s << f.rdbuf();
      return s.str();
    };
    r.out = slurp(fs::path(dir_) / "out.txt");
    r.err = slurp(fs::path(dir_) / "err.txt");
    return r;
  }
  static size_t lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }
  std::string bin_, dir_;
};

}  // namespace

TEST_F(SpeechCli, BadAudioFilesThroughTranscribe) {
  SpeechModel m = tiny_classifier(seq_options());  // 8 kHz, at most 0.5 s
  m.save(dir_ + "/m.kun");
  {
    std::ofstream(dir_ + "/corrupt.wav") << "RIFF....WAVEfmt this is not audio at all";
    std::ofstream(dir_ + "/empty.wav");  // zero bytes
  }
  // 2 channels at 44.1 kHz, 0.3 s: mixed to mono and resampled to the model's 8 kHz
  Tensor st = stack({tone(0.3, 44100, 440), tone(0.3, 44100, 445)}, 0);
  write_wav(dir_ + "/stereo44k.wav", st, 44100);
  write_wav(dir_ + "/long.wav", tone(2.0, 8000), 8000);

  CliRun r = kun("speech transcribe corrupt.wav -m m.kun");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("cannot read audio file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("corrupt.wav"), std::string::npos) << r.err;

  r = kun("speech transcribe empty.wav -m m.kun");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("empty.wav"), std::string::npos) << r.err;

  r = kun("speech transcribe stereo44k.wav -m m.kun --top 3");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("stereo44k.wav\t"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("confidence"), std::string::npos) << r.out;
  // the CLI's answer equals the library's on the decoded, mixed, resampled wave
  Transcription t = transcribe(m, m.features.load(dir_ + "/stereo44k.wav"));
  EXPECT_NE(r.out.find("\t" + t.text + "\t"), std::string::npos) << r.out << " vs " << t.text;

  r = kun("speech transcribe long.wav -m m.kun");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("long.wav"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 s long but the model takes at most 0.5 s"), std::string::npos) << r.err;
  r = kun("speech transcribe long.wav -m m.kun --too-long truncate");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("long.wav\t"), std::string::npos);

  r = kun("speech transcribe long.wav -m missing.kun");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = kun("speech --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("transcribe"), std::string::npos);
}

TEST_F(SpeechCli, ConfigErrorsAreOneLine) {
  std::ofstream(dir_ + "/bad.toml") << "[features]\nn_mfccs = 13\n[[model.layers]]\ntype = \"dense\"\nunits = 10\n";
  CliRun r = kun("speech train bad.toml");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("unknown key 'n_mfccs'"), std::string::npos) << r.err;
  std::ofstream(dir_ + "/bad2.toml") << "[task]\nkind = \"ctc\"\n[[model.layers]]\ntype = \"dense\"\nunits = 11\n";
  r = kun("speech train bad2.toml");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("pad = \"end\""), std::string::npos) << r.err;
}

// Tiny trainings on real FSDD clips (skipped without the data): train -> eval -> transcribe.
TEST_F(SpeechCli, FsddClassifierTrainEvalTranscribe) {
  const std::string data = fsdd_dir();
  if (data.empty()) GTEST_SKIP() << "FSDD not found (set KUN_FSDD)";
  const std::string abs = fs::absolute(data).string();
  std::ofstream(dir_ + "/c.toml") << "[data]\nkind = \"fsdd\"\npath = \"" << abs
                                  << "\"\n[features]\nlayout = \"sequence\"\n[[model.layers]]\ntype = \"lstm\"\n"
                                     "hidden_size = 16\n[[model.layers]]\ntype = \"dense\"\nunits = 10\n"
                                     "[train]\nepochs = 1\nbatch_size = 16\nverbose = 0\n";
  CliRun r = kun("speech train c.toml --train-limit 120 --test-limit 40 -o c.kun");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
  ASSERT_TRUE(fs::exists(dir_ + "/c.kun"));
  r = kun("speech eval -m c.kun --limit 30");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy:"), std::string::npos);
  EXPECT_NE(r.out.find("confusion matrix"), std::string::npos);
  EXPECT_NE(r.out.find("macro avg"), std::string::npos);
  r = kun("speech transcribe '" + abs + "/recordings/3_theo_0.wav' -m c.kun");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("confidence"), std::string::npos);
}

TEST_F(SpeechCli, FsddCtcTrainEvalTranscribe) {
  const std::string data = fsdd_dir();
  if (data.empty()) GTEST_SKIP() << "FSDD not found (set KUN_FSDD)";
  const std::string abs = fs::absolute(data).string();
  std::ofstream(dir_ + "/t.toml") << "[task]\nkind = \"ctc\"\n[data]\nkind = \"fsdd\"\npath = \"" << abs
                                  << "\"\n[features]\nlayout = \"sequence\"\npad = \"end\"\nstack = 4\nmax_seconds = 8.0\n"
                                     "[[model.layers]]\ntype = \"gru\"\nhidden_size = 16\nreturn_sequences = true\n"
                                     "[[model.layers]]\ntype = \"dense\"\nunits = 11\n"
                                     "[train]\nepochs = 1\nbatch_size = 8\nverbose = 0\n";
  CliRun r = kun("speech train t.toml --train-limit 24 --test-limit 8 -o t.kun");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("digit error rate"), std::string::npos) << r.out;
  r = kun("speech eval -m t.kun --limit 6 --show 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("digit error rate on 6 test strings"), std::string::npos) << r.out;
  // a digit string written to a file and transcribed
  DigitStringBuilder b(fsdd({.path = data, .split = Split::test}), {.split = Split::test, .count = 1, .seed = 4});
  write_wav(dir_ + "/digits.wav", b.get(0).audio, 8000);
  r = kun("speech transcribe digits.wav -m t.kun --beam 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("digits.wav\t"), std::string::npos);
}

// The generic layout: one folder per label (train and test roots), through train and eval.
TEST_F(SpeechCli, AudioFolderTrainEval) {
  for (const char* split : {"train", "test"})
    for (int label = 0; label < 2; ++label) {
      const std::string d = dir_ + "/" + split + "/" + (label ? "high" : "low");
      fs::create_directories(d);
      for (int i = 0; i < 6; ++i)
        write_wav(d + "/c" + std::to_string(i) + ".wav", tone(0.3 + 0.05 * i, 16000, label ? 1800.0 + 50 * i : 300.0 + 20 * i),
                  16000);  // 16 kHz files, resampled to the model's 8 kHz
    }
  std::ofstream(dir_ + "/f.toml") << "[data]\nkind = \"folder\"\npath = \"train\"\ntest_path = \"test\"\n"
                                     "[features]\nlayout = \"image\"\n[[model.layers]]\ntype = \"flatten\"\n"
                                     "[[model.layers]]\ntype = \"dense\"\nunits = 2\n[train]\nepochs = 2\nbatch_size = 4\nverbose = 0\n";
  CliRun r = kun("speech train f.toml -o f.kun");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("12 train clips / 12 test clips, 2 classes"), std::string::npos) << r.out;
  r = kun("speech eval -m f.kun --data test");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("12 clips of audio folder test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("high"), std::string::npos);
  EXPECT_NE(r.out.find("confusion matrix"), std::string::npos);
}
