"""The scenario LP on a sliding window: slots kept, warm starts, the cached answer (issue 15);
the central solver (interior point, no crossover) against the simplex' vertex.

A warm solve must land on the same LP optimum as a cold one (objective within 1e-6 relative);
the start only changes how many simplex iterations it takes.
"""

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries
from surgeguard.examples import morocco, ring
from surgeguard.exceptions import SolverError
from surgeguard.io import GEANT_NODES, read_node_link_json, read_sndlib_demands
from surgeguard.optimise import highs
from surgeguard.optimise.scenario import ScenarioLP
from surgeguard.paths import read_tunnels_file
from surgeguard.routing import get_policy, k_shortest_paths
from surgeguard.routing.robust import Robust

RTOL = 1e-6


@pytest.fixture(scope="module")
def bursty():
    """ring(6), k = 3, 40 random matrices (uniform 0-4 Gbit/s per pair): every window differs."""
    net = ring(6)
    rng = np.random.default_rng(3)
    v = rng.uniform(0, 4e9, (40, 6, 6))
    v[:, np.arange(6), np.arange(6)] = 0
    return net, k_shortest_paths(net, k=3), v


def _cold(net, ps, tms, **kw):
    return ScenarioLP(net, ps, solver="simplex").solve(tms, **kw)


def test_sliding_window_warm_equals_cold(bursty):
    net, ps, v = bursty
    lp = ScenarioLP(net, ps, solver="simplex")
    for t in range(8, 20):
        splits, info = lp.solve(v[t - 8:t])
        if t > 8:  # one matrix left, one came: the other 7 kept their slots
            assert info["start"] == "warm" and info["kept_scenarios"] == 7
        _, ref = _cold(net, ps, v[t - 8:t])
        assert info["mean_mlu"] == pytest.approx(ref["mean_mlu"], rel=RTOL)
        # scenario_mlu is in the caller's order, not the slot order
        assert np.all(np.isfinite(info["scenario_mlu"]))
        R, cap = ps.incidence, net.capacity
        D = np.stack([ps.demand(tm) for tm in v[t - 8:t]])
        mlu = ((R @ (splits[None, :] * D[:, ps.path_od]).T) / cap[:, None]).max(axis=0)
        np.testing.assert_allclose(info["scenario_mlu"], mlu, rtol=1e-12)


def test_slots_follow_the_matrices(bursty):
    net, ps, v = bursty
    lp = ScenarioLP(net, ps, solver="simplex")
    lp.solve(v[0:4])
    D = np.stack([ps.demand(tm) for tm in v[1:5]])  # matrices 1, 2, 3 stay; 4 takes 0's slot
    order, kept = lp.slot_order(D)
    assert order.tolist() == [3, 0, 1, 2] and kept == 3
    # two more slides: 4 took slot 0, 5 takes slot 1, 6 takes slot 2 (where 2 was)
    lp.solve(v[1:5])
    lp.solve(v[2:6])
    order, kept = lp.slot_order(np.stack([ps.demand(tm) for tm in v[3:7]]))
    assert order.tolist() == [1, 2, 3, 0] and kept == 3
    D = np.stack([ps.demand(tm) for tm in v[10:14]])  # nothing in common: caller's order
    order, kept = lp.slot_order(D)
    assert order.tolist() == [0, 1, 2, 3] and kept == 0


def test_repeated_matrices_each_keep_a_slot(bursty):
    net, ps, v = bursty
    tms = np.stack([v[0], v[1], v[1], v[2]])
    lp = ScenarioLP(net, ps, solver="simplex")
    lp.solve(tms)
    nxt = np.stack([v[1], v[1], v[2], v[3]])
    order, kept = lp.slot_order(np.stack([ps.demand(tm) for tm in nxt]))
    assert sorted(order.tolist()) == [0, 1, 2, 3] and kept == 3 and order[0] == 3
    _, info = lp.solve(nxt)
    assert info["mean_mlu"] == pytest.approx(_cold(net, ps, nxt)[1]["mean_mlu"], rel=RTOL)


def test_the_same_window_is_not_solved_again(bursty):
    net, ps, v = bursty
    lp = ScenarioLP(net, ps, solver="simplex")
    s1, i1 = lp.solve(v[0:6])
    n = lp.n_solves
    s2, i2 = lp.solve(v[0:6].copy())
    assert lp.n_solves == n and i2["start"] == "cached"
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(i1["scenario_mlu"], i2["scenario_mlu"])
    s2[:] = 0  # the caller owns what it got back
    s3, _ = lp.solve(v[0:6])
    np.testing.assert_array_equal(s1, s3)
    # other weights or another stage are another question
    _, i4 = lp.solve(v[0:6], weights=np.arange(1.0, 7.0))
    assert i4["start"] == "warm" and lp.n_solves == n + 1


