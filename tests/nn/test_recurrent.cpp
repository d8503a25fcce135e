// SimpleRNN / LSTM / GRU: PyTorch golden outputs and gradients (weights copied in), float64
// gradchecks of the fused layer kernel, padding invariance, extreme inputs and error messages.
#include <gtest/gtest.h>

#include "../golden_util.h"
#include "kun/autograd/ops.h"
#include "kun/nn/recurrent.h"

using namespace kun;
using namespace kun::testing;

namespace {

std::shared_ptr<nn::Recurrent> make_rnn(const std::string& mode, nn::RecurrentOptions o) {
  if (mode == "lstm") return std::make_shared<nn::LSTM>(o);
  if (mode == "gru") return std::make_shared<nn::GRU>(o);
  o.nonlinearity = mode;
  return std::make_shared<nn::SimpleRNN>(o);
}

void run_golden(const std::string& name) {
  SCOPED_TRACE(name);
  const json& c = golden_case("rnn", name);
  const json& a = c["attrs"];
  const std::string mode = a["mode"];
  Tensor x = input(c, "x");
  nn::RecurrentOptions o;
  o.hidden_size = a["hidden"];
  o.num_layers = a["layers"];
  o.bidirectional = a["bidirectional"];
  o.batch_first = a["batch_first"];
  o.input_size = x.size(2);
  auto m = make_rnn(mode, o);
  for (auto& [pname, p] : m->named_parameters()) p.data().copy_(input(c, pname));
  Variable xv(x, true);
  nn::RecurrentState init;
  if (c["inputs"].contains("h0")) init.h = Variable(input(c, "h0"), true);
  if (c["inputs"].contains("c0")) init.c = Variable(input(c, "c0"), true);
  Tensor lengths = c["inputs"].contains("lengths") ? input(c, "lengths") : Tensor();
  nn::RecurrentOutput r = m->forward_full(xv, lengths, init);
  EXPECT_TRUE(close(r.output.data(), output(c, "y"), 1e-4, 1e-5));
  EXPECT_TRUE(close(r.h_n.data(), output(c, "h_n"), 1e-4, 1e-5));
  Variable loss = sum(r.output * Variable(input(c, "w_out"))) + sum(r.h_n * Variable(input(c, "w_h")));
  if (mode == "lstm") {
    EXPECT_TRUE(close(r.c_n.data(), output(c, "c_n"), 1e-4, 1e-5));
    loss = loss + sum(r.c_n * Variable(input(c, "w_c")));
  }
  loss.backward();
  EXPECT_TRUE(close(xv.grad(), output(c, "g_x"), 1e-4, 1e-5));
  if (init.h.defined()) {
    EXPECT_TRUE(close(init.h.grad(), output(c, "g_h0"), 1e-4, 1e-5));
  }
  if (init.c.defined()) {
    EXPECT_TRUE(close(init.c.grad(), output(c, "g_c0"), 1e-4, 1e-5));
  }
  for (auto& [pname, p] : m->named_parameters()) {
    SCOPED_TRACE(pname);
    EXPECT_TRUE(close(p.grad(), output(c, "g_" + pname), 1e-4, 1e-5));
  }
}

}  // namespace

TEST(RecurrentGolden, AllCases) {
  int n = 0;
  for (auto& [name, c] : golden("rnn")["cases"].items()) {
    run_golden(name);
    ++n;
  }
  EXPECT_GE(n, 15);
}

// float64 gradcheck of the fused kernel: x, every weight, h0 (and c0), with lengths and both directions.
TEST(RecurrentGradcheck, FusedLayerAllModes) {
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh, RnnMode::rnn_relu}) {
    SCOPED_TRACE(rnn_mode_name(mode));
    const int64_t I = 3, H = 2, T = 4, N = 3, G = rnn_gate_count(mode);
    manual_seed(7);
    std::vector<Tensor> ins{randn({N, T, I}, DType::f64)};
    for (int d = 0; d < 2; ++d) {
      ins.push_back(mul(randn({G * H, I}, DType::f64), 0.5));
      ins.push_back(mul(randn({G * H, H}, DType::f64), 0.5));
      ins.push_back(mul(randn({G * H}, DType::f64), 0.5));
      ins.push_back(mul(randn({G * H}, DType::f64), 0.5));
    }
    ins.push_back(randn({2, N, H}, DType::f64));
    if (mode == RnnMode::lstm) ins.push_back(randn({2, N, H}, DType::f64));
    Tensor lengths = from_vector(std::vector<int64_t>{4, 2, 3}, {3});
    auto f = [&](const std::vector<Variable>& v) {
      std::vector<RnnParams> p{{v[1], v[2], v[3], v[4]}, {v[5], v[6], v[7], v[8]}};
      RnnLayerOptions o{mode, true, lengths};
      RnnLayerResult r = rnn_layer(v[0], p, o, v[9], mode == RnnMode::lstm ? v[10] : Variable());
      Variable s = sum(r.y * r.y) + sum(r.h_n * 0.7);
      if (r.c_n.defined()) s = s + sum(r.c_n * 1.3);
      return s;
    };
    EXPECT_TRUE(grad_ok(f, ins));
  }
}

