"""Capacity planning and run-out dates: answers computed by hand on tiny networks; CLI bad input."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard import Network, TrafficSeries, ValidationError
from surgeguard.examples import triangle
from surgeguard.failures import circuit_frame
from surgeguard.plan.capacity import (PortModule, cheapest_modules, lockdown_plan_study, parse_modules, plan_capacity,
                                      planning_series, select_peak_tms, shortest_upgrade)
from surgeguard.plan.runout import runout_dates
from surgeguard.report.sections.capacity import capacity_plan_section
from surgeguard.scenario import Lockdown, gravity_series
from surgeguard.routing import k_shortest_paths
from surgeguard.serve.cli import app

G = 1e9
runner = CliRunner()


def tri(lengths=(100, 100, 100)):
    """Triangle A, B, C with 10G links (both ways) and the given A-B, B-C, A-C lengths (km)."""
    ab, bc, ac = lengths
    links = [{"src": "A", "dst": "B", "length_km": ab}, {"src": "B", "dst": "C", "length_km": bc},
             {"src": "A", "dst": "C", "length_km": ac}]
    for lk in links:
        lk.update(capacity=10 * G, metric=1.0)
    return Network.from_records(nodes=[{"name": n} for n in "ABC"], links=links, bidirectional=True, name="tri")


def one_tm(net, pairs, times=None):
    tm = np.zeros((len(pairs), net.n_nodes, net.n_nodes))
    for t, od in enumerate(pairs):
        for (a, b), v in od.items():
            tm[t, net.node_index[a], net.node_index[b]] = v
    return TrafficSeries(tm, net.node_names, times)


def test_cheapest_modules_and_fibres():
    mods = parse_modules("10G:1,100G:3")
    assert cheapest_modules(14e9, mods)[0].tolist() == [2, 0]
    assert cheapest_modules(35e9, mods)[0].tolist() == [0, 1]          # 4 x 10G = 4 > 3
    assert cheapest_modules(0.0, mods)[1] == 0.0
    n, c = cheapest_modules(10e9, (PortModule("10G", 10e9, 1, 0.01),), length_km=200)
    assert n.tolist() == [1] and c == pytest.approx(3.0)
    fib, tab = circuit_frame(tri())
    assert len(tab) == 3 and sorted(tab.index) == ["A<->B", "A<->C", "B<->C"]
    assert all(len(x) == 2 for x in tab["links"])
    with pytest.raises(ValidationError, match="RATE:COST"):
        parse_modules("100G")


def test_milp_optimum_triangle_overloaded_link():
    # A->B 30G. At 0.8 the direct link carries 8G and the detour A-C-B 8G: 16G; 14G short.
    # Cheapest: two 10G modules on A<->B (+16G direct) for 2 cu; a 100G module would cost 3.
    net = tri()
    ts = one_tm(net, [{("A", "B"): 30 * G}])
    plan = plan_capacity(net, ts, target_util=0.8, modules="10G:1,100G:3")
    add = plan.additions()
    assert plan.cost == pytest.approx(2.0)
    assert add["fibre"].tolist() == ["A<->B"] and add["n_10G"].tolist() == [2] and add["n_100G"].tolist() == [0]
    assert plan.method == "milp" and plan.gap == pytest.approx(0.0, abs=1e-9)
    assert plan.check["ok"].all() and plan.check["mlu_after"].max() <= 0.8 + 1e-6
    up = plan.upgraded()
    assert up.capacity[up.link_ids(["A->B"])[0]] == 30 * G and up.capacity[up.link_ids(["B->A"])[0]] == 30 * G
    # cheaper big modules: one 100G instead
    plan2 = plan_capacity(net, ts, target_util=0.8, modules="10G:1,100G:1.5")
    assert plan2.cost == pytest.approx(1.5) and plan2.additions()["n_100G"].tolist() == [1]


def test_milp_cost_per_km_moves_the_upgrade_to_the_detour():
    # A<->B is 1000 km: a 10G module there costs 1 + 0.01 * 1000 = 11 cu; the detour A-C-B (2 x 100 km)
    # needs one module on each of its fibres: 2 x (1 + 1) = 4 cu. A->B 20G: 16G fits, 4G short.
    net = tri(lengths=(1000, 100, 100))
    ts = one_tm(net, [{("A", "B"): 20 * G}])
    plan = plan_capacity(net, ts, target_util=0.8, modules="10G:1:0.01")
    assert plan.cost == pytest.approx(4.0)
    assert sorted(plan.additions()["fibre"]) == ["A<->C", "B<->C"]
    # the per-link baseline under shortest paths upgrades the long direct fibre instead: 25G needed on it
    base = shortest_upgrade(net, ts, target_util=0.8, modules=plan.modules)
    assert base["fibres"] == ["A<->B"] and base["cost"] == pytest.approx(2 * 11.0)


def test_binding_scenario_is_the_matrix_that_needs_the_module():
    net = tri()
    times = pd.date_range("2020-03-16", periods=2, freq="D", tz="UTC")
    ts = one_tm(net, [{("A", "B"): 10 * G}, {("A", "B"): 20 * G}], times)
    plan = plan_capacity(net, ts, target_util=0.8, modules="10G:1", steps=[0, 1])
    add = plan.additions()
    assert len(add) == 1 and plan.cost == pytest.approx(1.0)
    assert add["binding_scenario"].iloc[0] == "2020-03-17 00:00 normal"
    # without it the 20G matrix needs both 10G routes in full: min MLU 1.0 > 0.8
    assert add["binding_util_without"].iloc[0] == pytest.approx(1.0, rel=1e-6)


def test_heuristic_matches_the_toy_optimum_and_reports_a_gap():
    net = tri()
    ts = one_tm(net, [{("A", "B"): 30 * G}])
    plan = plan_capacity(net, ts, target_util=0.8, modules="10G:1,100G:3", method="heuristic")
    assert plan.method == "heuristic"
    assert plan.cost == pytest.approx(2.0)
    assert 0 <= plan.lower_bound <= plan.cost and 0 <= plan.gap < 1
    assert plan.check["ok"].all()


def test_failure_that_partitions_an_od_is_lost_traffic_not_a_crash():
    # a chain A - B - C: cutting A<->B disconnects A from B and C
    net = Network.from_records(nodes=[{"name": n} for n in "ABC"],
                               links=[{"src": "A", "dst": "B", "capacity": 10 * G, "length_km": 10},
                                      {"src": "B", "dst": "C", "capacity": 10 * G, "length_km": 10}],
                               bidirectional=True, name="chain")
    ts = one_tm(net, [{("A", "C"): 3 * G, ("A", "B"): 2 * G, ("B", "C"): 9 * G}])
    plan = plan_capacity(net, ts, target_util=0.8, failures="single-link", modules="10G:1")
    chk = plan.check.set_index("failed_fibre", drop=False)
    cut_ab = chk[chk["failed_fibre"] == "A<->B"].iloc[0]
    assert cut_ab["lost_bps"] == pytest.approx(5 * G)     # A->C and A->B have no surviving path
    cut_bc = chk[chk["failed_fibre"] == "B<->C"].iloc[0]
    assert cut_bc["lost_bps"] == pytest.approx(12 * G)    # A->C and B->C
    assert plan.check["ok"].all()
    # B->C carries 3 + 9 = 12G: 15G needed at 0.8, one 10G module on B<->C
    assert plan.additions()["fibre"].tolist() == ["B<->C"] and plan.cost == pytest.approx(1.0)
    scen = [s for s in plan.scenarios if s.failed_fibre == "A<->B"][0]
    assert set(scen.lost_od) == {"A->B", "A->C"}


def test_failures_rerouting_on_a_ring_needs_the_other_side():
    # triangle, A->B 9G: intact it fits at 0.8 (direct + detour). Cutting A<->B leaves A-C-B: 0.9 on
    # 10G, so A<->C and B<->C need a module; cutting A<->C (or B<->C) leaves the direct link: 0.9, so
    # A<->B needs one. Three modules, and the detour's binding scenario is the cut of A<->B.
    net = tri()
    ts = one_tm(net, [{("A", "B"): 9 * G}])
    plan = plan_capacity(net, ts, target_util=0.8, failures="single-link", modules="10G:1")
    add = plan.additions().set_index("fibre")
    assert sorted(add.index) == ["A<->B", "A<->C", "B<->C"] and plan.cost == pytest.approx(3.0)
    assert add.loc["A<->C", "binding_scenario"] == "1970-01-01 00:00 cut A<->B"
    assert add.loc["B<->C", "binding_scenario"] == "1970-01-01 00:00 cut A<->B"
    assert add.loc["A<->B", "binding_scenario"] in ("1970-01-01 00:00 cut A<->C", "1970-01-01 00:00 cut B<->C")
    assert plan.check["ok"].all() and len(plan.check) == 4
    # without failures nothing is needed
    assert plan_capacity(net, ts, target_util=0.8, modules="10G:1").cost == 0.0


def test_peak_selection_and_planning_series():
    net = triangle()
    times = pd.date_range("2020-03-16", periods=96 * 3, freq="15min", tz="UTC")
    v = np.ones((len(times), 3, 3)) * 1e9
    v[:, np.arange(3), np.arange(3)] = 0
    v[10] *= 3
    v[100] *= 2
    v[101] *= 2.5
    ts = TrafficSeries(v, net.node_names, times)
    steps = select_peak_tms(net, k_shortest_paths(net, k=2), ts, top_days=2, per_link=False)
    assert steps == [10, 101]  # the busiest step of the two busiest days
    ps = planning_series(ts, "lockdown:growth=0.5,daytime_boost=0,upload_extra=0", network=net)
    assert ps.total.sum() == pytest.approx(1.5 * ts.total.sum(), rel=1e-9)  # in full from the first step
    assert planning_series(ts, None) is ts


def test_runout_linear_trend_and_stated_growth():
    net = triangle(10e9)
    times = pd.date_range("2024-01-01", periods=20 * 24, freq="h", tz="UTC")
    day = np.arange(len(times)) // 24
    v = np.zeros((len(times), 3, 3))
    # A->B: 3G + 0.1G per day, peaking at 12:00 each day (half that at other hours)
    v[:, 0, 1] = (3e9 + 0.1e9 * day) * np.where(times.hour == 12, 1.0, 0.5)
    res = runout_dates(net, TrafficSeries(v, net.node_names, times))
    r = res.frame.loc["A->B"]
    # daily peak util 0.3 + 0.01 d at d days + 12 h: 0.7 after 40 days, 0.9 after 60 days
    assert r["warning_date"] == pd.Timestamp("2024-02-10 12:00", tz="UTC")
    assert r["critical_date"] == pd.Timestamp("2024-03-01 12:00", tz="UTC")
    assert r["trend"] == pytest.approx(0.01, rel=1e-9)
    assert pd.isna(res.frame.loc["B->C", "critical_date"])
    # stated growth, linear +50 %/year from the last week's peak 0.49: 0.7 after (0.7/0.49 - 1)/0.5 years
    g = runout_dates(net, TrafficSeries(v, net.node_names, times), growth=0.5)
    want = times[-1] + pd.Timedelta(days=(0.7 / 0.49 - 1) / 0.5 * 365.25)
    assert abs(g.frame.loc["A->B", "warning_date"] - want) <= pd.Timedelta(minutes=1)
    with pytest.raises(ValidationError, match="at least 2"):
        runout_dates(net, TrafficSeries(v[:24], net.node_names, times[:24]))


def _files(tmp_path):
    nodes = [{"id": n} for n in "ABC"]
    links = []
    for a, b in [("A", "B"), ("B", "C"), ("A", "C")]:
        links += [{"source": a, "target": b, "capacity": 10e9}, {"source": b, "target": a, "capacity": 10e9}]
    net = tmp_path / "net.json"
    net.write_text(json.dumps({"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}))
    times = pd.date_range("2020-03-20", periods=2, freq="15min", tz="UTC")
    rows = [(t, "A", "B", 20e9) for t in times] + [(t, "B", "C", 1e9) for t in times]
    tr = tmp_path / "tm.csv"
    pd.DataFrame(rows, columns=["ds", "src", "dst", "bps"]).to_csv(tr, index=False)
    return str(net), str(tr)


def _err(r, *words):
    assert r.exit_code == 2, r.output
    text = r.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for w in words:
        assert w in text, text
    return text


def test_cli_plan_and_runout(tmp_path):
    net, tr = _files(tmp_path)
    r = runner.invoke(app, ["plan", "--network", net, "--traffic", tr, "--target-util", "0.8", "--modules", "10G:1",
                            "--json", "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["cost"] == pytest.approx(1.0) and doc["additions"][0]["fibre"] == "A<->B"
    assert (tmp_path / "out" / "additions.csv").exists()
    r = runner.invoke(app, ["plan", "--network", net, "--traffic", tr, "--failures", "single-link", "--modules", "10G:1"])
    assert r.exit_code == 0, r.output
    assert "capacity plan" in r.stdout


def test_cli_bad_input(tmp_path):
    net, tr = _files(tmp_path)
    base = ["plan", "--network", net, "--traffic", tr]
    _err(runner.invoke(app, base + ["--target-util", "1.5"]), "--target-util")
    _err(runner.invoke(app, base + ["--failures", "everything"]), "single-link")
    _err(runner.invoke(app, base + ["--modules", "100G"]), "RATE:COST")
    _err(runner.invoke(app, base + ["--classes", "critical:0.05:fast"]), "ms")
    _err(runner.invoke(app, base + ["--method", "magic"]), "heuristic")
    _err(runner.invoke(app, ["plan", "--network", str(tmp_path / "nope.json"), "--traffic", tr]), "nope.json")
    _err(runner.invoke(app, ["runout", "--network", net, "--traffic", tr, "--thresholds", "0.7"]), "--thresholds")
    _err(runner.invoke(app, ["runout", "--network", net, "--traffic", tr]), "growth")  # 2 steps: no trend
    _err(runner.invoke(app, ["runout", "--network", net, "--traffic", tr, "--growth", "-2"]), "growth")


def test_lockdown_plan_study_and_report_section():
    net = triangle(10e9)
    base = gravity_series(net, "2020-03-18", 72, "1h", total_bps=10e9, random_state=1)
    series = Lockdown(start="2020-03-19T12:00Z", growth=1.0, ramp_days=0).apply(base, network=net)
    study = lockdown_plan_study(net, k_shortest_paths(net, k=2), {"planning": base, "actual": series}, 36,
                                scenario=Lockdown(growth=1.0), target_util=0.8, modules="10G:1")
    plan, chk = study["plan"], study["check"].frame.set_index(["variant", "policy"])
    assert plan.check["ok"].all()
    # the check replays the actual series: with the plan, the TE oracle stays within what was planned for
    assert chk.loc[("plan", "oracle"), "mlu_max"] <= chk.loc[("before", "shortest"), "mlu_max"] + 1e-9
    assert set(chk.index.get_level_values(0)) == {"before", "plan", "shortest-upgrade", "congested-upgrade"}
    heading, html = capacity_plan_section(study)
    assert heading == "Capacity plan" and "<table" in html and "cu" in html
