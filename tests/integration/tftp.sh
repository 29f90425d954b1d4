#!/bin/bash
# tftp.sh — herd serve's TFTP and HTTP against real clients, in two network
# namespaces joined by a veth pair (nothing leaves them):
#   tftp-hpa, atftp (blksize, tsize, windowsize 8), busybox tftp and curl
#   fetch files intact, with and without options; 50 transfers at once
#   (tests/net/tftp_load) and the per-client limit; a 33 MiB file with
#   blksize 512 (block numbers roll over past 65535); a file from an image's
#   boot partition compared with mtools' copy; per-serial fallback;
#   refused and ignored packets (traversal, absolute paths, symlinks out of
#   the root, WRQ, unknown opcodes, truncated, malformed and oversized
#   requests) each leave a log line and the next transfer still works;
#   duplicate RRQs, duplicate ACKs, the Pi's abort after block 1;
#   HTTP: whole files, Range, the Pi 4/5 HTTP boot files (net_install/boot.img
#   and boot.sig), /healthz, IPv6 ([::]:PORT, v4 too); privileges dropped; SIGHUP;
#   SIGTERM
#   drains a running transfer.
# Needs root (namespaces); skips (77) without it or without the clients.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "tftp.sh: needs root for network namespaces: skipped"
	exit 77
fi
for tool in ip tftp atftp busybox curl mcopy python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "tftp.sh: $tool not installed: skipped"
		exit 77
	fi
done

id=$$$RANDOM
NS_S=herd-t-$id-s
NS_C=herd-t-$id-c
SRV=10.231.$((RANDOM % 200 + 20)).1
CLI=${SRV%.1}.2
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS_S" && ip netns add "$NS_C" || exit 1
ip link add veth-s netns "$NS_S" type veth peer name veth-c netns "$NS_C" || exit 1
ip -n "$NS_S" addr add "$SRV/24" dev veth-s
ip -n "$NS_C" addr add "$CLI/24" dev veth-c
ip -n "$NS_S" link set veth-s up
ip -n "$NS_C" link set veth-c up
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set lo up

in_c() { ip netns exec "$NS_C" "$@"; }

# The served tree: readable by the unprivileged user herd drops to.
chmod 0755 "$WORK"
ROOT=$WORK/root
DL=$WORK/download
mkdir -p "$ROOT/1234abcd" "$ROOT/overlays" "$DL"
head -c 100 /dev/urandom >"$ROOT/small.bin"
head -c 3000000 /dev/urandom >"$ROOT/medium.bin"
head -c $((1024 * 512)) /dev/urandom >"$ROOT/exact.bin"
: >"$ROOT/empty.bin"
head -c $((33 * 1024 * 1024)) /dev/urandom >"$ROOT/big.bin"
# Pi 4/5 HTTP boot (netboot notes): the bootloader GETs boot.img and
# boot.sig from HTTP_PATH (default net_install) on HTTP_HOST:HTTP_PORT.
mkdir -p "$ROOT/net_install"
head -c $((5 * 1024 * 1024 + 17)) /dev/urandom >"$ROOT/net_install/boot.img"
sha256sum "$ROOT/net_install/boot.img" | cut -d' ' -f1 >"$ROOT/net_install/boot.sig"
printf 'shared config\n' >"$ROOT/config.txt"
printf 'board 1234abcd\n' >"$ROOT/1234abcd/config.txt"
printf 'line one\nline two\n' >"$ROOT/overlays/text.txt"
echo secret >"$WORK/secret"
ln -s ../secret "$ROOT/escape"
chmod -R a+rX "$ROOT"

LOG=$WORK/serve.log
start_herd() { # LOGFILE ARGS...
	local log=$1
	shift
	ip netns exec "$NS_S" "$HERD" serve --dhcp off "$@" 2>"$log" &
	PIDS+=($!)
	HERD_PID=$!
	for _ in $(seq 50); do
		grep -q "ready on" "$log" && return 0
		sleep 0.1
	done
	fail "herd serve did not start: $(cat "$log")"
	return 1
}
start_herd "$LOG" --interface veth-s --tftp-root "$ROOT" --http "$SRV:8080" || {
	finish
	exit 1
}
MAIN_PID=$HERD_PID

check_file() { # WHAT FILE OUT
	TESTS_RUN=$((TESTS_RUN + 1))
	if [ ! -f "$3" ]; then
		fail "$1: nothing fetched"
		return 1
	fi
	same_file "$ROOT/$2" "$3" "$1"
}

# Privileges: bound as root, now nobody.
TESTS_RUN=$((TESTS_RUN + 1))
uid=$(awk '/^Uid:/ {print $3}' "/proc/$MAIN_PID/status")
[ "$uid" = 65534 ] || fail "herd serve still runs as uid $uid"

