// The speech command line: train a spoken-word classifier or a CTC digit-string recognizer from a
// TOML config, evaluate it, transcribe a file. A thin layer over pipeline.h and train::Model.
#include "kun/apps/speech/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <sstream>
#include <toml++/toml.h>

#include "kun/apps/speech/augment.h"
#include "kun/apps/speech/pipeline.h"
#include "kun/core/error.h"
#include "train/toml_json.h"
#include "kun/core/rng.h"
#include "kun/core/threading.h"
#include "kun/nn/module.h"
#include "kun/optim/adam.h"
#include "kun/optim/clip.h"
#include "kun/tensor/ops.h"
#include "kun/train/config.h"

namespace kun::speech {

namespace {

namespace fs = std::filesystem;
using train::toml_to_json;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string squash(const std::string& s) {
  std::string o;
  for (char ch : s)
    if (ch != '_' && ch != '-' && ch != ' ') o += char(std::tolower(static_cast<unsigned char>(ch)));
  return o;
}

// A recurrent layer table -> {"type": lstm|gru|simple_rnn, "config": {...}} with the layer's own keys
// ("units" is accepted for hidden_size), each value of the probe's JSON type.
json recurrent_layer(const json& l, const std::string& type, const std::string& where) {
  const json probe = nn::Module::from_config({{"type", type}, {"config", {{"hidden_size", 1}}}})->config();
  json cfg = json::object();
  std::string accepted;
  for (auto k = probe.begin(); k != probe.end(); ++k) accepted += (accepted.empty() ? "" : ", ") + k.key();
  for (auto it = l.begin(); it != l.end(); ++it) {
    if (it.key() == "type") continue;
    const std::string k = it.key() == "units" ? "hidden_size" : it.key();
    KUN_CHECK(probe.contains(k), ValueError, where, ": unknown key '", it.key(), "'; accepted: ", accepted);
    const json& pv = probe.at(k);
    const bool ok = pv.is_boolean()  ? it->is_boolean()
                    : pv.is_string() ? it->is_string()
                    : pv.is_number_integer() ? it->is_number_integer()
                    : it->is_number();
    KUN_CHECK(ok, ValueError, where, ": '", it.key(), "' must be a ", pv.is_boolean() ? "boolean" : pv.is_string() ? "string" : pv.is_number_integer() ? "integer" : "number",
              ", got ", it->dump());
    cfg[k] = *it;
  }
  KUN_CHECK(cfg.contains("hidden_size") && cfg["hidden_size"].get<int64_t>() > 0, ValueError, where,
            ": needs hidden_size (or units) > 0");
  return {{"type", type}, {"config", cfg}};
}

// [model] of a speech config: a sequential list of layers. Recurrent layers (lstm, gru, simple_rnn)
// are checked here; every other layer goes through the run-config parser (one at a time).
json parse_model_layers(const toml::table& t, const std::string& path) {
  KUN_CHECK(t.contains("model"), ValueError, "config ", path, ": missing section [model]: add [[model.layers]] tables");
  const toml::table* m = t["model"].as_table();
  KUN_CHECK(m && (*m)["layers"].as_array() && !(*m)["layers"].as_array()->empty(), ValueError, "config ", path,
            ": [model] needs a non-empty array of [[model.layers]] tables");
  for (auto& [k, v] : *m)
    KUN_CHECK(k.str() == "layers" || (k.str() == "type" && v.value_or(std::string()) == "sequential"), ValueError,
              "config ", path, ": [model] of a speech config takes only [[model.layers]], got '", std::string(k.str()), "'");
  json layers = json::array();
  const toml::array& arr = *(*m)["layers"].as_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string where = "config " + path + ": [[model.layers]] #" + std::to_string(i + 1);
    const toml::table* lt = arr[i].as_table();
    KUN_CHECK(lt != nullptr, ValueError, where, ": must be a table");
    const std::string type = squash((*lt)["type"].value_or(std::string()));
    if (type == "lstm" || type == "gru" || type == "simplernn" || type == "rnn") {
      const std::string reg = type == "lstm" ? "lstm" : type == "gru" ? "gru" : "simple_rnn";
      layers.push_back(recurrent_layer(toml_to_json(*lt), reg, where + " (" + reg + ")"));
      continue;
    }
    toml::table one{{"model", toml::table{{"layers", toml::array{*lt}}}}};
    std::ostringstream os;
    os << one;
    try {
      layers.push_back(train::parse_config_text(os.str(), "toml", path).model["config"]["layers"][0]);
    } catch (const ValueError& e) {
      std::string msg = e.what();  // the one-layer config calls every layer #1
      const std::string from = "[[model.layers]] #1", to = "[[model.layers]] #" + std::to_string(i + 1);
      if (auto pos = msg.find(from); pos != std::string::npos) msg.replace(pos, from.size(), to);
      throw ValueError(msg);
    }
  }
  return {{"type", "sequential"}, {"config", {{"layers", layers}}}};
}

// [data] of a speech config.
struct DataSpec {
  std::string kind = "fsdd";   // fsdd | folder
  std::string path;            // fsdd: the dataset folder ("" = $KUN_FSDD or ../shared/data/fsdd); folder: train root
  std::string test_path;       // folder: a separate test root
  double validation_split = 0.0;
  int64_t train_limit = 0;     // use only the first N training / test examples (0: all), after the seeded shuffle
  int64_t test_limit = 0;
  // ctc digit strings
  int64_t train_strings = 4000;
  int64_t test_strings = 500;
  int64_t min_digits = 3;
  int64_t max_digits = 5;
  double min_gap = 0.05;
  double max_gap = 0.25;
  uint64_t seed = 0;
  // augmentation of the training waves (classify): each clip also appears this many extra times, shifted
  // by up to shift_seconds and with white noise at an SNR drawn from [snr_min, snr_max] dB
  int64_t augment_copies = 0;
  bool speed = true;  // speed perturbation x0.9 / 1.0 / 1.1 in the copies
  double shift_seconds = 0.1;
  double snr_min = 10.0, snr_max = 30.0;

