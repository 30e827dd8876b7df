"""Baseline forecasters: the last value (``naive``) and the same time one season ago
(``seasonal_naive``, daily season by default)."""

from __future__ import annotations

import numpy as np

from ..validation import Interval
from .base import TMForecaster, register_forecaster, season_steps

__all__ = ["Naive", "SeasonalNaive"]


@register_forecaster("naive")
class Naive(TMForecaster):
    """Every future step equals the last observed matrix (persistence).

    Parameters
    ----------
    holdout : fraction of the fit series held out at its end for the conformal quantiles.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from surgeguard.forecast import Naive
    >>> m = Naive().fit_array(np.arange(1.0, 21.0)[:, None], pd.date_range("2020-03-20", periods=20, freq="h"))
    >>> m.predict_array(2).ravel().tolist()
    [20.0, 20.0]
    """

    def __init__(self, *, holdout: float = 0.1):
        self.holdout = holdout

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        pass

    def _forecast(self, Z, times, h):
        return np.repeat(Z[-1:], h, axis=0)

    def _rolling(self, Z, times, origins, h):
        return np.repeat(Z[origins - 1][:, None, :], h, axis=1)


@register_forecaster("seasonal_naive")
class SeasonalNaive(TMForecaster):
    """Every future step equals the observed value one season earlier (default: one day).

    Parameters
    ----------
    season_days : season length in days (1.0: the same time yesterday; 7.0: last week).
    holdout : fraction of the fit series held out at its end for the conformal quantiles.

    Attributes
    ----------
    season_ : season length in time steps (288 at 5 minutes, 96 at 15 minutes for one day).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from surgeguard.forecast import SeasonalNaive
    >>> t = pd.date_range("2020-03-20", periods=72, freq="h")
    >>> y = (np.arange(72) % 24).astype(float)[:, None]
    >>> SeasonalNaive().fit_array(y, t).predict_array(3).ravel().tolist()
    [0.0, 1.0, 2.0]
    """

    _parameter_constraints = {**TMForecaster._parameter_constraints,
                              "season_days": [Interval(float, 0, None, closed="neither")]}

    def __init__(self, *, season_days: float = 1.0, holdout: float = 0.1):
        self.season_days = season_days
        self.holdout = holdout

    def _min_train(self, step) -> int:
        self.season_ = season_steps(step, self.season_days)
        return self.season_ + 1

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        pass

    def _min_history(self) -> int:
        return self.season_

    def _forecast(self, Z, times, h):
        s = self.season_
        idx = len(Z) - s + (np.arange(h) % s)
        return Z[idx]

    def _rolling(self, Z, times, origins, h):
        s = self.season_
        idx = origins[:, None] - s + (np.arange(h) % s)[None, :]
        return Z[idx]
