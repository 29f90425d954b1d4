#!/bin/bash
# badinput.sh — broken images and hostile arguments: every case ends with
# one clear "herd: …" line, exit 1 (2 for usage), no crash, and the image
# byte-for-byte unchanged.
. "$(dirname "$0")/lib.sh"

printf 'data\n' >"$WORK/data" && chmod a+r "$WORK/data"

# u8/u16/u32 FILE OFFSET — little-endian reads; put_u16/put_u32 FILE OFFSET VALUE.
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
put_bytes() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
put_u16() { put_bytes "$1" "$2" "$(printf '\\x%02x\\x%02x' $(($3 & 255)) $(($3 >> 8 & 255)))"; }
put_u32() { put_bytes "$1" "$2" "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 & 255)) $(($3 >> 8 & 255)) $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))"; }

# unchanged_after IMG STATUS FRAGMENT CMD... — error as expected and IMG untouched.
unchanged_after() {
	local img=$1 st=$2 frag=$3 before after
	shift 3
	before=$(sha256sum <"$img")
	expect_error "$st" "$frag" "$@"
	after=$(sha256sum <"$img")
	[ "$before" = "$after" ] || fail "$*: image changed after a failed command"
}

sample=$WORK/sample.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$sample" 160M 0 64 >/dev/null

# Truncated image: partition 2 runs past the end.
cp --sparse=always "$sample" "$WORK/trunc.img" && truncate -s 100M "$WORK/trunc.img" && chmod a+rw "$WORK/trunc.img"
unchanged_after "$WORK/trunc.img" 1 "beyond" herd_user image info "$WORK/trunc.img"
unchanged_after "$WORK/trunc.img" 1 "beyond" herd_user fs put "$WORK/data" "$WORK/trunc.img:boot:/x"

# Overlapping partitions: move partition 2's start into partition 1.
cp --sparse=always "$sample" "$WORK/overlap.img" && chmod a+rw "$WORK/overlap.img"
put_u32 "$WORK/overlap.img" $((446 + 16 + 8)) 100000
unchanged_after "$WORK/overlap.img" 1 "overlap" herd_user image info "$WORK/overlap.img"

# GPT with a corrupted primary header: falls back to the backup and says so.
gpt=$WORK/gpt.img
truncate -s 32M "$gpt"
sgdisk -n 1:2048:+8M -t 1:0700 -c 1:data "$gpt" >/dev/null
mkfs.fat -F 16 -s 1 --offset 2048 "$gpt" 8192 >/dev/null 2>&1 || fail "mkfs.fat gpt"
put_bytes "$gpt" $((512 + 40)) '\xff\xff' # first usable LBA: header CRC now wrong
chmod a+rw "$gpt"
expect_status 0 herd_user image info "$gpt"
[[ $OUT == *"warning:"*"backup"* ]] || fail "bad primary GPT CRC not reported: $OUT"
expect_status 0 herd_user fs put "$WORK/data" "$gpt:1:/ok.txt"
# Both headers bad: an error.
size=$(stat -c %s "$gpt")
put_bytes "$gpt" $((size - 512 + 40)) '\xff\xff'
unchanged_after "$gpt" 1 "GPT" herd_user image info "$gpt"

# FAT with nonsense in the BPB (bytes per sector 0).
fat=$WORK/bpb.img
truncate -s 8M "$fat" && mkfs.fat -F 16 -s 1 "$fat" >/dev/null 2>&1 && chmod a+rw "$fat" || fail "mkfs.fat bpb.img"
put_u16 "$fat" 11 0
unchanged_after "$fat" 1 "BPB" herd_user fs ls "$fat:0:/"

