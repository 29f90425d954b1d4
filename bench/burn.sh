#!/bin/bash
# bench/burn.sh — herd burn against the anchors, side by side in one run,
# on a 2.5 GiB Raspberry-Pi-layout image with ~13% used
# (scripts/make-sample-image.sh OUT 2500M 300).  herd burns the raw image
# ("warm": already decompressed in the store); the page cache is dropped
# before every timed run (needs root); targets are files on the same disk.
#
#   herd burn, verify on          vs  bmaptool copy --bmap pi.bmap pi.img.xz
#                                     (the issue's anchor: bmaptool burning the
#                                     multi-block .xz, xz -T2 --block-size=64MiB,
#                                     with its own .bmap made on the raw image;
#                                     it checks the data against the bmap's
#                                     hashes, no read-back).  Target ≤ 0.15×.
#   herd burn, verify on          vs  dd bs=4M conv=fsync of the raw image +
#                                     read-back sha256sum (dd iflag=direct)
#   herd burn to 4 cards at once  vs  herd burn to 1 card.  Target ≤ 1.3×.
#                                     A "card" is a loop device over a file,
#                                     throttled in a blkio cgroup to its own
#                                     bandwidth (CARD_WRITE_MBPS, default 40,
#                                     CARD_READ_MBPS, default 80: an SD card
#                                     in a USB 3 reader), so each target has
#                                     its own bandwidth as real cards do and
#                                     the ratio measures herd's fan-out.
#   the same 4 cards, one of them slow (half the bandwidth): the 3 fast
#                                     cards' write + verify time vs 1 card
#                                     alone.  A slow card must not hold back
#                                     the others: target ≤ 1.3×.
#   herd burn to 4 files at once  vs  herd burn to 1 file (the four share
#                                     this machine's one disk, so this
#                                     measures the disk: reported, no target)
#   the same two on tmpfs (herd's own cost of one more target)
#
# Inputs (image, .xz, .bmap) take minutes to make (xz of the used data);
# BENCH_INPUTS=DIR keeps them there between runs.  BENCH_RUNS (default 3)
# timed runs per case, median reported.
# Usage: bench/burn.sh [BUILD_DIR]  (default build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
build=${1:-$root/build/release}
if [ ! -x "$build/src/herd/herd" ]; then
	meson setup "$build" -Dbuildtype=release -Dintegration=false >/dev/null
fi
ninja -C "$build" >/dev/null
herd=$build/src/herd/herd
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/burn.sh: needs root to drop the page cache" >&2
	exit 1
