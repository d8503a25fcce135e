#include "commands.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "kun/core/error.h"
#include "kun/core/rng.h"
#include "kun/core/threading.h"
#include "kun/data/image.h"
#include "kun/data/npy.h"
#include "kun/nn/summary.h"
#include "kun/tensor/ops.h"
#include "kun/train/config.h"
#include "kun/train/model.h"
#include "kun/train/plot.h"
#include "kun/train/runs.h"

namespace kun::cli {

namespace fs = std::filesystem;
using train::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool has_ext(const std::string& path, std::initializer_list<const char*> exts) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* x : exts)
    if (e == x) return true;
  return false;
}

// Rows of (N, C) outputs as probabilities per the model's output activation.
std::vector<std::vector<double>> to_probabilities(const Tensor& out, const std::string& activation) {
  Tensor o = out.to(DType::f64).contiguous();
  if (o.dim() == 1) o = o.reshape({o.size(0), 1});
  o = o.reshape({o.size(0), -1});
  const int64_t n = o.size(0), c = o.size(1);
  std::vector<double> v = o.to_vector<double>();
  std::vector<std::vector<double>> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> r(v.begin() + i * c, v.begin() + (i + 1) * c);
    if (activation == "softmax" && c > 1) {
      double mx = *std::max_element(r.begin(), r.end()), s = 0;
      for (double& x : r) s += (x = std::exp(x - mx));
      for (double& x : r) x /= s;
    } else if (activation == "sigmoid") {
      for (double& x : r) x = 1.0 / (1.0 + std::exp(-x));
    }
    rows[size_t(i)] = std::move(r);
  }
  return rows;
}

std::string class_name(const std::vector<std::string>& classes, int64_t c) {
  return c >= 0 && size_t(c) < classes.size() ? classes[size_t(c)] : std::to_string(c);
}

