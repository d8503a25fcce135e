// The model repository (see include/kun/serve/repository.h).
#include "kun/serve/repository.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kun/serve/codec.h"
#include "kun/train/config.h"
#include "kun/train/model.h"

namespace kun::serve {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool valid_model_name(const std::string& s) {
  if (s.empty() || s.size() > 128 || s[0] == '.') return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

// "3" -> 3; anything else (leading zeros allowed, signs not) -> -1.
int64_t parse_version(const std::string& s) {
  if (s.empty() || s.size() > 18) return -1;
  for (char c : s)
    if (c < '0' || c > '9') return -1;
  const int64_t v = std::stoll(s);
  return v > 0 ? v : -1;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Name, size and mtime of every file of a version folder: changes when the files do.
std::string dir_signature(const fs::path& dir) {
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const auto t = fs::last_write_time(e.path(), ec).time_since_epoch().count();
    parts.push_back(e.path().filename().string() + ":" + std::to_string(e.file_size(ec)) + ":" + std::to_string(t));
  }
  std::sort(parts.begin(), parts.end());
  std::string s;
  for (auto& p : parts) s += p + ";";
  return s;
}

int64_t get_int(const json& j, const char* key, int64_t lo, int64_t hi, const std::string& source) {
  const json& v = j.at(key);
  KUN_CHECK(v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi, ValueError, source, ": \"",
            key, "\" must be an integer in [", lo, ", ", hi, "], got ", v.dump());
  return v.get<int64_t>();
}

}  // namespace

ModelConfig parse_model_config(const std::string& text, const ModelConfig& defaults, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    KUN_CHECK(false, ValueError, source, ": not valid JSON (", e.what(), ")");
  }
  KUN_CHECK(j.is_object(), ValueError, source, ": expected a JSON object like {\"max_batch_size\": 32}");
  ModelConfig c = defaults;
  static const std::set<std::string> known = {"max_batch_size", "max_queue_delay_us", "instances",     "max_queue_size",
                                              "threads_per_instance", "labels", "version_policy"};
  for (auto it = j.begin(); it != j.end(); ++it)
    KUN_CHECK(known.count(it.key()), ValueError, source, ": unknown field \"", it.key(),
              "\" (known: max_batch_size, max_queue_delay_us, instances, max_queue_size, threads_per_instance, labels, "
              "version_policy)");
  if (j.contains("max_batch_size")) c.max_batch_size = get_int(j, "max_batch_size", 0, 65536, source);
  if (j.contains("max_queue_delay_us")) c.max_queue_delay_us = get_int(j, "max_queue_delay_us", 0, 10'000'000, source);
  if (j.contains("instances")) c.instances = int(get_int(j, "instances", 1, 64, source));
  if (j.contains("max_queue_size")) c.max_queue_size = get_int(j, "max_queue_size", 1, 1'000'000, source);
  if (j.contains("threads_per_instance")) c.threads_per_instance = int(get_int(j, "threads_per_instance", 0, 1024, source));
  if (j.contains("labels")) {
    const json& l = j["labels"];
    KUN_CHECK(l.is_object(), ValueError, source, ": \"labels\" must map names to versions, e.g. {\"stable\": 1}");
    c.labels.clear();
    for (auto it = l.begin(); it != l.end(); ++it) {
      KUN_CHECK(it.value().is_number_integer() && it.value().get<int64_t>() > 0, ValueError, source, ": label \"",
                it.key(), "\" must name a positive version number, got ", it.value().dump());
      c.labels[it.key()] = it.value().get<int64_t>();
    }
  }
  if (j.contains("version_policy")) {
    const json& p = j["version_policy"];
    if (p.is_string() && p.get<std::string>() == "all") {
      c.policy = ModelConfig::Policy::All;
    } else if (p.is_string() && p.get<std::string>() == "latest") {
      c.policy = ModelConfig::Policy::Latest, c.latest_n = 1;
    } else if (p.is_object() && p.size() == 1 && p.contains("all")) {
      c.policy = ModelConfig::Policy::All;
    } else if (p.is_object() && p.size() == 1 && p.contains("latest")) {
      const json& n = p["latest"];
      const json& nv = n.is_object() && n.contains("num_versions") ? n["num_versions"] : n;
      KUN_CHECK(nv.is_number_integer() && nv.get<int64_t>() >= 1, ValueError, source,
                ": version_policy latest needs a count >= 1, e.g. {\"latest\": 2}, got ", p.dump());
      c.policy = ModelConfig::Policy::Latest, c.latest_n = nv.get<int64_t>();
    } else if (p.is_object() && p.size() == 1 && p.contains("specific")) {
      const json& s = p["specific"];
      const json& sv = s.is_object() && s.contains("versions") ? s["versions"] : s;
      KUN_CHECK(sv.is_array() && !sv.empty(), ValueError, source,
                ": version_policy specific needs a list of versions, e.g. {\"specific\": [1, 3]}");
      c.policy = ModelConfig::Policy::Specific, c.specific.clear();
      for (const json& v : sv) {
        KUN_CHECK(v.is_number_integer() && v.get<int64_t>() > 0, ValueError, source,
                  ": version_policy specific: versions are positive integers, got ", v.dump());
        c.specific.push_back(v.get<int64_t>());
      }
    } else {
      KUN_CHECK(false, ValueError, source, ": version_policy must be {\"latest\": N}, \"all\" or {\"specific\": [..]}, got ",
                p.dump());
    }
  }
  return c;
}

