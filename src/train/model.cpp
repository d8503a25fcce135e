// train::Model: compile / fit / evaluate / predict. Saving and loading are in model_file.cpp.
#include "kun/train/model.h"

#include <cmath>
#include <sstream>

#include "kun/autograd/ops.h"
#include "kun/core/rng.h"
#include "kun/nn/summary.h"
#include "kun/optim/clip.h"
#include "kun/tensor/ops.h"

namespace kun::train {

namespace {

// Rows `indices` of another dataset, without copying (the validation split of a Dataset).
class IndexedDataset : public data::Dataset {
 public:
  IndexedDataset(std::shared_ptr<const data::Dataset> base, std::vector<int64_t> indices)
      : base_(std::move(base)), indices_(std::move(indices)) {}
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  data::Example get(int64_t i) const override {
    KUN_CHECK(i >= 0 && i < size(), IndexError, "dataset split: index ", i, " out of range [0, ", size(), ")");
    return base_->get(indices_[i]);
  }
  data::Example get_batch(const std::vector<int64_t>& idx) const override {
    std::vector<int64_t> mapped(idx.size());
    for (size_t k = 0; k < idx.size(); ++k) {
      KUN_CHECK(idx[k] >= 0 && idx[k] < size(), IndexError, "dataset split: index ", idx[k], " out of range [0, ",
                size(), ")");
      mapped[k] = indices_[idx[k]];
    }
    return base_->get_batch(mapped);
  }

 private:
  std::shared_ptr<const data::Dataset> base_;
  std::vector<int64_t> indices_;
};

std::vector<int64_t> iota(int64_t begin, int64_t end) {
  std::vector<int64_t> v(static_cast<size_t>(end - begin));
  for (int64_t i = begin; i < end; ++i) v[i - begin] = i;
  return v;
}

// Seeds the default generator (dropout masks) from (fit seed, epoch) at every epoch, so an epoch's
// random draws do not depend on what ran before it: a resumed fit repeats the straight run's masks.
// The caller's generator state is restored when fit returns.
class EpochRng {
 public:
  explicit EpochRng(uint64_t seed) : seed_(seed), saved_(default_generator()) {}
  ~EpochRng() { default_generator() = saved_; }
  EpochRng(const EpochRng&) = delete;
  EpochRng& operator=(const EpochRng&) = delete;
  void start_epoch(int epoch) {
    auto w = philox(seed_ ^ 0x6B756E5F66697421ull, static_cast<uint64_t>(epoch));
    default_generator().manual_seed(uint64_t{w[0]} << 32 | w[1]);
  }

