"""PyTorch side of bench/bench_optim.cpp: one optimizer step over 1M float32 parameters (torch.optim defaults)."""
import torch

from peer_common import report, setup, threads_from_argv, time_us

N = 1 << 20

for th in threads_from_argv():
    setup(th)
    w = torch.randn(N, requires_grad=True)
    w.grad = torch.randn(N)
    adam = torch.optim.Adam([w], lr=1e-3)
    report("adam_step_1M", th, time_us(adam.step))

    v = torch.randn(N, requires_grad=True)
    v.grad = torch.randn(N)
    sgd = torch.optim.SGD([v], lr=1e-3, momentum=0.9)
    report("sgd_momentum_step_1M", th, time_us(sgd.step))
