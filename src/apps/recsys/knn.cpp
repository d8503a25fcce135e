// Neighbourhood collaborative filtering: similarity matrices and the three prediction rules.
#include <algorithm>
#include <cmath>

#include "kun/apps/recsys/algorithms.h"
#include "kun/core/error.h"
#include "kun/core/threading.h"

namespace kun::recsys {

namespace {
// The "x" side (whose rows hold similarities) and the "y" side, as CSR views of the train set.
struct Sides {
  int32_t nx, ny;
  const int64_t* x_ptr;  // x -> its ys
  const int32_t* x_y;
  const float* x_r;
  const int64_t* y_ptr;  // y -> its xs
  const int32_t* y_x;
  const float* y_r;
};
Sides sides(const TrainSet& t, bool user_based) {
  if (user_based)
    return {t.n_users, t.n_items, t.ur_ptr.data(), t.ur_item.data(), t.ur_rating.data(),
            t.ir_ptr.data(), t.ir_user.data(), t.ir_rating.data()};
  return {t.n_items, t.n_users, t.ir_ptr.data(), t.ir_user.data(), t.ir_rating.data(),
          t.ur_ptr.data(), t.ur_item.data(), t.ur_rating.data()};
}
}  // namespace

std::vector<float> compute_similarity(const TrainSet& t, const KnnOptions& o, const std::vector<double>& bu,
                                      const std::vector<double>& bi) {
  const Sides s = sides(t, o.user_based);
  const size_t nx = size_t(s.nx);
  const std::vector<double>& bx = o.user_based ? bu : bi;
  const std::vector<double>& by = o.user_based ? bi : bu;
  if (o.sim == Similarity::pearson_baseline)
    KUN_CHECK(bx.size() == nx && by.size() == size_t(s.ny), ValueError, "knn: pearson_baseline needs baselines");
  const double mu = t.global_mean;
  std::vector<float> sim(nx * nx, 0.0f);
  // Each row xi is independent: accumulate co-rating statistics against every xj over the ys xi rated.
  parallel_for(int64_t(nx), 16, [&](int64_t b, int64_t e) {
    std::vector<int32_t> freq(nx);
    std::vector<double> prods(nx), sqi(nx), sqj(nx), si(nx), sj(nx);
    for (int64_t xi = b; xi < e; ++xi) {
      std::fill(freq.begin(), freq.end(), 0);
      std::fill(prods.begin(), prods.end(), 0.0);
      std::fill(sqi.begin(), sqi.end(), 0.0);
      std::fill(sqj.begin(), sqj.end(), 0.0);
      std::fill(si.begin(), si.end(), 0.0);
      std::fill(sj.begin(), sj.end(), 0.0);
      for (int64_t a = s.x_ptr[xi]; a < s.x_ptr[xi + 1]; ++a) {
        const int32_t y = s.x_y[a];
        double ri = s.x_r[a];
        if (o.sim == Similarity::pearson_baseline) ri -= mu + bx[size_t(xi)] + by[size_t(y)];
        for (int64_t c = s.y_ptr[y]; c < s.y_ptr[y + 1]; ++c) {
          const size_t xj = size_t(s.y_x[c]);
          double rj = s.y_r[c];
          if (o.sim == Similarity::pearson_baseline) rj -= mu + bx[xj] + by[size_t(y)];
          ++freq[xj];
          switch (o.sim) {
            case Similarity::msd: prods[xj] += (ri - rj) * (ri - rj); break;
            case Similarity::cosine:
            case Similarity::pearson_baseline:
              prods[xj] += ri * rj;
              sqi[xj] += ri * ri;
              sqj[xj] += rj * rj;
              break;
            case Similarity::pearson:
              prods[xj] += ri * rj;
              sqi[xj] += ri * ri;
              sqj[xj] += rj * rj;
              si[xj] += ri;
              sj[xj] += rj;
              break;
          }
        }
      }
      float* row = sim.data() + size_t(xi) * nx;
      for (size_t xj = 0; xj < nx; ++xj) {
        const double n = freq[xj];
        double v = 0;
        if (n >= std::max(1, o.min_support)) {
          switch (o.sim) {
            case Similarity::msd: v = 1.0 / (prods[xj] / n + 1.0); break;
            case Similarity::cosine: {
              const double d = std::sqrt(sqi[xj] * sqj[xj]);
              v = d > 0 ? prods[xj] / d : 0.0;
              break;
            }
            case Similarity::pearson: {
              const double d = std::sqrt(std::max(0.0, n * sqi[xj] - si[xj] * si[xj]) *
                                         std::max(0.0, n * sqj[xj] - sj[xj] * sj[xj]));
              v = d > 0 ? (n * prods[xj] - si[xj] * sj[xj]) / d : 0.0;
              break;
            }
            case Similarity::pearson_baseline: {
              const double d = std::sqrt(sqi[xj] * sqj[xj]);
              v = d > 0 ? prods[xj] / d * (n - 1) / (n - 1 + o.shrinkage) : 0.0;
              break;
            }
          }
        }
        row[xj] = static_cast<float>(v);
      }
      row[xi] = 1.0f;
    }
  });
  return sim;
}

std::string KnnRecommender::kind() const {
  switch (o_.rule) {
    case KnnRule::basic: return "knn_basic";
    case KnnRule::with_means: return "knn_with_means";
    case KnnRule::baseline: return "knn_baseline";
  }
  return "knn";
}

void KnnRecommender::fit_impl() {
  const TrainSet& t = ts();
  const bool need_bsl = o_.rule == KnnRule::baseline || o_.sim == Similarity::pearson_baseline;
  if (need_bsl) fit_baselines(t, o_.baseline, bu_, bi_);
  else bu_.clear(), bi_.clear();
  const Sides s = sides(t, o_.user_based);
  means_.assign(size_t(s.nx), t.global_mean);
  for (int32_t x = 0; x < s.nx; ++x) {
    double sum = 0;
    for (int64_t a = s.x_ptr[x]; a < s.x_ptr[x + 1]; ++a) sum += s.x_r[a];
    if (s.x_ptr[x + 1] > s.x_ptr[x]) means_[size_t(x)] = sum / double(s.x_ptr[x + 1] - s.x_ptr[x]);
  }
  sim_ = compute_similarity(t, o_, bu_, bi_);
}

bool KnnRecommender::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  const bool ku = t.knows_user(u), ki = t.knows_item(i);
  est = t.global_mean;
  if (o_.rule == KnnRule::baseline) {
    if (ku) est += bu_[size_t(u)];
    if (ki) est += bi_[size_t(i)];
  }
  if (!ku || !ki) return o_.rule == KnnRule::baseline;
  const Sides s = sides(t, o_.user_based);
  const int32_t x = o_.user_based ? u : i, y = o_.user_based ? i : u;
  const float* row = sim_.data() + size_t(x) * size_t(s.nx);
  // neighbours: the xs that rated y, keep the k most similar (ties: earlier first, as heapq.nlargest)
  struct Nb {
    float sim;
    int32_t pos;
  };
  thread_local std::vector<Nb> nbs;
  nbs.clear();
  for (int64_t c = s.y_ptr[y]; c < s.y_ptr[y + 1]; ++c) nbs.push_back({row[s.y_x[c]], int32_t(c - s.y_ptr[y])});
  const size_t k = std::min(nbs.size(), size_t(o_.k));
  auto better = [](const Nb& a, const Nb& b) { return a.sim > b.sim || (a.sim == b.sim && a.pos < b.pos); };
  if (k < nbs.size()) std::nth_element(nbs.begin(), nbs.begin() + std::ptrdiff_t(k), nbs.end(), better);
  double sum_sim = 0, sum_r = 0;
  int actual_k = 0;
  const std::vector<double>& bx = o_.user_based ? bu_ : bi_;
  const std::vector<double>& by = o_.user_based ? bi_ : bu_;
  for (size_t a = 0; a < k; ++a) {
    if (nbs[a].sim <= 0) continue;
    const int64_t c = s.y_ptr[y] + nbs[a].pos;
    const int32_t x2 = s.y_x[c];
    const double r = s.y_r[c];
    sum_sim += nbs[a].sim;
    switch (o_.rule) {
      case KnnRule::basic: sum_r += nbs[a].sim * r; break;
      case KnnRule::with_means: sum_r += nbs[a].sim * (r - means_[size_t(x2)]); break;
      case KnnRule::baseline: sum_r += nbs[a].sim * (r - (t.global_mean + bx[size_t(x2)] + by[size_t(y)])); break;
    }
    ++actual_k;
  }
  switch (o_.rule) {
    case KnnRule::basic:
      if (actual_k < o_.min_k || sum_sim <= 0) return false;  // not enough neighbours: global mean
      est = sum_r / sum_sim;
      return true;
    case KnnRule::with_means:
      est = means_[size_t(x)];
      if (actual_k >= o_.min_k && sum_sim > 0) est += sum_r / sum_sim;
      return true;
    case KnnRule::baseline:
      if (actual_k >= o_.min_k && sum_sim > 0) est += sum_r / sum_sim;
      return true;
  }
  return false;
}

