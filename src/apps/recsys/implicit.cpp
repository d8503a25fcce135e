// Implicit-feedback models: ALS with confidence weighting (Hu, Koren, Volinsky 2008) and BPR.
#include <algorithm>
#include <cmath>

#include "kun/apps/recsys/algorithms.h"
#include "kun/core/error.h"
#include "kun/core/threading.h"

namespace kun::recsys {

namespace {
inline float dot_k(const float* __restrict a, const float* __restrict b, int k) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int f = 0; f < k; ++f) s += a[f] * b[f];
  return s;
}

// Solves A x = b in place for symmetric positive definite A (K x K, row-major) by Cholesky.
// A is overwritten with its factor; b becomes x.
void cholesky_solve(std::vector<double>& A, std::vector<double>& b, int K) {
  for (int j = 0; j < K; ++j) {
    double d = A[size_t(j) * size_t(K) + size_t(j)];
    for (int k = 0; k < j; ++k) d -= A[size_t(j) * size_t(K) + size_t(k)] * A[size_t(j) * size_t(K) + size_t(k)];
    d = std::sqrt(std::max(d, 1e-12));
    A[size_t(j) * size_t(K) + size_t(j)] = d;
    for (int i = j + 1; i < K; ++i) {
      double s = A[size_t(i) * size_t(K) + size_t(j)];
      for (int k = 0; k < j; ++k) s -= A[size_t(i) * size_t(K) + size_t(k)] * A[size_t(j) * size_t(K) + size_t(k)];
      A[size_t(i) * size_t(K) + size_t(j)] = s / d;
    }
  }
  for (int i = 0; i < K; ++i) {  // L z = b
    double s = b[size_t(i)];
    for (int k = 0; k < i; ++k) s -= A[size_t(i) * size_t(K) + size_t(k)] * b[size_t(k)];
    b[size_t(i)] = s / A[size_t(i) * size_t(K) + size_t(i)];
  }
  for (int i = K - 1; i >= 0; --i) {  // L^T x = z
    double s = b[size_t(i)];
    for (int k = i + 1; k < K; ++k) s -= A[size_t(k) * size_t(K) + size_t(i)] * b[size_t(k)];
    b[size_t(i)] = s / A[size_t(i) * size_t(K) + size_t(i)];
  }
}

// One half-step: solve every row of X (n rows) against fixed Y (m rows), given the interactions of
// each row in CSR (ptr, idx, val). X_r = (Y^T Y + Y^T (C_r - I) Y + reg I)^-1 Y^T C_r p_r.
void als_half(std::vector<float>& X, const std::vector<float>& Y, int32_t n, int32_t m, const int64_t* ptr,
              const int32_t* idx, const float* val, const ImplicitAlsOptions& o) {
  const int K = o.n_factors;
  const size_t Ks = size_t(K);
  // Gram matrix Y^T Y: (K, K)
  std::vector<double> G(Ks * Ks, 0.0);
  parallel_for(K, 4, [&](int64_t b, int64_t e) {
    for (int64_t a = b; a < e; ++a)
      for (int32_t j = 0; j < m; ++j) {
        const float* y = Y.data() + size_t(j) * Ks;
        const double ya = y[a];
        if (ya == 0.0) continue;
        for (size_t c = 0; c < Ks; ++c) G[size_t(a) * Ks + c] += ya * y[c];
      }
  });
  parallel_for(n, 8, [&](int64_t b, int64_t e) {
    std::vector<double> A(Ks * Ks), rhs(Ks), yd(Ks);
    for (int64_t r = b; r < e; ++r) {
      float* x = X.data() + size_t(r) * Ks;
      if (ptr[r] == ptr[r + 1]) {
        std::fill(x, x + K, 0.0f);
        continue;
      }
      A = G;
      for (size_t a = 0; a < Ks; ++a) A[a * Ks + a] += o.reg;
      std::fill(rhs.begin(), rhs.end(), 0.0);
      for (int64_t k = ptr[r]; k < ptr[r + 1]; ++k) {
        const float* y = Y.data() + size_t(idx[k]) * Ks;
        const double conf = 1.0 + o.alpha * (o.use_rating ? double(val[k]) : 1.0);
        for (size_t a = 0; a < Ks; ++a) yd[a] = y[a];  // widen once so the rank-1 update vectorizes
        for (size_t a = 0; a < Ks; ++a) {
          const double w = (conf - 1.0) * yd[a];
          double* __restrict Arow = A.data() + a * Ks;
          const double* __restrict yv = yd.data();
#pragma omp simd
          for (size_t c = 0; c <= a; ++c) Arow[c] += w * yv[c];  // lower triangle only
          rhs[a] += conf * yd[a];
        }
      }
      cholesky_solve(A, rhs, K);
      for (size_t a = 0; a < Ks; ++a) x[a] = float(rhs[a]);
    }
  });
}
}  // namespace

void ImplicitAls::fit_impl() {
  const TrainSet& t = ts();
  const size_t Ks = size_t(o_.n_factors);
  Rng rng(o_.seed);
  x_.resize(size_t(t.n_users) * Ks);
  y_.resize(size_t(t.n_items) * Ks);
  for (auto& v : x_) v = float(rng.normal(0, o_.init_std));
  for (auto& v : y_) v = float(rng.normal(0, o_.init_std));
  for (int e = 0; e < o_.n_epochs; ++e) {
    als_half(x_, y_, t.n_users, t.n_items, t.ur_ptr.data(), t.ur_item.data(), t.ur_rating.data(), o_);
    als_half(y_, x_, t.n_items, t.n_users, t.ir_ptr.data(), t.ir_user.data(), t.ir_rating.data(), o_);
  }
}

