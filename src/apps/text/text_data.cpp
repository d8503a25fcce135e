#include "kun/apps/text/text_data.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kun/apps/text/unicode.h"
#include "kun/core/error.h"

namespace kun::text {

namespace fs = std::filesystem;

namespace {

// gzread handles both gzip and plain files transparently.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {
    KUN_CHECK(f_ != nullptr, IOError, "tar: cannot open ", path);
    gzbuffer(f_, 1 << 18);
  }
  ~GzReader() { gzclose(f_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  // Reads exactly n bytes; false at a clean end of file before any byte; throws when truncated.
  bool read(char* dst, size_t n, const std::string& path) {
    size_t got = 0;
    while (got < n) {
      const int r = gzread(f_, dst + got, static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30)));
      if (r < 0) {
        int err;
        const char* msg = gzerror(f_, &err);
        KUN_CHECK(false, IOError, "tar: corrupt compressed data in ", path, ": ", msg);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    if (got == 0) return false;
    KUN_CHECK(got == n, IOError, "tar: ", path, " is truncated");
    return true;
  }

 private:
  gzFile f_;
};

uint64_t parse_octal(const char* p, size_t n, const char* what, const std::string& path) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\0')) ++i;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  KUN_CHECK(i == n || p[i] == ' ' || p[i] == '\0', IOError, "tar: bad ", what, " field in ", path, " (not a tar archive, or corrupt)");
  return v;
}

std::string field(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

}  // namespace

void for_each_tar_entry(const std::string& path,
                        const std::function<void(const std::string& name, std::string& content)>& fn) {
  GzReader in(path);
  char h[512];
  std::string long_name, content;
  while (in.read(h, 512, path)) {
    if (std::all_of(h, h + 512, [](char c) { return c == 0; })) break;  // end-of-archive block
    // Header checksum: sum of bytes with the checksum field taken as spaces.
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    KUN_CHECK(parse_octal(h + 148, 8, "checksum", path) == sum, IOError, "tar: header checksum mismatch in ", path,
              " (not a tar archive, or corrupt)");
    const uint64_t size = parse_octal(h + 124, 12, "size", path);
    KUN_CHECK(size < (uint64_t(1) << 36), IOError, "tar: entry too large in ", path);
    const char type = h[156];
    content.resize(size);
    if (size > 0) KUN_CHECK(in.read(content.data(), size, path), IOError, "tar: ", path, " is truncated");
    const size_t pad = (512 - size % 512) % 512;
    if (pad) {
      char skip[512];
      KUN_CHECK(in.read(skip, pad, path), IOError, "tar: ", path, " is truncated");
    }
    if (type == 'L') {  // GNU long name for the next entry
      long_name = field(content.data(), content.size());
      continue;
    }
    std::string name;
    if (!long_name.empty()) {
      name = std::move(long_name);
      long_name.clear();
    } else {
      name = field(h, 100);
      if (std::memcmp(h + 257, "ustar", 5) == 0) {
        const std::string prefix = field(h + 345, 155);
        if (!prefix.empty()) name = prefix + "/" + name;
      }
    }
    if (type == '0' || type == '\0') fn(name, content);
  }
}

namespace {

void add_imdb_file(ImdbData& d, const std::string& name, std::string& content) {
  // aclImdb/<split>/<pos|neg>/<id>_<rating>.txt
  const size_t a = name.find("aclImdb/");
  if (a == std::string::npos || name.size() < 4 || name.compare(name.size() - 4, 4, ".txt") != 0) return;
  std::string rest = name.substr(a + 8);
  TextDataset* ds = nullptr;
  if (rest.rfind("train/", 0) == 0) ds = &d.train;
  else if (rest.rfind("test/", 0) == 0) ds = &d.test;
  if (!ds) return;
  rest = rest.substr(rest.find('/') + 1);
  int64_t label;
  if (rest.rfind("pos/", 0) == 0) label = 1;
  else if (rest.rfind("neg/", 0) == 0) label = 0;
  else return;
  if (rest.find('/', 4) != std::string::npos) return;
  ds->texts.push_back(sanitize_utf8(content));
  ds->labels.push_back(label);
}

}  // namespace

ImdbData load_imdb(const std::string& path_in) {
  std::string path = path_in;
  if (path.empty()) {
    const char* env = std::getenv("KUN_IMDB");
    path = env && *env ? env : "../shared/data/imdb";
  }
  ImdbData d;
  d.train.label_names = d.test.label_names = {"neg", "pos"};
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "aclImdb_labeled.tar.gz")) {
      path = (fs::path(path) / "aclImdb_labeled.tar.gz").string();
    } else {
      const fs::path root = fs::exists(fs::path(path) / "aclImdb") ? fs::path(path) : fs::path(path).parent_path();
      KUN_CHECK(fs::exists(root / "aclImdb" / "train"), IOError, "load_imdb: ", path,
                " holds neither aclImdb_labeled.tar.gz nor aclImdb/train (set KUN_IMDB)");
      for (const char* split : {"train", "test"})
        for (const char* cls : {"neg", "pos"}) {
          std::vector<fs::path> files;
          for (auto& e : fs::directory_iterator(root / "aclImdb" / split / cls))
            if (e.path().extension() == ".txt") files.push_back(e.path());
          std::sort(files.begin(), files.end());
          for (auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            std::stringstream ss;
            ss << in.rdbuf();
            std::string s = ss.str();
            add_imdb_file(d, "aclImdb/" + std::string(split) + "/" + cls + "/" + f.filename().string(), s);
          }
        }
      return d;
    }
  }
  KUN_CHECK(fs::exists(path, ec), IOError, "load_imdb: ", path, " not found (set KUN_IMDB to the folder with ",
            "aclImdb_labeled.tar.gz)");
  for_each_tar_entry(path, [&](const std::string& name, std::string& content) { add_imdb_file(d, name, content); });
  KUN_CHECK(d.train.size() > 0 && d.test.size() > 0, IOError, "load_imdb: ", path,
            " has no aclImdb/{train,test}/{pos,neg}/*.txt files");
  return d;
}