 private:
  uint64_t seed_;
  Generator saved_;
};

// Restores the module's train/eval mode on scope exit.
class ModeGuard {
 public:
  ModeGuard(nn::Module& m, bool training) : m_(m), prev_(m.is_training()) { m_.train(training); }
  ~ModeGuard() { m_.train(prev_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  nn::Module& m_;
  bool prev_;
};

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

}  // namespace

// ---------------------------------------------------------------- History / Evaluation

std::vector<double> History::get(const std::string& name) const {
  std::vector<double> out;
  out.reserve(epochs.size());
  for (size_t e = 0; e < epochs.size(); ++e) {
    auto it = epochs[e].find(name);
    if (it == epochs[e].end()) {
      std::string have;
      for (const auto& [k, v] : epochs[e]) have += (have.empty() ? "" : ", ") + k;
      detail::throw_error<ValueError>("History: no figure '", name, "' in epoch ", e + 1, "; it has: ", have);
    }
    out.push_back(it->second);
  }
  return out;
}

double Evaluation::operator[](const std::string& name) const {
  for (const auto& [k, v] : values)
    if (k == name) return v;
  std::string have;
  for (const auto& [k, v] : values) have += (have.empty() ? "" : ", ") + k;
  detail::throw_error<ValueError>("Evaluation: no figure '", name, "'; it has: ", have);
}

std::ostream& operator<<(std::ostream& os, const Evaluation& e) { return os << ProgressBar::format_figures(e.values); }

// ---------------------------------------------------------------- compile

Model::Model(nn::ModulePtr module) : module_(std::move(module)) {
  KUN_CHECK(module_ != nullptr, ValueError, "Model: the module is null");
}

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer, loss::AnyLoss loss,
                    std::vector<metric::AnyMetric> metrics) {
  KUN_CHECK(optimizer != nullptr, ValueError, "Model::compile: the optimizer is null");
  KUN_CHECK(loss.defined(), ValueError, "Model::compile: the loss is undefined");
  std::vector<std::string> names{"loss"};
  for (const auto& m : metrics) {
    KUN_CHECK(m.ptr() != nullptr, ValueError, "Model::compile: a metric is null");
    const std::string n = m->name();
    for (const auto& have : names)
      KUN_CHECK(n != have, ValueError, "Model::compile: two figures would be called '", n,
                "' (metric names must be distinct and not 'loss')");
    names.push_back(n);
  }
  optimizer_ = std::move(optimizer);
  loss_ = std::move(loss);
  metrics_ = std::move(metrics);
  // An optimizer built with parameters is used as it is; an empty one gets the module's parameters
  // once the module is built (the first batch sizes lazy layers).
  optimizer_bound_ = false;
  for (const auto& g : optimizer_->param_groups())
    if (!g.params.empty()) optimizer_bound_ = true;
  params_.clear();
  param_names_.clear();
  if (optimizer_bound_) bind_optimizer();
}

void Model::require_compiled(const char* op) const {
  KUN_CHECK(optimizer_ && loss_, ValueError, "Model::", op,
            ": the model is not compiled; call compile(optimizer, loss, metrics) first");
}

void Model::build_with(const Tensor& x) {
  // One example in eval mode without recording: lazily sized layers create their parameters. Eval
  // mode keeps dropout from drawing and batch norm from updating its statistics.
  NoGradGuard ng;
  ModeGuard mode(*module_, false);
  module_->forward(Variable(x.narrow(0, 0, 1)));
}

void Model::bind_optimizer() {
  params_.clear();
  param_names_.clear();
  for (auto& [name, p] : module_->named_parameters())
    if (p.requires_grad()) {
      params_.push_back(p);
      param_names_.push_back(name);
    }
  if (!optimizer_bound_) {
    optim::ParamGroup g;
    g.params = params_;
    optimizer_->add_param_group(std::move(g));
    optimizer_bound_ = true;
  } else {
    // The caller's optimizer may hold only some parameters (or others): check those it holds.
    std::vector<Variable> held;
    std::vector<std::string> held_names;
    for (const auto& g : optimizer_->param_groups())
      for (const auto& p : g.params) {
        std::string name;
        for (size_t i = 0; i < params_.size(); ++i)
          if (params_[i].same(p)) name = param_names_[i];
        held.push_back(p);
        held_names.push_back(name.empty() ? "optimizer parameter " + std::to_string(held.size() - 1) : name);
      }
    params_ = std::move(held);
    param_names_ = std::move(held_names);
  }
  buffers_.clear();
  buffer_backup_.clear();
  for (auto& [name, b] : module_->named_buffers()) {
    buffers_.push_back(b);
    buffer_backup_.push_back(b.clone());
  }
}

// ---------------------------------------------------------------- one step

Variable Model::compute_loss(const Variable& pred, const Tensor& y, const std::vector<double>& cw) const {
  const loss::Loss& L = **loss_;
  if (cw.empty()) return L(pred, y);
  // Class weights scale each sample's loss by the weight of its class; the batch loss is
  // sum(w_i * l_i) / N (Keras' convention: the weights are not renormalized).
  const std::string name = L.name();
  const auto cfg = L.config();
  if (name == "sparse_categorical_crossentropy") {
    KUN_CHECK(pred.dim() >= 2 && pred.size(1) == static_cast<int64_t>(cw.size()), ValueError,
              "fit: class_weight has ", cw.size(), " entries, the model predicts ",
              pred.dim() >= 2 ? pred.size(1) : 0, " classes (output ", pred.shape(), ")");
    KUN_CHECK(is_integral(y.dtype()), TypeError, "fit: class_weight needs integer class ids as targets, got ", y.dtype());
    Tensor t = y.dtype() == DType::i64 ? y : y.to(DType::i64);
    Tensor w = from_vector(cw).to(pred.dtype());
    const int64_t ignore = cfg.value("ignore_index", int64_t{-100});
    int64_t n = 0;
    {
      Tensor tc = t.contiguous();
      const int64_t* pt = tc.data<int64_t>();
      for (int64_t i = 0; i < tc.numel(); ++i) n += pt[i] != ignore;
    }
    Variable total;
    if (cfg.value("from_logits", false)) {
      CrossEntropyOptions o;
      o.weight = w;
      o.ignore_index = ignore;
      o.label_smoothing = cfg.value("label_smoothing", 0.0);
      o.reduction = Reduction::sum;
      total = cross_entropy(pred, t, o);
    } else {
      NllLossOptions o;
      o.weight = w;
      o.ignore_index = ignore;
      o.reduction = Reduction::sum;
      total = nll_loss(clamp(log(pred), -100.0, std::nullopt), t, o);
    }
    return mul(total, 1.0 / static_cast<double>(std::max<int64_t>(n, 1)));
  }
  if (name == "binary_crossentropy") {
    KUN_CHECK(cw.size() == 2, ValueError, "fit: class_weight for binary_crossentropy needs 2 entries (class 0, class 1), got ",
              cw.size());
    KUN_CHECK(pred.numel() == y.numel(), ShapeError, "binary_crossentropy: predictions of shape ", pred.shape(),
              " do not match targets of shape ", y.shape());
    // Per-element weights from the 0/1 targets.
    Tensor yc = y.to(DType::f64).contiguous();
    Tensor w = Tensor::empty(pred.shape(), DType::f64);
    const double* py = yc.data<double>();
    double* pw = w.data<double>();
    for (int64_t i = 0; i < yc.numel(); ++i) {
      KUN_CHECK(py[i] == 0.0 || py[i] == 1.0, ValueError, "fit: class_weight with binary_crossentropy needs 0/1 targets, got ",
                py[i]);
      pw[i] = cw[py[i] == 1.0 ? 1 : 0];
    }
    Tensor t = yc.to(pred.dtype()).reshape(pred.shape());
    Variable total;
    if (cfg.value("from_logits", false)) {
      BceWithLogitsOptions o;
      o.weight = w.to(pred.dtype());
      o.reduction = Reduction::sum;
      total = binary_cross_entropy_with_logits(pred, t, o);
    } else {
      BceOptions o;
      o.weight = w.to(pred.dtype());
      o.reduction = Reduction::sum;
      total = binary_cross_entropy(pred, t, o);
    }
    return mul(total, 1.0 / static_cast<double>(std::max<int64_t>(pred.numel(), 1)));
  }
  detail::throw_error<ValueError>("fit: class_weight needs a sparse_categorical_crossentropy or binary_crossentropy ",
                                  "loss; the model was compiled with ", name);
}

Model::StepResult Model::step(const Tensor& x, const Tensor& y, const std::vector<double>& class_weight) {
  StepResult r;
  for (size_t i = 0; i < buffers_.size(); ++i) buffer_backup_[i].copy_(buffers_[i]);
  module_->zero_grad();
  Variable pred = module_->forward(Variable(x));
  if (!optimizer_bound_) bind_optimizer();  // lazily sized layers exist now
  Variable loss = compute_loss(pred, y, class_weight);
  KUN_CHECK(loss.numel() == 1, ShapeError, "Model: the loss must be a scalar, got shape ", loss.shape());
  r.loss = loss.data().item_double();
  r.pred = pred.data();
  loss.backward();
  std::string bad;
  const bool loss_ok = std::isfinite(r.loss);
  const bool grads_ok = optim::grads_finite(params_, &bad, param_names_);
  if (!loss_ok || !grads_ok) {
    std::ostringstream os;
    if (!loss_ok) os << "non-finite loss (loss = " << format_number(r.loss) << ")";
    else os << "non-finite gradient (loss = " << format_number(r.loss) << ")";
    if (!grads_ok) os << "; gradient of '" << bad << "' is not finite";
    r.problem = os.str();
    module_->zero_grad();
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(buffer_backup_[i]);
    return r;
  }
  optimizer_->step();
  return r;
}

static const char* kKeptHint =
    "; the weights of the last good step are kept — lower the learning rate or check the data for NaN";

double Model::train_step(const Tensor& x, const Tensor& y) {
  require_compiled("train_step");
  ModeGuard mode(*module_, true);
  StepResult r = step(x, y, {});
  if (!r.problem.empty()) throw TrainingError("train_step: " + r.problem + kKeptHint);
  return r.loss;
}

// ---------------------------------------------------------------- fit

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& opt) {
  KUN_CHECK(x.defined() && y.defined(), ValueError, "fit: x and y must be defined tensors");
  KUN_CHECK(x.dim() >= 1 && y.dim() >= 1 && x.size(0) == y.size(0), ShapeError,
            "fit: x and y must have the same number of examples (dim 0), got x ", x.shape(), " and y ", y.shape());
  return fit(std::make_shared<const data::TensorDataset>(x, y), opt);
}

History Model::fit(const data::TensorDataset& train, const FitOptions& opt) {
  return fit(std::make_shared<const data::TensorDataset>(train), opt);
}

History Model::fit(std::shared_ptr<const data::Dataset> train, const FitOptions& opt) {
  require_compiled("fit");
  KUN_CHECK(train != nullptr && train->size() > 0, ValueError, "fit: the training dataset is empty");
  KUN_CHECK(opt.epochs >= 0 && opt.initial_epoch >= 0, ValueError, "fit: epochs and initial_epoch must be >= 0, got ",
            opt.epochs, " and ", opt.initial_epoch);
  KUN_CHECK(opt.batch_size > 0, ValueError, "fit: batch_size must be > 0, got ", opt.batch_size);
  KUN_CHECK(opt.validation_split >= 0 && opt.validation_split < 1, ValueError,
            "fit: validation_split must be in [0, 1), got ", opt.validation_split);
  KUN_CHECK(opt.steps_per_epoch >= 0, ValueError, "fit: steps_per_epoch must be >= 0, got ", opt.steps_per_epoch);
  for (size_t c = 0; c < opt.class_weight.size(); ++c)
    KUN_CHECK(std::isfinite(opt.class_weight[c]) && opt.class_weight[c] >= 0, ValueError,
              "fit: class_weight[", c, "] must be finite and >= 0, got ", opt.class_weight[c]);
  if (!opt.class_weight.empty()) {
    const std::string ln = (*loss_)->name();
    KUN_CHECK(ln == "sparse_categorical_crossentropy" || ln == "binary_crossentropy", ValueError,
              "fit: class_weight needs a sparse_categorical_crossentropy or binary_crossentropy loss; the model was "
              "compiled with ",
              ln);
  }

  // Validation: explicit data, or the LAST fraction of the training examples (before shuffling).
  std::shared_ptr<const data::Dataset> train_ds = train, val_ds = opt.validation_data;
  if (!val_ds && opt.validation_split > 0) {
    const int64_t n = train->size();
    const int64_t split_at = static_cast<int64_t>(static_cast<double>(n) * (1.0 - opt.validation_split));
    KUN_CHECK(split_at > 0 && split_at < n, ValueError, "fit: validation_split ", opt.validation_split, " of ", n,
              " examples leaves ", split_at, " for training and ", n - split_at, " for validation; both need at least one");
    train_ds = std::make_shared<IndexedDataset>(train, iota(0, split_at));
    val_ds = std::make_shared<IndexedDataset>(train, iota(split_at, n));
  }
  KUN_CHECK(!val_ds || val_ds->size() > 0, ValueError, "fit: validation_data is empty");

  data::LoaderOptions lo;
  lo.batch_size = opt.batch_size;
  lo.shuffle = opt.shuffle;
  lo.seed = opt.seed;
  lo.transform = opt.transform;
  data::DataLoader loader(train_ds, lo);
  int64_t steps = loader.num_batches();
  if (opt.steps_per_epoch > 0) steps = std::min(steps, opt.steps_per_epoch);

  if (!optimizer_bound_) {
    // Build lazy layers now so callbacks (LR schedules) see the parameters in the optimizer.
    build_with(train_ds->get_batch({0}).x);
    bind_optimizer();
  }

  fit_state_ = FitState{opt.epochs, opt.initial_epoch, opt.batch_size, steps, train_ds->size(),
                        val_ds ? val_ds->size() : 0};
  stop_training = false;
  History history;
  Logs logs;
  ProgressOptions po;
  po.verbose = opt.verbose;
  po.out = opt.progress_out ? opt.progress_out : stdout;
  ProgressBar bar(po);
  EpochRng rng(opt.seed);

  for (auto& cb : opt.callbacks) cb->on_train_begin(*this);
  for (int epoch = opt.initial_epoch; epoch < opt.epochs && !stop_training; ++epoch) {
    rng.start_epoch(epoch);
    for (auto& cb : opt.callbacks) cb->on_epoch_begin(*this, epoch);
    module_->train();
    for (auto& m : metrics_) m->reset();
    bar.begin_epoch(epoch + 1, opt.epochs, steps);

    double loss_sum = 0;
    int64_t seen = 0, step_no = 0;
    Figures running;
    data::Example batch;
    loader.start_epoch(epoch);
    while (step_no < steps && loader.next(batch)) {
      ++step_no;
      StepResult r = step(batch.x, batch.y, opt.class_weight);
      if (!r.problem.empty()) {
        std::ostringstream os;
        os << "fit: " << r.problem.substr(0, r.problem.find(" (")) << " at epoch " << epoch + 1 << ", step " << step_no
           << r.problem.substr(r.problem.find(" (")) << kKeptHint;
        throw TrainingError(os.str());
      }
      const int64_t n = batch.x.size(0);
      loss_sum += r.loss * static_cast<double>(n);
      seen += n;
      for (auto& m : metrics_) m->update(r.pred, batch.y);
      running.clear();
      running.emplace_back("loss", loss_sum / static_cast<double>(seen));
      for (auto& m : metrics_) running.emplace_back(m->name(), m->result());
      bar.update(step_no, running);
      if (!opt.callbacks.empty()) {
        Logs batch_logs(running.begin(), running.end());
        for (auto& cb : opt.callbacks) cb->on_batch_end(*this, step_no, batch_logs);
      }
    }

    Figures epoch_figures = running;
    if (val_ds) {
      Evaluation ev = evaluate_impl(*val_ds, std::max<int64_t>(opt.batch_size, 256), 0, nullptr, "fit");
      for (const auto& [k, v] : ev.values) epoch_figures.emplace_back("val_" + k, v);
    }
    if (opt.verbose == 2 && po.out) std::fprintf(po.out, "Epoch %d/%d - ", epoch + 1, opt.epochs);
    bar.end_epoch(epoch_figures);
    logs = Logs(epoch_figures.begin(), epoch_figures.end());
    history.epochs.push_back(logs);
    epochs_done_ = epoch + 1;
    for (auto& cb : opt.callbacks) cb->on_epoch_end(*this, epoch, logs);
  }
  for (auto& cb : opt.callbacks) cb->on_train_end(*this, logs);
  return history;
}

// ---------------------------------------------------------------- evaluate / predict

Evaluation Model::evaluate_impl(const data::Dataset& ds, int64_t batch_size, int verbose, FILE* out, const char* op) {
  KUN_CHECK(loss_.has_value(), ValueError, "Model::", op,
            ": the model has no loss; call compile(optimizer, loss, metrics) first");
  KUN_CHECK(batch_size > 0, ValueError, "Model::", op, ": batch_size must be > 0, got ", batch_size);
  KUN_CHECK(ds.size() > 0, ValueError, "Model::", op, ": the dataset is empty");
  NoGradGuard ng;
  ModeGuard mode(*module_, false);
  for (auto& m : metrics_) m->reset();
  ProgressOptions po;
  po.verbose = verbose;
  po.out = out ? out : stdout;
  ProgressBar bar(po);
  const int64_t n = ds.size(), steps = (n + batch_size - 1) / batch_size;
  bar.begin_epoch(1, 1, steps);
  double loss_sum = 0;
  Figures figs;
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t b = s * batch_size, e = std::min(n, b + batch_size);
    data::Example batch = ds.get_batch(iota(b, e));
    Variable pred = module_->forward(Variable(batch.x));
    Variable loss = (**loss_)(pred, batch.y);
    loss_sum += loss.data().item_double() * static_cast<double>(e - b);
    for (auto& m : metrics_) m->update(pred.data(), batch.y);
    figs.clear();
    figs.emplace_back("loss", loss_sum / static_cast<double>(e));
    for (auto& m : metrics_) figs.emplace_back(m->name(), m->result());
    bar.update(s + 1, figs);
  }
  bar.end_epoch(figs);
  Evaluation ev;
  ev.values = figs;
  return ev;
}

