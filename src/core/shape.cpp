#include "kun/core/shape.h"

#include <sstream>

namespace kun {

void Shape::insert(int pos, int64_t v) {
  KUN_CHECK(n_ < kMaxDims, ShapeError, "tensors have at most ", kMaxDims, " dimensions");
  KUN_ASSERT(pos >= 0 && pos <= n_);
  for (int i = n_; i > pos; --i) d_[i] = d_[i - 1];
  d_[pos] = v;
  ++n_;
}

void Shape::erase(int pos) {
  KUN_ASSERT(pos >= 0 && pos < n_);
  for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
  --n_;
}

void Shape::resize(int n, int64_t fill) {
  KUN_CHECK(n >= 0 && n <= kMaxDims, ShapeError, "tensors have at most ", kMaxDims, " dimensions, asked for ", n);
  for (int i = n_; i < n; ++i) d_[i] = fill;
  n_ = n;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << "(";
  for (int i = 0; i < n_; ++i) os << (i ? ", " : "") << d_[i];
  if (n_ == 1) os << ",";
  os << ")";
  return os.str();
}

Shape contiguous_strides(const Shape& shape) {
  Shape s;
  s.resize(shape.size());
  int64_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape[i] > 0 ? shape[i] : 1;
  }
  return s;
}

int normalize_dim(int64_t dim, int ndim, const char* op) {
  int64_t lo = -std::max(ndim, 1), hi = std::max(ndim, 1) - 1;
  KUN_CHECK(dim >= lo && dim <= hi, IndexError, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
            " dimension(s); expected a dim in [", lo, ", ", hi, "]");
  return static_cast<int>(dim < 0 ? dim + std::max(ndim, 1) : dim);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int n = std::max(a.size(), b.size());
  Shape out;
  out.resize(n);
  for (int i = 0; i < n; ++i) {
    int ia = a.size() - n + i, ib = b.size() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    KUN_CHECK(da == db || da == 1 || db == 1, ShapeError, op, ": shapes ", a, " and ", b,
              " cannot be broadcast together (dim ", i, ": ", da, " vs ", db,
              "); each dim must match or be 1");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace kun
