#!/usr/bin/env bash
# Prove the simulator's checker bites: each binary is the real core built
# with one planted bug (PX_PLANT_BUG, see coordinator/), and the simulator
# must report a violation within its seeds.
#   usage: planted.sh SIM_BUG1 SIM_BUG2 ...   (binaries named ...-bugN)
set -u
declare -A what=(
	[1]="learner decides with a quorum of one acceptor"
	[2]="learner counts 2b across ballots"
	[3]="acceptor sends 2b before its record is durable"
	[4]="recovery ignores the values acceptors accepted"
	[5]="checkpoint snapshot forgets promises"
	[6]="recovery never finishes an XA-style gid its client left"
	[7]="a replica takes on gids born far ahead of its clock"
	[8]="learner counts aborted 2b across ballots"
	[9]="a 1a leaves before its round record is durable (a restart reuses the ballot)"
	[10]="an agent votes aborted at ballot 0 for an ambiguous gid"
	[11]="commit log recovery accepts a record whose CRC fails"
	[12]="an agent ignores a session lost between two statements"
	[13]="a learner makes its acceptor hold a gid it refuses below the horizon"
	[14]="no check quorum: a leader that cannot receive stays trusted (gray mode)"
	[15]="a follower does not pass on a client's request: a client cut from the leader stalls (gray mode)"
	[16]="an agent's first votes stay thrifty after one was late: a follower cut off slows commits (gray mode)"
	[17]="a leader reaches a late participant only directly: one it cannot send to slows commits (gray mode)"
	[18]="a follower passes an XA-style client's request on without its votes: a client that reaches one follower stalls (gray mode)"
	[19]="a commit request puts off a recovery under way: a client asking again and again stalls it (gray mode)"
	[20]="a leader ignores a vote only a follower's 2b reports: an agent that reaches one follower stalls (gray mode)"
)
# Seeds each bug is given.  A snapshot that forgets a promise only matters
# when a replica restarts from it and then takes an older leader's value, so
# that one runs the recovery-storm schedules; so does a reused ballot, which
# needs a replica that restarts after a 1a of a round it had not yet logged.
declare -A args=(
	[5]="--replicas 3 --seeds 1500 --stress"
	[9]="--replicas 3,5 --seeds 1500 --stress"
	[13]="--replicas 3,5 --seeds 3000"
	[14]="--replicas 3,5 --seeds 100 --gray"
	[15]="--replicas 3,5 --seeds 200 --gray"
	[16]="--replicas 3,5 --seeds 200 --gray"
	[17]="--replicas 3,5 --seeds 200 --gray"
	[18]="--replicas 3,5 --seeds 200 --gray"
	[19]="--replicas 3 --first 172225428750 --seeds 1 --gray"
	[20]="--replicas 3,5 --seeds 200 --gray"
)
fail=0
for sim in "$@"; do
	n=${sim##*-bug}
	a=${args[$n]:---replicas 3,5 --seeds 300}
	if out=$("$sim" $a --expect-violation 2>&1); then
		first=$(grep -m1 '^FAIL' <<<"$out" | cut -c1-160)
		echo "planted bug $n (${what[$n]:-?}): caught: $first"
	else
		echo "planted bug $n (${what[$n]:-?}): NOT caught ($a)"
		tail -1 <<<"$out"
		fail=1
	fi
done
exit $fail