Evaluation Model::evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& opt) {
  KUN_CHECK(x.defined() && y.defined(), ValueError, "evaluate: x and y must be defined tensors");
  KUN_CHECK(x.dim() >= 1 && y.dim() >= 1 && x.size(0) == y.size(0), ShapeError,
            "evaluate: x and y must have the same number of examples (dim 0), got x ", x.shape(), " and y ", y.shape());
  return evaluate(data::TensorDataset(x, y), opt);
}

Evaluation Model::evaluate(const data::Dataset& test, const EvaluateOptions& opt) {
  return evaluate_impl(test, opt.batch_size, opt.verbose, opt.progress_out, "evaluate");
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  KUN_CHECK(x.defined() && x.dim() >= 1, ValueError, "predict: x must be a tensor (N, ...), got ",
            x.defined() ? x.shape() : Shape{});
  KUN_CHECK(batch_size > 0, ValueError, "predict: batch_size must be > 0, got ", batch_size);
  NoGradGuard ng;
  ModeGuard mode(*module_, false);
  const int64_t n = x.size(0);
  Tensor out;
  for (int64_t b = 0; b < n; b += batch_size) {
    const int64_t len = std::min(batch_size, n - b);
    Tensor y = module_->forward(Variable(x.narrow(0, b, len))).data();
    KUN_CHECK(y.dim() >= 1 && y.size(0) == len, ShapeError, "predict: the model returned ", y.shape(), " for a batch of ",
              len, " examples; outputs must keep the batch dim first");
    if (!out.defined()) {
      if (len == n) return y.is_contiguous() ? y : y.contiguous();
      Shape s = y.shape();
      s[0] = n;
      out = Tensor::empty(s, y.dtype());
    }
    out.narrow(0, b, len).copy_(y);
  }
  if (!out.defined()) out = Tensor::empty(Shape{0}, DType::f32);  // no examples
  return out;
}

std::string Model::summary(const Shape& input_shape, DType dtype) { return nn::summary(*module_, input_shape, dtype); }

}  // namespace kun::train
