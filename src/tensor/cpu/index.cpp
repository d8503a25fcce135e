// Indexing kernels. Indices are validated in a separate pass before any kernel touches memory,
// so the hot loops never bounds-check and never read or write out of range.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "kun/tensor/ops_index.h"
#include "loops.h"

namespace kun {

namespace {

// Throws IndexError naming `op` if any index is outside [0, n). idx may be strided.
void check_indices(const Tensor& idx, int64_t n, const char* op, const char* what = "index") {
  KUN_DISPATCH_INDEX(idx.dtype(), op, [&] {
    Tensor c = idx.contiguous();
    const scalar_t* p = c.data<scalar_t>();
    const int64_t m = c.numel();
    int64_t bad_pos = -1;
    for (int64_t i = 0; i < m; ++i)
      if (p[i] < 0 || static_cast<int64_t>(p[i]) >= n) {
        bad_pos = i;
        break;
      }
    KUN_CHECK(bad_pos < 0, IndexError, op, ": ", what, " ", bad_pos < 0 ? 0 : static_cast<int64_t>(p[bad_pos]),
              " is out of range; expected values in [0, ", n, ")");
  });
}

// int64 contiguous copy of an index tensor (after validation).
Tensor as_i64(const Tensor& idx) { return idx.dtype() == DType::i64 ? idx.contiguous() : idx.to(DType::i64); }

void check_index_dtype(const Tensor& idx, const char* op) {
  KUN_CHECK(idx.defined(), ValueError, op, ": the index tensor is undefined");
  KUN_CHECK(idx.dtype() == DType::i64 || idx.dtype() == DType::i32, TypeError, op,
            ": expected an int64 or int32 index tensor, got ", idx.dtype());
}

// dst (outer, V, inner) += src (outer, n, inner) at rows idx[0..n) along the middle dim.
// Threads never race: each task owns a block of destination rows of one outer slice and scans
// every index, adding only those that fall in its block (in index order, so it is deterministic).
template <typename T>
void index_add_rows(T* dst, const T* src, const int64_t* idx, int64_t outer, int64_t V, int64_t n, int64_t inner) {
  const int64_t work = outer * n * inner;
  const int nt = work >= cpu::kGrain ? num_threads() : 1;
  const int64_t parts = outer >= nt ? 1 : std::min<int64_t>(nt, std::max<int64_t>(V, 1));
  const int64_t per_task = std::max<int64_t>(1, work / (outer * parts));
  parallel_for(outer * parts, std::max<int64_t>(1, cpu::kGrain / per_task), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / parts, part = t % parts;
      const int64_t lo = V * part / parts, hi = V * (part + 1) / parts;
      T* d = dst + o * V * inner;
      const T* s = src + o * n * inner;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t r = idx[i];
        if (r < lo || r >= hi) continue;
        T* drow = d + r * inner;
        const T* srow = s + i * inner;
#pragma omp simd
        for (int64_t c = 0; c < inner; ++c) drow[c] += srow[c];
      }
    }
  });
}

