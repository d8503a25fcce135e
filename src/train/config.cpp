#include "kun/train/config.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "train/toml_json.h"
#include "kun/core/error.h"
#include "kun/data/csv.h"
#include "kun/data/image_folder.h"
#include "kun/data/mnist.h"
#include "kun/data/npy.h"
#include "kun/data/split.h"
#include "kun/nn/activation.h"
#include "kun/optim/factory.h"
#include "kun/optim/schedule.h"
#include "kun/tensor/ops.h"

namespace kun::train {

namespace fs = std::filesystem;

namespace {

// The embedded default job; examples/fashion_mnist.toml holds the same text (a test checks it).
const char* const kDefaultToml = R"toml(# The README's main job: a CNN on Fashion-MNIST (Debian's dataset-fashion-mnist package).
# kun train (no config) runs exactly this: 6 epochs, >= 91% test accuracy.
[run]
name = "fashion_mnist_cnn"

[data]
kind = "fashion_mnist"          # path "" = $KUN_DATA_DIR/fashion-mnist or /usr/share/datasets/fashion-mnist
validation_split = 0.0

[model]
input_shape = [1, 28, 28]

[[model.layers]]
type = "conv2d"
out_channels = 32
kernel = 3
padding = "same"
activation = "relu"

[[model.layers]]
type = "max_pool2d"
kernel = 2

[[model.layers]]
type = "conv2d"
out_channels = 64
kernel = 3
padding = "same"
activation = "relu"

[[model.layers]]
type = "max_pool2d"
kernel = 2

[[model.layers]]
type = "flatten"

[[model.layers]]
type = "dense"
units = 128
activation = "relu"

[[model.layers]]
type = "dropout"
rate = 0.3

[[model.layers]]
type = "dense"
units = 10

[train]
optimizer = { name = "adam", lr = 1e-3 }
loss = { name = "sparse_categorical_crossentropy", from_logits = true }
metrics = ["accuracy"]
epochs = 6
batch_size = 64
seed = 1
lr_schedule = { name = "cosine", t_max = 6, eta_min = 1e-5 }
)toml";

std::string kind_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "a table";
    default: return "null";
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Reads one section's keys with type checks and rejects the keys it never asked about.
class Section {
 public:
  Section(const json& j, std::string source, std::string where)
      : j_(j), source_(std::move(source)), where_(std::move(where)) {
    if (!j_.is_null() && !j_.is_object()) fail("must be a table, got " + kind_name(j_));
  }
  [[noreturn]] void fail(const std::string& what) const {
    detail::throw_error<ValueError>("config ", source_, ": ", where_, " ", what);
  }
  bool has(const std::string& k) {
    keys_.push_back(k);
    return j_.is_object() && j_.contains(k);
  }
  const json& get(const std::string& k) const { return j_.at(k); }
  void str(const std::string& k, std::string& out) {
    if (!has(k)) return;
    if (!j_[k].is_string()) bad(k, "a string");
    out = j_[k].get<std::string>();
  }
  template <typename I>
  void integer(const std::string& k, I& out, int64_t min = INT64_MIN) {
    if (!has(k)) return;
    if (!j_[k].is_number_integer()) bad(k, "an integer");
    int64_t v = j_[k].get<int64_t>();
    if (v < min) fail("'" + k + "' must be >= " + std::to_string(min) + ", got " + std::to_string(v));
    out = static_cast<I>(v);
  }
  void number(const std::string& k, double& out) {
    if (!has(k)) return;
    if (!j_[k].is_number()) bad(k, "a number");
    out = j_[k].get<double>();
  }
  void fraction(const std::string& k, double& out) {
    number(k, out);
    if (out < 0.0 || out >= 1.0) fail("'" + k + "' must be in [0, 1), got " + std::to_string(out));
  }
  void flag(const std::string& k, bool& out) {
    if (!has(k)) return;
    if (!j_[k].is_boolean()) bad(k, "true or false");
    out = j_[k].get<bool>();
  }
  void strings(const std::string& k, std::vector<std::string>& out) {
    if (!has(k)) return;
    const json& v = j_[k];
    if (!v.is_array()) bad(k, "an array of strings");
    out.clear();
    for (const auto& e : v) {
      if (!e.is_string()) bad(k, "an array of strings");
      out.push_back(e.get<std::string>());
    }
  }
  void numbers(const std::string& k, std::vector<double>& out) {
    if (!has(k)) return;
    const json& v = j_[k];
    if (!v.is_array()) bad(k, "an array of numbers");
    out.clear();
    for (const auto& e : v) {
      if (!e.is_number()) bad(k, "an array of numbers");
      out.push_back(e.get<double>());
    }
  }
  void ints(const std::string& k, std::vector<int64_t>& out) {
    if (!has(k)) return;
    const json& v = j_[k];
    if (!v.is_array()) bad(k, "an array of integers");
    out.clear();
    for (const auto& e : v) {
      if (!e.is_number_integer()) bad(k, "an array of integers");
      out.push_back(e.get<int64_t>());
    }
  }
  void choice(const std::string& k, std::string& out, const std::vector<std::string>& allowed) {
    str(k, out);
    if (std::find(allowed.begin(), allowed.end(), out) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      std::string hint = closest_name(out, allowed);
      fail("'" + k + "' must be one of " + list + ", got '" + out + "'" +
           (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
  }
  // Every key present must have been asked for.
  void finish() const {
    if (!j_.is_object()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (std::find(keys_.begin(), keys_.end(), it.key()) != keys_.end()) continue;
      std::string hint = closest_name(it.key(), keys_);
      std::string accepted;
      if (hint.empty()) {
        for (const auto& k : keys_) accepted += (accepted.empty() ? "" : ", ") + k;
      }
      fail("unknown key '" + it.key() + "'" + (hint.empty() ? "; accepted: " + accepted : "; did you mean '" + hint + "'?"));
    }
  }

 private:
  [[noreturn]] void bad(const std::string& k, const char* want) const {
    fail("'" + k + "' must be " + want + ", got " + kind_name(j_.at(k)) + " " + j_.at(k).dump());
  }
  const json& j_;
  std::string source_, where_;
  std::vector<std::string> keys_;
};

// ---------------- layers ----------------

std::string squash(std::string s) {
  std::string out;
  for (char c : s)
    if (c != '_' && c != '-') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "swish",
                                                 "softplus", "softmax", "log_softmax", "linear"};
  return names;
}

// The nn registry name for a config's layer type (Keras spellings accepted), or "" when unknown.
// Activation shorthands (type = "relu") come back as "activation:<name>".
std::string canonical_type(const std::string& t) {
  static const std::vector<std::pair<std::string, std::string>> aliases = {
      {"dense", "dense"}, {"linear", "dense"}, {"conv1d", "conv1d"}, {"conv2d", "conv2d"},
      {"conv2dtranspose", "conv2d_transpose"}, {"maxpool2d", "max_pool2d"}, {"maxpooling2d", "max_pool2d"},
      {"avgpool2d", "avg_pool2d"}, {"averagepooling2d", "avg_pool2d"}, {"maxpool1d", "max_pool1d"},
      {"maxpooling1d", "max_pool1d"}, {"avgpool1d", "avg_pool1d"}, {"averagepooling1d", "avg_pool1d"},
      {"globalavgpool2d", "global_avg_pool2d"}, {"globalaveragepooling2d", "global_avg_pool2d"},
      {"globalmaxpool2d", "global_max_pool2d"}, {"globalmaxpooling2d", "global_max_pool2d"},
      {"globalavgpool1d", "global_avg_pool1d"}, {"globalaveragepooling1d", "global_avg_pool1d"},
      {"globalmaxpool1d", "global_max_pool1d"}, {"globalmaxpooling1d", "global_max_pool1d"},
      {"flatten", "flatten"}, {"reshape", "reshape"}, {"dropout", "dropout"}, {"batchnorm", "batch_norm"},
      {"batchnormalization", "batch_norm"}, {"layernorm", "layer_norm"}, {"layernormalization", "layer_norm"},
      {"embedding", "embedding"}, {"add", "add"}, {"concatenate", "concatenate"}, {"residual", "residual"},
      {"activation", "activation"}, {"leakyrelu", "leaky_relu"}, {"elu", "elu"}, {"sequential", "sequential"}};
  const std::string s = squash(t);
  for (const auto& [a, c] : aliases)
    if (a == s) return c;
  for (const auto& a : activation_names())
    if (squash(a) == s) return "activation:" + a;
  return "";
}

std::vector<std::string> layer_type_names() {
  return {"dense", "conv1d", "conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d",
          "global_avg_pool2d", "global_max_pool2d", "global_avg_pool1d", "global_max_pool1d", "flatten", "reshape",
          "dropout", "batch_norm", "layer_norm", "embedding", "add", "concatenate", "residual", "activation",
          "leaky_relu", "elu", "relu", "sigmoid", "tanh", "gelu", "silu", "softmax"};
}

// Options each type needs; the accepted keys are read from a probe layer's config(), so they
// always match what the nn layers save.
json probe_config(const std::string& type) {
  if (type == "dense") return {{"units", 1}};
  if (type == "conv1d" || type == "conv2d" || type == "conv2d_transpose") return {{"out_channels", 1}};
  if (type == "embedding") return {{"num_embeddings", 1}, {"embedding_dim", 1}};
  if (type == "reshape") return {{"shape", json::array({-1})}};
  if (type == "activation") return {{"name", "relu"}};
  return json::object();
}

std::vector<std::string> required_keys(const std::string& type) {
  std::vector<std::string> r;
  const json probe = probe_config(type);
  for (auto it = probe.begin(); it != probe.end(); ++it) r.push_back(it.key());
  return r;
}

std::vector<std::string> accepted_keys(const std::string& type) {
  static std::map<std::string, std::vector<std::string>> cache;
  auto it = cache.find(type);
  if (it != cache.end()) return it->second;
  std::vector<std::string> keys;
  json c = nn::Module::from_config({{"type", type}, {"config", probe_config(type)}})->config();
  for (auto k = c.begin(); k != c.end(); ++k) keys.push_back(k.key());
  cache[type] = keys;
  return keys;
}

// Keras option names mapped to kun's.
std::string key_alias(const std::string& k) {
  if (k == "filters") return "out_channels";
  if (k == "kernel_size" || k == "pool_size") return "kernel";
  if (k == "strides") return "stride";
  return k;
}

bool value_fits(const json& probe, const json& v, const std::string& key) {
  if (key == "padding") return v.is_string() || v.is_number_integer() || v.is_array();
  if (key == "padding_idx") return v.is_number_integer();
  if (key == "normalized_shape" || key == "shape") return v.is_array();
  if (probe.is_boolean()) return v.is_boolean();
  if (probe.is_string()) return v.is_string();
  if (probe.is_number_integer() || probe.is_number_unsigned())
    return v.is_number_integer() || (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer());
  if (probe.is_number_float()) return v.is_number();
  return true;
}

class LayerParser {
 public:
  explicit LayerParser(std::string source) : source_(std::move(source)) {}

  // One layer table (type + options) -> {"type": ..., "config": {...}}. `where` names it in errors.
  json layer(const json& t, const std::string& where, const std::vector<std::string>& extra_keys = {}) {
    if (!t.is_object()) fail(where, "must be a table with a 'type', got " + kind_name(t));
    if (!t.contains("type") || !t["type"].is_string()) fail(where, "needs a type = \"...\" (e.g. \"dense\", \"conv2d\")");
    const std::string given = t["type"].get<std::string>();
    std::string type = canonical_type(given);
    if (type.empty()) {
      std::string hint = closest_name(given, layer_type_names());
      std::string list;
      for (const auto& n : layer_type_names()) list += (list.empty() ? "" : ", ") + n;
      fail(where, "unknown layer type '" + given + "'" +
                      (hint.empty() ? "; accepted: " + list : "; did you mean '" + hint + "'?"));
    }
    const std::string w = where + " (" + given + ")";
    if (type.rfind("activation:", 0) == 0) {
      for (auto it = t.begin(); it != t.end(); ++it)
        if (it.key() != "type" && !is_extra(it.key(), extra_keys))
          fail(w, "unknown key '" + it.key() + "': an activation layer takes no options");
      return {{"type", "activation"}, {"config", {{"name", type.substr(11)}}}};
    }
    if (type == "residual") return residual(t, w, extra_keys);
    if (type == "sequential") {
      json layers = json::array();
      if (!t.contains("layers") || !t["layers"].is_array()) fail(w, "needs a 'layers' array of tables");
      for (auto it = t.begin(); it != t.end(); ++it)
        if (it.key() != "type" && it.key() != "layers" && !is_extra(it.key(), extra_keys))
          fail(w, "unknown key '" + it.key() + "'; accepted: layers");
      for (size_t i = 0; i < t["layers"].size(); ++i)
        layers.push_back(layer(t["layers"][i], w + " layer " + std::to_string(i + 1)));
      return {{"type", "sequential"}, {"config", {{"layers", layers}}}};
    }
    const json probe = nn::Module::from_config({{"type", type}, {"config", probe_config(type)}})->config();
    std::vector<std::string> keys = accepted_keys(type);
    json cfg = json::object();
    for (auto it = t.begin(); it != t.end(); ++it) {
      if (it.key() == "type" || is_extra(it.key(), extra_keys)) continue;
      const std::string k = key_alias(it.key());
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        std::string hint = closest_name(it.key(), keys);
        std::string list;
        for (const auto& a : keys) list += (list.empty() ? "" : ", ") + a;
        if (list.empty()) list = "(none)";
        fail(w, "unknown key '" + it.key() + "'" +
                    (hint.empty() ? "; accepted: " + list : "; did you mean '" + hint + "'?"));
      }
      if (!value_fits(probe.at(k), it.value(), k))
        fail(w, "'" + it.key() + "' must be " + kind_name(probe.at(k)) + (k == "kernel" || k == "stride" ? " or [h, w]" : "") +
                    ", got " + it.value().dump());
      cfg[k] = it.value();
    }
    for (const auto& r : required_keys(type))
      if (!cfg.contains(r)) fail(w, "needs '" + r + "'");
    return {{"type", type}, {"config", cfg}};
  }

  // A list of layer tables, or one table, as a module JSON (a list becomes a Sequential).
  json block(const json& v, const std::string& where) {
    if (v.is_array()) {
      json layers = json::array();
      for (size_t i = 0; i < v.size(); ++i) layers.push_back(layer(v[i], where + " layer " + std::to_string(i + 1)));
      return {{"type", "sequential"}, {"config", {{"layers", layers}}}};
    }
    return layer(v, where);
  }

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    detail::throw_error<ValueError>("config ", source_, ": ", where, ": ", what);
  }

