// Pooling on NCHW / NCL tensors. Every (n, c) plane is independent, so the kernels run plane by
// plane over threads on the plain layout: pooling is memory-bound, and staying in NCHW avoids the
// two layout reorders a blocked oneDNN primitive would need around it. Max pooling records
// PyTorch-style argmax indices (position within the input plane) for the backward scatter.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kun/core/threading.h"
#include "kun/tensor/ops_conv.h"

namespace kun {

namespace {

struct PoolGeom {
  int64_t P = 0;  // planes = N * C
  int64_t H = 1, W = 1, OH = 1, OW = 1;
  int64_t KH = 1, KW = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};

int64_t pool_out(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;  // the last window must start inside the input or left padding
  KUN_CHECK(out >= 1, ShapeError, op, ": kernel extent ", d * (k - 1) + 1, " is larger than the padded input size ",
            in + 2 * p);
  return out;
}

// Shapes (N, C, H, W) / (C, H, W) for 2-D (or (N, C, L) / (C, L) for 1-D, H = 1).
PoolGeom pool_geom(const char* op, const Tensor& x, const Pool2dOptions& o, bool one_d) {
  KUN_CHECK(x.defined(), ValueError, op, ": input is undefined");
  KUN_CHECK(is_floating(x.dtype()), TypeError, op, ": expected a float32 or float64 input, got ", x.dtype());
  if (one_d)
    KUN_CHECK(x.dim() == 2 || x.dim() == 3, ShapeError, op, ": input must be (N, C, L) or (C, L), got ", x.shape());
  else
    KUN_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError, op, ": input must be (N, C, H, W) or (C, H, W), got ",
              x.shape());
  KUN_CHECK(o.kernel.h >= 1 && o.kernel.w >= 1, ValueError, op, ": kernel size must be >= 1, got (", o.kernel.h, ", ",
            o.kernel.w, ")");
  KUN_CHECK(o.stride.h >= 0 && o.stride.w >= 0 && o.dilation.h >= 1 && o.dilation.w >= 1, ValueError, op,
            ": stride must be >= 1 (0 = kernel) and dilation >= 1");
  KUN_CHECK(o.padding.h >= 0 && o.padding.w >= 0 && 2 * o.padding.h <= o.kernel.h && 2 * o.padding.w <= o.kernel.w,
            ValueError, op, ": padding must be between 0 and half the kernel size, got (", o.padding.h, ", ",
            o.padding.w, ") for kernel (", o.kernel.h, ", ", o.kernel.w, ")");
  PoolGeom g;
  const int sp = one_d ? 1 : 2;
  g.P = 1;
  for (int i = 0; i < x.dim() - sp; ++i) g.P *= x.size(i);
  g.H = one_d ? 1 : x.size(-2);
  g.W = x.size(-1);
  g.KH = o.kernel.h;
  g.KW = o.kernel.w;
  g.sh = o.stride.h ? o.stride.h : o.kernel.h;
  g.sw = o.stride.w ? o.stride.w : o.kernel.w;
  g.ph = o.padding.h;
  g.pw = o.padding.w;
  g.dh = o.dilation.h;
  g.dw = o.dilation.w;
  g.OH = one_d ? 1 : pool_out(op, g.H, g.KH, g.sh, g.ph, g.dh, o.ceil_mode);
  g.OW = pool_out(op, g.W, g.KW, g.sw, g.pw, g.dw, o.ceil_mode);
  return g;
}

Pool2dOptions as_2d(const Pool1dOptions& o) {
  Pool2dOptions p;
  p.kernel = Size2(1, o.kernel);
  p.stride = Size2(1, o.stride ? o.stride : o.kernel);
  p.padding = Size2(0, o.padding);
  p.dilation = Size2(1, o.dilation);
  p.ceil_mode = o.ceil_mode;
  p.count_include_pad = o.count_include_pad;
  return p;
}

Shape out_shape(const Tensor& x, const PoolGeom& g, bool one_d) {
  Shape s = x.shape();
  if (one_d) {
    s[s.size() - 1] = g.OW;
  } else {
    s[s.size() - 2] = g.OH;
    s[s.size() - 1] = g.OW;
  }
  return s;
}

int64_t plane_grain(int64_t plane_elems) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(plane_elems, 1)); }

