#!/usr/bin/env bash
# kun's main job from a clean checkout: install the Debian packages (scripts/setup.sh), build the
# `kun` binary (Release, Ninja), then train the embedded default — a CNN on Fashion-MNIST — which
# prints the progress, evaluates on the test set, saves the model, reloads it and predicts a few
# test images. Extra arguments go to `kun train` (e.g. --epochs 2, --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target kun_cli -j "$(nproc)"
exec build/kun train "$@"
