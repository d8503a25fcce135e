// The dynamic batcher (see include/kun/serve/batcher.h).
#include "kun/serve/batcher.h"

#include <algorithm>
#include <cstring>

#include "kun/core/threading.h"
#include "kun/serve/codec.h"

namespace kun::serve {

using Clock = std::chrono::steady_clock;

// One request, living on the stack of the HTTP thread that waits for it. The batcher's mutex
// guards every field; the worker touches `x` only while state == Taken, and the waiter never
// leaves while the request is Taken, so the pointer stays valid.
struct Batcher::Pending {
  enum class State { Queued, Taken, Done };
  const float* x = nullptr;
  int64_t rows = 0;
  State state = State::Queued;
  Clock::time_point enqueued, taken, done;
  int64_t batch_rows = 0;
  std::vector<float> out;
  std::vector<int64_t> out_dims;
  std::string error;  // non-empty: the forward pass failed
  std::condition_variable cv;
};

Batcher::Batcher(const BatcherOptions& opt, int instances, std::vector<int64_t> example_shape, Forward forward,
                 Metrics* metrics, std::string model_name)
    : opt_(opt), example_shape_(std::move(example_shape)), forward_(std::move(forward)), metrics_(metrics),
      model_name_(std::move(model_name)) {
  KUN_CHECK(instances >= 1, ValueError, "serve: instances must be >= 1, got ", instances);
  KUN_CHECK(opt_.max_queue_size >= 1, ValueError, "serve: max_queue_size must be >= 1, got ", opt_.max_queue_size);
  KUN_CHECK(opt_.max_batch_size >= 0 && opt_.max_queue_delay_us >= 0, ValueError,
            "serve: max_batch_size and max_queue_delay_us must be >= 0");
  for (int64_t d : example_shape_) example_numel_ *= d;
  if (opt_.threads_per_instance <= 0) opt_.threads_per_instance = std::max(1, kun::num_threads() / instances);
  workers_.reserve(size_t(instances));
  for (int i = 0; i < instances; ++i) workers_.emplace_back([this, i] { worker(i); });
}

Batcher::~Batcher() { shutdown(); }

void Batcher::shutdown() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ && workers_.empty()) return;
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  std::lock_guard<std::mutex> lk(mu_);
  workers_.clear();
}

int64_t Batcher::queued() const {
  std::lock_guard<std::mutex> lk(mu_);
  return int64_t(queue_.size());
}

std::vector<float> Batcher::infer(const float* x, int64_t rows, Clock::time_point deadline,
                                  std::vector<int64_t>* out_dims, InferTiming* timing) {
  if (rows < 1) throw RequestError(400, "the batch holds no examples (first dim is 0)");
  if (opt_.max_batch_size > 1 && rows > opt_.max_batch_size)
    throw RequestError(400, "the request holds " + std::to_string(rows) + " examples; this model takes at most " +
                                std::to_string(opt_.max_batch_size) + " per request (max_batch_size)");
  Pending p;
  p.x = x;
  p.rows = rows;
  std::unique_lock<std::mutex> lk(mu_);
  if (stop_) throw RequestError(503, "the model is shutting down or being unloaded; retry", 1);
  if (int64_t(queue_.size()) >= opt_.max_queue_size)
    throw RequestError(429, "the model's queue is full (" + std::to_string(opt_.max_queue_size) +
                                " requests); retry later", 1);
  p.enqueued = Clock::now();
  queue_.push_back(&p);
  queued_rows_ += rows;
  lk.unlock();
  work_cv_.notify_one();
  lk.lock();
  if (!p.cv.wait_until(lk, deadline, [&] { return p.state == Pending::State::Done; })) {
    if (p.state == Pending::State::Queued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), &p));
      queued_rows_ -= rows;
      throw RequestError(503, "the request timed out in the queue (server overloaded); retry later", 1);
    }
    p.cv.wait(lk, [&] { return p.state == Pending::State::Done; });  // being computed: the answer is near
  }
  lk.unlock();
  if (!p.error.empty()) throw Error(p.error);
  if (timing) {
    timing->queue_s = std::chrono::duration<double>(p.taken - p.enqueued).count();
    timing->compute_s = std::chrono::duration<double>(p.done - p.taken).count();
    timing->batch_rows = p.batch_rows;
  }
  if (out_dims) *out_dims = std::move(p.out_dims);
  return std::move(p.out);
}

