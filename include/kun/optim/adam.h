// Adam and AdamW (torch.optim update rules):
//   Adam:  g = grad + wd * p (L2 penalty folded into the gradient)
//   AdamW: p *= 1 - lr * wd  (decoupled weight decay), g = grad
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) with amsgrad
//   p -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
#pragma once
#include "kun/optim/optimizer.h"

namespace kun::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  // Without parameters: add them later with add_param_group (e.g. when a trainer compiles a model).
  // The options are required in the other constructors so that Adam({.lr = 1e-3}) is unambiguous.
  explicit Adam(const AdamOptions& opt) : Adam(std::vector<ParamGroup>{}, opt) {}
  Adam(std::vector<Variable> params, const AdamOptions& opt);
  Adam(std::vector<ParamGroup> groups, const AdamOptions& opt);
  void step() override;
  std::string type_name() const override { return "Adam"; }
  const AdamOptions& options() const { return opt_; }

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& opt, bool decoupled, const char* name);

 private:
  AdamOptions opt_;
  bool decoupled_ = false;
};

class AdamW : public Adam {
 public:
  explicit AdamW(const AdamWOptions& opt) : AdamW(std::vector<ParamGroup>{}, opt) {}
  AdamW(std::vector<Variable> params, const AdamWOptions& opt);
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& opt);
  std::string type_name() const override { return "AdamW"; }
};

}  // namespace kun::optim
