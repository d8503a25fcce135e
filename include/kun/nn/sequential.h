// Sequential: layers applied one after another. Children are named "0", "1", ... so parameters
// read "0.weight", "3.bias" in state dicts and checkpoints.
//
//   nn::Sequential model{nn::Conv2D({.out_channels = 32, .kernel = 3}), nn::ReLU(), nn::MaxPool2D(),
//                        nn::Flatten(), nn::Dense({.units = 10})};
#pragma once
#include <memory>
#include <type_traits>

#include "kun/nn/module.h"

namespace kun::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(const json& config, FromConfig);
  template <typename... Ms,
            typename = std::enable_if_t<(sizeof...(Ms) > 0) &&
                                        (std::is_base_of_v<Module, std::decay_t<Ms>> && ...)>>
  explicit Sequential(Ms&&... layers) {
    (add(std::make_shared<std::decay_t<Ms>>(std::move(layers))), ...);
  }
  explicit Sequential(std::vector<ModulePtr> layers);

  // Appends a layer; returns it.
  ModulePtr add(ModulePtr layer);
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>>>
  std::shared_ptr<std::decay_t<M>> add(M&& layer) {
    auto p = std::make_shared<std::decay_t<M>>(std::move(layer));
    add(ModulePtr(p));
    return p;
  }

  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "sequential"; }
  json config() const override;

  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }
};

}  // namespace kun::nn
