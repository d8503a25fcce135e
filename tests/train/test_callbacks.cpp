// Callbacks: driven both by a real fit on tiny data and directly with synthetic logs (so the
// monitored sequence is exactly what each case needs).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "golden_util.h"
#include "kun/nn/layers.h"
#include "kun/nn/sequential.h"
#include "kun/optim/sgd.h"
#include "kun/train/model.h"

using namespace kun;

namespace {

struct Data {
  Tensor x, y;
};
Data blobs(int64_t n) {
  Generator g(7);
  Tensor x = randn({n, 2}, DType::f32, &g);
  std::vector<int64_t> ys(n);
  float* px = x.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    ys[i] = i % 2;
    px[2 * i] += ys[i] ? 2.0f : -2.0f;
  }
  return {x, from_vector(ys)};
}

train::Model make_model(double lr) {
  manual_seed(3);
  train::Model m(std::make_shared<nn::Sequential>(nn::Dense({.units = 4, .activation = "relu"}), nn::Dense({.units = 2})));
  m.compile(optim::SGD({.lr = lr}), loss::SparseCategoricalCrossentropy({.from_logits = true}), {metric::Accuracy()});
  return m;
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "kun_cb_" + std::to_string(getpid()) + "_" + name;
}

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

std::vector<std::string> read_lines(const std::string& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

TensorDict clone_state(const nn::Module& m) {
  TensorDict d;
  for (const auto& [k, t] : m.state_dict()) d.insert(k, t.clone());
  return d;
}

}  // namespace

TEST(TrainCallbacks, ResolveMode) {
  EXPECT_EQ(train::resolve_mode("auto", "val_loss", "t"), "min");
  EXPECT_EQ(train::resolve_mode("auto", "val_accuracy", "t"), "max");
  EXPECT_EQ(train::resolve_mode("auto", "f1", "t"), "max");
  EXPECT_EQ(train::resolve_mode("auto", "mae", "t"), "min");
  EXPECT_EQ(train::resolve_mode("max", "loss", "t"), "max");
  KUN_EXPECT_ERROR(train::resolve_mode("up", "loss", "EarlyStopping"), "EarlyStopping", "\"up\"");
  KUN_EXPECT_ERROR(train::monitored_value({{"loss", 1.0}}, "val_loss", "EarlyStopping"), "'val_loss'",
                   "(loss)", "validation_split");
}

TEST(TrainCallbacks, EarlyStoppingStopsAfterPatienceInFit) {
  // lr = 0 and no shuffling: the loss is the same every epoch, so it never improves after epoch 1.
  Data d = blobs(40);
  train::Model m = make_model(0.0);
  auto es = std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{.monitor = "loss", .patience = 2});
  train::History h = m.fit(d.x, d.y, {.epochs = 20, .shuffle = false, .callbacks = {es}, .verbose = 0});
  EXPECT_EQ(h.size(), 3u);  // epoch 1 sets the best, epochs 2 and 3 do not improve -> stop
  EXPECT_EQ(es->stopped_epoch(), 2);
  EXPECT_EQ(es->best_epoch(), 0);
  EXPECT_TRUE(m.stop_training);
  // A new fit starts afresh (stop_training is cleared).
  train::History again = m.fit(d.x, d.y, {.epochs = 1, .shuffle = false, .verbose = 0});
  EXPECT_EQ(again.size(), 1u);
}

TEST(TrainCallbacks, EarlyStoppingRestoresTheBestWeights) {
  train::Model m = make_model(0.1);
  Data d = blobs(8);
  m.train_step(d.x, d.y);  // build the lazy layer
  train::EarlyStopping es({.monitor = "val_accuracy", .patience = 2, .min_delta = 0.01, .restore_best_weights = true});
  es.on_train_begin(m);
  // Accuracy (mode auto -> max): 0.5, 0.8 (best, epoch 1), 0.805 (not by min_delta), 0.7 -> stop at epoch 3.
  const std::vector<double> acc = {0.5, 0.8, 0.805, 0.7, 0.9};
  TensorDict best;
  int epoch = 0;
  for (; epoch < 5 && !m.stop_training; ++epoch) {
    m.train_step(d.x, d.y);  // the weights move every epoch
    if (epoch == 1) best = clone_state(m.module());
    es.on_epoch_end(m, epoch, {{"val_accuracy", acc[epoch]}, {"loss", 1.0}});
  }
  EXPECT_EQ(epoch, 4);
  EXPECT_EQ(es.stopped_epoch(), 3);
  EXPECT_EQ(es.best_epoch(), 1);
  EXPECT_DOUBLE_EQ(es.best(), 0.8);
  es.on_train_end(m, {});
  for (const auto& [k, t] : m.module().state_dict())
    EXPECT_TRUE(allclose(t, best.at(k), 0.0, 0.0)) << k;
}

