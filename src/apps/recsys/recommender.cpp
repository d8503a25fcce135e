// Recommender base behaviour (clipping, fallbacks, top-n), the factory and model files.
#include "kun/apps/recsys/recommender.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "kun/apps/recsys/algorithms.h"
#include "kun/core/error.h"

namespace kun::recsys {

// ---- Params ------------------------------------------------------------------------------------
double Params::num(const std::string& k, double def) const {
  auto it = kv_.find(k);
  if (it == kv_.end()) return def;
  used_[k] = true;
  double v = 0;
  const std::string& s = it->second;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  KUN_CHECK(res.ec == std::errc() && res.ptr == s.data() + s.size() && std::isfinite(v), ValueError,
            "recsys: parameter '", k, "' must be a number, got '", s, "'");
  return v;
}
int64_t Params::integer(const std::string& k, int64_t def) const {
  double v = num(k, double(def));
  KUN_CHECK(v == std::floor(v), ValueError, "recsys: parameter '", k, "' must be an integer, got ", v);
  return static_cast<int64_t>(v);
}
bool Params::flag(const std::string& k, bool def) const {
  auto it = kv_.find(k);
  if (it == kv_.end()) return def;
  used_[k] = true;
  const std::string& s = it->second;
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  KUN_CHECK(false, ValueError, "recsys: parameter '", k, "' must be true or false, got '", s, "'");
  return def;
}
std::string Params::str(const std::string& k, const std::string& def) const {
  auto it = kv_.find(k);
  if (it == kv_.end()) return def;
  used_[k] = true;
  return it->second;
}
void Params::check_all_used(const std::string& algo) const {
  for (auto& [k, v] : kv_)
    KUN_CHECK(used_.count(k), ValueError, "recsys: algorithm '", algo, "' has no parameter '", k, "'");
}

// ---- Recommender -------------------------------------------------------------------------------
void Recommender::fit(const TrainSet& ts) { fit(std::make_shared<const TrainSet>(ts)); }
void Recommender::fit(std::shared_ptr<const TrainSet> ts) {
  KUN_CHECK(ts && ts->n_ratings() > 0, ValueError, kind(), ": cannot fit on an empty training set");
  set_train(std::move(ts));
  fit_impl();
}
const TrainSet& Recommender::train() const {
  KUN_CHECK(train_ != nullptr, ValueError, kind(), ": model is not fitted");
  return *train_;
}

float Recommender::predict(int32_t u, int32_t i) const {
  const TrainSet& t = train();
  double est = t.global_mean;
  if (!estimate(u, i, est) && !std::isfinite(est)) est = t.global_mean;
  if (!std::isfinite(est)) est = t.global_mean;
  return static_cast<float>(std::clamp(est, double(t.scale.low), double(t.scale.high)));
}

void Recommender::score_items(int32_t u, std::vector<float>& scores) const {
  const TrainSet& t = train();
  scores.resize(size_t(t.n_items));
  for (int32_t i = 0; i < t.n_items; ++i) {
    double est = t.global_mean;
    estimate(u, i, est);
    scores[size_t(i)] = static_cast<float>(est);
  }
}

namespace {
std::vector<Scored> top_n(const std::vector<float>& scores, int n, const std::vector<char>* exclude, int32_t skip) {
  std::vector<Scored> cand;
  cand.reserve(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    if ((exclude && (*exclude)[i]) || int32_t(i) == skip || !std::isfinite(scores[i])) continue;
    cand.push_back({int32_t(i), scores[i]});
  }
  const size_t m = std::min(cand.size(), size_t(std::max(n, 0)));
  auto better = [](const Scored& a, const Scored& b) { return a.score > b.score || (a.score == b.score && a.item < b.item); };
  std::partial_sort(cand.begin(), cand.begin() + std::ptrdiff_t(m), cand.end(), better);
  cand.resize(m);
  return cand;
}
}  // namespace

std::vector<Scored> Recommender::recommend(int32_t u, int n) const {
  const TrainSet& t = train();
  KUN_CHECK(n >= 0, ValueError, kind(), ": recommend needs n >= 0, got ", n);
  std::vector<float> scores;
  std::vector<char> rated(size_t(t.n_items), 0);
  if (t.knows_user(u)) {
    score_items(u, scores);
    for (int64_t k = t.ur_ptr[size_t(u)]; k < t.ur_ptr[size_t(u) + 1]; ++k) rated[size_t(t.ur_item[size_t(k)])] = 1;
  } else {  // cold user: most rated items first
    scores.resize(size_t(t.n_items));
    for (int32_t i = 0; i < t.n_items; ++i) scores[size_t(i)] = float(t.item_count(i));
  }
  return top_n(scores, n, &rated, -1);
}

std::vector<Scored> Recommender::similar_items(int32_t i, int n) const {
  const TrainSet& t = train();
  KUN_CHECK(i >= 0 && i < t.n_items && t.knows_item(i), ValueError, kind(), ": item ", i,
            " has no training ratings, so it has no similar items");
  int k = 0;
  const std::vector<float>* f = item_factors(k);
  std::vector<float> scores(size_t(t.n_items), 0.0f);
  if (f && k > 0 && f->size() == size_t(t.n_items) * size_t(k)) {
    // cosine of item factor vectors
    const float* a = f->data() + size_t(i) * size_t(k);
    float na = 0;
    for (int c = 0; c < k; ++c) na += a[c] * a[c];
    for (int32_t j = 0; j < t.n_items; ++j) {
      const float* b = f->data() + size_t(j) * size_t(k);
      float dot = 0, nb = 0;
#pragma omp simd reduction(+ : dot, nb)
      for (int c = 0; c < k; ++c) {
        dot += a[c] * b[c];
        nb += b[c] * b[c];
      }
      scores[size_t(j)] = t.knows_item(j) && na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : -2.0f;
    }
  } else {
    // cosine of the items' rating vectors
    std::vector<double> dot(size_t(t.n_items), 0.0), sq(size_t(t.n_items), 0.0);
    for (int32_t j = 0; j < t.n_items; ++j)
      for (int64_t p = t.ir_ptr[size_t(j)]; p < t.ir_ptr[size_t(j) + 1]; ++p)
        sq[size_t(j)] += double(t.ir_rating[size_t(p)]) * t.ir_rating[size_t(p)];
    for (int64_t p = t.ir_ptr[size_t(i)]; p < t.ir_ptr[size_t(i) + 1]; ++p) {
      const int32_t u = t.ir_user[size_t(p)];
      const double ru = t.ir_rating[size_t(p)];
      for (int64_t q = t.ur_ptr[size_t(u)]; q < t.ur_ptr[size_t(u) + 1]; ++q)
        dot[size_t(t.ur_item[size_t(q)])] += ru * t.ur_rating[size_t(q)];
    }
    for (int32_t j = 0; j < t.n_items; ++j)
      scores[size_t(j)] = sq[size_t(j)] > 0 ? float(dot[size_t(j)] / std::sqrt(sq[size_t(i)] * sq[size_t(j)])) : -2.0f;
  }
  return top_n(scores, n, nullptr, i);
}

// ---- factory -----------------------------------------------------------------------------------
namespace {
BaselineOptions baseline_options(const Params& p, const std::string& prefix) {
  BaselineOptions o;
  const std::string m = p.str(prefix + "method", "als");
  KUN_CHECK(m == "als" || m == "sgd", ValueError, "recsys: baseline method must be als or sgd, got '", m, "'");
  o.sgd = m == "sgd";
  o.n_epochs = int(p.integer(prefix + "n_epochs", -1));
  o.reg_u = p.num(prefix + "reg_u", o.reg_u);
  o.reg_i = p.num(prefix + "reg_i", o.reg_i);
  o.lr = p.num(prefix + (prefix.empty() ? "lr" : "learning_rate"), o.lr);
  o.reg = p.num(prefix + "reg", o.reg);
  return o;
}

std::unique_ptr<Recommender> make_one(const std::string& name, const Params& p) {
  if (name == "global_mean") return std::make_unique<GlobalMean>();
  if (name == "baseline") return std::make_unique<BaselineOnly>(baseline_options(p, ""));
  if (name == "knn_basic" || name == "knn_with_means" || name == "knn_baseline") {
    KnnOptions o;
    o.rule = name == "knn_basic" ? KnnRule::basic : name == "knn_with_means" ? KnnRule::with_means : KnnRule::baseline;
    const std::string s = p.str("sim", "msd");
    if (s == "msd") o.sim = Similarity::msd;
    else if (s == "cosine") o.sim = Similarity::cosine;
    else if (s == "pearson") o.sim = Similarity::pearson;
    else if (s == "pearson_baseline") o.sim = Similarity::pearson_baseline;
    else KUN_CHECK(false, ValueError, "recsys: sim must be msd, cosine, pearson or pearson_baseline, got '", s, "'");
    o.user_based = p.flag("user_based", o.user_based);
    o.k = int(p.integer("k", o.k));
    o.min_k = int(p.integer("min_k", o.min_k));
    o.min_support = int(p.integer("min_support", o.min_support));
    o.shrinkage = p.num("shrinkage", o.shrinkage);
    o.baseline = baseline_options(p, "bsl_");
    KUN_CHECK(o.k >= 1 && o.min_k >= 0, ValueError, "recsys: knn needs k >= 1 and min_k >= 0, got k=", o.k,
              " min_k=", o.min_k);
    return std::make_unique<KnnRecommender>(o);
  }
  if (name == "svd") {
    SvdOptions o;
    o.n_factors = int(p.integer("n_factors", o.n_factors));
    o.n_epochs = int(p.integer("n_epochs", o.n_epochs));
    o.biased = p.flag("biased", o.biased);
    o.init_mean = p.num("init_mean", o.init_mean);
    o.init_std = p.num("init_std", o.init_std);
    o.lr = p.num("lr", o.lr);
    o.reg = p.num("reg", o.reg);
    o.seed = uint64_t(p.integer("seed", 0));
    KUN_CHECK(o.n_factors >= 1 && o.n_epochs >= 0, ValueError, "svd: n_factors must be >= 1 and n_epochs >= 0");
    return std::make_unique<Svd>(o);
  }
  if (name == "svdpp") {
    SvdppOptions o;
    o.n_factors = int(p.integer("n_factors", o.n_factors));
    o.n_epochs = int(p.integer("n_epochs", o.n_epochs));
    o.init_mean = p.num("init_mean", o.init_mean);
    o.init_std = p.num("init_std", o.init_std);
    o.lr = p.num("lr", o.lr);
    o.reg = p.num("reg", o.reg);
    o.seed = uint64_t(p.integer("seed", 0));
    KUN_CHECK(o.n_factors >= 1 && o.n_epochs >= 0, ValueError, "svdpp: n_factors must be >= 1 and n_epochs >= 0");
    return std::make_unique<SvdPP>(o);
  }
  if (name == "nmf") {
    NmfOptions o;
    o.n_factors = int(p.integer("n_factors", o.n_factors));
    o.n_epochs = int(p.integer("n_epochs", o.n_epochs));
    o.biased = p.flag("biased", o.biased);
    o.reg_pu = p.num("reg_pu", o.reg_pu);
    o.reg_qi = p.num("reg_qi", o.reg_qi);
    o.reg_bu = p.num("reg_bu", o.reg_bu);
    o.reg_bi = p.num("reg_bi", o.reg_bi);
    o.lr_bu = p.num("lr_bu", o.lr_bu);
    o.lr_bi = p.num("lr_bi", o.lr_bi);
    o.init_low = p.num("init_low", o.init_low);
    o.init_high = p.num("init_high", o.init_high);
    o.seed = uint64_t(p.integer("seed", 0));
    KUN_CHECK(o.n_factors >= 1 && o.init_low >= 0 && o.init_high > o.init_low, ValueError,
              "nmf: need n_factors >= 1 and 0 <= init_low < init_high");
    return std::make_unique<Nmf>(o);
  }
  if (name == "implicit_als") {
    ImplicitAlsOptions o;
    o.n_factors = int(p.integer("n_factors", o.n_factors));
    o.n_epochs = int(p.integer("n_epochs", o.n_epochs));
    o.reg = p.num("reg", o.reg);
    o.alpha = p.num("alpha", o.alpha);
    o.use_rating = p.flag("use_rating", o.use_rating);
    o.seed = uint64_t(p.integer("seed", 0));
    KUN_CHECK(o.n_factors >= 1 && o.reg > 0 && o.alpha >= 0, ValueError,
              "implicit_als: need n_factors >= 1, reg > 0, alpha >= 0");
    return std::make_unique<ImplicitAls>(o);
  }
  if (name == "bpr") {
    BprOptions o;
    o.n_factors = int(p.integer("n_factors", o.n_factors));
    o.n_epochs = int(p.integer("n_epochs", o.n_epochs));
    o.lr = p.num("lr", o.lr);
    o.reg = p.num("reg", o.reg);
    o.init_std = p.num("init_std", o.init_std);
    o.seed = uint64_t(p.integer("seed", 0));
    KUN_CHECK(o.n_factors >= 1 && o.n_epochs >= 0, ValueError, "bpr: n_factors must be >= 1 and n_epochs >= 0");
    return std::make_unique<Bpr>(o);
  }
  if (name == "gmf" || name == "mlp" || name == "neumf") {
    NcfOptions o;
    o.model = name;
    o.n_factors = int(p.integer("n_factors", o.n_factors));
    const std::string layers = p.str("layers", "");
    if (!layers.empty()) {
      o.layers.clear();
      std::stringstream ss(layers);
      std::string w;
      while (std::getline(ss, w, ',')) {
        char* end = nullptr;
        const long v = std::strtol(w.c_str(), &end, 10);
        KUN_CHECK(end && *end == '\0' && !w.empty(), ValueError, name, ": layers must be comma-separated widths like 64,32,16, got '",
                  layers, "'");
        o.layers.push_back(int(v));
      }
    }
    o.n_epochs = int(p.integer("n_epochs", o.n_epochs));
    o.batch_size = int(p.integer("batch_size", o.batch_size));
    o.negatives = int(p.integer("negatives", o.negatives));
    o.lr = p.num("lr", o.lr);
    o.weight_decay = p.num("weight_decay", o.weight_decay);
    o.seed = uint64_t(p.integer("seed", 0));
    o.verbose = int(p.integer("verbose", 0));
    return std::make_unique<Ncf>(o);
  }
  if (name == "popularity") return std::make_unique<Popularity>();
  if (name == "content" || name == "hybrid") {
    ContentOptions o;
    o.genres = p.flag("genres", o.genres);
    o.titles = p.flag("titles", o.titles);
    o.title_weight = p.num("title_weight", o.title_weight);
    o.k = int(p.integer("content_k", o.k));
    if (name == "content") return std::make_unique<ContentBased>(o);
    // hybrid: "cf" names the collaborative model, "cf.<param>" its parameters
    Params sub;
    for (auto& [k, v] : p.items())
      if (k.rfind("cf.", 0) == 0) {
        sub.set(k.substr(3), v);
        p.str(k, "");
      }
    const std::string cf = p.str("cf", "svd");
    KUN_CHECK(cf != "hybrid" && cf != "content", ValueError, "hybrid: cf must be a collaborative model, got '", cf, "'");
    return std::make_unique<Hybrid>(make_recommender(cf, sub), o);
  }
  std::string names;
  for (auto& n : recommender_names()) names += (names.empty() ? "" : ", ") + n;
  KUN_CHECK(false, ValueError, "recsys: unknown algorithm '", name, "' (choices: ", names, ")");
  return nullptr;
}
}  // namespace

std::vector<std::string> recommender_names() {
  return {"global_mean", "baseline", "knn_basic", "knn_with_means", "knn_baseline", "svd",    "svdpp",
          "nmf",         "implicit_als", "bpr",    "gmf",          "mlp",          "neumf",
          "popularity",  "content",      "hybrid"};
}

std::unique_ptr<Recommender> make_recommender(const std::string& name, const Params& p) {
  auto m = make_one(name, p);
  p.check_all_used(name);
  return m;
}

// ---- binary primitives -------------------------------------------------------------------------
void BinWriter::bytes(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
void BinWriter::str(const std::string& s) {
  u64(s.size());
  bytes(s.data(), s.size());
}
void BinReader::fail(const std::string& why) const {
  detail::throw_error<IOError>("recsys: '", what_, "' is corrupt or truncated: ", why, " (at byte ", pos_, " of ",
                               data_.size(), ")");
}
void BinReader::check_left(uint64_t n, size_t elem) {
  if (n > (data_.size() - pos_) / std::max<size_t>(elem, 1)) fail("a field of " + std::to_string(n) + " elements runs past the end");
}
void BinReader::bytes(void* p, size_t n) {
  if (n > data_.size() - pos_) fail("unexpected end of file");
  std::memcpy(p, data_.data() + pos_, n);
  pos_ += n;
}
uint64_t BinReader::u64() {
  uint64_t v;
  bytes(&v, 8);
  return v;
}
double BinReader::f64() {
  double v;
  bytes(&v, 8);
  return v;
}
std::string BinReader::str() {
  uint64_t n = u64();
  check_left(n, 1);
  std::string s(n, '\0');
  bytes(s.data(), n);
  return s;
}

// ---- model files -------------------------------------------------------------------------------
namespace {
constexpr char kMagic[8] = {'K', 'U', 'N', 'R', 'E', 'C', 'S', 'Y'};
constexpr uint64_t kVersion = 1;
constexpr uint64_t kEndMarker = 0x444E452D53594345ull;  // "ECYS-END"

uint64_t fnv1a(const std::string& s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t k = 0; k < n; ++k) h = (h ^ uint8_t(s[k])) * 1099511628211ull;
  return h;
}
}  // namespace

void save_model(const std::string& path, const ModelBundle& b) {
  KUN_CHECK(b.model && b.model->fitted(), ValueError, "save_model: the model is not fitted");
  const TrainSet& t = b.model->train();
  BinWriter w;
  w.bytes(kMagic, 8);
  w.u64(kVersion);
  w.str(b.model->kind());
  w.u64(b.params.items().size());
  for (auto& [k, v] : b.params.items()) {
    w.str(k);
    w.str(v);
  }
  w.u64(0);  // reserved for future flags
  w.u64(b.users.externals().size());
  for (auto& s : b.users.externals()) w.str(s);
  w.u64(b.items.externals().size());
  for (auto& s : b.items.externals()) w.str(s);
  w.u64(b.meta.title.size());
  for (auto& s : b.meta.title) w.str(s);
  w.u64(b.meta.genres.size());
  for (auto& g : b.meta.genres) w.vec(g);
  w.u64(b.meta.genre_names.size());
  for (auto& s : b.meta.genre_names) w.str(s);
  // training set
  w.u64(uint64_t(t.n_users));
  w.u64(uint64_t(t.n_items));
  w.f64(t.scale.low);
  w.f64(t.scale.high);
  w.vec(t.u);
  w.vec(t.i);
  w.vec(t.r);
  b.model->save_params(w);
  w.u64(kEndMarker);
  std::string data = w.data();
  const uint64_t h = fnv1a(data, data.size());
  data.append(reinterpret_cast<const char*>(&h), 8);

  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    KUN_CHECK(f.good(), IOError, "save_model: cannot write '", tmp, "'");
    f.write(data.data(), std::streamsize(data.size()));
    f.flush();
    KUN_CHECK(f.good(), IOError, "save_model: write to '", tmp, "' failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  KUN_CHECK(!ec, IOError, "save_model: cannot rename '", tmp, "' to '", path, "': ", ec.message());
}

ModelBundle load_model(const std::string& path) {
  std::string data;
  {
    std::ifstream f(path, std::ios::binary);
    KUN_CHECK(f.good(), IOError, "load_model: cannot open '", path, "'");
    std::ostringstream ss;
    ss << f.rdbuf();
    data = ss.str();
  }
  KUN_CHECK(data.size() >= 24 && std::memcmp(data.data(), kMagic, 8) == 0, IOError, "load_model: '", path,
            "' is not a kun recsys model (bad magic)");
  uint64_t stored;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  BinReader r(data, path);
  char magic[8];
  r.bytes(magic, 8);
  const uint64_t version = r.u64();
  KUN_CHECK(version == kVersion, IOError, "load_model: '", path, "' has format version ", version,
            ", this build reads version ", kVersion);
  KUN_CHECK(stored == fnv1a(data, data.size() - 8), IOError, "load_model: '", path,
            "' is corrupt or truncated (checksum mismatch)");
  ModelBundle b;
  b.algorithm = r.str();
  const uint64_t np = r.u64();
  for (uint64_t k = 0; k < np; ++k) {
    std::string key = r.str();
    b.params.set(key, r.str());
  }
  (void)r.u64();  // reserved
  const uint64_t nu = r.u64();
  for (uint64_t k = 0; k < nu; ++k) b.users.add(r.str());
  const uint64_t ni = r.u64();
  for (uint64_t k = 0; k < ni; ++k) b.items.add(r.str());
  const uint64_t nt = r.u64();
  for (uint64_t k = 0; k < nt; ++k) b.meta.title.push_back(r.str());
  const uint64_t ng = r.u64();
  for (uint64_t k = 0; k < ng; ++k) b.meta.genres.push_back(r.vec<int32_t>());
  const uint64_t ngn = r.u64();
  for (uint64_t k = 0; k < ngn; ++k) b.meta.genre_names.push_back(r.str());
  auto ts = std::make_shared<TrainSet>();
  ts->n_users = int32_t(r.u64());
  ts->n_items = int32_t(r.u64());
  ts->scale.low = float(r.f64());
  ts->scale.high = float(r.f64());
  ts->u = r.vec<int32_t>();
  ts->i = r.vec<int32_t>();
  ts->r = r.vec<float>();
  if (ts->n_users < 0 || ts->n_items < 0 || ts->u.size() != ts->r.size() || ts->i.size() != ts->r.size())
    r.fail("inconsistent training set sizes");
  for (size_t k = 0; k < ts->r.size(); ++k)
    if (ts->u[k] < 0 || ts->u[k] >= ts->n_users || ts->i[k] < 0 || ts->i[k] >= ts->n_items)
      r.fail("training rating outside the index space");
  ts->index();
  if (!b.meta.empty()) ts->meta = std::make_shared<const ItemMeta>(b.meta);
  b.model = make_recommender(b.algorithm, b.params);
  b.model->set_train(ts);
  b.model->load_params(r);
  if (r.u64() != kEndMarker) r.fail("missing end marker");
  return b;
}

}  // namespace kun::recsys
