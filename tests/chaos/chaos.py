#!/usr/bin/python3
"""make test-chaos: paxcommit's real processes on simulated hosts, under faults.

Every coordinator replica, every participant agent with its PostgreSQL, and
the client run in a network namespace of their own, with an address of their
own, joined by veth pairs to a bridge in a "switch" namespace.  Traffic never
leaves the namespaces this script makes.  A nemesis injects faults, one at a
time (in long mode, one time in four, two at once): kill -9 of a replica, an
agent or a postmaster; SIGSTOP of the leader longer than the lease; the
leader or a follower isolated both ways; the leader unable to receive, or to
send (one-way partitions, with iptables); a bridge between the leader and a
follower; an agent or the client cut from the leader; a random split of all
hosts in two; packet loss; the disk under a replica's commit log full, or
failing every sync with EIO (and losing the unsynced data); one host's wall
clock stepped by 2 to 10 s (libfaketime).  Each heals itself.

The workload (tests/chaos/chaos_client.c) runs bank transfers between the two
databases through the agents and XA-style, and records every operation with
its invocation, completion and outcome.  The checker (tests/chaos/checker.py),
not part of the product, reads that history and the databases afterwards.

Usage: chaos.py --bin DIR --test-bin DIR [--minutes M] [--seed S] [--keep]
  quick mode (the default, for CI): every nemesis kind at least once;
  --minutes M: the long mode, a random schedule for M minutes from the
  printed seed.  Exit status: 0 no violation, 1 a violation, 2 setup failure.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

NET = "10.213.{}.{}"
# libfaketime (Debian libfaketime) shifts one process's wall clock; the
# monotonic clock stays true, as it does when a host's clock steps.
FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"]
LEASE_MS, HB_MS, RESEND_MS, TXN_TIMEOUT_MS = 300, 50, 200, 3000
HORIZON_MS = int(os.environ.get("CHAOS_HORIZON_MS", "600000"))  # the GC horizon (default: the daemons'), written out for --verify
TMPFS_MB = 160


def log(msg):
    print(f"chaos: {msg}", flush=True)


def now_ms():
    return int(time.time() * 1000)


def run(cmd, check=True, quiet=False, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stdout.strip()[-800:]}")
    return r


def pgbindir():
    try:
        d = run(["pg_config", "--bindir"]).stdout.strip()
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    except (RuntimeError, FileNotFoundError):
        pass
    for v in ("17", "16", "15"):
        d = f"/usr/lib/postgresql/{v}/bin"
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin)")


class Hosts:
    """Network namespaces: one per host, plus the switch with the bridge."""

    def __init__(self, tag, names, subnet):
        self.tag, self.names, self.subnet = tag, names, subnet
        self.sw = f"px{tag}sw"
        self.made = []
        self.rules = {}  # host -> iptables rules added (for the report)

    def ns(self, h):
        return f"px{self.tag}{h}"

    def addr(self, h):
        return NET.format(self.subnet, 10 + self.names.index(h))

    def up(self):
        run(["ip", "netns", "add", self.sw])
        self.made.append(self.sw)
        run(["ip", "-n", self.sw, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.sw, "link", "set", "br0", "up"])
        run(["ip", "-n", self.sw, "link", "set", "lo", "up"])
        for k, h in enumerate(self.names):
            n = self.ns(h)
            run(["ip", "netns", "add", n])
            self.made.append(n)
            run(["ip", "-n", self.sw, "link", "add", f"v{k}", "type", "veth", "peer", "name", "eth0", "netns", n])
            run(["ip", "-n", self.sw, "link", "set", f"v{k}", "master", "br0", "up"])
            run(["ip", "-n", n, "addr", "add", f"{self.addr(h)}/24", "dev", "eth0"])
            run(["ip", "-n", n, "link", "set", "eth0", "up"])
            run(["ip", "-n", n, "link", "set", "lo", "up"])

    def ipt(self, h, *args):
        run(["ip", "netns", "exec", self.ns(h), "iptables", "-w", *args])

    def flush(self, h):
        run(["ip", "netns", "exec", self.ns(h), "iptables", "-w", "-F"], check=False)

    def down(self):
        # Deleting a namespace deletes its veth ends, bridge and iptables rules.
        for n in reversed(self.made):
            run(["ip", "netns", "del", n], check=False)
        self.made = []

    def leftovers(self):
        out = run(["ip", "netns", "list"], check=False).stdout
        return [ln.split()[0] for ln in out.splitlines() if ln.startswith(f"px{self.tag}")]


class Cluster:
    def __init__(self, a):
        self.a = a
        self.tag = f"{os.getpid() % 100000}"
        self.coords = [f"c{i}" for i in range(a.coordinators)]
        self.parts = ["a", "b"]
        self.hosts = Hosts(self.tag, self.coords + ["pa", "pb", "cl"], 1 + os.getpid() % 200)
        self.dir = tempfile.mkdtemp(prefix="pxchaos.")
        os.chmod(self.dir, 0o755)
        self.procs = {}  # name -> Popen
        self.log_mark = {}  # name -> size of its log when last started
        self.exits = []  # daemons that stopped outside a fault that stops them (supervise)
        self.gave_up = set()  # daemons the supervisor left down (start limit)
        self.pgbin = pgbindir()
        self.conf = os.path.join(self.dir, "cluster.conf")
        self.coord_bin = os.path.join(a.coord_bin or a.bin, "paxcommit-coordinator")
        self.agent_bin = os.path.join(a.bin, "paxcommit-participant")
        self.tmpfs = []
        self.faketime = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
        self.ft_pids = []
        self.eio_shim = os.path.join(a.test_bin, "libpx_eio.so")

    def eio_file(self, name):
        return os.path.join(self.dir, f"{name}.eio")

    def clock_file(self, name):
        return os.path.join(self.dir, f"{name}.faketime")

    def set_clock(self, name, offset_s):
        """Step process `name`'s wall clock to offset_s from the true time
        (libfaketime re-reads the file within a second)."""
        with open(self.clock_file(name) + ".tmp", "w") as f:
            f.write(f"{offset_s:+.3f}\n" if offset_s else "+0\n")
        os.replace(self.clock_file(name) + ".tmp", self.clock_file(name))

    # ---------------------------------------------------------- setup
    def make_keys(self):
        """CURVE key pairs (paxcommit keygen): the hosts' addresses are not
        loopback, so the config must have security = curve, the default.
        Returns {name: (public key, key file)}."""
        kd = os.path.join(self.dir, "keys")
        os.makedirs(os.path.join(kd, "clients"))
        names = ["client"] + [f"coordinator.{i}" for i in range(len(self.coords))] + \
            [f"participant.{x}" for x in self.parts]
        run([os.path.join(self.a.bin, "paxcommit"), "keygen", "--dir", kd, *names])
        shutil.copy(os.path.join(kd, "client.pub"), os.path.join(kd, "clients", "client.pub"))
        keys = {}
        for nm in names:
            with open(os.path.join(kd, nm + ".pub")) as f:
                pub = next(ln.split("=", 1)[1].strip() for ln in f if ln.startswith("public"))
            keys[nm] = (pub, os.path.join(kd, nm + ".key"))
        return kd, keys

    def write_conf(self):
        h = self.hosts
        kd, keys = self.make_keys()
        with open(self.conf, "w") as f:
            f.write("; written by tests/chaos/chaos.py\n[cluster]\nname = chaos\n")
            f.write(f"heartbeat_ms = {HB_MS}\nlease_ms = {LEASE_MS}\nresend_ms = {RESEND_MS}\n")
            f.write(f"txn_timeout_ms = {TXN_TIMEOUT_MS}\nhorizon_ms = {HORIZON_MS}\n")
            f.write(f"client_keys = {kd}/clients\nclient_key_file = {keys['client'][1]}\n")
            for i, c in enumerate(self.coords):
                f.write(f"\n[coordinator.{i}]\nendpoint = tcp://{h.addr(c)}:7000\n")
                f.write(f"data_dir = {self.dir}/{c}/data\n")
                pub, kf = keys[f"coordinator.{i}"]
                f.write(f"public_key = {pub}\nkey_file = {kf}\n")
            for k, x in enumerate(self.parts):
                ph = "p" + x
                f.write(f"\n[participant.{x}]\nid = {k + 1}\nendpoint = tcp://{h.addr(ph)}:7100\n")
                f.write(f"conninfo = host={h.addr(ph)} port=5432 dbname=paxcommit user=paxcommit_agent\npool = 8\n")
                pub, kf = keys[f"participant.{x}"]
                f.write(f"public_key = {pub}\nkey_file = {kf}\n")

    def as_pg(self, *cmd):
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd]

    def setup(self):
        self.hosts.up()
        for c in self.coords:
            d = os.path.join(self.dir, c)
            os.makedirs(d)
            # The commit log on a tmpfs of its own, for the disk-full nemesis:
            # big enough for a long run's log over the GC horizon (a 24 MB
            # one filled up after 10 minutes of workload alone).
            run(["mount", "-t", "tmpfs", "-o", "size=%dm" % TMPFS_MB, "tmpfs", d])
            self.tmpfs.append(d)
        self.write_conf()
        for x in self.parts:
            pg = os.path.join(self.dir, f"pg.{x}")
            os.makedirs(pg, mode=0o700)
            shutil.chown(pg, "postgres", "postgres")
            run(self.as_pg(f"{self.pgbin}/initdb", "-D", pg, "--auth=trust", "-U", "postgres", "--no-sync",
                           "--encoding=UTF8", "--no-locale"))
            with open(os.path.join(pg, "postgresql.conf"), "a") as f:
                f.write(f"\nlisten_addresses = '{self.hosts.addr('p' + x)}'\nport = 5432\n")
                f.write(f"unix_socket_directories = '{pg}'\nmax_prepared_transactions = 64\nfsync = on\n")
                f.write("max_connections = 60\n")
                # A client whose connection died mid-transaction (its
                # tcp_user_timeout fired under packet loss: no FIN, no RST
                # reaches the server) left a backend idle in transaction,
                # holding its row locks, for 6 minutes, until the next
                # kill of that postmaster: every thread queued behind it.
                # Keepalives end such a session within seconds of the
                # client host answering again, as a production server
                # that serves XA-style clients should be set.
                f.write("tcp_keepalives_idle = 1\ntcp_keepalives_interval = 1\ntcp_keepalives_count = 3\n"
                        "tcp_user_timeout = 3000\n")
            with open(os.path.join(pg, "pg_hba.conf"), "a") as f:
                f.write("host all all 10.213.0.0/16 trust\n")  # the suite's own hosts only
            self.start_pg(x)
        for x in self.parts:
            self.psql(x, "postgres", "CREATE DATABASE paxcommit")
            self.psql(x, "paxcommit", None, file=os.path.join(self.a.repo, "sql", "participant.sql"))
            self.psql(x, "paxcommit", checker.SCHEMA.format(accounts=self.a.accounts))
        for i in range(len(self.coords)):
            self.start(f"coordinator.{i}")
        for x in self.parts:
            self.start(f"participant.{x}")
        self.wait_ready()

    def psql(self, x, db, sql, file=None):
        cmd = ["psql", "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-h", os.path.join(self.dir, f"pg.{x}"),
               "-p", "5432", "-U", "postgres", "-d", db]
        cmd += ["-f", file] if file else ["-c", sql]
        return run(cmd)

    def start_pg(self, x):
        pg = os.path.join(self.dir, f"pg.{x}")
        logf = open(os.path.join(self.dir, f"postgres.{x}.log"), "a")
        p = subprocess.Popen(["ip", "netns", "exec", self.hosts.ns("p" + x),
                              *self.as_pg(f"{self.pgbin}/postgres", "-D", pg)],
                             stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[f"postgres.{x}"] = p
        deadline = time.time() + 60
        while time.time() < deadline:
            r = run(["psql", "-X", "-q", "-w", "-h", pg, "-p", "5432", "-U", "postgres", "-d", "postgres",
                     "-c", "select 1"], check=False)
            if r.returncode == 0:
                return
            if p.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"postgres.{x} did not start (see {self.dir}/postgres.{x}.log)")

    def start(self, name):
        kind, ident = name.split(".")
        if kind == "postgres":
            return self.start_pg(ident)
        if kind == "coordinator":
            host = self.coords[int(ident)]
            cmd = [self.coord_bin, "--config", self.conf, "--id", ident, "--segment-mb", "1",
                   "--checkpoint-records", "20000"]
        else:
            host = "p" + ident
            cmd = [self.agent_bin, "--config", self.conf, "--name", ident]
        logf = open(os.path.join(self.dir, f"{name}.log"), "a")
        self.log_mark[name] = logf.tell()
        preload, env = [], []
        if self.faketime:
            if not os.path.exists(self.clock_file(name)):
                self.set_clock(name, 0)
            preload.append(self.faketime)
            env += [f"FAKETIME_TIMESTAMP_FILE={self.clock_file(name)}", "FAKETIME_CACHE_DURATION=1",
                    "FAKETIME_DONT_FAKE_MONOTONIC=1", "NO_FAKE_STAT=1"]
        if kind == "coordinator" and os.path.exists(self.eio_shim):
            preload.append(self.eio_shim)
            env.append(f"PX_EIO_FILE={self.eio_file(name)}")
        if preload:
            cmd = ["env", "LD_PRELOAD=" + " ".join(preload), *env, *cmd]
        self.procs[name] = subprocess.Popen(["ip", "netns", "exec", self.hosts.ns(host), *cmd], stdout=logf,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        if self.faketime:  # ip and env exec: the daemon keeps this pid
            self.ft_pids.append(self.procs[name].pid)

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def supervise(self, held=()):
        """What an operator's supervisor (systemd's Restart=on-failure)
        does: start again every daemon that stopped, other than those an
        active fault holds down, and record each such exit.  (A replica
        whose disk filled up can fail-stop a moment after the heal freed
        it: the heal saw it running, and it stayed down for six minutes,
        which left two replicas for every later fault.)  The checker
        accepts only a fail-stop (exit 4) of a replica just after its disk
        fault healed.  Returns the names started again."""
        started = []
        for name, p in list(self.procs.items()):
            if name in held or name in self.gave_up:
                continue
            code = p.poll()
            if code is None:
                continue
            t = now_ms()
            self.exits.append({"name": name, "code": code, "t": t})
            # systemd's start limit: a daemon that keeps failing (it cannot
            # start, say) is left down after 3 exits within 60 s.
            if sum(1 for x in self.exits if x["name"] == name and x["t"] > t - 60000) > 3:
                self.gave_up.add(name)
                log(f"{name} exited with code {code}, its 4th exit within 60 s: left down")
                continue
            log(f"{name} exited with code {code} outside a fault that stops it; starting it again")
            self.start(name)
            started.append(name)
        return started

    def is_ready(self, name):
        if name.startswith("postgres"):
            return self.alive(name)
        try:
            with open(os.path.join(self.dir, f"{name}.log")) as f:
                f.seek(self.log_mark.get(name, 0))
                return "ready" in f.read()
        except OSError:
            return False

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            bad = [n for n in self.procs if not self.alive(n)]
            if bad:
                raise RuntimeError(f"not running: {bad} (logs in {self.dir})")
            if all("ready" in open(os.path.join(self.dir, f"{n}.log")).read()
                   for n in self.procs if not n.startswith("postgres")):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the cluster did not get ready in {timeout} s (logs in {self.dir})")

    def signal(self, name, sig):
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            os.kill(p.pid, sig)

    def kill9(self, name):
        p = self.procs.get(name)
        if p is None:
            return
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        if name.startswith("postgres"):
            # The postmaster's children go once it is gone; wait for them so
            # that a restart does not find the old shared memory in use.
            pg = os.path.join(self.dir, f"pg.{name.split('.')[1]}")
            deadline = time.time() + 15
            while time.time() < deadline:
                out = run(["pgrep", "-u", "postgres", "-f", f"-D {pg}"], check=False).stdout.strip()
                if not out and not self.pg_children(pg):
                    break
                time.sleep(0.1)

    def pg_children(self, pg):
        n = 0
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if os.readlink(f"/proc/{d}/cwd") == pg:
                        n += 1
                except OSError:
                    pass
        return n

    def leader(self):
        """The leader most live replicas trust, from their last "leader
        change" log line (0 if none says)."""
        votes = {}
        for i in range(len(self.coords)):
            if not self.alive(f"coordinator.{i}"):
                continue
            try:
                lines = open(os.path.join(self.dir, f"coordinator.{i}.log")).read().splitlines()
            except OSError:
                continue
            last = [ln for ln in lines if "leader change: trusting" in ln]
            if last:
                w = last[-1].split("trusting ")[1].split()
                if w[0].startswith("coordinator."):
                    lid = int(w[0].split(".")[1])
                    votes[lid] = votes.get(lid, 0) + 1
        return max(votes, key=lambda k: votes[k]) if votes else 0

    def stop_all(self):
        for name, p in list(self.procs.items()):
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 15
        for name, p in list(self.procs.items()):
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)

    def teardown(self):
        self.stop_all()
        self.hosts.down()
        # libfaketime's shared memory and semaphore per process, which a
        # process killed with SIGKILL leaves in /dev/shm.
        for pid in self.ft_pids:
            for f in (f"/dev/shm/faketime_shm_{pid}", f"/dev/shm/sem.faketime_sem_{pid}"):
                try:
                    os.unlink(f)
                except OSError:
                    pass
        for d in self.tmpfs:
            run(["umount", d], check=False)
        left = self.hosts.leftovers()
        if left:
            log(f"WARNING: namespaces left behind: {left}")
        if not self.a.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log(f"kept {self.dir}")


