// ONNX operators mapped onto kun's tensor ops. Each operator is one function OpContext -> outputs;
// the registry at the bottom names them. Semantics follow the ONNX operator spec (opset 7..17);
// where the spec changed between opsets (attribute became input, default axis), ctx.opset decides.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "kun/tensor/ops.h"
#include "onnx_internal.h"

namespace kun::onnx::detail {

// ---------------------------------------------------------------- context helpers

const Tensor& OpContext::input(size_t k) const {
  KUN_CHECK(has_input(k), ValueError, "input ", k, " is required but missing");
  return in[k];
}
const Attr* OpContext::attr(const std::string& a) const {
  auto it = node.attrs.find(a);
  return it == node.attrs.end() ? nullptr : &it->second;
}
int64_t OpContext::attr_i(const std::string& a, int64_t def) const {
  const Attr* p = attr(a);
  return p ? p->i_val : def;
}
int64_t OpContext::attr_i(const std::string& a) const {
  const Attr* p = attr(a);
  KUN_CHECK(p, ValueError, "attribute '", a, "' is required");
  return p->i_val;
}
double OpContext::attr_f(const std::string& a, double def) const {
  const Attr* p = attr(a);
  return p ? p->f_val : def;
}
std::string OpContext::attr_s(const std::string& a, const std::string& def) const {
  const Attr* p = attr(a);
  return p ? p->s_val : def;
}
std::vector<int64_t> OpContext::attr_ints(const std::string& a, const std::vector<int64_t>& def) const {
  const Attr* p = attr(a);
  return p ? p->ints_val : def;
}
std::vector<double> OpContext::attr_floats(const std::string& a, const std::vector<double>& def) const {
  const Attr* p = attr(a);
  return p ? p->floats_val : def;
}

const std::vector<Tensor>& OpContext::sequence(size_t k) const {
  KUN_CHECK(k < seq_in.size() && seq_in[k], TypeError, "input ", k, " must be a sequence");
  return *seq_in[k];
}

namespace {

using Outs = std::vector<Tensor>;

[[noreturn]] void unsupported(const OpContext& c, const std::string& what) {
  throw UnsupportedError(what + " is not supported", c.node.op_type);
}

std::vector<int64_t> ints_of(const Tensor& t) { return t.to_vector<int64_t>(); }
int64_t norm_axis(int64_t a, int64_t rank, const char* what = "axis") {
  KUN_CHECK(a >= -rank && a < std::max<int64_t>(rank, 1), IndexError, what, " ", a, " is out of range for rank ", rank);
  return a < 0 ? a + rank : a;
}

// Elementwise function on any dtype: float types directly, integer types through float64.
template <typename F>
Tensor map_elem(const Tensor& x, F f) {
  DType dt = x.dtype();
  Tensor c = is_floating(dt) ? x.contiguous() : x.to(DType::f64).contiguous();
  Tensor out = Tensor::empty(c.shape(), c.dtype());
  const int64_t n = c.numel();
  KUN_DISPATCH_FLOAT(c.dtype(), "onnx", [&] {
    const scalar_t* p = c.data<scalar_t>();
    scalar_t* q = out.data<scalar_t>();
    for (int64_t k = 0; k < n; ++k) q[k] = static_cast<scalar_t>(f(static_cast<double>(p[k])));
  });
  return is_floating(dt) ? out : out.to(dt);
}

// Elementwise binary function with broadcasting, via float64 for exactness on integers.
template <typename F>
Tensor map_binary(const Tensor& a, const Tensor& b, DType out_dt, F f) {
  Shape s = broadcast_shapes(a.shape(), b.shape(), "onnx");
  Tensor x = a.to(DType::f64).expand(s).contiguous(), y = b.to(DType::f64).expand(s).contiguous();
  Tensor out = Tensor::empty(s, DType::f64);
  const double *p = x.data<double>(), *q = y.data<double>();
  double* r = out.data<double>();
  for (int64_t k = 0; k < s.numel(); ++k) r[k] = f(p[k], q[k]);
  return out.to(out_dt);
}

// Runs a float-only kun op on any dtype (integers through float64 and back).
template <typename F>
Tensor float_op(const Tensor& x, F f) {
  if (is_floating(x.dtype())) return f(x);
  return f(x.to(DType::f64)).to(x.dtype());
}

// ---------------------------------------------------------------- elementwise

#define UNARY_KUN(NAME, EXPR) \
  Outs NAME(OpContext& c) {   \
    const Tensor& x = c.input(0); \
    return {float_op(x, [&](const Tensor& t) { return EXPR; })}; \
  }
UNARY_KUN(op_relu, relu(t))
UNARY_KUN(op_sigmoid, sigmoid(t))
UNARY_KUN(op_tanh, tanh(t))
UNARY_KUN(op_exp, exp(t))
UNARY_KUN(op_log, log(t))
UNARY_KUN(op_sqrt, sqrt(t))
UNARY_KUN(op_erf, erf(t))
UNARY_KUN(op_sin, sin(t))
UNARY_KUN(op_cos, cos(t))
UNARY_KUN(op_reciprocal, reciprocal(t))
#undef UNARY_KUN

#define UNARY_FN(NAME, EXPR)                                       \
  Outs NAME(OpContext& c) {                                        \
    return {map_elem(c.input(0), [](double v) { return EXPR; })}; \
  }
UNARY_FN(op_abs, std::fabs(v))
UNARY_FN(op_neg, -v)
UNARY_FN(op_floor, std::floor(v))
UNARY_FN(op_ceil, std::ceil(v))
UNARY_FN(op_round, std::nearbyint(v))  // half to even under the default rounding mode
UNARY_FN(op_sign, static_cast<double>((v > 0) - (v < 0)))
UNARY_FN(op_tan, std::tan(v))
UNARY_FN(op_asin, std::asin(v))
UNARY_FN(op_acos, std::acos(v))
UNARY_FN(op_atan, std::atan(v))
UNARY_FN(op_sinh, std::sinh(v))
UNARY_FN(op_cosh, std::cosh(v))
UNARY_FN(op_asinh, std::asinh(v))
UNARY_FN(op_acosh, std::acosh(v))
UNARY_FN(op_atanh, std::atanh(v))
UNARY_FN(op_softsign, v / (1 + std::fabs(v)))
UNARY_FN(op_softplus, v > 20 ? v : std::log1p(std::exp(v)))
UNARY_FN(op_mish, v * std::tanh(v > 20 ? v : std::log1p(std::exp(v))))
UNARY_FN(op_hardswish, v * std::max(0.0, std::min(1.0, v / 6 + 0.5)))
#undef UNARY_FN

Outs op_identity(OpContext& c) { return {c.input(0)}; }

Outs op_dropout(OpContext& c) {
  // Inference: identity; the optional mask output is all true.
  const double ratio = c.has_input(1) ? c.input(1).item_double() : c.attr_f("ratio", 0.5);
  if (c.has_input(2) && c.input(2).item<bool>() && ratio != 0) {
    // Training mode: keep where u >= ratio, u uniform in [0, 1) drawn in C order from MT19937 seeded with
    // `seed` (53-bit doubles from two 32-bit draws), the same stream as the spec's reference
    // (numpy's legacy RandomState); without a seed the draws are random.
    KUN_CHECK(ratio >= 0 && ratio < 1, ValueError, "ratio must be in [0, 1), got ", ratio);
    std::mt19937 gen(c.has_attr("seed") ? static_cast<uint32_t>(c.attr_i("seed", 0)) : std::random_device{}());
    const Tensor& x = c.input(0);
    const int64_t n = x.numel();
    Tensor mask = Tensor::empty(x.shape(), DType::bool_);
    bool* m = mask.data<bool>();
    for (int64_t k = 0; k < n; ++k) {
      const uint32_t a = gen() >> 5, b = gen() >> 6;
      m[k] = (a * 67108864.0 + b) / 9007199254740992.0 >= ratio;
    }
    Tensor y = mul(mul(x, mask.to(x.dtype())), 1.0 / (1.0 - ratio));
    Outs r{y};
    if (c.n_out > 1) r.push_back(mask);
    return r;
  }
  if (c.opset < 7 && c.attr_i("is_test", 0) == 0) unsupported(c, "is_test=0 (training)");
  Outs r{c.input(0)};
  if (c.n_out > 1) r.push_back(full(c.input(0).shape(), 1.0, DType::bool_));
  return r;
}

Outs op_leaky_relu(OpContext& c) {
  double a = c.attr_f("alpha", 0.01);
  return {map_elem(c.input(0), [a](double v) { return v >= 0 ? v : a * v; })};
}
Outs op_elu(OpContext& c) {
  double a = c.attr_f("alpha", 1.0);
  return {map_elem(c.input(0), [a](double v) { return v > 0 ? v : a * std::expm1(v); })};
}
Outs op_celu(OpContext& c) {
  double a = c.attr_f("alpha", 1.0);
  return {map_elem(c.input(0), [a](double v) { return std::max(0.0, v) + std::min(0.0, a * std::expm1(v / a)); })};
}
Outs op_selu(OpContext& c) {
  double a = c.attr_f("alpha", 1.67326319217681884765625), g = c.attr_f("gamma", 1.05070102214813232421875);
  return {map_elem(c.input(0), [a, g](double v) { return v > 0 ? g * v : g * a * std::expm1(v); })};
}
Outs op_hard_sigmoid(OpContext& c) {
  double a = c.attr_f("alpha", 0.2), b = c.attr_f("beta", 0.5);
  return {map_elem(c.input(0), [a, b](double v) { return std::max(0.0, std::min(1.0, a * v + b)); })};
}
Outs op_thresholded_relu(OpContext& c) {
  double a = c.attr_f("alpha", 1.0);
  return {map_elem(c.input(0), [a](double v) { return v > a ? v : 0.0; })};
}
Outs op_shrink(OpContext& c) {
  double bias = c.attr_f("bias", 0.0), l = c.attr_f("lambd", 0.5);
  return {map_elem(c.input(0), [bias, l](double v) { return v < -l ? v + bias : (v > l ? v - bias : 0.0); })};
}
Outs op_prelu(OpContext& c) {
  const Tensor& x = c.input(0);
  Tensor s = c.input(1);
  // Old exporters give a (C) slope meant for the channel dim; numpy rules would align it with the last dim.
  if (s.dim() == 1 && x.dim() > 2 && s.numel() == x.shape()[1] && s.numel() != x.shape()[x.dim() - 1]) {
    Shape cs(std::vector<int64_t>(x.dim() - 1, 1));
    cs[0] = s.numel();
    s = s.reshape(cs);
  }
  return {map_binary(x, s, x.dtype(), [](double v, double a) { return v < 0 ? a * v : v; })};
}
Outs op_isnan(OpContext& c) { return {isnan(c.input(0))}; }
Outs op_isinf(OpContext& c) {
  const bool neg = c.attr_i("detect_negative", 1) != 0, pos = c.attr_i("detect_positive", 1) != 0;
  const Tensor& x = c.input(0);
  return {map_binary(x, x, DType::bool_, [neg, pos](double v, double) {
    return static_cast<double>(std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg)));
  })};
}

// Before opset 7, binary ops broadcast only with broadcast=1: B's dims line up with A's from `axis`
// (default: the trailing dims). Returns B reshaped for numpy-style broadcasting.
Tensor second(const OpContext& c) {
  const Tensor& b = c.input(1);
  if (c.opset >= 7 || !c.attr_i("broadcast", 0) || !c.has_attr("axis")) return b;
  const Tensor& a = c.input(0);
  int64_t axis = c.attr_i("axis", 0);
  if (axis < 0) axis += a.dim();
  std::vector<int64_t> s(a.dim(), 1);
  KUN_CHECK(axis + b.dim() <= a.dim(), ShapeError, "B ", b.shape(), " does not fit A ", a.shape(), " at axis ", axis);
  for (int d = 0; d < b.dim(); ++d) s[axis + d] = b.shape()[d];
  return b.reshape(Shape(s));
}

