// train::Model on tiny synthetic data (two Gaussian blobs), so every case runs in well under a second.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "golden_util.h"
#include "kun/autograd/ops.h"
#include "kun/nn/activation.h"
#include "kun/nn/layers.h"
#include "kun/nn/sequential.h"
#include "kun/optim/adam.h"
#include "kun/optim/sgd.h"
#include "kun/tensor/ops.h"
#include "kun/tensor/safetensors.h"
#include "kun/train/model.h"

using namespace kun;

namespace {

// Two classes: x ~ N(+-1.5, 0.5^2) in 2-D, y alternating 0, 1, 0, ...
struct Blobs {
  Tensor x, y;
};
Blobs blobs(int64_t n, uint64_t seed = 1) {
  Generator g(seed);
  Tensor noise = randn({n, 2}, DType::f32, &g);
  std::vector<float> xs(n * 2);
  std::vector<int64_t> ys(n);
  const float* pn = noise.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    ys[i] = i % 2;
    const float c = ys[i] ? 1.5f : -1.5f;
    xs[2 * i] = c + 0.5f * pn[2 * i];
    xs[2 * i + 1] = c + 0.5f * pn[2 * i + 1];
  }
  return {from_vector(xs, {n, 2}), from_vector(ys)};
}

// Dense(8, relu) -> Dense(2): the first layer's input size is inferred on the first batch.
nn::ModulePtr small_net(uint64_t seed = 3) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(nn::Dense({.units = 8, .activation = "relu"}), nn::Dense({.units = 2}));
}

train::Model compiled(double lr = 0.05, nn::ModulePtr net = nullptr) {
  train::Model m(net ? net : small_net());
  m.compile(optim::Adam({.lr = lr}), loss::SparseCategoricalCrossentropy({.from_logits = true}),
            {metric::Accuracy()});
  return m;
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "kun_model_" + std::to_string(getpid()) + "_" + name;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ac = a.contiguous(), bc = b.contiguous();
  return std::memcmp(ac.raw_data(), bc.raw_data(), ac.numel() * ac.element_size()) == 0;
}

bool states_equal(const TensorDict& a, const TensorDict& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, t] : a)
    if (!b.contains(k) || !bit_equal(t, b.at(k))) return false;
  return true;
}

TensorDict clone_state(const nn::Module& m) {
  TensorDict d;
  for (const auto& [k, t] : m.state_dict()) d.insert(k, t.clone());
  return d;
}

}  // namespace

TEST(TrainModel, FitReducesLossAndSeparatesBlobs) {
  Blobs d = blobs(200);
  train::Model m = compiled();
  train::History h = m.fit(d.x, d.y, {.epochs = 8, .batch_size = 16, .seed = 1, .verbose = 0});
  ASSERT_EQ(h.size(), 8u);
  std::vector<double> loss = h.get("loss"), acc = h.get("accuracy");
  EXPECT_LT(loss.back(), 0.5 * loss.front());
  EXPECT_GT(acc.back(), 0.97);
  train::Evaluation ev = m.evaluate(d.x, d.y);
  EXPECT_GT(ev["accuracy"], 0.97);
  EXPECT_EQ(ev.values.size(), 2u);
  EXPECT_EQ(ev.values[0].first, "loss");
  EXPECT_EQ(m.epochs_done(), 8);
  KUN_EXPECT_ERROR(h.get("val_loss"), "no figure 'val_loss'", "loss");
  KUN_EXPECT_ERROR(ev["auc"], "no figure 'auc'");
}

TEST(TrainModel, OptimizerGetsEveryParameterOnce) {
  Blobs d = blobs(32);
  train::Model m = compiled();
  m.train_step(d.x, d.y);
  size_t n = 0;
  for (const auto& g : m.optimizer()->param_groups()) n += g.params.size();
  EXPECT_EQ(n, m.module().parameters().size());
  EXPECT_EQ(n, 4u);
  m.train_step(d.x, d.y);  // binding happens once
  EXPECT_EQ(m.optimizer()->param_groups().size(), 1u);
}

TEST(TrainModel, ValidationSplitIsTheLastFraction) {
  Blobs d = blobs(200);
  train::Model m = compiled();
  train::History h = m.fit(d.x, d.y, {.epochs = 1, .batch_size = 20, .validation_split = 0.25, .verbose = 0});
  EXPECT_EQ(m.fit_state().train_size, 150);
  EXPECT_EQ(m.fit_state().val_size, 50);
  ASSERT_EQ(h.get("val_loss").size(), 1u);
  // The weights do not change after the epoch, so the validation figures are evaluate() on the last 50 rows.
  train::Evaluation ev = m.evaluate(d.x.narrow(0, 150, 50), d.y.narrow(0, 150, 50), {.batch_size = 256});
  EXPECT_DOUBLE_EQ(h.get("val_loss")[0], ev["loss"]);
  EXPECT_DOUBLE_EQ(h.get("val_accuracy")[0], ev["accuracy"]);
  KUN_EXPECT_ERROR(m.fit(d.x, d.y, {.validation_split = 1.0, .verbose = 0}), "validation_split", "[0, 1)");
}

