"""``lgbm``: one global gradient-boosting model over all flows (mlforecast + LightGBM).

Each flow is scaled to max 1 on the training part, so one model serves flows of very different
sizes. Features (built by mlforecast): lags 1..``max(lags)``, the value one day earlier (and its
two neighbours) when the training part holds more than a day, a rolling mean of lag 1, the time
of day (UTC, hours) and the flow's mean scaled level (static). Multi-step forecasts are
recursive (mlforecast feeds each prediction back as the next lag). The number of boosting
rounds is chosen by early stopping on the holdout part of the fit series.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..validation import Boolean, Interval, Options
from .base import TMForecaster, check_each, register_forecaster, season_steps

__all__ = ["LGBMForecaster", "time_of_day"]


def time_of_day(dates) -> np.ndarray:
    """Hour of the day (UTC) with minutes as a fraction, e.g. 13.5 at 13:30 (a date feature)."""
    d = pd.DatetimeIndex(dates)
    return (d.hour + d.minute / 60.0).to_numpy(dtype=float)


@register_forecaster("lgbm")
class LGBMForecaster(TMForecaster):
    """Global LightGBM model over lag and calendar features of every flow (via mlforecast).

    Parameters
    ----------
    lags : lags in steps (default 1..12: one hour at 5 minutes).
    season_lag : add the values one day earlier (lags ``day - 1, day, day + 1`` in steps)
        when the training part holds at least three days; True/False/'auto' ('auto' = True).
    rolling_window : window (steps) of the rolling mean of lag 1; 0 for none.
    n_estimators : maximum boosting rounds (early stopping on the holdout picks fewer).
    learning_rate, num_leaves, min_child_samples : LightGBM parameters.
    objective : LightGBM objective, 'l1' (median; what MAE rewards) or 'l2' (mean).
    early_stopping_rounds : patience of early stopping (needs ``holdout`` > 0).
    random_state : seed of LightGBM.
    n_jobs : LightGBM threads.
    holdout : fraction of the fit series held out for early stopping and conformal quantiles.

    Attributes
    ----------
    mlf_ : the fitted ``mlforecast.MLForecast`` (its model under ``models_['lgbm']``).
    best_iteration_ : boosting rounds kept.
    feature_names_ : the features, in the model's order.
    """

    #: mlforecast's recursive forecast holds a feature frame of h x S rows (lags, date features)
    forecast_buffers = 24.0
    _parameter_constraints = {
        **TMForecaster._parameter_constraints,
        "season_lag": [Boolean(), Options({"auto"})],
        "rolling_window": [Interval(int, 0, None)],
        "n_estimators": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "num_leaves": [Interval(int, 2, None)],
        "min_child_samples": [Interval(int, 1, None)],
        "objective": [Options({"l1", "l2", "huber"})],
        "early_stopping_rounds": [Interval(int, 0, None)],
        "random_state": [Interval(int, 0, None)],
        "n_jobs": [Interval(int, -1, None)],
    }

    def __init__(self, *, lags: tuple = tuple(range(1, 13)), season_lag="auto", rolling_window: int = 12,
                 n_estimators: int = 600, learning_rate: float = 0.1, num_leaves: int = 31,
                 min_child_samples: int = 50, objective: str = "l1", early_stopping_rounds: int = 30,
                 random_state: int = 0, n_jobs: int = 1, holdout: float = 0.1):
        self.lags = lags
        self.season_lag = season_lag
        self.rolling_window = rolling_window
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.objective = objective
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.holdout = holdout

    def validate(self):
        """Check the declared ranges and that every lag is a positive number of steps."""
        super().validate()
        check_each(self, "lags", Interval(int, 1, None))
        return self

    # ------------------------------------------------------------------ hooks
    def _min_train(self, step) -> int:
        self.day_ = season_steps(step, 1.0)
        self._lags_base = sorted({int(x) for x in np.atleast_1d(self.lags)})
        return max(self._lags_base) + max(int(self.rolling_window), 1) + 20

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        import lightgbm as lgb  # lazy: lightgbm is heavy and optional
        from mlforecast import MLForecast  # lazy: mlforecast is heavy and optional
        from mlforecast.lag_transforms import RollingMean  # lazy: mlforecast is heavy and optional

        n_train = len(Z)
        use_season = self.season_lag if self.season_lag != "auto" else True
        lags = list(self._lags_base)
        if use_season and n_train >= 3 * self.day_ and self.day_ > max(lags) + 1:
            lags += [self.day_ - 1, self.day_, self.day_ + 1]
        self.lags_ = sorted(set(lags))
        lag_tf = {1: [RollingMean(window_size=int(self.rolling_window))]} if self.rolling_window > 1 else None
        self.flow_mean_ = Z.mean(axis=0)
        model = lgb.LGBMRegressor(
            n_estimators=int(self.n_estimators), learning_rate=float(self.learning_rate),
            num_leaves=int(self.num_leaves), min_child_samples=int(self.min_child_samples),
            objective=self.objective, random_state=int(self.random_state), n_jobs=int(self.n_jobs),
            subsample=0.8, subsample_freq=1, colsample_bytree=0.9, verbose=-1)
        self.mlf_ = MLForecast(models={"lgbm": model}, freq=_offset(self.step_), lags=self.lags_,
                               lag_transforms=lag_tf, date_features=[time_of_day])
        if Z_valid is not None and len(Z_valid):
            Zall, tall = np.vstack([Z, Z_valid]), times.append(times_valid)
        else:
            Zall, tall = Z, times
        prep = self.mlf_.preprocess(self._frame(Zall, tall), static_features=["flow_mean"])
        self.feature_names_ = list(self.mlf_.ts.features_order_)
        cut = _naive(tall[n_train]) if len(tall) > n_train else None
        train = prep if cut is None else prep[prep["ds"] < cut]
        valid = None if cut is None else prep[prep["ds"] >= cut]
        if len(train) == 0:
            raise ValidationError("lgbm: no training rows left after the lags; give a longer series")
        fit_kw = {}
        if valid is not None and len(valid) and self.early_stopping_rounds:
            Xv, yv = valid[self.feature_names_], valid["y"]
            if "eval_X" in inspect.signature(model.fit).parameters:  # lightgbm >= 4.7
                fit_kw = dict(eval_X=(Xv,), eval_y=(yv,))
            else:  # pragma: no cover - older lightgbm
                fit_kw = dict(eval_set=[(Xv, yv)])
            fit_kw["callbacks"] = [lgb.early_stopping(int(self.early_stopping_rounds), verbose=False)]
        model.fit(train[self.feature_names_], train["y"], **fit_kw)
        self.best_iteration_ = int(model.best_iteration_ or model.n_estimators)
        self.mlf_.models_ = {"lgbm": model}

    def _min_history(self) -> int:
        return max(self.lags_) + max(int(self.rolling_window), 1)

    def _forecast(self, Z, times, h):
        fc = self.mlf_.predict(h, new_df=self._frame(Z, times))
        S = Z.shape[1]
        return fc["lgbm"].to_numpy().reshape(S, h).T  # mlforecast returns id-major, time-minor

    def _rolling(self, Z, times, origins, h):
        if h > 1:
            return super()._rolling(Z, times, origins, h)
        # one step ahead: the features at step o use only Z[:o], so compute them once for all o
        stop = int(origins.max()) + 1 if int(origins.max()) < len(Z) else len(Z)
        Zx, tx = Z[:stop], times[:stop]
        if stop == int(origins.max()):  # the last origin forecasts beyond the data: pad one row
            Zx = np.vstack([Zx, np.zeros((1, Z.shape[1]))])
            tx = tx.append(pd.DatetimeIndex([tx[-1] + self.step_]))
        mlf = copy.deepcopy(self.mlf_)
        prep = mlf.preprocess(self._frame(Zx, tx), static_features=["flow_mean"], dropna=False)
        want = pd.DatetimeIndex([_naive(tx[o]) for o in origins])
        rows = prep[prep["ds"].isin(want)]
        pred = self.mlf_.models_["lgbm"].predict(rows[self.feature_names_])
        out = np.empty((len(origins), 1, Z.shape[1]))
        oi = pd.Index(want).get_indexer(pd.DatetimeIndex(rows["ds"]))
        out[oi, 0, rows["unique_id"].to_numpy(dtype=int)] = pred
        return out

    def _context(self):
        return self._min_history() + 1

    # ------------------------------------------------------------------ helpers
    def _frame(self, Z, times) -> pd.DataFrame:
        T, S = Z.shape
        ds = pd.DatetimeIndex(times).tz_convert("UTC").tz_localize(None)
        return pd.DataFrame({
            "unique_id": np.repeat(np.arange(S), T),
            "ds": np.tile(ds.to_numpy(), S),
            "y": Z.T.ravel(),
            "flow_mean": np.repeat(self.flow_mean_, T),
        })


def _naive(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_convert("UTC").tz_localize(None) if t.tz is not None else t


def _offset(step: pd.Timedelta):
    return pd.tseries.frequencies.to_offset(step)
