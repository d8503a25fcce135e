// serve::Batcher: the dynamic batcher of one loaded model version. Requests queue up; each of the
// `instances` worker threads (one model copy each) takes the queued requests, waits at most
// max_queue_delay_us for more while the batch is below max_batch_size, runs one forward pass on
// the merged batch and hands every request its rows back.
//
//   Batcher b(opts, {model_copy_1, model_copy_2}, {1, 28, 28}, metrics, "mnist");
//   std::vector<float> out = b.infer(x.data(), /*rows=*/1, deadline, &timing);   // (1, 10)
//
// Back-pressure: a full queue refuses at once (RequestError 429, Retry-After); a request still
// queued at its deadline is dropped (503, Retry-After); after shutdown() every call gets 503.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kun/serve/metrics.h"
#include "kun/tensor/tensor.h"

namespace kun::serve {

struct BatcherOptions {
  int64_t max_batch_size = 0;      // rows per forward pass; 0 or 1: no merging (each request alone)
  int64_t max_queue_delay_us = 0;  // how long the first queued request may wait for company
  int64_t max_queue_size = 1024;   // queued requests beyond which new ones get 429
  int threads_per_instance = 0;    // compute threads of each instance (0: cores / instances)
};

// Times of one request (seconds), for the latency histograms.
struct InferTiming {
  double queue_s = 0, compute_s = 0;
  int64_t batch_rows = 0;
};

class Batcher {
 public:
  // (batch (B, example...)) -> outputs (B, out...). Called on worker `instance` only, so each
  // instance owns its model copy and needs no lock.
  using Forward = std::function<Tensor(int instance, const Tensor& batch)>;

  Batcher(const BatcherOptions& opt, int instances, std::vector<int64_t> example_shape, Forward forward,
          Metrics* metrics = nullptr, std::string model_name = "");
  ~Batcher();  // shutdown()
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // `x` holds rows * numel(example_shape) floats. Blocks until the outputs are ready, returns them
  // (rows * out_numel floats, out_dims in *out_dims). Throws RequestError (400/429/503) or Error.
  std::vector<float> infer(const float* x, int64_t rows, std::chrono::steady_clock::time_point deadline,
                           std::vector<int64_t>* out_dims = nullptr, InferTiming* timing = nullptr);

  // Stops taking requests (503), finishes everything queued, joins the workers. Idempotent.
  void shutdown();

  const BatcherOptions& options() const { return opt_; }
  int64_t queued() const;

 private:
  struct Pending;
  void worker(int instance);

  BatcherOptions opt_;
  std::vector<int64_t> example_shape_;
  int64_t example_numel_ = 1;
  Forward forward_;
  Metrics* metrics_;
  std::string model_name_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Pending*> queue_;
  int64_t queued_rows_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace kun::serve
