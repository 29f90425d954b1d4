#!/bin/bash
# bench/customize.sh — `herd customize` of one host (hostname + SSH key)
# on a 2.5 GiB Raspberry-Pi-layout image (~13% used), median of N runs.
# Target (issue 4): ≤ 100 ms.
#
# The anchor of the issue, virt-customize (libguestfs-tools), is not
# installed on the machines this was written on and is not installed by
# this script: when it is on PATH it runs once (it takes tens of seconds)
# with LIBGUESTFS_BACKEND=direct and force_tcg and the ratio is printed;
# otherwise only herd's time is printed.
#
# Each timed run alternates between two hostnames so every run really
# writes (a run with the settings already in place is a no-op and would
# flatter the number); the key is the same each time.
#
# Usage: bench/customize.sh [BUILD_DIR]  (default build/release)
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

img=$work/pi.img
"$root/scripts/make-sample-image.sh" "$img" 2500M 300 >/dev/null
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/key"
runs=${BENCH_RUNS:-15}
echo "image: $(du -h --apparent-size "$img" | cut -f1) apparent, $(du -h "$img" | cut -f1) allocated; $runs runs, median"

# Alternate red07/red08 so each timed run changes /etc/hostname and /etc/hosts.
n=0
flip() {
	n=$((n + 1))
	"$herd" customize "$img" --hostname "red0$((7 + n % 2))" --sshkey "$work/key.pub" --ssh
}
h=$(median_ms "$runs" flip)
noop=$(median_ms "$runs" "$herd" customize "$img" --hostname red07 --sshkey "$work/key.pub" --ssh)

if command -v virt-customize >/dev/null; then
	cp --sparse=always "$img" "$work/vc.img"
	t0=$(date +%s%N)
	LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg \
		virt-customize -a "$work/vc.img" --format raw --hostname red07 \
		--ssh-inject "pi:file:$work/key.pub" >/dev/null 2>&1 || echo "virt-customize failed" >&2
	t1=$(date +%s%N)
	a=$(awk -v t=$((t1 - t0)) 'BEGIN{printf "%.3f", t/1e6}')
	report "customize (hostname+key)" "$h" "virt-customize (1 run)" "$a" 100
else
	printf '%-28s herd %9.3f ms   (virt-customize not installed: no anchor ratio)%s\n' \
		"customize (hostname+key)" "$h" \
		"$(awk -v h="$h" 'BEGIN{print (h <= 100 ? " (within the 100 ms target)" : " (OVER the 100 ms target)")}')"
fi
printf '%-28s herd %9.3f ms   (settings already in place: nothing written)\n' "customize, second run" "$noop"

off=$(($(sfdisk -d "$img" | sed -n 's/.*img2 : start= *\([0-9]*\),.*/\1/p') * 512))
e2fsck -fn "$img?offset=$off" >/dev/null 2>&1 && echo "e2fsck after the runs: clean" || echo "e2fsck after the runs: ERRORS"
