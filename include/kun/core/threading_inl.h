#pragma once
#include <algorithm>
#include <omp.h>

namespace kun {

template <typename F>
void parallel_for(int64_t n, int64_t grain, const F& fn) {
  if (n <= 0) return;
  int nt = num_threads();
  if (nt <= 1 || n < grain || omp_in_parallel()) {
    fn(int64_t{0}, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(nt, (n + grain - 1) / std::max<int64_t>(grain, 1));
  if (chunks <= 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    int64_t t = omp_get_thread_num(), tn = omp_get_num_threads();
    int64_t per = (n + tn - 1) / tn;
    int64_t b = t * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  }
}

}  // namespace kun
