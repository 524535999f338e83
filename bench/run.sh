#!/usr/bin/env bash
# make bench: the end-to-end benchmark.  Brings up its own local clusters
# (scripts/devcluster), runs the same bank transfer on every system at 1, 8
# and 32 clients, and writes build/bench/results.json, a table on stdout and
# build/bench/latency-throughput.png (gnuplot).  See bench/README.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bin=$repo/build/bin
dc=$repo/scripts/devcluster
out=$repo/build/bench
secs=${BENCH_SECONDS:-3}
clients=${BENCH_CLIENTS:-1 8 32}
reps=${BENCH_REPS:-3}
mkdir -p "$out"
base=$(mktemp -d /tmp/paxcommit-bench-XXXXXX)
chmod 755 "$base"
cleanup() {
	for d in "$base"/c3 "$base"/c3n "$base"/c1; do [[ -f $d/cluster.conf ]] && "$dc" down --dir "$d" >/dev/null 2>&1 || true; done
	rm -rf "$base"
}
trap cleanup EXIT
results=$out/results.jsonl
: >"$results"

conninfo() { # conf name
	awk -v s="[participant.$2]" '$0 == s {f = 1; next} /^\[/ {f = 0} f && /^conninfo/ {sub(/^conninfo *= */, ""); print}' "$1"
}

# A cluster of N coordinators and 3 databases: a and b hold the accounts, c is
# B1L's coordinator database.  Agent pools are raised to 40 (32 clients).
cluster() { # dir ncoord [devcluster up options]
	local d=$1 n=$2 p
	shift 2
	"$dc" up --dir "$d" --coordinators "$n" --participants 3 "$@" >/dev/null
	sed -i 's/^pool = 8$/pool = 40/' "$d/cluster.conf"
	for p in a b c; do
		"$dc" kill --dir "$d" "participant.$p" >/dev/null
		"$dc" start --dir "$d" "participant.$p" >/dev/null
	done
	for p in a b; do psql -X -q -v ON_ERROR_STOP=1 -d "$(conninfo "$d/cluster.conf" $p)" -f sql/demo_bank.sql >/dev/null 2>&1; done
	psql -X -q -d "$(conninfo "$d/cluster.conf" c)" -c "CREATE TABLE IF NOT EXISTS bench_commit_records(gid text PRIMARY KEY, at timestamptz DEFAULT now())" >/dev/null
	# agents refuse gids born in their first second
	for p in a b; do
		local k
		for k in $(seq 50); do "$bin/paxcommit" --config "$d/cluster.conf" exec -p $p 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
	done
}

# CPU ticks so far of the cluster's processes, as "coordinators agents
# postgres" (PostgreSQL a and b: the postmaster and its children alive now).
# The agents' database sessions live as long as the agents, so for B2 they
# are all counted; B0/B1/B1L open their own sessions, which the snapshots
# miss (their PostgreSQL share is the machine's busy time minus the client).
ticks() { # dir
	local d=$1 f p pm co=0 ag=0 pg=0
	stat_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
	for f in "$d"/coordinator.*.pid; do [[ -f $f ]] && co=$((co + $(stat_ticks "$(cat "$f")"))); done
	for f in "$d"/participant.a.pid "$d"/participant.b.pid; do [[ -f $f ]] && ag=$((ag + $(stat_ticks "$(cat "$f")"))); done
	for p in a b; do
		pm=$(head -1 "$d/pg.$p/postmaster.pid" 2>/dev/null) || continue
		for f in $pm $(pgrep -P "$pm"); do pg=$((pg + $(stat_ticks "$f"))); done
	done
	echo "$co $ag $pg"
}

one() { # conf clients system label [extra]: one run, appended to the results
	local conf=$1 c=$2 sys=$3 label=$4 p t0 t1 line
	shift 4
	# fresh accounts for every run: an overdraft aborts, and aborts are
	# not what is measured
	for p in a b; do psql -X -q -v ON_ERROR_STOP=1 -d "$(conninfo "$conf" $p)" -f sql/demo_bank.sql >/dev/null 2>&1; done
	t0=$(ticks "$(dirname "$conf")")
	line=$("$bin/bench_bank" --config "$conf" --system "$sys" --clients "$c" --seconds "$secs" --label "$label" "$@")
	t1=$(ticks "$(dirname "$conf")")
	# CPU ms per committed transfer of the coordinators, the agents and (B2
	# only) PostgreSQL; the snapshots include the 1 s warm-up.
	python3 - "$line" "$t0" "$t1" "$secs" "$(getconf CLK_TCK)" <<'PY' | tee -a "$results"
import json, sys
r = json.loads(sys.argv[1])
a, b = [list(map(int, x.split())) for x in sys.argv[2:4]]
secs, hz = float(sys.argv[4]), float(sys.argv[5])
n = r["committed"] * (secs + 1) / secs if r.get("committed") else 0
if n:
    d = [(y - x) * 1000.0 / hz / n for x, y in zip(a, b)]
    r["coord_cpu_ms_per_txn"], r["agent_cpu_ms_per_txn"] = round(d[0], 3), round(d[1], 3)
    if r["system"] == "B2" and "XA" not in r["label"]:  # XA-style: its own sessions, gone at the snapshot
        r["pg_cpu_ms_per_txn"] = round(d[2], 3)
print(json.dumps(r))
PY
}

