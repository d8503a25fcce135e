// serve: wire formats, access control, config, the dynamic batcher, the model repository, and the
// server in-process over a plain socket (outputs must equal Model::predict exactly).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <random>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "golden_util.h"
#include "kun/nn/activation.h"
#include "kun/nn/layers.h"
#include "kun/nn/sequential.h"
#include "kun/serve/auth.h"
#include "kun/serve/batcher.h"
#include "kun/serve/codec.h"
#include "kun/serve/repository.h"
#include "kun/serve/server.h"
#include "kun/train/config.h"
#include "kun/train/model.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace kun;
using namespace kun::serve;

namespace {

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const RequestError& e) {
    return e.status();
  }
  return 0;
}

std::string kserve_body(const std::vector<int64_t>& shape, const std::string& data, const std::string& dt = "FP32") {
  json s = shape;
  return R"({"id":"r1","inputs":[{"name":"input","datatype":")" + dt + R"(","shape":)" + s.dump() + R"(,"data":)" +
         data + "}]}";
}

}  // namespace

TEST(ServeCodec, KServeDecodesFlatAndNested) {
  auto r = decode_kserve_infer(kserve_body({2, 3}, "[1, 2, 3, 4, 5, 6.5]"));
  EXPECT_EQ(r.id, "r1");
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(r.inputs[0].data, (std::vector<float>{1, 2, 3, 4, 5, 6.5f}));
  auto n = decode_kserve_infer(kserve_body({2, 2}, "[[1, 2], [3, 4]]", "INT32"));
  EXPECT_EQ(n.inputs[0].data, (std::vector<float>{1, 2, 3, 4}));
  auto b = decode_kserve_infer(kserve_body({2}, "[true, false]", "BOOL"));
  EXPECT_EQ(b.inputs[0].data, (std::vector<float>{1, 0}));
}

TEST(ServeCodec, KServeRejectsBadBodiesWithClearMessages) {
  KUN_EXPECT_ERROR(decode_kserve_infer("{\"inputs\": ["), "malformed JSON");
  KUN_EXPECT_ERROR(decode_kserve_infer(""), "empty request body");
  KUN_EXPECT_ERROR(decode_kserve_infer("[]"), "must be a JSON object");
  KUN_EXPECT_ERROR(decode_kserve_infer("{}"), "\"inputs\"");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({2, 3}, "[1, 2]")), "needs 6 values", "holds 2");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({2}, "[1, 2]", "FLOAT")), "unknown datatype 'FLOAT'");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({1}, "[300]", "INT8")), "out of the datatype's range");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({1}, "[0.5]", "INT64")), "integer data expected");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({1}, "[1]", "BOOL")), "true/false");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({1}, "[1e39]")), "does not fit");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({1}, "[\"a\"]", "BYTES")), "BYTES");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({-1}, "[1]")), "non-negative");
  KUN_EXPECT_ERROR(decode_kserve_infer(kserve_body({100000, 100000, 100000}, "[1]")), "too large");
  KUN_EXPECT_ERROR(decode_kserve_infer("{\"inputs\": " + std::string(100, '[') + std::string(100, ']') + "}"),
                   "nested 101 levels");
  EXPECT_EQ(status_of([] { decode_kserve_infer("{"); }), 400);
}

TEST(ServeCodec, TfServingRowAndColumnFormats) {
  bool row = false;
  auto t = decode_tfserving_predict(R"({"instances": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]})", "input", row);
  EXPECT_TRUE(row);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(t.data.size(), 8u);
  EXPECT_EQ(t.data[7], 8.0f);
  auto c = decode_tfserving_predict(R"({"inputs": {"input": [[1, 2, 3]]}})", "input", row);
  EXPECT_FALSE(row);
  EXPECT_EQ(c.shape, (std::vector<int64_t>{1, 3}));
  auto named = decode_tfserving_predict(R"({"instances": [{"input": [1, 2]}, {"input": [3, 4]}]})", "input", row);
  EXPECT_EQ(named.shape, (std::vector<int64_t>{2, 2}));
  KUN_EXPECT_ERROR(decode_tfserving_predict(R"({"instances": [[1, 2], [3]]})", "input", row), "same shape");
  KUN_EXPECT_ERROR(decode_tfserving_predict(R"({"instances": [[[1, 2], [3]]]})", "input", row), "ragged");
  KUN_EXPECT_ERROR(decode_tfserving_predict(R"({"instances": [{"x": [1]}]})", "input", row), "unknown input 'x'");
  KUN_EXPECT_ERROR(decode_tfserving_predict(R"({"instances": [[1]], "inputs": [[1]]})", "input", row), "not both");
  KUN_EXPECT_ERROR(decode_tfserving_predict(R"({"instances": [["a"]]})", "input", row), "expected numbers");
}

