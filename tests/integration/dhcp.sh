#!/bin/bash
# dhcp.sh — herd serve's DHCP against real clients, in two network
# namespaces joined by a veth pair (nothing leaves them):
#   server mode: udhcpc (busybox) and dhclient (isc-dhcp-client) obtain,
#   renew and release leases; a static lease by MAC is honoured; a restart
#   of herd keeps the leases; an address another host on the link answers
#   ARP for is quarantined and not offered; garbage (truncated, bad option lengths, wrong
#   op, huge option lists) is ignored with log lines and herd keeps serving;
#   proxy mode: a Pi 4 bootloader DISCOVER (tests/net/dhcp_probe) gets the
#   PXE offer (option 43 bytes, 60, 66, siaddr, no address) and udhcpc gets
#   nothing from herd.
# Needs root (namespaces); skipped (exit 77) otherwise.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v busybox >/dev/null ||
	! command -v dhclient >/dev/null; then
	echo "dhcp.sh: needs root, ip, busybox and dhclient; skipped"
	exit 77
fi
PROBE=${HERD_BUILD_ROOT:?}/tests/net/dhcp_probe
S=herd-t-$$-s
C=herd-t-$$-c
HERD_PID=
cleanup() {
	[ -n "$HERD_PID" ] && kill "$HERD_PID" 2>/dev/null && wait "$HERD_PID" 2>/dev/null
	for p in "$WORK"/*.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	ip netns del "$S" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$S" && ip netns add "$C" || exit 1
ip link add vS netns "$S" type veth peer name vC netns "$C" || exit 1
ip -n "$S" addr add 10.77.0.1/24 dev vS
ip -n "$S" link set lo up
ip -n "$S" link set vS up
ip -n "$C" link set lo up
ip -n "$C" link set vC up
inc() { ip netns exec "$C" "$@"; }

# Client hook for both udhcpc and dhclient: log the event, configure the
# address (a renewing client sends from it).
# dhclient gives its script a fresh environment: the log path is baked in.
cat >"$WORK/hook" <<EOF
#!/bin/sh
HOOK_LOG=$WORK/hook.log
EOF
cat >>"$WORK/hook" <<'EOF'
reason=${reason:-$1}
addr=${ip:-$new_ip_address}
echo "$reason ${addr:-} ${router:-$new_routers} ${dns:-$new_domain_name_servers} ${domain:-$new_domain_name} ${lease:-$new_dhcp_lease_time}" >>"$HOOK_LOG"
case $reason in
bound | renew | BOUND | RENEW | REBOOT | REBIND)
	ip addr flush dev "$interface"
	ip addr add "$addr/24" dev "$interface" ;;
deconfig | RELEASE | EXPIRE | STOP | PREINIT)
	ip addr flush dev "$interface" ;;
esac
exit 0
EOF
chmod +x "$WORK/hook"
export HOOK_LOG="$WORK/hook.log"

STATIC_MAC=02:00:00:aa:00:42
start_herd() {
	: >"$WORK/herd.log"
	ip netns exec "$S" "$HERD" serve -v --interface vS --db "$WORK/state.db" "$@" \
		2>>"$WORK/herd.log" &
	HERD_PID=$!
	for _ in $(seq 50); do
		grep -q "ready on" "$WORK/herd.log" && return 0
		sleep 0.1
	done
	fail "herd serve did not start: $(cat "$WORK/herd.log")"
	return 1
}
stop_herd() {
	kill "$HERD_PID" && wait "$HERD_PID"
	local rc=$?
	HERD_PID=
	[ $rc -eq 0 ] || fail "herd serve exited $rc on SIGTERM"
}
server_mode() {
	start_herd --dhcp server --range 10.77.0.100-10.77.0.150 --lease-time 10 \
		--router 10.77.0.1 --dns 10.77.0.53,10.77.0.54 --domain test.example \
		--static-lease "$STATIC_MAC=10.77.0.42"
}
set_mac() {
	ip -n "$C" link set vC down
	ip -n "$C" link set vC address "$1"
	ip -n "$C" addr flush dev vC
	ip -n "$C" link set vC up
}
# wait_for FILE PATTERN [TENTHS] — poll until grep matches.
wait_for() {
	for _ in $(seq "${3:-100}"); do
		grep -q "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}
check() {
	TESTS_RUN=$((TESTS_RUN + 1))
	if ! "$@"; then
		fail "$CHECK_WHAT"
		echo "--- herd log:" >&2
		tail -20 "$WORK/herd.log" >&2
		echo "--- hook log:" >&2
		tail -5 "$HOOK_LOG" >&2
	fi
}

server_mode || exit 1

# --- udhcpc: obtain, renew (SIGUSR1), release (SIGUSR2) -------------------
set_mac 02:00:00:00:01:01
: >"$HOOK_LOG"
# not through inc: $! must be udhcpc itself (ip netns exec execs it)
ip netns exec "$C" busybox udhcpc -i vC -f -s "$WORK/hook" -t 5 -T 1 -A 1 >"$WORK/udhcpc.out" 2>&1 &
echo $! >"$WORK/udhcpc.pid"
CHECK_WHAT="udhcpc obtains a lease from the range with router, DNS, domain, lease time"
check wait_for "$HOOK_LOG" "^bound 10\.77\.0\.1[0-5][0-9] 10.77.0.1 10.77.0.53 10.77.0.54 test.example 10$"
UDHCPC_IP=$(awk '/^bound/ {print $2; exit}' "$HOOK_LOG")
kill -USR1 "$(cat "$WORK/udhcpc.pid")"
CHECK_WHAT="udhcpc renews (unicast REQUEST with ciaddr) and herd ACKs it"
check wait_for "$WORK/herd.log" "REQUEST (renewing) from 02:00:00:00:01:01: ACK $UDHCPC_IP"
check wait_for "$HOOK_LOG" "^renew $UDHCPC_IP"
kill -USR2 "$(cat "$WORK/udhcpc.pid")"
CHECK_WHAT="udhcpc releases and herd frees the address"
check wait_for "$WORK/herd.log" "RELEASE from 02:00:00:00:01:01: $UDHCPC_IP is free"
kill "$(cat "$WORK/udhcpc.pid")"
wait "$(cat "$WORK/udhcpc.pid")" 2>/dev/null
rm -f "$WORK/udhcpc.pid"

# --- dhclient: obtain, renew at T1 (lease 10 s → 5 s), release ------------
set_mac 02:00:00:00:02:02
: >"$HOOK_LOG"
ip netns exec "$C" dhclient -d -v -sf "$WORK/hook" -lf "$WORK/dhclient.leases" \
	-pf "$WORK/dhclient.pid" vC >"$WORK/dhclient.out" 2>&1 &
DHCLIENT_PID=$!
CHECK_WHAT="dhclient obtains a lease"
check wait_for "$HOOK_LOG" "^BOUND 10\.77\.0\.1[0-5][0-9] 10.77.0.1 10.77.0.53 10.77.0.54 test.example 10$"
DHCLIENT_IP=$(awk '/^BOUND/ {print $2; exit}' "$HOOK_LOG")
CHECK_WHAT="dhclient renews at T1 and herd ACKs the renewal"
check wait_for "$WORK/herd.log" "REQUEST (renewing) from 02:00:00:00:02:02: ACK $DHCLIENT_IP" 150
check wait_for "$HOOK_LOG" "^RENEW $DHCLIENT_IP" 50
inc dhclient -r -sf "$WORK/hook" -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" vC \
	>>"$WORK/dhclient.out" 2>&1
kill "$DHCLIENT_PID" 2>/dev/null
wait "$DHCLIENT_PID" 2>/dev/null
CHECK_WHAT="dhclient -r releases the lease"
check wait_for "$WORK/herd.log" "RELEASE from 02:00:00:00:02:02: $DHCLIENT_IP is free"
rm -f "$WORK/dhclient.pid"

# --- static lease by MAC ----------------------------------------------------
set_mac "$STATIC_MAC"
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 5 -T 1 >"$WORK/udhcpc.out" 2>&1
CHECK_WHAT="the static lease $STATIC_MAC=10.77.0.42 is honoured"
check grep -q "^bound 10.77.0.42 " "$HOOK_LOG"

# --- a lease survives a restart ---------------------------------------------
set_mac 02:00:00:00:03:03
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 5 -T 1 >"$WORK/udhcpc.out" 2>&1
BEFORE=$(awk '/^bound/ {print $2; exit}' "$HOOK_LOG")
stop_herd
server_mode || exit 1
CHECK_WHAT="herd reloads its leases on start"
check grep -q "[1-9][0-9]* bound" "$WORK/herd.log"
# a different client first: it must not get the address held by 03:03
set_mac 02:00:00:00:04:04
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 5 -T 1 >"$WORK/udhcpc.out" 2>&1
OTHER=$(awk '/^bound/ {print $2; exit}' "$HOOK_LOG")
CHECK_WHAT="after a restart another client does not get $BEFORE (got ${OTHER:-nothing})"
check test -n "$OTHER" -a "$OTHER" != "$BEFORE"
set_mac 02:00:00:00:03:03
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 5 -T 1 -r "$BEFORE" >"$WORK/udhcpc.out" 2>&1
CHECK_WHAT="after a restart the same client gets the same address $BEFORE back"
check grep -q "^bound $BEFORE " "$HOOK_LOG"

# --- conflict check: an address in use on the link is not offered ----------
# A squatter (a macvlan beside the client, a MAC of its own) holds
# 10.77.0.150; the client asks for exactly that address.  herd's ARP probe
# gets the squatter's answer, quarantines the address and offers another.
CHECK_WHAT="herd serve probes offers (ARP socket opened before dropping root)"
check grep -q "conflict check: ARP probe, 200 ms" "$WORK/herd.log"
set_mac 02:00:00:00:06:06
ip netns exec "$C" sysctl -qw net.ipv4.conf.vC.arp_ignore=1
ip -n "$C" link add sq link vC type macvlan mode bridge
ip -n "$C" link set sq address 02:00:00:5a:5a:5a
ip -n "$C" addr add 10.77.0.150/24 dev sq
ip -n "$C" link set sq up
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 5 -T 1 -r 10.77.0.150 >"$WORK/udhcpc.out" 2>&1
CHECK_WHAT="herd logs the conflict with the squatter's MAC"
check grep -q "conflict: 10.77.0.150 is in use on the network by 02:00:00:5a:5a:5a" "$WORK/herd.log"
GOT=$(awk '/^bound/ {print $2; exit}' "$HOOK_LOG")
CHECK_WHAT="the client gets another address than the squatter's (got ${GOT:-nothing})"
check test -n "$GOT" -a "$GOT" != 10.77.0.150
ip -n "$C" link del sq
# a second client asking for it now: quarantined, not offered, no new probe
set_mac 02:00:00:00:07:07
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 5 -T 1 -r 10.77.0.150 >"$WORK/udhcpc.out" 2>&1
GOT=$(awk '/^bound/ {print $2; exit}' "$HOOK_LOG")
CHECK_WHAT="the quarantined address stays unoffered (got ${GOT:-nothing})"
check test -n "$GOT" -a "$GOT" != 10.77.0.150

# --- garbage is ignored, then a normal lease -------------------------------
set_mac 02:00:00:00:05:05
inc "$PROBE" garbage vC
CHECK_WHAT="each malformed packet is ignored with a log line"
check wait_for "$WORK/herd.log" "ignored: packet of 100 bytes is too short"
check wait_for "$WORK/herd.log" "runs past the end"
check wait_for "$WORK/herd.log" "op 2, hardware type 1"
check wait_for "$WORK/herd.log" "ACK from 02:ba:d0:00:00:01 is a server message"
check wait_for "$WORK/herd.log" "message type option of 3 bytes"
check wait_for "$WORK/herd.log" "message type 0 (BOOTP) from 02:ba:d0:00:00:01"
check wait_for "$WORK/herd.log" "ignored: packet of 8 bytes is too short"
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 5 -T 1 >"$WORK/udhcpc.out" 2>&1
CHECK_WHAT="herd still serves after garbage"
check grep -q "^bound 10.77.0." "$HOOK_LOG"
CHECK_WHAT="herd is still running"
check kill -0 "$HERD_PID"

# the clients table has every client, the Pi comes later
CHECK_WHAT="herd state database lists the clients seen"
if command -v sqlite3 >/dev/null; then
	check test "$(sqlite3 "$WORK/state.db" 'SELECT count(*) FROM clients')" -ge 5
fi
stop_herd

# --- proxy mode --------------------------------------------------------------
start_herd --dhcp proxy || exit 1
set_mac 02:00:00:00:06:06
REPLY=$(inc "$PROBE" pi4 vC 3000)
MENU=0601030a0400505845091400001152617370626572727920506920426f6f74ff
CHECK_WHAT="Pi 4 DISCOVER gets a proxy OFFER: $REPLY"
check test "$REPLY" = "type=2 yiaddr=0.0.0.0 siaddr=10.77.0.1 opt43=$MENU opt60=PXEClient opt66=10.77.0.1 opt54=10.77.0.1 opt51=- opt97=17"
CHECK_WHAT="the proxy logs the Pi's serial"
check grep -q "DISCOVER from e4:5f:01:09:02:f7 (Pi 4, serial 91cdf03d): proxy OFFER" "$WORK/herd.log"
: >"$HOOK_LOG"
inc busybox udhcpc -i vC -n -q -f -s "$WORK/hook" -t 2 -T 1 >"$WORK/udhcpc.out" 2>&1
RC=$?
CHECK_WHAT="an ordinary client gets nothing from the proxy"
check test "$RC" -ne 0
check test "$(grep -c "^bound" "$HOOK_LOG")" -eq 0
check grep -q "DISCOVER from 02:00:00:00:06:06: not a PXE client" "$WORK/herd.log"
check test "$(grep -c "OFFER" "$WORK/herd.log")" -eq 1
stop_herd

echo "dhcp.sh: $TESTS_RUN checks, $TESTS_FAILED failed"
[ "$TESTS_FAILED" -eq 0 ]
