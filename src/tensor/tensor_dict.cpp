#include "kun/tensor/tensor_dict.h"

namespace kun {

void TensorDict::insert(const std::string& name, Tensor t) {
  KUN_CHECK(!contains(name), ValueError, "TensorDict: duplicate name '", name, "'");
  index_.emplace(name, items_.size());
  items_.emplace_back(name, std::move(t));
}

void TensorDict::set(const std::string& name, Tensor t) {
  auto it = index_.find(name);
  if (it == index_.end()) {
    insert(name, std::move(t));
  } else {
    items_[it->second].second = std::move(t);
  }
}

const Tensor& TensorDict::at(const std::string& name) const {
  const Tensor* t = find(name);
  KUN_CHECK(t != nullptr, IndexError, "TensorDict: no entry named '", name, "'");
  return *t;
}

const Tensor* TensorDict::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

std::vector<std::string> TensorDict::keys() const {
  std::vector<std::string> k;
  k.reserve(items_.size());
  for (const auto& [name, t] : items_) k.push_back(name);
  return k;
}

}  // namespace kun
