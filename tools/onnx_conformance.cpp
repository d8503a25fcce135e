// Runs the ONNX backend test data (Debian's libonnx-testdata: node, pytorch-converted,
// pytorch-operator, simple) through kun's ONNX importer and compares with the expected outputs at
// the backend test runner's default tolerances (rtol 1e-3, atol 1e-7, numpy assert_allclose rule
// |got - want| <= atol + rtol * |want|, NaN equals NaN, and the output dtype must match).
//
//   onnx_conformance [--data DIR] [--suite node,simple] [--filter SUBSTR] [--expected FILE] [--failures] [--table]
//
// Prints a per-operator pass / fail / unsupported table and per-suite totals. With --expected FILE
// (lines "<suite> <min passes>") it exits 1 when a suite passes fewer tests than recorded.
#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kun/apps/onnx/onnx.h"

namespace fs = std::filesystem;
using kun::Tensor;

namespace {

enum class Status { pass, fail, unsupported };

struct Result {
  std::string suite, test, op;
  Status status = Status::fail;
  std::string detail;
  double ms = 0;
};

// Operator key of a test: the single node's op type, or "(multi-node)" for expanded function bodies
// and small models.
std::string op_key(const fs::path& model_path) {
  ONNX_NAMESPACE::ModelProto mp;
  std::ifstream f(model_path, std::ios::binary);
  if (!mp.ParseFromIstream(&f)) return "(unreadable)";
  const auto& g = mp.graph();
  if (g.node_size() == 1) return g.node(0).op_type();
  return "(multi-node)";
}

std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  std::ostringstream os;
  if (got.dtype() != want.dtype()) {
    os << "dtype " << kun::dtype_name(got.dtype()) << " != expected " << kun::dtype_name(want.dtype());
    return os.str();
  }
  if (got.shape() != want.shape()) {
    os << "shape " << got.shape() << " != expected " << want.shape();
    return os.str();
  }
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t k = 0; k < g.size(); ++k) {
    if (std::isnan(g[k]) && std::isnan(w[k])) continue;
    if (g[k] == w[k]) continue;  // covers equal infinities
    double err = std::fabs(g[k] - w[k]);
    if (!(err <= atol + rtol * std::fabs(w[k]))) {
      if (!bad) first = k;
      ++bad;
      worst = std::max(worst, std::isnan(err) ? INFINITY : err);
    }
  }
  if (!bad) return "";
  os << bad << "/" << g.size() << " values differ (first at " << first << ": got " << g[first] << ", want "
     << w[first] << "; max abs err " << worst << ")";
  return os.str();
}

