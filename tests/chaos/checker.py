"""The chaos suite's checker: not part of the product.  It reads the
workload's history (tests/chaos/chaos_client.c) and the databases, and
verifies:
  - the totals: money is neither made nor lost;
  - every account's balance is its start plus the deltas of the
    transactions the databases hold (nothing applied twice or half);
  - list-append: every transaction's log row is on both databases or on
    neither, and never twice (a lost or doubled commit shows up);
  - every COMMITTED (ok) is committed on every participant, every ABORTED
    (fail) on none, every UNKNOWN (info) resolved to one outcome that both
    databases agree with;
  - nothing is left in pg_prepared_xacts once the faults heal (within
    2 x txn_timeout_ms);
  - after a kill -9 of every replica, the cluster still reports every
    acknowledged outcome (chaos_client --verify): none changed or was lost;
  - agreement: no two replicas' commit logs (paxcommit-coordinator
    --dump-decisions, read after the last kill -9) hold different outcomes
    for one gid, and none contradicts what a client was told or what the
    databases hold;
  - fail-stop: a replica whose disk failed a sync (the disk-eio nemesis)
    stopped with exit 4 by the heal;
  - liveness: per fault, how long commits stopped, from the fault's start
    when it left a connected majority with every participant, else from its
    heal; the target is 2 x lease_ms + resend_ms (+ a transaction's own time
    on a loaded 2-core machine, CHAOS_SLACK_MS).
"""
import os
import subprocess
import time

SCHEMA = """
CREATE TABLE chaos_accounts(id int PRIMARY KEY, balance bigint NOT NULL);
INSERT INTO chaos_accounts SELECT g, 1000 FROM generate_series(1, {accounts}) g;
CREATE TABLE chaos_log(gid text NOT NULL, op bigint NOT NULL, delta bigint NOT NULL, db text NOT NULL);
GRANT ALL ON chaos_accounts, chaos_log TO paxcommit_agent;
"""
START_BALANCE = 1000
CHAOS_SLACK_MS = int(os.environ.get("CHAOS_SLACK_MS", "700"))
# A replica that hit its full or failing disk just before the heal stops
# (exit 4) a moment after it: the heal saw it running.
LATE_FAIL_STOP_MS = 5000


