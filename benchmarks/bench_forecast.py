"""Forecast accuracy of every surgeguard forecaster on the real Abilene and GÉANT series.

Usage: python benchmarks/bench_forecast.py [--data ../shared/data] [--models naive,...] [--datasets abilene,geant]
       [--max-origins 96] [--carry ets,mstl]

Protocol (surgeguard.forecast.evaluate.evaluate_forecaster): chronological split train 70 % /
validation 10 % / test 20 %; each model is fitted once (parameters on train; early stopping,
conformal quantiles and model selection on validation), then forecasts the test part from
rolling origins with the actual past and no retraining. Metrics per horizon (1 step, 1 hour,
1 day where the test part is long enough): MAE, RMSE (Mbit/s per OD flow), NMAE, and MAE on
per-flow max-normalised data (how published TM-prediction results are stated). The model named
as ours is, per horizon, the one with the lowest validation error at that horizon, chosen before
looking at test. Longer horizons use 96 evenly spaced test origins (24 before issue 15; more
origins, less noise). Issue 15's targets on the max-normalised MAE: beat the published
per-flow LSTM/GRU baseline (`lstm`, `gru`: 12-step window, one network over all flows' windows,
trained here on the same data) and the last value (`naive`) by >= 15 % at 1 step and >= 25 % at
1 hour. `linear` (per-flow L1 regressions per lead) and `blend` (per-lead convex blend of
`direct`, `linear` and the last value, weights chosen on validation) were added for the second
round. Noise floor: two oracles fitted on the test part itself (pooled L1 linear regressions of
each value's change; `causal` reads the values before the forecast origin, `two-sided` also the
values after the target), see surgeguard.forecast.evaluate.noise_floor. Writes
benchmarks/results/forecast.{json,md} with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from surgeguard.forecast import get_forecaster  # noqa: E402
from surgeguard.forecast.evaluate import evaluate_forecaster, noise_floor  # noqa: E402
from surgeguard.io import ABILENE_NODES, GEANT_NODES, read_sndlib_demands  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "abilene": ("abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz", ABILENE_NODES),
    "geant": ("geant/sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz", GEANT_NODES),
}
#: best published 1-step MAE on per-flow max-normalised data, 12-step input window
#: (per-flow LSTM/GRU, Computer Communications 2022, on the full Abilene / GÉANT datasets)
PUBLISHED = {"abilene": 1.40e-2, "geant": 0.53e-2}
MODELS = ["naive", "seasonal_naive", "ets", "mstl", "lgbm", "neural", "lstm", "gru", "direct", "linear", "blend"]
#: issue 15: the selected model's max-normalised MAE at least this far below the naive one
TARGETS = {"1 step": 0.15, "1 hour": 0.25}
BASELINES = ("lstm", "gru")


def run(data: Path, datasets: list[str], models: list[str], max_origins: int, carried: dict | None = None,
        params: dict | None = None, out_dir: Path | None = None) -> dict:
    """Evaluate ``models`` on ``datasets``; rows of ``carried`` ({dataset: {model: row}}, from an
    earlier results file) are copied instead of re-run, marked ``carried_from``; ``params``:
    {model: constructor options} (default: each model's defaults). With ``out_dir`` the rows done
    so far are written to ``out_dir/forecast.partial.json`` after each model."""
    out = {"machine": machine_info(), "run_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "protocol": __doc__.split("\n\n")[2].replace("\n", " "), "published_1step_mae_maxnorm": PUBLISHED,
           "datasets": {}}
    t_all = time.perf_counter()
    for ds in datasets:
        rel, nodes = DATASETS[ds]
        series = read_sndlib_demands(data / rel, nodes=nodes)
        rows = {}
        for name in models:
            old = (carried or {}).get(ds, {}).get(name)
            if old is not None:
                rows[name] = old
                print(f"[{ds}] {name}: carried over from {old.get('carried_from')}", file=sys.stderr, flush=True)
                continue
            print(f"[{ds}] {name} ...", file=sys.stderr, flush=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows[name] = evaluate_forecaster(get_forecaster(name, **(params or {}).get(name, {})), series,
                                                 max_origins=max_origins)
            r = rows[name]
            print(f"[{ds}] {name}: fit {r['fit_seconds']:.1f} s, valid maxnorm MAE {r['valid']['mae_maxnorm']:.4f}, "
                  f"test 1-step {r['test']['1 step']['mae_maxnorm']:.4f}", file=sys.stderr, flush=True)
            if out_dir is not None:
                info = {"series": series.name, "steps": len(series), "step": str(series.step),
                        "nodes": series.n_nodes, "start_utc": series.times[0].isoformat(),
                        "end_utc": series.times[-1].isoformat()}
                part = {**out, "datasets": {**out["datasets"], ds: summarise(ds, info, dict(rows))},
                        "total_seconds": time.perf_counter() - t_all, "max_origins": max_origins}
                out_dir.mkdir(parents=True, exist_ok=True)
                (out_dir / "forecast.partial.json").write_text(json.dumps(part, indent=1, default=str))
        info = {"series": series.name, "steps": len(series), "step": str(series.step), "nodes": series.n_nodes,
                "start_utc": series.times[0].isoformat(), "end_utc": series.times[-1].isoformat(),
                "noise_floor": noise_floor(series)}
        out["datasets"][ds] = summarise(ds, info, rows)
    out["total_seconds"] = time.perf_counter() - t_all
    return out


def summarise(ds: str, info: dict, rows: dict) -> dict:
    """One dataset's results: the rows, the model selected on validation (1 step) and, per
    horizon, the model selected on validation at that horizon against issue 15's targets."""
    fresh = [k for k in rows if "carried_from" not in rows[k]] or list(rows)
    chosen = min(fresh, key=lambda k: rows[k]["valid"]["mae_maxnorm"])
    best = rows[chosen]["test"]["1 step"]["mae_maxnorm"]
    targets = {}
    for label in rows[chosen]["test"]:
        cand = [k for k in fresh if label in rows[k].get("valid_horizons", {})]
        if not cand:
            continue
        sel = min(cand, key=lambda k: rows[k]["valid_horizons"][label]["mae_maxnorm"])
        err = rows[sel]["test"][label]["mae_maxnorm"]
        t = {"selected_on_validation": sel, "test_mae_maxnorm": err}
        if "naive" in rows:
            t["improvement_vs_naive"] = 1 - err / rows["naive"]["test"][label]["mae_maxnorm"]
        for b in BASELINES:
            if b in rows:
                t[f"{b}_test_mae_maxnorm"] = rows[b]["test"][label]["mae_maxnorm"]
                t[f"beats_{b}"] = bool(err < rows[b]["test"][label]["mae_maxnorm"])
        if label in TARGETS and "improvement_vs_naive" in t:
            t["target_vs_naive"] = TARGETS[label]
            t["meets_target"] = bool(t["improvement_vs_naive"] >= TARGETS[label]
                                     and all(t.get(f"beats_{b}", True) for b in BASELINES))
        targets[label] = t
    return {**info, "models": rows, "selected_on_validation": chosen,
            "selected_test_1step_mae_maxnorm": best, "published_1step_mae_maxnorm": PUBLISHED[ds],
            "beats_published": bool(best < PUBLISHED[ds]), "selected_fit_seconds": rows[chosen]["fit_seconds"],
            "improvement_vs_naive_1step": 1 - best / rows["naive"]["test"]["1 step"]["mae_maxnorm"]
            if "naive" in rows else None,
            "targets": targets}


def merge(parts: list[dict], data: Path | None = None) -> dict:
    """Join partial runs (the same protocol, different models or datasets, e.g. run side by side
    on a shared machine) into one result; every dataset is summarised again over all its rows.
    A dataset without its noise floor gets it computed from ``data`` (when given)."""
    out = {k: v for k, v in parts[0].items() if k != "datasets"}
    out["protocol"] = __doc__.split("\n\n")[2].replace("\n", " ")
    out["run_utc"] = ", ".join(sorted({p["run_utc"] for p in parts}))
    out["total_seconds"] = sum(p.get("total_seconds", 0.0) for p in parts)
    out["merged_from"] = len(parts)
    out["datasets"] = {}
    infos, rows = {}, {}
    for p in parts:
        for ds, d in p["datasets"].items():
            infos.setdefault(ds, {}).update({k: d[k] for k in ("series", "steps", "step", "nodes", "start_utc",
                                                                "end_utc", "noise_floor") if k in d})
            rows.setdefault(ds, {}).update(d["models"])
    for ds, info in infos.items():
        if "noise_floor" not in info and data is not None and (data / DATASETS[ds][0]).is_file():
            info["noise_floor"] = noise_floor(read_sndlib_demands(data / DATASETS[ds][0], nodes=DATASETS[ds][1]))
    for ds in rows:
        order = sorted(rows[ds], key=lambda k: MODELS.index(k) if k in MODELS else len(MODELS))
        out["datasets"][ds] = summarise(ds, infos[ds], {k: rows[ds][k] for k in order})
    return out


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# Forecast benchmark (real Abilene and GÉANT traffic matrices)", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count')} cores (shared), python {m.get('python')}, "
             f"torch {m.get('torch', '?')}; run {res['run_utc']}; total {res['total_seconds'] / 60:.1f} min.", "",
             res["protocol"], "",
             "Columns: `fit s` training wall time; `next ms` one `predict_next` on the full history (the call a "
             "replay makes each step); `valid` 1-step max-normalised MAE on validation (selection; `valid 1h`: "
             "at 1 hour); then per test "
             "horizon MAE and RMSE in Mbit/s per OD flow, NMAE (sum|e|/sum|y|) per flow and for the network total, "
             "and `maxnorm` = MAE on per-flow max-normalised data (train max; in brackets: max over the whole "
             "series). `cover` = share of 1-step test values inside the 10-90 % conformal band (nominal 0.80).", ""]
    for ds, d in res["datasets"].items():
        lines += [f"## {ds}: {d['steps']} steps of {d['step']}, {d['nodes']} nodes, {d['start_utc']} .. {d['end_utc']}",
                  ""]
        hz = list(next(iter(d["models"].values()))["test"].keys())
        head = "| model | fit s | next ms | valid | valid 1h | " + " | ".join(
            f"{h} MAE | {h} RMSE | {h} NMAE | {h} NMAE total | {h} maxnorm" for h in hz) + " | cover |"
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for name, r in d["models"].items():
            cells = [name + (" **(selected)**" if name == d["selected_on_validation"] else "")
                     + (f" (run {r['carried_from']}, {r.get('max_origins', 24)} origins)" if "carried_from" in r else ""),
                     f"{r['fit_seconds']:.1f}", f"{r['predict_next_ms']:.1f}", f"{r['valid']['mae_maxnorm']:.4f}"]
            v1h = r.get("valid_horizons", {}).get("1 hour")
            cells.append(f"{v1h['mae_maxnorm']:.4f}" if v1h else "")
            for h in hz:
                t = r["test"][h]
                cells += [f"{t['mae'] / 1e6:.2f}", f"{t['rmse'] / 1e6:.2f}", f"{t['nmae']:.3f}",
                          f"{t['nmae_total']:.3f}", f"{t['mae_maxnorm']:.4f} ({t['mae_maxnorm_full']:.4f})"]
            cov = r.get("coverage", {}).get("observed")
            cells.append(f"{cov:.2f}" if cov is not None else "")
            lines.append("| " + " | ".join(cells) + " |")
        skipped = next(iter(d["models"].values()))["skipped"]
        if skipped:
            lines += ["", "Not evaluated: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + "."]
        best_h = []
        for h in hz:
            k = min((name for name in d["models"] if "carried_from" not in d["models"][name]),
                    key=lambda name: d["models"][name]["test"][h]["mae_maxnorm"])
            best_h.append(f"{h}: {k} ({d['models'][k]['test'][h]['mae_maxnorm']:.4f})")
        lines += ["", "Lowest test error per horizon (for information only; nothing was chosen on test): "
                  + "; ".join(best_h) + "."]
        if d.get("targets"):
            lines += ["", "Issue 15's targets (max-normalised MAE on test; the model chosen per horizon on validation):", "",
                      "| horizon | selected | its MAE | naive | below naive | target | lstm | gru | met |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for label, t in d["targets"].items():
                naive = d["models"]["naive"]["test"][label]["mae_maxnorm"] if "naive" in d["models"] else float("nan")
                tgt = t.get("target_vs_naive")
                met = t.get("meets_target")
                lines.append(f"| {label} | {t['selected_on_validation']} | {t['test_mae_maxnorm']:.4f} | {naive:.4f} | "
                             f"{100 * t.get('improvement_vs_naive', float('nan')):.1f} % | "
                             f"{'' if tgt is None else f'>= {100 * tgt:.0f} %'} | "
                             f"{t.get('lstm_test_mae_maxnorm', float('nan')):.4f} | "
                             f"{t.get('gru_test_mae_maxnorm', float('nan')):.4f} | "
                             f"{'' if met is None else ('yes' if met else '**no**')} |")
        if d.get("noise_floor"):
            lines += ["", "Noise floor (oracles fitted on the test part itself; improvement over the last value on the "
                      "same targets; see the protocol): a forecaster reading the past only is not expected to come "
                      "near the two-sided oracle, which also reads the values after the target.", "",
                      "| horizon | naive MAE (oracle targets) | causal linear oracle | two-sided linear oracle | "
                      "selected model (test) | target |", "|---|---|---|---|---|---|"]
            for label, f in d["noise_floor"].items():
                t = d.get("targets", {}).get(label, {})
                sel = (f"{t['selected_on_validation']} {100 * t['improvement_vs_naive']:.1f} %"
                       if "improvement_vs_naive" in t else "")
                tgt = f">= {100 * TARGETS[label]:.0f} %" if label in TARGETS else ""
                lines.append(f"| {label} | {f['naive_mae_maxnorm']:.4f} | {100 * f['causal_improvement']:.1f} % | "
                             f"{100 * f['two_sided_improvement']:.1f} % | {sel} | {tgt} |")
        verdict = "beats" if d["beats_published"] else "does NOT beat"
        lines += ["", f"Selected on validation: **{d['selected_on_validation']}** (trains in "
                      f"{d['selected_fit_seconds']:.0f} s). Its 1-step test MAE on max-normalised data is "
                      f"**{d['selected_test_1step_mae_maxnorm']:.4f}**, which {verdict} the best published "
                      f"{d['published_1step_mae_maxnorm']:.4f}"
                      + (f"; it is {100 * d['improvement_vs_naive_1step']:.1f} % below the last-value (naive) "
                         "forecast." if d["improvement_vs_naive_1step"] is not None else "."), ""]
    lines += ["## Notes", "",
              "* Multi-step forecasts of `lgbm`, `neural`, `lstm` and `gru` are recursive (each prediction is fed "
              "back), and `ets` extrapolates the (damped) trend it chose by AICc; `direct` and `linear` forecast "
              "every lead up to one hour directly and longer horizons block by block; `blend` averages its "
              "members with per-lead weights. Over a whole day all of them drift, "
              "which is why the seasonal and naive forecasts are hard to beat at the 1-day horizon. For routing, "
              "the 1-step forecast is the one that matters (a replay decides every interval).",
              *(["* Rows marked `(run ..., N origins)` were carried over from an earlier run of the same protocol "
                 "(not re-run; they take no part in the selection)."]
                if any("carried_from" in r for d in res["datasets"].values() for r in d["models"].values()) else []),
              *[f"* {n}" for n in res.get("notes", [])],
              "* `blend`'s `valid` errors are optimistic: its weights were chosen on that same validation part "
              "(its members' early stopping used it too, as for `direct` alone). Only its test errors are fair.",
              "* `cover` well below 0.80 on GÉANT: the conformal residuals come from 32 validation steps "
              "(Friday) and the test part is the weekend, whose traffic differs.", "",
              "## Reading the comparison with published numbers", "",
              "The published figures come from the full datasets (Abilene: 24 weeks, GÉANT: 4 months) and a "
              "different split; per-flow max normalisation over months divides by rarer, larger peaks, which "
              "shrinks every normalised error. On the 10 days (Abilene) and 3.4 days (GÉANT) available here the "
              "naive last-value forecast already scores the values in the `naive` row, so the gap to the "
              "published numbers is mostly the normalisation and data, not the model; the fair comparison is "
              "against the naive and statistical baselines on the same split, shown above.", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--datasets", default="abilene,geant")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--max-origins", type=int, default=96, help="origins per horizon longer than 1 step")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--carry", default="", help="models whose rows are copied from the existing forecast.json "
                    "instead of re-run (slow models that did not change)")
    ap.add_argument("--params", default="{}", help='constructor options per model as JSON, e.g. '
                    '\'{"lstm": {"samples_per_epoch": 100000}}\'')
    ap.add_argument("--note", action="append", default=[], help="a line for the Notes section (repeatable)")
    ap.add_argument("--merge", nargs="+", type=Path, help="partial forecast.json files to join (nothing is run)")
    args = ap.parse_args(argv)
    if args.merge:
        res = merge([json.loads(f.read_text()) for f in args.merge], args.data if args.data.is_dir() else None)
        res["notes"] = args.note
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "forecast.json").write_text(json.dumps(res, indent=1, default=str))
        (args.out / "forecast.md").write_text(markdown(res))
        print(markdown(res))
        return
    if not args.data.is_dir():
        sys.exit(f"error: data folder {args.data} not found; pass --data PATH to the shared data")
    carried = {}
    names = [x for x in args.carry.split(",") if x]
    if names and (args.out / "forecast.json").is_file():
        old = json.loads((args.out / "forecast.json").read_text())
        for ds, d in old.get("datasets", {}).items():
            for name in names:
                if name in d.get("models", {}):
                    row = dict(d["models"][name])
                    row.setdefault("carried_from", old.get("run_utc"))
                    row.setdefault("max_origins", old.get("max_origins", 24))
                    carried.setdefault(ds, {})[name] = row
    res = run(args.data, args.datasets.split(","), args.models.split(","), args.max_origins, carried,
              json.loads(args.params), args.out)
    res["max_origins"] = args.max_origins
    res["notes"] = args.note
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "forecast.json").write_text(json.dumps(res, indent=1, default=str))
    (args.out / "forecast.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
