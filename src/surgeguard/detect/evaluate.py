"""Evaluating surge detectors: inject lockdown-shaped surges into a real series at random times.

Protocol (:func:`evaluate_detector`):

* The detector is fitted on the first ``reference_days`` of the untouched series (what normal
  looks like) and then replayed online over the rest.
* **False alarms**: alerts on the untouched rest of the series, per week of monitored time.
* **Surges**: for every (growth, ramp_days) pair, ``n_trials`` starts drawn uniformly (seeded)
  between the end of the reference and ``min_observed_days`` before the end of the series; the
  surge is :class:`~surgeguard.scenario.Lockdown` with that start, growth and ramp (its other
  parameters at their defaults, so weekday daytime is also reshaped). The delay is from the start
  to the first alert at or after it, anywhere (total or any node). A trial without such an alert
  before the series ends is a miss. ``shift_at_detection`` is the volume growth reached by then
  (``growth x ramp``). ``within_<h>h_of_full_size`` reads the target the other way: the share of
  trials (among those that observe the full surge plus ``target_hours``) detected by the time the
  ramp is complete plus ``target_hours``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..scenario import Lockdown
from ..traffic import TrafficSeries
from .base import SurgeDetector

__all__ = ["evaluate_detector", "evaluate_targets", "inject_lockdown"]


def inject_lockdown(series: TrafficSeries, start, growth: float, ramp_days: float, network=None,
                    **params) -> TrafficSeries:
    """``series`` with a :class:`~surgeguard.scenario.Lockdown` surge from ``start`` (UTC)."""
    return Lockdown(start=pd.Timestamp(start), growth=growth, ramp_days=ramp_days, **params).apply(series, network)


def evaluate_detector(detector: SurgeDetector, series: TrafficSeries, *, reference_days: float,
                      growths: Sequence[float] = (0.1, 0.15, 0.3, 0.5), ramp_days: Sequence[float] = (1, 3, 7),
                      n_trials: int = 10, min_observed_days: float = 1.0, random_state: int = 0,
                      target_hours: float = 6.0, network=None) -> dict:
    """Detection delay, miss rate and false alarms per week; see the module docstring.

    Returns
    -------
    dict with ``false_alarms`` (count, per_week, monitored_days, alerts), ``trials`` (one record
    per injected surge) and ``summary`` (per growth and ramp: detected share, median and 90th
    percentile delay in hours, share detected within ``target_hours``).
    """
    if not isinstance(series, TrafficSeries):
        raise ValidationError(f"evaluate_detector needs a TrafficSeries, got {type(series).__name__}")
    step = series.step
    ref_end = int(round(pd.Timedelta(days=reference_days) / step))
    T = len(series)
    last_start = T - int(round(pd.Timedelta(days=min_observed_days) / step))
    if ref_end < 1 or last_start <= ref_end:
        raise ValidationError(f"series of {T} steps of {step} is too short for {reference_days} reference days and "
                              f"{min_observed_days} observed days after a surge start")
    det = detector.clone().fit(series.window(0, ref_end))
    rest = series.window(ref_end, T)
    fa = det.predict(rest)
    monitored = (series.times[-1] - series.times[ref_end] + step) / pd.Timedelta(days=1)
    out = {"detector": det.name, "params": det.get_params(), "reference_days": reference_days,
           "sigma_total": float(det.sigma_[0]), "sigma_source": det.sigma_source_,
           "false_alarms": {"count": len(fa), "monitored_days": float(monitored),
                            "per_week": len(fa) / (monitored / 7.0), "alerts": [a.to_dict() for a in fa]}}
    rng = np.random.default_rng(random_state)
    trials = []
    for g in growths:
        for rd in ramp_days:
            for _ in range(int(n_trials)):
                i0 = int(rng.integers(ref_end, last_start))
                start = series.times[i0]
                surged = inject_lockdown(series, start, g, rd, network=network)
                alerts = det.predict(surged.window(ref_end, T))
                after = [a for a in alerts if a.time >= start]
                rec = {"growth": g, "ramp_days": rd, "start": start.isoformat(),
                       "observed_days": float((series.times[-1] - start) / pd.Timedelta(days=1))}
                if after:
                    first = after[0]
                    delay = (first.time - start) / pd.Timedelta(hours=1)
                    frac = min(1.0, delay / 24.0 / rd) if rd > 0 else 1.0
                    rec.update(detected=True, delay_hours=float(delay), place=first.place,
                               direction=first.direction, estimated_shift=first.shift,
                               shift_at_detection=float(g * frac))
                else:
                    rec.update(detected=False, delay_hours=None)
                trials.append(rec)
    out["trials"] = trials
    summary = []
    df = pd.DataFrame(trials)
    for (g, rd), grp in df.groupby(["growth", "ramp_days"], sort=True):
        d = grp[grp["detected"]]["delay_hours"].astype(float)
        summary.append({
            "growth": float(g), "ramp_days": float(rd), "trials": int(len(grp)),
            "miss_rate": float(1 - grp["detected"].mean()),
            "delay_median_h": float(d.median()) if len(d) else None,
            "delay_p90_h": float(d.quantile(0.9)) if len(d) else None,
            f"within_{target_hours:g}h": float((grp["delay_hours"].fillna(np.inf).astype(float) <= target_hours).mean()),
            "shift_at_detection_median": float(grp["shift_at_detection"].dropna().median())
            if grp["detected"].any() else None,
        })
        # the other reading of the target: detected within target_hours of the surge reaching full size
        full = grp[grp["observed_days"] * 24.0 >= rd * 24.0 + target_hours]
        summary[-1]["full_size_trials"] = int(len(full))
        summary[-1][f"within_{target_hours:g}h_of_full_size"] = (
            float((full["delay_hours"].fillna(np.inf).astype(float) <= rd * 24.0 + target_hours).mean())
            if len(full) else None)
    out["summary"] = summary
    return out


def _first_after(alerts, start):
    after = [a for a in alerts if a.time >= start]
    return after[0] if after else None


def evaluate_targets(detector: SurgeDetector, series: TrafficSeries, *, reference_days: float,
                     step_growths: Sequence[float] = (0.15, 0.30), step_deadlines_h: Sequence[float] = (3.0, 1.0),
                     ramp_growth: float = 0.30, ramp_days: Sequence[float] = (1.0, 3.0, 7.0),
                     ramp_target: float = 0.15, shape_boost: float = 0.5, n_trials: int = 20,
                     random_state: int = 0, utc_offset_hours: float = 0.0, network=None) -> dict:
    """The detection targets on one series: false alarms, steps, ramps and shape changes.

    The detector is fitted on the first ``reference_days`` of the untouched series, then replayed
    online (from a fresh state) over the rest, untouched (every alert is a false alarm) and with
    each injected surge (a :class:`~surgeguard.scenario.Lockdown` from a seeded random start):

    * **steps**: ``growth`` in ``step_growths``, ``ramp_days=0``, no reshaping (``daytime_boost=0``):
      a pure level step at any time of day (starts at least 6 h before the end). Delay = first
      alert at or after the start; met when within the matching ``step_deadlines_h``.
    * **ramps**: ``ramp_growth`` reached linearly over each of ``ramp_days`` (no reshaping); met
      when the first alert comes before the added volume reaches ``ramp_target`` (starts leave
      room for it before the end; a ramp with no room on this series is skipped).
    * **shape**: ``growth=0`` (volume unchanged) and ``daytime_boost=shape_boost`` from local
      midnight of a random workday: the day's shape changes, not its volume; met when alerted
      before that local day ends.

    Returns
    -------
    dict: ``false_alarms`` (count, per_week, monitored_days, alerts), ``steps``, ``ramps``,
    ``shape`` (a summary row per case: trials, met share, miss rate, median / p90 delay hours,
    median growth at the alert for ramps) and ``trials`` (one record each).
    """
    if not isinstance(series, TrafficSeries):
        raise ValidationError(f"evaluate_targets needs a TrafficSeries, got {type(series).__name__}")
    if len(step_growths) != len(step_deadlines_h):
        raise ValidationError(f"step_growths {list(step_growths)} and step_deadlines_h {list(step_deadlines_h)} "
                              "must have the same length")
    step = series.step
    T = len(series)
    ref_end = int(round(pd.Timedelta(days=reference_days) / step))
    if ref_end < 1 or ref_end >= T - int(pd.Timedelta(hours=12) / step):
        raise ValidationError(f"series of {T} steps of {step} is too short for {reference_days} reference days "
                              "and 12 monitored hours")
    det = detector.clone().fit(series.window(0, ref_end))
    rest = series.window(ref_end, T)
    fa = det.predict(rest)
    hour = pd.Timedelta(hours=1)
    monitored = (series.times[-1] - series.times[ref_end] + step) / pd.Timedelta(days=1)
    out = {"detector": det.name, "params": det.get_params(), "reference_days": reference_days,
           "monitored_days": float(monitored),
           "false_alarms": {"count": len(fa), "monitored_days": float(monitored),
                            "per_week": len(fa) / (monitored / 7.0), "alerts": [a.to_dict() for a in fa]}}
    rng = np.random.default_rng(random_state)
    t_end = series.times[-1]
    trials = []

    def run(case, key, start, **lockdown):
        surged = Lockdown(start=start, utc_offset_hours=utc_offset_hours, **lockdown).apply(series, network)
        first = _first_after(det.predict(surged.window(ref_end, T)), start)
        rec = {"case": case, "key": key, "start": start.isoformat(),
               "delay_hours": None if first is None else float((first.time - start) / hour),
               "kind": None if first is None else first.kind, "place": None if first is None else first.place}
        trials.append(rec)
        return rec

    lo = series.times[ref_end]
    for g, deadline in zip(step_growths, step_deadlines_h):
        hi = t_end - pd.Timedelta(hours=6)
        for _ in range(int(n_trials)):
            start = lo + (hi - lo) * float(rng.random())
            rec = run("step", float(g), start.ceil(step), growth=float(g), ramp_days=0.0, daytime_boost=0.0)
            rec["met"] = rec["delay_hours"] is not None and rec["delay_hours"] <= deadline
    for rd in ramp_days:
        need = pd.Timedelta(days=float(rd) * ramp_target / ramp_growth)
        hi = t_end - need
        if hi <= lo:
            continue
        for _ in range(int(n_trials)):
            start = (lo + (hi - lo) * float(rng.random())).ceil(step)
            rec = run("ramp", float(rd), start, growth=float(ramp_growth), ramp_days=float(rd), daytime_boost=0.0)
            d = rec["delay_hours"]
            rec["growth_at_alert"] = None if d is None else float(ramp_growth * min(1.0, d / 24.0 / rd))
            rec["met"] = d is not None and d * hour < need
    off = pd.Timedelta(hours=float(utc_offset_hours))
    local_days = pd.date_range((lo + off).ceil("D"), (t_end + off - pd.Timedelta(hours=20)).floor("D"), freq="D")
    workdays = [d for d in local_days if d.dayofweek < 5]
    for _ in range(int(n_trials) if workdays else 0):
        day = workdays[int(rng.integers(len(workdays)))]
        start = (day - off).tz_localize("UTC") if day.tz is None else day - off
        rec = run("shape", float(shape_boost), start, growth=0.0, ramp_days=0.0, daytime_boost=float(shape_boost))
        rec["met"] = rec["delay_hours"] is not None and rec["delay_hours"] < 24.0
    out["trials"] = trials
    df = pd.DataFrame(trials)
    for case, unit in (("step", "growth"), ("ramp", "ramp_days"), ("shape", "daytime_boost")):
        rows = []
        if len(df):
            for key, grp in df[df["case"] == case].groupby("key", sort=True):
                d = grp["delay_hours"].dropna().astype(float)
                row = {unit: float(key), "trials": int(len(grp)), "met": float(grp["met"].mean()),
                       "miss_rate": float(grp["delay_hours"].isna().mean()),
                       "delay_median_h": float(d.median()) if len(d) else None,
                       "delay_p90_h": float(d.quantile(0.9)) if len(d) else None}
                if case == "ramp":
                    g = grp["growth_at_alert"].dropna().astype(float)
                    row["growth_at_alert_median"] = float(g.median()) if len(g) else None
                rows.append(row)
        out[case + "s" if case != "shape" else case] = rows
    return out
