// Unary elementwise ops and activations, forward and fused backward kernels.
//
// Each op is a small functor: a templated scalar body (float64 reference path, also the float32
// path without AVX2) and, with AVX2, an 8-lane body from vec_math.h used for all float32 data.
// Ops without a vector body are simple enough for GCC to vectorize the scalar one.
#include <cmath>
#include <concepts>
#include <limits>
#include <type_traits>

#include "kun/tensor/ops_elementwise.h"
#include "loops.h"
#include "vec_math.h"

namespace kun {

namespace {

#if KUN_VEC_AVX2
using V = cpu::vec::V;
namespace vx = cpu::vec;
#endif

template <typename F>
constexpr bool kHasVec =
#if KUN_VEC_AVX2
    std::is_invocable_v<const F&, V>;
#else
    false;
#endif
template <typename F>
constexpr bool kHasVec2 =
#if KUN_VEC_AVX2
    std::is_invocable_v<const F&, V, V>;
#else
    false;
#endif

// Scalar element types; constraining generic lambdas with it keeps "has a vector body" detectable.
template <typename T>
concept Scalar = std::is_arithmetic_v<T>;

void check_defined(const Tensor& x, const char* op) {
  KUN_CHECK(x.defined(), ValueError, op, ": the input tensor is undefined");
}

// Input of an op that computes in floating point: integer and bool tensors become float32.
Tensor float_input(const Tensor& x, const char* op) {
  check_defined(x, op);
  return is_floating(x.dtype()) ? x : x.to(DType::f32);
}

// out = f(x) in x's float dtype (integers promoted to float32).
template <typename F>
Tensor float_unary(const Tensor& x_in, const char* op, const F& f) {
  Tensor x = float_input(x_in, op);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if (x.dtype() == DType::f32) {
    if constexpr (kHasVec<F>) cpu::map_f32(out, x, f);
    else cpu::unary_loop<float, float>(out, x, [&](float v) { return f(v); });
  } else {
    cpu::unary_loop<double, double>(out, x, [&](double v) { return f(v); });
  }
  return out;
}

// out = f(x) keeping x's dtype (every numeric dtype; bool is rejected).
template <typename F>
Tensor same_dtype_unary(const Tensor& x, const char* op, const F& f) {
  check_defined(x, op);
  KUN_CHECK(x.dtype() != DType::bool_, TypeError, op, ": not supported for bool tensors; convert with .to(DType::f32)");
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if constexpr (kHasVec<F>) {
    if (x.dtype() == DType::f32) {
      cpu::map_f32(out, x, f);
      return out;
    }
  }
  KUN_DISPATCH_ALL(x.dtype(), op, [&] {
    if constexpr (!std::is_same_v<scalar_t, bool>)
      cpu::unary_loop<scalar_t, scalar_t>(out, x, [&](scalar_t v) { return static_cast<scalar_t>(f(v)); });
  });
  return out;
}

// Checks the operands of a gradient kernel: defined, one float dtype, one shape.
void check_grad_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor& g = **ts.begin();
  check_defined(g, op);
  KUN_CHECK(is_floating(g.dtype()), TypeError, op, ": expected a float32 or float64 gradient, got ", g.dtype());
  for (const Tensor* t : ts) {
    check_defined(*t, op);
    KUN_CHECK(t->dtype() == g.dtype(), TypeError, op, ": operand dtypes differ: ", g.dtype(), " and ", t->dtype());
    KUN_CHECK(t->shape() == g.shape(), ShapeError, op, ": operand shapes differ: ", g.shape(), " and ", t->shape());
  }
}

// out = f(g, s) for a gradient kernel (g, s of one float dtype and shape).
template <typename F>
Tensor grad_binary(const Tensor& g, const Tensor& s, const char* op, const F& f) {
  check_grad_operands(op, {&g, &s});
  Tensor out = Tensor::empty(g.shape(), g.dtype());
  if (g.dtype() == DType::f32) {
    if constexpr (kHasVec2<F>) cpu::map2_f32(out, g, s, f);
    else cpu::binary_loop<float, float, float>(out, g, s, [&](float a, float b) { return f(a, b); });
  } else {
    cpu::binary_loop<double, double, double>(out, g, s, [&](double a, double b) { return f(a, b); });
  }
  return out;
}

// ---- functors: scalar body templated on T, vector body under KUN_SIMD ----
// (The scalar body is constrained to floating types so that "has a vector body" is detectable.)

struct Exp {
  template <std::floating_point T> T operator()(T x) const { return std::exp(x); }
  KUN_SIMD(V operator()(V x) const { return vx::exp(x); })
};
struct Log {
  template <std::floating_point T> T operator()(T x) const { return std::log(x); }
  KUN_SIMD(V operator()(V x) const { return vx::log(x); })
};
struct Log1p {
  template <std::floating_point T> T operator()(T x) const { return std::log1p(x); }
  KUN_SIMD(V operator()(V x) const { return vx::log1p(x); })
};
struct Sqrt {
  template <std::floating_point T> T operator()(T x) const { return std::sqrt(x); }
  KUN_SIMD(V operator()(V x) const { return _mm256_sqrt_ps(x); })
};
struct Rsqrt {
  template <std::floating_point T> T operator()(T x) const { return T(1) / std::sqrt(x); }
  KUN_SIMD(V operator()(V x) const { return _mm256_div_ps(vx::set(1.0f), _mm256_sqrt_ps(x)); })
};
struct Reciprocal {
  template <std::floating_point T> T operator()(T x) const { return T(1) / x; }
};
struct Tanh {
  template <std::floating_point T> T operator()(T x) const { return std::tanh(x); }
  KUN_SIMD(V operator()(V x) const { return vx::tanh(x); })
};
struct Erf {
  template <std::floating_point T> T operator()(T x) const { return std::erf(x); }
  KUN_SIMD(V operator()(V x) const { return vx::erf(x); })
};
struct Sigmoid {
  template <std::floating_point T> T operator()(T x) const {
    T e = std::exp(-std::abs(x));
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
  }
  KUN_SIMD(V operator()(V x) const { return vx::sigmoid(x); })
};
struct Silu {
  template <std::floating_point T> T operator()(T x) const { return x * Sigmoid{}(x); }
  KUN_SIMD(V operator()(V x) const { return vx::silu(x); })
};
struct Elu {
  double alpha;
  template <std::floating_point T> T operator()(T x) const { return x > T(0) ? x : T(alpha) * std::expm1(x); }
  KUN_SIMD(V operator()(V x) const {
    V neg = _mm256_mul_ps(vx::set(static_cast<float>(alpha)), vx::expm1(x));
    return vx::blend(neg, x, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
  })
};
struct LeakyRelu {
  double slope;
  template <std::floating_point T> T operator()(T x) const { return x < T(0) ? x * T(slope) : x; }
};
// x/2 (1 + erf(x/sqrt 2)) written with erfc so negative x loses nothing to cancellation.
struct GeluErf {
  template <std::floating_point T> T operator()(T x) const { return T(0.5) * x * std::erfc(-x * T(0.70710678118654752)); }
  KUN_SIMD(V operator()(V x) const { return vx::gelu(x); })
};
// x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the tanh form without its cancellation.
struct GeluTanh {
  template <std::floating_point T> T operator()(T x) const {
    T u = T(0.79788456080286536) * (x + T(0.044715) * x * x * x);
    return x * Sigmoid{}(2 * u);
  }
  KUN_SIMD(V operator()(V x) const { return vx::gelu_tanh(x); })
};
struct Softplus {
  double beta, threshold;
  template <std::floating_point T> T operator()(T x) const {
    T y = T(beta) * x;
    if (y > T(threshold)) return x;
    return (std::max(y, T(0)) + std::log1p(std::exp(-std::abs(y)))) / T(beta);
  }
  KUN_SIMD(V operator()(V x) const {
    V y = _mm256_mul_ps(vx::set(static_cast<float>(beta)), x);
    V r = vx::softplus_core(y);
    if (beta != 1.0) r = _mm256_mul_ps(r, vx::set(static_cast<float>(1.0 / beta)));
    return vx::blend(r, x, _mm256_cmp_ps(y, vx::set(static_cast<float>(threshold)), _CMP_GT_OQ));
  })
};
struct PowScalar {
  double e;
  template <std::floating_point T> T operator()(T x) const { return std::pow(x, T(e)); }
};

// ---- gradient functors f(g, saved) ----

struct ReluGrad {
  template <std::floating_point T> T operator()(T g, T x) const { return x > T(0) ? g : T(0); }
  KUN_SIMD(V operator()(V g, V x) const { return _mm256_and_ps(g, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ)); })
};
struct LeakyReluGrad {
  double slope;
  template <std::floating_point T> T operator()(T g, T x) const { return x > T(0) ? g : g * T(slope); }
};
struct SigmoidGrad {
  template <std::floating_point T> T operator()(T g, T y) const { return g * y * (T(1) - y); }
};
struct TanhGrad {
  template <std::floating_point T> T operator()(T g, T y) const { return g * (T(1) - y * y); }
};
struct SqrtGrad {
  template <std::floating_point T> T operator()(T g, T y) const { return g / (y + y); }
};
struct RsqrtGrad {
  template <std::floating_point T> T operator()(T g, T y) const { return T(-0.5) * g * y * y * y; }
};
struct ReciprocalGrad {
  template <std::floating_point T> T operator()(T g, T y) const { return -g * y * y; }
};
struct Log1pGrad {
  template <std::floating_point T> T operator()(T g, T x) const { return g / (T(1) + x); }
};
struct AbsGrad {
  template <std::floating_point T> T operator()(T g, T x) const { return x > T(0) ? g : (x < T(0) ? -g : T(0)); }
};
struct ErfGrad {  // 2/sqrt(pi) e^(-x^2)
  template <std::floating_point T> T operator()(T g, T x) const { return g * T(1.1283791670955126) * std::exp(-x * x); }
  KUN_SIMD(V operator()(V g, V x) const {
    return _mm256_mul_ps(g, _mm256_mul_ps(vx::set(1.1283791670955126f), vx::exp_neg_sq(vx::abs(x))));
  })
};
struct GeluErfGrad {  // Phi(x) + x phi(x)
  template <std::floating_point T> T operator()(T g, T x) const {
    T cdf = T(0.5) * std::erfc(-x * T(0.70710678118654752));
    T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143268);
    return g * (cdf + x * pdf);
  }
  KUN_SIMD(V operator()(V g, V x) const { return _mm256_mul_ps(g, vx::gelu_grad(x)); })
};
struct GeluTanhGrad {
  template <std::floating_point T> T operator()(T g, T x) const {
    T u = T(0.79788456080286536) * (x + T(0.044715) * x * x * x);
    T e = std::exp(-2 * u);
    T s = T(1) / (T(1) + e);
    T om = e * s;  // 1 - s
    if (!(om <= T(1))) om = T(1);  // e = inf, s = 0
    T ss = s * om;
    T du = T(0.79788456080286536) * (T(1) + T(3 * 0.044715) * x * x);
    T term = ss != T(0) ? 2 * x * ss * du : T(0);
    return g * (s + term);
  }
  KUN_SIMD(V operator()(V g, V x) const { return _mm256_mul_ps(g, vx::gelu_tanh_grad(x)); })
};
struct SiluGrad {
  template <std::floating_point T> T operator()(T g, T x) const {
    T e = std::exp(-x);
    T s = T(1) / (T(1) + e);
    T om = e * s;  // 1 - s
    if (!(om <= T(1))) om = T(1);  // e = inf, s = 0
    return g * s * (T(1) + x * om);
  }
  KUN_SIMD(V operator()(V g, V x) const { return _mm256_mul_ps(g, vx::silu_grad(x)); })
};
struct SoftplusGrad {
  double beta, threshold;
  template <std::floating_point T> T operator()(T g, T x) const {
    T y = T(beta) * x;
    return y > T(threshold) ? g : g / (T(1) + std::exp(-y));
  }
  KUN_SIMD(V operator()(V g, V x) const {
    V y = _mm256_mul_ps(vx::set(static_cast<float>(beta)), x);
    V r = _mm256_mul_ps(g, vx::sigmoid(y));
    return vx::blend(r, g, _mm256_cmp_ps(y, vx::set(static_cast<float>(threshold)), _CMP_GT_OQ));
  })
};
struct PowScalarGrad {
  double e;
  template <std::floating_point T> T operator()(T g, T x) const { return g * T(e) * std::pow(x, T(e - 1)); }
};

