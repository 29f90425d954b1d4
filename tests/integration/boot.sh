#!/bin/bash
# boot.sh — issue 4's "It boots": a herd-customized image really boots
# and the settings hold on the running system.
#
# scripts/make-boot-image.sh builds (once, cached) a Raspberry-Pi-layout
# image of a debootstrapped Debian 12 with systemd and openssh-server and
# no first user.  herd customizes a copy as an unprivileged user:
# hostname red07, user pi (created, uid 1000) with a fresh ed25519 key,
# key-only login, timezone Europe/Berlin, and two files — the sudoers
# drop-in Raspberry Pi OS ships (0440 root:root; sudo ignores it if the
# mode or owner is wrong) and a data file (0640 pi:pi).  qemu-system-x86_64
# (TCG) then boots it the way a Pi's firmware does: kernel, initramfs and
# cmdline.txt come from the image's own boot partition.  Over ssh with the
# injected key (QEMU user networking, 127.0.0.1:PORT) the test asserts:
#
#   hostname                   = red07; red07 resolves to 127.0.1.1 (/etc/hosts)
#   id pi                      uid 1000, primary group pi (gid 1000), the
#                              first-user groups (adm, sudo, video, ...) that
#                              exist in the image, login shell /bin/bash
#   ~pi/.ssh/authorized_keys   0600 pi:pi
#   sudo -n id -u              0 (the drop-in is honoured: mode and owner right)
#   time zone                  /etc/localtime -> /usr/share/zoneinfo/Europe/Berlin,
#                              /etc/timezone, date +%Z is CET or CEST
#   files                      exact content, mode and owner (stat -c)
#   password login             refused, and the server offers publickey only
#                              ("Permission denied (publickey)."); Debian's
#                              default would also offer password
#
# Then the same on the cloud-init variant of the image with
# `--firstboot cloud-init` (the NoCloud seed on the boot partition; the
# image's cloud-init looks for it on the filesystem labelled bootfs, as
# Raspberry Pi OS does), plus `cloud-init status` = done.  That half skips
# with a message while `herd customize --help` has no --firstboot.
#
# The VM is powered off over ssh (sudo poweroff), killed if it has not
# stopped after 60 s, and always killed on exit.  Exit 77 (skipped) without
# qemu, or without root when no image is cached.  Under sanitizers
# (HERD_SANITIZE set by meson, not "none") herd's part runs on both images
# but the VMs are not booted: the debug build already boots them, and TCG
# boots are the slow part (HERD_BOOT_ALWAYS=1 boots anyway).
#
# Environment: HERD_BOOT_HALVES ("offline cloud-init", the default, or
# one of them), HERD_BOOT_TIMEOUT (seconds to wait for sshd, default 600),
# HERD_BOOT_REFERENCE_SEED=1 (the cloud-init half boots a seed written by
# this script instead of herd's: checks the image and the assertions),
# HERD_CACHE (where make-boot-image.sh keeps its images).
. "$(dirname "$0")/lib.sh"

