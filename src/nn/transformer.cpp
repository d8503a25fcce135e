#include "kun/nn/transformer.h"

#include <cmath>

#include "kun/autograd/ops.h"
#include "kun/nn/init.h"

namespace kun::nn {

namespace {

// Holds numbered children ("0", "1", ...) so stacks get PyTorch's "layers.0.xxx" names.
class LayerList : public Module {
 public:
  std::string type_name() const override { return "layer_list"; }
};

std::shared_ptr<Dense> make_dense(int64_t in, int64_t out, bool bias = true) {
  DenseOptions o;
  o.units = out;
  o.in_features = in;
  o.use_bias = bias;
  return std::make_shared<Dense>(o);
}

std::shared_ptr<LayerNorm> make_norm(int64_t d, double eps) {
  LayerNormOptions o;
  o.normalized_shape = {d};
  o.eps = eps;
  return std::make_shared<LayerNorm>(o);
}

Variable activate(const Variable& x, const std::string& name) { return name == "gelu" ? gelu(x) : relu(x); }

TransformerLayerOptions layer_options_from_json(const json& c) {
  TransformerLayerOptions o;
  o.d_model = c.at("d_model").get<int64_t>();
  o.nhead = c.value("nhead", int64_t{1});
  o.dim_feedforward = c.value("dim_feedforward", int64_t{2048});
  o.dropout = c.value("dropout", 0.1);
  o.activation = c.value("activation", std::string("relu"));
  o.layer_norm_eps = c.value("layer_norm_eps", 1e-5);
  o.batch_first = c.value("batch_first", true);
  o.norm_first = c.value("norm_first", false);
  return o;
}

json layer_options_to_json(const TransformerLayerOptions& o) {
  return {{"d_model", o.d_model},       {"nhead", o.nhead},
          {"dim_feedforward", o.dim_feedforward}, {"dropout", o.dropout},
          {"activation", o.activation}, {"layer_norm_eps", o.layer_norm_eps},
          {"batch_first", o.batch_first}, {"norm_first", o.norm_first}};
}

void check_layer_options(const TransformerLayerOptions& o, const char* who) {
  KUN_CHECK(o.d_model > 0 && o.nhead > 0 && o.d_model % o.nhead == 0, ValueError, who,
            ": d_model must be > 0 and divisible by nhead, got d_model=", o.d_model, ", nhead=", o.nhead);
  KUN_CHECK(o.dim_feedforward > 0, ValueError, who, ": dim_feedforward must be > 0, got ", o.dim_feedforward);
  KUN_CHECK(o.activation == "relu" || o.activation == "gelu", ValueError, who,
            ": activation must be 'relu' or 'gelu', got '", o.activation, "'");
  KUN_CHECK(o.dropout >= 0 && o.dropout < 1, ValueError, who, ": dropout must be in [0, 1), got ", o.dropout);
}

MultiHeadAttentionOptions mha_options(const TransformerLayerOptions& o) {
  return {o.d_model, o.nhead, o.dropout, true, true};  // the layer handles batch_first itself
}

// (N, L, E) -> (N, heads, L, E / heads), contiguous.
Variable split_heads(const Variable& x, int64_t heads) {
  const int64_t N = x.size(0), L = x.size(1), E = x.size(2);
  return contiguous(permute(reshape(x, {N, L, heads, E / heads}), {0, 2, 1, 3}));
}

}  // namespace

// ---------------------------------------------------------------- MultiHeadAttention

MultiHeadAttention::MultiHeadAttention(MultiHeadAttentionOptions opt) : opt_(opt) {
  KUN_CHECK(opt_.embed_dim > 0 && opt_.num_heads > 0 && opt_.embed_dim % opt_.num_heads == 0, ValueError,
            "MultiHeadAttention: embed_dim must be > 0 and divisible by num_heads, got embed_dim=", opt_.embed_dim,
            ", num_heads=", opt_.num_heads);
  KUN_CHECK(opt_.dropout >= 0 && opt_.dropout < 1, ValueError, "MultiHeadAttention: dropout must be in [0, 1), got ",
            opt_.dropout);
  const int64_t E = opt_.embed_dim;
  Tensor w = Tensor::empty({3 * E, E});
  init::xavier_uniform_(w);
  in_proj_weight_ = register_parameter("in_proj_weight", w);
  if (opt_.bias) in_proj_bias_ = register_parameter("in_proj_bias", zeros({3 * E}));
  out_proj_ = register_module("out_proj", make_dense(E, E, opt_.bias));
  if (opt_.bias) out_proj_->parameter("bias").data().zero_();
}

MultiHeadAttention::MultiHeadAttention(const json& c, FromConfig)
    : MultiHeadAttention(MultiHeadAttentionOptions{c.at("embed_dim").get<int64_t>(), c.value("num_heads", int64_t{1}),
                                                   c.value("dropout", 0.0), c.value("bias", true),
                                                   c.value("batch_first", true)}) {}

json MultiHeadAttention::config() const {
  return {{"embed_dim", opt_.embed_dim},
          {"num_heads", opt_.num_heads},
          {"dropout", opt_.dropout},
          {"bias", opt_.bias},
          {"batch_first", opt_.batch_first}};
}

Variable MultiHeadAttention::forward(const Variable& x) { return attend(x, x, x); }

Variable MultiHeadAttention::attend(const Variable& query, const Variable& key, const Variable& value,
                                    const AttentionMask& mask, Variable* weights_out) {
  const int64_t E = opt_.embed_dim, h = opt_.num_heads;
  for (const Variable* v : {&query, &key, &value})
    KUN_CHECK(v->defined() && v->dim() == 3 && v->size(2) == E, ShapeError, "MultiHeadAttention: inputs must be ",
              opt_.batch_first ? "(N, L, E)" : "(L, N, E)", " with E=", E, ", got ",
              v->defined() ? v->shape() : Shape{});
  const bool self = query.same(key) && key.same(value);
  Variable q_in = opt_.batch_first ? query : transpose(query, 0, 1);
  Variable k_in = opt_.batch_first ? key : transpose(key, 0, 1);
  Variable v_in = opt_.batch_first ? value : transpose(value, 0, 1);
  KUN_CHECK(k_in.shape() == v_in.shape() && q_in.size(0) == k_in.size(0), ShapeError,
            "MultiHeadAttention: query ", query.shape(), ", key ", key.shape(), " and value ", value.shape(),
            " must share the batch size, and key / value their shape");
  const int64_t N = q_in.size(0), L = q_in.size(1);
  Variable q, k, v;
  if (self) {
    // One GEMM for q, k and v: (N, L, 3E) -> (3, N, h, L, d).
    Variable qkv = linear(q_in, in_proj_weight_, in_proj_bias_);
    qkv = contiguous(permute(reshape(qkv, {N, L, 3, h, E / h}), {2, 0, 3, 1, 4}));
    q = select(qkv, 0, 0);
    k = select(qkv, 0, 1);
    v = select(qkv, 0, 2);
  } else {
    auto part = [&](const Variable& x, int64_t i) {
      Variable b = in_proj_bias_.defined() ? narrow(in_proj_bias_, 0, i * E, E) : Variable();
      return split_heads(linear(x, narrow(in_proj_weight_, 0, i * E, E), b), h);
    };
    q = part(q_in, 0);
    k = part(k_in, 1);
    v = part(v_in, 2);
  }
  AttentionOptions ao;
  ao.mask = mask;
  ao.dropout = opt_.dropout;
  ao.training = is_training();
  Variable o = scaled_dot_product_attention(q, k, v, ao, weights_out);  // (N, h, L, d)
  o = reshape(contiguous(permute(o, {0, 2, 1, 3})), {N, L, E});
  Variable out = out_proj_->forward(o);
  return opt_.batch_first ? out : transpose(out, 0, 1);
}

// ---------------------------------------------------------------- encoder / decoder layers

TransformerEncoderLayer::TransformerEncoderLayer(TransformerLayerOptions opt) : opt_(std::move(opt)) {
  check_layer_options(opt_, "TransformerEncoderLayer");
  self_attn_ = register_module("self_attn", std::make_shared<MultiHeadAttention>(mha_options(opt_)));
  linear1_ = register_module("linear1", make_dense(opt_.d_model, opt_.dim_feedforward));
  linear2_ = register_module("linear2", make_dense(opt_.dim_feedforward, opt_.d_model));
  norm1_ = register_module("norm1", make_norm(opt_.d_model, opt_.layer_norm_eps));
  norm2_ = register_module("norm2", make_norm(opt_.d_model, opt_.layer_norm_eps));
}
TransformerEncoderLayer::TransformerEncoderLayer(const json& c, FromConfig)
    : TransformerEncoderLayer(layer_options_from_json(c)) {}
json TransformerEncoderLayer::config() const { return layer_options_to_json(opt_); }

Variable TransformerEncoderLayer::feed_forward(const Variable& x) {
  const bool tr = is_training();
  Variable hdn = dropout(activate(linear1_->forward(x), opt_.activation), opt_.dropout, tr);
  return dropout(linear2_->forward(hdn), opt_.dropout, tr);
}

Variable TransformerEncoderLayer::forward_masked(const Variable& x_in, const AttentionMask& mask) {
  KUN_CHECK(x_in.defined() && x_in.dim() == 3 && x_in.size(2) == opt_.d_model, ShapeError,
            "TransformerEncoderLayer: input must be (N, L, ", opt_.d_model, "), got ",
            x_in.defined() ? x_in.shape() : Shape{});
  const bool tr = is_training();
  Variable x = opt_.batch_first ? x_in : transpose(x_in, 0, 1);
  auto sa = [&](const Variable& y) { return dropout(self_attn_->attend(y, y, y, mask), opt_.dropout, tr); };
  if (opt_.norm_first) {
    x = x + sa(norm1_->forward(x));
    x = x + feed_forward(norm2_->forward(x));
  } else {
    x = norm1_->forward(x + sa(x));
    x = norm2_->forward(x + feed_forward(x));
  }
  return opt_.batch_first ? x : transpose(x, 0, 1);
}

TransformerDecoderLayer::TransformerDecoderLayer(TransformerLayerOptions opt) : opt_(std::move(opt)) {
  check_layer_options(opt_, "TransformerDecoderLayer");
  self_attn_ = register_module("self_attn", std::make_shared<MultiHeadAttention>(mha_options(opt_)));
  multihead_attn_ = register_module("multihead_attn", std::make_shared<MultiHeadAttention>(mha_options(opt_)));
  linear1_ = register_module("linear1", make_dense(opt_.d_model, opt_.dim_feedforward));
  linear2_ = register_module("linear2", make_dense(opt_.dim_feedforward, opt_.d_model));
  norm1_ = register_module("norm1", make_norm(opt_.d_model, opt_.layer_norm_eps));
  norm2_ = register_module("norm2", make_norm(opt_.d_model, opt_.layer_norm_eps));
  norm3_ = register_module("norm3", make_norm(opt_.d_model, opt_.layer_norm_eps));
}
TransformerDecoderLayer::TransformerDecoderLayer(const json& c, FromConfig)
    : TransformerDecoderLayer(layer_options_from_json(c)) {}
json TransformerDecoderLayer::config() const { return layer_options_to_json(opt_); }

Variable TransformerDecoderLayer::feed_forward(const Variable& x) {
  const bool tr = is_training();
  Variable hdn = dropout(activate(linear1_->forward(x), opt_.activation), opt_.dropout, tr);
  return dropout(linear2_->forward(hdn), opt_.dropout, tr);
}

Variable TransformerDecoderLayer::forward(const Variable& x) {
  AttentionMask causal;
  causal.causal = true;
  return forward_memory(x, Variable(), causal);
}

Variable TransformerDecoderLayer::forward_memory(const Variable& x_in, const Variable& mem_in,
                                                 const AttentionMask& tgt_mask, const AttentionMask& memory_mask) {
  KUN_CHECK(x_in.defined() && x_in.dim() == 3 && x_in.size(2) == opt_.d_model, ShapeError,
            "TransformerDecoderLayer: input must be (N, L, ", opt_.d_model, "), got ",
            x_in.defined() ? x_in.shape() : Shape{});
  const bool tr = is_training();
  Variable x = opt_.batch_first ? x_in : transpose(x_in, 0, 1);
  Variable mem = !mem_in.defined() || opt_.batch_first ? mem_in : transpose(mem_in, 0, 1);
  auto sa = [&](const Variable& y) { return dropout(self_attn_->attend(y, y, y, tgt_mask), opt_.dropout, tr); };
  auto ca = [&](const Variable& y) {
    return dropout(multihead_attn_->attend(y, mem, mem, memory_mask), opt_.dropout, tr);
  };
  if (opt_.norm_first) {
    x = x + sa(norm1_->forward(x));
    if (mem.defined()) x = x + ca(norm2_->forward(x));
    x = x + feed_forward(norm3_->forward(x));
  } else {
    x = norm1_->forward(x + sa(x));
    if (mem.defined()) x = norm2_->forward(x + ca(x));
    x = norm3_->forward(x + feed_forward(x));
  }
  return opt_.batch_first ? x : transpose(x, 0, 1);
}

// ---------------------------------------------------------------- stacks

namespace {
TransformerStackOptions stack_options_from_json(const json& c) {
  TransformerStackOptions o;
  o.layer = layer_options_from_json(c.at("layer"));
  o.num_layers = c.value("num_layers", int64_t{1});
  o.final_norm = c.value("final_norm", false);
  return o;
}
json stack_options_to_json(const TransformerStackOptions& o) {
  return {{"layer", layer_options_to_json(o.layer)}, {"num_layers", o.num_layers}, {"final_norm", o.final_norm}};
}
}  // namespace

TransformerEncoder::TransformerEncoder(TransformerStackOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.num_layers >= 1, ValueError, "TransformerEncoder: num_layers must be >= 1, got ", opt_.num_layers);
  auto list = register_module("layers", std::make_shared<LayerList>());
  for (int64_t i = 0; i < opt_.num_layers; ++i)
    layers_.push_back(
        list->register_module(std::to_string(i), std::make_shared<TransformerEncoderLayer>(opt_.layer)));
  if (opt_.final_norm) norm_ = register_module("norm", make_norm(opt_.layer.d_model, opt_.layer.layer_norm_eps));
}
TransformerEncoder::TransformerEncoder(const json& c, FromConfig) : TransformerEncoder(stack_options_from_json(c)) {}
json TransformerEncoder::config() const { return stack_options_to_json(opt_); }

