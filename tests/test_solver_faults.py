"""Fault injection for the solvers: the caller gets a routing or a clear one-line error, never a
routing built from a failed solve.

Faults are injected where HiGHS hands results to surgeguard (the ``Highs`` object's model status
and solution, patched on the class for one test), or are real (a HiGHS time limit of 1e-9 s on a
problem that needs far longer), or in torch's arithmetic for ``fast``. What each caller does:

* time limit: the LP policies (``optimal``, ``optimal-last``, ``optimal-forecast``, ``robust``,
  ``priority``) raise :class:`SolverError` naming the LP and the limit; a later stage cut short
  keeps the first stage's routing and says so in ``info['stage2_status']``; ``fast`` returns its
  best certified routing with ``info['status'] == 'time limit'``; ``learned`` and ``switching``
  hand the limit to the policies they run;
* NaN in HiGHS' solution: :class:`SolverError` from ``optimise.highs.primal`` (the one check);
* infeasible: :class:`InfeasibleError`;
* a HiGHS error status: :class:`SolverError` naming the LP and the status;
* replay and the what-if engine: the solver's error propagates (no step row, no failure row is
  written from a failed solve; the run stops with the one-line error); the IGP reconvergence of
  a what-if needs no solver and still answers;
* ``fast`` with NaN in torch: iterates that turn non-finite stop the iterations; the best routing
  before them is returned (``status`` 'numerical trouble'), or with none :class:`SolverError`.
"""

from __future__ import annotations

import highspy
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from surgeguard.evaluate import evaluate, replay
from surgeguard.examples import ring, two_paths
from surgeguard.exceptions import InfeasibleError, SolverError, SurgeguardError, ValidationError
from surgeguard.optimise import highs
from surgeguard.optimise.capacity import CapacityProblem, build_milp, solve_milp
from surgeguard.optimise.mcf import edge_mcf_mlu
from surgeguard.paths import k_shortest_paths
from surgeguard.plan.whatif import WhatIf
from surgeguard.routing import Routing, get_policy
from surgeguard.routing.learned import Learned, LearnedRouter
from surgeguard.routing import optimal as optimal_module
from surgeguard.routing.switching import Switching
from surgeguard.scenario.synthetic import gravity_matrix
from surgeguard.traffic import TrafficSeries

STATUS = highspy.HighsModelStatus
LP_POLICIES = ("optimal", "optimal-last", "optimal-forecast", "robust", "priority")
ALL_SOLVING = LP_POLICIES + ("fast", "learned", "switching")



@pytest.fixture(autouse=True)
def _fresh_solves():
    """Each test injects its fault into a fresh solve: forget the optima remembered by ``optimal``
    (same matrix, same settings: solved once) from earlier tests on the same network and paths."""
    optimal_module._MEMO.clear()
    yield
    optimal_module._MEMO.clear()

def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    return msg


@pytest.fixture(scope="module")
def small():
    net = two_paths()
    ps = k_shortest_paths(net, k=2)
    tm = np.zeros((4, 4))
    tm[0, 3] = 15e9
    return net, ps, tm


@pytest.fixture(scope="module")
def big():
    """ring(30), 4 paths per OD pair (1740 paths): far more than HiGHS solves in 1e-9 s."""
    net = ring(30)
    ps = k_shortest_paths(net, k=4)
    return net, ps, gravity_matrix(net, 2e11)


@pytest.fixture
def status_after(monkeypatch):
    """``status_after(st, n)``: HiGHS' model status reads ``st`` from the (n+1)-th run on (the
    earlier runs are real)."""

    def install(st, n: int = 0):
        real = highspy.Highs.getModelStatus
        calls = {"n": 0}

        def fake(self):
            calls["n"] += 1
            return st if calls["n"] > n else real(self)

        monkeypatch.setattr(highspy.Highs, "getModelStatus", fake)
        return calls

    return install


