#!/bin/bash
# bench/tftp.sh — herd serve's TFTP against dnsmasq's, side by side in one
# run, in two network namespaces joined by a veth pair (nothing leaves
# them).  curl is the client (blksize 1468, as the Pi bootloader uses):
#   A. 20 clients x 16 MiB at once        target: herd >= 2x dnsmasq MiB/s
#   B. 100 clients x 8 MiB at once        target: herd >= 4x dnsmasq MiB/s
#   C. 200 clients x LOSS_MIB MiB with `tc netem loss 2%` on the server's
#      veth: every file intact (cmp), in <= 1.5x herd's lossless time.
# dnsmasq runs with --tftp-max raised to the client count.  Aggregate
# MiB/s = clients x size / wall time from first start to last finish.
#
# The clients share this machine's CPUs with the server, so the CPU
# seconds of each side (last round) are printed too, and what the
# clients' own CPU time leaves for any server ("ceiling": the MiB/s a
# server costing no CPU at all would reach if the clients kept their
# measured cost per MiB, spread over every CPU).  It is an estimate, not
# a proof: a faster server may also change what a client spends per
# block (fewer sleeps in poll).  On a veth pair the receiving side's
# kernel work (IP/UDP input, waking the reader) runs in the sender's
# context, so each server's CPU includes its clients' receive path.
#   A'. B'. the same two cases with one light client process
#       (tests/net/tftp_load: every transfer on its own socket, one epoll
#       loop, each block compared with the file) instead of N curls: the
#       clients then cost little and the server's own cost per packet
#       decides — closer to N separate boards than N curls on 2 CPUs.
# Usage: bench/tftp.sh [BUILD_DIR]  (default build/release; as root)
# Env: LOSS_MIB (default 8), SKIP_LOSS=1, ROUNDS (default 1: median of N).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
build=${1:-$root/build/release}
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/tftp.sh: needs root (network namespaces)" >&2
	exit 1
fi
if [ ! -x "$build/src/herd/herd" ]; then
	meson setup "$build" -Dbuildtype=release -Dintegration=false >/dev/null
fi
ninja -C "$build" src/herd/herd tests/net/tftp_load >/dev/null || exit 1
herd=$build/src/herd/herd
load=$build/tests/net/tftp_load
loss_mib=${LOSS_MIB:-8}
rounds=${ROUNDS:-1}

id=$$
NS_S=herd-t-$id-bs
NS_C=herd-t-$id-bc
SRV=10.232.7.1
work=$(mktemp -d)
server_pid=
cg=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	[ -n "$cg" ] && rmdir "$cg" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$NS_S" && ip netns add "$NS_C" || exit 1
ip link add veth-s netns "$NS_S" type veth peer name veth-c netns "$NS_C" || exit 1
ip -n "$NS_S" addr add "$SRV/24" dev veth-s
ip -n "$NS_C" addr add 10.232.7.2/24 dev veth-c
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set veth-s up
ip -n "$NS_C" link set veth-c up

chmod 0755 "$work"
mkdir -p "$work/root" "$work/out"
head -c $((16 << 20)) /dev/urandom >"$work/root/f16"
head -c $((8 << 20)) /dev/urandom >"$work/root/f8"
head -c $((loss_mib << 20)) /dev/urandom >"$work/root/floss"
chmod -R a+rX "$work/root"

server_name=
start_herd() {
	server_name=herd
	# Every client shares one address here, so the per-client limit is
	# raised like dnsmasq's --tftp-max.
	ip netns exec "$NS_S" "$herd" serve -q --dhcp off --interface veth-s \
		--tftp-root "$work/root" --tftp-max-per-client 1000 2>"$work/herd.log" &
	server_pid=$!
	for _ in $(seq 50); do
		ip netns exec "$NS_S" ss -uln 2>/dev/null | grep -q ':69 ' && return 0
		sleep 0.1
	done
	echo "herd did not start: $(cat "$work/herd.log")" >&2
	exit 1
}
start_dnsmasq() { # MAX
	server_name=dnsmasq
	ip netns exec "$NS_S" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
		--user=root --pid-file="$work/dnsmasq.pid" --interface=veth-s --bind-interfaces \
		--enable-tftp --tftp-root="$work/root" --tftp-max="$1" 2>"$work/dnsmasq.log" &
	server_pid=$!
	for _ in $(seq 50); do
		ip netns exec "$NS_S" ss -uln 2>/dev/null | grep -q ':69 ' && return 0
		sleep 0.1
	done
	echo "dnsmasq did not start: $(cat "$work/dnsmasq.log")" >&2
	exit 1
}
# CPU seconds (user+system) the server has used so far.
server_cpu() {
	awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$server_pid/stat" 2>/dev/null
}
stop_server() {
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}

