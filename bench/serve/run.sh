#!/usr/bin/env bash
# kun serve vs Flask + PyTorch on the MNIST CNN: wrk, batch-1 requests, 16 connections.
#   bench/serve/run.sh [SECONDS [SATURATION_SECONDS]]   (defaults 20 and 60)
# Needs a Release build (build/kun), wrk and python3-flask + python3-torch (scripts/setup.sh --peers)
# and the MNIST data ($KUN_DATA_DIR or ../shared/data/mnist). Prints one table; bench/results/serve.md
# holds the figures and the machine load they were measured under.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-20}"
sat="${2:-60}"   # saturation run length
conns=16
kun=build/kun
work=build/bench-serve
data="${KUN_DATA_DIR:-../shared/data/mnist}"
mkdir -p "$work"
export OMP_WAIT_POLICY=passive

# 1. The model: examples/mnist_cnn.toml for 1 epoch (enough for a serving benchmark).
model="$work/mnist_cnn.kun"
if [[ ! -f "$model" ]]; then
  "$kun" train examples/mnist_cnn.toml --epochs 1 --output "$model" --no-record --verbose 2 --show 0
fi
for variant in unbatched batched; do
  rm -rf "$work/repo-$variant" && mkdir -p "$work/repo-$variant/mnist/1"
  cp "$model" "$work/repo-$variant/mnist/1/model.kun"
  cp "$model.meta.json" "$work/repo-$variant/mnist/1/model.kun.meta.json"
done
echo '{"max_batch_size": 16, "max_queue_delay_us": 500}' > "$work/repo-batched/mnist/config.json"
# Both kun variants: one single-threaded instance per core, the layout of the Flask baseline (one
# worker per core, one torch thread each). Multi-threaded kernels per instance stall on a loaded
# machine (OpenMP barriers wait for descheduled threads).
kun_layout=(--instances "$(nproc)" --threads 1)

# 2. One request body: the first MNIST test image, TF-Serving row format, pixels / 255.
python3 - "$data" "$work/body.json" <<'PY'
import gzip, json, os, sys
d, out = sys.argv[1], sys.argv[2]
p = os.path.join(d, "t10k-images-idx3-ubyte")
raw = open(p, "rb").read() if os.path.exists(p) else gzip.open(p + ".gz").read()
px = raw[16:16 + 784]
img = [[[px[r * 28 + c] / 255.0 for c in range(28)] for r in range(28)]]
json.dump({"instances": [img]}, open(out, "w"))
PY
export KUN_BENCH_BODY="$PWD/$work/body.json"

wait_ready() {  # port
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$1/v2/health/ready" >/dev/null 2>&1 && return 0
    python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$1/v2/health/ready', timeout=1)" \
      >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server on port $1 did not become ready" >&2
  return 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
run_wrk() {  # name port duration -> appends a row
  local name=$1 port=$2 dur=$3 out="$work/wrk-$1.txt"
  echo "== $name: $(uptime)" | tee -a "$work/uptime.txt"
  wrk -t2 -c"$conns" -d"${dur}s" --latency -s bench/serve/post.lua "http://127.0.0.1:$port/v1/models/mnist:predict" \
    | tee "$out"
}

# 3. kun, unbatched and batched; Flask + PyTorch.
: > "$work/uptime.txt"
for variant in unbatched batched; do
  "$kun" serve --model-repository "$work/repo-$variant" --port 8500 "${kun_layout[@]}" --access-log "$work/access-$variant.log" \
    2>"$work/serve-$variant.err" &
  pid=$!
  wait_ready 8500
  curl -s -X POST --data-binary @"$work/body.json" http://127.0.0.1:8500/v1/models/mnist:predict > "$work/pred-kun.json" || true
  run_wrk "kun-$variant" 8500 "$secs"
  kill -TERM $pid && wait $pid
done
/usr/bin/python3 bench/serve/flask_torch_server.py "$model" --port 8501 > "$work/flask.out" 2>&1 &
fpid=$!
wait_ready 8501
curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$work/body.json" \
  http://127.0.0.1:8501/v1/models/mnist:predict > "$work/pred-flask.json" || true
run_wrk flask 8501 "$secs"
kill -TERM $fpid && wait $fpid || true

# 4. Saturation: kun batched for $sat s (60 by default); every response must be 200; RSS before and after.
"$kun" serve --model-repository "$work/repo-batched" --port 8500 "${kun_layout[@]}" --access-log "$work/access-saturation.log" \
  2>"$work/serve-saturation.err" &
pid=$!
wait_ready 8500
# Warm the allocator and the batcher (as the measured runs were) before the RSS baseline.
wrk -t2 -c"$conns" -d5s -s bench/serve/post.lua http://127.0.0.1:8500/v1/models/mnist:predict >/dev/null
rss0=$(rss_kb $pid)
(while kill -0 $pid 2>/dev/null; do sleep 10; echo -n "$(rss_kb $pid 2>/dev/null) "; done) > "$work/rss-trace.txt" &
tracer=$!
run_wrk kun-saturation 8500 "$sat"
rss1=$(rss_kb $pid)
kill $tracer 2>/dev/null || true
curl -s http://127.0.0.1:8500/metrics | grep -E '^kun_requests_total' > "$work/saturation-counts.txt" || true
kill -TERM $pid && wait $pid
echo "saturation RSS: before ${rss0} kB, after ${rss1} kB; every 10 s: $(cat "$work/rss-trace.txt")" | tee "$work/rss.txt"
echo "saturation requests by status (server side): $(tr '\n' ' ' < "$work/saturation-counts.txt")" | tee -a "$work/rss.txt"

# 5. The table.
python3 - "$work" <<'PY'
import json, re, sys
w = sys.argv[1]
def parse(name):
    t = open("%s/wrk-%s.txt" % (w, name)).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    def lat(p):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % p, t)
        v, u = float(m.group(1)), m.group(2)
        return v / 1000 if u == "us" else v * 1000 if u == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    errs = re.search(r"Socket errors: (.*)", t)
    total = int(re.search(r"(\d+) requests in", t).group(1))
    return rps, lat(50), lat(99), int(non2xx.group(1)) if non2xx else 0, errs.group(1) if errs else "none", total
rows = {n: parse(n) for n in ("kun-unbatched", "kun-batched", "flask", "kun-saturation")}
print("\n| server | req/s | p50 ms | p99 ms | requests | non-2xx | socket errors |")
print("|---|---:|---:|---:|---:|---:|---|")
for n, (rps, p50, p99, bad, errs, total) in rows.items():
    print("| %s | %.0f | %.2f | %.2f | %d | %d | %s |" % (n, rps, p50, p99, total, bad, errs))
ku, kb, fl = rows["kun-unbatched"], rows["kun-batched"], rows["flask"]
print("\nkun batched / Flask throughput: %.1fx; p99 Flask / kun batched: %.1fx; batched / unbatched: %.2fx"
      % (kb[0] / fl[0], fl[2] / kb[2], kb[0] / ku[0]))
print("kun unbatched / Flask throughput: %.1fx; p99 Flask / kun unbatched: %.1fx" % (ku[0] / fl[0], fl[2] / ku[2]))
try:
    a = json.load(open(w + "/pred-kun.json"))["predictions"][0]
    b = json.load(open(w + "/pred-flask.json"))["predictions"][0]
    print("same prediction from both servers: max |kun - torch| = %.2e" % max(abs(x - y) for x, y in zip(a, b)))
except Exception as e:  # informative only
    print("prediction comparison unavailable:", e)
PY
cat "$work/rss.txt"
