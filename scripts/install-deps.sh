#!/bin/bash
# install-deps.sh — install every Debian package herd needs to build, run
# and test, idempotently.  Run as root on Debian 12 (bookworm).  Packages
# already present are not touched; apt-get update runs only when something
# is missing, so a second run takes well under a second.
#
# Groups (keep in step with meson.build and the tests):
#   build    compilers, meson, the libraries libherd links
#   test     cmocka, clang's libFuzzer runtime, and the independent tools
#            the integration tests use as witnesses (debootstrap and
#            qemu-system-x86 for the boot test, tests/integration/boot.sh;
#            the iPXE ROMs and a Debian kernel in /boot, which
#            tests/integration/ipxe.sh PXE-boots from herd serve)
#   bench    the anchors bench/ compares against that the tests do not
#            need (only with --bench: they are large)
set -euo pipefail

build=(
	build-essential meson ninja-build pkg-config clang lld libclang-rt-14-dev
	clang-format scdoc
	libfyaml-dev libjansson-dev libext2fs-dev comerr-dev zlib1g-dev
	liblzma-dev libzstd-dev libarchive-dev libcurl4-openssl-dev libssl-dev
	libcrypt-dev libsqlite3-dev libmicrohttpd-dev libssh-dev libudev-dev
	libblkid-dev libsquashfs-dev
)
test=(
	libcmocka-dev dosfstools mtools e2fsprogs fdisk gdisk util-linux
	xz-utils zstd gzip bzip2 zip coreutils procps mount python3
	openssh-client bmap-tools
	busybox isc-dhcp-client kea-admin dnsmasq-base iproute2
	tftp-hpa atftp curl nftables
	python3-yaml
	debootstrap qemu-system-x86 ipxe-qemu linux-image-amd64
)
bench=(
	libguestfs-tools
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (it calls apt-get)" >&2
	exit 1
fi

want=("${build[@]}" "${test[@]}")
if [ "${1:-}" = "--bench" ]; then
	want+=("${bench[@]}")
fi
missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#want[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
