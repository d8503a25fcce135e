#!/usr/bin/env python3
"""kun serve end to end, with the Python standard library only.

Trains a tiny CNN with `kun train` on a few synthetic 28x28 images (IDX files written here), puts it
in a model repository, starts the real `kun serve` on a free loopback port and talks to it:

  * a KServe v2 client and a TF-Serving REST client written from the protocol documents (not from
    kun's serializer): predictions must equal each other and `kun predict`'s;
  * the bad-request corpus (tests/serve/corpus/<status>-<case>.http, raw HTTP): every case must get
    exactly its 4xx status and a JSON {"error": "<message>"}, and the server must keep serving;
  * slow and half-closed clients, versions (a broken new version never replaces a working one,
    labels, reload), metrics, API keys (401/403), back-pressure (429 + Retry-After), graceful shutdown.

Usage: test_serve.py --kun build/kun --corpus tests/serve/corpus   (ctest runs it; a few seconds)
"""
import argparse
import glob
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

FAILURES = []


def close(a, b, tol=2e-6):
    """Rows computed in batches of different sizes may differ in the last bits (the kernels block
    differently); the same batch gives identical bits."""
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


# ---------------------------------------------------------------- data and model -----------------
def write_idx_images(path, images):
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, len(images), 28, 28))
        for img in images:
            f.write(bytes(img))


def write_idx_labels(path, labels):
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, len(labels)))
        f.write(bytes(labels))


def write_npy_f32(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join("%d, " % d for d in shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % len(values), *values))


def synthetic_images(n, rng):
    """Digit-like blobs: class c lights a bar at row 2 + 2c, so the CNN has something to learn."""
    imgs, labels = [], []
    for i in range(n):
        c = i % 10
        img = [rng.randrange(0, 40) for _ in range(784)]
        for r in range(2 + 2 * c, 4 + 2 * c):
            for col in range(4, 24):
                img[r * 28 + col] = 200 + rng.randrange(0, 55)
        imgs.append(img)
        labels.append(c)
    return imgs, labels


TINY_CNN = """
[run]
name = "serve_test_tiny_cnn"
[data]
kind = "mnist"
path = "%s"
[[model.layers]]
type = "conv2d"
out_channels = 4
kernel = 3
activation = "relu"
[[model.layers]]
type = "max_pool2d"
kernel = 2
[[model.layers]]
type = "flatten"
[[model.layers]]
type = "dense"
units = 10
activation = "softmax"
[train]
optimizer = { name = "adam", lr = 1e-2 }
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 1
batch_size = 16
seed = 1
"""


