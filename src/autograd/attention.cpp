// Masked softmax (fused, forward + backward) and scaled dot-product attention composed of
// batched GEMMs around it.
#include "kun/autograd/attention.h"

#include <cmath>
#include <limits>

#include "../tensor/cpu/vec_math.h"
#include "kun/autograd/ops.h"
#include "kun/core/threading.h"
#include "kun/tensor/ops.h"

namespace kun {

namespace {

// y[j] = exp(y[j] - m) over a row, returns the sum (AVX2 for float32).
template <typename T>
T exp_shift_sum(T* y, int64_t n, T m) {
  int64_t j = 0;
  T s = 0;
#if KUN_VEC_AVX2
  if constexpr (std::is_same_v<T, float>) {
    __m256 acc = _mm256_setzero_ps(), mv = _mm256_set1_ps(m);
    for (; j + 8 <= n; j += 8) {
      __m256 e = cpu::vec::exp(_mm256_sub_ps(_mm256_loadu_ps(y + j), mv));
      _mm256_storeu_ps(y + j, e);
      acc = _mm256_add_ps(acc, e);
    }
    alignas(32) float buf[8];
    _mm256_store_ps(buf, acc);
    for (float b : buf) s += b;
  }
#endif
  for (; j < n; ++j) {
    y[j] = std::exp(y[j] - m);
    s += y[j];
  }
  return s;
}

struct MaskView {
  const uint8_t* kpm = nullptr;  // (N, S) as 0/1
  const double* add_f64 = nullptr;
  const float* add_f32 = nullptr;
  const uint8_t* bool_mask = nullptr;  // (Lm, S) 0/1
  bool per_batch_head = false;         // attn_mask is (N*heads, L, S)
  bool causal = false;
};

template <typename T>
void softmax_forward(const T* x, T* y, int64_t N, int64_t Hd, int64_t L, int64_t S, T scale, const MaskView& mv) {
  parallel_for(N * Hd * L, std::max<int64_t>(1, 4096 / std::max<int64_t>(S, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t n = r / (Hd * L), bh = r / L, i = r % L;
      const T* xr = x + r * S;
      T* yr = y + r * S;
      const int64_t moff = (mv.per_batch_head ? bh * L + i : i) * S;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < S; ++j) {
        T v = scale * xr[j];
        if (mv.add_f32) v += static_cast<T>(mv.add_f32[moff + j]);
        if (mv.add_f64) v += static_cast<T>(mv.add_f64[moff + j]);
        const bool masked = (mv.kpm && mv.kpm[n * S + j]) || (mv.bool_mask && mv.bool_mask[moff + j]) ||
                            (mv.causal && j > i);
        if (masked) v = -std::numeric_limits<T>::infinity();
        yr[j] = v;
        m = v > m ? v : m;
      }
      if (m == -std::numeric_limits<T>::infinity() || !std::isfinite(m)) {
        // Nothing to attend to (or +inf scores): define the row as all zero / one-hot on +inf.
        if (m == std::numeric_limits<T>::infinity()) {
          int64_t cnt = 0;
          for (int64_t j = 0; j < S; ++j) cnt += yr[j] == m;
          for (int64_t j = 0; j < S; ++j) yr[j] = yr[j] == m ? T(1) / T(cnt) : T(0);
        } else {
          for (int64_t j = 0; j < S; ++j) yr[j] = T(0);
        }
        continue;
      }
      const T s = exp_shift_sum(yr, S, m);
      const T inv = T(1) / s;
      for (int64_t j = 0; j < S; ++j) yr[j] *= inv;
    }
  });
}

template <typename T>
void softmax_backward(const T* g, const T* y, T* dx, int64_t rows, int64_t S, T scale) {
  parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(S, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* gr = g + r * S;
      const T* yr = y + r * S;
      T* dr = dx + r * S;
      T dot = 0;
      for (int64_t j = 0; j < S; ++j) dot += gr[j] * yr[j];
      for (int64_t j = 0; j < S; ++j) dr[j] = scale * yr[j] * (gr[j] - dot);
    }
  });
}

}  // namespace

Tensor causal_mask(int64_t L, int64_t S) {
  if (S < 0) S = L;
  std::vector<uint8_t> v(static_cast<size_t>(L * S));
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < S; ++j) v[i * S + j] = j > i;
  return from_vector(v, {L, S}).to(DType::bool_);
}

