#!/usr/bin/env python3
"""The CUDA benchmark table (bench/gpu_run.sh): native vs remora per transport, with ratios and targets.

    gpu_report.py RAW.jsonl RESULTS.json

Ratios are remora/native for rates (higher is better) and native/remora for times, so 1.0 is parity
and below 1.0 is remora being slower, whatever the unit. With several rounds (gpu_run.sh ROUNDS), each
value is the median over the rounds and the ratio is of those medians; "spread" is the lowest and
highest ratio of one round's remora figure to the same round's native one.
"""
import json
import statistics
import sys

# Targets (issue 6): a ratio at or above these passes.
TARGETS = {
    "launch_empty": 0.9,
    "e2e_wall": 1 / 1.05,
}
MEMCPY_TARGET = 0.9  # shm only, copies of 4 MiB and more


def main():
    raw, out = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(raw) if line.strip()]
    by = {}  # bench -> setting -> values in round order
    units = {}
    for r in rows:
        by.setdefault(r["bench"], {}).setdefault(r["setting"], []).append(r["value"])
        units[r["bench"]] = r["unit"]
    settings = [s for s in ("shm", "unix", "tcp") if any(s in v for v in by.values())]
    results = {"benchmarks": [], "targets_missed": []}
    print(f"{'benchmark':30} {'unit':10} {'native':>10} " +
          " ".join(f"{s:>10} {'ratio':>5} {'spread':>9}" for s in settings))

    def ratio_of(unit, native, v):
        if unit in ("s", "us"):
            return native / v if v else 0.0
        if unit == "sum":
            return 1.0 if abs(v - native) <= 1e-6 * abs(native) else 0.0
        return v / native if native else 0.0

    for bench, per in by.items():
        if "native" not in per:
            continue
        unit = units[bench]
        native_values = per["native"]
        native = statistics.median(native_values)
        entry = {"bench": bench, "unit": unit, "native": native, "rounds": len(native_values)}
        cells = []
        for s in settings:
            values = per.get(s)
            if not values:
                cells.append(f"{'-':>10} {'':>5} {'':>9}")
                continue
            v = statistics.median(values)
            ratio = ratio_of(unit, native, v)
            rounds = [ratio_of(unit, n, x) for n, x in zip(native_values, values)]
            entry[s] = v
            entry[s + "_ratio"] = ratio
            entry[s + "_ratio_spread"] = [min(rounds), max(rounds)]
            cells.append(f"{v:10.4g} {ratio:5.2f} {min(rounds):4.2f}-{max(rounds):4.2f}")
            target = TARGETS.get(bench)
            if bench.startswith("memcpy_") and s == "shm":
                target = MEMCPY_TARGET
            if unit == "sum":
                target = 1.0
            if target is not None and ratio < target:
                results["targets_missed"].append(f"{bench} ({s}): ratio {ratio:.2f} < {target:.2f}")
        results["benchmarks"].append(entry)
        print(f"{bench:30} {unit:10} {native:10.4g} " + " ".join(cells))
    json.dump(results, open(out, "w"), indent=1)
    print("ratio: remora/native for rates, native/remora for times (1.00 = parity)")
    for m in results["targets_missed"]:
        print("target missed:", m)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
