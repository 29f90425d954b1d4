#!/bin/sh
# Short libFuzzer run for the test suite: FUZZ_SMOKE_SECONDS (default 20)
# on top of the seed corpus.  New inputs go to a scratch directory so the
# repository's corpus is never modified; crashes fail the test.
# libFuzzer's own exit code for a crash, leak or timeout is 77, which
# meson reads as "skipped": -error_exitcode and -timeout_exitcode make them
# failures.
set -eu
exe=$1 corpus=$2
secs=${FUZZ_SMOKE_SECONDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
rc=0
"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-artifact_prefix="$work/" "$work/corpus" "$corpus" || rc=$?
# A failing input is kept (in the build directory) for the next run to
# reproduce: `fuzz_NAME FILE`.
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -e "$f" ] || continue
	mkdir -p fuzz-artifacts
	cp "$f" fuzz-artifacts/
	echo "smoke.sh: failing input kept as $(pwd)/fuzz-artifacts/$(basename "$f")" >&2
done
exit "$rc"
