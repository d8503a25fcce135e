// Bag-of-embeddings text classifiers:
//  - embedding_bag / masked_mean: differentiable mean of embeddings over the non-padding positions;
//  - BagOfEmbeddings: the seeds' IMDB model, Embedding(V, D) -> mean -> Dense(H, relu) -> Dense(1),
//    an nn::Module trained with any kun optimizer and loss;
//  - FastText: fastText-style classifier (word unigrams + hashed word n-grams, averaged, linear,
//    softmax), trained with its own sparse SGD (only the rows a text touches are updated), which is
//    what makes millions of hashed buckets cheap.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kun/apps/text/tokenizer.h"
#include "kun/autograd/variable.h"
#include "kun/nn/layers.h"
#include "kun/nn/module.h"

namespace kun::text {

// ids: (N, L) int64 in [0, V); weight: (V, D) -> (N, D): row n is the mean of weight[ids[n, l]]
// over the positions with ids[n, l] != pad_id (pad_id < 0: over all L positions, like Keras'
// GlobalAveragePooling1D without a mask). A row of only padding gives zeros (never NaN).
// Fused (the (N, L, D) embedding output is never materialized); backward scatters into weight.
Variable embedding_bag(const Tensor& ids, const Variable& weight, int64_t pad_id = 0);
// x: (N, L, D), ids: (N, L) -> (N, D) mean of x over positions with ids != pad_id (composed op).
Variable masked_mean(const Variable& x, const Tensor& ids, int64_t pad_id = 0);

struct BagOfEmbeddingsOptions {
  int64_t vocab_size = 10000;
  int64_t embedding_dim = 16;
  int64_t hidden = 16;        // 0: no hidden layer
  int64_t outputs = 1;        // 1: one logit for a sigmoid / binary cross-entropy
  bool mask_padding = true;   // false: average over padded positions too (Keras without masking)
  int64_t pad_id = 0;
};
// ids: (N, L) int64 in the Variable's data -> logits (N, outputs).
class BagOfEmbeddings : public nn::Module {
 public:
  explicit BagOfEmbeddings(BagOfEmbeddingsOptions opt = {});
  Variable forward(const Variable& ids) override;
  std::string type_name() const override { return "bag_of_embeddings"; }
  nn::json config() const override;

 private:
  BagOfEmbeddingsOptions opt_;
  Variable embedding_;  // (V, D)
  std::shared_ptr<nn::Dense> hidden_, out_;
};

struct FastTextOptions {
  int64_t dim = 10;
  int64_t buckets = 2000000;   // hashed n-gram rows
  int64_t word_ngrams = 2;     // 1: unigrams only; 2: + bigrams; 3: + trigrams
  int64_t min_count = 1;       // rarer words get no unigram row (their n-grams are still hashed)
  double lr = 0.1;             // decays linearly to 0 over all epochs
  int64_t epochs = 5;
  uint64_t seed = 1;
  NormalizeOptions normalize = {.lower = true, .strip_html = true, .punctuation = Punctuation::split};
};

class FastText {
 public:
  explicit FastText(FastTextOptions opt = {});
  // Word vocabulary (words with count >= min_count) from the training texts.
  void build_vocab(const std::vector<std::string>& texts);
  // Row ids of a text: known words, then hashed n-grams (offset by the word count).
  std::vector<int32_t> features(std::string_view text) const;
  std::vector<std::vector<int32_t>> features(const std::vector<std::string>& texts) const;
  // Trains opt.epochs epochs over (features, labels) in a seeded shuffled order; on_epoch(e) runs
  // after each epoch (e from 1) — e.g. to evaluate a validation split and snapshot() — and stops
  // training early by returning false (the learning-rate schedule still spans opt.epochs).
  // on_step(epoch, texts_done_in_epoch) runs every 256 texts (progress display).
  void fit(const std::vector<std::vector<int32_t>>& x, const std::vector<int64_t>& y, int64_t num_classes,
           const std::function<bool(int64_t epoch)>& on_epoch = {},
           const std::function<void(int64_t epoch, int64_t done)>& on_step = {});
  std::vector<float> predict_proba(const std::vector<int32_t>& f) const;
  int64_t predict(const std::vector<int32_t>& f) const;
  double accuracy(const std::vector<std::vector<int32_t>>& x, const std::vector<int64_t>& y) const;

  // Copy of the weights, and restoring one (to keep the best validation epoch).
  struct Weights {
    std::vector<float> input, output;
  };
  Weights snapshot() const { return {input_, output_}; }
  void restore(const Weights& w) { input_ = w.input, output_ = w.output; }
  int64_t num_words() const { return static_cast<int64_t>(words_.size()); }

  // Saving: the options, the vocabulary by row id, and the weights (input (rows, dim), output (classes, dim)).
  const FastTextOptions& options() const { return opt_; }
  int64_t num_classes() const { return classes_; }
  std::vector<std::string> vocabulary() const;
  // Rebuilds a trained model; sizes are checked against the options (ValueError on mismatch).
  void set_state(const std::vector<std::string>& vocabulary, const Weights& w, int64_t num_classes);

 private:
  FastTextOptions opt_;
  std::unordered_map<std::string, int32_t> words_;
  int64_t classes_ = 0;
  std::vector<float> input_;   // (num_words + buckets, dim)
  std::vector<float> output_;  // (classes, dim)
};

}  // namespace kun::text
