#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "golden_util.h"
#include "kun/apps/text/text_data.h"

using namespace kun::text;
namespace fs = std::filesystem;

namespace {
// A minimal ustar writer for test archives.
std::string tar_entry(const std::string& name, const std::string& data, char type = '0') {
  char h[512] = {};
  std::strncpy(h, name.c_str(), 99);
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011o", static_cast<unsigned>(data.size()));
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  std::string out(h, 512);
  out += data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}
void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
struct TempDir {
  fs::path p = fs::temp_directory_path() / ("kun_text_data_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(p); }
  ~TempDir() { fs::remove_all(p); }
  std::string operator/(const std::string& f) const { return (p / f).string(); }
};
}  // namespace

TEST(TextData, TarGzReader) {
  TempDir d;
  std::string big(1500, 'x');
  std::string tar = tar_entry("dir/", "", '5') + tar_entry("dir/a.txt", "hello") + tar_entry("dir/big.bin", big) +
                    tar_entry("dir/empty.txt", "") + std::string(1024, '\0');
  write_gz(d / "t.tar.gz", tar);
  std::vector<std::pair<std::string, std::string>> got;
  for_each_tar_entry(d / "t.tar.gz", [&](const std::string& n, std::string& c) { got.emplace_back(n, c); });
  ASSERT_EQ(got.size(), 3u);  // the directory entry is skipped
  EXPECT_EQ(got[0], (std::pair<std::string, std::string>{"dir/a.txt", "hello"}));
  EXPECT_EQ(got[1].second, big);
  EXPECT_EQ(got[2].second, "");
  // Plain (uncompressed) tar works too; a truncated one is a clear error.
  std::ofstream(d / "t.tar", std::ios::binary) << tar;
  int n = 0;
  for_each_tar_entry(d / "t.tar", [&](const std::string&, std::string&) { ++n; });
  EXPECT_EQ(n, 3);
  write_gz(d / "cut.tar.gz", tar.substr(0, 1100));
  KUN_EXPECT_ERROR(for_each_tar_entry(d / "cut.tar.gz", [](const std::string&, std::string&) {}), "truncated");
  write_gz(d / "junk.tar.gz", std::string(600, 'j'));
  KUN_EXPECT_ERROR(for_each_tar_entry(d / "junk.tar.gz", [](const std::string&, std::string&) {}), "checksum");
  KUN_EXPECT_ERROR(for_each_tar_entry(d / "none.tar.gz", [](const std::string&, std::string&) {}), "cannot open");
}

TEST(TextData, ImdbLayoutFromTarGz) {
  TempDir d;
  std::string tar = tar_entry("aclImdb/test/neg/0_2.txt", "Awful.") + tar_entry("aclImdb/test/pos/0_9.txt", "Great!") +
                    tar_entry("aclImdb/train/neg/0_1.txt", "Bad<br />movie \xFF") +
                    tar_entry("aclImdb/train/pos/0_10.txt", "Loved it") +
                    tar_entry("aclImdb/train/urls_pos.txt", "http://x") + std::string(1024, '\0');
  write_gz(d / "aclImdb_labeled.tar.gz", tar);
  ImdbData data = load_imdb(d.p.string());
  ASSERT_EQ(data.train.size(), 2u);
  ASSERT_EQ(data.test.size(), 2u);
  EXPECT_EQ(data.train.labels, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(data.train.texts[0], "Bad<br />movie \xEF\xBF\xBD");  // invalid UTF-8 -> U+FFFD
  EXPECT_EQ(data.test.texts[1], "Great!");
  EXPECT_EQ(data.train.label_names, (std::vector<std::string>{"neg", "pos"}));
  KUN_EXPECT_ERROR(load_imdb((d.p / "missing").string()), "load_imdb", "not found");
}

TEST(TextData, CsvTsvJsonl) {
  TempDir d;
  std::ofstream(d / "a.csv") << "id,text,label\n1,\"Good, really \"\"good\"\"\",pos\r\n2,\"two\nlines\",neg\n3,,pos\n";
  TextDataset csv = read_text_file(d / "a.csv");
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv.texts[0], "Good, really \"good\"");
  EXPECT_EQ(csv.texts[1], "two\nlines");
  EXPECT_EQ(csv.texts[2], "");                       // empty text is kept
  EXPECT_EQ(csv.labels, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(csv.label_names, (std::vector<std::string>{"neg", "pos"}));
  std::ofstream(d / "b.tsv") << "nice\t10\nmeh\t2\n";
  TextDataset tsv = read_text_file(d / "b.tsv", {.header = false});
  EXPECT_EQ(tsv.labels, (std::vector<int64_t>{1, 0}));  // numeric labels sort numerically: 2 < 10
  std::ofstream(d / "c.jsonl") << "{\"review\": \"ok \\u00e9\", \"y\": 1}\n\n{\"review\": \"no\", \"y\": 0}\n";
  TextDataset jl = read_text_file(d / "c.jsonl", {.text_column = "review", .label_column = "y"});
  EXPECT_EQ(jl.texts[0], "ok \xC3\xA9");
  EXPECT_EQ(jl.labels, (std::vector<int64_t>{1, 0}));
  KUN_EXPECT_ERROR(read_text_file(d / "a.csv", {.text_column = "body"}), "no column \"body\"");
  std::ofstream(d / "bad.jsonl") << "{\"text\": 1}\n";
  KUN_EXPECT_ERROR(read_text_file(d / "bad.jsonl"), "bad.jsonl:1", "expected an object");
}
