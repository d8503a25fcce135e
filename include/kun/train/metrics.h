// Metrics: accumulate over batches (update), report one number (result), start again (reset).
// Pass them to Model::compile by value: `{metric::Accuracy(), metric::F1({.average = Average::macro})}`.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun::metric {

class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;
  virtual void reset() = 0;
  // pred: the model's output for a batch; target: the labels (see each metric for the forms).
  virtual void update(const Tensor& pred, const Tensor& target) = 0;
  virtual double result() const = 0;
};

// Holds any metric by value so `{metric::Accuracy(), metric::MAE()}` builds a list.
class AnyMetric {
 public:
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Metric, M>>>
  AnyMetric(M m) : p_(std::make_shared<M>(std::move(m))) {}
  explicit AnyMetric(std::shared_ptr<Metric> p) : p_(std::move(p)) {}
  Metric& operator*() const { return *p_; }
  Metric* operator->() const { return p_.get(); }
  const std::shared_ptr<Metric>& ptr() const { return p_; }

 private:
  std::shared_ptr<Metric> p_;
};

// Which form of accuracy: `auto_` picks from the shapes — pred (N, C) with integer target (N) is
// sparse categorical (argmax), pred (N, C) with target (N, C) is categorical (argmax of both), and
// pred and target of the same shape otherwise are binary (pred > threshold).
enum class AccuracyKind { auto_, binary, categorical, sparse_categorical };

struct AccuracyOptions {
  AccuracyKind kind = AccuracyKind::auto_;
  double threshold = 0.5;  // binary: use 0.0 when pred holds logits
};

class Accuracy : public Metric {
 public:
  explicit Accuracy(AccuracyOptions opt = {}) : opt_(opt) {}
  std::string name() const override { return "accuracy"; }
  void reset() override { correct_ = total_ = 0; }
  void update(const Tensor& pred, const Tensor& target) override;
  double result() const override { return total_ ? double(correct_) / double(total_) : 0.0; }

 private:
  AccuracyOptions opt_;
  int64_t correct_ = 0, total_ = 0;
};

// Counts (true class, predicted class) pairs. Classes come from argmax over pred's dim 1 for
// (N, C) predictions, or from pred > threshold for binary predictions of target's shape.
class ConfusionMatrix : public Metric {
 public:
  explicit ConfusionMatrix(int64_t num_classes = 0, double threshold = 0.5)
      : num_classes_(num_classes), threshold_(threshold) {}
  std::string name() const override { return "confusion_matrix"; }
  void reset() override { counts_.assign(counts_.size(), 0); }
  void update(const Tensor& pred, const Tensor& target) override;
  double result() const override;  // accuracy (the trace over the total)
  int64_t num_classes() const { return num_classes_; }
  int64_t count(int64_t truth, int64_t predicted) const { return counts_[truth * num_classes_ + predicted]; }
  Tensor matrix() const;  // (C, C) int64, rows = true class
  std::string str(const std::vector<std::string>& labels = {}) const;

 private:
  void ensure(int64_t c);
  int64_t num_classes_;
  double threshold_;
  std::vector<int64_t> counts_;
};

enum class Average { macro, micro, binary };

struct PRFOptions {
  Average average = Average::macro;
  int64_t positive_class = 1;  // for Average::binary
  double threshold = 0.5;
};

// Precision, recall and F1 from a confusion matrix. A class with no predicted (precision) or no
// true (recall) samples contributes 0, as scikit-learn's zero_division=0.
class Precision : public Metric {
 public:
  explicit Precision(PRFOptions opt = {}) : opt_(opt), cm_(0, opt.threshold) {}
  std::string name() const override { return "precision"; }
  void reset() override { cm_.reset(); }
  void update(const Tensor& pred, const Tensor& target) override { cm_.update(pred, target); }
  double result() const override;

 protected:
  PRFOptions opt_;
  ConfusionMatrix cm_;
};
class Recall : public Precision {
 public:
  explicit Recall(PRFOptions opt = {}) : Precision(opt) {}
  std::string name() const override { return "recall"; }
  double result() const override;
};
class F1 : public Precision {
 public:
  explicit F1(PRFOptions opt = {}) : Precision(opt) {}
  std::string name() const override { return "f1"; }
  double result() const override;
};

// Binary ROC AUC: pred holds scores (probabilities or logits) of the positive class, target 0/1.
class AUC : public Metric {
 public:
  std::string name() const override { return "auc"; }
  void reset() override {
    scores_.clear();
    labels_.clear();
  }
  void update(const Tensor& pred, const Tensor& target) override;
  double result() const override;

 private:
  std::vector<double> scores_;
  std::vector<uint8_t> labels_;
};

// Regression metrics over every element.
class MAE : public Metric {
 public:
  std::string name() const override { return "mae"; }
  void reset() override { sum_ = 0, n_ = 0; }
  void update(const Tensor& pred, const Tensor& target) override;
  double result() const override { return n_ ? sum_ / double(n_) : 0.0; }

 protected:
  double sum_ = 0;
  int64_t n_ = 0;
};
class MSE : public MAE {
 public:
  std::string name() const override { return "mse"; }
  void update(const Tensor& pred, const Tensor& target) override;
};
class RMSE : public MSE {
 public:
  std::string name() const override { return "rmse"; }
  double result() const override;
};

// Builds a metric from its name ("accuracy", "precision", "recall", "f1", "auc", "mae", "mse",
// "rmse", "confusion_matrix"); throws ValueError listing the names for anything else.
AnyMetric from_name(const std::string& name);

}  // namespace kun::metric
