// Loss functions (no autograd; see kun/autograd/loss.h), matching torch.nn.functional.
// Each loss has a forward and a backward kernel; backward takes d(loss)/d(output) (a scalar for
// mean/sum, the per-element shape for none) and returns the gradient w.r.t. the input.
#pragma once
#include <cstdint>

#include "kun/tensor/tensor.h"

namespace kun {

enum class Reduction {
  none,       // per-element losses
  mean,       // sum / count (weighted losses divide by the summed weights, like PyTorch)
  sum,
  batchmean,  // kl_div only: sum / input.size(0)
};

// ---- classification ----
struct CrossEntropyOptions {
  Tensor weight{};                  // (C) class weights, optional
  int64_t ignore_index = -100;    // class-index targets equal to this contribute nothing
  double label_smoothing = 0.0;   // in [0, 1]
  Reduction reduction = Reduction::mean;
};
// logits: (N, C) or (N, C, d1, ...) (or (C) for one sample).
// target: int64 class indices (N) / (N, d1, ...), or float class probabilities shaped like logits.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& opt = {});
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                              const CrossEntropyOptions& opt = {});

struct NllLossOptions {
  Tensor weight{};                // (C), optional
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};
// log_probs: (N, C) / (N, C, d1, ...) / (C); target int64 class indices.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& opt = {});
Tensor nll_loss_backward(const Tensor& grad, const Tensor& log_probs, const Tensor& target,
                         const NllLossOptions& opt = {});

struct BceWithLogitsOptions {
  Tensor weight{};      // broadcastable to the input, optional
  Tensor pos_weight{};  // broadcastable to the input along the last dim (C), optional
  Reduction reduction = Reduction::mean;
};
// Stable: max(x, 0) - x*t + log1p(exp(-|x|)) form; finite for any finite logits.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const BceWithLogitsOptions& opt = {});
Tensor binary_cross_entropy_with_logits_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                                                 const BceWithLogitsOptions& opt = {});

struct BceOptions {
  Tensor weight{};  // broadcastable to the input, optional
  Reduction reduction = Reduction::mean;
};
// input: probabilities in [0, 1]; each log is clamped at -100 like PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BceOptions& opt = {});
Tensor binary_cross_entropy_backward(const Tensor& grad, const Tensor& input, const Tensor& target,
                                     const BceOptions& opt = {});

// ---- regression (input and target of the same shape) ----
struct RegressionLossOptions {
  Reduction reduction = Reduction::mean;
  double delta = 1.0;  // huber_loss
  double beta = 1.0;   // smooth_l1_loss
};
Tensor mse_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& opt = {});
Tensor l1_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& opt = {});
Tensor huber_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& opt = {});
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& opt = {});
enum class RegressionKind { mse, l1, huber, smooth_l1 };
// Gradient w.r.t. input (the gradient w.r.t. target is its negation).
Tensor regression_loss_backward(RegressionKind kind, const Tensor& grad, const Tensor& input, const Tensor& target,
                                const RegressionLossOptions& opt = {});

struct KlDivOptions {
  Reduction reduction = Reduction::mean;  // PyTorch's default; batchmean is the mathematically right one
  bool log_target = false;                // target given as log-probabilities
};
// input: log-probabilities; target: probabilities (or log-probabilities with log_target).
Tensor kl_div(const Tensor& input, const Tensor& target, const KlDivOptions& opt = {});
Tensor kl_div_backward(const Tensor& grad, const Tensor& input, const Tensor& target, const KlDivOptions& opt = {});

}  // namespace kun