  json to_json() const {
    return {{"kind", kind},           {"path", path},
            {"test_path", test_path}, {"validation_split", validation_split},
            {"train_limit", train_limit}, {"test_limit", test_limit},
            {"train_strings", train_strings}, {"test_strings", test_strings},
            {"min_digits", min_digits}, {"max_digits", max_digits},
            {"min_gap", min_gap},     {"max_gap", max_gap},
            {"seed", seed},           {"augment_copies", augment_copies}, {"speed", speed},
            {"shift_seconds", shift_seconds}, {"snr_min", snr_min}, {"snr_max", snr_max}};
  }
  static DataSpec from_json(const json& j, const std::string& source) {
    DataSpec d;
    if (j.is_null()) return d;
    KUN_CHECK(j.is_object(), ValueError, "config ", source, ": [data] must be a table");
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      try {
        if (k == "kind") d.kind = it->get<std::string>();
        else if (k == "path") d.path = it->get<std::string>();
        else if (k == "test_path") d.test_path = it->get<std::string>();
        else if (k == "validation_split") d.validation_split = it->get<double>();
        else if (k == "train_limit") d.train_limit = it->get<int64_t>();
        else if (k == "test_limit") d.test_limit = it->get<int64_t>();
        else if (k == "train_strings") d.train_strings = it->get<int64_t>();
        else if (k == "test_strings") d.test_strings = it->get<int64_t>();
        else if (k == "min_digits") d.min_digits = it->get<int64_t>();
        else if (k == "max_digits") d.max_digits = it->get<int64_t>();
        else if (k == "min_gap") d.min_gap = it->get<double>();
        else if (k == "max_gap") d.max_gap = it->get<double>();
        else if (k == "seed") d.seed = it->get<uint64_t>();
        else if (k == "augment_copies") d.augment_copies = it->get<int64_t>();
        else if (k == "shift_seconds") d.shift_seconds = it->get<double>();
        else if (k == "speed") d.speed = it->get<bool>();
        else if (k == "snr_min") d.snr_min = it->get<double>();
        else if (k == "snr_max") d.snr_max = it->get<double>();
        else
          kun::detail::throw_error<ValueError>(
              "config ", source, ": [data] unknown key '", k,
              "'; accepted: kind, path, test_path, validation_split, train_limit, test_limit, train_strings, "
              "test_strings, min_digits, max_digits, min_gap, max_gap, seed, augment_copies, speed, shift_seconds, "
              "snr_min, snr_max");
      } catch (const json::exception& e) {
        kun::detail::throw_error<ValueError>("config ", source, ": [data] '", k, "' has the wrong type (", it->dump(), ")");
      }
    }
    KUN_CHECK(d.kind == "fsdd" || d.kind == "folder", ValueError, "config ", source,
              ": [data] kind must be \"fsdd\" or \"folder\", got '", d.kind, "'");
    KUN_CHECK(d.validation_split >= 0 && d.validation_split < 1, ValueError, "config ", source,
              ": [data] validation_split must be in [0, 1), got ", d.validation_split);
    return d;
  }
};

struct SpeechConfig {
  std::string source;
  SpeechTask task = SpeechTask::classify;
  double clip_norm = 0.0;  // [task] clip_norm: gradients scaled to at most this global L2 norm before each step
  DataSpec data;
  FeatureOptions features;
  train::RunConfig rc;  // [run] [model] [train] [output], parsed by kun's run-config parser
};

