#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time: fuzz_safetensors (the weight
# loader) and fuzz_text_inputs (prompt files, scheduler / transformer / DC-AE / Gemma-2 configs).
#   scripts/fuzz.sh [seconds]     (default 60, per fuzzer)
# Exits non-zero on any crash, sanitizer report, timeout or leak; the reproducer is left in
# $BUILD/fuzz-artifacts/. Environment: SANA_FUZZ_BUILD_DIR (default build-fuzz), SANA_FUZZ_JOBS (2).
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SANA_FUZZ_BUILD_DIR:-$root/build-fuzz}"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

CC="${SANA_FUZZ_CC:-clang}" CXX="${SANA_FUZZ_CXX:-clang++}" cmake -S "$root" -B "$build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANA_BUILD_FUZZERS=ON -DSANA_BUILD_TESTS=OFF \
  -DSANA_BUILD_BENCHMARKS=OFF -DSANA_BUILD_EXAMPLES=OFF -DSANA_BUILD_TOOLS=OFF \
  -DSANA_ENABLE_CUDA=OFF -DSANA_ENABLE_ONEDNN=OFF
cmake --build "$build" -j "${SANA_FUZZ_JOBS:-2}" --target fuzz_safetensors fuzz_safetensors_seeds fuzz_text_inputs

fuzzer="$build/tests/fuzz/fuzz_safetensors"
corpus="$build/fuzz-corpus/safetensors"
artifacts="$build/fuzz-artifacts/"
mkdir -p "$corpus" "$artifacts"
"$build/tests/fuzz/fuzz_safetensors_seeds" "$corpus"

echo "fuzz_safetensors: running for ${seconds}s"
"$fuzzer" "$corpus" \
  -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/tests/fuzz/safetensors.dict" -artifact_prefix="$artifacts" -print_final_stats=1
echo "fuzz_safetensors: no crash in ${seconds}s"

text_corpus="$build/fuzz-corpus/text"
mkdir -p "$text_corpus"
cp "$root"/tests/fuzz/text_seeds/* "$text_corpus"/
echo "fuzz_text_inputs: running for ${seconds}s"
"$build/tests/fuzz/fuzz_text_inputs" "$text_corpus" \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts" -print_final_stats=1
echo "fuzz_text_inputs: no crash in ${seconds}s"
