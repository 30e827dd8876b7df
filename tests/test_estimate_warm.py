"""Warm-started conjugate gradients (``predict(..., warm=...)``): each interval starts from the
multipliers where the previous one ended. The answers are the cold ones to within the solver's
tolerance, in fewer iterations (counted, not timed); a start that does not fit is not used."""

from __future__ import annotations

import numpy as np
import pytest

from surgeguard.estimate import get_estimator
from surgeguard.estimate.system import System, WarmStart
from surgeguard.examples import morocco, ring
from surgeguard.exceptions import ValidationError
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.scenario import gravity_series


@pytest.fixture(scope="module")
def case():
    net = morocco()
    rm = ecmp_routing_matrix(net)
    tm = gravity_series(net, "2020-03-16", periods=6, freq="5min", total_bps=1e11, random_state=0).total
    return rm, tm


def _args(rm, tm):
    return rm, rm.loads(tm), tm.sum(2), tm.sum(1)


def _cg(**kw):
    return get_estimator("tomogravity", solver="cg", max_iter=2000, **kw)


@pytest.mark.parametrize("tol", [1e-4, 1e-9])
def test_warm_start_gives_the_cold_answer_in_fewer_iterations(case, tol):
    rm, tm = case
    cold, warm = _cg(tol=tol), _cg(tol=tol)
    xc = cold.predict(*_args(rm, tm))
    xw = warm.predict(*_args(rm, tm), warm=True)
    it_c = np.array([i["iterations"] for i in cold.info_])
    it_w = np.array([i["iterations"] for i in warm.info_])
    assert [i["start"] for i in cold.info_] == ["cold"] * len(tm)
    assert [i["start"] for i in warm.info_] == ["cold"] + ["warm"] * (len(tm) - 1)
    assert it_w[0] == it_c[0] and (it_w[1:] <= it_c[1:]).all() and it_w[1:].sum() < 0.95 * it_c[1:].sum()
    # both reach the tolerance on the measurements, and agree with each other to about it
    assert all(i["residual"] <= tol for i in cold.info_ + warm.info_)
    diff = np.linalg.norm((xw - xc).reshape(len(tm), -1), axis=1) / np.linalg.norm(xc.reshape(len(tm), -1), axis=1)
    assert diff.max() < 20 * tol
    if tol < 1e-6:  # tight: the same matrices
        assert np.allclose(xw, xc, rtol=1e-6, atol=1e-7 * tm.max())


def test_the_state_of_one_call_starts_the_next(case):
    """The controller's way: one interval per call, ``warm_`` handed back."""
    rm, tm = case
    est = _cg(tol=1e-9)
    est.predict(*_args(rm, tm[:1]))
    state = est.warm_
    assert isinstance(state, WarmStart) and state.multipliers.shape == (rm.n_links + 2 * rm.n_nodes,)
    cold = _cg(tol=1e-9)
    xc = cold.predict(*_args(rm, tm[1:2]))
    xw = est.predict(*_args(rm, tm[1:2]), warm=state)
    assert est.info_[0]["start"] == "warm" and est.info_[0]["iterations"] < cold.info_[0]["iterations"]
    assert np.allclose(xw, xc, rtol=1e-6, atol=1e-7 * tm.max())
    assert est.warm_ is not state  # the state moved on to this interval


def test_starts_that_do_not_fit_are_not_used(case):
    rm, tm = case
    cold = _cg(tol=1e-9)
    xc = cold.predict(*_args(rm, tm[:1]))
    # far off: worse than starting from 0, so dropped; the answer and iterations are the cold ones
    est = _cg(tol=1e-9)
    bad = WarmStart(np.full(rm.n_links + 2 * rm.n_nodes, 1e3), rm.n_links, rm.n_nodes)
    x = est.predict(*_args(rm, tm[:1]), warm=bad)
    assert est.info_[0]["start"] == "cold (warm start rejected)"
    assert est.info_[0]["iterations"] == cold.info_[0]["iterations"] and np.array_equal(x, xc)
    # another network's state (another size) is ignored
    other = ecmp_routing_matrix(ring(5))
    small = get_estimator("tomogravity", solver="cg")
    tm5 = np.full((1, 5, 5), 1e9)
    small.predict(other, other.loads(tm5), tm5.sum(2), tm5.sum(1))
    x = est.predict(*_args(rm, tm[:1]), warm=small.warm_)
    assert est.info_[0]["start"] == "cold" and np.array_equal(x, xc)


def test_warm_is_checked_and_the_dense_path_ignores_it(case):
    rm, tm = case
    with pytest.raises(ValidationError, match="warm must be"):
        _cg().predict(*_args(rm, tm[:1]), warm="yes")
    dense = get_estimator("tomogravity", solver="dense")
    a = dense.predict(*_args(rm, tm[:2]))
    b = dense.predict(*_args(rm, tm[:2]), warm=True)
    assert np.array_equal(a, b) and {i["start"] for i in dense.info_} == {"none"}
    grav = get_estimator("gravity")
    grav.predict(*_args(rm, tm[:1]), warm=True)
    assert grav.warm_ is None


@pytest.mark.parametrize("self_traffic", [True, False])
def test_the_operator_products_equal_the_sparse_matrix(self_traffic):
    """``measure`` and ``adjoint`` (row and column sums over an N x N layout when every pair is
    a variable) against the explicit sparse ``B = [A; R; C]``, with and without unmeasured links."""
    rm = ecmp_routing_matrix(morocco())
    system = System(rm, self_traffic=self_traffic)
    rng = np.random.default_rng(2)
    x = rng.random(system.n_vars)
    for links in (np.arange(rm.n_links), np.sort(rng.choice(rm.n_links, rm.n_links // 2, replace=False))):
        B = system.sparse_matrix(links)
        v = rng.random(B.shape[0])
        assert np.allclose(system.measure(x, links), B @ x, rtol=1e-12, atol=1e-12)
        assert np.allclose(system.adjoint(v, links), B.T @ v, rtol=1e-12, atol=1e-12)
        assert np.allclose(system.row_sums(x), np.bincount(system.src, x, rm.n_nodes), rtol=1e-12)
        assert np.allclose(system.col_sums(x), np.bincount(system.dst, x, rm.n_nodes), rtol=1e-12)
