// Matrix factorization for explicit ratings: Funk SVD, SVD++ and NMF (Surprise's semantics).
#include <algorithm>
#include <cmath>

#include "kun/apps/recsys/algorithms.h"
#include "kun/core/error.h"

namespace kun::recsys {

namespace {
void normal_fill(std::vector<float>& v, size_t n, double mean, double std, Rng& rng) {
  v.resize(n);
  for (auto& x : v) x = static_cast<float>(rng.normal(mean, std));
}
// dot product of two K-vectors; `omp simd reduction` lets GCC use several vector partial sums
// without -ffast-math (the reassociation is allowed for this loop only).
inline float dot_k(const float* __restrict a, const float* __restrict b, int k) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int f = 0; f < k; ++f) s += a[f] * b[f];
  return s;
}
void check_sizes(BinReader& r, const std::vector<float>& v, size_t want, const char* what) {
  if (v.size() != want) r.fail(std::string(what) + " has the wrong size");
}
}  // namespace

// ---- SVD ---------------------------------------------------------------------------------------
void Svd::init_params() {
  const TrainSet& t = ts();
  const size_t K = size_t(o_.n_factors);
  Rng rng(o_.seed);
  normal_fill(p_, size_t(t.n_users) * K, o_.init_mean, o_.init_std, rng);
  normal_fill(q_, size_t(t.n_items) * K, o_.init_mean, o_.init_std, rng);
  bu_.assign(size_t(t.n_users), 0.0f);
  bi_.assign(size_t(t.n_items), 0.0f);
  mu_ = static_cast<float>(t.global_mean);
}

void Svd::sgd_epoch() {
  const TrainSet& t = ts();
  const int K = o_.n_factors;
  const float lr = float(o_.lr), reg = float(o_.reg), mu = o_.biased ? mu_ : 0.0f;
  const bool biased = o_.biased;
  float* P = p_.data();
  float* Q = q_.data();
  float* bu = bu_.data();
  float* bi = bi_.data();
  const int32_t* us = t.u.data();
  const int32_t* is = t.i.data();
  const float* rs = t.r.data();
  const size_t n = t.n_ratings();
  for (size_t k = 0; k < n; ++k) {
    const int32_t u = us[k], i = is[k];
    float* __restrict pu = P + size_t(u) * size_t(K);
    float* __restrict qi = Q + size_t(i) * size_t(K);
    const float err = rs[k] - (mu + bu[u] + bi[i] + dot_k(qi, pu, K));
    if (biased) {
      bu[u] += lr * (err - reg * bu[u]);
      bi[i] += lr * (err - reg * bi[i]);
    }
#pragma omp simd
    for (int f = 0; f < K; ++f) {
      const float puf = pu[f], qif = qi[f];
      pu[f] += lr * (err * qif - reg * puf);
      qi[f] += lr * (err * puf - reg * qif);
    }
  }
}

void Svd::fit_impl() {
  init_params();
  for (int e = 0; e < o_.n_epochs; ++e) sgd_epoch();
}

bool Svd::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  const bool ku = t.knows_user(u), ki = t.knows_item(i);
  const size_t K = size_t(o_.n_factors);
  if (o_.biased) {
    est = t.global_mean;
    if (ku) est += bu_[size_t(u)];
    if (ki) est += bi_[size_t(i)];
    if (ku && ki) est += dot_k(q_.data() + size_t(i) * K, p_.data() + size_t(u) * K, int(K));
    return true;
  }
  est = t.global_mean;
  if (!ku || !ki) return false;
  est = dot_k(q_.data() + size_t(i) * K, p_.data() + size_t(u) * K, int(K));
  return true;
}

void Svd::score_items(int32_t u, std::vector<float>& scores) const {
  const TrainSet& t = ts();
  const size_t K = size_t(o_.n_factors);
  scores.resize(size_t(t.n_items));
  const float* pu = p_.data() + size_t(u) * K;
  const float base = o_.biased ? float(t.global_mean) + bu_[size_t(u)] : 0.0f;
  for (int32_t i = 0; i < t.n_items; ++i)
    scores[size_t(i)] = t.knows_item(i) ? base + (o_.biased ? bi_[size_t(i)] : 0.0f) + dot_k(q_.data() + size_t(i) * K, pu, int(K))
                                        : base;
}

void Svd::save_params(BinWriter& w) const {
  w.vec(p_);
  w.vec(q_);
  w.vec(bu_);
  w.vec(bi_);
}
void Svd::load_params(BinReader& r) {
  p_ = r.vec<float>();
  q_ = r.vec<float>();
  bu_ = r.vec<float>();
  bi_ = r.vec<float>();
  const size_t K = size_t(o_.n_factors);
  check_sizes(r, p_, size_t(ts().n_users) * K, "svd user factors");
  check_sizes(r, q_, size_t(ts().n_items) * K, "svd item factors");
  check_sizes(r, bu_, size_t(ts().n_users), "svd user biases");
  check_sizes(r, bi_, size_t(ts().n_items), "svd item biases");
  mu_ = float(ts().global_mean);
}