# ------------------------------------------------------------- nemeses
class Nemesis:
    """One fault: begin() injects it, end() heals it.  connected: the fault
    leaves a majority of replicas and every participant able to talk, so
    commits must go on during it (the stall is measured from its start);
    otherwise from its heal."""
    kind = "?"
    restarts = False  # it stops a replica's process and starts it again
    holds = False  # its target may stop during it, and stays down until the heal
    connected = True
    replica = False  # impairs one coordinator replica (two at once leave no majority of 3)

    def __init__(self, cl, rng):
        self.cl, self.rng = cl, rng
        self.target = ""

    def begin(self):
        pass

    def end(self):
        pass

    def pick_coordinator(self, leader_share):
        """Target the leader with probability leader_share, else any
        replica; returns its index."""
        n = len(self.cl.coords)
        i = self.cl.leader() if self.rng.random() < leader_share else self.rng.randrange(n)
        self.target = f"coordinator.{i}"
        return i

    def restart_if_stopped(self):
        """At the heal: record the target's exit code (None: still
        running), and start it again if it stopped."""
        p = self.cl.procs.get(self.target)
        self.exit_code = p.poll() if p else None
        if self.exit_code is not None:
            self.cl.start(self.target)


class KillCoordinator(Nemesis):
    kind = "kill-coordinator"
    holds = True
    restarts = True
    replica = True

    def begin(self):
        self.pick_coordinator(0.7)
        self.cl.kill9(self.target)

    def end(self):
        self.cl.start(self.target)


