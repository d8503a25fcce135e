// Whole-model files: one safetensors file holding
//   tensors   the module's state dict under its own names ("0.weight", "3.running_mean", ...) and,
//             when the optimizer is included, its state dict under "optimizer." ("optimizer.state.0.1.exp_avg")
//   metadata  "format": "kun", "version": "1" (the tensor container, written by safetensors::save),
//             "kun_model": "1"           this layout's version
//             "architecture": JSON       module->to_config(), rebuilt with nn::Module::from_config
//             "compile": JSON            Model::compile_config() plus "param_groups": the dotted parameter
//                                        names of each optimizer group (absent without the optimizer)
//             "training": JSON           {"epochs_done": n}
#include <cmath>
#include <set>

#include "kun/optim/adagrad.h"
#include "kun/optim/adam.h"
#include "kun/optim/factory.h"
#include "kun/optim/rmsprop.h"
#include "kun/optim/sgd.h"
#include "kun/tensor/safetensors.h"
#include "kun/train/model.h"

namespace kun::train {

namespace {

using json = nlohmann::json;
constexpr const char* kModelVersion = "1";
constexpr const char* kOptimizerPrefix = "optimizer.";

// The optimizer's constructor options in optim::make_optimizer's format.
json optimizer_config(const optim::Optimizer& o, const char* hint) {
  if (auto* a = dynamic_cast<const optim::Adam*>(&o)) {
    const auto& p = a->options();
    return {{"name", o.type_name() == "AdamW" ? "adamw" : "adam"},
            {"lr", p.lr},
            {"betas", {p.beta1, p.beta2}},
            {"eps", p.eps},
            {"weight_decay", p.weight_decay},
            {"amsgrad", p.amsgrad}};
  }
  if (auto* s = dynamic_cast<const optim::SGD*>(&o)) {
    const auto& p = s->options();
    return {{"name", "sgd"},           {"lr", p.lr}, {"momentum", p.momentum}, {"dampening", p.dampening},
            {"weight_decay", p.weight_decay}, {"nesterov", p.nesterov}};
  }
  if (auto* r = dynamic_cast<const optim::RMSProp*>(&o)) {
    const auto& p = r->options();
    return {{"name", "rmsprop"},         {"lr", p.lr},          {"alpha", p.alpha},       {"eps", p.eps},
            {"weight_decay", p.weight_decay}, {"momentum", p.momentum}, {"centered", p.centered}};
  }
  if (auto* g = dynamic_cast<const optim::Adagrad*>(&o)) {
    const auto& p = g->options();
    return {{"name", "adagrad"},
            {"lr", p.lr},
            {"lr_decay", p.lr_decay},
            {"weight_decay", p.weight_decay},
            {"initial_accumulator_value", p.initial_accumulator_value},
            {"eps", p.eps}};
  }
  detail::throw_error<ValueError>("Model: cannot describe an optimizer of type '", o.type_name(),
                                  "' (known: SGD, Adam, AdamW, RMSProp, Adagrad)", hint);
}

// A new optimizer of o's type and options with no parameter groups (the model adds its own).
// make_optimizer would start with one empty group, which binding would leave behind.
std::shared_ptr<optim::Optimizer> empty_like(const optim::Optimizer& o, const char* hint) {
  if (auto* a = dynamic_cast<const optim::Adam*>(&o)) {
    const auto& p = a->options();
    if (o.type_name() == "AdamW")
      return std::make_shared<optim::AdamW>(optim::AdamWOptions{p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.amsgrad});
    return std::make_shared<optim::Adam>(p);
  }
  if (auto* s = dynamic_cast<const optim::SGD*>(&o)) return std::make_shared<optim::SGD>(s->options());
  if (auto* r = dynamic_cast<const optim::RMSProp*>(&o)) return std::make_shared<optim::RMSProp>(r->options());
  if (auto* g = dynamic_cast<const optim::Adagrad*>(&o)) return std::make_shared<optim::Adagrad>(g->options());
  detail::throw_error<ValueError>("Model: cannot copy an optimizer of type '", o.type_name(),
                                  "' (known: SGD, Adam, AdamW, RMSProp, Adagrad)", hint);
}

[[noreturn]] void fail_load(const std::string& path, const std::string& what) {
  throw IOError("Model::load: '" + path + "': " + what);
}

json parse_meta(const std::string& path, const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(key);
  if (it == meta.end()) fail_load(path, std::string("missing the '") + key + "' metadata");
  try {
    return json::parse(it->second);
  } catch (const json::exception& e) {
    fail_load(path, std::string("the '") + key + "' metadata is not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

void Model::compile(const optim::Optimizer& optimizer, loss::AnyLoss loss, std::vector<metric::AnyMetric> metrics) {
  for (const auto& g : optimizer.param_groups())
    KUN_CHECK(g.params.empty(), ValueError, "Model::compile: this ", optimizer.type_name(),
              " already holds parameters; pass it as a std::shared_ptr so the model uses it as it is");
  compile(empty_like(optimizer, "; pass it as a std::shared_ptr"), std::move(loss), std::move(metrics));
}

json Model::compile_config() const {
  if (!optimizer_ || !loss_) return nullptr;
  json metrics = json::array();
  for (const auto& m : metrics_) metrics.push_back(m->name());
  return {{"optimizer", optimizer_config(*optimizer_, "; save it with include_optimizer = false")},
          {"loss", {{"name", (*loss_)->name()}, {"config", (*loss_)->config()}}},
          {"metrics", metrics}};
}

void Model::save(const std::string& path, bool include_optimizer) const {
  TensorDict tensors;
  for (const auto& [name, t] : module_->state_dict()) {
    KUN_CHECK(name.rfind(kOptimizerPrefix, 0) != 0, ValueError, "Model::save: the module's entry '", name,
              "' collides with the '", kOptimizerPrefix, "' prefix reserved for the optimizer state");
    tensors.insert(name, t);
  }
  std::map<std::string, std::string> meta;
  meta["kun_model"] = kModelVersion;
  meta["architecture"] = module_->to_config().dump();
  meta["training"] = json{{"epochs_done", epochs_done_}}.dump();
  if (include_optimizer && optimizer_ && loss_) {
    json compile = compile_config();
    // Each optimizer group as dotted parameter names, so load rebuilds the same groups.
    const auto named = module_->named_parameters();
    json groups = json::array();
    for (const auto& g : optimizer_->param_groups()) {
      json names = json::array();
      for (const auto& p : g.params) {
        std::string found;
        for (const auto& [n, q] : named)
          if (q.same(p)) found = n;
        KUN_CHECK(!found.empty(), ValueError, "Model::save: the optimizer holds a parameter that is not part of the ",
                  "model; save with include_optimizer = false");
        names.push_back(found);
      }
      groups.push_back(names);
    }
    compile["param_groups"] = groups;
    meta["compile"] = compile.dump();
    for (const auto& [k, t] : optimizer_->state_dict()) tensors.insert(kOptimizerPrefix + k, t);
  }
  safetensors::save(path, tensors, meta);
}

Model Model::load(const std::string& path) {
  safetensors::File f = safetensors::load(path);  // IOError naming the file for any container problem
  auto ver = f.metadata.find("kun_model");
  if (ver == f.metadata.end())
    fail_load(path, "not a kun model file (no 'kun_model' metadata; a plain tensor file holds weights only)");
  if (ver->second != kModelVersion)
    fail_load(path, "model format version '" + ver->second + "', this build reads version " + kModelVersion);

  json arch = parse_meta(path, f.metadata, "architecture");
  nn::ModulePtr module;
  try {
    module = nn::Module::from_config(arch);
  } catch (const Error& e) {
    fail_load(path, std::string("cannot rebuild the architecture: ") + e.what());
  }

  TensorDict weights, opt_state;
  for (const auto& [k, t] : f.tensors) {
    if (k.rfind(kOptimizerPrefix, 0) == 0) opt_state.insert(k.substr(std::char_traits<char>::length(kOptimizerPrefix)), t);
    else weights.insert(k, t);
  }
  try {
    module->load_state_dict(weights, /*strict=*/true);
  } catch (const Error& e) {
    fail_load(path, std::string("the weights do not fit the architecture: ") + e.what());
  }

  Model m(module);
  json training = parse_meta(path, f.metadata, "training");
  if (!training.is_object() || !training.contains("epochs_done") || !training["epochs_done"].is_number_integer())
    fail_load(path, "the 'training' metadata needs an integer \"epochs_done\", got " + training.dump());
  m.epochs_done_ = training["epochs_done"].get<int>();

  if (f.metadata.count("compile") == 0) return m;  // weights only: compile it yourself
  json compile = parse_meta(path, f.metadata, "compile");
  try {
    KUN_CHECK(compile.is_object() && compile.contains("optimizer") && compile.contains("loss") &&
                  compile.contains("metrics") && compile.contains("param_groups"),
              ValueError, "needs optimizer, loss, metrics and param_groups, got ", compile.dump());
    std::shared_ptr<optim::Optimizer> opt = empty_like(*optim::make_optimizer(compile["optimizer"]), "");
    const json& lj = compile["loss"];
    KUN_CHECK(lj.is_object() && lj.contains("name") && lj["name"].is_string(), ValueError,
              "loss must be {\"name\": ..., \"config\": {...}}, got ", lj.dump());
    loss::AnyLoss loss = loss::from_name(lj["name"].get<std::string>(), lj.value("config", json::object()));
    std::vector<metric::AnyMetric> metrics;
    for (const auto& n : compile["metrics"]) {
      KUN_CHECK(n.is_string(), ValueError, "metric names must be strings, got ", n.dump());
      metrics.push_back(metric::from_name(n.get<std::string>()));
    }
    m.compile(opt, loss, metrics);

    // The optimizer's groups by parameter name, then its state.
    const auto named = module->named_parameters();
    bool any = false;
    for (const auto& g : compile["param_groups"]) {
      optim::ParamGroup group;
      for (const auto& n : g) {
        const std::string name = n.get<std::string>();
        const Variable* found = nullptr;
        for (const auto& [pn, p] : named)
          if (pn == name) found = &p;
        KUN_CHECK(found != nullptr, ValueError, "the optimizer names parameter '", name, "', which the model lacks");
        group.params.push_back(*found);
      }
      any = any || !group.params.empty();
      opt->add_param_group(std::move(group));
    }
    if (any) {
      m.optimizer_bound_ = true;
      m.bind_optimizer();
      opt->load_state_dict(opt_state);
    } else {
      // Saved before the first batch: groups are empty; the first fit binds the parameters afresh.
      m.compile(empty_like(*opt, ""), loss, metrics);
    }
  } catch (const Error& e) {
    fail_load(path, std::string("cannot restore the compiled state: ") + e.what());
  } catch (const json::exception& e) {
    fail_load(path, std::string("cannot restore the compiled state: ") + e.what());
  }
  return m;
}

}  // namespace kun::train
