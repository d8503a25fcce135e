#include <gtest/gtest.h>

#include "golden_util.h"
#include "kun/nn/activation.h"
#include "kun/nn/graph.h"
#include "kun/nn/layers.h"
#include "kun/nn/loss.h"
#include "kun/nn/sequential.h"
#include "kun/nn/summary.h"

using namespace kun;
using namespace kun::nn;

namespace {
Sequential mnist_cnn() {
  return Sequential{Conv2D({.out_channels = 32, .kernel = 3, .activation = "relu"}), MaxPool2D({.kernel = 2}),
                    Flatten(), Dense({.units = 128, .activation = "relu"}), Dense({.units = 10})};
}
}  // namespace

TEST(Layers, SequentialSummaryCountsParameters) {
  manual_seed(0);
  Sequential m = mnist_cnn();
  std::string s = summary(m, {1, 28, 28});
  // conv 1*32*9 + 32 = 320 ; dense 5408*128 + 128 = 692,352 ; dense 128*10 + 10 = 1,290
  EXPECT_NE(s.find("(None, 32, 26, 26)"), std::string::npos) << s;
  EXPECT_NE(s.find("692,352"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 693,962"), std::string::npos) << s;
  EXPECT_EQ(m.parameter_count(), 693962);
  auto names = m.named_parameters();
  EXPECT_EQ(names[0].first, "0.weight");
  EXPECT_EQ(names.back().first, "4.bias");
}

TEST(Layers, ForwardBackwardShapesAndGrads) {
  manual_seed(1);
  Sequential m = mnist_cnn();
  Variable x(randn({4, 1, 28, 28}));
  Variable y = m.forward(x);
  EXPECT_EQ(y.shape(), (Shape{4, 10}));
  loss::SparseCategoricalCrossentropy ce({.from_logits = true});
  Variable l = ce(y, from_vector<int64_t>({1, 2, 3, 4}));
  l.backward();
  for (auto& [n, p] : m.named_parameters()) {
    ASSERT_TRUE(p.has_grad()) << n;
    EXPECT_TRUE(kun::testing::all_finite(p.grad())) << n;
  }
}

TEST(Layers, ConfigRoundTripGivesTheSameModel) {
  manual_seed(2);
  Sequential m{Conv2D({.out_channels = 4, .kernel = 3, .padding = "same"}), BatchNorm(), ReLU(), Dropout(0.25),
               GlobalAveragePooling2D(), Dense({.units = 3, .activation = "softmax"})};
  build(m, {2, 8, 8});
  json cfg = m.to_config();
  ModulePtr r = Module::from_config(json::parse(cfg.dump()));
  r->load_state_dict(m.state_dict());
  m.eval();
  r->eval();
  Tensor x = randn({5, 2, 8, 8});
  NoGradGuard ng;
  EXPECT_TRUE(allclose(m.forward(Variable(x)).data(), r->forward(Variable(x)).data(), 0, 0));
  EXPECT_EQ(r->to_config().dump(), cfg.dump());
}

TEST(Layers, GraphWithSkipConnection) {
  manual_seed(3);
  Graph g;
  auto x = g.input("image", {3, 8, 8});
  auto a = g.add(Conv2D({.out_channels = 8, .kernel = 3, .padding = "same", .activation = "relu"}), {x});
  auto b = g.add(Conv2D({.out_channels = 8, .kernel = 1}), {x});
  auto s = g.add(Add(), {a, b}, "skip");
  auto f = g.add(Flatten(), {g.add(GlobalAveragePooling2D(), {s})});
  g.set_outputs({g.add(Dense({.units = 2}), {f})});
  Variable y = g.forward(Variable(randn({2, 3, 8, 8})));
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  sum(y).backward();
  for (auto& [n, p] : g.named_parameters()) EXPECT_TRUE(p.has_grad()) << n;
  // round trip through JSON
  ModulePtr r = Module::from_config(g.to_config());
  r->load_state_dict(g.state_dict());
  Tensor in = randn({1, 3, 8, 8});
  NoGradGuard ng;
  EXPECT_TRUE(allclose(g.forward(Variable(in)).data(), r->forward(Variable(in)).data(), 0, 0));
  EXPECT_NE(summary(g, {3, 8, 8}).find("skip (add)"), std::string::npos);
  KUN_EXPECT_ERROR(g.add(Dense({.units = 2}), {a, b}), "takes one input", "Add or Concatenate");
}

TEST(Layers, ResidualBlockAndEmbedding) {
  manual_seed(4);
  auto body = std::make_shared<Sequential>(Dense({.units = 6, .activation = "relu"}), Dense({.units = 6}));
  Residual r(body, nullptr, "relu");
  Variable y = r.forward(Variable(randn({3, 6})));
  EXPECT_EQ(y.shape(), (Shape{3, 6}));
  Embedding e({.num_embeddings = 10, .embedding_dim = 4, .padding_idx = 0});
  Variable ids(from_vector<int64_t>({0, 3, 9, 3}, {2, 2}));
  Variable z = e.forward(ids);
  EXPECT_EQ(z.shape(), (Shape{2, 2, 4}));
  EXPECT_DOUBLE_EQ(z.data().select(0, 0).select(0, 0).to_vector<float>()[0], 0.0);  // padding row is zero
  KUN_EXPECT_ERROR(e.forward(Variable(from_vector<int64_t>({10}))), "10");
}

TEST(Layers, ClearErrorsNameTheLayer) {
  Sequential m{Dense({.units = 4, .in_features = 3}), Dense({.units = 2})};
  KUN_EXPECT_ERROR(m.forward(Variable(randn({2, 5}))), "layer 0 (dense)", "(..., 3)", "(2, 5)");
  KUN_EXPECT_ERROR(Conv2D({.out_channels = 0}), "out_channels must be > 0");
  KUN_EXPECT_ERROR(Dense({.units = 3, .activation = "rellu"}), "unknown activation 'rellu'", "relu");
  Conv2D c({.out_channels = 2, .kernel = 3, .in_channels = 3});
  KUN_EXPECT_ERROR(c.forward(Variable(randn({32, 28, 28}))), "(N, C, H, W)", "(32, 28, 28)");
  KUN_EXPECT_ERROR(Module::from_config(json{{"type", "densee"}, {"config", json::object()}}), "densee");
}

TEST(Losses, ObjectsMatchTheFunctionalForms) {
  manual_seed(5);
  Tensor logits = randn({6, 4}, DType::f64);
  Tensor target = from_vector<int64_t>({0, 1, 2, 3, 1, 0});
  Variable lv(logits);
  double a = loss::SparseCategoricalCrossentropy({.from_logits = true})(lv, target).item<double>();
  double b = loss::SparseCategoricalCrossentropy()(softmax(lv, 1), target).item<double>();
  EXPECT_NEAR(a, b, 1e-10);
  Tensor onehot = one_hot(target, 4).to(DType::f64);
  double c = loss::CategoricalCrossentropy({.from_logits = true})(lv, onehot).item<double>();
  double d = loss::CategoricalCrossentropy()(softmax(lv, 1), onehot).item<double>();
  EXPECT_NEAR(a, c, 1e-10);
  EXPECT_NEAR(a, d, 1e-10);
  Tensor p = from_vector<double>({0.9, 0.2}), t = from_vector<double>({1, 0});
  double bce = loss::BinaryCrossentropy()(Variable(p), t).item<double>();
  EXPECT_NEAR(bce, -(std::log(0.9) + std::log(0.8)) / 2, 1e-12);
  EXPECT_NEAR(loss::MeanSquaredError()(Variable(p), t).item<double>(), (0.01 + 0.04) / 2, 1e-12);
  KUN_EXPECT_ERROR(loss::from_name("crossentropy"), "unknown loss", "sparse_categorical_crossentropy");
  KUN_EXPECT_ERROR(loss::SparseCategoricalCrossentropy()(lv, onehot), "integer class ids");
}
