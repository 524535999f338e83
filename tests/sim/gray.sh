#!/usr/bin/env bash
# make test-sim, gray part: the simulator's gray mode (paxcommit-sim --gray)
# at 3 and 5 replicas, two processes at a time.  Each seed runs long one-way
# and partial faults aimed at the leader, one at a time (a leader that cannot
# receive, or cannot send, a link cut one way, a bridge, an agent or client
# cut from the leader one way, ...), and fails if commits stall longer than
# 2 x lease_ms + resend_ms (+ a transaction's own time) during any of them.
#   usage: gray.sh SIM_BINARY SEEDS [WINDOW_SEEDS]
# As run.sh: the fixed seeds 1..SEEDS, then a window of seeds that starts at a
# number derived from the commit (SIM_WINDOW_FIRST overrides it).
set -u
sim=$1
seeds=$2
window=${3:-0}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -n "${SIM_WINDOW_FIRST:-}" ]; then
	wfirst=$SIM_WINDOW_FIRST
else
	h=$(git -C "$here" rev-parse HEAD 2>/dev/null || date +%s%N | sha1sum)
	wfirst=$(( 0x${h:0:12} % 1000000000000 + 1000000000 ))
fi
half=$(( (seeds + 1) / 2 ))
whalf=$(( (window + 1) / 2 ))
(
	"$sim" --gray --replicas 3,5 --first 1 --seeds "$half"
	[ "$whalf" -gt 0 ] && "$sim" --gray --replicas 3,5 --first "$wfirst" --seeds "$whalf"
	exit 0
) >"$out/a" 2>&1 &
pa=$!
(
	"$sim" --gray --replicas 3,5 --first $((1 + half)) --seeds $((seeds - half))
	[ $((window - whalf)) -gt 0 ] && "$sim" --gray --replicas 3,5 --first $((wfirst + whalf)) --seeds $((window - whalf))
	exit 0
) >"$out/b" 2>&1 &
pb=$!
wait "$pa" "$pb"
# The gray seeds that once found a bug (tests/sim/regress-gray.txt).
grep -v '^#' "$here/regress-gray.txt" 2>/dev/null | while read -r s r; do
	[ -n "$s" ] && "$sim" --gray --replicas "$r" --first "$s" --seeds 1
done >"$out/r" 2>&1
[ "$window" -gt 0 ] && echo "sim gray window: seeds $wfirst..$((wfirst + window - 1)) (replay: SIM_WINDOW_FIRST=$wfirst)"
grep -h '^FAIL\|replay:' "$out/a" "$out/b" "$out/r" | head -20
fails=$(grep -h '^FAIL' "$out/a" "$out/b" "$out/r" | wc -l)
runs=$(grep -h '^sim: ' "$out/a" "$out/b" "$out/r" | sed 's/^sim: seeds=\([0-9]*\).*/\1/' | awk '{s += $1} END {print s + 0}')
# One line: faults per kind and the longest stall of each kind (ms), summed
# and maxed over the workers' sim-gray lines.
awk -v fails="$fails" -v runs="$runs" '
/^sim-gray:/ {
	for (i = 2; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == "faults") faults += kv[2]
		else if (kv[1] == "worst_stall_vs_bound") { if (kv[2] + 0 > worst) worst = kv[2] + 0 }
		else {
			split(kv[2], cm, "/")
			n[kv[1]] += cm[1]
			ms = cm[2]; sub(/ms$/, "", ms)
			if (ms + 0 > mx[kv[1]]) mx[kv[1]] = ms + 0
			if (!(kv[1] in seen)) { seen[kv[1]] = 1; order[++k] = kv[1] }
		}
	}
}
END {
	line = sprintf("sim gray summary: runs=%d faults=%d violations_seeds=%d worst_stall_vs_bound=%.2f |", runs, faults, fails, worst)
	for (j = 1; j <= k; j++) line = line sprintf(" %s=%d/%dms", order[j], n[order[j]], mx[order[j]])
	print line
}' "$out/a" "$out/b" "$out/r"
[ "$fails" -eq 0 ] || exit 1
# Every kind ran.
if grep -h '^sim-gray:' "$out/a" | grep -q '=0/'; then
	echo "sim gray: some fault kind never ran"
	exit 1
fi
exit 0
