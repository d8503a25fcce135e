// Algorithms on tiny hand-made data with known answers, and against direct re-statements of
// Surprise's update loops.
#include <gtest/gtest.h>

#include <cmath>

#include "golden_util.h"
#include "kun/apps/recsys/algorithms.h"
#include "kun/apps/recsys/evaluate.h"
#include "recsys_test_util.h"

using namespace kun::recsys;
using namespace kun::recsys::testing;

namespace {
// u0: i0=5 i1=3 i2=4 ; u1: i0=4 i1=2 ; u2: i1=5 i2=1
TrainSet tiny() { return make_trainset(ratings({{0, 0, 5}, {0, 1, 3}, {0, 2, 4}, {1, 0, 4}, {1, 1, 2}, {2, 1, 5}, {2, 2, 1}}), 3, 3, {1, 5}); }

// Random ratings from a rank-2 model plus noise, on nu x ni.
Ratings low_rank(int nu, int ni, double density, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> a(size_t(nu) * 2), b(size_t(ni) * 2);
  for (auto& x : a) x = rng.normal(0, 1);
  for (auto& x : b) x = rng.normal(0, 1);
  Ratings r;
  for (int u = 0; u < nu; ++u)
    for (int i = 0; i < ni; ++i)
      if (rng.uniform() < density) {
        double v = 3 + 0.8 * (a[size_t(u) * 2] * b[size_t(i) * 2] + a[size_t(u) * 2 + 1] * b[size_t(i) * 2 + 1]);
        r.push(u, i, float(std::clamp(std::round(v * 2) / 2, 1.0, 5.0)), 0);
      }
  return r;
}

double train_rmse(const Recommender& m, const TrainSet& t) {
  double s = 0;
  for (size_t k = 0; k < t.n_ratings(); ++k) s += std::pow(m.predict(t.u[k], t.i[k]) - t.r[k], 2);
  return std::sqrt(s / double(t.n_ratings()));
}
}  // namespace

TEST(RecsysAlgorithms, GlobalMeanAndClipping) {
  GlobalMean g;
  g.fit(tiny());
  EXPECT_FLOAT_EQ(g.predict(0, 0), 24.0f / 7.0f);
  EXPECT_FLOAT_EQ(g.predict(99, -3), 24.0f / 7.0f);  // any id: defined fallback
  KUN_EXPECT_ERROR(GlobalMean().predict(0, 0), "not fitted");
}

TEST(RecsysAlgorithms, BaselineAlsOneEpochByHand) {
  // u0: i0=5 i1=3, u1: i0=4 ; mu = 4. reg 0, one epoch:
  // b_i0 = ((5-4) + (4-4)) / 2 = 0.5, b_i1 = (3-4)/1 = -1; b_u0 = ((5-4-0.5) + (3-4+1)) / 2 = 0.25, b_u1 = -0.5
  TrainSet t = make_trainset(ratings({{0, 0, 5}, {0, 1, 3}, {1, 0, 4}}), 2, 2, {1, 5});
  BaselineOptions o;
  o.n_epochs = 1;
  o.reg_u = o.reg_i = 0;
  BaselineOnly b(o);
  b.fit(t);
  EXPECT_NEAR(b.bi()[0], 0.5, 1e-12);
  EXPECT_NEAR(b.bi()[1], -1.0, 1e-12);
  EXPECT_NEAR(b.bu()[0], 0.25, 1e-12);
  EXPECT_NEAR(b.bu()[1], -0.5, 1e-12);
  EXPECT_NEAR(b.predict(1, 1), 4 - 0.5 - 1.0, 1e-6);
  EXPECT_NEAR(b.predict(7, 0), 4.5, 1e-6);  // unknown user: mu + b_i
}

