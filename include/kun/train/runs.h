// Run records: every `kun train` writes what it did to a SQLite database (default runs/kun.db) —
// the config, per-epoch metrics and timings, the test results, the artifacts' paths, and how it
// ended (running / finished / failed with the error). `kun runs list|show|compare|plot` read it.
//
//   RunStore db("runs/kun.db");
//   int64_t id = db.begin_run({.name = "mnist_cnn", .config = rc.raw.dump()});
//   fit(..., {.callbacks = {std::make_shared<RunDbRecorder>(db, id)}});
//   db.finish_run(id, "finished");
//
// SQLite stays out of this header (pimpl).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kun/train/callbacks.h"

namespace kun::train {

struct RunSpec {
  std::string name;
  std::string config;       // the config as JSON text
  std::string config_path;  // "" for the embedded default
  std::string command;      // the command line
};

struct EpochRow {
  int epoch = 0;  // 1-based
  double seconds = 0;
  std::map<std::string, double> metrics;  // "loss", "accuracy", "val_loss", ...
};

struct RunInfo {
  int64_t id = 0;
  std::string name, status, error, config, config_path, command;
  std::string started_at, finished_at;  // UTC, "2026-11-23 16:12:17"
  double seconds = 0;                   // wall time so far / in total
  int epochs = 0;                       // epochs recorded
  std::map<std::string, double> results;          // test evaluation ("test_loss", "test_accuracy")
  std::vector<std::pair<std::string, std::string>> artifacts;  // (kind, path)
};

class RunStore {
 public:
  // Opens (creating the file, its folder and the schema as needed). IOError naming the file on failure.
  explicit RunStore(const std::string& path);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  int64_t begin_run(const RunSpec& start);
  void log_epoch(int64_t run, const EpochRow& e);
  void set_results(int64_t run, const std::map<std::string, double>& results);
  void add_artifact(int64_t run, const std::string& kind, const std::string& path);
  // status: "finished" or "failed" (with the error message).
  void finish_run(int64_t run, const std::string& status, const std::string& error = "");

  // Newest first; limit 0 = all.
  std::vector<RunInfo> list(int limit = 0) const;
  // ValueError ("no run 7 in runs/kun.db") when absent.
  RunInfo get(int64_t id) const;
  std::vector<EpochRow> epochs(int64_t id) const;
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

// Records into the store through the train layer's RunRecorder hook (callbacks.h): each epoch's
// logs plus "lr", and the epoch's wall time.
class RunDbRecorder : public RunRecorder {
 public:
  RunDbRecorder(RunStore& store, int64_t run) : store_(store), run_(run) {}

 protected:
  void record_epoch(const EpochRecord& e) override;

 private:
  RunStore& store_;
  int64_t run_;
};

// Text reports for the CLI.
std::string format_run_list(const std::vector<RunInfo>& runs);
std::string format_run(const RunInfo& run, const std::vector<EpochRow>& epochs);
// Final metrics side by side, then the config keys that differ.
std::string format_compare(const RunInfo& a, const std::vector<EpochRow>& ea, const RunInfo& b,
                           const std::vector<EpochRow>& eb);

}  // namespace kun::train
