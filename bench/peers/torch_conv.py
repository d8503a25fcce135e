"""PyTorch side of bench/bench_conv.cpp: conv2d and pooling forward+backward (grads of input, weight, bias)."""
import torch
import torch.nn.functional as F

from peer_common import report, setup, threads_from_argv, time_us


def conv_fb(xs, out, k, **kw):
    x = torch.randn(*xs, requires_grad=True)
    w = torch.randn(out, xs[1], k, k, requires_grad=True)
    b = torch.randn(out, requires_grad=True)
    gy = torch.randn(F.conv2d(x, w, b, **kw).shape)

    def step():
        y = F.conv2d(x, w, b, **kw)
        y.backward(gy)
        x.grad = None
        w.grad = None
        b.grad = None
    return step


def conv_fwd(xs, out, k, **kw):
    x, w, b = torch.randn(*xs), torch.randn(out, xs[1], k, k), torch.randn(out)
    return lambda: F.conv2d(x, w, b, **kw)


def pool_fb(fn, xs, **kw):
    x = torch.randn(*xs, requires_grad=True)
    gy = torch.randn(fn(x, **kw).shape)

    def step():
        fn(x, **kw).backward(gy)
        x.grad = None
    return step


for th in threads_from_argv():
    setup(th)
    with torch.no_grad():
        report("conv2d_fwd_mnist", th, time_us(conv_fwd((64, 1, 28, 28), 32, 3)))
        report("conv2d_fwd_resnet", th, time_us(conv_fwd((32, 64, 56, 56), 64, 3, padding=1)))
    report("conv2d_fb_mnist", th, time_us(conv_fb((64, 1, 28, 28), 32, 3)))
    report("conv2d_fb_mnist_autograd", th, time_us(conv_fb((64, 1, 28, 28), 32, 3)))
    report("conv2d_fb_mnist2", th, time_us(conv_fb((64, 32, 13, 13), 64, 3)))
    report("conv2d_fb_resnet", th, time_us(conv_fb((32, 64, 56, 56), 64, 3, padding=1)))
    report("maxpool2d_fb_mnist", th, time_us(pool_fb(F.max_pool2d, (64, 32, 26, 26), kernel_size=2)))
    report("maxpool2d_fb_resnet", th, time_us(pool_fb(F.max_pool2d, (32, 64, 56, 56), kernel_size=3, stride=2,
                                                      padding=1)))
    report("avgpool2d_fb_k2", th, time_us(pool_fb(F.avg_pool2d, (64, 32, 26, 26), kernel_size=2)))
