#include "kun/apps/text/classifier.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <random>
#include <sstream>

#include "kun/autograd/ops.h"
#include "kun/core/error.h"
#include "kun/core/rng.h"
#include "kun/optim/adam.h"
#include "kun/optim/clip.h"
#include "kun/tensor/ops.h"
#include "kun/train/model.h"
#include "kun/train/progress.h"

namespace kun::text {

namespace {
void check_ids(const Tensor& ids, int64_t vocab, const char* who) {
  KUN_CHECK(ids.defined() && ids.dim() == 2 && ids.dtype() == DType::i64, ShapeError, who,
            ": ids must be (N, L) int64, got ", ids.defined() ? ids.shape().str() : std::string("undefined"));
  const int64_t* p = ids.data<int64_t>();
  for (int64_t i = 0, n = ids.numel(); i < n; ++i)
    KUN_CHECK(p[i] >= 0 && p[i] < vocab, IndexError, who, ": id ", p[i], " at flat position ", i,
              " is outside the vocabulary [0, ", vocab, "); was the text encoded with this model's tokenizer?");
}
}  // namespace

// ---------------- BiLSTMClassifier ----------------

BiLSTMClassifier::BiLSTMClassifier(BiLSTMClassifierOptions opt) : opt_(opt) {
  KUN_CHECK(opt_.vocab_size > 1 && opt_.embedding_dim > 0 && opt_.hidden > 0 && opt_.dense >= 0 &&
                opt_.num_classes >= 1 && opt_.dropout >= 0 && opt_.dropout < 1,
            ValueError,
            "BiLSTMClassifier: need vocab_size > 1, embedding_dim > 0, hidden > 0, dense >= 0, num_classes >= 1, "
            "dropout in [0, 1)");
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
                                        .num_embeddings = opt_.vocab_size, .embedding_dim = opt_.embedding_dim,
                                        .padding_idx = opt_.pad_id, .initializer = "uniform"}));
  lstm_ = register_module("lstm", std::make_shared<nn::LSTM>(nn::RecurrentOptions{
                                      .hidden_size = opt_.hidden, .input_size = opt_.embedding_dim,
                                      .bidirectional = true}));
  const int64_t feat = 2 * opt_.hidden;
  if (opt_.dense > 0)
    dense_ = register_module("dense", std::make_shared<nn::Dense>(nn::DenseOptions{
                                          .units = opt_.dense, .in_features = feat, .activation = "relu"}));
  out_ = register_module("out", std::make_shared<nn::Dense>(nn::DenseOptions{
                                    .units = opt_.num_classes, .in_features = opt_.dense > 0 ? opt_.dense : feat}));
}

BiLSTMClassifier::BiLSTMClassifier(const nn::json& c, nn::FromConfig)
    : BiLSTMClassifier(BiLSTMClassifierOptions{
          .vocab_size = c.value("vocab_size", int64_t{10000}), .embedding_dim = c.value("embedding_dim", int64_t{64}),
          .hidden = c.value("hidden", int64_t{64}), .dense = c.value("dense", int64_t{64}),
          .num_classes = c.value("num_classes", int64_t{2}), .dropout = c.value("dropout", 0.0),
          .pad_id = c.value("pad_id", int64_t{0})}) {}

nn::json BiLSTMClassifier::config() const {
  return {{"vocab_size", opt_.vocab_size}, {"embedding_dim", opt_.embedding_dim}, {"hidden", opt_.hidden},
          {"dense", opt_.dense},           {"num_classes", opt_.num_classes},     {"dropout", opt_.dropout},
          {"pad_id", opt_.pad_id}};
}

Variable BiLSTMClassifier::forward(const Variable& ids_v) {
  const Tensor ids = ids_v.data();
  check_ids(ids, opt_.vocab_size, "BiLSTMClassifier");
  // True lengths (trailing pad_id is padding); an all-padding row reads one step so every
  // sequence has a defined final state.
  Tensor lengths = nn::lengths_from_ids(ids, opt_.pad_id);
  int64_t* lp = lengths.data<int64_t>();
  for (int64_t i = 0; i < lengths.numel(); ++i) lp[i] = std::max<int64_t>(lp[i], 1);
  Variable h = lstm_->forward_masked(embed_->forward(ids_v), lengths);  // (N, 2H)
  h = dropout(h, opt_.dropout, is_training());
  if (dense_) h = dense_->forward(h);
  return out_->forward(h);
}

