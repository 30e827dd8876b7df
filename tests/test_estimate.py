"""Traffic-matrix estimation: exact where the measurements determine the matrix, tomogravity fits
the link loads and totals, estimates are non-negative, the history method beats tomogravity on
traffic with a persistent structure, bad input gets one line, the CLI round-trips, and on Zhang's
Abilene rows the errors match the published ones."""

from __future__ import annotations

import json
import lzma

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard import TrafficSeries
from surgeguard.estimate import (ESTIMATORS, error_summary, estimate, fit_quality, get_estimator, relative_errors,
                                 top_pairs)
from surgeguard.estimate.system import System
from surgeguard.examples import morocco, ring, triangle
from surgeguard.exceptions import NotFittedError, ValidationError
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.io import ABILENE_NODES, read_cfrrl, read_frame, write_frame
from surgeguard.network import Network
from surgeguard.serve.cli import app
from surgeguard.telemetry import LinkLoads, write_link_loads
from surgeguard.validation import Interval

runner = CliRunner()


def _line(n: int = 4) -> Network:
    names = [f"N{i}" for i in range(n)]
    links = [{"src": names[i], "dst": names[i + 1], "capacity": 10e9} for i in range(n - 1)]
    return Network.from_records([{"name": x} for x in names], links, bidirectional=True, name=f"line{n}")


