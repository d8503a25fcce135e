// Reduction kernels.
//
// Associative reductions (sum, mean, prod, amax, amin, norms) share one engine. The input is made
// contiguous, size-1 dims are dropped and neighbouring dims with the same role (kept / reduced)
// are merged, leaving alternating groups such as (kept, red), (red, kept) or (red, kept, red).
//  * innermost group reduced (row-like):  each output walks contiguous spans of the reduced
//    elements with a multi-lane accumulator (vectorizes); outputs are spread over threads, or,
//    when there are too few outputs (a full sum), each output's span list is cut into chunks
//    whose partials are merged in a fixed order (same result for any thread count).
//  * innermost group kept (column-like, e.g. the bias gradient sum over dim 0 of (B, N)):
//    a row of contiguous outputs is accumulated input row by input row, vectorized across the
//    outputs; with few outer outputs the input rows are cut into fixed chunks whose partial rows
//    are merged in order.
// Two-pass reductions (var, logsumexp) and prod's gradient move the reduced dims last
// (a copy only when they are not already innermost) and work row by row.
// Branch-free clamps and selects (exp_fast, NaN-aware max) only vectorize when GCC may assume
// floating-point compares do not trap; kun never enables FP exceptions. Set for the whole file
// before any include so every inlined function sees the same options.
#pragma GCC optimize("no-trapping-math")
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kun/tensor/ops.h"
#include "loops.h"
#include "reduce_math.h"

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

bool is_reduced(const std::vector<int>& rd, int d) { return std::find(rd.begin(), rd.end(), d) != rd.end(); }