class KillAgent(Nemesis):
    kind = "kill-agent"
    holds = True
    connected = False  # every transfer needs both participants

    def begin(self):
        self.target = f"participant.{self.rng.choice(self.cl.parts)}"
        self.cl.kill9(self.target)

    def end(self):
        self.cl.start(self.target)


class KillPostmaster(Nemesis):
    kind = "kill-postmaster"
    holds = True
    connected = False

    def begin(self):
        self.target = f"postgres.{self.rng.choice(self.cl.parts)}"
        self.cl.kill9(self.target)

    def end(self):
        self.cl.start(self.target)  # returns once it accepts connections
        # PostgreSQL's own crash recovery (replaying the WAL since its last
        # checkpoint: 6.5 s in one long run) is no part of paxcommit's
        # stall: the heal-measured clock starts when the database is up.
        self.db_ready = now_ms()


class PauseLeader(Nemesis):
    kind = "pause-leader"
    restarts = True
    replica = True

    def begin(self):
        self.target = f"coordinator.{self.cl.leader()}"
        self.cl.signal(self.target, signal.SIGSTOP)

    def end(self):
        self.cl.signal(self.target, signal.SIGCONT)


class IptNemesis(Nemesis):
    def host_of_leader(self):
        i = self.cl.leader()
        self.target = f"coordinator.{i}"
        return self.cl.coords[i]

    def end(self):
        for h in self.hosts:
            self.cl.hosts.flush(h)


