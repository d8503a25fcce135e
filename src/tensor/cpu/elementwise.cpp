// Elementwise kernels: broadcasting binary arithmetic.
#include <cmath>

#include "kun/tensor/ops_elementwise.h"
#include "loops.h"

namespace kun {

namespace {

// Broadcasts a and b, promotes dtypes, and runs f over every element pair.
template <typename F>
Tensor binary_arith(const Tensor& a, const Tensor& b, const char* op, const F& f) {
  KUN_CHECK(a.defined() && b.defined(), ValueError, op, ": an input tensor is undefined");
  Shape s = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  DType dt = promote(a.dtype(), b.dtype());
  KUN_CHECK(dt != DType::bool_, TypeError, op, ": arithmetic on bool tensors is not supported; convert first");
  Tensor x = a.dtype() == dt ? a : a.to(dt);
  Tensor y = b.dtype() == dt ? b : b.to(dt);
  if (x.shape() != s) x = x.expand(s);
  if (y.shape() != s) y = y.expand(s);
  Tensor out = Tensor::empty(s, dt);
  KUN_DISPATCH_ALL(dt, op, [&] { cpu::binary_loop<scalar_t, scalar_t, scalar_t>(out, x, y, f); });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_arith(a, b, "add", [](auto x, auto y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_arith(a, b, "sub", [](auto x, auto y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_arith(a, b, "mul", [](auto x, auto y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  if (is_integral(a.dtype()) && is_integral(b.dtype()))  // true division, like NumPy / PyTorch
    return div(a.to(DType::f32), b.to(DType::f32));
  return binary_arith(a, b, "div", [](auto x, auto y) { return x / y; });
}

Tensor add(const Tensor& a, double s) { return add(a, scalar_tensor(s, a.dtype())); }
Tensor mul(const Tensor& a, double s) { return mul(a, scalar_tensor(s, a.dtype())); }
Tensor neg(const Tensor& a) { return mul(a, -1.0); }

Tensor& add_(Tensor& a, const Tensor& b, double alpha) {
  Tensor y = b.shape() == a.shape() ? b : b.expand(a.shape());
  if (y.dtype() != a.dtype()) y = y.to(a.dtype());
  KUN_DISPATCH_FLOAT(a.dtype(), "add_", [&] {
    scalar_t al = static_cast<scalar_t>(alpha);
    cpu::binary_loop<scalar_t, scalar_t, scalar_t>(a, a, y, [al](scalar_t x, scalar_t z) { return x + al * z; });
  });
  return a;
}

Tensor& mul_(Tensor& a, double s) {
  KUN_DISPATCH_FLOAT(a.dtype(), "mul_", [&] {
    scalar_t v = static_cast<scalar_t>(s);
    cpu::unary_loop<scalar_t, scalar_t>(a, a, [v](scalar_t x) { return x * v; });
  });
  return a;
}

}  // namespace kun
