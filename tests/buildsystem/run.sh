#!/usr/bin/env bash
# Installs the build tree into a scratch prefix and builds consumer projects against it, one per component, plus
# the standalone examples; runs them and the installed CLI.
# Usage: run.sh <build-dir> <scratch-dir>
set -euo pipefail
build=$1
scratch=$2
here=$(cd "$(dirname "$0")" && pwd)
examples=$(cd "$here/../../examples" && pwd)
prefix="$scratch/prefix"
rm -rf "$scratch"
mkdir -p "$scratch"
cmake --install "$build" --prefix "$prefix" > "$scratch/install.log" 2>&1 || { cat "$scratch/install.log"; exit 1; }
built=$(sed -n 's/^set(_sana_built "\(.*\)")$/\1/p' "$prefix"/lib*/cmake/Sana/SanaConfig.cmake | tr ';' ' ')
echo "installed components: $built"

configure_and_build() {  # <name> <source> [cmake args...]
  local name=$1 src=$2
  shift 2
  cmake -S "$src" -B "$scratch/$name" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release "$@" \
    > "$scratch/$name.log" 2>&1 || { cat "$scratch/$name.log"; exit 1; }
  cmake --build "$scratch/$name" >> "$scratch/$name.log" 2>&1 || { cat "$scratch/$name.log"; exit 1; }
}

# sampling: the standard library only — every other dependency is made unfindable.
configure_and_build sampling_consumer "$here/sampling_consumer" -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_dnnl=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON -DCMAKE_DISABLE_FIND_PACKAGE_PNG=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_SentencePiece=ON
"$scratch/sampling_consumer/sampling_consumer"
# onednn (and core)
configure_and_build consumer "$here/consumer"
"$scratch/consumer/consumer"
# cuda, where built
if [[ " $built " == *" cuda "* ]]; then
  configure_and_build cuda_consumer "$here/cuda_consumer"
  "$scratch/cuda_consumer/cuda_consumer"
fi
# text + png + onednn: the standalone examples, each writing one PNG into the current directory.
for ex in custom_sampler custom_attention; do
  configure_and_build "$ex" "$examples/$ex"
  (cd "$scratch" && "$scratch/$ex/$ex" > "$scratch/$ex.out") || { cat "$scratch/$ex.out"; exit 1; }
  [[ -s "$scratch/$ex.png" ]] || { echo "$ex wrote no $ex.png" >&2; exit 1; }
done
# core + Google Benchmark: the kernel benchmark example, its usual flags.
configure_and_build bench_custom_kernel "$examples/bench_custom_kernel"
"$scratch/bench_custom_kernel/bench_custom_kernel" --benchmark_filter='0.6B.*(onednn|my_)' --benchmark_min_time=0.01 \
  > "$scratch/bench_custom_kernel.out"
grep -q "GFLOP/s" "$scratch/bench_custom_kernel.out" || { cat "$scratch/bench_custom_kernel.out"; exit 1; }
# The installed CLI finds the installed toy model.
if [[ -x "$prefix/bin/sana" ]]; then
  toy="$prefix/share/sana/models/sana-toy"
  env -u SANA_MODEL "$prefix/bin/sana" generate --help | grep -qF "Default model here: $toy" \
    || { echo "the installed sana does not default to $toy" >&2; "$prefix/bin/sana" generate --help | tail -1; exit 1; }
  (cd "$scratch" && env -u SANA_MODEL "$prefix/bin/sana" generate -p "a red circle on a blue background" -o cli.png > /dev/null)
  [[ -s "$scratch/cli.png" ]] || { echo "the installed sana wrote no image" >&2; exit 1; }
fi
if cmake -S "$here/missing_component" -B "$scratch/missing" -DCMAKE_PREFIX_PATH="$prefix" > "$scratch/missing.log" 2>&1; then
  echo "find_package with a missing component succeeded" >&2
  exit 1
fi
grep -q "no_such_backend" "$scratch/missing.log" || { cat "$scratch/missing.log"; exit 1; }
echo "buildsystem: install + find_package consumers OK"
