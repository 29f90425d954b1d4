#!/bin/bash
# ipxe.sh — acceptance: iPXE (the ROM qemu ships, package ipxe-qemu) in
# qemu-system-x86_64 (TCG) PXE-boots a Linux kernel and an initrd served by
# herd serve (DHCP server mode + TFTP) and the test sees the kernel's first
# console line.  Everything happens in a network namespace the test
# creates: a bridge joining qemu's tap device and a veth pair; herd serves
# on the bridge.
# Skips (77) without root, qemu, the iPXE ROMs or a kernel in /boot — and
# until `herd serve --dhcp server` with --boot-file works.
source "$(dirname "$0")/lib.sh"

skip() {
	echo "ipxe.sh: $*: skipped"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces and tap devices"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
[ -e /usr/lib/ipxe/qemu/efi-e1000.rom ] || [ -e /usr/lib/ipxe/qemu/pxe-e1000.rom ] ||
	skip "iPXE ROMs (package ipxe-qemu) not installed"
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$kernel" ] && [ -r "$kernel" ] || skip "no kernel in /boot to boot"
[ -e /dev/net/tun ] || skip "no /dev/net/tun"
"$HERD" serve --help | grep -q -- '--boot-file' ||
	skip "herd serve has no --boot-file yet (DHCP server mode not merged)"

id=$$$RANDOM
NS=herd-t-$id-q
NS_P=herd-t-$id-p
NET=10.235.$((RANDOM % 200 + 20))
QEMU_PID=
HERD_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	[ -n "$HERD_PID" ] && kill "$HERD_PID" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS_P" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS" && ip netns add "$NS_P" || exit 1
ip -n "$NS" link set lo up
ip -n "$NS" link add br0 type bridge
ip -n "$NS" tuntap add dev tap0 mode tap
ip link add veth-q netns "$NS" type veth peer name veth-p netns "$NS_P"
ip -n "$NS" link set tap0 master br0
ip -n "$NS" link set veth-q master br0
ip -n "$NS" addr add "$NET.1/24" dev br0
for dev in br0 tap0 veth-q; do ip -n "$NS" link set "$dev" up; done
ip -n "$NS_P" link set veth-p up

# The boot tree: an iPXE script (the DHCP boot file), the kernel and a
# tiny initrd (a newc cpio with one file: the kernel unpacks it and then
# panics for want of /init — after the console lines we look for).
chmod 0755 "$WORK"
ROOT=$WORK/root
mkdir -p "$ROOT"
cp "$kernel" "$ROOT/vmlinuz"
python3 - "$ROOT/initrd.img" <<'PY'
import sys
def entry(name, data, mode):
    name = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0))
    out = hdr.encode() + name
    out += b"\0" * ((4 - len(out) % 4) % 4) + data
    return out + b"\0" * ((4 - len(out) % 4) % 4)
blob = entry("hello", b"herd ipxe test\n", 0o100644) + entry("TRAILER!!!", b"", 0)
open(sys.argv[1], "wb").write(blob + b"\0" * ((512 - len(blob) % 512) % 512))
PY
printf '#!ipxe\nkernel vmlinuz console=ttyS0 panic=-1\ninitrd initrd.img\nboot\n' >"$ROOT/boot.ipxe"
chmod -R a+rX "$ROOT"

LOG=$WORK/serve.log
ip netns exec "$NS" "$HERD" serve --interface br0 --dhcp server --range "$NET.100-$NET.150" \
	--boot-file boot.ipxe --tftp-root "$ROOT" 2>"$LOG" &
HERD_PID=$!
for _ in $(seq 50); do
	grep -q "ready on" "$LOG" && break
	if ! kill -0 "$HERD_PID" 2>/dev/null; then
		grep -qi "not implemented" "$LOG" && skip "herd serve --dhcp server: $(tail -n 1 "$LOG")"
		fail "herd serve did not start: $(cat "$LOG")"
		finish
		exit 1
	fi
	sleep 0.1
done

CONSOLE=$WORK/console.log
: >"$CONSOLE"
ip netns exec "$NS" qemu-system-x86_64 -machine accel=tcg -m 512 -display none -monitor none \
	-no-reboot -boot n -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
	-device e1000,netdev=n0,mac=52:54:00:12:34:56 -serial "file:$CONSOLE" &
QEMU_PID=$!

TESTS_RUN=$((TESTS_RUN + 1))
seen=
for _ in $(seq 600); do
	if grep -q "Linux version" "$CONSOLE"; then
		seen=yes
		break
	fi
	kill -0 "$QEMU_PID" 2>/dev/null || break
	sleep 0.5
done
if [ -z "$seen" ]; then
	fail "no kernel console line within 300 s; console: $(tail -c 400 "$CONSOLE"); serve log: $(tail -n 20 "$LOG")"
else
	echo "ipxe.sh: kernel says: $(grep -m1 -a "Linux version" "$CONSOLE" | cut -c1-100)"
fi
TESTS_RUN=$((TESTS_RUN + 1))
grep -q "vmlinuz: sent vmlinuz" "$LOG" || fail "no TFTP log line for the kernel"
TESTS_RUN=$((TESTS_RUN + 1))
grep -q "initrd.img: sent initrd.img" "$LOG" || fail "no TFTP log line for the initrd"
finish
