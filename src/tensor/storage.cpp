#include "kun/tensor/storage.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "kun/core/error.h"

namespace kun {

namespace {

constexpr size_t kAlign = 64;
constexpr int kClasses = 48;           // size classes: powers of two from 64 B
constexpr size_t kMaxCachedClassBytes = size_t{1} << 40;
constexpr size_t kCacheLimit = size_t{2} << 30;  // keep at most 2 GiB cached

int size_class(size_t n) {
  size_t c = kAlign;
  int k = 0;
  while (c < n) {
    c <<= 1;
    ++k;
  }
  return k;
}

struct Pool {
  std::mutex mu;
  std::vector<void*> free_[kClasses];
  size_t cached = 0;
  ~Pool() {
    for (auto& v : free_)
      for (void* p : v) std::free(p);
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: storages may outlive static destruction order
  return *p;
}

// Per-thread one-entry-per-class cache in front of the shared pool: the common alloc/free
// pairs of small tensors touch no lock.
struct LocalCache {
  void* slot[16] = {};
  ~LocalCache() {
    for (int k = 0; k < 16; ++k)
      if (slot[k]) cached_free_shared(k, slot[k]);
  }
  static void cached_free_shared(int k, void* p) {
    Pool& pl = pool();
    std::lock_guard<std::mutex> g(pl.mu);
    pl.free_[k].push_back(p);
    pl.cached += kAlign << k;
  }
};
thread_local LocalCache t_local;

}  // namespace

void* cached_alloc(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
#ifdef KUN_NO_ALLOC_CACHE  // sanitizer builds: every buffer is a fresh allocation so ASan sees misuse
  void* q = std::aligned_alloc(kAlign, (nbytes + kAlign - 1) / kAlign * kAlign);
  if (!q) detail::throw_error<Error>("out of memory: could not allocate ", nbytes, " bytes for a tensor");
  return q;
#endif
  int k = size_class(nbytes);
  KUN_CHECK(k < kClasses && (kAlign << k) <= kMaxCachedClassBytes, ValueError, "allocation of ", nbytes,
            " bytes is too large");
  if (k < 16 && t_local.slot[k]) {
    void* p = t_local.slot[k];
    t_local.slot[k] = nullptr;
    return p;
  }
  Pool& pl = pool();
  {
    std::lock_guard<std::mutex> g(pl.mu);
    if (!pl.free_[k].empty()) {
      void* p = pl.free_[k].back();
      pl.free_[k].pop_back();
      pl.cached -= kAlign << k;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, kAlign << k);
  if (!p) {
    empty_cache();
    p = std::aligned_alloc(kAlign, kAlign << k);
  }
  if (!p)
    detail::throw_error<Error>("out of memory: could not allocate ", (kAlign << k), " bytes for a tensor of ",
                               nbytes, " bytes");
  return p;
}

void cached_free(void* p, size_t nbytes) {
  if (!p) return;
#ifdef KUN_NO_ALLOC_CACHE
  std::free(p);
  return;
#endif
  if (nbytes == 0) nbytes = 1;
  int k = size_class(nbytes);
  if (k < 16 && !t_local.slot[k]) {
    t_local.slot[k] = p;
    return;
  }
  Pool& pl = pool();
  std::lock_guard<std::mutex> g(pl.mu);
  if (pl.cached + (kAlign << k) > kCacheLimit) {
    std::free(p);
    return;
  }
  pl.free_[k].push_back(p);
  pl.cached += kAlign << k;
}

void empty_cache() {
  Pool& pl = pool();
  std::lock_guard<std::mutex> g(pl.mu);
  for (auto& v : pl.free_) {
    for (void* p : v) std::free(p);
    v.clear();
  }
  pl.cached = 0;
}

size_t cached_bytes() {
  Pool& pl = pool();
  std::lock_guard<std::mutex> g(pl.mu);
  return pl.cached;
}

Storage::Storage(size_t nbytes) : data_(cached_alloc(nbytes)), nbytes_(nbytes) {}
Storage::~Storage() { cached_free(data_, nbytes_); }

}  // namespace kun