class IsolateLeader(IptNemesis):
    kind = "isolate-leader"
    replica = True

    def begin(self):
        h = self.host_of_leader()
        self.hosts = [h]
        self.cl.hosts.ipt(h, "-A", "INPUT", "-i", "eth0", "-j", "DROP")
        self.cl.hosts.ipt(h, "-A", "OUTPUT", "-o", "eth0", "-j", "DROP")


class LeaderDeaf(IptNemesis):
    """The one-way partition of the issue: the leader still sends, and
    receives nothing."""
    kind = "leader-deaf"
    replica = True

    def begin(self):
        h = self.host_of_leader()
        self.hosts = [h]
        self.cl.hosts.ipt(h, "-A", "INPUT", "-i", "eth0", "-j", "DROP")


class LeaderMute(IptNemesis):
    kind = "leader-mute"
    replica = True

    def begin(self):
        h = self.host_of_leader()
        self.hosts = [h]
        self.cl.hosts.ipt(h, "-A", "OUTPUT", "-o", "eth0", "-j", "DROP")


class IsolateFollower(IptNemesis):
    kind = "isolate-follower"
    replica = True

    def begin(self):
        lead = self.cl.leader()
        i = self.rng.choice([k for k in range(len(self.cl.coords)) if k != lead])
        self.target = f"coordinator.{i}"
        h = self.cl.coords[i]
        self.hosts = [h]
        self.cl.hosts.ipt(h, "-A", "INPUT", "-i", "eth0", "-j", "DROP")
        self.cl.hosts.ipt(h, "-A", "OUTPUT", "-o", "eth0", "-j", "DROP")


