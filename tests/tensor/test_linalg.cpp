// matmul / mm / bmm / linear: PyTorch golden values (forward and gradients), gradchecks in
// float64, strided and transposed views, extreme inputs and error messages.
#include <gtest/gtest.h>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using namespace kun::testing;

namespace {

using Fn = std::function<Variable(const std::vector<Variable>&)>;

// Runs `f` on the case's inputs (names in order), compares y and every input's gradient of
// sum(y * w_out). `transposed[i]` marks inputs the PyTorch function used as .t() views.
void check_golden(const std::string& name, const std::vector<std::string>& names, const Fn& f,
                  const std::vector<bool>& transposed = {}) {
  SCOPED_TRACE(name);
  const auto& c = golden_case("linalg", name);
  std::vector<Variable> vars;
  for (size_t i = 0; i < names.size(); ++i) {
    Tensor t = input(c, names[i]);
    bool tr = i < transposed.size() && transposed[i];
    vars.emplace_back(tr ? t.t() : t, true);  // a transposed view, never copied
  }
  Variable y = f(vars);
  EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
  y.backward(output(c, "w_out"));
  for (size_t i = 0; i < names.size(); ++i) {
    bool tr = i < transposed.size() && transposed[i];
    Tensor g = tr ? vars[i].grad().t() : vars[i].grad();
    EXPECT_TRUE(close(g, output(c, "g_" + names[i]), 1e-4, 1e-5)) << "gradient of " << names[i];
  }
}

Fn mm2 = [](const std::vector<Variable>& v) { return matmul(v[0], v[1]); };

}  // namespace

TEST(Linalg, GoldenMatmulVariants) {
  for (const char* n : {"dot", "mv", "vm", "mm", "batched_2d", "vec_batched", "batched_vec", "broadcast", "broadcast2"})
    check_golden(n, {"a", "b"}, mm2);
  check_golden("a_transposed", {"a", "b"}, mm2, {true, false});
  check_golden("b_transposed", {"a", "b"}, mm2, {false, true});
  check_golden("both_transposed", {"a", "b"}, mm2, {true, true});
  check_golden("bmm", {"a", "b"}, [](const std::vector<Variable>& v) { return bmm(v[0], v[1]); });
}

TEST(Linalg, GoldenBatchTransposedView) {
  const auto& c = golden_case("linalg", "batch_transposed");
  Tensor a = input(c, "a");  // (2, 5, 3), used as a.transpose(1, 2)
  Variable av(a.transpose(1, 2), true), bv(input(c, "b"), true);
  Variable y = matmul(av, bv);
  EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-5));
  y.backward(output(c, "w_out"));
  EXPECT_TRUE(close(av.grad().transpose(1, 2).contiguous(), output(c, "g_a"), 1e-4, 1e-5));
  EXPECT_TRUE(close(bv.grad(), output(c, "g_b"), 1e-4, 1e-5));
}

TEST(Linalg, GoldenLinear) {
  Fn lin = [](const std::vector<Variable>& v) { return linear(v[0], v[1], v.size() > 2 ? v[2] : Variable()); };
  check_golden("linear", {"x", "w", "b"}, lin);
  check_golden("linear_3d", {"x", "w", "b"}, lin);
  check_golden("linear_1d", {"x", "w", "b"}, lin);
  check_golden("linear_nobias", {"x", "w"}, lin);
}

TEST(Linalg, Gradcheck) {
  Generator g(7);
  auto R = [&](Shape s) { return randn(s, DType::f64, &g); };
  EXPECT_TRUE(grad_ok(mm2, {R({4}), R({4})}));
  EXPECT_TRUE(grad_ok(mm2, {R({3, 4}), R({4})}));
  EXPECT_TRUE(grad_ok(mm2, {R({4}), R({4, 2})}));
  EXPECT_TRUE(grad_ok(mm2, {R({3, 4}), R({4, 2})}));
  EXPECT_TRUE(grad_ok(mm2, {R({2, 3, 4}), R({4, 2})}));
  EXPECT_TRUE(grad_ok(mm2, {R({3, 4}), R({2, 4, 2})}));
  EXPECT_TRUE(grad_ok(mm2, {R({2, 1, 3, 4}), R({3, 4, 2})}));
  EXPECT_TRUE(grad_ok(mm2, {R({4}), R({2, 4, 3})}));
  EXPECT_TRUE(grad_ok(mm2, {R({2, 3, 4}), R({4})}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return mm(v[0], v[1]); }, {R({3, 4}), R({4, 5})}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return bmm(v[0], v[1]); }, {R({2, 3, 4}), R({2, 4, 5})}));
  Fn lin = [](const std::vector<Variable>& v) { return linear(v[0], v[1], v[2]); };
  EXPECT_TRUE(grad_ok(lin, {R({5, 4}), R({3, 4}), R({3})}));
  EXPECT_TRUE(grad_ok(lin, {R({2, 5, 4}), R({3, 4}), R({3})}));
}