Variable TransformerEncoder::forward_masked(const Variable& x, const AttentionMask& mask) {
  Variable y = x;
  for (auto& l : layers_) y = l->forward_masked(y, mask);
  return norm_ ? norm_->forward(y) : y;
}

TransformerDecoder::TransformerDecoder(TransformerStackOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.num_layers >= 1, ValueError, "TransformerDecoder: num_layers must be >= 1, got ", opt_.num_layers);
  auto list = register_module("layers", std::make_shared<LayerList>());
  for (int64_t i = 0; i < opt_.num_layers; ++i)
    layers_.push_back(
        list->register_module(std::to_string(i), std::make_shared<TransformerDecoderLayer>(opt_.layer)));
  if (opt_.final_norm) norm_ = register_module("norm", make_norm(opt_.layer.d_model, opt_.layer.layer_norm_eps));
}
TransformerDecoder::TransformerDecoder(const json& c, FromConfig) : TransformerDecoder(stack_options_from_json(c)) {}
json TransformerDecoder::config() const { return stack_options_to_json(opt_); }

Variable TransformerDecoder::forward(const Variable& x) {
  AttentionMask causal;
  causal.causal = true;
  return forward_memory(x, Variable(), causal);
}

Variable TransformerDecoder::forward_memory(const Variable& x, const Variable& memory, const AttentionMask& tgt_mask,
                                            const AttentionMask& memory_mask) {
  Variable y = x;
  for (auto& l : layers_) y = l->forward_memory(y, memory, tgt_mask, memory_mask);
  return norm_ ? norm_->forward(y) : y;
}

