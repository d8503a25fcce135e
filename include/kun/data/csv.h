// CSV reader for numeric tables: an optional header, one label column (by name or index), every
// other column a float32 feature.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kun/core/dtype.h"
#include "kun/data/dataset.h"
#include "kun/tensor/tensor.h"

namespace kun::data {

struct CsvOptions {
  char delimiter = ',';
  bool header = true;
  // The label column: by name (needs a header) or by index (negative counts from the end).
  // Neither set: no label column, y is undefined.
  std::string label_column{};
  std::optional<int64_t> label_index{};
  // int64: labels must be integers (class ids); float32: regression targets.
  DType label_dtype = DType::i64;
  // When > 0, integer labels must lie in [0, num_classes).
  int64_t num_classes = 0;
  // When set, an empty field (or NA) becomes this value instead of an error.
  std::optional<double> fill_missing{};
  // NaN / inf in a field is an error unless allowed.
  bool allow_nonfinite = false;
};

struct CsvTable {
  Tensor x;                                // (rows, features) float32
  Tensor y;                                // (rows,) label_dtype, or undefined
  std::vector<std::string> feature_names;  // from the header, or "c<i>"
  std::string label_name;

  TensorDataset dataset() const { return TensorDataset(x, y); }
};

// Every error is one line `read_csv: <file>:<row>:<column> ...` (1-based row counting the header
// line, 1-based column) saying what was expected and what came.
CsvTable read_csv(const std::string& path, const CsvOptions& opts = {});

}  // namespace kun::data
