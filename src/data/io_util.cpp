#include "data/io_util.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "kun/core/error.h"

namespace kun::data::detail {

namespace fs = std::filesystem;

uint64_t file_size_or_throw(const std::string& path, const char* op) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  KUN_CHECK(!ec && fs::exists(st), IOError, op, ": ", path, ": no such file");
  KUN_CHECK(!fs::is_directory(st), IOError, op, ": ", path, ": expected a file, got a directory");
  uint64_t n = fs::file_size(path, ec);
  KUN_CHECK(!ec, IOError, op, ": ", path, ": cannot read the file size (", ec.message(), ")");
  return n;
}

std::vector<char> read_file_or_throw(const std::string& path, const char* op) {
  uint64_t n = file_size_or_throw(path, op);
  FILE* f = std::fopen(path.c_str(), "rb");
  KUN_CHECK(f != nullptr, IOError, op, ": ", path, ": cannot open (", std::strerror(errno), ")");
  std::vector<char> buf(n);
  size_t got = n ? std::fread(buf.data(), 1, n, f) : 0;
  std::fclose(f);
  KUN_CHECK(got == n, IOError, op, ": ", path, ": read ", got, " of ", n, " bytes");
  return buf;
}

void check_finite(const Tensor& t, const std::string& path, const char* op, uint64_t data_offset,
                  uint64_t file_elem_size) {
  if (!is_floating(t.dtype())) return;
  const int64_t n = t.numel();
  int64_t bad = -1;
  double value = 0;
  KUN_DISPATCH_FLOAT(t.dtype(), op, [&] {
    const scalar_t* p = static_cast<const scalar_t*>(t.raw_data());
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) {
        bad = i;
        value = static_cast<double>(p[i]);
        return;
      }
  });
  if (bad < 0) return;
  // Row-major multi-index of the element, e.g. (1, 2).
  std::string where = "(";
  int64_t rem = bad;
  std::vector<int64_t> idx(t.dim());
  for (int d = t.dim() - 1; d >= 0; --d) {
    idx[d] = t.size(d) ? rem % t.size(d) : 0;
    rem = t.size(d) ? rem / t.size(d) : 0;
  }
  for (int d = 0; d < t.dim(); ++d) where += (d ? ", " : "") + std::to_string(idx[d]);
  where += ")";
  KUN_CHECK(false, ValueError, op, ": ", path, ": non-finite value ", value, " at element ", bad, " (index ", where,
            ", byte offset ", data_offset + static_cast<uint64_t>(bad) * file_elem_size,
            "); expected finite data, or pass {.allow_nonfinite = true}");
}

void write_file_atomic(const std::string& path, const void* bytes, size_t n, const char* op) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  KUN_CHECK(f != nullptr, IOError, op, ": cannot create ", tmp, " (", std::strerror(errno), ")");
  size_t put = n ? std::fwrite(bytes, 1, n, f) : 0;
  bool ok = put == n && std::fflush(f) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    KUN_CHECK(false, IOError, op, ": writing ", path, " failed after ", put, " of ", n, " bytes");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    KUN_CHECK(false, IOError, op, ": cannot rename ", tmp, " to ", path, " (", ec.message(), ")");
  }
}

}  // namespace kun::data::detail
