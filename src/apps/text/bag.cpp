#include "kun/apps/text/bag.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "kun/apps/text/unicode.h"
#include "kun/autograd/ops.h"
#include "kun/core/error.h"
#include "kun/core/rng.h"
#include "kun/tensor/ops.h"

namespace kun::text {

Variable embedding_bag(const Tensor& ids_in, const Variable& weight, int64_t pad_id) {
  KUN_CHECK(ids_in.dim() == 2 && (ids_in.dtype() == DType::i64 || ids_in.dtype() == DType::i32), ShapeError,
            "embedding_bag: ids must be (N, L) int64/int32, got ", ids_in.shape().str(), " ",
            dtype_name(ids_in.dtype()));
  KUN_CHECK(weight.dim() == 2 && weight.dtype() == DType::f32, ShapeError,
            "embedding_bag: weight must be (V, D) float32, got ", weight.shape().str(), " ",
            dtype_name(weight.dtype()));
  const Tensor ids = ids_in.to(DType::i64).contiguous();
  const Tensor w = weight.data().contiguous();
  const int64_t n = ids.size(0), len = ids.size(1), v = w.size(0), d = w.size(1);
  const int64_t* id = ids.data<int64_t>();
  for (int64_t i = 0; i < n * len; ++i)
    KUN_CHECK(id[i] >= 0 && id[i] < v, IndexError, "embedding_bag: id ", id[i], " at position ", i,
              " out of range [0, ", v, ")");
  // out: (N, D); scale[n] = 1 / (number of counted positions) or 0 for an all-padding row.
  Tensor out = zeros({n, d});
  Tensor scale = Tensor::empty({n});
  float* o = out.data<float>();
  float* sc = scale.data<float>();
  const float* wp = w.data<float>();
#pragma omp parallel for schedule(static) if (n * len * d > 65536)
  for (int64_t r = 0; r < n; ++r) {
    int64_t count = 0;
    float* orow = o + r * d;
    for (int64_t l = 0; l < len; ++l) {
      const int64_t t = id[r * len + l];
      if (t == pad_id) continue;
      ++count;
      const float* wr = wp + t * d;
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) orow[k] += wr[k];
    }
    sc[r] = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
    for (int64_t k = 0; k < d; ++k) orow[k] *= sc[r];
  }
  return make_result(out, {weight}, "embedding_bag", [ids, scale, pad_id, v, d](const Tensor& g_in, Node& node) {
    Variable& wv = node.inputs[0];
    if (!wv.requires_grad()) return;
    const Tensor g = g_in.contiguous();
    Tensor gw = zeros({v, d});
    float* gp = gw.data<float>();
    const float* go = g.data<float>();
    const float* sc = scale.data<float>();
    const int64_t* id = ids.data<int64_t>();
    const int64_t n = ids.size(0), len = ids.size(1);
    for (int64_t r = 0; r < n; ++r) {  // serial: rows share weight rows
      for (int64_t l = 0; l < len; ++l) {
        const int64_t t = id[r * len + l];
        if (t == pad_id) continue;
        float* gr = gp + t * d;
        for (int64_t k = 0; k < d; ++k) gr[k] += go[r * d + k] * sc[r];
      }
    }
    wv.accumulate_grad(gw);
  });
}

Variable masked_mean(const Variable& x, const Tensor& ids, int64_t pad_id) {
  KUN_CHECK(x.dim() == 3 && ids.dim() == 2 && ids.size(0) == x.size(0) && ids.size(1) == x.size(1), ShapeError,
            "masked_mean: expected x (N, L, D) and ids (N, L), got ", x.shape().str(), " and ", ids.shape().str());
  // mask: (N, L, 1) 1 where counted; count: (N, 1) clamped to >= 1 so all-padding rows give 0.
  Tensor keep = ne(ids, static_cast<double>(pad_id)).to(x.dtype());
  Tensor count = clamp(sum(keep, {1}, true), 1.0, std::nullopt);
  Variable masked = mul(x, Variable(keep.unsqueeze(2)));
  return div(sum(masked, {1}), Variable(count));
}

BagOfEmbeddings::BagOfEmbeddings(BagOfEmbeddingsOptions opt) : opt_(opt) {
  KUN_CHECK(opt_.vocab_size > 0 && opt_.embedding_dim > 0 && opt_.outputs > 0 && opt_.hidden >= 0, ValueError,
            "BagOfEmbeddings: vocab_size, embedding_dim and outputs must be > 0, hidden >= 0");
  // Keras' Embedding initializer: U(-0.05, 0.05).
  Tensor w = add(mul(rand({opt_.vocab_size, opt_.embedding_dim}), 0.1), -0.05);
  embedding_ = register_parameter("embedding", w);
  const int64_t d = opt_.embedding_dim;
  if (opt_.hidden > 0)
    hidden_ = register_module("hidden", std::make_shared<nn::Dense>(
                                            nn::DenseOptions{.units = opt_.hidden, .in_features = d, .activation = "relu"}));
  out_ = register_module("out", std::make_shared<nn::Dense>(nn::DenseOptions{
                                    .units = opt_.outputs, .in_features = opt_.hidden > 0 ? opt_.hidden : d}));
}

