#!/bin/bash
# store_sources.sh — every IMAGE argument goes through one resolver: a raw
# file, a store name, a compressed file (.xz, multi-block) and a URL
# (python3 -m http.server on 127.0.0.1).  herd burn from each must give a
# card whose partition table and partitions are byte-identical to
# `xz -dc` of the source (and pass herd's own --verify-only); a second use
# is warm (no new entry, no second download); herd customize and fs edits
# refuse store names, URLs and compressed files with a hint and change
# nothing; image info / map / fs cat read them.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "store_sources.sh: python3 needed"; exit 77; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
export HERD_STORE=$WORK/store
unset XDG_DATA_HOME

srv=$WORK/srv
mkdir -p "$srv"
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$WORK/pi.img" 160M 0 64 >/dev/null
xz -T2 --block-size=4MiB -c "$WORK/pi.img" >"$srv/pi.img.xz"
zstd -q -c "$WORK/pi.img" >"$srv/web.img.zst"
# The independent reference: what xz itself makes of the download.
xz -dc "$srv/pi.img.xz" >"$WORK/ref.img"

(cd "$srv" && exec python3 -u -m http.server --bind 127.0.0.1 0) >"$WORK/http.out" 2>"$WORK/http.log" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$WORK"' EXIT
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$WORK/http.out" | head -1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "store_sources.sh: http.server did not start"; exit 1; }
url=http://127.0.0.1:$port

entries() { "$HERD" image ls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
gets() { grep -c "\"GET $1 " "$WORK/http.log"; }

# same_card TARGET WHAT — table and both partitions equal to the reference.
same_card() {
	cmp -s -n $((1 << 20)) "$1" "$WORK/ref.img" || fail "$2: first MiB (partition table) differs"
	for p in 1 2; do
		extract_part "$WORK/ref.img" $p "$WORK/want.$p"
		local off size
		off=$(part_offset "$WORK/ref.img" $p)
		size=$(part_size "$WORK/ref.img" $p)
		cmp -s "$WORK/want.$p" <(dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$off" \
			count="$size" status=none) || fail "$2: partition $p differs from xz -dc"
	done
}

# .xz path: unpacked into the store once, burned from the raw copy.
expect_status 0 "$HERD" -q burn "$srv/pi.img.xz" --device "$WORK/t-xz" --yes
same_card "$WORK/t-xz" "burn .xz"
expect_status 0 "$HERD" -q burn "$srv/pi.img.xz" --device "$WORK/t-xz" --verify-only
[ "$(entries)" -eq 1 ] || fail "burn .xz: $(entries) store entries, want 1"
expect_output "pi" sh -c "'$HERD' image ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"name\"])'"
# Warm: a second burn imports nothing.
expect_status 0 "$HERD" -q burn "$srv/pi.img.xz" --device "$WORK/t-xz2" --yes
[ "$(entries)" -eq 1 ] || fail "second burn .xz: $(entries) store entries, want 1"
same_card "$WORK/t-xz2" "warm burn .xz"

# Store name.
expect_status 0 "$HERD" -q burn pi --device "$WORK/t-name" --yes
same_card "$WORK/t-name" "burn store name"
expect_status 0 "$HERD" -q burn pi --device "$WORK/t-name" --verify-only

# URL: fetched once (its name "web"), then warm.
expect_status 0 "$HERD" -q burn "$url/web.img.zst" --device "$WORK/t-url" --yes
same_card "$WORK/t-url" "burn URL"
expect_status 0 "$HERD" -q burn "$url/web.img.zst" --device "$WORK/t-url" --verify-only
expect_status 0 "$HERD" -q burn "$url/web.img.zst" --device "$WORK/t-url2" --yes
[ "$(gets /web.img.zst)" -eq 1 ] || fail "burn URL: downloaded $(gets /web.img.zst) times, want 1"
[ "$(entries)" -eq 2 ] || fail "burn URL: $(entries) store entries, want 2"

# Raw file: used in place, nothing imported.
expect_status 0 "$HERD" -q burn "$WORK/ref.img" --device "$WORK/t-raw" --yes
same_card "$WORK/t-raw" "burn raw file"
[ "$(entries)" -eq 2 ] || fail "burn raw file imported something: $(entries) entries"

# Another name clash: a different source whose derived name is taken.
mkdir -p "$srv/other"
cp "$srv/web.img.zst" "$srv/other/pi.img.zst"
expect_status 0 "$HERD" -q burn "$srv/other/pi.img.zst" --device "$WORK/t-clash" --yes
same_card "$WORK/t-clash" "burn .zst whose name is taken"

# Readers: image info, map and fs cat take every kind.
expect_status 0 "$HERD" image info "$srv/pi.img.xz"
[[ $OUT == *"store:  pi"* ]] || fail "image info .xz: no store lines: $OUT"
expect_status 0 "$HERD" --json image map "$url/web.img.zst"
[[ $OUT == *'"used": '* ]] || fail "image map URL: $OUT"
expect_status 0 "$HERD" fs cat "$srv/pi.img.xz:root:/etc/os-release"
[[ $OUT == *bookworm* ]] || fail "fs cat .xz: $OUT"
expect_status 0 "$HERD" fs cat "$url/web.img.zst:2:/etc/hostname"

# Edits in place refuse what is not a raw file, and change nothing.
before=$(sha256sum "$HERD_STORE/images/pi.img" | cut -c1-64)
n=$(entries)
expect_error 1 "herd build" "$HERD" customize pi --hostname x
expect_error 1 "herd build" "$HERD" customize "$url/web.img.zst" --hostname x
expect_error 1 "herd build" "$HERD" customize "$srv/pi.img.xz" --hostname x
echo x >"$WORK/x"
expect_error 1 "compressed" "$HERD" fs put "$WORK/x" "$srv/pi.img.xz:root:/etc/x"
expect_error 1 "URL" "$HERD" fs put "$WORK/x" "$url/new.img.zst:root:/etc/x"
[ "$(sha256sum "$HERD_STORE/images/pi.img" | cut -c1-64)" = "$before" ] || fail "store entry changed"
[ "$(entries)" -eq "$n" ] || fail "refused edits imported something"

# Nothing of that name anywhere.
expect_error 1 "no such file" "$HERD" burn nosuch --device "$WORK/t-none" --yes
[ ! -e "$WORK/t-none" ] || fail "burn of a missing image created the target"
expect_error 1 "HTTP 404" "$HERD" burn "$url/missing.img.xz" --device "$WORK/t-404" --yes

finish
