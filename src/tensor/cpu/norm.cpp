// Fused normalization kernels (layer_norm over rows, batch_norm over channels) and dropout.
// Variances are two-pass (mean first, then squared deviations), never E[x^2] - E[x]^2.
#include <cmath>
#include <type_traits>
#include <vector>

#include "kun/tensor/ops_norm.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include "loops.h"

namespace kun {

namespace {

void check_param(const Tensor& p, const Shape& want, DType dt, const char* op, const char* name) {
  if (!p.defined()) return;
  KUN_CHECK(p.shape() == want, ShapeError, op, ": expected ", name, " of shape ", want, ", got ", p.shape());
  KUN_CHECK(p.dtype() == dt, TypeError, op, ": expected ", name, " of dtype ", dt, " (the input's), got ", p.dtype());
}

// Splits `rows` into at most num_threads() blocks when the work is large enough to thread.
int64_t num_blocks(int64_t rows, int64_t work) {
  if (work < cpu::kGrain || rows < 2) return 1;
  return std::min<int64_t>(num_threads(), rows);
}

// ---------------- layer_norm ----------------

template <typename T>
void layer_norm_fwd(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows, int64_t M, T eps) {
  parallel_for(rows, std::max<int64_t>(1, cpu::kGrain / M), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const T* xr = x + r * M;
      T* yr = y + r * M;
      T s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < M; ++i) s += xr[i];
      const T mu = s / static_cast<T>(M);
      T v = 0;
#pragma omp simd reduction(+ : v)
      for (int64_t i = 0; i < M; ++i) v += (xr[i] - mu) * (xr[i] - mu);
      const T rs = T(1) / std::sqrt(v / static_cast<T>(M) + eps);
      mean[r] = mu;
      rstd[r] = rs;
      if (w && b) {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) yr[i] = (xr[i] - mu) * rs * w[i] + b[i];
      } else if (w) {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) yr[i] = (xr[i] - mu) * rs * w[i];
      } else if (b) {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) yr[i] = (xr[i] - mu) * rs + b[i];
      } else {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) yr[i] = (xr[i] - mu) * rs;
      }
    }
  });
}

// dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)) with gy = g * w; dw = sum_rows g * xhat; db = sum_rows g.
template <typename T>
void layer_norm_bwd(const T* g, const T* x, const T* mean, const T* rstd, const T* w, T* dx, T* dw, T* db, int64_t rows,
                    int64_t M) {
  const int64_t P = (dw || db) ? num_blocks(rows, rows * M) : 1;
  // per-block partial sums of dw / db, combined in block order afterwards
  std::vector<T> pdw(dw ? static_cast<size_t>(P * M) : 0, T(0)), pdb(db ? static_cast<size_t>(P * M) : 0, T(0));
  auto rows_fn = [&](int64_t rb, int64_t re, T* bdw, T* bdb) {
    for (int64_t r = rb; r < re; ++r) {
      const T* gr = g + r * M;
      const T* xr = x + r * M;
      const T mu = mean[r], rs = rstd[r];
      if (bdw) {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) bdw[i] += gr[i] * (xr[i] - mu) * rs;
      }
      if (bdb) {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) bdb[i] += gr[i];
      }
      if (!dx) continue;
      T sg = 0, sgx = 0;
      if (w) {
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t i = 0; i < M; ++i) {
          const T gy = gr[i] * w[i];
          sg += gy;
          sgx += gy * (xr[i] - mu);
        }
      } else {
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t i = 0; i < M; ++i) {
          sg += gr[i];
          sgx += gr[i] * (xr[i] - mu);
        }
      }
      const T a = sg / static_cast<T>(M);
      const T c = sgx * rs * rs / static_cast<T>(M);  // mean(gy * xhat) * rstd
      T* dr = dx + r * M;
      if (w) {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) dr[i] = rs * (gr[i] * w[i] - a - (xr[i] - mu) * c);
      } else {
#pragma omp simd
        for (int64_t i = 0; i < M; ++i) dr[i] = rs * (gr[i] - a - (xr[i] - mu) * c);
      }
    }
  };
  if (P == 1) {
    parallel_for(rows, (dw || db) ? rows + 1 : std::max<int64_t>(1, cpu::kGrain / M), [&](int64_t rb, int64_t re) {
      rows_fn(rb, re, dw ? pdw.data() : nullptr, db ? pdb.data() : nullptr);
    });
  } else {
    parallel_for(P, 1, [&](int64_t pb, int64_t pe) {
      for (int64_t p = pb; p < pe; ++p)
        rows_fn(rows * p / P, rows * (p + 1) / P, dw ? pdw.data() + p * M : nullptr, db ? pdb.data() + p * M : nullptr);
    });
  }
  for (int64_t i = 0; i < M; ++i) {
    if (dw) {
      T s = 0;
      for (int64_t p = 0; p < P; ++p) s += pdw[p * M + i];
      dw[i] = s;
    }
    if (db) {
      T s = 0;
      for (int64_t p = 0; p < P; ++p) s += pdb[p * M + i];
      db[i] = s;
    }
  }
}

