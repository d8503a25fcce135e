// Internal: float32 SIMD math for the elementwise kernels (AVX2 + FMA, 8 lanes), and the loop
// drivers that apply such a kernel over strided tensors.
//
// GCC does not vectorize calls to libm without -ffast-math, so the transcendental functions are
// written here: range reduction plus a polynomial, then IEEE special cases (inf, NaN, overflow,
// underflow to zero or subnormals). Every function is within a few ulp of the correctly rounded
// result over the whole float range (tests/tensor/test_elementwise_vec.cpp checks them against
// the float64 C library). Polynomial coefficients are our own fits: an iteratively reweighted
// least-squares (Lawson) approximation of the relative error on Chebyshev nodes, in float64,
// rounded to float32, with the rounding re-checked.
//
// Without AVX2 + FMA (a build with KUN_MARCH empty, or another architecture) KUN_VEC_AVX2 is 0
// and the callers fall back to the scalar reference path (float64 std:: functions, rounded).
#pragma once
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "loops.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define KUN_VEC_AVX2 1
#else
#define KUN_VEC_AVX2 0
#endif

namespace kun::cpu {

#if KUN_VEC_AVX2
namespace vec {

using V = __m256;

inline V set(float v) { return _mm256_set1_ps(v); }
inline V blend(V if_false, V if_true, V mask) { return _mm256_blendv_ps(if_false, if_true, mask); }
inline V abs(V x) { return _mm256_andnot_ps(set(-0.0f), x); }
inline V copysign(V mag, V sgn) {
  return _mm256_or_ps(_mm256_andnot_ps(set(-0.0f), mag), _mm256_and_ps(set(-0.0f), sgn));
}
inline V is_nan(V x) { return _mm256_cmp_ps(x, x, _CMP_UNORD_Q); }
// Polynomial c[0] + c[1] x + ... + c[N-1] x^(N-1) by Horner's rule with FMA.
template <int N>
inline V poly(V x, const float (&c)[N]) {
  V acc = set(c[N - 1]);
  for (int i = N - 2; i >= 0; --i) acc = _mm256_fmadd_ps(acc, x, set(c[i]));
  return acc;
}

// ln 2 split in a high part with 15 significant bits (so n * kLn2Hi is exact for |n| < 256) and
// the remainder.
constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.428606765330187e-06f;

// e^x. Reduction x = n ln2 + r, |r| <= ln2/2; e^r = 1 + r + r^2 P(r) (rel. error 3e-9); the result
// p * 2^n is scaled by two factors 2^(n/2) so subnormal results (x down to -103.97) and results up
// to FLT_MAX come out right; x > 88.72 gives inf, x < -103.98 gives 0, NaN stays NaN.
inline V exp(V x) {
  static constexpr float P[] = {0.4999999403953552f, 0.1666652113199234f, 0.04166838899254799f,
                                0.008368710055947304f, 0.001381461275741458f};
  // _mm256_min_ps/_max_ps return the second operand when either is NaN: keep x second so NaN passes.
  x = _mm256_min_ps(set(89.0f), x);
  x = _mm256_max_ps(set(-104.0f), x);
  V n = _mm256_round_ps(_mm256_mul_ps(x, set(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  V r = _mm256_fnmadd_ps(n, set(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, set(kLn2Lo), r);
  V p = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(r, r), poly(r, P), r), set(1.0f));
  __m256i ni = _mm256_cvtps_epi32(n);  // in [-150, 128]
  __m256i n1 = _mm256_srai_epi32(ni, 1);
  __m256i n2 = _mm256_sub_epi32(ni, n1);  // both halves in [-75, 64]: normal floats
  V s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  V s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

// e^x - 1, accurate near 0: Taylor series for |x| < ln2/2 (truncation < 1e-9 relative), exp(x) - 1
// beyond (at most ~3 ulp where exp(x) - 1 cancels most, near x = -0.35).
inline V expm1(V x) {
  static constexpr float P[] = {1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040, 1.0f / 40320};
  V small = _mm256_fmadd_ps(_mm256_mul_ps(x, x), poly(x, P), x);
  V big = _mm256_sub_ps(exp(x), set(1.0f));
  V use_small = _mm256_cmp_ps(abs(x), set(0.34657359f), _CMP_LT_OQ);
  return blend(big, small, use_small);
}

// Natural log. x = 2^e m with m in [sqrt(1/2), sqrt(2)); f = m - 1 is exact; with s = f / (2 + f),
// log(1 + f) = f - (f^2/2 - s (f^2/2 + R(s^2))) where R is the atanh series (truncation 2e-9).
// Subnormal inputs are scaled by 2^23 first. log(0) = -inf, log(inf) = inf, log(x < 0) = NaN.
// log(m) + ef ln2 for m in [sqrt(1/2), sqrt(2)] (the reduced form shared by log and log1p_unit).
inline V log_reduced(V m, V ef) {
  V f = _mm256_sub_ps(m, set(1.0f));
  V s = _mm256_div_ps(f, _mm256_add_ps(f, set(2.0f)));
  V z = _mm256_mul_ps(s, s);
  static constexpr float R[] = {2.0f / 3, 2.0f / 5, 2.0f / 7, 2.0f / 9};
  V rz = _mm256_mul_ps(z, poly(z, R));
  V hfsq = _mm256_mul_ps(_mm256_mul_ps(f, f), set(0.5f));
  V logm = _mm256_sub_ps(f, _mm256_fnmadd_ps(s, _mm256_add_ps(hfsq, rz), hfsq));
  return _mm256_fmadd_ps(ef, set(kLn2Hi), _mm256_fmadd_ps(ef, set(kLn2Lo), logm));
}

inline V log(V x) {
  V sub = _mm256_cmp_ps(x, set(1.17549435e-38f), _CMP_LT_OQ);  // subnormal (or <= 0: fixed below)
  V xs = blend(x, _mm256_mul_ps(x, set(8388608.0f)), sub);
  __m256i bits = _mm256_castps_si256(xs);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  V m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  V big = _mm256_cmp_ps(m, set(1.41421356f), _CMP_GT_OQ);
  m = blend(m, _mm256_mul_ps(m, set(0.5f)), big);
  e = _mm256_sub_epi32(e, _mm256_castps_si256(big));  // mask is -1 where m was halved
  V ef = _mm256_sub_ps(_mm256_cvtepi32_ps(e), _mm256_and_ps(sub, set(23.0f)));
  V res = log_reduced(m, ef);
  res = blend(res, set(-__builtin_inff()), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
  res = blend(res, set(__builtin_inff()), _mm256_cmp_ps(x, set(__builtin_inff()), _CMP_EQ_OQ));
  return blend(res, set(__builtin_nanf("")), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
}

// log(1 + e) for e in [0, 1] (softplus): u = 1 + e is in [1, 2], so no special cases; c = e - (u - 1)
// is u's exact rounding error and log1p(e) = log(u) + c / u, with 1/u from rcp + one Newton step
// (ample for a correction below half an ulp of 1, exact enough when u = 1 and c = e). One division
// fewer than the general log1p. NaN passes through c.
inline V log1p_unit(V e) {
  V u = _mm256_add_ps(e, set(1.0f));
  V c = _mm256_sub_ps(e, _mm256_sub_ps(u, set(1.0f)));
  V big = _mm256_cmp_ps(u, set(1.41421356f), _CMP_GT_OQ);
  V m = blend(u, _mm256_mul_ps(u, set(0.5f)), big);
  V lg = log_reduced(m, _mm256_and_ps(big, set(1.0f)));
  V r = _mm256_rcp_ps(u);
  r = _mm256_mul_ps(r, _mm256_fnmadd_ps(u, r, set(2.0f)));
  return _mm256_fmadd_ps(c, r, lg);
}

// log(1 + x): with u = 1 + x rounded, log(u) * x / (u - 1) cancels the rounding of u.
inline V log1p(V x) {
  V u = _mm256_add_ps(x, set(1.0f));
  V d = _mm256_sub_ps(u, set(1.0f));
  V res = _mm256_mul_ps(log(u), _mm256_div_ps(x, d));
  res = blend(res, x, _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_EQ_OQ));        // |x| below half an ulp of 1
  return blend(res, x, _mm256_cmp_ps(x, set(__builtin_inff()), _CMP_EQ_OQ));    // log1p(inf) = inf
}

// tanh: odd polynomial x + x^3 P(x^2) for |x| < 0.625 (rel. error 2e-10), else
// sign(x) (1 - 2 / (e^(2|x|) + 1)), which saturates to exactly +-1 (e^(2|x|) = inf is fine).
inline V tanh(V x) {
  static constexpr float P[] = {-0.3333333134651184f, 0.1333320587873459f, -0.05394676327705383f,
                                0.021700702607631683f, -0.008177398703992367f, 0.0021429620683193207f};
  V ax = abs(x);
  V x2 = _mm256_mul_ps(x, x);
  V small = _mm256_fmadd_ps(_mm256_mul_ps(x2, x), poly(x2, P), x);
  V e = exp(_mm256_add_ps(ax, ax));
  V big = _mm256_sub_ps(set(1.0f), _mm256_div_ps(set(2.0f), _mm256_add_ps(e, set(1.0f))));
  big = copysign(big, x);
  return blend(big, small, _mm256_cmp_ps(ax, set(0.625f), _CMP_LT_OQ));
}

// 1 / (1 + e^-x), written with e = e^-|x| <= 1 so nothing overflows: 1 / (1 + e) for x >= 0 and
// e / (1 + e) for x < 0 (accurate down to the subnormal tail; exactly 1 for x > 17, exactly 0 for
// x < -104). `e_out`/`r_out` receive e and 1 / (1 + e) for callers that need 1 - sigmoid too.
inline V sigmoid(V x, V* e_out = nullptr, V* r_out = nullptr) {
  V e = exp(_mm256_sub_ps(_mm256_setzero_ps(), abs(x)));
  V r = _mm256_div_ps(set(1.0f), _mm256_add_ps(set(1.0f), e));
  if (e_out) *e_out = e;
  if (r_out) *r_out = r;
  return blend(r, _mm256_mul_ps(e, r), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

// erf and erfc pieces. For |z| < kErfSmall: erf(z) = z P(z^2) (rel. error 4e-10). Beyond:
// erfc(z) = e^(-z^2) G(t) t with t = 1/z and G a polynomial in s = A t + B (s in [-1, 1] for
// z in [kErfSmall, 10]; rel. error 1e-7). e^(-z^2) uses z^2 = hi + lo (FMA) so the rounding of
// z^2 does not cost relative accuracy in the tail.
constexpr float kErfSmall = 0.921875f;
inline V erf_small(V z) {
  static constexpr float P[] = {1.128379225730896f, -0.37612634897232056f, 0.11283695697784424f,
                                -0.026859398931264877f, 0.005201033316552639f, -0.0008142715669237077f,
                                8.370141586055979e-05f};
  return _mm256_mul_ps(z, poly(_mm256_mul_ps(z, z), P));
}
// e^(-c z^2) for z >= 0 and c in {1, 1/2} (exact scalings of z^2 = hi + lo). z above 17 is
// clamped (the result is 0 from there); NaN passes.
inline V exp_neg_sq(V z, float c = 1.0f) {
  z = _mm256_min_ps(set(17.0f), z);
  V hi = _mm256_mul_ps(z, z);
  V lo = _mm256_fmsub_ps(z, z, hi);  // exact: z^2 = hi + lo
  V e = exp(_mm256_mul_ps(set(-c), hi));
  return _mm256_fnmadd_ps(_mm256_mul_ps(e, set(c)), lo, e);  // e^(-c hi) (1 - c lo)
}
// erfc(az) for az >= kErfSmall, given ez = exp_neg_sq(az); az must be finite (callers clamp to 12,
// where erfc is already 0 in float).
inline V erfc_tail(V az, V ez) {
  static constexpr float G[] = {0.4951191544532776f, -0.0843232199549675f, -0.0021493355743587017f,
                                0.009878294542431831f, -0.0050718593411147594f, 0.0015106179052963853f,
                                -4.590398748405278e-05f, -0.00033540488220751286f, 0.0002332131698494777f,
                                -5.500262705027126e-05f};
  V t = _mm256_div_ps(set(1.0f), az);
  V s = _mm256_fmadd_ps(set(2.0309810638427734f), t, set(-1.2030980587005615f));
  return _mm256_mul_ps(ez, _mm256_mul_ps(poly(s, G), t));
}

inline V erf(V x) {
  V az = _mm256_min_ps(abs(x), set(12.0f));  // NaN becomes 12 here; restored at the end
  V tail = _mm256_sub_ps(set(1.0f), erfc_tail(az, exp_neg_sq(az)));
  V res = blend(copysign(tail, x), erf_small(x), _mm256_cmp_ps(abs(x), set(kErfSmall), _CMP_LT_OQ));
  return blend(res, x, is_nan(x));
}

// Phi-related pieces of gelu (erf form) at x: returns 1 + erf(x / sqrt 2) (no cancellation for
// negative x: it is erfc(|z|) there) and, through `ez`, e^(-x^2/2). The exponential is taken from
// x itself (x^2 / 2 is exact in hi + lo), not from the rounded z, which matters in the tail.
inline V gelu_one_plus_erf(V x, V* ez_out) {
  V z = _mm256_mul_ps(x, set(0.70710678118654752f));
  V az = _mm256_min_ps(abs(z), set(12.0f));
  V ez = exp_neg_sq(abs(x), 0.5f);
  V erfc_az = erfc_tail(az, ez);
  V tail = blend(erfc_az, _mm256_sub_ps(set(2.0f), erfc_az), _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
  V small = _mm256_add_ps(set(1.0f), erf_small(z));
  if (ez_out) *ez_out = ez;
  return blend(tail, small, _mm256_cmp_ps(abs(z), set(kErfSmall), _CMP_LT_OQ));
}

// gelu(x) = x/2 (1 + erf(x / sqrt 2)).
inline V gelu(V x) {
  return _mm256_mul_ps(_mm256_mul_ps(x, set(0.5f)), gelu_one_plus_erf(x, nullptr));
}
// d gelu / dx = Phi(x) + x phi(x).
inline V gelu_grad(V x) {
  V ez;
  V ope = gelu_one_plus_erf(x, &ez);
  V xphi = _mm256_mul_ps(x, _mm256_mul_ps(ez, set(0.39894228040143268f)));  // 1/sqrt(2 pi)
  return _mm256_fmadd_ps(ope, set(0.5f), xphi);
}

// tanh form: x/2 (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). The sigmoid
// form has no cancellation for negative x. (The rounding of 2u in float limits the relative
// accuracy of the far negative tail to about |2u| ulp; PyTorch's 1 + tanh(u) loses far more.)
constexpr float kGeluK0 = 0.79788456080286536f;  // sqrt(2/pi)
constexpr float kGeluK1 = 0.044715f;
inline V gelu_tanh_2u(V x) {
  V x2 = _mm256_mul_ps(x, x);
  return _mm256_mul_ps(x, _mm256_fmadd_ps(set(2.0f * kGeluK0 * kGeluK1), x2, set(2.0f * kGeluK0)));
}
inline V gelu_tanh(V x) { return _mm256_mul_ps(x, sigmoid(gelu_tanh_2u(x))); }
// d/dx = s + 2 x s (1 - s) u' with s = sigmoid(2u), u' = k0 (1 + 3 k1 x^2), and s (1 - s) = e r^2
// (e = e^-|2u|, r = 1 / (1 + e)) without cancellation; where that is 0 the term is 0 even if
// x u' overflows.
inline V gelu_tanh_grad(V x) {
  V e, r;
  V s = sigmoid(gelu_tanh_2u(x), &e, &r);
  V ss = _mm256_mul_ps(e, _mm256_mul_ps(r, r));
  V du = _mm256_fmadd_ps(set(3.0f * kGeluK0 * kGeluK1), _mm256_mul_ps(x, x), set(kGeluK0));
  V term = _mm256_mul_ps(_mm256_mul_ps(ss, du), _mm256_add_ps(x, x));
  term = _mm256_and_ps(term, _mm256_cmp_ps(ss, _mm256_setzero_ps(), _CMP_NEQ_UQ));
  return _mm256_add_ps(s, term);
}

// silu(x) = x sigmoid(x).
inline V silu(V x) { return _mm256_mul_ps(x, sigmoid(x)); }
// d silu / dx = s (1 + x (1 - s)), s = sigmoid(x); 1 - s is e r (x >= 0) or r (x < 0), no cancellation.
inline V silu_grad(V x) {
  V e, r;
  V s = sigmoid(x, &e, &r);
  V om = blend(_mm256_mul_ps(e, r), r, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return _mm256_mul_ps(s, _mm256_fmadd_ps(x, om, set(1.0f)));
}

// log(1 + e^y) = max(y, 0) + log1p(e^-|y|): no overflow, exact for very negative y.
inline V softplus_core(V y) {
  V m = _mm256_max_ps(_mm256_setzero_ps(), y);  // NaN passes (second operand)
  V e = exp(_mm256_sub_ps(_mm256_setzero_ps(), abs(y)));
  return _mm256_add_ps(m, log1p_unit(e));
}

}  // namespace vec

// Tail of a contiguous run (n < 8 elements) as a lane mask.
inline __m256i tail_mask(int64_t n) {
  static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - n));
}
#endif  // KUN_VEC_AVX2

// Writes a vector-lane overload only when AVX2 is available, e.g.
//   struct Exp { template <typename T> T operator()(T x) const { ... }  KUN_SIMD(vec::V operator()(vec::V x) const { ... }) };
#if KUN_VEC_AVX2
#define KUN_SIMD(...) __VA_ARGS__
#else
#define KUN_SIMD(...)
#endif

// Outputs at least this large are written with non-temporal (streaming) stores: they cannot stay
// in the cache for the next op anyway, and streaming skips the read-for-ownership of every output
// line, a third of the memory traffic of a unary op. Half the last-level cache, at least 8 MB.
inline int64_t stream_threshold_bytes() {
  static const int64_t bytes = [] {
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return std::max<int64_t>(int64_t{8} << 20, l3 > 0 ? l3 / 2 : int64_t{16} << 20);
  }();
  return bytes;
}

#if KUN_VEC_AVX2
// Contiguous run: o[i] = f(x0[i]) or f(x0[i], x1[i]) where an input is contiguous or, if its B flag
// is set, a broadcast scalar. Tails use masked loads/stores; with `stream` (long runs only), the
// output is first aligned to 32 bytes by a masked head, then written with streaming stores.
template <int N, bool B0, bool B1, typename F>
void vec_run(float* o, const float* x0, const float* x1, int64_t n, bool stream, const F& f) {
  auto ld = [](const float* x, bool bc, int64_t i) { return bc ? _mm256_set1_ps(*x) : _mm256_loadu_ps(x + i); };
  auto ldm = [](const float* x, bool bc, int64_t i, __m256i m) {
    return bc ? _mm256_set1_ps(*x) : _mm256_maskload_ps(x + i, m);
  };
  auto at = [&](int64_t i) {
    if constexpr (N == 1) return f(ld(x0, B0, i));
    else return f(ld(x0, B0, i), ld(x1, B1, i));
  };
  auto at_masked = [&](int64_t i, __m256i m) {
    if constexpr (N == 1) return f(ldm(x0, B0, i, m));
    else return f(ldm(x0, B0, i, m), ldm(x1, B1, i, m));
  };
  int64_t i = 0;
  stream = stream && n >= 4096;
  if (stream) {
    int64_t head = std::min<int64_t>(n, ((32 - (reinterpret_cast<uintptr_t>(o) & 31)) & 31) / 4);
    if (head > 0) {
      __m256i m = tail_mask(head);
      _mm256_maskstore_ps(o, m, at_masked(0, m));
      i = head;
    }
    for (; i + 8 <= n; i += 8) _mm256_stream_ps(o + i, at(i));
  } else {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, at(i));
  }
  if (i < n) {
    __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(o + i, m, at_masked(i, m));
  }
  if (stream) _mm_sfence();  // streaming stores are weakly ordered: publish before the join
}

// Strided run: gathers 8 elements of each input at a time into aligned buffers.
template <int N, typename F>
void vec_run_strided(char* const* p, const int64_t* s, int64_t n, const F& f) {
  alignas(32) float buf[N][8];
  for (int64_t i = 0; i < n; i += 8) {
    int64_t k = std::min<int64_t>(8, n - i);
    for (int q = 0; q < N; ++q)
      for (int64_t j = 0; j < 8; ++j)
        buf[q][j] = j < k ? *reinterpret_cast<const float*>(p[q + 1] + (i + j) * s[q + 1]) : 0.0f;
    __m256 r;
    if constexpr (N == 1) r = f(_mm256_load_ps(buf[0]));
    else r = f(_mm256_load_ps(buf[0]), _mm256_load_ps(buf[1]));
    _mm256_store_ps(buf[0], r);
    for (int64_t j = 0; j < k; ++j) *reinterpret_cast<float*>(p[0] + (i + j) * s[0]) = buf[0][j];
  }
}
#endif

// out = f(a) over float32 tensors of one shape (any strides). f is callable on float and, with
// AVX2, on vec::V (8 lanes); the vector overload is used for every element: contiguous runs
// load/store directly, strided runs gather 8 at a time, tails use masked loads, so results do
// not depend on layout or on how the range is split over threads. Threaded above kGrain.
template <typename F>
void map_f32(const Tensor& out, const Tensor& a, const F& f) {
#if KUN_VEC_AVX2
  const bool stream = out.numel() * 4 >= stream_threshold_bytes();
  auto it = make_iter<2>({&out, &a});
  run<2>(it, [&](char* const* p, const int64_t* s, int64_t n) {
    float* o = reinterpret_cast<float*>(p[0]);
    const float* x = reinterpret_cast<const float*>(p[1]);
    if (s[0] == 4 && s[1] == 4) {
      vec_run<1, false, false>(o, x, nullptr, n, stream, f);
    } else if (s[0] == 4 && s[1] == 0) {
      vec_run<1, true, false>(o, x, nullptr, n, stream, f);
    } else {
      vec_run_strided<1>(p, s, n, f);
    }
  });
#else
  unary_loop<float, float>(out, a, [&](float v) { return f(v); });
#endif
}

// out = f(a, b) over float32 tensors of one shape; see map_f32. Broadcast (stride 0) operands of
// a contiguous run are splatted, not gathered.
template <typename F>
void map2_f32(const Tensor& out, const Tensor& a, const Tensor& b, const F& f) {
#if KUN_VEC_AVX2
  const bool stream = out.numel() * 4 >= stream_threshold_bytes();
  auto it = make_iter<3>({&out, &a, &b});
  run<3>(it, [&](char* const* p, const int64_t* s, int64_t n) {
    float* o = reinterpret_cast<float*>(p[0]);
    const float* x = reinterpret_cast<const float*>(p[1]);
    const float* y = reinterpret_cast<const float*>(p[2]);
    if (s[0] == 4 && s[1] == 4 && s[2] == 4) {
      vec_run<2, false, false>(o, x, y, n, stream, f);
    } else if (s[0] == 4 && s[1] == 4 && s[2] == 0) {
      vec_run<2, false, true>(o, x, y, n, stream, f);
    } else if (s[0] == 4 && s[1] == 0 && s[2] == 4) {
      vec_run<2, true, false>(o, x, y, n, stream, f);
    } else {
      vec_run_strided<2>(p, s, n, f);
    }
  });
#else
  binary_loop<float, float, float>(out, a, b, [&](float x, float y) { return f(x, y); });
#endif
}

}  // namespace kun::cpu
