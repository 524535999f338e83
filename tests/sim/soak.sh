#!/usr/bin/env bash
# make soak: run the simulator for SOAK_SECONDS (default one hour) on every
# core, over seeds no run has tried (the first seed comes from the clock,
# or SOAK_FIRST), for 1, 3 and 5 replicas, and print every failure with its
# replay line and one summary line at the end.  By hand; not part of
# `make test`.
#   usage: soak.sh SIM_BINARY
set -u
sim=$1
secs=${SOAK_SECONDS:-3600}
jobs=${SOAK_JOBS:-$(nproc)}
batch=${SOAK_BATCH:-2000}
first=${SOAK_FIRST:-$(( $(date +%s) % 100000 * 100000000 + 100000000000 ))}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "soak: ${secs}s on $jobs workers, batches of $batch seeds per replica count from seed $first (SOAK_FIRST=$first replays)"
deadline=$(( $(date +%s) + secs ))
worker() {
	local w=$1 n=0 s
	while [ "$(date +%s)" -lt "$deadline" ]; do
		s=$(( first + (n * jobs + w) * batch ))
		"$sim" --replicas 1,3,5 --first "$s" --seeds "$batch" >>"$out/w$w" 2>&1
		n=$((n + 1))
	done
}
for w in $(seq 0 $((jobs - 1))); do worker "$w" & done
wait
grep -h '^FAIL\|replay:' "$out"/w* | head -100
awk '
/^sim: / { for (i = 2; i <= NF; i++) { n = split($i, kv, "="); if (n == 2 && kv[2] ~ /^[0-9]+$/) t[kv[1]] += kv[2] } }
/^sim-coverage:/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); c[kv[1]] += kv[2]; if (!(kv[1] in o)) { o[kv[1]] = 1; ord[++k] = kv[1] } } }
END {
	printf "soak summary: seeds=%d txns=%d committed=%d aborted=%d crashes=%d violations=%d failing_seeds=%d\n", t["seeds"], t["txns"], t["committed"], t["aborted"], t["crashes"], t["violations"], t["failing_seeds"]
	line = "soak coverage:"; for (i = 1; i <= k; i++) line = line " " ord[i] "=" c[ord[i]]; print line
	exit (t["failing_seeds"] > 0)
}' "$out"/w*
