#include "kun/train/callbacks.h"

#include <cmath>
#include <cstdio>

#include "kun/train/model.h"

namespace kun::train {

namespace {

bool accuracy_like(std::string name) {
  if (name.rfind("val_", 0) == 0) name = name.substr(4);
  for (const char* k : {"acc", "auc", "precision", "recall", "f1"})
    if (name.find(k) != std::string::npos) return true;
  return false;
}

// A copy of the module's current weights and buffers (state_dict shares storage with the live module).
TensorDict snapshot(const nn::Module& m) {
  TensorDict d;
  for (const auto& [k, t] : m.state_dict()) d.insert(k, t.clone());
  return d;
}

std::string expand_epoch(const std::string& path, int epoch) {
  std::string out = path;
  const std::string key = "{epoch}";
  for (size_t pos; (pos = out.find(key)) != std::string::npos;) out.replace(pos, key.size(), std::to_string(epoch + 1));
  return out;
}

}  // namespace

std::string resolve_mode(const std::string& mode, const std::string& monitor, const char* who) {
  KUN_CHECK(mode == "auto" || mode == "min" || mode == "max", ValueError, who, ": mode must be \"auto\", \"min\" or ",
            "\"max\", got \"", mode, "\"");
  if (mode != "auto") return mode;
  return accuracy_like(monitor) ? "max" : "min";
}

double monitored_value(const Logs& logs, const std::string& monitor, const char* who) {
  auto it = logs.find(monitor);
  if (it != logs.end()) return it->second;
  std::string have;
  for (const auto& [k, v] : logs) have += (have.empty() ? "" : ", ") + k;
  detail::throw_error<ValueError>(who, ": monitored figure '", monitor, "' is not in the logs (", have, ")",
                                  monitor.rfind("val_", 0) == 0 ? "; pass validation_split or validation_data to fit" : "");
}

// ---------------------------------------------------------------- EarlyStopping

EarlyStopping::EarlyStopping(EarlyStoppingOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.patience >= 0, ValueError, "EarlyStopping: patience must be >= 0, got ", opt_.patience);
  KUN_CHECK(opt_.min_delta >= 0, ValueError, "EarlyStopping: min_delta must be >= 0, got ", opt_.min_delta);
  mode_ = resolve_mode(opt_.mode, opt_.monitor, "EarlyStopping");
}

bool EarlyStopping::improved(double v) const {
  if (best_epoch_ < 0) return std::isnan(opt_.baseline) || (mode_ == "min" ? v < opt_.baseline : v > opt_.baseline);
  return mode_ == "min" ? v < best_ - opt_.min_delta : v > best_ + opt_.min_delta;
}

void EarlyStopping::on_train_begin(Model&) {
  best_epoch_ = -1;
  wait_ = 0;
  stopped_epoch_ = -1;
  best_ = mode_ == "min" ? INFINITY : -INFINITY;
  best_weights_ = TensorDict();
}

void EarlyStopping::on_epoch_end(Model& m, int epoch, const Logs& logs) {
  const double v = monitored_value(logs, opt_.monitor, "EarlyStopping");
  if (std::isfinite(v) && improved(v)) {
    best_ = v;
    best_epoch_ = epoch;
    wait_ = 0;
    if (opt_.restore_best_weights) best_weights_ = snapshot(m.module());
    return;
  }
  if (++wait_ >= opt_.patience) {  // Keras: stop after `patience` epochs without improvement
    stopped_epoch_ = epoch;
    m.stop_training = true;
  }
}

void EarlyStopping::on_train_end(Model& m, const Logs&) {
  if (opt_.restore_best_weights && !best_weights_.empty()) m.module().load_state_dict(best_weights_);
}

// ---------------------------------------------------------------- ModelCheckpoint

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(!opt_.path.empty(), ValueError, "ModelCheckpoint: path is empty");
  mode_ = resolve_mode(opt_.mode, opt_.monitor, "ModelCheckpoint");
}

void ModelCheckpoint::on_train_begin(Model&) { have_best_ = false; }

void ModelCheckpoint::on_epoch_end(Model& m, int epoch, const Logs& logs) {
  if (opt_.save_best_only) {
    const double v = monitored_value(logs, opt_.monitor, "ModelCheckpoint");
    const bool better = std::isfinite(v) && (!have_best_ || (mode_ == "min" ? v < best_ : v > best_));
    if (!better) return;
    best_ = v;
    have_best_ = true;
  }
  last_path_ = expand_epoch(opt_.path, epoch);
  m.save(last_path_, opt_.include_optimizer);
  saved_epochs_.push_back(epoch);
}

// ---------------------------------------------------------------- LearningRateScheduler

LearningRateScheduler::LearningRateScheduler(ScheduleFactory make) : make_(std::move(make)) {
  KUN_CHECK(make_ != nullptr, ValueError, "LearningRateScheduler: the schedule factory is empty");
}
LearningRateScheduler::LearningRateScheduler(LrFunction fn) : fn_(std::move(fn)) {
  KUN_CHECK(fn_ != nullptr, ValueError, "LearningRateScheduler: the lr function is empty");
}

void LearningRateScheduler::on_train_begin(Model& m) {
  KUN_CHECK(m.optimizer() != nullptr, ValueError, "LearningRateScheduler: the model is not compiled");
  if (make_ && !schedule_) {
    schedule_ = make_(*m.optimizer());
    KUN_CHECK(schedule_ != nullptr, ValueError, "LearningRateScheduler: the factory returned no schedule");
  }
}

