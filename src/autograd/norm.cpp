// Forward and backward of normalization and dropout, side by side (fused kernels both ways).
#include "kun/autograd/norm.h"

namespace kun {

namespace {
Tensor data_or_none(const Variable& v) { return v.defined() ? v.data() : Tensor(); }
}  // namespace

Variable layer_norm(const Variable& x, const Shape& normalized_shape, const Variable& weight, const Variable& bias,
                    const LayerNormOptions& opt) {
  LayerNormForward f = layer_norm_forward(x.data(), normalized_shape, data_or_none(weight), data_or_none(bias), opt);
  // inputs: x, weight, bias (undefined ones are skipped by the tape)
  return make_result(f.y, {x, weight, bias}, "layer_norm",
                     [normalized_shape, mean = f.mean, rstd = f.rstd](const Tensor& g, Node& n) {
                       const Variable &in = n.inputs[0], &w = n.inputs[1], &b = n.inputs[2];
                       NormGrads gr = layer_norm_backward(g, in.data(), normalized_shape, mean, rstd, data_or_none(w),
                                                          {in.requires_grad(), w.requires_grad(), b.requires_grad()});
                       if (in.requires_grad()) in.accumulate_grad(gr.dx);
                       if (w.requires_grad()) w.accumulate_grad(gr.dweight);
                       if (b.requires_grad()) b.accumulate_grad(gr.dbias);
                     });
}

Variable batch_norm(const Variable& x, const Tensor& running_mean, const Tensor& running_var, const Variable& weight,
                    const Variable& bias, const BatchNormOptions& opt) {
  BatchNormForward f =
      batch_norm_forward(x.data(), running_mean, running_var, data_or_none(weight), data_or_none(bias), opt);
  return make_result(f.y, {x, weight, bias}, "batch_norm",
                     [training = opt.training, mean = f.mean, rstd = f.rstd](const Tensor& g, Node& n) {
                       const Variable &in = n.inputs[0], &w = n.inputs[1], &b = n.inputs[2];
                       NormGrads gr = batch_norm_backward(g, in.data(), mean, rstd, data_or_none(w), training,
                                                          {in.requires_grad(), w.requires_grad(), b.requires_grad()});
                       if (in.requires_grad()) in.accumulate_grad(gr.dx);
                       if (w.requires_grad()) w.accumulate_grad(gr.dweight);
                       if (b.requires_grad()) b.accumulate_grad(gr.dbias);
                     });
}

Variable dropout(const Variable& x, double p, bool training, Generator* gen) {
  KUN_CHECK(x.defined(), ValueError, "dropout: the input is undefined");
  KUN_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout: p must be in [0, 1], got ", p);
  KUN_CHECK(is_floating(x.dtype()), TypeError, "dropout: expected a float32 or float64 input, got ", x.dtype());
  if (!training || p == 0.0) return x;
  Generator& g = gen ? *gen : default_generator();
  const uint64_t key = g.seed(), offset = g.reserve(static_cast<uint64_t>((x.numel() + 3) / 4));
  return make_result(dropout_masked(x.data(), p, key, offset), {x}, "dropout",
                     [p, key, offset](const Tensor& grad, Node& n) {
                       n.inputs[0].accumulate_grad(dropout_masked(grad, p, key, offset));
                     });
}

}  // namespace kun
