#!/usr/bin/env bash
# Runs the CUDA checks on a GPU machine from a build made elsewhere (the GPU machine may have no
# compiler packages): the cross-backend parity tests, the CUDA smoke tests and probe, and the
# GEMM benchmark (ops::linear beside raw cuBLASLt). Usage: bench/gpu_check.sh [build-dir] [out-dir]
set -uo pipefail
build=${1:-build-gpu}
out=${2:-${OUT:-/tmp}}
# Shared libraries the build machine linked that a bare GPU image may lack travel in .gpu/lib.
cublas_dirs=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$PWD/.gpu/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${cublas_dirs}:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu.txt"
status=0
echo "== parity (every backend x dtype vs reference) =="
"$build/tests/parity/sana_parity_tests" 2>&1 | tail -n 30 | tee "$out/parity.txt" || status=1
grep -q "All tests passed" "$out/parity.txt" || status=1
echo "== CUDA smoke tests =="
"$build/tests/cuda/sana_cuda_smoke_tests" 2>&1 | tail -n 30 | tee "$out/smoke.txt" || status=1
echo "== CUDA probe =="
timeout 60 "$build/tests/cuda/sana_cuda_probe" 2>&1 | tail -n 40 | tee "$out/probe.txt"
echo "== GEMM benchmark =="
timeout 180 "$build/bench/micro/bench_gemm_cuda" --benchmark_min_time=0.05 --benchmark_format=console \
  --benchmark_out="$out/bench_gemm_cuda.json" --benchmark_out_format=json 2>&1 | tail -n 40
exit $status
