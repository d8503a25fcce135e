// The classic recommenders. Defaults follow Surprise (explicit ratings) and the `implicit`
// library (implicit ALS / BPR); each options struct says where a default comes from.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kun/apps/recsys/recommender.h"

namespace kun::recsys {

// Predicts the training mean for everyone.
class GlobalMean : public Recommender {
 public:
  std::string kind() const override { return "global_mean"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void save_params(BinWriter&) const override {}
  void load_params(BinReader&) override {}

 protected:
  void fit_impl() override {}
};

// r_hat = mu + b_u + b_i. Surprise's BaselineOnly: ALS (10 epochs, reg_u 15, reg_i 10) or SGD
// (20 epochs, lr 0.005, reg 0.02).
struct BaselineOptions {
  bool sgd = false;
  int n_epochs = -1;  // -1: 10 for ALS, 20 for SGD
  double reg_u = 15, reg_i = 10;
  double lr = 0.005, reg = 0.02;
};
// Fits user and item biases (both sized to the train set's index space).
void fit_baselines(const TrainSet& ts, const BaselineOptions& o, std::vector<double>& bu, std::vector<double>& bi);

class BaselineOnly : public Recommender {
 public:
  explicit BaselineOnly(BaselineOptions o = {}) : o_(o) {}
  std::string kind() const override { return "baseline"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;
  const std::vector<double>& bu() const { return bu_; }
  const std::vector<double>& bi() const { return bi_; }

 protected:
  void fit_impl() override;
  BaselineOptions o_;
  std::vector<double> bu_, bi_;
};

// Neighbourhood CF. Similarities over co-rated entries (Surprise's definitions): msd = 1/(msd+1),
// cosine, pearson (over common items), pearson_baseline (on baseline residuals, shrunk by
// (n-1)/(n-1+shrinkage)). Prediction rules: basic (weighted mean of neighbours' ratings), means
// (user/item mean + weighted mean deviation), baseline (baseline + weighted residual).
enum class Similarity { msd, cosine, pearson, pearson_baseline };
enum class KnnRule { basic, with_means, baseline };
struct KnnOptions {
  KnnRule rule = KnnRule::basic;
  Similarity sim = Similarity::msd;
  bool user_based = true;
  int k = 40, min_k = 1;
  int min_support = 1;
  double shrinkage = 100;
  BaselineOptions baseline;  // for the baseline rule and pearson_baseline
};
// Dense (n_x, n_x) similarity matrix over the "x" side (users when user_based), rows in parallel.
std::vector<float> compute_similarity(const TrainSet& ts, const KnnOptions& o, const std::vector<double>& bu,
                                      const std::vector<double>& bi);

class KnnRecommender : public Recommender {
 public:
  explicit KnnRecommender(KnnOptions o = {}) : o_(o) {}
  std::string kind() const override;
  bool estimate(int32_t u, int32_t i, double& est) const override;
  std::vector<Scored> similar_items(int32_t i, int n) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;
  const std::vector<float>& sim() const { return sim_; }