bool is_integral_value(double v) { return std::isfinite(v) && v == std::floor(v); }

}  // namespace

// ---------------------------------------------------------------- forward

Tensor neg(const Tensor& a) {
  return same_dtype_unary(a, "neg", [](Scalar auto v) { return -v; });
}
Tensor abs(const Tensor& x) {
  return same_dtype_unary(x, "abs", [](Scalar auto v) {
    using T = decltype(v);
    if constexpr (std::is_unsigned_v<T>) return v;
    else return v < T(0) ? T(-v) : v;
  });
}
Tensor square(const Tensor& x) {
  return same_dtype_unary(x, "square", [](Scalar auto v) { return v * v; });
}
Tensor sign(const Tensor& x) {
  return same_dtype_unary(x, "sign", [](Scalar auto v) {
    using T = decltype(v);
    return static_cast<T>((v > T(0)) - (v < T(0)));
  });
}
namespace {
struct Relu {
  template <typename T>
    requires std::is_arithmetic_v<T>
  T operator()(T v) const {
    return v < T(0) ? T(0) : v;  // NaN stays NaN
  }
  KUN_SIMD(V operator()(V x) const { return _mm256_max_ps(_mm256_setzero_ps(), x); })  // NaN: 2nd operand
};
}  // namespace

Tensor relu(const Tensor& x) { return same_dtype_unary(x, "relu", Relu{}); }

