"""Surge detectors: conformance over every detector, an injected surge found and a quiet series
left alone, streaming = batch, offline change points, evaluation, report section and CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard import TrafficSeries
from surgeguard.detect import (Alert, available_detectors, get_detector, offline_changepoints,
                               traffic_signals)
from surgeguard.detect.evaluate import evaluate_detector, inject_lockdown
from surgeguard.detect.report import detector_section
from surgeguard.exceptions import NotFittedError, SurgeguardError, ValidationError
from surgeguard.serve.cli import app

NODES = ["A", "B", "C", "D"]


def noisy_series(days=10, freq="15min", seed=0, surge_day=None, factor=1.4, nodes=NODES):
    """Daily-cycle traffic with AR(1) log noise (common and per flow); optional step surge."""
    t = pd.date_range("2020-03-09", periods=int(days * 96 * pd.Timedelta("15min") / pd.Timedelta(freq)), freq=freq,
                      tz="UTC")
    rng = np.random.default_rng(seed)
    n, T = len(nodes), len(t)
    base = rng.uniform(0.5, 2.0, (n, n)) * 1e9
    np.fill_diagonal(base, 0.0)
    hours = (t.hour + t.minute / 60).to_numpy()
    cycle = 1.0 + 0.5 * np.sin(2 * np.pi * (hours - 6) / 24)
    common = np.zeros(T)
    for i in range(1, T):
        common[i] = 0.95 * common[i - 1] + rng.normal(0, 0.006)
    v = base[None] * (cycle * np.exp(common))[:, None, None] * np.exp(rng.normal(0, 0.08, (T, n, n)))
    if surge_day is not None:
        v[t >= t[0] + pd.Timedelta(days=surge_day)] *= factor
    return TrafficSeries(v, nodes, t, name="noisy")


def test_registry():
    assert available_detectors() == ["cusum", "residual", "seasonal"]
    with pytest.raises(SurgeguardError, match="choose one of"):
        get_detector("bocpd")
    with pytest.raises(ValidationError, match="accepted"):
        get_detector("cusum", h=3)


def test_signals_are_total_and_node_sums():
    ts = noisy_series(days=1)
    v, names = traffic_signals(ts)
    assert names[0] == ("total", "total") and len(names) == 1 + 2 * len(NODES)
    np.testing.assert_allclose(v[:, 0], ts.values.sum(axis=(1, 2)))
    np.testing.assert_allclose(v[:, 1], ts.values[:, 0, :].sum(axis=1))            # A out
    np.testing.assert_allclose(v[:, 1 + len(NODES)], ts.values[:, :, 0].sum(axis=1))  # A in


@pytest.mark.parametrize("name", ["cusum", "residual", "seasonal"])
def test_conformance(name):
    ts = noisy_series(days=6, surge_day=4)
    det = get_detector(name)
    with pytest.raises(NotFittedError):
        det.predict(ts)
    assert det.fit(ts.window(0, 3 * 96)) is det
    alerts = det.predict(ts.window(3 * 96, len(ts)))
    assert alerts and all(isinstance(a, Alert) for a in alerts)
    for a in alerts:
        assert a.detector == name and a.direction in ("total", "in", "out")
        assert a.place == "total" or a.place in NODES
        assert np.isfinite(a.shift) and a.time.tz is not None
        json.dumps(a.to_dict())
    # streaming in chunks of arbitrary size gives the same alerts as one batch
    det.reset()
    streamed = []
    rest = ts.window(3 * 96, len(ts))
    for a0 in range(0, len(rest), 7):
        streamed += det.update(rest.window(a0, min(a0 + 7, len(rest))))
    assert streamed == alerts
    assert det.clone().get_params() == det.get_params()


@pytest.mark.parametrize("name", ["cusum", "residual", "seasonal"])
def test_detects_step_surge_and_stays_quiet_otherwise(name):
    det = get_detector(name, places="total")
    quiet = noisy_series(days=10, seed=1)
    det.fit(quiet.window(0, 3 * 96))
    assert det.predict(quiet.window(3 * 96, len(quiet))) == []
    surged = noisy_series(days=10, seed=1, surge_day=6, factor=1.3)
    alerts = det.predict(surged.window(3 * 96, len(surged)))
    start = surged.times[0] + pd.Timedelta(days=6)
    assert alerts and alerts[0].time >= start and alerts[0].time - start <= pd.Timedelta(hours=6)
    assert alerts[0].place == "total" and 0.1 < alerts[0].shift < 0.6
    # after the alert the detector re-baselines: no storm of alerts at the new level
    assert len(alerts) <= 2


def test_node_surge_is_localised():
    ts = noisy_series(days=8, seed=2)
    v = ts.values.copy()
    step = 6 * 96
    v[step:, 1, :] *= 2.0                                      # B sends twice as much
    det = get_detector("cusum").fit(ts.window(0, 3 * 96))
    alerts = det.predict(ts.with_values(v).window(3 * 96, len(ts)))
    assert ("B", "out") in {(a.place, a.direction) for a in alerts}
    assert not any(a.place in ("A", "C", "D") and a.direction == "out" for a in alerts)


def test_fit_needs_a_full_day():
    with pytest.raises(ValidationError, match="one full day"):
        get_detector("cusum").fit(noisy_series(days=0.5))
    with pytest.raises(ValidationError, match="bin_minutes"):
        get_detector("cusum", bin_minutes=7).fit(noisy_series(days=2))
    det = get_detector("cusum").fit(noisy_series(days=2))
    with pytest.raises(ValidationError, match="reorder"):
        det.predict(noisy_series(days=2, nodes=["W", "X", "Y", "Z"]))


def test_offline_changepoints_find_the_step():
    ts = noisy_series(days=6, seed=3, surge_day=3.5, factor=1.5)
    cps = offline_changepoints(ts, penalty=3.0)
    assert list(cps.columns) == ["time", "place", "direction", "shift"]
    big = cps[cps["shift"] > 0.2]
    assert len(big) >= 1
    assert abs(big["time"].iloc[0] - (ts.times[0] + pd.Timedelta(days=3.5))) <= pd.Timedelta(hours=3)


def test_evaluation_counts_detections_and_false_alarms():
    ts = noisy_series(days=8, seed=4)
    res = evaluate_detector(get_detector("cusum", places="total"), ts, reference_days=3, growths=(0.5,),
                            ramp_days=(1,), n_trials=3, random_state=0)
    assert res["false_alarms"]["count"] == 0 and res["false_alarms"]["monitored_days"] == pytest.approx(5.0)
    (row,) = res["summary"]
    assert row["trials"] == 3 and row["miss_rate"] == 0.0 and row["delay_median_h"] > 0
    surged = inject_lockdown(ts, ts.times[400], growth=0.5, ramp_days=1)
    last_day = slice(len(ts) - 96, len(ts))                   # volume +50 % once the ramp is over
    assert surged.values[last_day].sum() == pytest.approx(1.5 * ts.values[last_day].sum(), rel=1e-6)
    np.testing.assert_allclose(surged.values[:400], ts.values[:400])


def test_detector_section_html():
    ts = noisy_series(days=6, surge_day=4)
    det = get_detector("cusum").fit(ts.window(0, 3 * 96))
    alerts = det.predict(ts.window(3 * 96, len(ts)))
    heading, html = detector_section(ts, alerts, detector=det)
    assert heading == "Surge detection" and html.count("<svg") == 1 and "<table>" in html
    assert detector_section(ts, [])[1].count("No alert") == 1


runner = CliRunner()


def _files(tmp_path, **kw):
    nodes = [{"id": n} for n in NODES]
    links = [{"source": a, "target": b, "capacity": 10e9} for a in NODES for b in NODES if a != b]
    (tmp_path / "net.json").write_text(json.dumps({"directed": True, "multigraph": False, "graph": {},
                                                    "nodes": nodes, "links": links}))
    noisy_series(**kw).to_frame().to_csv(tmp_path / "tm.csv", index=False)
    return str(tmp_path / "net.json"), str(tmp_path / "tm.csv")


def test_cli_detect_json(tmp_path):
    net, tm = _files(tmp_path, days=6, surge_day=4)
    r = runner.invoke(app, ["detect", "-n", net, "-t", tm, "--places", "total", "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.strip().splitlines()]
    assert lines[-1]["summary"] and lines[-1]["alerts"] == len(lines) - 1 >= 1
    assert lines[0]["place"] == "total"
    assert lines[-1]["detector"] == "seasonal" and lines[-1]["params"]["utc_offset_hours"] is None
    assert lines[0]["kind"] in ("step", "level")
    r = runner.invoke(app, ["detect", "-n", net, "-t", tm, "--utc-offset", "-6", "--threshold", "5", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["params"]["utc_offset_hours"] == -6 and summary["params"]["step_z"] == 5
    assert "note:" not in r.stderr                                  # 3 reference days: no note
    # one reference day: the thresholds rest on bin-to-bin noise, and the command says so on stderr
    r = runner.invoke(app, ["detect", "-n", net, "-t", tm, "--reference-days", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert "bin-to-bin" in r.stderr and "3 days or more" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["summary"]


@pytest.mark.parametrize("args, needle", [
    (["-d", "bocpd"], "unknown detector"),
    (["--reference-days", "20"], "--reference-days"),
    (["--places", "links"], "places"),
    (["-s", "lockdown:growth=-2"], "growth"),
    (["-d", "cusum", "--utc-offset", "2"], "--utc-offset"),
    (["--utc-offset", "20"], "--utc-offset"),
])
def test_cli_detect_bad_input(tmp_path, args, needle):
    net, tm = _files(tmp_path, days=4)
    r = runner.invoke(app, ["detect", "-n", net, "-t", tm] + args)
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_real_abilene_lockdown_found_and_quiet_total(shared_data):
    from surgeguard.io import ABILENE_NODES, read_sndlib_demands

    ts = read_sndlib_demands(shared_data / "abilene" / "sndlib_abilene_5min_xml_20040301-20040310.tar.xz",
                             nodes=ABILENE_NODES)
    ref = 3 * 288
    det = get_detector("cusum", places="total").fit(ts.window(0, ref))
    assert det.predict(ts.window(ref, len(ts))) == []          # untouched week: no alert on the total
    start = pd.Timestamp("2004-03-08T00:00", tz="UTC")         # a Monday
    surged = inject_lockdown(ts, start, growth=0.5, ramp_days=1)
    alerts = det.predict(surged.window(ref, len(ts)))
    assert alerts and start <= alerts[0].time <= start + pd.Timedelta(days=1)
