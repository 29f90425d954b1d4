#!/bin/bash
# demo.sh — the README's first command: set up, then run herd's main job on
# a built-in default, with no card reader and no network.
#
#   1. install dependencies (scripts/install-deps.sh) and build herd (release)
#   2. build a Raspberry-Pi-layout sample image (scripts/make-sample-image.sh)
#   3. inspect it: partitions, filesystems, OS, used-block map
#   4. customize it with the settings every card shares (herd customize)
#   5. burn one card per host of red[01-03] in one pass (herd burn, files
#      standing in for SD cards): per-card hostname, used blocks only,
#      read-back verify — herd runs as an unprivileged user, no mounts
#   6. check every card with the independent tools (debugfs, mtools,
#      fsck.fat, e2fsck) and print a result table
#
# Output goes to build/demo/.  HERD_SKIP_DEPS=1 skips step 1's apt part.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
hosts=${HERD_DEMO_HOSTS:-red[01-03]}

if [ "${HERD_SKIP_DEPS:-0}" != 1 ]; then
	scripts/install-deps.sh
fi
if [ ! -f build/release/build.ninja ]; then
	meson setup build/release -Dbuildtype=release -Dintegration=false >/dev/null
fi
ninja -C build/release >/dev/null
herd=$root/build/release/src/herd/herd

out=build/demo
rm -rf "$out"
mkdir -p "$out"
# Image work needs no privileges: run herd as nobody when we are root.
run_herd() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$herd" "$@"
	else
		"$herd" "$@"
	fi
}

echo "== building the sample image"
scripts/make-sample-image.sh "$out/sample.img" 1G
echo
echo "== herd image info"
chmod -R a+rwX "$out"
run_herd image info "$out/sample.img"
echo
run_herd image map "$out/sample.img" | tail -1
echo

echo "== herd customize: settings every card shares (ssh on, key-only login, timezone)"
ssh_key=$out/demo_key.pub
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdlbW9rZXlmb3JoZXJkZGVtb25vdHJlYWxseXVzZWQx demo@herd" >"$ssh_key"
chmod a+r "$ssh_key"
run_herd customize "$out/sample.img" --ssh --sshkey "$ssh_key" --timezone Europe/Berlin
echo
echo "== herd burn: one pass, one card per host of $hosts (files stand in for SD cards)"
devices=$(run_herd expand "$hosts" | sed "s|^|$out/|; s|\$|.img|" | paste -sd,)
run_herd burn "$out/sample.img" --device "$devices" --hostname "$hosts" --yes
echo
echo "== independent check of every card (debugfs, mtools, fsck.fat, e2fsck)"
printf '%-8s %-12s %-10s %-10s %-14s %-8s %-8s\n' HOST IMAGE HOSTNAME BOOT/ssh TIMEZONE FSCK.FAT E2FSCK
status=0
for host in $(run_herd expand "$hosts"); do
	img=$out/$host.img
	root_off=$(( $(sfdisk -d "$img" | sed -n 's/.*2 : start= *\([0-9]*\),.*/\1/p') * 512 ))
	got=$(debugfs -R 'cat /etc/hostname' "$img?offset=$root_off" 2>/dev/null)
	tz=$(debugfs -R 'cat /etc/timezone' "$img?offset=$root_off" 2>/dev/null)
	boot=$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$img@@4194304" ::/ssh >/dev/null 2>&1 && echo yes || echo no)
	# fsck.fat has no offset option: check a copy of the boot partition.
	dd if="$img" of="$out/boot.part" bs=1M skip=4 count=512 conv=sparse status=none
	fat=$(fsck.fat -n "$out/boot.part" >/dev/null 2>&1 && echo clean || echo ERRORS)
	rm -f "$out/boot.part"
	e2=$(e2fsck -fn "$img?offset=$root_off" >/dev/null 2>&1 && echo clean || echo ERRORS)
	[ "$got" = "$host" ] && [ "$boot" = yes ] && [ "$tz" = Europe/Berlin ] &&
		[ "$fat" = clean ] && [ "$e2" = clean ] || status=1
	printf '%-8s %-12s %-10s %-10s %-14s %-8s %-8s\n' "$host" "$(basename "$img")" "$got" "$boot" "$tz" "$fat" "$e2"
done
echo
if [ $status -eq 0 ]; then
	echo "demo: all cards burnt, customized and verified (images in $out/)"
else
	echo "demo: verification FAILED" >&2
fi
exit $status
