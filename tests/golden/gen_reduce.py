"""Golden values for reductions and softmax (tests/tensor/test_reduce.cpp).

Each case: inputs {"x"}, attrs {"op", ...options}, outputs {"y"} (and "i" for indices, "gx" for the
gradient of sum(y * w) with fixed weights "w" where the op is differentiable).
Attribute "transpose": the C++ test transposes x's last two dims before the op (non-contiguous input).
"""
import torch

from golden import save, seeded
from golden import t as t_full


def t(x):
    """Like golden.t, but float32 values are written with 9 significant digits (exact for float32)."""
    d = t_full(x)
    if d["dtype"] == "float32":
        d["data"] = [float(f"{v:.9g}") for v in d["data"]]
    return d

seeded(0)
cases = {}


def add(name, op, x, y, grad=True, transpose=False, i=None, **attrs):
    c = {"inputs": {"x": t(x)}, "attrs": dict(op=op, transpose=transpose, **attrs), "outputs": {"y": t(y)}}
    if i is not None:
        c["outputs"]["i"] = t(i)
    if grad and x.grad is not None:
        c["outputs"]["gx"] = t(x.grad)
    cases[name] = c


def run(name, op, shape, fn, transpose=False, scale=1.0, x=None, keep_grad=True, **attrs):
    if x is None:
        x = torch.randn(*shape) * scale
    x = x.float().detach().requires_grad_(True)
    xin = x.transpose(-1, -2) if transpose else x
    out = fn(xin)
    idx = None
    if isinstance(out, tuple):
        out, idx = out
    if keep_grad and out.is_floating_point() and out.requires_grad:
        w = torch.linspace(-1, 1, out.numel()).reshape(out.shape)  # fixed projection weights
        (out * w).sum().backward()
    add(name, op, x, out, transpose=transpose, i=idx, **attrs)


S4 = (3, 4, 5, 2)
# sum / mean / prod
run("sum_all", "sum", (4, 5), lambda x: x.sum(), dims=[])
run("sum_dim0", "sum", (6, 7), lambda x: x.sum(0), dims=[0])
run("sum_dim1_keep", "sum", (6, 7), lambda x: x.sum(1, keepdim=True), dims=[1], keepdim=True)
run("sum_nchw_c", "sum", S4, lambda x: x.sum((0, 2, 3)), dims=[0, 2, 3])
run("sum_mid", "sum", S4, lambda x: x.sum((1, 2)), dims=[1, 2])
run("sum_neg_dim_T", "sum", (5, 6), lambda x: x.sum(-1), dims=[-1], transpose=True)
run("sum_cols", "sum", (33, 300), lambda x: x.sum(0), dims=[0], keep_grad=False)
run("mean_all", "mean", (4, 5), lambda x: x.mean(), dims=[])
run("mean_02", "mean", S4, lambda x: x.mean((0, 2), keepdim=True), dims=[0, 2], keepdim=True)
run("mean_T", "mean", (4, 6), lambda x: x.mean(0), dims=[0], transpose=True)
run("prod_dim1", "prod", (4, 5), lambda x: x.prod(1), dims=[1], scale=1.0)
run("prod_all", "prod", (2, 3), lambda x: x.prod(), dims=[])
# amax / amin (with ties for the gradient split)
run("amax_dim1", "amax", (4, 6), lambda x: x.amax(1), dims=[1])
run("amin_02", "amin", S4, lambda x: x.amin((0, 2)), dims=[0, 2])
run("amax_ties", "amax", None, lambda x: x.amax(1), dims=[1],
    x=torch.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [-1.0, -2.0, -1.0, -3.0]]))
