"""Offline change-point analysis with ruptures, for labelling and after-the-fact reports.

Unlike the online detectors this looks at the whole series at once: each signal is averaged
over time bins, put in log space, its daily shape (per-bin median over days of each day's
deviation from its own mean, so that level changes stay in the remainder) is removed, and PELT (``ruptures.Pelt``, least-squares cost) segments the remainder. Every change
point is reported with the relative shift between the mean levels of the segments around it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..traffic import TrafficSeries
from .base import complete_bins, phase_of_day, traffic_signals

__all__ = ["offline_changepoints"]


def offline_changepoints(series: TrafficSeries, *, places: str = "total", bin_minutes: float = 60.0,
                         penalty: float = 3.0, min_size_hours: float = 6.0, min_shift: float = 0.05) -> pd.DataFrame:
    """Change points of the watched signals (ruptures PELT).

    Parameters
    ----------
    series : the traffic (bit/s).
    places : 'total' or 'all' (total and every node's in/out traffic).
    bin_minutes : averaging bin.
    penalty : PELT penalty in units of ``sigma^2 log(n)`` (sigma: robust spread of the signal's
        bin-to-bin differences / sqrt 2); larger gives fewer change points.
    min_size_hours : shortest segment.
    min_shift : report only changes of at least this relative size.

    Returns
    -------
    DataFrame ``time`` (UTC start of the new segment), ``place``, ``direction``, ``shift``
    (relative change of the mean level), sorted by time.
    """
    import ruptures as rpt  # lazy: ruptures is optional and only needed here

    if not isinstance(series, TrafficSeries):
        raise ValidationError(f"offline_changepoints needs a TrafficSeries, got {type(series).__name__}")
    step = series.step
    bin_td = pd.Timedelta(minutes=float(bin_minutes))
    if step is None or bin_td < step or bin_td % step != pd.Timedelta(0):
        raise ValidationError(f"bin_minutes={bin_minutes} must be a multiple of the series step {step}")
    vals, names = traffic_signals(series, places)
    bt, B = complete_bins(series.times, vals, bin_td, step)
    if len(bt) < 4:
        raise ValidationError(f"traffic {series.name!r} is too short for change-point analysis ({len(bt)} bins)")
    X = np.log(B + np.maximum(1e-3 * np.median(B, axis=0), 1e-9))
    # daily shape: per-bin median over days of each day's deviation from its own mean, so level
    # changes stay in the remainder (a median over raw days would absorb part of a surge)
    ph = phase_of_day(bt, bin_td)
    day = np.asarray(bt.floor("D").asi8)
    dev = X.copy()
    for d in np.unique(day):
        m = day == d
        dev[m] -= X[m].mean(axis=0)
    shape = np.zeros_like(X)
    for p in np.unique(ph):
        shape[ph == p] = np.median(dev[ph == p], axis=0)
    R = X - shape
    min_size = max(2, int(round(pd.Timedelta(hours=min_size_hours) / bin_td)))
    rows = []
    for k, (place, direction) in enumerate(names):
        r = R[:, k]
        sig = 1.4826 * np.median(np.abs(np.diff(r) - np.median(np.diff(r)))) / np.sqrt(2) if len(r) > 2 else 0.0
        sig = max(sig, 1e-3)
        bkps = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(r).predict(
            pen=float(penalty) * sig ** 2 * np.log(len(r)))
        edges = [0] + list(bkps)
        for i in range(1, len(edges) - 1):
            before = r[edges[i - 1]:edges[i]].mean()
            after = r[edges[i]:edges[i + 1]].mean()
            shift = float(np.expm1(after - before))
            if abs(shift) >= min_shift:
                rows.append({"time": bt[edges[i]], "place": place, "direction": direction, "shift": shift})
    out = pd.DataFrame(rows, columns=["time", "place", "direction", "shift"])
    return out.sort_values("time", kind="stable").reset_index(drop=True)
