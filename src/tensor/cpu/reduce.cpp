// Reduction kernels.
#include <algorithm>

#include "kun/tensor/ops_reduce.h"
#include "loops.h"

namespace kun {

namespace {

// Normalized, sorted, unique reduce dims; empty input means all dims.
std::vector<int> reduce_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<int> out;
  if (dims.empty()) {
    for (int i = 0; i < x.dim(); ++i) out.push_back(i);
    return out;
  }
  for (int64_t d : dims) out.push_back(normalize_dim(d, x.dim(), op));
  std::sort(out.begin(), out.end());
  KUN_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), ValueError, op,
            ": a dim appears twice in the reduce dims");
  return out;
}

Shape reduced_shape(const Shape& s, const std::vector<int>& rd, bool keepdim) {
  Shape out;
  for (int i = 0; i < s.size(); ++i) {
    bool r = std::find(rd.begin(), rd.end(), i) != rd.end();
    if (!r) out.push_back(s[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

template <typename T>
void sum_kernel(const Tensor& x, const std::vector<int>& rd, Tensor& out_keep) {
  // out_keep has x's rank with reduced dims = 1; expand it to x's shape with stride 0 there.
  const int nd = x.dim();
  bool inner = !rd.empty();
  for (size_t i = 0; i < rd.size(); ++i)
    if (rd[rd.size() - 1 - i] != nd - 1 - static_cast<int>(i)) inner = false;
  if (inner && x.is_contiguous()) {
    int64_t cols = 1;
    for (int d : rd) cols *= x.shape()[d];
    int64_t rows = cols ? x.numel() / cols : out_keep.numel();
    const T* px = x.data<T>();
    T* po = out_keep.data<T>();
    parallel_for(rows, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* row = px + r * cols;
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t c = 0; c < cols; ++c) acc += row[c];
        po[r] = acc;
      }
    });
    return;
  }
  out_keep.zero_();
  Tensor o = out_keep.expand(x.shape());
  auto it = cpu::make_iter<2>({&o, &x});
  // Single pass; the output has stride 0 along reduced dims, so ranges must not be split across
  // threads when they share outputs: run sequentially (the general path).
  cpu::run_range<2>(it, 0, it.numel, [](char* const* p, const int64_t* s, int64_t n) {
    if (s[0] == 0) {
      T acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += *reinterpret_cast<const T*>(p[1] + i * s[1]);
      *reinterpret_cast<T*>(p[0]) += acc;
    } else if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* xx = reinterpret_cast<const T*>(p[1]);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] += xx[i];
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<T*>(p[0] + i * s[0]) += *reinterpret_cast<const T*>(p[1] + i * s[1]);
    }
  });
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  KUN_CHECK(x.defined(), ValueError, "sum: the input tensor is undefined");
  auto rd = reduce_dims(x, dims, "sum");
  Shape keep = reduced_shape(x.shape(), rd, true);
  DType dt = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor xx = x.dtype() == dt ? x : x.to(dt);
  Tensor out = Tensor::empty(keep, dt);
  KUN_DISPATCH_ALL(dt, "sum", [&] {
    if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double> ||
                  std::is_same_v<scalar_t, int64_t>)
      sum_kernel<scalar_t>(xx, rd, out);
  });
  return keepdim ? out : out.view(reduced_shape(x.shape(), rd, false));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  int lead = x.dim() - shape.size();
  KUN_CHECK(lead >= 0, ShapeError, "sum_to: cannot reduce shape ", x.shape(), " to a larger rank ", shape);
  std::vector<int64_t> dims;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      dims.push_back(i);
    } else {
      KUN_CHECK(shape[i - lead] == x.shape()[i], ShapeError, "sum_to: shape ", x.shape(),
                " does not broadcast from ", shape);
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace kun
