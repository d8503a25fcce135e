#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "golden_util.h"
#include "kun/data/loader.h"
#include "kun/data/transform.h"

using namespace kun;
using namespace kun::data;

namespace {
// x row i = (i, i), y = i.
TensorDataset counting(int64_t n) {
  Tensor x = arange(0, static_cast<double>(n), 1, DType::f32).unsqueeze(1).expand({n, 2});
  return TensorDataset(x, arange(n, DType::i64));
}

std::vector<std::vector<int64_t>> collect(DataLoader& loader, int64_t epoch) {
  std::vector<std::vector<int64_t>> batches;
  for (const Example& b : loader.epoch(epoch)) {
    EXPECT_EQ(b.x.size(0), b.y.size(0));
    auto y = b.y.to_vector<int64_t>();
    auto x = b.x.to_vector<float>();
    const size_t w = static_cast<size_t>(b.x.size(1));
    for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(x[w * i], static_cast<float>(y[i]));  // rows stay paired
    batches.push_back(y);
  }
  return batches;
}

// A dataset that is not tensor-backed (exercises the default get_batch), optionally slow or failing.
class ProbeDataset : public Dataset {
 public:
  ProbeDataset(int64_t n, int64_t fail_at = -1, int sleep_ms = 0) : n_(n), fail_at_(fail_at), sleep_ms_(sleep_ms) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    ++calls;
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    KUN_CHECK(i != fail_at_, IOError, "ProbeDataset: example ", i, " is corrupt");
    return {full({3}, static_cast<double>(i)), scalar_tensor(static_cast<double>(i), DType::i64)};
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_, fail_at_;
  int sleep_ms_;
};
}  // namespace

TEST(DataLoader, EveryIndexOncePerEpochAndPartialLastBatch) {
  for (int64_t prefetch : {0, 1, 3}) {
    DataLoader loader(counting(103), {.batch_size = 10, .seed = 5, .prefetch = prefetch});
    EXPECT_EQ(loader.num_batches(), 11);
    auto batches = collect(loader, 0);
    ASSERT_EQ(batches.size(), 11u);
    EXPECT_EQ(batches.back().size(), 3u);
    std::vector<int> seen(103, 0);
    for (auto& b : batches)
      for (int64_t i : b) ++seen[i];
    for (int c : seen) EXPECT_EQ(c, 1);
  }
}

TEST(DataLoader, DropLastAndNoShuffle) {
  DataLoader loader(counting(25), {.batch_size = 10, .shuffle = false, .drop_last = true});
  auto batches = collect(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1], (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
}

TEST(DataLoader, DeterministicPerSeedDifferentAcrossEpochs) {
  DataLoader a(counting(50), {.batch_size = 8, .seed = 11});
  DataLoader b(counting(50), {.batch_size = 8, .seed = 11, .prefetch = 0});
  DataLoader c(counting(50), {.batch_size = 8, .seed = 12});
  auto e0 = collect(a, 0);
  EXPECT_EQ(e0, collect(b, 0));      // same seed, with and without prefetching
  EXPECT_NE(e0, collect(c, 0));      // another seed
  EXPECT_NE(e0, collect(a, 1));      // another epoch
  EXPECT_EQ(e0, collect(a, 0));      // replaying epoch 0
}

TEST(DataLoader, DefaultGetBatchStacksExamples) {
  auto ds = std::make_shared<ProbeDataset>(7);
  DataLoader loader(ds, {.batch_size = 4, .shuffle = false});
  auto batches = collect(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  loader.start_epoch(0);
  Example b;
  ASSERT_TRUE(loader.next(b));
  EXPECT_EQ(b.x.shape(), (Shape{4, 3}));
  EXPECT_EQ(b.x.select(0, 2).to_vector<float>(), (std::vector<float>{2, 2, 2}));
}

TEST(DataLoader, WorkerExceptionSurfacesInConsumer) {
  auto ds = std::make_shared<ProbeDataset>(20, /*fail_at=*/13);
  DataLoader loader(ds, {.batch_size = 5, .shuffle = false, .prefetch = 2});
  int good = 0;
  KUN_EXPECT_ERROR(
      for (const Example& b : loader.epoch(0)) {
        (void)b;
        ++good;
      },
      "ProbeDataset: example 13 is corrupt");
  EXPECT_EQ(good, 2);  // batches 0 and 1 arrive before batch 2 fails
  // The loader is usable again afterwards.
  DataLoader ok(std::make_shared<ProbeDataset>(4), {.batch_size = 2});
  EXPECT_EQ(collect(ok, 0).size(), 2u);
}

TEST(DataLoader, DestroyedMidEpochStopsWorker) {
  auto ds = std::make_shared<ProbeDataset>(1000, -1, /*sleep_ms=*/1);
  auto t0 = std::chrono::steady_clock::now();
  {
    DataLoader loader(ds, {.batch_size = 10, .prefetch = 2});
    loader.start_epoch(0);
    Example b;
    ASSERT_TRUE(loader.next(b));
  }  // destructor joins the worker while it is blocked on the full queue or mid-batch
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ds->calls.load(), 100);  // it stopped after a few batches, not 1000 examples
  EXPECT_LT(secs, 5.0);
  // Abandoning an epoch for the next one also stops the old worker.
  DataLoader loader(ds, {.batch_size = 10, .prefetch = 1});
  loader.start_epoch(0);
  loader.start_epoch(1);
  Example b;
  ASSERT_TRUE(loader.next(b));
}

TEST(DataLoader, TransformSeededPerBatch) {
  Tensor x = rand({40, 1, 6, 6}, DType::f32, nullptr);
  TensorDataset ds(x, arange(40, DType::i64));
  auto aug = [](Example b, Generator& g) {
    b.x = augment(b.x, {.crop_padding = 1, .horizontal_flip = true}, g);
    return b;
  };
  DataLoader a(ds, {.batch_size = 8, .seed = 3, .prefetch = 3, .transform = aug});
  DataLoader b(ds, {.batch_size = 8, .seed = 3, .prefetch = 0, .transform = aug});
  std::vector<Tensor> xa, xb;
  for (const Example& e : a.epoch(2)) xa.push_back(e.x);
  for (const Example& e : b.epoch(2)) xb.push_back(e.x);
  ASSERT_EQ(xa.size(), 5u);
  for (size_t i = 0; i < xa.size(); ++i) {
    EXPECT_EQ(xa[i].shape(), (Shape{8, 1, 6, 6}));
    EXPECT_TRUE(kun::testing::close(xa[i], xb[i], 0, 0));
  }
}

TEST(DataLoader, BadOptions) {
  KUN_EXPECT_ERROR(DataLoader(counting(3), {.batch_size = 0}), "DataLoader", "batch_size must be > 0, got 0");
  DataLoader l(counting(3));
  Example b;
  KUN_EXPECT_ERROR(l.next(b), "DataLoader::next", "start_epoch");
  KUN_EXPECT_ERROR(TensorDataset(zeros({3, 2}), zeros({4})), "TensorDataset", "y must have 3 rows");
  KUN_EXPECT_ERROR(counting(3).get(3), "TensorDataset::get", "index 3 out of range");
  KUN_EXPECT_ERROR(counting(3).get_batch({0, 5}), "get_batch", "index 5 out of range");
}
