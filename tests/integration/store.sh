#!/bin/bash
# store.sh — the image store end to end against a local HTTP server on
# 127.0.0.1 (tests/integration/store_server.py: ranges, throttling,
# truncation, redirects): get in every format, byte-identical and sparse
# raw images, resume after a killed get, the three checksum sources and
# their failures, 404, truncated bodies, corrupt archives, concurrent gets,
# rm of an entry in use, OS lists, and store names as IMAGE arguments.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "store.sh: python3 needed for the test server"; exit 77; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
export HERD_STORE=$WORK/store
unset XDG_DATA_HOME HERD_OS_LIST

srv=$WORK/srv
mkdir -p "$srv"
img=$srv/pi.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null
xz -T1 -k -c "$img" >"$srv/pi.img.xz"
xz -T2 --block-size=1MiB -c "$img" >"$srv/pi-multi.img.xz"
zstd -q -c "$img" >"$srv/pi.img.zst"
gzip -c "$img" >"$srv/pi.img.gz"
bzip2 -c "$img" >"$srv/pi.img.bz2"
(cd "$srv" && echo hello >README.txt && zip -q pi.zip README.txt pi.img && zip -q noimg.zip README.txt)
cp "$srv/pi.img.xz" "$srv/corrupt.img.xz"
printf 'GARBAGEGARBAGE' | dd of="$srv/corrupt.img.xz" bs=1 seek=20000 conv=notrunc status=none
cp "$srv/pi.img.gz" "$srv/side.img.gz"
cp "$srv/pi.img.zst" "$srv/badsum.img.zst"
sha256sum "$srv/side.img.gz" | sed 's|  .*/|  |' >"$srv/side.img.gz.sha256"
cp "$srv/pi.img.gz" "$srv/badside.img.gz"
echo "0000000000000000000000000000000000000000000000000000000000000000  badside.img.gz" \
	>"$srv/badside.img.gz.sha256"
