"""Network, TrafficSeries, paths, routing, evaluation: the shared core."""

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest

from surgeguard import Network, TrafficSeries, ValidationError
from surgeguard.evaluate import evaluate
from surgeguard.examples import ring, triangle, two_paths
from surgeguard.routing import (Routing, all_simple_paths, get_policy,
                                k_shortest_paths, paths_from_node_lists, solve)
from surgeguard.exceptions import NoPathError


@pytest.mark.parametrize("mod", ["surgeguard.network", "surgeguard.traffic", "surgeguard.units",
                                 "surgeguard.routing.policies", "surgeguard.paths", "surgeguard.failures",
                                 "surgeguard.evaluate.metrics", "surgeguard.plan.sizing", "surgeguard.optimise.mlu",
                                 "surgeguard.optimise.highs", "surgeguard.validation"])
def test_core_modules_carry_examples(mod):
    """The core modules document themselves with examples (run by --doctest-modules)."""
    tests = doctest.DocTestFinder().find(importlib.import_module(mod))
    assert sum(len(t.examples) for t in tests) > 0


def test_network_latency_and_names():
    net = Network.from_records(
        nodes=[{"name": "Casablanca", "lon": -7.59, "lat": 33.57}, {"name": "Rabat", "lon": -6.84, "lat": 34.02}],
        links=[{"src": "Casablanca", "dst": "Rabat", "capacity": 100e9}], bidirectional=True)
    assert net.link_names == ("Casablanca->Rabat", "Rabat->Casablanca")
    assert 80 < net.links["length_km"].iloc[0] < 90
    assert net.latency_ms[0] == pytest.approx(net.links["length_km"].iloc[0] / 200.0)


@pytest.mark.parametrize("cap", [0.0, -1e9, float("nan")])
def test_network_rejects_bad_capacity(cap):
    with pytest.raises(ValidationError, match="capacity"):
        Network.from_records(nodes=[{"name": "A"}, {"name": "B"}], links=[{"src": "A", "dst": "B", "capacity": cap}])


def test_network_rejects_unknown_endpoint():
    with pytest.raises(ValidationError, match="unknown nodes"):
        Network.from_records(nodes=[{"name": "A"}, {"name": "B"}], links=[{"src": "A", "dst": "Z", "capacity": 1e9}])


def test_without_links_is_a_copy():
    net = triangle()
    cut = net.without_links(["A->B"])
    assert cut.n_links == net.n_links - 1 and net.n_links == 6


@pytest.mark.parametrize("bad,match", [(-1.0, "negative"), (np.nan, "NaN")])
def test_traffic_rejects_bad_demand(bad, match):
    v = np.ones((2, 3, 3))
    v[1, 0, 2] = bad
    with pytest.raises(ValidationError, match=match):
        TrafficSeries(v, nodes=["A", "B", "C"])


def test_traffic_frame_roundtrip_with_classes():
    rng = np.random.default_rng(0)
    v = rng.random((3, 2, 3, 3))
    ts = TrafficSeries(v, ["A", "B", "C"], pd.date_range("2020-03-20", periods=3, freq="15min", tz="UTC"),
                       classes=["critical", "bulk"])
    back = TrafficSeries.from_frame(ts.to_frame(), nodes=["A", "B", "C"])
    assert back.classes == ("bulk", "critical")
    np.testing.assert_allclose(back.values[:, 1], v[:, 0])
    np.testing.assert_allclose(ts.total, v.sum(axis=1))
    assert str(ts.times.tz) == "UTC"


def test_traffic_reorder_and_unknown_node():
    ts = TrafficSeries(np.array([[[0, 5.0], [1.0, 0]]]), ["B", "A"])
    r = ts.reorder(["A", "B", "C"])
    assert r.matrix(0)[1, 0] == 5.0 and r.matrix(0)[0, 1] == 1.0 and r.n_nodes == 3
    with pytest.raises(ValidationError, match="not in the network"):
        ts.reorder(["A", "C"])


def _check_pathset(net, ps):
    R = ps.incidence
    assert R.shape == (net.n_links, ps.n_paths)
    np.testing.assert_allclose(R.T @ net.metric, ps.cost)
    for p in range(ps.n_paths):
        nodes = ps.path_nodes(p)
        k = ps.path_od[p]
        assert nodes[0] == net.node_names[ps.od_src[k]] and nodes[-1] == net.node_names[ps.od_dst[k]]
        assert len(set(nodes)) == len(nodes)
    # sorted by cost within OD
    for k in range(ps.n_od):
        c = ps.cost[ps.od_ptr[k]:ps.od_ptr[k + 1]]
        assert (np.diff(c) >= -1e-9).all()


