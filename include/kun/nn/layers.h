// The builtin layers. Each takes an options struct (Keras-style names); a dim left at 0 is
// inferred from the first input (the layer is "built" then), so models can be written without
// computing flattened sizes by hand. Weights use PyTorch layouts: Dense (out, in), Conv2D
// (out, in/groups, kH, kW). Every layer reports config() so architectures save as JSON.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "kun/nn/module.h"
#include "kun/tensor/ops_conv.h"

namespace kun::nn {

// Fills `t` by the initializer called `name`: "glorot_uniform" (default for kernels), "glorot_normal",
// "he_uniform", "he_normal", "lecun_normal", "orthogonal", "zeros", "ones", "normal" (std 0.05),
// "uniform" (+-0.05). Uses the default generator (seed it with kun::manual_seed).
void initialize(const Tensor& t, const std::string& name, const char* who);

struct DenseOptions {
  int64_t units = 0;
  int64_t in_features = 0;  // 0: inferred from the first input
  bool use_bias = true;
  std::string activation = "";
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
};
// y = activation(x W^T + b); x: (..., in) -> (..., units)
class Dense : public Module {
 public:
  explicit Dense(DenseOptions opt);
  Dense(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "dense"; }
  json config() const override;
  const DenseOptions& options() const { return opt_; }

 private:
  void build(int64_t in);
  DenseOptions opt_;
  Variable weight_, bias_;
};

struct Conv2DOptions {
  int64_t out_channels = 0;  // "filters" in Keras
  Size2 kernel = 3;
  Size2 stride = 1;
  ConvPadding padding = 0;  // int, (h, w), "same" or "valid"
  Size2 dilation = 1;
  int64_t groups = 1;
  bool use_bias = true;
  std::string activation = "";
  int64_t in_channels = 0;  // 0: inferred
  std::string kernel_initializer = "glorot_uniform";
};
// x: (N, C, H, W) -> (N, out_channels, H', W')
class Conv2D : public Module {
 public:
  explicit Conv2D(Conv2DOptions opt);
  Conv2D(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "conv2d"; }
  json config() const override;

 private:
  void build(int64_t in);
  Conv2DOptions opt_;
  Variable weight_, bias_;
};

struct Conv1DOptions {
  int64_t out_channels = 0;
  int64_t kernel = 3;
  int64_t stride = 1;
  ConvPadding padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool use_bias = true;
  std::string activation = "";
  int64_t in_channels = 0;
  std::string kernel_initializer = "glorot_uniform";
};
// x: (N, C, L) -> (N, out_channels, L')
class Conv1D : public Module {
 public:
  explicit Conv1D(Conv1DOptions opt);
  Conv1D(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "conv1d"; }
  json config() const override;

 private:
  void build(int64_t in);
  Conv1DOptions opt_;
  Variable weight_, bias_;
};

struct Conv2DTransposeOptions {
  int64_t out_channels = 0;
  Size2 kernel = 3;
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  int64_t groups = 1;
  bool use_bias = true;
  std::string activation = "";
  int64_t in_channels = 0;
  std::string kernel_initializer = "glorot_uniform";
};
class Conv2DTranspose : public Module {
 public:
  explicit Conv2DTranspose(Conv2DTransposeOptions opt);
  Conv2DTranspose(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "conv2d_transpose"; }
  json config() const override;

 private:
  void build(int64_t in);
  Conv2DTransposeOptions opt_;
  Variable weight_, bias_;
};

struct PoolOptions {
  Size2 kernel = 2;
  Size2 stride = 0;  // 0: the kernel size
  Size2 padding = 0;
  bool ceil_mode = false;
};
enum class PoolKind { max, avg };
// MaxPool2D / AvgPool2D on (N, C, H, W); MaxPool1D / AvgPool1D on (N, C, L) (kernel.h is used).
class Pool : public Module {
 public:
  Pool(PoolKind kind, int dims, PoolOptions opt) : kind_(kind), dims_(dims), opt_(opt) {}
  Pool(PoolKind kind, int dims, const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override;
  json config() const override;

 private:
  PoolKind kind_;
  int dims_;
  PoolOptions opt_;
};
struct MaxPool2D : Pool {
  explicit MaxPool2D(PoolOptions opt = {}) : Pool(PoolKind::max, 2, opt) {}
};
struct AvgPool2D : Pool {
  explicit AvgPool2D(PoolOptions opt = {}) : Pool(PoolKind::avg, 2, opt) {}
};
struct MaxPool1D : Pool {
  explicit MaxPool1D(PoolOptions opt = {}) : Pool(PoolKind::max, 1, opt) {}
};
struct AvgPool1D : Pool {
  explicit AvgPool1D(PoolOptions opt = {}) : Pool(PoolKind::avg, 1, opt) {}
};

// Global pooling over every dim after (N, C): (N, C, ...) -> (N, C).
class GlobalPool : public Module {
 public:
  GlobalPool(PoolKind kind, int dims) : kind_(kind), dims_(dims) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override;

