"""Surge detection on the real Abilene and GÉANT series with injected lockdown-shaped surges.

Usage: python benchmarks/bench_detect.py [--data ../shared/data] [--trials 10] [--seed 0]

Protocol (surgeguard.detect.evaluate.evaluate_detector): each detector learns normal traffic from
the first days of the untouched series (Abilene: 3 days, Mon-Wed; GÉANT: 2 days), then replays
the rest online. False alarms: alerts on the untouched rest, per week of monitored time (also on
8 weeks of synthetic Abilene-like traffic from surgeguard's generator, whose profile and noise are
fitted on the real series, for a longer count). Surges: Lockdown(start, growth, ramp_days) with
growth 10/15/30/50 % and ramps of 1, 3 and 7 days, `--trials` seeded random starts each (at least
one day before the end of the series); delay = first alert at or after the start, anywhere;
no alert before the series ends = miss. Detector thresholds are the library defaults (chosen by
reasoning about noise levels and a few trial runs on these same series; there is no held-out
detection data, so a threshold sweep is shown to expose the whole trade-off).
Writes benchmarks/results/detect.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from surgeguard.detect import get_detector  # noqa: E402
from surgeguard.detect.evaluate import evaluate_detector  # noqa: E402
from surgeguard.io import ABILENE_NODES, GEANT_NODES, read_network, read_sndlib_demands  # noqa: E402
from surgeguard.scenario import gravity_series  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "abilene": ("abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz", ABILENE_NODES, 3.0),
    "geant": ("geant/sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz", GEANT_NODES, 2.0),
}
CONFIGS = [
    ("cusum", {}),
    ("cusum", {"places": "total"}),
    ("residual", {}),
    ("residual", {"places": "total"}),
]
SWEEP = [("cusum", {"places": "total", "threshold": h}) for h in (1.5, 2.0, 3.0, 6.0)] + \
        [("cusum", {"places": "all", "threshold": h}) for h in (2.0, 3.0, 6.0)]
GROWTHS = (0.10, 0.15, 0.30, 0.50)
RAMPS = (1.0, 3.0, 7.0)
TARGET = {"growth": 0.15, "ramp_days": 7.0, "hours": 6.0, "false_alarms_per_week": 1.0}


def label(name, kw):
    return name + ("" if not kw else "(" + ",".join(f"{k}={v}" for k, v in kw.items()) + ")")


def synthetic_false_alarms(data: Path, configs) -> dict:
    net = read_network(data / "abilene" / "topology" / "sndlib_abilene.xml")
    weeks = 8
    ts = gravity_series(net, "2004-03-01", periods=weeks * 7 * 288, freq="5min", total_bps=3e9, random_state=7)
    ref = 7 * 288
    out = {"series": f"gravity_series on the Abilene topology, {weeks} weeks at 5 min, seed 7; reference: week 1",
           "results": {}}
    for name, kw in configs:
        det = get_detector(name, **kw).fit(ts.window(0, ref))
        alerts = det.predict(ts.window(ref, len(ts)))
        out["results"][label(name, kw)] = {"count": len(alerts), "per_week": len(alerts) / (weeks - 1)}
    return out


def run(data: Path, trials: int, seed: int) -> dict:
    res = {"machine": machine_info(), "run_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "protocol": " ".join(__doc__.split("\n\n")[2].split()), "target": TARGET, "datasets": {}}
    t0 = time.perf_counter()
    for ds, (rel, nodes, ref_days) in DATASETS.items():
        series = read_sndlib_demands(data / rel, nodes=nodes)
        rows = {}
        for name, kw in CONFIGS + SWEEP:
            key = label(name, kw)
            if key in rows:
                continue
            print(f"[{ds}] {key} ...", file=sys.stderr, flush=True)
            r = evaluate_detector(get_detector(name, **kw), series, reference_days=ref_days, growths=GROWTHS,
                                  ramp_days=RAMPS, n_trials=trials, random_state=seed)
            rows[key] = r
        res["datasets"][ds] = {"series": series.name, "steps": len(series), "step": str(series.step),
                               "reference_days": ref_days, "detectors": rows,
                               "sweep": [label(n, k) for n, k in SWEEP], "defaults": [label(n, k) for n, k in CONFIGS]}
    print("[synthetic] false alarms ...", file=sys.stderr, flush=True)
    res["synthetic_false_alarms"] = synthetic_false_alarms(data, CONFIGS)
    res["total_seconds"] = time.perf_counter() - t0
    return res


def _target_row(r: dict) -> dict:
    for s in r["summary"]:
        if s["growth"] == TARGET["growth"] and s["ramp_days"] == TARGET["ramp_days"]:
            return s
    return {}


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# Surge detection benchmark (real Abilene and GÉANT, injected lockdown surges)", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count')} cores (shared); run {res['run_utc']}; "
             f"total {res['total_seconds']:.0f} s.", "", res["protocol"], "",
             f"Target: a +{TARGET['growth']:.0%} surge ramping over {TARGET['ramp_days']:g} days detected within "
             f"{TARGET['hours']:g} h, with fewer than {TARGET['false_alarms_per_week']:g} false alarm per week.", ""]
    for ds, d in res["datasets"].items():
        lines += [f"## {ds}: {d['steps']} steps of {d['step']}; reference {d['reference_days']:g} days", "",
                  "| detector | false alarms / week (count) | +15 %/7 d: miss | median delay h | within 6 h | "
                  "+15 %/1 d: median delay h | +30 %/1 d | +50 %/1 d | +50 %/7 d |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for key, r in d["detectors"].items():
            fa = r["false_alarms"]
            sm = {(s["growth"], s["ramp_days"]): s for s in r["summary"]}

            def med(g, rd):
                s = sm.get((g, rd), {})
                v = s.get("delay_median_h")
                return "missed" if v is None else f"{v:.1f} (miss {s['miss_rate']:.0%})"

            t = sm.get((0.15, 7.0), {})
            lines.append(f"| {key}{' (sweep)' if key in d['sweep'] and key not in d['defaults'] else ''} | "
                         f"{fa['per_week']:.2f} ({fa['count']}) | {t.get('miss_rate', float('nan')):.0%} | "
                         f"{'-' if t.get('delay_median_h') is None else format(t['delay_median_h'], '.1f')} | "
                         f"{t.get('within_6h', 0):.0%} | {med(0.15, 1.0)} | {med(0.3, 1.0)} | {med(0.5, 1.0)} | "
                         f"{med(0.5, 7.0)} |")
        lines += ["", "Full grid for the defaults (growth x ramp: miss rate, median / p90 delay in hours, volume "
                      "growth reached at detection):", ""]
        for key in d["defaults"]:
            r = d["detectors"][key]
            lines += [f"**{key}** (sigma of the hourly total residual {r['sigma_total']:.3f}, {r['sigma_source']})", "",
                      "| growth | ramp days | miss | median delay h | p90 delay h | within 6 h | growth at detection "
                      "| within 6 h of full size (trials) |",
                      "|---|---|---|---|---|---|---|---|"]
            for s in r["summary"]:
                f = (lambda v: "-" if v is None else f"{v:.1f}")
                g = s["shift_at_detection_median"]
                w = s["within_6h_of_full_size"]
                lines.append(f"| {s['growth']:.0%} | {s['ramp_days']:g} | {s['miss_rate']:.0%} | "
                             f"{f(s['delay_median_h'])} | {f(s['delay_p90_h'])} | {s['within_6h']:.0%} | "
                             f"{'-' if g is None else format(g, '.1%')} | "
                             f"{'-' if w is None else format(w, '.0%')} ({s['full_size_trials']}) |")
            fa = r["false_alarms"]["alerts"]
            if fa:
                lines += ["", "Alerts on the untouched series (counted as false alarms): " + "; ".join(
                    f"{a['time'][:16]} {a['place']}{'' if a['place'] == 'total' else ' ' + a['direction']} "
                    f"{a['shift']:+.0%}" for a in fa) + "."]
            lines.append("")
    sfa = res["synthetic_false_alarms"]
    lines += ["## False alarms on long synthetic traffic", "", sfa["series"] + ".", "",
              "| detector | false alarms / week (count) |", "|---|---|"]
    for key, r in sfa["results"].items():
        lines.append(f"| {key} | {r['per_week']:.2f} ({r['count']}) |")
    lines += ["", "## Verdict", "",
              "Strict reading (delay from the surge's start): at 6 h a +15 %-in-7-days ramp has added "
              f"0.15 x 6 / 168 = {0.15 * 6 / 168:.1%} volume, far below the day-to-day spread of total traffic "
              "(sigma of the hourly total residual in the tables above), so no detector can see it that early "
              "without false alarms; detections reported that early are chance alarms (see 'growth at "
              "detection'). The 'within 6 h of full size' column gives the other reading.", ""]
    for ds, d in res["datasets"].items():
        ok = []
        for key, r in d["detectors"].items():
            t = _target_row(r)
            if r["false_alarms"]["per_week"] < TARGET["false_alarms_per_week"] and t.get("within_6h", 0) >= 0.5:
                ok.append(key)
        lines.append(f"* {ds}: " + (f"target met (median within 6 h, < 1 false alarm/week) by {', '.join(ok)}."
                                     if ok else "target NOT met by any configuration: see the tables for what is "
                                     "reached instead."))
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"error: data folder {args.data} not found; pass --data PATH to the shared data")
    res = run(args.data, args.trials, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detect.json").write_text(json.dumps(res, indent=1, default=str))
    (args.out / "detect.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
