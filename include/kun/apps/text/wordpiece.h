// WordPiece (BERT's subword scheme): training from word counts and greedy longest-match-first
// encoding, continuation pieces marked with "##".
//
// Pre-tokenization (BERT's basic tokenizer): invalid UTF-8 -> U+FFFD, optional lower-casing,
// split on white space, and every punctuation character (unicode.h is_punctuation) is its own word.
// A word longer than max_chars_per_word, or one that cannot be covered by vocabulary pieces,
// becomes the unknown token.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kun::text {

struct WordPieceOptions {
  bool lower = true;
  std::string unk_token = "[UNK]";
  std::string prefix = "##";  // marks a piece that continues a word
  int64_t max_chars_per_word = 100;
};

struct WordPieceTrainOptions {
  int64_t vocab_size = 1000;  // including the special tokens and the alphabet
  int64_t min_frequency = 1;  // words seen fewer times are ignored
  std::vector<std::string> special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
};

class WordPiece {
 public:
  explicit WordPiece(std::vector<std::string> vocab, WordPieceOptions opt = {});

  // Training: the alphabet (first characters as they are, later characters with the prefix),
  // then repeatedly the pair with the best score count(ab) / (count(a) * count(b)) is merged
  // (ties: the more frequent pair, then the earlier one) until vocab_size is reached.
  static WordPiece train_from_counts(const std::vector<std::pair<std::string, int64_t>>& word_counts,
                                     const WordPieceTrainOptions& topt = {}, WordPieceOptions opt = {});
  static WordPiece train(const std::vector<std::string>& texts, const WordPieceTrainOptions& topt = {},
                         WordPieceOptions opt = {});

  std::vector<std::string> pre_tokenize(std::string_view text) const;
  std::vector<std::string> tokenize(std::string_view text) const;  // pieces, e.g. "un", "##aff", "##able"
  std::vector<int64_t> encode(std::string_view text) const;
  // Joins pieces: a "##" piece attaches to the previous one, others are separated by a space.
  std::string decode(const std::vector<int64_t>& ids) const;

  int64_t token_to_id(const std::string& t) const;  // -1 when absent
  const std::vector<std::string>& vocab() const { return vocab_; }
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }

  void save(const std::string& path) const;  // vocab.txt: one token per line, id = line number
  static WordPiece load(const std::string& path, WordPieceOptions opt = {});

 private:
  void word_pieces(const std::string& word, std::vector<int64_t>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions opt_;
  int64_t unk_id_ = -1;
};

}  // namespace kun::text
