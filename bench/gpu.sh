#!/usr/bin/env bash
# The GPU check and benchmark in one call, for a lent H100/H200 (no compiler, no network there): run it from
# the repository root with a build made here and staged by bench/gpu_stage.sh (see docs/benchmarking.md "GPU"):
#   bash bench/gpu.sh [build-dir]        (.gpu/build after staging; results and logs go to $OUT or /tmp/sana-gpu)
# 1. parity: every op on CUDA against the reference, the CUDA smoke tests (incl. the CUDA-graph replay),
#    the model fixtures (DiT, DC-AE incl. the device tiled decode, Gemma-2) and the pipeline fixtures on CUDA;
# 2. ours: bench_pipeline for 1.6B and 0.6B, bf16, 20 steps, CFG 4.5 — 1024² batch 1 first (the targets),
#    then batch 4, 512², 2048² — each with and without the CUDA graph while time allows;
# 3. diffusers on the same card (../shared/perf/diffusers-anchor; torch must be there, diffusers may come as
#    wheels in .whl/): eager always, torch.compile only with SANA_GPU_COMPILE=1 (70–140 s per model);
# 4. the table (bench/gpu_table.py), printed last. The whole run stays inside SANA_GPU_BUDGET_S (default 540 s).
set -uo pipefail
build=${1:-build-gpu}
out=${OUT:-/tmp/sana-gpu}
mkdir -p "$out"
budget=${SANA_GPU_BUDGET_S:-540}
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
export PYTHONUNBUFFERED=1

# Shared libraries the build machine linked that a bare GPU image may lack travel in .gpu/lib.
cublas_dirs=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$PWD/.gpu/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${cublas_dirs}:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu.txt"

# Test binaries look for their fixtures at the source path they were built from: point it here.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null)
if [ -n "$src" ] && [ "$src" != "$PWD" ] && [ ! -e "$src/tests/data" ]; then
  mkdir -p "$src" && ln -sfn "$PWD/tests" "$src/tests" && ln -sfn "$PWD/models" "$src/models"
fi

echo "== 1. parity on CUDA =="
status=0
for t in tests/parity/sana_parity_tests tests/cuda/sana_cuda_smoke_tests tests/dit/sana_dit_model_tests \
         tests/dcae/sana_dcae_model_tests tests/text/sana_gemma2_tests tests/text/sana_text_parity_tests tests/dit/sana_dit_parity_tests tests/dcae/sana_dcae_parity_tests tests/pipeline/sana_pipeline_parity_tests; do
  [ -x "$build/$t" ] || { echo "missing $build/$t"; continue; }
  if timeout 120 "$build/$t" >"$out/$(basename "$t").log" 2>&1; then echo "pass  $t"; else echo "FAIL  $t"; status=1; tail -n 20 "$out/$(basename "$t").log"; fi
done

echo "== 2. sana-cpp: bench_pipeline =="
bench=$build/bench/pipeline/bench_pipeline
run_ours() {  # model px batch [--cuda-graph]
  local name="ours_$1_$2_b$3${4:+_graph}"
  [ "$(left)" -gt 90 ] || { echo "skip $name (time)"; return; }
  timeout $(( $(left) - 60 )) "$bench" --model "$1" --size "$2" --batch "$3" --backend cuda --dtype bf16 --steps 20 \
    --cfg 4.5 --repeats 3 ${4:-} --json "$out/$name.json" 2>&1 | tee "$out/$name.log" || echo "$name failed"
}
for cfg in "1.6B 1024 1" "0.6B 1024 1"; do run_ours $cfg; run_ours $cfg --cuda-graph; done

echo "== 3. diffusers on the same card =="
anchor=${SANA_ANCHOR_DIR:-}
for d in ../shared/perf/diffusers-anchor shared/perf/diffusers-anchor .gpu/anchor; do [ -z "$anchor" ] && [ -d "$d" ] && anchor=$d; done
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
if [ -n "$anchor" ] && python3 -c 'import torch, diffusers' 2>/dev/null && [ "$(left)" -gt 200 ]; then
  RESULTS_DIR=$out timeout $(( $(left) - 120 )) python3 "$anchor/anchor_bench.py" >"$out/anchor.log" 2>&1 \
    || echo "diffusers eager run stopped early (partial results kept)"
  if [ -n "${SANA_GPU_COMPILE:-}" ] && [ "$(left)" -gt 300 ]; then
    RESULTS_DIR=$out timeout $(( $(left) - 100 )) python3 "$anchor/anchor_compiled.py" >"$out/anchor_compiled.log" 2>&1 \
      || echo "diffusers torch.compile run stopped early"
  fi
else
  echo "diffusers baseline skipped (anchor scripts: '${anchor:-none}', torch+diffusers importable: $(python3 -c 'import torch, diffusers; print(1)' 2>/dev/null || echo no), $(left) s left)"
fi

echo "== 2b. the rest of the matrix while time allows =="
for cfg in "1.6B 1024 4" "0.6B 1024 4" "1.6B 512 1" "0.6B 512 1" "1.6B 2048 1" "0.6B 2048 1" "1.6B 512 4" "0.6B 512 4"; do
  run_ours $cfg --cuda-graph
done

echo "== 4. table =="
python3 bench/gpu_table.py "$out" | tee "$out/table.md"
exit $status
