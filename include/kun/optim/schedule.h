// Learning-rate schedules: objects that set an optimizer's lr as epochs (or steps) go by.
// Each schedule is a closed-form curve lr(epoch, base_lr); step() advances the epoch and writes
// the new lr into every param group. base_lr is the group's initial_lr (recorded by the first
// schedule attached), so schedules compose (SequentialLR) without compounding each other.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kun/optim/optimizer.h"

namespace kun::optim {

class LRScheduler {
 public:
  // Records base lrs and applies epoch 0 (as PyTorch schedulers do on construction).
  explicit LRScheduler(Optimizer& opt);
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();                  // epoch += 1, then apply
  void set_epoch(int64_t epoch);  // jump (e.g. when resuming); applies the lr of `epoch`
  int64_t last_epoch() const { return epoch_; }  // the only state: resume with set_epoch(last_epoch())
  std::vector<double> last_lr() const;
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // lr for `epoch` given the group's base lr (a pure function: no state).
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;

 protected:
  // Subclasses call this at the end of their constructor (virtual lr_at is usable only then).
  void apply();

 private:
  Optimizer& opt_;
  std::vector<double> base_lrs_;
  int64_t epoch_ = 0;
};

// lr = base * gamma^(epoch / step_size)
struct StepLROptions {
  int64_t step_size = 1;
  double gamma = 0.1;
};
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, const StepLROptions& o);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  StepLROptions o_;
};

// lr = base * gamma^(number of milestones <= epoch)
struct MultiStepLROptions {
  std::vector<int64_t> milestones;
  double gamma = 0.1;
};
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, const MultiStepLROptions& o);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  MultiStepLROptions o_;
};

// lr = base * gamma^epoch
struct ExponentialLROptions {
  double gamma = 0.95;
};
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, const ExponentialLROptions& o);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  ExponentialLROptions o_;
};

// lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / t_max)) / 2
struct CosineAnnealingLROptions {
  int64_t t_max = 1;
  double eta_min = 0.0;
};
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, const CosineAnnealingLROptions& o);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  CosineAnnealingLROptions o_;
};

// Linear warm-up (torch LinearLR): the factor goes from start_factor to end_factor over
// total_iters epochs, then stays: lr = base * (start + (end - start) * min(epoch, total) / total).
struct LinearLROptions {
  double start_factor = 1.0 / 3.0;
  double end_factor = 1.0;
  int64_t total_iters = 5;
};
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, const LinearLROptions& o);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  LinearLROptions o_;
};

// Runs schedules one after another: schedule k is used from milestone k-1 on, with its epoch
// counted from that milestone (torch SequentialLR). Warm-up then cosine:
//   SequentialLR(opt, {make_shared<LinearLR>(opt, w), make_shared<CosineAnnealingLR>(opt, c)}, {5})
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& opt, std::vector<std::shared_ptr<LRScheduler>> schedules, std::vector<int64_t> milestones);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedules_;
  std::vector<int64_t> milestones_;
};

// Cuts the lr by `factor` when a metric stops improving for `patience` epochs (torch semantics,
// threshold mode "rel" or "abs"); after a cut, waits `cooldown` epochs before counting again.
struct ReduceLROnPlateauOptions {
  std::string mode = "min";  // "min": lower is better (loss); "max": higher is better (accuracy)
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // "rel" or "abs"
  int64_t cooldown = 0;
  double min_lr = 0.0;
  double eps = 1e-8;  // cuts smaller than this are skipped
};
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& opt, const ReduceLROnPlateauOptions& o = {});
  // Feed the epoch's metric; returns true when the lr was reduced.
  bool step(double metric);
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_; }
  int64_t last_epoch() const { return epoch_; }
  // best, bad-epoch and cooldown counters, epoch (float64 scalars), for exact resume.
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& state);

 private:
  bool is_better(double a) const;
  Optimizer& opt_;
  ReduceLROnPlateauOptions o_;
  double best_;
  int64_t num_bad_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace kun::optim