// "label (p)" for the top k of one row. A single-output sigmoid row is binary: class 1 vs 0.
std::string describe(const std::vector<double>& p, const std::vector<std::string>& classes, int top,
                     const std::string& activation) {
  char buf[64];
  if (p.size() == 1 && activation == "sigmoid") {
    int64_t c = p[0] >= 0.5 ? 1 : 0;
    std::snprintf(buf, sizeof buf, " (%.4f)", c ? p[0] : 1.0 - p[0]);
    return class_name(classes, c) + buf;
  }
  if (activation == "none" && (p.size() == 1 || classes.empty())) {
    std::string s;
    for (size_t i = 0; i < p.size() && i < 8; ++i) {
      std::snprintf(buf, sizeof buf, "%s%.6g", i ? ", " : "", p[i]);
      s += buf;
    }
    return "value " + s + (p.size() > 8 ? ", ..." : "");
  }
  std::vector<size_t> idx(p.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  std::string s;
  for (int k = 0; k < top && size_t(k) < idx.size(); ++k) {
    std::snprintf(buf, sizeof buf, " (%.4f)", p[idx[size_t(k)]]);
    s += (k ? ", " : "") + class_name(classes, int64_t(idx[size_t(k)])) + buf;
  }
  return s;
}

Shape shape_of(const std::vector<int64_t>& v) { return Shape(v); }

train::ModelMeta require_meta(const std::string& model_path) {
  KUN_CHECK(fs::exists(model_path), IOError, model_path, ": no such model file");
  auto m = train::load_meta(model_path);
  KUN_CHECK(m.has_value(), IOError, model_path, ": missing ", train::meta_path_for(model_path),
            " (input shape, classes and preprocessing written by kun train next to the model)");
  return *m;
}

// One input file as a batch (B, input_shape...) in the model's preprocessing.
Tensor load_input(const std::string& path, const train::ModelMeta& meta) {
  const Shape want = shape_of(meta.input_shape);
  Tensor x;
  if (has_ext(path, {".npy"})) {
    x = data::read_npy(path);
    if (x.dtype() == DType::u8) x = mul(x.to(DType::f32), 1.0 / 255.0);  // raw 8-bit images -> [0, 1] like the readers
    else x = x.to(DType::f32);
    if (x.shape() == want) x = x.unsqueeze(0);
    // Grayscale models also take (N, H, W) stacks, the layout MNIST-style arrays usually have.
    if (want.size() == 3 && want[0] == 1 && x.dim() == 3 && x.size(1) == want[1] && x.size(2) == want[2])
      x = x.unsqueeze(1);
    const std::vector<int64_t> dims = x.shape().vec();
    Shape got_rest = dims.empty() ? Shape() : Shape(std::vector<int64_t>(dims.begin() + 1, dims.end()));
    KUN_CHECK(x.dim() == int64_t(want.size()) + 1 && got_rest == want, ShapeError, "predict: ", path,
              ": expected one example of shape ", want, " or a batch (N, ", want, "...), got ", x.shape());
  } else {
    KUN_CHECK(want.size() == 3, ShapeError, "predict: ", path, ": this model takes inputs of shape ", want,
              ", not images; pass a .npy file");
    x = data::read_image(path, int(want[0]));
    if (x.size(1) != want[1] || x.size(2) != want[2]) x = data::resize_bilinear(x, want[1], want[2]);
    x = x.unsqueeze(0);
  }
  return meta.preprocess.apply(x.contiguous());
}

// --data for eval: a spec -> a data section.
train::DataConfig eval_data(const std::string& spec, const train::ModelMeta& meta, const std::string& model_path) {
  if (spec.empty()) {
    KUN_CHECK(!meta.data.is_null(), ValueError, "eval: ", model_path, " records no data; pass --data");
    return train::data_config_from_json(meta.data, train::meta_path_for(model_path));
  }
  train::DataConfig d;
  if (has_ext(spec, {".toml", ".json"})) return train::parse_config_file(spec).data;
  std::string kind = spec, path;
  if (auto c = spec.find(':'); c != std::string::npos) kind = spec.substr(0, c), path = spec.substr(c + 1);
  if (kind == "mnist" || kind == "fashion_mnist") {
    d.kind = kind;
    d.path = path;
    d.channels = 1;
    return d;
  }
  if (kind == "csv" || kind == "image_folder" || kind == "npy") {
    KUN_CHECK(kind != "npy", ValueError, "eval: --data npy needs a config file naming x and y");
    d.kind = kind;
    d.path = path;
  } else if (has_ext(spec, {".csv"})) {
    d.kind = "csv";
    d.path = spec;
  } else if (fs::is_directory(spec)) {
    bool idx = fs::exists(fs::path(spec) / "t10k-images-idx3-ubyte.gz") || fs::exists(fs::path(spec) / "t10k-images-idx3-ubyte");
    d.kind = idx ? "mnist" : "image_folder";
    d.path = spec;
  } else {
    detail::throw_error<ValueError>("eval: --data '", spec,
                                    "' is not mnist, fashion_mnist, KIND:PATH, a config, a folder or a .csv file");
  }
  if (d.kind == "image_folder" && meta.input_shape.size() == 3) {
    d.channels = int(meta.input_shape[0]);
    d.height = meta.input_shape[1];
    d.width = meta.input_shape[2];
  }
  return d;
}

}  // namespace

std::string default_runs_db() {
  const char* env = std::getenv("KUN_RUNS_DB");
  return env && *env ? env : "runs/kun.db";
}

// ---------------- train ----------------