Outs op_add(OpContext& c) { return {add(c.input(0), second(c))}; }
Outs op_sub(OpContext& c) { return {sub(c.input(0), second(c))}; }
Outs op_mul(OpContext& c) { return {mul(c.input(0), second(c))}; }
Outs op_div(OpContext& c) {
  const Tensor &a = c.input(0), b = second(c);
  if (is_floating(a.dtype())) return {div(a, b)};
  return {map_binary(a, b, a.dtype(), [](double x, double y) { return y == 0 ? 0.0 : std::trunc(x / y); })};
}
Outs op_pow(OpContext& c) {
  const Tensor &a = c.input(0), b = second(c);
  if (is_floating(a.dtype())) return {pow(a, b.to(a.dtype()))};
  return {map_binary(a, b, a.dtype(), [](double x, double y) { return std::pow(x, y); })};
}
Outs op_mod(OpContext& c) {
  const Tensor &a = c.input(0), &b = c.input(1);
  bool fmod = c.attr_i("fmod", 0);
  if (!fmod && is_floating(a.dtype())) unsupported(c, "fmod=0 on floating inputs");
  return {map_binary(a, b, a.dtype(), [fmod](double x, double y) {
    if (y == 0) return 0.0;
    double r = std::fmod(x, y);
    if (!fmod && r != 0 && ((r < 0) != (y < 0))) r += y;  // Python-style: the divisor's sign
    return r;
  })};
}

Outs variadic(OpContext& c, Tensor (*f)(const Tensor&, const Tensor&)) {
  Tensor acc = c.input(0);
  for (size_t k = 1; k < c.in.size(); ++k) acc = f(acc, c.input(k));
  if (c.in.size() == 1) acc = acc.clone();
  return {acc};
}
Outs op_max(OpContext& c) {
  return variadic(c, [](const Tensor& a, const Tensor& b) {
    return is_floating(a.dtype()) ? maximum(a, b) : map_binary(a, b, a.dtype(), [](double x, double y) { return std::max(x, y); });
  });
}
Outs op_min(OpContext& c) {
  return variadic(c, [](const Tensor& a, const Tensor& b) {
    return is_floating(a.dtype()) ? minimum(a, b) : map_binary(a, b, a.dtype(), [](double x, double y) { return std::min(x, y); });
  });
}
Outs op_sum(OpContext& c) { return variadic(c, [](const Tensor& a, const Tensor& b) { return add(a, b); }); }
Outs op_mean(OpContext& c) {
  Tensor s = op_sum(c)[0];
  return {mul(s, 1.0 / static_cast<double>(c.in.size()))};
}

Outs op_equal(OpContext& c) { return {eq(c.input(0), second(c))}; }
Outs op_less(OpContext& c) { return {lt(c.input(0), second(c))}; }
Outs op_greater(OpContext& c) { return {gt(c.input(0), second(c))}; }
Outs op_less_equal(OpContext& c) { return {le(c.input(0), c.input(1))}; }
Outs op_greater_equal(OpContext& c) { return {ge(c.input(0), c.input(1))}; }
Outs op_and(OpContext& c) { return {logical_and(c.input(0), second(c))}; }
Outs op_or(OpContext& c) { return {logical_or(c.input(0), second(c))}; }
Outs op_xor(OpContext& c) { return {ne(c.input(0), second(c))}; }
Outs op_not(OpContext& c) { return {logical_not(c.input(0))}; }
Outs op_where(OpContext& c) {
  const Tensor &a = c.input(1), &b = c.input(2);
  return {where(c.input(0).to(DType::bool_), a, b.to(a.dtype()))};
}

Outs op_clip(OpContext& c) {
  const Tensor& x = c.input(0);
  std::optional<double> lo, hi;
  if (c.opset < 11) {
    if (c.has_attr("min")) lo = c.attr_f("min", 0);
    if (c.has_attr("max")) hi = c.attr_f("max", 0);
  } else {
    if (c.has_input(1)) lo = c.input(1).item_double();
    if (c.has_input(2)) hi = c.input(2).item_double();
  }
  if (is_floating(x.dtype())) return {clamp(x, lo, hi)};
  double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  return {map_elem(x, [l, h](double v) { return std::min(std::max(v, l), h); })};
}

Outs op_cast(OpContext& c) {
  DType dt = to_dtype(static_cast<int>(c.attr_i("to")), "Cast target");
  const Tensor& x = c.input(0);
  if (is_floating(x.dtype()) && is_integral(dt) && dt != DType::bool_) {
    // float -> int truncates toward zero; out-of-range values are undefined in ONNX, keep them finite here
    return {map_elem(x, [](double v) { return std::isfinite(v) ? std::trunc(v) : 0.0; }).to(dt)};
  }
  return {x.to(dt)};
}
Outs op_cast_like(OpContext& c) { return {c.input(0).to(c.input(1).dtype())}; }

// ---------------------------------------------------------------- reductions

std::vector<int64_t> reduce_axes(OpContext& c, const Tensor& x, bool axes_is_input, bool* noop) {
  std::vector<int64_t> axes;
  *noop = false;
  if (axes_is_input) {
    if (c.has_input(1)) axes = ints_of(c.input(1));
  } else {
    axes = c.attr_ints("axes");
  }
  if (axes.empty()) {
    if (c.attr_i("noop_with_empty_axes", 0)) *noop = true;
    for (int d = 0; d < x.dim(); ++d) axes.push_back(d);
  }
  for (auto& a : axes) a = norm_axis(a, x.dim());
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

enum class Red { sum, mean, max, min, prod, l1, l2, log_sum, log_sum_exp, sum_square };

Outs reduce(OpContext& c, Red kind) {
  Tensor x = c.input(0);
  const bool axes_input = (kind == Red::sum) ? c.opset >= 13 : c.opset >= 18;
  bool noop = false;
  std::vector<int64_t> axes = reduce_axes(c, x, axes_input, &noop);
  if (noop) return {x};
  const bool keep = c.attr_i("keepdims", 1) != 0;
  DType dt = x.dtype();
  Tensor xf = is_floating(dt) ? x : x.to(DType::f64);
  if (x.dim() == 0) return {x.clone()};
  Tensor r;
  switch (kind) {
    case Red::sum: r = sum(xf, axes, keep); break;
    case Red::mean: r = mean(xf, axes, keep); break;
    case Red::max: r = amax(xf, axes, keep); break;
    case Red::min: r = amin(xf, axes, keep); break;
    case Red::prod: r = prod(xf, axes, keep); break;
    case Red::l1: r = sum(abs(xf), axes, keep); break;
    case Red::l2: r = sqrt(sum(square(xf), axes, keep)); break;
    case Red::log_sum: r = log(sum(xf, axes, keep)); break;
    case Red::log_sum_exp: r = logsumexp(xf, axes, keep); break;
    case Red::sum_square: r = sum(square(xf), axes, keep); break;
  }
  return {is_floating(dt) ? r : map_elem(r, [](double v) { return v; }).to(dt)};
}
Outs op_reduce_sum(OpContext& c) { return reduce(c, Red::sum); }
Outs op_reduce_mean(OpContext& c) { return reduce(c, Red::mean); }
Outs op_reduce_max(OpContext& c) { return reduce(c, Red::max); }
Outs op_reduce_min(OpContext& c) { return reduce(c, Red::min); }
Outs op_reduce_prod(OpContext& c) { return reduce(c, Red::prod); }
Outs op_reduce_l1(OpContext& c) { return reduce(c, Red::l1); }
Outs op_reduce_l2(OpContext& c) { return reduce(c, Red::l2); }
Outs op_reduce_log_sum(OpContext& c) { return reduce(c, Red::log_sum); }
Outs op_reduce_log_sum_exp(OpContext& c) { return reduce(c, Red::log_sum_exp); }
Outs op_reduce_sum_square(OpContext& c) { return reduce(c, Red::sum_square); }

Tensor flip(const Tensor& x, int64_t axis) {
  int64_t n = x.shape()[axis];
  std::vector<int64_t> idx(n);
  for (int64_t k = 0; k < n; ++k) idx[k] = n - 1 - k;
  return index_select(x, axis, from_vector(idx));
}

Outs arg_reduce(OpContext& c, bool is_max) {
  const Tensor& x = c.input(0);
  int64_t axis = norm_axis(c.attr_i("axis", 0), x.dim());
  bool keep = c.attr_i("keepdims", 1) != 0, last = c.attr_i("select_last_index", 0) != 0;
  Tensor xx = last ? flip(x, axis) : x;
  Tensor r = is_max ? argmax(xx, axis, keep) : argmin(xx, axis, keep);
  if (last) r = sub(full(r.shape(), static_cast<double>(x.shape()[axis] - 1), DType::i64), r);
  return {r};
}
Outs op_argmax(OpContext& c) { return arg_reduce(c, true); }
Outs op_argmin(OpContext& c) { return arg_reduce(c, false); }

// Softmax family: before opset 13 the input is coerced to 2-D at `axis` (default 1).
Outs softmax_like(OpContext& c, int which) {
  const Tensor& x = c.input(0);
  auto f = [which](const Tensor& t, int64_t d) -> Tensor {
    if (which == 0) return softmax(t, d);
    if (which == 1) return log_softmax(t, d);
    // Hardmax: one-hot of the first maximum
    Tensor idx = argmax(t, d, true);
    Tensor pos = arange(t.shape()[d]);
    Shape ps(std::vector<int64_t>(t.dim(), 1));
    ps[d] = t.shape()[d];
    return eq(pos.view(ps), idx).to(t.dtype());
  };
  if (x.dim() == 0) return {f(x.unsqueeze(0), 0).squeeze(0)};
  if (c.opset >= 13) return {f(x, norm_axis(c.attr_i("axis", -1), x.dim()))};
  int64_t axis = norm_axis(c.attr_i("axis", 1), x.dim());
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  Tensor y = f(x.reshape({outer, x.numel() / std::max<int64_t>(outer, 1)}), 1);
  return {y.reshape(x.shape())};
}
Outs op_softmax(OpContext& c) { return softmax_like(c, 0); }
Outs op_log_softmax(OpContext& c) { return softmax_like(c, 1); }
Outs op_hardmax(OpContext& c) { return softmax_like(c, 2); }

// ---------------------------------------------------------------- losses

// Negative log-likelihood over (N, C, d...) log-probabilities and (N, d...) class indices.
Tensor nll(const Tensor& logp_in, const Tensor& target_in, const Tensor& weight_in, const std::string& reduction,
           std::optional<int64_t> ignore) {
  KUN_CHECK(logp_in.dim() >= 2, ShapeError, "input must be (N, C, ...), got ", logp_in.shape());
  const int64_t N = logp_in.shape()[0], C = logp_in.shape()[1], D = logp_in.numel() / std::max<int64_t>(N * C, 1);
  KUN_CHECK(target_in.numel() == N * D, ShapeError, "target ", target_in.shape(), " does not match input ", logp_in.shape());
  Tensor lp = logp_in.to(DType::f64).contiguous(), tg = target_in.to(DType::i64).contiguous();
  Tensor w = weight_in.defined() ? weight_in.to(DType::f64).contiguous() : Tensor();
  const double* p = lp.data<double>();
  const int64_t* t = tg.data<int64_t>();
  std::vector<double> loss(N * D), wsum(N * D);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      int64_t cls = t[n * D + d];
      if (ignore && cls == *ignore) continue;
      KUN_CHECK(cls >= 0 && cls < C, IndexError, "target class ", cls, " is out of range [0, ", C, ")");
      double wt = w.defined() ? w.data<double>()[cls] : 1.0;
      loss[n * D + d] = -p[(n * C + cls) * D + d] * wt;
      wsum[n * D + d] = wt;
    }
  if (reduction == "none") return from_vector(loss, target_in.shape()).to(logp_in.dtype());
  double total = std::accumulate(loss.begin(), loss.end(), 0.0);
  if (reduction == "sum") return scalar_tensor(total, logp_in.dtype());
  KUN_CHECK(reduction == "mean", ValueError, "reduction must be none, sum or mean, got '", reduction, "'");
  double den = std::accumulate(wsum.begin(), wsum.end(), 0.0);
  return scalar_tensor(den == 0 ? 0.0 : total / den, logp_in.dtype());
}

std::optional<int64_t> ignore_index(const OpContext& c) {
  if (!c.has_attr("ignore_index")) return std::nullopt;
  return c.attr_i("ignore_index", 0);
}

Outs op_nll_loss(OpContext& c) {
  return {nll(c.input(0), c.input(1), c.has_input(2) ? c.input(2) : Tensor(), c.attr_s("reduction", "mean"),
              ignore_index(c))};
}

Outs op_softmax_cross_entropy(OpContext& c) {
  const Tensor& x = c.input(0);
  Tensor logp = log_softmax(x.to(DType::f64), 1);
  Tensor loss = nll(logp, c.input(1), c.has_input(2) ? c.input(2) : Tensor(), c.attr_s("reduction", "mean"),
                    ignore_index(c)).to(x.dtype());
  Outs r{loss};
  if (c.n_out > 1) r.push_back(logp.to(x.dtype()));
  return r;
}

// ---------------------------------------------------------------- linear algebra

