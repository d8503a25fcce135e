// safetensors files: round trips of every dtype, atomic writes, foreign files, and one clear
// IOError for each kind of damage.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "golden_util.h"

using namespace kun;

namespace {

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/kun_st_" + name + ".safetensors"; }

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The public layout, written out by hand: u64 LE header length, JSON header, data.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + data;
}
template <typename T>
std::string le_bytes(std::initializer_list<T> values) {
  std::string s;
  for (T v : values) s.append(reinterpret_cast<const char*>(&v), sizeof(T));  // host is little-endian
  return s;
}

TensorDict sample() {
  TensorDict d;
  Generator gen(1);
  d.insert("w.f32", randn({3, 4}, DType::f32, &gen));
  d.insert("w.f64", randn({2, 2, 2}, DType::f64, &gen));
  d.insert("i32", randint(-100, 100, {5}, DType::i32, &gen));
  d.insert("i64", randint(-100000, 100000, {2, 3}, DType::i64, &gen));
  d.insert("u8", randint(0, 256, {7}, DType::u8, &gen));
  d.insert("mask", from_vector<uint8_t>({1, 0, 1}, {3}).to(DType::bool_));
  d.insert("scalar", scalar_tensor(3.5));
  d.insert("empty", zeros({0, 4}));
  d.insert("view", randn({4, 6}, DType::f32, &gen).t());  // non-contiguous: saved as its values
  return d;
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtype) {
  std::string path = temp_path("roundtrip");
  TensorDict d = sample();
  safetensors::save(path, d, {{"epoch", "3"}});
  safetensors::File f = safetensors::load(path);
  EXPECT_EQ(f.tensors.keys(), d.keys());  // insertion order kept
  for (const auto& [name, t] : d) {
    SCOPED_TRACE(name);
    const Tensor& got = f.tensors.at(name);
    EXPECT_EQ(got.dtype(), t.dtype());
    EXPECT_EQ(got.shape(), t.shape());
    EXPECT_TRUE(kun::testing::close(got, t, 0, 0));
  }
  EXPECT_EQ(f.metadata.at("epoch"), "3");
  EXPECT_EQ(f.metadata.at("format"), "kun");
  EXPECT_EQ(f.metadata.at("version"), "1");
  // Layout: header length is a multiple of 8 and no temp file is left behind.
  std::string bytes = read_bytes(path);
  uint64_t hlen = 0;
  std::memcpy(&hlen, bytes.data(), 8);
  EXPECT_EQ(hlen % 8, 0u);
  for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir()))
    EXPECT_EQ(e.path().filename().string().find("kun_st_roundtrip.safetensors.tmp"), std::string::npos);
}

TEST(Safetensors, OverwriteIsAtomicRename) {
  std::string path = temp_path("overwrite");
  TensorDict a, b;
  a.insert("x", ones({100}));
  b.insert("y", zeros({2}));
  safetensors::save(path, a);
  safetensors::save(path, b);
  auto f = safetensors::load(path);
  EXPECT_EQ(f.tensors.keys(), std::vector<std::string>{"y"});
  KUN_EXPECT_ERROR(safetensors::save("/nonexistent-dir/x.safetensors", a), "safetensors: cannot save",
                   "/nonexistent-dir/x.safetensors");
  TensorDict bad;
  bad.insert("__metadata__", ones({1}));
  KUN_EXPECT_ERROR(safetensors::save(path, bad), "'__metadata__' is reserved");
}

