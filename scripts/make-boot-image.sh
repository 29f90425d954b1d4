#!/bin/bash
# make-boot-image.sh — a bootable Raspberry-Pi-layout image of Debian 12
# for the qemu boot test (tests/integration/boot.sh), without loop devices
# or mounts:
#
#   MBR (disk id 6b0a7d01) │ p1 FAT32 "bootfs" at 4 MiB, 512 MiB │ p2 ext4 "rootfs"
#
# The root filesystem is a debootstrapped bookworm/amd64 (minbase plus
# systemd-sysv, udev, openssh-server, linux-image-amd64, iproute2, sudo,
# tzdata; the cloud-init variant adds cloud-init and locales).  There is
# no first user: the test has herd create `pi`.  Like Raspberry Pi OS,
# the boot partition holds the kernel (vmlinuz), the initramfs
# (initrd.img), config.txt and cmdline.txt (root=PARTUUID=6b0a7d01-02),
# and /etc/fstab mounts it on /boot/firmware; a qemu -kernel/-initrd/-append
# boot plays the firmware's part by reading those three files back out of
# the image.
#
# Network: systemd-networkd, DHCP on every wired NIC (en*, eth*).
#
# cloud-init variant: the NoCloud datasource is told to look for its seed
# (user-data, meta-data, network-config) on the filesystem labelled
# `bootfs` — the boot partition — which is where Raspberry Pi Imager puts
# it and what Raspberry Pi OS's cloud-init configuration does, instead of
# the default CIDATA label (/etc/cloud/cloud.cfg.d/99_herd_bootfs.cfg,
# which also sets the default locale to C.UTF-8, see there).
#
# Caching (under $HERD_CACHE, default /var/cache/herd-test):
#   rootfs-VARIANT-KEY.tar.zst   the debootstrap result; KEY hashes the
#                                package list, the mirror and the code of
#                                build_rootfs(), so it survives edits to the
#                                packing code below
#   boot-VARIANT-KEY2.img        the packed image (sparse); KEY2 also
#                                hashes this whole script
#   debs/                        downloaded packages (debootstrap --cache-dir)
# A warm run only copies the cached image (sparse).  Building needs root
# (debootstrap, and tar to keep ownership); without root and without a
# cached image the script exits 77.
#
# Usage: make-boot-image.sh OUT [plain|cloud-init]
set -euo pipefail

out=${1:?usage: make-boot-image.sh OUT [plain|cloud-init]}
variant=${2:-plain}
cache=${HERD_CACHE:-/var/cache/herd-test}
mirror=${HERD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
disk_id=6b0a7d01

packages=(systemd-sysv udev openssh-server linux-image-amd64 iproute2 sudo tzdata)
case $variant in
plain) ;;
cloud-init)
	# debootstrap does not resolve virtual packages: python3-cryptography
	# needs python3-cffi-backend-api-*, which python3-cffi-backend provides.
	# cloud-init's locale module fails without locale-gen (locales), as
	# on no real Raspberry Pi OS image.
	packages+=(cloud-init python3-cffi-backend locales)
	;;
*)
	echo "make-boot-image: unknown variant '$variant' (plain or cloud-init)" >&2
	exit 2
	;;
esac

log() { echo "make-boot-image: $*" >&2; }

# build_rootfs DIR — debootstrap into DIR and make it small and bootable
# under qemu.  Everything here needs a chroot; plain file edits are in
# configure_tree so they do not invalidate the (slow) rootfs cache.
build_rootfs() {
	local r=$1
	mkdir -p "$cache/debs"
	debootstrap --variant=minbase --arch=amd64 --cache-dir="$cache/debs" \
		--include="$(
			IFS=,
			echo "${packages[*]}"
		)" "$suite" "$r" "$mirror" >"$r.log" 2>&1 || {
		tail -30 "$r.log" >&2
		return 1
	}
	# A small initramfs: only what a virtio disk needs (MODULES=most
	# makes a 30 MiB one that TCG takes seconds to unpack).
	printf 'MODULES=list\n' >"$r/etc/initramfs-tools/conf.d/herd-boot-test"
	printf '%s\n' virtio_pci virtio_blk virtio_net ext4 crc32c_generic >>"$r/etc/initramfs-tools/modules"
	chroot "$r" update-initramfs -u -k all >>"$r.log" 2>&1
	chroot "$r" systemctl enable systemd-networkd.service >>"$r.log" 2>&1
	# No waiting for "network online" on a one-NIC test machine.
	chroot "$r" systemctl disable systemd-networkd-wait-online.service >>"$r.log" 2>&1 || true
	rm -rf "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* "$r"/usr/share/doc/* \
		"$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/*
	local mods
	for mods in "$r"/lib/modules/*/kernel; do
		rm -rf "$mods"/sound "$mods"/drivers/{gpu,media,infiniband,staging,net/wireless,isdn,bluetooth}
	done
	rm -f "$r.log"
}