@pytest.mark.parametrize("method", ["yen", "deviation"])
def test_k_shortest_paths_invariants(method):
    net = ring(6)
    ps = k_shortest_paths(net, k=3, method=method)
    _check_pathset(net, ps)
    assert ps.n_od == 30
    # on a ring each pair has exactly 2 simple paths; Yen finds both
    assert (ps.paths_per_od <= 2).all()
    if method == "yen":
        assert (ps.paths_per_od == 2).all()


def test_yen_matches_networkx_costs():
    net = two_paths()
    ps = k_shortest_paths(net, k=4, method="yen")
    k = ps.od_lookup[0, 3]
    assert ps.cost[ps.od_ptr[k]:ps.od_ptr[k + 1]].tolist() == [2.0, 4.0]


def test_disjoint_paths_share_no_link():
    net = ring(5)
    ps = k_shortest_paths(net, k=2, disjoint=True)
    for k in range(ps.n_od):
        sets = [set(ps.link_idx[ps.link_ptr[p]:ps.link_ptr[p + 1]]) for p in range(ps.od_ptr[k], ps.od_ptr[k + 1])]
        assert not (sets[0] & sets[1])


def test_incidence_builds_fast_enough_shape_for_400_nodes():
    """400-node all-pairs path building runs (timing is in benchmarks/, not here)."""
    from surgeguard.io import read_topohub

    net = read_topohub("caida/2024-08/3356")
    ps = k_shortest_paths(net, k=4, method="deviation")
    assert ps.n_od == net.n_nodes * (net.n_nodes - 1)
    assert ps.incidence.nnz == len(ps.link_idx)


def test_routing_rejects_bad_splits():
    ps = k_shortest_paths(two_paths(), k=2)
    with pytest.raises(ValidationError, match="sum to"):
        Routing(ps, np.zeros(ps.n_paths))


def test_evaluate_loads_lost_and_stretch():
    net = two_paths()
    ps = k_shortest_paths(net, k=2)
    tm = np.zeros((4, 4)); tm[0, 3] = 15e9
    r = Routing.uniform(ps)
    ev = evaluate(net, r, tm)
    np.testing.assert_allclose(ev.link_load, ps.incidence @ r.path_flows(tm))
    assert ev.mlu == pytest.approx(0.75) and ev.lost_bps == 0.0
    ev1 = evaluate(net, Routing.first_path(ps), tm)
    assert ev1.lost_bps == pytest.approx(5e9) and set(ev1.congested) == {"S->A", "A->T"}
    assert ev.latency_stretch >= 1.0


def test_no_path_is_an_error():
    net = Network.from_records(nodes=[{"name": n} for n in "ABC"],
                               links=[{"src": "A", "dst": "B", "capacity": 1e9}], bidirectional=True)
    ps = k_shortest_paths(net, k=2)
    tm = np.zeros((3, 3)); tm[0, 2] = 1e6
    with pytest.raises(NoPathError, match="A->C"):
        solve(net, ps, tm, "optimal")


def test_demand_reads_the_od_entries_and_names_every_uncovered_pair():
    from surgeguard.io import read_topohub

    net = read_topohub("sndlib/abilene")
    src, dst = [0, 0, 3, 5], [1, 4, 2, 11]                    # a subset of the pairs
    ps = k_shortest_paths(net, k=2, pairs=(src, dst))
    tm = np.random.default_rng(3).random((12, 12)) * 1e9
    np.fill_diagonal(tm, 0.0)
    assert len(ps.uncovered_pairs) == 12 * 11 - 4
    only = np.zeros_like(tm)
    only[ps.od_src, ps.od_dst] = tm[ps.od_src, ps.od_dst]
    np.testing.assert_array_equal(ps.demand(only), tm[ps.od_src, ps.od_dst])
    with pytest.raises(NoPathError, match=r"\(128 in all\)"):
        ps.demand(tm)
    one = only.copy()
    one[7, 6] = 1.0                                            # one uncovered pair, named
    with pytest.raises(NoPathError, match=f"{net.node_names[7]}->{net.node_names[6]}'\\] \\(1 in all\\)"):
        ps.demand(one)


