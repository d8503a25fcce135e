#include "kun/nn/init.h"

#include <cmath>
#include <vector>

namespace kun::nn::init {

namespace {

// Writes `src` (same shape, any dtype) into t's storage; works for non-contiguous views too.
const Tensor& assign(const Tensor& t, const Tensor& src) {
  Tensor handle = t;  // shares storage
  handle.copy_(src);
  return t;
}

void check_float(const Tensor& t, const char* op) {
  KUN_CHECK(t.defined(), ValueError, op, ": the tensor is undefined");
  KUN_CHECK(is_floating(t.dtype()), TypeError, op, ": expected a float32 or float64 tensor, got ", t.dtype());
}

int64_t fan_for(const Shape& shape, FanMode mode) {
  auto [fi, fo] = compute_fans(shape);
  return mode == FanMode::fan_in ? fi : fo;
}

// Standard normal CDF and its inverse (Acklam's rational approximation, then one Halley step
// against erfc, giving ~1e-15 relative accuracy).
double norm_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double norm_ppf(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425, hi = 1 - lo;
  p = std::min(std::max(p, 1e-300), 1 - 1e-16);
  double x;
  if (p < lo) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= hi) {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double e = norm_cdf(x) - p;
  double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

}  // namespace

double calculate_gain(Nonlinearity nl, double negative_slope) {
  switch (nl) {
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    case Nonlinearity::selu: return 0.75;
  }
  return 1.0;
}

std::pair<int64_t, int64_t> compute_fans(const Shape& shape) {
  KUN_CHECK(shape.size() >= 2, ShapeError,
            "init: fan in/out need a weight with at least 2 dims (out, in, k...), got shape ", shape);
  int64_t receptive = 1;
  for (int i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

const Tensor& uniform_(const Tensor& t, double lo, double hi, Generator* gen) {
  check_float(t, "init::uniform_");
  KUN_CHECK(lo <= hi, ValueError, "init::uniform_: needs lo <= hi, got [", lo, ", ", hi, ")");
  return assign(t, uniform(t.shape(), lo, hi, t.dtype(), gen));
}

const Tensor& normal_(const Tensor& t, double mean, double stddev, Generator* gen) {
  check_float(t, "init::normal_");
  KUN_CHECK(stddev >= 0, ValueError, "init::normal_: stddev must be >= 0, got ", stddev);
  return assign(t, normal(t.shape(), mean, stddev, t.dtype(), gen));
}

const Tensor& trunc_normal_(const Tensor& t, double mean, double stddev, double lo, double hi, Generator* gen) {
  check_float(t, "init::trunc_normal_");
  KUN_CHECK(stddev > 0 && lo < hi, ValueError, "init::trunc_normal_: needs stddev > 0 and lo < hi, got stddev ",
            stddev, ", [", lo, ", ", hi, "]");
  // Inverse-CDF sampling: u ~ U(cdf(lo'), cdf(hi')) in standard units, x = mean + stddev * ppf(u).
  const double cl = norm_cdf((lo - mean) / stddev), ch = norm_cdf((hi - mean) / stddev);
  Tensor u = uniform(t.shape(), 0.0, 1.0, DType::f64, gen);
  double* p = u.data<double>();
  for (int64_t i = 0; i < u.numel(); ++i) {
    double x = mean + stddev * norm_ppf(cl + (ch - cl) * p[i]);
    p[i] = std::min(std::max(x, lo), hi);
  }
  return assign(t, u);
}

const Tensor& constant_(const Tensor& t, double value) {
  check_float(t, "init::constant_");
  Tensor handle = t;
  handle.fill_(value);
  return t;
}
const Tensor& zeros_(const Tensor& t) { return constant_(t, 0.0); }
const Tensor& ones_(const Tensor& t) { return constant_(t, 1.0); }

const Tensor& xavier_uniform_(const Tensor& t, double gain, Generator* gen) {
  check_float(t, "init::xavier_uniform_");
  auto [fi, fo] = compute_fans(t.shape());
  double a = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  return uniform_(t, -a, a, gen);
}

const Tensor& xavier_normal_(const Tensor& t, double gain, Generator* gen) {
  check_float(t, "init::xavier_normal_");
  auto [fi, fo] = compute_fans(t.shape());
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fi + fo)), gen);
}

const Tensor& kaiming_uniform_(const Tensor& t, const KaimingOptions& opt, Generator* gen) {
  check_float(t, "init::kaiming_uniform_");
  double std = calculate_gain(opt.nonlinearity, opt.a) / std::sqrt(static_cast<double>(fan_for(t.shape(), opt.mode)));
  double bound = std::sqrt(3.0) * std;  // U(-b, b) has std b / sqrt(3)
  return uniform_(t, -bound, bound, gen);
}

const Tensor& kaiming_normal_(const Tensor& t, const KaimingOptions& opt, Generator* gen) {
  check_float(t, "init::kaiming_normal_");
  double std = calculate_gain(opt.nonlinearity, opt.a) / std::sqrt(static_cast<double>(fan_for(t.shape(), opt.mode)));
  return normal_(t, 0.0, std, gen);
}

const Tensor& lecun_normal_(const Tensor& t, Generator* gen) {
  check_float(t, "init::lecun_normal_");
  // A standard normal truncated at +-2 has std 0.87962566103423978; divide it out.
  double std = std::sqrt(1.0 / static_cast<double>(compute_fans(t.shape()).first)) / 0.87962566103423978;
  return trunc_normal_(t, 0.0, std, -2.0 * std, 2.0 * std, gen);
}

const Tensor& orthogonal_(const Tensor& t, double gain, Generator* gen) {
  check_float(t, "init::orthogonal_");
  KUN_CHECK(t.dim() >= 2, ShapeError, "init::orthogonal_: needs at least 2 dims, got shape ", t.shape());
  const int64_t rows = t.size(0), cols = t.numel() / std::max<int64_t>(rows, 1);
  if (t.numel() == 0) return t;
  // Work on a tall (m x n, m >= n) normal matrix; its Q has orthonormal columns.
  const bool wide = rows < cols;
  const int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  Tensor g = randn(Shape{m, n}, DType::f64, gen);
  std::vector<double> A = g.to_vector<double>();  // row-major m x n
  std::vector<double> V(static_cast<size_t>(m * n), 0.0), rdiag(n), vnorm2(n);
  // Householder QR: H_k = I - 2 v v^T / (v^T v) zeroes column k below the diagonal.
  for (int64_t k = 0; k < n; ++k) {
    double norm = 0;
    for (int64_t i = k; i < m; ++i) norm += A[i * n + k] * A[i * n + k];
    norm = std::sqrt(norm);
    double alpha = A[k * n + k] >= 0 ? -norm : norm;
    double vv = 0;
    for (int64_t i = k; i < m; ++i) {
      V[i * n + k] = A[i * n + k] - (i == k ? alpha : 0.0);
      vv += V[i * n + k] * V[i * n + k];
    }
    vnorm2[k] = vv;
    rdiag[k] = alpha;
    if (vv == 0) continue;
    for (int64_t j = k; j < n; ++j) {
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += V[i * n + k] * A[i * n + j];
      double s = 2 * dot / vv;
      for (int64_t i = k; i < m; ++i) A[i * n + j] -= s * V[i * n + k];
    }
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity.
  std::vector<double> Q(static_cast<size_t>(m * n), 0.0);
  for (int64_t j = 0; j < n; ++j) Q[j * n + j] = 1.0;
  for (int64_t k = n - 1; k >= 0; --k) {
    if (vnorm2[k] == 0) continue;
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += V[i * n + k] * Q[i * n + j];
      double s = 2 * dot / vnorm2[k];
      for (int64_t i = k; i < m; ++i) Q[i * n + j] -= s * V[i * n + k];
    }
  }
  // Make R's diagonal positive so the result is Haar-distributed (as PyTorch does).
  Tensor out = Tensor::empty(Shape{rows, cols}, DType::f64);
  double* o = out.data<double>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double v = gain * Q[i * n + j] * (rdiag[j] < 0 ? -1.0 : 1.0);
      if (wide) o[j * cols + i] = v;  // transpose back to (rows, cols)
      else o[i * cols + j] = v;
    }
  return assign(t, out.reshape(t.shape()));
}

}  // namespace kun::nn::init
