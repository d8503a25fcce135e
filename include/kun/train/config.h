// Run configs: one TOML (or JSON) file describing a whole training job — data, model, optimizer,
// loss, metrics, epochs — turned into the objects train::Model needs. `kun train CONFIG` reads
// one; with no file it uses the embedded default (a CNN on Fashion-MNIST, examples/fashion_mnist.toml).
//
//   RunConfig rc = parse_config_file("examples/mnist_cnn.toml");
//   PreparedData d = load_data(rc.data, rc.train.seed);
//   Model m(build_module(rc));
//   m.compile(build_optimizer(rc.train), build_loss(rc), build_metrics(rc.train));
//
// Every section's keys are checked: an unknown key is a ValueError naming the file, the section and
// the key, with the closest accepted key ("config x.toml: [train] unknown key 'epoch'; did you mean
// 'epochs'?"). The format is documented in docs/cli.md.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kun/core/shape.h"
#include "kun/data/dataset.h"
#include "kun/data/loader.h"
#include "kun/data/transform.h"
#include "kun/nn/loss.h"
#include "kun/nn/module.h"
#include "kun/optim/optimizer.h"
#include "kun/train/callbacks.h"
#include "kun/train/metrics.h"

namespace kun::train {

using json = nlohmann::json;

// [data]
struct DataConfig {
  std::string kind = "fashion_mnist";  // mnist | fashion_mnist | csv | npy | image_folder
  std::string path;                    // folder or file; "" = the kind's default location
  std::string test_path;               // csv / image_folder: a separate test set
  std::string x, y, test_x, test_y;    // npy: feature and label files
  double test_split = 0.0;             // held-out test fraction when there is no separate test set
  double validation_split = 0.0;       // passed to fit: the last fraction of the training data
  std::string normalize = "none";      // none | standardize | minmax (fitted on the training split)
  bool per_channel = true;             // statistics per channel of (N, C, ...) instead of per feature
  data::AugmentOptions augment;        // training batches only
  int64_t train_limit = 0;             // use only the first N training / test examples (0: all)
  int64_t test_limit = 0;
  std::vector<std::string> classes;    // class names (mnist / fashion_mnist have defaults)
  // csv
  std::string label_column;
  std::optional<int64_t> label_index;
  std::string delimiter = ",";
  bool header = true;
  std::optional<double> fill_missing;
  // image_folder (and the size `kun predict` resizes images to)
  int channels = 3;
  int64_t height = 0, width = 0;
};

// [train]
struct TrainConfig {
  json optimizer = {{"name", "adam"}, {"lr", 1e-3}};  // optim::make_optimizer's JSON
  std::string loss = "sparse_categorical_crossentropy";
  json loss_options = json::object();  // e.g. {"from_logits": true}; inferred from the model when absent
  std::vector<std::string> metrics = {"accuracy"};
  int epochs = 1;
  int64_t batch_size = 32;
  uint64_t seed = 0;
  bool shuffle = true;
  int verbose = 1;
  std::vector<double> class_weight;
  json early_stopping;  // null, or {monitor, patience, min_delta, mode, restore_best_weights}
  json checkpoint;      // null, or {path, monitor, save_best_only, mode}
  json lr_schedule;     // null, or {name = step|multistep|exponential|cosine|warmup_cosine|plateau, ...}
};

struct RunConfig {
  std::string source;  // the file it came from ("<embedded default>" for the built-in job)
  std::string name;    // [run] name, shown by `kun runs list`
  DataConfig data;
  json model;          // nn architecture: {"type": "sequential" | "graph", "config": {...}}
  std::vector<int64_t> input_shape;  // [model] input_shape (no batch dim); empty: taken from the data
  std::string output;  // [output] model path; "" = runs/<id>/model.kun
  TrainConfig train;
  json raw;            // the whole file as JSON (recorded with each run)
};

// Parses a .toml or .json file (by extension; anything else is tried as TOML).
RunConfig parse_config_file(const std::string& path);
// Parses text; `format` is "toml" or "json"; `source` names it in error messages.
RunConfig parse_config_text(const std::string& text, const std::string& format, const std::string& source);
// The embedded default job (the same text as examples/fashion_mnist.toml).
const char* default_config_toml();
RunConfig default_config();

// The architecture JSON (rc.model) built into a module, wrapping layer errors with the config's name.
nn::ModulePtr build_module(const RunConfig& rc);
std::shared_ptr<optim::Optimizer> build_optimizer(const TrainConfig& t);
// The loss by name; for cross-entropies without an explicit from_logits it is inferred from the
// model: probabilities when the last layer ends in softmax/sigmoid, logits otherwise.
loss::AnyLoss build_loss(const RunConfig& rc);
std::vector<metric::AnyMetric> build_metrics(const TrainConfig& t);
// How to turn the model's outputs into probabilities for display: "softmax", "sigmoid" or "none".
std::string output_activation(const RunConfig& rc);

// Preprocessing fitted on the training split, saved next to the model so eval/predict apply the same.
struct Preprocess {
  std::string kind = "none";  // none | standardize | minmax
  bool per_channel = true;
  Tensor a, b;  // standardize: mean, std; minmax: min, max
  Tensor apply(const Tensor& x) const;
  json to_json() const;
  static Preprocess from_json(const json& j);
};

struct PreparedData {
  data::TensorDataset train, test;  // test may be empty
  std::vector<int64_t> input_shape;  // one example, no batch dim
  std::vector<std::string> classes;  // names, or "0".."C-1"
  Preprocess preprocess;
  std::string description;  // "Fashion-MNIST: 60000 train / 10000 test, (1, 28, 28), 10 classes"
};

// Loads, limits, splits and scales the data a config describes. `seed` drives the test split.
PreparedData load_data(const DataConfig& d, uint64_t seed = 0);
// The augmentation as a batch transform for fit (empty when nothing is enabled).
data::BatchTransform make_augmentation(const DataConfig& d);
// Callbacks from [train] early_stopping / checkpoint / lr_schedule.
std::vector<std::shared_ptr<Callback>> build_callbacks(const TrainConfig& t);
// The input shape without loading data when the config or the kind tells it ((1, 28, 28) for the
// MNIST family); empty when the data must be read to know.
std::vector<int64_t> known_input_shape(const RunConfig& rc);

// Default class names of the built-in datasets.
std::vector<std::string> default_classes(const std::string& kind);

// Sidecar metadata saved next to a model file (<model>.meta.json): what predict/eval need beyond
// the weights — input shape, class names, preprocessing, output activation, the data section.
struct ModelMeta {
  std::vector<int64_t> input_shape;
  std::vector<std::string> classes;
  Preprocess preprocess;
  std::string output_activation = "softmax";
  int channels = 1;
  json data;  // the [data] section as JSON (eval's default data)
  json to_json() const;
  static ModelMeta from_json(const json& j);
};
std::string meta_path_for(const std::string& model_path);
void save_meta(const std::string& model_path, const ModelMeta& m);
// Missing file -> nullopt; a corrupt one -> IOError.
std::optional<ModelMeta> load_meta(const std::string& model_path);

// The [data] section <-> JSON (for the meta file and the run records).
json data_config_to_json(const DataConfig& d);
DataConfig data_config_from_json(const json& j, const std::string& source);

// "epoch" vs {"epochs", "batch_size"} -> "epochs" (edit distance <= 2 or a prefix), else "".
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace kun::train
