"""Traffic classes on the Morocco lockdown demo: is critical traffic protected, and at what cost?

Setup (as ``surgeguard demo``, with classes): the Morocco backbone, 14 days of 15-minute gravity
traffic around 20 March 2020 (seed 2020, 800 Gbit/s mean), split into the default classes
(critical 5 %, interactive 35 %, bulk 60 %; ``surgeguard.classes.DEFAULT_CLASSES``), capacities sized
for 60 % peak utilisation under shortest paths on the week before the lockdown, then the lockdown
scenario with critical traffic x3 (``LOCKDOWN_CLASS_FACTORS``) from 2020-03-20 17:00 UTC.

Measured: :func:`surgeguard.evaluate.classes.replay_classes` over every interval with
``priority`` (allocation of the previous interval, strict-priority queues), ``priority-oracle``,
``shortest`` (one FIFO queue), ``shortest+pq`` (strict-priority queues) and ``optimal`` (min-MLU LP
of the previous interval, FIFO). Target (issue 5): critical traffic 100 % served in every interval
where the network can carry it, while ``shortest`` loses some. Timing variants for the demo report
(without the latency stage; from one day before the lockdown) and, where ``routing/fast.py``
exists, the ``fast`` solver against HiGHS on the busiest intervals.

Run: ``.venv/bin/python benchmarks/bench_classes.py`` (about 2-3 minutes on 2 cores).
Writes ``benchmarks/results/classes.json`` and ``classes.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import surgeguard.routing.priority as prio
from surgeguard.classes import DEFAULT_CLASSES, LOCKDOWN_CLASS_FACTORS
from surgeguard.evaluate.classes import replay_classes
from surgeguard.examples import morocco
from surgeguard.plan import size_capacities
from surgeguard.routing import k_shortest_paths
from surgeguard.routing.priority import allocate_classes, fast_available
from surgeguard.scenario import Lockdown, gravity_series
from surgeguard.serve.demo import DEMO_TOTAL_BPS, LOCKDOWN_START

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import machine_info  # noqa: E402


def demo_inputs(days: float = 14.0, seed: int = 2020):
    """The demo's network, paths and series, with traffic classes (see the module notes)."""
    lockdown_at = pd.Timestamp(LOCKDOWN_START)
    start = (lockdown_at - pd.Timedelta(days=days / 2)).floor("D")
    net0 = morocco()
    base = gravity_series(net0, start, int(round(days * 96)), "15min", total_bps=DEMO_TOTAL_BPS, random_state=seed,
                          classes=DEFAULT_CLASSES.shares_dict(), name="morocco-synthetic")
    before = int(np.searchsorted(base.times, lockdown_at))
    net = size_capacities(net0, base.window(0, max(before, 1)), target_util=0.6)
    scenario = Lockdown(start=lockdown_at, class_factors=dict(LOCKDOWN_CLASS_FACTORS))
    series = scenario.apply(base, network=net)
    paths = k_shortest_paths(net, k=4)
    return {"network": net, "paths": paths, "base": base, "series": series, "before": before,
            "lockdown_at": lockdown_at, "scenario": scenario, "classes": DEFAULT_CLASSES}


