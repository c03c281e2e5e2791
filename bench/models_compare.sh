#!/usr/bin/env bash
# Per-model CPU benchmarks against PyTorch in one invocation, A B A B: one guided 0.6B DiT step and the DC-AE
# f32c32 decode at a given size, ours (bench_dit_step, bench_dcae) then PyTorch's (tools/reference/dit_bench_torch.py,
# bench_dcae_torch.py), each pair back to back; prints PyTorch time / ours per model and writes the raw output.
#
#   bench/models_compare.sh [--build DIR] [--python PY] [--out DIR] [--px 1024] [--pairs 2] [--threads 2]
#                           [--what "dit dcae"] [--dtypes "fp32 bf16"]
# 1024² is the issue-14 shape (minutes per pair on 2 cores); the DC-AE decode is fp32 only (bench_dcae).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build python=${SANA_REF_PYTHON:-/work/venv-ref/bin/python} out="bench/results/cpu-$(date -u +%F)"
px=1024 pairs=2 threads=2 what="dit dcae" dtypes="fp32 bf16"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2 ;; --python) python=$2 ;; --out) out=$2 ;; --px) px=$2 ;; --pairs) pairs=$2 ;;
    --threads) threads=$2 ;; --what) what=$2 ;; --dtypes) dtypes=$2 ;;
    *) echo "models_compare.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
mkdir -p "$out"
log="$out/models-${px}.log"
: > "$log"
export OMP_NUM_THREADS=$threads
slow=$([ "$px" -gt 512 ] && echo 1 || echo 0)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
for p in $(seq 1 "$pairs"); do
  for w in $what; do
    if [ "$w" = dit ]; then
      for dt in $dtypes; do
        cdt=$([ "$dt" = fp32 ] && echo float || echo bf16)
        ours=$(SANA_BENCH_SLOW=$slow "$build/bench/dit/bench_dit_step" \
                 --benchmark_filter="BM_DitGuidedStep<$cdt>/1.6B:0/px:$px/" 2>&1 | tee -a "$log" |
               awk '/BM_DitGuidedStep/ {print $2; exit}')
        theirs=$("$python" tools/reference/dit_bench_torch.py --models 0.6B --px "$px" --dtypes "$dt" --full --iters 2 2>&1 |
                 tee -a "$log" | sed -n 's/.*measured step \([0-9.]*\) s.*/\1/p')
        echo "pair $p: DiT 0.6B step ${px}² $dt: ours ${ours} s, PyTorch ${theirs} s, PyTorch / ours $(ratio "$theirs" "$ours")" |
          tee -a "$log"
      done
    else
      ours=$(SANA_BENCH_SLOW=$slow "$build/bench/dcae/bench_dcae" --benchmark_filter="BM_DcaeDecodeF32c32(_slow)?/$px/" 2>&1 |
             tee -a "$log" | awk '/BM_DcaeDecodeF32c32/ {print $2; exit}')
      theirs=$("$python" tools/reference/bench_dcae_torch.py --size "$px" --iters 1 2>&1 | tee -a "$log" |
               sed -n 's/.*decode [0-9]*x[0-9]*: \([0-9.]*\) s.*/\1/p')
      echo "pair $p: DC-AE f32c32 decode ${px}² fp32: ours ${ours} s, PyTorch ${theirs} s, PyTorch / ours $(ratio "$theirs" "$ours")" |
        tee -a "$log"
    fi
  done
done
grep "^pair" "$log" > "$out/models-${px}.txt"