SpeechConfig parse_speech_config(const std::string& path) {
  KUN_CHECK(fs::exists(path), IOError, "speech config '", path, "' does not exist");
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    kun::detail::throw_error<ValueError>("config ", path, ":", e.source().begin.line, ":", e.source().begin.column, ": ",
                                    e.description());
  }
  SpeechConfig c;
  c.source = path;
  json task = t.contains("task") ? toml_to_json(*t.get("task")) : json::object();
  for (auto it = task.begin(); it != task.end(); ++it) {
    if (it.key() == "clip_norm") {
      KUN_CHECK(it->is_number() && it->get<double>() >= 0, ValueError, "config ", path,
                ": [task] clip_norm must be a number >= 0 (0: no clipping), got ", it->dump());
      c.clip_norm = it->get<double>();
      continue;
    }
    KUN_CHECK(it.key() == "kind", ValueError, "config ", path, ": [task] unknown key '", it.key(),
              "'; accepted: kind, clip_norm");
    const std::string k = it->is_string() ? it->get<std::string>() : "";
    KUN_CHECK(k == "classify" || k == "ctc", ValueError, "config ", path,
              ": [task] kind must be \"classify\" or \"ctc\", got ", it->dump());
    c.task = k == "classify" ? SpeechTask::classify : SpeechTask::ctc;
  }
  c.data = DataSpec::from_json(t.contains("data") ? toml_to_json(*t.get("data")) : json(), path);
  if (t.contains("features")) {
    try {
      c.features = FeatureOptions::from_json(toml_to_json(*t.get("features")));
    } catch (const Error& e) {
      kun::detail::throw_error<ValueError>("config ", path, ": [features] ", e.what());
    }
  }
  if (c.task == SpeechTask::ctc) {
    KUN_CHECK(!c.features.pad_front, ValueError, "config ", path,
              ": [features] a CTC model needs pad = \"end\" (the speech must start at frame 0)");
    KUN_CHECK(c.data.kind == "fsdd", ValueError, "config ", path, ": a CTC task builds digit strings from FSDD (kind = \"fsdd\")");
  }
  // [run] [train] [output] go through the run-config parser (strict keys, optimizer, callbacks); the
  // model layers too, one by one, except the recurrent ones, which are checked here.
  t.erase("task");
  t.erase("data");
  t.erase("features");
  if (c.task == SpeechTask::ctc) {
    if (auto* tr = t["train"].as_table()) {
      tr->erase("loss");  // the CTC loss is fixed
      tr->insert_or_assign("metrics", toml::array{});
    } else {
      t.insert_or_assign("train", toml::table{{"metrics", toml::array{}}});
    }
  }
  json model = parse_model_layers(t, path);
  toml::table dummy_model{{"layers", toml::array{toml::table{{"type", "dense"}, {"units", 1}}}}};
  t.insert_or_assign("model", dummy_model);
  std::ostringstream os;
  os << t;
  c.rc = train::parse_config_text(os.str(), "toml", path);
  c.rc.model = model;
  c.rc.raw["model"] = model;
  return c;
}

// ---------------- data ----------------

struct ClassData {
  std::vector<std::string> train_paths, test_paths;
  std::vector<int64_t> train_labels, test_labels;
  std::vector<std::string> labels;
  std::string description;
};

// A seeded shuffle of the training clips (the validation split takes the last fraction), then limits.
void shuffle_and_limit(std::vector<std::string>& paths, std::vector<int64_t>& labels, uint64_t seed, int64_t limit) {
  std::vector<int64_t> order(paths.size());
  std::iota(order.begin(), order.end(), 0);
  Generator g(seed);
  Tensor perm = randperm(int64_t(paths.size()), &g);
  std::vector<std::string> p2;
  std::vector<int64_t> l2;
  for (int64_t i : perm.to_vector<int64_t>()) {
    p2.push_back(paths[size_t(i)]);
    l2.push_back(labels[size_t(i)]);
  }
  if (limit > 0 && limit < int64_t(p2.size())) p2.resize(size_t(limit)), l2.resize(size_t(limit));
  paths = std::move(p2);
  labels = std::move(l2);
}

// Clips of a list mapped onto `labels` (a label not among them is an error naming the file).
void add_clips(const ClipList& l, const std::vector<std::string>& labels, std::vector<std::string>& paths,
               std::vector<int64_t>& ids, Split split) {
  for (const Clip& c : l.clips) {
    if (split == Split::train && c.test) continue;
    if (split == Split::test && !c.test) continue;
    const std::string& name = l.labels[size_t(c.label)];
    auto it = std::find(labels.begin(), labels.end(), name);
    KUN_CHECK(it != labels.end(), ValueError, "speech data: '", c.path, "' has label '", name,
              "', which the model does not know");
    paths.push_back(c.path);
    ids.push_back(it - labels.begin());
  }
}