@pytest.fixture
def nan_solution_after(monkeypatch):
    """``nan_solution_after(n)``: from the (n+1)-th solution read on, HiGHS' column values hold a NaN."""

    def install(n: int = 0):
        real = highspy.Highs.getSolution
        calls = {"n": 0}

        def fake(self):
            sol = real(self)
            calls["n"] += 1
            if calls["n"] > n and len(sol.col_value):
                v = list(sol.col_value)
                v[0] = float("nan")
                sol.col_value = v
            return sol

        monkeypatch.setattr(highspy.Highs, "getSolution", fake)
        return calls

    return install


def assert_valid_routing(r: Routing, net, tm):
    assert np.isfinite(r.splits).all()
    np.testing.assert_allclose(r.paths.od_sum(r.splits), 1.0, atol=1e-9)
    assert np.isfinite(r.info["mlu"])
    assert r.info["mlu"] == pytest.approx(evaluate(net, r, tm).mlu, rel=1e-6)


# ============================================================================== (a) time limit
def test_every_solving_policy_declares_time_limit():
    for name in ALL_SOLVING:
        pol = get_policy(name, time_limit=2.5)
        assert pol.get_params()["time_limit"] == 2.5
        assert "time_limit" in type(pol)._parameter_constraints
        for bad in (0.0, -1.0, float("nan"), float("inf"), "10s"):
            with pytest.raises(ValidationError, match="'time_limit' parameter"):
                get_policy(name, time_limit=bad).validate()


@pytest.mark.parametrize("name", LP_POLICIES)
def test_lp_policies_raise_at_a_real_time_limit(big, name):
    net, ps, tm = big
    with pytest.raises(SolverError) as err:
        get_policy(name, time_limit=1e-9).route(net, ps, tm)
    msg = one_line(err.value)
    assert "time limit of 1e-09 s" in msg and "LP" in msg


def test_time_limit_through_decide(big):
    net, ps, tm = big
    ts = TrafficSeries(np.stack([tm, 1.1 * tm, 0.9 * tm]), net.node_names,
                       pd.date_range("2020-03-20", periods=3, freq="15min", tz="UTC"))
    for name in ("robust", "optimal-last", "optimal-forecast"):
        with pytest.raises(SolverError, match="time limit"):
            opts = {"forecaster": "naive", "min_history": 2} if name == "optimal-forecast" else {}
            get_policy(name, time_limit=1e-9, **opts).decide(net, ps, ts)


def test_simulated_time_limit_names_it(small, status_after):
    net, ps, tm = small
    status_after(STATUS.kTimeLimit)
    with pytest.raises(SolverError) as err:
        get_policy("optimal").route(net, ps, tm)
    assert "the min-MLU LP" in one_line(err.value) and "time limit" in str(err.value)


def test_latency_stage_cut_short_keeps_the_mlu_optimal_routing(small, status_after):
    net, ps, tm = small
    want = get_policy("optimal").route(net, ps, tm).info["mlu"]
    optimal_module._MEMO.clear()                  # solve the same matrix afresh
    status_after(STATUS.kTimeLimit, n=1)          # stage 1 real, stage 2 stops at its limit
    r = get_policy("optimal").route(net, ps, tm)
    assert r.info["stage2_status"].startswith("failed")
    assert r.info["mlu"] == pytest.approx(want, rel=1e-6)
    assert_valid_routing(r, net, tm)


def test_robust_second_stage_cut_short_keeps_stage_one(small, status_after):
    net, ps, tm = small
    tms = np.stack([tm, 0.5 * tm])
    status_after(STATUS.kTimeLimit, n=1)
    r = get_policy("robust", second_stage=True).route_scenarios(net, ps, tms)
    assert r.info["stage2_status"].startswith("failed")
    assert r.info["mlu"] == pytest.approx(0.75 * 0.5, rel=1e-6)


