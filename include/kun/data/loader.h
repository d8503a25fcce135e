// DataLoader: batches from a Dataset, shuffled with a seed per epoch, assembled on a background
// worker thread into a bounded queue so the next batches are ready while the model trains.
//
//   DataLoader loader(train, {.batch_size = 64, .seed = 1});
//   for (int epoch = 0; epoch < 5; ++epoch)
//     for (const Example& b : loader.epoch(epoch)) { ... b.x (64, 1, 28, 28), b.y (64,) ... }
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kun/core/rng.h"
#include "kun/data/dataset.h"

namespace kun::data {

// Applied to every assembled batch on the worker thread. gen is seeded from (loader seed, epoch,
// batch index), so augmentation is reproducible whatever the prefetch depth.
using BatchTransform = std::function<Example(Example batch, Generator& gen)>;

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  uint64_t seed = 0;       // the order of epoch e depends only on (seed, e)
  bool drop_last = false;  // drop a final batch smaller than batch_size
  int64_t prefetch = 2;    // batches queued ahead by the worker; 0 assembles on the caller's thread
  BatchTransform transform{};
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions opts = {});
  // Convenience: shares the dataset's tensors.
  DataLoader(const TensorDataset& dataset, LoaderOptions opts = {});
  ~DataLoader();  // stops and joins the worker, even mid-epoch
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;
  int64_t batch_size() const { return opts_.batch_size; }
  const Dataset& dataset() const { return *dataset_; }

  // The index order of epoch e (before batching).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  // Starts epoch e (abandoning any epoch in progress); then call next() until it returns false.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch; false at its end. Rethrows an exception raised while
  // assembling or transforming the batch (on the worker thread) here, in the caller.
  bool next(Example& batch);

  // Range-for over one epoch: for (const Example& b : loader.epoch(e)).
  class Iterator {
   public:
    Iterator() = default;
    explicit Iterator(DataLoader* loader);
    const Example& operator*() const { return batch_; }
    const Example* operator->() const { return &batch_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return loader_ == o.loader_; }
    bool operator!=(const Iterator& o) const { return loader_ != o.loader_; }

   private:
    DataLoader* loader_ = nullptr;  // null at the end
    Example batch_;
  };
  struct EpochRange {
    DataLoader* loader;
    int64_t epoch;
    Iterator begin() {
      loader->start_epoch(epoch);
      return Iterator(loader);
    }
    Iterator end() { return Iterator(); }
  };
  EpochRange epoch(int64_t e) { return EpochRange{this, e}; }

 private:
  struct Worker;  // the prefetch thread and its bounded queue
  Example make_batch(int64_t epoch, int64_t b, const std::vector<int64_t>& order) const;
  void stop_worker();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions opts_;
  // Synchronous mode (prefetch == 0) state.
  std::vector<int64_t> order_;
  int64_t epoch_ = -1;
  int64_t next_batch_ = 0;
  std::unique_ptr<Worker> worker_;
};

}  // namespace kun::data
