#include "tensor/cpu/dnnl_util.h"

#include <mutex>
#include <unordered_map>

namespace kun::cpu::dnnl_util {

dnnl::engine& engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

namespace {
std::mutex g_mu;
std::unordered_map<std::string, std::shared_ptr<void>>& table() {
  static auto* t = new std::unordered_map<std::string, std::shared_ptr<void>>();  // never destroyed: no exit-order issues
  return *t;
}
}  // namespace

std::shared_ptr<void> cached(const std::string& key, const std::function<std::shared_ptr<void>()>& make) {
  {
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = table().find(key);
    if (it != table().end()) return it->second;
  }
  std::shared_ptr<void> v = make();  // outside the lock: creation may be slow and may throw
  std::lock_guard<std::mutex> lk(g_mu);
  return table().emplace(key, std::move(v)).first->second;
}

size_t cache_size() {
  std::lock_guard<std::mutex> lk(g_mu);
  return table().size();
}

Buffer make_buffer(const dnnl::memory::desc& md) {
  Buffer b;
  size_t n = md.get_size();
  b.holder = Tensor::empty({static_cast<int64_t>(std::max<size_t>(n, 1))}, DType::u8);
  b.mem = dnnl::memory(md, engine(), b.holder.raw_data());
  return b;
}

dnnl::memory wrap(const Tensor& t, const dnnl::memory::desc& md) {
  return dnnl::memory(md, engine(), t.raw_data());
}

std::string dims_key(std::initializer_list<int64_t> v) {
  std::string s;
  for (int64_t x : v) {
    s += std::to_string(x);
    s += ',';
  }
  return s;
}

std::string md_key(const dnnl::memory::desc& md) {
  // The raw C descriptor identifies dims, data type and layout (blocking included).
  const auto& d = md.data;
  return std::string(reinterpret_cast<const char*>(&d), sizeof(d));
}

dnnl::reorder reorder_between(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  auto p = cached<dnnl::reorder>("reorder|" + md_key(from) + "|" + md_key(to), [&] {
    return std::make_shared<dnnl::reorder>(dnnl::reorder::primitive_desc(engine(), from, engine(), to));
  });
  return *p;
}

}  // namespace kun::cpu::dnnl_util
