#include "kun/apps/text/wordpiece.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include "kun/apps/text/unicode.h"
#include "kun/core/error.h"

namespace kun::text {

WordPiece::WordPiece(std::vector<std::string> vocab, WordPieceOptions opt) : vocab_(std::move(vocab)), opt_(std::move(opt)) {
  for (size_t i = 0; i < vocab_.size(); ++i) ids_.emplace(vocab_[i], static_cast<int64_t>(i));
  auto it = ids_.find(opt_.unk_token);
  KUN_CHECK(it != ids_.end(), ValueError, "WordPiece: the vocabulary must contain the unknown token \"",
            opt_.unk_token, "\"");
  unk_id_ = it->second;
}

std::vector<std::string> WordPiece::pre_tokenize(std::string_view text) const {
  const std::string s = opt_.lower ? to_lower(text) : sanitize_utf8(text);
  std::vector<std::string> words;
  std::string cur;
  for (size_t i = 0; i < s.size();) {
    int len;
    const char32_t cp = decode_utf8(s, i, &len);
    if (is_space(cp) || is_punctuation(cp)) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
      if (!is_space(cp)) words.emplace_back(s, i, len);
    } else if (cp != 0 && !(cp < 0x20)) {  // control characters are dropped
      cur.append(s, i, len);
    }
    i += len;
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

void WordPiece::word_pieces(const std::string& word, std::vector<int64_t>& out) const {
  // Character boundaries (byte offsets) of the word.
  std::vector<size_t> cut;
  for (size_t i = 0; i < word.size();) {
    int len;
    decode_utf8(word, i, &len);
    cut.push_back(i);
    i += len;
  }
  cut.push_back(word.size());
  const size_t nchar = cut.size() - 1;
  if (static_cast<int64_t>(nchar) > opt_.max_chars_per_word) {
    out.push_back(unk_id_);
    return;
  }
  const size_t mark = out.size();
  size_t start = 0;
  std::string piece;
  while (start < nchar) {
    int64_t found = -1;
    size_t end = nchar;
    for (; end > start; --end) {  // longest match first
      piece.assign(start > 0 ? opt_.prefix : "");
      piece.append(word, cut[start], cut[end] - cut[start]);
      auto it = ids_.find(piece);
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // the whole word is unknown
      out.resize(mark);
      out.push_back(unk_id_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

std::vector<int64_t> WordPiece::encode(std::string_view text) const {
  std::vector<int64_t> out;
  for (const auto& w : pre_tokenize(text)) word_pieces(w, out);
  return out;
}

std::vector<std::string> WordPiece::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (int64_t id : encode(text)) out.push_back(vocab_[id]);
  return out;
}

std::string WordPiece::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    KUN_CHECK(id >= 0 && id < vocab_size(), IndexError, "WordPiece::decode: id ", id, " out of range [0, ",
              vocab_size(), ")");
    const std::string& t = vocab_[id];
    if (!opt_.prefix.empty() && t.rfind(opt_.prefix, 0) == 0 && !out.empty()) {
      out += t.substr(opt_.prefix.size());
    } else {
      if (!out.empty()) out += ' ';
      out += t;
    }
  }
  return out;
}

int64_t WordPiece::token_to_id(const std::string& t) const {
  auto it = ids_.find(t);
  return it == ids_.end() ? -1 : it->second;
}

WordPiece WordPiece::train_from_counts(const std::vector<std::pair<std::string, int64_t>>& word_counts,
                                       const WordPieceTrainOptions& topt, WordPieceOptions opt) {
  std::vector<std::string> vocab = topt.special_tokens;
  if (std::find(vocab.begin(), vocab.end(), opt.unk_token) == vocab.end()) vocab.push_back(opt.unk_token);
  std::unordered_map<std::string, int32_t> id;
  for (size_t i = 0; i < vocab.size(); ++i) id.emplace(vocab[i], static_cast<int32_t>(i));
  auto intern = [&](const std::string& s) {
    auto [it, fresh] = id.emplace(s, static_cast<int32_t>(vocab.size()));
    if (fresh) vocab.push_back(s);
    return it->second;
  };
  // Words split into characters; later characters carry the prefix.
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  for (const auto& [w, c] : word_counts) {
    if (c < topt.min_frequency || w.empty()) continue;
    std::vector<int32_t> syms;
    for (size_t i = 0; i < w.size();) {
      int len;
      decode_utf8(w, i, &len);
      syms.push_back(intern((i > 0 ? opt.prefix : "") + w.substr(i, len)));
      i += len;
    }
    words.push_back(std::move(syms));
    counts.push_back(c);
  }
  auto key = [](int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); };
  while (static_cast<int64_t>(vocab.size()) < topt.vocab_size) {
    std::unordered_map<uint64_t, int64_t> pair_count;
    std::unordered_map<int32_t, int64_t> sym_count;
    for (size_t i = 0; i < words.size(); ++i) {
      const auto& w = words[i];
      for (size_t k = 0; k < w.size(); ++k) {
        sym_count[w[k]] += counts[i];
        if (k + 1 < w.size()) pair_count[key(w[k], w[k + 1])] += counts[i];
      }
    }
    if (pair_count.empty()) break;
    uint64_t best = 0;
    double best_score = -1;
    int64_t best_count = 0;
    for (auto& [k, c] : pair_count) {
      const double score =
          static_cast<double>(c) / (static_cast<double>(sym_count[static_cast<int32_t>(k >> 32)]) *
                                    static_cast<double>(sym_count[static_cast<int32_t>(k & 0xffffffffu)]));
      if (score > best_score || (score == best_score && (c > best_count || (c == best_count && k < best))))
        best = k, best_score = score, best_count = c;
    }
    const auto a = static_cast<int32_t>(best >> 32), b = static_cast<int32_t>(best & 0xffffffffu);
    std::string merged = vocab[a] + vocab[b].substr(vocab[b].rfind(opt.prefix, 0) == 0 ? opt.prefix.size() : 0);
    const int32_t m = intern(merged);
    for (auto& w : words) {
      size_t o = 0;
      for (size_t k = 0; k < w.size();) {
        if (k + 1 < w.size() && w[k] == a && w[k + 1] == b) {
          w[o++] = m;
          k += 2;
        } else {
          w[o++] = w[k++];
        }
      }
      w.resize(o);
    }
  }
  return WordPiece(std::move(vocab), std::move(opt));
}

WordPiece WordPiece::train(const std::vector<std::string>& texts, const WordPieceTrainOptions& topt,
                           WordPieceOptions opt) {
  WordPiece pre({opt.unk_token}, opt);  // only for its pre-tokenizer
  std::map<std::string, int64_t> counts;
  for (const auto& t : texts)
    for (auto& w : pre.pre_tokenize(t)) ++counts[w];
  std::vector<std::pair<std::string, int64_t>> wc(counts.begin(), counts.end());
  return train_from_counts(wc, topt, std::move(opt));
}

void WordPiece::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    KUN_CHECK(f.good(), IOError, "WordPiece::save: cannot open ", tmp, " for writing");
    for (auto& t : vocab_) f << t << '\n';
    KUN_CHECK(f.good(), IOError, "WordPiece::save: write to ", tmp, " failed");
  }
  KUN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, IOError, "WordPiece::save: rename to ", path, " failed");
}

WordPiece WordPiece::load(const std::string& path, WordPieceOptions opt) {
  std::ifstream f(path, std::ios::binary);
  KUN_CHECK(f.good(), IOError, "WordPiece::load: cannot open ", path);
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(line);
  }
  return WordPiece(std::move(vocab), std::move(opt));
}

}  // namespace kun::text