# ---- real clients ----
for f in small.bin medium.bin exact.bin empty.bin config.txt; do
	rm -f "$DL/x"
	(cd "$DL" && in_c tftp -m binary "$SRV" -c get "$f" x) >/dev/null 2>&1
	check_file "tftp-hpa $f" "$f" "$DL/x"

	rm -f "$DL/x"
	in_c atftp -g -r "$f" -l "$DL/x" "$SRV" >/dev/null 2>&1
	check_file "atftp $f" "$f" "$DL/x"
	rm -f "$DL/x"
	in_c atftp --option "blksize 1400" --option "tsize 0" --option "windowsize 8" \
		-g -r "$f" -l "$DL/x" "$SRV" >/dev/null 2>&1
	check_file "atftp windowsize 8 blksize 1400 tsize $f" "$f" "$DL/x"

	rm -f "$DL/x"
	in_c busybox tftp -g -r "$f" -l "$DL/x" "$SRV" >/dev/null 2>&1
	check_file "busybox tftp $f" "$f" "$DL/x"
	rm -f "$DL/x"
	in_c busybox tftp -b 1468 -g -r "$f" -l "$DL/x" "$SRV" >/dev/null 2>&1
	check_file "busybox tftp -b 1468 $f" "$f" "$DL/x"

	rm -f "$DL/x"
	in_c curl -s --tftp-no-options -o "$DL/x" "tftp://$SRV/$f"
	check_file "curl --tftp-no-options $f" "$f" "$DL/x"
	rm -f "$DL/x"
	in_c curl -s --tftp-blksize 1468 -o "$DL/x" "tftp://$SRV/$f"
	check_file "curl --tftp-blksize 1468 $f" "$f" "$DL/x"
done

# netascii (tftp-hpa's default mode): LF arrives as CR LF, the client
# turns it back.
rm -f "$DL/x"
(cd "$DL" && in_c tftp -m netascii "$SRV" -c get overlays/text.txt x) >/dev/null 2>&1
check_file "tftp-hpa netascii" overlays/text.txt "$DL/x"

# The MTU caps blksize: veth has 1500, so 1468 at most.
TESTS_RUN=$((TESTS_RUN + 1))
grep -q "small.bin: sending small.bin (100 bytes, blksize 1400, windowsize 8)" "$LOG" ||
	fail "atftp blksize 1400 was not accepted as asked, or the log lacks it"
in_c curl -s --tftp-blksize 65464 -o "$DL/x" "tftp://$SRV/medium.bin"
check_file "curl --tftp-blksize 65464 (capped by MTU)" medium.bin "$DL/x"
TESTS_RUN=$((TESTS_RUN + 1))
grep -q "medium.bin: sending medium.bin (3000000 bytes, blksize 1468," "$LOG" ||
	fail "blksize 65464 was not capped to 1468 by the veth MTU"

# Rollover: 33 MiB in 512-byte blocks is 67585 blocks.
rm -f "$DL/x"
in_c curl -s --tftp-blksize 512 -o "$DL/x" "tftp://$SRV/big.bin"
check_file "curl 33 MiB blksize 512 (rollover)" big.bin "$DL/x"
rm -f "$DL/x"
in_c busybox tftp -g -r big.bin -l "$DL/x" "$SRV" >/dev/null 2>&1
check_file "busybox 33 MiB blksize 512 (rollover)" big.bin "$DL/x"

# Per-serial directories: own file first, shared file as fallback.
rm -f "$DL/x"
in_c curl -s -o "$DL/x" "tftp://$SRV/1234abcd/config.txt"
check_file "serial's own config.txt" 1234abcd/config.txt "$DL/x"
rm -f "$DL/x"
in_c curl -s -o "$DL/x" "tftp://$SRV/1234abcd/medium.bin"
check_file "serial falls back to shared medium.bin" medium.bin "$DL/x"

# Many at once: 50 transfers of medium.bin from one client process
# (tests/net/tftp_load, every block compared with the file), in lock step
# and with windowsize 4; then 70 at once, past the per-client limit of 64:
# 64 complete intact and 6 are refused with an error packet.
LOAD=${HERD_BUILD_ROOT:?}/tests/net/tftp_load
for w in 1 4; do
	TESTS_RUN=$((TESTS_RUN + 1))
	out=$(in_c "$LOAD" -w "$w" -c "$ROOT/medium.bin" "$SRV" medium.bin 50 2>&1) ||
		fail "50 concurrent transfers, windowsize $w: $out"
	case $out in
	"50 transfers, 50 ok, 150000000 bytes"*) ;;
	*) fail "50 concurrent transfers, windowsize $w: $out" ;;
	esac
