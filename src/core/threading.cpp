#include "kun/core/threading.h"

#include <omp.h>

#include <thread>

extern "C" void openblas_set_num_threads(int);

namespace kun {

namespace {
int g_threads = 0;
int default_threads() {
  int n = omp_get_max_threads();
  return n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}
}  // namespace

int num_threads() {
  if (g_threads <= 0) g_threads = default_threads();
  return g_threads;
}

void set_num_threads(int n) {
  g_threads = n > 0 ? n : default_threads();
  omp_set_num_threads(g_threads);
  openblas_set_num_threads(g_threads);
}

bool in_parallel_region() { return omp_in_parallel(); }

}  // namespace kun
