// Loss kernels. Every loss validates shapes, dtypes and target values before its loop, then runs
// one fused pass: per-element losses are either written out (Reduction::none) or summed in double
// over fixed chunks (same result for any thread count). Cross-entropy computes each position's
// log-sum-exp in place (max, then sum of exp) and never materializes log_softmax.
// Branch-free clamps and selects (exp_fast, NaN-aware max) only vectorize when GCC may assume
// floating-point compares do not trap; kun never enables FP exceptions. Set for the whole file
// before any include so every inlined function sees the same options.
#pragma GCC optimize("no-trapping-math")
#include <array>
#include <cmath>
#include <sstream>

#include "kun/tensor/ops.h"
#include "loops.h"
#include "reduce_math.h"

namespace kun {

namespace {

void check_float(const Tensor& t, const char* op, const char* what) {
  KUN_CHECK(t.defined(), ValueError, op, ": ", what, " is undefined");
  KUN_CHECK(is_floating(t.dtype()), TypeError, op, ": ", what, " must be float32 or float64, got ", t.dtype());
}

void check_reduction(Reduction r, const char* op) {
  KUN_CHECK(r != Reduction::batchmean, ValueError, op, ": reduction 'batchmean' is only for kl_div; use mean, sum or none");
}

// `w` broadcast to `shape` as a contiguous tensor of dtype dt (undefined stays undefined).
Tensor broadcast_to(const Tensor& w, const Shape& shape, DType dt, const char* op, const char* what) {
  if (!w.defined()) return w;
  KUN_CHECK(is_floating(w.dtype()), TypeError, op, ": ", what, " must be a float tensor, got ", w.dtype());
  bool ok = w.dim() <= shape.size();
  for (int i = 1; ok && i <= w.dim(); ++i) {
    const int64_t a = w.shape()[w.dim() - i];
    ok = a == 1 || a == shape[shape.size() - i];
  }
  KUN_CHECK(ok, ShapeError, op, ": ", what, " of shape ", w.shape(), " does not broadcast to the input shape ",
            shape);
  return w.to(dt).expand(shape).contiguous();
}

// Sums fn(b, e) -> {a, b} over [0, n) in fixed chunks run in parallel, added in chunk order.
template <typename F>
std::array<double, 2> chunked_sum(int64_t n, int64_t cost_per_item, const F& fn) {
  const int64_t work = n * std::max<int64_t>(cost_per_item, 1);
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>({64, n, (work + cpu::kGrain - 1) / cpu::kGrain}));
  const int64_t per = n ? (n + chunks - 1) / chunks : 0;
  std::vector<std::array<double, 2>> part(chunks, {0.0, 0.0});
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) part[c] = fn(c * per, std::min(n, (c + 1) * per));
  });
  std::array<double, 2> tot{0.0, 0.0};
  for (auto& p : part) {
    tot[0] += p[0];
    tot[1] += p[1];
  }
  return tot;
}

// ---- elementwise losses: f(i) is the loss of element i of the contiguous inputs ----
template <typename T, typename F>
Tensor elementwise_forward(const Shape& shape, Reduction r, const F& f) {
  const int64_t n = shape.numel();
  if (r == Reduction::none) {
    Tensor out = Tensor::empty(shape, dtype_v<T>);
    T* po = out.data<T>();
    parallel_for(n, cpu::kGrain / 4, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = static_cast<T>(f(i));
    });
    return out;
  }
  auto tot = chunked_sum(n, 4, [&](int64_t b, int64_t e) {
    double s = 0;
    for (int64_t i = b; i < e; ++i) s += static_cast<double>(f(i));
    return std::array<double, 2>{s, 0.0};
  });
  double v = tot[0];
  if (r == Reduction::mean) v /= static_cast<double>(n);
  if (r == Reduction::batchmean) v /= static_cast<double>(shape.size() ? shape[0] : 1);
  return scalar_tensor(v, dtype_v<T>);
}

