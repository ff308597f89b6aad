#!/usr/bin/env bash
# Callgrind instructions per scenario group of the benchmark (--reduced),
# as docs/PERFORMANCE.md describes: prints "group total_Ir" per line.
#   tools/bench/ir.sh BUILD_DIR   (a release build: meson setup BUILD_DIR --buildtype=release)
set -eu
dir=${1:-build-release}
out=$(mktemp -d)
for g in run_seq1 run_unmap1 run_map_once run_unmap_once run_rand_map run_rand_unmap; do
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$g" "--toggle-collect=$g*" \
    "$dir/tools/bench/bench" --reduced >/dev/null 2>"$out/log.$g"
  ir=$(callgrind_annotate "$out/cg.$g" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
  echo "$g $ir"
done
rm -rf "$out"
