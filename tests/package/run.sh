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

# The C example (examples/c): a C project that links oneclass::c from the installed package. It
# scores an image of a small trained run, and must give `oneclass score`'s score to the last bit.
cmake -S "$here/../../examples/c" -B "$scratch/example" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$flags" \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" >"$scratch/example-configure.log" 2>&1 ||
  { cat "$scratch/example-configure.log"; exit 1; }
cmake --build "$scratch/example" >"$scratch/example-build.log" 2>&1 || { cat "$scratch/example-build.log"; exit 1; }
oneclass="$scratch/prefix/bin/oneclass"
"$oneclass" make-demo-data "$scratch/demo" --categories wood --size 64 --train 12 --good-test 2 --defects 1 >/dev/null
"$oneclass" run --dataset folder --data "$scratch/demo" --image-size 32 --model patch-knn --out "$scratch/run" \
            --no-progress --no-figures --threads 1 >/dev/null
{ printf 'P6\n40 30\n255\n'; head -c 3600 /dev/urandom; } >"$scratch/part.ppm"
c_line=$("$scratch/example/inspect" "$scratch/run" "$scratch/part.ppm")
"$oneclass" score "$scratch/run" "$scratch/part.ppm" --output "$scratch/scored.csv" >/dev/null
c_score=$(echo "$c_line" | awk '{print $3}')
cli_score=$(tail -n 1 "$scratch/scored.csv" | awk -F, '{print $2}')
awk -v a="$c_score" -v b="$cli_score" 'BEGIN { exit !(a + 0 == b + 0) }' ||
  { echo "the C API scored $c_score, oneclass score $cli_score"; exit 1; }
echo "$c_line"
echo "package: installed, found, linked and run (C++ and C)"