// ---- SVD++ -------------------------------------------------------------------------------------
// Surprise updates y_j for every j in I(u) after each of u's ratings with the same affine map
// y_j <- c*y_j + g (c = 1 - lr*reg, g = lr*err*q_i/sqrt|I(u)|). Since the ratings come grouped by
// user, y_j = A*y_j0 + V holds through u's block for scalar A and vector V shared by all j, and
// sum_j y_j = A*S0 + |I(u)|*V: the same arithmetic at O(K) per rating plus O(|I(u)|*K) per user.
void SvdPP::fit_impl() {
  const TrainSet& t = ts();
  const int K = o_.n_factors;
  const size_t Ks = size_t(K);
  Rng rng(o_.seed);
  normal_fill(p_, size_t(t.n_users) * Ks, o_.init_mean, o_.init_std, rng);
  normal_fill(q_, size_t(t.n_items) * Ks, o_.init_mean, o_.init_std, rng);
  normal_fill(y_, size_t(t.n_items) * Ks, o_.init_mean, o_.init_std, rng);
  bu_.assign(size_t(t.n_users), 0.0f);
  bi_.assign(size_t(t.n_items), 0.0f);
  mu_ = float(t.global_mean);
  const float lr = float(o_.lr), reg = float(o_.reg), c = 1.0f - lr * reg;
  std::vector<float> S0(Ks), V(Ks), impl(Ks);
  for (int e = 0; e < o_.n_epochs; ++e) {
    for (int32_t u = 0; u < t.n_users; ++u) {
      const int64_t b = t.ur_ptr[size_t(u)], end = t.ur_ptr[size_t(u) + 1];
      if (b == end) continue;
      const float n_u = float(end - b), inv_sqrt = 1.0f / std::sqrt(n_u);
      std::fill(S0.begin(), S0.end(), 0.0f);
      for (int64_t a = b; a < end; ++a) {
        const float* yj = y_.data() + size_t(t.ur_item[size_t(a)]) * Ks;
#pragma omp simd
        for (int f = 0; f < K; ++f) S0[size_t(f)] += yj[f];
      }
      std::fill(V.begin(), V.end(), 0.0f);
      float A = 1.0f;
      float* __restrict pu = p_.data() + size_t(u) * Ks;
      for (int64_t a = b; a < end; ++a) {
        const int32_t i = t.ur_item[size_t(a)];
        float* __restrict qi = q_.data() + size_t(i) * Ks;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int f = 0; f < K; ++f) {
          impl[size_t(f)] = (A * S0[size_t(f)] + n_u * V[size_t(f)]) * inv_sqrt;
          dot += qi[f] * (pu[f] + impl[size_t(f)]);
        }
        const float err = t.ur_rating[size_t(a)] - (mu_ + bu_[size_t(u)] + bi_[size_t(i)] + dot);
        bu_[size_t(u)] += lr * (err - reg * bu_[size_t(u)]);
        bi_[size_t(i)] += lr * (err - reg * bi_[size_t(i)]);
        const float g = lr * err * inv_sqrt;
#pragma omp simd
        for (int f = 0; f < K; ++f) {
          const float puf = pu[f], qif = qi[f];
          pu[f] += lr * (err * qif - reg * puf);
          qi[f] += lr * (err * (puf + impl[size_t(f)]) - reg * qif);
          V[size_t(f)] = c * V[size_t(f)] + g * qif;
        }
        A *= c;
      }
      for (int64_t a = b; a < end; ++a) {  // apply the block's accumulated map to every y_j
        float* yj = y_.data() + size_t(t.ur_item[size_t(a)]) * Ks;
#pragma omp simd
        for (int f = 0; f < K; ++f) yj[f] = A * yj[f] + V[size_t(f)];
      }
    }
  }
  compute_user_implicit();
}

void SvdPP::compute_user_implicit() {
  const TrainSet& t = ts();
  const size_t Ks = size_t(o_.n_factors);
  z_.assign(size_t(t.n_users) * Ks, 0.0f);
  for (int32_t u = 0; u < t.n_users; ++u) {
    const int64_t b = t.ur_ptr[size_t(u)], end = t.ur_ptr[size_t(u) + 1];
    float* z = z_.data() + size_t(u) * Ks;
    if (b == end) continue;
    for (int64_t a = b; a < end; ++a) {
      const float* yj = y_.data() + size_t(t.ur_item[size_t(a)]) * Ks;
      for (size_t f = 0; f < Ks; ++f) z[f] += yj[f];
    }
    const float inv_sqrt = 1.0f / std::sqrt(float(end - b));
    const float* pu = p_.data() + size_t(u) * Ks;
    for (size_t f = 0; f < Ks; ++f) z[f] = pu[f] + z[f] * inv_sqrt;
  }
}

bool SvdPP::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  const bool ku = t.knows_user(u), ki = t.knows_item(i);
  const size_t Ks = size_t(o_.n_factors);
  est = t.global_mean;
  if (ku) est += bu_[size_t(u)];
  if (ki) est += bi_[size_t(i)];
  if (ku && ki) est += dot_k(q_.data() + size_t(i) * Ks, z_.data() + size_t(u) * Ks, int(Ks));
  return true;
}

