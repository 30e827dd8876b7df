"""The online surge detectors: ``cusum`` and ``residual`` (EWMA of forecast residuals).

Both start from the same forecast of normal traffic (:class:`~surgeguard.detect.base.SurgeDetector`:
daily profile per signal, log space, hourly bins by default) and differ in how they turn the
residuals into alarms. After an alarm the detector **re-baselines** that signal: the estimated
shift is added to its level, so it stays quiet at the new level and fires again only for a
further shift of the same size (a replay can switch policy on the first alert and keep running).
"""

from __future__ import annotations

import numpy as np

from ..validation import Interval
from .base import SurgeDetector, register_detector

__all__ = ["CUSUMDetector", "ResidualDetector"]

_POSITIVE = [Interval(float, 0, None, closed="neither")]
_NONNEGATIVE = [Interval(float, 0, None)]


@register_detector("cusum")
class CUSUMDetector(SurgeDetector):
    """One-sided (or two-sided) CUSUM on standardised residuals, per signal.

    With ``z = residual / sigma`` per bin, ``S = max(0, S + z - k)`` and an alarm when ``S > h``.
    ``k`` is the larger of ``drift`` and ``log(1 + min_shift) / (2 sigma)``, i.e. the classic half of
    the smallest shift worth detecting (``node_min_shift`` for per-node signals, which are noisier
    and matter only when they move a lot). Traffic residuals are strongly autocorrelated, so ``h``
    is scaled per signal by the AR(1) long-run factor ``sqrt((1 + rho) / (1 - rho))`` (rho: lag-1
    autocorrelation of the reference residuals, clipped to [0, 0.9]). The shift reported is
    ``sigma (k + S / n)`` (n: bins since S left zero), the usual CUSUM estimate of the new mean.

    Parameters
    ----------
    drift : k in sigma units (reference value), default 0.5.
    threshold : h in sigma units, default 4.
    min_shift : smallest relative shift of the total worth an alert (0.10: +10 %).
    node_min_shift : the same for a node's in or out traffic (0.25: +25 %).
    node_factor : threshold multiplier for per-node signals (there are 2N of them, so each must be
        stricter for the whole detector to keep its false-alarm rate).
    places : 'all' (total and every node's in/out traffic) or 'total'.
    bin_minutes : time bin (minutes) over which traffic is averaged before testing.
    direction : 'up' (surges only) or 'both' (also drops).
    min_sigma : floor of the residual sigma (log units; 0.03 = 3 %).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from surgeguard.traffic import TrafficSeries
    >>> t = pd.date_range("2020-03-10", periods=24 * 6, freq="h", tz="UTC")
    >>> rng = np.random.default_rng(0)
    >>> base = 1e9 * (1.5 + np.sin(2 * np.pi * np.arange(len(t)) / 24)) * np.exp(rng.normal(0, 0.02, len(t)))
    >>> v = np.zeros((len(t), 2, 2)); v[:, 0, 1] = base; v[:, 1, 0] = base
    >>> v[96:, 0, 1] *= 1.5                                            # +50 % from day 5
    >>> ts = TrafficSeries(v, ["A", "B"], t)
    >>> det = CUSUMDetector().fit(ts.window(0, 72))
    >>> alerts = det.predict(ts.window(72, len(ts)))
    >>> alerts[0].time >= t[96], alerts[0].place
    (True, 'total')
    """

    _parameter_constraints = {**SurgeDetector._parameter_constraints, "drift": _NONNEGATIVE,
                              "threshold": _POSITIVE, "min_shift": _NONNEGATIVE, "node_min_shift": _NONNEGATIVE,
                              "node_factor": _POSITIVE}

    def __init__(self, *, drift: float = 0.5, threshold: float = 4.0, min_shift: float = 0.10,
                 node_min_shift: float = 0.25, node_factor: float = 3.0, places: str = "all",
                 bin_minutes: float = 60.0, direction: str = "up", min_sigma: float = 0.03):
        self.drift = drift
        self.threshold = threshold
        self.min_shift = min_shift
        self.node_min_shift = node_min_shift
        self.node_factor = node_factor
        self.places = places
        self.bin_minutes = bin_minutes
        self.direction = direction
        self.min_sigma = min_sigma

    def _calibrate(self, resid):
        ms = np.where(self.is_node_, float(self.node_min_shift), float(self.min_shift))
        self.k_ = np.maximum(float(self.drift), np.log1p(ms) / (2 * self.sigma_))
        self.h_ = float(self.threshold) * np.sqrt((1 + self.rho_) / (1 - self.rho_)) * \
            np.where(self.is_node_, float(self.node_factor), 1.0)

    def _reset_state(self):
        K = len(self.names_)
        self.s_up_, self.s_dn_ = np.zeros(K), np.zeros(K)
        self.n_up_, self.n_dn_ = np.zeros(K), np.zeros(K)

    def _step(self, r):
        z = r / self.sigma_
        self.s_up_ = np.maximum(0.0, self.s_up_ + z - self.k_)
        self.n_up_ = np.where(self.s_up_ > 0, self.n_up_ + 1, 0)
        alarm = self.s_up_ > self.h_
        shift = np.where(alarm, self.sigma_ * (self.k_ + self.s_up_ / np.maximum(self.n_up_, 1)), 0.0)
        score = self.s_up_.copy()
        if self.direction == "both":
            self.s_dn_ = np.maximum(0.0, self.s_dn_ - z - self.k_)
            self.n_dn_ = np.where(self.s_dn_ > 0, self.n_dn_ + 1, 0)
            down = (self.s_dn_ > self.h_) & ~alarm
            shift = np.where(down, -self.sigma_ * (self.k_ + self.s_dn_ / np.maximum(self.n_dn_, 1)), shift)
            score = np.where(down, self.s_dn_, score)
            alarm = alarm | down
        if alarm.any():  # re-baseline the signals that fired
            self.level_ = self.level_ + np.where(alarm, shift, 0.0)
            for arr in (self.s_up_, self.s_dn_, self.n_up_, self.n_dn_):
                arr[alarm] = 0.0
        return alarm, shift, score


