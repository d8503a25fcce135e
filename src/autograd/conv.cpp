// Forward and backward of convolution and pooling, side by side. Backward captures the input
// and weight tensors (not Variables) and asks the kernel for exactly the gradients needed.
#include "kun/autograd/conv.h"

#include "kun/tensor/ops.h"

namespace kun {

namespace {

std::vector<Variable> with_bias(const Variable& x, const Variable& w, const Variable& b) {
  std::vector<Variable> v{x, w};
  if (b.defined()) v.push_back(b);
  return v;
}

ConvGradsWanted wanted(const Node& n) {
  return {n.inputs[0].requires_grad(), n.inputs[1].requires_grad(),
          n.inputs.size() > 2 && n.inputs[2].requires_grad()};
}

void accumulate(Node& n, const ConvGrads& g) {
  if (g.input.defined()) n.inputs[0].accumulate_grad(g.input);
  if (g.weight.defined()) n.inputs[1].accumulate_grad(g.weight);
  if (g.bias.defined()) n.inputs[2].accumulate_grad(g.bias);
}

Tensor data_or_empty(const Variable& v) { return v.defined() ? v.data() : Tensor(); }

}  // namespace

Variable conv2d(const Variable& x, const Variable& w, const Variable& b, const Conv2dOptions& opt) {
  Tensor y = conv2d(x.data(), w.data(), data_or_empty(b), opt);
  return make_result(std::move(y), with_bias(x, w, b), "conv2d", [opt](const Tensor& g, Node& n) {
    accumulate(n, conv2d_backward(g, n.inputs[0].data(), n.inputs[1].data(), opt, wanted(n)));
  });
}

Variable conv1d(const Variable& x, const Variable& w, const Variable& b, const Conv1dOptions& opt) {
  Tensor y = conv1d(x.data(), w.data(), data_or_empty(b), opt);
  return make_result(std::move(y), with_bias(x, w, b), "conv1d", [opt](const Tensor& g, Node& n) {
    accumulate(n, conv1d_backward(g, n.inputs[0].data(), n.inputs[1].data(), opt, wanted(n)));
  });
}

Variable conv_transpose2d(const Variable& x, const Variable& w, const Variable& b, const ConvTranspose2dOptions& opt) {
  Tensor y = conv_transpose2d(x.data(), w.data(), data_or_empty(b), opt);
  return make_result(std::move(y), with_bias(x, w, b), "conv_transpose2d", [opt](const Tensor& g, Node& n) {
    accumulate(n, conv_transpose2d_backward(g, n.inputs[0].data(), n.inputs[1].data(), opt, wanted(n)));
  });
}

Variable max_pool2d(const Variable& x, const Pool2dOptions& opt) {
  // Nothing will flow back (inference, NoGradGuard): the values-only kernel records no indices.
  if (!grad_enabled() || !x.requires_grad()) return Variable(max_pool2d(x.data(), opt), false);
  auto [y, idx] = max_pool2d_with_indices(x.data(), opt);
  return make_result(std::move(y), {x}, "max_pool2d", [idx = idx](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(max_pool2d_backward(g, idx, n.inputs[0].shape()));
  });
}

Variable max_pool1d(const Variable& x, const Pool1dOptions& opt) {
  auto [y, idx] = max_pool1d_with_indices(x.data(), opt);
  return make_result(std::move(y), {x}, "max_pool1d", [idx = idx](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(max_pool1d_backward(g, idx, n.inputs[0].shape()));
  });
}

Variable avg_pool2d(const Variable& x, const Pool2dOptions& opt) {
  return make_result(avg_pool2d(x.data(), opt), {x}, "avg_pool2d", [opt](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(avg_pool2d_backward(g, n.inputs[0].shape(), opt));
  });
}

Variable avg_pool1d(const Variable& x, const Pool1dOptions& opt) {
  return make_result(avg_pool1d(x.data(), opt), {x}, "avg_pool1d", [opt](const Tensor& g, Node& n) {
    n.inputs[0].accumulate_grad(avg_pool1d_backward(g, n.inputs[0].shape(), opt));
  });
}

Variable adaptive_avg_pool2d(const Variable& x, Size2 output_size) {
  return make_result(adaptive_avg_pool2d(x.data(), output_size), {x}, "adaptive_avg_pool2d",
                     [](const Tensor& g, Node& n) {
                       n.inputs[0].accumulate_grad(adaptive_avg_pool2d_backward(g, n.inputs[0].shape()));
                     });
}

Variable adaptive_avg_pool1d(const Variable& x, int64_t output_size) {
  return make_result(adaptive_avg_pool1d(x.data(), output_size), {x}, "adaptive_avg_pool1d",
                     [](const Tensor& g, Node& n) {
                       // (N, C, OL) is the 2-D case with a height of 1
                       const Shape& xs = n.inputs[0].shape();
                       Tensor g4 = g.unsqueeze(-2);
                       Shape x4 = xs;
                       x4.insert(x4.size() - 1, 1);
                       n.inputs[0].accumulate_grad(adaptive_avg_pool2d_backward(g4, x4).view(xs));
                     });
}

Variable global_avg_pool2d(const Variable& x) {
  return make_result(global_avg_pool2d(x.data()), {x}, "global_avg_pool2d", [](const Tensor& g, Node& n) {
    const Shape& xs = n.inputs[0].shape();  // (N, C, H, W); g: (N, C)
    n.inputs[0].accumulate_grad(
        mul(g.view({xs[0], xs[1], 1, 1}).expand(xs), 1.0 / static_cast<double>(xs[2] * xs[3])));
  });
}

}  // namespace kun
