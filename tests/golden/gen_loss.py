"""Golden values for the losses (tests/tensor/test_loss.cpp), from torch.nn.functional.

Each case: inputs {"x", "t", optional "w" (weight), "pw" (pos_weight)}, attrs {"op", "reduction",
options...}, outputs {"y", "gx" (gradient of sum(y * proj) w.r.t. x), optional "gt" (w.r.t. t)}.
Attribute "transpose": the C++ test transposes x's last two dims (x is stored pre-transpose) so the
op sees a non-contiguous input; gx is stored for the stored (pre-transpose) x.
"""
import torch
import torch.nn.functional as F

from golden import save, seeded
from golden import t as t_full

seeded(0)
cases = {}


def t(x):
    d = t_full(x)
    if d["dtype"] == "float32":
        d["data"] = [float(f"{v:.9g}") for v in d["data"]]
    return d


def run(name, op, x, tgt, fn, w=None, pw=None, transpose=False, target_grad=False, **attrs):
    x = x.float().detach().requires_grad_(True)
    tg = tgt.detach()
    if target_grad:
        tg = tg.float().requires_grad_(True)
    xin = x.transpose(-1, -2) if transpose else x
    y = fn(xin, tg)
    proj = torch.linspace(-1, 1, y.numel()).reshape(y.shape) if y.dim() else torch.tensor(1.0)
    (y * proj).sum().backward()
    ins = {"x": t(x), "t": t(tg)}
    if w is not None:
        ins["w"] = t(w)
    if pw is not None:
        ins["pw"] = t(pw)
    outs = {"y": t(y), "gx": t(x.grad)}
    if target_grad:
        outs["gt"] = t(tg.grad)
    cases[name] = {"inputs": ins, "attrs": dict(op=op, transpose=transpose, **attrs), "outputs": outs}


N, C = 6, 5
x = torch.randn(N, C)
tgt = torch.tensor([0, 4, 2, 1, 3, 2])
tgt_ign = torch.tensor([0, -100, 2, 1, -100, 4])
w = torch.rand(C) + 0.5
for red in ["mean", "sum", "none"]:
    run(f"ce_{red}", "cross_entropy", x, tgt, lambda a, b, r=red: F.cross_entropy(a, b, reduction=r), reduction=red)
    run(f"ce_w_ign_{red}", "cross_entropy", x, tgt_ign,
        lambda a, b, r=red: F.cross_entropy(a, b, weight=w, reduction=r), w=w, reduction=red)
    run(f"ce_smooth_w_ign_{red}", "cross_entropy", x, tgt_ign,
        lambda a, b, r=red: F.cross_entropy(a, b, weight=w, reduction=r, label_smoothing=0.15), w=w,
        reduction=red, label_smoothing=0.15)
run("ce_weight_mean", "cross_entropy", x, tgt, lambda a, b: F.cross_entropy(a, b, weight=w), w=w, reduction="mean")
run("ce_ignore2", "cross_entropy", x, tgt, lambda a, b: F.cross_entropy(a, b, ignore_index=2), reduction="mean",
    ignore_index=2)
run("ce_smooth_ign_mean", "cross_entropy", x, tgt_ign, lambda a, b: F.cross_entropy(a, b, label_smoothing=0.3),
    reduction="mean", label_smoothing=0.3)
run("ce_smooth_sum", "cross_entropy", x, tgt, lambda a, b: F.cross_entropy(a, b, label_smoothing=0.3, reduction="sum"),
    reduction="sum", label_smoothing=0.3)
xt = torch.randn(C, N)  # stored (C, N); the op sees its (N, C) transpose
run("ce_transposed", "cross_entropy", xt, tgt, lambda a, b: F.cross_entropy(a, b), transpose=True, reduction="mean")
x4 = torch.randn(2, 4, 3, 3)
t4 = torch.randint(0, 4, (2, 3, 3))
t4[0, 1, 2] = -100
t4[1, 0, 0] = -100
w4 = torch.tensor([0.5, 1.0, 2.0, 1.5])
for red in ["mean", "none"]:
    run(f"ce_nchw_{red}", "cross_entropy", x4, t4,
        lambda a, b, r=red: F.cross_entropy(a, b, weight=w4, label_smoothing=0.1, reduction=r), w=w4,
        reduction=red, label_smoothing=0.1)
run("ce_nchw_plain", "cross_entropy", x4, t4, lambda a, b: F.cross_entropy(a, b), reduction="mean")
run("ce_single", "cross_entropy", torch.randn(C), torch.tensor(3), lambda a, b: F.cross_entropy(a, b), reduction="mean")
xe = torch.tensor([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 0.0]])
te = torch.tensor([1, 2, 3])
run("ce_extreme", "cross_entropy", xe, te, lambda a, b: F.cross_entropy(a, b, reduction="none"), reduction="none")
run("ce_extreme_smooth", "cross_entropy", xe, te, lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1),
    reduction="mean", label_smoothing=0.1)
