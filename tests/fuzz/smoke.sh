#!/bin/sh
# Short libFuzzer run for the test suite: FUZZ_SMOKE_SECONDS (default 20)
# on top of the seed corpus.  New inputs go to a scratch directory so the
# repository's corpus is never modified; crashes fail the test.
set -eu
exe=$1 corpus=$2
secs=${FUZZ_SMOKE_SECONDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$work/" "$work" "$corpus"
