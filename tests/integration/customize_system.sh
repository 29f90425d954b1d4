#!/bin/bash
# customize_system.sh — the system settings of `herd customize` on the
# Pi-layout sample image, as an unprivileged user, read back with
# independent tools: systemd units (enable/disable/mask links, read with
# debugfs), config.txt and cmdline.txt (mtools), WireGuard (keyfile or
# wg-quick file, modes and owners; the public key checked with openssl),
# the nftables ruleset, and passwords from --passwd-stdin and a terminal
# (`script` gives herd a pty; the hash is checked with openssl / Python's
# crypt, and the clear text is nowhere in the image).  e2fsck -fn and
# fsck.fat -n clean; a second run leaves the image byte-identical; bad
# input fails with one line and leaves the image untouched.
. "$(dirname "$0")/lib.sh"

img=$WORK/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null || { fail "sample image"; finish; exit; }
chmod a+rw "$img"
cp --sparse=always "$img" "$WORK/pristine.img"
off=$(part_offset "$img" 2)
boot_off=$(part_offset "$img" 1)
dbg() { debugfs -R "$1" "$img?offset=$off" 2>/dev/null; }

expect_cat() {
	local got
	got=$(dbg "cat $1"; echo x)
	got=${got%x}
	[ "$got" = "$2" ] || { fail "$1: content differs"; diff <(printf '%s' "$2") <(printf '%s' "$got") >&2; }
}
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
expect_gone() {
	dbg "stat $1" | grep -q "^Inode:" && fail "$1 still exists"
}
boot_cat() { mtype -i "$img@@$boot_off" "::$1"; }
clean() {
	ext_clean "$img?offset=$off"
	extract_part "$img" 1 "$WORK/boot.fat" && fat_clean "$WORK/boot.fat"
}
# The public key of a raw X25519 private key (base64), by openssl: wrap it
# in PKCS#8 DER (RFC 8410), let openssl derive the public key, take the
# last 32 bytes of its SubjectPublicKeyInfo.
wg_pub() {
	{ printf '302e020100300506032b656e04220420' | xxd -r -p; printf '%s' "$1" | base64 -d; } |
		openssl pkey -inform DER -pubout -outform DER | tail -c 32 | base64
}

peer=YNqHwpcAmVj0lVzPSt7kRBsAIEVeyzdmoKCYc7dl1wE=
cat >"$WORK/fleet.yaml" <<EOT
defaults:
  ssh: { enabled: true }
  systemd:
    enable: [avahi-daemon, getty@.service, wg-quick@wg1]
  config:
    set: [gpu_mem=128, dtparam=audio=off]
    remove: [camera_auto_detect]
    dtoverlay: [disable-bt, "gpio-fan,gpiopin=14"]
  cmdline: { remove: [fsck.repair] }
  wireguard:
    address: 10.99.0.2/24
    listen_port: 51820
    peers:
      - public_key: $peer
        endpoint: vpn.example.com:51820
        allowed_ips: [10.99.0.0/24, fd00::/64]
        persistent_keepalive: 25
  firewall: { allow: [80/tcp, 51820/udp, 8000-8100/tcp] }
hosts:
  red01: {}
