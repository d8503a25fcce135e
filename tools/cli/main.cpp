// kun: the single command-line binary. One verb per job:
//   kun train [CONFIG]      train (no config: the embedded Fashion-MNIST CNN), evaluate, save, reload, predict
//   kun eval MODEL          evaluate a saved model on its test data (or --data)
//   kun predict MODEL IN..  labels and probabilities for images or .npy tensors
//   kun summary CONFIG|MODEL  the layer table
//   kun runs list|show|compare|plot   the run records
//   kun recsys ...          recommender systems (see kun recsys --help)
//   kun onnx ...            ONNX models: info, run, import, export (see kun onnx --help)
//   kun text ...            text classification: train, eval, predict (see kun text --help)
//   kun speech ...          speech: train, eval, transcribe (see kun speech --help)
//   kun serve ...           the model server (see kun serve --help)
//   kun version
// Errors print one line `kun: error: ...` to stderr; usage errors exit 2, others 1.
#include "commands.h"
#include "kun/apps/onnx/onnx.h"
#include "kun/apps/recsys/cli.h"
#include "kun/apps/speech/cli.h"
#include "kun/apps/text/pipeline.h"
#include "kun/serve/cli.h"
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

namespace {

std::string join_args(int argc, char** argv) {
  std::string s = "kun";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    s += " " + (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
  }
  return s;
}

int run(int argc, char** argv) {
  using namespace kun::cli;
  // The field verbs and the server have their own parsers: hand them the rest of the line untouched.
  if (argc >= 2 && std::string(argv[1]) == "recsys") return kun::recsys::cli_main(argc - 1, argv + 1);
  if (argc >= 2 && std::string(argv[1]) == "onnx") return kun::onnx::cli_main(argc - 1, argv + 1);
  if (argc >= 2 && std::string(argv[1]) == "text") return kun::text::cli_main(argc - 1, argv + 1);
  if (argc >= 2 && std::string(argv[1]) == "speech") return kun::speech::cli_main(argc - 1, argv + 1);
  if (argc >= 2 && std::string(argv[1]) == "serve") return kun::serve::cli_main(argc - 1, argv + 1);

  CLI::App app{"kun: train, evaluate and use neural models from the command line.\n"
               "Run `kun train` with no config for the main job: a CNN on Fashion-MNIST.",
               "kun"};
  app.require_subcommand(1);
  app.footer("Each verb documents its flags: kun <verb> --help. Config format: docs/cli.md.\n");

  TrainArgs ta;
  ta.runs_db = default_runs_db();
  auto* train = app.add_subcommand(
      "train", "Train the model a config describes, evaluate it on the test set, save it, reload it and predict a few "
               "test examples. Every run is recorded in the runs database.");
  train->add_option("config", ta.config,
                    "TOML or JSON config (examples/*.toml). Without one: the embedded default, a CNN on Fashion-MNIST "
                    "(examples/fashion_mnist.toml)");
  train->add_option("-o,--output", ta.output, "model file to write (default: [output] model, else runs/<id>/model.kun)");
  train->add_option("--runs-db", ta.runs_db, "SQLite run records (default: $KUN_RUNS_DB or runs/kun.db)");
  train->add_option("--data-path", ta.data_path, "override [data] path");
  train->add_option("--epochs", ta.epochs, "override [train] epochs")->check(CLI::PositiveNumber);
  train->add_option("--batch-size", ta.batch_size, "override [train] batch_size")->check(CLI::PositiveNumber);
  train->add_option("--seed", ta.seed, "override [train] seed")->check(CLI::NonNegativeNumber);
  train->add_option("--train-limit", ta.train_limit, "use only the first N training examples")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--test-limit", ta.test_limit, "use only the first N test examples")->check(CLI::NonNegativeNumber);
  train->add_option("--threads", ta.threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  train->add_option("-v,--verbose", ta.verbose, "0 quiet, 1 progress bar, 2 one line per epoch (default: [train] verbose)")
      ->check(CLI::Range(0, 2));
  train->add_option("--show", ta.show, "test examples the reloaded model predicts at the end (0: none)")
      ->check(CLI::NonNegativeNumber);
  train->add_flag("--no-record", ta.no_record, "do not write a run record");

  EvalArgs ea;
  auto* eval = app.add_subcommand("eval", "Evaluate a saved model: loss and metrics on a test set.");
  eval->add_option("model", ea.model, "model file written by kun train")->required();
  eval->add_option("--data", ea.data,
                   "mnist | fashion_mnist | KIND:PATH | a config (.toml/.json, its [data] section) | a folder (IDX "
                   "files or one subfolder per class) | a .csv file. Default: the data the model was trained on");
  eval->add_option("--batch-size", ea.batch_size, "examples per forward pass")->check(CLI::PositiveNumber);
  eval->add_option("--limit", ea.limit, "evaluate only the first N examples")->check(CLI::NonNegativeNumber);
  eval->add_option("--threads", ea.threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);

  PredictArgs pa;
  auto* predict = app.add_subcommand("predict", "Predict the label and probability of each input.");
  predict->add_option("model", pa.model, "model file written by kun train")->required();
  predict->add_option("inputs", pa.inputs,
                      "images (PNG, JPEG, BMP; resized to the model's input) or .npy tensors (one example, or a batch "
                      "along dim 0)")
      ->required();
  predict->add_option("-k,--top", pa.top, "show the k most probable classes")->check(CLI::PositiveNumber);
  predict->add_option("--threads", pa.threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);

  std::string summary_target;
  auto* summary = app.add_subcommand("summary", "Print the layer table (layer, output shape, parameters).");
  summary->add_option("target", summary_target, "a config (.toml/.json) or a model file")->required();

  RunsArgs ra;
  ra.db = default_runs_db();
  auto* runs = app.add_subcommand("runs", "Read the run records: list, show ID, compare ID ID, plot ID.");
  runs->add_option("--runs-db", ra.db, "SQLite run records (default: $KUN_RUNS_DB or runs/kun.db)");
  runs->require_subcommand(1);
  auto* rl = runs->add_subcommand("list", "table of runs, newest first");
  rl->add_option("-n,--limit", ra.limit, "how many (0: all)")->check(CLI::NonNegativeNumber);
  int64_t id1 = 0, id2 = 0;
  auto* rs = runs->add_subcommand("show", "one run: status, config, artifacts, per-epoch metrics");
  rs->add_option("id", id1, "run id")->required();
  auto* rc = runs->add_subcommand("compare", "two runs side by side: final metrics and config differences");
  rc->add_option("a", id1, "first run id")->required();
  rc->add_option("b", id2, "second run id")->required();
  auto* rp = runs->add_subcommand("plot", "SVG of the loss and metric curves (train and validation)");
  rp->add_option("id", id1, "run id")->required();
  rp->add_option("-o,--output", ra.output, "SVG file (default: runs/<id>/curves.svg next to the database)");

  for (auto* sub : {rl, rs, rc, rp}) sub->fallthrough();  // `kun runs list --runs-db x` works too
  auto* ver = app.add_subcommand("version", "Print the version.");
  app.add_subcommand("recsys", "Recommender systems: train, eval, recommend, similar (kun recsys --help).");
  app.add_subcommand("onnx", "ONNX models: info, run, import to .kun, export to .onnx (kun onnx --help).");
  app.add_subcommand("text", "Text classification and MLM pre-training: train, eval, predict (kun text --help).");
  app.add_subcommand("speech", "Speech: train, eval, transcribe (FSDD digits, CTC digit strings; kun speech --help).");
  app.add_subcommand("serve", "Model server: KServe v2 + TF-Serving REST, batching, metrics (kun serve --help).");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kun: error: %s (see kun --help)\n", e.what());
    return 2;
  }

  if (train->parsed()) {
    ta.command_line = join_args(argc, argv);
    return kun::cli::train(ta);
  }
  if (eval->parsed()) return kun::cli::eval(ea);
  if (predict->parsed()) return kun::cli::predict(pa);
  if (summary->parsed()) return kun::cli::summary(summary_target);
  if (ver->parsed()) return kun::cli::version();
  if (runs->parsed()) {
    if (rl->parsed()) ra.action = "list";
    if (rs->parsed()) ra.action = "show", ra.ids = {id1};
    if (rc->parsed()) ra.action = "compare", ra.ids = {id1, id2};
    if (rp->parsed()) ra.action = "plot", ra.ids = {id1};
    return kun::cli::runs(ra);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    // One line: the first line of the message, newlines in it folded.
    for (char& c : msg)
      if (c == '\n') c = ' ';
    std::fflush(stdout);
    std::fprintf(stderr, "kun: error: %s\n", msg.c_str());
    return 1;
  } catch (...) {
    std::fflush(stdout);
    std::fprintf(stderr, "kun: error: unknown failure\n");
    return 1;
  }
}
