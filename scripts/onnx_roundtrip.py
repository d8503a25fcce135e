#!/usr/bin/env python3
"""PyTorch -> ONNX -> kun round trip.

Exports a small CNN and a small LSTM from PyTorch (Debian's python3-torch) to ONNX, runs them with
`kun onnx run`, and checks kun's outputs against PyTorch's (max relative error <= 1e-5 of the output
scale). Also prints the median inference latency of both sides, in-process for each (kun: the
importer's Model::run; PyTorch: model(x) under no_grad), for each batch size of --batches.

    /usr/bin/python3 scripts/onnx_roundtrip.py --build build [--threads 2] [--repeat 50] [--batches 1,8,64]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(32, 32, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Dropout(0.1), nn.Linear(64, 10),
                                  nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.head(self.features(x))


class SmallLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(32, 12, batch_first=True)
        self.out = nn.Linear(12, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, _ = self.gru(y)
        return torch.tanh(self.out(y[:, -1]))


def torch_latency(model, x, repeat):
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(repeat):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)[len(times) // 2]


def kun_command(build):
    kun = os.path.join(build, "kun")
    return [kun, "onnx"] if os.path.exists(kun) else [os.path.join(build, "kun_onnx")]


def check(name, model, x, args, tmp, export=True):
    model.eval()
    path = os.path.join(tmp, name + ".onnx")
    if export:
        torch.onnx.export(model, x, path, opset_version=13, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    with torch.no_grad():
        want = model(x).numpy()
    np.save(os.path.join(tmp, name + "_x.npy"), x.numpy())
    cmd = kun_command(args.build) + ["--threads", str(args.threads), "run", path,
                                     "-i", os.path.join(tmp, name + "_x.npy"), "-o", tmp, "--repeat", str(args.repeat)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"{name}: kun failed: {res.stderr.strip()}")
        return False
    got = np.load(os.path.join(tmp, "y.npy"))
    kun_ms = float(res.stderr.split("latency ")[1].split(" ms")[0])
    rel = float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-12))
    torch.set_num_threads(args.threads)
    torch_ms = torch_latency(model, x, args.repeat)
    ok = got.shape == want.shape and rel <= 1e-5
    print(f"{name:10s} batch {x.shape[0]:3d} shape {tuple(got.shape)}  max rel err {rel:.2e}  "
          f"kun {kun_ms:.3f} ms  torch {torch_ms:.3f} ms  {'OK' if ok else 'MISMATCH'}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--batches", default="8", help="comma-separated CNN batch sizes")
    args = ap.parse_args()
    torch.manual_seed(0)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        cnn = SmallCnn()
        with torch.no_grad():  # non-trivial BatchNorm statistics
            cnn.features[1].running_mean.uniform_(-0.5, 0.5)
            cnn.features[1].running_var.uniform_(0.5, 2.0)
        for k, b in enumerate(int(v) for v in args.batches.split(",")):
            ok &= check("cnn", cnn, torch.randn(b, 1, 28, 28), args, tmp, export=(k == 0))
        ok &= check("lstm", SmallLstm(), torch.randn(4, 20, 8), args, tmp)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