TEST(TrainCallbacks, CheckpointsOnlyOnImprovement) {
  train::Model m = make_model(0.1);
  Data d = blobs(8);
  m.train_step(d.x, d.y);
  const std::string pattern = temp_path("ckpt_{epoch}.kun");
  train::ModelCheckpoint ck({.path = pattern, .save_best_only = true});
  ck.on_train_begin(m);
  const std::vector<double> val_loss = {1.0, 0.8, 0.9, 0.7, 0.7};
  for (int e = 0; e < 5; ++e) ck.on_epoch_end(m, e, {{"val_loss", val_loss[e]}});
  EXPECT_EQ(ck.saved_epochs(), (std::vector<int>{0, 1, 3}));
  auto path_of = [&](int epoch1) { return temp_path("ckpt_" + std::to_string(epoch1) + ".kun"); };
  EXPECT_TRUE(file_exists(path_of(1)));
  EXPECT_TRUE(file_exists(path_of(2)));
  EXPECT_FALSE(file_exists(path_of(3)));
  EXPECT_TRUE(file_exists(path_of(4)));
  EXPECT_FALSE(file_exists(path_of(5)));
  EXPECT_EQ(ck.last_path(), path_of(4));
  train::Model back = train::Model::load(path_of(4));
  EXPECT_TRUE(back.compiled());
  for (int e : {1, 2, 4}) std::remove(path_of(e).c_str());
}

TEST(TrainCallbacks, CheckpointInFitWritesEveryEpochWithoutBestOnly) {
  Data d = blobs(20);
  train::Model m = make_model(0.1);
  const std::string path = temp_path("every.kun");
  auto ck = std::make_shared<train::ModelCheckpoint>(train::ModelCheckpointOptions{.path = path});
  m.fit(d.x, d.y, {.epochs = 2, .callbacks = {ck}, .verbose = 0});
  EXPECT_EQ(ck->saved_epochs(), (std::vector<int>{0, 1}));
  EXPECT_EQ(train::Model::load(path).epochs_done(), 2);
  std::remove(path.c_str());
}

TEST(TrainCallbacks, LearningRateSchedulerDrivesAScheduleAndResumes) {
  Data d = blobs(20);
  train::Model m = make_model(0.1);
  struct LrSpy : train::Callback {
    std::vector<double> lrs;
    void on_epoch_begin(train::Model& model, int) override { lrs.push_back(model.optimizer()->lr()); }
  };
  auto sched = std::make_shared<train::LearningRateScheduler>(
      train::LearningRateScheduler::ScheduleFactory([](optim::Optimizer& o) {
        return std::make_shared<optim::StepLR>(o, optim::StepLROptions{.step_size = 1, .gamma = 0.5});
      }));
  auto spy = std::make_shared<LrSpy>();
  m.fit(d.x, d.y, {.epochs = 3, .callbacks = {sched, spy}, .verbose = 0});
  ASSERT_EQ(spy->lrs.size(), 3u);
  EXPECT_DOUBLE_EQ(spy->lrs[0], 0.1);
  EXPECT_DOUBLE_EQ(spy->lrs[1], 0.05);
  EXPECT_DOUBLE_EQ(spy->lrs[2], 0.025);

  // Resuming at epoch 3 with a fresh schedule continues the curve (the base lr is the group's initial_lr).
  auto sched2 = std::make_shared<train::LearningRateScheduler>(
      train::LearningRateScheduler::ScheduleFactory([](optim::Optimizer& o) {
        return std::make_shared<optim::StepLR>(o, optim::StepLROptions{.step_size = 1, .gamma = 0.5});
      }));
  auto spy2 = std::make_shared<LrSpy>();
  m.fit(d.x, d.y, {.epochs = 4, .callbacks = {sched2, spy2}, .verbose = 0, .initial_epoch = 3});
  ASSERT_EQ(spy2->lrs.size(), 1u);
  EXPECT_DOUBLE_EQ(spy2->lrs[0], 0.0125);

  // The plain-function form.
  train::Model m2 = make_model(0.1);
  auto fn = std::make_shared<train::LearningRateScheduler>(
      train::LearningRateScheduler::LrFunction([](int epoch, double lr) { return epoch == 0 ? lr : lr * 0.1; }));
  auto spy3 = std::make_shared<LrSpy>();
  m2.fit(d.x, d.y, {.epochs = 3, .callbacks = {fn, spy3}, .verbose = 0});
  EXPECT_DOUBLE_EQ(spy3->lrs[2], 0.1 * 0.1 * 0.1);
}

