// Indexing ops. Index tensors are int64 or int32; every index is bounds-checked before the
// kernel runs and an out-of-range one throws IndexError naming the op, the value and the range.
#pragma once
#include <cstdint>
#include <optional>

#include "kun/tensor/tensor.h"

namespace kun {

// out = x with dim `dim` replaced by the entries idx (1-D) picks: out[.., i, ..] = x[.., idx[i], ..].
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx);
// Adds src (x's shape with dim sized idx.numel()) into a copy of x at rows idx along dim.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& idx, const Tensor& src);

// out has idx's shape: out[i][j][k] = x[i][idx[i][j][k]][k] for dim = 1 (and likewise for others).
// idx has x's rank and idx.size(d) <= x.size(d) for d != dim.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx);
// Out-of-place: out = x; out[i][idx[i][j][k]][k] += src[i][j][k] for dim = 1. idx has x's rank,
// idx.size(d) <= src.size(d) for all d and <= x.size(d) for d != dim.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& idx, const Tensor& src);

struct EmbeddingOptions {
  std::optional<int64_t> padding_idx;  // rows at this index get no gradient (negative counts from the end)
};

// idx: any shape of int64/int32 in [0, V); weight: (V, D) -> out: idx.shape + (D).
Tensor embedding(const Tensor& idx, const Tensor& weight);
// Gradient of embedding w.r.t. weight: (V, D) with the rows of grad (idx.shape + (D)) summed in.
// Rows at opt.padding_idx stay zero.
Tensor embedding_backward(const Tensor& grad, const Tensor& idx, int64_t num_weights, const EmbeddingOptions& opt = {});

// int64 tensor idx.shape + (num_classes); num_classes = -1 uses max(idx) + 1.
Tensor one_hot(const Tensor& idx, int64_t num_classes = -1);

// out = x where mask is false, value where true; mask is bool and broadcasts to x's shape.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

struct TopK {
  Tensor values;   // x's shape with dim sized k
  Tensor indices;  // int64, same shape
};
struct TopKOptions {
  int64_t dim = -1;
  bool largest = true;
  bool sorted = true;  // results are always sorted (largest first, or smallest first); kept for parity
};
// The k largest (or smallest) entries along dim. NaN counts as larger than every number; ties
// keep the lower index first.
TopK topk(const Tensor& x, int64_t k, const TopKOptions& opt = {});

}  // namespace kun