Shape reduced_shape(const Shape& s, const std::vector<int>& rd, bool keepdim) {
  Shape out;
  for (int i = 0; i < s.size(); ++i) {
    if (!is_reduced(rd, i)) out.push_back(s[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

int64_t reduced_count(const Shape& s, const std::vector<int>& rd) {
  int64_t k = 1;
  for (int d : rd) k *= s[d];
  return k;
}

struct Group {
  int64_t size, stride;
  bool red;
};

// Coalesced groups of a contiguous tensor, outermost first, size-1 dims dropped.
std::vector<Group> make_groups(const Shape& shape, const std::vector<int>& rd) {
  std::vector<Group> g;
  Shape st = contiguous_strides(shape);
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool r = is_reduced(rd, d);
    if (!g.empty() && g.back().red == r) {  // contiguous neighbours: merge
      g.back().size *= shape[d];
      g.back().stride = st[d];
    } else {
      g.push_back({shape[d], st[d], r});
    }
  }
  return g;
}

// Element offsets of every index of `gs` (row-major over the groups).
std::vector<int64_t> group_offsets(const std::vector<Group>& gs) {
  std::vector<int64_t> off{0};
  for (const Group& g : gs) {
    std::vector<int64_t> next;
    next.reserve(off.size() * g.size);
    for (int64_t o : off)
      for (int64_t i = 0; i < g.size; ++i) next.push_back(o + i * g.stride);
    off.swap(next);
  }
  return off;
}

// Offset of output number `o` over the kept groups `gs` (row-major).
int64_t kept_offset(const std::vector<Group>& gs, int64_t o) {
  int64_t off = 0;
  for (int i = static_cast<int>(gs.size()) - 1; i >= 0; --i) {
    off += (o % gs[i].size) * gs[i].stride;
    o /= gs[i].size;
  }
  return off;
}

// ---- reduction ops: init / step (one element) / merge (two partials) / finish ----
template <typename T>
struct SumOp {
  using acc_t = T;
  acc_t init() const { return 0; }
  acc_t step(acc_t a, T x) const { return a + x; }
  acc_t merge(acc_t a, acc_t b) const { return a + b; }
  T finish(acc_t a) const { return a; }
};
template <typename T>
struct MeanOp : SumOp<T> {
  double inv_k = 1;
  T finish(T a) const { return static_cast<T>(a * inv_k); }
};
template <typename T>
struct ProdOp {
  using acc_t = T;
  acc_t init() const { return 1; }
  acc_t step(acc_t a, T x) const { return a * x; }
  acc_t merge(acc_t a, acc_t b) const { return a * b; }
  T finish(acc_t a) const { return a; }
};
template <typename T>
struct MaxOp {
  using acc_t = T;
  acc_t init() const { return std::numeric_limits<T>::lowest(); }
  acc_t step(acc_t a, T x) const { return cpu::max_nan(a, x); }
  acc_t merge(acc_t a, acc_t b) const { return cpu::max_nan(a, b); }
  T finish(acc_t a) const { return a; }
};
template <typename T>
struct MinOp {
  using acc_t = T;
  acc_t init() const { return std::numeric_limits<T>::max(); }
  acc_t step(acc_t a, T x) const { return cpu::min_nan(a, x); }
  acc_t merge(acc_t a, acc_t b) const { return cpu::min_nan(a, b); }
  T finish(acc_t a) const { return a; }
};
template <typename T>
struct MaxInfOp : MaxOp<T> {  // max with -inf identity (floats) so amax of -inf values is -inf
  T init() const { return -std::numeric_limits<T>::infinity(); }
};
template <typename T>
struct MinInfOp : MinOp<T> {
  T init() const { return std::numeric_limits<T>::infinity(); }
};
template <typename T>
struct L1Op : SumOp<T> {
  T step(T a, T x) const { return a + std::abs(x); }
};
template <typename T>
struct L2Op : SumOp<T> {
  T step(T a, T x) const { return a + x * x; }
  T finish(T a) const { return std::sqrt(a); }
};
template <typename T>
struct L0Op : SumOp<T> {
  T step(T a, T x) const { return a + (x != 0 ? T(1) : T(0)); }
};
template <typename T>
struct LpOp : SumOp<T> {
  T p = 2;
  T step(T a, T x) const { return a + std::pow(std::abs(x), p); }
  T finish(T a) const { return std::pow(a, T(1) / p); }
};
template <typename T>
struct AbsMaxOp : MaxOp<T> {
  T init() const { return 0; }
  T step(T a, T x) const { return cpu::max_nan(a, std::abs(x)); }
};
template <typename T>
struct AbsMinOp : MinOp<T> {
  T init() const { return std::numeric_limits<T>::infinity(); }
  T step(T a, T x) const { return cpu::min_nan(a, std::abs(x)); }
};

// Reduces n contiguous elements into acc with kLanes independent accumulators (vectorizes).
template <typename T, typename Op>
typename Op::acc_t reduce_span(const Op& op, const T* x, int64_t n, typename Op::acc_t acc) {
  using A = typename Op::acc_t;
  constexpr int kLanes = 32 / sizeof(T) * 2;  // two AVX2 registers
  int64_t i = 0;
  if (n >= kLanes) {
    A lane[kLanes];
    for (int j = 0; j < kLanes; ++j) lane[j] = op.init();
    for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) lane[j] = op.step(lane[j], x[i + j]);
    }
    for (int j = 0; j < kLanes; ++j) acc = op.merge(acc, lane[j]);
  }
  for (; i < n; ++i) acc = op.step(acc, x[i]);
  return acc;
}

// out_keep (keepdim shape, contiguous) = op-reduction of contiguous x over rd.
template <typename T, typename Op>
void reduce_engine(const Op& op, const Tensor& xc, const std::vector<int>& rd, Tensor& out_keep) {
  using A = typename Op::acc_t;
  const T* px = xc.data<T>();
  T* po = out_keep.data<T>();
  const int64_t outputs = out_keep.numel();
  if (outputs == 0) return;
  const int64_t K = reduced_count(xc.shape(), rd);
  if (K == 0) {
    for (int64_t o = 0; o < outputs; ++o) po[o] = op.finish(op.init());
    return;
  }
  std::vector<Group> groups = make_groups(xc.shape(), rd);
  if (groups.empty()) {  // a single element
    po[0] = op.finish(op.step(op.init(), px[0]));
    return;
  }
  std::vector<Group> kept, red;
  for (const Group& g : groups) (g.red ? red : kept).push_back(g);
  if (red.empty()) {  // nothing of size > 1 to reduce: elementwise finish
    for (int64_t o = 0; o < outputs; ++o) po[o] = op.finish(op.step(op.init(), px[o]));
    return;
  }

  if (groups.back().red) {
    // Row-like: spans of L contiguous reduced elements; span r starts at span_off[r].
    const int64_t L = red.back().size;
    std::vector<Group> outer_red(red.begin(), red.end() - 1);
    std::vector<int64_t> span_off = group_offsets(outer_red);
    auto reduce_range = [&](int64_t base, int64_t b, int64_t e, A acc) {
      while (b < e) {
        int64_t r = b / L, l = b % L, n = std::min(L - l, e - b);
        acc = reduce_span<T>(op, px + base + span_off[r] + l, n, acc);
        b += n;
      }
      return acc;
    };
    const int nt = num_threads();
    if (outputs >= 4 * nt || K < cpu::kGrain) {
      parallel_for(outputs, std::max<int64_t>(1, cpu::kGrain / K), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) po[o] = op.finish(reduce_range(kept_offset(kept, o), 0, K, op.init()));
      });
    } else {
      // Few outputs, many elements each: split each output's K elements into fixed chunks.
      const int64_t chunks = std::min<int64_t>(64, (K + cpu::kGrain - 1) / cpu::kGrain);
      const int64_t per = (K + chunks - 1) / chunks;
      std::vector<A> partial(chunks);
      for (int64_t o = 0; o < outputs; ++o) {
        const int64_t base = kept_offset(kept, o);
        parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
          for (int64_t c = cb; c < ce; ++c)
            partial[c] = reduce_range(base, c * per, std::min(K, (c + 1) * per), op.init());
        });
        A acc = op.init();
        for (int64_t c = 0; c < chunks; ++c) acc = op.merge(acc, partial[c]);
        po[o] = op.finish(acc);
      }
    }
    return;
  }

  // Column-like: outputs (A, Q) with Q contiguous; every reduced index r adds a row of Q values.
  // Rows are streamed whole (sequential memory); when there are few outer outputs the rows are
  // cut into fixed chunks whose partial rows are merged in chunk order afterwards.
  const int64_t Q = kept.back().size;
  const int64_t A_out = outputs / Q;
  std::vector<Group> outer_kept(kept.begin(), kept.end() - 1);
  std::vector<int64_t> red_off = group_offsets(red);
  const int64_t R = static_cast<int64_t>(red_off.size());
  int64_t rc = 1;
  if (A_out < 4 * num_threads()) rc = std::clamp<int64_t>((R * Q) / cpu::kGrain, 1, std::min<int64_t>(64, R));
  const int64_t per = (R + rc - 1) / rc;
  std::vector<A> partial(static_cast<size_t>(rc > 1 ? A_out * rc * Q : 0));
  parallel_for(A_out * rc, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(per * Q, 1)), [&](int64_t b, int64_t e) {
    std::vector<A> own(rc > 1 ? 0 : Q);
    for (int64_t t = b; t < e; ++t) {
      const int64_t a = t / rc, c = t % rc;
      const int64_t base = kept_offset(outer_kept, a);
      A* acc = rc > 1 ? partial.data() + t * Q : own.data();
      for (int64_t q = 0; q < Q; ++q) acc[q] = op.init();
      const int64_t r1 = std::min(R, (c + 1) * per);
      for (int64_t r = c * per; r < r1; ++r) {
        const T* row = px + base + red_off[r];
#pragma omp simd
        for (int64_t q = 0; q < Q; ++q) acc[q] = op.step(acc[q], row[q]);
      }
      if (rc == 1) {
        T* dst = po + a * Q;
        for (int64_t q = 0; q < Q; ++q) dst[q] = op.finish(acc[q]);
      }
    }
  });
  if (rc > 1) {
    parallel_for(A_out * Q, cpu::kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t a = i / Q, q = i % Q;
        A acc = partial[(a * rc) * Q + q];
        for (int64_t c = 1; c < rc; ++c) acc = op.merge(acc, partial[(a * rc + c) * Q + q]);
        po[i] = op.finish(acc);
      }
    });
  }
}

