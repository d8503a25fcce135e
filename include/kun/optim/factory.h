// Optimizers by name, for configs: {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999], ...}.
// Keys are the torch.optim keyword names; unknown names or keys are a ValueError listing the
// accepted ones, so a typo in a config file never silently falls back to a default.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "kun/optim/optimizer.h"

namespace kun::optim {

// name: sgd | adam | adamw | rmsprop | adagrad.
std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& config, std::vector<Variable> params = {});

}  // namespace kun::optim
