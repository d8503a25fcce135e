// Fused recurrent layers (Elman RNN, LSTM, GRU) over a whole sequence, PyTorch semantics and
// weight layouts. One call runs one layer in one or both directions:
//   - the input projection of all time steps is one GEMM: (T*N, I) @ W_ih^T,
//   - then per step one GEMM for the hidden projection h_prev @ W_hh^T and one fused elementwise
//     pass for gates, activations and the state update (no temporaries per step),
//   - the two directions of a bidirectional layer run concurrently on two threads.
// Backward (BPTT) mirrors it: per step one fused pass for the gate gradients and one GEMM for
// dh_prev; dx, dW_ih, dW_hh and the biases are one GEMM / reduction each over all steps.
//
// Gate order (PyTorch): LSTM i, f, g, o (W_ih is (4H, I)); GRU r, z, n (W_ih is (3H, I)) with
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h.
//
// Padded batches: `lengths` (int64, (N), each in [0, T]) gives each sequence's true length. Steps
// t >= length[n] leave sample n's state unchanged and output zeros (like pack_padded_sequence), so
// h_n is the state at each sequence's true end; the reverse direction starts at its true end.
// A length of 0 gives all-zero outputs and h_n = h0.
#pragma once
#include <string_view>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun {

enum class RnnMode { rnn_tanh, rnn_relu, lstm, gru };
int64_t rnn_gate_count(RnnMode mode);                  // 1, 1, 4, 3
RnnMode rnn_mode_from_name(std::string_view name);     // "rnn_tanh" | "rnn_relu" | "lstm" | "gru"
const char* rnn_mode_name(RnnMode mode);

// One direction's parameters. w_ih: (G*H, I), w_hh: (G*H, H), b_ih / b_hh: (G*H) or undefined.
struct RnnWeights {
  Tensor w_ih, w_hh, b_ih, b_hh;
};

struct RnnLayerInput {
  RnnMode mode = RnnMode::lstm;
  bool batch_first = false;
  Tensor x;                         // (T, N, I), or (N, T, I) with batch_first; float32 / float64
  std::vector<RnnWeights> weights;  // one per direction; the second runs backwards in time
  Tensor h0;                        // (D, N, H) or undefined (zeros)
  Tensor c0;                        // (D, N, H) or undefined; LSTM only
  Tensor lengths;                   // int64 (N) or undefined (all T)
};

// What backward needs, in the layout of x's rows (time-major or batch-first).
struct RnnLayerSaved {
  std::vector<Tensor> gates;  // per direction (rows, G*H) activated gates (GRU: (rows, 4H), r z n hn)
  std::vector<Tensor> hprev;  // per direction (rows, H): the state entering each step
  std::vector<Tensor> cprev;  // LSTM: cell state entering each step
};

struct RnnLayerOutput {
  Tensor packed;  // one flat buffer holding y, h_n and c_n (they are views of it)
  Tensor y;       // (T, N, D*H) or (N, T, D*H): direction d in columns [d*H, (d+1)*H)
  Tensor h_n;     // (D, N, H)
  Tensor c_n;     // (D, N, H), LSTM only
  RnnLayerSaved saved;  // filled when save_for_backward
};

RnnLayerOutput rnn_layer_forward(const RnnLayerInput& in, bool save_for_backward = false);

struct RnnLayerGrads {
  Tensor dx;
  std::vector<RnnWeights> dw;  // same layout as the weights (bias grads undefined if there is no bias)
  Tensor dh0, dc0;             // (D, N, H)
};

// dy / dh_n / dc_n may be undefined (no gradient flows from them).
RnnLayerGrads rnn_layer_backward(const RnnLayerInput& in, const RnnLayerSaved& saved, const Tensor& dy,
                                 const Tensor& dh_n, const Tensor& dc_n);

}  // namespace kun
