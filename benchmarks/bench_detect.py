"""Surge detection targets (issue 15) on the real Abilene and GÉANT series, 8 synthetic weeks and the demo.

Usage: python benchmarks/bench_detect.py [--data ../shared/data] [--trials 10] [--seed 0]

Protocol, fixed before the results: each detector learns normal traffic from the first days of the
untouched series (Abilene: 3 days, Mon-Wed, and 7 days, a full week; GÉANT: 2 days, Wed-Fri) and
replays the rest online from a fresh state (surgeguard.detect.evaluate.evaluate_targets). Local
time for day types: Abilene UTC-6 (US Central), GÉANT UTC+2 (CEST). False alarms: every alert on
the untouched rest, per week of monitored time, and on 8 weeks of synthetic traffic (gravity_series
on the Abilene topology, 5 min, seed 7, week 1 as reference). Surges, `--trials` seeded random
starts each, injected with surgeguard.scenario.Lockdown: steps of +15 % and +30 % (ramp 0, no
reshaping; met when alerted within 3 h and 1 h); ramps to +30 % over 1, 3 and 7 days (met when
alerted before the added volume reaches +15 %; skipped where the series leaves no room); shape
changes (volume unchanged, weekday daytime boosted by 50 % from local midnight of a random
workday; met when alerted the same local day). Delay = first alert at or after the start, any
signal. The seasonal detector's defaults (step_z 3.5 confirmed 15 min later, level_z 4,
shape_factor 4) are multiples of the spreads it measures leave-one-day-out on each reference; the
multiples were chosen on the reference parts and the synthetic weeks' false alarms, and the sweep
shows the trade-off around them. The demo rows build the Morocco series as serve/demo.py does, fit
on the traffic up to a day before the lockdown and replay the rest, with the lockdown and, as a
control, without it (alerts there are false alarms). Writes benchmarks/results/detect.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from surgeguard.classes import DEFAULT_CLASSES, LOCKDOWN_CLASS_FACTORS  # noqa: E402
from surgeguard.detect import get_detector  # noqa: E402
from surgeguard.detect.evaluate import evaluate_targets  # noqa: E402
from surgeguard.examples import morocco  # noqa: E402
from surgeguard.io import ABILENE_NODES, GEANT_NODES, read_network, read_sndlib_demands  # noqa: E402
from surgeguard.scenario import Lockdown, gravity_series  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: name -> (file, nodes, UTC offset hours, reference days to run)
DATASETS = {
    "abilene": ("abilene/sndlib_abilene_5min_xml_20040301-20040310.tar.xz", ABILENE_NODES, -6.0, (3.0, 7.0)),
    "geant": ("geant/sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz", GEANT_NODES, 2.0, (2.0,)),
}
CONFIGS = [("seasonal", {}), ("cusum", {}), ("residual", {})]
SWEEP = [("seasonal", {"step_z": z}) for z in (3.0, 5.0, 6.0)] + \
        [("seasonal", {"level_z": z}) for z in (3.0, 5.0)] + [("seasonal", {"places": "all"})]
#: the demo's lockdown (serve/demo.py): Morocco, 2020-03-20 17:00 UTC
DEMO_LOCKDOWN = "2020-03-20T17:00Z"


def label(name, kw):
    return name + ("" if not kw else "(" + ",".join(f"{k}={v}" for k, v in kw.items()) + ")")


def make(name, kw, offset):
    """A detector; seasonal ones get the series' local time."""
    return get_detector(name, **({"utc_offset_hours": offset} if name == "seasonal" else {}), **kw)


def synthetic_false_alarms(data: Path, configs) -> dict:
    net = read_network(data / "abilene" / "topology" / "sndlib_abilene.xml")
    weeks = 8
    ts = gravity_series(net, "2004-03-01", periods=weeks * 7 * 288, freq="5min", total_bps=3e9, random_state=7)
    ref = 7 * 288
    out = {"series": f"gravity_series on the Abilene topology, {weeks} weeks at 5 min, seed 7; reference: week 1",
           "results": {}}
    for name, kw in configs:
        alerts = get_detector(name, **kw).fit(ts.window(0, ref)).predict(ts.window(ref, len(ts)))
        out["results"][label(name, kw)] = {"count": len(alerts), "per_week": len(alerts) / (weeks - 1),
                                           "alerts": [str(a) for a in alerts[:10]]}
    return out