Outs op_matmul(OpContext& c) {
  const Tensor &a = c.input(0), &b = c.input(1);
  if (is_floating(a.dtype())) return {matmul(a, b)};
  return {matmul(a.to(DType::f64), b.to(DType::f64)).to(a.dtype())};
}

Outs op_gemm(OpContext& c) {
  Tensor a = c.input(0), b = c.input(1);
  KUN_CHECK(a.dim() == 2 && b.dim() == 2, ShapeError, "A and B must be 2-D, got ", a.shape(), " and ", b.shape());
  if (c.attr_i("transA", 0)) a = a.t();
  if (c.attr_i("transB", 0)) b = b.t();
  const double alpha = c.attr_f("alpha", 1.0), beta = c.attr_f("beta", 1.0);
  DType dt = a.dtype();
  bool fl = is_floating(dt);
  Tensor y = fl ? matmul(a, b) : matmul(a.to(DType::f64), b.to(DType::f64));
  if (alpha != 1.0) y = mul(y, alpha);
  if (c.has_input(2) && beta != 0.0) {
    Tensor cc = c.input(2).to(y.dtype());
    y = add(y, beta == 1.0 ? cc : mul(cc, beta));
  }
  return {fl ? y : y.to(dt)};
}

// ---------------------------------------------------------------- convolution and pooling

// Spatial geometry shared by Conv and the pools (1-D or 2-D; 1-D runs as 2-D with H = 1).
struct Geometry {
  int nsp = 0;                                          // spatial dims (1 or 2)
  std::vector<int64_t> kernel, stride, dil, pad_begin, pad_end;
};

Geometry geometry(OpContext& c, const Tensor& x, std::vector<int64_t> kernel, int64_t default_stride = 1) {
  Geometry g;
  g.nsp = x.dim() - 2;
  KUN_CHECK(x.dim() >= 3, ShapeError, "input must be (N, C, spatial...), got ", x.shape());
  if (g.nsp > 3) unsupported(c, std::to_string(g.nsp) + "-D spatial input");
  g.kernel = kernel;
  KUN_CHECK(static_cast<int>(g.kernel.size()) == g.nsp, ShapeError, "kernel_shape has ", g.kernel.size(),
            " dims for an input of shape ", x.shape());
  g.stride = c.attr_ints("strides", std::vector<int64_t>(g.nsp, default_stride));
  g.dil = c.attr_ints("dilations", std::vector<int64_t>(g.nsp, 1));
  std::vector<int64_t> pads = c.attr_ints("pads", std::vector<int64_t>(2 * g.nsp, 0));
  KUN_CHECK(static_cast<int>(pads.size()) == 2 * g.nsp, ShapeError, "pads must have ", 2 * g.nsp, " values, got ",
            pads.size());
  g.pad_begin.assign(pads.begin(), pads.begin() + g.nsp);
  g.pad_end.assign(pads.begin() + g.nsp, pads.end());
  std::string ap = c.attr_s("auto_pad", "NOTSET");
  if (ap == "VALID") {
    std::fill(g.pad_begin.begin(), g.pad_begin.end(), 0);
    std::fill(g.pad_end.begin(), g.pad_end.end(), 0);
  } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    for (int d = 0; d < g.nsp; ++d) {
      int64_t in = x.shape()[2 + d], s = g.stride[d];
      int64_t out = (in + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (out - 1) * s + (g.kernel[d] - 1) * g.dil[d] + 1 - in);
      g.pad_begin[d] = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[d] = total - g.pad_begin[d];
    }
  } else if (ap != "NOTSET") {
    unsupported(c, "auto_pad '" + ap + "'");
  }
  return g;
}

// kun::pad list (last dim first) for the spatial pads of g.
std::vector<int64_t> kun_pads(const Geometry& g) {
  std::vector<int64_t> p;
  for (int d = g.nsp - 1; d >= 0; --d) {
    p.push_back(g.pad_begin[d]);
    p.push_back(g.pad_end[d]);
  }
  return p;
}
bool symmetric(const Geometry& g) { return g.pad_begin == g.pad_end; }
Tensor to2d(const Tensor& x, int nsp) { return nsp == 1 ? x.unsqueeze(2) : x; }
Tensor from2d(const Tensor& y, int nsp) { return nsp == 1 ? y.squeeze(2) : y; }
Size2 sz(const std::vector<int64_t>& v, int nsp) { return nsp == 1 ? Size2(1, v[0]) : Size2(v[0], v[1]); }

// 3-D (N, C, D, H, W) runs as 2-D work per output depth: kun's kernels are 1-D / 2-D. x is already padded.
int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d) { return (in - ((k - 1) * d + 1)) / s + 1; }

Tensor conv3d(const Tensor& xp, const Tensor& w, const Tensor& b, const Geometry& g, int64_t groups) {
  const int64_t OD = out_len(xp.shape()[2], g.kernel[0], g.stride[0], g.dil[0]);
  KUN_CHECK(OD > 0, ShapeError, "kernel ", Shape(g.kernel), " is larger than the padded input ", xp.shape());
  Conv2dOptions o;
  o.stride = Size2(g.stride[1], g.stride[2]);
  o.dilation = Size2(g.dil[1], g.dil[2]);
  o.groups = groups;
  std::vector<Tensor> planes;
  for (int64_t od = 0; od < OD; ++od) {
    Tensor acc;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      Tensor y = conv2d(xp.select(2, od * g.stride[0] + kd * g.dil[0]), w.select(2, kd), Tensor(), o);
      acc = acc.defined() ? add(acc, y) : y;
    }
    planes.push_back(acc);
  }
  Tensor y = stack(planes, 2);
  if (b.defined()) y = add(y, b.view({1, b.numel(), 1, 1, 1}));
  return y;
}

// Max or plain average (no padding, every cell counts) over 3-D windows of an already padded x.
Tensor pool3d(const Tensor& xp, const Geometry& g, bool is_max) {
  const int64_t OD = out_len(xp.shape()[2], g.kernel[0], g.stride[0], g.dil[0]);
  KUN_CHECK(OD > 0, ShapeError, "kernel ", Shape(g.kernel), " is larger than the padded input ", xp.shape());
  Pool2dOptions o;
  o.kernel = Size2(g.kernel[1], g.kernel[2]);
  o.stride = Size2(g.stride[1], g.stride[2]);
  o.dilation = Size2(g.dil[1], g.dil[2]);
  std::vector<Tensor> planes;
  for (int64_t od = 0; od < OD; ++od) {
    Tensor acc;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      Tensor slice = xp.select(2, od * g.stride[0] + kd * g.dil[0]);
      Tensor y = is_max ? max_pool2d(slice, o) : avg_pool2d(slice, o);
      acc = !acc.defined() ? y : (is_max ? maximum(acc, y) : add(acc, y));
    }
    planes.push_back(is_max ? acc : mul(acc, 1.0 / static_cast<double>(g.kernel[0])));
  }
  return stack(planes, 2);
}

Outs op_conv(OpContext& c) {
  Tensor x = c.input(0), w = c.input(1);
  KUN_CHECK(w.dim() == x.dim(), ShapeError, "weight must have the input's rank ", x.dim(), ", got ", w.shape());
  std::vector<int64_t> k(w.shape().begin() + 2, w.shape().end());
  Geometry g = geometry(c, x, c.attr_ints("kernel_shape", k));
  if (g.nsp == 3)
    return {conv3d(pad(x, kun_pads(g)), w, c.has_input(2) ? c.input(2) : Tensor(), g, c.attr_i("group", 1))};
  DType dt = x.dtype();
  if (!is_floating(dt)) unsupported(c, "integer input");
  Tensor b = c.has_input(2) ? c.input(2) : Tensor();
  Tensor x2 = to2d(x, g.nsp);
  Conv2dOptions o;
  o.stride = sz(g.stride, g.nsp);
  o.dilation = sz(g.dil, g.nsp);
  o.groups = c.attr_i("group", 1);
  if (symmetric(g)) {
    o.padding = g.nsp == 1 ? ConvPadding(0, g.pad_begin[0]) : ConvPadding(g.pad_begin[0], g.pad_begin[1]);
  } else {
    x2 = to2d(pad(x, kun_pads(g)), g.nsp);
  }
  return {from2d(conv2d(x2, to2d(w, g.nsp), b, o), g.nsp)};
}

Outs op_conv_transpose(OpContext& c) {
  Tensor x = c.input(0), w = c.input(1);
  KUN_CHECK(w.dim() == x.dim(), ShapeError, "weight must have the input's rank ", x.dim(), ", got ", w.shape());
  const int nsp = x.dim() - 2;
  if (nsp < 1 || nsp > 3) unsupported(c, std::to_string(nsp) + "-D spatial input");
  std::vector<int64_t> k = c.attr_ints("kernel_shape", std::vector<int64_t>(w.shape().begin() + 2, w.shape().end()));
  std::vector<int64_t> s = c.attr_ints("strides", std::vector<int64_t>(nsp, 1));
  std::vector<int64_t> d = c.attr_ints("dilations", std::vector<int64_t>(nsp, 1));
  std::vector<int64_t> op = c.attr_ints("output_padding", std::vector<int64_t>(nsp, 0));
  std::vector<int64_t> pads = c.attr_ints("pads", std::vector<int64_t>(2 * nsp, 0));
  std::vector<int64_t> out_shape = c.attr_ints("output_shape");
  std::string ap = c.attr_s("auto_pad", "NOTSET");
  const int64_t groups = c.attr_i("group", 1);
  // Full (unpadded) transposed convolution, then crop / extend each spatial dim to the wanted window.
  ConvTranspose2dOptions o;
  o.stride = sz(s, nsp);
  o.dilation = sz(d, nsp);
  o.groups = groups;
  Tensor y;
  if (nsp == 3) {
    // Depth by hand: input depth i with kernel depth kd lands on output depth i * s + kd * d.
    o.stride = Size2(s[1], s[2]);
    o.dilation = Size2(d[1], d[2]);
    const int64_t ID = x.shape()[2], FD = (ID - 1) * s[0] + (k[0] - 1) * d[0] + 1;
    std::vector<Tensor> planes(FD);
    for (int64_t i = 0; i < ID; ++i)
      for (int64_t kd = 0; kd < k[0]; ++kd) {
        Tensor p = conv_transpose2d(x.select(2, i), w.select(2, kd), Tensor(), o);
        Tensor& dst = planes[i * s[0] + kd * d[0]];
        dst = dst.defined() ? add(dst, p) : p;
      }
    Tensor zero;
    for (auto& p : planes)
      if (p.defined()) zero = zeros_like(p);
    for (auto& p : planes)
      if (!p.defined()) p = zero;
    y = stack(planes, 2);
  } else {
    y = from2d(conv_transpose2d(to2d(x, nsp), to2d(w, nsp), Tensor(), o), nsp);
  }
  std::vector<int64_t> kp;  // kun::pad list, last dim first
  for (int i = nsp - 1; i >= 0; --i) {
    int64_t in = x.shape()[2 + i];
    int64_t full_len = (in - 1) * s[i] + (k[i] - 1) * d[i] + 1;
    int64_t begin = pads[i], out;
    if (!out_shape.empty()) {
      out = out_shape[out_shape.size() - nsp + i];
      int64_t total = s[i] * (in - 1) + op[i] + (k[i] - 1) * d[i] + 1 - out;
      int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);  // floor division, as the reference does
      begin = (ap == "SAME_UPPER") ? half : total - half;
    } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      out = in * s[i];
      int64_t total = std::max<int64_t>(0, s[i] * (in - 1) + op[i] + (k[i] - 1) * d[i] + 1 - out);
      begin = (ap == "SAME_UPPER") ? total / 2 : total - total / 2;
    } else {
      out = full_len + op[i] - pads[i] - pads[nsp + i];
    }
    kp.push_back(-begin);
    kp.push_back(out - (full_len - begin));
  }
  bool any = std::any_of(kp.begin(), kp.end(), [](int64_t v) { return v != 0; });
  if (any) y = pad(y, kp);
  if (c.has_input(2)) {
    Shape bs(std::vector<int64_t>(y.dim(), 1));
    bs[1] = y.shape()[1];
    y = add(y, c.input(2).view(bs));
  }
  return {y};
}