def test_fast_returns_its_best_routing_at_the_time_limit(big):
    pytest.importorskip("torch")
    net, ps, tm = big
    r = get_policy("fast", device="cpu", tol=0.0, max_iter=10**9, time_limit=0.3, threads=1).route(net, ps, tm)
    assert r.info["status"] == "time limit"
    assert 0.0 <= r.info["gap"] < 1.0 and r.info["lower_bound"] <= r.info["mlu"]
    assert_valid_routing(r, net, tm)


def test_capacity_milp_accepts_a_feasible_point_at_its_time_limit(status_after):
    lp = highs.build_lp(cost=[1.0, 1.0], lower=[0, 0], upper=[10, 10], row_lower=[1.0], row_upper=[highs.INF],
                        matrix=sp.csc_matrix(np.array([[1.0, 2.0]])), integer=2)
    h = highs.load(lp)
    status_after(STATUS.kTimeLimit)
    assert highs.run(h, "a MILP", accept_feasible=True) == "Time limit reached"
    assert np.isfinite(highs.primal(h, "a MILP")).all()


def test_switching_and_learned_pass_the_time_limit_on(big, small, status_after):
    net, ps, tm = big
    sw = Switching(base="optimal-last", on_alert="robust", time_limit=1e-9)
    with pytest.raises(SolverError, match="time limit of 1e-09 s"):
        sw.route(net, ps, tm)
    assert sw.base_.time_limit == 1e-9 and sw.alt_.time_limit == 1e-9
    # an option given for the policy itself wins; a policy object is left as it is
    sw2 = Switching(base="optimal-last", base_options={"time_limit": 9.0}, time_limit=1e-9)
    sw2._policies()
    assert sw2.base_.time_limit == 9.0
    # learned: its fallback (robust) and its LP prior run under the limit
    pytest.importorskip("torch")
    snet, sps, stm = small
    hist = TrafficSeries(np.stack([stm] * 6), snet.node_names,
                         pd.date_range("2020-03-20", periods=6, freq="15min", tz="UTC"))
    model = LearnedRouter(history=3, hidden=(4,), epochs=2, prior="robust", mix=0.5, random_state=0)
    model.fit(snet, sps, hist, progress=False)
    pol = Learned(model=model, time_limit=4.0)
    short = hist.window(0, 1)
    r = pol.decide(snet, sps, short)
    assert pol.fallback_.time_limit == 4.0 and model.prior_time_limit_ == 4.0
    assert r.info["fallback"] == "robust"
    status_after(STATUS.kTimeLimit)
    with pytest.raises(SolverError, match="time limit"):
        Learned(model=model, time_limit=4.0).decide(snet, sps, hist)   # the prior LP


# ============================================================================== (b) NaN in the solution
@pytest.mark.parametrize("name", LP_POLICIES)
def test_nan_in_highs_solution_is_a_solver_error(small, nan_solution_after, name):
    net, ps, tm = small
    nan_solution_after(0)
    with pytest.raises(SolverError) as err:
        get_policy(name).route(net, ps, tm)
    assert "non-finite" in one_line(err.value)


def test_primal_checks_finiteness_directly(monkeypatch):
    lp = highs.build_lp(cost=[1.0], lower=[0], upper=[1], row_lower=[0.5], row_upper=[highs.INF],
                        matrix=sp.csc_matrix(np.array([[1.0]])))
    h = highs.load(lp)
    highs.run(h, "a one-column LP")
    assert highs.primal(h, "a one-column LP").tolist() == [0.5]
    real = highspy.Highs.getSolution

    def inf_solution(self):
        sol = real(self)
        sol.col_value = [float("inf")]
        return sol

    monkeypatch.setattr(highspy.Highs, "getSolution", inf_solution)
    with pytest.raises(SolverError, match="1 non-finite value.*a one-column LP"):
        highs.primal(h, "a one-column LP")


def test_nan_in_the_latency_stage_keeps_stage_one(small, nan_solution_after):
    net, ps, tm = small
    nan_solution_after(1)                          # stage 1 clean, stage 2's solution has a NaN
    r = get_policy("optimal").route(net, ps, tm)
    assert r.info["stage2_status"].startswith("failed")
    assert_valid_routing(r, net, tm)
    assert r.info["mlu"] == pytest.approx(0.75, rel=1e-6)