class Bridge(IptNemesis):
    """The leader and one follower cannot reach each other; the third
    replica reaches both (a bridge between two overlapping majorities)."""
    kind = "bridge"
    replica = True

    def begin(self):
        h = self.host_of_leader()
        lead = self.cl.coords.index(h)
        other = self.cl.coords[self.rng.choice([k for k in range(len(self.cl.coords)) if k != lead])]
        self.target = f"{self.target} <-/-> coordinator.{self.cl.coords.index(other)}"
        self.hosts = [h]
        a = self.cl.hosts.addr(other)
        self.cl.hosts.ipt(h, "-A", "INPUT", "-s", a, "-j", "DROP")
        self.cl.hosts.ipt(h, "-A", "OUTPUT", "-d", a, "-j", "DROP")


class AgentCutFromLeader(IptNemesis):
    """One agent cannot reach the leader, nor the leader it; the followers
    reach both (the agent must go through a working majority)."""
    kind = "agent-cut-leader"

    def begin(self):
        lh = self.host_of_leader()
        x = self.rng.choice(self.cl.parts)
        self.target = f"participant.{x} <-/-> {self.target}"
        h = "p" + x
        self.hosts = [h]
        a = self.cl.hosts.addr(lh)
        self.cl.hosts.ipt(h, "-A", "INPUT", "-s", a, "-j", "DROP")
        self.cl.hosts.ipt(h, "-A", "OUTPUT", "-d", a, "-j", "DROP")


class AgentMinority(IptNemesis):
    """One agent reaches one follower only: the leader and every other
    replica are cut from it both ways.  Its votes reach that follower
    alone, which must not leave them short of a majority until recovery
    (30-minute run, seed 541746210: an agent cut from the leader while a
    third replica was down stalled commits 9.1 s)."""
    kind = "agent-minority"

    def begin(self):
        lh = self.host_of_leader()
        lead = self.cl.coords.index(lh)
        keep = self.rng.choice([k for k in range(len(self.cl.coords)) if k != lead])
        x = self.rng.choice(self.cl.parts)
        self.target = f"participant.{x} reaches coordinator.{keep} only"
        h = "p" + x
        self.hosts = [h]
        for k, c in enumerate(self.cl.coords):
            if k != keep:
                a = self.cl.hosts.addr(c)
                self.cl.hosts.ipt(h, "-A", "INPUT", "-s", a, "-j", "DROP")
                self.cl.hosts.ipt(h, "-A", "OUTPUT", "-d", a, "-j", "DROP")


class ClientCutFromLeader(IptNemesis):
    """The client host cannot reach the leader, nor the leader it; the
    followers reach both."""
    kind = "client-cut-leader"

    def begin(self):
        lh = self.host_of_leader()
        self.target = f"client <-/-> {self.target}"
        self.hosts = ["cl"]
        a = self.cl.hosts.addr(lh)
        self.cl.hosts.ipt("cl", "-A", "INPUT", "-s", a, "-j", "DROP")
        self.cl.hosts.ipt("cl", "-A", "OUTPUT", "-d", a, "-j", "DROP")


