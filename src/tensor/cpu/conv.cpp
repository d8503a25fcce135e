// Convolutions. Everything reduces to three kernels on a 2-D geometry (1-D convs use H = 1):
//   forward        y  = conv(x, w) + b
//   backward data  dx = conv^T(dy, w)          (also the forward of conv_transpose2d)
//   backward wts   dw = corr(x, dy), db = sum(dy)
// Each kernel has a oneDNN implementation (float32) and a plain reference one (float64, tests).
#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <unordered_map>

#include "kun/core/threading.h"
#include "kun/tensor/ops_conv.h"
#include "kun/tensor/ops_elementwise.h"
#include "kun/tensor/ops_reduce.h"
#include "tensor/cpu/dnnl_util.h"

namespace kun {

ConvPadding::ConvPadding(std::string_view m) {
  if (m == "same") mode = ConvPadMode::same;
  else if (m == "valid") mode = ConvPadMode::valid;
  else detail::throw_error<ValueError>("conv: padding must be an int, \"same\" or \"valid\", got \"", m, "\"");
}

namespace {

// Geometry of one 2-D convolution: x (N, C, H, W), w (O, C/G, KH, KW), y (N, O, OH, OW).
struct ConvGeom {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int64_t O = 0, KH = 1, KW = 1;
  int64_t OH = 0, OW = 0;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // top, bottom, left, right
  int64_t G = 1;
  int64_t Cg() const { return C / G; }
  int64_t Og() const { return O / G; }
  std::string key() const {
    return cpu::dnnl_util::dims_key({N, C, H, W, O, KH, KW, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr, G});
  }
};

// ---------------------------------------------------------------------------------------------
// Reference kernels (contiguous tensors).

template <typename T>
void ref_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t Cg = g.Cg(), Og = g.Og();
  parallel_for(g.N * g.O, 1, [&](int64_t begin, int64_t end) {
    for (int64_t no = begin; no < end; ++no) {
      const int64_t n = no / g.O, o = no % g.O, grp = o / Og;
      T* yp = y + no * g.OH * g.OW;
      const T* wo = w + o * Cg * g.KH * g.KW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          T acc = b ? b[o] : T(0);
          for (int64_t ic = 0; ic < Cg; ++ic) {
            const T* xp = x + (n * g.C + grp * Cg + ic) * g.H * g.W;
            const T* wp = wo + ic * g.KH * g.KW;
            for (int64_t kh = 0; kh < g.KH; ++kh) {
              const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                acc += xp[ih * g.W + iw] * wp[kh * g.KW + kw];
              }
            }
          }
          yp[oh * g.OW + ow] = acc;
        }
    }
  });
}

// dx[n, c, ih, iw] = sum over the outputs whose window covers (ih, iw) (a gather: no write races).
template <typename T>
void ref_backward_data(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const int64_t Cg = g.Cg(), Og = g.Og();
  parallel_for(g.N * g.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / g.C, c = nc % g.C, grp = c / Cg, ic = c % Cg;
      T* xp = gx + nc * g.H * g.W;
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t iw = 0; iw < g.W; ++iw) {
          T acc = 0;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t th = ih + g.pt - kh * g.dh;
            if (th < 0 || th % g.sh) continue;
            const int64_t oh = th / g.sh;
            if (oh >= g.OH) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t tw = iw + g.pl - kw * g.dw;
              if (tw < 0 || tw % g.sw) continue;
              const int64_t ow = tw / g.sw;
              if (ow >= g.OW) continue;
              for (int64_t oo = 0; oo < Og; ++oo) {
                const int64_t o = grp * Og + oo;
                acc += gy[((n * g.O + o) * g.OH + oh) * g.OW + ow] * w[((o * Cg + ic) * g.KH + kh) * g.KW + kw];
              }
            }
          }
          xp[ih * g.W + iw] = acc;
        }
    }
  });
}