Outs op_max_pool(OpContext& c) {
  const Tensor& x = c.input(0);
  Geometry g = geometry(c, x, c.attr_ints("kernel_shape"));
  const bool column_major = c.attr_i("storage_order", 0) != 0;
  if (g.nsp == 3) {
    if (c.attr_i("ceil_mode", 0) || (c.n_out > 1 && !c.node.outputs[1].empty())) unsupported(c, "3-D ceil_mode / Indices");
    double lowest = -std::numeric_limits<double>::infinity();
    return {pool3d(pad(x, kun_pads(g), {.mode = PadMode::constant, .value = lowest}), g, true)};
  }
  Pool2dOptions o;
  o.kernel = sz(g.kernel, g.nsp);
  o.stride = sz(g.stride, g.nsp);
  o.dilation = sz(g.dil, g.nsp);
  o.ceil_mode = c.attr_i("ceil_mode", 0) != 0;
  bool native = symmetric(g);
  for (int d = 0; d < g.nsp; ++d) native = native && g.pad_begin[d] <= g.kernel[d] / 2;
  Tensor x2;
  if (native) {
    o.padding = g.nsp == 1 ? Size2(0, g.pad_begin[0]) : Size2(g.pad_begin[0], g.pad_begin[1]);
    x2 = to2d(x, g.nsp);
  } else {
    double lowest = -std::numeric_limits<double>::infinity();
    x2 = to2d(pad(x, kun_pads(g), {.mode = PadMode::constant, .value = lowest}), g.nsp);
  }
  if (!is_floating(x.dtype())) x2 = x2.to(DType::f64);
  if (c.n_out > 1 && !c.node.outputs[1].empty()) {
    if (!native) unsupported(c, "Indices output with asymmetric padding");
    auto [y, idx] = max_pool2d_with_indices(x2, o);
    // kun's indices are offsets within one (H, W) plane; ONNX's count over the whole tensor.
    const int64_t N = x.shape()[0], C = x.shape()[1], plane = x.numel() / std::max<int64_t>(N * C, 1);
    Tensor base = mul(arange(N * C), plane).view({N, C, 1, 1});
    if (column_major && g.nsp == 2) {  // (h, w) -> w * H + h
      const int64_t H = x.shape()[2], W = x.shape()[3];
      idx = map_elem(idx, [H, W](double v) {
        int64_t i = static_cast<int64_t>(v);
        return static_cast<double>((i % W) * H + i / W);
      });
    }
    return {from2d(y, g.nsp).to(x.dtype()), from2d(add(idx, base), g.nsp)};
  }
  return {from2d(max_pool2d(x2, o), g.nsp).to(x.dtype())};
}

Outs op_average_pool(OpContext& c) {
  const Tensor& x = c.input(0);
  Geometry g = geometry(c, x, c.attr_ints("kernel_shape"));
  Pool2dOptions o;
  o.kernel = sz(g.kernel, g.nsp);
  o.stride = sz(g.stride, g.nsp);
  o.ceil_mode = c.attr_i("ceil_mode", 0) != 0;
  const bool include_pad = c.attr_i("count_include_pad", 0) != 0;
  if (g.nsp == 3) {
    if (c.attr_i("ceil_mode", 0)) unsupported(c, "3-D ceil_mode");
    Tensor num = pool3d(pad(x, kun_pads(g)), g, false);
    Shape one(std::vector<int64_t>(x.dim(), 1));
    for (int d = 0; d < 3; ++d) one[2 + d] = x.shape()[2 + d];
    Tensor mask = pad(ones(one, x.dtype()), kun_pads(g), {.mode = PadMode::constant, .value = include_pad ? 1.0 : 0.0});
    return {div(num, pool3d(mask, g, false))};
  }
  o.count_include_pad = include_pad;
  bool native = symmetric(g);
  for (int d = 0; d < g.nsp; ++d) native = native && g.pad_begin[d] <= g.kernel[d] / 2;
  if (native) {
    o.padding = g.nsp == 1 ? Size2(0, g.pad_begin[0]) : Size2(g.pad_begin[0], g.pad_begin[1]);
    return {from2d(avg_pool2d(to2d(x, g.nsp), o), g.nsp)};
  }
  // Asymmetric or large pads: pool the zero-padded input and divide by the pooled count of
  // the cells that count (every padded cell, or only the real ones).
  Tensor num = avg_pool2d(to2d(pad(x, kun_pads(g)), g.nsp), o);
  Shape one(std::vector<int64_t>(x.dim(), 1));
  for (int d = 0; d < g.nsp; ++d) one[2 + d] = x.shape()[2 + d];
  Tensor mask = pad(ones(one, x.dtype()), kun_pads(g), {.mode = PadMode::constant, .value = include_pad ? 1.0 : 0.0});
  Tensor den = avg_pool2d(to2d(mask, g.nsp), o);
  Tensor all = avg_pool2d(to2d(ones_like(mask), g.nsp), o);  // kun's own divisor, cancelled out
  return {from2d(div(mul(num, all), mul(den, all.clone()).expand(num.shape())), g.nsp)};
}

Outs op_global_average_pool(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> dims;
  for (int d = 2; d < x.dim(); ++d) dims.push_back(d);
  return {mean(x, dims, true)};
}
Outs op_global_max_pool(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> dims;
  for (int d = 2; d < x.dim(); ++d) dims.push_back(d);
  return {amax(x, dims, true)};
}

// ---------------------------------------------------------------- normalization

Shape channel_shape(const Tensor& x) {
  Shape s(std::vector<int64_t>(x.dim(), 1));
  if (x.dim() > 1) s[1] = x.shape()[1];
  return s;
}

Outs op_batch_norm(OpContext& c) {
  const Tensor &x = c.input(0), &scale = c.input(1), &bias = c.input(2);
  Tensor mean_in = c.input(3), var_in = c.input(4);
  const double eps = c.attr_f("epsilon", 1e-5);
  const bool training = c.attr_i("training_mode", 0) != 0;
  Shape cs = channel_shape(x);
  Tensor m = mean_in, v = var_in;
  Outs extra;
  if (training) {
    std::vector<int64_t> dims;
    for (int d = 0; d < x.dim(); ++d)
      if (d != 1) dims.push_back(d);
    m = mean(x, dims);
    v = var(x, dims, {.correction = 0});
    const double mom = c.attr_f("momentum", 0.9);
    extra.push_back(add(mul(mean_in, mom), mul(m, 1 - mom)));
    extra.push_back(add(mul(var_in, mom), mul(v, 1 - mom)));
  }
  // y = x * a + b with a = scale / sqrt(var + eps), b = bias - mean * a (per channel).
  Tensor a = div(scale.to(x.dtype()), sqrt(add(v.to(x.dtype()), eps)));
  Tensor b = sub(bias.to(x.dtype()), mul(m.to(x.dtype()), a));
  Outs r{add(mul(x, a.view(cs)), b.view(cs))};
  for (auto& e : extra) r.push_back(e);
  return r;
}

Outs op_instance_norm(OpContext& c) {
  const Tensor &x = c.input(0), &scale = c.input(1), &bias = c.input(2);
  const double eps = c.attr_f("epsilon", 1e-5);
  std::vector<int64_t> dims;
  for (int d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor m = mean(x, dims, true);
  Tensor v = var(x, dims, {.correction = 0, .keepdim = true});
  Shape cs = channel_shape(x);
  Tensor y = mul(sub(x, m), rsqrt(add(v, eps)));
  return {add(mul(y, scale.view(cs)), bias.view(cs))};
}

Outs op_layer_norm(OpContext& c) {
  const Tensor& x = c.input(0);
  const int64_t axis = norm_axis(c.attr_i("axis", -1), x.dim());
  const double eps = c.attr_f("epsilon", 1e-5);
  Shape ns;
  for (int d = static_cast<int>(axis); d < x.dim(); ++d) ns.push_back(x.shape()[d]);
  Tensor w = c.input(1), b = c.has_input(2) ? c.input(2) : Tensor();
  if (w.shape() != ns) w = w.expand(ns).contiguous();
  if (b.defined() && b.shape() != ns) b = b.expand(ns).contiguous();
  LayerNormForward f = layer_norm_forward(x, ns, w, b, {.eps = eps});
  Shape stat;
  for (int d = 0; d < x.dim(); ++d) stat.push_back(d < axis ? x.shape()[d] : 1);
  return {f.y, f.mean.reshape(stat), f.rstd.reshape(stat)};
}

Outs op_lp_norm(OpContext& c) {
  const Tensor& x = c.input(0);
  int64_t axis = norm_axis(c.attr_i("axis", -1), x.dim());
  int64_t p = c.attr_i("p", 2);
  if (p != 1 && p != 2) unsupported(c, "p=" + std::to_string(p));
  Tensor n = p == 1 ? sum(abs(x), {axis}, true) : sqrt(sum(square(x), {axis}, true));
  return {div(x, n)};
}

Outs op_lrn(OpContext& c) {
  const Tensor& x = c.input(0);
  const double alpha = c.attr_f("alpha", 1e-4), beta = c.attr_f("beta", 0.75), bias = c.attr_f("bias", 1.0);
  const int64_t size = c.attr_i("size");
  const int64_t C = x.shape()[1];
  Tensor sq = square(x);
  // Sum of squares over channels [c - floor((size-1)/2), c + ceil((size-1)/2)].
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  Tensor acc = zeros_like(x);
  for (int64_t ch = 0; ch < C; ++ch) {
    int64_t a = std::max<int64_t>(0, ch - lo), b = std::min<int64_t>(C - 1, ch + hi);
    Tensor s = sum(sq.narrow(1, a, b - a + 1), {1}, true);
    acc.narrow(1, ch, 1).copy_(s);
  }
  Tensor den = pow(add(mul(acc, alpha / static_cast<double>(size)), bias), beta);
  return {div(x, den)};
}

// ---------------------------------------------------------------- shape and indexing

Outs op_flatten(OpContext& c) {
  const Tensor& x = c.input(0);
  int64_t axis = c.attr_i("axis", 1);
  if (axis < 0) axis += x.dim();
  KUN_CHECK(axis >= 0 && axis <= x.dim(), IndexError, "axis ", c.attr_i("axis", 1), " is out of range for rank ", x.dim());
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  int64_t inner = 1;
  for (int64_t d = axis; d < x.dim(); ++d) inner *= x.shape()[d];
  return {x.reshape({outer, inner})};
}

Outs op_reshape(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> s = c.opset < 5 ? c.attr_ints("shape") : ints_of(c.input(1));
  const bool allowzero = c.attr_i("allowzero", 0) != 0;
  int infer = -1;
  int64_t known = 1;
  for (size_t d = 0; d < s.size(); ++d) {
    if (s[d] == 0 && !allowzero) {
      KUN_CHECK(static_cast<int>(d) < x.dim(), ShapeError, "shape ", Shape(s), " copies dim ", d, " that input ", x.shape(), " lacks");
      s[d] = x.shape()[d];
    }
    if (s[d] == -1) {
      KUN_CHECK(infer < 0, ShapeError, "shape ", Shape(s), " has more than one -1");
      infer = static_cast<int>(d);
    } else {
      known *= s[d];
    }
  }
  if (infer >= 0) {
    KUN_CHECK(known > 0 && x.numel() % known == 0, ShapeError, "cannot reshape ", x.shape(), " to ", Shape(s));
    s[infer] = x.numel() / known;
  }
  KUN_CHECK(Shape(s).numel() == x.numel(), ShapeError, "cannot reshape ", x.shape(), " (", x.numel(), " elements) to ", Shape(s));
  return {x.reshape(Shape(s))};
}

Outs op_transpose(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> perm = c.attr_ints("perm");
  if (perm.empty())
    for (int d = x.dim() - 1; d >= 0; --d) perm.push_back(d);
  return {x.permute(perm)};
}

Outs op_concat(OpContext& c) {
  std::vector<Tensor> xs;
  for (size_t k = 0; k < c.in.size(); ++k)
    if (c.has_input(k)) xs.push_back(c.in[k]);
  KUN_CHECK(!xs.empty(), ValueError, "needs at least one input");
  int64_t axis = norm_axis(c.attr_i("axis"), xs[0].dim());
  return {concat(xs, axis)};
}

Outs op_split(OpContext& c) {
  const Tensor& x = c.input(0);
  int64_t axis = norm_axis(c.attr_i("axis", 0), x.dim());
  std::vector<int64_t> sizes = c.opset >= 13 ? (c.has_input(1) ? ints_of(c.input(1)) : std::vector<int64_t>{})
                                            : c.attr_ints("split");
  const int64_t len = x.shape()[axis];
  if (sizes.empty()) {
    int64_t n = c.has_attr("num_outputs") ? c.attr_i("num_outputs") : static_cast<int64_t>(c.n_out);
    int64_t each = (len + n - 1) / n;
    for (int64_t k = 0; k < n; ++k) sizes.push_back(std::min(each, len - k * each));
  }
  Outs r;
  int64_t at = 0;
  for (int64_t s : sizes) {
    KUN_CHECK(s >= 0 && at + s <= len, ShapeError, "split sizes ", Shape(sizes), " exceed dim ", axis, " of ", x.shape());
    r.push_back(x.narrow(axis, at, s));
    at += s;
  }
  KUN_CHECK(at == len, ShapeError, "split sizes ", Shape(sizes), " do not add up to dim ", axis, " of ", x.shape());
  return r;
}

Tensor normalize_indices(const Tensor& idx, int64_t n) {
  Tensor i = idx.to(DType::i64).contiguous().clone();
  int64_t* p = i.data<int64_t>();
  for (int64_t k = 0; k < i.numel(); ++k) {
    int64_t v = p[k] < 0 ? p[k] + n : p[k];
    KUN_CHECK(v >= 0 && v < n, IndexError, "index ", p[k], " is out of range for a dim of size ", n);
    p[k] = v;
  }
  return i;
}

Outs op_gather(OpContext& c) {
  const Tensor &x = c.input(0), &idx = c.input(1);
  int64_t axis = norm_axis(c.attr_i("axis", 0), x.dim());
  Tensor i = normalize_indices(idx, x.shape()[axis]);
  Tensor y = index_select(x, axis, i.reshape({i.numel()}));
  std::vector<int64_t> s;
  for (int64_t d = 0; d < axis; ++d) s.push_back(x.shape()[d]);
  for (int d = 0; d < idx.dim(); ++d) s.push_back(idx.shape()[d]);
  for (int d = static_cast<int>(axis) + 1; d < x.dim(); ++d) s.push_back(x.shape()[d]);
  return {y.reshape(Shape(s))};
}

Outs op_gather_elements(OpContext& c) {
  const Tensor &x = c.input(0), &idx = c.input(1);
  int64_t axis = norm_axis(c.attr_i("axis", 0), x.dim());
  return {gather(x, axis, normalize_indices(idx, x.shape()[axis]))};
}

Outs op_gather_nd(OpContext& c) {
  Tensor x = c.input(0).contiguous();
  Tensor idx = c.input(1).to(DType::i64).contiguous();
  const int64_t b = c.attr_i("batch_dims", 0);
  const int64_t k = idx.shape()[idx.dim() - 1];
  KUN_CHECK(b + k <= x.dim(), ShapeError, "indices' last dim ", k, " + batch_dims ", b, " exceeds data rank ", x.dim());
  std::vector<int64_t> out;
  for (int d = 0; d < idx.dim() - 1; ++d) out.push_back(idx.shape()[d]);
  int64_t slice = 1;
  for (int d = static_cast<int>(b + k); d < x.dim(); ++d) {
    out.push_back(x.shape()[d]);
    slice *= x.shape()[d];
  }
  int64_t batch = 1;
  for (int d = 0; d < b; ++d) batch *= x.shape()[d];
  const int64_t per_batch_idx = idx.numel() / std::max<int64_t>(k, 1) / std::max<int64_t>(batch, 1);
  const int64_t batch_stride = x.numel() / std::max<int64_t>(batch, 1);
  Tensor xf = x.reshape({x.numel()});
  std::vector<int64_t> rows;
  const int64_t* ip = idx.data<int64_t>();
  for (int64_t bb = 0; bb < batch; ++bb)
    for (int64_t r = 0; r < per_batch_idx; ++r) {
      int64_t off = bb * batch_stride;
      for (int64_t j = 0; j < k; ++j) {
        int64_t n = x.shape()[b + j], v = ip[(bb * per_batch_idx + r) * k + j];
        if (v < 0) v += n;
        KUN_CHECK(v >= 0 && v < n, IndexError, "index ", v, " out of range for size ", n);
        int64_t stride = 1;
        for (int d = static_cast<int>(b + j) + 1; d < x.dim(); ++d) stride *= x.shape()[d];
        off += v * stride;
      }
      for (int64_t e = 0; e < slice; ++e) rows.push_back(off + e);
    }
  return {index_select(xf, 0, from_vector(rows)).reshape(Shape(out))};
}

template <typename T>
T times(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) return a && b;
  else return static_cast<T>(a * b);
}