TEST(TrainModel, ValidationDataTakesPrecedence) {
  Blobs d = blobs(100), v = blobs(40, 9);
  train::Model m = compiled();
  auto val = std::make_shared<data::TensorDataset>(v.x, v.y);
  train::History h = m.fit(d.x, d.y, {.epochs = 2, .validation_split = 0.5, .validation_data = val, .verbose = 0});
  EXPECT_EQ(m.fit_state().train_size, 100);
  EXPECT_EQ(m.fit_state().val_size, 40);
  EXPECT_EQ(h.get("val_accuracy").size(), 2u);
}

TEST(TrainModel, ClassWeightScalesEachSamplesLoss) {
  // With lr = 0 the weights never move, so the epoch's loss is exactly the weighted mean at the
  // initial weights: sum_i w[y_i] * l_i / N with class weights {2, 0} -> 2 * (sum over class 0) / N.
  Blobs d = blobs(40);
  train::Model m(small_net());
  m.compile(optim::SGD({.lr = 0.0}), loss::SparseCategoricalCrossentropy({.from_logits = true}));
  train::History h = m.fit(d.x, d.y, {.epochs = 1, .batch_size = 8, .shuffle = false, .class_weight = {2.0, 0.0},
                                      .verbose = 0});
  Tensor logits = m.predict(d.x);
  CrossEntropyOptions none;
  none.reduction = Reduction::none;
  std::vector<float> per = cross_entropy(logits, d.y, none).to_vector<float>();
  double expect = 0;
  for (int64_t i = 0; i < 40; ++i)
    if (i % 2 == 0) expect += 2.0 * per[i];
  expect /= 40;
  EXPECT_NEAR(h.get("loss")[0], expect, 1e-5 * std::abs(expect));
  // Unweighted for comparison: different.
  train::History plain = m.fit(d.x, d.y, {.epochs = 1, .batch_size = 8, .shuffle = false, .verbose = 0});
  EXPECT_GT(std::abs(plain.get("loss")[0] - expect), 1e-3);

  KUN_EXPECT_ERROR(m.fit(d.x, d.y, {.class_weight = {1.0, 1.0, 1.0}, .verbose = 0}), "class_weight has 3 entries",
                   "2 classes");
  KUN_EXPECT_ERROR(m.fit(d.x, d.y, {.class_weight = {1.0, -1.0}, .verbose = 0}), "class_weight[1]", ">= 0");
  train::Model r(std::make_shared<nn::Sequential>(nn::Dense({.units = 1})));
  r.compile(optim::SGD({.lr = 0.1}), loss::MeanSquaredError());
  KUN_EXPECT_ERROR(r.fit(d.x, d.y.to(DType::f32), {.class_weight = {1.0, 2.0}, .verbose = 0}), "class_weight needs",
                   "mean_squared_error");
}

TEST(TrainModel, BinaryClassWeight) {
  // Binary cross-entropy from logits with weights {0, 3}: only the positives count, three times.
  Blobs d = blobs(20);
  manual_seed(5);
  train::Model m(std::make_shared<nn::Sequential>(nn::Dense({.units = 1})));
  m.compile(optim::SGD({.lr = 0.0}), loss::BinaryCrossentropy({.from_logits = true}));
  Tensor yf = d.y.to(DType::f32).reshape({20, 1});
  train::History h = m.fit(d.x, yf, {.epochs = 1, .batch_size = 20, .class_weight = {0.0, 3.0}, .verbose = 0});
  std::vector<float> z = m.predict(d.x).to_vector<float>();
  double expect = 0;
  for (int i = 1; i < 20; i += 2) expect += 3.0 * std::log1p(std::exp(-double(z[i])));  // -log(sigmoid(z))
  expect /= 20;
  EXPECT_NEAR(h.get("loss")[0], expect, 1e-5 * expect);
}

