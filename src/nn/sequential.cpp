#include "kun/nn/sequential.h"

namespace kun::nn {

Sequential::Sequential(std::vector<ModulePtr> layers) {
  for (auto& l : layers) add(std::move(l));
}

Sequential::Sequential(const json& c, FromConfig) {
  KUN_CHECK(c.contains("layers") && c["layers"].is_array(), ValueError,
            "Sequential: config needs a \"layers\" array, got ", c.dump());
  for (const auto& l : c["layers"]) add(Module::from_config(l));
}

ModulePtr Sequential::add(ModulePtr layer) {
  KUN_CHECK(layer != nullptr, ValueError, "Sequential: cannot add a null layer");
  return register_module(std::to_string(size()), std::move(layer));
}

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  for (const auto& [name, layer] : named_children()) {
    try {
      h = layer->forward(h);
    } catch (const Error&) {
      // Name the layer: "layer 3 (dense): Dense: input must be ..."
      rethrow_with_context("layer " + name + " (" + layer->type_name() + "): ");
    }
  }
  return h;
}

json Sequential::config() const {
  json layers = json::array();
  for (const auto& [name, layer] : named_children()) layers.push_back(layer->to_config());
  return {{"layers", layers}};
}

}  // namespace kun::nn