std::string find_model_file(const std::string& version_dir) {
  const fs::path d(version_dir);
  if (fs::exists(d / "model.kun")) return (d / "model.kun").string();
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d, ec))
    if (e.is_regular_file(ec) && e.path().extension() == ".kun") found.push_back(e.path());
  KUN_CHECK(found.size() == 1, IOError, version_dir, ": expected one saved model (model.kun, written by kun train), found ",
            found.size(), " .kun files");
  return found[0].string();
}

struct ModelRepository::Entry {
  ModelConfig config;
  std::string config_text;  // as last parsed ("" when absent)
  std::string config_error;
  std::map<int64_t, std::shared_ptr<LoadedVersion>> loaded;
  std::map<int64_t, std::string> loaded_sig;
  std::map<int64_t, std::pair<std::string, std::string>> failed;  // version -> (signature, error)
  std::vector<int64_t> on_disk;
  std::string reason;  // model-level note (e.g. "unloaded")
};

ModelRepository::ModelRepository(RepositoryOptions opt, Metrics* metrics) : opt_(std::move(opt)), metrics_(metrics) {
  KUN_CHECK(fs::is_directory(opt_.root), IOError, "serve: model repository '", opt_.root,
            "' is not a folder (expected DIR/<model>/<version>/model.kun)");
}

ModelRepository::~ModelRepository() { shutdown(); }

std::shared_ptr<LoadedVersion> ModelRepository::load_version(const std::string& name, int64_t version,
                                                             const std::string& dir, const ModelConfig& cfg) {
  const std::string file = find_model_file(dir);
  const auto meta = train::load_meta(file);
  KUN_CHECK(meta.has_value(), IOError, file, ": missing ", train::meta_path_for(file),
            " (the input shape, classes and preprocessing kun train writes next to the model)");
  KUN_CHECK(!meta->input_shape.empty(), IOError, train::meta_path_for(file), ": no input_shape recorded");
  ModelSignature sig;
  sig.input_shape = meta->input_shape;
  sig.classes = meta->classes;
  sig.output_activation = meta->output_activation;
  auto models = std::make_shared<std::vector<std::shared_ptr<train::Model>>>();
  for (int i = 0; i < cfg.instances; ++i) models->push_back(std::make_shared<train::Model>(train::Model::load(file)));
  auto pre = std::make_shared<train::Preprocess>(meta->preprocess);
  Batcher::Forward forward = [models, pre](int instance, const Tensor& batch) {
    const Tensor x = pre->kind == "none" ? batch : pre->apply(batch);
    return (*models)[size_t(instance)]->predict(x, x.size(0));
  };
  // Warm-up: one example of zeros through every instance; it must run and give finite outputs.
  std::vector<int64_t> xs = {1};
  xs.insert(xs.end(), sig.input_shape.begin(), sig.input_shape.end());
  const Tensor zeros = kun::zeros(Shape(xs));
  for (int i = 0; i < cfg.instances; ++i) {
    Tensor y = forward(i, zeros);
    KUN_CHECK(y.dim() >= 1 && y.size(0) == 1, ShapeError, file, ": warm-up gave outputs of shape ", y.shape(),
              " for one example");
    const auto v = y.to_vector<float>();
    for (float f : v) KUN_CHECK(std::isfinite(f), ValueError, file, ": warm-up output is not finite (corrupt weights?)");
    if (i == 0) {
      const auto d = y.shape().vec();
      sig.output_shape.assign(d.begin() + 1, d.end());
    }
  }
  BatcherOptions bo;
  bo.max_batch_size = cfg.max_batch_size;
  bo.max_queue_delay_us = cfg.max_queue_delay_us;
  bo.max_queue_size = cfg.max_queue_size;
  bo.threads_per_instance = cfg.threads_per_instance;
  auto batcher = std::make_unique<Batcher>(bo, cfg.instances, sig.input_shape, forward, metrics_, name);
  return std::make_shared<LoadedVersion>(name, version, std::move(sig), std::move(batcher));
}

