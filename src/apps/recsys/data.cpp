// Readers, id maps, splits and the TrainSet grouping. See data.h for the defined behaviours.
#include "kun/apps/recsys/data.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "kun/core/error.h"
#include "kun/core/rng.h"

namespace kun::recsys {

// ---- IdMap -------------------------------------------------------------------------------------
int32_t IdMap::add(const std::string& ext) {
  auto it = to_idx_.find(ext);
  if (it != to_idx_.end()) return it->second;
  int32_t idx = static_cast<int32_t>(to_ext_.size());
  to_idx_.emplace(ext, idx);
  to_ext_.push_back(ext);
  return idx;
}
int32_t IdMap::find(const std::string& ext) const {
  auto it = to_idx_.find(ext);
  return it == to_idx_.end() ? -1 : it->second;
}
const std::string& IdMap::external(int32_t idx) const {
  KUN_CHECK(idx >= 0 && idx < size(), IndexError, "recsys: index ", idx, " out of range [0, ", size(), ")");
  return to_ext_[static_cast<size_t>(idx)];
}

Ratings Ratings::subset(const std::vector<size_t>& idx) const {
  Ratings out;
  out.user.reserve(idx.size());
  out.item.reserve(idx.size());
  out.rating.reserve(idx.size());
  out.timestamp.reserve(idx.size());
  for (size_t k : idx) out.push(user[k], item[k], rating[k], timestamp[k]);
  return out;
}

// ---- parsing helpers ---------------------------------------------------------------------------
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KUN_CHECK(f.good(), IOError, "recsys: cannot open '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line, std::string_view sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t next = line.find(sep, pos);
    if (next == std::string_view::npos) {
      out.push_back(trim(line.substr(pos)));
      break;
    }
    out.push_back(trim(line.substr(pos, next - pos)));
    pos = next + sep.size();
  }
  return out;
}

