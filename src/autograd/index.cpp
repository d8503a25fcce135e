// Forward and backward of the differentiable indexing ops, side by side.
#include "kun/autograd/index.h"

#include "kun/tensor/ops.h"

namespace kun {

Variable index_select(const Variable& x, int64_t dim, const Tensor& idx) {
  Tensor out = index_select(x.data(), dim, idx);
  return make_result(out, {x}, "index_select", [dim, idx](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    in.accumulate_grad(index_add(zeros(in.shape(), g.dtype()), dim, idx, g));
  });
}

Variable gather(const Variable& x, int64_t dim, const Tensor& idx) {
  Tensor out = gather(x.data(), dim, idx);
  return make_result(out, {x}, "gather", [dim, idx](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    in.accumulate_grad(scatter_add(zeros(in.shape(), g.dtype()), dim, idx, g));
  });
}

Variable scatter_add(const Variable& x, int64_t dim, const Tensor& idx, const Variable& src) {
  Tensor out = scatter_add(x.data(), dim, idx, src.data());
  return make_result(out, {x, src}, "scatter_add", [dim, idx](const Tensor& g, Node& n) {
    if (n.inputs[0].requires_grad()) n.inputs[0].accumulate_grad(g);
    const Variable& s = n.inputs[1];
    if (!s.requires_grad()) return;
    Tensor gs = gather(g, dim, idx);  // idx's shape; src may be larger (its extra entries get zeros)
    if (gs.shape() != s.shape()) {
      Tensor z = zeros(s.shape(), g.dtype());
      Tensor region = z;
      for (int k = 0; k < idx.dim(); ++k) region = region.narrow(k, 0, idx.shape()[k]);
      region.copy_(gs);
      gs = z;
    }
    s.accumulate_grad(gs);
  });
}

Variable embedding(const Tensor& idx, const Variable& weight, const EmbeddingOptions& opt) {
  Tensor out = embedding(idx, weight.data());
  return make_result(out, {weight}, "embedding", [idx, opt](const Tensor& g, Node& n) {
    const Variable& w = n.inputs[0];
    w.accumulate_grad(embedding_backward(g, idx, w.shape()[0], opt));
  });
}

Variable masked_fill(const Variable& x, const Tensor& mask, double value) {
  Tensor out = masked_fill(x.data(), mask, value);
  return make_result(out, {x}, "masked_fill",
                     [mask](const Tensor& g, Node& n) { n.inputs[0].accumulate_grad(masked_fill(g, mask, 0.0)); });
}

TopKVar topk(const Variable& x, int64_t k, const TopKOptions& opt) {
  TopK r = topk(x.data(), k, opt);
  Tensor ind = r.indices;
  const int64_t dim = opt.dim;
  Variable v = make_result(r.values, {x}, "topk", [ind, dim](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    if (in.dim() == 0) {
      in.accumulate_grad(g);
      return;
    }
    in.accumulate_grad(scatter_add(zeros(in.shape(), g.dtype()), dim, ind, g));
  });
  return {v, r.indices};
}

}  // namespace kun
