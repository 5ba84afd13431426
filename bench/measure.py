"""How each figure of `make bench` is measured: every function here runs one kind of measurement in
one configuration ("native", or a remora transport) and returns Metric values. bench/run.py decides
what to run; bench/report.py prints, plots and compares.

A configuration is "native" (the program talks to the system's OpenCL platform directly) or one of
"shm", "unix", "tcp" (the program runs under `remora run --transport T`, or against a shared
`remora serve` where the measurement needs one server for several processes).
"""
import json
import os
import re
import select
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

NATIVE = "native"
TRANSPORTS = ("shm", "unix", "tcp")


@dataclass
class Value:
    """One figure in one configuration: the median over repetitions and the spread around it."""
    median: float
    lo: float  # first quartile (or minimum when there are too few samples for quartiles)
    hi: float  # third quartile (or maximum)
    samples: int = 1

    @staticmethod
    def of(samples):
        samples = sorted(samples)
        if len(samples) >= 4:
            q = statistics.quantiles(samples, n=4, method="inclusive")
            lo, hi = q[0], q[2]
        else:
            lo, hi = samples[0], samples[-1]
        return Value(statistics.median(samples), lo, hi, len(samples))


@dataclass
class Metric:
    id: str          # stable key, used to compare with the baseline
    group: str       # table section
    label: str       # what the table shows
    unit: str
    better: str      # "lower" or "higher"
    values: dict = field(default_factory=dict)  # configuration -> Value
    notes: dict = field(default_factory=dict)   # configuration -> a remark (e.g. an error)


class MeasureError(Exception):
    pass


class Runner:
    """Runs commands natively or through remora, each under a time limit."""

    def __init__(self, build_dir):
        self.remora = os.path.join(build_dir, "bin", "remora")
        self.micro = os.path.join(build_dir, "bin", "opencl_micro")

    def command(self, config, argv, connect=None):
        if config == NATIVE:
            return list(argv)
        cmd = [self.remora, "run", "--transport", config]
        if connect:
            cmd += ["--connect", connect]
        return cmd + ["--"] + list(argv)

    def run(self, config, argv, timeout, connect=None):
        """Runs to completion; returns stdout. Raises MeasureError with the stderr tail on failure."""
        cmd = self.command(config, argv, connect)
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise MeasureError(f"timed out after {timeout} s: {' '.join(cmd)}")
        except OSError as e:
            raise MeasureError(f"cannot run {cmd[0]}: {e}")
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise MeasureError(f"exit status {proc.returncode}: {' '.join(cmd)}\n{tail}")
        return proc.stdout

    def probe(self, config):
        """Whether OpenCL works in this configuration: (True, "platform | device") or (False, why)."""
        if config != NATIVE and not os.access(self.remora, os.X_OK):
            return False, f"{self.remora} not built"
        try:
            return True, self.run(config, [self.micro, "--probe"], timeout=60).strip()
        except MeasureError as e:
            return False, str(e)


# ---- Google Benchmark suite ----------------------------------------------------------------------

_TIME_TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}

# Benchmark name (before the first '/' or the Google Benchmark suffixes) -> how to read it.
_LATENCY = {
    "SyncRoundTrip": "Sync round trip (clGetEventInfo, uncacheable)",
    "CachedQuery": "Cacheable query (clGetDeviceInfo NAME)",
    "KernelLaunchFinish": "Empty kernel launch + clFinish",
    "BlockingWrite4B": "Blocking 4-byte write",
}


def _size_label(n):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n // scale} {unit}"
    return f"{n} B"


