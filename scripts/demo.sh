#!/usr/bin/env bash
# make demo: a local cluster (3 coordinator replicas, 2 initdb'd PostgreSQL
# databases with their agents), a bank-transfer workload across the two
# databases, the leader killed with SIGKILL partway through and later a
# participant agent, both restarted; then the totals.  Everything runs on
# loopback in a temporary directory and is torn down at the end.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bin=$repo/build/bin
dc=$repo/scripts/devcluster
seconds=${DEMO_SECONDS:-20}
base=$(mktemp -d /tmp/paxcommit-demo-XXXXXX)
chmod 755 "$base"
dir=$base/cluster
conf=$dir/cluster.conf
chaos_pid=
cleanup() {
	[[ -n $chaos_pid ]] && kill "$chaos_pid" 2>/dev/null || true
	"$dc" down --dir "$dir" >/dev/null 2>&1 || true
	rm -rf "$base"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. A cluster: 3 coordinator replicas, 2 PostgreSQL databases (a, b), one agent each"
"$dc" up --dir "$dir" --coordinators 3 --participants 2
for p in a b; do
	ci=$(awk -v s="[participant.$p]" '$0 == s {f = 1; next} /^\[/ {f = 0} f && /^conninfo/ {sub(/^conninfo *= */, ""); print}' "$conf")
	psql -X -q -v ON_ERROR_STOP=1 -d "$ci" -f sql/demo_bank.sql >/dev/null
done
"$bin/paxcommit" --config "$conf" cluster

say "2. Bank transfers between a and b for ${seconds} s (4 clients; each transfer is one UPDATE on a and one on b, committed atomically)"
echo "   Watch: the leader coordinator is killed with SIGKILL at ~4 s and restarted at ~7 s;"
echo "   participant b's agent is killed at ~9 s and restarted at ~11 s."
(
	sleep 4
	leader=$("$bin/paxcommit" --config "$conf" cluster | awk '/^leader:/ {print $2}')
	echo "   >>> kill -9 the leader, $leader: the other two elect a new one and carry on"
	"$dc" kill --dir "$dir" "$leader" >/dev/null
	sleep 3
	echo "   >>> restart $leader: it recovers from its commit log and rejoins"
	"$dc" start --dir "$dir" "$leader" >/dev/null
	sleep 2
	echo "   >>> kill -9 participant b's agent: transfers touching b abort or wait; its prepared ones stay in PostgreSQL"
	"$dc" kill --dir "$dir" participant.b >/dev/null
	sleep 2
	echo "   >>> restart participant b's agent: it finds its prepared transactions and finishes them as decided"
	"$dc" start --dir "$dir" participant.b >/dev/null
) &
chaos_pid=$!
set +e
"$bin/paxcommit-demo-bank" --config "$conf" --seconds "$seconds" --clients 4
rc=$?
set -e
wait "$chaos_pid" 2>/dev/null || true
chaos_pid=

say "3. Nothing left in doubt on either database"
"$bin/paxcommit" --config "$conf" in-doubt

say "4. Tearing down"
"$dc" down --dir "$dir" >/dev/null
if ((rc == 0)); then
	echo "demo: OK (totals equal, nothing in doubt)"
else
	echo "demo: FAILED (see above)"
fi
exit "$rc"