Outs op_scatter_elements(OpContext& c) {
  Tensor x = c.input(0).contiguous().clone();
  Tensor idx = c.input(1).to(DType::i64).contiguous(), upd = c.input(2).to(x.dtype()).contiguous();
  const int64_t axis = norm_axis(c.attr_i("axis", 0), x.dim());
  const std::string red = c.attr_s("reduction", "none");
  if (red != "none" && red != "add" && red != "mul") unsupported(c, "reduction '" + red + "'");
  std::vector<int64_t> xs = contiguous_strides(x.shape()).vec(), is = contiguous_strides(idx.shape()).vec();
  const int64_t n = x.shape()[axis];
  KUN_DISPATCH_ALL(x.dtype(), "ScatterElements", [&] {
    scalar_t* xp = x.data<scalar_t>();
    const scalar_t* up = upd.data<scalar_t>();
    const int64_t* ip = idx.data<int64_t>();
    for (int64_t e = 0; e < idx.numel(); ++e) {
      int64_t rem = e, off = 0;
      for (int d = 0; d < idx.dim(); ++d) {
        int64_t coord = rem / is[d];
        rem %= is[d];
        if (d == axis) {
          coord = ip[e] < 0 ? ip[e] + n : ip[e];
          KUN_CHECK(coord >= 0 && coord < n, IndexError, "index ", ip[e], " out of range for size ", n);
        }
        off += coord * xs[d];
      }
      if (red == "add") xp[off] = static_cast<scalar_t>(xp[off] + up[e]);
      else if (red == "mul") xp[off] = times(xp[off], up[e]);
      else xp[off] = up[e];
    }
  });
  return {x};
}

Outs op_scatter_nd(OpContext& c) {
  Tensor x = c.input(0).contiguous().clone();
  Tensor idx = c.input(1).to(DType::i64).contiguous(), upd = c.input(2).to(x.dtype()).contiguous();
  const std::string red = c.attr_s("reduction", "none");
  if (red != "none" && red != "add" && red != "mul") unsupported(c, "reduction '" + red + "'");
  const int64_t k = idx.shape()[idx.dim() - 1];
  int64_t slice = 1;
  for (int d = static_cast<int>(k); d < x.dim(); ++d) slice *= x.shape()[d];
  std::vector<int64_t> xs = contiguous_strides(x.shape()).vec();
  const int64_t rows = idx.numel() / std::max<int64_t>(k, 1);
  KUN_DISPATCH_ALL(x.dtype(), "ScatterND", [&] {
    scalar_t* xp = x.data<scalar_t>();
    const scalar_t* up = upd.data<scalar_t>();
    const int64_t* ip = idx.data<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j) {
        int64_t v = ip[r * k + j], n = x.shape()[j];
        if (v < 0) v += n;
        KUN_CHECK(v >= 0 && v < n, IndexError, "index ", v, " out of range for size ", n);
        off += v * xs[j];
      }
      for (int64_t e = 0; e < slice; ++e) {
        scalar_t u = up[r * slice + e];
        if (red == "add") xp[off + e] = static_cast<scalar_t>(xp[off + e] + u);
        else if (red == "mul") xp[off + e] = times(xp[off + e], u);
        else xp[off + e] = u;
      }
    }
  });
  return {x};
}

std::vector<int64_t> axes_arg(OpContext& c, int opset_input) {
  if (c.opset >= opset_input) return c.has_input(1) ? ints_of(c.input(1)) : std::vector<int64_t>{};
  return c.attr_ints("axes");
}

Outs op_unsqueeze(OpContext& c) {
  Tensor x = c.input(0);
  std::vector<int64_t> axes = axes_arg(c, 13);
  const int64_t out_rank = x.dim() + static_cast<int64_t>(axes.size());
  for (auto& a : axes) a = norm_axis(a, out_rank);
  std::sort(axes.begin(), axes.end());
  for (int64_t a : axes) x = x.unsqueeze(a);
  return {x};
}

Outs op_squeeze(OpContext& c) {
  Tensor x = c.input(0);
  std::vector<int64_t> axes = axes_arg(c, 13);
  if (axes.empty()) return {x.squeeze()};
  for (auto& a : axes) {
    a = norm_axis(a, x.dim());
    KUN_CHECK(x.shape()[a] == 1, ShapeError, "cannot squeeze dim ", a, " of ", x.shape(), ": size is not 1");
  }
  std::sort(axes.rbegin(), axes.rend());
  for (int64_t a : axes) x = x.squeeze(a);
  return {x};
}

Outs op_constant(OpContext& c) {
  if (const Attr* a = c.attr("value")) return {a->t_val};
  if (const Attr* a = c.attr("value_float")) return {scalar_tensor(a->f_val, DType::f32)};
  if (const Attr* a = c.attr("value_int")) return {scalar_tensor(static_cast<double>(a->i_val), DType::i64)};
  if (const Attr* a = c.attr("value_floats")) {
    std::vector<float> v(a->floats_val.begin(), a->floats_val.end());
    return {from_vector(v)};
  }
  if (const Attr* a = c.attr("value_ints")) return {from_vector(a->ints_val)};
  unsupported(c, "a Constant without a tensor/float/int value (string or sparse)");
}

Outs op_shape(OpContext& c) {
  const Tensor& x = c.input(0);
  const int64_t r = x.dim();
  int64_t start = c.attr_i("start", 0), end = c.attr_i("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> s;
  for (int64_t d = start; d < end; ++d) s.push_back(x.shape()[d]);
  return {from_vector(s)};
}
Outs op_size(OpContext& c) { return {scalar_tensor(static_cast<double>(c.input(0).numel()), DType::i64)}; }

Tensor slice_axis(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step) {
  const int64_t n = x.shape()[axis];
  KUN_CHECK(step != 0, ValueError, "slice step must not be 0");
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, n);
    end = std::clamp<int64_t>(end, 0, n);
    if (step == 1) return x.narrow(axis, start, std::max<int64_t>(0, end - start));
  } else {
    start = std::clamp<int64_t>(start, 0, n - 1);
    end = std::clamp<int64_t>(end, -1, n - 1);
  }
  std::vector<int64_t> idx;
  for (int64_t k = start; step > 0 ? k < end : k > end; k += step) idx.push_back(k);
  return index_select(x, axis, from_vector(idx));
}

Outs op_slice(OpContext& c) {
  Tensor x = c.input(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset < 10) {
    starts = c.attr_ints("starts");
    ends = c.attr_ints("ends");
    axes = c.attr_ints("axes");
  } else {
    starts = ints_of(c.input(1));
    ends = ints_of(c.input(2));
    if (c.has_input(3)) axes = ints_of(c.input(3));
    if (c.has_input(4)) steps = ints_of(c.input(4));
  }
  KUN_CHECK(starts.size() == ends.size(), ShapeError, "starts and ends differ in length: ", starts.size(), " vs ", ends.size());
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  for (size_t k = 0; k < starts.size(); ++k) {
    int64_t a = norm_axis(axes[k], x.dim());
    x = slice_axis(x, a, starts[k], ends[k], steps[k]);
  }
  return {x};
}

Outs op_pad(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> pads;
  double value = 0;
  if (c.opset < 11) {
    pads = c.attr_ints("pads");
    value = c.attr_f("value", 0.0);
  } else {
    pads = ints_of(c.input(1));
    if (c.has_input(2) && c.input(2).numel() > 0) value = c.input(2).item_double();
  }
  const int r = x.dim();
  std::vector<int64_t> axes;
  if (c.has_input(3)) {
    for (int64_t a : ints_of(c.input(3))) axes.push_back(norm_axis(a, r));
  } else {
    for (int d = 0; d < r; ++d) axes.push_back(d);
  }
  KUN_CHECK(pads.size() == 2 * axes.size(), ShapeError, "pads must have ", 2 * axes.size(), " values, got ", pads.size());
  std::vector<int64_t> full_begin(r, 0), full_end(r, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    full_begin[axes[k]] = pads[k];
    full_end[axes[k]] = pads[axes.size() + k];
  }
  std::string mode = c.attr_s("mode", "constant");
  PadOptions o;
  o.value = value;
  if (mode == "constant") o.mode = PadMode::constant;
  else if (mode == "reflect") o.mode = PadMode::reflect;
  else if (mode == "edge") o.mode = PadMode::replicate;
  else unsupported(c, "mode '" + mode + "'");
  // kun::pad takes the last dims first; leading dims without padding are left out.
  int first = 0;
  while (first < r && full_begin[first] == 0 && full_end[first] == 0) ++first;
  std::vector<int64_t> kp;
  for (int d = r - 1; d >= first; --d) {
    kp.push_back(full_begin[d]);
    kp.push_back(full_end[d]);
  }
  if (kp.empty()) return {x};
  Tensor xf = is_floating(x.dtype()) || o.mode == PadMode::constant ? x : x.to(DType::f64);
  Tensor y = pad(xf, kp, o);
  return {y.to(x.dtype())};
}

