"""Evaluating forecasters on a real series: chronological split, metrics, rolling backtests.

Protocol (:func:`evaluate_forecaster`):

* The series is split in time order: train (first 70 %), validation (next 10 %), test (last
  20 %). The model is fitted once on train + validation with ``holdout`` set so that its
  parameters are learned on train only; validation serves early stopping (``lgbm``,
  ``neural``), the conformal quantiles, and model selection (``valid`` metrics). Nothing is
  tuned on test.
* Validation errors are also reported per horizon (``valid_horizons``, origins and targets
  inside the validation part), so that a model can be chosen per horizon before looking at test.
* Test forecasts are made from rolling origins with the actual past and no retraining. The error
  at horizon ``h`` is that of the h-th step ahead (forecast made at step t - h for step t - 1).
  Every test step is a 1-step target; for longer horizons at most ``max_origins`` evenly spaced
  origins are used (the same for every model).
* Metrics over the flows that carried traffic in the training part, in bit/s: MAE, RMSE,
  NMAE = sum |error| / sum |actual|; ``nmae_total``: the same for the network total; and
  ``mae_maxnorm``: MAE after dividing each flow by its maximum over the training part (how
  published traffic-matrix prediction results are stated); ``mae_maxnorm_full`` divides by the
  maximum over the whole series instead, as a MinMax scaler fitted on all data would.
"""

from __future__ import annotations

import time
from typing import Mapping

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..traffic import TrafficSeries
from .base import TMForecaster
from .linear import lad_weights

__all__ = ["chronological_split", "forecast_errors", "default_horizons", "evaluate_forecaster", "noise_floor"]


def chronological_split(n_steps: int, train: float = 0.7, valid: float = 0.1) -> tuple[int, int]:
    """Ends of the train and validation parts: steps ``[0, a)``, ``[a, b)``, test ``[b, n)``.

    Examples
    --------
    >>> chronological_split(2880)
    (2016, 2304)
    """
    if not (0 < train < 1 and 0 <= valid < 1 and train + valid < 1):
        raise ValidationError(f"split train={train}, valid={valid} must be fractions with train + valid < 1")
    a = int(round(train * n_steps))
    b = int(round((train + valid) * n_steps))
    if a < 1 or b >= n_steps:
        raise ValidationError(f"a series of {n_steps} steps is too short for a {train}/{valid} split")
    return a, b


def forecast_errors(actual: np.ndarray, pred: np.ndarray) -> dict:
    """MAE, RMSE (units of the inputs) and NMAE (sum |e| / sum |actual|) over all entries."""
    e = np.asarray(pred, float) - np.asarray(actual, float)
    denom = np.abs(actual).sum()
    return {"mae": float(np.abs(e).mean()), "rmse": float(np.sqrt((e ** 2).mean())),
            "nmae": float(np.abs(e).sum() / denom) if denom > 0 else float("nan")}


def default_horizons(step: pd.Timedelta) -> dict[str, int]:
    """``{'1 step': 1, '1 hour': steps per hour, '1 day': steps per day}`` for a time step."""
    out = {"1 step": 1}
    for label, span in (("1 hour", pd.Timedelta(hours=1)), ("1 day", pd.Timedelta(days=1))):
        k = int(round(span / step))
        if k > 1:
            out[label] = k
    return out