done
TESTS_RUN=$((TESTS_RUN + 1))
out=$(in_c "$LOAD" -c "$ROOT/medium.bin" "$SRV" medium.bin 70 2>&1)
case $out in
*"70 transfers, 64 ok, 192000000 bytes"*) ;;
*) fail "70 transfers past the per-client limit: $out" ;;
esac
[ "$(grep -c "server error: too many transfers" <<<"$out")" = 6 ] ||
	fail "70 transfers: 6 should be refused with 'too many transfers': $out"

# ---- bad input: refused or ignored, with a log line ----
probe() { # CASE WANT [LOG FRAGMENT]
	TESTS_RUN=$((TESTS_RUN + 1))
	local got
	got=$(in_c python3 "$HERD_SOURCE_ROOT/tests/integration/tftp_probe.py" "$SRV" 69 "$1")
	if [ "$got" != "$2" ]; then
		fail "probe $1: got '$got', want '$2'"
	fi
	if [ -n "${3:-}" ] && ! grep -qF -- "$3" "$LOG"; then
		fail "probe $1: no log line with '$3'"
	fi
}
probe wrq "error 2" "refused write request"
probe opcode9 "error 4" "not a read or write request"
probe truncated "no reply" "ignored 1-byte packet"
probe ack-on-69 "no reply" "ignored 4-byte packet (opcode 4)"
probe no-nul "error 4" "filename not terminated"
probe traversal "error 2" "../etc/passwd: '..' in path"
probe deep-traversal "error 2"
probe absolute "error 2" "/etc/passwd: absolute path"
probe symlink-out "error 2" "escape: path leaves the root"
probe control "error 2" "control character in filename"
probe unpaired-option "error 4" "option without a value"
probe oversized "error 4" "longer than 512 bytes"
probe bad-mode "error 4" "unsupported transfer mode"
probe missing "error 1" "bootsig.bin: no such file"
probe options "oack blksize 1468 tsize 100 timeout 2 windowsize 4"
probe duplicate-rrq "transfers 1"
probe pi-abort "oack blksize 1024, data 1, then no reply" "medium.bin: client ended the transfer (error 0) after 0 of 2930 blocks"
TESTS_RUN=$((TESTS_RUN + 1))
copies=$(in_c python3 "$HERD_SOURCE_ROOT/tests/integration/tftp_probe.py" "$SRV" 69 dup-acks)
n=${copies##*: }
if [ -z "$n" ] || [ "$n" -ge 10 ]; then
	fail "duplicate ACKs caused resends: $copies"
fi
# ... and the server still serves.
rm -f "$DL/x"
in_c curl -s -o "$DL/x" "tftp://$SRV/medium.bin"
check_file "transfer after bad input" medium.bin "$DL/x"

# ---- HTTP ----
rm -f "$DL/x"
in_c curl -sf -o "$DL/x" "http://$SRV:8080/big.bin"
check_file "http whole file" big.bin "$DL/x"
TESTS_RUN=$((TESTS_RUN + 1))
in_c curl -sf -r 1000000-1999999 "http://$SRV:8080/big.bin" >"$DL/range"
cmp -s "$DL/range" <(tail -c +1000001 "$ROOT/big.bin" | head -c 1000000) ||
	fail "http Range 1000000-1999999 differs"
TESTS_RUN=$((TESTS_RUN + 1))
in_c curl -sf -r -100 "http://$SRV:8080/medium.bin" >"$DL/range"
cmp -s "$DL/range" <(tail -c 100 "$ROOT/medium.bin") || fail "http suffix Range differs"
# Pi 4/5 HTTP boot: both files as the bootloader asks for them, with a
# Content-Length it can size its buffer by.
for f in boot.img boot.sig; do
	rm -f "$DL/x" "$DL/headers"
	in_c curl -sf -D "$DL/headers" -o "$DL/x" "http://$SRV:8080/net_install/$f"
	check_file "http boot path net_install/$f" "net_install/$f" "$DL/x"
	TESTS_RUN=$((TESTS_RUN + 1))
	grep -qi "^content-length: $(stat -c %s "$ROOT/net_install/$f")"$'\r'"\?$" "$DL/headers" ||
		fail "net_install/$f: no Content-Length of its size: $(cat "$DL/headers")"
done
expect_output "ok" in_c curl -sf "http://$SRV:8080/healthz"
expect_output "416" in_c curl -s -o /dev/null -w '%{http_code}' -r 5000000- "http://$SRV:8080/medium.bin"
expect_output "404" in_c curl -s -o /dev/null -w '%{http_code}' "http://$SRV:8080/nothere"
expect_output "403" in_c curl -s -o /dev/null -w '%{http_code}' --path-as-is "http://$SRV:8080/../secret"
expect_output "403" in_c curl -s -o /dev/null -w '%{http_code}' "http://$SRV:8080/escape"

# ---- HTTP on IPv6 (the server namespace's loopback) ----
LOG6=$WORK/serve-v6.log
if start_herd "$LOG6" --tftp-root "$ROOT" --tftp-port 6971 --http "[::]:8083"; then
	rm -f "$DL/x"
	ip netns exec "$NS_S" curl -sfg -o "$DL/x" "http://[::1]:8083/medium.bin"
	check_file "http over IPv6 [::1]:8083" medium.bin "$DL/x"
	TESTS_RUN=$((TESTS_RUN + 1))
	grep -q "http: ::1 GET /medium.bin: 200" "$LOG6" || fail "no IPv6 peer in the HTTP log line"
	rm -f "$DL/x"
	ip netns exec "$NS_S" curl -sf -o "$DL/x" "http://127.0.0.1:8083/small.bin"
	check_file "http [::]:8083 takes IPv4 too" small.bin "$DL/x"
	kill -TERM "$HERD_PID"
	wait "$HERD_PID"
fi
expect_status 1 "$HERD" serve --dhcp off --http "[::1:8084" &&
	case $ERR in *"expected [ADDR6]:PORT"*) ;; *) fail "bad IPv6 listen address: $ERR" ;; esac