void outer_inner(const Shape& s, int d, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int k = 0; k < d; ++k) outer *= s[k];
  for (int k = d + 1; k < s.size(); ++k) inner *= s[k];
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx) {
  KUN_CHECK(x.defined(), ValueError, "index_select: the input is undefined");
  check_index_dtype(idx, "index_select");
  KUN_CHECK(idx.dim() <= 1, ShapeError, "index_select: expected a 1-D index tensor, got shape ", idx.shape());
  KUN_CHECK(x.dim() > 0, ShapeError, "index_select: expected an input with at least one dim, got a 0-d tensor");
  const int d = normalize_dim(dim, x.dim(), "index_select");
  const int64_t V = x.shape()[d];
  check_indices(idx, V, "index_select");
  Tensor id = as_i64(idx);
  const int64_t n = id.numel();
  Shape os = x.shape();
  os[d] = n;
  Tensor out = Tensor::empty(os, x.dtype());
  if (out.numel() == 0) return out;
  Tensor xc = x.contiguous();
  int64_t outer, inner;
  outer_inner(x.shape(), d, outer, inner);
  const int64_t* pi = id.data<int64_t>();
  const int64_t es = static_cast<int64_t>(x.element_size());
  const char* px = static_cast<const char*>(xc.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  const int64_t row = inner * es;
  // each output row (o, i) is one memcpy of `inner` elements
  parallel_for(outer * n, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / n, i = t % n;
      std::memcpy(po + t * row, px + (o * V + pi[i]) * row, static_cast<size_t>(row));
    }
  });
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& idx, const Tensor& src) {
  KUN_CHECK(x.defined() && src.defined(), ValueError, "index_add: an input is undefined");
  check_index_dtype(idx, "index_add");
  KUN_CHECK(idx.dim() <= 1, ShapeError, "index_add: expected a 1-D index tensor, got shape ", idx.shape());
  KUN_CHECK(x.dim() > 0, ShapeError, "index_add: expected an input with at least one dim, got a 0-d tensor");
  const int d = normalize_dim(dim, x.dim(), "index_add");
  KUN_CHECK(src.dtype() == x.dtype(), TypeError, "index_add: expected src of dtype ", x.dtype(), ", got ", src.dtype());
  Shape want = x.shape();
  want[d] = idx.numel();
  KUN_CHECK(src.shape() == want, ShapeError, "index_add: expected src of shape ", want, ", got ", src.shape());
  const int64_t V = x.shape()[d];
  check_indices(idx, V, "index_add");
  Tensor id = as_i64(idx);
  Tensor out = x.clone();
  if (src.numel() == 0) return out;
  Tensor sc = src.contiguous();
  int64_t outer, inner;
  outer_inner(x.shape(), d, outer, inner);
  KUN_DISPATCH_ALL(x.dtype(), "index_add", [&] {
    if constexpr (std::is_same_v<scalar_t, bool>) {
      detail::throw_error<TypeError>("index_add: bool tensors are not supported");
    } else {
      index_add_rows<scalar_t>(out.data<scalar_t>(), sc.data<scalar_t>(), id.data<int64_t>(), outer, V, id.numel(),
                               inner);
    }
  });
  return out;
}

namespace {

// Common checks for gather/scatter_add: idx has x's rank and fits x's extents off `d`.
void check_gather_shapes(const Tensor& x, const Tensor& idx, int d, const char* op) {
  KUN_CHECK(idx.dim() == x.dim(), ShapeError, op, ": expected an index of rank ", x.dim(), " (the input's shape ",
            x.shape(), "), got shape ", idx.shape());
  for (int k = 0; k < x.dim(); ++k)
    KUN_CHECK(k == d || idx.shape()[k] <= x.shape()[k], ShapeError, op, ": index shape ", idx.shape(),
              " exceeds the input shape ", x.shape(), " at dim ", k);
}

// x restrided to idx's shape with stride 0 along d: the base of each gathered line.
Tensor line_base(const Tensor& x, const Shape& shape, int d) {
  Shape st = x.strides();
  st[d] = 0;
  return Tensor(x.storage(), shape, st, x.offset(), x.dtype());
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx) {
  KUN_CHECK(x.defined(), ValueError, "gather: the input is undefined");
  check_index_dtype(idx, "gather");
  KUN_CHECK(x.dim() > 0, ShapeError, "gather: expected an input with at least one dim, got a 0-d tensor");
  const int d = normalize_dim(dim, x.dim(), "gather");
  check_gather_shapes(x, idx, d, "gather");
  check_indices(idx, x.shape()[d], "gather");
  Tensor out = Tensor::empty(idx.shape(), x.dtype());
  if (out.numel() == 0) return out;
  Tensor base = line_base(x, idx.shape(), d);
  const int64_t dstride = x.strides()[d];
  KUN_DISPATCH_ALL(x.dtype(), "gather", [&] {
    using T = scalar_t;
    KUN_DISPATCH_INDEX(idx.dtype(), "gather", [&] {
      using I = scalar_t;
      auto it = cpu::make_iter<3>({&out, &idx, &base});
      cpu::run<3>(it, [&](char* const* p, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          const I k = *reinterpret_cast<const I*>(p[1] + i * s[1]);
          *reinterpret_cast<T*>(p[0] + i * s[0]) = reinterpret_cast<const T*>(p[2] + i * s[2])[k * dstride];
        }
      });
    });
  });
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& idx, const Tensor& src) {
  KUN_CHECK(x.defined() && src.defined(), ValueError, "scatter_add: an input is undefined");
  check_index_dtype(idx, "scatter_add");
  KUN_CHECK(x.dim() > 0, ShapeError, "scatter_add: expected an input with at least one dim, got a 0-d tensor");
  const int d = normalize_dim(dim, x.dim(), "scatter_add");
  KUN_CHECK(src.dtype() == x.dtype(), TypeError, "scatter_add: expected src of dtype ", x.dtype(), ", got ",
            src.dtype());
  check_gather_shapes(x, idx, d, "scatter_add");
  KUN_CHECK(src.dim() == idx.dim(), ShapeError, "scatter_add: expected src of rank ", idx.dim(), ", got shape ",
            src.shape());
  for (int k = 0; k < idx.dim(); ++k)
    KUN_CHECK(idx.shape()[k] <= src.shape()[k], ShapeError, "scatter_add: index shape ", idx.shape(),
              " exceeds the src shape ", src.shape(), " at dim ", k);
  check_indices(idx, x.shape()[d], "scatter_add");
  Tensor out = x.clone();
  if (idx.numel() == 0) return out;
  // src restricted to idx's extents
  Tensor s = src;
  for (int k = 0; k < idx.dim(); ++k)
    if (s.shape()[k] != idx.shape()[k]) s = s.narrow(k, 0, idx.shape()[k]);
  Tensor base = line_base(out, idx.shape(), d);
  const int64_t dstride = out.strides()[d];
  KUN_DISPATCH_ALL(x.dtype(), "scatter_add", [&] {
    using T = scalar_t;
    if constexpr (std::is_same_v<T, bool>) {
      detail::throw_error<TypeError>("scatter_add: bool tensors are not supported");
    } else {
      KUN_DISPATCH_INDEX(idx.dtype(), "scatter_add", [&] {
        using I = scalar_t;
        auto it = cpu::make_iter<3>({&base, &idx, &s});
        // Different positions may hit the same output element: one thread, in order.
        cpu::run_range<3>(it, 0, it.numel, [&](char* const* p, const int64_t* st, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            const I k = *reinterpret_cast<const I*>(p[1] + i * st[1]);
            reinterpret_cast<T*>(p[0] + i * st[0])[k * dstride] += *reinterpret_cast<const T*>(p[2] + i * st[2]);
          }
        });
      });
    }
  });
  return out;
}