def train_tiny_model(kun, work):
    data = os.path.join(work, "data")
    os.makedirs(data)
    rng = random.Random(7)
    for split, n in (("train", 80), ("t10k", 20)):
        imgs, labels = synthetic_images(n, rng)
        write_idx_images(os.path.join(data, split + "-images-idx3-ubyte"), imgs)
        write_idx_labels(os.path.join(data, split + "-labels-idx1-ubyte"), labels)
    cfg = os.path.join(work, "tiny.toml")
    with open(cfg, "w") as f:
        f.write(TINY_CNN % data)
    out = os.path.join(work, "trained", "model.kun")
    r = subprocess.run([kun, "train", cfg, "--output", out, "--no-record", "--verbose", "0", "--show", "0",
                        "--threads", "1"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        sys.exit("kun train failed:\n" + r.stdout + r.stderr)
    return out


def put_version(model_file, repo, name, version, broken=False):
    d = os.path.join(repo, name, str(version))
    os.makedirs(d, exist_ok=True)
    if broken:
        with open(os.path.join(d, "model.kun"), "wb") as f:
            f.write(b"not a kun model" * 10)
    else:
        shutil.copy(model_file, os.path.join(d, "model.kun"))
    shutil.copy(model_file + ".meta.json", os.path.join(d, "model.kun.meta.json"))


# ---------------------------------------------------------------- server process -----------------
class Server:
    def __init__(self, kun, repo, *extra):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([kun, "serve", "--model-repository", repo, "--port", "0"] + list(extra),
                                     stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        deadline = time.time() + 60
        self.port = None
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                self.log.seek(0)
                sys.exit("kun serve exited early:\n" + self.log.read())
            self.log.seek(0)
            m = re.search(r"kun serve: https?://[^:]+:(\d+)", self.log.read())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.05)
        if self.port is None:
            self.stop()
            sys.exit("kun serve did not start in 60 s")

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body)),
                  headers=h)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        try:
            parsed = json.loads(data) if data and r.getheader("Content-Type", "").startswith("application/json") else data
        except ValueError:
            parsed = None
        return r.status, parsed, r

    def stderr_text(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            # Non-zero: a crash, a sanitizer report or a leak (ASan builds) -- show the end of its log.
            check(self.proc.returncode == 0, "kun serve exited with %s:\n%s" % (
                self.proc.returncode, self.stderr_text()[-3000:]))
        return self.proc.returncode


# ---------------------------------------------------------------- protocol clients ---------------
def kserve_infer(srv, model, batch, version=None, conn=None):
    """KServe v2 / Open Inference Protocol: POST /v2/models/<m>[/versions/<v>]/infer, row-major data."""
    n = len(batch)
    flat = [v for img in batch for v in img]
    body = {"id": "req-%d" % n,
            "inputs": [{"name": "input", "shape": [n, 1, 28, 28], "datatype": "FP32", "data": flat}],
            "outputs": [{"name": "output"}]}
    path = "/v2/models/%s%s/infer" % (model, "/versions/%s" % version if version else "")
    status, resp, _ = srv.request("POST", path, body, conn=conn)
    if status != 200:
        return status, resp
    out = resp["outputs"][0]
    assert out["datatype"] == "FP32" and out["shape"][0] == n, resp
    per = len(out["data"]) // n
    return status, {"version": resp["model_version"], "id": resp.get("id"),
                    "rows": [out["data"][i * per:(i + 1) * per] for i in range(n)]}


def tfserving_predict(srv, model, batch, where="", column=False):
    """TF-Serving REST: POST /v1/models/<m>[/versions/<v>|/labels/<l>]:predict, instances or inputs."""
    nested = [[[img[r * 28:(r + 1) * 28] for r in range(28)]] for img in batch]  # (N, 1, 28, 28)
    body = {"inputs": nested} if column else {"instances": nested}
    status, resp, _ = srv.request("POST", "/v1/models/%s%s:predict" % (model, where), body)
    if status != 200:
        return status, resp
    return status, resp["outputs" if column else "predictions"]


def raw_exchange(port, payload, timeout=10.0):
    """Sends raw bytes, returns (status, headers dict, body bytes); status None when the server closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(payload)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None, {}, buf
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body
    finally:
        s.close()


def load_corpus_case(path):
    """<status>-<name>.http: raw request; {LEN} is replaced by the body's length (after the blank line)."""
    raw = open(path, "rb").read()
    if b"\r\n" not in raw:
        raw = raw.replace(b"\n", b"\r\n")
    head, sep, body = raw.partition(b"\r\n\r\n")
    head = head.replace(b"{LEN}", str(len(body)).encode())
    return head + sep + body


# ---------------------------------------------------------------- the tests ----------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kun", required=True)
    ap.add_argument("--corpus", required=True)
    a = ap.parse_args()
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="kun_serve_test_")
    try:
        run(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("kun serve integration: %d failure(s), %.1f s" % (len(FAILURES), time.time() - t0))
    return 1 if FAILURES else 0


def run(a, work):
    model = train_tiny_model(a.kun, work)
    repo = os.path.join(work, "repo")
    put_version(model, repo, "tiny", 1)
    with open(os.path.join(repo, "tiny", "config.json"), "w") as f:
        json.dump({"max_batch_size": 8, "max_queue_delay_us": 2000, "labels": {"stable": 1}}, f)
    put_version(model, repo, "plain", 1)  # no config: batching off

    rng = random.Random(11)
    imgs, _ = synthetic_images(5, rng)
    batch = [[v / 255.0 for v in img] for img in imgs]
    # Exact float32 values, so `kun predict` sees the same numbers the JSON carries.
    batch = [list(struct.unpack("<784f", struct.pack("<784f", *img))) for img in batch]

    # Reference: kun predict on the same inputs (probabilities, 4 decimals).
    npy = os.path.join(work, "x.npy")
    write_npy_f32(npy, (5, 1, 28, 28), [v for img in batch for v in img])
    r = subprocess.run([a.kun, "predict", model, npy, "--top", "10"], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "kun predict runs: " + r.stderr)
    reference = []
    for line in r.stdout.strip().splitlines():
        probs = {}
        for label, p in re.findall(r"(\S+) \((\d\.\d+)\)", line.split(": ", 1)[1]):
            probs[int(label)] = float(p)
        reference.append([probs[c] for c in range(10)])
    check(len(reference) == 5, "kun predict gives 5 rows, got %d" % len(reference))

    srv = Server(a.kun, repo, "--poll-interval", "1", "--read-timeout", "1", "--max-body-bytes", "1000000",
                 "--access-log", os.path.join(work, "access.log"))
    try:
        protocol_tests(srv, batch, reference)
        corpus_tests(srv, a.corpus)
        connection_tests(srv)
        version_tests(srv, repo, model, batch)
        metrics_tests(srv)
        backpressure_tests(a.kun, repo, batch)
    finally:
        check(srv.stop() == 0, "kun serve exits 0 on SIGTERM")
    log = open(os.path.join(work, "access.log")).read().splitlines()
    check(len(log) > 50, "access log has one line per request (%d lines)" % len(log))
    entry = json.loads(log[0])
    check(all(k in entry for k in ("time", "id", "method", "path", "status", "ms")), "access log fields: %s" % entry)
    auth_tests(a.kun, repo, work, batch)
    tls_test(a.kun, repo, work, batch)
    shutdown_test(a.kun, repo, batch)


def tls_test(kun, repo, work, batch):
    """HTTPS with a throw-away self-signed certificate (skipped when the openssl tool is absent)."""
    if shutil.which("openssl") is None:
        print("tls: skipped (no openssl tool)")
        return
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=localhost"], capture_output=True, timeout=60)
    if not check(r.returncode == 0, "openssl makes a test certificate"):
        return
    srv = Server(kun, repo, "--tls-cert", cert, "--tls-key", key, "--access-log", "")
    try:
        import ssl
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=30, context=ctx)
        body = json.dumps({"instances": [[[batch[0][r * 28:(r + 1) * 28] for r in range(28)]]]})
        c.request("POST", "/v1/models/tiny:predict", body=body, headers={"Content-Type": "application/json"})
        resp = c.getresponse()
        out = json.loads(resp.read())
        check(resp.status == 200 and len(out["predictions"][0]) == 10, "prediction over HTTPS")
        c.close()
        status, _, _ = raw_exchange(srv.port, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        check(status is None, "plain HTTP to the HTTPS port gets no HTTP answer")
        check(srv.request is not None and srv.proc.poll() is None, "TLS server alive after a plain-text client")
    finally:
        srv.stop()


def protocol_tests(srv, batch, reference):
    # Health, server metadata, model metadata (-1 for the batch dim), readiness.
    check(srv.request("GET", "/v2/health/live")[0] == 200, "live")
    check(srv.request("GET", "/v2/health/ready")[0] == 200, "ready")
    st, meta, _ = srv.request("GET", "/v2")
    check(st == 200 and meta["name"] == "kun" and "version" in meta, "server metadata %s" % meta)
    st, mm, _ = srv.request("GET", "/v2/models/tiny")
    check(st == 200 and mm["inputs"][0]["shape"] == [-1, 1, 28, 28] and mm["outputs"][0]["shape"] == [-1, 10]
          and mm["inputs"][0]["datatype"] == "FP32" and mm["versions"] == ["1"], "model metadata %s" % mm)
    check(srv.request("GET", "/v2/models/tiny/versions/1")[0] == 200, "version metadata")
    check(srv.request("GET", "/v2/models/tiny/ready")[0] == 200, "model ready")
    check(srv.request("GET", "/v2/models/tiny/versions/7/ready")[0] // 100 == 4, "absent version not ready")

    # KServe v2 predictions: one batch of 5, and 5 single requests; both equal kun predict.
    st, res = kserve_infer(srv, "tiny", batch)
    check(st == 200 and res["id"] == "req-5" and res["version"] == "1", "kserve infer %s %s" % (st, res))
    kserve_rows = res["rows"]
    for i, img in enumerate(batch):
        st, one = kserve_infer(srv, "tiny", [img], version=1)
        check(st == 200 and close(one["rows"][0], kserve_rows[i]),
              "kserve single == batched row %d: %s vs %s" % (i, one["rows"][0][:3], kserve_rows[i][:3]))
    for i, row in enumerate(kserve_rows):
        check(len(row) == 10 and abs(sum(row) - 1) < 1e-4, "softmax row sums to 1: %s" % row)
        for c in range(10):
            check(abs(row[c] - reference[i][c]) <= 6e-5, "kserve row %d class %d: %g vs kun predict %g" % (
                i, c, row[c], reference[i][c]))
    # Nested data and integer datatypes are accepted too.
    nested = {"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "UINT8",
                          "data": [[[[0] * 28] * 28]]}]}
    st, res, _ = srv.request("POST", "/v2/models/tiny/infer", nested)
    check(st == 200 and len(res["outputs"][0]["data"]) == 10, "UINT8 nested data %s %s" % (st, res))

    # TF-Serving REST: status, instances (row), inputs (column), labels, :classify.
    st, status, _ = srv.request("GET", "/v1/models/tiny")
    check(st == 200 and status["model_version_status"][0]["state"] == "AVAILABLE", "tf status %s" % status)
    st, preds = tfserving_predict(srv, "tiny", batch)
    check(st == 200 and preds == kserve_rows, "tf instances == kserve outputs")
    st, outs = tfserving_predict(srv, "tiny", batch, column=True)
    check(st == 200 and outs == kserve_rows, "tf inputs (column) == kserve outputs")
    st, preds = tfserving_predict(srv, "tiny", batch[:2], where="/labels/stable")
    check(st == 200 and all(close(a, b) for a, b in zip(preds, kserve_rows[:2])), "tf predict by label")
    st, preds = tfserving_predict(srv, "tiny", batch[:1], where="/versions/1")
    check(st == 200 and close(preds[0], kserve_rows[0]), "tf predict by version")
    st, preds = tfserving_predict(srv, "plain", batch)
    check(st == 200 and preds == kserve_rows, "unbatched model gives the same outputs")
    nested = [[[img[r * 28:(r + 1) * 28] for r in range(28)]] for img in batch[:2]]
    st, res, _ = srv.request("POST", "/v1/models/tiny:classify", {"instances": nested, "k": 2})
    ok = st == 200 and len(res["results"]) == 2 and len(res["results"][0]) == 2
    if check(ok, "classify %s %s" % (st, res)):
        best = max(range(10), key=lambda c: kserve_rows[0][c])
        check(res["results"][0][0][0] == str(best) and abs(res["results"][0][0][1] - kserve_rows[0][best]) < 1e-6,
              "classify top-1 = argmax of predict")

    # Keep-alive: many requests on one connection.
    c = srv.conn()
    for _ in range(20):
        st, _ = kserve_infer(srv, "tiny", batch[:1], conn=c)
        check(st == 200, "keep-alive request")
    c.close()

    # Concurrent single requests: all correct while the batcher merges them.
    results = [None] * 24

    def worker(k):
        st, res = kserve_infer(srv, "tiny", [batch[k % 5]])
        results[k] = st == 200 and close(res["rows"][0], kserve_rows[k % 5])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(all(results), "concurrent batched requests all correct: %s" % results)


