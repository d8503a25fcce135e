// Byte-level BPE (GPT-2's tokenizer): text -> UTF-8 bytes -> pre-tokens (GPT-2's regex) -> ranked
// merges. Loads GPT-2's own encoder.json + vocab.bpe and encodes exactly as GPT-2 does
// (checked against tests/golden/gpt2_bpe.json, made by an independent Python reference), and
// trains new vocabularies from text.
//
// Any byte string is encodable: bytes that are not valid UTF-8 form one-byte "other" pieces, so
// decode(encode(s)) == s for every s (valid UTF-8 input is encoded exactly like GPT-2).
// "<|endoftext|>" in the text is NOT special (GPT-2's encoder does the same); append eot_id().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kun::text {

// GPT-2's pre-tokenization:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Returns the pieces as byte ranges of `text` (concatenated they give back text).
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// The 256 printable code points GPT-2 uses for bytes (UTF-8 strings, index = byte value).
const std::vector<std::string>& byte_to_unicode();

struct BpeTrainOptions {
  int64_t vocab_size = 1000;   // 256 byte tokens + merges + special tokens
  int64_t min_frequency = 2;   // a pair seen fewer times is never merged
  std::vector<std::string> special_tokens = {"<|endoftext|>"};  // appended after the merges
};

class ByteLevelBPE {
 public:
  // encoder.json (token -> id) + vocab.bpe ("#version" line, then "a b" per merge, rank order).
  static ByteLevelBPE from_files(const std::string& encoder_json, const std::string& merges_txt);
  // Folder with GPT-2's encoder.json and vocab.bpe; "" means $KUN_GPT2_BPE, else ../shared/data/gpt2-bpe.
  static ByteLevelBPE load_gpt2(const std::string& folder = "");
  // Learns merges from texts (pre-tokenized the GPT-2 way), most frequent pair first
  // (ties: the smaller pair of token ids).
  static ByteLevelBPE train(const std::vector<std::string>& texts, const BpeTrainOptions& opt = {});
  // Writes encoder.json + vocab.bpe into `folder` (loadable with from_files / load_gpt2).
  void save(const std::string& folder) const;

  std::vector<int64_t> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<int64_t>& out) const;  // appends
  std::string decode(const std::vector<int64_t>& ids) const;            // ids out of range throw IndexError

  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t num_merges() const { return static_cast<int64_t>(merges_.size()); }
  int64_t token_to_id(const std::string& token) const;  // -1 when absent
  const std::string& id_to_token(int64_t id) const;      // byte-mapped form (e.g. "Ġthe")
  int64_t eot_id() const { return token_to_id("<|endoftext|>"); }

  ByteLevelBPE();
  ~ByteLevelBPE();
  ByteLevelBPE(ByteLevelBPE&&) noexcept;
  ByteLevelBPE& operator=(ByteLevelBPE&&) noexcept;

 private:
  void build();  // pair table and byte ids from tokens_ / merges_
  void merge_piece(std::string_view piece, std::vector<int64_t>& out) const;

  std::vector<std::string> tokens_;                        // id -> byte-mapped token
  std::unordered_map<std::string, int64_t> token_ids_;     // byte-mapped token -> id
  std::vector<std::pair<int64_t, int64_t>> merges_;        // rank -> (left id, right id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> pair_rank_;  // (left, right) -> (rank, merged id)
  std::vector<std::string> token_bytes_;                   // id -> raw bytes (for decode)
  int64_t byte_id_[256] = {};
  struct Cache;                                            // piece -> ids, mutex-guarded
  std::unique_ptr<Cache> cache_;
};

}  // namespace kun::text
