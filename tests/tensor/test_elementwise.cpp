// Elementwise ops: golden values from PyTorch (tests/golden/gen_elementwise.py), gradients against
// PyTorch and against finite differences, extreme inputs, the threaded + vectorized path against
// the float64 path, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "golden_util.h"
#include "kun/kun.h"

using namespace kun;
using kun::testing::close;
using kun::testing::golden_case;
using kun::testing::grad_ok;
using kun::testing::json;

namespace {

constexpr const char* kFamily = "elementwise";

// golden_util's from_json plus the strings "nan", "inf", "-inf" the generator writes for non-finite floats.
Tensor load(const json& j) {
  Shape shape(j["shape"].get<std::vector<int64_t>>());
  DType dt = dtype_from_name(j["dtype"].get<std::string>());
  const json& d = j["data"];
  std::vector<double> v;
  for (const json& e : d) {
    if (e.is_string()) {
      std::string s = e.get<std::string>();
      v.push_back(s == "nan" ? std::numeric_limits<double>::quiet_NaN()
                             : (s == "inf" ? std::numeric_limits<double>::infinity()
                                           : -std::numeric_limits<double>::infinity()));
    } else if (e.is_boolean()) {
      v.push_back(e.get<bool>() ? 1.0 : 0.0);
    } else {
      v.push_back(e.get<double>());
    }
  }
  return from_vector(v, shape).to(dt);
}
Tensor in(const json& c, const char* name) { return load(c["inputs"][name]); }
Tensor out(const json& c, const char* name) { return load(c["outputs"][name]); }
double attr(const json& c, const char* name, double dflt) { return c["attrs"].value(name, dflt); }

// Same values, non-contiguous layout (a transposed view of a transposed copy).
Tensor strided_copy(const Tensor& x) {
  if (x.dim() != 2) return x;
  return x.t().contiguous().t();
}

struct UnaryOp {
  std::function<Tensor(const Tensor&)> t;
  std::function<Variable(const Variable&)> v;
};
#define KUN_OP(name, expr) \
  { name, UnaryOp{[](const Tensor& x) { return expr; }, [](const Variable& x) { return expr; }} }

// Every golden unary case name (without unary_ / extreme_ and _f64) -> the kun op.
const std::map<std::string, UnaryOp>& unary_ops() {
  static const std::map<std::string, UnaryOp> ops = {
      KUN_OP("neg", neg(x)),
      KUN_OP("exp", kun::exp(x)),
      KUN_OP("log", kun::log(x)),
      KUN_OP("log1p", kun::log1p(x)),
      KUN_OP("sqrt", kun::sqrt(x)),
      KUN_OP("rsqrt", rsqrt(x)),
      KUN_OP("abs", kun::abs(x)),
      KUN_OP("square", square(x)),
      KUN_OP("reciprocal", reciprocal(x)),
      KUN_OP("pow_2.5", kun::pow(x, 2.5)),
      KUN_OP("pow_3", kun::pow(x, 3.0)),
      KUN_OP("pow_-1.5", kun::pow(x, -1.5)),
      KUN_OP("pow_2", kun::pow(x, 2.0)),
      KUN_OP("pow_0.5", kun::pow(x, 0.5)),
      KUN_OP("sin", kun::sin(x)),
      KUN_OP("cos", kun::cos(x)),
      KUN_OP("tanh", kun::tanh(x)),
      KUN_OP("erf", kun::erf(x)),
      KUN_OP("sigmoid", sigmoid(x)),
      KUN_OP("relu", relu(x)),
      KUN_OP("leaky_relu", leaky_relu(x)),
      KUN_OP("leaky_relu_0.2", leaky_relu(x, 0.2)),
      KUN_OP("elu", elu(x)),
      KUN_OP("elu_0.5", elu(x, 0.5)),
      KUN_OP("gelu", gelu(x)),
      KUN_OP("gelu_tanh", gelu(x, GeluApprox::tanh)),
      KUN_OP("silu", silu(x)),
      KUN_OP("softplus", softplus(x)),
      KUN_OP("softplus_b2_t5", softplus(x, 2.0, 5.0)),
      KUN_OP("clamp", clamp(x, -0.5, 0.7)),
      KUN_OP("clamp_min", clamp(x, -0.5, std::nullopt)),
      KUN_OP("clamp_max", clamp(x, std::nullopt, 0.7)),
      KUN_OP("sign", sign(x)),
  };
  return ops;
}

struct Tol {
  double rtol, atol;
};
Tol tol_for(DType dt) { return dt == DType::f64 ? Tol{1e-10, 1e-12} : Tol{1e-5, 1e-6}; }

// Forward (contiguous and strided layouts) and gradient of one golden unary case.
void check_unary_case(const std::string& case_name, const UnaryOp& op) {
  SCOPED_TRACE(case_name);
  const json& c = golden_case(kFamily, case_name);
  Tensor x = in(c, "x"), y = out(c, "y");
  Tol tl = tol_for(x.dtype());
  Tensor got = op.t(x);
  EXPECT_EQ(got.dtype(), y.dtype());
  EXPECT_TRUE(close(got, y, tl.rtol, tl.atol));
  EXPECT_TRUE(close(op.t(strided_copy(x)), y, tl.rtol, tl.atol)) << "non-contiguous input";
  if (!c["outputs"].contains("gx")) return;
  Variable xv(x, true);
  Variable yv = op.v(xv);
  yv.backward(in(c, "g"));
  ASSERT_TRUE(xv.has_grad());
  // gradients of float32 ops: PyTorch's formulas round differently (e.g. 2x*g vs 2*(x*g))
  EXPECT_TRUE(close(xv.grad(), out(c, "gx"), tl.rtol * 2, tl.atol * 2)) << "gradient";
}

}  // namespace

