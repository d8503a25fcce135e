// Threads: one OpenMP pool shared with oneDNN and OpenBLAS (both built on the same libgomp),
// so kernels never oversubscribe the cores.
#pragma once
#include <cstdint>

namespace kun {

int num_threads();
// Sets the thread count for kun, oneDNN and OpenBLAS alike. n <= 0 restores the default (all cores).
void set_num_threads(int n);
bool in_parallel_region();

// Runs the enclosing scope on at most n threads and restores the previous count on exit. For work
// made of many tiny steps (a small recommender network, batch 256): splitting each step over the
// pool costs a synchronisation per kernel, and on a busy machine every one can wait a time slice.
class ScopedNumThreads {
 public:
  explicit ScopedNumThreads(int n) : saved_(num_threads()) {
    if (n < saved_) set_num_threads(n);
  }
  ~ScopedNumThreads() {
    if (num_threads() != saved_) set_num_threads(saved_);
  }
  ScopedNumThreads(const ScopedNumThreads&) = delete;
  ScopedNumThreads& operator=(const ScopedNumThreads&) = delete;

 private:
  int saved_;
};

// Calls fn(begin, end) over [0, n) split into chunks; runs inline when n < grain or when already
// inside a parallel region. fn must be safe to run concurrently on disjoint ranges.
template <typename F>
void parallel_for(int64_t n, int64_t grain, const F& fn);

}  // namespace kun

#include "kun/core/threading_inl.h"