# configure_tree DIR — the files that make it a Raspberry-Pi-like image.
configure_tree() {
	local r=$1
	echo raspberrypi >"$r/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\traspberrypi\n' \
		>"$r/etc/hosts"
	mkdir -p "$r/boot/firmware"
	cat >"$r/etc/fstab" <<EOT
proc            /proc           proc    defaults          0       0
PARTUUID=$disk_id-01  /boot/firmware  vfat    defaults          0       2
PARTUUID=$disk_id-02  /               ext4    defaults,noatime  0       1
EOT
	cat >"$r/etc/systemd/network/20-wired.network" <<'EOT'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOT
	# Debian starts gettys on tty2-6 when there is no logind over D-Bus;
	# nobody looks at them in a headless VM.
	ln -sf /dev/null "$r/etc/systemd/system/getty-static.service"
	if [ "$variant" = cloud-init ]; then
		cat >"$r/etc/cloud/cloud.cfg.d/99_herd_bootfs.cfg" <<'EOT'
# The NoCloud seed lives on the boot partition (label bootfs), as with
# Raspberry Pi Imager, not on a separate CIDATA volume.
datasource_list: [ NoCloud, None ]
datasource:
  NoCloud:
    fs_label: bootfs
# Debian's default (en_US.UTF-8) is not generated in a minimal tree, and
# cc_locale's update-locale then fails the whole config stage; a seed's
# own locale: still wins.
locale: C.UTF-8
EOT
	fi
}

# pack DIR OUT — MBR + FAT32 boot (kernel, initrd, cmdline.txt,
# config.txt) + ext4 root made with mke2fs -d, all at offsets in one file.
pack() {
	local r=$1 img=$2 work=$3
	local boot_start=8192 boot_sectors=$((512 * 2048)) root_mib root_start root_sectors
	root_mib=$(du -sm "$r" | cut -f1)
	root_mib=$(((root_mib * 13 / 10 + 512 + 63) / 64 * 64))
	root_start=$((boot_start + boot_sectors))
	root_sectors=$((root_mib * 2048))
	rm -f "$img"
	truncate -s $(((root_start + root_sectors) * 512)) "$img"
	sfdisk --quiet "$img" <<EOT
label: dos
label-id: 0x$disk_id
start=$boot_start, size=$boot_sectors, type=c
start=$root_start, size=$root_sectors, type=83
EOT
	mkfs.fat -F 32 -n bootfs -i "${disk_id^^}" --offset "$boot_start" "$img" $((boot_sectors / 2)) \
		>"$work/mkfs.log" 2>&1 || {
		cat "$work/mkfs.log" >&2
		return 1
	}
	local kernel initrd
	kernel=$(find "$r/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -1)
	initrd=$(find "$r/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -1)
	[ -n "$kernel" ] && [ -n "$initrd" ] || {
		log "no kernel or initrd in $r/boot"
		return 1
	}
	cp "$kernel" "$work/vmlinuz"
	cp "$initrd" "$work/initrd.img"
	# mitigations=off: Spectre/Meltdown workarounds only slow an emulated CPU.
	printf 'console=ttyS0,115200 root=PARTUUID=%s-02 rootfstype=ext4 fsck.repair=yes rootwait mitigations=off\n' \
		"$disk_id" >"$work/cmdline.txt"
	printf '# herd boot-test image: qemu plays the firmware (kernel=vmlinuz initramfs initrd.img)\n[all]\n' \
		>"$work/config.txt"
	MTOOLS_SKIP_CHECK=1 mcopy -i "$img@@$((boot_start * 512))" "$work/vmlinuz" "$work/initrd.img" \
		"$work/cmdline.txt" "$work/config.txt" ::/
	mke2fs -F -q -t ext4 -b 4096 -L rootfs -E offset=$((root_start * 512)) -d "$r" \
		"$img" $((root_sectors / 2))K
}

hash() { sha256sum | cut -c1-16; }
rootfs_key=$({
	declare -f build_rootfs
	printf '%s\n' "$suite" "$mirror" "${packages[@]}"
} | hash)
image_key=$({
	cat "$0"
	echo "$rootfs_key"
} | hash)
tarball=$cache/rootfs-$variant-$rootfs_key.tar.zst
cached_img=$cache/boot-$variant-$image_key.img

if [ ! -f "$cached_img" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		log "building the $variant image needs root (debootstrap); no cached $cached_img"
		exit 77
	fi
	mkdir -p "$cache"
	work=$(mktemp -d "${TMPDIR:-/tmp}/herd-bootimg.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	if [ ! -f "$tarball" ]; then
		log "debootstrap $suite ($variant: ${packages[*]}) — takes a few minutes once"
		start=$SECONDS
		build_rootfs "$work/root"
		tar -C "$work/root" --numeric-owner -I 'zstd -T0 -3' -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		log "rootfs cached as $tarball ($((SECONDS - start)) s)"
	else
		mkdir "$work/root"
		tar -C "$work/root" --numeric-owner -I zstd -xf "$tarball"
	fi
	configure_tree "$work/root"
	pack "$work/root" "$work/image" "$work"
	mv "$work/image" "$cached_img.tmp"
	mv "$cached_img.tmp" "$cached_img"
	# Older images of this variant are stale now.
	find "$cache" -maxdepth 1 -name "boot-$variant-*.img" ! -name "${cached_img##*/}" -delete
	find "$cache" -maxdepth 1 -name "rootfs-$variant-*.tar.zst" ! -name "${tarball##*/}" -delete
fi
cp --sparse=always "$cached_img" "$out"
echo "$out: $variant boot image (MBR $disk_id, FAT32 bootfs, ext4 rootfs)"
