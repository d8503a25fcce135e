// AdaGrad (torch.optim.Adagrad update rule):
//   g = grad + wd * p;  clr = lr / (1 + (t - 1) lr_decay);  s += g^2;  p -= clr g / (sqrt(s) + eps)
#pragma once
#include "kun/optim/optimizer.h"

namespace kun::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
};

class Adagrad : public Optimizer {
 public:
  // Without parameters: add them later with add_param_group (e.g. when a trainer compiles a model).
  // The options are required in the other constructors so that Adam({.lr = 1e-3}) is unambiguous.
  explicit Adagrad(const AdagradOptions& opt) : Adagrad(std::vector<ParamGroup>{}, opt) {}
  Adagrad(std::vector<Variable> params, const AdagradOptions& opt);
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& opt);
  void step() override;
  std::string type_name() const override { return "Adagrad"; }
  const AdagradOptions& options() const { return opt_; }

 private:
  AdagradOptions opt_;
};

}  // namespace kun::optim
