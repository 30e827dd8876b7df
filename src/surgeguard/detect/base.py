"""Surge detection: the contract, the signals it watches and the alerts it raises.

A detector watches **signals** derived from a traffic series: the network total and, for every
node, the traffic it sends (``out``: row sum) and receives (``in``: column sum), all in bit/s.
``fit(series)`` learns what normal looks like from a reference period (a daily profile per
signal, in log space, over time bins of ``bin_minutes``, and the spread of the residuals);
``predict(series)`` replays a series through the detector from a fresh state and returns the
:class:`Alert` s it raises, using at each bin only the data up to that bin (online);
``update(series)`` continues from the current state (streaming: feed each new step or chunk).

Residuals are ``log(mean traffic in the bin) - profile(time of day) - level``; a relative surge
of +15 % is a residual of log(1.15) = 0.14. Alerts carry that size as a relative shift.
The daily profile is the per-bin median over the reference days; the residual spread (sigma,
1.4826 x MAD) is measured leave-one-day-out (each day against the profile of the others) when
the reference holds two or more days, so it is not shrunk by fitting, and floored at
``min_sigma``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError, ValidationError
from ..traffic import TrafficSeries
from ..validation import Interval, Options, Params, Registry

__all__ = ["Alert", "SurgeDetector", "traffic_signals", "register_detector", "get_detector",
           "available_detectors", "DETECTORS", "complete_bins", "phase_of_day"]

#: every surge detector by name; see :func:`register_detector`.
DETECTORS = Registry("detector")


@dataclass(frozen=True)
class Alert:
    """A detected shift of a traffic signal.

    Attributes
    ----------
    time : UTC timestamp of the last step used (the alert is raised once that step's data is in).
    place : 'total' or a node name.
    direction : 'total', 'out' (traffic the node sends) or 'in' (traffic it receives).
    shift : estimated relative shift against the learned normal, e.g. 0.15 for +15 %.
    detector : name of the detector that raised it.
    score : the detector's statistic when it fired (in units of the residual sigma).
    kind : what moved: 'level' (the signal drifted above its normal level), 'step' (a sudden
        change against the last hours) or 'shape' (today's daily shape left the workday shape).
    """

    time: pd.Timestamp
    place: str
    direction: str
    shift: float
    detector: str
    score: float = float("nan")
    kind: str = "level"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["time"] = pd.Timestamp(self.time).isoformat()
        return d

    def __str__(self) -> str:
        where = "total" if self.place == "total" else f"{self.place} {self.direction}"
        kind = "" if self.kind == "level" else f"{self.kind}, "
        return (f"{pd.Timestamp(self.time).strftime('%Y-%m-%d %H:%M')} UTC  {where:<18} shift {self.shift:+.1%}  "
                f"({kind}{self.detector}, score {self.score:.1f})")


def register_detector(name: str):
    """Class decorator adding a :class:`SurgeDetector` subclass to :data:`DETECTORS` under ``name``."""
    return DETECTORS.register(name)


def available_detectors() -> list[str]:
    """Registered detector names, sorted."""
    return DETECTORS.names()


def get_detector(name: str, **params) -> "SurgeDetector":
    """A new, unfitted detector by name ('seasonal', the recommended one; 'cusum', 'residual').

    Unknown names or parameters raise :class:`~surgeguard.ValidationError` listing the valid ones.

    >>> get_detector("cusum", places="total").places
    'total'
    >>> get_detector("bocpd")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: unknown detector 'bocpd'; choose one of: cusum, residual, seasonal
    """
    return DETECTORS.get(name, **params)


def traffic_signals(series: TrafficSeries, places: str = "all",
                    classes: bool = False) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The watched signals of a series, in bit/s.

    Parameters
    ----------
    series : TrafficSeries.
    places : 'all' (total, then each node's out and in traffic) or 'total'.
    classes : also each traffic class's network total, right after the total, named
        ``('class:<name>', 'total')`` (when the series has classes).

    Returns
    -------
    (values of shape (T, K), names: K pairs (place, direction)); self-demand is left out.

    Examples
    --------
    >>> import numpy as np
    >>> ts = TrafficSeries(np.ones((2, 2, 2)), nodes=["A", "B"])
    >>> v, names = traffic_signals(ts)
    >>> names
    [('total', 'total'), ('A', 'out'), ('B', 'out'), ('A', 'in'), ('B', 'in')]
    >>> v[0].tolist()
    [2.0, 1.0, 1.0, 1.0, 1.0]
    """
    if places not in ("all", "total"):
        raise ValidationError(f"places={places!r} must be 'all' (total and per-node in/out) or 'total'")
    v = series.total.copy()
    idx = np.arange(series.n_nodes)
    v[:, idx, idx] = 0.0
    cols = [v.sum(axis=(1, 2))[:, None]]
    names = [("total", "total")]
    if classes and series.classes is not None:
        per = series.values.copy()
        per[:, :, idx, idx] = 0.0
        cols.append(per.sum(axis=(2, 3)))
        names += [(f"class:{c}", "total") for c in series.classes]
    if places == "all":
        cols += [v.sum(axis=2), v.sum(axis=1)]
        names += [(n, "out") for n in series.nodes] + [(n, "in") for n in series.nodes]
    return np.concatenate(cols, axis=1), names


class SurgeDetector(Params):
    """Base class: daily-profile baseline per signal over time bins, online processing.

    Subclasses set ``__init__`` parameters (stored as given), declare their valid ranges in
    ``_parameter_constraints`` (checked by :meth:`validate` when ``fit`` starts; see
    :mod:`surgeguard.validation`) and implement ``_calibrate(resid)``
    (after the baseline is fitted; ``resid`` are leave-one-day-out residuals (bins, K)),
    ``_reset_state()`` and ``_step(r) -> (alarm mask, log shift, score)`` for one bin of
    residuals ``r`` (K,).
    """

    name: ClassVar[str] = "base"
    #: whether each traffic class's total is watched too (when the series has classes)
    watch_classes: ClassVar[bool] = False
    places: str = "all"
    bin_minutes: float = 60.0
    direction: str = "up"
    min_sigma: float = 0.03
    _parameter_constraints: ClassVar[dict] = {
        "places": [Options({"all", "total"})],
        "bin_minutes": [Interval(float, 0, None, closed="neither")],
        "direction": [Options({"up", "both"})],
        "min_sigma": [Interval(float, 0, None, closed="neither")],
    }

    # ------------------------------------------------------------------ fit
    def fit(self, series: TrafficSeries) -> "SurgeDetector":
        """Learn normal traffic from a reference series (at least one full day); returns self."""
        step = self._reference_step(series)
        bin_td = pd.Timedelta(minutes=float(self.bin_minutes))
        if bin_td < step or (bin_td % step) != pd.Timedelta(0) or (pd.Timedelta(days=1) % bin_td) != pd.Timedelta(0):
            raise ValidationError(f"{self.name}: bin_minutes={self.bin_minutes} must be a multiple of the series step "
                                  f"{step} and divide one day (e.g. 15, 30, 60)")
        vals, names = traffic_signals(series, self.places)
        bt, B = complete_bins(series.times, vals, bin_td, step)
        n_phase = int(pd.Timedelta(days=1) / bin_td)
        if len(bt) < n_phase:
            raise ValidationError(f"{self.name}.fit: the reference traffic {series.name!r} covers {len(bt)} bins of "
                                  f"{bin_td}; at least one full day ({n_phase} bins) is needed")
        self.floor_ = np.maximum(1e-3 * np.median(B, axis=0), 1e-9)
        X = np.log(B + self.floor_)
        phase = phase_of_day(bt, bin_td)
        day = np.asarray(bt.floor("D").asi8)
        prof = np.full((n_phase, X.shape[1]), np.nan)
        for p in range(n_phase):
            m = phase == p
            if m.any():
                prof[p] = np.median(X[m], axis=0)
        prof = np.where(np.isnan(prof), np.nanmedian(prof, axis=0), prof)
        # leave-one-day-out residuals
        days = np.unique(day)
        resid = X - prof[phase]
        if len(days) >= 2:
            loo = np.empty_like(X)
            for d in days:
                other = day != d
                for p in np.unique(phase[day == d]):
                    mo = other & (phase == p)
                    ref = np.median(X[mo], axis=0) if mo.any() else prof[p]
                    sel = (day == d) & (phase == p)
                    loo[sel] = X[sel] - ref
            resid = loo
            self.sigma_source_ = "leave-one-day-out"
        else:
            self.sigma_source_ = "in-sample (one reference day): floored at min_sigma"
        sigma = 1.4826 * np.median(np.abs(resid - np.median(resid, axis=0)), axis=0)
        # bin-to-bin spread: a lower bound that one reference day can still measure
        d = np.diff(X - prof[phase], axis=0)
        sigma_diff = 1.4826 * np.median(np.abs(d - np.median(d, axis=0)), axis=0) / np.sqrt(2)
        self.sigma_ = np.maximum(np.maximum(sigma, sigma_diff), float(self.min_sigma))
        # lag-1 autocorrelation of the residuals (AR(1) long-run variance for the thresholds)
        rc = resid - resid.mean(axis=0)
        den = (rc ** 2).sum(axis=0)
        rho = np.where(den > 0, (rc[1:] * rc[:-1]).sum(axis=0) / np.where(den > 0, den, 1), 0.0)
        self.rho_ = np.clip(rho, 0.0, 0.9)
        self.profile_ = prof
        self.names_ = names
        self.is_node_ = np.array([pl != "total" for pl, _ in names])
        self.nodes_ = tuple(series.nodes)
        self.step_ = step
        self.bin_ = bin_td
        self.n_reference_days_ = float(len(bt) / n_phase)
        self._calibrate(resid)
        self.reset()
        return self

    # ------------------------------------------------------------------ online
    def reset(self) -> "SurgeDetector":
        """Forget the online state (statistics, level shifts, pending bin); keep the fitted baseline."""
        self._check_fitted("reset")
        K = len(self.names_)
        self.level_ = np.zeros(K)
        self._pend_t = pd.DatetimeIndex([], tz="UTC")
        self._pend_v = np.zeros((0, K))
        self._reset_state()
        return self

    def predict(self, series: TrafficSeries) -> list[Alert]:
        """Alerts raised while replaying ``series`` from a fresh state (online: no look-ahead)."""
        self.reset()
        return self.update(series)

    def update(self, series: TrafficSeries) -> list[Alert]:
        """Process new steps (after those already seen) and return the alerts they raise."""
        self._check_fitted("update")
        if not isinstance(series, TrafficSeries):
            raise ValidationError(f"{self.name}.update needs a TrafficSeries, got {type(series).__name__}")
        if tuple(series.nodes) != self.nodes_:
            raise ValidationError(f"{self.name}: traffic {series.name!r} has nodes {list(series.nodes)[:4]}... but the "
                                  f"detector was fitted on {list(self.nodes_)[:4]}...; reorder it or refit")
        vals, names = traffic_signals(series, self.places, classes=self.watch_classes)
        if names != list(self.names_):
            raise ValidationError(f"{self.name}: traffic {series.name!r} has the signals {_first(names)} but the "
                                  f"detector was fitted on {_first(self.names_)} (classes differ?); refit it")
        times = series.times
        if len(self._pend_t) and len(times) and times[0] <= self._pend_t[-1]:
            keep = times > self._pend_t[-1]
            times, vals = times[keep], vals[keep]
        allt = self._pend_t.append(times)
        allv = np.vstack([self._pend_v, vals])
        keys = allt.floor(self.bin_)
        per_bin = int(self.bin_ / self.step_)
        alerts: list[Alert] = []
        if len(allt) == 0:
            return alerts
        ukeys, start = np.unique(keys.asi8, return_index=True)
        ends = list(start[1:]) + [len(allt)]
        done_upto = 0
        for i, (a, b) in enumerate(zip(start, ends)):
            last_bin = i == len(ukeys) - 1
            if last_bin and b - a < per_bin:
                break  # incomplete: wait for more steps
            done_upto = b
            alerts += self._process_bin(keys[a], allt[b - 1], allv[a:b].mean(axis=0))
        self._pend_t, self._pend_v = allt[done_upto:], allv[done_upto:]
        return alerts

    def _process_bin(self, start: pd.Timestamp, t_last: pd.Timestamp, mean: np.ndarray) -> list[Alert]:
        """Alerts of one complete bin (``start``: the bin's UTC start; ``t_last``: its last step;
        ``mean``: (K,) mean bit/s of each signal): the residual against the daily profile and the
        level, through ``_step``."""
        p = int(((start - start.floor("D")) / self.bin_))
        r = np.log(mean + self.floor_) - self.profile_[p] - self.level_
        alarm, shift, score = self._step(r)
        return [Alert(t_last, *self.names_[k], float(np.expm1(shift[k])), self.name, float(score[k]))
                for k in np.flatnonzero(alarm)]

    def _reference_step(self, series: TrafficSeries) -> pd.Timedelta:
        """Check the parameters and the reference series given to ``fit``; its time step."""
        self.validate()
        if not isinstance(series, TrafficSeries):
            raise ValidationError(f"{self.name}.fit needs a TrafficSeries, got {type(series).__name__}")
        if series.step is None:
            raise ValidationError(f"{self.name}.fit: traffic {series.name!r} has a single step; give at least a day")
        return series.step

    def expected(self, times: pd.DatetimeIndex, signal: int = 0) -> np.ndarray:
        """Normal traffic of one signal (default: the total) at UTC ``times``, bit/s, as learned."""
        self._check_fitted("expected")
        ph = phase_of_day(pd.DatetimeIndex(times), self.bin_)
        return np.exp(self.profile_[ph, signal]) - self.floor_[signal]

    # ------------------------------------------------------------------ hooks / helpers
    def _calibrate(self, resid: np.ndarray) -> None:
        pass

    def _reset_state(self) -> None:
        raise NotImplementedError

    def _step(self, r: np.ndarray):
        raise NotImplementedError

    def _check_fitted(self, what: str) -> None:
        if not hasattr(self, "profile_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(reference_series) before {what}()")


def _first(names, n: int = 4) -> str:
    """The first ``n`` signal names, for messages."""
    names = [f"{p} {d}" if d != "total" else p for p, d in names]
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def phase_of_day(times: pd.DatetimeIndex, bin_td: pd.Timedelta) -> np.ndarray:
    """Index of the time-of-day bin of each of ``times`` (UTC): 0 .. one day / ``bin_td`` - 1.

    >>> t = pd.DatetimeIndex(["2020-03-20T00:30Z", "2020-03-20T13:00Z"])
    >>> phase_of_day(t, pd.Timedelta(hours=1)).tolist()
    [0, 13]
    """
    return np.asarray((times - times.floor("D")) / bin_td).astype(int)


def complete_bins(times: pd.DatetimeIndex, vals: np.ndarray, bin_td: pd.Timedelta, step: pd.Timedelta):
    """Means of ``vals`` (T, K) over the bins of ``bin_td`` that hold every step of ``step``:
    (bin start times, array (n_bins, K)); incomplete bins are left out.

    >>> t = pd.date_range("2020-03-20T00:30Z", periods=4, freq="30min")
    >>> bt, means = complete_bins(t, np.arange(4.0)[:, None], pd.Timedelta(hours=1), pd.Timedelta(minutes=30))
    >>> [str(x) for x in bt], means.ravel().tolist()
    (['2020-03-20 01:00:00+00:00'], [1.5])
    """
    keys = times.floor(bin_td)
    per_bin = int(bin_td / step)
    uk, start, counts = np.unique(keys.asi8, return_index=True, return_counts=True)
    full = counts == per_bin
    sums = np.add.reduceat(vals, start, axis=0) if len(start) else np.zeros((0, vals.shape[1]))
    means = sums / counts[:, None]
    return pd.DatetimeIndex(uk[full], tz="UTC"), means[full]