EOT
chmod a+r "$WORK"/*

# ---- everything at once: fleet file plus flags -------------------------------
# (A flag replaces a list from the file rather than extending it, so the
# flags here set keys the file leaves alone.)
expect_status 0 herd_user customize "$img" --config "$WORK/fleet.yaml" --host red01 \
	--mask bluetooth --mask systemd-journald --cmdline quiet --cmdline console=tty3
pub=$(sed -n 's/^wireguard public key: //p' <<<"$OUT")
[ ${#pub} -eq 44 ] || fail "no public key printed: $OUT"

# systemd
W=/etc/systemd/system/multi-user.target.wants
expect_link $W/ssh.service /lib/systemd/system/ssh.service
expect_link /etc/systemd/system/sshd.service /lib/systemd/system/ssh.service
expect_link $W/avahi-daemon.service /lib/systemd/system/avahi-daemon.service
expect_link /etc/systemd/system/dbus-org.freedesktop.Avahi.service /lib/systemd/system/avahi-daemon.service
expect_link /etc/systemd/system/sockets.target.wants/avahi-daemon.socket /lib/systemd/system/avahi-daemon.socket
expect_link /etc/systemd/system/getty.target.wants/getty@tty1.service /lib/systemd/system/getty@.service
expect_link $W/wg-quick@wg1.service /lib/systemd/system/wg-quick@.service
expect_link /etc/systemd/system/systemd-journald.service /dev/null
expect_link /etc/systemd/system/bluetooth.service /dev/null
expect_link /etc/systemd/system/sysinit.target.wants/nftables.service /lib/systemd/system/nftables.service
expect_stat /etc/systemd/system/getty.target.wants 0755 0 0

# config.txt / cmdline.txt on the FAT partition, through mtools
got=$(boot_cat /config.txt; echo x)
want=$'# Sample config.txt\narm_64bit=1\ndtparam=audio=off\ndisplay_auto_detect=1\n[all]\ngpu_mem=128\ndtoverlay=disable-bt\ndtoverlay=gpio-fan,gpiopin=14\nx'
[ "$got" = "$want" ] || fail "config.txt: $got"
got=$(boot_cat /cmdline.txt | od -c | tail -2 | head -1)
[[ $got == *'\n' ]] || fail "cmdline.txt lost its trailing newline: $got"
got=$(boot_cat /cmdline.txt)
[ "$got" = "console=tty3 root=PARTUUID=5e3da9a1-02 rootfstype=ext4 rootwait quiet" ] || fail "cmdline.txt: $got"

# WireGuard: NetworkManager keyfile (the sample runs NetworkManager)
nm=/etc/NetworkManager/system-connections/wg0.nmconnection
expect_stat $nm 0600 0 0
got=$(dbg "cat $nm")
priv=$(sed -n 's/^private-key=//p' <<<"$got")
[ "$(wg_pub "$priv")" = "$pub" ] || fail "printed public key is not the private key's (openssl)"
[[ $got == *$'type=wireguard\ninterface-name=wg0\n'* ]] || fail "wg0: $got"
[[ $got == *$'[wireguard]\nlisten-port=51820\nprivate-key='* ]] || fail "wg0 [wireguard]: $got"
[[ $got == *$'[wireguard-peer.'"$peer"$']\nendpoint=vpn.example.com:51820\nallowed-ips=10.99.0.0/24;fd00::/64;\npersistent-keepalive=25\n'* ]] ||
	fail "wg0 peer: $got"
[[ $got == *$'[ipv4]\naddress1=10.99.0.2/24\nmethod=manual\n'* ]] || fail "wg0 ipv4: $got"
[[ $OUT == *"$priv"* || $ERR == *"$priv"* ]] && fail "the private key was printed"

# nftables
expect_cat /etc/nftables.conf $'#!/usr/sbin/nft -f\n# Written by herd from firewall.allow: inbound traffic is dropped except\n# replies, loopback, ICMP/ICMPv6 and the ports listed below.\n\nflush ruleset\n\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\tct state invalid drop\n\t\tiifname "lo" accept\n\t\tmeta l4proto { icmp, ipv6-icmp } accept\n\t\ttcp dport { 22, 80, 8000-8100 } accept\n\t\tudp dport { 51820 } accept\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t}\n\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n\t}\n}\n'
expect_stat /etc/nftables.conf 0755 0 0
clean

# ---- idempotent: the image's key is kept, nothing changes -------------------
before=$(sha256sum <"$img")
expect_status 0 herd_user customize "$img" --config "$WORK/fleet.yaml" --host red01 \
	--mask bluetooth --mask systemd-journald --cmdline quiet --cmdline console=tty3
[ "$(sha256sum <"$img")" = "$before" ] || fail "second run changed the image"
[ "$(sed -n 's/^wireguard public key: //p' <<<"$OUT")" = "$pub" ] || fail "second run: another key: $OUT"
expect_status 0 herd_user --json customize "$img" --config "$WORK/fleet.yaml" --host red01 --dryrun
[[ $OUT == *"\"wireguard_public_key\": \"$pub\""* ]] || fail "--json lacks the public key: $OUT"

# ---- disable undoes enable ----------------------------------------------------
expect_status 0 herd_user customize "$img" --disable avahi-daemon --disable getty@.service --disable wg-quick@wg1
expect_gone $W/avahi-daemon.service
expect_gone /etc/systemd/system/dbus-org.freedesktop.Avahi.service
expect_gone /etc/systemd/system/sockets.target.wants/avahi-daemon.socket
expect_gone /etc/systemd/system/getty.target.wants/getty@tty1.service
expect_gone $W/wg-quick@wg1.service
expect_link $W/ssh.service /lib/systemd/system/ssh.service
clean

# ---- wg-quick on an image without NetworkManager, with a given key ------------
img2=$WORK/nonm.img
cp --sparse=always "$WORK/pristine.img" "$img2" && chmod a+rw "$img2"
expect_status 0 herd_user fs rm -r "$img2:root:/etc/NetworkManager"
key=$(openssl genpkey -algorithm X25519 -outform DER | tail -c 32 | base64)
printf '%s\n' "$key" >"$WORK/wg.key" && chmod a+r "$WORK/wg.key"
expect_status 0 herd_user customize "$img2" --wg-address fd00::2/64 --wg-private-key-file "$WORK/wg.key" \
	--wg-peer "public_key=$peer allowed_ips=fd00::/64 endpoint=[2001:db8::1]:51820"
[ "$(sed -n 's/^wireguard public key: //p' <<<"$OUT")" = "$(wg_pub "$key")" ] || fail "wg-quick: public key: $OUT"
img_saved=$img
img=$img2
expect_cat /etc/wireguard/wg0.conf $'# Written by herd (wireguard.*)\n[Interface]\nAddress = fd00::2/64\nPrivateKey = '"$key"$'\n\n[Peer]\nPublicKey = '"$peer"$'\nAllowedIPs = fd00::/64\nEndpoint = [2001:db8::1]:51820\n'
expect_stat /etc/wireguard/wg0.conf 0600 0 0
expect_stat /etc/wireguard 0700 0 0
expect_link $W/wg-quick@wg0.service /lib/systemd/system/wg-quick@.service
clean
img=$img_saved

# ---- passwords ------------------------------------------------------------------
img3=$WORK/pw.img
cp --sparse=always "$WORK/pristine.img" "$img3" && chmod a+rw "$img3"
expect_status 0 as_user sh -c 'printf "Tr0ub4dor&3\n" | "$0" customize "$1" --passwd-stdin --passwd-scheme sha512' "$HERD" "$img3"
hash=$(debugfs -R "cat /etc/shadow" "$img3?offset=$off" 2>/dev/null | sed -n 's/^pi:\([^:]*\):.*/\1/p')
salt=$(cut -d'$' -f3 <<<"$hash")
[ "$(openssl passwd -6 -salt "$salt" 'Tr0ub4dor&3')" = "$hash" ] || fail "--passwd-stdin sha512: '$hash' does not verify (openssl passwd)"
grep -qa 'Tr0ub4dor' "$img3" && fail "the clear-text password is in the image"
# A terminal: `script` runs herd on a pty; the password goes in twice.
# The lines are fed after a pause: herd flushes typeahead when it turns
# echo off (TCSAFLUSH, as getpass(3) does), and anything typed before
# that would be echoed by the pty.
feed() { sleep 1; printf '%s\n' "$1"; sleep 1; printf '%s\n' "$2"; sleep 1; }
cp --sparse=always "$WORK/pristine.img" "$img3"
feed 'correct horse' 'correct horse' | as_user script -qec "$HERD customize $img3 --passwd" /dev/null >"$WORK/tty.out" 2>&1 ||
	fail "--passwd on a pty: $(cat "$WORK/tty.out")"
