// Neural collaborative filtering (GMF / MLP / NeuMF) built from kun's own layers, autograd and Adam.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

#include "kun/apps/recsys/algorithms.h"
#include "kun/autograd/ops.h"
#include "kun/core/error.h"
#include "kun/core/threading.h"
#include "kun/nn/layers.h"
#include "kun/optim/adam.h"

namespace kun::recsys {

// The two towers. Parameters are registered by name (gmf_user, mlp.0.weight, out.weight, ...), so
// model files store them by name and loading checks every one.
struct Ncf::Net : nn::Module {
  bool gmf = false, mlp = false;
  std::shared_ptr<nn::Embedding> gmf_user, gmf_item, mlp_user, mlp_item;
  std::vector<std::shared_ptr<nn::Dense>> tower;
  std::shared_ptr<nn::Dense> out;

  Net(const NcfOptions& o, int64_t n_users, int64_t n_items) {
    gmf = o.model != "mlp";
    mlp = o.model != "gmf";
    // Embeddings start at N(0, 0.01) as in the NCF paper; dense layers Glorot uniform.
    auto emb = [&](const std::string& name, int64_t n, int64_t dim) {
      auto e = std::make_shared<nn::Embedding>(nn::EmbeddingOptions{.num_embeddings = n, .embedding_dim = dim, .padding_idx = {}});
      register_module(name, e);
      for (auto& [pn, v] : e->named_parameters()) {
        NoGradGuard g;
        v.data().copy_(mul(v.data(), 0.01));
      }
      return e;
    };
    int64_t width = 0;
    if (gmf) {
      gmf_user = emb("gmf_user", n_users, o.n_factors);
      gmf_item = emb("gmf_item", n_items, o.n_factors);
      width += o.n_factors;
    }
    if (mlp) {
      const int64_t half = o.layers[0] / 2;
      mlp_user = emb("mlp_user", n_users, half);
      mlp_item = emb("mlp_item", n_items, half);
      int64_t in = 2 * half;
      for (size_t l = 1; l < o.layers.size(); ++l) {
        auto d = std::make_shared<nn::Dense>(nn::DenseOptions{.units = o.layers[l], .in_features = in, .activation = "relu"});
        register_module("mlp" + std::to_string(l - 1), d);
        tower.push_back(d);
        in = o.layers[l];
      }
      width += in;
    }
    out = std::make_shared<nn::Dense>(nn::DenseOptions{.units = 1, .in_features = width});
    register_module("out", out);
  }

  // users, items: (B) int64 -> logits (B)
  Variable forward(const Variable& users, const Variable& items) {
    std::vector<Variable> parts;
    if (gmf) parts.push_back((*gmf_user)(users) * (*gmf_item)(items));  // (B, K)
    if (mlp) {
      Variable h = concat({(*mlp_user)(users), (*mlp_item)(items)}, 1);  // (B, layers[0])
      for (auto& d : tower) h = (*d)(h);
      parts.push_back(h);
    }
    Variable z = parts.size() == 1 ? parts[0] : concat(parts, 1);
    return squeeze((*out)(z), 1);  // (B, 1) -> (B)
  }
  Variable forward(const Variable&) override {
    KUN_CHECK(false, ValueError, "ncf: the network takes (users, items)");
    return {};
  }
  std::string type_name() const override { return "ncf"; }
};

Ncf::Ncf(NcfOptions o) : o_(std::move(o)) {
  KUN_CHECK(o_.model == "gmf" || o_.model == "mlp" || o_.model == "neumf", ValueError,
            "ncf: model must be gmf, mlp or neumf, got '", o_.model, "'");
  KUN_CHECK(o_.n_factors >= 1 && o_.n_epochs >= 0 && o_.batch_size >= 1 && o_.negatives >= 1 && o_.lr > 0, ValueError,
            "ncf: need n_factors >= 1, n_epochs >= 0, batch_size >= 1, negatives >= 1 and lr > 0");
  KUN_CHECK(o_.layers.size() >= 1 && o_.layers[0] >= 2 && o_.layers[0] % 2 == 0, ValueError,
            "ncf: layers must start with an even width >= 2 (the concatenated user and item embeddings), e.g. 64,32,16");
  for (int w : o_.layers) KUN_CHECK(w >= 1, ValueError, "ncf: every layer width must be >= 1, got ", w);
}
Ncf::~Ncf() = default;

void Ncf::build() {
  manual_seed(o_.seed);
  net_ = std::make_shared<Net>(o_, ts().n_users, ts().n_items);
}

void Ncf::fit_impl() {
  const TrainSet& t = ts();
  build();
  loss_.clear();
  if (t.n_ratings() == 0 || t.n_items == 0) return;
  // One thread: a step is ~0.25 ms of work on (256 x 64) tensors; on 2 threads the five pool
  // synchronisations per step (three small GEMMs, the embedding-gradient fill, Adam) cost more
  // than they save, and on a busy machine each waits a time slice (one epoch: 0.5 s on 1 thread,
  // 63 s on 2 threads at load 10).
  ScopedNumThreads one_thread(1);
  Rng rng(o_.seed + 1);
  std::vector<int32_t> sorted(t.ur_item);  // per-user sorted items: the "not rated" test
  for (int32_t u = 0; u < t.n_users; ++u)
    std::sort(sorted.begin() + t.ur_ptr[size_t(u)], sorted.begin() + t.ur_ptr[size_t(u) + 1]);
  optim::Adam opt(net_->parameters(), {.lr = o_.lr, .weight_decay = o_.weight_decay});
  const size_t n_pos = t.n_ratings(), per = size_t(1 + o_.negatives), n = n_pos * per;
  std::vector<int64_t> us(n), is(n);
  std::vector<float> ys(n);
  std::vector<size_t> order(n);
  const size_t B = size_t(o_.batch_size);
  std::vector<int64_t> bu(B), bi(B);
  std::vector<float> by(B);
  net_->train();
  for (int e = 0; e < o_.n_epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    // Each positive plus `negatives` fresh unrated items of the same user.
    for (size_t k = 0; k < n_pos; ++k) {
      const int32_t u = t.u[k];
      const auto ub = sorted.begin() + t.ur_ptr[size_t(u)], ue = sorted.begin() + t.ur_ptr[size_t(u) + 1];
      us[k * per] = u;
      is[k * per] = t.i[k];
      ys[k * per] = 1.0f;
      const bool full = ue - ub >= t.n_items;  // rated everything: repeat the positive instead
      for (size_t j = 1; j < per; ++j) {
        int32_t neg = t.i[k];
        if (!full) {
          do neg = int32_t(rng.below(uint64_t(t.n_items)));
          while (std::binary_search(ub, ue, neg));
        }
        us[k * per + j] = u;
        is[k * per + j] = neg;
        ys[k * per + j] = full ? 1.0f : 0.0f;
      }
    }
    std::iota(order.begin(), order.end(), size_t(0));
    for (size_t k = n; k > 1; --k) std::swap(order[k - 1], order[size_t(rng.below(k))]);
    double total = 0;
    for (size_t s = 0; s < n; s += B) {
      const size_t m = std::min(B, n - s);
      for (size_t k = 0; k < m; ++k) {
        bu[k] = us[order[s + k]];
        bi[k] = is[order[s + k]];
        by[k] = ys[order[s + k]];
      }
      const auto sz = int64_t(m);
      Variable uv(from_vector(std::vector<int64_t>(bu.begin(), bu.begin() + sz), {sz}), false);
      Variable iv(from_vector(std::vector<int64_t>(bi.begin(), bi.begin() + sz), {sz}), false);
      Tensor yt = from_vector(std::vector<float>(by.begin(), by.begin() + sz), {sz});
      opt.zero_grad();
      Variable loss = binary_cross_entropy_with_logits(net_->forward(uv, iv), yt);
      loss.backward();
      opt.step();
      const double l = loss.data().item<float>();
      KUN_CHECK(std::isfinite(l), ValueError, "ncf: the loss became ", l, " at epoch ", e + 1,
                "; lower lr (now ", o_.lr, ")");
      total += l * double(m);
    }
    loss_.push_back(total / double(n));
    if (o_.verbose > 0) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "%s epoch %d/%d: loss %.4f (%.2f s)\n", o_.model.c_str(), e + 1, o_.n_epochs, loss_.back(),
                   secs);
    }
  }
  net_->eval();
}

