// Loss objects (Keras names) over the functional losses of kun/autograd/loss.h. Pass them to
// Model::compile by value: `loss::SparseCategoricalCrossentropy({.from_logits = true})`.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "kun/autograd/variable.h"

namespace kun::loss {

using json = nlohmann::json;

class Loss {
 public:
  virtual ~Loss() = default;
  // pred: the model's output; target: labels (class ids or values). Returns the mean loss.
  virtual Variable operator()(const Variable& pred, const Tensor& target) const = 0;
  virtual std::string name() const = 0;
  virtual json config() const { return json::object(); }
};

class AnyLoss {
 public:
  template <typename L, typename = std::enable_if_t<std::is_base_of_v<Loss, L>>>
  AnyLoss(L l) : p_(std::make_shared<L>(std::move(l))) {}
  explicit AnyLoss(std::shared_ptr<Loss> p) : p_(std::move(p)) {}
  const Loss& operator*() const { return *p_; }
  const Loss* operator->() const { return p_.get(); }
  bool defined() const { return p_ != nullptr; }

 private:
  std::shared_ptr<Loss> p_;
};

class MeanSquaredError : public Loss {
 public:
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "mean_squared_error"; }
};

class MeanAbsoluteError : public Loss {
 public:
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "mean_absolute_error"; }
};

struct HuberOptions {
  double delta = 1.0;
};
class Huber : public Loss {
 public:
  explicit Huber(HuberOptions opt = {}) : opt_(opt) {}
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "huber"; }
  json config() const override { return {{"delta", opt_.delta}}; }

 private:
  HuberOptions opt_;
};

struct BinaryCrossentropyOptions {
  bool from_logits = false;  // false: pred holds probabilities (after a sigmoid)
};
// pred and target of the same shape; target in [0, 1].
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(BinaryCrossentropyOptions opt = {}) : opt_(opt) {}
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "binary_crossentropy"; }
  json config() const override { return {{"from_logits", opt_.from_logits}}; }

 private:
  BinaryCrossentropyOptions opt_;
};

struct CategoricalCrossentropyOptions {
  bool from_logits = false;  // false: pred holds probabilities (after a softmax)
  double label_smoothing = 0.0;
};
// pred (N, C); target (N, C) one-hot or probabilities.
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(CategoricalCrossentropyOptions opt = {}) : opt_(opt) {}
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "categorical_crossentropy"; }
  json config() const override { return {{"from_logits", opt_.from_logits}, {"label_smoothing", opt_.label_smoothing}}; }

 private:
  CategoricalCrossentropyOptions opt_;
};

struct SparseCategoricalCrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  int64_t ignore_index = -100;
};
// pred (N, C) (or (N, C, d...)); target int64 class ids (N) (or (N, d...)).
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(SparseCategoricalCrossentropyOptions opt = {}) : opt_(opt) {}
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "sparse_categorical_crossentropy"; }
  json config() const override {
    return {{"from_logits", opt_.from_logits}, {"label_smoothing", opt_.label_smoothing},
            {"ignore_index", opt_.ignore_index}};
  }

 private:
  SparseCategoricalCrossentropyOptions opt_;
};

// KL(target || pred): pred holds probabilities (or log-probabilities with from_log), averaged per sample.
struct KLDivergenceOptions {
  bool from_log = false;
};
class KLDivergence : public Loss {
 public:
  explicit KLDivergence(KLDivergenceOptions opt = {}) : opt_(opt) {}
  Variable operator()(const Variable& pred, const Tensor& target) const override;
  std::string name() const override { return "kl_divergence"; }
  json config() const override { return {{"from_log", opt_.from_log}}; }

 private:
  KLDivergenceOptions opt_;
};

// Builds a loss from its name ("mse", "mean_squared_error", "mae", "huber", "binary_crossentropy",
// "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence") and options.
AnyLoss from_name(const std::string& name, const json& options = json::object());

}  // namespace kun::loss
