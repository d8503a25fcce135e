#include "kun/nn/layers.h"

#include "kun/autograd/ops.h"
#include "kun/nn/activation.h"
#include "kun/nn/init.h"

namespace kun::nn {
using namespace kun::nn::init;

void initialize(const Tensor& t, const std::string& n, const char* who) {
  if (n == "glorot_uniform" || n == "xavier_uniform") glorot_uniform_(t);
  else if (n == "glorot_normal" || n == "xavier_normal") glorot_normal_(t);
  else if (n == "he_uniform" || n == "kaiming_uniform") he_uniform_(t);
  else if (n == "he_normal" || n == "kaiming_normal") he_normal_(t);
  else if (n == "lecun_normal") lecun_normal_(t);
  else if (n == "orthogonal") orthogonal_(t);
  else if (n == "zeros") zeros_(t);
  else if (n == "ones") ones_(t);
  else if (n == "normal") normal_(t, 0.0, 0.05);
  else if (n == "uniform") uniform_(t, -0.05, 0.05);
  else
    detail::throw_error<ValueError>(who, ": unknown initializer '", n,
                                    "'; expected glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_normal, "
                                    "orthogonal, zeros, ones, normal or uniform");
}

namespace {
Size2 size2_from(const json& j, int64_t dflt) {
  if (j.is_null()) return Size2(dflt);
  if (j.is_array()) return Size2(j.at(0).get<int64_t>(), j.at(1).get<int64_t>());
  return Size2(j.get<int64_t>());
}
json size2_json(Size2 s) { return s.h == s.w ? json(s.h) : json::array({s.h, s.w}); }
ConvPadding padding_from(const json& j) {
  if (j.is_null()) return ConvPadding(0);
  if (j.is_string()) return ConvPadding(std::string_view(j.get_ref<const std::string&>()));
  if (j.is_array()) return ConvPadding(j.at(0).get<int64_t>(), j.at(1).get<int64_t>());
  return ConvPadding(j.get<int64_t>());
}
json padding_json(const ConvPadding& p) {
  if (p.mode == ConvPadMode::same) return "same";
  if (p.mode == ConvPadMode::valid) return "valid";
  return size2_json(p.size);
}
// Checks `x` has rank `rank` and returns its size at dim 1 (channels / features).
int64_t channels_of(const Variable& x, int rank, const char* who, const char* layout) {
  KUN_CHECK(x.dim() == rank, ShapeError, who, ": input must be ", layout, ", got ", x.shape());
  return x.size(1);
}
}  // namespace

// ---------------- Dense ----------------

Dense::Dense(DenseOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.units > 0, ValueError, "Dense: units must be > 0, got ", opt_.units);
  check_activation_name(opt_.activation, "Dense");
  if (opt_.in_features > 0) build(opt_.in_features);
}
Dense::Dense(const json& c, FromConfig)
    : Dense(DenseOptions{c.at("units").get<int64_t>(), c.value("in_features", int64_t{0}), c.value("use_bias", true),
                         c.value("activation", std::string()),
                         c.value("kernel_initializer", std::string("glorot_uniform")),
                         c.value("bias_initializer", std::string("zeros"))}) {}

void Dense::build(int64_t in) {
  opt_.in_features = in;
  Tensor w = Tensor::empty({opt_.units, in});
  initialize(w, opt_.kernel_initializer, "Dense");
  weight_ = register_parameter("weight", w);
  if (opt_.use_bias) {
    Tensor b = Tensor::empty({opt_.units});
    initialize(b, opt_.bias_initializer, "Dense");
    bias_ = register_parameter("bias", b);
  }
}

Variable Dense::forward(const Variable& x) {
  KUN_CHECK(x.dim() >= 1, ShapeError, "Dense: input must have at least 1 dim (..., features), got ", x.shape());
  if (!weight_.defined()) build(x.size(-1));
  KUN_CHECK(x.size(-1) == opt_.in_features, ShapeError, "Dense: input must be (..., ", opt_.in_features,
            ") features, got ", x.shape(), "; the layer was built for ", opt_.in_features, " input features");
  return activate(linear(x, weight_, bias_), opt_.activation);
}