bool parse_double(std::string_view s, double& v) {
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size() && std::isfinite(v);
}
bool parse_int64(std::string_view s, int64_t& v) {
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

template <typename F>
void for_each_line(const std::string& text, const F& fn) {
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    ++line_no;
    fn(std::string_view(text).substr(pos, nl - pos), line_no);
    pos = nl + 1;
  }
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string path_join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace

void read_ratings_into(Dataset& ds, const std::string& path, const ReadOptions& opt) {
  KUN_CHECK(opt.scale.low < opt.scale.high, ValueError, "recsys: rating scale must have low < high, got [",
            opt.scale.low, ", ", opt.scale.high, "]");
  const std::string text = read_file(path);
  ds.scale = opt.scale;
  if (ds.source.empty()) ds.source = path;
  std::string sep;
  // position (in ds.ratings) of each (user, item) read from this file, for duplicate handling
  std::unordered_map<uint64_t, size_t> seen;
  const size_t first = ds.ratings.size();
  std::vector<char> dropped;  // marks rows removed by keep_first / drop
  for_each_line(text, [&](std::string_view raw, size_t line_no) {
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') return;
    if (sep.empty()) {
      if (line.find("::") != std::string_view::npos) sep = "::";
      else if (line.find('\t') != std::string_view::npos) sep = "\t";
      else if (line.find(',') != std::string_view::npos) sep = ",";
      else sep = " ";
    }
    auto f = split(line, sep);
    if (sep == " ") {  // collapse runs of spaces
      f.erase(std::remove_if(f.begin(), f.end(), [](std::string_view s) { return s.empty(); }), f.end());
    }
    double rating = 0;
    if (f.size() < 3 || f.size() > 4) {
      KUN_CHECK(false, IOError, path, ":", line_no, ": expected 3 or 4 fields (user", sep == "\t" ? "<TAB>" : sep,
                "item", sep == "\t" ? "<TAB>" : sep, "rating[", sep == "\t" ? "<TAB>" : sep, "timestamp]), got ",
                f.size(), ": '", std::string(line.substr(0, 80)), "'");
    }
    if (!parse_double(f[2], rating)) {
      // A CSV header line ("userId,movieId,rating,timestamp") is skipped when it is the first line.
      if (line_no == 1 && sep == ",") return;
      KUN_CHECK(false, IOError, path, ":", line_no, ": rating '", std::string(f[2]), "' is not a number");
    }
    KUN_CHECK(!f[0].empty() && !f[1].empty(), IOError, path, ":", line_no, ": empty user or item id");
    int64_t ts = 0;
    if (f.size() == 4) {
      double tsd = 0;
      KUN_CHECK(parse_int64(f[3], ts) || parse_double(f[3], tsd), IOError, path, ":", line_no, ": timestamp '",
                std::string(f[3]), "' is not a number");
      if (ts == 0 && tsd != 0) ts = static_cast<int64_t>(tsd);
    }
    float r = static_cast<float>(rating);
    if (r < opt.scale.low || r > opt.scale.high) {
      switch (opt.out_of_scale) {
        case OutOfScale::error:
          KUN_CHECK(false, ValueError, path, ":", line_no, ": rating ", rating, " outside the declared scale [",
                    opt.scale.low, ", ", opt.scale.high, "] (set out_of_scale = clip or drop to accept)");
          break;
        case OutOfScale::clip: r = std::clamp(r, opt.scale.low, opt.scale.high); break;
        case OutOfScale::drop: return;
      }
    }
    const int32_t u = ds.users.add(std::string(f[0]));
    const int32_t i = ds.items.add(std::string(f[1]));
    const uint64_t key = (uint64_t(uint32_t(u)) << 32) | uint32_t(i);
    auto [it, fresh] = seen.emplace(key, ds.ratings.size());
    if (!fresh) {
      switch (opt.duplicates) {
        case Duplicates::error:
          KUN_CHECK(false, ValueError, path, ":", line_no, ": duplicate rating for user '", std::string(f[0]),
                    "' and item '", std::string(f[1]), "' (set duplicates = keep_last or keep_first)");
          break;
        case Duplicates::keep_first: return;
        case Duplicates::keep_last:
          dropped.resize(ds.ratings.size() - first + 1, 0);
          dropped[it->second - first] = 1;
          it->second = ds.ratings.size();
          break;
      }
    }
    ds.ratings.push(u, i, r, ts);
  });
  if (!dropped.empty()) {  // compact away the superseded rows, keeping file order
    size_t w = first;
    for (size_t k = first; k < ds.ratings.size(); ++k) {
      if (k - first < dropped.size() && dropped[k - first]) continue;
      ds.ratings.user[w] = ds.ratings.user[k];
      ds.ratings.item[w] = ds.ratings.item[k];
      ds.ratings.rating[w] = ds.ratings.rating[k];
      ds.ratings.timestamp[w] = ds.ratings.timestamp[k];
      ++w;
    }
    ds.ratings.user.resize(w);
    ds.ratings.item.resize(w);
    ds.ratings.rating.resize(w);
    ds.ratings.timestamp.resize(w);
  }
  KUN_CHECK(ds.ratings.size() > first, ValueError, "recsys: '", path, "' contains no ratings");
}

Dataset read_ratings(const std::string& path, const ReadOptions& opt) {
  Dataset ds;
  read_ratings_into(ds, path, opt);
  return ds;
}

void read_ml100k_items(Dataset& ds, const std::string& dir) {
  const std::string genre_path = path_join(dir, "u.genre");
  if (std::filesystem::exists(genre_path)) {
    std::vector<std::pair<int, std::string>> g;
    for_each_line(read_file(genre_path), [&](std::string_view line, size_t line_no) {
      line = trim(line);
      if (line.empty()) return;
      auto f = split(line, "|");
      int64_t id = 0;
      KUN_CHECK(f.size() == 2 && parse_int64(f[1], id), IOError, genre_path, ":", line_no,
                ": expected name|id, got '", std::string(line), "'");
      g.emplace_back(static_cast<int>(id), std::string(f[0]));
    });
    std::sort(g.begin(), g.end());
    ds.meta.genre_names.clear();
    for (auto& [id, name] : g) ds.meta.genre_names.push_back(name);
  }
  const std::string item_path = path_join(dir, "u.item");
  const std::string text = read_file(item_path);
  std::vector<std::pair<int32_t, std::string>> titles;
  std::vector<std::pair<int32_t, std::vector<int32_t>>> genres;
  for_each_line(text, [&](std::string_view line, size_t line_no) {
    line = trim(line);
    if (line.empty()) return;
    auto f = split(line, "|");
    KUN_CHECK(f.size() >= 5, IOError, item_path, ":", line_no, ": expected id|title|date|video date|url|genre flags");
    const int32_t idx = ds.items.add(std::string(f[0]));
    std::vector<int32_t> gs;
    for (size_t k = 5; k < f.size(); ++k)
      if (f[k] == "1") gs.push_back(static_cast<int32_t>(k - 5));
    titles.emplace_back(idx, latin1_to_utf8(f[1]));
    genres.emplace_back(idx, std::move(gs));
  });
  if (ds.meta.genre_names.empty()) {
    size_t ng = 0;
    for (auto& [i, g] : genres)
      for (int32_t x : g) ng = std::max(ng, size_t(x) + 1);
    for (size_t k = 0; k < ng; ++k) ds.meta.genre_names.push_back("genre" + std::to_string(k));
  }
  ds.meta.title.assign(static_cast<size_t>(ds.items.size()), "");
  ds.meta.genres.assign(static_cast<size_t>(ds.items.size()), {});
  for (auto& [i, t] : titles) ds.meta.title[static_cast<size_t>(i)] = std::move(t);
  for (auto& [i, g] : genres) ds.meta.genres[static_cast<size_t>(i)] = std::move(g);
}

void read_movies_dat(Dataset& ds, const std::string& path) {
  const std::string text = read_file(path);
  std::unordered_map<std::string, int32_t> genre_id;
  for (size_t k = 0; k < ds.meta.genre_names.size(); ++k) genre_id[ds.meta.genre_names[k]] = int32_t(k);
  std::vector<std::pair<int32_t, std::string>> titles;
  std::vector<std::pair<int32_t, std::vector<int32_t>>> genres;
  for_each_line(text, [&](std::string_view line, size_t line_no) {
    line = trim(line);
    if (line.empty()) return;
    auto f = split(line, "::");
    KUN_CHECK(f.size() == 3, IOError, path, ":", line_no, ": expected id::title::genres");
    const int32_t idx = ds.items.add(std::string(f[0]));
    std::vector<int32_t> gs;
    for (auto g : split(f[2], "|")) {
      if (g.empty() || g == "(no genres listed)") continue;
      auto [it, fresh] = genre_id.emplace(std::string(g), int32_t(ds.meta.genre_names.size()));
      if (fresh) ds.meta.genre_names.emplace_back(g);
      gs.push_back(it->second);
    }
    titles.emplace_back(idx, latin1_to_utf8(f[1]));
    genres.emplace_back(idx, std::move(gs));
  });
  ds.meta.title.assign(static_cast<size_t>(ds.items.size()), "");
  ds.meta.genres.assign(static_cast<size_t>(ds.items.size()), {});
  for (auto& [i, t] : titles) ds.meta.title[static_cast<size_t>(i)] = std::move(t);
  for (auto& [i, g] : genres) ds.meta.genres[static_cast<size_t>(i)] = std::move(g);
}

Dataset read_movielens_100k(const std::string& dir, const ReadOptions& opt) {
  Dataset ds;
  read_ratings_into(ds, path_join(dir, "u.data"), opt);
  if (std::filesystem::exists(path_join(dir, "u.item"))) read_ml100k_items(ds, dir);
  ds.source = dir;
  return ds;
}

TrainTest read_split_files(Dataset& ds, const std::string& dir, const std::string& name, const ReadOptions& opt) {
  TrainTest tt;
  Dataset tmp;
  tmp.users = ds.users;
  tmp.items = ds.items;
  read_ratings_into(tmp, path_join(dir, name + ".base"), opt);
  tt.train = std::move(tmp.ratings);
  tmp.ratings = Ratings();
  read_ratings_into(tmp, path_join(dir, name + ".test"), opt);
  tt.test = std::move(tmp.ratings);
  ds.users = std::move(tmp.users);
  ds.items = std::move(tmp.items);
  if (!ds.meta.empty()) {  // items first seen in the split files get empty metadata
    ds.meta.title.resize(static_cast<size_t>(ds.items.size()));
    ds.meta.genres.resize(static_cast<size_t>(ds.items.size()));
  }
  return tt;
}

// ---- splits ------------------------------------------------------------------------------------
namespace {
std::vector<size_t> shuffled_indices(size_t n, uint64_t seed) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  Rng rng(seed);
  for (size_t k = n; k > 1; --k) std::swap(idx[k - 1], idx[rng.below(k)]);  // Fisher-Yates
  return idx;
}
}  // namespace

