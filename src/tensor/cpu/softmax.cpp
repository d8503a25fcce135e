// softmax / log_softmax and their backward kernels, fused: one read of the row for the max,
// one for exp-and-sum (writing exp(x - max) into the output), one to scale. The input is viewed as
// (outer, C, inner) with C the softmax dim. inner == 1 (last dim) works row by row on contiguous
// memory; otherwise a block of up to kBlock inner positions is processed together so every
// access stays contiguous along inner and vectorizes.
// Branch-free clamps and selects (exp_fast, NaN-aware max) only vectorize when GCC may assume
// floating-point compares do not trap; kun never enables FP exceptions. Set for the whole file
// before any include so every inlined function sees the same options.
#pragma GCC optimize("no-trapping-math")
#include <algorithm>
#include <cmath>

#include "kun/tensor/ops.h"
#include "loops.h"
#include "reduce_math.h"

namespace kun {

namespace {

constexpr int64_t kBlock = 64;

struct Layout {
  int dim;
  int64_t outer = 1, C = 1, inner = 1;
};

Layout layout_of(const Shape& s, int64_t dim, const char* op) {
  Layout l;
  l.dim = s.size() == 0 ? 0 : normalize_dim(dim, s.size(), op);
  if (s.size() == 0) return l;  // a scalar is a single row of one element
  for (int d = 0; d < l.dim; ++d) l.outer *= s[d];
  l.C = s[l.dim];
  for (int d = l.dim + 1; d < s.size(); ++d) l.inner *= s[d];
  return l;
}

template <typename T, bool log>
void softmax_kernel(const T* x, T* y, const Layout& l) {
  const int64_t C = l.C, inner = l.inner;
  if (inner == 1) {
    parallel_for(l.outer, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* xr = x + r * C;
        T* yr = y + r * C;
        const T m = cpu::max_contiguous(xr, C);
        T s = 0;
        if constexpr (log) {
#pragma omp simd reduction(+ : s)
          for (int64_t c = 0; c < C; ++c) s += cpu::exp_fast(xr[c] - m);
          // (x - m) - log(s), in that order: m + log(s) would round away log(s) when |m| is huge
          const T ls = std::log(s);
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) - ls;
        } else {
          // map then sum in separate loops: each vectorizes cleanly (the row is still in L1)
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) yr[c] = cpu::exp_fast(xr[c] - m);
#pragma omp simd reduction(+ : s)
          for (int64_t c = 0; c < C; ++c) s += yr[c];
          const T inv = T(1) / s;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
        }
      }
    });
    return;
  }
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  parallel_for(l.outer * blocks, std::max<int64_t>(1, cpu::kGrain / (C * std::min(inner, kBlock))),
               [&](int64_t b, int64_t e) {
                 T m[kBlock], s[kBlock];
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / blocks, j0 = (t % blocks) * kBlock, nj = std::min(kBlock, inner - j0);
                   const T* xb = x + o * C * inner + j0;
                   T* yb = y + o * C * inner + j0;
                   for (int64_t j = 0; j < nj; ++j) {
                     m[j] = -std::numeric_limits<T>::infinity();
                     s[j] = 0;
                   }
                   for (int64_t c = 0; c < C; ++c) {
#pragma omp simd
                     for (int64_t j = 0; j < nj; ++j) m[j] = std::max(m[j], xb[c * inner + j]);
                   }
                   for (int64_t c = 0; c < C; ++c) {
#pragma omp simd
                     for (int64_t j = 0; j < nj; ++j) {
                       T v = cpu::exp_fast(xb[c * inner + j] - m[j]);
                       if constexpr (!log) yb[c * inner + j] = v;
                       s[j] += v;
                     }
                   }
                   if constexpr (log) {
                     for (int64_t j = 0; j < nj; ++j) s[j] = std::log(s[j]);
                     for (int64_t c = 0; c < C; ++c) {
#pragma omp simd
                       for (int64_t j = 0; j < nj; ++j) yb[c * inner + j] = (xb[c * inner + j] - m[j]) - s[j];
                     }
                   } else {
                     for (int64_t j = 0; j < nj; ++j) s[j] = T(1) / s[j];
                     for (int64_t c = 0; c < C; ++c) {
#pragma omp simd
                       for (int64_t j = 0; j < nj; ++j) yb[c * inner + j] *= s[j];
                     }
                   }
                 }
               });
}