// ---------------- TextTransformer ----------------

TextTransformer::TextTransformer(TextTransformerOptions opt) : opt_(opt) {
  KUN_CHECK(opt_.vocab_size > 2 && opt_.max_len > 0 && opt_.d_model > 0 && opt_.nhead > 0 &&
                opt_.d_model % opt_.nhead == 0 && opt_.num_layers > 0 && opt_.num_classes >= 1,
            ValueError,
            "TextTransformer: need vocab_size > 2, max_len > 0, d_model divisible by nhead, num_layers > 0, "
            "num_classes >= 1 (got d_model ", opt_.d_model, ", nhead ", opt_.nhead, ")");
  KUN_CHECK(opt_.pooling == "mean" || opt_.pooling == "cls", ValueError,
            "TextTransformer: pooling must be \"mean\" or \"cls\", got \"", opt_.pooling, "\"");
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
                                        .num_embeddings = opt_.vocab_size, .embedding_dim = opt_.d_model, .padding_idx = std::nullopt}));
  // BERT-style small init of the token table (N(0, 1) would swamp the position embedding).
  {
    Tensor w = embed_->parameter("weight").data();
    w.copy_(mul(randn(w.shape()), 0.02));
  }
  pos_ = register_module("pos", std::make_shared<nn::PositionalEmbedding>(
                                    nn::PositionalEmbeddingOptions{.max_len = opt_.max_len, .dim = opt_.d_model}));
  nn::TransformerStackOptions so;
  so.layer = {.d_model = opt_.d_model, .nhead = opt_.nhead, .dim_feedforward = opt_.dim_feedforward,
              .dropout = opt_.dropout, .activation = opt_.activation, .norm_first = opt_.norm_first};
  so.num_layers = opt_.num_layers;
  so.final_norm = opt_.norm_first;
  encoder_ = register_module("encoder", std::make_shared<nn::TransformerEncoder>(so));
  head_ = register_module("head", std::make_shared<nn::ClassificationHead>(nn::ClassificationHeadOptions{
                                      .d_model = opt_.d_model, .num_classes = opt_.num_classes,
                                      .pooling = opt_.pooling, .dropout = opt_.dropout}));
  mlm_ = register_module("mlm", std::make_shared<nn::MaskedLMHead>(
                                    nn::MaskedLMHeadOptions{.d_model = opt_.d_model, .vocab_size = opt_.vocab_size},
                                    embed_->parameter("weight")));
}

TextTransformer::TextTransformer(const nn::json& c, nn::FromConfig)
    : TextTransformer(TextTransformerOptions{
          .vocab_size = c.value("vocab_size", int64_t{10000}), .max_len = c.value("max_len", int64_t{256}),
          .d_model = c.value("d_model", int64_t{128}), .nhead = c.value("nhead", int64_t{4}),
          .num_layers = c.value("num_layers", int64_t{2}), .dim_feedforward = c.value("dim_feedforward", int64_t{512}),
          .dropout = c.value("dropout", 0.1), .activation = c.value("activation", std::string("gelu")),
          .norm_first = c.value("norm_first", true), .pooling = c.value("pooling", std::string("mean")),
          .num_classes = c.value("num_classes", int64_t{2}), .pad_id = c.value("pad_id", int64_t{0})}) {}

nn::json TextTransformer::config() const {
  return {{"vocab_size", opt_.vocab_size}, {"max_len", opt_.max_len},
          {"d_model", opt_.d_model},       {"nhead", opt_.nhead},
          {"num_layers", opt_.num_layers}, {"dim_feedforward", opt_.dim_feedforward},
          {"dropout", opt_.dropout},       {"activation", opt_.activation},
          {"norm_first", opt_.norm_first}, {"pooling", opt_.pooling},
          {"num_classes", opt_.num_classes}, {"pad_id", opt_.pad_id}};
}