void LearningRateScheduler::on_epoch_begin(Model& m, int epoch) {
  if (schedule_) {
    schedule_->set_epoch(epoch);
  } else {
    const double lr = fn_(epoch, m.optimizer()->lr());
    KUN_CHECK(std::isfinite(lr) && lr >= 0, ValueError, "LearningRateScheduler: the lr function returned ", lr,
              " for epoch ", epoch, "; expected a finite lr >= 0");
    m.optimizer()->set_lr(lr);
  }
}

// ---------------------------------------------------------------- ReduceLROnPlateau

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions opt) : opt_(std::move(opt)) {
  opt_.mode = resolve_mode(opt_.mode, opt_.monitor, "ReduceLROnPlateau");
}

void ReduceLROnPlateau::on_train_begin(Model& m) {
  KUN_CHECK(m.optimizer() != nullptr, ValueError, "ReduceLROnPlateau: the model is not compiled");
  optim::ReduceLROnPlateauOptions o;
  o.mode = opt_.mode;
  o.factor = opt_.factor;
  o.patience = opt_.patience;
  o.threshold = opt_.threshold;
  o.threshold_mode = opt_.threshold_mode;
  o.cooldown = opt_.cooldown;
  o.min_lr = opt_.min_lr;
  plateau_ = std::make_unique<optim::ReduceLROnPlateau>(*m.optimizer(), o);
}

void ReduceLROnPlateau::on_epoch_end(Model& m, int epoch, const Logs& logs) {
  const double v = monitored_value(logs, opt_.monitor, "ReduceLROnPlateau");
  if (plateau_->step(v)) {
    ++reductions_;
    if (opt_.verbose)
      std::printf("Epoch %d: ReduceLROnPlateau reduced the learning rate to %g\n", epoch + 1, m.optimizer()->lr());
  }
}

// ---------------------------------------------------------------- CSVLogger

CSVLogger::CSVLogger(CSVLoggerOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(!opt_.path.empty(), ValueError, "CSVLogger: path is empty");
}

void CSVLogger::on_train_begin(Model&) {
  columns_.clear();
  bool has_header = false;
  if (opt_.append) {
    std::ifstream in(opt_.path);
    std::string header;
    if (in && std::getline(in, header) && !header.empty()) {
      // Continue the existing columns (a resumed run).
      has_header = true;
      size_t start = 0;
      for (size_t pos = 0;; start = pos + 1) {
        pos = header.find(opt_.separator, start);
        columns_.push_back(header.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
        if (pos == std::string::npos) break;
      }
    }
  }
  out_.close();
  out_.clear();
  out_.open(opt_.path, opt_.append ? std::ios::app : std::ios::trunc);
  KUN_CHECK(out_.good(), IOError, "CSVLogger: cannot open '", opt_.path, "' for writing");
  if (!has_header) columns_.clear();
}

void CSVLogger::on_epoch_end(Model& m, int epoch, const Logs& logs) {
  if (columns_.empty()) {
    columns_.push_back("epoch");
    for (const auto& [k, v] : logs) columns_.push_back(k);
    columns_.push_back("lr");
    for (size_t i = 0; i < columns_.size(); ++i) out_ << (i ? std::string(1, opt_.separator) : "") << columns_[i];
    out_ << "\n";
  }
  char buf[64];
  for (size_t i = 0; i < columns_.size(); ++i) {
    const std::string& c = columns_[i];
    if (i) out_ << opt_.separator;
    if (c == "epoch") {
      out_ << epoch + 1;
      continue;
    }
    double v;
    if (c == "lr") {
      if (!m.optimizer() || m.optimizer()->param_groups().empty()) continue;
      v = m.optimizer()->lr();
    } else {
      auto it = logs.find(c);
      if (it == logs.end()) continue;  // figure absent this epoch: empty cell
      v = it->second;
    }
    std::snprintf(buf, sizeof buf, "%.9g", v);
    out_ << buf;
  }
  out_ << "\n";
  out_.flush();
  KUN_CHECK(out_.good(), IOError, "CSVLogger: writing '", opt_.path, "' failed");
}

void CSVLogger::on_train_end(Model&, const Logs&) { out_.close(); }

// ---------------------------------------------------------------- RunRecorder

void RunRecorder::on_train_begin(Model& m) {
  train_start_ = Clock::now();
  epochs_run_ = 0;
  RunStart s;
  s.architecture = m.module().to_config();
  try {
    s.compile = m.compile_config();
  } catch (const Error&) {
    s.compile = nullptr;  // a custom optimizer type: nothing to describe
  }
  const FitState& f = m.fit_state();
  s.epochs = f.epochs;
  s.initial_epoch = f.initial_epoch;
  s.batch_size = f.batch_size;
  s.train_size = f.train_size;
  s.val_size = f.val_size;
  s.parameters = m.module().parameter_count(true);
  record_start(s);
}

void RunRecorder::on_epoch_begin(Model&, int) { epoch_start_ = Clock::now(); }

void RunRecorder::on_epoch_end(Model& m, int epoch, const Logs& logs) {
  EpochRecord e;
  e.epoch = epoch;
  e.logs = logs;
  e.lr = m.optimizer() && !m.optimizer()->param_groups().empty() ? m.optimizer()->lr() : 0.0;
  e.seconds = std::chrono::duration<double>(Clock::now() - epoch_start_).count();
  ++epochs_run_;
  record_epoch(e);
}

void RunRecorder::on_train_end(Model& m, const Logs& logs) {
  RunEnd r;
  r.final_logs = logs;
  r.epochs_run = epochs_run_;
  r.stopped_early = m.stop_training;
  r.seconds = std::chrono::duration<double>(Clock::now() - train_start_).count();
  record_end(r);
}

}  // namespace kun::train
