#include "kun/apps/text/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kun/apps/text/unicode.h"
#include "kun/core/error.h"

namespace kun::text {

std::string strip_html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<' && i + 1 < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i + 1]);
      if (c == '/' || c == '!' || std::isalpha(c)) {
        const size_t close = s.find('>', i + 1);
        if (close != std::string_view::npos) {
          out.push_back(' ');
          i = close;
          continue;
        }
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string normalize(std::string_view text, const NormalizeOptions& opt) {
  std::string s = sanitize_utf8(text);
  if (opt.strip_html) s = strip_html(s);
  if (opt.lower) s = to_lower(s);
  if (opt.punctuation == Punctuation::keep) return s;
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (size_t i = 0; i < s.size();) {
    int len;
    const char32_t cp = decode_utf8(s, i, &len);
    bool inner_apostrophe = false;
    if (opt.keep_apostrophes && (cp == U'\'' || cp == U'\u2019') && i > 0 && i + len < s.size()) {
      size_t b = i - 1;  // start of the previous code point
      while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
      int l1, l2;
      inner_apostrophe = is_letter(decode_utf8(s, b, &l1)) && is_letter(decode_utf8(s, i + len, &l2));
    }
    if (is_punctuation(cp) && !inner_apostrophe) {
      if (opt.punctuation == Punctuation::split) {
        out.push_back(' ');
        out.append(s, i, len);
      }
      out.push_back(' ');
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out;
}

Tokenizer::Tokenizer(TokenizerOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.num_words >= 0, ValueError, "Tokenizer: num_words must be >= 0, got ", opt_.num_words);
  KUN_CHECK(!opt_.split.empty(), ValueError, "Tokenizer: split must not be empty");
  filters_ = utf8_to_u32(opt_.filters);
  index_word_ = {""};
}

std::vector<std::string> Tokenizer::text_to_words(std::string_view text) const {
  std::string s = sanitize_utf8(text);
  if (opt_.strip_html) s = strip_html(s);
  if (opt_.lower) s = to_lower(s);
  // Filters -> split string.
  std::string t;
  t.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    int len;
    const char32_t cp = decode_utf8(s, i, &len);
    if (std::find(filters_.begin(), filters_.end(), cp) != filters_.end())
      t += opt_.split;
    else
      t.append(s, i, len);
    i += len;
  }
  std::vector<std::string> words;
  size_t start = 0;
  while (start <= t.size()) {
    size_t end = t.find(opt_.split, start);
    if (end == std::string::npos) end = t.size();
    if (end > start) words.emplace_back(t, start, end - start);
    start = end + opt_.split.size();
  }
  return words;
}

void Tokenizer::fit_on_texts(const std::vector<std::string>& texts) {
  for (const auto& text : texts) {
    ++document_count_;
    for (auto& w : text_to_words(text)) {
      auto [it, inserted] = counts_.try_emplace(w, 0);
      if (inserted) first_seen_.push_back(w);
      ++it->second;
    }
  }
  rebuild_index();
}

void Tokenizer::rebuild_index() {
  std::vector<std::string> order = first_seen_;
  std::stable_sort(order.begin(), order.end(),
                   [&](const std::string& a, const std::string& b) { return counts_.at(a) > counts_.at(b); });
  word_index_.clear();
  index_word_ = {""};
  if (!opt_.oov_token.empty()) {
    word_index_[opt_.oov_token] = 1;
    index_word_.push_back(opt_.oov_token);
  }
  for (auto& w : order) {
    if (word_index_.count(w)) continue;  // the oov token itself appeared in the text
    word_index_[w] = static_cast<int64_t>(index_word_.size());
    index_word_.push_back(w);
  }
}

int64_t Tokenizer::word_count(const std::string& w) const {
  auto it = counts_.find(w);
  return it == counts_.end() ? 0 : it->second;
}

int64_t Tokenizer::vocab_size() const {
  const auto n = static_cast<int64_t>(index_word_.size());
  return opt_.num_words > 0 ? std::min(opt_.num_words, n) : n;
}

std::vector<int64_t> Tokenizer::text_to_sequence(std::string_view text) const {
  std::vector<int64_t> seq;
  const int64_t oov = oov_index();
  for (auto& w : text_to_words(text)) {
    auto it = word_index_.find(w);
    if (it != word_index_.end() && (opt_.num_words == 0 || it->second < opt_.num_words))
      seq.push_back(it->second);
    else if (oov)
      seq.push_back(oov);
  }
  return seq;
}

std::vector<std::vector<int64_t>> Tokenizer::texts_to_sequences(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int64_t>> out(texts.size());
  // Independent per text; the index is read-only here.
#pragma omp parallel for schedule(dynamic, 64) if (texts.size() > 256)
  for (size_t i = 0; i < texts.size(); ++i) out[i] = text_to_sequence(texts[i]);
  return out;
}

std::vector<std::string> Tokenizer::sequences_to_texts(const std::vector<std::vector<int64_t>>& seqs) const {
  std::vector<std::string> out;
  out.reserve(seqs.size());
  const int64_t oov = oov_index();
  const auto n = static_cast<int64_t>(index_word_.size());
  for (const auto& seq : seqs) {
    std::string text;
    for (int64_t id : seq) {
      int64_t use = id;
      if (id <= 0 || id >= n || (opt_.num_words > 0 && id >= opt_.num_words)) use = oov;
      if (use == 0) continue;
      if (!text.empty()) text += ' ';
      text += index_word_[use];
    }
    out.push_back(std::move(text));
  }
  return out;
}

std::string Tokenizer::to_json() const {
  nlohmann::json j;
  j["format"] = "kun.text.Tokenizer";
  j["version"] = 1;
  j["options"] = {{"num_words", opt_.num_words}, {"oov_token", opt_.oov_token}, {"filters", opt_.filters},
                  {"lower", opt_.lower},         {"split", opt_.split},         {"strip_html", opt_.strip_html}};
  j["document_count"] = document_count_;
  // Words with counts in first-seen order: enough to rebuild the exact index.
  nlohmann::json words = nlohmann::json::array();
  for (auto& w : first_seen_) words.push_back({w, counts_.at(w)});
  j["word_counts"] = std::move(words);
  return j.dump();
}

Tokenizer Tokenizer::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    KUN_CHECK(false, ValueError, "Tokenizer::from_json: not valid JSON: ", e.what());
  }
  KUN_CHECK(j.is_object() && j.value("format", "") == "kun.text.Tokenizer", ValueError,
            "Tokenizer::from_json: expected format \"kun.text.Tokenizer\"");
  KUN_CHECK(j.value("version", 0) == 1, ValueError, "Tokenizer::from_json: unsupported version ",
            j.value("version", 0), " (expected 1)");
  try {
    const auto& o = j.at("options");
    TokenizerOptions opt;
    opt.num_words = o.at("num_words").get<int64_t>();
    opt.oov_token = o.at("oov_token").get<std::string>();
    opt.filters = o.at("filters").get<std::string>();
    opt.lower = o.at("lower").get<bool>();
    opt.split = o.at("split").get<std::string>();
    opt.strip_html = o.value("strip_html", false);
    Tokenizer t(opt);
    t.document_count_ = j.at("document_count").get<int64_t>();
    for (const auto& wc : j.at("word_counts")) {
      auto w = wc.at(0).get<std::string>();
      if (t.counts_.emplace(w, wc.at(1).get<int64_t>()).second) t.first_seen_.push_back(std::move(w));
    }
    t.rebuild_index();
    return t;
  } catch (const nlohmann::json::exception& e) {
    KUN_CHECK(false, ValueError, "Tokenizer::from_json: malformed tokenizer JSON: ", e.what());
  }
  return Tokenizer();  // unreachable
}

