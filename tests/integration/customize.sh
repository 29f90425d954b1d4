#!/bin/bash
# customize.sh — `herd customize` on a Pi-layout sample image as an
# unprivileged user, read back with independent tools: debugfs (exact
# bytes, mode, owner, link targets) for the ext4 root, mtools for the FAT
# boot partition, e2fsck -fn and fsck.fat -n clean.  The Wi-Fi PSK is
# checked against Python's hashlib PBKDF2.  Also: fleet file + flag
# precedence, idempotency (second run leaves the image byte-identical),
# --dryrun writes nothing, bad input leaves the image untouched, the
# bullseye (dhcpcd) variant, and the unknown-OS warning.
. "$(dirname "$0")/lib.sh"

img=$WORK/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null || { fail "sample image"; finish; exit; }
chmod a+rw "$img"
cp --sparse=always "$img" "$WORK/pristine.img"
off=$(part_offset "$img" 2)
boot_off=$(part_offset "$img" 1)
dbg() { debugfs -R "$1" "$img?offset=$off" 2>/dev/null; }

ssh-keygen -q -t ed25519 -N '' -C 'me@laptop' -f "$WORK/key" || fail "ssh-keygen"
printf 'correct horse battery\n' >"$WORK/wifi.psk"
cat >"$WORK/fleet.yaml" <<'EOT'
defaults:
  user: alice
  password_hash: "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
  ssh: { enabled: true, authorized_keys: [key.pub], password_auth: false }
  wifi: { ssid: lab, psk_file: wifi.psk, country: DE, hidden: true }
  timezone: Europe/Berlin
  locale: de_DE.UTF-8
  keymap: de
  network: { gateway: 10.1.1.1, dns: [10.1.1.1] }
  firstboot: { packages: [htop], run: ["echo hi"] }
  files:
    - path: /etc/motd
      content: "herd node\n"
    - path: /opt/app/app.conf
      content: "x=1\n"
      mode: "0640"
      owner: "alice:video"
hosts:
  red[01-04]:
    ipaddr: 10.1.1.[11-14]
