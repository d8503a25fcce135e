"""PyTorch side of bench/bench_nnops.cpp: layer_norm, batch_norm, embedding, concat."""
import torch
import torch.nn.functional as F

from peer_common import report, setup, threads_from_argv, time_us


def fb(fn, params, seed):
    def run():
        y = fn()
        y.backward(seed)
        for p in params:
            p.grad = None
    return run


for th in threads_from_argv():
    setup(th)
    x = torch.randn(4096, 1024, requires_grad=True)
    w = torch.randn(1024, requires_grad=True)
    b = torch.randn(1024, requires_grad=True)
    report("layer_norm_fb_4096x1024", th,
           time_us(fb(lambda: F.layer_norm(x, (1024,), w, b), [x, w, b], torch.randn(4096, 1024))))

    x = torch.randn(64, 64, 28, 28, requires_grad=True)
    w = torch.randn(64, requires_grad=True)
    b = torch.randn(64, requires_grad=True)
    rm, rv = torch.zeros(64), torch.ones(64)
    report("batch_norm_fb_64x64x28x28", th,
           time_us(fb(lambda: F.batch_norm(x, rm, rv, w, b, training=True), [x, w, b],
                      torch.randn(64, 64, 28, 28))))

    w = torch.randn(100000, 64, requires_grad=True)
    idx = torch.randint(0, 100000, (64, 256))
    report("embedding_fb_100000x64_n16384", th,
           time_us(fb(lambda: F.embedding(idx, w), [w], torch.randn(64, 256, 64))))

    xs = [torch.randn(64, 4096) for _ in range(8)]
    report("concat_8x64x4096_dim1", th, time_us(lambda: torch.cat(xs, 1)))
    xs = [torch.randn(64, 4096, requires_grad=True) for _ in range(8)]
    report("concat_fb_8x64x4096_dim0", th, time_us(fb(lambda: torch.cat(xs, 0), xs, torch.randn(512, 4096))))
