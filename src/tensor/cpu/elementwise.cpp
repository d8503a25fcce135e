// Elementwise kernels with two or three operands: broadcasting arithmetic, maximum/minimum/pow,
// comparisons and logic, where, in-place updates, all_finite, and the binary gradient kernels.
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kun/tensor/ops_elementwise.h"
#include "loops.h"
#include "vec_math.h"

namespace kun {

namespace {

bool is_integral_value(double v) { return std::isfinite(v) && v == std::floor(v); }

void check_defined2(const Tensor& a, const Tensor& b, const char* op) {
  KUN_CHECK(a.defined() && b.defined(), ValueError, op, ": an input tensor is undefined");
}

// a and b converted to dtype dt and expanded (views) to their broadcast shape.
struct Broadcast2 {
  Tensor a, b;
  Shape shape;
};
Broadcast2 broadcast2(const Tensor& a, const Tensor& b, DType dt, const char* op) {
  Broadcast2 r;
  r.shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  r.a = a.dtype() == dt ? a : a.to(dt);
  r.b = b.dtype() == dt ? b : b.to(dt);
  if (r.a.shape() != r.shape) r.a = r.a.expand(r.shape);
  if (r.b.shape() != r.shape) r.b = r.b.expand(r.shape);
  return r;
}

// Broadcasts a and b, promotes dtypes (bool rejected), and runs f over every element pair.
template <typename F>
Tensor binary_arith(const Tensor& a, const Tensor& b, const char* op, const F& f) {
  check_defined2(a, b, op);
  DType dt = promote(a.dtype(), b.dtype());
  KUN_CHECK(dt != DType::bool_, TypeError, op, ": arithmetic on bool tensors is not supported; convert first");
  Broadcast2 x = broadcast2(a, b, dt, op);
  Tensor out = Tensor::empty(x.shape, dt);
  if (dt == DType::f32) {  // f also works on 8-lane vectors (GCC vector operators)
    cpu::map2_f32(out, x.a, x.b, f);
    return out;
  }
  KUN_DISPATCH_ALL(dt, op, [&] {
    if constexpr (!std::is_same_v<scalar_t, bool>)
      cpu::binary_loop<scalar_t, scalar_t, scalar_t>(out, x.a, x.b, [&](scalar_t u, scalar_t v) {
        return static_cast<scalar_t>(f(u, v));
      });
  });
  return out;
}

// Broadcasting comparison: operands promoted to a common dtype, bool result.
template <typename F>
Tensor compare(const Tensor& a, const Tensor& b, const char* op, const F& f) {
  check_defined2(a, b, op);
  DType dt = promote(a.dtype(), b.dtype());
  Broadcast2 x = broadcast2(a, b, dt, op);
  Tensor out = Tensor::empty(x.shape, DType::bool_);
  KUN_DISPATCH_ALL(dt, op, [&] {
    cpu::binary_loop<bool, scalar_t, scalar_t>(out, x.a, x.b, [&](scalar_t u, scalar_t v) { return f(u, v); });
  });
  return out;
}

// Tensor-scalar comparison: in the tensor's dtype when floating, as double for integer tensors.
template <typename F>
Tensor compare_scalar(const Tensor& a, double s, const char* op, const F& f) {
  KUN_CHECK(a.defined(), ValueError, op, ": the input tensor is undefined");
  Tensor out = Tensor::empty(a.shape(), DType::bool_);
  KUN_DISPATCH_ALL(a.dtype(), op, [&] {
    using T = scalar_t;
    if constexpr (std::is_floating_point_v<T>) {
      T sv = static_cast<T>(s);
      cpu::unary_loop<bool, T>(out, a, [&](T v) { return f(v, sv); });
    } else {
      cpu::unary_loop<bool, T>(out, a, [&](T v) { return f(static_cast<double>(v), s); });
    }
  });
  return out;
}

// The float dtype a binary float op computes in (integer results promoted to float32).
DType float_promote(const Tensor& a, const Tensor& b) {
  DType dt = promote(a.dtype(), b.dtype());
  return is_floating(dt) ? dt : DType::f32;
}

}  // namespace

// ---------------------------------------------------------------- arithmetic

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
  check_defined2(a, b, "div");
  if (is_integral(a.dtype()) && is_integral(b.dtype()))  // true division, like NumPy / PyTorch
    return div(a.to(DType::f32), b.to(DType::f32));
  return binary_arith(a, b, "div", [](auto x, auto y) { return x / y; });
}

