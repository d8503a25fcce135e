"""Golden values for kun's matmul / bmm / linear (tests/tensor/test_linalg.cpp).

Run from tests/golden/ with /usr/bin/python3 (Debian's python3-torch). Each case stores the float32
inputs, the output and the gradients of sum(output * w_out) for a fixed random weighting w_out.
"""
import torch

from golden import save, seeded
from golden import t as t_full


def t(x):
    """golden.t with values rounded to float32 precision (9 significant digits) to keep the file small."""
    j = t_full(x)
    if j["dtype"].startswith("float"):
        j["data"] = [float(f"{v:.9g}") for v in j["data"]]
    return j

seeded(0)
cases = {}


def case(name, fn, inputs):
    ins = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**ins)
    w_out = torch.randn(y.shape)
    (y * w_out).sum().backward()
    outs = {"y": y, "w_out": w_out}
    for k, v in ins.items():
        outs["g_" + k] = v.grad
    cases[name] = {"inputs": {k: t(v) for k, v in inputs.items()}, "attrs": {}, "outputs": {k: t(v) for k, v in outs.items()}}


r = torch.randn
mm = lambda a, b: torch.matmul(a, b)
case("dot", mm, {"a": r(5), "b": r(5)})
case("mv", mm, {"a": r(3, 5), "b": r(5)})
case("vm", mm, {"a": r(5), "b": r(5, 4)})
case("mm", mm, {"a": r(3, 5), "b": r(5, 4)})
case("batched_2d", mm, {"a": r(2, 3, 3, 5), "b": r(5, 4)})
case("vec_batched", mm, {"a": r(5), "b": r(2, 5, 4)})
case("batched_vec", mm, {"a": r(2, 3, 5), "b": r(5)})
case("broadcast", mm, {"a": r(2, 1, 3, 5), "b": r(3, 5, 4)})
case("broadcast2", mm, {"a": r(3, 5), "b": r(2, 2, 5, 4)})
# transposed operands: stored as (N, K)/(K, M) and transposed inside the function
case("a_transposed", lambda a, b: torch.matmul(a.t(), b), {"a": r(5, 3), "b": r(5, 4)})
case("b_transposed", lambda a, b: torch.matmul(a, b.t()), {"a": r(3, 5), "b": r(4, 5)})
case("both_transposed", lambda a, b: torch.matmul(a.t(), b.t()), {"a": r(5, 3), "b": r(4, 5)})
case("batch_transposed", lambda a, b: torch.matmul(a.transpose(1, 2), b), {"a": r(2, 5, 3), "b": r(2, 5, 4)})
case("bmm", lambda a, b: torch.bmm(a, b), {"a": r(3, 2, 5), "b": r(3, 5, 4)})
lin = lambda x, w, b: torch.nn.functional.linear(x, w, b)
case("linear", lin, {"x": r(4, 6), "w": r(3, 6), "b": r(3)})
case("linear_3d", lin, {"x": r(2, 4, 6), "w": r(3, 6), "b": r(3)})
case("linear_nobias", lambda x, w: torch.nn.functional.linear(x, w), {"x": r(4, 6), "w": r(3, 6)})
case("linear_1d", lin, {"x": r(6), "w": r(3, 6), "b": r(3)})
save("linalg", cases)