// grad_in[i] = g_i * df(i), with g_i from `grad` (none) or the scalar grad times the mean scale.
template <typename T, typename F>
Tensor elementwise_backward(const Tensor& grad, const Shape& shape, Reduction r, const char* op, const F& df) {
  const int64_t n = shape.numel();
  Tensor out = Tensor::empty(shape, dtype_v<T>);
  T* po = out.data<T>();
  if (r == Reduction::none) {
    KUN_CHECK(grad.shape() == shape, ShapeError, op, ": grad shape ", grad.shape(), " must match the loss shape ", shape);
    Tensor gc = grad.to(dtype_v<T>).contiguous();
    const T* pg = gc.data<T>();
    parallel_for(n, cpu::kGrain / 4, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = pg[i] * df(i);
    });
    return out;
  }
  KUN_CHECK(grad.numel() == 1, ShapeError, op, ": grad of a reduced loss must have one element, got shape ", grad.shape());
  double g = grad.item_double();
  if (r == Reduction::mean) g /= static_cast<double>(n);
  if (r == Reduction::batchmean) g /= static_cast<double>(shape.size() ? shape[0] : 1);
  const T gs = static_cast<T>(g);
  parallel_for(n, cpu::kGrain / 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) po[i] = gs * df(i);
  });
  return out;
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  KUN_CHECK(a.shape() == b.shape(), ShapeError, op, ": ", an, " shape ", a.shape(), " and ", bn, " shape ", b.shape(),
            " must match");
}

// ---- class-index losses: logits / log-probs viewed as (N, C, D), target as (N * D) ----
struct ClassLayout {
  int64_t N = 1, C = 1, D = 1;
};

ClassLayout class_layout(const Tensor& x, const char* op) {
  KUN_CHECK(x.dim() >= 1, ShapeError, op, ": input must be (C), (N, C) or (N, C, d1, ...), got a scalar");
  ClassLayout l;
  if (x.dim() == 1) {
    l.C = x.shape()[0];
    return l;
  }
  l.N = x.shape()[0];
  l.C = x.shape()[1];
  for (int d = 2; d < x.dim(); ++d) l.D *= x.shape()[d];
  return l;
}

Shape index_target_shape(const Shape& s) {
  Shape t = s;
  if (s.size() == 1) return Shape{};
  t.erase(1);
  return t;
}

std::string position_str(const Shape& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < idx.size(); ++i) os << (i ? ", " : "") << idx[i];
  os << ")";
  return os.str();
}

// Checks the class-index target and returns it as contiguous int64.
Tensor checked_index_target(const Tensor& x, const Tensor& target, const ClassLayout& l, int64_t ignore_index,
                            const char* op) {
  Shape want = index_target_shape(x.shape());
  KUN_CHECK(target.shape() == want, ShapeError, op, ": target shape ", target.shape(), " does not match input shape ",
            x.shape(), " (expected target shape ", want, ")");
  Tensor t = target.to(DType::i64).contiguous();
  const int64_t* pt = t.data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t v = pt[i];
    KUN_CHECK(v == ignore_index || (v >= 0 && v < l.C), IndexError, op, ": target value ", v, " at position ",
              position_str(t.shape(), i), " is out of range [0, ", l.C, ") for C=", l.C, " classes (ignore_index=",
              ignore_index, ")");
  }
  return t;
}

Tensor checked_class_weight(const Tensor& w, const ClassLayout& l, DType dt, const char* op) {
  if (!w.defined()) return w;
  KUN_CHECK(w.dim() == 1 && w.shape()[0] == l.C, ShapeError, op, ": weight must have shape (C) = (", l.C, "), got ",
            w.shape());
  KUN_CHECK(is_floating(w.dtype()), TypeError, op, ": weight must be a float tensor, got ", w.dtype());
  return w.to(dt).contiguous();
}