ClassData load_class_data(const DataSpec& d) {
  ClassData cd;
  if (d.kind == "fsdd") {
    ClipList l = fsdd({.path = d.path});
    cd.labels = l.labels;
    add_clips(l, cd.labels, cd.train_paths, cd.train_labels, Split::train);
    add_clips(l, cd.labels, cd.test_paths, cd.test_labels, Split::test);
    cd.description = "FSDD " + fsdd_path(d.path) + " (official split: recordings 0-4 = test)";
  } else {
    KUN_CHECK(!d.path.empty(), ValueError, "speech data: kind = \"folder\" needs path = \"DIR\"");
    ClipList tr = audio_folder(d.path);
    cd.labels = tr.labels;
    add_clips(tr, cd.labels, cd.train_paths, cd.train_labels, Split::all);
    if (!d.test_path.empty()) add_clips(audio_folder(d.test_path), cd.labels, cd.test_paths, cd.test_labels, Split::all);
    cd.description = "audio folder " + d.path + (d.test_path.empty() ? "" : ", test " + d.test_path);
  }
  KUN_CHECK(!cd.train_paths.empty(), ValueError, "speech data: no training clips in ", cd.description);
  shuffle_and_limit(cd.train_paths, cd.train_labels, d.seed, d.train_limit);
  if (d.test_limit > 0 && d.test_limit < int64_t(cd.test_paths.size())) {
    cd.test_paths.resize(size_t(d.test_limit));
    cd.test_labels.resize(size_t(d.test_limit));
  }
  return cd;
}

// Shifted, noisy copies of the training waves (seeded per clip and copy).
std::vector<Tensor> augmented_raws(const FeaturePipeline& fp, const std::vector<std::string>& paths, const DataSpec& d) {
  std::vector<Tensor> out(paths.size() * size_t(d.augment_copies));
  const int64_t max_shift = std::llround(d.shift_seconds * fp.options().sample_rate);
  std::vector<std::string> errors(paths.size());
  parallel_for(int64_t(paths.size()), 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      try {
        Tensor w = fp.load(paths[size_t(i)]);
        for (int64_t k = 0; k < d.augment_copies; ++k) {
          Generator g(d.seed + 1000003ULL * uint64_t(k + 1) + uint64_t(i));
          // speed 0.9 / 1.0 / 1.1, then shift: silence in front (or the start cut) and silence at the end
          Tensor v = d.speed ? speed_perturb(w, {0.9, 1.0, 1.1}, g) : w;
          const int64_t s = std::llround((2 * uniform01(g) - 1) * double(max_shift));
          const int64_t cut = std::min<int64_t>(std::max<int64_t>(-s, 0), v.numel() / 4);
          const int64_t tail = std::llround(uniform01(g) * double(max_shift));
          v = concat({zeros({std::max<int64_t>(s, 0)}), v.narrow(0, cut, v.numel() - cut), zeros({tail})}, 0);
          const double snr = d.snr_min + (d.snr_max - d.snr_min) * uniform01(g);
          v = add_noise(v, snr, g);
          out[size_t(i) * size_t(d.augment_copies) + size_t(k)] = fp.raw(v, TooLong::truncate);
        }
      } catch (const std::exception& ex) {
        errors[size_t(i)] = ex.what();
      }
    }
  });
  for (size_t i = 0; i < paths.size(); ++i) KUN_CHECK(errors[i].empty(), IOError, "speech data: '", paths[i], "': ", errors[i]);
  return out;
}

// ---------------- reports ----------------

struct ClassReport {
  double accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
};

ClassReport class_report(const std::vector<int64_t>& truth, const std::vector<int64_t>& pred, size_t n_classes) {
  ClassReport r;
  r.confusion.assign(n_classes, std::vector<int64_t>(n_classes, 0));
  int64_t ok = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    r.confusion[size_t(truth[i])][size_t(pred[i])]++;
    ok += truth[i] == pred[i];
  }
  r.accuracy = truth.empty() ? 0.0 : double(ok) / double(truth.size());
  return r;
}