// ---------------------------------------------------------------- positions

Tensor sinusoidal_positions(int64_t max_len, int64_t dim, DType dtype) {
  std::vector<double> v(static_cast<size_t>(max_len * dim));
  for (int64_t p = 0; p < max_len; ++p)
    for (int64_t i = 0; i < dim; ++i) {
      const double freq = std::pow(10000.0, -static_cast<double>(i - i % 2) / static_cast<double>(dim));
      v[p * dim + i] = i % 2 == 0 ? std::sin(p * freq) : std::cos(p * freq);
    }
  return from_vector(v, {max_len, dim}).to(dtype);
}

PositionalEmbedding::PositionalEmbedding(PositionalEmbeddingOptions opt) : opt_(opt) {
  KUN_CHECK(opt_.max_len > 0 && opt_.dim > 0, ValueError, "PositionalEmbedding: max_len and dim must be > 0, got ",
            opt_.max_len, " and ", opt_.dim);
  if (opt_.learned) {
    Tensor w = Tensor::empty({opt_.max_len, opt_.dim});
    init::normal_(w, 0.0, 0.02);
    weight_ = register_parameter("weight", w);
  } else {
    pe_ = register_buffer("pe", sinusoidal_positions(opt_.max_len, opt_.dim));
  }
}
PositionalEmbedding::PositionalEmbedding(const json& c, FromConfig)
    : PositionalEmbedding(PositionalEmbeddingOptions{c.value("max_len", int64_t{512}), c.at("dim").get<int64_t>(),
                                                     c.value("learned", true)}) {}