TEST(RecsysAlgorithms, BaselineSgdOneEpochByHand) {
  TrainSet t = make_trainset(ratings({{0, 0, 5}, {1, 1, 3}}), 2, 2, {1, 5});
  BaselineOptions o;
  o.sgd = true;
  o.n_epochs = 1;
  o.lr = 0.5;
  o.reg = 0;
  BaselineOnly b(o);
  b.fit(t);
  EXPECT_NEAR(b.bu()[0], 0.5, 1e-12);
  EXPECT_NEAR(b.bi()[1], -0.5, 1e-12);
  EXPECT_NEAR(b.predict(0, 0), 5.0, 1e-6);
  EXPECT_NEAR(b.predict(0, 1), 4.0, 1e-6);
}

TEST(RecsysAlgorithms, SimilaritiesByHand) {
  TrainSet t = tiny();
  KnnOptions o;
  std::vector<double> none;
  auto msd = compute_similarity(t, o, none, none);
  EXPECT_FLOAT_EQ(msd[0 * 3 + 1], 0.5f);
  EXPECT_FLOAT_EQ(msd[0 * 3 + 2], 1.0f / 7.5f);
  EXPECT_FLOAT_EQ(msd[1 * 3 + 2], 0.1f);
  EXPECT_FLOAT_EQ(msd[1 * 3 + 0], 0.5f);
  EXPECT_FLOAT_EQ(msd[2 * 3 + 2], 1.0f);
  o.sim = Similarity::cosine;
  auto cos = compute_similarity(t, o, none, none);
  EXPECT_NEAR(cos[0 * 3 + 1], 26.0 / std::sqrt(680.0), 1e-6);
  o.sim = Similarity::pearson;
  auto pr = compute_similarity(t, o, none, none);
  EXPECT_NEAR(pr[0 * 3 + 1], 1.0, 1e-6);
  EXPECT_NEAR(pr[0 * 3 + 2], -1.0, 1e-6);
  EXPECT_NEAR(pr[1 * 3 + 2], 0.0, 1e-6);  // one common item: zero variance -> 0
  o.min_support = 3;
  auto ms = compute_similarity(t, o, none, none);
  EXPECT_EQ(ms[0 * 3 + 1], 0.0f);  // fewer common items than min_support
  // pearson_baseline with zero baselines around mu: residuals r - mu, shrunk by (n-1)/(n-1+100)
  o.min_support = 1;
  o.sim = Similarity::pearson_baseline;
  std::vector<double> bu(3, 0.0), bi(3, 0.0);
  auto pb = compute_similarity(t, o, bu, bi);
  const double mu = 24.0 / 7.0;
  const double d0[2] = {5 - mu, 3 - mu}, d1[2] = {4 - mu, 2 - mu};
  const double want = (d0[0] * d1[0] + d0[1] * d1[1]) /
                      std::sqrt((d0[0] * d0[0] + d0[1] * d0[1]) * (d1[0] * d1[0] + d1[1] * d1[1])) * 1.0 / 101.0;
  EXPECT_NEAR(pb[0 * 3 + 1], want, 1e-6);
}

TEST(RecsysAlgorithms, KnnPredictionRulesByHand) {
  KnnOptions o;
  KnnRecommender basic(o);
  basic.fit(tiny());
  // neighbours of u1 that rated i2: u0 (sim 0.5, r 4), u2 (sim 0.1, r 1)
  EXPECT_NEAR(basic.predict(1, 2), (0.5 * 4 + 0.1 * 1) / 0.6, 1e-5);
  o.k = 1;
  KnnRecommender k1(o);
  k1.fit(tiny());
  EXPECT_NEAR(k1.predict(1, 2), 4.0, 1e-5);
  o.k = 40;
  o.rule = KnnRule::with_means;
  KnnRecommender means(o);
  means.fit(tiny());
  EXPECT_NEAR(means.predict(1, 2), 3.0 + (0.5 * 0 + 0.1 * (1 - 3)) / 0.6, 1e-5);
  // item-based: i2's neighbours among u1's items
  o.rule = KnnRule::basic;
  o.user_based = false;
  KnnRecommender ib(o);
  ib.fit(tiny());
  EXPECT_EQ(ib.kind(), "knn_basic");
  auto sim = ib.similar_items(0, 2);
  ASSERT_EQ(sim.size(), 2u);
  EXPECT_EQ(sim[0].item, 2);  // msd(i0,i2) = 1/(1+1) = 0.5 > msd(i0,i1) = 1/(4+1)
  EXPECT_NEAR(sim[0].score, 0.5, 1e-6);
  EXPECT_NEAR(sim[1].score, 0.2, 1e-6);
  // unknown user / item: global mean
  EXPECT_NEAR(basic.predict(5, 1), 24.0 / 7.0, 1e-5);
  // knn_baseline with an unknown item: the user's baseline
  o.rule = KnnRule::baseline;
  o.user_based = true;
  KnnRecommender kb(o);
  kb.fit(tiny());
  double est = 0;
  EXPECT_TRUE(kb.estimate(0, 17, est));
}

