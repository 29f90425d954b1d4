#!/bin/bash
# build.sh — `herd build` of a small fleet from a Pi-layout sample image, as
# an unprivileged user, checked with independent tools: sha256sum against
# manifest.json, debugfs for each host's /etc/hostname and key, e2fsck -fn
# and fsck.fat -n clean, raw output sparse, `xz --robot --list` showing
# more than one block, `xz -dc` and `zstd -d` giving herd's raw output back,
# the base image unchanged, reproducible outputs with SOURCE_DATE_EPOCH,
# and bad input (unknown host, missing --out, bad --compress).
. "$(dirname "$0")/lib.sh"

img=$WORK/base.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$img" 160M 0 64 >/dev/null || { fail "sample image"; finish; exit; }
chmod a+r "$img"
base_sum=$(sha256sum <"$img" | cut -c1-64)
off=$(part_offset "$img" 2)

ssh-keygen -q -t ed25519 -N '' -C 'me@laptop' -f "$WORK/key" || fail "ssh-keygen"
cat >"$WORK/fleet.yaml" <<'EOT'
image: base.img
defaults:
  ssh: { enabled: true, authorized_keys: [key.pub], password_auth: false }
  timezone: Europe/Berlin
hosts:
  red[01-03]:
    ipaddr: 10.1.1.[11-13]
EOT
chmod a+r "$WORK"/*
export SOURCE_DATE_EPOCH=1700000000

# Raw, all hosts, two at a time.
expect_status 0 herd_user --quiet build --config "$WORK/fleet.yaml" --out "$WORK/out" --jobs 2
for h in red01 red02 red03; do
	f=$WORK/out/$h.img
	[ -f "$f" ] || { fail "$h.img missing"; continue; }
	sum=$(sha256sum <"$f" | cut -c1-64)
	want=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print([x for x in m['hosts'] if x['host']==sys.argv[2]][0]['raw_sha256'])" "$WORK/out/manifest.json" "$h")
	[ "$sum" = "$want" ] || fail "$h: sha256sum $sum, manifest $want"
	got=$(debugfs -R "cat /etc/hostname" "$f?offset=$off" 2>/dev/null)
	[ "$got" = "$h" ] || fail "$h: /etc/hostname is '$got'"
	debugfs -R "cat /home/pi/.ssh/authorized_keys" "$f?offset=$off" 2>/dev/null | cmp -s - "$WORK/key.pub" ||
		fail "$h: authorized_keys differ"
	got=$(debugfs -R "cat /etc/NetworkManager/system-connections/eth0.nmconnection" "$f?offset=$off" 2>/dev/null | grep '^address1=')
	n=${h#red0}
	[ "$got" = "address1=10.1.1.1$n/24" ] || fail "$h: address line '$got'"
	ext_clean "$f?offset=$off"
	extract_part "$f" 1 "$WORK/boot.part" && fat_clean "$WORK/boot.part"
	# Sparse: far fewer blocks than the 160 MiB size.
	used=$(($(stat -c %b "$f") * 512))
	[ "$used" -lt $((80 << 20)) ] || fail "$h: not sparse ($used bytes allocated)"
done
[ "$(sha256sum <"$img" | cut -c1-64)" = "$base_sum" ] || fail "the base image changed"
python3 - "$WORK/out/manifest.json" "$base_sum" <<'EOP' || fail "manifest content"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["build_time"] == "2023-11-14T22:13:20Z", m["build_time"]
assert m["compress"] == "none"
assert [h["host"] for h in m["hosts"]] == ["red01", "red02", "red03"]
for h in m["hosts"]:
    assert h["ok"] and h["source_sha256"] == sys.argv[2], h
    assert h["sha256"] == h["raw_sha256"] and h["size"] == h["raw_size"]
    assert len(h["settings_sha256"]) == 64
assert len({h["settings_sha256"] for h in m["hosts"]}) == 3
EOP
ls -A "$WORK/out" | grep -q tmp && fail "temporary files left in the output directory"

# Reproducible: the same build again gives the same bytes and manifest.
cp "$WORK/out/manifest.json" "$WORK/manifest.first"
expect_status 0 herd_user --quiet build --config "$WORK/fleet.yaml" --out "$WORK/out" --hosts red01
python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['hosts'][0]; b=json.load(open(sys.argv[2]))['hosts'][0]; assert a==b, (a,b)" \
	"$WORK/manifest.first" "$WORK/out/manifest.json" || fail "second build of red01 differs"

# xz: several blocks, decompresses to the raw output; zstd the same.
expect_status 0 herd_user --quiet build --config "$WORK/fleet.yaml" --out "$WORK/xz" --hosts red02 \
	--compress xz --level 1 --block-size 4M
blocks=$(xz --robot --list "$WORK/xz/red02.img.xz" | awk '$1 == "totals" { print $3 }')
[ "${blocks:-0}" -gt 1 ] || fail "xz output has ${blocks:-no} blocks, want more than 1"
xz -t "$WORK/xz/red02.img.xz" || fail "xz -t"
xz -T2 -dc "$WORK/xz/red02.img.xz" | cmp -s - "$WORK/out/red02.img" || fail "xz output differs from raw"
sum=$(sha256sum <"$WORK/xz/red02.img.xz" | cut -c1-64)
grep -q "\"sha256\": \"$sum\"" "$WORK/xz/manifest.json" || fail "xz file sha256 not in manifest"
grep -q "\"raw_sha256\": \"$(sha256sum <"$WORK/out/red02.img" | cut -c1-64)\"" "$WORK/xz/manifest.json" ||
	fail "xz manifest raw_sha256"
expect_status 0 herd_user --quiet build --config "$WORK/fleet.yaml" --out "$WORK/zst" --hosts red03 --compress zstd
zstd -qdc "$WORK/zst/red03.img.zst" | cmp -s - "$WORK/out/red03.img" || fail "zstd output differs from raw"

# JSON results.
expect_status 0 herd_user --json build --config "$WORK/fleet.yaml" --out "$WORK/j" --hosts red01
python3 -c "import json,sys; r=json.loads(sys.argv[1]); assert r[0]['host']=='red01' and r[0]['ok']" "$OUT" ||
	fail "--json output: $OUT"

# Bad input.
expect_error 1 "no host 'blue01'" herd_user build --config "$WORK/fleet.yaml" --out "$WORK/x" --hosts blue01
expect_error 2 "--out" herd_user build --config "$WORK/fleet.yaml"
expect_error 2 "--compress" herd_user build --config "$WORK/fleet.yaml" --out "$WORK/x" --compress gzip
expect_error 1 "nope.img" herd_user build --config "$WORK/fleet.yaml" --out "$WORK/x" "$WORK/nope.img"
finish