template <typename T>
void ref_backward_weights(const ConvGeom& g, const T* gy, const T* x, T* gw, T* gb) {
  const int64_t Cg = g.Cg(), Og = g.Og();
  parallel_for(g.O, 1, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const int64_t grp = o / Og;
      if (gb) {
        T acc = 0;
        for (int64_t n = 0; n < g.N; ++n) {
          const T* yp = gy + (n * g.O + o) * g.OH * g.OW;
          for (int64_t i = 0; i < g.OH * g.OW; ++i) acc += yp[i];
        }
        gb[o] = acc;
      }
      if (!gw) continue;
      for (int64_t ic = 0; ic < Cg; ++ic)
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            T acc = 0;
            for (int64_t n = 0; n < g.N; ++n) {
              const T* yp = gy + (n * g.O + o) * g.OH * g.OW;
              const T* xp = x + (n * g.C + grp * Cg + ic) * g.H * g.W;
              for (int64_t oh = 0; oh < g.OH; ++oh) {
                const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
                if (ih < 0 || ih >= g.H) continue;
                for (int64_t ow = 0; ow < g.OW; ++ow) {
                  const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
                  if (iw < 0 || iw >= g.W) continue;
                  acc += yp[oh * g.OW + ow] * xp[ih * g.W + iw];
                }
              }
            }
            gw[((o * Cg + ic) * g.KH + kh) * g.KW + kw] = acc;
          }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// oneDNN kernels (float32).

namespace du = cpu::dnnl_util;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Blocked layouts (format_tag::any) let oneDNN use its fastest kernels at the price of reorders
// at the edges; plain NCHW avoids the reorders. Measured (bench_conv.cpp, 1 thread, AVX-512):
// blocked wins clearly once there are a few input channels (64 -> 64 3x3: 2x faster forward and
// backward), and for the forward pass even with one input channel; but the backward pass of a
// first layer (C = 1..3) pads the input gradient to 16 channels in the blocked layout, and the
// plain gemm-based kernels are ~20% faster there. That padding only concerns the input gradient:
// a first layer's weight gradient alone (its input needs no grad) is faster blocked (MNIST CNN
// train step, 1 thread: 8.4 -> 7.2 ms CPU). KUN_CONV_LAYOUT=plain|blocked overrides.
bool use_blocked(const ConvGeom& g, bool backward, bool want_data_grad = true) {
  static const int forced = [] {
    const char* e = std::getenv("KUN_CONV_LAYOUT");
    if (!e) return 0;
    return std::strcmp(e, "plain") == 0 ? 1 : std::strcmp(e, "blocked") == 0 ? 2 : 0;
  }();
  if (forced) return forced == 2;
  return !(backward && want_data_grad && g.C < 4);
}

struct DnnlDescs {
  memory::dims src, wei, dst, bias, strides, dil, pad_l, pad_r;
  memory::desc user_src, user_wei, user_dst, user_bias;
  memory::desc any_src, any_wei, any_dst;
};

DnnlDescs make_descs(const ConvGeom& g, bool blocked) {
  DnnlDescs d;
  d.src = {g.N, g.C, g.H, g.W};
  d.dst = {g.N, g.O, g.OH, g.OW};
  d.bias = {g.O};
  if (g.G > 1) d.wei = {g.G, g.Og(), g.Cg(), g.KH, g.KW};
  else d.wei = {g.O, g.C, g.KH, g.KW};
  d.strides = {g.sh, g.sw};
  d.dil = {g.dh - 1, g.dw - 1};
  d.pad_l = {g.pt, g.pl};
  d.pad_r = {g.pb, g.pr};
  d.user_src = memory::desc(d.src, dt::f32, tag::nchw);
  d.user_dst = memory::desc(d.dst, dt::f32, tag::nchw);
  d.user_wei = memory::desc(d.wei, dt::f32, g.G > 1 ? tag::goihw : tag::oihw);
  d.user_bias = memory::desc(d.bias, dt::f32, tag::x);
  d.any_src = blocked ? memory::desc(d.src, dt::f32, tag::any) : d.user_src;
  d.any_dst = blocked ? memory::desc(d.dst, dt::f32, tag::any) : d.user_dst;
  d.any_wei = memory::desc(d.wei, dt::f32, tag::any);
  return d;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

dnnl::convolution_forward::primitive_desc fwd_pd(const DnnlDescs& d, bool with_bias) {
  using cf = dnnl::convolution_forward;
  auto desc = with_bias ? cf::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.any_src,
                                   d.any_wei, d.user_bias, d.any_dst, d.strides, d.dil, d.pad_l, d.pad_r)
                        : cf::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.any_src,
                                   d.any_wei, d.any_dst, d.strides, d.dil, d.pad_l, d.pad_r);
  return cf::primitive_desc(desc, user_scratchpad(), du::engine());
}