json PositionalEmbedding::config() const {
  return {{"max_len", opt_.max_len}, {"dim", opt_.dim}, {"learned", opt_.learned}};
}

Variable PositionalEmbedding::forward(const Variable& x) {
  KUN_CHECK(x.defined() && x.dim() == 3 && x.size(2) == opt_.dim, ShapeError, "PositionalEmbedding: input must be (N, L, ",
            opt_.dim, "), got ", x.defined() ? x.shape() : Shape{});
  const int64_t L = x.size(1);
  KUN_CHECK(L <= opt_.max_len, ValueError, "PositionalEmbedding: sequence length ", L, " exceeds max_len ",
            opt_.max_len, "; truncate the input or build with a larger max_len");
  if (opt_.learned) return x + narrow(weight_, 0, 0, L);
  Tensor pe = buffer("pe").narrow(0, 0, L);
  if (pe.dtype() != x.dtype()) pe = pe.to(x.dtype());
  return x + Variable(pe);
}

// ---------------------------------------------------------------- heads

MaskedLMHead::MaskedLMHead(MaskedLMHeadOptions opt, Variable tied_weight) : opt_(opt) {
  KUN_CHECK(opt_.d_model > 0 && opt_.vocab_size > 0, ValueError, "MaskedLMHead: d_model and vocab_size must be > 0, got ",
            opt_.d_model, " and ", opt_.vocab_size);
  dense_ = register_module("dense", make_dense(opt_.d_model, opt_.d_model));
  norm_ = register_module("norm", make_norm(opt_.d_model, opt_.layer_norm_eps));
  if (tied_weight.defined()) {
    tie(tied_weight);
  } else {
    Tensor w = Tensor::empty({opt_.vocab_size, opt_.d_model});
    init::xavier_uniform_(w);
    decoder_weight_ = register_parameter("decoder_weight", w);
  }
  bias_ = register_parameter("bias", zeros({opt_.vocab_size}));
}

