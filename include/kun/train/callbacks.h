// Callbacks hook into Model::fit at epoch and batch boundaries.
#pragma once
#include <map>
#include <memory>
#include <string>

namespace kun::train {

class Model;
using Logs = std::map<std::string, double>;  // "loss", metric names, "val_..." figures

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model&) {}
  virtual void on_epoch_begin(Model&, int /*epoch*/) {}
  virtual void on_batch_end(Model&, int64_t /*step*/, const Logs&) {}
  virtual void on_epoch_end(Model&, int /*epoch*/, const Logs&) {}
  virtual void on_train_end(Model&, const Logs&) {}
};

// Stops when `monitor` has not improved by min_delta for `patience` epochs; optionally restores
// the best weights.
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  int patience = 0;
  double min_delta = 0.0;
  std::string mode = "auto";  // "min", "max", or auto (max for accuracy-like names)
  bool restore_best_weights = false;
};
class EarlyStopping;

// Saves the model to `path` after each epoch (or only when `monitor` improved, with save_best_only).
struct ModelCheckpointOptions {
  std::string path;
  std::string monitor = "val_loss";
  bool save_best_only = false;
  std::string mode = "auto";
};
class ModelCheckpoint;

// Calls a schedule each epoch to set the optimizer's lr (see optim/schedule.h), or reduces on plateau.
class LearningRateScheduler;

// Appends one CSV row per epoch (epoch, then every log value).
class CSVLogger;

}  // namespace kun::train
