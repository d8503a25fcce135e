#include "kun/apps/text/bpe.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kun/apps/text/unicode.h"
#include "kun/core/error.h"

namespace kun::text {

namespace {

enum Cls : uint8_t { kLetter, kNumber, kSpace, kOther };

Cls classify(char32_t cp) {
  if (is_letter(cp)) return kLetter;
  if (is_number(cp)) return kNumber;
  if (is_space(cp)) return kSpace;
  return kOther;
}

std::string read_file(const std::string& path, const char* who) {
  std::ifstream f(path, std::ios::binary);
  KUN_CHECK(f.good(), IOError, who, ": cannot open ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& data, const char* who) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    KUN_CHECK(f.good(), IOError, who, ": cannot open ", tmp, " for writing");
    f << data;
    KUN_CHECK(f.good(), IOError, who, ": write to ", tmp, " failed");
  }
  KUN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, IOError, who, ": rename to ", path, " failed");
}

uint64_t pair_key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

}  // namespace

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  // Decode once: code point, class and byte offset of each character (pos[n] = text.size()).
  std::vector<char32_t> cp;
  std::vector<Cls> cls;
  std::vector<size_t> pos;
  cp.reserve(text.size());
  cls.reserve(text.size());
  pos.reserve(text.size() + 1);
  for (size_t i = 0; i < text.size();) {
    int len;
    const char32_t c = decode_utf8(text, i, &len);
    cp.push_back(c);
    cls.push_back(classify(c));
    pos.push_back(i);
    i += len;
  }
  const size_t n = cp.size();
  pos.push_back(text.size());

  std::vector<std::string_view> pieces;
  size_t k = 0;
  auto emit = [&](size_t e) {
    pieces.push_back(text.substr(pos[k], pos[e] - pos[k]));
    k = e;
  };
  while (k < n) {
    // 's 't 're 've 'm 'll 'd (lower case only, as in GPT-2)
    if (cp[k] == '\'' && k + 1 < n) {
      const char32_t a = cp[k + 1];
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        emit(k + 2);
        continue;
      }
      if (k + 2 < n) {
        const char32_t b = cp[k + 2];
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
          emit(k + 3);
          continue;
        }
      }
    }
    // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": one optional space, then a run of one class.
    size_t start = k;
    if (cp[k] == ' ' && k + 1 < n && cls[k + 1] != kSpace) start = k + 1;
    if (cls[start] != kSpace) {
      const Cls c = cls[start];
      size_t e = start + 1;
      while (e < n && cls[e] == c) ++e;
      emit(e);
      continue;
    }
    // "\s+(?!\S)" then "\s+": a whitespace run followed by text leaves its last character
    // for the next piece (unless the run is that one character).
    size_t e = k + 1;
    while (e < n && cls[e] == kSpace) ++e;
    if (e < n && e - k >= 2) --e;
    emit(e);
  }
  return pieces;
}

const std::vector<std::string>& byte_to_unicode() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      std::string s;
      append_utf8(s, printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++));
      t[b] = s;
    }
    return t;
  }();
  return table;
}

struct ByteLevelBPE::Cache {
  std::mutex mu;
  std::unordered_map<std::string, std::vector<int64_t>> map;
};

ByteLevelBPE::ByteLevelBPE() : cache_(std::make_unique<Cache>()) {}
ByteLevelBPE::~ByteLevelBPE() = default;
ByteLevelBPE::ByteLevelBPE(ByteLevelBPE&&) noexcept = default;
ByteLevelBPE& ByteLevelBPE::operator=(ByteLevelBPE&&) noexcept = default;

void ByteLevelBPE::build() {
  token_ids_.clear();
  for (size_t i = 0; i < tokens_.size(); ++i) token_ids_[tokens_[i]] = static_cast<int64_t>(i);
  // Inverse byte map: code point -> byte.
  std::unordered_map<char32_t, int> cp_byte;
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    cp_byte[utf8_to_u32(b2u[b])[0]] = b;
    auto it = token_ids_.find(b2u[b]);
    KUN_CHECK(it != token_ids_.end(), ValueError, "ByteLevelBPE: the vocabulary lacks the token for byte ", b);
    byte_id_[b] = it->second;
  }
  token_bytes_.assign(tokens_.size(), "");
  for (size_t i = 0; i < tokens_.size(); ++i) {
    for (char32_t c : utf8_to_u32(tokens_[i])) {
      auto it = cp_byte.find(c);
      if (it != cp_byte.end())
        token_bytes_[i].push_back(static_cast<char>(it->second));
      else
        append_utf8(token_bytes_[i], c);  // a special token with other characters: keep them as UTF-8
    }
  }
  pair_rank_.clear();
  for (size_t r = 0; r < merges_.size(); ++r) {
    auto [a, b] = merges_[r];
    auto it = token_ids_.find(tokens_[a] + tokens_[b]);
    KUN_CHECK(it != token_ids_.end(), ValueError, "ByteLevelBPE: merge ", r, " (", tokens_[a], " ", tokens_[b],
              ") produces a token missing from the vocabulary");
    pair_rank_.emplace(pair_key(a, b), std::make_pair(static_cast<int32_t>(r), static_cast<int32_t>(it->second)));
  }
  std::lock_guard<std::mutex> lock(cache_->mu);
  cache_->map.clear();
}

