#include "kun/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace kun::metric {

namespace {

// Predicted class per row of an (N, C) prediction, or per element of a binary prediction.
std::vector<int64_t> predicted_classes(const Tensor& pred, const Tensor& target, double threshold, const char* who) {
  std::vector<int64_t> out;
  if (pred.dim() == 2 && (target.dim() == 1 || (target.dim() == 2 && target.shape() == pred.shape()))) {
    KUN_CHECK(pred.size(0) == target.size(0), ShapeError, who, ": predictions have ", pred.size(0),
              " rows but the targets have ", target.size(0));
    std::vector<double> v = pred.to_vector<double>();
    int64_t n = pred.size(0), c = pred.size(1);
    out.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const double* row = v.data() + i * c;
      out[i] = std::max_element(row, row + c) - row;
    }
    return out;
  }
  KUN_CHECK(pred.numel() == target.numel(), ShapeError, who, ": predictions of shape ", pred.shape(),
            " do not match targets of shape ", target.shape(),
            "; expected (N, C) scores with (N) labels, or binary scores shaped like the targets");
  for (double x : pred.to_vector<double>()) out.push_back(x > threshold ? 1 : 0);
  return out;
}

// True class per sample: integer labels as they are, one-hot / probability rows by argmax.
std::vector<int64_t> true_classes(const Tensor& pred, const Tensor& target, const char* who) {
  if (target.dim() == 2 && pred.dim() == 2 && target.shape() == pred.shape()) {
    std::vector<double> v = target.to_vector<double>();
    int64_t n = target.size(0), c = target.size(1);
    std::vector<int64_t> out(n);
    for (int64_t i = 0; i < n; ++i) out[i] = std::max_element(v.data() + i * c, v.data() + (i + 1) * c) - (v.data() + i * c);
    return out;
  }
  std::vector<int64_t> out;
  for (double x : target.to_vector<double>()) {
    KUN_CHECK(std::isfinite(x) && x >= 0 && x == std::floor(x), ValueError, who,
              ": targets must be non-negative class indices, got ", x);
    out.push_back(static_cast<int64_t>(x));
  }
  return out;
}

}  // namespace

void Accuracy::update(const Tensor& pred, const Tensor& target) {
  std::vector<int64_t> p, t;
  AccuracyKind k = opt_.kind;
  if (k == AccuracyKind::auto_)
    k = (pred.dim() == 2 && target.dim() == 1)                                  ? AccuracyKind::sparse_categorical
        : (pred.dim() == 2 && pred.shape() == target.shape() && pred.size(1) > 1) ? AccuracyKind::categorical
                                                                                 : AccuracyKind::binary;
  if (k == AccuracyKind::binary) {
    KUN_CHECK(pred.numel() == target.numel(), ShapeError, "accuracy: binary predictions of shape ", pred.shape(),
              " do not match targets of shape ", target.shape());
    auto pv = pred.to_vector<double>(), tv = target.to_vector<double>();
    for (size_t i = 0; i < pv.size(); ++i) correct_ += (pv[i] > opt_.threshold) == (tv[i] > 0.5);
    total_ += static_cast<int64_t>(pv.size());
    return;
  }
  KUN_CHECK(pred.dim() == 2, ShapeError, "accuracy: categorical predictions must be (N, C), got ", pred.shape());
  p = predicted_classes(pred, target, opt_.threshold, "accuracy");
  t = true_classes(pred, target, "accuracy");
  KUN_CHECK(p.size() == t.size(), ShapeError, "accuracy: ", p.size(), " predictions but ", t.size(), " targets");
  for (size_t i = 0; i < p.size(); ++i) correct_ += p[i] == t[i];
  total_ += static_cast<int64_t>(p.size());
}

void ConfusionMatrix::ensure(int64_t c) {
  if (c <= num_classes_ && !counts_.empty()) return;
  int64_t n = std::max(c, num_classes_);
  std::vector<int64_t> nc(n * n, 0);
  for (int64_t i = 0; i < num_classes_ && !counts_.empty(); ++i)
    for (int64_t j = 0; j < num_classes_; ++j) nc[i * n + j] = counts_[i * num_classes_ + j];
  counts_ = std::move(nc);
  num_classes_ = n;
}

void ConfusionMatrix::update(const Tensor& pred, const Tensor& target) {
  auto p = predicted_classes(pred, target, threshold_, "confusion_matrix");
  auto t = true_classes(pred, target, "confusion_matrix");
  KUN_CHECK(p.size() == t.size(), ShapeError, "confusion_matrix: ", p.size(), " predictions but ", t.size(),
            " targets");
  int64_t c = pred.dim() == 2 && target.dim() <= 2 && pred.size(1) > 1 ? pred.size(1) : 2;
  for (int64_t x : t) c = std::max(c, x + 1);
  ensure(c);
  for (size_t i = 0; i < p.size(); ++i) ++counts_[t[i] * num_classes_ + p[i]];
}

double ConfusionMatrix::result() const {
  int64_t tr = 0, tot = 0;
  for (int64_t i = 0; i < num_classes_; ++i)
    for (int64_t j = 0; j < num_classes_; ++j) {
      tot += count(i, j);
      if (i == j) tr += count(i, j);
    }
  return tot ? double(tr) / double(tot) : 0.0;
}

Tensor ConfusionMatrix::matrix() const {
  return from_vector<int64_t>(counts_, {num_classes_, num_classes_});
}