json Dense::config() const {
  return {{"units", opt_.units},           {"in_features", opt_.in_features},
          {"use_bias", opt_.use_bias},     {"activation", opt_.activation},
          {"kernel_initializer", opt_.kernel_initializer}, {"bias_initializer", opt_.bias_initializer}};
}

// ---------------- Conv2D ----------------

Conv2D::Conv2D(Conv2DOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.out_channels > 0, ValueError, "Conv2D: out_channels must be > 0, got ", opt_.out_channels);
  KUN_CHECK(opt_.kernel.h > 0 && opt_.kernel.w > 0, ValueError, "Conv2D: kernel must be > 0, got (", opt_.kernel.h,
            ", ", opt_.kernel.w, ")");
  KUN_CHECK(opt_.groups > 0 && opt_.out_channels % opt_.groups == 0, ValueError, "Conv2D: out_channels ",
            opt_.out_channels, " must be divisible by groups ", opt_.groups);
  check_activation_name(opt_.activation, "Conv2D");
  if (opt_.in_channels > 0) build(opt_.in_channels);
}
Conv2D::Conv2D(const json& c, FromConfig)
    : Conv2D(Conv2DOptions{c.at("out_channels").get<int64_t>(), size2_from(c.value("kernel", json()), 3),
                           size2_from(c.value("stride", json()), 1), padding_from(c.value("padding", json())),
                           size2_from(c.value("dilation", json()), 1), c.value("groups", int64_t{1}),
                           c.value("use_bias", true), c.value("activation", std::string()),
                           c.value("in_channels", int64_t{0}),
                           c.value("kernel_initializer", std::string("glorot_uniform"))}) {}

void Conv2D::build(int64_t in) {
  KUN_CHECK(in % opt_.groups == 0, ShapeError, "Conv2D: input channels ", in, " must be divisible by groups ",
            opt_.groups);
  opt_.in_channels = in;
  Tensor w = Tensor::empty({opt_.out_channels, in / opt_.groups, opt_.kernel.h, opt_.kernel.w});
  initialize(w, opt_.kernel_initializer, "Conv2D");
  weight_ = register_parameter("weight", w);
  if (opt_.use_bias) bias_ = register_parameter("bias", zeros({opt_.out_channels}));
}

Variable Conv2D::forward(const Variable& x) {
  int64_t c = channels_of(x, 4, "Conv2D", "(N, C, H, W)");
  if (!weight_.defined()) build(c);
  KUN_CHECK(c == opt_.in_channels, ShapeError, "Conv2D: input must be (N, C, H, W) with C=", opt_.in_channels,
            ", got ", x.shape());
  Conv2dOptions o{opt_.stride, opt_.padding, opt_.dilation, opt_.groups};
  return activate(conv2d(x, weight_, bias_, o), opt_.activation);
}

json Conv2D::config() const {
  return {{"out_channels", opt_.out_channels}, {"kernel", size2_json(opt_.kernel)},
          {"stride", size2_json(opt_.stride)},  {"padding", padding_json(opt_.padding)},
          {"dilation", size2_json(opt_.dilation)}, {"groups", opt_.groups},
          {"use_bias", opt_.use_bias},          {"activation", opt_.activation},
          {"in_channels", opt_.in_channels},    {"kernel_initializer", opt_.kernel_initializer}};
}

// ---------------- Conv1D ----------------

