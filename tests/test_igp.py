"""The IGP routing matrix (surgeguard.igp) against the path-based ECMP splits of routing/shortest.py."""

import numpy as np
import pytest

from surgeguard.examples import morocco, ring, triangle
from surgeguard.exceptions import InputError
from surgeguard.igp import all_od_pairs, ecmp_routing_matrix
from surgeguard.network import Network
from surgeguard.paths import all_simple_paths
from surgeguard.routing.shortest import ecmp_splits


def _path_loads(net, tm):
    ps = all_simple_paths(net)
    s = ecmp_splits(net, ps)
    d = ps.demand(tm)
    return ps.incidence @ (s * d[ps.path_od])


def _random_tm(n, seed=0):
    tm = np.random.default_rng(seed).lognormal(size=(n, n)) * 1e9
    np.fill_diagonal(tm, 0.0)
    return tm


def _uneven(parallel: bool = True):
    """Unequal metrics, an ECMP tie over different hop counts, and (optionally) two parallel links a->b."""
    nodes = [{"name": x} for x in "abcde"]
    links = [
        {"src": "a", "dst": "b", "capacity": 1e9, "metric": 2},
        {"src": "b", "dst": "c", "capacity": 1e9, "metric": 1},
        {"src": "a", "dst": "d", "capacity": 1e9, "metric": 1},
        {"src": "d", "dst": "e", "capacity": 1e9, "metric": 1},
        {"src": "e", "dst": "c", "capacity": 1e9, "metric": 1},
        {"src": "c", "dst": "a", "capacity": 1e9, "metric": 5},
        {"src": "b", "dst": "a", "capacity": 1e9, "metric": 1},
        {"src": "c", "dst": "e", "capacity": 1e9, "metric": 1},
        {"src": "e", "dst": "d", "capacity": 1e9, "metric": 1},
        {"src": "d", "dst": "a", "capacity": 1e9, "metric": 1},
        {"src": "c", "dst": "b", "capacity": 1e9, "metric": 1},
    ]
    if parallel:
        links.insert(0, {"src": "a", "dst": "b", "capacity": 1e9, "metric": 2})
    return Network.from_records(nodes, links, name="uneven")


# all_simple_paths keeps one of parallel links, so the path-based check uses none
@pytest.mark.parametrize("make", [triangle, lambda: ring(5), lambda: _uneven(parallel=False), morocco])
def test_equals_path_based_ecmp(make):
    net = make()
    rm = ecmp_routing_matrix(net)
    tm = _random_tm(net.n_nodes)
    np.testing.assert_allclose(rm.loads(tm), _path_loads(net, tm), rtol=1e-12, atol=1e-3)


def test_parallel_links_and_unequal_hops_split_per_router():
    net = _uneven()
    rm = ecmp_routing_matrix(net)
    tm = np.zeros((5, 5))
    i = net.node_index
    tm[i["a"], i["c"]] = 12.0  # a->b->c costs 3 over two parallel links; a->d->e->c costs 3: a splits 3 ways
    y = dict(zip(net.link_names, rm.loads(tm)))
    assert y["a->b#0"] == pytest.approx(4.0) and y["a->b#1"] == pytest.approx(4.0)
    assert y["b->c"] == pytest.approx(8.0) and y["e->c"] == pytest.approx(4.0)


def test_columns_are_fractions_and_od_order():
    net = morocco()
    rm = ecmp_routing_matrix(net)
    s, d = all_od_pairs(net.n_nodes)
    assert (rm.od_src == s).all() and (rm.od_dst == d).all() and rm.reachable.all()
    # every unit of traffic leaves its source over the source's out-links exactly once
    out_of = np.zeros((net.n_links, net.n_nodes))
    out_of[np.arange(net.n_links), net.src] = 1.0
    np.testing.assert_allclose((out_of.T @ rm.A.toarray())[rm.od_src, np.arange(rm.n_od)], 1.0)
    tm = _random_tm(net.n_nodes, 3)
    np.testing.assert_allclose(rm.to_matrix(rm.od_vector(tm)), tm)
    series = np.stack([tm, 2 * tm])
    np.testing.assert_allclose(rm.loads(series)[1], 2 * rm.loads(tm))


def test_unreachable_pairs_have_empty_columns():
    nodes = [{"name": x} for x in "abc"]
    links = [{"src": "a", "dst": "b", "capacity": 1e9}, {"src": "b", "dst": "a", "capacity": 1e9},
             {"src": "b", "dst": "c", "capacity": 1e9}]
    rm = ecmp_routing_matrix(Network.from_records(nodes, links, name="oneway"))
    counts = np.diff(rm.A.tocsc().indptr)
    assert ((counts == 0) == ~rm.reachable).all() and (~rm.reachable).sum() == 2  # c->a, c->b


def test_bad_shape_is_one_line():
    rm = ecmp_routing_matrix(triangle())
    with pytest.raises(InputError, match=r"does not match the network's 3 nodes"):
        rm.loads(np.zeros((4, 4)))