std::string ConfusionMatrix::str(const std::vector<std::string>& labels) const {
  std::ostringstream os;
  auto label = [&](int64_t i) { return i < int64_t(labels.size()) ? labels[i] : std::to_string(i); };
  size_t w = 6;
  for (int64_t i = 0; i < num_classes_; ++i) w = std::max(w, label(i).size() + 1);
  for (int64_t i = 0; i < num_classes_; ++i)
    for (int64_t j = 0; j < num_classes_; ++j) w = std::max(w, std::to_string(count(i, j)).size() + 1);
  os << std::string(w, ' ') << " predicted ->\n" << std::string(w, ' ');
  for (int64_t j = 0; j < num_classes_; ++j) os << std::string(w - label(j).size(), ' ') << label(j);
  os << "\n";
  for (int64_t i = 0; i < num_classes_; ++i) {
    os << std::string(w - label(i).size(), ' ') << label(i);
    for (int64_t j = 0; j < num_classes_; ++j) {
      std::string v = std::to_string(count(i, j));
      os << std::string(w - v.size(), ' ') << v;
    }
    os << "\n";
  }
  return os.str();
}

namespace {
struct PRF {
  double p, r, f;
};
PRF prf(const ConfusionMatrix& cm, const PRFOptions& o) {
  int64_t C = cm.num_classes();
  auto cls = [&](int64_t k) {
    int64_t tp = cm.count(k, k), pred = 0, truth = 0;
    for (int64_t i = 0; i < C; ++i) {
      pred += cm.count(i, k);
      truth += cm.count(k, i);
    }
    double p = pred ? double(tp) / double(pred) : 0.0, r = truth ? double(tp) / double(truth) : 0.0;
    return PRF{p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0};
  };
  if (C == 0) return {0, 0, 0};
  if (o.average == Average::binary) {
    KUN_CHECK(o.positive_class < C, ValueError, "precision/recall/f1: positive_class ", o.positive_class,
              " is not among the ", C, " classes seen");
    return cls(o.positive_class);
  }
  if (o.average == Average::micro) {
    int64_t tp = 0, tot = 0;
    for (int64_t i = 0; i < C; ++i)
      for (int64_t j = 0; j < C; ++j) {
        tot += cm.count(i, j);
        if (i == j) tp += cm.count(i, j);
      }
    double a = tot ? double(tp) / double(tot) : 0.0;  // single-label: micro P = R = F1 = accuracy
    return {a, a, a};
  }
  PRF s{0, 0, 0};
  for (int64_t k = 0; k < C; ++k) {
    PRF c = cls(k);
    s.p += c.p;
    s.r += c.r;
    s.f += c.f;
  }
  return {s.p / double(C), s.r / double(C), s.f / double(C)};
}
}  // namespace

double Precision::result() const { return prf(cm_, opt_).p; }
double Recall::result() const { return prf(cm_, opt_).r; }
double F1::result() const { return prf(cm_, opt_).f; }

void AUC::update(const Tensor& pred, const Tensor& target) {
  Tensor p = pred;
  if (pred.dim() == 2 && pred.size(1) == 2 && target.dim() == 1) p = pred.select(1, 1);
  KUN_CHECK(p.numel() == target.numel(), ShapeError, "auc: predictions of shape ", pred.shape(),
            " do not match targets of shape ", target.shape(), "; expected one score per target");
  for (double x : p.to_vector<double>()) scores_.push_back(x);
  for (double y : target.to_vector<double>()) {
    KUN_CHECK(y == 0 || y == 1, ValueError, "auc: targets must be 0 or 1, got ", y);
    labels_.push_back(static_cast<uint8_t>(y));
  }
}

double AUC::result() const {
  // Mann-Whitney U with average ranks for ties.
  size_t n = scores_.size();
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores_[a] < scores_[b]; });
  double rank_sum = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores_[idx[j]] == scores_[idx[i]]) ++j;
    double avg = (double(i) + double(j - 1)) / 2.0 + 1.0;
    for (size_t k = i; k < j; ++k)
      if (labels_[idx[k]]) {
        rank_sum += avg;
        ++pos;
      }
    i = j;
  }
  int64_t neg = static_cast<int64_t>(n) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - double(pos) * double(pos + 1) / 2.0) / (double(pos) * double(neg));
}

void MAE::update(const Tensor& pred, const Tensor& target) {
  KUN_CHECK(pred.numel() == target.numel(), ShapeError, name(), ": predictions of shape ", pred.shape(),
            " do not match targets of shape ", target.shape());
  auto p = pred.to_vector<double>(), t = target.to_vector<double>();
  for (size_t i = 0; i < p.size(); ++i) sum_ += std::abs(p[i] - t[i]);
  n_ += static_cast<int64_t>(p.size());
}

void MSE::update(const Tensor& pred, const Tensor& target) {
  KUN_CHECK(pred.numel() == target.numel(), ShapeError, name(), ": predictions of shape ", pred.shape(),
            " do not match targets of shape ", target.shape());
  auto p = pred.to_vector<double>(), t = target.to_vector<double>();
  for (size_t i = 0; i < p.size(); ++i) sum_ += (p[i] - t[i]) * (p[i] - t[i]);
  n_ += static_cast<int64_t>(p.size());
}

double RMSE::result() const { return std::sqrt(MSE::result()); }

AnyMetric from_name(const std::string& n) {
  if (n == "accuracy" || n == "acc") return Accuracy();
  if (n == "precision") return Precision();
  if (n == "recall") return Recall();
  if (n == "f1") return F1();
  if (n == "auc") return AUC();
  if (n == "mae") return MAE();
  if (n == "mse") return MSE();
  if (n == "rmse") return RMSE();
  if (n == "confusion_matrix") return ConfusionMatrix();
  detail::throw_error<ValueError>("unknown metric '", n,
                                  "': expected one of accuracy, precision, recall, f1, auc, mae, mse, rmse, "
                                  "confusion_matrix");
}

}  // namespace kun::metric
