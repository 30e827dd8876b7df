"""``robust`` with recency-weighted scenarios: does weighting recent matrices more help on the next interval?

Usage: python benchmarks/bench_robust_weights.py [--data ../shared/data] [--networks geant,abilene]

Protocol (fixed before the run): bench_replay's split of the real series (train 70 %, validation 10 %,
test 20 %) and its demand scale; only the validation part is replayed (nothing here is chosen on the test
part). Each variant decides interval t from the matrices before t with the scenario LP (central, the
default of ``robust``): window W matrices, scenario s weighted 0.5 ** (age_s / half-life) (age 0 = the
most recent; no half-life = equal weights, today's ``robust``). Reported: the ratio of the routing's MLU on
interval t to the oracle's (mean, p99, max), CPU seconds. A variant would replace today's equal weights
only if its validation mean and p99 are both no worse on both networks (the issue 15 targets are on both).

Writes benchmarks/results/robust_weights.{json,md} with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402
from bench_replay import TARGET_UTIL, TRAIN, VAL, load, oracle_mlus  # noqa: E402

from surgeguard.evaluate import evaluate  # noqa: E402
from surgeguard.optimise.scenario import ScenarioLP  # noqa: E402
from surgeguard.routing import Routing  # noqa: E402

#: (window, half-life in intervals or None for equal weights); the first is today's robust
VARIANTS = [(12, None), (12, 3.0), (12, 6.0), (24, 6.0), (24, 12.0)]


def run_network(name: str, data: Path, log) -> list[dict]:
    net, ps, ts, how = load(name, data)
    n = len(ts)
    a, b = int(TRAIN * n), int((TRAIN + VAL) * n)
    opt_known = oracle_mlus(net, ps, ts, 0, b)
    ts = ts.scale(TARGET_UTIL / float(opt_known.max()))
    opt = oracle_mlus(net, ps, ts, a, b)
    rows = []
    for w, hl in VARIANTS:
        lp = ScenarioLP(net, ps, solver="central")
        r, t0 = [], time.process_time()
        for t in range(a, b):
            tms = ts.total[max(0, t - w):t]
            s = len(tms)
            weights = None if hl is None else 0.5 ** ((s - 1 - np.arange(s)) / hl)
            splits, _ = lp.solve(tms, weights=weights)
            r.append(evaluate(net, Routing(ps, splits, "robust"), ts.total[t]).mlu / opt[t - a])
        r = np.asarray(r)
        rows.append({"network": name, "window": w, "half_life": hl, "intervals": len(r),
                     "validation": [str(ts.times[a]), str(ts.times[b - 1])], "ratio_mean": float(r.mean()),
                     "ratio_p99": float(np.percentile(r, 99)), "ratio_max": float(r.max()),
                     "cpu_seconds": round(time.process_time() - t0, 1)})
        log(f"{name} window {w} half-life {hl}: mean {r.mean():.4f} p99 {np.percentile(r, 99):.4f} max {r.max():.4f}")
    return rows


def markdown(res: dict) -> str:
    m = res["machine"]
    L = ["# `robust` with recency-weighted scenarios (validation parts only)", "",
         f"Run {res['run_at']}, {res['seconds'] / 60:.1f} min, `python benchmarks/bench_robust_weights.py`. Machine: "
         f"{m.get('cpu')}, {m.get('cpu_count')} cores, python {m.get('python')}, highspy {m.get('highspy')}; load "
         f"average at the start {res['load_average_start']}.", "",
         "Protocol: see the module docstring (bench_replay's validation parts, scenario weights 0.5 ** (age / "
         "half-life), the central scenario LP). Ratio = MLU of the decision on the next interval / the oracle's.", "",
         "| network | window | half-life (intervals) | intervals | mean | p99 | max | CPU s |", "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        L.append(f"| {r['network']} | {r['window']} | {r['half_life'] or 'equal weights (robust today)'} | "
                 f"{r['intervals']} | {r['ratio_mean']:.4f} | {r['ratio_p99']:.4f} | {r['ratio_max']:.4f} | "
                 f"{r['cpu_seconds']} |")
    L += ["", "Verdict (the rule in the docstring): " + res["verdict"], ""]
    return "\n".join(L)


def verdict(rows: list[dict]) -> str:
    base = {r["network"]: r for r in rows if r["window"] == VARIANTS[0][0] and r["half_life"] is None}
    better = []
    for w, hl in VARIANTS[1:]:
        mine = [r for r in rows if r["window"] == w and r["half_life"] == hl]
        if mine and all(r["ratio_mean"] <= base[r["network"]]["ratio_mean"]
                        and r["ratio_p99"] <= base[r["network"]]["ratio_p99"] for r in mine):
            better.append(f"window {w}, half-life {hl}")
    if better:
        return "no worse on both networks' mean and p99: " + "; ".join(better) + "."
    return ("no variant is no worse than equal weights on both networks' mean and p99: equal weights "
            "(today's `robust`) stay.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--networks", default="geant,abilene")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not data.is_dir():
        print(f"the shared data folder {data} is not there; pass --data", file=sys.stderr)
        return 2
    t0, load0 = time.perf_counter(), [round(x, 2) for x in os.getloadavg()]
    rows = []
    for name in a.networks.split(","):
        rows += run_network(name, data, lambda s: print(s, flush=True))
    res = {"benchmark": "robust_weights", "run_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machine": machine_info(), "load_average_start": load0, "seconds": time.perf_counter() - t0,
           "variants": VARIANTS, "rows": rows, "verdict": verdict(rows)}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "robust_weights.json").write_text(json.dumps(res, indent=1))
    (out / "robust_weights.md").write_text(markdown(res))
    print(res["verdict"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
