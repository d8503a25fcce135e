// index_select / gather / scatter_add / embedding / one_hot / masked_fill / topk.
#include <gtest/gtest.h>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using namespace kun::testing;

namespace {
const json& C(const char* name) { return golden_case("nnops", name); }
}  // namespace

TEST(IndexOps, Golden) {
  {
    const json& c = C("index_select_dim1");
    EXPECT_TRUE(close(index_select(input(c, "x"), 1, input(c, "idx")), output(c, "y")));
  }
  {
    const json& c = C("index_select_neg_nc");
    Tensor idx = input(c, "idx");
    ASSERT_EQ(idx.dtype(), DType::i32);
    EXPECT_TRUE(close(index_select(input(c, "xt").t(), -1, idx), output(c, "y")));
  }
  for (const char* name : {"gather_dim1", "gather_dim0"}) {
    const json& c = C(name);
    EXPECT_TRUE(close(gather(input(c, "x"), c["attrs"]["dim"].get<int64_t>(), input(c, "idx")), output(c, "y")))
        << name;
  }
  for (const char* name : {"scatter_add_dim1", "scatter_add_dim0_bigsrc"}) {
    const json& c = C(name);
    EXPECT_TRUE(close(scatter_add(input(c, "x"), c["attrs"]["dim"].get<int64_t>(), input(c, "idx"), input(c, "src")),
                      output(c, "y")))
        << name;
  }
  {
    const json& c = C("embedding");
    EXPECT_TRUE(close(embedding(input(c, "idx"), input(c, "w")), output(c, "y")));
    EXPECT_TRUE(close(embedding(input(c, "idx").to(DType::i32), input(c, "w")), output(c, "y")));
  }
  for (const char* name : {"one_hot5", "one_hot_infer"}) {
    const json& c = C(name);
    Tensor y = one_hot(input(c, "idx"), c["attrs"]["num_classes"].get<int64_t>());
    EXPECT_EQ(y.dtype(), DType::i64);
    EXPECT_TRUE(close(y, output(c, "y"), 0, 0)) << name;
  }
  {
    const json& c = C("masked_fill_bcast");
    EXPECT_TRUE(close(masked_fill(input(c, "x"), input(c, "mask"), -1.5), output(c, "y")));
  }
  {
    const json& c = C("topk_largest");
    TopK r = topk(input(c, "x"), 3, {.dim = 1});
    EXPECT_TRUE(close(r.values, output(c, "values")));
    EXPECT_TRUE(close(r.indices, output(c, "indices"), 0, 0));
  }
  {
    const json& c = C("topk_smallest_dim0");
    TopK r = topk(input(c, "x"), 2, {.dim = 0, .largest = false});
    EXPECT_TRUE(close(r.values, output(c, "values")));
    EXPECT_TRUE(close(r.indices, output(c, "indices"), 0, 0));
  }
}

TEST(IndexOps, Gradcheck) {
  Generator g(3);
  Tensor x = randn({3, 4}, DType::f64, &g);
  Tensor idx = from_vector<int64_t>({2, 0, 2, 3, 2}, {5});
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return index_select(v[0], 1, idx.narrow(0, 0, 4)); }, {x}));
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return index_select(v[0], 0, idx.narrow(0, 0, 3)); }, {x}));
  Tensor gi = from_vector<int64_t>({0, 3, 1, 1, 2, 0}, {3, 2});
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return gather(v[0], 1, gi); }, {x}));
  Tensor src = randn({3, 2}, DType::f64, &g);
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return scatter_add(v[0], -1, gi, v[1]); }, {x, src}));
  Tensor big_src = randn({3, 3}, DType::f64, &g);  // larger than idx: extra entries get zero grad
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return scatter_add(v[0], 1, gi, v[1]); }, {x, big_src}));
  Tensor w = randn({6, 3}, DType::f64, &g);
  Tensor ei = from_vector<int64_t>({1, 5, 0, 5, 5, 2}, {2, 3});
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return embedding(ei, v[0]); }, {w}));
  Tensor mask = from_vector<uint8_t>({1, 0, 1}, {3, 1}).to(DType::bool_);
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return masked_fill(v[0], mask, 2.0); }, {x}));
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& v) { return topk(v[0], 2, {.dim = -1}).values; }, {x}));
  EXPECT_TRUE(
      grad_ok([&](const std::vector<Variable>& v) { return topk(v[0], 2, {.dim = 0, .largest = false}).values; }, {x}));
}

