// Prometheus text rendering of the server's metrics (see include/kun/serve/metrics.h).
#include "kun/serve/metrics.h"

#include <cstdio>

namespace kun::serve {

namespace {
const char* kPhaseNames[] = {"queue", "compute", "total"};

std::string fmt_double(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

template <size_t N, typename H>
void render_histogram(std::string& out, const std::string& name, const std::string& labels,
                      const std::array<double, N>& bounds, const H& h) {
  uint64_t cum = 0;
  for (size_t i = 0; i < N; ++i) {
    cum += h.counts[i];
    out += name + "_bucket{" + labels + ",le=\"" + fmt_double(bounds[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
  out += name + "_sum{" + labels + "} " + fmt_double(h.sum) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
}

template <size_t N, typename H>
void add(H& h, const std::array<double, N>& bounds, double v) {
  for (size_t i = 0; i < N; ++i)
    if (v <= bounds[i]) {
      ++h.counts[i];
      break;
    }
  ++h.count;
  h.sum += v;
}
}  // namespace

std::string prom_label(const std::string& v) {
  std::string r;
  r.reserve(v.size());
  for (char c : v) {
    if (c == '\\') r += "\\\\";
    else if (c == '"') r += "\\\"";
    else if (c == '\n') r += "\\n";
    else r += c;
  }
  return r;
}

void Metrics::count_request(const std::string& model, const std::string& version, int status) {
  std::lock_guard<std::mutex> lk(mu_);
  ++requests_[{model, version, status}];
}

void Metrics::observe_latency(const std::string& model, Phase phase, double seconds) {
  std::lock_guard<std::mutex> lk(mu_);
  add(latency_[{model, int(phase)}], kLatencyBuckets, seconds);
}

void Metrics::observe_batch(const std::string& model, int64_t rows) {
  std::lock_guard<std::mutex> lk(mu_);
  add(batch_[model], kBatchBuckets, double(rows));
}

uint64_t Metrics::request_count(const std::string& model, const std::string& version, int status) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = requests_.find({model, version, status});
  return it == requests_.end() ? 0 : it->second;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::string out;
  out += "# HELP kun_requests_total Requests answered, by model, version and HTTP status.\n";
  out += "# TYPE kun_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [model, version, status] = key;
    out += "kun_requests_total{model=\"" + prom_label(model) + "\",version=\"" + prom_label(version) + "\",status=\"" +
           std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  for (int p = 0; p < 3; ++p) {
    const std::string name = std::string("kun_request_") + kPhaseNames[p] + "_seconds";
    out += "# HELP " + name + " Inference request " + kPhaseNames[p] + " time in seconds.\n";
    out += "# TYPE " + name + " histogram\n";
    for (const auto& [key, h] : latency_)
      if (key.second == p) render_histogram(out, name, "model=\"" + prom_label(key.first) + "\"", kLatencyBuckets, h);
  }
  out += "# HELP kun_batch_size Rows per forward pass run by the dynamic batcher.\n";
  out += "# TYPE kun_batch_size histogram\n";
  for (const auto& [model, h] : batch_)
    render_histogram(out, "kun_batch_size", "model=\"" + prom_label(model) + "\"", kBatchBuckets, h);
  return out;
}

}  // namespace kun::serve
