// The HTTP layer of `kun serve` (see include/kun/serve/server.h): routing for KServe v2,
// TF-Serving REST and /metrics over cpp-httplib, access control, access log, and the one place
// where exceptions become HTTP statuses (status_for).
#include "kun/serve/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "kun/serve/auth.h"
#include "kun/serve/codec.h"

#ifndef KUN_VERSION
#define KUN_VERSION "0.1.0"
#endif

namespace kun::serve {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Per-request facts the access log and the request counter need; the HTTP library runs a request
// start to finish on one thread, so a thread_local carries them from routing to the logger.
struct RequestContext {
  bool fresh = false;
  Clock::time_point start;
  std::string id, model, version;
  std::string body;  // the request body (read by the server under the size limit)
};
thread_local RequestContext t_ctx;

// The one mapping from exceptions to HTTP answers. 4xx: the client's fault (RequestError carries
// its status); 5xx: ours.
struct ErrorAnswer {
  int status;
  std::string message;
  int retry_after_s = 0;
};
ErrorAnswer status_for(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const RequestError& e) {
    return {e.status(), e.what(), e.retry_after_s()};
  } catch (const std::bad_alloc&) {
    return {503, "out of memory; retry with a smaller request", 1};
  } catch (const std::exception& e) {
    return {500, std::string("internal error: ") + e.what()};
  } catch (...) {
    return {500, "internal error"};
  }
}

const char* reason_for(int status) {
  switch (status) {
    case 400: return "bad request";
    case 401: return "missing or invalid API key (send Authorization: Bearer <key>)";
    case 403: return "this API key is not allowed here";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 408: return "request timeout: the client was too slow";
    case 413: return "request body too large";
    case 414: return "request URI too long";
    case 429: return "too many requests";
    case 431: return "request headers too large";
    case 500: return "internal error";
    case 503: return "service unavailable";
    default: return "error";
  }
}

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '/') {
      ++i;
      continue;
    }
    const size_t j = p.find('/', i);
    parts.push_back(p.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j;
  }
  return parts;
}

std::string shape_json(const std::vector<int64_t>& dims, bool batch) {
  std::string s = batch ? "[-1" : "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    s += batch || i ? "," : "";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
  return buf;
}

bool valid_request_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