Variable TextTransformer::encode(const Tensor& ids) {
  check_ids(ids, opt_.vocab_size, "TextTransformer");
  KUN_CHECK(ids.size(1) <= opt_.max_len, ShapeError, "TextTransformer: sequence length ", ids.size(1),
            " exceeds max_len ", opt_.max_len, "; truncate the ids (pad_sequences maxlen) first");
  AttentionMask mask;
  mask.key_padding_mask = eq(ids, static_cast<double>(opt_.pad_id));  // (N, L) true = padding
  Variable x = pos_->forward(embed_->forward(Variable(ids)));
  x = dropout(x, opt_.dropout, is_training());
  return encoder_->forward_masked(x, mask);  // (N, L, d)
}

Variable TextTransformer::forward(const Variable& ids_v) {
  const Tensor ids = ids_v.data();
  Variable h = encode(ids);
  return head_->forward_masked(h, eq(ids, static_cast<double>(opt_.pad_id)));
}

Variable TextTransformer::mlm_logits(const Tensor& ids, const Tensor& positions) {
  Variable h = encode(ids);                                           // (N, L, d)
  Variable flat = reshape(h, {ids.size(0) * ids.size(1), opt_.d_model});  // (N*L, d)
  return mlm_->forward(index_select(flat, 0, positions));             // (M, V)
}

void register_text_modules() {
  static const bool once = [] {
    nn::Module::register_type("text_bilstm_classifier", [](const nn::json& c) {
      return std::make_shared<BiLSTMClassifier>(c, nn::FromConfig{});
    });
    nn::Module::register_type("text_transformer", [](const nn::json& c) {
      return std::make_shared<TextTransformer>(c, nn::FromConfig{});
    });
    return true;
  }();
  (void)once;
}

// ---------------- training ----------------

namespace {
using Clock = std::chrono::steady_clock;

std::unique_ptr<optim::Optimizer> make_opt(const std::vector<Variable>& params, const TrainLoopOptions& o) {
  KUN_CHECK(o.optimizer == "adam" || o.optimizer == "adamw", ValueError,
            "text training: optimizer must be \"adam\" or \"adamw\", got \"", o.optimizer, "\"");
  if (o.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(params, optim::AdamWOptions{.lr = o.lr, .weight_decay = o.weight_decay});
  return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = o.lr});
}

void check_loop(const TrainLoopOptions& o) {
  KUN_CHECK(o.epochs >= 1 && o.batch_size >= 1 && o.lr > 0 && o.warmup >= 0 && o.warmup < 1 && o.clip_norm >= 0,
            ValueError, "text training: need epochs >= 1, batch_size >= 1, lr > 0, warmup in [0, 1), clip_norm >= 0");
  KUN_CHECK(o.schedule == "constant" || o.schedule == "linear", ValueError,
            "text training: schedule must be \"constant\" or \"linear\", got \"", o.schedule, "\"");
}

// lr at step s (0-based) of `total`: linear warm-up over warmup*total steps, then constant or linear to 0.
double lr_at(const TrainLoopOptions& o, int64_t s, int64_t total) {
  const double w = std::floor(o.warmup * static_cast<double>(total));
  if (w > 0 && static_cast<double>(s) < w) return o.lr * (static_cast<double>(s) + 1) / w;
  if (o.schedule == "linear") {
    const double rest = std::max(1.0, static_cast<double>(total) - w);
    return o.lr * std::max(0.0, 1.0 - (static_cast<double>(s) - w) / rest);
  }
  return o.lr;
}

double clip_and_check(const std::vector<Variable>& params, const TrainLoopOptions& o, double loss, int epoch,
                      int64_t step) {
  KUN_CHECK(std::isfinite(loss), train::TrainingError, "text training: the loss is not finite (", loss,
            ") at epoch ", epoch, " step ", step, "; lower the learning rate or add clip_norm");
  return o.clip_norm > 0 ? optim::clip_grad_norm(params, o.clip_norm) : 0.0;
}

