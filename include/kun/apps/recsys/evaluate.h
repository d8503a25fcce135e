// Metrics (rating: RMSE, MAE; ranking: precision@k, recall@k, NDCG@k, MAP@k, hit rate, catalogue
// coverage) and the cross-validation runner that prints a Surprise-like table.
#pragma once
#include <string>
#include <vector>

#include "kun/apps/recsys/recommender.h"

namespace kun::recsys {

double rmse(const std::vector<float>& pred, const std::vector<float>& truth);
double mae(const std::vector<float>& pred, const std::vector<float>& truth);

// One user's ranked recommendations against the set of relevant items.
double precision_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k);
double recall_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k);
// Binary relevance: DCG = sum 1/log2(rank+1) over hits (rank from 1), normalised by the ideal DCG.
double ndcg_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k);
// Average precision truncated at k: sum of precision@rank at hits / min(k, |relevant|).
double average_precision_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k);
bool hit_at_k(const std::vector<int32_t>& ranked, const std::vector<int32_t>& relevant, int k);

struct RatingMetrics {
  double rmse = 0, mae = 0;
  size_t n = 0;
};
// Predicts every test rating (in parallel) and scores it.
RatingMetrics evaluate_ratings(const Recommender& m, const Ratings& test);

struct RankingOptions {
  int k = 10;
  // test ratings >= threshold count as relevant (0: every held-out item is relevant)
  float relevance_threshold = 0.0f;
};
struct RankingMetrics {
  double precision = 0, recall = 0, ndcg = 0, map = 0, hit_rate = 0, coverage = 0;
  size_t n_users = 0;
  int k = 10;
};
// Averages over the users that have at least one relevant test item; each user's list excludes
// the items they rated in training. Coverage = distinct recommended items / catalogue size.
RankingMetrics evaluate_ranking(const Recommender& m, const Ratings& test, const RankingOptions& o = {});

struct FoldResult {
  double rmse = 0, mae = 0, fit_seconds = 0, test_seconds = 0;
};
struct CvResult {
  std::string algorithm;
  std::vector<FoldResult> folds;
  double wall_seconds = 0;  // whole run, folds possibly in parallel
  double mean(double FoldResult::*field) const;
  double std(double FoldResult::*field) const;  // population std (as numpy / Surprise)
};
struct CvOptions {
  bool parallel_folds = true;  // folds run concurrently (each fit single-threaded inside)
};
// Fits `algorithm` with `params` on each fold's train part and scores its test part.
CvResult cross_validate(const std::string& algorithm, const Params& params, const Dataset& ds,
                        const std::vector<TrainTest>& folds, const CvOptions& o = {});
// Rows: algorithm, RMSE mean±std, MAE mean±std, fit time, test time (seconds, mean per fold).
std::string format_cv_table(const std::vector<CvResult>& results, bool per_fold = false);

}  // namespace kun::recsys
