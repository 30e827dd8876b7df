"""One conformance test over every registered policy (networkx's validate_flows idea).

For each name that the registry returns: the splits are a distribution per OD pair (>= 0, sum to
1), ``info["mlu"]`` equals the MLU of ``R @ f`` on the matrix routed, a warm start from a previous
routing is accepted, ``decide`` on a history gives a valid routing, and the parameters round-trip
through ``get_params``/``clone``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries
from surgeguard.examples import ring
from surgeguard.exceptions import ValidationError
from surgeguard.paths import k_shortest_paths
from surgeguard.routing import Routing, get_policy, policy_names
from surgeguard.routing.policies import POLICIES

#: policies that need something the registry cannot build alone, and how the test builds it
NEEDS = {"learned": "a trained model (built below on the same network)"}


@pytest.fixture(scope="module")
def case():
    net = ring(5, capacity=10e9)
    ps = k_shortest_paths(net, k=3)
    rng = np.random.default_rng(7)
    T = 130
    base = rng.uniform(0.2e9, 1.5e9, size=(5, 5))
    np.fill_diagonal(base, 0.0)
    wave = 1 + 0.3 * np.sin(np.arange(T) * 2 * np.pi / 12)[:, None, None]
    vals = base[None] * wave * rng.lognormal(0, 0.05, size=(T, 5, 5))
    ts = TrafficSeries(vals, net.node_names, pd.date_range("2020-03-20", periods=T, freq="15min", tz="UTC"))
    return net, ps, ts


@pytest.fixture(scope="module")
def learned_model(case):
    pytest.importorskip("torch")
    from surgeguard.routing.learned import LearnedRouter

    net, ps, ts = case
    m = LearnedRouter(history=2, hidden=(16,), epochs=5, batch_size=8, prior=None, random_state=0)
    return m.fit(net, ps, ts, val_start=100, val_stop=130, progress=False)


def _policy(name, learned_model_factory):
    if name == "learned":
        return get_policy(name, model=learned_model_factory())
    return get_policy(name)


def test_registry_lists_the_known_policies():
    names = policy_names()
    for n in ("shortest", "optimal", "fast", "robust", "learned", "priority", "switching", "optimal-last"):
        assert n in names


def test_unknown_policy_and_parameter_are_one_line_errors():
    with pytest.raises(ValidationError, match="unknown policy 'optimall'; choose one of"):
        get_policy("optimall")
    with pytest.raises(ValidationError, match="has no parameter"):
        get_policy("optimal", nonsense=1)


@pytest.mark.parametrize("name", policy_names())
def test_policy_conformance(name, case, request):
    net, ps, ts = case
    pol = _policy(name, lambda: request.getfixturevalue("learned_model"))
    tm = ts.matrix(len(ts) - 1)
    hist = ts.window(0, len(ts) - 1)
    r = pol.decide(net, ps, hist) if name in ("learned", "switching", "robust", "optimal-forecast") \
        else pol.route(net, ps, tm)
    _check_routing(net, ps, r, tm if name not in ("learned", "switching", "robust", "optimal-forecast") else None)
    # route on a known matrix: info["mlu"] is the MLU of R @ f on it
    r1 = pol.route(net, ps, tm)
    _check_routing(net, ps, r1, tm)
    # warm start accepted, and the result is again valid
    r2 = pol.route(net, ps, tm * 1.1, warm=r1)
    _check_routing(net, ps, r2, tm * 1.1)
    # parameters round-trip
    params = pol.get_params()
    assert type(pol)(**params).get_params().keys() == params.keys()


def _check_routing(net, ps, r: Routing, tm):
    assert isinstance(r, Routing)
    s = np.asarray(r.splits)
    assert s.shape == (ps.n_paths,)
    assert np.all(s >= -1e-12), "splits must be non-negative"
    np.testing.assert_allclose(ps.od_sum(s), 1.0, atol=1e-6)
    if tm is not None:
        flows = r.path_flows(tm)
        mlu = float(np.max((ps.incidence @ flows) / net.capacity))
        assert "mlu" in r.info, f"{r.policy} does not report info['mlu']"
        assert r.info["mlu"] == pytest.approx(mlu, rel=1e-6, abs=1e-9)


def test_registry_is_the_one_shape():
    assert POLICIES.kind == "policy"
    assert sorted(POLICIES.names()) == policy_names()
