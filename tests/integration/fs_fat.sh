#!/bin/bash
# fs_fat.sh — herd's FAT12/16/32 against dosfstools and mtools, as an
# unprivileged user: what mtools writes herd reads exactly; what herd
# writes mtools reads exactly and fsck.fat -n finds nothing to fix.
. "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/src"
printf 'hello\n' >"$WORK/src/small"
head -c 3145728 /dev/urandom >"$WORK/src/big"        # 3 MiB, many clusters
head -c 511 /dev/urandom >"$WORK/src/odd"
: >"$WORK/src/empty"
chmod -R a+r "$WORK/src"

for spec in "12 6M 4" "16 32M 1" "32 64M 1"; do
	set -- $spec
	fat=$1 size=$2 spc=$3
	img=$WORK/fat$fat.img
	truncate -s "$size" "$img"
	mkfs.fat -F "$fat" -s "$spc" -n TESTVOL "$img" >/dev/null 2>&1 || { fail "mkfs.fat -F $fat"; continue; }

	# mtools writes, herd reads.
	mmd -i "$img" ::/mtdir ::/mtdir/sub
	mcopy -i "$img" "$WORK/src/small" "::/mtdir/Long File Name.txt"
	mcopy -i "$img" "$WORK/src/odd" "::/Grüße.bin"
	mcopy -i "$img" "$WORK/src/small" "::/README.TXT"
	chmod a+rw "$img"
	expect_output "$(cat "$WORK/src/small")" herd_user fs cat "$img:0:/mtdir/Long File Name.txt"
	herd_user fs get "$img:0:/Grüße.bin" "$WORK/got.bin" && same_file "$WORK/src/odd" "$WORK/got.bin" "FAT$fat unicode name read"
	expect_output $'Grüße.bin\nREADME.TXT\nmtdir/' bash -c "'$HERD' fs ls '$img:0:/' | LC_ALL=C sort"

	# herd writes, mtools and fsck.fat read.
	expect_status 0 herd_user fs put "$WORK/src/small" "$img:0:/config.txt"
	expect_status 0 herd_user fs put "$WORK/src/big" "$img:0:/A Long Name With Spaces.dat"
	expect_status 0 herd_user fs put "$WORK/src/empty" "$img:0:/ssh"
	expect_status 0 herd_user fs mkdir "$img:0:/a/b/c"
	expect_status 0 herd_user fs put "$WORK/src/odd" "$img:0:/a/b/c/Ünïcödé name.bin"
	expect_status 0 herd_user fs put "$WORK/src/small" "$img:0:/a/b/overwritten"
	expect_status 0 herd_user fs put "$WORK/src/odd" "$img:0:/a/b/overwritten"
	expect_status 0 herd_user fs put "$WORK/src/small" "$img:0:/doomed.txt"
	expect_status 0 herd_user fs rm "$img:0:/doomed.txt"
	expect_status 0 herd_user fs rm -r "$img:0:/mtdir"

	fat_clean "$img"
	mtype -i "$img" ::/config.txt >"$WORK/m1" && same_file "$WORK/src/small" "$WORK/m1" "FAT$fat config.txt via mtype"
	mcopy -n -i "$img" "::/A Long Name With Spaces.dat" "$WORK/m2" && same_file "$WORK/src/big" "$WORK/m2" "FAT$fat big file via mcopy"
	mcopy -n -i "$img" "::/a/b/c/Ünïcödé name.bin" "$WORK/m3" && same_file "$WORK/src/odd" "$WORK/m3" "FAT$fat unicode via mcopy"
	mcopy -n -i "$img" "::/a/b/overwritten" "$WORK/m4" && same_file "$WORK/src/odd" "$WORK/m4" "FAT$fat overwrite"
	# config.txt fits 8.3 in lower case: mtools must show it lower case (NT case bits).
	mdir -i "$img" ::/ | grep -q '^config   txt' || fail "FAT$fat: config.txt short entry not 'config txt'"
	names=$(mdir -b -i "$img" ::/ | sed 's|^::/||' | sort)
	want=$(printf '%s\n' "A Long Name With Spaces.dat" "Grüße.bin" "README.TXT" "a/" "config.txt" "ssh" | sort)
	[ "$names" = "$want" ] || fail "FAT$fat root listing: got [$names] want [$want]"
	mdir -i "$img" ::/mtdir >/dev/null 2>&1 && fail "FAT$fat: removed directory still listed"
	rm -f "$WORK"/m[1-4]
done

# FAT32 boot partition inside an MBR image, addressed by role.
img=$WORK/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null
chmod a+rw "$img"
expect_status 0 herd_user fs put "$WORK/src/small" "$img:boot:/userconf.txt"
expect_output "$(cat "$WORK/src/small")" herd_user fs cat "$img:1:/userconf.txt"
extract_part "$img" 1 "$WORK/boot.part"
fat_clean "$WORK/boot.part"
mtype -i "$WORK/boot.part" ::/userconf.txt >"$WORK/m5" && same_file "$WORK/src/small" "$WORK/m5" "boot partition write"

finish
