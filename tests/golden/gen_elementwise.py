"""Golden values for the elementwise op family (tests/tensor/test_elementwise.cpp).

Run from tests/golden/ with Debian's python3-torch:  /usr/bin/python3 gen_elementwise.py
Writes elementwise.json. Non-finite floats (exp(1000) = inf, log(-1) = NaN, isnan inputs) are not
valid JSON, so tensors here are written with them as the strings "nan", "inf", "-inf"; the C++
test reads those back (golden.t() is otherwise the same format).

Case kinds:
  unary_<op>[_f64]  inputs x, g; attrs; outputs y = op(x) and gx = d(sum(y * g))/dx
  extreme_<op>      inputs x with huge/tiny values; outputs y (and gx for activations)
  binary_<op>_...   inputs a, b (broadcasting); outputs y (and ga, gb for differentiable ops)
  cmp_* / logic_* / class_* / where_* / inplace_*  see each block below
"""
import math

import torch
import torch.nn.functional as F

from golden import save, seeded, t as t_plain


def t(x):
    """golden.t() with non-finite floats as strings."""
    d = t_plain(x)
    if d["dtype"].startswith("float"):
        d["data"] = [("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")) if not math.isfinite(v) else v
                     for v in d["data"]]
    return d


GELU_NONE = lambda x: F.gelu(x)
GELU_TANH = lambda x: F.gelu(x, approximate="tanh")

# name -> (function, attrs, input kind, differentiable)
UNARY = {
    "neg": (torch.neg, {}, "any", True),
    "exp": (torch.exp, {}, "any", True),
    "log": (torch.log, {}, "pos", True),
    "log1p": (torch.log1p, {}, "gt-1", True),
    "sqrt": (torch.sqrt, {}, "pos", True),
    "rsqrt": (torch.rsqrt, {}, "pos", True),
    "abs": (torch.abs, {}, "any", True),
    "square": (torch.square, {}, "any", True),
    "reciprocal": (torch.reciprocal, {}, "pos", True),
    "pow_2.5": (lambda x: torch.pow(x, 2.5), {"exponent": 2.5}, "pos", True),
    "pow_3": (lambda x: torch.pow(x, 3.0), {"exponent": 3.0}, "any", True),
    "pow_-1.5": (lambda x: torch.pow(x, -1.5), {"exponent": -1.5}, "pos", True),
    "pow_2": (lambda x: torch.pow(x, 2.0), {"exponent": 2.0}, "any", True),
    "pow_0.5": (lambda x: torch.pow(x, 0.5), {"exponent": 0.5}, "pos", True),
    "sin": (torch.sin, {}, "any", True),
    "cos": (torch.cos, {}, "any", True),
    "tanh": (torch.tanh, {}, "any", True),
    "erf": (torch.erf, {}, "any", True),
    "sigmoid": (torch.sigmoid, {}, "any", True),
    "relu": (torch.relu, {}, "any", True),
    "leaky_relu": (F.leaky_relu, {}, "any", True),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), {"slope": 0.2}, "any", True),
    "elu": (F.elu, {}, "any", True),
    "elu_0.5": (lambda x: F.elu(x, 0.5), {"alpha": 0.5}, "any", True),
    "gelu": (GELU_NONE, {}, "any", True),
    "gelu_tanh": (GELU_TANH, {}, "any", True),
    "silu": (F.silu, {}, "any", True),
    "softplus": (F.softplus, {}, "any", True),
    "softplus_b2_t5": (lambda x: F.softplus(x, beta=2.0, threshold=5.0), {"beta": 2.0, "threshold": 5.0}, "any", True),
    "clamp": (lambda x: torch.clamp(x, -0.5, 0.7), {"min": -0.5, "max": 0.7}, "any", True),
    "clamp_min": (lambda x: torch.clamp(x, min=-0.5), {"min": -0.5}, "any", True),
    "clamp_max": (lambda x: torch.clamp(x, max=0.7), {"max": 0.7}, "any", True),
    "sign": (torch.sign, {}, "any", True),
}

F64_OPS = ["exp", "log", "log1p", "tanh", "erf", "sigmoid", "gelu", "gelu_tanh", "silu", "softplus", "elu", "pow_2.5",
           "sqrt", "sin"]

EXTREME = [-1e4, -1000.0, -100.0, -90.0, -20.0, -5.0, -1e-30, 0.0, 1e-30, 5.0, 20.0, 90.0, 100.0, 1000.0, 1e4]
EXTREME_OPS = ["exp", "sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "silu", "elu", "erf", "log1p", "relu",
               "leaky_relu", "softplus_b2_t5"]


