#include "kun/data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include "data/io_util.h"

namespace kun::data {

namespace {

constexpr const char* kOp = "read_idx";
// Deflate never compresses better than about 1032:1, so a gzip file of n bytes holds at most
// ~1032 n bytes: a header claiming more is corrupt, and we say so before allocating anything.
constexpr uint64_t kMaxDeflateRatio = 1032;

struct IdxType {
  uint8_t code;
  const char* name;
  size_t file_size;  // bytes per element in the file
  DType dtype;       // what we return
};
constexpr IdxType kTypes[] = {
    {0x08, "uint8", 1, DType::u8},    {0x09, "int8", 1, DType::i32},     {0x0B, "int16", 2, DType::i32},
    {0x0C, "int32", 4, DType::i32},   {0x0D, "float32", 4, DType::f32},  {0x0E, "float64", 8, DType::f64},
};

const IdxType* find_type(uint8_t code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

uint32_t be32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

std::string hex_bytes(const unsigned char* p, int n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to n bytes; returns how many came. Throws on a corrupt gzip stream.
uint64_t read_some(gzFile f, void* dst, uint64_t n, const std::string& path, uint64_t at) {
  uint64_t done = 0;
  char* p = static_cast<char*>(dst);
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(n - done, 1u << 30));
    int got = gzread(f, p + done, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      KUN_CHECK(false, IOError, kOp, ": ", path, ": corrupt gzip data near uncompressed byte offset ", at + done,
                " (", msg ? msg : "unknown zlib error", ")");
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

// The gzip trailer's ISIZE field (last 4 bytes, little-endian); ~0 when unreadable.
uint64_t gzip_trailer_size(const std::string& path) {
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) return ~uint64_t{0};
  unsigned char t[4];
  bool ok = std::fseek(fp, -4, SEEK_END) == 0 && std::fread(t, 1, 4, fp) == 4;
  std::fclose(fp);
  return ok ? (uint64_t{t[0]} | uint64_t{t[1]} << 8 | uint64_t{t[2]} << 16 | uint64_t{t[3]} << 24) : ~uint64_t{0};
}

// Decompresses the rest of the stream into a scratch buffer, returning how many bytes it holds.
uint64_t count_rest(gzFile f, const std::string& path, uint64_t at) {
  std::vector<char> scratch(1 << 18);
  uint64_t total = 0;
  for (;;) {
    uint64_t got = read_some(f, scratch.data(), scratch.size(), path, at + total);
    total += got;
    if (got < scratch.size()) return total;
  }
}

template <typename T>
void byteswap_inplace(T* p, int64_t n) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (sizeof(T) == 4) {
      uint32_t v;
      std::memcpy(&v, p + i, 4);
      v = __builtin_bswap32(v);
      std::memcpy(p + i, &v, 4);
    } else {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      v = __builtin_bswap64(v);
      std::memcpy(p + i, &v, 8);
    }
  }
}

}  // namespace

Tensor read_idx(const std::string& path, const IdxOptions& opts) {
  const uint64_t file_bytes = detail::file_size_or_throw(path, kOp);
  GzPtr f(gzopen(path.c_str(), "rb"));
  KUN_CHECK(f != nullptr, IOError, kOp, ": ", path, ": cannot open");
  gzbuffer(f.get(), 1 << 18);

  unsigned char magic[4];
  uint64_t got = read_some(f.get(), magic, 4, path, 0);
  KUN_CHECK(got == 4, IOError, kOp, ": ", path, ": truncated at byte offset ", got,
            ": expected a 4-byte IDX magic number, the file ends after ", got, " bytes");
  const bool gz = gzdirect(f.get()) == 0;
  KUN_CHECK(magic[0] == 0 && magic[1] == 0, IOError, kOp, ": ", path, ": bad magic number at byte offset 0: expected ",
            "00 00 <type> <ndim> (an IDX file), got ", hex_bytes(magic, 4));
  const IdxType* type = find_type(magic[2]);
  KUN_CHECK(type != nullptr, IOError, kOp, ": ", path, ": bad magic number at byte offset 2: type code 0x",
            hex_bytes(magic + 2, 1), " is not one of 08 (uint8), 09 (int8), 0b (int16), 0c (int32), 0d (float32), ",
            "0e (float64)");
  const int ndim = magic[3];
  KUN_CHECK(ndim >= 1 && ndim <= Shape::kMaxDims, IOError, kOp, ": ", path,
            ": bad magic number at byte offset 3: expected 1 to ", Shape::kMaxDims, " dimensions, got ", ndim);

  unsigned char dims_raw[4 * Shape::kMaxDims];
  got = read_some(f.get(), dims_raw, 4 * static_cast<uint64_t>(ndim), path, 4);
  KUN_CHECK(got == 4u * ndim, IOError, kOp, ": ", path, ": truncated at byte offset ", 4 + got, ": expected ", ndim,
            " 4-byte dimension sizes, the file ends after ", 4 + got, " bytes");
  Shape shape;
  uint64_t items = 1;
  bool overflow = false;
  for (int d = 0; d < ndim; ++d) {
    uint32_t e = be32(dims_raw + 4 * d);
    shape.push_back(e);
    overflow |= __builtin_mul_overflow(items, uint64_t{e}, &items);
  }
  uint64_t data_bytes = 0;
  overflow |= __builtin_mul_overflow(items, uint64_t{type->file_size}, &data_bytes);
  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndim);

