// Callbacks hook into Model::fit at epoch and batch boundaries.
//
//   m.fit(train, {.epochs = 30, .validation_split = 0.1,
//                 .callbacks = {std::make_shared<train::EarlyStopping>(
//                                   train::EarlyStoppingOptions{.patience = 3, .restore_best_weights = true}),
//                               std::make_shared<train::ModelCheckpoint>(
//                                   train::ModelCheckpointOptions{.path = "best.kun", .save_best_only = true})}});
//
// Epoch numbers passed to the hooks are 0-based and absolute (a resumed fit with initial_epoch = 2
// starts at epoch 2); files and progress lines show them 1-based, like Keras.
#pragma once
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kun/optim/schedule.h"
#include "kun/tensor/tensor_dict.h"

namespace kun::train {

class Model;
using Logs = std::map<std::string, double>;  // "loss", metric names, "val_..." figures

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model&) {}
  virtual void on_epoch_begin(Model&, int /*epoch*/) {}
  virtual void on_batch_end(Model&, int64_t /*step*/, const Logs&) {}  // step 1-based, running figures
  virtual void on_epoch_end(Model&, int /*epoch*/, const Logs&) {}
  virtual void on_train_end(Model&, const Logs&) {}  // the last epoch's logs (empty if none ran)
};

// "min" or "max" for a monitored figure: "auto" picks max for accuracy-like names (accuracy, auc,
// precision, recall, f1, with or without "val_"), min otherwise (losses, errors).
std::string resolve_mode(const std::string& mode, const std::string& monitor, const char* who);
// The figure `monitor` from logs; ValueError listing the available names when absent.
double monitored_value(const Logs& logs, const std::string& monitor, const char* who);

// Stops when `monitor` has not improved by min_delta for `patience` epochs; optionally restores
// the best weights.
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  int patience = 0;
  double min_delta = 0.0;
  std::string mode = "auto";  // "min", "max", or auto (max for accuracy-like names)
  bool restore_best_weights = false;  // at the end of training (stopped early or not), load the best epoch's weights
  double baseline = std::numeric_limits<double>::quiet_NaN();  // if set: stop unless the figure beats it
};
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions opt = {});
  void on_train_begin(Model&) override;
  void on_epoch_end(Model& m, int epoch, const Logs& logs) override;
  void on_train_end(Model& m, const Logs&) override;
  int stopped_epoch() const { return stopped_epoch_; }  // -1 if training ran to the end
  int best_epoch() const { return best_epoch_; }        // -1 before the first epoch
  double best() const { return best_; }

 private:
  bool improved(double v) const;
  EarlyStoppingOptions opt_;
  std::string mode_;
  double best_ = 0;
  int best_epoch_ = -1, wait_ = 0, stopped_epoch_ = -1;
  TensorDict best_weights_;  // clones of the module's state dict at best_epoch_
};

// Saves the model to `path` after each epoch (or only when `monitor` improved, with save_best_only).
// "{epoch}" in the path is replaced by the 1-based epoch number.
struct ModelCheckpointOptions {
  std::string path;
  std::string monitor = "val_loss";
  bool save_best_only = false;
  std::string mode = "auto";
  bool include_optimizer = true;
};
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(ModelCheckpointOptions opt);
  void on_train_begin(Model&) override;
  void on_epoch_end(Model& m, int epoch, const Logs& logs) override;
  const std::vector<int>& saved_epochs() const { return saved_epochs_; }  // 0-based epochs that were written
  const std::string& last_path() const { return last_path_; }

 private:
  ModelCheckpointOptions opt_;
  std::string mode_;
  bool have_best_ = false;
  double best_ = 0;
  std::vector<int> saved_epochs_;
  std::string last_path_;
};

// Sets the optimizer's lr at the start of every epoch, either from an optim::LRScheduler built on
// the model's optimizer (its set_epoch(epoch) is called, so a resumed fit continues the curve) or
// from a plain function of (epoch, current lr):
//   LearningRateScheduler([](optim::Optimizer& o) {
//     return std::make_shared<optim::CosineAnnealingLR>(o, optim::CosineAnnealingLROptions{.t_max = 20}); })
//   LearningRateScheduler([](int epoch, double lr) { return epoch < 10 ? lr : lr * 0.9; })
class LearningRateScheduler : public Callback {
 public:
  using ScheduleFactory = std::function<std::shared_ptr<optim::LRScheduler>(optim::Optimizer&)>;
  using LrFunction = std::function<double(int epoch, double lr)>;
  explicit LearningRateScheduler(ScheduleFactory make);
  explicit LearningRateScheduler(LrFunction fn);
  void on_train_begin(Model& m) override;
  void on_epoch_begin(Model& m, int epoch) override;
  const optim::LRScheduler* schedule() const { return schedule_.get(); }

 private:
  ScheduleFactory make_;
  LrFunction fn_;
  std::shared_ptr<optim::LRScheduler> schedule_;
};

// Cuts the lr when `monitor` stops improving (optim::ReduceLROnPlateau driven by epoch logs).
struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  std::string mode = "auto";
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";
  int64_t cooldown = 0;
  double min_lr = 0.0;
  bool verbose = false;  // print a line to stdout when the lr is cut
};
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions opt = {});
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, int epoch, const Logs& logs) override;
  int reductions() const { return reductions_; }

 private:
  ReduceLROnPlateauOptions opt_;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau_;
  int reductions_ = 0;
};

// Appends one CSV row per epoch: "epoch" (1-based), then every log value in name order, then "lr".
// With append = false the file is rewritten when training begins.
struct CSVLoggerOptions {
  std::string path;
  char separator = ',';
  bool append = false;
};
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(CSVLoggerOptions opt);
  void on_train_begin(Model&) override;
  void on_epoch_end(Model& m, int epoch, const Logs& logs) override;
  void on_train_end(Model&, const Logs&) override;

 private:
  CSVLoggerOptions opt_;
  std::ofstream out_;
  std::vector<std::string> columns_;  // fixed by the first row written
};

// ---- run records ----
// The hook a run store (the CLI's SQLite recorder) implements: fit calls it at the start, after each
// epoch with the figures, the lr and the epoch's wall time, and at the end. The base class measures
// the times; subclasses override the record_* functions only.
struct RunStart {
  nlohmann::json architecture;  // module->to_config()
  nlohmann::json compile;       // Model::compile_config() (null when it cannot be described)
  int epochs = 0;               // FitState
  int initial_epoch = 0;
  int64_t batch_size = 0;
  int64_t train_size = 0;
  int64_t val_size = 0;
  int64_t parameters = 0;       // trainable parameter count
};
struct EpochRecord {
  int epoch = 0;  // 0-based, absolute
  Logs logs;
  double lr = 0;  // at the end of the epoch
  double seconds = 0;  // wall time of the epoch (training + validation)
};
struct RunEnd {
  Logs final_logs;
  int epochs_run = 0;
  bool stopped_early = false;  // a callback set Model::stop_training
  double seconds = 0;          // wall time of the whole fit
};
class RunRecorder : public Callback {
 public:
  void on_train_begin(Model& m) override;
  void on_epoch_begin(Model& m, int epoch) override;
  void on_epoch_end(Model& m, int epoch, const Logs& logs) override;
  void on_train_end(Model& m, const Logs& logs) override;

 protected:
  virtual void record_start(const RunStart&) {}
  virtual void record_epoch(const EpochRecord& e) = 0;
  virtual void record_end(const RunEnd&) {}

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point train_start_, epoch_start_;
  int epochs_run_ = 0;
};

}  // namespace kun::train