def make_input(kind, gen, dtype, shape=(3, 5)):
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 2
    if kind == "pos":
        x = x.abs() + 0.05
    elif kind == "gt-1":
        x = x.abs() * 0.9 - 0.8  # in (-0.8, ...)
    # keep away from kinks (relu/abs/clamp at 0 and the clamp bounds) so gradients are well defined
    x = torch.where((x.abs() < 1e-3) | ((x + 0.5).abs() < 1e-3) | ((x - 0.7).abs() < 1e-3), x + 0.01, x)
    return x.to(dtype)


def unary_case(fn, attrs, x, with_grad, gen):
    x = x.clone().requires_grad_(with_grad)
    y = fn(x)
    case = {"inputs": {"x": t(x)}, "attrs": attrs, "outputs": {"y": t(y)}}
    if with_grad:
        g = torch.randn(y.shape, generator=gen, dtype=torch.float64).to(y.dtype)
        y.backward(g)
        case["inputs"]["g"] = t(g)
        case["outputs"]["gx"] = t(x.grad)
    return case


def main():
    gen = seeded(0)
    cases = {}

    for name, (fn, attrs, kind, diff) in UNARY.items():
        cases[f"unary_{name}"] = unary_case(fn, attrs, make_input(kind, gen, torch.float32), diff, gen)
        if name in F64_OPS:
            cases[f"unary_{name}_f64"] = unary_case(fn, attrs, make_input(kind, gen, torch.float64), diff, gen)

    # huge, tiny and zero inputs: everything must match PyTorch (inf included) and stay finite where it does
    for name in EXTREME_OPS:
        fn, attrs, _, _ = UNARY[name]
        x = torch.tensor(EXTREME, dtype=torch.float32)
        cases[f"extreme_{name}"] = unary_case(fn, attrs, x, True, gen)
    x = torch.tensor([0.0, 1e-45, 1e-40, 1e-38, 1e-30, 1e-10, 1.0, 3e38, float("inf"), -1.0], dtype=torch.float32)
    cases["extreme_log"] = {"inputs": {"x": t(x)}, "attrs": {}, "outputs": {"y": t(torch.log(x))}}
    x = torch.tensor([-1.0, -1 + 1e-7, -0.5, -1e-30, 0.0, 1e-30, 1e-8, 1e30, float("inf")], dtype=torch.float32)
    cases["extreme_log1p_dom"] = {"inputs": {"x": t(x)}, "attrs": {}, "outputs": {"y": t(torch.log1p(x))}}

    # integer input to a float op computes in float32
    xi = torch.tensor([[1, 4, 9], [16, 2, 0]], dtype=torch.int64)
    cases["int_sqrt"] = {"inputs": {"x": t(xi)}, "attrs": {}, "outputs": {"y": t(torch.sqrt(xi))}}
    cases["int_exp"] = {"inputs": {"x": t(xi)}, "attrs": {}, "outputs": {"y": t(torch.exp(xi))}}
    cases["int_abs"] = {"inputs": {"x": t(-xi)}, "attrs": {}, "outputs": {"y": t(torch.abs(-xi))}}

    # binary ops with broadcasting (3, 1, 4) x (5, 4); ties planted for maximum/minimum
    for name, fn in [("maximum", torch.maximum), ("minimum", torch.minimum), ("pow", torch.pow), ("add", torch.add),
                     ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)]:
        for dtype, suffix in [(torch.float32, ""), (torch.float64, "_f64")]:
            a = torch.randn(3, 1, 4, generator=gen, dtype=torch.float64)
            b = torch.randn(5, 4, generator=gen, dtype=torch.float64)
            if name in ("maximum", "minimum"):
                b[0, :] = a[0, 0, :]  # ties
                b[2, 1] = a[1, 0, 1]
            if name == "pow":
                a = a.abs() + 0.1
                b = b * 1.5
            if name == "div":
                b = torch.where(b.abs() < 0.1, b + 0.3, b)
            a = a.to(dtype).requires_grad_(True)
            b = b.to(dtype).requires_grad_(True)
            y = fn(a, b)
            g = torch.randn(y.shape, generator=gen, dtype=torch.float64).to(dtype)
            y.backward(g)
            cases[f"binary_{name}{suffix}"] = {"inputs": {"a": t(a), "b": t(b), "g": t(g)}, "attrs": {},
                                               "outputs": {"y": t(y), "ga": t(a.grad), "gb": t(b.grad)}}
    # mixed dtypes follow promotion
    ai = torch.tensor([[1, -2, 3]], dtype=torch.int64)
    bf = torch.tensor([[0.5], [-2.5]], dtype=torch.float32)
    bd = torch.tensor([0.25, 2.0, -1.0], dtype=torch.float64)
    for name, fn in [("maximum", torch.maximum), ("minimum", torch.minimum), ("add", torch.add), ("mul", torch.mul),
                     ("pow", torch.pow)]:
        cases[f"mixed_{name}_i64_f32"] = {"inputs": {"a": t(ai), "b": t(bf)}, "attrs": {}, "outputs": {"y": t(fn(ai, bf))}}
        cases[f"mixed_{name}_f32_f64"] = {"inputs": {"a": t(bf), "b": t(bd)}, "attrs": {},
                                          "outputs": {"y": t(fn(bf, bd))}}

    # comparisons: tensor-tensor (broadcast, with ties) and tensor-scalar
    a = torch.tensor([[0.1, 1.0, -2.0, 3.0]], dtype=torch.float32)
    b = torch.tensor([[0.1], [1.0], [5.0]], dtype=torch.float32)
    ai = torch.tensor([1, 2, 3, 4], dtype=torch.int64)
    for name in ["eq", "ne", "lt", "le", "gt", "ge"]:
        fn = getattr(torch, name)
        cases[f"cmp_{name}"] = {"inputs": {"a": t(a), "b": t(b)}, "attrs": {}, "outputs": {"y": t(fn(a, b))}}
        cases[f"cmp_{name}_scalar"] = {"inputs": {"a": t(a)}, "attrs": {"s": 0.1}, "outputs": {"y": t(fn(a, 0.1))}}
        cases[f"cmp_{name}_int_scalar"] = {"inputs": {"a": t(ai)}, "attrs": {"s": 2.5},
                                           "outputs": {"y": t(fn(ai, 2.5))}}
        cases[f"cmp_{name}_int_f32"] = {"inputs": {"a": t(ai), "b": t(a)}, "attrs": {}, "outputs": {"y": t(fn(ai, a))}}

    # logic and classification
    la = torch.tensor([[True, False, True, False]])
    lb = torch.tensor([[1.0], [0.0]], dtype=torch.float32)
    cases["logic_and"] = {"inputs": {"a": t(la), "b": t(lb)}, "attrs": {}, "outputs": {"y": t(torch.logical_and(la, lb))}}
    cases["logic_or"] = {"inputs": {"a": t(la), "b": t(lb)}, "attrs": {}, "outputs": {"y": t(torch.logical_or(la, lb))}}
    xs = torch.tensor([0.0, -1.5, float("nan"), float("inf"), -float("inf"), 3e38, 1e-45], dtype=torch.float32)
    cases["logic_not"] = {"inputs": {"a": t(xs)}, "attrs": {}, "outputs": {"y": t(torch.logical_not(xs))}}
    for name in ["isnan", "isinf", "isfinite"]:
        cases[f"class_{name}"] = {"inputs": {"x": t(xs)}, "attrs": {}, "outputs": {"y": t(getattr(torch, name)(xs))}}
        cases[f"class_{name}_f64"] = {"inputs": {"x": t(xs.double())}, "attrs": {},
                                      "outputs": {"y": t(getattr(torch, name)(xs.double()))}}

    # where: cond (3, 1), a (1, 4), b (3, 4); differentiable in a and b
    cond = torch.tensor([[True], [False], [True]])
    a = torch.randn(1, 4, generator=gen).requires_grad_(True)
    b = torch.randn(3, 4, generator=gen).requires_grad_(True)
    y = torch.where(cond, a, b)
    g = torch.randn(y.shape, generator=gen)
    y.backward(g)
    cases["where"] = {"inputs": {"cond": t(cond), "a": t(a), "b": t(b), "g": t(g)}, "attrs": {},
                      "outputs": {"y": t(y), "ga": t(a.grad), "gb": t(b.grad)}}
    bd = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    cases["where_mixed"] = {"inputs": {"cond": t(cond), "a": t(a), "b": t(bd)}, "attrs": {},
                            "outputs": {"y": t(torch.where(cond, a.detach(), bd))}}

    # in-place updates
    a = torch.randn(3, 4, generator=gen)
    b = torch.randn(1, 4, generator=gen)
    c = torch.randn(3, 1, generator=gen)
    cases["inplace_addcmul"] = {"inputs": {"a": t(a), "b": t(b), "c": t(c)}, "attrs": {"value": 0.5},
                                "outputs": {"y": t(a.clone().addcmul_(b, c, value=0.5))}}
    cases["inplace_add"] = {"inputs": {"a": t(a), "b": t(b)}, "attrs": {"alpha": -2.0},
                            "outputs": {"y": t(a.clone().add_(b, alpha=-2.0))}}
    cases["inplace_clamp"] = {"inputs": {"a": t(a)}, "attrs": {"min": -0.3, "max": 0.4},
                              "outputs": {"y": t(a.clone().clamp_(-0.3, 0.4))}}

    save("elementwise", cases)


if __name__ == "__main__":
    main()
