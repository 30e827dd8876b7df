"""Synthetic gravity traffic: shape, profile, reproducibility, totals."""

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries, ValidationError
from surgeguard.examples import morocco, ring, triangle
from surgeguard.scenario import gravity_matrix, gravity_series, load_profile, node_weights

SMOOTH = {"noise_sigma": 0.0, "od_noise_sigma": 0.0, "od_dispersion_sigma": 0.0}


def _local(ts, offset):
    return ts.times.tz_convert(None) + pd.Timedelta(hours=offset)


def test_gravity_matrix_uniform_without_population():
    m = gravity_matrix(triangle(), 6e9)
    assert m.shape == (3, 3)
    assert np.allclose(np.diag(m), 0)
    assert m.sum() == pytest.approx(6e9)
    off = m[~np.eye(3, dtype=bool)]
    assert np.allclose(off, 1e9)


def test_gravity_matrix_follows_population():
    net = morocco()
    m = gravity_matrix(net, 1e12)
    i = net.node_index
    pop = net.nodes["population"]
    assert m.sum() == pytest.approx(1e12)
    assert np.allclose(m, m.T)  # w_i w_j is symmetric
    assert m[i["Casablanca"], i["Fes"]] / m[i["Rabat"], i["Fes"]] == pytest.approx(
        pop["Casablanca"] / pop["Rabat"])
    assert np.argmax(m.sum(axis=1)) == i["Casablanca"]


def test_node_weights_mapping_fills_missing_with_mean_and_checks_input():
    net = ring(4)
    w = node_weights(net, {"R0": 1.0, "R1": 3.0})
    assert w.tolist() == [1.0, 3.0, 2.0, 2.0]
    assert node_weights(net).tolist() == [1.0] * 4  # no population: uniform
    with pytest.raises(ValidationError, match="4 nodes"):
        node_weights(net, [1.0, 2.0])
    with pytest.raises(ValidationError, match="negative"):
        node_weights(net, [1.0, -2.0, 1.0, 1.0])
    with pytest.raises(ValidationError, match="unknown"):
        node_weights(net, {"nowhere": 1.0})
    with pytest.raises(ValidationError, match="at least two"):
        gravity_matrix(net, 1e9, [1.0, 0.0, 0.0, 0.0])


def test_series_shape_positive_and_utc():
    net = morocco()
    ts = gravity_series(net, "2020-03-16", periods=96, freq="15min", total_bps=1e11, random_state=3)
    assert isinstance(ts, TrafficSeries)
    assert ts.values.shape == (96, net.n_nodes, net.n_nodes)
    assert ts.nodes == net.node_names
    assert str(ts.times.tz) == "UTC" and ts.step == pd.Timedelta("15min")
    off = ~np.eye(net.n_nodes, dtype=bool)
    assert (ts.values[:, off] > 0).all()
    assert (ts.values[:, ~off] == 0).all()
    assert ts.meta["utc_offset_hours"] == 1.0  # from morocco().meta


def test_reproducible_with_random_state():
    net = ring(5)
    a = gravity_series(net, "2020-03-16", 50, random_state=7)
    b = gravity_series(net, "2020-03-16", 50, random_state=7)
    c = gravity_series(net, "2020-03-16", 50, random_state=8)
    assert np.array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)


def test_mean_total_matches_total_bps_over_full_weeks():
    ts = gravity_series(morocco(), "2020-03-02", periods=24 * 7 * 4, freq="1h", total_bps=2e11, random_state=0)
    assert ts.total.sum(axis=(1, 2)).mean() == pytest.approx(2e11, rel=0.03)
    smooth = gravity_series(ring(4), "2020-03-02", periods=24 * 7 * 12, freq="5min", total_bps=1e9,
                            params=SMOOTH)
    assert smooth.total.sum(axis=(1, 2)).mean() == pytest.approx(1e9, rel=1e-3)