TEST(ServeCodec, ResponsesRoundTripExactly) {
  const std::vector<float> v = {0.1f, 1.0f / 3.0f, -2.5e-7f, 123456.789f, 0.0f, 1e-38f};
  const std::string body = encode_kserve_response("m\"x", "3", "id\n", "output", {2, 3}, v.data());
  const json j = json::parse(body);
  EXPECT_EQ(j["model_name"], "m\"x");
  EXPECT_EQ(j["id"], "id\n");
  EXPECT_EQ(j["outputs"][0]["shape"], json({2, 3}));
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(j["outputs"][0]["data"][i].get<float>(), v[i]);
  const json tf = json::parse(encode_tfserving_response(true, {2, 3}, v.data()));
  EXPECT_EQ(tf["predictions"][1][2].get<float>(), v[5]);
  const json col = json::parse(encode_tfserving_response(false, {2, 3}, v.data()));
  EXPECT_EQ(col["outputs"][0][1].get<float>(), v[1]);
  EXPECT_EQ(json::parse(encode_error("bad \"x\""))["error"], "bad \"x\"");
}

TEST(ServeAuth, ScopedKeysAndConstantTimeCompare) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  AccessControl open;
  EXPECT_EQ(open.check("", "m"), AccessControl::Decision::Allow);
  AccessControl ac;
  ac.add_key("admin-key-0123456789");
  ac.add_key("scoped-key-0123456789", {"mnist"});
  EXPECT_EQ(ac.check("", "mnist"), AccessControl::Decision::Unauthenticated);
  EXPECT_EQ(ac.check("admin-key-012345678", "mnist"), AccessControl::Decision::Unauthenticated);
  EXPECT_EQ(ac.check("admin-key-0123456789", ""), AccessControl::Decision::Allow);
  EXPECT_EQ(ac.check("scoped-key-0123456789", "mnist"), AccessControl::Decision::Allow);
  EXPECT_EQ(ac.check("scoped-key-0123456789", "other"), AccessControl::Decision::Forbidden);
  EXPECT_EQ(ac.check("scoped-key-0123456789", ""), AccessControl::Decision::Forbidden);
}

TEST(ServeConfig, ParsesAndRejects) {
  ModelConfig d;
  auto c = parse_model_config(R"({"max_batch_size": 16, "max_queue_delay_us": 500, "instances": 2,
                                  "labels": {"stable": 1}, "version_policy": {"specific": [1, 3]}})",
                              d, "cfg");
  EXPECT_EQ(c.max_batch_size, 16);
  EXPECT_EQ(c.instances, 2);
  EXPECT_EQ(c.labels.at("stable"), 1);
  EXPECT_EQ(c.policy, ModelConfig::Policy::Specific);
  EXPECT_EQ(c.specific, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(parse_model_config(R"({"version_policy": "all"})", d, "cfg").policy, ModelConfig::Policy::All);
  EXPECT_EQ(parse_model_config(R"({"version_policy": {"latest": 2}})", d, "cfg").latest_n, 2);
  KUN_EXPECT_ERROR(parse_model_config(R"({"max_batch": 3})", d, "cfg.json"), "cfg.json", "unknown field \"max_batch\"");
  KUN_EXPECT_ERROR(parse_model_config(R"({"instances": 0})", d, "cfg"), "\"instances\" must be an integer in [1, 64]");
  KUN_EXPECT_ERROR(parse_model_config(R"({"version_policy": {"newest": 1}})", d, "cfg"), "version_policy");
  KUN_EXPECT_ERROR(parse_model_config("{", d, "cfg"), "not valid JSON");
}

// A forward pass that doubles its input and records the batch sizes it saw.
struct Doubler {
  std::atomic<int> calls{0}, max_rows{0};
  int delay_ms = 0;
  Batcher::Forward fn() {
    return [this](int, const Tensor& b) {
      ++calls;
      int r = int(b.size(0));
      for (int m = max_rows; r > m && !max_rows.compare_exchange_weak(m, r);) {
      }
      if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      return mul(b, 2.0);
    };
  }
};