bool ImplicitAls::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  est = t.global_mean;
  if (!t.knows_user(u) || !t.knows_item(i)) return false;
  const size_t Ks = size_t(o_.n_factors);
  est = dot_k(x_.data() + size_t(u) * Ks, y_.data() + size_t(i) * Ks, int(Ks));
  return true;
}

void ImplicitAls::score_items(int32_t u, std::vector<float>& scores) const {
  const TrainSet& t = ts();
  const size_t Ks = size_t(o_.n_factors);
  scores.resize(size_t(t.n_items));
  const float* xu = x_.data() + size_t(u) * Ks;
  for (int32_t i = 0; i < t.n_items; ++i) scores[size_t(i)] = dot_k(xu, y_.data() + size_t(i) * Ks, int(Ks));
}

void ImplicitAls::save_params(BinWriter& w) const {
  w.vec(x_);
  w.vec(y_);
}
void ImplicitAls::load_params(BinReader& r) {
  x_ = r.vec<float>();
  y_ = r.vec<float>();
  const size_t K = size_t(o_.n_factors);
  if (x_.size() != size_t(ts().n_users) * K || y_.size() != size_t(ts().n_items) * K) r.fail("als factor sizes");
}

// ---- BPR ---------------------------------------------------------------------------------------
void Bpr::fit_impl() {
  const TrainSet& t = ts();
  const int K = o_.n_factors;
  const size_t Ks = size_t(K);
  Rng rng(o_.seed);
  p_.resize(size_t(t.n_users) * Ks);
  q_.resize(size_t(t.n_items) * Ks);
  for (auto& v : p_) v = float(rng.normal(0, o_.init_std));
  for (auto& v : q_) v = float(rng.normal(0, o_.init_std));
  b_.assign(size_t(t.n_items), 0.0f);
  // per-user sorted item lists for the "not rated" test of sampled negatives
  std::vector<int32_t> sorted(t.ur_item);
  for (int32_t u = 0; u < t.n_users; ++u)
    std::sort(sorted.begin() + t.ur_ptr[size_t(u)], sorted.begin() + t.ur_ptr[size_t(u) + 1]);
  const float lr = float(o_.lr), reg = float(o_.reg);
  const size_t n = t.n_ratings();
  std::vector<float> diff(Ks);
  for (int e = 0; e < o_.n_epochs; ++e) {
    for (size_t s = 0; s < n; ++s) {
      const size_t k = size_t(rng.below(n));
      const int32_t u = t.u[k], i = t.i[k];
      const auto ub = sorted.begin() + t.ur_ptr[size_t(u)], ue = sorted.begin() + t.ur_ptr[size_t(u) + 1];
      if (ue - ub >= t.n_items) continue;  // rated everything: no negative exists
      int32_t j;
      do j = int32_t(rng.below(uint64_t(t.n_items)));
      while (std::binary_search(ub, ue, j));
      float* __restrict pu = p_.data() + size_t(u) * Ks;
      float* __restrict qi = q_.data() + size_t(i) * Ks;
      float* __restrict qj = q_.data() + size_t(j) * Ks;
      float x = b_[size_t(i)] - b_[size_t(j)];
#pragma omp simd reduction(+ : x)
      for (int f = 0; f < K; ++f) x += pu[f] * (qi[f] - qj[f]);
      // d/dx log sigmoid(x) = sigmoid(-x), computed without overflow
      const float z = x > 0 ? std::exp(-x) / (1.0f + std::exp(-x)) : 1.0f / (1.0f + std::exp(x));
      b_[size_t(i)] += lr * (z - reg * b_[size_t(i)]);
      b_[size_t(j)] += lr * (-z - reg * b_[size_t(j)]);
#pragma omp simd
      for (int f = 0; f < K; ++f) {
        const float puf = pu[f], qif = qi[f], qjf = qj[f];
        pu[f] += lr * (z * (qif - qjf) - reg * puf);
        qi[f] += lr * (z * puf - reg * qif);
        qj[f] += lr * (-z * puf - reg * qjf);
      }
    }
  }
}

bool Bpr::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  est = t.global_mean;
  if (!t.knows_user(u) || i < 0 || i >= t.n_items) return false;
  const size_t Ks = size_t(o_.n_factors);
  est = b_[size_t(i)] + dot_k(p_.data() + size_t(u) * Ks, q_.data() + size_t(i) * Ks, int(Ks));
  return true;
}

void Bpr::score_items(int32_t u, std::vector<float>& scores) const {
  const TrainSet& t = ts();
  const size_t Ks = size_t(o_.n_factors);
  scores.resize(size_t(t.n_items));
  const float* pu = p_.data() + size_t(u) * Ks;
  for (int32_t i = 0; i < t.n_items; ++i)
    scores[size_t(i)] = b_[size_t(i)] + dot_k(pu, q_.data() + size_t(i) * Ks, int(Ks));
}

void Bpr::save_params(BinWriter& w) const {
  w.vec(p_);
  w.vec(q_);
  w.vec(b_);
}
void Bpr::load_params(BinReader& r) {
  p_ = r.vec<float>();
  q_ = r.vec<float>();
  b_ = r.vec<float>();
  const size_t K = size_t(o_.n_factors);
  if (p_.size() != size_t(ts().n_users) * K || q_.size() != size_t(ts().n_items) * K ||
      b_.size() != size_t(ts().n_items))
    r.fail("bpr parameter sizes");
}

}  // namespace kun::recsys
