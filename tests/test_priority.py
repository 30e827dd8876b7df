"""Traffic classes with strict priority: answers computed by hand on tiny networks."""

import numpy as np
import pandas as pd
import pytest

from surgeguard import Network, TrafficSeries, ValidationError
from surgeguard.classes import DEFAULT_CLASSES, ClassConfig, TrafficClass, class_config
from surgeguard.routing import Routing, get_policy, k_shortest_paths, policy_names
from surgeguard.evaluate.classes import evaluate_classes, replay_classes
from surgeguard.optimise.classes import PathLP
from surgeguard.report.sections.classes import critical_services_section
from surgeguard.routing.priority import allocate_classes, fast_available

G = 1e9


def two_routes():
    """S->T over S-A-T (10G, 100+100 km: 1 ms, IGP 1+1) or S-B-T (10G, 200+200 km: 2 ms, IGP 2+2)."""
    links = [("S", "A", 100, 1), ("A", "T", 100, 1), ("S", "B", 200, 2), ("B", "T", 200, 2)]
    return Network.from_records(
        nodes=[{"name": n} for n in "SABT"],
        links=[{"src": a, "dst": b, "capacity": 10 * G, "length_km": km, "metric": m} for a, b, km, m in links],
        bidirectional=True, name="two_routes")


def line3():
    """A - B - C, 10G each way."""
    return Network.from_records(nodes=[{"name": n} for n in "ABC"],
                                links=[{"src": "A", "dst": "B", "capacity": 10 * G},
                                       {"src": "B", "dst": "C", "capacity": 10 * G}], bidirectional=True, name="line3")


CFG = ClassConfig((TrafficClass("critical", 0.1, max_stretch=1.5), TrafficClass("bulk", 0.9)))


def st_tm(net, crit, bulk):
    tm = np.zeros((2, net.n_nodes, net.n_nodes))
    s, t = net.node_index["S"], net.node_index["T"]
    tm[0, s, t], tm[1, s, t] = crit, bulk
    return tm


def on_path(alloc, ps, c, node_seq):
    return sum(alloc.path_flows[c, p] for p in range(ps.n_paths) if ps.path_nodes(p) == list(node_seq))


def test_latency_bound_and_fit():
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    a = allocate_classes(net, ps, st_tm(net, 6 * G, 12 * G), CFG)
    # critical (bound 1.5 x 1 ms) may use only S-A-T: 6G there, own MLU 0.6
    assert on_path(a, ps, 0, "SAT") == pytest.approx(6 * G, rel=1e-6)
    assert on_path(a, ps, 0, "SBT") == pytest.approx(0.0, abs=1)
    assert a.info[0]["own_mlu"] == pytest.approx(0.6, rel=1e-6)
    # bulk in the capacity left (4G up, 10G down): min own MLU 12/14, everything served
    assert a.info[1]["own_mlu"] == pytest.approx(12 / 14, rel=1e-6)
    assert a.summary()["served_share"].tolist() == pytest.approx([1.0, 1.0])
    assert (a.link_load.sum(axis=0) <= net.capacity * (1 + 1e-9)).all()


def test_priority_order_on_a_bottleneck():
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    a = allocate_classes(net, ps, st_tm(net, 12 * G, 12 * G), CFG)
    s = a.summary()
    # critical fills its only allowed route (10G) and loses 2G; bulk gets nothing there
    assert s.loc[0, "served_bps"] == pytest.approx(10 * G, rel=1e-6)
    assert s.loc[0, "lost_bps"] == pytest.approx(2 * G, rel=1e-6)
    assert not s.loc[0, "fits"] and s.loc[0, "concurrent"] == pytest.approx(10 / 12, rel=1e-6)
    assert on_path(a, ps, 1, "SAT") == pytest.approx(0.0, abs=1)
    assert s.loc[1, "served_bps"] == pytest.approx(10 * G, rel=1e-6)
    # the same matrix with critical unbounded: it takes both routes, and bulk the rest
    free = ClassConfig((TrafficClass("critical", 0.1), TrafficClass("bulk", 0.9)))
    b = allocate_classes(net, ps, st_tm(net, 12 * G, 12 * G), free)
    assert b.summary()["served_bps"].tolist() == pytest.approx([12 * G, 8 * G], rel=1e-6)


