"""PyTorch twin of `kun speech train CONFIG` for the FSDD classifiers (a whole training job, not an op
peer: bench/compare.py runs only torch_*.py). It reads the same TOML config (examples/speech_fsdd_cnn.toml, examples/speech_fsdd_lstm.toml) and runs the same recipe -- FSDD
official split, MFCC features, normalization, padding, augmentation, layers, optimizer, schedule,
gradient clipping, epochs, batch size -- timed the same way: the whole job (read the WAVs, augment,
MFCCs, training, test accuracy), from start to end.

    /usr/bin/python3 bench/peers/speech_fsdd_twin.py examples/speech_fsdd_cnn.toml [--data DIR] [--threads N]

Features: torchaudio.transforms.MFCC with the config's settings (sample rate 8000, n_fft, win_length,
hop_length, n_mels, n_mfcc), at most max_seconds (longer clips keep their first part), standardized
per coefficient with the training clips' mean / std, zero frames in front up to the fixed length.
Augmented copies: speed x0.9 / 1.0 / 1.1 (resampling), a shift (silence in front or the start cut,
silence at the end, up to shift_seconds), white noise at an SNR drawn from [snr_min, snr_max] dB.
Random draws differ from kun's (another generator); the recipe is the same.
"""
import argparse
import glob
import math
import os
import time
import tomllib
import wave

import numpy as np
import torch
import torchaudio

t_start = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("config")
ap.add_argument("--data", default="")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--epochs", type=int, default=0)
a = ap.parse_args()
with open(a.config, "rb") as f:
    cfg = tomllib.load(f)
data, feat, tr, task = cfg.get("data", {}), cfg.get("features", {}), cfg.get("train", {}), cfg.get("task", {})
seed = tr.get("seed", 0)
torch.set_num_threads(a.threads)
torch.manual_seed(seed)
gen = np.random.default_rng(seed)