class ClockJump(Nemesis):
    """One host's wall clock steps forward or back by 2-10 s (libfaketime
    under that daemon), and steps back to the true time at the heal: both a
    jump and, for the fault's length, a skewed clock."""
    kind = "clock-jump"

    def begin(self):
        r = self.rng.random()
        if r < 0.4:
            self.target = f"coordinator.{self.cl.leader()}"
        elif r < 0.7:
            self.target = f"coordinator.{self.rng.randrange(len(self.cl.coords))}"
        else:
            self.target = f"participant.{self.rng.choice(self.cl.parts)}"
        off = self.rng.choice([-1, 1]) * (2 + self.rng.random() * 8)
        self.cl.set_clock(self.target, off)
        self.target = f"{self.target} {off:+.1f} s"

    def end(self):
        self.cl.set_clock(self.target.split()[0], 0)


class Loss(IptNemesis):
    """Random packet loss on every host's input (iptables statistic)."""
    kind = "packet-loss"
    connected = False  # degraded, not cut: reported, measured from the heal

    def begin(self):
        p = self.rng.choice([0.05, 0.1, 0.2])
        self.target = f"all hosts, {int(p * 100)}%"
        self.hosts = list(self.cl.hosts.names)
        for h in self.hosts:
            self.cl.hosts.ipt(h, "-A", "INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random",
                              "--probability", str(p), "-j", "DROP")


class DiskFull(Nemesis):
    """The tmpfs under a replica's commit log fills up: the replica must
    fail-stop (exit 4) rather than acknowledge what it could not write; it
    is started again once the disk has room."""
    kind = "disk-full"
    holds = True
    restarts = True
    replica = True

    def begin(self):
        i = self.pick_coordinator(0.0)
        self.fill = os.path.join(self.cl.dir, self.cl.coords[i], "filler")
        run(["dd", "if=/dev/zero", f"of={self.fill}", "bs=1M", f"count={TMPFS_MB}"], check=False)

    def end(self):
        try:
            os.unlink(self.fill)
        except OSError:
            pass
        self.restart_if_stopped()


class DiskEio(Nemesis):
    """A replica's disk fails: every fsync and fdatasync returns EIO, and
    what was written since the last good sync is lost (tests/chaos/eio_shim.c).
    The replica must fail-stop (exit 4) at its first failed sync; the checker
    holds it to that.  It is started again once the disk works."""
    kind = "disk-eio"
    holds = True
    restarts = True
    replica = True

    def begin(self):
        self.pick_coordinator(0.5)
        self.ctl = self.cl.eio_file(self.target)
        open(self.ctl, "w").close()

    def end(self):
        p = self.cl.procs.get(self.target)
        # Read the evidence before the heal: hits, and whether it stopped.
        try:
            self.eio_hits = len(open(self.ctl + ".hits").read().splitlines())
        except OSError:
            self.eio_hits = 0
        self.exit_code = p.poll() if p else None
        os.unlink(self.ctl)
        try:
            os.unlink(self.ctl + ".hits")
        except OSError:
            pass
        if self.exit_code is not None:
            self.cl.start(self.target)


class Partition(IptNemesis):
    """A random split of all the hosts (replicas, agents, the client) into
    two sides that cannot reach each other.  Connected only when one side
    holds a majority of replicas, both agents and the client."""
    kind = "partition"

    def begin(self):
        names = list(self.cl.hosts.names)
        while True:
            side = {h: self.rng.random() < 0.5 for h in names}
            if any(side.values()) and not all(side.values()):
                break
        a = [h for h in names if side[h]]
        b = [h for h in names if not side[h]]
        self.target = "{" + ",".join(a) + "} | {" + ",".join(b) + "}"
        self.hosts = names
        for h in names:
            for o in (b if side[h] else a):
                addr = self.cl.hosts.addr(o)
                self.cl.hosts.ipt(h, "-A", "INPUT", "-s", addr, "-j", "DROP")
                self.cl.hosts.ipt(h, "-A", "OUTPUT", "-d", addr, "-j", "DROP")
        n = len(self.cl.coords)
        others = [h for h in names if h not in self.cl.coords]
        self.connected = False
        for s in (a, b):
            if sum(h in s for h in self.cl.coords) > n // 2 and all(h in s for h in others):
                self.connected = True
        cut = min(sum(h in a for h in self.cl.coords), sum(h in b for h in self.cl.coords))
        self.replica = cut > 0


KINDS = [KillCoordinator, KillAgent, KillPostmaster, PauseLeader, IsolateLeader, LeaderDeaf, LeaderMute,
         IsolateFollower, Bridge, AgentCutFromLeader, AgentMinority, ClientCutFromLeader, Loss, DiskFull, DiskEio,
         Partition, ClockJump]


