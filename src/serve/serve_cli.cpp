// `kun serve` (see include/kun/serve/cli.h and docs/serve.md).
#include "kun/serve/cli.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <pthread.h>

#include "kun/core/threading.h"
#include "kun/serve/server.h"

namespace kun::serve {

int cli_main(int argc, char** argv) {
  ServerOptions o;
  ModelConfig& d = o.model_defaults;
  int threads = 0;
  CLI::App app{"Serve saved kun models over HTTP: KServe v2 (/v2/...), TensorFlow Serving REST (/v1/...) and "
               "Prometheus metrics (/metrics), with dynamic batching, versions, API keys and TLS. "
               "Stops on SIGINT/SIGTERM after answering the requests in flight. Guide: docs/serve.md.",
               "kun serve"};
  app.add_option("--model-repository", o.model_repository,
                 "folder of models: DIR/<model>/<version>/model.kun (+ model.kun.meta.json from kun train), optional "
                 "DIR/<model>/config.json")
      ->required();
  app.add_option("--host", o.host, "address to listen on (0.0.0.0: every interface)")->capture_default_str();
  app.add_option("--port", o.port, "TCP port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--poll-interval", o.poll_interval_s,
                 "rescan the repository every N seconds for new / changed / removed versions (0: only on POST "
                 "/v2/repository/models/<m>/load)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-batch-size", d.max_batch_size,
                 "default dynamic batching: rows per forward pass (0: off); config.json overrides per model")
      ->check(CLI::Range(0, 65536))
      ->capture_default_str();
  app.add_option("--max-queue-delay-us", d.max_queue_delay_us,
                 "default time the first queued request waits for others to fill a batch")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  app.add_option("--instances", d.instances, "default model copies per version, each on its own thread")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--max-queue-size", d.max_queue_size,
                 "default queued requests per version before new ones get 429 + Retry-After")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--threads", threads, "compute threads per instance (0: cores / instances)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--request-timeout-ms", o.request_timeout_ms,
                 "time a request may wait in a model's queue before it gets 503 + Retry-After")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--http-threads", o.http_threads,
                 "connections served at once (an open keep-alive connection holds one)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--max-body-bytes", o.max_body_bytes, "larger request bodies get 413")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--read-timeout", o.read_timeout_s, "seconds a client may stay silent mid-request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--write-timeout", o.write_timeout_s, "seconds a client may take to accept the response")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--keep-alive-timeout", o.keep_alive_timeout_s,
                 "seconds an idle keep-alive connection stays open (also the longest shutdown wait)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--keep-alive-max", o.keep_alive_max_requests, "requests per connection before it is closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate (chain): serve HTTPS (needs --tls-key)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", o.tls_key, "PEM private key for --tls-cert")->check(CLI::ExistingFile);
  app.add_option("--api-keys-file", o.api_keys_file,
                 "access control: one key per line, `KEY` (every model and the admin endpoints) or `KEY model...` "
                 "(those models only); clients send Authorization: Bearer KEY or X-API-Key: KEY")
      ->check(CLI::ExistingFile);
  app.add_option("--access-log", o.access_log,
                 "JSON-lines access log: - for stderr, a file to append to, or empty (--access-log '') for none")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "kun serve: error: %s (see kun serve --help)\n", e.what());
    return 2;
  }
  d.threads_per_instance = threads;

  std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-response (TLS writes) must not end the process
  // SIGINT/SIGTERM go to this thread only (sigwait below): block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  Server server(o);
  server.start();
  const auto loaded = server.repository().loaded();
  std::fprintf(stderr, "kun serve: %s://%s:%d  (%zu model version%s loaded from %s)\n",
               o.tls_cert.empty() ? "http" : "https", o.host.c_str(), server.port(), loaded.size(),
               loaded.size() == 1 ? "" : "s", o.model_repository.c_str());
  std::fflush(stderr);
  int sig = 0;
  sigwait(&sigs, &sig);
  std::fprintf(stderr, "kun serve: %s received, finishing the requests in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  std::fprintf(stderr, "kun serve: stopped\n");
  return 0;
}

}  // namespace kun::serve
