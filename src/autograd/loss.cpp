// Forward and backward of the losses, side by side. Backward kernels are in src/tensor/cpu/loss.cpp;
// each recomputes what it needs from the input (e.g. cross-entropy's per-row log-sum-exp) instead
// of keeping a (N, C) temporary alive between forward and backward.
#include "kun/autograd/loss.h"

#include "kun/tensor/ops.h"

namespace kun {

Variable cross_entropy(const Variable& logits, const Tensor& target, const CrossEntropyOptions& opt) {
  return make_result(cross_entropy(logits.data(), target, opt), {logits}, "cross_entropy",
                     [target, opt](const Tensor& g, Node& n) {
                       const Variable& x = n.inputs[0];
                       x.accumulate_grad(cross_entropy_backward(g, x.data(), target, opt));
                     });
}

Variable nll_loss(const Variable& log_probs, const Tensor& target, const NllLossOptions& opt) {
  return make_result(nll_loss(log_probs.data(), target, opt), {log_probs}, "nll_loss",
                     [target, opt](const Tensor& g, Node& n) {
                       const Variable& x = n.inputs[0];
                       x.accumulate_grad(nll_loss_backward(g, x.data(), target, opt));
                     });
}

Variable binary_cross_entropy_with_logits(const Variable& logits, const Tensor& target,
                                          const BceWithLogitsOptions& opt) {
  return make_result(binary_cross_entropy_with_logits(logits.data(), target, opt), {logits},
                     "binary_cross_entropy_with_logits", [target, opt](const Tensor& g, Node& n) {
                       const Variable& x = n.inputs[0];
                       x.accumulate_grad(binary_cross_entropy_with_logits_backward(g, x.data(), target, opt));
                     });
}

Variable binary_cross_entropy(const Variable& input, const Tensor& target, const BceOptions& opt) {
  return make_result(binary_cross_entropy(input.data(), target, opt), {input}, "binary_cross_entropy",
                     [target, opt](const Tensor& g, Node& n) {
                       const Variable& x = n.inputs[0];
                       x.accumulate_grad(binary_cross_entropy_backward(g, x.data(), target, opt));
                     });
}

namespace {
Variable regression(RegressionKind kind, Tensor out, const Variable& input, const Variable& target,
                    const RegressionLossOptions& opt, const char* name) {
  return make_result(std::move(out), {input, target}, name, [kind, opt](const Tensor& g, Node& n) {
    const Variable &x = n.inputs[0], &t = n.inputs[1];
    Tensor gx = regression_loss_backward(kind, g, x.data(), t.data(), opt);
    if (x.requires_grad()) x.accumulate_grad(gx);
    if (t.requires_grad()) t.accumulate_grad(neg(gx));  // the loss depends on input - target
  });
}
}  // namespace

Variable mse_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt) {
  return regression(RegressionKind::mse, mse_loss(input.data(), target.data(), opt), input, target, opt, "mse_loss");
}
Variable l1_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt) {
  return regression(RegressionKind::l1, l1_loss(input.data(), target.data(), opt), input, target, opt, "l1_loss");
}
Variable huber_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt) {
  return regression(RegressionKind::huber, huber_loss(input.data(), target.data(), opt), input, target, opt,
                    "huber_loss");
}
Variable smooth_l1_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt) {
  return regression(RegressionKind::smooth_l1, smooth_l1_loss(input.data(), target.data(), opt), input, target, opt,
                    "smooth_l1_loss");
}

Variable kl_div(const Variable& input, const Tensor& target, const KlDivOptions& opt) {
  return make_result(kl_div(input.data(), target, opt), {input}, "kl_div", [target, opt](const Tensor& g, Node& n) {
    const Variable& x = n.inputs[0];
    x.accumulate_grad(kl_div_backward(g, x.data(), target, opt));
  });
}

}  // namespace kun