// Checks x / normalized_shape and returns M = prod(normalized_shape).
int64_t check_layer_norm(const Tensor& x, const Shape& ns, const Tensor& w, const Tensor& b) {
  KUN_CHECK(x.defined(), ValueError, "layer_norm: the input is undefined");
  KUN_CHECK(is_floating(x.dtype()), TypeError, "layer_norm: expected a float32 or float64 input, got ", x.dtype());
  KUN_CHECK(ns.size() >= 1 && ns.size() <= x.dim(), ShapeError, "layer_norm: normalized_shape ", ns, " must be 1 to ",
            x.dim(), " trailing dims of the input shape ", x.shape());
  const int lead = x.dim() - ns.size();
  for (int k = 0; k < ns.size(); ++k)
    KUN_CHECK(x.shape()[lead + k] == ns[k], ShapeError, "layer_norm: normalized_shape ", ns,
              " must match the trailing dims of the input shape ", x.shape());
  KUN_CHECK(ns.numel() > 0, ShapeError, "layer_norm: normalized_shape ", ns, " has no elements");
  check_param(w, ns, x.dtype(), "layer_norm", "weight");
  check_param(b, ns, x.dtype(), "layer_norm", "bias");
  return ns.numel();
}

}  // namespace

LayerNormForward layer_norm_forward(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                                    const Tensor& bias, const LayerNormOptions& opt) {
  const int64_t M = check_layer_norm(x, normalized_shape, weight, bias);
  KUN_CHECK(opt.eps >= 0, ValueError, "layer_norm: eps must be >= 0, got ", opt.eps);
  const int64_t rows = x.numel() / M;
  Tensor xc = x.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight, b = bias.defined() ? bias.contiguous() : bias;
  LayerNormForward f{Tensor::empty(x.shape(), x.dtype()), Tensor::empty({rows}, x.dtype()),
                     Tensor::empty({rows}, x.dtype())};
  KUN_DISPATCH_FLOAT(x.dtype(), "layer_norm", [&] {
    using T = scalar_t;
    layer_norm_fwd<T>(xc.data<T>(), w.defined() ? w.data<T>() : nullptr, b.defined() ? b.data<T>() : nullptr,
                      f.y.data<T>(), f.mean.data<T>(), f.rstd.data<T>(), rows, M, static_cast<T>(opt.eps));
  });
  return f;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  const LayerNormOptions& opt) {
  return layer_norm_forward(x, normalized_shape, weight, bias, opt).y;
}

NormGrads layer_norm_backward(const Tensor& grad, const Tensor& x, const Shape& normalized_shape, const Tensor& mean,
                              const Tensor& rstd, const Tensor& weight, std::array<bool, 3> need) {
  const int64_t M = check_layer_norm(x, normalized_shape, weight, Tensor());
  KUN_CHECK(grad.shape() == x.shape() && grad.dtype() == x.dtype(), ShapeError,
            "layer_norm_backward: expected a gradient of shape ", x.shape(), " and dtype ", x.dtype(), ", got ",
            grad.shape(), " ", grad.dtype());
  const int64_t rows = x.numel() / M;
  KUN_CHECK(mean.numel() == rows && rstd.numel() == rows, ShapeError,
            "layer_norm_backward: expected mean and rstd with ", rows, " elements");
  Tensor g = grad.contiguous(), xc = x.contiguous(), mc = mean.contiguous(), rc = rstd.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight;
  NormGrads out;
  if (need[0]) out.dx = Tensor::empty(x.shape(), x.dtype());
  if (need[1] && weight.defined()) out.dweight = Tensor::empty(normalized_shape, x.dtype());
  if (need[2]) out.dbias = Tensor::empty(normalized_shape, x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "layer_norm_backward", [&] {
    using T = scalar_t;
    layer_norm_bwd<T>(g.data<T>(), xc.data<T>(), mc.data<T>(), rc.data<T>(), w.defined() ? w.data<T>() : nullptr,
                      out.dx.defined() ? out.dx.data<T>() : nullptr,
                      out.dweight.defined() ? out.dweight.data<T>() : nullptr,
                      out.dbias.defined() ? out.dbias.data<T>() : nullptr, rows, M);
  });
  return out;
}

