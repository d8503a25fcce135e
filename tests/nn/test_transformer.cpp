// MultiHeadAttention / Transformer layers: PyTorch golden outputs and gradients (weights copied in,
// eval mode), float64 gradchecks of the masked softmax and attention, fully-masked rows, position
// embeddings, heads and error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "../golden_util.h"
#include "kun/autograd/ops.h"
#include "kun/nn/transformer.h"

using namespace kun;
using namespace kun::testing;

namespace {

void copy_params(nn::Module& m, const json& c) {
  for (auto& [pname, p] : m.named_parameters()) p.data().copy_(input(c, pname));
}

void check_param_grads(nn::Module& m, const json& c) {
  for (auto& [pname, p] : m.named_parameters()) {
    SCOPED_TRACE(pname);
    ASSERT_TRUE(p.has_grad());
    EXPECT_TRUE(close(p.grad(), output(c, "g_" + pname), 1e-4, 1e-5));
  }
}

nn::TransformerLayerOptions layer_opts(const json& a) {
  nn::TransformerLayerOptions o;
  o.d_model = a["d_model"];
  o.nhead = a["nhead"];
  o.dim_feedforward = a["ff"];
  o.activation = a["act"];
  o.norm_first = a["norm_first"];
  return o;
}

}  // namespace

TEST(AttentionGolden, MultiHeadAttention) {
  for (const char* name : {"mha_self_kpm", "mha_cross_boolmask", "mha_self_floatmask"}) {
    SCOPED_TRACE(name);
    const json& c = golden_case("attention", name);
    nn::MultiHeadAttention m({.embed_dim = c["attrs"]["E"], .num_heads = c["attrs"]["H"]});
    m.eval();
    copy_params(m, c);
    AttentionMask mask;
    if (c["inputs"].contains("kpm")) mask.key_padding_mask = input(c, "kpm");
    if (c["inputs"].contains("attn_mask")) mask.attn_mask = input(c, "attn_mask");
    Variable y;
    std::vector<std::pair<std::string, Variable>> grads;
    if (c["attrs"]["kind"] == "self") {
      Variable x(input(c, "x"), true);
      y = m.attend(x, x, x, mask);
      grads = {{"x", x}};
    } else {
      Variable q(input(c, "q"), true), kv(input(c, "kv"), true);
      y = m.attend(q, kv, kv, mask);
      grads = {{"q", q}, {"kv", kv}};
    }
    EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
    sum(y * Variable(input(c, "w_out"))).backward();
    for (auto& [n, v] : grads) EXPECT_TRUE(close(v.grad(), output(c, "g_" + n), 1e-4, 1e-5)) << n;
    check_param_grads(m, c);
  }
}

TEST(AttentionGolden, EncoderLayers) {
  for (const char* name : {"enc_post_relu", "enc_post_gelu", "enc_pre_relu", "enc_pre_gelu"}) {
    SCOPED_TRACE(name);
    const json& c = golden_case("attention", name);
    nn::TransformerEncoderLayer m(layer_opts(c["attrs"]));
    m.eval();
    copy_params(m, c);
    AttentionMask mask;
    mask.key_padding_mask = input(c, "kpm");
    Variable x(input(c, "x"), true);
    Variable y = m.forward_masked(x, mask);
    EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
    sum(y * Variable(input(c, "w_out"))).backward();
    EXPECT_TRUE(close(x.grad(), output(c, "g_x"), 1e-4, 1e-5));
    check_param_grads(m, c);
  }
}

TEST(AttentionGolden, DecoderLayers) {
  for (const char* name : {"dec_post", "dec_pre"}) {
    SCOPED_TRACE(name);
    const json& c = golden_case("attention", name);
    nn::TransformerDecoderLayer m(layer_opts(c["attrs"]));
    m.eval();
    copy_params(m, c);
    AttentionMask tgt, memm;
    tgt.causal = true;
    memm.key_padding_mask = input(c, "kpm");
    Variable x(input(c, "x"), true), mem(input(c, "mem"), true);
    Variable y = m.forward_memory(x, mem, tgt, memm);
    EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
    sum(y * Variable(input(c, "w_out"))).backward();
    EXPECT_TRUE(close(x.grad(), output(c, "g_x"), 1e-4, 1e-5));
    EXPECT_TRUE(close(mem.grad(), output(c, "g_mem"), 1e-4, 1e-5));
    check_param_grads(m, c);
  }
}

