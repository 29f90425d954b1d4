#!/bin/bash
# check-style.sh — house-style checks that a machine can do (STYLE.md):
#   1. no banned functions (curl's list: atoi & co, sprintf, strcat,
#      strncpy, strtok, gets) in src/ and tests/;
#   2. libherd never prints or exits (no printf/puts/exit/abort in src/libherd);
#   3. every C file is formatted with the repository's .clang-format.
# Usage: check-style.sh [SOURCE_ROOT]
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
rc=0

mapfile -t files < <(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null ||
	find src tests -name '*.[ch]')

banned='\b(atoi|atol|atoll|atof|sprintf|vsprintf|strcat|strncat|strcpy|strncpy|strtok|gets)[[:space:]]*\('
if grep -nE "$banned" "${files[@]}" /dev/null | grep -v 'style-ok'; then
	echo "check-style: banned function used (see STYLE.md)" >&2
	rc=1
fi

lib=()
for f in "${files[@]}"; do
	case $f in src/libherd/*) lib+=("$f") ;; esac
done
if [ ${#lib[@]} -gt 0 ] &&
	grep -nE '\b(printf|fprintf|puts|fputs|perror|exit|abort)[[:space:]]*\(' "${lib[@]}" /dev/null |
	grep -v 'style-ok'; then
	echo "check-style: libherd must not print or exit" >&2
	rc=1
fi

if command -v clang-format >/dev/null; then
	bad=()
	for f in "${files[@]}"; do
		if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
			bad+=("$f")
		fi
	done
	if [ ${#bad[@]} -gt 0 ]; then
		echo "check-style: not clang-formatted (run clang-format -i): ${bad[*]}" >&2
		rc=1
	fi
fi

[ $rc -eq 0 ] && echo "check-style: ${#files[@]} files clean"
exit $rc
