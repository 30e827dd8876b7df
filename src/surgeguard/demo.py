"""The demo: Morocco, March 2020.

A national backbone of Moroccan cities (:func:`surgeguard.examples.morocco`), two weeks of
synthetic traffic at 15 minutes around the lockdown of 20 March 2020 (gravity demands from the
2014 census, with the diurnal and weekly shape fitted on real Abilene and GÉANT series), capacities
sized for 60 % peak utilisation on the week *before* the lockdown, then the lockdown scenario, then
a replay with ``shortest``, ``optimal`` (the optimum of the previous interval) and the oracle.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["run_demo", "DEMO_TOTAL_BPS", "LOCKDOWN_START"]

#: Assumed national backbone traffic before the lockdown (mean over the day). Capacities are
#: sized to the traffic, so utilisations do not depend on this number, only bit/s figures do.
DEMO_TOTAL_BPS = 800e9
#: Morocco declared the state of health emergency for 20 March 2020, 18:00 local time (UTC+1).
LOCKDOWN_START = "2020-03-20T17:00Z"


def run_demo(out_dir: str | Path = "demo-output", *, days: float = 14.0, policies=("shortest", "optimal"),
             progress: bool | None = None, seed: int = 2020, forecast_model: str = "lgbm") -> dict:
    """Build, replay and report the Morocco lockdown demo; returns summary, text and file paths."""
    from .evaluate import replay
    from .examples import morocco
    from .plan import size_capacities
    from .report.html import write_replay_report
    from .routing import k_shortest_paths
    from .scenario import Lockdown, gravity_series

    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lockdown_at = pd.Timestamp(LOCKDOWN_START)
    start = (lockdown_at - pd.Timedelta(days=days / 2)).floor("D")
    warmup = 96  # one day of history before the replayed window, so no policy starts cold
    periods = int(round(days * 96))
    net0 = morocco()
    from .classes import DEFAULT_CLASSES, LOCKDOWN_CLASS_FACTORS

    base = gravity_series(net0, start - pd.Timedelta(days=1), periods + warmup, "15min", total_bps=DEMO_TOTAL_BPS,
                          random_state=seed, classes=DEFAULT_CLASSES.shares_dict(), name="morocco-synthetic")
    before = int(np.searchsorted(base.times, lockdown_at))  # size on the traffic before the lockdown
    net = size_capacities(net0, base.window(0, max(before, 1)), target_util=0.6)
    scenario = Lockdown(start=lockdown_at, class_factors=dict(LOCKDOWN_CLASS_FACTORS))
    series = scenario.apply(base, network=net)
    paths = k_shortest_paths(net, k=4)
    scen_info = scenario.describe(base)
    scen_info["capacities"] = net.meta.get("capacity_source", "")
    scen_info["traffic"] = (f"synthetic gravity series, {DEMO_TOTAL_BPS / 1e9:.0f} Gbit/s mean before the "
                            f"lockdown, seed {seed}")
    result = replay(net, paths, series, list(policies), start=warmup, progress=progress, scenario=scen_info)
    files = result.write(out)
    summary = result.summary()
    sections = []
    # forecast of total traffic, and the surge detector fitted on the week before the lockdown
    from .detect import get_detector
    from .detect.report import detector_section
    from .forecast.report import forecast_section

    ref = max(int(np.searchsorted(series.times, lockdown_at)) - 96, 96)
    detector = get_detector("cusum").fit(series.window(0, ref))
    alerts = detector.predict(series.window(ref, len(series)))
    sections.append(forecast_section(series, model=forecast_model, fit_fraction=0.45))
    sections.append(detector_section(series, alerts, detector=detector))
    # every single fibre cut at the busiest lockdown interval: IGP reconvergence and re-optimised TE
    from .plan.whatif import failures_section, run_whatif

    wres = run_whatif(net, series, "single-link", paths=paths, progress=False)
    # critical services: strict-priority allocation class by class, against shortest paths
    from .plan.capacity import capacity_plan_section, lockdown_plan_study
    from .routing.priority import critical_services_section, replay_classes

    cls = replay_classes(net, paths, series, DEFAULT_CLASSES, start=max(before - 96, warmup), progress=progress)
    sections.append(critical_services_section(cls, lockdown_start=lockdown_at))
    sections.append(failures_section(net, result=wres))
    # capacity plan made with the traffic known before 20 March, checked on the lockdown that came
    study = lockdown_plan_study(net, paths, {"planning": base, "actual": series}, max(before, 1),
                                scenario=Lockdown(class_factors=dict(LOCKDOWN_CLASS_FACTORS)),
                                classes=DEFAULT_CLASSES, check_start=max(before - 1, 0))
    sections.append(capacity_plan_section(study))
    report = write_replay_report(
        result, out / "report.html", title="Morocco, March 2020: the lockdown surge on a national backbone",
        intro=(f"{net.n_nodes} cities, {net.n_links // 2} fibre routes; capacities sized for 60% peak "
               f"utilisation on the week before 20 March 2020; then the lockdown scenario "
               f"(+{scenario.growth:.0%} volume over {scenario.ramp_days:g} days, weekdays turn weekend-like, "
               f"uploads grow more). Each policy routes every 15 minutes knowing only the past; the oracle "
               f"knows the interval's traffic in advance."),
        extra_sections=sections)
    files["report"] = Path(report)
    elapsed = time.perf_counter() - t_start
    from .serve.cli import _summary_table  # text formatting only

    s = summary["policies"]
    pre = result.steps[(result.steps["time"] < lockdown_at)]
    post = result.steps[(result.steps["time"] >= lockdown_at)]
    lines = [
        f"{net.describe()}; {len(series) - warmup} intervals of 15 min replayed from "
        f"{series.times[warmup]:%Y-%m-%d %H:%M} UTC (the day before is history only); "
        f"{paths.n_paths} candidate paths",
        f"lockdown from {lockdown_at:%Y-%m-%d %H:%M} UTC: total traffic +"
        f"{post['demand_bps'].mean() / max(pre['demand_bps'].mean(), 1) - 1:.0%} (mean after vs before)",
        "",
        _summary_table(summary),
        "",
    ]
    for name in s:
        lines.append(f"{name:<10} peak MLU before lockdown {pre[pre.policy == name]['mlu'].max():.3f}, "
                     f"after {post[post.policy == name]['mlu'].max():.3f}")
    if alerts:
        a = alerts[0]
        lines.append(f"surge detector: first alert {a.time:%Y-%m-%d %H:%M} UTC at {a.place} "
                     f"({a.shift:+.0%}), {len(alerts)} alerts in all")
    else:
        lines.append("surge detector: no alert")
    lines += ["", f"report: {report}", f"results: {files['steps_csv']}, {files['summary']}",
              f"done in {elapsed:.1f} s"]
    return {"summary": summary, "text": "\n".join(lines), "files": files, "result": result}