def test_a_growing_window_stays_warm_and_a_shrinking_one_starts_cold(bursty):
    net, ps, v = bursty
    lp = ScenarioLP(net, ps, solver="simplex")
    for t in range(1, 7):  # the first matrices of a replay: 1, 2, ... scenarios
        _, info = lp.solve(v[:t])
        assert info["start"] == ("cold" if t == 1 else "warm")
        assert info["mean_mlu"] == pytest.approx(_cold(net, ps, v[:t])[1]["mean_mlu"], rel=RTOL)
    _, info = lp.solve(v[4:7])
    assert info["start"] == "cold"
    assert info["mean_mlu"] == pytest.approx(_cold(net, ps, v[4:7])[1]["mean_mlu"], rel=RTOL)


def test_weights_follow_their_scenario_into_its_slot(bursty):
    """After a slide the slot order is not the caller's: the weights must be permuted with it."""
    net, ps, v = bursty
    lp = ScenarioLP(net, ps, solver="simplex")
    lp.solve(v[0:5])
    w = np.array([5.0, 0.0, 0.0, 0.0, 1.0])  # in the caller's order: matrix 1 heavy, matrix 5 light
    s, info = lp.solve(v[1:6], weights=w)
    assert info["start"] == "warm" and info["kept_scenarios"] == 4
    s_ref, ref = _cold(net, ps, v[1:6], weights=w)
    assert info["mean_mlu"] == pytest.approx(ref["mean_mlu"], rel=RTOL)
    wn = w / w.sum()
    assert float(wn @ info["scenario_mlu"]) == pytest.approx(float(wn @ ref["scenario_mlu"]), rel=RTOL)


def test_second_stage_after_a_warm_start(bursty):
    net, ps, v = bursty
    lp = ScenarioLP(net, ps, solver="simplex")
    lp.solve(v[0:6], second_stage=True)
    _, info = lp.solve(v[1:7], second_stage=True)
    _, ref = _cold(net, ps, v[1:7], second_stage=True)
    assert info["start"] == "warm"
    assert info["mean_mlu"] == pytest.approx(ref["mean_mlu"], rel=1e-5)
    assert info["scenario_mlu"].max() == pytest.approx(ref["scenario_mlu"].max(), rel=1e-5)


def test_robust_decisions_reuse_the_last_basis(bursty):
    net, ps, v = bursty
    ts = TrafficSeries(v, net.node_names, pd.date_range("2020-03-20", periods=len(v), freq="15min", tz="UTC"))
    pol = Robust(window=6, solver="simplex")
    starts = [pol.decide(net, ps, ts.window(0, t)).info["start"] for t in range(6, 12)]
    assert starts == ["cold"] + ["warm"] * 5
    r = pol.decide(net, ps, ts.window(0, 11))
    assert r.info["start"] == "cached"
    ref = Robust(window=6, solver="simplex").decide(net, ps, ts.window(0, 11))
    assert r.info["mean_mlu"] == pytest.approx(ref.info["mean_mlu"], rel=RTOL)


def test_grow_basis_and_set_basis(bursty):
    net, ps, v = bursty
    lp = ScenarioLP(net, ps, solver="simplex")
    lp.solve(v[0:2])
    h = lp.h
    b = h.getBasis()
    g = highs.grow_basis(b, n_cols_at_lower=1, n_rows_basic=net.n_links)
    assert len(g.col_status) == len(b.col_status) + 1 and len(g.row_status) == len(b.row_status) + net.n_links
    assert highs.set_basis(h, b)
    assert not highs.set_basis(h, g)  # the wrong size for this model: refused, not raised


def test_load_arrays_refuses_inconsistent_arrays():
    base = dict(cost=[1.0, 1.0], lower=[0, 0], upper=[1, 1], row_lower=[1.0], row_upper=[2.0],
                start=[0, 1, 2], index=[0, 0], value=[1.0, 2.0])
    assert highs.run(highs.load_arrays(**base), "a tiny LP") == "Optimal"
    with pytest.raises(SolverError, match="refused an LP of 2 columns, 1 rows"):
        highs.load_arrays(**{**base, "index": [0, 5]})


