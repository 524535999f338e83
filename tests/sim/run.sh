#!/usr/bin/env bash
# make test-sim: run the simulator over many seeds for 1, 3 and 5 replicas,
# two processes at a time (the CI machine has 2 cores), and print one
# summary line for the whole run.
#   usage: run.sh SIM_BINARY SEEDS_PER_REPLICA_COUNT
set -u
sim=$1
seeds=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Split the seeds of each replica count over two workers.
half=$(( (seeds + 1) / 2 ))
rest=$(( seeds - half ))
start=$(date +%s%N)
"$sim" --replicas 1,3,5 --first 1 --seeds "$half" >"$out/a" 2>&1 &
pa=$!
"$sim" --replicas 1,3,5 --first $((1 + half)) --seeds "$rest" >"$out/b" 2>&1 &
pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
end=$(date +%s%N)
grep -h '^FAIL\|replay:' "$out/a" "$out/b" | head -40
# Sum the two workers' summaries into one line.
awk -v secs="$(( (end - start) / 1000000 ))" '
/^sim: / {
	for (i = 2; i <= NF; i++) {
		n = split($i, kv, "=")
		if (n == 2 && kv[2] ~ /^[0-9]+$/ && kv[1] !~ /\//) {
			if (kv[1] == "max_settle_ms") { if (kv[2] + 0 > tot[kv[1]]) tot[kv[1]] = kv[2] + 0 }
			else tot[kv[1]] += kv[2]
			if (!(kv[1] in seen)) { seen[kv[1]] = 1; order[++k] = kv[1] }
		}
	}
}
END {
	secs = secs / 1000.0
	line = "sim summary:"
	for (i = 1; i <= k; i++) line = line " " order[i] "=" tot[order[i]]
	printf "%s wall=%.1fs seeds/min=%.0f steps/seed=%.0f\n", line, secs, tot["seeds"] * 60 / secs, tot["steps"] / tot["seeds"]
}' "$out/a" "$out/b"
if [ "$ra" -ne 0 ] || [ "$rb" -ne 0 ]; then
	echo "test-sim: FAILED (replay a failing seed with the command shown above)"
	exit 1
fi
echo "test-sim: ok"
