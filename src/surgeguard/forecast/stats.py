"""Statistical forecasters built on statsforecast: ``ets`` (AutoETS) and ``mstl`` (MSTL with
daily and, where the history allows, weekly seasons, and an AutoETS trend).

Both fit one model per series (flow) on the training part. Forecasting from a new history does
not re-estimate anything: the fitted smoothing parameters and initial states are run over the
history (statsforecast's ``forward`` filter) and the point forecast is read from the last
state. For ``mstl`` the seasonal profiles estimated at fit time (the last period of each
seasonal component, indexed by time of day / week) are subtracted from the history first and
added back to the forecast. AutoARIMA is deliberately absent: with a 288-step daily season it
is far too slow for every-flow use.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import ValidationError
from ..validation import Boolean, Interval, NoneOr, Options
from .base import TMForecaster, check_each, register_forecaster, season_steps

__all__ = ["ETS", "MSTLForecaster"]

#: the ETS forms without a season that AutoETS accepts: error Z/A/M, trend Z/N/A/M, season N
_NONSEASONAL_ETS = frozenset(e + t + "N" for e in "ZAM" for t in "ZNAM")


def _ets_point(components: str, par: np.ndarray, states: np.ndarray, h: int) -> np.ndarray:
    """Point forecasts (n, h) of a non-seasonal ETS model from its states (n, nstate)."""
    trend, damped = components[1], components[3] == "D"
    level = states[:, 0][:, None]
    j = np.arange(1, h + 1, dtype=float)[None, :]
    if trend == "N":
        return np.repeat(level, h, axis=1)
    b = states[:, 1][:, None]
    if damped:
        phi = float(par[3])
        steps = np.cumsum(phi ** np.arange(1, h + 1))[None, :]
    else:
        steps = j
    if trend == "A":
        return level + steps * b
    if trend == "M":
        return level * np.power(np.maximum(b, 1e-12), steps)
    raise ValidationError(f"ETS trend type {trend!r} is not supported here")  # pragma: no cover


class _ETSCore:
    """One fitted non-seasonal ETS model, or the naive fallback when the fit failed."""

    __slots__ = ("model", "components")

    def __init__(self, model):
        self.model = model
        self.components = model["components"] if model is not None else None

    @staticmethod
    def fit(z: np.ndarray, spec: str, damped):
        from statsforecast.models import AutoETS  # lazy: statsforecast is heavy and optional

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = AutoETS(model=spec, damped=damped).fit(np.ascontiguousarray(z, dtype=float))
            if m.model_["components"][2] != "N":  # pragma: no cover - we never ask for a season
                return _ETSCore(None)
            return _ETSCore(m.model_)
        except Exception:  # statsforecast raises bare Exceptions on degenerate series
            return _ETSCore(None)

    def states(self, z: np.ndarray) -> np.ndarray | None:
        """States after each prefix: row t is the state after observing z[:t] (T+1 rows)."""
        if self.model is None:
            return None
        from statsforecast.ets import forward_ets  # lazy: statsforecast is heavy and optional

        return forward_ets(self.model, np.ascontiguousarray(z, dtype=float))["states"]

    def forecast_at(self, z: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        """(len(origins), h) forecasts from the states after z[:o] for each origin o."""
        if self.model is None or len(z) == 0:
            last = z[np.maximum(origins - 1, 0)] if len(z) else np.zeros(len(origins))
            return np.repeat(last[:, None], h, axis=1)
        st = self.states(z[: int(origins.max())])
        return _ets_point(self.components, self.model["par"], st[origins], h)


@register_forecaster("ets")
class ETS(TMForecaster):
    """AutoETS per flow (statsforecast), without a seasonal component.

    ETS in statsforecast does not fit seasons longer than 24 steps, so this model captures level
    and (damped) trend only; use ``mstl`` for the daily cycle.

    Parameters
    ----------
    model : ETS specification with 'N' season: error, trend, season letters, e.g. 'ZZN' (error
        and trend chosen by AICc), 'ANN' (simple exponential smoothing), 'AAN' (additive trend).
    damped : force (True) or forbid (False) a damped trend; None lets AICc choose.
    holdout : fraction of the fit series held out for the conformal quantiles.

    Attributes
    ----------
    components_ : the chosen ETS form per flow ('ANNN' = additive error, no trend, no season);
        'fallback' where the fit failed and the flow is forecast by its last value.
    """

    _parameter_constraints = {**TMForecaster._parameter_constraints,
                              "model": [Options(_NONSEASONAL_ETS)],
                              "damped": [NoneOr(), Boolean()]}

    def __init__(self, *, model: str = "ZZN", damped: bool | None = None, holdout: float = 0.1):
        self.model = model
        self.damped = damped
        self.holdout = holdout

    def _min_train(self, step) -> int:
        return 10

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        self.cores_ = [_ETSCore.fit(Z[:, s], self.model, self.damped) for s in range(Z.shape[1])]
        self.components_ = [c.components or "fallback" for c in self.cores_]

    def _context(self):
        return None  # the filter runs from the fitted initial state over the whole history

    def _forecast(self, Z, times, h):
        o = np.array([len(Z)])
        return np.stack([c.forecast_at(Z[:, s], o, h)[0] for s, c in enumerate(self.cores_)], axis=1)

    def _rolling(self, Z, times, origins, h):
        out = np.empty((len(origins), h, Z.shape[1]))
        for s, c in enumerate(self.cores_):
            out[:, :, s] = c.forecast_at(Z[:, s], origins, h)
        return out


@register_forecaster("mstl")
class MSTLForecaster(TMForecaster):
    """MSTL decomposition per flow (statsforecast) with an AutoETS trend forecaster.

    Parameters
    ----------
    season_days : candidate seasons in days, default (1, 7): daily and weekly. A season is used
        only when the training part holds at least two full periods of it (``seasons_`` lists
        those used); with none left the model is plain ETS on the raw series and warns. With
        10 days of 5-minute Abilene data (7 days of training) only the daily season is used;
        weekly seasonality is not identifiable from one week.
    trend : ETS specification of the trend forecaster (season 'N'), default 'ZZN'.
    holdout : fraction of the fit series held out for the conformal quantiles.

    Attributes
    ----------
    seasons_ : season lengths used, in steps (e.g. [288] at 5 minutes).
    profiles_ : per season, an array (S, period) of seasonal values by phase.
    """

    _parameter_constraints = {**TMForecaster._parameter_constraints, "trend": [Options(_NONSEASONAL_ETS)]}

    def __init__(self, *, season_days: tuple = (1.0, 7.0), trend: str = "ZZN", holdout: float = 0.1):
        self.season_days = season_days
        self.trend = trend
        self.holdout = holdout

    def validate(self):
        """Check the declared ranges and that every season is a positive number of days."""
        super().validate()
        check_each(self, "season_days", Interval(float, 0, None, closed="neither"))
        return self

    def _min_train(self, step) -> int:
        days = np.atleast_1d(np.asarray(self.season_days, dtype=float))
        self._candidates = sorted({season_steps(step, d) for d in days})
        return 10

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        from statsforecast.models import MSTL, AutoETS  # lazy: statsforecast is heavy and optional

        n = len(Z)
        self.seasons_ = [p for p in self._candidates if p > 1 and n >= 2 * p]
        dropped = [p for p in self._candidates if p not in self.seasons_]
        if not self.seasons_:
            warnings.warn(f"mstl: {n} training steps hold fewer than two periods of any season "
                          f"{self._candidates}; fitting ETS without seasonality", UserWarning, stacklevel=3)
        elif dropped:
            self.dropped_seasons_ = dropped
        k = self._step_index(times)
        self.profiles_ = [np.zeros((Z.shape[1], p)) for p in self.seasons_]
        cores = []
        for s in range(Z.shape[1]):
            z = np.ascontiguousarray(Z[:, s], dtype=float)
            if self.seasons_ and np.ptp(z) > 0:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        m = MSTL(season_length=self.seasons_ if len(self.seasons_) > 1 else self.seasons_[0],
                                 trend_forecaster=AutoETS(model=self.trend)).fit(z)
                    for i, p in enumerate(self.seasons_):
                        col = f"seasonal{p}" if len(self.seasons_) > 1 else "seasonal"
                        comp = m.model_[col].to_numpy()
                        last = np.arange(n - p, n)
                        self.profiles_[i][s, k[last] % p] = comp[last]
                    cores.append(_ETSCore(m.trend_forecaster.model_))
                    continue
                except Exception:
                    pass
            cores.append(_ETSCore.fit(z, self.trend, None))
        self.cores_ = cores

    def _seasonal(self, k: np.ndarray) -> np.ndarray:
        out = np.zeros((len(k), self.n_series_ if hasattr(self, "n_series_") else self.profiles_[0].shape[0]))
        for prof, p in zip(self.profiles_, self.seasons_):
            out += prof[:, k % p].T
        return out

    def _context(self):
        return None

    def _forecast(self, Z, times, h):
        return self._rolling(Z, times, np.array([len(Z)]), h)[0]

    def _rolling(self, Z, times, origins, h):
        S = Z.shape[1]
        k = self._step_index(times)
        seas_hist = self._seasonal(k) if self.seasons_ else np.zeros_like(Z)
        x_sa = Z - seas_hist
        out = np.empty((len(origins), h, S))
        for s, c in enumerate(self.cores_):
            out[:, :, s] = c.forecast_at(x_sa[:, s], origins, h)
        if self.seasons_:
            kf = (k[0] + origins[:, None] + np.arange(h)[None, :]).ravel()  # regular grid
            out += self._seasonal(kf).reshape(len(origins), h, S)
        return out
