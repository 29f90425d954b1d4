#!/bin/bash
# bench/fs.sh — the block engine's anchors, side by side in one run, on a
# 2.5 GiB Raspberry-Pi-layout image (~13% used):
#   herd fs put (small file) into root   vs  debugfs -w -R "write …"
#   herd fs put (small file) into boot   vs  mcopy -o
#   herd image map (both filesystems)    vs  dumpe2fs -h (root superblock only)
# Targets (issue "Block engine"): put root ≤ 50 ms, put boot ≤ 20 ms,
# map ≤ 200 ms wall.  Usage: bench/fs.sh [BUILD_DIR]  (default build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
build=${1:-$root/build/release}
if [ ! -x "$build/src/herd/herd" ]; then
	meson setup "$build" -Dbuildtype=release -Dintegration=false >/dev/null
fi
ninja -C "$build" >/dev/null
herd=$build/src/herd/herd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1

img=$work/pi.img
"$root/scripts/make-sample-image.sh" "$img" 2500M 300 >/dev/null
printf 'red07\n' >"$work/hostname"
off=$(( $(sfdisk -d "$img" | sed -n 's/.*img2 : start= *\([0-9]*\),.*/\1/p') * 512 ))
runs=${BENCH_RUNS:-15}
echo "image: $(du -h --apparent-size "$img" | cut -f1) apparent, $(du -h "$img" | cut -f1) allocated; $runs runs each, median"

h=$(median_ms "$runs" "$herd" fs put "$work/hostname" "$img:root:/etc/hostname")
# debugfs refuses to overwrite an existing name, so its file is removed untimed before each run.
a=$(BENCH_SETUP="debugfs -w -R 'rm /etc/hostname-debugfs' '$img?offset=$off' >/dev/null 2>&1 || true" \
		median_ms "$runs" debugfs -w -R "write $work/hostname /etc/hostname-debugfs" "$img?offset=$off")
report "fs put → root (ext4)" "$h" "debugfs -w write" "$a" 50

h=$(median_ms "$runs" "$herd" fs put "$work/hostname" "$img:boot:/hostname.txt")
a=$(median_ms "$runs" mcopy -o -i "$img@@4194304" "$work/hostname" ::/hostname2.txt)
report "fs put → boot (FAT32)" "$h" "mcopy -o" "$a" 20

h=$(median_ms "$runs" "$herd" image map "$img")
a=$(median_ms "$runs" dumpe2fs -h "$img?offset=$off")
report "image map" "$h" "dumpe2fs -h (root only)" "$a" 200

e2fsck -fn "$img?offset=$off" >/dev/null 2>&1 && echo "e2fsck after the runs: clean" || echo "e2fsck after the runs: ERRORS"