namespace {
// out = clamp(x, lo, hi) for out, x of one dtype (out may be x). Integer tensors round the bounds
// inward (x >= 0.5 <=> x >= 1 for integers), and bounds beyond the type's range become its limits.
void clamp_into(const Tensor& out, const Tensor& x, std::optional<double> lo, std::optional<double> hi,
                const char* op) {
  KUN_CHECK(!(lo && hi && *lo > *hi), ValueError, op, ": min ", *lo, " is greater than max ", *hi);
  KUN_CHECK(x.dtype() != DType::bool_, TypeError, op, ": not supported for bool tensors");
  KUN_DISPATCH_ALL(x.dtype(), op, [&] {
    using T = scalar_t;
    if constexpr (!std::is_same_v<T, bool>) {
      auto bound = [](std::optional<double> b, bool upper) -> T {
        if constexpr (std::is_floating_point_v<T>) {
          if (!b) return upper ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity();
          return static_cast<T>(*b);
        } else {
          constexpr double tmin = static_cast<double>(std::numeric_limits<T>::lowest());
          constexpr double tmax = static_cast<double>(std::numeric_limits<T>::max());
          if (!b) return upper ? std::numeric_limits<T>::max() : std::numeric_limits<T>::lowest();
          double v = upper ? std::floor(*b) : std::ceil(*b);
          return static_cast<T>(std::min(std::max(v, tmin), tmax));
        }
      };
      T l = bound(lo, false), h = bound(hi, true);
      cpu::unary_loop<T, T>(out, x, [l, h](T v) { return v < l ? l : (v > h ? h : v); });  // NaN stays NaN
    }
  });
}
}  // namespace

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  check_defined(x, "clamp");
  // Integer tensors with a fractional bound are clamped in float32 (the result is not an integer).
  if (is_integral(x.dtype()) && x.dtype() != DType::bool_ &&
      ((lo && !is_integral_value(*lo)) || (hi && !is_integral_value(*hi))))
    return clamp(x.to(DType::f32), lo, hi);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  clamp_into(out, x, lo, hi, "clamp");
  return out;
}

