// Test helpers: load golden values written by tests/golden/gen_<family>.py and compare.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "kun/kun.h"

namespace kun::testing {

using json = nlohmann::json;

// The whole golden file of a family (tests/golden/<family>.json).
inline const json& golden(const std::string& family) {
  static std::map<std::string, json> cache;
  auto it = cache.find(family);
  if (it != cache.end()) return it->second;
  std::string path = std::string(KUN_GOLDEN_DIR) + "/" + family + ".json";
  std::ifstream f(path);
  if (!f) throw std::runtime_error("missing golden file " + path + "; run tests/golden/gen_" + family + ".py");
  json j = json::parse(f);
  return cache.emplace(family, std::move(j)).first->second;
}

inline const json& golden_case(const std::string& family, const std::string& name) {
  const json& g = golden(family);
  if (!g["cases"].contains(name)) throw std::runtime_error("golden file " + family + ".json has no case " + name);
  return g["cases"][name];
}

// A tensor from its golden JSON form.
inline Tensor from_json(const json& j) {
  Shape shape(j["shape"].get<std::vector<int64_t>>());
  DType dt = dtype_from_name(j["dtype"].get<std::string>());
  const json& d = j["data"];
  Tensor t = Tensor::empty(shape, dt);
  KUN_DISPATCH_ALL(dt, "from_json", [&] {
    scalar_t* p = t.data<scalar_t>();
    for (size_t i = 0; i < d.size(); ++i) {
      if constexpr (std::is_same_v<scalar_t, bool>) p[i] = d[i].get<bool>();
      else if constexpr (std::is_floating_point_v<scalar_t>) p[i] = static_cast<scalar_t>(d[i].get<double>());
      else p[i] = static_cast<scalar_t>(d[i].get<int64_t>());
    }
  });
  return t;
}

inline Tensor input(const json& c, const std::string& name) { return from_json(c["inputs"][name]); }
inline Tensor output(const json& c, const std::string& name) { return from_json(c["outputs"][name]); }

// Elementwise |got - want| <= rtol * |want| + atol, with the same shape; NaN/inf must match.
inline ::testing::AssertionResult close(const Tensor& got, const Tensor& want, double rtol = 1e-5,
                                        double atol = 1e-6) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape() << " != expected " << want.shape();
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    bool ok = (std::isnan(w[i]) && std::isnan(g[i])) || (std::isinf(w[i]) && g[i] == w[i]) ||
              std::abs(g[i] - w[i]) <= rtol * std::abs(w[i]) + atol;
    if (!ok)
      return ::testing::AssertionFailure() << "element " << i << ": got " << g[i] << ", expected " << w[i]
                                           << " (rtol " << rtol << ", atol " << atol << ")";
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult all_finite(const Tensor& t) {
  auto v = t.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return ::testing::AssertionFailure() << "element " << i << " is " << v[i];
  return ::testing::AssertionSuccess();
}

// Runs gradcheck and reports its message on failure.
inline ::testing::AssertionResult grad_ok(const std::function<Variable(const std::vector<Variable>&)>& f,
                                          const std::vector<Tensor>& inputs, GradcheckOptions opt = {}) {
  auto r = gradcheck(f, inputs, opt);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message;
}

// Expects `stmt` to throw a kun::Error whose message contains every one of `parts`.
#define KUN_EXPECT_ERROR(stmt, ...)                                                              \
  do {                                                                                           \
    try {                                                                                        \
      stmt;                                                                                      \
      ADD_FAILURE() << "expected a kun::Error from: " #stmt;                                     \
    } catch (const ::kun::Error& e) {                                                            \
      std::string msg_ = e.what();                                                               \
      for (const char* part_ : {__VA_ARGS__})                                                    \
        EXPECT_NE(msg_.find(part_), std::string::npos) << "message '" << msg_ << "' lacks '" << part_ << "'"; \
    }                                                                                            \
  } while (0)

}  // namespace kun::testing