ByteLevelBPE ByteLevelBPE::from_files(const std::string& encoder_json, const std::string& merges_txt) {
  ByteLevelBPE bpe;
  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(read_file(encoder_json, "ByteLevelBPE"));
  } catch (const nlohmann::json::exception& e) {
    KUN_CHECK(false, ValueError, "ByteLevelBPE: ", encoder_json, " is not valid JSON: ", e.what());
  }
  KUN_CHECK(enc.is_object() && !enc.empty(), ValueError, "ByteLevelBPE: ", encoder_json,
            " must be a JSON object token -> id");
  int64_t max_id = -1;
  for (auto& [tok, id] : enc.items()) {
    KUN_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (1 << 24), ValueError,
              "ByteLevelBPE: ", encoder_json, ": bad id for token ", tok);
    max_id = std::max(max_id, id.get<int64_t>());
  }
  bpe.tokens_.assign(max_id + 1, "");
  for (auto& [tok, id] : enc.items()) bpe.tokens_[id.get<int64_t>()] = tok;
  std::unordered_map<std::string, int64_t> ids;
  for (size_t i = 0; i < bpe.tokens_.size(); ++i) ids[bpe.tokens_[i]] = static_cast<int64_t>(i);

  std::istringstream lines(read_file(merges_txt, "ByteLevelBPE"));
  std::string line;
  int64_t lineno = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t sp = line.find(' ');
    KUN_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < line.size(), ValueError, "ByteLevelBPE: ", merges_txt,
              ":", lineno, ": expected \"left right\", got \"", line, "\"");
    auto a = ids.find(line.substr(0, sp)), b = ids.find(line.substr(sp + 1));
    KUN_CHECK(a != ids.end() && b != ids.end(), ValueError, "ByteLevelBPE: ", merges_txt, ":", lineno,
              ": merge of unknown tokens \"", line, "\"");
    bpe.merges_.emplace_back(a->second, b->second);
  }
  bpe.build();
  return bpe;
}

ByteLevelBPE ByteLevelBPE::load_gpt2(const std::string& folder) {
  std::string dir = folder;
  if (dir.empty()) {
    const char* env = std::getenv("KUN_GPT2_BPE");
    dir = env && *env ? env : "../shared/data/gpt2-bpe";
  }
  return from_files(dir + "/encoder.json", dir + "/vocab.bpe");
}

void ByteLevelBPE::merge_piece(std::string_view piece, std::vector<int64_t>& out) const {
  std::vector<int32_t> sym(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) sym[i] = static_cast<int32_t>(byte_id_[static_cast<unsigned char>(piece[i])]);
  while (sym.size() > 1) {
    int32_t best_rank = INT32_MAX, best_id = -1;
    int32_t left = -1, right = -1;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = pair_rank_.find(pair_key(sym[i], sym[i + 1]));
      if (it != pair_rank_.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best_id = it->second.second;
        left = sym[i];
        right = sym[i + 1];
      }
    }
    if (best_id < 0) break;
    // Merge every occurrence of (left, right), scanning left to right.
    size_t w = 0;
    for (size_t i = 0; i < sym.size();) {
      if (i + 1 < sym.size() && sym[i] == left && sym[i + 1] == right) {
        sym[w++] = best_id;
        i += 2;
      } else {
        sym[w++] = sym[i++];
      }
    }
    sym.resize(w);
  }
  out.insert(out.end(), sym.begin(), sym.end());
}