 private:
  static bool is_extra(const std::string& k, const std::vector<std::string>& extra) {
    return std::find(extra.begin(), extra.end(), k) != extra.end();
  }
  json residual(const json& t, const std::string& w, const std::vector<std::string>& extra_keys) {
    json cfg = json::object();
    for (auto it = t.begin(); it != t.end(); ++it) {
      const std::string& k = it.key();
      if (k == "type" || is_extra(k, extra_keys)) continue;
      if (k == "body") {
        cfg["body"] = block(it.value(), w + " body");
      } else if (k == "shortcut") {
        cfg["shortcut"] = block(it.value(), w + " shortcut");
      } else if (k == "activation") {
        if (!it.value().is_string()) fail(w, "'activation' must be a string");
        cfg["activation"] = it.value();
      } else {
        std::string hint = closest_name(k, {"body", "shortcut", "activation"});
        fail(w, "unknown key '" + k + "'" +
                    (hint.empty() ? "; accepted: body, shortcut, activation" : "; did you mean '" + hint + "'?"));
      }
    }
    if (!cfg.contains("body")) fail(w, "needs a 'body' (a list of layers: [[model.layers.body]])");
    return {{"type", "residual"}, {"config", cfg}};
  }
  std::string source_;
};

json parse_model(const json& m, const std::string& source, std::vector<int64_t>& input_shape) {
  Section s(m, source, "[model]");
  std::string type = "sequential";
  s.choice("type", type, {"sequential", "graph"});
  s.ints("input_shape", input_shape);
  LayerParser lp(source);
  if (type == "sequential") {
    if (!s.has("layers")) s.fail("needs layers: add [[model.layers]] tables (type = \"dense\", units = 10, ...)");
    const json& layers = s.get("layers");
    if (!layers.is_array() || layers.empty()) s.fail("'layers' must be a non-empty array of tables ([[model.layers]])");
    s.finish();
    json out = json::array();
    for (size_t i = 0; i < layers.size(); ++i)
      out.push_back(lp.layer(layers[i], "[[model.layers]] #" + std::to_string(i + 1)));
    return {{"type", "sequential"}, {"config", {{"layers", out}}}};
  }
  // graph: [[model.inputs]] name + shape, [[model.nodes]] name + inputs + type + options, outputs = [...]
  if (!s.has("inputs") || !s.get("inputs").is_array() || s.get("inputs").empty())
    s.fail("type = \"graph\" needs [[model.inputs]] tables with name and shape");
  if (!s.has("nodes") || !s.get("nodes").is_array() || s.get("nodes").empty())
    s.fail("type = \"graph\" needs [[model.nodes]] tables with name, inputs and type");
  std::vector<std::string> outputs;
  s.strings("outputs", outputs);
  if (outputs.empty()) s.fail("type = \"graph\" needs outputs = [\"node name\", ...]");
  const json inputs = s.get("inputs");
  const json nodes_in = s.get("nodes");
  s.finish();
  json nodes = json::array();
  std::set<std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Section in(inputs[i], source, "[[model.inputs]] #" + std::to_string(i + 1));
    std::string name;
    std::vector<int64_t> shape;
    in.str("name", name);
    in.ints("shape", shape);
    in.finish();
    if (name.empty() || shape.empty()) in.fail("needs name = \"...\" and shape = [...] (no batch dim)");
    if (!names.insert(name).second) in.fail("duplicate node name '" + name + "'");
    if (input_shape.empty()) input_shape = shape;
    nodes.push_back({{"name", name}, {"input_shape", shape}});
  }
  for (size_t i = 0; i < nodes_in.size(); ++i) {
    const std::string where = "[[model.nodes]] #" + std::to_string(i + 1);
    const json& n = nodes_in[i];
    if (!n.is_object()) lp.fail(where, "must be a table");
    if (!n.contains("name") || !n["name"].is_string()) lp.fail(where, "needs name = \"...\"");
    const std::string name = n["name"].get<std::string>();
    if (!names.insert(name).second) lp.fail(where, "duplicate node name '" + name + "'");
    if (!n.contains("inputs") || !n["inputs"].is_array() || n["inputs"].empty())
      lp.fail(where + " '" + name + "'", "needs inputs = [\"node\", ...]");
    for (const auto& x : n["inputs"]) {
      if (!x.is_string()) lp.fail(where + " '" + name + "'", "inputs must be node names");
      if (!names.count(x.get<std::string>()) || x.get<std::string>() == name) {
        std::vector<std::string> known(names.begin(), names.end());
        std::string hint = closest_name(x.get<std::string>(), known);
        lp.fail(where + " '" + name + "'", "input '" + x.get<std::string>() + "' is not an earlier node" +
                                             (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      }
    }
    nodes.push_back({{"name", name}, {"inputs", n["inputs"]},
                     {"layer", lp.layer(n, where + " '" + name + "'", {"name", "inputs"})}});
  }
  for (const auto& o : outputs)
    if (!names.count(o)) s.fail("output '" + o + "' is not a node");
  return {{"type", "graph"}, {"config", {{"nodes", nodes}, {"outputs", outputs}}}};
}

DataConfig parse_data(const json& j, const std::string& source) {
  DataConfig d;
  Section s(j, source, "[data]");
  s.choice("kind", d.kind, {"mnist", "fashion_mnist", "csv", "npy", "image_folder"});
  s.str("path", d.path);
  s.str("test_path", d.test_path);
  s.str("x", d.x);
  s.str("y", d.y);
  s.str("test_x", d.test_x);
  s.str("test_y", d.test_y);
  s.fraction("test_split", d.test_split);
  s.fraction("validation_split", d.validation_split);
  s.choice("normalize", d.normalize, {"none", "standardize", "minmax"});
  s.flag("per_channel", d.per_channel);
  if (s.has("augment")) {
    Section a(s.get("augment"), source, "[data.augment]");
    a.integer("crop_padding", d.augment.crop_padding, 0);
    a.flag("horizontal_flip", d.augment.horizontal_flip);
    a.number("rotation", d.augment.max_rotation_degrees);
    a.integer("shift", d.augment.max_shift, 0);
    a.finish();
  }
  s.integer("train_limit", d.train_limit, 0);
  s.integer("test_limit", d.test_limit, 0);
  s.strings("classes", d.classes);
  s.str("label_column", d.label_column);
  if (s.has("label_index")) {
    int64_t li = 0;
    s.integer("label_index", li);
    d.label_index = li;
  }
  s.str("delimiter", d.delimiter);
  if (d.delimiter.size() != 1) s.fail("'delimiter' must be one character, got '" + d.delimiter + "'");
  s.flag("header", d.header);
  if (s.has("fill_missing")) {
    double v = 0;
    s.number("fill_missing", v);
    d.fill_missing = v;
  }
  s.integer("channels", d.channels, 1);
  if (d.channels != 1 && d.channels != 3) s.fail("'channels' must be 1 or 3, got " + std::to_string(d.channels));
  s.integer("height", d.height, 0);
  s.integer("width", d.width, 0);
  s.finish();
  if (d.kind == "npy" && (d.x.empty() || d.y.empty()))
    s.fail("kind = \"npy\" needs x = \"features.npy\" and y = \"labels.npy\"");
  if ((d.kind == "csv" || d.kind == "image_folder") && d.path.empty())
    s.fail("kind = \"" + d.kind + "\" needs path = \"...\"");
  if ((d.kind == "mnist" || d.kind == "fashion_mnist") && d.channels == 3 && !j.contains("channels")) d.channels = 1;
  return d;
}

TrainConfig parse_train(const json& j, const std::string& source) {
  TrainConfig t;
  Section s(j, source, "[train]");
  if (s.has("optimizer")) {
    const json& o = s.get("optimizer");
    if (o.is_string()) t.optimizer = {{"name", o}};
    else if (o.is_object()) t.optimizer = o;
    else s.fail("'optimizer' must be a name or a table { name = \"adam\", lr = 1e-3 }");
    try {
      optim::make_optimizer(t.optimizer);  // validates the name and options now, not after loading data
    } catch (const Error& e) {
      s.fail(std::string("optimizer: ") + e.what());
    }
  }
  if (s.has("loss")) {
    const json& l = s.get("loss");
    if (l.is_string()) {
      t.loss = l.get<std::string>();
    } else if (l.is_object() && l.contains("name") && l["name"].is_string()) {
      t.loss = l["name"].get<std::string>();
      t.loss_options = l;
      t.loss_options.erase("name");
    } else {
      s.fail("'loss' must be a name or a table { name = \"sparse_categorical_crossentropy\", from_logits = true }");
    }
    try {
      loss::from_name(t.loss, t.loss_options);
    } catch (const Error& e) {
      s.fail(std::string("loss: ") + e.what());
    } catch (const json::exception& e) {
      s.fail(std::string("loss options: ") + e.what());
    }
  }
  s.strings("metrics", t.metrics);
  for (const auto& m : t.metrics) {
    try {
      metric::from_name(m);
    } catch (const Error& e) {
      s.fail(std::string("metrics: ") + e.what());
    }
  }
  s.integer("epochs", t.epochs, 1);
  s.integer("batch_size", t.batch_size, 1);
  s.integer("seed", t.seed, 0);
  s.flag("shuffle", t.shuffle);
  s.integer("verbose", t.verbose, 0);
  s.numbers("class_weight", t.class_weight);
  if (s.has("early_stopping")) {
    t.early_stopping = s.get("early_stopping");
    Section e(t.early_stopping, source, "[train.early_stopping]");
    std::string str;
    double num = 0;
    int64_t i = 0;
    bool b = false;
    e.str("monitor", str);
    e.integer("patience", i, 0);
    e.number("min_delta", num);
    str = "auto";
    e.choice("mode", str, {"auto", "min", "max"});
    e.flag("restore_best_weights", b);
    e.finish();
  }
  if (s.has("checkpoint")) {
    t.checkpoint = s.get("checkpoint");
    Section c(t.checkpoint, source, "[train.checkpoint]");
    std::string str;
    bool b = false;
    c.str("path", str);
    c.str("monitor", str);
    c.flag("save_best_only", b);
    str = "auto";
    c.choice("mode", str, {"auto", "min", "max"});
    c.finish();
  }
  if (s.has("lr_schedule")) {
    t.lr_schedule = s.get("lr_schedule");
    Section c(t.lr_schedule, source, "[train.lr_schedule]");
    std::string name;
    c.choice("name", name, {"step", "multistep", "exponential", "cosine", "warmup", "plateau"});
    double num = 0;
    int64_t i = 0;
    std::vector<int64_t> ms;
    std::string str;
    c.integer("step_size", i, 1);
    c.number("gamma", num);
    c.ints("milestones", ms);
    c.integer("t_max", i, 1);
    c.number("eta_min", num);
    c.number("start_factor", num);
    c.integer("warmup_epochs", i, 0);
    c.number("factor", num);
    c.integer("patience", i, 0);
    c.str("monitor", str);
    c.number("min_lr", num);
    c.finish();
  }
  s.finish();
  return t;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KUN_CHECK(f.good(), IOError, "config ", path, ": cannot open the file (", std::strerror(errno), ")");
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

// The last layer config of a model JSON (through Sequential and Residual nesting), or null.
json last_layer(const json& m) {
  if (!m.is_object()) return json();
  const std::string type = m.value("type", "");
  if (type == "sequential") {
    const json& ls = m["config"]["layers"];
    return ls.empty() ? json() : last_layer(ls.back());
  }
  if (type == "graph") {
    const json& c = m["config"];
    const std::string out = c["outputs"].empty() ? "" : c["outputs"][0].get<std::string>();
    for (const auto& n : c["nodes"])
      if (n.value("name", "") == out && n.contains("layer")) return last_layer(n["layer"]);
    return json();
  }
  return m;
}

std::string final_activation(const json& model) {
  json l = last_layer(model);
  if (l.is_null()) return "";
  const json& c = l["config"];
  if (l["type"] == "activation") return c.value("name", "");
  if (c.is_object() && c.contains("activation") && c["activation"].is_string()) return c["activation"];
  return "";
}

}  // namespace

json toml_to_json(const toml::node& n) {
  if (auto t = n.as_table()) {
    json j = json::object();
    for (auto& [k, v] : *t) j[std::string(k.str())] = toml_to_json(v);
    return j;
  }
  if (auto a = n.as_array()) {
    json j = json::array();
    for (auto& v : *a) j.push_back(toml_to_json(v));
    return j;
  }
  if (auto v = n.as_string()) return v->get();
  if (auto v = n.as_integer()) return v->get();
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_boolean()) return v->get();
  std::ostringstream os;
  if (auto v = n.as_date()) os << v->get();
  else if (auto v2 = n.as_time()) os << v2->get();
  else if (auto v3 = n.as_date_time()) os << v3->get();
  return os.str();
}


std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 3;
  for (const auto& c : candidates) {
    size_t d = edit_distance(name, c);
    if (d < best_d || (d == best_d && !best.empty() && c.size() < best.size())) {
      best_d = d;
      best = c;
    }
  }
  if (best.empty() && name.size() >= 3)
    for (const auto& c : candidates)
      if (c.rfind(name, 0) == 0 || name.rfind(c, 0) == 0) return c;
  return best;
}

