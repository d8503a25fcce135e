// Global mean, user/item biases (ALS and SGD, Surprise's BaselineOnly) and popularity.
#include <algorithm>
#include <cmath>

#include "kun/apps/recsys/algorithms.h"
#include "kun/core/error.h"

namespace kun::recsys {

bool GlobalMean::estimate(int32_t, int32_t, double& est) const {
  est = ts().global_mean;
  return true;
}

void fit_baselines(const TrainSet& t, const BaselineOptions& o, std::vector<double>& bu, std::vector<double>& bi) {
  bu.assign(size_t(t.n_users), 0.0);
  bi.assign(size_t(t.n_items), 0.0);
  const double mu = t.global_mean;
  if (!o.sgd) {
    // Alternate closed-form ridge solutions: b_i = sum(r - mu - b_u) / (reg_i + |U_i|), then b_u likewise.
    const int epochs = o.n_epochs < 0 ? 10 : o.n_epochs;
    for (int e = 0; e < epochs; ++e) {
      for (int32_t i = 0; i < t.n_items; ++i) {
        double dev = 0;
        for (int64_t k = t.ir_ptr[size_t(i)]; k < t.ir_ptr[size_t(i) + 1]; ++k)
          dev += t.ir_rating[size_t(k)] - mu - bu[size_t(t.ir_user[size_t(k)])];
        bi[size_t(i)] = dev / (o.reg_i + double(t.item_count(i)));
      }
      for (int32_t u = 0; u < t.n_users; ++u) {
        double dev = 0;
        for (int64_t k = t.ur_ptr[size_t(u)]; k < t.ur_ptr[size_t(u) + 1]; ++k)
          dev += t.ur_rating[size_t(k)] - mu - bi[size_t(t.ur_item[size_t(k)])];
        bu[size_t(u)] = dev / (o.reg_u + double(t.user_count(u)));
      }
    }
  } else {
    const int epochs = o.n_epochs < 0 ? 20 : o.n_epochs;
    for (int e = 0; e < epochs; ++e)
      for (size_t k = 0; k < t.n_ratings(); ++k) {
        const size_t u = size_t(t.u[k]), i = size_t(t.i[k]);
        const double err = t.r[k] - (mu + bu[u] + bi[i]);
        bu[u] += o.lr * (err - o.reg * bu[u]);
        bi[i] += o.lr * (err - o.reg * bi[i]);
      }
  }
}

void BaselineOnly::fit_impl() { fit_baselines(ts(), o_, bu_, bi_); }

bool BaselineOnly::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  est = t.global_mean;
  if (t.knows_user(u)) est += bu_[size_t(u)];
  if (t.knows_item(i)) est += bi_[size_t(i)];
  return true;
}

void BaselineOnly::save_params(BinWriter& w) const {
  w.vec(bu_);
  w.vec(bi_);
}
void BaselineOnly::load_params(BinReader& r) {
  bu_ = r.vec<double>();
  bi_ = r.vec<double>();
  if (bu_.size() != size_t(ts().n_users) || bi_.size() != size_t(ts().n_items)) r.fail("bias vector sizes");
}

// ---- popularity --------------------------------------------------------------------------------
void Popularity::fit_impl() {
  const TrainSet& t = ts();
  count_.assign(size_t(t.n_items), 0.0f);
  mean_.assign(size_t(t.n_items), t.global_mean);
  constexpr double kShrink = 10.0;  // item mean pulled toward mu as if kShrink extra mean ratings
  for (int32_t i = 0; i < t.n_items; ++i) {
    double s = 0;
    for (int64_t k = t.ir_ptr[size_t(i)]; k < t.ir_ptr[size_t(i) + 1]; ++k) s += t.ir_rating[size_t(k)];
    const double n = double(t.item_count(i));
    count_[size_t(i)] = float(n);
    mean_[size_t(i)] = (s + kShrink * t.global_mean) / (n + kShrink);
  }
}
bool Popularity::estimate(int32_t, int32_t i, double& est) const {
  est = ts().knows_item(i) ? mean_[size_t(i)] : ts().global_mean;
  return true;
}
void Popularity::score_items(int32_t, std::vector<float>& scores) const { scores = count_; }

}  // namespace kun::recsys
