// train::Model: the Keras-style API — compile, fit, evaluate, predict, save, load — over any
// nn::Module (Sequential, Graph, or a user's own).
//
//   train::Model m(std::make_shared<nn::Sequential>(...));
//   m.compile(optim::Adam({.lr = 1e-3}), loss::SparseCategoricalCrossentropy({.from_logits = true}),
//             {metric::Accuracy()});
//   auto history = m.fit(train, {.epochs = 5, .batch_size = 64, .validation_split = 0.1});
//   std::cout << m.evaluate(test) << "\n";   // loss: 0.0412 - accuracy: 0.9861
//   m.save("mnist.kun");
#pragma once
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "kun/data/dataset.h"
#include "kun/data/loader.h"
#include "kun/nn/loss.h"
#include "kun/nn/module.h"
#include "kun/optim/optimizer.h"
#include "kun/train/callbacks.h"
#include "kun/train/metrics.h"
#include "kun/train/progress.h"

namespace kun::train {

// Per-epoch figures: "loss", metric names, and "val_" + each of those when validating.
struct History {
  std::vector<std::map<std::string, double>> epochs;
  std::vector<double> get(const std::string& name) const;  // one value per epoch; ValueError if absent
  size_t size() const { return epochs.size(); }
};

// evaluate()'s result: "loss" plus each metric, printed Keras-style ("loss: 0.0412 - accuracy: 0.9861").
struct Evaluation {
  std::vector<std::pair<std::string, double>> values;
  double operator[](const std::string& name) const;  // ValueError if absent
};
std::ostream& operator<<(std::ostream& os, const Evaluation& e);

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  double validation_split = 0.0;  // last fraction of the training data (before shuffling), like Keras
  std::shared_ptr<const data::Dataset> validation_data = nullptr;  // takes precedence over validation_split
  bool shuffle = true;
  uint64_t seed = 0;  // shuffling and augmentation
  std::vector<double> class_weight = {};  // per class id (sparse targets): weights each sample's loss
  std::vector<std::shared_ptr<Callback>> callbacks = {};
  int verbose = 1;  // 0 silent, 1 progress bar, 2 one line per epoch
  int initial_epoch = 0;  // resume: epochs already done (LR schedules and logs continue from here)
  data::BatchTransform transform = {};  // augmentation applied to training batches only
  int64_t steps_per_epoch = 0;  // 0: the whole training set each epoch (else the first N batches of each epoch)
  FILE* progress_out = nullptr;  // where verbose output goes; null: stdout
};

// What the current (or last) fit call is doing, for callbacks and run recorders.
struct FitState {
  int epochs = 0;          // the epoch fit stops at (exclusive, 0-based), FitOptions::epochs
  int initial_epoch = 0;
  int64_t batch_size = 0;
  int64_t steps_per_epoch = 0;  // batches per training epoch actually run
  int64_t train_size = 0;  // training examples (after the validation split)
  int64_t val_size = 0;    // 0 without validation
};

struct EvaluateOptions {
  int64_t batch_size = 256;
  int verbose = 0;
  FILE* progress_out = nullptr;  // null: stdout
};

class Model {
 public:
  explicit Model(nn::ModulePtr module);
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<nn::Module, std::decay_t<M>>>>
  explicit Model(M&& module) : Model(nn::ModulePtr(std::make_shared<std::decay_t<M>>(std::move(module)))) {}

  // The optimizer may be built without parameters (optim::Adam({.lr = 1e-3})): compile hands it the
  // model's parameters once they exist (lazily sized layers are built on the first batch).
  void compile(std::shared_ptr<optim::Optimizer> optimizer, loss::AnyLoss loss,
               std::vector<metric::AnyMetric> metrics = {});
  // By value (`optim::Adam({.lr = 1e-3})`): optimizers cannot be moved, so the model makes a fresh
  // one of the same type and options (SGD, Adam, AdamW, RMSProp, Adagrad). Pass a shared_ptr for
  // other types or for an optimizer that already holds parameters.
  void compile(const optim::Optimizer& optimizer, loss::AnyLoss loss, std::vector<metric::AnyMetric> metrics = {});

