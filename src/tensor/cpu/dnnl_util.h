// Internal: the oneDNN pieces every oneDNN-backed kernel shares: one CPU engine, a stream per
// thread, a primitive cache (creating a primitive costs far more than running a small one, so
// repeated calls with the same shapes create nothing), scratch buffers from kun's caching
// allocator, and reorders between kun's plain layouts and oneDNN's blocked ones.
#pragma once
#include <functional>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "kun/tensor/tensor.h"

namespace kun::cpu::dnnl_util {

dnnl::engine& engine();
dnnl::stream& stream();  // one per thread

// Returns the cached object for `key`, creating it with make() the first time. Thread-safe;
// entries live for the program's lifetime (the key space is the set of shapes a program uses).
std::shared_ptr<void> cached(const std::string& key, const std::function<std::shared_ptr<void>()>& make);
template <typename T>
std::shared_ptr<T> cached(const std::string& key, const std::function<std::shared_ptr<T>()>& make) {
  return std::static_pointer_cast<T>(cached(key, std::function<std::shared_ptr<void>()>([&] {
    return std::static_pointer_cast<void>(make());
  })));
}
size_t cache_size();

// A byte buffer from kun's caching allocator wrapped as a oneDNN memory of descriptor `md`.
struct Buffer {
  Tensor holder;
  dnnl::memory mem;
};
Buffer make_buffer(const dnnl::memory::desc& md);

// A oneDNN memory over a (contiguous) kun tensor's data, no copy.
dnnl::memory wrap(const Tensor& t, const dnnl::memory::desc& md);

// Reorder primitive between two descriptors (cached).
dnnl::reorder reorder_between(const dnnl::memory::desc& from, const dnnl::memory::desc& to);

// Builds a key fragment from integers: "a,b,c,".
std::string dims_key(std::initializer_list<int64_t> v);
std::string md_key(const dnnl::memory::desc& md);

}  // namespace kun::cpu::dnnl_util
