// Graph: the functional API for non-linear topologies (skip connections, several inputs or
// outputs). Nodes are named; each applies a layer to the outputs of earlier nodes.
//
//   nn::Graph g;
//   auto x = g.input("image", {1, 28, 28});
//   auto h = g.add(nn::Conv2D({.out_channels = 16, .kernel = 3, .padding = "same"}), {x});
//   auto r = g.add(nn::Add(), {h, g.add(nn::Conv2D({.out_channels = 16, .kernel = 1}), {x})});
//   g.set_outputs({g.add(nn::Dense({.units = 10}), {g.add(nn::Flatten(), {r})})});
//   Variable y = g.forward(batch);
#pragma once
#include <string>
#include <vector>

#include "kun/nn/module.h"

namespace kun::nn {

class Graph : public Module {
 public:
  using NodeId = int;

  Graph() = default;
  Graph(const json& config, FromConfig);

  // A model input; `shape` excludes the batch dim (used by summaries and validation).
  NodeId input(const std::string& name, const Shape& shape);
  // Applies `layer` to the given nodes' outputs. Several inputs need a MultiInputModule (Add, Concatenate).
  NodeId add(ModulePtr layer, const std::vector<NodeId>& inputs, std::string name = "");
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>>>
  NodeId add(M&& layer, const std::vector<NodeId>& inputs, std::string name = "") {
    return add(ModulePtr(std::make_shared<std::decay_t<M>>(std::move(layer))), inputs, std::move(name));
  }
  void set_outputs(const std::vector<NodeId>& outputs);

  // One input, one output.
  Variable forward(const Variable& x) override;
  // Inputs in the order they were declared; outputs in set_outputs order.
  std::vector<Variable> forward_many(const std::vector<Variable>& inputs);

  std::string type_name() const override { return "graph"; }
  json config() const override;

  struct Node {
    std::string name;
    ModulePtr layer;  // null for inputs
    std::vector<NodeId> inputs;
    Shape input_shape;  // inputs only
  };
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<NodeId>& outputs() const { return outputs_; }
  const std::vector<NodeId>& inputs() const { return input_ids_; }

 private:
  NodeId find(const std::string& name) const;
  std::vector<Node> nodes_;
  std::vector<NodeId> input_ids_, outputs_;
};

}  // namespace kun::nn
