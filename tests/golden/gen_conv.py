"""Golden values for kun's convolutions and pooling (tests/tensor/test_conv.cpp).

Run from tests/golden/ with /usr/bin/python3 (Debian's python3-torch). Each case stores float32
inputs, the output and the gradients of sum(output * w_out) for a fixed random weighting w_out;
the C++ test maps each case name to the same options (they are also kept in "attrs").
"""
import torch
import torch.nn.functional as F

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


def case(name, fn, inputs, **attrs):
    ins = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**ins)
    w_out = torch.randn(y.shape)
    (y * w_out).sum().backward()
    outs = {"y": y, "w_out": w_out}
    for k, v in ins.items():
        outs["g_" + k] = v.grad
    cases[name] = {"inputs": {k: t(v) for k, v in inputs.items()}, "attrs": attrs,
                   "outputs": {k: t(v) for k, v in outs.items()}}


r = torch.randn


def c2(name, xs, ws, bias=True, **kw):
    ins = {"x": r(*xs), "w": r(*ws)}
    if bias:
        ins["b"] = r(ws[0])
        case(name, lambda x, w, b: F.conv2d(x, w, b, **kw), ins, **kw)
    else:
        case(name, lambda x, w: F.conv2d(x, w, None, **kw), ins, **kw)


c2("conv2d_basic", (2, 3, 7, 6), (4, 3, 3, 3))
c2("conv2d_stride_pad", (2, 3, 7, 7), (4, 3, 3, 3), stride=2, padding=1)
c2("conv2d_rect", (1, 2, 8, 7), (3, 2, 3, 2), stride=(2, 1), padding=(1, 0))
c2("conv2d_same_odd", (2, 2, 5, 6), (3, 2, 3, 3), padding="same")
c2("conv2d_same_even", (2, 2, 5, 6), (3, 2, 4, 2), padding="same")
c2("conv2d_same_dilated", (1, 2, 7, 7), (3, 2, 2, 3), padding="same", dilation=2)
c2("conv2d_valid", (2, 2, 5, 6), (3, 2, 3, 3), padding="valid")
c2("conv2d_dilation", (1, 2, 9, 9), (3, 2, 3, 3), dilation=2, padding=1)
c2("conv2d_groups", (2, 4, 6, 6), (6, 2, 3, 3), groups=2, padding=1)
c2("conv2d_depthwise", (2, 4, 6, 6), (8, 1, 3, 3), groups=4, padding=1, stride=2)
c2("conv2d_nobias", (2, 3, 5, 5), (4, 3, 1, 1), bias=False)


def c1(name, xs, ws, **kw):
    ins = {"x": r(*xs), "w": r(*ws), "b": r(ws[0])}
    case(name, lambda x, w, b: F.conv1d(x, w, b, **kw), ins, **kw)


c1("conv1d_basic", (2, 3, 10), (4, 3, 3))
c1("conv1d_stride_pad_dil", (2, 3, 12), (4, 3, 3), stride=2, padding=1, dilation=2)
c1("conv1d_same_even", (2, 2, 9), (3, 2, 4), padding="same")
c1("conv1d_groups", (2, 4, 8), (4, 2, 3), groups=2)


def ct(name, xs, ws, bias=True, **kw):
    ins = {"x": r(*xs), "w": r(*ws)}
    if bias:
        ins["b"] = r(ws[1] * kw.get("groups", 1))
        case(name, lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), ins, **kw)
    else:
        case(name, lambda x, w: F.conv_transpose2d(x, w, None, **kw), ins, **kw)


ct("convt_basic", (2, 3, 4, 5), (3, 2, 3, 3))
ct("convt_stride_outpad", (2, 3, 4, 4), (3, 2, 3, 3), stride=2, padding=1, output_padding=1)
ct("convt_outpad_nopad", (1, 2, 3, 3), (2, 2, 3, 3), stride=2, padding=0, output_padding=1)
ct("convt_groups_dil", (2, 4, 4, 4), (4, 3, 3, 2), groups=2, dilation=2, padding=(1, 0), bias=False)

x4 = lambda: r(2, 2, 7, 8)
case("maxpool2d_k2", lambda x: F.max_pool2d(x, 2), {"x": x4()}, kernel=2)
case("maxpool2d_k3s2p1", lambda x: F.max_pool2d(x, 3, 2, 1), {"x": x4()}, kernel=3, stride=2, padding=1)
case("maxpool2d_ceil", lambda x: F.max_pool2d(x, 3, 2, 0, ceil_mode=True), {"x": x4()}, kernel=3, stride=2,
     ceil_mode=True)
case("maxpool2d_dil", lambda x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=2), {"x": x4()}, kernel=[2, 3],
     stride=[1, 2], padding=[1, 1], dilation=2)
case("avgpool2d_k3s2p1", lambda x: F.avg_pool2d(x, 3, 2, 1), {"x": x4()}, kernel=3, stride=2, padding=1)
case("avgpool2d_nopadcount", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), {"x": x4()}, kernel=3,
     stride=2, padding=1, count_include_pad=False)
case("avgpool2d_ceil", lambda x: F.avg_pool2d(x, 2, 2, 1, ceil_mode=True), {"x": x4()}, kernel=2, stride=2, padding=1,
     ceil_mode=True)
case("avgpool2d_ceil_nopad", lambda x: F.avg_pool2d(x, 3, 2, 0, ceil_mode=True), {"x": x4()}, kernel=3, stride=2,
     ceil_mode=True)
x3 = lambda: r(2, 3, 11)
case("maxpool1d", lambda x: F.max_pool1d(x, 3, 2, 1, dilation=1, ceil_mode=True), {"x": x3()}, kernel=3, stride=2,
     padding=1, ceil_mode=True)
case("avgpool1d", lambda x: F.avg_pool1d(x, 4, 3, 2, count_include_pad=False), {"x": x3()}, kernel=4, stride=3,
     padding=2, count_include_pad=False)
case("adaptive2d", lambda x: F.adaptive_avg_pool2d(x, (3, 5)), {"x": x4()}, output_size=[3, 5])
case("adaptive1d", lambda x: F.adaptive_avg_pool1d(x, 4), {"x": x3()}, output_size=4)
case("global_avg", lambda x: x.mean((2, 3)), {"x": x4()})
save("conv", cases)
