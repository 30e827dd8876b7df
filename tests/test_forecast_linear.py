"""The ``linear`` forecaster (per-flow L1 regressions per lead), the ``blend`` of forecasters and
the noise-floor oracles of the forecast benchmark."""

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries
from surgeguard.exceptions import ValidationError
from surgeguard.forecast import BlendForecaster, LinearForecaster, Naive, get_forecaster
from surgeguard.forecast.blend import simplex_grid
from surgeguard.forecast.evaluate import noise_floor
from surgeguard.forecast.linear import lad_weights


def noisy_and_walking(T=600, seed=0, per_day=96):
    """Two flows: white noise around a constant level (the last value is a poor forecast) and a
    random walk (the last value is the best forecast)."""
    t = pd.date_range("2020-03-02", periods=T, freq=pd.Timedelta(days=1) / per_day, tz="UTC")
    rng = np.random.default_rng(seed)
    noisy = 5.0 + rng.normal(0, 1.0, T)
    walk = 20.0 + np.cumsum(rng.normal(0, 0.5, T))
    return np.maximum(np.stack([noisy, walk], axis=1), 0.0), t


def test_lad_weights_is_the_l1_fit():
    # a constant input: the L1 fit is the median, not the mean (which the outlier would drag)
    X = np.ones((1, 5, 1))
    y = np.array([[0.0, 1.0, 2.0, 3.0, 100.0]])
    assert lad_weights(X, y, iterations=50)[0, 0] == pytest.approx(2.0, abs=0.05)
    # exact data: the true weights, for several independent problems at once
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 200, 4))
    w_true = rng.normal(size=(3, 4))
    y = np.einsum("gnf,gf->gn", X, w_true)
    np.testing.assert_allclose(lad_weights(X, y), w_true, atol=1e-3)
    # a huge ridge toward a prior returns the prior
    prior = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(lad_weights(X, y, ridge=1e6, prior=prior), np.broadcast_to(prior, (3, 4)), atol=1e-3)


def test_linear_learns_each_flows_own_reversion():
    """Per-flow weights: on the noisy flow the forecast reverts to the level and beats the last
    value by far; on the random walk it stays near the last value (a level-plus-intercept model
    sees some reversion in any finite walk, so it is somewhat worse there, not much)."""
    Y, t = noisy_and_walking()
    m = LinearForecaster(window=8, outputs=2, profile=False).fit_array(Y[:400], t[:400])
    origins = np.arange(410, 598)
    fc = m.rolling_forecast(Y, t, origins, 1)[:, 0]
    nv = Naive().fit_array(Y[:400], t[:400]).rolling_forecast(Y, t, origins, 1)[:, 0]
    e_lin, e_nv = np.abs(fc - Y[origins]).mean(axis=0), np.abs(nv - Y[origins]).mean(axis=0)
    assert e_lin[0] < 0.8 * e_nv[0]                 # white noise: ~29 % below the last value
    assert e_lin[1] < 1.2 * e_nv[1]                 # random walk: close to the last value
    # how much of a jump in the last value the next forecast keeps: little on the noisy flow,
    # most of it on the walk
    o = 500
    Y2 = Y.copy()
    Y2[o - 1] += 1.0
    kept = m.rolling_forecast(Y2, t, [o], 1)[0, 0] - m.rolling_forecast(Y, t, [o], 1)[0, 0]
    assert kept[0] < 0.4 and kept[1] > 0.6


def test_linear_uses_the_daily_profile_where_the_holdout_prefers_it():
    per_day = 24
    t = pd.date_range("2020-03-02", periods=10 * per_day, freq="h", tz="UTC")
    rng = np.random.default_rng(2)
    k = np.arange(len(t))[:, None]
    Y = (1.5 + np.sin(2 * np.pi * k / per_day + np.array([[0.0, 2.0, 4.0]]))) * np.exp(rng.normal(0, 0.05, (len(t), 3)))
    m = LinearForecaster(window=6, outputs=4).fit_array(Y[:200], t[:200])
    assert m.use_profile_[-1]
    origins = np.arange(202, len(Y) - 4)
    fc = m.rolling_forecast(Y, t, origins, 4)
    nv = Naive().fit_array(Y[:200], t[:200]).rolling_forecast(Y, t, origins, 4)
    act = Y[origins[:, None] + np.arange(4)[None, :]]
    assert np.abs(fc - act)[:, 3].mean() < 0.5 * np.abs(nv - act)[:, 3].mean()
    # longer horizons block by block; the first block is unchanged
    np.testing.assert_allclose(m.rolling_forecast(Y, t, origins[:3], 9)[:, :4], fc[:3], rtol=1e-9)


def test_simplex_grid():
    g = simplex_grid(3, 0.25)
    assert len(g) == 15 and np.allclose(g.sum(axis=1), 1.0) and (g >= 0).all()


def test_blend_weights_are_chosen_on_the_holdout_and_applied_exactly():
    Y, t = noisy_and_walking(T=500)
    b = BlendForecaster(members=("linear", "naive"), member_params={"linear": {"window": 8, "outputs": 2,
                                                                               "profile": False}},
                        outputs=2, grid=0.1, holdout=0.2).fit_array(Y[:450], t[:450])
    assert b.weights_.shape == (2, 2) and np.allclose(b.weights_.sum(axis=1), 1.0)
    # the chosen blend is never worse on the holdout than either member alone (vertices are in the grid)
    assert (b.holdout_mae_[:, -1] <= b.holdout_mae_[:, :-1].min(axis=1) + 1e-12).all()
    assert b.weights_[0, 0] > 0.5                     # the per-flow model carries the noisy flow
    origins = np.arange(452, 495)
    got = b.rolling_forecast(Y, t, origins, 3)
    parts = [m.rolling_forecast(Y / b.scale_, t, origins, 3) * b.scale_ for m in b.members_]
    w = b.weights_[[0, 1, 1]]                         # lead 3 takes the last lead's weights
    want = sum(w[None, :, i, None] * parts[i] for i in range(2))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_blend_needs_a_holdout():
    Y, t = noisy_and_walking(T=200)
    with pytest.raises(ValidationError, match="holdout"):
        get_forecaster("blend", members=("naive",), holdout=0.0).fit_array(Y, t)


def test_noise_floor_oracles():
    """White noise around a level: even the causal oracle beats the last value by far, and the
    two-sided one (which sees the future) by at least as much."""
    T, per_day = 400, 96
    t = pd.date_range("2020-03-02", periods=T, freq=pd.Timedelta(days=1) / per_day, tz="UTC")
    rng = np.random.default_rng(3)
    v = np.zeros((T, 2, 2))
    v[:, 0, 1] = 5.0 + rng.normal(0, 1.0, T)
    v[:, 1, 0] = 5.0 + rng.normal(0, 1.0, T)
    ts = TrafficSeries(np.maximum(v, 0.0) * 1e9, ["A", "B"], t, name="noise")
    fl = noise_floor(ts, horizons={"1 step": 1, "1 hour": 4})
    for label in ("1 step", "1 hour"):
        assert fl[label]["causal_improvement"] > 0.2
        assert fl[label]["two_sided_improvement"] >= fl[label]["causal_improvement"] - 0.02