template <typename T>
void max_forward(const PoolGeom& g, const T* x, T* y, int64_t* idx) {
  parallel_for(g.P, plane_grain(g.H * g.W), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * g.H * g.W;
      T* yp = y + p * g.OH * g.OW;
      int64_t* ip = idx + p * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = oh * g.sh - g.ph;
        // window rows inside the input: h0 + kh * dh in [0, H)
        const int64_t kh0 = h0 < 0 ? (-h0 + g.dh - 1) / g.dh : 0;
        const int64_t kh1 = std::min(g.KH, (g.H - 1 - h0) / g.dh + 1);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = ow * g.sw - g.pw;
          const int64_t kw0 = w0 < 0 ? (-w0 + g.dw - 1) / g.dw : 0;
          const int64_t kw1 = std::min(g.KW, (g.W - 1 - w0) / g.dw + 1);
          int64_t bi = (h0 + kh0 * g.dh) * g.W + w0 + kw0 * g.dw;  // first element inside the input
          T best = xp[bi];
          bool nan = false;
          // Arithmetic select, no branches: on random data a data-dependent branch mispredicts
          // about half the time and dominates the cost.
          for (int64_t kh = kh0; kh < kh1; ++kh) {
            const int64_t rbase = (h0 + kh * g.dh) * g.W + w0;
            for (int64_t kw = kw0; kw < kw1; ++kw) {
              const int64_t i = rbase + kw * g.dw;
              const T v = xp[i];
              const int64_t take = v > best;
              best = v > best ? v : best;
              bi += (i - bi) * take;
              nan |= v != v;
            }
          }
          if (nan) {  // rare: PyTorch propagates a NaN (the last one in the window)
            for (int64_t kh = kh0; kh < kh1; ++kh)
              for (int64_t kw = kw0; kw < kw1; ++kw) {
                const int64_t i = (h0 + kh * g.dh) * g.W + w0 + kw * g.dw;
                if (xp[i] != xp[i]) best = xp[i], bi = i;
              }
          }
          yp[oh * g.OW + ow] = best;
          ip[oh * g.OW + ow] = bi;
        }
      }
    }
  });
}

// Fast path for the common non-overlapping 2x2 window (stride 2, no padding/dilation).
template <typename T>
void max_forward_2x2(const PoolGeom& g, const T* x, T* y, int64_t* idx) {
  // Branch-free so the compiler vectorizes the row loop: a candidate wins when it is greater or
  // NaN, which keeps PyTorch's rule (NaN propagates, the last NaN in the window is the argmax).
  // idx == nullptr: values only (inference, nothing to scatter back through).
  parallel_for(g.P, plane_grain(g.H * g.W), [&](int64_t b, int64_t e) {
    const int64_t H = g.H, W = g.W, OH = g.OH, OW = g.OW;  // locals: the int64 index stores cannot alias them
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * H * W;
      T* yp = y + p * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const T* r0 = xp + 2 * oh * W;
        const T* r1 = r0 + W;
        T* yr = yp + oh * OW;
        if (!idx) {
          for (int64_t ow = 0; ow < OW; ++ow) {
            T best = r0[2 * ow];
            for (T v : {r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]}) best = (v > best || v != v) ? v : best;
            yr[ow] = best;
          }
          continue;
        }
        int64_t* ir = idx + p * OH * OW + oh * OW;
        const int64_t i0 = 2 * oh * W;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const T a = r0[2 * ow], b1 = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
          T best = a;
          int64_t bi = i0 + 2 * ow;
          const bool tb = b1 > best || b1 != b1;
          best = tb ? b1 : best;
          bi = tb ? i0 + 2 * ow + 1 : bi;
          const bool tc = c > best || c != c;
          best = tc ? c : best;
          bi = tc ? i0 + W + 2 * ow : bi;
          const bool td = d > best || d != d;
          best = td ? d : best;
          bi = td ? i0 + W + 2 * ow + 1 : bi;
          yr[ow] = best;
          ir[ow] = bi;
        }
      }
    }
  });
}

