#include "kun/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kun::optim {

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (auto& g : opt_.param_groups()) {
    if (!g.initial_lr) g.initial_lr = *g.lr;
    base_lrs_.push_back(*g.initial_lr);
  }
}

void LRScheduler::apply() {
  auto& groups = opt_.param_groups();
  KUN_CHECK(groups.size() == base_lrs_.size(), ValueError, "LRScheduler: the optimizer had ", base_lrs_.size(),
            " param groups when the schedule was made, now ", groups.size());
  for (size_t g = 0; g < groups.size(); ++g) groups[g].lr = lr_at(epoch_, base_lrs_[g]);
}

void LRScheduler::step() {
  ++epoch_;
  apply();
}

void LRScheduler::set_epoch(int64_t epoch) {
  KUN_CHECK(epoch >= 0, ValueError, "LRScheduler: epoch must be >= 0, got ", epoch);
  epoch_ = epoch;
  apply();
}

std::vector<double> LRScheduler::last_lr() const {
  std::vector<double> out;
  for (const auto& g : opt_.param_groups()) out.push_back(*g.lr);
  return out;
}

StepLR::StepLR(Optimizer& opt, const StepLROptions& o) : LRScheduler(opt), o_(o) {
  KUN_CHECK(o.step_size > 0, ValueError, "StepLR: step_size must be > 0, got ", o.step_size);
  apply();
}
double StepLR::lr_at(int64_t epoch, double base) const {
  return base * std::pow(o_.gamma, static_cast<double>(epoch / o_.step_size));
}

MultiStepLR::MultiStepLR(Optimizer& opt, const MultiStepLROptions& o) : LRScheduler(opt), o_(o) {
  std::sort(o_.milestones.begin(), o_.milestones.end());
  apply();
}
double MultiStepLR::lr_at(int64_t epoch, double base) const {
  auto passed = std::upper_bound(o_.milestones.begin(), o_.milestones.end(), epoch) - o_.milestones.begin();
  return base * std::pow(o_.gamma, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& opt, const ExponentialLROptions& o) : LRScheduler(opt), o_(o) { apply(); }
double ExponentialLR::lr_at(int64_t epoch, double base) const {
  return base * std::pow(o_.gamma, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, const CosineAnnealingLROptions& o) : LRScheduler(opt), o_(o) {
  KUN_CHECK(o.t_max > 0, ValueError, "CosineAnnealingLR: t_max must be > 0, got ", o.t_max);
  apply();
}
double CosineAnnealingLR::lr_at(int64_t epoch, double base) const {
  return o_.eta_min +
         (base - o_.eta_min) * (1 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(o_.t_max))) / 2;
}

LinearLR::LinearLR(Optimizer& opt, const LinearLROptions& o) : LRScheduler(opt), o_(o) {
  KUN_CHECK(o.start_factor > 0 && o.start_factor <= 1 && o.end_factor >= 0 && o.end_factor <= 1, ValueError,
            "LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], got ", o.start_factor, " and ",
            o.end_factor);
  KUN_CHECK(o.total_iters > 0, ValueError, "LinearLR: total_iters must be > 0, got ", o.total_iters);
  apply();
}
double LinearLR::lr_at(int64_t epoch, double base) const {
  double t = static_cast<double>(std::min(epoch, o_.total_iters)) / static_cast<double>(o_.total_iters);
  return base * (o_.start_factor + (o_.end_factor - o_.start_factor) * t);
}

SequentialLR::SequentialLR(Optimizer& opt, std::vector<std::shared_ptr<LRScheduler>> schedules,
                           std::vector<int64_t> milestones)
    : LRScheduler(opt), schedules_(std::move(schedules)), milestones_(std::move(milestones)) {
  KUN_CHECK(!schedules_.empty() && milestones_.size() + 1 == schedules_.size(), ValueError,
            "SequentialLR: needs one milestone fewer than schedules, got ", schedules_.size(), " schedules and ",
            milestones_.size(), " milestones");
  for (const auto& s : schedules_) KUN_CHECK(s != nullptr, ValueError, "SequentialLR: a schedule is null");
  KUN_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()), ValueError,
            "SequentialLR: milestones must be increasing");
  apply();
}
double SequentialLR::lr_at(int64_t epoch, double base) const {
  size_t k = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  int64_t start = k == 0 ? 0 : milestones_[k - 1];
  return schedules_[k]->lr_at(epoch - start, base);
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, const ReduceLROnPlateauOptions& o) : opt_(opt), o_(o) {
  KUN_CHECK(o.mode == "min" || o.mode == "max", ValueError, "ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"",
            o.mode, "\"");
  KUN_CHECK(o.threshold_mode == "rel" || o.threshold_mode == "abs", ValueError,
            "ReduceLROnPlateau: threshold_mode must be \"rel\" or \"abs\", got \"", o.threshold_mode, "\"");
  KUN_CHECK(o.factor < 1.0 && o.factor >= 0, ValueError, "ReduceLROnPlateau: factor must be in [0, 1), got ",
            o.factor);
  KUN_CHECK(o.patience >= 0 && o.cooldown >= 0, ValueError, "ReduceLROnPlateau: patience and cooldown must be >= 0");
  best_ = o.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a) const {
  const bool rel = o_.threshold_mode == "rel";
  if (o_.mode == "min") return rel ? a < best_ * (1.0 - o_.threshold) : a < best_ - o_.threshold;
  return rel ? a > best_ * (1.0 + o_.threshold) : a > best_ + o_.threshold;
}

bool ReduceLROnPlateau::step(double metric) {
  ++epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_ = 0;
  } else {
    ++num_bad_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_ = 0;  // bad epochs during cooldown do not count
  }
  if (num_bad_ <= o_.patience) return false;
  bool reduced = false;
  for (auto& g : opt_.param_groups()) {
    double old_lr = *g.lr, new_lr = std::max(old_lr * o_.factor, o_.min_lr);
    if (old_lr - new_lr > o_.eps) {
      g.lr = new_lr;
      reduced = true;
    }
  }
  cooldown_counter_ = o_.cooldown;
  num_bad_ = 0;
  return reduced;
}

TensorDict ReduceLROnPlateau::state_dict() const {
  TensorDict d;
  d.insert("plateau.best", scalar_tensor(best_, DType::f64));
  d.insert("plateau.num_bad_epochs", scalar_tensor(static_cast<double>(num_bad_), DType::f64));
  d.insert("plateau.cooldown_counter", scalar_tensor(static_cast<double>(cooldown_counter_), DType::f64));
  d.insert("plateau.epoch", scalar_tensor(static_cast<double>(epoch_), DType::f64));
  return d;
}

void ReduceLROnPlateau::load_state_dict(const TensorDict& state) {
  for (const char* k : {"plateau.best", "plateau.num_bad_epochs", "plateau.cooldown_counter", "plateau.epoch"})
    KUN_CHECK(state.contains(k), ValueError, "ReduceLROnPlateau.load_state_dict: missing '", k, "'");
  best_ = state.at("plateau.best").item<double>();
  num_bad_ = static_cast<int64_t>(state.at("plateau.num_bad_epochs").item<double>());
  cooldown_counter_ = static_cast<int64_t>(state.at("plateau.cooldown_counter").item<double>());
  epoch_ = static_cast<int64_t>(state.at("plateau.epoch").item<double>());
}

}  // namespace kun::optim