# The clients run in a CPU-accounting cgroup (v1 cpuacct or v2), so
# their CPU time can be read: clients_cpu prints it in seconds.
if [ -d /sys/fs/cgroup/cpuacct ]; then
	cg=/sys/fs/cgroup/cpuacct/herd-bench-$$
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg=/sys/fs/cgroup/herd-bench-$$
fi
[ -n "$cg" ] && ! mkdir "$cg" 2>/dev/null && cg=
clients_cpu() {
	if [ -z "$cg" ]; then
		echo "?"
	elif [ -f "$cg/cpuacct.usage" ]; then
		awk '{printf "%.2f", $1 / 1e9}' "$cg/cpuacct.usage"
	else
		awk '$1 == "usage_usec" {printf "%.2f", $2 / 1e6}' "$cg/cpu.stat"
	fi
}
# in_clients CMD... — run CMD in the client namespace and cgroup.
in_clients() {
	sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs"; exec "$@"' "$cg" \
		ip netns exec "$NS_C" "$@"
}

# clients N FILE CHECK — N concurrent curls (or with CLIENT=load, one
# tftp_load process running N transfers); prints wall ms, or fails.
# CHECK=cmp compares every download with the original (needed under
# loss); otherwise the byte count curl reports is checked.
clients() {
	local n=$1 file=$2 check=${3:-size} size t0 t1 bad=0 i
	size=$(stat -c %s "$work/root/$file")
	rm -f "$work/out/"*
	if [ "${CLIENT:-curl}" = load ]; then
		# Every block is compared with the file (-c); exit 0 = all intact.
		t0=$(date +%s%N)
		if ! in_clients "$load" -c "$work/root/$file" "$SRV" "$file" "$n" >"$work/out/load" \
			2>"$work/out/load.err"; then
			t1=$(date +%s%N)
			echo "bench: $server_name: tftp_load: $(tail -1 "$work/out/load.err")" >&2
			echo $(((t1 - t0) / 1000000)) FAIL
			return 1
		fi
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000))
		return 0
	fi
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do
		if [ "$check" = cmp ]; then
			in_clients sh -c "curl -s --tftp-blksize 1468 tftp://$SRV/$file | cmp -s - '$work/root/$file' && echo ok >'$work/out/$i'" &
		else
			in_clients curl -s --tftp-blksize 1468 -o /dev/null \
				-w '%{size_download}\n' "tftp://$SRV/$file" >"$work/out/$i" &
		fi
	done
	wait $(jobs -p | grep -v "^$server_pid\$")
	t1=$(date +%s%N)
	for ((i = 0; i < n; i++)); do
		if [ "$check" = cmp ]; then
			[ "$(cat "$work/out/$i" 2>/dev/null)" = ok ] || bad=$((bad + 1))
		else
			[ "$(cat "$work/out/$i" 2>/dev/null)" = "$size" ] || bad=$((bad + 1))
		fi
	done
	if [ "$bad" -ne 0 ]; then
		echo "bench: $server_name: $bad of $n downloads of $file incomplete or different" >&2
		echo $(((t1 - t0) / 1000000)) FAIL
		return 1
	fi
	echo $(((t1 - t0) / 1000000))
}

mibps() { awk -v n="$1" -v mib="$2" -v ms="$3" 'BEGIN{printf "%.1f", n * mib / (ms / 1000)}'; }

