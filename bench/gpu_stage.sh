#!/usr/bin/env bash
# Stages what bench/gpu.sh needs into .gpu/ (git-ignored) so one carried path fits the device's 64 MiB limit:
#   .gpu/build/    the binaries gpu.sh runs, stripped, in the build tree's layout, plus its CMakeCache.txt
#                  (gpu.sh reads the source path from it to link the fixtures where the tests look)
#   .gpu/lib/      shared libraries they link that a bare GPU image lacks (not glibc/libstdc++, not CUDA's own)
#   .gpu/anchor/   the diffusers anchor scripts (../shared/perf/diffusers-anchor or SANA_ANCHOR_DIR)
# Usage: bash bench/gpu_stage.sh [build-dir]   (default build-gpu), then run `bash bench/gpu.sh .gpu/build`
# with carry [".gpu"] (and ".whl" when diffusers travels as wheels).
set -euo pipefail
build=${1:-build-gpu}
here=$(cd "$(dirname "$0")/.." && pwd)
dst=$here/.gpu
rm -rf "$dst/build" "$dst/anchor"
mkdir -p "$dst/build" "$dst/lib" "$dst/anchor"
bins=()
for b in bench/pipeline/bench_pipeline tests/parity/sana_parity_tests tests/cuda/sana_cuda_smoke_tests \
         tests/dit/sana_dit_model_tests tests/dit/sana_dit_parity_tests tests/dcae/sana_dcae_model_tests \
         tests/dcae/sana_dcae_parity_tests tests/text/sana_gemma2_tests tests/text/sana_text_parity_tests \
         tests/pipeline/sana_pipeline_parity_tests; do
  if [ -x "$build/$b" ]; then
    mkdir -p "$dst/build/$(dirname "$b")"
    cp -f "$build/$b" "$dst/build/$b" && strip --strip-unneeded "$dst/build/$b"
    bins+=("$build/$b")
  else
    echo "[gpu_stage] $build/$b not built; skipped"
  fi
done
[ ${#bins[@]} -gt 0 ] || { echo "[gpu_stage] nothing built in '$build'"; exit 2; }
cp -f "$build/CMakeCache.txt" "$dst/build/"
ldd "${bins[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u | while read -r name path; do
  case "$name" in
    libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;
    libcublas*|libcudart*|libcuda.so*) ;;  # CUDA's own: the GPU image has them (gpu.sh also looks in pip's nvidia.cublas)
    *) cp -fL "$path" "$dst/lib/$name" ;;
  esac
done
anchor=${SANA_ANCHOR_DIR:-$here/../shared/perf/diffusers-anchor}
[ -d "$anchor" ] && cp -f "$anchor"/*.py "$anchor"/*.json "$dst/anchor/" 2>/dev/null || true
du -sh "$dst" "$dst"/* | sed 's/^/[gpu_stage] /'
echo "[gpu_stage] carry [\".gpu\"] and run: bash bench/gpu.sh .gpu/build"
