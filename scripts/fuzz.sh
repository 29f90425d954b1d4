#!/bin/bash
# fuzz.sh — run one libFuzzer harness for a long time.
#   scripts/fuzz.sh NAME [SECONDS] [JOBS]
# Builds build/fuzz (clang, libFuzzer, ASan+UBSan) if needed, runs
# fuzz_NAME on a scratch copy of tests/fuzz/corpus/NAME (new interesting
# inputs land in build/fuzz-corpus/NAME; copy good ones into the repo's
# corpus by hand), prints the executions and any crash file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: fuzz.sh NAME [SECONDS] [JOBS]}
secs=${2:-600}
jobs=${3:-1}
cd "$root"
if [ ! -f build/fuzz/build.ninja ]; then
	CC=clang meson setup build/fuzz -Dbuildtype=debugoptimized -Dfuzz=true -Dintegration=false \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build/fuzz "tests/fuzz/fuzz_$name" >/dev/null
mkdir -p "build/fuzz-corpus/$name" build/fuzz-artifacts
exec "build/fuzz/tests/fuzz/fuzz_$name" -max_total_time="$secs" -jobs="$jobs" -workers="$jobs" \
	-print_final_stats=1 -artifact_prefix=build/fuzz-artifacts/ \
	"build/fuzz-corpus/$name" "tests/fuzz/corpus/$name"