// Runs one associative reduction: checks, picks the dtype, allocates, returns keepdim or not.
template <template <typename> class OpT, typename Setup>
Tensor run_reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* name, bool float_only,
                  const Setup& setup) {
  KUN_CHECK(x.defined(), ValueError, name, ": the input tensor is undefined");
  auto rd = reduce_dims(x, dims, name);
  Shape keep = reduced_shape(x.shape(), rd, true);
  DType dt = x.dtype();
  if (!float_only && is_integral(dt) && dt != DType::i64) dt = DType::i64;
  if (float_only)
    KUN_CHECK(is_floating(dt), TypeError, name, ": expected a float32 or float64 tensor, got ", dt);
  Tensor xc = (x.dtype() == dt ? x : x.to(dt)).contiguous();
  Tensor out = Tensor::empty(keep, dt);
  auto body = [&]<typename T>() {
    OpT<T> op;
    setup(op, reduced_count(x.shape(), rd));
    reduce_engine<T>(op, xc, rd, out);
  };
  switch (dt) {
    case DType::f32: body.template operator()<float>(); break;
    case DType::f64: body.template operator()<double>(); break;
    case DType::i64: body.template operator()<int64_t>(); break;
    default: KUN_CHECK(false, TypeError, name, ": unsupported dtype ", dt);
  }
  return keepdim ? out : out.view(reduced_shape(x.shape(), rd, false));
}

