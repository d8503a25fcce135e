#include "kun/nn/loss.h"

#include "kun/autograd/ops.h"

namespace kun::loss {

namespace {
// Probabilities -> log-probabilities, clamped so log(0) stays finite (-100 like PyTorch's BCE).
Variable safe_log(const Variable& p) { return clamp(log(p), -100.0, std::nullopt); }

void check_same_numel(const Variable& pred, const Tensor& target, const char* who) {
  KUN_CHECK(pred.numel() == target.numel(), ShapeError, who, ": predictions of shape ", pred.shape(),
            " do not match targets of shape ", target.shape());
}
Tensor as_float_like(const Tensor& target, const Variable& pred) {
  Tensor t = target.dtype() == pred.dtype() ? target : target.to(pred.dtype());
  return t.shape() == pred.shape() ? t : t.reshape(pred.shape());
}
}  // namespace

Variable MeanSquaredError::operator()(const Variable& pred, const Tensor& target) const {
  check_same_numel(pred, target, "mean_squared_error");
  return mse_loss(pred, Variable(as_float_like(target, pred)));
}

Variable MeanAbsoluteError::operator()(const Variable& pred, const Tensor& target) const {
  check_same_numel(pred, target, "mean_absolute_error");
  return l1_loss(pred, Variable(as_float_like(target, pred)));
}

Variable Huber::operator()(const Variable& pred, const Tensor& target) const {
  check_same_numel(pred, target, "huber");
  RegressionLossOptions o;
  o.delta = opt_.delta;
  return huber_loss(pred, Variable(as_float_like(target, pred)), o);
}

Variable BinaryCrossentropy::operator()(const Variable& pred, const Tensor& target) const {
  check_same_numel(pred, target, "binary_crossentropy");
  Tensor t = as_float_like(target, pred);
  return opt_.from_logits ? binary_cross_entropy_with_logits(pred, t) : binary_cross_entropy(pred, t);
}

Variable CategoricalCrossentropy::operator()(const Variable& pred, const Tensor& target) const {
  KUN_CHECK(pred.shape() == target.shape(), ShapeError, "categorical_crossentropy: targets must be one-hot or ",
            "probabilities shaped like the predictions ", pred.shape(), ", got ", target.shape(),
            "; for class ids use sparse_categorical_crossentropy");
  CrossEntropyOptions o;
  o.label_smoothing = opt_.label_smoothing;
  Tensor t = target.dtype() == pred.dtype() ? target : target.to(pred.dtype());
  if (opt_.from_logits) return cross_entropy(pred, t, o);
  // probabilities: -sum(t * log p) per row, with smoothing applied to the targets
  Variable lp = safe_log(pred);
  Tensor ts = t;
  if (opt_.label_smoothing > 0) {
    double c = static_cast<double>(pred.size(1));
    ts = add(mul(t, 1.0 - opt_.label_smoothing), opt_.label_smoothing / c);
  }
  return mean(neg(sum(mul(lp, Variable(ts)), {1})));
}

Variable SparseCategoricalCrossentropy::operator()(const Variable& pred, const Tensor& target) const {
  KUN_CHECK(is_integral(target.dtype()), TypeError, "sparse_categorical_crossentropy: targets must be integer class ids, ",
            "got ", target.dtype(), "; for one-hot targets use categorical_crossentropy");
  Tensor t = target.dtype() == DType::i64 ? target : target.to(DType::i64);
  if (opt_.from_logits) {
    CrossEntropyOptions o;
    o.label_smoothing = opt_.label_smoothing;
    o.ignore_index = opt_.ignore_index;
    return cross_entropy(pred, t, o);
  }
  KUN_CHECK(opt_.label_smoothing == 0, ValueError,
            "sparse_categorical_crossentropy: label_smoothing needs from_logits=true");
  NllLossOptions o;
  o.ignore_index = opt_.ignore_index;
  return nll_loss(safe_log(pred), t, o);
}

Variable KLDivergence::operator()(const Variable& pred, const Tensor& target) const {
  KUN_CHECK(pred.shape() == target.shape(), ShapeError, "kl_divergence: predictions ", pred.shape(),
            " and targets ", target.shape(), " must have the same shape");
  KlDivOptions o;
  o.reduction = Reduction::batchmean;
  Tensor t = target.dtype() == pred.dtype() ? target : target.to(pred.dtype());
  return kl_div(opt_.from_log ? pred : safe_log(pred), t, o);
}

AnyLoss from_name(const std::string& n, const json& o) {
  if (n == "mse" || n == "mean_squared_error") return MeanSquaredError();
  if (n == "mae" || n == "mean_absolute_error") return MeanAbsoluteError();
  if (n == "huber") return Huber({o.value("delta", 1.0)});
  if (n == "binary_crossentropy") return BinaryCrossentropy({o.value("from_logits", false)});
  if (n == "categorical_crossentropy")
    return CategoricalCrossentropy({o.value("from_logits", false), o.value("label_smoothing", 0.0)});
  if (n == "sparse_categorical_crossentropy")
    return SparseCategoricalCrossentropy(
        {o.value("from_logits", false), o.value("label_smoothing", 0.0), o.value("ignore_index", int64_t{-100})});
  if (n == "kl_divergence" || n == "kld") return KLDivergence({o.value("from_log", false)});
  detail::throw_error<ValueError>("unknown loss '", n,
                                  "': expected mse, mae, huber, binary_crossentropy, categorical_crossentropy, "
                                  "sparse_categorical_crossentropy or kl_divergence");
}

}  // namespace kun::loss