// ---------------------------------------------------------------- golden: unary

TEST(ElementwiseGolden, UnaryForwardAndGradientMatchPyTorch) {
  int checked = 0;
  for (const auto& [name, op] : unary_ops()) {
    check_unary_case("unary_" + name, op);
    ++checked;
    const json& all = kun::testing::golden(kFamily)["cases"];
    if (all.contains("unary_" + name + "_f64")) {
      check_unary_case("unary_" + name + "_f64", op);
      ++checked;
    }
  }
  EXPECT_GE(checked, 47);
}

TEST(ElementwiseGolden, ExtremeInputsMatchPyTorchAndStayFinite) {
  for (const char* name : {"exp", "sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "silu", "elu", "erf", "log1p",
                           "relu", "leaky_relu", "softplus_b2_t5"}) {
    check_unary_case(std::string("extreme_") + name, unary_ops().at(name));
  }
  for (const char* name : {"extreme_log", "extreme_log1p_dom"}) {
    SCOPED_TRACE(name);
    const json& c = golden_case(kFamily, name);
    Tensor x = in(c, "x");
    Tensor got = std::string(name) == "extreme_log" ? kun::log(x) : kun::log1p(x);
    EXPECT_TRUE(close(got, out(c, "y")));
  }
}

TEST(ElementwiseGolden, IntegerInputsFollowTheDtypeRule) {
  const json& c1 = golden_case(kFamily, "int_sqrt");
  Tensor r = kun::sqrt(in(c1, "x"));
  EXPECT_EQ(r.dtype(), DType::f32);
  EXPECT_TRUE(close(r, out(c1, "y")));
  const json& c2 = golden_case(kFamily, "int_exp");
  EXPECT_TRUE(close(kun::exp(in(c2, "x")), out(c2, "y")));
  const json& c3 = golden_case(kFamily, "int_abs");
  Tensor a = kun::abs(in(c3, "x"));
  EXPECT_EQ(a.dtype(), DType::i64);
  EXPECT_EQ(a.to_vector<int64_t>(), out(c3, "y").to_vector<int64_t>());
  // ops closed over the integers keep the dtype; the others compute in float32
  Tensor xi = from_vector<int32_t>({-3, 0, 5}, {3});
  EXPECT_EQ(relu(xi).dtype(), DType::i32);
  EXPECT_EQ(relu(xi).to_vector<int32_t>(), (std::vector<int32_t>{0, 0, 5}));
  EXPECT_EQ(neg(xi).to_vector<int32_t>(), (std::vector<int32_t>{3, 0, -5}));
  EXPECT_EQ(sign(xi).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 1}));
  EXPECT_EQ(square(xi).to_vector<int32_t>(), (std::vector<int32_t>{9, 0, 25}));
  EXPECT_EQ(clamp(xi, -1, 2).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 2}));
  EXPECT_EQ(clamp(xi, -1.5, std::nullopt).dtype(), DType::f32);  // fractional bound
  EXPECT_EQ(sigmoid(xi).dtype(), DType::f32);
  EXPECT_EQ(leaky_relu(xi, 0.5).to_vector<float>(), (std::vector<float>{-1.5f, 0, 5}));
  EXPECT_EQ(kun::pow(xi, 2.0).dtype(), DType::f32);
  EXPECT_EQ(mul(xi, 0.5).to_vector<float>(), (std::vector<float>{-1.5f, 0, 2.5f}));
  EXPECT_EQ(mul(xi, 2.0).dtype(), DType::i32);
}