int train(const TrainArgs& a) {
  const auto t_start = std::chrono::steady_clock::now();
  train::RunConfig rc = a.config.empty() ? train::default_config() : train::parse_config_file(a.config);
  if (!a.data_path.empty()) rc.data.path = a.data_path;
  if (a.epochs > 0) rc.train.epochs = a.epochs;
  if (a.batch_size > 0) rc.train.batch_size = a.batch_size;
  if (a.seed >= 0) rc.train.seed = uint64_t(a.seed);
  if (a.train_limit >= 0) rc.data.train_limit = a.train_limit;
  if (a.test_limit >= 0) rc.data.test_limit = a.test_limit;
  if (a.verbose >= 0) rc.train.verbose = a.verbose;
  if (a.threads > 0) set_num_threads(a.threads);
  // The record keeps the config as run (overrides applied).
  json recorded = rc.raw;
  recorded["train"]["epochs"] = rc.train.epochs;
  recorded["train"]["batch_size"] = rc.train.batch_size;
  recorded["train"]["seed"] = rc.train.seed;
  recorded["data"] = train::data_config_to_json(rc.data);

  std::unique_ptr<train::RunStore> store;
  int64_t run = 0;
  if (!a.no_record) {
    store = std::make_unique<train::RunStore>(a.runs_db);
    run = store->begin_run({rc.name, recorded.dump(), a.config, a.command_line});
  }
  std::printf("kun train: %s (%s)%s\n", rc.name.c_str(), a.config.empty() ? "embedded default config" : a.config.c_str(),
              run ? (", run " + std::to_string(run) + " in " + a.runs_db).c_str() : "");
  try {
    manual_seed(rc.train.seed);
    auto t0 = std::chrono::steady_clock::now();
    train::PreparedData d = train::load_data(rc.data, rc.train.seed);
    std::printf("data: %s (loaded in %.1fs)\n", d.description.c_str(), seconds_since(t0));
    std::fflush(stdout);

    train::Model model(train::build_module(rc));
    model.compile(train::build_optimizer(rc.train), train::build_loss(rc), train::build_metrics(rc.train));
    if (rc.train.verbose > 0) std::printf("\n%s\n", model.summary(shape_of(d.input_shape)).c_str());
    std::fflush(stdout);

    train::FitOptions fo;
    fo.epochs = rc.train.epochs;
    fo.batch_size = rc.train.batch_size;
    fo.validation_split = rc.data.validation_split;
    fo.shuffle = rc.train.shuffle;
    fo.seed = rc.train.seed;
    fo.class_weight = rc.train.class_weight;
    fo.verbose = rc.train.verbose;
    fo.transform = train::make_augmentation(rc.data);
    fo.callbacks = train::build_callbacks(rc.train);
    if (store) fo.callbacks.push_back(std::make_shared<train::RunDbRecorder>(*store, run));
    t0 = std::chrono::steady_clock::now();
    train::History h = model.fit(d.train, fo);
    const double fit_seconds = seconds_since(t0);
    std::printf("trained %zu epochs in %.1fs (%.0f examples/s)\n", h.size(), fit_seconds,
                double(d.train.size()) * (1.0 - rc.data.validation_split) * double(h.size()) / std::max(fit_seconds, 1e-9));

    std::map<std::string, double> results;
    if (d.test.size() > 0) {
      train::Evaluation ev = model.evaluate(d.test, {std::max<int64_t>(rc.train.batch_size, 256), 0});
      std::cout << "test (" << d.test.size() << " examples): " << ev << std::endl;
      for (const auto& [k, v] : ev.values) results["test_" + k] = v;
    }
    results["train_seconds"] = fit_seconds;
    if (store) store->set_results(run, results);

    // Save, then prove the file round-trips: reload it and predict a few test examples.
    std::string out = a.output.empty() ? rc.output : a.output;
    if (out.empty()) {
      fs::path base = fs::path(a.runs_db).parent_path();
      out = (a.no_record ? fs::path("model.kun") : base / std::to_string(run) / "model.kun").string();
    }
    if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path());
    model.save(out);
    train::ModelMeta meta;
    meta.input_shape = d.input_shape;
    meta.classes = d.classes;
    meta.preprocess = d.preprocess;
    meta.output_activation = train::output_activation(rc);
    meta.channels = rc.data.channels;
    meta.data = train::data_config_to_json(rc.data);
    train::save_meta(out, meta);
    if (store) {
      store->add_artifact(run, "model", out);
      store->add_artifact(run, "meta", train::meta_path_for(out));
    }
    std::printf("saved %s\n", out.c_str());

    const train::PreparedData& src = d;
    const data::TensorDataset& show_from = src.test.size() > 0 ? src.test : src.train;
    const int64_t k = std::min<int64_t>(a.show, show_from.size());
    if (k > 0) {
      train::Model reloaded = train::Model::load(out);
      std::vector<int64_t> idx;
      for (int64_t i = 0; i < k; ++i) idx.push_back(i * std::max<int64_t>(1, show_from.size() / k));
      data::Example ex = show_from.get_batch(idx);
      Tensor p_orig = model.predict(ex.x);
      Tensor p_new = reloaded.predict(ex.x);
      const bool same = p_orig.shape() == p_new.shape() &&
                        p_orig.contiguous().to_vector<float>() == p_new.contiguous().to_vector<float>();
      std::printf("reloaded %s: outputs %s the trained model's\n", out.c_str(),
                  same ? "bit-identical to" : "DIFFER from");
      auto probs = to_probabilities(p_new, meta.output_activation);
      std::vector<int64_t> truth;
      if (ex.y.defined() && ex.y.dtype() == DType::i64 && ex.y.dim() == 1) truth = ex.y.to_vector<int64_t>();
      for (int64_t i = 0; i < k; ++i) {
        std::string line = describe(probs[size_t(i)], meta.classes, 1, meta.output_activation);
        std::printf("  %s #%-6lld predicted %-28s%s\n", src.test.size() > 0 ? "test" : "train", (long long)idx[size_t(i)],
                    line.c_str(),
                    truth.empty() ? "" : ("true " + class_name(meta.classes, truth[size_t(i)])).c_str());
      }
      KUN_CHECK(same, Error, "the reloaded model's outputs differ from the trained model's (", out, ")");
    }
    if (store) {
      store->finish_run(run, "finished");
      std::printf("run %lld recorded in %s (kun runs show %lld); total %.1fs\n", (long long)run, a.runs_db.c_str(),
                  (long long)run, seconds_since(t_start));
    }
  } catch (const std::exception& e) {
    if (store) {
      try {
        store->finish_run(run, "failed", e.what());
      } catch (...) {
      }
    }
    throw;
  }
  return 0;
}

