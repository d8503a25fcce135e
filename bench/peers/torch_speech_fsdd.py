"""PyTorch twin of `kun speech train examples/speech_fsdd_{cnn,lstm}.toml`: the same FSDD split,
features, layers, optimizer, epochs and batch size, timed the same way (the whole job: read the WAVs,
MFCCs, normalization, training, test accuracy).

    /usr/bin/python3 bench/peers/torch_speech_fsdd.py cnn|lstm [--data DIR] [--threads N] [--epochs N]

Features: torchaudio.transforms.MFCC(sample_rate 8000, n_mfcc 13, n_fft 256, win_length 200, hop 80,
40 mels), at most 1 s (longer clips keep their first second), standardized per coefficient with the
training clips' mean / std, padded with zero frames in front to 101 frames.
CNN: (1, 13, 101) Conv2d 32 3x3 same relu, MaxPool 2, Conv2d 64 3x3 same relu, MaxPool 2, Flatten,
Dropout 0.3, Linear 128 relu, Linear 10. LSTM: (101, 13) LSTM(128), last state, Linear 10.
"""
import argparse
import glob
import os
import time
import wave

import numpy as np
import torch
import torchaudio

t_start = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("model", choices=["cnn", "lstm"])
ap.add_argument("--data", default=os.environ.get("KUN_FSDD", "../shared/data/fsdd"))
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--epochs", type=int, default=0)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
np.random.seed(a.seed)

EPOCHS = a.epochs or (15 if a.model == "cnn" else 30)
LR = 1e-3 if a.model == "cnn" else 2e-3
BATCH = 32
SR, MAX_SAMPLES = 8000, 8000
T = 1 + MAX_SAMPLES // 80

rec = os.path.join(a.data, "recordings") if os.path.isdir(os.path.join(a.data, "recordings")) else a.data
files = sorted(glob.glob(os.path.join(rec, "*.wav")))
mfcc = torchaudio.transforms.MFCC(sample_rate=SR, n_mfcc=13, melkwargs=dict(n_fft=256, win_length=200, hop_length=80,
                                                                             n_mels=40, center=True))


def load(path):
    with wave.open(path) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    return torch.from_numpy(x[:MAX_SAMPLES].copy())


train_f, test_f, train_y, test_y = [], [], [], []
with torch.no_grad():
    for f in files:
        digit, _, idx = os.path.basename(f)[:-4].split("_")
        c = mfcc(load(f))  # (13, frames)
        (test_f if int(idx) < 5 else train_f).append(c)
        (test_y if int(idx) < 5 else train_y).append(int(digit))
allf = torch.cat(train_f, 1)
mean, std = allf.mean(1, keepdim=True), allf.std(1, unbiased=False, keepdim=True).clamp_min(1e-5)


def batchify(feats):
    x = torch.zeros(len(feats), 13, T)
    for i, c in enumerate(feats):
        c = ((c - mean) / std)[:, :T]
        x[i, :, T - c.shape[1]:] = c
    return x


xtr, xte = batchify(train_f), batchify(test_f)
ytr, yte = torch.tensor(train_y), torch.tensor(test_y)
perm = torch.randperm(len(ytr))
xtr, ytr = xtr[perm], ytr[perm]
t_feat = time.perf_counter() - t_start


class Lstm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(13, 128, batch_first=True)
        self.fc = torch.nn.Linear(128, 10)

    def forward(self, x):  # (N, 13, T) -> (N, T, 13)
        _, (h, _) = self.lstm(x.transpose(1, 2))
        return self.fc(h[-1])


if a.model == "cnn":
    xtr, xte = xtr.unsqueeze(1), xte.unsqueeze(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.3), torch.nn.Linear(64 * 3 * 25, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
else:
    net = Lstm()
opt = torch.optim.Adam(net.parameters(), lr=LR)
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
        opt.step()
        tot += loss.item() * len(idx)
    print(f"epoch {ep + 1}/{EPOCHS} loss {tot / len(ytr):.4f} ({time.perf_counter() - t0:.1f}s)", flush=True)
t_fit = time.perf_counter() - t0
net.eval()
with torch.no_grad():
    acc = (net(xte).argmax(1) == yte).float().mean().item()
print(f"torch {a.model}: test accuracy {acc:.4f} ({len(yte)} clips); features {t_feat:.1f}s, "
      f"training {t_fit:.1f}s, total {time.perf_counter() - t_start:.1f}s; threads {torch.get_num_threads()}")
