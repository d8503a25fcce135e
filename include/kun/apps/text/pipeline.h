// The text pipeline behind `kun text train / eval / predict`: a TOML job (data, tokenizer, model,
// training) -> a trained TextModel saved in ONE file with its tokenizer, padding and label names,
// so predict reproduces the training preprocessing exactly.
//
// Model kinds: "bag" (bag of embeddings), "fasttext" (hashed n-grams, sparse SGD), "bilstm",
// "transformer". Tasks: "classify" and "pretrain_mlm" (transformer only: a checkpoint that a later
// classify job names as [train] init; the checkpoint's tokenizer is then reused).
//
// Defined behaviour (tests/apps/text/test_pipeline.cpp): invalid UTF-8 -> U+FFFD; an empty text or
// one of only unknown words -> a prediction from the model's all-padding / OOV input (never an
// error, never NaN); a text longer than maxlen -> truncated as [tokenizer] truncating says.
// The format of the config is documented in docs/text.md.
#pragma once
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kun/apps/text/bag.h"
#include "kun/apps/text/text_data.h"
#include "kun/apps/text/tokenizer.h"
#include "kun/nn/module.h"

namespace kun::text {

struct TextDataConfig {
  std::string kind = "imdb";     // "imdb" (folder / tar.gz layout) | "file" (CSV / TSV / JSON lines)
  std::string path;              // imdb: "" = $KUN_IMDB or ../shared/data/imdb; file: the training file
  std::string test_path;         // file: the test file ("" = none)
  TextFileOptions file;          // format, text_column, label_column, header
  double validation_split = 0.1;  // random fraction of train that chooses the epoch
  int64_t train_limit = 0;       // first N after shuffling (0: all)
  int64_t test_limit = 0;
};

struct TextJob {
  std::string source;            // the config file
  TextDataConfig data;
  TokenizerOptions tokenizer{.num_words = 10000, .oov_token = "<OOV>", .strip_html = true};
  PadOptions pad{.maxlen = 256, .padding = PadSide::post, .truncating = PadSide::pre};
  std::string model_kind = "bag";  // bag | fasttext | bilstm | transformer
  nlohmann::json model = nlohmann::json::object();  // the kind's options ([model] minus kind)
  std::string task = "classify";   // classify | pretrain_mlm
  nlohmann::json train = nlohmann::json::object();  // [train]
  std::string init;                // pre-trained checkpoint to start from (transformer)
  std::string output;              // model file
  int threads = 0;
};

// Parses and checks a job file: unknown sections / keys are ValueErrors naming the file, the
// section and the key.
TextJob parse_text_job(const std::string& path);
TextJob parse_text_job_text(const std::string& toml_text, const std::string& source);

class TextModel {
 public:
  std::string kind;                   // bag | fasttext | bilstm | transformer
  std::string task = "classify";
  std::vector<std::string> labels;    // class names
  Tokenizer tokenizer;                // not used by fasttext (it normalizes and hashes itself)
  PadOptions pad;
  nn::ModulePtr module;               // bag / bilstm / transformer
  std::shared_ptr<FastText> fasttext;
  nlohmann::json info = nlohmann::json::object();  // training facts: data, epochs, accuracies

  // (N, maxlen) int64 ids, post-padded as at training.
  Tensor encode(const std::vector<std::string>& texts) const;
  // (N, C) class probabilities.
  Tensor predict_proba(const std::vector<std::string>& texts) const;
  std::vector<int64_t> predict(const std::vector<std::string>& texts) const;

  // One safetensors file: weights + metadata (kind, labels, tokenizer, padding, module config).
  void save(const std::string& path) const;
  static TextModel load(const std::string& path);
};

struct TrainReport {
  double test_accuracy = -1;  // -1: no test data
  int best_epoch = 0;
  double best_val_accuracy = 0;
  double train_seconds = 0;
  std::string output;
};
// Runs a job: loads the data, fits the tokenizer on the training split, trains, scores the test
// split once (classify), saves the model. Progress goes to `out`.
TrainReport run_text_job(const TextJob& job, FILE* out = stdout, int verbose = 1);

// Loads labelled texts for eval: a folder with the IMDB layout (its test split) or a CSV / TSV /
// JSON-lines file.
TextDataset load_eval_data(const std::string& path, const TextFileOptions& file = {});

// `kun text ...`; argv[0] is "text". Returns the exit code; errors print one line.
int cli_main(int argc, char** argv);

}  // namespace kun::text