auto no_setup = [](auto&, int64_t) {};

// Rows layout for two-pass reductions: x permuted to (kept..., reduced...) and made contiguous.
struct Rows {
  Tensor data;  // (M, K) contiguous
  std::vector<int64_t> perm;
  Shape permuted_shape;
  int64_t M = 1, K = 1;
};
Rows to_rows(const Tensor& x, const std::vector<int>& rd) {
  Rows r;
  for (int d = 0; d < x.dim(); ++d)
    if (!is_reduced(rd, d)) r.perm.push_back(d);
  for (int d : rd) r.perm.push_back(d);
  Tensor p = x.permute(r.perm);
  r.permuted_shape = p.shape();
  r.K = reduced_count(x.shape(), rd);
  r.M = r.K ? x.numel() / r.K : reduced_shape(x.shape(), rd, false).numel();
  r.data = p.contiguous().view({r.M, r.K});
  return r;
}
// Inverse of to_rows for a (M, K) tensor in rows layout.
Tensor from_rows(const Tensor& rows, const Rows& r) {
  std::vector<int64_t> inv(r.perm.size());
  for (size_t i = 0; i < r.perm.size(); ++i) inv[r.perm[i]] = static_cast<int64_t>(i);
  return rows.view(r.permuted_shape).permute(inv).contiguous();
}

}  // namespace

Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& dims, const char* op) {
  Shape k = s;
  if (dims.empty()) {
    for (auto& d : k) d = 1;
    return k;
  }
  for (int64_t d : dims) k[normalize_dim(d, s.size(), op)] = 1;
  return k;
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce<SumOp>(x, dims, keepdim, "sum", false, no_setup);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce<MeanOp>(x, dims, keepdim, "mean", true, [](auto& op, int64_t k) {
    op.inv_k = k ? 1.0 / static_cast<double>(k) : std::numeric_limits<double>::quiet_NaN();
  });
}

Tensor prod(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce<ProdOp>(x, dims, keepdim, "prod", false, no_setup);
}

namespace {
Tensor extreme(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
  const char* name = is_max ? "amax" : "amin";
  KUN_CHECK(x.defined(), ValueError, name, ": the input tensor is undefined");
  auto rd = reduce_dims(x, dims, name);
  KUN_CHECK(reduced_count(x.shape(), rd) > 0, IndexError, name, ": cannot reduce over a zero-size dim of shape ",
            x.shape(), " (no identity)");
  if (is_floating(x.dtype()))
    return is_max ? run_reduce<MaxInfOp>(x, dims, keepdim, name, true, no_setup)
                  : run_reduce<MinInfOp>(x, dims, keepdim, name, true, no_setup);
  Tensor r = is_max ? run_reduce<MaxOp>(x, dims, keepdim, name, false, no_setup)
                    : run_reduce<MinOp>(x, dims, keepdim, name, false, no_setup);
  return r.to(x.dtype());
}
}  // namespace

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return extreme(x, dims, keepdim, true); }
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return extreme(x, dims, keepdim, false); }