// A cache entry with ok == false remembers that oneDNN rejected the geometry, so later calls go
// straight to the reference kernel instead of retrying primitive creation.
struct FwdEntry {
  bool ok = false;
  DnnlDescs d;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
};

struct BwdEntry {
  bool ok = false;
  DnnlDescs d;
  dnnl::convolution_backward_data::primitive_desc dpd;
  dnnl::convolution_backward_data dprim;
  dnnl::convolution_backward_weights::primitive_desc wpd;
  dnnl::convolution_backward_weights wprim;
  bool has_data = false, has_weights = false, has_bias = false;
};

// `src` in the layout `want`: the user's memory itself, or a reordered copy kept alive by `keep`.
memory as_layout(memory user, const memory::desc& want, du::Buffer& keep) {
  if (user.get_desc() == want) return user;
  keep = du::make_buffer(want);
  du::reorder_between(user.get_desc(), want).execute(du::stream(), user, keep.mem);
  return keep.mem;
}

Tensor dnnl_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b) {
  const bool blocked = use_blocked(g, false);
  const bool with_bias = b.defined();
  auto e = du::cached<FwdEntry>("conv_fwd|" + g.key() + (with_bias ? "b" : "n") + (blocked ? "B" : "P"), [&] {
    auto ent = std::make_shared<FwdEntry>();
    try {
      ent->d = make_descs(g, blocked);
      ent->pd = fwd_pd(ent->d, with_bias);
      ent->prim = dnnl::convolution_forward(ent->pd);
      ent->ok = true;
    } catch (const dnnl::error&) {
    }
    return ent;
  });
  if (!e->ok) return Tensor();
  const DnnlDescs& d = e->d;
  auto& s = du::stream();
  du::Buffer bs, bw, bd, scratch;
  memory src = as_layout(du::wrap(x, d.user_src), e->pd.src_desc(), bs);
  memory wei = as_layout(du::wrap(w, d.user_wei), e->pd.weights_desc(), bw);
  Tensor y = Tensor::empty({g.N, g.O, g.OH, g.OW}, DType::f32);
  memory ydst = du::wrap(y, d.user_dst);
  memory dst = ydst;
  if (e->pd.dst_desc() != d.user_dst) {
    bd = du::make_buffer(e->pd.dst_desc());
    dst = bd.mem;
  }
  scratch = du::make_buffer(e->pd.scratchpad_desc());
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch.mem}};
  if (with_bias) args.emplace(DNNL_ARG_BIAS, du::wrap(b, d.user_bias));
  e->prim.execute(s, args);
  if (dst != ydst) du::reorder_between(dst.get_desc(), d.user_dst).execute(s, dst, ydst);
  s.wait();
  return y;
}

