// Variable: a Tensor plus gradient state. Ops on Variables record a tape (a graph of Nodes);
// backward() walks it in reverse topological order, accumulating into each input's grad.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun {

class Variable;
struct Node;

struct VariableImpl {
  Tensor data;
  Tensor grad;
  bool requires_grad = false;
  bool retain_grad = false;  // keep .grad on a non-leaf after backward
  std::shared_ptr<Node> grad_fn;  // null for leaves
};

// Backward of one op: given d(loss)/d(output), accumulate into the inputs that require grad.
using BackwardFn = std::function<void(const Tensor& grad_out, Node& node)>;

struct Node {
  const char* name = "";
  std::vector<Variable> inputs;
  BackwardFn backward;
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const { return impl_->data; }
  Tensor& data() { return impl_->data; }
  const Tensor& grad() const { return impl_->grad; }
  bool has_grad() const { return impl_ && impl_->grad.defined(); }
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Variable& set_requires_grad(bool r);
  bool is_leaf() const { return !impl_->grad_fn; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  void retain_grad() { impl_->retain_grad = true; }

  const Shape& shape() const { return impl_->data.shape(); }
  int dim() const { return impl_->data.dim(); }
  int64_t size(int64_t d) const { return impl_->data.size(d); }
  int64_t numel() const { return impl_->data.numel(); }
  DType dtype() const { return impl_->data.dtype(); }
  template <typename T>
  T item() const {
    return impl_->data.item<T>();
  }

  // Back-propagates from this variable. `seed` defaults to ones for a one-element variable and
  // is required otherwise. The graph is freed afterwards unless retain_graph is true.
  void backward(const Tensor& seed = Tensor(), bool retain_graph = false) const;
  void zero_grad() { impl_->grad = Tensor(); }
  void set_grad(const Tensor& g) { impl_->grad = g; }
  // Adds g into grad (shapes must match). Used by backward functions.
  void accumulate_grad(const Tensor& g) const;

  Variable detach() const;  // shares data, no grad history
  VariableImpl* impl() const { return impl_.get(); }
  bool same(const Variable& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<VariableImpl> impl_;
};

// Makes the output of an op. When grad mode is on and any input requires grad, the result
// records a Node holding `inputs` and `backward`; otherwise it is a plain constant.
Variable make_result(Tensor out, std::initializer_list<Variable> inputs, const char* name, BackwardFn backward);
Variable make_result(Tensor out, std::vector<Variable> inputs, const char* name, BackwardFn backward);

// Grad mode (thread-local). NoGradGuard disables recording within a scope.
bool grad_enabled();
void set_grad_enabled(bool on);
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

std::ostream& operator<<(std::ostream& os, const Variable& v);

}  // namespace kun
