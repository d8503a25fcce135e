#!/usr/bin/env bash
# Builds kun (Release and ASan+UBSan) and runs the whole test suite in both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)
# ccache: key objects by paths relative to the checkout, so any clone reuses the cache.
export CCACHE_BASEDIR="$(cd .. && pwd)" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")
if [[ "${KUN_SKIP_SANITIZE:-0}" != 1 ]]; then
  # -O1 -g1: quick to compile, fast enough to run, and reports carry function names and lines.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" -DKUN_SANITIZE=ON \
    -DKUN_BUILD_BENCH=OFF -DKUN_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build-asan -j "$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs")
fi