# Each system at each client count, BENCH_REPS times, the systems taking
# turns (rep 1 of every system, then rep 2, ...), so that a slow spell of
# this shared machine falls on all of them; the table shows medians.
interleaved() { # conf, then lines "SYSTEM|LABEL|EXTRA ARGS[|CONF]" on stdin
	local conf=$1 r c line sys label extra alt
	local -a sys_lines=()
	while IFS= read -r line; do [[ -n $line ]] && sys_lines+=("$line"); done
	for r in $(seq "$reps"); do
		for c in $clients; do
			for line in "${sys_lines[@]}"; do
				IFS='|' read -r sys label extra alt <<<"$line"
				# shellcheck disable=SC2086 # extra is a word list
				one "${alt:-$conf}" "$c" "$sys" "$label" $extra
			done
		done
	done
}

echo "== cluster: 3 coordinators, PostgreSQL a, b (accounts) and c (B1L's coordinator database)"
cluster "$base/c3" 3
conf=$base/c3/cluster.conf
# The same without CURVE (security = none), for what CURVE costs: its runs
# take turns with the others; idle, a cluster costs only its heartbeats.
echo "== cluster: the same with security = none"
cluster "$base/c3n" 3 --security none
nconf=$base/c3n/cluster.conf
# B2 commits with pc_exec_commit (the UPDATEs and the commit in one round
# trip); the "exec then commit" line is pc_exec_parallel, then pc_commit.
interleaved "$conf" <<EOF
B0|B0 single database|
B1|B1 client 2PC (not durable)|
B1L|B1L durable 1-coordinator 2PC|
B2|B2 paxcommit 3 replicas, applied|--wait applied --exec-commit
B2|B2 paxcommit 3 replicas, applied, no CURVE|--wait applied --exec-commit|$nconf
B2|B2 paxcommit 3 replicas, decided|--wait decided --exec-commit
B2|B2 paxcommit 3 replicas, exec then commit, applied|--wait applied
B2|B2 paxcommit 3 replicas, XA-style, applied|--xa
B2|B2 paxcommit 3 replicas, XA-style, applied, no CURVE|--xa|$nconf
EOF
"$dc" down --dir "$base/c3" >/dev/null
"$dc" down --dir "$base/c3n" >/dev/null

echo "== cluster: 1 coordinator"
cluster "$base/c1" 1
interleaved "$base/c1/cluster.conf" <<'EOF'
B2|B2 paxcommit 1 replica, applied|--wait applied --exec-commit
EOF
"$dc" down --dir "$base/c1" >/dev/null

echo "== B3: coordinator-only decisions"
"$repo/build/bin/bench_decide" --seconds "$secs" --clients 1 --window 512 | tee -a "$results"

echo "== messages per committed transaction (2 participants)"
"$repo/build/bin/bench_decide" --count 500 --replicas 3 2>/dev/null | tee -a "$results"
"$repo/build/bin/bench_decide" --count 500 --replicas 1 2>/dev/null | tee -a "$results"

python3 - "$results" "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
json.dump(runs, open(out + "/results-runs.json", "w"), indent=1)
# The median of the repetitions of each (system, clients); B3 and the
# message counts run once.
rows, seen = [], {}
for r in runs:
    key = (r["label"], r.get("clients"))
    if r["system"] in ("B3", "messages"):
        rows.append(r)
    elif key not in seen:
        seen[key] = len(rows)
        rows.append(None)
groups = {}
for r in runs:
    if r["system"] not in ("B3", "messages"):
        groups.setdefault((r["label"], r.get("clients")), []).append(r)
for key, i in seen.items():
    g = groups[key]
    m = dict(g[0])
    for f in ("tps", "p50_ms", "p99_ms", "commit_p50_ms", "cpu_ms_per_txn", "client_cpu_ms_per_txn",
              "coord_cpu_ms_per_txn", "agent_cpu_ms_per_txn", "pg_cpu_ms_per_txn"):
        m[f] = statistics.median(x.get(f, 0) for x in g)
    m["reps"] = len(g)
    rows[i] = m
json.dump(rows, open(out + "/results.json", "w"), indent=1)
print()
print("medians of %s runs each, the systems taking turns" % (max(r.get("reps", 1) for r in rows) if rows else 0))
print("%-52s %7s %10s %9s %9s %8s" % ("system", "clients", "tps", "p50 ms", "p99 ms", "cpu ms"))
msgs = [r for r in rows if r["system"] == "messages"]
rows = [r for r in rows if r["system"] != "messages"]
for r in rows:
    cpu = r.get("cpu_ms_per_txn")
    print("%-52s %7s %10.1f %9.3f %9.3f %8s" % (r["label"], r.get("clients", "-"), r["tps"], r.get("p50_ms", 0),
                                              r.get("p99_ms", 0), "%.3f" % cpu if cpu else "-"))