def demo_first_alert(configs) -> dict:
    """The demo's series (as serve/demo.py builds it: seed 2020, 14 days, 800 Gbit/s, Lockdown with the
    demo's class factors), the detector fitted up to a day before the lockdown, replayed after."""
    from surgeguard.plan import size_capacities

    lockdown_at = pd.Timestamp(DEMO_LOCKDOWN)
    start = (lockdown_at - pd.Timedelta(days=7)).floor("D")
    net0 = morocco()
    base = gravity_series(net0, start - pd.Timedelta(days=1), 14 * 96 + 96, "15min", total_bps=800e9,
                          random_state=2020, classes=DEFAULT_CLASSES.shares_dict(), name="morocco-synthetic")
    before = int(np.searchsorted(base.times, lockdown_at))
    net = size_capacities(net0, base.window(0, before), target_util=0.6)
    series = Lockdown(start=lockdown_at, class_factors=dict(LOCKDOWN_CLASS_FACTORS)).apply(base, network=net)
    ref = max(int(np.searchsorted(series.times, lockdown_at)) - 96, 96)
    out = {}
    for name, kw in configs:
        det = get_detector(name, **kw).fit(series.window(0, ref))
        alerts = det.predict(series.window(ref, len(series)))
        pre = [a for a in alerts if a.time < lockdown_at]
        post = [a for a in alerts if a.time >= lockdown_at]
        control = det.clone().fit(base.window(0, ref)).predict(base.window(ref, len(base)))
        out[label(name, kw)] = {
            "first_alert": str(post[0]) if post else None,
            "hours_after_lockdown": float((post[0].time - lockdown_at) / pd.Timedelta(hours=1)) if post else None,
            "alerts_before_lockdown": len(pre), "alerts": len(alerts),
            "control_alerts": len(control), "control_first": str(control[0]) if control else None}
    return out


def run(data: Path, trials: int, seed: int) -> dict:
    res = {"machine": machine_info(), "run_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "protocol": " ".join(__doc__.split("\n\n")[2].split()), "runs": {}}
    t0 = time.perf_counter()
    for ds, (rel, nodes, offset, refs) in DATASETS.items():
        series = read_sndlib_demands(data / rel, nodes=nodes)
        for ref_days in refs:
            key_ds = f"{ds}, reference {ref_days:g} days"
            rows = {}
            for name, kw in CONFIGS + SWEEP:
                print(f"[{key_ds}] {label(name, kw)} ...", file=sys.stderr, flush=True)
                r = evaluate_targets(make(name, kw, offset), series, reference_days=ref_days, n_trials=trials,
                                     random_state=seed, utc_offset_hours=offset)
                r.pop("trials")
                rows[label(name, kw)] = r
            res["runs"][key_ds] = {"series": series.name, "steps": len(series), "step": str(series.step),
                                   "utc_offset_hours": offset, "detectors": rows}
    print("[synthetic] false alarms ...", file=sys.stderr, flush=True)
    res["synthetic_false_alarms"] = synthetic_false_alarms(data, CONFIGS + SWEEP)
    print("[demo] first alert ...", file=sys.stderr, flush=True)
    res["demo"] = demo_first_alert(CONFIGS + SWEEP)
    res["total_seconds"] = time.perf_counter() - t0
    return res


def _cell(rows, key, value, deadline=None):
    r = next((x for x in rows if x[key] == value), None)
    if r is None:
        return "n/a"
    med = "-" if r["delay_median_h"] is None else f"{r['delay_median_h']:.1f}"
    p90 = "-" if r["delay_p90_h"] is None else f"{r['delay_p90_h']:.1f}"
    return f"{r['met']:.0%} ({med} / {p90} h, miss {r['miss_rate']:.0%})"


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# Surge detection targets (issue 15): real Abilene and GÉANT, synthetic weeks, the demo", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count')} cores (shared); run {res['run_utc']}; "
             f"total {res['total_seconds']:.0f} s.", "", res["protocol"], "",
             "Targets: +30 % step alerted within 1 h, +15 % within 3 h; a ramp alerted before it is +15 % above "
             "normal; < 1 false alarm per week on the untouched real series and on 8 synthetic weeks; shape changes "
             "detected; the demo's first alert within 24 h of the lockdown.", "",
             "Each cell: share of trials that met the target (median / p90 delay from the start in hours, miss "
             "rate = no alert at all before the series ends). Ramps: +30 % over the given days, met = alerted "
             "before +15 %.", ""]
    for key_ds, d in res["runs"].items():
        lines += [f"## {key_ds} ({d['steps']} steps of {d['step']}, local time UTC{d['utc_offset_hours']:+g})", "",
                  "| detector | false alarms / week (count, days) | step +30 % in 1 h | step +15 % in 3 h | ramp 1 d | "
                  "ramp 3 d | ramp 7 d | shape (same day) |", "|---|---|---|---|---|---|---|---|"]
        for key, r in d["detectors"].items():
            fa = r["false_alarms"]
            lines.append(f"| {key} | {fa['per_week']:.2f} ({fa['count']}, {fa['monitored_days']:.1f} d) | "
                         f"{_cell(r['steps'], 'growth', 0.3)} | {_cell(r['steps'], 'growth', 0.15)} | "
                         f"{_cell(r['ramps'], 'ramp_days', 1.0)} | {_cell(r['ramps'], 'ramp_days', 3.0)} | "
                         f"{_cell(r['ramps'], 'ramp_days', 7.0)} | {_cell(r['shape'], 'daytime_boost', 0.5)} |")
        fa = d["detectors"]["seasonal"]["false_alarms"]["alerts"]
        lines += ["", "seasonal's alerts on the untouched series: " + (
            "; ".join(f"{a['time'][:16]} {a['place']} {a['kind']} {a['shift']:+.0%}" for a in fa) if fa else
            "none") + ".", ""]
    sfa = res["synthetic_false_alarms"]
    lines += ["## False alarms on 8 synthetic weeks", "", sfa["series"] + ".", "",
              "| detector | false alarms / week (count) |", "|---|---|"]
    for key, r in sfa["results"].items():
        lines.append(f"| {key} | {r['per_week']:.2f} ({r['count']}) |")
    lines += ["", "## The demo (Morocco, lockdown 2020-03-20 17:00 UTC)", "",
              "| detector | first alert after the lockdown | hours after | alerts before the lockdown | alerts | "
              "control without the lockdown: alerts (first) |",
              "|---|---|---|---|---|---|"]
    for key, r in res["demo"].items():
        h = "-" if r["hours_after_lockdown"] is None else f"{r['hours_after_lockdown']:.1f}"
        ctl = f"{r['control_alerts']}" + (f" ({' '.join(r['control_first'].split())})" if r["control_first"] else "")
        lines.append(f"| {key} | {' '.join((r['first_alert'] or 'none').split())} | {h} | "
                     f"{r['alerts_before_lockdown']} | {r['alerts']} | {ctl} |")
    lines += ["", "## Verdict (seasonal, defaults)", "", *verdict(res)]
    return "\n".join(lines) + "\n"


