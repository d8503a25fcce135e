// Convolutions and pooling: PyTorch golden values (forward + gradients) through the oneDNN path,
// the float32 reference path and float64; gradchecks; oneDNN vs reference on random geometries;
// primitive caching; extreme inputs; error messages.
#include <gtest/gtest.h>

#include <map>

#include "golden_util.h"
#include "kun/kun.h"
#include "tensor/cpu/dnnl_util.h"

using namespace kun;
using namespace kun::testing;

namespace {

using Fn = std::function<Variable(const std::vector<Variable>&)>;
using FnB = std::function<Variable(const std::vector<Variable>&, ConvBackend)>;

Variable opt_bias(const std::vector<Variable>& v) { return v.size() > 2 ? v[2] : Variable(); }

// Case name -> (input names, op). The options mirror gen_conv.py.
std::map<std::string, std::pair<std::vector<std::string>, FnB>> conv_cases() {
  std::map<std::string, std::pair<std::vector<std::string>, FnB>> m;
  auto c2 = [&](const char* name, Conv2dOptions o, bool bias = true) {
    std::vector<std::string> ins{"x", "w"};
    if (bias) ins.push_back("b");
    m[name] = {ins, [o](const std::vector<Variable>& v, ConvBackend be) {
                 Conv2dOptions oo = o;
                 oo.backend = be;
                 return conv2d(v[0], v[1], opt_bias(v), oo);
               }};
  };
  c2("conv2d_basic", {});
  c2("conv2d_stride_pad", {.stride = 2, .padding = 1});
  c2("conv2d_rect", {.stride = {2, 1}, .padding = {1, 0}});
  c2("conv2d_same_odd", {.padding = "same"});
  c2("conv2d_same_even", {.padding = "same"});
  c2("conv2d_same_dilated", {.padding = "same", .dilation = 2});
  c2("conv2d_valid", {.padding = "valid"});
  c2("conv2d_dilation", {.padding = 1, .dilation = 2});
  c2("conv2d_groups", {.padding = 1, .groups = 2});
  c2("conv2d_depthwise", {.stride = 2, .padding = 1, .groups = 4});
  c2("conv2d_nobias", {}, false);
  auto c1 = [&](const char* name, Conv1dOptions o) {
    m[name] = {{"x", "w", "b"}, [o](const std::vector<Variable>& v, ConvBackend be) {
                 Conv1dOptions oo = o;
                 oo.backend = be;
                 return conv1d(v[0], v[1], v[2], oo);
               }};
  };
  c1("conv1d_basic", {});
  c1("conv1d_stride_pad_dil", {.stride = 2, .padding = 1, .dilation = 2});
  c1("conv1d_same_even", {.padding = "same"});
  c1("conv1d_groups", {.groups = 2});
  auto ct = [&](const char* name, ConvTranspose2dOptions o, bool bias = true) {
    std::vector<std::string> ins{"x", "w"};
    if (bias) ins.push_back("b");
    m[name] = {ins, [o](const std::vector<Variable>& v, ConvBackend be) {
                 ConvTranspose2dOptions oo = o;
                 oo.backend = be;
                 return conv_transpose2d(v[0], v[1], opt_bias(v), oo);
               }};
  };
  ct("convt_basic", {});
  ct("convt_stride_outpad", {.stride = 2, .padding = 1, .output_padding = 1});
  ct("convt_outpad_nopad", {.stride = 2, .padding = 0, .output_padding = 1});
  ct("convt_groups_dil", {.padding = {1, 0}, .groups = 2, .dilation = 2}, false);
  return m;
}

std::map<std::string, Fn> pool_cases() {
  std::map<std::string, Fn> m;
  auto V = [](auto f) { return Fn([f](const std::vector<Variable>& v) { return f(v[0]); }); };
  m["maxpool2d_k2"] = V([](const Variable& x) { return max_pool2d(x, {.kernel = 2}); });
  m["maxpool2d_k3s2p1"] = V([](const Variable& x) { return max_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1}); });
  m["maxpool2d_ceil"] = V([](const Variable& x) { return max_pool2d(x, {.kernel = 3, .stride = 2, .ceil_mode = true}); });
  m["maxpool2d_dil"] = V([](const Variable& x) {
    return max_pool2d(x, {.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 1}, .dilation = 2});
  });
  m["avgpool2d_k3s2p1"] = V([](const Variable& x) { return avg_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1}); });
  m["avgpool2d_nopadcount"] = V([](const Variable& x) {
    return avg_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false});
  });
  m["avgpool2d_ceil"] = V([](const Variable& x) {
    return avg_pool2d(x, {.kernel = 2, .stride = 2, .padding = 1, .ceil_mode = true});
  });
  m["avgpool2d_ceil_nopad"] = V([](const Variable& x) {
    return avg_pool2d(x, {.kernel = 3, .stride = 2, .ceil_mode = true});
  });
  m["maxpool1d"] = V([](const Variable& x) {
    return max_pool1d(x, {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true});
  });
  m["avgpool1d"] = V([](const Variable& x) {
    return avg_pool1d(x, {.kernel = 4, .stride = 3, .padding = 2, .count_include_pad = false});
  });
  m["adaptive2d"] = V([](const Variable& x) { return adaptive_avg_pool2d(x, {3, 5}); });
  m["adaptive1d"] = V([](const Variable& x) { return adaptive_avg_pool1d(x, 4); });
  m["global_avg"] = V([](const Variable& x) { return global_avg_pool2d(x); });
  return m;
}

