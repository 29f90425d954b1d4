#!/bin/bash
# devices.sh — `herd devices` as a user sees it, against the fake sysfs
# tree of the unit tests (tests/unit/data/sysfs/basic, see its README):
# a USB SD reader with a card, a native mmcblk slot (removable reads 0 but
# it is an SD card), an NVMe system disk, a read-only card, a 1 TB USB
# disk, through HERD_SYSFS_ROOT / HERD_MOUNTINFO / HERD_SWAPS; the table,
# the JSON and the verdicts (writable, or the reason why not).  Also: burn
# refuses a device of that tree by the same verdict before opening it.
. "$(dirname "$0")/lib.sh"

data=$HERD_SOURCE_ROOT/tests/unit/data/sysfs
export HERD_SYSFS_ROOT=$data/basic HERD_MOUNTINFO=$data/mountinfo HERD_SWAPS=$data/swaps

# check_json FILTER_PY — run a Python assertion over the JSON in $OUT.
check_json() {
	python3 -c "
import json, sys
d = {x['name']: x for x in json.load(sys.stdin)}
$1
" <<<"$OUT" || fail "devices --json: assertion failed: $1"
}

expect_status 0 "$HERD" --json devices --all
check_json '
sdb, mmc, nvme, sdc, sdd = d["sdb"], d["mmcblk0"], d["nvme0n1"], d["sdc"], d["sdd"]
assert sdb["bus"] == "usb" and sdb["removable"] and sdb["writable"], sdb
assert sdb["path"] == "/dev/sdb" and sdb["size"] > 0 and sdb["reason"] is None, sdb
assert mmc["bus"] in ("sd", "mmc") and mmc["removable"] and mmc["writable"], mmc
assert nvme["bus"] == "nvme" and nvme["system"] and not nvme["writable"], nvme
assert nvme["reason"].startswith("system disk"), nvme
assert sdc["read_only"] and not sdc["writable"] and sdc["reason"] == "read-only", sdc
assert not sdd["writable"] and sdd["reason"].startswith("too large"), sdd
assert "ram0" not in d and "loop0" not in d, sorted(d)
'
# Without --all: removable devices only (the NVMe disk is not offered).
expect_status 0 "$HERD" --json devices
check_json 'assert "nvme0n1" not in d and "sdb" in d and "mmcblk0" in d, sorted(d)'
# --force lifts the size limit, never the system disk or read-only.
expect_status 0 "$HERD" --json devices --all --force
check_json 'assert d["sdd"]["writable"] and not d["nvme0n1"]["writable"] and not d["sdc"]["writable"]'
# A mounted partition of the reader's card.
HERD_MOUNTINFO=$data/mountinfo-mounted expect_status 0 "$HERD" --json devices
check_json '
s = d["sdb"]
assert not s["writable"] and s["reason"].startswith("mounted"), s
assert any("/media/pi/boot fs" in m for m in s["mounted"]), s
'
# The table: one row per device, the verdict readable.
expect_status 0 "$HERD" devices --all
for want in /dev/sdb /dev/mmcblk0 /dev/nvme0n1 /dev/sdc "system disk" read-only; do
	[[ $OUT == *"$want"* ]] || fail "devices table lacks '$want': $OUT"
done
# A missing sysfs root is a clear error.
HERD_SYSFS_ROOT=$WORK/nothing expect_error 1 "$WORK/nothing" "$HERD" devices
finish
