// One line per builtin layer type, so Module::from_config can build it from JSON, e.g.
//   Module::register_type("dense", [](const json& c) { return std::make_shared<Dense>(c); });
#include "kun/nn/module.h"

namespace kun::nn {

void register_builtin_modules() {}

}  // namespace kun::nn
