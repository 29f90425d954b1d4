#!/bin/bash
# burn_loop.sh — `herd burn` to real block devices: loop devices this
# script creates over its own files (root and losetup needed; skipped with
# a message otherwise).  Checks, each against independent tools:
#   - two cards at once (O_DIRECT + O_EXCL path), per-card settings from a
#     fleet file read back with debugfs, e2fsck -fn and fsck.fat -n clean
#     on each card, verify ok;
#   - a bit flipped in one card afterwards: --verify-only names that card
#     and the offset, the other card still verifies;
#   - --dryrun writes nothing (checksums before/after), the confirmation
#     prompt (on a pseudo-terminal) names device, model, size and what is
#     erased, and "no" writes nothing;
#   - a target too small refused before writing; a device held with O_EXCL
#     by another process refused as busy; a mounted device and the system
#     disk (a fake sysfs + mountinfo naming the loop device) refused;
#   - an I/O error mid-write on one card (a loop device over a file on a
#     48 MiB tmpfs) fails that card only, the other completes and verifies;
#   - SIGINT mid-burn reports the incomplete cards;
#   - one device, three hosts: the cards burn one after another while the
#     script takes each card out and puts the next in (the loop device's
#     capacity to 0 and back, see below; no udevd here: herd sees the swap
#     by polling the device's sysfs size, the state udev events would wake
#     it for).
# Every loop device, mount and file is released in the EXIT trap.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v losetup >/dev/null; then
	echo "burn_loop.sh: skipped (needs root and losetup)"
	finish
	exit