def get(label, c, curve=True):
    for r in rows:
        if r["label"].startswith(label) and r.get("clients") == c and ("no CURVE" not in r["label"]) == curve:
            return r
b1, b1l, b2 = get("B1 ", 1), get("B1L", 1), get("B2 paxcommit 3 replicas, applied", 1)
b1_32, b2_32 = get("B1 ", 32), get("B2 paxcommit 3 replicas, applied", 32)
xa, xa_32 = get("B2 paxcommit 3 replicas, XA-style", 1), get("B2 paxcommit 3 replicas, XA-style", 32)
b3 = [r for r in rows if r["system"] == "B3"]
print()
# Each target for the agents' path (pc_exec_commit) and the XA-style one
# (the application's own connections; the client applies the outcome, so
# it returns with the transaction applied, as wait=applied does).
for name, one in (("B2 applied", b2), ("B2 XA-style", xa)):
    if b1 and b1l and one:
        print("target: %-11s p50 @1 client / B1  = %.2f (want <= 1.5)" % (name, one["p50_ms"] / b1["p50_ms"]))
        print("target: %-11s p50 @1 client / B1L = %.2f (want <= 1.0)" % (name, one["p50_ms"] / b1l["p50_ms"]))
if b1_32 and xa_32:
    print("target: B2 XA-style  tps @32 / B1 tps @32 = %.2f (want >= 0.8)" % (xa_32["tps"] / b1_32["tps"]))
if b1_32 and b2_32:
    print("target: B2 applied   tps @32 / B1 tps @32 = %.2f (want >= 0.8)" % (b2_32["tps"] / b1_32["tps"]))
    if b1_32.get("cpu_ms_per_txn") and b2_32.get("cpu_ms_per_txn"):
        print("  CPU per transaction @32: B1 %.3f ms, B2 %.3f ms (2 CPUs; B1/B2 = %.2f)" % (
            b1_32["cpu_ms_per_txn"], b2_32["cpu_ms_per_txn"], b1_32["cpu_ms_per_txn"] / b2_32["cpu_ms_per_txn"]))
if b3:
    print("target: B3 decisions/s = %.0f (want >= 30000)" % b3[0]["tps"])
# What CURVE costs: the same runs on a cluster with security = none.
for name in ("B2 paxcommit 3 replicas, applied", "B2 paxcommit 3 replicas, XA-style"):
    for c in (1, 32):
        w, wo = get(name, c), get(name, c, curve=False)
        if w and wo:
            print("CURVE cost: %-36s @%2d clients: p50 %.3f ms with, %.3f ms without (x%.2f); tps %.0f with, %.0f without (x%.2f)"
                  % (name[3:], c, w["p50_ms"], wo["p50_ms"], w["p50_ms"] / wo["p50_ms"], w["tps"], wo["tps"],
                     w["tps"] / wo["tps"]))
print()
print("CPU ms per committed transfer by process (medians), %s clients:" % (b2_32 or {}).get("clients", 32))
print("%-52s %8s %8s %8s %8s %8s" % ("system", "machine", "client", "coords", "agents", "postgres"))
for r in rows:
    if r.get("clients") == 32 and r.get("cpu_ms_per_txn"):
        f = lambda k: "%.3f" % r[k] if r.get(k) else "-"
        print("%-52s %8s %8s %8s %8s %8s" % (r["label"], f("cpu_ms_per_txn"), f("client_cpu_ms_per_txn"),
                                             f("coord_cpu_ms_per_txn"), f("agent_cpu_ms_per_txn"), f("pg_cpu_ms_per_txn")))
for m in msgs:
    print("%s: %.2f measured; Paxos Commit (N+1)(F+3)-2 = %d, Faster Paxos Commit N(2F+3) = %d"
          % (m["label"], m["per_txn"], m["paxos_commit"], m["faster_paxos_commit"]))
PY
if command -v gnuplot >/dev/null; then
	python3 - "$out/results.json" "$out" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
by = {}
for r in rows:
    if r["system"] in ("B3", "messages"):
        continue
    by.setdefault(r["label"], []).append(r)
with open(sys.argv[2] + "/plot.dat", "w") as f:
    for label, rs in by.items():
        f.write('"%s"\n' % label)
        for r in sorted(rs, key=lambda r: r["clients"]):
            f.write("%f %f\n" % (r["tps"], r["p50_ms"]))
        f.write("\n\n")
with open(sys.argv[2] + "/plot.gp", "w") as f:
    f.write('set terminal png size 1000,650\nset output "%s/latency-throughput.png"\n' % sys.argv[2])
    f.write('set xlabel "throughput (transfers/s)"\nset ylabel "p50 latency (ms)"\nset key top left\nset grid\n')
    f.write('set title "bank transfer across 2 PostgreSQL databases: 1, 8, 32 clients"\n')
    f.write("plot " + ", ".join('"%s/plot.dat" index %d with linespoints title columnheader(1)' % (sys.argv[2], i) for i in range(len(by))) + "\n")
PY
	gnuplot "$out/plot.gp" && echo "picture: $out/latency-throughput.png"
else
	echo "gnuplot not installed: no picture (make deps installs it)"
fi
echo "results: $out/results.json"
