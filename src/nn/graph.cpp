#include "kun/nn/graph.h"

#include "kun/nn/layers.h"

namespace kun::nn {

Graph::NodeId Graph::input(const std::string& name, const Shape& shape) {
  KUN_CHECK(!name.empty() && find(name) < 0, ValueError, "Graph: input name '", name, "' is empty or already used");
  nodes_.push_back({name, nullptr, {}, shape});
  input_ids_.push_back(static_cast<NodeId>(nodes_.size() - 1));
  return input_ids_.back();
}

Graph::NodeId Graph::add(ModulePtr layer, const std::vector<NodeId>& inputs, std::string name) {
  KUN_CHECK(layer != nullptr, ValueError, "Graph: cannot add a null layer");
  KUN_CHECK(!inputs.empty(), ValueError, "Graph: layer ", layer->type_name(), " needs at least one input node");
  for (NodeId i : inputs)
    KUN_CHECK(i >= 0 && i < static_cast<NodeId>(nodes_.size()), IndexError, "Graph: input node ", i,
              " does not exist (", nodes_.size(), " nodes so far); nodes can only use earlier nodes");
  KUN_CHECK(inputs.size() == 1 || dynamic_cast<MultiInputModule*>(layer.get()) != nullptr, ValueError, "Graph: layer ",
            layer->type_name(), " takes one input, got ", inputs.size(), "; merge inputs with Add or Concatenate");
  if (name.empty()) name = layer->type_name() + "_" + std::to_string(nodes_.size());
  KUN_CHECK(find(name) < 0, ValueError, "Graph: node name '", name, "' is already used");
  register_module(name, layer);
  nodes_.push_back({name, std::move(layer), inputs, {}});
  return static_cast<NodeId>(nodes_.size() - 1);
}

void Graph::set_outputs(const std::vector<NodeId>& outputs) {
  KUN_CHECK(!outputs.empty(), ValueError, "Graph: set_outputs needs at least one node");
  for (NodeId o : outputs)
    KUN_CHECK(o >= 0 && o < static_cast<NodeId>(nodes_.size()), IndexError, "Graph: output node ", o,
              " does not exist");
  outputs_ = outputs;
}

Graph::NodeId Graph::find(const std::string& name) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == name) return static_cast<NodeId>(i);
  return -1;
}

std::vector<Variable> Graph::forward_many(const std::vector<Variable>& inputs) {
  KUN_CHECK(!outputs_.empty(), ValueError, "Graph: no outputs set; call set_outputs first");
  KUN_CHECK(inputs.size() == input_ids_.size(), ValueError, "Graph: expected ", input_ids_.size(), " inputs, got ",
            inputs.size());
  std::vector<Variable> values(nodes_.size());
  for (size_t k = 0; k < input_ids_.size(); ++k) {
    const Node& n = nodes_[input_ids_[k]];
    const Shape& s = inputs[k].shape();
    bool ok = s.size() == n.input_shape.size() + 1;
    for (int d = 0; ok && d < n.input_shape.size(); ++d) ok = n.input_shape[d] < 0 || s[d + 1] == n.input_shape[d];
    KUN_CHECK(ok, ShapeError, "Graph: input '", n.name, "' must be (N, ", n.input_shape.str().substr(1), " got ", s);
    values[input_ids_[k]] = inputs[k];
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (!n.layer) continue;
    try {
      if (n.inputs.size() == 1) {
        values[i] = n.layer->forward(values[n.inputs[0]]);
      } else {
        std::vector<Variable> xs;
        for (NodeId j : n.inputs) xs.push_back(values[j]);
        values[i] = static_cast<MultiInputModule*>(n.layer.get())->forward_many(xs);
      }
    } catch (const Error&) {
      rethrow_with_context("node '" + n.name + "' (" + n.layer->type_name() + "): ");
    }
  }
  std::vector<Variable> out;
  for (NodeId o : outputs_) out.push_back(values[o]);
  return out;
}

Variable Graph::forward(const Variable& x) {
  KUN_CHECK(outputs_.size() == 1, ValueError, "Graph: forward(x) needs exactly one output, the graph has ",
            outputs_.size(), "; use forward_many");
  return forward_many({x})[0];
}

json Graph::config() const {
  json nodes = json::array();
  for (const Node& n : nodes_) {
    json j = {{"name", n.name}};
    if (!n.layer) {
      j["input_shape"] = n.input_shape.vec();
    } else {
      j["layer"] = n.layer->to_config();
      json ins = json::array();
      for (NodeId i : n.inputs) ins.push_back(nodes_[i].name);
      j["inputs"] = ins;
    }
    nodes.push_back(j);
  }
  json outs = json::array();
  for (NodeId o : outputs_) outs.push_back(nodes_[o].name);
  return {{"nodes", nodes}, {"outputs", outs}};
}

Graph::Graph(const json& c, FromConfig) {
  KUN_CHECK(c.contains("nodes") && c["nodes"].is_array(), ValueError, "Graph: config needs a \"nodes\" array");
  for (const auto& n : c["nodes"]) {
    std::string name = n.at("name").get<std::string>();
    if (n.contains("input_shape")) {
      input(name, Shape(n["input_shape"].get<std::vector<int64_t>>()));
      continue;
    }
    std::vector<NodeId> ins;
    for (const auto& i : n.at("inputs")) {
      NodeId id = find(i.get<std::string>());
      KUN_CHECK(id >= 0, ValueError, "Graph: node '", name, "' uses unknown node '", i.get<std::string>(), "'");
      ins.push_back(id);
    }
    add(Module::from_config(n.at("layer")), ins, name);
  }
  std::vector<NodeId> outs;
  for (const auto& o : c.at("outputs")) {
    NodeId id = find(o.get<std::string>());
    KUN_CHECK(id >= 0, ValueError, "Graph: unknown output node '", o.get<std::string>(), "'");
    outs.push_back(id);
  }
  set_outputs(outs);
}

}  // namespace kun::nn