run("amin_all_T", "amin", (3, 5), lambda x: x.amin(), dims=[], transpose=True)
# max / min over one dim, argmax / argmin
run("max_dim1", "max", (4, 6), lambda x: tuple(x.max(1)), dim=1)
run("max_dim0_keep", "max", (5, 3, 2), lambda x: tuple(x.max(0, keepdim=True)), dim=0, keepdim=True)
run("min_dimm1_T", "min", (4, 6), lambda x: tuple(x.min(-1)), dim=-1, transpose=True)
run("max_ties", "max", None, lambda x: tuple(x.max(1)), dim=1,
    x=torch.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]]))
run("argmax_dim1", "argmax", (4, 7), lambda x: x.argmax(1), dim=1)
run("argmin_dim0", "argmin", (4, 7), lambda x: x.argmin(0), dim=0)
run("argmax_flat", "argmax", (4, 7), lambda x: x.argmax(), dim=None)
# var / std
run("var_all", "var", (5, 6), lambda x: x.var(), dims=[], correction=1)
run("var_dim1_pop", "var", (5, 6), lambda x: x.var(1, unbiased=False), dims=[1], correction=0)
run("std_02_keep", "std", S4, lambda x: x.std((0, 2), keepdim=True), dims=[0, 2], correction=1, keepdim=True)
run("std_T", "std", (4, 6), lambda x: x.std(0), dims=[0], correction=1, transpose=True)
# logsumexp
run("lse_dim1", "logsumexp", (4, 6), lambda x: x.logsumexp(1), dims=[1])
run("lse_02", "logsumexp", S4, lambda x: x.logsumexp((0, 2)), dims=[0, 2])
run("lse_large", "logsumexp", (3, 5), lambda x: x.logsumexp(1), dims=[1], scale=1e4)
run("lse_huge_neg", "logsumexp", None, lambda x: x.logsumexp(1), dims=[1],
    x=torch.tensor([[-1e30, -1e30, 0.0], [-3e38, -1e30, -2e30], [1e30, 1e30, -1e30]]))
# norm
for p, pn in [(2, "2"), (1, "1"), (float("inf"), "inf"), (float("-inf"), "ninf"), (0, "0"), (3, "3"), (0.5, "half")]:
    pj = p if abs(p) != float("inf") else ("inf" if p > 0 else "-inf")  # JSON has no infinity
    run(f"norm_p{pn}_dim1", "norm", (4, 6), lambda x, p=p: torch.linalg.vector_norm(x, p, dim=1), dims=[1], p=pj)
run("norm_p2_all", "norm", S4, lambda x: torch.linalg.vector_norm(x, 2), dims=[], p=2)
run("norm_p2_13_keep_T", "norm", (3, 4, 5), lambda x: torch.linalg.vector_norm(x, 2, dim=(0, 2), keepdim=True),
    dims=[0, 2], p=2, keepdim=True, transpose=True)
# softmax / log_softmax
run("softmax_last", "softmax", (5, 7), lambda x: x.softmax(-1), dim=-1)
run("softmax_dim1", "softmax", (2, 5, 3, 4), lambda x: x.softmax(1), dim=1)
run("softmax_dim0_T", "softmax", (4, 6), lambda x: x.softmax(0), dim=0, transpose=True)
run("softmax_wide", "softmax", (2, 600), lambda x: x.softmax(1), dim=1, scale=3, keep_grad=False)
run("softmax_extreme", "softmax", (4, 6), lambda x: x.softmax(1), dim=1, scale=1e4)
run("log_softmax_last", "log_softmax", (5, 7), lambda x: x.log_softmax(-1), dim=-1)
run("log_softmax_dim1", "log_softmax", (2, 5, 3, 70), lambda x: x.log_softmax(1), dim=1)
run("log_softmax_extreme", "log_softmax", (4, 6), lambda x: x.log_softmax(1), dim=1, scale=1e4)
run("log_softmax_neg_huge", "log_softmax", None, lambda x: x.log_softmax(1), dim=1,
    x=torch.tensor([[-1e30, 0.0, -1e30, 1.0], [-1e30, -1e30, -1e30, -1e30], [-3e38, 2.0, 1.0, -1e10]]))
save("reduce", cases)