// ---------------- batch_norm ----------------

namespace {

// x viewed as (N, C, L), contiguous.
struct BNDims {
  int64_t N, C, L;
};

BNDims check_batch_norm(const Tensor& x, const Tensor& rm, const Tensor& rv, const Tensor& w, const Tensor& b,
                        const BatchNormOptions& opt) {
  KUN_CHECK(x.defined(), ValueError, "batch_norm: the input is undefined");
  KUN_CHECK(is_floating(x.dtype()), TypeError, "batch_norm: expected a float32 or float64 input, got ", x.dtype());
  KUN_CHECK(x.dim() >= 2 && x.dim() <= 5, ShapeError,
            "batch_norm: input must be (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W), got ", x.shape());
  BNDims d{x.shape()[0], x.shape()[1], 1};
  for (int k = 2; k < x.dim(); ++k) d.L *= x.shape()[k];
  const Shape cs{d.C};
  check_param(rm, cs, x.dtype(), "batch_norm", "running_mean");
  check_param(rv, cs, x.dtype(), "batch_norm", "running_var");
  check_param(w, cs, x.dtype(), "batch_norm", "weight");
  check_param(b, cs, x.dtype(), "batch_norm", "bias");
  KUN_CHECK(opt.eps >= 0, ValueError, "batch_norm: eps must be >= 0, got ", opt.eps);
  if (opt.training) {
    KUN_CHECK(d.N * d.L > 1, ValueError, "batch_norm: training needs more than 1 value per channel, got input shape ",
              x.shape());
    KUN_CHECK(rm.defined() == rv.defined(), ValueError,
              "batch_norm: pass both running_mean and running_var or neither");
  } else {
    KUN_CHECK(rm.defined() && rv.defined(), ValueError,
              "batch_norm: eval mode (training=false) needs running_mean and running_var, got undefined tensors");
  }
  return d;
}

}  // namespace

namespace {
template <typename T>
void batch_norm_fwd(const Tensor& xc, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                    const Tensor& bias, const BatchNormOptions& opt, const BNDims& d, BatchNormForward& f) {
  const T* px = xc.data<T>();
  T* py = f.y.data<T>();
  T* pm = f.mean.data<T>();
  T* pr = f.rstd.data<T>();
  const T* pw = weight.defined() ? weight.data<T>() : nullptr;
  const T* pb = bias.defined() ? bias.data<T>() : nullptr;
  const int64_t ws = weight.defined() ? weight.strides()[0] : 0, bs = bias.defined() ? bias.strides()[0] : 0;
  T* rm = running_mean.defined() ? running_mean.data<T>() : nullptr;
  T* rv = running_var.defined() ? running_var.data<T>() : nullptr;
  const int64_t rms = rm ? running_mean.strides()[0] : 0, rvs = rv ? running_var.strides()[0] : 0;
  const int64_t cnt = d.N * d.L;
  const double mom = opt.momentum;
  parallel_for(d.C, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(cnt, 1)), [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      double mu, var;
      if (opt.training) {
        double s = 0;  // double accumulators: a channel can hold millions of values
        for (int64_t n = 0; n < d.N; ++n) {
          const T* row = px + (n * d.C + c) * d.L;
          double rs = 0;
#pragma omp simd reduction(+ : rs)
          for (int64_t i = 0; i < d.L; ++i) rs += row[i];
          s += rs;
        }
        mu = s / static_cast<double>(cnt);
        double v = 0;
        for (int64_t n = 0; n < d.N; ++n) {
          const T* row = px + (n * d.C + c) * d.L;
          double rs = 0;
#pragma omp simd reduction(+ : rs)
          for (int64_t i = 0; i < d.L; ++i) rs += (row[i] - mu) * (row[i] - mu);
          v += rs;
        }
        var = v / static_cast<double>(cnt);
        if (rm) {
          rm[c * rms] = static_cast<T>((1 - mom) * rm[c * rms] + mom * mu);
          rv[c * rvs] = static_cast<T>((1 - mom) * rv[c * rvs] + mom * var * cnt / static_cast<double>(cnt - 1));
        }
      } else {
        mu = rm[c * rms];
        var = rv[c * rvs];
      }
      const double rs = 1.0 / std::sqrt(var + opt.eps);
      pm[c] = static_cast<T>(mu);
      pr[c] = static_cast<T>(rs);
      // y = x * scale + shift
      const double scale = rs * (pw ? static_cast<double>(pw[c * ws]) : 1.0);
      const T sc = static_cast<T>(scale);
      const T sh = static_cast<T>((pb ? static_cast<double>(pb[c * bs]) : 0.0) - mu * scale);
      for (int64_t n = 0; n < d.N; ++n) {
        const T* row = px + (n * d.C + c) * d.L;
        T* yrow = py + (n * d.C + c) * d.L;
#pragma omp simd
        for (int64_t i = 0; i < d.L; ++i) yrow[i] = row[i] * sc + sh;
      }
    }
  });
}
}  // namespace

