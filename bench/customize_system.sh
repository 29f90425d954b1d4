#!/bin/bash
# bench/customize_system.sh — what the system settings cost in `herd
# customize` on a 2.5 GiB Raspberry-Pi-layout image: hostname + SSH key
# alone (bench/customize.sh's job) against the same plus systemd units,
# config.txt/cmdline.txt edits, a WireGuard interface and an nftables
# firewall, in one run, median of N each, and the ratio between them.
# The target is issue 4's: one host ≤ 100 ms.
#
# There is no outside anchor here (virt-customize would need a VM for the
# same files; bench/customize.sh has that comparison for the base
# settings).  Each timed run alternates between two value sets so every
# run really writes; the WireGuard key is given, so runs do not differ by
# key generation.
#
# Usage: bench/customize_system.sh [BUILD_DIR]  (default build/release)
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
openssl genpkey -algorithm X25519 -outform DER | tail -c 32 | base64 >"$work/wg.key"
runs=${BENCH_RUNS:-15}
echo "image: $(du -h --apparent-size "$img" | cut -f1) apparent, $(du -h "$img" | cut -f1) allocated; $runs runs, median"

n=0
base() {
	n=$((n + 1))
	"$herd" customize "$img" --hostname "red0$((7 + n % 2))" --sshkey "$work/key.pub" --ssh
}
full() {
	n=$((n + 1))
	local i=$((n % 2))
	"$herd" customize "$img" --hostname "red0$((7 + i))" --sshkey "$work/key.pub" --ssh \
		--enable avahi-daemon --enable "getty@tty$((1 + i)).service" --mask systemd-journald \
		--config-txt "gpu_mem=$((64 + 64 * i))" --dtoverlay disable-bt --cmdline "loglevel=$((3 + i))" \
		--wg-address "10.99.0.$((2 + i))/24" --wg-private-key-file "$work/wg.key" \
		--wg-peer "public_key=YNqHwpcAmVj0lVzPSt7kRBsAIEVeyzdmoKCYc7dl1wE= allowed_ips=10.99.0.0/24 endpoint=vpn.example.com:51820" \
		--allow 80/tcp --allow "$((8000 + i))/tcp" --allow 51820/udp
}
b=$(median_ms "$runs" base)
f=$(median_ms "$runs" full)
report "customize + system settings" "$f" "hostname+key only" "$b" 100
off=$(($(sfdisk -d "$img" | sed -n 's/.*img2 : start= *\([0-9]*\),.*/\1/p') * 512))
e2fsck -fn "$img?offset=$off" >/dev/null 2>&1 && echo "e2fsck after the runs: clean" || echo "e2fsck after the runs: ERRORS"
