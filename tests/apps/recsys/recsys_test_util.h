// Helpers shared by the recsys tests: temp files, tiny datasets, the MovieLens path.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "kun/apps/recsys/data.h"

namespace kun::recsys::testing {

// Joins the parts (GCC 12 warns falsely about `"literal" + std::string + ...` chains: -Wrestrict).
template <typename... T>
std::string cat(const T&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

inline std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("kun_recsys_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

inline std::string write_file(const std::string& name, const std::string& text) {
  const std::string p = temp_path(name);
  std::ofstream f(p, std::ios::binary);
  f << text;
  return p;
}

// KUN_MOVIELENS, else ../shared/data/movielens-100k/ml-100k relative to the repository root.
inline std::string movielens_dir() {
  if (const char* env = std::getenv("KUN_MOVIELENS"); env && *env) return env;
  return (std::filesystem::path(KUN_GOLDEN_DIR) / ".." / ".." / ".." / "shared" / "data" / "movielens-100k" /
          "ml-100k")
      .lexically_normal()
      .string();
}
inline bool have_movielens() { return std::filesystem::exists(std::filesystem::path(movielens_dir()) / "u.data"); }

// Ratings from (u, i, r) triples with dense ids already.
inline Ratings ratings(std::initializer_list<std::tuple<int, int, float>> rows) {
  Ratings r;
  int64_t t = 0;
  for (auto& [u, i, x] : rows) r.push(u, i, x, t++);
  return r;
}

}  // namespace kun::recsys::testing