// ---------------------------------------------------------------- golden: binary

TEST(ElementwiseGolden, BinaryBroadcastingForwardAndGradients) {
  struct B {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> t;
    std::function<Variable(const Variable&, const Variable&)> v;
  };
  std::vector<B> ops = {
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](const Variable& a, const Variable& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](const Variable& a, const Variable& b) { return minimum(a, b); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return kun::pow(a, b); },
       [](const Variable& a, const Variable& b) { return kun::pow(a, b); }},
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); },
       [](const Variable& a, const Variable& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); },
       [](const Variable& a, const Variable& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); },
       [](const Variable& a, const Variable& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); },
       [](const Variable& a, const Variable& b) { return div(a, b); }},
  };
  for (const B& op : ops) {
    for (const char* suffix : {"", "_f64"}) {
      std::string name = std::string("binary_") + op.name + suffix;
      SCOPED_TRACE(name);
      const json& c = golden_case(kFamily, name);
      Tensor a = in(c, "a"), b = in(c, "b");
      Tol tl = tol_for(a.dtype());
      EXPECT_TRUE(close(op.t(a, b), out(c, "y"), tl.rtol, tl.atol));
      // b is (5, 4): a strided layout must give the same values
      EXPECT_TRUE(close(op.t(a, strided_copy(b)), out(c, "y"), tl.rtol, tl.atol)) << "non-contiguous b";
      Variable av(a, true), bv(b, true);
      op.v(av, bv).backward(in(c, "g"));
      // ties in maximum/minimum: PyTorch splits the gradient half and half
      EXPECT_TRUE(close(av.grad(), out(c, "ga"), tl.rtol * 10, tl.atol * 10)) << "grad a";
      EXPECT_TRUE(close(bv.grad(), out(c, "gb"), tl.rtol * 10, tl.atol * 10)) << "grad b";
    }
  }
}

TEST(ElementwiseGolden, MixedDtypesPromote) {
  for (const char* op : {"maximum", "minimum", "add", "mul", "pow"}) {
    for (const char* kinds : {"_i64_f32", "_f32_f64"}) {
      std::string name = std::string("mixed_") + op + kinds;
      SCOPED_TRACE(name);
      const json& c = golden_case(kFamily, name);
      Tensor a = in(c, "a"), b = in(c, "b"), want = out(c, "y");
      std::string o = op;
      Tensor got = o == "maximum" ? maximum(a, b)
                   : o == "minimum" ? minimum(a, b)
                   : o == "add"     ? add(a, b)
                   : o == "mul"     ? mul(a, b)
                                    : kun::pow(a, b);
      EXPECT_EQ(got.dtype(), want.dtype());
      EXPECT_TRUE(close(got, want));
    }
  }
}

