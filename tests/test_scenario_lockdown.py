"""The lockdown scenario and the scenario registry."""

import numpy as np
import pandas as pd
import pytest

from surgeguard import ValidationError
from surgeguard.examples import morocco, ring
from surgeguard.scenario import (LOCKDOWN_DATE, Lockdown, NoScenario, available_scenarios, get_scenario,
                                 gravity_series)

START = pd.Timestamp("2020-03-20T00:00Z")
SMOOTH = {"noise_sigma": 0.0, "od_noise_sigma": 0.0}
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")


@pytest.fixture(scope="module")
def net():
    return morocco()


@pytest.fixture(scope="module")
def base(net):
    # 2020-03-09 (Monday) .. 2020-03-29 (Sunday), hourly, with traffic classes
    return gravity_series(net, "2020-03-09", periods=24 * 21, freq="1h", random_state=0,
                          classes={"best_effort": 0.8, "videoconf": 0.15, "critical": 0.05})


def _tot(ts):
    return ts.total.sum(axis=(1, 2))


def _local(ts):
    return ts.times.tz_convert(None) + pd.Timedelta(hours=ts.meta.get("utc_offset_hours", 0.0))


def test_volume_ratio_after_ramp_is_one_plus_growth(net, base):
    sc = Lockdown(growth=0.3, ramp_days=5, class_factors={}, upload_extra=0.0)
    out = sc.apply(base, net)
    after = np.asarray(_local(base) >= pd.Timestamp("2020-03-26"))  # whole local days after the ramp
    assert _tot(out)[after].sum() / _tot(base)[after].sum() == pytest.approx(1.3, rel=1e-6)
    # mid-ramp: part of the way
    mid = np.asarray((base.times >= START + pd.Timedelta(days=2)) & (base.times < START + pd.Timedelta(days=3)))
    assert 1.05 < _tot(out)[mid].sum() / _tot(base)[mid].sum() < 1.25


def test_no_effect_before_start_and_input_unchanged(net, base):
    before = base.values.copy()
    out = Lockdown().apply(base, net)
    pre = np.asarray(base.times < START)
    assert np.array_equal(out.values[pre], base.values[pre])
    assert np.array_equal(base.values, before)
    assert not np.allclose(out.values[~pre], base.values[~pre])
    assert out.name.endswith("+lockdown") and out.meta["lockdown_start"].startswith("2020-03-20")


def test_weekday_daytime_boosted_more_than_night(net, base):
    out = Lockdown(class_factors={}, upload_extra=0.0).apply(base, net)
    loc = _local(base)
    after = np.asarray(loc >= pd.Timestamp("2020-03-26"))
    weekday = np.asarray(loc.day_of_week < 5)
    hour = np.asarray(loc.hour)
    day = after & weekday & (hour >= 10) & (hour < 17)
    night = after & weekday & (hour < 6)
    r_day = _tot(out)[day].sum() / _tot(base)[day].sum()
    r_night = _tot(out)[night].sum() / _tot(base)[night].sum()
    assert r_day > r_night + 0.3
    assert 1.4 <= r_day <= 1.8  # Nokia Deepfield: daytime +40-80 %
    weekend = after & ~weekday
    assert _tot(out)[weekend].sum() / _tot(base)[weekend].sum() == pytest.approx(1.3, rel=1e-6)


def test_region_factor(net):
    ts = gravity_series(net, "2020-03-16", periods=24 * 14, freq="1h", params=SMOOTH)
    sc = Lockdown(regions={"Casablanca-Settat": 1.5}, daytime_boost=0.0, upload_extra=0.0)
    ratio = sc.apply(ts, net).values[-1] / ts.values[-1]
    i = net.node_index
    assert ratio[i["Casablanca"], i["Fes"]] == pytest.approx(1.3 * 1.5)
    assert ratio[i["Tanger"], i["Settat"]] == pytest.approx(1.3 * 1.5)
    assert ratio[i["Tanger"], i["Fes"]] == pytest.approx(1.3)
    with pytest.raises(ValidationError, match="not regions"):
        Lockdown(regions={"Atlantis": 2.0}).apply(ts, net)
    with pytest.raises(ValidationError, match="network"):
        Lockdown(regions={"Casablanca-Settat": 2.0}).apply(ts)


def test_class_factor(net, base):
    out = Lockdown(upload_extra=0.0).apply(base, net)
    last = out.values[-1] / base.values[-1]
    c = {name: k for k, name in enumerate(base.classes)}
    off = ~np.eye(net.n_nodes, dtype=bool)
    crit = last[c["critical"]][off] / last[c["best_effort"]][off]
    video = last[c["videoconf"]][off] / last[c["best_effort"]][off]
    assert np.allclose(crit, 10.0) and np.allclose(video, 2.0)
    # a series without classes ignores class factors
    agg = gravity_series(net, "2020-03-16", 24 * 10, freq="1h", params=SMOOTH)
    out2 = Lockdown(class_factors={"critical": 10}).apply(agg, net)
    assert out2.meta["lockdown_ignored_classes"] == ["critical"]