grep -q 'Password (again): ' "$WORK/tty.out" || fail "no second prompt: $(cat "$WORK/tty.out")"
grep -q 'correct horse' "$WORK/tty.out" && fail "the password was echoed"
hash=$(debugfs -R "cat /etc/shadow" "$img3?offset=$off" 2>/dev/null | sed -n 's/^pi:\([^:]*\):.*/\1/p')
[[ $hash == '$y$'* ]] || fail "--passwd: not a yescrypt hash: $hash"
if python3 -W ignore -c 'import crypt' 2>/dev/null; then
	python3 -W ignore -c 'import crypt,sys; sys.exit(crypt.crypt("correct horse", sys.argv[1]) != sys.argv[1])' "$hash" ||
		fail "--passwd yescrypt: '$hash' does not verify (Python crypt)"
fi
grep -qa 'correct horse' "$img3" && fail "the clear-text password is in the image"
# Mismatch: refused, image untouched.
pw_before=$(sha256sum <"$img3")
feed 'one pass' 'other pass' | as_user script -qec "$HERD customize $img3 --passwd" /dev/null >"$WORK/tty.out" 2>&1
grep -q 'the passwords do not match' "$WORK/tty.out" || fail "mismatch: $(cat "$WORK/tty.out")"
[ "$(sha256sum <"$img3")" = "$pw_before" ] || fail "a password mismatch changed the image"
expect_error 1 "no terminal to ask on" as_user setsid -w "$HERD" customize "$img3" --passwd </dev/null
expect_error 1 "give one of them" as_user sh -c 'echo x | "$0" customize "$1" --passwd-stdin --password-hash "$2"' "$HERD" "$img3" \
	'$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1'