def _interaction_series(net: Network, days: int, start: str, seed: int, *, noise: float = 0.1) -> TrafficSeries:
    """Hourly traffic with a structure that persists: a fixed interaction K (far from gravity), node
    totals with their own diurnal phase, and lognormal noise."""
    rng = np.random.default_rng(0)  # the same K for every call (history and test share it)
    n = net.n_nodes
    K = rng.lognormal(0.0, 1.0, (n, n))
    base = rng.lognormal(0.0, 0.7, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    times = pd.date_range(start, periods=24 * days, freq="h", tz="UTC")
    h = np.asarray(times.hour, float)
    level = base[None, :] * (1.5 + np.sin(2 * np.pi * h[:, None] / 24 + phase[None, :]))  # (T, n)
    noise_rng = np.random.default_rng(seed)
    v = level[:, :, None] * level[:, None, :] * K[None] * noise_rng.lognormal(0, noise, (len(times), n, n))
    v *= 40e9 / v.sum(axis=(1, 2)).mean()
    return TrafficSeries(v, net.node_names, times, name=f"interaction-{seed}")


# ---------------------------------------------------------------------------------------------- core
def test_exact_recovery_where_the_measurements_determine_the_matrix():
    """On a triangle every pair has its own link, and the totals then pin the self-traffic: any
    prior gives the truth (on a line of 4 the same measurements leave 6 of 16 unknowns free)."""
    assert np.linalg.matrix_rank(System(ecmp_routing_matrix(_line(4))).
                                 sparse_matrix(np.arange(6)).toarray()) == 10
    net = triangle()
    rm = ecmp_routing_matrix(net)
    system = System(rm, self_traffic=True)
    B = system.sparse_matrix(np.arange(rm.n_links)).toarray()
    assert np.linalg.matrix_rank(B) == system.n_vars  # the premise: the system is determined
    rng = np.random.default_rng(3)
    tm = rng.lognormal(20, 1.5, (5, 3, 3))  # far from gravity, diagonal included
    est = get_estimator("tomogravity").predict(rm, rm.loads(tm), tm.sum(2), tm.sum(1))
    assert np.allclose(est, tm, rtol=1e-6, atol=1e-6 * tm.max())
    grav = get_estimator("gravity").predict(rm, rm.loads(tm), tm.sum(2), tm.sum(1))
    assert relative_errors(grav, tm).mean() > 0.1  # the gravity prior alone is far off


@pytest.mark.parametrize("self_traffic", [True, False])
def test_tomogravity_reproduces_links_and_totals_and_is_non_negative(self_traffic):
    net = morocco()
    rm = ecmp_routing_matrix(net)
    rng = np.random.default_rng(1)
    tm = rng.lognormal(18, 2.0, (6, net.n_nodes, net.n_nodes))
    tm[:, rng.random((net.n_nodes, net.n_nodes)) < 0.2] = 0.0  # zero pairs
    if not self_traffic:
        tm[:, np.arange(net.n_nodes), np.arange(net.n_nodes)] = 0.0
    y, tin, tout = rm.loads(tm), tm.sum(2), tm.sum(1)
    est = get_estimator("tomogravity", self_traffic=self_traffic)
    x = est.predict(rm, y, tin, tout)
    assert (x >= 0).all()
    if not self_traffic:
        assert (x[:, np.arange(net.n_nodes), np.arange(net.n_nodes)] == 0).all()
    q = fit_quality(rm, x, y, tin, tout)
    assert (q["totals_rel_l2"] < 1e-8).all()
    for info, link in zip(est.info_, q["link_rel_l2"]):
        assert info["residual"] < 1e-8  # the correction itself reproduces every measurement
        if info["clipped"] == 0:
            assert link < 1e-8
        else:  # clipping moved the loads a little; the quality says how much
            assert link < 0.05
    g = get_estimator("gravity", self_traffic=self_traffic).predict(rm, y, tin, tout)
    assert relative_errors(x, tm).mean() < relative_errors(g, tm).mean()


def test_conjugate_gradients_agree_with_the_dense_solve():
    net = morocco()
    rm = ecmp_routing_matrix(net)
    tm = np.random.default_rng(2).lognormal(18, 1.0, (2, net.n_nodes, net.n_nodes))
    args = (rm, rm.loads(tm), tm.sum(2), tm.sum(1))
    dense = get_estimator("tomogravity", solver="dense").predict(*args)
    cg_est = get_estimator("tomogravity", solver="cg", tol=1e-10, max_iter=2000)
    cg = cg_est.predict(*args)
    assert all(i["solver"] == "cg" and i["iterations"] > 0 for i in cg_est.info_)
    assert np.allclose(cg, dense, rtol=1e-5, atol=1e-6 * tm.max())


def test_history_beats_tomogravity_on_traffic_with_a_persistent_structure():
    net = morocco()
    rm = ecmp_routing_matrix(net)
    hist = _interaction_series(net, 7, "2020-03-02", seed=1)
    test = _interaction_series(net, 2, "2020-03-09", seed=2)
    loads = LinkLoads.from_traffic(rm, test)
    tomo = estimate(rm, loads, "tomogravity")
    hist_est = estimate(rm, loads, "history", history=hist)
    e_tomo = error_summary(tomo.series.total, test.values)["mean"]
    e_hist = error_summary(hist_est.series.total, test.values)["mean"]
    assert e_hist < 0.5 * e_tomo, (e_hist, e_tomo)
    assert hist_est.quality["totals_rel_l2"].max() < 1e-8
    assert (hist_est.series.values >= 0).all()


def test_missing_links_skipped_on_request():
    net = morocco()
    rm = ecmp_routing_matrix(net)
    tm = np.random.default_rng(4).lognormal(18, 1.0, (3, net.n_nodes, net.n_nodes))
    y = rm.loads(tm)
    y[1, [0, 5]] = np.nan
    with pytest.raises(ValidationError, match=r"link .* has no measurement \(NaN\) in interval 1 .*missing='skip'"):
        get_estimator("tomogravity").predict(rm, y, tm.sum(2), tm.sum(1))
    est = get_estimator("tomogravity", missing="skip")
    x = est.predict(rm, y, tm.sum(2), tm.sum(1))
    assert [i["links_measured"] for i in est.info_] == [rm.n_links, rm.n_links - 2, rm.n_links]
    q = fit_quality(rm, x, y, tm.sum(2), tm.sum(1))
    assert q["links_measured"].tolist() == [rm.n_links, rm.n_links - 2, rm.n_links]
    assert np.isfinite(q["link_rel_l2"]).all()


# ---------------------------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    rm = ecmp_routing_matrix(ring(4))
    tm = np.full((2, 4, 4), 1e9)
    return rm, rm.loads(tm), tm.sum(2), tm.sum(1)


@pytest.mark.parametrize("case, pattern", [
    ("shape", r"link loads have shape \(2, 7\), but network 'ring4' has 8 links"),
    ("negative", r"link loads: negative rate -5.0 bit/s at link 'R0->R1', interval 1"),
    ("infinite", r"link loads: infinite rate"),
    ("nan", r"link 'R1->R2' has no measurement \(NaN\) in interval 0"),
    ("totals_shape", r"node totals: ingress has shape \(2, 3\), expected \(2, 4\)"),
    ("totals_nan", r"node totals: egress of node 'R2' is not measured \(NaN\) in interval 1"),
    ("totals_negative", r"node totals \(ingress\): negative rate"),
    ("no_totals", r"node totals: no ingress given"),
    ("routing", r"routing must be a RoutingMatrix"),
])
def test_bad_measurements_get_one_line(small, case, pattern):
    rm, y, tin, tout = (a.copy() if isinstance(a, np.ndarray) else a for a in small)
    if case == "shape":
        y = y[:, :7]
    elif case == "negative":
        y[1, 0] = -5.0
    elif case == "infinite":
        y[0, 3] = np.inf
    elif case == "nan":
        y[0, 1] = np.nan
    elif case == "totals_shape":
        tin = tin[:, :3]
    elif case == "totals_nan":
        tout[1, 2] = np.nan
    elif case == "totals_negative":
        tin[0, 0] = -1.0
    elif case == "no_totals":
        tin = None
    elif case == "routing":
        rm = "ring4"
    with pytest.raises(ValidationError, match=pattern) as err:
        get_estimator("tomogravity").predict(rm, y, tin, tout)
    assert "\n" not in str(err.value)


def test_unknown_method_parameter_and_missing_history(small):
    rm, y, tin, tout = small
    with pytest.raises(ValidationError, match="unknown estimator 'kalman'; choose one of: gravity, history, "
                                              "tomogravity"):
        get_estimator("kalman")
    with pytest.raises(ValidationError, match=r"has no parameter\(s\) \['window'\]"):
        get_estimator("tomogravity", window=3)
    with pytest.raises(ValidationError, match=r"The 'tol' parameter of Tomogravity must be a float in \(0, 1\). "
                                              r"Got 2.0 instead."):
        get_estimator("tomogravity", tol=2.0).predict(rm, y, tin, tout)
    with pytest.raises(NotFittedError, match=r"call fit\(history\)"):
        get_estimator("history").predict(rm, y, tin, tout)
    with pytest.raises(ValidationError, match="learns its prior from measured traffic matrices"):
        get_estimator("history").fit(None)
    hist = TrafficSeries(np.ones((24, 4, 4)), ring(4).node_names, pd.date_range("2020-01-01", periods=24, freq="h"))
    with pytest.raises(ValidationError, match="needs the time"):
        get_estimator("history").fit(hist).predict(rm, y, tin, tout)
    other = TrafficSeries(np.ones((24, 2, 2)), ["X", "Y"], pd.date_range("2020-01-01", periods=24, freq="h"))
    with pytest.raises(ValidationError):
        get_estimator("history").fit(other).predict(rm, y, tin, tout, times=hist.times[:2])


@pytest.mark.parametrize("name", sorted(ESTIMATORS.names()))
def test_parameter_contract(name, small):
    """Every estimator: params round-trip, repr shows them, each declared interval refuses a value
    outside it with the one message form when work starts."""
    est = get_estimator(name)
    assert est.clone().get_params() == est.get_params()
    for k, v in est.get_params().items():
        assert f"{k}={v!r}" in repr(est)
    rm, y, tin, tout = small
    hist = TrafficSeries(np.ones((24, 4, 4)), ring(4).node_names, pd.date_range("2020-01-01", periods=24, freq="h"))
    for param, cons in type(est)._parameter_constraints.items():
        for c in cons:
            if isinstance(c, Interval) and c.low is not None:
                bad = est.clone()
                setattr(bad, param, c.kind(c.low) - 1)
                with pytest.raises(ValidationError, match=rf"^The '{param}' parameter of {type(est).__name__} must be"):
                    bad.fit(hist)


# ---------------------------------------------------------------------------------------------- metrics
def test_error_metrics():
    m = np.zeros((2, 3, 3))
    m[:, 0, 1], m[:, 1, 2], m[:, 2, 0], m[:, 0, 0] = 10.0, 1.0, 1.0, 5.0
    x = m.copy()
    x[:, 0, 1] = 7.0
    top = top_pairs(m, 0.1)
    assert top.sum() == 1 and top[0, 1]
    s = error_summary(x, m)
    assert s["top_mean"] == pytest.approx(0.3)
    assert s["mean"] == pytest.approx(3.0 / np.sqrt(100 + 1 + 1 + 25))
    assert relative_errors(x, m, diagonal=False)[0] == pytest.approx(3.0 / np.sqrt(102))


# ---------------------------------------------------------------------------------------------- CLI
def _net_json(path: str, net: Network) -> str:
    nodes = [{"id": n} for n in net.node_names]
    links = [{"source": s, "target": d, "capacity": float(c), "metric": float(m)} for s, d, c, m in
             zip(net.links["src"], net.links["dst"], net.capacity, net.metric)]
    with open(path, "w") as fh:
        json.dump({"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}, fh)
    return path


def test_cli_round_trip(tmp_path):
    net = morocco()
    netfile = _net_json(str(tmp_path / "net.json"), net)
    rm = ecmp_routing_matrix(net)
    hist = _interaction_series(net, 3, "2020-03-06", seed=5)
    test = _interaction_series(net, 1, "2020-03-09", seed=6).window(0, 6)
    loads = LinkLoads.from_traffic(rm, test)
    lf, nf, hf = tmp_path / "loads.csv", tmp_path / "totals.parquet", tmp_path / "hist.parquet"
    write_link_loads(loads, lf, node_totals=nf)
    write_frame(hist, hf)
    for method, extra in (("tomogravity", []), ("history", ["--history", str(hf)])):
        out = tmp_path / f"{method}.csv"
        r = runner.invoke(app, ["estimate", "--network", netfile, "--link-loads", str(lf), "--node-totals", str(nf),
                                "--method", method, "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
        assert "link loads" in r.output and "node totals" in r.output and "mean" in r.output
        got = read_frame(out, nodes=list(net.node_names)).reorder(net.node_names)
        api = estimate(rm, loads, method, history=hist if method == "history" else None)
        assert got.times.equals(test.times)
        assert np.allclose(got.values, api.series.values, rtol=1e-9, atol=1e-3)
        grav = get_estimator("gravity").predict(rm, loads.bps, loads.ingress, loads.egress)
        assert relative_errors(got.values, test.values).mean() < relative_errors(grav, test.values).mean()
    # an existing output needs --force; a missing history is named
    r = runner.invoke(app, ["estimate", "--network", netfile, "--link-loads", str(lf), "--node-totals", str(nf),
                            "--out", str(tmp_path / "tomogravity.csv")])
    assert r.exit_code == 2 and "--force" in r.output
    r = runner.invoke(app, ["estimate", "--network", netfile, "--link-loads", str(lf), "--node-totals", str(nf),
                            "--method", "history", "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "--history" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["estimate", "--network", netfile, "--link-loads", str(lf), "--out",
                            str(tmp_path / "y.csv")])
    assert r.exit_code == 2 and "--node-totals" in r.output
    r = runner.invoke(app, ["estimate", "--network", netfile, "--link-loads", str(lf), "--node-totals", str(nf),
                            "--method", "nope", "--out", str(tmp_path / "z.csv")])
    assert r.exit_code == 2 and "unknown estimator 'nope'" in r.output
    r = runner.invoke(app, ["estimate", "--network", netfile, "--link-loads", str(lf), "--node-totals", str(nf),
                            "--out", str(tmp_path / "q.csv"), "--json"])
    summary = json.loads(r.output)
    assert summary["intervals"] == len(test) and summary["totals_rel_l2"]["max"] < 1e-8
    # the measurements come from one place: a file or a Prometheus URL, each with its own options
    for args, needle in (([], "neither"), (["--link-loads", str(lf), "--prometheus", "http://127.0.0.1:9"], "both"),
                         (["--prometheus", "http://127.0.0.1:9", "--start", "2020-03-09"], "--start and --end"),
                         (["--link-loads", str(lf), "--start", "2020-03-09"], "go with --prometheus"),
                         (["--prometheus", "http://127.0.0.1:9", "--start", "March", "--end", "2020-03-09"],
                          "--start 'March' is not a time")):
        r = runner.invoke(app, ["estimate", "--network", netfile, "--out", str(tmp_path / "p.csv"), *args])
        assert r.exit_code == 2 and needle in r.output and len(r.output.strip().splitlines()) == 1, r.output


# ---------------------------------------------------------------------------------------------- real data
def test_zhang_reference_rows(shared_data):
    """The 36 rows of Zhang's X01 with his four estimates (documented order: simple gravity, simple
    tomogravity, general gravity, general tomogravity): his errors are as published (0.371, 0.274,
    0.194, 0.214). Two columns reproduce the link loads of the CFR-RL OSPF weights exactly, so that is
    his routing; they are the 3rd and 4th, and a gravity model cannot fit link loads: the 2nd and 3rd
    columns look swapped. Read so, his simple tomogravity (0.194) and ours (0.205) agree to 0.011,
    and the two estimates are within 4 % of each other. Our gravity is his simple gravity."""
    d = shared_data / "abilene"
    with lzma.open(d / "yates_sample" / "X01_first36_720col.txt.xz", "rt") as fh:
        raw = np.loadtxt(fh)
    n = 12
    real = raw[:, 0::5].reshape(-1, n, n)
    col = {k: raw[:, k::5].reshape(-1, n, n) for k in range(1, 5)}
    published = {1: 0.371, 2: 0.274, 3: 0.194, 4: 0.214}
    for k, want in published.items():
        assert relative_errors(col[k], real).mean() == pytest.approx(want, abs=6e-4)
    net = read_cfrrl(d / "topology" / "cfrrl_Abilene.txt", node_names=ABILENE_NODES)
    rm = ecmp_routing_matrix(net)
    y = rm.loads(real)
    misfit = lambda est: float(np.mean(np.linalg.norm(rm.loads(est) - y, axis=1) / np.linalg.norm(y, axis=1)))
    assert misfit(col[3]) < 1e-6 and misfit(col[4]) < 1e-6  # tomographic: fit these loads exactly
    assert misfit(col[2]) > 0.05 and misfit(col[1]) > 0.05  # not fits to these loads
    tin, tout = real.sum(2), real.sum(1)
    grav = get_estimator("gravity").predict(rm, y, tin, tout)
    assert np.allclose(grav, col[1], rtol=1e-6)  # his simple gravity is ours
    tomo = get_estimator("tomogravity").predict(rm, y, tin, tout)
    assert relative_errors(tomo, real).mean() == pytest.approx(0.205, abs=0.005)
    assert relative_errors(tomo, real).mean() == pytest.approx(relative_errors(col[3], real).mean(), abs=0.015)
    assert relative_errors(tomo, col[3]).mean() < 0.06
    assert misfit(tomo) < 1e-3