TEST(RecsysAlgorithms, SvdMatchesSurpriseLoop) {
  Ratings r = low_rank(30, 40, 0.3, 3);
  TrainSet t = make_trainset(r, 30, 40, {1, 5});
  SvdOptions o;
  o.n_factors = 10;
  o.n_epochs = 5;
  o.seed = 7;
  Svd svd(o);
  svd.fit(t);
  // the same loop written plainly in double (Surprise's sgd), same initialisation stream
  Rng rng(7);
  const int K = 10;
  std::vector<double> P(30 * K), Q(40 * K), bu(30, 0), bi(40, 0);
  for (auto& x : P) x = float(rng.normal(0, 0.1));
  for (auto& x : Q) x = float(rng.normal(0, 0.1));
  const double mu = t.global_mean;
  for (int e = 0; e < 5; ++e)
    for (size_t k = 0; k < t.n_ratings(); ++k) {
      const int u = t.u[k], i = t.i[k];
      double dot = 0;
      for (int f = 0; f < K; ++f) dot += Q[size_t(i * K + f)] * P[size_t(u * K + f)];
      const double err = t.r[k] - (mu + bu[size_t(u)] + bi[size_t(i)] + dot);
      bu[size_t(u)] += 0.005 * (err - 0.02 * bu[size_t(u)]);
      bi[size_t(i)] += 0.005 * (err - 0.02 * bi[size_t(i)]);
      for (int f = 0; f < K; ++f) {
        const double puf = P[size_t(u * K + f)], qif = Q[size_t(i * K + f)];
        P[size_t(u * K + f)] += 0.005 * (err * qif - 0.02 * puf);
        Q[size_t(i * K + f)] += 0.005 * (err * puf - 0.02 * qif);
      }
    }
  for (int u = 0; u < 30; u += 7)
    for (int i = 0; i < 40; i += 9) {
      if (!t.knows_user(u) || !t.knows_item(i)) continue;
      double want = mu + bu[size_t(u)] + bi[size_t(i)];
      for (int f = 0; f < K; ++f) want += Q[size_t(i * K + f)] * P[size_t(u * K + f)];
      double got = 0;
      svd.estimate(u, i, got);
      EXPECT_NEAR(got, want, 1e-4) << u << "," << i;
    }
}

TEST(RecsysAlgorithms, SvdFitsLowRankDataAndFallsBack) {
  Ratings r = low_rank(40, 50, 0.4, 5);
  TrainSet t = make_trainset(r, 41, 51, {1, 5});
  SvdOptions o;
  o.n_factors = 8;
  o.n_epochs = 60;
  o.lr = 0.02;
  Svd svd(o);
  svd.fit(t);
  EXPECT_LT(train_rmse(svd, t), 0.45);
  BaselineOnly b;
  b.fit(t);
  EXPECT_LT(train_rmse(svd, t), train_rmse(b, t));
  // user 40 and item 50 have no ratings: mu + b_i, mu + b_u, mu
  double e1 = 0, e2 = 0;
  svd.estimate(40, 3, e1);
  svd.estimate(40, 50, e2);
  EXPECT_NEAR(e2, t.global_mean, 1e-6);
  EXPECT_NE(e1, e2);
  EXPECT_GE(svd.predict(0, 0), 1.0f);
  EXPECT_LE(svd.predict(0, 0), 5.0f);
}

