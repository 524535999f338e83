#!/usr/bin/env bash
# The chaos checker is trusted once it catches planted daemon bugs: each
# coordinator binary below is built with one (see the Makefile), and a short
# chaos run on it must end with a violation.
#   usage: planted.sh "CHAOS COMMAND" DBUG1_DIR BUG1_DIR DBUG2_DIR
set -u
chaos=$1
fail=0
try() { # try WHAT DIR ARGS...
	local what=$1 dir=$2
	shift 2
	local out
	out=$($chaos --coord-bin "$dir" --expect-violation "$@" 2>&1)
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "planted chaos bug ($what): caught: $(grep -m1 'VIOLATION' <<<"$out" | cut -c1-200)"
	else
		echo "planted chaos bug ($what): NOT caught (exit $rc)"
		tail -n 30 <<<"$out"
		fail=1
	fi
}
try "amnesia: a restarted replica forgets its commit log" "$2" --kinds kill-coordinator --rounds 2 --seed 1
try "quorum of one: the leader decides alone" "$3" --kinds isolate-leader,leader-deaf --rounds 2 --seed 2
try "a failed fsync taken for a good one" "$4" --kinds disk-eio --rounds 2 --seed 3
exit $fail
