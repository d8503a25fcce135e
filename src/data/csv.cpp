#include "kun/data/csv.h"

#include <charconv>
#include <cmath>
#include <string_view>

#include "data/io_util.h"

namespace kun::data {

namespace {

constexpr const char* kOp = "read_csv";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits one line into fields. Quotes ("a,b" and "" for a quote inside) are honoured; the
// unquoted text is trimmed. Returns false on an unterminated quote.
bool split_line(std::string_view line, char delim, std::vector<std::string>& fields) {
  fields.clear();
  std::string cur;
  bool in_quotes = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"' && trim(cur).empty()) {
      in_quotes = was_quoted = true;
      cur.clear();
    } else if (c == delim) {
      fields.push_back(was_quoted ? cur : std::string(trim(cur)));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  fields.push_back(was_quoted ? cur : std::string(trim(cur)));
  return !in_quotes;
}

bool is_missing(std::string_view s) { return s.empty() || s == "NA" || s == "N/A" || s == "?"; }

// Parses a float64; false when the text is not entirely a number.
bool parse_number(std::string_view s, double& v) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

CsvTable read_csv(const std::string& path, const CsvOptions& opts) {
  KUN_CHECK(opts.label_dtype == DType::i64 || opts.label_dtype == DType::f32, TypeError, kOp, ": ", path,
            ": label_dtype must be int64 (classes) or float32 (targets), got ", opts.label_dtype);
  KUN_CHECK(opts.label_column.empty() || opts.header, ValueError, kOp, ": ", path, ": label_column '",
            opts.label_column, "' names a column but header is false; use label_index");
  std::vector<char> buf = detail::read_file_or_throw(path, kOp);
  std::string_view text(buf.data(), buf.size());

  CsvTable table;
  std::vector<std::string> fields, names;
  std::vector<float> xs;
  std::vector<double> ys;
  int64_t ncols = -1, label_col = -1, line_no = 0, rows = 0;

  auto setup_columns = [&](int64_t n) {
    ncols = n;
    if (!opts.label_column.empty()) {
      for (int64_t c = 0; c < n; ++c)
        if (names[c] == opts.label_column) label_col = c;
      if (label_col < 0) {
        std::string all;
        for (auto& s : names) all += (all.empty() ? "'" : ", '") + s + "'";
        KUN_CHECK(false, ValueError, kOp, ": ", path, ":1: no column named '", opts.label_column,
                  "'; the header has ", all);
      }
    } else if (opts.label_index) {
      int64_t li = *opts.label_index < 0 ? *opts.label_index + n : *opts.label_index;
      KUN_CHECK(li >= 0 && li < n, IndexError, kOp, ": ", path, ": label_index ", *opts.label_index,
                " out of range for ", n, " columns");
      label_col = li;
    }
    for (int64_t c = 0; c < n; ++c) {
      if (c == label_col) {
        table.label_name = c < static_cast<int64_t>(names.size()) ? names[c] : "c" + std::to_string(c);
        continue;
      }
      table.feature_names.push_back(c < static_cast<int64_t>(names.size()) ? names[c] : "c" + std::to_string(c));
    }
  };
  auto column_name = [&](int64_t c) {
    return c < static_cast<int64_t>(names.size()) ? " (column '" + names[c] + "')" : std::string();
  };

  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (trim(line).empty()) continue;  // blank lines (e.g. the last one) carry no data
    KUN_CHECK(split_line(line, opts.delimiter, fields), IOError, kOp, ": ", path, ":", line_no,
              ": unterminated quoted field");
    const int64_t nf = static_cast<int64_t>(fields.size());
    if (ncols < 0) {
      if (opts.header) {
        names = fields;
        setup_columns(nf);
        continue;
      }
      setup_columns(nf);
    }
    KUN_CHECK(nf == ncols, IOError, kOp, ": ", path, ":", line_no, ": expected ", ncols, " fields (delimiter '",
              opts.delimiter, "'), got ", nf);
    for (int64_t c = 0; c < nf; ++c) {
      const std::string& s = fields[c];
      double v;
      if (is_missing(s)) {
        KUN_CHECK(opts.fill_missing.has_value() && c != label_col, ValueError, kOp, ": ", path, ":", line_no, ":",
                  c + 1, column_name(c), ": missing value",
                  c == label_col ? " in the label column" : "; set fill_missing to replace missing values");
        v = *opts.fill_missing;
      } else {
        KUN_CHECK(parse_number(s, v), ValueError, kOp, ": ", path, ":", line_no, ":", c + 1, column_name(c),
                  ": expected a number, got '", s, "'");
        KUN_CHECK(std::isfinite(v) || (opts.allow_nonfinite && c != label_col), ValueError, kOp, ": ", path, ":",
                  line_no, ":", c + 1, column_name(c), ": expected a finite number, got '", s, "'",
                  c == label_col ? "" : "; set allow_nonfinite to accept NaN/inf");
      }
      if (c == label_col) {
        if (opts.label_dtype == DType::i64) {
          KUN_CHECK(v == std::floor(v) && std::fabs(v) < 9e15, ValueError, kOp, ": ", path, ":", line_no, ":", c + 1,
                    column_name(c), ": expected an integer class label, got '", s, "'");
          KUN_CHECK(opts.num_classes <= 0 || (v >= 0 && v < static_cast<double>(opts.num_classes)), ValueError, kOp,
                    ": ", path, ":", line_no, ":", c + 1, column_name(c), ": label ", s, " out of range [0, ",
                    opts.num_classes, ")");
        }
        ys.push_back(v);
      } else {
        xs.push_back(static_cast<float>(v));
      }
    }
    ++rows;
  }
  KUN_CHECK(rows > 0, IOError, kOp, ": ", path, ": no data rows", opts.header ? " after the header" : "");
  const int64_t nfeat = ncols - (label_col >= 0 ? 1 : 0);
  table.x = from_vector(xs, Shape{rows, nfeat});
  if (label_col >= 0) {
    if (opts.label_dtype == DType::i64) {
      std::vector<int64_t> yi(ys.begin(), ys.end());
      table.y = from_vector(yi, Shape{rows});
    } else {
      std::vector<float> yf(ys.begin(), ys.end());
      table.y = from_vector(yf, Shape{rows});
    }
  }
  return table;
}

}  // namespace kun::data