// log-sum-exp over the C values x[0], x[D], x[2D], ... kept as {max, log(sum(exp(x - max)))}:
// callers form (max - x_c) + log_sum, which stays exact when |max| is huge (max + log_sum would not).
template <typename T>
struct Lse {
  T m, ls;
  T minus(T x) const { return (m - x) + ls; }                // lse - x
  T prob(T x) const { return cpu::exp_fast((x - m) - ls); }  // softmax value of x
};
template <typename T>
Lse<T> lse_strided(const T* x, int64_t C, int64_t D) {
  T m = -std::numeric_limits<T>::infinity();
  T s = 0;
  if (D == 1) {
    m = cpu::max_contiguous(x, C);
    if (!std::isfinite(m)) return {m, 0};
    _Pragma("omp simd reduction(+ : s)")
    for (int64_t c = 0; c < C; ++c) s += cpu::exp_fast(x[c] - m);
  } else {
    for (int64_t c = 0; c < C; ++c) m = std::max(m, x[c * D]);
    if (!std::isfinite(m)) return {m, 0};
    for (int64_t c = 0; c < C; ++c) s += cpu::exp_fast(x[c * D] - m);
  }
  return {m, std::log(s)};
}

struct ClassArgs {
  ClassLayout l;
  Tensor x;       // contiguous (N, C, D) data
  Tensor target;  // int64 contiguous (N * D) or float contiguous like x
  Tensor weight;  // (C) or undefined
  bool probs = false;
};

ClassArgs prepare_class(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                        bool allow_probs, const char* op) {
  check_float(x, op, "input");
  KUN_CHECK(target.defined(), ValueError, op, ": target is undefined");
  ClassArgs a;
  a.l = class_layout(x, op);
  a.x = x.contiguous();
  if (allow_probs && is_floating(target.dtype())) {
    check_same_shape(x, target, op, "input", "probability target");
    a.probs = true;
    a.target = target.to(x.dtype()).contiguous();
  } else {
    KUN_CHECK(!is_floating(target.dtype()), TypeError, op, ": target must hold int64 class indices, got ",
              target.dtype());
    a.target = checked_index_target(x, target, a.l, ignore_index, op);
  }
  a.weight = checked_class_weight(weight, a.l, x.dtype(), op);
  return a;
}

// Sum of the weights of the non-ignored targets (the mean's denominator).
template <typename T>
double weight_total(const ClassArgs& a, int64_t ignore_index) {
  const int64_t* pt = a.target.data<int64_t>();
  const T* pw = a.weight.defined() ? a.weight.data<T>() : nullptr;
  double den = 0;
  for (int64_t i = 0; i < a.target.numel(); ++i)
    if (pt[i] != ignore_index) den += pw ? static_cast<double>(pw[pt[i]]) : 1.0;
  return den;
}

// Losses at positions p in [b, e): writes per-position values into `out` (if non-null), returns the sum.
template <typename T>
double ce_range(const ClassArgs& a, const CrossEntropyOptions& opt, int64_t b, int64_t e, T* out) {
  const int64_t C = a.l.C, D = a.l.D;
  const T* px = a.x.data<T>();
  const T* pw = a.weight.defined() ? a.weight.data<T>() : nullptr;
  const T eps = static_cast<T>(opt.label_smoothing);
  double total = 0;
  for (int64_t p = b; p < e; ++p) {
    const int64_t n = p / D, d = p % D;
    const T* row = px + n * C * D + d;
    T loss = 0;
    if (a.probs) {
      const T* tr = a.target.data<T>() + n * C * D + d;
      const Lse<T> lse = lse_strided(row, C, D);
      for (int64_t c = 0; c < C; ++c) {
        const T tc = tr[c * D] * (1 - eps) + eps / static_cast<T>(C);
        const T wc = pw ? pw[c] : T(1);
        if (tc != 0) loss += wc * tc * lse.minus(row[c * D]);
      }
    } else {
      const int64_t t = a.target.data<int64_t>()[p];
      if (t != opt.ignore_index) {
        const Lse<T> lse = lse_strided(row, C, D);
        loss = (1 - eps) * (pw ? pw[t] : T(1)) * lse.minus(row[t * D]);
        if (eps > 0) {
          T sm = 0;
          for (int64_t c = 0; c < C; ++c) sm += (pw ? pw[c] : T(1)) * lse.minus(row[c * D]);
          loss += eps / static_cast<T>(C) * sm;
        }
      }
    }
    if (out) out[p] = loss;
    total += static_cast<double>(loss);
  }
  return total;
}

