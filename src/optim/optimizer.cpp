#include "kun/optim/optimizer.h"

#include <cstdlib>

namespace kun::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_weight_decay, const char* name)
    : default_lr_(default_lr), default_weight_decay_(default_weight_decay), name_(name) {
  KUN_CHECK(default_lr >= 0, ValueError, name, ": lr must be >= 0, got ", default_lr);
  KUN_CHECK(default_weight_decay >= 0, ValueError, name, ": weight_decay must be >= 0, got ", default_weight_decay);
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  if (!group.lr) group.lr = default_lr_;
  if (!group.weight_decay) group.weight_decay = default_weight_decay_;
  KUN_CHECK(*group.lr >= 0 && *group.weight_decay >= 0, ValueError, name_,
            ": a param group needs lr >= 0 and weight_decay >= 0, got lr ", *group.lr, ", weight_decay ",
            *group.weight_decay);
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Variable& p = group.params[i];
    KUN_CHECK(p.defined(), ValueError, name_, ": parameter ", i, " of group ", groups_.size(), " is undefined");
    KUN_CHECK(is_floating(p.dtype()), TypeError, name_, ": parameters must be float32 or float64, parameter ", i,
              " of group ", groups_.size(), " is ", p.dtype());
    for (const auto& g : groups_)
      for (const auto& q : g.params)
        KUN_CHECK(!q.same(p), ValueError, name_, ": a parameter appears in more than one param group");
    for (size_t j = 0; j < i; ++j)
      KUN_CHECK(!group.params[j].same(p), ValueError, name_, ": parameter ", i, " of group ", groups_.size(),
                " is the same variable as parameter ", j, " (listed twice)");
  }
  state_.emplace_back(group.params.size());
  groups_.push_back(std::move(group));
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

double Optimizer::lr() const {
  KUN_CHECK(!groups_.empty(), ValueError, name_, ": the optimizer has no param groups");
  return *groups_[0].lr;
}

void Optimizer::set_lr(double lr) {
  KUN_CHECK(lr >= 0, ValueError, name_, ": lr must be >= 0, got ", lr);
  for (auto& g : groups_) g.lr = lr;
}

Tensor& Optimizer::ParamState::buffer(const std::string& name, const Tensor& p, double init) {
  if (Tensor* t = find(name)) return *t;
  buffers.emplace_back(name, full(p.shape(), init, p.dtype()));
  return buffers.back().second;
}

Tensor* Optimizer::ParamState::find(const std::string& name) {
  for (auto& [n, t] : buffers)
    if (n == name) return &t;
  return nullptr;
}

Tensor Optimizer::checked_grad(const Variable& p, size_t group, size_t index) const {
  const Tensor& g = p.grad();
  KUN_CHECK(p.data().is_contiguous(), ValueError, name_, ": parameter ", index, " of group ", group,
            " must be contiguous to be updated in place");
  KUN_CHECK(g.shape() == p.shape(), ShapeError, name_, ": grad of parameter ", index, " of group ", group,
            " has shape ", g.shape(), ", the parameter has ", p.shape());
  Tensor out = g.dtype() == p.dtype() ? g : g.to(p.dtype());
  return out.contiguous();
}

TensorDict Optimizer::state_dict() const {
  TensorDict d;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string pre = "group." + std::to_string(g) + ".";
    d.insert(pre + "lr", scalar_tensor(*groups_[g].lr, DType::f64));
    d.insert(pre + "weight_decay", scalar_tensor(*groups_[g].weight_decay, DType::f64));
    d.insert(pre + "size", scalar_tensor(static_cast<double>(groups_[g].params.size()), DType::i64));
    if (groups_[g].initial_lr) d.insert(pre + "initial_lr", scalar_tensor(*groups_[g].initial_lr, DType::f64));
  }
  for (size_t g = 0; g < state_.size(); ++g)
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const ParamState& st = state_[g][i];
      if (st.step == 0 && st.buffers.empty()) continue;
      const std::string pre = "state." + std::to_string(g) + "." + std::to_string(i) + ".";
      d.insert(pre + "step", scalar_tensor(static_cast<double>(st.step), DType::i64));
      for (const auto& [n, t] : st.buffers) d.insert(pre + n, t.clone());
    }
  return d;
}

void Optimizer::load_state_dict(const TensorDict& state) {
  const std::string op = std::string(name_) + ".load_state_dict";
  // Validate everything first, so a bad dict leaves the optimizer untouched.
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string pre = "group." + std::to_string(g) + ".";
    for (const char* k : {"lr", "weight_decay", "size"})
      KUN_CHECK(state.contains(pre + k), ValueError, op, ": missing '", pre, k, "' (the state was saved for ",
                "fewer param groups?)");
    int64_t n = state.at(pre + "size").item<int64_t>();
    KUN_CHECK(n == static_cast<int64_t>(groups_[g].params.size()), ValueError, op, ": group ", g, " was saved with ",
              n, " parameters, this optimizer has ", groups_[g].params.size());
  }
  std::vector<std::vector<ParamState>> fresh(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) fresh[g].resize(groups_[g].params.size());
  for (const auto& [key, t] : state) {
    // key: group.<g>.<field> or state.<g>.<i>.<field>
    auto parse_index = [&](size_t& pos, size_t limit, const char* what) {
      size_t dot = key.find('.', pos);
      KUN_CHECK(dot != std::string::npos, ValueError, op, ": malformed key '", key, "'");
      std::string num = key.substr(pos, dot - pos);
      char* end = nullptr;
      unsigned long v = std::strtoul(num.c_str(), &end, 10);
      KUN_CHECK(!num.empty() && *end == '\0' && v < limit, ValueError, op, ": key '", key, "' names ", what, " ", num,
                ", this optimizer has ", limit);
      pos = dot + 1;
      return static_cast<size_t>(v);
    };
    if (key.rfind("group.", 0) == 0) {
      size_t pos = 6;
      parse_index(pos, groups_.size(), "param group");
      continue;
    }
    KUN_CHECK(key.rfind("state.", 0) == 0, ValueError, op, ": unexpected key '", key, "'");
    size_t pos = 6;
    size_t g = parse_index(pos, groups_.size(), "param group");
    size_t i = parse_index(pos, groups_[g].params.size(), "parameter");
    std::string field = key.substr(pos);
    ParamState& st = fresh[g][i];
    if (field == "step") {
      st.step = t.item<int64_t>();
      continue;
    }
    const Variable& p = groups_[g].params[i];
    KUN_CHECK(t.shape() == p.shape(), ShapeError, op, ": '", key, "' has shape ", t.shape(), ", parameter ", i,
              " of group ", g, " has shape ", p.shape());
    st.buffers.emplace_back(field, t.to(p.dtype()).clone());
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string pre = "group." + std::to_string(g) + ".";
    groups_[g].lr = state.at(pre + "lr").item<double>();
    groups_[g].weight_decay = state.at(pre + "weight_decay").item<double>();
    if (const Tensor* il = state.find(pre + "initial_lr")) groups_[g].initial_lr = il->item<double>();
  }
  state_ = std::move(fresh);
}

}  // namespace kun::optim