TEST(ServeBatcher, MergesConcurrentRequestsAndReturnsEachItsRows) {
  Doubler d;
  d.delay_ms = 2;
  Batcher b({.max_batch_size = 16, .max_queue_delay_us = 20000, .max_queue_size = 100}, 1, {3}, d.fn());
  const int n = 12;
  std::vector<std::vector<float>> outs(n);
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      std::vector<float> x = {float(i), float(i) + 0.5f, -float(i)};
      std::vector<int64_t> dims;
      outs[size_t(i)] = b.infer(x.data(), 1, std::chrono::steady_clock::now() + std::chrono::seconds(10), &dims);
      EXPECT_EQ(dims, (std::vector<int64_t>{3}));
    });
  for (auto& t : ts) t.join();
  for (int i = 0; i < n; ++i) EXPECT_EQ(outs[size_t(i)], (std::vector<float>{2.0f * i, 2.0f * i + 1.0f, -2.0f * i}));
  EXPECT_GT(d.max_rows.load(), 1) << "requests were never merged";
  EXPECT_LT(d.calls.load(), n);
}

TEST(ServeBatcher, BackPressureTimeoutAndShutdown) {
  Doubler d;
  d.delay_ms = 200;
  Batcher b({.max_batch_size = 0, .max_queue_delay_us = 0, .max_queue_size = 1}, 1, {1}, d.fn());
  std::vector<float> x = {1};
  const auto far = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::thread busy([&] { b.infer(x.data(), 1, far); });  // occupies the instance ~200 ms
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::thread queued([&] { b.infer(x.data(), 1, far); });  // fills the queue (size 1)
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status_of([&] { b.infer(x.data(), 1, far); }), 429);
  busy.join();
  queued.join();
  // Timed out while queued behind a slow request -> 503.
  std::thread busy2([&] { b.infer(x.data(), 1, far); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status_of([&] { b.infer(x.data(), 1, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)); }),
            503);
  busy2.join();
  b.shutdown();
  EXPECT_EQ(status_of([&] { b.infer(x.data(), 1, far); }), 503);
}

