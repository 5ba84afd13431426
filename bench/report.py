"""Tables, targets, baseline comparison and the plot, from the document bench/run.py writes.

Conventions, used everywhere here and in BENCHMARKS.md:
- a value is the median over repetitions, shown "median ±s" where s is half the interquartile
  range (or half the min-max range with fewer than 4 samples; single-shot figures have no ±);
- a ratio is remora / native of the displayed value, so it is > 1 for a slower latency and < 1 for
  a lower throughput; latency rows also show the time remora adds;
- a regression is a ratio more than 10% worse than the baseline's ratio for the same figure and
  transport.
"""
import math
import os

NATIVE = "native"
TRANSPORTS = ("shm", "unix", "tcp")
REGRESSION = 1.10
BEGIN = "<!-- bench:results:begin (bench/run.py --update-docs writes between these lines) -->"
END = "<!-- bench:results:end -->"


def _decimals(x):
    """Decimals that show three significant digits of x (none for numbers >= 100)."""
    if x == 0:
        return 0
    return max(0, 2 - math.floor(math.log10(abs(x))))


def _fmt(x, decimals=None):
    if x is None:
        return "-"
    return f"{x:.{_decimals(x) if decimals is None else decimals}f}"


def _value(v):
    if not v:
        return "-"
    d = _decimals(v["median"])
    half = (v["hi"] - v["lo"]) / 2
    return _fmt(v["median"], d) + (f" ±{_fmt(half, d)}" if v["samples"] > 1 else "")


def ratio(metric, config):
    n, r = metric["values"].get(NATIVE), metric["values"].get(config)
    if not n or not r or n["median"] == 0:
        return None
    return r["median"] / n["median"]


def _ratio_text(metric, config):
    q = ratio(metric, config)
    if q is None:
        return "-"
    text = f"{_fmt(q)}x"
    if metric["better"] == "lower" and metric["unit"] == "µs":
        added = metric["values"][config]["median"] - metric["values"][NATIVE]["median"]
        text += f" ({added:+.1f} µs)"
    return text


def worse_by(metric, current, baseline):
    """How much worse `current` is than `baseline` (both ratios or both values): > 1 is worse."""
    if current is None or baseline is None or current <= 0 or baseline <= 0:
        return None
    return current / baseline if metric["better"] == "lower" else baseline / current


def compare(doc, baseline):
    """(regressions, drift): ratios > 10% worse than the baseline's, and native figures that moved
    more than 10% (the machine, not remora: shown for context, never a failure)."""
    if not baseline:
        return [], []
    base = {m["id"]: m for m in baseline["metrics"]}
    regressions, drift = [], []
    for m in doc["metrics"]:
        b = base.get(m["id"])
        if not b:
            continue
        for config in TRANSPORTS:
            w = worse_by(m, ratio(m, config), ratio(b, config))
            if w is not None and w > REGRESSION:
                regressions.append((m, config, ratio(b, config), ratio(m, config), w))
        n, bn = m["values"].get(NATIVE), b["values"].get(NATIVE)
        if n and bn:
            w = worse_by(m, n["median"], bn["median"])
            if w is not None and w > REGRESSION:
                drift.append((m, bn["median"], n["median"], w))
    return regressions, drift


# ---- Targets (from the issue; shm unless said) -----------------------------------------------------

def _metric(doc, mid):
    for m in doc["metrics"]:
        if m["id"] == mid:
            return m
    return None


def _median(doc, mid, config):
    m = _metric(doc, mid)
    v = m and m["values"].get(config)
    return v["median"] if v else None


def _added(doc, mid, config, limit):
    n, r = _median(doc, mid, NATIVE), _median(doc, mid, config)
    if n is None or r is None:
        return None, "not measured yet"
    return r - n <= limit, f"{r - n:+.2f} µs ({_fmt(n)} → {_fmt(r)} µs)"


def _bandwidth(doc, config, floor):
    worst = None
    for m in doc["metrics"]:
        if (m["id"].startswith("micro/WriteBandwidth/") or m["id"].startswith("micro/ReadBandwidth/")) \
                and int(m["id"].rsplit("/", 1)[1]) >= 1 << 20:
            q = ratio(m, config)
            if q is not None and (worst is None or q < worst[0]):
                worst = (q, m["label"])
    if worst is None:
        return None, "not measured yet"
    return worst[0] >= floor, f"worst {worst[0]:.2f}x ({worst[1]})"


def _clpeak(doc, config):
    worst = None
    for m in doc["metrics"]:
        if m["id"].startswith("clpeak/") and m["better"] == "higher" and "/transfer/" not in m["id"]:
            q = ratio(m, config)
            if q is not None and (worst is None or q < worst[0]):
                worst = (q, m["label"])
    if worst is None:
        return None, "not measured yet"
    return worst[0] >= 0.97, f"worst {worst[0]:.2f}x ({worst[1]})"