TrainTest random_split(const Ratings& r, double test_fraction, uint64_t seed) {
  KUN_CHECK(test_fraction > 0 && test_fraction < 1, ValueError, "random_split: test_fraction must be in (0, 1), got ",
            test_fraction);
  auto idx = shuffled_indices(r.size(), seed);
  size_t n_test = static_cast<size_t>(std::ceil(test_fraction * double(r.size())));
  std::vector<size_t> test(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_test));
  std::vector<size_t> train(idx.begin() + static_cast<std::ptrdiff_t>(n_test), idx.end());
  return {r.subset(train), r.subset(test)};
}

std::vector<TrainTest> k_fold(const Ratings& r, int k, uint64_t seed) {
  KUN_CHECK(k >= 2 && size_t(k) <= r.size(), ValueError, "k_fold: need 2 <= k <= number of ratings (", r.size(),
            "), got k=", k);
  auto idx = shuffled_indices(r.size(), seed);
  std::vector<TrainTest> folds;
  size_t start = 0;
  const size_t n = r.size(), base = n / size_t(k), extra = n % size_t(k);
  for (int f = 0; f < k; ++f) {
    size_t stop = start + base + (size_t(f) < extra ? 1 : 0);
    std::vector<size_t> test(idx.begin() + std::ptrdiff_t(start), idx.begin() + std::ptrdiff_t(stop));
    std::vector<size_t> train;
    train.reserve(n - test.size());
    train.insert(train.end(), idx.begin(), idx.begin() + std::ptrdiff_t(start));
    train.insert(train.end(), idx.begin() + std::ptrdiff_t(stop), idx.end());
    folds.push_back({r.subset(train), r.subset(test)});
    start = stop;
  }
  return folds;
}

