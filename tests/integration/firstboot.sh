#!/bin/bash
# firstboot.sh — `herd customize --firstboot cloud-init|firstrun` as an
# unprivileged user, read back with independent tools: mtools for the boot
# files, Python's yaml for the cloud-init seed (user-data, meta-data,
# network-config parse and carry the settings), `sh -n` for firstrun.sh,
# cmdline.txt's systemd words; the root partition byte-identical (only boot
# files change); fsck clean.  Same settings, same result: firstrun.sh run
# against a scratch directory produces exactly the files (content and mode)
# the offline backend writes into the image.
. "$(dirname "$0")/lib.sh"

img=$WORK/base.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null || { fail "sample image"; finish; exit; }
boot_off=$(part_offset "$img" 1)
root_off=$(part_offset "$img" 2)
ssh-keygen -q -t ed25519 -N '' -C 'me@laptop' -f "$WORK/key" || fail "ssh-keygen"
chmod a+r "$WORK"/key.pub
export SOURCE_DATE_EPOCH=1700000000
settings=(--hostname red07 --sshkey "$WORK/key.pub" --ssh --timezone Europe/Berlin
	--keymap de --locale en_GB.UTF-8 --ipaddr 10.1.1.7/24 --gateway 10.1.1.1 --dns 10.1.1.1
	--ssid 'lab "x"' --wifipassword 'correct horse' --wifi-country DE --user alice
	--password-hash '$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1')
bootcat() { mtype -i "$1@@$boot_off" "::/$2"; }
same_root() {
	cmp -s <(tail -c +$((root_off + 1)) "$img") <(tail -c +$((root_off + 1)) "$1") ||
		fail "$2: the root partition changed"
}

# ---- cloud-init ----
ci=$WORK/ci.img
cp --sparse=always "$img" "$ci" && chmod a+rw "$ci"
expect_status 0 herd_user --quiet customize "$ci" --firstboot cloud-init "${settings[@]}"
same_root "$ci" cloud-init
bootcat "$ci" user-data >"$WORK/user-data" || fail "no user-data"
bootcat "$ci" meta-data >"$WORK/meta-data" || fail "no meta-data"
bootcat "$ci" network-config >"$WORK/network-config" || fail "no network-config"
head -1 "$WORK/user-data" | grep -qx '#cloud-config' || fail "user-data lacks #cloud-config"
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$WORK" "$(cat "$WORK/key.pub")" <<'EOP' || fail "cloud-init seed content"
import hashlib, sys, yaml
w, key = sys.argv[1], sys.argv[2]
u = yaml.safe_load(open(w + "/user-data"))
assert u["hostname"] == "red07" and u["manage_etc_hosts"] is True, u
assert u["timezone"] == "Europe/Berlin" and u["locale"] == "en_GB.UTF-8"
assert u["keyboard"] == {"model": "pc105", "layout": "de"}, u["keyboard"]
assert u["enable_ssh"] is True
user = u["users"][0]
assert user["name"] == "alice" and user["passwd"].startswith("$6$saltsalt$")
assert user["ssh_authorized_keys"] == [key], user
assert "sudo" in user["groups"].split(",")
n = yaml.safe_load(open(w + "/network-config"))["network"]
assert n["version"] == 2
assert n["ethernets"]["eth0"]["addresses"] == ["10.1.1.7/24"]
assert n["ethernets"]["eth0"]["routes"] == [{"to": "default", "via": "10.1.1.1"}]
wl = n["wifis"]["wlan0"]
assert wl["regulatory-domain"] == "DE"
psk = hashlib.pbkdf2_hmac("sha1", b"correct horse", b'lab "x"', 4096, 32).hex()
assert wl["access-points"] == {'lab "x"': {"password": psk}}, wl
m = yaml.safe_load(open(w + "/meta-data"))
assert m["instance-id"].startswith("herd-red07-")
EOP
else
	echo "python3-yaml not installed: YAML parse checks skipped" >&2
fi
bootcat "$ci" cmdline.txt | grep -q 'cfg80211.ieee80211_regdom=DE' || fail "cloud-init: no regdom on cmdline"
extract_part "$ci" 1 "$WORK/boot.part" && fat_clean "$WORK/boot.part"
# Again: nothing changes.
sum=$(sha256sum <"$ci")
expect_status 0 herd_user --quiet customize "$ci" --firstboot cloud-init "${settings[@]}"
[ "$(sha256sum <"$ci")" = "$sum" ] || fail "cloud-init: second run changed the image"

# ---- firstrun ----
fr=$WORK/fr.img
cp --sparse=always "$img" "$fr" && chmod a+rw "$fr"
expect_status 0 herd_user --quiet customize "$fr" --firstboot firstrun "${settings[@]}"
same_root "$fr" firstrun
bootcat "$fr" firstrun.sh >"$WORK/firstrun.sh" || fail "no firstrun.sh"
sh -n "$WORK/firstrun.sh" || fail "firstrun.sh is not valid sh"
cmdline=$(bootcat "$fr" cmdline.txt)
[[ $cmdline == *" systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target"* ]] ||
	fail "cmdline.txt: $cmdline"
extract_part "$fr" 1 "$WORK/boot.part" && fat_clean "$WORK/boot.part"

# Same result: run the script with its paths moved under a scratch root
# (everything up to its own cleanup, which targets the real boot files).
off=$WORK/off.img
cp --sparse=always "$img" "$off" && chmod a+rw "$off"
expect_status 0 herd_user --quiet customize "$off" "${settings[@]}"
scratch=$WORK/root
mkdir -p "$scratch"
# The scratch root starts as the image's /etc and /home (directories the
# script expects to exist on the real root).
for d in /etc /home; do debugfs -R "rdump $d $scratch" "$img?offset=$root_off" >/dev/null 2>&1; done
[ -d "$scratch/etc/default" ] || fail "rdump of the sample's /etc"
sed -e '/^rm -f \/boot/,$d' -e "s|'/|'$scratch/|g" "$WORK/firstrun.sh" >"$WORK/replay.sh"
sh "$WORK/replay.sh" 2>"$WORK/replay.err"
for f in /etc/hostname /etc/hosts /home/alice/.ssh/authorized_keys /etc/timezone \
	/etc/default/keyboard /etc/default/locale /etc/passwd /etc/shadow /etc/group \
	/etc/NetworkManager/system-connections/eth0.nmconnection /etc/NetworkManager/system-connections/wlan0.nmconnection; do
	want=$(debugfs -R "cat $f" "$off?offset=$root_off" 2>/dev/null)
	got=$(cat "$scratch$f" 2>/dev/null)
	[ "$want" = "$got" ] || fail "firstrun replay: $f differs from the offline backend"
	wmode=$(debugfs -R "stat $f" "$off?offset=$root_off" 2>/dev/null | sed -n 's/.*Mode: *\(0[0-7]*\).*/\1/p')
	gmode=$(stat -c %04a "$scratch$f" 2>/dev/null)
	[ "$((8#$wmode))" = "$((8#$gmode))" ] || fail "firstrun replay: $f mode $gmode, offline $wmode"
done
[ "$(readlink "$scratch/etc/localtime")" = "$scratch/usr/share/zoneinfo/Europe/Berlin" ] ||
	fail "firstrun replay: /etc/localtime -> $(readlink "$scratch/etc/localtime")"

# Bad backend name.
expect_error 2 "firstrun" herd_user customize "$fr" --firstboot ignition
finish
