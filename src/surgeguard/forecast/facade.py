"""``Forecast``: many series in a long frame (``unique_id``, ``ds``, ``y``) and many models.

The frame is pivoted once into a dense array (time x series) on one regular UTC grid; each model
is fitted on that array through the array-level API of :class:`~surgeguard.forecast.TMForecaster`.
Outputs are long frames again: ``unique_id``, ``ds`` and one column per model alias, plus
``<alias>-q<q>`` columns when quantiles are requested (e.g. ``lgbm-q0.9``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError, ValidationError
from ..resources import check_memory, format_count
from ..validation import Params
from .base import TMForecaster, check_horizon, check_quantiles, get_forecaster

__all__ = ["Forecast"]


def _qcol(alias: str, q: float) -> str:
    return f"{alias}-q{q:g}"


class Forecast(Params):
    """Fit several forecasters on the series of a long frame and forecast them.

    Parameters
    ----------
    models : forecaster instances or registry names (e.g. ``['seasonal_naive', 'lgbm']``).
    aliases : column names for the models (default: their registry names); must be unique.
    id_col, time_col, target_col : column names of the input frame.

    Attributes
    ----------
    models_ : dict alias -> fitted forecaster.
    ids_ : the series ids, in column order of the internal array.
    times_ : the fitted UTC time grid.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from surgeguard.forecast import Forecast
    >>> t = pd.date_range("2020-03-16", periods=96, freq="h", tz="UTC")
    >>> df = pd.DataFrame({"unique_id": "a-b", "ds": t, "y": 10 + (np.arange(96) % 24)})
    >>> fc = Forecast(["seasonal_naive"]).fit(df).predict(2)
    >>> fc.columns.tolist(), fc["seasonal_naive"].tolist()
    (['unique_id', 'ds', 'seasonal_naive'], [10.0, 11.0])
    """

    def __init__(self, models: Sequence, *, aliases: Sequence[str] | None = None, id_col: str = "unique_id",
                 time_col: str = "ds", target_col: str = "y"):
        self.models = models
        self.aliases = aliases
        self.id_col = id_col
        self.time_col = time_col
        self.target_col = target_col

    # ------------------------------------------------------------------ frames <-> arrays
    def _templates(self) -> dict[str, TMForecaster]:
        ms = [get_forecaster(m) if isinstance(m, str) else m for m in self.models]
        if not ms:
            raise ValidationError("Forecast needs at least one model, e.g. Forecast(['seasonal_naive'])")
        bad = [m for m in ms if not isinstance(m, TMForecaster)]
        if bad:
            raise ValidationError(f"Forecast models must be TMForecaster instances or names; got {bad[:2]}")
        aliases = list(self.aliases) if self.aliases is not None else [m.name for m in ms]
        if len(aliases) != len(ms) or len(set(aliases)) != len(aliases):
            raise ValidationError(f"model aliases {aliases} must be unique, one per model; pass aliases=[...]")
        return {a: m.clone() for a, m in zip(aliases, ms)}

    def _pivot(self, df: pd.DataFrame):
        cols = [self.id_col, self.time_col, self.target_col]
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValidationError(f"forecast frame lacks columns {missing}; expected {cols} (set id_col/time_col/"
                                  "target_col to rename)")
        ds = pd.DatetimeIndex(pd.to_datetime(df[self.time_col]))
        ds = ds.tz_localize("UTC") if ds.tz is None else ds.tz_convert("UTC")
        y = pd.to_numeric(df[self.target_col], errors="coerce").to_numpy(float)
        if not np.isfinite(y).all() or (y < 0).any():
            raise ValidationError(f"forecast frame column {self.target_col!r} must be finite and >= 0; fill gaps first")
        wide = pd.DataFrame({"id": df[self.id_col].to_numpy(), "ds": ds, "y": y}).pivot_table(
            index="ds", columns="id", values="y", aggfunc="sum")
        if wide.isna().any().any():
            n = int(wide.isna().sum().sum())
            raise ValidationError(f"forecast frame has {n} missing (series, time) cells; every series needs a value at "
                                  "every time (fill with 0 for no traffic)")
        return wide.to_numpy(), pd.DatetimeIndex(wide.index), list(wide.columns)

    # ------------------------------------------------------------------ API
    def fit(self, df: pd.DataFrame) -> "Forecast":
        """Fit every model on all series of ``df``; returns self."""
        Y, times, ids = self._pivot(df)
        models = self._templates()
        for m in models.values():
            m.fit_array(Y, times)
        self.models_, self.ids_, self.times_ = models, ids, times
        return self

    def predict(self, h: int, *, quantiles: Sequence[float] | None = None) -> pd.DataFrame:
        """Forecast ``h`` steps after the fitted data: long frame ``unique_id, ds, <alias>...``."""
        if not hasattr(self, "models_"):
            raise NotFittedError("Forecast is not fitted yet; call fit(df) before predict()")
        h = check_horizon(h)
        qs = check_quantiles(quantiles)
        first = next(iter(self.models_.values()))
        for m in self.models_.values():
            m.check_horizon_size(h, quantiles=qs)
        # the long frame: ids (object) and times, then one column per model and quantile
        cols = 2 + len(self.models_) * (1 + len(qs or ()))
        check_memory(8.0 * h * len(self.ids_) * (cols + 2), f"a forecast frame of {format_count(h)} steps x "
                     f"{len(self.ids_)} series", "forecast fewer steps")
        ft = first.forecast_times(h)
        out = pd.DataFrame({self.id_col: np.repeat(np.asarray(self.ids_, dtype=object), h),
                            self.time_col: np.tile(ft.to_numpy(), len(self.ids_))})
        for alias, m in self.models_.items():
            res = m.predict_array(h, quantiles=qs)
            if qs is None:
                out[alias] = res.T.ravel()
            else:
                out[alias] = res["mean"].T.ravel()
                for q in qs:
                    out[_qcol(alias, q)] = res[q].T.ravel()
        return out

    def forecast(self, df: pd.DataFrame, h: int, *, quantiles: Sequence[float] | None = None) -> pd.DataFrame:
        """``fit(df).predict(h)``."""
        return self.fit(df).predict(h, quantiles=quantiles)

    def cross_validation(self, df: pd.DataFrame, h: int, *, n_windows: int = 1, step_size: int | None = None,
                         refit: bool = False) -> pd.DataFrame:
        """Backtest: forecasts of ``h`` steps from ``n_windows`` cutoffs at the end of ``df``.

        The cutoffs are ``step_size`` steps apart (default ``h``), the last one ``h`` steps before
        the end. With ``refit=False`` the models are fitted once on the data up to the first
        cutoff and then only conditioned on the actual past at each cutoff; with ``refit=True``
        they are refitted at every cutoff.

        Returns
        -------
        DataFrame ``unique_id, ds, cutoff, y, <alias>...`` (cutoff: the last time seen).
        """
        Y, times, ids = self._pivot(df)
        h = check_horizon(h)
        step = int(step_size or h)
        if n_windows < 1 or step < 1:
            raise ValidationError("cross_validation needs n_windows >= 1 and step_size >= 1")
        T = len(times)
        origins = T - h - step * np.arange(n_windows)[::-1]
        if origins[0] < 2:
            raise ValidationError(f"cross_validation: {n_windows} windows of {h} steps, {step} apart, need more "
                                  f"than the {T} steps given")
        frames = []
        models = self._templates()
        if not refit:
            for m in models.values():
                m.fit_array(Y[: origins[0]], times[: origins[0]])
        for o in origins:
            fc = {}
            for alias, m in models.items():
                if refit:
                    m = m.clone().fit_array(Y[:o], times[:o])
                fc[alias] = m.rolling_forecast(Y, times, [o], h)[0]
            frame = pd.DataFrame({self.id_col: np.repeat(np.asarray(ids, dtype=object), h),
                                  self.time_col: np.tile(times[o:o + h].to_numpy(), len(ids)),
                                  "cutoff": times[o - 1],
                                  self.target_col: Y[o:o + h].T.ravel()})
            for alias, arr in fc.items():
                frame[alias] = arr.T.ravel()
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)
