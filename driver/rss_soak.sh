#!/usr/bin/env bash
# rss_soak.sh: is resident memory flat during a long run? Runs ccsbench
# against its embedded fake at RATE msgs/s (default 200000) over 8
# connections for 65 s, prints the process's resident set size (driver and
# fake together) around 10 s and around 60 s (the peak of 9 readings over
# 4 s at each), and fails when it grew by more than 10 %.
# Usage: driver/rss_soak.sh [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-200000}
bin=$(mktemp -d)/ccsbench
go build -o "$bin" ./cmd/ccsbench
out=$(mktemp)
"$bin" run --conns 8 --rate "$rate" --duration 65s --progress=false --json "$out.json" >"$out" 2>&1 &
pid=$!
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
# The heap grows and shrinks in a garbage-collection sawtooth; one reading
# may land on a peak or a trough. Take the highest of 9 readings, half a
# second apart, around each point in time.
peak() {
	local m=0 r
	for _ in 1 2 3 4 5 6 7 8 9; do
		r=$(rss)
		[ "$r" -gt "$m" ] && m=$r
		sleep 0.5
	done
	echo "$m"
}
sleep 8
r10=$(peak)
sleep 45.5
r60=$(peak)
status=0
wait "$pid" || status=$?
grep -E "acked rate|p99 " "$out" || true
echo "RSS at 10 s: ${r10} KiB; at 60 s: ${r60} KiB"
if [ "$status" -ne 0 ]; then
	echo "run failed with exit status $status:"; cat "$out"; exit 1
fi
awk -v a="$r10" -v b="$r60" 'BEGIN {
	g = (b - a) / a * 100
	printf "growth: %.1f %%\n", g
	exit (g > 10 || g < -10) ? 1 : 0
}'