def micro_suite(runner, config, repetitions, min_time, bench_filter=None):
    """Runs bench/opencl_micro and returns {metric id: (Metric template, [samples])}."""
    with tempfile.TemporaryDirectory(prefix="remora-bench-") as tmp:
        out = os.path.join(tmp, "micro.json")
        argv = [runner.micro, f"--benchmark_repetitions={repetitions}", f"--benchmark_min_time={min_time}",
                f"--benchmark_out={out}", "--benchmark_out_format=json"]
        if bench_filter:
            argv.append(f"--benchmark_filter={bench_filter}")
        runner.run(config, argv, timeout=600)
        with open(out) as f:
            doc = json.load(f)
    found = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["run_name"]
        base = name.split("/")[0]
        if base in _LATENCY:
            m = Metric(f"micro/{base}", "Calls", _LATENCY[base], "µs", "lower")
            v = b["real_time"] * _TIME_TO_US[b["time_unit"]]
        elif base == "AsyncSetKernelArg":
            m = Metric("micro/AsyncSetKernelArg", "Calls", "Async clSetKernelArg x1000 + clFinish", "M calls/s", "higher")
            v = b["items_per_second"] / 1e6
        elif base.endswith("Bandwidth"):
            size = int(name.split("/")[1])
            kind = base[: -len("Bandwidth")]
            m = Metric(f"micro/{base}/{size}", f"{kind} bandwidth (blocking {kind.lower()})",
                       f"{kind} {_size_label(size)}", "GiB/s", "higher")
            v = b["bytes_per_second"] / (1 << 30)
        elif base == "ThreadedRoundTrip":
            threads = int(b["threads"])
            m = Metric(f"micro/ThreadedRoundTrip/{threads}", "Application threads",
                       f"{threads} thread(s): sync round trips, total", "M calls/s", "higher")
            v = b["items_per_second"] / 1e6
            lat = Metric(f"micro/ThreadedRoundTripLatency/{threads}", "Application threads",
                         f"{threads} thread(s): per-call latency", "µs", "lower")
            found.setdefault(lat.id, (lat, []))[1].append(threads / b["items_per_second"] * 1e6)
        else:
            continue
        found.setdefault(m.id, (m, []))[1].append(v)
    if not found:
        raise MeasureError("the benchmark produced no results")
    return found


# ---- Shared server: several guest processes, idle CPU ------------------------------------------

class SharedServer:
    """A `remora serve` listening on a unix socket and on TCP loopback, for the duration of a `with`."""

    def __init__(self, runner):
        self.runner = runner
        self.proc = None
        self.tmp = None
        self.endpoints = []

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="remora-bench-")
        sock = os.path.join(self.tmp.name, "remora.sock")
        read_fd, write_fd = os.pipe()
        cmd = [self.runner.remora, "serve", "--listen", f"unix:{sock}", "--listen", "tcp:127.0.0.1:0",
               "--ready-fd", str(write_fd)]
        self.stderr = open(os.path.join(self.tmp.name, "serve.err"), "w+")
        self.proc = subprocess.Popen(cmd, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        os.close(write_fd)
        # The daemon writes its bound endpoints, then closes the fd; EOF without them is a failure.
        text = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.5)
            if ready:
                chunk = os.read(read_fd, 4096)
                if not chunk:
                    break
                text += chunk
        os.close(read_fd)
        self.endpoints = text.decode().split()
        if not self.endpoints:
            self.__exit__(None, None, None)
            raise MeasureError("remora serve did not report its endpoints: " + self._stderr_tail())
        return self

    def endpoint(self, transport):
        """The endpoint a guest connects to for this transport (shm rings are set up over the socket)."""
        want = "tcp:" if transport == "tcp" else "unix:"
        for ep in self.endpoints:
            if ep.startswith(want):
                return ep
        raise MeasureError(f"remora serve reported no {want} endpoint: {self.endpoints}")

    def _stderr_tail(self):
        self.stderr.seek(0)
        return "\n".join(self.stderr.read().strip().splitlines()[-5:])

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        self.tmp.cleanup()


def parallel_round_trips(runner, config, processes, seconds, connect=None):
    """N guest processes making uncacheable sync round trips at the same time; total M calls/s.

    Every process sets up and says "ready"; once all have, each is told to go, so that they overlap
    for the whole measured interval (set-up on 2 loaded cores can take seconds per process).
    """
    argv = [runner.micro, f"--round-trips={seconds}"]
    procs = [subprocess.Popen(runner.command(config, argv, connect), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
             for _ in range(processes)]
    try:
        deadline = time.monotonic() + 120
        for p in procs:
            ready, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.monotonic()))
            if not ready or p.stdout.readline().strip() != "ready":
                raise MeasureError(f"{processes} processes: one did not get ready (exit status {p.poll()})")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        total = 0.0
        for p in procs:
            out, err = p.communicate(timeout=seconds + 60)
            if p.returncode != 0:
                raise MeasureError(f"{processes} processes: exit status {p.returncode}: "
                                   + " ".join(err.strip().splitlines()[-1:]))
            r = json.loads(out.strip().splitlines()[-1])
            total += r["calls"] / r["seconds"]
        return total / 1e6
    except subprocess.TimeoutExpired:
        raise MeasureError(f"{processes} processes: timed out")
    finally:
        for p in procs:
            if p.poll() is None:
                for pid in reversed(_tree(p.pid)):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                p.wait()


