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
	# Case-insensitive: "No such file" and "no such file" are the same news.
	if [[ ${ERR,,} != *"${fragment,,}"* ]]; then
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

export MTOOLS_SKIP_CHECK=1

# as_user CMD... — run as nobody when we are root: image work needs no
# privileges, and the tests prove it.  Files it touches must be
# world-writable (the helpers below make them so).
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}

# herd_user ARGS... — herd as the unprivileged user.
herd_user() {
	as_user "$HERD" "$@"
}

chmod 0777 "$WORK"

# part_offset IMG N — byte offset of partition N from sfdisk's dump.
part_offset() {
	local start
	start=$(sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\),.*|\1|p")
	echo $((start * 512))
}

# part_size IMG N — size in bytes of partition N.
part_size() {
	local size
	size=$(sfdisk -d "$1" | sed -n "s|^$1$2 : start= *[0-9]*, size= *\([0-9]*\),.*|\1|p")
	echo $((size * 512))
}

# extract_part IMG N OUT — copy partition N to OUT (for tools without offsets).
extract_part() {
	local off size
	off=$(part_offset "$1" "$2")
	size=$(part_size "$1" "$2")
	dd if="$1" of="$3" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$size" \
		conv=sparse status=none
}

# fat_clean FILE — fsck.fat -n reports nothing to fix.
fat_clean() {
	local log
	log=$(fsck.fat -n "$1" 2>&1)
	if [ $? -ne 0 ] || grep -qiE 'differ|invalid|lost|free cluster|dirty|error|bad|will be|mismatch' <<<"$log"; then
		fail "fsck.fat -n $1: $log"
		return 1
	fi
}

# ext_clean SPEC — e2fsck -fn clean (SPEC may be "img?offset=N").
ext_clean() {
	local log
	log=$(e2fsck -fn "$1" 2>&1)
	if [ $? -ne 0 ]; then
		fail "e2fsck -fn $1: $log"
		return 1
	fi
}

# same_file A B WHAT — byte-identical files.
same_file() {
	if ! cmp -s "$1" "$2"; then
		fail "$3: $1 and $2 differ"
		return 1
	fi
}
