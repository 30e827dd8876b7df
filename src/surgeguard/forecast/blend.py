"""``blend``: a convex combination of forecasters, weights per lead chosen on the holdout.

Why: the models err differently (``direct``, a pooled network, is best on average; ``linear``,
per-flow L1 regressions, knows each flow's own reversion speed; the last value is the floor
both start from), and an average of forecasts that err differently beats each of them when its
weights are chosen out of sample.

How: every member is fitted on the training part (the holdout serves its own early stopping as
when it is fitted alone). Then, for each lead ``k = 1 .. outputs``, the weights on the simplex
grid of step ``grid`` with the lowest mean absolute error on the holdout (forecasts made from the
actual past inside it; the benchmark's max-normalised MAE, since the blend works on per-flow
max-scaled values) are kept; leads beyond ``outputs`` take the last lead's weights. Caveat:
the holdout that chose the weights is also the one the benchmark reports as validation, so the
blend's validation error is optimistic by construction; only the test part says how it does.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..validation import Interval, NoneOr
from .base import TMForecaster, get_forecaster, register_forecaster

__all__ = ["BlendForecaster", "simplex_grid"]


def simplex_grid(n: int, step: float) -> np.ndarray:
    """All weight vectors of length ``n`` with entries in multiples of ``step`` summing to 1.

    >>> simplex_grid(2, 0.5).tolist()
    [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]
    """
    m = int(round(1.0 / step))
    rows = [c + (m - sum(c),) for c in itertools.product(range(m + 1), repeat=n - 1) if sum(c) <= m]
    return np.array(rows, dtype=float) / m


@register_forecaster("blend")
class BlendForecaster(TMForecaster):
    """Per-lead convex blend of several forecasters, weights chosen on the holdout.

    Parameters
    ----------
    members : names of the forecasters blended (default ``direct``, ``linear``, ``naive``).
    member_params : {name: constructor options} for the members (default: their defaults).
    outputs : leads with their own weights (None: one hour of steps).
    grid : step of the weight grid on the simplex.
    holdout : fraction of the fit series held out (members' early stopping, the weights and the
        conformal quantiles); it must hold at least ``outputs`` steps.

    Attributes
    ----------
    members_ : the fitted members; weights_ : (outputs, n_members); holdout_mae_ : (outputs,
    n_members + 1) holdout error of each member and of the blend per lead.

    Examples
    --------
    >>> simplex_grid(3, 0.5).shape
    (6, 3)
    """

    _parameter_constraints = {
        **TMForecaster._parameter_constraints,
        "outputs": [NoneOr(), Interval(int, 1, None)],
        "grid": [Interval(float, 0, 1, closed="right")],
    }

    def __init__(self, *, members: tuple = ("direct", "linear", "naive"), member_params: dict | None = None,
                 outputs: int | None = None, grid: float = 0.1, holdout: float = 0.1):
        self.members = members
        self.member_params = member_params
        self.outputs = outputs
        self.grid = grid
        self.holdout = holdout

    def _make(self) -> list:
        names = list(self.members)
        if len(names) < 1:
            raise ValidationError("blend: give at least one member forecaster")
        params = dict(self.member_params or {})
        return [get_forecaster(n, **params.get(n, {})) for n in names]

    def _make_fitting(self, holdout: float) -> list:
        """The members, unfitted, each with the blend's holdout share of the series."""
        params = dict(self.member_params or {})
        return [get_forecaster(n, **{**params.get(n, {}), "holdout": holdout}) for n in self.members]

    def _min_train(self, step) -> int:
        self.outputs_ = int(self.outputs) if self.outputs else max(1, int(round(pd.Timedelta(hours=1) / step)))
        return max(m._min_train(step) for m in self._make()) + self.outputs_

    def _min_history(self) -> int:
        return max(m.min_history_ for m in self.members_)

    def _context(self):
        ctx = [m._context() for m in self.members_]
        return None if any(c is None for c in ctx) else max(ctx)

    def _fit(self, Z, times, Z_valid, times_valid) -> None:
        H = self.outputs_
        if Z_valid is None or len(Z_valid) < H + 1:
            raise ValidationError(f"blend: the holdout has {0 if Z_valid is None else len(Z_valid)} steps; it "
                                  f"needs more than {H} to choose the weights (raise holdout or give more data)")
        Zall, tall = np.vstack([Z, Z_valid]), times.append(times_valid)
        n_train = len(Z)
        self.members_ = []
        for m in self._make_fitting(len(Z_valid) / len(Zall)):
            self.members_.append(m.fit_array(Zall, tall))
        og = np.arange(max(n_train, max(m.min_history_ for m in self.members_)), len(Zall) - H + 1)
        if len(og) == 0:
            raise ValidationError("blend: no holdout origins; raise holdout or give more data")
        P = np.stack([m.rolling_forecast(Zall, tall, og, H) for m in self.members_])   # (M, n, H, S)
        tgt = Zall[og[:, None] + np.arange(H)[None, :]]
        grid = simplex_grid(len(self.members_), float(self.grid))
        self.weights_ = np.empty((H, len(self.members_)))
        self.holdout_mae_ = np.empty((H, len(self.members_) + 1))
        for k in range(H):
            err = [np.abs(np.tensordot(w, P[:, :, k], axes=1) - tgt[:, k]).mean() for w in grid]
            self.weights_[k] = grid[int(np.argmin(err))]
            self.holdout_mae_[k, :-1] = np.abs(P[:, :, k] - tgt[None, :, k]).mean(axis=(1, 2))
            self.holdout_mae_[k, -1] = min(err)

    def _forecast(self, Z, times, h):
        return self._rolling(Z, times, np.array([len(Z)]), h)[0]

    def _rolling(self, Z, times, origins, h):
        H = self.outputs_
        w = self.weights_[np.minimum(np.arange(h), H - 1)]                  # (h, M)
        out = 0.0
        for i, m in enumerate(self.members_):
            if not w[:, i].any():
                continue
            out = out + w[None, :, i, None] * m.rolling_forecast(Z, times, origins, h)
        return out if not np.isscalar(out) else np.zeros((len(origins), h, Z.shape[1]))