// A scalar operand takes the tensor's dtype, unless the tensor is integral and the scalar is
// not (then float32, so 3 * 0.5 is 1.5, not 0).
static DType scalar_op_dtype(const Tensor& a, double s, const char* op) {
  KUN_CHECK(a.defined(), ValueError, op, ": the input tensor is undefined");
  if (is_integral(a.dtype()) && !is_integral_value(s)) return DType::f32;
  return a.dtype();
}
Tensor add(const Tensor& a, double s) { return add(a, scalar_tensor(s, scalar_op_dtype(a, s, "add"))); }
Tensor mul(const Tensor& a, double s) { return mul(a, scalar_tensor(s, scalar_op_dtype(a, s, "mul"))); }

Tensor maximum(const Tensor& a, const Tensor& b) {
  check_defined2(a, b, "maximum");
  DType dt = promote(a.dtype(), b.dtype());
  Broadcast2 x = broadcast2(a, b, dt, "maximum");
  Tensor out = Tensor::empty(x.shape, dt);
  KUN_DISPATCH_ALL(dt, "maximum", [&] {
    using T = scalar_t;
    cpu::binary_loop<T, T, T>(out, x.a, x.b, [](T u, T v) {
      if constexpr (std::is_floating_point_v<T>) return (u > v || u != u) ? u : v;  // NaN propagates
      else return u > v ? u : v;
    });
  });
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  check_defined2(a, b, "minimum");
  DType dt = promote(a.dtype(), b.dtype());
  Broadcast2 x = broadcast2(a, b, dt, "minimum");
  Tensor out = Tensor::empty(x.shape, dt);
  KUN_DISPATCH_ALL(dt, "minimum", [&] {
    using T = scalar_t;
    cpu::binary_loop<T, T, T>(out, x.a, x.b, [](T u, T v) {
      if constexpr (std::is_floating_point_v<T>) return (u < v || u != u) ? u : v;
      else return u < v ? u : v;
    });
  });
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  check_defined2(a, b, "pow");
  DType dt = float_promote(a, b);
  Broadcast2 x = broadcast2(a, b, dt, "pow");
  Tensor out = Tensor::empty(x.shape, dt);
  KUN_DISPATCH_FLOAT(dt, "pow", [&] {
    using T = scalar_t;
    cpu::binary_loop<T, T, T>(out, x.a, x.b, [](T u, T v) { return std::pow(u, v); });
  });
  return out;
}