// ---------------- eval / predict / summary ----------------

int eval(const EvalArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  train::ModelMeta meta = require_meta(a.model);
  train::DataConfig d = eval_data(a.data, meta, a.model);
  d.normalize = "none";  // the model's own (fitted at training) preprocessing applies below
  d.train_limit = 0;
  train::PreparedData p = train::load_data(d, 0);
  data::TensorDataset test = p.test.size() > 0 ? p.test : p.train;
  if (a.limit > 0 && a.limit < test.size()) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < a.limit; ++i) idx.push_back(i);
    test = test.subset(idx);
  }
  test = data::TensorDataset(meta.preprocess.apply(test.x()), test.y());
  train::Model m = train::Model::load(a.model);
  auto t0 = std::chrono::steady_clock::now();
  train::Evaluation ev = m.evaluate(test, {a.batch_size, 0});
  std::cout << a.model << " on " << test.size() << " " << (p.test.size() > 0 ? "test" : "") << " examples ("
            << p.description.substr(0, p.description.find(':')) << "): " << ev << "  [" << std::fixed
            << std::setprecision(2) << seconds_since(t0) << "s]" << std::endl;
  return 0;
}

int predict(const PredictArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  train::ModelMeta meta = require_meta(a.model);
  train::Model m = train::Model::load(a.model);
  for (const auto& in : a.inputs) {
    Tensor x = load_input(in, meta);
    auto probs = to_probabilities(m.predict(x), meta.output_activation);
    for (size_t i = 0; i < probs.size(); ++i) {
      std::string label = probs.size() > 1 ? in + "[" + std::to_string(i) + "]" : in;
      std::printf("%s: %s\n", label.c_str(), describe(probs[i], meta.classes, a.top, meta.output_activation).c_str());
    }
  }
  return 0;
}