# ============================================================================== (c) infeasible
def test_infeasible_lp_raises_infeasible_error():
    lp = highs.build_lp(cost=[1.0], lower=[0], upper=[1], row_lower=[2.0], row_upper=[highs.INF],
                        matrix=sp.csc_matrix(np.array([[1.0]])))
    with pytest.raises(InfeasibleError) as err:
        highs.run(highs.load(lp), "a test LP")
    assert "a test LP infeasible" in one_line(err.value)


class _Case:
    def __init__(self, demand, usable):
        self.demand, self.usable, self.failed_links, self.util_bound = demand, usable, (), 0.8


def test_capacity_planning_case_without_usable_path_is_infeasible():
    net = two_paths()
    ps = k_shortest_paths(net, k=2)
    d = np.zeros(ps.n_od)
    k = ps.od_lookup[0, 3]
    d[k] = 20e9
    usable = np.ones(ps.n_paths, bool)
    usable[ps.od_ptr[k]:ps.od_ptr[k + 1]] = False   # the only OD with demand may use no path
    fib = np.arange(net.n_links) // 2
    problem = CapacityProblem(ps, net.capacity.astype(float), fib, np.array([10e9]),
                              np.ones((int(fib.max()) + 1, 1)), None)
    with pytest.raises(InfeasibleError, match="capacity-planning MILP infeasible"):
        solve_milp(build_milp(problem, [_Case(d, usable)]), problem.shape, time_limit=10.0)


def test_infeasible_status_from_a_policy_is_infeasible_error(small, status_after):
    net, ps, tm = small
    status_after(STATUS.kInfeasible)
    with pytest.raises(InfeasibleError) as err:
        get_policy("optimal").route(net, ps, tm)
    one_line(err.value)


# ============================================================================== (d) HiGHS error status
@pytest.mark.parametrize("status", [STATUS.kSolveError, STATUS.kUnbounded, STATUS.kIterationLimit,
                                    STATUS.kNotset])
@pytest.mark.parametrize("name", LP_POLICIES)
def test_highs_error_status_is_a_solver_error(small, status_after, status, name):
    net, ps, tm = small
    status_after(status)
    with pytest.raises(SolverError) as err:
        get_policy(name).route(net, ps, tm)
    msg = one_line(err.value)
    assert "HiGHS stopped on the" in msg


def test_mcf_check_reports_a_solve_error(small, status_after):
    net, ps, tm = small
    status_after(STATUS.kSolveError)
    with pytest.raises(SolverError, match="multicommodity-flow LP .* 'Solve error'"):
        edge_mcf_mlu(net, tm)


# ============================================================================== (e) replay and what-if
def _series(net, tm, n=4):
    return TrafficSeries(np.stack([tm * (1 + 0.1 * t) for t in range(n)]), net.node_names,
                         pd.date_range("2020-03-20", periods=n, freq="15min", tz="UTC"))


def test_replay_stops_with_the_solver_error(small, status_after):
    net, ps, tm = small
    ts = _series(net, tm)
    ok = replay(net, ps, ts, ["robust", "shortest"], start=1, progress=False)
    assert np.isfinite(ok.steps["mlu"]).all()
    status_after(STATUS.kSolveError)
    with pytest.raises(SolverError) as err:
        replay(net, ps, ts, ["robust", "shortest"], start=1, progress=False)
    one_line(err.value)


def test_replay_with_a_policy_time_limit(big):
    net, ps, tm = big
    with pytest.raises(SolverError, match="time limit of 1e-09 s"):
        replay(net, ps, _series(net, tm, 3), [get_policy("robust", time_limit=1e-9)], start=1, progress=False)


