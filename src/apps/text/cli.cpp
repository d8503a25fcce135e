// `kun text train | eval | predict`: a thin command line over kun/apps/text/pipeline.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "kun/apps/text/classifier.h"
#include "kun/apps/text/pipeline.h"
#include "kun/apps/text/unicode.h"
#include "kun/core/error.h"
#include "kun/core/threading.h"

namespace kun::text {

namespace {

// A text shown on one line: control characters as spaces, cut at `width` code points.
std::string one_line(const std::string& s, size_t width) {
  std::string out;
  size_t cps = 0;
  for (size_t i = 0; i < s.size() && cps < width; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) ++cps;
    out += c < 0x20 ? ' ' : static_cast<char>(c);
  }
  if (out.size() < s.size()) {
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  return out;
}

std::string json_escape(const std::string& s) { return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"kun text: text classification (bag of embeddings, fastText, BiLSTM, Transformer) and MLM pre-training",
               "text"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (0: all cores)");

  std::string config, output;
  int verbose = 1;
  auto* train = app.add_subcommand("train", "train the model a TOML config describes, score its test split, save it");
  train->add_option("config", config, "TOML config (examples/text_imdb_*.toml; format in docs/text.md)")->required();
  train->add_option("-o,--output", output, "model file (default: [output] path or text_<kind>.kun)");
  train->add_option("-v,--verbose", verbose, "0 silent, 1 progress bar, 2 one line per epoch");

  std::string model_path = "text_model.kun", data_path, format = "auto", text_col = "text", label_col = "label";
  int64_t limit = 0;
  auto* eval = app.add_subcommand("eval", "accuracy, precision, recall, F1 and the confusion matrix on labelled texts");
  eval->add_option("-m,--model", model_path, "model file from `kun text train`");
  eval->add_option("-d,--data", data_path,
                   "IMDB folder / aclImdb_labeled.tar.gz (its test split) or a CSV / TSV / JSON-lines file "
                   "(default: the training config's data, test split)");
  eval->add_option("--format", format, "file format: auto (from the extension), csv, tsv, jsonl");
  eval->add_option("--text-column", text_col, "text column (CSV/TSV header name, JSON key)");
  eval->add_option("--label-column", label_col, "label column");
  eval->add_option("--limit", limit, "score only the first N texts (0: all)");

  std::vector<std::string> texts;
  std::string file;
  bool as_json = false;
  auto* pred = app.add_subcommand("predict", "label and probability for each text");
  pred->add_option("-m,--model", model_path, "model file from `kun text train`");
  pred->add_option("texts", texts, "texts to classify (quote each one)");
  pred->add_option("-f,--file", file, "also classify each line of this file ('-' = standard input)");
  pred->add_flag("--json", as_json, "one JSON object per text: label, probability, all probabilities");

  for (auto* sub : {train, eval, pred}) sub->fallthrough();  // `kun text train X --threads 1` works too
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (threads > 0) set_num_threads(threads);
    if (train->parsed()) {
      TextJob job = parse_text_job(config);
      if (!output.empty()) job.output = output;
      if (threads > 0) job.threads = threads;
      TrainReport r = run_text_job(job, stdout, verbose);
      (void)r;
      return 0;
    }
    TextModel m = TextModel::load(model_path);
    if (eval->parsed()) {
      TextDataset d;
      TextFileOptions fo{.format = format, .text_column = text_col, .label_column = label_col};
      if (data_path.empty()) {
        const auto& dj = m.info.value("data", nlohmann::json::object());
        const std::string kind = dj.value("kind", std::string("imdb"));
        if (kind == "imdb") {
          d = load_eval_data(dj.value("path", std::string()));
        } else {
          const std::string tp = dj.value("test_path", std::string());
          KUN_CHECK(!tp.empty(), ValueError, "kun text eval: the model's training data had no test file; pass --data");
          fo = {.format = dj.value("format", std::string("auto")), .text_column = dj.value("text_column", text_col),
                .label_column = dj.value("label_column", label_col), .header = dj.value("header", true)};
          d = read_text_file(tp, fo);
        }
      } else {
        d = load_eval_data(data_path, fo);
      }
      KUN_CHECK(d.size() > 0, ValueError, "kun text eval: the data holds no texts");
      // Map the data's label names onto the model's.
      std::vector<int64_t> map(d.label_names.size());
      for (size_t i = 0; i < d.label_names.size(); ++i) {
        auto it = std::find(m.labels.begin(), m.labels.end(), d.label_names[i]);
        KUN_CHECK(it != m.labels.end(), ValueError, "kun text eval: label '", d.label_names[i],
                  "' of the data is not one of the model's labels");
        map[i] = it - m.labels.begin();
      }
      if (limit > 0 && static_cast<size_t>(limit) < d.size()) d.texts.resize(limit), d.labels.resize(limit);
      std::vector<int64_t> truth;
      for (auto l : d.labels) truth.push_back(map[static_cast<size_t>(l)]);
      const auto predicted = m.predict(d.texts);
      std::cout << classification_report(truth, predicted, m.labels).str();
      return 0;
    }
    if (pred->parsed()) {
      if (!file.empty()) {
        std::ifstream f;
        std::istream* in = &std::cin;
        if (file != "-") {
          f.open(file, std::ios::binary);
          KUN_CHECK(f.good(), IOError, "kun text predict: cannot open '", file, "'");
          in = &f;
        }
        for (std::string line; std::getline(*in, line);) {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          texts.push_back(line);
        }
      }
      KUN_CHECK(!texts.empty(), ValueError, "kun text predict: give texts as arguments or --file FILE");
      const Tensor p = m.predict_proba(texts);
      const int64_t C = p.size(1);
      const float* pp = p.data<float>();
      for (size_t i = 0; i < texts.size(); ++i) {
        const float* row = pp + static_cast<int64_t>(i) * C;
        const int64_t best = std::max_element(row, row + C) - row;
        // Texts are shown as valid UTF-8 (invalid bytes -> U+FFFD), like the model saw them.
        const std::string shown = sanitize_utf8(texts[i]);
        if (as_json) {
          std::cout << "{\"label\": " << json_escape(m.labels[best]) << ", \"probability\": " << row[best]
                    << ", \"probabilities\": {";
          for (int64_t c = 0; c < C; ++c)
            std::cout << (c ? ", " : "") << json_escape(m.labels[c]) << ": " << row[c];
          std::cout << "}, \"text\": " << json_escape(shown) << "}\n";
        } else {
          std::printf("%s\t%.4f\t%s\n", m.labels[best].c_str(), row[best], one_line(shown, 70).c_str());
        }
      }
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kun text: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace kun::text