bool Ncf::estimate(int32_t u, int32_t i, double& est) const {
  const TrainSet& t = ts();
  est = t.global_mean;
  if (!net_ || u < 0 || u >= t.n_users || i < 0 || i >= t.n_items) return false;
  NoGradGuard g;
  Variable uv(from_vector(std::vector<int64_t>{u}, {1}), false), iv(from_vector(std::vector<int64_t>{i}, {1}), false);
  est = net_->forward(uv, iv).data().item<float>();
  return true;
}

void Ncf::score_items(int32_t u, std::vector<float>& scores) const {
  const TrainSet& t = ts();
  scores.assign(size_t(t.n_items), 0.0f);
  if (!net_ || t.n_items == 0) return;
  NoGradGuard g;
  Variable uv(full({int64_t(t.n_items)}, double(u), DType::i64), false);
  Variable iv(arange(int64_t(t.n_items)), false);
  Tensor s = net_->forward(uv, iv).data().contiguous();
  std::copy(s.data<float>(), s.data<float>() + t.n_items, scores.begin());
}

const std::vector<float>* Ncf::item_factors(int& k) const {
  k = 0;
  if (!net_) return nullptr;
  const auto& e = net_->gmf ? net_->gmf_item : net_->mlp_item;
  for (auto& [name, v] : e->named_parameters()) {
    Tensor w = v.data().contiguous();  // (n_items, dim)
    k = int(w.size(1));
    item_factors_.assign(w.data<float>(), w.data<float>() + w.numel());
  }
  return &item_factors_;
}

void Ncf::save_params(BinWriter& w) const {
  KUN_CHECK(net_ != nullptr, ValueError, "ncf: save before fit");
  auto params = net_->named_parameters();
  w.u64(params.size());
  for (auto& [name, v] : params) {
    w.str(name);
    Tensor c = v.data().contiguous();
    w.vec(std::vector<float>(c.data<float>(), c.data<float>() + c.numel()));
  }
}

void Ncf::load_params(BinReader& r) {
  build();
  auto params = net_->named_parameters();
  if (r.u64() != params.size()) r.fail("ncf parameter count differs from the model's options");
  for (auto& [name, v] : params) {
    if (r.str() != name) r.fail("ncf parameter '" + name + "' missing or out of order");
    std::vector<float> data = r.vec<float>();
    if (int64_t(data.size()) != v.data().numel()) r.fail("ncf parameter '" + name + "' has the wrong size");
    v.data().copy_(from_vector(data, v.data().shape()));
  }
  net_->eval();
}

}  // namespace kun::recsys
