#include "kun/data/dataset.h"

#include <cstring>

namespace kun::data {

Tensor gather_rows(const Tensor& t_in, const std::vector<int64_t>& indices, const char* op) {
  const Tensor t = t_in.contiguous();  // free when already contiguous (TensorDataset stores it so)
  KUN_CHECK(t.dim() >= 1, ShapeError, op, ": expected a tensor with a leading example dim, got shape ", t.shape());
  const int64_t n = t.size(0);
  Shape out_shape = t.shape();
  out_shape[0] = static_cast<int64_t>(indices.size());
  Tensor out = Tensor::empty(out_shape, t.dtype());
  const size_t row_bytes = static_cast<size_t>(n ? t.numel() / n : 0) * t.element_size();
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (size_t b = 0; b < indices.size(); ++b) {
    int64_t i = indices[b];
    KUN_CHECK(i >= 0 && i < n, IndexError, op, ": index ", i, " out of range for a dataset of ", n, " examples");
    std::memcpy(dst + b * row_bytes, src + static_cast<size_t>(i) * row_bytes, row_bytes);
  }
  return out;
}

namespace {
// Copies each example into its row of a (B, ...) tensor shaped after the first one.
Tensor stack_rows(const std::vector<Tensor>& rows, const char* what) {
  Shape s = rows[0].shape();
  s.insert(0, static_cast<int64_t>(rows.size()));
  Tensor out = Tensor::empty(s, rows[0].dtype());
  for (size_t b = 0; b < rows.size(); ++b) {
    KUN_CHECK(rows[b].shape() == rows[0].shape() && rows[b].dtype() == rows[0].dtype(), ShapeError,
              "Dataset::get_batch: every example's ", what, " must have the same shape and dtype; example 0 has ",
              rows[0].shape(), " ", rows[0].dtype(), ", example ", b, " has ", rows[b].shape(), " ", rows[b].dtype());
    out.select(0, static_cast<int64_t>(b)).copy_(rows[b]);
  }
  return out;
}
}  // namespace

Example Dataset::get_batch(const std::vector<int64_t>& indices) const {
  KUN_CHECK(!indices.empty(), ValueError, "Dataset::get_batch: expected at least one index, got none");
  std::vector<Tensor> xs, ys;
  xs.reserve(indices.size());
  for (int64_t i : indices) {
    Example e = get(i);
    xs.push_back(e.x);
    if (e.y.defined()) ys.push_back(e.y);
  }
  Example out;
  out.x = stack_rows(xs, "x");
  if (!ys.empty()) {
    KUN_CHECK(ys.size() == xs.size(), ValueError, "Dataset::get_batch: some examples have labels and some do not");
    out.y = stack_rows(ys, "y");
  }
  return out;
}

TensorDataset::TensorDataset(Tensor x, Tensor y) {
  KUN_CHECK(x.defined() && x.dim() >= 1, ShapeError,
            "TensorDataset: x must be a tensor (N, ...) with at least one dim, got ",
            x.defined() ? x.shape().str() : std::string("an undefined tensor"));
  if (y.defined()) {
    KUN_CHECK(y.dim() >= 1 && y.size(0) == x.size(0), ShapeError, "TensorDataset: y must have ", x.size(0),
              " rows like x ", x.shape(), ", got ", y.shape());
    y_ = y.contiguous();
  }
  x_ = x.contiguous();
}

Example TensorDataset::get(int64_t i) const {
  KUN_CHECK(i >= 0 && i < size(), IndexError, "TensorDataset::get: index ", i, " out of range for ", size(),
            " examples");
  return {x_.select(0, i), y_.defined() ? y_.select(0, i) : Tensor()};
}

Example TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  return {gather_rows(x_, indices, "TensorDataset::get_batch"),
          y_.defined() ? gather_rows(y_, indices, "TensorDataset::get_batch") : Tensor()};
}

TensorDataset TensorDataset::subset(const std::vector<int64_t>& indices) const {
  if (!x_.defined()) return {};
  Example b = get_batch(indices);
  return TensorDataset(b.x, b.y);
}

}  // namespace kun::data