// Padding changes nothing: a padded batch with lengths gives, for each sample, exactly what the
// unpadded sequence alone gives (outputs at padded steps are zero).
TEST(RecurrentMask, PaddingChangesNothing) {
  for (const char* mode : {"lstm", "gru", "tanh"}) {
    SCOPED_TRACE(mode);
    manual_seed(3);
    nn::RecurrentOptions o;
    o.hidden_size = 5;
    o.num_layers = 2;
    o.bidirectional = true;
    o.input_size = 4;
    auto m = make_rnn(mode, o);
    Tensor x = randn({2, 7, 4});
    Tensor x_noise = x.clone();
    x_noise.narrow(1, 3, 4).select(0, 1).copy_(mul(randn({4, 4}), 100.0));  // garbage in the padding
    Tensor lengths = from_vector(std::vector<int64_t>{7, 3}, {2});
    nn::RecurrentOutput a = m->forward_full(Variable(x), lengths);
    nn::RecurrentOutput b = m->forward_full(Variable(x_noise), lengths);
    EXPECT_TRUE(close(a.output.data(), b.output.data(), 0, 0));
    EXPECT_TRUE(close(a.h_n.data(), b.h_n.data(), 0, 0));
    // Sample 1 alone, unpadded.
    nn::RecurrentOutput s = m->forward_full(Variable(x.select(0, 1).narrow(0, 0, 3).unsqueeze(0).contiguous()));
    EXPECT_TRUE(close(a.output.data().select(0, 1).narrow(0, 0, 3), s.output.data().select(0, 0), 1e-5, 1e-6));
    EXPECT_TRUE(close(a.h_n.data().select(1, 1), s.h_n.data().select(1, 0), 1e-5, 1e-6));
    EXPECT_TRUE(close(a.output.data().select(0, 1).narrow(0, 3, 4), zeros({4, 10}), 0, 0));
    // Gradient w.r.t. padded inputs is zero.
    Variable xv(x_noise, true);
    Variable loss = sum(m->forward_masked(xv, lengths));
    loss.backward();
    EXPECT_TRUE(close(xv.grad().select(0, 1).narrow(0, 3, 4), zeros({4, 4}), 0, 0));
  }
}

TEST(RecurrentModule, KerasStyleOutputsAndConfig) {
  nn::RecurrentOptions o;
  o.hidden_size = 6;
  o.bidirectional = true;
  nn::LSTM m(o);
  Variable y = m(Variable(randn({4, 5, 3})));
  EXPECT_EQ(y.shape(), Shape({4, 12}));
  o.return_sequences = true;
  nn::GRU g(o);
  EXPECT_EQ(g(Variable(randn({4, 5, 3}))).shape(), Shape({4, 5, 12}));
  auto rebuilt = nn::Module::from_config(m.to_config());
  EXPECT_EQ(rebuilt->type_name(), "lstm");
  EXPECT_EQ(rebuilt->config(), m.config());
  rebuilt->load_state_dict(m.state_dict());
  Tensor x = randn({2, 5, 3});
  EXPECT_TRUE(close((*rebuilt)(Variable(x)).data(), m(Variable(x)).data(), 0, 0));
  EXPECT_EQ(nn::lengths_from_ids(from_vector(std::vector<int64_t>{5, 3, 0, 0, 2, 0}, {2, 3}), 0).to_vector<int64_t>(),
            (std::vector<int64_t>{2, 2}));  // trailing pads only
}

TEST(RecurrentExtreme, HugeInputsStayFinite) {
  for (const char* mode : {"lstm", "gru", "tanh"}) {
    nn::RecurrentOptions o;
    o.hidden_size = 8;
    o.input_size = 3;
    auto m = make_rnn(mode, o);
    Variable x(mul(randn({2, 10, 3}), 1e30), true);
    Variable y = m->forward(x);
    EXPECT_TRUE(all_finite(y.data())) << mode;
    sum(y).backward();
    EXPECT_TRUE(all_finite(x.grad())) << mode;
  }
  // Zero-length sequences: all-zero output, h_n = h0 (zeros).
  nn::RecurrentOptions o;
  o.hidden_size = 3;
  o.return_sequences = true;
  nn::LSTM m(o);
  Variable y = m.forward_masked(Variable(randn({2, 4, 2})), from_vector(std::vector<int64_t>{0, 4}, {2}));
  EXPECT_TRUE(close(y.data().select(0, 0), zeros({4, 3}), 0, 0));
}

TEST(RecurrentErrors, BadShapes) {
  nn::RecurrentOptions o;
  o.hidden_size = 4;
  o.input_size = 3;
  nn::LSTM m(o);
  KUN_EXPECT_ERROR(m(Variable(randn({2, 3}))), "lstm", "input must be", "(N, T, features)");
  KUN_EXPECT_ERROR(m(Variable(randn({2, 5, 7}))), "lstm", "3 features", "(2, 5, 7)");
  KUN_EXPECT_ERROR(m.forward_masked(Variable(randn({2, 5, 3})), from_vector(std::vector<int64_t>{9, 1}, {2})),
                   "lengths must be in [0, 5]", "9");
  KUN_EXPECT_ERROR(nn::GRU(nn::RecurrentOptions{}), "GRU", "hidden_size must be > 0");
  KUN_EXPECT_ERROR(nn::SimpleRNN({.hidden_size = 2, .nonlinearity = "sigmoid"}), "nonlinearity", "sigmoid");
  KUN_EXPECT_ERROR(m(Variable(randn({2, 5, 3}, DType::f64))), "dtype");
}
