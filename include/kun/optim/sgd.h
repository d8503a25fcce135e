// Stochastic gradient descent with momentum (torch.optim.SGD update rule):
//   g = grad + wd * p;  buf = momentum * buf + (1 - dampening) * g  (buf = g on the first step)
//   p -= lr * (nesterov ? g + momentum * buf : buf)
#pragma once
#include "kun/optim/optimizer.h"

namespace kun::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

class SGD : public Optimizer {
 public:
  // Without parameters: add them later with add_param_group (e.g. when a trainer compiles a model).
  // The options are required in the other constructors so that Adam({.lr = 1e-3}) is unambiguous.
  explicit SGD(const SGDOptions& opt) : SGD(std::vector<ParamGroup>{}, opt) {}
  SGD(std::vector<Variable> params, const SGDOptions& opt);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& opt);
  void step() override;
  std::string type_name() const override { return "SGD"; }
  const SGDOptions& options() const { return opt_; }

 private:
  SGDOptions opt_;
};

}  // namespace kun::optim
