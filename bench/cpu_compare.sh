#!/usr/bin/env bash
# Whole pipeline on the CPU against diffusers / PyTorch CPU in the same invocation: ours and PyTorch's
# run alternately (A B A B, so a change in the machine's load hits both), each writing JSON, then
# bench/cpu_table.py prints PyTorch time / ours per stage and the peak RSS of both.
#
#   bench/cpu_compare.sh [--build DIR] [--python PY] [--out DIR] [--models "0.6B 1.6B"] [--dtypes "f32 bf16"]
#                        [--size 512] [--steps 2] [--text-layers 2] [--threads 2] [--pairs 2] [--folders DIR]
# --folders DIR: both sides load the same diffusers folder DIR/sana-<model>-<dtype> (written once from the random
# weights by bench_pipeline_torch.py --save), as a user loading a checkpoint does; the peak RSS then includes
# loading from memory-mapped safetensors. Without it both sides build random weights in memory.
# Defaults write bench/results/cpu-YYYY-MM-DD/. PY needs torch + diffusers + transformers
# (tools/reference/make_venv.sh). Threads are set for both sides (OMP_NUM_THREADS / torch.set_num_threads).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build python=${SANA_REF_PYTHON:-/work/venv-ref/bin/python} out="bench/results/cpu-$(date -u +%F)"
models="0.6B" dtypes="f32 bf16" size=512 steps=2 text_layers=2 threads=2 pairs=2 folders=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2 ;; --python) python=$2 ;; --out) out=$2 ;; --models) models=$2 ;; --dtypes) dtypes=$2 ;;
    --size) size=$2 ;; --steps) steps=$2 ;; --text-layers) text_layers=$2 ;; --threads) threads=$2 ;;
    --pairs) pairs=$2 ;; --folders) folders=$2 ;;
    *) echo "cpu_compare.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
mkdir -p "$out"
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //' > "$out/cpu.txt"
grep -m1 flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|amx|fma|f16c)' | tr '\n' ' ' >> "$out/cpu.txt"
echo >> "$out/cpu.txt"
for m in $models; do
  for dt in $dtypes; do
    tdt=$([ "$dt" = f32 ] && echo fp32 || echo "$dt")
    ours_model=$m torch_source=(--model "$m") kind=""
    if [ -n "$folders" ]; then
      ours_model="$folders/sana-$m-$dt" torch_source=(--folder "$ours_model") kind="-folder"
      [ -f "$ours_model/model_index.json" ] || "$python" tools/reference/bench_pipeline_torch.py --model "$m" \
        --dtype "$tdt" --text-layers "$text_layers" --save "$ours_model"
    fi
    for p in $(seq 1 "$pairs"); do
      tag="${m}-${dt}-${size}${kind}-pair${p}"
      echo "== $tag: sana-cpp (load $(cut -d' ' -f1 /proc/loadavg)) =="
      OMP_NUM_THREADS=$threads "$build/bench/pipeline/bench_pipeline" --model "$ours_model" --dtype "$dt" --size "$size" \
        --steps "$steps" --text-layers "$text_layers" --repeats 1 --json "$out/sana-$tag.json"
      echo "== $tag: diffusers (load $(cut -d' ' -f1 /proc/loadavg)) =="
      "$python" tools/reference/bench_pipeline_torch.py "${torch_source[@]}" --dtype "$tdt" --size "$size" --steps "$steps" \
        --text-layers "$text_layers" --threads "$threads" --json "$out/torch-$tag.json" 2>&1 | grep -v "kept in float32"
    done
  done
done
"$python" bench/cpu_table.py "$out" | tee "$out/table.md"