Variable BagOfEmbeddings::forward(const Variable& ids) {
  Variable h = embedding_bag(ids.data(), embedding_, opt_.mask_padding ? opt_.pad_id : -1);
  if (hidden_) h = hidden_->forward(h);
  return out_->forward(h);
}

nn::json BagOfEmbeddings::config() const {
  return {{"vocab_size", opt_.vocab_size}, {"embedding_dim", opt_.embedding_dim}, {"hidden", opt_.hidden},
          {"outputs", opt_.outputs},       {"mask_padding", opt_.mask_padding},   {"pad_id", opt_.pad_id}};
}

// ---------------- FastText ----------------

namespace {
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    size_t j = i;
    while (j < s.size() && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}
}  // namespace

FastText::FastText(FastTextOptions opt) : opt_(opt) {
  KUN_CHECK(opt_.dim > 0 && opt_.buckets >= 0 && opt_.word_ngrams >= 1 && opt_.epochs >= 0 && opt_.lr > 0, ValueError,
            "FastText: need dim > 0, buckets >= 0, word_ngrams >= 1, epochs >= 0, lr > 0");
}

void FastText::build_vocab(const std::vector<std::string>& texts) {
  std::unordered_map<std::string, int64_t> counts;
  std::vector<std::string> order;
  for (const auto& t : texts) {
    const std::string s = normalize(t, opt_.normalize);
    for (auto w : split_ws(s)) {
      auto [it, fresh] = counts.try_emplace(std::string(w), 0);
      if (fresh) order.push_back(it->first);
      ++it->second;
    }
  }
  words_.clear();
  for (auto& w : order)
    if (counts[w] >= opt_.min_count) words_.emplace(w, static_cast<int32_t>(words_.size()));
}

std::vector<int32_t> FastText::features(std::string_view text) const {
  const std::string s = normalize(text, opt_.normalize);
  const auto toks = split_ws(s);
  std::vector<int32_t> f;
  std::vector<uint64_t> h(toks.size());
  for (size_t i = 0; i < toks.size(); ++i) {
    h[i] = fnv1a(toks[i]);
    auto it = words_.find(std::string(toks[i]));
    if (it != words_.end()) f.push_back(it->second);
  }
  if (opt_.buckets > 0) {
    const auto nw = static_cast<int64_t>(words_.size());
    for (size_t i = 0; i < toks.size(); ++i) {
      uint64_t g = h[i];
      for (int64_t n = 1; n < opt_.word_ngrams && i + n < toks.size(); ++n) {
        g = g * 116049371ull + h[i + n];
        f.push_back(static_cast<int32_t>(nw + static_cast<int64_t>(g % static_cast<uint64_t>(opt_.buckets))));
      }
    }
  }
  return f;
}