// PyTorch's window and divisor for average pooling.
struct AvgWin {
  int64_t h0, h1, w0, w1;
  double div;
};
inline AvgWin avg_window(const PoolGeom& g, int64_t oh, int64_t ow, bool include_pad) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.KH, g.H + g.ph), w1 = std::min(w0 + g.KW, g.W + g.pw);
  const int64_t pool = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  const int64_t cnt = (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, static_cast<double>(include_pad ? pool : std::max<int64_t>(cnt, 1))};
}

template <typename T>
void avg_forward(const PoolGeom& g, bool include_pad, const T* x, T* y) {
  parallel_for(g.P, plane_grain(g.H * g.W), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * g.H * g.W;
      T* yp = y + p * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          AvgWin wd = avg_window(g, oh, ow, include_pad);
          double acc = 0;  // double: a window of huge floats must not overflow before the division
          for (int64_t ih = wd.h0; ih < wd.h1; ++ih)
            for (int64_t iw = wd.w0; iw < wd.w1; ++iw) acc += xp[ih * g.W + iw];
          yp[oh * g.OW + ow] = static_cast<T>(acc / wd.div);
        }
    }
  });
}

template <typename T>
void avg_backward(const PoolGeom& g, bool include_pad, const T* gy, T* gx) {
  parallel_for(g.P, plane_grain(g.H * g.W), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      T* xp = gx + p * g.H * g.W;
      const T* yp = gy + p * g.OH * g.OW;
      std::fill(xp, xp + g.H * g.W, T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          AvgWin wd = avg_window(g, oh, ow, include_pad);
          const T v = yp[oh * g.OW + ow] / static_cast<T>(wd.div);
          for (int64_t ih = wd.h0; ih < wd.h1; ++ih)
            for (int64_t iw = wd.w0; iw < wd.w1; ++iw) xp[ih * g.W + iw] += v;
        }
    }
  });
}

inline int64_t adapt_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t adapt_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
void adaptive_forward(const PoolGeom& g, const T* x, T* y) {
  parallel_for(g.P, plane_grain(g.H * g.W), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * g.H * g.W;
      T* yp = y + p * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = adapt_start(oh, g.H, g.OH), h1 = adapt_end(oh, g.H, g.OH);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = adapt_start(ow, g.W, g.OW), w1 = adapt_end(ow, g.W, g.OW);
          double acc = 0;  // double: see avg_forward
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) acc += xp[ih * g.W + iw];
          yp[oh * g.OW + ow] = static_cast<T>(acc / static_cast<double>((h1 - h0) * (w1 - w0)));
        }
      }
    }
  });
}

template <typename T>
void adaptive_backward(const PoolGeom& g, const T* gy, T* gx) {
  parallel_for(g.P, plane_grain(g.H * g.W), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      T* xp = gx + p * g.H * g.W;
      const T* yp = gy + p * g.OH * g.OW;
      std::fill(xp, xp + g.H * g.W, T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = adapt_start(oh, g.H, g.OH), h1 = adapt_end(oh, g.H, g.OH);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = adapt_start(ow, g.W, g.OW), w1 = adapt_end(ow, g.W, g.OW);
          const T v = yp[oh * g.OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) xp[ih * g.W + iw] += v;
        }
      }
    }
  });
}

// want_idx == false (values only) skips the index tensor on the 2x2 fast path.
std::tuple<Tensor, Tensor> max_pool_impl(const char* op, const Tensor& x_in, const Pool2dOptions& o, bool one_d,
                                         bool want_idx = true) {
  PoolGeom g = pool_geom(op, x_in, o, one_d);
  Tensor x = x_in.contiguous();
  Shape os = out_shape(x, g, one_d);
  const bool fast = g.KH == 2 && g.KW == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 &&
                    g.dw == 1 && g.OH * 2 <= g.H && g.OW * 2 <= g.W;
  Tensor y = Tensor::empty(os, x.dtype());
  Tensor idx = (want_idx || !fast) ? Tensor::empty(os, DType::i64) : Tensor();
  KUN_DISPATCH_FLOAT(x.dtype(), op, [&] {
    if (fast)
      max_forward_2x2<scalar_t>(g, x.data<scalar_t>(), y.data<scalar_t>(), idx.defined() ? idx.data<int64_t>() : nullptr);
    else max_forward<scalar_t>(g, x.data<scalar_t>(), y.data<scalar_t>(), idx.data<int64_t>());
  });
  return {y, idx};
}

