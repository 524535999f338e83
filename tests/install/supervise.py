#!/usr/bin/env python3
"""A small systemd-like supervisor for one instance of an installed unit.

It reads the unit's [Service] section and does what systemd would do with
the parts paxcommit relies on:
  - ExecStart with %i replaced by the instance, every absolute path under
    --root (the DESTDIR the tree was installed into);
  - Type=notify: a NOTIFY_SOCKET of its own; the service is up at READY=1,
    and must say so within TimeoutStartSec;
  - WatchdogSec: WATCHDOG_USEC is set, and a service that sends no
    WATCHDOG=1 for that long is killed with SIGABRT (then restarted);
  - Restart=on-failure with RestartSec, except for the exit statuses in
    RestartPreventExitStatus;
  - StateDirectory: created under --root/var/lib;
  - on SIGTERM: KillSignal to the service, SIGKILL after TimeoutStopSec.
It ignores User=, Group= and the sandboxing options: the test runs it as
root on this machine, with no systemd.

Every state change is one line on stdout (flushed), e.g.
  ready pid=123 status=replica 0 of 3: recovered, listening on ...
  exited pid=123 code=-9 (killed by signal 9)
  restart in 1.0 s
  not restarted: exit 2 is in RestartPreventExitStatus
  stopped pid=123 code=0
Exit status: 0 after a stop on SIGTERM whose service exited 0; 1 if it did
not; 3 when the service failed and was not to be restarted; 2 bad usage.
"""
import argparse
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time


def parse_unit(path):
    svc, sect = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            m = re.match(r"^\[(.+)\]$", line)
            if m:
                sect = m.group(1)
                continue
            if sect == "Service" and "=" in line:
                k, v = line.split("=", 1)
                svc[k.strip()] = v.strip()
    return svc


def seconds(v, default):
    if v is None:
        return default
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|min)?", v)
    if not m:
        raise SystemExit("supervise: cannot read the time span %r" % v)
    n = float(m.group(1))
    return {"ms": n / 1000, "min": n * 60}.get(m.group(2), n)


def say(*a):
    print(*a, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unit", required=True)
    ap.add_argument("--instance", required=True)
    ap.add_argument("--root", default="/")
    ap.add_argument("--max-restarts", type=int, default=20)
    ap.add_argument("--log", help="the service's stderr and stdout go here (appended)")
    o = ap.parse_args()
    svc = parse_unit(o.unit)
    if "ExecStart" not in svc:
        print("supervise: %s has no ExecStart" % o.unit, file=sys.stderr)
        return 2
    argv = [a.replace("%i", o.instance) for a in shlex.split(svc["ExecStart"])]
    argv = [os.path.join(o.root, a.lstrip("/")) if a.startswith("/") else a for a in argv]
    notify = svc.get("Type") == "notify"
    start_to = seconds(svc.get("TimeoutStartSec"), 90)
    stop_to = seconds(svc.get("TimeoutStopSec"), 90)
    restart_sec = seconds(svc.get("RestartSec"), 0.1)
    watchdog = seconds(svc.get("WatchdogSec"), 0)
    on_failure = svc.get("Restart") == "on-failure"
    prevent = {int(x) for x in svc.get("RestartPreventExitStatus", "").split() if x.isdigit()}
    kill_sig = getattr(signal, svc.get("KillSignal", "SIGTERM"))
    if "StateDirectory" in svc:
        os.makedirs(os.path.join(o.root, "var/lib", svc["StateDirectory"]), mode=0o700, exist_ok=True)

    tmp = tempfile.mkdtemp(prefix="supervise.")
    sock_path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    stop = {"asked": False}

    def on_term(_s, _f):
        stop["asked"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log = open(o.log, "ab") if o.log else None
    restarts = 0
    try:
        while True:
            env = dict(os.environ)
            if notify:
                env["NOTIFY_SOCKET"] = sock_path
            if watchdog:
                env["WATCHDOG_USEC"] = str(int(watchdog * 1e6))
            p = subprocess.Popen(argv, env=env, stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
            say("started pid=%d %s" % (p.pid, " ".join(argv)))
            started, ready = time.monotonic(), not notify
            last_wd = time.monotonic()
            stopping_at = None
            code = None
            while code is None:
                r, _, _ = select.select([sock], [], [], 0.05)
                if r:
                    data = sock.recv(4096).decode(errors="replace")
                    fields = dict(kv.split("=", 1) for kv in data.split("\n") if "=" in kv)
                    if fields.get("READY") == "1" and not ready:
                        ready = True
                        say("ready pid=%d status=%s" % (p.pid, fields.get("STATUS", "")))
                    if fields.get("WATCHDOG") == "1":
                        last_wd = time.monotonic()
                    if fields.get("STOPPING") == "1":
                        say("stopping pid=%d" % p.pid)
                code = p.poll()
                if code is not None:
                    break
                now = time.monotonic()
                if stop["asked"] and stopping_at is None:
                    stopping_at = now
                    p.send_signal(kill_sig)
                if stopping_at is not None and now - stopping_at > stop_to:
                    say("stop timeout: SIGKILL pid=%d" % p.pid)
                    p.kill()
                if not ready and stopping_at is None and now - started > start_to:
                    say("start timeout: no READY=1 in %.0f s, SIGKILL pid=%d" % (start_to, p.pid))
                    p.kill()
                if ready and watchdog and stopping_at is None and now - last_wd > watchdog:
                    say("watchdog timeout: SIGABRT pid=%d" % p.pid)
                    p.send_signal(signal.SIGABRT)
                    last_wd = now
            if stop["asked"]:
                say("stopped pid=%d code=%d" % (p.pid, code))
                return 0 if code == 0 else 1
            why = " (killed by signal %d)" % -code if code < 0 else ""
            say("exited pid=%d code=%d%s" % (p.pid, code, why))
            if code == 0 or not on_failure:
                return 0 if code == 0 else 3
            if code in prevent:
                say("not restarted: exit %d is in RestartPreventExitStatus" % code)
                return 3
            restarts += 1
            if restarts > o.max_restarts:
                say("not restarted: %d restarts" % o.max_restarts)
                return 3
            say("restart in %.1f s" % restart_sec)
            end = time.monotonic() + restart_sec
            while time.monotonic() < end and not stop["asked"]:
                time.sleep(0.05)  # RestartSec: the pause the unit asks for
            if stop["asked"]:
                return 0
    finally:
        sock.close()
        os.unlink(sock_path)
        os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())