qemu_pid=
cleanup() {
	if [ -n "$qemu_pid" ]; then
		kill "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT # meson's timeout: still stop qemu (the EXIT trap)

boot_vms=1
if [ "${HERD_SANITIZE:-none}" != none ] && [ "${HERD_BOOT_ALWAYS:-0}" != 1 ]; then
	echo "boot: sanitizer build ($HERD_SANITIZE): customizing only, not booting"
	boot_vms=0
fi
if [ "$boot_vms" = 1 ] && ! command -v qemu-system-x86_64 >/dev/null; then
	echo "skipped: qemu-system-x86_64 not installed (scripts/install-deps.sh)"
	exit 77
fi
# Seconds from qemu start to sshd answering: six minutes under a load of
# 17 on two cores.
boot_timeout=${HERD_BOOT_TIMEOUT:-600}

# The fleet file: everything the acceptance test names.  ssh.password_auth
# and files have no command-line flag; the fleet file is the one place
# every setting can be given.
ssh-keygen -q -t ed25519 -N '' -C 'herd-boot-test' -f "$WORK/key" || {
	fail "ssh-keygen"
	finish
	exit
}
data_text='hello from herd'
cat >"$WORK/fleet.yaml" <<EOT
defaults:
  user: pi
  ssh: { enabled: true, authorized_keys: [key.pub], password_auth: false }
  timezone: Europe/Berlin
  files:
    - path: /etc/sudoers.d/010_pi-nopasswd
      content: "pi ALL=(ALL) NOPASSWD: ALL\n"
      mode: "0440"
      owner: "root:root"
    - path: /opt/herd/boot-test.txt
      content: "$data_text\n"
      mode: "0640"
      owner: "pi:pi"
hosts:
  red07: {}
EOT
chmod a+r "$WORK/fleet.yaml" "$WORK/key.pub"

ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o ConnectTimeout=10 -o BatchMode=yes)
port=
# vm_ssh CMD... — run CMD on the VM as pi with the injected key.
vm_ssh() {
	ssh "${ssh_opts[@]}" -i "$WORK/key" -p "$port" pi@127.0.0.1 "$@"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The groups herd gives a created first user: its list, where the
# (customized, not yet booted) image has the group (src/libherd/recipe/users.c, first_user_groups).
first_user_groups() {
	local off g
	off=$(part_offset "$1" 2)
	debugfs -R 'cat /etc/group' "$1?offset=$off" 2>/dev/null | cut -d: -f1 >"$WORK/groups"
	for g in adm dialout cdrom sudo audio video plugdev games users input render netdev gpio i2c spi; do
		grep -qx "$g" "$WORK/groups" && printf '%s\n' "$g"
	done
}

# boot_vm NAME IMG — start qemu on IMG the way the firmware would (kernel,
# initrd and cmdline.txt from the boot partition) and wait for sshd.
boot_vm() {
	local name=$1 img=$2 boot_off start=$SECONDS
	boot_off=$(part_offset "$img" 1)
	mcopy -n -i "$img@@$boot_off" ::/vmlinuz ::/initrd.img ::/cmdline.txt "$WORK/" || {
		fail "$name: no vmlinuz/initrd.img/cmdline.txt on the boot partition"
		return 1
	}
	port=$(free_port)
	qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -m 1024 -smp 2 \
		-display none -monitor none -serial "file:$WORK/$name.console" -no-reboot \
		-kernel "$WORK/vmlinuz" -initrd "$WORK/initrd.img" -append "$(cat "$WORK/cmdline.txt")" \
		-drive "file=$img,format=raw,if=virtio" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" \
		-device virtio-net-pci,netdev=n0,romfile= \
		</dev/null >"$WORK/$name.qemu" 2>&1 &
	qemu_pid=$!
	while ! vm_ssh true 2>/dev/null; do
		if ! kill -0 "$qemu_pid" 2>/dev/null; then
			fail "$name: qemu exited before sshd answered: $(cat "$WORK/$name.qemu")"
			qemu_pid=
			console_tail "$name"
			return 1
		fi
		if [ $((SECONDS - start)) -ge "$boot_timeout" ]; then
			fail "$name: no ssh login within $boot_timeout s"
			console_tail "$name"
			return 1
		fi
		sleep 3
	done
	echo "boot: $name: ssh login $((SECONDS - start)) s after qemu started"
}

console_tail() {
	echo "---- last lines of the $1 serial console ----" >&2
	tail -40 "$WORK/$1.console" | tr -d '\r' >&2
}

# stop_vm NAME — poweroff through sudo; kill after 60 s.
stop_vm() {
	local t=0
	[ -n "$qemu_pid" ] || return 0
	vm_ssh 'sudo -n systemctl poweroff' >/dev/null 2>&1 || true
	while kill -0 "$qemu_pid" 2>/dev/null && [ $t -lt 60 ]; do
		sleep 1
		t=$((t + 1))
	done
	if kill -0 "$qemu_pid" 2>/dev/null; then
		echo "boot: $1: still running 60 s after poweroff; killing qemu"
		kill "$qemu_pid" 2>/dev/null
	fi
	wait "$qemu_pid" 2>/dev/null
	qemu_pid=
}

# want LABEL GOT WANT — one assertion on the running system.
want() {
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$2" = "$3" ] || fail "$label: $1: got '$2', want '$3'"
}

# check_vm NAME exact|subset — every assertion, from one ssh session's report.
check_vm() {
	local label=$1 groups report
	report=$(vm_ssh 'set +e
		# cloud-init may still be in its final stage when sshd answers (and
		# `status --wait` returns at the first error): wait for the final
		# stage to finish (boot-finished), then ask.
		if command -v cloud-init >/dev/null; then
			timeout 300 sh -c "until [ -e /var/lib/cloud/instance/boot-finished ]; do sleep 2; done"
			echo "cloud_init=$(cloud-init status | sed -n "s/^status: //p")"
		fi
		echo "hostname=$(hostname)"
		echo "hosts=$(getent hosts red07 | cut -d" " -f1)"
		echo "uid=$(id -u pi) gid=$(id -g pi) group=$(id -gn pi)"
		echo "groups=$(id -nG pi | tr " " "\n" | sort | tr "\n" " ")"
		echo "shell=$(getent passwd pi | cut -d: -f7)"
		echo "keys=$(stat -c "%a %U:%G" ~/.ssh/authorized_keys)"
		echo "sudo=$(sudo -n id -u 2>&1)"
		echo "localtime=$(readlink /etc/localtime)"
		echo "timezone=$(cat /etc/timezone)"
		echo "zone=$(date +%Z)"
		echo "sudoers=$(sudo -n stat -c "%a %U:%G" /etc/sudoers.d/010_pi-nopasswd)"
		echo "sudoers_text=$(sudo -n base64 -w0 /etc/sudoers.d/010_pi-nopasswd)"
		echo "data=$(stat -c "%a %U:%G" /opt/herd/boot-test.txt)"
		echo "data_text=$(base64 -w0 /opt/herd/boot-test.txt)"
		echo "failed_units=$(sudo -n systemctl --failed --no-legend --plain | cut -d" " -f1 | tr "\n" " ")"
		# What went wrong, when something did (shown, not asserted).
		if command -v cloud-init >/dev/null; then
			sudo -n grep -hE "WARNING|ERROR|Traceback|Error|Command:|Exit code:|Stderr:" /var/log/cloud-init.log |
				tail -25 | sed "s/^/cloud_init_log: /"
		fi
		true' 2>&1)
	echo "boot: $label: report from the VM:"
	sed 's/^/    /' <<<"$report"
	get() { sed -n "s/^$1=//p" <<<"$report" | head -1; }
	want hostname "$(get hostname)" red07
	want "127.0.1.1 line" "$(get hosts)" 127.0.1.1
	want "id pi" "$(sed -n 's/^uid=//p' <<<"$report")" "1000 gid=1000 group=pi"
	groups=$expected_groups
	if [ "$2" = exact ]; then
		want groups "$(get groups)" "$groups"
	else
		local g
		for g in $groups; do
			[[ " $(get groups) " == *" $g "* ]] || fail "$label: pi is not in group $g: $(get groups)"
		done
	fi
	want shell "$(get shell)" /bin/bash
	want authorized_keys "$(get keys)" "600 pi:pi"
	want "sudo -n id -u" "$(get sudo)" 0
	want /etc/localtime "$(get localtime)" /usr/share/zoneinfo/Europe/Berlin
	want /etc/timezone "$(get timezone)" Europe/Berlin
	[[ $(get zone) == CET || $(get zone) == CEST ]] || fail "$label: date +%Z: $(get zone)"
	want "sudoers drop-in" "$(get sudoers)" "440 root:root"
	want "sudoers text (base64)" "$(get sudoers_text)" "$(printf 'pi ALL=(ALL) NOPASSWD: ALL\n' | base64 -w0)"
	want "data file" "$(get data)" "640 pi:pi"
	want "data text (base64)" "$(get data_text)" "$(printf '%s\n' "$data_text" | base64 -w0)"
	if [ "$2" = subset ]; then
		want "cloud-init status" "$(get cloud_init)" "done"
	fi
	if [ -n "$(get failed_units)" ]; then
		echo "boot: $label: note: failed units: $(get failed_units)"
	fi
	# Key-only login: the server must offer nothing but publickey.
	local err status
	err=$(ssh "${ssh_opts[@]}" -o PreferredAuthentications=password,keyboard-interactive \
		-o PubkeyAuthentication=no -p "$port" pi@127.0.0.1 true 2>&1)
	status=$?
	TESTS_RUN=$((TESTS_RUN + 1))
	if [ $status -eq 0 ] || [[ $err != *"Permission denied (publickey)."* ]]; then
		fail "$label: password login not refused as publickey-only: $err"
	fi
}

# customize_and_boot NAME VARIANT exact|subset [HERD ARGS...|reference]
customize_and_boot() {
	local name=$1 variant=$2 how=$3 img=$WORK/$1.img start
	shift 3
	start=$SECONDS
	"$HERD_SOURCE_ROOT/scripts/make-boot-image.sh" "$img" "$variant"
	case $? in
	0) ;;
	77)
		echo "skipped: building the boot image needs root (debootstrap)"
		exit 77
		;;
	*)
		fail "make-boot-image.sh $variant"
		return 1
		;;
	esac
	echo "boot: $name: image ready in $((SECONDS - start)) s"
	chmod a+rw "$img"
	label=$name
	if [ "${1:-}" = reference ]; then
		reference_seed "$img"
	else
		expect_status 0 herd_user customize "$img" --config "$WORK/fleet.yaml" --host red07 \
			--hostname red07 "$@" || return 1
		echo "boot: $name: herd customize: $(tail -1 <<<"$ERR")"
	fi
	ext_clean "$img?offset=$(part_offset "$img" 2)"
	extract_part "$img" 1 "$WORK/boot.fat" && fat_clean "$WORK/boot.fat"
	rm -f "$WORK/boot.fat"
	[ "$boot_vms" = 1 ] || return 0
	# Read before booting: the running system may add groups of its own.
	expected_groups=$( (echo pi && first_user_groups "$img") | sort | tr '\n' ' ')
	start=$SECONDS
	if boot_vm "$name" "$img"; then
		check_vm "$name" "$how"
	fi
	stop_vm "$name"
	echo "boot: $name: booted, checked and stopped in $((SECONDS - start)) s"
	rm -f "$img"
}