BatchNormForward batch_norm_forward(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                    const Tensor& weight, const Tensor& bias, const BatchNormOptions& opt) {
  const BNDims d = check_batch_norm(x, running_mean, running_var, weight, bias, opt);
  Tensor xc = x.contiguous();
  BatchNormForward f{Tensor::empty(x.shape(), x.dtype()), Tensor::empty({d.C}, x.dtype()),
                     Tensor::empty({d.C}, x.dtype())};
  KUN_DISPATCH_FLOAT(x.dtype(), "batch_norm",
                     [&] { batch_norm_fwd<scalar_t>(xc, running_mean, running_var, weight, bias, opt, d, f); });
  return f;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, const BatchNormOptions& opt) {
  return batch_norm_forward(x, running_mean, running_var, weight, bias, opt).y;
}

namespace {
template <typename T>
void batch_norm_bwd(const Tensor& g, const Tensor& xc, const Tensor& mc, const Tensor& rc, const Tensor& w,
                    bool training, const BNDims& d, NormGrads& out) {
  const T *pg = g.data<T>(), *px = xc.data<T>(), *pm = mc.data<T>(), *pr = rc.data<T>();
  const T* pw = w.defined() ? w.data<T>() : nullptr;
  T* pdx = out.dx.defined() ? out.dx.data<T>() : nullptr;
  T* pdw = out.dweight.defined() ? out.dweight.data<T>() : nullptr;
  T* pdb = out.dbias.defined() ? out.dbias.data<T>() : nullptr;
  const int64_t cnt = d.N * d.L;
  parallel_for(d.C, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(cnt, 1)), [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const double mu = pm[c], rs = pr[c];
      double sg = 0, sgx = 0;  // sum g, sum g * (x - mean)
      for (int64_t n = 0; n < d.N; ++n) {
        const T* grow = pg + (n * d.C + c) * d.L;
        const T* xrow = px + (n * d.C + c) * d.L;
        double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
        for (int64_t i = 0; i < d.L; ++i) {
          a += grow[i];
          b += grow[i] * (xrow[i] - mu);
        }
        sg += a;
        sgx += b;
      }
      if (pdb) pdb[c] = static_cast<T>(sg);
      if (pdw) pdw[c] = static_cast<T>(sgx * rs);
      if (!pdx) continue;
      const double wv = pw ? static_cast<double>(pw[c]) : 1.0;
      // training: dx = w * rstd * (g - mean(g) - (x - mean) * rstd^2 * mean(g * (x - mean)))
      // eval:     dx = w * rstd * g (the statistics are constants)
      const T k = static_cast<T>(wv * rs);
      const T mg = training ? static_cast<T>(sg / static_cast<double>(cnt)) : T(0);
      const T kx = training ? static_cast<T>(rs * rs * sgx / static_cast<double>(cnt)) : T(0);
      const T m = static_cast<T>(mu);
      for (int64_t n = 0; n < d.N; ++n) {
        const T* grow = pg + (n * d.C + c) * d.L;
        const T* xrow = px + (n * d.C + c) * d.L;
        T* drow = pdx + (n * d.C + c) * d.L;
#pragma omp simd
        for (int64_t i = 0; i < d.L; ++i) drow[i] = k * (grow[i] - mg - (xrow[i] - m) * kx);
      }
    }
  });
}
}  // namespace

