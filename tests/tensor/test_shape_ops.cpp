// concat / stack / split / chunk / pad: golden forward values, gradchecks, extremes, errors.
#include <gtest/gtest.h>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using namespace kun::testing;

namespace {
const json& C(const char* name) { return golden_case("nnops", name); }

PadOptions pad_opts(const json& c) {
  PadOptions o;
  std::string m = c["attrs"]["mode"].get<std::string>();
  o.mode = m == "reflect" ? PadMode::reflect : m == "replicate" ? PadMode::replicate : PadMode::constant;
  if (c["attrs"].contains("value")) o.value = c["attrs"]["value"].get<double>();
  return o;
}
}  // namespace

TEST(ShapeOps, ConcatStackGolden) {
  {
    const json& c = C("concat_dim1");
    EXPECT_TRUE(close(concat({input(c, "a"), input(c, "b")}, 1), output(c, "y")));
  }
  {
    const json& c = C("concat_neg_nc");
    Tensor b = input(c, "bt").transpose(1, 2);
    ASSERT_FALSE(b.is_contiguous());
    EXPECT_TRUE(close(concat({input(c, "a"), b}, -1), output(c, "y")));
  }
  for (const char* name : {"stack_dim1", "stack_neg"}) {
    const json& c = C(name);
    EXPECT_TRUE(
        close(stack({input(c, "a"), input(c, "b"), input(c, "c")}, c["attrs"]["dim"].get<int64_t>()), output(c, "y")))
        << name;
  }
}

TEST(ShapeOps, SplitChunkGolden) {
  {
    const json& c = C("split_sizes");
    auto parts = split(input(c, "x"), std::vector<int64_t>{1, 3}, -1);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_TRUE(close(parts[0], output(c, "y0")));
    EXPECT_TRUE(close(parts[1], output(c, "y1")));
  }
  {
    const json& c = C("chunk3");
    auto parts = chunk(input(c, "x"), 3, 0);
    ASSERT_EQ(static_cast<int>(parts.size()), c["attrs"]["count"].get<int>());
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string name = "y";
      name += std::to_string(i);
      EXPECT_TRUE(close(parts[i], output(c, name)));
    }
  }
  // split by size: the last piece is smaller; pieces are views
  Tensor x = arange(0, 10, 1, DType::f32);
  auto p = split(x, 4);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].shape(), (Shape{2}));
  EXPECT_EQ(p[1].storage(), x.storage());
}

TEST(ShapeOps, PadGolden) {
  for (const char* name :
       {"pad_const_value", "pad_const_2d", "pad_const_crop", "pad_reflect_2d", "pad_reflect_1d", "pad_replicate_2d"}) {
    const json& c = C(name);
    auto pads = c["attrs"]["pads"].get<std::vector<int64_t>>();
    EXPECT_TRUE(close(pad(input(c, "x"), pads, pad_opts(c)), output(c, "y"))) << name;
  }
  const json& c = C("pad_replicate_nc");
  Tensor x = input(c, "xt").transpose(1, 2);
  EXPECT_TRUE(close(pad(x, {3, 1}, pad_opts(c)), output(c, "y")));
  // integer tensors pad too
  Tensor xi = from_vector<int64_t>({1, 2, 3}, {3});
  EXPECT_EQ(pad(xi, {1, 1}, {.value = 7}).to_vector<int64_t>(), (std::vector<int64_t>{7, 1, 2, 3, 7}));
}

TEST(ShapeOps, Gradcheck) {
  Generator g(7);
  Tensor a = randn({2, 3}, DType::f64, &g), b = randn({2, 2}, DType::f64, &g), c = randn({2, 3}, DType::f64, &g);
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return concat({v[0], v[1], v[0]}, -1); }, {a, b}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return stack({v[0], v[1]}, 1); }, {a, c}));
  Tensor x = randn({3, 7}, DType::f64, &g);
  // pieces in a new order, one piece dropped: its slice of the grad must be zero
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Variable>& v) {
        auto p = split(v[0], std::vector<int64_t>{2, 1, 4}, 1);
        return concat({p[2], p[0]}, 1);
      },
      {x}));
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Variable>& v) {
        auto p = chunk(v[0], 3, -1);  // sizes 3, 3, 1
        return mul(p[0], p[1]);
      },
      {x}));
  Tensor img = randn({2, 2, 3, 4}, DType::f64, &g);
  for (PadMode m : {PadMode::constant, PadMode::reflect, PadMode::replicate}) {
    EXPECT_TRUE(grad_ok(
        [m](const std::vector<Variable>& v) {
          return pad(v[0], {2, 1, 1, 2}, {.mode = m, .value = 3});
        },
        {img}))
        << static_cast<int>(m);
  }
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return pad(v[0], {-1, 2, 0, 1}); }, {img}));
}

TEST(ShapeOps, SplitPieceWithoutGradIsZero) {
  Variable x(arange(0, 6, 1, DType::f64), true);
  auto p = chunk(x, 3);
  sum(mul(p[1], 2.0)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 2, 2, 0, 0}));
}

TEST(ShapeOps, ExtremeValuesStayFinite) {
  Tensor big = full({2, 3}, 3e38f, DType::f32);
  EXPECT_TRUE(all_finite(concat({big, big}, 0)));
  EXPECT_TRUE(all_finite(pad(big, {2, 2}, {.mode = PadMode::reflect})));
  Tensor gx = pad_backward(full({2, 7}, 1e30, DType::f32), {2, 3}, {2, 2}, PadMode::replicate);
  EXPECT_TRUE(all_finite(gx));
  // empty pieces are fine
  EXPECT_EQ(concat({zeros({0, 3}), ones({2, 3})}, 0).shape(), (Shape{2, 3}));
}

TEST(ShapeOps, Errors) {
  Tensor a = zeros({2, 3}), b = zeros({3, 3}), i = zeros({2, 3}, DType::i64);
  KUN_EXPECT_ERROR(concat({a, b}, 1), "concat", "(2, 3)", "(3, 3)", "position 1");
  EXPECT_THROW(concat({a, b}, 1), ShapeError);
  KUN_EXPECT_ERROR(concat({a, i}, 0), "concat", "float32", "int64");
  EXPECT_THROW(concat({a, i}, 0), TypeError);
  EXPECT_THROW(concat(std::vector<Tensor>{}, 0), ValueError);
  EXPECT_THROW(concat({a}, 2), IndexError);
  KUN_EXPECT_ERROR(stack({a, b}), "stack", "(2, 3)", "(3, 3)");
  KUN_EXPECT_ERROR(split(a, std::vector<int64_t>{1, 1}, 1), "split", "sum to 3", "sum of 2");
  KUN_EXPECT_ERROR(chunk(a, 0), "chunk", "> 0", "0");
  KUN_EXPECT_ERROR(pad(a, {1}), "pad", "pairs", "1");
  KUN_EXPECT_ERROR(pad(a, {3, 0}, {.mode = PadMode::reflect}), "pad", "reflect", "< the dim size", "size 3");
  EXPECT_THROW(pad(a, {3, 0}, {.mode = PadMode::reflect}), ValueError);
  KUN_EXPECT_ERROR(pad(a, {1, 1, 1, 1, 1, 1}), "pad", "(2, 3)");
  KUN_EXPECT_ERROR(pad(a, {-2, -2}), "pad", "negative size");
}
