"""Failure what-ifs: failure sets, IGP reconvergence against an independent networkx computation,
re-optimised TE against the edge-based MCF optimum, partitions, classes, the CLI and the report."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from typer.testing import CliRunner

from surgeguard.examples import morocco, ring, triangle
from surgeguard.exceptions import InputError, ValidationError
from surgeguard.failures import NO_FAILURE, Failure, circuits, failure_scenarios
from surgeguard.network import Network
from surgeguard.optimise.mcf import edge_mcf_mlu
from surgeguard.paths import all_simple_paths
from surgeguard.plan import size_capacities
from surgeguard.plan.whatif import EcmpReconvergence, WhatIf, evaluate_failure, run_whatif
from surgeguard.report.sections.whatif import failures_section
from surgeguard.scenario import gravity_matrix
from surgeguard.serve.cli import app


# ---------------------------------------------------------------------------------- helpers
def rand_net(n: int, m: int, seed: int, parallel: bool = True, metrics=(1.0, 2.0, 3.0)) -> Network:
    """A random undirected graph as a bidirectional network; small integer metrics give ECMP ties."""
    rng = np.random.default_rng(seed)
    g = nx.gnm_random_graph(n, m, seed=seed)
    links = [{"src": f"n{u}", "dst": f"n{v}", "capacity": float(rng.choice([10e9, 40e9])),
              "metric": float(rng.choice(metrics))} for u, v in g.edges]
    if parallel:  # a parallel circuit with the same metric: a second ECMP next hop to the same node
        links.append(dict(links[0], capacity=10e9))
    return Network.from_records([{"name": f"n{i}"} for i in range(n)], links, bidirectional=True, name=f"rand{seed}")


def reference_ecmp(net: Network, tm: np.ndarray, failure: Failure | None, hops: bool = False):
    """Hop-by-hop ECMP computed the slow, obvious way with networkx, sharing no code with whatif.

    For every OD pair: all shortest node paths on the surviving graph (``nx.all_shortest_paths``),
    expanded over parallel links; a path carries the demand times the product over its hops of
    1 / (number of shortest-path next-hop links at that hop). Returns link loads (link order),
    unrouted demand, and the congestion loss with the evaluate() rule (a flow loses the largest
    ``1 - capacity / load`` along its path).
    """
    failed = set(failure.links) if failure else set()
    fnodes = set(failure.nodes) if failure else set()
    G = nx.DiGraph()
    G.add_nodes_from(net.node_names)
    par: dict = {}
    for name, r in net.links.iterrows():
        if name in failed or r.src in fnodes or r.dst in fnodes:
            continue
        par.setdefault((r.src, r.dst), []).append((name, 1.0 if hops else float(r.metric)))
    for (u, v), ls in par.items():
        G.add_edge(u, v, weight=min(w for _, w in ls))
    names = list(net.node_names)
    load = dict.fromkeys(net.link_names, 0.0)
    flows, unrouted = [], 0.0
    for ti, t in enumerate(names):
        dist = {} if t in fnodes else nx.single_source_dijkstra_path_length(G.reverse(copy=False), t, weight="weight")

        def next_hops(u):
            return [(l, v) for v in G.successors(u) for l, w in par[(u, v)]
                    if v in dist and abs(w + dist[v] - dist[u]) <= 1e-9 * max(1.0, dist[u])]

        for si, s in enumerate(names):
            d = tm[si, ti]
            if s == t or d == 0:
                continue
            if s in fnodes or s not in dist:
                unrouted += d
                continue
            for p in nx.all_shortest_paths(G, s, t, weight="weight"):
                partial = [([], 1.0)]
                for u, v in zip(p[:-1], p[1:]):
                    nh = next_hops(u)
                    partial = [(ls + [l], sh / len(nh)) for ls, sh in partial for l, x in nh if x == v]
                for ls, sh in partial:
                    flows.append((d * sh, ls))
                    for l in ls:
                        load[l] += d * sh
    L = np.array([load[n] for n in net.link_names])
    cap = net.capacity
    frac = dict(zip(net.link_names, np.where(L > cap * (1 + 1e-9), 1 - cap / np.where(L > 0, L, 1), 0.0)))
    dropped = sum(f * max(frac[l] for l in ls) for f, ls in flows)
    return L, unrouted, dropped


# ---------------------------------------------------------------------------------- failure sets
def test_circuits_pair_both_directions_and_parallel_links():
    net = rand_net(6, 8, 0, parallel=True)
    cs = circuits(net)
    assert len(cs) == net.n_links // 2
    for name, idx in cs:
        assert len(idx) == 2
        a, b = idx
        assert net.src[a] == net.dst[b] and net.dst[a] == net.src[b]
    assert sum(1 for name, _ in cs if "#" in name) == 2  # the parallel pair is named A<->B#0, A<->B#1
    assert sorted(i for _, idx in cs for i in idx) == list(range(net.n_links))


def test_failure_kinds():
    net = ring(5)
    links = failure_scenarios(net, "single-link")
    assert [f.name for f in links][:2] == ["R0<->R1", "R1<->R2"]
    assert all(len(f.links) == 2 and f.kind == "link" for f in links)
    nodes = failure_scenarios(net, "single-node")
    assert len(nodes) == 5 and nodes[0].nodes == ("R0",) and len(nodes[0].links) == 4
    lk = net.links.copy()
    lk["srlg"] = ""
    lk.loc[["R0->R1", "R1->R0"], "srlg"] = "duct1"
    lk.loc[["R2->R3", "R3->R2"], "srlg"] = "duct1,duct2"
    tagged = Network(net.nodes, lk, name="ring5-srlg")
    srlg = failure_scenarios(tagged, "srlg")
    assert [f.name for f in srlg] == ["srlg duct1", "srlg duct2"]
    assert set(srlg[0].links) == {"R0->R1", "R1->R0", "R2->R3", "R3->R2"}
    with pytest.raises(ValidationError, match="no SRLG tags"):
        failure_scenarios(net, "srlg")
    with pytest.raises(ValidationError, match="neither one of single-link"):
        failure_scenarios(net, "double-link")


def test_failures_file(tmp_path):
    net = ring(4)
    p = tmp_path / "f.txt"
    p.write_text("# my failures\nR0->R1, R1->R0\n\nR2\nR0->R3 R3->R0\n")
    fs = failure_scenarios(net, str(p))
    assert [f.kind for f in fs] == ["file"] * 3
    assert fs[0].links == ("R0->R1", "R1->R0") and fs[0].nodes == ()
    assert fs[1].nodes == ("R2",) and set(fs[1].links) == {"R1->R2", "R2->R1", "R2->R3", "R3->R2"}
    assert fs[2].links == ("R0->R3", "R3->R0")
    p.write_text("R0->R1\nR0->R9\n")
    with pytest.raises(ValidationError, match=r"line 2: 'R0->R9' is neither a link nor a node"):
        failure_scenarios(net, str(p))
    p.write_text("# nothing\n")
    with pytest.raises(InputError, match="has no failure"):
        failure_scenarios(net, str(p))


# ---------------------------------------------------------------------------------- reconvergence
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reconvergence_matches_networkx_reference(seed):
    """Every single-link and single-node failure of a random network with ECMP ties and a parallel
    link: loads, unrouted demand and congestion loss equal an independent networkx computation."""
    net = rand_net(12, 19, seed)
    rng = np.random.default_rng(100 + seed)
    tm = rng.uniform(0, 2e9, (12, 12)) * (rng.uniform(size=(12, 12)) < 0.7)
    np.fill_diagonal(tm, 0)
    wi = WhatIf(net, policies=("shortest",))
    fs = [NO_FAILURE] + failure_scenarios(net, "single-link") + failure_scenarios(net, "single-node")
    affected, lossy = [], 0
    for f in fs:
        ev = wi.evaluate(f, tm)
        L, unr, drop = reference_ecmp(net, tm, f)
        np.testing.assert_allclose(ev.link_load, L, rtol=1e-9, atol=1e-3, err_msg=f.name)
        assert ev.unrouted_bps == pytest.approx(unr, rel=1e-9, abs=1e-3), f.name
        assert ev.dropped_bps == pytest.approx(drop, rel=1e-9, abs=1e-3), f.name
        assert ev.lost_bps == pytest.approx(unr + drop, rel=1e-12, abs=1e-3)
        assert (ev.link_load[net.link_ids(f.links)] == 0).all()
        affected.append(ev.info["affected"])
        lossy += ev.dropped_bps > 0
    # both update paths ran: few destinations affected (subtract/add) and most of them (recompute)
    n = net.n_nodes
    assert any(0 < a < n / 2 for a in affected) and any(a >= n / 2 for a in affected)
    assert lossy > 0  # the loss rule was exercised


def test_reconvergence_hop_count_ignores_metrics():
    net = rand_net(10, 15, 7, parallel=False, metrics=(1.0, 5.0, 10.0))
    tm = np.random.default_rng(0).uniform(0, 1e9, (10, 10))
    np.fill_diagonal(tm, 0)
    eng = EcmpReconvergence(net, igp="hops")
    f = failure_scenarios(net, "single-link")[3]
    L, unr, _ = reference_ecmp(net, tm, f, hops=True)
    ll = eng.link_loads(tm, f)
    np.testing.assert_allclose(ll.total, L, rtol=1e-9, atol=1e-3)
    # and it differs from the metric-based routing here (the metrics matter)
    L_metric, _, _ = reference_ecmp(net, tm, f)
    assert np.abs(L - L_metric).max() > 1e6


def test_ring_by_hand():
    """ring(4), demand R0->R1 4 Gbit/s: cut R0<->R1 and it goes R0-R3-R2-R1 (3 links at 40%)."""
    net = ring(4)
    tm = np.zeros((4, 4))
    tm[0, 1] = 4e9
    f = failure_scenarios(net, "single-link")[0]
    for policy in ("shortest", "optimal"):
        ev = evaluate_failure(net, f, tm, policy=policy)
        got = {l: round(u, 9) for l, u in zip(net.link_names, ev.util) if u > 0}
        assert got == {"R0->R3": 0.4, "R3->R2": 0.4, "R2->R1": 0.4}, policy
        assert ev.lost_bps == 0 and ev.mlu == pytest.approx(0.4)


def test_partition_is_lost_traffic_not_a_crash():
    """A line A-B-C: cutting B<->C strands every demand to and from C, under both policies."""
    net = Network.from_records([{"name": n} for n in "ABC"],
                               [{"src": "A", "dst": "B", "capacity": 10e9}, {"src": "B", "dst": "C", "capacity": 10e9}],
                               bidirectional=True, name="line")
    tm = np.array([[0, 1, 2], [3, 0, 4], [5, 6, 0]], float) * 1e9
    res = run_whatif(net, tm, "single-link", policies=("shortest", "optimal"))
    row = res.failures.set_index(["failure", "policy"])
    for p in ("shortest", "optimal"):
        r = row.loc[("B<->C", p)]
        assert r["unrouted_bps"] == pytest.approx((2 + 4 + 5 + 6) * 1e9)
        assert r["dropped_bps"] == 0
        assert r["mlu"] == pytest.approx(0.3)        # A<->B still carries 1 and 3 Gbit/s
        r = row.loc[("A<->B", p)]
        assert r["unrouted_bps"] == pytest.approx((1 + 2 + 3 + 5) * 1e9)
    node = run_whatif(net, tm, "single-node", policies=("shortest", "optimal")).failures
    nb = node[node["failure"] == "node B"]
    assert (nb["unrouted_bps"] == tm.sum()).all()   # every pair touches B or needs it


# ---------------------------------------------------------------------------------- re-optimised TE
def test_te_after_failure_matches_edge_mcf_optimum():
    """With every simple path as a candidate, TE's MLU after each failure is the edge-MCF optimum
    on the surviving network (the MCF code shares nothing with the path LP)."""
    net = rand_net(7, 11, 3, parallel=False)
    rng = np.random.default_rng(5)
    tm = rng.uniform(0, 3e9, (7, 7))
    np.fill_diagonal(tm, 0)
    wi = WhatIf(net, policies=("optimal",), paths=all_simple_paths(net))
    checked = 0
    for f in failure_scenarios(net, "single-link"):
        ev = wi.evaluate(f, tm, policy="optimal")
        surv = net.without_links(f.links)
        if ev.unrouted_bps > 0:
            continue  # a bridge: the MCF would be infeasible
        assert ev.mlu == pytest.approx(edge_mcf_mlu(surv, tm), rel=1e-6), f.name
        checked += 1
    assert checked >= 5


def test_te_gives_new_paths_to_pairs_that_lose_all_candidates():
    """k=1: a cut on an OD pair's only candidate must not lose its traffic when another route exists."""
    net = ring(5)
    tm = np.zeros((5, 5))
    tm[0, 1] = 2e9
    res = run_whatif(net, tm, "single-link", policies=("optimal",), k=1)
    r = res.failures.set_index("failure").loc["R0<->R1"]
    assert r["unrouted_bps"] == 0 and r["lost_bps"] == 0
    assert r["mlu"] == pytest.approx(0.2)
    # the pairs whose only (shortest) path used R0->R1 or R1->R0 got new paths:
    # R0->R1, R1->R0, R0->R2, R2->R0, R4->R1, R1->R4
    assert r["affected"] == 6


