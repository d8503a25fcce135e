"""PyTorch side of bench/bench_reduce.cpp: reductions, softmax and cross-entropy."""
import torch
import torch.nn.functional as F

from peer_common import report, setup, threads_from_argv, time_us

for th in threads_from_argv():
    setup(th)
    x16 = torch.randn(1 << 24)
    report("sum_16M", th, time_us(lambda: x16.sum()))
    b = torch.randn(4096, 1024)
    report("sum_dim0_4096x1024", th, time_us(lambda: b.sum(0)))
    report("sum_dim1_4096x1024", th, time_us(lambda: b.sum(1)))
    nchw = torch.randn(32, 64, 56, 56)
    report("sum_nchw_to_c_32x64x56x56", th, time_us(lambda: nchw.sum((0, 2, 3))))
    report("softmax_4096x1024_fwd", th, time_us(lambda: torch.softmax(b, 1)))
    xs = torch.randn(4096, 1024, requires_grad=True)
    seed = torch.randn(4096, 1024)

    def sm_fwd_bwd():
        y = torch.softmax(xs, 1)
        y.backward(seed)
        xs.grad = None

    report("softmax_4096x1024_fwd_bwd", th, time_us(sm_fwd_bwd))
    report("log_softmax_4096x1024_fwd", th, time_us(lambda: torch.log_softmax(b, 1)))
    x3 = torch.randn(64, 256, 64)
    report("softmax_dim1_64x256x64_fwd", th, time_us(lambda: torch.softmax(x3, 1)))
    xc = torch.randn(512, 1000, requires_grad=True)
    tc = torch.randint(0, 1000, (512,))

    def ce_fwd_bwd():
        loss = F.cross_entropy(xc, tc)
        loss.backward()
        xc.grad = None

    report("cross_entropy_512x1000_fwd_bwd", th, time_us(ce_fwd_bwd))
    xd = xc.detach()
    report("cross_entropy_512x1000_fwd", th, time_us(lambda: F.cross_entropy(xd, tc)))
