#!/bin/bash
# image.sh — `herd image info` and `herd image map` on images made by the
# standard tools (sfdisk, sgdisk, mkfs.fat, mke2fs), and the used-block
# map's safety: zero every byte outside the map and every file and every
# fsck result must stay the same.
. "$(dirname "$0")/lib.sh"

img=$WORK/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 1G 24 >/dev/null
chmod a+rw "$img"

# info: table, partitions, filesystems, OS.
expect_status 0 herd_user image info "$img"
for want in "table:  mbr, disk id 5e3da9a1" "5e3da9a1-01" "5e3da9a1-02" "fat32" "ext4" \
	"bootfs" "rootfs" "5E3D-A9A1" "0b6a8f2e-5d41-4e0c-9c53-6f0e2a1d7c11" \
	"Debian GNU/Linux 12 (bookworm) (Raspberry Pi OS"; do
	[[ $OUT == *"$want"* ]] || fail "image info lacks '$want': $OUT"
done
expect_status 0 herd_user --json image info "$img"
[[ $OUT == *'"codename": "bookworm"'* && $OUT == *'"start": 4194304'* && $OUT == *'"type": "0x0c"'* ]] ||
	fail "image info --json: $OUT"

# map: the total is close to what the filesystems say is used plus the gap.
expect_status 0 herd_user --json image map "$img"
used=$(sed -n 's/^  "used": \([0-9]*\),/\1/p' <<<"$OUT")
off=$(part_offset "$img" 2)
eblocks=$(dumpe2fs -h "$img?offset=$off" 2>/dev/null | awk -F: '/^Block count/{c=$2} /^Free blocks/{f=$2} END{print c-f}')
extract_part "$img" 1 "$WORK/boot.part"
fatused=$(fsck.fat -nv "$WORK/boot.part" 2>/dev/null | sed -n 's/.*, \([0-9]*\)\/[0-9]* clusters$/\1/p')
fatmeta=$(($(fsck.fat -nv "$WORK/boot.part" 2>/dev/null | sed -n 's/^Data area starts at byte \([0-9]*\).*/\1/p')))
clus=$(fsck.fat -nv "$WORK/boot.part" 2>/dev/null | sed -n 's/^ *\([0-9]*\) bytes per cluster/\1/p')
want=$((4194304 + fatmeta + fatused * clus + eblocks * 4096))
diff=$((used > want ? used - want : want - used))
if [ -z "$used" ] || [ $((diff * 100)) -gt "$want" ]; then
	fail "map total $used not within 1% of $want (gap 4 MiB + FAT meta $fatmeta + $fatused clusters + $eblocks ext4 blocks)"
fi
echo "map: $used bytes used; expected $want from fsck.fat/dumpe2fs"

# Safety: copy only the mapped ranges into a zeroed file.
herd_user image map "$img" | grep -v '^total' >"$WORK/ranges"
zero=$WORK/zeroed.img
truncate -s "$(stat -c %s "$img")" "$zero"
while read -r start len; do
	dd if="$img" of="$zero" bs=1M iflag=skip_bytes,count_bytes oflag=seek_bytes \
		skip="$start" seek="$start" count="$len" conv=notrunc status=none
done <"$WORK/ranges"
extract_part "$zero" 1 "$WORK/boot0.part"
fat_clean "$WORK/boot0.part"
ext_clean "$zero?offset=$off"
for f in /etc/os-release /etc/passwd /opt/data/blob0.bin /opt/data/blob16.bin; do
	debugfs -R "cat $f" "$img?offset=$off" >"$WORK/a" 2>/dev/null
	debugfs -R "cat $f" "$zero?offset=$off" >"$WORK/b" 2>/dev/null
	same_file "$WORK/a" "$WORK/b" "zeroed-outside-map $f"
done
for f in config.txt cmdline.txt kernel8.img overlays/README; do
	mtype -i "$WORK/boot.part" "::/$f" >"$WORK/a"
	mtype -i "$WORK/boot0.part" "::/$f" >"$WORK/b"
	same_file "$WORK/a" "$WORK/b" "zeroed-outside-map boot $f"
done
diff <(herd_user fs ls -l "$img:root:/etc") <(herd_user fs ls -l "$zero:root:/etc") >/dev/null ||
	fail "directory listing changed after zeroing outside the map"

# GPT made by sgdisk: names, GUIDs, and an unknown partition kept whole.
gpt=$WORK/gpt.img
truncate -s 64M "$gpt"
sgdisk -U 11111111-2222-3333-4444-555555555555 \
	-n 1:2048:+16M -t 1:0700 -c 1:boot \
	-n 2:0:+24M -t 2:8300 -c 2:"root fs" \
	-n 3:0:+4M -t 3:8200 -c 3:swap "$gpt" >/dev/null
mkfs.fat -F 16 -s 1 -n BOOT --offset 2048 "$gpt" 16384 >/dev/null 2>&1 || fail "mkfs.fat gpt"
mke2fs -F -q -t ext4 -E offset=$(((2048 + 32768) * 512)) "$gpt" 24M
head -c 4194304 /dev/urandom | dd of="$gpt" bs=1M seek=$((2048 * 512 + 40 * 1048576)) oflag=seek_bytes conv=notrunc status=none
chmod a+rw "$gpt"
expect_status 0 herd_user --json image info "$gpt"
[[ $OUT == *'"type": "gpt"'* && $OUT == *'"disk_id": "11111111-2222-3333-4444-555555555555"'* &&
	$OUT == *'"name": "root fs"'* && $OUT == *'"type": "fat16"'* ]] || fail "GPT info: $OUT"
swapstart=$(((2048 + 32768 + 49152) * 512))
# The unknown swap partition must be covered entirely.
covered=0
while read -r s l; do
	[ "$s" -le "$swapstart" ] && [ $((s + l)) -ge $((swapstart + 4194304)) ] && covered=1
done < <(herd_user image map "$gpt" | grep -v '^total')
[ $covered -eq 1 ] || fail "unknown partition not wholly in the map"

finish