TEST(RecsysAlgorithms, SvdppMatchesSurpriseLoop) {
  Ratings r = low_rank(20, 25, 0.35, 11);
  TrainSet t = make_trainset(r, 20, 25, {1, 5});
  SvdppOptions o;
  o.n_factors = 6;
  o.n_epochs = 4;
  o.seed = 3;
  SvdPP m(o);
  m.fit(t);
  const int K = 6;
  Rng rng(3);
  std::vector<double> P(20 * K), Q(25 * K), Y(25 * K), bu(20, 0), bi(25, 0);
  for (auto& x : P) x = float(rng.normal(0, 0.1));
  for (auto& x : Q) x = float(rng.normal(0, 0.1));
  for (auto& x : Y) x = float(rng.normal(0, 0.1));
  const double mu = t.global_mean, lr = 0.007, reg = 0.02;
  for (int e = 0; e < 4; ++e)
    for (size_t k = 0; k < t.n_ratings(); ++k) {
      const int u = t.u[k], i = t.i[k];
      const int64_t b = t.ur_ptr[size_t(u)], end = t.ur_ptr[size_t(u) + 1];
      const double sq = std::sqrt(double(end - b));
      std::vector<double> impl(K, 0.0);
      for (int64_t a = b; a < end; ++a)
        for (int f = 0; f < K; ++f) impl[size_t(f)] += Y[size_t(t.ur_item[size_t(a)] * K + f)] / sq;
      double dot = 0;
      for (int f = 0; f < K; ++f) dot += Q[size_t(i * K + f)] * (P[size_t(u * K + f)] + impl[size_t(f)]);
      const double err = t.r[k] - (mu + bu[size_t(u)] + bi[size_t(i)] + dot);
      bu[size_t(u)] += lr * (err - reg * bu[size_t(u)]);
      bi[size_t(i)] += lr * (err - reg * bi[size_t(i)]);
      for (int f = 0; f < K; ++f) {
        const double puf = P[size_t(u * K + f)], qif = Q[size_t(i * K + f)];
        P[size_t(u * K + f)] += lr * (err * qif - reg * puf);
        Q[size_t(i * K + f)] += lr * (err * (puf + impl[size_t(f)]) - reg * qif);
        for (int64_t a = b; a < end; ++a) {
          double& y = Y[size_t(t.ur_item[size_t(a)] * K + f)];
          y += lr * (err * qif / sq - reg * y);
        }
      }
    }
  for (int u = 0; u < 20; u += 3)
    for (int i = 0; i < 25; i += 4) {
      if (!t.knows_user(u) || !t.knows_item(i)) continue;
      const int64_t b = t.ur_ptr[size_t(u)], end = t.ur_ptr[size_t(u) + 1];
      double want = mu + bu[size_t(u)] + bi[size_t(i)];
      for (int f = 0; f < K; ++f) {
        double z = P[size_t(u * K + f)];
        for (int64_t a = b; a < end; ++a) z += Y[size_t(t.ur_item[size_t(a)] * K + f)] / std::sqrt(double(end - b));
        want += Q[size_t(i * K + f)] * z;
      }
      double got = 0;
      m.estimate(u, i, got);
      EXPECT_NEAR(got, want, 1e-4) << u << "," << i;
    }
}

