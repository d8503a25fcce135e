#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "golden_util.h"
#include "kun/apps/text/tokenizer.h"

using namespace kun;
using namespace kun::text;
using Seqs = std::vector<std::vector<int64_t>>;

TEST(TextTokenizer, KerasIndexOrderAndSequences) {
  Tokenizer t;
  t.fit_on_texts({"The cat sat on the mat.", "The dog ate my homework!", "cat, Cat; CAT"});
  // the: 3, cat: 4 -> cat first; ties keep first-seen order.
  EXPECT_EQ(t.word_index().at("cat"), 1);
  EXPECT_EQ(t.word_index().at("the"), 2);
  EXPECT_EQ(t.word_index().at("sat"), 3);
  EXPECT_EQ(t.word_index().at("homework"), 9);
  EXPECT_EQ(t.word_count("cat"), 4);
  EXPECT_EQ(t.document_count(), 3);
  EXPECT_EQ(t.texts_to_sequences({"the cat and the zebra"}), (Seqs{{2, 1, 2}}));  // unknown words dropped
  EXPECT_EQ(t.sequences_to_texts({{2, 1, 99, 0, 3}}), std::vector<std::string>{"the cat sat"});
}

TEST(TextTokenizer, NumWordsAndOov) {
  Tokenizer t({.num_words = 4, .oov_token = "<OOV>"});
  t.fit_on_texts({"a a a b b c d", "e"});
  EXPECT_EQ(t.word_index().at("<OOV>"), 1);
  EXPECT_EQ(t.word_index().at("a"), 2);
  EXPECT_EQ(t.word_index().at("c"), 4);  // in the index, but >= num_words in sequences
  EXPECT_EQ(t.text_to_sequence("a b c zzz"), (std::vector<int64_t>{2, 3, 1, 1}));
  EXPECT_EQ(t.sequences_to_texts({{2, 4, 1}}), std::vector<std::string>{"a <OOV> <OOV>"});
  EXPECT_EQ(t.vocab_size(), 4);
}

TEST(TextTokenizer, FiltersLowerSplitHtml) {
  Tokenizer t({.filters = "!", .lower = false, .split = "|", .strip_html = true});
  EXPECT_EQ(t.text_to_words("A|b!C||<br />d"), (std::vector<std::string>{"A", "b", "C", " d"}));
  Tokenizer u({.filters = "é,"});  // multi-byte filter characters
  EXPECT_EQ(u.text_to_words("CAFÉ,Bar"), (std::vector<std::string>{"caf", "bar"}));
}

TEST(TextTokenizer, DefinedEdgeCases) {
  Tokenizer plain;
  plain.fit_on_texts({"good movie", ""});
  EXPECT_TRUE(plain.text_to_sequence("").empty());                 // empty text
  EXPECT_TRUE(plain.text_to_sequence("zzz qqq").empty());          // only unknown words, no oov
  Tokenizer oov({.oov_token = "<unk>"});
  oov.fit_on_texts({"good movie"});
  EXPECT_EQ(oov.text_to_sequence("zzz qqq"), (std::vector<int64_t>{1, 1}));
  // invalid UTF-8: U+FFFD, no crash; the word still matches itself
  plain.fit_on_texts({"bad\xFF"});
  EXPECT_EQ(plain.index_word().back(), "bad\xEF\xBF\xBD");
  EXPECT_EQ(plain.text_to_sequence("bad\xFF").size(), 1u);
  Tensor p = pad_sequences({{}, {}}, {.maxlen = 3});
  EXPECT_EQ(p.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 0, 0, 0, 0}));
}

TEST(TextTokenizer, PadSequences) {
  Seqs s = {{1, 2, 3, 4, 5}, {6, 7}, {}};
  EXPECT_EQ(pad_sequences(s, {.maxlen = 3}).to_vector<int64_t>(),
            (std::vector<int64_t>{3, 4, 5, 0, 6, 7, 0, 0, 0}));  // pre pad, pre truncate (Keras defaults)
  EXPECT_EQ(pad_sequences(s, {.maxlen = 3, .padding = PadSide::post, .truncating = PadSide::post}).to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 3, 6, 7, 0, 0, 0, 0}));
  EXPECT_EQ(pad_sequences(s, {.maxlen = 3, .padding = PadSide::post, .value = -1}).to_vector<int64_t>(),
            (std::vector<int64_t>{3, 4, 5, 6, 7, -1, -1, -1, -1}));
  Tensor all = pad_sequences(s);  // maxlen = longest
  EXPECT_EQ(all.shape(), (Shape{3, 5}));
  EXPECT_EQ(pad_sequences(s, {.maxlen = 0}).shape(), (Shape{3, 0}));
  KUN_EXPECT_ERROR(pad_sequences(s, {.maxlen = -2}), "pad_sequences", "maxlen");
}

TEST(TextTokenizer, SaveLoadRoundTrip) {
  Tokenizer t({.num_words = 50, .oov_token = "<OOV>", .strip_html = true});
  t.fit_on_texts({"x y y z z z", "Ünïcode wörds<br />here"});
  const std::string path = (std::filesystem::temp_directory_path() / "kun_tok_test.json").string();
  t.save(path);
  Tokenizer u = Tokenizer::load(path);
  std::remove(path.c_str());
  EXPECT_EQ(u.word_index(), t.word_index());
  EXPECT_EQ(u.options().num_words, 50);
  EXPECT_EQ(u.text_to_sequence("z ünïcode q"), t.text_to_sequence("z ünïcode q"));
  KUN_EXPECT_ERROR(Tokenizer::from_json("{\"format\": \"other\"}"), "Tokenizer::from_json", "format");
  KUN_EXPECT_ERROR(Tokenizer::from_json("not json"), "not valid JSON");
  KUN_EXPECT_ERROR(Tokenizer::load("/nonexistent/kun.json"), "cannot open");
}
