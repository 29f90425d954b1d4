#!/bin/bash
# bench/burn-cold.sh — a cold burn from a compressed image: what a user
# does with a fresh Raspberry Pi OS download.  One 2.5 GiB Pi-layout image
# with ~13% used (make-sample-image.sh 2500M 300), compressed as a
# multi-block .xz (xz -T2 --block-size=24MiB, like xz -T0 downloads).
# Side by side in one run, the page cache dropped before every timed run
# (needs root), targets are files on the same disk:
#   herd burn pi.img.xz (empty store: unpack into the store + burn +
#                        verify by read-back)       vs
#   bmaptool copy --bmap pi.bmap pi.img.xz (decompresses the .xz itself,
#                        writes the mapped blocks, checks the bmap's hashes)
#   xz -dc | dd bs=4M conv=fsync, then dd iflag=direct | sha256sum (read-back)
# Target (issue 5): herd cold burn with verify ≤ 0.8× bmaptool.
# Usage: bench/burn-cold.sh [BUILD_DIR]  (default build/release)
# BENCH_INPUTS=DIR keeps pi.img, pi.img.xz and pi.bmap there between runs;
# BENCH_DIR (default /var/tmp) holds the targets and the store.
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
	echo "bench/burn-cold.sh: needs root to drop the page cache" >&2
	exit 1
fi
command -v bmaptool >/dev/null || { echo "bench/burn-cold.sh: bmaptool (bmap-tools) needed" >&2; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herd-bench-cold.XXXXXX")
trap 'rm -rf "$work"' EXIT
export HERD_STORE=$work/store
inputs=${BENCH_INPUTS:-$work}
mkdir -p "$inputs"
img=$inputs/pi.img
if [ ! -s "$inputs/pi.img.xz" ] || [ ! -s "$img" ]; then
	"$root/scripts/make-sample-image.sh" "$img" 2500M 300 >/dev/null
	xz -T2 -1 --block-size=24MiB -c "$img" >"$inputs/pi.img.xz"
fi
[ -s "$inputs/pi.bmap" ] || bmaptool -q create -o "$inputs/pi.bmap" "$img"
runs=${BENCH_RUNS:-1}
blocks=$(xz --robot -lv "$inputs/pi.img.xz" | awk '$1 == "totals" {print $3}')
used=$("$herd" --json image map "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["used"])')
echo "image: $(du -h --apparent-size "$img" | cut -f1) apparent, used map $((used >> 20)) MiB;" \
	".xz $(du -h "$inputs/pi.img.xz" | cut -f1) in ${blocks:-?} blocks; $(nproc) CPUs;" \
	"$runs run(s) each, page cache dropped before each; load: $(cut -d' ' -f1-3 /proc/loadavg)"

drop="sync; echo 3 > /proc/sys/vm/drop_caches"

h=$(BENCH_SETUP="rm -rf $HERD_STORE $work/t; $drop" median_ms "$runs" \
	"$herd" -q burn "$inputs/pi.img.xz" --device "$work/t" --yes)
# The burned target must hold the image: herd's own read-back said so;
# check the partitions against the raw image once more, untimed.
"$herd" -q burn "$img" --device "$work/t" --verify-only >/dev/null ||
	{ echo "bench/burn-cold.sh: herd's cold burn does not verify" >&2; exit 1; }
b=$(BENCH_SETUP="rm -f $work/bm; $drop" median_ms "$runs" \
	bmaptool -q copy --bmap "$inputs/pi.bmap" "$inputs/pi.img.xz" "$work/bm")
d=$(BENCH_SETUP="rm -f $work/dd; $drop" median_ms "$runs" bash -c \
	"xz -dc '$inputs/pi.img.xz' | dd of='$work/dd' bs=4M iflag=fullblock conv=fsync status=none &&
	 dd if='$work/dd' bs=4M iflag=direct status=none | sha256sum >/dev/null")
report "cold burn .xz + verify" "$h" "bmaptool copy --bmap" "$b" \
	"$(awk -v a="$b" 'BEGIN{printf "%.3f", a * 0.8}')"
report "cold burn .xz + verify" "$h" "xz -dc|dd + sha256sum" "$d"
# The same burn again is warm: the store holds the raw image now.
w=$(BENCH_SETUP="rm -f $work/t; $drop" median_ms "$runs" \
	"$herd" -q burn "$inputs/pi.img.xz" --device "$work/t" --yes)
report "warm burn .xz + verify" "$w" "bmaptool copy --bmap" "$b"
