#include "kun/nn/recurrent.h"

#include <cmath>

#include "kun/autograd/ops.h"
#include "kun/autograd/rnn.h"
#include "kun/nn/init.h"

namespace kun::nn {

Recurrent::Recurrent(RnnMode mode, RecurrentOptions opt) : mode_(mode), opt_(std::move(opt)) {
  const char* who = type_name() == "simple_rnn" ? "SimpleRNN" : (mode_ == RnnMode::lstm ? "LSTM" : "GRU");
  KUN_CHECK(opt_.hidden_size > 0, ValueError, who, ": hidden_size must be > 0, got ", opt_.hidden_size);
  KUN_CHECK(opt_.num_layers >= 1, ValueError, who, ": num_layers must be >= 1, got ", opt_.num_layers);
  KUN_CHECK(opt_.dropout >= 0 && opt_.dropout < 1, ValueError, who, ": dropout must be in [0, 1), got ", opt_.dropout);
  KUN_CHECK(opt_.input_size >= 0, ValueError, who, ": input_size must be >= 0, got ", opt_.input_size);
  if (opt_.input_size > 0) build(opt_.input_size);
}

SimpleRNN::SimpleRNN(RecurrentOptions opt)
    : Recurrent(opt.nonlinearity == "relu" ? RnnMode::rnn_relu : RnnMode::rnn_tanh, opt) {
  KUN_CHECK(opt.nonlinearity == "tanh" || opt.nonlinearity == "relu", ValueError,
            "SimpleRNN: nonlinearity must be 'tanh' or 'relu', got '", opt.nonlinearity, "'");
}

std::string Recurrent::type_name() const {
  switch (mode_) {
    case RnnMode::lstm: return "lstm";
    case RnnMode::gru: return "gru";
    default: return "simple_rnn";
  }
}

RecurrentOptions Recurrent::options_from_json(const json& c) {
  RecurrentOptions o;
  o.hidden_size = c.at("hidden_size").get<int64_t>();
  o.input_size = c.value("input_size", int64_t{0});
  o.num_layers = c.value("num_layers", int64_t{1});
  o.bias = c.value("bias", true);
  o.batch_first = c.value("batch_first", true);
  o.bidirectional = c.value("bidirectional", false);
  o.dropout = c.value("dropout", 0.0);
  o.return_sequences = c.value("return_sequences", false);
  o.nonlinearity = c.value("nonlinearity", std::string("tanh"));
  return o;
}

json Recurrent::config() const {
  json j = {{"hidden_size", opt_.hidden_size},     {"input_size", opt_.input_size},
            {"num_layers", opt_.num_layers},       {"bias", opt_.bias},
            {"batch_first", opt_.batch_first},     {"bidirectional", opt_.bidirectional},
            {"dropout", opt_.dropout},             {"return_sequences", opt_.return_sequences}};
  if (type_name() == "simple_rnn") j["nonlinearity"] = opt_.nonlinearity;
  return j;
}

void Recurrent::build(int64_t input_size) {
  opt_.input_size = input_size;
  const int64_t H = opt_.hidden_size, G = rnn_gate_count(mode_), D = opt_.bidirectional ? 2 : 1;
  const double k = 1.0 / std::sqrt(static_cast<double>(H));  // PyTorch: U(-1/sqrt(H), 1/sqrt(H)) everywhere
  layers_.assign(opt_.num_layers, {});
  for (int64_t l = 0; l < opt_.num_layers; ++l) {
    const int64_t in = l == 0 ? input_size : D * H;
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      auto make = [&](const std::string& name, const Shape& s) {
        Tensor t = Tensor::empty(s);
        init::uniform_(t, -k, k);
        return register_parameter(name + sfx, t);
      };
      RnnParams p;
      p.w_ih = make("weight_ih", {G * H, in});
      p.w_hh = make("weight_hh", {G * H, H});
      if (opt_.bias) {
        p.b_ih = make("bias_ih", {G * H});
        p.b_hh = make("bias_hh", {G * H});
      }
      layers_[l].push_back(p);
    }
  }
}