// Forward and gradients of one golden case, in `dtype`.
void check_case(const std::string& name, const std::vector<std::string>& names, const Fn& f, DType dtype) {
  SCOPED_TRACE(name + " " + std::string(dtype_name(dtype)));
  const auto& c = golden_case("conv", name);
  std::vector<Variable> vars;
  for (const auto& n : names) vars.emplace_back(input(c, n).to(dtype), true);
  Variable y = f(vars);
  EXPECT_TRUE(close(y.data(), output(c, "y"), 1e-4, 1e-4));
  y.backward(output(c, "w_out").to(dtype));
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_TRUE(close(vars[i].grad(), output(c, "g_" + names[i]), 1e-4, 1e-4)) << "gradient of " << names[i];
}

}  // namespace

TEST(Conv, GoldenAllPathsMatchPyTorch) {
  int n = 0;
  for (auto& [name, spec] : conv_cases()) {
    auto& [names, fb] = spec;
    auto on = [fb = fb](ConvBackend be) { return Fn([fb, be](const std::vector<Variable>& v) { return fb(v, be); }); };
    check_case(name, names, on(ConvBackend::automatic), DType::f32);  // oneDNN
    check_case(name, names, on(ConvBackend::reference), DType::f32);  // plain reference path
    check_case(name, names, on(ConvBackend::automatic), DType::f64);  // float64 (reference)
    ++n;
  }
  EXPECT_EQ(n, 19);
}

TEST(Pool, GoldenMatchPyTorch) {
  ASSERT_EQ(pool_cases().size(), 13u);
  for (auto& [name, f] : pool_cases()) {
    const std::vector<std::string> names{"x"};
    check_case(name, names, f, DType::f32);
    check_case(name, names, f, DType::f64);
  }
}

TEST(Conv, Gradcheck) {
  Generator g(11);
  auto R = [&](Shape s) { return randn(s, DType::f64, &g); };
  auto conv = [](Conv2dOptions o) {
    return Fn([o](const std::vector<Variable>& v) { return conv2d(v[0], v[1], v[2], o); });
  };
  EXPECT_TRUE(grad_ok(conv({}), {R({2, 2, 5, 5}), R({3, 2, 3, 3}), R({3})}));
  EXPECT_TRUE(grad_ok(conv({.stride = 2, .padding = 1}), {R({1, 2, 6, 5}), R({3, 2, 3, 3}), R({3})}));
  EXPECT_TRUE(grad_ok(conv({.padding = "same", .dilation = {2, 1}}), {R({1, 2, 6, 5}), R({2, 2, 2, 3}), R({2})}));
  EXPECT_TRUE(grad_ok(conv({.padding = 1, .groups = 2}), {R({1, 4, 4, 4}), R({4, 2, 3, 3}), R({4})}));
  EXPECT_TRUE(grad_ok(conv({.stride = {1, 2}, .groups = 3}), {R({2, 3, 4, 5}), R({3, 1, 2, 2}), R({3})}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) {
    return conv1d(v[0], v[1], v[2], {.stride = 2, .padding = 1, .dilation = 2});
  }, {R({2, 2, 9}), R({3, 2, 3}), R({3})}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) {
    return conv_transpose2d(v[0], v[1], v[2], {.stride = 2, .padding = 1, .output_padding = 1});
  }, {R({1, 2, 3, 3}), R({2, 3, 3, 3}), R({3})}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) {
    return conv_transpose2d(v[0], v[1], v[2], {.stride = {2, 1}, .output_padding = {1, 0}, .groups = 2, .dilation = 2});
  }, {R({1, 4, 3, 3}), R({4, 1, 2, 2}), R({2})}));
}

TEST(Pool, Gradcheck) {
  Generator g(5);
  auto R = [&](Shape s) { return randn(s, DType::f64, &g); };
  for (auto& [name, f] : pool_cases()) {
    SCOPED_TRACE(name);
    bool one_d = name.find("1d") != std::string::npos;
    EXPECT_TRUE(grad_ok(f, {one_d ? R({2, 2, 9}) : R({2, 2, 6, 7})}));
  }
}

