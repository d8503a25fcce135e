// Content-based item profiles (genres + TF-IDF of title words) and the cold-start hybrid.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <unordered_map>

#include "kun/apps/recsys/algorithms.h"
#include "kun/core/error.h"

namespace kun::recsys {

namespace {
// Lower-case alphanumeric words of a title, without the "(1995)" year and one-letter words.
std::vector<std::string> title_words(const std::string& title) {
  std::string t = title;
  const size_t paren = t.rfind('(');
  if (paren != std::string::npos && t.size() - paren <= 7) t = t.substr(0, paren);
  std::vector<std::string> out;
  std::string w;
  for (char ch : t + " ") {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c >= 0x80) {
      w.push_back(char(std::tolower(c)));
    } else {
      if (w.size() > 1) out.push_back(w);
      w.clear();
    }
  }
  return out;
}
}  // namespace

void ContentBased::fit_impl() {
  const TrainSet& t = ts();
  KUN_CHECK(t.meta && !t.meta->empty(), ValueError,
            "content: the dataset has no item metadata (titles / genres); read it with u.item or movies.dat");
  const ItemMeta& m = *t.meta;
  const size_t ni = size_t(t.n_items);
  const int32_t n_genres = int32_t(m.genre_names.size());
  // vocabulary and document frequencies of title words
  std::vector<std::vector<std::string>> words(ni);
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<int32_t> df;
  size_t n_docs = 0;
  for (size_t i = 0; i < ni && i < m.title.size(); ++i) {
    if (!o_.titles) break;
    words[i] = title_words(m.title[i]);
    if (!words[i].empty()) ++n_docs;
    std::vector<std::string> uniq = words[i];
    std::sort(uniq.begin(), uniq.end());
    uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
    for (auto& w : uniq) {
      auto [it, fresh] = vocab.emplace(w, int32_t(df.size()));
      if (fresh) df.push_back(0);
      ++df[size_t(it->second)];
    }
  }
  ptr_.assign(ni + 1, 0);
  feat_.clear();
  val_.clear();
  for (size_t i = 0; i < ni; ++i) {
    std::map<int32_t, float> g, w;  // feature -> weight, sorted
    if (o_.genres && i < m.genres.size())
      for (int32_t x : m.genres[i]) g[x] = 1.0f;
    for (auto& word : words[i]) {
      const int32_t v = vocab.at(word);
      w[n_genres + v] += float(std::log(double(n_docs + 1) / double(df[size_t(v)])));
    }
    auto norm = [](const std::map<int32_t, float>& f) {
      double s = 0;
      for (auto& [k, v] : f) s += double(v) * v;
      return s > 0 ? 1.0 / std::sqrt(s) : 0.0;
    };
    const double gn = norm(g), wn = norm(w) * o_.title_weight;
    std::map<int32_t, float> all;
    for (auto& [k, v] : g) all[k] = float(v * gn);
    for (auto& [k, v] : w) all[k] = float(v * wn);
    const double an = norm(all);
    for (auto& [k, v] : all) {
      if (v == 0.0f) continue;
      feat_.push_back(k);
      val_.push_back(float(v * an));
    }
    ptr_[i + 1] = int64_t(feat_.size());
  }
  user_mean_.assign(size_t(t.n_users), t.global_mean);
  for (int32_t u = 0; u < t.n_users; ++u) {
    double s = 0;
    for (int64_t k = t.ur_ptr[size_t(u)]; k < t.ur_ptr[size_t(u) + 1]; ++k) s += t.ur_rating[size_t(k)];
    if (t.user_count(u) > 0) user_mean_[size_t(u)] = s / double(t.user_count(u));
  }
}

bool ContentBased::has_profile(int32_t i) const {
  return i >= 0 && size_t(i) + 1 < ptr_.size() && ptr_[size_t(i) + 1] > ptr_[size_t(i)];
}

float ContentBased::item_cos(int32_t a, int32_t b) const {
  int64_t x = ptr_[size_t(a)], xe = ptr_[size_t(a) + 1], y = ptr_[size_t(b)], ye = ptr_[size_t(b) + 1];
  float s = 0;
  while (x < xe && y < ye) {  // merge of two sorted sparse vectors
    if (feat_[size_t(x)] < feat_[size_t(y)]) ++x;
    else if (feat_[size_t(x)] > feat_[size_t(y)]) ++y;
    else s += val_[size_t(x++)] * val_[size_t(y++)];
  }
  return s;
}

bool ContentBased::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  est = t.global_mean;
  if (!t.knows_user(u) || !has_profile(i)) return false;
  const double mean = user_mean_[size_t(u)];
  std::vector<std::pair<float, float>> nb;  // (similarity, rating)
  for (int64_t k = t.ur_ptr[size_t(u)]; k < t.ur_ptr[size_t(u) + 1]; ++k) {
    const int32_t j = t.ur_item[size_t(k)];
    if (j == i || !has_profile(j)) continue;
    const float s = item_cos(i, j);
    if (s > 0) nb.push_back({s, t.ur_rating[size_t(k)]});
  }
  const size_t k = std::min(nb.size(), size_t(std::max(o_.k, 1)));
  std::partial_sort(nb.begin(), nb.begin() + std::ptrdiff_t(k), nb.end(),
                    [](auto& a, auto& b) { return a.first > b.first; });
  double ss = 0, sr = 0;
  for (size_t a = 0; a < k; ++a) {
    ss += nb[a].first;
    sr += nb[a].first * (nb[a].second - mean);
  }
  est = mean + (ss > 0 ? sr / ss : 0.0);
  return true;
}