TEST(ElementwiseGolden, ComparisonsAndLogic) {
  using CmpT = Tensor (*)(const Tensor&, const Tensor&);
  using CmpS = Tensor (*)(const Tensor&, double);
  std::vector<std::tuple<const char*, CmpT, CmpS>> cmps = {
      {"eq", eq, eq}, {"ne", ne, ne}, {"lt", lt, lt}, {"le", le, le}, {"gt", gt, gt}, {"ge", ge, ge}};
  for (auto& [name, ft, fs] : cmps) {
    SCOPED_TRACE(name);
    std::string n = name;
    const json& c = golden_case(kFamily, "cmp_" + n);
    Tensor r = ft(in(c, "a"), in(c, "b"));
    EXPECT_EQ(r.dtype(), DType::bool_);
    EXPECT_EQ(r.to_vector<int64_t>(), out(c, "y").to_vector<int64_t>());
    const json& cs = golden_case(kFamily, "cmp_" + n + "_scalar");
    EXPECT_EQ(fs(in(cs, "a"), attr(cs, "s", 0)).to_vector<int64_t>(), out(cs, "y").to_vector<int64_t>());
    const json& ci = golden_case(kFamily, "cmp_" + n + "_int_scalar");
    EXPECT_EQ(fs(in(ci, "a"), attr(ci, "s", 0)).to_vector<int64_t>(), out(ci, "y").to_vector<int64_t>());
    const json& cm = golden_case(kFamily, "cmp_" + n + "_int_f32");
    EXPECT_EQ(ft(in(cm, "a"), in(cm, "b")).to_vector<int64_t>(), out(cm, "y").to_vector<int64_t>());
  }
  const json& ca = golden_case(kFamily, "logic_and");
  EXPECT_EQ(logical_and(in(ca, "a"), in(ca, "b")).to_vector<int64_t>(), out(ca, "y").to_vector<int64_t>());
  const json& co = golden_case(kFamily, "logic_or");
  EXPECT_EQ(logical_or(in(co, "a"), in(co, "b")).to_vector<int64_t>(), out(co, "y").to_vector<int64_t>());
  const json& cn = golden_case(kFamily, "logic_not");
  EXPECT_EQ(logical_not(in(cn, "a")).to_vector<int64_t>(), out(cn, "y").to_vector<int64_t>());
  for (const char* suffix : {"", "_f64"}) {
    for (const char* name : {"isnan", "isinf", "isfinite"}) {
      std::string n = std::string("class_") + name + suffix;
      SCOPED_TRACE(n);
      const json& c = golden_case(kFamily, n);
      Tensor x = in(c, "x");
      std::string s = name;
      Tensor r = s == "isnan" ? kun::isnan(x) : s == "isinf" ? kun::isinf(x) : kun::isfinite(x);
      EXPECT_EQ(r.to_vector<int64_t>(), out(c, "y").to_vector<int64_t>());
    }
  }
  Tensor xi = from_vector<int64_t>({1, 2}, {2});
  EXPECT_EQ(kun::isnan(xi).to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(kun::isfinite(xi).to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
}

TEST(ElementwiseGolden, WhereBroadcastsAndDifferentiates) {
  const json& c = golden_case(kFamily, "where");
  Tensor cond = in(c, "cond");
  Variable a(in(c, "a"), true), b(in(c, "b"), true);
  Variable y = where(cond, a, b);
  EXPECT_TRUE(close(y.data(), out(c, "y")));
  y.backward(in(c, "g"));
  EXPECT_TRUE(close(a.grad(), out(c, "ga")));
  EXPECT_TRUE(close(b.grad(), out(c, "gb")));
  const json& m = golden_case(kFamily, "where_mixed");
  Tensor r = where(in(m, "cond"), in(m, "a"), in(m, "b"));
  EXPECT_EQ(r.dtype(), DType::f64);
  EXPECT_TRUE(close(r, out(m, "y")));
  // scalar branches
  Tensor x = from_vector<float>({-1, 2, -3}, {3});
  EXPECT_EQ(where(gt(x, 0.0), x, 0.0).to_vector<float>(), (std::vector<float>{0, 2, 0}));
  EXPECT_EQ(where(gt(x, 0.0), 5.0, x).to_vector<float>(), (std::vector<float>{-1, 5, -3}));
}

TEST(ElementwiseGolden, InPlaceHelpers) {
  const json& c = golden_case(kFamily, "inplace_addcmul");
  Tensor a = in(c, "a");
  Tensor view = a;  // shares storage: sees the update
  addcmul_(a, in(c, "b"), in(c, "c"), attr(c, "value", 1));
  EXPECT_TRUE(close(view, out(c, "y")));
  const json& c2 = golden_case(kFamily, "inplace_add");
  Tensor a2 = in(c2, "a");
  add_(a2, in(c2, "b"), attr(c2, "alpha", 1));
  EXPECT_TRUE(close(a2, out(c2, "y")));
  const json& c3 = golden_case(kFamily, "inplace_clamp");
  Tensor a3 = in(c3, "a");
  clamp_(a3, attr(c3, "min", 0), attr(c3, "max", 0));
  EXPECT_TRUE(close(a3, out(c3, "y")));
  // in-place through a strided view writes the underlying storage
  Tensor base = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor col = base.select(1, 1);  // (2,) with stride 3
  clamp_(col, std::nullopt, 3.0);
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 3, 6}));
  // aliasing element for element is fine
  Tensor d = from_vector<float>({1, 2}, {2});
  addcmul_(d, d, d, 1.0);
  EXPECT_EQ(d.to_vector<float>(), (std::vector<float>{2, 6}));
  // integer clamp_ rounds the bounds inward
  Tensor i = from_vector<int64_t>({-2, 0, 2}, {3});
  clamp_(i, -0.5, 1.5);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1}));
}

