"""The forecaster contract: fit on a traffic series, forecast the next matrices in bit/s.

Every forecaster is a :class:`TMForecaster`. It works on two levels:

* **TrafficSeries level** (what policies and the replay use): ``fit(series)``,
  ``update(series)``, ``predict(h, quantiles=...)`` and ``predict_next(history)``, with matrices
  of shape ``(h, N, N)`` in bit/s.
* **Array level** (what the long-frame facade and the evaluation use): ``fit_array(Y, times)``,
  ``update_array``, ``predict_array`` and ``rolling_forecast`` over an array ``Y`` of shape
  ``(T, S)`` (S series on one regular UTC time grid, any non-negative unit).

Inside, each series is divided by its maximum over the training part (``scale_``) and a
subclass implements three hooks over those scaled arrays: ``_fit`` (learn parameters),
``_forecast`` (forecast from a history with the learned parameters, no training) and
optionally ``_rolling`` (many forecast origins at once, for backtests).

Quantiles (all models, one method): split-conformal residual quantiles. ``fit`` holds out the last
``holdout`` fraction of the series; parameters are learned on the part before it and the model
then forecasts every holdout step one step ahead from the actual past. For each series, the
empirical q-quantile of those out-of-sample one-step errors is added to the point forecast; at
lead ``j`` it is widened by ``sqrt(j)`` (random-walk growth of the error); forecasts are clipped
at 0 bit/s, which keeps the quantiles ordered. With fewer than 8 holdout steps the errors of the
last steps of the training part (in sample, so intervals are narrower than they should be)
are used instead, and ``calibration_`` says so.
"""

from __future__ import annotations

import math
from typing import ClassVar, Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError, ValidationError
from ..resources import check_memory, format_count
from ..traffic import TrafficSeries
from ..validation import Constraint, Interval, Params, Registry, check_param

__all__ = ["TMForecaster", "register_forecaster", "get_forecaster", "available_forecasters",
           "FORECASTERS", "season_steps", "check_horizon", "check_quantiles", "check_each", "MAX_HORIZON_FACTOR"]

#: every forecaster by name; see :func:`register_forecaster`.
#: Names are matched case-insensitively, with ``-`` read as ``_``.
FORECASTERS = Registry("forecaster", normalise=lambda s: str(s).strip().lower().replace("-", "_"))

_MIN_CONFORMAL = 8

#: A forecaster forecasts at most this many times the number of steps it was fitted on (a
#: forecast far beyond the history it learned from says nothing, and its arrays grow with the
#: horizon: ``forecast --horizon 100000000`` asked for 98 GiB).
MAX_HORIZON_FACTOR = 10


def register_forecaster(name: str):
    """Class decorator adding a :class:`TMForecaster` subclass to :data:`FORECASTERS` under ``name``."""
    return FORECASTERS.register(name)


def available_forecasters() -> list[str]:
    """The registered forecaster names, sorted."""
    return FORECASTERS.names()


def get_forecaster(name: str, **params) -> "TMForecaster":
    """A new, unfitted forecaster by registry name.

    Parameters
    ----------
    name : 'naive', 'seasonal_naive', 'ets', 'mstl', 'lgbm', 'neural', 'direct', 'linear', 'blend',
        'lstm' or 'gru' (see
        :func:`available_forecasters`).
    **params : constructor parameters of that class.

    Raises
    ------
    ValidationError
        Unknown name or unknown parameter (the message lists the valid ones).

    Examples
    --------
    >>> from surgeguard.forecast import get_forecaster
    >>> get_forecaster("seasonal_naive", season_days=1.0)
    SeasonalNaive(season_days=1.0, holdout=0.1)
    >>> get_forecaster("arima")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: unknown forecaster 'arima'; choose one of: blend, direct, ets, gru, lgbm, linear, lstm, mstl, naive, neural, seasonal_naive
    """
    return FORECASTERS.get(name, **params)


def season_steps(step: pd.Timedelta, days: float) -> int:
    """Number of time steps in ``days`` days at time step ``step`` (at least 1).

    >>> season_steps(pd.Timedelta(minutes=5), 1.0)
    288
    """
    return max(1, int(round(pd.Timedelta(days=days) / step)))