TEST(TrainCallbacks, ReduceLROnPlateauCutsTheLr) {
  train::Model m = make_model(0.1);
  Data d = blobs(8);
  m.train_step(d.x, d.y);
  train::ReduceLROnPlateau r({.monitor = "val_loss", .factor = 0.5, .patience = 1});
  r.on_train_begin(m);
  const std::vector<double> v = {1.0, 0.9, 0.95, 0.95, 0.95};
  std::vector<double> lrs;
  for (int e = 0; e < 5; ++e) {
    r.on_epoch_end(m, e, {{"val_loss", v[e]}});
    lrs.push_back(m.optimizer()->lr());
  }
  // Epoch 4 (1-based) is the second without improvement: cut; the count restarts after a cut.
  EXPECT_EQ(lrs, (std::vector<double>{0.1, 0.1, 0.1, 0.05, 0.05}));
  EXPECT_EQ(r.reductions(), 1);
}

TEST(TrainCallbacks, CsvLoggerWritesOneRowPerEpoch) {
  Data d = blobs(40);
  train::Model m = make_model(0.1);
  const std::string path = temp_path("log.csv");
  auto csv = std::make_shared<train::CSVLogger>(train::CSVLoggerOptions{.path = path});
  m.fit(d.x, d.y, {.epochs = 2, .validation_split = 0.25, .callbacks = {csv}, .verbose = 0});
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "epoch,accuracy,loss,val_accuracy,val_loss,lr");
  EXPECT_EQ(lines[1].substr(0, 2), "1,");
  EXPECT_EQ(lines[2].substr(0, 2), "2,");
  // Appending (a resumed run) keeps the header and adds rows.
  auto more = std::make_shared<train::CSVLogger>(train::CSVLoggerOptions{.path = path, .append = true});
  m.fit(d.x, d.y, {.epochs = 3, .validation_split = 0.25, .callbacks = {more}, .verbose = 0, .initial_epoch = 2});
  lines = read_lines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3].substr(0, 2), "3,");
  std::remove(path.c_str());
}

TEST(TrainCallbacks, RunRecorderSeesStartEpochsAndEnd) {
  struct Recorder : train::RunRecorder {
    train::RunStart start;
    std::vector<train::EpochRecord> epochs;
    train::RunEnd end;
    int starts = 0, ends = 0;
    void record_start(const train::RunStart& s) override {
      start = s;
      ++starts;
    }
    void record_epoch(const train::EpochRecord& e) override { epochs.push_back(e); }
    void record_end(const train::RunEnd& e) override {
      end = e;
      ++ends;
    }
  };
  Data d = blobs(40);
  train::Model m = make_model(0.1);
  auto rec = std::make_shared<Recorder>();
  m.fit(d.x, d.y, {.epochs = 3, .batch_size = 8, .validation_split = 0.25, .callbacks = {rec}, .verbose = 0});
  EXPECT_EQ(rec->starts, 1);
  EXPECT_EQ(rec->ends, 1);
  EXPECT_EQ(rec->start.architecture["type"], "sequential");
  EXPECT_EQ(rec->start.compile["optimizer"]["name"], "sgd");
  EXPECT_EQ(rec->start.train_size, 30);
  EXPECT_EQ(rec->start.val_size, 10);
  EXPECT_EQ(rec->start.batch_size, 8);
  EXPECT_EQ(rec->start.parameters, 2 * 4 + 4 + 4 * 2 + 2);
  ASSERT_EQ(rec->epochs.size(), 3u);
  EXPECT_EQ(rec->epochs[2].epoch, 2);
  EXPECT_TRUE(rec->epochs[0].logs.count("val_loss"));
  EXPECT_DOUBLE_EQ(rec->epochs[0].lr, 0.1);
  EXPECT_GE(rec->epochs[0].seconds, 0.0);
  EXPECT_EQ(rec->end.epochs_run, 3);
  EXPECT_FALSE(rec->end.stopped_early);
  EXPECT_EQ(rec->end.final_logs, rec->epochs[2].logs);
}
