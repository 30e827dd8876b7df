"""The replay that decides (issue 4): routing policies against the oracle on real Abilene and GÉANT.

Usage: python benchmarks/bench_replay.py [--data ../shared/data] [--networks abilene,geant] [--quick]

Protocol
--------
* Series: Abilene (12 nodes, 5 min, 2004-03-01..10, k = 4 shortest paths per OD pair) and GÉANT
  (22 nodes, 15 min, 2005-05-04..07, the 3 published tunnels per OD pair, GEANT.json capacities).
  Chronological split: the first 70 % is training, the next 10 % validation, the last 20 % test.
  Everything that is chosen (the learned model's history H and robustness weight, its mix with
  the robust LP, the forecaster of ``optimal-forecast``) is chosen on the validation part; the
  test part is replayed once.
* Demand scale: ratios to the oracle do not depend on it, utilisation counts do. The GÉANT
  capacities make the optimum exceed 1 on most matrices and Abilene runs at ~5 %, so demands are
  multiplied by one factor per network, ``0.9 / (the oracle's peak MLU over training+validation)``:
  after it, the best routing of the busiest known matrix uses 90 % of a link -- a tight network,
  where the routing decides whether a surge congests links. The factor is stated in the results.
* Surge: ``Lockdown(growth=0.3, ramp_days=0.25)`` from one hour after the start of the test part
  (local daytime shift as in the scenario; Abilene at UTC-6, GÉANT at UTC+1): the +30 % of
  Morocco's March 2020 reached in 6 hours instead of days, so that it falls inside GÉANT's
  16-hour test part and gives the policies no time to learn it.
* Policies: ``shortest``, ``optimal`` (the optimum of the previous matrix: a vertex of the LP, then
  the shortest-latency routing among the optima), ``optimal-last`` (the same minimum MLU, at the
  centre of the optimal face: interior point without crossover),
  ``optimal-forecast`` (optimum of the forecaster's next matrix; fitted on all history at the
  first test step), ``robust`` (min mean MLU over the last 12 matrices), ``learned`` (trained on
  the training part, early stopping and mix chosen on validation), ``learned-pure`` (the same
  model without the robust mix), ``switching`` (``optimal-last`` until the CUSUM surge detector
  fires, then ``robust``), and the ``oracle``.
* Reported per policy: MLU ratio to the oracle (mean, p50, p90, p99, max), intervals with MLU > 1
  and > 0.9, and with MLU > 1 where the oracle's MLU <= 0.9, traffic lost, decision time per
  interval (mean, p50, max; the first decision of ``optimal-forecast`` includes fitting the
  forecaster). Targets: learned or robust mean ratio <= 1.03 and p99 <= 1.15 on both test sets;
  under the surge, zero intervals > 100 % where the oracle <= 90 %; decision <= 1 s per interval.

Writes benchmarks/results/replay_summary.{json,md} and replay_<network>_<plain|surge>.html.
Trained models go to a temporary folder (they derive from the ZIB-licensed data; not committed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from surgeguard.evaluate import replay  # noqa: E402
from surgeguard.evaluate.metrics import evaluate  # noqa: E402
from surgeguard.io import GEANT_NODES, read_network, read_node_link_json, read_sndlib_demands  # noqa: E402
from surgeguard.routing import k_shortest_paths, read_tunnels_file  # noqa: E402
from surgeguard.optimise.mlu import MluLP  # noqa: E402
from surgeguard.report.html import write_replay_report  # noqa: E402
from surgeguard.report.sections.learned import learned_section  # noqa: E402
from surgeguard.routing.learned import Learned, LearnedRouter  # noqa: E402
from surgeguard.routing.robust import OptimalForecast, Robust  # noqa: E402
from surgeguard.routing.switching import Switching  # noqa: E402
from surgeguard.scenario import Lockdown  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRAIN, VAL = 0.7, 0.1
TARGET_UTIL = 0.9
SURGE = {"growth": 0.3, "ramp_days": 0.25, "after_test_start_hours": 1.0}
UTC_OFFSET = {"abilene": -6.0, "geant": 1.0}
LEARNED_GRID = [{"history": 3, "alpha": 0.0}, {"history": 3, "alpha": 0.1},
                {"history": 12, "alpha": 0.0}, {"history": 12, "alpha": 0.1}]
FORECASTERS = ["ets", "lgbm", "neural"]
TARGETS = {"ratio_mean": 1.03, "ratio_p99": 1.15, "decision_seconds": 1.0}


def load(name: str, data: Path):
    if name == "abilene":
        net = read_network(str(data / "abilene/topology/sndlib_abilene.xml"))
        ts = read_sndlib_demands(data / "abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz", nodes=net)
        ps = k_shortest_paths(net, k=4)
        how = "k = 4 shortest paths (Yen)"
    elif name == "geant":
        d = data / "geant/dote_format"
        net = read_node_link_json(d / "GEANT.json", node_names=GEANT_NODES)
        ts = read_sndlib_demands(data / "geant/sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz", nodes=net)
        ps = read_tunnels_file(net, d / "tunnels.txt")
        how = "the 3 published tunnels per OD pair (tunnels.txt)"
    else:
        raise SystemExit(f"unknown network {name!r}; use abilene or geant")
    return net, ps, ts.reorder(net.node_names), how


def oracle_mlus(net, ps, ts, start, stop):
    lp = MluLP(net, ps)
    return np.array([lp.solve(ts.matrix(t), second_stage=False)[1]["mlu"] for t in range(start, stop)])


def select_learned(net, ps, ts, a, b, grid, epochs, model_dir: Path, name: str, log):
    """Train each grid point on [0, a), validate on [a, b); keep the best by validation mean ratio."""
    runs = []
    for g in grid:
        t0 = time.perf_counter()
        m = LearnedRouter(epochs=epochs, **g).fit(net, ps, ts, val_start=a, val_stop=b, progress=False)
        chosen = next(r for r in m.mix_log_ if r["mix"] == m.mix_)
        pure = next(r for r in m.mix_log_ if r["mix"] == 0.0)
        rec = {**g, "train_seconds": round(time.perf_counter() - t0, 1), "epochs_run": len(m.log_),
               "best_epoch": m.best_epoch_, "mix": m.mix_, "val_ratio_mean": chosen["val_ratio_mean"],
               "val_ratio_p99": chosen["val_ratio_p99"], "val_pure_ratio_mean": pure["val_ratio_mean"],
               "val_pure_ratio_p99": pure["val_ratio_p99"], "mix_log": m.mix_log_}
        log(f"  learned {g}: {rec['train_seconds']} s, {rec['epochs_run']} epochs (best {rec['best_epoch']}), "
            f"mix {m.mix_}: val ratio {rec['val_ratio_mean']:.4f} / p99 {rec['val_ratio_p99']:.4f}; pure "
            f"{rec['val_pure_ratio_mean']:.4f} / {rec['val_pure_ratio_p99']:.4f}")
        runs.append((rec, m))
    best_rec, best = min(runs, key=lambda x: x[0]["val_ratio_mean"])
    path = best.save(model_dir / f"learned_{name}.pt")
    return best, path, [r for r, _ in runs], best_rec


def select_forecaster(net, ps, ts, a, b, candidates, opt_val, log):
    """optimal-forecast with each forecaster over the validation steps; the lowest mean ratio wins."""
    scores = {}
    for f in candidates:
        pol = OptimalForecast(forecaster=f, refit_every=10**9)
        t0 = time.perf_counter()
        try:
            r = np.array([evaluate(net, pol.decide(net, ps, ts.window(0, t)), ts.matrix(t)).mlu
                          for t in range(a, b)]) / opt_val
        except Exception as exc:  # a forecaster that cannot run here is reported, not fatal
            log(f"  forecaster {f}: failed ({type(exc).__name__}: {exc})")
            scores[f] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        scores[f] = {"val_ratio_mean": float(r.mean()), "val_ratio_p99": float(np.percentile(r, 99)),
                     "seconds": round(time.perf_counter() - t0, 1)}
        log(f"  forecaster {f}: val ratio {r.mean():.4f} / p99 {np.percentile(r, 99):.4f} "
            f"({scores[f]['seconds']} s)")
    ok = {k: v for k, v in scores.items() if "val_ratio_mean" in v}
    best = min(ok, key=lambda k: ok[k]["val_ratio_mean"]) if ok else None
    return best, scores


class LearnedPure(Learned):
    """The learned model alone (its robust mix switched off), for the report."""

    name = "learned-pure"


def policy_stats(res, step_seconds: float, levels: dict[str, float] | None = None) -> dict:
    """Summary per policy, plus utilisation counts at other load levels (``{label: multiplier}``).

    Every policy here decides the same routing when all demands are multiplied by one factor (the
    LPs, the learned model's scale-free inputs, the forecasters' per-series scaling, the
    detector's log residuals), so MLU x m is the MLU the replay would give at m times the load.
    """
    s = res.summary()["policies"]
    out = {}
    for name, g in res.steps.groupby("policy", sort=False):
        rec = dict(s[name])
        mlu, o = g["mlu"].to_numpy(float), g["oracle_mlu"].to_numpy(float)
        rec["intervals_over_1_where_oracle_le_0_9"] = int(((mlu > 1.0) & (o <= 0.9)).sum())
        rec["intervals_where_oracle_le_0_9"] = int((o <= 0.9).sum())
        rec["load_levels"] = {lab: {"multiplier": m, "intervals_over_1": int((m * mlu > 1.0).sum()),
                                    "intervals_over_0_9": int((m * mlu > 0.9).sum()),
                                    "intervals_over_1_where_oracle_le_0_9": int(((m * mlu > 1.0) & (m * o <= 0.9)).sum()),
                                    "intervals_where_oracle_le_0_9": int((m * o <= 0.9).sum())}
                              for lab, m in (levels or {}).items()}
        d = g["decision_seconds"].to_numpy(float)
        rec["decision_seconds_p50"] = float(np.median(d))
        rec["decision_seconds_max"] = float(d.max())
        out[name] = rec
    return out


def run_network(name: str, data: Path, quick: bool, model_dir: Path, out_dir: Path, log) -> dict:
    t_net = time.perf_counter()
    net, ps, ts, how = load(name, data)
    n = len(ts)
    a, b = int(TRAIN * n), int((TRAIN + VAL) * n)
    stop = min(n, b + 48) if quick else n
    log(f"{name}: {net.describe()}; {ps.n_od} OD pairs, {ps.n_paths} paths ({how}); {n} steps of {ts.step}; "
        f"train 0..{a - 1}, validation {a}..{b - 1}, test {b}..{stop - 1}")
    opt_known = oracle_mlus(net, ps, ts, 0, b)
    factor = TARGET_UTIL / float(opt_known.max())
    ts = ts.scale(factor)
    log(f"  demand scale x{factor:.4g}: oracle peak MLU over training+validation {opt_known.max():.4f} -> "
        f"{TARGET_UTIL}")
    opt_val = opt_known[a:b] * factor
    # --- choices on the validation part
    grid = LEARNED_GRID[2:3] if quick else LEARNED_GRID
    epochs = 5 if quick else 60
    router, model_path, grid_log, chosen = select_learned(net, ps, ts, a, b, grid, epochs, model_dir, name, log)
    cands = FORECASTERS[:1] if quick else FORECASTERS
    fc, fc_scores = select_forecaster(net, ps, ts, a, b, cands, opt_val, log)
    log(f"  chosen: learned {dict((k, chosen[k]) for k in ('history', 'alpha', 'mix'))}, forecaster {fc}")
    pure = LearnedRouter.load(model_path)
    pure.mix_ = 0.0
    # --- test replays
    runs, results = {}, {}
    for scen in ("surge", "plain"):
        series, scen_info = ts, {}
        if scen == "surge":
            start = ts.times[b] + pd.Timedelta(hours=SURGE["after_test_start_hours"])
            sc = Lockdown(start=start, growth=SURGE["growth"], ramp_days=SURGE["ramp_days"],
                          utc_offset_hours=UTC_OFFSET[name])
            scen_info = sc.describe(ts)
            series = sc.apply(ts, network=net)
        switching = Switching(base="optimal-last", on_alert="robust", detector="cusum", reference_days=1.0)
        pols = ["shortest", "optimal", "optimal-last", Robust(window=12), Learned(model=LearnedRouter.load(model_path)),
                LearnedPure(model=pure), switching]
        if fc is not None:
            pols.insert(2, OptimalForecast(forecaster=fc, refit_every=10**9))
        t0 = time.perf_counter()
        res = replay(net, ps, series, pols, start=b, stop=stop, progress=False, scenario=scen_info)
        secs = time.perf_counter() - t0
        o_peak = float(res.steps.loc[res.steps.policy == "oracle", "oracle_mlu"].max())
        if scen == "surge":  # stress levels: the surged test part's oracle peak at 90 % and at 100 %
            levels = {"oracle peak under surge = 0.9": 0.9 / o_peak, "oracle peak under surge = 1.0": 1.0 / o_peak}
        stats = policy_stats(res, ts.step.total_seconds(), levels)
        results[scen] = res
        runs[scen] = {"replay_seconds": round(secs, 1), "steps": stop - b, "policies": stats,
                      "oracle_peak_mlu": o_peak,
                      "detector_alerts": [a.to_dict() for a in getattr(switching, "alerts_", [])],
                      "switches": [{k: str(v) if isinstance(v, pd.Timestamp) else v for k, v in sw.items()}
                                   for sw in res.switches],
                      "scenario": {k: str(v) for k, v in scen_info.items()}}
        log(f"  {scen}: replay {stop - b} steps in {secs:.0f} s; switches: "
            f"{[(sw['time'], sw['to']) for sw in runs[scen]['switches']] or 'none'}")
        for p, r in stats.items():
            log(f"    {p:<17} ratio mean {r['ratio_mean']:.4f} p99 {r['ratio_p99']:.4f} max {r['ratio_max']:.4f}  "
                f">1: {r['intervals_over_1']:>3} (oracle<=0.9: {r['intervals_over_1_where_oracle_le_0_9']:>3})  "
                f">0.9: {r['intervals_over_0_9']:>3}  lost {r['lost_share']:.2e}  "
                f"ms {1e3 * r['decision_seconds_mean']:.1f} (max {1e3 * r['decision_seconds_max']:.0f})")
        try:
            label = "no surge" if scen == "plain" else (f"lockdown surge +{SURGE['growth']:.0%} over "
                                                        f"{SURGE['ramp_days'] * 24:.0f} h")
            intro = (f"Test part (last 20%) of the real {name} series, {label}; demands x{factor:.4g} (the "
                     f"oracle's peak MLU over the training and validation parts set to {TARGET_UTIL}). Each policy "
                     "decides from the past only and is judged on the actual matrix beside the oracle.")
            if res.switches:
                intro += " Policy switches: " + "; ".join(f"{sw['policy']} -> {sw['to']} at {sw['time']} "
                                                         f"({sw['alert']})" for sw in res.switches) + "."
            elif scen == "surge":
                intro += " The switching policy's detector did not fire during the test part."
            write_replay_report(res, out_dir / f"replay_{name}_{scen}.html",
                                title=f"surgeguard replay: {name}, {label}", intro=intro,
                                extra_sections=[learned_section(res, router)])
        except ImportError:
            log("  (surgeguard.report.html not available: no HTML report)")
    runs = {k: runs[k] for k in ("plain", "surge")}
    return {"network": net.describe(), "paths": how, "n_paths": ps.n_paths, "n_od": ps.n_od, "steps": n,
            "step": str(ts.step), "split": {"train": [0, a], "validation": [a, b], "test": [b, stop]},
            "test_times": [str(ts.times[b]), str(ts.times[stop - 1])], "demand_scale": factor,
            "oracle_peak_known_unscaled": float(opt_known.max()), "learned_grid": grid_log,
            "learned_chosen": chosen, "forecaster_validation": fc_scores, "forecaster": fc, "runs": runs,
            "seconds": round(time.perf_counter() - t_net, 1)}


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = ["# Replay on real traffic: learned, robust and predict-then-optimise routing against the oracle", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count')} cores (shared); run {results['run_utc']}; total "
             f"{results['seconds'] / 60:.1f} min (`python benchmarks/bench_replay.py`).", "",
             __doc__.split("Protocol\n--------\n", 1)[1].split("\nWrites", 1)[0].strip(), ""]
    for name, r in results["networks"].items():
        lines += [f"## {name}", "",
                  f"{r['network']}; {r['n_od']} OD pairs, {r['n_paths']} paths ({r['paths']}); {r['steps']} steps of "
                  f"{r['step']}. Test part: {r['test_times'][0]} .. {r['test_times'][1]} ({r['split']['test'][1] - r['split']['test'][0]} steps). "
                  f"Demand scale x{r['demand_scale']:.4g} (unscaled oracle peak over training+validation "
                  f"{r['oracle_peak_known_unscaled']:.4f}).", ""]
        c = r["learned_chosen"]
        lines += ["Validation choices:", "",
                  "| learned H | alpha | train s | epochs (best) | mix | val ratio mean | val p99 | pure model mean | pure p99 |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for g in r["learned_grid"]:
            star = " **chosen**" if (g["history"], g["alpha"]) == (c["history"], c["alpha"]) else ""
            lines.append(f"| {g['history']}{star} | {g['alpha']} | {g['train_seconds']} | {g['epochs_run']} ({g['best_epoch']}) | "
                         f"{g['mix']} | {g['val_ratio_mean']:.4f} | {g['val_ratio_p99']:.4f} | "
                         f"{g['val_pure_ratio_mean']:.4f} | {g['val_pure_ratio_p99']:.4f} |")
        fcs = ", ".join(f"{k}: {v['val_ratio_mean']:.4f} (p99 {v['val_ratio_p99']:.4f})" if "val_ratio_mean" in v
                        else f"{k}: {v['error']}" for k, v in r["forecaster_validation"].items())
        lines += ["", f"optimal-forecast on validation (mean ratio): {fcs}; chosen: **{r['forecaster']}**.", ""]
        for scen, run in r["runs"].items():
            title = "no surge" if scen == "plain" else f"lockdown surge (+{SURGE['growth']:.0%}, ramp {SURGE['ramp_days'] * 24:.0f} h, from {run['scenario'].get('start', '?')})"
            lines += [f"### {name}, {title}", "",
                      "| policy | ratio mean | p50 | p90 | p99 | max | MLU>1 | MLU>0.9 | MLU>1 where oracle<=0.9 | lost share | decision ms mean / p50 / max |",
                      "|---|---|---|---|---|---|---|---|---|---|---|"]
            for p, s in run["policies"].items():
                lines.append(f"| {p} | {s['ratio_mean']:.4f} | {s['ratio_p50']:.4f} | {s['ratio_p90']:.4f} | "
                             f"{s['ratio_p99']:.4f} | {s['ratio_max']:.4f} | {s['intervals_over_1']} | "
                             f"{s['intervals_over_0_9']} | {s['intervals_over_1_where_oracle_le_0_9']} "
                             f"(of {s['intervals_where_oracle_le_0_9']}) | {s['lost_share']:.2e} | "
                             f"{1e3 * s['decision_seconds_mean']:.1f} / {1e3 * s['decision_seconds_p50']:.1f} / "
                             f"{1e3 * s['decision_seconds_max']:.0f} |")
            sw = run["switches"]
            lines += ["", f"Oracle peak MLU in this run: {run['oracle_peak_mlu']:.3f} (at the stated demand scale).", "",
                      "Switches: " + ("; ".join(f"{x['policy']}: {x['from']} -> {x['to']} at {x['time']} after "
                                                f"{x['alert']}" for x in sw) if sw else "none") + ".", ""]
            al = run["detector_alerts"]
            if al:
                lines += ["Detector alerts during the run (CUSUM, fitted on the history before the test part): " +
                          "; ".join(f"{x['time']} {x['place']} {x['direction']} {x['shift']:+.0%}" for x in al[:8]) +
                          (f"; ... {len(al)} in all" if len(al) > 8 else "") + ".", ""]
            levels = next(iter(run["policies"].values()))["load_levels"]
            if levels:
                lines += ["Load sensitivity (same decisions, MLUs x m; stress levels set from this run's oracle peak, "
                          "so they describe the load, not a choice of policy): intervals with MLU > 1 where the "
                          "oracle <= 0.9 (all intervals with MLU > 1).", "",
                          "| policy | " + " | ".join(f"{lab} (x{v['multiplier']:.3f} load)" for lab, v in levels.items()) + " |",
                          "|---|" + "---|" * len(levels)]
                for p, s_ in run["policies"].items():
                    lines.append(f"| {p} | " + " | ".join(
                        f"{v['intervals_over_1_where_oracle_le_0_9']} of {v['intervals_where_oracle_le_0_9']} "
                        f"({v['intervals_over_1']})" for v in s_["load_levels"].values()) + " |")
                lines.append("")
    lines += ["## Targets", ""] + results["verdict"] + [""]
    return "\n".join(lines)


def verdict(results: dict) -> list[str]:
    out = []
    for name, r in results["networks"].items():
        plain = r["runs"]["plain"]["policies"]
        for p in ("learned", "robust"):
            s = plain[p]
            ok = s["ratio_mean"] <= TARGETS["ratio_mean"] and s["ratio_p99"] <= TARGETS["ratio_p99"]
            out.append(f"- {name}, {p}: mean ratio {s['ratio_mean']:.4f} (target <= {TARGETS['ratio_mean']}), p99 "
                       f"{s['ratio_p99']:.4f} (target <= {TARGETS['ratio_p99']}): **{'met' if ok else 'not met'}**")
        surge = r["runs"]["surge"]["policies"]
        peak = r["runs"]["surge"]["oracle_peak_mlu"]
        for p in ("learned", "robust", "switching", "optimal", "optimal-last"):
            if p in surge:
                k = surge[p]["intervals_over_1_where_oracle_le_0_9"]
                stress = "; ".join(f"{v['intervals_over_1_where_oracle_le_0_9']} when the {lab}"
                                   for lab, v in surge[p]["load_levels"].items())
                out.append(f"- {name} surge, {p}: {k} intervals > 100% where the oracle <= 90% at the stated scale "
                           f"(oracle peak {peak:.2f}) (target 0): **{'met' if k == 0 else 'not met'}**; stress: {stress}")
        worst = max((s["decision_seconds_mean"], p) for p, s in surge.items() if p != "oracle")
        out.append(f"- {name}: slowest mean decision {1e3 * worst[0]:.0f} ms ({worst[1]}; target <= 1 s)")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--networks", default="abilene,geant")
    ap.add_argument("--quick", action="store_true", help="smoke run: 48 test steps, one grid point, 5 epochs")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def log(msg):
        print(msg, flush=True)

    results = {"machine": machine_info(), "run_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "quick": args.quick, "targets": TARGETS, "surge": SURGE, "target_util": TARGET_UTIL, "networks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in [x.strip() for x in args.networks.split(",") if x.strip()]:
            results["networks"][name] = run_network(name, data, args.quick, Path(tmp), out, log)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    results["verdict"] = verdict(results)
    suffix = "_quick" if args.quick else ""
    (out / f"replay_summary{suffix}.json").write_text(json.dumps(results, indent=2, default=str))
    (out / f"replay_summary{suffix}.md").write_text(markdown(results))
    log("\n".join(results["verdict"]))
    log(f"total {results['seconds'] / 60:.1f} min; wrote {out}/replay_summary{suffix}.json, .md and replay_*.html")


if __name__ == "__main__":
    main()