def main() -> dict:
    t_all = time.perf_counter()
    inp = demo_inputs()
    net, paths, series, before = inp["network"], inp["paths"], inp["series"], inp["before"]
    cfg = inp["classes"]
    out: dict = {"machine": machine_info(), "load_average_start": os.getloadavg(),
                 "setup": {"network": net.describe(), "paths": int(paths.n_paths), "intervals": len(series),
                           "step": str(series.step), "class_spec": cfg.to_spec(),
                           "lockdown": inp["scenario"].to_string(), "lockdown_step": before}}

    # 1. the full replay, every policy
    t0 = time.perf_counter()
    res = replay_classes(net, paths, series, cfg, policies=("priority", "priority-oracle", "shortest", "shortest+pq",
                                                            "optimal"), progress=False)
    full_s = time.perf_counter() - t0
    summ = res.summary()
    out["replay"] = {"seconds": full_s, "summary": summ["policies"]}
    crit = cfg.names[0]
    pr, sh = summ["policies"]["priority"][crit], summ["policies"]["shortest"][crit]
    out["target"] = {
        "critical_served_in_every_carriable_interval": pr["served_in_every_carriable_interval"],
        "critical_carriable_intervals": pr["intervals_carriable"],
        "critical_fully_served_when_carriable": pr["carriable_fully_served"],
        "shortest_critical_intervals_with_loss": sh["intervals_with_loss"],
        "shortest_critical_lost_bits": sh["lost_bits"],
        "met": bool(pr["served_in_every_carriable_interval"] and sh["intervals_with_loss"] > 0),
    }

    # 2. timing variants for the demo report (priority + shortest + shortest+pq only)
    pols = ("priority", "shortest", "shortest+pq")
    variants = {}
    for name, kw in {"all intervals": {}, "all intervals, no latency stage": {"latency_stage": False},
                     "from one day before the lockdown": {"start": max(before - 96, 0)}}.items():
        t0 = time.perf_counter()
        r = replay_classes(net, paths, series, cfg, policies=pols, progress=False, **kw)
        s = r.summary()["policies"]
        variants[name] = {"seconds": time.perf_counter() - t0, "intervals": int(r.steps["step"].nunique()),
                          "priority_critical_ok": s["priority"][crit]["served_in_every_carriable_interval"],
                          "shortest_critical_intervals_with_loss": s["shortest"][crit]["intervals_with_loss"]}
    out["demo_variants"] = variants

    # 3. HiGHS vs fast on the 16 busiest intervals (fast cold-started; then warm-started on 8)
    tot = series.total.sum(axis=(1, 2))
    busy = np.sort(np.argsort(-tot)[:16])
    comp: dict = {"fast_available": fast_available(), "intervals": busy.tolist()}
    runs = [("highs", busy, False)]
    if fast_available():
        runs += [("fast", busy, False), ("fast-warm", busy[:8], True)]
    for label, steps, warm in runs:
        prio.FAST_WARM_START = warm
        lps: dict = {}
        t0 = time.perf_counter()
        shares, mlus, gaps = [], [], []
        for t in steps:
            a = allocate_classes(net, paths, series, cfg, step=int(t), solver=label.split("-")[0], lps=lps)
            shares.append(a.summary()["served_share"].to_numpy(float))
            mlus.append([i["own_mlu"] for i in a.info])
            gaps.append([i.get("gap") if i.get("gap") is not None else np.nan for i in a.info])
        comp[label] = {"seconds": time.perf_counter() - t0, "seconds_per_interval": (time.perf_counter() - t0) / len(steps),
                       "served_share_min": np.min(shares, axis=0).tolist(), "own_mlu": np.array(mlus).tolist(),
                       "gap_max": np.nanmax(np.array(gaps, float), axis=0).tolist() if label != "highs" else None}
    prio.FAST_WARM_START = False
    if "fast" in comp:
        h, f = np.array(comp["highs"]["own_mlu"]), np.array(comp["fast"]["own_mlu"])
        comp["fast_vs_highs_own_mlu_ratio_mean"] = (f / h).mean(axis=0).tolist()
        comp["fast_vs_highs_own_mlu_ratio_max"] = (f / h).max(axis=0).tolist()
        hw, fw = h[:8], np.array(comp["fast-warm"]["own_mlu"])
        comp["fast_warm_vs_highs_own_mlu_ratio_max"] = (fw / hw).max(axis=0).tolist()
    out["solvers"] = comp
    out["seconds"] = time.perf_counter() - t_all
    out["load_average_end"] = os.getloadavg()
    return out


