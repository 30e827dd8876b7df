"""The scenario LP (``robust``), ``optimal-last``, ``optimal-forecast`` and ``switching``."""

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries
from surgeguard.evaluate import evaluate, replay
from surgeguard.examples import ring, two_paths
from surgeguard.exceptions import ValidationError
from surgeguard.routing import get_policy, k_shortest_paths, paths_from_node_lists, solve
from surgeguard.optimise.scenario import ScenarioLP
from surgeguard.routing.robust import Robust


@pytest.fixture(scope="module")
def toy():
    """two_paths (10 Gbit/s links): S->T over S-A-T or S-B-T, and S->A over its direct link only."""
    net = two_paths()
    ps = paths_from_node_lists(net, [("S", "T", [["S", "A", "T"], ["S", "B", "T"]]), ("S", "A", [["S", "A"]])])
    return net, ps


def _tm(net, st=0.0, sa=0.0):
    i = {n: k for k, n in enumerate(net.node_names)}
    tm = np.zeros((net.n_nodes, net.n_nodes))
    tm[i["S"], i["T"]], tm[i["S"], i["A"]] = st, sa
    return tm


def test_scenario_lp_minimises_the_mean_hand_computed(toy):
    """Scenarios (S->T, S->A) = (10, 6), (10, 0), (10, 0) Gbit/s; x = share of S->T on S-A-T.

    MLUs: max(0.6 + x, 1 - x) and twice max(x, 1 - x). The mean (2.6 - x)/3 on [0.2, 0.5] and
    increasing beyond is minimised by x = 0.5: MLUs (1.1, 0.5, 0.5), mean 0.7. The min-max answer
    (and the optimum of the element-wise peak matrix) would be x = 0.2 with every MLU 0.8.
    """
    net, ps = toy
    tms = np.stack([_tm(net, 10e9, 6e9), _tm(net, 10e9), _tm(net, 10e9)])
    splits, info = ScenarioLP(net, ps).solve(tms)
    assert splits[:2] == pytest.approx([0.5, 0.5], abs=1e-7)
    assert splits[2] == pytest.approx(1.0)
    assert info["scenario_mlu"] == pytest.approx([1.1, 0.5, 0.5], abs=1e-7)
    assert info["mlu"] == pytest.approx(0.7, abs=1e-7)
    # the peak matrix's optimum is the different, min-max answer
    peak = solve(net, ps, tms.max(axis=0), "optimal")
    assert peak.splits[:2] == pytest.approx([0.2, 0.8], abs=1e-6)
    # equal weights by default; weights move the answer to the min-max point
    s_w, _ = ScenarioLP(net, ps).solve(tms, weights=[1.0, 0.0, 0.0])
    assert s_w[0] <= 0.2 + 1e-7


def test_scenario_lp_one_scenario_is_the_optimum(toy):
    net, ps = toy
    tm = _tm(net, 15e9, 2e9)
    s, info = ScenarioLP(net, ps).solve(tm[None])
    assert info["mlu"] == pytest.approx(solve(net, ps, tm, "optimal").info["mlu"], rel=1e-7)


def _series(n=30, seed=0, nodes=5):
    net = ring(nodes)
    rng = np.random.default_rng(seed)
    v = rng.uniform(0, 4e9, (n, nodes, nodes))
    v[:, np.arange(nodes), np.arange(nodes)] = 0
    ts = TrafficSeries(v, net.node_names, pd.date_range("2020-03-20", periods=n, freq="15min", tz="UTC"))
    return net, k_shortest_paths(net, k=3), ts


def test_robust_decides_on_the_last_window_only():
    net, ps, ts = _series()
    pol = Robust(window=4)
    r = pol.decide(net, ps, ts.window(0, 10))
    ref, _ = ScenarioLP(net, ps).solve(ts.total[6:10])
    np.testing.assert_allclose(r.splits, ref, atol=1e-9)
    # matrices outside the window do not matter
    v = ts.values.copy()
    v[:6] *= 3.0
    r2 = Robust(window=4).decide(net, ps, ts.with_values(v).window(0, 10))
    np.testing.assert_allclose(r2.splits, r.splits, atol=1e-9)


