#include <gtest/gtest.h>

#include <cstdio>

#include "golden_util.h"
#include "kun/train/metrics.h"
#include "kun/train/progress.h"

using namespace kun;
using namespace kun::metric;

namespace {
// 6 samples, 3 classes. Rows: scores; argmax = 0,1,2,2,1,0 ; truth = 0,1,1,2,0,0
Tensor scores() {
  return from_vector<float>({.9f, .05f, .05f, .1f, .8f, .1f, .2f, .1f, .7f, .1f, .2f, .7f, .3f, .6f, .1f, .5f, .3f, .2f},
                            {6, 3});
}
Tensor truth() { return from_vector<int64_t>({0, 1, 1, 2, 0, 0}); }
}  // namespace

TEST(Metrics, SparseCategoricalAccuracyAcrossBatches) {
  Accuracy acc;
  acc.update(scores().narrow(0, 0, 3), truth().narrow(0, 0, 3));
  acc.update(scores().narrow(0, 3, 3), truth().narrow(0, 3, 3));
  EXPECT_DOUBLE_EQ(acc.result(), 4.0 / 6.0);  // correct: 0, 1, 3, 5
  acc.reset();
  EXPECT_DOUBLE_EQ(acc.result(), 0.0);
}

TEST(Metrics, BinaryAccuracyThreshold) {
  Accuracy acc({.threshold = 0.0});  // logits
  acc.update(from_vector<float>({-1, 2, 0.5f, -3}), from_vector<float>({0, 1, 0, 0}));
  EXPECT_DOUBLE_EQ(acc.result(), 0.75);
}

TEST(Metrics, ConfusionMatrixPrecisionRecallF1) {
  ConfusionMatrix cm;
  cm.update(scores(), truth());
  // truth 0 -> pred {0, 1, 0}; truth 1 -> pred {1, 2}; truth 2 -> pred {2}
  EXPECT_EQ(cm.count(0, 0), 2);
  EXPECT_EQ(cm.count(0, 1), 1);
  EXPECT_EQ(cm.count(1, 1), 1);
  EXPECT_EQ(cm.count(1, 2), 1);
  EXPECT_EQ(cm.count(2, 2), 1);
  // per class precision: c0 2/2, c1 1/2, c2 1/2 ; recall: c0 2/3, c1 1/2, c2 1/1
  Precision p;
  Recall r;
  F1 f;
  p.update(scores(), truth());
  r.update(scores(), truth());
  f.update(scores(), truth());
  EXPECT_NEAR(p.result(), (1.0 + 0.5 + 0.5) / 3, 1e-12);
  EXPECT_NEAR(r.result(), (2.0 / 3 + 0.5 + 1.0) / 3, 1e-12);
  double f0 = 2 * 1.0 * (2.0 / 3) / (1.0 + 2.0 / 3), f1 = 0.5, f2 = 2 * 0.5 * 1.0 / 1.5;
  EXPECT_NEAR(f.result(), (f0 + f1 + f2) / 3, 1e-12);
  F1 micro({.average = Average::micro});
  micro.update(scores(), truth());
  EXPECT_NEAR(micro.result(), 4.0 / 6.0, 1e-12);
  EXPECT_NE(cm.str({"a", "b", "c"}).find("predicted"), std::string::npos);
}

TEST(Metrics, AucWithTies) {
  AUC auc;
  // positives 0.8, 0.4 ; negatives 0.4, 0.1 -> pairs: (0.8>0.4)1 (0.8>0.1)1 (0.4=0.4).5 (0.4>0.1)1 = 3.5/4
  auc.update(from_vector<float>({0.8f, 0.4f, 0.4f, 0.1f}), from_vector<float>({1, 1, 0, 0}));
  EXPECT_DOUBLE_EQ(auc.result(), 3.5 / 4);
  KUN_EXPECT_ERROR(auc.update(from_vector<float>({0.1f}), from_vector<float>({2})), "auc", "0 or 1");
}

TEST(Metrics, RegressionAndErrors) {
  RMSE rmse;
  MAE mae;
  Tensor p = from_vector<float>({1, 2, 3}), t = from_vector<float>({1, 4, 0});
  rmse.update(p, t);
  mae.update(p, t);
  EXPECT_NEAR(rmse.result(), std::sqrt((0 + 4 + 9) / 3.0), 1e-12);
  EXPECT_NEAR(mae.result(), 5.0 / 3, 1e-12);
  KUN_EXPECT_ERROR(mae.update(from_vector<float>({1, 2}), t), "mae", "(2,)", "(3,)");
  KUN_EXPECT_ERROR(from_name("acuracy"), "unknown metric", "accuracy");
  Accuracy acc;
  KUN_EXPECT_ERROR(acc.update(scores(), from_vector<int64_t>({0, 1})), "accuracy", "6", "2");
}

TEST(Progress, PlainLinesWhenNotATerminal) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  train::ProgressBar bar({.out = f, .force_tty = 0});
  bar.begin_epoch(1, 3, 10);
  for (int i = 1; i <= 10; ++i) bar.update(i, {{"loss", 1.0 / i}});
  bar.end_epoch({{"loss", 0.1}, {"val_loss", 0.2}});
  std::fclose(f);
  std::string out(buf, len);
  free(buf);
  EXPECT_NE(out.find("Epoch 1/3"), std::string::npos) << out;
  EXPECT_NE(out.find("10/10 [==============================]"), std::string::npos) << out;
  EXPECT_NE(out.find("loss: 0.1000 - val_loss: 0.2000"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos);  // no carriage returns in logs
}

TEST(Progress, TerminalRedrawsInPlace) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  train::ProgressBar bar({.out = f, .redraw_seconds = 0, .force_tty = 1});
  bar.begin_epoch(2, 2, 4);
  for (int i = 1; i <= 4; ++i) bar.update(i, {{"loss", 0.5}});
  bar.end_epoch({{"loss", 0.5}});
  std::fclose(f);
  std::string out(buf, len);
  free(buf);
  EXPECT_NE(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("ETA"), std::string::npos) << out;
  EXPECT_EQ(train::ProgressBar::format_duration(125), "2m 05s");
}
