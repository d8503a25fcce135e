// Differentiable fused recurrent layer (one layer, one or both directions): the kernels of
// kun/tensor/ops_rnn.h wrapped as one tape node, so BPTT runs as one fused backward.
#pragma once
#include <vector>

#include "kun/autograd/variable.h"
#include "kun/tensor/ops_rnn.h"

namespace kun {

// One direction's parameters; biases may be default-constructed (no bias).
struct RnnParams {
  Variable w_ih, w_hh, b_ih, b_hh;
};

struct RnnLayerOptions {
  RnnMode mode = RnnMode::lstm;
  bool batch_first = false;
  Tensor lengths;  // int64 (N) true lengths, or undefined; see ops_rnn.h for padded-step semantics
};

struct RnnLayerResult {
  Variable y;    // (T, N, D*H) or (N, T, D*H)
  Variable h_n;  // (D, N, H)
  Variable c_n;  // (D, N, H), LSTM only
};

// x: (T, N, I) or (N, T, I); params: one entry per direction; h0 / c0: (D, N, H) or undefined.
RnnLayerResult rnn_layer(const Variable& x, const std::vector<RnnParams>& params, const RnnLayerOptions& opt = {},
                         const Variable& h0 = Variable(), const Variable& c0 = Variable());

}  // namespace kun
