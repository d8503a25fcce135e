// nn::Module: names, nesting, modes, counts, state dicts (strict errors), config registry.
#include "golden_util.h"

using namespace kun;
using namespace kun::nn;

namespace {

// y = x * weight + bias (elementwise over the last dim); buffer "seen" counts forward calls.
class Scale : public Module {
 public:
  explicit Scale(int64_t n) : n_(n) {
    weight_ = register_parameter("weight", ones({n}));
    bias_ = register_parameter("bias", zeros({n}));
    seen_ = register_buffer("seen", zeros({1}));
  }
  Variable forward(const Variable& x) override {
    seen_.fill_(seen_.item<float>() + 1);
    return add(mul(x, weight_), bias_);
  }
  std::string type_name() const override { return "test_scale"; }
  json config() const override { return {{"n", n_}}; }

 private:
  int64_t n_;
  Variable weight_, bias_;
  Tensor seen_;
};

// A container built from a list of child configs, like Sequential will be.
class Chain : public Module {
 public:
  explicit Chain(const std::vector<ModulePtr>& layers) {
    for (size_t i = 0; i < layers.size(); ++i) layers_.push_back(register_module("layer" + std::to_string(i), layers[i]));
  }
  Variable forward(const Variable& x) override {
    Variable y = x;
    for (auto& l : layers_) y = l->forward(y);
    return y;
  }
  std::string type_name() const override { return "test_chain"; }
  json config() const override {
    json layers = json::array();
    for (auto& l : layers_) layers.push_back(l->to_config());
    return {{"layers", layers}};
  }

 private:
  std::vector<ModulePtr> layers_;
};

KUN_REGISTER_MODULE("test_scale", [](const json& c) { return std::make_shared<Scale>(c.at("n").get<int64_t>()); });
KUN_REGISTER_MODULE("test_chain", [](const json& c) {
  std::vector<ModulePtr> layers;
  for (const auto& l : c.at("layers")) layers.push_back(Module::from_config(l));
  return std::make_shared<Chain>(layers);
});

// block1 = Chain{Scale(3), Scale(3)}, head = Scale(3), plus a frozen parameter at the top.
std::shared_ptr<Chain> make_model() {
  auto block = std::make_shared<Chain>(std::vector<ModulePtr>{std::make_shared<Scale>(3), std::make_shared<Scale>(3)});
  return std::make_shared<Chain>(std::vector<ModulePtr>{block, std::make_shared<Scale>(3)});
}

}  // namespace

TEST(Module, HierarchicalNames) {
  auto m = make_model();
  std::vector<std::string> names;
  for (auto& [n, v] : m->named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"layer0.layer0.weight", "layer0.layer0.bias", "layer0.layer1.weight",
                                             "layer0.layer1.bias", "layer1.weight", "layer1.bias"}));
  EXPECT_EQ(m->parameters().size(), 6u);
  EXPECT_EQ(m->named_parameters(false).size(), 0u);
  auto bufs = m->named_buffers();
  ASSERT_EQ(bufs.size(), 3u);
  EXPECT_EQ(bufs[0].first, "layer0.layer0.seen");
  std::vector<std::string> mods;
  for (auto& [n, p] : m->named_modules()) mods.push_back(n);
  EXPECT_EQ(mods, (std::vector<std::string>{"", "layer0", "layer0.layer0", "layer0.layer1", "layer1"}));
  EXPECT_TRUE(m->parameters()[0].requires_grad());
}

TEST(Module, TrainEvalCountsAndZeroGrad) {
  auto m = make_model();
  EXPECT_TRUE(m->is_training());
  m->eval();
  for (auto& [n, sub] : m->named_modules()) EXPECT_FALSE(sub->is_training()) << n;
  m->train();
  EXPECT_TRUE(m->child("layer0")->child("layer1")->is_training());
  EXPECT_EQ(m->parameter_count(), 18);
  m->child("layer1")->parameter("bias").set_requires_grad(false);
  EXPECT_EQ(m->parameter_count(true), 15);

  Variable x(tensor({1.f, 2.f, 3.f}));
  Variable y = m->forward(x);
  sum(y).backward();
  EXPECT_TRUE(m->parameters()[0].has_grad());
  m->zero_grad();
  for (auto& p : m->parameters()) EXPECT_FALSE(p.has_grad());
  EXPECT_FLOAT_EQ(m->child("layer1")->buffer("seen").item<float>(), 1.f);
}

