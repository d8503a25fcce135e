// Scaled dot-product attention with padding / causal / given masks, and its fused masked softmax.
//
// Mask conventions (PyTorch's): key_padding_mask (N, S) is bool (or any dtype, nonzero = true):
// true means "this key is padding, ignore it". attn_mask (L, S) or (N*heads, L, S) is either bool
// (true = not allowed) or float (added to the scaled scores, e.g. -inf). causal forbids key j > i.
//
// Fully masked rows (a query that may attend to no key at all): the attention weights of that row
// are all ZERO (not NaN as in PyTorch), so the attention output there is 0 (plus any bias added
// after it) and no gradient flows through that row.
#pragma once
#include <optional>

#include "kun/autograd/variable.h"

namespace kun {

struct AttentionMask {
  Tensor key_padding_mask;  // (N, S) or undefined
  Tensor attn_mask;         // (L, S), (N*heads, L, S) or undefined
  bool causal = false;
};

// scores: (N, heads, L, S) -> softmax over S of (scale * scores + masks). One fused pass forward
// and one backward; masked positions get weight 0 and fully masked rows are all zero.
Variable masked_softmax(const Variable& scores, double scale, const AttentionMask& mask = {});

struct AttentionOptions {
  AttentionMask mask;
  double dropout = 0.0;          // on the attention weights, only when training
  bool training = false;
  std::optional<double> scale;   // default 1 / sqrt(E)
};

// q: (N, heads, L, E), k: (N, heads, S, E), v: (N, heads, S, Ev) -> (N, heads, L, Ev).
// If weights_out is given it receives the attention weights (N, heads, L, S) (before dropout).
Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const AttentionOptions& opt = {}, Variable* weights_out = nullptr);

// A (L, S) bool mask with true above the diagonal (key j > query i): a causal attn_mask.
Tensor causal_mask(int64_t L, int64_t S = -1);

}  // namespace kun
