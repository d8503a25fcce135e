// TensorDict: name -> Tensor in insertion order. The exchange type of state dicts (modules,
// optimizers) and tensor files, so a saved file lists tensors in the order the model declared them.
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun {

class TensorDict {
 public:
  using Item = std::pair<std::string, Tensor>;

  // Adds a new entry; throws ValueError if `name` is already present.
  void insert(const std::string& name, Tensor t);
  // Adds or replaces (a replaced entry keeps its position).
  void set(const std::string& name, Tensor t);
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws IndexError naming the key (and `what`, e.g. "optimizer state") when absent.
  const Tensor& at(const std::string& name) const;
  const Tensor* find(const std::string& name) const;
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> keys() const;

  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace kun
