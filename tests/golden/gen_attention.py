"""Golden values for kun's MultiHeadAttention and Transformer layers (tests/nn/test_transformer.cpp).

Run from tests/golden/ with /usr/bin/python3 (Debian's python3-torch). Modules are in eval mode
(dropout off) with gradients on (so PyTorch takes its plain path). Each case stores the parameters
(PyTorch names), inputs, masks, the output and the gradients of sum(out * w_out) w.r.t. the
inputs and every parameter.
"""
import torch
import torch.nn as nn

from golden import save, seeded
from golden import t as t_full


def t(x):
    j = t_full(x)
    if j["dtype"].startswith("float"):
        j["data"] = [float(f"{v:.9g}") for v in j["data"]]
    return j


seeded(0)
cases = {}


def finish(name, m, out, ins, attrs, grads_of):
    w_out = torch.randn(out.shape)
    (out * w_out).sum().backward()
    outs = {"y": out}
    for k in grads_of:
        outs["g_" + k] = ins[k].grad
    for k, p in m.named_parameters():
        ins[k] = p
        outs["g_" + k] = p.grad
    ins["w_out"] = w_out
    cases[name] = {"inputs": {k: t(v) for k, v in ins.items()}, "attrs": attrs,
                   "outputs": {k: t(v) for k, v in outs.items()}}


E, H = 8, 2
kpm = torch.tensor([[False] * 5, [False, False, False, True, True]])

# Self-attention with a key padding mask.
m = nn.MultiheadAttention(E, H, batch_first=True).eval()
x = torch.randn(2, 5, E, requires_grad=True)
y, _ = m(x, x, x, key_padding_mask=kpm)
finish("mha_self_kpm", m, y, {"x": x, "kpm": kpm}, {"E": E, "H": H, "kind": "self"}, ["x"])

# Cross-attention with a bool attn_mask (L, S) and key padding on the memory.
m = nn.MultiheadAttention(E, H, batch_first=True).eval()
q = torch.randn(2, 4, E, requires_grad=True)
kv = torch.randn(2, 5, E, requires_grad=True)
am = torch.triu(torch.ones(4, 5, dtype=torch.bool), diagonal=2)
y, _ = m(q, kv, kv, key_padding_mask=kpm, attn_mask=am)
finish("mha_cross_boolmask", m, y, {"q": q, "kv": kv, "kpm": kpm, "attn_mask": am},
       {"E": E, "H": H, "kind": "cross"}, ["q", "kv"])

# Self-attention with a float additive mask.
m = nn.MultiheadAttention(E, H, batch_first=True).eval()
x = torch.randn(2, 5, E, requires_grad=True)
fm = torch.randn(5, 5)
y, _ = m(x, x, x, attn_mask=fm)
finish("mha_self_floatmask", m, y, {"x": x, "attn_mask": fm}, {"E": E, "H": H, "kind": "self"}, ["x"])

for norm_first in (False, True):
    for act in ("relu", "gelu"):
        tag = ("pre" if norm_first else "post") + "_" + act
        m = nn.TransformerEncoderLayer(E, H, 16, dropout=0.1, activation=act, batch_first=True,
                                       norm_first=norm_first).eval()
        with torch.no_grad():  # non-trivial norm parameters
            for k, p in m.named_parameters():
                if "norm" in k:
                    p.add_(0.1 * torch.randn(p.shape))
        x = torch.randn(2, 5, E, requires_grad=True)
        y = m(x, src_key_padding_mask=kpm)
        finish("enc_" + tag, m, y, {"x": x, "kpm": kpm},
               {"d_model": E, "nhead": H, "ff": 16, "act": act, "norm_first": norm_first}, ["x"])

    m = nn.TransformerDecoderLayer(E, H, 16, dropout=0.1, batch_first=True, norm_first=norm_first).eval()
    x = torch.randn(2, 4, E, requires_grad=True)
    mem = torch.randn(2, 5, E, requires_grad=True)
    causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)
    y = m(x, mem, tgt_mask=causal, memory_key_padding_mask=kpm)
    finish("dec_" + ("pre" if norm_first else "post"), m, y, {"x": x, "mem": mem, "kpm": kpm},
           {"d_model": E, "nhead": H, "ff": 16, "act": "relu", "norm_first": norm_first}, ["x", "mem"])

save("attention", cases)
