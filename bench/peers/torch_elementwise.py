"""PyTorch side of bench/bench_elementwise.cpp: the same ops, sizes and case names."""
import torch
import torch.nn.functional as F

from peer_common import report, setup, threads_from_argv, time_us

M16 = 1 << 24
M1 = 1 << 20

for th in threads_from_argv():
    setup(th)
    x16 = torch.randn(M16)
    y16 = torch.randn(M16)
    x1 = torch.randn(M1)
    pos1 = x1.abs() + 0.01

    report("exp_16M", th, time_us(lambda: torch.exp(x16)))
    report("relu_16M", th, time_us(lambda: torch.relu(x16)))
    report("gelu_16M", th, time_us(lambda: F.gelu(x16)))
    report("add_16M", th, time_us(lambda: torch.add(x16, y16)))
    report("exp_1M", th, time_us(lambda: torch.exp(x1)))
    report("log_1M", th, time_us(lambda: torch.log(pos1)))
    report("tanh_1M", th, time_us(lambda: torch.tanh(x1)))
    report("sigmoid_1M", th, time_us(lambda: torch.sigmoid(x1)))
    report("gelu_1M", th, time_us(lambda: F.gelu(x1)))
    report("gelu_tanh_1M", th, time_us(lambda: F.gelu(x1, approximate="tanh")))
    report("silu_1M", th, time_us(lambda: F.silu(x1)))
    report("softplus_1M", th, time_us(lambda: F.softplus(x1)))

    def fwd_bwd(n, fn):
        x = torch.randn(n, requires_grad=True)
        seed = torch.ones(n)

        def step():
            y = fn(x)
            y.backward(seed)
            x.grad = None

        return step

    report("sigmoid_1M_fwd_bwd", th, time_us(fwd_bwd(M1, torch.sigmoid)))
    report("gelu_1M_fwd_bwd", th, time_us(fwd_bwd(M1, F.gelu)))
    report("relu_16M_fwd_bwd", th, time_us(fwd_bwd(M16, torch.relu)))
    # the nearest PyTorch idiom for "no NaN/inf anywhere"
    report("all_finite_16M", th, time_us(lambda: bool(torch.isfinite(x16).all())))
