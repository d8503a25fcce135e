// Text normalization, a Keras-style word Tokenizer and pad_sequences.
//
// Defined behaviour for awkward input (tests/apps/text/test_tokenizer.cpp):
//   - invalid UTF-8: every invalid byte becomes U+FFFD before anything else (never a throw or crash);
//   - empty text: no words, an empty sequence; pad_sequences turns it into a row of `value`;
//   - a text with only unknown words: the oov id for each word when oov_token is set, else an empty
//     sequence (which pads to all `value`);
//   - a sequence longer than maxlen: truncated at the front ("pre", Keras' default) or the back.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun::text {

enum class Punctuation {
  keep,    // leave punctuation where it is ("great!" stays one word)
  remove,  // replace each punctuation character by a space
  split,   // surround each punctuation character with spaces ("great!" -> "great", "!")
};

struct NormalizeOptions {
  bool lower = true;        // Unicode simple lower-casing (see unicode.h)
  bool strip_html = true;   // "<br />", "<i>" ... -> " " (a tag is '<' + a letter or '/' ... up to '>')
  Punctuation punctuation = Punctuation::keep;
  // remove / split: an apostrophe (' or U+2019) between two letters stays in the word ("don't").
  bool keep_apostrophes = false;
};
// Applies, in order: invalid UTF-8 -> U+FFFD, HTML tag stripping, lower-casing, punctuation.
std::string normalize(std::string_view text, const NormalizeOptions& opt = {});
// Replaces each HTML tag (e.g. "<br />", "</a>", "<a href=...>") with one space; a lone '<' stays.
std::string strip_html(std::string_view text);

struct TokenizerOptions {
  int64_t num_words = 0;   // keep only words with index < num_words (0: all). Index 0 is never a word.
  std::string oov_token = "";  // empty: unknown words are dropped; else they map to this token (index 1)
  // Each of these characters (UTF-8, any code points) is replaced by `split` before splitting.
  std::string filters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";
  bool lower = true;
  std::string split = " ";
  bool strip_html = false;  // strip HTML tags first (use for IMDB's "<br />")
};

// Like keras.preprocessing.text.Tokenizer: words are ranked by count (ties: first seen first);
// the most frequent gets index 1 (2 when oov_token is set: the oov token is index 1).
class Tokenizer {
 public:
  explicit Tokenizer(TokenizerOptions opt = {});

  // Words of one text after normalization (html, lower, filters, split); empty pieces dropped.
  std::vector<std::string> text_to_words(std::string_view text) const;
  // Adds the texts' word counts and rebuilds the index (can be called repeatedly).
  void fit_on_texts(const std::vector<std::string>& texts);
  std::vector<int64_t> text_to_sequence(std::string_view text) const;
  std::vector<std::vector<int64_t>> texts_to_sequences(const std::vector<std::string>& texts) const;
  // Indices 0, unknown and >= num_words are skipped (or become the oov token when it is set).
  std::vector<std::string> sequences_to_texts(const std::vector<std::vector<int64_t>>& seqs) const;

  const std::unordered_map<std::string, int64_t>& word_index() const { return word_index_; }
  const std::vector<std::string>& index_word() const { return index_word_; }  // [0] is ""
  int64_t word_count(const std::string& w) const;
  int64_t document_count() const { return document_count_; }
  // Number of ids sequences use: min(num_words, words + 1) — the Embedding's input_dim.
  int64_t vocab_size() const;
  const TokenizerOptions& options() const { return opt_; }

  // JSON with the options, counts and index (format "kun.text.Tokenizer", version 1).
  std::string to_json() const;
  static Tokenizer from_json(const std::string& json_text);
  void save(const std::string& path) const;  // temp file + rename
  static Tokenizer load(const std::string& path);

 private:
  void rebuild_index();
  int64_t oov_index() const { return opt_.oov_token.empty() ? 0 : 1; }

  TokenizerOptions opt_;
  std::u32string filters_;
  std::unordered_map<std::string, int64_t> counts_;
  std::vector<std::string> first_seen_;  // words in first-seen order (stable tie-breaking)
  std::unordered_map<std::string, int64_t> word_index_;
  std::vector<std::string> index_word_;
  int64_t document_count_ = 0;
};

enum class PadSide { pre, post };
struct PadOptions {
  int64_t maxlen = -1;  // -1: the longest sequence's length
  PadSide padding = PadSide::pre;
  PadSide truncating = PadSide::pre;
  int64_t value = 0;
};
// (N, maxlen) int64 tensor. pre-padding puts `value` in front; pre-truncation drops leading ids.
Tensor pad_sequences(const std::vector<std::vector<int64_t>>& seqs, const PadOptions& opt = {});

}  // namespace kun::text