// ---------------------------------------------------------------- comparisons and logic

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", [](auto x, auto y) { return x != y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", [](auto x, auto y) { return x >= y; }); }
Tensor eq(const Tensor& a, double s) { return compare_scalar(a, s, "eq", [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, double s) { return compare_scalar(a, s, "ne", [](auto x, auto y) { return x != y; }); }
Tensor lt(const Tensor& a, double s) { return compare_scalar(a, s, "lt", [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, double s) { return compare_scalar(a, s, "le", [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, double s) { return compare_scalar(a, s, "gt", [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, double s) { return compare_scalar(a, s, "ge", [](auto x, auto y) { return x >= y; }); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return compare(a.defined() ? a.to(DType::bool_) : a, b.defined() ? b.to(DType::bool_) : b, "logical_and",
                 [](bool x, bool y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return compare(a.defined() ? a.to(DType::bool_) : a, b.defined() ? b.to(DType::bool_) : b, "logical_or",
                 [](bool x, bool y) { return x || y; });
}
Tensor logical_not(const Tensor& a) {
  return compare_scalar(a, 0.0, "logical_not", [](auto x, auto zero) { return x == zero; });
}

namespace {
// Float classification; integer tensors give `int_value` everywhere.
template <typename F>
Tensor classify(const Tensor& x, const char* op, bool int_value, const F& f) {
  KUN_CHECK(x.defined(), ValueError, op, ": the input tensor is undefined");
  if (is_integral(x.dtype())) return full(x.shape(), int_value ? 1.0 : 0.0, DType::bool_);
  Tensor out = Tensor::empty(x.shape(), DType::bool_);
  KUN_DISPATCH_FLOAT(x.dtype(), op, [&] { cpu::unary_loop<bool, scalar_t>(out, x, f); });
  return out;
}
}  // namespace

Tensor isnan(const Tensor& x) {
  return classify(x, "isnan", false, [](auto v) { return v != v; });
}
Tensor isinf(const Tensor& x) {
  return classify(x, "isinf", false, [](auto v) {
    return std::abs(v) == std::numeric_limits<decltype(v)>::infinity();
  });
}
Tensor isfinite(const Tensor& x) {
  return classify(x, "isfinite", true, [](auto v) {
    return std::abs(v) <= std::numeric_limits<decltype(v)>::max();  // false for NaN and inf
  });
}

// ---------------------------------------------------------------- where

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  KUN_CHECK(cond.defined() && a.defined() && b.defined(), ValueError, "where: an input tensor is undefined");
  KUN_CHECK(cond.dtype() == DType::bool_, TypeError, "where: the condition must be a bool tensor, got ",
            cond.dtype(), "; build it with a comparison such as gt(x, 0)");
  DType dt = promote(a.dtype(), b.dtype());
  Shape s = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor c = cond.shape() == s ? cond : cond.expand(s);
  Tensor x = a.dtype() == dt ? a : a.to(dt);
  Tensor y = b.dtype() == dt ? b : b.to(dt);
  if (x.shape() != s) x = x.expand(s);
  if (y.shape() != s) y = y.expand(s);
  Tensor out = Tensor::empty(s, dt);
  KUN_DISPATCH_ALL(dt, "where", [&] {
    using T = scalar_t;
    cpu::ternary_loop<T, bool, T, T>(out, c, x, y, [](bool k, T u, T v) { return k ? u : v; });
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  KUN_CHECK(a.defined(), ValueError, "where: an input tensor is undefined");
  return where(cond, a, scalar_tensor(b, scalar_op_dtype(a, b, "where")));
}
Tensor where(const Tensor& cond, double a, const Tensor& b) {
  KUN_CHECK(b.defined(), ValueError, "where: an input tensor is undefined");
  return where(cond, scalar_tensor(a, scalar_op_dtype(b, a, "where")), b);
}

// ---------------------------------------------------------------- all_finite

namespace {
// True when some element of x (type T) is NaN or +-inf. Chunks stop early once one is found.
template <typename T>
bool any_nonfinite(const Tensor& x) {
  constexpr T kMax = std::numeric_limits<T>::max();
  std::atomic<bool> bad{false};
  auto it = cpu::make_iter<1>({&x});
  cpu::run<1>(it, [&](char* const* p, const int64_t* s, int64_t n) {
    if (bad.load(std::memory_order_relaxed)) return;
    int found = 0;
    if (s[0] == sizeof(T)) {
      const T* v = reinterpret_cast<const T*>(p[0]);
#pragma omp simd reduction(| : found)
      for (int64_t i = 0; i < n; ++i) found |= !(std::abs(v[i]) <= kMax);  // NaN compares false
    } else {
      for (int64_t i = 0; i < n; ++i) found |= !(std::abs(*reinterpret_cast<const T*>(p[0] + i * s[0])) <= kMax);
    }
    if (found) bad.store(true, std::memory_order_relaxed);
  });
  return bad.load();
}
}  // namespace

namespace detail {
bool all_finite(const Tensor& x) {
  KUN_CHECK(x.defined(), ValueError, "all_finite: the tensor is undefined");
  if (x.dtype() == DType::f32) return !any_nonfinite<float>(x);
  if (x.dtype() == DType::f64) return !any_nonfinite<double>(x);
  return true;  // integer and bool tensors
}
}  // namespace detail

// ---------------------------------------------------------------- in-place

namespace {
// `b` broadcast to a's shape and converted to a's dtype, for an in-place op on a.
Tensor operand_for_inplace(const Tensor& a, const Tensor& b, const char* op) {
  KUN_CHECK(a.defined() && b.defined(), ValueError, op, ": an input tensor is undefined");
  if (b.shape() != a.shape()) {
    Shape s = broadcast_shapes(a.shape(), b.shape(), op);
    KUN_CHECK(s == a.shape(), ShapeError, op, ": the operand of shape ", b.shape(),
              " does not broadcast to the in-place tensor's shape ", a.shape());
  }
  Tensor y = b.shape() == a.shape() ? b : b.expand(a.shape());
  return y.dtype() == a.dtype() ? y : y.to(a.dtype());
}
}  // namespace

Tensor& add_(Tensor& a, const Tensor& b, double alpha) {
  Tensor y = operand_for_inplace(a, b, "add_");
  if (a.dtype() == DType::f32) {  // optimizer updates on large parameters: vector path
    float al = static_cast<float>(alpha);
    if (alpha == 1.0) cpu::map2_f32(a, a, y, [](auto x, auto z) { return x + z; });
    else cpu::map2_f32(a, a, y, [al](auto x, auto z) { return x + al * z; });
    return a;
  }
  KUN_DISPATCH_FLOAT(a.dtype(), "add_", [&] {
    using T = scalar_t;
    T al = static_cast<T>(alpha);
    if (alpha == 1.0) cpu::binary_loop<T, T, T>(a, a, y, [](T x, T z) { return x + z; });
    else cpu::binary_loop<T, T, T>(a, a, y, [al](T x, T z) { return x + al * z; });
  });
  return a;
}

Tensor& mul_(Tensor& a, double s) {
  KUN_CHECK(a.defined(), ValueError, "mul_: the tensor is undefined");
  KUN_DISPATCH_FLOAT(a.dtype(), "mul_", [&] {
    scalar_t v = static_cast<scalar_t>(s);
    cpu::unary_loop<scalar_t, scalar_t>(a, a, [v](scalar_t x) { return x * v; });
  });
  return a;
}

Tensor& addcmul_(Tensor& a, const Tensor& b, const Tensor& c, double value) {
  Tensor y = operand_for_inplace(a, b, "addcmul_");
  Tensor z = operand_for_inplace(a, c, "addcmul_");
  KUN_DISPATCH_FLOAT(a.dtype(), "addcmul_", [&] {
    using T = scalar_t;
    T v = static_cast<T>(value);
    cpu::ternary_loop<T, T, T, T>(a, a, y, z, [v](T x, T u, T w) { return x + v * u * w; });
  });
  return a;
}

// ---------------------------------------------------------------- binary gradient kernels

namespace {
void check_binary_grad(const Tensor& g, const Tensor& a, const Tensor& b, const char* op) {
  KUN_CHECK(g.defined() && a.defined() && b.defined(), ValueError, op, ": an operand is undefined");
  KUN_CHECK(is_floating(g.dtype()) && a.dtype() == g.dtype() && b.dtype() == g.dtype(), TypeError, op,
            ": expected one float dtype, got ", g.dtype(), ", ", a.dtype(), ", ", b.dtype());
  KUN_CHECK(a.shape() == g.shape() && b.shape() == g.shape(), ShapeError, op, ": operand shapes differ: ", g.shape(),
            ", ", a.shape(), ", ", b.shape());
}

// Gradient share of the first operand of maximum (sign = 1) or minimum (sign = -1), PyTorch's
// rule: all of g where it won, half on a tie, none where it lost (NaN: all of g).
template <typename T>
T minmax_share(T gv, T u, T v, int sign) {
  bool lost = sign > 0 ? u < v : u > v;
  return lost ? T(0) : (u == v ? gv * T(0.5) : gv);
}

std::pair<Tensor, Tensor> minmax_backward(const Tensor& g, const Tensor& a, const Tensor& b, int sign,
                                          const char* op) {
  check_binary_grad(g, a, b, op);
  Tensor ga = Tensor::empty(g.shape(), g.dtype()), gb = Tensor::empty(g.shape(), g.dtype());
  KUN_DISPATCH_FLOAT(g.dtype(), op, [&] {
    using T = scalar_t;
    cpu::ternary_loop<T, T, T, T>(ga, g, a, b, [sign](T gv, T u, T v) { return minmax_share(gv, u, v, sign); });
    cpu::ternary_loop<T, T, T, T>(gb, g, b, a, [sign](T gv, T v, T u) { return minmax_share(gv, v, u, sign); });
  });
  return {ga, gb};
}
}  // namespace

std::pair<Tensor, Tensor> maximum_backward(const Tensor& g, const Tensor& a, const Tensor& b) {
  return minmax_backward(g, a, b, 1, "maximum_backward");
}
std::pair<Tensor, Tensor> minimum_backward(const Tensor& g, const Tensor& a, const Tensor& b) {
  return minmax_backward(g, a, b, -1, "minimum_backward");
}

std::pair<Tensor, Tensor> pow_backward(const Tensor& g, const Tensor& a, const Tensor& b) {
  check_binary_grad(g, a, b, "pow_backward");
  Tensor ga = Tensor::empty(g.shape(), g.dtype()), gb = Tensor::empty(g.shape(), g.dtype());
  KUN_DISPATCH_FLOAT(g.dtype(), "pow_backward", [&] {
    using T = scalar_t;
    cpu::ternary_loop<T, T, T, T>(ga, g, a, b, [](T gv, T u, T v) {
      return v == T(0) ? T(0) : gv * v * std::pow(u, v - T(1));
    });
    // 0^b log 0 is taken as 0 for b >= 0 (PyTorch's convention), so the gradient stays finite.
    cpu::ternary_loop<T, T, T, T>(gb, g, a, b, [](T gv, T u, T v) {
      return (u == T(0) && v >= T(0)) ? T(0) : gv * std::pow(u, v) * std::log(u);
    });
  });
  return {ga, gb};
}

}  // namespace kun