TEST(RecsysAlgorithms, NmfStaysNonNegativeAndFits) {
  Ratings r = low_rank(30, 30, 0.5, 9);
  TrainSet t = make_trainset(r, 30, 30, {1, 5});
  Nmf m;
  m.fit(t);
  GlobalMean g;
  g.fit(t);
  EXPECT_LT(train_rmse(m, t), train_rmse(g, t));
  double est = 0;
  EXPECT_FALSE(m.estimate(99, 0, est));  // unknown: impossible, global mean fallback
  EXPECT_NEAR(m.predict(99, 0), t.global_mean, 1e-5);
  for (int u = 0; u < 30; ++u)
    for (int i = 0; i < 30; ++i)
      if (m.estimate(u, i, est)) {
        EXPECT_GE(est, 0.0);
      }
}

namespace {
// Two communities: users 0-9 like items 0-9, users 10-19 like items 10-19 (each rates 7 of 10).
TrainSet communities() {
  Ratings r;
  for (int u = 0; u < 20; ++u)
    for (int k = 0; k < 7; ++k) r.push(u, (u / 10) * 10 + (u + k * 3) % 10, 5, 0);
  return make_trainset(r, 20, 20, {1, 5});
}
void expect_in_block(const Recommender& m) {
  for (int u : {0, 3, 12, 19}) {
    auto rec = m.recommend(u, 3);
    ASSERT_EQ(rec.size(), 3u);
    for (auto& s : rec) {
      EXPECT_EQ(s.item / 10, u / 10) << m.kind() << " user " << u << " got item " << s.item;
      for (int64_t k = m.train().ur_ptr[size_t(u)]; k < m.train().ur_ptr[size_t(u) + 1]; ++k)
        EXPECT_NE(m.train().ur_item[size_t(k)], s.item) << "already rated item recommended";
    }
  }
}
}  // namespace

TEST(RecsysAlgorithms, ImplicitAlsRecommendsWithinCommunity) {
  ImplicitAlsOptions o;
  o.n_factors = 2;  // more factors learn the cyclic pattern of which items each user skipped
  o.alpha = 10;
  o.reg = 0.1;
  ImplicitAls m(o);
  m.fit(communities());
  expect_in_block(m);
}

TEST(RecsysAlgorithms, BprRecommendsWithinCommunity) {
  BprOptions o;
  o.n_factors = 8;
  o.n_epochs = 200;
  Bpr m(o);
  m.fit(communities());
  expect_in_block(m);
}

TEST(RecsysAlgorithms, NeuralCollaborativeFilteringRecommendsWithinCommunity) {
  // Two communities of 40 users over 10 items each; every user rated a different 6 of their 10.
  // The unrated in-block items are also drawn as negatives for that user, so only a model that
  // generalises across the community (not one that memorises each user) ranks them first.
  Ratings r;
  Rng pick(7);
  for (int u = 0; u < 80; ++u) {
    std::vector<int> items(10);
    for (int k = 0; k < 10; ++k) items[size_t(k)] = (u / 40) * 10 + k;
    for (int k = 9; k > 0; --k) std::swap(items[size_t(k)], items[size_t(pick.below(uint64_t(k + 1)))]);
    for (int k = 0; k < 6; ++k) r.push(u, items[size_t(k)], 5, 0);
  }
  const TrainSet t = make_trainset(r, 80, 20, {1, 5});
  for (const std::string model : {"gmf", "mlp", "neumf"}) {
    SCOPED_TRACE(model);
    NcfOptions o;
    o.model = model;
    o.n_factors = 4;
    o.layers = {16, 8};
    o.n_epochs = 20;
    o.negatives = 1;
    o.batch_size = 32;
    o.lr = 0.01;
    Ncf m(o);
    m.fit(t);
    ASSERT_EQ(m.loss_history().size(), 20u);
    EXPECT_LT(m.loss_history().back(), 0.8 * m.loss_history().front());
    // Negatives drawn from a user's own unrated items push those down for that user, so the test
    // is the community: for every user, the unrated items of their block score well above the
    // other block's items on average, and already-rated items are never recommended.
    int top_in_block = 0;
    for (int u = 0; u < 80; ++u) {
      std::vector<float> sc;
      m.score_items(u, sc);
      std::vector<bool> rated(20, false);
      for (int64_t k = t.ur_ptr[size_t(u)]; k < t.ur_ptr[size_t(u) + 1]; ++k) rated[size_t(t.ur_item[size_t(k)])] = true;
      double in = 0, out = 0;
      int n_in = 0;
      for (int i = 0; i < 20; ++i) {
        if (i / 10 == u / 40) {
          if (!rated[size_t(i)]) in += sc[size_t(i)], ++n_in;
        } else {
          out += sc[size_t(i)];
        }
      }
      EXPECT_GT(in / n_in, out / 10 + 1.0) << model << " user " << u;
      auto rec = m.recommend(u, 1);
      ASSERT_EQ(rec.size(), 1u);
      EXPECT_FALSE(rated[size_t(rec[0].item)]);
      top_in_block += rec[0].item / 10 == u / 40;
    }
    EXPECT_GE(top_in_block, 76) << model << ": first recommendation in the user's block for " << top_in_block << " of 80";
    // the same seed trains the same network
    Ncf again(o);
    again.fit(t);
    EXPECT_EQ(again.predict(3, 5), m.predict(3, 5));
  }
}