Tensor embedding(const Tensor& idx, const Tensor& weight) {
  check_index_dtype(idx, "embedding");
  KUN_CHECK(weight.defined() && weight.dim() == 2, ShapeError, "embedding: expected weight of shape (V, D), got ",
            weight.defined() ? weight.shape() : Shape{});
  Shape os = idx.shape();
  os.push_back(weight.shape()[1]);
  // index_select checks the indices against [0, V) and names itself; re-check here for the message.
  check_indices(idx, weight.shape()[0], "embedding");
  return index_select(weight, 0, idx.reshape({idx.numel()})).view(os);
}

Tensor embedding_backward(const Tensor& grad, const Tensor& idx, int64_t num_weights, const EmbeddingOptions& opt) {
  check_index_dtype(idx, "embedding_backward");
  KUN_CHECK(grad.defined() && grad.dim() == idx.dim() + 1, ShapeError,
            "embedding_backward: expected a gradient of rank ", idx.dim() + 1, " (index shape ", idx.shape(),
            " + (D)), got ", grad.defined() ? grad.shape() : Shape{});
  for (int k = 0; k < idx.dim(); ++k)
    KUN_CHECK(grad.shape()[k] == idx.shape()[k], ShapeError, "embedding_backward: gradient shape ", grad.shape(),
              " does not start with the index shape ", idx.shape());
  check_indices(idx, num_weights, "embedding_backward");
  const int64_t D = grad.shape().back();
  Tensor gw = zeros({num_weights, D}, grad.dtype());
  const int64_t n = idx.numel();
  if (n == 0 || D == 0) return gw;
  Tensor id = as_i64(idx);
  std::optional<int64_t> pad_row = opt.padding_idx;
  if (pad_row && *pad_row < 0) *pad_row += num_weights;
  if (pad_row) {
    // drop padding rows by redirecting them out of every row block
    Tensor copy = id.clone();
    int64_t* p = copy.data<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      if (p[i] == *pad_row) p[i] = -1;
    id = copy;
  }
  Tensor g = grad.contiguous();
  KUN_DISPATCH_FLOAT(grad.dtype(), "embedding_backward", [&] {
    index_add_rows<scalar_t>(gw.data<scalar_t>(), g.data<scalar_t>(), id.data<int64_t>(), 1, num_weights, n, D);
  });
  return gw;
}