def corpus_tests(srv, corpus_dir):
    cases = sorted(glob.glob(os.path.join(corpus_dir, "*.http")))
    check(len(cases) >= 30, "corpus holds >= 30 cases (%d)" % len(cases))
    for path in cases:
        name = os.path.basename(path)
        want = int(name.split("-", 1)[0])
        status, headers, body = raw_exchange(srv.port, load_corpus_case(path))
        ok = status == want
        msg = ""
        if ok:
            try:
                msg = json.loads(body)["error"]
                ok = isinstance(msg, str) and len(msg) > 3
            except (ValueError, KeyError, TypeError):
                ok = False
        check(ok, "corpus %s: want %d + {\"error\": ...}, got %s %r" % (name, want, status, body[:200]))
        check(srv.request("GET", "/v2/health/live")[0] == 200, "server alive after corpus case " + name)
    print("corpus: %d cases replayed" % len(cases))


def connection_tests(srv):
    # Slow client: half a request line, then silence; the read timeout (1 s) drops it while others are served.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\nContent-Len")
    check(srv.request("GET", "/v2/health/ready")[0] == 200, "served while a slow client stalls")
    t = time.time()
    try:
        data = s.recv(4096)
    except socket.timeout:
        data = b"timeout"
    check(data != b"timeout" and time.time() - t < 8, "slow client dropped after the read timeout (%r)" % data[:60])
    s.close()
    # Half-closed: promises 1000 bytes, sends 10, shuts its write side.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inputs\":")
    s.shutdown(socket.SHUT_WR)
    try:
        data = s.recv(4096)
    except socket.timeout:
        data = b"timeout"
    check(data != b"timeout", "half-closed client answered or closed (%r)" % data[:60])
    s.close()
    # Body limit: a 2 MB body against --max-body-bytes 1000000.
    big = b'{"inputs": [' + b" " * 2_000_000 + b"]}"
    status, _, body = raw_exchange(srv.port, b"POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                   + str(len(big)).encode() + b"\r\n\r\n" + big)
    check(status == 413 and b"error" in body, "oversize body -> 413 (%s %r)" % (status, body[:80]))
    check(srv.request("GET", "/v2/health/live")[0] == 200, "alive after connection abuse")


def wait_for(pred, timeout=8.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def version_tests(srv, repo, model, batch):
    # A broken version 2 never replaces the working version 1 (picked up by polling).
    put_version(model, repo, "tiny", 2, broken=True)
    st, idx, _ = srv.request("POST", "/v2/repository/index")
    check(wait_for(lambda: any(e.get("version") == "2" and e["state"] == "UNAVAILABLE"
                               for e in srv.request("POST", "/v2/repository/index")[1])),
          "broken version 2 reported UNAVAILABLE")
    st, res = kserve_infer(srv, "tiny", batch[:1])
    check(st == 200 and res["version"] == "1", "version 1 still serves while 2 is broken (%s %s)" % (st, res))
    st, res, _ = srv.request("POST", "/v2/repository/models/tiny/load")
    check(st == 200, "explicit load keeps the model (version 1 still loaded): %s %s" % (st, res))
    # A good version 2 replaces 1 (policy latest 1); the load endpoint makes it immediate.
    put_version(model, repo, "tiny", 2)
    st, res, _ = srv.request("POST", "/v2/repository/models/tiny/load")
    check(st == 200, "load after fixing version 2: %s %s" % (st, res))
    st, res = kserve_infer(srv, "tiny", batch[:1])
    check(st == 200 and res["version"] == "2", "version 2 serves after reload (%s)" % res)
    st, res = kserve_infer(srv, "tiny", batch[:1], version=1)
    check(st == 404 and "not loaded" in res["error"], "version 1 unloaded under latest-1 (%s %s)" % (st, res))
    st, res, _ = srv.request("POST", "/v1/models/tiny/labels/stable:predict", {"instances": [[[[0.0] * 28] * 28]]})
    check(st == 404 and "not loaded" in res["error"], "label pointing at an unloaded version -> 404 (%s)" % res)
    # Removing version 2 brings version 1 back (polling).
    shutil.rmtree(os.path.join(repo, "tiny", "2"))
    check(wait_for(lambda: kserve_infer(srv, "tiny", batch[:1])[1].get("version") == "1"),
          "version 1 back after version 2 is removed")
    # Unload / load.
    check(srv.request("POST", "/v2/repository/models/plain/unload")[0] == 200, "unload")
    st, res, _ = srv.request("GET", "/v2/models/plain/ready")
    check(st // 100 == 4, "unloaded model not ready (%s)" % st)
    check(srv.request("POST", "/v2/repository/models/plain/load")[0] == 200, "load again")
    check(srv.request("GET", "/v2/models/plain/ready")[0] == 200, "ready after load")


def metrics_tests(srv):
    st, text, r = srv.request("GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else str(text)
    check(st == 200 and r.getheader("Content-Type", "").startswith("text/plain"), "metrics content type")
    check(re.search(r'kun_requests_total\{model="tiny",version="1",status="200"\} \d+', text) is not None,
          "request counter by model/version/status")
    check(re.search(r'kun_requests_total\{model="tiny",version="\d*",status="400"\} \d+', text) is not None,
          "400s counted")
    for name in ("kun_request_queue_seconds_bucket", "kun_request_compute_seconds_count",
                 "kun_request_total_seconds_sum", "kun_batch_size_bucket", 'kun_model_loaded{model="tiny"'):
        check(name in text, "metrics has " + name)
    check("nosuchmodel" not in text, "unknown model names (from the corpus) never become metric labels")
    m = re.search(r'kun_batch_size_count\{model="tiny"\} (\d+)', text)
    s = re.search(r'kun_batch_size_sum\{model="tiny"\} (\d+)', text)
    check(m and s and int(s.group(1)) > int(m.group(1)), "the batcher merged requests (rows > passes)")


def backpressure_tests(kun, repo, batch):
    # Queue of 1 request, one slow-ish instance: a burst gets some 429 with Retry-After, none fails otherwise.
    bp = Server(kun, repo, "--max-queue-size", "1", "--access-log", "")
    try:
        statuses, retry = [], []
        lock = threading.Lock()

        def worker():
            for _ in range(6):
                st, res, r = bp.request("POST", "/v1/models/plain:predict",
                                        {"instances": [[[img[r * 28:(r + 1) * 28] for r in range(28)]] for img in batch]})
                with lock:
                    statuses.append(st)
                    if st == 429:
                        retry.append(r.getheader("Retry-After"))

        ts = [threading.Thread(target=worker) for _ in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(set(statuses) <= {200, 429}, "burst: only 200 or 429 (%s)" % sorted(set(statuses)))
        check(statuses.count(200) > 0, "burst: some served")
        check(all(x == "1" for x in retry), "429 carries Retry-After")
        print("back-pressure burst: %d served, %d refused with 429" % (statuses.count(200), statuses.count(429)))
    finally:
        bp.stop()


def auth_tests(kun, repo, work, batch):
    keys = os.path.join(work, "keys.txt")
    admin, scoped = "a" * 32, "b" * 24 + "tinyonly"
    with open(keys, "w") as f:
        f.write("# admin key, then a key for model tiny only\n%s\n%s tiny\n" % (admin, scoped))
    srv = Server(kun, repo, "--api-keys-file", keys)
    try:
        body = {"instances": [[[[0.0] * 28] * 28]]}
        check(srv.request("GET", "/v2/health/live")[0] == 200, "health needs no key")
        st, res, r = srv.request("POST", "/v1/models/tiny:predict", body)
        check(st == 401 and r.getheader("WWW-Authenticate") == "Bearer", "no key -> 401 (%s)" % st)
        st, _, _ = srv.request("POST", "/v1/models/tiny:predict", body, {"Authorization": "Bearer " + "a" * 31 + "b"})
        check(st == 401, "wrong key -> 401")
        st, _, _ = srv.request("POST", "/v1/models/tiny:predict", body, {"Authorization": "Bearer " + scoped})
        check(st == 200, "scoped key on its model -> 200")
        st, _, _ = srv.request("POST", "/v1/models/plain:predict", body, {"X-API-Key": scoped})
        check(st == 403, "scoped key on another model -> 403")
        check(srv.request("GET", "/metrics", headers={"X-API-Key": scoped})[0] == 403, "metrics need the admin key")
        check(srv.request("GET", "/metrics", headers={"Authorization": "Bearer " + admin})[0] == 200, "admin key")
    finally:
        srv.stop()
    check(admin not in srv.stderr_text() and scoped not in srv.stderr_text(), "keys never logged")


def shutdown_test(kun, repo, batch):
    # SIGTERM right after start-up: still a clean, prompt exit.
    quick = Server(kun, repo, "--access-log", "")
    t = time.time()
    check(quick.stop() == 0 and time.time() - t < 10, "SIGTERM right after start-up exits 0 promptly")
    # SIGTERM while clients hammer the server: every answer received is a complete 200; exit code 0.
    srv = Server(kun, repo, "--access-log", "")
    answers, errors = [], []
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                st, res = kserve_infer(srv, "tiny", batch[:1])
                answers.append(st == 200 and len(res["rows"][0]) == 10)
            except (ConnectionError, OSError, http.client.HTTPException) as e:
                errors.append(type(e).__name__)
                time.sleep(0.01)

    ts = [threading.Thread(target=worker) for _ in range(6)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    rc = srv.stop(signal.SIGTERM)
    stop.set()
    for t in ts:
        t.join()
    check(rc == 0, "graceful shutdown exits 0 (rc %s)" % rc)
    check(len(answers) > 0 and all(answers), "every answer before/while stopping is a complete 200 (%d)" % len(answers))
    check("stopped" in srv.stderr_text(), "shutdown logged")


if __name__ == "__main__":
    sys.exit(main())