template <typename T>
double nll_range(const ClassArgs& a, int64_t ignore_index, int64_t b, int64_t e, T* out) {
  const int64_t C = a.l.C, D = a.l.D;
  const T* px = a.x.data<T>();
  const T* pw = a.weight.defined() ? a.weight.data<T>() : nullptr;
  const int64_t* pt = a.target.data<int64_t>();
  double total = 0;
  for (int64_t p = b; p < e; ++p) {
    const int64_t t = pt[p];
    T loss = 0;
    if (t != ignore_index) loss = -(pw ? pw[t] : T(1)) * px[(p / D) * C * D + t * D + p % D];
    if (out) out[p] = loss;
    total += static_cast<double>(loss);
  }
  return total;
}

// Runs a per-position class loss with the given reduction.
template <typename T, typename RangeFn>
Tensor class_forward(const ClassArgs& a, Reduction r, double mean_den, const RangeFn& range) {
  const int64_t P = a.l.N * a.l.D;
  if (r == Reduction::none) {
    Tensor out = Tensor::empty(a.probs ? index_target_shape(a.x.shape()) : a.target.shape(), dtype_v<T>);
    T* po = out.data<T>();
    chunked_sum(P, a.l.C * 3, [&](int64_t b, int64_t e) { return std::array<double, 2>{range(b, e, po), 0.0}; });
    return out;
  }
  auto tot = chunked_sum(P, a.l.C * 3, [&](int64_t b, int64_t e) {
    return std::array<double, 2>{range(b, e, static_cast<T*>(nullptr)), 0.0};
  });
  double v = tot[0];
  if (r == Reduction::mean) v /= mean_den;
  return scalar_tensor(v, dtype_v<T>);
}

// Per-position grad scale: grad[p] (none) or the scalar grad / mean_den.
template <typename T>
struct GradScale {
  const T* per = nullptr;
  T scalar = 0;
  T at(int64_t p) const { return per ? per[p] : scalar; }
};

template <typename T>
GradScale<T> grad_scale(const Tensor& grad, Tensor& keep, Reduction r, const Shape& loss_shape, double mean_den,
                        const char* op) {
  GradScale<T> s;
  if (r == Reduction::none) {
    KUN_CHECK(grad.shape() == loss_shape, ShapeError, op, ": grad shape ", grad.shape(), " must match the loss shape ",
              loss_shape);
    keep = grad.to(dtype_v<T>).contiguous();
    s.per = keep.data<T>();
  } else {
    KUN_CHECK(grad.numel() == 1, ShapeError, op, ": grad of a reduced loss must have one element, got shape ",
              grad.shape());
    double g = grad.item_double();
    if (r == Reduction::mean) g /= mean_den;
    s.scalar = static_cast<T>(g);
  }
  return s;
}

}  // namespace