void ModelRepository::scan_model(const std::string& name, std::vector<std::string>& problems) {
  const fs::path mdir = fs::path(opt_.root) / name;
  std::shared_ptr<Entry> old;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (auto it = models_.find(name); it != models_.end()) old = it->second;
  }
  auto e = std::make_shared<Entry>(old ? *old : Entry{});
  if (!old) e->config = opt_.defaults;
  e->reason.clear();
  // config.json: a broken new config keeps the old one (and everything loaded with it).
  bool config_changed = false;
  std::string text;
  if (fs::exists(mdir / "config.json")) text = read_text(mdir / "config.json");
  if (text != e->config_text || !old) {
    try {
      e->config = text.empty() ? opt_.defaults : parse_model_config(text, opt_.defaults, (mdir / "config.json").string());
      e->config_text = text;
      e->config_error.clear();
      config_changed = old != nullptr;
    } catch (const std::exception& ex) {
      e->config_error = ex.what();
      problems.push_back(name + ": " + ex.what());
      if (!old) e->config_text = text;  // nothing to keep: do not load with an unparsed config
      std::lock_guard<std::mutex> lk(mu_);
      models_[name] = e;
      return;
    }
  }
  // Versions on disk.
  e->on_disk.clear();
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(mdir, ec))
    if (d.is_directory(ec)) {
      const int64_t v = parse_version(d.path().filename().string());
      if (v > 0) e->on_disk.push_back(v);
    }
  std::sort(e->on_disk.rbegin(), e->on_disk.rend());

  std::map<int64_t, std::shared_ptr<LoadedVersion>> keep;
  std::map<int64_t, std::string> keep_sig;
  // Serve `v` if it is (or becomes) loadable; false when it failed and nothing older of it works.
  auto usable = [&](int64_t v) -> bool {
    const fs::path vdir = mdir / std::to_string(v);
    const std::string sig = dir_signature(vdir);
    auto li = e->loaded.find(v);
    if (li != e->loaded.end() && e->loaded_sig[v] == sig && !config_changed) {
      keep[v] = li->second, keep_sig[v] = sig;
      return true;
    }
    auto fi = e->failed.find(v);
    if (fi != e->failed.end() && fi->second.first == sig && !config_changed) {  // same broken files: no retry
      if (li == e->loaded.end()) return false;
      keep[v] = li->second, keep_sig[v] = e->loaded_sig[v];
      return true;
    }
    try {
      auto lv = load_version(name, v, vdir.string(), e->config);
      keep[v] = lv, keep_sig[v] = sig;
      e->failed.erase(v);
      std::fprintf(stderr, "kun serve: loaded %s version %lld\n", name.c_str(), (long long)v);
      return true;
    } catch (const std::exception& ex) {
      e->failed[v] = {sig, ex.what()};
      problems.push_back(name + " version " + std::to_string(v) + ": " + ex.what());
      std::fprintf(stderr, "kun serve: %s version %lld failed to load: %s\n", name.c_str(), (long long)v, ex.what());
      if (li != e->loaded.end()) {  // the working copy stays
        keep[v] = li->second, keep_sig[v] = e->loaded_sig[v];
        return true;
      }
      return false;
    }
  };
  switch (e->config.policy) {
    case ModelConfig::Policy::Latest: {
      int64_t n = 0;
      for (int64_t v : e->on_disk) {
        if (n >= e->config.latest_n) break;
        if (usable(v)) ++n;
      }
      break;
    }
    case ModelConfig::Policy::All:
      for (int64_t v : e->on_disk) usable(v);
      break;
    case ModelConfig::Policy::Specific:
      for (int64_t v : e->config.specific) {
        if (std::find(e->on_disk.begin(), e->on_disk.end(), v) != e->on_disk.end()) usable(v);
        else problems.push_back(name + ": version_policy lists version " + std::to_string(v) + ", which is absent");
      }
      break;
  }
  for (auto it = e->failed.begin(); it != e->failed.end();)  // forget failures of versions gone from disk
    it = std::find(e->on_disk.begin(), e->on_disk.end(), it->first) == e->on_disk.end() ? e->failed.erase(it) : ++it;
  for (const auto& [v, lv] : e->loaded)
    if (!keep.count(v)) std::fprintf(stderr, "kun serve: unloading %s version %lld\n", name.c_str(), (long long)v);
  e->loaded = std::move(keep);
  e->loaded_sig = std::move(keep_sig);
  {
    std::lock_guard<std::mutex> lk(mu_);
    models_[name] = e;
  }
  // `old` (and with it the versions no longer kept) is released here, outside the lock: their
  // batchers finish what is queued before they go.
}