Tensor& clamp_(Tensor& a, std::optional<double> lo, std::optional<double> hi) {
  check_defined(a, "clamp_");
  clamp_into(a, a, lo, hi, "clamp_");
  return a;
}

Tensor exp(const Tensor& x) { return float_unary(x, "exp", Exp{}); }
Tensor log(const Tensor& x) { return float_unary(x, "log", Log{}); }
Tensor log1p(const Tensor& x) { return float_unary(x, "log1p", Log1p{}); }
Tensor sqrt(const Tensor& x) { return float_unary(x, "sqrt", Sqrt{}); }
Tensor rsqrt(const Tensor& x) { return float_unary(x, "rsqrt", Rsqrt{}); }
Tensor reciprocal(const Tensor& x) { return float_unary(x, "reciprocal", Reciprocal{}); }
Tensor sin(const Tensor& x) {
  return float_unary(x, "sin", [](std::floating_point auto v) { return std::sin(v); });
}
Tensor cos(const Tensor& x) {
  return float_unary(x, "cos", [](std::floating_point auto v) { return std::cos(v); });
}
Tensor tanh(const Tensor& x) { return float_unary(x, "tanh", Tanh{}); }
Tensor erf(const Tensor& x) { return float_unary(x, "erf", Erf{}); }
Tensor sigmoid(const Tensor& x) { return float_unary(x, "sigmoid", Sigmoid{}); }
Tensor silu(const Tensor& x) { return float_unary(x, "silu", Silu{}); }
Tensor elu(const Tensor& x, double alpha) { return float_unary(x, "elu", Elu{alpha}); }
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return float_unary(x, "leaky_relu", LeakyRelu{negative_slope});
}

