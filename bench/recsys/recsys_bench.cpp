// kun_recsys_bench: end-to-end recsys measurements.
//   kun_recsys_bench epoch            one SGD epoch of biased SVD (K=100 and 50) on mf_funk.cpp's synthetic
//                                     data (943 x 1682, 100k random ratings), median of 20 epochs
//   kun_recsys_bench cv5 [DATA]       wall time of the whole random 5-fold SVD run (Surprise defaults)
//   kun_recsys_bench cli ARGS...      runs `kun recsys ARGS...` (cli_main) until the lead wires the kun binary
// bench/recsys/run.sh runs these next to mf_funk.cpp and bench_mf.py.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kun/apps/recsys/algorithms.h"
#include "kun/apps/recsys/cli.h"
#include "kun/apps/recsys/evaluate.h"

using namespace kun::recsys;

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int epoch_bench() {
  const int nu = 943, ni = 1682, n = 100000;
  std::mt19937 g(0);  // the same stream as mf_funk.cpp
  Ratings r;
  for (int j = 0; j < n; ++j) {
    const int32_t u = int32_t(g() % nu), i = int32_t(g() % ni);
    r.push(u, i, float(1 + g() % 5), 0);
  }
  for (int K : {100, 50}) {
    for (bool file_order : {true, false}) {
      TrainSet ts = make_trainset(r, nu, ni, {1, 5});
      if (file_order) {  // mf_funk's order (random); fit() itself iterates in user order like Surprise
        ts.u = r.user;
        ts.i = r.item;
        ts.r = r.rating;
      }
      SvdOptions o;
      o.n_factors = K;
      Svd svd(o);
      svd.set_train(std::make_shared<const TrainSet>(ts));
      svd.init_params();
      std::vector<double> times;
      for (int e = 0; e < 20; ++e) {
        const double t0 = now_s();
        svd.sgd_epoch();
        times.push_back(now_s() - t0);
      }
      std::sort(times.begin(), times.end());
      const double med = times[times.size() / 2];
      // min as well: on a shared machine the median mixes in time-slices lost to other processes
      std::printf("kun svd float  K=%-3d %-10s: median epoch %.3f ms (%.1f M ratings/s), min %.3f ms\n", K,
                  file_order ? "file order" : "user order", med * 1e3, n / med / 1e6, times[0] * 1e3);
    }
  }
  return 0;
}

int cv5_bench(const std::string& dir) {
  Dataset ds = read_movielens_100k(dir);
  auto folds = k_fold(ds.ratings, 5, 0);
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now_s();
    CvResult res = cross_validate("svd", {}, ds, folds);
    const double wall = now_s() - t0;
    std::printf("svd 5-fold (100 factors, 20 epochs): wall %.3f s, RMSE %.4f, MAE %.4f\n", wall,
                res.mean(&FoldResult::rmse), res.mean(&FoldResult::mae));
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "epoch";
  if (mode == "epoch") return epoch_bench();
  if (mode == "cv5") return cv5_bench(argc > 2 ? argv[2] : "../shared/data/movielens-100k/ml-100k");
  if (mode == "cli") return cli_main(argc - 1, argv + 1);
  std::fprintf(stderr, "usage: kun_recsys_bench epoch | cv5 [DIR] | cli ARGS...\n");
  return 2;
}
