"""The ``direct`` forecaster (pooled network, one output per lead, daily profile), the published
LSTM/GRU baselines and the shared training loop."""

import numpy as np
import pandas as pd
import pytest

from surgeguard.forecast import DirectForecaster, GRUForecaster, LSTMForecaster, Naive, get_forecaster
from surgeguard.forecast.direct import daily_profile
from surgeguard.forecast.training import train_net

torch = pytest.importorskip("torch")


def cycle_array(days=8, per_day=24, flows=6, noise=0.03, seed=0):
    """A strong daily cycle per flow (different phases) with small multiplicative noise."""
    t = pd.date_range("2020-03-02", periods=days * per_day, freq=pd.Timedelta(days=1) / per_day, tz="UTC")
    rng = np.random.default_rng(seed)
    k = np.arange(len(t))[:, None]
    phase = rng.uniform(0, 2 * np.pi, (1, flows))
    Y = (1.2 + np.sin(2 * np.pi * k / per_day + phase)) * rng.uniform(1, 3, (1, flows))
    return Y * np.exp(rng.normal(0, noise, Y.shape)), t


def test_daily_profile_means_by_phase_and_leaves_days_out():
    # two days of two phases: day 0 = [1, 3], day 1 = [5, 7]
    Z = np.array([[1.0], [3.0], [5.0], [7.0]])
    phase, days = np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])
    assert daily_profile(Z, phase, 2, smooth=0).ravel().tolist() == [3.0, 5.0]
    assert daily_profile(Z, phase, 2, smooth=0, days=days, exclude=(1,)).ravel().tolist() == [1.0, 3.0]
    # circular smoothing over 3 phases of a 3-phase day: every value becomes the day's mean
    prof = daily_profile(np.array([[0.0], [3.0], [6.0]]), np.array([0, 1, 2]), 3, smooth=1)
    np.testing.assert_allclose(prof.ravel(), [3.0, 3.0, 3.0])
    # a phase never observed takes the series' mean
    assert daily_profile(Z[:1], phase[:1], 2, smooth=0).ravel().tolist() == [1.0, 1.0]


def test_direct_beats_last_value_an_hour_ahead_on_a_daily_cycle():
    """Leads of a known daily cycle are predictable; the last value is not: direct must win at
    every lead of its block, and by a wide margin at the last one."""
    Y, t = cycle_array()
    m = DirectForecaster(outputs=4, window=8, hidden=32, epochs=30, patience=5, lr=3e-3).fit_array(Y[:168], t[:168])
    assert m.use_profile_ and m.use_yesterday_ and m.outputs_ == 4 and m.context_ == 25
    origins = np.arange(170, len(Y) - 4, 2)
    fc = m.rolling_forecast(Y, t, origins, 4)
    nv = Naive().fit_array(Y[:168], t[:168]).rolling_forecast(Y, t, origins, 4)
    act = Y[origins[:, None] + np.arange(4)[None, :]]
    e_direct = np.abs(fc - act).mean(axis=(0, 2))
    e_naive = np.abs(nv - act).mean(axis=(0, 2))
    assert (e_direct < e_naive).all()
    assert e_direct[-1] < 0.6 * e_naive[-1]


def test_direct_long_horizons_are_forecast_block_by_block():
    Y, t = cycle_array(days=5)
    m = DirectForecaster(outputs=3, window=6, hidden=8, epochs=2, profile=False, yesterday=False).fit_array(Y, t)
    assert not m.use_profile_ and not m.use_yesterday_ and m.context_ == 6
    p = m.predict_array(7)                                     # three blocks, the last one cut
    assert p.shape == (7, Y.shape[1]) and np.isfinite(p).all()
    np.testing.assert_allclose(m.predict_array(3), p[:3], rtol=1e-6)


def test_direct_outputs_default_to_one_hour():
    Y, t = cycle_array(days=3, per_day=96)                      # 15-minute steps
    m = DirectForecaster(window=4, hidden=4, epochs=1).fit_array(Y, t)
    assert m.outputs_ == 4 and len(m.nets_) == 1


def test_direct_averages_several_networks():
    Y, t = cycle_array(days=4)
    m = DirectForecaster(outputs=2, window=4, hidden=4, epochs=1, n_models=2).fit_array(Y, t)
    assert len(m.nets_) == 2 and len(m.history_) == 2
    with pytest.raises(Exception, match="n_models"):
        DirectForecaster(n_models=0).fit_array(Y, t)


@pytest.mark.parametrize("cls, cell", [(LSTMForecaster, torch.nn.LSTM), (GRUForecaster, torch.nn.GRU)])
def test_published_baselines_are_plain_recurrent_nets(cls, cell):
    Y, t = cycle_array(days=3)
    m = get_forecaster(cls.name, epochs=2, hidden=4).fit_array(Y, t)
    assert isinstance(m, cls) and m.name == cls.cell and m.window == 12
    assert isinstance(m.net_.rnn, cell) and m.net_.rnn.input_size == 1     # the flow's own values only
    assert set(m.history_[0]) == {"epoch", "train_loss", "holdout_loss", "seconds"}


@pytest.mark.parametrize("loss, expected", [("l1", 0.0), ("mse", 2.5)])
def test_train_net_minimises_the_named_loss(loss, expected):
    """A constant model ends at the median under L1 and at the mean under squared error."""
    torch.manual_seed(0)
    net = torch.nn.Linear(1, 1)
    x = np.zeros((400, 1), np.float32)
    y = np.tile(np.array([0.0, 0.0, 0.0, 10.0], np.float32), 100)[:, None]
    train_net(net, (x, y), None, epochs=300, patience=300, batch_size=400, lr=0.05, weight_decay=0.0,
              samples_per_epoch=None, random_state=0, device="cpu", loss=loss)
    assert float(net.bias.detach()) == pytest.approx(expected, abs=0.2)
