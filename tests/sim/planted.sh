#!/usr/bin/env bash
# Prove the simulator's checker bites: each binary is the real core built
# with one planted bug (PX_PLANT_BUG in coordinator/), and the simulator
# must report a violation within its seeds.
#   usage: planted.sh SIM_BUG_QUORUM1 SIM_BUG_CROSSBALLOT
set -u
fail=0
for sim in "$@"; do
	name=$(basename "$sim")
	if out=$("$sim" --replicas 3,5 --seeds 200 --expect-violation 2>&1); then
		first=$(grep -m1 '^FAIL' <<<"$out")
		echo "planted bug $name: caught: $first"
	else
		echo "planted bug $name: NOT caught in 400 seeds"
		tail -1 <<<"$out"
		fail=1
	fi
done
exit $fail