TrainTest leave_last_out(const Ratings& r, int min_ratings) {
  std::unordered_map<int32_t, size_t> last;  // user -> position of the latest rating
  std::unordered_map<int32_t, int> count;
  for (size_t k = 0; k < r.size(); ++k) {
    ++count[r.user[k]];
    auto [it, fresh] = last.emplace(r.user[k], k);
    if (!fresh && r.timestamp[k] >= r.timestamp[it->second]) it->second = k;
  }
  std::vector<size_t> train, test;
  for (size_t k = 0; k < r.size(); ++k) {
    const int32_t u = r.user[k];
    if (count[u] >= min_ratings && last[u] == k) test.push_back(k);
    else train.push_back(k);
  }
  return {r.subset(train), r.subset(test)};
}

// ---- TrainSet ----------------------------------------------------------------------------------
void TrainSet::index() {
  const size_t n = r.size();
  ur_ptr.assign(size_t(n_users) + 1, 0);
  ir_ptr.assign(size_t(n_items) + 1, 0);
  for (size_t k = 0; k < n; ++k) {
    ++ur_ptr[size_t(u[k]) + 1];
    ++ir_ptr[size_t(i[k]) + 1];
  }
  for (size_t k = 0; k < size_t(n_users); ++k) ur_ptr[k + 1] += ur_ptr[k];
  for (size_t k = 0; k < size_t(n_items); ++k) ir_ptr[k + 1] += ir_ptr[k];
  ur_item.resize(n);
  ur_rating.resize(n);
  ir_user.resize(n);
  ir_rating.resize(n);
  std::vector<int64_t> pu(ur_ptr.begin(), ur_ptr.end() - 1), pi(ir_ptr.begin(), ir_ptr.end() - 1);
  double sum = 0;
  for (size_t k = 0; k < n; ++k) {
    const int64_t a = pu[size_t(u[k])]++, b = pi[size_t(i[k])]++;
    ur_item[size_t(a)] = i[k];
    ur_rating[size_t(a)] = r[k];
    ir_user[size_t(b)] = u[k];
    ir_rating[size_t(b)] = r[k];
    sum += r[k];
  }
  global_mean = n ? sum / double(n) : 0.0;
  // all ratings in user order, as Surprise iterates them
  for (int32_t uu = 0; uu < n_users; ++uu)
    for (int64_t k = ur_ptr[size_t(uu)]; k < ur_ptr[size_t(uu) + 1]; ++k) {
      u[size_t(k)] = uu;
      i[size_t(k)] = ur_item[size_t(k)];
      r[size_t(k)] = ur_rating[size_t(k)];
    }
}

