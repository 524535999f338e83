#!/usr/bin/env bash
# Prove the end-to-end harness bites: run end-to-end tests against
# coordinators built with planted bugs; each run must fail.
#   usage: planted.sh E2E_BINARY TEST_BIN_DIR CORE_BUG1_DIR DAEMON_BUG1_DIR \
#                     [PG_HOSTILE_E2E BIN_DIR AGENT_BUG1_BINARY]
#   - core bug 1 (PX_PLANT_BUG=1): the learner decides with a quorum of one
#     acceptor; test_majority_down must fail.
#   - daemon bug 1 (PX_PLANT_DAEMON_BUG=1): amnesia, a restarted replica
#     does not replay its commit log; test_kill_all_restart must fail.
#   - agent bug 1 (PX_PLANT_AGENT_BUG=1): a dirty session's DISCARD ALL is
#     never sent ahead of its next query; e2e_pg_hostile's
#     test_4_reset_rides_along must fail (real PostgreSQL).
set -u
e2e=$1
tbin=$2
fail=0
check() { # name dir test
	local out why
	if out=$(E2E_ONLY=$3 PAXCOMMIT_BIN="$2" PAXCOMMIT_TEST_BIN="$tbin" "$e2e" 2>&1); then
		echo "planted $1: NOT caught by $3"
		echo "$out" | tail -5
		fail=1
	else
		why=$(grep -m1 -E '^ERROR|\[  ERROR' <<<"$out" | cut -c1-150)
		echo "planted $1: caught by $3: $why"
	fi
}
check "core bug 1 (quorum of one)" "$3" test_majority_down
check "daemon bug 1 (restart ignores the commit log)" "$4" test_kill_all_restart
if [ $# -ge 7 ]; then
	name="agent bug 1 (no reset ahead of a dirty session's next query)"
	if out=$(E2E_ONLY=test_4_reset_rides_along PAXCOMMIT_BIN="$6" PAXCOMMIT_PARTICIPANT_BIN="$7" \
		PAXCOMMIT_TEST_BIN="$tbin" "$5" 2>&1); then
		echo "planted $name: NOT caught by test_4_reset_rides_along"
		echo "$out" | tail -5
		fail=1
	else
		why=$(grep -m1 -E 'went to|^ERROR|\[  ERROR' <<<"$out" | cut -c1-150)
		echo "planted $name: caught by test_4_reset_rides_along: $why"
	fi
fi
exit $fail
