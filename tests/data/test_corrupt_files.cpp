// Every prefix and many single-byte corruptions of valid files: the readers must either succeed or
// throw a kun::Error, never crash or over-read (run under ASan in the sanitizer build).
#include <gtest/gtest.h>

#include "data/data_test_util.h"
#include "kun/data/csv.h"
#include "kun/data/idx.h"
#include "kun/data/image.h"
#include "kun/data/npy.h"

using namespace kun;
using namespace kun::data;
using kun::testing::read_bytes;
using kun::testing::TempDir;
using kun::testing::write_bytes;

namespace {
template <typename Read>
void hammer(const std::string& good, const std::string& path, Read read, size_t max_flips = 64) {
  int errors = 0, ok = 0;
  auto attempt = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    try {
      read(path);
      ++ok;
    } catch (const kun::Error&) {
      ++errors;
    }
  };
  // Truncations: every length through the headers, then a sample of the rest.
  for (size_t n = 0; n < good.size(); n += (n < 96 ? 1 : 7)) attempt(good.substr(0, n));
  for (size_t i = 0; i < std::min(good.size(), max_flips); ++i)
    for (unsigned char x : {0x01, 0xFF}) {
      std::string b = good;
      b[i] = static_cast<char>(b[i] ^ x);
      attempt(b);
    }
  EXPECT_GT(errors, 0);
  EXPECT_GT(ok + errors, 0);
}
}  // namespace

TEST(DataCorrupt, IdxPlainAndGzipNeverCrash) {
  TempDir dir;
  write_idx(dir.file("a.idx"), arange(0, 24, 1, DType::f32).view({2, 3, 4}), false);
  hammer(read_bytes(dir.file("a.idx")), dir.file("b.idx"), [](const std::string& p) { read_idx(p); });
  write_idx(dir.file("a.idx.gz"), arange(0, 60, 1, DType::u8).view({3, 4, 5}), true);
  hammer(read_bytes(dir.file("a.idx.gz")), dir.file("b.idx.gz"), [](const std::string& p) { read_idx(p); });
}

TEST(DataCorrupt, NpyNeverCrashes) {
  TempDir dir;
  write_npy(dir.file("a.npy"), arange(0, 12, 1, DType::f64).view({3, 4}));
  hammer(read_bytes(dir.file("a.npy")), dir.file("b.npy"), [](const std::string& p) { read_npy(p); });
}

TEST(DataCorrupt, PngNeverCrashes) {
  TempDir dir;
  write_image(dir.file("a.png"), full({3, 6, 5}, 0.25));
  hammer(read_bytes(dir.file("a.png")), dir.file("b.png"), [](const std::string& p) { read_image(p, 3); });
}

TEST(DataCorrupt, CsvNeverCrashes) {
  TempDir dir;
  hammer("x,y,label\n1.5,2,0\n\"3\",4e1,1\n", dir.file("b.csv"),
         [](const std::string& p) { read_csv(p, {.label_column = "label"}); });
}
