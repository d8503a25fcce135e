// Seeded train/validation/test splits and k-fold cross-validation indices.
#pragma once
#include <cstdint>
#include <vector>

#include "kun/data/dataset.h"

namespace kun::data {

struct SplitOptions {
  double validation = 0.1;  // fractions of the examples; train gets the rest
  double test = 0.0;
  bool shuffle = true;
  uint64_t seed = 0;
};

struct SplitIndices {
  std::vector<int64_t> train, validation, test;  // disjoint, together exactly [0, n)
};

// Sizes round down for validation and test (train takes the remainder).
SplitIndices split_indices(int64_t n, const SplitOptions& opts = {});

struct Splits {
  TensorDataset train, validation, test;
};
Splits split(const TensorDataset& ds, const SplitOptions& opts = {});

struct Fold {
  std::vector<int64_t> train, validation;
};
// k folds: every index is in exactly one fold's validation set; fold sizes differ by at most one.
std::vector<Fold> kfold_indices(int64_t n, int64_t k, uint64_t seed = 0, bool shuffle = true);

// A seeded permutation of [0, n): the same for a (seed, stream) pair on every machine.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream = 0);

}  // namespace kun::data
