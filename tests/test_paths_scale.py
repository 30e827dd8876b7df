"""The scalable path builder (``k_shortest_paths(method="deviation")``) against exact Yen, and its
compressed form (the tree pieces the ``fast`` solver uses) against the path-link matrix."""

import numpy as np
import pytest
import scipy.sparse as sp

from surgeguard.io import read_topohub
from surgeguard.network import Network
from surgeguard.routing import k_shortest_paths
from surgeguard.paths import all_pairs, deviation_paths


def _distance_metric(net: Network) -> Network:
    """IGP metric = fibre length in km (rounded, >= 1): few ties, so ranks are well defined."""
    lk = net.links.copy()
    lk["metric"] = np.maximum(1.0, np.round(lk["length_km"].to_numpy(float)))
    return Network(net.nodes, lk, name=net.name, meta=dict(net.meta))


def _check_paths(net, ps):
    """Every path runs s -> t over consecutive links, is simple, has cost = sum of metrics,
    paths of one OD are sorted by cost and distinct."""
    seg = np.repeat(np.arange(ps.n_paths), ps.hops)
    li = ps.link_idx.astype(np.int64)
    starts, ends = ps.link_ptr[:-1], ps.link_ptr[1:] - 1
    assert (net.src[li[starts]] == ps.od_src[ps.path_od]).all()
    assert (net.dst[li[ends]] == ps.od_dst[ps.path_od]).all()
    inner = np.ones(len(li), bool)
    inner[ends] = False
    assert (net.dst[li[inner]] == net.src[li[np.flatnonzero(inner) + 1]]).all()
    # simple: no node entered twice, and the source never re-entered
    key = seg * net.n_nodes + net.dst[li]
    assert len(np.unique(key)) == len(key)
    assert not (net.dst[li] == ps.od_src[ps.path_od][seg]).any()
    np.testing.assert_allclose(ps.cost, np.bincount(seg, weights=net.metric[li], minlength=ps.n_paths))
    np.testing.assert_allclose(ps.latency_ms, np.bincount(seg, weights=net.latency_ms[li], minlength=ps.n_paths))
    same_od = ps.path_od[1:] == ps.path_od[:-1]
    assert (np.diff(ps.cost)[same_od] >= -1e-9).all()
    h = np.zeros(ps.n_paths, dtype=np.uint64)
    rnd = np.random.default_rng(0).integers(1, 2**63, size=net.n_links, dtype=np.uint64)
    np.add.at(h, seg, rnd[li])
    pairs = np.stack([ps.path_od.astype(np.uint64), h], axis=1)
    assert len(np.unique(pairs, axis=0)) == ps.n_paths


def _rank_agreement(ps, ref, k):
    """Per rank r, the share of OD pairs whose r-th path has the cost of Yen's r-th path."""
    look = ps.od_lookup
    hits = np.zeros(k)
    total = np.zeros(k)
    for kb in range(ref.n_od):
        ka = look[ref.od_src[kb], ref.od_dst[kb]]
        cb = ref.cost[ref.od_ptr[kb]:ref.od_ptr[kb + 1]]
        ca = ps.cost[ps.od_ptr[ka]:ps.od_ptr[ka + 1]] if ka >= 0 else np.zeros(0)
        for r in range(len(cb)):
            total[r] += 1
            hits[r] += r < len(ca) and abs(ca[r] - cb[r]) < 1e-6
    return hits / total


# thresholds measured with the defaults (fanout k + 4, 4k pops): abilene 1/1/.992/.938,
# geant 1/.998/.996/.970, germany50 1/1/.998/.989
@pytest.mark.parametrize("key", ["sndlib/abilene", "sndlib/geant", "sndlib/germany50"])
def test_deviation_matches_yen_by_rank(key):
    net = _distance_metric(read_topohub(key))
    dev = k_shortest_paths(net, k=4, method="deviation")
    _check_paths(net, dev)
    yen = k_shortest_paths(net, k=4, method="yen")
    agree = _rank_agreement(dev, yen, 4)
    assert agree[0] == 1.0
    assert agree[1] >= 0.99
    assert agree[2] >= 0.98
    assert agree[3] >= 0.93
    assert dev.n_paths >= 0.98 * yen.n_paths


def test_deviation_is_exact_with_a_large_budget():
    """With enough fanout and pops the enumeration is exact (Eppstein order over simple paths)."""
    net = _distance_metric(read_topohub("sndlib/abilene"))
    dev = k_shortest_paths(net, k=4, method="deviation")
    big = deviation_paths(net, 4, fanout=32, max_pops=40)
    yen = k_shortest_paths(net, k=4, method="yen")
    assert _rank_agreement(big, yen, 4).min() == 1.0
    assert big.n_paths >= dev.n_paths