def test_te_beats_or_equals_reconvergence():
    net = rand_net(10, 16, 4, parallel=False)
    tm = np.random.default_rng(9).uniform(0, 3e9, (10, 10))
    np.fill_diagonal(tm, 0)
    res = run_whatif(net, tm, "single-link", policies=("shortest", "optimal"), k=6)
    df = res.failures.pivot(index="failure", columns="policy", values="mlu")
    assert (df["optimal"] <= df["shortest"] * (1 + 1e-6)).all()
    assert (df["optimal"] < df["shortest"] * 0.999).any()


# ---------------------------------------------------------------------------------- classes, tables
def test_loss_by_class_adds_up():
    net = rand_net(8, 10, 2, parallel=False)
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 6e9, (8, 8))
    np.fill_diagonal(base, 0)
    dem = np.stack([0.2 * base, 0.8 * base])
    res = run_whatif(net, dem.sum(axis=0), "single-node", policies=("shortest", "optimal"))
    wi = WhatIf(net, policies=("shortest", "optimal"))
    cls = wi.run(dem, "single-node", classes=("critical", "bulk"))
    df = cls.failures
    assert {"lost_bps[critical]", "lost_bps[bulk]"} <= set(df.columns)
    np.testing.assert_allclose(df["lost_bps[critical]"] + df["lost_bps[bulk]"], df["lost_bps"], rtol=1e-9, atol=1)
    # same routing for every class: the loss splits 20/80 like the demand
    lossy = df["lost_bps"] > 0
    assert lossy.any()
    np.testing.assert_allclose(df.loc[lossy, "lost_bps[critical]"] / df.loc[lossy, "lost_bps"], 0.2, rtol=1e-6)
    np.testing.assert_allclose(df["mlu"], res.failures["mlu"], rtol=1e-6)