TEST(Conv, OneDnnMatchesReferenceOnRandomShapes) {
  Generator g(2024);
  auto ri = [&](int64_t lo, int64_t hi) { return randint(lo, hi + 1, {1}, DType::i64, &g).item<int64_t>(); };
  for (int it = 0; it < 24; ++it) {
    const int64_t groups = ri(1, 3), cg = ri(1, 4), og = ri(1, 4);
    const int64_t kh = ri(1, 4), kw = ri(1, 4), sh = ri(1, 3), sw = ri(1, 3), dh = ri(1, 2), dw = ri(1, 2);
    const int64_t ph = ri(0, 2), pw = ri(0, 2);
    const int64_t H = dh * (kh - 1) + 1 + ri(0, 6), W = dw * (kw - 1) + 1 + ri(0, 6), N = ri(1, 3);
    Conv2dOptions o{.stride = {sh, sw}, .padding = {ph, pw}, .dilation = {dh, dw}, .groups = groups};
    SCOPED_TRACE(::testing::Message() << "iter " << it << " x " << (Shape{N, groups * cg, H, W}) << " w "
                                      << (Shape{groups * og, cg, kh, kw}) << " s " << sh << "," << sw << " p " << ph
                                      << "," << pw << " d " << dh << "," << dw << " g " << groups);
    Tensor x = randn({N, groups * cg, H, W}, DType::f32, &g), w = randn({groups * og, cg, kh, kw}, DType::f32, &g);
    Tensor b = randn({groups * og}, DType::f32, &g);
    Tensor y = conv2d(x, w, b, o);
    Conv2dOptions r = o;
    r.backend = ConvBackend::reference;
    Tensor yr = conv2d(x, w, b, r);
    ASSERT_TRUE(close(y, yr, 1e-4, 1e-4));
    Tensor gy = randn(y.shape(), DType::f32, &g);
    ConvGrads a = conv2d_backward(gy, x, w, o), c = conv2d_backward(gy, x, w, r);
    EXPECT_TRUE(close(a.input, c.input, 1e-4, 1e-4));
    EXPECT_TRUE(close(a.weight, c.weight, 1e-4, 1e-3));
    EXPECT_TRUE(close(a.bias, c.bias, 1e-4, 1e-3));
    // the transposed convolution of the same geometry (when its output is non-empty)
    if ((H - 1) * sh - 2 * ph + dh * (kh - 1) + 1 < 1 || (W - 1) * sw - 2 * pw + dw * (kw - 1) + 1 < 1) continue;
    ConvTranspose2dOptions t{.stride = {sh, sw}, .padding = {ph, pw}, .groups = groups, .dilation = {dh, dw}};
    Tensor wt = randn({groups * cg, og, kh, kw}, DType::f32, &g);
    Tensor z = conv_transpose2d(x, wt, Tensor(), t);
    ConvTranspose2dOptions tr = t;
    tr.backend = ConvBackend::reference;
    EXPECT_TRUE(close(z, conv_transpose2d(x, wt, Tensor(), tr), 1e-4, 1e-4));
  }
}

TEST(Conv, PrimitivesAreCached) {
  Tensor x = randn({2, 3, 9, 9}), w = randn({4, 3, 3, 3}), b = randn({4});
  Tensor y = conv2d(x, w, b, {.padding = 1});
  conv2d_backward(y, x, w, {.padding = 1});
  const size_t n = cpu::dnnl_util::cache_size();
  for (int i = 0; i < 3; ++i) {
    y = conv2d(x, w, b, {.padding = 1});
    conv2d_backward(y, x, w, {.padding = 1});
  }
  EXPECT_EQ(cpu::dnnl_util::cache_size(), n);
}

TEST(Conv, ThreadCountDoesNotChangeResults) {
  Tensor x = randn({4, 8, 12, 12}), w = randn({16, 8, 3, 3});
  set_num_threads(1);
  Tensor a = conv2d(x, w, Tensor(), {.padding = 1});
  set_num_threads(2);
  Tensor b = conv2d(x, w, Tensor(), {.padding = 1});
  set_num_threads(0);
  EXPECT_TRUE(close(a, b, 1e-5, 1e-5));
}

