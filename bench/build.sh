#!/bin/bash
# bench/build.sh — `herd build` of 10 hosts against copying 10 × the
# image's used bytes, side by side in one run, on a 2.5 GiB
# Raspberry-Pi-layout sample (scripts/make-sample-image.sh OUT 2500M 300):
#   herd build --jobs $(nproc), raw output (sparse; SHA-256 of every
#   output, fsync, manifest)             vs  10 × cp --sparse=always of the
#                                            image (copies only its data
#                                            extents, i.e. its used bytes)
#                                            followed by sync of the copy
# Target (issue 4): herd ≤ 2× the anchor.  BENCH_COMPRESS=1 also times zstd
# and xz builds of one host (no target).  Page cache warm on both sides.
# Usage: bench/build.sh [BUILD_DIR]  (default build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
build=${1:-$root/build/release}
if [ ! -x "$build/src/herd/herd" ]; then
	meson setup "$build" -Dbuildtype=release -Dintegration=false >/dev/null
fi
ninja -C "$build" >/dev/null
herd=$build/src/herd/herd
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herd-bench-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

img=$work/pi.img
"$root/scripts/make-sample-image.sh" "$img" 2500M 300 >/dev/null
runs=${BENCH_RUNS:-1}
jobs=$(nproc)
used=$("$herd" --json image map "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["used"])')
echo "image: $(du -h --apparent-size "$img" | cut -f1) apparent, $(du -h "$img" | cut -f1) allocated, used map $used bytes; $runs run(s) each, jobs $jobs"
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
cat >"$work/fleet.yaml" <<EOT
image: pi.img
defaults:
  ssh: { enabled: true, authorized_keys: [key.pub] }
  timezone: Europe/Berlin
hosts:
  red[01-10]:
    ipaddr: 10.1.1.[11-20]
EOT

h=$(BENCH_SETUP="rm -rf $work/out" median_ms "$runs" \
	"$herd" -q build --config "$work/fleet.yaml" --out "$work/out" --jobs "$jobs")
a=$(BENCH_SETUP="rm -rf $work/cp; mkdir -p $work/cp" median_ms "$runs" bash -c \
	"for i in 01 02 03 04 05 06 07 08 09 10; do
		cp --sparse=always '$img' '$work/cp/red\$i.img' && sync '$work/cp/red\$i.img' || exit 1
	 done")
report "build 10 hosts (raw)" "$h" "10 x cp --sparse + sync" "$a" \
	"$(awk -v a="$a" 'BEGIN{printf "%.3f", a * 2}')"
# For scale: the anchor plus what herd also does per host — the SHA-256 of
# every raw output, holes included (sha256sum of each copy).  No target.
s=$(BENCH_SETUP="rm -rf $work/cp; mkdir -p $work/cp" median_ms "$runs" bash -c \
	"for i in 01 02 03 04 05 06 07 08 09 10; do
		cp --sparse=always '$img' '$work/cp/red\$i.img' && sync '$work/cp/red\$i.img' &&
		sha256sum '$work/cp/red\$i.img' >/dev/null || exit 1
	 done")
report "build 10 hosts (raw)" "$h" "10 x cp + sync + sha256sum" "$s"

# Compressed outputs for scale (no target; slow on a loaded machine): set
# BENCH_COMPRESS=1.
if [ -n "${BENCH_COMPRESS:-}" ]; then
	z=$(BENCH_SETUP="rm -rf $work/z" median_ms "$runs" \
		"$herd" -q build --config "$work/fleet.yaml" --out "$work/z" --hosts red01 --compress zstd)
	echo "build 1 host zstd: $z ms"
	x=$(BENCH_SETUP="rm -rf $work/x" median_ms "$runs" \
		"$herd" -q build --config "$work/fleet.yaml" --out "$work/x" --hosts red01 --compress xz --level 1)
	echo "build 1 host xz -1: $x ms"
fi
