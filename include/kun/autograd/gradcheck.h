// Finite-difference gradient check: compares the analytic gradient of f against central
// differences. Inputs should be float64. The output is projected on fixed random weights so a
// single backward pass checks every output element.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kun/autograd/variable.h"

namespace kun {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 1234;
  // Which inputs to check (empty = every floating input).
  std::vector<int> check_inputs = {};
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0;
  std::string message;  // names the input, element, analytic and numeric values on failure
};

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});

}  // namespace kun