double accuracy_of(nn::Module& model, const Tensor& x, const Tensor& y) {
  if (!x.defined() || x.size(0) == 0) return 0;
  Tensor p = predict_proba(model, x);
  const int64_t n = p.size(0), c = p.size(1);
  const float* pp = p.data<float>();
  const int64_t* yy = y.data<int64_t>();
  int64_t ok = 0;
  for (int64_t i = 0; i < n; ++i) ok += (std::max_element(pp + i * c, pp + (i + 1) * c) - (pp + i * c)) == yy[i];
  return static_cast<double>(ok) / static_cast<double>(n);
}
}  // namespace

Tensor predict_proba(nn::Module& model, const Tensor& x, int64_t batch_size) {
  NoGradGuard ng;
  const bool was = model.is_training();
  model.eval();
  const int64_t n = x.size(0);
  std::vector<Tensor> parts;
  for (int64_t b = 0; b < n; b += batch_size) {
    const int64_t m = std::min(batch_size, n - b);
    Tensor logits = model.forward(Variable(x.narrow(0, b, m).contiguous())).data().contiguous();
    if (logits.size(1) == 1) {
      Tensor p1 = sigmoid(logits);
      parts.push_back(concat({sub(ones_like(p1), p1), p1}, 1));
    } else {
      parts.push_back(softmax(logits, 1));
    }
  }
  model.train(was);
  if (parts.empty()) return zeros({0, 2});
  return concat(parts, 0).contiguous();
}