def schedule(rng, minutes, kinds=None, rounds=1, pool=None):
    """A list of ([nemesis classes], seconds).  Quick mode: every kind once,
    in random order, then a second round of the one-way and leader faults.
    Long mode: for `minutes`, a random kind, or one time in four two kinds
    at once.  kinds: only these, `rounds` times each (the planted-bug runs)."""
    pool = pool or KINDS
    if kinds:
        pick = [k for k in pool if k.kind in kinds] * rounds
        rng.shuffle(pick)
        return [([k], 5.0 + rng.random() * 3) for k in pick]
    if minutes is None:
        order = pool[:]
        rng.shuffle(order)
        extra = [LeaderDeaf, LeaderMute, KillCoordinator, PauseLeader]
        rng.shuffle(extra)
        return [([k], 6.0 + rng.random() * 4) for k in order + extra]
    out, total = [], 0.0
    while total < minutes * 60:
        d = 5.0 + rng.random() * 15
        pair = rng.sample(pool, 2)
        if rng.random() < 0.25 and not (pair[0].restarts and pair[1].restarts):
            # (never two that each stop and restart a replica: they would
            # fight over the same process)
            out.append((pair, d))
        else:
            out.append(([rng.choice(pool)], d))
        total += d + 6
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="paxcommit binaries")
    ap.add_argument("--test-bin", required=True, help="test binaries (chaos_client)")
    ap.add_argument("--coord-bin", help="directory of another paxcommit-coordinator (a planted bug)")
    ap.add_argument("--minutes", type=float, help="long mode: a random schedule this long")
    ap.add_argument("--seed", type=int, help="the schedule's seed (default: random, printed)")
    ap.add_argument("--coordinators", type=int, default=3, choices=[3, 5])
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--kinds", help="only these nemeses (comma-separated), --rounds times each")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--expect-violation", action="store_true",
                    help="exit 0 only if the checker finds a violation (planted bugs)")
    a = ap.parse_args()
    a.repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.geteuid() != 0:
        log("needs root (network namespaces, iptables, tmpfs)")
        return 2
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 2**31)
    rng = random.Random(seed)
    log(f"seed {seed} ({'long mode, %.0f min' % a.minutes if a.minutes else 'quick mode'}); "
        f"replay: make test-chaos CHAOS_SEED={seed}" + (f" CHAOS_MINUTES={a.minutes:g}" if a.minutes else ""))
    cl = Cluster(a)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    client = None
    try:
        try:
            cl.setup()
        except Exception as e:  # noqa: BLE001
            log(f"setup failed: {e}")
            return 2
        hist = os.path.join(cl.dir, "history.tsv")
        stop = os.path.join(cl.dir, "stop")
        pool = KINDS if cl.faketime else [k for k in KINDS if k is not ClockJump]
        if not cl.faketime:
            log("no libfaketime here: the clock-jump nemesis is left out (scripts/deps.sh installs it)")
        plan = schedule(rng, a.minutes, a.kinds.split(",") if a.kinds else None, a.rounds, pool)
        # A bound only: the stop file ends the client once the faults are
        # over (heals that restart PostgreSQL take longer than planned, and a
        # client that ended first made the last faults look like stalls).
        seconds = int(2 * sum(d + 6 for _, d in plan) + 300)
        dbs = []
        for x in cl.parts:
            dbs += ["--db", f"{x}=host={cl.hosts.addr('p' + x)} port=5432 dbname=paxcommit user=paxcommit_agent "
                             f"connect_timeout=2 tcp_user_timeout=3000"]
            # (tcp_user_timeout: the workload's own XA-style sessions give
            # up on a partitioned server in 3 s, as an application's pool
            # would, instead of holding a thread in TCP retransmission)
        client = subprocess.Popen(
            ["ip", "netns", "exec", cl.hosts.ns("cl"), os.path.join(a.test_bin, "chaos_client"),
             "--config", cl.conf, "--history", hist, "--seconds", str(seconds), "--threads", str(a.threads),
             "--accounts", str(a.accounts), "--stop-file", stop, "--seed", str(seed), *dbs],
            stdout=open(os.path.join(cl.dir, "client.log"), "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        time.sleep(3)  # a calm start: the first faults hit a cluster at work
        events = []

        def gap(until_ms, held, settle=True):
            """Sleep until until_ms, supervising the daemons every 100 ms;
            one started again is given (up to 20 s) to get ready before the
            next fault, so that a fault never meets a replica still
            recovering."""
            waiting = set()
            deadline = until_ms + 20000
            while True:
                waiting |= set(cl.supervise(held))
                waiting = {w for w in waiting if not cl.is_ready(w)}
                t = now_ms()
                if t >= until_ms and (not settle or not waiting or t >= deadline):
                    return
                time.sleep(0.1)

        def last_commit_ms():
            """Completion time of the newest commit on the agents' path in
            the history so far (its tail), or 0."""
            try:
                with open(hist, "rb") as f:
                    f.seek(max(0, os.path.getsize(hist) - 65536))
                    data = f.read().decode(errors="replace")
            except OSError:
                return 0
            last = 0
            for ln in data.splitlines():
                p = ln.split("\t")
                if len(p) > 7 and p[0] == "op" and p[3] == "agent" and p[7] == "ok":
                    last = max(last, int(p[6]))
            return last

        def settle(heal_ms, snap):
            """After a heal, before the next fault: wait until every gid
            prepared at the heal is gone and commits flow again (one within
            the last 500 ms, after the heal).  A fault that began while the
            last one was still draining would be charged with its stall.
            Returns the ms it took, or None past 2 x txn_timeout + 4 s."""
            while True:
                cl.supervise(set())
                t = now_ms()
                try:
                    left = set().union(*[set(v) for v in checker.prepared(cl).values()]) & snap
                except RuntimeError:
                    left = snap or {"?"}  # a postmaster still starting
                lc = last_commit_ms()
                if not left and lc >= heal_ms and lc >= t - 500:
                    return t - heal_ms
                if t - heal_ms > 2 * TXN_TIMEOUT_MS + 4000:
                    return None
                time.sleep(0.1)

        for kinds, dur in plan:
            ns = [k(cl, rng) for k in kinds]
            t0 = now_ms()
            for n in ns:
                n.begin()
            kind = "+".join(n.kind for n in ns)
            target = "; ".join(n.target for n in ns)
            # Connected: a majority of replicas and every participant can
            # still talk, so commits must go on during the fault.
            connected = all(n.connected for n in ns) and sum(n.replica for n in ns) <= 1
            log(f"{kind} begins: {target} for {dur:.1f} s")
            held = {n.target for n in ns if n.holds}
            gap(t0 + dur * 1000, held, settle=False)
            try:
                snap = set().union(*[set(v) for v in checker.prepared(cl).values()])
            except RuntimeError:
                snap = set()
            t1 = now_ms()
            for n in reversed(ns):
                n.end()
            ev = {"kind": kind, "target": target, "start": t0, "end": t1, "connected": connected,
                  "exit_code": [getattr(n, "exit_code", None) for n in ns],
                  "eio_hits": [getattr(n, "eio_hits", None) for n in ns],
                  "parts": [n.kind for n in ns],
                  "db_ready": max([getattr(n, "db_ready", 0) for n in ns] + [0])}
            events.append(ev)
            log(f"{kind} healed")
            ev["settle_ms"] = settle(max(t1, ev["db_ready"]), snap)
            if client.poll() is not None:
                log("the workload client ended early (see client.log)")
                break
            gap(now_ms() + (3 + rng.random() * 3) * 1000, set())
        # The last fault's window (to its heal + 4 x txn_timeout) must see
        # the workload still running, or its stall is the client's stop.
        if events:
            time.sleep(max(0.0, (events[-1]["end"] + 4 * TXN_TIMEOUT_MS - now_ms()) / 1000.0))
        # Heal everything, let the client finish and resolve its unknowns.
        cl.supervise()
        open(stop, "w").close()
        harness_v = []
        try:
            client.wait(timeout=240)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()
            harness_v.append("workload: the client did not finish within 240 s of being told to stop "
                             "(no majority of replicas to answer it?)")
        client = None
        log(open(os.path.join(cl.dir, "client.log")).read().strip().splitlines()[-1:] or "no client output")
        # In doubt transactions must drain within 2 x txn_timeout of healing.
        drained_ms = checker.wait_drained(cl, 2 * TXN_TIMEOUT_MS + 4000)
        # kill -9 of every replica, restart: no acknowledged outcome may change.
        for i in range(len(cl.coords)):
            cl.kill9(f"coordinator.{i}")
        for i in range(len(cl.coords)):
            cl.start(f"coordinator.{i}")
        verify_out = ""
        try:
            cl.wait_ready()
            verify = run(["ip", "netns", "exec", cl.hosts.ns("cl"), os.path.join(a.test_bin, "chaos_client"),
                          "--config", cl.conf, "--verify", hist,
                          "--horizon-ms", str(HORIZON_MS)], check=False)
            verify_out = verify.stdout
        except RuntimeError as e:
            harness_v.append(f"restart after the kill -9 of every replica: {e}")
        with open(os.path.join(cl.dir, "verify.log"), "w") as f:
            f.write(verify_out)
        # Agreement, read from the logs themselves: every replica's
        # outcomes, including those no client asked about.
        for i in range(len(cl.coords)):
            cl.kill9(f"coordinator.{i}")
        dumps = {}
        for i, c in enumerate(cl.coords):
            d = run([os.path.join(a.bin, "paxcommit-coordinator"), "--segment-mb", "1",
                     "--dump-decisions", f"{cl.dir}/{c}/data"], check=False)
            if d.returncode != 0:
                harness_v.append(f"coordinator.{i}: --dump-decisions exit {d.returncode}: {d.stdout.strip()[-300:]}")
            dumps[f"coordinator.{i}"] = d.stdout
        try:
            indb = {}
            for x in cl.parts:
                for r in checker.query(cl, x, "SELECT gid FROM chaos_log"):
                    indb.setdefault(r[0], set()).add(x)
        except RuntimeError as e:
            harness_v.append(f"agreement: {e}")
            indb = None
        agree_v, agree_n = checker.agreement(dumps, hist, indb)
        log(f"agreement: {agree_n} outcomes in {len(dumps)} commit logs, {len(agree_v)} disagreements")
        harness_v += agree_v[:20] + ([f"agreement: {len(agree_v) - 20} more"] if len(agree_v) > 20 else [])
        rep = checker.check(cl, hist, events, cl.exits, verify_out, drained_ms,
                            {"lease_ms": LEASE_MS, "resend_ms": RESEND_MS, "txn_timeout_ms": TXN_TIMEOUT_MS})
        rep["violations"] += harness_v
        checker.report(rep, seed)
        with open(os.path.join(cl.dir, "report.json"), "w") as f:
            json.dump(rep, f, indent=1)
        bad = rep["violations"]
        if a.expect_violation:
            return 0 if bad else 1
        return 1 if bad else 0
    except KeyboardInterrupt:
        log("interrupted")
        return 2
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        cl.teardown()


if __name__ == "__main__":
    sys.exit(main())
