#include "kun/optim/clip.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kun/core/threading.h"

namespace kun::optim {

namespace {

constexpr int64_t kGrain = 1 << 15;

// The grad as a writable contiguous tensor. Leaf grads are owned and contiguous already (see
// Variable::accumulate_grad); anything else is replaced by a contiguous copy.
Tensor writable_grad(const Variable& p) {
  Tensor g = p.grad();
  if (!g.is_contiguous()) {
    g = g.contiguous();
    const_cast<Variable&>(p).set_grad(g);
  }
  return g;
}

// Kernels live outside the dtype-dispatch macro so their OpenMP pragmas are honoured.

// sum |x|^p (p finite) or max |x| (p = inf; NaN if any element is NaN), accumulated in double.
template <typename T>
double norm_part(const T* x, int64_t n, double p) {
  double acc = 0;
  if (std::isinf(p)) {
    bool nan = false;
    for (int64_t k = 0; k < n; ++k) {
      nan |= std::isnan(x[k]);
      acc = std::max(acc, static_cast<double>(std::abs(x[k])));
    }
    return nan ? std::numeric_limits<double>::quiet_NaN() : acc;
  }
  if (p == 2.0) {
#pragma omp parallel for simd reduction(+ : acc) if (n > kGrain)
    for (int64_t k = 0; k < n; ++k) acc += static_cast<double>(x[k]) * static_cast<double>(x[k]);
  } else if (p == 1.0) {
#pragma omp parallel for simd reduction(+ : acc) if (n > kGrain)
    for (int64_t k = 0; k < n; ++k) acc += std::abs(static_cast<double>(x[k]));
  } else {
    for (int64_t k = 0; k < n; ++k) acc += std::pow(std::abs(static_cast<double>(x[k])), p);
  }
  return acc;
}

template <typename T>
void scale_range(T* x, int64_t lo, int64_t hi, T c) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) x[k] *= c;
}

template <typename T>
void clamp_range(T* x, int64_t lo, int64_t hi, T lo_v, T hi_v) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) x[k] = std::min(std::max(x[k], lo_v), hi_v);
}

// Number of non-finite elements (x * 0 is 0 for finite x and NaN for inf/NaN: branch-free).
template <typename T>
int64_t count_nonfinite(const T* x, int64_t n) {
  int64_t bad = 0;
#pragma omp parallel for simd reduction(+ : bad) if (n > kGrain)
  for (int64_t k = 0; k < n; ++k) bad += (x[k] * T(0) != T(0));
  return bad;
}

double partial_norm(const Tensor& g, double p) {
  Tensor c = g.contiguous();
  return KUN_DISPATCH_FLOAT(c.dtype(), "clip_grad_norm",
                            [&]() -> double { return norm_part(c.data<scalar_t>(), c.numel(), p); });
}

}  // namespace

