// Sequence text classifiers on word ids, their training loop, masked-language-model pre-training
// and classification metrics:
//   - BiLSTMClassifier: Embedding -> bidirectional LSTM (last states, padding-aware) -> Dense relu -> Dense;
//   - TextTransformer: token + learned position embeddings -> Transformer encoder (padding mask) ->
//     a classification head (mask-aware mean or first token) and a masked-LM head tied to the
//     token embedding, so one module is pre-trained with MLM and then fine-tuned;
//   - fit_classifier: mini-batch training with Keras-like progress, Adam / AdamW, linear warm-up and
//     decay, gradient clipping, the epoch with the best validation accuracy kept;
//   - pretrain_mlm: BERT-style masking (15% of the real tokens: 80% [MASK], 10% random, 10% kept);
//   - classification_report: accuracy, per-class precision / recall / F1 and the confusion matrix.
//
// Ids are (N, L) int64 padded at the END with pad_id (0), as pad_sequences(padding = post) makes.
// A row of only padding (an empty text) is defined: the LSTM reads one padding step, the
// Transformer's mean pooling gives zeros (its attention to nothing is zero), never NaN.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kun/nn/layers.h"
#include "kun/nn/module.h"
#include "kun/nn/recurrent.h"
#include "kun/nn/transformer.h"

namespace kun::text {

struct BiLSTMClassifierOptions {
  int64_t vocab_size = 10000;
  int64_t embedding_dim = 64;
  int64_t hidden = 64;        // per direction
  int64_t dense = 64;         // the relu layer after the LSTM (0: none)
  int64_t num_classes = 2;
  double dropout = 0.0;       // on the LSTM's output features, in training
  int64_t pad_id = 0;
};
// ids (N, L) -> logits (N, num_classes).
class BiLSTMClassifier : public nn::Module {
 public:
  explicit BiLSTMClassifier(BiLSTMClassifierOptions opt);
  BiLSTMClassifier(const nn::json& c, nn::FromConfig);
  Variable forward(const Variable& ids) override;
  std::string type_name() const override { return "text_bilstm_classifier"; }
  nn::json config() const override;

 private:
  BiLSTMClassifierOptions opt_;
  std::shared_ptr<nn::Embedding> embed_;
  std::shared_ptr<nn::LSTM> lstm_;
  std::shared_ptr<nn::Dense> dense_, out_;
};

struct TextTransformerOptions {
  int64_t vocab_size = 10000;  // including pad (0) and the [MASK] id (vocab_size - 1 by convention)
  int64_t max_len = 256;
  int64_t d_model = 128;
  int64_t nhead = 4;
  int64_t num_layers = 2;
  int64_t dim_feedforward = 512;
  double dropout = 0.1;
  std::string activation = "gelu";
  bool norm_first = true;      // pre-norm (a final LayerNorm follows the stack)
  std::string pooling = "mean";  // "mean" (mask-aware) | "cls" (first token)
  int64_t num_classes = 2;
  int64_t pad_id = 0;
};
class TextTransformer : public nn::Module {
 public:
  explicit TextTransformer(TextTransformerOptions opt);
  TextTransformer(const nn::json& c, nn::FromConfig);
  // ids (N, L), L <= max_len -> classification logits (N, num_classes).
  Variable forward(const Variable& ids) override;
  // ids (N, L) -> contextual vectors (N, L, d_model).
  Variable encode(const Tensor& ids);
  // MLM logits (M, vocab_size) at the flat positions (M) int64 of the (N, L) input.
  Variable mlm_logits(const Tensor& ids, const Tensor& positions);
  std::string type_name() const override { return "text_transformer"; }
  nn::json config() const override;
  const TextTransformerOptions& options() const { return opt_; }
  int64_t mask_id() const { return opt_.vocab_size - 1; }

 private:
  TextTransformerOptions opt_;
  std::shared_ptr<nn::Embedding> embed_;
  std::shared_ptr<nn::PositionalEmbedding> pos_;
  std::shared_ptr<nn::TransformerEncoder> encoder_;
  std::shared_ptr<nn::ClassificationHead> head_;
  std::shared_ptr<nn::MaskedLMHead> mlm_;
};

// Registers the text modules for nn::Module::from_config (idempotent).
void register_text_modules();

struct TrainLoopOptions {
  int epochs = 3;
  int64_t batch_size = 32;
  std::string optimizer = "adam";  // "adam" | "adamw"
  double lr = 1e-3;
  double weight_decay = 0.0;       // adamw only
  double warmup = 0.0;             // fraction of all steps with a linear warm-up from 0
  std::string schedule = "constant";  // after warm-up: "constant" | "linear" (to 0 at the last step)
  double clip_norm = 0.0;          // > 0: clip the global gradient norm
  uint64_t seed = 1;
  int verbose = 1;                 // 0 silent, 1 progress bar, 2 one line per epoch
  FILE* out = nullptr;             // progress output (null: stdout)
  double mask_prob = 0.15;         // pretrain_mlm
};

struct FitResult {
  int best_epoch = 0;        // 1-based; 0 without validation data
  double best_val_accuracy = 0;
  std::vector<double> train_loss, val_accuracy;  // per epoch
  double seconds = 0;
};

// Trains `model` (ids (N, L) -> logits (N, C); C == 1 means one sigmoid logit) on x (N, L) int64
// and y (N) int64 class ids. With validation data the weights of the epoch with the best
// validation accuracy are restored at the end. Stops with TrainingError on a non-finite loss.
FitResult fit_classifier(nn::Module& model, const Tensor& x, const Tensor& y, const Tensor& x_val,
                         const Tensor& y_val, const TrainLoopOptions& opt);

// Masked-language-model pre-training of `model` on x (N, L) int64 (padding = pad_id, never masked
// nor predicted). Returns the mean MLM loss per epoch.
std::vector<double> pretrain_mlm(TextTransformer& model, const Tensor& x, const TrainLoopOptions& opt);

// Class probabilities (N, C) in eval mode without gradients (softmax, or sigmoid for C == 1
// giving two columns [1 - p, p]).
Tensor predict_proba(nn::Module& model, const Tensor& x, int64_t batch_size = 256);

struct ClassificationReport {
  std::vector<std::string> labels;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  double accuracy = 0;
  std::vector<double> precision, recall, f1;    // per class (0 when undefined: nothing predicted / present)
  double macro_f1 = 0;
  int64_t count = 0;
  std::string str() const;  // a readable table
};
ClassificationReport classification_report(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                           const std::vector<std::string>& labels);

}  // namespace kun::text