const char* default_config_toml() { return kDefaultToml; }

RunConfig default_config() { return parse_config_text(kDefaultToml, "toml", "<embedded default>"); }

RunConfig parse_config_text(const std::string& text, const std::string& format, const std::string& source) {
  json j;
  if (format == "json") {
    try {
      j = json::parse(text);
    } catch (const json::parse_error& e) {
      detail::throw_error<ValueError>("config ", source, ": not valid JSON: ", e.what());
    }
  } else {
    try {
      toml::table t = toml::parse(text, std::string_view(source));
      j = toml_to_json(t);
    } catch (const toml::parse_error& e) {
      detail::throw_error<ValueError>("config ", source, ":", e.source().begin.line, ":", e.source().begin.column,
                                      ": ", e.description());
    }
  }
  RunConfig rc;
  rc.source = source;
  rc.raw = j;
  Section top(j, source, "top level:");
  if (!j.is_object()) top.fail("the config must be a table");
  json data_j = top.has("data") ? top.get("data") : json::object();
  json model_j = top.has("model") ? top.get("model") : json();
  json train_j = top.has("train") ? top.get("train") : json::object();
  if (top.has("run")) {
    Section r(top.get("run"), source, "[run]");
    r.str("name", rc.name);
    r.finish();
  }
  if (top.has("output")) {
    Section o(top.get("output"), source, "[output]");
    o.str("model", rc.output);
    o.finish();
  }
  top.finish();
  if (model_j.is_null()) top.fail("missing section [model]: add [[model.layers]] tables");
  rc.data = parse_data(data_j, source);
  rc.model = parse_model(model_j, source, rc.input_shape);
  rc.train = parse_train(train_j, source);
  if (rc.name.empty()) rc.name = source == "<embedded default>" ? "default" : fs::path(source).stem().string();
  return rc;
}

