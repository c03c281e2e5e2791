#!/usr/bin/env bash
# Installs the build tree into a scratch prefix and builds consumer projects against it.
# Usage: run.sh <build-dir> <scratch-dir>
set -euo pipefail
build=$1
scratch=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" > "$scratch.install.log" 2>&1 || { cat "$scratch.install.log"; exit 1; }
for proj in consumer sampling_consumer; do
  cmake -S "$here/$proj" -B "$scratch/$proj" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$scratch/$proj" > /dev/null
done
"$scratch/consumer/consumer"
"$scratch/sampling_consumer/sampling_consumer"
if cmake -S "$here/missing_component" -B "$scratch/missing" -DCMAKE_PREFIX_PATH="$scratch/prefix" > "$scratch/missing.log" 2>&1; then
  echo "find_package with a missing component succeeded" >&2
  exit 1
fi
grep -q "no_such_backend" "$scratch/missing.log" || { cat "$scratch/missing.log"; exit 1; }
echo "buildsystem: install + find_package consumers OK"
