#!/bin/bash
# bench/dhcp.sh — DHCP server throughput: herd serve --dhcp server against
# dnsmasq 2.90 (--no-ping), same namespaces, same range, same load: ISC
# perfdhcp offering RATE 4-way exchanges (DISCOVER-OFFER-REQUEST-ACK) per
# second for SECS seconds from 100000 simulated clients (each a new MAC,
# so every exchange creates a lease).  perfdhcp talks as a relay
# (giaddr = its address), which both servers answer by unicast.
#
# Prints, per server, completed exchanges per second (ACKs received / SECS),
# the drop ratios perfdhcp reports, then herd/dnsmasq.  Issue 6 target:
# herd ≥ 5× dnsmasq's completed exchanges/s and < 1 % drops, leases
# durable: herd commits each batch of leases to SQLite (WAL,
# synchronous=FULL, so fsync'ed) before sending that batch's ACKs; dnsmasq
# rewrites its lease file without fsync.  Both log each transaction to a file.
# herd runs with its default conflict check (an ARP probe and a 200 ms wait
# before each new offer); dnsmasq runs without its ping check (--no-ping),
# so the comparison is not in herd's favour.
#
# Usage: bench/dhcp.sh [BUILD_DIR]  (default build/release; needs root)
#   BENCH_RATES ("1000 4000": one comparison per offered rate), BENCH_SECS (10)
# At the issue's 1000/s a server that completes everything scores 1000/s,
# so the ratio can reach 5x only when dnsmasq manages under 200/s; the
# higher rate shows how far each server goes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
build=${1:-$root/build/release}
rates=${BENCH_RATES:-${BENCH_RATE:-1000 4000}}
secs=${BENCH_SECS:-10}
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/dhcp.sh: needs root (network namespaces)" >&2
	exit 1
fi
if [ ! -x "$build/src/herd/herd" ]; then
	meson setup "$build" -Dbuildtype=release -Dintegration=false >/dev/null
fi
ninja -C "$build" >/dev/null
herd=$build/src/herd/herd
work=$(mktemp -d)
S=herd-b-$$-s
C=herd-b-$$-c
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	ip netns del "$S" 2>/dev/null || true
	ip netns del "$C" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$S"
ip netns add "$C"
ip link add vS netns "$S" type veth peer name vC netns "$C"
ip -n "$S" addr add 10.78.0.1/16 dev vS
ip -n "$C" addr add 10.78.0.2/16 dev vC
for ns in "$S" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$S" link set vS up
ip -n "$C" link set vC up

# run_perfdhcp NAME — perfdhcp against the server now running; prints
# "acks drops_do drops_ra" from its final report.
run_perfdhcp() {
	local out=$work/$1.perfdhcp
	ip netns exec "$C" perfdhcp -4 -l vC -r "$rate" -p "$secs" -W 1000000 -R 100000 10.78.0.1 >"$out" 2>&1 || true
	awk '/Statistics for: DISCOVER-OFFER/ {s = "do"} /Statistics for: REQUEST-ACK/ {s = "ra"}
	     /^received packets:/ {rx[s] = $3} /^drops ratio:/ {dr[s] = $3}
	     END {printf "%d %.3f %.3f\n", rx["ra"], dr["do"], dr["ra"]}' "$out"
}

# UDP receive-buffer overflows in perfdhcp's namespace: replies that
# reached the client but found its socket full (a burst after a slow fsync).
client_rcvbuf_errors() {
	ip netns exec "$C" awk '/^Udp:/ {n++} /^Udp:/ && n == 2 {print $6}' /proc/net/snmp
}

wait_port67() {
	for _ in $(seq 50); do
		ip netns exec "$S" ss -lun 2>/dev/null | grep -q ':67 ' && return 0
		sleep 0.1
	done
	echo "bench/dhcp.sh: $1 did not bind port 67" >&2
	exit 1
}

range_first=10.78.1.0
range_last=10.78.200.255

# measure NAME LOG CMD... — start the server (stderr to LOG) in the server
# namespace, run perfdhcp against it, stop it; sets acks, drops_do,
# drops_ra and rcvbuf.
measure() {
	local name=$1 log=$2 before
	shift 2
	ip netns exec "$S" "$@" 2>"$log" &
	server_pid=$!
	wait_port67 "$name"
	before=$(client_rcvbuf_errors)
	read -r acks drops_do drops_ra < <(run_perfdhcp "$name")
	rcvbuf=$(($(client_rcvbuf_errors) - before))
	kill "$server_pid"
	wait "$server_pid" || true
	server_pid=
}

# compare RATE — one run of each server at RATE offered exchanges/s.
compare() {
	local rate=$1
	rm -f "$work/herd.db"* "$work/dnsmasq.leases"
	measure herd "$work/herd.log" "$herd" serve --interface vS --dhcp server \
		--range "$range_first-$range_last" --lease-time 1h --db "$work/herd.db"
	herd_acks=$acks herd_do=$drops_do herd_ra=$drops_ra herd_rcvbuf=$rcvbuf
	herd_bound=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM leases WHERE state = ?", ("bound",)).fetchone()[0])' "$work/herd.db")
	measure dnsmasq "$work/dnsmasq.err" dnsmasq --no-daemon --port=0 --interface=vS \
		--bind-interfaces --no-ping --dhcp-range="$range_first,$range_last,1h" \
		--dhcp-leasefile="$work/dnsmasq.leases" --log-facility="$work/dnsmasq.log" \
		--pid-file= --conf-file=/dev/null --dhcp-lease-max=100000
	dm_acks=$acks dm_do=$drops_do dm_ra=$drops_ra dm_rcvbuf=$rcvbuf

	herd_rate=$(awk -v a="$herd_acks" -v s="$secs" 'BEGIN{printf "%.1f", a / s}')
	dm_rate=$(awk -v a="$dm_acks" -v s="$secs" 'BEGIN{printf "%.1f", a / s}')
	echo "perfdhcp: $rate exchanges/s offered for $secs s, 100000 clients"
	printf '%-8s %9s exchanges/s completed   drops DISCOVER-OFFER %7s %%   REQUEST-ACK %7s %%   client rcvbuf overflows %s\n' \
		herd "$herd_rate" "$herd_do" "$herd_ra" "$herd_rcvbuf" dnsmasq "$dm_rate" "$dm_do" "$dm_ra" "$dm_rcvbuf"
	grep "conflict check" "$work/herd.log" | sed 's/^herd serve: /herd: /'
	grep "stopping:" "$work/herd.log" | sed 's/^herd serve: /herd counters: /'
	echo "herd leases bound in its database after the run: $herd_bound; dnsmasq leases in its file: $(wc -l <"$work/dnsmasq.leases")"
	echo "ratio herd/dnsmasq completed exchanges/s: $(ratio "$herd_rate" "$dm_rate")"
}

for r in $rates; do
	compare "$r"
done
