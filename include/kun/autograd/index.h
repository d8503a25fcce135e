// Differentiable indexing ops (gradients flow to the data operands, never to indices or masks).
#pragma once
#include "kun/autograd/variable.h"
#include "kun/tensor/ops_index.h"

namespace kun {

Variable index_select(const Variable& x, int64_t dim, const Tensor& idx);
Variable gather(const Variable& x, int64_t dim, const Tensor& idx);
Variable scatter_add(const Variable& x, int64_t dim, const Tensor& idx, const Variable& src);
// idx: any shape; weight: (V, D) -> idx.shape + (D). Backward scatters rows into dweight
// (rows at opt.padding_idx get no gradient).
Variable embedding(const Tensor& idx, const Variable& weight, const EmbeddingOptions& opt = {});
Variable masked_fill(const Variable& x, const Tensor& mask, double value);

struct TopKVar {
  Variable values;  // differentiable
  Tensor indices;   // int64
};
TopKVar topk(const Variable& x, int64_t k, const TopKOptions& opt = {});

}  // namespace kun
