"""Forecast accuracy of every surgeguard forecaster on the real Abilene and GÉANT series.

Usage: python benchmarks/bench_forecast.py [--data ../shared/data] [--models naive,...] [--datasets abilene,geant]

Protocol (surgeguard.forecast.evaluate.evaluate_forecaster): chronological split train 70 % /
validation 10 % / test 20 %; each model is fitted once (parameters on train; early stopping,
conformal quantiles and model selection on validation), then forecasts the test part from
rolling origins with the actual past and no retraining. Metrics per horizon (1 step, 1 hour,
1 day where the test part is long enough): MAE, RMSE (Mbit/s per OD flow), NMAE, and MAE on
per-flow max-normalised data (how published TM-prediction results are stated). The model named
as ours is the one with the lowest validation error, chosen before looking at test.
Writes benchmarks/results/forecast.{json,md} with the machine's description.
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
from surgeguard.forecast.evaluate import evaluate_forecaster  # noqa: E402
from surgeguard.io import ABILENE_NODES, GEANT_NODES, read_sndlib_demands  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "abilene": ("abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz", ABILENE_NODES),
    "geant": ("geant/sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz", GEANT_NODES),
}
#: best published 1-step MAE on per-flow max-normalised data, 12-step input window
#: (per-flow LSTM/GRU, Computer Communications 2022, on the full Abilene / GÉANT datasets)
PUBLISHED = {"abilene": 1.40e-2, "geant": 0.53e-2}
MODELS = ["naive", "seasonal_naive", "ets", "mstl", "lgbm", "neural"]


def run(data: Path, datasets: list[str], models: list[str], max_origins: int) -> dict:
    out = {"machine": machine_info(), "run_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "protocol": __doc__.split("\n\n")[2].replace("\n", " "), "published_1step_mae_maxnorm": PUBLISHED,
           "datasets": {}}
    t_all = time.perf_counter()
    for ds in datasets:
        rel, nodes = DATASETS[ds]
        series = read_sndlib_demands(data / rel, nodes=nodes)
        rows = {}
        for name in models:
            print(f"[{ds}] {name} ...", file=sys.stderr, flush=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows[name] = evaluate_forecaster(get_forecaster(name), series, max_origins=max_origins)
            r = rows[name]
            print(f"[{ds}] {name}: fit {r['fit_seconds']:.1f} s, valid maxnorm MAE {r['valid']['mae_maxnorm']:.4f}, "
                  f"test 1-step {r['test']['1 step']['mae_maxnorm']:.4f}", file=sys.stderr, flush=True)
        chosen = min(rows, key=lambda k: rows[k]["valid"]["mae_maxnorm"])
        best = rows[chosen]["test"]["1 step"]["mae_maxnorm"]
        out["datasets"][ds] = {
            "series": series.name, "steps": len(series), "step": str(series.step), "nodes": series.n_nodes,
            "start_utc": series.times[0].isoformat(), "end_utc": series.times[-1].isoformat(),
            "models": rows, "selected_on_validation": chosen,
            "selected_test_1step_mae_maxnorm": best, "published_1step_mae_maxnorm": PUBLISHED[ds],
            "beats_published": bool(best < PUBLISHED[ds]),
            "selected_fit_seconds": rows[chosen]["fit_seconds"],
            "improvement_vs_naive_1step": 1 - best / rows["naive"]["test"]["1 step"]["mae_maxnorm"]
            if "naive" in rows else None,
        }
    out["total_seconds"] = time.perf_counter() - t_all
    return out


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# Forecast benchmark (real Abilene and GÉANT traffic matrices)", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count')} cores (shared), python {m.get('python')}, "
             f"torch {m.get('torch', '?')}; run {res['run_utc']}; total {res['total_seconds'] / 60:.1f} min.", "",
             res["protocol"], "",
             "Columns: `fit s` training wall time; `next ms` one `predict_next` on the full history (the call a "
             "replay makes each step); `valid` 1-step max-normalised MAE on validation (selection); then per test "
             "horizon MAE and RMSE in Mbit/s per OD flow, NMAE (sum|e|/sum|y|) per flow and for the network total, "
             "and `maxnorm` = MAE on per-flow max-normalised data (train max; in brackets: max over the whole "
             "series). `cover` = share of 1-step test values inside the 10-90 % conformal band (nominal 0.80).", ""]
    for ds, d in res["datasets"].items():
        lines += [f"## {ds}: {d['steps']} steps of {d['step']}, {d['nodes']} nodes, {d['start_utc']} .. {d['end_utc']}",
                  ""]
        hz = list(next(iter(d["models"].values()))["test"].keys())
        head = "| model | fit s | next ms | valid | " + " | ".join(
            f"{h} MAE | {h} RMSE | {h} NMAE | {h} NMAE total | {h} maxnorm" for h in hz) + " | cover |"
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for name, r in d["models"].items():
            cells = [name + (" **(selected)**" if name == d["selected_on_validation"] else ""),
                     f"{r['fit_seconds']:.1f}", f"{r['predict_next_ms']:.1f}", f"{r['valid']['mae_maxnorm']:.4f}"]
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
            k = min(d["models"], key=lambda name: d["models"][name]["test"][h]["mae_maxnorm"])
            best_h.append(f"{h}: {k} ({d['models'][k]['test'][h]['mae_maxnorm']:.4f})")
        lines += ["", "Lowest test error per horizon (for information only; nothing was chosen on test): "
                  + "; ".join(best_h) + "."]
        verdict = "beats" if d["beats_published"] else "does NOT beat"
        lines += ["", f"Selected on validation: **{d['selected_on_validation']}** (trains in "
                      f"{d['selected_fit_seconds']:.0f} s). Its 1-step test MAE on max-normalised data is "
                      f"**{d['selected_test_1step_mae_maxnorm']:.4f}**, which {verdict} the best published "
                      f"{d['published_1step_mae_maxnorm']:.4f}; it is "
                      f"{100 * d['improvement_vs_naive_1step']:.1f} % below the last-value (naive) forecast.", ""]
    lines += ["## Notes", "",
              "* Multi-step forecasts of `lgbm` and `neural` are recursive (each prediction is fed back), and "
              "`ets` extrapolates the (damped) trend it chose by AICc; over a whole day both drift, which is "
              "why the seasonal and naive forecasts are hard to beat at the 1-day horizon. For routing, the "
              "1-step forecast is the one that matters (a replay decides every interval).",
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
    ap.add_argument("--max-origins", type=int, default=24, help="origins per horizon longer than 1 step")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"error: data folder {args.data} not found; pass --data PATH to the shared data")
    res = run(args.data, args.datasets.split(","), args.models.split(","), args.max_origins)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "forecast.json").write_text(json.dumps(res, indent=1, default=str))
    (args.out / "forecast.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
