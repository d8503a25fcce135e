"""Golden values for kun's SimpleRNN / LSTM / GRU (tests/nn/test_recurrent.cpp).

Run from tests/golden/ with /usr/bin/python3 (Debian's python3-torch). Each case stores the module's
parameters (PyTorch names), the input, optional true lengths (run through pack_padded_sequence), the
outputs (output padded with zeros, h_n, c_n) and the gradients of
sum(output * w_out) + sum(h_n * w_h) (+ sum(c_n * w_c)) w.r.t. the input and every parameter.
"""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from golden import save, seeded
from golden import t as t_full


def t(x):
    j = t_full(x)
    if j["dtype"].startswith("float"):
        j["data"] = [float(f"{v:.9g}") for v in j["data"]]
    return j


seeded(0)
cases = {}


def case(name, mode, I, H, T, N, layers=1, bidir=False, batch_first=True, lengths=None, init=False):
    if mode == "lstm":
        m = nn.LSTM(I, H, layers, bidirectional=bidir, batch_first=batch_first)
    elif mode == "gru":
        m = nn.GRU(I, H, layers, bidirectional=bidir, batch_first=batch_first)
    else:
        m = nn.RNN(I, H, layers, nonlinearity=mode, bidirectional=bidir, batch_first=batch_first)
    D = 2 if bidir else 1
    x = torch.randn((N, T, I) if batch_first else (T, N, I), requires_grad=True)
    h0 = torch.randn(layers * D, N, H, requires_grad=True) if init else None
    c0 = torch.randn(layers * D, N, H, requires_grad=True) if init and mode == "lstm" else None
    hx = None if not init else ((h0, c0) if mode == "lstm" else h0)
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, st = m(packed, hx)
        y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    else:
        y, st = m(x, hx)
    h_n, c_n = st if mode == "lstm" else (st, None)
    w_out, w_h = torch.randn(y.shape), torch.randn(h_n.shape)
    loss = (y * w_out).sum() + (h_n * w_h).sum()
    ins = {"x": x, "w_out": w_out, "w_h": w_h}
    if c_n is not None:
        w_c = torch.randn(c_n.shape)
        loss = loss + (c_n * w_c).sum()
        ins["w_c"] = w_c
    loss.backward()
    outs = {"y": y, "h_n": h_n, "g_x": x.grad}
    if c_n is not None:
        outs["c_n"] = c_n
    if init:
        ins["h0"] = h0
        outs["g_h0"] = h0.grad
        if c0 is not None:
            ins["c0"] = c0
            outs["g_c0"] = c0.grad
    for k, p in m.named_parameters():
        ins[k] = p
        outs["g_" + k] = p.grad
    if lengths is not None:
        ins["lengths"] = torch.tensor(lengths, dtype=torch.int64)
    attrs = {"mode": mode, "hidden": H, "layers": layers, "bidirectional": bidir, "batch_first": batch_first}
    cases[name] = {"inputs": {k: t(v) for k, v in ins.items()}, "attrs": attrs,
                   "outputs": {k: t(v) for k, v in outs.items()}}


for mode in ("lstm", "gru", "tanh", "relu"):
    case(f"{mode}_1layer", mode, 4, 5, 6, 3)
    case(f"{mode}_2layer_bidir", mode, 4, 5, 6, 3, layers=2, bidir=True)
    case(f"{mode}_bidir_lengths", mode, 4, 5, 6, 3, bidir=True, lengths=[6, 2, 4])
case("lstm_time_major_init", "lstm", 3, 4, 5, 2, layers=2, batch_first=False, init=True)
case("gru_time_major_init", "gru", 3, 4, 5, 2, bidir=True, batch_first=False, init=True, lengths=[3, 5])
case("lstm_2layer_bidir_lengths", "lstm", 3, 6, 6, 4, layers=2, bidir=True, lengths=[6, 1, 3, 5])
save("rnn", cases)