TEST(IndexOps, EmbeddingPaddingAndLargeVocab) {
  Variable w(ones({5, 2}, DType::f64), true);
  Tensor idx = from_vector<int64_t>({1, 3, 3, 0, 1}, {5});
  sum(embedding(idx, w, {.padding_idx = 3})).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{1, 1, 2, 2, 0, 0, 0, 0, 0, 0}));
  // large vocabulary, many threads: result equals a plain serial scatter
  const int64_t V = 50000, D = 16, N = 20000;
  Generator g(11);
  Tensor ids = randint(0, V, {N}, DType::i64, &g);
  Tensor grad = randn({N, D}, DType::f32, &g);
  set_num_threads(2);
  Tensor gw = embedding_backward(grad, ids, V);
  set_num_threads(0);
  std::vector<float> ref(V * D, 0.f);
  auto iv = ids.to_vector<int64_t>();
  auto gv = grad.to_vector<float>();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t d = 0; d < D; ++d) ref[iv[i] * D + d] += gv[i * D + d];
  EXPECT_TRUE(close(gw, from_vector(ref, {V, D}), 1e-6, 1e-6));
}

TEST(IndexOps, ExtremeValuesStayFinite) {
  Tensor x = full({4, 5}, 1e30, DType::f32);
  EXPECT_TRUE(all_finite(gather(x, 1, zeros({4, 5}, DType::i64))));
  EXPECT_TRUE(all_finite(topk(x, 5).values));
  // NaN sorts as the largest value in topk
  Tensor n = from_vector<float>({1, NAN, 3}, {3});
  TopK r = topk(n, 2);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
}

TEST(IndexOps, BoundsCheckedErrors) {
  Tensor x = zeros({3, 4});
  Tensor bad = from_vector<int64_t>({0, 4}, {2});
  KUN_EXPECT_ERROR(index_select(x, 1, bad), "index_select", "4", "[0, 4)");
  EXPECT_THROW(index_select(x, 1, bad), IndexError);
  KUN_EXPECT_ERROR(index_select(x, 1, from_vector<int64_t>({-1}, {1})), "index_select", "-1", "[0, 4)");
  KUN_EXPECT_ERROR(index_select(x, 1, zeros({2})), "index_select", "int64 or int32", "float32");
  EXPECT_THROW(index_select(x, 1, zeros({2})), TypeError);
  KUN_EXPECT_ERROR(gather(x, 0, from_vector<int64_t>({0, 3}, {1, 2})), "gather", "3", "[0, 3)");
  KUN_EXPECT_ERROR(gather(x, 0, zeros({4}, DType::i64)), "gather", "rank 2", "(4,)");
  EXPECT_THROW(gather(x, 0, zeros({4}, DType::i64)), ShapeError);
  KUN_EXPECT_ERROR(scatter_add(x, 1, from_vector<int64_t>({9}, {1, 1}), ones({1, 1})), "scatter_add", "9", "[0, 4)");
  KUN_EXPECT_ERROR(scatter_add(x, 1, zeros({1, 1}, DType::i64), ones({1, 1}, DType::f64)), "scatter_add", "float32",
                   "float64");
  Tensor w = zeros({10, 3});
  KUN_EXPECT_ERROR(embedding(from_vector<int32_t>({2, 10}, {2}), w), "embedding", "10", "[0, 10)");
  EXPECT_THROW(embedding(from_vector<int32_t>({2, 10}, {2}), w), IndexError);
  KUN_EXPECT_ERROR(embedding(from_vector<int64_t>({1}, {1}), zeros({10})), "embedding", "(V, D)", "(10,)");
  KUN_EXPECT_ERROR(one_hot(from_vector<int64_t>({1, 5}, {2}), 5), "one_hot", "5", "[0, 5)");
  KUN_EXPECT_ERROR(masked_fill(x, ones({3, 4}), 1.0), "masked_fill", "bool", "float32");
  KUN_EXPECT_ERROR(masked_fill(x, ones({2, 4}, DType::bool_), 1.0), "masked_fill", "(2, 4)", "(3, 4)");
  KUN_EXPECT_ERROR(topk(x, 5), "topk", "[0, 4]", "5");
  EXPECT_THROW(topk(x, 5), ValueError);
}

TEST(IndexOps, NonContiguousInputsMatchContiguous) {
  Generator g(21);
  Tensor xt = randn({5, 3}, DType::f32, &g);
  Tensor x = xt.t();  // (3, 5), non-contiguous
  Tensor idx = from_vector<int64_t>({4, 0, 1, 1, 3, 2}, {3, 2});
  EXPECT_TRUE(close(gather(x, 1, idx), gather(x.contiguous(), 1, idx), 0, 0));
  Tensor src = randn({2, 3}, DType::f32, &g).t();  // (3, 2), non-contiguous
  EXPECT_TRUE(close(scatter_add(x, 1, idx, src), scatter_add(x.contiguous(), 1, idx, src.contiguous()), 0, 0));
  Tensor mask = from_vector<uint8_t>({1, 0, 0, 1, 1}, {5}).to(DType::bool_);
  EXPECT_TRUE(close(masked_fill(x, mask, 9.0), masked_fill(x.contiguous(), mask, 9.0), 0, 0));
  TopK a = topk(x, 2, {.dim = 0}), b = topk(x.contiguous(), 2, {.dim = 0});
  EXPECT_TRUE(close(a.values, b.values, 0, 0));
  EXPECT_TRUE(close(a.indices, b.indices, 0, 0));
}