TEST(RecsysAlgorithms, NeuralCollaborativeFilteringRejectsBadOptions) {
  KUN_EXPECT_ERROR(make_recommender("neumf", {{"layers", "64,x"}}), "layers", "64,32,16");
  KUN_EXPECT_ERROR(make_recommender("mlp", {{"layers", "33,16"}}), "even width");
  KUN_EXPECT_ERROR(make_recommender("gmf", {{"negatives", "0"}}), "negatives >= 1");
  KUN_EXPECT_ERROR(make_recommender("neumf", {{"factors", "8"}}), "factors");
}

TEST(RecsysAlgorithms, PopularityAndColdUsers) {
  TrainSet t = make_trainset(ratings({{0, 0, 5}, {1, 0, 4}, {2, 0, 1}, {0, 1, 3}, {1, 2, 2}}), 4, 4, {1, 5});
  Popularity p;
  p.fit(t);
  auto rec = p.recommend(0, 5);  // items 0, 1 rated by user 0 are excluded
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(rec[0].item, 2);
  EXPECT_EQ(rec[1].item, 3);
  Svd svd;
  svd.fit(t);
  auto cold = svd.recommend(3, 2);  // user 3 has no ratings: most popular first
  ASSERT_EQ(cold.size(), 2u);
  EXPECT_EQ(cold[0].item, 0);
  KUN_EXPECT_ERROR(svd.similar_items(3, 2), "no training ratings");
  EXPECT_TRUE(svd.recommend(0, 0).empty());
}

TEST(RecsysAlgorithms, ContentProfilesAndHybridColdItems) {
  auto meta = std::make_shared<ItemMeta>();
  meta->genre_names = {"Action", "Comedy", "Drama"};
  meta->title = {"Star Wars (1977)", "Return of the Jedi (1983)", "Clueless (1995)", "Star Wars Holiday Special (1978)"};
  meta->genres = {{0}, {0}, {1}, {0}};
  Ratings r = ratings({{0, 0, 5}, {0, 2, 1}, {1, 0, 4}, {1, 1, 5}, {1, 2, 2}, {2, 2, 5}, {2, 1, 2}});
  TrainSet t = make_trainset(r, 3, 4, {1, 5}, meta.get());
  ContentBased c;
  c.fit(t);
  auto sim = c.similar_items(0, 3);
  ASSERT_EQ(sim.size(), 3u);
  EXPECT_EQ(sim[0].item, 3);  // same genre and shares "star", "wars"
  EXPECT_EQ(sim[2].item, 2);  // nothing in common
  // user 0 likes item 0 (action) and dislikes item 2 (comedy): the unseen action item ranks first
  EXPECT_GT(c.predict(0, 3), c.predict(0, 2) - 1e-3);
  Hybrid h(make_recommender("svd", {{"n_factors", "4"}}));
  h.fit(t);
  double est = 0;
  h.estimate(0, 3, est);  // item 3 has no ratings: content estimate
  double cest = 0;
  c.estimate(0, 3, cest);
  EXPECT_NEAR(est, cest, 1e-9);
  EXPECT_EQ(h.similar_items(3, 1)[0].item, 0);  // cold item: content similarity
  TrainSet no_meta = make_trainset(r, 3, 4, {1, 5});
  KUN_EXPECT_ERROR(ContentBased().fit(no_meta), "no item metadata");
}

