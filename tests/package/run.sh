#!/usr/bin/env bash
# Installs the build in BUILD_DIR into a scratch prefix, then configures, builds and runs
# tests/package (another project using find_package(oneclass)) against it.
#   run.sh BUILD_DIR TORCH_DIR [CXX_FLAGS]
set -euo pipefail
build=$1 torch_dir=$2 flags=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/oneclass-package.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$here" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="$flags" \
      -DCMAKE_PREFIX_PATH="$scratch/prefix;$torch_dir" >"$scratch/configure.log" 2>&1 ||
  { cat "$scratch/configure.log"; exit 1; }
cmake --build "$scratch/build" -j 2 >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
"$scratch/build/consumer"
test -x "$scratch/prefix/bin/oneclass" && test -x "$scratch/prefix/bin/oneclass-core"
echo "package: installed, found, linked and run"
