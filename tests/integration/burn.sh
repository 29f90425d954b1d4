#!/bin/bash
# burn.sh — `herd burn` to files and loop devices: per-card hostnames read
# back with debugfs, fsck clean on every card, verify passes, a flipped
# byte is reported with its offset, a target too small is refused before
# anything is written, and `herd devices` refuses a mounted loop device.
# Loop-device checks need root and a kernel with loop support; they are
# skipped with a message otherwise.  Only files and loop devices this
# script creates are touched.
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

# Loop devices.
if [ "$(id -u)" -ne 0 ] || ! command -v losetup >/dev/null; then
	echo "burn.sh: skipping loop-device checks (needs root and losetup)"
	finish
	exit
fi
loops=()
mnt=""
tiny_mnt=""
cleanup_loops() {
	[ -n "$mnt" ] && umount "$mnt" 2>/dev/null
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	[ -n "$tiny_mnt" ] && umount "$tiny_mnt" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup_loops EXIT
truncate -s 200M "$WORK/disk.bin"
if ! loop=$(losetup -f --show "$WORK/disk.bin" 2>/dev/null); then
	echo "burn.sh: skipping loop-device checks (losetup -f failed)"
	finish
	exit
fi
loops+=("$loop")
# Fill with a pattern so unwritten ranges are visibly not zero.
dd if=/dev/urandom of="$loop" bs=1M count=8 status=none
expect_error 1 "not removable" "$HERD" burn "$img" --device "$loop" --yes
expect_status 0 "$HERD" burn "$img" --device "$loop" --hostname blue01 --yes --force --discard
[[ $OUT == *blue01*ok*ok* ]] || fail "loop burn result: $OUT"
dd if="$loop" of="$WORK/loopcopy" bs=1M count=160 status=none
extract_part "$WORK/loopcopy" 1 "$WORK/lboot"
extract_part "$WORK/loopcopy" 2 "$WORK/lroot"
fat_clean "$WORK/lboot"
ext_clean "$WORK/lroot"
got=$(debugfs -R "cat /etc/hostname" "$WORK/lroot" 2>/dev/null)
[ "$got" = blue01 ] || fail "loop: /etc/hostname is '$got', want blue01"
expect_status 0 "$HERD" -q burn "$img" --device "$loop" --hostname blue01 --verify-only
# Without --yes and without a terminal, a block device is not erased.
expect_error 1 "without --yes" "$HERD" burn "$img" --device "$loop" --force </dev/null
# An I/O error mid-write on one card (a loop device over a file on a 48 MiB
# tmpfs: writes past that fail) fails that card only.
mkdir -p "$WORK/tiny"
if mount -t tmpfs -o size=48M tmpfs "$WORK/tiny" 2>/dev/null; then
	tiny_mnt=$WORK/tiny
	truncate -s 200M "$WORK/tiny/disk"
	if tiny=$(losetup -f --show "$WORK/tiny/disk" 2>/dev/null); then
		loops+=("$tiny")
		expect_status 1 "$HERD" -q burn "$img" --device "$tiny,$WORK/ok.img" --full \
			--yes --force
		[[ $OUT == *"$tiny"*failed* ]] || fail "tiny loop: not failed: $OUT"
		[[ $OUT == *ok.img*ok*ok* ]] || fail "tiny loop: the other card did not finish: $OUT"
		same_file "$img" "$WORK/ok.img" "the card beside a failing one"
		losetup -d "$tiny"
	fi
	umount "$WORK/tiny"
	tiny_mnt=""
else
	echo "burn.sh: skipping the failing-card check (cannot mount tmpfs)"
fi
# A target smaller than the image is refused before anything is written.
truncate -s 100M "$WORK/small.bin"
if small=$(losetup -f --show "$WORK/small.bin" 2>/dev/null); then
	loops+=("$small")
	dd if=/dev/zero of="$small" bs=1M count=1 status=none
	expect_error 1 "too small" "$HERD" -q burn "$img" --device "$small" --yes --force
	[ "$(head -c 1048576 "$small" | tr -d '\0' | wc -c)" -eq 0 ] ||
		fail "a too-small target was written to"
fi
# A mounted loop device is refused (by herd devices and by burn).
truncate -s 32M "$WORK/fat.bin"
# vfat may be missing from the kernel; ext4 is mountable almost everywhere.
if grep -qw vfat /proc/filesystems; then mkfs.fat "$WORK/fat.bin" >/dev/null; else mke2fs -q -t ext4 -F "$WORK/fat.bin"; fi
if fat=$(losetup -f --show "$WORK/fat.bin" 2>/dev/null); then
	loops+=("$fat")
	mnt=$WORK/mnt
	mkdir -p "$mnt"
	if mount "$fat" "$mnt" 2>/dev/null; then
		expect_error 1 "mounted" "$HERD" burn "$img" --device "$fat" --yes --force
		expect_status 0 "$HERD" --json devices
		name=${fat#/dev/}
		python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin) if x["name"] == sys.argv[1]]
assert d and not d[0]["writable"] and d[0]["reason"].startswith("mounted"), d
' "$name" <<<"$OUT" || fail "herd devices does not flag $fat mounted: $OUT"
		umount "$mnt"
		mnt=""
	else
		echo "burn.sh: skipping the mounted-device check (mount failed)"
	fi
fi
finish