Variable masked_softmax(const Variable& scores, double scale, const AttentionMask& mask) {
  KUN_CHECK(scores.defined() && scores.dim() == 4, ShapeError, "masked_softmax: scores must be (N, heads, L, S), got ",
            scores.defined() ? scores.shape() : Shape{});
  KUN_CHECK(is_floating(scores.dtype()), TypeError, "masked_softmax: scores must be float, got ", scores.dtype());
  const int64_t N = scores.size(0), Hd = scores.size(1), L = scores.size(2), S = scores.size(3);
  MaskView mv;
  mv.causal = mask.causal;
  Tensor kpm, am;
  if (mask.key_padding_mask.defined()) {
    KUN_CHECK(mask.key_padding_mask.shape() == Shape({N, S}), ShapeError,
              "attention: key_padding_mask must be (N, S) = (", N, ", ", S, "), got ", mask.key_padding_mask.shape());
    kpm = ne(mask.key_padding_mask, zeros({1}, mask.key_padding_mask.dtype())).to(DType::u8).contiguous();
    mv.kpm = kpm.data<uint8_t>();
  }
  if (mask.attn_mask.defined()) {
    const Tensor& a = mask.attn_mask;
    const bool ok2 = a.dim() == 2 && a.size(0) == L && a.size(1) == S;
    const bool ok3 = a.dim() == 3 && a.size(0) == N * Hd && a.size(1) == L && a.size(2) == S;
    KUN_CHECK(ok2 || ok3, ShapeError, "attention: attn_mask must be (L, S) = (", L, ", ", S, ") or (N*heads, L, S) = (",
              N * Hd, ", ", L, ", ", S, "), got ", a.shape());
    mv.per_batch_head = ok3;
    if (a.dtype() == DType::f32) {
      am = a.contiguous();
      mv.add_f32 = am.data<float>();
    } else if (a.dtype() == DType::f64) {
      am = a.contiguous();
      mv.add_f64 = am.data<double>();
    } else {
      am = ne(a, zeros({1}, a.dtype())).to(DType::u8).contiguous();
      mv.bool_mask = am.data<uint8_t>();
    }
  }
  Tensor x = scores.data().contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "masked_softmax", [&] {
    softmax_forward<scalar_t>(x.data<scalar_t>(), y.data<scalar_t>(), N, Hd, L, S, static_cast<scalar_t>(scale), mv);
  });
  return make_result(y, {scores}, "masked_softmax", [y, scale](const Tensor& g, Node& n) {
    if (!n.inputs[0].requires_grad()) return;
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(y.shape(), y.dtype());
    KUN_DISPATCH_FLOAT(y.dtype(), "masked_softmax", [&] {
      softmax_backward<scalar_t>(gc.data<scalar_t>(), y.data<scalar_t>(), dx.data<scalar_t>(), y.numel() / y.size(-1),
                                 y.size(-1), static_cast<scalar_t>(scale));
    });
    n.inputs[0].accumulate_grad(dx);
  });
}

Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const AttentionOptions& opt, Variable* weights_out) {
  KUN_CHECK(q.defined() && k.defined() && v.defined() && q.dim() == 4 && k.dim() == 4 && v.dim() == 4, ShapeError,
            "scaled_dot_product_attention: q, k, v must be (N, heads, L|S, E), got ", q.shape(), ", ", k.shape(),
            ", ", v.shape());
  KUN_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3) && k.size(0) == v.size(0) &&
                k.size(1) == v.size(1) && k.size(2) == v.size(2),
            ShapeError, "scaled_dot_product_attention: q ", q.shape(), ", k ", k.shape(), " and v ", v.shape(),
            " do not match (q, k: (N, heads, *, E); k, v: (N, heads, S, *))");
  const double scale = opt.scale ? *opt.scale : 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  Variable scores = matmul(q, transpose(k, -1, -2));  // (N, h, L, S)
  Variable w = masked_softmax(scores, scale, opt.mask);
  if (weights_out) *weights_out = w;
  if (opt.training && opt.dropout > 0) w = dropout(w, opt.dropout, true);
  return matmul(w, v);  // (N, h, L, Ev)
}

}  // namespace kun