RunConfig parse_config_file(const std::string& path) {
  const std::string text = read_text(path);
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return parse_config_text(text, ext == ".json" ? "json" : "toml", path);
}

nn::ModulePtr build_module(const RunConfig& rc) {
  try {
    return nn::Module::from_config(rc.model);
  } catch (const Error& e) {
    detail::throw_error<ValueError>("config ", rc.source, ": [model]: ", e.what());
  } catch (const json::exception& e) {
    detail::throw_error<ValueError>("config ", rc.source, ": [model]: bad layer option: ", e.what());
  }
}

std::shared_ptr<optim::Optimizer> build_optimizer(const TrainConfig& t) {
  return std::shared_ptr<optim::Optimizer>(optim::make_optimizer(t.optimizer));
}

std::string output_activation(const RunConfig& rc) {
  const std::string act = final_activation(rc.model);
  const std::string& l = rc.train.loss;
  const bool logits_loss = rc.train.loss_options.value("from_logits", act != "softmax" && act != "sigmoid");
  if (l == "binary_crossentropy") return logits_loss ? "sigmoid" : "none";
  if (l == "sparse_categorical_crossentropy" || l == "categorical_crossentropy") return logits_loss ? "softmax" : "none";
  return "none";
}

loss::AnyLoss build_loss(const RunConfig& rc) {
  json opts = rc.train.loss_options;
  const std::string& l = rc.train.loss;
  const bool xent = l == "binary_crossentropy" || l == "sparse_categorical_crossentropy" || l == "categorical_crossentropy";
  if (xent && !opts.contains("from_logits")) {
    const std::string act = final_activation(rc.model);
    opts["from_logits"] = !(act == "softmax" || act == "sigmoid");
  }
  return loss::from_name(l, opts);
}