Tensor avg_pool_impl(const char* op, const Tensor& x_in, const Pool2dOptions& o, bool one_d) {
  PoolGeom g = pool_geom(op, x_in, o, one_d);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(out_shape(x, g, one_d), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), op, [&] {
    avg_forward<scalar_t>(g, o.count_include_pad, x.data<scalar_t>(), y.data<scalar_t>());
  });
  return y;
}

Tensor avg_pool_backward_impl(const char* op, const Tensor& gy_in, const Shape& xs, const Pool2dOptions& o,
                              bool one_d) {
  Tensor fake = Tensor::empty(Shape{}, gy_in.dtype()).expand(xs);  // shape carrier for pool_geom (no data read)
  PoolGeom g = pool_geom(op, fake, o, one_d);
  Shape os = out_shape(fake, g, one_d);
  KUN_CHECK(gy_in.shape() == os, ShapeError, op, ": grad_out must be ", os, ", got ", gy_in.shape());
  Tensor gy = gy_in.contiguous();
  Tensor gx = Tensor::empty(xs, gy.dtype());
  KUN_DISPATCH_FLOAT(gy.dtype(), op, [&] {
    avg_backward<scalar_t>(g, o.count_include_pad, gy.data<scalar_t>(), gx.data<scalar_t>());
  });
  return gx;
}

PoolGeom adaptive_geom(const char* op, const Tensor& x, Size2 out, bool one_d) {
  KUN_CHECK(x.defined(), ValueError, op, ": input is undefined");
  KUN_CHECK(is_floating(x.dtype()), TypeError, op, ": expected a float32 or float64 input, got ", x.dtype());
  if (one_d)
    KUN_CHECK(x.dim() == 2 || x.dim() == 3, ShapeError, op, ": input must be (N, C, L) or (C, L), got ", x.shape());
  else
    KUN_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError, op, ": input must be (N, C, H, W) or (C, H, W), got ",
              x.shape());
  KUN_CHECK(out.h >= 1 && out.w >= 1, ValueError, op, ": output size must be >= 1, got (", out.h, ", ", out.w, ")");
  PoolGeom g;
  const int sp = one_d ? 1 : 2;
  g.P = 1;
  for (int i = 0; i < x.dim() - sp; ++i) g.P *= x.size(i);
  g.H = one_d ? 1 : x.size(-2);
  g.W = x.size(-1);
  KUN_CHECK(g.H >= 1 && g.W >= 1, ShapeError, op, ": input spatial size must be non-empty, got ", x.shape());
  g.OH = one_d ? 1 : out.h;
  g.OW = out.w;
  return g;
}

Tensor adaptive_impl(const char* op, const Tensor& x_in, Size2 out, bool one_d) {
  PoolGeom g = adaptive_geom(op, x_in, out, one_d);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(out_shape(x, g, one_d), x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), op, [&] { adaptive_forward<scalar_t>(g, x.data<scalar_t>(), y.data<scalar_t>()); });
  return y;
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dOptions& opt) {
  return max_pool_impl("max_pool2d", x, opt, false);
}
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  return std::get<0>(max_pool_impl("max_pool2d", x, opt, false, /*want_idx=*/false));
}

std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& x, const Pool1dOptions& opt) {
  return max_pool_impl("max_pool1d", x, as_2d(opt), true);
}
Tensor max_pool1d(const Tensor& x, const Pool1dOptions& opt) { return std::get<0>(max_pool1d_with_indices(x, opt)); }

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) { return avg_pool_impl("avg_pool2d", x, opt, false); }
Tensor avg_pool1d(const Tensor& x, const Pool1dOptions& opt) {
  return avg_pool_impl("avg_pool1d", x, as_2d(opt), true);
}

