"""PyTorch side of bench/bench_autograd.cpp: tiny-tensor dispatch and autograd overhead."""
import torch

from peer_common import report, setup, threads_from_argv, time_us

for th in threads_from_argv():
    setup(th)
    a = torch.randn(64, requires_grad=True)
    b = torch.randn(64, requires_grad=True)
    seed = torch.ones(64)

    def fwd_bwd():
        c = a + b
        c.backward(seed)
        a.grad = None
        b.grad = None

    report("add64_fwd_bwd", th, time_us(fwd_bwd))
    x, y = torch.randn(64), torch.randn(64)
    report("add64_fwd", th, time_us(lambda: torch.add(x, y)))
