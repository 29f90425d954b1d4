# bench/lib.sh — timing helpers for the side-by-side benchmarks.
#
# median_ms RUNS CMD... — run CMD RUNS times (after one warm-up run),
# print the median wall time in milliseconds (3 decimals).  Each run's
# setup, if any, belongs in the command itself or in BENCH_SETUP (a shell
# snippet evaluated before each timed run, not timed).
median_ms() {
	local runs=$1 i t0 t1
	shift
	local times=()
	[ -n "${BENCH_SETUP:-}" ] && eval "$BENCH_SETUP"
	"$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
	for ((i = 0; i < runs; i++)); do
		[ -n "${BENCH_SETUP:-}" ] && eval "$BENCH_SETUP"
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
		t1=$(date +%s%N)
		times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{printf "%.3f\n", a[int((NR+1)/2)]/1e6}'
}

# ratio A B — A/B with 3 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b > 0 ? a / b : 0)}'; }

# report NAME HERD_MS ANCHOR_NAME ANCHOR_MS [LIMIT_MS]
report() {
	local verdict=""
	if [ -n "${5:-}" ]; then
		verdict=$(awk -v h="$2" -v l="$5" 'BEGIN{print (h <= l ? "within" : "OVER")}')
		verdict=" ($verdict the ${5} ms target)"
	fi
	printf '%-28s herd %9.3f ms   %-22s %9.3f ms   ratio herd/anchor %s%s\n' \
		"$1" "$2" "$3" "$4" "$(ratio "$2" "$4")" "$verdict"
}