void print_class_report(const ClassReport& r, const std::vector<std::string>& labels) {
  const size_t C = labels.size();
  int64_t n = 0;
  for (auto& row : r.confusion) n += std::accumulate(row.begin(), row.end(), int64_t{0});
  std::printf("accuracy: %.4f (%lld / %lld)\n\n", r.accuracy, (long long)std::llround(r.accuracy * double(n)), (long long)n);
  std::printf("%-12s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
  double mp = 0, mr = 0, mf = 0;
  for (size_t c = 0; c < C; ++c) {
    int64_t tp = r.confusion[c][c], support = 0, predicted = 0;
    for (size_t k = 0; k < C; ++k) support += r.confusion[c][k], predicted += r.confusion[k][c];
    const double p = predicted ? double(tp) / double(predicted) : 0.0;
    const double rc = support ? double(tp) / double(support) : 0.0;
    const double f = p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0;
    mp += p, mr += rc, mf += f;
    std::printf("%-12s %9.4f %9.4f %9.4f %8lld\n", labels[c].c_str(), p, rc, f, (long long)support);
  }
  std::printf("%-12s %9.4f %9.4f %9.4f %8lld\n\n", "macro avg", mp / double(C), mr / double(C), mf / double(C), (long long)n);
  std::printf("confusion matrix (rows: true, columns: predicted)\n%-8s", "");
  for (size_t c = 0; c < C; ++c) std::printf(" %5.5s", labels[c].c_str());
  std::printf("\n");
  for (size_t t = 0; t < C; ++t) {
    std::printf("%-8.8s", labels[t].c_str());
    for (size_t c = 0; c < C; ++c) std::printf(" %5lld", (long long)r.confusion[t][c]);
    std::printf("\n");
  }
}

std::vector<int64_t> predict_classes(train::Model& m, const Tensor& x) {
  Tensor out = m.predict(x, 256);
  return argmax(out, 1).to_vector<int64_t>();
}

struct CtcReport {
  double der_greedy = 0, der_beam = 0;
  int64_t strings = 0, exact_beam = 0;
};

CtcReport ctc_report(train::Model& m, const FeatureSet& s, int64_t beam_width, int show,
                     const std::vector<std::string>& labels) {
  CtcReport r;
  Tensor out = m.predict(s.x, 128);  // (N, T, C)
  Tensor lp = log_softmax(out.contiguous(), 2).permute({1, 0, 2}).contiguous();
  Tensor len = from_vector(ctc_input_steps(s.y));
  auto refs = ctc_targets(s.y);
  std::vector<std::vector<int64_t>> greedy, beam;
  for (auto& h : ctc_greedy_decode(lp, len)) {
    for (auto& t : h.tokens) --t;
    greedy.push_back(h.tokens);
  }
  for (auto& hs : ctc_beam_search(lp, len, {.beam_width = beam_width, .blank = 0, .n_best = 1})) {
    for (auto& t : hs[0].tokens) --t;
    beam.push_back(hs[0].tokens);
  }
  r.strings = int64_t(refs.size());
  r.der_greedy = token_error_rate(refs, greedy);
  r.der_beam = token_error_rate(refs, beam);
  for (size_t i = 0; i < refs.size(); ++i) r.exact_beam += refs[i] == beam[i];
  auto text = [&](const std::vector<int64_t>& v) {
    std::string s;
    for (int64_t t : v) s += (s.empty() ? "" : " ") + labels[size_t(t)];
    return s;
  };
  for (int i = 0; i < std::min<int>(show, int(refs.size())); ++i)
    std::printf("  %-12s true %-12s beam %-12s greedy %s\n", s.names[size_t(i)].c_str(), text(refs[size_t(i)]).c_str(),
                text(beam[size_t(i)]).c_str(), text(greedy[size_t(i)]).c_str());
  return r;
}

void print_ctc_report(const CtcReport& r) {
  std::printf("digit error rate on %lld test strings: greedy %.4f, beam %.4f; strings exactly right (beam) %.4f\n",
              (long long)r.strings, r.der_greedy, r.der_beam, r.strings ? double(r.exact_beam) / double(r.strings) : 0.0);
}

DigitStringBuilder make_builder(const DataSpec& d, const FeaturePipeline& fp, Split split) {
  DigitStringOptions o;
  o.split = split;
  o.count = split == Split::train ? d.train_strings : d.test_strings;
  o.min_digits = d.min_digits;
  o.max_digits = d.max_digits;
  o.min_gap = d.min_gap;
  o.max_gap = d.max_gap;
  o.sample_rate = fp.options().sample_rate;
  o.seed = split == Split::train ? d.seed : d.seed + 7919;  // train and test strings from different streams
  return DigitStringBuilder(fsdd({.path = d.path}), o);
}

std::vector<std::string> digit_labels() {
  std::vector<std::string> l;
  for (int i = 0; i < 10; ++i) l.push_back(std::to_string(i));
  return l;
}

// Adam that first scales the gradients to a global L2 norm of at most max_norm (recurrent models on
// long padded sequences otherwise see rare gradient spikes that undo epochs of progress).
class ClippedAdam : public optim::Adam {
 public:
  ClippedAdam(const optim::AdamOptions& o, double max_norm) : optim::Adam(o), max_norm_(max_norm) {}
  void step() override {
    std::vector<Variable> ps;
    for (auto& g : param_groups())
      for (auto& p : g.params) ps.push_back(p);
    optim::clip_grad_norm(ps, max_norm_);
    optim::Adam::step();
  }

 private:
  double max_norm_;
};

std::shared_ptr<optim::Optimizer> make_optimizer(const SpeechConfig& c) {
  std::shared_ptr<optim::Optimizer> o = train::build_optimizer(c.rc.train);
  if (c.clip_norm <= 0) return o;
  auto* a = dynamic_cast<optim::Adam*>(o.get());
  KUN_CHECK(a && o->type_name() == "Adam", ValueError, "config ", c.source,
            ": [task] clip_norm works with optimizer adam, got ", o->type_name());
  return std::make_shared<ClippedAdam>(a->options(), c.clip_norm);
}

// ---------------- verbs ----------------

struct TrainArgs {
  std::string config, output, data;
  int epochs = 0, verbose = -1;
  int64_t batch_size = 0, train_limit = -1, test_limit = -1;
};

int cmd_train(const TrainArgs& a) {
  const auto t_start = Clock::now();
  SpeechConfig c = parse_speech_config(a.config);
  if (!a.data.empty()) c.data.path = a.data;
  if (a.epochs > 0) c.rc.train.epochs = a.epochs;
  if (a.batch_size > 0) c.rc.train.batch_size = a.batch_size;
  if (a.verbose >= 0) c.rc.train.verbose = a.verbose;
  if (a.train_limit >= 0) c.data.train_limit = a.train_limit, c.data.train_strings = a.train_limit ? a.train_limit : c.data.train_strings;
  if (a.test_limit >= 0) c.data.test_limit = a.test_limit, c.data.test_strings = a.test_limit ? a.test_limit : c.data.test_strings;
  manual_seed(c.rc.train.seed);
  std::printf("kun speech train: %s (%s, task %s)\n", c.rc.name.c_str(), a.config.c_str(),
              c.task == SpeechTask::classify ? "classify" : "ctc");

  SpeechModel sm;
  sm.task = c.task;
  sm.features = FeaturePipeline(c.features);
  sm.data = c.data.to_json();
  FeatureSet train_set, test_set;
  auto t0 = Clock::now();
  if (c.task == SpeechTask::classify) {
    ClassData cd = load_class_data(c.data);
    sm.labels = cd.labels;
    std::printf("reading %zu + %zu clips, %lld augmented copies each, computing features...\n", cd.train_paths.size(),
                cd.test_paths.size(), (long long)c.data.augment_copies);
    std::fflush(stdout);
    int64_t cut = 0, cut_test = 0;
    std::vector<Tensor> raws = raw_features(sm.features, cd.train_paths, &cut);
    std::vector<int64_t> labels = cd.train_labels;
    sm.features.fit(raws);  // statistics of the real training clips only
    if (c.data.augment_copies > 0) {
      // the validation split (last fraction) stays un-augmented: copies go in front of the clean clips
      std::vector<Tensor> aug = augmented_raws(sm.features, cd.train_paths, c.data);
      std::vector<int64_t> aug_labels;
      for (size_t i = 0; i < cd.train_paths.size(); ++i)
        for (int64_t k = 0; k < c.data.augment_copies; ++k) aug_labels.push_back(cd.train_labels[i]);
      const size_t n_val = size_t(std::llround(c.data.validation_split * double(raws.size())));
      std::vector<Tensor> all(aug.begin(), aug.end());
      std::vector<int64_t> all_labels = aug_labels;
      if (n_val > 0) {  // drop copies of validation clips
        all.clear(), all_labels.clear();
        for (size_t i = 0; i + n_val < cd.train_paths.size(); ++i)
          for (int64_t k = 0; k < c.data.augment_copies; ++k) {
            all.push_back(aug[i * size_t(c.data.augment_copies) + size_t(k)]);
            all_labels.push_back(aug_labels[i * size_t(c.data.augment_copies) + size_t(k)]);
          }
      }
      all.insert(all.end(), raws.begin(), raws.end());
      all_labels.insert(all_labels.end(), labels.begin(), labels.end());
      raws = std::move(all);
      labels = std::move(all_labels);
    }
    train_set = make_feature_set(sm.features, raws, labels);
    if (!cd.test_paths.empty())
      test_set = make_feature_set(sm.features, raw_features(sm.features, cd.test_paths, &cut_test), cd.test_labels);
    std::printf("data: %s: %zu train clips%s / %zu test clips, %zu classes; features %s (%s) in %.1fs",
                cd.description.c_str(), cd.train_paths.size(),
                c.data.augment_copies ? (" (+" + std::to_string(train_set.x.size(0) - int64_t(cd.train_paths.size())) + " augmented)").c_str() : "",
                cd.test_paths.size(), cd.labels.size(), sm.features.input_shape().str().c_str(),
                c.features.kind == FeatureKind::mfcc ? "MFCC" : "log-mel", seconds_since(t0));
    if (cut + cut_test) std::printf("; %lld clips longer than %.2f s keep their first %.2f s", (long long)(cut + cut_test),
                                    c.features.max_seconds, c.features.max_seconds);
    std::printf("\n");
  } else {
    sm.labels = digit_labels();
    std::printf("building %lld + %lld digit strings, computing features...\n", (long long)c.data.train_strings,
                (long long)c.data.test_strings);
    std::fflush(stdout);
    int64_t dropped = 0, dropped_test = 0;
    DigitStringBuilder tb = make_builder(c.data, sm.features, Split::train);
    // Global statistics from the training strings' raw features.
    {
      std::vector<Tensor> raws;
      for (int64_t i = 0; i < std::min<int64_t>(tb.size(), 500); ++i) {
        DigitString s = tb.get(i);
        if (s.audio.numel() <= sm.features.max_samples()) raws.push_back(sm.features.raw(s.audio, TooLong::error));
      }
      sm.features.fit(raws);
    }
    train_set = make_ctc_set(sm.features, tb, c.data.max_digits, &dropped);
    test_set = make_ctc_set(sm.features, make_builder(c.data, sm.features, Split::test), c.data.max_digits, &dropped_test);
    std::printf("data: digit strings of %lld-%lld FSDD clips: %lld train (training clips only) / %lld test (test clips "
                "only); features %s in %.1fs",
                (long long)c.data.min_digits, (long long)c.data.max_digits, (long long)train_set.x.size(0),
                (long long)test_set.x.size(0), sm.features.input_shape().str().c_str(), seconds_since(t0));
    if (dropped + dropped_test)
      std::printf("; %lld strings longer than %.2f s left out", (long long)(dropped + dropped_test), c.features.max_seconds);
    std::printf("\n");
  }
  std::fflush(stdout);

  auto model = std::make_shared<train::Model>(train::build_module(c.rc));
  if (c.task == SpeechTask::classify)
    model->compile(make_optimizer(c), train::build_loss(c.rc), train::build_metrics(c.rc.train));
  else
    model->compile(make_optimizer(c), loss::AnyLoss(CtcLoss()), {});
  if (c.rc.train.verbose > 0) std::printf("\n%s\n", model->summary(sm.features.input_shape()).c_str());
  std::fflush(stdout);

  train::FitOptions fo;
  fo.epochs = c.rc.train.epochs;
  fo.batch_size = c.rc.train.batch_size;
  fo.validation_split = c.data.validation_split;
  fo.shuffle = c.rc.train.shuffle;
  fo.seed = c.rc.train.seed;
  fo.verbose = c.rc.train.verbose;
  fo.callbacks = train::build_callbacks(c.rc.train);
  t0 = Clock::now();
  train::History h = model->fit(train_set.x, train_set.y, fo);
  const double fit_s = seconds_since(t0);
  std::printf("trained %zu epochs in %.1fs\n", h.size(), fit_s);
  sm.model = model;

  if (test_set.x.defined() && test_set.x.size(0) > 0) {
    if (c.task == SpeechTask::classify) {
      auto pred = predict_classes(*model, test_set.x);
      ClassReport r = class_report(test_set.y.to_vector<int64_t>(), pred, sm.labels.size());
      std::printf("test accuracy: %.4f (%zu clips)\n", r.accuracy, pred.size());
    } else {
      print_ctc_report(ctc_report(*model, test_set, 8, 0, sm.labels));
    }
  }
  std::string out = !a.output.empty() ? a.output : !c.rc.output.empty() ? c.rc.output : c.rc.name + ".kun";
  if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path());
  sm.save(out);
  std::printf("saved %s; total %.1fs\n", out.c_str(), seconds_since(t_start));
  return 0;
}