def test_geant_sliding_window_warm_equals_cold_in_fewer_iterations(shared_data):
    """The real case: GÉANT, 12 matrices, 1,386 paths. Warm solves agree with cold ones and take
    far fewer simplex iterations (counts, not seconds: deterministic for one HiGHS version)."""
    d = shared_data / "geant" / "dote_format"
    net = read_node_link_json(d / "GEANT.json", node_names=GEANT_NODES)
    ts = read_sndlib_demands(shared_data / "geant" / "sndlib_geant_15min_xml_20050504T1500-20050507T2345.tar.xz",
                             nodes=net).reorder(net.node_names)
    ps = read_tunnels_file(net, d / "tunnels.txt")
    lp = ScenarioLP(net, ps, solver="simplex")
    warm_it, cold_it = 0, 0
    for t in range(112, 124):
        _, info = lp.solve(ts.values[t - 12:t])
        if t > 112:
            assert info["start"] == "warm"
            warm_it += info["simplex_iterations"]
        if t % 4 == 0:
            _, ref = _cold(net, ps, ts.values[t - 12:t])
            cold_it += 3 * ref["simplex_iterations"]
            assert info["mean_mlu"] == pytest.approx(ref["mean_mlu"], rel=RTOL)
    assert warm_it < 0.25 * cold_it


def _tight(net, ps, splits, tms, mlu):
    """(scenario, link) pairs whose utilisation is within 1e-5 of that scenario's MLU."""
    D = np.stack([ps.demand(tm) for tm in tms])
    util = (ps.incidence @ (splits[None, :] * D[:, ps.path_od]).T) / net.capacity[:, None]  # (L, S)
    return util >= mlu[None, :] * (1 - 1e-5)


@pytest.mark.parametrize("t", [8, 15, 30])
def test_central_is_optimal_and_binds_only_what_every_optimum_binds(bursty, t):
    """The central answer has the simplex' objective, and its tight (scenario, link) pairs are
    among the vertex's: inside the optimal face only the constraints tight on the whole face bind."""
    net, ps, v = bursty
    tms = v[t - 8:t]
    sx, vx = ScenarioLP(net, ps, solver="simplex").solve(tms)
    sc, ce = ScenarioLP(net, ps).solve(tms)
    assert ce["start"] == "interior" and vx["start"] == "cold"
    assert ce["mean_mlu"] == pytest.approx(vx["mean_mlu"], rel=1e-6)
    for k in range(ps.n_od):  # splits on the simplex
        seg = sc[ps.od_ptr[k]:ps.od_ptr[k + 1]]
        assert seg.min() >= 0 and seg.sum() == pytest.approx(1.0, abs=1e-9)
    tight_c = _tight(net, ps, sc, tms, ce["scenario_mlu"])
    tight_v = _tight(net, ps, sx, tms, vx["scenario_mlu"])
    assert not (tight_c & ~tight_v).any()
    assert tight_c.sum() <= tight_v.sum()


def test_central_leaves_headroom_where_the_vertex_fills_links():
    """On the 26-node Morocco backbone (k = 4, 8 random matrices) the optimal face is wide: the
    vertex puts 3x as many (scenario, link) pairs at their scenario's MLU as the central answer."""
    net = morocco()
    ps = k_shortest_paths(net, k=4)
    rng = np.random.default_rng(3)
    tms = rng.uniform(0, 1e9, (8, net.n_nodes, net.n_nodes))
    tms[:, np.arange(net.n_nodes), np.arange(net.n_nodes)] = 0
    sx, vx = ScenarioLP(net, ps, solver="simplex").solve(tms)
    sc, ce = ScenarioLP(net, ps).solve(tms)
    assert ce["mean_mlu"] == pytest.approx(vx["mean_mlu"], rel=1e-6)
    tight_c = _tight(net, ps, sc, tms, ce["scenario_mlu"])
    tight_v = _tight(net, ps, sx, tms, vx["scenario_mlu"])
    assert not (tight_c & ~tight_v).any()
    assert 2 * tight_c.sum() < tight_v.sum()


def test_optimal_last_is_central_with_the_optimal_mlu():
    net = morocco()
    ps = k_shortest_paths(net, k=4)
    tm = np.random.default_rng(5).uniform(0, 1e9, (net.n_nodes, net.n_nodes))
    np.fill_diagonal(tm, 0)
    last, opt = get_policy("optimal-last").route(net, ps, tm), get_policy("optimal").route(net, ps, tm)
    assert last.info["solver"] == "central" and opt.info["solver"] == "simplex"
    assert last.info["mlu"] == pytest.approx(opt.info["mlu"], rel=1e-6)
    util = lambda r: (ps.incidence @ (r.splits * ps.demand(tm)[ps.path_od])) / net.capacity
    u_last, u_opt = util(last), util(opt)
    assert u_last.max() == pytest.approx(opt.info["mlu"], rel=1e-6)
    assert (u_last >= u_last.max() * (1 - 1e-5)).sum() < (u_opt >= u_opt.max() * (1 - 1e-5)).sum()