@pytest.mark.parametrize("offset", [0.0, 1.0, -6.0])
def test_diurnal_peak_at_the_profile_peak_in_local_time(offset):
    prof = load_profile()
    ts = gravity_series(ring(4), "2020-03-16", periods=24 * 12, freq="5min", params=SMOOTH,
                        utc_offset_hours=offset)
    tot = ts.total.sum(axis=(1, 2))
    local = _local(ts, offset)
    peak = local[np.argmax(tot)]
    assert peak.hour + peak.minute / 60 == pytest.approx(prof.peak_hour(), abs=0.1)
    assert 12 <= prof.peak_hour() <= 18  # fitted research backbones peak in the afternoon


def test_diurnal_peak_survives_noise():
    ts = gravity_series(morocco(), "2020-03-02", periods=24 * 14, freq="1h", random_state=1)
    s = pd.Series(ts.total.sum(axis=(1, 2)), index=_local(ts, 1.0))
    weekdays = s[s.index.day_of_week < 5]
    by_hour = weekdays.groupby(weekdays.index.hour).mean()
    assert abs(by_hour.idxmax() - load_profile().peak_hour()) <= 2.5
    assert by_hour.max() / by_hour.min() > 1.3


def test_weekly_effect_weekend_lower():
    prof = load_profile()
    ts = gravity_series(ring(4), "2020-03-02", periods=24 * 7, freq="1h", params=SMOOTH)
    s = pd.Series(ts.total.sum(axis=(1, 2)), index=ts.times)
    dow = s.index.day_of_week
    ratio = s[dow >= 5].mean() / s[dow < 5].mean()
    h = np.arange(0, 24, 1 / 12)
    expect = np.exp(prof.log_profile(h, True)).mean() / np.exp(prof.log_profile(h, False)).mean()
    assert ratio == pytest.approx(expect, rel=0.02)
    assert ratio < 0.95
    # a custom weekend (e.g. Friday-Saturday) moves the dip
    fs = gravity_series(ring(4), "2020-03-02", periods=24 * 7, freq="1h", params=SMOOTH, weekend_days=(4, 5))
    s2 = pd.Series(fs.total.sum(axis=(1, 2)), index=fs.times)
    assert s2[s2.index.day_of_week == 4].mean() < s2[s2.index.day_of_week == 6].mean()


def test_classes_split_demand_by_share():
    net = ring(4)
    agg = gravity_series(net, "2020-03-16", 24, freq="1h", random_state=2)
    cls = gravity_series(net, "2020-03-16", 24, freq="1h", random_state=2,
                         classes={"best_effort": 3, "critical": 1})
    assert cls.classes == ("best_effort", "critical")
    assert cls.values.shape == (24, 2, 4, 4)
    assert np.allclose(cls.total, agg.values)
    assert np.allclose(cls.values[:, 1] * 3, cls.values[:, 0])
    eq = gravity_series(net, "2020-03-16", 4, freq="1h", classes=["a", "b"], random_state=0)
    assert np.allclose(eq.values[:, 0], eq.values[:, 1])


def test_params_by_name_and_overrides():
    net = ring(4)
    a = gravity_series(net, "2020-03-16", 10, params="geant", random_state=0)
    assert a.meta["profile"] == "geant"
    with pytest.raises(ValidationError, match="valid keys"):
        gravity_series(net, "2020-03-16", 10, params={"noise": 0.1})
    with pytest.raises(ValidationError, match="unknown traffic profile"):
        gravity_series(net, "2020-03-16", 10, params="nowhere")


@pytest.mark.parametrize("kwargs, match", [
    ({"periods": 0}, "periods"),
    ({"freq": "sometimes"}, "freq"),
    ({"total_bps": -1.0}, "total_bps"),
    ({"start": "not a date"}, "start"),
    ({"classes": {}}, "classes"),
    ({"utc_offset_hours": 30}, "utc_offset_hours"),
])
def test_bad_inputs_raise_validation_error(kwargs, match):
    args = {"start": "2020-03-16", "periods": 4} | kwargs
    with pytest.raises(ValidationError, match=match):
        gravity_series(ring(3), **args)
