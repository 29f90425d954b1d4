#!/bin/bash
# bench/burn.sh — herd burn against the anchors, side by side in one run,
# on a 2.5 GiB Raspberry-Pi-layout image (~13% used, raw: "warm", i.e.
# already decompressed in the store).  The page cache is dropped before
# every timed run (needs root), targets are files on the same disk:
#   herd burn, verify on (default)    vs  dd bs=4M conv=fsync + read-back
#                                         (dd iflag=direct | sha256sum)
#   herd burn, verify on              vs  bmaptool copy --bmap (its own .bmap,
#                                         made untimed; it checks the source
#                                         against the bmap's hashes, no read-back)
#   herd burn to 4 files at once      vs  herd burn to 1 file
# Targets (issue 5): warm burn with verify ≤ 0.15× bmaptool; 4 targets ≤
# 1.3× one.  Each case runs once (BENCH_RUNS to change).
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
trap 'rm -rf "$work"' EXIT

img=$work/pi.img
"$root/scripts/make-sample-image.sh" "$img" 2500M 300 >/dev/null
runs=${BENCH_RUNS:-1}
used=$("$herd" --json image map "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["used"])' 2>/dev/null || echo "?")
echo "image: $(du -h --apparent-size "$img" | cut -f1) apparent, $(du -h "$img" | cut -f1) allocated, used map $used bytes; $runs run(s) each, page cache dropped before each"

drop="sync; echo 3 > /proc/sys/vm/drop_caches"

h1=$(BENCH_SETUP="rm -f $work/t1; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$work/t1" --yes)
d=$(BENCH_SETUP="rm -f $work/dd; $drop" median_ms "$runs" bash -c \
	"dd if='$img' of='$work/dd' bs=4M conv=fsync status=none &&
	 dd if='$work/dd' bs=4M iflag=direct status=none | sha256sum >/dev/null")
report "burn 1 file + verify" "$h1" "dd + sha256sum" "$d"

if command -v bmaptool >/dev/null; then
	bmaptool create -o "$work/pi.bmap" "$img" 2>/dev/null
	a=$(BENCH_SETUP="rm -f $work/bm; $drop" median_ms "$runs" \
		bmaptool -q copy --bmap "$work/pi.bmap" "$img" "$work/bm")
	report "burn 1 file + verify" "$h1" "bmaptool copy --bmap" "$a" \
		"$(awk -v a="$a" 'BEGIN{printf "%.3f", a * 0.15}')"
else
	echo "bmaptool not installed (bmap-tools): skipped"
fi

h4=$(BENCH_SETUP="rm -f $work/q[1-4]; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$work/q[1-4]" --yes)
report "burn 4 files + verify" "$h4" "herd burn 1 file" "$h1" \
	"$(awk -v a="$h1" 'BEGIN{printf "%.3f", a * 1.3}')"

hn=$(BENCH_SETUP="rm -f $work/n1; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$work/n1" --yes --no-verify)
report "burn 1 file, no verify" "$hn" "dd + sha256sum" "$d"

# The same fan-out with the targets in memory (tmpfs), so the figure shows
# herd's own cost of one more target rather than the shared disk's bandwidth.
shm=$(mktemp -d /dev/shm/herd-bench-burn.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
h1m=$(BENCH_SETUP="rm -f $shm/t1; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$shm/t1" --yes)
rm -f "$shm/t1"
h4m=$(BENCH_SETUP="rm -f $shm/q[1-4]; $drop" median_ms "$runs" \
	"$herd" -q burn "$img" --device "$shm/q[1-4]" --yes)
report "burn 4 tmpfs files + verify" "$h4m" "herd burn 1 tmpfs file" "$h1m" \
	"$(awk -v a="$h1m" 'BEGIN{printf "%.3f", a * 1.3}')"
