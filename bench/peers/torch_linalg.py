"""PyTorch side of bench/bench_linalg.cpp: matmul sizes, bmm, linear forward and forward+backward."""
import torch
import torch.nn.functional as F

from peer_common import report, setup, threads_from_argv, time_us

for th in threads_from_argv():
    setup(th)
    for name, (m, k, n) in {"matmul_1024": (1024, 1024, 1024), "matmul_256": (256, 256, 256),
                            "matmul_4096x512x512": (4096, 512, 512)}.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        report(name, th, time_us(lambda: torch.matmul(a, b)))
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    bt = b.t()
    report("matmul_1024_bT", th, time_us(lambda: torch.matmul(a, bt)))
    a, b = torch.randn(32, 64, 64), torch.randn(32, 64, 64)
    report("bmm_32x64x64", th, time_us(lambda: torch.bmm(a, b)))

    def linear_fb(bsz, fin, fout, x_grad):
        x = torch.randn(bsz, fin, requires_grad=x_grad)
        w = torch.randn(fout, fin, requires_grad=True)
        b = torch.randn(fout, requires_grad=True)
        seed = torch.ones(bsz, fout)

        def step():
            y = F.linear(x, w, b)
            y.backward(seed)
            x.grad = None
            w.grad = None
            b.grad = None
        return step

    report("linear_fwd_bwd_64x784x128", th, time_us(linear_fb(64, 784, 128, False)))
    report("linear_fwd_bwd_64x128x10", th, time_us(linear_fb(64, 128, 10, True)))
    report("linear_fwd_bwd_256x1024x1024", th, time_us(linear_fb(256, 1024, 1024, True)))
    x, w, b = torch.randn(64, 784), torch.randn(128, 784), torch.randn(128)
    report("linear_fwd_64x784x128", th, time_us(lambda: F.linear(x, w, b)))