void Batcher::worker(int instance) {
  kun::set_num_threads(opt_.threads_per_instance);
  const bool merging = opt_.max_batch_size > 1;
  const auto delay = std::chrono::microseconds(opt_.max_queue_delay_us);
  std::vector<Pending*> batch;
  Tensor buffer;  // (capacity, example...) reused across batches: no allocation per request
  int64_t capacity = 0;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and drained
    if (merging && queued_rows_ < opt_.max_batch_size && !stop_ && delay.count() > 0) {
      const auto until = queue_.front()->enqueued + delay;
      work_cv_.wait_until(lk, until, [&] { return stop_ || queue_.empty() || queued_rows_ >= opt_.max_batch_size; });
      if (queue_.empty()) continue;
    }
    // Take whole requests while they fit; the first one always goes (it passed the size check).
    batch.clear();
    int64_t rows = 0;
    const auto now = Clock::now();
    while (!queue_.empty()) {
      Pending* p = queue_.front();
      if (!batch.empty() && (!merging || rows + p->rows > opt_.max_batch_size)) break;
      queue_.pop_front();
      queued_rows_ -= p->rows;
      p->state = Pending::State::Taken;
      p->taken = now;
      rows += p->rows;
      batch.push_back(p);
    }
    if (!queue_.empty()) work_cv_.notify_one();  // more work for another instance
    lk.unlock();

    std::string error;
    Tensor out;
    try {
      if (batch.size() == 1) {
        // One request: wrap a tensor around a copy of its rows (the caller's buffer is not ours to keep).
        std::vector<int64_t> s = {rows};
        s.insert(s.end(), example_shape_.begin(), example_shape_.end());
        if (rows > capacity) {
          capacity = std::max(rows, merging ? opt_.max_batch_size : rows);
          std::vector<int64_t> cs = {capacity};
          cs.insert(cs.end(), example_shape_.begin(), example_shape_.end());
          buffer = Tensor::empty(Shape(cs), DType::f32);
        }
        std::memcpy(buffer.data<float>(), batch[0]->x, size_t(rows * example_numel_) * sizeof(float));
        out = forward_(instance, buffer.narrow(0, 0, rows));
      } else {
        if (rows > capacity) {
          capacity = std::max(rows, opt_.max_batch_size);
          std::vector<int64_t> cs = {capacity};
          cs.insert(cs.end(), example_shape_.begin(), example_shape_.end());
          buffer = Tensor::empty(Shape(cs), DType::f32);
        }
        float* dst = buffer.data<float>();
        for (Pending* p : batch) {
          std::memcpy(dst, p->x, size_t(p->rows * example_numel_) * sizeof(float));
          dst += p->rows * example_numel_;
        }
        out = forward_(instance, buffer.narrow(0, 0, rows));
      }
      KUN_CHECK(out.defined() && out.dim() >= 1 && out.size(0) == rows, ShapeError, "serve: the model returned ",
                out.defined() ? out.shape() : Shape{}, " for a batch of ", rows, " examples");
      if (out.dtype() != DType::f32 || !out.is_contiguous()) out = out.to(DType::f32).contiguous();
    } catch (const std::exception& e) {
      error = std::string("inference failed: ") + e.what();
    }
    if (metrics_) metrics_->observe_batch(model_name_, rows);

    std::vector<int64_t> dims;
    int64_t per_row = 0;
    if (error.empty()) {
      const auto v = out.shape().vec();
      dims.assign(v.begin() + 1, v.end());
      per_row = rows ? out.numel() / rows : 0;
    }
    const auto done = Clock::now();
    lk.lock();
    const float* src = error.empty() ? out.data<float>() : nullptr;
    for (Pending* p : batch) {
      if (error.empty()) {
        p->out.assign(src, src + p->rows * per_row);
        p->out_dims = dims;
        src += p->rows * per_row;
      } else {
        p->error = error;
      }
      p->done = done;
      p->batch_rows = rows;
      p->state = Pending::State::Done;
      p->cv.notify_one();
    }
  }
}

}  // namespace kun::serve
