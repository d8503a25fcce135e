// Optimizer base: parameters in groups (each with its own lr and weight decay), per-parameter
// state tensors (moments, momentum buffers) and step counters, and a state dict of named tensors
// so that training resumes EXACTLY where it stopped.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kun/autograd/variable.h"
#include "kun/tensor/tensor_dict.h"

namespace kun::optim {

struct ParamGroup {
  std::vector<Variable> params;
  // Unset values take the optimizer's defaults at construction; afterwards both are always set.
  std::optional<double> lr;
  std::optional<double> weight_decay;
  // The lr LR schedules scale from; set by the first schedule attached (like PyTorch's initial_lr).
  std::optional<double> initial_lr;
};

// All parameters in one group with the optimizer's default lr and weight decay.
inline std::vector<ParamGroup> one_group(std::vector<Variable> params) {
  ParamGroup g;
  g.params = std::move(params);
  return {std::move(g)};
}

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a grad (parameters without one are skipped).
  virtual void step() = 0;
  virtual std::string type_name() const = 0;
  // Drops every parameter's grad.
  void zero_grad();

  // lr of group 0 / sets every group's lr.
  double lr() const;
  void set_lr(double lr);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  void add_param_group(ParamGroup group);

  // Named tensors: "group.<g>.lr", "group.<g>.weight_decay" (float64 scalars),
  // "state.<g>.<i>.step" (int64 scalar) and "state.<g>.<i>.<buffer>" for parameter i of group g.
  // State tensors are clones (stepping further does not change a saved dict).
  TensorDict state_dict() const;
  // Restores lr / weight decay and every state tensor (copied, shapes checked). Throws
  // ValueError when the dict was made for a different parameter layout.
  void load_state_dict(const TensorDict& state);

 protected:
  Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_weight_decay, const char* name);

  // Per-parameter state: the number of updates it received and named buffers shaped like it.
  struct ParamState {
    int64_t step = 0;
    std::vector<std::pair<std::string, Tensor>> buffers;
    // The buffer `name`, created (filled with `init`) on first use with p's shape and dtype.
    Tensor& buffer(const std::string& name, const Tensor& p, double init = 0.0);
    Tensor* find(const std::string& name);
  };
  ParamState& state(size_t group, size_t index) { return state_[group][index]; }

  // Checks a parameter about to be updated: float dtype, contiguous data and grad of its shape.
  // Returns the grad as a contiguous tensor of the parameter's dtype.
  Tensor checked_grad(const Variable& p, size_t group, size_t index) const;

  double default_lr_;
  double default_weight_decay_;

 private:
  const char* name_;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // [group][param]
};

}  // namespace kun::optim
