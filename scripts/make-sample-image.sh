#!/bin/bash
# make-sample-image.sh — build a Raspberry-Pi-OS-layout sample image with
# the standard tools, as any user, no loop devices:
#
#   MBR (disk id fixed) │ p1 FAT32 "bootfs" at 4 MiB │ p2 ext4 "rootfs"
#
# The boot partition holds config.txt, cmdline.txt (root=PARTUUID=…-02)
# and dummy firmware files; the root filesystem a small Debian-like tree:
# os-release of bookworm, /etc/rpi-issue, passwd/group/shadow with a first
# user, /etc/skel, zoneinfo for a few zones, NetworkManager and sshd
# directories, a few systemd unit files under /lib/systemd/system.  It is the built-in default image for the demo, the tests
# and the benchmarks.  It does not boot (no kernel): the qemu boot test
# builds its own image from debootstrap.
#
# Usage: make-sample-image.sh OUT [SIZE] [FILL] [BOOT_MIB]
#   SIZE  total image size for truncate (default 1G)
#   FILL  MiB of incompressible data files under /opt/data in root (default 0),
#         to give benchmarks a realistic used fraction
#   BOOT_MIB  boot partition size (default 512, as Raspberry Pi OS); tests use
#         64 to keep images small (then with 512-byte clusters, so FAT32
#         still has more than 65525 of them and every tool agrees it is FAT32)
set -euo pipefail