fi
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herd-bench-burn.XXXXXX")
shm=$(mktemp -d /dev/shm/herd-bench-burn.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
inputs=${BENCH_INPUTS:-$work}
mkdir -p "$inputs"

img=$inputs/pi.img
if [ ! -f "$img" ] || [ ! -f "$inputs/pi.img.xz" ] || [ ! -f "$inputs/pi.bmap" ]; then
	echo "making the inputs in $inputs (image, xz -T2 --block-size=64MiB, bmap)..."
	"$root/scripts/make-sample-image.sh" "$img" 2500M 300 >/dev/null
	rm -f "$img.xz"
	xz -T2 -k --block-size=64MiB "$img"
	bmaptool create -o "$inputs/pi.bmap" "$img" 2>/dev/null
fi
runs=${BENCH_RUNS:-3}
used=$("$herd" --json image map "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["used"])')
echo "image: $(du -h --apparent-size "$img" | cut -f1) apparent, used map $((used >> 20)) MiB," \
	".xz $(du -h "$img.xz" | cut -f1); $runs run(s) each, page cache dropped before each;" \
	"load: $(cut -d' ' -f1-3 /proc/loadavg)"

drop="sync; echo 3 > /proc/sys/vm/drop_caches"

h1=$(BENCH_SETUP="rm -f $work/t1; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$work/t1" --yes)
if command -v bmaptool >/dev/null; then
	a=$(BENCH_SETUP="rm -f $work/bm; $drop" median_ms "$runs" \
		bmaptool -q copy --bmap "$inputs/pi.bmap" "$img.xz" "$work/bm")
	report "burn 1 file + verify" "$h1" "bmaptool copy .xz" "$a" \
		"$(awk -v a="$a" 'BEGIN{printf "%.3f", a * 0.15}')"
	rm -f "$work/bm"
else
	echo "bmaptool not installed (bmap-tools): skipped"
fi
d=$(BENCH_SETUP="rm -f $work/dd; $drop" median_ms "$runs" bash -c \
	"dd if='$img' of='$work/dd' bs=4M conv=fsync status=none &&
	 dd if='$work/dd' bs=4M iflag=direct status=none | sha256sum >/dev/null")
report "burn 1 file + verify" "$h1" "dd + sha256sum" "$d"
rm -f "$work/dd"

# Four cards with a bandwidth each: loop devices throttled per device in
# a blkio cgroup (v1 blkio.throttle.*, or v2 io.max) that herd runs in.
card_w=$((${CARD_WRITE_MBPS:-40} * 1000000))
card_r=$((${CARD_READ_MBPS:-80} * 1000000))
cg=
loops=()
cleanup_cards() {
	local l
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	[ -n "$cg" ] && rmdir "$cg" 2>/dev/null
	rm -rf "$work" "$shm"
}
trap cleanup_cards EXIT
if [ -d /sys/fs/cgroup/blkio ]; then
	cg=/sys/fs/cgroup/blkio/herd-bench-$$
elif grep -qw io /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	echo +io >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	cg=/sys/fs/cgroup/herd-bench-$$
fi
# throttle DEV WRITE_BPS READ_BPS — the bandwidth of one card.
throttle() {
	local mm
	mm=$(lsblk -dno MAJ:MIN "$1" | tr -d ' ')
	if [ -f "$cg/blkio.throttle.write_bps_device" ]; then
		echo "$mm $2" >"$cg/blkio.throttle.write_bps_device"
		echo "$mm $3" >"$cg/blkio.throttle.read_bps_device"
	else
		echo "$mm wbps=$2 rbps=$3" >"$cg/io.max"
	fi
}
if [ -n "$cg" ] && mkdir "$cg" 2>/dev/null; then
	for i in 1 2 3 4; do
		truncate -s "$(stat -c %s "$img")" "$work/card$i"
		l=$(losetup -f --show --direct-io=on "$work/card$i")
		loops+=("$l")
		throttle "$l" "$card_w" "$card_r"
	done
	# in_cg CMD... — run CMD inside the throttling cgroup.
	in_cg() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
	c1=$(BENCH_SETUP="$drop" median_ms "$runs" \
		in_cg "$herd" -q burn "$img" --device "${loops[0]}" --yes --force)
	c4=$(BENCH_SETUP="$drop" median_ms "$runs" \
		in_cg "$herd" -q burn "$img" --device "$(IFS=,; echo "${loops[*]}")" --yes --force)
	echo "cards: loop devices throttled to ${CARD_WRITE_MBPS:-40} MB/s write, ${CARD_READ_MBPS:-80} MB/s read each"
	report "burn 4 cards + verify" "$c4" "herd burn 1 card" "$c1" \
		"$(awk -v a="$c1" 'BEGIN{printf "%.3f", a * 1.3}')"
	# One slow card (half the bandwidth) among the four: the fast ones'
	# own write + verify time, from herd's --json report.
	throttle "${loops[3]}" $((card_w / 2)) $((card_r / 2))
	eval "$drop"
	in_cg "$herd" -q --json burn "$img" --device "$(IFS=,; echo "${loops[*]}")" --yes --force \
		>"$work/slow.json"
	read -r fast slow < <(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
assert all(x["status"] == "ok" for x in t), t
s = [1000 * (x["write_seconds"] + x["verify_seconds"]) for x in t]
print("%.3f %.3f" % (max(s[:3]), s[3]))' "$work/slow.json")
	report "3 fast cards beside 1 slow" "$fast" "herd burn 1 card" "$c1" \
		"$(awk -v a="$c1" 'BEGIN{printf "%.3f", a * 1.3}')"
	echo "  (the slow card itself: $slow ms)"
else
	echo "burn 4 cards: skipped (no blkio cgroup to throttle loop devices in)"
fi

h4=$(BENCH_SETUP="rm -f $work/q[1-4] $work/t1; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$work/q[1-4]" --yes)
report "burn 4 files + verify" "$h4" "herd burn 1 file" "$h1"
rm -f "$work"/q[1-4]

hn=$(BENCH_SETUP="rm -f $work/n1; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$work/n1" --yes --no-verify)
report "burn 1 file, no verify" "$hn" "dd + sha256sum" "$d"
rm -f "$work/n1"

# The same fan-out with the targets in memory (tmpfs), so the figure shows
# herd's own cost of one more target rather than the shared disk's bandwidth.
h1m=$(BENCH_SETUP="rm -f $shm/t1; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$shm/t1" --yes)
rm -f "$shm/t1"
h4m=$(BENCH_SETUP="rm -f $shm/q[1-4]; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$shm/q[1-4]" --yes)
report "burn 4 tmpfs files + verify" "$h4m" "herd burn 1 tmpfs file" "$h1m" \
	"$(awk -v a="$h1m" 'BEGIN{printf "%.3f", a * 1.3}')"