void ByteLevelBPE::encode(std::string_view text, std::vector<int64_t>& out) const {
  KUN_CHECK(!tokens_.empty(), ValueError, "ByteLevelBPE::encode: no vocabulary loaded");
  std::vector<int64_t> ids;
  for (std::string_view piece : gpt2_pretokenize(text)) {
    if (piece.size() == 1) {  // single bytes need no merging or caching
      out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
      continue;
    }
    std::string key(piece);
    {
      std::lock_guard<std::mutex> lock(cache_->mu);
      auto it = cache_->map.find(key);
      if (it != cache_->map.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    ids.clear();
    merge_piece(piece, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_->mu);
    if (cache_->map.size() > 200000) cache_->map.clear();  // bound memory on endless streams
    cache_->map.emplace(std::move(key), ids);
  }
}

std::vector<int64_t> ByteLevelBPE::encode(std::string_view text) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 1);
  encode(text, out);
  return out;
}

std::string ByteLevelBPE::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    KUN_CHECK(id >= 0 && id < vocab_size(), IndexError, "ByteLevelBPE::decode: id ", id, " out of range [0, ",
              vocab_size(), ")");
    out += token_bytes_[id];
  }
  return out;
}

int64_t ByteLevelBPE::token_to_id(const std::string& token) const {
  auto it = token_ids_.find(token);
  return it == token_ids_.end() ? -1 : it->second;
}

const std::string& ByteLevelBPE::id_to_token(int64_t id) const {
  KUN_CHECK(id >= 0 && id < vocab_size(), IndexError, "ByteLevelBPE::id_to_token: id ", id, " out of range [0, ",
            vocab_size(), ")");
  return tokens_[id];
}

ByteLevelBPE ByteLevelBPE::train(const std::vector<std::string>& texts, const BpeTrainOptions& opt) {
  const int64_t budget = opt.vocab_size - static_cast<int64_t>(opt.special_tokens.size());
  KUN_CHECK(budget >= 256, ValueError, "ByteLevelBPE::train: vocab_size must be >= 256 + special tokens (",
            256 + opt.special_tokens.size(), "), got ", opt.vocab_size);
  ByteLevelBPE bpe;
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) bpe.tokens_.push_back(b2u[b]);
  // Unique pieces with counts (ordered map: deterministic word order).
  std::map<std::string, int64_t> piece_counts;
  for (const auto& t : texts)
    for (auto p : gpt2_pretokenize(t)) ++piece_counts[std::string(p)];
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  for (auto& [p, c] : piece_counts) {
    std::vector<int32_t> w;
    for (unsigned char ch : p) w.push_back(ch);
    words.push_back(std::move(w));
    counts.push_back(c);
  }
  std::unordered_map<std::string, int32_t> seen;
  for (int b = 0; b < 256; ++b) seen.emplace(b2u[b], b);
  while (static_cast<int64_t>(bpe.tokens_.size()) < budget) {
    std::unordered_map<uint64_t, int64_t> pc;
    for (size_t i = 0; i < words.size(); ++i)
      for (size_t k = 0; k + 1 < words[i].size(); ++k) pc[pair_key(words[i][k], words[i][k + 1])] += counts[i];
    uint64_t best = 0;
    int64_t best_count = 0;
    for (auto& [key, c] : pc)
      if (c > best_count || (c == best_count && key < best)) best = key, best_count = c;
    if (best_count < std::max<int64_t>(opt.min_frequency, 1)) break;
    const auto a = static_cast<int32_t>(best >> 32), b = static_cast<int32_t>(best & 0xffffffffu);
    // A string reachable by two merge paths keeps one id.
    const std::string merged = bpe.tokens_[a] + bpe.tokens_[b];
    auto [it, fresh] = seen.emplace(merged, static_cast<int32_t>(bpe.tokens_.size()));
    const int32_t id = it->second;
    if (fresh) bpe.tokens_.push_back(merged);
    bpe.merges_.emplace_back(a, b);
    for (auto& w : words) {
      size_t o = 0;
      for (size_t k = 0; k < w.size();) {
        if (k + 1 < w.size() && w[k] == a && w[k + 1] == b) {
          w[o++] = id;
          k += 2;
        } else {
          w[o++] = w[k++];
        }
      }
      w.resize(o);
    }
  }
  for (auto& s : opt.special_tokens) bpe.tokens_.push_back(s);
  bpe.build();
  return bpe;
}

void ByteLevelBPE::save(const std::string& folder) const {
  std::filesystem::create_directories(folder);
  nlohmann::ordered_json enc = nlohmann::ordered_json::object();
  for (size_t i = 0; i < tokens_.size(); ++i) enc[tokens_[i]] = i;
  write_file_atomic(folder + "/encoder.json", enc.dump(), "ByteLevelBPE::save");
  std::string m = "#version: 0.2\n";
  for (auto [a, b] : merges_) m += tokens_[a] + " " + tokens_[b] + "\n";
  write_file_atomic(folder + "/vocab.bpe", m, "ByteLevelBPE::save");
}

}  // namespace kun::text
