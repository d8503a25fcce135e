// Metrics against hand-computed values, cross-validation, model files and the CLI verbs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "golden_util.h"
#include "kun/apps/recsys/algorithms.h"
#include "kun/apps/recsys/cli.h"
#include "kun/apps/recsys/evaluate.h"
#include "recsys_test_util.h"

using namespace kun::recsys;
using namespace kun::recsys::testing;

TEST(RecsysMetrics, RatingMetricsByHand) {
  EXPECT_NEAR(rmse({1, 2, 3}, {1, 4, 4}), std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_NEAR(mae({1, 2, 3}, {1, 4, 4}), 1.0, 1e-12);
  KUN_EXPECT_ERROR(rmse({1}, {1, 2}), "rmse", "1 and 2");
  KUN_EXPECT_ERROR(mae({}, {}), "mae");
}

TEST(RecsysMetrics, RankingMetricsByHand) {
  const std::vector<int32_t> ranked = {3, 1, 7, 2}, rel = {1, 2};
  EXPECT_NEAR(precision_at_k(ranked, rel, 3), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(recall_at_k(ranked, rel, 3), 0.5, 1e-12);
  EXPECT_NEAR(ndcg_at_k(ranked, rel, 3), (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_NEAR(average_precision_at_k(ranked, rel, 3), 0.25, 1e-12);
  EXPECT_NEAR(average_precision_at_k(ranked, rel, 4), (0.5 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(ndcg_at_k(ranked, rel, 4), (1 / std::log2(3.0) + 1 / std::log2(5.0)) / (1 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_TRUE(hit_at_k(ranked, rel, 2));
  EXPECT_FALSE(hit_at_k(ranked, rel, 1));
  EXPECT_NEAR(ndcg_at_k({5}, {5}, 10), 1.0, 1e-12);
  EXPECT_NEAR(precision_at_k({}, {1}, 10), 0.0, 1e-12);  // short list: precision over k
  KUN_EXPECT_ERROR(ndcg_at_k(ranked, rel, 0), "k must be >= 1");
}

TEST(RecsysMetrics, EvaluateRankingOnAKnownModel) {
  // popularity: items by count 0 (3), 1 (2), 2 (1), 3 (0); user 3 (cold) held out item 1
  TrainSet t = make_trainset(ratings({{0, 0, 5}, {1, 0, 4}, {2, 0, 1}, {0, 1, 3}, {1, 1, 2}, {2, 2, 2}}), 4, 4, {1, 5});
  Popularity p;
  p.fit(t);
  Ratings test = ratings({{3, 1, 5}, {2, 3, 4}});
  RankingMetrics m = evaluate_ranking(p, test, {.k = 1});
  // user 3 list [0] (miss); user 2 list [1] (miss: it wanted 3)
  EXPECT_EQ(m.n_users, 2u);
  EXPECT_EQ(m.hit_rate, 0.0);
  m = evaluate_ranking(p, test, {.k = 2});
  // user 3 list [0, 1] -> hit at rank 2; user 2 (rated 0, 2) list [1, 3] -> hit at rank 2
  EXPECT_NEAR(m.hit_rate, 1.0, 1e-12);
  EXPECT_NEAR(m.ndcg, 1 / std::log2(3.0), 1e-12);
  EXPECT_NEAR(m.precision, 0.5, 1e-12);
  EXPECT_NEAR(m.coverage, 3.0 / 4.0, 1e-12);
  m = evaluate_ranking(p, test, {.k = 2, .relevance_threshold = 4.5f});
  EXPECT_EQ(m.n_users, 1u);
}

TEST(RecsysEval, CrossValidateAndTable) {
  Dataset ds;
  for (int u = 0; u < 30; ++u)
    for (int i = 0; i < 20; ++i)
      if ((u * 7 + i * 3) % 4 != 0) ds.ratings.push(ds.users.add(std::to_string(u)), ds.items.add(std::to_string(i)),
                                                   float(1 + (u + i) % 5), 0);
  auto folds = k_fold(ds.ratings, 3, 1);
  CvResult a = cross_validate("baseline", {}, ds, folds);
  CvResult b = cross_validate("baseline", {}, ds, folds, {.parallel_folds = false});
  ASSERT_EQ(a.folds.size(), 3u);
  for (size_t f = 0; f < 3; ++f) EXPECT_DOUBLE_EQ(a.folds[f].rmse, b.folds[f].rmse);  // thread-count independent
  EXPECT_GT(a.mean(&FoldResult::rmse), 0.0);
  EXPECT_GE(a.std(&FoldResult::rmse), 0.0);
  const std::string table = format_cv_table({a});
  EXPECT_NE(table.find("baseline"), std::string::npos);
  EXPECT_NE(table.find("RMSE"), std::string::npos);
  KUN_EXPECT_ERROR(cross_validate("nope", {}, ds, folds), "unknown algorithm");
  // a fit that throws inside the parallel folds surfaces as the error, not a terminate
  KUN_EXPECT_ERROR(cross_validate("content", {}, ds, folds), "no item metadata");
}

namespace {
Dataset small_dataset() {
  Dataset ds;
  for (int u = 0; u < 25; ++u)
    for (int i = 0; i < 15; ++i)
      if ((u * 5 + i * 7) % 3 != 0)
        ds.ratings.push(ds.users.add(cat("u", u)), ds.items.add(cat("m", i)),
                        float(1 + (u * i + u) % 5), 0);
  ds.meta.genre_names = {"a", "b"};
  for (int i = 0; i < 15; ++i) {
    ds.meta.title.push_back(cat("Movie ", i % 4, " (199", i % 10, ")"));
    ds.meta.genres.push_back({i % 2});
  }
  return ds;
}
}  // namespace

TEST(RecsysModelFile, SaveLoadRoundTripEveryAlgorithm) {
  Dataset ds = small_dataset();
  for (const std::string& name : recommender_names()) {
    ModelBundle b;
    b.algorithm = name;
    if (name == "svd" || name == "svdpp" || name == "bpr" || name == "implicit_als") b.params.set("n_factors", "5");
    b.model = make_recommender(name, b.params);
    b.model->fit(make_trainset(ds.ratings, ds.users.size(), ds.items.size(), ds.scale, &ds.meta));
    b.users = ds.users;
    b.items = ds.items;
    b.meta = ds.meta;
    const std::string path = temp_path(name + ".kunrec");
    save_model(path, b);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    ModelBundle c = load_model(path);
    EXPECT_EQ(c.algorithm, name);
    EXPECT_EQ(c.users.external(3), "u3");
    EXPECT_EQ(c.meta.title[1], ds.meta.title[1]);
    for (int u = 0; u < 25; u += 4)
      for (int i = 0; i < 15; i += 3) EXPECT_FLOAT_EQ(c.model->predict(u, i), b.model->predict(u, i)) << name;
    auto r1 = b.model->recommend(2, 3), r2 = c.model->recommend(2, 3);
    ASSERT_EQ(r1.size(), r2.size());
    for (size_t k = 0; k < r1.size(); ++k) EXPECT_EQ(r1[k].item, r2[k].item) << name;
  }
}

TEST(RecsysModelFile, CorruptTruncatedAndForeignFilesAreClearErrors) {
  Dataset ds = small_dataset();
  ModelBundle b;
  b.algorithm = "svd";
  b.model = make_recommender("svd");
  b.model->fit(make_trainset(ds.ratings, ds.users.size(), ds.items.size(), ds.scale));
  const std::string path = temp_path("m.kunrec");
  save_model(path, b);
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  write_file("trunc.kunrec", bytes.substr(0, bytes.size() / 2));
  KUN_EXPECT_ERROR(load_model(temp_path("trunc.kunrec")), "trunc.kunrec", "corrupt or truncated");
  std::string flipped = bytes;
  flipped[bytes.size() / 3] ^= 0x5A;
  write_file("flip.kunrec", flipped);
  KUN_EXPECT_ERROR(load_model(temp_path("flip.kunrec")), "checksum");
  write_file("foreign.kunrec", "hello, I am not a model at all, just some text");
  KUN_EXPECT_ERROR(load_model(temp_path("foreign.kunrec")), "not a kun recsys model");
  std::string v2 = bytes;
  v2[8] = 2;
  write_file("v2.kunrec", v2);
  KUN_EXPECT_ERROR(load_model(temp_path("v2.kunrec")), "format version 2");
  KUN_EXPECT_ERROR(load_model(temp_path("missing.kunrec")), "cannot open");
  ModelBundle unfitted;
  unfitted.model = make_recommender("svd");
  KUN_EXPECT_ERROR(save_model(path, unfitted), "not fitted");
}

namespace {
int run_cli(std::vector<std::string> args, std::string* out = nullptr, std::string* err = nullptr) {
  args.insert(args.begin(), "recsys");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int rc = cli_main(int(argv.size()), argv.data());
  std::string o = ::testing::internal::GetCapturedStdout(), e = ::testing::internal::GetCapturedStderr();
  if (out) *out = o;
  if (err) *err = e;
  return rc;
}
}  // namespace

TEST(RecsysCli, TrainRecommendSimilarEval) {
  std::string csv = "user,item,rating,timestamp\n";
  for (int u = 0; u < 20; ++u)
    for (int i = 0; i < 12; ++i)
      if ((u + 2 * i) % 3 != 0) csv += cat(u, ",", 100 + i, ",", 1 + (u + i) % 5, ",", u * 100 + i, "\n");
  const std::string data = write_file("cli.csv", csv);
  const std::string model = temp_path("cli.kunrec");
  const std::string cfg = write_file("cli.toml", cat("[data]\npath = \"", data,
                                                     "\"\n[model]\nalgorithm = \"svd\"\n[model.params]\nn_factors = 8\n"
                                                     "n_epochs = 10\n[output]\nmodel = \"", model, "\"\n"));
  std::string out, err;
  ASSERT_EQ(run_cli({"train", cfg}, &out, &err), 0) << err;
  EXPECT_NE(out.find("trained svd"), std::string::npos);
  ASSERT_EQ(run_cli({"recommend", "--model", model, "--user", "3", "-n", "4"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("  1. 1"), std::string::npos) << out;
  EXPECT_NE(out.find("  4. "), std::string::npos) << out;
  EXPECT_EQ(out.find("  5. "), std::string::npos) << out;
  ASSERT_EQ(run_cli({"recommend", "--model", model, "--user", "stranger"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("unknown to the model"), std::string::npos);
  ASSERT_EQ(run_cli({"similar", "--model", model, "--item", "105", "-n", "3"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("  3. "), std::string::npos) << out;
  EXPECT_EQ(run_cli({"similar", "--model", model, "--item", "999"}, &out, &err), 1);
  EXPECT_NE(err.find("not in the model's catalogue"), std::string::npos) << err;
  ASSERT_EQ(run_cli({"--data", data, "eval", "-a", "baseline", "-a", "svd", "--folds", "3"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("baseline"), std::string::npos);
  EXPECT_NE(out.find("RMSE"), std::string::npos);
  ASSERT_EQ(run_cli({"--data", data, "eval", "--split", "loo", "-a", "popularity", "-k", "5"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("NDCG"), std::string::npos);
}

TEST(RecsysCli, ErrorsAreOneLineAndNonZero) {
  std::string out, err;
  EXPECT_NE(run_cli({"eval", "--data", temp_path("nowhere")}, &out, &err), 0);
  EXPECT_NE(run_cli({"--data", temp_path("nowhere"), "eval"}, &out, &err), 0);
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  const std::string bad = write_file("bad.toml", "[model\nalgorithm = 3\n");
  EXPECT_EQ(run_cli({"train", bad}, &out, &err), 1);
  EXPECT_NE(err.find("bad.toml"), std::string::npos) << err;
  const std::string typo = write_file("typo.toml", cat("[data]\npath = \"", write_file("t.csv", "1,1,5\n2,1,3\n"),
                                                       "\"\n[model]\nalgorithm = \"svd\"\n[model.params]\nfactors = 3\n"));
  EXPECT_EQ(run_cli({"train", typo}, &out, &err), 1);
  EXPECT_NE(err.find("no parameter 'factors'"), std::string::npos) << err;
  EXPECT_NE(run_cli({}, &out, &err), 0);  // a verb is required
  EXPECT_NE(run_cli({"recommend", "--model", temp_path("none.kunrec"), "--user", "1"}, &out, &err), 0);
}

TEST(RecsysCli, MovieLensRecommendShowsTitles) {
  if (!have_movielens()) GTEST_SKIP() << "MovieLens 100K not found at " << movielens_dir();
  const std::string model = temp_path("ml.kunrec");
  const std::string cfg = write_file("ml.toml", cat("[data]\npath = \"", movielens_dir(),
                                                    "\"\n[model]\nalgorithm = \"baseline\"\n[output]\nmodel = \"", model, "\"\n"));
  std::string out, err;
  ASSERT_EQ(run_cli({"train", cfg}, &out, &err), 0) << err;
  ASSERT_EQ(run_cli({"similar", "--model", model, "--item", "1", "-n", "3"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("Toy Story (1995)"), std::string::npos) << out;
  ASSERT_EQ(run_cli({"recommend", "--model", model, "--user", "1", "-n", "5"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("(19"), std::string::npos) << out;  // titles carry the year
}