def write(out: dict) -> None:
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    (res / "classes.json").write_text(json.dumps(out, indent=2, default=str))
    s = out["replay"]["summary"]
    tg = out["target"]
    lines = ["# Traffic classes on the Morocco lockdown demo", "",
             f"Machine: {out['machine'].get('cpu', '?')}, {out['machine'].get('cpu_count')} cores, load average "
             f"{out['load_average_start'][0]:.1f} at start (other work shared the machine: timings are upper bounds).",
             f"Setup: {out['setup']['network']}; {out['setup']['intervals']} intervals of {out['setup']['step']}; "
             f"{out['setup']['paths']} candidate paths; classes `{out['setup']['class_spec']}`; "
             f"scenario `{out['setup']['lockdown']}`.", "",
             "## Target: critical traffic fully served wherever the network can carry it; shortest loses some", "",
             f"* priority: critical fully served in {tg['critical_fully_served_when_carriable']} of "
             f"{tg['critical_carriable_intervals']} carriable intervals -> "
             f"{'**met**' if tg['critical_served_in_every_carriable_interval'] else '**not met**'}",
             f"* shortest (FIFO): critical lost in {tg['shortest_critical_intervals_with_loss']} intervals "
             f"({tg['shortest_critical_lost_bits'] / 1e12:.3f} Tbit)",
             f"* target {'met' if tg['met'] else 'NOT met'}", "",
             "## Per policy and class (all intervals)", "",
             "| policy | class | lost (Tbit) | lost share | intervals with loss | fully served / carriable | "
             "mean latency (ms) | max latency (ms) | decision (ms) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for pol, cl in s.items():
        for name, v in cl.items():
            lines.append(f"| {pol} | {name} | {v['lost_bits'] / 1e12:.4f} | {100 * v['lost_share']:.5f}% | "
                         f"{v['intervals_with_loss']} | {v['carriable_fully_served']} / {v['intervals_carriable']} | "
                         f"{v['latency_ms_mean']:.3f} | {v['latency_ms_max']:.2f} | "
                         f"{1e3 * v['decision_seconds_mean']:.1f} |")
    lines += ["", f"Full replay (5 policies): {out['replay']['seconds']:.1f} s.", "",
              "## Timing variants for the demo report (priority, shortest, shortest+pq)", "",
              "| variant | intervals | seconds | priority critical OK | shortest critical intervals with loss |",
              "|---|---:|---:|---|---:|"]
    for k, v in out["demo_variants"].items():
        lines.append(f"| {k} | {v['intervals']} | {v['seconds']:.1f} | {v['priority_critical_ok']} | "
                     f"{v['shortest_critical_intervals_with_loss']} |")
    c = out["solvers"]
    lines += ["", "## Solvers on the 16 busiest intervals (per class: critical, interactive, bulk)", ""]
    for sv in ("highs", "fast", "fast-warm"):
        if sv in c:
            gap = "" if c[sv]["gap_max"] is None else f"; largest certified gap {[round(x, 4) for x in c[sv]['gap_max']]}"
            lines.append(f"* {sv}: {c[sv]['seconds_per_interval']:.2f} s per interval; min served share "
                         f"{[round(x, 6) for x in c[sv]['served_share_min']]}{gap}")
    if not c["fast_available"]:
        lines.append("* fast: not available (routing/fast.py absent)")
    else:
        lines.append(f"* fast (cold) / highs own MLU: mean {[round(x, 4) for x in c['fast_vs_highs_own_mlu_ratio_mean']]}, "
                     f"max {[round(x, 4) for x in c['fast_vs_highs_own_mlu_ratio_max']]}; warm-started "
                     f"(8 intervals) max {[round(x, 4) for x in c['fast_warm_vs_highs_own_mlu_ratio_max']]}")
    lines += ["", f"Total benchmark time {out['seconds']:.0f} s."]
    (res / "classes.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    o = main()
    write(o)
    print((HERE / "results" / "classes.md").read_text())
