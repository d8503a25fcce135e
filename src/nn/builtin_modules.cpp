// One line per builtin layer type, so Module::from_config can build it from JSON.
#include "kun/nn/activation.h"
#include "kun/nn/graph.h"
#include "kun/nn/layers.h"
#include "kun/nn/module.h"
#include "kun/nn/recurrent.h"
#include "kun/nn/transformer.h"
#include "kun/nn/sequential.h"

namespace kun::nn {

namespace {
template <typename M>
Module::Factory from_json() {
  return [](const json& c) -> ModulePtr { return std::make_shared<M>(c, FromConfig{}); };
}
template <typename M>
Module::Factory no_config() {
  return [](const json&) -> ModulePtr { return std::make_shared<M>(); };
}
Module::Factory pool(PoolKind k, int dims) {
  return [k, dims](const json& c) -> ModulePtr { return std::make_shared<Pool>(k, dims, c, FromConfig{}); };
}
Module::Factory global_pool(PoolKind k, int dims) {
  return [k, dims](const json&) -> ModulePtr { return std::make_shared<GlobalPool>(k, dims); };
}
}  // namespace

void register_builtin_modules() {
  Module::register_type("dense", from_json<Dense>());
  Module::register_type("conv1d", from_json<Conv1D>());
  Module::register_type("conv2d", from_json<Conv2D>());
  Module::register_type("conv2d_transpose", from_json<Conv2DTranspose>());
  Module::register_type("max_pool2d", pool(PoolKind::max, 2));
  Module::register_type("avg_pool2d", pool(PoolKind::avg, 2));
  Module::register_type("max_pool1d", pool(PoolKind::max, 1));
  Module::register_type("avg_pool1d", pool(PoolKind::avg, 1));
  Module::register_type("global_avg_pool2d", global_pool(PoolKind::avg, 2));
  Module::register_type("global_max_pool2d", global_pool(PoolKind::max, 2));
  Module::register_type("global_avg_pool1d", global_pool(PoolKind::avg, 1));
  Module::register_type("global_max_pool1d", global_pool(PoolKind::max, 1));
  Module::register_type("flatten", no_config<Flatten>());
  Module::register_type("reshape", from_json<Reshape>());
  Module::register_type("dropout", from_json<Dropout>());
  Module::register_type("batch_norm", from_json<BatchNorm>());
  Module::register_type("layer_norm", from_json<LayerNorm>());
  Module::register_type("embedding", from_json<Embedding>());
  Module::register_type("add", no_config<Add>());
  Module::register_type("concatenate", from_json<Concatenate>());
  Module::register_type("residual", from_json<Residual>());
  Module::register_type("activation", from_json<Activation>());
  Module::register_type("leaky_relu", from_json<LeakyReLU>());
  Module::register_type("elu", from_json<ELU>());
  Module::register_type("sequential", from_json<Sequential>());
  Module::register_type("graph", from_json<Graph>());
  Module::register_type("simple_rnn", from_json<SimpleRNN>());
  Module::register_type("lstm", from_json<LSTM>());
  Module::register_type("gru", from_json<GRU>());
  Module::register_type("multi_head_attention", from_json<MultiHeadAttention>());
  Module::register_type("transformer_encoder_layer", from_json<TransformerEncoderLayer>());
  Module::register_type("transformer_decoder_layer", from_json<TransformerDecoderLayer>());
  Module::register_type("transformer_encoder", from_json<TransformerEncoder>());
  Module::register_type("transformer_decoder", from_json<TransformerDecoder>());
  Module::register_type("positional_embedding", from_json<PositionalEmbedding>());
  Module::register_type("masked_lm_head", from_json<MaskedLMHead>());
  Module::register_type("classification_head", from_json<ClassificationHead>());
}

}  // namespace kun::nn