EOT
chmod a+r "$WORK"/*

# expect_cat PATH WANT — debugfs cat of the root file is exactly WANT.
expect_cat() {
	local got
	got=$(dbg "cat $1"; echo x)
	got=${got%x}
	[ "$got" = "$2" ] || { fail "$1: content differs"; diff <(printf '%s' "$2") <(printf '%s' "$got") >&2; }
}
# expect_stat PATH MODE UID GID — debugfs stat mode and owner.
expect_stat() {
	local st
	st=$(dbg "stat $1")
	[[ $st == *"Mode:  $2"* && $st =~ User:\ +$3\ +Group:\ +$4\  ]] ||
		fail "$1: want mode $2 $3:$4, got: $(head -3 <<<"$st" | tr '\n' ' ')"
}
expect_link() {
	local st
	st=$(dbg "stat $1")
	[[ $st == *"Fast link dest: \"$2\""* ]] || fail "$1: want a symlink to $2: $(head -2 <<<"$st" | tr '\n' ' ')"
}

# ---- the full set, fleet file + a flag override ------------------------
expect_status 0 herd_user customize "$img" --config "$WORK/fleet.yaml" --host red02 --hostname red07
[[ $OUT == *"/etc/hostname"* ]] || fail "summary lacks /etc/hostname: $OUT"
[[ $ERR == *"operations changed the image"* ]] || fail "summary line: $ERR"

expect_cat /etc/hostname $'red07\n'
expect_stat /etc/hostname 0644 0 0
expect_cat /etc/hosts $'127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tred07\n'
expect_cat /etc/passwd $'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000:,,,:/home/alice:/bin/bash\n'
expect_cat /etc/group $'root:x:0:\nadm:x:4:alice\nsudo:x:27:alice\nvideo:x:44:alice\nalice:x:1000:\n'
expect_cat /etc/shadow $'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nalice:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1:19000:0:99999:7:::\n'
expect_stat /etc/shadow 0640 0 0
dbg "ls /home" | grep -qw pi && fail "/home/pi still there after the rename"
expect_stat /home/alice 0755 1000 1000
expect_stat /home/alice/.ssh 0700 1000 1000
expect_cat /home/alice/.ssh/authorized_keys "$(cat "$WORK/key.pub")"$'\n'
expect_stat /home/alice/.ssh/authorized_keys 0600 1000 1000
expect_link /etc/systemd/system/multi-user.target.wants/ssh.service /lib/systemd/system/ssh.service
expect_link /etc/systemd/system/sshd.service /lib/systemd/system/ssh.service
expect_cat /etc/ssh/sshd_config.d/herd.conf $'PasswordAuthentication no\n'
expect_stat /etc/ssh/sshd_config.d/herd.conf 0644 0 0
# The PSK, independently: Python's PBKDF2-HMAC-SHA1, 4096 rounds, SSID salt.
psk=$(python3 -c 'import hashlib;print(hashlib.pbkdf2_hmac("sha1",b"correct horse battery",b"lab",4096,32).hex())')
nm=/etc/NetworkManager/system-connections
got=$(dbg "cat $nm/lab.nmconnection")
[[ $got == *$'\nssid=lab\nhidden=true\n'* && $got == *$'\nkey-mgmt=wpa-psk\npsk='"$psk"$'\n'* && $got == *$'type=wifi\n'* ]] ||
	fail "lab.nmconnection: $got"
[[ $got == *"correct horse"* ]] && fail "the clear-text passphrase is in the image"
expect_stat $nm/lab.nmconnection 0600 0 0
got=$(dbg "cat $nm/eth0.nmconnection")
[[ $got == *$'[ipv4]\nmethod=manual\naddress1=10.1.1.12/24,10.1.1.1\ndns=10.1.1.1;\n'* && $got == *$'interface-name=eth0\n'* ]] ||
	fail "eth0.nmconnection: $got"
expect_stat $nm/eth0.nmconnection 0600 0 0
expect_link /etc/localtime /usr/share/zoneinfo/Europe/Berlin
expect_cat /etc/timezone $'Europe/Berlin\n'
expect_cat /etc/default/locale $'LANG=de_DE.UTF-8\n'
expect_cat /etc/locale.gen $'de_DE.UTF-8 UTF-8\n'
expect_cat /etc/default/keyboard $'XKBMODEL="pc105"\nXKBLAYOUT="de"\nXKBVARIANT=""\n'
expect_cat /etc/motd $'herd node\n'
expect_stat /etc/motd 0644 0 0
expect_cat /opt/app/app.conf $'x=1\n'
expect_stat /opt/app/app.conf 0640 1000 44
got=$(dbg "cat /usr/local/lib/herd/firstboot.sh")
[[ $got == *$'apt-get install -y htop\necho hi\n'* ]] || fail "firstboot.sh: $got"
expect_stat /usr/local/lib/herd/firstboot.sh 0755 0 0
got=$(dbg "cat /etc/systemd/system/herd-firstboot.service")
[[ $got == *$'Type=oneshot\nExecStart=/usr/local/lib/herd/firstboot.sh\n'* ]] || fail "unit: $got"
expect_link /etc/systemd/system/multi-user.target.wants/herd-firstboot.service /etc/systemd/system/herd-firstboot.service

# Boot partition, through mtools.
got=$(mtype -i "$img@@$boot_off" ::/cmdline.txt)
[ "$got" = "console=serial0,115200 console=tty1 root=PARTUUID=5e3da9a1-02 rootfstype=ext4 fsck.repair=yes rootwait cfg80211.ieee80211_regdom=DE" ] ||
	fail "cmdline.txt: $got"
mdir -b -i "$img@@$boot_off" ::/ | grep -qx '::/ssh' || fail "no ssh file on the boot partition"

ext_clean "$img?offset=$off"
extract_part "$img" 1 "$WORK/boot.fat" && fat_clean "$WORK/boot.fat"

# ---- idempotent: the second run changes nothing at all -----------------
before=$(sha256sum <"$img")
expect_status 0 herd_user customize "$img" --config "$WORK/fleet.yaml" --host red02 --hostname red07
[ "$(sha256sum <"$img")" = "$before" ] || fail "second run changed the image"
[[ $ERR == *": 0 of "* ]] || fail "second run summary: $ERR"
[ -z "$OUT" ] || fail "second run listed changes: $OUT"

# ---- --dryrun writes nothing ---------------------------------------------
expect_status 0 herd_user customize "$img" --dryrun --hostname red99 --timezone Europe/London
[[ $OUT == *"write   root:/etc/hostname 0644 0:0 (6 bytes)"* ]] || fail "dryrun output: $OUT"
[ "$(sha256sum <"$img")" = "$before" ] || fail "--dryrun changed the image"
expect_status 0 herd_user --json customize "$img" --dryrun --hostname red99
[[ $OUT == *'"network": "NetworkManager"'* && $OUT == *'"os_known": true'* ]] || fail "json: $OUT"

# ---- bad input: clear one-line errors, image untouched --------------------
printf 'ssh-ed25519 AAAA!!!! me\n' >"$WORK/bad.pub"
chmod a+r "$WORK/bad.pub"
expect_error 1 "not valid base64" herd_user customize "$img" --hostname red08 --sshkey "$WORK/bad.pub"
expect_error 2 "--sshkey" herd_user customize "$img" --hostname red08 --sshkey "$WORK/missing.pub"
expect_error 2 "--hostname" herd_user customize "$img" --hostname 'bad_name!'
expect_error 2 "--ipaddr" herd_user customize "$img" --ipaddr 10.1.1.300
expect_error 1 "not in the image" herd_user customize "$img" --hostname red08 --timezone America/Chicago
expect_error 2 "--wifipassword" herd_user customize "$img" --ssid lab --wifipassword short
printf 'short\n' >"$WORK/short.psk" && chmod a+r "$WORK/short.psk"
expect_error 1 "8 to 63" env HERD_WIFI_PSK_FILE="$WORK/short.psk" "$HERD" customize "$img" --ssid lab --hostname red08
expect_error 1 "host 'blue01' is not in" herd_user customize "$img" --config "$WORK/fleet.yaml" --host blue01
expect_error 1 "(image left unchanged)" herd_user customize "$img" --hostname red08 --timezone America/Chicago
[ "$(sha256sum <"$img")" = "$before" ] || fail "a failed customize changed the image"
truncate -s 80M "$WORK/noroot.img"
printf 'label: dos\nstart=8192, type=c\n' | sfdisk -q "$WORK/noroot.img"
mkfs.fat -F 32 -s 1 --offset 8192 "$WORK/noroot.img" >/dev/null 2>&1
chmod a+rw "$WORK/noroot.img"
nr=$(sha256sum <"$WORK/noroot.img")
expect_error 1 "root" herd_user customize "$WORK/noroot.img" --hostname red08
[ "$(sha256sum <"$WORK/noroot.img")" = "$nr" ] || fail "customize changed an image without root"

# ---- bullseye: dhcpcd + wpa_supplicant ------------------------------------
img=$WORK/bullseye.img
cp --sparse=always "$WORK/pristine.img" "$img" && chmod a+rw "$img"
printf 'ID=raspbian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\n' >"$WORK/os-release"
printf 'hostname\nclientid\n' >"$WORK/dhcpcd.conf"
chmod a+r "$WORK/os-release" "$WORK/dhcpcd.conf"
expect_status 0 herd_user fs put "$WORK/os-release" "$img:root:/etc/os-release"
expect_status 0 herd_user fs put "$WORK/dhcpcd.conf" "$img:root:/etc/dhcpcd.conf"
expect_status 0 herd_user fs rm -r "$img:root:/etc/NetworkManager"
expect_status 0 herd_user customize "$img" --ssid 'my net' --wifipassword 'correct horse battery' \
	--wifi-country GB --ipaddr 10.1.1.5/24 --gateway 10.1.1.1 --dns 10.1.1.1,9.9.9.9
psk=$(python3 -c 'import hashlib;print(hashlib.pbkdf2_hmac("sha1",b"correct horse battery",b"my net",4096,32).hex())')
expect_cat /etc/wpa_supplicant/wpa_supplicant.conf $'ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\nupdate_config=1\ncountry=GB\n\nnetwork={\n\tssid="my net"\n\tpsk='"$psk"$'\n}\n'
expect_stat /etc/wpa_supplicant/wpa_supplicant.conf 0600 0 0
expect_cat /etc/dhcpcd.conf $'hostname\nclientid\n# herd eth0 begin\ninterface eth0\nstatic ip_address=10.1.1.5/24\nstatic routers=10.1.1.1\nstatic domain_name_servers=10.1.1.1 9.9.9.9\n# herd eth0 end\n'
before=$(sha256sum <"$img")
expect_status 0 herd_user customize "$img" --ssid 'my net' --wifipassword 'correct horse battery' \
	--wifi-country GB --ipaddr 10.1.1.5/24 --gateway 10.1.1.1 --dns 10.1.1.1,9.9.9.9
[ "$(sha256sum <"$img")" = "$before" ] || fail "bullseye: second run changed the image"
ext_clean "$img?offset=$off"

# ---- unknown OS: portable settings only, with a warning -------------------
img=$WORK/other.img
cp --sparse=always "$WORK/pristine.img" "$img" && chmod a+rw "$img"
printf 'ID=alpine\nVERSION_ID=3.20.0\n' >"$WORK/os-release"
expect_status 0 herd_user fs put "$WORK/os-release" "$img:root:/etc/os-release"
expect_status 0 herd_user fs rm "$img:root:/etc/rpi-issue"
expect_status 0 herd_user customize "$img" --hostname red09 --locale de_DE.UTF-8 --ssid lab --wifipassword 'correct horse'
[[ $ERR == *"herd: warning: unknown OS (alpine): skipped wifi.ssid, locale; applied the portable settings only"* ]] ||
	fail "unknown-OS warning: $ERR"
expect_cat /etc/hostname $'red09\n'
expect_cat /etc/default/locale $'LANG=en_GB.UTF-8\n'
dbg "ls /etc/NetworkManager/system-connections" | grep -q lab && fail "unknown OS got a Wi-Fi keyfile"
ext_clean "$img?offset=$off"

finish
