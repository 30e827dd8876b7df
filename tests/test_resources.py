"""Resource guards: each refuses an oversized request with one line before allocating, and a normal
call still works (paths per OD pair, forecast horizons, gravity traffic, memory estimates, Ray
connection timeouts)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard import resources
from surgeguard.examples import ring
from surgeguard.exceptions import InputError, ValidationError
from surgeguard.forecast import Forecast, get_forecaster
from surgeguard.forecast.base import MAX_HORIZON_FACTOR
from surgeguard.paths import (MAX_K_DEVIATION, MAX_K_YEN, YEN_MAX_SECONDS, all_simple_paths, deviation_paths,
                              k_shortest_paths)
from surgeguard.plan.sweep import sweep
from surgeguard.scenario.synthetic import gravity_matrix, gravity_series
from surgeguard.serve.cli import app
from surgeguard.traffic import TrafficSeries

GiB = 2 ** 30


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    return msg


@pytest.fixture
def memory(monkeypatch):
    """``memory(n)``: the machine reports ``n`` bytes available (None: unknown)."""

    def set_(n):
        monkeypatch.setattr(resources, "available_memory_bytes", lambda: n)

    return set_


# ---------------------------------------------------------------------------------------- helpers
def test_available_memory_is_read():
    avail = resources.available_memory_bytes()
    assert avail is None or avail > 0
    with open("/proc/meminfo") as fh:
        if any(line.startswith("MemAvailable:") for line in fh):
            assert isinstance(avail, int) and avail > 2 ** 20


def test_available_memory_without_proc_meminfo(monkeypatch):
    monkeypatch.setattr(resources, "_MEMINFO", "/nonexistent/meminfo")
    avail = resources.available_memory_bytes()
    try:
        import psutil
    except ImportError:
        assert avail is None
    else:
        assert avail == pytest.approx(psutil.virtual_memory().available, rel=0.5)


def test_sizes_are_formatted():
    assert resources.format_bytes(512) == "512 B"
    assert resources.format_bytes(18.6 * GiB) == "18.6 GiB"
    assert resources.format_bytes(5 * 2 ** 40) == "5.0 TiB"
    assert resources.format_count(4_620_000) == "4,620,000"
    assert resources.format_count(1e20) == "1e+20"


def test_check_memory_refuses_with_one_line(memory):
    memory(GiB)
    resources.check_memory(0.5 * GiB, "a small array", "nothing")
    with pytest.raises(ValidationError) as err:
        resources.check_memory(2 * GiB, "a big array", "use a smaller one")
    assert one_line(err.value) == "a big array needs about 2.0 GiB but 1.0 GiB are available; use a smaller one"
    # the safety factor: above MEMORY_SAFETY of the available memory is refused too
    with pytest.raises(ValidationError):
        resources.check_memory(0.95 * GiB, "nearly all", "less")
    with pytest.raises(ValidationError):
        resources.check_memory(float("inf"), "an unbounded array", "bound it")
    memory(None)   # unknown: nothing is checked
    resources.check_memory(10 ** 18, "anything", "nothing")


# ---------------------------------------------------------------------------------------- paths
def test_k_above_the_limit_is_refused_with_the_estimated_count():
    net = ring(8)
    with pytest.raises(ValidationError) as err:
        k_shortest_paths(net, k=10_000)
    msg = one_line(err.value)
    assert msg == ("k=10000 paths per OD pair (56 OD pairs x 10000 = about 560,000 paths) is above the limit of "
                   f"{MAX_K_DEVIATION}; use k <= {MAX_K_DEVIATION}")
    with pytest.raises(ValidationError, match=f"limit of {MAX_K_YEN} for Yen's algorithm"):
        k_shortest_paths(net, k=MAX_K_YEN + 1, method="yen")
    with pytest.raises(ValidationError, match=f"limit of {MAX_K_DEVIATION} for the deviation"):
        deviation_paths(net, k=MAX_K_DEVIATION + 1, workers=1)


def test_k_at_the_limits_still_builds():
    net = ring(6)
    assert k_shortest_paths(net, k=MAX_K_YEN, method="yen").n_paths == 30 * 2
    # auto: above Yen's k the deviation builder takes over
    ps = k_shortest_paths(net, k=100)
    assert ps.method == "deviation" and ps.n_paths == 30 * 2
    assert k_shortest_paths(net, k=4).method == "yen"


def test_yen_path_budget():
    net = ring(130)   # 16,770 OD pairs
    with pytest.raises(ValidationError) as err:
        k_shortest_paths(net, k=MAX_K_YEN, method="yen")
    msg = one_line(err.value)
    assert "16,770 OD pairs x 64" in msg and f"budget of {YEN_MAX_SECONDS:g} s" in msg and "deviation" in msg
    assert k_shortest_paths(net, k=2, method="yen").n_paths == 16_770 * 2     # within the budget


def test_path_memory_estimate(memory):
    net = ring(30)
    memory(2 ** 20)   # 1 MiB available
    with pytest.raises(ValidationError) as err:
        k_shortest_paths(net, k=4)
    msg = one_line(err.value)
    assert msg.startswith("building k=4 paths per OD pair (870 OD pairs x 4 = about 3,480 paths) needs about")
    assert "MiB are available; use a smaller k or fewer OD pairs" in msg
    memory(64 * GiB)
    assert k_shortest_paths(net, k=4).n_paths == 870 * 2


def test_all_simple_paths_stops_at_its_budget(monkeypatch):
    import surgeguard.paths as paths_mod

    net = ring(6)
    assert all_simple_paths(net).n_paths == 30 * 2
    monkeypatch.setattr(paths_mod, "MAX_SIMPLE_PATHS", 10)
    with pytest.raises(ValidationError) as err:
        all_simple_paths(net)
    assert "more than 10 simple paths" in one_line(err.value)


# ---------------------------------------------------------------------------------------- forecasts
def _series(T=48, freq="1h", start="2020-03-16", n=3):
    t = pd.date_range(start, periods=T, freq=freq, tz="UTC")
    v = np.ones((T, n, n)) * (1 + np.arange(T) % 24)[:, None, None] * 1e9
    for i in range(n):
        v[:, i, i] = 0
    return TrafficSeries(v, [f"n{i}" for i in range(n)], t)


def test_horizon_above_the_bound_is_refused():
    ts = _series()
    m = get_forecaster("naive").fit(ts)
    with pytest.raises(ValidationError) as err:
        m.predict(100_000_000)
    msg = one_line(err.value)
    assert "h=100,000,000" in msg and f"{MAX_HORIZON_FACTOR} times the 48 steps" in msg and "480" in msg
    assert m.predict(MAX_HORIZON_FACTOR * 48).shape == (480, 3, 3)
    with pytest.raises(ValidationError, match="more than 10 times"):
        m.forecast_times(481)
    with pytest.raises(ValidationError, match="more than 10 times"):
        m.predict_array(10 ** 9)


def test_horizon_beyond_pandas_dates():
    ts = _series(T=30, freq="3650D", start="1970-01-01")
    m = get_forecaster("naive").fit(ts)
    with pytest.raises(ValidationError) as err:
        m.predict(10)
    assert "beyond the last date pandas can hold" in one_line(err.value)


def test_horizon_memory_estimate(memory):
    ts = _series()
    m = get_forecaster("seasonal_naive").fit(ts)
    memory(2 ** 12)   # 4 KiB
    with pytest.raises(ValidationError) as err:
        m.predict(100, quantiles=[0.1, 0.9])
    msg = one_line(err.value)
    assert msg.startswith("a forecast of 100 steps of 6 series (3 x 3 matrices) needs about")
    assert msg.endswith("forecast fewer steps")
    memory(GiB)
    assert m.predict(100, quantiles=[0.1, 0.9])[0.9].shape == (100, 3, 3)


def test_forecast_facade_checks_the_horizon(memory):
    df = _series().to_frame().rename(columns={"bps": "y"})
    df["unique_id"] = df["src"] + "->" + df["dst"]
    fc = Forecast(["naive"]).fit(df[["unique_id", "ds", "y"]])
    with pytest.raises(ValidationError, match="more than 10 times"):
        fc.predict(10 ** 8)
    assert len(fc.predict(2)) == 2 * 6


# ---------------------------------------------------------------------------------------- gravity
def test_gravity_on_a_huge_topology_is_refused_before_allocating():
    net = ring(50_000)
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as err:
        gravity_series(net, "2020-03-16", periods=96)
    msg = one_line(err.value)
    assert msg.startswith("gravity traffic of 96 steps x 50,000 x 50,000 nodes needs about") and "TiB" in msg
    assert time.perf_counter() - t0 < 5


def test_gravity_memory_estimate(memory):
    net = ring(20)
    memory(2 ** 20)
    with pytest.raises(ValidationError) as err:
        gravity_series(net, "2020-03-16", periods=96, classes=["a", "b"])
    assert "gravity traffic of 96 steps x 20 x 20 nodes x 2 classes needs about" in one_line(err.value)
    memory(16 * 2 ** 10)
    with pytest.raises(ValidationError, match="a gravity traffic matrix of 40 x 40 nodes needs about"):
        gravity_matrix(ring(40), 1e9)
    memory(GiB)
    assert gravity_series(net, "2020-03-16", periods=96).values.shape == (96, 20, 20)
    assert gravity_matrix(ring(40), 1e9).sum() == pytest.approx(1e9)


# ---------------------------------------------------------------------------------------- Ray
def test_sweep_on_an_unreachable_ray_address_fails_fast():
    pytest.importorskip("ray")
    net = ring(4)
    tm = np.full((4, 4), 1e9) - np.diag([1e9] * 4)
    ts = TrafficSeries(np.stack([tm, 2 * tm]), net.node_names)
    t0 = time.perf_counter()
    with pytest.raises(InputError) as err:
        sweep(net, ts, "single-link", executor="ray", ray_address="127.0.0.1:1", ray_timeout=2.0)
    assert time.perf_counter() - t0 < 2.0 + 5.0
    msg = one_line(err.value)
    assert "cannot connect to the Ray cluster at '127.0.0.1:1'" in msg
    with pytest.raises(ValidationError, match="'ray_timeout' parameter"):
        sweep(net, ts, "single-link", executor="ray", ray_address="127.0.0.1:1", ray_timeout=0)


# ---------------------------------------------------------------------------------------- CLI
runner = CliRunner()


def test_cli_refuses_k_and_horizon_with_one_line(shared_data):
    geant = shared_data / "geant" / "topology" / "sndlib_geant.xml"
    t0 = time.perf_counter()
    r = runner.invoke(app, ["solve", "-n", str(geant), "-t", "gravity", "--k", "10000"])
    assert r.exit_code == 2, r.output
    err = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and "k=10000 paths per OD pair" in err[-1]
    assert sum("k=10000" in line for line in err) == 1      # one error line (notes may precede it)
    assert time.perf_counter() - t0 < 30
    ab = shared_data / "abilene"
    r = runner.invoke(app, ["forecast", "-n", str(ab / "topology" / "sndlib_abilene.xml"), "-t",
                            str(ab / "sndlib_abilene_5min_xml_20040301-20040310.tar.xz"), "--horizon", "100000000"])
    assert r.exit_code == 2, r.output
    err = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and "h=100,000,000" in err[-1] and sum("h=" in line for line in err) == 1