TEST(RecsysAlgorithms, FactoryRejectsUnknownNamesAndParameters) {
  KUN_EXPECT_ERROR(make_recommender("svd_plus"), "unknown algorithm 'svd_plus'", "svdpp");
  KUN_EXPECT_ERROR(make_recommender("svd", {{"n_factor", "10"}}), "'svd' has no parameter 'n_factor'");
  KUN_EXPECT_ERROR(make_recommender("svd", {{"lr", "fast"}}), "'lr' must be a number");
  KUN_EXPECT_ERROR(make_recommender("knn_basic", {{"sim", "jaccard"}}), "sim must be");
  KUN_EXPECT_ERROR(make_recommender("hybrid", {{"cf", "content"}}), "collaborative");
  for (auto& n : recommender_names()) EXPECT_EQ(make_recommender(n)->kind(), n);
  KUN_EXPECT_ERROR(GlobalMean().fit(TrainSet{}), "empty");
}

TEST(RecsysAlgorithms, SvdOnMovieLensU1) {
  if (!have_movielens()) GTEST_SKIP() << "MovieLens 100K not found at " << movielens_dir();
  Dataset ds = read_movielens_100k(movielens_dir());
  auto tt = read_split_files(ds, movielens_dir(), "u1");
  Svd svd;
  svd.fit(make_trainset(tt.train, ds.users.size(), ds.items.size(), ds.scale));
  RatingMetrics m = evaluate_ratings(svd, tt.test);
  EXPECT_LT(m.rmse, 0.96);
  EXPECT_LT(m.mae, 0.76);
  EXPECT_EQ(m.n, 20000u);
}

TEST(RecsysAlgorithms, HybridColdUserUsesItemMeans) {
  Ratings r = ratings({{0, 0, 5}, {1, 0, 5}, {0, 1, 1}, {1, 1, 2}, {2, 0, 4}});
  TrainSet t = make_trainset(r, 4, 2, {1, 5});  // user 3 has no ratings
  Hybrid h(make_recommender("svd", {{"n_factors", "3"}}));
  h.fit(t);
  // popularity's shrunk item means: (sum + 10 mu) / (n + 10)
  const double mu = 17.0 / 5.0;
  EXPECT_NEAR(h.predict(3, 0), (14 + 10 * mu) / 13, 1e-5);
  EXPECT_NEAR(h.predict(3, 1), (3 + 10 * mu) / 12, 1e-5);
  EXPECT_EQ(h.recommend(3, 1)[0].item, 0);  // cold user: most rated item
}

TEST(RecsysAlgorithms, KnnBaselineItemBasedPearsonBaselineBeatsBaselineOnLowRankData) {
  Ratings r = low_rank(40, 40, 0.5, 21);
  auto tt = random_split(r, 0.2, 4);
  TrainSet t = make_trainset(tt.train, 40, 40, {1, 5});
  auto knn = make_recommender("knn_baseline", {{"sim", "pearson_baseline"}, {"user_based", "false"}, {"shrinkage", "10"}});
  knn->fit(t);
  BaselineOnly b;
  b.fit(t);
  EXPECT_LT(evaluate_ratings(*knn, tt.test).rmse, evaluate_ratings(b, tt.test).rmse);
}
