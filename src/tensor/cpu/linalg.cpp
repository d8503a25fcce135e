// Matrix products on OpenBLAS. Every product reduces to row-major GEMM calls; a 2-D operand whose
// strides describe a transposed matrix is passed with CblasTrans and its leading dimension instead
// of being copied, and only genuinely irregular views (stride 0, steps) are made contiguous.
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kun/core/threading.h"
#include "kun/tensor/ops_linalg.h"

namespace kun {

namespace {

// How one 2-D operand (R, C) reaches BLAS: a base pointer, whether it is stored transposed, and
// its leading dimension. `hold` keeps a contiguous copy alive when the view had to be copied.
struct BlasOperand {
  const char* base = nullptr;  // first element of the first matrix
  bool trans = false;
  int64_t ld = 1;
  Tensor hold;
};

// rows/cols strides of the last two dims of `m` (a view of shape (..., R, C)).
BlasOperand blas_operand(const Tensor& m) {
  const int n = m.dim();
  const int64_t R = m.size(n - 2), C = m.size(n - 1);
  const int64_t sR = m.strides()[n - 2], sC = m.strides()[n - 1];
  BlasOperand op;
  if ((C == 1 || sC == 1) && (R == 1 || sR >= std::max<int64_t>(C, 1))) {
    op.trans = false;
    op.ld = R == 1 ? std::max<int64_t>(C, 1) : std::max<int64_t>(sR, 1);
  } else if ((R == 1 || sR == 1) && (C == 1 || sC >= std::max<int64_t>(R, 1))) {
    op.trans = true;
    op.ld = C == 1 ? std::max<int64_t>(R, 1) : std::max<int64_t>(sC, 1);
  } else {
    return op;  // base == nullptr: caller must copy
  }
  op.base = static_cast<const char*>(m.raw_data());
  return op;
}

// y[r] = beta * y[r] + dot(A[r, :], x) for r in [0, R): A (R, C) row-major with leading dimension
// ld, x contiguous. OpenBLAS's sgemv runs this on one thread and with a generic unroll; here four
// rows share each load of x, eight accumulators keep both FMA pipes busy, and the rows are split
// over the threads, so the product runs at the cache bandwidth of every core (a batch-1 Dense
// layer is nothing but this stream of its weight).
void sgemv_rows(int64_t R, int64_t C, const float* A, int64_t ld, const float* x, float beta, float* y) {
  auto hsum = [](__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  };
  auto finish = [&](int64_t r, float dot) { y[r] = beta == 0.0f ? dot : beta * y[r] + dot; };
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1));
  parallel_for(R, grain, [&](int64_t r0, int64_t r1) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
      const float* a0 = A + r * ld;
      const float* a1 = a0 + ld;
      const float* a2 = a1 + ld;
      const float* a3 = a2 + ld;
      __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
      int64_t c = 0;
      for (; c + 16 <= C; c += 16) {
        const __m256 xa = _mm256_loadu_ps(x + c), xb = _mm256_loadu_ps(x + c + 8);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + c), xa, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + c), xa, s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a2 + c), xa, s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a3 + c), xa, s3);
        t0 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + c + 8), xb, t0);
        t1 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + c + 8), xb, t1);
        t2 = _mm256_fmadd_ps(_mm256_loadu_ps(a2 + c + 8), xb, t2);
        t3 = _mm256_fmadd_ps(_mm256_loadu_ps(a3 + c + 8), xb, t3);
      }
      float d0 = hsum(_mm256_add_ps(s0, t0)), d1 = hsum(_mm256_add_ps(s1, t1));
      float d2 = hsum(_mm256_add_ps(s2, t2)), d3 = hsum(_mm256_add_ps(s3, t3));
      for (; c < C; ++c) {
        d0 += a0[c] * x[c];
        d1 += a1[c] * x[c];
        d2 += a2[c] * x[c];
        d3 += a3[c] * x[c];
      }
      finish(r, d0);
      finish(r + 1, d1);
      finish(r + 2, d2);
      finish(r + 3, d3);
    }
    for (; r < r1; ++r) {
      const float* a = A + r * ld;
      __m256 s = _mm256_setzero_ps();
      int64_t c = 0;
      for (; c + 8 <= C; c += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(a + c), _mm256_loadu_ps(x + c), s);
      float d = hsum(s);
      for (; c < C; ++c) d += a[c] * x[c];
      finish(r, d);
    }
  });
}

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
          T beta, T* C, int64_t ldc) {
  const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  // A single row or column is a matrix-vector product: GEMM would first pack the whole matrix
  // (for a batch-1 Dense(5408 -> 128) the packing copy alone was 44% of the time), GEMV streams it once.
  if (M == 1 || N == 1) {
    // M == 1: c (1, N) = a (1, K) @ op(B) (K, N)  ->  c = op(B)^T a; a's step is lda when stored transposed.
    // N == 1: c (M, 1) = op(A) (M, K) @ b (K, 1)  ->  c = op(A) b; b's step is ldb unless stored transposed.
    const bool row = M == 1;
    const T* mat = row ? B : A;
    const T* vec = row ? A : B;
    const int64_t ld = row ? ldb : lda;
    const int64_t inc = row ? (ta ? lda : 1) : (tb ? 1 : ldb);
    const int64_t incc = row ? 1 : ldc;
    // Row-major storage of the matrix: (K, N) or (N, K) for B, (M, K) or (K, M) for A.
    const bool stored_trans = row ? tb : ta;
    const auto TM = row ? (stored_trans ? CblasNoTrans : CblasTrans) : (stored_trans ? CblasTrans : CblasNoTrans);
    const int64_t rows = row ? (stored_trans ? N : K) : (stored_trans ? K : M);
    const int64_t cols = row ? (stored_trans ? K : N) : (stored_trans ? M : K);
    if constexpr (std::is_same_v<T, float>) {
      if (TM == CblasNoTrans && inc == 1 && incc == 1 && rows * cols >= 4096) {
        sgemv_rows(rows, cols, mat, ld, vec, beta, C);
        return;
      }
      cblas_sgemv(CblasRowMajor, TM, (int)rows, (int)cols, 1.0f, mat, (int)ld, vec, (int)inc, beta, C, (int)incc);
    } else {
      cblas_dgemv(CblasRowMajor, TM, (int)rows, (int)cols, 1.0, mat, (int)ld, vec, (int)inc, beta, C, (int)incc);
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, TA, TB, (int)M, (int)N, (int)K, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void check_float_pair(const Tensor& a, const Tensor& b, const char* op) {
  KUN_CHECK(a.defined() && b.defined(), ValueError, op, ": got an undefined tensor");
  KUN_CHECK(is_floating(a.dtype()), TypeError, op, ": expected float32 or float64 operands, got ", a.dtype());
  KUN_CHECK(a.dtype() == b.dtype(), TypeError, op, ": operands must have the same dtype, got ", a.dtype(), " and ",
            b.dtype(), "; convert one with .to()");
}

// Can dims [0, n-1) of `t` be merged into one dim (the rows of a 2-D matrix) without a copy?
bool rows_foldable(const Tensor& t) {
  const int n = t.dim();
  for (int i = 0; i + 2 < n; ++i)
    if (t.size(i) != 1 && t.strides()[i] != t.strides()[i + 1] * t.size(i + 1)) return false;
  return true;
}

// (..., K) -> (rows, K) view when possible, else a contiguous copy. Needs dim() >= 2.
Tensor fold_rows(const Tensor& t) {
  const int n = t.dim();
  if (n == 2) return t;
  const int64_t K = t.size(n - 1);
  int64_t rows = 1;
  for (int i = 0; i + 1 < n; ++i) rows *= t.size(i);
  if (rows_foldable(t))
    return Tensor(t.storage(), Shape{rows, K}, Shape{t.strides()[n - 2], t.strides()[n - 1]}, t.offset(), t.dtype());
  return t.contiguous().view({rows, K});
}

// out (batch..., M, N) contiguous = a (batch..., M, K) @ b (batch..., K, N); a and b are already
// expanded to the same batch shape (strides may be 0 over broadcast batch dims).
template <typename T>
void batched_gemm(const Tensor& a_in, const Tensor& b_in, Tensor& out) {
  const int nd = out.dim();
  const int64_t M = a_in.size(nd - 2), K = a_in.size(nd - 1), N = b_in.size(nd - 1);
  if (out.numel() == 0) return;
  if (K == 0) {
    out.zero_();
    return;
  }
  Tensor a = a_in, b = b_in;
  BlasOperand oa = blas_operand(a), ob = blas_operand(b);
  if (!oa.base) {
    a = a.contiguous();
    oa = blas_operand(a);
  }
  if (!ob.base) {
    b = b.contiguous();
    ob = blas_operand(b);
  }
  const int nb = nd - 2;
  int64_t batch = 1;
  for (int i = 0; i < nb; ++i) batch *= out.size(i);
  T* pc = out.data<T>();
  const T* pa = reinterpret_cast<const T*>(oa.base);
  const T* pb = reinterpret_cast<const T*>(ob.base);
  auto offset_of = [&](const Tensor& t, int64_t idx) {
    int64_t off = 0;
    for (int d = nb - 1; d >= 0; --d) {
      off += (idx % out.size(d)) * t.strides()[d];
      idx /= out.size(d);
    }
    return off;
  };
  auto one = [&](int64_t i) {
    gemm<T>(oa.trans, ob.trans, M, N, K, pa + offset_of(a, i), oa.ld, pb + offset_of(b, i), ob.ld, T(0),
            pc + i * M * N, N);
  };
  // Many small products: one BLAS call per thread (BLAS runs single-threaded inside a parallel
  // region). Large products: let BLAS thread each call.
  if (batch > 1 && M * N * K < 128 * 128 * 128) {
    parallel_for(batch, 1, [&](int64_t bb, int64_t be) {
      for (int64_t i = bb; i < be; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
}

// out = a2 @ b2 for 2-D operands (a fresh contiguous (M, N) tensor).
Tensor mm_impl(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty({a.size(0), b.size(1)}, a.dtype());
  KUN_DISPATCH_FLOAT(a.dtype(), "matmul", [&] { batched_gemm<scalar_t>(a, b, out); });
  return out;
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  check_float_pair(a, b, "mm");
  KUN_CHECK(a.dim() == 2 && b.dim() == 2, ShapeError, "mm: expected 2-D operands (M, K) and (K, N), got ", a.shape(),
            " and ", b.shape());
  KUN_CHECK(a.size(1) == b.size(0), ShapeError, "mm: inner dims differ: (M, K) = ", a.shape(),
            " needs (K, N) with K=", a.size(1), ", got ", b.shape());
  return mm_impl(a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_float_pair(a, b, "bmm");
  KUN_CHECK(a.dim() == 3 && b.dim() == 3, ShapeError, "bmm: expected 3-D operands (B, M, K) and (B, K, N), got ",
            a.shape(), " and ", b.shape());
  KUN_CHECK(a.size(0) == b.size(0) && a.size(2) == b.size(1), ShapeError, "bmm: (B, M, K) = ", a.shape(),
            " needs (B, K, N) with B=", a.size(0), ", K=", a.size(2), ", got ", b.shape());
  Tensor out = Tensor::empty({a.size(0), a.size(1), b.size(2)}, a.dtype());
  KUN_DISPATCH_FLOAT(a.dtype(), "bmm", [&] { batched_gemm<scalar_t>(a, b, out); });
  return out;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_float_pair(a, b, "matmul");
  KUN_CHECK(a.dim() >= 1 && b.dim() >= 1, ShapeError, "matmul: operands must have at least 1 dim, got ", a.shape(),
            " and ", b.shape());
  const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  KUN_CHECK(ka == kb, ShapeError, "matmul: inner dims differ: a is ", a.shape(), " (K=", ka, "), b is ", b.shape(),
            " (expected K=", ka, " in dim ", b.dim() == 1 ? 0 : b.dim() - 2, ")");
  if (a.dim() <= 2 && b.dim() <= 2) {
    Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
    Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    Tensor out = mm_impl(a2, b2);
    if (a.dim() == 1 && b.dim() == 1) return out.view(Shape{});
    if (a.dim() == 1) return out.view({b.size(1)});
    if (b.dim() == 1) return out.view({a.size(0)});
    return out;
  }
  // (..., M, K) @ (K, N) or (K): fold the batch into the rows of one GEMM (like a linear layer).
  if (b.dim() <= 2) {
    Tensor a2 = fold_rows(a);
    Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    Tensor out = mm_impl(a2, b2);
    Shape os;
    for (int i = 0; i + 1 < a.dim(); ++i) os.push_back(a.size(i));
    if (b.dim() == 2) os.push_back(b.size(1));
    return out.view(os);
  }
  // General batched case with broadcast batch dims.
  Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  Tensor b2 = b;
  const int64_t M = a2.size(-2), N = b2.size(-1);
  Shape ba(a2.shape().begin(), a2.shape().end() - 2), bb(b2.shape().begin(), b2.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(ba, bb, "matmul");
  } catch (const ShapeError&) {
    detail::throw_error<ShapeError>("matmul: the batch dims of ", a.shape(), " and ", b.shape(),
                                    " cannot be broadcast together (each must match or be 1)");
  }
  Shape sa = batch, sb = batch, so = batch;
  sa.push_back(M);
  sa.push_back(ka);
  sb.push_back(ka);
  sb.push_back(N);
  so.push_back(M);
  so.push_back(N);
  Tensor out = Tensor::empty(so, a.dtype());
  Tensor ae = a2.expand(sa), be = b2.expand(sb);
  KUN_DISPATCH_FLOAT(a.dtype(), "matmul", [&] { batched_gemm<scalar_t>(ae, be, out); });
  if (a.dim() == 1) return out.squeeze(-2);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_float_pair(x, w, "linear");
  KUN_CHECK(w.dim() == 2, ShapeError, "linear: weight must be (out_features, in_features), got ", w.shape());
  KUN_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), ShapeError, "linear: input must be (..., in_features) with in_features=",
            w.size(1), ", got ", x.shape());
  if (b.defined()) {
    KUN_CHECK(b.dtype() == x.dtype(), TypeError, "linear: bias dtype ", b.dtype(), " differs from input dtype ",
              x.dtype());
    KUN_CHECK(b.dim() == 1 && b.size(0) == w.size(0), ShapeError, "linear: bias must be (out_features) with out_features=",
              w.size(0), ", got ", b.shape());
  }
  const int64_t out_f = w.size(0), in_f = w.size(1);
  Tensor x2 = fold_rows(x.dim() == 1 ? x.unsqueeze(0) : x);  // (rows, in)
  const int64_t rows = x2.size(0);
  Tensor y = Tensor::empty({rows, out_f}, x.dtype());  // (rows, out)
  KUN_DISPATCH_FLOAT(x.dtype(), "linear", [&] {
    using T = scalar_t;
    T* py = y.data<T>();
    T beta = 0;
    if (b.defined() && rows > 0) {
      // y starts as the broadcast bias and GEMM accumulates into it (beta = 1): no extra pass.
      Tensor bc = b.contiguous();
      const T* pb = bc.data<T>();
      parallel_for(rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(out_f, 1)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) std::memcpy(py + r * out_f, pb, sizeof(T) * out_f);
      });
      beta = 1;
    }
    if (y.numel() == 0) return;
    if (in_f == 0) {
      if (!b.defined()) y.zero_();
      return;
    }
    Tensor xa = x2, wt = w.t();  // wt: (in, out) view
    BlasOperand ox = blas_operand(xa), ow = blas_operand(wt);
    if (!ox.base) {
      xa = xa.contiguous();
      ox = blas_operand(xa);
    }
    if (!ow.base) {
      wt = wt.contiguous();
      ow = blas_operand(wt);
    }
    gemm<T>(ox.trans, ow.trans, rows, out_f, in_f, reinterpret_cast<const T*>(ox.base), ox.ld,
            reinterpret_cast<const T*>(ow.base), ow.ld, beta, py, out_f);
  });
  Shape os;
  if (x.dim() == 1) {
    os.push_back(out_f);
  } else {
    for (int i = 0; i + 1 < x.dim(); ++i) os.push_back(x.size(i));
    os.push_back(out_f);
  }
  return y.view(os);
}

}  // namespace kun