Shape bidirectional(const Shape& a, const Shape& b) { return broadcast_shapes(a, b, "Expand"); }

Outs op_expand(OpContext& c) {
  const Tensor& x = c.input(0);
  Shape target = bidirectional(x.shape(), Shape(ints_of(c.input(1))));
  return {x.expand(target)};
}

Outs op_tile(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> rep = ints_of(c.input(1));
  KUN_CHECK(static_cast<int>(rep.size()) == x.dim(), ShapeError, "repeats must have ", x.dim(), " values, got ", rep.size());
  // (d0, d1, ...) -> (1, d0, 1, d1, ...) -> expand (r0, d0, r1, d1, ...) -> (r0*d0, r1*d1, ...)
  std::vector<int64_t> inter, expanded, out;
  for (int d = 0; d < x.dim(); ++d) {
    inter.push_back(1);
    inter.push_back(x.shape()[d]);
    expanded.push_back(rep[d]);
    expanded.push_back(x.shape()[d]);
    out.push_back(rep[d] * x.shape()[d]);
  }
  return {x.reshape(Shape(inter)).expand(Shape(expanded)).contiguous().reshape(Shape(out))};
}

Outs op_constant_of_shape(OpContext& c) {
  Shape s(ints_of(c.input(0)));
  if (const Attr* a = c.attr("value")) {
    Tensor v = a->t_val;
    return {full(s, v.item_double(), v.dtype())};
  }
  return {zeros(s, DType::f32)};
}

Outs op_range(OpContext& c) {
  const Tensor &s = c.input(0), &l = c.input(1), &d = c.input(2);
  double start = s.item_double(), limit = l.item_double(), delta = d.item_double();
  KUN_CHECK(delta != 0, ValueError, "delta must not be 0");
  int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
  Tensor r = Tensor::empty({n}, DType::f64);
  double* p = r.data<double>();
  for (int64_t k = 0; k < n; ++k) p[k] = start + static_cast<double>(k) * delta;
  if (s.dtype() == DType::f32) {  // accumulate in float like the reference
    Tensor f = Tensor::empty({n}, DType::f32);
    float acc = static_cast<float>(start);
    for (int64_t k = 0; k < n; ++k, acc += static_cast<float>(delta)) f.data<float>()[k] = acc;
    return {f};
  }
  return {r.to(s.dtype())};
}

Outs op_eye_like(OpContext& c) {
  const Tensor& x = c.input(0);
  KUN_CHECK(x.dim() == 2, ShapeError, "input must be 2-D, got ", x.shape());
  DType dt = c.has_attr("dtype") ? to_dtype(static_cast<int>(c.attr_i("dtype")), "EyeLike dtype") : x.dtype();
  const int64_t k = c.attr_i("k", 0);
  Tensor r = zeros(x.shape(), DType::f64);
  double* p = r.data<double>();
  for (int64_t i = 0; i < x.shape()[0]; ++i) {
    int64_t j = i + k;
    if (j >= 0 && j < x.shape()[1]) p[i * x.shape()[1] + j] = 1;
  }
  return {r.to(dt)};
}

Outs op_one_hot(OpContext& c) {
  const Tensor &idx = c.input(0), &values = c.input(2);
  const int64_t depth = static_cast<int64_t>(c.input(1).item_double());
  const int64_t axis = norm_axis(c.attr_i("axis", -1), idx.dim() + 1);
  std::vector<double> iv = idx.to_vector<double>();
  Tensor off_on = values.to(DType::f64);
  double off = off_on.to_vector<double>()[0], on = off_on.to_vector<double>()[1];
  // Build (..., depth) then move the depth dim to `axis`.
  std::vector<int64_t> s(idx.shape().begin(), idx.shape().end());
  s.push_back(depth);
  Tensor r = full(Shape(s), off, DType::f64);
  double* p = r.data<double>();
  for (size_t k = 0; k < iv.size(); ++k) {
    int64_t v = static_cast<int64_t>(iv[k]);
    if (v < 0) v += depth;
    if (v >= 0 && v < depth) p[k * depth + v] = on;
  }
  std::vector<int64_t> perm;
  const int64_t rank = idx.dim() + 1;
  for (int64_t d = 0, src = 0; d < rank; ++d) perm.push_back(d == axis ? rank - 1 : src++);
  return {r.permute(perm).contiguous().to(values.dtype())};
}

Outs op_topk(OpContext& c) {
  const Tensor& x = c.input(0);
  int64_t k = c.opset >= 10 ? ints_of(c.input(1))[0] : c.attr_i("k");
  TopKOptions o;
  o.dim = norm_axis(c.attr_i("axis", -1), x.dim());
  o.largest = c.attr_i("largest", 1) != 0;
  TopK r = topk(x, k, o);
  return {r.values, r.indices};
}

Outs op_cumsum(OpContext& c) {
  const Tensor& x = c.input(0);
  const int64_t axis = norm_axis(c.input(1).to_vector<int64_t>()[0], x.dim());
  const bool exclusive = c.attr_i("exclusive", 0) != 0, reverse = c.attr_i("reverse", 0) != 0;
  Tensor y = x.contiguous().clone();
  const int64_t n = x.shape()[axis];
  int64_t inner = 1, outer = 1;
  for (int d = static_cast<int>(axis) + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
  Tensor src = x.contiguous();
  KUN_DISPATCH_ALL(x.dtype(), "CumSum", [&] {
    const scalar_t* p = src.data<scalar_t>();
    scalar_t* q = y.data<scalar_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        scalar_t acc = 0;
        for (int64_t t = 0; t < n; ++t) {
          int64_t j = reverse ? n - 1 - t : t;
          int64_t off = (o * n + j) * inner + i;
          if (exclusive) {
            q[off] = acc;
            acc = static_cast<scalar_t>(acc + p[off]);
          } else {
            acc = static_cast<scalar_t>(acc + p[off]);
            q[off] = acc;
          }
        }
      }
  });
  return {y};
}

Outs op_nonzero(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<double> v = x.to_vector<double>();
  std::vector<int64_t> strides = contiguous_strides(x.shape()).vec();
  std::vector<int64_t> hits;
  for (size_t k = 0; k < v.size(); ++k)
    if (v[k] != 0) hits.push_back(static_cast<int64_t>(k));
  const int64_t r = std::max(x.dim(), 1), nnz = static_cast<int64_t>(hits.size());
  std::vector<int64_t> out(r * nnz);
  for (int64_t h = 0; h < nnz; ++h) {
    int64_t rem = hits[h];
    for (int d = 0; d < x.dim(); ++d) {
      out[d * nnz + h] = rem / strides[d];
      rem %= strides[d];
    }
    if (x.dim() == 0) out[h] = 0;
  }
  return {from_vector(out, Shape{x.dim(), nnz})};
}

Outs op_depth_to_space(OpContext& c) {
  const Tensor& x = c.input(0);
  const int64_t b = c.attr_i("blocksize");
  const int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const int64_t oc = C / (b * b);
  Tensor t;
  if (c.attr_s("mode", "DCR") == "DCR")
    t = x.reshape({N, b, b, oc, H, W}).permute({0, 3, 4, 1, 5, 2});
  else
    t = x.reshape({N, oc, b, b, H, W}).permute({0, 1, 4, 2, 5, 3});
  return {t.contiguous().reshape({N, oc, H * b, W * b})};
}

Outs op_space_to_depth(OpContext& c) {
  const Tensor& x = c.input(0);
  const int64_t b = c.attr_i("blocksize");
  const int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  Tensor t = x.reshape({N, C, H / b, b, W / b, b}).permute({0, 3, 5, 1, 2, 4});
  return {t.contiguous().reshape({N, C * b * b, H / b, W / b})};
}

Outs op_trilu(OpContext& c) {
  const Tensor& x = c.input(0);
  const bool upper = c.attr_i("upper", 1) != 0;
  const int64_t k = c.has_input(1) ? ints_of(c.input(1))[0] : 0;
  const int64_t R = x.shape()[x.dim() - 2], C = x.shape()[x.dim() - 1];
  Tensor rows = arange(R).view({R, 1}), cols = arange(C).view({1, C});
  Tensor diff = sub(cols, rows);  // j - i
  Tensor keep = upper ? ge(diff, static_cast<double>(k)) : le(diff, static_cast<double>(k));
  return {where(keep.expand(x.shape()), x, zeros({}, x.dtype()))};
}



// ---------------------------------------------------------------- Resize / Upsample

struct ResizeMode {
  std::string mode = "nearest", coord = "half_pixel", nearest = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
};

