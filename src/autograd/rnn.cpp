// The recurrent layer node: inputs x, each direction's weights, h0, c0; one packed output buffer
// whose views are y, h_n and c_n (so one node serves all three outputs).
#include "kun/autograd/rnn.h"

#include <memory>

#include "kun/autograd/view.h"

namespace kun {

RnnLayerResult rnn_layer(const Variable& x, const std::vector<RnnParams>& params, const RnnLayerOptions& opt,
                         const Variable& h0, const Variable& c0) {
  KUN_CHECK(x.defined(), ValueError, "rnn_layer: input is undefined");
  RnnLayerInput in;
  in.mode = opt.mode;
  in.batch_first = opt.batch_first;
  in.x = x.data();
  in.lengths = opt.lengths;
  if (h0.defined()) in.h0 = h0.data();
  if (c0.defined()) in.c0 = c0.data();
  // Node inputs: only the defined ones; idx[k] says where slot k sits (-1: absent).
  // Slots: 0 x, then per direction 4 (w_ih, w_hh, b_ih, b_hh), then h0, c0.
  std::vector<Variable> inputs{x};
  std::vector<int> idx{0};
  auto add = [&](const Variable& v) {
    idx.push_back(v.defined() ? static_cast<int>(inputs.size()) : -1);
    if (v.defined()) inputs.push_back(v);
  };
  for (const RnnParams& p : params) {
    KUN_CHECK(p.w_ih.defined() && p.w_hh.defined(), ValueError, "rnn_layer: weights are undefined");
    in.weights.push_back({p.w_ih.data(), p.w_hh.data(), p.b_ih.defined() ? p.b_ih.data() : Tensor(),
                          p.b_hh.defined() ? p.b_hh.data() : Tensor()});
    add(p.w_ih);
    add(p.w_hh);
    add(p.b_ih);
    add(p.b_hh);
  }
  add(h0);
  add(c0);

  bool need_grad = false;
  if (grad_enabled())
    for (const Variable& v : inputs) need_grad = need_grad || v.requires_grad();
  RnnLayerOutput out = rnn_layer_forward(in, need_grad);
  const int64_t ny = out.y.numel(), ns = out.h_n.numel();
  const Shape yshape = out.y.shape(), sshape = out.h_n.shape();
  const int64_t D = static_cast<int64_t>(params.size());
  const bool lstm = opt.mode == RnnMode::lstm;

  auto saved = std::make_shared<RnnLayerSaved>(std::move(out.saved));
  Variable packed = make_result(
      out.packed, std::move(inputs), "rnn_layer",
      [saved, idx, D, ny, ns, yshape, sshape, lstm, mode = opt.mode, bf = opt.batch_first,
       lengths = opt.lengths](const Tensor& g, Node& n) {
        RnnLayerInput in;
        in.mode = mode;
        in.batch_first = bf;
        in.lengths = lengths;
        in.x = n.inputs[0].data();
        auto data_at = [&](size_t slot) { return idx[slot] >= 0 ? n.inputs[idx[slot]].data() : Tensor(); };
        for (int64_t d = 0; d < D; ++d) {
          const size_t s = 1 + 4 * static_cast<size_t>(d);
          in.weights.push_back({data_at(s), data_at(s + 1), data_at(s + 2), data_at(s + 3)});
        }
        in.h0 = data_at(1 + 4 * D);
        in.c0 = data_at(2 + 4 * D);
        Tensor dy = g.narrow(0, 0, ny).view(yshape);
        Tensor dh = g.narrow(0, ny, ns).view(sshape);
        Tensor dc = lstm ? g.narrow(0, ny + ns, ns).view(sshape) : Tensor();
        RnnLayerGrads gr = rnn_layer_backward(in, *saved, dy, dh, dc);
        auto give = [&](size_t slot, const Tensor& t) {
          if (idx[slot] >= 0 && t.defined() && n.inputs[idx[slot]].requires_grad()) n.inputs[idx[slot]].accumulate_grad(t);
        };
        give(0, gr.dx);
        for (int64_t d = 0; d < D; ++d) {
          const size_t s = 1 + 4 * static_cast<size_t>(d);
          give(s, gr.dw[d].w_ih);
          give(s + 1, gr.dw[d].w_hh);
          give(s + 2, gr.dw[d].b_ih);
          give(s + 3, gr.dw[d].b_hh);
        }
        give(1 + 4 * D, gr.dh0);
        give(2 + 4 * D, gr.dc0);
      });
  RnnLayerResult r;
  r.y = view(narrow(packed, 0, 0, ny), yshape);
  r.h_n = view(narrow(packed, 0, ny, ns), sshape);
  if (lstm) r.c_n = view(narrow(packed, 0, ny + ns, ns), sshape);
  return r;
}

}  // namespace kun