GeluApprox gelu_approx_from_name(std::string_view name) {
  if (name == "none") return GeluApprox::none;
  if (name == "tanh") return GeluApprox::tanh;
  detail::throw_error<ValueError>("gelu: approximate must be \"none\" or \"tanh\", got \"", name, "\"");
}

Tensor gelu(const Tensor& x, GeluApprox approximate) {
  return approximate == GeluApprox::tanh ? float_unary(x, "gelu", GeluTanh{}) : float_unary(x, "gelu", GeluErf{});
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  KUN_CHECK(beta != 0 && std::isfinite(beta), ValueError, "softplus: beta must be finite and nonzero, got ", beta);
  return float_unary(x, "softplus", Softplus{beta, threshold});
}

Tensor pow(const Tensor& x, double e) {
  // Exponents with a cheaper exact form (the same values std::pow gives, faster).
  if (e == 1.0) return float_input(x, "pow").clone();
  if (e == 2.0) return square(float_input(x, "pow"));
  if (e == 0.5) return sqrt(x);
  if (e == -0.5) return rsqrt(x);
  if (e == -1.0) return reciprocal(x);
  if (e == 0.0) return ones_like(float_input(x, "pow"));  // pow(NaN, 0) = 1, like std::pow
  return float_unary(x, "pow", PowScalar{e});
}

// ---------------------------------------------------------------- backward kernels