std::vector<Scored> KnnRecommender::similar_items(int32_t i, int n) const {
  if (o_.user_based) return Recommender::similar_items(i, n);
  const TrainSet& t = train();
  KUN_CHECK(t.knows_item(i), ValueError, kind(), ": item ", i, " has no training ratings, so it has no similar items");
  std::vector<Scored> c;
  const float* row = sim_.data() + size_t(i) * size_t(t.n_items);
  for (int32_t j = 0; j < t.n_items; ++j)
    if (j != i && t.knows_item(j)) c.push_back({j, row[j]});
  const size_t m = std::min(c.size(), size_t(std::max(n, 0)));
  std::partial_sort(c.begin(), c.begin() + std::ptrdiff_t(m), c.end(), [](const Scored& a, const Scored& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  });
  c.resize(m);
  return c;
}

void KnnRecommender::save_params(BinWriter& w) const {
  w.vec(sim_);
  w.vec(means_);
  w.vec(bu_);
  w.vec(bi_);
}
void KnnRecommender::load_params(BinReader& r) {
  sim_ = r.vec<float>();
  means_ = r.vec<double>();
  bu_ = r.vec<double>();
  bi_ = r.vec<double>();
  const size_t nx = size_t(o_.user_based ? ts().n_users : ts().n_items);
  if (sim_.size() != nx * nx || means_.size() != nx) r.fail("similarity matrix size");
  if (o_.rule == KnnRule::baseline && (bu_.size() != size_t(ts().n_users) || bi_.size() != size_t(ts().n_items)))
    r.fail("baseline sizes");
}

}  // namespace kun::recsys
