#!/usr/bin/env bash
# make test-sim: run the simulator over many seeds for 1, 3 and 5 replicas,
# two processes at a time (the CI machine has 2 cores), and print one
# summary line for the whole run.
#   usage: run.sh SIM_BINARY SEEDS_PER_REPLICA_COUNT [WINDOW_SEEDS]
# Three parts:
#   - the fixed seeds 1..N (the same every run);
#   - a window of WINDOW_SEEDS seeds that starts at a number derived from
#     the commit being tested (printed, with its replay command), so that
#     every commit explores seeds no run has tried before;
#   - the regression seeds of tests/sim/regress.txt.
# It fails on any violation, and when a rare path the simulator counts
# (sim-coverage) ran zero times over the whole run.
set -u
sim=$1
seeds=$2
window=${3:-0}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The window's first seed: from the commit hash when there is one (the
# variable SIM_WINDOW_FIRST overrides it, to replay a window).
if [ -n "${SIM_WINDOW_FIRST:-}" ]; then
	wfirst=$SIM_WINDOW_FIRST
else
	h=$(git -C "$here" rev-parse HEAD 2>/dev/null || date +%s%N | sha1sum)
	# 12 hex digits -> a seed far above the fixed range.
	wfirst=$(( 0x${h:0:12} % 1000000000000 + 1000000000 ))
fi
# Split the seeds of each replica count over two workers.
half=$(( (seeds + 1) / 2 ))
rest=$(( seeds - half ))
whalf=$(( (window + 1) / 2 ))
wrest=$(( window - whalf ))
start=$(date +%s%N)
(
	"$sim" --replicas 1,3,5 --first 1 --seeds "$half"
	[ "$whalf" -gt 0 ] && "$sim" --replicas 1,3,5 --first "$wfirst" --seeds "$whalf"
	exit 0
) >"$out/a" 2>&1 &
pa=$!
(
	"$sim" --replicas 1,3,5 --first $((1 + half)) --seeds "$rest"
	[ "$wrest" -gt 0 ] && "$sim" --replicas 1,3,5 --first $((wfirst + whalf)) --seeds "$wrest"
	grep -v '^#' "$here/regress.txt" | while read -r s r; do
		[ -n "$s" ] && "$sim" --seed "$s" --replicas "$r"
	done
	exit 0
) >"$out/b" 2>&1 &
pb=$!
wait "$pa"
wait "$pb"
end=$(date +%s%N)
if [ "$window" -gt 0 ]; then
	echo "sim window: seeds $wfirst..$((wfirst + window - 1)) per replica count (replay: SIM_WINDOW_FIRST=$wfirst, or paxcommit-sim --first $wfirst --seeds $window)"
fi
fails=$(grep -h '^FAIL' "$out/a" "$out/b" | wc -l)
grep -h '^FAIL\|replay:' "$out/a" "$out/b" | head -40
# Sum the workers' summaries into one line, and the coverage counts.
awk -v secs="$(( (end - start) / 1000000 ))" '
/^sim: / {
	for (i = 2; i <= NF; i++) {
		n = split($i, kv, "=")
		if (n == 2 && kv[2] ~ /^[0-9]+$/ && kv[1] !~ /\// && kv[1] != "replicas") {
			if (kv[1] == "max_settle_ms") { if (kv[2] + 0 > tot[kv[1]]) tot[kv[1]] = kv[2] + 0 }
			else tot[kv[1]] += kv[2]
			if (!(kv[1] in seen)) { seen[kv[1]] = 1; order[++k] = kv[1] }
		}
	}
}
/^sim-coverage:/ {
	for (i = 2; i <= NF; i++) {
		split($i, kv, "=")
		cov[kv[1]] += kv[2]
		if (!(kv[1] in cseen)) { cseen[kv[1]] = 1; corder[++ck] = kv[1] }
	}
}
END {
	secs = secs / 1000.0
	line = "sim summary:"
	for (i = 1; i <= k; i++) line = line " " order[i] "=" tot[order[i]]
	printf "%s wall=%.1fs seeds/min=%.0f steps/seed=%.0f\n", line, secs, tot["seeds"] * 60 / secs, tot["steps"] / tot["seeds"]
	line = "sim coverage:"
	zero = ""
	for (i = 1; i <= ck; i++) {
		line = line " " corder[i] "=" cov[corder[i]]
		if (cov[corder[i]] == 0) zero = zero " " corder[i]
	}
	print line
	if (zero != "") { print "sim coverage: these rare paths never ran:" zero; exit 1 }
}' "$out/a" "$out/b"
covrc=$?
if [ "$fails" -ne 0 ] || ! grep -q '^sim: ' "$out/a" || ! grep -q '^sim: ' "$out/b"; then
	echo "test-sim: FAILED (replay a failing seed with the command shown above)"
	exit 1
fi
if [ "$covrc" -ne 0 ]; then
	echo "test-sim: FAILED (a rare path was never exercised: the fault schedule lost its reach)"
	exit 1
fi
echo "test-sim: ok"
