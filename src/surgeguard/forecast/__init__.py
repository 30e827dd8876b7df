"""Traffic forecasting: one contract, several models, long frames at the edge.

* :class:`TMForecaster` -- ``fit(series) -> self``, ``predict(h, quantiles=None)`` giving
  ``(h, N, N)`` bit/s (a dict ``{'mean': ..., q: ...}`` with quantiles), ``update(series)``
  (new history, no retraining) and ``predict_next(history)`` for replays.
* :func:`get_forecaster` -- by name: ``'naive'``, ``'seasonal_naive'``, ``'ets'``, ``'mstl'``,
  ``'lgbm'``, ``'neural'``, ``'direct'`` (pooled network, one output per lead up to an hour,
  daily profile), ``'linear'`` (per-flow L1 regressions per lead), ``'blend'`` (per-lead convex
  blend of members, weights chosen on the holdout) and the published per-flow baselines
  ``'lstm'``, ``'gru'``.
* :class:`Forecast` -- the facade over long frames ``unique_id, ds, y`` (fit, predict,
  cross_validation).
* :mod:`surgeguard.forecast.evaluate` -- chronological split, metrics, backtests;
  :mod:`surgeguard.forecast.report` -- the HTML section.

Examples
--------
>>> from surgeguard.forecast import get_forecaster, available_forecasters
>>> available_forecasters()
['blend', 'direct', 'ets', 'gru', 'lgbm', 'linear', 'lstm', 'mstl', 'naive', 'neural', 'seasonal_naive']
"""

from .base import FORECASTERS, TMForecaster, available_forecasters, get_forecaster, register_forecaster
from .blend import BlendForecaster
from .direct import DirectForecaster
from .facade import Forecast
from .gbm import LGBMForecaster
from .linear import LinearForecaster
from .models import Naive, SeasonalNaive
from .neural import NeuralForecaster
from .rnn import GRUForecaster, LSTMForecaster
from .stats import ETS, MSTLForecaster

__all__ = [
    "TMForecaster",
    "get_forecaster",
    "register_forecaster",
    "available_forecasters",
    "FORECASTERS",
    "Forecast",
    "Naive",
    "SeasonalNaive",
    "ETS",
    "MSTLForecaster",
    "LGBMForecaster",
    "NeuralForecaster",
    "DirectForecaster",
    "LinearForecaster",
    "BlendForecaster",
    "LSTMForecaster",
    "GRUForecaster",
]
