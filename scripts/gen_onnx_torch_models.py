#!/usr/bin/env python3
"""Writes the small PyTorch-exported ONNX models the ONNX tests import (tests/onnx/):

    torch_cnn.onnx    Conv/BatchNorm/ReLU/MaxPool/AvgPool/GlobalAvgPool/Linear/GELU/LogSoftmax, input (batch, 1, 12, 12)
    torch_lstm.onnx   2-layer bidirectional LSTM + GRU + Linear, input (batch, 7, 5)

plus <name>_x.npy (an input batch) and <name>_y.npy (PyTorch's output on it), so the C++ tests check
the PyTorch round trip without Python. Run with Debian's python3-torch:

    /usr/bin/python3 scripts/gen_onnx_torch_models.py [--out tests/onnx]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn


class TinyCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)  # (N, 4, 6, 6)
        x = nn.functional.avg_pool2d(torch.relu(self.conv2(x)), 2)            # (N, 8, 2, 2)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)         # (N, 8)
        return torch.log_softmax(self.fc2(nn.functional.gelu(self.fc1(x))), dim=1)


class TinyLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 6, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(12, 4, batch_first=True)
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, _ = self.gru(y)
        return self.out(y[:, -1])


def export(model, x, name, out):
    model.eval()
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    with torch.no_grad():
        y = model(x)
    np.save(os.path.join(out, name + "_x.npy"), x.numpy())
    np.save(os.path.join(out, name + "_y.npy"), y.numpy())
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "onnx"))
    args = ap.parse_args()
    torch.manual_seed(0)
    cnn = TinyCnn()
    with torch.no_grad():  # non-trivial batch-norm statistics
        cnn.bn1.running_mean.uniform_(-0.3, 0.3)
        cnn.bn1.running_var.uniform_(0.5, 1.5)
    export(cnn, torch.randn(4, 1, 12, 12), "torch_cnn", args.out)
    export(TinyLstm(), torch.randn(3, 7, 5), "torch_lstm", args.out)


if __name__ == "__main__":
    main()
