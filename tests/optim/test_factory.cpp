// Optimizers built from JSON configs, and parameters added after construction.
#include "golden_util.h"

using namespace kun;
using namespace kun::optim;
using kun::testing::json;

TEST(OptimFactory, BuildsEachOptimizerWithOptions) {
  Variable w(ones({2}), true);
  auto adam = make_optimizer(json::parse(R"({"name": "adam", "lr": 0.5, "betas": [0.8, 0.9], "amsgrad": true})"), {w});
  EXPECT_EQ(adam->type_name(), "Adam");
  EXPECT_DOUBLE_EQ(adam->lr(), 0.5);
  EXPECT_DOUBLE_EQ(dynamic_cast<Adam&>(*adam).options().beta1, 0.8);
  EXPECT_TRUE(dynamic_cast<Adam&>(*adam).options().amsgrad);
  Variable v(ones({2}), true);
  auto adamw = make_optimizer(json{{"name", "adamw"}}, {v});
  EXPECT_EQ(adamw->type_name(), "AdamW");
  EXPECT_DOUBLE_EQ(adamw->param_groups()[0].weight_decay.value(), 1e-2);
  EXPECT_EQ(make_optimizer(json{{"name", "sgd"}, {"momentum", 0.9}, {"nesterov", true}})->type_name(), "SGD");
  EXPECT_EQ(make_optimizer(json{{"name", "rmsprop"}, {"centered", true}})->type_name(), "RMSProp");
  EXPECT_EQ(make_optimizer(json{{"name", "adagrad"}, {"lr_decay", 0.1}})->type_name(), "Adagrad");
}

TEST(OptimFactory, RejectsTyposAndBadValues) {
  KUN_EXPECT_ERROR(make_optimizer(json{{"name", "adan"}}), "unknown optimizer 'adan'", "adamw");
  KUN_EXPECT_ERROR(make_optimizer(json{{"name", "adam"}, {"learning_rate", 1}}), "unknown option 'learning_rate'",
                   "accepted:", "lr");
  KUN_EXPECT_ERROR(make_optimizer(json{{"name", "sgd"}, {"lr", "fast"}}), "sgd.lr must be a number");
  KUN_EXPECT_ERROR(make_optimizer(json{{"name", "adam"}, {"betas", {0.9}}}), "betas must be [beta1, beta2]");
  KUN_EXPECT_ERROR(make_optimizer(json{{"lr", 1}}), "expected {\"name\"");
}

TEST(OptimFactory, ParamsAddedLater) {
  Adam opt({.lr = 0.1});  // a trainer compiles the optimizer before the model's parameters exist
  Variable w(ones({3}), true);
  ParamGroup g;
  g.params = {w};
  opt.add_param_group(g);
  w.set_grad(ones({3}));
  opt.step();
  EXPECT_NEAR(w.data().to_vector<float>()[0], 0.9f, 1e-6);  // Adam's first step moves by lr
}
