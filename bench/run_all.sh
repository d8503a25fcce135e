#!/bin/bash
# Regenerates every table of bench/RESULTS.md: kun (build/kun_bench) and PyTorch 1.13 side by side,
# 1 and 2 threads, one after the other in this one run. Usage (from the repository root, after a
# Release build):   bench/run_all.sh [build-dir]   -> bench/results/*.md  (about 30-60 min on 2 cores)
# Env: WAIT="passive,active" (OMP_WAIT_POLICY values; passive keeps 2-thread runs sane on a shared
#      machine), THREADS="1,2", STAT=min|median, REPS=10, MINT=0.03, ONLY="acceptance mnist ops" (table groups).
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WAIT=${WAIT:-passive,active}
THREADS=${THREADS:-1,2}
STAT=${STAT:-min}   # fastest repetition per side: the best estimate of unloaded speed on a shared machine
REPS=${REPS:-10}
MINT=${MINT:-0.03}  # seconds per kun repetition: 10 x 0.03 s, the same sampling as the peers' time_us
OUT=bench/results
mkdir -p "$OUT"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

run() {  # run NAME FILTER [extra compare.py args]
  local name=$1 flt=$2
  shift 2
  set -- --stat "$STAT" --reps "$REPS" --min-time "$MINT" "$@"
  echo "### $name: python3 bench/compare.py --build $BUILD --threads $THREADS --wait $WAIT --filter '$flt' $*"
  { echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; echo
    echo "\`python3 bench/compare.py --build $BUILD --threads $THREADS --wait $WAIT --filter '$flt' $*\`"; echo
    python3 bench/compare.py --build "$BUILD" --threads "$THREADS" --wait "$WAIT" --filter "$flt" "$@"
    echo; echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee "$OUT/$name.md"
}

for group in ${ONLY:-acceptance mnist ops}; do
  case $group in
    acceptance)
      # issue 2: matmul vs cblas_sgemm (kun-only rows, same binary), conv fwd+bwd, add64 fwd+bwd, large elementwise
      run sgemm '^BM_(matmul|cblas_sgemm)_1024$'
      run conv_acceptance '^BM_conv2d_fb_(mnist|resnet)$'
      run add64 '^BM_add64_fwd'
      run elementwise_large '^BM_(add|relu|exp)_16M$'
      ;;
    mnist)
      # issue 3: the seeds' MNIST CNN; PyTorch also with OpenBLAS at 1 thread (its best setting for training here)
      run mnist '^BM_mnist_' --peer-openblas same,1
      ;;
    ops)
      run conv_pool '^BM_(conv2d|maxpool2d|avgpool2d)_'
      run linalg '^BM_(linear|bmm|matmul_256|matmul_4096)'
      ;;
  esac
done