struct EvalArgs {
  std::string model, data, split = "test";
  int64_t limit = 0, beam = 8;
  int show = 5;
};

int cmd_eval(const EvalArgs& a) {
  SpeechModel sm = SpeechModel::load(a.model);
  DataSpec d = sm.data.is_null() ? DataSpec() : DataSpec::from_json(sm.data, a.model);
  if (!a.data.empty()) d.path = a.data;
  d.train_limit = 0;
  const auto t0 = Clock::now();
  if (sm.task == SpeechTask::ctc) {
    if (a.limit > 0) d.test_strings = a.limit;
    FeatureSet s = make_ctc_set(sm.features, make_builder(d, sm.features, Split::test), d.max_digits);
    std::printf("%s: CTC digit strings, %lld test strings built from FSDD test clips\n", a.model.c_str(),
                (long long)s.x.size(0));
    CtcReport r = ctc_report(*sm.model, s, a.beam, a.show, sm.labels);
    print_ctc_report(r);
    std::printf("(%.1fs)\n", seconds_since(t0));
    return 0;
  }
  KUN_CHECK(a.split == "test" || a.split == "train" || a.split == "all", ValueError,
            "eval: --split must be test, train or all, got '", a.split, "'");
  const Split split = a.split == "test" ? Split::test : a.split == "train" ? Split::train : Split::all;
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
  std::string what;
  // --data: an FSDD folder (root or recordings/) unless it holds transcripts.csv or label sub-folders.
  bool is_fsdd = d.kind == "fsdd";
  if (!a.data.empty() && !fs::exists(fs::path(a.data) / "recordings")) {
    bool label_dirs = fs::exists(fs::path(a.data) / "transcripts.csv");
    if (fs::is_directory(a.data))
      for (const auto& e : fs::directory_iterator(a.data)) label_dirs = label_dirs || e.is_directory();
    is_fsdd = !label_dirs;
  }
  if (is_fsdd) {
    add_clips(fsdd({.path = d.path}), sm.labels, paths, labels, split);
    what = "FSDD " + fsdd_path(d.path) + " (" + a.split + " split)";
  } else {
    const std::string root = !a.data.empty() ? a.data : !d.test_path.empty() ? d.test_path : d.path;
    add_clips(audio_folder(root), sm.labels, paths, labels, Split::all);
    what = "audio folder " + root;
  }
  if (a.limit > 0 && a.limit < int64_t(paths.size())) paths.resize(size_t(a.limit)), labels.resize(size_t(a.limit));
  KUN_CHECK(!paths.empty(), ValueError, "eval: no clips in ", what);
  int64_t cut = 0;
  FeatureSet s = make_feature_set(sm.features, raw_features(sm.features, paths, &cut), labels);
  std::printf("%s: %zu clips of %s%s\n", a.model.c_str(), paths.size(), what.c_str(),
              cut ? (", " + std::to_string(cut) + " longer than the model's window keep their first part").c_str() : "");
  auto pred = predict_classes(*sm.model, s.x);
  print_class_report(class_report(labels, pred, sm.labels.size()), sm.labels);
  std::printf("(%.1fs)\n", seconds_since(t0));
  return 0;
}