# FAT16 cluster-chain loop and cross-linked clusters.
make_fat16() {
	truncate -s 8M "$1" && mkfs.fat -F 16 -s 1 "$1" >/dev/null 2>&1 || fail "mkfs.fat $1"
	head -c 2048 /dev/urandom >"$WORK/a.bin"
	mcopy -i "$1" "$WORK/a.bin" ::/A.BIN
	mcopy -i "$1" "$WORK/a.bin" ::/B.BIN
	chmod a+rw "$1"
}
fat_layout() { # sets RES, FATSZ, NFATS, ROOTOFF for $1
	RES=$(u16 "$1" 14) NFATS=$(u8 "$1" 16) FATSZ=$(u16 "$1" 22)
	ROOTOFF=$(((RES + NFATS * FATSZ) * 512))
}
# Directory entry of NAME.BIN in the root: find its 11-byte name.
entry_of() { grep -obUaP "$2" "$1" | head -1 | cut -d: -f1; }

loop=$WORK/loop.img
make_fat16 "$loop"
fat_layout "$loop"
e=$(entry_of "$loop" 'A       BIN')
c=$(u16 "$loop" $((e + 26)))
for k in $(seq 0 $((NFATS - 1))); do put_u16 "$loop" $(((RES + k * FATSZ) * 512 + c * 2)) "$c"; done
unchanged_after "$loop" 1 "loop" herd_user fs cat "$loop:0:/A.BIN"
unchanged_after "$loop" 1 "" herd_user fs put "$WORK/data" "$loop:0:/A.BIN"

cross=$WORK/cross.img
make_fat16 "$cross"
ea=$(entry_of "$cross" 'A       BIN')
eb=$(entry_of "$cross" 'B       BIN')
put_u16 "$cross" $((eb + 26)) "$(u16 "$cross" $((ea + 26)))"
unchanged_after "$cross" 1 "cross-linked" herd_user fs put "$WORK/data" "$cross:0:/new.txt"

# ext4 with a corrupt superblock (magic zeroed).
ext=$WORK/ext.img
truncate -s 16M "$ext" && mke2fs -F -q -t ext4 "$ext" && chmod a+rw "$ext"
put_u16 "$ext" $((1024 + 56)) 0
unchanged_after "$ext" 1 "" herd_user fs ls "$ext:0:/"
[[ $ERR == *"no filesystem herd understands"* || $ERR == *"superblock"* ]] || fail "ext4 corrupt superblock message: $ERR"

# Paths that escape, and malformed locations.
cp --sparse=always "$sample" "$WORK/p.img" && chmod a+rw "$WORK/p.img"
unchanged_after "$WORK/p.img" 1 "escapes" herd_user fs put "$WORK/data" "$WORK/p.img:root:/etc/../../x"
unchanged_after "$WORK/p.img" 1 "escapes" herd_user fs cat "$WORK/p.img:boot:/../etc/passwd"
unchanged_after "$WORK/p.img" 2 "IMAGE:PART:/path" herd_user fs cat "$WORK/p.img"
unchanged_after "$WORK/p.img" 1 "no partition 7" herd_user fs cat "$WORK/p.img:7:/x"
unchanged_after "$WORK/p.img" 2 "PART is a number, boot or root" herd_user fs cat "$WORK/p.img:swap:/x"
unchanged_after "$WORK/p.img" 1 "No such file" herd_user fs cat "$WORK/p.img:root:/nonexistent"
expect_error 1 "No such file" herd_user image info "$WORK/missing.img"

# Full filesystems: the write fails cleanly and nothing changes.
head -c 3000000 /dev/urandom >"$WORK/big" && chmod a+r "$WORK/big"
small=$WORK/small-fat.img
truncate -s 1M "$small" && mkfs.fat -F 12 "$small" >/dev/null 2>&1 && chmod a+rw "$small"
unchanged_after "$small" 1 "" herd_user fs put "$WORK/big" "$small:0:/big"
[[ $ERR == *"space"* || $ERR == *"free"* ]] || fail "FAT full message: $ERR"
small=$WORK/small-ext.img
truncate -s 2M "$small" && mke2fs -F -q -t ext4 "$small" && chmod a+rw "$small"
unchanged_after "$small" 1 "" herd_user fs put "$WORK/big" "$small:0:/big"
[[ $ERR == *"space"* ]] || fail "ext4 full message: $ERR"
ext_clean "$small"

finish