NormGrads batch_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, bool training, std::array<bool, 3> need) {
  KUN_CHECK(x.defined() && x.dim() >= 2, ShapeError, "batch_norm_backward: expected an input (N, C, ...), got ",
            x.defined() ? x.shape() : Shape{});
  KUN_CHECK(grad.shape() == x.shape() && grad.dtype() == x.dtype(), ShapeError,
            "batch_norm_backward: expected a gradient of shape ", x.shape(), " and dtype ", x.dtype(), ", got ",
            grad.shape(), " ", grad.dtype());
  BNDims d{x.shape()[0], x.shape()[1], 1};
  for (int k = 2; k < x.dim(); ++k) d.L *= x.shape()[k];
  const Shape cs{d.C};
  check_param(mean, cs, x.dtype(), "batch_norm_backward", "mean");
  check_param(rstd, cs, x.dtype(), "batch_norm_backward", "rstd");
  check_param(weight, cs, x.dtype(), "batch_norm_backward", "weight");
  Tensor g = grad.contiguous(), xc = x.contiguous(), mc = mean.contiguous(), rc = rstd.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight;
  NormGrads out;
  if (need[0]) out.dx = Tensor::empty(x.shape(), x.dtype());
  if (need[1] && weight.defined()) out.dweight = Tensor::empty(cs, x.dtype());
  if (need[2]) out.dbias = Tensor::empty(cs, x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "batch_norm_backward",
                     [&] { batch_norm_bwd<scalar_t>(g, xc, mc, rc, w, training, d, out); });
  return out;
}

// ---------------- dropout ----------------

namespace {
// philox(key, ctr0 + l) for the lanes l = 0..7 in element order: out[4 * l + j] is word j of lane
// l, the same bits as eight scalar calls (AVX2: eight lanes per register).
inline void philox8(uint64_t key, uint64_t ctr0, uint32_t out[32]) {
#if defined(__AVX2__)
  // 8 lanes of 32 bits per register; _mm256_mul_epu32 multiplies the even lanes, so the odd lanes
  // are shifted down for a second multiply and the halves blended back.
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53u), m1 = _mm256_set1_epi64x(0xCD9E8D57u);
  alignas(32) uint32_t lo32[8], hi32[8];
  for (int l = 0; l < 8; ++l) {
    const uint64_t c = ctr0 + static_cast<uint64_t>(l);
    lo32[l] = static_cast<uint32_t>(c), hi32[l] = static_cast<uint32_t>(c >> 32);
  }
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo32));
  __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi32));
  __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  auto mul_hi_lo = [](__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
    const __m256i pe = _mm256_mul_epu32(a, m);                         // even lanes, 64-bit products
    const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // odd lanes
    hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  };
  for (int r = 0; r < 10; ++r) {
    __m256i hi0, lo0, hi1, lo1;
    mul_hi_lo(c0, m0, hi0, lo0);
    mul_hi_lo(c2, m1, hi1, lo1);
    const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c1 = lo1;
    c3 = lo0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  // 4 x 8 transpose into element order.
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);  // lanes 0|4, 1|5
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);  // lanes 2|6, 3|7
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(u0, u1, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), _mm256_permute2x128_si256(u2, u3, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16), _mm256_permute2x128_si256(u0, u1, 0x31));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 24), _mm256_permute2x128_si256(u2, u3, 0x31));
#else
  uint32_t c0[8], c1[8], c2[8], c3[8];
  for (int l = 0; l < 8; ++l) {
    const uint64_t c = ctr0 + static_cast<uint64_t>(l);
    c0[l] = static_cast<uint32_t>(c), c1[l] = static_cast<uint32_t>(c >> 32), c2[l] = 0, c3[l] = 0;
  }
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    for (int l = 0; l < 8; ++l) {
      const uint64_t p0 = uint64_t{0xD2511F53u} * c0[l], p1 = uint64_t{0xCD9E8D57u} * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = static_cast<uint32_t>(p1);
      c3[l] = static_cast<uint32_t>(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int l = 0; l < 8; ++l) out[4 * l] = c0[l], out[4 * l + 1] = c1[l], out[4 * l + 2] = c2[l], out[4 * l + 3] = c3[l];
#endif
}
// out[j] = (w[j] >> 8) >= thr ? x[j] * scale : 0 for j < 32 (the integer form of
// u32_to_unit_float(w) >= p), branch-free.
template <typename T>
inline void select32(const uint32_t* w, uint32_t thr, T scale, const T* x, T* out) {
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float>) {
    // (w >> 8) < 2^24, so a signed compare with thr - 1 is exact (thr >= 0; thr == 0 keeps all).
    const __m256i th = _mm256_set1_epi32(static_cast<int>(thr) - 1);
    const __m256 sc = _mm256_set1_ps(scale);
    for (int j = 0; j < 32; j += 8) {
      const __m256i v = _mm256_srli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + j)), 8);
      const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(v, th));
      _mm256_storeu_ps(out + j, _mm256_and_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j), sc), keep));
    }
    return;
  }
