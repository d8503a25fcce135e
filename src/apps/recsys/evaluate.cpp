// Metrics and cross-validation.
#include "kun/apps/recsys/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <sstream>
#include <unordered_map>

#include "kun/core/error.h"
#include "kun/core/threading.h"

namespace kun::recsys {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }
size_t top(const std::vector<int32_t>& ranked, int k) { return std::min(ranked.size(), size_t(std::max(k, 0))); }
}  // namespace

double rmse(const std::vector<float>& pred, const std::vector<float>& truth) {
  KUN_CHECK(pred.size() == truth.size() && !pred.empty(), ValueError, "rmse: need equal non-empty sizes, got ",
            pred.size(), " and ", truth.size());
  double s = 0;
  for (size_t k = 0; k < pred.size(); ++k) s += (double(pred[k]) - truth[k]) * (double(pred[k]) - truth[k]);
  return std::sqrt(s / double(pred.size()));
}
double mae(const std::vector<float>& pred, const std::vector<float>& truth) {
  KUN_CHECK(pred.size() == truth.size() && !pred.empty(), ValueError, "mae: need equal non-empty sizes, got ",
            pred.size(), " and ", truth.size());
  double s = 0;
  for (size_t k = 0; k < pred.size(); ++k) s += std::abs(double(pred[k]) - truth[k]);
  return s / double(pred.size());
}

double precision_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k) {
  KUN_CHECK(k >= 1, ValueError, "precision_at_k: k must be >= 1, got ", k);
  size_t hits = 0;
  for (size_t r = 0; r < top(ranked, k); ++r) hits += contains(relevant, ranked[r]);
  return double(hits) / double(k);
}
double recall_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k) {
  KUN_CHECK(k >= 1, ValueError, "recall_at_k: k must be >= 1, got ", k);
  if (relevant.empty()) return 0.0;
  size_t hits = 0;
  for (size_t r = 0; r < top(ranked, k); ++r) hits += contains(relevant, ranked[r]);
  return double(hits) / double(relevant.size());
}
double ndcg_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k) {
  KUN_CHECK(k >= 1, ValueError, "ndcg_at_k: k must be >= 1, got ", k);
  double dcg = 0, idcg = 0;
  for (size_t r = 0; r < top(ranked, k); ++r)
    if (contains(relevant, ranked[r])) dcg += 1.0 / std::log2(double(r) + 2.0);
  for (size_t r = 0; r < std::min(relevant.size(), size_t(k)); ++r) idcg += 1.0 / std::log2(double(r) + 2.0);
  return idcg > 0 ? dcg / idcg : 0.0;
}
double average_precision_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k) {
  KUN_CHECK(k >= 1, ValueError, "average_precision_at_k: k must be >= 1, got ", k);
  if (relevant.empty()) return 0.0;
  double s = 0;
  size_t hits = 0;
  for (size_t r = 0; r < top(ranked, k); ++r)
    if (contains(relevant, ranked[r])) s += double(++hits) / double(r + 1);
  return s / double(std::min(relevant.size(), size_t(k)));
}
bool hit_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k) {
  for (size_t r = 0; r < top(ranked, k); ++r)
    if (contains(relevant, ranked[r])) return true;
  return false;
}

RatingMetrics evaluate_ratings(const Recommender& m, const Ratings& test) {
  KUN_CHECK(test.size() > 0, ValueError, "evaluate_ratings: the test set is empty");
  (void)m.train();  // throws here (not inside the parallel loop) when the model is not fitted
  std::vector<float> pred(test.size());
  parallel_for(int64_t(test.size()), 2048, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) pred[size_t(k)] = m.predict(test.user[size_t(k)], test.item[size_t(k)]);
  });
  return {rmse(pred, test.rating), mae(pred, test.rating), test.size()};
}

RankingMetrics evaluate_ranking(const Recommender& m, const Ratings& test, const RankingOptions& o) {
  KUN_CHECK(o.k >= 1, ValueError, "evaluate_ranking: k must be >= 1, got ", o.k);
  std::unordered_map<int32_t, std::vector<int32_t>> rel;
  for (size_t k = 0; k < test.size(); ++k)
    if (test.rating[k] >= o.relevance_threshold) rel[test.user[k]].push_back(test.item[k]);
  std::vector<std::pair<int32_t, std::vector<int32_t>>> users(rel.begin(), rel.end());
  std::sort(users.begin(), users.end(), [](auto& a, auto& b) { return a.first < b.first; });
  RankingMetrics out;
  out.k = o.k;
  out.n_users = users.size();
  if (users.empty()) return out;
  const int32_t n_items = m.train().n_items;
  std::vector<double> prec(users.size()), rec(users.size()), nd(users.size()), ap(users.size()), hit(users.size());
  std::vector<std::vector<int32_t>> lists(users.size());
  parallel_for(int64_t(users.size()), 16, [&](int64_t b, int64_t e) {
    for (int64_t x = b; x < e; ++x) {
      const auto& [u, relevant] = users[size_t(x)];
      std::vector<int32_t> ranked;
      for (auto& s : m.recommend(u, o.k)) ranked.push_back(s.item);
      prec[size_t(x)] = precision_at_k(ranked, relevant, o.k);
      rec[size_t(x)] = recall_at_k(ranked, relevant, o.k);
      nd[size_t(x)] = ndcg_at_k(ranked, relevant, o.k);
      ap[size_t(x)] = average_precision_at_k(ranked, relevant, o.k);
      hit[size_t(x)] = hit_at_k(ranked, relevant, o.k) ? 1.0 : 0.0;
      lists[size_t(x)] = std::move(ranked);
    }
  });
  auto avg = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / double(v.size());
  };
  out.precision = avg(prec);
  out.recall = avg(rec);
  out.ndcg = avg(nd);
  out.map = avg(ap);
  out.hit_rate = avg(hit);
  std::vector<char> seen(size_t(n_items), 0);
  size_t distinct = 0;
  for (auto& l : lists)
    for (int32_t i : l)
      if (!seen[size_t(i)]) seen[size_t(i)] = 1, ++distinct;
  out.coverage = n_items ? double(distinct) / double(n_items) : 0.0;
  return out;
}