def query(cl, x, sql):
    r = subprocess.run(["psql", "-X", "-q", "-w", "-At", "-F", "\t", "-h", os.path.join(cl.dir, f"pg.{x}"),
                        "-p", "5432", "-U", "postgres", "-d", "paxcommit", "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"postgres.{x}: {sql}: {r.stdout.strip()}")
    return [ln.split("\t") for ln in r.stdout.splitlines() if ln]


def prepared(cl):
    return {x: [r[0] for r in query(cl, x, "SELECT gid FROM pg_prepared_xacts")] for x in cl.parts}


def wait_drained(cl, budget_ms):
    """ms until no prepared transaction is left anywhere, or None."""
    t0 = time.time()
    while (time.time() - t0) * 1000 < budget_ms:
        if not any(prepared(cl).values()):
            return int((time.time() - t0) * 1000)
        time.sleep(0.2)
    return None


def read_history(path):
    ops, resolved, start = {}, {}, None
    with open(path) as f:
        for ln in f:
            w = ln.rstrip("\n").split("\t")
            if w[0] == "op" and len(w) >= 14:
                ops[int(w[1])] = {"id": int(w[1]), "kind": w[3], "gid": w[4], "t0": int(w[5]), "t1": int(w[6]),
                                  "outcome": w[7], "src": w[8], "dst": w[9], "asrc": int(w[10]),
                                  "adst": int(w[11]), "amount": int(w[12]), "reason": w[13]}
            elif w[0] == "resolve" and len(w) >= 4:
                resolved[int(w[1])] = w[3]
            elif w[0] == "start":
                start = int(w[1])
    return ops, resolved, start


def read_dump(text):
    """gid -> {outcome, ...} from the lines of --dump-decisions."""
    out = {}
    for ln in text.splitlines():
        w = ln.split()
        if len(w) == 3 and w[0] in ("decision", "forget") and w[2] in ("commit", "abort"):
            out.setdefault(w[1], set()).add(w[2])
    return out


def agreement(dumps, hist, where=None):
    """Violations of agreement across the replicas' logs.  dumps maps a
    replica's name to the text of its --dump-decisions; where (gid -> the
    databases holding its log row) adds the databases as witnesses."""
    v = []
    ops, resolved, _ = read_history(hist)
    told = {}
    for o in ops.values():
        r = {"ok": "commit", "fail": "abort"}.get(o["outcome"])
        if o["outcome"] == "info":
            r = {"committed": "commit", "aborted": "abort"}.get(resolved.get(o["id"]))
        if r and o["gid"] != "-":
            told[o["gid"]] = (r, o["id"])
    seen = {}  # gid -> {outcome: [replica, ...]}
    for name, text in sorted(dumps.items()):
        for gid, outs in read_dump(text).items():
            if len(outs) > 1:
                v.append(f"agreement: {name}'s commit log holds both commit and abort for {gid}")
            for o in outs:
                seen.setdefault(gid, {}).setdefault(o, []).append(name)
    for gid, by in seen.items():
        if len(by) > 1:
            v.append(f"agreement: {gid} is committed at {by['commit']} and aborted at {by['abort']}")
        if gid in told and told[gid][0] not in by:
            v.append(f"agreement: op {told[gid][1]} {gid} was told {told[gid][0]}, "
                     f"the commit logs say {sorted(by)} ({sorted(n for ns in by.values() for n in ns)})")
        if where is not None and "abort" in by and gid in where:
            v.append(f"agreement: {gid} is in the databases {sorted(where[gid])} and aborted at {by['abort']}")
    return v, sum(len(read_dump(t)) for t in dumps.values())


def check(cl, hist, events, exits, verify_out, drained_ms, cfg):
    v = []  # violations, in words
    ops, resolved, _ = read_history(hist)
    logs = {x: query(cl, x, "SELECT gid, op, delta FROM chaos_log") for x in cl.parts}
    bal = {x: {int(r[0]): int(r[1]) for r in query(cl, x, "SELECT id, balance FROM chaos_accounts")}
           for x in cl.parts}
    # Totals.
    total = sum(sum(b.values()) for b in bal.values())
    want = START_BALANCE * sum(len(b) for b in bal.values())
    if total != want:
        v.append(f"totals: the databases hold {total}, not {want}")
    # List-append: where each gid's rows are.
    where = {}
    for x, rows in logs.items():
        for gid, op, delta in rows:
            where.setdefault(gid, {}).setdefault(x, []).append((int(op), int(delta)))
    for gid, per in where.items():
        for x, rows in per.items():
            if len(rows) > 1:
                v.append(f"doubled: {gid} applied {len(rows)} times on {x}")
        if len(per) != len(cl.parts):
            v.append(f"atomicity: {gid} committed on {sorted(per)} only")
    # Balances: start + the deltas of the committed transactions.
    for x in cl.parts:
        exp = {k: START_BALANCE for k in bal[x]}
        for gid, per in where.items():
            for op, delta in per.get(x, []):
                o = ops.get(op)
                if o is None:
                    v.append(f"history: {gid} (op {op}) is in the database on {x} but not in the history")
                    continue
                acct = o["asrc"] if x == o["src"] else o["adst"]
                exp[acct] = exp.get(acct, START_BALANCE) + delta
        for k in bal[x]:
            if bal[x][k] != exp.get(k):
                v.append(f"balance: {x} account {k} holds {bal[x][k]}, its committed transactions say {exp.get(k)}")
    # Client truth.
    counts = {"ok": 0, "fail": 0, "info": 0}
    unres = 0
    for o in ops.values():
        counts[o["outcome"]] = counts.get(o["outcome"], 0) + 1
        on = sorted(where.get(o["gid"], {}))
        if o["outcome"] == "ok" and len(on) != len(cl.parts):
            v.append(f"client truth: op {o['id']} {o['gid']} answered COMMITTED, committed on {on}")
        elif o["outcome"] == "fail" and on:
            v.append(f"client truth: op {o['id']} {o['gid']} answered ABORTED, committed on {on}")
        elif o["outcome"] == "info":
            r = resolved.get(o["id"], "unresolved")
            if r == "committed" and len(on) != len(cl.parts):
                v.append(f"unknown resolved: op {o['id']} {o['gid']} status COMMITTED, committed on {on}")
            elif r == "aborted" and on:
                v.append(f"unknown resolved: op {o['id']} {o['gid']} status ABORTED, committed on {on}")
            elif r == "unknown_gid" and on:
                # Presumed abort: a gid the cluster no longer knows aborted.
                v.append(f"unknown resolved: op {o['id']} {o['gid']} status UNKNOWN_GID (presumed abort), "
                         f"committed on {on}")
            elif r not in ("committed", "aborted", "unknown_gid"):
                # Every UNKNOWN must resolve to one outcome: a status that
                # stays "undecided" leaves the application stuck.
                unres += 1
                v.append(f"unknown never resolved: op {o['id']} {o['gid']} got no final answer from pc_status "
                         f"(asked until the resolve budget ran out)")
    # In doubt after healing.
    left = prepared(cl)
    if drained_ms is None:
        v.append(f"in doubt: still prepared {2 * cfg['txn_timeout_ms'] + 4000} ms after healing: {left}")
    # Durability across a kill -9 of every replica.
    mism = [ln for ln in verify_out.splitlines() if "MISMATCH" in ln]
    for ln in mism[:20]:
        v.append(f"after kill -9 of every replica: {ln.strip()}")
    summ = [ln for ln in verify_out.splitlines() if ln.startswith("verify: checked=")]
    vsum = {}
    if summ:
        for kv in summ[-1].split()[1:]:
            k, _, val = kv.partition("=")
            vsum[k] = int(val) if val.isdigit() else val
        if vsum.get("unknown_gid", 0):
            v.append(f"after kill -9 of every replica: {vsum['unknown_gid']} acknowledged gids unknown "
                     f"to the cluster (forgotten within the GC horizon)")
        if vsum.get("undecided", 0):
            v.append(f"after kill -9 of every replica: {vsum['undecided']} acknowledged outcomes are now "
                     f"'undecided' (lost)")
        if vsum.get("no_answer", 0) > max(10, vsum.get("checked", 0) // 100):
            v.append(f"after kill -9 of every replica: no answer for {vsum['no_answer']} of "
                     f"{vsum.get('checked', 0)} acknowledged gids")
    else:
        v.append("verify: chaos_client --verify printed no summary")
    # Liveness per fault.
    # Commits, not answers: a cluster that aborts everything quickly has
    # stalled too.  The agents' path needs the leader for every decision; an
    # XA-style commit is learned from a majority of acceptors and may go on
    # without one, so only the agents' commits count for the stall.
    answers = sorted(o["t1"] for o in ops.values() if o["outcome"] == "ok" and o["kind"] == "agent")
    target = 2 * cfg["lease_ms"] + cfg["resend_ms"]
    per_kind = {}
    for e in events:
        # From the heal, or from when a killed PostgreSQL took connections
        # again (its crash recovery is its own).
        heal = max(e["end"], e.get("db_ready", 0))
        frm = e["start"] if e["connected"] else heal
        to = e["end"] if e["connected"] else heal + 4 * cfg["txn_timeout_ms"]
        last, stall = frm, 0
        for t in answers:
            if t < frm:
                continue
            if t > to:
                break
            stall = max(stall, t - last)
            last = t
        if e["connected"]:
            stall = max(stall, to - last)
        else:  # from the heal to the first outcome
            after = [t for t in answers if t >= frm]
            stall = (after[0] - frm) if after else to - frm
        e["stall_ms"] = stall
        e["txns"] = sum(1 for o in ops.values() if e["start"] <= o["t0"] <= e["end"])
        mf = "start" if e["connected"] else "heal"
        k = per_kind.setdefault(e["kind"], {"faults": 0, "txns": 0, "longest_stall_ms": 0,
                                            "measured_from": mf, "violations": 0, "longest_settle_ms": 0})
        # After the heal: what was prepared at the heal drained, and commits
        # flowed again, within 2 x txn_timeout + 4 s (chaos.py, settle).
        if "settle_ms" in e:
            if e["settle_ms"] is None:
                k["violations"] += 1
                k["longest_settle_ms"] = None
                v.append(f"settle: after the heal of {e['kind']} ({e['target']}) gids prepared at the heal "
                         f"were still prepared, or no commit came, {2 * cfg['txn_timeout_ms'] + 4000} ms later")
            elif k["longest_settle_ms"] is not None:
                k["longest_settle_ms"] = max(k["longest_settle_ms"], e["settle_ms"])
        if k["measured_from"] != mf:
            k["measured_from"] = "both"
        k["faults"] += 1
        k["txns"] += e["txns"]
        # Fail-stop on a failed sync: a replica that saw EIO must have
        # stopped by the heal (exit 4); one that went on may have
        # acknowledged what the disk lost.
        for part, hits, code in zip(e.get("parts", []), e.get("eio_hits", []), e.get("exit_code", [])):
            if part != "disk-eio" or not hits:
                continue
            if code != 4:
                k["violations"] += 1
                v.append(f"fail-stop: {e['target']}: {hits} failed syncs, and the replica "
                         + ("was still running at the heal" if code is None else f"exited with {code}, not 4"))
        k["longest_stall_ms"] = max(k["longest_stall_ms"], stall)
        bound = target + CHAOS_SLACK_MS if e["connected"] else 2 * cfg["txn_timeout_ms"] + CHAOS_SLACK_MS
        if stall > bound:
            k["violations"] += 1
            v.append(f"liveness: {e['kind']} ({e['target']}) stopped commits for {stall} ms from its "
                     f"{'start' if e['connected'] else 'heal'}, more than {bound} ms")
    # Daemons that stopped outside a fault that stops them (the harness's
    # supervisor started them again): only a replica's fail-stop (exit 4)
    # just after its own disk fault healed is expected; anything else is a
    # crash or a fail-stop without cause.
    for x in exits:
        late = any(x["name"] in e["target"].split("; ") and
                   any(p in ("disk-full", "disk-eio") for p in e.get("parts", [])) and
                   e["end"] <= x["t"] <= e["end"] + LATE_FAIL_STOP_MS for e in events)
        x["expected"] = bool(x["code"] == 4 and x["name"].startswith("coordinator.") and late)
        if not x["expected"]:
            v.append(f"exit: {x['name']} stopped with exit code {x['code']} outside a fault that stops it")
    return {"ops": len(ops), "counts": counts, "unresolved": unres, "drained_ms": drained_ms,
            "verify": vsum, "per_kind": per_kind, "events": events, "exits": exits, "violations": v,
            "target_ms": target, "slack_ms": CHAOS_SLACK_MS}


def report(rep, seed):
    c = rep["counts"]
    print(f"chaos report (seed {seed}): transactions={rep['ops']} committed={c.get('ok', 0)} "
          f"aborted={c.get('fail', 0)} unknown={c.get('info', 0)} (unresolved {rep['unresolved']}); "
          f"in-doubt drained in {rep['drained_ms']} ms; verify after kill -9 of every replica: {rep['verify']}")
    print(f"  liveness target: {rep['target_ms']} ms (2 x lease + resend) + {rep['slack_ms']} ms slack from a "
          f"connected fault's start; 2 x txn_timeout + slack from the heal otherwise")
    print("  longest stall: the longest time without a commit on the agents' path (it needs the leader)")
    w = max([18] + [len(kd) for kd in rep["per_kind"]])
    print("  settled: the longest time from a heal until what was prepared at the heal drained and commits flowed")
    print(f"  {'nemesis':<{w}} {'faults':>6} {'txns':>6} {'longest stall':>14} {'from':>6} {'settled':>10} "
          f"{'violations':>10}")
    for kind, k in sorted(rep["per_kind"].items()):
        st = k.get("longest_settle_ms", 0)
        st = "never" if st is None else f"{st} ms"
        print(f"  {kind:<{w}} {k['faults']:>6} {k['txns']:>6} {k['longest_stall_ms']:>11} ms {k['measured_from']:>6} "
              f"{st:>10} {k['violations']:>10}")
    ex = rep.get("exits", [])
    if ex:
        print(f"  daemons started again by the supervisor: {len(ex)} ("
              f"{sum(1 for x in ex if x['expected'])} fail-stops just after their disk fault healed)")
    print(f"  violations: {len(rep['violations'])}")
    for s in rep["violations"][:40]:
        print(f"  VIOLATION {s}")