 private:
  PoolKind kind_;
  int dims_;
};
struct GlobalAveragePooling2D : GlobalPool {
  GlobalAveragePooling2D() : GlobalPool(PoolKind::avg, 2) {}
};
struct GlobalMaxPooling2D : GlobalPool {
  GlobalMaxPooling2D() : GlobalPool(PoolKind::max, 2) {}
};
struct GlobalAveragePooling1D : GlobalPool {
  GlobalAveragePooling1D() : GlobalPool(PoolKind::avg, 1) {}
};
struct GlobalMaxPooling1D : GlobalPool {
  GlobalMaxPooling1D() : GlobalPool(PoolKind::max, 1) {}
};

// (N, d1, d2, ...) -> (N, d1*d2*...)
class Flatten : public Module {
 public:
  Flatten() = default;
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "flatten"; }
};

// (N, ...) -> (N, target...) ; one target dim may be -1.
class Reshape : public Module {
 public:
  explicit Reshape(std::vector<int64_t> target) : target_(std::move(target)) {}
  Reshape(const json& c, FromConfig) : target_(c.at("shape").get<std::vector<int64_t>>()) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "reshape"; }
  json config() const override { return {{"shape", target_}}; }

 private:
  std::vector<int64_t> target_;
};

// Inverted dropout in training; identity in eval.
class Dropout : public Module {
 public:
  explicit Dropout(double rate = 0.5);
  Dropout(const json& c, FromConfig) : Dropout(c.value("rate", 0.5)) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "dropout"; }
  json config() const override { return {{"rate", rate_}}; }

 private:
  double rate_;
};

struct BatchNormOptions {
  int64_t num_features = 0;  // channels (dim 1); 0: inferred
  double momentum = 0.1;     // PyTorch convention: running = (1 - momentum) * running + momentum * batch
  double eps = 1e-5;
  bool affine = true;
};
// Normalizes over every dim but the channel dim 1 of (N, C), (N, C, L) or (N, C, H, W).
class BatchNorm : public Module {
 public:
  explicit BatchNorm(BatchNormOptions opt = {});
  BatchNorm(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "batch_norm"; }
  json config() const override;

 private:
  void build(int64_t c);
  BatchNormOptions opt_;
  Variable weight_, bias_;
  bool built_ = false;
};

struct LayerNormOptions {
  std::vector<int64_t> normalized_shape = {};  // trailing dims; empty: the last dim, inferred
  double eps = 1e-5;
  bool affine = true;
};
class LayerNorm : public Module {
 public:
  explicit LayerNorm(LayerNormOptions opt = {});
  LayerNorm(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "layer_norm"; }
  json config() const override;

 private:
  void build(const Shape& trailing);
  LayerNormOptions opt_;
  Variable weight_, bias_;
  bool built_ = false;
};

struct EmbeddingOptions {
  int64_t num_embeddings = 0;  // vocabulary size
  int64_t embedding_dim = 0;
  std::optional<int64_t> padding_idx;
  std::string initializer = "normal";  // N(0, 1) like PyTorch; "uniform" gives +-0.05 like Keras
};
// Integer ids of any shape (carried in the Variable's data) -> ids.shape + (embedding_dim).
class Embedding : public Module {
 public:
  explicit Embedding(EmbeddingOptions opt);
  Embedding(const json& c, FromConfig);
  Variable forward(const Variable& ids) override;
  std::string type_name() const override { return "embedding"; }
  json config() const override;

 private:
  EmbeddingOptions opt_;
  Variable weight_;
};

// Layers with several inputs (used inside a Graph): forward_many; forward(x) means one input.
class MultiInputModule : public Module {
 public:
  virtual Variable forward_many(const std::vector<Variable>& xs) = 0;
  Variable forward(const Variable& x) override { return forward_many({x}); }
};

// Elementwise sum of its inputs (same shapes, or broadcastable).
class Add : public MultiInputModule {
 public:
  Add() = default;
  Variable forward_many(const std::vector<Variable>& xs) override;
  std::string type_name() const override { return "add"; }
};

// Concatenation of its inputs along `axis` (default: the channel / feature dim 1).
class Concatenate : public MultiInputModule {
 public:
  explicit Concatenate(int64_t axis = 1) : axis_(axis) {}
  Concatenate(const json& c, FromConfig) : axis_(c.value("axis", int64_t{1})) {}
  Variable forward_many(const std::vector<Variable>& xs) override;
  std::string type_name() const override { return "concatenate"; }
  json config() const override { return {{"axis", axis_}}; }

 private:
  int64_t axis_;
};

// y = activation(x + body(x)); body is any module mapping x to x's shape, or `shortcut` maps x
// to body's output shape (e.g. a 1x1 Conv2D when channels or stride change).
class Residual : public Module {
 public:
  Residual(ModulePtr body, ModulePtr shortcut = nullptr, std::string activation = "");
  Residual(const json& c, FromConfig);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "residual"; }
  json config() const override;

 private:
  ModulePtr body_, shortcut_;
  std::string activation_;
};

}  // namespace kun::nn