TEST(Linalg, StridedViewsMatchContiguous) {
  Generator g(3);
  Tensor big = randn({8, 12}, DType::f32, &g);
  Tensor a = big.slice(0, 0, 8, 2).slice(1, 1, 12, 2);  // (4, 6), steps in both dims: must be copied
  Tensor b = randn({6, 5}, DType::f32, &g);
  EXPECT_TRUE(allclose(matmul(a, b), matmul(a.contiguous(), b), 1e-5, 1e-5));
  Tensor bt = randn({5, 6}, DType::f32, &g).t();  // transposed view, passed as CblasTrans
  EXPECT_TRUE(allclose(matmul(a, bt), matmul(a.contiguous(), bt.contiguous()), 1e-5, 1e-5));
  // a row-narrowed view keeps its leading dimension
  Tensor n = big.narrow(1, 2, 6);  // (8, 6), row stride 12
  EXPECT_TRUE(allclose(matmul(n, b), matmul(n.contiguous(), b), 1e-5, 1e-5));
  // broadcast batch via expand (stride 0)
  Tensor x = randn({1, 4, 6}, DType::f32, &g).expand({3, 4, 6});
  Tensor y = randn({3, 6, 2}, DType::f32, &g);
  EXPECT_TRUE(allclose(matmul(x, y), matmul(x.contiguous(), y), 1e-5, 1e-5));
  // a permuted 4-D input to linear
  Tensor x4 = randn({2, 6, 3}, DType::f32, &g).permute({0, 2, 1});  // (2, 3, 6)
  Tensor w = randn({4, 6}, DType::f32, &g), bias = randn({4}, DType::f32, &g);
  EXPECT_TRUE(allclose(linear(x4, w, bias), linear(x4.contiguous(), w, bias), 1e-5, 1e-5));
  // many small batched products (threaded over the batch) agree with one-by-one products
  Tensor A = randn({16, 5, 7}, DType::f32, &g), B = randn({16, 7, 3}, DType::f32, &g);
  Tensor C = bmm(A, B);
  for (int i = 0; i < 16; i += 5)
    EXPECT_TRUE(allclose(C.select(0, i), mm(A.select(0, i), B.select(0, i)), 1e-5, 1e-5));
}

TEST(Linalg, MatrixVectorProductsMatchFloat64) {
  // One-row and one-column products take the matrix-vector path (threaded over rows, four rows per
  // pass, a scalar tail for the last rows and columns). Sizes cover every tail; the reference is
  // the same product in float64.
  Generator g(11);
  for (int64_t rows : {4, 7, 129}) {
    for (int64_t cols : {16, 67, 5408}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " cols " + std::to_string(cols));
      Tensor w = randn({rows, cols}, DType::f32, &g), x = randn({1, cols}, DType::f32, &g);
      Tensor b = randn({rows}, DType::f32, &g);
      Tensor want = linear(x.to(DType::f64), w.to(DType::f64), b.to(DType::f64)).to(DType::f32);
      EXPECT_TRUE(allclose(linear(x, w, b), want, 1e-4, 1e-4));
      EXPECT_TRUE(allclose(linear(x, w), linear(x.to(DType::f64), w.to(DType::f64)).to(DType::f32), 1e-4, 1e-4));
      // column form: (rows, cols) @ (cols, 1), and a weight whose rows are a narrowed view (ld > cols)
      EXPECT_TRUE(allclose(matmul(w, x.t()), matmul(w.to(DType::f64), x.t().to(DType::f64)).to(DType::f32), 1e-4, 1e-4));
      Tensor wide = randn({rows, cols + 5}, DType::f32, &g).narrow(1, 3, cols);
      EXPECT_TRUE(allclose(linear(x, wide), linear(x.to(DType::f64), wide.to(DType::f64)).to(DType::f32), 1e-4, 1e-4));
    }
  }
}

TEST(Linalg, EmptyAndExtreme) {
  EXPECT_EQ(matmul(zeros({0, 3}), zeros({3, 4})).shape(), (Shape{0, 4}));
  Tensor z = matmul(ones({2, 0}), ones({0, 3}));
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(sum(z).item<float>(), 0.0f);
  Tensor big = full({4, 8}, 1e18), w = full({8, 3}, -1e18);
  EXPECT_TRUE(all_finite(matmul(big, w)));
  EXPECT_TRUE(all_finite(linear(full({2, 8}, 3e18), full({3, 8}, 1e19), full({3}, 1e30))));
}

TEST(Linalg, Errors) {
  EXPECT_THROW(matmul(zeros({3, 4}), zeros({5, 2})), ShapeError);
  EXPECT_THROW(linear(zeros({5, 7}), zeros({3, 6})), ShapeError);
  EXPECT_THROW(matmul(zeros({3}), zeros({3}, DType::f64)), TypeError);
  KUN_EXPECT_ERROR(matmul(zeros({3, 4}), zeros({5, 2})), "matmul", "(3, 4)", "(5, 2)", "K=4");
  KUN_EXPECT_ERROR(matmul(zeros({3, 4}), zeros({4, 2}, DType::f64)), "matmul", "float32", "float64");
  KUN_EXPECT_ERROR(matmul(zeros({2, 3, 4}), zeros({3, 4, 2})), "matmul", "broadcast");
  KUN_EXPECT_ERROR(mm(zeros({3}), zeros({3, 2})), "mm", "2-D", "(3,)");
  KUN_EXPECT_ERROR(bmm(zeros({2, 3, 4}), zeros({3, 4, 5})), "bmm", "(2, 3, 4)", "(3, 4, 5)");
  KUN_EXPECT_ERROR(linear(zeros({5, 7}), zeros({3, 6})), "linear", "in_features=6", "(5, 7)");
  KUN_EXPECT_ERROR(linear(zeros({5, 6}), zeros({3, 6}), zeros({4})), "linear", "out_features=3", "(4,)");
  KUN_EXPECT_ERROR(matmul(zeros({3}, DType::i64), zeros({3}, DType::i64)), "matmul", "int64");
}
