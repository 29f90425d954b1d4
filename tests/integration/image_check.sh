#!/bin/bash
# image_check.sh — `herd image check` as an unprivileged user: a sample
# image and one customized for red01 are clean (herd's checks, fsck.fat -n
# and e2fsck -fn), red01's settings are present and red02's are not; the
# checks that must fail do: authorized_keys chmod 0644 with debugfs, the
# 127.0.1.1 line removed, a keyfile made world-readable, broken YAML put
# in user-data with mtools, a FAT FSInfo free count changed with dd; --json
# is an array of the same lines; the check never changes the image.
. "$(dirname "$0")/lib.sh"

img=$WORK/base.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null || { fail "sample image"; finish; exit; }
root_off=$(part_offset "$img" 2)
boot_off=$(part_offset "$img" 1)
ssh-keygen -q -t ed25519 -N '' -C 'me@laptop' -f "$WORK/key" || fail "ssh-keygen"
printf 'correct horse battery\n' >"$WORK/wifi.psk"
cat >"$WORK/fleet.yaml" <<'EOT'
defaults:
  ssh: { enabled: true, authorized_keys: [key.pub], password_auth: false }
  wifi: { ssid: lab, psk_file: wifi.psk, country: DE }
  timezone: Europe/Berlin
  config.set: [dtparam=audio=off]
  cmdline.set: [quiet]
  systemd.enable: [nftables]
hosts:
  red01:
    ipaddr: 10.1.1.11/24
  red02:
    ipaddr: 10.1.1.12/24
EOT
chmod a+r "$WORK"/*

expect_status 0 herd_user image check "$img"
[ -z "$OUT" ] || fail "clean image printed problems: $OUT"

good=$WORK/red01.img
cp --sparse=always "$img" "$good" && chmod a+rw "$good"
expect_status 0 herd_user --quiet customize "$good" --config "$WORK/fleet.yaml" --host red01
sum=$(sha256sum <"$good")
expect_status 0 herd_user image check "$good" --config "$WORK/fleet.yaml" --host red01
[[ $ERR == *"ok (settings present)"* ]] || fail "no ok line: $ERR"
[ "$(sha256sum <"$good")" = "$sum" ] || fail "image check changed the image"

# Another host's settings are not there: one line per differing file.
expect_status 1 herd_user image check "$good" --config "$WORK/fleet.yaml" --host red02
grep -q '^hostname: root:/etc/hostname: content differs' <<<"$OUT" || fail "red02: hostname not reported: $OUT"
grep -q '^ipaddr: root:/etc/NetworkManager/system-connections/eth0.nmconnection' <<<"$OUT" ||
	fail "red02: address not reported: $OUT"
[[ $ERR == "herd: $good: "*" problems" ]] || fail "summary line: $ERR"

# corrupt NAME CMD... — copy of the good image, CMD changes it, then the
# check must report a line containing FRAGMENT.
corrupt() {
	local fragment=$1
	shift
	cp --sparse=always "$good" "$WORK/bad.img" && chmod a+rw "$WORK/bad.img"
	"$@" >/dev/null 2>&1 || fail "corrupting with $*"
	expect_status 1 herd_user image check "$WORK/bad.img" --config "$WORK/fleet.yaml" --host red01
	grep -qF -- "$fragment" <<<"$OUT" || fail "'$fragment' not reported: $OUT"
}
dbgw() { debugfs -w -R "$1" "$WORK/bad.img?offset=$root_off"; }
# The boot-partition edits and unit links are settings too.
corrupt "config.set: boot:/config.txt: 'dtparam=audio=off' missing" \
	"$HERD" customize "$WORK/bad.img" --config-txt-remove dtparam=audio
corrupt "systemd.enable: root:/etc/systemd/system/sysinit.target.wants/nftables.service: symlink missing" \
	dbgw "rm /etc/systemd/system/sysinit.target.wants/nftables.service"
corrupt "root: /home/pi/.ssh/authorized_keys: mode 0644, want 0600" \
	dbgw "sif /home/pi/.ssh/authorized_keys mode 0100644"
corrupt "ssh.authorized_keys: root:/home/pi/.ssh/authorized_keys: mode 0644, want 0600" \
	dbgw "sif /home/pi/.ssh/authorized_keys mode 0100644"
corrupt "root: /home/pi/.ssh: mode 0755, want 0700" dbgw "sif /home/pi/.ssh mode 040755"
corrupt "NetworkManager ignores keyfiles" \
	dbgw "sif /etc/NetworkManager/system-connections/eth0.nmconnection mode 0100644"
printf '127.0.0.1\tlocalhost\n' >"$WORK/hosts"
corrupt "root: /etc/hosts: no 127.0.1.1 line for red01" \
	bash -c "debugfs -w -R 'rm /etc/hosts' '$WORK/bad.img?offset=$root_off' && debugfs -w -R 'write $WORK/hosts /etc/hosts' '$WORK/bad.img?offset=$root_off'"
printf '#cloud-config\nusers: [\n' >"$WORK/user-data"
corrupt "boot: /user-data: not valid YAML" mcopy -o -i "$WORK/bad.img@@$boot_off" "$WORK/user-data" ::/user-data
# FSInfo (sector 1 of the boot partition) free count at byte 488 → 1.
corrupt "boot: FAT: FSInfo says 1 free clusters" \
	bash -c "printf '\\001\\000\\000\\000' | dd of='$WORK/bad.img' bs=1 seek=$((boot_off + 512 + 488)) conv=notrunc status=none"
# fsck.fat, the independent witness, agrees on that one.
if command -v fsck.fat >/dev/null || [ -x /sbin/fsck.fat ] || [ -x /usr/sbin/fsck.fat ]; then
	grep -q '^boot: fsck.fat -n: ' <<<"$OUT" || echo "note: fsck.fat -n did not flag the FSInfo count" >&2
fi

# --json: the same lines as an array.
cp --sparse=always "$good" "$WORK/bad.img" && chmod a+rw "$WORK/bad.img"
dbgw "sif /home/pi/.ssh/authorized_keys mode 0100644" >/dev/null 2>&1
expect_status 1 herd_user --json image check "$WORK/bad.img"
python3 -c "import json,sys; a=json.loads(sys.argv[1]); assert a==['root: /home/pi/.ssh/authorized_keys: mode 0644, want 0600'], a" "$OUT" ||
	fail "--json: $OUT"

# Bad input.
expect_error 1 "nope.img" herd_user image check "$WORK/nope.img"
expect_error 2 "--host" herd_user image check "$good" --config "$WORK/fleet.yaml"
expect_error 2 "missing IMAGE" herd_user image check
finish