void Tokenizer::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    KUN_CHECK(f.good(), IOError, "Tokenizer::save: cannot open ", tmp, " for writing");
    f << to_json();
    KUN_CHECK(f.good(), IOError, "Tokenizer::save: write to ", tmp, " failed");
  }
  KUN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, IOError, "Tokenizer::save: rename to ", path, " failed");
}

Tokenizer Tokenizer::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KUN_CHECK(f.good(), IOError, "Tokenizer::load: cannot open ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return from_json(ss.str());
}

Tensor pad_sequences(const std::vector<std::vector<int64_t>>& seqs, const PadOptions& opt) {
  KUN_CHECK(opt.maxlen >= -1, ValueError, "pad_sequences: maxlen must be >= 0 or -1, got ", opt.maxlen);
  int64_t maxlen = opt.maxlen;
  if (maxlen < 0) {
    maxlen = 0;
    for (auto& s : seqs) maxlen = std::max<int64_t>(maxlen, static_cast<int64_t>(s.size()));
  }
  const auto n = static_cast<int64_t>(seqs.size());
  Tensor out = full({n, maxlen}, static_cast<double>(opt.value), DType::i64);
  int64_t* o = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& s = seqs[i];
    const auto len = static_cast<int64_t>(s.size());
    const int64_t keep = std::min(len, maxlen);
    const int64_t src = opt.truncating == PadSide::pre ? len - keep : 0;        // first kept id
    const int64_t dst = opt.padding == PadSide::pre ? maxlen - keep : 0;        // where it goes
    std::copy(s.begin() + src, s.begin() + src + keep, o + i * maxlen + dst);
  }
  return out;
}

}  // namespace kun::text
