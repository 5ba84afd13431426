#!/usr/bin/python3
"""Soak: many guests, restarting, against one `remora serve`, then a check that everything came back.

    soak.py --remora build/bin/remora --guest build/bin/soak/soak_guest [--seconds 1200] [--guests 8] [--seed S]

GUESTS slots each run soak_guest (tests/soak/soak_guest.c: randomized, checked OpenCL work) over and
over, each run with its own seed (derived from SEED and printed), over shm, unix and tcp in turn.
About one run in KILL_ONE_IN gets its guest process killed with SIGKILL at a random moment. A run not
killed must exit 0 (every result it checked was right).

At the end, with every guest gone, it checks that
  - every session process has exited (the daemon has no children left),
  - the daemon's per-tenant device memory (`remora status --json`) is back to 0,
  - the daemon's RSS is back near its baseline (within RSS_SLACK_KB),
and prints a summary: runs, kills, calls made, results checked, failures, memory before/after.
Exit status 0 only if all of that holds. Reproduce a failing run with `soak_guest SEED ROUNDS` under
`remora run` (its seed is in the output).
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

RSS_SLACK_KB = 16 * 1024


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(remora, admin):
    out = subprocess.run([remora, "status", "--connect", admin, "--json"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(f"remora status failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--remora", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 1200)))
    ap.add_argument("--guests", type=int, default=int(os.environ.get("SOAK_GUESTS", 8)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", 20240601)))
    ap.add_argument("--kill-one-in", type=int, default=8)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="remora-soak-")
    sock = f"{work}/s.sock"
    admin = f"unix:{work}/admin.sock"
    port = free_port()
    endpoints = {"shm": f"unix:{sock}", "unix": f"unix:{sock}", "tcp": f"tcp:127.0.0.1:{port}"}
    print(f"soak: seed {args.seed}, {args.guests} guests, {args.seconds:.0f} s, work dir {work}", flush=True)

    server_log = open(f"{work}/server.log", "w")
    server = subprocess.Popen([args.remora, "serve", "--listen", endpoints["unix"], "--listen", endpoints["tcp"],
                               "--admin", admin], stdout=server_log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, REMORA_LOG="info"))
    failures = []

    def fail(msg):
        failures.append(msg)
        print(f"soak: FAIL: {msg}", flush=True)

    try:
        for _ in range(200):
            if os.path.exists(f"{work}/admin.sock") and os.path.exists(sock):
                break
            if server.poll() is not None:
                raise RuntimeError("remora serve exited at start-up")
            time.sleep(0.05)
        time.sleep(0.2)
        base_rss = rss_kb(server.pid)
        base = status(args.remora, admin)
        print(f"soak: daemon pid {server.pid}, RSS {base_rss} kB at start", flush=True)

        transports = ["shm", "unix", "tcp"]
        slots = [None] * args.guests  # (Popen, seed, transport, kill_at or None, stats path, log path)
        run_no = 0
        runs = kills = 0
        peak_sessions = 0
        peak_session_rss = 0
        deadline = time.monotonic() + args.seconds
        stats_files = []

        def start(i):
            nonlocal run_no
            run_no += 1
            seed = args.seed * 1000003 + run_no
            t = transports[run_no % len(transports)]
            rounds = rng.randint(10, 120)
            stats = f"{work}/stats.{run_no}"
            log = f"{work}/guest.{run_no}.log"
            stats_files.append(stats)
            kill_at = None
            if args.kill_one_in > 0 and rng.randrange(args.kill_one_in) == 0:
                kill_at = time.monotonic() + rng.uniform(0.3, 4.0)
            p = subprocess.Popen([args.remora, "run", "--connect", endpoints[t], "--transport", t, "--",
                                  args.guest, str(seed), str(rounds), stats],
                                 stdout=open(log, "w"), stderr=subprocess.STDOUT)
            slots[i] = (p, seed, t, kill_at, rounds, log)

        for i in range(args.guests):
            start(i)
        while True:
            now = time.monotonic()
            busy = False
            for i, s in enumerate(slots):
                if s is None:
                    continue
                p, seed, t, kill_at, rounds, log = s
                if kill_at is not None and now >= kill_at and p.poll() is None:
                    for c in children(p.pid):
                        os.kill(c, signal.SIGKILL)
                    kills += 1
                    slots[i] = (p, seed, t, -1, rounds, log)
                    kill_at = -1
                rc = p.poll()
                if rc is None:
                    busy = True
                    continue
                runs += 1
                if kill_at != -1 and rc != 0:
                    with open(log) as f:
                        tail = f.read()[-2000:]
                    fail(f"guest seed={seed} rounds={rounds} over {t} exited {rc}:\n{tail}")
                slots[i] = None
                if now < deadline:
                    start(i)
                    busy = True
            sessions = children(server.pid)
            peak_sessions = max(peak_sessions, len(sessions))
            for pid in sessions:
                peak_session_rss = max(peak_session_rss, rss_kb(pid))
            if server.poll() is not None:
                fail(f"remora serve exited (status {server.returncode}) during the soak")
                break
            if not busy:
                break
            time.sleep(0.1)

        # Everything back? Session processes end within a few seconds of their guest.
        left = children(server.pid)
        for _ in range(100):
            left = children(server.pid)
            if not left:
                break
            time.sleep(0.1)
        if left:
            fail(f"session processes still running 10 s after their guests: {left}")
        time.sleep(0.6)  # the usage block's counters lag by one report interval
        end = status(args.remora, admin)
        device_memory = sum(t["device_memory"] for t in end["tenants"])
        if device_memory != 0:
            fail(f"device memory still accounted to tenants: {device_memory} bytes ({end['tenants']})")
        if end["sessions"]:
            fail(f"the daemon still lists sessions: {end['sessions']}")
        end_rss = rss_kb(server.pid)
        if end_rss > base_rss + RSS_SLACK_KB:
            fail(f"daemon RSS {end_rss} kB, {end_rss - base_rss} kB above its start")

        calls = checks = guest_failures = 0
        for path in stats_files:
            try:
                with open(path) as f:
                    for line in f:
                        c, k, fl = (int(x) for x in line.split())
                        calls += c
                        checks += k
                        guest_failures += fl
            except (OSError, ValueError):
                pass
        errors = sum(t["errors"] for t in end["tenants"])
        print("soak: summary")
        print(f"  seed                     {args.seed}")
        print(f"  guest runs               {runs} ({kills} killed with SIGKILL), peak {peak_sessions} sessions at once")
        print(f"  API calls made           {calls} (server counted {sum(t['calls'] for t in end['tenants'])})")
        print(f"  results checked          {checks}")
        print(f"  failures                 {guest_failures} in guests, {len(failures)} in all")
        print(f"  async errors (server)    {errors}")
        print(f"  daemon RSS               {base_rss} kB before, {end_rss} kB after")
        print(f"  session RSS (peak)       {peak_session_rss} kB; sessions left at the end: {len(left)}")
        print(f"  device memory (tenants)  {sum(t['device_memory'] for t in base['tenants'])} B before, {device_memory} B after")
        if checks == 0:
            fail("no result was checked")
    except Exception as e:  # noqa: BLE001 - any failure of the harness fails the soak
        fail(f"harness: {e}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if failures:
            print(f"soak: server log: {work}/server.log (kept)")
    if failures:
        print(f"soak: FAIL ({len(failures)} problem(s); seed {args.seed})")
        return 1
    subprocess.run(["rm", "-rf", work])
    print("soak: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