double clip_grad_norm(const std::vector<Variable>& params, double max_norm, double p) {
  KUN_CHECK(max_norm >= 0, ValueError, "clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  KUN_CHECK(p > 0, ValueError, "clip_grad_norm: the norm order p must be > 0 (or inf), got ", p);
  const bool inf = std::isinf(p);
  double acc = 0;
  bool any = false;
  for (const auto& v : params) {
    if (!v.defined() || !v.has_grad()) continue;
    any = true;
    double part = partial_norm(v.grad(), p);
    acc = inf ? (std::isnan(part) ? part : std::max(acc, part)) : acc + part;
  }
  if (!any) return 0.0;
  const double total = inf ? acc : std::pow(acc, 1.0 / p);
  if (!std::isfinite(total)) return total;
  // Same coefficient as PyTorch (the 1e-6 keeps a zero norm from dividing by zero).
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return total;
  NoGradGuard no_grad;
  for (const auto& v : params) {
    if (!v.defined() || !v.has_grad()) continue;
    Tensor g = writable_grad(v);
    KUN_DISPATCH_FLOAT(g.dtype(), "clip_grad_norm", [&] {
      scalar_t* x = g.data<scalar_t>();
      const scalar_t c = static_cast<scalar_t>(coef);
      parallel_for(g.numel(), kGrain, [&](int64_t lo, int64_t hi) { scale_range(x, lo, hi, c); });
    });
  }
  return total;
}

void clip_grad_value(const std::vector<Variable>& params, double clip_value) {
  KUN_CHECK(clip_value >= 0, ValueError, "clip_grad_value: clip_value must be >= 0, got ", clip_value);
  for (const auto& v : params) {
    if (!v.defined() || !v.has_grad()) continue;
    Tensor g = writable_grad(v);
    KUN_DISPATCH_FLOAT(g.dtype(), "clip_grad_value", [&] {
      scalar_t* x = g.data<scalar_t>();
      const scalar_t hi_v = static_cast<scalar_t>(clip_value), lo_v = -hi_v;
      parallel_for(g.numel(), kGrain, [&](int64_t lo, int64_t hi) { clamp_range(x, lo, hi, lo_v, hi_v); });
    });
  }
}

bool grads_finite(const std::vector<Variable>& params, std::string* bad_name, const std::vector<std::string>& names) {
  KUN_CHECK(names.empty() || names.size() == params.size(), ValueError, "grads_finite: got ", names.size(),
            " names for ", params.size(), " parameters");
  for (size_t i = 0; i < params.size(); ++i) {
    const Variable& v = params[i];
    if (!v.defined() || !v.has_grad()) continue;
    Tensor g = v.grad().contiguous();
    bool ok = KUN_DISPATCH_FLOAT(g.dtype(), "grads_finite",
                                 [&]() -> bool { return count_nonfinite(g.data<scalar_t>(), g.numel()) == 0; });
    if (!ok) {
      if (bad_name) *bad_name = names.empty() ? "parameter " + std::to_string(i) : names[i];
      return false;
    }
  }
  return true;
}

namespace {

// sum over all params of f(w), with backward accumulating g * df(w) into each param.
template <typename F, typename DF>
Variable penalty(const std::vector<Variable>& params, const char* name, F f, DF df) {
  KUN_CHECK(!params.empty(), ValueError, name, ": needs at least one parameter");
  const DType dt = params[0].dtype();
  double total = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    KUN_CHECK(params[i].defined() && params[i].dtype() == dt, TypeError, name, ": parameter ", i, " is ",
              params[i].defined() ? std::string(dtype_name(params[i].dtype())) : std::string("undefined"),
              ", expected ", dt, " like parameter 0");
    Tensor c = params[i].data().contiguous();
    total += KUN_DISPATCH_FLOAT(dt, name, [&]() -> double {
      const scalar_t* x = c.data<scalar_t>();
      double acc = 0;
      for (int64_t k = 0; k < c.numel(); ++k) acc += f(static_cast<double>(x[k]));
      return acc;
    });
  }
  return make_result(scalar_tensor(total, dt), std::vector<Variable>(params), name, [df](const Tensor& g, Node& n) {
    const double go = g.item_double();
    for (auto& in : n.inputs) {
      if (!in.requires_grad()) continue;
      Tensor c = in.data().contiguous();
      Tensor out = Tensor::empty(c.shape(), c.dtype());
      KUN_DISPATCH_FLOAT(c.dtype(), "penalty backward", [&] {
        const scalar_t* x = c.data<scalar_t>();
        scalar_t* o = out.data<scalar_t>();
        for (int64_t k = 0; k < c.numel(); ++k) o[k] = static_cast<scalar_t>(go * df(static_cast<double>(x[k])));
      });
      in.accumulate_grad(out);
    }
  });
}

}  // namespace

Variable l1_penalty(const std::vector<Variable>& params) {
  // d|w|/dw = sign(w), 0 at 0 (the subgradient PyTorch uses)
  return penalty(
      params, "l1_penalty", [](double w) { return std::abs(w); },
      [](double w) { return w > 0 ? 1.0 : (w < 0 ? -1.0 : 0.0); });
}

Variable l2_penalty(const std::vector<Variable>& params) {
  return penalty(
      params, "l2_penalty", [](double w) { return w * w; }, [](double w) { return 2.0 * w; });
}

}  // namespace kun::optim
