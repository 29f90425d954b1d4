#!/bin/bash
# fs_ext4.sh — herd's ext4 (libext2fs through herd's blockdev) against
# mke2fs -d, debugfs and e2fsck, as an unprivileged user: what mke2fs and
# debugfs wrote herd reads exactly; what herd writes debugfs reads back
# exactly (bytes, modes, owners, link targets) and e2fsck -fn is clean.
. "$(dirname "$0")/lib.sh"

dbg() { debugfs -R "$1" "$2" 2>/dev/null; }

src=$WORK/tree
mkdir -p "$src/etc/deep/er" "$src/home/pi"
printf 'raspberrypi\n' >"$src/etc/hostname"
head -c 5000000 /dev/urandom >"$src/etc/blob"
printf 'secret\n' >"$src/etc/shadow" && chmod 0640 "$src/etc/shadow"
ln -s hostname "$src/etc/fastlink"
ln -s "$(printf 'x%.0s' {1..100})/../hostname" "$src/etc/slowlink"
ln "$src/etc/hostname" "$src/etc/hardlink"
printf 'exe\n' >"$src/etc/deep/er/tool" && chmod 4755 "$src/etc/deep/er/tool"
head -c 4096 /dev/urandom >"$WORK/block"
head -c 4097 /dev/urandom >"$WORK/block1"
printf 'red07\n' >"$WORK/hostname"
chmod a+r "$WORK"/block "$WORK"/block1 "$WORK/hostname"

for kind in ext4 ext3 ext2; do
	img=$WORK/$kind.img
	truncate -s 64M "$img"
	mke2fs -F -q -t "$kind" -b 4096 -d "$src" "$img" || { fail "mke2fs $kind"; continue; }
	debugfs -w -R 'sif /etc/shadow gid 42' "$img" 2>/dev/null
	chmod a+rw "$img"

	# herd reads what mke2fs wrote.
	herd_user fs get "$img:0:/etc/blob" "$WORK/got" && same_file "$src/etc/blob" "$WORK/got" "$kind read 5 MB"
	expect_output raspberrypi herd_user fs cat "$img:0:/etc/fastlink"
	expect_output raspberrypi herd_user fs cat "$img:0:/etc/hardlink"
	expect_status 0 herd_user --json fs stat "$img:0:/etc/shadow"
	[[ $OUT == *'"mode": 416'* && $OUT == *'"gid": 42'* ]] || fail "$kind stat shadow: $OUT"
	expect_status 0 herd_user fs stat "$img:0:/etc/deep/er/tool"
	[[ $OUT == *"mode:  4755"* ]] || fail "$kind setuid mode: $OUT"
	expect_status 0 herd_user fs stat "$img:0:/etc/slowlink"
	[[ $OUT == *"-> $(printf 'x%.0s' {1..100})/../hostname"* ]] || fail "$kind slow link target: $OUT"

	# herd writes; debugfs and e2fsck check.
	expect_status 0 herd_user fs put --mode 0600 --owner 1000:1000 "$WORK/hostname" "$img:0:/etc/hostname"
	expect_status 0 herd_user fs mkdir --mode 0700 --owner 1000:1000 "$img:0:/home/pi/.ssh/keys"
	expect_status 0 herd_user fs put --mode 0600 --owner 1000:1000 "$WORK/block" "$img:0:/home/pi/.ssh/authorized_keys"
	expect_status 0 herd_user fs put "$WORK/block1" "$img:0:/home/pi/block+1"
	expect_status 0 herd_user fs ln -s /usr/share/zoneinfo/Europe/Berlin "$img:0:/etc/localtime"
	long=$(printf 'd%.0s' {1..200})
	expect_status 0 herd_user fs ln -s "/$long/target" "$img:0:/etc/longlink"
	expect_status 0 herd_user fs ln /etc/blob "$img:0:/etc/blob2"
	expect_status 0 herd_user fs chmod 0644 "$img:0:/etc/deep/er/tool"
	expect_status 0 herd_user fs chown 0:27 "$img:0:/etc/deep/er/tool"
	expect_status 0 herd_user fs rm "$img:0:/etc/hardlink"
	expect_status 0 herd_user fs rm -r "$img:0:/etc/deep"
	expect_status 0 herd_user fs put "$WORK/hostname" "$img:0:/name with spaces ünïcödé"

	ext_clean "$img"
	dbg 'cat /etc/hostname' "$img" >"$WORK/d1" && same_file "$WORK/hostname" "$WORK/d1" "$kind hostname bytes"
	dbg 'cat /home/pi/.ssh/authorized_keys' "$img" >"$WORK/d2" && same_file "$WORK/block" "$WORK/d2" "$kind 4096-byte file"
	dbg 'cat /home/pi/block+1' "$img" >"$WORK/d3" && same_file "$WORK/block1" "$WORK/d3" "$kind 4097-byte file"
	dbg 'cat /etc/blob2' "$img" >"$WORK/d4" && same_file "$src/etc/blob" "$WORK/d4" "$kind hard link"
	dbg 'cat "/name with spaces ünïcödé"' "$img" >"$WORK/d5" && same_file "$WORK/hostname" "$WORK/d5" "$kind unicode name"
	st=$(dbg 'stat /etc/hostname' "$img")
	[[ $st == *"Mode:  0600"* && $st == *"User:  1000"* && $st == *"Group:  1000"* ]] ||
		fail "$kind /etc/hostname mode/owner: $(head -3 <<<"$st")"
	st=$(dbg 'stat /home/pi/.ssh' "$img")
	[[ $st == *"Type: directory"* && $st == *"Mode:  0700"* && $st == *"User:  1000"* ]] ||
		fail "$kind ~/.ssh: $(head -3 <<<"$st")"
	st=$(dbg 'stat /etc/localtime' "$img")
	[[ $st == *'Fast link dest: "/usr/share/zoneinfo/Europe/Berlin"'* ]] || fail "$kind fast symlink: $st"
	dbg 'stat /etc/longlink' "$img" | grep -q "Type: symlink" || fail "$kind slow symlink type"
	st=$(dbg 'stat /etc/blob' "$img")
	[[ $st == *"Links: 2"* ]] || fail "$kind hard link count: $(head -3 <<<"$st")"
	dbg 'ls /etc' "$img" | grep -qw hardlink && fail "$kind removed name still listed"
	dbg 'ls /etc' "$img" | grep -qw deep && fail "$kind removed tree still listed"
	rm -f "$WORK"/d[1-5] "$WORK/got"
done

# The root partition of a Pi-layout image, by role, then both partitions fsck'ed.
img=$WORK/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null
chmod a+rw "$img"
expect_status 0 herd_user fs put "$WORK/hostname" "$img:root:/etc/hostname"
off=$(part_offset "$img" 2)
ext_clean "$img?offset=$off"
dbg 'cat /etc/hostname' "$img?offset=$off" >"$WORK/d6" && same_file "$WORK/hostname" "$WORK/d6" "root partition write"

finish
