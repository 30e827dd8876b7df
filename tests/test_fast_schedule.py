"""The bound LPs' schedule of ``fast`` (issue 16): counted with a cost model on the CPU, not a clock,
so that the same input always gets the same routing."""

import numpy as np
import pytest

pytest.importorskip("torch")

import surgeguard.optimise.first_order as first_order  # noqa: E402
from surgeguard.io import read_topohub  # noqa: E402
from surgeguard.optimise.first_order import LP_COST, LPCostModel, get_operator, solve_fast  # noqa: E402
from surgeguard.plan import size_capacities  # noqa: E402
from surgeguard.routing import k_shortest_paths  # noqa: E402
from surgeguard.scenario import gravity_matrix  # noqa: E402


@pytest.fixture(scope="module")
def geant():
    """GEANT, a log-normal gravity matrix (seed 2), capacities for 60 %: a cold solve of ~60
    iterations with 2 bound LPs (from the start without relief, ~130 with 3; with the clock, 130 or 160
    iterations from run to run)."""
    net = read_topohub("sndlib/geant")
    rng = np.random.default_rng(2)
    tm = gravity_matrix(net, 10e9 * net.n_nodes, weights=rng.lognormal(0, 1, net.n_nodes))
    net = size_capacities(net, tm, target_util=0.6)
    return net, k_shortest_paths(net, k=4, method="deviation"), tm


def test_the_same_input_gets_the_same_routing(geant):
    net, ps, tm = geant
    runs = [solve_fast(net, ps, tm, device="cpu", threads=1, tol=0.01) for _ in range(3)]
    assert runs[0][1]["bound_lps"] >= 2                     # the schedule is exercised
    for splits, info in runs[1:]:
        assert info["iterations"] == runs[0][1]["iterations"]
        assert info["bound_lps"] == runs[0][1]["bound_lps"]
        np.testing.assert_array_equal(splits, runs[0][0])
    log = runs[0][1]["bound_lp_log"]
    assert len(log) == runs[0][1]["bound_lps"]
    assert all(lp["cost"] > 0 and lp["seconds"] >= 0 and lp["passes"] >= 1 for lp in log)
    assert runs[0][1]["bound"] == "prices" and runs[0][1]["gap"] <= 0.01


def test_the_lp_schedule_follows_the_cost_model(geant, monkeypatch):
    """LPs modelled at 10 s each: only the first runs (it is always allowed), and the solve still
    certifies (by the averaged prices, later); modelled free: at least as many as by default."""
    net, ps, tm = geant
    default = solve_fast(net, ps, tm, device="cpu", threads=1, tol=0.01)[1]
    monkeypatch.setattr(first_order, "LP_COST", LPCostModel(lp_fixed=10.0))
    dear = solve_fast(net, ps, tm, device="cpu", threads=1, tol=0.01)[1]
    monkeypatch.setattr(first_order, "LP_COST", LPCostModel(lp_fixed=0.0, lp_row=0.0, lp_nnz=0.0, pivot=0.0,
                                                            pivot_nnz=0.0, pass_fixed=0.0, pass_nnz=0.0))
    free = solve_fast(net, ps, tm, device="cpu", threads=1, tol=0.01)[1]
    assert dear["bound_lps"] == 1 < default["bound_lps"] <= free["bound_lps"]
    assert dear["gap"] <= 0.01 or dear["status"] == "iteration limit"


def test_cost_model_grows_with_the_work():
    net = read_topohub("sndlib/abilene")
    ps = k_shortest_paths(net, k=4, method="deviation")
    op = get_operator(ps, "cpu")
    small = {"passes": 1, "rows": 100, "lp_nnz": 300, "simplex": 10}
    assert LP_COST.lp(op, {"passes": 1}) < LP_COST.lp(op, small)       # no LP built: the product only
    assert LP_COST.lp(op, small) < LP_COST.lp(op, dict(small, simplex=1000))
    assert LP_COST.lp(op, small) < LP_COST.lp(op, dict(small, passes=3))
    assert LP_COST.lp(op, small, priced=True) > LP_COST.lp(op, small)
    assert 0 < LP_COST.iteration(op) < LP_COST.lp(op, small)