def _idle(doc):
    figures = []
    for mid in ("idle/guest", "idle/server"):
        for config in TRANSPORTS:
            v = _median(doc, mid, config)
            if v is not None:
                figures.append((v, f"{mid.split('/')[1]} {config}"))
    if not figures:
        return None, "not measured yet"
    worst = max(figures)
    return worst[0] < 1.0, f"worst {worst[0]:.2f}% ({worst[1]})"


def targets(doc):
    async_rate = _median(doc, "micro/AsyncSetKernelArg", "shm")
    return [
        ("Uncacheable sync round trip", "<= native + 1.5 µs (median)",
         *_added(doc, "micro/SyncRoundTrip", "shm", 1.5)),
        ("Async call throughput", ">= 10 M calls/s",
         *((async_rate >= 10, f"{_fmt(async_rate)} M calls/s") if async_rate is not None
           else (None, "not measured yet"))),
        ("Empty kernel launch + finish", "<= native + 3 µs", *_added(doc, "micro/KernelLaunchFinish", "shm", 3)),
        ("4-byte blocking write", "<= native + 3 µs", *_added(doc, "micro/BlockingWrite4B", "shm", 3)),
        ("Write and read bandwidth, >= 1 MiB", ">= 0.9x native", *_bandwidth(doc, "shm", 0.9)),
        ("TCP loopback sync round trip", "<= native + 15 µs", *_added(doc, "micro/SyncRoundTrip", "tcp", 15)),
        ("TCP bandwidth, >= 1 MiB", ">= 0.5x native", *_bandwidth(doc, "tcp", 0.5)),
        ("clpeak compute and global bandwidth", ">= 0.97x native", *_clpeak(doc, "shm")),
        ("Idle guest, idle server (every transport)", "< 1% of a core", *_idle(doc)),
    ]


def _verdict(ok):
    return {True: "met", False: "MISSED", None: "-"}[ok]


# ---- Output ---------------------------------------------------------------------------------------

def _header(doc):
    meta = doc["meta"]
    lines = [f"Run {meta['date']} on {meta['host']} ({meta['cpus']} CPUs), git {meta['git']}, "
             f"{meta['duration_s']} s; device: {meta['device']}",
             f"Load average before / after: {meta['load_before'][0]:.2f} / {meta['load_after'][0]:.2f}"
             + (" (other work was running: figures are noisy)"
                if max(meta["load_before"][0], meta["load_after"][0]) > 0.5 * meta["cpus"] else "")]
    for t, why in meta["unavailable"].items():
        lines.append(f"remora({t}): not measured: {why}")
    for f in meta["failures"]:
        lines.append(f"failed: {f}")
    return lines


def _rows(doc):
    """(group, cells) for every metric, the cells in column order."""
    for m in doc["metrics"]:
        cells = [m["label"], m["unit"], _value(m["values"].get(NATIVE))]
        for config in TRANSPORTS:
            cells += [_value(m["values"].get(config)), _ratio_text(m, config)]
        yield m["group"], cells


COLUMNS = ["case", "unit", "native", "remora(shm)", "ratio", "remora(unix)", "ratio", "remora(tcp)", "ratio"]


def markdown(doc, regressions, drift, have_baseline):
    out = [f"_{line}_  " for line in _header(doc)]
    out += ["", "Values: median ± half the interquartile range. Ratio: remora / native (latency: higher is "
            "slower, with the time added; throughput: lower is slower).", ""]
    group = None
    for g, cells in _rows(doc):
        if g != group:
            out += ["", f"**{g}**", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
            group = g
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "**Targets** (shm unless said)", "", "| target | goal | measured | verdict |", "|---|---|---|---|"]
    for name, goal, ok, text in targets(doc):
        out.append(f"| {name} | {goal} | {text} | {_verdict(ok)} |")
    out += ["", _regression_text(regressions, drift, have_baseline, md=True)]
    return "\n".join(out) + "\n"


def console(doc, regressions, drift, have_baseline):
    rows = list(_rows(doc))
    widths = [max(len(c) for c in col) for col in zip(COLUMNS, *[cells for _, cells in rows])]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = _header(doc) + ["", line(COLUMNS)]
    group = None
    for g, cells in rows:
        if g != group:
            out += ["", f"-- {g}"]
            group = g
        out.append(line(cells))
    out += ["", "Targets (shm unless said):"]
    for name, goal, ok, text in targets(doc):
        out.append(f"  [{_verdict(ok):>6}] {name}: {goal}; measured {text}")
    out += ["", _regression_text(regressions, drift, have_baseline, md=False)]
    return "\n".join(out)