// Rows of outputs -> probabilities, the way `kun predict` shows them.
void to_probabilities(std::vector<float>& row, const std::string& activation) {
  if (activation == "softmax" && row.size() > 1) {
    const float mx = *std::max_element(row.begin(), row.end());
    double s = 0;
    for (float& x : row) s += (x = std::exp(x - mx));
    for (float& x : row) x = float(x / s);
  } else if (activation == "sigmoid") {
    for (float& x : row) x = 1.0f / (1.0f + std::exp(-x));
  }
}

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  Metrics metrics;
  std::unique_ptr<ModelRepository> repo;
  AccessControl access;
  std::unique_ptr<httplib::Server> http;
  std::thread listen_thread, poll_thread;
  std::atomic<bool> running{false}, stopping{false};
  int bound_port = 0;
  FILE* log = nullptr;
  bool own_log = false;
  std::mutex log_mu;
  std::mutex poll_mu;
  std::condition_variable poll_cv;
  std::atomic<uint64_t> next_id{0};
  std::string id_prefix;

  explicit Impl(ServerOptions o) : opt(std::move(o)) {}

  // ---- helpers ------------------------------------------------------------------------------
  static std::string token_of(const httplib::Request& req) {
    std::string a = req.get_header_value("Authorization");
    if (a.size() > 7 && (a.compare(0, 7, "Bearer ") == 0 || a.compare(0, 7, "bearer ") == 0)) return a.substr(7);
    return req.get_header_value("X-API-Key");
  }
  void authorize(const httplib::Request& req, const std::string& model) const {
    if (!access.enabled()) return;
    switch (access.check(token_of(req), model)) {
      case AccessControl::Decision::Allow: return;
      case AccessControl::Decision::Unauthenticated:
        throw RequestError(401, "missing or invalid API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`");
      case AccessControl::Decision::Forbidden:
        throw RequestError(403, model.empty() ? "this API key is scoped to models; this endpoint needs an unscoped key"
                                              : "this API key is not allowed to use model '" + model + "'");
    }
  }
  static void reply_json(httplib::Response& res, int status, std::string body) {
    res.status = status;
    res.set_content(std::move(body), "application/json");
  }
  std::shared_ptr<LoadedVersion> find(const std::string& model, const std::string& version, const std::string& label) {
    auto lv = repo->get(model, version, label);
    // Labelled only once the model is known to exist: client-chosen names never become metric
    // labels (that would let anyone grow the metrics without bound).
    t_ctx.model = model;
    t_ctx.version = std::to_string(lv->version());
    return lv;
  }

  // The input as the model takes it; RequestError 400 naming the expected and received shapes.
  static void check_input(const WireTensor& t, const ModelSignature& sig) {
    bool ok = t.shape.size() == sig.input_shape.size() + 1;
    for (size_t i = 0; ok && i < sig.input_shape.size(); ++i) ok = t.shape[i + 1] == sig.input_shape[i];
    if (!ok) {
      std::string got = "[";
      for (size_t i = 0; i < t.shape.size(); ++i) {
        got += i ? "," : "";
        got += std::to_string(t.shape[i]);
      }
      throw RequestError(400, "input '" + sig.input_name + "': expected shape " + shape_json(sig.input_shape, true) +
                                  " (batch first), got " + got + "]");
    }
  }

  std::vector<float> run(LoadedVersion& lv, const WireTensor& t, std::vector<int64_t>& out_shape) {
    InferTiming timing;
    std::vector<int64_t> out_dims;
    const auto deadline = Clock::now() + std::chrono::milliseconds(opt.request_timeout_ms);
    auto out = lv.batcher().infer(t.data.data(), t.shape[0], deadline, &out_dims, &timing);
    metrics.observe_latency(lv.model(), Metrics::Phase::Queue, timing.queue_s);
    metrics.observe_latency(lv.model(), Metrics::Phase::Compute, timing.compute_s);
    out_shape = {t.shape[0]};
    out_shape.insert(out_shape.end(), out_dims.begin(), out_dims.end());
    return out;
  }

  // ---- KServe v2 ------------------------------------------------------------------------------
  std::string model_metadata(const std::string& model, const LoadedVersion& lv) {
    const ModelSignature& s = lv.signature();
    std::string versions;
    for (const auto& [m, v] : repo->loaded())
      if (m == model) {
        if (!versions.empty()) versions += ",";
        versions += '"';
        versions += std::to_string(v);
        versions += '"';
      }
    json classes = s.classes;
    return "{\"name\":" + json_quote(model) + ",\"versions\":[" + versions + "],\"platform\":\"kun\",\"inputs\":[{\"name\":" +
           json_quote(s.input_name) + ",\"datatype\":\"FP32\",\"shape\":" + shape_json(s.input_shape, true) +
           "}],\"outputs\":[{\"name\":" + json_quote(s.output_name) + ",\"datatype\":\"FP32\",\"shape\":" +
           shape_json(s.output_shape, true) + "}],\"parameters\":{\"version\":\"" + std::to_string(lv.version()) +
           "\",\"output_activation\":" + json_quote(s.output_activation) + ",\"classes\":" + classes.dump() +
           ",\"max_batch_size\":" + std::to_string(lv.batcher().options().max_batch_size) + "}}";
  }

  void kserve_infer(httplib::Response& res, const std::string& model,
                    const std::string& version) {
    auto lv = find(model, version, "");
    const ModelSignature& sig = lv->signature();
    InferRequest r = decode_kserve_infer(t_ctx.body);
    if (r.inputs.size() != 1)
      throw RequestError(400, "model '" + model + "' takes one input ('" + sig.input_name + "'), got " +
                                  std::to_string(r.inputs.size()));
    const WireTensor& t = r.inputs[0];
    if (t.name != sig.input_name)
      throw RequestError(400, "unknown input '" + t.name + "'; model '" + model + "' takes '" + sig.input_name + "'");
    for (const std::string& o : r.outputs)
      if (o != sig.output_name)
        throw RequestError(400, "unknown output '" + o + "'; model '" + model + "' gives '" + sig.output_name + "'");
    check_input(t, sig);
    std::vector<int64_t> out_shape;
    auto out = run(*lv, t, out_shape);
    reply_json(res, 200,
               encode_kserve_response(model, std::to_string(lv->version()), r.id, sig.output_name, out_shape, out.data()));
  }

  void route_v2(const httplib::Request& req, httplib::Response& res, const std::vector<std::string>& p, bool post) {
    // /v2, /v2/health/{live,ready}
    if (p.size() == 1 && !post) {
      authorize(req, "");
      return reply_json(res, 200,
                        "{\"name\":\"kun\",\"version\":\"" KUN_VERSION "\",\"extensions\":[\"model_repository\"]}");
    }
    if (p.size() == 3 && p[1] == "health" && !post) {
      if (p[2] == "live") return reply_json(res, 200, "{\"live\":true}");
      if (p[2] == "ready") {
        const bool ready = !stopping && repo->all_ready();
        return reply_json(res, ready ? 200 : 400,
                          ready ? "{\"ready\":true}" : "{\"ready\":false,\"error\":\"not every model has a version loaded\"}");
      }
    }
    // /v2/repository/index, /v2/repository/models/<m>/{load,unload}
    if (p.size() >= 3 && p[1] == "repository") {
      if (!post) throw RequestError(405, "repository endpoints take POST");
      if (p.size() == 3 && p[2] == "index") {
        authorize(req, "");
        json out = json::array();
        for (const auto& s : repo->status()) {
          json e = {{"name", s.model}, {"state", s.state}, {"reason", s.reason}};
          if (s.version > 0) e["version"] = std::to_string(s.version);
          out.push_back(e);
        }
        return reply_json(res, 200, out.dump());
      }
      if (p.size() == 5 && p[2] == "models" && (p[4] == "load" || p[4] == "unload")) {
        authorize(req, "");
        if (p[4] == "load") repo->load_model(p[3]);
        else repo->unload_model(p[3]);
        return reply_json(res, 200, "{}");
      }
    }
    // /v2/models/<m>[/versions/<v>][/ready|/infer]
    if (p.size() >= 3 && p[1] == "models") {
      const std::string& model = p[2];
      size_t i = 3;
      std::string version;
      if (p.size() >= 5 && p[3] == "versions") version = p[4], i = 5;
      const std::string action = i < p.size() ? p[i] : "";
      if (i + (action.empty() ? 0 : 1) == p.size()) {
        authorize(req, model);
        if (action.empty() && !post) {
          auto lv = find(model, version, "");
          return reply_json(res, 200, model_metadata(model, *lv));
        }
        if (action == "ready" && !post) {
          try {
            auto lv = find(model, version, "");
          } catch (const RequestError& e) {  // the protocol: 200 = ready, 4xx = not
            if (e.status() == 503) throw RequestError(400, e.what());
            throw;
          }
          return reply_json(res, 200, "{\"name\":" + json_quote(model) + ",\"ready\":true}");
        }
        if (action == "infer") {
          if (!post) throw RequestError(405, "infer takes POST with a JSON body");
          return kserve_infer(res, model, version);
        }
      }
    }
    throw RequestError(404, "no such endpoint: " + req.method + " " + req.path.substr(0, 200));
  }

  // ---- TF-Serving REST ------------------------------------------------------------------------
  void route_v1(const httplib::Request& req, httplib::Response& res, std::vector<std::string> p, bool post) {
    // /v1/models/<m>[/versions/<v>|/labels/<l>][:predict|:classify|/metadata]
    if (p.size() < 3 || p[1] != "models") throw RequestError(404, "no such endpoint: " + req.path.substr(0, 200));
    std::string verb;
    if (const size_t c = p.back().rfind(':'); c != std::string::npos) {
      verb = p.back().substr(c + 1);
      p.back().resize(c);
    }
    const std::string model = p[2];
    std::string version, label;
    size_t i = 3;
    if (p.size() >= 5 && p[3] == "versions") version = p[4], i = 5;
    else if (p.size() >= 5 && p[3] == "labels") label = p[4], i = 5;
    const bool metadata = i + 1 == p.size() && p[i] == "metadata";
    if (i != p.size() && !metadata) throw RequestError(404, "no such endpoint: " + req.path.substr(0, 200));
    authorize(req, model);
    if (verb.empty() && !post) {
      if (metadata) {
        auto lv = find(model, version, label);
        const ModelSignature& s = lv->signature();
        return reply_json(res, 200,
                          "{\"model_spec\":{\"name\":" + json_quote(model) + ",\"version\":\"" +
                              std::to_string(lv->version()) + "\"},\"metadata\":{\"signature_def\":{\"signature_def\":{"
                              "\"serving_default\":{\"inputs\":{" + json_quote(s.input_name) +
                              ":{\"dtype\":\"DT_FLOAT\",\"tensor_shape\":" + shape_json(s.input_shape, true) +
                              "}},\"outputs\":{" + json_quote(s.output_name) +
                              ":{\"dtype\":\"DT_FLOAT\",\"tensor_shape\":" + shape_json(s.output_shape, true) +
                              "}},\"method_name\":\"tensorflow/serving/predict\"}}}}}");
      }
      // Status: every version on disk, or the one asked for.
      if (!repo->has_model(model)) throw RequestError(404, "unknown model '" + model + "'");
      int64_t want = 0;
      if (!label.empty()) want = find(model, "", label)->version();
      else if (!version.empty()) want = find(model, version, "")->version();
      json list = json::array();
      for (const auto& s : repo->status()) {
        if (s.model != model || s.version <= 0 || (want && s.version != want)) continue;
        const bool ok = s.state == "READY";
        list.push_back({{"version", std::to_string(s.version)},
                        {"state", ok ? "AVAILABLE" : "END"},
                        {"status", {{"error_code", ok ? "OK" : "UNAVAILABLE"}, {"error_message", ok ? "" : s.reason}}}});
      }
      return reply_json(res, 200, json{{"model_version_status", list}}.dump());
    }
    if (verb == "predict" || verb == "classify") {
      if (!post) throw RequestError(405, ":" + verb + " takes POST with a JSON body");
      auto lv = find(model, version, label);
      const ModelSignature& sig = lv->signature();
      bool row = true;
      WireTensor t = decode_tfserving_predict(t_ctx.body, sig.input_name, row);
      check_input(t, sig);
      const int k = verb == "classify" ? decode_classify_k(t_ctx.body) : 0;
      std::vector<int64_t> out_shape;
      auto out = run(*lv, t, out_shape);
      if (verb == "predict") return reply_json(res, 200, encode_tfserving_response(row, out_shape, out.data()));
      // :classify -> {"results": [[["label", probability], ...top k], ...]} per example.
      const int64_t rows = out_shape[0], per = rows ? int64_t(out.size()) / rows : 0;
      std::string body = "{\"results\":[";
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> pr(out.begin() + r * per, out.begin() + (r + 1) * per);
        to_probabilities(pr, sig.output_activation);
        std::vector<int64_t> idx(pr.size());
        for (size_t j = 0; j < idx.size(); ++j) idx[j] = int64_t(j);
        const size_t kk = std::min(size_t(k), idx.size());
        std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int64_t a, int64_t b) { return pr[a] > pr[b]; });
        body += r ? ",[" : "[";
        for (size_t j = 0; j < kk; ++j) {
          const int64_t c = idx[j];
          const std::string name = size_t(c) < sig.classes.size() ? sig.classes[size_t(c)] : std::to_string(c);
          body += j ? ",[" : "[";
          body += json_quote(name) + ",";
          append_float(body, pr[size_t(c)]);
          body += "]";
        }
        body += "]";
      }
      return reply_json(res, 200, body + "]}");
    }
    throw RequestError(404, "unknown verb ':" + verb + "' (expected :predict or :classify)");
  }

  // ---- dispatch -------------------------------------------------------------------------------
  void handle(const httplib::Request& req, httplib::Response& res) {
    try {
      const bool post = req.method == "POST";
      if (req.method != "GET" && req.method != "HEAD" && !post)
        throw RequestError(405, "method " + req.method + " is not used by this server (GET and POST are)");
      const auto p = split_path(req.path);
      if (p.empty()) throw RequestError(404, "no such endpoint: /  (try GET /v2 or /v2/health/ready)");
      if (p[0] == "v2") return route_v2(req, res, p, post);
      if (p[0] == "v1") return route_v1(req, res, p, post);
      if (p[0] == "metrics" && p.size() == 1 && !post) {
        authorize(req, "");
        std::string body = metrics.render();
        body += "# HELP kun_model_loaded Loaded model versions.\n# TYPE kun_model_loaded gauge\n";
        for (const auto& [m, v] : repo->loaded())
          body += "kun_model_loaded{model=\"" + prom_label(m) + "\",version=\"" + std::to_string(v) + "\"} 1\n";
        res.status = 200;
        res.set_content(body, "text/plain; version=0.0.4");
        return;
      }
      throw RequestError(404, "no such endpoint: " + req.method + " " + req.path.substr(0, 200));
    } catch (...) {
      const ErrorAnswer a = status_for(std::current_exception());
      if (a.status >= 500) log_line("error", a.message);
      if (a.retry_after_s > 0) res.set_header("Retry-After", std::to_string(a.retry_after_s));
      if (a.status == 401) res.set_header("WWW-Authenticate", "Bearer");
      reply_json(res, a.status, encode_error(a.message));
    }
  }

  void begin_request(const httplib::Request& req, httplib::Response& res) {
    t_ctx.fresh = true;
    t_ctx.start = Clock::now();
    t_ctx.model.clear();
    t_ctx.version.clear();
    const std::string given = req.get_header_value("X-Request-Id");
    t_ctx.id = valid_request_id(given) ? given : id_prefix + std::to_string(next_id.fetch_add(1) + 1);
    res.set_header("X-Request-Id", t_ctx.id);
  }

  void log_line(const char* kind, const std::string& message) {
    if (!log) return;
    const std::string line = "{\"time\":\"" + iso_now() + "\",\"level\":\"" + kind + "\",\"id\":" + json_quote(t_ctx.id) +
                             ",\"message\":" + json_quote(message) + "}\n";
    std::lock_guard<std::mutex> lk(log_mu);
    std::fwrite(line.data(), 1, line.size(), log);
    std::fflush(log);
  }

  // Called by the HTTP library after every response (also those it makes itself: 400, 413, ...).
  void end_request(const httplib::Request& req, const httplib::Response& res) {
    if (!t_ctx.fresh) {  // rejected before routing (malformed request line / headers)
      t_ctx.start = Clock::now();
      t_ctx.model.clear(), t_ctx.version.clear();
      t_ctx.id = id_prefix + std::to_string(next_id.fetch_add(1) + 1);
    }
    t_ctx.fresh = false;
    struct ShrinkBody {  // a huge body's buffer is not kept by this thread after the request
      ~ShrinkBody() {
        if (t_ctx.body.capacity() > (size_t(1) << 20)) std::string().swap(t_ctx.body);
        t_ctx.body.clear();
      }
    } shrink;
    const double secs = std::chrono::duration<double>(Clock::now() - t_ctx.start).count();
    metrics.count_request(t_ctx.model, t_ctx.version, res.status);
    if (!t_ctx.model.empty() && res.status == 200) metrics.observe_latency(t_ctx.model, Metrics::Phase::Total, secs);
    if (!log) return;
    // Method, path, status and sizes only: never headers (keys) or bodies.
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.3f", secs * 1e3);
    std::string method = req.method.substr(0, 16);
    const std::string line = "{\"time\":\"" + iso_now() + "\",\"id\":" + json_quote(t_ctx.id) +
                             ",\"remote\":" + json_quote(req.remote_addr) + ",\"method\":" + json_quote(method) +
                             ",\"path\":" + json_quote(req.path.substr(0, 256)) + ",\"status\":" + std::to_string(res.status) +
                             ",\"model\":" + json_quote(t_ctx.model) + ",\"version\":" + json_quote(t_ctx.version) +
                             ",\"ms\":" + ms + ",\"bytes_in\":" + std::to_string(t_ctx.body.size()) +
                             ",\"bytes_out\":" + std::to_string(res.body.size()) + "}\n";
    std::lock_guard<std::mutex> lk(log_mu);
    std::fwrite(line.data(), 1, line.size(), log);
  }
};