// ---------------- cross_entropy ----------------
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& opt) {
  const char* op = "cross_entropy";
  check_reduction(opt.reduction, op);
  KUN_CHECK(opt.label_smoothing >= 0 && opt.label_smoothing <= 1, ValueError, op,
            ": label_smoothing must be in [0, 1], got ", opt.label_smoothing);
  ClassArgs a = prepare_class(logits, target, opt.weight, opt.ignore_index, true, op);
  return KUN_DISPATCH_FLOAT(logits.dtype(), op, [&] {
    using T = scalar_t;
    double den = a.probs ? static_cast<double>(a.l.N * a.l.D) : weight_total<T>(a, opt.ignore_index);
    return class_forward<T>(a, opt.reduction, den,
                            [&](int64_t b, int64_t e, T* out) { return ce_range<T>(a, opt, b, e, out); });
  });
}

Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                              const CrossEntropyOptions& opt) {
  const char* op = "cross_entropy_backward";
  ClassArgs a = prepare_class(logits, target, opt.weight, opt.ignore_index, true, op);
  Tensor gx = Tensor::empty(logits.shape(), logits.dtype());
  KUN_DISPATCH_FLOAT(logits.dtype(), op, [&] {
    using T = scalar_t;
    const int64_t C = a.l.C, D = a.l.D, P = a.l.N * a.l.D;
    double den = a.probs ? static_cast<double>(P) : weight_total<T>(a, opt.ignore_index);
    Tensor keep;
    GradScale<T> gs = grad_scale<T>(grad, keep, opt.reduction, index_target_shape(logits.shape()), den, op);
    const T* px = a.x.data<T>();
    const T* pw = a.weight.defined() ? a.weight.data<T>() : nullptr;
    T* pg = gx.data<T>();
    const T eps = static_cast<T>(opt.label_smoothing), invC = T(1) / static_cast<T>(C);
    T wsum = 0;  // sum of the class weights
    for (int64_t c = 0; c < C; ++c) wsum += pw ? pw[c] : T(1);
    parallel_for(P, std::max<int64_t>(1, cpu::kGrain / (3 * C)), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t n = p / D, d = p % D;
        const T* row = px + n * C * D + d;
        T* grow = pg + n * C * D + d;
        const T g = gs.at(p);
        if (a.probs) {
          // d/dx_c = g * (softmax_c * sum_k w_k t'_k - w_c t'_c)
          const T* tr = a.target.data<T>() + n * C * D + d;
          const Lse<T> lse = lse_strided(row, C, D);
          T wt = 0;
          for (int64_t c = 0; c < C; ++c) wt += (pw ? pw[c] : T(1)) * (tr[c * D] * (1 - eps) + eps * invC);
          for (int64_t c = 0; c < C; ++c) {
            const T tc = tr[c * D] * (1 - eps) + eps * invC;
            grow[c * D] = g * (lse.prob(row[c * D]) * wt - (pw ? pw[c] : T(1)) * tc);
          }
          continue;
        }
        const int64_t t = a.target.data<int64_t>()[p];
        if (t == opt.ignore_index) {
          for (int64_t c = 0; c < C; ++c) grow[c * D] = 0;
          continue;
        }
        // loss = (1-eps) w_t (lse - x_t) + eps/C sum_c w_c (lse - x_c)
        // d/dx_c = softmax_c (A + B W) - A [c == t] - B w_c,  A = g (1-eps) w_t,  B = g eps / C
        const Lse<T> lse = lse_strided(row, C, D);
        const T A = g * (1 - eps) * (pw ? pw[t] : T(1)), B = g * eps * invC;
        const T coef = A + B * wsum;
        const T m = lse.m, ls = lse.ls;
        if (D == 1) {
          if (pw) {
            _Pragma("omp simd")
            for (int64_t c = 0; c < C; ++c) grow[c] = cpu::exp_fast((row[c] - m) - ls) * coef - B * pw[c];
          } else {
            _Pragma("omp simd")
            for (int64_t c = 0; c < C; ++c) grow[c] = cpu::exp_fast((row[c] - m) - ls) * coef - B;
          }
        } else {
          for (int64_t c = 0; c < C; ++c) grow[c * D] = lse.prob(row[c * D]) * coef - B * (pw ? pw[c] : T(1));
        }
        grow[t * D] -= A;
      }
    });
  });
  return gx;
}

// ---------------- nll_loss ----------------
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& opt) {
  const char* op = "nll_loss";
  check_reduction(opt.reduction, op);
  ClassArgs a = prepare_class(log_probs, target, opt.weight, opt.ignore_index, false, op);
  return KUN_DISPATCH_FLOAT(log_probs.dtype(), op, [&] {
    using T = scalar_t;
    return class_forward<T>(a, opt.reduction, weight_total<T>(a, opt.ignore_index),
                            [&](int64_t b, int64_t e, T* out) { return nll_range<T>(a, opt.ignore_index, b, e, out); });
  });
}

