// Attention and Transformer layers with PyTorch's parameter names and layouts (in_proj_weight
// (3E, E), out_proj.weight, linear1, linear2, norm1.., self_attn, multihead_attn), so PyTorch
// state dicts load as is. batch_first defaults to TRUE: inputs are (N, L, E).
// Masks follow kun/autograd/attention.h: key_padding_mask (N, S) true = padding; attn_mask (L, S)
// bool (true = not allowed) or float (added); a query row with no allowed key attends to nothing
// (its attention output is the out_proj bias, never NaN).
#pragma once
#include <string>
#include <vector>

#include "kun/autograd/attention.h"
#include "kun/nn/layers.h"
#include "kun/nn/module.h"

namespace kun::nn {

struct MultiHeadAttentionOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  double dropout = 0.0;  // on the attention weights
  bool bias = true;
  bool batch_first = true;
};

class MultiHeadAttention : public Module {
 public:
  explicit MultiHeadAttention(MultiHeadAttentionOptions opt);
  MultiHeadAttention(const json& c, FromConfig);
  // Self-attention: forward(x) = attend(x, x, x).
  Variable forward(const Variable& x) override;
  // query (N, L, E), key / value (N, S, E) -> (N, L, E). weights_out receives the per-head
  // attention weights (N, heads, L, S).
  Variable attend(const Variable& query, const Variable& key, const Variable& value, const AttentionMask& mask = {},
                  Variable* weights_out = nullptr);
  std::string type_name() const override { return "multi_head_attention"; }
  json config() const override;
  const MultiHeadAttentionOptions& options() const { return opt_; }

 private:
  MultiHeadAttentionOptions opt_;
  Variable in_proj_weight_, in_proj_bias_;
  std::shared_ptr<Dense> out_proj_;
};

struct TransformerLayerOptions {
  int64_t d_model = 0;
  int64_t nhead = 1;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // "relu" | "gelu"
  double layer_norm_eps = 1e-5;
  bool batch_first = true;
  bool norm_first = false;  // pre-norm (true) or post-norm (false, the original Transformer)
};

class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(TransformerLayerOptions opt);
  TransformerEncoderLayer(const json& c, FromConfig);
  Variable forward(const Variable& x) override { return forward_masked(x, {}); }
  // mask: for the self-attention (key_padding_mask (N, L), attn_mask (L, L), causal).
  Variable forward_masked(const Variable& x, const AttentionMask& mask);
  std::string type_name() const override { return "transformer_encoder_layer"; }
  json config() const override;

 private:
  Variable feed_forward(const Variable& x);
  TransformerLayerOptions opt_;
  std::shared_ptr<MultiHeadAttention> self_attn_;
  std::shared_ptr<Dense> linear1_, linear2_;
  std::shared_ptr<LayerNorm> norm1_, norm2_;
};

class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(TransformerLayerOptions opt);
  TransformerDecoderLayer(const json& c, FromConfig);
  // Without memory this is self-attention + feed-forward only on x (a decoder-only block).
  Variable forward(const Variable& x) override;
  // tgt_mask: self-attention masks (causal / attn_mask / tgt key padding); memory_mask: cross-attention
  // masks (key_padding_mask (N, S) of the memory, attn_mask (L, S)).
  Variable forward_memory(const Variable& x, const Variable& memory, const AttentionMask& tgt_mask = {},
                          const AttentionMask& memory_mask = {});
  std::string type_name() const override { return "transformer_decoder_layer"; }
  json config() const override;

 private:
  Variable feed_forward(const Variable& x);
  TransformerLayerOptions opt_;
  std::shared_ptr<MultiHeadAttention> self_attn_, multihead_attn_;
  std::shared_ptr<Dense> linear1_, linear2_;
  std::shared_ptr<LayerNorm> norm1_, norm2_, norm3_;
};

struct TransformerStackOptions {
  TransformerLayerOptions layer;
  int64_t num_layers = 1;
  bool final_norm = false;  // a LayerNorm after the last layer ("norm"), usual with norm_first
};

// num_layers encoder layers ("layers.0", "layers.1", ...), optionally a final "norm".
class TransformerEncoder : public Module {
 public:
  explicit TransformerEncoder(TransformerStackOptions opt);
  TransformerEncoder(const json& c, FromConfig);
  Variable forward(const Variable& x) override { return forward_masked(x, {}); }
  Variable forward_masked(const Variable& x, const AttentionMask& mask);
  std::string type_name() const override { return "transformer_encoder"; }
  json config() const override;

