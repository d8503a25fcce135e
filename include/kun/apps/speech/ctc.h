// Connectionist Temporal Classification on Tensors: the loss with its gradient (alpha-beta in log
// space, float64 accumulation), greedy and prefix beam-search decoding, and edit-distance metrics.
//
// Semantics follow torch.nn.functional.ctc_loss: log_probs (T, N, C) are log-softmax outputs,
// targets (N, S) padded or 1-D concatenated, reduction "mean" divides each loss by its target length
// (at least 1) then averages over the batch, zero_infinity zeroes infeasible samples and their grads.
//
// Gradient convention. CtcGrad::log_probs (default) returns the exact d loss / d log_probs,
//   grad[t, n, c] = -exp(log_alpha_beta[t, n, c] - log_probs[t, n, c] + nll[n]) * scale[n],
// which finite differences confirm. PyTorch instead returns exp(log_probs) + that (CtcGrad::torch):
// the gradient with respect to the logits *before* log_softmax, valid only when log_probs really come
// from log_softmax. Both give identical logit gradients after log_softmax's backward; use the exact
// one with a general autograd (log_softmax's own backward then adds the softmax term).
//
// Wrapping as a differentiable op (autograd layer, later):
//   CtcResult r = ctc_loss_forward(log_probs.data(), targets, in_lens, tgt_lens, opt);
//   return make_result(r.loss, {log_probs}, "ctc_loss",
//       [g = r.grad](const Tensor& grad_out, Node& n) {  // reduction mean/sum: grad_out is a scalar;
//         n.inputs[0].accumulate_grad(mul(g, grad_out));  // reduction none: g's sample slices times
//       });                                                // grad_out[n] (expand grad_out to (1, N, 1)).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun::speech {

enum class CtcReduction { none, mean, sum };
enum class CtcGrad { log_probs, torch };

struct CtcOptions {
  int64_t blank = 0;
  CtcReduction reduction = CtcReduction::mean;
  bool zero_infinity = false;  // infeasible samples (inf loss): loss 0 and grad 0 instead of inf
  CtcGrad grad = CtcGrad::log_probs;
  bool compute_grad = true;
};

struct CtcResult {
  Tensor loss;        // reduced loss: 0-d for mean/sum, (N) for none; dtype of log_probs
  Tensor per_sample;  // (N) negative log-likelihood per sample (after zero_infinity, before reduction)
  Tensor grad;        // (T, N, C) d loss / d log_probs (for none: of sum_n loss_n); undefined if !compute_grad
};

// log_probs: (T, N, C) float32/float64; targets: (N, S) or (sum(target_lengths),) int32/int64;
// input_lengths, target_lengths: (N) int32/int64. An infeasible sample (fewer frames than the target
// needs) has loss +inf and a zero gradient unless zero_infinity (PyTorch gives NaN gradients there).
CtcResult ctc_loss_forward(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                           const Tensor& target_lengths, const CtcOptions& opt = {});

struct Hypothesis {
  std::vector<int64_t> tokens;  // labels with repeats collapsed and blanks removed
  double log_prob = 0;          // greedy: log prob of the best path; beam: log prob of the labeling (prefix sum)
};

// Best path per sample: argmax per frame, collapse repeats, drop blanks. log_probs (T, N, C) or (T, C);
// input_lengths (N) optional (undefined: all T frames).
std::vector<Hypothesis> ctc_greedy_decode(const Tensor& log_probs, const Tensor& input_lengths = {},
                                          int64_t blank = 0);

struct BeamSearchOptions {
  int64_t beam_width = 8;
  int64_t blank = 0;
  int64_t n_best = 1;            // hypotheses returned per sample, best first
  int64_t top_k_per_frame = 0;   // expand only the k most likely labels per frame (0: all)
  double prune_log_prob = -1e30; // ...and only labels with log prob above this
};

// CTC prefix beam search (sums over all alignments of each prefix). Returns per sample the n_best
// labelings, best first.
std::vector<std::vector<Hypothesis>> ctc_beam_search(const Tensor& log_probs, const Tensor& input_lengths = {},
                                                     const BeamSearchOptions& opt = {});

// Levenshtein distance (insertions, deletions, substitutions all cost 1).
int64_t edit_distance(const std::vector<int64_t>& ref, const std::vector<int64_t>& hyp);
int64_t edit_distance(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);
// Sum of edit distances / sum of reference lengths (0 when all references are empty and hyps too).
double token_error_rate(const std::vector<std::vector<int64_t>>& refs, const std::vector<std::vector<int64_t>>& hyps);
double char_error_rate(const std::vector<std::string>& refs, const std::vector<std::string>& hyps);
double word_error_rate(const std::vector<std::string>& refs, const std::vector<std::string>& hyps);  // whitespace-split

}  // namespace kun::speech
