#!/usr/bin/env bash
# Installs what kun needs to build and test, from Debian 12 packages. Idempotent; run as root
# (or with sudo available). Pass --peers to also install the PyTorch reference (golden-value
# generators and side-by-side benchmarks), which the build and the tests do not need.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config
      libdnnl-dev libopenblas-openmp-dev libomp-dev
      libgtest-dev libbenchmark-dev
      nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libstb-dev libsqlite3-dev zlib1g-dev
      libsndfile1-dev libsamplerate0-dev libfftw3-dev
      dataset-fashion-mnist
      libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
      libcpp-httplib-dev libssl-dev)
if [[ "${1:-}" == "--peers" ]]; then
  pkgs+=(python3-torch python3-numpy python3-torchaudio python3-regex
         python3-flask wrk)  # bench/serve: the Flask + PyTorch baseline and the load generator
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "kun setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