Tensor nll_loss_backward(const Tensor& grad, const Tensor& log_probs, const Tensor& target, const NllLossOptions& opt) {
  const char* op = "nll_loss_backward";
  ClassArgs a = prepare_class(log_probs, target, opt.weight, opt.ignore_index, false, op);
  Tensor gx = zeros(log_probs.shape(), log_probs.dtype());
  KUN_DISPATCH_FLOAT(log_probs.dtype(), op, [&] {
    using T = scalar_t;
    Tensor keep;
    GradScale<T> gs = grad_scale<T>(grad, keep, opt.reduction, a.target.shape(), weight_total<T>(a, opt.ignore_index), op);
    const int64_t C = a.l.C, D = a.l.D;
    const int64_t* pt = a.target.data<int64_t>();
    const T* pw = a.weight.defined() ? a.weight.data<T>() : nullptr;
    T* pg = gx.data<T>();
    for (int64_t p = 0; p < a.target.numel(); ++p) {
      const int64_t t = pt[p];
      if (t != opt.ignore_index) pg[(p / D) * C * D + t * D + p % D] = -(pw ? pw[t] : T(1)) * gs.at(p);
    }
  });
  return gx;
}

// ---------------- binary cross-entropy ----------------
namespace {
struct BinaryArgs {
  Tensor x, t, w, pw;
};
BinaryArgs prepare_binary(const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw, const char* op) {
  check_float(x, op, "input");
  KUN_CHECK(t.defined(), ValueError, op, ": target is undefined");
  check_same_shape(x, t, op, "input", "target");
  BinaryArgs a;
  a.x = x.contiguous();
  a.t = t.to(x.dtype()).contiguous();
  a.w = broadcast_to(w, x.shape(), x.dtype(), op, "weight");
  a.pw = broadcast_to(pw, x.shape(), x.dtype(), op, "pos_weight");
  return a;
}

template <typename T>
T softplus_neg(T x) {  // log(1 + exp(-x)), stable for any x
  return std::max(-x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}
template <typename T>
T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}
}  // namespace

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const BceWithLogitsOptions& opt) {
  const char* op = "binary_cross_entropy_with_logits";
  check_reduction(opt.reduction, op);
  BinaryArgs a = prepare_binary(logits, target, opt.weight, opt.pos_weight, op);
  return KUN_DISPATCH_FLOAT(logits.dtype(), op, [&] {
    using T = scalar_t;
    const T *x = a.x.data<T>(), *t = a.t.data<T>();
    const T* w = a.w.defined() ? a.w.data<T>() : nullptr;
    const T* pw = a.pw.defined() ? a.pw.data<T>() : nullptr;
    // loss = w * ((1 - t) x + (1 + (pw - 1) t) log(1 + exp(-x)))
    return elementwise_forward<T>(logits.shape(), opt.reduction, [=](int64_t i) {
      const T lw = pw ? T(1) + (pw[i] - T(1)) * t[i] : T(1);
      const T l = (T(1) - t[i]) * x[i] + lw * softplus_neg(x[i]);
      return w ? w[i] * l : l;
    });
  });
}

Tensor binary_cross_entropy_with_logits_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                                                 const BceWithLogitsOptions& opt) {
  const char* op = "binary_cross_entropy_with_logits_backward";
  BinaryArgs a = prepare_binary(logits, target, opt.weight, opt.pos_weight, op);
  return KUN_DISPATCH_FLOAT(logits.dtype(), op, [&] {
    using T = scalar_t;
    const T *x = a.x.data<T>(), *t = a.t.data<T>();
    const T* w = a.w.defined() ? a.w.data<T>() : nullptr;
    const T* pw = a.pw.defined() ? a.pw.data<T>() : nullptr;
    // d/dx = w * ((1 + (pw - 1) t) sigmoid(x) - pw t)
    return elementwise_backward<T>(grad, logits.shape(), opt.reduction, op, [=](int64_t i) {
      const T p = pw ? pw[i] : T(1);
      const T d = (T(1) + (p - T(1)) * t[i]) * sigmoid(x[i]) - p * t[i];
      return w ? w[i] * d : d;
    });
  });
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BceOptions& opt) {
  const char* op = "binary_cross_entropy";
  check_reduction(opt.reduction, op);
  BinaryArgs a = prepare_binary(input, target, opt.weight, Tensor(), op);
  return KUN_DISPATCH_FLOAT(input.dtype(), op, [&] {
    using T = scalar_t;
    const T *x = a.x.data<T>(), *t = a.t.data<T>();
    const T* w = a.w.defined() ? a.w.data<T>() : nullptr;
    for (int64_t i = 0; i < a.x.numel(); ++i)
      KUN_CHECK(x[i] >= 0 && x[i] <= 1, ValueError, op, ": input must hold probabilities in [0, 1], got ", x[i],
                " at position ", position_str(input.shape(), i), "; for logits use binary_cross_entropy_with_logits");
    return elementwise_forward<T>(input.shape(), opt.reduction, [=](int64_t i) {
      const T lx = std::max(std::log(x[i]), T(-100)), l1x = std::max(std::log1p(-x[i]), T(-100));
      const T l = -(t[i] * lx + (T(1) - t[i]) * l1x);
      return w ? w[i] * l : l;
    });
  });
}

