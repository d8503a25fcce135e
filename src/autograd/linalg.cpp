// Forward and backward of the matrix products, side by side.
#include "kun/autograd/linalg.h"

#include "kun/tensor/ops.h"

namespace kun {

namespace {

// Gradients of c = matmul(a, b) given dc, for torch.matmul's 1-D / batched / broadcast cases.
void matmul_backward(const Tensor& g, Node& n) {
  const Variable &A = n.inputs[0], &B = n.inputs[1];
  const Tensor &a = A.data(), &b = B.data();
  // 1-D operands become matrices: a (K) -> (1, K), b (K) -> (K, 1); the grad gets those dims back.
  Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  const int64_t M = a2.size(-2), K = a2.size(-1), N = b2.size(-1);
  Shape batch = broadcast_shapes(Shape(a2.shape().begin(), a2.shape().end() - 2),
                                 Shape(b2.shape().begin(), b2.shape().end() - 2), "matmul");
  Shape gs = batch;
  gs.push_back(M);
  gs.push_back(N);
  Tensor g2 = g.reshape(gs);  // (batch..., M, N)
  if (A.requires_grad()) {
    // dA = dC @ B^T, summed over the batch dims a was broadcast along.
    Tensor ga = sum_to(matmul(g2, b2.transpose(-1, -2)), a2.shape());
    A.accumulate_grad(ga.reshape(a.shape()));
  }
  if (B.requires_grad()) {
    Tensor gb;
    if (b2.dim() == 2 && g2.dim() > 2)  // b shared by the whole batch: one GEMM, (K, rows) @ (rows, N)
      gb = mm(a2.reshape({-1, K}).t(), g2.reshape({-1, N}));
    else
      gb = sum_to(matmul(a2.transpose(-1, -2), g2), b2.shape());
    B.accumulate_grad(gb.reshape(b.shape()));
  }
}

}  // namespace

Variable matmul(const Variable& a, const Variable& b) {
  return make_result(matmul(a.data(), b.data()), {a, b}, "matmul", matmul_backward);
}

Variable mm(const Variable& a, const Variable& b) {
  return make_result(mm(a.data(), b.data()), {a, b}, "mm", [](const Tensor& g, Node& n) {
    const Variable &A = n.inputs[0], &B = n.inputs[1];
    if (A.requires_grad()) A.accumulate_grad(mm(g, B.data().t()));  // (M, N) @ (N, K)
    if (B.requires_grad()) B.accumulate_grad(mm(A.data().t(), g));  // (K, M) @ (M, N)
  });
}

Variable bmm(const Variable& a, const Variable& b) {
  return make_result(bmm(a.data(), b.data()), {a, b}, "bmm", [](const Tensor& g, Node& n) {
    const Variable &A = n.inputs[0], &B = n.inputs[1];
    if (A.requires_grad()) A.accumulate_grad(bmm(g, B.data().transpose(1, 2)));
    if (B.requires_grad()) B.accumulate_grad(bmm(A.data().transpose(1, 2), g));
  });
}

Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  Tensor y = linear(x.data(), w.data(), b.defined() ? b.data() : Tensor());
  std::vector<Variable> ins{x, w};
  if (b.defined()) ins.push_back(b);
  return make_result(std::move(y), std::move(ins), "linear", [](const Tensor& g, Node& n) {
    const Variable &X = n.inputs[0], &W = n.inputs[1];
    const int64_t out_f = W.size(0), in_f = W.size(1);
    Tensor g2 = g.reshape({-1, out_f});  // (rows, out)
    if (X.requires_grad()) X.accumulate_grad(mm(g2, W.data()).reshape(X.shape()));  // (rows, in)
    if (W.requires_grad()) W.accumulate_grad(mm(g2.t(), X.data().reshape({-1, in_f})));  // (out, in)
    if (n.inputs.size() > 2 && n.inputs[2].requires_grad()) n.inputs[2].accumulate_grad(sum(g2, {0}));
  });
}

}  // namespace kun
