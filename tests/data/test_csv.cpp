#include <gtest/gtest.h>

#include <cmath>

#include "data/data_test_util.h"
#include "golden_util.h"
#include "kun/data/csv.h"

using namespace kun;
using namespace kun::data;
using kun::testing::TempDir;
using kun::testing::write_bytes;

TEST(DataCsv, HeaderAndLabelByName) {
  TempDir dir;
  write_bytes(dir.file("iris.csv"),
              "sepal,petal,species,width\n"
              "5.1, 1.4, 0, 0.2\n"
              "\n"
              "4.9,1.5e0,2,+0.3\r\n"
              "6.0,\"4.5\",1,-1\n");
  CsvTable t = read_csv(dir.file("iris.csv"), {.label_column = "species", .num_classes = 3});
  EXPECT_EQ(t.x.shape(), (Shape{3, 3}));
  EXPECT_EQ(t.x.dtype(), DType::f32);
  EXPECT_EQ(t.x.to_vector<float>(), (std::vector<float>{5.1f, 1.4f, 0.2f, 4.9f, 1.5f, 0.3f, 6.0f, 4.5f, -1.0f}));
  EXPECT_EQ(t.y.dtype(), DType::i64);
  EXPECT_EQ(t.y.to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(t.feature_names, (std::vector<std::string>{"sepal", "petal", "width"}));
  EXPECT_EQ(t.label_name, "species");
  EXPECT_EQ(t.dataset().size(), 3);
}

TEST(DataCsv, NoHeaderLabelByIndexDelimiterAndRegression) {
  TempDir dir;
  write_bytes(dir.file("r.tsv"), "1\t2\t0.5\n3\t4\t1.5\n");
  CsvTable t = read_csv(dir.file("r.tsv"),
                        {.delimiter = '\t', .header = false, .label_index = -1, .label_dtype = DType::f32});
  EXPECT_EQ(t.x.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(t.y.to_vector<float>(), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(t.label_name, "c2");
  CsvTable u = read_csv(dir.file("r.tsv"), {.delimiter = '\t', .header = false});
  EXPECT_EQ(u.x.shape(), (Shape{2, 3}));
  EXPECT_FALSE(u.y.defined());
}

TEST(DataCsv, MissingAndNonFiniteOptions) {
  TempDir dir;
  write_bytes(dir.file("m.csv"), "a,b,y\n1,,0\nNA,nan,1\n");
  CsvTable t = read_csv(dir.file("m.csv"),
                        {.label_column = "y", .fill_missing = -1.0, .allow_nonfinite = true});
  auto v = t.x.to_vector<float>();
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -1.0f);
  EXPECT_EQ(v[2], -1.0f);
  EXPECT_TRUE(std::isnan(v[3]));
}

TEST(DataCsv, Errors) {
  TempDir dir;
  const std::string p = dir.file("d.csv");
  KUN_EXPECT_ERROR(read_csv(dir.file("none.csv")), "read_csv", "none.csv", "no such file");

  write_bytes(p, "a,b,y\n1,2,0\n3,4\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y"}), "read_csv", "d.csv:3", "expected 3 fields", "got 2");
  write_bytes(p, "a,b,y\n1,abc,0\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y"}), "d.csv:2:2", "column 'b'", "expected a number", "got 'abc'");
  write_bytes(p, "a,b,y\n1,2,0\n1,,1\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y"}), "d.csv:3:2", "column 'b'", "missing value", "fill_missing");
  write_bytes(p, "a,b,y\n1,inf,0\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y"}), "d.csv:2:2", "expected a finite number", "'inf'",
                   "allow_nonfinite");
  write_bytes(p, "a,b,y\nnan,1,0\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y"}), "d.csv:2:1", "column 'a'", "'nan'");
  write_bytes(p, "a,b,y\n1,2,0\n1,2,3\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y", .num_classes = 3}), "d.csv:3:3", "column 'y'",
                   "label 3 out of range [0, 3)");
  write_bytes(p, "a,b,y\n1,2,0.5\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y"}), "d.csv:2:3", "expected an integer class label", "'0.5'");
  write_bytes(p, "a,b,y\n1,2,\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "y", .fill_missing = 0.0}), "d.csv:2:3",
                   "missing value in the label column");
  write_bytes(p, "a,b,y\n1,2,0\n");
  KUN_EXPECT_ERROR(read_csv(p, {.label_column = "label"}), "d.csv:1", "no column named 'label'", "'a', 'b', 'y'");
  KUN_EXPECT_ERROR(read_csv(p, {.label_index = 5}), "d.csv", "label_index 5 out of range for 3 columns");
  KUN_EXPECT_ERROR(read_csv(p, {.header = false, .label_column = "y"}), "d.csv", "header is false");
  write_bytes(p, "a,b,y\n");
  KUN_EXPECT_ERROR(read_csv(p), "d.csv", "no data rows");
  write_bytes(p, "a,b\n\"1,2\n");
  KUN_EXPECT_ERROR(read_csv(p), "d.csv:2", "unterminated quoted field");
}