// ---- max/min with indices over one dim ----
namespace {
ValuesIndices extreme_index(const Tensor& x, int64_t dim_in, bool keepdim, bool is_max, const char* name) {
  KUN_CHECK(x.defined(), ValueError, name, ": the input tensor is undefined");
  KUN_CHECK(x.dim() > 0, IndexError, name, ": needs a tensor with at least one dim, got a scalar");
  const int dim = normalize_dim(dim_in, x.dim(), name);
  const int64_t R = x.shape()[dim];
  KUN_CHECK(R > 0, IndexError, name, ": cannot reduce over dim ", dim, " of size 0 in shape ", x.shape());
  Shape keep = x.shape();
  keep[dim] = 1;
  Tensor xc = x.contiguous();
  Tensor vals = Tensor::empty(keep, x.dtype());
  Tensor idx = Tensor::empty(keep, DType::i64);
  int64_t inner = 1;
  for (int d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  const int64_t outer = R ? x.numel() / (R * inner) : 0;
  KUN_DISPATCH_ALL(x.dtype(), name, [&] {
    using T = scalar_t;
    const T* px = xc.data<T>();
    T* pv = vals.data<T>();
    int64_t* pi = idx.data<int64_t>();
    // better(a, b): b replaces the current best a (first occurrence wins; NaN wins and sticks)
    auto better = [is_max](T best, T v) {
      if constexpr (std::is_floating_point_v<T>) {
        if (best != best) return false;
        if (v != v) return true;
      }
      return is_max ? v > best : v < best;
    };
    parallel_for(outer * inner, std::max<int64_t>(1, cpu::kGrain / R), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t o = p / inner, j = p % inner;
        const T* src = px + o * R * inner + j;
        T best = src[0];
        int64_t bi = 0;
        for (int64_t r = 1; r < R; ++r) {
          T v = src[r * inner];
          if (better(best, v)) {
            best = v;
            bi = r;
          }
        }
        pv[p] = best;
        pi[p] = bi;
      }
    });
  });
  if (!keepdim) {
    Shape s = x.shape();
    s.erase(dim);
    vals = vals.view(s);
    idx = idx.view(s);
  }
  return {vals, idx};
}
}  // namespace

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return extreme_index(x, dim, keepdim, true, "max"); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return extreme_index(x, dim, keepdim, false, "min"); }

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (dim) return extreme_index(x, *dim, keepdim, true, "argmax").indices;
  KUN_CHECK(x.defined() && x.numel() > 0, IndexError, "argmax: cannot take the argmax of an empty tensor");
  Tensor r = extreme_index(x.reshape({x.numel()}), 0, false, true, "argmax").indices;
  return keepdim ? r.view(keepdim_shape(x.shape(), {})) : r;
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (dim) return extreme_index(x, *dim, keepdim, false, "argmin").indices;
  KUN_CHECK(x.defined() && x.numel() > 0, IndexError, "argmin: cannot take the argmin of an empty tensor");
  Tensor r = extreme_index(x.reshape({x.numel()}), 0, false, false, "argmin").indices;
  return keepdim ? r.view(keepdim_shape(x.shape(), {})) : r;
}

// ---- var / std (two passes per row: mean, then squared deviations) ----
namespace {
Tensor var_impl(const Tensor& x, const std::vector<int64_t>& dims, const VarOptions& opt, bool take_sqrt,
                const char* name) {
  KUN_CHECK(x.defined(), ValueError, name, ": the input tensor is undefined");
  KUN_CHECK(is_floating(x.dtype()), TypeError, name, ": expected a float32 or float64 tensor, got ", x.dtype());
  auto rd = reduce_dims(x, dims, name);
  Rows rows = to_rows(x, rd);
  Tensor out = Tensor::empty({rows.M}, x.dtype());
  const double denom = static_cast<double>(rows.K) - opt.correction;
  KUN_DISPATCH_FLOAT(x.dtype(), name, [&] {
    using T = scalar_t;
    const T* px = rows.data.data<T>();
    T* po = out.data<T>();
    const int64_t K = rows.K;
    parallel_for(rows.M, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(K, 1)), [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m) {
        const T* row = px + m * K;
        double mu = static_cast<double>(reduce_span<T>(SumOp<T>{}, row, K, T(0))) / static_cast<double>(K);
        double ss = 0;
        for (int64_t k = 0; k < K; ++k) {
          double d = static_cast<double>(row[k]) - mu;
          ss += d * d;
        }
        // denom <= 0 (one element, unbiased): PyTorch gives NaN/inf; keep its convention
        double v = ss / denom;
        if (denom <= 0) v = ss > 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
        po[m] = static_cast<T>(take_sqrt ? std::sqrt(v) : v);
      }
    });
  });
  Shape s = reduced_shape(x.shape(), rd, opt.keepdim);
  return out.view(s);
}
}  // namespace

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, const VarOptions& opt) {
  return var_impl(x, dims, opt, false, "var");
}
Tensor std(const Tensor& x, const std::vector<int64_t>& dims, const VarOptions& opt) {
  return var_impl(x, dims, opt, true, "std");
}