Tensor binary_cross_entropy_backward(const Tensor& grad, const Tensor& input, const Tensor& target,
                                     const BceOptions& opt) {
  const char* op = "binary_cross_entropy_backward";
  BinaryArgs a = prepare_binary(input, target, opt.weight, Tensor(), op);
  return KUN_DISPATCH_FLOAT(input.dtype(), op, [&] {
    using T = scalar_t;
    const T *x = a.x.data<T>(), *t = a.t.data<T>();
    const T* w = a.w.defined() ? a.w.data<T>() : nullptr;
    // d/dx = w (x - t) / max(x (1 - x), 1e-12)   (PyTorch's clamp keeps it finite at 0 and 1)
    return elementwise_backward<T>(grad, input.shape(), opt.reduction, op, [=](int64_t i) {
      const T d = (x[i] - t[i]) / std::max((T(1) - x[i]) * x[i], T(1e-12));
      return w ? w[i] * d : d;
    });
  });
}

// ---------------- regression losses ----------------
namespace {
template <typename T>
T regression_value(RegressionKind k, T d, T delta, T beta) {
  const T ad = std::abs(d);
  switch (k) {
    case RegressionKind::mse: return d * d;
    case RegressionKind::l1: return ad;
    case RegressionKind::huber: return ad < delta ? T(0.5) * d * d : delta * (ad - T(0.5) * delta);
    case RegressionKind::smooth_l1:
      if (beta == 0) return ad;
      return ad < beta ? T(0.5) * d * d / beta : ad - T(0.5) * beta;
  }
  return 0;
}
template <typename T>
T regression_grad(RegressionKind k, T d, T delta, T beta) {
  const T sg = T((d > 0) - (d < 0));
  switch (k) {
    case RegressionKind::mse: return 2 * d;
    case RegressionKind::l1: return sg;
    case RegressionKind::huber: return std::min(std::max(d, -delta), delta);
    case RegressionKind::smooth_l1:
      if (beta == 0) return sg;
      return std::abs(d) < beta ? d / beta : sg;
  }
  return 0;
}
const char* regression_name(RegressionKind k) {
  switch (k) {
    case RegressionKind::mse: return "mse_loss";
    case RegressionKind::l1: return "l1_loss";
    case RegressionKind::huber: return "huber_loss";
    case RegressionKind::smooth_l1: return "smooth_l1_loss";
  }
  return "?";
}
void check_regression(RegressionKind k, const Tensor& x, const Tensor& t, const RegressionLossOptions& opt,
                      const char* op) {
  check_float(x, op, "input");
  KUN_CHECK(t.defined(), ValueError, op, ": target is undefined");
  check_same_shape(x, t, op, "input", "target");
  if (k == RegressionKind::huber) KUN_CHECK(opt.delta > 0, ValueError, op, ": delta must be > 0, got ", opt.delta);
  if (k == RegressionKind::smooth_l1) KUN_CHECK(opt.beta >= 0, ValueError, op, ": beta must be >= 0, got ", opt.beta);
}

Tensor regression_forward(RegressionKind k, const Tensor& input, const Tensor& target, const RegressionLossOptions& opt) {
  const char* op = regression_name(k);
  check_reduction(opt.reduction, op);
  check_regression(k, input, target, opt, op);
  Tensor xc = input.contiguous(), tc = target.to(input.dtype()).contiguous();
  return KUN_DISPATCH_FLOAT(input.dtype(), op, [&] {
    using T = scalar_t;
    const T *x = xc.data<T>(), *t = tc.data<T>();
    const T delta = static_cast<T>(opt.delta), beta = static_cast<T>(opt.beta);
    return elementwise_forward<T>(input.shape(), opt.reduction,
                                  [=](int64_t i) { return regression_value<T>(k, x[i] - t[i], delta, beta); });
  });
}
}  // namespace