namespace {
// Scatters grad_out into the argmax positions; `spatial` trailing dims form one plane.
Tensor max_pool_backward_impl(const char* op, const Tensor& grad_out, const Tensor& indices, const Shape& x_shape,
                              int spatial) {
  KUN_CHECK(indices.dtype() == DType::i64 && indices.shape() == grad_out.shape(), ShapeError, op,
            ": indices must be int64 with the grad's shape ", grad_out.shape(), ", got ", indices.dtype(), " ",
            indices.shape());
  KUN_CHECK(x_shape.size() == grad_out.dim() && x_shape.size() > spatial, ShapeError, op, ": input shape ", x_shape,
            " does not match grad_out ", grad_out.shape());
  Tensor gy = grad_out.contiguous(), idx = indices.contiguous();
  Tensor gx = Tensor::empty(x_shape, gy.dtype());  // zeroed plane by plane below, while hot in cache
  int64_t in_plane = 1, o_plane = 1;
  for (int i = 0; i < spatial; ++i) {
    in_plane *= x_shape[x_shape.size() - 1 - i];
    o_plane *= grad_out.size(-1 - i);
  }
  const int64_t planes = o_plane ? gy.numel() / o_plane : 0;
  KUN_DISPATCH_FLOAT(gy.dtype(), op, [&] {
    const scalar_t* g = gy.data<scalar_t>();
    const int64_t* ip = idx.data<int64_t>();
    scalar_t* x = gx.data<scalar_t>();
    parallel_for(planes, plane_grain(in_plane), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        scalar_t* xp = x + p * in_plane;
        std::fill(xp, xp + in_plane, scalar_t(0));
        for (int64_t i = 0; i < o_plane; ++i) {
          const int64_t k = ip[p * o_plane + i];
          if (k >= 0 && k < in_plane) xp[k] += g[p * o_plane + i];
        }
      }
    });
  });
  return gx;
}
}  // namespace

Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& x_shape) {
  return max_pool_backward_impl("max_pool2d_backward", grad_out, indices, x_shape, 2);
}
Tensor max_pool1d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& x_shape) {
  return max_pool_backward_impl("max_pool1d_backward", grad_out, indices, x_shape, 1);
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, const Pool2dOptions& opt) {
  return avg_pool_backward_impl("avg_pool2d_backward", grad_out, x_shape, opt, false);
}
Tensor avg_pool1d_backward(const Tensor& grad_out, const Shape& x_shape, const Pool1dOptions& opt) {
  return avg_pool_backward_impl("avg_pool1d_backward", grad_out, x_shape, as_2d(opt), true);
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  return adaptive_impl("adaptive_avg_pool2d", x, output_size, false);
}
Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size) {
  return adaptive_impl("adaptive_avg_pool1d", x, Size2(1, output_size), true);
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape) {
  KUN_CHECK(grad_out.dim() == x_shape.size() && grad_out.dim() >= 2, ShapeError,
            "adaptive_avg_pool2d_backward: grad_out ", grad_out.shape(), " does not match input shape ", x_shape);
  Tensor fake = Tensor::empty(Shape{}, grad_out.dtype()).expand(x_shape);
  PoolGeom g = adaptive_geom("adaptive_avg_pool2d_backward", fake, Size2(grad_out.size(-2), grad_out.size(-1)), false);
  Tensor gy = grad_out.contiguous();
  Tensor gx = Tensor::empty(x_shape, gy.dtype());
  KUN_DISPATCH_FLOAT(gy.dtype(), "adaptive_avg_pool2d_backward",
                     [&] { adaptive_backward<scalar_t>(g, gy.data<scalar_t>(), gx.data<scalar_t>()); });
  return gx;
}

Tensor global_avg_pool2d(const Tensor& x) {
  KUN_CHECK(x.defined() && x.dim() == 4, ShapeError, "global_avg_pool2d: input must be (N, C, H, W), got ",
            x.defined() ? x.shape() : Shape{});
  return adaptive_avg_pool2d(x, Size2(1, 1)).view({x.size(0), x.size(1)});
}

}  // namespace kun
