// Internal: strided N-operand loops shared by every elementwise-style kernel.
// Operands must already have the same shape (broadcast inputs with Tensor::expand first).
// Dims are coalesced, the work is split over threads by element ranges, and the innermost run
// is handed to the kernel with its byte strides so contiguous runs take a vectorizable path.
#pragma once
#include <array>
#include <cstdint>

#include "kun/core/threading.h"
#include "kun/tensor/tensor.h"

namespace kun::cpu {

// Elements per thread below which a loop stays single-threaded.
constexpr int64_t kGrain = 32768;

template <int N>
struct StridedIter {
  int ndim = 0;
  int64_t shape[Shape::kMaxDims];
  int64_t strides[N][Shape::kMaxDims];  // bytes
  char* base[N];
  int64_t numel = 1;
};

template <int N>
StridedIter<N> make_iter(const std::array<const Tensor*, N>& ts) {
  StridedIter<N> it;
  const Shape& shape = ts[0]->shape();
  for (int k = 0; k < N; ++k) {
    KUN_ASSERT(ts[k]->shape() == shape, "make_iter: operand shapes differ");
    it.base[k] = static_cast<char*>(ts[k]->raw_data());
  }
  it.numel = shape.numel();
  // keep dims of size != 1, innermost last
  int nd = 0;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    it.shape[nd] = shape[d];
    for (int k = 0; k < N; ++k)
      it.strides[k][nd] = ts[k]->strides()[d] * static_cast<int64_t>(ts[k]->element_size());
    ++nd;
  }
  // coalesce adjacent dims that are contiguous with each other in every operand
  int out = 0;
  for (int d = 0; d < nd; ++d) {
    if (out > 0) {
      bool ok = true;
      for (int k = 0; k < N; ++k)
        if (it.strides[k][out - 1] != it.strides[k][d] * it.shape[d]) ok = false;
      if (ok) {
        it.shape[out - 1] *= it.shape[d];
        for (int k = 0; k < N; ++k) it.strides[k][out - 1] = it.strides[k][d];
        continue;
      }
    }
    it.shape[out] = it.shape[d];
    for (int k = 0; k < N; ++k) it.strides[k][out] = it.strides[k][d];
    ++out;
  }
  if (out == 0) {  // scalar or all-ones shape
    it.shape[0] = 1;
    for (int k = 0; k < N; ++k) it.strides[k][0] = 0;
    out = 1;
  }
  it.ndim = out;
  return it;
}

// fn(char* const* ptrs, const int64_t* inner_strides_bytes, int64_t n)
template <int N, typename F>
void run_range(const StridedIter<N>& it, int64_t begin, int64_t end, const F& fn) {
  const int nd = it.ndim;
  const int64_t inner = it.shape[nd - 1];
  int64_t inner_strides[N];
  for (int k = 0; k < N; ++k) inner_strides[k] = it.strides[k][nd - 1];
  // multi-index of `begin` over the outer dims
  int64_t idx[Shape::kMaxDims] = {};
  int64_t outer = begin / inner, pos = begin % inner;
  for (int d = nd - 2; d >= 0; --d) {
    idx[d] = outer % it.shape[d];
    outer /= it.shape[d];
  }
  char* ptrs[N];
  int64_t i = begin;
  while (i < end) {
    for (int k = 0; k < N; ++k) {
      char* p = it.base[k];
      for (int d = 0; d < nd - 1; ++d) p += idx[d] * it.strides[k][d];
      ptrs[k] = p + pos * inner_strides[k];
    }
    int64_t n = std::min(inner - pos, end - i);
    fn(ptrs, inner_strides, n);
    i += n;
    pos = 0;
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < it.shape[d]) break;
      idx[d] = 0;
    }
  }
}

template <int N, typename F>
void run(const StridedIter<N>& it, const F& fn, int64_t grain = kGrain) {
  parallel_for(it.numel, grain, [&](int64_t b, int64_t e) { run_range<N>(it, b, e, fn); });
}

// out[i] = f(a[i]) with out and a of element types O and A.
template <typename O, typename A, typename F>
void unary_loop(const Tensor& out, const Tensor& a, const F& f, int64_t grain = kGrain) {
  auto it = make_iter<2>({&out, &a});
  run<2>(it, [&](char* const* p, const int64_t* s, int64_t n) {
    O* o = reinterpret_cast<O*>(p[0]);
    const A* x = reinterpret_cast<const A*>(p[1]);
    if (s[0] == sizeof(O) && s[1] == sizeof(A)) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else if (s[0] == sizeof(O) && s[1] == 0) {
      const O v = f(*x);
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<O*>(p[0] + i * s[0]) = f(*reinterpret_cast<const A*>(p[1] + i * s[1]));
    }
  }, grain);
}

// out[i] = f(a[i], b[i]).
template <typename O, typename A, typename B, typename F>
void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const F& f, int64_t grain = kGrain) {
  auto it = make_iter<3>({&out, &a, &b});
  run<3>(it, [&](char* const* p, const int64_t* s, int64_t n) {
    O* o = reinterpret_cast<O*>(p[0]);
    const A* x = reinterpret_cast<const A*>(p[1]);
    const B* y = reinterpret_cast<const B*>(p[2]);
    if (s[0] == sizeof(O) && s[1] == sizeof(A) && s[2] == sizeof(B)) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (s[0] == sizeof(O) && s[1] == sizeof(A) && s[2] == 0) {
      const B yv = *y;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (s[0] == sizeof(O) && s[1] == 0 && s[2] == sizeof(B)) {
      const A xv = *x;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<O*>(p[0] + i * s[0]) =
            f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]));
    }
  }, grain);
}

// out[i] = f(a[i], b[i], c[i]).
template <typename O, typename A, typename B, typename C, typename F>
void ternary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, const F& f,
                  int64_t grain = kGrain) {
  auto it = make_iter<4>({&out, &a, &b, &c});
  run<4>(it, [&](char* const* p, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(O) && s[1] == sizeof(A) && s[2] == sizeof(B) && s[3] == sizeof(C)) {
      O* o = reinterpret_cast<O*>(p[0]);
      const A* x = reinterpret_cast<const A*>(p[1]);
      const B* y = reinterpret_cast<const B*>(p[2]);
      const C* z = reinterpret_cast<const C*>(p[3]);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<O*>(p[0] + i * s[0]) =
            f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]),
              *reinterpret_cast<const C*>(p[3] + i * s[3]));
    }
  }, grain);
}

}  // namespace kun::cpu