Tensor mse_loss(const Tensor& x, const Tensor& t, const RegressionLossOptions& o) {
  return regression_forward(RegressionKind::mse, x, t, o);
}
Tensor l1_loss(const Tensor& x, const Tensor& t, const RegressionLossOptions& o) {
  return regression_forward(RegressionKind::l1, x, t, o);
}
Tensor huber_loss(const Tensor& x, const Tensor& t, const RegressionLossOptions& o) {
  return regression_forward(RegressionKind::huber, x, t, o);
}
Tensor smooth_l1_loss(const Tensor& x, const Tensor& t, const RegressionLossOptions& o) {
  return regression_forward(RegressionKind::smooth_l1, x, t, o);
}

Tensor regression_loss_backward(RegressionKind k, const Tensor& grad, const Tensor& input, const Tensor& target,
                                const RegressionLossOptions& opt) {
  const char* op = regression_name(k);
  check_regression(k, input, target, opt, op);
  Tensor xc = input.contiguous(), tc = target.to(input.dtype()).contiguous();
  return KUN_DISPATCH_FLOAT(input.dtype(), op, [&] {
    using T = scalar_t;
    const T *x = xc.data<T>(), *t = tc.data<T>();
    const T delta = static_cast<T>(opt.delta), beta = static_cast<T>(opt.beta);
    return elementwise_backward<T>(grad, input.shape(), opt.reduction, op,
                                   [=](int64_t i) { return regression_grad<T>(k, x[i] - t[i], delta, beta); });
  });
}

// ---------------- kl_div ----------------
Tensor kl_div(const Tensor& input, const Tensor& target, const KlDivOptions& opt) {
  const char* op = "kl_div";
  check_float(input, op, "input");
  KUN_CHECK(target.defined(), ValueError, op, ": target is undefined");
  check_same_shape(input, target, op, "input", "target");
  Tensor xc = input.contiguous(), tc = target.to(input.dtype()).contiguous();
  return KUN_DISPATCH_FLOAT(input.dtype(), op, [&] {
    using T = scalar_t;
    const T *x = xc.data<T>(), *t = tc.data<T>();
    const bool lt = opt.log_target;
    // t (log t - x), with 0 log 0 = 0; or exp(t) (t - x) for log targets
    return elementwise_forward<T>(input.shape(), opt.reduction, [=](int64_t i) {
      if (lt) return std::exp(t[i]) * (t[i] - x[i]);
      return t[i] > 0 ? t[i] * (std::log(t[i]) - x[i]) : -t[i] * x[i];
    });
  });
}

Tensor kl_div_backward(const Tensor& grad, const Tensor& input, const Tensor& target, const KlDivOptions& opt) {
  const char* op = "kl_div_backward";
  check_float(input, op, "input");
  check_same_shape(input, target, op, "input", "target");
  Tensor tc = target.to(input.dtype()).contiguous();
  return KUN_DISPATCH_FLOAT(input.dtype(), op, [&] {
    using T = scalar_t;
    const T* t = tc.data<T>();
    const bool lt = opt.log_target;
    return elementwise_backward<T>(grad, input.shape(), opt.reduction, op,
                                   [=](int64_t i) { return lt ? -std::exp(t[i]) : -t[i]; });
  });
}

}  // namespace kun