std::vector<metric::AnyMetric> build_metrics(const TrainConfig& t) {
  std::vector<metric::AnyMetric> out;
  for (const auto& m : t.metrics) out.push_back(metric::from_name(m));
  return out;
}

std::vector<std::string> default_classes(const std::string& kind) {
  if (kind == "fashion_mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  if (kind == "mnist") return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return {};
}

std::vector<int64_t> known_input_shape(const RunConfig& rc) {
  if (!rc.input_shape.empty()) return rc.input_shape;
  if (rc.data.kind == "mnist" || rc.data.kind == "fashion_mnist") return {1, 28, 28};
  if (rc.data.kind == "image_folder" && rc.data.height > 0 && rc.data.width > 0)
    return {rc.data.channels, rc.data.height, rc.data.width};
  return {};
}

// ---------------- preprocessing ----------------

namespace {
// stat (C,) viewed as (C, 1, ...) so it broadcasts against (N, C, ...) of rank `rank`.
Tensor channel_view(const Tensor& stat, int64_t rank) {
  std::vector<int64_t> shape(size_t(std::max<int64_t>(rank - 1, 1)), 1);
  shape[0] = stat.numel();
  return stat.reshape(Shape(shape));
}
Tensor tensor_from_json(const json& j) {
  std::vector<float> v = j.at("values").get<std::vector<float>>();
  std::vector<int64_t> shape = j.at("shape").get<std::vector<int64_t>>();
  return from_vector(v, Shape(shape));
}
json tensor_to_json(const Tensor& t) {
  Tensor c = t.to(DType::f32).contiguous();
  return {{"shape", c.shape().vec()}, {"values", c.to_vector<float>()}};
}
}  // namespace

Tensor Preprocess::apply(const Tensor& x) const {
  if (kind == "none") return x;
  KUN_CHECK(x.dtype() == DType::f32, TypeError, "preprocess: expected float32 inputs, got ", x.dtype());
  Tensor lo = a, scale = b;
  if (kind == "minmax") scale = sub(b, a);
  if (per_channel && x.dim() >= 2) {
    KUN_CHECK(x.size(1) == lo.numel(), ShapeError, "preprocess: inputs must have ", lo.numel(),
              " channels (dim 1) like the training data, got ", x.shape());
    lo = channel_view(lo, x.dim());
    scale = channel_view(scale, x.dim());
  }
  return div(sub(x, lo), scale);
}

json Preprocess::to_json() const {
  json j = {{"kind", kind}, {"per_channel", per_channel}};
  if (kind != "none") {
    j["a"] = tensor_to_json(a);
    j["b"] = tensor_to_json(b);
  }
  return j;
}

Preprocess Preprocess::from_json(const json& j) {
  Preprocess p;
  p.kind = j.value("kind", "none");
  p.per_channel = j.value("per_channel", true);
  if (p.kind != "none") {
    p.a = tensor_from_json(j.at("a"));
    p.b = tensor_from_json(j.at("b"));
  }
  return p;
}

namespace {
Preprocess fit_preprocess(const DataConfig& d, const Tensor& x) {
  Preprocess p;
  p.kind = d.normalize;
  p.per_channel = d.per_channel && x.dim() >= 3;
  if (p.kind == "none") return p;
  KUN_CHECK(x.dtype() == DType::f32, TypeError, "[data] normalize needs float32 features, got ", x.dtype());
  data::ScalerOptions so{p.per_channel};
  if (p.kind == "standardize") {
    data::Standardizer s(so);
    s.fit(x);
    p.a = s.mean().clone();
    std::vector<float> sd = s.std().to(DType::f32).contiguous().to_vector<float>();
    for (float& v : sd)
      if (!(v > 0.0f)) v = 1.0f;  // constant feature: centre only
    p.b = from_vector(sd, s.std().shape());
  } else {
    data::Normalizer s(so);
    s.fit(x);
    p.a = s.min().clone();
    std::vector<float> lo = s.min().to(DType::f32).contiguous().to_vector<float>();
    std::vector<float> hi = s.max().to(DType::f32).contiguous().to_vector<float>();
    for (size_t i = 0; i < hi.size(); ++i)
      if (!(hi[i] > lo[i])) hi[i] = lo[i] + 1.0f;  // constant feature maps to 0
    p.b = from_vector(hi, s.max().shape());
  }
  return p;
}

data::TensorDataset limit(const data::TensorDataset& ds, int64_t n) {
  if (n <= 0 || n >= ds.size()) return ds;
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = i;
  return ds.subset(idx);
}

Tensor labels_to_i64(const Tensor& y) {
  if (!y.defined()) return y;
  if (y.dtype() == DType::i32 || y.dtype() == DType::u8 || y.dtype() == DType::bool_) return y.to(DType::i64);
  return y;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}
}  // namespace

PreparedData load_data(const DataConfig& d, uint64_t seed) {
  PreparedData p;
  data::TensorDataset train, test;
  std::string title;
  if (d.kind == "mnist" || d.kind == "fashion_mnist") {
    data::MnistData m = d.kind == "mnist" ? data::mnist(d.path) : data::fashion_mnist(d.path);
    train = m.train;
    test = m.test;
    title = d.kind == "mnist" ? "MNIST" : "Fashion-MNIST";
  } else if (d.kind == "csv") {
    data::CsvOptions co;
    co.delimiter = d.delimiter[0];
    co.header = d.header;
    co.label_column = d.label_column;
    co.label_index = d.label_index;
    co.fill_missing = d.fill_missing;
    if (d.label_column.empty() && !d.label_index) co.label_index = -1;  // default: the last column
    train = data::read_csv(d.path, co).dataset();
    if (!d.test_path.empty()) test = data::read_csv(d.test_path, co).dataset();
    title = "CSV " + d.path;
  } else if (d.kind == "npy") {
    train = data::TensorDataset(data::read_npy(d.x), labels_to_i64(data::read_npy(d.y)));
    if (!d.test_x.empty()) {
      KUN_CHECK(!d.test_y.empty(), ValueError, "[data] test_x needs test_y");
      test = data::TensorDataset(data::read_npy(d.test_x), labels_to_i64(data::read_npy(d.test_y)));
    }
    KUN_CHECK(train.y().size(0) == train.x().size(0), ShapeError, "[data] ", d.x, " has ", train.x().size(0),
              " examples but ", d.y, " has ", train.y().size(0), " labels");
    if (train.x().dtype() != DType::f32) train = data::TensorDataset(train.x().to(DType::f32), train.y());
    if (test.size() && test.x().dtype() != DType::f32) test = data::TensorDataset(test.x().to(DType::f32), test.y());
    title = "NPY " + d.x;
  } else if (d.kind == "image_folder") {
    data::ImageFolderOptions io;
    io.channels = d.channels;
    io.height = d.height;
    io.width = d.width;
    data::ImageFolder f = data::read_image_folder(d.path, io);
    train = f.data;
    p.classes = f.classes;
    if (!d.test_path.empty()) {
      io.height = train.x().size(2);
      io.width = train.x().size(3);
      data::ImageFolder t = data::read_image_folder(d.test_path, io);
      KUN_CHECK(t.classes == f.classes, ValueError, "[data] ", d.test_path, " has other class folders than ", d.path);
      test = t.data;
    }
    title = "images " + d.path;
  } else {
    detail::throw_error<ValueError>("[data] unknown kind '", d.kind, "'");
  }
  if (test.size() == 0 && d.test_split > 0.0) {
    data::Splits s = data::split(train, {0.0, d.test_split, true, seed});
    train = s.train;
    test = s.test;
  }
  train = limit(train, d.train_limit);
  test = limit(test, d.test_limit);
  KUN_CHECK(train.size() > 0, ValueError, "[data] no training examples");
  p.preprocess = fit_preprocess(d, train.x());
  p.train = data::TensorDataset(p.preprocess.apply(train.x()), train.y());
  if (test.size()) p.test = data::TensorDataset(p.preprocess.apply(test.x()), test.y());
  p.input_shape = train.x().shape().vec();
  p.input_shape.erase(p.input_shape.begin());
  if (!d.classes.empty()) p.classes = d.classes;
  if (p.classes.empty()) p.classes = default_classes(d.kind);
  if (p.classes.empty() && train.y().defined() && train.y().dtype() == DType::i64 && train.y().dim() == 1) {
    std::vector<int64_t> ys = train.y().to_vector<int64_t>();
    int64_t mx = ys.empty() ? 0 : *std::max_element(ys.begin(), ys.end());
    for (int64_t c = 0; c <= mx; ++c) p.classes.push_back(std::to_string(c));
  }
  std::ostringstream os;
  os << title << ": " << p.train.size() << " train / " << p.test.size() << " test examples of "
     << shape_str(p.input_shape);
  if (!p.classes.empty()) os << ", " << p.classes.size() << " classes";
  if (p.preprocess.kind != "none") os << ", " << p.preprocess.kind << "d";
  p.description = os.str();
  return p;
}

data::BatchTransform make_augmentation(const DataConfig& d) {
  const data::AugmentOptions a = d.augment;
  if (a.crop_padding == 0 && !a.horizontal_flip && a.max_rotation_degrees == 0 && a.max_shift == 0) return {};
  return [a](data::Example batch, Generator& gen) {
    batch.x = data::augment(batch.x, a, gen);
    return batch;
  };
}

// ---------------- model sidecar ----------------

json data_config_to_json(const DataConfig& d) {
  json j = {{"kind", d.kind}, {"path", d.path}, {"normalize", d.normalize}, {"per_channel", d.per_channel},
            {"channels", d.channels}};
  if (!d.test_path.empty()) j["test_path"] = d.test_path;
  if (!d.x.empty()) j["x"] = d.x;
  if (!d.y.empty()) j["y"] = d.y;
  if (!d.test_x.empty()) j["test_x"] = d.test_x;
  if (!d.test_y.empty()) j["test_y"] = d.test_y;
  if (d.test_split > 0) j["test_split"] = d.test_split;
  if (d.test_limit > 0) j["test_limit"] = d.test_limit;
  if (d.train_limit > 0) j["train_limit"] = d.train_limit;
  if (!d.label_column.empty()) j["label_column"] = d.label_column;
  if (d.label_index) j["label_index"] = *d.label_index;
  if (d.delimiter != ",") j["delimiter"] = d.delimiter;
  if (!d.header) j["header"] = false;
  if (d.fill_missing) j["fill_missing"] = *d.fill_missing;
  if (d.height > 0) j["height"] = d.height;
  if (d.width > 0) j["width"] = d.width;
  if (!d.classes.empty()) j["classes"] = d.classes;
  return j;
}

DataConfig data_config_from_json(const json& j, const std::string& source) { return parse_data(j, source); }

json ModelMeta::to_json() const {
  return {{"format", "kun-model-meta"}, {"version", 1},      {"input_shape", input_shape},
          {"classes", classes},         {"preprocess", preprocess.to_json()},
          {"output_activation", output_activation}, {"channels", channels}, {"data", data}};
}

ModelMeta ModelMeta::from_json(const json& j) {
  KUN_CHECK(j.value("format", "") == "kun-model-meta", IOError, "not a kun model metadata file");
  KUN_CHECK(j.value("version", 0) == 1, IOError, "unsupported model metadata version ", j.value("version", 0));
  ModelMeta m;
  m.input_shape = j.at("input_shape").get<std::vector<int64_t>>();
  m.classes = j.at("classes").get<std::vector<std::string>>();
  m.preprocess = Preprocess::from_json(j.at("preprocess"));
  m.output_activation = j.value("output_activation", "none");
  m.channels = j.value("channels", 1);
  m.data = j.value("data", json());
  return m;
}

std::string meta_path_for(const std::string& model_path) { return model_path + ".meta.json"; }

void save_meta(const std::string& model_path, const ModelMeta& m) {
  const std::string path = meta_path_for(model_path);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    KUN_CHECK(f.good(), IOError, "cannot write ", tmp, " (", std::strerror(errno), ")");
    f << m.to_json().dump(1) << "\n";
    KUN_CHECK(f.good(), IOError, "cannot write ", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  KUN_CHECK(!ec, IOError, "cannot rename ", tmp, " to ", path, ": ", ec.message());
}

std::optional<ModelMeta> load_meta(const std::string& model_path) {
  const std::string path = meta_path_for(model_path);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    return ModelMeta::from_json(json::parse(read_text(path)));
  } catch (const json::exception& e) {
    detail::throw_error<IOError>(path, ": corrupt model metadata: ", e.what());
  } catch (const Error& e) {
    detail::throw_error<IOError>(path, ": ", e.what());
  }
}

std::vector<std::shared_ptr<Callback>> build_callbacks(const TrainConfig& t) {
  std::vector<std::shared_ptr<Callback>> out;
  if (t.lr_schedule.is_object()) {
    const json& s = t.lr_schedule;
    const std::string name = s.value("name", "");
    if (name == "plateau") {
      ReduceLROnPlateauOptions o;
      o.monitor = s.value("monitor", o.monitor);
      o.factor = s.value("factor", o.factor);
      o.patience = s.value("patience", o.patience);
      o.min_lr = s.value("min_lr", o.min_lr);
      out.push_back(std::make_shared<ReduceLROnPlateau>(o));
    } else {
      const int64_t epochs = t.epochs;
      out.push_back(std::make_shared<LearningRateScheduler>(
          [s, name, epochs](optim::Optimizer& opt) -> std::shared_ptr<optim::LRScheduler> {
            if (name == "step")
              return std::make_shared<optim::StepLR>(
                  opt, optim::StepLROptions{s.value("step_size", int64_t{1}), s.value("gamma", 0.1)});
            if (name == "multistep")
              return std::make_shared<optim::MultiStepLR>(
                  opt, optim::MultiStepLROptions{s.value("milestones", std::vector<int64_t>{}), s.value("gamma", 0.1)});
            if (name == "exponential")
              return std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{s.value("gamma", 0.95)});
            if (name == "cosine")
              return std::make_shared<optim::CosineAnnealingLR>(
                  opt, optim::CosineAnnealingLROptions{s.value("t_max", epochs), s.value("eta_min", 0.0)});
            // warmup: linear from start_factor over warmup_epochs, then cosine to t_max.
            const int64_t w = s.value("warmup_epochs", int64_t{1});
            auto warm = std::make_shared<optim::LinearLR>(
                opt, optim::LinearLROptions{s.value("start_factor", 0.1), 1.0, std::max<int64_t>(w, 1)});
            auto cos = std::make_shared<optim::CosineAnnealingLR>(
                opt, optim::CosineAnnealingLROptions{std::max<int64_t>(s.value("t_max", epochs) - w, 1),
                                                     s.value("eta_min", 0.0)});
            return std::make_shared<optim::SequentialLR>(
                opt, std::vector<std::shared_ptr<optim::LRScheduler>>{warm, cos}, std::vector<int64_t>{w});
          }));
    }
  }
  if (t.early_stopping.is_object()) {
    const json& e = t.early_stopping;
    EarlyStoppingOptions o;
    o.monitor = e.value("monitor", o.monitor);
    o.patience = e.value("patience", o.patience);
    o.min_delta = e.value("min_delta", o.min_delta);
    o.mode = e.value("mode", o.mode);
    o.restore_best_weights = e.value("restore_best_weights", o.restore_best_weights);
    out.push_back(std::make_shared<EarlyStopping>(o));
  }
  if (t.checkpoint.is_object()) {
    const json& c = t.checkpoint;
    ModelCheckpointOptions o;
    o.path = c.value("path", std::string("checkpoints/epoch{epoch}.kun"));
    o.monitor = c.value("monitor", o.monitor);
    o.save_best_only = c.value("save_best_only", o.save_best_only);
    o.mode = c.value("mode", o.mode);
    out.push_back(std::make_shared<ModelCheckpoint>(o));
  }
  return out;
}

}  // namespace kun::train
