#!/usr/bin/env python3
"""The CUDA benchmark table (bench/gpu_run.sh): native vs remora per transport, with ratios and targets.

    gpu_report.py RAW.jsonl RESULTS.json

Ratios are remora/native for rates (higher is better) and native/remora for times, so 1.0 is parity
and below 1.0 is remora being slower, whatever the unit.
"""
import json
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
    by = {}
    for r in rows:
        by.setdefault(r["bench"], {})[r["setting"]] = r
    settings = [s for s in ("shm", "unix", "tcp") if any(s in v for v in by.values())]
    results = {"benchmarks": [], "targets_missed": []}
    print(f"{'benchmark':34} {'unit':11} {'native':>11} " + " ".join(f"{s:>11} {'ratio':>6}" for s in settings))
    for bench, per in by.items():
        native = per.get("native")
        if native is None:
            continue
        unit = native["unit"]
        entry = {"bench": bench, "unit": unit, "native": native["value"]}
        cells = []
        for s in settings:
            r = per.get(s)
            if r is None:
                cells.append(f"{'-':>11} {'':>6}")
                continue
            v = r["value"]
            if unit in ("s", "us"):
                ratio = native["value"] / v if v else 0.0
            elif unit == "sum":
                ratio = 1.0 if abs(v - native["value"]) <= 1e-6 * abs(native["value"]) else 0.0
            else:
                ratio = v / native["value"] if native["value"] else 0.0
            entry[s] = v
            entry[s + "_ratio"] = ratio
            cells.append(f"{v:11.4g} {ratio:6.2f}")
            target = TARGETS.get(bench)
            if bench.startswith("memcpy_") and s == "shm":
                target = MEMCPY_TARGET
            if unit == "sum":
                target = 1.0
            if target is not None and ratio < target:
                results["targets_missed"].append(f"{bench} ({s}): ratio {ratio:.2f} < {target:.2f}")
        results["benchmarks"].append(entry)
        print(f"{bench:34} {unit:11} {native['value']:11.4g} " + " ".join(cells))
    json.dump(results, open(out, "w"), indent=1)
    print("ratio: remora/native for rates, native/remora for times (1.00 = parity)")
    for m in results["targets_missed"]:
        print("target missed:", m)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