def verdict(res: dict) -> list[str]:
    """One line per target, read from the tables above."""
    out = []
    for key_ds, d in res["runs"].items():
        r = d["detectors"]["seasonal"]
        cell = {(c, row.get("growth", row.get("ramp_days", row.get("daytime_boost")))): row
                for c in ("steps", "ramps", "shape") for row in r[c]}
        s30, s15 = cell.get(("steps", 0.3)), cell.get(("steps", 0.15))
        ramps = ", ".join(f"{k[1]:g} d {v['met']:.0%}" for k, v in cell.items() if k[0] == "ramps")
        shp = cell.get(("shape", 0.5))
        fa = r["false_alarms"]
        out.append(f"* {key_ds}: +30 % step within 1 h {s30['met']:.0%} of trials (median {s30['delay_median_h']:.1f} h); "
                   f"+15 % within 3 h {s15['met']:.0%}; ramps alerted before +15 %: {ramps or 'n/a'}; shape "
                   f"{'n/a' if shp is None else format(shp['met'], '.0%')}; false alarms {fa['per_week']:.2f}/week "
                   f"({fa['count']} in {fa['monitored_days']:.1f} days).")
    syn = res["synthetic_false_alarms"]["results"]["seasonal"]
    demo = res["demo"]["seasonal"]
    out += [f"* 8 synthetic weeks: {syn['per_week']:.2f} false alarms/week.",
            f"* Demo: first alert {demo['hours_after_lockdown']:.1f} h after the lockdown "
            f"({' '.join(demo['first_alert'].split())}); {demo['control_alerts']} alerts on the same week without it.",
            "* The one alert on the untouched Abilene series (2004-03-08 ~01:25 UTC, Sunday evening local) is a real "
            "surge: LOSAng->CHINng adds ~1.5 Gbit/s, the total rises ~40 % for about 1.5 h. A detector that alerts a "
            "+30 % step within the hour has to alert it; it is counted as a false alarm here all the same.",
            "* Not met: +15 % steps within 3 h (step spread on Abilene 0.037-0.045 in log units, so the threshold "
            "3.5 sigma is 0.13-0.16, at or above log 1.15 = 0.14) and ramps before +15 % on Abilene (the daily level "
            "of its total wanders by 8 % (EWMA spread 0.08), so a level test with < 1 false alarm/week needs about "
            "+30 %). step_z=3 in the sweep trades one more real-series false alarm for +15 % steps."]
    return out


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
