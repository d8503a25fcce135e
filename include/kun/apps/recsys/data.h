// Rating data for recommenders: readers (MovieLens 100K/1M/10M, generic CSV), external <-> dense
// id maps, item metadata (titles, genres), splits (random, k-fold, leave-last-out) and the
// TrainSet every algorithm fits on (ratings grouped by user and by item).
//
// Defined behaviours (see docs/recsys.md):
//  - malformed line            -> kun::IOError "file:line: ..." naming the problem
//  - empty file / no ratings   -> kun::ValueError "... contains no ratings"
//  - rating outside the scale  -> ReadOptions::out_of_scale: error (default) | clip | drop
//  - duplicate (user, item)    -> ReadOptions::duplicates: keep_last (default) | keep_first | error
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace kun::recsys {

// External ids (strings as they appear in the file) mapped to dense indices 0..n-1 and back.
class IdMap {
 public:
  // Index of `ext`, adding it when new.
  int32_t add(const std::string& ext);
  // Index of `ext`, or -1 when unknown.
  int32_t find(const std::string& ext) const;
  const std::string& external(int32_t idx) const;
  int32_t size() const { return static_cast<int32_t>(to_ext_.size()); }
  const std::vector<std::string>& externals() const { return to_ext_; }

 private:
  std::unordered_map<std::string, int32_t> to_idx_;
  std::vector<std::string> to_ext_;
};

struct RatingScale {
  float low = 1.0f;
  float high = 5.0f;
};

// Ratings as parallel arrays (structure of arrays: the hot loops read them sequentially).
struct Ratings {
  std::vector<int32_t> user;
  std::vector<int32_t> item;
  std::vector<float> rating;
  std::vector<int64_t> timestamp;  // 0 when the file has none
  size_t size() const { return rating.size(); }
  void push(int32_t u, int32_t i, float r, int64_t t) {
    user.push_back(u);
    item.push_back(i);
    rating.push_back(r);
    timestamp.push_back(t);
  }
  // The subset at positions idx (in that order).
  Ratings subset(const std::vector<size_t>& idx) const;
};

// Per-item metadata (dense item index). Empty vectors when the dataset has none.
struct ItemMeta {
  std::vector<std::string> title;               // by item index ("" when unknown)
  std::vector<std::vector<int32_t>> genres;     // genre ids by item index
  std::vector<std::string> genre_names;
  bool empty() const { return title.empty(); }
};

struct Dataset {
  IdMap users, items;
  Ratings ratings;
  RatingScale scale;
  ItemMeta meta;
  std::string source;  // path read, for messages
};

enum class OutOfScale { error, clip, drop };
enum class Duplicates { keep_last, keep_first, error };

struct ReadOptions {
  RatingScale scale{1.0f, 5.0f};
  OutOfScale out_of_scale = OutOfScale::error;
  Duplicates duplicates = Duplicates::keep_last;
};

// Format by content: "\t" (ml-100k u.data / uN.base), "::" (ml-1m / ml-10m ratings.dat) or "," (CSV
// user,item,rating[,timestamp]; a first line that does not parse as numbers is taken as a header).
// Reading into an existing dataset shares its id maps (so train and test files index alike).
void read_ratings_into(Dataset& ds, const std::string& path, const ReadOptions& opt = {});
Dataset read_ratings(const std::string& path, const ReadOptions& opt = {});

// A MovieLens 100K folder: u.data (or the given ratings file name) plus u.item / u.genre metadata
// when present. Every item listed in u.item gets an index even if it has no rating.
Dataset read_movielens_100k(const std::string& dir, const ReadOptions& opt = {});
// Reads u.item (`|`-separated, Latin-1 converted to UTF-8) and u.genre into ds.meta.
void read_ml100k_items(Dataset& ds, const std::string& dir);
// Reads ml-1m/10m movies.dat (id::title::Genre|Genre) into ds.meta.
void read_movies_dat(Dataset& ds, const std::string& path);

// A predefined train/test pair of files in `dir` (e.g. "u1" -> u1.base / u1.test) sharing ds's maps.
struct TrainTest {
  Ratings train, test;
};
TrainTest read_split_files(Dataset& ds, const std::string& dir, const std::string& name, const ReadOptions& opt = {});

// ---- splits ----------------------------------------------------------------------------------
// Random split: test_fraction of the ratings (rounded up) go to test; deterministic for a seed.
TrainTest random_split(const Ratings& r, double test_fraction, uint64_t seed);
// k folds over a seeded shuffle (fold sizes differ by at most one, as Surprise's KFold).
std::vector<TrainTest> k_fold(const Ratings& r, int k, uint64_t seed);
// Per user, the latest rating (by timestamp; ties: the last in file order) goes to test;
// users with fewer than min_ratings ratings stay entirely in train.
TrainTest leave_last_out(const Ratings& r, int min_ratings = 2);

// ---- the training view -------------------------------------------------------------------------
// Ratings grouped by user (CSR) and by item (CSC) over the dataset's full index space; users or
// items with no training rating are "unknown" to the model.
struct TrainSet {
  int32_t n_users = 0, n_items = 0;
  RatingScale scale;
  double global_mean = 0.0;
  // all ratings in user order (Surprise's all_ratings()): u[k], i[k], r[k]
  std::vector<int32_t> u, i;
  std::vector<float> r;
  // by user: items ur_item[ur_ptr[u] .. ur_ptr[u+1]) with ratings ur_rating (same order as above)
  std::vector<int64_t> ur_ptr;
  std::vector<int32_t> ur_item;
  std::vector<float> ur_rating;
  // by item
  std::vector<int64_t> ir_ptr;
  std::vector<int32_t> ir_user;
  std::vector<float> ir_rating;
  std::shared_ptr<const ItemMeta> meta;  // optional, for content-based models

  bool knows_user(int32_t uu) const { return uu >= 0 && uu < n_users && ur_ptr[uu + 1] > ur_ptr[uu]; }
  bool knows_item(int32_t ii) const { return ii >= 0 && ii < n_items && ir_ptr[ii + 1] > ir_ptr[ii]; }
  int64_t user_count(int32_t uu) const { return ur_ptr[uu + 1] - ur_ptr[uu]; }
  int64_t item_count(int32_t ii) const { return ir_ptr[ii + 1] - ir_ptr[ii]; }
  size_t n_ratings() const { return r.size(); }
  // Rebuilds the by-user / by-item groupings from u, i, r (used after loading).
  void index();
};

TrainSet make_trainset(const Ratings& r, int32_t n_users, int32_t n_items, RatingScale scale,
                       const ItemMeta* meta = nullptr);

// Small deterministic random stream (Philox counter based) used by every algorithm.
class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(seed) {}
  uint32_t next_u32();
  double uniform();                       // [0, 1)
  double normal(double mean, double std); // Box-Muller
  uint64_t below(uint64_t n);             // [0, n)

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
  uint32_t buf_[4] = {0, 0, 0, 0};
  int left_ = 0;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace kun::recsys