  // Trains on x/y tensors or a dataset. Stops with a clear TrainingError naming the epoch, step and
  // parameter when a loss or gradient is not finite; the weights of the last good step are kept.
  History fit(const Tensor& x, const Tensor& y, const FitOptions& opt = {});
  History fit(std::shared_ptr<const data::Dataset> train, const FitOptions& opt = {});
  History fit(const data::TensorDataset& train, const FitOptions& opt = {});

  Evaluation evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& opt = {});
  Evaluation evaluate(const data::Dataset& test, const EvaluateOptions& opt = {});

  // Model outputs in eval mode without gradient recording, batched.
  Tensor predict(const Tensor& x, int64_t batch_size = 256);

  // One optimization step on a batch; returns the loss (used by fit, benchmarks and custom loops).
  // Throws TrainingError (and applies no update) when the loss or a gradient is not finite.
  double train_step(const Tensor& x, const Tensor& y);

  // Whole model in one file: architecture (JSON config), weights and — with include_optimizer —
  // the optimizer state, loss and metric names so training resumes exactly. Atomic write.
  void save(const std::string& path, bool include_optimizer = true) const;
  // Rebuilds the architecture from the file, loads the weights (and the compiled state when saved).
  // A truncated, corrupt or incompatible file throws IOError naming the file and the problem.
  static Model load(const std::string& path);

  std::string summary(const Shape& input_shape, DType dtype = DType::f32);
  nn::Module& module() { return *module_; }
  const nn::ModulePtr& module_ptr() const { return module_; }
  optim::Optimizer* optimizer() { return optimizer_.get(); }
  bool compiled() const { return optimizer_ != nullptr; }
  const loss::Loss* loss() const { return loss_ ? &**loss_ : nullptr; }
  const std::vector<metric::AnyMetric>& metrics() const { return metrics_; }
  // {"optimizer": {"name": "adam", "lr": ..., ...} (make_optimizer's format), "loss": {"name": ...,
  // "config": {...}}, "metrics": ["accuracy", ...]}. ValueError for an optimizer type it cannot describe.
  nlohmann::json compile_config() const;
  // Epochs completed by fit over the model's life (restored by load): pass it as initial_epoch to resume.
  int epochs_done() const { return epochs_done_; }
  const FitState& fit_state() const { return fit_state_; }
  bool stop_training = false;  // callbacks set it (EarlyStopping); fit clears it when it starts

 private:
  struct StepResult {
    double loss = 0;
    Tensor pred;           // the batch's outputs (no graph)
    std::string problem;   // non-empty: the step was rejected (non-finite loss / gradient)
  };
  void require_compiled(const char* op) const;
  void build_with(const Tensor& x_example_batch);
  void bind_optimizer();
  StepResult step(const Tensor& x, const Tensor& y, const std::vector<double>& class_weight);
  Variable compute_loss(const Variable& pred, const Tensor& y, const std::vector<double>& class_weight) const;
  Evaluation evaluate_impl(const data::Dataset& ds, int64_t batch_size, int verbose, FILE* out, const char* op);

  nn::ModulePtr module_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  bool optimizer_bound_ = false;
  std::optional<loss::AnyLoss> loss_;
  std::vector<metric::AnyMetric> metrics_;
  // Trainable parameters and their dotted names (for the gradient check), set when binding.
  std::vector<Variable> params_;
  std::vector<std::string> param_names_;
  // Buffers (running statistics) and their copy from before the current step, restored when a step
  // is rejected so a NaN batch does not poison batch-norm statistics either.
  std::vector<Tensor> buffers_, buffer_backup_;
  int epochs_done_ = 0;
  FitState fit_state_;
};

// Thrown when training meets a non-finite loss or gradient.
class TrainingError : public Error {
 public:
  using Error::Error;
};

}  // namespace kun::train
