// Tensor: a typed, strided view over shared Storage. Copying a Tensor is cheap (it shares the
// buffer); views (view, permute, narrow, expand, ...) never copy; clone() and contiguous() do.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "kun/core/dtype.h"
#include "kun/core/error.h"
#include "kun/core/rng.h"
#include "kun/core/shape.h"
#include "kun/tensor/storage.h"

namespace kun {

class Tensor {
 public:
  Tensor() = default;  // undefined tensor; defined() is false
  Tensor(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides, int64_t offset, DType dtype);

  // Uninitialized contiguous tensor.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  int dim() const { return shape_.size(); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  size_t element_size() const { return dtype_size(dtype_); }
  int64_t offset() const { return offset_; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Raw pointer to the first element (offset applied).
  void* raw_data() const {
    return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(element_size());
  }
  // Typed pointer; throws TypeError if T does not match dtype().
  template <typename T>
  T* data() const {
    check_dtype(dtype_v<T>, "data<T>()");
    return static_cast<T*>(raw_data());
  }

  // ---- views (no copy) ----
  Tensor view(const Shape& shape) const;     // one dim may be -1; needs compatible strides
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a contiguous copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // end clamps; negatives wrap
  Tensor select(int64_t dim, int64_t index) const;  // removes dim
  Tensor expand(const Shape& shape) const;          // broadcast to shape; -1 keeps a dim
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- copies ----
  Tensor contiguous() const;  // this tensor if already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(DType dtype) const;
  Tensor& copy_(const Tensor& src);  // src is broadcast to this shape and converted to this dtype
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // ---- element access ----
  template <typename T>
  T item() const;  // value of a one-element tensor converted to T
  double item_double() const;
  template <typename T>
  std::vector<T> to_vector() const;  // all elements in row-major order converted to T

  std::string str(int max_per_dim = 6) const;

  // Throws TypeError naming `op` unless dtype() == want.
  void check_dtype(DType want, const char* op) const;

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories ----
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
Tensor scalar_tensor(double value, DType dtype = DType::f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
Tensor arange(int64_t n, DType dtype = DType::i64);
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32);
Tensor eye(int64_t n, DType dtype = DType::f32);

// From a flat std::vector (row-major); throws ShapeError if the size does not match.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
Tensor tensor(std::initializer_list<float> values);  // 1-D float32 convenience

// ---- random (seeded, identical for any thread count) ----
Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);   // U[0, 1)
Tensor uniform(const Shape& shape, double lo, double hi, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);  // N(0, 1)
Tensor normal(const Shape& shape, double mean, double stddev, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::i64, Generator* gen = nullptr);
Tensor randperm(int64_t n, Generator* gen = nullptr);  // int64

// True when both have the same shape and every element is within atol + rtol * |b|.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

}  // namespace kun
