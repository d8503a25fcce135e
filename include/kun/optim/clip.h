// Gradient clipping, finiteness checks and weight penalties.
#pragma once
#include <limits>
#include <string>
#include <vector>

#include "kun/autograd/variable.h"

namespace kun::optim {

// Scales all grads in place so their joint p-norm is at most max_norm (p = inf: max |g|), like
// torch.nn.utils.clip_grad_norm_; returns the total norm BEFORE clipping. Parameters without a
// grad are ignored. A non-finite total norm leaves the grads untouched (check grads_finite).
double clip_grad_norm(const std::vector<Variable>& params, double max_norm, double p = 2.0);
// Clamps every grad element to [-clip_value, clip_value] in place.
void clip_grad_value(const std::vector<Variable>& params, double clip_value);

// True when every grad element is finite. On failure, *bad_name (if given) receives the name of
// the first offending parameter: names[i] when `names` is parallel to params, else "parameter <i>".
bool grads_finite(const std::vector<Variable>& params, std::string* bad_name = nullptr,
                  const std::vector<std::string>& names = {});

// Differentiable penalties over all the given parameters, as a scalar Variable of params[0]'s
// dtype: l1 = sum |w|, l2 = sum w^2 (multiply by your coefficient and add to the loss).
Variable l1_penalty(const std::vector<Variable>& params);
Variable l2_penalty(const std::vector<Variable>& params);

}  // namespace kun::optim