// Returns false (computing nothing) when oneDNN does not support the geometry.
bool dnnl_backward(const ConvGeom& g, const Tensor& gy, const Tensor& x, const Tensor& w, Tensor* gx, Tensor* gw,
                   Tensor* gb) {
  const bool want_data = gx != nullptr, want_w = gw != nullptr || gb != nullptr, want_b = gb != nullptr;
  const bool blocked = use_blocked(g, true, want_data);
  std::string key = "conv_bwd|" + g.key() + (want_data ? "d" : "-") + (want_w ? "w" : "-") + (want_b ? "b" : "-") +
                    (blocked ? "B" : "P");
  auto e = du::cached<BwdEntry>(key, [&] {
    auto ent = std::make_shared<BwdEntry>();
    try {
      ent->d = make_descs(g, blocked);
      const DnnlDescs& d = ent->d;
      auto hint = fwd_pd(d, want_b);
      if (want_data) {
        using bd = dnnl::convolution_backward_data;
        bd::desc desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_wei, d.any_dst, d.strides, d.dil, d.pad_l,
                      d.pad_r);
        ent->dpd = bd::primitive_desc(desc, user_scratchpad(), du::engine(), hint);
        ent->dprim = bd(ent->dpd);
        ent->has_data = true;
      }
      if (want_w) {
        using bw = dnnl::convolution_backward_weights;
        auto desc = want_b ? bw::desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_wei, d.user_bias, d.any_dst,
                                      d.strides, d.dil, d.pad_l, d.pad_r)
                           : bw::desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_wei, d.any_dst, d.strides,
                                      d.dil, d.pad_l, d.pad_r);
        ent->wpd = bw::primitive_desc(desc, user_scratchpad(), du::engine(), hint);
        ent->wprim = bw(ent->wpd);
        ent->has_weights = true;
        ent->has_bias = want_b;
      }
      ent->ok = true;
    } catch (const dnnl::error&) {
    }
    return ent;
  });
  if (!e->ok) return false;
  const DnnlDescs& d = e->d;
  auto& s = du::stream();
  memory gy_user = du::wrap(gy, d.user_dst);
  du::Buffer b_gy1, b_gy2;
  memory gy_data;
  if (e->has_data) {
    gy_data = as_layout(gy_user, e->dpd.diff_dst_desc(), b_gy1);
    du::Buffer bw, bdx, scratch;
    memory wei = as_layout(du::wrap(w, d.user_wei), e->dpd.weights_desc(), bw);
    *gx = Tensor::empty({g.N, g.C, g.H, g.W}, DType::f32);
    memory gx_user = du::wrap(*gx, d.user_src), dsrc = gx_user;
    if (e->dpd.diff_src_desc() != d.user_src) {
      bdx = du::make_buffer(e->dpd.diff_src_desc());
      dsrc = bdx.mem;
    }
    scratch = du::make_buffer(e->dpd.scratchpad_desc());
    e->dprim.execute(s, {{DNNL_ARG_DIFF_DST, gy_data},
                         {DNNL_ARG_WEIGHTS, wei},
                         {DNNL_ARG_DIFF_SRC, dsrc},
                         {DNNL_ARG_SCRATCHPAD, scratch.mem}});
    if (dsrc != gx_user) du::reorder_between(dsrc.get_desc(), d.user_src).execute(s, dsrc, gx_user);
  }
  if (e->has_weights) {
    // diff_dst is reordered once when both backward primitives want the same layout.
    memory gy_w = (e->has_data && e->wpd.diff_dst_desc() == gy_data.get_desc())
                      ? gy_data
                      : as_layout(gy_user, e->wpd.diff_dst_desc(), b_gy2);
    du::Buffer bx, bdw, scratch;
    memory src = as_layout(du::wrap(x, d.user_src), e->wpd.src_desc(), bx);
    Tensor gw_t = Tensor::empty({g.O, g.Cg(), g.KH, g.KW}, DType::f32);
    memory gw_user = du::wrap(gw_t, d.user_wei), dwei = gw_user;
    if (e->wpd.diff_weights_desc() != d.user_wei) {
      bdw = du::make_buffer(e->wpd.diff_weights_desc());
      dwei = bdw.mem;
    }
    scratch = du::make_buffer(e->wpd.scratchpad_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, gy_w},
                                         {DNNL_ARG_SRC, src},
                                         {DNNL_ARG_DIFF_WEIGHTS, dwei},
                                         {DNNL_ARG_SCRATCHPAD, scratch.mem}};
    if (e->has_bias) {
      *gb = Tensor::empty({g.O}, DType::f32);
      args.emplace(DNNL_ARG_DIFF_BIAS, du::wrap(*gb, d.user_bias));
    }
    e->wprim.execute(s, args);
    if (dwei != gw_user) du::reorder_between(dwei.get_desc(), d.user_wei).execute(s, dwei, gw_user);
    if (gw) *gw = gw_t;
  }
  s.wait();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Dispatch: oneDNN for float32 unless the reference path is asked for; reference otherwise, and