def test_does_not_fit_max_concurrent_then_max_throughput():
    # line A-B-C: A->C 10G, A->B 4G, B->C 10G. Min MLU 2 (B->C carries 20G): lambda* = 1/2.
    # Max throughput with every OD >= half its demand: B->C link full (A->C 5 + B->C 5), A->B 4.
    net = line3()
    ps = k_shortest_paths(net, k=1)
    tm = np.zeros((1, 3, 3))
    tm[0, 0, 2], tm[0, 0, 1], tm[0, 1, 2] = 10 * G, 4 * G, 10 * G
    a = allocate_classes(net, ps, tm, ClassConfig((TrafficClass("only", 1.0),)))
    served = a.served[0]
    look = ps.od_lookup
    assert a.info[0]["concurrent"] == pytest.approx(0.5, rel=1e-6)
    assert served[look[0, 2]] == pytest.approx(5 * G, rel=1e-5)
    assert served[look[0, 1]] == pytest.approx(4 * G, rel=1e-5)
    assert served[look[1, 2]] == pytest.approx(5 * G, rel=1e-5)


def test_unusable_od_gets_nothing_others_still_served():
    # critical bound 1 ms absolute: S->T has a 1 ms route; after the critical class fills it, bulk with
    # a path only through the full links gets nothing on them but uses the other route
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    a = allocate_classes(net, ps, st_tm(net, 10 * G, 5 * G), CFG)
    assert a.summary()["served_bps"].tolist() == pytest.approx([10 * G, 5 * G], rel=1e-6)
    assert on_path(a, ps, 1, "SBT") == pytest.approx(5 * G, rel=1e-6)


def test_evaluate_fifo_vs_priority_and_policy_registered():
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    tm = st_tm(net, 3 * G, 12 * G)
    sp = get_policy("shortest").route(net, ps, None)  # all on S-A-T: 15G on 10G
    fifo = evaluate_classes(net, sp, tm, CFG, discipline="fifo")
    assert fifo.lost_bps.tolist() == pytest.approx([1 * G, 4 * G], rel=1e-6)  # a third of each
    pq = evaluate_classes(net, sp, tm, CFG, discipline="priority")
    assert pq.lost_bps.tolist() == pytest.approx([0.0, 5 * G], abs=1.0)
    assert "priority" in policy_names()
    pol = get_policy("priority", classes=CFG)
    r = pol.route(net, ps, tm)
    assert isinstance(r, Routing) and r.info["mlu"] <= 1 + 1e-9
    ev = evaluate_classes(net, r.info["allocation"], tm, discipline="priority")
    assert ev.lost_bps.sum() == pytest.approx(0.0, abs=1.0)
    # an aggregate matrix is split by the configured shares (10 % / 90 %)
    agg = tm.sum(axis=0)
    r2 = pol.route(net, ps, agg)
    assert r2.info["allocation"].demand.sum(axis=1).tolist() == pytest.approx([1.5 * G, 13.5 * G])


def test_replay_classes_protects_critical_where_shortest_loses():
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    times = pd.date_range("2020-03-20", periods=4, freq="15min", tz="UTC")
    v = np.stack([st_tm(net, 3 * G, b * G) for b in (5, 12, 12, 20)])  # last step: 23G > 20G in all
    ts = TrafficSeries(v, net.node_names, times, classes=("critical", "bulk"))
    res = replay_classes(net, ps, ts, CFG, policies=("priority", "priority-oracle", "shortest", "shortest+pq"),
                         progress=False)
    s = res.summary()["policies"]
    assert s["priority"]["critical"]["served_in_every_carriable_interval"]
    assert s["priority"]["critical"]["intervals_carriable"] == 4
    assert s["priority"]["critical"]["lost_bits"] == 0.0
    assert s["shortest"]["critical"]["intervals_with_loss"] == 3   # 15G, 15G and 23G on one 10G route
    assert s["priority-oracle"]["bulk"]["intervals_with_loss"] == 1   # 23G cannot fit in 20G
    heading, html = critical_services_section(res)
    assert heading == "Critical services" and "<table" in html and "critical" in html