namespace {

// A tiny CNN saved like `kun train` saves it: DIR/<name>/<version>/model.kun + meta.
train::Model tiny_cnn(uint64_t seed) {
  manual_seed(seed);
  train::Model m(std::make_shared<nn::Sequential>(nn::Conv2D({.out_channels = 2, .kernel = 3}), nn::ReLU(), nn::Flatten(),
                                                  nn::Dense({.units = 3})));
  m.predict(kun::zeros({1, 1, 6, 6}));  // builds the lazily sized layers
  return m;
}

void save_version(train::Model& m, const fs::path& dir) {
  fs::create_directories(dir);
  m.save((dir / "model.kun").string(), false);
  train::ModelMeta meta;
  meta.input_shape = {1, 6, 6};
  meta.classes = {"a", "b", "c"};
  meta.output_activation = "softmax";
  train::save_meta((dir / "model.kun").string(), meta);
}

fs::path temp_repo(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("kun_serve_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

Tensor example_batch(int64_t n) {
  Tensor x = Tensor::empty({n, 1, 6, 6});
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = float((i * 37) % 11) / 11.0f - 0.3f;
  return x;
}

}  // namespace

TEST(ServeRepository, VersionsLoadAndABrokenOneNeverReplacesAWorkingOne) {
  const fs::path root = temp_repo("repo");
  auto m1 = tiny_cnn(1);
  save_version(m1, root / "cnn" / "1");
  ModelRepository repo({root.string(), {}});
  EXPECT_TRUE(repo.poll().empty());
  EXPECT_TRUE(repo.all_ready());
  auto v = repo.get("cnn");
  EXPECT_EQ(v->version(), 1);
  EXPECT_EQ(v->signature().input_shape, (std::vector<int64_t>{1, 6, 6}));
  EXPECT_EQ(v->signature().output_shape, (std::vector<int64_t>{3}));

  // Broken version 2: reported, version 1 keeps serving.
  fs::create_directories(root / "cnn" / "2");
  std::ofstream(root / "cnn" / "2" / "model.kun") << "garbage";
  fs::copy_file(root / "cnn" / "1" / "model.kun.meta.json", root / "cnn" / "2" / "model.kun.meta.json");
  auto problems = repo.poll();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("cnn version 2"), std::string::npos) << problems[0];
  EXPECT_EQ(repo.get("cnn")->version(), 1);
  EXPECT_TRUE(repo.poll().empty()) << "the same broken files are not retried on every poll";

  // A good version 2 replaces 1 (latest 1); labels point at versions.
  auto m2 = tiny_cnn(2);
  fs::remove_all(root / "cnn" / "2");
  save_version(m2, root / "cnn" / "2");
  std::ofstream(root / "cnn" / "config.json") << R"({"labels": {"stable": 2, "old": 1}})";
  EXPECT_TRUE(repo.poll().empty());
  EXPECT_EQ(repo.get("cnn")->version(), 2);
  EXPECT_EQ(repo.get("cnn", "", "stable")->version(), 2);
  EXPECT_EQ(status_of([&] { repo.get("cnn", "1"); }), 404);
  EXPECT_EQ(status_of([&] { repo.get("cnn", "", "old"); }), 404);
  EXPECT_EQ(status_of([&] { repo.get("cnn", "", "beta"); }), 404);
  EXPECT_EQ(status_of([&] { repo.get("nope"); }), 404);

  // Policy all: both.
  std::ofstream(root / "cnn" / "config.json", std::ios::trunc) << R"({"version_policy": "all"})";
  repo.poll();
  EXPECT_EQ(repo.loaded().size(), 2u);
  // A broken config keeps what is loaded.
  std::ofstream(root / "cnn" / "config.json", std::ios::trunc) << R"({"max_batch": 1})";
  EXPECT_EQ(repo.poll().size(), 1u);
  EXPECT_EQ(repo.loaded().size(), 2u);
  // Model folder removed: unloaded.
  fs::remove_all(root / "cnn");
  repo.poll();
  EXPECT_TRUE(repo.loaded().empty());
  repo.shutdown();
  fs::remove_all(root);
}

namespace {
// Minimal HTTP/1.1 client over a socket: one request, Connection: close, returns (status, body).
std::pair<int, std::string> http_post(int port, const std::string& path, const std::string& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return {-1, ""};
  }
  const std::string req = "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t k = ::send(fd, req.data() + sent, req.size() - sent, 0);
    if (k <= 0) break;
    sent += size_t(k);
  }
  std::string resp;
  char buf[8192];
  for (ssize_t k; (k = ::recv(fd, buf, sizeof buf, 0)) > 0;) resp.append(buf, size_t(k));
  ::close(fd);
  const size_t sp = resp.find(' '), hdr = resp.find("\r\n\r\n");
  if (sp == std::string::npos || hdr == std::string::npos) return {-1, resp};
  return {std::atoi(resp.c_str() + sp + 1), resp.substr(hdr + 4)};
}
}  // namespace

