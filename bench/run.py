#!/usr/bin/python3
"""`make bench`: OpenCL natively and through remora on every transport, in the same run, side by side.

    /usr/bin/python3 bench/run.py [--build build] [--quick] [--skip-apps] [--transports shm,unix,tcp]
                                  [--write-baseline] [--update-docs]

Writes bench/results/latest.json, latest.md (the tables) and latest.svg (the plot); compares the
remora/native ratios with bench/results/baseline.json and flags any more than 10% worse. Exit status
is 0 even then, unless BENCH_STRICT=1. A transport on which OpenCL does not work (remora not built,
or failing) is reported as "not measured" with the reason; the native column is always measured.

Use Debian's /usr/bin/python3 (python3-numpy, python3-matplotlib, python3-pyopencl), not another
interpreter earlier on PATH.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import report   # noqa: E402
from measure import NATIVE, TRANSPORTS, Metric, MeasureError, Value  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# clpeak's selective tests that finish in about 35 s natively on 2 PoCL CPU cores (--all-tests adds
# double precision and 24-bit integer: another 15 s, and nothing remoting could change).
CLPEAK_TESTS = ["--global-bandwidth", "--compute-sp", "--compute-integer", "--transfer-bandwidth",
                "--kernel-latency"]


class Suite:
    def __init__(self, args):
        self.args = args
        self.runner = measure.Runner(args.build)
        self.metrics = {}  # id -> Metric, in the order first seen
        self.configs = [NATIVE]
        self.unavailable = {}  # transport -> why it is not measured
        self.checksums = {}  # configuration -> the PyOpenCL workload's checksum
        self.failures = []

    def log(self, text):
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def add(self, template, config, samples=None, value=None, note=None):
        m = self.metrics.setdefault(template.id, template)
        if samples:
            m.values[config] = Value.of(samples)
        elif value is not None:
            m.values[config] = value
        if note:
            m.notes[config] = note

    def guarded(self, what, config, fn):
        """Runs one measurement; a failure is logged and recorded, never ends the run."""
        t = time.monotonic()
        try:
            fn()
        except MeasureError as e:
            self.log(f"{what} [{config}] FAILED: {e}")
            self.failures.append(f"{what} [{config}]: {str(e).splitlines()[0]}")
        else:
            self.log(f"{what} [{config}] done in {time.monotonic() - t:.1f} s")

    def probe(self):
        ok, text = self.runner.probe(NATIVE)
        if not ok:
            sys.exit(f"bench: OpenCL does not work natively, nothing to compare with: {text}")
        self.device = text
        self.log(f"native: {text}")
        for t in self.args.transports:
            ok, text = self.runner.probe(t)
            if ok:
                self.configs.append(t)
                self.log(f"remora {t}: {text}")
            else:
                self.unavailable[t] = text.splitlines()[0]
                self.log(f"remora {t}: not measured: {text}")

    def run(self):
        self.probe()
        reps = 3 if self.args.quick else 5
        min_time = 0.02 if self.args.quick else 0.05
        for config in self.configs:
            def micro(config=config):
                for mid, (template, samples) in measure.micro_suite(self.runner, config, reps, min_time,
                                                                    self.args.filter).items():
                    self.add(template, config, samples)
            self.guarded("micro-benchmarks", config, micro)
        self.run_processes()
        self.run_idle()
        if not self.args.skip_apps:
            for config in self.configs:
                self.guarded("clpeak", config, lambda config=config: self.run_clpeak(config))
            # Untimed: fills PoCL's kernel cache, so that no configuration pays for compiling first.
            self.guarded("pyopencl warm-up", NATIVE, lambda: measure.pyopencl_workload(
                self.runner, NATIVE, os.path.join(HERE, "pyopencl_workload.py")))
            for config in self.configs:
                self.guarded("pyopencl", config, lambda config=config: self.run_pyopencl(config))

    def run_processes(self):
        counts = (1, 4) if self.args.quick else (1, 4, 16)
        seconds = 1.0 if self.args.quick else 2.0
        template = lambda n: Metric(f"procs/{n}", "Guest processes (one shared server)",
                                    f"{n} process(es): sync round trips, total", "M calls/s", "higher")
        for n in counts:
            self.guarded(f"{n} processes", NATIVE, lambda n=n: self.add(
                template(n), NATIVE, value=Value.of([measure.parallel_round_trips(self.runner, NATIVE, n, seconds)])))
        remote = [c for c in self.configs if c != NATIVE]
        if not remote:
            return
        try:
            with measure.SharedServer(self.runner) as server:
                for config in remote:
                    for n in counts:
                        self.guarded(f"{n} processes", config, lambda n=n, config=config: self.add(
                            template(n), config, value=Value.of([measure.parallel_round_trips(
                                self.runner, config, n, seconds, server.endpoint(config))])))
        except MeasureError as e:
            self.log(f"shared server FAILED: {e}")
            self.failures.append(f"shared server: {e}")

    def run_idle(self):
        seconds = 2.0 if self.args.quick else 5.0
        guest = Metric("idle/guest", "Idle (connected, no calls)", "Idle guest process", "% of a core", "lower")
        server = Metric("idle/server", "Idle (connected, no calls)", "Server for an idle guest", "% of a core", "lower")

        def native():
            g, _ = measure.idle_cpu(self.runner, NATIVE, seconds)
            self.add(guest, NATIVE, value=Value.of([g]))
        self.guarded("idle", NATIVE, native)
        remote = [c for c in self.configs if c != NATIVE]
        if not remote:
            return
        try:
            with measure.SharedServer(self.runner) as srv:
                for config in remote:
                    def one(config=config):
                        g, s = measure.idle_cpu(self.runner, config, seconds, srv)
                        self.add(guest, config, value=Value.of([g]))
                        self.add(server, config, value=Value.of([s]))
                    self.guarded("idle", config, one)
        except MeasureError as e:
            self.log(f"shared server FAILED: {e}")
            self.failures.append(f"shared server: {e}")

    def run_clpeak(self, config):
        # One clpeak per test: a failure in one (clpeak goes on after errors, but not after the
        # server is gone) must not lose the others.
        for test in CLPEAK_TESTS:
            sections, problem = measure.clpeak(self.runner, config, test)
            if problem:
                self.log(f"clpeak [{config}]: {problem}")
                self.failures.append(f"clpeak [{config}]: {problem}")
            for (section, unit), entries in sections.items():
                self.add_clpeak(config, section, unit.replace("GBPS", "GB/s"), entries)

    def add_clpeak(self, config, section, unit, entries):
        if section == "Kernel launch latency":
            self.add(Metric("clpeak/kernel-latency", "clpeak", "Kernel launch latency", "µs", "lower"),
                     config, value=Value.of([entries["latency"]]))
        elif section == "Transfer bandwidth":
            for name, v in entries.items():
                # Map and unmap "bandwidths" of a zero-copy device are meaningless (~100 TB/s).
                if name.startswith("enqueueMap") or name.startswith("enqueueUnmap"):
                    continue
                self.add(Metric(f"clpeak/transfer/{name}", "clpeak", f"Transfer: {name}", unit, "higher"),
                         config, value=Value.of([v]))
        elif entries:
            # The best vector width is the peak clpeak reports for the section.
            name, v = max(entries.items(), key=lambda kv: kv[1])
            self.add(Metric(f"clpeak/{section}", "clpeak", f"{section} (best: {name})", unit, "higher"),
                     config, value=Value.of([v]))

    def run_pyopencl(self, config):
        r = measure.pyopencl_workload(self.runner, config, os.path.join(HERE, "pyopencl_workload.py"))
        self.checksums[config] = r["checksum"]
        note = None
        if config != NATIVE and self.checksums.get(NATIVE) not in (None, r["checksum"]):
            note = f"checksum {r['checksum']} differs from native {self.checksums[NATIVE]}"
            self.failures.append(f"pyopencl [{config}]: {note}")
        for phase, seconds in r["phases"].items():
            self.add(Metric(f"pyopencl/{phase}", "PyOpenCL workload", f"Phase: {phase}", "s", "lower"),
                     config, value=Value.of([seconds]), note=note)

    def document(self, started, load_before):
        return {
            "meta": {
                "date": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
                "duration_s": round(time.time() - started, 1),
                "host": platform.node(),
                "cpus": os.cpu_count(),
                "load_before": load_before,
                "load_after": os.getloadavg(),
                "device": self.device,
                "git": git_revision(),
                "configs": self.configs,
                "unavailable": self.unavailable,
                "failures": self.failures,
                "quick": self.args.quick,
            },
            "metrics": [asdict(m) for m in self.metrics.values()],
        }


def git_revision():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except OSError:
        return "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder (default: build)")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="where latest.* go")
    p.add_argument("--transports", default=",".join(TRANSPORTS), help="comma-separated (default: all)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions, shorter runs (a smoke test)")
    p.add_argument("--skip-apps", action="store_true", help="skip clpeak and the PyOpenCL workload")
    p.add_argument("--filter", help="Google Benchmark --benchmark_filter for the micro-benchmarks")
    p.add_argument("--baseline", default=os.path.join(HERE, "results", "baseline.json"))
    p.add_argument("--write-baseline", action="store_true", help="also save this run as the baseline")
    p.add_argument("--update-docs", action="store_true", help="put this run's tables into BENCHMARKS.md")
    p.add_argument("--report-only", action="store_true", help="measure nothing: report on the last latest.json")
    args = p.parse_args()
    args.transports = [t for t in args.transports.split(",") if t]
    for t in args.transports:
        if t not in TRANSPORTS:
            p.error(f"unknown transport {t!r} (known: {', '.join(TRANSPORTS)})")
    if not os.access(os.path.join(args.build, "bin", "opencl_micro"), os.X_OK):
        p.error(f"{args.build}/bin/opencl_micro is missing: run `make build` first")

    os.makedirs(args.out, exist_ok=True)
    if args.report_only:
        with open(os.path.join(args.out, "latest.json")) as f:
            doc = json.load(f)
    else:
        started = time.time()
        load_before = os.getloadavg()
        suite = Suite(args)
        suite.run()
        doc = suite.document(started, load_before)
        with open(os.path.join(args.out, "latest.json"), "w") as f:
            json.dump(doc, f, indent=1)
    baseline = None
    if os.path.exists(args.baseline):
        with open(args.baseline) as f:
            baseline = json.load(f)
    regressions, drift = report.compare(doc, baseline)
    text = report.markdown(doc, regressions, drift, baseline is not None)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text)
    try:
        plot = report.plot(doc, os.path.join(args.out, "latest.svg"))
    except Exception as e:  # the figure is a convenience: the tables and the comparison still stand
        plot = f"{type(e).__name__}: {e}"
    print(report.console(doc, regressions, drift, baseline is not None))
    print(f"\nwrote {args.out}/latest.json, latest.md" + (", latest.svg" if plot else " (no plot: " + str(plot) + ")"))
    if args.write_baseline:
        with open(args.baseline, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.baseline}")
    if args.update_docs:
        report.update_docs(os.path.join(ROOT, "BENCHMARKS.md"), text)
        if plot is True:
            # BENCHMARKS.md shows this copy: latest.* are rewritten by every run and not committed.
            shutil.copyfile(os.path.join(args.out, "latest.svg"), os.path.join(HERE, "results", "published.svg"))
        print("updated BENCHMARKS.md and bench/results/published.svg")
    if regressions and os.environ.get("BENCH_STRICT") == "1":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
