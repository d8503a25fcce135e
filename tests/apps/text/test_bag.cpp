#include <gtest/gtest.h>

#include "golden_util.h"
#include "kun/apps/text/bag.h"
#include "kun/autograd/ops.h"
#include "kun/tensor/ops.h"

using namespace kun;
using namespace kun::text;

TEST(TextBag, EmbeddingBagMatchesComposedMaskedMean) {
  manual_seed(3);
  Tensor ids = from_vector<int64_t>({1, 2, 0, 0, 3, 3, 4, 1, 0, 0, 0, 0}, {3, 4});  // row 2: only padding
  Variable w1(randn({5, 3}), true), w2(w1.data().clone(), true);
  Variable a = embedding_bag(ids, w1, 0);
  Variable b = masked_mean(embedding(ids, w2), ids, 0);
  EXPECT_TRUE(allclose(a.data(), b.data(), 1e-6, 1e-6));
  std::vector<float> row2(a.data().narrow(0, 2, 1).contiguous().to_vector<float>());
  EXPECT_EQ(row2, std::vector<float>(3, 0.0f));  // all padding -> zeros, not NaN
  Tensor seed = randn({3, 3});
  a.backward(seed);
  b.backward(seed);
  EXPECT_TRUE(allclose(w1.grad(), w2.grad(), 1e-6, 1e-6));
  // pad_id < 0: mean over every position (Keras GlobalAveragePooling1D without a mask)
  Variable c = embedding_bag(ids, w1, -1);
  Tensor want = mean(embedding(ids, w1.data()), {1});
  EXPECT_TRUE(allclose(c.data(), want, 1e-6, 1e-6));
  KUN_EXPECT_ERROR(embedding_bag(from_vector<int64_t>({7}, {1, 1}), w1), "embedding_bag", "out of range");
  KUN_EXPECT_ERROR(embedding_bag(from_vector<int64_t>({1}, {1}), w1), "embedding_bag", "(N, L)");
}

TEST(TextBag, ModelLearnsAToyTask) {
  manual_seed(5);
  // Label 1 iff word 3 appears; sequences padded with 0.
  std::vector<int64_t> ids;
  std::vector<float> y;
  for (int i = 0; i < 64; ++i) {
    const bool pos = i % 2;
    ids.insert(ids.end(), {1 + i % 2 * 2, 2, 4, 0});  // contains 3 when pos
    y.push_back(pos);
  }
  Tensor x = from_vector(ids, {64, 4}), t = from_vector(y, {64, 1});
  BagOfEmbeddings m({.vocab_size = 5, .embedding_dim = 4, .hidden = 4});
  optim::Adam opt(m.parameters(), {.lr = 0.05});
  float first = 0, last = 0;
  for (int s = 0; s < 60; ++s) {
    Variable loss = binary_cross_entropy_with_logits(m.forward(Variable(x)), t);
    opt.zero_grad();
    loss.backward();
    opt.step();
    (s == 0 ? first : last) = loss.item<float>();
  }
  EXPECT_LT(last, first * 0.2f);
}

TEST(TextBag, FastTextLearnsBigrams) {
  // "not good" is negative, "good" alone positive: only the bigram separates them.
  std::vector<std::string> texts;
  std::vector<int64_t> y;
  for (int i = 0; i < 200; ++i) {
    texts.push_back(i % 2 ? "a very good film" : "a not good film");
    y.push_back(i % 2);
  }
  FastText ft({.dim = 8, .buckets = 1000, .word_ngrams = 2, .lr = 0.5, .epochs = 5});
  ft.build_vocab(texts);
  auto x = ft.features(texts);
  ft.fit(x, y, 2);
  int64_t seen = 0;
  FastText early({.dim = 4, .buckets = 10, .epochs = 5});
  early.build_vocab(texts);
  early.fit(early.features(texts), y, 2, [&](int64_t e) { seen = e; return e < 2; });
  EXPECT_EQ(seen, 2);  // stopped early
  EXPECT_EQ(ft.accuracy(x, y), 1.0);
  EXPECT_EQ(ft.predict(ft.features("")), ft.predict(ft.features("")));  // empty text: defined, no crash
  auto p = ft.predict_proba(ft.features("zzz unknown"));
  EXPECT_NEAR(p[0] + p[1], 1.0f, 1e-6);
  KUN_EXPECT_ERROR(ft.fit(x, {0}, 2), "FastText::fit", "labels");
}
