"""The seasonal detector: a step found within the hour, quiet on normal days, workday shape changes,
class totals watched, day types learned or borrowed, and the target evaluation."""

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries
from surgeguard.detect import SeasonalDetector, get_detector, traffic_signals
from surgeguard.detect.evaluate import evaluate_targets
from surgeguard.exceptions import ValidationError
from surgeguard.scenario import Lockdown

NODES = ["A", "B", "C", "D"]


def weekly_series(days=14, seed=0, freq="15min", classes=None, noise=0.02):
    """Workday/weekend traffic from Monday 2020-03-09: weekends 20 % lower and flatter, AR(1) noise."""
    t = pd.date_range("2020-03-09", periods=int(days * pd.Timedelta("1D") / pd.Timedelta(freq)), freq=freq, tz="UTC")
    rng = np.random.default_rng(seed)
    n, T = len(NODES), len(t)
    base = rng.uniform(0.5, 2.0, (n, n)) * 1e9
    np.fill_diagonal(base, 0.0)
    h = (t.hour + t.minute / 60).to_numpy()
    weekend = np.asarray(t.dayofweek >= 5)
    cycle = np.where(weekend, 0.8 * (1 + 0.2 * np.sin(2 * np.pi * (h - 9) / 24)),
                     1 + 0.5 * np.sin(2 * np.pi * (h - 9) / 24))
    common = np.zeros(T)
    for i in range(1, T):
        common[i] = 0.9 * common[i - 1] + rng.normal(0, noise * np.sqrt(1 - 0.81))
    v = base[None] * (cycle * np.exp(common))[:, None, None] * np.exp(rng.normal(0, 0.05, (T, n, n)))
    if classes:
        v = v[:, None] * np.asarray(classes)[None, :, None, None]
        return TrafficSeries(v, NODES, t, classes=[f"c{i}" for i in range(len(classes))], name="weekly")
    return TrafficSeries(v, NODES, t, name="weekly")


def test_quiet_weeks_raise_nothing():
    ts = weekly_series(days=21, seed=1)
    det = get_detector("seasonal").fit(ts.window(0, 7 * 96))
    assert det.has_type_.tolist() == [True, True]
    assert det.predict(ts.window(7 * 96, len(ts))) == []


@pytest.mark.parametrize("growth, hours", [(0.30, 1.0), (0.15, 3.0)])
def test_step_is_alerted_within_the_deadline(growth, hours):
    ts = weekly_series(days=10, seed=2)
    at = 8 * 96 + 43                                      # Tuesday 10:45 UTC
    surged = Lockdown(start=ts.times[at], growth=growth, ramp_days=0, daytime_boost=0).apply(ts)
    det = get_detector("seasonal").fit(ts.window(0, 7 * 96))
    alerts = det.predict(surged.window(7 * 96, len(ts)))
    assert alerts, "the step was missed"
    first = alerts[0]
    assert ts.times[at] <= first.time <= ts.times[at] + pd.Timedelta(hours=hours)
    assert first.place == "total" and first.kind in ("step", "level")
    assert abs(first.shift - growth) < 0.5 * growth
    assert len(alerts) <= 2                               # re-baselined: no storm at the new level


def test_workday_shape_change_is_a_shape_alert():
    ts = weekly_series(days=10, seed=3)
    day = ts.times[8 * 96]                                # Tuesday 00:00 UTC
    reshaped = Lockdown(start=day, growth=0.0, ramp_days=0, daytime_boost=0.8).apply(ts)
    det = get_detector("seasonal").fit(ts.window(0, 7 * 96))
    assert np.isfinite(det.shape_limit_)
    alerts = det.predict(reshaped.window(7 * 96, len(ts)))
    assert alerts and alerts[0].time < day + pd.Timedelta(days=1)
    assert "shape" in {a.kind for a in alerts}
    # the untouched Tuesday does not fire
    assert det.predict(ts.window(7 * 96, len(ts))) == []


def test_class_totals_are_watched():
    ts = weekly_series(days=10, seed=4, classes=[0.05, 0.95])
    _, names = traffic_signals(ts, "total", classes=True)
    assert names == [("total", "total"), ("class:c0", "total"), ("class:c1", "total")]
    v = ts.values.copy()
    v[8 * 96:, 0] *= 1.6                                  # the small class grows by 60 %, the total by 3 %
    surged = TrafficSeries(v, NODES, ts.times, classes=ts.classes, name="class surge")
    det = get_detector("seasonal").fit(ts.window(0, 7 * 96))
    alerts = det.predict(surged.window(7 * 96, len(ts)))
    assert alerts and alerts[0].place == "class:c0"
    # a series without the classes the detector was fitted on is refused, naming the signals
    with pytest.raises(ValidationError, match="class:c0"):
        det.predict(TrafficSeries(ts.total, NODES, ts.times, name="no classes"))


def test_missing_day_type_borrows_the_other_profile():
    ts = weekly_series(days=10, seed=5)
    det = get_detector("seasonal").fit(ts.window(0, 3 * 96))   # Monday to Wednesday
    assert det.has_type_.tolist() == [True, False]
    np.testing.assert_allclose(det.profile_[1], det.profile_[0])
    # workdays stay quiet; this series jumps at midnight into the weekend (+20 % at night), which
    # the borrowed workday profile cannot know, so alerts may come on the weekend only
    alerts = det.predict(ts.window(3 * 96, len(ts)))
    assert all(a.time.dayofweek >= 5 for a in alerts)
    # with the weekend in the reference, the weekend has its own profile and nothing fires
    full = get_detector("seasonal").fit(ts.window(0, 7 * 96))
    assert full.has_type_.tolist() == [True, True] and full.predict(ts.window(7 * 96, len(ts))) == []


