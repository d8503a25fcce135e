// Storage: one reference-counted, 64-byte aligned buffer shared by a tensor and its views.
#pragma once
#include <cstddef>
#include <memory>

namespace kun {

class Storage {
 public:
  // Allocates nbytes (uninitialized) from the caching allocator.
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
};

// Caching allocator: freed blocks are kept in size classes and reused, so steady-state training
// loops and tiny-tensor code do no malloc/free. Thread-safe.
void* cached_alloc(size_t nbytes);
void cached_free(void* p, size_t nbytes);
// Returns every cached block to the system.
void empty_cache();
size_t cached_bytes();

}  // namespace kun