Tensor one_hot(const Tensor& idx, int64_t num_classes) {
  check_index_dtype(idx, "one_hot");
  Tensor id = as_i64(idx);
  const int64_t n = id.numel();
  const int64_t* p = id.data<int64_t>();
  if (num_classes < 0) {
    KUN_CHECK(num_classes == -1, ValueError, "one_hot: num_classes must be >= 0 or -1 (infer), got ", num_classes);
    KUN_CHECK(n > 0, ValueError, "one_hot: cannot infer num_classes from an empty index tensor; pass it");
    num_classes = *std::max_element(p, p + n) + 1;
  }
  check_indices(id, num_classes, "one_hot", "class index");
  Shape os = idx.shape();
  os.push_back(num_classes);
  Tensor out = zeros(os, DType::i64);
  int64_t* po = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) po[i * num_classes + p[i]] = 1;
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  KUN_CHECK(x.defined() && mask.defined(), ValueError, "masked_fill: an input is undefined");
  KUN_CHECK(mask.dtype() == DType::bool_, TypeError, "masked_fill: expected a bool mask, got ", mask.dtype());
  Shape bs = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  KUN_CHECK(bs == x.shape(), ShapeError, "masked_fill: mask of shape ", mask.shape(),
            " must broadcast to the input shape ", x.shape());
  Tensor m = mask.shape() == x.shape() ? mask : mask.expand(x.shape());
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  KUN_DISPATCH_ALL(x.dtype(), "masked_fill", [&] {
    const scalar_t v = static_cast<scalar_t>(value);
    cpu::binary_loop<scalar_t, scalar_t, bool>(out, x, m, [v](scalar_t a, bool k) { return k ? v : a; });
  });
  return out;
}

TopK topk(const Tensor& x, int64_t k, const TopKOptions& opt) {
  KUN_CHECK(x.defined(), ValueError, "topk: the input is undefined");
  const int nd = std::max(x.dim(), 1);
  const int d = normalize_dim(opt.dim, nd, "topk");
  Tensor xx = x.dim() == 0 ? x.reshape({1}) : x;
  const int64_t n = xx.shape()[d];
  KUN_CHECK(k >= 0 && k <= n, ValueError, "topk: k must be in [0, ", n, "] (size of dim ", d, "), got ", k);
  // Work on x with `d` moved last, contiguous: rows of n.
  Tensor xt = xx.transpose(d, nd - 1).contiguous();
  Shape os = xt.shape();
  os[nd - 1] = k;
  Tensor vals = Tensor::empty(os, x.dtype()), inds = Tensor::empty(os, DType::i64);
  const int64_t rows = n ? xt.numel() / n : 0;
  KUN_DISPATCH_ALL(x.dtype(), "topk", [&] {
    using T = scalar_t;
    const T* px = xt.data<T>();
    T* pv = vals.data<T>();
    int64_t* pi = inds.data<int64_t>();
    const bool largest = opt.largest;
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t r = b; r < e; ++r) {
        const T* row = px + r * n;
        std::iota(order.begin(), order.end(), int64_t{0});
        // strict weak order: "a comes before b"; NaN is the largest value; ties by index
        auto before = [&](int64_t a, int64_t c) {
          const T va = row[a], vc = row[c];
          bool na = false, nc = false;
          if constexpr (std::is_floating_point_v<T>) {
            na = std::isnan(va);
            nc = std::isnan(vc);
          }
          if (na || nc) {
            if (na && nc) return a < c;
            return largest ? na : nc;
          }
          if (va != vc) return largest ? va > vc : va < vc;
          return a < c;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          pv[r * k + j] = row[order[j]];
          pi[r * k + j] = order[j];
        }
      }
    });
  });
  TopK res{vals.transpose(d, nd - 1).contiguous(), inds.transpose(d, nd - 1).contiguous()};
  if (x.dim() == 0) {
    res.values = res.values.reshape({});
    res.indices = res.indices.reshape({});
  }
  return res;
}

}  // namespace kun