# ---- an image's boot partition as the root ----
IMG=$WORK/sample.img
"$HERD_SOURCE_ROOT/scripts/make-sample-image.sh" "$IMG" 160M 0 64 >/dev/null 2>&1 ||
	fail "make-sample-image.sh failed"
off=$(part_offset "$IMG" 1)
LOG2=$WORK/serve-image.log
if start_herd "$LOG2" --tftp-root "$IMG:boot:/" --tftp-port 6969 --http "$SRV:8081"; then
	for f in config.txt cmdline.txt kernel8.img overlays/README; do
		rm -f "$DL/x" "$DL/want"
		mcopy -n -i "$IMG@@$off" "::$f" "$DL/want"
		in_c curl -s --tftp-blksize 1468 -o "$DL/x" "tftp://$SRV:6969/$f"
		TESTS_RUN=$((TESTS_RUN + 1))
		cmp -s "$DL/want" "$DL/x" || fail "image boot:/$f over TFTP differs from mcopy's"
		rm -f "$DL/x"
		in_c curl -sf -o "$DL/x" "http://$SRV:8081/$f"
		TESTS_RUN=$((TESTS_RUN + 1))
		cmp -s "$DL/want" "$DL/x" || fail "image boot:/$f over HTTP differs from mcopy's"
	done
	TESTS_RUN=$((TESTS_RUN + 1))
	in_c curl -sf -r 10-19 "http://$SRV:8081/kernel8.img" | cmp -s - <(printf kkkkkkkkkk) ||
		fail "image Range request differs"
	kill -TERM "$HERD_PID"
	wait "$HERD_PID"
fi

# ---- SIGHUP reloads; SIGTERM drains a running transfer ----
printf 'added later\n' >"$ROOT/late.txt"
chmod a+r "$ROOT/late.txt"
kill -HUP "$MAIN_PID"
sleep 0.3
TESTS_RUN=$((TESTS_RUN + 1))
grep -q "reloaded $ROOT" "$LOG" || fail "SIGHUP: no reload log line"
rm -f "$DL/x"
in_c curl -s -o "$DL/x" "tftp://$SRV/late.txt"
check_file "file added before SIGHUP" late.txt "$DL/x"

rm -f "$DL/x"
in_c curl -s --tftp-blksize 512 -o "$DL/x" "tftp://$SRV/big.bin" &
client=$!
for _ in $(seq 50); do
	grep -q "big.bin: sending big.bin (34603008 bytes, blksize 512" <(tail -n 3 "$LOG") && break
	sleep 0.05
done
kill -TERM "$MAIN_PID"
wait "$client"
wait "$MAIN_PID"
status=$?
TESTS_RUN=$((TESTS_RUN + 1))
[ "$status" -eq 0 ] || fail "herd serve exited $status after SIGTERM"
check_file "transfer running at SIGTERM finished" big.bin "$DL/x"
TESTS_RUN=$((TESTS_RUN + 1))
grep -q "drained: exiting" "$LOG" || fail "SIGTERM: no drain log line: $(tail -n 5 "$LOG")"

if [ "$TESTS_FAILED" -ne 0 ]; then
	echo "--- serve log (tail) ---" >&2
	tail -n 40 "$LOG" >&2
fi
finish
