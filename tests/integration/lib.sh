# lib.sh — helpers for the integration scripts (source it).
#
# Each script checks one capability against the built herd ($HERD) and
# independent tools.  `check` runs a command and compares exit status and
# output; any failed check makes the script exit 1 at the end, after
# printing every failure (not just the first).
set -uo pipefail

: "${HERD:?HERD must point at the built herd binary}"
HERD_SOURCE_ROOT=${HERD_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TESTS_FAILED=0
TESTS_RUN=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/herd-it.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() {
	echo "FAIL: $*" >&2
	TESTS_FAILED=$((TESTS_FAILED + 1))
}

# expect_status WANT CMD... — run CMD, compare exit status; output in $OUT, $ERR.
expect_status() {
	local want=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	OUT=$("$@" 2>"$WORK/stderr")
	STATUS=$?
	ERR=$(cat "$WORK/stderr")
	if [ "$STATUS" -ne "$want" ]; then
		fail "$* exited $STATUS, want $want; stderr: $ERR"
		return 1
	fi
	return 0
}

# expect_output WANT CMD... — exit 0 and stdout exactly WANT.
expect_output() {
	local want=$1
	shift
	expect_status 0 "$@" || return 1
	if [ "$OUT" != "$want" ]; then
		fail "$*: stdout differs"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$OUT") >&2
		return 1
	fi
}

# expect_error STATUS FRAGMENT CMD... — exit STATUS, stderr one line
# starting "herd: " and containing FRAGMENT, nothing on stdout.
expect_error() {
	local want=$1 fragment=$2
	shift 2
	expect_status "$want" "$@" || return 1
	if [ "$(printf '%s\n' "$ERR" | wc -l)" -ne 1 ] || [[ $ERR != herd:\ * ]]; then
		fail "$*: stderr is not one 'herd: ' line: $ERR"
		return 1
	fi
	if [[ $ERR != *"$fragment"* ]]; then
		fail "$*: stderr '$ERR' lacks '$fragment'"
		return 1
	fi
	if [ -n "$OUT" ]; then
		fail "$*: printed to stdout on error: $OUT"
		return 1
	fi
}

# finish — summary line and exit status for meson.
finish() {
	echo "$(basename "$0"): $TESTS_RUN checks, $TESTS_FAILED failed"
	[ "$TESTS_FAILED" -eq 0 ]
}
