// Recurrent and Transformer training steps, side by side with bench/peers/torch_rnn.py (the models
// of ../shared/bench/peers/bench_text.py and bench_transformer.py).
#include <benchmark/benchmark.h>

#include "kun/kun.h"
#include "kun/nn/layers.h"
#include "kun/nn/recurrent.h"
#include "kun/nn/transformer.h"

using namespace kun;

namespace {

// Embedding(10000, E) -> BiLSTM(64) -> Dense(64) relu -> Dense(2), CE, Adam; batch 32, seq 200.
void bilstm_train(benchmark::State& st, int64_t E) {
  manual_seed(0);
  nn::EmbeddingOptions eo;
  eo.num_embeddings = 10000;
  eo.embedding_dim = E;
  nn::Embedding emb(eo);
  nn::LSTM lstm({.hidden_size = 64, .input_size = E, .bidirectional = true});
  nn::Dense fc1({.units = 64, .in_features = 128}), fc2({.units = 2, .in_features = 64});
  std::vector<Variable> params;
  for (nn::Module* m : std::initializer_list<nn::Module*>{&emb, &lstm, &fc1, &fc2})
    for (auto& p : m->parameters()) params.push_back(p);
  optim::Adam opt(params, {.lr = 1e-3});
  Tensor x = randint(0, 10000, {32, 200}), y = randint(0, 2, {32});
  for (auto _ : st) {
    opt.zero_grad();
    Variable h = lstm(emb(Variable(x)));  // (32, 128): final fwd / bwd states
    Variable loss = cross_entropy(fc2(relu(fc1(h))), y);
    loss.backward();
    opt.step();
  }
  st.SetItemsProcessed(st.iterations() * 32);
}

// Token + learned position embedding -> 4 post-norm encoder layers (d 256, 4 heads, ffn 1024,
// dropout 0.1, relu) -> mean over the sequence -> Dense(2), CE, Adam(1e-4); batch 32, seq 128.
void transformer_train(benchmark::State& st) {
  manual_seed(0);
  const int64_t V = 20000, D = 256, S = 128, B = 32;
  nn::EmbeddingOptions eo;
  eo.num_embeddings = V;
  eo.embedding_dim = D;
  nn::Embedding tok(eo);
  nn::PositionalEmbedding pos({.max_len = S, .dim = D});
  nn::TransformerStackOptions so;
  so.layer = {.d_model = D, .nhead = 4, .dim_feedforward = 1024, .dropout = 0.1};
  so.num_layers = 4;
  nn::TransformerEncoder enc(so);
  nn::Dense head({.units = 2, .in_features = D});
  std::vector<Variable> params;
  for (nn::Module* m : std::initializer_list<nn::Module*>{&tok, &pos, &enc, &head})
    for (auto& p : m->parameters()) params.push_back(p);
  optim::Adam opt(params, {.lr = 1e-4});
  Tensor x = randint(0, V, {B, S}), y = randint(0, 2, {B});
  for (auto _ : st) {
    opt.zero_grad();
    Variable h = enc(pos(tok(Variable(x))));
    Variable loss = cross_entropy(head(mean(h, {1})), y);
    loss.backward();
    opt.step();
  }
  st.SetItemsProcessed(st.iterations() * B * S);
}

void BM_bilstm_train_e128(benchmark::State& st) { bilstm_train(st, 128); }
void BM_bilstm_train_e32(benchmark::State& st) { bilstm_train(st, 32); }
void BM_transformer_enc_train(benchmark::State& st) { transformer_train(st); }

}  // namespace

BENCHMARK(BM_bilstm_train_e128)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bilstm_train_e32)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_transformer_enc_train)->Unit(benchmark::kMillisecond);
