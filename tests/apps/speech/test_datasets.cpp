// FSDD listing and split, the generic layouts, and the seeded digit-string builder.
#include <filesystem>
#include <fstream>
#include <set>

#include "kun/apps/speech/audio.h"
#include "kun/apps/speech/datasets.h"
#include "kun/core/threading.h"
#include "speech_test_util.h"

using namespace kun;
using namespace kun::speech;
using namespace kun::testing;
using kun::speech::testing::fsdd_dir;
using kun::speech::testing::temp_dir;
namespace fs = std::filesystem;

namespace {
// A miniature FSDD: 3 digits x 2 speakers x 8 recordings of distinct tones (~0.05 s each).
std::string make_mini_fsdd(const std::string& name) {
  const std::string dir = temp_dir(name);
  fs::create_directories(dir + "/recordings");
  for (int d = 0; d < 3; ++d)
    for (const char* sp : {"ann", "bob"})
      for (int i = 0; i < 8; ++i)
        write_wav(dir + "/recordings/" + std::to_string(d) + "_" + sp + "_" + std::to_string(i) + ".wav",
                  full({400 + 10 * i}, 0.1 * (d + 1)), 8000);
  return dir;
}
}  // namespace

TEST(SpeechData, FsddOfficialSplit) {
  const std::string dir = fsdd_dir();
  if (dir.empty()) GTEST_SKIP() << "FSDD not found (set KUN_FSDD)";
  ClipList all = fsdd({.path = dir});
  ClipList train = fsdd({.path = dir, .split = Split::train});
  ClipList test = fsdd({.path = dir, .split = Split::test});
  EXPECT_EQ(all.size(), 3000u);
  EXPECT_EQ(train.size(), 2700u);
  EXPECT_EQ(test.size(), 300u);
  EXPECT_EQ(all.labels.size(), 10u);
  EXPECT_EQ(all.speakers, (std::vector<std::string>{"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}));
  for (const Clip& c : test.clips) EXPECT_TRUE(c.index <= 4 && c.test) << c.path;
  for (const Clip& c : train.clips) EXPECT_TRUE(c.index >= 5 && !c.test) << c.path;
  const Clip& c0 = all.clips.front();
  EXPECT_EQ(c0.label, 0);
  EXPECT_EQ(c0.speaker, "george");
  EXPECT_EQ(all.speakers[c0.speaker_id], "george");
}

TEST(SpeechData, FsddPathResolutionAndErrors) {
  const std::string dir = make_mini_fsdd("fsddpath");
  EXPECT_EQ(fsdd_path(dir), dir);
  EXPECT_EQ(fs::path(fsdd_path(dir + "/recordings")), fs::path(dir));  // the recordings folder itself
  KUN_EXPECT_ERROR(fsdd_path(dir + "/nope"), "fsdd", "nope", "KUN_FSDD");
  ClipList l = fsdd({.path = dir});
  EXPECT_EQ(l.size(), 48u);
  EXPECT_EQ(fsdd({.path = dir, .split = Split::test}).size(), 30u);  // indexes 0-4
  { std::ofstream(dir + "/recordings/bad_name.wav"); }
  KUN_EXPECT_ERROR(fsdd({.path = dir}), "fsdd", "bad_name.wav", "{digit}_{speaker}_{index}.wav");
  fs::remove_all(dir);
}

TEST(SpeechData, GenericFolderPerLabelAndCsv) {
  const std::string dir = temp_dir("generic");
  for (const char* lab : {"yes", "no"}) {
    fs::create_directories(dir + "/" + lab);
    for (int i = 0; i < 3; ++i) write_wav(dir + "/" + lab + "/" + std::to_string(i) + ".wav", zeros({100}), 8000);
  }
  { std::ofstream(dir + "/yes/readme.txt") << "not audio"; }
  ClipList f = audio_folder(dir);
  EXPECT_EQ(f.size(), 6u);
  EXPECT_EQ(f.labels, (std::vector<std::string>{"no", "yes"}));
  for (const Clip& c : f.clips) EXPECT_EQ(f.labels[c.label], fs::path(c.path).parent_path().filename().string());

  // CSV with a header and a quoted transcript holding a comma.
  {
    std::ofstream csv(dir + "/transcripts.csv");
    csv << "file,transcript\n" << "yes/0.wav,\"hello, world\"\n" << "no/1.wav,good bye\n" << "no/2.wav,good bye\n";
  }
  ClipList c = audio_folder(dir);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c.labels, (std::vector<std::string>{"good bye", "hello, world"}));
  EXPECT_EQ(c.clips[2].transcript, "hello, world");  // sorted by path: no/1, no/2, yes/0
  {
    std::ofstream bad(dir + "/bad.csv");
    bad << "yes/0.wav,a\nmissing.wav,b\n";
  }
  KUN_EXPECT_ERROR(audio_folder(dir, {.csv = dir + "/bad.csv"}), "audio_folder", "bad.csv:2", "missing.wav");
  KUN_EXPECT_ERROR(audio_folder(dir + "/none"), "audio_folder", "not a folder");
  const std::string empty = temp_dir("generic_empty");
  KUN_EXPECT_ERROR(audio_folder(empty), "audio_folder", "no audio clips");
  fs::remove_all(dir);
  fs::remove_all(empty);
}

TEST(SpeechData, DigitStringsAreSeededOneSpeakerAndRespectTheSplit) {
  const std::string dir = make_mini_fsdd("digits");
  ClipList all = fsdd({.path = dir});
  DigitStringBuilder train(all, {.split = Split::train, .count = 40, .seed = 7});
  DigitStringBuilder test(all, {.split = Split::test, .count = 40, .seed = 7});
  std::set<std::string> test_files, train_files;
  for (const Clip& c : all.clips) (c.test ? test_files : train_files).insert(c.path);
  for (int64_t i = 0; i < 40; ++i) {
    DigitString s = train.get(i);
    ASSERT_GE(s.digits.size(), 3u);
    ASSERT_LE(s.digits.size(), 5u);
    int64_t clip_samples = 0;
    for (const std::string& src : s.sources) {
      EXPECT_TRUE(train_files.count(src)) << src;  // train strings only from train clips
      EXPECT_NE(src.find("_" + s.speaker + "_"), std::string::npos) << src;  // one speaker
      clip_samples += read_audio(src).frames();
    }
    // clips plus gaps of 0.05-0.25 s between them and at most 0.1 s at each end
    const int64_t gaps = s.audio.numel() - clip_samples;
    EXPECT_GE(gaps, static_cast<int64_t>((s.digits.size() - 1) * 0.05 * 8000) - 2);
    EXPECT_LE(gaps, static_cast<int64_t>((s.digits.size() - 1) * 0.25 * 8000 + 2 * 0.1 * 8000) + 2);
    for (const std::string& src : test.get(i).sources) EXPECT_TRUE(test_files.count(src)) << src;
  }
  // Deterministic: same index -> identical string, on any thread, in any order.
  std::vector<DigitString> par(40);
  parallel_for(40, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = e - 1; i >= b; --i) par[i] = train.get(i);
  });
  DigitStringBuilder again(all, {.split = Split::train, .count = 40, .seed = 7});
  std::set<std::string> transcripts;
  for (int64_t i = 0; i < 40; ++i) {
    DigitString a = again.get(i);
    EXPECT_EQ(a.digits, par[i].digits);
    EXPECT_EQ(a.sources, par[i].sources);
    EXPECT_TRUE(close(a.audio, par[i].audio, 0, 0));
    transcripts.insert(a.transcript());
  }
  EXPECT_GT(transcripts.size(), 20u);  // varied
  DigitStringBuilder other(all, {.split = Split::train, .count = 40, .seed = 8});
  int same = 0;
  for (int64_t i = 0; i < 40; ++i) same += other.get(i).sources == par[i].sources;
  EXPECT_LT(same, 5);
  KUN_EXPECT_ERROR(train.get(40), "DigitStringBuilder", "index 40");
  KUN_EXPECT_ERROR(DigitStringBuilder(all, {.min_digits = 4, .max_digits = 3}), "min_digits");
  fs::remove_all(dir);
}

TEST(SpeechData, DigitStringsFromRealFsdd) {
  const std::string dir = fsdd_dir();
  if (dir.empty()) GTEST_SKIP() << "FSDD not found (set KUN_FSDD)";
  DigitStringBuilder b(fsdd({.path = dir}), {.split = Split::test, .count = 5, .seed = 1});
  DigitString s = b.get(3);
  EXPECT_EQ(s.sample_rate, 8000);
  EXPECT_GT(s.audio.numel(), 3 * 1000);
  const std::string out = temp_dir("ctcwav") + "/s.wav";
  write_wav(out, s.audio, s.sample_rate);  // for listening while debugging
  EXPECT_EQ(read_audio(out).frames(), s.audio.numel());
  fs::remove_all(fs::path(out).parent_path());
}
