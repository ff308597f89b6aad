#!/bin/sh
# fuzz.sh [SECONDS] - build the ptsim libFuzzer target with clang in its own
# build directory (build-fuzz) and run it for SECONDS (default 20) over a
# seed corpus made from the golden scripts in tests/ptsim.  Exit status 0
# means no crash, no sanitizer report and no invariant violation.
set -eu
seconds=${1:-20}
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build-fuzz"
if [ ! -d "$build" ]; then
	CC=clang meson setup "$build" "$top" -Dfuzz=true >/dev/null
fi
ninja -C "$build" tools/ptsim/ptsim_fuzz >/dev/null
corpus="$build/ptsim-corpus"
mkdir -p "$corpus"
# One seed per golden and machine: byte 0 picks the machine (see fuzz.c):
# every paging mode (bits 0..2) in both spaces (8), Svpbmt on the RISC-V
# modes (16), and the tight node pools (32).
machines="0 1 2 3 4 8 9 10 11 12 18 19 20 26 27 28 32 33 34 35 36 40 41 42 43 44"
for script in "$top"/tests/ptsim/*.pt; do
	name=$(basename "$script" .pt)
	for machine in $machines; do
		{ printf "\\$(printf '%03o' "$machine")"; cat "$script"; } >"$corpus/$name-$machine"
	done
done
exec "$build/tools/ptsim/ptsim_fuzz" -max_total_time="$seconds" -max_len=4096 \
	-timeout=10 -artifact_prefix="$build/" "$corpus"
