// Shape-op kernels: concat (row memcpy), split/chunk (views), pad (index maps per padded dim).
#include <algorithm>
#include <cstring>

#include "kun/tensor/ops_shape.h"
#include "loops.h"

namespace kun {

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  KUN_CHECK(!xs.empty(), ValueError, "concat: expected at least one tensor, got an empty list");
  const Tensor& first = xs[0];
  KUN_CHECK(first.defined(), ValueError, "concat: tensor 0 is undefined");
  KUN_CHECK(first.dim() > 0, ShapeError, "concat: cannot concatenate 0-d tensors; unsqueeze them or use stack");
  const int d = normalize_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    KUN_CHECK(x.defined(), ValueError, "concat: tensor ", i, " is undefined");
    KUN_CHECK(x.dtype() == first.dtype(), TypeError, "concat: expected every tensor to be ", first.dtype(), ", got ",
              x.dtype(), " at position ", i);
    KUN_CHECK(x.dim() == first.dim(), ShapeError, "concat: expected tensors of rank ", first.dim(), " like ",
              first.shape(), ", got shape ", x.shape(), " at position ", i);
    for (int k = 0; k < x.dim(); ++k)
      KUN_CHECK(k == d || x.shape()[k] == first.shape()[k], ShapeError, "concat: expected shape ", first.shape(),
                " except along dim ", d, ", got ", x.shape(), " at position ", i);
    out_shape[d] += x.shape()[d];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype());
  if (out.numel() == 0) return out;
  // out viewed as (outer, out_shape[d] * inner); input i fills columns [col_i, col_i + size_i * inner).
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= out_shape[k];
  for (int k = d + 1; k < out_shape.size(); ++k) inner *= out_shape[k];
  const int64_t es = static_cast<int64_t>(out.element_size());
  const int64_t out_row = out_shape[d] * inner * es;
  std::vector<Tensor> cs(xs.size());
  std::vector<int64_t> col(xs.size()), width(xs.size());
  int64_t c = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    cs[i] = xs[i].contiguous();
    col[i] = c;
    width[i] = xs[i].shape()[d] * inner * es;
    c += width[i];
  }
  char* po = static_cast<char*>(out.raw_data());
  const int64_t n_in = static_cast<int64_t>(xs.size());
  const int64_t row_bytes = std::max<int64_t>(out_row, 1);
  // One task = one (row, input) block copy; grain keeps tasks around kGrain bytes * 4.
  parallel_for(outer * n_in, std::max<int64_t>(1, cpu::kGrain * 4 / row_bytes * n_in), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t r = t / n_in, i = t % n_in;
      if (width[i] == 0) continue;
      const char* src = static_cast<const char*>(cs[i].raw_data()) + r * width[i];
      std::memcpy(po + r * out_row + col[i], src, static_cast<size_t>(width[i]));
    }
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  KUN_CHECK(!xs.empty(), ValueError, "stack: expected at least one tensor, got an empty list");
  KUN_CHECK(xs[0].defined(), ValueError, "stack: tensor 0 is undefined");
  const int d = normalize_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  us.reserve(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    KUN_CHECK(xs[i].defined(), ValueError, "stack: tensor ", i, " is undefined");
    KUN_CHECK(xs[i].shape() == xs[0].shape(), ShapeError, "stack: expected every tensor to have shape ", xs[0].shape(),
              ", got ", xs[i].shape(), " at position ", i);
    us.push_back(xs[i].unsqueeze(d));
  }
  return concat(us, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim) {
  KUN_CHECK(x.defined() && x.dim() > 0, ShapeError, "split: expected a tensor with at least one dim, got shape ",
            x.shape());
  const int d = normalize_dim(dim, x.dim(), "split");
  KUN_CHECK(size > 0, ValueError, "split: split size must be > 0, got ", size);
  const int64_t n = x.shape()[d];
  std::vector<Tensor> out;
  for (int64_t s = 0; s < n; s += size) out.push_back(x.narrow(d, s, std::min(size, n - s)));
  if (n == 0) out.push_back(x);
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  KUN_CHECK(x.defined() && x.dim() > 0, ShapeError, "split: expected a tensor with at least one dim, got shape ",
            x.shape());
  const int d = normalize_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    KUN_CHECK(s >= 0, ValueError, "split: sizes must be >= 0, got ", s);
    total += s;
  }
  KUN_CHECK(total == x.shape()[d], ShapeError, "split: sizes must sum to ", x.shape()[d], " (dim ", d, " of shape ",
            x.shape(), "), got a sum of ", total);
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim) {
  KUN_CHECK(n > 0, ValueError, "chunk: number of chunks must be > 0, got ", n);
  KUN_CHECK(x.defined() && x.dim() > 0, ShapeError, "chunk: expected a tensor with at least one dim, got shape ",
            x.shape());
  const int d = normalize_dim(dim, x.dim(), "chunk");
  const int64_t size = std::max<int64_t>(1, (x.shape()[d] + n - 1) / n);
  return split(x, size, d);
}