void ContentBased::score_items(int32_t u, std::vector<float>& scores) const {
  const TrainSet& t = ts();
  scores.assign(size_t(t.n_items), 0.0f);
  // user profile: rated items' profiles weighted by (rating - user mean), or 1 when all equal
  std::unordered_map<int32_t, float> prof;
  const double mean = user_mean_[size_t(u)];
  bool varied = false;
  for (int64_t k = t.ur_ptr[size_t(u)]; k < t.ur_ptr[size_t(u) + 1]; ++k)
    varied |= std::abs(t.ur_rating[size_t(k)] - mean) > 1e-6;
  for (int64_t k = t.ur_ptr[size_t(u)]; k < t.ur_ptr[size_t(u) + 1]; ++k) {
    const int32_t j = t.ur_item[size_t(k)];
    const float w = varied ? float(t.ur_rating[size_t(k)] - mean) : 1.0f;
    for (int64_t x = ptr_[size_t(j)]; x < ptr_[size_t(j) + 1]; ++x) prof[feat_[size_t(x)]] += w * val_[size_t(x)];
  }
  for (int32_t i = 0; i < t.n_items; ++i) {
    float s = 0;
    for (int64_t x = ptr_[size_t(i)]; x < ptr_[size_t(i) + 1]; ++x) {
      auto it = prof.find(feat_[size_t(x)]);
      if (it != prof.end()) s += it->second * val_[size_t(x)];
    }
    scores[size_t(i)] = s;
  }
}

std::vector<Scored> ContentBased::similar_items(int32_t i, int n) const {
  const TrainSet& t = train();
  KUN_CHECK(has_profile(i), ValueError, kind(), ": item ", i, " has no metadata profile");
  std::vector<Scored> c;
  for (int32_t j = 0; j < t.n_items; ++j)
    if (j != i && has_profile(j)) c.push_back({j, item_cos(i, j)});
  const size_t m = std::min(c.size(), size_t(std::max(n, 0)));
  std::partial_sort(c.begin(), c.begin() + std::ptrdiff_t(m), c.end(), [](const Scored& a, const Scored& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  });
  c.resize(m);
  return c;
}

void ContentBased::save_params(BinWriter& w) const {
  w.vec(ptr_);
  w.vec(feat_);
  w.vec(val_);
  w.vec(user_mean_);
}
void ContentBased::load_params(BinReader& r) {
  ptr_ = r.vec<int64_t>();
  feat_ = r.vec<int32_t>();
  val_ = r.vec<float>();
  user_mean_ = r.vec<double>();
  if (ptr_.size() != size_t(ts().n_items) + 1 || feat_.size() != val_.size() || user_mean_.size() != size_t(ts().n_users))
    r.fail("content profile sizes");
  for (size_t k = 0; k + 1 < ptr_.size(); ++k)
    if (ptr_[k] < 0 || ptr_[k] > ptr_[k + 1] || size_t(ptr_[k + 1]) > feat_.size()) r.fail("content profile offsets");
}

// ---- Hybrid ------------------------------------------------------------------------------------
Hybrid::Hybrid(std::unique_ptr<Recommender> cf, ContentOptions co) : cf_(std::move(cf)), content_(co) {
  KUN_CHECK(cf_ != nullptr, ValueError, "hybrid: needs a collaborative model");
}

void Hybrid::set_train(std::shared_ptr<const TrainSet> t) {
  Recommender::set_train(t);
  cf_->set_train(t);
  content_.set_train(t);
  pop_.set_train(t);
}

void Hybrid::fit_impl() {
  cf_->fit(train_);
  has_content_ = ts().meta && !ts().meta->empty();
  if (has_content_) content_.fit(train_);
  pop_.fit(train_);
}

bool Hybrid::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  const bool ku = t.knows_user(u), ki = t.knows_item(i);
  if (ku && ki) return cf_->estimate(u, i, est);
  if (ku && has_content_ && content_.has_profile(i)) return content_.estimate(u, i, est);  // cold item
  return pop_.estimate(u, i, est);  // cold user: the item's (shrunk) mean, or mu
}

void Hybrid::score_items(int32_t u, std::vector<float>& scores) const {
  const TrainSet& t = ts();
  cf_->score_items(u, scores);
  if (!has_content_) return;
  for (int32_t i = 0; i < t.n_items; ++i)
    if (!t.knows_item(i) && content_.has_profile(i)) {
      double est = t.global_mean;
      content_.estimate(u, i, est);
      scores[size_t(i)] = float(est);
    }
}

std::vector<Scored> Hybrid::similar_items(int32_t i, int n) const {
  if (ts().knows_item(i) || !has_content_) return cf_->similar_items(i, n);
  return content_.similar_items(i, n);
}

void Hybrid::save_params(BinWriter& w) const {
  cf_->save_params(w);
  w.u64(has_content_ ? 1 : 0);
  if (has_content_) content_.save_params(w);
}
void Hybrid::load_params(BinReader& r) {
  cf_->load_params(r);
  has_content_ = r.u64() == 1;
  if (has_content_) content_.load_params(r);
  pop_.load_params(r);
}

}  // namespace kun::recsys
