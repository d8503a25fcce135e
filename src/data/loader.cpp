#include "kun/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "kun/data/split.h"

namespace kun::data {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

// The prefetch thread: assembles batches in order into a queue of at most `capacity`, stops early
// when asked, and hands an exception to the consumer as the queue's last item.
struct DataLoader::Worker {
  std::thread thread;
  std::mutex mu;
  std::condition_variable not_full, not_empty;
  std::deque<Example> queue;
  std::exception_ptr error;
  size_t capacity = 1;
  bool done = false;  // the producer has finished (or failed)
  bool stop = false;  // the consumer wants it to finish now
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions opts)
    : dataset_(std::move(dataset)), opts_(std::move(opts)) {
  KUN_CHECK(dataset_ != nullptr, ValueError, "DataLoader: dataset is null");
  KUN_CHECK(opts_.batch_size > 0, ValueError, "DataLoader: batch_size must be > 0, got ", opts_.batch_size);
  KUN_CHECK(opts_.prefetch >= 0, ValueError, "DataLoader: prefetch must be >= 0, got ", opts_.prefetch);
}

DataLoader::DataLoader(const TensorDataset& dataset, LoaderOptions opts)
    : DataLoader(std::make_shared<TensorDataset>(dataset), std::move(opts)) {}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size(), bs = opts_.batch_size;
  return opts_.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  const int64_t n = dataset_->size();
  if (opts_.shuffle) return permutation(n, opts_.seed, static_cast<uint64_t>(epoch));
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  return order;
}

Example DataLoader::make_batch(int64_t epoch, int64_t b, const std::vector<int64_t>& order) const {
  const int64_t begin = b * opts_.batch_size;
  const int64_t end = std::min<int64_t>(begin + opts_.batch_size, static_cast<int64_t>(order.size()));
  std::vector<int64_t> idx(order.begin() + begin, order.begin() + end);
  Example batch = dataset_->get_batch(idx);
  if (opts_.transform) {
    Generator gen(
        splitmix64(splitmix64(opts_.seed ^ splitmix64(static_cast<uint64_t>(epoch))) + static_cast<uint64_t>(b)));
    batch = opts_.transform(std::move(batch), gen);
  }
  return batch;
}

void DataLoader::stop_worker() {
  if (!worker_) return;
  {
    std::lock_guard<std::mutex> lock(worker_->mu);
    worker_->stop = true;
  }
  worker_->not_full.notify_all();
  if (worker_->thread.joinable()) worker_->thread.join();
  worker_.reset();
}

void DataLoader::start_epoch(int64_t epoch) {
  stop_worker();
  epoch_ = epoch;
  next_batch_ = 0;
  order_ = epoch_order(epoch);
  if (opts_.prefetch == 0) return;

  worker_ = std::make_unique<Worker>();
  worker_->capacity = static_cast<size_t>(opts_.prefetch);
  Worker* w = worker_.get();
  const int64_t nb = num_batches();
  w->thread = std::thread([this, w, epoch, nb, order = order_] {
    try {
      for (int64_t b = 0; b < nb; ++b) {
        {
          std::lock_guard<std::mutex> lock(w->mu);
          if (w->stop) break;
        }
        Example batch = make_batch(epoch, b, order);  // the slow part, outside the lock
        std::unique_lock<std::mutex> lock(w->mu);
        w->not_full.wait(lock, [w] { return w->stop || w->queue.size() < w->capacity; });
        if (w->stop) break;
        w->queue.push_back(std::move(batch));
        lock.unlock();
        w->not_empty.notify_one();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(w->mu);
      w->error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(w->mu);
      w->done = true;
    }
    w->not_empty.notify_all();
  });
}

bool DataLoader::next(Example& batch) {
  KUN_CHECK(epoch_ >= 0, ValueError, "DataLoader::next: call start_epoch(e) (or iterate loader.epoch(e)) first");
  if (!worker_) {
    if (next_batch_ >= num_batches()) return false;
    batch = make_batch(epoch_, next_batch_++, order_);
    return true;
  }
  Worker* w = worker_.get();
  std::unique_lock<std::mutex> lock(w->mu);
  w->not_empty.wait(lock, [w] { return !w->queue.empty() || w->done; });
  if (!w->queue.empty()) {
    batch = std::move(w->queue.front());
    w->queue.pop_front();
    lock.unlock();
    w->not_full.notify_one();
    return true;
  }
  if (w->error) {
    std::exception_ptr e = w->error;
    w->error = nullptr;  // reported once; the epoch then ends
    std::rethrow_exception(e);
  }
  return false;
}

DataLoader::Iterator::Iterator(DataLoader* loader) : loader_(loader) { ++*this; }

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (loader_ && !loader_->next(batch_)) loader_ = nullptr;
  return *this;
}

}  // namespace kun::data