def test_shortest_is_hop_by_hop_ecmp():
    # diamond S->{A,B}->T plus S->C->T... with equal metrics: ECMP splits at each hop
    nodes = [{"name": n} for n in ["S", "A", "B", "T"]]
    links = [{"src": a, "dst": b, "capacity": 10e9} for a, b in [("S", "A"), ("S", "B"), ("A", "T"), ("B", "T"), ("A", "B")]]
    net = Network.from_records(nodes, links, bidirectional=True)
    ps = k_shortest_paths(net, k=4)
    r = get_policy("shortest").route(net, ps, None)
    tm = np.zeros((4, 4)); tm[0, 3] = 8e9
    load = dict(zip(net.link_names, r.link_loads(tm)))
    assert load["S->A"] == pytest.approx(4e9) and load["S->B"] == pytest.approx(4e9)
    assert load["A->B"] == pytest.approx(0.0)


def test_optimal_matches_edge_mcf_with_all_simple_paths():
    from surgeguard.optimise.mcf import edge_mcf_mlu

    rng = np.random.default_rng(7)
    for net in (triangle(), ring(5), two_paths()):
        n = net.n_nodes
        caps = rng.uniform(1e9, 10e9, net.n_links)
        net = net.with_capacity(caps)
        tm = rng.uniform(0, 3e9, (n, n)); np.fill_diagonal(tm, 0)
        ps = all_simple_paths(net)
        r = solve(net, ps, tm, "optimal")
        ref = edge_mcf_mlu(net, tm)
        assert r.info["mlu"] == pytest.approx(ref, rel=1e-6)
        assert evaluate(net, r, tm).mlu == pytest.approx(ref, rel=1e-6)


def test_optimal_beats_or_equals_shortest():
    net = ring(6)
    ps = k_shortest_paths(net, k=2)
    rng = np.random.default_rng(1)
    tm = rng.uniform(0, 2e9, (6, 6)); np.fill_diagonal(tm, 0)
    mo = evaluate(net, solve(net, ps, tm, "optimal"), tm).mlu
    ms = evaluate(net, solve(net, ps, tm, "shortest"), tm).mlu
    assert mo <= ms + 1e-9


def test_paths_from_node_lists_rejects_non_links():
    net = ring(4)
    with pytest.raises(ValidationError, match="not a link"):
        paths_from_node_lists(net, [("R0", "R2", [["R0", "R2"]])])


def test_size_capacities_meets_target():
    from surgeguard.plan import size_capacities
    from surgeguard.routing import ShortestPath

    net = ring(6)
    rng = np.random.default_rng(3)
    tm = rng.uniform(0, 30e9, (6, 6)); np.fill_diagonal(tm, 0)
    sized = size_capacities(net, tm, target_util=0.6)
    ps = k_shortest_paths(sized, k=4)
    ev = evaluate(sized, ShortestPath().route(sized, ps, tm), tm)
    assert ev.mlu <= 0.6 + 1e-9
    assert set(np.unique(sized.capacity)) <= {1e9, 10e9, 40e9, 100e9, 400e9} | {c for c in sized.capacity if c % 400e9 == 0}


# ---------------------------------------------------------------------- declared ranges (issue 10)
_AB = [{"name": "A"}, {"name": "B"}]


@pytest.mark.parametrize("field,value,match", [
    ("capacity", "10 Gbps", r"link 'A->B' has capacity '10 Gbps', which is not a number"),
    ("capacity", float("inf"), r"capacity inf bit/s.*\(0, 1e\+15\]"),
    ("capacity", 2e15, r"capacity 2000000000000000.0 bit/s"),
    ("capacity", True, "not a number"),
    ("metric", "abc", "metric 'abc', which is not a number"),
    ("metric", 0.0, r"metric 0.0; metric must be a float in \(0, 1e\+12\]"),
    ("metric", float("inf"), "metric inf"),
    ("length_km", -1.0, r"length_km -1.0 km; length_km must be a float in \[0, 100000\] km"),
    ("latency_ms", float("inf"), "latency_ms inf ms"),
])
def test_network_checks_declared_link_ranges(field, value, match):
    link = {"src": "A", "dst": "B", "capacity": 1e9, field: value}
    with pytest.raises(ValidationError, match=match):
        Network.from_records(nodes=_AB, links=[link])


