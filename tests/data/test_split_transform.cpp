#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "golden_util.h"
#include "kun/core/threading.h"
#include "kun/data/split.h"
#include "kun/data/transform.h"

using namespace kun;
using namespace kun::data;

TEST(DataSplit, DisjointCompleteAndSeeded) {
  SplitIndices s = split_indices(103, {.validation = 0.2, .test = 0.1, .seed = 7});
  EXPECT_EQ(s.validation.size(), 20u);
  EXPECT_EQ(s.test.size(), 10u);
  EXPECT_EQ(s.train.size(), 73u);
  std::vector<int64_t> all = s.train;
  all.insert(all.end(), s.validation.begin(), s.validation.end());
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(all[i], i);  // disjoint and complete
  SplitIndices again = split_indices(103, {.validation = 0.2, .test = 0.1, .seed = 7});
  EXPECT_EQ(again.train, s.train);
  SplitIndices other = split_indices(103, {.validation = 0.2, .test = 0.1, .seed = 8});
  EXPECT_NE(other.train, s.train);
  SplitIndices ordered = split_indices(10, {.validation = 0.3, .shuffle = false});
  EXPECT_EQ(ordered.validation, (std::vector<int64_t>{7, 8, 9}));
  KUN_EXPECT_ERROR(split_indices(10, {.validation = 0.6, .test = 0.5}), "split_indices", "sum to less than 1");
}

TEST(DataSplit, SplitDatasetKeepsRowsTogether) {
  TensorDataset ds(arange(0, 20, 1, DType::f32).view({10, 2}), arange(10, DType::i64));
  Splits s = split(ds, {.validation = 0.2, .test = 0.2, .seed = 1});
  EXPECT_EQ(s.train.size() + s.validation.size() + s.test.size(), 10);
  for (const TensorDataset* part : {&s.train, &s.validation, &s.test})
    for (int64_t i = 0; i < part->size(); ++i) {
      Example e = part->get(i);
      EXPECT_EQ(e.x.to_vector<float>()[0], 2.0f * e.y.item<int64_t>());
    }
}

TEST(DataSplit, KFold) {
  auto folds = kfold_indices(11, 3, 5);
  ASSERT_EQ(folds.size(), 3u);
  std::vector<int> seen(11, 0);
  for (const Fold& f : folds) {
    EXPECT_EQ(f.train.size() + f.validation.size(), 11u);
    EXPECT_GE(f.validation.size(), 3u);
    EXPECT_LE(f.validation.size(), 4u);
    std::set<int64_t> tr(f.train.begin(), f.train.end());
    for (int64_t v : f.validation) {
      ++seen[v];
      EXPECT_EQ(tr.count(v), 0u);
    }
  }
  for (int c : seen) EXPECT_EQ(c, 1);
  KUN_EXPECT_ERROR(kfold_indices(3, 5), "kfold_indices", "k must be in [2, n]");
}

TEST(DataTransform, StandardizerFitsTrainOnly) {
  // train: feature 0 in {1, 3} (mean 2, std 1), feature 1 constant 5; test: far away values.
  Tensor train = from_vector(std::vector<float>{1, 5, 3, 5, 1, 5, 3, 5}, Shape{4, 2});
  Tensor test = from_vector(std::vector<float>{10, 6}, Shape{1, 2});
  Standardizer s;
  s.fit(train);
  EXPECT_EQ(s.mean().to_vector<float>(), (std::vector<float>{2, 5}));
  EXPECT_EQ(s.std().to_vector<float>(), (std::vector<float>{1, 0}));
  // Test data is scaled with the training statistics, not its own.
  EXPECT_EQ(s.apply(test).to_vector<float>(), (std::vector<float>{8, 1}));
  Tensor z = s.apply(train);
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{-1, 0, 1, 0, -1, 0, 1, 0}));
  KUN_EXPECT_ERROR(Standardizer().apply(test), "Standardizer::apply", "call fit()");
  KUN_EXPECT_ERROR(s.apply(zeros({2, 3})), "Standardizer::apply", "fitted on features of shape (2,)", "(2, 3)");

  // Large offset: the two-pass float64 statistics stay exact.
  Tensor big = from_vector(std::vector<float>{1e6f + 1, 1e6f + 3}, Shape{2, 1});
  EXPECT_FLOAT_EQ(Standardizer().fit(big).std().item<float>(), 1.0f);
}