RecurrentOutput Recurrent::forward_full(const Variable& x, const Tensor& lengths, const RecurrentState& init) {
  const std::string who = type_name();
  KUN_CHECK(x.defined() && x.dim() == 3, ShapeError, who, ": input must be ",
            opt_.batch_first ? "(N, T, features)" : "(T, N, features)", ", got ", x.defined() ? x.shape() : Shape{});
  if (layers_.empty()) build(x.size(2));
  KUN_CHECK(x.size(2) == opt_.input_size, ShapeError, who, ": input must have ", opt_.input_size,
            " features, got ", x.shape());
  const int64_t D = opt_.bidirectional ? 2 : 1, H = opt_.hidden_size;
  const int64_t N = opt_.batch_first ? x.size(0) : x.size(1);
  const Shape st{opt_.num_layers * D, N, H};
  KUN_CHECK(!init.h.defined() || init.h.shape() == st, ShapeError, who, ": initial h must be ", st, ", got ",
            init.h.shape());
  KUN_CHECK(!init.c.defined() || init.c.shape() == st, ShapeError, who, ": initial c must be ", st, ", got ",
            init.c.shape());
  KUN_CHECK(!init.c.defined() || mode_ == RnnMode::lstm, ValueError, who, ": only LSTM takes an initial cell state");
  RnnLayerOptions o;
  o.mode = mode_;
  o.batch_first = opt_.batch_first;
  o.lengths = lengths;
  Variable y = x;
  std::vector<Variable> hs, cs;
  for (int64_t l = 0; l < opt_.num_layers; ++l) {
    Variable h0 = init.h.defined() ? narrow(init.h, 0, l * D, D) : Variable();
    Variable c0 = init.c.defined() ? narrow(init.c, 0, l * D, D) : Variable();
    if (l > 0 && opt_.dropout > 0 && is_training()) y = dropout(y, opt_.dropout, true);
    RnnLayerResult r = rnn_layer(y, layers_[l], o, h0, c0);
    y = r.y;
    hs.push_back(r.h_n);
    if (r.c_n.defined()) cs.push_back(r.c_n);
  }
  RecurrentOutput out;
  out.output = y;
  out.h_n = hs.size() == 1 ? hs[0] : concat(hs, 0);
  if (!cs.empty()) out.c_n = cs.size() == 1 ? cs[0] : concat(cs, 0);
  return out;
}

Variable Recurrent::forward_masked(const Variable& x, const Tensor& lengths) {
  RecurrentOutput r = forward_full(x, lengths);
  if (opt_.return_sequences) return r.output;
  const int64_t D = opt_.bidirectional ? 2 : 1, L = opt_.num_layers;
  if (D == 1) return select(r.h_n, 0, L - 1);
  // (2, N, H) of the top layer -> (N, 2H)
  Variable top = narrow(r.h_n, 0, (L - 1) * 2, 2);
  return concat({select(top, 0, 0), select(top, 0, 1)}, 1);
}

Variable Recurrent::forward(const Variable& x) { return forward_masked(x, Tensor()); }

Tensor lengths_from_mask(const Tensor& mask) {
  KUN_CHECK(mask.defined() && mask.dim() == 2, ShapeError, "lengths_from_mask: mask must be (N, T), got ",
            mask.defined() ? mask.shape() : Shape{});
  const int64_t N = mask.size(0), T = mask.size(1);
  std::vector<double> m = mask.to_vector<double>();
  std::vector<int64_t> len(N, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      if (m[n * T + t] != 0) len[n] = t + 1;
  return from_vector(len, {N});
}

Tensor lengths_from_ids(const Tensor& ids, int64_t pad_id) {
  KUN_CHECK(ids.defined() && ids.dim() == 2 && is_integral(ids.dtype()), ShapeError,
            "lengths_from_ids: ids must be integer (N, T), got ", ids.defined() ? ids.shape() : Shape{});
  const int64_t N = ids.size(0), T = ids.size(1);
  std::vector<int64_t> v = ids.to_vector<int64_t>();
  std::vector<int64_t> len(N, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = T - 1; t >= 0; --t)
      if (v[n * T + t] != pad_id) {
        len[n] = t + 1;
        break;
      }
  return from_vector(len, {N});
}

}  // namespace kun::nn