FitResult fit_classifier(nn::Module& model, const Tensor& x, const Tensor& y, const Tensor& x_val,
                         const Tensor& y_val, const TrainLoopOptions& opt) {
  check_loop(opt);
  KUN_CHECK(x.defined() && x.dim() == 2 && y.defined() && y.dim() == 1 && y.size(0) == x.size(0) && x.size(0) > 0 &&
                y.dtype() == DType::i64,
            ShapeError, "fit_classifier: need x (N, L) and y (N) int64 with N > 0");
  const int64_t n = x.size(0);
  const int64_t steps = (n + opt.batch_size - 1) / opt.batch_size, total = steps * opt.epochs;
  auto params = model.parameters();
  auto optimizer = make_opt(params, opt);
  Generator gen(opt.seed);
  train::ProgressBar bar({.out = opt.out ? opt.out : stdout, .verbose = opt.verbose});
  const bool validate = x_val.defined() && x_val.size(0) > 0;
  FitResult res;
  std::vector<Tensor> best;
  const auto t0 = Clock::now();
  int64_t gstep = 0;
  model.train();
  for (int e = 1; e <= opt.epochs; ++e) {
    Tensor order = randperm(n, &gen);
    const int64_t* ord = order.data<int64_t>();
    bar.begin_epoch(e, opt.epochs, steps);
    double loss_sum = 0;
    int64_t ok = 0, seen = 0;
    for (int64_t s = 0; s < steps; ++s, ++gstep) {
      const int64_t b = s * opt.batch_size, m = std::min(opt.batch_size, n - b);
      Tensor idx = from_vector(std::vector<int64_t>(ord + b, ord + b + m));
      Tensor xb = index_select(x, 0, idx), yb = index_select(y, 0, idx);
      optimizer->set_lr(lr_at(opt, gstep, total));
      Variable logits = model.forward(Variable(xb));
      Variable loss = logits.size(1) == 1
                          ? binary_cross_entropy_with_logits(logits, yb.to(DType::f32).reshape({m, 1}))
                          : cross_entropy(logits, yb);
      optimizer->zero_grad();
      loss.backward();
      const double lv = loss.item<float>();
      clip_and_check(params, opt, lv, e, s + 1);
      optimizer->step();
      // running accuracy from this batch's logits (before the update)
      const Tensor lg = logits.data().contiguous();
      const float* lp = lg.data<float>();
      const int64_t* yp = yb.data<int64_t>();
      const int64_t c = lg.size(1);
      for (int64_t i = 0; i < m; ++i) {
        const int64_t pred = c == 1 ? (lp[i] > 0) : std::max_element(lp + i * c, lp + (i + 1) * c) - (lp + i * c);
        ok += pred == yp[i];
      }
      seen += m;
      loss_sum += lv * static_cast<double>(m);
      bar.update(s + 1, {{"loss", loss_sum / seen}, {"accuracy", static_cast<double>(ok) / seen}});
    }
    res.train_loss.push_back(loss_sum / static_cast<double>(seen));
    train::Figures fig = {{"loss", loss_sum / seen}, {"accuracy", static_cast<double>(ok) / seen}};
    if (validate) {
      const double va = accuracy_of(model, x_val, y_val);
      res.val_accuracy.push_back(va);
      fig.push_back({"val_accuracy", va});
      if (va > res.best_val_accuracy || res.best_epoch == 0) {
        res.best_val_accuracy = va, res.best_epoch = e;
        best.clear();
        for (auto& [name, t] : model.state_dict()) best.push_back(t.clone());
      }
    }
    bar.end_epoch(fig);
  }
  if (validate && !best.empty()) {
    size_t i = 0;
    for (auto& [name, t] : model.state_dict()) Tensor(t).copy_(best[i++]);
  }
  model.eval();
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

std::vector<double> pretrain_mlm(TextTransformer& model, const Tensor& x, const TrainLoopOptions& opt) {
  check_loop(opt);
  KUN_CHECK(x.defined() && x.dim() == 2 && x.dtype() == DType::i64 && x.size(0) > 0, ShapeError,
            "pretrain_mlm: x must be (N, L) int64 with N > 0");
  KUN_CHECK(opt.mask_prob > 0 && opt.mask_prob < 1, ValueError, "pretrain_mlm: mask_prob must be in (0, 1), got ",
            opt.mask_prob);
  const int64_t n = x.size(0), L = x.size(1), V = model.options().vocab_size, pad = model.options().pad_id;
  const int64_t mask_id = model.mask_id();
  const int64_t steps = (n + opt.batch_size - 1) / opt.batch_size, total = steps * opt.epochs;
  auto params = model.parameters();
  auto optimizer = make_opt(params, opt);
  Generator gen(opt.seed);
  std::mt19937_64 rng(opt.seed * 7919 + 1);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  // random replacement ids avoid pad and [MASK]
  std::uniform_int_distribution<int64_t> rand_id(1, V - 2);
  train::ProgressBar bar({.out = opt.out ? opt.out : stdout, .verbose = opt.verbose});
  std::vector<double> losses;
  int64_t gstep = 0;
  model.train();
  for (int e = 1; e <= opt.epochs; ++e) {
    Tensor order = randperm(n, &gen);
    const int64_t* ord = order.data<int64_t>();
    bar.begin_epoch(e, opt.epochs, steps);
    double loss_sum = 0;
    int64_t hit = 0, counted = 0;
    for (int64_t s = 0; s < steps; ++s, ++gstep) {
      const int64_t b = s * opt.batch_size, m = std::min(opt.batch_size, n - b);
      Tensor idx = from_vector(std::vector<int64_t>(ord + b, ord + b + m));
      Tensor xb = index_select(x, 0, idx).contiguous();  // (m, L): corrupted in place below
      int64_t* xp = xb.data<int64_t>();
      std::vector<int64_t> pos, target;
      for (int64_t i = 0; i < m * L; ++i) {
        if (xp[i] == pad || uni(rng) >= opt.mask_prob) continue;
        pos.push_back(i);
        target.push_back(xp[i]);
        const double r = uni(rng);
        if (r < 0.8) xp[i] = mask_id;
        else if (r < 0.9) xp[i] = rand_id(rng);
      }
      if (pos.empty()) continue;  // a batch of (nearly) empty texts: nothing to predict
      optimizer->set_lr(lr_at(opt, gstep, total));
      const int64_t M = static_cast<int64_t>(pos.size());
      Variable logits = model.mlm_logits(xb, from_vector(pos));  // (M, V)
      Tensor tgt = from_vector(target);
      Variable loss = cross_entropy(logits, tgt);
      optimizer->zero_grad();
      loss.backward();
      const double lv = loss.item<float>();
      clip_and_check(params, opt, lv, e, s + 1);
      optimizer->step();
      const Tensor lg = logits.data().contiguous();
      const float* lp = lg.data<float>();
      for (int64_t i = 0; i < M; ++i) hit += (std::max_element(lp + i * V, lp + (i + 1) * V) - (lp + i * V)) == target[i];
      loss_sum += lv * static_cast<double>(M);
      counted += M;
      bar.update(s + 1, {{"mlm_loss", loss_sum / counted}, {"mlm_accuracy", static_cast<double>(hit) / counted}});
    }
    losses.push_back(counted ? loss_sum / counted : 0.0);
    bar.end_epoch({{"mlm_loss", losses.back()}, {"mlm_accuracy", counted ? static_cast<double>(hit) / counted : 0.0}});
  }
  model.eval();
  return losses;
}

// ---------------- metrics ----------------

ClassificationReport classification_report(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                           const std::vector<std::string>& labels) {
  KUN_CHECK(truth.size() == predicted.size(), ValueError, "classification_report: ", truth.size(), " labels but ",
            predicted.size(), " predictions");
  KUN_CHECK(!labels.empty(), ValueError, "classification_report: no label names");
  const auto C = static_cast<int64_t>(labels.size());
  ClassificationReport r;
  r.labels = labels;
  r.confusion.assign(C, std::vector<int64_t>(C, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    KUN_CHECK(truth[i] >= 0 && truth[i] < C && predicted[i] >= 0 && predicted[i] < C, IndexError,
              "classification_report: class id out of [0, ", C, ") at example ", i);
    ++r.confusion[truth[i]][predicted[i]];
  }
  r.count = static_cast<int64_t>(truth.size());
  int64_t ok = 0;
  for (int64_t c = 0; c < C; ++c) ok += r.confusion[c][c];
  r.accuracy = r.count ? static_cast<double>(ok) / static_cast<double>(r.count) : 0.0;
  for (int64_t c = 0; c < C; ++c) {
    int64_t pred_c = 0, true_c = 0;
    for (int64_t k = 0; k < C; ++k) pred_c += r.confusion[k][c], true_c += r.confusion[c][k];
    const double tp = static_cast<double>(r.confusion[c][c]);
    const double p = pred_c ? tp / static_cast<double>(pred_c) : 0.0, rc = true_c ? tp / static_cast<double>(true_c) : 0.0;
    r.precision.push_back(p);
    r.recall.push_back(rc);
    r.f1.push_back(p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0);
    r.macro_f1 += r.f1.back() / static_cast<double>(C);
  }
  return r;
}

std::string ClassificationReport::str() const {
  std::ostringstream os;
  os << std::fixed << std::setprecision(4);
  os << "examples: " << count << "\naccuracy: " << accuracy << "\n\n";
  size_t w = 9;
  for (auto& l : labels) w = std::max(w, l.size() + 2);
  os << std::left << std::setw(static_cast<int>(w)) << "class" << std::right << std::setw(11) << "precision"
     << std::setw(9) << "recall" << std::setw(9) << "f1" << std::setw(9) << "support" << "\n";
  for (size_t c = 0; c < labels.size(); ++c) {
    int64_t support = 0;
    for (auto v : confusion[c]) support += v;
    os << std::left << std::setw(static_cast<int>(w)) << labels[c] << std::right << std::setw(11) << precision[c]
       << std::setw(9) << recall[c] << std::setw(9) << f1[c] << std::setw(9) << support << "\n";
  }
  os << std::left << std::setw(static_cast<int>(w)) << "macro f1" << std::right << std::setw(29) << macro_f1 << "\n\n";
  os << "confusion matrix (rows: true, columns: predicted)\n" << std::left << std::setw(static_cast<int>(w)) << "";
  for (auto& l : labels) os << std::right << std::setw(static_cast<int>(w)) << l;
  os << "\n";
  for (size_t c = 0; c < labels.size(); ++c) {
    os << std::left << std::setw(static_cast<int>(w)) << labels[c];
    for (auto v : confusion[c]) os << std::right << std::setw(static_cast<int>(w)) << v;
    os << "\n";
  }
  return os.str();
}

}  // namespace kun::text