Conv1D::Conv1D(Conv1DOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.out_channels > 0 && opt_.kernel > 0, ValueError,
            "Conv1D: out_channels and kernel must be > 0, got ", opt_.out_channels, " and ", opt_.kernel);
  KUN_CHECK(opt_.groups > 0 && opt_.out_channels % opt_.groups == 0, ValueError, "Conv1D: out_channels ",
            opt_.out_channels, " must be divisible by groups ", opt_.groups);
  check_activation_name(opt_.activation, "Conv1D");
  if (opt_.in_channels > 0) build(opt_.in_channels);
}
Conv1D::Conv1D(const json& c, FromConfig)
    : Conv1D(Conv1DOptions{c.at("out_channels").get<int64_t>(), c.value("kernel", int64_t{3}),
                           c.value("stride", int64_t{1}), padding_from(c.value("padding", json())),
                           c.value("dilation", int64_t{1}), c.value("groups", int64_t{1}), c.value("use_bias", true),
                           c.value("activation", std::string()), c.value("in_channels", int64_t{0}),
                           c.value("kernel_initializer", std::string("glorot_uniform"))}) {}

void Conv1D::build(int64_t in) {
  KUN_CHECK(in % opt_.groups == 0, ShapeError, "Conv1D: input channels ", in, " must be divisible by groups ",
            opt_.groups);
  opt_.in_channels = in;
  Tensor w = Tensor::empty({opt_.out_channels, in / opt_.groups, opt_.kernel});
  initialize(w, opt_.kernel_initializer, "Conv1D");
  weight_ = register_parameter("weight", w);
  if (opt_.use_bias) bias_ = register_parameter("bias", zeros({opt_.out_channels}));
}

Variable Conv1D::forward(const Variable& x) {
  int64_t c = channels_of(x, 3, "Conv1D", "(N, C, L)");
  if (!weight_.defined()) build(c);
  KUN_CHECK(c == opt_.in_channels, ShapeError, "Conv1D: input must be (N, C, L) with C=", opt_.in_channels, ", got ",
            x.shape());
  Conv1dOptions o{opt_.stride, opt_.padding, opt_.dilation, opt_.groups};
  return activate(conv1d(x, weight_, bias_, o), opt_.activation);
}

json Conv1D::config() const {
  return {{"out_channels", opt_.out_channels}, {"kernel", opt_.kernel},     {"stride", opt_.stride},
          {"padding", padding_json(opt_.padding)}, {"dilation", opt_.dilation}, {"groups", opt_.groups},
          {"use_bias", opt_.use_bias},          {"activation", opt_.activation}, {"in_channels", opt_.in_channels},
          {"kernel_initializer", opt_.kernel_initializer}};
}

// ---------------- Conv2DTranspose ----------------

Conv2DTranspose::Conv2DTranspose(Conv2DTransposeOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.out_channels > 0, ValueError, "Conv2DTranspose: out_channels must be > 0, got ", opt_.out_channels);
  check_activation_name(opt_.activation, "Conv2DTranspose");
  if (opt_.in_channels > 0) build(opt_.in_channels);
}
Conv2DTranspose::Conv2DTranspose(const json& c, FromConfig)
    : Conv2DTranspose(Conv2DTransposeOptions{
          c.at("out_channels").get<int64_t>(), size2_from(c.value("kernel", json()), 3),
          size2_from(c.value("stride", json()), 1), size2_from(c.value("padding", json()), 0),
          size2_from(c.value("output_padding", json()), 0), c.value("groups", int64_t{1}), c.value("use_bias", true),
          c.value("activation", std::string()), c.value("in_channels", int64_t{0}),
          c.value("kernel_initializer", std::string("glorot_uniform"))}) {}

void Conv2DTranspose::build(int64_t in) {
  KUN_CHECK(in % opt_.groups == 0, ShapeError, "Conv2DTranspose: input channels ", in,
            " must be divisible by groups ", opt_.groups);
  opt_.in_channels = in;
  // PyTorch layout: (in, out/groups, kH, kW)
  Tensor w = Tensor::empty({in, opt_.out_channels / opt_.groups, opt_.kernel.h, opt_.kernel.w});
  initialize(w, opt_.kernel_initializer, "Conv2DTranspose");
  weight_ = register_parameter("weight", w);
  if (opt_.use_bias) bias_ = register_parameter("bias", zeros({opt_.out_channels}));
}

