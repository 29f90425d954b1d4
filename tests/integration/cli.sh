#!/bin/bash
# cli.sh — the command-line frame and `herd expand` from the shell:
# help/version, exit codes 0/1/2, one-line errors, and the host-list
# semantics behaving exactly as the library's unit tests say.
. "$(dirname "$0")/lib.sh"

# Frame
expect_status 0 "$HERD" --help && [[ $OUT == *"Usage: herd"* ]] || fail "--help text"
for cmd in $("$HERD" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}'); do
	expect_status 0 "$HERD" "$cmd" --help && [[ $OUT == *"Usage: herd $cmd"* ]] ||
		fail "herd $cmd --help does not start with its usage"
	grep -q "^## $cmd\b\|^# $cmd\b\|^\*\*herd $cmd\*\*\|herd $cmd" "$HERD_SOURCE_ROOT/docs/herd.1.scd" ||
		fail "herd $cmd is not documented in docs/herd.1.scd"
done
expect_output "herd $(sed -n "s/^  version: '\(.*\)',/\1/p" "$HERD_SOURCE_ROOT/meson.build")" "$HERD" --version
expect_error 2 "missing command" "$HERD"
expect_error 2 "unknown command 'frobnicate'" "$HERD" frobnicate
expect_error 2 "unknown option '--frob'" "$HERD" --frob expand a
expect_error 2 "unknown option '--frob'" "$HERD" expand --frob a
expect_error 2 "missing EXPR" "$HERD" expand
expect_error 2 "needs a value" "$HERD" expand a --max

# Expansion semantics (same cases as tests/unit/test_hostlist.c)
expect_output $'red001\nred002' "$HERD" expand 'red00[1-2]'
expect_output $'red08\nred09\nred10\nred11' "$HERD" expand 'red[08-11]'
expect_output $'red1\nred2\nred3' "$HERD" expand 'red[1-03]'
expect_output $'reda\nredb\nredc' "$HERD" expand 'red[a-c]'
expect_output $'/dev/sda\n/dev/sdb\n/dev/sdc' "$HERD" expand '/dev/sd[a-c]'
expect_output $'r1x1\nr1x2\nr2x1\nr2x2' "$HERD" expand 'r[1-2]x[1-2]'
expect_output $'10.1.1.1\n10.1.1.2\n10.1.1.3' "$HERD" expand '10.1.1.[1-3]'
expect_output $'pi1\npi2' "$HERD" expand 'pi[1-2],pi1'
expect_output $'red01\nred02\nred03\nred07' "$HERD" expand 'red[01-03,07]'
expect_output $'a\nb\nc' "$HERD" expand a,b b c
expect_output '["red01", "red02"]' bash -c "'$HERD' --json expand 'red[01-02]' | tr -d '\n' | sed 's/  */ /g; s/\[ /[/; s/ \]/]/'"
expect_output '["a"]' bash -c "'$HERD' expand --json a | tr -d ' \n'"
expect_output 100000 bash -c "'$HERD' expand 'n[1-100000]' | wc -l"

# Errors: exit 2, one line naming the problem and its position
expect_error 2 "below lower bound" "$HERD" expand 'x[3-1]'
expect_error 2 "unclosed '[' at column 2" "$HERD" expand 'x[1-3'
expect_error 2 "unbalanced ']' at column 5" "$HERD" expand 'x1-3]'
expect_error 2 "nested '['" "$HERD" expand 'x[[1-2]]'
expect_error 2 "empty [] at column 2" "$HERD" expand 'x[]'
expect_error 2 "mixed letter/number range" "$HERD" expand 'x[1-c]'
expect_error 2 "more than 100000" "$HERD" expand 'n[1-100001]'
expect_error 2 "more than 100000" "$HERD" expand 'a[1-1000]b[1-1000]'
expect_error 2 "more than 5" "$HERD" expand --max 5 'n[1-6]'
expect_error 2 "'x[2-1]'" "$HERD" expand ok 'x[2-1]'

finish