// as the fallback when oneDNN rejects a geometry.

bool dnnl_ok(const Tensor& t, ConvBackend be) {
  return be == ConvBackend::automatic && t.dtype() == DType::f32;
}

Tensor conv_forward(const ConvGeom& g, const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, ConvBackend be) {
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  if (x.numel() == 0 || w.numel() == 0 || g.N * g.O * g.OH * g.OW == 0) {
    Tensor y = zeros({g.N, g.O, g.OH, g.OW}, x.dtype());
    if (b.defined() && y.numel()) y = add(y, b.view({1, g.O, 1, 1}));
    return y;
  }
  if (dnnl_ok(x, be)) {
    Tensor y = dnnl_forward(g, x, w, b);
    if (y.defined()) return y;  // else: unsupported geometry, use the reference kernel
  }
  Tensor y = Tensor::empty({g.N, g.O, g.OH, g.OW}, x.dtype());
  KUN_DISPATCH_FLOAT(x.dtype(), "conv", [&] {
    ref_forward<scalar_t>(g, x.data<scalar_t>(), w.data<scalar_t>(), b.defined() ? b.data<scalar_t>() : nullptr,
                          y.data<scalar_t>());
  });
  return y;
}

void conv_backward(const ConvGeom& g, const Tensor& gy_in, const Tensor& x_in, const Tensor& w_in, ConvBackend be,
                   Tensor* gx, Tensor* gw, Tensor* gb) {
  Tensor gy = gy_in.contiguous();
  Tensor x = x_in.defined() ? x_in.contiguous() : Tensor();
  Tensor w = w_in.defined() ? w_in.contiguous() : Tensor();
  const DType dtp = gy.dtype();
  if (gy.numel() == 0 || g.N * g.C * g.H * g.W == 0 || g.O * g.Cg() * g.KH * g.KW == 0) {
    if (gx) *gx = zeros({g.N, g.C, g.H, g.W}, dtp);
    if (gw) *gw = zeros({g.O, g.Cg(), g.KH, g.KW}, dtp);
    if (gb) *gb = zeros({g.O}, dtp);
    return;
  }
  if (dnnl_ok(gy, be)) {
    if (dnnl_backward(g, gy, x, w, gx, gw, gb)) return;
  }
  KUN_DISPATCH_FLOAT(dtp, "conv", [&] {
    using T = scalar_t;
    if (gx) {
      *gx = Tensor::empty({g.N, g.C, g.H, g.W}, dtp);
      ref_backward_data<T>(g, gy.data<T>(), w.data<T>(), gx->data<T>());
    }
    if (gw || gb) {
      Tensor gwt = gw ? Tensor::empty({g.O, g.Cg(), g.KH, g.KW}, dtp) : Tensor();
      if (gb) *gb = Tensor::empty({g.O}, dtp);
      ref_backward_weights<T>(g, gy.data<T>(), gw ? x.data<T>() : nullptr, gw ? gwt.data<T>() : nullptr,
                              gb ? gb->data<T>() : nullptr);
      if (gw) *gw = gwt;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Argument checking and geometry.

void check_floats(const char* op, const Tensor& x, const Tensor& w, const Tensor& b) {
  KUN_CHECK(x.defined() && w.defined(), ValueError, op, ": input and weight must be defined");
  KUN_CHECK(is_floating(x.dtype()), TypeError, op, ": expected a float32 or float64 input, got ", x.dtype());
  KUN_CHECK(w.dtype() == x.dtype(), TypeError, op, ": weight dtype ", w.dtype(), " differs from input dtype ",
            x.dtype());
  KUN_CHECK(!b.defined() || b.dtype() == x.dtype(), TypeError, op, ": bias dtype ", b.dtype(),
            " differs from input dtype ", x.dtype());
}

// Resolves one spatial dim's padding: returns {before, after}.
std::pair<int64_t, int64_t> resolve_pad(const char* op, ConvPadMode mode, int64_t p, int64_t k, int64_t d, int64_t s) {
  if (mode == ConvPadMode::valid) return {0, 0};
  if (mode == ConvPadMode::same) {
    KUN_CHECK(s == 1, ValueError, op, ": padding=\"same\" needs stride 1 (like PyTorch), got stride ", s);
    const int64_t total = d * (k - 1);
    return {total / 2, total - total / 2};
  }
  KUN_CHECK(p >= 0, ValueError, op, ": padding must be >= 0, got ", p);
  return {p, p};
}

// Fills the output size of one dim, checking the (dilated) kernel fits the padded input.
int64_t conv_out(const char* op, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pa, int64_t pb,
                 const char* dimname) {
  const int64_t eff = d * (k - 1) + 1;
  KUN_CHECK(in + pa + pb >= eff, ShapeError, op, ": kernel ", dimname, " extent ", eff, " (kernel ", k,
            ", dilation ", d, ") is larger than the padded input ", dimname, " ", in + pa + pb);
  return (in + pa + pb - eff) / s + 1;
}

ConvGeom conv2d_geom(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, const Size2& stride,
                     const ConvPadding& pad, const Size2& dil, int64_t groups, bool one_d) {
  check_floats(op, x, w, b);
  const int kd = one_d ? 3 : 4;
  KUN_CHECK(w.dim() == kd, ShapeError, op, one_d ? ": weight must be (O, C/groups, k), got " :
            ": weight must be (O, C/groups, kH, kW), got ", w.shape());
  KUN_CHECK(groups >= 1, ValueError, op, ": groups must be >= 1, got ", groups);
  const int64_t C = w.size(1) * groups;
  KUN_CHECK(x.dim() == kd && x.size(1) == C, ShapeError, op,
            one_d ? ": input must be (N, C, L) with C=" : ": input must be (N, C, H, W) with C=", C, ", got ",
            x.shape());
  const int64_t O = w.size(0);
  KUN_CHECK(O % groups == 0, ShapeError, op, ": out channels ", O, " of weight ", w.shape(),
            " must be divisible by groups=", groups);
  KUN_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == O), ShapeError, op, ": bias must be (O) with O=", O,
            ", got ", b.shape());
  KUN_CHECK(stride.h >= 1 && stride.w >= 1, ValueError, op, ": stride must be >= 1");
  KUN_CHECK(dil.h >= 1 && dil.w >= 1, ValueError, op, ": dilation must be >= 1");
  ConvGeom g;
  g.N = x.size(0);
  g.C = C;
  g.H = one_d ? 1 : x.size(2);
  g.W = x.size(-1);
  g.O = O;
  g.KH = one_d ? 1 : w.size(2);
  g.KW = w.size(-1);
  g.G = groups;
  g.sh = one_d ? 1 : stride.h;
  g.sw = stride.w;
  g.dh = one_d ? 1 : dil.h;
  g.dw = dil.w;
  if (!one_d) std::tie(g.pt, g.pb) = resolve_pad(op, pad.mode, pad.size.h, g.KH, g.dh, g.sh);
  std::tie(g.pl, g.pr) = resolve_pad(op, pad.mode, pad.size.w, g.KW, g.dw, g.sw);
  g.OH = one_d ? 1 : conv_out(op, g.H, g.KH, g.sh, g.dh, g.pt, g.pb, "height");
  g.OW = conv_out(op, g.W, g.KW, g.sw, g.dw, g.pl, g.pr, one_d ? "length" : "width");
  return g;
}

// Geometry of conv_transpose2d expressed as the convolution it is the data-gradient of: that
// convolution maps the transpose's output (N, O, OH, OW) to its input (N, C, H, W).
ConvGeom conv_transpose_geom(const Tensor& x, const Tensor& w, const Tensor& b, const ConvTranspose2dOptions& o) {
  const char* op = "conv_transpose2d";
  check_floats(op, x, w, b);
  KUN_CHECK(w.dim() == 4, ShapeError, op, ": weight must be (C, O/groups, kH, kW), got ", w.shape());
  KUN_CHECK(o.groups >= 1, ValueError, op, ": groups must be >= 1, got ", o.groups);
  KUN_CHECK(x.dim() == 4 && x.size(1) == w.size(0), ShapeError, op, ": input must be (N, C, H, W) with C=", w.size(0),
            ", got ", x.shape());
  KUN_CHECK(w.size(0) % o.groups == 0, ShapeError, op, ": in channels ", w.size(0), " must be divisible by groups=",
            o.groups);
  const int64_t Out = w.size(1) * o.groups;
  KUN_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == Out), ShapeError, op, ": bias must be (O) with O=", Out,
            ", got ", b.shape());
  KUN_CHECK(o.stride.h >= 1 && o.stride.w >= 1 && o.dilation.h >= 1 && o.dilation.w >= 1, ValueError, op,
            ": stride and dilation must be >= 1");
  KUN_CHECK(o.padding.h >= 0 && o.padding.w >= 0, ValueError, op, ": padding must be >= 0");
  KUN_CHECK(o.output_padding.h >= 0 && o.output_padding.w >= 0 &&
                (o.output_padding.h < o.stride.h || o.output_padding.h < o.dilation.h) &&
                (o.output_padding.w < o.stride.w || o.output_padding.w < o.dilation.w),
            ValueError, op, ": output_padding must be smaller than stride or dilation, got (", o.output_padding.h,
            ", ", o.output_padding.w, ")");
  ConvGeom g;
  g.N = x.size(0);
  g.O = x.size(1);  // the conv's output = the transpose's input
  g.OH = x.size(2);
  g.OW = x.size(3);
  g.C = Out;
  g.G = o.groups;
  g.KH = w.size(2);
  g.KW = w.size(3);
  g.sh = o.stride.h;
  g.sw = o.stride.w;
  g.dh = o.dilation.h;
  g.dw = o.dilation.w;
  g.H = (g.OH - 1) * g.sh - 2 * o.padding.h + g.dh * (g.KH - 1) + o.output_padding.h + 1;
  g.W = (g.OW - 1) * g.sw - 2 * o.padding.w + g.dw * (g.KW - 1) + o.output_padding.w + 1;
  KUN_CHECK(g.H >= 1 && g.W >= 1, ShapeError, op, ": output size (", g.H, ", ", g.W, ") for input ", x.shape(),
            " is not positive; reduce padding");
  // The extra output_padding rows sit past the end: the conv's bottom/right padding shrinks by it.
  g.pt = o.padding.h;
  g.pl = o.padding.w;
  g.pb = o.padding.h - o.output_padding.h;
  g.pr = o.padding.w - o.output_padding.w;
  return g;
}