def _regression_text(regressions, drift, have_baseline, md):
    if not have_baseline:
        return "No baseline (bench/results/baseline.json): nothing compared."
    lines = []
    if regressions:
        lines.append(f"REGRESSIONS: {len(regressions)} ratio(s) more than 10% worse than the baseline:")
        for m, config, b, c, w in regressions:
            lines.append(f"{'- ' if md else '  !! '}{m['label']} [{config}]: ratio {b:.2f}x -> {c:.2f}x "
                         f"({(w - 1) * 100:.0f}% worse)")
    else:
        lines.append("No ratio is more than 10% worse than the baseline.")
    if drift:
        lines.append(f"Native figures that moved more than 10% against the baseline (the machine, for context): "
                     + ", ".join(f"{m['label']} {(w - 1) * 100:.0f}%" for m, _, _, w in drift[:12])
                     + (" ..." if len(drift) > 12 else ""))
    return ("\n" if not md else "\n\n").join(lines)


def update_docs(path, text):
    with open(path) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{path}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)


# ---- Plot -----------------------------------------------------------------------------------------

def plot(doc, path):
    """Writes the figure; returns True, or the reason it could not (matplotlib missing)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"matplotlib: {e}"
    configs = [c for c in [NATIVE, *TRANSPORTS] if c in doc["meta"]["configs"]]
    colors = {NATIVE: "#444444", "shm": "#1f77b4", "unix": "#2ca02c", "tcp": "#d62728"}
    metrics = {m["id"]: m for m in doc["metrics"]}
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))

    # (a) call latencies, log scale, with the interquartile range as error bars.
    ax = axes[0][0]
    ids = [i for i in ("micro/SyncRoundTrip", "micro/CachedQuery", "micro/KernelLaunchFinish",
                       "micro/BlockingWrite4B", "micro/ThreadedRoundTripLatency/8") if i in metrics]
    width = 0.8 / max(1, len(configs))
    for k, config in enumerate(configs):
        xs, ys, errs = [], [], [[], []]
        for j, i in enumerate(ids):
            v = metrics[i]["values"].get(config)
            if v:
                xs.append(j + k * width)
                ys.append(v["median"])
                errs[0].append(max(0.0, v["median"] - v["lo"]))
                errs[1].append(max(0.0, v["hi"] - v["median"]))
        ax.bar(xs, ys, width, yerr=errs, label=config, color=colors[config])
    ax.set_xticks([j + width * (len(configs) - 1) / 2 for j in range(len(ids))])
    ax.set_xticklabels(["sync round\ntrip", "cached\nquery", "kernel +\nfinish", "4 B write", "8 threads\nper call"])
    ax.set_yscale("log")
    ax.set_ylabel("µs per call (median, IQR)")
    ax.set_title("Call latency (lower is better)")
    ax.legend(fontsize=8, loc="upper left")

    # (b), (c): bandwidth against transfer size.
    for ax, kind in ((axes[0][1], "Write"), (axes[1][0], "Read")):
        for config in configs:
            pts = sorted((int(i.rsplit("/", 1)[1]), m["values"][config]["median"])
                         for i, m in metrics.items() if i.startswith(f"micro/{kind}Bandwidth/") and config in m["values"])
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=config, color=colors[config])
        ax.set_xscale("log", base=2)
        sizes = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 256 << 20]
        ax.set_xticks(sizes)
        ax.set_xticklabels(["4 KiB", "64 KiB", "1 MiB", "16 MiB", "256 MiB"])
        ax.set_xlabel("bytes per blocking call")
        ax.set_ylabel("GiB/s (median)")
        ax.set_title(f"{kind} bandwidth (higher is better)")
        ax.legend()

    # (d) relative performance on whole workloads: native = 1, higher is better for every bar.
    ax = axes[1][1]
    short = {"micro/AsyncSetKernelArg": "async\ncalls", "procs/1": "1 process\nround trips",
             "procs/16": "16 processes\nround trips", "clpeak/Global memory bandwidth": "clpeak\nglobal b/w",
             "clpeak/Single-precision compute": "clpeak\nSP compute", "clpeak/kernel-latency": "clpeak\nkernel lat.",
             "clpeak/transfer/enqueueWriteBuffer": "clpeak\nwrite b/w", "pyopencl/total": "PyOpenCL\ntotal time"}
    ids = [i for i in short if i in metrics]
    remote = [c for c in configs if c != NATIVE]
    width = 0.8 / max(1, len(remote))
    for k, config in enumerate(remote):
        xs, ys = [], []
        for j, i in enumerate(ids):
            q = ratio(metrics[i], config)
            if q:
                xs.append(j + k * width)
                ys.append(q if metrics[i]["better"] == "higher" else 1 / q)
        ax.bar(xs, ys, width, label=config, color=colors[config])
    ax.axhline(1.0, color="#444444", linewidth=1)
    ax.set_xticks([j + width * (len(remote) - 1) / 2 for j in range(len(ids))])
    ax.set_xticklabels([short[i] for i in ids], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("performance relative to native (log)")
    ax.set_title("Throughput and applications (native = 1)")
    if remote:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "remora not measured yet", ha="center", va="center", transform=ax.transAxes)

    meta = doc["meta"]
    fig.suptitle(f"remora vs native OpenCL, {meta['device'].split('|')[-1].strip()[:60]}, {meta['date'][:16]}")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True