TrainSet make_trainset(const Ratings& r, int32_t n_users, int32_t n_items, RatingScale scale, const ItemMeta* meta) {
  KUN_CHECK(r.size() > 0, ValueError, "recsys: cannot train on an empty rating set");
  TrainSet ts;
  ts.n_users = n_users;
  ts.n_items = n_items;
  ts.scale = scale;
  if (meta && !meta->empty()) ts.meta = std::make_shared<const ItemMeta>(*meta);
  for (size_t k = 0; k < r.size(); ++k)
    KUN_CHECK(r.user[k] >= 0 && r.user[k] < n_users && r.item[k] >= 0 && r.item[k] < n_items, IndexError,
              "recsys: rating ", k, " has user ", r.user[k], " / item ", r.item[k], " outside [0, ", n_users,
              ") x [0, ", n_items, ")");
  ts.u = r.user;
  ts.i = r.item;
  ts.r = r.rating;
  ts.index();
  return ts;
}

// ---- Rng ---------------------------------------------------------------------------------------
uint32_t Rng::next_u32() {
  if (left_ == 0) {
    auto b = philox(seed_, counter_++);
    for (int k = 0; k < 4; ++k) buf_[k] = b[size_t(k)];
    left_ = 4;
  }
  return buf_[--left_];
}
double Rng::uniform() {
  uint32_t hi = next_u32(), lo = next_u32();
  return u64_to_unit_double(hi, lo);
}
double Rng::normal(double mean, double std) {
  if (has_spare_) {
    has_spare_ = false;
    return mean + std * spare_;
  }
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  const double rad = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
  spare_ = rad * std::sin(th);
  has_spare_ = true;
  return mean + std * rad * std::cos(th);
}
uint64_t Rng::below(uint64_t n) {
  if (n <= 1) return 0;
  // 64 random bits, then Lemire's multiply-shift (bias < 2^-64 * n, negligible)
  uint64_t x = (uint64_t(next_u32()) << 32) | next_u32();
  return static_cast<uint64_t>((static_cast<unsigned __int128>(x) * n) >> 64);
}

}  // namespace kun::recsys
