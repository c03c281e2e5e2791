#!/usr/bin/env bash
# Installs every build and test dependency of sana-cpp from Debian's package archive.
# Used by the README and by .ci/run; safe to run again (apt-get skips what is present).
# docs/dependencies.md says why each package is here.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
pkgs=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev            # oneDNN: CPU matmul / convolution backend
  ocl-icd-opencl-dev opencl-headers  # Debian's oneDNN CMake package requires OpenCL to be findable
  libeigen3-dev          # Eigen: small host-side linear algebra (reference helpers)
  libfmt-dev             # fmt: error messages and CLI formatting
  nlohmann-json3-dev     # nlohmann/json: config.json, safetensors headers, index files
  catch2                 # Catch2 2.13: unit and parity tests
  libbenchmark-dev       # Google Benchmark: micro-benchmarks
  libsentencepiece-dev   # SentencePiece: Gemma tokenizer
  libpng-dev             # libpng: PNG output with text chunks
  clang libclang-rt-14-dev  # libFuzzer + sanitizer runtimes for the fuzz target
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