TEST(AttentionGradcheck, MaskedSoftmaxAndAttention) {
  manual_seed(11);
  AttentionMask mask;
  mask.key_padding_mask = from_vector(std::vector<int64_t>{0, 0, 0, 1, 0, 1, 0, 0}, {2, 4});
  mask.causal = true;
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return sum(masked_softmax(v[0], 0.7, mask) * v[1]); },
                      {randn({2, 2, 3, 4}, DType::f64), randn({2, 2, 3, 4}, DType::f64)}));
  AttentionOptions ao;
  ao.mask.key_padding_mask = mask.key_padding_mask;
  ao.mask.attn_mask = mul(randn({3, 4}, DType::f64), 0.5);
  EXPECT_TRUE(grad_ok(
      [&](const std::vector<Variable>& v) { return sum(square(scaled_dot_product_attention(v[0], v[1], v[2], ao))); },
      {randn({2, 2, 3, 5}, DType::f64), randn({2, 2, 4, 5}, DType::f64), randn({2, 2, 4, 3}, DType::f64)}));
}

// A query with no allowed key gets all-zero weights (documented), never NaN; other rows are untouched.
TEST(AttentionExtreme, FullyMaskedRowsAndHugeScores) {
  nn::MultiHeadAttention m({.embed_dim = 8, .num_heads = 2});
  AttentionMask mask;
  mask.key_padding_mask = from_vector(std::vector<uint8_t>{1, 1, 1, 0, 0, 1}, {2, 3}).to(DType::bool_);
  Variable x(randn({2, 3, 8}), true);
  Variable w;
  Variable y = m.attend(x, x, x, mask, &w);
  EXPECT_TRUE(all_finite(y.data()));
  EXPECT_TRUE(close(w.data().select(0, 0), zeros({2, 3, 3}), 0, 0));
  // Row output is exactly the out_proj bias.
  Tensor b = m.named_parameters().back().second.data();  // out_proj.bias
  EXPECT_TRUE(close(y.data().select(0, 0).select(0, 1), b, 1e-6, 1e-7));
  sum(y).backward();
  EXPECT_TRUE(all_finite(x.grad()));
  // Huge scores: softmax stays finite.
  Variable big(mul(randn({1, 1, 2, 3}), 1e30), true);
  Variable s = masked_softmax(big, 1.0);
  EXPECT_TRUE(all_finite(s.data()));
  sum(s * s).backward();
  EXPECT_TRUE(all_finite(big.grad()));
}

TEST(PositionalEmbedding, SinusoidalAndLearned) {
  Tensor pe = nn::sinusoidal_positions(4, 6);
  auto v = pe.to_vector<double>();
  EXPECT_NEAR(v[2 * 6 + 0], std::sin(2.0), 1e-6);
  EXPECT_NEAR(v[2 * 6 + 1], std::cos(2.0), 1e-6);
  EXPECT_NEAR(v[3 * 6 + 4], std::sin(3.0 / std::pow(10000.0, 4.0 / 6.0)), 1e-6);
  nn::PositionalEmbedding fixed({.max_len = 4, .dim = 6, .learned = false});
  EXPECT_EQ(fixed.parameters().size(), 0u);
  Tensor x = randn({2, 3, 6});
  EXPECT_TRUE(close(fixed(Variable(x)).data(), add(x, pe.narrow(0, 0, 3)), 1e-6, 1e-7));
  nn::PositionalEmbedding learned({.max_len = 4, .dim = 6});
  Variable y = learned(Variable(x));
  sum(y).backward();
  EXPECT_TRUE(close(learned.parameters()[0].grad().narrow(0, 0, 3), full({3, 6}, 2.0), 0, 0));
  KUN_EXPECT_ERROR(learned(Variable(randn({1, 5, 6}))), "sequence length 5", "max_len 4");
}