SR = feat.get("sample_rate", 8000)
HOP = feat.get("hop_length", 80)
MAX_SAMPLES = round(feat.get("max_seconds", 1.0) * SR)
STACK = feat.get("stack", 1)
T = (1 + MAX_SAMPLES // HOP) // STACK * STACK  # frames in the window, a multiple of the frames per step
EPOCHS = a.epochs or tr.get("epochs", 1)
BATCH = tr.get("batch_size", 32)
opt_cfg = tr.get("optimizer", {"name": "adam", "lr": 1e-3})
assert feat.get("kind", "mfcc") == "mfcc" and feat.get("normalize", "global") == "global"
assert feat.get("pad", "front") == "front"
DELTAS = feat.get("deltas", False)

root = a.data or data.get("path") or os.environ.get("KUN_FSDD", "../shared/data/fsdd")
rec = os.path.join(root, "recordings") if os.path.isdir(os.path.join(root, "recordings")) else root
files = sorted(glob.glob(os.path.join(rec, "*.wav")))
mfcc = torchaudio.transforms.MFCC(sample_rate=SR, n_mfcc=feat.get("n_mfcc", 13), melkwargs=dict(
    n_fft=feat.get("n_fft", 256), win_length=feat.get("win_length", 200), hop_length=HOP,
    n_mels=feat.get("n_mels", 40), center=True))
copies = data.get("augment_copies", 0)
max_shift = round(data.get("shift_seconds", 0.1) * SR)
snr_lo, snr_hi = data.get("snr_min", 10.0), data.get("snr_max", 30.0)


def load(path):
    with wave.open(path) as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    return torch.from_numpy(x.copy())


def features(w):
    c = mfcc(w[:MAX_SAMPLES])
    if DELTAS:
        d1 = torchaudio.functional.compute_deltas(c)
        c = torch.cat([c, d1, torchaudio.functional.compute_deltas(d1)], 0)
    return c


def augment(w):
    if data.get("speed", True):
        f = gen.choice([0.9, 1.0, 1.1])
        if f != 1.0:
            w = torchaudio.functional.resample(w, orig_freq=round(SR * f), new_freq=SR)
    s = int(round((2 * gen.random() - 1) * max_shift))
    cut = min(max(-s, 0), len(w) // 4)
    w = torch.cat([torch.zeros(max(s, 0)), w[cut:], torch.zeros(int(round(gen.random() * max_shift)))])
    snr = snr_lo + (snr_hi - snr_lo) * gen.random()
    p = float((w ** 2).mean())
    if p > 0:
        w = w + torch.from_numpy(gen.standard_normal(len(w)).astype(np.float32)) * math.sqrt(p / 10 ** (snr / 10))
    return w


train_f, test_f, train_y, test_y, aug_f, aug_y = [], [], [], [], [], []
with torch.no_grad():
    for f in files:
        digit, _, idx = os.path.basename(f)[:-4].split("_")
        w = load(f)
        if int(idx) < 5:
            test_f.append(features(w))
            test_y.append(int(digit))
        else:
            train_f.append(features(w))
            train_y.append(int(digit))
            for _ in range(copies):
                aug_f.append(features(augment(w)))
                aug_y.append(int(digit))
allf = torch.cat(train_f, 1)  # statistics of the clean training clips
mean, std = allf.mean(1, keepdim=True), allf.std(1, unbiased=False, keepdim=True).clamp_min(1e-5)
NF = allf.shape[0]


def batchify(feats):
    x = torch.zeros(len(feats), NF, T)
    for i, c in enumerate(feats):
        c = ((c - mean) / std)[:, :T]
        x[i, :, T - c.shape[1]:] = c
    return x


xtr, xte = batchify(train_f + aug_f), batchify(test_f)
ytr, yte = torch.tensor(train_y + aug_y), torch.tensor(test_y)
t_feat = time.perf_counter() - t_start


class Last(torch.nn.Module):  # LSTM -> its last state (Keras return_sequences = false)
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        _, (h, _) = self.rnn(x)
        return h[-1]


def build(layers):
    mods, shape = [], None
    if feat.get("layout", "image") == "image":
        shape = [1, NF, T]
    else:
        shape = [T // STACK, NF * STACK]
    for l in layers:
        t = l["type"]
        if t == "conv2d":
            k = l.get("kernel", 3)
            mods.append(torch.nn.Conv2d(shape[0], l["out_channels"], k, padding=k // 2 if l.get("padding") == "same" else 0))
            shape = [l["out_channels"]] + shape[1:]
        elif t == "batch_norm":
            mods.append(torch.nn.BatchNorm2d(shape[0]) if len(shape) == 3 else torch.nn.BatchNorm1d(shape[0]))
        elif t == "max_pool2d":
            k = l.get("kernel", 2)
            mods.append(torch.nn.MaxPool2d(k))
            shape = [shape[0], shape[1] // k, shape[2] // k]
        elif t == "flatten":
            mods.append(torch.nn.Flatten())
            shape = [int(np.prod(shape))]
        elif t == "dropout":
            mods.append(torch.nn.Dropout(l.get("rate", 0.5)))
        elif t == "dense":
            mods.append(torch.nn.Linear(shape[-1], l["units"]))
            shape = shape[:-1] + [l["units"]]
        elif t == "lstm":
            assert not l.get("return_sequences", False)
            mods.append(Last(torch.nn.LSTM(shape[-1], l["hidden_size"], batch_first=True)))
            shape = [l["hidden_size"]]
        elif t not in ("relu",):
            raise SystemExit(f"layer type {t} not mirrored")
        act = "relu" if t == "relu" else l.get("activation", "")
        if act == "relu":
            mods.append(torch.nn.ReLU())
        elif act:
            raise SystemExit(f"activation {act} not mirrored")
    return torch.nn.Sequential(*mods)


net = build(cfg["model"]["layers"])
if feat.get("layout", "image") == "image":
    xtr, xte = xtr.unsqueeze(1), xte.unsqueeze(1)
else:
    # (N, NF, T) -> (N, T, NF) -> STACK consecutive frames per step: (N, T / STACK, NF * STACK)
    xtr = xtr.transpose(1, 2).reshape(len(xtr), T // STACK, NF * STACK).contiguous()
    xte = xte.transpose(1, 2).reshape(len(xte), T // STACK, NF * STACK).contiguous()
assert opt_cfg["name"] == "adam"
opt = torch.optim.Adam(net.parameters(), lr=opt_cfg.get("lr", 1e-3))
sched = None
if tr.get("lr_schedule", {}).get("name") == "cosine":
    s = tr["lr_schedule"]
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s["t_max"], eta_min=s.get("eta_min", 0.0))
clip = task.get("clip_norm", 0.0)
lossf = torch.nn.CrossEntropyLoss()
t0 = time.perf_counter()
for ep in range(EPOCHS):
    net.train()
    p = torch.randperm(len(ytr))
    tot = 0.0
    for i in range(0, len(ytr), BATCH):
        idx = p[i:i + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = lossf(net(xtr[idx]), ytr[idx])
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        tot += loss.item() * len(idx)
    if sched:
        sched.step()
    print(f"epoch {ep + 1}/{EPOCHS} loss {tot / len(ytr):.4f} ({time.perf_counter() - t0:.1f}s)", flush=True)
t_fit = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    acc = (net(xte).argmax(1) == yte).float().mean().item()
print(f"torch {os.path.basename(a.config)}: test accuracy {acc:.4f} ({len(yte)} clips); {len(ytr)} training "
      f"examples; features {t_feat:.1f}s, training {t_fit:.1f}s, total {time.perf_counter() - t_start:.1f}s; "
      f"threads {torch.get_num_threads()}")