// ---- logsumexp ----
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  KUN_CHECK(x.defined(), ValueError, "logsumexp: the input tensor is undefined");
  KUN_CHECK(is_floating(x.dtype()), TypeError, "logsumexp: expected a float32 or float64 tensor, got ", x.dtype());
  auto rd = reduce_dims(x, dims, "logsumexp");
  Rows rows = to_rows(x, rd);
  Tensor out = Tensor::empty({rows.M}, x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "logsumexp", [&] {
    using T = scalar_t;
    const T* px = rows.data.data<T>();
    T* po = out.data<T>();
    const int64_t K = rows.K;
    parallel_for(rows.M, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(K, 1)), [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m) {
        const T* row = px + m * K;
        T mx = reduce_span<T>(MaxInfOp<T>{}, row, K, -std::numeric_limits<T>::infinity());
        if (!std::isfinite(mx)) {  // all -inf -> -inf; any +inf -> +inf; NaN stays NaN
          po[m] = mx;
          continue;
        }
        T s = 0;
        _Pragma("omp simd reduction(+ : s)")
        for (int64_t k = 0; k < K; ++k) s += cpu::exp_fast(row[k] - mx);
        po[m] = mx + std::log(s);
      }
    });
  });
  return out.view(reduced_shape(x.shape(), rd, keepdim));
}

// ---- norm ----
Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  KUN_CHECK(!std::isnan(p), ValueError, "norm: p must be a number, got NaN");
  KUN_CHECK(p >= 0 || std::isinf(p), ValueError, "norm: p must be >= 0 or +-inf, got ", p);
  const char* n = "norm";
  if (p == 2) return run_reduce<L2Op>(x, dims, keepdim, n, true, no_setup);
  if (p == 1) return run_reduce<L1Op>(x, dims, keepdim, n, true, no_setup);
  if (p == 0) return run_reduce<L0Op>(x, dims, keepdim, n, true, no_setup);
  if (std::isinf(p)) {
    if (p < 0) {
      auto rd = reduce_dims(x, dims, n);
      KUN_CHECK(reduced_count(x.shape(), rd) > 0, IndexError,
                "norm: -inf norm over a zero-size dim has no identity; shape ", x.shape());
      return run_reduce<AbsMinOp>(x, dims, keepdim, n, true, no_setup);
    }
    return run_reduce<AbsMaxOp>(x, dims, keepdim, n, true, no_setup);
  }
  return run_reduce<LpOp>(x, dims, keepdim, n, true, [p](auto& op, int64_t) { op.p = static_cast<decltype(op.p)>(p); });
}

// ---- backward kernels ----
Tensor amax_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& out_keep, const std::vector<int64_t>& dims) {
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "amax_backward", [&] {
    using T = scalar_t;
    cpu::binary_loop<T, T, T>(mask, x, out_keep.expand(x.shape()), [](T a, T m) { return a == m ? T(1) : T(0); });
  });
  Tensor count = sum(mask, dims, true);
  return mul(mask, div(grad_keep, count));
}