head -c $((64 << 20)) /dev/urandom >"$srv/big.img"
# Nonzero 4 KiB blocks of the image, for the sparseness check.
nonzero=$(python3 -c '
import sys
n = 0
with open(sys.argv[1], "rb") as f:
    z = bytes(4096)
    while True:
        b = f.read(4096)
        if not b: break
        if b != z[:len(b)]: n += len(b)
print(n)' "$img")

log=$WORK/server.log
: >"$log"
python3 "$HERD_SOURCE_ROOT/tests/integration/store_server.py" "$srv" "$WORK/port" "$log" $((16 << 20)) &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$WORK/port")

served() { awk -v p="$1" '$1 == p {s += $4} END {print s + 0}' "$log"; }
requests() { awk -v p="$1" '$1 == p {n++} END {print n + 0}' "$log"; }
raw_of() { "$HERD" image ls --json | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["name"] == sys.argv[1]: print(e["path"])' "$1"; }

# Every format: byte-identical to the source image and sparse.
for f in pi.img pi.img.xz pi-multi.img.xz pi.img.zst pi.img.gz pi.img.bz2 pi.zip; do
	name=fmt-${f//./-}
	expect_status 0 "$HERD" -q image get "$url/$f" --name "$name" --no-sidecar || continue
	raw=$(raw_of "$name")
	same_file "$img" "$raw" "get $f" || true
	alloc=$(($(stat -c %b "$raw") * 512))
	[ "$alloc" -le $((nonzero + nonzero / 10)) ] ||
		fail "get $f: $alloc bytes allocated for $nonzero nonzero bytes (not sparse)"
done
xz -dc "$srv/pi-multi.img.xz" | cmp -s - "$(raw_of fmt-pi-multi-img-xz)" ||
	fail "multi-block xz differs from xz -dc"

# ls --json carries everything.
expect_status 0 "$HERD" image ls --json
for key in '"name": "fmt-pi-img-xz"' '"format": "xz"' '"download_sha256": "'"$(sha256sum <"$srv/pi.img.xz" | cut -c1-64)" \
	'"raw_sha256": "'"$(sha256sum <"$img" | cut -c1-64)" '"allocated": ' '"added": ' \
	'"source": "'"$url/pi.img.xz"'"' '"os": "Debian GNU/Linux 12 (bookworm)"'; do
	[[ $OUT == *"$key"* ]] || fail "image ls --json lacks $key"
done
expect_status 0 "$HERD" image ls
[[ $OUT == *fmt-pi-zip* && $OUT == *ALLOCATED* ]] || fail "image ls: $OUT"

# A store name works wherever an IMAGE goes.
expect_output "$("$HERD" fs cat "$img:root:/etc/os-release")" "$HERD" fs cat fmt-pi-img-xz:root:/etc/os-release
expect_status 0 "$HERD" image info fmt-pi-img-zst
[[ $OUT == *"store:  fmt-pi-img-zst"* && $OUT == *"5e3da9a1"* ]] || fail "image info NAME: $OUT"
expect_status 0 "$HERD" --json image info fmt-pi-img-zst
[[ $OUT == *'"store": {'* && $OUT == *'"raw_sha256"'* ]] || fail "image info --json NAME: $OUT"
expect_status 0 "$HERD" image map fmt-pi-img-zst

# A cached get fetches nothing.
before=$(requests /pi.img.xz)
expect_status 0 "$HERD" image get "$url/pi.img.xz" --name fmt-pi-img-xz
[[ $ERR == *"already in the store"* ]] || fail "cached get: $ERR"
[ "$(requests /pi.img.xz)" -eq "$before" ] || fail "cached get fetched again"
expect_status 0 "$HERD" image get fmt-pi-img-xz

# Checksums: --sha256, sidecar, OS list.
sum=$(sha256sum <"$srv/pi.img.bz2" | cut -c1-64)
expect_status 0 "$HERD" --json image get "$url/redirect/pi.img.bz2" --name by-flag --sha256 "$sum"
[[ $OUT == *'"verified_by": "--sha256"'* ]] || fail "--sha256: $OUT"
expect_status 0 "$HERD" --json image get "$url/side.img.gz"
[[ $OUT == *'"verified_by": "sidecar"'* && $OUT == *'"name": "side"'* ]] || fail "sidecar: $OUT"
cat >"$srv/os_list.json" <<JSON
{"os_list": [
 {"name": "Raspberry Pi OS (other)", "subitems": [
  {"name": "Raspberry Pi OS Lite (64-bit)", "url": "$url/2025-05-13-raspios-bookworm-arm64-lite.img.xz",
   "release_date": "2025-05-13", "extract_size": $(stat -c %s "$img"),
   "extract_sha256": "$(sha256sum <"$img" | cut -c1-64)",
   "image_download_size": $(stat -c %s "$srv/pi-multi.img.xz"),
   "image_download_sha256": "$(sha256sum <"$srv/pi-multi.img.xz" | cut -c1-64)",
   "devices": ["pi5-64bit", "pi4-64bit"]},
  {"name": "Raspberry Pi OS Lite (64-bit)", "url": "$url/old.img.xz", "release_date": "2024-01-01",
   "devices": ["pi4-64bit"]},
  {"name": "Raspberry Pi OS Lite (32-bit)", "url": "$url/armhf.img.xz", "release_date": "2025-06-01",
   "devices": ["pi4-32bit"]}
 ]},
 {"name": "Bad sums", "url": "$url/badsum.img.zst", "image_download_sha256": "$(printf '%064d' 1)"}
]}
JSON
cp "$srv/pi-multi.img.xz" "$srv/2025-05-13-raspios-bookworm-arm64-lite.img.xz"
expect_status 0 "$HERD" image versions --os-list "$url/os_list.json"
[[ $OUT == *"2025-05-13"*"Raspberry Pi OS Lite (64-bit)"* ]] || fail "versions: $OUT"
expect_status 0 "$HERD" --json image versions
[[ $OUT == *'"release_date": "2024-01-01"'* ]] || fail "versions (cached): $OUT"
[ -s "$HERD_STORE/os-list.json" ] || fail "os list not cached in the store"
expect_status 0 "$HERD" --json image get latest --os-list "$url/os_list.json" --model pi4 --lite --arch arm64
[[ $OUT == *'"verified_by": "os list"'* && $OUT == *'"version": "2025-05-13"'* &&
	$OUT == *'"name": "2025-05-13-raspios-bookworm-arm64-lite"'* ]] || fail "get latest: $OUT"
expect_error 1 "no Raspberry Pi OS image matches" "$HERD" image get latest --model pi2
expect_error 1 "mismatch (os list)" "$HERD" image get "$url/badsum.img.zst" --name badsum-list
expect_error 1 "mismatch (--sha256)" "$HERD" image get "$url/pi.img.gz" --sha256 "$(printf '%064d' 2)"
echo '{"os_list": [' >"$srv/broken.json"
expect_error 1 "os list" "$HERD" image versions --os-list "$url/broken.json" --refresh

# Failures leave no entry, no temp files, and no partial unless resumable.
expect_error 1 "mismatch" "$HERD" image get "$url/pi.img.gz" --name wrong --sha256 "$(printf '%064d' 0)"
expect_error 1 "mismatch" "$HERD" image get "$url/badside.img.gz"
expect_error 1 "404" "$HERD" image get "$url/missing.img.xz"
expect_error 1 "corrupt" "$HERD" image get "$url/corrupt.img.xz" --no-sidecar
expect_error 1 "no .img" "$HERD" image get "$url/noimg.zip" --no-sidecar
expect_error 1 "truncated" "$HERD" image get "$url/trunc/pi.img.zst" --no-sidecar
expect_error 2 "64 hex" "$HERD" image get "$url/pi.img.gz" --name x --sha256 abc
expect_error 1 "no such" "$HERD" image rm nosuch
expect_status 0 "$HERD" image ls --json
for n in wrong badside missing corrupt noimg badsum-list; do
	[[ $OUT != *"\"name\": \"$n\""* ]] || fail "failed get left entry $n"
done
[ -z "$(ls -A "$HERD_STORE/images" | grep '^\.')" ] || fail "temp files left: $(ls -A "$HERD_STORE/images")"
[ "$(ls "$HERD_STORE/downloads" | wc -l)" -eq 1 ] ||
	fail "downloads/ should hold only the truncated one's partial: $(ls -l "$HERD_STORE/downloads")"

# Resume: kill a throttled get of 64 MiB half-way, get again.
"$HERD" -q image get "$url/slow/big.img" --no-sidecar >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
	part=$(find "$HERD_STORE/downloads" -name '*.partial' -size +20M 2>/dev/null | head -1)
	[ -n "$part" ] && break
	sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -n "$part" ] || fail "resume: no partial download grew"
have=$(stat -c %s "$part" 2>/dev/null || echo 0)
expect_status 0 "$HERD" --json image get "$url/slow/big.img" --no-sidecar
total=$(served /slow/big.img)
size=$((64 << 20))
[[ $OUT == *"\"resumed_from\": $have"* ]] || fail "resume: not resumed from $have: $OUT"
[ $((total - size)) -lt $((size / 10)) ] ||
	fail "resume: served $total bytes for a $size byte file (>10% again)"
same_file "$srv/big.img" "$(raw_of big)" "resumed get" || true
[ -z "$(ls "$HERD_STORE/downloads" | grep -v "^$(basename "$(ls "$HERD_STORE"/downloads/*.partial | head -1)")")" ] || true

# A get killed after its download finished resumes with nothing to fetch.
cp "$srv/pi.img.zst" "$srv/done.img.zst"
key=$(printf '%s' "$url/done.img.zst" | sha256sum | cut -c1-32)
cp "$srv/done.img.zst" "$HERD_STORE/downloads/$key.partial"
expect_status 0 "$HERD" -q image get "$url/done.img.zst" --no-sidecar
[ "$(served /done.img.zst)" -eq 0 ] || fail "complete partial downloaded again: $(served /done.img.zst) bytes"
same_file "$img" "$(raw_of done)" "get from a complete partial" || true
[ ! -e "$HERD_STORE/downloads/$key.partial" ] || fail "partial kept after a successful get"

# Store entries are read-only for fs edits.
echo x >"$WORK/x"
expect_error 1 "read-only" "$HERD" fs put "$WORK/x" done:root:/etc/x

# Two concurrent gets of one source: one download, both succeed.
"$HERD" -q image get "$url/slow/pi.img.zst" --name twice >"$WORK/c1" 2>&1 &
p1=$!
"$HERD" -q image get "$url/slow/pi.img.zst" --name twice >"$WORK/c2" 2>&1 &
p2=$!
wait $p1 || fail "concurrent get 1: $(cat "$WORK/c1")"
wait $p2 || fail "concurrent get 2: $(cat "$WORK/c2")"
[ "$(requests /slow/pi.img.zst)" -eq 1 ] || fail "concurrent gets downloaded $(requests /slow/pi.img.zst) times"
same_file "$img" "$(raw_of twice)" "concurrent get" || true

# rm refuses while another process holds the entry, works after.
raw=$(raw_of twice)
(exec 9<"$raw" && flock -s 9 && exec sleep 3) &
holder=$!
sleep 0.3
expect_error 1 "in use" "$HERD" image rm twice
kill $holder 2>/dev/null
wait $holder 2>/dev/null
expect_status 0 "$HERD" image rm twice
[ ! -e "$raw" ] || fail "rm left $raw"
expect_error 1 "no such" "$HERD" image rm twice

# import of a local file, --store overrides HERD_STORE.
expect_status 0 "$HERD" -q image import "$srv/pi.img.bz2" --name local --store "$WORK/other"
[ -s "$WORK/other/images/local.img" ] || fail "import --store: nothing in $WORK/other"
same_file "$img" "$WORK/other/images/local.img" "import" || true
expect_error 1 "mismatch" "$HERD" image import "$srv/pi.img" --name bad --sha256 "$(printf '%064d' 0)"

finish
