#include "kun/autograd/variable.h"

#include <unordered_set>

#include "kun/tensor/ops.h"

namespace kun {

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  KUN_CHECK(data.defined(), ValueError, "Variable: the tensor is undefined");
  impl_->data = std::move(data);
  set_requires_grad(requires_grad);
}

Variable& Variable::set_requires_grad(bool r) {
  KUN_CHECK(impl_, ValueError, "set_requires_grad: the variable is undefined");
  KUN_CHECK(!r || is_floating(impl_->data.dtype()), TypeError,
            "set_requires_grad: only float32/float64 tensors can require grad, got ", impl_->data.dtype());
  impl_->requires_grad = r;
  return *this;
}

void Variable::accumulate_grad(const Tensor& g) const {
  VariableImpl& v = *impl_;
  KUN_ASSERT(g.shape() == v.data.shape(), "gradient shape ", g.shape(), " != variable shape ", v.data.shape());
  Tensor gg = g.dtype() == v.data.dtype() ? g : g.to(v.data.dtype());
  if (!v.grad.defined()) {
    // Leaves own their grad (optimizers and clipping modify it in place): a buffer nobody else
    // references (a fresh kernel output) is taken over as it is, anything shared is copied.
    // Intermediates may alias the incoming buffer because nobody writes to it.
    bool exclusive = gg.is_contiguous() && gg.storage().use_count() == 1;
    v.grad = (!v.grad_fn && !exclusive) || !gg.is_contiguous() ? gg.clone() : gg;
  } else {
    v.grad = add(v.grad, gg);
  }
}

Variable Variable::detach() const {
  Variable out;
  out.impl_ = std::make_shared<VariableImpl>();
  out.impl_->data = impl_->data;
  return out;
}

void Variable::backward(const Tensor& seed, bool retain_graph) const {
  KUN_CHECK(impl_, ValueError, "backward: the variable is undefined");
  KUN_CHECK(impl_->requires_grad, ValueError,
            "backward: this variable does not require grad (no input of its graph has requires_grad=true)");
  Tensor s = seed;
  if (!s.defined()) {
    KUN_CHECK(numel() == 1, ValueError, "backward: a seed gradient is required for a non-scalar output of shape ",
              shape(), "; pass a tensor of that shape");
    s = ones(shape(), dtype());
  }
  KUN_CHECK(s.shape() == shape(), ShapeError, "backward: seed gradient shape ", s.shape(),
            " does not match the output shape ", shape());

  // Topological order by iterative DFS (post-order) over grad_fn -> inputs. `order` holds
  // owning handles: freeing a node's graph below must not free variables still to be visited.
  std::vector<Variable> order;
  std::unordered_set<VariableImpl*> seen;
  std::vector<std::pair<Variable, size_t>> stack;
  stack.emplace_back(*this, 0);
  seen.insert(impl_.get());
  while (!stack.empty()) {
    VariableImpl* v = stack.back().first.impl();
    size_t& i = stack.back().second;
    if (v->grad_fn && i < v->grad_fn->inputs.size()) {
      const Variable& in = v->grad_fn->inputs[i++];
      if (in.defined() && in.requires_grad() && seen.insert(in.impl()).second) stack.emplace_back(in, 0);
      continue;
    }
    order.push_back(std::move(stack.back().first));
    stack.pop_back();
  }

  accumulate_grad(s);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    VariableImpl* v = it->impl();
    if (!v->grad_fn) continue;  // a leaf: its grad stays
    if (v->grad.defined()) v->grad_fn->backward(v->grad, *v->grad_fn);
    if (!v->retain_grad) v->grad = Tensor();
    if (!retain_graph) v->grad_fn.reset();
  }
}

Variable make_result(Tensor out, std::vector<Variable> inputs, const char* name, BackwardFn backward) {
  bool need = false;
  if (t_grad_enabled)
    for (const auto& in : inputs) need = need || in.requires_grad();
  Variable r(std::move(out));
  if (!need) return r;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  r.impl()->requires_grad = true;
  r.impl()->grad_fn = std::move(node);
  return r;
}

Variable make_result(Tensor out, std::initializer_list<Variable> inputs, const char* name, BackwardFn backward) {
  return make_result(std::move(out), std::vector<Variable>(inputs), name, std::move(backward));
}

std::ostream& operator<<(std::ostream& os, const Variable& v) {
  if (!v.defined()) return os << "Variable(undefined)";
  os << v.data();
  if (v.requires_grad()) os << " requires_grad";
  return os;
}

}  // namespace kun