int summary(const std::string& target) {
  if (has_ext(target, {".toml", ".json"})) {
    train::RunConfig rc = train::parse_config_file(target);
    std::vector<int64_t> shape = train::known_input_shape(rc);
    if (shape.empty()) shape = train::load_data(rc.data, rc.train.seed).input_shape;
    nn::ModulePtr m = train::build_module(rc);
    std::printf("%s (input %s)\n%s", rc.name.c_str(), [&] {
      std::ostringstream os;
      os << shape_of(shape);
      return os.str();
    }().c_str(), nn::summary(*m, shape_of(shape)).c_str());
    return 0;
  }
  train::ModelMeta meta = require_meta(target);
  train::Model m = train::Model::load(target);
  std::printf("%s\n%s", target.c_str(), m.summary(shape_of(meta.input_shape)).c_str());
  if (!meta.classes.empty()) {
    std::printf("Classes: ");
    for (size_t i = 0; i < meta.classes.size(); ++i) std::printf("%s%s", i ? ", " : "", meta.classes[i].c_str());
    std::printf("\n");
  }
  return 0;
}

// ---------------- runs ----------------

int runs(const RunsArgs& a) {
  KUN_CHECK(fs::exists(a.db), IOError, "no run records at ", a.db, " yet (kun train writes them; --runs-db picks another file)");
  train::RunStore store(a.db);
  if (a.action == "list") {
    std::fputs(train::format_run_list(store.list(a.limit)).c_str(), stdout);
  } else if (a.action == "show") {
    train::RunInfo r = store.get(a.ids[0]);
    std::fputs(train::format_run(r, store.epochs(r.id)).c_str(), stdout);
  } else if (a.action == "compare") {
    train::RunInfo r1 = store.get(a.ids[0]), r2 = store.get(a.ids[1]);
    std::fputs(train::format_compare(r1, store.epochs(r1.id), r2, store.epochs(r2.id)).c_str(), stdout);
  } else if (a.action == "plot") {
    train::RunInfo r = store.get(a.ids[0]);
    std::vector<train::EpochRow> eps = store.epochs(r.id);
    KUN_CHECK(!eps.empty(), ValueError, "run ", r.id, " has no epochs recorded (status ", r.status, ")");
    // One panel per quantity: loss first, then each metric; val_ curves dashed in the same panel.
    std::vector<std::string> names;
    for (const auto& e : eps)
      for (const auto& [k, v] : e.metrics) {
        std::string base = k.rfind("val_", 0) == 0 ? k.substr(4) : k;
        if (std::find(names.begin(), names.end(), base) == names.end()) names.push_back(base);
      }
    std::stable_sort(names.begin(), names.end(), [](const std::string& x, const std::string& y) {
      return (x == "loss") > (y == "loss");
    });
    std::vector<train::PlotPanel> panels;
    for (const auto& n : names) {
      train::PlotPanel p;
      p.title = n;
      for (const std::string& key : {n, "val_" + n}) {
        train::PlotSeries s;
        s.name = key;
        s.dashed = key.rfind("val_", 0) == 0;
        for (const auto& e : eps) {
          auto it = e.metrics.find(key);
          if (it == e.metrics.end()) continue;
          s.x.push_back(e.epoch);
          s.y.push_back(it->second);
        }
        if (!s.x.empty()) p.series.push_back(std::move(s));
      }
      panels.push_back(std::move(p));
    }
    std::string out = a.output;
    if (out.empty()) out = (fs::path(a.db).parent_path() / std::to_string(r.id) / "curves.svg").string();
    train::PlotOptions po;
    po.title = "run " + std::to_string(r.id) + ": " + r.name;
    train::write_svg(out, panels, po);
    std::printf("wrote %s (%zu panels, %zu epochs)\n", out.c_str(), panels.size(), eps.size());
  }
  return 0;
}

int version() {
#ifndef KUN_VERSION
#define KUN_VERSION "dev"
#endif
  std::printf("kun %s (C++20; oneDNN, OpenBLAS, OpenMP; SQLite %s; %d threads)\n", KUN_VERSION, sqlite3_libversion(),
              num_threads());
  return 0;
}

}  // namespace kun::cli