def test_local_time_decides_the_day_type():
    ts = weekly_series(days=8, seed=6)
    utc = get_detector("seasonal").fit(ts)
    shifted = get_detector("seasonal", utc_offset_hours=-6.0).fit(ts)
    assert utc.offset_ == pd.Timedelta(0) and shifted.offset_ == pd.Timedelta(hours=-6)
    assert not np.allclose(utc.profile_[1], shifted.profile_[1])


def test_parameters_are_checked():
    with pytest.raises(ValidationError, match="weekend_days"):
        get_detector("seasonal", weekend_days=(5, 9)).fit(weekly_series(days=2))
    with pytest.raises(ValidationError, match="at least one full day"):
        get_detector("seasonal").fit(weekly_series(days=0.5))
    # a series coarser than the bin uses its own step
    hourly = weekly_series(days=4, freq="1h")
    assert get_detector("seasonal").fit(hourly).bin_ == pd.Timedelta(hours=1)
    assert isinstance(get_detector("seasonal"), SeasonalDetector)


def test_evaluate_targets_reports_every_case():
    ts = weekly_series(days=12, seed=7)
    res = evaluate_targets(get_detector("seasonal"), ts, reference_days=7, n_trials=3, ramp_days=(1.0,),
                           step_growths=(0.5,), step_deadlines_h=(1.0,))
    assert res["false_alarms"]["count"] == 0
    assert [r["growth"] for r in res["steps"]] == [0.5] and res["steps"][0]["met"] == 1.0
    assert res["ramps"][0]["trials"] == 3 and 0.0 <= res["ramps"][0]["met"] <= 1.0
    assert res["shape"][0]["trials"] == 3
    assert {t["case"] for t in res["trials"]} == {"step", "ramp", "shape"}
    with pytest.raises(ValidationError, match="same length"):
        evaluate_targets(get_detector("seasonal"), ts, reference_days=7, step_growths=(0.1, 0.2),
                         step_deadlines_h=(1.0,))


def test_one_reference_day_and_single_steps_as_the_controller_feeds_it():
    ts = weekly_series(days=3, seed=8, freq="5min")
    det = get_detector("seasonal").fit(ts.window(0, 288))          # one day, as the controller's history
    assert det.sigma_source_.startswith("bin-to-bin") and not np.isfinite(det.shape_limit_)
    rest = ts.window(288, len(ts))
    batch = det.predict(rest)
    det.reset()
    streamed = []
    for i in range(len(rest)):
        streamed += det.update(TrafficSeries(rest.values[i:i + 1], NODES, rest.times[i:i + 1]))
    assert streamed == batch and len(batch) <= 1


def test_report_section_draws_the_day_type_profiles():
    from surgeguard.detect.report import detector_section

    ts = weekly_series(days=9, seed=9)
    det = get_detector("seasonal").fit(ts.window(0, 7 * 96))
    exp = det.expected(ts.times)
    sat, mon = ts.times.get_loc(pd.Timestamp("2020-03-14T12:00Z")), ts.times.get_loc(pd.Timestamp("2020-03-16T12:00Z"))
    assert exp[sat] < 0.9 * exp[mon]                      # the weekend's own (lower) profile
    surged = Lockdown(start=ts.times[8 * 96 + 40], growth=0.4, ramp_days=0, daytime_boost=0).apply(ts)
    alerts = det.predict(surged.window(7 * 96, len(ts)))
    title, html = detector_section(surged, alerts, detector=det)
    assert "expected (normal)" in html and "seasonal step" in html


def test_a_step_is_re_measured_once_its_window_is_past_it():
    """After a step alarm the detector's level is re-measured once the step window holds only traffic
    after the step: it is then the traffic's new level, and no level alert follows."""
    ts = weekly_series(days=10, seed=2)
    at = 8 * 96 + 43
    surged = Lockdown(start=ts.times[at], growth=0.3, ramp_days=0, daytime_boost=0).apply(ts)
    det = get_detector("seasonal").fit(ts.window(0, 7 * 96))
    day_end = ts.times.get_loc(pd.Timestamp("2020-03-17T23:45Z")) + 1
    alerts = det.predict(surged.window(7 * 96, day_end))
    assert [a.kind for a in alerts if a.kind != "shape"] == ["step"]
    assert not det.rebase_[0] and abs(det.level_[0] - np.log1p(0.3)) < 0.06   # the step's full size
    assert not [a for a in alerts if a.kind == "level"]


def test_step_spread_follows_the_time_of_day():
    ts = weekly_series(days=8, seed=10)
    v = ts.values.copy()
    hour = ts.times.hour.to_numpy()
    night = (hour >= 1) & (hour < 6)
    rng = np.random.default_rng(0)
    v[night] *= np.exp(rng.normal(0, 0.15, night.sum()))[:, None, None]   # noisy nights
    noisy = TrafficSeries(v, NODES, ts.times, name="noisy nights")
    det = get_detector("seasonal").fit(noisy.window(0, 7 * 96))
    lim = det.step_limit_[:, 0]
    assert lim.shape == (96,)
    assert lim[4 * 4:5 * 4].mean() > 1.5 * lim[14 * 4:15 * 4].mean()       # 04:00 vs 14:00
    flat = get_detector("seasonal", step_scale_hours=None).fit(noisy.window(0, 7 * 96))
    assert np.ptp(flat.step_limit_[:, 0]) == 0.0
    with pytest.raises(ValidationError, match="borrowed_factor"):
        get_detector("seasonal", borrowed_factor=0.5).fit(ts)