// Negative bottom/right padding (from output_padding) is legal in the reference kernels but not
// in oneDNN's; route such cases to the reference path.
ConvBackend effective_backend(const ConvGeom& g, ConvBackend be) {
  return (g.pb < 0 || g.pr < 0) ? ConvBackend::reference : be;
}

Tensor add_channel_bias(Tensor y, const Tensor& b) {
  if (!b.defined()) return y;
  return add(y, b.view({1, b.size(0), 1, 1}));
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& opt) {
  ConvGeom g = conv2d_geom("conv2d", x, w, b, opt.stride, opt.padding, opt.dilation, opt.groups, false);
  return conv_forward(g, x, w, b, opt.backend);
}

ConvGrads conv2d_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w, const Conv2dOptions& opt,
                          ConvGradsWanted want) {
  ConvGeom g = conv2d_geom("conv2d_backward", x, w, Tensor(), opt.stride, opt.padding, opt.dilation, opt.groups, false);
  KUN_CHECK(grad_out.shape() == Shape({g.N, g.O, g.OH, g.OW}), ShapeError, "conv2d_backward: grad_out must be ",
            Shape({g.N, g.O, g.OH, g.OW}), ", got ", grad_out.shape());
  ConvGrads r;
  conv_backward(g, grad_out, x, w, opt.backend, want.input ? &r.input : nullptr, want.weight ? &r.weight : nullptr,
                want.bias ? &r.bias : nullptr);
  return r;
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv1dOptions& opt) {
  ConvGeom g = conv2d_geom("conv1d", x, w, b, Size2(1, opt.stride), opt.padding, Size2(1, opt.dilation), opt.groups,
                           true);
  Tensor y = conv_forward(g, x.unsqueeze(2), w.unsqueeze(2), b, opt.backend);  // (N, O, 1, OL)
  return y.view({g.N, g.O, g.OW});
}