TEST(ServeServer, InProcessOutputsEqualModelPredict) {
  const fs::path root = temp_repo("server");
  auto m = tiny_cnn(5);
  save_version(m, root / "cnn" / "1");
  std::ofstream(root / "cnn" / "config.json") << R"({"max_batch_size": 8, "max_queue_delay_us": 1000})";
  ServerOptions o;
  o.model_repository = root.string();
  o.port = 0;
  o.access_log = "";
  Server s(o);
  s.start();
  ASSERT_GT(s.port(), 0);

  const Tensor x = example_batch(3);
  const std::vector<float> want = m.predict(x).to_vector<float>();
  json data = x.to_vector<float>();
  auto [st, body] = http_post(s.port(), "/v2/models/cnn/infer", kserve_body({3, 1, 6, 6}, data.dump()));
  ASSERT_EQ(st, 200) << body;
  const json j = json::parse(body);
  EXPECT_EQ(j["outputs"][0]["shape"], json({3, 3}));
  ASSERT_EQ(j["outputs"][0]["data"].size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(j["outputs"][0]["data"][i].get<float>(), want[i]) << i;

  auto [st2, body2] = http_post(s.port(), "/v2/models/cnn/infer", kserve_body({1, 1, 6, 5}, json(std::vector<float>(30, 0.5f)).dump()));
  EXPECT_EQ(st2, 400);
  EXPECT_NE(json::parse(body2)["error"].get<std::string>().find("expected shape [-1,1,6,6]"), std::string::npos)
      << body2;
  EXPECT_EQ(s.metrics().request_count("cnn", "1", 200), 1u);
  EXPECT_EQ(s.metrics().request_count("cnn", "1", 400), 1u);
  s.stop();
  EXPECT_FALSE(s.running());
  fs::remove_all(root);
}

// Numeric arrays are read by a fast path; an "id" holding the marker key turns it off, so both
// paths can be compared on the same bodies: identical values, identical accept / reject.
TEST(ServeCodec, FastNumericPathMatchesTheGeneralParser) {
  auto body = [](const std::string& id, const std::string& shape, const std::string& data, const std::string& dt) {
    return R"({"id":")" + id + R"(","inputs":[{"name":"input","datatype":")" + dt + R"(","shape":)" + shape +
           R"(,"data":)" + data + "}]}";
  };
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1e3, 1e3);
  std::string flat = "[", nested = "[";
  std::vector<double> want;
  for (int r = 0; r < 6; ++r) {
    nested += r ? ",[" : "[";
    for (int c = 0; c < 7; ++c) {
      const double v = (r * 7 + c) % 5 == 0 ? double(int(u(rng))) : u(rng) * std::pow(10.0, (r + c) % 9 - 4);
      char buf[64];
      std::snprintf(buf, sizeof buf, (r + c) % 3 ? "%.9g" : "%.17e", v);
      flat += std::string(r || c ? ", " : "") + buf;
      nested += std::string(c ? " ,\n" : "") + buf;
      want.push_back(v);
    }
    nested += "]";
  }
  flat += "]", nested += "]";
  for (const std::string& data : {flat, nested}) {
    const auto fast = decode_kserve_infer(body("a", "[6, 7]", data, "FP32"));
    const auto slow = decode_kserve_infer(body("__kun_packed__", "[6, 7]", data, "FP32"));
    ASSERT_EQ(fast.inputs[0].data.size(), want.size());
    EXPECT_EQ(fast.inputs[0].data, slow.inputs[0].data);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(fast.inputs[0].data[i], float(want[i])) << i;
  }
  // Same verdict both ways on edge cases (ok = decodes, else the error status).
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"[2]", "[1, -0]", "INT8"},        {"[2]", "[1.5, 2]", "INT32"},     {"[1]", "[300]", "UINT8"},
      {"[1]", "[-1]", "UINT8"},          {"[2]", "[1,]", "FP32"},          {"[2]", "[01, 2]", "FP32"},
      {"[2]", "[[1], 2]", "FP32"},       {"[2, 2]", "[[1], [2, 3]]", "FP32"}, {"[0]", "[]", "FP32"},
      {"[2, 0]", "[[], []]", "FP32"},    {"[1]", "[1e39]", "FP32"},        {"[1]", "[1e400]", "FP64"},
      {"[2]", "[1, true]", "FP32"},      {"[1]", "[1]", "BOOL"},           {"[2]", "[.5, 1]", "FP32"},
      {"[1]", "[12345678901234567890]", "UINT64"}, {"[1]", "[-]", "FP32"}, {"[3]", "[1 2 3]", "FP32"},
      {"[1]", "[2E+2]", "FP32"},         {"[1, 1, 1]", "[[[7]]]", "INT16"}};
  for (const auto& [shape, data, dt] : cases) {
    int fast_status = status_of([&] { decode_kserve_infer(body("a", shape, data, dt)); });
    int slow_status = status_of([&] { decode_kserve_infer(body("__kun_packed__", shape, data, dt)); });
    EXPECT_EQ(fast_status, slow_status) << shape << " " << data << " " << dt;
    if (fast_status == 0) {
      EXPECT_EQ(decode_kserve_infer(body("a", shape, data, dt)).inputs[0].data,
                decode_kserve_infer(body("__kun_packed__", shape, data, dt)).inputs[0].data);
    }
  }
  // TF-Serving: a packed instances block equals the per-instance path.
  bool row = false;
  const std::string inst = R"({"instances": [[[1, 2.5], [3, 4]], [[5, 6], [7, -8e-3]]]})";
  auto a = decode_tfserving_predict(inst, "input", row);
  auto b = decode_tfserving_predict(R"({"signature_name": "serving_default", "instances": [{"input": [[1, 2.5], [3, 4]]},
                                        {"input": [[5, 6], [7, -8e-3]]}]})",
                                    "input", row);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.data, b.data);
}
