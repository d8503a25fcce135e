// The imported graph on autograd Variables, for fine-tuning. Each operator here composes kun's
// differentiable ops (kun/autograd) with the same semantics as its tensor version in onnx_ops.cpp;
// a node without one runs the tensor version when none of its inputs needs a gradient (shape
// arithmetic, constants), and is an UnsupportedError naming the node otherwise.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <span>

#include "kun/autograd/ops.h"
#include "kun/autograd/rnn.h"
#include "onnx_internal.h"

namespace kun::onnx::detail {

namespace {

using Vars = std::vector<Variable>;
using VarFn = Vars (*)(OpContext& c, const Vars& v);

[[noreturn]] void no_grad_variant(const OpContext& c, const std::string& what) {
  throw UnsupportedError(what + " has no gradient in kun (train with it frozen, or export without it)", c.node.op_type);
}
const Variable& need(const OpContext& c, const Vars& v, size_t k) {
  KUN_CHECK(k < v.size() && v[k].defined(), ValueError, "input ", k, " is required but missing");
  (void)c;
  return v[k];
}
int64_t axis_of(int64_t a, int64_t rank) {
  KUN_CHECK(a >= -rank && a < std::max<int64_t>(rank, 1), IndexError, "axis ", a, " is out of range for rank ", rank);
  return a < 0 ? a + rank : a;
}
std::vector<int64_t> ints(const Variable& v) { return v.data().to(DType::i64).to_vector<int64_t>(); }

// ---- elementwise
Vars v_add(OpContext& c, const Vars& v) { return {add(need(c, v, 0), need(c, v, 1))}; }
Vars v_sub(OpContext& c, const Vars& v) { return {sub(need(c, v, 0), need(c, v, 1))}; }
Vars v_mul(OpContext& c, const Vars& v) { return {mul(need(c, v, 0), need(c, v, 1))}; }
Vars v_div(OpContext& c, const Vars& v) { return {div(need(c, v, 0), need(c, v, 1))}; }
Vars v_sum(OpContext& c, const Vars& v) {
  Variable s = need(c, v, 0);
  for (size_t k = 1; k < v.size(); ++k) s = add(s, v[k]);
  return {s};
}
Vars v_pow(OpContext& c, const Vars& v) {
  const Variable &x = need(c, v, 0), &e = need(c, v, 1);
  if (!e.requires_grad() && e.data().numel() == 1) return {pow(x, e.data().to(DType::f64).to_vector<double>()[0])};
  return {pow(x, e.data().dtype() == x.data().dtype() ? e : to(e, x.data().dtype()))};
}
#define UNARY(NAME, EXPR) \
  Vars NAME(OpContext& c, const Vars& v) { const Variable& x = need(c, v, 0); return {EXPR}; }
UNARY(v_relu, relu(x))
UNARY(v_sigmoid, sigmoid(x))
UNARY(v_tanh, tanh(x))
UNARY(v_exp, exp(x))
UNARY(v_log, log(x))
UNARY(v_sqrt, sqrt(x))
UNARY(v_neg, neg(x))
UNARY(v_abs, abs(x))
UNARY(v_erf, erf(x))
UNARY(v_sin, sin(x))
UNARY(v_cos, cos(x))
UNARY(v_reciprocal, reciprocal(x))
UNARY(v_softplus, softplus(x))
UNARY(v_identity, x)
UNARY(v_leaky_relu, leaky_relu(x, c.attr_f("alpha", 0.01)))
UNARY(v_elu, elu(x, c.attr_f("alpha", 1.0)))
#undef UNARY
Vars v_dropout(OpContext& c, const Vars& v) {
  if (c.n_out > 1 && !c.node.outputs[1].empty()) no_grad_variant(c, "Dropout's mask output");
  return {need(c, v, 0)};  // inference graph: the identity
}
Vars v_clip(OpContext& c, const Vars& v) {
  std::optional<double> lo, hi;
  if (c.opset < 11) {
    if (c.has_attr("min")) lo = c.attr_f("min", 0);
    if (c.has_attr("max")) hi = c.attr_f("max", 0);
  } else {
    if (v.size() > 1 && v[1].defined()) lo = v[1].data().to(DType::f64).to_vector<double>()[0];
    if (v.size() > 2 && v[2].defined()) hi = v[2].data().to(DType::f64).to_vector<double>()[0];
  }
  return {clamp(need(c, v, 0), lo, hi)};
}

// ---- softmax family (before opset 13: on the 2-D view at `axis`)
Vars softmax_like(OpContext& c, const Vars& v, bool log_sm) {
  const Variable& x = need(c, v, 0);
  auto f = [log_sm](const Variable& t, int64_t d) { return log_sm ? log_softmax(t, d) : softmax(t, d); };
  if (c.opset >= 13) return {f(x, axis_of(c.attr_i("axis", -1), x.dim()))};
  int64_t axis = axis_of(c.attr_i("axis", 1), x.dim()), outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  return {reshape(f(reshape(x, {outer, x.numel() / std::max<int64_t>(outer, 1)}), 1), x.shape())};
}
Vars v_softmax(OpContext& c, const Vars& v) { return softmax_like(c, v, false); }
Vars v_log_softmax(OpContext& c, const Vars& v) { return softmax_like(c, v, true); }

// ---- linear algebra
Vars v_matmul(OpContext& c, const Vars& v) { return {matmul(need(c, v, 0), need(c, v, 1))}; }
Vars v_gemm(OpContext& c, const Vars& v) {
  Variable a = need(c, v, 0), b = need(c, v, 1);
  if (c.attr_i("transA", 0)) a = transpose(a, 0, 1);
  if (c.attr_i("transB", 0)) b = transpose(b, 0, 1);
  Variable y = matmul(a, b);
  const double alpha = c.attr_f("alpha", 1.0), beta = c.attr_f("beta", 1.0);
  if (alpha != 1.0) y = mul(y, alpha);
  if (v.size() > 2 && v[2].defined() && beta != 0.0) y = add(y, beta == 1.0 ? v[2] : mul(v[2], beta));
  return {y};
}

// ---- convolution and pooling (1-D and 2-D; explicit pads)
struct Geo {
  int nsp = 0;
  std::vector<int64_t> k, s, d, pb, pe;
};
Geo geo(OpContext& c, const Variable& x, std::vector<int64_t> k) {
  Geo g;
  g.nsp = static_cast<int>(x.dim()) - 2;
  if (g.nsp < 1 || g.nsp > 2) no_grad_variant(c, std::to_string(g.nsp) + "-D " + c.node.op_type);
  const std::string ap = c.attr_s("auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID") no_grad_variant(c, "auto_pad " + ap);
  g.k = k;
  g.s = c.attr_ints("strides", std::vector<int64_t>(g.nsp, 1));
  g.d = c.attr_ints("dilations", std::vector<int64_t>(g.nsp, 1));
  std::vector<int64_t> p = c.attr_ints("pads", std::vector<int64_t>(2 * g.nsp, 0));
  if (ap == "VALID") p.assign(2 * g.nsp, 0);
  g.pb.assign(p.begin(), p.begin() + g.nsp);
  g.pe.assign(p.begin() + g.nsp, p.end());
  return g;
}
Size2 size2(const std::vector<int64_t>& v, int nsp) { return nsp == 1 ? Size2(1, v[0]) : Size2(v[0], v[1]); }
std::vector<int64_t> pad_list(const Geo& g) {
  std::vector<int64_t> p;
  for (int d = g.nsp - 1; d >= 0; --d) {
    p.push_back(g.pb[d]);
    p.push_back(g.pe[d]);
  }
  return p;
}
Variable to2d(const Variable& x, int nsp) { return nsp == 1 ? unsqueeze(x, 2) : x; }
Variable from2d(const Variable& y, int nsp) { return nsp == 1 ? squeeze(y, 2) : y; }

Vars v_conv(OpContext& c, const Vars& v) {
  Variable x = need(c, v, 0), w = need(c, v, 1);
  KUN_CHECK(w.dim() == x.dim(), ShapeError, "weight must have the input's rank ", x.dim(), ", got ", w.shape());
  Geo g = geo(c, x, c.attr_ints("kernel_shape", std::vector<int64_t>(w.shape().begin() + 2, w.shape().end())));
  Conv2dOptions o;
  o.stride = size2(g.s, g.nsp);
  o.dilation = size2(g.d, g.nsp);
  o.groups = c.attr_i("group", 1);
  if (g.pb == g.pe) o.padding = g.nsp == 1 ? ConvPadding(0, g.pb[0]) : ConvPadding(g.pb[0], g.pb[1]);
  else x = pad(x, pad_list(g));
  Variable b = v.size() > 2 ? v[2] : Variable();
  return {from2d(conv2d(to2d(x, g.nsp), to2d(w, g.nsp), b, o), g.nsp)};
}

Vars v_conv_transpose(OpContext& c, const Vars& v) {
  const Variable &x = need(c, v, 0), &w = need(c, v, 1);
  if (x.dim() != 4 || c.has_attr("output_shape") || c.attr_s("auto_pad", "NOTSET") != "NOTSET")
    no_grad_variant(c, "ConvTranspose other than 2-D with explicit pads");
  auto s = c.attr_ints("strides", {1, 1}), d = c.attr_ints("dilations", {1, 1}), p = c.attr_ints("pads", {0, 0, 0, 0});
  auto op = c.attr_ints("output_padding", {0, 0});
  if (p[0] != p[2] || p[1] != p[3]) no_grad_variant(c, "ConvTranspose with asymmetric pads");
  ConvTranspose2dOptions o;
  o.stride = Size2(s[0], s[1]);
  o.dilation = Size2(d[0], d[1]);
  o.padding = Size2(p[0], p[1]);
  o.output_padding = Size2(op[0], op[1]);
  o.groups = c.attr_i("group", 1);
  return {conv_transpose2d(x, w, v.size() > 2 ? v[2] : Variable(), o)};
}

Vars pool(OpContext& c, const Vars& v, bool is_max) {
  const Variable& x = need(c, v, 0);
  if (is_max && c.n_out > 1 && !c.node.outputs[1].empty()) no_grad_variant(c, "MaxPool's Indices output");
  Geo g = geo(c, x, c.attr_ints("kernel_shape"));
  bool native = g.pb == g.pe;
  for (int d = 0; d < g.nsp; ++d) native = native && g.pb[d] <= g.k[d] / 2;
  if (!native) no_grad_variant(c, "pooling with asymmetric or large pads");
  Pool2dOptions o;
  o.kernel = size2(g.k, g.nsp);
  o.stride = size2(g.s, g.nsp);
  o.padding = g.nsp == 1 ? Size2(0, g.pb[0]) : Size2(g.pb[0], g.pb[1]);  // 1-D runs as (1, L)
  o.ceil_mode = c.attr_i("ceil_mode", 0) != 0;
  if (is_max) o.dilation = size2(g.d, g.nsp);
  else o.count_include_pad = c.attr_i("count_include_pad", 0) != 0;
  Variable x2 = to2d(x, g.nsp);
  return {from2d(is_max ? max_pool2d(x2, o) : avg_pool2d(x2, o), g.nsp)};
}
Vars v_max_pool(OpContext& c, const Vars& v) { return pool(c, v, true); }
Vars v_average_pool(OpContext& c, const Vars& v) { return pool(c, v, false); }
std::vector<int64_t> spatial_dims(const Variable& x) {
  std::vector<int64_t> d;
  for (int k = 2; k < x.dim(); ++k) d.push_back(k);
  return d;
}
Vars v_global_average_pool(OpContext& c, const Vars& v) { return {mean(need(c, v, 0), spatial_dims(v[0]), true)}; }
Vars v_global_max_pool(OpContext& c, const Vars& v) { return {amax(need(c, v, 0), spatial_dims(v[0]), true)}; }

// ---- normalization
Shape channel_shape(const Variable& x) {
  Shape s(std::vector<int64_t>(x.dim(), 1));
  if (x.dim() > 1) s[1] = x.shape()[1];
  return s;
}
Vars v_batch_norm(OpContext& c, const Vars& v) {
  // Inference form with the running statistics frozen: y = x * a + (bias - mean * a), a = scale / sqrt(var + eps).
  if (c.attr_i("training_mode", 0)) no_grad_variant(c, "BatchNormalization training_mode");
  const Variable& x = need(c, v, 0);
  const double eps = c.attr_f("epsilon", 1e-5);
  DType dt = x.data().dtype();
  Tensor inv = rsqrt(add(need(c, v, 4).data().to(dt), eps));  // frozen
  Variable a = mul(to(need(c, v, 1), dt), Variable(inv));
  Variable b = sub(to(need(c, v, 2), dt), mul(Variable(need(c, v, 3).data().to(dt)), a));
  Shape cs = channel_shape(x);
  return {add(mul(x, reshape(a, cs)), reshape(b, cs))};
}
Vars v_layer_norm(OpContext& c, const Vars& v) {
  const Variable& x = need(c, v, 0);
  if (c.n_out > 1 && ((c.node.outputs.size() > 1 && !c.node.outputs[1].empty()) ||
                      (c.node.outputs.size() > 2 && !c.node.outputs[2].empty())))
    no_grad_variant(c, "LayerNormalization's Mean / InvStdDev outputs");
  const int64_t axis = axis_of(c.attr_i("axis", -1), x.dim());
  Shape ns;
  for (int d = static_cast<int>(axis); d < x.dim(); ++d) ns.push_back(x.shape()[d]);
  Variable w = need(c, v, 1), b = v.size() > 2 ? v[2] : Variable();
  if (w.shape() != ns) w = expand(w, ns);
  if (b.defined() && b.shape() != ns) b = expand(b, ns);
  return {layer_norm(x, ns, w, b, {.eps = c.attr_f("epsilon", 1e-5)})};
}

// ---- shape and indexing
Vars v_flatten(OpContext& c, const Vars& v) {
  const Variable& x = need(c, v, 0);
  int64_t axis = c.attr_i("axis", 1);
  if (axis < 0) axis += x.dim();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  return {reshape(x, {outer, x.numel() / std::max<int64_t>(outer, 1)})};
}
Vars v_reshape(OpContext& c, const Vars& v) {
  const Variable& x = need(c, v, 0);
  std::vector<int64_t> s = c.opset < 5 ? c.attr_ints("shape") : ints(need(c, v, 1));
  const bool allowzero = c.attr_i("allowzero", 0) != 0;
  for (size_t d = 0; d < s.size(); ++d)
    if (s[d] == 0 && !allowzero) {
      KUN_CHECK(static_cast<int>(d) < x.dim(), ShapeError, "shape copies dim ", d, " that input ", x.shape(), " lacks");
      s[d] = x.shape()[d];
    }
  return {reshape(x, Shape(s))};
}
Vars v_transpose(OpContext& c, const Vars& v) {
  const Variable& x = need(c, v, 0);
  std::vector<int64_t> perm = c.attr_ints("perm");
  if (perm.empty())
    for (int64_t d = x.dim() - 1; d >= 0; --d) perm.push_back(d);
  return {permute(x, perm)};
}
std::vector<int64_t> axes_of(OpContext& c, const Vars& v, size_t k) {
  if (c.opset >= 13) return v.size() > k && v[k].defined() ? ints(v[k]) : std::vector<int64_t>{};
  return c.attr_ints("axes");
}
Vars v_squeeze(OpContext& c, const Vars& v) {
  Variable x = need(c, v, 0);
  std::vector<int64_t> axes = axes_of(c, v, 1);
  if (axes.empty()) return {squeeze(x)};
  for (auto& a : axes) a = axis_of(a, x.dim());
  std::sort(axes.rbegin(), axes.rend());
  for (int64_t a : axes) x = squeeze(x, a);
  return {x};
}
Vars v_unsqueeze(OpContext& c, const Vars& v) {
  Variable x = need(c, v, 0);
  std::vector<int64_t> axes = axes_of(c, v, 1);
  const int64_t rank = x.dim() + static_cast<int64_t>(axes.size());
  for (auto& a : axes) a = axis_of(a, rank);
  std::sort(axes.begin(), axes.end());
  for (int64_t a : axes) x = unsqueeze(x, a);
  return {x};
}
Vars v_concat(OpContext& c, const Vars& v) {
  std::vector<Variable> xs;
  for (const auto& x : v)
    if (x.defined() && x.numel() > 0) xs.push_back(x);
  KUN_CHECK(!xs.empty(), ValueError, "Concat of only empty inputs");
  return {concat(xs, axis_of(c.attr_i("axis"), xs[0].dim()))};
}
Vars v_gather(OpContext& c, const Vars& v) {
  const Variable& x = need(c, v, 0);
  const int64_t axis = axis_of(c.attr_i("axis", 0), x.dim());
  Tensor idx = need(c, v, 1).data().to(DType::i64).contiguous();
  const int64_t n = x.shape()[axis];
  Tensor fixed = idx.flatten().clone();
  for (int64_t& i : std::span(fixed.data<int64_t>(), static_cast<size_t>(fixed.numel()))) {
    KUN_CHECK(i >= -n && i < n, IndexError, "index ", i, " is out of range for dim ", axis, " of size ", n);
    if (i < 0) i += n;
  }
  Variable y = index_select(x, axis, fixed);
  Shape out;
  for (int64_t d = 0; d < axis; ++d) out.push_back(x.shape()[d]);
  for (int64_t d = 0; d < idx.dim(); ++d) out.push_back(idx.shape()[d]);
  for (int64_t d = axis + 1; d < x.dim(); ++d) out.push_back(x.shape()[d]);
  return {reshape(y, out)};
}
Vars v_slice(OpContext& c, const Vars& v) {
  Variable x = need(c, v, 0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset < 10) {
    starts = c.attr_ints("starts");
    ends = c.attr_ints("ends");
    axes = c.attr_ints("axes");
  } else {
    starts = ints(need(c, v, 1));
    ends = ints(need(c, v, 2));
    if (v.size() > 3 && v[3].defined()) axes = ints(v[3]);
    if (v.size() > 4 && v[4].defined()) steps = ints(v[4]);
  }
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  for (size_t k = 0; k < starts.size(); ++k) {
    const int64_t a = axis_of(axes[k], x.dim()), n = x.shape()[a], st = steps.empty() ? 1 : steps[k];
    if (st <= 0) no_grad_variant(c, "Slice with a non-positive step");
    int64_t b = starts[k] < 0 ? starts[k] + n : starts[k], e = ends[k] < 0 ? ends[k] + n : ends[k];
    b = std::clamp<int64_t>(b, 0, n);
    e = std::clamp<int64_t>(e, 0, n);
    x = slice(x, a, b, std::max(b, e), st);
  }
  return {x};
}
Vars v_pad(OpContext& c, const Vars& v) {
  const Variable& x = need(c, v, 0);
  std::vector<int64_t> pads;
  double value = 0;
  if (c.opset < 11) {
    pads = c.attr_ints("pads");
    value = c.attr_f("value", 0.0);
  } else {
    pads = ints(need(c, v, 1));
    if (v.size() > 2 && v[2].defined() && v[2].numel() > 0) value = v[2].data().item_double();
  }
  const int r = x.dim();
  std::vector<int64_t> axes;
  if (v.size() > 3 && v[3].defined()) {
    for (int64_t a : ints(v[3])) axes.push_back(axis_of(a, r));
  } else {
    for (int d = 0; d < r; ++d) axes.push_back(d);
  }
  KUN_CHECK(pads.size() == 2 * axes.size(), ShapeError, "pads must have ", 2 * axes.size(), " values, got ", pads.size());
  std::vector<int64_t> b(r, 0), e(r, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    b[axes[k]] = pads[k];
    e[axes[k]] = pads[axes.size() + k];
  }
  const std::string mode = c.attr_s("mode", "constant");
  PadOptions o;
  o.value = value;
  if (mode == "reflect") o.mode = PadMode::reflect;
  else if (mode == "edge") o.mode = PadMode::replicate;
  else if (mode != "constant") no_grad_variant(c, "Pad mode '" + mode + "'");
  int first = 0;
  while (first < r && b[first] == 0 && e[first] == 0) ++first;
  std::vector<int64_t> kp;  // last dim first
  for (int d = r - 1; d >= first; --d) {
    kp.push_back(b[d]);
    kp.push_back(e[d]);
  }
  if (kp.empty()) return {x};
  return {pad(x, kp, o)};
}

Vars reduce(OpContext& c, const Vars& v, bool is_mean) {
  const Variable& x = need(c, v, 0);
  std::vector<int64_t> axes = (!is_mean && c.opset >= 13) ? (v.size() > 1 && v[1].defined() ? ints(v[1]) : std::vector<int64_t>{})
                                                          : c.attr_ints("axes");
  const bool keep = c.attr_i("keepdims", 1) != 0;
  if (axes.empty() && c.attr_i("noop_with_empty_axes", 0)) return {x};
  for (auto& a : axes) a = axis_of(a, x.dim());
  if (axes.empty())
    for (int64_t d = 0; d < x.dim(); ++d) axes.push_back(d);
  return {is_mean ? mean(x, axes, keep) : sum(x, axes, keep)};
}
Vars v_reduce_mean(OpContext& c, const Vars& v) { return reduce(c, v, true); }
Vars v_reduce_sum(OpContext& c, const Vars& v) { return reduce(c, v, false); }

// ---- recurrent (ONNX gate order -> kun's PyTorch order; forward / reverse / bidirectional)
Variable regate(const Variable& w, const std::vector<int>& order, int64_t H) {
  std::vector<Variable> parts;
  for (int g : order) parts.push_back(narrow(w, 0, g * H, H));
  return concat(parts, 0);
}
Vars recurrent(OpContext& c, const Vars& v, RnnMode mode) {
  const Variable &x = need(c, v, 0), &W = need(c, v, 1), &R = need(c, v, 2);
  // sequence_lens (4) only when every sequence is full; initial_h (5) / initial_c (6) pass through; no peepholes (7).
  if (v.size() > 4 && v[4].defined()) {
    const int64_t T = x.shape()[c.attr_i("layout", 0) ? 1 : 0];
    for (int64_t len : ints(v[4]))
      if (len != T) no_grad_variant(c, "ragged sequence_lens");
  }
  if (v.size() > 7 && v[7].defined()) no_grad_variant(c, "LSTM peepholes");
  const Variable h0_in = v.size() > 5 ? v[5] : Variable(), c0_in = v.size() > 6 ? v[6] : Variable();
  if (c.has_attr("clip") || (mode != RnnMode::rnn_tanh && mode != RnnMode::rnn_relu && c.has_attr("activations")))
    no_grad_variant(c, "clip / custom activations");
  if (mode == RnnMode::gru && c.attr_i("linear_before_reset", 0) == 0) no_grad_variant(c, "GRU with linear_before_reset=0");
  if (mode == RnnMode::lstm && c.attr_i("input_forget", 0)) no_grad_variant(c, "LSTM input_forget");
  const int64_t H = c.attr_i("hidden_size"), D = W.shape()[0];
  const bool layout1 = c.attr_i("layout", 0) != 0;
  const std::string dir = c.attr_s("direction", "forward");
  const std::vector<int> order = mode == RnnMode::lstm ? std::vector<int>{0, 2, 3, 1}
                                 : mode == RnnMode::gru ? std::vector<int>{1, 0, 2} : std::vector<int>{0};
  const int64_t G = static_cast<int64_t>(order.size());
  Variable B = v.size() > 3 ? v[3] : Variable();
  std::vector<RnnParams> params;
  for (int64_t d = 0; d < D; ++d) {
    RnnParams p;
    p.w_ih = regate(select(W, 0, d), order, H);
    p.w_hh = regate(select(R, 0, d), order, H);
    if (B.defined()) {
      Variable b = select(B, 0, d);
      p.b_ih = regate(narrow(b, 0, 0, G * H), order, H);
      p.b_hh = regate(narrow(b, 0, G * H, G * H), order, H);
    }
    params.push_back(p);
  }
  // kun's reverse direction rides as the second entry of a bidirectional layer; a lone reverse
  // direction runs forward on the time-flipped sequence.
  Variable xs = layout1 ? transpose(x, 0, 1) : x;  // (T, N, I)
  const bool reverse_only = dir == "reverse";
  const int64_t T = xs.shape()[0];
  Tensor flip_idx;
  if (reverse_only) {
    flip_idx = Tensor::empty({T}, DType::i64);
    for (int64_t t = 0; t < T; ++t) flip_idx.data<int64_t>()[t] = T - 1 - t;
    xs = index_select(xs, 0, flip_idx);
  }
  RnnLayerOptions o;
  o.mode = mode;
  o.batch_first = false;
  // Initial states are (D, N, H) (or (N, D, H) with layout 1).
  Variable h0 = h0_in.defined() ? (layout1 ? transpose(h0_in, 0, 1) : h0_in) : Variable();
  Variable c0 = c0_in.defined() ? (layout1 ? transpose(c0_in, 0, 1) : c0_in) : Variable();
  RnnLayerResult r = rnn_layer(xs, params, o, h0, c0);
  Variable y = r.y;  // (T, N, D*H)
  if (reverse_only) y = index_select(y, 0, flip_idx);
  const int64_t N = xs.shape()[1];
  Variable Y = permute(reshape(y, {T, N, D, H}), {0, 2, 1, 3});  // (T, D, N, H)
  if (layout1) Y = permute(Y, {2, 0, 1, 3});                      // (N, T, D, H)
  Variable yh = layout1 ? transpose(r.h_n, 0, 1) : r.h_n;
  Vars out{Y, yh};
  if (mode == RnnMode::lstm) out.push_back(layout1 ? transpose(r.c_n, 0, 1) : r.c_n);
  return out;
}
Vars v_lstm(OpContext& c, const Vars& v) { return recurrent(c, v, RnnMode::lstm); }
Vars v_gru(OpContext& c, const Vars& v) { return recurrent(c, v, RnnMode::gru); }
Vars v_rnn(OpContext& c, const Vars& v) {
  const Attr* a = c.attr("activations");
  std::set<std::string> acts(a ? a->strings_val.begin() : std::vector<std::string>::const_iterator(),
                             a ? a->strings_val.end() : std::vector<std::string>::const_iterator());
  if (acts.empty() || acts == std::set<std::string>{"Tanh"}) return recurrent(c, v, RnnMode::rnn_tanh);
  if (acts == std::set<std::string>{"Relu"}) return recurrent(c, v, RnnMode::rnn_relu);
  no_grad_variant(c, "RNN with activations other than Tanh / Relu");
}

const std::map<std::string, VarFn>& var_registry() {
  static const std::map<std::string, VarFn> reg = {
      {"Abs", v_abs}, {"Add", v_add}, {"AveragePool", v_average_pool}, {"BatchNormalization", v_batch_norm},
      {"Clip", v_clip}, {"Concat", v_concat}, {"Conv", v_conv}, {"ConvTranspose", v_conv_transpose}, {"Cos", v_cos},
      {"Div", v_div}, {"Dropout", v_dropout}, {"Elu", v_elu}, {"Erf", v_erf}, {"Exp", v_exp}, {"Flatten", v_flatten},
      {"GRU", v_gru}, {"Gather", v_gather}, {"Gemm", v_gemm}, {"GlobalAveragePool", v_global_average_pool},
      {"GlobalMaxPool", v_global_max_pool}, {"Identity", v_identity}, {"LSTM", v_lstm},
      {"LayerNormalization", v_layer_norm}, {"LeakyRelu", v_leaky_relu}, {"Log", v_log}, {"LogSoftmax", v_log_softmax},
      {"MatMul", v_matmul}, {"MaxPool", v_max_pool}, {"Mul", v_mul}, {"Neg", v_neg}, {"Pad", v_pad}, {"Pow", v_pow}, {"RNN", v_rnn},
      {"Reciprocal", v_reciprocal}, {"ReduceMean", v_reduce_mean}, {"ReduceSum", v_reduce_sum}, {"Relu", v_relu},
      {"Reshape", v_reshape}, {"Sigmoid", v_sigmoid}, {"Sin", v_sin}, {"Slice", v_slice}, {"Softmax", v_softmax},
      {"Softplus", v_softplus}, {"Sqrt", v_sqrt}, {"Squeeze", v_squeeze}, {"Sub", v_sub}, {"Sum", v_sum},
      {"Tanh", v_tanh}, {"Transpose", v_transpose}, {"Unsqueeze", v_unsqueeze},
  };
  return reg;
}

}  // namespace

// Operators whose outputs carry no gradient by nature (integer / boolean results, shapes, zero-derivative
// steps): they run as constants even when an input needs a gradient.
bool detached(const std::string& op) {
  static const std::set<std::string> ops = {
      "And", "ArgMax", "ArgMin", "Ceil", "ConstantOfShape", "Equal", "EyeLike", "Floor", "Greater", "GreaterOrEqual",
      "IsInf", "IsNaN", "Less", "LessOrEqual", "NonZero", "Not", "OneHot", "Or", "Range", "Round", "Shape", "Sign",
      "Size", "Xor"};
  return ops.count(op) != 0;
}

bool has_gradient(const std::string& op_type) { return var_registry().count(op_type) != 0; }
bool frozen_input(const std::string& op_type, size_t k) { return op_type == "BatchNormalization" && k >= 3; }

std::vector<Variable> run_graph_variables(const Model::Impl& m, const std::vector<Variable>& inputs,
                                          const std::map<std::string, Variable>& weights) {
  std::unordered_map<std::string, Variable> env;
  for (const auto& [name, w] : weights) env[name] = w;
  for (size_t k = 0; k < m.inputs.size(); ++k) {
    check_input(m.inputs[k], inputs[k].data());
    env[m.inputs[k].name] = inputs[k];
  }
  std::set<std::string> keep;
  for (const auto& o : m.outputs) keep.insert(o.name);
  const auto& vreg = var_registry();
  for (size_t k = 0; k < m.nodes.size(); ++k) {
    const Node& node = m.nodes[k];
    Vars vin;
    bool any_grad = false;
    for (const auto& name : node.inputs) {
      if (name.empty()) {
        vin.emplace_back();
        continue;
      }
      auto it = env.find(name);
      if (it == env.end())
        throw UnsupportedError("onnx: node '" + node.name + "' (" + node.op_type + ") reads '" + name +
                                   "', a sequence value, which training does not support",
                               node.op_type);
      vin.push_back(it->second);
      any_grad = any_grad || it->second.requires_grad();
    }
    OpContext ctx{node, m.opset, {}, node.outputs.size()};
    for (const auto& x : vin) ctx.in.push_back(x.defined() ? x.data() : Tensor());
    ctx.seq_in.assign(node.inputs.size(), nullptr);
    Vars outs;
    try {
      auto vf = vreg.find(node.op_type);
      if (any_grad && vf != vreg.end() && !detached(node.op_type)) {
        outs = vf->second(ctx, vin);
      } else if (any_grad && !detached(node.op_type)) {
        throw UnsupportedError("operator " + node.op_type + " has no gradient in kun, and an input needs one", node.op_type);
      } else {  // constants / shape arithmetic: the tensor operator
        for (Tensor& t : m.fns[k](ctx)) outs.emplace_back(t);
        if (!ctx.seq_out.empty())
          throw UnsupportedError("sequence values are not supported while training", node.op_type);
      }
    } catch (const UnsupportedError& e) {
      throw UnsupportedError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what(), e.op());
    } catch (const ShapeError& e) {
      throw ShapeError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what());
    } catch (const std::exception& e) {
      throw ValueError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what());
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      KUN_CHECK(o < outs.size() && outs[o].defined(), ValueError, "onnx: node '", node.name, "' (", node.op_type,
                "): output ", o, " is not implemented for training");
      env[node.outputs[o]] = outs[o];
    }
    for (const auto& name : node.inputs) {
      if (name.empty() || keep.count(name) || weights.count(name)) continue;
      auto it = m.last_use.find(name);
      if (it != m.last_use.end() && it->second == k) env.erase(name);
    }
  }
  std::vector<Variable> r;
  for (const auto& o : m.outputs) r.push_back(env.at(o.name));
  return r;
}

}  // namespace kun::onnx::detail
