#include <gtest/gtest.h>

#include <filesystem>

#include "golden_util.h"
#include "kun/apps/text/wordpiece.h"

using namespace kun::text;
using V = std::vector<std::string>;

TEST(TextWordPiece, GreedyLongestMatchFirst) {
  WordPiece wp({"[UNK]", "un", "##aff", "##able", "aff", "##a", "##b", "a", "b", "!", "runn", "##ing"});
  EXPECT_EQ(wp.tokenize("unaffable"), (V{"un", "##aff", "##able"}));
  EXPECT_EQ(wp.tokenize("Running!"), (V{"runn", "##ing", "!"}));
  EXPECT_EQ(wp.tokenize("unxyz ab"), (V{"[UNK]", "a", "##b"}));   // a word that cannot be covered is [UNK]
  EXPECT_EQ(wp.tokenize(""), V{});
  EXPECT_EQ(wp.tokenize("\xFF"), V{"[UNK]"});                      // invalid UTF-8 -> U+FFFD -> unknown
  EXPECT_EQ(wp.decode(wp.encode("unaffable running")), "unaffable running");
  WordPiece small({"[UNK]", "a", "##a"}, {.max_chars_per_word = 3});
  EXPECT_EQ(small.tokenize("aaa aaaa"), (V{"a", "##a", "##a", "[UNK]"}));
  KUN_EXPECT_ERROR(WordPiece({"a"}), "unknown token");
}

TEST(TextWordPiece, TrainOnTinyCorpus) {
  std::vector<std::pair<std::string, int64_t>> counts = {{"hug", 10}, {"pug", 5}, {"pun", 12}, {"bun", 4}, {"hugs", 5}};
  WordPiece wp = WordPiece::train_from_counts(counts, {.vocab_size = 20, .special_tokens = {"[UNK]"}});
  EXPECT_LE(wp.vocab_size(), 20);
  EXPECT_GT(wp.vocab_size(), 9);
  // Alphabet: word-initial characters plain, the rest with ##.
  for (const char* t : {"h", "p", "b", "##u", "##g", "##n", "##s"}) EXPECT_GE(wp.token_to_id(t), 0) << t;
  // The first merge by score count(ab)/(count(a)count(b)) is ##g + ##s (both rare, always together).
  EXPECT_EQ(wp.vocab()[8], "##gs");
  for (const auto& [w, c] : counts) EXPECT_EQ(wp.decode(wp.encode(w)), w);
  for (const auto& piece : wp.tokenize("bugs pun")) EXPECT_NE(piece, "[UNK]");  // covered by the alphabet
  EXPECT_EQ(wp.tokenize("xyz"), V{"[UNK]"});
  auto path = (std::filesystem::temp_directory_path() / "kun_wp_vocab.txt").string();
  wp.save(path);
  WordPiece back = WordPiece::load(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.vocab(), wp.vocab());
  WordPiece from_text = WordPiece::train({"Hello, hello world!", "world peace"}, {.vocab_size = 30});
  EXPECT_GE(from_text.token_to_id(","), 0);
  EXPECT_GE(from_text.token_to_id("[MASK]"), 0);
}