fi
loops=()
mnts=()
bgpids=()
cleanup() {
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for m in "${mnts[@]}"; do umount "$m" 2>/dev/null; done
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	for m in "${mnts[@]}"; do umount "$m" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
# attach VAR FILE [losetup options] — a new loop device over FILE in VAR,
# remembered for the trap (no command substitution: a subshell would lose
# the remembering).
attach() {
	local var=$1 file=$2 l
	shift 2
	l=$(losetup -f --show "$@" "$file" 2>/dev/null) || return 1
	loops+=("$l")
	printf -v "$var" %s "$l"
}
# check_card FILE HOST IP — the card in FILE has HOST's settings and
# clean file systems.
check_card() {
	local f=$1 host=$2 ip=$3 got
	extract_part "$f" 1 "$WORK/cb"
	extract_part "$f" 2 "$WORK/cr"
	fat_clean "$WORK/cb"
	ext_clean "$WORK/cr"
	got=$(debugfs -R "cat /etc/hostname" "$WORK/cr" 2>/dev/null)
	[ "$got" = "$host" ] || fail "$f: /etc/hostname is '$got', want $host"
	if [ -n "$ip" ]; then
		debugfs -R "cat /etc/NetworkManager/system-connections/eth0.nmconnection" \
			"$WORK/cr" 2>/dev/null | grep -q "address1=$ip/24" ||
			fail "$f: no static address $ip for $host"
		got=$(debugfs -R "cat /etc/timezone" "$WORK/cr" 2>/dev/null)
		[ "$got" = Europe/Berlin ] || fail "$f: timezone '$got', want Europe/Berlin"
	fi
	rm -f "$WORK/cb" "$WORK/cr"
}

img=$WORK/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null
boot_off=$(part_offset "$img" 1)
export SOURCE_DATE_EPOCH=1700000000
truncate -s 200M "$WORK/a.bin" "$WORK/b.bin"
if ! attach la "$WORK/a.bin" || ! attach lb "$WORK/b.bin"; then
	echo "burn_loop.sh: skipped (losetup -f failed: no loop devices here)"
	finish
	exit
fi
# Random old content, so unwritten ranges are visibly not zero.
dd if=/dev/urandom of="$la" bs=1M count=8 status=none
dd if=/dev/urandom of="$lb" bs=1M count=8 status=none
cat >"$WORK/fleet.yaml" <<'EOF'
defaults:
  timezone: Europe/Berlin
  network: { gateway: 10.1.1.1 }
hosts:
  red01: { ipaddr: 10.1.1.11 }
  red02: { ipaddr: 10.1.1.12 }
EOF

# Loop devices are not removable: refused without --force; without --yes
# and without a terminal nothing is erased.
expect_error 1 "not removable" "$HERD" burn "$img" --device "$la" --yes
expect_error 1 "without --yes" "$HERD" burn "$img" --device "$la" --force </dev/null

# --dryrun writes nothing: the same bytes before and after.
sum_before=$(sha256sum <"$WORK/a.bin")
expect_status 0 "$HERD" burn "$img" --device "$la,$lb" --config "$WORK/fleet.yaml" --force --dryrun
[[ $OUT == *"host red01"*"host red02"* ]] || fail "dryrun plan lacks the hosts: $OUT"
[[ $OUT == *"everything on it is erased"* ]] || fail "dryrun plan lacks the erase warning: $OUT"
[ "$(sha256sum <"$WORK/a.bin")" = "$sum_before" ] || fail "--dryrun changed $la"

# The confirmation prompt, on a pseudo-terminal: device, model, size, what
# is erased; anything but "yes" writes nothing.
if command -v script >/dev/null; then
	TESTS_RUN=$((TESTS_RUN + 1))
	printf 'no\n' | script -qec "'$HERD' burn '$img' --device '$la' --force" /dev/null \
		>"$WORK/prompt.out" 2>&1
	st=$?
	prompt=$(tr -d '\r' <"$WORK/prompt.out")
	[ $st -eq 1 ] || fail "prompt answered 'no': exit $st, want 1: $prompt"
	[[ $prompt == *"target:  $la (block device, "*"MiB) -- everything on it is erased"* ]] ||
		fail "prompt lacks device, size and what is erased: $prompt"
	[[ $prompt == *"Type 'yes' to continue"* ]] || fail "no prompt: $prompt"
	[[ $prompt == *"not confirmed; nothing written"* ]] || fail "no refusal: $prompt"
	[ "$(sha256sum <"$WORK/a.bin")" = "$sum_before" ] || fail "'no' at the prompt changed $la"
fi

# Two cards at once, each with its host's full settings from the fleet file.
expect_status 0 "$HERD" burn "$img" --device "$la,$lb" --config "$WORK/fleet.yaml" \
	--yes --force --discard
[[ $OUT == *"$la"*red01*ok*ok* ]] || fail "red01 not ok: $OUT"
[[ $OUT == *"$lb"*red02*ok*ok* ]] || fail "red02 not ok: $OUT"
check_card "$WORK/a.bin" red01 10.1.1.11
check_card "$WORK/b.bin" red02 10.1.1.12

# A flipped bit in card b: --verify-only names that card and the offset.
bad=$((boot_off + 3 * 4096 + 17))
old=$(dd if="$lb" bs=1 skip=$bad count=1 status=none | od -An -tu1 | tr -d ' ')
printf "\\x$(printf %02x $((old ^ 4)))" | dd of="$lb" bs=1 seek=$bad conv=notrunc status=none
expect_status 1 "$HERD" burn "$img" --device "$la,$lb" --config "$WORK/fleet.yaml" \
	--verify-only --force
[[ $ERR == *"$lb red02: verify: first difference at offset $bad "* ]] ||
	fail "verify-only did not name $lb red02 at offset $bad: $ERR"
[[ $OUT == *"$la"*red01*ok*ok* ]] || fail "the good card did not verify: $OUT"
[[ $OUT == *"$lb"*red02*mismatch* ]] || fail "no mismatch for red02: $OUT"

# A target smaller than the image: refused before anything is written.
truncate -s 100M "$WORK/small.bin"
if attach small "$WORK/small.bin"; then
	expect_error 1 "too small" "$HERD" -q burn "$img" --device "$small,$la" --yes --force
	[ "$(head -c 1048576 "$WORK/small.bin" | tr -d '\0' | wc -c)" -eq 0 ] ||
		fail "the too-small target was written to"
fi

# O_EXCL: a device another process holds exclusively is refused as busy.
python3 -c 'import os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY|os.O_EXCL); print("held", flush=True); time.sleep(30)' \
	"$la" >"$WORK/held" &
bgpids+=($!)
for _ in $(seq 50); do grep -q held "$WORK/held" && break; sleep 0.1; done
expect_error 1 "busy" "$HERD" -q burn "$img" --device "$la" --yes --force
kill "${bgpids[-1]}"
wait "${bgpids[-1]}" 2>/dev/null

# The system disk: a fake sysfs tree and mountinfo in which this loop
# device holds "/".
majmin=$(lsblk -dno MAJ:MIN "$la" | tr -d ' ')
name=${la#/dev/}
mkdir -p "$WORK/sys/block/$name"
echo "$majmin" >"$WORK/sys/block/$name/dev"
echo $((200 * 2048)) >"$WORK/sys/block/$name/size"
echo 0 >"$WORK/sys/block/$name/ro"
echo 1 >"$WORK/sys/block/$name/removable"
echo "22 1 $majmin / / rw,relatime shared:1 - ext4 $la rw" >"$WORK/mountinfo"
HERD_SYSFS_ROOT=$WORK/sys HERD_MOUNTINFO=$WORK/mountinfo \
	expect_error 1 "system disk" "$HERD" burn "$img" --device "$la" --yes --force
# A mounted partition: a small disk image with one FAT partition, attached
# with partition scanning (losetup -P), its first partition mounted.
truncate -s 40M "$WORK/fs.bin"
echo 'start=2048, type=c' | sfdisk -q "$WORK/fs.bin"
if attach lf "$WORK/fs.bin" -P; then
	mkdir -p "$WORK/mnt"
	for _ in $(seq 20); do [ -b "${lf}p1" ] && break; sleep 0.1; done
	if [ -b "${lf}p1" ] && mkfs.fat "${lf}p1" >/dev/null 2>&1 &&
		mount "${lf}p1" "$WORK/mnt" 2>/dev/null; then
		mnts+=("$WORK/mnt")
		expect_error 1 "mounted: ${lf}p1" "$HERD" burn "$img" --device "$lf" --yes --force
		expect_error 1 "is a partition of $lf" "$HERD" burn "$img" --device "${lf}p1" --yes --force
		umount "$WORK/mnt"
	elif { if grep -qw vfat /proc/filesystems; then mkfs.fat -I "$lf"; else mke2fs -q -t ext4 -F "$lf"; fi; } >/dev/null 2>&1 &&
		mount "$lf" "$WORK/mnt" 2>/dev/null; then
		# No partition scanning here (no loopNp1): the whole device
		# holds the mounted file system instead.
		mnts+=("$WORK/mnt")
		echo "burn_loop.sh: no loop partitions here; mounted the whole loop device"
		expect_error 1 "mounted: $lf" "$HERD" burn "$img" --device "$lf" --yes --force
		umount "$WORK/mnt"
	else
		echo "burn_loop.sh: cannot mount a loop device here; the mounted case is simulated only"
	fi
	# The same refusal from a mountinfo that says so (as in containers
	# that cannot mount).
	echo "30 1 $(lsblk -dno MAJ:MIN "$lf" | tr -d ' ') / /media/card rw - vfat $lf rw" >"$WORK/mi2"
	HERD_MOUNTINFO=$WORK/mi2 expect_error 1 "mounted" "$HERD" burn "$img" --device "$lf" \
		--yes --force
fi

# An I/O error mid-write on one card: its file sits on a 48 MiB tmpfs, so
# writes past that fail.  That card fails; the other completes and verifies.
mkdir -p "$WORK/tiny"
if mount -t tmpfs -o size=48M tmpfs "$WORK/tiny" 2>/dev/null; then
	mnts+=("$WORK/tiny")
	truncate -s 200M "$WORK/tiny/disk"
	if attach lt "$WORK/tiny/disk"; then
		expect_status 1 "$HERD" -q burn "$img" --device "$lt,$lb" --full --yes --force
		[[ $OUT == *"$lt"*failed* ]] || fail "tiny card: not failed: $OUT"
		[[ $OUT == *"$lb"*ok*ok* ]] || fail "the card beside the failing one: $OUT"
		[[ $ERR == *"$lt"*"write at offset"* ]] || fail "tiny card: no write error: $ERR"
		head -c "$(stat -c %s "$img")" "$WORK/b.bin" | cmp -s - "$img" ||
			fail "the card beside the failing one differs from the image"
		losetup -d "$lt"
	fi
	umount "$WORK/tiny"
else
	echo "burn_loop.sh: cannot mount a tmpfs; the failing-card check is skipped"
fi

# SIGINT mid-burn: both cards reported incomplete, exit 1.
"$HERD" burn "$img" --device "$la,$lb" --full --blocksize 4K --yes --force \
	>"$WORK/int.out" 2>"$WORK/int.err" &
pid=$!
sleep 0.3
kill -INT $pid 2>/dev/null
wait $pid
st=$?
TESTS_RUN=$((TESTS_RUN + 1))
if [ $st -eq 0 ]; then
	echo "burn_loop.sh: the burn finished before SIGINT; interrupt check skipped"
else
	[ $st -eq 1 ] || fail "SIGINT: exit $st, want 1"
	[ "$(grep -c incomplete "$WORK/int.out")" -eq 2 ] ||
		fail "SIGINT: want 2 incomplete cards: $(cat "$WORK/int.out")"
	grep -q interrupted "$WORK/int.err" || fail "SIGINT: no 'interrupted' message"
fi

# One reader, three cards: herd waits for each swap; the script plays the
# user on a loop device of its own.  A card is "taken out" by truncating
# the backing file to zero and re-reading the capacity (losetup -c: the
# device reads size 0, as a reader without a card does) and "put in" by
# growing it back (a fresh, zeroed card); each burnt card is copied away
# first.  The device is never detached: another process's losetup -f could
# take it in between, and herd would burn what it found there.
truncate -s 200M "$WORK/seq.bin"
if attach ls "$WORK/seq.bin"; then
	"$HERD" burn "$img" --device "$ls" --hostname 'seq[1-3]' --yes --force \
		>"$WORK/seq.out" 2>"$WORK/seq.err" &
	pid=$!
	bgpids+=($pid)
	# wait_card N HOST — until card N (HOST) is reported done; 0 if so.
	wait_card() {
		for _ in $(seq 600); do
			grep -q "card $1 of 3 ($2) done" "$WORK/seq.err" && return 0
			kill -0 $pid 2>/dev/null || return 1
			sleep 0.1
		done
		return 1
	}
	swap_card() { # swap_card SAVE_AS — keep the card that is in, put in a new one
		cp --sparse=always "$WORK/seq.bin" "$1"
		truncate -s 0 "$WORK/seq.bin"
		losetup -c "$ls"
		sleep 0.6 # long enough for herd to see the reader empty
		truncate -s 200M "$WORK/seq.bin"
		losetup -c "$ls"
	}
	wait_card 1 seq1 && swap_card "$WORK/s1.bin" && wait_card 2 seq2 &&
		swap_card "$WORK/s2.bin"
	wait $pid
	st=$?
	cp --sparse=always "$WORK/seq.bin" "$WORK/s3.bin"
	TESTS_RUN=$((TESTS_RUN + 1))
	[ $st -eq 0 ] || fail "sequence: exit $st: $(cat "$WORK/seq.err")"
	grep -q $'\a' "$WORK/seq.err" || fail "sequence: no bell between cards"
	[ "$(grep -c "card out; put in the next one" "$WORK/seq.err")" -eq 2 ] ||
		fail "sequence: herd did not see both cards go: $(cat "$WORK/seq.err")"
	for i in 1 2 3; do
		grep -q "$ls *seq$i .*ok *ok" "$WORK/seq.out" ||
			fail "sequence: seq$i not ok: $(cat "$WORK/seq.out")"
		[ -f "$WORK/s$i.bin" ] && check_card "$WORK/s$i.bin" "seq$i" ""
	done

	# Ctrl-C while waiting for the next card: the done and not-done hosts
	# are named, exit 1.
	"$HERD" burn "$img" --device "$ls" --hostname 'int[1-3]' --yes --force \
		>"$WORK/seq.out" 2>"$WORK/seq.err" &
	pid=$!
	bgpids+=($pid)
	wait_card 1 int1
	kill -INT $pid
	wait $pid
	st=$?
	TESTS_RUN=$((TESTS_RUN + 1))
	[ $st -eq 1 ] || fail "sequence SIGINT: exit $st, want 1"
	grep -q "interrupted: done: int1; not done: int2, int3" "$WORK/seq.err" ||
		fail "sequence SIGINT: hosts not reported: $(cat "$WORK/seq.err")"
	grep -q "int2 .*not done" "$WORK/seq.out" ||
		fail "sequence SIGINT: table: $(cat "$WORK/seq.out")"
fi
finish
