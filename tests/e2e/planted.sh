#!/usr/bin/env bash
# Prove the end-to-end harness bites: run one end-to-end test against a
# coordinator built with a planted bug (PX_PLANT_BUG=1: the learner decides
# with a quorum of one acceptor).  With a majority of replicas down, that
# coordinator still answers COMMITTED, and test_majority_down must fail.
#   usage: planted.sh E2E_BINARY DIR_WITH_BUGGY_COORDINATOR TEST_BIN_DIR
set -u
e2e=$1
bugdir=$2
tbin=$3
if out=$(E2E_ONLY=test_majority_down PAXCOMMIT_BIN="$bugdir" PAXCOMMIT_TEST_BIN="$tbin" "$e2e" 2>&1); then
	echo "planted bug 1 (quorum of one) in the coordinator daemon: NOT caught by test_majority_down"
	echo "$out" | tail -5
	exit 1
fi
why=$(grep -m1 -E 'heard outcome|ERROR|Failure' <<<"$out" | cut -c1-160)
echo "planted bug 1 (quorum of one) in the coordinator daemon: caught: $why"