MaskedLMHead::MaskedLMHead(const json& c, FromConfig)
    : opt_{c.at("d_model").get<int64_t>(), c.at("vocab_size").get<int64_t>(), c.value("layer_norm_eps", 1e-5)} {
  dense_ = register_module("dense", make_dense(opt_.d_model, opt_.d_model));
  norm_ = register_module("norm", make_norm(opt_.d_model, opt_.layer_norm_eps));
  tied_ = c.value("tied", false);
  if (!tied_) decoder_weight_ = register_parameter("decoder_weight", Tensor::empty({opt_.vocab_size, opt_.d_model}));
  bias_ = register_parameter("bias", zeros({opt_.vocab_size}));
}

json MaskedLMHead::config() const {
  return {{"d_model", opt_.d_model}, {"vocab_size", opt_.vocab_size}, {"layer_norm_eps", opt_.layer_norm_eps},
          {"tied", tied_}};
}

void MaskedLMHead::tie(const Variable& weight) {
  KUN_CHECK(weight.defined() && weight.shape() == Shape({opt_.vocab_size, opt_.d_model}), ShapeError,
            "MaskedLMHead: tied weight must be (vocab_size, d_model) = (", opt_.vocab_size, ", ", opt_.d_model,
            "), got ", weight.defined() ? weight.shape() : Shape{});
  KUN_CHECK(tied_ || !decoder_weight_.defined(), ValueError,
            "MaskedLMHead: this head owns its output weight; build it with a tied weight instead");
  decoder_weight_ = weight;
  tied_ = true;
}

