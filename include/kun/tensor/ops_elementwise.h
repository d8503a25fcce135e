// Elementwise ops on Tensors (no autograd; see kun/autograd/elementwise.h for the differentiable
// versions). Binary ops broadcast like NumPy; a shape mismatch throws ShapeError naming the op and
// both shapes.
//
// Dtype rules (one rule for every op here):
//  * Mixed inputs are promoted with kun::promote (float64 > float32 > int64 > int32 > uint8 > bool).
//  * Ops whose result is an integer for integer input keep the (promoted) dtype: neg, abs, square,
//    sign, relu, clamp, maximum, minimum, add, sub, mul. bool is rejected by the arithmetic ones.
//  * Every other numeric op (exp, log, sqrt, sigmoid, gelu, pow, div, leaky_relu, ...) computes in
//    float32 when given integer or bool input, as PyTorch does for exp/sqrt of an int tensor.
//  * Comparisons, logical ops and isnan/isinf/isfinite return bool tensors.
//
// Numerics: float32 transcendental ops (exp, log, log1p, tanh, sigmoid, erf, gelu, silu, softplus,
// elu) run vectorized kernels accurate to a few ulp over the whole float range, with IEEE limits
// (exp(-1000) = 0, exp(1000) = inf, log(0) = -inf, sigmoid(+-100) = 1 / 0, tanh(+-50) = +-1).
// float64 uses the C library (std::exp, ...) and is the reference path.
//
// In-place ops (add_, mul_, addcmul_, clamp_) write through `a`'s storage, so every view sharing
// it sees the change. The other operands are broadcast to a's shape (a itself is never resized)
// and may alias a element for element (add_(a, a) doubles a); operands that overlap a at shifted
// positions give unspecified results.
#pragma once
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "kun/tensor/tensor.h"

namespace kun {

// ---- binary arithmetic (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division: integer inputs give float32
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);  // integer a with a fractional s gives float32

Tensor maximum(const Tensor& a, const Tensor& b);  // NaN propagates
Tensor minimum(const Tensor& a, const Tensor& b);  // NaN propagates
Tensor pow(const Tensor& a, const Tensor& b);      // float result (integer inputs -> float32)

// ---- unary math ----
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);    // log(0) = -inf, log(x < 0) = NaN
Tensor log1p(const Tensor& x);  // log(1 + x), accurate for tiny x
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1 / sqrt(x), exact division (not the 12-bit approximation)
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor sign(const Tensor& x);  // -1, 0 or 1; sign(NaN) = 0 like PyTorch
// Clamps to [lo, hi]; either bound may be absent. NaN stays NaN. Throws ValueError if lo > hi.
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);

// ---- activations ----
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);  // x > 0 ? x : alpha * (exp(x) - 1)
enum class GeluApprox { none, tanh };              // none: exact erf form; tanh: the tanh approximation
GeluApprox gelu_approx_from_name(std::string_view name);  // "none" | "tanh"; ValueError otherwise
Tensor gelu(const Tensor& x, GeluApprox approximate = GeluApprox::none);
Tensor silu(const Tensor& x);  // x * sigmoid(x)
// log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (PyTorch's definition).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

// ---- comparisons and logic (bool results; tensor-tensor comparisons broadcast) ----
// A scalar is compared in the tensor's dtype when that is floating (x == 0.1 is true for a float32
// 0.1, like PyTorch) and as a double for integer tensors.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double s);
Tensor ne(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor gt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);
Tensor logical_and(const Tensor& a, const Tensor& b);  // any dtype; nonzero is true
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
Tensor isnan(const Tensor& x);
Tensor isinf(const Tensor& x);
Tensor isfinite(const Tensor& x);
// cond ? a : b elementwise; cond must be bool; the three shapes broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);

// True when no element is NaN or +-inf (always true for integer tensors). One threaded pass with
// no temporaries; the trainer calls it on every loss and gradient. (A template only so that the
// test helper kun::testing::all_finite, which returns an AssertionResult, wins overload
// resolution in tests that see both.)
namespace detail {
bool all_finite(const Tensor& x);
}
template <typename T>
  requires std::is_same_v<T, Tensor>
bool all_finite(const T& x) {
  return detail::all_finite(x);
}

// ---- in-place (float tensors unless noted) ----
// a += alpha * b
Tensor& add_(Tensor& a, const Tensor& b, double alpha = 1.0);
// a *= s
Tensor& mul_(Tensor& a, double s);
// a += value * b * c (Adam-style updates)
Tensor& addcmul_(Tensor& a, const Tensor& b, const Tensor& c, double value = 1.0);
// a = clamp(a, lo, hi); any non-bool dtype
Tensor& clamp_(Tensor& a, std::optional<double> lo, std::optional<double> hi);

// ---- gradient kernels: one fused pass each (used by autograd; usable for custom ops) ----
// Each returns d(loss)/dx given g = d(loss)/d(out) and the saved input x and/or output y, all of
// one shape and one float dtype.
Tensor relu_backward(const Tensor& g, const Tensor& x);                         // g * (x > 0)
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double negative_slope);
Tensor elu_backward(const Tensor& g, const Tensor& x, const Tensor& y, double alpha);
Tensor sigmoid_backward(const Tensor& g, const Tensor& y);                      // g * y * (1 - y)
Tensor tanh_backward(const Tensor& g, const Tensor& y);                         // g * (1 - y^2)
Tensor gelu_backward(const Tensor& g, const Tensor& x, GeluApprox approximate);
Tensor silu_backward(const Tensor& g, const Tensor& x);
Tensor softplus_backward(const Tensor& g, const Tensor& x, double beta, double threshold);
Tensor clamp_backward(const Tensor& g, const Tensor& x, std::optional<double> lo, std::optional<double> hi);
Tensor pow_backward(const Tensor& g, const Tensor& x, double exponent);         // g * e * x^(e-1)
Tensor sqrt_backward(const Tensor& g, const Tensor& y);                         // g / (2 y)
Tensor rsqrt_backward(const Tensor& g, const Tensor& y);                        // -g y^3 / 2
Tensor reciprocal_backward(const Tensor& g, const Tensor& y);                   // -g y^2
Tensor log1p_backward(const Tensor& g, const Tensor& x);                        // g / (1 + x)
Tensor erf_backward(const Tensor& g, const Tensor& x);                          // g 2/sqrt(pi) exp(-x^2)
Tensor abs_backward(const Tensor& g, const Tensor& x);                          // g * sign(x)
// Gradients of maximum/minimum for broadcast operands (a, b expanded to g's shape); ties split
// the gradient half and half, like PyTorch. Not yet reduced to the input shapes.
std::pair<Tensor, Tensor> maximum_backward(const Tensor& g, const Tensor& a, const Tensor& b);
std::pair<Tensor, Tensor> minimum_backward(const Tensor& g, const Tensor& a, const Tensor& b);
// d(a^b)/da = b a^(b-1) and d(a^b)/db = a^b log(a) (0 where a == 0 and b >= 0), operands as above.
std::pair<Tensor, Tensor> pow_backward(const Tensor& g, const Tensor& a, const Tensor& b);

// ---- operators ----
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return add(neg(a), s); }

}  // namespace kun