Variable Conv2DTranspose::forward(const Variable& x) {
  int64_t c = channels_of(x, 4, "Conv2DTranspose", "(N, C, H, W)");
  if (!weight_.defined()) build(c);
  KUN_CHECK(c == opt_.in_channels, ShapeError, "Conv2DTranspose: input must be (N, C, H, W) with C=",
            opt_.in_channels, ", got ", x.shape());
  ConvTranspose2dOptions o{opt_.stride, opt_.padding, opt_.output_padding, opt_.groups};
  return activate(conv_transpose2d(x, weight_, bias_, o), opt_.activation);
}

json Conv2DTranspose::config() const {
  return {{"out_channels", opt_.out_channels}, {"kernel", size2_json(opt_.kernel)},
          {"stride", size2_json(opt_.stride)},  {"padding", size2_json(opt_.padding)},
          {"output_padding", size2_json(opt_.output_padding)}, {"groups", opt_.groups},
          {"use_bias", opt_.use_bias},          {"activation", opt_.activation},
          {"in_channels", opt_.in_channels},    {"kernel_initializer", opt_.kernel_initializer}};
}

// ---------------- pooling ----------------

Pool::Pool(PoolKind kind, int dims, const json& c, FromConfig)
    : Pool(kind, dims,
           PoolOptions{size2_from(c.value("kernel", json()), 2), size2_from(c.value("stride", json()), 0),
                       size2_from(c.value("padding", json()), 0), c.value("ceil_mode", false)}) {}

std::string Pool::type_name() const {
  return std::string(kind_ == PoolKind::max ? "max_pool" : "avg_pool") + (dims_ == 2 ? "2d" : "1d");
}

json Pool::config() const {
  return {{"kernel", size2_json(opt_.kernel)},
          {"stride", size2_json(opt_.stride)},
          {"padding", size2_json(opt_.padding)},
          {"ceil_mode", opt_.ceil_mode}};
}

Variable Pool::forward(const Variable& x) {
  if (dims_ == 2) {
    channels_of(x, 4, type_name().c_str(), "(N, C, H, W)");
    Pool2dOptions o;
    o.kernel = opt_.kernel;
    o.stride = opt_.stride;
    o.padding = opt_.padding;
    o.ceil_mode = opt_.ceil_mode;
    return kind_ == PoolKind::max ? max_pool2d(x, o) : avg_pool2d(x, o);
  }
  channels_of(x, 3, type_name().c_str(), "(N, C, L)");
  Pool1dOptions o;
  o.kernel = opt_.kernel.h;
  o.stride = opt_.stride.h;
  o.padding = opt_.padding.h;
  o.ceil_mode = opt_.ceil_mode;
  return kind_ == PoolKind::max ? max_pool1d(x, o) : avg_pool1d(x, o);
}

std::string GlobalPool::type_name() const {
  return std::string(kind_ == PoolKind::max ? "global_max_pool" : "global_avg_pool") + (dims_ == 2 ? "2d" : "1d");
}

Variable GlobalPool::forward(const Variable& x) {
  int rank = dims_ + 2;
  channels_of(x, rank, type_name().c_str(), dims_ == 2 ? "(N, C, H, W)" : "(N, C, L)");
  std::vector<int64_t> dims;
  for (int d = 2; d < rank; ++d) dims.push_back(d);
  return kind_ == PoolKind::max ? amax(x, dims) : mean(x, dims);
}

// ---------------- reshaping ----------------

Variable Flatten::forward(const Variable& x) {
  KUN_CHECK(x.dim() >= 1, ShapeError, "Flatten: input must be (N, ...), got a scalar");
  if (x.dim() == 1) return reshape(x, {x.size(0), 1});
  return flatten(x, 1);
}

Variable Reshape::forward(const Variable& x) {
  KUN_CHECK(x.dim() >= 1, ShapeError, "Reshape: input must be (N, ...), got a scalar");
  Shape s{x.size(0)};
  for (int64_t d : target_) s.push_back(d);
  return reshape(x, s);
}

