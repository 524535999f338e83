#!/usr/bin/env bash
# make install into a scratch DESTDIR (PREFIX=/usr), write the cluster's
# /etc/paxcommit/cluster.conf there, and bring up a 3-replica cluster from
# the installed paxcommit-coordinator@.service, one supervisor
# (tests/install/supervise.py, systemd's Type=notify, watchdog, Restart= and
# RestartPreventExitStatus= rules) per instance.  Then:
#   - every replica is READY and the installed `paxcommit cluster` names a
#     leader that every replica trusts;
#   - the leader, killed with SIGKILL, is restarted by its supervisor and
#     READY again, and the cluster has a leader again;
#   - an instance the configuration does not have exits 2 and is not
#     restarted (RestartPreventExitStatus);
#   - SIGTERM to the supervisors stops every replica with exit 0.
# Cleans up every process it started, by pid, on any exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d /tmp/paxcommit-service.XXXXXX)
root=$tmp/root
sup_pids=()
cleanup() {
	for p in "${sup_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${sup_pids[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	[[ -n ${KEEP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	printf 'test-service: %s\n' "$*" >&2
	for f in "$tmp"/sup.*.out; do [[ -e $f ]] && { echo "--- $f" >&2; cat "$f" >&2; }; done
	exit 1
}
# wait_for FILE REGEX SECONDS: poll until a line of FILE matches.
wait_for() {
	local end=$((SECONDS + $3))
	until grep -Eq "$2" "$1" 2>/dev/null; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}

make -s install BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "make install failed"; }
unit=$root/usr/lib/systemd/system/paxcommit-coordinator@.service
[[ -f $unit ]] || fail "no installed $unit"
cli=$root/usr/bin/paxcommit

# free loopback ports: the kernel's choice for a bound socket
read -r -a ports < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(7)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
mkdir -p "$root/etc/paxcommit"
{
	printf '[cluster]\nname = svc\nsecurity = none\n\n'
	for i in 0 1 2; do
		printf '[coordinator.%d]\nendpoint = tcp://127.0.0.1:%s\ndata_dir = %s/var/lib/paxcommit/coordinator.%d\nmetrics = 127.0.0.1:%s\n\n' \
			"$i" "${ports[i]}" "$root" "$i" "${ports[i + 3]}"
	done
	printf '[participant.a]\nid = 1\nendpoint = tcp://127.0.0.1:%s\nconninfo = host=127.0.0.1 port=1 dbname=none\n' "${ports[6]}"
} >"$root/etc/paxcommit/cluster.conf"
conf=$root/etc/paxcommit/cluster.conf

start_sup() { # instance
	python3 tests/install/supervise.py --unit "$unit" --instance "$1" --root "$root" \
		--log "$tmp/coordinator.$1.log" >"$tmp/sup.$1.out" 2>&1 &
	sup_pids+=($!)
}
for i in 0 1 2; do start_sup "$i"; done
for i in 0 1 2; do
	wait_for "$tmp/sup.$i.out" '^ready pid=' 60 || fail "coordinator@$i never sent READY=1"
done
grep -q 'status=replica 0 of 3: recovered, listening' "$tmp/sup.0.out" || fail "READY without the STATUS line"

# The leader `paxcommit cluster` names once all three replicas trust it
# (participant.a has no database here, so the command itself exits 1).
wait_leader() {
	local end=$((SECONDS + 20)) out l
	while ((SECONDS < end)); do
		out=$("$cli" --config "$conf" cluster 2>/dev/null || true)
		l=$(sed -n 's/^leader: coordinator\.\([0-9]\)$/\1/p' <<<"$out")
		if [[ -n $l && $(grep -c "up, trusts coordinator.$l" <<<"$out") == 3 ]]; then
			echo "$l"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
l=$(wait_leader) || fail "no leader that all three replicas trust: $("$cli" --config "$conf" cluster 2>&1)"
echo "test-service: 3 replicas READY under the installed unit; leader coordinator.$l"

# SIGKILL the leader: Restart=on-failure brings it back, READY again
pid=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$tmp/sup.$l.out" | tail -1)
[[ -n $pid ]] || fail "no pid for coordinator@$l"
kill -KILL "$pid"
wait_for "$tmp/sup.$l.out" "^exited pid=$pid code=-9" 10 || fail "the supervisor did not see coordinator@$l die"
wait_for "$tmp/sup.$l.out" '^restart in' 5 || fail "coordinator@$l was not restarted"
for _ in $(seq 1 600); do # 30 s
	[[ $(grep -c '^ready pid=' "$tmp/sup.$l.out") -ge 2 ]] && break
	sleep 0.05
done
[[ $(grep -c '^ready pid=' "$tmp/sup.$l.out") -ge 2 ]] || fail "coordinator@$l did not come back READY"
l2=$(wait_leader) || fail "no leader after the restart"
echo "test-service: coordinator@$l killed -9, restarted by its supervisor, READY; leader coordinator.$l2"

# an instance the configuration lacks: exit 2, not restarted
python3 tests/install/supervise.py --unit "$unit" --instance 7 --root "$root" --log "$tmp/coordinator.7.log" \
	>"$tmp/sup.7.out" 2>&1 && fail "coordinator@7 (not configured) did not fail" || rc=$?
[[ $rc == 3 ]] || fail "supervisor of coordinator@7 exited $rc, want 3"
grep -q '^exited pid=[0-9]* code=2$' "$tmp/sup.7.out" || fail "coordinator@7 did not exit 2"
grep -q '^not restarted: exit 2 is in RestartPreventExitStatus' "$tmp/sup.7.out" || fail "coordinator@7 was restarted"
[[ $(grep -c '^started' "$tmp/sup.7.out") == 1 ]] || fail "coordinator@7 started more than once"

# SIGTERM: every replica stops with exit 0
for p in "${sup_pids[@]}"; do kill -TERM "$p"; done
for i in 0 1 2; do
	wait "${sup_pids[i]}" || fail "supervisor of coordinator@$i exited $?"
	grep -q '^stopped pid=[0-9]* code=0$' "$tmp/sup.$i.out" || fail "coordinator@$i did not stop with exit 0"
	grep -q '^stopping pid=' "$tmp/sup.$i.out" || fail "coordinator@$i did not send STOPPING=1"
done
sup_pids=()
echo "test-service: SIGTERM stopped all three with exit 0; an unconfigured instance exited 2 and was not restarted"
