#!/usr/bin/env python3
"""The Flask + PyTorch baseline for bench/serve: the same MNIST CNN (weights read from the kun model
file, a safetensors container) behind Flask, one synchronous worker process per core sharing one
listening socket (the pre-fork layout of gunicorn's sync workers), each with one torch thread.

  python3 bench/serve/flask_torch_server.py MODEL.kun --port 8501 [--workers N]

Serves the TF-Serving REST predict call the kun server also answers:
  POST /v1/models/<name>:predict  {"instances": [[[[...28 floats]...28 rows]]]}  ->  {"predictions": [[10 floats]]}
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys

import torch
import torch.nn as nn
from flask import Flask, jsonify, request
from werkzeug.serving import make_server


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or name.startswith("optimizer"):
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(blob[a:b]), dtype=torch.float32).reshape(info["shape"])
    return out


class MnistCnn(nn.Module):
    """examples/mnist_cnn.toml: Conv2D 32 3x3 relu -> MaxPool 2 -> Flatten -> Dense 128 relu -> Dense 10 softmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 3)
        self.fc1 = nn.Linear(32 * 13 * 13, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return torch.softmax(self.fc2(x), dim=1)


def load_weights(net, path):
    """Assigns the kun tensors in file order by shape (transposing dense kernels stored (in, out))."""
    tensors = [t for k, t in sorted(read_safetensors(path).items())]
    params = list(net.parameters())
    pool = list(tensors)
    for p in params:
        for i, t in enumerate(pool):
            if tuple(t.shape) == tuple(p.shape):
                p.data.copy_(t)
                pool.pop(i)
                break
            if t.dim() == 2 and tuple(t.shape[::-1]) == tuple(p.shape):
                p.data.copy_(t.t())
                pool.pop(i)
                break
        else:
            sys.exit("flask_torch_server: no tensor of shape %s in %s" % (tuple(p.shape), path))


def make_app(net):
    app = Flask(__name__)

    @app.post("/v1/models/<name>:predict")
    def predict(name):
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or "instances" not in body:
            return jsonify(error="expected {\"instances\": [...]}"), 400
        try:
            x = torch.tensor(body["instances"], dtype=torch.float32)
        except (TypeError, ValueError) as e:
            return jsonify(error=str(e)), 400
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            return jsonify(error="expected instances of shape (1, 28, 28)"), 400
        with torch.no_grad():
            y = net(x)
        return jsonify(predictions=y.tolist())

    @app.get("/v2/health/ready")
    def ready():
        return jsonify(ready=True)

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    a = ap.parse_args()
    net = MnistCnn().eval()
    load_weights(net, a.model)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(1024)
    children = []
    for _ in range(a.workers):
        pid = os.fork()
        if pid == 0:
            torch.set_num_threads(1)
            srv = make_server(a.host, a.port, make_app(net), threaded=False, fd=sock.fileno())
            srv.serve_forever()
            os._exit(0)
        children.append(pid)
    print("flask_torch_server: %d workers on http://%s:%d" % (a.workers, a.host, a.port), flush=True)

    def stop(*_):
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in children:
        os.wait()


if __name__ == "__main__":
    main()