Tensor relu_backward(const Tensor& g, const Tensor& x) { return grad_binary(g, x, "relu_backward", ReluGrad{}); }
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double negative_slope) {
  return grad_binary(g, x, "leaky_relu_backward", LeakyReluGrad{negative_slope});
}
Tensor sigmoid_backward(const Tensor& g, const Tensor& y) {
  return grad_binary(g, y, "sigmoid_backward", SigmoidGrad{});
}
Tensor tanh_backward(const Tensor& g, const Tensor& y) { return grad_binary(g, y, "tanh_backward", TanhGrad{}); }
Tensor sqrt_backward(const Tensor& g, const Tensor& y) { return grad_binary(g, y, "sqrt_backward", SqrtGrad{}); }
Tensor rsqrt_backward(const Tensor& g, const Tensor& y) { return grad_binary(g, y, "rsqrt_backward", RsqrtGrad{}); }
Tensor reciprocal_backward(const Tensor& g, const Tensor& y) {
  return grad_binary(g, y, "reciprocal_backward", ReciprocalGrad{});
}
Tensor log1p_backward(const Tensor& g, const Tensor& x) { return grad_binary(g, x, "log1p_backward", Log1pGrad{}); }
Tensor erf_backward(const Tensor& g, const Tensor& x) { return grad_binary(g, x, "erf_backward", ErfGrad{}); }
Tensor abs_backward(const Tensor& g, const Tensor& x) { return grad_binary(g, x, "abs_backward", AbsGrad{}); }
Tensor silu_backward(const Tensor& g, const Tensor& x) { return grad_binary(g, x, "silu_backward", SiluGrad{}); }
Tensor gelu_backward(const Tensor& g, const Tensor& x, GeluApprox approximate) {
  return approximate == GeluApprox::tanh ? grad_binary(g, x, "gelu_backward", GeluTanhGrad{})
                                         : grad_binary(g, x, "gelu_backward", GeluErfGrad{});
}
Tensor softplus_backward(const Tensor& g, const Tensor& x, double beta, double threshold) {
  return grad_binary(g, x, "softplus_backward", SoftplusGrad{beta, threshold});
}
Tensor pow_backward(const Tensor& g, const Tensor& x, double e) {
  if (e == 0.0) {
    check_grad_operands("pow_backward", {&g, &x});
    return zeros_like(g);
  }
  if (e == 1.0) return grad_binary(g, x, "pow_backward", [](std::floating_point auto gv, std::floating_point auto) { return gv; });
  if (e == 2.0) return grad_binary(g, x, "pow_backward", [](std::floating_point auto gv, std::floating_point auto xv) { return gv * (xv + xv); });
  return grad_binary(g, x, "pow_backward", PowScalarGrad{e});
}

Tensor elu_backward(const Tensor& g, const Tensor& x, const Tensor& y, double alpha) {
  check_grad_operands("elu_backward", {&g, &x, &y});
  Tensor out = Tensor::empty(g.shape(), g.dtype());
  KUN_DISPATCH_FLOAT(g.dtype(), "elu_backward", [&] {
    using T = scalar_t;
    T a = static_cast<T>(alpha);
    // for x <= 0: d/dx alpha (e^x - 1) = alpha e^x = y + alpha
    cpu::ternary_loop<T, T, T, T>(out, g, x, y, [a](T gv, T xv, T yv) { return xv > T(0) ? gv : gv * (yv + a); });
  });
  return out;
}

Tensor clamp_backward(const Tensor& g, const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  check_grad_operands("clamp_backward", {&g, &x});
  Tensor out = Tensor::empty(g.shape(), g.dtype());
  KUN_DISPATCH_FLOAT(g.dtype(), "clamp_backward", [&] {
    using T = scalar_t;
    T l = lo ? static_cast<T>(*lo) : -std::numeric_limits<T>::infinity();
    T h = hi ? static_cast<T>(*hi) : std::numeric_limits<T>::infinity();
    // the gradient passes where lo <= x <= hi (bounds included, like PyTorch)
    cpu::binary_loop<T, T, T>(out, g, x, [l, h](T gv, T xv) { return (xv >= l && xv <= h) ? gv : T(0); });
  });
  return out;
}

}  // namespace kun
