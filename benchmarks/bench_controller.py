"""The controller's interval: seconds per stage on Morocco, GÉANT and a 1,000-node backbone.

Usage: python benchmarks/bench_controller.py [--data ../shared/data] [--skip-large] [--only NAME ...] [--prometheus]
Writes benchmarks/results/controller.{json,md} (with ``--only``, the other networks' rows are kept
from the existing controller.json, each with the time of its own run).

Protocol
--------
Each network gets synthetic gravity traffic (``gravity_series``, seed 0) and capacities sized for
60 % peak utilisation of it on shortest paths. The :class:`~surgeguard.serve.controller.Controller`
runs exactly as ``surgeguard run`` does (one DuckDB file store, splits stored), over intervals
after a history it is warmed up on (forecaster ``naive``, detector ``cusum`` fitted on a day and
an hour of the true matrices given as the history), and the seconds of every stage of every
interval are recorded: query, estimate (tomogravity), forecast, detect, decide (policy),
evaluate (predicted MLU), store (one transaction). Set-up (paths, IGP routing matrix, estimator
preparation) and warm-up are reported apart; they happen once per process.

* Morocco (26 nodes) and GÉANT (``geant/dote_format/GEANT.json``, 22 nodes; its metrics as given;
  skipped when the data folder is absent): 5-minute intervals, the simulator's router counters
  written to a Parquet file and read back by :class:`~surgeguard.telemetry.sources.CounterFileSource`
  (the file path of ``surgeguard run``: the query stage is an in-memory slice of the file read at
  start), policy ``optimal`` (HiGHS LP).
* topohub ``backbone/americas`` (1,138 nodes, 1,293,906 OD pairs, k = 4 paths): hourly intervals
  (the detector's day of history then holds 25 matrices, 10 MB each), the exact IGP loads of the
  series in memory (:class:`~surgeguard.telemetry.sources.LoadsSource`: a counter file for 5.9k
  interfaces adds nothing to the interval but reading time), policy ``fast`` (first-order, certified
  gap 1 %; the LP does not fit at this size, see te_cpu.md), the decision stored without its splits
  (``[store] splits = false``: about 5 million path weights per interval; the store checks and
  writes them row by row, about 40 microseconds a row, which alone would exceed the target; a
  vectorised splits writer in ``store/`` is the fix).
* ``--prometheus``: the query stage against a real Prometheus for Morocco: a day of the
  simulator's counters backfilled with promtool, one interval read per query, as the live controller
  does.

The estimator's conjugate gradients (the CG path: backbone/americas) start each interval from
where the previous one ended (``predict(..., warm=...)``; the first run interval starts cold, the
warm-up being given the true matrices): the iterations, start and relative misfit of every interval
are recorded.

Targets (issue 12): at most 1 s per interval for Morocco and GÉANT, at most 30 s at 1,000 nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from surgeguard.examples import morocco  # noqa: E402
from surgeguard.igp import ecmp_routing_matrix  # noqa: E402
from surgeguard.io import read_network, read_topohub  # noqa: E402
from surgeguard.plan import size_capacities  # noqa: E402
from surgeguard.scenario import gravity_series  # noqa: E402
from surgeguard.serve.config import RunConfig  # noqa: E402
from surgeguard.serve.controller import STAGES, Controller  # noqa: E402
from surgeguard.store import open_store  # noqa: E402
from surgeguard.telemetry import LinkLoads, PrometheusSource  # noqa: E402
from surgeguard.telemetry.files import write_counters  # noqa: E402
from surgeguard.telemetry.openmetrics import write_openmetrics  # noqa: E402
from surgeguard.telemetry.simulate import SimClock, TelemetrySimulator  # noqa: E402
from surgeguard.telemetry.sources import CounterFileSource, LoadsSource  # noqa: E402

TARGETS = {"morocco": 1.0, "geant": 1.0, "backbone/americas": 30.0}


def run_case(name: str, net, *, step: str, n_hist: int, n_run: int, policy: str, file_source: bool,
             workdir: Path, splits: bool = True) -> dict:
    per_hour = {"5min": 12, "1h": 1}[step]
    ts = gravity_series(net, "2020-03-19", n_hist + n_run, step, total_bps=1e9 * net.n_nodes * 20, random_state=0)
    net = size_capacities(net, ts, target_util=0.6)
    t0 = time.perf_counter()
    if file_source:
        sim = TelemetrySimulator(net, ts, seed=0)
        write_counters(sim.counter_frame(), workdir / "counters.parquet")
        sim.interfaces.to_frame().to_csv(workdir / "interfaces.csv", index=False)
        source = CounterFileSource(workdir / "counters.parquet", net, interfaces=workdir / "interfaces.csv")
        rm = None
    else:
        rm = ecmp_routing_matrix(net)
        source = LoadsSource(LinkLoads.from_traffic(rm, ts), network=net)
    source_s = time.perf_counter() - t0
    cfg = RunConfig().replace({"controller.step": step, "controller.history": f"{n_hist // per_hour}h",
                               "policy.name": policy, "policy.time_limit": 60.0, "forecast.model": "naive",
                               "detect.detector": "cusum", "store.path": str(workdir / "bench.duckdb"),
                               "store.splits": splits, "metrics.enabled": False}, where="python")
    t0 = time.perf_counter()
    ctl = Controller(net, source, open_store(cfg.store.path), config=cfg, log=lambda line: None, routing_matrix=rm)
    setup_s = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        ctl.start(ts.times[n_hist])
        info = ctl.warm_up(history=ts.window(0, n_hist))
        warm_s = time.perf_counter() - t0
        res, solver = [], []
        for _ in range(n_run):  # one at a time, to record the estimator's solver facts per interval
            res += ctl.run(max_intervals=1)
            facts = ctl.estimator.info_[0] if getattr(ctl.estimator, "info_", None) else {}
            solver.append({k: facts.get(k) for k in ("solver", "iterations", "start", "residual")})
    finally:
        ctl.close()
    stages = {s: [r.stages.get(s, 0.0) for r in res] for s in STAGES}
    totals = [r.seconds for r in res]
    out = {"nodes": net.n_nodes, "links": net.n_links, "od_pairs": net.n_nodes * (net.n_nodes - 1),
           "paths": int(ctl.paths.n_paths), "step": step, "policy": policy, "splits_stored": splits,
           "source": "counter file (CounterFileSource)" if file_source else "in-memory IGP loads (LoadsSource)",
           "intervals": len(res), "setup_s": setup_s, "source_prep_s": source_s, "warm_up_s": warm_s,
           "warm_up": info["detector"], "statuses": sorted({r.status for r in res}),
           "alerts": int(sum(len(r.alerts) for r in res)),
           "stage_mean_s": {s: float(np.mean(v)) for s, v in stages.items()},
           "stage_max_s": {s: float(np.max(v)) for s, v in stages.items()},
           "interval_mean_s": float(np.mean(totals)), "interval_max_s": float(np.max(totals)),
           "interval_first_s": float(totals[0]),
           "stages_per_interval_s": {s: [float(x) for x in v] for s, v in stages.items()},
           "interval_per_interval_s": [float(x) for x in totals],
           "predicted_mlu_mean": float(np.mean([r.predicted_mlu for r in res])),
           "store_rows_per_interval": float(np.mean([sum(r.stored.rows.values()) for r in res])),
           "estimator": solver, "run_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "load_average_after": list(os.getloadavg())}
    out["target_s"] = TARGETS[name]
    out["met"] = out["interval_max_s"] <= TARGETS[name]
    # after the first interval (the solvers' and the estimator's cold start, once per controller start)
    out["met_after_first"] = bool(len(totals) > 1 and max(totals[1:]) <= TARGETS[name])
    return out


def prometheus_query(workdir: Path) -> dict:
    """The query stage against a real Prometheus: one interval per query, Morocco."""
    sys.path.insert(0, str(ROOT / "tests"))
    from prometheus_server import create_blocks, running_prometheus  # noqa: E402 - the tests' real-server helper

    net = morocco()
    ts = gravity_series(net, "2020-03-19", 288, "5min", total_bps=800e9, random_state=0)
    net = size_capacities(net, ts, target_util=0.6)
    pivot = int(time.time() // 60) * 60
    sim = TelemetrySimulator(net, ts, seed=0, clock=SimClock(pivot, ts.times[-1].timestamp() + 300, 60.0))
    om = write_openmetrics(sim, workdir / "history.om", every=60, labels={"job": "sim"})
    create_blocks(om, workdir / "tsdb")
    with running_prometheus(workdir / "prom", data_dir=workdir / "tsdb") as prom:
        src = PrometheusSource(prom.url, interfaces=sim.interfaces, matchers={"job": "sim"})
        src.clock = src.sim_clock(at=pivot)
        secs = []
        for k in range(12, 36):
            t0 = time.perf_counter()
            src.query_range(ts.times[k], ts.times[k], 300)
            secs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        src.query_range(ts.times[0], ts.times[-1], 300)
        day = time.perf_counter() - t0
    return {"network": "morocco", "interfaces": sim.interfaces.n_interfaces, "queries": len(secs),
            "one_interval_mean_s": float(np.mean(secs)), "one_interval_max_s": float(np.max(secs)),
            "one_day_288_intervals_s": day,
            "note": "PrometheusSource.interface_rates: 4 range queries and 1 instant query per read"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--skip-large", action="store_true", help="leave out backbone/americas")
    ap.add_argument("--only", action="append", choices=sorted(TARGETS), metavar="NAME",
                    help=f"run only this network (repeatable; one of {', '.join(sorted(TARGETS))}); the others' rows "
                         "are kept from the existing controller.json")
    ap.add_argument("--intervals-large", type=int, default=4,
                    help="intervals run on backbone/americas (the first is the policy's and estimator's cold start)")
    ap.add_argument("--prometheus", action="store_true", help="time the query stage against a real Prometheus")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    t_all = time.perf_counter()
    res = {"machine": machine_info(), "run_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "load_average_start": list(os.getloadavg()), "cases": {}, "skipped": {}}
    cases = [("morocco", lambda: morocco(), dict(step="5min", n_hist=300, n_run=12, policy="optimal",
                                                  file_source=True))]
    geant = args.data / "geant" / "dote_format" / "GEANT.json"
    if geant.is_file():
        cases.append(("geant", lambda: read_network(geant), dict(step="5min", n_hist=300, n_run=12, policy="optimal",
                                                                 file_source=True)))
    else:
        res["skipped"]["geant"] = f"{geant} not found"
    if not args.skip_large:
        cases.append(("backbone/americas", lambda: read_topohub("backbone/americas"),
                      dict(step="1h", n_hist=25, n_run=args.intervals_large, policy="fast", file_source=False,
                           splits=False)))
    if args.only:
        cases = [c for c in cases if c[0] in args.only]
        old = args.out / "controller.json"
        kept = json.loads(old.read_text()) if old.is_file() else {}
        for name, c in kept.get("cases", {}).items():
            if name not in args.only:
                c.setdefault("run_utc", kept.get("run_utc"))
                res["cases"][name] = c
        res["kept_from"] = {name: res["cases"][name]["run_utc"] for name in res["cases"]}
        if not args.prometheus and "prometheus_query" in kept:
            res["prometheus_query"] = kept["prometheus_query"]
    for name, load, kw in cases:
        work = Path(tempfile.mkdtemp(prefix="bench_controller_"))
        try:
            print(f"{name} ...", flush=True)
            res["cases"][name] = run_case(name, load(), workdir=work, **kw)
            c = res["cases"][name]
            print(f"  {c['interval_mean_s']:.3f} s per interval (max {c['interval_max_s']:.3f}); "
                  + ", ".join(f"{s} {v:.3f}" for s, v in c["stage_mean_s"].items()), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if args.prometheus:
        work = Path(tempfile.mkdtemp(prefix="bench_controller_prom_"))
        try:
            res["prometheus_query"] = prometheus_query(work)
            print(f"Prometheus query: {res['prometheus_query']['one_interval_mean_s']:.3f} s per interval", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    order = [name for name in TARGETS if name in res["cases"]]
    res["cases"] = {name: res["cases"][name] for name in order}
    res["seconds"] = time.perf_counter() - t_all
    res["load_average_end"] = list(os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "controller.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "controller.md").write_text(markdown(res))
    print(f"written {args.out / 'controller.md'}")


def _after_first(c: dict) -> str:
    per = c.get("interval_per_interval_s") or []
    if len(per) < 2:
        return "-"
    return "yes" if max(per[1:]) <= c["target_s"] else "NO"


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# Controller: seconds per interval, by stage", "",
             f"Run {res['run_utc']}, {res['seconds']:.0f} s in all, one process, `benchmarks/bench_controller.py` "
             "(protocol in its docstring). Means over the intervals run (max in brackets); the first interval "
             "includes the solver's cold start.", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in m.items())
             + (f"; load average (1, 5, 15 min) at the start {tuple(round(x, 2) for x in res['load_average_start'])}, "
                f"at the end {tuple(round(x, 2) for x in res['load_average_end'])}" if "load_average_start" in res
                else ""), "",
             "| network | nodes | OD pairs | paths | step | telemetry | policy | splits stored | intervals | "
             + " | ".join(STAGES) + " | interval (s) | target (s) | met (every interval / after the first) | set-up (s) | warm-up (s) | rows stored |",
             "|---|---|---|---|---|---|---|---|---|" + "---|" * len(STAGES) + "---|---|---|---|---|---|"]
    for name, c in res["cases"].items():
        st = " | ".join(f"{c['stage_mean_s'][s]:.3f} ({c['stage_max_s'][s]:.3f})" for s in STAGES)
        lines.append(f"| {name} | {c['nodes']:,} | {c['od_pairs']:,} | {c['paths']:,} | {c['step']} | {c['source']} | "
                     f"{c['policy']} | {'yes' if c['splits_stored'] else 'no'} | {c['intervals']} | {st} | {c['interval_mean_s']:.3f} ({c['interval_max_s']:.3f}) "
                     f"| {c['target_s']:g} | {'yes' if c['met'] else 'NO'} / {_after_first(c)} | {c['setup_s']:.1f} | {c['warm_up_s']:.1f} "
                     f"| {c['store_rows_per_interval']:,.0f} |")
    kept = res.get("kept_from", {})
    if kept:
        lines.append("\nRows kept from earlier runs (`--only`): "
                     + ", ".join(f"{n} ({t})" for n, t in kept.items()) + ".")
    for name, c in res["cases"].items():
        est = [e for e in c.get("estimator", []) if e.get("solver") == "cg"]
        per = c.get("stages_per_interval_s")
        if per and c["intervals"] > 1:  # the intervals after the first (the solvers' cold start)
            warm = {s: float(np.mean(v[1:])) for s, v in per.items()}
            lines.append(f"\n{name}, the {c['intervals'] - 1} intervals after the first: "
                         f"{float(np.mean(c['interval_per_interval_s'][1:])):.3f} s per interval; "
                         + ", ".join(f"{s} {v:.3f}" for s, v in warm.items()) + " (means, s).")
        if est:
            lines.append(f"\n{name}: the estimator's conjugate gradients per interval (iterations, start, relative "
                         "misfit): " + "; ".join(f"{e['iterations']} {e['start']} {e['residual']:.1e}" for e in est)
                         + f" (tolerance 1e-4). Load average after this network's run: "
                         f"{tuple(round(x, 2) for x in c['load_average_after'])}.")
    for name, why in res["skipped"].items():
        lines.append(f"\n{name}: skipped ({why}).")
    q = res.get("prometheus_query")
    if q:
        lines += ["", f"Query stage against a real Prometheus (promtool-backfilled day of the simulator's counters, "
                      f"{q['network']}, {q['interfaces']} interfaces): {q['one_interval_mean_s']:.3f} s per one-interval "
                      f"read (max {q['one_interval_max_s']:.3f} s over {q['queries']}), "
                      f"{q['one_day_288_intervals_s']:.2f} s for a day (288 intervals) in one read; {q['note']}."]
    for line in res.get("notes", []):
        lines += ["", line]
    lines += ["", "Notes: the query stage of the file rows is a slice of the file read at start (the read itself is in "
                  "set-up); `evaluate` is the predicted MLU of the decided routing on the forecast (and of the routing in "
                  "force on the estimate); `store` is one DuckDB transaction with the link rates, node totals, the "
                  "estimate, the forecast, alerts, the decision and its splits (one row per used path)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