def test_highs_and_policy_solver_agree():
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    tm = st_tm(net, 6 * G, 12 * G)
    a = allocate_classes(net, ps, tm, CFG, solver="highs")
    b = allocate_classes(net, ps, tm, CFG, solver="optimal")
    assert [i["own_mlu"] for i in b.info] == pytest.approx([i["own_mlu"] for i in a.info], rel=1e-5)
    assert b.summary()["served_bps"].tolist() == pytest.approx(a.summary()["served_bps"].tolist(), rel=1e-6)


@pytest.mark.skipif(not fast_available(), reason="routing/fast.py (the fast solver) is not installed")
def test_fast_solver_close_to_highs():
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    tm = st_tm(net, 6 * G, 12 * G)
    a = allocate_classes(net, ps, tm, CFG, solver="highs")
    b = allocate_classes(net, ps, tm, CFG, solver="fast")
    assert b.info[0]["own_mlu"] == pytest.approx(a.info[0]["own_mlu"], rel=0.02)
    assert b.summary()["served_share"].tolist() == pytest.approx([1.0, 1.0], rel=1e-6)


def test_pathlp_failed_link_and_no_path():
    net = two_routes()
    ps = k_shortest_paths(net, k=2)
    lp = PathLP(net, ps)
    d = np.zeros(ps.n_od)
    d[ps.od_lookup[0, 3]] = 15 * G
    cap = net.capacity.copy()
    cap[net.link_ids(["S->A"])] = 0.0  # the upper route is cut: 15G on the lower 10G
    u, f = lp.min_mlu(d, cap)
    assert u == pytest.approx(1.5, rel=1e-6)
    cap[net.link_ids(["S->B"])] = 0.0  # both cut: no path
    u, f = lp.min_mlu(d, cap)
    assert u == float("inf") and f.sum() == 0


def test_class_config_parsing_and_errors():
    cfg = ClassConfig.from_spec("critical:0.05:20ms+1.5x,interactive:0.35:2x,bulk:0.6")
    assert cfg.get("critical").max_latency_ms == 20 and cfg.get("critical").max_stretch == 1.5
    assert ClassConfig.from_spec(cfg.to_spec()) == cfg
    assert class_config(None) is DEFAULT_CLASSES
    assert DEFAULT_CLASSES.shares().sum() == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="must end in 'ms'"):
        ClassConfig.from_spec("critical:0.05:fast")
    with pytest.raises(ValidationError, match="max_stretch"):
        TrafficClass("x", 0.1, max_stretch=0.5)
    with pytest.raises(ValidationError, match="duplicate"):
        ClassConfig.from_spec("a:0.5,a:0.5")
    with pytest.raises(ValidationError, match=r"share=2.0 must be a fraction in \[0, 1\]"):
        ClassConfig.from_spec("critical:2")
    net = two_routes()
    ts = TrafficSeries(np.zeros((1, 2, 4, 4)), net.node_names, classes=("critical", "gaming"))
    with pytest.raises(ValidationError, match="gaming"):
        CFG.split(ts)
    # members map series classes onto configured ones
    cfg2 = ClassConfig((TrafficClass("critical", members=("critical", "gaming")), TrafficClass("bulk", 1.0)))
    v = np.zeros((1, 2, 4, 4)); v[0, 1, 0, 3] = 2 * G
    assert cfg2.split(TrafficSeries(v, net.node_names, classes=("critical", "gaming"))).values[0, 0, 0, 3] == 2 * G