TEST(DataTransform, PerChannelAndNormalizer) {
  Tensor x = zeros({2, 2, 2, 2});
  x.select(1, 0).fill_(3.0);
  x.select(1, 1).narrow(0, 0, 1).fill_(4.0);  // channel 1: half 4, half 0 -> mean 2, std 2
  Standardizer s({.per_channel = true});
  s.fit(x);
  EXPECT_EQ(s.mean().to_vector<float>(), (std::vector<float>{3, 2}));
  EXPECT_EQ(s.std().to_vector<float>(), (std::vector<float>{0, 2}));
  Tensor z = s.apply(x);
  EXPECT_EQ(z.select(1, 1).select(0, 0).to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));

  Normalizer n;
  n.fit(from_vector(std::vector<float>{0, 10, 4, 20}, Shape{2, 2}));
  EXPECT_EQ(n.apply(from_vector(std::vector<float>{2, 15}, Shape{1, 2})).to_vector<float>(),
            (std::vector<float>{0.5f, 0.5f}));
}

TEST(DataAugment, ShapesDeterminismAndIdentities) {
  Tensor x = rand({6, 3, 8, 8}, DType::f32, nullptr);
  AugmentOptions all{.crop_padding = 2, .horizontal_flip = true, .max_rotation_degrees = 10, .max_shift = 2};
  Generator g1(42), g2(42), g3(43);
  Tensor a = augment(x, all, g1), b = augment(x, all, g2), c = augment(x, all, g3);
  EXPECT_EQ(a.shape(), x.shape());
  EXPECT_TRUE(kun::testing::close(a, b, 0, 0));
  EXPECT_FALSE(allclose(a, c));
  EXPECT_EQ(g1.offset(), 4u * 6u);  // each augmentation advances by N
  // The second call continues the stream: a different result.
  EXPECT_FALSE(allclose(augment(x, all, g1), a));

  // Identities.
  Generator g(1);
  EXPECT_TRUE(kun::testing::close(random_crop(x, 0, g), x, 0, 0));
  EXPECT_TRUE(kun::testing::close(random_shift(x, 0, g), x, 0, 0));
  EXPECT_TRUE(kun::testing::close(random_rotation(x, 0, g), x, 0, 1e-6));
  Tensor f = random_horizontal_flip(x, g, 1.0);
  EXPECT_EQ(f.select(3, 0).to_vector<float>(), x.select(3, 7).to_vector<float>());
  EXPECT_TRUE(kun::testing::close(random_horizontal_flip(f, g, 1.0), x, 0, 0));

  // A crop of the zero-padded image: each image is its original shifted by up to 2, zero filled.
  Tensor ones4 = ones({20, 1, 4, 4});
  Tensor cr = random_crop(ones4, 2, g);
  for (int64_t i = 0; i < 20; ++i) {
    double sum = 0;
    for (float v : cr.select(0, i).to_vector<float>()) {
      EXPECT_TRUE(v == 0.0f || v == 1.0f);
      sum += v;
    }
    EXPECT_GE(sum, 4.0);  // at most 2 rows and 2 cols lost
  }

  // A single (C, H, W) image works too; 90 degrees max stays finite and in range.
  Tensor one = rand({1, 5, 5}, DType::f32, nullptr);
  Tensor r = random_rotation(one, 90, g);
  EXPECT_EQ(r.shape(), (Shape{1, 5, 5}));
  EXPECT_TRUE(kun::testing::all_finite(r));

  KUN_EXPECT_ERROR(random_crop(zeros({4, 4}), 1, g), "random_crop", "(N, C, H, W)", "(4, 4)");
  KUN_EXPECT_ERROR(random_rotation(x, 200, g), "random_rotation", "[0, 180]");
}

TEST(DataAugment, SameResultForAnyThreadCount) {
  Tensor x = rand({64, 1, 12, 12}, DType::f32, nullptr);
  AugmentOptions all{.crop_padding = 3, .horizontal_flip = true, .max_rotation_degrees = 15, .max_shift = 1};
  int saved = num_threads();
  set_num_threads(1);
  Generator g1(9);
  Tensor a = augment(x, all, g1);
  set_num_threads(saved);
  Generator g2(9);
  Tensor b = augment(x, all, g2);
  EXPECT_TRUE(kun::testing::close(a, b, 0, 0));
}
