#include "kun/data/npy.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "data/io_util.h"

namespace kun::data {

namespace {

constexpr const char* kOp = "read_npy";
constexpr char kMagic[] = "\x93NUMPY";

struct NpyType {
  const char* descr;
  DType dtype;
};
// Little-endian ('<') or byte-order-free ('|') spellings we accept.
constexpr NpyType kTypes[] = {{"<f4", DType::f32}, {"<f8", DType::f64}, {"<i8", DType::i64}, {"<i4", DType::i32},
                              {"|u1", DType::u8},  {"<u1", DType::u8},  {"|b1", DType::bool_}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The text after 'key': in the header dict, up to the end of its value; npos-safe.
std::string_view dict_value(std::string_view dict, std::string_view key, const std::string& path) {
  std::string quoted = "'" + std::string(key) + "'";
  size_t k = dict.find(quoted);
  KUN_CHECK(k != std::string_view::npos, IOError, kOp, ": ", path, ": header dict lacks the key ", quoted, ": ",
            dict);
  size_t colon = dict.find(':', k + quoted.size());
  KUN_CHECK(colon != std::string_view::npos, IOError, kOp, ": ", path, ": header dict has no ':' after ", quoted);
  std::string_view rest = trim(dict.substr(colon + 1));
  size_t end;
  if (!rest.empty() && rest[0] == '(') {
    end = rest.find(')');
    KUN_CHECK(end != std::string_view::npos, IOError, kOp, ": ", path, ": unterminated shape tuple in header: ", dict);
    return rest.substr(0, end + 1);
  }
  if (!rest.empty() && (rest[0] == '\'' || rest[0] == '"')) {
    end = rest.find(rest[0], 1);
    KUN_CHECK(end != std::string_view::npos, IOError, kOp, ": ", path, ": unterminated string in header: ", dict);
    return rest.substr(1, end - 1);
  }
  end = rest.find_first_of(",}");
  return trim(rest.substr(0, end));
}

}  // namespace

Tensor read_npy(const std::string& path, const NpyOptions& opts) {
  std::vector<char> buf = detail::read_file_or_throw(path, kOp);
  const uint64_t size = buf.size();
  KUN_CHECK(size >= 10, IOError, kOp, ": ", path, ": truncated at byte offset ", size,
            ": expected at least a 10-byte NPY preamble");
  KUN_CHECK(std::memcmp(buf.data(), kMagic, 6) == 0, IOError, kOp, ": ", path,
            ": bad magic at byte offset 0: expected \\x93NUMPY (a .npy file)");
  const int major = static_cast<unsigned char>(buf[6]);
  KUN_CHECK(major >= 1 && major <= 3, IOError, kOp, ": ", path, ": unsupported NPY format version ", major, ".",
            static_cast<int>(static_cast<unsigned char>(buf[7])), " at byte offset 6: expected 1.0, 2.0 or 3.0");
  auto u8 = [&](size_t i) { return uint64_t{static_cast<unsigned char>(buf[i])}; };
  uint64_t header_len, header_start;
  if (major == 1) {
    header_len = u8(8) | u8(9) << 8;
    header_start = 10;
  } else {
    KUN_CHECK(size >= 12, IOError, kOp, ": ", path, ": truncated at byte offset ", size,
              ": expected a 12-byte NPY preamble");
    header_len = u8(8) | u8(9) << 8 | u8(10) << 16 | u8(11) << 24;
    header_start = 12;
  }
  KUN_CHECK(header_start + header_len <= size, IOError, kOp, ": ", path, ": truncated at byte offset ", size,
            ": the preamble declares a ", header_len, "-byte header ending at byte offset ", header_start + header_len);
  std::string_view dict(buf.data() + header_start, header_len);
  dict = trim(dict);
  KUN_CHECK(!dict.empty() && dict.front() == '{' && dict.back() == '}', IOError, kOp, ": ", path,
            ": corrupt header at byte offset ", header_start, ": expected a {...} dict, got ", dict);

  std::string_view descr = dict_value(dict, "descr", path);
  const NpyType* type = nullptr;
  for (const auto& t : kTypes)
    if (descr == t.descr) type = &t;
  if (!type) {
    KUN_CHECK(descr.empty() || descr[0] != '>', TypeError, kOp, ": ", path, ": big-endian dtype '", descr,
              "' is not supported; save little-endian data (e.g. arr.astype('<f4'))");
    KUN_CHECK(false, TypeError, kOp, ": ", path, ": unsupported dtype '", descr,
              "': expected one of <f4 (float32), <f8 (float64), <i8 (int64), <i4 (int32), |u1 (uint8), |b1 (bool)");
  }
  std::string_view fortran = dict_value(dict, "fortran_order", path);
  KUN_CHECK(fortran == "False" || fortran == "True", IOError, kOp, ": ", path,
            ": corrupt header: fortran_order must be True or False, got ", fortran);
  KUN_CHECK(fortran == "False", TypeError, kOp, ": ", path,
            ": Fortran-order arrays are not supported; save a C-order array (numpy.ascontiguousarray)");

  std::string_view tuple = dict_value(dict, "shape", path);
  KUN_CHECK(tuple.size() >= 2 && tuple.front() == '(' && tuple.back() == ')', IOError, kOp, ": ", path,
            ": corrupt header: shape must be a tuple, got ", tuple);
  Shape shape;
  std::string_view items = tuple.substr(1, tuple.size() - 2);
  uint64_t count = 1;
  bool overflow = false;
  while (!trim(items).empty()) {
    size_t comma = items.find(',');
    std::string_view tok = trim(items.substr(0, comma));
    if (!tok.empty()) {
      uint64_t v = 0;
      for (char ch : tok) {
        KUN_CHECK(ch >= '0' && ch <= '9', IOError, kOp, ": ", path, ": corrupt header: shape entry '", tok,
                  "' is not a non-negative integer");
        overflow |= __builtin_mul_overflow(v, uint64_t{10}, &v) || __builtin_add_overflow(v, uint64_t(ch - '0'), &v);
      }
      KUN_CHECK(shape.size() < Shape::kMaxDims, IOError, kOp, ": ", path, ": shape ", tuple, " has more than ",
                Shape::kMaxDims, " dimensions");
      overflow |= v > (uint64_t{1} << 62);
      overflow |= __builtin_mul_overflow(count, v, &count);
      shape.push_back(static_cast<int64_t>(v));
    }
    if (comma == std::string_view::npos) break;
    items.remove_prefix(comma + 1);
  }
  const uint64_t es = dtype_size(type->dtype);
  uint64_t data_bytes = 0;
  overflow |= __builtin_mul_overflow(count, es, &data_bytes);
  const uint64_t data_start = header_start + header_len;
  const uint64_t avail = size - data_start;
  KUN_CHECK(!overflow && data_bytes <= avail, IOError, kOp, ": ", path, ": truncated at byte offset ", size,
            ": header declares shape ", tuple, " of ", type->dtype, " (",
            overflow ? std::string("more than 2^64") : std::to_string(data_bytes), " bytes of data), but only ", avail,
            " bytes follow the header at byte offset ", data_start);
  KUN_CHECK(data_bytes == avail, IOError, kOp, ": ", path, ": unexpected data after byte offset ",
            data_start + data_bytes, ": header declares shape ", tuple, " of ", type->dtype, " but the file is ",
            avail - data_bytes, " bytes longer");
  Tensor out = Tensor::empty(shape, type->dtype);
  if (data_bytes) std::memcpy(out.raw_data(), buf.data() + data_start, data_bytes);
  if (type->dtype == DType::bool_) {  // normalise to 0/1 so a stray byte cannot make an invalid bool
    auto* p = static_cast<unsigned char*>(out.raw_data());
    for (uint64_t i = 0; i < count; ++i) p[i] = p[i] != 0;
  }
  if (!opts.allow_nonfinite) detail::check_finite(out, path, kOp, data_start, es);
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  switch (t.dtype()) {
    case DType::f32: descr = "<f4"; break;
    case DType::f64: descr = "<f8"; break;
    case DType::i64: descr = "<i8"; break;
    case DType::i32: descr = "<i4"; break;
    case DType::u8: descr = "|u1"; break;
    case DType::bool_: descr = "|b1"; break;
  }
  std::string shape = "(";
  for (int d = 0; d < t.dim(); ++d)
    shape += std::to_string(t.size(d)) + (t.dim() == 1 ? "," : d + 1 < t.dim() ? ", " : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  KUN_CHECK(header.size() <= 0xFFFF, ShapeError, "write_npy: ", path, ": header too long for shape ", t.shape());
  Tensor c = t.contiguous();
  const size_t data_bytes = static_cast<size_t>(c.numel()) * c.element_size();
  std::vector<char> buf(10 + header.size() + data_bytes);
  std::memcpy(buf.data(), kMagic, 6);
  buf[6] = 1;
  buf[7] = 0;
  buf[8] = static_cast<char>(header.size() & 0xFF);
  buf[9] = static_cast<char>(header.size() >> 8);
  std::memcpy(buf.data() + 10, header.data(), header.size());
  if (data_bytes) std::memcpy(buf.data() + 10 + header.size(), c.raw_data(), data_bytes);
  detail::write_file_atomic(path, buf.data(), buf.size(), "write_npy");
}

}  // namespace kun::data