// ---------------- dropout ----------------

Dropout::Dropout(double rate) : rate_(rate) {
  KUN_CHECK(rate >= 0.0 && rate < 1.0, ValueError, "Dropout: rate must be in [0, 1), got ", rate);
}

Variable Dropout::forward(const Variable& x) { return dropout(x, rate_, is_training()); }

// ---------------- normalization ----------------

BatchNorm::BatchNorm(BatchNormOptions opt) : opt_(opt) {
  KUN_CHECK(opt_.momentum >= 0 && opt_.momentum <= 1 && opt_.eps > 0, ValueError,
            "BatchNorm: expected momentum in [0, 1] and eps > 0, got momentum ", opt_.momentum, ", eps ", opt_.eps);
  if (opt_.num_features > 0) build(opt_.num_features);
}
BatchNorm::BatchNorm(const json& c, FromConfig)
    : BatchNorm(BatchNormOptions{c.value("num_features", int64_t{0}), c.value("momentum", 0.1), c.value("eps", 1e-5),
                                 c.value("affine", true)}) {}

void BatchNorm::build(int64_t c) {
  opt_.num_features = c;
  if (opt_.affine) {
    weight_ = register_parameter("weight", ones({c}));
    bias_ = register_parameter("bias", zeros({c}));
  }
  register_buffer("running_mean", zeros({c}));
  register_buffer("running_var", ones({c}));
  built_ = true;
}

Variable BatchNorm::forward(const Variable& x) {
  KUN_CHECK(x.dim() >= 2 && x.dim() <= 4, ShapeError,
            "BatchNorm: input must be (N, C), (N, C, L) or (N, C, H, W), got ", x.shape());
  if (!built_) build(x.size(1));
  KUN_CHECK(x.size(1) == opt_.num_features, ShapeError, "BatchNorm: input must have C=", opt_.num_features,
            " channels at dim 1, got ", x.shape());
  ::kun::BatchNormOptions o;
  o.training = is_training();
  o.momentum = opt_.momentum;
  o.eps = opt_.eps;
  return batch_norm(x, buffer("running_mean"), buffer("running_var"), weight_, bias_, o);
}

json BatchNorm::config() const {
  return {{"num_features", opt_.num_features}, {"momentum", opt_.momentum}, {"eps", opt_.eps}, {"affine", opt_.affine}};
}

LayerNorm::LayerNorm(LayerNormOptions opt) : opt_(std::move(opt)) {
  if (!opt_.normalized_shape.empty()) build(Shape(opt_.normalized_shape));
}
LayerNorm::LayerNorm(const json& c, FromConfig)
    : LayerNorm(LayerNormOptions{c.value("normalized_shape", std::vector<int64_t>{}), c.value("eps", 1e-5),
                                 c.value("affine", true)}) {}

void LayerNorm::build(const Shape& trailing) {
  opt_.normalized_shape = trailing.vec();
  if (opt_.affine) {
    weight_ = register_parameter("weight", ones(trailing));
    bias_ = register_parameter("bias", zeros(trailing));
  }
  built_ = true;
}

Variable LayerNorm::forward(const Variable& x) {
  if (!built_) {
    KUN_CHECK(x.dim() >= 1, ShapeError, "LayerNorm: input must have at least 1 dim, got a scalar");
    build(Shape{x.size(-1)});
  }
  Shape ns(opt_.normalized_shape);
  ::kun::LayerNormOptions o;
  o.eps = opt_.eps;
  return layer_norm(x, ns, weight_, bias_, o);
}

json LayerNorm::config() const {
  return {{"normalized_shape", opt_.normalized_shape}, {"eps", opt_.eps}, {"affine", opt_.affine}};
}

// ---------------- embedding ----------------