TEST(Module, RegistrationErrors) {
  Scale s(2);
  KUN_EXPECT_ERROR(s.register_parameter("weight", ones({2})), "test_scale", "'weight'", "already used");
  KUN_EXPECT_ERROR(s.register_buffer("a.b", ones({2})), "must be non-empty and contain no '.'");
  KUN_EXPECT_ERROR(s.register_module("", std::make_shared<Scale>(1)), "must be non-empty");
  KUN_EXPECT_ERROR(s.parameter("nope"), "no parameter named 'nope'");
  Module plain;
  KUN_EXPECT_ERROR(plain.forward(Variable(ones({1}))), "module", "forward(const Variable&) is not defined");
}

TEST(Module, StateDictRoundTrip) {
  auto a = make_model(), b = make_model();
  Generator gen(5);
  for (auto& p : a->parameters()) p.data().copy_(randn(p.shape(), DType::f32, &gen));
  a->child("layer1")->buffer("seen").fill_(7);
  TensorDict sd = a->state_dict();
  EXPECT_EQ(sd.keys()[0], "layer0.layer0.weight");
  EXPECT_EQ(sd.keys()[2], "layer0.layer0.seen");  // params then buffers of each module
  EXPECT_EQ(sd.size(), 9u);
  b->load_state_dict(sd);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(kun::testing::close(pb[i].second.data(), pa[i].second.data(), 0, 0));
  EXPECT_FLOAT_EQ(b->child("layer1")->buffer("seen").item<float>(), 7.f);
  // Through a file too (dtype conversion on load: a float64 file into float32 parameters).
  TensorDict as64;
  for (auto& [n, t] : sd) as64.insert(n, t.to(DType::f64));
  std::string path = ::testing::TempDir() + "/kun_module_state.safetensors";
  safetensors::save(path, as64);
  auto c = make_model();
  c->load_state_dict(safetensors::load(path).tensors);
  EXPECT_TRUE(kun::testing::close(c->parameters()[3].data(), pa[3].second.data(), 0, 0));
}

TEST(Module, StrictLoadErrors) {
  auto m = make_model();
  TensorDict sd = m->state_dict();
  TensorDict missing, extra, wrong;
  for (auto& [n, t] : sd)
    if (n != "layer1.bias") missing.insert(n, t);
  KUN_EXPECT_ERROR(m->load_state_dict(missing), "load_state_dict", "missing keys 'layer1.bias'", "strict=false");
  for (auto& [n, t] : sd) extra.insert(n, t);
  extra.insert("layer2.weight", ones({3}));
  KUN_EXPECT_ERROR(m->load_state_dict(extra), "unexpected keys 'layer2.weight'");
  for (auto& [n, t] : sd) wrong.insert(n, n == "layer0.layer1.weight" ? ones({4}) : t);
  KUN_EXPECT_ERROR(m->load_state_dict(wrong), "load_state_dict: parameter 'layer0.layer1.weight' expects shape (3,)",
                   "file has (4,)");
  // A failed load copies nothing, even entries that would have fitted.
  TensorDict fives;
  for (auto& [n, t] : sd) fives.insert(n, n == "layer1.bias" ? ones({9}) : full_like(t, 5.0));
  KUN_EXPECT_ERROR(m->load_state_dict(fives), "'layer1.bias' expects shape (3,)");
  EXPECT_FLOAT_EQ(m->child("layer1")->parameter("weight").data().to_vector<float>()[0], 1.f);
  // Non-strict loads the matching subset.
  TensorDict partial;
  partial.insert("layer1.weight", full({3}, 2.0));
  partial.insert("junk", ones({1}));
  m->load_state_dict(partial, false);
  EXPECT_FLOAT_EQ(m->child("layer1")->parameter("weight").data().to_vector<float>()[0], 2.f);
  TensorDict bad;
  bad.insert("layer1.weight", ones({2}));
  KUN_EXPECT_ERROR(m->load_state_dict(bad, false), "expects shape (3,)", "file has (2,)");
}

TEST(Module, ConfigRegistryRebuildsArchitecture) {
  auto m = make_model();
  json cfg = m->to_config();
  EXPECT_EQ(cfg["type"], "test_chain");
  EXPECT_EQ(cfg["config"]["layers"][0]["config"]["layers"][1]["type"], "test_scale");
  ModulePtr rebuilt = Module::from_config(json::parse(cfg.dump()));
  EXPECT_EQ(rebuilt->to_config(), cfg);
  EXPECT_EQ(rebuilt->parameter_count(), m->parameter_count());
  rebuilt->load_state_dict(m->state_dict());
  EXPECT_TRUE(Module::has_type("test_scale"));
  KUN_EXPECT_ERROR(Module::from_config(json{{"type", "nope"}}), "unknown module type 'nope'", "test_scale");
  KUN_EXPECT_ERROR(Module::from_config(json{{"layers", 1}}), "expected {\"type\"");
}
