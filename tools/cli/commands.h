// The kun binary's verbs. main.cpp parses the command line (CLI11) and calls one of these; each
// returns the exit code and lets errors escape as exceptions (main prints one line for them).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kun::cli {

// Where run records go: --runs-db, else $KUN_RUNS_DB, else runs/kun.db.
std::string default_runs_db();

struct TrainArgs {
  std::string config;  // "" = the embedded default (Fashion-MNIST CNN)
  std::string output;  // model path; "" = [output] model or runs/<id>/model.kun
  std::string runs_db;
  std::string data_path;  // overrides [data] path
  int epochs = 0;         // 0 = the config's
  int64_t batch_size = 0;
  int64_t seed = -1;
  int64_t train_limit = -1, test_limit = -1;
  int threads = 0;
  int verbose = -1;
  int show = 5;  // test images predicted by the reloaded model
  bool no_record = false;
  std::string command_line;
};
int train(const TrainArgs& a);

struct EvalArgs {
  std::string model;
  std::string data;  // "" = the data the model was trained on (from its metadata)
  int64_t batch_size = 256;
  int64_t limit = 0;
  int threads = 0;
};
int eval(const EvalArgs& a);

struct PredictArgs {
  std::string model;
  std::vector<std::string> inputs;  // images or .npy files
  int top = 1;
  int threads = 0;
};
int predict(const PredictArgs& a);

int summary(const std::string& config_or_model);

struct RunsArgs {
  std::string db;
  std::string action;  // list | show | compare | plot
  std::vector<int64_t> ids;
  int limit = 20;
  std::string output;  // plot: the SVG path
};
int runs(const RunsArgs& a);

int version();

}  // namespace kun::cli