Embedding::Embedding(EmbeddingOptions opt) : opt_(std::move(opt)) {
  KUN_CHECK(opt_.num_embeddings > 0 && opt_.embedding_dim > 0, ValueError,
            "Embedding: num_embeddings and embedding_dim must be > 0, got ", opt_.num_embeddings, " and ",
            opt_.embedding_dim);
  Tensor w = Tensor::empty({opt_.num_embeddings, opt_.embedding_dim});
  if (opt_.initializer == "normal") normal_(w, 0.0, 1.0);
  else initialize(w, opt_.initializer, "Embedding");
  if (opt_.padding_idx) {
    int64_t p = *opt_.padding_idx < 0 ? *opt_.padding_idx + opt_.num_embeddings : *opt_.padding_idx;
    KUN_CHECK(p >= 0 && p < opt_.num_embeddings, IndexError, "Embedding: padding_idx ", *opt_.padding_idx,
              " is outside the vocabulary of ", opt_.num_embeddings);
    w.select(0, p).zero_();
  }
  weight_ = register_parameter("weight", w);
}
Embedding::Embedding(const json& c, FromConfig)
    : Embedding(EmbeddingOptions{c.at("num_embeddings").get<int64_t>(), c.at("embedding_dim").get<int64_t>(),
                                 c.contains("padding_idx") && !c["padding_idx"].is_null()
                                     ? std::optional<int64_t>(c["padding_idx"].get<int64_t>())
                                     : std::nullopt,
                                 c.value("initializer", std::string("normal"))}) {}

Variable Embedding::forward(const Variable& ids) {
  KUN_CHECK(is_integral(ids.dtype()), TypeError, "Embedding: input must hold int64 or int32 ids, got ", ids.dtype());
  ::kun::EmbeddingOptions o;
  o.padding_idx = opt_.padding_idx;
  return embedding(ids.data(), weight_, o);
}

json Embedding::config() const {
  json j = {{"num_embeddings", opt_.num_embeddings},
            {"embedding_dim", opt_.embedding_dim},
            {"initializer", opt_.initializer}};
  j["padding_idx"] = opt_.padding_idx ? json(*opt_.padding_idx) : json();
  return j;
}

// ---------------- merging ----------------

Variable Add::forward_many(const std::vector<Variable>& xs) {
  KUN_CHECK(!xs.empty(), ValueError, "Add: needs at least one input");
  Variable s = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) s = add(s, xs[i]);
  return s;
}

Variable Concatenate::forward_many(const std::vector<Variable>& xs) {
  KUN_CHECK(!xs.empty(), ValueError, "Concatenate: needs at least one input");
  return concat(xs, axis_);
}

Residual::Residual(ModulePtr body, ModulePtr shortcut, std::string activation)
    : body_(std::move(body)), shortcut_(std::move(shortcut)), activation_(std::move(activation)) {
  KUN_CHECK(body_ != nullptr, ValueError, "Residual: the body module is null");
  check_activation_name(activation_, "Residual");
  register_module("body", body_);
  if (shortcut_) register_module("shortcut", shortcut_);
}

Residual::Residual(const json& c, FromConfig)
    : Residual(Module::from_config(c.at("body")),
               c.contains("shortcut") && !c["shortcut"].is_null() ? Module::from_config(c["shortcut"]) : nullptr,
               c.value("activation", std::string())) {}

Variable Residual::forward(const Variable& x) {
  Variable y = body_->forward(x);
  Variable s = shortcut_ ? shortcut_->forward(x) : x;
  KUN_CHECK(y.shape() == s.shape(), ShapeError, "Residual: the body maps ", x.shape(), " to ", y.shape(),
            " but the shortcut gives ", s.shape(), "; add a shortcut module (e.g. a 1x1 Conv2D) that matches");
  return activate(add(y, s), activation_);
}

json Residual::config() const {
  json j = {{"body", body_->to_config()}, {"activation", activation_}};
  j["shortcut"] = shortcut_ ? shortcut_->to_config() : json();
  return j;
}

}  // namespace kun::nn