@register_detector("residual")
class ResidualDetector(SurgeDetector):
    """Alarm when the exponentially weighted mean of the forecast residuals exceeds ``z`` of its
    own normal spread.

    The spread of the EWMA is measured on the reference period (leave-one-day-out residuals run
    through the same EWMA; 1.4826 x MAD), which accounts for the strong autocorrelation of traffic
    residuals, and is floored by the white-noise value ``sigma * sqrt(a / (2 - a))``.

    The shift reported (and added to the level when re-baselining) is the largest mean of the
    last j >= 2 residuals of the current excursion (j up to 24 bins), which estimates a recent
    step's size without the EWMA's lag.

    Parameters
    ----------
    halflife_hours : half-life of the EWMA (hours), default 3.
    z : alarm threshold in units of the EWMA's spread, default 4.
    min_shift : smallest relative shift of the total that may raise an alarm (0.10: +10 %).
    node_min_shift : the same for a node's in or out traffic (0.25: +25 %).
    node_factor, places, bin_minutes, direction, min_sigma : as for :class:`CUSUMDetector`.
    """

    _parameter_constraints = {**SurgeDetector._parameter_constraints, "halflife_hours": _POSITIVE,
                              "z": _POSITIVE, "min_shift": _NONNEGATIVE, "node_min_shift": _NONNEGATIVE,
                              "node_factor": _POSITIVE}

    def __init__(self, *, halflife_hours: float = 3.0, z: float = 4.0, min_shift: float = 0.10,
                 node_min_shift: float = 0.25, node_factor: float = 3.0, places: str = "all",
                 bin_minutes: float = 60.0, direction: str = "up", min_sigma: float = 0.03):
        self.halflife_hours = halflife_hours
        self.z = z
        self.min_shift = min_shift
        self.node_min_shift = node_min_shift
        self.node_factor = node_factor
        self.places = places
        self.bin_minutes = bin_minutes
        self.direction = direction
        self.min_sigma = min_sigma

    def _calibrate(self, resid):
        a = 1.0 - 0.5 ** (float(self.bin_minutes) / 60.0 / float(self.halflife_hours))
        self.alpha_ = a
        e = np.zeros(resid.shape[1])
        trace = np.empty_like(resid)
        for i, r in enumerate(resid):
            e = a * r + (1 - a) * e
            trace[i] = e
        warm = min(len(trace), int(np.ceil(3 / a)))
        tr = trace[warm:] if len(trace) - warm >= 12 else trace
        spread = 1.4826 * np.median(np.abs(tr - np.median(tr, axis=0)), axis=0)
        self.ewma_sigma_ = np.maximum(spread, self.sigma_ * np.sqrt(a / (2 - a)))
        ms = np.where(self.is_node_, float(self.node_min_shift), float(self.min_shift))
        zf = float(self.z) * np.where(self.is_node_, float(self.node_factor), 1.0)
        self.limit_ = np.maximum(zf * self.ewma_sigma_, np.log1p(ms))

    def _reset_state(self):
        K = len(self.names_)
        self.e_ = np.zeros(K)
        self.run_n_ = np.zeros(K, dtype=int)
        self.recent_ = np.zeros((_RECENT, K))

    def _step(self, r):
        prev = self.e_
        self.e_ = self.alpha_ * r + (1 - self.alpha_) * self.e_
        # the current excursion: bins since the EWMA last changed sign, and the recent residuals
        same = np.sign(self.e_) == np.sign(prev)
        self.run_n_ = np.where(same, self.run_n_ + 1, 1)
        self.recent_ = np.roll(self.recent_, 1, axis=0)
        self.recent_[0] = r
        alarm = self.e_ > self.limit_
        if self.direction == "both":
            alarm = alarm | (self.e_ < -self.limit_)
        shift = np.zeros_like(r)
        for k in np.flatnonzero(alarm):
            shift[k] = _step_size(self.recent_[: min(int(self.run_n_[k]), _RECENT), k], self.e_[k] > 0)
        score = self.e_ / self.ewma_sigma_
        if alarm.any():
            self.level_ = self.level_ + shift
            self.e_ = np.where(alarm, 0.0, self.e_)
            self.run_n_ = np.where(alarm, 0, self.run_n_)
            self.recent_[:, alarm] = 0.0
        return alarm, shift, score


_RECENT = 24


def _step_size(recent: np.ndarray, up: bool) -> float:
    """Size of a recent step from the newest-first residuals of an excursion: the largest (or, for
    drops, smallest) mean of the last j >= 2 residuals (the last one alone when only one)."""
    if len(recent) <= 1:
        return float(recent[0]) if len(recent) else 0.0
    means = np.cumsum(recent) / np.arange(1, len(recent) + 1)
    return float(means[1:].max() if up else means[1:].min())