TEST(TrainModel, NanInTheDataStopsWithEpochStepAndKeepsLastGoodWeights) {
  Blobs d = blobs(60);
  Tensor x = d.x.clone();
  x.data<float>()[2 * 25] = NAN;  // row 25: batch 3 (1-based) with batch_size 10 and no shuffling
  // A batch-norm layer too: its running statistics must not take the NaN batch either.
  manual_seed(4);
  auto net = std::make_shared<nn::Sequential>(nn::Dense({.units = 8}), nn::BatchNorm(), nn::ReLU(),
                                              nn::Dense({.units = 2}));
  train::Model m = compiled(0.05, net);

  // Snapshot after each good step.
  struct Snap : train::Callback {
    TensorDict last;
    void on_batch_end(train::Model& model, int64_t, const train::Logs&) override { last = clone_state(model.module()); }
  };
  auto snap = std::make_shared<Snap>();
  KUN_EXPECT_ERROR(m.fit(x, d.y, {.epochs = 2, .batch_size = 10, .shuffle = false, .callbacks = {snap}, .verbose = 0}),
                   "fit: non-finite loss at epoch 1, step 3 (loss = nan)", "gradient of '0.weight' is not finite",
                   "the weights of the last good step are kept", "check the data for NaN");
  try {
    m.fit(x, d.y, {.epochs = 1, .batch_size = 10, .shuffle = false, .callbacks = {snap}, .verbose = 0});
  } catch (const train::TrainingError&) {
  }
  EXPECT_TRUE(states_equal(clone_state(m.module()), snap->last));
  for (const auto& [k, t] : m.module().state_dict()) EXPECT_TRUE(kun::testing::all_finite(t)) << k;

  // train_step says the same without epoch/step.
  TensorDict before = clone_state(m.module());
  KUN_EXPECT_ERROR(m.train_step(x.narrow(0, 20, 10), d.y.narrow(0, 20, 10)), "train_step: non-finite loss");
  EXPECT_TRUE(states_equal(clone_state(m.module()), before));
  EXPECT_THROW(m.train_step(x.narrow(0, 20, 10), d.y.narrow(0, 20, 10)), train::TrainingError);
}

TEST(TrainModel, EvaluateAndPredictShapes) {
  Blobs d = blobs(50);
  train::Model m = compiled();
  m.fit(d.x, d.y, {.epochs = 1, .verbose = 0});
  Tensor p = m.predict(d.x);
  EXPECT_EQ(p.shape(), Shape({50, 2}));
  Tensor p7 = m.predict(d.x, 7);  // batches of 7: the last one short
  EXPECT_TRUE(bit_equal(p, p7) || allclose(p, p7, 1e-6, 1e-6));
  EXPECT_EQ(m.predict(d.x.narrow(0, 0, 1)).shape(), Shape({1, 2}));
  train::Evaluation ev = m.evaluate(d.x, d.y, {.batch_size = 16});
  std::ostringstream os;
  os << ev;
  EXPECT_NE(os.str().find("loss: "), std::string::npos);
  EXPECT_NE(os.str().find(" - accuracy: "), std::string::npos);
  EXPECT_TRUE(m.module().is_training());  // evaluate / predict restore the mode
  KUN_EXPECT_ERROR(m.evaluate(d.x, d.y.narrow(0, 0, 10)), "same number of examples");
  KUN_EXPECT_ERROR(m.predict(d.x, 0), "batch_size must be > 0");
}

TEST(TrainModel, UncompiledModelSaysSo) {
  Blobs d = blobs(10);
  train::Model m(small_net());
  KUN_EXPECT_ERROR(m.fit(d.x, d.y), "Model::fit", "not compiled");
  KUN_EXPECT_ERROR(m.train_step(d.x, d.y), "not compiled");
  KUN_EXPECT_ERROR(m.evaluate(d.x, d.y), "no loss");
  EXPECT_EQ(m.predict(d.x).shape(), Shape({10, 2}));  // predict needs no compile
}