std::vector<std::vector<int32_t>> FastText::features(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> out(texts.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (size_t i = 0; i < texts.size(); ++i) out[i] = features(texts[i]);
  return out;
}

void FastText::fit(const std::vector<std::vector<int32_t>>& x, const std::vector<int64_t>& y, int64_t num_classes,
                   const std::function<bool(int64_t)>& on_epoch,
                   const std::function<void(int64_t, int64_t)>& on_step) {
  KUN_CHECK(x.size() == y.size() && !x.empty(), ValueError, "FastText::fit: need as many labels as texts (got ",
            x.size(), " texts, ", y.size(), " labels), at least one");
  KUN_CHECK(num_classes >= 2, ValueError, "FastText::fit: num_classes must be >= 2, got ", num_classes);
  for (auto l : y)
    KUN_CHECK(l >= 0 && l < num_classes, IndexError, "FastText::fit: label ", l, " out of [0, ", num_classes, ")");
  const int64_t d = opt_.dim, rows = num_words() + opt_.buckets;
  classes_ = num_classes;
  std::mt19937_64 rng(opt_.seed);
  std::uniform_real_distribution<float> uni(-1.0f / d, 1.0f / d);
  input_.resize(rows * d);
  for (auto& v : input_) v = uni(rng);
  output_.assign(num_classes * d, 0.0f);

  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  const double total = static_cast<double>(opt_.epochs) * static_cast<double>(x.size());
  double done = 0;
  std::vector<float> hid(d), grad(d), p(num_classes);
  for (int64_t epoch = 1; epoch <= opt_.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    int64_t in_epoch = 0;
    for (size_t idx : order) {
      if (on_step && (++in_epoch % 256 == 0 || in_epoch == static_cast<int64_t>(order.size())))
        on_step(epoch, in_epoch);
      const float lr = static_cast<float>(opt_.lr * (1.0 - done / total));
      done += 1;
      const auto& f = x[idx];
      if (f.empty()) continue;
      // hid = mean of the rows
      std::fill(hid.begin(), hid.end(), 0.0f);
      for (int32_t r : f) {
        const float* row = &input_[static_cast<size_t>(r) * d];
        for (int64_t k = 0; k < d; ++k) hid[k] += row[k];
      }
      const float inv = 1.0f / static_cast<float>(f.size());
      for (auto& v : hid) v *= inv;
      // softmax over classes (max-subtracted)
      float mx = -INFINITY;
      for (int64_t c = 0; c < num_classes; ++c) {
        float s = 0;
        for (int64_t k = 0; k < d; ++k) s += output_[c * d + k] * hid[k];
        p[c] = s;
        mx = std::max(mx, s);
      }
      float z = 0;
      for (auto& v : p) z += (v = std::exp(v - mx));
      std::fill(grad.begin(), grad.end(), 0.0f);
      for (int64_t c = 0; c < num_classes; ++c) {
        const float g = lr * ((c == y[idx] ? 1.0f : 0.0f) - p[c] / z);  // descent step on -log p[y]
        float* w = &output_[c * d];
        for (int64_t k = 0; k < d; ++k) {
          grad[k] += g * w[k];
          w[k] += g * hid[k];
        }
      }
      for (auto& v : grad) v *= inv;
      for (int32_t r : f) {
        float* row = &input_[static_cast<size_t>(r) * d];
        for (int64_t k = 0; k < d; ++k) row[k] += grad[k];
      }
    }
    if (on_epoch && !on_epoch(epoch)) break;
  }
}

std::vector<std::string> FastText::vocabulary() const {
  std::vector<std::string> v(words_.size());
  for (auto& [w, id] : words_) v[static_cast<size_t>(id)] = w;
  return v;
}

void FastText::set_state(const std::vector<std::string>& vocabulary, const Weights& w, int64_t num_classes) {
  const auto rows = static_cast<int64_t>(vocabulary.size()) + opt_.buckets;
  KUN_CHECK(num_classes >= 2 && static_cast<int64_t>(w.input.size()) == rows * opt_.dim &&
                static_cast<int64_t>(w.output.size()) == num_classes * opt_.dim,
            ValueError, "FastText::set_state: expected input ", rows, " x ", opt_.dim, " and output ", num_classes,
            " x ", opt_.dim, " weights, got ", w.input.size(), " and ", w.output.size(), " values");
  words_.clear();
  for (size_t i = 0; i < vocabulary.size(); ++i) words_.emplace(vocabulary[i], static_cast<int32_t>(i));
  KUN_CHECK(words_.size() == vocabulary.size(), ValueError, "FastText::set_state: the vocabulary has duplicate words");
  input_ = w.input, output_ = w.output, classes_ = num_classes;
}

std::vector<float> FastText::predict_proba(const std::vector<int32_t>& f) const {
  KUN_CHECK(classes_ > 0, ValueError, "FastText::predict_proba: the model is not trained (call fit)");
  const int64_t d = opt_.dim;
  std::vector<float> hid(d, 0.0f), p(classes_);
  for (int32_t r : f) {
    KUN_CHECK(r >= 0 && static_cast<size_t>(r) * d < input_.size(), IndexError, "FastText: feature id ", r,
              " out of range");
    for (int64_t k = 0; k < d; ++k) hid[k] += input_[static_cast<size_t>(r) * d + k];
  }
  if (!f.empty())
    for (auto& v : hid) v /= static_cast<float>(f.size());
  float mx = -INFINITY, z = 0;
  for (int64_t c = 0; c < classes_; ++c) {
    float s = 0;
    for (int64_t k = 0; k < d; ++k) s += output_[c * d + k] * hid[k];
    mx = std::max(mx, p[c] = s);
  }
  for (auto& v : p) z += (v = std::exp(v - mx));
  for (auto& v : p) v /= z;
  return p;
}

int64_t FastText::predict(const std::vector<int32_t>& f) const {
  auto p = predict_proba(f);
  return std::max_element(p.begin(), p.end()) - p.begin();
}

double FastText::accuracy(const std::vector<std::vector<int32_t>>& x, const std::vector<int64_t>& y) const {
  int64_t ok = 0;
#pragma omp parallel for reduction(+ : ok) schedule(static)
  for (size_t i = 0; i < x.size(); ++i) ok += predict(x[i]) == y[i];
  return x.empty() ? 0.0 : static_cast<double>(ok) / static_cast<double>(x.size());
}

}  // namespace kun::text
