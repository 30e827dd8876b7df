"""Forecasters: one conformance suite over every registered model, the facade, the evaluation
protocol, the report section and the ``surgeguard forecast`` CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard import TrafficSeries
from surgeguard.exceptions import NotFittedError, SurgeguardError, ValidationError
from surgeguard.forecast import Forecast, Naive, SeasonalNaive, available_forecasters, get_forecaster
from surgeguard.forecast.evaluate import chronological_split, evaluate_forecaster, forecast_errors
from surgeguard.forecast.report import forecast_section
from surgeguard.serve.cli import app

NODES = ["A", "B", "C"]
#: small, fast settings per model (tests check contracts, not accuracy)
FAST = {
    "naive": {},
    "seasonal_naive": {},
    "ets": {},
    "mstl": {"season_days": (1.0, 7.0)},
    "lgbm": {"n_estimators": 20, "lags": (1, 2, 3), "rolling_window": 3, "min_child_samples": 5},
    "neural": {"epochs": 2, "hidden": 8, "embedding": 2, "window": 4, "batch_size": 64},
    "direct": {"epochs": 2, "hidden": 8, "embedding": 2, "window": 4, "outputs": 3, "batch_size": 64},
    "linear": {"window": 4, "outputs": 3},
    "blend": {"members": ("linear", "naive"), "member_params": {"linear": {"window": 4, "outputs": 3}},
              "outputs": 3, "grid": 0.25},
    "lstm": {"epochs": 20, "hidden": 8, "window": 4, "batch_size": 64, "lr": 0.01},
    "gru": {"epochs": 20, "hidden": 8, "window": 4, "batch_size": 64, "lr": 0.01},
}


def toy_series(days=5, freq="1h", seed=0, surge=None, nodes=NODES):
    """Hourly daily-cycle traffic with log-normal noise; A->A and C->B carry nothing."""
    t = pd.date_range("2020-03-16", periods=int(days * pd.Timedelta("1D") / pd.Timedelta(freq)), freq=freq, tz="UTC")
    rng = np.random.default_rng(seed)
    n = len(nodes)
    base = rng.uniform(0.5, 2.0, (n, n)) * 1e9
    np.fill_diagonal(base, 0.0)
    base[2, 1] = 0.0
    hours = (t.hour + t.minute / 60).to_numpy()
    cycle = 1.0 + 0.5 * np.sin(2 * np.pi * (hours - 6) / 24)
    v = base[None] * cycle[:, None, None] * np.exp(rng.normal(0, 0.05, (len(t), n, n)))
    if surge is not None:
        step, factor = surge
        v[step:] *= factor
    return TrafficSeries(v, nodes, t, name="toy")


def test_registry_lists_every_model():
    assert available_forecasters() == sorted(FAST)


@pytest.fixture(scope="module")
def fitted():
    ts = toy_series()
    return ts, {name: get_forecaster(name, **FAST[name]).fit(ts) for name in FAST}


@pytest.mark.parametrize("name", sorted(FAST))
def test_conformance(name, fitted):
    ts, models = fitted
    m = models[name]
    fresh = get_forecaster(name, **FAST[name])
    with pytest.raises(NotFittedError):
        fresh.predict(1)
    assert fresh.fit(ts) is fresh                              # fit returns self
    assert fresh.get_params() == m.get_params() and repr(fresh).startswith(type(m).__name__)
    p = m.predict(4)
    assert p.shape == (4, 3, 3) and np.isfinite(p).all() and (p >= 0).all()
    assert (p[:, 0, 0] == 0).all() and (p[:, 2, 1] == 0).all()   # no traffic in the fit series -> 0
    # forecasts are near the traffic's scale, not garbage
    assert 0.2 < p[0].sum() / ts.matrix(-1).sum() < 5
    q = m.predict(3, quantiles=[0.9, 0.1, 0.5])
    assert set(q) == {"mean", 0.1, 0.5, 0.9}
    assert all(v.shape == (3, 3, 3) and np.isfinite(v).all() for v in q.values())
    assert (q[0.1] <= q[0.5] + 1e-6).all() and (q[0.5] <= q[0.9] + 1e-6).all()
    assert (q[0.9] - q[0.1]).sum() > 0                         # a real band
    # online use: predict_next on the past equals predict(1) after update, and does not retrain
    hist = ts.window(0, len(ts) - 5)
    nxt = m.predict_next(hist)
    assert nxt.shape == (3, 3)
    np.testing.assert_allclose(nxt, m.update(hist).predict(1)[0])
    assert m.forecast_times(1)[0] == ts.times[len(ts) - 5]
    m.update(ts)                                               # restore


@pytest.mark.parametrize("name", sorted(FAST))
def test_no_look_ahead(name, fitted):
    """The forecast made at origin o must not change when values from o on change."""
    ts, models = fitted
    m = models[name]
    Y = ts.total.reshape(len(ts), -1)[:, m.active_]
    o = len(ts) - 10
    a = m.rolling_forecast(Y, ts.times, [o], 3)
    Y2 = Y.copy()
    Y2[o:] *= 3.0
    b = m.rolling_forecast(Y2, ts.times, [o], 3)
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("name", sorted(FAST))
def test_backtest_path_equals_online_path(name, fitted):
    """rolling_forecast (batched backtests) and update + predict (replays) give the same numbers."""
    ts, models = fitted
    m = models[name]
    Y = ts.total.reshape(len(ts), -1)[:, m.active_]
    for o in (len(ts) - 7, len(ts) - 2):
        batch = m.rolling_forecast(Y, ts.times, [o - 1, o], 1)[1, 0]
        online = m.update(ts.window(0, o)).predict(1).reshape(-1)[m.active_]
        np.testing.assert_allclose(batch, online, rtol=1e-5, atol=1e-3)
    m.update(ts)


def test_real_geant_naive_metrics(shared_data):
    from surgeguard.io import GEANT_NODES, read_sndlib_demands

    ts = read_sndlib_demands(shared_data / "geant" / "sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz",
                             nodes=GEANT_NODES)
    res = evaluate_forecaster(Naive(), ts, horizons={"1 step": 1})
    assert (res["n_train"], res["n_valid"], res["n_test"]) == (225, 33, 64)
    # the last-value forecast on max-normalised GÉANT flows: a few per cent, far above the published 0.0053
    assert 0.02 < res["test"]["1 step"]["mae_maxnorm"] < 0.1


def test_update_rejects_other_nodes_and_steps(fitted):
    ts, models = fitted
    m = models["naive"]
    other = TrafficSeries(ts.values, ["X", "Y", "Z"], ts.times)
    with pytest.raises(ValidationError, match="reorder"):
        m.update(other)
    coarse = TrafficSeries(ts.values[::2], NODES, ts.times[::2])
    with pytest.raises(ValidationError, match="time step"):
        m.update(coarse)


def test_baselines_are_exact():
    t = pd.date_range("2020-03-20", periods=72, freq="h", tz="UTC")
    y = (np.arange(72) % 24 + 1.0)[:, None]
    assert SeasonalNaive().fit_array(y, t).predict_array(3).ravel().tolist() == [1.0, 2.0, 3.0]
    assert Naive().fit_array(y, t).predict_array(2).ravel().tolist() == [24.0, 24.0]
    # the seasonal naive reproduces a purely periodic series exactly, so its band has zero width
    q = SeasonalNaive().fit_array(y, t).predict_array(2, quantiles=[0.1, 0.9])
    np.testing.assert_allclose(q[0.1], q[0.9])


def test_bad_input_messages():
    with pytest.raises(SurgeguardError, match="choose one of"):
        get_forecaster("arima")
    with pytest.raises(ValidationError, match="accepted"):
        get_forecaster("neural", layers=3)
    ts = toy_series(days=0.5)
    with pytest.raises(ValidationError, match="needs at least"):
        SeasonalNaive().fit(ts)
    with pytest.raises(ValidationError, match="quantiles"):
        Naive().fit(toy_series()).predict(1, quantiles=[1.5])
    with pytest.raises(ValidationError, match="horizon"):
        Naive().fit(toy_series()).predict(0)
    with pytest.raises(ValidationError, match="holdout"):
        Naive(holdout=0.7).fit(toy_series())


def test_mstl_drops_weekly_season_on_short_history():
    m = get_forecaster("mstl").fit(toy_series(days=5))
    assert m.seasons_ == [24] and m.dropped_seasons_ == [168]


def test_facade_long_frames_and_cross_validation():
    ts = toy_series(days=4)
    df = ts.to_frame().assign(unique_id=lambda d: d["src"] + "-" + d["dst"]).rename(columns={"bps": "y"})
    fc = Forecast(["naive", SeasonalNaive()], aliases=["last", "snaive"]).fit(df[["unique_id", "ds", "y"]])
    out = fc.predict(2, quantiles=[0.1, 0.9])
    assert list(out.columns) == ["unique_id", "ds", "last", "last-q0.1", "last-q0.9", "snaive", "snaive-q0.1",
                                 "snaive-q0.9"]
    assert len(out) == 2 * df["unique_id"].nunique()
    last = df[df["ds"] == df["ds"].max()].set_index("unique_id")["y"]
    got = out.groupby("unique_id")["last"].first()
    np.testing.assert_allclose(got.loc[last.index], last)
    cv = Forecast(["naive"]).cross_validation(df[["unique_id", "ds", "y"]], h=3, n_windows=2)
    assert {"unique_id", "ds", "cutoff", "y", "naive"} <= set(cv.columns)
    assert cv["cutoff"].nunique() == 2 and (pd.to_datetime(cv["ds"]) > pd.to_datetime(cv["cutoff"])).all()
    with pytest.raises(ValidationError, match="unique"):
        Forecast(["naive", "naive"]).fit(df[["unique_id", "ds", "y"]])
    with pytest.raises(ValidationError, match="lacks columns"):
        Forecast(["naive"]).fit(df.drop(columns="y"))


def test_evaluation_protocol_matches_hand_computation():
    assert chronological_split(100) == (70, 80)
    e = forecast_errors(np.array([1.0, 3.0]), np.array([2.0, 1.0]))
    assert e == {"mae": 1.5, "rmse": pytest.approx(np.sqrt(2.5)), "nmae": 0.75}
    ts = toy_series(days=6)
    res = evaluate_forecaster(Naive(), ts, horizons={"1 step": 1, "3 steps": 3})
    assert (res["n_train"], res["n_valid"], res["n_test"]) == (101, 14, 29)
    Y = ts.total.reshape(len(ts), -1)
    keep = Y[:101].max(0) > 0
    act, prev = Y[115:, keep], Y[114:-1, keep]
    assert res["test"]["1 step"]["mae"] == pytest.approx(np.abs(act - prev).mean())
    assert res["test"]["1 step"]["mae_maxnorm"] == pytest.approx(np.abs((act - prev) / Y[:101, keep].max(0)).mean())
    assert res["test"]["3 steps"]["n_targets"] <= 29 and 0 <= res["coverage"]["observed"] <= 1


def test_forecast_section_html():
    heading, html = forecast_section(toy_series(days=4), model="seasonal_naive")
    assert heading == "Traffic forecast (seasonal_naive)"
    assert html.count("<svg") == 1 and "NMAE" in html and "<script" not in html


# ---------------------------------------------------------------------------------------- CLI
runner = CliRunner()


def _files(tmp_path, days=4):
    nodes = [{"id": n} for n in NODES]
    links = [{"source": a, "target": b, "capacity": 10e9} for a in NODES for b in NODES if a != b]
    (tmp_path / "net.json").write_text(json.dumps({"directed": True, "multigraph": False, "graph": {},
                                                    "nodes": nodes, "links": links}))
    toy_series(days=days).to_frame().to_csv(tmp_path / "tm.csv", index=False)
    return str(tmp_path / "net.json"), str(tmp_path / "tm.csv")


def test_cli_forecast_writes_long_frame(tmp_path):
    net, tm = _files(tmp_path)
    out = tmp_path / "fc.parquet"
    r = runner.invoke(app, ["forecast", "-n", net, "-t", tm, "-m", "seasonal_naive", "-H", "3", "-q", "0.1,0.9",
                            "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["horizon"] == 3 and len(summary["steps"]) == 3
    df = pd.read_parquet(out)
    assert list(df.columns) == ["ds", "src", "dst", "seasonal_naive", "seasonal_naive-q0.1", "seasonal_naive-q0.9"]
    assert len(df) == 3 * 5 and (df["seasonal_naive-q0.1"] <= df["seasonal_naive-q0.9"]).all()


@pytest.mark.parametrize("args, needle", [
    (["-m", "arima"], "unknown forecaster 'arima'"),
    (["-q", "0.1,2"], "--quantiles"),
    (["-o", "x.xlsx"], ".csv or .parquet"),
    (["-H", "0"], "--horizon"),
    (["-m", "seasonal_naive", "--holdout", "0.9"], "holdout"),
])
def test_cli_forecast_bad_input(tmp_path, args, needle):
    net, tm = _files(tmp_path)
    r = runner.invoke(app, ["forecast", "-n", net, "-t", tm] + args)
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_cli_forecast_too_short_series(tmp_path):
    net, tm = _files(tmp_path, days=0.5)
    r = runner.invoke(app, ["forecast", "-n", net, "-t", tm, "-m", "seasonal_naive"])
    assert r.exit_code == 2 and "needs at least" in r.stderr
