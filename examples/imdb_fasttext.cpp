// fastText-style IMDB classifier: word unigrams + hashed word bigrams, averaged embeddings, a
// linear softmax layer, sparse SGD with a linearly decaying learning rate. The epoch is chosen on a
// 10% validation split of train; then (--refit 1, the default) the model is trained again on all
// 25,000 training reviews with the same schedule, stopped at that epoch (--refit 0 keeps the
// validation run's best-epoch weights instead). The test split is scored once.
//
//   ./build/example_imdb_fasttext [--dim 10] [--buckets 2000000] [--ngrams 2] [--epochs 10] [--lr 0.1]
//                                 [--min_count 1] [--seed 1] [--refit 1]
//                                 [--apostrophes 0]  (1: keep "don't" one word)
// Data: $KUN_IMDB or ../shared/data/imdb (aclImdb_labeled.tar.gz).
#include <chrono>
#include <cstdio>
#include <string>

#include "kun/apps/text/bag.h"
#include "kun/apps/text/text_data.h"
#include "kun/core/rng.h"
#include "kun/tensor/tensor.h"

using namespace kun;
using Clock = std::chrono::steady_clock;
static double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

int main(int argc, char** argv) try {
  text::FastTextOptions opt;
  opt.epochs = 10;
  bool refit = true;  // after choosing the epoch on validation, retrain on all of train up to it
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dim") opt.dim = std::stoll(v);
    else if (k == "--buckets") opt.buckets = std::stoll(v);
    else if (k == "--ngrams") opt.word_ngrams = std::stoll(v);
    else if (k == "--epochs") opt.epochs = std::stoll(v);
    else if (k == "--lr") opt.lr = std::stod(v);
    else if (k == "--min_count") opt.min_count = std::stoll(v);
    else if (k == "--seed") opt.seed = std::stoull(v);
    else if (k == "--refit") refit = v != "0";
    else if (k == "--apostrophes") opt.normalize.keep_apostrophes = v != "0";
    else throw std::runtime_error("unknown option " + k);
  }
  manual_seed(42);
  const auto t0 = Clock::now();
  auto data = text::load_imdb();
  std::printf("loaded %zu train / %zu test reviews in %.2f s\n", data.train.size(), data.test.size(), secs(t0));

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
  text::FastText ft(opt);
  ft.build_vocab(tr_text);
  auto x_tr = ft.features(tr_text), x_va = ft.features(va_text), x_te = ft.features(data.test.texts);
  std::printf("features (%lld words + %lld buckets) in %.2f s\n", static_cast<long long>(ft.num_words()),
              static_cast<long long>(opt.buckets), secs(t1));

  const auto t2 = Clock::now();
  text::FastText::Weights best;
  double best_acc = -1;
  int64_t best_epoch = 0;
  ft.fit(x_tr, tr_y, 2, [&](int64_t e) {
    const double va = ft.accuracy(x_va, va_y);
    std::printf("epoch %2lld  val_acc %.4f  (%.2f s)\n", static_cast<long long>(e), va, secs(t2));
    if (va > best_acc) best_acc = va, best_epoch = e, best = ft.snapshot();
    return true;
  });
  double train_s = secs(t2);
  if (refit) {
    // Same schedule on all 25,000 training reviews, stopped at the chosen epoch.
    auto all_text = tr_text;
    all_text.insert(all_text.end(), va_text.begin(), va_text.end());
    auto all_y = tr_y;
    all_y.insert(all_y.end(), va_y.begin(), va_y.end());
    text::FastText full(opt);
    full.build_vocab(all_text);
    auto x_all = full.features(all_text);
    x_te = full.features(data.test.texts);
    const auto t3 = Clock::now();
    full.fit(x_all, all_y, 2, [&](int64_t e) { return e < best_epoch; });
    train_s += secs(t3);
    ft = std::move(full);
  } else {
    ft.restore(best);
  }
  const double te = ft.accuracy(x_te, data.test.labels);
  std::printf("best epoch %lld (val %.4f); TEST accuracy %.4f; training %.2f s, total %.2f s\n",
              static_cast<long long>(best_epoch), best_acc, te, train_s, secs(t0));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "imdb_fasttext: %s\n", e.what());
  return 1;
}
