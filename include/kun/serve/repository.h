// serve::ModelRepository: the models a server offers, read from a folder
//
//   DIR/<model>/config.json            optional, see ModelConfig
//   DIR/<model>/<version>/model.kun    a model saved by `kun train` (or Model::save), any *.kun name
//   DIR/<model>/<version>/model.kun.meta.json   its sidecar (input shape, classes, preprocessing)
//
// Versions are positive integers. poll() rescans: new or changed versions load in the background
// of the running server and replace the old ones only once they loaded and answered a warm-up
// forward pass; a version that fails to load never replaces a working one (its error is kept
// for GET /v2/repository/index and the log). Removed versions drain their queue and go.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kun/serve/batcher.h"
#include "kun/serve/metrics.h"

namespace kun::serve {

// DIR/<model>/config.json, e.g.
//   {"max_batch_size": 32, "max_queue_delay_us": 2000, "instances": 1, "max_queue_size": 1024,
//    "labels": {"stable": 1, "canary": 2}, "version_policy": {"latest": 1}}
// version_policy: {"latest": N} (default N = 1), "all" / {"all": {}}, {"specific": [1, 3]}.
struct ModelConfig {
  int64_t max_batch_size = 0;      // 0: batching off
  int64_t max_queue_delay_us = 0;
  int instances = 1;
  int64_t max_queue_size = 1024;
  int threads_per_instance = 0;    // 0: cores / instances
  std::map<std::string, int64_t> labels;
  enum class Policy { Latest, All, Specific } policy = Policy::Latest;
  int64_t latest_n = 1;
  std::vector<int64_t> specific;
};
// Parses a config.json text on top of `defaults` (fields absent keep their default). ValueError
// naming `source` and the field on anything wrong (unknown fields too).
ModelConfig parse_model_config(const std::string& text, const ModelConfig& defaults, const std::string& source);

// What a loaded version takes and gives (shapes without the batch dim).
struct ModelSignature {
  std::string input_name = "input", output_name = "output";
  std::vector<int64_t> input_shape, output_shape;
  std::vector<std::string> classes;
  std::string output_activation = "none";  // softmax | sigmoid | none: how outputs become probabilities
};

// One loaded version: its signature and its batcher (which owns the model copies).
class LoadedVersion {
 public:
  LoadedVersion(std::string model, int64_t version, ModelSignature sig, std::unique_ptr<Batcher> batcher)
      : model_(std::move(model)), version_(version), sig_(std::move(sig)), batcher_(std::move(batcher)) {}
  const std::string& model() const { return model_; }
  int64_t version() const { return version_; }
  const ModelSignature& signature() const { return sig_; }
  Batcher& batcher() { return *batcher_; }
  const Batcher& batcher() const { return *batcher_; }

 private:
  std::string model_;
  int64_t version_;
  ModelSignature sig_;
  std::unique_ptr<Batcher> batcher_;
};

struct VersionStatus {
  std::string model;
  int64_t version = 0;
  std::string state;   // READY | UNAVAILABLE
  std::string reason;  // why UNAVAILABLE (load error, not selected by the policy)
};

struct RepositoryOptions {
  std::string root;
  ModelConfig defaults;  // config.json fields override these per model
};

class ModelRepository {
 public:
  explicit ModelRepository(RepositoryOptions opt, Metrics* metrics = nullptr);
  ~ModelRepository();  // shutdown()

  // Rescans every model folder (loads new / changed versions, unloads removed ones). Returns the
  // problems met, one line each (also kept in status()). Never throws for a bad model folder.
  std::vector<std::string> poll();
  // Rescans one model (POST /v2/repository/models/<m>/load). RequestError 404 when DIR/<m> is absent;
  // RequestError 400 with the load error when no version of it could be loaded.
  void load_model(const std::string& name);
  // Unloads every version of one model until the next load_model (POST .../unload).
  void unload_model(const std::string& name);

  // The version to serve: `version` "" = the newest loaded; `label` (when non-empty) names a
  // version through config.json labels. RequestError 404 naming what exists otherwise.
  std::shared_ptr<LoadedVersion> get(const std::string& model, const std::string& version = "",
                                     const std::string& label = "") const;
  bool has_model(const std::string& model) const;
  // Every model has at least one version loaded (and at least one model exists).
  bool all_ready() const;
  std::vector<VersionStatus> status() const;
  std::vector<std::pair<std::string, int64_t>> loaded() const;  // (model, version) pairs
  const std::string& root() const { return opt_.root; }

  // Drains and stops every batcher; get() then finds nothing.
  void shutdown();

 private:
  struct Entry;
  void scan_model(const std::string& name, std::vector<std::string>& problems);
  std::shared_ptr<LoadedVersion> load_version(const std::string& name, int64_t version, const std::string& dir,
                                              const ModelConfig& cfg);

  RepositoryOptions opt_;
  Metrics* metrics_;
  std::mutex poll_mu_;        // one scan at a time
  mutable std::mutex mu_;     // guards models_
  std::map<std::string, std::shared_ptr<Entry>> models_;
  std::map<std::string, bool> unloaded_;  // explicitly unloaded (poll leaves them alone)
};

// The model file of a version folder: model.kun, else the only *.kun there. IOError otherwise.
std::string find_model_file(const std::string& version_dir);

}  // namespace kun::serve