 protected:
  void fit_impl() override;
  KnnOptions o_;
  std::vector<float> sim_;        // (n_x, n_x)
  std::vector<double> means_;     // mean rating per x
  std::vector<double> bu_, bi_;   // baselines (rule baseline / pearson_baseline)
};

// Funk SVD as Surprise's SVD: r_hat = mu + b_u + b_i + q_i.p_u, per-rating SGD over the ratings in
// user order. Defaults: 100 factors, 20 epochs, lr 0.005, reg 0.02, init normal(0, 0.1).
struct SvdOptions {
  int n_factors = 100, n_epochs = 20;
  bool biased = true;
  double init_mean = 0, init_std = 0.1;
  double lr = 0.005, reg = 0.02;
  uint64_t seed = 0;
};
class Svd : public Recommender {
 public:
  explicit Svd(SvdOptions o = {}) : o_(o) {}
  std::string kind() const override { return "svd"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void score_items(int32_t u, std::vector<float>& scores) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;
  // One SGD pass over the ratings (exposed for the epoch benchmark).
  void sgd_epoch();
  // Initialises the parameters for ts without running epochs (benchmark helper).
  void init_params();

 protected:
  void fit_impl() override;
  const std::vector<float>* item_factors(int& k) const override {
    k = o_.n_factors;
    return &q_;
  }
  SvdOptions o_;
  std::vector<float> p_, q_;   // p: (n_users, K), q: (n_items, K)
  std::vector<float> bu_, bi_;
  float mu_ = 0;
};

// SVD++ (Koren 2008) as Surprise's SVDpp: adds implicit feedback y_j of the items u rated.
// Defaults: 20 factors, 20 epochs, lr 0.007, reg 0.02, init normal(0, 0.1).
struct SvdppOptions {
  int n_factors = 20, n_epochs = 20;
  double init_mean = 0, init_std = 0.1;
  double lr = 0.007, reg = 0.02;
  uint64_t seed = 0;
};
class SvdPP : public Recommender {
 public:
  explicit SvdPP(SvdppOptions o = {}) : o_(o) {}
  std::string kind() const override { return "svdpp"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;

 protected:
  void fit_impl() override;
  void compute_user_implicit();
  const std::vector<float>* item_factors(int& k) const override {
    k = o_.n_factors;
    return &q_;
  }
  SvdppOptions o_;
  std::vector<float> p_, q_, y_, z_;  // z: p_u + |I_u|^-1/2 sum y_j, per user (n_users, K)
  std::vector<float> bu_, bi_;
  float mu_ = 0;
};

// Non-negative MF (Luo et al. 2014) as Surprise's NMF: multiplicative updates. Defaults: 15 factors,
// 50 epochs, unbiased, reg_pu = reg_qi = 0.06, init uniform(0, 1).
struct NmfOptions {
  int n_factors = 15, n_epochs = 50;
  bool biased = false;
  double reg_pu = 0.06, reg_qi = 0.06, reg_bu = 0.02, reg_bi = 0.02, lr_bu = 0.005, lr_bi = 0.005;
  double init_low = 0, init_high = 1;
  uint64_t seed = 0;
};
class Nmf : public Recommender {
 public:
  explicit Nmf(NmfOptions o = {}) : o_(o) {}
  std::string kind() const override { return "nmf"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;

 protected:
  void fit_impl() override;
  const std::vector<float>* item_factors(int& k) const override {
    k = o_.n_factors;
    return &q_;
  }
  NmfOptions o_;
  std::vector<float> p_, q_, bu_, bi_;
  float mu_ = 0;
};

// Implicit-feedback ALS (Hu, Koren, Volinsky 2008): every training rating is an interaction with
// confidence 1 + alpha * value (value = 1, or the rating when use_rating), preference 1; the
// unobserved entries have confidence 1 and preference 0. Scores, not ratings: predict() returns
// the score clipped to the scale, which is only meaningful for ranking.
struct ImplicitAlsOptions {
  int n_factors = 64, n_epochs = 15;
  double reg = 0.01, alpha = 1.0;
  bool use_rating = false;
  double init_std = 0.01;
  uint64_t seed = 0;
};
class ImplicitAls : public Recommender {
 public:
  explicit ImplicitAls(ImplicitAlsOptions o = {}) : o_(o) {}
  std::string kind() const override { return "implicit_als"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void score_items(int32_t u, std::vector<float>& scores) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;

 protected:
  void fit_impl() override;
  const std::vector<float>* item_factors(int& k) const override {
    k = o_.n_factors;
    return &y_;
  }
  ImplicitAlsOptions o_;
  std::vector<float> x_, y_;  // x: (n_users, K), y: (n_items, K)
};

// Bayesian personalised ranking (Rendle et al. 2009) with item biases: SGD on sampled
// (user, rated item, unrated item) triples, n_ratings samples per epoch.
struct BprOptions {
  int n_factors = 64, n_epochs = 60;
  double lr = 0.05, reg = 0.002;
  double init_std = 0.1;
  uint64_t seed = 0;
};
class Bpr : public Recommender {
 public:
  explicit Bpr(BprOptions o = {}) : o_(o) {}
  std::string kind() const override { return "bpr"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void score_items(int32_t u, std::vector<float>& scores) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;

 protected:
  void fit_impl() override;
  const std::vector<float>* item_factors(int& k) const override {
    k = o_.n_factors;
    return &q_;
  }
  BprOptions o_;
  std::vector<float> p_, q_, b_;  // b: item bias
};

// Neural collaborative filtering (He et al. 2017) on the kun engine, for implicit feedback: every
// training rating is a positive, `negatives` unrated items per positive are drawn afresh each epoch,
// and the network is trained with binary cross-entropy on logits (Adam, mini-batches).
//   gmf:   logit = w . (p_u * q_i)                      (generalized matrix factorization)
//   mlp:   logit = w . MLP([p'_u, q'_i])                (ReLU tower `layers`, first = concat width)
//   neumf: logit = w . [p_u * q_i, MLP([p'_u, q'_i])]   (both towers, separate embeddings)
// predict() returns the logit (a ranking score, not a rating), like BPR.
struct NcfOptions {
  std::string model = "neumf";        // gmf | mlp | neumf
  int n_factors = 16;                 // GMF embedding size
  std::vector<int> layers = {64, 32, 16};  // MLP widths; user and item embeddings are layers[0] / 2 each
  int n_epochs = 20, batch_size = 256, negatives = 4;
  double lr = 1e-3, weight_decay = 0.0;
  uint64_t seed = 0;
  int verbose = 0;  // 1: one line per epoch (mean loss, seconds) on stderr
};
class Ncf : public Recommender {
 public:
  explicit Ncf(NcfOptions o = {});
  ~Ncf() override;
  std::string kind() const override { return o_.model; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void score_items(int32_t u, std::vector<float>& scores) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;
  // Mean training loss of each epoch (empty before fit).
  const std::vector<double>& loss_history() const { return loss_; }
  struct Net;  // the kun modules (defined in ncf.cpp)

 protected:
  void fit_impl() override;
  const std::vector<float>* item_factors(int& k) const override;
  void build();
  NcfOptions o_;
  std::shared_ptr<Net> net_;
  std::vector<double> loss_;
  mutable std::vector<float> item_factors_;  // GMF (or MLP) item embeddings, for similar_items
};

// Items ranked by number of training ratings; predict() = item mean shrunk toward mu.
class Popularity : public Recommender {
 public:
  std::string kind() const override { return "popularity"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void score_items(int32_t u, std::vector<float>& scores) const override;
  void save_params(BinWriter&) const override {}
  void load_params(BinReader&) override { fit_impl(); }

 protected:
  void fit_impl() override;
  std::vector<float> count_;
  std::vector<double> mean_;
};

// Content-based: item profiles = genre indicators + TF-IDF of title words (year removed), L2
// normalised; item-item cosine. predict(u, i) = u's mean + similarity-weighted deviations of u's
// ratings of the k most similar items; recommend ranks by cosine with u's profile (sum of rated
// items' profiles weighted by rating - u's mean). Needs TrainSet::meta (ValueError otherwise).
struct ContentOptions {
  bool genres = true, titles = true;
  double title_weight = 0.5;
  int k = 40;
};
class ContentBased : public Recommender {
 public:
  explicit ContentBased(ContentOptions o = {}) : o_(o) {}
  std::string kind() const override { return "content"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void score_items(int32_t u, std::vector<float>& scores) const override;
  std::vector<Scored> similar_items(int32_t i, int n) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;
  bool has_profile(int32_t i) const;

 protected:
  void fit_impl() override;
  float item_cos(int32_t a, int32_t b) const;
  ContentOptions o_;
  // sparse L2-normalised profiles: features of item i at feat_[ptr_[i] .. ptr_[i+1])
  std::vector<int64_t> ptr_;
  std::vector<int32_t> feat_;
  std::vector<float> val_;
  std::vector<double> user_mean_;
};

// Hybrid: a collaborative model (default svd) for known users and items; the content model for
// items the collaborative model never saw (cold items with metadata); popularity / item means for
// cold users. recommend() blends nothing: known user -> CF ranking, cold user -> popularity.
class Hybrid : public Recommender {
 public:
  Hybrid(std::unique_ptr<Recommender> cf, ContentOptions co = {});
  std::string kind() const override { return "hybrid"; }
  bool estimate(int32_t u, int32_t i, double& est) const override;
  void score_items(int32_t u, std::vector<float>& scores) const override;
  std::vector<Scored> similar_items(int32_t i, int n) const override;
  void save_params(BinWriter& w) const override;
  void load_params(BinReader& r) override;
  const Recommender& cf() const { return *cf_; }
  void set_train(std::shared_ptr<const TrainSet> t) override;

 protected:
  void fit_impl() override;
  bool has_content_ = false;
  std::unique_ptr<Recommender> cf_;
  ContentBased content_;
  Popularity pop_;
};

}  // namespace kun::recsys