TEST(TrainModel, SaveLoadPredictIsBitIdentical) {
  Blobs d = blobs(64);
  manual_seed(2);
  auto net = std::make_shared<nn::Sequential>(nn::Dense({.units = 8}), nn::BatchNorm(), nn::ReLU(), nn::Dropout(0.2),
                                              nn::Dense({.units = 2}));
  train::Model m = compiled(0.05, net);
  m.fit(d.x, d.y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  const std::string path = temp_path("roundtrip.kun");
  m.save(path);
  train::Model back = train::Model::load(path);
  EXPECT_TRUE(bit_equal(m.predict(d.x), back.predict(d.x)));
  EXPECT_TRUE(states_equal(clone_state(m.module()), clone_state(back.module())));
  EXPECT_EQ(back.epochs_done(), 2);
  ASSERT_TRUE(back.compiled());
  EXPECT_EQ(back.optimizer()->type_name(), "Adam");
  EXPECT_DOUBLE_EQ(back.optimizer()->lr(), 0.05);
  EXPECT_EQ(back.loss()->name(), "sparse_categorical_crossentropy");
  ASSERT_EQ(back.metrics().size(), 1u);
  EXPECT_EQ(back.metrics()[0]->name(), "accuracy");
  EXPECT_EQ(back.compile_config()["loss"]["config"]["from_logits"], true);
  // The optimizer state came back too.
  EXPECT_TRUE(states_equal(m.optimizer()->state_dict(), back.optimizer()->state_dict()));

  // Without the optimizer: weights only, an uncompiled model.
  m.save(path, /*include_optimizer=*/false);
  train::Model bare = train::Model::load(path);
  EXPECT_FALSE(bare.compiled());
  EXPECT_TRUE(bit_equal(m.predict(d.x), bare.predict(d.x)));
  std::remove(path.c_str());
}

TEST(TrainModel, ResumeContinuesTheSameLossCurve) {
  // 3 epochs straight == 2 epochs, save, load, 1 more (initial_epoch = 2): the same losses, exactly.
  // Exactness holds because every source of randomness depends only on (seed, epoch): the loader's
  // order, and dropout masks (fit re-seeds the default generator per epoch); Adam's moments and
  // step counts come back from the file; and the kernels are deterministic for a given thread
  // count (static OpenMP partitions, no atomics), which both runs share.
  Blobs d = blobs(96);
  auto net = [] {
    manual_seed(11);
    return std::make_shared<nn::Sequential>(nn::Dense({.units = 16, .activation = "relu"}), nn::Dropout(0.3),
                                            nn::Dense({.units = 2}));
  };
  train::FitOptions o{.epochs = 3, .batch_size = 16, .validation_split = 0.25, .seed = 5, .verbose = 0};
  train::Model straight = compiled(0.01, net());
  train::History full = straight.fit(d.x, d.y, o);

  train::Model first = compiled(0.01, net());
  o.epochs = 2;
  train::History h12 = first.fit(d.x, d.y, o);
  const std::string path = temp_path("resume.kun");
  first.save(path);
  train::Model resumed = train::Model::load(path);
  o.epochs = 3;
  o.initial_epoch = resumed.epochs_done();
  train::History h3 = resumed.fit(d.x, d.y, o);
  std::remove(path.c_str());

  ASSERT_EQ(h12.size(), 2u);
  ASSERT_EQ(h3.size(), 1u);
  EXPECT_EQ(h12.get("loss")[0], full.get("loss")[0]);
  EXPECT_EQ(h12.get("loss")[1], full.get("loss")[1]);
  EXPECT_EQ(h3.get("loss")[0], full.get("loss")[2]);
  EXPECT_EQ(h3.get("val_loss")[0], full.get("val_loss")[2]);
  EXPECT_TRUE(states_equal(clone_state(straight.module()), clone_state(resumed.module())));
  EXPECT_EQ(resumed.epochs_done(), 3);
}

TEST(TrainModel, CorruptFilesAreClearErrors) {
  Blobs d = blobs(16);
  train::Model m = compiled();
  m.fit(d.x, d.y, {.epochs = 1, .verbose = 0});
  const std::string path = temp_path("corrupt.kun");
  m.save(path);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  // Truncated: the data section is short.
  write(bytes.substr(0, bytes.size() - 20));
  KUN_EXPECT_ERROR(train::Model::load(path), path.c_str());
  EXPECT_THROW(train::Model::load(path), IOError);
  // Truncated inside the header.
  write(bytes.substr(0, 40));
  EXPECT_THROW(train::Model::load(path), IOError);
  // Flipped header bytes: the JSON no longer parses.
  std::string flipped = bytes;
  for (int i = 8; i < 24; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  write(flipped);
  KUN_EXPECT_ERROR(train::Model::load(path), path.c_str());
  EXPECT_THROW(train::Model::load(path), IOError);
  // A header length bigger than the file.
  std::string huge = bytes;
  huge[6] = '\x7f';
  write(huge);
  EXPECT_THROW(train::Model::load(path), IOError);
  // A plain tensor file is not a model.
  safetensors::save(path, m.module().state_dict());
  KUN_EXPECT_ERROR(train::Model::load(path), path.c_str(), "not a kun model file");
  // An unknown layer type names the type.
  safetensors::save(path, TensorDict(),
                    {{"kun_model", "1"},
                     {"architecture", R"({"type": "warp_drive", "config": {}})"},
                     {"training", R"({"epochs_done": 0})"}});
  KUN_EXPECT_ERROR(train::Model::load(path), path.c_str(), "cannot rebuild the architecture", "warp_drive");
  // A newer layout version.
  safetensors::save(path, TensorDict(), {{"kun_model", "99"}});
  KUN_EXPECT_ERROR(train::Model::load(path), path.c_str(), "version '99'");
  // Weights that do not fit the architecture.
  TensorDict wrong;
  wrong.insert("0.weight", zeros({3, 3}));
  safetensors::save(path, wrong,
                    {{"kun_model", "1"},
                     {"architecture", m.module().to_config().dump()},
                     {"training", R"({"epochs_done": 0})"}});
  KUN_EXPECT_ERROR(train::Model::load(path), path.c_str(), "do not fit the architecture");
  std::remove(path.c_str());
  KUN_EXPECT_ERROR(train::Model::load(path), path.c_str());
}