expect_error 1 "the password is empty" as_user sh -c 'echo | "$0" customize "$1" --passwd-stdin' "$HERD" "$img3"
expect_error 2 "--passwd-scheme" herd_user customize "$img3" --passwd-stdin --passwd-scheme md5

# ---- bad input: one clear line each, image untouched -----------------------------
before=$(sha256sum <"$img")
expect_error 2 "--enable: 'a b' is not a systemd unit name" herd_user customize "$img" --enable 'a b'
expect_error 1 "unit nosuch.service is not in the image" herd_user customize "$img" --hostname x1 --enable nosuch
expect_error 1 "is a template without DefaultInstance=" herd_user customize "$img" --enable wg-quick@
expect_error 2 "--allow: '70000' is not a port" herd_user customize "$img" --allow 70000
expect_error 2 "--allow: '22/icmp'" herd_user customize "$img" --allow 22/icmp
expect_error 2 "--wg-address: '10.99.0.2' is not an address with prefix" herd_user customize "$img" --wg-address 10.99.0.2
expect_error 2 "not a WireGuard key" herd_user customize "$img" --wg-address 10.0.0.1/24 --wg-peer 'public_key=abc allowed_ips=10.0.0.0/24'
expect_error 2 "--wg-listen-port: '0'" herd_user customize "$img" --wg-listen-port 0
expect_error 2 "--config-txt: 'gpu_mem'" herd_user customize "$img" --config-txt gpu_mem
expect_error 2 "config.dtoverlay" herd_user customize "$img" --config-txt dtoverlay=x
expect_error 2 "--cmdline: 'a=\"b\"'" herd_user customize "$img" --cmdline 'a="b"'
expect_error 1 "quiet is in both cmdline.set and cmdline.remove" herd_user customize "$img" --cmdline quiet --cmdline-remove quiet
printf 'not a key\n' >"$WORK/bad.key" && chmod a+r "$WORK/bad.key"
expect_error 1 "not a WireGuard private key" herd_user customize "$img" --wg-address 10.0.0.1/24 --wg-private-key-file "$WORK/bad.key"
expect_error 1 "systemd: ssh.service is in both" herd_user customize "$img" --enable ssh --mask ssh
cat >"$WORK/badpeer.yaml" <<EOT
defaults:
  wireguard: { address: 10.0.0.1/24, peers: [ { public_key: $peer, allowed_ips: 10.0.0.0/33 } ] }
hosts: { red01: {} }
EOT
chmod a+r "$WORK/badpeer.yaml"
expect_error 1 "badpeer.yaml:2: wireguard.peers: peer: allowed_ips" herd_user customize "$img" --config "$WORK/badpeer.yaml" --host red01
[ "$(sha256sum <"$img")" = "$before" ] || fail "a failed customize changed the image"

finish