class TMForecaster(Params):
    """Base class of the traffic-matrix forecasters.

    Subclasses define ``__init__`` (storing parameters only, each under its own name), declare the
    valid range of each parameter in ``_parameter_constraints`` (checked by :meth:`validate` when
    ``fit`` starts; see :mod:`surgeguard.validation`), and implement the hooks
    ``_fit(Z, times, Z_valid, times_valid)``, ``_forecast(Z, times, h)`` and, optionally,
    ``_rolling(Z, times, origins, h)``, all over arrays scaled per series to max 1 on the
    training part.

    Semantics
    ---------
    fit(series)
        Learns parameters (training on the first ``1 - holdout`` of the series, early stopping and
        conformal calibration on the rest), then conditions on the whole series: ``predict(h)``
        forecasts the ``h`` steps after its end. Refitting replaces all learned state.
    update(series)
        Conditions on a new history (the past of a replay) **without retraining**; ``predict``
        then forecasts after its end. Cheap: O(context) for naive, gradient-boosting and neural
        models, one exponential-smoothing filter pass for ``ets``/``mstl``.
    predict_next(history)
        ``update(history).predict(1)[0]``: the next matrix, what a replay calls at every step.

    Flows (OD pairs) that carried no traffic in the fit series are forecast as 0 bit/s; refit
    when new OD pairs appear.
    """

    name: ClassVar[str] = "base"
    holdout: float = 0.1
    #: (h, S) float64 arrays a forecast of h steps holds at once (the model's buffers, the clipped
    #: copy, the scaled result), for the memory estimate of :meth:`check_horizon_size`
    forecast_buffers: ClassVar[float] = 4.0
    _parameter_constraints: ClassVar[dict] = {"holdout": [Interval(float, 0, 0.5, closed="left")]}

    # ------------------------------------------------------------------ TrafficSeries level
    def fit(self, series: TrafficSeries) -> "TMForecaster":
        """Learn from a traffic series (bit/s, regular UTC steps) and condition on it.

        Parameters
        ----------
        series : TrafficSeries with at least a few dozen steps (each model states its minimum).

        Returns
        -------
        self
        """
        self.validate()
        self._check_series(series, "fit")
        T, n = len(series), series.n_nodes
        flat = series.total.reshape(T, n * n)
        active = flat.max(axis=0) > 0
        if not active.any():
            raise ValidationError(f"traffic {series.name!r} has no demand at all; nothing to forecast")
        self.nodes_ = tuple(series.nodes)
        self.active_ = active
        self.fit_array(flat[:, active], series.times)
        return self

    def update(self, series: TrafficSeries) -> "TMForecaster":
        """Condition on ``series`` (the past) without retraining; returns self.

        Parameters
        ----------
        series : TrafficSeries over the nodes of the fit series, same time step, at least
            ``min_history_`` steps.
        """
        self._check_fitted("update")
        self._check_series(series, "update")
        if tuple(series.nodes) != self.nodes_:
            raise ValidationError(
                f"traffic {series.name!r} has nodes {list(series.nodes)[:4]}... but the forecaster was fitted on "
                f"{list(self.nodes_)[:4]}...; reorder it with series.reorder(nodes) or refit")
        n = series.n_nodes
        flat = series.total.reshape(len(series), n * n)
        self.update_array(flat[:, self.active_], series.times)
        return self

    def predict(self, h: int = 1, *, quantiles: Sequence[float] | None = None):
        """Forecast the ``h`` matrices after the conditioning history.

        Parameters
        ----------
        h : number of steps ahead (>= 1).
        quantiles : levels in (0, 1), e.g. ``[0.1, 0.5, 0.9]``; None for point forecasts only.

        Returns
        -------
        ndarray of shape (h, N, N) in bit/s (point forecast), or with ``quantiles`` a dict
        ``{'mean': point, q: array, ...}`` of such arrays, ordered in q.
        """
        self._check_fitted("predict")
        h = self.check_horizon_size(h, quantiles=quantiles, matrices=True)
        out = self.predict_array(h, quantiles=quantiles)
        if isinstance(out, dict):
            return {k: self._unflatten(v) for k, v in out.items()}
        return self._unflatten(out)

    def check_horizon_size(self, h, *, quantiles: Sequence[float] | None = None, matrices: bool = False) -> int:
        """``h`` as an int after checking, before any forecasting, that the forecast can be made.

        Refused with one line (:class:`~surgeguard.ValidationError`): ``h`` not an integer >= 1;
        more than :data:`MAX_HORIZON_FACTOR` times the steps the model was fitted on; a last
        forecast time beyond the dates pandas can hold; an estimated size (``h`` x the series x
        the model's buffers and the quantiles, plus ``h`` x N x N matrices with ``matrices``)
        above the memory available (:func:`surgeguard.resources.check_memory`).
        """
        h = check_horizon(h)
        self._check_fitted("predict")
        n_fit = int(self.n_train_ + self.n_holdout_)
        limit = MAX_HORIZON_FACTOR * n_fit
        if h > limit:
            raise ValidationError(
                f"horizon h={format_count(h)} steps is more than {MAX_HORIZON_FACTOR} times the {n_fit} steps "
                f"{self.name} was fitted on; forecast at most {format_count(limit)} steps or fit on a longer series")
        try:
            end = self.hist_times_[-1] + self.step_ * h
        except (OverflowError, ValueError):  # pandas' OutOfBounds errors are ValueErrors
            end = None
        if end is None or end.tz_convert(None) >= pd.Timestamp.max - self.step_:
            raise ValidationError(f"horizon h={format_count(h)} steps of {self.step_} ends beyond the last date "
                                  f"pandas can hold ({pd.Timestamp.max.year}); forecast fewer steps")
        n_q = len(check_quantiles(quantiles) or ())
        S = int(self.n_series_)
        per_step = S * (float(self.forecast_buffers) + 2 * n_q)
        if matrices:
            per_step += len(self.nodes_) ** 2 * (1 + n_q)
        what = f"a forecast of {format_count(h)} steps of {S} series" + (
            f" ({len(self.nodes_)} x {len(self.nodes_)} matrices)" if matrices else "")
        check_memory(8.0 * h * per_step, what, "forecast fewer steps")
        return h

    def predict_next(self, history: TrafficSeries, *, quantiles: Sequence[float] | None = None):
        """The next matrix (N, N) in bit/s after ``history``, without retraining (for replays).

        With ``quantiles`` a dict ``{'mean': ..., q: ...}`` of (N, N) arrays.
        """
        out = self.update(history).predict(1, quantiles=quantiles)
        if isinstance(out, dict):
            return {k: v[0] for k, v in out.items()}
        return out[0]

    def forecast_times(self, h: int) -> pd.DatetimeIndex:
        """UTC timestamps of the next ``h`` steps after the conditioning history."""
        self._check_fitted("forecast_times")
        h = self.check_horizon_size(h)
        return pd.DatetimeIndex(self.hist_times_[-1] + self.step_ * np.arange(1, h + 1))

    # ------------------------------------------------------------------ array level
    def fit_array(self, Y: np.ndarray, times) -> "TMForecaster":
        """Fit on ``Y`` of shape (T, S), non-negative, over ``times`` (T regular UTC timestamps)."""
        self.validate()
        Y, times = self._check_array(Y, times, "fit")
        T = Y.shape[0]
        n_hold = int(math.floor(self.holdout * T))
        n_train = T - n_hold
        self.step_ = _step_of(times, "fit")
        self.t0_ = times[0]
        need = self._min_train(self.step_)
        if n_train < need:
            raise ValidationError(
                f"{self.name}: the training part has {n_train} steps of {self.step_} but needs at least {need} "
                f"({type(self).__name__} with {self._param_text()}); give a longer series or lower holdout")
        scale = Y[:n_train].max(axis=0)
        whole = Y.max(axis=0)
        scale = np.where(scale > 0, scale, np.where(whole > 0, whole, 1.0))
        self.scale_ = scale
        self.n_series_ = Y.shape[1]
        Z = Y / scale
        Z_valid = Z[n_train:] if n_hold else None
        self._fit(Z[:n_train], times[:n_train], Z_valid, times[n_train:] if n_hold else None)
        self.n_train_ = n_train
        self.n_holdout_ = n_hold
        self.min_history_ = self._min_history()
        # conformal residuals: one-step forecasts of the holdout from the actual past
        if n_hold >= _MIN_CONFORMAL and n_train >= self.min_history_:
            origins = np.arange(n_train, T)
            self.calibration_ = "holdout (out of sample)"
        else:
            k = min(max(_MIN_CONFORMAL, n_hold), n_train - self.min_history_)
            origins = np.arange(n_train - k, n_train) if k > 0 else np.arange(0)
            self.calibration_ = "end of training part (in sample)"
        if len(origins):
            pred = self._rolling(Z, times, origins, 1)[:, 0, :]
            self.residuals_ = Z[origins] - pred
        else:
            self.residuals_ = np.zeros((1, Z.shape[1]))
            self.calibration_ = "none (too little data: intervals have zero width)"
        self._set_history(Z, times)
        return self

    def update_array(self, Y: np.ndarray, times) -> "TMForecaster":
        """Condition on a new history ``Y`` (T, S) over ``times`` without retraining."""
        self._check_fitted("update")
        Y, times = self._check_array(Y, times, "update")
        if Y.shape[1] != self.n_series_:
            raise ValidationError(f"{self.name}: history has {Y.shape[1]} series, the model was fitted on "
                                  f"{self.n_series_}; pass the same series (flows) or refit")
        if len(times) > 1:
            step = _step_of(times, "update")
            if step != self.step_:
                raise ValidationError(f"{self.name}: history time step {step} differs from the fitted step "
                                      f"{self.step_}; resample the history or refit")
        if Y.shape[0] < self.min_history_:
            raise ValidationError(f"{self.name}: history has {Y.shape[0]} steps but needs at least "
                                  f"{self.min_history_} steps of {self.step_}; wait for more data")
        self._set_history(Y / self.scale_, times)
        return self

    def predict_array(self, h: int = 1, *, quantiles: Sequence[float] | None = None):
        """Forecast (h, S) in the units of the fitted array; with ``quantiles`` a dict as in
        :meth:`predict`."""
        self._check_fitted("predict")
        h = self.check_horizon_size(h, quantiles=quantiles)
        qs = check_quantiles(quantiles)
        z = self._forecast(self.hist_Z_, self.hist_times_, h)
        z = np.maximum(np.nan_to_num(z, nan=0.0), 0.0)
        point = z * self.scale_
        if qs is None:
            return point
        out = {"mean": point}
        for q in qs:
            out[q] = self._band(z, q)
        return out

    def _band(self, z: np.ndarray, q: float) -> np.ndarray:
        """Quantile ``q`` around scaled point forecasts ``z`` (..., h, S), in fitted units."""
        h = z.shape[-2]
        grow = np.sqrt(np.arange(1, h + 1))[:, None]
        rq = np.quantile(self.residuals_, q, axis=0)
        return np.maximum(z + grow * rq[None, :], 0.0) * self.scale_

    def rolling_forecast(self, Y: np.ndarray, times, origins: Sequence[int], h: int, *,
                         quantiles: Sequence[float] | None = None):
        """Backtest forecasts without retraining.

        Parameters
        ----------
        Y : (T, S) actual values (same series as the fit), times : their T UTC timestamps.
        origins : step indices o; the forecast made at o sees ``Y[:o]`` only and covers steps
            o .. o + h - 1.
        h : horizon in steps.
        quantiles : optional levels in (0, 1); then a dict ``{'mean': ..., q: ...}`` is returned.

        Returns
        -------
        ndarray (len(origins), h, S) in the units of ``Y``, clipped at 0 (or a dict of them).
        """
        self._check_fitted("rolling_forecast")
        Y, times = self._check_array(Y, times, "rolling_forecast")
        origins = np.asarray(origins, dtype=int)
        if len(origins) and (origins.min() < self.min_history_ or origins.max() > len(Y)):
            raise ValidationError(f"{self.name}: origins must lie in [{self.min_history_}, {len(Y)}] (history "
                                  f"needed: {self.min_history_} steps)")
        qs = check_quantiles(quantiles)
        Z = Y / self.scale_
        z = np.maximum(np.nan_to_num(self._rolling(Z, times, origins, check_horizon(h)), nan=0.0), 0.0)
        if qs is None:
            return z * self.scale_
        return {"mean": z * self.scale_, **{q: self._band(z, q) for q in qs}}

    # ------------------------------------------------------------------ hooks
    def _min_train(self, step: pd.Timedelta) -> int:
        """Fewest training steps ``_fit`` accepts."""
        return 2

    def _min_history(self) -> int:
        """Fewest history steps ``_forecast`` needs (after fit)."""
        return 1

    def _context(self) -> int | None:
        """History steps kept for forecasting (None: all)."""
        return self._min_history()

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        raise NotImplementedError

    def _forecast(self, Z: np.ndarray, times: pd.DatetimeIndex, h: int) -> np.ndarray:
        raise NotImplementedError

    def _rolling(self, Z, times, origins, h) -> np.ndarray:
        out = np.empty((len(origins), h, Z.shape[1]))
        ctx = self._context()
        for i, o in enumerate(origins):
            a = 0 if ctx is None else max(0, o - ctx)
            out[i] = self._forecast(Z[a:o], times[a:o], h)
        return out

    # ------------------------------------------------------------------ helpers
    def _set_history(self, Z, times) -> None:
        ctx = self._context()
        if ctx is not None and len(Z) > ctx:
            Z, times = Z[-ctx:], times[-ctx:]
        self.hist_Z_ = np.array(Z, dtype=float)
        self.hist_times_ = times

    def _future_times(self, times: pd.DatetimeIndex, h: int) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(times[-1] + self.step_ * np.arange(1, h + 1))

    def _step_index(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Integer step numbers of ``times`` counted from the first fitted timestamp."""
        return np.rint((times - self.t0_) / self.step_).astype(np.int64)

    def _param_text(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())

    def _check_fitted(self, what: str) -> None:
        if not hasattr(self, "scale_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(series) before {what}()")

    def _check_series(self, series, what: str) -> None:
        if not isinstance(series, TrafficSeries):
            raise ValidationError(f"{self.name}.{what} needs a TrafficSeries, got {type(series).__name__}")

    def _check_array(self, Y, times, what: str):
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValidationError(f"{self.name}.{what}: values must have shape (T, S), got {Y.shape}")
        if not np.isfinite(Y).all() or (Y < 0).any():
            raise ValidationError(f"{self.name}.{what}: values must be finite and >= 0 (bit/s); fill gaps first")
        times = pd.DatetimeIndex(pd.to_datetime(times))
        if times.tz is None:
            times = times.tz_localize("UTC")
        times = times.tz_convert("UTC")
        if len(times) != Y.shape[0]:
            raise ValidationError(f"{self.name}.{what}: {len(times)} timestamps for {Y.shape[0]} steps")
        if len(times) == 0:
            raise ValidationError(f"{self.name}.{what}: empty series")
        return Y, times

    def _unflatten(self, arr: np.ndarray) -> np.ndarray:
        n = len(self.nodes_)
        out = np.zeros((arr.shape[0], n * n))
        out[:, self.active_] = arr
        return out.reshape(arr.shape[0], n, n)


def _step_of(times: pd.DatetimeIndex, what: str) -> pd.Timedelta:
    if len(times) < 2:
        raise ValidationError(f"{what}: need at least 2 timestamps to know the time step")
    d = np.diff(times.asi8)
    if (d <= 0).any():
        raise ValidationError(f"{what}: timestamps must be strictly increasing")
    if d.min() != d.max():
        raise ValidationError(f"{what}: time steps are irregular ({pd.Timedelta(int(d.min()), 'ns')} to "
                              f"{pd.Timedelta(int(d.max()), 'ns')}); resample to a regular grid first")
    return pd.Timedelta(int(d[0]), "ns")


def check_each(obj: Params, name: str, constraint: Constraint) -> list:
    """The items of parameter ``name`` of ``obj`` (one value or a non-empty sequence), each
    checked against ``constraint`` with the one message form; returns them as a list.

    >>> from surgeguard.forecast import MSTLForecaster
    >>> positive = Interval(float, 0, None, closed="neither")
    >>> check_each(MSTLForecaster(season_days=(1.0, -7.0)), "season_days", positive)
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: The 'season_days' parameter of MSTLForecaster must be a float in (0, inf). Got -7.0 instead.
    """
    value = getattr(obj, name)
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    owner = type(obj).__name__
    if not items:
        raise ValidationError(f"The {name!r} parameter of {owner} must be a non-empty sequence of "
                              f"{constraint.describe()}. Got {value!r} instead.")
    for v in items:
        check_param(owner, name, v, [constraint])
    return items


def check_horizon(h) -> int:
    """``h`` as an int, refusing anything but an integer >= 1 (steps ahead).

    >>> check_horizon(3)
    3
    """
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
        raise ValidationError(f"horizon h={h!r} must be an integer >= 1 (steps ahead)")
    return int(h)


def check_quantiles(quantiles) -> list[float] | None:
    """Quantile levels sorted and unique, each strictly between 0 and 1 (None stays None).

    >>> check_quantiles([0.9, 0.1, 0.9])
    [0.1, 0.9]
    """
    if quantiles is None:
        return None
    qs = [float(q) for q in np.atleast_1d(quantiles)]
    bad = [q for q in qs if not 0 < q < 1]
    if bad or not qs:
        raise ValidationError(f"quantiles {bad or qs} must be numbers strictly between 0 and 1, e.g. [0.1, 0.9]")
    return sorted(set(qs))
