// serve::Metrics: the server's counters and histograms, rendered as Prometheus text (GET /metrics).
//
//   kun_requests_total{model, version, status}           requests answered (per model and HTTP status)
//   kun_request_{queue,compute,total}_seconds{model}      latency histograms
//   kun_batch_size{model}                                 rows per forward pass (dynamic batcher)
//   kun_model_loaded{model, version}                      1 per loaded version (added by the server)
//
// Thread-safe; one short critical section per update.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace kun::serve {

class Metrics {
 public:
  enum class Phase { Queue = 0, Compute = 1, Total = 2 };

  // model "" = not a model endpoint (health, metadata, errors before routing).
  void count_request(const std::string& model, const std::string& version, int status);
  void observe_latency(const std::string& model, Phase phase, double seconds);
  void observe_batch(const std::string& model, int64_t rows);

  // The Prometheus text exposition (format 0.0.4) of everything above.
  std::string render() const;

  // Requests counted for (model, version, status) so far (tests).
  uint64_t request_count(const std::string& model, const std::string& version, int status) const;

  static constexpr std::array<double, 16> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                             1,      2.5,     5,      10};
  static constexpr std::array<double, 10> kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

 private:
  template <size_t N>
  struct Histogram {
    std::array<uint64_t, N> counts{};  // per bucket (not cumulative), +Inf is count - sum(counts)
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, int>, Histogram<kLatencyBuckets.size()>> latency_;
  std::map<std::string, Histogram<kBatchBuckets.size()>> batch_;
};

// Escapes a Prometheus label value (backslash, quote, newline).
std::string prom_label(const std::string& v);

}  // namespace kun::serve