ConvGrads conv1d_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w, const Conv1dOptions& opt,
                          ConvGradsWanted want) {
  ConvGeom g = conv2d_geom("conv1d_backward", x, w, Tensor(), Size2(1, opt.stride), opt.padding,
                           Size2(1, opt.dilation), opt.groups, true);
  KUN_CHECK(grad_out.shape() == Shape({g.N, g.O, g.OW}), ShapeError, "conv1d_backward: grad_out must be ",
            Shape({g.N, g.O, g.OW}), ", got ", grad_out.shape());
  ConvGrads r;
  conv_backward(g, grad_out.unsqueeze(2), x.unsqueeze(2), w.unsqueeze(2), opt.backend,
                want.input ? &r.input : nullptr, want.weight ? &r.weight : nullptr, want.bias ? &r.bias : nullptr);
  if (r.input.defined()) r.input = r.input.view(x.shape());
  if (r.weight.defined()) r.weight = r.weight.view(w.shape());
  return r;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvTranspose2dOptions& opt) {
  ConvGeom g = conv_transpose_geom(x, w, b, opt);
  Tensor y;
  conv_backward(g, x, Tensor(), w, effective_backend(g, opt.backend), &y, nullptr, nullptr);
  return add_channel_bias(y, b.defined() ? b.contiguous() : b);
}

ConvGrads conv_transpose2d_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w,
                                    const ConvTranspose2dOptions& opt, ConvGradsWanted want) {
  ConvGeom g = conv_transpose_geom(x, w, Tensor(), opt);
  KUN_CHECK(grad_out.shape() == Shape({g.N, g.C, g.H, g.W}), ShapeError, "conv_transpose2d_backward: grad_out must be ",
            Shape({g.N, g.C, g.H, g.W}), ", got ", grad_out.shape());
  ConvBackend be = effective_backend(g, opt.backend);
  ConvGrads r;
  // d/dx of conv^T(x) is the forward conv of grad_out; d/dw is the conv's weight gradient with
  // grad_out as its input and x as its output gradient.
  if (want.input) r.input = conv_forward(g, grad_out, w, Tensor(), be);
  if (want.weight) conv_backward(g, x, grad_out, Tensor(), be, nullptr, &r.weight, nullptr);
  if (want.bias) r.bias = sum(grad_out, {0, 2, 3});
  return r;
}

}  // namespace kun