Result run_test(const std::string& suite, const fs::path& dir, double rtol, double atol) {
  Result r;
  r.suite = suite;
  r.test = dir.filename().string();
  const fs::path model_path = dir / "model.onnx";
  r.op = suite == "node" ? op_key(model_path) : "(model)";
  auto t0 = std::chrono::steady_clock::now();
  try {
    kun::onnx::Model m = kun::onnx::Model::load(model_path.string());
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    if (sets.empty()) throw kun::IOError("no test_data_set_* directories");
    for (const auto& set : sets) {
      std::map<std::string, Tensor> feeds;
      for (size_t k = 0;; ++k) {
        fs::path p = set / ("input_" + std::to_string(k) + ".pb");
        if (!fs::exists(p)) break;
        if (k >= m.inputs().size()) throw kun::ValueError("test data has more inputs than the model");
        feeds[m.inputs()[k].name] = kun::onnx::read_tensor_pb(p.string());
      }
      auto outs = m.run(feeds);
      for (size_t k = 0; k < m.outputs().size(); ++k) {
        fs::path p = set / ("output_" + std::to_string(k) + ".pb");
        if (!fs::exists(p)) continue;
        Tensor want = kun::onnx::read_tensor_pb(p.string());
        std::string diff = compare(outs.at(m.outputs()[k].name), want, rtol, atol);
        if (!diff.empty()) throw kun::ValueError(set.filename().string() + " output " + std::to_string(k) + ": " + diff);
      }
    }
    r.status = Status::pass;
  } catch (const kun::onnx::UnsupportedError& e) {
    r.status = Status::unsupported;
    r.detail = e.what();
    if (r.op == "(multi-node)" || r.op == "(model)") r.detail = "[" + e.op() + "] " + r.detail;
  } catch (const std::exception& e) {
    r.status = Status::fail;
    r.detail = e.what();
  }
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs the ONNX backend test data through kun's ONNX importer"};
  std::string data = "/usr/share/libonnx-testdata/data", suites_arg = "node,pytorch-converted,pytorch-operator,simple",
              filter, expected;
  bool show_failures = false, show_table = false;
  double rtol = 1e-3, atol = 1e-7;
  app.add_option("--data", data, "libonnx-testdata's data directory");
  app.add_option("--suite", suites_arg, "comma-separated suites");
  app.add_option("--filter", filter, "only tests whose name contains this");
  app.add_option("--expected", expected, "file of '<suite> <min passes>' lines; exit 1 below them");
  app.add_option("--rtol", rtol);
  app.add_option("--atol", atol);
  app.add_flag("--failures", show_failures, "print the reason of every failing / unsupported test");
  app.add_flag("--table", show_table, "print the per-operator table");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> suites;
  std::stringstream ss(suites_arg);
  for (std::string s; std::getline(ss, s, ',');) suites.push_back(s);

  std::vector<Result> results;
  for (const auto& suite : suites) {
    fs::path dir = fs::path(data) / suite;
    if (!fs::is_directory(dir)) {
      std::cerr << "onnx_conformance: no suite directory " << dir << " (install libonnx-testdata)\n";
      return 2;
    }
    std::vector<fs::path> tests;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && fs::exists(e.path() / "model.onnx") &&
          e.path().filename().string().find(filter) != std::string::npos)
        tests.push_back(e.path());
    std::sort(tests.begin(), tests.end());
    for (const auto& t : tests) results.push_back(run_test(suite, t, rtol, atol));
  }

  struct Count { int pass = 0, fail = 0, unsupported = 0; };
  std::map<std::string, Count> by_op, by_suite;
  for (const auto& r : results) {
    for (Count* c : {&by_suite[r.suite], r.suite == "node" ? &by_op[r.op] : nullptr}) {
      if (!c) continue;
      (r.status == Status::pass ? c->pass : r.status == Status::fail ? c->fail : c->unsupported)++;
    }
  }
  if (show_table) {
    std::printf("%-28s %5s %5s %6s  %s\n", "operator (node tests)", "pass", "fail", "unsup", "status");
    for (const auto& [op, c] : by_op) {
      const char* st = c.fail == 0 && c.unsupported == 0 ? "ok" : c.pass == 0 ? (c.fail ? "FAIL" : "unsupported") : "partial";
      std::printf("%-28s %5d %5d %6d  %s\n", op.c_str(), c.pass, c.fail, c.unsupported, st);
    }
    std::printf("\n");
  }
  if (show_failures) {
    for (const auto& r : results)
      if (r.status != Status::pass)
        std::printf("%-12s %-11s %s/%s: %s\n", r.status == Status::fail ? "FAIL" : "UNSUPPORTED", "", r.suite.c_str(),
                    r.test.c_str(), r.detail.c_str());
    std::printf("\n");
  }
  double total_ms = 0;
  for (const auto& r : results) total_ms += r.ms;
  std::printf("%-20s %6s %6s %6s %6s %7s\n", "suite", "tests", "pass", "fail", "unsup", "pass%");
  for (const auto& [suite, c] : by_suite) {
    int n = c.pass + c.fail + c.unsupported;
    std::printf("%-20s %6d %6d %6d %6d %6.1f%%\n", suite.c_str(), n, c.pass, c.fail, c.unsupported,
                n ? 100.0 * c.pass / n : 0.0);
  }
  std::printf("(%.1f s)\n", total_ms / 1000);

  if (!expected.empty()) {
    std::ifstream f(expected);
    if (!f) {
      std::cerr << "onnx_conformance: cannot read " << expected << "\n";
      return 2;
    }
    bool ok = true;
    std::string suite;
    int want = 0;
    while (f >> suite >> want) {
      if (!by_suite.count(suite)) continue;
      int got = by_suite[suite].pass;
      if (got < want) {
        std::cerr << "onnx_conformance: REGRESSION in " << suite << ": " << got << " tests pass, expected at least "
                  << want << "\n";
        ok = false;
      } else if (got > want) {
        std::printf("%s: %d passes > recorded %d (raise %s)\n", suite.c_str(), got, want, expected.c_str());
      }
    }
    return ok ? 0 : 1;
  }
  return 0;
}