Server::Server(ServerOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {
  const ServerOptions& o = impl_->opt;
  KUN_CHECK(!o.model_repository.empty(), ValueError, "serve: --model-repository DIR is required");
  KUN_CHECK(o.port >= 0 && o.port <= 65535, ValueError, "serve: port must be in [0, 65535], got ", o.port);
  KUN_CHECK(o.http_threads >= 1, ValueError, "serve: http threads must be >= 1, got ", o.http_threads);
  KUN_CHECK(o.tls_cert.empty() == o.tls_key.empty(), ValueError,
            "serve: TLS needs both --tls-cert and --tls-key (got only one)");
  KUN_CHECK(o.request_timeout_ms > 0, ValueError, "serve: request timeout must be > 0 ms");
}

Server::~Server() { stop(); }

void Server::start() {
  Impl& m = *impl_;
  KUN_CHECK(!m.running, ValueError, "serve: the server is already running");
  const ServerOptions& o = m.opt;
  if (!o.api_keys_file.empty()) m.access = AccessControl::from_file(o.api_keys_file);
  if (o.access_log == "-") {
    m.log = stderr;
  } else if (!o.access_log.empty()) {
    m.log = std::fopen(o.access_log.c_str(), "a");
    KUN_CHECK(m.log, IOError, "serve: cannot open the access log '", o.access_log, "' for appending");
    m.own_log = true;
  }
  {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%06x-", rd() & 0xffffff);
    m.id_prefix = buf;
  }
  m.repo = std::make_unique<ModelRepository>(RepositoryOptions{o.model_repository, o.model_defaults}, &m.metrics);
  for (const auto& p : m.repo->poll()) std::fprintf(stderr, "kun serve: %s\n", p.c_str());

  if (!o.tls_cert.empty()) {
    auto s = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    KUN_CHECK(s->is_valid(), IOError, "serve: cannot load the TLS certificate '", o.tls_cert, "' or key '", o.tls_key,
              "' (PEM files expected)");
    m.http = std::move(s);
  } else {
    m.http = std::make_unique<httplib::Server>();
  }
  httplib::Server& h = *m.http;
  const int threads = o.http_threads;
  h.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  h.set_payload_max_length(o.max_body_bytes);
  h.set_read_timeout(o.read_timeout_s, 0);
  h.set_write_timeout(o.write_timeout_s, 0);
  h.set_keep_alive_timeout(o.keep_alive_timeout_s);
  h.set_keep_alive_max_count(size_t(o.keep_alive_max_requests));
  h.set_tcp_nodelay(true);
  h.set_pre_routing_handler([&m](const httplib::Request& req, httplib::Response& res) {
    m.begin_request(req, res);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  h.Get(".*", [&m](const httplib::Request& req, httplib::Response& res) {
    t_ctx.body.clear();
    m.handle(req, res);
  });
  // POST bodies are read here, not by the library, so the size limit holds for chunked bodies too.
  h.Post(".*", [&m](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    std::string& body = t_ctx.body;
    body.clear();
    bool too_big = false;
    const bool ok = reader([&](const char* data, size_t len) {
      if (body.size() + len > m.opt.max_body_bytes) {
        too_big = true;
        return false;
      }
      body.append(data, len);
      return true;
    });
    if (!ok || too_big) {
      const bool big = too_big || res.status == 413;
      res.set_header("Connection", "close");
      Impl::reply_json(res, big ? 413 : 400,
                       encode_error(big ? "request body larger than " + std::to_string(m.opt.max_body_bytes) +
                                              " bytes (--max-body-bytes)"
                                        : "could not read the request body (truncated, malformed chunked encoding, "
                                          "or the client went silent)"));
      return;
    }
    m.handle(req, res);
  });
  // Other methods: 405 without reading the body.
  auto refuse = [&m](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader&) {
    t_ctx.body.clear();
    res.set_header("Connection", "close");
    m.handle(req, res);
  };
  h.Put(".*", refuse);
  h.Delete(".*", refuse);
  h.Patch(".*", refuse);
  h.Options(".*", [&m](const httplib::Request& req, httplib::Response& res) { m.handle(req, res); });
  // Errors the HTTP library answers itself (malformed request, body too large, ...) get the same
  // JSON shape as ours.
  h.set_error_handler(httplib::Server::HandlerWithResponse(
      [&m](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) {
          if (res.status == 413)
            res.set_content(encode_error("request body larger than " + std::to_string(m.opt.max_body_bytes) +
                                         " bytes (--max-body-bytes)"),
                            "application/json");
          else
            res.set_content(encode_error(reason_for(res.status)), "application/json");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  h.set_exception_handler([&m](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    const ErrorAnswer a = status_for(ep);
    res.status = a.status;
    res.set_content(encode_error(a.message), "application/json");
  });
  h.set_logger([&m](const httplib::Request& req, const httplib::Response& res) { m.end_request(req, res); });

  if (o.port == 0) {
    m.bound_port = h.bind_to_any_port(o.host);
    KUN_CHECK(m.bound_port > 0, IOError, "serve: cannot bind ", o.host, " to a free port");
  } else {
    KUN_CHECK(h.bind_to_port(o.host, o.port), IOError, "serve: cannot bind ", o.host, ":", o.port,
              " (in use, or a privileged port?); pick another with --port");
    m.bound_port = o.port;
  }
  m.running = true;
  m.stopping = false;
  m.listen_thread = std::thread([&m] { m.http->listen_after_bind(); });
  // The library's stop() only acts once its accept loop runs: wait for it, so a stop() that comes
  // right after start() (a signal during start-up) cannot leave the loop blocked in accept().
  for (int i = 0; i < 10000 && !m.http->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (o.poll_interval_s > 0) {
    m.poll_thread = std::thread([&m] {
      std::unique_lock<std::mutex> lk(m.poll_mu);
      while (!m.stopping) {
        if (m.poll_cv.wait_for(lk, std::chrono::seconds(m.opt.poll_interval_s), [&m] { return m.stopping.load(); }))
          break;
        lk.unlock();
        m.repo->poll();  // problems are logged as they are met
        lk.lock();
      }
    });
  }
}

int Server::port() const { return impl_->bound_port; }

bool Server::running() const { return impl_->running; }

void Server::stop() {
  Impl& m = *impl_;
  if (!m.running) return;
  {
    std::lock_guard<std::mutex> lk(m.poll_mu);
    m.stopping = true;
  }
  m.poll_cv.notify_all();
  if (m.poll_thread.joinable()) m.poll_thread.join();
  // The HTTP library stops accepting, then waits for the requests on its threads to be answered.
  m.http->stop();
  if (m.listen_thread.joinable()) m.listen_thread.join();
  m.repo->shutdown();
  if (m.own_log && m.log) std::fclose(m.log);
  else if (m.log) std::fflush(m.log);
  m.log = nullptr;
  m.running = false;
}

ModelRepository& Server::repository() { return *impl_->repo; }
Metrics& Server::metrics() { return impl_->metrics; }

}  // namespace kun::serve