std::vector<std::string> ModelRepository::poll() {
  std::lock_guard<std::mutex> plk(poll_mu_);
  std::vector<std::string> problems;
  std::set<std::string> present;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(opt_.root, ec)) {
    const std::string name = d.path().filename().string();
    if (!d.is_directory(ec) || !valid_model_name(name)) continue;
    present.insert(name);
    if (unloaded_.count(name)) continue;
    scan_model(name, problems);
  }
  if (ec) problems.push_back("cannot list " + opt_.root + ": " + ec.message());
  std::vector<std::shared_ptr<Entry>> gone;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto it = models_.begin(); it != models_.end();)
      if (!present.count(it->first)) {
        std::fprintf(stderr, "kun serve: model %s removed from the repository\n", it->first.c_str());
        gone.push_back(it->second);
        it = models_.erase(it);
      } else {
        ++it;
      }
  }
  return problems;  // `gone` drains here, outside the lock
}

void ModelRepository::load_model(const std::string& name) {
  if (!valid_model_name(name) || !fs::is_directory(fs::path(opt_.root) / name))
    throw RequestError(404, "no model folder '" + name + "' in the repository");
  std::lock_guard<std::mutex> plk(poll_mu_);
  unloaded_.erase(name);
  std::vector<std::string> problems;
  scan_model(name, problems);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = models_.find(name);
  if (it == models_.end() || it->second->loaded.empty()) {
    std::string msg = "model '" + name + "' has no loadable version";
    if (!problems.empty()) msg += ": " + problems.front();
    throw RequestError(400, msg);
  }
}

void ModelRepository::unload_model(const std::string& name) {
  std::shared_ptr<Entry> old;
  {
    std::lock_guard<std::mutex> plk(poll_mu_);
    std::lock_guard<std::mutex> lk(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) throw RequestError(404, "model '" + name + "' is not in the repository");
    old = it->second;
    auto e = std::make_shared<Entry>(*old);
    e->loaded.clear();
    e->loaded_sig.clear();
    e->reason = "unloaded";
    it->second = e;
    unloaded_[name] = true;
  }
}

std::shared_ptr<LoadedVersion> ModelRepository::get(const std::string& model, const std::string& version,
                                                    const std::string& label) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = models_.find(model);
  if (it == models_.end()) throw RequestError(404, "unknown model '" + model + "'");
  const Entry& e = *it->second;
  int64_t v = 0;
  if (!label.empty()) {
    auto l = e.config.labels.find(label);
    if (l == e.config.labels.end()) throw RequestError(404, "model '" + model + "' has no label '" + label + "'");
    v = l->second;
  } else if (!version.empty()) {
    v = parse_version(version);
    if (v <= 0) throw RequestError(400, "version must be a positive integer, got '" + version + "'");
  }
  if (e.loaded.empty()) throw RequestError(503, "model '" + model + "' has no version loaded" +
                                                    (e.reason.empty() ? "" : " (" + e.reason + ")"), 1);
  if (v == 0) return e.loaded.rbegin()->second;
  auto lv = e.loaded.find(v);
  if (lv == e.loaded.end()) {
    std::string have;
    for (const auto& [k, x] : e.loaded) {
      if (!have.empty()) have += ", ";
      have += std::to_string(k);
    }
    throw RequestError(404, "model '" + model + "' version " + std::to_string(v) + " is not loaded (loaded: " + have + ")");
  }
  return lv->second;
}

bool ModelRepository::has_model(const std::string& model) const {
  std::lock_guard<std::mutex> lk(mu_);
  return models_.count(model) > 0;
}

bool ModelRepository::all_ready() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (models_.empty()) return false;
  for (const auto& [name, e] : models_)
    if (e->loaded.empty() && e->reason != "unloaded") return false;
  return true;
}

std::vector<VersionStatus> ModelRepository::status() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<VersionStatus> out;
  for (const auto& [name, e] : models_) {
    for (int64_t v : e->on_disk) {
      VersionStatus s{name, v, "UNAVAILABLE", ""};
      if (e->loaded.count(v)) s.state = "READY";
      if (auto f = e->failed.find(v); f != e->failed.end()) s.reason = f->second.second;
      else if (!e->loaded.count(v)) s.reason = e->reason.empty() ? "not selected by the version policy" : e->reason;
      out.push_back(s);
    }
    if (!e->config_error.empty()) out.push_back({name, 0, "UNAVAILABLE", e->config_error});
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> ModelRepository::loaded() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [name, e] : models_)
    for (const auto& [v, lv] : e->loaded) out.emplace_back(name, v);
  return out;
}

void ModelRepository::shutdown() {
  std::map<std::string, std::shared_ptr<Entry>> all;
  {
    std::lock_guard<std::mutex> lk(mu_);
    all.swap(models_);
  }
  for (auto& [name, e] : all)
    for (auto& [v, lv] : e->loaded) lv->batcher().shutdown();
}

}  // namespace kun::serve