def test_network_checks_nodes_links_and_defaults():
    with pytest.raises(ValidationError, match="node 'B' has lon 'east', which is not a number"):
        Network.from_records([{"name": "A"}, {"name": "B", "lon": "east", "lat": 0}],
                             [{"src": "A", "dst": "B", "capacity": 1e9}])
    with pytest.raises(ValidationError, match=r"duplicate node names \['A'\]"):
        Network.from_records([{"name": "A"}, {"name": "A"}], [{"src": "A", "dst": "A", "capacity": 1e9}])
    with pytest.raises(ValidationError, match="has 2 nodes but no links"):
        Network.from_records(_AB, [])
    with pytest.raises(ValidationError, match="'default_capacity' parameter"):
        Network.from_records(_AB, [{"src": "A", "dst": "B"}], default_capacity=-1.0)
    net = Network.from_records(_AB, [{"src": "A", "dst": "B"}], default_capacity=5e9)
    assert net.capacity.tolist() == [5e9] and net.metric.tolist() == [1.0]  # missing metric: 1
    with pytest.raises(ValidationError, match="missing capacity"):
        net.with_capacity([float("nan")])
    with pytest.raises(ValidationError, match="must be numbers"):
        net.with_capacity(["x"])
    # a what-if may fail every link: the constructor allows it, from_records does not
    assert net.without_links(["A->B"]).n_links == 0


@pytest.mark.parametrize("bad,match", [(np.inf, "infinite demand inf"), (1e308, r"too large demand 1e\+308"),
                                       (-1.0, "negative demand -1.0")])
def test_traffic_checks_declared_demand_range(bad, match):
    from surgeguard.units import MAX_RATE_BPS

    v = np.zeros((2, 2, 2))
    v[1, 0, 1] = bad
    with pytest.raises(ValidationError, match=match + r".*step 1 for A->B.*\[0, 1e\+15\]"):
        TrafficSeries(v, nodes=["A", "B"])
    v[1, 0, 1] = MAX_RATE_BPS
    assert np.isfinite(TrafficSeries(v, nodes=["A", "B"]).values.sum())
    with pytest.raises(ValidationError, match="infinite demand"):
        TrafficSeries(v, nodes=["A", "B"]).scale(1e300)


def test_traffic_checks_names_times_and_values():
    v = np.zeros((2, 2, 2))
    with pytest.raises(ValidationError, match=r"duplicate node names \['A'\]"):
        TrafficSeries(v, nodes=["A", "A"])
    with pytest.raises(ValidationError, match="times must increase"):
        TrafficSeries(v, nodes=["A", "B"], times=["2020-01-02", "2020-01-01"])
    with pytest.raises(ValidationError, match="times must increase"):
        TrafficSeries(v, nodes=["A", "B"], times=["2020-01-01", "2020-01-01"])
    with pytest.raises(ValidationError, match="missing"):
        TrafficSeries(v, nodes=["A", "B"], times=["2020-01-01", None])
    with pytest.raises(ValidationError, match="must be numbers"):
        TrafficSeries([[["a", "b"], ["c", "d"]]], nodes=["A", "B"])
    with pytest.raises(ValidationError, match="no nodes"):
        TrafficSeries(np.zeros((1, 0, 0)), nodes=[])
    with pytest.raises(ValidationError, match=r"duplicate class names \['x'\]"):
        TrafficSeries(np.zeros((1, 2, 2, 2)), nodes=["A", "B"], classes=["x", "x"])
    assert len(TrafficSeries(v, nodes=["A", "B"]).window(0, 0)) == 0  # empty windows stay possible


def test_from_frame_refuses_repeated_rows_and_empty_frames():
    df = pd.DataFrame({"ds": ["2020-01-01", "2020-01-01"], "src": ["A", "A"], "dst": ["B", "B"], "bps": [1.0, 2.0]})
    with pytest.raises(ValidationError, match=r"1 repeated \(ds, src, dst\) row\(s\), first data rows 1 and 2"):
        TrafficSeries.from_frame(df)
    with pytest.raises(ValidationError, match="has no rows"):
        TrafficSeries.from_frame(df.iloc[:0])
    df.loc[1, "dst"] = "C"
    assert TrafficSeries.from_frame(df).values.sum() == 3.0