// ---------------------------------------------------------------- gradcheck (float64)

namespace {
// (3, 4) float64 input for an op's domain, kept away from kinks at 0, -0.5 and 0.7.
Tensor gradcheck_input(const std::string& op, uint64_t seed) {
  Generator gen(seed);
  Tensor x = randn({3, 4}, DType::f64, &gen);
  auto v = x.to_vector<double>();
  bool pos = op == "log" || op == "sqrt" || op == "rsqrt" || op == "reciprocal" || op.rfind("pow_", 0) == 0;
  for (double& e : v) {
    if (pos) e = std::abs(e) + 0.2;
    if (op == "log1p") e = std::abs(e) * 0.5 - 0.4;
    if (std::abs(e) < 0.05 || std::abs(e + 0.5) < 0.05 || std::abs(e - 0.7) < 0.05) e += 0.13;
  }
  return from_vector(v, x.shape());
}
}  // namespace

TEST(ElementwiseGradcheck, EveryUnaryOp) {
  int n = 0;
  for (const auto& [name, op] : unary_ops()) {
    SCOPED_TRACE(name);
    auto f = [&op](const std::vector<Variable>& in) { return op.v(in[0]); };
    EXPECT_TRUE(grad_ok(f, {gradcheck_input(name, 7)})) << name;
    ++n;
  }
  // extra points for the activations: large |x| and the erfc branch of gelu
  Tensor wide = from_vector<double>({-6, -3.1, -1.2, -0.3, 0.4, 1.1, 2.9, 7}, {8});
  for (const char* name : {"gelu", "gelu_tanh", "silu", "softplus", "sigmoid", "tanh", "elu", "erf"}) {
    SCOPED_TRACE(name);
    const UnaryOp& op = unary_ops().at(name);
    EXPECT_TRUE(grad_ok([&op](const std::vector<Variable>& in) { return op.v(in[0]); }, {wide}));
    ++n;
  }
  EXPECT_GE(n, 41);
}

TEST(ElementwiseGradcheck, BinaryOpsWithBroadcasting) {
  Generator gen(3);
  Tensor a = randn({3, 1, 4}, DType::f64, &gen), b = randn({5, 4}, DType::f64, &gen);
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return maximum(v[0], v[1]); }, {a, b}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return minimum(v[0], v[1]); }, {a, b}));
  Tensor pa = add(kun::abs(a), 0.3);
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return kun::pow(v[0], v[1]); }, {pa, b}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return div(v[0], v[1]); }, {b, pa}));
  Tensor cond = gt(randn({3, 1, 1}, DType::f64, &gen), 0.0);
  EXPECT_TRUE(grad_ok([cond](const std::vector<Variable>& v) { return where(cond, v[0], v[1]); }, {a, b}));
  // composed: softplus(x * w) - gelu(x), exercising accumulation through shared inputs
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return sub(softplus(mul(v[0], v[1])), gelu(v[0])); },
                      {a, b}));
}