#endif
  for (int j = 0; j < 32; ++j) out[j] = (w[j] >> 8) >= thr ? x[j] * scale : T(0);
}
}  // namespace

Tensor dropout_masked(const Tensor& x, double p, uint64_t key, uint64_t offset) {
  KUN_CHECK(x.defined(), ValueError, "dropout: the input is undefined");
  KUN_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout: p must be in [0, 1], got ", p);
  if (p >= 1.0) return zeros(x.shape(), x.dtype());
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.numel();
  const int64_t blocks = (n + 3) / 4;  // one Philox block gives the draws of 4 consecutive elements
  const float pf = static_cast<float>(p);
  // u32_to_unit_float(w) = (w >> 8) * 2^-24 exactly, so it is >= pf iff (w >> 8) >= ceil(pf * 2^24).
  const auto thr = static_cast<uint32_t>(std::ceil(static_cast<double>(pf) * 16777216.0));
  KUN_DISPATCH_FLOAT(x.dtype(), "dropout", [&] {
    using T = scalar_t;
    const T scale = static_cast<T>(1.0 / (1.0 - p));
    const T* px = xc.data<T>();
    T* po = out.data<T>();
    parallel_for(blocks, 4096, [&](int64_t b, int64_t e) {
      int64_t blk = b;
      // Eight blocks (32 elements) at a time through the lane-parallel Philox (vectorized), then the rest.
      alignas(32) uint32_t w32[32];
      for (; blk + 8 <= e; blk += 8) {
        philox8(key, offset + static_cast<uint64_t>(blk), w32);
        const int64_t i0 = blk * 4, m = std::min<int64_t>(32, n - i0);
        if (m == 32) {
          // Branch-free (vectorizable): the integer form of u32_to_unit_float(w) >= pf.
          select32(w32, thr, scale, px + i0, po + i0);
        } else {
          for (int64_t j = 0; j < m; ++j) po[i0 + j] = u32_to_unit_float(w32[j]) >= pf ? px[i0 + j] * scale : T(0);
        }
      }
      for (; blk < e; ++blk) {
        const auto w = philox(key, offset + static_cast<uint64_t>(blk));
        const int64_t i0 = blk * 4, m = std::min<int64_t>(4, n - i0);
        for (int64_t j = 0; j < m; ++j) po[i0 + j] = u32_to_unit_float(w[j]) >= pf ? px[i0 + j] * scale : T(0);
      }
    });
  });
  return out;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  KUN_CHECK(x.defined(), ValueError, "dropout: the input is undefined");
  KUN_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout: p must be in [0, 1], got ", p);
  KUN_CHECK(is_floating(x.dtype()), TypeError, "dropout: expected a float32 or float64 input, got ", x.dtype());
  if (!training || p == 0.0) return x;
  Generator& g = gen ? *gen : default_generator();
  const uint64_t offset = g.reserve(static_cast<uint64_t>((x.numel() + 3) / 4));
  return dropout_masked(x, p, g.seed(), offset);
}

}  // namespace kun
