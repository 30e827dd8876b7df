"""Run-out dates: when each link's peak utilisation crosses the warning and critical thresholds.

Three sources of the future, one result (:class:`RunoutResult`, one row per link):

* **a forecast** (``forecast=``): a :class:`~surgeguard.traffic.TrafficSeries` of future matrices,
  from any forecaster (e.g. ``surgeguard.forecast`` where installed). Each link's load is computed
  over the forecast with the routing, and a threshold's date is the first forecast step whose
  utilisation reaches it (NaT: not within the forecast).
* **a stated growth rate** (``growth=g``, per year): each link's base is its peak utilisation over
  the last ``window_days`` of the series; it grows as ``base (1 + g)^(years)`` (``model="compound"``)
  or ``base (1 + g years)`` (``model="linear"``), with years = days / 365.25 from the end of the
  series. The date solves ``util = threshold``.
* **the series' own trend** (neither given): each link's *daily peak* utilisation (the maximum over
  each UTC day, placed at the time it occurred; only complete days) is fitted by least squares
  against time in days -- a line (``model="linear"``) or a line in log (``model="compound"``) --
  and the date solves ``fit(t) = threshold``. Needs at least two days; a flat or falling trend never crosses (NaT).

A link already at or above a threshold at the end of the series gets ``status`` ``'crossed'`` and
the date is the first day its observed daily peak reached it (trend) or the end of the series
(stated growth; forecast: the first step). Dates are UTC, capped at ``horizon_days``.

The routing is fixed: ``shortest`` (IGP + ECMP, the default: loads scale with traffic) or another
policy name, whose routing of the series' highest-total step is then kept for every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..forecast import get_forecaster
from ..network import Network
from ..paths import k_shortest_paths
from ..routing import get_policy
from ..traffic import TrafficSeries

__all__ = ["RunoutResult", "runout_dates", "DEFAULT_THRESHOLDS"]

#: warning and critical utilisation thresholds
DEFAULT_THRESHOLDS = (0.7, 0.9)
_YEAR_DAYS = 365.25


@dataclass(eq=False)
class RunoutResult:
    """Run-out dates per link.

    Attributes
    ----------
    frame : one row per link (index: link name): src, dst, capacity_bps, peak_util (now), trend
        (utilisation per day for a linear fit, relative growth per day for a compound one, NaN
        otherwise), ``<name>_date`` for each threshold (UTC, NaT = not within the horizon) and
        ``<name>_status`` ('crossed', 'ahead', 'not in horizon').
    thresholds : ``{name: utilisation}`` (``{'warning': 0.7, 'critical': 0.9}``).
    source : ``'trend'``, ``'growth'`` or ``'forecast'``; ``model``; ``now`` (end of the series, UTC).
    """

    frame: pd.DataFrame
    thresholds: dict
    source: str
    model: str
    now: pd.Timestamp
    info: dict = field(default_factory=dict)

    def soonest(self, n: int = 10, threshold: str = "critical") -> pd.DataFrame:
        """The ``n`` links that reach ``threshold`` first."""
        col = f"{threshold}_date"
        if col not in self.frame:
            raise ValidationError(f"unknown threshold {threshold!r}; thresholds are {list(self.thresholds)}")
        return self.frame.sort_values([col, "peak_util"], ascending=[True, False]).head(n)

    def to_dict(self) -> dict:
        f = self.frame.reset_index()
        for c in f.columns:
            if c.endswith("_date"):
                f[c] = f[c].map(lambda x: None if pd.isna(x) else x.isoformat())
        return {"source": self.source, "model": self.model, "now": self.now.isoformat(),
                "thresholds": self.thresholds, "links": f.to_dict(orient="records"), **self.info}

    def text(self, n: int = 15) -> str:
        names = list(self.thresholds)
        head = f"{'link':<28} {'peak util':>9} " + " ".join(f"{k + ' (' + format(v, 'g') + ')':>22}" for k, v in self.thresholds.items())
        lines = [f"run-out dates ({self.source}, {self.model}; now {self.now:%Y-%m-%d %H:%M} UTC)", head, "-" * len(head)]
        for link, r in self.soonest(n, names[-1]).iterrows():
            cells = []
            for k in names:
                d = r[f"{k}_date"]
                st = r[f"{k}_status"]
                cells.append(f"{(d.strftime('%Y-%m-%d') if not pd.isna(d) else '-') + (' (crossed)' if st == 'crossed' else ''):>22}")
            lines.append(f"{link:<28} {r['peak_util']:>9.3f} " + " ".join(cells))
        return "\n".join(lines)


def _routing_splits(network, paths, series, policy):
    if policy == "shortest":
        return get_policy("shortest").route(network, paths, None).splits
    t = int(np.argmax(series.total.sum(axis=(1, 2))))
    return get_policy(policy).route(network, paths, series.matrix(t)).splits


def _loads(paths, splits, mats):
    d = mats[:, paths.od_src, paths.od_dst]
    return (paths.incidence @ (d[:, paths.path_od] * splits).T).T  # (T, L)


def runout_dates(network: Network, series: TrafficSeries, *, paths=None, k: int = 4, policy: str = "shortest",
                 growth: float | None = None, model: str = "linear", thresholds=DEFAULT_THRESHOLDS,
                 threshold_names: Sequence[str] = ("warning", "critical"), window_days: float = 7.0,
                 horizon_days: float = 3650.0, forecast=None, forecast_steps: int | None = None) -> RunoutResult:
    """Run-out dates of every link (see the module notes).

    Parameters
    ----------
    network, series : the network and the measured traffic (bit/s, UTC).
    paths : candidate paths (default ``k`` shortest).
    policy : the fixed routing: ``'shortest'`` or a policy name (its routing of the peak step).
    growth : stated growth per year (0.3 = +30 %/year); None: the series' trend or the forecast.
    model : ``'linear'`` or ``'compound'``.
    thresholds, threshold_names : utilisations and their names (default 0.7 warning, 0.9 critical).
    window_days : for a stated growth, the base is the peak over this many last days.
    horizon_days : dates beyond now + this are NaT.
    forecast : future traffic; when given, dates come from it (``growth`` must be None). A
        :class:`TrafficSeries`, or a forecaster -- a name of :func:`surgeguard.forecast.get_forecaster`
        (where that package is installed) or an object with ``fit(series)`` and ``predict(h)`` --
        fitted on ``series`` and asked for ``forecast_steps`` steps.
    forecast_steps : steps to forecast with a forecaster (default: 28 days of the series' step).

    Examples
    --------
    >>> from surgeguard.examples import triangle
    >>> net = triangle(10e9)
    >>> t = pd.date_range("2024-01-01", periods=10, freq="D", tz="UTC")
    >>> v = np.zeros((10, 3, 3)); v[:, 0, 1] = 3e9 + 0.1e9 * np.arange(10)   # +1 % of 10G a day
    >>> res = runout_dates(net, TrafficSeries(v, net.node_names, t))
    >>> res.frame.loc["A->B", "warning_date"].strftime("%Y-%m-%d")
    '2024-02-10'
    """
    if model not in ("linear", "compound"):
        raise ValidationError(f"model={model!r} must be 'linear' or 'compound'")
    th = [float(x) for x in thresholds]
    if len(th) != len(threshold_names):
        raise ValidationError(f"{len(th)} thresholds for {len(threshold_names)} names; give one name per threshold")
    if any(not 0 < x for x in th):
        raise ValidationError(f"thresholds {th} must be > 0 (utilisation, e.g. 0.7 and 0.9)")
    if growth is not None and forecast is not None:
        raise ValidationError("give either growth= or forecast=, not both")
    if growth is not None and not (np.isfinite(growth) and growth > -1):
        raise ValidationError(f"growth={growth!r} must be > -1 per year (0.3 means +30 %/year)")
    if len(series) == 0:
        raise ValidationError(f"traffic {series.name!r} has no steps")
    series = series.reorder(network.node_names)
    paths = k_shortest_paths(network, k=k) if paths is None else paths
    paths.check_network(network)
    splits = _routing_splits(network, paths, series, policy)
    cap = network.capacity
    util = _loads(paths, splits, series.total) / cap  # (T, L)
    now = series.times[-1]
    horizon = now + pd.Timedelta(days=horizon_days)
    names = list(threshold_names)
    L = network.n_links
    dates = {n: np.full(L, pd.NaT, dtype=object) for n in names}
    status = {n: np.full(L, "not in horizon", dtype=object) for n in names}
    trend = np.full(L, np.nan)
    info: dict = {}
    if forecast is not None and not isinstance(forecast, TrafficSeries):
        forecast = _forecast_series(series, forecast, forecast_steps)
        info["forecaster"] = str(forecast.meta.get("forecaster", ""))
    if forecast is not None:
        fc = forecast.reorder(network.node_names)
        fu = _loads(paths, splits, fc.total) / cap  # (F, L)
        peak = util[util_window(series, window_days)].max(axis=0)
        for n, x in zip(names, th):
            hit = fu >= x
            first = np.where(hit.any(axis=0), hit.argmax(axis=0), -1)
            for l in range(L):
                if peak[l] >= x:
                    dates[n][l], status[n][l] = fc.times[0] if len(fc) else now, "crossed"
                elif first[l] >= 0 and fc.times[first[l]] <= horizon:
                    dates[n][l], status[n][l] = fc.times[first[l]], "ahead"
        source = "forecast"
        info["forecast_steps"] = int(len(fc))
    elif growth is not None:
        peak = util[util_window(series, window_days)].max(axis=0)
        g = float(growth)
        for n, x in zip(names, th):
            for l in range(L):
                b = peak[l]
                if b >= x:
                    dates[n][l], status[n][l] = now, "crossed"
                    continue
                if b <= 0 or g <= 0:
                    continue
                years = np.log(x / b) / np.log1p(g) if model == "compound" else (x / b - 1.0) / g
                if years * _YEAR_DAYS > horizon_days + 1:  # beyond the horizon (maybe beyond pandas' dates)
                    continue
                when = (now + pd.Timedelta(days=float(years * _YEAR_DAYS))).round("min")
                if when <= horizon:
                    dates[n][l], status[n][l] = when, "ahead"
        trend[:] = (np.log1p(g) / _YEAR_DAYS) if model == "compound" else np.nan
        source = "growth"
        info["growth_per_year"] = g
    else:
        days = series.times.floor("D")
        tsec = (series.times - series.times[0]) / pd.Timedelta(days=1)
        tsec = np.asarray(tsec, dtype=float)
        uday, inv = np.unique(np.asarray(days.asi8), return_inverse=True)
        counts = np.bincount(inv)
        full = np.flatnonzero(counts >= counts.max())  # complete days only
        if len(full) < 2:
            raise ValidationError(
                f"traffic {series.name!r} covers {len(full)} complete day(s); a trend needs at least 2 -- "
                "give growth= (per year) or a forecast instead")
        # daily peak of each link and when it happened (days since the first step)
        Y = np.zeros((len(full), L))
        Tm = np.zeros((len(full), L))
        for i, dd in enumerate(full):
            rows = np.flatnonzero(inv == dd)
            am = rows[np.argmax(util[rows], axis=0)]
            Y[i] = util[am, np.arange(L)]
            Tm[i] = tsec[am]
        day_start = pd.DatetimeIndex(pd.to_datetime(uday[full], utc=True))
        peak = Y[-1]
        if model == "compound":
            ok = (Y > 0).all(axis=0)
            Yf = np.log(np.where(Y > 0, Y, 1.0))
        else:
            ok = np.ones(L, dtype=bool)
            Yf = Y
        tm_mean = Tm.mean(axis=0)
        y_mean = Yf.mean(axis=0)
        var = ((Tm - tm_mean) ** 2).sum(axis=0)
        b = np.where(var > 0, ((Tm - tm_mean) * (Yf - y_mean)).sum(axis=0) / np.where(var > 0, var, 1.0), 0.0)
        a = y_mean - b * tm_mean
        trend = np.where(ok, b, np.nan)
        t0 = series.times[0]
        now_days = (now - t0) / pd.Timedelta(days=1)
        for n, x in zip(names, th):
            for l in range(L):
                obs = np.flatnonzero(Y[:, l] >= x)
                if len(obs) and Y[-1, l] >= x:
                    dates[n][l], status[n][l] = day_start[obs[0]], "crossed"
                    continue
                if not ok[l] or not b[l] > 0:
                    continue
                target = np.log(x) if model == "compound" else x
                tc = (target - a[l]) / b[l]
                if tc - now_days > horizon_days + 1:  # beyond the horizon (maybe beyond pandas' dates)
                    continue
                if tc < now_days - 1:  # the fit says crossed but the last day is below: now
                    when = now
                else:
                    when = (t0 + pd.Timedelta(days=float(tc))).round("min")
                    if when <= now:
                        when = now
                if when <= horizon:
                    dates[n][l], status[n][l] = when, "ahead"
        source = "trend"
        info["days_fitted"] = int(len(full))
    lk = network.links
    out = pd.DataFrame({"src": lk["src"].to_numpy(), "dst": lk["dst"].to_numpy(), "capacity_bps": cap,
                        "peak_util": peak, "trend": trend}, index=lk.index)
    for n in names:
        out[f"{n}_date"] = pd.to_datetime(pd.Series(dates[n], index=lk.index), utc=True)
        out[f"{n}_status"] = status[n]
    info.update(policy=policy, window_days=window_days, horizon_days=horizon_days)
    return RunoutResult(out, dict(zip(names, th)), source, model, now, info)


def _forecast_series(series: TrafficSeries, forecaster, steps: int | None) -> TrafficSeries:
    """Fit ``forecaster`` (a name or an object with fit/predict) on ``series`` and return its
    forecast of ``steps`` steps as a TrafficSeries after the series' end."""
    if series.step is None:
        raise ValidationError("a forecaster needs a series with at least two steps")
    if isinstance(forecaster, str):
        model = get_forecaster(forecaster)
        label = forecaster
    else:
        if not (hasattr(forecaster, "fit") and hasattr(forecaster, "predict")):
            raise ValidationError(f"forecast={forecaster!r} must be a TrafficSeries, a forecaster name or an object "
                                  "with fit(series) and predict(h)")
        model, label = forecaster, type(forecaster).__name__
    h = int(steps) if steps is not None else int(round(pd.Timedelta(days=28) / series.step))
    if h < 1:
        raise ValidationError(f"forecast_steps={steps!r} must be >= 1")
    model.fit(series.with_values(series.total) if series.classes is None else
              TrafficSeries(series.total, series.nodes, series.times, None, series.name, dict(series.meta)))
    out = model.predict(h)
    if isinstance(out, dict):
        out = out["mean"]
    vals = np.clip(np.asarray(out, dtype=float), 0.0, None)
    times = series.times[-1] + series.step * np.arange(1, h + 1)
    return TrafficSeries(vals, series.nodes, times, None, f"{series.name}:forecast", {"forecaster": label})


def util_window(series: TrafficSeries, window_days: float) -> np.ndarray:
    """Boolean mask of the steps in the last ``window_days`` of the series."""
    return np.asarray(series.times > series.times[-1] - pd.Timedelta(days=window_days))