  // Bound the header's claim by what the file can hold before allocating anything.
  if (gz) {
    KUN_CHECK(!overflow && data_bytes / kMaxDeflateRatio <= file_bytes, IOError, kOp, ": ", path,
              ": corrupt header at byte offset 4: shape ", shape, " of ", type->name, " needs ",
              overflow ? std::string("more than 2^64") : std::to_string(data_bytes),
              " bytes, more than a gzip file of ", file_bytes, " bytes can hold");
  } else {
    const uint64_t avail = file_bytes - std::min(file_bytes, header_bytes);
    KUN_CHECK(!overflow && data_bytes <= avail, IOError, kOp, ": ", path, ": truncated at byte offset ",
              header_bytes + avail, ": header declares shape ", shape, " of ", type->name, " (",
              overflow ? std::string("more than 2^64") : std::to_string(data_bytes), " bytes of data), but only ",
              avail, " bytes follow the ", header_bytes, "-byte header");
  }

  // A gzip file's trailer holds its uncompressed size mod 2^32. When the header disagrees with it,
  // count the real data first (no allocation) so a lying header cannot make us allocate up to
  // 1032x the file size; concatenated gzip members (whose trailer shows only the last) still load.
  if (gz && (header_bytes + data_bytes) % (uint64_t{1} << 32) != gzip_trailer_size(path)) {
    uint64_t real = count_rest(f.get(), path, header_bytes);
    KUN_CHECK(real == data_bytes, IOError, kOp, ": ", path, ": truncated at uncompressed byte offset ",
              header_bytes + std::min(real, data_bytes), ": header declares shape ", shape, " of ", type->name, " (",
              data_bytes, " bytes of data), got ", real, " bytes");
    KUN_CHECK(gzseek(f.get(), static_cast<z_off_t>(header_bytes), SEEK_SET) == static_cast<z_off_t>(header_bytes),
              IOError, kOp, ": ", path, ": cannot seek back to the data after checking its size");
  }

  Tensor out = Tensor::empty(shape, type->dtype);
  const int64_t n = static_cast<int64_t>(items);
  auto read_data = [&](void* dst) {
    uint64_t g = read_some(f.get(), dst, data_bytes, path, header_bytes);
    KUN_CHECK(g == data_bytes, IOError, kOp, ": ", path, ": truncated at uncompressed byte offset ", header_bytes + g,
              ": header declares shape ", shape, " of ", type->name, " (", data_bytes, " bytes of data), got ", g,
              " bytes");
  };
  if (type->code == 0x08) {
    read_data(out.raw_data());
  } else if (type->code == 0x0C || type->code == 0x0D) {
    read_data(out.raw_data());
    byteswap_inplace(static_cast<uint32_t*>(out.raw_data()), n);
  } else if (type->code == 0x0E) {
    read_data(out.raw_data());
    byteswap_inplace(static_cast<uint64_t*>(out.raw_data()), n);
  } else {  // int8 / int16 widen to int32
    std::vector<unsigned char> raw(data_bytes);
    read_data(raw.data());
    int32_t* o = out.data<int32_t>();
    if (type->code == 0x09) {
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<int8_t>(raw[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<int16_t>(uint16_t(raw[2 * i] << 8 | raw[2 * i + 1]));
    }
  }
  unsigned char extra;
  KUN_CHECK(read_some(f.get(), &extra, 1, path, header_bytes + data_bytes) == 0, IOError, kOp, ": ", path,
            ": unexpected data after byte offset ", header_bytes + data_bytes, ": header declares shape ", shape,
            " of ", type->name, " but the file is longer");
  if (!opts.allow_nonfinite) detail::check_finite(out, path, kOp, header_bytes, type->file_size);
  return out;
}

void write_idx(const std::string& path, const Tensor& t, bool gzip) {
  uint8_t code = 0;
  switch (t.dtype()) {
    case DType::u8: code = 0x08; break;
    case DType::i32: code = 0x0C; break;
    case DType::f32: code = 0x0D; break;
    case DType::f64: code = 0x0E; break;
    default:
      KUN_CHECK(false, TypeError, "write_idx: ", path, ": expected a uint8, int32, float32 or float64 tensor, got ",
                t.dtype());
  }
  KUN_CHECK(t.dim() >= 1, ShapeError, "write_idx: ", path, ": expected at least one dimension, got a scalar");
  Tensor c = t.contiguous();
  const size_t es = c.element_size();
  std::vector<unsigned char> buf(4 + 4 * c.dim() + c.numel() * es);
  buf[0] = buf[1] = 0;
  buf[2] = code;
  buf[3] = static_cast<unsigned char>(c.dim());
  for (int d = 0; d < c.dim(); ++d) {
    KUN_CHECK(c.size(d) <= 0xFFFFFFFFll, ShapeError, "write_idx: ", path, ": dimension ", d, " of size ", c.size(d),
              " does not fit IDX's 32-bit sizes");
    uint32_t v = __builtin_bswap32(static_cast<uint32_t>(c.size(d)));
    std::memcpy(&buf[4 + 4 * d], &v, 4);
  }
  unsigned char* data = buf.data() + 4 + 4 * c.dim();
  std::memcpy(data, c.raw_data(), c.numel() * es);
  if (es == 4) byteswap_inplace(reinterpret_cast<uint32_t*>(data), c.numel());
  if (es == 8) byteswap_inplace(reinterpret_cast<uint64_t*>(data), c.numel());
  if (!gzip) {
    detail::write_file_atomic(path, buf.data(), buf.size(), "write_idx");
    return;
  }
  z_stream zs{};
  KUN_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, IOError,
            "write_idx: ", path, ": zlib deflateInit2 failed");
  std::vector<unsigned char> out(deflateBound(&zs, buf.size()) + 64);
  zs.next_in = buf.data();
  zs.avail_in = static_cast<uInt>(buf.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  KUN_CHECK(rc == Z_STREAM_END, IOError, "write_idx: ", path, ": zlib deflate failed (code ", rc, ")");
  detail::write_file_atomic(path, out.data(), n, "write_idx");
}

}  // namespace kun::data
