// Forward and backward of the reductions, side by side.
#include "kun/autograd/reduce.h"

#include "kun/tensor/ops.h"

namespace kun {

namespace {
// Shape of x with the reduced dims kept as size 1 (to broadcast a reduced grad back).
Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape k = s;
  if (dims.empty()) {
    for (auto& d : k) d = 1;
    return k;
  }
  for (int64_t d : dims) k[normalize_dim(d, s.size(), "reduce")] = 1;
  return k;
}
}  // namespace

Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(sum(x.data(), dims, keepdim), {x}, "sum", [dims](const Tensor& g, Node& n) {
    const Variable& in = n.inputs[0];
    in.accumulate_grad(g.reshape(keepdim_shape(in.shape(), dims)).expand(in.shape()));
  });
}

}  // namespace kun
