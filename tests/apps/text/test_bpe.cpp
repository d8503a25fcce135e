#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "golden_util.h"
#include "kun/apps/text/bpe.h"
#include "kun/apps/text/unicode.h"

using namespace kun::text;
namespace fs = std::filesystem;

static std::vector<std::string> pieces(std::string_view s) {
  std::vector<std::string> out;
  for (auto p : gpt2_pretokenize(s)) out.emplace_back(p);
  return out;
}

TEST(TextBpe, PretokenizeLikeGpt2Regex) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("I'm they'll it's DON'T"), (V{"I", "'m", " they", "'ll", " it", "'s", " DON", "'", "T"}));
  EXPECT_EQ(pieces("a   b"), (V{"a", "  ", " b"}));       // run keeps its last space for the word
  EXPECT_EQ(pieces("a \n\nb"), (V{"a", " \n", "\n", "b"}));
  EXPECT_EQ(pieces("x  "), (V{"x", "  "}));               // trailing run stays whole
  EXPECT_EQ(pieces("abc123 45!!? ?"), (V{"abc", "123", " 45", "!!?", " ?"}));
  EXPECT_EQ(pieces("''s"), (V{"''", "s"}));
  EXPECT_EQ(pieces(""), V{});
  std::string bad = "ab\xFF\xFE c";                        // invalid bytes: "other" pieces, kept verbatim
  EXPECT_EQ(pieces(bad), (V{"ab", "\xFF\xFE", " c"}));
}

TEST(TextBpe, ByteToUnicodeIsGpt2s) {
  const auto& t = byte_to_unicode();
  EXPECT_EQ(t['A'], "A");
  EXPECT_EQ(t[' '], "\xC4\xA0");   // Ġ = U+0120
  EXPECT_EQ(t['\n'], "\xC4\x8A");  // Ċ = U+010A
  EXPECT_EQ(t[0], "\xC4\x80");     // U+0100
  EXPECT_EQ(t[0xAD], "\xC5\x83");  // U+0143
}

static std::string gpt2_dir() {
  const char* env = std::getenv("KUN_GPT2_BPE");
  if (env && *env) return env;
  for (const char* c : {"../shared/data/gpt2-bpe", "../../shared/data/gpt2-bpe", "../../../shared/data/gpt2-bpe"})
    if (fs::exists(fs::path(c) / "vocab.bpe")) return c;
  return "";
}

TEST(TextBpe, Gpt2GoldenIds) {
  const std::string dir = gpt2_dir();
  if (dir.empty()) GTEST_SKIP() << "GPT-2 BPE files absent (set KUN_GPT2_BPE)";
  ByteLevelBPE bpe = ByteLevelBPE::load_gpt2(dir);
  EXPECT_EQ(bpe.vocab_size(), 50257);
  EXPECT_EQ(bpe.num_merges(), 50000);
  EXPECT_EQ(bpe.eot_id(), 50256);
  std::ifstream f(std::string(KUN_GOLDEN_DIR) + "/gpt2_bpe.json");
  ASSERT_TRUE(f.good());
  auto g = nlohmann::json::parse(f);
  const auto& lines = g.at("lines");
  ASSERT_EQ(lines.size(), 1000u);
  size_t mismatches = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line = lines[i].get<std::string>();
    const auto want = g.at("ids")[i].get<std::vector<int64_t>>();
    const auto got = bpe.encode(line);
    if (got != want && mismatches++ < 5) ADD_FAILURE() << "line " << i << " differs: " << line;
    EXPECT_EQ(bpe.decode(got), line);
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(bpe.encode("Hello world"), (std::vector<int64_t>{15496, 995}));
  std::string bad = "caf\xC3 \xFF!";
  EXPECT_EQ(bpe.decode(bpe.encode(bad)), bad);  // any bytes round-trip
  KUN_EXPECT_ERROR(bpe.decode({50257}), "out of range");
}

TEST(TextBpe, TrainSaveLoad) {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) texts.push_back("the lower the newer the lowest the newest wider " + std::to_string(i % 5));
  ByteLevelBPE bpe = ByteLevelBPE::train(texts, {.vocab_size = 300, .min_frequency = 2});
  EXPECT_LE(bpe.vocab_size(), 300);
  EXPECT_GT(bpe.num_merges(), 10);
  EXPECT_GE(bpe.token_to_id("\xC4\xA0the"), 256);  // " the" learned as one token
  const std::string s = "the newest lowest, wider!";
  auto ids = bpe.encode(s);
  EXPECT_LT(ids.size(), s.size());
  EXPECT_EQ(bpe.decode(ids), s);
  const auto dir = fs::temp_directory_path() / "kun_bpe_test";
  bpe.save(dir.string());
  ByteLevelBPE back = ByteLevelBPE::load_gpt2(dir.string());
  fs::remove_all(dir);
  EXPECT_EQ(back.encode(s), ids);
  EXPECT_EQ(back.eot_id(), bpe.vocab_size() - 1);
  KUN_EXPECT_ERROR(ByteLevelBPE::train(texts, {.vocab_size = 100}), "vocab_size");
  KUN_EXPECT_ERROR(ByteLevelBPE::load_gpt2("/nonexistent"), "cannot open");
}

TEST(TextBpe, RandomBytesNeverCrash) {
  // Arbitrary bytes (mostly invalid UTF-8) through every tokenizer: defined results, no throw.
  std::vector<std::string> texts;
  uint64_t s = 12345;
  for (int i = 0; i < 200; ++i) {
    std::string t;
    for (int k = 0; k < i % 40; ++k) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      t.push_back(static_cast<char>(s >> 56));
    }
    texts.push_back(t);
  }
  ByteLevelBPE bpe = ByteLevelBPE::train(texts, {.vocab_size = 300, .min_frequency = 2});
  for (const auto& t : texts) {
    std::string joined;
    for (auto p : gpt2_pretokenize(t)) joined += p;
    EXPECT_EQ(joined, t);                    // pieces cover the input exactly
    EXPECT_EQ(bpe.decode(bpe.encode(t)), t);  // raw bytes round-trip
  }
}