# probability targets
p = torch.softmax(torch.randn(N, C), 1)
for red in ["mean", "sum", "none"]:
    run(f"ce_prob_{red}", "cross_entropy", x, p, lambda a, b, r=red: F.cross_entropy(a, b, reduction=r), reduction=red)
run("ce_prob_w_smooth", "cross_entropy", x, p, lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.2),
    w=w, reduction="mean", label_smoothing=0.2)
p4 = torch.softmax(torch.randn(2, 4, 3, 3), 1)
run("ce_prob_nchw", "cross_entropy", x4, p4, lambda a, b: F.cross_entropy(a, b, reduction="none"), reduction="none")
# nll_loss
lp = torch.log_softmax(torch.randn(N, C), 1)
for red in ["mean", "sum", "none"]:
    run(f"nll_w_ign_{red}", "nll_loss", lp, tgt_ign, lambda a, b, r=red: F.nll_loss(a, b, weight=w, reduction=r),
        w=w, reduction=red)
run("nll_mean", "nll_loss", lp, tgt, lambda a, b: F.nll_loss(a, b), reduction="mean")
run("nll_nchw", "nll_loss", torch.log_softmax(x4, 1), t4, lambda a, b: F.nll_loss(a, b, weight=w4), w=w4,
    reduction="mean")
# binary cross-entropy with logits
xb = torch.randn(4, 3) * 3
tb = torch.rand(4, 3)
wb = torch.rand(4, 3) + 0.5
pwb = torch.tensor([0.5, 2.0, 3.0])
for red in ["mean", "sum", "none"]:
    run(f"bcel_{red}", "bce_with_logits", xb, tb,
        lambda a, b, r=red: F.binary_cross_entropy_with_logits(a, b, reduction=r), reduction=red)
    run(f"bcel_w_pw_{red}", "bce_with_logits", xb, tb,
        lambda a, b, r=red: F.binary_cross_entropy_with_logits(a, b, weight=wb, pos_weight=pwb, reduction=r), w=wb,
        pw=pwb, reduction=red)
run("bcel_bcast_w", "bce_with_logits", xb, tb,
    lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=pwb), w=pwb, reduction="mean")
xbe = torch.tensor([[100.0, -100.0, 50.0], [-50.0, 0.0, 1e4]])
tbe = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.5, 0.0]])
run("bcel_extreme", "bce_with_logits", xbe, tbe,
    lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"), reduction="none")
# binary cross-entropy on probabilities
pr = torch.rand(4, 3) * 0.98 + 0.01
for red in ["mean", "sum", "none"]:
    run(f"bce_{red}", "bce", pr, tb, lambda a, b, r=red: F.binary_cross_entropy(a, b, reduction=r), reduction=red)
run("bce_w", "bce", pr, tb, lambda a, b: F.binary_cross_entropy(a, b, weight=wb), w=wb, reduction="mean")
pre = torch.tensor([0.0, 1.0, 0.5, 1e-30])
tre = torch.tensor([0.0, 1.0, 1.0, 1.0])
run("bce_edges", "bce", pre, tre, lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), reduction="none")
run("bce_clamp", "bce", torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]),
    lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), reduction="sum")
# regression
xr = torch.randn(3, 4) * 2
tr = torch.randn(3, 4)
for red in ["mean", "sum", "none"]:
    run(f"mse_{red}", "mse", xr, tr, lambda a, b, r=red: F.mse_loss(a, b, reduction=r), reduction=red, target_grad=True)
    run(f"l1_{red}", "l1", xr, tr, lambda a, b, r=red: F.l1_loss(a, b, reduction=r), reduction=red, target_grad=True)
    run(f"huber_{red}", "huber", xr, tr, lambda a, b, r=red: F.huber_loss(a, b, reduction=r, delta=0.7),
        reduction=red, delta=0.7, target_grad=True)
    run(f"smooth_l1_{red}", "smooth_l1", xr, tr, lambda a, b, r=red: F.smooth_l1_loss(a, b, reduction=r, beta=0.6),
        reduction=red, beta=0.6, target_grad=True)
run("smooth_l1_beta0", "smooth_l1", xr, tr, lambda a, b: F.smooth_l1_loss(a, b, beta=0.0), reduction="mean", beta=0.0,
    target_grad=True)
run("huber_default_T", "huber", xr, tr.t().contiguous(), lambda a, b: F.huber_loss(a, b), reduction="mean",
    transpose=True, target_grad=True)
# kl_div
lq = torch.log_softmax(torch.randn(4, 5), 1)
pt = torch.softmax(torch.randn(4, 5), 1)
pt[0, 1] = 0.0
for red in ["mean", "sum", "none", "batchmean"]:
    run(f"kl_{red}", "kl_div", lq, pt, lambda a, b, r=red: F.kl_div(a, b, reduction=r), reduction=red)
run("kl_logt_batchmean", "kl_div", lq, torch.log_softmax(torch.randn(4, 5), 1),
    lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=True), reduction="batchmean", log_target=True)
save("loss", cases)
