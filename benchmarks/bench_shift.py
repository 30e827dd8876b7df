"""Learned routing under distribution shift (issue 15): train on earlier days, test on later ones.

Usage: python benchmarks/bench_shift.py [--data ../shared/data] [--networks abilene,geant] [--quick]
       [--no-lodo]

Protocol (fixed before any test fold was run)
---------------------------------------------
* Series: Abilene (12 nodes, 5 min, 2004-03-01..10, k = 4 shortest paths) and GÉANT (22 nodes,
  15 min, 2005-05-04 15:30 .. 05-07 23:45, the 3 published tunnels per OD pair, GEANT.json).
  "Day d" is the d-th block of 24 hours from the start of the series.
* Folds.
  - ``dev`` (development, inside the training days; the only fold anything is chosen on):
    Abilene train days 1-3, test day 5; GÉANT train the first 24 h, test hours 30-48.
  - ``shift`` (the headline): Abilene train days 1-6, test days 9-10 (days 7-8: a gap no model
    trains on); GÉANT train days 1-2 (the first 48 h), test the last 24 h.
  - ``lodo`` (leave one day out): train on every other day, test the day left out (Abilene days 2-10,
    GÉANT days 2, 3 and the last 8.5 h). Models train on days on both sides of the test day.
  The surge variant runs on the ``shift`` folds; the ``lodo`` folds replay plain traffic only.
  In every fold the policies see all matrices before the step they decide (the gap days too), as a
  controller would; only the learned model's training stops where the fold says.
* Training (what ``surgeguard train`` does by default): the last 10 % of the training days are
  the validation tail (early stopping and the learned policy's robust mix), the rest trains.
* Demand scale: per fold, ``0.9 / (the oracle's peak MLU over the fold's training days)``: the best
  routing of the busiest training matrix uses 90 % of a link (see bench_replay.py for why).
* Surge variant: ``Lockdown(growth=0.3, ramp_days=0.25)`` from one hour after the test start.
* Policies: ``shortest``, ``optimal-last`` (optimum of the previous matrix), ``robust`` (min mean
  MLU over the last 12 matrices), ``learned`` (the trained model with its robust mix), ``hedge``
  (online blend of optimal-last, robust and the pure learned model, :mod:`surgeguard.routing.hedge`),
  ``hedge-online`` (the same, the learned expert fine-tuned every day on the last day seen), the oracle.
* Chosen on ``dev`` only: the learned model's (history, alpha) from two settings, and hedge's
  (eta, share) from a 3 x 3 grid; then fixed for every other fold.
* Reported per fold and policy: MLU ratio to the oracle (mean, p99, max), intervals with MLU > 1
  where the oracle <= 0.9, lost traffic share, decision seconds (mean, max).
* Targets (issue 15): the best AI policy's mean ratio <= 1.03 and p99 <= 1.15, never worse than
  ``robust`` on the mean in any fold; under the surge zero intervals > 100 % where the oracle
  <= 90 %; decision <= 1 s.

Writes benchmarks/results/shift.{json,md}. Models go to a temporary folder (they derive from the
licensed data; not committed).
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
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402
from bench_replay import UTC_OFFSET, load, oracle_mlus  # noqa: E402

from surgeguard.evaluate import replay  # noqa: E402
from surgeguard.routing.hedge import Hedge  # noqa: E402
from surgeguard.routing.learned import Learned, LearnedRouter  # noqa: E402
from surgeguard.routing import Policy, get_policy  # noqa: E402
from surgeguard.routing.robust import Robust  # noqa: E402
from surgeguard.scenario import Lockdown  # noqa: E402
from surgeguard.traffic import TrafficSeries  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_UTIL = 0.9
VAL_TAIL = 0.1
SURGE = {"growth": 0.3, "ramp_days": 0.25, "after_test_start_hours": 1.0}
LEARNED_GRID = [{"history": 3, "alpha": 0.0}, {"history": 12, "alpha": 0.1}]
HEDGE_GRID = [{"eta": e, "share": s} for e in (10.0, 30.0, 100.0) for s in (0.01, 0.05, 0.2)]
TARGETS = {"ratio_mean": 1.03, "ratio_p99": 1.15, "decision_seconds": 1.0}
AI = ("learned", "hedge", "hedge-online")


def day_steps(ts: TrafficSeries) -> int:
    return int(round(pd.Timedelta(days=1) / ts.step))


def folds(name: str, ts: TrafficSeries, lodo: bool) -> list[dict]:
    """Each fold: name, kind, the training steps (a list of [a, b) ranges) and the test range."""
    n, d = len(ts), day_steps(ts)
    out = []
    if name == "abilene":
        out.append({"fold": "dev", "train": [(0, 3 * d)], "test": (4 * d, 5 * d)})
        out.append({"fold": "shift", "train": [(0, 6 * d)], "test": (8 * d, 10 * d)})
        if lodo:
            for k in range(1, 10):
                out.append({"fold": f"lodo-day{k + 1}", "train": [(0, k * d), ((k + 1) * d, n)],
                            "test": (k * d, (k + 1) * d)})
    else:
        out.append({"fold": "dev", "train": [(0, d)], "test": (int(1.25 * d), 2 * d)})
        out.append({"fold": "shift", "train": [(0, 2 * d)], "test": (n - d, n)})
        if lodo:
            for k in (1, 2):
                out.append({"fold": f"lodo-day{k + 1}", "train": [(0, k * d), ((k + 1) * d, n)],
                            "test": (k * d, (k + 1) * d)})
            out.append({"fold": "lodo-last", "train": [(0, 3 * d)], "test": (3 * d, n)})
    for f in out:
        f["train"] = [(a, b) for a, b in f["train"] if b > a]
    return out


def training_series(ts: TrafficSeries, ranges) -> TrafficSeries:
    """The training days of a fold as one series (times stay real; a left-out day is a jump)."""
    idx = np.concatenate([np.arange(a, b) for a, b in ranges])
    return TrafficSeries(ts.values[idx], ts.nodes, times=ts.times[idx], name=ts.name)


def train(net, ps, tr: TrafficSeries, cfg: dict, epochs: int, seconds: float) -> LearnedRouter:
    n = len(tr)
    return LearnedRouter(epochs=epochs, max_seconds=seconds, **cfg).fit(
        net, ps, tr, val_start=int(round((1 - VAL_TAIL) * n)), val_stop=n, progress=False)


class Shared(Policy):
    """A policy whose decision for a history is computed once and shared by every caller (the
    replay's own row and the hedges that use it as an expert): the same routing, computed once."""

    def __init__(self, inner: Policy, name: str):
        self.inner, self.name, self._key, self._r = inner, name, None, None

    def route(self, network, paths, tm, *, warm=None):
        return self.inner.route(network, paths, tm, warm=warm)

    def decide(self, network, paths, history, *, warm=None):
        key = (id(network), id(paths), len(history), history.times[-1] if len(history) else None)
        if key != self._key:
            self._key, self._r = key, self.inner.decide(network, paths, history, warm=warm)
        return self._r


def stats(res) -> dict:
    out = {}
    for name, g in res.steps.groupby("policy", sort=False):
        r = g["ratio"].to_numpy(float)
        mlu, o = g["mlu"].to_numpy(float), g["oracle_mlu"].to_numpy(float)
        d = g["decision_seconds"].to_numpy(float)
        out[name] = {"ratio_mean": float(r.mean()), "ratio_p50": float(np.median(r)),
                     "ratio_p99": float(np.percentile(r, 99)), "ratio_max": float(r.max()),
                     "over_1": int((mlu > 1).sum()), "over_1_where_oracle_le_0_9": int(((mlu > 1) & (o <= 0.9)).sum()),
                     "lost_share": float(g["lost_bps"].sum() / max(g["demand_bps"].sum(), 1e-300)),
                     "decision_seconds_mean": float(d.mean()), "decision_seconds_first": float(d[0]),
                     "decision_seconds_max": float(d[1:].max() if len(d) > 1 else d.max())}
    return out


def run_fold(name, net, ps, ts, opt_all, fold, choice, quick, log, surge_too=True) -> dict:
    t0 = time.perf_counter()
    tr_idx = np.concatenate([np.arange(a, b) for a, b in fold["train"]])
    scale = TARGET_UTIL / float(opt_all[tr_idx].max())
    tss = ts.scale(scale)
    tr = training_series(tss, fold["train"])
    epochs, secs = (5, 10.0) if quick else (60, 90.0)
    a, b = fold["test"]
    if quick:
        b = min(b, a + 24)
    rec = {"fold": fold["fold"], "train_days": [[str(ts.times[x]), str(ts.times[y - 1])] for x, y in fold["train"]],
           "test": [str(ts.times[a]), str(ts.times[b - 1])], "steps": b - a, "scale": scale}
    models = {}
    cfgs = LEARNED_GRID if choice is None else [choice["learned"]]
    for cfg in cfgs:
        m = train(net, ps, tr, cfg, epochs, secs)
        best = m.log_[m.best_epoch_ - 1] if m.log_ else {}
        models[json.dumps(cfg, sort_keys=True)] = m
        log(f"    learned {cfg}: {len(m.log_)} epochs (best {m.best_epoch_}) in {m.train_seconds_:.0f} s, "
            f"val ratio {best.get('val_ratio_mean', float('nan')):.4f}, mix {m.mix_}")
    rec["learned_fits"] = [{"config": json.loads(k), "epochs_run": len(m.log_), "best_epoch": m.best_epoch_,
                            "train_seconds": round(m.train_seconds_, 1), "mix": m.mix_,
                            "val_ratio_mean": (m.log_[m.best_epoch_ - 1].get("val_ratio_mean") if m.log_ else None)}
                           for k, m in models.items()]
    rec["runs"] = {}
    for scen in (("plain", "surge") if surge_too else ("plain",)):
        series, info = tss, {}
        if scen == "surge":
            sc = Lockdown(start=ts.times[a] + pd.Timedelta(hours=SURGE["after_test_start_hours"]),
                          growth=SURGE["growth"], ramp_days=SURGE["ramp_days"], utc_offset_hours=UTC_OFFSET[name])
            series, info = sc.apply(tss, network=net), sc.describe(tss)
        opt_last, robust = Shared(get_policy("optimal-last"), "optimal-last"), Shared(Robust(window=12), "robust")
        pols = [("shortest", get_policy("shortest")), ("optimal-last", opt_last), ("robust", robust)]
        for k, m in models.items():
            cfg = json.loads(k)
            tag = "" if choice is not None else f" H={cfg['history']} alpha={cfg['alpha']}"
            pols.append(("learned" + tag, Learned(model=m)))
            rec.setdefault("labels", {})["learned" + tag] = {"learned": cfg}
            pure = Shared(Learned(model=m, pure=True), "learned")
            for hcfg in (HEDGE_GRID if choice is None else [choice["hedge"]]):
                lab = "hedge" + tag + ("" if choice is not None else f" eta={hcfg['eta']} share={hcfg['share']}")
                pols.append((lab, Hedge(experts=(opt_last, robust, pure), **hcfg)))
                rec["labels"][lab] = {"learned": cfg, "hedge": hcfg}
            if choice is not None:  # its own copy of the model: the refits change it
                online = LearnedRouter.load(_save_tmp(m))
                pols.append(("hedge-online", Hedge(model=online, experts=(opt_last, robust),
                                                   refit_every=day_steps(ts), refit_window=day_steps(ts),
                                                   **choice["hedge"])))
        for lab, pol in pols:
            pol.name = lab  # distinct row names in the replay (an instance attribute over the class's)
        t1 = time.perf_counter()
        res = replay(net, ps, series, [pol for _, pol in pols], start=a, stop=b, progress=False, scenario=info)
        # the optimal-last and robust experts' decisions are shared (computed once per step, timed in
        # their own rows): a hedge's decision time is its own (which includes its pure learned expert
        # where it is the first to ask for it) plus theirs
        st = res.steps
        per = {lab: st.loc[st.policy == lab, "decision_seconds"].to_numpy(float) for lab, _ in pols}
        for lab, _ in pols:
            if lab.startswith("hedge"):
                extra = per["optimal-last"] + per["robust"]
                st.loc[st.policy == lab, "decision_seconds"] = per[lab] + extra
        rec["runs"][scen] = {"replay_seconds": round(time.perf_counter() - t1, 1), "policies": stats(res)}
        for lab, s in rec["runs"][scen]["policies"].items():
            log(f"    {scen:<5} {lab:<40} mean {s['ratio_mean']:.4f} p99 {s['ratio_p99']:.4f} max {s['ratio_max']:.3f} "
                f">1|o<=.9 {s['over_1_where_oracle_le_0_9']:>3} lost {s['lost_share']:.2e} "
                f"dec {1e3 * s['decision_seconds_mean']:.0f}/{1e3 * s['decision_seconds_max']:.0f} ms")
    rec["seconds"] = round(time.perf_counter() - t0, 1)
    return rec


_TMP = None


def _save_tmp(m: LearnedRouter) -> Path:
    import tempfile
    global _TMP
    if _TMP is None:
        _TMP = Path(tempfile.mkdtemp(prefix="sg-shift-"))
    return m.save(_TMP / f"m{len(list(_TMP.iterdir()))}.pt")


def choose(dev: dict) -> dict:
    """The learned setting and hedge (eta, share) with the lowest mean ratio on the dev fold (plain)."""
    pol = dev["runs"]["plain"]["policies"]
    learned = min((k for k in pol if k.startswith("learned ")), key=lambda k: pol[k]["ratio_mean"])
    cfg = dev["labels"][learned]["learned"]
    hedges = [k for k, v in dev["labels"].items() if "hedge" in v and v["learned"] == cfg]
    best = min(hedges, key=lambda k: pol[k]["ratio_mean"])
    return {"learned": cfg, "hedge": dev["labels"][best]["hedge"]}


def run_network(name, data, quick, lodo, log) -> dict:
    net, ps, ts, how = load(name, data)
    log(f"{name}: {net.n_nodes} nodes, {ps.n_od} OD pairs, {ps.n_paths} paths ({how}); {len(ts)} steps of {ts.step}")
    t0 = time.perf_counter()
    opt_all = oracle_mlus(net, ps, ts, 0, len(ts))
    log(f"  oracle MLU of every step in {time.perf_counter() - t0:.0f} s")
    out = {"network": name, "nodes": net.n_nodes, "od_pairs": ps.n_od, "paths": ps.n_paths, "paths_how": how,
           "steps": len(ts), "step": str(ts.step), "folds": []}
    fs = folds(name, ts, lodo)
    log(f"  fold dev: choosing the learned setting and hedge's (eta, share)")
    dev = run_fold(name, net, ps, ts, opt_all, fs[0], None, quick, log, surge_too=False)
    choice = choose(dev)
    log(f"  chosen on dev: {choice}")
    out["dev"] = dev
    out["choice"] = choice
    for f in fs[1:]:
        log(f"  fold {f['fold']}: train {f['train']} test {f['test']}")
        out["folds"].append(run_fold(name, net, ps, ts, opt_all, f, choice, quick, log,
                                     surge_too=not f["fold"].startswith("lodo")))
    return out


def verdicts(nets: list[dict]) -> list[str]:
    lines = []
    for n in nets:
        for f in n["folds"]:
            for scen, run in f["runs"].items():
                p = run["policies"]
                best = min((k for k in AI if k in p), key=lambda k: p[k]["ratio_mean"])
                b = p[best]
                ok = (b["ratio_mean"] <= TARGETS["ratio_mean"] and b["ratio_p99"] <= TARGETS["ratio_p99"]
                      and b["ratio_mean"] <= p["robust"]["ratio_mean"] + 1e-12
                      and (scen != "surge" or b["over_1_where_oracle_le_0_9"] == 0)
                      and b["decision_seconds_max"] <= TARGETS["decision_seconds"])
                lines.append(f"| {n['network']} | {f['fold']} | {scen} | {best} | {b['ratio_mean']:.4f} | "
                             f"{b['ratio_p99']:.4f} | {p['robust']['ratio_mean']:.4f} | {p['optimal-last']['ratio_mean']:.4f} | "
                             f"{b['over_1_where_oracle_le_0_9']} | {b['decision_seconds_max']:.2f} | "
                             f"{'yes' if ok else 'NO'} |")
    return lines


def write_md(result: dict, path: Path) -> None:
    m = result["machine"]
    L = ["# Learned routing under distribution shift: train on earlier days, test on later ones", "",
         f"Run {result['run_at']}, {result['seconds'] / 60:.1f} min, `python benchmarks/bench_shift.py"
         f"{' --quick' if result['quick'] else ''}`. Machine: {m.get('cpu')}, {m.get('cpu_count')} cores, "
         f"python {m.get('python')}, torch {m.get('torch')}; load average (1, 5, 15 min) at the start "
         f"{result.get('load_average_start')}, at the end {result.get('load_average_end')}"
         + (f" ({result['load_note']})" if result.get("load_note") else "") + ". Decision times are wall "
         "clock and grow with the load; the ratios do not depend on it.", "",
         "Protocol: see the module docstring of benchmarks/bench_shift.py (folds, scale, surge, what is chosen "
         "where). Targets: best AI policy (learned, hedge, hedge-online) mean ratio <= 1.03, p99 <= 1.15, mean "
         "never worse than robust, under the surge no interval > 100 % where the oracle <= 90 %, decision <= 1 s.", "",
         "## Headline: every fold", "",
         "| network | fold | traffic | best AI policy | mean ratio | p99 | robust mean | optimal-last mean | "
         ">100 % where oracle <= 90 % | decision max s (after the first; with its experts) | targets met |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    L += verdicts(result["networks"])
    if result.get("decision_timing"):
        L += ["", "Decision time of `hedge` measured alone (`--timing`: its experts computed inside it, nothing "
              "shared; the shift fold's test days; after the first decision, which replays 24 intervals to set "
              "the weights); `robust` alone on the same intervals (its default scenario LP: interior point without "
              "crossover, optimise/scenario.py; how each was solved in brackets)"
              + (f"; measured {result['decision_timing'][0]['measured_at']} (the decision times in the fold tables "
                 f"and the headline are the fold run's, {result['run_at']})"
                 if result["decision_timing"][0].get("measured_at") else "") + ":", "",
              "| network | decisions | mean s | p99 s | max s | first s | robust alone mean / max s (how solved) "
              "| load average |", "|---|---|---|---|---|---|---|---|"]
        for d in result["decision_timing"]:
            how = d.get("robust_starts") or {"warm": d.get("robust_warm")}
            rob = (f"{d['robust_mean_s']:.3f} / {d['robust_max_s']:.3f} "
                   f"({', '.join(f'{k} {v}' for k, v in how.items())})" if "robust_mean_s" in d else "")
            L.append(f"| {d['network']} | {d['decisions']} | {d['mean_s']:.3f} | {d['p99_s']:.3f} | {d['max_s']:.3f} | "
                     f"{d['first_s']:.2f} | {rob} | {[round(x, 2) for x in d['load_average']]} |")
    for n in result["networks"]:
        L += ["", f"## {n['network']}: {n['nodes']} nodes, {n['od_pairs']} OD pairs, {n['paths']} paths "
              f"({n['paths_how']}), {n['steps']} steps of {n['step']}", "",
              f"Chosen on the dev fold: learned {n['choice']['learned']}, hedge {n['choice']['hedge']}.", "",
              "Dev fold (plain traffic; the rows the choice was made from):", "",
              "| policy | mean | p99 | max |", "|---|---|---|---|"]
        for k, s in n["dev"]["runs"]["plain"]["policies"].items():
            L.append(f"| {k} | {s['ratio_mean']:.4f} | {s['ratio_p99']:.4f} | {s['ratio_max']:.4f} |")
        for f in n["folds"]:
            L += ["", f"### {n['network']} {f['fold']}: train {'; '.join(' .. '.join(x) for x in f['train_days'])}; "
                  f"test {f['test'][0]} .. {f['test'][1]} ({f['steps']} steps); demand x{f['scale']:.3f}", "",
                  "| traffic | policy | mean | p50 | p99 | max | MLU>1 | >1 where oracle<=0.9 | lost share | decision ms mean / max / first |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
            for scen, run in f["runs"].items():
                for k, s in run["policies"].items():
                    L.append(f"| {scen} | {k} | {s['ratio_mean']:.4f} | {s['ratio_p50']:.4f} | {s['ratio_p99']:.4f} | "
                             f"{s['ratio_max']:.4f} | {s['over_1']} | {s['over_1_where_oracle_le_0_9']} | "
                             f"{s['lost_share']:.2e} | {1e3 * s['decision_seconds_mean']:.1f} / "
                             f"{1e3 * s['decision_seconds_max']:.0f} / {1e3 * s['decision_seconds_first']:.0f} |")
    path.write_text("\n".join(L) + "\n")


def decision_timing(name: str, data: Path, n: int = 60) -> dict:
    """Seconds per ``hedge`` decision, its experts included (each computed here, nothing shared), on
    the shift fold's test days after the first decision (whose warm-up replays 24 intervals); the
    model is trained briefly (the decision's cost does not depend on its quality)."""
    net, ps, ts, _ = load(name, data)
    f = folds(name, ts, lodo=False)[1]
    tr = training_series(ts, f["train"])
    m = train(net, ps, tr, LEARNED_GRID[0], epochs=3, seconds=60.0)
    a = f["test"][0]
    h = Hedge(model=m)
    out = []
    for t in range(a, a + n + 1):
        t0 = time.perf_counter()
        h.decide(net, ps, ts.window(0, t))
        out.append(time.perf_counter() - t0)
    d = np.asarray(out[1:])
    # the robust expert alone on the same intervals (its default solver)
    rob, rob_out, starts = Robust(), [], []
    for t in range(a - 1, a + n + 1):
        t0 = time.perf_counter()
        r = rob.decide(net, ps, ts.window(0, t))
        rob_out.append(time.perf_counter() - t0)
        starts.append(r.info.get("start"))
    rd = np.asarray(rob_out[1:])
    return {"network": name, "decisions": n, "first_s": out[0], "mean_s": float(d.mean()),
            "p99_s": float(np.percentile(d, 99)), "max_s": float(d.max()),
            "robust_mean_s": float(rd.mean()), "robust_max_s": float(rd.max()),
            "robust_starts": {k: starts[1:].count(k) for k in sorted(set(starts[1:]), key=str)}, "load_average": list(os.getloadavg()),
            "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--networks", default="abilene,geant")
    ap.add_argument("--quick", action="store_true", help="5 epochs, 24 test steps per fold (a smoke run)")
    ap.add_argument("--no-lodo", action="store_true", help="skip the leave-one-day-out folds")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--timing", action="store_true",
                    help="only time hedge's decisions (experts included) and add them to the existing shift.json/md")
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"skipped: the shared data folder {data} is absent (pass --data)")
        return 0
    if args.timing:
        out = Path(args.out)
        result = json.loads((out / "shift.json").read_text())
        result["decision_timing"] = [decision_timing(n.strip(), data) for n in args.networks.split(",")]
        (out / "shift.json").write_text(json.dumps(result, indent=1, default=str))
        write_md(result, out / "shift.md")
        print(json.dumps(result["decision_timing"], indent=1))
        return 0
    t0 = time.perf_counter()
    info = machine_info()
    load_start = list(os.getloadavg())

    def log(msg):
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    nets = [run_network(n.strip(), data, args.quick, not args.no_lodo, log) for n in args.networks.split(",")]
    result = {"run_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "quick": args.quick,
              "machine": info, "load_average_start": load_start, "load_average_end": list(os.getloadavg()),
              "seconds": time.perf_counter() - t0, "targets": TARGETS, "networks": nets}
    out = Path(args.out)
    suffix = "_quick" if args.quick else ""
    (out / f"shift{suffix}.json").write_text(json.dumps(result, indent=1, default=str))
    write_md(result, out / f"shift{suffix}.md")
    print(f"wrote {out / f'shift{suffix}.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