// ---------------- pad ----------------

namespace {

struct PadPlan {
  Shape out_shape;
  int first_padded = 0;  // dims [first_padded, ndim) may be padded; earlier ones are batch dims
  // maps[k][o] = source index along dim first_padded + k for output index o, or -1 (constant fill)
  std::vector<std::vector<int64_t>> maps;
};

const char* mode_name(PadMode m) {
  switch (m) {
    case PadMode::constant:
      return "constant";
    case PadMode::reflect:
      return "reflect";
    case PadMode::replicate:
      return "replicate";
  }
  return "?";
}

PadPlan plan_pad(const Shape& in, const std::vector<int64_t>& pads, PadMode mode) {
  KUN_CHECK(pads.size() % 2 == 0, ValueError, "pad: pads must come in (left, right) pairs, got ", pads.size(),
            " values");
  const int np = static_cast<int>(pads.size() / 2);
  KUN_CHECK(np <= in.size(), ShapeError, "pad: ", pads.size(), " pad values pad ", np, " dims but the input has shape ",
            in, " (", in.size(), " dims)");
  PadPlan p;
  p.out_shape = in;
  p.first_padded = in.size() - np;
  p.maps.resize(np);
  for (int k = 0; k < np; ++k) {
    const int d = p.first_padded + k;
    const int pi = 2 * (in.size() - 1 - d);  // pads list starts with the last dim
    const int64_t l = pads[pi], r = pads[pi + 1], n = in[d];
    const int64_t on = n + l + r;
    KUN_CHECK(on >= 0, ShapeError, "pad: padding (", l, ", ", r, ") of dim ", d, " with size ", n,
              " gives a negative size ", on);
    if (mode != PadMode::constant) {
      KUN_CHECK(l >= 0 && r >= 0, ValueError, "pad: ", mode_name(mode), " mode needs pads >= 0, got (", l, ", ", r,
                ") for dim ", d);
      KUN_CHECK(n > 0 || on == 0, ShapeError, "pad: ", mode_name(mode), " mode cannot pad the empty dim ", d,
                " of shape ", in);
    }
    if (mode == PadMode::reflect)
      KUN_CHECK(l < n && r < n, ValueError, "pad: reflect mode needs pads < the dim size, got (", l, ", ", r,
                ") for dim ", d, " of size ", n);
    p.out_shape[d] = on;
    auto& m = p.maps[k];
    m.resize(static_cast<size_t>(on));
    for (int64_t o = 0; o < on; ++o) {
      int64_t i = o - l;
      if (mode == PadMode::constant) {
        m[o] = (i >= 0 && i < n) ? i : -1;
      } else if (mode == PadMode::replicate) {
        m[o] = std::clamp<int64_t>(i, 0, n - 1);
      } else {  // reflect about the edge elements (edges not repeated)
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
        m[o] = i;
      }
    }
  }
  return p;
}

// Visits every output row of the padded block of batch b: fn(out_row_index, src_row_offset or -1),
// where a row runs along the last dim and src offsets are in elements of the contiguous input.
template <typename F>
void for_each_row(const PadPlan& p, const Shape& in, int64_t& rows_per_batch, const F& fn, bool dry = false) {
  const int nd = in.size();
  const int np = static_cast<int>(p.maps.size());
  // padded dims except the last form the row multi-index
  rows_per_batch = 1;
  for (int k = 0; k + 1 < np; ++k) rows_per_batch *= p.out_shape[p.first_padded + k];
  if (dry) return;
  int64_t idx[Shape::kMaxDims] = {};
  for (int64_t r = 0; r < rows_per_batch; ++r) {
    int64_t src = 0;
    bool fill = false;
    int64_t stride = in[nd - 1];
    for (int k = np - 2; k >= 0; --k) {
      int64_t s = p.maps[k][idx[k]];
      if (s < 0) fill = true;
      src += s * stride;
      stride *= in[p.first_padded + k];
    }
    fn(r, fill ? -1 : src);
    for (int k = np - 2; k >= 0; --k) {
      if (++idx[k] < p.out_shape[p.first_padded + k]) break;
      idx[k] = 0;
    }
  }
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const PadOptions& opt) {
  KUN_CHECK(x.defined(), ValueError, "pad: the input is undefined");
  PadPlan p = plan_pad(x.shape(), pads, opt.mode);
  if (p.maps.empty()) return x.clone();
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(p.out_shape, x.dtype());
  if (out.numel() == 0) return out;
  const Shape& in = x.shape();
  int64_t batch = 1, in_block = 1, rows = 0;
  for (int d = 0; d < p.first_padded; ++d) batch *= in[d];
  for (int d = p.first_padded; d < in.size(); ++d) in_block *= in[d];
  for_each_row(
      p, in, rows, [](int64_t, int64_t) {}, true);
  const int64_t ow = p.out_shape.back();
  const auto& lastmap = p.maps.back();
  KUN_DISPATCH_ALL(x.dtype(), "pad", [&] {
    const scalar_t v = static_cast<scalar_t>(opt.value);
    const scalar_t* px = xc.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(batch, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(rows * ow, 1)), [&](int64_t b, int64_t e) {
      int64_t dummy;
      for (int64_t bi = b; bi < e; ++bi) {
        const scalar_t* xb = px + bi * in_block;
        scalar_t* ob = po + bi * rows * ow;
        for_each_row(p, in, dummy, [&](int64_t r, int64_t src) {
          scalar_t* orow = ob + r * ow;
          if (src < 0) {
            std::fill(orow, orow + ow, v);
            return;
          }
          const scalar_t* xrow = xb + src;
          for (int64_t o = 0; o < ow; ++o) {
            int64_t s = lastmap[o];
            orow[o] = s < 0 ? v : xrow[s];
          }
        });
      }
    });
  });
  return out;
}

