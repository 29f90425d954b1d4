#!/bin/bash
# test.sh — set everything up and run every test herd has.
#
#   scripts/test.sh            as root on Debian 12: installs dependencies,
#                              builds three configurations, runs all suites
#
# Configurations (build dirs under build/):
#   debug   gcc, -Werror: unit, integration, fuzz-corpus replay, style checks
#   asan    gcc, ASan + UBSan, -Werror: the same suites again
#   fuzz    clang, libFuzzer + ASan + UBSan: each harness for
#           FUZZ_SMOKE_SECONDS (default 20) on top of its seed corpus
# Then, last and on its own, the slow end-to-end target: suite "boot" of
# the debug build (tests/integration/boot.sh: debootstrap two images —
# cached in /var/cache/herd-test after the first run, about 10-25 minutes
# cold — customize them with herd, boot them in qemu TCG, check over ssh).
# The ASan build runs the boot suite's customize and fsck checks without
# booting.  HERD_SKIP_BOOT=1 leaves the boot target out.
# Environment: HERD_SKIP_DEPS=1 skips the apt step (for offline re-runs);
# HERD_TEST_SUITES limits the debug/asan runs (e.g. "unit").
#
# The last line is "N passed, N failed, N skipped" (counted over every
# meson test of every configuration), after a "skipped: BUILD: TEST" line
# for each skipped test; the exit status is non-zero when anything failed
# or could not be built.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "${HERD_SKIP_DEPS:-0}" != 1 ]; then
	scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
fi

passed=0 failed=0 skipped=0
skipped_names=()

# Parse the summary block meson test prints and add it to the totals.
count() {
	local log=$1 ok fail skip xpass timeout
	ok=$(sed -n 's/^Ok:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -1)
	fail=$(sed -n 's/^Fail:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -1)
	skip=$(sed -n 's/^Skipped:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -1)
	xpass=$(sed -n 's/^Unexpected Pass:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -1)
	timeout=$(sed -n 's/^Timeout:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -1)
	if [ -z "$ok" ]; then
		echo "test.sh: no meson summary in $log" >&2
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + ok))
	failed=$((failed + ${fail:-0} + ${xpass:-0} + ${timeout:-0}))
	skipped=$((skipped + ${skip:-0}))
	# Name every skipped test: a skip on a machine set up by this script
	# usually means a missing dependency, and a bare count hides it.
	local name
	while read -r name; do
		skipped_names+=("$(basename "$log" -test.log): $name")
	done < <(sed -n 's/^ *[0-9]*\/[0-9]* *\([^ ].*[^ ]\) *SKIP .*/\1/p' "$log")
}

# setup NAME MESON-ARGS... — configure (or reconfigure) build/NAME and build it.
setup() {
	local name=$1
	shift
	local dir=build/$name
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"build/$name-setup.log" 2>&1 || {
			cat "build/$name-setup.log"
			echo "test.sh: meson setup $name failed" >&2
			return 1
		}
	fi
	ninja -C "$dir" >"build/$name-build.log" 2>&1 || {
		cat "build/$name-build.log"
		echo "test.sh: build $name failed" >&2
		return 1
	}
}

# run NAME ARGS... — meson test in build/NAME, output echoed and counted.
run() {
	local name=$1
	shift
	local log=build/${RUN_LOG:-$name}-test.log
	echo "== $name: meson test $*"
	meson test -C "build/$name" --print-errorlogs "$@" 2>&1 | tee "$log" |
		grep -Ev '^(Expected Fail|Unexpected Pass|Timeout):' || true
	count "$log"
}

mkdir -p build
suites=()
for s in ${HERD_TEST_SUITES:-}; do suites+=(--suite "$s"); done

debug_ok=0
if setup debug -Dbuildtype=debug -Dwerror=true; then
	debug_ok=1
	if [ ${#suites[@]} -eq 0 ]; then
		run debug --no-suite boot
	else
		run debug "${suites[@]}"
	fi
else
	failed=$((failed + 1))
fi

if setup asan -Dbuildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run asan "${suites[@]}"
else
	failed=$((failed + 1))
fi

if CC=clang setup fuzz -Dbuildtype=debugoptimized -Dfuzz=true -Dintegration=false \
	-Db_sanitize=address,undefined -Db_lundef=false; then
	run fuzz --suite fuzz --num-processes 2
else
	failed=$((failed + 1))
fi

if [ $debug_ok = 1 ] && [ ${#suites[@]} -eq 0 ] && [ "${HERD_SKIP_BOOT:-0}" != 1 ]; then
	RUN_LOG=boot run debug --suite boot
fi

for n in "${skipped_names[@]}"; do echo "skipped: $n"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
