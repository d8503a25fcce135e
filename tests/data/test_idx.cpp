#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>

#include "data/data_test_util.h"
#include "golden_util.h"
#include "kun/data/idx.h"

using namespace kun;
using namespace kun::data;
using kun::testing::TempDir;
using kun::testing::write_bytes;

namespace {
std::vector<unsigned char> idx_header(uint8_t type, std::vector<uint32_t> dims) {
  std::vector<unsigned char> h = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<unsigned char>(d >> s));
  return h;
}
void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
}  // namespace

TEST(DataIdx, RoundTripPlainAndGzip) {
  TempDir dir;
  Tensor cases[] = {arange(0, 60, 1, DType::u8).view({3, 4, 5}), arange(-3, 3, 0.5, DType::f32).view({2, 6}),
                    arange(-100000, 100000, 33333, DType::i32), linspace(-1, 1, 7, DType::f64)};
  for (const Tensor& t : cases)
    for (bool gz : {false, true}) {
      std::string p = dir.file(gz ? "t.idx.gz" : "t.idx");
      write_idx(p, t, gz);
      EXPECT_EQ(kun::testing::read_bytes(p).substr(0, 2) == "\x1f\x8b", gz);
      Tensor r = read_idx(p);
      EXPECT_EQ(r.dtype(), t.dtype());
      EXPECT_EQ(r.shape(), t.shape());
      EXPECT_EQ(r.to_vector<double>(), t.to_vector<double>());
    }
}

TEST(DataIdx, WidensInt8AndInt16) {
  TempDir dir;
  auto b = idx_header(0x09, {3});
  b.insert(b.end(), {0xFF, 0x05, 0x80});
  write_bytes(dir.file("i8"), b);
  EXPECT_EQ(read_idx(dir.file("i8")).to_vector<int32_t>(), (std::vector<int32_t>{-1, 5, -128}));
  b = idx_header(0x0B, {2});
  b.insert(b.end(), {0xFF, 0xFE, 0x01, 0x00});
  write_gz(dir.file("i16.gz"), b);
  EXPECT_EQ(read_idx(dir.file("i16.gz")).to_vector<int32_t>(), (std::vector<int32_t>{-2, 256}));
}

TEST(DataIdx, Errors) {
  TempDir dir;
  const std::string p = dir.file("bad.idx"), g = dir.file("bad.idx.gz");
  KUN_EXPECT_ERROR(read_idx(dir.file("nope-idx3-ubyte")), "read_idx", "nope-idx3-ubyte", "no such file");

  write_bytes(p, std::string("\x00\x00", 2));
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "truncated at byte offset 2", "4-byte IDX magic");
  write_bytes(p, std::string("PK\x03\x04 not an idx file"));
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "bad magic number at byte offset 0", "got 50 4b 03 04");
  write_bytes(p, idx_header(0x07, {1}));
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "byte offset 2", "type code 0x07");
  write_bytes(p, idx_header(0x08, {}));
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "byte offset 3", "1 to 8 dimensions, got 0");

  auto h = idx_header(0x08, {10, 28, 28});
  write_bytes(p, std::vector<unsigned char>(h.begin(), h.begin() + 9));
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "truncated at byte offset 9", "3 4-byte dimension sizes");

  // Header promises 10 x 28 x 28 bytes; only 100 follow.
  auto t = h;
  t.resize(h.size() + 100, 7);
  write_bytes(p, t);
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "truncated at byte offset 116", "shape (10, 28, 28)", "7840 bytes",
                   "only 100 bytes");
  write_gz(g, t);
  KUN_EXPECT_ERROR(read_idx(g), "bad.idx.gz", "truncated at uncompressed byte offset 116", "7840 bytes", "got 100");

  // 10^12 items: rejected from the header alone (no allocation attempt), plain and gzip.
  auto huge = idx_header(0x08, {1000000, 1000000});
  huge.resize(huge.size() + 64, 0);
  write_bytes(p, huge);
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "1000000000000 bytes of data", "only 64 bytes");
  write_gz(g, huge);
  KUN_EXPECT_ERROR(read_idx(g), "bad.idx.gz", "corrupt header", "1000000000000 bytes", "more than a gzip file");
  // A header that lies within the deflate bound but disagrees with the gzip trailer: counted, not allocated.
  auto lie = idx_header(0x08, {50, 10000});
  for (uint32_t i = 0, r = 1; i < 10000; ++i)
    lie.push_back(static_cast<unsigned char>((r = r * 1664525u + 1013904223u) >> 24));
  write_gz(g, lie);
  KUN_EXPECT_ERROR(read_idx(g), "bad.idx.gz", "truncated", "500000 bytes of data", "got 10000 bytes");
  // Two concatenated gzip members (the trailer only shows the last one's size) still load.
  auto two = idx_header(0x08, {6});
  two.insert(two.end(), {1, 2, 3});
  write_gz(g, two);
  std::string first = kun::testing::read_bytes(g);
  write_gz(g, {4, 5, 6});
  write_bytes(g, first + kun::testing::read_bytes(g));
  EXPECT_EQ(read_idx(g).to_vector<int32_t>(), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));

  auto overflow = idx_header(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF});
  write_bytes(p, overflow);
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "more than 2^64");

  // Trailing bytes after the declared data.
  auto extra = idx_header(0x08, {2});
  extra.insert(extra.end(), {1, 2, 3});
  write_bytes(p, extra);
  KUN_EXPECT_ERROR(read_idx(p), "bad.idx", "unexpected data after byte offset 10");

  // A gzip stream cut short and one with corrupted compressed bytes.
  Tensor img = arange(0, 5000, 1, DType::f32);
  write_idx(g, img, true);
  std::string z = kun::testing::read_bytes(g);
  write_bytes(g, z.substr(0, z.size() / 2));
  KUN_EXPECT_ERROR(read_idx(g), "read_idx", "bad.idx.gz");
  for (size_t i = 20; i < z.size() - 8; ++i) z[i] = static_cast<char>(z[i] ^ 0x5A);
  write_bytes(g, z);
  KUN_EXPECT_ERROR(read_idx(g), "read_idx", "bad.idx.gz");

  KUN_EXPECT_ERROR(write_idx(p, zeros({2}, DType::i64)), "write_idx", "int64");
}

TEST(DataIdx, NonFiniteReportedUnlessAllowed) {
  TempDir dir;
  Tensor t = zeros({4}, DType::f32);
  t.narrow(0, 3, 1).fill_(INFINITY);
  write_idx(dir.file("inf.idx.gz"), t, true);
  KUN_EXPECT_ERROR(read_idx(dir.file("inf.idx.gz")), "read_idx", "inf.idx.gz", "non-finite value inf at element 3",
                   "byte offset 20");
  EXPECT_TRUE(std::isinf(read_idx(dir.file("inf.idx.gz"), {.allow_nonfinite = true}).to_vector<float>()[3]));
}