TEST(Conv, ExtremeInputsStayFinite) {
  Tensor x = full({2, 3, 6, 6}, 1e18), w = full({4, 3, 3, 3}, -1e18);
  EXPECT_TRUE(all_finite(conv2d(x, w, Tensor(), {.padding = 1})));
  EXPECT_TRUE(all_finite(conv_transpose2d(x, full({3, 2, 3, 3}, 1e18), Tensor(), {.stride = 2})));
  Tensor huge = full({1, 2, 4, 4}, 3e38);  // the sum of a window overflows float32; the mean must not
  EXPECT_TRUE(all_finite(avg_pool2d(huge, {.kernel = 2})));
  EXPECT_TRUE(all_finite(adaptive_avg_pool2d(huge, {1, 1})));
  EXPECT_TRUE(all_finite(global_avg_pool2d(huge)));
  Tensor neg = full({1, 2, 5, 5}, -3e38);  // padding must never win a max
  Tensor m = max_pool2d(neg, {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true});
  EXPECT_TRUE(all_finite(m));
  EXPECT_FLOAT_EQ(m.to_vector<float>()[0], -3e38f);
}

TEST(Conv, Errors) {
  Tensor w = zeros({32, 3, 3, 3});
  // wrong rank, channel mismatch and a kernel larger than the padded input are ShapeErrors
  EXPECT_THROW(conv2d(zeros({32, 28, 28}), w), ShapeError);
  EXPECT_THROW(conv2d(zeros({2, 4, 28, 28}), w), ShapeError);
  EXPECT_THROW(conv2d(zeros({2, 3, 2, 2}), w), ShapeError);
  EXPECT_THROW(max_pool2d(zeros({2, 3, 2, 2}), {.kernel = 3}), ShapeError);
  EXPECT_THROW(conv2d(zeros({2, 3, 8, 8}), w.to(DType::f64)), TypeError);
  KUN_EXPECT_ERROR(conv2d(zeros({32, 28, 28}), w), "conv2d: input must be (N, C, H, W) with C=3, got (32, 28, 28)");
  KUN_EXPECT_ERROR(conv2d(zeros({2, 4, 28, 28}), w), "conv2d", "C=3", "(2, 4, 28, 28)");
  KUN_EXPECT_ERROR(conv2d(zeros({2, 3, 2, 8}), w), "conv2d", "kernel", "larger than the padded input", "height");
  KUN_EXPECT_ERROR(conv2d(zeros({2, 3, 8, 8}), zeros({32, 3, 3})), "conv2d", "weight", "(32, 3, 3)");
  KUN_EXPECT_ERROR(conv2d(zeros({2, 3, 8, 8}), w, zeros({31})), "conv2d", "bias", "O=32", "(31,)");
  KUN_EXPECT_ERROR(conv2d(zeros({2, 3, 8, 8}), w, Tensor(), {.stride = 2, .padding = "same"}), "conv2d", "same",
                   "stride");
  KUN_EXPECT_ERROR(conv2d(zeros({2, 4, 8, 8}), zeros({6, 2, 3, 3}), Tensor(), {.groups = 4}), "conv2d", "C=8");
  KUN_EXPECT_ERROR(conv2d(zeros({2, 3, 8, 8}), zeros({32, 3, 3, 3}, DType::f64)), "conv2d", "float64", "float32");
  KUN_EXPECT_ERROR(ConvPadding("full"), "padding", "full");
  KUN_EXPECT_ERROR(conv1d(zeros({2, 3, 8, 8}), zeros({4, 3, 3})), "conv1d", "(N, C, L) with C=3", "(2, 3, 8, 8)");
  KUN_EXPECT_ERROR(conv_transpose2d(zeros({1, 2, 4, 4}), zeros({3, 2, 3, 3})), "conv_transpose2d", "C=3",
                   "(1, 2, 4, 4)");
  KUN_EXPECT_ERROR(conv_transpose2d(zeros({1, 3, 4, 4}), zeros({3, 2, 3, 3}), Tensor(), {.output_padding = 1}),
                   "conv_transpose2d", "output_padding");
  KUN_EXPECT_ERROR(max_pool2d(zeros({2, 3, 2, 2}), {.kernel = 3}), "max_pool2d", "kernel", "larger");
  KUN_EXPECT_ERROR(max_pool2d(zeros({8, 8}), {.kernel = 2}), "max_pool2d", "(N, C, H, W)", "(8, 8)");
  KUN_EXPECT_ERROR(avg_pool2d(zeros({1, 1, 8, 8}), {.kernel = 2, .padding = 2}), "avg_pool2d", "padding");
  KUN_EXPECT_ERROR(avg_pool1d(zeros({1, 1, 8, 8}), {.kernel = 2}), "avg_pool1d", "(N, C, L)");
  KUN_EXPECT_ERROR(adaptive_avg_pool2d(zeros({1, 1, 8, 8}), {0, 2}), "adaptive_avg_pool2d", "output size");
  KUN_EXPECT_ERROR(conv2d_backward(zeros({2, 32, 5, 5}), zeros({2, 3, 8, 8}), w), "conv2d_backward",
                   "(2, 32, 6, 6)", "(2, 32, 5, 5)");
}
