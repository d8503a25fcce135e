#!/usr/bin/env bash
# Side-by-side recsys speed runs (one invocation, same machine state):
#   1. one SGD epoch of biased SVD, K=100: ../shared/bench/peers/mf_funk.cpp (g++ -O3 -march=native) vs kun
#   2. the PyTorch mini-batch version (../shared/bench/peers/bench_mf.py), best of 1 and 2 threads
#   3. the whole random 5-fold SVD run on MovieLens 100K (Surprise defaults)
# Usage: bench/recsys/run.sh [BUILD_DIR]   (default: build; needs kun_recsys_bench built in Release)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
peers="${KUN_PEERS:-$root/../shared/bench/peers}"
data="${KUN_MOVIELENS:-$root/../shared/data/movielens-100k/ml-100k}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== SGD epoch, biased SVD (943 x 1682, 100k random ratings) =="
g++ -O3 -march=native "$peers/mf_funk.cpp" -o "$tmp/mf_funk"
for rep in 1 2 3; do
  "$tmp/mf_funk" | grep "float"
  "$build/kun_recsys_bench" epoch
done

if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "== PyTorch (bench_mf.py), per epoch =="
  for t in ${PEERS_THREADS:-1 2}; do   # PEERS_THREADS="1" skips the 2-thread run (very slow on a loaded machine)
    (cd "$peers" && PEERS_RESULTS="$tmp/peers.jsonl" BENCH_THREADS=$t /usr/bin/python3 bench_mf.py | grep "K=100")
  done
fi

if [ -f "$data/u.data" ]; then
  echo "== random 5-fold SVD on MovieLens 100K (wall, folds in parallel on all cores) =="
  "$build/kun_recsys_bench" cv5 "$data"
fi