def evaluate_forecaster(model: TMForecaster, series: TrafficSeries, *, train: float = 0.7, valid: float = 0.1,
                        horizons: Mapping[str, int] | None = None, max_origins: int = 48,
                        quantiles: tuple = (0.1, 0.9)) -> dict:
    """Fit on train + validation, backtest on test; see the module docstring for the protocol.

    Parameters
    ----------
    model : an unfitted forecaster; it is cloned with ``holdout = valid / (train + valid)``.
    series : the whole real series (bit/s).
    horizons : ``{label: steps}``; default :func:`default_horizons`. Horizons longer than the
        test part are reported as skipped.
    max_origins : origins per horizon > 1 step.
    quantiles : the interval whose empirical coverage of the 1-step test targets is reported.

    Returns
    -------
    dict with ``fit_seconds``, ``predict_next_ms`` (one ``predict_next`` on the full history),
    ``valid`` (1-step metrics on validation), ``valid_horizons`` ({label: metrics} on validation
    for the horizons that fit in it), ``test`` ({label: metrics}), ``coverage``,
    ``skipped`` and the split sizes.
    """
    if not isinstance(series, TrafficSeries):
        raise ValidationError(f"evaluate_forecaster needs a TrafficSeries, got {type(series).__name__}")
    T = len(series)
    a, b = chronological_split(T, train, valid)
    params = model.get_params()
    params["holdout"] = (b - a) / b
    m = type(model)(**params)
    t0 = time.perf_counter()
    m.fit(series.window(0, b))
    fit_s = time.perf_counter() - t0
    n = series.n_nodes
    Y = series.total.reshape(T, n * n)
    Ya = Y[:, m.active_]
    train_max = Y[:a].max(axis=0)
    keep = train_max > 0              # flows evaluated (traffic in the training part)
    keep_a = keep[m.active_]          # among the model's active flows
    full_max = Y.max(axis=0)

    def metrics(targets: np.ndarray, pred_active: np.ndarray) -> dict:
        act = Y[targets][:, keep]
        pred = np.zeros((len(targets), Y.shape[1]))
        pred[:, m.active_] = pred_active
        pred = pred[:, keep]
        out = forecast_errors(act, pred)
        out["nmae_total"] = forecast_errors(act.sum(1), pred.sum(1))["nmae"]
        out["mae_maxnorm"] = float(np.abs((pred - act) / train_max[keep]).mean())
        out["mae_maxnorm_full"] = float(np.abs((pred - act) / full_max[keep]).mean())
        out["n_targets"] = int(len(targets))
        return out

    res = {"model": m.name, "params": {k: _jsonable(v) for k, v in m.get_params().items()},
           "n_steps": T, "n_train": a, "n_valid": b - a, "n_test": T - b, "step": str(series.step),
           "n_flows": int(keep.sum()), "fit_seconds": fit_s, "calibration": m.calibration_}
    for attr in ("best_epoch_", "best_iteration_", "seasons_", "lags_", "use_profile_", "use_yesterday_"):
        if hasattr(m, attr):
            res[attr.rstrip("_")] = _jsonable(getattr(m, attr))
    vt = np.arange(max(a, m.min_history_), b)
    res["valid"] = metrics(vt, m.rolling_forecast(Ya, series.times, vt, 1)[:, 0])
    hz = dict(horizons) if horizons is not None else default_horizons(series.step)
    res["valid_horizons"] = {}
    for label, h in hz.items():
        origins = np.arange(max(a, m.min_history_), b - h + 1)
        if len(origins) == 0:
            continue
        if h > 1 and len(origins) > max_origins:
            origins = np.unique(np.linspace(origins[0], origins[-1], max_origins).round().astype(int))
        p = m.rolling_forecast(Ya, series.times, origins, h)[:, h - 1]
        res["valid_horizons"][label] = {"steps": int(h), **metrics(origins + h - 1, p)}
    res["test"], res["skipped"] = {}, {}
    for label, h in hz.items():
        origins = np.arange(b, T - h + 1)
        if len(origins) == 0:
            res["skipped"][label] = f"horizon {h} steps exceeds the {T - b}-step test part"
            continue
        if h > 1 and len(origins) > max_origins:
            origins = np.unique(np.linspace(b, T - h, max_origins).round().astype(int))
        if h == 1 and quantiles:
            fc = m.rolling_forecast(Ya, series.times, origins, 1, quantiles=list(quantiles))
            p = fc["mean"][:, 0]
            lo, hi = fc[min(quantiles)][:, 0][:, keep_a], fc[max(quantiles)][:, 0][:, keep_a]
            act = Ya[origins][:, keep_a]
            res["coverage"] = {"interval": [min(quantiles), max(quantiles)],
                               "nominal": max(quantiles) - min(quantiles),
                               "observed": float(((act >= lo) & (act <= hi)).mean())}
        else:
            p = m.rolling_forecast(Ya, series.times, origins, h)[:, h - 1]
        res["test"][label] = {"steps": int(h), **metrics(origins + h - 1, p)}
    # latency of the online call a replay makes at each step
    t0 = time.perf_counter()
    reps = 3
    for _ in range(reps):
        m.predict_next(series)
    res["predict_next_ms"] = 1e3 * (time.perf_counter() - t0) / reps
    return res


def noise_floor(series: TrafficSeries, *, train: float = 0.7, valid: float = 0.1,
                horizons: Mapping[str, int] | None = None, k: int = 6) -> dict:
    """How far below the last value a forecaster could get on the test part: two oracles.

    Both work on the per-flow max-normalised values (train max) of the flows that carried traffic
    in the training part, and predict the change of each test value from the value ``h`` steps
    earlier with one L1 (least absolute deviation) linear regression pooled over flows, **fitted
    on the test part itself** (oracle parameters):

    * ``causal``: inputs are the ``k - 1`` values before that one (as changes from it): the best
      pooled linear forecaster, fitted with hindsight.
    * ``two_sided``: the same plus the ``k - 1`` values *after* the target, i.e. an interpolation
      that sees the future. No forecaster knows the future, so its error is a practical floor
      for any forecaster that, like it, reads a few values around the target; a forecaster whose
      improvement over the last value exceeds the two-sided oracle's would be surprising.

    Returns
    -------
    {label: {"steps", "naive_mae_maxnorm", "causal_improvement", "two_sided_improvement"}}
    (improvements as fractions of the naive error on the same targets).
    """
    T = len(series)
    a, b = chronological_split(T, train, valid)
    Y = series.total.reshape(T, -1)
    mx = Y[:a].max(axis=0)
    Z = Y[:, mx > 0] / mx[mx > 0]
    out = {}
    for label, h in (dict(horizons) if horizons is not None else default_horizons(series.step)).items():
        ts = np.arange(max(b, k + h), T - k)
        if len(ts) < 2:
            continue
        last = Z[ts - h]
        y = (Z[ts] - last).ravel()
        past = [(Z[ts - h - j] - last).ravel() for j in range(1, k)]
        fut = [(Z[ts + j] - last).ravel() for j in range(1, k)]
        one = [np.ones_like(y)]
        naive = float(np.abs(y).mean())
        res = {"steps": int(h), "naive_mae_maxnorm": naive, "targets": int(len(ts))}
        for name, cols in (("causal", past + one), ("two_sided", past + fut + one)):
            X = np.stack(cols, axis=1)[None]
            w = lad_weights(X, y[None], iterations=30)
            res[f"{name}_improvement"] = 1 - float(np.abs(y - X[0] @ w[0]).mean()) / naive if naive > 0 else 0.0
        out[label] = res
    return out


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v
