// RMSProp (torch.optim.RMSprop update rule):
//   g = grad + wd * p;  v = alpha v + (1 - alpha) g^2
//   centered: a = alpha a + (1 - alpha) g,  d = sqrt(v - a^2) + eps;  else d = sqrt(v) + eps
//   momentum > 0: buf = momentum buf + g / d,  p -= lr buf;  else p -= lr g / d
#pragma once
#include "kun/optim/optimizer.h"

namespace kun::optim {

struct RMSPropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

class RMSProp : public Optimizer {
 public:
  // Without parameters: add them later with add_param_group (e.g. when a trainer compiles a model).
  // The options are required in the other constructors so that Adam({.lr = 1e-3}) is unambiguous.
  explicit RMSProp(const RMSPropOptions& opt) : RMSProp(std::vector<ParamGroup>{}, opt) {}
  RMSProp(std::vector<Variable> params, const RMSPropOptions& opt);
  RMSProp(std::vector<ParamGroup> groups, const RMSPropOptions& opt);
  void step() override;
  std::string type_name() const override { return "RMSProp"; }
  const RMSPropOptions& options() const { return opt_; }

 private:
  RMSPropOptions opt_;
};

}  // namespace kun::optim