// Resizes one axis: every output index reads a few taps (index, weight) of the input along `axis`.
Tensor resize_axis(const Tensor& x, int64_t axis, int64_t out, double scale, const ResizeMode& m) {
  const int64_t in = x.shape()[axis];
  std::vector<std::vector<std::pair<int64_t, double>>> taps(out);
  for (int64_t o = 0; o < out; ++o) {
    double xo;
    const double xr = static_cast<double>(o);
    if (m.coord == "half_pixel") xo = (xr + 0.5) / scale - 0.5;
    else if (m.coord == "pytorch_half_pixel") xo = out > 1 ? (xr + 0.5) / scale - 0.5 : 0.0;
    // align_corners divides by the unrounded output length in * scale, as the reference does
    else if (m.coord == "align_corners") xo = out == 1 ? 0.0 : xr * static_cast<double>(in - 1) / (static_cast<double>(in) * scale - 1);
    else if (m.coord == "asymmetric") xo = xr / scale;
    else if (m.coord == "tf_half_pixel_for_nn") xo = (xr + 0.5) / scale;
    else throw UnsupportedError("coordinate_transformation_mode '" + m.coord + "' is not supported", "Resize");
    auto clampi = [in](int64_t v) { return std::clamp<int64_t>(v, 0, in - 1); };
    if (m.mode == "nearest") {
      double f = std::floor(xo), frac = xo - f;
      int64_t k;
      if (m.nearest == "floor") k = static_cast<int64_t>(f);
      else if (m.nearest == "ceil") k = static_cast<int64_t>(std::ceil(xo));
      else if (m.nearest == "round_prefer_ceil") k = static_cast<int64_t>(frac >= 0.5 ? f + 1 : f);
      else k = static_cast<int64_t>(frac > 0.5 ? f + 1 : f);  // round_prefer_floor
      taps[o].push_back({clampi(k), 1.0});
    } else if (m.mode == "linear") {
      double xc = std::clamp(xo, 0.0, static_cast<double>(in - 1));
      int64_t x0 = static_cast<int64_t>(std::floor(xc));
      double t = xc - static_cast<double>(x0);
      taps[o].push_back({clampi(x0), 1 - t});
      taps[o].push_back({clampi(x0 + 1), t});
    } else if (m.mode == "cubic") {
      const double a = m.cubic_a;
      int64_t x0 = static_cast<int64_t>(std::floor(xo));
      double t = xo - static_cast<double>(x0);
      double w[4] = {((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                     ((a + 2) * t - (a + 3)) * t * t + 1,
                     ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                     ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a};
      double total = 0;
      for (int j = 0; j < 4; ++j) {
        int64_t k = x0 - 1 + j;
        if (m.exclude_outside && (k < 0 || k >= in)) continue;
        taps[o].push_back({clampi(k), w[j]});
        total += w[j];
      }
      if (m.exclude_outside && total != 0)
        for (auto& tp : taps[o]) tp.second /= total;
    } else {
      throw UnsupportedError("mode '" + m.mode + "' is not supported", "Resize");
    }
  }
  size_t ntaps = 0;
  for (const auto& t : taps) ntaps = std::max(ntaps, t.size());
  Shape ws(std::vector<int64_t>(x.dim(), 1));
  ws[static_cast<int>(axis)] = out;
  Tensor xf = is_floating(x.dtype()) ? x : x.to(DType::f32);
  Tensor acc;
  for (size_t j = 0; j < ntaps; ++j) {
    std::vector<int64_t> idx(out);
    std::vector<double> w(out);
    for (int64_t o = 0; o < out; ++o) {
      if (j < taps[o].size()) {
        idx[o] = taps[o][j].first;
        w[o] = taps[o][j].second;
      } else {
        idx[o] = 0;
        w[o] = 0;
      }
    }
    Tensor g = index_select(xf, axis, from_vector(idx));
    if (m.mode == "nearest") return g.to(x.dtype());
    Tensor term = mul(g, from_vector(w, ws).to(xf.dtype()));
    acc = acc.defined() ? add(acc, term) : term;
  }
  return acc.to(x.dtype());
}

Tensor resize_all(const Tensor& x, const std::vector<int64_t>& sizes, const std::vector<double>& scales,
                  const ResizeMode& m) {
  Tensor y = x;
  for (int d = 0; d < x.dim(); ++d)
    if (sizes[d] != x.shape()[d] || scales[d] != 1.0) y = resize_axis(y, d, sizes[d], scales[d], m);
  return y;
}

Outs op_resize(OpContext& c) {
  const Tensor& x = c.input(0);
  ResizeMode m;
  m.mode = c.attr_s("mode", "nearest");
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (c.opset < 11) {  // Resize-10: (X, scales), asymmetric coordinates, nearest rounds down
    m.coord = "asymmetric";
    m.nearest = "floor";
    scales = c.input(1).to_vector<double>();
  } else {
    m.coord = c.attr_s("coordinate_transformation_mode", "half_pixel");
    m.nearest = c.attr_s("nearest_mode", "round_prefer_floor");
    m.cubic_a = c.attr_f("cubic_coeff_a", -0.75);
    m.exclude_outside = c.attr_i("exclude_outside", 0) != 0;
    if (c.has_input(3) && c.input(3).numel() > 0) sizes = ints_of(c.input(3));
    else if (c.has_input(2) && c.input(2).numel() > 0) scales = c.input(2).to_vector<double>();
  }
  if (m.coord == "tf_crop_and_resize") unsupported(c, "coordinate_transformation_mode 'tf_crop_and_resize'");
  if (c.has_attr("axes") || c.attr_i("keep_aspect_ratio_policy", 0)) unsupported(c, "axes / keep_aspect_ratio_policy");
  const int r = x.dim();
  if (!sizes.empty()) {
    KUN_CHECK(static_cast<int>(sizes.size()) == r, ShapeError, "sizes must have ", r, " values, got ", sizes.size());
    for (int d = 0; d < r; ++d) scales.push_back(static_cast<double>(sizes[d]) / static_cast<double>(x.shape()[d]));
  } else {
    KUN_CHECK(static_cast<int>(scales.size()) == r, ShapeError, "scales must have ", r, " values, got ", scales.size());
    for (int d = 0; d < r; ++d) sizes.push_back(static_cast<int64_t>(std::floor(static_cast<double>(x.shape()[d]) * scales[d])));
  }
  return {resize_all(x, sizes, scales, m)};
}

Outs op_upsample(OpContext& c) {
  const Tensor& x = c.input(0);
  ResizeMode m;
  m.mode = c.attr_s("mode", "nearest");
  m.coord = "asymmetric";
  m.nearest = "floor";
  std::vector<double> scales = c.opset >= 9 ? c.input(1).to_vector<double>() : c.attr_floats("scales");
  KUN_CHECK(static_cast<int>(scales.size()) == x.dim(), ShapeError, "scales must have ", x.dim(), " values");
  std::vector<int64_t> sizes;
  for (int d = 0; d < x.dim(); ++d) sizes.push_back(static_cast<int64_t>(std::floor(static_cast<double>(x.shape()[d]) * scales[d])));
  return {resize_all(x, sizes, scales, m)};
}

// ---------------------------------------------------------------- more indexing and math

Outs op_compress(OpContext& c) {
  Tensor x = c.input(0);
  std::vector<double> cond = c.input(1).to_vector<double>();
  int64_t axis = 0;
  if (c.has_attr("axis")) axis = norm_axis(c.attr_i("axis"), x.dim());
  else x = x.reshape({x.numel()});
  std::vector<int64_t> idx;
  for (size_t k = 0; k < cond.size() && static_cast<int64_t>(k) < x.shape()[axis]; ++k)
    if (cond[k] != 0) idx.push_back(static_cast<int64_t>(k));
  return {index_select(x, axis, from_vector(idx))};
}

Outs op_mean_variance_norm(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> axes = c.attr_ints("axes", {0, 2, 3});
  for (auto& a : axes) a = norm_axis(a, x.dim());
  Tensor m = mean(x, axes, true);
  Tensor v = var(x, axes, {.correction = 0, .keepdim = true});
  return {div(sub(x, m), add(sqrt(v), 1e-9))};
}

Outs op_reverse_sequence(OpContext& c) {
  const Tensor& x = c.input(0);
  std::vector<int64_t> lens = ints_of(c.input(1));
  const int64_t batch_axis = c.attr_i("batch_axis", 1), time_axis = c.attr_i("time_axis", 0);
  Tensor y = x.contiguous().clone();
  for (int64_t b = 0; b < static_cast<int64_t>(lens.size()); ++b) {
    int64_t L = std::clamp<int64_t>(lens[b], 0, x.shape()[time_axis]);
    if (L <= 1) continue;
    Tensor src = x.select(batch_axis, b);
    int64_t t_axis = time_axis > batch_axis ? time_axis - 1 : time_axis;
    y.select(batch_axis, b).narrow(t_axis, 0, L).copy_(flip(src.narrow(t_axis, 0, L), t_axis));
  }
  return {y};
}

Outs op_det(OpContext& c) {
  const Tensor& x = c.input(0);
  KUN_CHECK(x.dim() >= 2 && x.shape()[x.dim() - 1] == x.shape()[x.dim() - 2], ShapeError,
            "input must be (..., M, M), got ", x.shape());
  const int64_t M = x.shape()[x.dim() - 1], batch = x.numel() / std::max<int64_t>(M * M, 1);
  std::vector<double> a = x.to_vector<double>(), out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    double* m = a.data() + b * M * M;
    double det = 1;
    for (int64_t col = 0; col < M; ++col) {  // Gaussian elimination with partial pivoting
      int64_t piv = col;
      for (int64_t r = col + 1; r < M; ++r)
        if (std::fabs(m[r * M + col]) > std::fabs(m[piv * M + col])) piv = r;
      if (m[piv * M + col] == 0) { det = 0; break; }
      if (piv != col) {
        for (int64_t k = 0; k < M; ++k) std::swap(m[piv * M + k], m[col * M + k]);
        det = -det;
      }
      det *= m[col * M + col];
      for (int64_t r = col + 1; r < M; ++r) {
        double f = m[r * M + col] / m[col * M + col];
        for (int64_t k = col; k < M; ++k) m[r * M + k] -= f * m[col * M + k];
      }
    }
    out[b] = det;
  }
  std::vector<int64_t> s(x.shape().begin(), x.shape().end() - 2);
  return {from_vector(out, Shape(s)).to(x.dtype())};
}

// ---------------------------------------------------------------- sequences

Outs seq_result(OpContext& c, std::vector<Tensor> s) {
  c.seq_out[0] = std::move(s);
  return {};
}
int64_t seq_pos(const OpContext& c, size_t k, int64_t n, bool insert) {
  if (!c.has_input(k)) return insert ? n : n - 1;
  int64_t p = ints_of(c.input(k))[0];
  if (p < 0) p += n;
  KUN_CHECK(p >= 0 && (insert ? p <= n : p < n), IndexError, "position ", p, " is out of range for a sequence of ", n);
  return p;
}
Outs op_sequence_empty(OpContext& c) { return seq_result(c, {}); }
Outs op_sequence_construct(OpContext& c) { return seq_result(c, c.in); }
Outs op_sequence_insert(OpContext& c) {
  std::vector<Tensor> s = c.sequence(0);
  s.insert(s.begin() + seq_pos(c, 2, static_cast<int64_t>(s.size()), true), c.input(1));
  return seq_result(c, std::move(s));
}
Outs op_sequence_erase(OpContext& c) {
  std::vector<Tensor> s = c.sequence(0);
  s.erase(s.begin() + seq_pos(c, 1, static_cast<int64_t>(s.size()), false));
  return seq_result(c, std::move(s));
}
Outs op_sequence_at(OpContext& c) {
  const auto& s = c.sequence(0);
  return {s[seq_pos(c, 1, static_cast<int64_t>(s.size()), false)]};
}
Outs op_sequence_length(OpContext& c) {
  return {scalar_tensor(static_cast<double>(c.sequence(0).size()), DType::i64)};
}
Outs op_concat_from_sequence(OpContext& c) {
  const auto& s = c.sequence(0);
  KUN_CHECK(!s.empty(), ValueError, "the sequence is empty");
  const bool new_axis = c.attr_i("new_axis", 0) != 0;
  int64_t axis = norm_axis(c.attr_i("axis"), s[0].dim() + (new_axis ? 1 : 0));
  return {new_axis ? stack(s, axis) : concat(s, axis)};
}
Outs op_split_to_sequence(OpContext& c) {
  const Tensor& x = c.input(0);
  const int64_t axis = norm_axis(c.attr_i("axis", 0), x.dim());
  const bool keep = c.attr_i("keepdims", 1) != 0;
  const int64_t len = x.shape()[axis];
  std::vector<int64_t> sizes;
  if (c.has_input(1)) {
    Tensor sp = c.input(1);
    if (sp.dim() == 0) {
      int64_t each = sp.item<int64_t>();
      for (int64_t at = 0; at < len; at += each) sizes.push_back(std::min(each, len - at));
    } else {
      sizes = ints_of(sp);
    }
  }
  std::vector<Tensor> out;
  if (sizes.empty()) {
    for (int64_t k = 0; k < len; ++k) out.push_back(keep ? x.narrow(axis, k, 1) : x.select(axis, k));
  } else {
    int64_t at = 0;
    for (int64_t s : sizes) {
      KUN_CHECK(s >= 0 && at + s <= len, ShapeError, "split sizes exceed dim ", axis, " of ", x.shape());
      out.push_back(x.narrow(axis, at, s));
      at += s;
    }
  }
  return seq_result(c, std::move(out));
}

// ---------------------------------------------------------------- recurrent layers

Tensor activation(const std::string& name, const Tensor& x) {
  if (name == "Sigmoid") return sigmoid(x);
  if (name == "Tanh") return tanh(x);
  if (name == "Relu") return relu(x);
  throw UnsupportedError("activation '" + name + "' is not supported", "RNN activation " + name);
}

struct RnnSetup {
  int64_t T, B, I, H, dirs;
  bool reverse_only, batch_first;
  Tensor X;  // (T, B, I)
  std::vector<std::string> acts;
};

RnnSetup rnn_setup(OpContext& c, int gates, std::vector<std::string> default_acts) {
  RnnSetup s;
  s.batch_first = c.attr_i("layout", 0) != 0;
  s.X = s.batch_first ? c.input(0).transpose(0, 1) : c.input(0);
  KUN_CHECK(s.X.dim() == 3, ShapeError, "X must be 3-D, got ", c.input(0).shape());
  s.T = s.X.shape()[0];
  s.B = s.X.shape()[1];
  s.I = s.X.shape()[2];
  s.H = c.attr_i("hidden_size", c.input(2).shape()[2]);
  std::string dir = c.attr_s("direction", "forward");
  s.dirs = dir == "bidirectional" ? 2 : 1;
  s.reverse_only = dir == "reverse";
  if (c.has_attr("clip")) unsupported(c, "clip");
  if (c.has_input(4)) {
    for (int64_t L : ints_of(c.input(4)))
      if (L != s.T) unsupported(c, "sequence_lens shorter than the sequence");
  }
  KUN_CHECK(c.input(1).shape() == Shape({s.dirs, gates * s.H, s.I}), ShapeError, "W must be (", s.dirs, ", ",
            gates * s.H, ", ", s.I, "), got ", c.input(1).shape());
  if (const Attr* a = c.attr("activations")) s.acts = a->strings_val;
  if (s.acts.empty())
    for (int64_t d = 0; d < s.dirs; ++d) s.acts.insert(s.acts.end(), default_acts.begin(), default_acts.end());
  return s;
}

// Outputs Y (T, dirs, B, H), Y_h (dirs, B, H) [, Y_c], with the layout transform applied.
Outs rnn_outputs(const RnnSetup& s, std::vector<std::vector<Tensor>>& ys, std::vector<Tensor>& hs,
                 std::vector<Tensor>* cs) {
  std::vector<Tensor> per_dir;
  for (auto& y : ys) per_dir.push_back(stack(y, 0));  // (T, B, H)
  Tensor Y = stack(per_dir, 1);                       // (T, dirs, B, H)
  Tensor Yh = stack(hs, 0);
  Outs r;
  if (s.batch_first) {
    r.push_back(Y.permute({2, 0, 1, 3}));  // (B, T, dirs, H)
    r.push_back(Yh.transpose(0, 1));       // (B, dirs, H)
  } else {
    r.push_back(Y);
    r.push_back(Yh);
  }
  if (cs) {
    Tensor Yc = stack(*cs, 0);
    r.push_back(s.batch_first ? Yc.transpose(0, 1) : Yc);
  }
  return r;
}

Tensor initial_state(OpContext& c, size_t k, const RnnSetup& s, int64_t d) {
  if (!c.has_input(k)) return zeros({s.B, s.H}, s.X.dtype());
  Tensor h = c.input(k);
  if (s.batch_first) h = h.transpose(0, 1);
  return h.select(0, d).contiguous();
}

Outs op_lstm(OpContext& c) {
  RnnSetup s = rnn_setup(c, 4, {"Sigmoid", "Tanh", "Tanh"});
  if (c.attr_i("input_forget", 0)) unsupported(c, "input_forget=1");
  const Tensor &W = c.input(1), &R = c.input(2);
  const int64_t H = s.H;
  std::vector<std::vector<Tensor>> ys(s.dirs);
  std::vector<Tensor> hs, cs;
  for (int64_t d = 0; d < s.dirs; ++d) {
    Tensor Wd = W.select(0, d), Rt = R.select(0, d).t().contiguous();  // Rt: (H, 4H)
    // Input projection for all steps at once: (T*B, I) x (I, 4H) [+ Wb + Rb]
    Tensor xw = matmul(s.X.reshape({s.T * s.B, s.I}), Wd.t());
    if (c.has_input(3)) {
      Tensor b = c.input(3).select(0, d);
      xw = add(xw, add(b.narrow(0, 0, 4 * H), b.narrow(0, 4 * H, 4 * H)));
    }
    xw = xw.reshape({s.T, s.B, 4 * H});
    Tensor h = initial_state(c, 5, s, d), cell = initial_state(c, 6, s, d);
    Tensor P = c.has_input(7) ? c.input(7).select(0, d) : Tensor();
    const std::string &fa = s.acts[3 * d], &ga = s.acts[3 * d + 1], &ha = s.acts[3 * d + 2];
    const bool rev = s.reverse_only || d == 1;
    std::vector<Tensor> out(s.T);
    for (int64_t step = 0; step < s.T; ++step) {
      int64_t t = rev ? s.T - 1 - step : step;
      Tensor g = add(xw.select(0, t), matmul(h, Rt));  // (B, 4H): i, o, f, c
      Tensor gi = g.narrow(1, 0, H), go = g.narrow(1, H, H), gf = g.narrow(1, 2 * H, H), gc = g.narrow(1, 3 * H, H);
      if (P.defined()) {
        gi = add(gi, mul(cell, P.narrow(0, 0, H)));
        gf = add(gf, mul(cell, P.narrow(0, 2 * H, H)));
      }
      Tensor i = activation(fa, gi), f = activation(fa, gf), cc = activation(ga, gc);
      cell = add(mul(f, cell), mul(i, cc));
      if (P.defined()) go = add(go, mul(cell, P.narrow(0, H, H)));
      Tensor o = activation(fa, go);
      h = mul(o, activation(ha, cell));
      out[t] = h;
    }
    ys[d] = out;
    hs.push_back(h);
    cs.push_back(cell);
  }
  return rnn_outputs(s, ys, hs, &cs);
}

Outs op_gru(OpContext& c) {
  RnnSetup s = rnn_setup(c, 3, {"Sigmoid", "Tanh"});
  const bool lbr = c.attr_i("linear_before_reset", 0) != 0;
  const Tensor &W = c.input(1), &R = c.input(2);
  const int64_t H = s.H;
  std::vector<std::vector<Tensor>> ys(s.dirs);
  std::vector<Tensor> hs;
  for (int64_t d = 0; d < s.dirs; ++d) {
    Tensor Wd = W.select(0, d), Rd = R.select(0, d);
    Tensor Rzr = Rd.narrow(0, 0, 2 * H).t().contiguous(), Rh = Rd.narrow(0, 2 * H, H).t().contiguous();
    Tensor xw = matmul(s.X.reshape({s.T * s.B, s.I}), Wd.t());  // (T*B, 3H): z, r, h
    Tensor Rb;
    if (c.has_input(3)) {
      Tensor b = c.input(3).select(0, d);
      xw = add(xw, b.narrow(0, 0, 3 * H));
      Rb = b.narrow(0, 3 * H, 3 * H);
    } else {
      Rb = zeros({3 * H}, s.X.dtype());
    }
    xw = xw.reshape({s.T, s.B, 3 * H});
    Tensor h = initial_state(c, 5, s, d);
    const std::string &fa = s.acts[2 * d], &ga = s.acts[2 * d + 1];
    const bool rev = s.reverse_only || d == 1;
    std::vector<Tensor> out(s.T);
    for (int64_t step = 0; step < s.T; ++step) {
      int64_t t = rev ? s.T - 1 - step : step;
      Tensor x = xw.select(0, t);
      Tensor zr = add(add(x.narrow(1, 0, 2 * H), matmul(h, Rzr)), Rb.narrow(0, 0, 2 * H));
      Tensor z = activation(fa, zr.narrow(1, 0, H)), r = activation(fa, zr.narrow(1, H, H));
      Tensor rbh = Rb.narrow(0, 2 * H, H);
      Tensor hh = lbr ? activation(ga, add(x.narrow(1, 2 * H, H), mul(r, add(matmul(h, Rh), rbh))))
                      : activation(ga, add(x.narrow(1, 2 * H, H), add(matmul(mul(r, h), Rh), rbh)));
      // h = (1 - z) * hh + z * h = hh + z * (h - hh)
      h = add(hh, mul(z, sub(h, hh)));
      out[t] = h;
    }
    ys[d] = out;
    hs.push_back(h);
  }
  return rnn_outputs(s, ys, hs, nullptr);
}

Outs op_rnn(OpContext& c) {
  RnnSetup s = rnn_setup(c, 1, {"Tanh"});
  const Tensor &W = c.input(1), &R = c.input(2);
  const int64_t H = s.H;
  std::vector<std::vector<Tensor>> ys(s.dirs);
  std::vector<Tensor> hs;
  for (int64_t d = 0; d < s.dirs; ++d) {
    Tensor Rt = R.select(0, d).t().contiguous();
    Tensor xw = matmul(s.X.reshape({s.T * s.B, s.I}), W.select(0, d).t());
    if (c.has_input(3)) {
      Tensor b = c.input(3).select(0, d);
      xw = add(xw, add(b.narrow(0, 0, H), b.narrow(0, H, H)));
    }
    xw = xw.reshape({s.T, s.B, H});
    Tensor h = initial_state(c, 5, s, d);
    const bool rev = s.reverse_only || d == 1;
    std::vector<Tensor> out(s.T);
    for (int64_t step = 0; step < s.T; ++step) {
      int64_t t = rev ? s.T - 1 - step : step;
      h = activation(s.acts[d], add(xw.select(0, t), matmul(h, Rt)));
      out[t] = h;
    }
    ys[d] = out;
    hs.push_back(h);
  }
  return rnn_outputs(s, ys, hs, nullptr);
}

}  // namespace