double CvResult::mean(double FoldResult::*field) const {
  double s = 0;
  for (auto& f : folds) s += f.*field;
  return folds.empty() ? 0.0 : s / double(folds.size());
}
double CvResult::std(double FoldResult::*field) const {
  if (folds.empty()) return 0.0;
  const double m = mean(field);
  double s = 0;
  for (auto& f : folds) s += (f.*field - m) * (f.*field - m);
  return std::sqrt(s / double(folds.size()));
}

CvResult cross_validate(const std::string& algorithm, const Params& params, const Dataset& ds,
                        const std::vector<TrainTest>& folds, const CvOptions& o) {
  KUN_CHECK(!folds.empty(), ValueError, "cross_validate: no folds");
  make_recommender(algorithm, params);  // validates the name and parameters before any work
  CvResult res;
  res.algorithm = algorithm;
  res.folds.resize(folds.size());
  const auto t_all = std::chrono::steady_clock::now();
  auto run_fold = [&](size_t f) {
    auto m = make_recommender(algorithm, params);
    auto t0 = std::chrono::steady_clock::now();
    m->fit(std::make_shared<const TrainSet>(
        make_trainset(folds[f].train, ds.users.size(), ds.items.size(), ds.scale, &ds.meta)));
    res.folds[f].fit_seconds = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    RatingMetrics rm = evaluate_ratings(*m, folds[f].test);
    res.folds[f].test_seconds = seconds_since(t0);
    res.folds[f].rmse = rm.rmse;
    res.folds[f].mae = rm.mae;
  };
  if (o.parallel_folds) {
    // fold-level parallelism: the per-fold fits then run their own parallel_for inline. An exception
    // must not leave an OpenMP region (that terminates): keep the first and rethrow it here.
    std::vector<std::exception_ptr> errors(folds.size());
    parallel_for(int64_t(folds.size()), 1, [&](int64_t b, int64_t e) {
      for (int64_t f = b; f < e; ++f) {
        try {
          run_fold(size_t(f));
        } catch (...) {
          errors[size_t(f)] = std::current_exception();
        }
      }
    });
    for (auto& err : errors)
      if (err) std::rethrow_exception(err);
  } else {
    for (size_t f = 0; f < folds.size(); ++f) run_fold(f);
  }
  res.wall_seconds = seconds_since(t_all);
  return res;
}

std::string format_cv_table(const std::vector<CvResult>& results, bool per_fold) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %-18s %-18s %9s %9s %9s\n", "Algorithm", "RMSE (mean±std)", "MAE (mean±std)",
                "Fit (s)", "Test (s)", "Wall (s)");
  os << line;
  for (auto& r : results) {
    char rm[32], ma[32];
    std::snprintf(rm, sizeof rm, "%.4f±%.4f", r.mean(&FoldResult::rmse), r.std(&FoldResult::rmse));
    std::snprintf(ma, sizeof ma, "%.4f±%.4f", r.mean(&FoldResult::mae), r.std(&FoldResult::mae));
    // "±" is two bytes in UTF-8: pad by one more so the columns line up in a terminal
    std::snprintf(line, sizeof line, "%-16s %-18s %-18s %9.3f %9.3f %9.3f\n", r.algorithm.c_str(), rm, ma,
                  r.mean(&FoldResult::fit_seconds), r.mean(&FoldResult::test_seconds), r.wall_seconds);
    os << line;
    if (per_fold)
      for (size_t f = 0; f < r.folds.size(); ++f) {
        std::snprintf(line, sizeof line, "  fold %-9zu %-17.4f %-17.4f %9.3f %9.3f\n", f + 1, r.folds[f].rmse,
                      r.folds[f].mae, r.folds[f].fit_seconds, r.folds[f].test_seconds);
        os << line;
      }
  }
  return os.str();
}

}  // namespace kun::recsys
