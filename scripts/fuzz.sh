#!/bin/bash
# fuzz.sh — run one libFuzzer harness for a long time.
#   scripts/fuzz.sh NAME [SECONDS] [JOBS]
# Builds build/fuzz (clang, libFuzzer, ASan+UBSan) if needed, with
# ninja -j$(nproc), then runs fuzz_NAME for SECONDS (default 600) in JOBS
# processes at once (default 1) on tests/fuzz/corpus/NAME plus
# build/fuzz-corpus/NAME.  libFuzzer writes new interesting inputs only to
# the latter (copy good ones into the repo's corpus by hand) and crash
# files to build/fuzz-artifacts/.  It runs in build/fuzz-run/NAME/, where
# libFuzzer leaves one fuzz-N.log per job; each job's log, ending in its
# final stats (executions, new units), is printed as that job ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: fuzz.sh NAME [SECONDS] [JOBS]}
secs=${2:-600}
jobs=${3:-1}
cd "$root"
if [ ! -d "tests/fuzz/corpus/$name" ]; then
	echo "fuzz.sh: no harness '$name'; have: $(cd tests/fuzz/corpus && echo *)" >&2
	exit 2
fi
mkdir -p build
if [ ! -f build/fuzz/build.ninja ]; then
	CC=clang meson setup build/fuzz -Dbuildtype=debugoptimized -Dfuzz=true -Dintegration=false \
		-Db_sanitize=address,undefined -Db_lundef=false >build/fuzz-setup.log 2>&1 || {
		cat build/fuzz-setup.log
		echo "fuzz.sh: meson setup build/fuzz failed" >&2
		exit 1
	}
fi
# Explicit -j: ninja's default (cores + 2) overcommits small machines.
ninja -C build/fuzz -j"$(nproc)" "tests/fuzz/fuzz_$name" >build/fuzz-build.log 2>&1 || {
	cat build/fuzz-build.log
	echo "fuzz.sh: building fuzz_$name failed" >&2
	exit 1
}
run="$root/build/fuzz-run/$name"
mkdir -p "build/fuzz-corpus/$name" build/fuzz-artifacts "$run"
# libFuzzer puts its fuzz-N.log files (it uses them whenever -jobs is
# given, even -jobs=1) in the current directory: that is $run, not the
# repository.
cd "$run"
exec "$root/build/fuzz/tests/fuzz/fuzz_$name" -max_total_time="$secs" -jobs="$jobs" \
	-workers="$jobs" -print_final_stats=1 -artifact_prefix="$root/build/fuzz-artifacts/" \
	"$root/build/fuzz-corpus/$name" "$root/tests/fuzz/corpus/$name"