def test_deviation_hop_metric_and_k1():
    """Hop counts (many ties): paths stay valid; k=1 gives exactly the shortest paths."""
    net = read_topohub("sndlib/germany50")
    _check_paths(net, k_shortest_paths(net, k=4, method="deviation"))
    one = k_shortest_paths(net, k=1, method="deviation")
    assert (one.paths_per_od == 1).all()
    yen = k_shortest_paths(net, k=1, method="yen")
    np.testing.assert_allclose(one.cost, yen.cost[yen.od_lookup[one.od_src, one.od_dst]])


def test_pair_order_kept_and_unreachable_dropped():
    net = read_topohub("sndlib/geant")
    # an island: two extra nodes linked only to each other
    nodes = [{"name": n} for n in net.node_names] + [{"name": "X"}, {"name": "Y"}]
    links = net.links.reset_index()[["src", "dst", "capacity", "metric"]].to_dict("records")
    links += [{"src": "X", "dst": "Y", "capacity": 1e9}, {"src": "Y", "dst": "X", "capacity": 1e9}]
    net2 = Network.from_records(nodes, links, name="geant+island")
    rng = np.random.default_rng(3)
    s, t = all_pairs(net2)
    order = rng.permutation(len(s))[:300]
    s, t = s[order], t[order]
    ps = k_shortest_paths(net2, k=3, pairs=(s, t), method="deviation")
    reach = ~((s >= net.n_nodes) ^ (t >= net.n_nodes))
    np.testing.assert_array_equal(ps.od_src, s[reach])
    np.testing.assert_array_equal(ps.od_dst, t[reach])
    _check_paths(net2, ps)
    _check_compressed(ps)


def _check_compressed(ps):
    """The tree-piece form gives the same loads and prices as the path-link matrix."""
    tr = ps.meta["_trees"]
    assert tr["_link_ptr"] is ps.link_ptr
    n = tr["n_nodes"]
    rows = len(tr["sources"])
    C, L = rows * n, ps.n_links
    Q = sp.csr_matrix((tr["q_sgn"].astype(float), tr["q_idx"], tr["q_ptr"]), shape=(ps.n_paths, C + L))
    tin = tr["tin"].astype(np.int64)
    size = tr["size"].astype(np.int64)
    tl = tr["tree_link"]
    row = np.arange(C) // n
    pos = row * (n + 1) + tin
    rng = np.random.default_rng(0)
    y = rng.random(L)
    v = np.where(tl >= 0, y[np.maximum(tl, 0)], 0.0)
    E = np.zeros(rows * (n + 1))
    E[pos] += v
    np.add.at(E, row * (n + 1) + tin + size, -v)
    Y = np.cumsum(E.reshape(rows, n + 1), axis=1).ravel()[pos]
    np.testing.assert_allclose(Q @ np.concatenate([Y, y]), ps.incidence.T @ y, rtol=1e-9, atol=1e-9)
    f = rng.random(ps.n_paths)
    z = Q.T @ f
    Pp = np.zeros(rows * (n + 1))
    Pp[pos] = z[:C]
    cum = np.concatenate([np.zeros((rows, 1)), np.cumsum(Pp.reshape(rows, n + 1), axis=1)], axis=1).ravel()
    S = cum[row * (n + 2) + tin + size] - cum[row * (n + 2) + tin]
    load = z[C:] + np.bincount(tl[tl >= 0], weights=S[tl >= 0], minlength=L)
    np.testing.assert_allclose(load, ps.incidence @ f, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("key", ["sndlib/germany50", "caida/2024-08/701"])
def test_compressed_form_matches_incidence(key):
    net = read_topohub(key)
    ps = k_shortest_paths(net, k=4, method="deviation")
    _check_compressed(ps)
    # far fewer entries than the path-link matrix on multi-hop paths
    assert len(ps.meta["_trees"]["q_idx"]) <= len(ps.link_idx)


def test_subset_drops_the_compressed_form_link():
    """A derived path set (here a subset) must not be mistaken for the original's tree form."""
    net = read_topohub("sndlib/abilene")
    ps = k_shortest_paths(net, k=3, method="deviation")
    sub = ps.subset_ods(np.arange(ps.n_od) % 2 == 0)
    assert sub.meta["_trees"]["_link_ptr"] is not sub.link_ptr
