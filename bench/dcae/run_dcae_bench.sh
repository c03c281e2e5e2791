#!/usr/bin/env bash
# Runs the DC-AE CPU benchmark and its PyTorch baseline back to back and prints the time ratio.
#   bench/dcae/run_dcae_bench.sh [build-dir]          512² (default run, a few minutes on 2 cores)
#   SANA_BENCH_SLOW=1 bench/dcae/run_dcae_bench.sh    also the real decoder at 1024² (C++ only)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
python=${SANA_REF_PYTHON:-/work/venv-ref/bin/python}
cpp=$("$build/bench/dcae/bench_dcae" --benchmark_format=console 2>&1 | tee >(cat >&2))
torch=$(nice -n 10 "$python" "$root/tools/reference/bench_dcae_torch.py" --size 512 --iters 2 | tee >(cat >&2))
ours=$(echo "$cpp" | awk '/BM_DcaeDecodeF32c32\/512/ {print $2; exit}')
theirs=$(echo "$torch" | sed -n 's/.*decode 512x512: \([0-9.]*\) s.*/\1/p')
echo "f32c32 decode 512²: sana-cpp ${ours} s, PyTorch ${theirs} s, speed ratio (PyTorch time / ours) $(awk -v a="$theirs" -v b="$ours" 'BEGIN {printf "%.2f", a / b}')"
