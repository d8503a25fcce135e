// The seeds' IMDB bag-of-embeddings model:
//   Embedding(10000, 16) -> mean over the words (padding masked) -> Dense(16, relu) -> Dense(1) + sigmoid,
// binary cross-entropy, Adam(1e-3), sequences of 256 word ids. The epoch is chosen on a 10%
// validation split of train; the test split is scored once, with the chosen epoch's weights.
//
//   ./build/example_imdb_bag [--epochs 15] [--batch 32] [--maxlen 256] [--mask 1] [--lr 0.001]
//                            [--padding post] [--truncating pre] [--threads 2]
// Data: $KUN_IMDB or ../shared/data/imdb (aclImdb_labeled.tar.gz).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kun/apps/text/bag.h"
#include "kun/apps/text/text_data.h"
#include "kun/apps/text/tokenizer.h"
#include "kun/autograd/ops.h"
#include "kun/core/rng.h"
#include "kun/core/threading.h"
#include "kun/optim/adam.h"
#include "kun/tensor/ops.h"

using namespace kun;
using Clock = std::chrono::steady_clock;
static double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

int main(int argc, char** argv) try {
  int64_t epochs = 15, batch = 32, maxlen = 256, threads = 0;
  bool mask = true;
  double lr = 1e-3;
  std::string padding = "post", truncating = "pre";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--epochs") epochs = std::stoll(v);
    else if (k == "--batch") batch = std::stoll(v);
    else if (k == "--maxlen") maxlen = std::stoll(v);
    else if (k == "--mask") mask = v != "0";
    else if (k == "--lr") lr = std::stod(v);
    else if (k == "--padding") padding = v;
    else if (k == "--truncating") truncating = v;
    else if (k == "--threads") threads = std::stoll(v);
    else throw std::runtime_error("unknown option " + k);
  }
  if (threads > 0) set_num_threads(static_cast<int>(threads));
  manual_seed(42);
  const auto t0 = Clock::now();
  auto data = text::load_imdb();
  std::printf("loaded %zu train / %zu test reviews in %.2f s\n", data.train.size(), data.test.size(), secs(t0));

  // 90/10 train/validation split of the training reviews (seeded shuffle: the archive is sorted by label).
  Tensor perm = randperm(static_cast<int64_t>(data.train.size()));
  const int64_t n_all = static_cast<int64_t>(data.train.size()), n_val = n_all / 10, n_tr = n_all - n_val;
  std::vector<std::string> tr_text, va_text;
  std::vector<int64_t> tr_y, va_y;
  for (int64_t i = 0; i < n_all; ++i) {
    const int64_t j = perm.data<int64_t>()[i];
    (i < n_tr ? tr_text : va_text).push_back(data.train.texts[j]);
    (i < n_tr ? tr_y : va_y).push_back(data.train.labels[j]);
  }

  const auto t1 = Clock::now();
  text::Tokenizer tok({.num_words = 10000, .oov_token = "<OOV>", .strip_html = true});
  tok.fit_on_texts(tr_text);
  text::PadOptions pad{.maxlen = maxlen,
                       .padding = padding == "pre" ? text::PadSide::pre : text::PadSide::post,
                       .truncating = truncating == "pre" ? text::PadSide::pre : text::PadSide::post};
  Tensor x_tr = text::pad_sequences(tok.texts_to_sequences(tr_text), pad);
  Tensor x_va = text::pad_sequences(tok.texts_to_sequences(va_text), pad);
  Tensor x_te = text::pad_sequences(tok.texts_to_sequences(data.test.texts), pad);
  auto labels = [](const std::vector<int64_t>& y) {
    std::vector<float> f(y.begin(), y.end());
    return from_vector(f, {static_cast<int64_t>(f.size()), 1});
  };
  Tensor y_tr = labels(tr_y), y_va = labels(va_y), y_te = labels(data.test.labels);
  std::printf("tokenized (vocab %lld words) in %.2f s\n", static_cast<long long>(tok.index_word().size()), secs(t1));

  text::BagOfEmbeddings model({.vocab_size = 10000, .embedding_dim = 16, .hidden = 16, .mask_padding = mask});
  optim::Adam opt(model.parameters(), {.lr = lr});

  auto accuracy = [&](const Tensor& x, const Tensor& y) {
    NoGradGuard ng;
    model.eval();
    int64_t ok = 0;
    const int64_t n = x.size(0);
    for (int64_t b = 0; b < n; b += 1024) {
      const int64_t m = std::min<int64_t>(1024, n - b);
      Tensor logits = model.forward(Variable(x.narrow(0, b, m).contiguous())).data().contiguous();
      const float* lg = logits.data<float>();
      const float* yy = y.data<float>() + b;
      for (int64_t i = 0; i < m; ++i) ok += (lg[i] > 0) == (yy[i] > 0.5f);
    }
    model.train();
    return static_cast<double>(ok) / static_cast<double>(n);
  };

  std::vector<Tensor> best;
  double best_acc = -1;
  int64_t best_epoch = 0;
  const auto t2 = Clock::now();
  for (int64_t e = 1; e <= epochs; ++e) {
    Tensor order = randperm(n_tr);
    const int64_t* ord = order.data<int64_t>();
    double loss_sum = 0;
    int64_t steps = 0;
    for (int64_t b = 0; b < n_tr; b += batch) {
      const int64_t m = std::min(batch, n_tr - b);
      Tensor idx = from_vector(std::vector<int64_t>(ord + b, ord + b + m));
      Tensor xb = index_select(x_tr, 0, idx), yb = index_select(y_tr, 0, idx);
      Variable loss = binary_cross_entropy_with_logits(model.forward(Variable(xb)), yb);
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item<float>();
      ++steps;
    }
    const double va = accuracy(x_va, y_va);
    std::printf("epoch %2lld  loss %.4f  val_acc %.4f  (%.2f s)\n", static_cast<long long>(e), loss_sum / steps, va,
                secs(t2));
    if (va > best_acc) {
      best_acc = va, best_epoch = e;
      best.clear();
      for (auto& p : model.parameters()) best.push_back(p.data().clone());
    }
  }
  const double train_s = secs(t2);
  auto params = model.parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].data().copy_(best[i]);
  const double te = accuracy(x_te, y_te);
  std::printf("best epoch %lld (val %.4f); TEST accuracy %.4f; training %.2f s, total %.2f s\n",
              static_cast<long long>(best_epoch), best_acc, te, train_s, secs(t0));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "imdb_bag: %s\n", e.what());
  return 1;
}
