#include "kun/nn/summary.h"

#include <sstream>

#include "kun/nn/graph.h"
#include "kun/nn/layers.h"
#include "kun/nn/sequential.h"

namespace kun::nn {

namespace {

// Restores the training flag on scope exit.
struct EvalScope {
  Module& m;
  bool was;
  explicit EvalScope(Module& mod) : m(mod), was(mod.is_training()) { m.eval(); }
  ~EvalScope() { m.train(was); }
};

Variable example_input(const Shape& input_shape, DType dtype) {
  Shape s{1};
  for (int64_t d : input_shape) {
    KUN_CHECK(d > 0, ShapeError, "summary: input_shape dims must be > 0, got ", input_shape);
    s.push_back(d);
  }
  return Variable(zeros(s, dtype));
}

std::string shape_with_none(const Shape& s) {
  std::string out = "(None";
  for (int i = 1; i < s.size(); ++i) out += ", " + std::to_string(s[i]);
  return out + ")";
}

}  // namespace

std::string group_thousands(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return n < 0 ? "-" + out : out;
}

void build(Module& model, const Shape& input_shape, DType dtype) {
  EvalScope es(model);
  NoGradGuard ng;
  model.forward(example_input(input_shape, dtype));
}

std::vector<SummaryRow> summarize(Module& model, const Shape& input_shape, DType dtype) {
  EvalScope es(model);
  NoGradGuard ng;
  std::vector<SummaryRow> rows;
  Variable x = example_input(input_shape, dtype);
  if (auto* seq = dynamic_cast<Sequential*>(&model)) {
    Variable h = x;
    for (const auto& [name, layer] : seq->named_children()) {
      h = layer->forward(h);
      rows.push_back({name, layer->type_name(), h.shape(), layer->parameter_count()});
    }
    return rows;
  }
  if (auto* g = dynamic_cast<Graph*>(&model)) {
    KUN_CHECK(g->inputs().size() == 1, ValueError, "summary: graphs with ", g->inputs().size(),
              " inputs are not supported; summarize each branch");
    const auto& nodes = g->nodes();
    std::vector<Variable> values(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      const auto& n = nodes[i];
      if (!n.layer) {
        values[i] = x;
        rows.push_back({n.name, "input", x.shape(), 0});
        continue;
      }
      if (n.inputs.size() == 1) {
        values[i] = n.layer->forward(values[n.inputs[0]]);
      } else {
        std::vector<Variable> xs;
        for (int j : n.inputs) xs.push_back(values[j]);
        values[i] = static_cast<MultiInputModule*>(n.layer.get())->forward_many(xs);
      }
      rows.push_back({n.name, n.layer->type_name(), values[i].shape(), n.layer->parameter_count()});
    }
    return rows;
  }
  Variable y = model.forward(x);
  rows.push_back({"", model.type_name(), y.shape(), model.parameter_count()});
  return rows;
}

std::string summary(Module& model, const Shape& input_shape, DType dtype) {
  auto rows = summarize(model, input_shape, dtype);
  std::ostringstream os;
  const int w1 = 32, w2 = 26;
  std::string rule(w1 + w2 + 12, '=');
  auto pad = [](std::string s, int w) { return s.size() < size_t(w) ? s + std::string(w - s.size(), ' ') : s + " "; };
  os << "Model: \"" << model.type_name() << "\"\n" << std::string(rule.size(), '_') << "\n";
  os << pad("Layer (type)", w1) << pad("Output Shape", w2) << "Param #\n" << rule << "\n";
  for (const auto& r : rows) {
    std::string label = r.name.empty() ? r.type : r.name + " (" + r.type + ")";
    os << pad(label, w1) << pad(shape_with_none(r.output_shape), w2) << group_thousands(r.params) << "\n";
  }
  int64_t total = model.parameter_count(), trainable = model.parameter_count(true), buffers = 0;
  for (const auto& [n, b] : model.named_buffers()) buffers += b.numel();
  os << rule << "\n";
  os << "Total params: " << group_thousands(total + buffers) << "\n";
  os << "Trainable params: " << group_thousands(trainable) << "\n";
  os << "Non-trainable params: " << group_thousands(total - trainable + buffers) << "\n";
  os << std::string(rule.size(), '_') << "\n";
  return os.str();
}

}  // namespace kun::nn