Variable MaskedLMHead::forward(const Variable& x) {
  KUN_CHECK(decoder_weight_.defined(), ValueError,
            "MaskedLMHead: the head is tied but no weight is attached; call tie(embedding weight) after loading");
  Variable h = norm_->forward(gelu(dense_->forward(x)));
  return linear(h, decoder_weight_, bias_);
}

Variable masked_mean(const Variable& x, const Tensor& key_padding_mask) {
  KUN_CHECK(x.defined() && x.dim() == 3, ShapeError, "masked_mean: input must be (N, L, d), got ",
            x.defined() ? x.shape() : Shape{});
  if (!key_padding_mask.defined()) return mean(x, {1});
  KUN_CHECK(key_padding_mask.shape() == Shape({x.size(0), x.size(1)}), ShapeError,
            "masked_mean: key_padding_mask must be (N, L) = (", x.size(0), ", ", x.size(1), "), got ",
            key_padding_mask.shape());
  Tensor keep = eq(key_padding_mask, zeros({1}, key_padding_mask.dtype())).to(x.dtype()).unsqueeze(2);  // (N, L, 1)
  Tensor count = clamp(sum(keep, {1}), 1.0, std::nullopt);                                              // (N, 1)
  return sum(x * Variable(keep), {1}) / Variable(count);
}

ClassificationHead::ClassificationHead(ClassificationHeadOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.d_model > 0 && opt_.num_classes > 0, ValueError,
            "ClassificationHead: d_model and num_classes must be > 0, got ", opt_.d_model, " and ", opt_.num_classes);
  KUN_CHECK(opt_.pooling == "cls" || opt_.pooling == "mean", ValueError,
            "ClassificationHead: pooling must be 'cls' or 'mean', got '", opt_.pooling, "'");
  classifier_ = register_module("classifier", make_dense(opt_.d_model, opt_.num_classes));
}
ClassificationHead::ClassificationHead(const json& c, FromConfig)
    : ClassificationHead(ClassificationHeadOptions{c.at("d_model").get<int64_t>(), c.value("num_classes", int64_t{2}),
                                                   c.value("pooling", std::string("cls")), c.value("dropout", 0.0)}) {}
json ClassificationHead::config() const {
  return {{"d_model", opt_.d_model}, {"num_classes", opt_.num_classes}, {"pooling", opt_.pooling},
          {"dropout", opt_.dropout}};
}

Variable ClassificationHead::forward_masked(const Variable& x, const Tensor& key_padding_mask) {
  KUN_CHECK(x.defined() && x.dim() == 3 && x.size(2) == opt_.d_model, ShapeError,
            "ClassificationHead: input must be (N, L, ", opt_.d_model, "), got ", x.defined() ? x.shape() : Shape{});
  Variable pooled = opt_.pooling == "cls" ? select(x, 1, 0) : masked_mean(x, key_padding_mask);
  return classifier_->forward(dropout(pooled, opt_.dropout, is_training()));
}

}  // namespace kun::nn
