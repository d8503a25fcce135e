// serve::Server: the HTTP/1.1 model server behind `kun serve` (keep-alive, optional TLS).
//
//   serve::ServerOptions o;
//   o.model_repository = "models";          // models/<name>/<version>/model.kun (+ config.json)
//   o.port = 8000;
//   serve::Server s(o);
//   s.start();                                // loads the repository, binds, serves on threads
//   ...                                       // GET /v2/health/ready, POST /v2/models/<m>/infer, ...
//   s.stop();                                 // stops accepting, finishes in-flight requests
//
// Protocols: KServe v2 (Open Inference Protocol) under /v2, TensorFlow Serving REST under /v1,
// Prometheus text at /metrics; every error is {"error": "..."} with a 4xx status for the client's
// faults and 5xx for the server's (docs/serve.md lists the routes and statuses).
// The HTTP library stays behind the pimpl.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kun/serve/repository.h"

namespace kun::serve {

struct ServerOptions {
  std::string model_repository;            // required
  std::string host = "127.0.0.1";
  int port = 8000;                         // 0: any free port (see Server::port())
  int http_threads = 64;                   // connections served at once (keep-alive holds one)
  int poll_interval_s = 0;                 // rescan the repository every N s (0: only on request)
  size_t max_body_bytes = 16u << 20;       // larger bodies get 413
  int read_timeout_s = 5;                  // a client silent this long mid-request is dropped
  int write_timeout_s = 5;
  int keep_alive_timeout_s = 5;            // idle keep-alive connections close after this
  int keep_alive_max_requests = 100000;    // requests per connection before it is closed
  int request_timeout_ms = 10000;          // time a request may wait in a model's queue (503 after)
  std::string tls_cert, tls_key;           // both set: HTTPS
  std::string api_keys_file;               // see auth.h; empty: no access control
  std::string access_log = "-";            // "-": stderr, "": off, else a file appended to
  ModelConfig model_defaults;              // per-model config.json overrides these
};

class Server {
 public:
  explicit Server(ServerOptions opt);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the repository (problems are logged; a model that fails to load is unavailable, not
  // fatal), binds the port and starts serving on background threads. IOError when the port
  // cannot be bound or the TLS files do not load.
  void start();
  int port() const;
  // Stops accepting, lets in-flight requests finish, drains the batchers. Idempotent.
  void stop();
  bool running() const;

  ModelRepository& repository();
  Metrics& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kun::serve
