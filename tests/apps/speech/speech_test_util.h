// Helpers shared by the speech tests.
#pragma once
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "golden_util.h"

namespace kun::speech::testing {

// Relative error with a floor for near-zero values: passes when every element satisfies
//   |got - want| <= rtol * max(|want|, floor_frac * max|want|),   floor_frac = 1e-2 by default.
// A plain relative error is meaningless for near-zero values (spectrum bins far below the peak,
// MFCC coefficients next to c0 ~ -300); the floor makes it relative to the tensor's scale there.
// Why 1e-2 and not 1e-3: torchaudio's own float32 MFCC differs from the same definitions computed
// in float64 by up to 1.0e-4 under a 1e-3 floor on the FSDD test clips (float32 FFT rounding in
// low-energy mel bands), so a 1e-3 floor would measure the reference's rounding, not kun's.
inline ::testing::AssertionResult rel_close(const Tensor& got, const Tensor& want, double rtol = 1e-4,
                                            double floor_frac = 1e-2) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape() << " != expected " << want.shape();
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double mx = 0;
  for (double v : w) mx = std::max(mx, std::abs(v));
  double worst = 0;
  size_t wi = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!std::isfinite(g[i])) return ::testing::AssertionFailure() << "element " << i << " is " << g[i];
    const double r = std::abs(g[i] - w[i]) / std::max({std::abs(w[i]), floor_frac * mx, 1e-30});
    if (r > worst) worst = r, wi = i;
  }
  if (worst <= rtol) return ::testing::AssertionSuccess() << "max rel err " << worst;
  return ::testing::AssertionFailure() << "max relative error " << worst << " > " << rtol << " at element " << wi
                                       << ": got " << g[wi] << ", expected " << w[wi] << " (max|want| " << mx << ")";
}

inline double max_rel_err(const Tensor& got, const Tensor& want, double floor_frac = 1e-2) {
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double mx = 0, worst = 0;
  for (double v : w) mx = std::max(mx, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, std::abs(g[i] - w[i]) / std::max({std::abs(w[i]), floor_frac * mx, 1e-30}));
  return worst;
}

// The FSDD folder: $KUN_FSDD, else ../shared/data/fsdd from the working directory, else relative
// to the golden folder. Empty when absent (tests that need it GTEST_SKIP()).
inline std::string fsdd_dir() {
  namespace fs = std::filesystem;
  if (const char* e = std::getenv("KUN_FSDD"); e && fs::exists(fs::path(e) / "recordings")) return e;
  for (const std::string& p : {std::string("../shared/data/fsdd"), std::string(KUN_GOLDEN_DIR) + "/../../../shared/data/fsdd"})
    if (fs::exists(fs::path(p) / "recordings")) return p;
  return "";
}

// A fresh temporary directory for files a test writes.
inline std::string temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("kun_speech_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

}  // namespace kun::speech::testing
