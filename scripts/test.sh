#!/usr/bin/env bash
# The project's test command (README quick start #2; CI runs exactly this through .ci/run):
#   1. installs the dependencies from Debian's archive,
#   2. builds everything (CUDA whenever nvcc exists, oneDNN backend) and runs every CTest test
#      except those labelled slow (CUDA tests skip with a message where no GPU is present),
#   3. rebuilds the CPU tests under AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit and parity tests,
#   4. runs the safetensors fuzzer for a bounded time.
# Options: --no-sanitize (skip 3), --no-fuzz (skip 4), --fuzz-seconds N (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=1 fuzz=1 fuzz_seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --no-sanitize) sanitize=0 ;;
    --no-fuzz) fuzz=0 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    *) echo "scripts/test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
jobs=$(nproc)

bash scripts/install-deps.sh

echo "== build (Release) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
echo "== tests =="
ctest --test-dir build -LE slow --output-on-failure -j "$jobs"

if [ "$sanitize" = 1 ]; then
  echo "== unit tests under ASan + UBSan =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANA_SANITIZE=ON -DSANA_ENABLE_CUDA=OFF \
    -DSANA_BUILD_BENCHMARKS=OFF -DSANA_BUILD_EXAMPLES=OFF
  cmake --build build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L 'unit|parity' --output-on-failure -j "$jobs"
fi

if [ "$fuzz" = 1 ] && [ -x scripts/fuzz.sh ]; then
  echo "== fuzzing the safetensors parser (${fuzz_seconds}s) =="
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
echo "== all tests passed =="
