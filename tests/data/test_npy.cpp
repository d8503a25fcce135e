#include <gtest/gtest.h>

#include <cmath>

#include "data/data_test_util.h"
#include "golden_util.h"
#include "kun/data/npy.h"

using namespace kun;
using namespace kun::data;
using kun::testing::TempDir;
using kun::testing::write_bytes;

namespace {
// A hand-made .npy (format 1.0) with `header` as the dict and `data` after it.
std::string npy_bytes(const std::string& header, const std::string& data) {
  std::string h = header;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xFF);
  out += static_cast<char>(h.size() >> 8);
  return out + h + data;
}
}  // namespace

TEST(DataNpy, RoundTripEveryDtype) {
  TempDir dir;
  Tensor f32 = arange(0, 6, 1, DType::f32).view({2, 3});
  Tensor cases[] = {f32, f32.to(DType::f64), arange(0, 24, 1, DType::i64).view({2, 3, 4}),
                    arange(-5, 5, 1, DType::i32), arange(0, 200, 7, DType::u8),
                    from_vector(std::vector<uint8_t>{1, 0, 1}).to(DType::bool_), zeros({0, 3}),
                    scalar_tensor(3.5)};
  for (const Tensor& t : cases) {
    std::string p = dir.file("a.npy");
    write_npy(p, t);
    Tensor r = read_npy(p);
    EXPECT_EQ(r.dtype(), t.dtype());
    EXPECT_EQ(r.shape(), t.shape());
    EXPECT_EQ(r.to_vector<double>(), t.to_vector<double>());
  }
}

TEST(DataNpy, WritesNonContiguousInCOrder) {
  TempDir dir;
  Tensor t = arange(0, 6, 1, DType::f32).view({2, 3}).t();  // (3, 2) transposed view
  write_npy(dir.file("t.npy"), t);
  Tensor r = read_npy(dir.file("t.npy"));
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(DataNpy, ReadsHandMadeFileWithPadding) {
  TempDir dir;
  float v[3] = {1.5f, -2.0f, 7.0f};
  write_bytes(dir.file("h.npy"),
              npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", std::string((char*)v, 12)));
  EXPECT_EQ(read_npy(dir.file("h.npy")).to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 7.0f}));
}

TEST(DataNpy, Errors) {
  TempDir dir;
  const std::string p = dir.file("bad.npy");
  KUN_EXPECT_ERROR(read_npy(dir.file("missing.npy")), "read_npy", "missing.npy", "no such file");
  KUN_EXPECT_ERROR(read_npy(dir.path().string()), "read_npy", "expected a file, got a directory");

  write_bytes(p, std::string("P5\n3 3\n255\n........."));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "bad magic", "byte offset 0");

  write_bytes(p, std::string("\x93NUM"));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "truncated at byte offset 4");

  std::string full = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", std::string(24, '\0'));
  write_bytes(p, full.substr(0, 40));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "truncated", "header");
  write_bytes(p, full.substr(0, full.size() - 5));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "truncated", "shape (2, 3)", "24 bytes of data", "only 19 bytes");
  write_bytes(p, full + "xx");
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "2 bytes longer");

  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", std::string(24, '\0')));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "Fortran-order", "C-order");
  write_bytes(p, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", std::string(24, '\0')));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "big-endian", "'>f4'");
  write_bytes(p, npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", std::string(12, '\0')));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "unsupported dtype '<f2'", "<f4 (float32)");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False}", ""));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "lacks the key 'shape'");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", ""));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "shape entry 'x'");

  // A header claiming 10^12 elements must be rejected before any allocation.
  write_bytes(p, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", "abc"));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "truncated", "8000000000000 bytes of data", "only 3 bytes");
  write_bytes(p, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999, 2), }", ""));
  KUN_EXPECT_ERROR(read_npy(p), "bad.npy", "more than 2^64");
}

TEST(DataNpy, WriteErrorNamesFile) {
  KUN_EXPECT_ERROR(write_npy("/nonexistent_dir_kun/x.npy", zeros({2})), "write_npy", "/nonexistent_dir_kun/x.npy");
}

TEST(DataNpy, NonFiniteReportedUnlessAllowed) {
  TempDir dir;
  Tensor t = zeros({2, 3}, DType::f64);
  t.select(0, 1).narrow(0, 2, 1).fill_(NAN);
  write_npy(dir.file("n.npy"), t);
  KUN_EXPECT_ERROR(read_npy(dir.file("n.npy")), "read_npy", "n.npy", "non-finite value nan at element 5",
                   "index (1, 2)", "byte offset 168", "allow_nonfinite");
  EXPECT_TRUE(std::isnan(read_npy(dir.file("n.npy"), {.allow_nonfinite = true}).to_vector<double>()[5]));
}