def test_replay_of_fast_at_its_time_limit_marks_the_steps(small):
    pytest.importorskip("torch")
    net, ps, tm = small
    res = replay(net, ps, _series(net, tm), [get_policy("fast", device="cpu", time_limit=1e-9)], start=1,
                 progress=False)
    rows = res.steps[res.steps.policy == "fast"]
    assert len(rows) == 3 and np.isfinite(rows["mlu"]).all() and (rows["ratio"] >= 1 - 1e-6).all()


def test_whatif_te_raises_and_reconvergence_still_answers(small, status_after):
    net, ps, tm = small
    link = net.link_names[0]
    wi = WhatIf(net, policies=("shortest", "optimal"), paths=ps)
    base = wi.evaluate([link], tm, policy="optimal")
    assert np.isfinite(base.mlu)
    status_after(STATUS.kSolveError)
    with pytest.raises(SolverError) as err:
        wi.evaluate([link], tm, policy="optimal")
    one_line(err.value)
    ev = wi.evaluate([link], tm, policy="shortest")      # no solver involved
    assert np.isfinite(ev.mlu)


def test_whatif_time_limit(big):
    net, ps, tm = big
    wi = WhatIf(net, policies=("optimal",), paths=ps, time_limit=1e-9)
    with pytest.raises(SolverError, match="time limit of 1e-09 s"):
        wi.evaluate(None, tm, policy="optimal")


# ============================================================================== (f) fast and NaN
@pytest.fixture
def torch_nan(monkeypatch):
    """``torch_nan(n)``: torch.softmax (the split ratios of every iterate) turns NaN after n calls."""
    torch = pytest.importorskip("torch")

    def install(n: int = 0):
        real = torch.softmax
        calls = {"n": 0}

        def fake(*a, **k):
            out = real(*a, **k)
            calls["n"] += 1
            return out * float("nan") if calls["n"] > n else out

        monkeypatch.setattr(torch, "softmax", fake)
        return calls

    return install


def test_fast_with_nan_from_the_start_is_a_solver_error(small, torch_nan, monkeypatch):
    """NaN in every iterate and in the start's own utilisations (the first iterate is the cold start
    itself, priced by one links <- paths product): no finite routing, a SolverError."""
    from surgeguard.optimise.first_order import FastOperator

    net, ps, tm = small
    torch_nan(0)
    real = FastOperator.loads
    monkeypatch.setattr(FastOperator, "loads", lambda self, f: real(self, f) * float("nan"))
    with pytest.raises(SolverError) as err:
        get_policy("fast", device="cpu", threads=1).route(net, ps, tm)
    assert "non-finite" in one_line(err.value)


def test_fast_with_nan_later_returns_the_best_routing_before_it(big, torch_nan):
    net, ps, tm = big
    torch_nan(5)
    r = get_policy("fast", device="cpu", tol=0.0, max_iter=200, threads=1).route(net, ps, tm)
    assert r.info["status"] == "numerical trouble"
    assert_valid_routing(r, net, tm)


def test_every_error_here_is_a_surgeguard_error():
    for cls in (SolverError, InfeasibleError):
        assert issubclass(cls, SurgeguardError)


def test_models_with_other_thread_counts_than_the_running_scheduler_still_solve():
    """HiGHS has one thread scheduler per process: a model asking for another ``threads`` count
    than the one it was started with stopped with status "Not Set" until highs.run restarted it."""
    from surgeguard.optimise.mlu import MluLP
    net = ring(6)
    ps = k_shortest_paths(net, k=3)
    tm = gravity_matrix(net, 30e9)
    ref = MluLP(net, ps, solver="ipm").solve(tm)[1]["mlu"]
    one, two = MluLP(net, ps, solver="ipm", threads=1), MluLP(net, ps, solver="ipm", threads=2)
    for lp in (one, two, one):
        assert lp.solve(tm)[1]["mlu"] == pytest.approx(ref, rel=1e-6)
    assert get_policy("optimal", threads=1).route(net, ps, tm).info["mlu"] == pytest.approx(ref, rel=1e-6)