TEST(ElementwiseGradcheck, KinkConventionsFollowPyTorch) {
  Variable x(from_vector<double>({-1, 0, 1}, {3}), true);
  auto grad_of = [&](const std::function<Variable(const Variable&)>& f) {
    x.zero_grad();
    f(x).backward(ones({3}, DType::f64));
    return x.grad().to_vector<double>();
  };
  EXPECT_EQ(grad_of([](const Variable& v) { return relu(v); }), (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(grad_of([](const Variable& v) { return kun::abs(v); }), (std::vector<double>{-1, 0, 1}));
  EXPECT_EQ(grad_of([](const Variable& v) { return leaky_relu(v, 0.1); }), (std::vector<double>{0.1, 0.1, 1}));
  EXPECT_EQ(grad_of([](const Variable& v) { return clamp(v, 0.0, 1.0); }), (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(grad_of([](const Variable& v) { return sign(v); }), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(grad_of([](const Variable& v) { return elu(v, 2.0); })[1], 2.0);  // alpha at 0, like PyTorch
  EXPECT_EQ(grad_of([](const Variable& v) { return kun::pow(v, 0.0); }), (std::vector<double>{0, 0, 0}));
  // maximum(x, x): each side gets half
  Variable a(from_vector<double>({2, 3}, {2}), true), b(from_vector<double>({2, 1}, {2}), true);
  maximum(a, b).backward(ones({2}, DType::f64));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.5, 1}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0.5, 0}));
  // pow(0, b >= 0): d/db is 0, not NaN
  Variable base(from_vector<double>({0, 2}, {2}), true), ex(from_vector<double>({2, 3}, {2}), true);
  kun::pow(base, ex).backward(ones({2}, DType::f64));
  EXPECT_EQ(ex.grad().to_vector<double>()[0], 0.0);
  EXPECT_NEAR(ex.grad().to_vector<double>()[1], 8 * std::log(2.0), 1e-12);
}

// ---------------------------------------------------------------- extreme values

TEST(ElementwiseExtremes, LimitsAreExact) {
  Tensor x = from_vector<float>({-1000, 1000, -100, 100, -50, 50, 0, -1e4f, 1e4f}, {9});
  auto e = kun::exp(x).to_vector<float>();
  EXPECT_EQ(e[0], 0.0f);
  EXPECT_EQ(e[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(e[6], 1.0f);
  auto s = sigmoid(x).to_vector<float>();
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(s[1], 1.0f);
  EXPECT_EQ(s[3], 1.0f);
  EXPECT_TRUE(std::isfinite(s[2]) && s[2] >= 0 && s[2] < 1e-40f);
  auto t = kun::tanh(x).to_vector<float>();
  EXPECT_EQ(t[4], -1.0f);
  EXPECT_EQ(t[5], 1.0f);
  EXPECT_EQ(t[7], -1.0f);
  EXPECT_EQ(t[8], 1.0f);
  auto l = kun::log(from_vector<float>({0, 1e-45f, -1}, {3})).to_vector<float>();
  EXPECT_EQ(l[0], -std::numeric_limits<float>::infinity());
  EXPECT_NEAR(l[1], std::log(static_cast<double>(1e-45f)), 1e-4);  // subnormal input
  EXPECT_TRUE(std::isnan(l[2]));
  auto sp = softplus(x).to_vector<float>();
  EXPECT_EQ(sp[7], 0.0f);
  EXPECT_EQ(sp[8], 1e4f);
  auto g = gelu(x).to_vector<float>();
  EXPECT_EQ(g[7], 0.0f);
  EXPECT_EQ(g[8], 1e4f);
  EXPECT_EQ(gelu(x, GeluApprox::tanh).to_vector<float>()[8], 1e4f);
  // every activation and its gradient is finite for finite input, in both float types
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor big = from_vector<double>({-3e38, -1e30, -1e4, -100, -1e-30, 0, 1e-30, 100, 1e4, 1e30, 3e38}, {11}).to(dt);
    Tensor one = ones_like(big);
    for (const char* name : {"sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "silu", "elu", "erf", "relu",
                             "leaky_relu"}) {
      SCOPED_TRACE(std::string(name) + " " + std::string(dtype_name(dt)));
      const UnaryOp& op = unary_ops().at(name);
      EXPECT_TRUE(kun::testing::all_finite(op.t(big)));
      Variable v(big, true);
      op.v(v).backward(one);
      EXPECT_TRUE(kun::testing::all_finite(v.grad()));
    }
  }
}

TEST(ElementwiseExtremes, NaNPropagates) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = from_vector<float>({nan, 1}, {2});
  for (const auto& [name, op] : unary_ops()) {
    if (name == "sign") continue;  // sign(NaN) = 0, like PyTorch
    SCOPED_TRACE(name);
    EXPECT_TRUE(std::isnan(op.t(x).to_vector<float>()[0]));
  }
  EXPECT_EQ(sign(x).to_vector<float>()[0], 0.0f);
  EXPECT_TRUE(std::isnan(maximum(x, zeros({2})).to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(minimum(zeros({2}), x).to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(clamp(x, 0.0, 0.5).to_vector<float>()[0]));
}

// ---------------------------------------------------------------- large: threaded + vectorized path

TEST(ElementwiseLarge, VectorPathMatchesFloat64PathAndThreadCount) {
  Generator gen(11);
  const int64_t n = 100003;  // > kGrain, and not a multiple of 8 (masked tail)
  Tensor x = mul(randn({n}, DType::f32, &gen), 4.0);
  Tensor xd = x.to(DType::f64);
  for (const auto& [name, op] : unary_ops()) {
    SCOPED_TRACE(name);
    Tensor got = op.t(x);
    Tensor want = op.t(xd).to(DType::f32);
    EXPECT_TRUE(close(got, want, 2e-6, 1e-7));
    set_num_threads(1);
    Tensor single = op.t(x);
    set_num_threads(0);
    EXPECT_TRUE(close(got, single, 0, 0)) << "result depends on the thread count";
  }
  // gradient kernels, with a strided (transposed) gradient
  Tensor x2 = x.narrow(0, 0, 100000).view({400, 250});
  Tensor g = randn({250, 400}, DType::f32, &gen).t();
  Tensor x2d = x2.to(DType::f64), gd = g.to(DType::f64);
  for (GeluApprox ap : {GeluApprox::none, GeluApprox::tanh})
    EXPECT_TRUE(close(gelu_backward(g, x2, ap), gelu_backward(gd, x2d, ap).to(DType::f32), 2e-6, 1e-6));
  EXPECT_TRUE(close(silu_backward(g, x2), silu_backward(gd, x2d).to(DType::f32), 2e-6, 1e-6));
  EXPECT_TRUE(close(softplus_backward(g, x2, 1, 20), softplus_backward(gd, x2d, 1, 20).to(DType::f32), 2e-6, 1e-6));
  EXPECT_TRUE(close(relu_backward(g, x2), relu_backward(gd, x2d).to(DType::f32), 0, 0));
  Tensor y = sigmoid(x2);
  EXPECT_TRUE(close(sigmoid_backward(g, y), sigmoid_backward(gd, y.to(DType::f64)).to(DType::f32), 2e-6, 1e-7));
  // a broadcast binary op over > kGrain elements
  Tensor a = randn({300, 1}, DType::f32, &gen), b = randn({1, 400}, DType::f32, &gen);
  EXPECT_TRUE(close(maximum(a, b), maximum(a.to(DType::f64), b.to(DType::f64)).to(DType::f32), 0, 0));
}

TEST(ElementwiseLarge, StreamingStoresOnOutputsBeyondTheCache) {
  // > 8 MB outputs take the non-temporal store path; start at a misaligned offset
  Generator gen(5);
  const int64_t n = (int64_t{5} << 20) + 13;
  Tensor x = randn({n + 3}, DType::f32, &gen).narrow(0, 3, n);
  Tensor xd = x.to(DType::f64);
  EXPECT_TRUE(close(kun::exp(x), kun::exp(xd).to(DType::f32), 2e-6, 0));
  EXPECT_TRUE(close(relu(x), relu(xd).to(DType::f32), 0, 0));
  EXPECT_TRUE(close(add(x, x), add(xd, xd).to(DType::f32), 0, 0));
  EXPECT_TRUE(close(mul(x, 3.0), mul(xd, 3.0).to(DType::f32), 0, 0));  // broadcast scalar operand
  Tensor acc = x.clone();
  add_(acc, x, 2.0);
  EXPECT_TRUE(close(acc, mul(xd, 3.0).to(DType::f32), 1e-6, 0));
}

TEST(ElementwiseLarge, AllFinite) {
  Tensor x = zeros({200001});
  EXPECT_TRUE(kun::all_finite(x));
  float* p = x.data<float>();
  p[200000] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(kun::all_finite(x));
  p[200000] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(kun::all_finite(x));
  p[200000] = std::numeric_limits<float>::max();
  EXPECT_TRUE(kun::all_finite(x));
  Tensor m = zeros({300, 400}, DType::f64);
  m.data<double>()[5 * 400 + 7] = -std::numeric_limits<double>::infinity();
  EXPECT_FALSE(kun::all_finite(m.t()));  // strided
  EXPECT_TRUE(kun::all_finite(m.narrow(0, 6, 10).t()));
  EXPECT_TRUE(kun::all_finite(arange(10)));  // integers
}

// ---------------------------------------------------------------- errors

TEST(ElementwiseErrors, MessagesNameTheOpAndShapes) {
  Tensor a = zeros({2, 3}), b = zeros({4});
  KUN_EXPECT_ERROR(maximum(a, b), "maximum", "(2, 3)", "(4,)");
  KUN_EXPECT_ERROR(minimum(a, b), "minimum", "(2, 3)", "(4,)");
  KUN_EXPECT_ERROR(kun::pow(a, b), "pow", "(2, 3)", "(4,)");
  KUN_EXPECT_ERROR(lt(a, b), "lt", "(2, 3)", "(4,)");
  KUN_EXPECT_ERROR(logical_and(a, b), "logical_and", "(2, 3)", "(4,)");
  KUN_EXPECT_ERROR(where(gt(a, 0.0), a, b), "where", "(2, 3)", "(4,)");
  KUN_EXPECT_ERROR(add_(a, zeros({2, 1, 3})), "add_", "(2, 1, 3)", "(2, 3)");
  KUN_EXPECT_ERROR(addcmul_(a, zeros({3}), zeros({5})), "addcmul_", "(5,)");
  KUN_EXPECT_ERROR(where(a, a, a), "where", "bool", "float32");
  KUN_EXPECT_ERROR(neg(full({2}, 1, DType::bool_)), "neg", "bool");
  KUN_EXPECT_ERROR(clamp(a, 1.0, 0.0), "clamp", "greater");
  KUN_EXPECT_ERROR(softplus(a, 0.0), "softplus", "beta");
  KUN_EXPECT_ERROR(gelu_approx_from_name("fast"), "gelu", "tanh", "fast");
  KUN_EXPECT_ERROR(relu_backward(zeros({2}), zeros({3})), "relu_backward", "(2,)", "(3,)");
  KUN_EXPECT_ERROR(gelu_backward(zeros({2}), zeros({2}, DType::f64), GeluApprox::none), "gelu_backward", "float64");
  Tensor ints = arange(3);
  KUN_EXPECT_ERROR(mul_(ints, 2.0), "mul_", "int64");
  KUN_EXPECT_ERROR(exp(Tensor()), "exp", "undefined");
  EXPECT_EQ(gelu_approx_from_name("tanh"), GeluApprox::tanh);
  // Variable ops report the same errors
  Variable va(a, true), vb(b, true);
  KUN_EXPECT_ERROR(maximum(va, vb), "maximum", "(2, 3)", "(4,)");
}