const std::map<std::string, OpFn>& op_registry() {
  static const std::map<std::string, OpFn> reg = {
      {"Abs", op_abs}, {"Acos", op_acos}, {"Acosh", op_acosh}, {"Add", op_add}, {"And", op_and},
      {"ArgMax", op_argmax}, {"ArgMin", op_argmin}, {"Asin", op_asin}, {"Asinh", op_asinh}, {"Atan", op_atan},
      {"Atanh", op_atanh}, {"AveragePool", op_average_pool}, {"BatchNormalization", op_batch_norm},
      {"Cast", op_cast}, {"CastLike", op_cast_like}, {"Ceil", op_ceil}, {"Celu", op_celu}, {"Clip", op_clip},
      {"Compress", op_compress}, {"Concat", op_concat}, {"Det", op_det},
      {"MeanVarianceNormalization", op_mean_variance_norm}, {"ReverseSequence", op_reverse_sequence},
      {"Scatter", op_scatter_elements}, {"ConcatFromSequence", op_concat_from_sequence},
      {"SequenceAt", op_sequence_at}, {"SequenceConstruct", op_sequence_construct},
      {"SequenceEmpty", op_sequence_empty}, {"SequenceErase", op_sequence_erase},
      {"SequenceInsert", op_sequence_insert}, {"SequenceLength", op_sequence_length},
      {"SplitToSequence", op_split_to_sequence}, {"Constant", op_constant}, {"ConstantOfShape", op_constant_of_shape}, {"Conv", op_conv},
      {"ConvTranspose", op_conv_transpose}, {"Cos", op_cos}, {"Cosh", op_cosh}, {"CumSum", op_cumsum},
      {"DepthToSpace", op_depth_to_space}, {"Div", op_div}, {"Dropout", op_dropout}, {"Elu", op_elu},
      {"Equal", op_equal}, {"Erf", op_erf}, {"Exp", op_exp}, {"Expand", op_expand}, {"EyeLike", op_eye_like},
      {"Flatten", op_flatten}, {"Floor", op_floor}, {"GRU", op_gru}, {"Gather", op_gather},
      {"GatherElements", op_gather_elements}, {"GatherND", op_gather_nd}, {"Gemm", op_gemm},
      {"GlobalAveragePool", op_global_average_pool}, {"GlobalMaxPool", op_global_max_pool},
      {"Greater", op_greater}, {"GreaterOrEqual", op_greater_equal}, {"HardSigmoid", op_hard_sigmoid},
      {"HardSwish", op_hardswish}, {"Hardmax", op_hardmax}, {"Identity", op_identity},
      {"InstanceNormalization", op_instance_norm}, {"IsInf", op_isinf}, {"IsNaN", op_isnan}, {"LRN", op_lrn},
      {"LSTM", op_lstm}, {"LayerNormalization", op_layer_norm}, {"LeakyRelu", op_leaky_relu}, {"Less", op_less},
      {"LessOrEqual", op_less_equal}, {"Log", op_log}, {"LogSoftmax", op_log_softmax},
      {"LpNormalization", op_lp_norm}, {"MatMul", op_matmul}, {"Max", op_max}, {"MaxPool", op_max_pool},
      {"Mean", op_mean}, {"NegativeLogLikelihoodLoss", op_nll_loss},
      {"SoftmaxCrossEntropyLoss", op_softmax_cross_entropy}, {"Min", op_min}, {"Mish", op_mish}, {"Mod", op_mod}, {"Mul", op_mul}, {"Neg", op_neg},
      {"NonZero", op_nonzero}, {"Not", op_not}, {"OneHot", op_one_hot}, {"Or", op_or}, {"PRelu", op_prelu},
      {"Pad", op_pad}, {"Pow", op_pow}, {"RNN", op_rnn}, {"Range", op_range}, {"Reciprocal", op_reciprocal},
      {"ReduceL1", op_reduce_l1}, {"ReduceL2", op_reduce_l2}, {"ReduceLogSum", op_reduce_log_sum},
      {"ReduceLogSumExp", op_reduce_log_sum_exp}, {"ReduceMax", op_reduce_max}, {"ReduceMean", op_reduce_mean},
      {"ReduceMin", op_reduce_min}, {"ReduceProd", op_reduce_prod}, {"ReduceSum", op_reduce_sum},
      {"ReduceSumSquare", op_reduce_sum_square}, {"Relu", op_relu}, {"Reshape", op_reshape}, {"Resize", op_resize}, {"Upsample", op_upsample}, {"Round", op_round},
      {"ScatterElements", op_scatter_elements}, {"ScatterND", op_scatter_nd}, {"Selu", op_selu}, {"Shape", op_shape},
      {"Shrink", op_shrink}, {"Sigmoid", op_sigmoid}, {"Sign", op_sign}, {"Sin", op_sin}, {"Sinh", op_sinh},
      {"Size", op_size}, {"Slice", op_slice}, {"Softmax", op_softmax}, {"Softplus", op_softplus},
      {"Softsign", op_softsign}, {"SpaceToDepth", op_space_to_depth}, {"Split", op_split}, {"Sqrt", op_sqrt},
      {"Squeeze", op_squeeze}, {"Sub", op_sub}, {"Sum", op_sum}, {"Tan", op_tan}, {"Tanh", op_tanh},
      {"ThresholdedRelu", op_thresholded_relu}, {"Tile", op_tile}, {"TopK", op_topk}, {"Transpose", op_transpose},
      {"Trilu", op_trilu}, {"Unsqueeze", op_unsqueeze}, {"Where", op_where}, {"Xor", op_xor},
  };
  return reg;
}

}  // namespace kun::onnx::detail
