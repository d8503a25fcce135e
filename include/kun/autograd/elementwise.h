// Differentiable elementwise ops (broadcasting). Gradients are reduced back to each input's shape.
// Forward semantics, dtype rules and numerics are those of the Tensor ops in
// kun/tensor/ops_elementwise.h; the backward of every common activation is one fused pass.
// Gradient conventions at kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = slope,
// clamp passes the gradient where lo <= x <= hi, sign' = 0, and maximum/minimum split the
// gradient half and half between tied inputs.
#pragma once
#include <optional>

#include "kun/autograd/variable.h"
#include "kun/tensor/ops_elementwise.h"

namespace kun {

// ---- binary (broadcasting) ----
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add(const Variable& a, double s);
Variable mul(const Variable& a, double s);
Variable maximum(const Variable& a, const Variable& b);
Variable minimum(const Variable& a, const Variable& b);
Variable pow(const Variable& a, const Variable& b);
// cond ? a : b; cond is a bool tensor (no gradient); the three shapes broadcast together.
Variable where(const Tensor& cond, const Variable& a, const Variable& b);

// ---- unary ----
Variable neg(const Variable& a);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable log1p(const Variable& x);
Variable sqrt(const Variable& x);
Variable rsqrt(const Variable& x);
Variable abs(const Variable& x);
Variable square(const Variable& x);
Variable reciprocal(const Variable& x);
Variable pow(const Variable& x, double exponent);
Variable sin(const Variable& x);
Variable cos(const Variable& x);
Variable tanh(const Variable& x);
Variable erf(const Variable& x);
Variable sign(const Variable& x);
Variable clamp(const Variable& x, std::optional<double> lo, std::optional<double> hi);

// ---- activations ----
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);
Variable leaky_relu(const Variable& x, double negative_slope = 0.01);
Variable elu(const Variable& x, double alpha = 1.0);
Variable gelu(const Variable& x, GeluApprox approximate = GeluApprox::none);
Variable silu(const Variable& x);
Variable softplus(const Variable& x, double beta = 1.0, double threshold = 20.0);

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator-(const Variable& a) { return neg(a); }
inline Variable operator+(const Variable& a, double s) { return add(a, s); }
inline Variable operator-(const Variable& a, double s) { return add(a, -s); }
inline Variable operator*(const Variable& a, double s) { return mul(a, s); }
inline Variable operator/(const Variable& a, double s) { return mul(a, 1.0 / s); }
inline Variable operator*(double s, const Variable& a) { return mul(a, s); }
inline Variable operator+(double s, const Variable& a) { return add(a, s); }
inline Variable operator-(double s, const Variable& a) { return add(neg(a), s); }

}  // namespace kun
