#!/usr/bin/env bash
# The chaos checker is trusted once it catches planted daemon bugs: each
# coordinator binary below is built with one (see the Makefile), and a short
# chaos run on it must end with a violation.
#   usage: planted.sh "CHAOS COMMAND" DBUG1_DIR BUG1_DIR DBUG2_DIR
set -u
chaos=$1
fail=0
# try WHAT DIR "SEEDS" ARGS...: caught if a chaos run on one of SEEDS (in
# order, stopping at the first) ends with a violation.  Some planted bugs
# show only when the schedule's timing lines up (a quorum of one breaks
# agreement only if both sides decide the same gid, and differently), so a
# miss on one seed tries the next; missing on all of them fails.
try() {
	local what=$1 dir=$2 seeds=$3
	shift 3
	local out rc seed tried=""
	for seed in $seeds; do
		out=$($chaos --coord-bin "$dir" --expect-violation "$@" --seed "$seed" 2>&1)
		rc=$?
		tried="$tried $seed"
		if [ $rc -eq 0 ]; then
			echo "planted chaos bug ($what): caught (seed $seed): $(grep -m1 'VIOLATION' <<<"$out" | cut -c1-200)"
			return
		fi
		echo "planted chaos bug ($what): not caught with seed $seed (exit $rc)"
	done
	echo "planted chaos bug ($what): NOT caught with seeds$tried"
	tail -n 30 <<<"$out"
	fail=1
}
try "amnesia: a restarted replica forgets its commit log" "$2" "1 4" --kinds kill-coordinator --rounds 2
try "quorum of one: the leader decides alone" "$3" "2 5 8" --kinds isolate-leader,leader-deaf --rounds 2
try "a failed fsync taken for a good one" "$4" "3 6" --kinds disk-eio --rounds 2
exit $fail