def test_robust_fallback_and_bad_window():
    net, ps, ts = _series()
    r = Robust().decide(net, ps, ts.window(0, 0))
    np.testing.assert_allclose(r.splits, get_policy("shortest").route(net, ps, ts.matrix(0)).splits)
    with pytest.raises(ValidationError, match="window"):
        Robust(window=0).decide(net, ps, ts.window(0, 5))


def test_robust_beats_optimal_last_on_alternating_traffic(toy):
    """Traffic cycling a, b, b (a = (10, 6), b = (10, 0) Gbit/s): the last matrix is a poor guess.

    optimal-last: MLU 0.8 (b after a), 0.5 (b after b), 1.1 (a after b): mean 0.8. robust over 6
    matrices (always 2 a + 4 b) keeps x = 0.5: MLU 1.1 on a, 0.5 on b: mean 0.7.
    """
    net, ps = toy
    a, b = _tm(net, 10e9, 6e9), _tm(net, 10e9)
    v = np.stack([a if t % 3 == 0 else b for t in range(24)])
    ts = TrafficSeries(v, net.node_names, pd.date_range("2020-03-20", periods=24, freq="15min", tz="UTC"))
    res = replay(net, ps, ts, ["optimal-last", Robust(window=6)], start=6, progress=False)
    s = res.summary()["policies"]
    assert s["optimal-last"]["mlu_mean"] == pytest.approx(0.8, abs=1e-6)
    assert s["robust"]["mlu_mean"] == pytest.approx(0.7, abs=1e-6)


def test_optimal_last_is_the_optimum_of_the_last_matrix():
    net, ps, ts = _series()
    r = get_policy("optimal-last").decide(net, ps, ts.window(0, 7))
    o = solve(net, ps, ts.matrix(6), "optimal")
    assert evaluate(net, r, ts.matrix(6)).mlu == pytest.approx(o.info["mlu"], rel=1e-7)
    assert r.policy == "optimal-last"


def test_optimal_forecast_with_persistence_equals_optimal_last():
    pytest.importorskip("surgeguard.forecast")
    net, ps, ts = _series(n=40)
    pol = get_policy("optimal-forecast", forecaster="naive", min_history=10)
    for t in (12, 25, 39):
        r = pol.decide(net, ps, ts.window(0, t))
        ref = solve(net, ps, ts.matrix(t - 1), "optimal")
        assert evaluate(net, r, ts.matrix(t - 1)).mlu == pytest.approx(ref.info["mlu"], rel=1e-6)
    # before min_history: the optimum of the last matrix, and it says so
    r = pol.decide(net, ps, ts.window(0, 5))
    assert r.info["fallback"] == "optimal-last"


def test_switching_switches_after_the_surge_and_replay_records_it():
    pytest.importorskip("surgeguard.detect")
    net = two_paths()
    ps = k_shortest_paths(net, k=2)
    t = pd.date_range("2020-03-14", periods=24 * 5, freq="h", tz="UTC")
    rng = np.random.default_rng(0)
    base = 4e9 * (1.5 + np.sin(2 * np.pi * np.arange(len(t)) / 24)) * np.exp(rng.normal(0, 0.02, len(t)))
    i = {n: k for k, n in enumerate(net.node_names)}
    v = np.zeros((len(t), 4, 4))
    v[:, i["S"], i["T"]] = base
    v[:, i["A"], i["T"]] = 0.5 * base
    jump = 24 * 4
    v[jump:] *= 1.6
    ts = TrafficSeries(v, net.node_names, t)
    pol = get_policy("switching", base="optimal-last", on_alert="robust", reference_days=2)
    res = replay(net, ps, ts, [pol], start=24 * 3, progress=False)
    assert len(res.switches) == 1
    sw = res.switches[0]
    assert sw["policy"] == "switching" and sw["to"] == "robust" and sw["from"] == "optimal-last"
    assert t[jump] <= pd.Timestamp(sw["time"]) <= t[jump + 12]