// softmax:     gx = y * (g - sum(g * y))
// log_softmax: gx = g - exp(y) * sum(g)
template <typename T, bool log>
void softmax_backward_kernel(const T* g, const T* y, T* gx, const Layout& l) {
  const int64_t C = l.C, inner = l.inner;
  if (inner == 1) {
    parallel_for(l.outer, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* gr = g + r * C;
        const T* yr = y + r * C;
        T* dr = gx + r * C;
        T s = 0;
        if constexpr (log) {
#pragma omp simd reduction(+ : s)
          for (int64_t c = 0; c < C; ++c) s += gr[c];
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) dr[c] = gr[c] - cpu::exp_fast(yr[c]) * s;
        } else {
#pragma omp simd reduction(+ : s)
          for (int64_t c = 0; c < C; ++c) s += gr[c] * yr[c];
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) dr[c] = yr[c] * (gr[c] - s);
        }
      }
    });
    return;
  }
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  parallel_for(l.outer * blocks, std::max<int64_t>(1, cpu::kGrain / (C * std::min(inner, kBlock))),
               [&](int64_t b, int64_t e) {
                 T s[kBlock];
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / blocks, j0 = (t % blocks) * kBlock, nj = std::min(kBlock, inner - j0);
                   const int64_t base = o * C * inner + j0;
                   for (int64_t j = 0; j < nj; ++j) s[j] = 0;
                   for (int64_t c = 0; c < C; ++c) {
                     const T* gr = g + base + c * inner;
                     const T* yr = y + base + c * inner;
#pragma omp simd
                     for (int64_t j = 0; j < nj; ++j) s[j] += log ? gr[j] : gr[j] * yr[j];  // log: compile-time
                   }
                   for (int64_t c = 0; c < C; ++c) {
                     const T* gr = g + base + c * inner;
                     const T* yr = y + base + c * inner;
                     T* dr = gx + base + c * inner;
                     if constexpr (log) {
#pragma omp simd
                       for (int64_t j = 0; j < nj; ++j) dr[j] = gr[j] - cpu::exp_fast(yr[j]) * s[j];
                     } else {
#pragma omp simd
                       for (int64_t j = 0; j < nj; ++j) dr[j] = yr[j] * (gr[j] - s[j]);
                     }
                   }
                 }
               });
}

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log, const char* name) {
  KUN_CHECK(x.defined(), ValueError, name, ": the input tensor is undefined");
  Layout l = layout_of(x.shape(), dim, name);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), name, [&] {
    if (log) softmax_kernel<scalar_t, true>(xc.data<scalar_t>(), y.data<scalar_t>(), l);
    else softmax_kernel<scalar_t, false>(xc.data<scalar_t>(), y.data<scalar_t>(), l);
  });
  return y;
}

Tensor softmax_backward_impl(const Tensor& g, const Tensor& y, int64_t dim, bool log, const char* name) {
  KUN_CHECK(g.shape() == y.shape(), ShapeError, name, ": grad shape ", g.shape(), " does not match output shape ",
            y.shape());
  KUN_CHECK(g.dtype() == y.dtype(), TypeError, name, ": grad dtype ", g.dtype(), " differs from output dtype ",
            y.dtype());
  Layout l = layout_of(y.shape(), dim, name);
  Tensor gc = g.contiguous(), yc = y.contiguous();
  Tensor gx = Tensor::empty(y.shape(), y.dtype());
  KUN_DISPATCH_FLOAT(y.dtype(), name, [&] {
    using T = scalar_t;
    if (log) softmax_backward_kernel<T, true>(gc.data<T>(), yc.data<T>(), gx.data<T>(), l);
    else softmax_backward_kernel<T, false>(gc.data<T>(), yc.data<T>(), gx.data<T>(), l);
  });
  return gx;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true, "log_softmax"); }
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return softmax_backward_impl(grad_y, y, dim, false, "softmax_backward");
}
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return softmax_backward_impl(grad_y, y, dim, true, "log_softmax_backward");
}

}  // namespace kun
