// Recurrent layers: SimpleRNN (tanh / relu), LSTM and GRU, with PyTorch's weight layouts and
// parameter names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse), so a PyTorch
// state dict loads as is. Each layer (all its directions) runs as one fused kernel and one tape node
// (kun/autograd/rnn.h).
//
// forward(x) is Keras-style: return_sequences ? the full output (N, T, D*H) : the last state
// (N, D*H) of the top layer, directions concatenated (forward's state at the true end, backward's
// at t = 0: exactly torch.cat([h_n[-2], h_n[-1]], 1)). forward_full() gives everything.
// batch_first defaults to TRUE here (kun layers take (N, ...)); set it false for (T, N, I).
//
// Padded batches: pass lengths (int64 (N)); padded steps do not change the result: outputs there
// are zero and h_n / c_n are the states at each sequence's true end (pack_padded_sequence).
#pragma once
#include <string>

#include "kun/autograd/rnn.h"
#include "kun/nn/module.h"

namespace kun::nn {

struct RecurrentOptions {
  int64_t hidden_size = 0;  // "units"
  int64_t input_size = 0;   // 0: inferred from the first input
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = true;
  bool bidirectional = false;
  double dropout = 0.0;           // on the outputs of every layer but the last, in training
  bool return_sequences = false;  // forward(): full output instead of the last state
  std::string nonlinearity = "tanh";  // SimpleRNN only: "tanh" or "relu"
};

struct RecurrentState {
  Variable h;  // (num_layers * D, N, H), or undefined for zeros
  Variable c;  // LSTM only
};

struct RecurrentOutput {
  Variable output;  // (N, T, D*H) (or (T, N, D*H) without batch_first); zero at padded steps
  Variable h_n;     // (num_layers * D, N, H), layer-major then direction (PyTorch order)
  Variable c_n;     // LSTM only
};

class Recurrent : public Module {
 public:
  Recurrent(RnnMode mode, RecurrentOptions opt);
  Variable forward(const Variable& x) override;
  // forward(x) with true lengths (int64 (N)) of a padded batch.
  Variable forward_masked(const Variable& x, const Tensor& lengths);
  RecurrentOutput forward_full(const Variable& x, const Tensor& lengths = Tensor(), const RecurrentState& init = {});
  std::string type_name() const override;
  json config() const override;
  const RecurrentOptions& options() const { return opt_; }
  RnnMode mode() const { return mode_; }

 protected:
  static RecurrentOptions options_from_json(const json& c);

 private:
  void build(int64_t input_size);
  RnnMode mode_;
  RecurrentOptions opt_;
  std::vector<std::vector<RnnParams>> layers_;  // [layer][direction]
};

class SimpleRNN : public Recurrent {
 public:
  explicit SimpleRNN(RecurrentOptions opt);
  SimpleRNN(const json& c, FromConfig) : SimpleRNN(options_from_json(c)) {}
};
class LSTM : public Recurrent {
 public:
  explicit LSTM(RecurrentOptions opt) : Recurrent(RnnMode::lstm, std::move(opt)) {}
  LSTM(const json& c, FromConfig) : LSTM(options_from_json(c)) {}
};
class GRU : public Recurrent {
 public:
  explicit GRU(RecurrentOptions opt) : Recurrent(RnnMode::gru, std::move(opt)) {}
  GRU(const json& c, FromConfig) : GRU(options_from_json(c)) {}
};

// True lengths of a padded batch: from a (N, T) mask (nonzero = real token; real tokens must come
// first), or from (N, T) ids where trailing `pad_id`s are padding. int64 (N).
Tensor lengths_from_mask(const Tensor& mask);
Tensor lengths_from_ids(const Tensor& ids, int64_t pad_id = 0);

}  // namespace kun::nn