namespace {

// RFC 4180 CSV (sep ',') or plain TSV (sep '\t', no quoting) into rows of fields.
std::vector<std::vector<std::string>> parse_delimited(const std::string& s, char sep, bool quoting) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string f;
  bool in_quotes = false, any = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          f.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        f.push_back(c);
      }
      continue;
    }
    if (quoting && c == '"' && f.empty()) {
      in_quotes = any = true;
    } else if (c == sep) {
      row.push_back(std::move(f));
      f.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      if (any || !f.empty()) {
        row.push_back(std::move(f));
        rows.push_back(std::move(row));
      }
      row.clear();
      f.clear();
      any = false;
    } else {
      f.push_back(c);
      any = true;
    }
  }
  KUN_CHECK(!in_quotes, ValueError, "read_text_file: unterminated quoted field at end of file");
  if (any || !f.empty()) {
    row.push_back(std::move(f));
    rows.push_back(std::move(row));
  }
  return rows;
}

void assign_labels(TextDataset& d, const std::vector<std::string>& raw) {
  std::set<std::string> names(raw.begin(), raw.end());
  std::vector<std::string> sorted(names.begin(), names.end());
  const bool numeric = std::all_of(sorted.begin(), sorted.end(), [](const std::string& s) {
    if (s.empty()) return false;
    char* end;
    std::strtoll(s.c_str(), &end, 10);
    return *end == '\0';
  });
  if (numeric)
    std::sort(sorted.begin(), sorted.end(),
              [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  std::map<std::string, int64_t> id;
  for (size_t i = 0; i < sorted.size(); ++i) id[sorted[i]] = static_cast<int64_t>(i);
  d.label_names = sorted;
  for (auto& r : raw) d.labels.push_back(id[r]);
}

}  // namespace

TextDataset read_text_file(const std::string& path, const TextFileOptions& opt) {
  std::ifstream in(path, std::ios::binary);
  KUN_CHECK(in.good(), IOError, "read_text_file: cannot open ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  std::string format = opt.format;
  if (format == "auto") {
    const std::string ext = fs::path(path).extension().string();
    format = ext == ".tsv" ? "tsv" : (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") ? "jsonl" : "csv";
  }
  TextDataset d;
  std::vector<std::string> raw_labels;
  if (format == "jsonl") {
    std::istringstream lines(data);
    std::string line;
    int64_t lineno = 0;
    while (std::getline(lines, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(sanitize_utf8(line));
      } catch (const nlohmann::json::exception& e) {
        KUN_CHECK(false, ValueError, "read_text_file: ", path, ":", lineno, ": not valid JSON: ", e.what());
      }
      KUN_CHECK(j.is_object() && j.contains(opt.text_column) && j[opt.text_column].is_string() &&
                    j.contains(opt.label_column),
                ValueError, "read_text_file: ", path, ":", lineno, ": expected an object with string \"",
                opt.text_column, "\" and \"", opt.label_column, "\"");
      d.texts.push_back(j[opt.text_column].get<std::string>());
      const auto& l = j[opt.label_column];
      raw_labels.push_back(l.is_string() ? l.get<std::string>() : l.dump());
    }
  } else {
    KUN_CHECK(format == "csv" || format == "tsv", ValueError, "read_text_file: format must be csv, tsv or jsonl, got ",
              format);
    auto rows = parse_delimited(sanitize_utf8(data), format == "csv" ? ',' : '\t', format == "csv");
    size_t ti = 0, li = 1, first = 0;
    if (opt.header) {
      KUN_CHECK(!rows.empty(), ValueError, "read_text_file: ", path, " is empty (expected a header row)");
      auto& h = rows[0];
      auto find = [&](const std::string& name) {
        auto it = std::find(h.begin(), h.end(), name);
        KUN_CHECK(it != h.end(), ValueError, "read_text_file: ", path, ": no column \"", name, "\" in the header");
        return static_cast<size_t>(it - h.begin());
      };
      ti = find(opt.text_column);
      li = find(opt.label_column);
      first = 1;
    }
    for (size_t r = first; r < rows.size(); ++r) {
      KUN_CHECK(rows[r].size() > std::max(ti, li), ValueError, "read_text_file: ", path, ": row ", r + 1, " has ",
                rows[r].size(), " fields, expected at least ", std::max(ti, li) + 1);
      d.texts.push_back(rows[r][ti]);
      raw_labels.push_back(rows[r][li]);
    }
  }
  for (auto& t : d.texts) t = sanitize_utf8(t);
  assign_labels(d, raw_labels);
  return d;
}

}  // namespace kun::text
