// Dataset: a random-access collection of examples (x, y). Loaders ask for whole batches through
// get_batch(), which the in-memory TensorDataset answers with one memcpy per example.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun::data {

// One example, or a batch of them stacked along a new leading dim. y may be undefined (no labels).
struct Example {
  Tensor x;
  Tensor y;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example i; throws IndexError when i is outside [0, size()).
  virtual Example get(int64_t i) const = 0;
  // Examples at `indices` stacked: x (B, ...), y (B, ...). The default calls get() per index and
  // copies each into the batch; subclasses with contiguous storage override it with a gather.
  // Must be safe to call from a loader's worker thread while the caller does not mutate the dataset.
  virtual Example get_batch(const std::vector<int64_t>& indices) const;
};

// Examples held in memory: x (N, ...) and y (N, ...) or undefined. Both are made contiguous once
// at construction so a batch is a row gather. Copying a TensorDataset shares the tensors.
class TensorDataset : public Dataset {
 public:
  TensorDataset() = default;
  explicit TensorDataset(Tensor x, Tensor y = Tensor());

  int64_t size() const override { return x_.defined() ? x_.size(0) : 0; }
  Example get(int64_t i) const override;  // views into the stored tensors (no copy)
  Example get_batch(const std::vector<int64_t>& indices) const override;

  // A new dataset holding copies of the rows at `indices` (in that order).
  TensorDataset subset(const std::vector<int64_t>& indices) const;

  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_;  // (N, ...)
  Tensor y_;  // (N, ...) or undefined
};

// Copies rows `indices` of t (N, ...) into a new contiguous (B, ...) tensor; `op` names the
// caller in error messages. One memcpy per row when t is contiguous (else it is made so first).
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& indices, const char* op);

}  // namespace kun::data