out=${1:?usage: make-sample-image.sh OUT [SIZE] [FILL]}
size=${2:-1G}
fill=${3:-0}
boot_mib=${4:-512} # 512: as Raspberry Pi OS bookworm and later
cluster_opt=()
[ "$boot_mib" -lt 512 ] && cluster_opt=(-s 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -f "$out"
truncate -s "$size" "$out"
total=$(stat -c %s "$out")
boot_start=8192 # sectors: 4 MiB, as Raspberry Pi OS
boot_sectors=$((boot_mib * 2048))
root_start=$((boot_start + boot_sectors))
root_sectors=$((total / 512 - root_start))
if [ "$root_sectors" -lt 65536 ]; then
	echo "make-sample-image: $size is too small (need > $((boot_mib + 36)) MiB)" >&2
	exit 1
fi

sfdisk --quiet "$out" <<EOT
label: dos
label-id: 0x5e3da9a1
start=$boot_start, size=$boot_sectors, type=c
start=$root_start, size=$root_sectors, type=83
EOT

# Boot partition: FAT32 written in place at its offset.
# mkfs.fat warns about the lowercase label (Raspberry Pi OS uses it) and the
# explicit size; only a failure matters.
mkfs.fat -F 32 "${cluster_opt[@]}" -n bootfs -i 5E3DA9A1 --offset "$boot_start" "$out" $((boot_sectors / 2)) \
	>"$work/mkfs.log" 2>&1 || { cat "$work/mkfs.log" >&2; exit 1; }
export MTOOLS_SKIP_CHECK=1
boot="$out@@$((boot_start * 512))"
printf '# Sample config.txt\narm_64bit=1\ndtparam=audio=on\ncamera_auto_detect=1\ndisplay_auto_detect=1\n[all]\n' >"$work/config.txt"
printf 'console=serial0,115200 console=tty1 root=PARTUUID=5e3da9a1-02 rootfstype=ext4 fsck.repair=yes rootwait\n' >"$work/cmdline.txt"
head -c 65536 /dev/zero | tr '\0' 'k' >"$work/kernel8.img"
head -c 4096 /dev/zero | tr '\0' 'b' >"$work/bcm2711-rpi-4-b.dtb"
mcopy -i "$boot" "$work/config.txt" "$work/cmdline.txt" "$work/kernel8.img" \
	"$work/bcm2711-rpi-4-b.dtb" ::/
mmd -i "$boot" ::/overlays
printf 'overlay\n' >"$work/README"
mcopy -i "$boot" "$work/README" ::/overlays/README

# Root filesystem tree.
r=$work/root
mkdir -p "$r"/{etc/skel,etc/ssh/sshd_config.d,etc/NetworkManager/system-connections,etc/default}
mkdir -p "$r"/{home/pi,root,boot/firmware,usr/share/zoneinfo/Europe,usr/share/zoneinfo/America,var/lib,tmp,opt}
cat >"$r/etc/os-release" <<'EOT'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
EOT
echo "Raspberry Pi reference 2025-10-01 (herd sample image)" >"$r/etc/rpi-issue"
echo raspberrypi >"$r/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\traspberrypi\n' >"$r/etc/hosts"
cat >"$r/etc/passwd" <<'EOT'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
pi:x:1000:1000:,,,:/home/pi:/bin/bash
EOT
cat >"$r/etc/group" <<'EOT'
root:x:0:
adm:x:4:pi
sudo:x:27:pi
video:x:44:pi
pi:x:1000:
EOT
printf 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\npi:*:19000:0:99999:7:::\n' >"$r/etc/shadow"
printf 'XKBMODEL="pc105"\nXKBLAYOUT="gb"\n' >"$r/etc/default/keyboard"
printf 'LANG=en_GB.UTF-8\n' >"$r/etc/default/locale"
echo 'Etc/UTC' >"$r/etc/timezone"
printf '# ~/.bashrc\n' >"$r/etc/skel/.bashrc"
printf 'Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n' >"$r/etc/ssh/sshd_config"
# systemd unit files as Debian ships them (trimmed to what `systemctl
# enable` reads: the [Install] sections), for the systemd.*, firewall and
# WireGuard settings: an Alias (ssh), a non-default target (nftables), a
# template with and without DefaultInstance (getty@, wg-quick@), Also=
# (avahi-daemon) and a static unit without [Install] (systemd-journald).
u=$r/lib/systemd/system
mkdir -p "$u" "$r/etc/systemd/system"
printf '[Unit]\nDescription=OpenBSD Secure Shell server\n\n[Service]\nExecStart=/usr/sbin/sshd -D\n\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n' >"$u/ssh.service"
printf '[Unit]\nDescription=nftables\nDefaultDependencies=no\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/sbin/nft -f /etc/nftables.conf\n\n[Install]\nWantedBy=sysinit.target\n' >"$u/nftables.service"
printf '[Unit]\nDescription=WireGuard via wg-quick(8) for %%I\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/wg-quick up %%i\n\n[Install]\nWantedBy=multi-user.target\n' >"$u/wg-quick@.service"
printf '[Unit]\nDescription=Getty on %%I\n\n[Service]\nExecStart=-/sbin/agetty -o \x27-p -- \\\\u\x27 --noclear - $TERM\n\n[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n' >"$u/getty@.service"
printf '[Unit]\nDescription=Avahi mDNS/DNS-SD Stack\n\n[Service]\nExecStart=/usr/sbin/avahi-daemon -s\n\n[Install]\nWantedBy=multi-user.target\nAlso=avahi-daemon.socket\nAlias=dbus-org.freedesktop.Avahi.service\n' >"$u/avahi-daemon.service"
printf '[Unit]\nDescription=Avahi mDNS/DNS-SD Stack Activation Socket\n\n[Socket]\nListenStream=/run/avahi-daemon/socket\n\n[Install]\nWantedBy=sockets.target\n' >"$u/avahi-daemon.socket"
printf '[Unit]\nDescription=Journal Service\n\n[Service]\nExecStart=/lib/systemd/systemd-journald\n' >"$u/systemd-journald.service"
for z in Europe/Berlin Europe/London America/New_York; do
	if [ -f "/usr/share/zoneinfo/$z" ]; then
		cp "/usr/share/zoneinfo/$z" "$r/usr/share/zoneinfo/$z"
	else
		printf 'TZif2 placeholder for %s\n' "$z" >"$r/usr/share/zoneinfo/$z"
	fi
done
mkdir -p "$r/usr/share/zoneinfo/Etc" && printf 'TZif2 UTC\n' >"$r/usr/share/zoneinfo/Etc/UTC"
ln -s ../usr/share/zoneinfo/Etc/UTC "$r/etc/localtime"
if [ "$fill" -gt 0 ]; then
	mkdir -p "$r/opt/data"
	for ((i = 0; i < fill; i += 16)); do
		n=$((fill - i < 16 ? fill - i : 16))
		head -c $((n * 1048576)) /dev/urandom >"$r/opt/data/blob$i.bin"
	done
fi
chmod 0640 "$r/etc/shadow"
chmod 0700 "$r/root"
chmod 1777 "$r/tmp"

mke2fs -F -q -t ext4 -b 4096 -L rootfs -U 0b6a8f2e-5d41-4e0c-9c53-6f0e2a1d7c11 \
	-E offset=$((root_start * 512)) -d "$r" "$out" $((root_sectors / 2))K
# Ownership as on a real image: mke2fs -d copies the builder's uid/gid, so
# set root:root everywhere and pi's home to 1000:1000 with debugfs.
{
	(cd "$r" && find . -mindepth 1) | while read -r p; do
		printf 'sif "%s" uid 0\nsif "%s" gid 0\n' "${p#.}" "${p#.}"
	done
	printf 'sif /home/pi uid 1000\nsif /home/pi gid 1000\n'
} >"$work/owners.cmd"
debugfs -w -f "$work/owners.cmd" "$out?offset=$((root_start * 512))" >/dev/null 2>"$work/debugfs.log" ||
	{ cat "$work/debugfs.log" >&2; exit 1; }
echo "$out: $(numfmt --to=iec "$total") sample image (MBR, FAT32 bootfs, ext4 rootfs)"