void SvdPP::save_params(BinWriter& w) const {
  w.vec(p_);
  w.vec(q_);
  w.vec(y_);
  w.vec(bu_);
  w.vec(bi_);
}
void SvdPP::load_params(BinReader& r) {
  p_ = r.vec<float>();
  q_ = r.vec<float>();
  y_ = r.vec<float>();
  bu_ = r.vec<float>();
  bi_ = r.vec<float>();
  const size_t K = size_t(o_.n_factors);
  check_sizes(r, p_, size_t(ts().n_users) * K, "svdpp user factors");
  check_sizes(r, q_, size_t(ts().n_items) * K, "svdpp item factors");
  check_sizes(r, y_, size_t(ts().n_items) * K, "svdpp implicit factors");
  check_sizes(r, bu_, size_t(ts().n_users), "svdpp user biases");
  check_sizes(r, bi_, size_t(ts().n_items), "svdpp item biases");
  mu_ = float(ts().global_mean);
  compute_user_implicit();
}

// ---- NMF ---------------------------------------------------------------------------------------
void Nmf::fit_impl() {
  const TrainSet& t = ts();
  const size_t K = size_t(o_.n_factors), nu = size_t(t.n_users), ni = size_t(t.n_items);
  Rng rng(o_.seed);
  p_.resize(nu * K);
  q_.resize(ni * K);
  for (auto& x : p_) x = float(o_.init_low + (o_.init_high - o_.init_low) * rng.uniform());
  for (auto& x : q_) x = float(o_.init_low + (o_.init_high - o_.init_low) * rng.uniform());
  bu_.assign(nu, 0.0f);
  bi_.assign(ni, 0.0f);
  mu_ = float(t.global_mean);
  std::vector<double> un(nu * K), ud(nu * K), in(ni * K), id(ni * K);
  for (int e = 0; e < o_.n_epochs; ++e) {
    std::fill(un.begin(), un.end(), 0.0);
    std::fill(ud.begin(), ud.end(), 0.0);
    std::fill(in.begin(), in.end(), 0.0);
    std::fill(id.begin(), id.end(), 0.0);
    for (size_t k = 0; k < t.n_ratings(); ++k) {
      const size_t u = size_t(t.u[k]), i = size_t(t.i[k]);
      const float* pu = p_.data() + u * K;
      const float* qi = q_.data() + i * K;
      const double r = t.r[k];
      double est = dot_k(qi, pu, int(K));
      if (o_.biased) est += mu_ + bu_[u] + bi_[i];
      const double err = r - est;
      if (o_.biased) {
        bu_[u] += float(o_.lr_bu * (err - o_.reg_bu * bu_[u]));
        bi_[i] += float(o_.lr_bi * (err - o_.reg_bi * bi_[i]));
      }
      for (size_t f = 0; f < K; ++f) {
        un[u * K + f] += qi[f] * r;
        ud[u * K + f] += qi[f] * est;
        in[i * K + f] += pu[f] * r;
        id[i * K + f] += pu[f] * est;
      }
    }
    for (size_t u = 0; u < nu; ++u) {
      const double n = double(t.user_count(int32_t(u)));
      for (size_t f = 0; f < K; ++f) {
        float& x = p_[u * K + f];
        if (x == 0.0f) continue;
        const double d = ud[u * K + f] + n * o_.reg_pu * x;
        if (d > 0) x = float(x * un[u * K + f] / d);
      }
    }
    for (size_t i = 0; i < ni; ++i) {
      const double n = double(t.item_count(int32_t(i)));
      for (size_t f = 0; f < K; ++f) {
        float& x = q_[i * K + f];
        if (x == 0.0f) continue;
        const double d = id[i * K + f] + n * o_.reg_qi * x;
        if (d > 0) x = float(x * in[i * K + f] / d);
      }
    }
  }
}

bool Nmf::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  est = t.global_mean;
  if (!t.knows_user(u) || !t.knows_item(i)) return false;
  const size_t K = size_t(o_.n_factors);
  est = dot_k(q_.data() + size_t(i) * K, p_.data() + size_t(u) * K, int(K));
  if (o_.biased) est += t.global_mean + bu_[size_t(u)] + bi_[size_t(i)];
  return true;
}

void Nmf::save_params(BinWriter& w) const {
  w.vec(p_);
  w.vec(q_);
  w.vec(bu_);
  w.vec(bi_);
}
void Nmf::load_params(BinReader& r) {
  p_ = r.vec<float>();
  q_ = r.vec<float>();
  bu_ = r.vec<float>();
  bi_ = r.vec<float>();
  const size_t K = size_t(o_.n_factors);
  check_sizes(r, p_, size_t(ts().n_users) * K, "nmf user factors");
  check_sizes(r, q_, size_t(ts().n_items) * K, "nmf item factors");
  check_sizes(r, bu_, size_t(ts().n_users), "nmf user biases");
  check_sizes(r, bi_, size_t(ts().n_items), "nmf item biases");
  mu_ = float(ts().global_mean);
}

}  // namespace kun::recsys