// A file as the reference (Python/Rust) writer lays it out: sorted keys, space padding, data in
// a different order than the header lists it, "pt" metadata and no kun version.
TEST(Safetensors, LoadsForeignFile) {
  std::string data = le_bytes<int64_t>({7, -8}) + le_bytes<float>({1.5f, -2.0f, 0.25f, 4.0f}) + std::string("\x01\x00", 2);
  std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},)"
      R"("b":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"m":{"dtype":"BOOL","shape":[2],"data_offsets":[32,34]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string path = temp_path("foreign");
  write_bytes(path, make_file(header, data));
  auto f = safetensors::load(path);
  EXPECT_EQ(f.tensors.keys(), (std::vector<std::string>{"a", "b", "m"}));
  EXPECT_EQ(f.tensors.at("a").to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 0.25f, 4.0f}));
  EXPECT_EQ(f.tensors.at("a").shape(), Shape({2, 2}));
  EXPECT_EQ(f.tensors.at("b").to_vector<int64_t>(), (std::vector<int64_t>{7, -8}));
  EXPECT_EQ(f.tensors.at("m").dtype(), DType::bool_);
  EXPECT_EQ(f.tensors.at("m").to_vector<int>(), (std::vector<int>{1, 0}));
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(Safetensors, DamagedFilesGiveOneClearError) {
  std::string path = temp_path("damaged");
  TensorDict d;
  d.insert("w", ones({4}));
  safetensors::save(path, d);
  const std::string good = read_bytes(path);

  write_bytes(path, good.substr(0, good.size() - 3));  // truncated data
  KUN_EXPECT_ERROR(safetensors::load(path), "safetensors: cannot load", path.c_str(), "tensor 'w'",
                   "past the data section", "truncated");
  write_bytes(path, good.substr(0, 20));  // truncated header
  KUN_EXPECT_ERROR(safetensors::load(path), "header length", "exceeds the file size 20");
  write_bytes(path, good.substr(0, 5));
  KUN_EXPECT_ERROR(safetensors::load(path), "too short");
  KUN_EXPECT_ERROR(safetensors::load(temp_path("does_not_exist")), "cannot load", "No such file");

  auto with_header = [&](std::string header, const std::string& data) {
    write_bytes(path, make_file(header, data));
  };
  with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})", std::string(16, '\0'));  // missing }
  KUN_EXPECT_ERROR(safetensors::load(path), "header is not valid JSON");
  with_header(R"({"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", std::string(8, '\0'));
  KUN_EXPECT_ERROR(safetensors::load(path), "tensor 'w'", "unsupported dtype 'F16'");
  with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", std::string(16, '\0'));
  KUN_EXPECT_ERROR(safetensors::load(path), "shape (4,) of F32 needs 16 bytes, data_offsets span 12");
  with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[8,0]}})", std::string(16, '\0'));
  KUN_EXPECT_ERROR(safetensors::load(path), "data_offsets begin 8 > end 0");
  with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              std::string(16, '\0'));
  KUN_EXPECT_ERROR(safetensors::load(path), "tensors 'a' and 'b' overlap");
  with_header(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", std::string(16, '\0'));
  KUN_EXPECT_ERROR(safetensors::load(path), "shape entries must be non-negative integers");
  with_header(R"({"w":{"dtype":"F64","shape":[1099511627776,1099511627776],"data_offsets":[0,16]}})",
              std::string(16, '\0'));
  KUN_EXPECT_ERROR(safetensors::load(path), "tensor 'w'", "shape is too large");
  with_header(R"({"w":{"dtype":"F32","data_offsets":[0,16]}})", std::string(16, '\0'));
  KUN_EXPECT_ERROR(safetensors::load(path), "needs dtype, shape and data_offsets");
  with_header(R"([1,2,3])", "");
  KUN_EXPECT_ERROR(safetensors::load(path), "header must be a JSON object");
  with_header(R"({"__metadata__":{"format":"kun","version":"2"}})", "");
  KUN_EXPECT_ERROR(safetensors::load(path), "kun file version '2' is not supported");
  with_header(R"({"__metadata__":{"n":3}})", "");
  KUN_EXPECT_ERROR(safetensors::load(path), "__metadata__ value of 'n' is not a string");
  with_header(R"({"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", std::string("\x07", 1));
  KUN_EXPECT_ERROR(safetensors::load(path), "BOOL data holds a byte other than 0 or 1");
  std::string huge(8, '\xff');  // header length 2^64 - 1
  write_bytes(path, huge + "{}");
  KUN_EXPECT_ERROR(safetensors::load(path), "implausibly large");
  // Every one of those was an IOError.
  try {
    safetensors::load(path);
  } catch (const IOError&) {
    SUCCEED();
  }
}

TEST(TensorDict, OrderLookupAndDuplicates) {
  TensorDict d;
  d.insert("b", ones({1}));
  d.insert("a", zeros({1}));
  d.set("b", full({1}, 2.0));
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a"}));
  EXPECT_FLOAT_EQ(d.at("b").item<float>(), 2.f);
  EXPECT_EQ(d.find("zz"), nullptr);
  KUN_EXPECT_ERROR(d.insert("a", ones({1})), "duplicate name 'a'");
  KUN_EXPECT_ERROR(d.at("zz"), "no entry named 'zz'");
}