# reference_seed IMG — the seed a correct cloud-init backend would write
# (as Raspberry Pi Imager does: user-data + meta-data in the boot
# partition's root), put there with mtools.  Only with
# HERD_BOOT_REFERENCE_SEED=1: it checks the image and the assertions
# themselves, so a failure of the herd half is herd's.
reference_seed() {
	local img=$1 boot_off
	boot_off=$(part_offset "$img" 1)
	cat >"$WORK/user-data" <<EOT
#cloud-config
hostname: red07
manage_etc_hosts: true
users:
  - name: pi
    groups: [adm, dialout, cdrom, sudo, audio, video, plugdev, games, users, input, render, netdev, gpio, i2c, spi]
    shell: /bin/bash
    lock_passwd: true
    ssh_authorized_keys: [ "$(cat "$WORK/key.pub")" ]
ssh_pwauth: false
timezone: Europe/Berlin
write_files:
  - path: /etc/sudoers.d/010_pi-nopasswd
    content: "pi ALL=(ALL) NOPASSWD: ALL\\n"
    permissions: "0440"
    owner: "root:root"
  - path: /opt/herd/boot-test.txt
    content: "$data_text\\n"
    permissions: "0640"
    owner: "pi:pi"
    defer: true
EOT
	printf 'instance-id: red07-reference\nlocal-hostname: red07\n' >"$WORK/meta-data"
	mcopy -o -i "$img@@$boot_off" "$WORK/user-data" "$WORK/meta-data" ::/
}

halves=" ${HERD_BOOT_HALVES:-offline cloud-init} "
if [[ $halves == *" offline "* ]]; then
	customize_and_boot offline plain exact
fi

if [[ $halves != *" cloud-init "* ]]; then
	:
elif [ "${HERD_BOOT_REFERENCE_SEED:-0}" = 1 ]; then
	echo "boot: cloud-init: the test's own reference seed (HERD_BOOT_REFERENCE_SEED=1), not herd's"
	customize_and_boot cloud-init cloud-init subset reference
elif "$HERD" customize --help 2>&1 | grep -q -- '--firstboot'; then
	customize_and_boot cloud-init cloud-init subset --firstboot cloud-init
else
	echo "boot: cloud-init: skipped: needs --firstboot cloud-init (not in this herd yet)"
fi

finish
