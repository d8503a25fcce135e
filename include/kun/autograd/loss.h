// Differentiable losses (forward and backward in src/autograd/loss.cpp), matching
// torch.nn.functional. Options structs and Reduction come from kun/tensor/ops_loss.h.
// Class targets, probability targets and weights are plain Tensors (no gradient); the regression
// losses also differentiate w.r.t. their target.
#pragma once
#include "kun/autograd/variable.h"
#include "kun/tensor/ops_loss.h"

namespace kun {

Variable cross_entropy(const Variable& logits, const Tensor& target, const CrossEntropyOptions& opt = {});
Variable nll_loss(const Variable& log_probs, const Tensor& target, const NllLossOptions& opt = {});
Variable binary_cross_entropy_with_logits(const Variable& logits, const Tensor& target,
                                          const BceWithLogitsOptions& opt = {});
Variable binary_cross_entropy(const Variable& input, const Tensor& target, const BceOptions& opt = {});
Variable mse_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt = {});
Variable l1_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt = {});
Variable huber_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt = {});
Variable smooth_l1_loss(const Variable& input, const Variable& target, const RegressionLossOptions& opt = {});
Variable kl_div(const Variable& input, const Tensor& target, const KlDivOptions& opt = {});

}  // namespace kun