TEST(TransformerHeads, MlmTiedAndClassification) {
  nn::EmbeddingOptions eo;
  eo.num_embeddings = 11;
  eo.embedding_dim = 8;
  nn::Embedding emb(eo);
  Variable table = emb.parameters()[0];
  nn::MaskedLMHead head({.d_model = 8, .vocab_size = 11}, table);
  EXPECT_EQ(head.named_parameters().size(), 5u);  // dense.weight/bias, norm.weight/bias, bias
  Variable logits = head(Variable(randn({2, 3, 8})));
  EXPECT_EQ(logits.shape(), Shape({2, 3, 11}));
  sum(logits).backward();
  EXPECT_TRUE(table.has_grad());
  auto rebuilt = nn::Module::from_config(head.to_config());
  KUN_EXPECT_ERROR((*rebuilt)(Variable(randn({1, 2, 8}))), "tie");

  nn::ClassificationHead cls({.d_model = 4, .num_classes = 3, .pooling = "mean"});
  Tensor x = randn({2, 3, 4});
  Tensor kpm = from_vector(std::vector<uint8_t>{0, 0, 1, 1, 1, 1}, {2, 3}).to(DType::bool_);
  Variable pooled = nn::masked_mean(Variable(x), kpm);
  EXPECT_TRUE(close(pooled.data().select(0, 0), mean(x.select(0, 0).narrow(0, 0, 2), {0}), 1e-6, 1e-7));
  EXPECT_TRUE(close(pooled.data().select(0, 1), zeros({4}), 0, 0));  // nothing to average: zeros
  EXPECT_EQ(cls.forward_masked(Variable(x), kpm).shape(), Shape({2, 3}));
}

TEST(TransformerStack, ConfigRoundTripAndCausalDecoder) {
  nn::TransformerStackOptions so;
  so.layer = {.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0, .norm_first = true};
  so.num_layers = 2;
  so.final_norm = true;
  nn::TransformerEncoder enc(so);
  auto names = enc.named_parameters();
  EXPECT_EQ(names.front().first, "layers.0.self_attn.in_proj_weight");
  auto rebuilt = nn::Module::from_config(enc.to_config());
  rebuilt->load_state_dict(enc.state_dict());
  Tensor x = randn({2, 5, 8});
  EXPECT_TRUE(close((*rebuilt)(Variable(x)).data(), enc(Variable(x)).data(), 0, 0));
  // Causal decoder: the output at position t does not depend on inputs after t.
  nn::TransformerDecoder dec(so);
  Tensor x2 = x.clone();
  x2.narrow(1, 3, 2).copy_(randn({2, 2, 8}));
  EXPECT_TRUE(close(dec(Variable(x)).data().narrow(1, 0, 3), dec(Variable(x2)).data().narrow(1, 0, 3), 1e-5, 1e-6));
}

TEST(TransformerErrors, BadShapesAndOptions) {
  KUN_EXPECT_ERROR(nn::MultiHeadAttention({.embed_dim = 10, .num_heads = 3}), "divisible by num_heads", "10");
  nn::MultiHeadAttention m({.embed_dim = 8, .num_heads = 2});
  KUN_EXPECT_ERROR(m(Variable(randn({2, 3, 7}))), "MultiHeadAttention", "E=8", "(2, 3, 7)");
  AttentionMask bad;
  bad.key_padding_mask = zeros({2, 4}, DType::bool_);
  Variable x(randn({2, 3, 8}));
  KUN_EXPECT_ERROR(m.attend(x, x, x, bad), "key_padding_mask must be (N, S)", "(2, 4)");
  KUN_EXPECT_ERROR(nn::TransformerEncoderLayer({.d_model = 8, .nhead = 2, .activation = "tanh"}), "activation",
                   "tanh");
}