 private:
  TransformerStackOptions opt_;
  std::vector<std::shared_ptr<TransformerEncoderLayer>> layers_;
  std::shared_ptr<LayerNorm> norm_;
};

class TransformerDecoder : public Module {
 public:
  explicit TransformerDecoder(TransformerStackOptions opt);
  TransformerDecoder(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  Variable forward_memory(const Variable& x, const Variable& memory, const AttentionMask& tgt_mask = {},
                          const AttentionMask& memory_mask = {});
  std::string type_name() const override { return "transformer_decoder"; }
  json config() const override;

 private:
  TransformerStackOptions opt_;
  std::vector<std::shared_ptr<TransformerDecoderLayer>> layers_;
  std::shared_ptr<LayerNorm> norm_;
};

struct PositionalEmbeddingOptions {
  int64_t max_len = 512;
  int64_t dim = 0;
  bool learned = true;  // learned table "weight" (max_len, dim), N(0, 0.02); else the fixed sinusoid
};

// x (N, L, dim) -> x + P[:L]. The sinusoidal table (Vaswani et al.): P[p, 2i] = sin(p / 10000^(2i/dim)),
// P[p, 2i+1] = cos(same); it is a buffer "pe" (saved, never trained). L > max_len is an error.
class PositionalEmbedding : public Module {
 public:
  explicit PositionalEmbedding(PositionalEmbeddingOptions opt);
  PositionalEmbedding(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "positional_embedding"; }
  json config() const override;

 private:
  PositionalEmbeddingOptions opt_;
  Variable weight_;
  Tensor pe_;
};
// The fixed sinusoidal table (max_len, dim).
Tensor sinusoidal_positions(int64_t max_len, int64_t dim, DType dtype = DType::f32);

struct MaskedLMHeadOptions {
  int64_t d_model = 0;
  int64_t vocab_size = 0;
  double layer_norm_eps = 1e-5;
};
// Dense(d, d) -> gelu -> LayerNorm -> Dense(d, vocab). With a tied weight (an Embedding's (vocab, d)
// table) the output projection uses it (not registered here) plus an own bias "bias".
class MaskedLMHead : public Module {
 public:
  explicit MaskedLMHead(MaskedLMHeadOptions opt, Variable tied_weight = Variable());
  MaskedLMHead(const json& c, FromConfig);
  Variable forward(const Variable& x) override;  // (N, L, d) -> (N, L, vocab)
  std::string type_name() const override { return "masked_lm_head"; }
  json config() const override;
  // Ties (or re-ties, after loading) the output projection to an embedding table.
  void tie(const Variable& weight);

 private:
  MaskedLMHeadOptions opt_;
  std::shared_ptr<Dense> dense_;
  std::shared_ptr<LayerNorm> norm_;
  Variable decoder_weight_, bias_;
  bool tied_ = false;
};

struct ClassificationHeadOptions {
  int64_t d_model = 0;
  int64_t num_classes = 2;
  std::string pooling = "cls";  // "cls" (first token) | "mean" (mask-aware mean)
  double dropout = 0.0;
};
// (N, L, d) -> pooled (N, d) -> dropout -> Dense "classifier" -> (N, num_classes) logits.
class ClassificationHead : public Module {
 public:
  explicit ClassificationHead(ClassificationHeadOptions opt);
  ClassificationHead(const json& c, FromConfig);
  Variable forward(const Variable& x) override { return forward_masked(x, Tensor()); }
  // key_padding_mask (N, L): true = padding, left out of the mean.
  Variable forward_masked(const Variable& x, const Tensor& key_padding_mask);
  std::string type_name() const override { return "classification_head"; }
  json config() const override;

 private:
  ClassificationHeadOptions opt_;
  std::shared_ptr<Dense> classifier_;
};

// Mask-aware mean over dim 1 of (N, L, d); key_padding_mask (N, L) true = padding (may be undefined).
// A row with every position masked gives zeros.
Variable masked_mean(const Variable& x, const Tensor& key_padding_mask);

}  // namespace kun::nn
