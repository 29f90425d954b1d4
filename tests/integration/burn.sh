#!/bin/bash
# burn.sh — `herd burn` to files and loop devices: per-card hostnames read
# back with debugfs, fsck clean on every card, verify passes, a flipped
# byte is reported with its offset, pairing errors, --dryrun, --full,
# SIGINT.  Block devices are burn_loop.sh's.
. "$(dirname "$0")/lib.sh"

img=$WORK/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null
boot_off=$(part_offset "$img" 1)
root_off=$(part_offset "$img" 2)
export SOURCE_DATE_EPOCH=1700000000

# Three customized copies in one pass.
expect_status 0 "$HERD" burn "$img" --device "$WORK/card[1-3].img" --hostname 'red[01-03]' --yes
for w in red01 red02 red03; do
	[[ $OUT == *"$w"*ok*ok* ]] || fail "result table lacks '$w ... ok ok': $OUT"
done
for i in 1 2 3; do
	card=$WORK/card$i.img
	[ "$(stat -c %s "$card")" -eq "$(stat -c %s "$img")" ] || fail "card$i: wrong size"
	extract_part "$card" 1 "$WORK/boot$i"
	extract_part "$card" 2 "$WORK/root$i"
	fat_clean "$WORK/boot$i"
	ext_clean "$WORK/root$i"
	got=$(debugfs -R "cat /etc/hostname" "$WORK/root$i" 2>/dev/null)
	[ "$got" = "red0$i" ] || fail "card$i: /etc/hostname is '$got', want red0$i"
	debugfs -R "cat /etc/hosts" "$WORK/root$i" 2>/dev/null | grep -qx "127.0.1.1	red0$i" ||
		fail "card$i: /etc/hosts lacks '127.0.1.1 red0$i'"
	rm -f "$WORK/boot$i" "$WORK/root$i"
done
# The source image is untouched.
extract_part "$img" 2 "$WORK/root0"
got=$(debugfs -R "cat /etc/hostname" "$WORK/root0" 2>/dev/null)
[ "$got" != red01 ] || fail "the source image was modified"
rm -f "$WORK/root0"

# --verify-only agrees with a good card, then finds a flipped byte.
expect_status 0 "$HERD" -q burn "$img" --device "$WORK/card2.img" --hostname red02 --verify-only
bad=$((boot_off + 3))
printf '\x58' | dd of="$WORK/card2.img" bs=1 seek=$bad conv=notrunc status=none
expect_status 1 "$HERD" -q burn "$img" --device "$WORK/card2.img" --hostname red02 --verify-only
[[ $ERR == *"offset $bad "* ]] || fail "verify-only did not report offset $bad: $ERR"
[[ $OUT == *mismatch* ]] || fail "result table lacks mismatch: $OUT"
expect_status 1 "$HERD" -q --json burn "$img" --device "$WORK/card2.img" --hostname red02 --verify-only
[[ $OUT == *"\"bad_offset\": $bad"* ]] || fail "--json lacks bad_offset $bad: $OUT"

# Hostnames and devices pair by position.
expect_error 2 "2 hostnames for 3 devices" "$HERD" burn "$img" --device "$WORK/x[1-3]" \
	--hostname 'a,b' --yes
# Addresses pair with hosts; one file cannot take a sequence of cards; a
# host missing from the fleet file and a bad value for the second card stop
# the run before anything is written.
expect_error 2 "2 addresses for 3 hosts" "$HERD" burn "$img" --device "$WORK/x[1-3]" \
	--hostname 'a[1-3]' --ipaddr '10.0.0.[1-2]' --yes
expect_error 2 "needs a card reader" "$HERD" burn "$img" --device "$WORK/x1" \
	--hostname 'a[1-3]' --yes
printf 'hosts:\n  red01: {}\n' >"$WORK/fleet.yaml"
expect_error 1 "host 'blue01' is not in" "$HERD" burn "$img" --device "$WORK/x1" \
	--config "$WORK/fleet.yaml" --hostname blue01 --yes
expect_error 2 "card 2 (b_d): --hostname" "$HERD" burn "$img" --device "$WORK/x[1-2]" \
	--hostname 'ok1,b_d' --yes
[ ! -e "$WORK/x1" ] || fail "a bad second card left the first one written"
# --dryrun writes nothing.
expect_status 0 "$HERD" burn "$img" --device "$WORK/dry" --dryrun
[ ! -e "$WORK/dry" ] || fail "--dryrun created the target"
[[ $OUT == *"dry run"* ]] || fail "--dryrun output: $OUT"
# The image itself is refused as a target.
expect_error 1 "is the source image" "$HERD" burn "$img" --device "$img" --yes
# --no-verify and --full.
expect_status 0 "$HERD" -q --json burn "$img" --device "$WORK/full" --full --no-verify --yes
[[ $OUT == *'"verify": "skipped"'* ]] || fail "--no-verify still verified: $OUT"
same_file "$img" "$WORK/full" "--full copy"
rm -f "$WORK"/card*.img "$WORK/full"

# SIGINT mid-burn: stops cleanly and reports the incomplete targets.  Small
# blocks and --full make the burn long enough to interrupt; if it still wins
# the race the check is skipped.
"$HERD" burn "$img" --device "$WORK/int[1-2].img" --full --blocksize 4K --yes \
	>"$WORK/int.out" 2>"$WORK/int.err" &
pid=$!
sleep 0.15
kill -INT $pid 2>/dev/null
wait $pid
st=$?
TESTS_RUN=$((TESTS_RUN + 1))
if [ $st -eq 0 ]; then
	echo "burn.sh: the burn finished before SIGINT; interrupt check skipped"
else
	[ $st -eq 1 ] || fail "SIGINT: exit $st, want 1"
	grep -q incomplete "$WORK/int.out" || fail "SIGINT: no incomplete target: $(cat "$WORK/int.out")"
	grep -q "interrupted" "$WORK/int.err" || fail "SIGINT: no 'interrupted' message"
fi
rm -f "$WORK"/int*

# Block devices (loop devices): tests/integration/burn_loop.sh.
finish