median_of() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# cpu_delta BEFORE AFTER
cpu_delta() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "?" || b == "?") print "?"; else printf "%.2f", b - a}'; }

run_case() { # NAME N FILE MIB TARGET
	local name=$1 n=$2 file=$3 mib=$4 target=$5 h=() d=() hm dm hr dr r hc dc c0 hcl dcl bound
	for ((r = 0; r < rounds; r++)); do
		start_herd
		c0=$(clients_cpu)
		h+=("$(clients "$n" "$file")")
		hcl=$(cpu_delta "$c0" "$(clients_cpu)")
		hc=$(server_cpu)
		stop_server
		start_dnsmasq "$n"
		c0=$(clients_cpu)
		d+=("$(clients "$n" "$file")")
		dcl=$(cpu_delta "$c0" "$(clients_cpu)")
		dc=$(server_cpu)
		stop_server
	done
	hm=$(median_of "${h[@]%% *}")
	dm=$(median_of "${d[@]%% *}")
	hr=$(mibps "$n" "$mib" "$hm")
	dr=$(mibps "$n" "$mib" "$dm")
	printf '%-16s herd %6s MiB/s (%6s ms, CPU %5s s, clients %5s s)   dnsmasq %6s MiB/s (%6s ms, CPU %5s s, clients %5s s)   ratio %s (target >= %s)%s\n' \
		"$name" "$hr" "$hm" "$hc" "$hcl" "$dr" "$dm" "$dc" "$dcl" "$(ratio "$hr" "$dr")" "$target" \
		"$([[ "${h[*]} ${d[*]}" == *FAIL* ]] && echo "  [incomplete downloads]")"
	if [ "$hcl" != "?" ]; then
		bound=$(awk -v n="$n" -v mib="$mib" -v cpus="$(nproc)" -v c="$hcl" \
			'BEGIN{printf "%.1f", (c > 0 ? n * mib * cpus / c : 0)}')
		printf '%-16s ceiling: the clients alone used %s CPU-s for %s MiB; at that cost a server using no CPU would reach about %s MiB/s on %s CPUs, %s x dnsmasq\n' \
			"" "$hcl" "$((n * mib))" "$bound" "$(nproc)" "$(ratio "$bound" "$dr")"
	fi
}

echo "bench/tftp.sh: $(nproc) CPUs, load: $(uptime | sed 's/.*load average: //')"
run_case "20 x 16 MiB" 20 f16 16 2
run_case "100 x 8 MiB" 100 f8 8 4
CLIENT=load run_case "20 x 16 MiB load" 20 f16 16 2
CLIENT=load run_case "100 x 8 MiB load" 100 f8 8 4

if [ -z "${SKIP_LOSS:-}" ]; then
	start_herd
	base=$(clients 200 floss cmp) || true
	# 2% loss on everything the server sends: netem on the server's veth,
	# or — on kernels built without sch_netem — the same drop with an
	# nftables random-number rule on that veth's egress.
	if ip netns exec "$NS_S" tc qdisc add dev veth-s root netem loss 2% 2>/dev/null; then
		how="tc netem loss 2%"
	elif ip netns exec "$NS_S" nft -f - <<-'NFT'; then
		table inet herdbench {
			chain out {
				type filter hook output priority 0;
				oifname "veth-s" numgen random mod 50 == 0 drop
			}
		}
		NFT
		how="nft numgen random mod 50 drop (no sch_netem)"
	else
		echo "bench: no way to emulate loss (neither sch_netem nor nftables)" >&2
		exit 1
	fi
	lossy=$(clients 200 floss cmp) || true
	stop_server
	printf '%-22s herd lossless %6s ms, 2%% loss %6s ms: ratio %s (target <= 1.5, all intact: %s; %s)\n' \
		"200 x $loss_mib MiB" "${base%% *}" "${lossy%% *}" "$(ratio "${lossy%% *}" "${base%% *}")" \
		"$([[ "$base $lossy" == *FAIL* ]] && echo no || echo yes)" "$how"
fi
echo "load after: $(uptime | sed 's/.*load average: //')"