Tensor pad_backward(const Tensor& grad, const Shape& in_shape, const std::vector<int64_t>& pads, PadMode mode) {
  PadPlan p = plan_pad(in_shape, pads, mode);
  KUN_CHECK(grad.shape() == p.out_shape, ShapeError, "pad_backward: expected a gradient of shape ", p.out_shape,
            ", got ", grad.shape());
  if (p.maps.empty()) return grad.clone();
  Tensor g = grad.contiguous();
  Tensor gx = zeros(in_shape, grad.dtype());
  if (g.numel() == 0 || gx.numel() == 0) return gx;
  int64_t batch = 1, in_block = 1, rows = 0;
  for (int d = 0; d < p.first_padded; ++d) batch *= in_shape[d];
  for (int d = p.first_padded; d < in_shape.size(); ++d) in_block *= in_shape[d];
  for_each_row(
      p, in_shape, rows, [](int64_t, int64_t) {}, true);
  const int64_t ow = p.out_shape.back();
  const auto& lastmap = p.maps.back();
  KUN_DISPATCH_FLOAT(grad.dtype(), "pad_backward", [&] {
    const scalar_t* pg = g.data<scalar_t>();
    scalar_t* px = gx.data<scalar_t>();
    // Several output rows may map to one input row (reflect/replicate), so each batch block is
    // summed by one thread; batches are disjoint.
    parallel_for(batch, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(rows * ow, 1)), [&](int64_t b, int64_t e) {
      int64_t dummy;
      for (int64_t bi = b; bi < e; ++bi) {
        scalar_t* xb = px + bi * in_block;
        const scalar_t* gb = pg + bi * rows * ow;
        for_each_row(p, in_shape, dummy, [&](int64_t r, int64_t src) {
          if (src < 0) return;
          const scalar_t* grow = gb + r * ow;
          scalar_t* xrow = xb + src;
          for (int64_t o = 0; o < ow; ++o) {
            int64_t s = lastmap[o];
            if (s >= 0) xrow[s] += grow[o];
          }
        });
      }
    });
  });
  return gx;
}

}  // namespace kun
