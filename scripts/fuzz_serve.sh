#!/usr/bin/env bash
# Fuzzes the model server's request decoding with libFuzzer (clang), seeded with the bad-request
# corpus that CI replays. Not part of CI. Usage: scripts/fuzz_serve.sh [SECONDS]   (default 120)
# New inputs go to build-fuzz/corpus (the checked-in corpus is only read); crashes to build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-120}"
command -v clang++ >/dev/null || { echo "fuzz_serve: clang++ not found (apt-get install clang)"; exit 1; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKUN_BUILD_FUZZ=ON \
  -DKUN_BUILD_TESTS=OFF -DKUN_BUILD_BENCH=OFF -DKUN_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz --target kun_fuzz_serve -j "$(nproc)"
mkdir -p build-fuzz/corpus
cp tests/serve/corpus/*.http build-fuzz/corpus/
cd build-fuzz
./kun_fuzz_serve corpus -max_total_time="$secs" -max_len=65536 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