Tensor index_backward(const Tensor& grad_keep, const Tensor& indices_keep, const Shape& shape, int64_t dim_in) {
  const int dim = normalize_dim(dim_in, shape.size(), "index_backward");
  Tensor out = zeros(shape, grad_keep.dtype());
  Tensor g = grad_keep.contiguous();
  Tensor ix = indices_keep.contiguous();
  const int64_t R = shape[dim];
  int64_t inner = 1;
  for (int d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t n = g.numel();
  KUN_DISPATCH_FLOAT(g.dtype(), "index_backward", [&] {
    using T = scalar_t;
    const T* pg = g.data<T>();
    const int64_t* pi = ix.data<int64_t>();
    T* po = out.data<T>();
    for (int64_t p = 0; p < n; ++p) {
      const int64_t o = p / inner, j = p % inner, r = pi[p];
      KUN_ASSERT(r >= 0 && r < R, "index_backward: index out of range");
      po[(o * R + r) * inner + j] += pg[p];
    }
  });
  return out;
}

Tensor logsumexp_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& lse_keep) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "logsumexp_backward", [&] {
    using T = scalar_t;
    cpu::ternary_loop<T, T, T, T>(out, grad_keep.expand(x.shape()), x, lse_keep.expand(x.shape()),
                                  [](T g, T v, T l) { return v == l ? g : g * std::exp(v - l); });
  });
  return out;
}

Tensor norm_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& norm_keep, double p,
                     const std::vector<int64_t>& dims) {
  if (p == 0) return zeros(x.shape(), x.dtype());
  if (std::isinf(p)) {
    // like amax of |x|: split evenly between the ties, times sign(x)
    Tensor ax = Tensor::empty(x.shape(), x.dtype()), sg = Tensor::empty(x.shape(), x.dtype());
    KUN_DISPATCH_FLOAT(x.dtype(), "norm_backward", [&] {
      using T = scalar_t;
      cpu::unary_loop<T, T>(ax, x, [](T v) { return std::abs(v); });
      cpu::unary_loop<T, T>(sg, x, [](T v) { return T((v > 0) - (v < 0)); });
    });
    return mul(amax_backward(grad_keep, ax, norm_keep, dims), sg);
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "norm_backward", [&] {
    using T = scalar_t;
    Tensor ge = grad_keep.expand(x.shape()), ne = norm_keep.expand(x.shape());
    if (p == 1) {
      cpu::binary_loop<T, T, T>(out, ge, x, [](T g, T v) { return g * T((v > 0) - (v < 0)); });
    } else if (p == 2) {
      cpu::ternary_loop<T, T, T, T>(out, ge, x, ne, [](T g, T v, T n) { return n == 0 ? T(0) : g * v / n; });
    } else {
      const T pm1 = static_cast<T>(p - 1);
      cpu::ternary_loop<T, T, T, T>(out, ge, x, ne, [pm1](T g, T v, T n) {
        if (n == 0 || v == 0) return T(0);
        return g * T((v > 0) - (v < 0)) * std::pow(std::abs(v) / n, pm1);
      });
    }
  });
  return out;
}

Tensor std_backward(const Tensor& grad_keep, const Tensor& x, const Tensor& mean_keep, const Tensor& std_keep,
                    double denom) {
  Tensor coef = Tensor::empty(grad_keep.shape(), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "std_backward", [&] {
    using T = scalar_t;
    const T d = static_cast<T>(denom);
    cpu::binary_loop<T, T, T>(coef, grad_keep, std_keep, [d](T g, T s) { return s == 0 ? T(0) : g / (s * d); });
  });
  return mul(sub(x, mean_keep), coef);
}

Tensor prod_backward(const Tensor& grad_keep, const Tensor& x, const std::vector<int64_t>& dims) {
  auto rd = reduce_dims(x, dims, "prod_backward");
  Rows rows = to_rows(x, rd);
  Tensor g = grad_keep.contiguous();
  Tensor res = Tensor::empty({rows.M, rows.K}, x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "prod_backward", [&] {
    using T = scalar_t;
    const T* px = rows.data.data<T>();
    const T* pg = g.data<T>();
    T* pr = res.data<T>();
    const int64_t K = rows.K;
    parallel_for(rows.M, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(K, 1)), [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m) {
        // grad_k = g * prod_{j<k} x_j * prod_{j>k} x_j  (exact with zeros, no division)
        const T* row = px + m * K;
        T* dst = pr + m * K;
        T pre = 1;
        for (int64_t k = 0; k < K; ++k) {
          dst[k] = pre;
          pre *= row[k];
        }
        T suf = pg[m];
        for (int64_t k = K - 1; k >= 0; --k) {
          dst[k] *= suf;
          suf *= row[k];
        }
      }
    });
  });
  return from_rows(res, rows);
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