def test_upload_grows_more_than_download(net):
    ts = gravity_series(net, "2020-03-16", periods=24 * 14, freq="1h", params=SMOOTH)
    ratio = Lockdown(upload_extra=0.2).apply(ts, net).values[-1] / ts.values[-1]
    i = net.node_index
    up, down = ratio[i["Fes"], i["Casablanca"]], ratio[i["Casablanca"], i["Fes"]]
    assert up == pytest.approx(1.2 * down)
    assert ratio[i["Fes"], i["Oujda"]] == pytest.approx(down)  # access to access: no extra
    # explicit hubs override the network column; without hubs there is no asymmetry
    r2 = Lockdown(hubs=("Fes",)).apply(ts, net).values[-1] / ts.values[-1]
    assert r2[i["Casablanca"], i["Fes"]] == pytest.approx(1.2 * r2[i["Fes"], i["Casablanca"]])
    plain = gravity_series(ring(4), "2020-03-16", 24 * 10, freq="1h", params=SMOOTH)
    r3 = Lockdown().apply(plain).values[-1] / plain.values[-1]
    assert np.allclose(r3[~np.eye(4, dtype=bool)], r3[0, 1])


def test_default_start():
    inside = gravity_series(ring(3), "2020-03-18", periods=96, freq="1h")
    assert Lockdown().resolve_start(inside) == LOCKDOWN_DATE
    outside = gravity_series(ring(3), "2021-01-01", periods=97, freq="1h")
    assert Lockdown().resolve_start(outside) == pd.Timestamp("2021-01-03T00:00Z")
    step = Lockdown(ramp_days=0, start="2020-03-19T12:00").ramp(inside.times, pd.Timestamp("2020-03-19T12:00Z"))
    assert step.min() == 0 and step.max() == 1 and step[36] == 1 and step[35] == 0


def test_parser_round_trip_and_registry():
    sc = get_scenario("lockdown:start=2020-03-20T06:00,growth=0.25,ramp_days=7,"
                      "regions=Casablanca-Settat:1.5;Fès-Meknès:1.2,class_factors=critical:10,"
                      "hubs=Casablanca;Rabat,weekend_days=sat;sun,utc_offset_hours=1")
    assert isinstance(sc, Lockdown)
    assert sc.start == pd.Timestamp("2020-03-20T06:00Z") and sc.growth == 0.25 and sc.ramp_days == 7
    assert sc.regions == {"Casablanca-Settat": 1.5, "Fès-Meknès": 1.2}
    assert sc.class_factors == {"critical": 10.0} and sc.hubs == ("Casablanca", "Rabat")
    assert Lockdown.from_string(sc.to_string()) == sc
    assert get_scenario("lockdown") == Lockdown()
    assert get_scenario("lockdown:start=auto").start is None
    assert isinstance(get_scenario("none"), NoScenario)
    assert {"none", "lockdown"} <= set(available_scenarios())


@pytest.mark.parametrize("spec, match", [
    ("lockdown:grwth=0.3", r"unknown lockdown parameter.*\['grwth'\].*valid keys are \['start', 'growth'"),
    ("lockdown:growth=lots", "growth='lots' is not a number"),
    ("lockdown:growth=-2", "growth"),
    ("lockdown:growth", "key=value"),
    ("lockdown:regions=Casablanca", "name:factor"),
    ("lockdown:weekend_days=someday", "not a day"),
    ("lockdown:day_start_hour=20,day_end_hour=8", "day_start_hour < day_end_hour"),
    ("surge:x=1", r"unknown scenario 'surge'"),
    ("none:x=1", "takes no parameters"),
    ("", "empty"),
])
def test_parser_errors_are_validation_errors(spec, match):
    with pytest.raises(ValidationError, match=match):
        get_scenario(spec)


def test_none_scenario_is_identity(base):
    assert NoScenario().apply(base) is base


def test_describe_for_reports():
    ts = gravity_series(ring(3), "2020-03-18", periods=96, freq="1h")
    d = Lockdown(growth=0.4).describe(ts)
    assert d["name"] == "lockdown" and d["spec"] == "lockdown:growth=0.4"
    assert d["growth"] == 0.4 and d["start"] == LOCKDOWN_DATE
    assert Lockdown().describe()["start"] is None
    assert NoScenario().describe() == {"name": "none", "spec": "none"}