def _cpu_ticks(pids):
    """{pid: utime + stime in clock ticks} for those of pids still running."""
    ticks = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        except (OSError, IndexError, ValueError):
            pass  # the process ended
    return ticks


def _cpu_delta(before, after):
    """Ticks used between two _cpu_ticks snapshots by the processes alive at both (a session of an
    earlier guest that is still winding down when the first snapshot is taken is not counted)."""
    return sum(after[pid] - before[pid] for pid in before if pid in after)


def _tree(root):
    """root and all its descendants, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def idle_cpu(runner, config, seconds, server=None):
    """CPU used by a connected but idle guest, and by its server, in % of one core.

    The guest connects, makes one round trip, prints "ready" and sleeps. Time is read from
    /proc/PID/stat (utime + stime) of the guest's process tree and of the server's (the daemon and
    the session it started) over `seconds`, starting half a second after "ready".
    """
    connect = server.endpoint(config) if server else None
    argv = [runner.micro, f"--idle={seconds + 3}"]
    proc = subprocess.Popen(runner.command(config, argv, connect), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        if not ready or proc.stdout.readline().strip() != "ready":
            raise MeasureError("the idle guest did not become ready")
        time.sleep(0.5)
        guest_pids = _tree(proc.pid)
        server_pids = _tree(server.proc.pid) if server else []
        g0, s0 = _cpu_ticks(guest_pids), _cpu_ticks(server_pids)
        t0 = time.monotonic()
        time.sleep(seconds)
        g1, s1 = _cpu_ticks(guest_pids), _cpu_ticks(server_pids)
        elapsed = time.monotonic() - t0
    finally:
        # remora run's child (the guest itself) too: it must not linger connected to the server.
        for pid in reversed(_tree(proc.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise MeasureError(f"the idle guest exited with status {proc.returncode} while measured")
    hz = os.sysconf("SC_CLK_TCK")
    guest = _cpu_delta(g0, g1) / hz / elapsed * 100
    srv = _cpu_delta(s0, s1) / hz / elapsed * 100 if server else None
    return guest, srv


# ---- Applications --------------------------------------------------------------------------------

_CLPEAK_SECTION = re.compile(r"^\s*(.+?) \((\w+)\)\s*$")
_CLPEAK_ENTRY = re.compile(r"^\s*(.+?)\s*:\s*([0-9.]+)\s*$")
_CLPEAK_LATENCY = re.compile(r"^\s*Kernel launch latency\s*:\s*([0-9.]+)\s*us")


def clpeak(runner, config, test):
    """Runs one clpeak test (e.g. "--compute-sp"); returns ({(section, unit): {entry: value}}, problem).

    clpeak keeps going after an OpenCL error ("Tests skipped"), so what it printed is kept and
    `problem` (None when all went well) says what went wrong.
    """
    cmd = runner.command(config, ["clpeak", test])
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise MeasureError(f"timed out after 600 s: {' '.join(cmd)}")
    except OSError as e:
        raise MeasureError(f"cannot run clpeak (Debian package clpeak): {e}")
    sections = {}
    current = None
    for line in proc.stdout.splitlines():
        m = _CLPEAK_LATENCY.match(line)
        if m:
            sections[("Kernel launch latency", "us")] = {"latency": float(m.group(1))}
            current = None
            continue
        m = _CLPEAK_SECTION.match(line)
        if m and ":" not in line:
            current = (m.group(1), m.group(2))
            sections[current] = {}
            continue
        m = _CLPEAK_ENTRY.match(line)
        if m and current:
            sections[current][m.group(1)] = float(m.group(2))
    problem = None
    if proc.returncode != 0 or "skipped" in proc.stdout:
        errors = [l.strip() for l in (proc.stdout + proc.stderr).splitlines()
                  if "error" in l or "skipped" in l or re.search(r"\(-\d+\)", l)]
        problem = f"clpeak {test} exit status {proc.returncode}: " + "; ".join(errors[:3])
    if not sections and not problem:
        problem = f"clpeak {test} printed no results"
    return sections, problem


def pyopencl_workload(runner, config, script):
    out = runner.run(config, ["/usr/bin/python3", script], timeout=300)
    return json.loads(out.strip().splitlines()[-1])
