#include "kun/optim/factory.h"

#include <set>
#include <sstream>

#include "kun/optim/adagrad.h"
#include "kun/optim/adam.h"
#include "kun/optim/rmsprop.h"
#include "kun/optim/sgd.h"

namespace kun::optim {

namespace {

using json = nlohmann::json;

// Reads config keys with type checks; complains about anything not read.
class Reader {
 public:
  Reader(const json& j, std::string name) : j_(j), name_(std::move(name)) {}
  void num(const char* key, double& out) {
    allowed_.insert(key);
    if (!j_.contains(key)) return;
    KUN_CHECK(j_[key].is_number(), ValueError, "make_optimizer: ", name_, ".", key, " must be a number, got ",
              j_[key].dump());
    out = j_[key].get<double>();
  }
  void flag(const char* key, bool& out) {
    allowed_.insert(key);
    if (!j_.contains(key)) return;
    KUN_CHECK(j_[key].is_boolean(), ValueError, "make_optimizer: ", name_, ".", key, " must be true or false, got ",
              j_[key].dump());
    out = j_[key].get<bool>();
  }
  void betas(double& b1, double& b2) {
    allowed_.insert("betas");
    if (!j_.contains("betas")) return;
    const json& b = j_["betas"];
    KUN_CHECK(b.is_array() && b.size() == 2 && b[0].is_number() && b[1].is_number(), ValueError, "make_optimizer: ",
              name_, ".betas must be [beta1, beta2], got ", b.dump());
    b1 = b[0].get<double>();
    b2 = b[1].get<double>();
  }
  void finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (it.key() == "name" || allowed_.count(it.key())) continue;
      std::ostringstream os;
      for (const auto& k : allowed_) os << (os.tellp() > 0 ? ", " : "") << k;
      detail::throw_error<ValueError>("make_optimizer: unknown option '", it.key(), "' for ", name_,
                                      "; accepted: ", os.str());
    }
  }

 private:
  const json& j_;
  std::string name_;
  std::set<std::string> allowed_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const json& config, std::vector<Variable> params) {
  KUN_CHECK(config.is_object() && config.contains("name") && config["name"].is_string(), ValueError,
            "make_optimizer: expected {\"name\": \"adam\", ...}, got ", config.dump());
  const std::string name = config["name"].get<std::string>();
  Reader r(config, name);
  if (name == "sgd") {
    SGDOptions o;
    r.num("lr", o.lr);
    r.num("momentum", o.momentum);
    r.num("dampening", o.dampening);
    r.num("weight_decay", o.weight_decay);
    r.flag("nesterov", o.nesterov);
    r.finish();
    return std::make_unique<SGD>(std::move(params), o);
  }
  if (name == "adam" || name == "adamw") {
    AdamWOptions o;
    if (name == "adam") o.weight_decay = 0.0;
    r.num("lr", o.lr);
    r.betas(o.beta1, o.beta2);
    r.num("eps", o.eps);
    r.num("weight_decay", o.weight_decay);
    r.flag("amsgrad", o.amsgrad);
    r.finish();
    if (name == "adamw") return std::make_unique<AdamW>(std::move(params), o);
    return std::make_unique<Adam>(std::move(params),
                                  AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad});
  }
  if (name == "rmsprop") {
    RMSPropOptions o;
    r.num("lr", o.lr);
    r.num("alpha", o.alpha);
    r.num("eps", o.eps);
    r.num("weight_decay", o.weight_decay);
    r.num("momentum", o.momentum);
    r.flag("centered", o.centered);
    r.finish();
    return std::make_unique<RMSProp>(std::move(params), o);
  }
  if (name == "adagrad") {
    AdagradOptions o;
    r.num("lr", o.lr);
    r.num("lr_decay", o.lr_decay);
    r.num("weight_decay", o.weight_decay);
    r.num("initial_accumulator_value", o.initial_accumulator_value);
    r.num("eps", o.eps);
    r.finish();
    return std::make_unique<Adagrad>(std::move(params), o);
  }
  detail::throw_error<ValueError>("make_optimizer: unknown optimizer '", name,
                                  "'; accepted: sgd, adam, adamw, rmsprop, adagrad");
}

}  // namespace kun::optim
