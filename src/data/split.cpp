#include "kun/data/split.h"

#include <cmath>
#include <numeric>

#include "kun/core/rng.h"

namespace kun::data {

std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream) {
  KUN_CHECK(n >= 0, ValueError, "permutation: n must be >= 0, got ", n);
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), int64_t{0});
  // Fisher-Yates; swap partner of position i drawn from Philox(key, counter = i), so the order
  // depends only on (seed, stream).
  const uint64_t key = seed ^ (stream * 0x9E3779B97F4A7C15ull + 0xD1B54A32D192ED03ull);
  for (int64_t i = n - 1; i > 0; --i) {
    auto r = philox(key, static_cast<uint64_t>(i));
    uint64_t bits = uint64_t{r[0]} << 32 | r[1];
    auto j = static_cast<int64_t>((static_cast<unsigned __int128>(bits) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(p[i], p[j]);
  }
  return p;
}

SplitIndices split_indices(int64_t n, const SplitOptions& opts) {
  KUN_CHECK(n >= 0, ValueError, "split_indices: n must be >= 0, got ", n);
  KUN_CHECK(opts.validation >= 0 && opts.test >= 0 && opts.validation + opts.test < 1.0, ValueError,
            "split_indices: validation and test fractions must be >= 0 and sum to less than 1, got validation=",
            opts.validation, " test=", opts.test);
  std::vector<int64_t> order(n);
  if (opts.shuffle)
    order = permutation(n, opts.seed, /*stream=*/0x5b17);
  else
    std::iota(order.begin(), order.end(), int64_t{0});
  const auto n_val = static_cast<int64_t>(std::floor(opts.validation * static_cast<double>(n)));
  const auto n_test = static_cast<int64_t>(std::floor(opts.test * static_cast<double>(n)));
  const int64_t n_train = n - n_val - n_test;
  SplitIndices s;
  s.train.assign(order.begin(), order.begin() + n_train);
  s.validation.assign(order.begin() + n_train, order.begin() + n_train + n_val);
  s.test.assign(order.begin() + n_train + n_val, order.end());
  return s;
}

Splits split(const TensorDataset& ds, const SplitOptions& opts) {
  SplitIndices s = split_indices(ds.size(), opts);
  return {ds.subset(s.train), ds.subset(s.validation), ds.subset(s.test)};
}

std::vector<Fold> kfold_indices(int64_t n, int64_t k, uint64_t seed, bool shuffle) {
  KUN_CHECK(k >= 2 && k <= n, ValueError, "kfold_indices: k must be in [2, n] with n = ", n, ", got k = ", k);
  std::vector<int64_t> order(n);
  if (shuffle)
    order = permutation(n, seed, /*stream=*/0xf01d);
  else
    std::iota(order.begin(), order.end(), int64_t{0});
  std::vector<Fold> folds(k);
  int64_t start = 0;
  for (int64_t f = 0; f < k; ++f) {
    const int64_t len = n / k + (f < n % k ? 1 : 0);  // the first n % k folds take one extra
    for (int64_t i = 0; i < n; ++i)
      (i >= start && i < start + len ? folds[f].validation : folds[f].train).push_back(order[i]);
    start += len;
  }
  return folds;
}

}  // namespace kun::data