def test_worst_case_table():
    net = rand_net(9, 14, 6, parallel=False)
    tm = np.random.default_rng(2).uniform(0, 2e9, (9, 9))
    np.fill_diagonal(tm, 0)
    res = run_whatif(net, tm, "single-link", policies=("shortest",))
    U = np.stack([e.util for e in res.evaluations])
    lk = res.links.set_index("link")
    for j, name in enumerate(net.link_names):
        worst = max(U[:, j].max(), res.baseline["shortest"].util[j])
        assert lk.loc[name, "worst_util"] == pytest.approx(worst)
        f = lk.loc[name, "worst_failure"]
        if f != "(none)":
            i = [e.failure.name for e in res.evaluations].index(f)
            assert U[i, j] == pytest.approx(worst)
    w = res.worst(3)
    assert len(w) == 3 and list(w["lost_bps"]) == sorted(w["lost_bps"], reverse=True)
    s = res.summary()
    assert s["failures"] == len(circuits(net))
    json.dumps(s, default=str)


def test_failures_section_html():
    net0 = morocco()
    tm = gravity_matrix(net0, 400e9)
    net = size_capacities(net0, tm, target_util=0.6)
    heading, html = failures_section(net, result=run_whatif(net, tm), top=5)
    assert heading == "Failures"
    assert "<table" in html and "<svg" in html and "http" not in html.replace('http://www.w3.org/2000/svg', "")
    assert html.count("<tr>") >= 5
    assert "Casablanca" in html


def test_bad_inputs():
    net = triangle()
    with pytest.raises(ValidationError, match="neither a link nor a node"):
        evaluate_failure(net, "X->Y", np.zeros((3, 3)))
    with pytest.raises(ValidationError, match="expected \\(3, 3\\)"):
        evaluate_failure(net, None, np.zeros((4, 4)))
    with pytest.raises(ValidationError, match="unknown policy"):
        WhatIf(net, policies=("shortest", "nope"))
    with pytest.raises(ValidationError, match="igp must be"):
        EcmpReconvergence(net, igp="delay")


# ---------------------------------------------------------------------------------- CLI
def test_cli_whatif(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["whatif", "--network", "sndlib/abilene", "--traffic", "gravity", "--failures",
                            "single-link", "--json", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["failures"] == 15 and set(s["policies"]) == {"shortest", "optimal"}
    assert (tmp_path / "failures.csv").exists() and (tmp_path / "links.csv").exists()
    r = runner.invoke(app, ["whatif", "--network", "sndlib/abilene", "--traffic", "gravity", "--failures", "nope"])
    assert r.exit_code == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "neither one of single-link" in errors[0] and "Traceback" not in r.stderr