struct TranscribeArgs {
  std::vector<std::string> files;
  std::string model, too_long = "error";
  int64_t beam = 8, top = 1;
};

int cmd_transcribe(const TranscribeArgs& a) {
  SpeechModel sm = SpeechModel::load(a.model);
  KUN_CHECK(a.too_long == "error" || a.too_long == "truncate", ValueError,
            "transcribe: --too-long must be error or truncate, got '", a.too_long, "'");
  TranscribeOptions o;
  o.on_too_long = a.too_long == "error" ? TooLong::error : TooLong::truncate;
  o.beam_width = a.beam;
  o.top_k = std::max<int64_t>(a.top, 1);
  for (const std::string& f : a.files) {
    Tensor w = sm.features.load(f);  // mono, at the model's rate
    Transcription t;
    try {
      t = transcribe(sm, w, o);
    } catch (const ValueError& e) {
      kun::detail::throw_error<ValueError>("transcribe '", f, "': ", e.what());
    }
    std::printf("%s\t%s\tconfidence %.4f", f.c_str(), t.text.c_str(), t.confidence);
    if (a.top > 1)
      for (size_t k = 1; k < t.top.size(); ++k) std::printf("\t%s %.4f", t.top[k].first.c_str(), t.top[k].second);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"kun speech: spoken-word classification and CTC digit strings (FSDD, audio folders)", "kun speech"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (0: all cores)");

  TrainArgs ta;
  auto* train = app.add_subcommand("train", "extract features, fit the model a TOML config describes, test it, save it");
  train->add_option("config", ta.config, "TOML config (examples/speech_*.toml; format in docs/speech.md)")->required();
  train->add_option("-o,--output", ta.output, "model file (default: [output] model, else <run name>.kun)");
  train->add_option("--data", ta.data, "dataset folder, overriding [data] path");
  train->add_option("--epochs", ta.epochs, "override [train] epochs");
  train->add_option("--batch-size", ta.batch_size, "override [train] batch_size");
  train->add_option("--train-limit", ta.train_limit, "use only N training clips (ctc: N training strings)");
  train->add_option("--test-limit", ta.test_limit, "use only N test clips (ctc: N test strings)");
  train->add_option("--verbose", ta.verbose, "0 silent, 1 progress bar, 2 one line per epoch");

  EvalArgs ea;
  auto* eval = app.add_subcommand("eval", "accuracy, per-class precision/recall/F1 and the confusion matrix "
                                          "(ctc: digit error rate, greedy and beam)");
  eval->add_option("-m,--model", ea.model, "model file from `kun speech train`")->required();
  eval->add_option("--data", ea.data, "FSDD folder or audio folder (default: the data the model was trained on)");
  eval->add_option("--split", ea.split, "FSDD split: test (recordings 0-4), train or all");
  eval->add_option("--limit", ea.limit, "use only the first N clips (ctc: N test strings)");
  eval->add_option("--beam", ea.beam, "ctc: beam width");
  eval->add_option("--show", ea.show, "ctc: print this many decoded strings");

  TranscribeArgs tr;
  auto* trans = app.add_subcommand("transcribe", "print the label (or the digit string) of audio files with a confidence");
  trans->add_option("files", tr.files, "audio files (WAV, FLAC, OGG; any rate and channel count)")->required();
  trans->add_option("-m,--model", tr.model, "model file from `kun speech train`")->required();
  trans->add_option("--too-long", tr.too_long,
                    "a clip longer than the model's window: error (default) or truncate (keep its first part)");
  trans->add_option("--beam", tr.beam, "ctc: beam width (1: greedy)");
  trans->add_option("--top", tr.top, "classify: also print the next best labels");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (threads > 0) set_num_threads(threads);
    if (train->parsed()) return cmd_train(ta);
    if (eval->parsed()) return cmd_eval(ea);
    if (trans->parsed()) return cmd_transcribe(tr);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "kun speech: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace kun::speech
