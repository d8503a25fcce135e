#include "kun/apps/text/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

#include "kun/apps/text/classifier.h"
#include "kun/core/error.h"
#include "train/toml_json.h"
#include "kun/core/rng.h"
#include "kun/core/threading.h"
#include "kun/tensor/ops.h"
#include "kun/tensor/safetensors.h"
#include "kun/train/progress.h"

namespace kun::text {

using json = nlohmann::json;
namespace fs = std::filesystem;
using train::toml_to_json;

namespace {

// ---------------- config parsing ----------------

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> d(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = d[0];
    d[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cur = d[j];
      d[j] = std::min({d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return d[b.size()];
}

void check_keys(const json& section, const std::vector<std::string>& allowed, const std::string& source,
                const std::string& name) {
  KUN_CHECK(section.is_object(), ValueError, "config ", source, ": [", name, "] must be a table");
  for (auto it = section.begin(); it != section.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    std::string best;
    size_t bd = 3;
    for (auto& a : allowed)
      if (size_t d = edit_distance(it.key(), a); d < bd) bd = d, best = a;
    std::string accepted;
    for (auto& a : allowed) accepted += (accepted.empty() ? "" : ", ") + a;
    KUN_CHECK(false, ValueError, "config ", source, ": [", name, "] unknown key '", it.key(), "'",
              best.empty() ? "; accepted: " + accepted : "; did you mean '" + best + "'?");
  }
}

template <typename T>
T get(const json& j, const char* key, T def, const std::string& source, const std::string& section) {
  if (!j.contains(key)) return def;
  try {
    return j.at(key).get<T>();
  } catch (const std::exception&) {
    KUN_CHECK(false, ValueError, "config ", source, ": [", section, "] ", key, " has the wrong type (got ",
              j.at(key).dump(), ")");
  }
  return def;
}

PadSide pad_side(const std::string& s, const std::string& source, const char* key) {
  KUN_CHECK(s == "pre" || s == "post", ValueError, "config ", source, ": [tokenizer] ", key,
            " must be \"pre\" or \"post\", got \"", s, "\"");
  return s == "pre" ? PadSide::pre : PadSide::post;
}

const std::vector<std::string>& model_keys(const std::string& kind) {
  static const std::vector<std::string> bag = {"kind", "embedding_dim", "hidden", "outputs", "mask_padding"};
  static const std::vector<std::string> ft = {"kind",  "dim",   "buckets",    "word_ngrams", "min_count",
                                              "lower", "strip_html", "punctuation", "keep_apostrophes"};
  static const std::vector<std::string> lstm = {"kind", "embedding_dim", "hidden", "dense", "dropout"};
  static const std::vector<std::string> tr = {"kind",    "d_model",    "nhead",      "num_layers", "dim_feedforward",
                                              "dropout", "activation", "norm_first", "pooling"};
  if (kind == "bag") return bag;
  if (kind == "fasttext") return ft;
  if (kind == "bilstm") return lstm;
  return tr;
}

}  // namespace

TextJob parse_text_job_text(const std::string& toml_text, const std::string& source) {
  json root;
  try {
    root = toml_to_json(toml::parse(toml_text, source));
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << e.description() << " (line " << e.source().begin.line << ")";
    KUN_CHECK(false, ValueError, "config ", source, ": ", os.str());
  }
  check_keys(root, {"data", "tokenizer", "model", "train", "output"}, source, "top level");
  TextJob job;
  job.source = source;
  const json d = root.value("data", json::object());
  check_keys(d, {"kind", "path", "test_path", "format", "text_column", "label_column", "header", "validation_split",
                 "train_limit", "test_limit"},
             source, "data");
  job.data.kind = get<std::string>(d, "kind", "imdb", source, "data");
  KUN_CHECK(job.data.kind == "imdb" || job.data.kind == "file", ValueError, "config ", source,
            ": [data] kind must be \"imdb\" or \"file\", got \"", job.data.kind, "\"");
  job.data.path = get<std::string>(d, "path", "", source, "data");
  job.data.test_path = get<std::string>(d, "test_path", "", source, "data");
  job.data.file.format = get<std::string>(d, "format", "auto", source, "data");
  job.data.file.text_column = get<std::string>(d, "text_column", "text", source, "data");
  job.data.file.label_column = get<std::string>(d, "label_column", "label", source, "data");
  job.data.file.header = get<bool>(d, "header", true, source, "data");
  job.data.validation_split = get<double>(d, "validation_split", 0.1, source, "data");
  job.data.train_limit = get<int64_t>(d, "train_limit", 0, source, "data");
  job.data.test_limit = get<int64_t>(d, "test_limit", 0, source, "data");
  KUN_CHECK(job.data.validation_split >= 0 && job.data.validation_split < 1, ValueError, "config ", source,
            ": [data] validation_split must be in [0, 1), got ", job.data.validation_split);
  KUN_CHECK(job.data.kind != "file" || !job.data.path.empty(), ValueError, "config ", source,
            ": [data] kind = \"file\" needs path = the training CSV / TSV / JSON-lines file");

  const json t = root.value("tokenizer", json::object());
  check_keys(t, {"num_words", "oov_token", "strip_html", "lower", "filters", "maxlen", "padding", "truncating"}, source,
             "tokenizer");
  job.tokenizer.num_words = get<int64_t>(t, "num_words", 10000, source, "tokenizer");
  job.tokenizer.oov_token = get<std::string>(t, "oov_token", "<OOV>", source, "tokenizer");
  job.tokenizer.strip_html = get<bool>(t, "strip_html", true, source, "tokenizer");
  job.tokenizer.lower = get<bool>(t, "lower", true, source, "tokenizer");
  if (t.contains("filters")) job.tokenizer.filters = get<std::string>(t, "filters", "", source, "tokenizer");
  job.pad.maxlen = get<int64_t>(t, "maxlen", 256, source, "tokenizer");
  KUN_CHECK(job.pad.maxlen > 0, ValueError, "config ", source, ": [tokenizer] maxlen must be > 0");
  KUN_CHECK(job.tokenizer.num_words >= 0, ValueError, "config ", source, ": [tokenizer] num_words must be >= 0");
  job.pad.padding = pad_side(get<std::string>(t, "padding", "post", source, "tokenizer"), source, "padding");
  job.pad.truncating = pad_side(get<std::string>(t, "truncating", "pre", source, "tokenizer"), source, "truncating");
  KUN_CHECK(job.pad.padding == PadSide::post, ValueError, "config ", source,
            ": [tokenizer] padding must be \"post\" (the models find the true length from trailing padding)");

  json m = root.value("model", json::object());
  KUN_CHECK(m.is_object(), ValueError, "config ", source, ": [model] must be a table");
  job.model_kind = get<std::string>(m, "kind", "bag", source, "model");
  KUN_CHECK(job.model_kind == "bag" || job.model_kind == "fasttext" || job.model_kind == "bilstm" ||
                job.model_kind == "transformer",
            ValueError, "config ", source, ": [model] kind must be bag, fasttext, bilstm or transformer, got \"",
            job.model_kind, "\"");
  check_keys(m, model_keys(job.model_kind), source, "model");
  m.erase("kind");
  job.model = m;

  json tr = root.value("train", json::object());
  check_keys(tr, {"task", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "warmup", "schedule", "clip_norm",
                  "seed", "mask_prob", "init", "threads", "refit"},
             source, "train");
  job.task = get<std::string>(tr, "task", "classify", source, "train");
  KUN_CHECK(job.task == "classify" || job.task == "pretrain_mlm", ValueError, "config ", source,
            ": [train] task must be \"classify\" or \"pretrain_mlm\", got \"", job.task, "\"");
  KUN_CHECK(job.task == "classify" || job.model_kind == "transformer", ValueError, "config ", source,
            ": [train] task = \"pretrain_mlm\" needs [model] kind = \"transformer\"");
  job.init = get<std::string>(tr, "init", "", source, "train");
  KUN_CHECK(job.init.empty() || job.model_kind == "transformer", ValueError, "config ", source,
            ": [train] init (a pre-trained checkpoint) is for kind = \"transformer\"");
  job.threads = static_cast<int>(get<int64_t>(tr, "threads", 0, source, "train"));
  tr.erase("task"), tr.erase("init"), tr.erase("threads");
  job.train = tr;

  const json o = root.value("output", json::object());
  check_keys(o, {"path"}, source, "output");
  job.output = get<std::string>(o, "path", "", source, "output");
  return job;
}

TextJob parse_text_job(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KUN_CHECK(f.good(), IOError, "kun text: cannot open config '", path, "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_text_job_text(ss.str(), path);
}

// ---------------- TextModel ----------------

namespace {

nn::ModulePtr make_module(const std::string& kind, const json& c) {
  if (kind == "bag") {
    return std::make_shared<BagOfEmbeddings>(BagOfEmbeddingsOptions{
        .vocab_size = c.value("vocab_size", int64_t{10000}), .embedding_dim = c.value("embedding_dim", int64_t{16}),
        .hidden = c.value("hidden", int64_t{16}), .outputs = c.value("outputs", int64_t{1}),
        .mask_padding = c.value("mask_padding", true), .pad_id = c.value("pad_id", int64_t{0})});
  }
  if (kind == "bilstm") return std::make_shared<BiLSTMClassifier>(c, nn::FromConfig{});
  if (kind == "transformer") return std::make_shared<TextTransformer>(c, nn::FromConfig{});
  KUN_CHECK(false, ValueError, "text model: unknown kind '", kind, "'");
  return nullptr;
}

const char* side_name(PadSide s) { return s == PadSide::pre ? "pre" : "post"; }

Punctuation punctuation_from(const std::string& s) {
  KUN_CHECK(s == "keep" || s == "remove" || s == "split", ValueError,
            "fasttext: punctuation must be keep, remove or split, got \"", s, "\"");
  return s == "keep" ? Punctuation::keep : s == "remove" ? Punctuation::remove : Punctuation::split;
}
const char* punctuation_name(Punctuation p) {
  return p == Punctuation::keep ? "keep" : p == Punctuation::remove ? "remove" : "split";
}

json fasttext_options_json(const FastTextOptions& o) {
  return {{"dim", o.dim},
          {"buckets", o.buckets},
          {"word_ngrams", o.word_ngrams},
          {"min_count", o.min_count},
          {"lr", o.lr},
          {"epochs", o.epochs},
          {"seed", o.seed},
          {"lower", o.normalize.lower},
          {"strip_html", o.normalize.strip_html},
          {"punctuation", punctuation_name(o.normalize.punctuation)},
          {"keep_apostrophes", o.normalize.keep_apostrophes}};
}
FastTextOptions fasttext_options(const json& m, const json& tr) {
  FastTextOptions o;
  o.dim = m.value("dim", int64_t{20});
  o.buckets = m.value("buckets", int64_t{2000000});
  o.word_ngrams = m.value("word_ngrams", int64_t{2});
  o.min_count = m.value("min_count", int64_t{1});
  o.normalize.lower = m.value("lower", true);
  o.normalize.strip_html = m.value("strip_html", true);
  o.normalize.punctuation = punctuation_from(m.value("punctuation", std::string("split")));
  o.normalize.keep_apostrophes = m.value("keep_apostrophes", false);
  o.lr = tr.value("lr", 0.5);
  o.epochs = tr.value("epochs", int64_t{10});
  o.seed = tr.value("seed", uint64_t{1});
  return o;
}

}  // namespace

Tensor TextModel::encode(const std::vector<std::string>& texts) const {
  return pad_sequences(tokenizer.texts_to_sequences(texts), pad);
}

Tensor TextModel::predict_proba(const std::vector<std::string>& texts) const {
  if (kind == "fasttext") {
    KUN_CHECK(fasttext, ValueError, "TextModel: the fastText model has no weights");
    const auto f = fasttext->features(texts);
    const auto C = static_cast<int64_t>(labels.size());
    Tensor out = Tensor::empty({static_cast<int64_t>(texts.size()), C});
    float* o = out.data<float>();
    for (size_t i = 0; i < f.size(); ++i) {
      auto p = fasttext->predict_proba(f[i]);
      std::copy(p.begin(), p.end(), o + static_cast<int64_t>(i) * C);
    }
    return out;
  }
  KUN_CHECK(module, ValueError, "TextModel: no module (kind '", kind, "')");
  KUN_CHECK(task == "classify", ValueError, "TextModel: this is a ", task,
            " checkpoint, not a classifier; fine-tune it with a classify job ([train] init = its path)");
  if (texts.empty()) return zeros({0, static_cast<int64_t>(labels.size())});
  return text::predict_proba(*module, encode(texts));
}

std::vector<int64_t> TextModel::predict(const std::vector<std::string>& texts) const {
  Tensor p = predict_proba(texts);
  std::vector<int64_t> out(static_cast<size_t>(p.size(0)));
  const int64_t C = p.size(1);
  const float* pp = p.data<float>();
  for (int64_t i = 0; i < p.size(0); ++i) out[i] = std::max_element(pp + i * C, pp + (i + 1) * C) - (pp + i * C);
  return out;
}

void TextModel::save(const std::string& path) const {
  json meta = {{"format", "kun.text.TextModel"},
               {"version", 1},
               {"kind", kind},
               {"task", task},
               {"labels", labels},
               {"pad", {{"maxlen", pad.maxlen}, {"padding", side_name(pad.padding)},
                        {"truncating", side_name(pad.truncating)}, {"value", pad.value}}},
               {"info", info}};
  std::map<std::string, std::string> md;
  TensorDict td;
  if (kind == "fasttext") {
    KUN_CHECK(fasttext && fasttext->num_classes() > 0, ValueError, "TextModel::save: the fastText model is not trained");
    meta["fasttext"] = fasttext_options_json(fasttext->options());
    meta["num_classes"] = fasttext->num_classes();
    md["kun.text.vocabulary"] = json(fasttext->vocabulary()).dump();
    auto w = fasttext->snapshot();
    const int64_t d = fasttext->options().dim;
    td.insert("fasttext.input", from_vector(w.input, {static_cast<int64_t>(w.input.size()) / d, d}));
    td.insert("fasttext.output", from_vector(w.output, {static_cast<int64_t>(w.output.size()) / d, d}));
  } else {
    KUN_CHECK(module, ValueError, "TextModel::save: no module");
    meta["module"] = module->config();
    md["kun.text.tokenizer"] = tokenizer.to_json();
    for (auto& [name, t] : module->state_dict()) td.insert(name, t);
  }
  md["kun.text"] = meta.dump();
  if (auto parent = fs::path(path).parent_path(); !parent.empty()) fs::create_directories(parent);
  safetensors::save(path, td, md);
}

TextModel TextModel::load(const std::string& path) {
  KUN_CHECK(fs::exists(path), IOError, "kun text: model file '", path, "' does not exist (train one with kun text train)");
  safetensors::File f = safetensors::load(path);
  auto it = f.metadata.find("kun.text");
  KUN_CHECK(it != f.metadata.end(), IOError, "kun text: '", path,
            "' is a tensor file but not a kun text model (no kun.text metadata)");
  json meta;
  try {
    meta = json::parse(it->second);
  } catch (const std::exception& e) {
    KUN_CHECK(false, IOError, "kun text: '", path, "': corrupt kun.text metadata (", e.what(), ")");
  }
  KUN_CHECK(meta.value("format", std::string()) == "kun.text.TextModel" && meta.value("version", 0) == 1, IOError,
            "kun text: '", path, "': unsupported text model format/version");
  TextModel m;
  try {
    m.kind = meta.at("kind").get<std::string>();
    m.task = meta.value("task", std::string("classify"));
    m.labels = meta.at("labels").get<std::vector<std::string>>();
    const json& p = meta.at("pad");
    m.pad.maxlen = p.at("maxlen").get<int64_t>();
    m.pad.padding = p.at("padding").get<std::string>() == "pre" ? PadSide::pre : PadSide::post;
    m.pad.truncating = p.at("truncating").get<std::string>() == "pre" ? PadSide::pre : PadSide::post;
    m.pad.value = p.value("value", int64_t{0});
    m.info = meta.value("info", json::object());
    if (m.kind == "fasttext") {
      FastTextOptions o = fasttext_options(meta.at("fasttext"), meta.at("fasttext"));
      m.fasttext = std::make_shared<FastText>(o);
      auto vit = f.metadata.find("kun.text.vocabulary");
      KUN_CHECK(vit != f.metadata.end(), IOError, "kun text: '", path, "': the fastText vocabulary is missing");
      const auto vocab = json::parse(vit->second).get<std::vector<std::string>>();
      const Tensor in = f.tensors.at("fasttext.input").contiguous(), out = f.tensors.at("fasttext.output").contiguous();
      FastText::Weights w;
      w.input.assign(in.data<float>(), in.data<float>() + in.numel());
      w.output.assign(out.data<float>(), out.data<float>() + out.numel());
      m.fasttext->set_state(vocab, w, meta.at("num_classes").get<int64_t>());
    } else {
      auto tit = f.metadata.find("kun.text.tokenizer");
      KUN_CHECK(tit != f.metadata.end(), IOError, "kun text: '", path, "': the tokenizer is missing");
      m.tokenizer = Tokenizer::from_json(tit->second);
      m.module = make_module(m.kind, meta.at("module"));
      m.module->load_state_dict(f.tensors, true);
      m.module->eval();
    }
  } catch (const IOError&) {
    throw;
  } catch (const std::exception& e) {
    KUN_CHECK(false, IOError, "kun text: '", path, "' is not a usable text model: ", e.what());
  }
  return m;
}

// ---------------- data ----------------

namespace {

struct Splits {
  TextDataset train, val, test;
};

TextDataset take(const TextDataset& d, const std::vector<int64_t>& idx) {
  TextDataset out;
  out.label_names = d.label_names;
  for (auto i : idx) out.texts.push_back(d.texts[i]), out.labels.push_back(d.labels[i]);
  return out;
}

// Maps a data set's label names onto `names` (the model's); an unknown name is an error.
void remap_labels(TextDataset& d, const std::vector<std::string>& names, const std::string& what) {
  if (d.label_names == names) return;
  std::vector<int64_t> map(d.label_names.size());
  for (size_t i = 0; i < d.label_names.size(); ++i) {
    auto it = std::find(names.begin(), names.end(), d.label_names[i]);
    std::string known;
    for (auto& n : names) known += (known.empty() ? "" : ", ") + n;
    KUN_CHECK(it != names.end(), ValueError, what, ": label '", d.label_names[i],
              "' is not one of the model's labels (", known, ")");
    map[i] = it - names.begin();
  }
  for (auto& l : d.labels) l = map[static_cast<size_t>(l)];
  d.label_names = names;
}

Splits load_splits(const TextDataConfig& c, uint64_t seed) {
  Splits s;
  TextDataset train;
  if (c.kind == "imdb") {
    ImdbData d = load_imdb(c.path);
    train = std::move(d.train);
    s.test = std::move(d.test);
  } else {
    train = read_text_file(c.path, c.file);
    if (!c.test_path.empty()) {
      s.test = read_text_file(c.test_path, c.file);
      remap_labels(s.test, train.label_names, "test file " + c.test_path);
    }
  }
  KUN_CHECK(train.size() > 0, ValueError, "kun text: the training data is empty");
  // Seeded shuffle: IMDB's archive is sorted by label.
  Generator g(seed);
  Tensor perm = randperm(static_cast<int64_t>(train.size()), &g);
  std::vector<int64_t> order(perm.data<int64_t>(), perm.data<int64_t>() + perm.numel());
  if (c.train_limit > 0 && c.train_limit < static_cast<int64_t>(order.size())) order.resize(c.train_limit);
  const auto n = static_cast<int64_t>(order.size());
  const auto n_val = static_cast<int64_t>(std::floor(c.validation_split * static_cast<double>(n)));
  s.train = take(train, std::vector<int64_t>(order.begin(), order.end() - n_val));
  s.val = take(train, std::vector<int64_t>(order.end() - n_val, order.end()));
  if (c.test_limit > 0 && c.test_limit < static_cast<int64_t>(s.test.size())) {
    Generator gt(seed + 1);
    Tensor pt = randperm(static_cast<int64_t>(s.test.size()), &gt);
    s.test = take(s.test, std::vector<int64_t>(pt.data<int64_t>(), pt.data<int64_t>() + c.test_limit));
  }
  s.test.label_names = s.test.label_names.empty() ? train.label_names : s.test.label_names;
  return s;
}

Tensor labels_tensor(const std::vector<int64_t>& y) { return from_vector(y, {static_cast<int64_t>(y.size())}); }

json data_json(const TextDataConfig& c) {
  return {{"kind", c.kind}, {"path", c.path}, {"test_path", c.test_path}, {"format", c.file.format},
          {"text_column", c.file.text_column}, {"label_column", c.file.label_column}, {"header", c.file.header}};
}

TrainLoopOptions loop_options(const json& tr, FILE* out, int verbose) {
  TrainLoopOptions o;
  o.epochs = tr.value("epochs", 3);
  o.batch_size = tr.value("batch_size", int64_t{32});
  o.optimizer = tr.value("optimizer", std::string("adam"));
  o.lr = tr.value("lr", 1e-3);
  o.weight_decay = tr.value("weight_decay", 0.0);
  o.warmup = tr.value("warmup", 0.0);
  o.schedule = tr.value("schedule", std::string("constant"));
  o.clip_norm = tr.value("clip_norm", 0.0);
  o.seed = tr.value("seed", uint64_t{1});
  o.mask_prob = tr.value("mask_prob", 0.15);
  o.out = out;
  o.verbose = verbose;
  return o;
}

}  // namespace

TextDataset load_eval_data(const std::string& path, const TextFileOptions& file) {
  if (path.empty() || fs::is_directory(path) || path.ends_with(".tar.gz")) return load_imdb(path).test;
  KUN_CHECK(fs::exists(path), IOError, "kun text: data '", path, "' does not exist");
  return read_text_file(path, file);
}

TrainReport run_text_job(const TextJob& job, FILE* out, int verbose) {
  using Clock = std::chrono::steady_clock;
  if (job.threads > 0) set_num_threads(job.threads);
  const uint64_t seed = job.train.value("seed", uint64_t{1});
  const auto t0 = Clock::now();
  Splits s = load_splits(job.data, seed);
  if (job.task == "pretrain_mlm") s.test = TextDataset{};  // pre-training never touches the test split
  std::fprintf(out, "data: %zu train / %zu validation / %zu test texts, labels:", s.train.size(), s.val.size(),
               s.test.size());
  for (auto& l : s.train.label_names) std::fprintf(out, " %s", l.c_str());
  std::fprintf(out, " (%.1f s)\n", std::chrono::duration<double>(Clock::now() - t0).count());
  std::fflush(out);

  TextModel model;
  model.kind = job.model_kind;
  model.task = job.task;
  model.labels = s.train.label_names;
  model.pad = job.pad;
  const auto C = static_cast<int64_t>(model.labels.size());
  KUN_CHECK(C >= 2, ValueError, "kun text: need at least two labels, the training data has ", C);
  TrainReport rep;
  rep.output = job.output.empty() ? "text_" + job.model_kind + ".kun" : job.output;
  json info = {{"data", data_json(job.data)}, {"config", job.source}};

  if (job.model_kind == "fasttext") {
    FastTextOptions o = fasttext_options(job.model, job.train);
    const bool refit = job.train.value("refit", true);
    auto ft = std::make_shared<FastText>(o);
    ft->build_vocab(s.train.texts);
    const auto x_tr = ft->features(s.train.texts), x_va = ft->features(s.val.texts);
    train::ProgressBar bar({.out = out, .verbose = verbose});
    FastText::Weights best;
    double best_acc = -1;
    int best_epoch = 0;
    const auto t1 = Clock::now();
    const auto n_tr = static_cast<int64_t>(x_tr.size());
    int64_t shown = 0;
    auto on_step = [&](int64_t e, int64_t done) {
      if (e != shown) bar.begin_epoch(static_cast<int>(e), static_cast<int>(o.epochs), n_tr), shown = e;
      bar.update(done, {});
    };
    ft->fit(x_tr, s.train.labels, C, [&](int64_t e) {
      train::Figures fig = {{"accuracy", ft->accuracy(x_tr, s.train.labels)}};
      if (!x_va.empty()) {
        const double va = ft->accuracy(x_va, s.val.labels);
        fig.push_back({"val_accuracy", va});
        if (va > best_acc) best_acc = va, best_epoch = static_cast<int>(e), best = ft->snapshot();
      }
      bar.end_epoch(fig);
      return true;
    }, on_step);
    if (x_va.empty()) {
      best_epoch = static_cast<int>(o.epochs);
    } else if (refit) {
      // The same schedule on train + validation, stopped at the chosen epoch.
      std::fprintf(out, "refit on train + validation up to epoch %d\n", best_epoch);
      TextDataset all = s.train;
      all.texts.insert(all.texts.end(), s.val.texts.begin(), s.val.texts.end());
      all.labels.insert(all.labels.end(), s.val.labels.begin(), s.val.labels.end());
      auto full = std::make_shared<FastText>(o);
      full->build_vocab(all.texts);
      const auto x_all = full->features(all.texts);
      shown = 0;
      const auto n_all = static_cast<int64_t>(x_all.size());
      full->fit(x_all, all.labels, C, [&](int64_t e) {
        bar.end_epoch({});
        return e < best_epoch;
      }, [&](int64_t e, int64_t done) {
        if (e != shown) bar.begin_epoch(static_cast<int>(e), best_epoch, n_all), shown = e;
        bar.update(done, {});
      });
      ft = full;
    } else {
      ft->restore(best);
    }
    rep.train_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
    rep.best_epoch = best_epoch;
    rep.best_val_accuracy = best_acc;
    model.fasttext = ft;
  } else {
    // Word tokenizer: from the checkpoint when fine-tuning, else fitted on the training split.
    nn::ModulePtr init_module;
    if (!job.init.empty()) {
      TextModel ck = TextModel::load(job.init);
      KUN_CHECK(ck.kind == "transformer", ValueError, "kun text: init '", job.init, "' is a ", ck.kind,
                " model, not a transformer checkpoint");
      model.tokenizer = ck.tokenizer;
      model.pad = ck.pad;
      init_module = ck.module;
      std::fprintf(out, "initialized from %s (its tokenizer: %lld ids, maxlen %lld)\n", job.init.c_str(),
                   static_cast<long long>(model.tokenizer.vocab_size()), static_cast<long long>(model.pad.maxlen));
    } else {
      model.tokenizer = Tokenizer(job.tokenizer);
      // MLM pre-training reads every training text (validation included: its labels are unused).
      if (job.task == "pretrain_mlm") {
        model.tokenizer.fit_on_texts(s.train.texts);
        model.tokenizer.fit_on_texts(s.val.texts);
      } else {
        model.tokenizer.fit_on_texts(s.train.texts);
      }
    }
    const int64_t V = model.tokenizer.vocab_size();
    json cfg = job.model;
    if (job.model_kind == "bag") {
      cfg["vocab_size"] = V;
      if (!cfg.contains("outputs")) cfg["outputs"] = C == 2 ? 1 : C;
      KUN_CHECK(cfg["outputs"].get<int64_t>() == (C == 2 ? 1 : C) || cfg["outputs"].get<int64_t>() == C, ValueError,
                "config ", job.source, ": [model] outputs must be ", C, " (or 1 for two labels)");
    } else if (job.model_kind == "bilstm") {
      cfg["vocab_size"] = V;
      cfg["num_classes"] = C;
    } else {
      if (init_module) {
        json base = init_module->config();
        for (auto it = cfg.begin(); it != cfg.end(); ++it) base[it.key()] = it.value();
        cfg = base;
      } else {
        cfg["vocab_size"] = V + 1;  // + [MASK]
        cfg["max_len"] = model.pad.maxlen;
      }
      cfg["num_classes"] = C;
    }
    model.module = make_module(job.model_kind, cfg);
    if (init_module) {
      // Everything but the classification head comes from the checkpoint.
      TensorDict sd;
      for (auto& [name, t] : init_module->state_dict())
        if (!name.starts_with("head.")) sd.insert(name, t);
      model.module->load_state_dict(sd, false);
    }
    std::fprintf(out, "model %s: %lld parameters, vocabulary %lld, maxlen %lld\n", job.model_kind.c_str(),
                 static_cast<long long>(model.module->parameter_count()), static_cast<long long>(V),
                 static_cast<long long>(model.pad.maxlen));
    std::fflush(out);
    const auto t1 = Clock::now();
    Tensor x_tr = model.encode(s.train.texts), x_va = model.encode(s.val.texts);
    std::fprintf(out, "encoded in %.1f s\n", std::chrono::duration<double>(Clock::now() - t1).count());
    TrainLoopOptions lo = loop_options(job.train, out, verbose);
    const auto t2 = Clock::now();
    if (job.task == "pretrain_mlm") {
      auto* tm = dynamic_cast<TextTransformer*>(model.module.get());
      Tensor x_all = concat({x_tr, x_va}, 0).contiguous();
      auto losses = pretrain_mlm(*tm, x_all, lo);
      info["mlm_loss"] = losses;
    } else {
      FitResult fr = fit_classifier(*model.module, x_tr, labels_tensor(s.train.labels), x_va,
                                    labels_tensor(s.val.labels), lo);
      rep.best_epoch = fr.best_epoch;
      rep.best_val_accuracy = fr.best_val_accuracy;
      info["val_accuracy"] = fr.val_accuracy;
      info["train_loss"] = fr.train_loss;
    }
    rep.train_seconds = std::chrono::duration<double>(Clock::now() - t2).count();
  }
  info["best_epoch"] = rep.best_epoch;
  info["best_val_accuracy"] = rep.best_val_accuracy;
  info["train_seconds"] = rep.train_seconds;
  if (job.task == "classify" && s.test.size() > 0) {
    const auto pred = model.predict(s.test.texts);
    ClassificationReport cr = classification_report(s.test.labels, pred, model.labels);
    rep.test_accuracy = cr.accuracy;
    info["test_accuracy"] = cr.accuracy;
    std::fprintf(out, "best epoch %d (val_accuracy %.4f), training %.1f s\ntest split:\n%s", rep.best_epoch,
                 rep.best_val_accuracy, rep.train_seconds, cr.str().c_str());
  }
  model.info = info;
  model.save(rep.output);
  std::fprintf(out, "saved %s\n", rep.output.c_str());
  std::fflush(out);
  return rep;
}

}  // namespace kun::text
