// The common interface of every recommender (fit, predict, recommend, similar_items), the factory
// that builds one from a name plus parameters (configs and the CLI), and model save/load.
//
// Predictions follow Surprise's rules: the algorithm's raw estimate is clipped to the rating scale;
// when an estimate is impossible (unknown user or item, too few neighbours) the prediction is the
// training global mean (algorithms with biases use the known part: mu + b_u or mu + b_i).
// recommend() for a user unknown to the model returns the most popular items.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kun/apps/recsys/data.h"

namespace kun::recsys {

struct Scored {
  int32_t item;
  float score;
};

class BinWriter;
class BinReader;

// Parameters by name, as strings (from TOML or the command line); each algorithm reads what it
// knows and the factory rejects names nobody read.
class Params {
 public:
  Params() = default;
  Params(std::initializer_list<std::pair<const std::string, std::string>> kv) : kv_(kv) {}
  void set(const std::string& k, const std::string& v) { kv_[k] = v; }
  double num(const std::string& k, double def) const;
  int64_t integer(const std::string& k, int64_t def) const;
  bool flag(const std::string& k, bool def) const;
  std::string str(const std::string& k, const std::string& def) const;
  // Throws ValueError naming any parameter no reader asked for (a typo in a config).
  void check_all_used(const std::string& algo) const;
  const std::map<std::string, std::string>& items() const { return kv_; }

 private:
  std::map<std::string, std::string> kv_;
  mutable std::map<std::string, bool> used_;
};

class Recommender {
 public:
  virtual ~Recommender() = default;
  // Registry name ("svd", "knn_baseline", ...), also stored in model files.
  virtual std::string kind() const = 0;

  // Fits on ts (copied and kept: predictions need the training ratings for exclusion and k-NN).
  void fit(const TrainSet& ts);
  void fit(std::shared_ptr<const TrainSet> ts);
  bool fitted() const { return train_ != nullptr; }
  // Attaches a training set without fitting (loading a saved model; load_params follows).
  virtual void set_train(std::shared_ptr<const TrainSet> ts) { train_ = std::move(ts); }
  const TrainSet& train() const;

  // Rating prediction clipped to the scale; any int32 ids accepted (unknown -> fallback, above).
  float predict(int32_t u, int32_t i) const;
  // Raw estimate; false when impossible (then `est` holds the fallback the algorithm prefers).
  virtual bool estimate(int32_t u, int32_t i, double& est) const = 0;
  // Ranking scores of every item for user u (higher = better); default: estimate() per item.
  virtual void score_items(int32_t u, std::vector<float>& scores) const;
  // Top n items for u, excluding items u rated in training; unknown user -> most popular items.
  std::vector<Scored> recommend(int32_t u, int n) const;
  // Top n items most similar to i (cosine of item factors, the model's similarity matrix, or of
  // rating vectors by default); unknown item -> ValueError.
  virtual std::vector<Scored> similar_items(int32_t i, int n) const;

  // Model parameters only (the train set and header are written by save_model).
  virtual void save_params(BinWriter& w) const = 0;
  virtual void load_params(BinReader& r) = 0;

 protected:
  virtual void fit_impl() = 0;
  // Row-major factor matrix for items, (n_items, k), or empty: used by the default similar_items.
  virtual const std::vector<float>* item_factors(int& k) const {
    k = 0;
    return nullptr;
  }
  const TrainSet& ts() const { return *train_; }
  std::shared_ptr<const TrainSet> train_;
};

// Known names: global_mean, baseline (method=als|sgd), knn_basic, knn_with_means, knn_baseline,
// svd, svdpp, nmf, implicit_als, bpr, gmf, mlp, neumf, popularity, content, hybrid. Unknown name or parameter ->
// ValueError listing the choices.
std::unique_ptr<Recommender> make_recommender(const std::string& name, const Params& p = {});
std::vector<std::string> recommender_names();

// ---- model files ---------------------------------------------------------------------------------
// Binary, versioned: magic "KUNRECSY", format version, algorithm name and parameters, id maps,
// titles, the training set, then the algorithm's parameters and an end marker with a checksum.
// Written to "<path>.tmp" then renamed; a truncated / corrupt / wrong-version file -> IOError.
struct ModelBundle {
  std::string algorithm;
  Params params;
  IdMap users, items;
  ItemMeta meta;
  std::unique_ptr<Recommender> model;
};
void save_model(const std::string& path, const ModelBundle& b);
ModelBundle load_model(const std::string& path);

// Little-endian binary primitives with bounds checks (used by save_params / load_params).
class BinWriter {
 public:
  void bytes(const void* p, size_t n);
  void u64(uint64_t v) { bytes(&v, 8); }
  void f64(double v) { bytes(&v, 8); }
  void str(const std::string& s);
  template <typename T>
  void vec(const std::vector<T>& v) {
    u64(v.size());
    if (!v.empty()) bytes(v.data(), v.size() * sizeof(T));
  }
  const std::string& data() const { return buf_; }

 private:
  std::string buf_;
};

class BinReader {
 public:
  BinReader(const std::string& data, std::string what) : data_(data), what_(std::move(what)) {}
  void bytes(void* p, size_t n);
  uint64_t u64();
  double f64();
  std::string str();
  template <typename T>
  std::vector<T> vec() {
    uint64_t n = u64();
    check_left(n, sizeof(T));
    std::vector<T> v(n);
    if (n) bytes(v.data(), n * sizeof(T));
    return v;
  }
  size_t pos() const { return pos_; }
  [[noreturn]] void fail(const std::string& why) const;

 private:
  void check_left(uint64_t n, size_t elem);
  const std::string& data_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace kun::recsys
