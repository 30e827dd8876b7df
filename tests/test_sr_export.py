"""SR-TE policy export (surgeguard.deploy): segment lists, weights, few policies, formats, CLI.

The hand-checked network ``kite`` (all links 10 Gbit/s, both directions)::

        B            A-B 1, B-D 1   (A->D shortest: A-B-D, cost 2, unique)
      /   \\          A-C 1, C-D 2   (A-C-D, cost 3)
     A --- D         A-D 5          (the direct link: a detour, cost 5)
      \\   /
        C

FRR's parser (``vtysh -C -f``) checks every generated FRR file; without vtysh the FRR tests skip
with a message, unless SURGEGUARD_REQUIRE_FRR is set (CI: a failure).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from surgeguard.deploy import (IgpPaths, SidPlan, check_frr_config, compress_path, device_slots, export_sr,
                               few_policies, quantise, read_json_policies, render, routing_from_policies,
                               write_export)
from surgeguard.deploy.sr import largest_remainder
from surgeguard.evaluate import evaluate
from surgeguard.examples import morocco, ring
from surgeguard.exceptions import InputError, ValidationError
from surgeguard.network import Network
from surgeguard.paths import k_shortest_paths, paths_from_node_lists
from surgeguard.routing import Routing, solve
from surgeguard.routing.shortest import ecmp_splits
from surgeguard.report.sections.deploy import sr_policies_section
from surgeguard.serve.cli import app

REQUIRE_FRR = "SURGEGUARD_REQUIRE_FRR"
G = 1e9


def kite(capacity: float = 10 * G) -> Network:
    links = [("A", "B", 1), ("B", "D", 1), ("A", "C", 1), ("C", "D", 2), ("A", "D", 5)]
    return Network.from_records(nodes=[{"name": n} for n in "ABCD"],
                                links=[{"src": a, "dst": b, "capacity": capacity, "metric": float(m)}
                                       for a, b, m in links], bidirectional=True, name="kite")


def kite_paths(net):
    return paths_from_node_lists(net, [("A", "D", [["A", "B", "D"], ["A", "C", "D"], ["A", "D"]]),
                                       ("B", "D", [["B", "D"]])])


def routing_with(ps, net, od_splits: dict) -> Routing:
    """IGP splits everywhere, ``od_splits[(src, dst)]`` for the ODs given."""
    s = ecmp_splits(net, ps)
    for (a, b), vals in od_splits.items():
        k = ps.od_lookup[net.node_index[a], net.node_index[b]]
        s[ps.od_ptr[k]:ps.od_ptr[k + 1]] = vals
    return Routing(ps, s, "given")


def tm_of(net, demands: dict) -> np.ndarray:
    tm = np.zeros((net.n_nodes, net.n_nodes))
    for (a, b), v in demands.items():
        tm[net.node_index[a], net.node_index[b]] = v
    return tm


def vtysh_or_skip() -> str:
    exe = shutil.which("vtysh")
    if exe:
        return exe
    msg = ("FRR's vtysh not found: the FRR export is checked by FRR's own parser; install the Debian package "
           "`frr` (scripts/install_services.sh)")
    if os.environ.get(REQUIRE_FRR, "") not in ("", "0"):
        pytest.fail(f"{msg} ({REQUIRE_FRR} is set)")
    pytest.skip(msg)


# ---------------------------------------------------------------------------------------- segment lists
def test_sid_lists_of_the_kite_are_the_hand_checked_ones():
    net = kite()
    igp = IgpPaths(net)
    plan = SidPlan()
    a_d = int(net.link_ids(["A->D"])[0])
    cases = {("A->B", "B->D"): [16003],                # the unique shortest path: D's node SID
             ("A->C", "C->D"): [16002, 16003],         # via C: C, then C's unique shortest path to D
             ("A->D",): [plan.adjacency_sid(a_d)]}     # the detour link: its adjacency SID
    for links, labels in cases.items():
        segs = compress_path(net, igp, net.link_ids(list(links)), plan)
        assert [s.sid for s in segs] == labels, links
    assert compress_path(net, igp, net.link_ids(["A->D"]), plan)[0].kind == "adjacency"
    # a node SID expands back to its unique shortest path
    assert igp.shortest_links(0, 3) == net.link_ids(["A->B", "B->D"]).tolist()


def test_a_stretch_inside_igp_ecmp_is_split_at_the_divergence():
    net = ring(4)  # R0 -> R2: two equal-cost paths, so R2's node SID alone would spread the traffic
    igp = IgpPaths(net)
    assert igp.count[0, 2] == 2
    segs = compress_path(net, igp, net.link_ids(["R0->R1", "R1->R2"]))
    assert [s.sid for s in segs] == [16001, 16002]
    with pytest.raises(InputError, match="does not pin one path"):
        igp.shortest_links(0, 2)


def test_parallel_links_of_equal_metric_need_adjacency_sids():
    net = Network.from_records(nodes=[{"name": n} for n in "XY"],
                               links=[{"src": "X", "dst": "Y", "capacity": G, "metric": 1.0},
                                      {"src": "X", "dst": "Y", "capacity": G, "metric": 1.0}], name="par")
    segs = compress_path(net, IgpPaths(net), [1])
    assert [(s.kind, s.sid) for s in segs] == [("adjacency", 24001)]


# ---------------------------------------------------------------------------------------- weights
def test_quantisation_error_is_the_hand_checked_one():
    net = kite()
    ps = kite_paths(net)
    tm = tm_of(net, {("A", "D"): 24 * G})
    r = routing_with(ps, net, {("A", "D"): [1 / 3, 1 / 3, 1 / 3]})
    assert evaluate(net, r, tm).mlu == pytest.approx(0.8)
    ex3 = export_sr(net, r, tm, slots=3)
    (pol,) = ex3.policies
    assert [sl.weight for sl in pol.segment_lists] == [1, 1, 1]
    assert ex3.mlu["quantised"] == pytest.approx(0.8)  # thirds are exact with 3 slots
    ex4 = export_sr(net, r, tm, slots=4)
    assert sorted(sl.weight for sl in ex4.policies[0].segment_lists) == [1, 1, 2]
    assert ex4.mlu["quantised"] == pytest.approx(1.2)  # 2 slots of 4 on one path: 12 Gbit/s on 10
    # and no integer split of 4 slots does better
    best = min(max(w) / 4 * 24 / 10 for w in itertools.product(range(5), repeat=3) if sum(w) == 4)
    assert ex4.mlu["quantised"] == pytest.approx(best)
    assert ex4.mlu["igp"] == pytest.approx(2.4)  # all 24 Gbit/s on A-B-D


def test_descent_beats_largest_remainder_where_it_can():
    net = kite()
    ps = kite_paths(net)
    tm = tm_of(net, {("A", "D"): 10 * G, ("B", "D"): 5 * G})
    r = routing_with(ps, net, {("A", "D"): [0.5, 0.5, 0.0]})
    assert evaluate(net, r, tm).mlu == pytest.approx(1.0)
    ex = export_sr(net, r, tm, slots=1)
    # largest remainder breaks the tie onto A-B-D: 10 + 5 Gbit/s on B->D; one move fixes it
    assert ex.mlu["device_exact_weights"] == pytest.approx(1.5)
    assert ex.mlu["quantised"] == pytest.approx(1.0)
    assert [sl.path for sl in ex.policies[0].deployed] == [("A", "C", "D")]
    assert ex.policies[0].single.path == ("A", "C", "D")
    w, facts = quantise(net, ps, r.splits, tm, [np.arange(ps.od_ptr[0], ps.od_ptr[0] + 2)], 1)
    assert facts["mlu_largest_remainder"] == pytest.approx(1.5) and facts["mlu"] == pytest.approx(1.0)


def test_device_slots_model_the_vendor_drop():
    share = np.array([0.9, 0.05, 0.05])
    assert device_slots(share, 16).tolist() == [14, 1, 1]
    assert device_slots(share, 16, vendor_drop=True).tolist() == [16, 0, 0]  # 0.05 < 1/16: dropped
    assert largest_remainder(np.array([0.5, 0.3, 0.2]), 4).tolist() == [2, 1, 1]
    # on a routing: the device's MLU with exact weights differs from the exported weights' MLU
    net = kite()
    ps = kite_paths(net)
    tm = tm_of(net, {("A", "D"): 10 * G})
    r = routing_with(ps, net, {("A", "D"): [0.9, 0.05, 0.05]})
    plain = export_sr(net, r, tm, slots=16)
    drop = export_sr(net, r, tm, slots=16, vendor_drop=True)
    assert drop.mlu["device_exact_weights"] == pytest.approx(1.0)  # all on A-B-D
    assert plain.mlu["device_exact_weights"] == pytest.approx(14 / 16)
    assert drop.mlu["quantised"] == plain.mlu["quantised"] <= plain.mlu["device_exact_weights"] + 1e-12


def test_paths_deeper_than_the_limit_are_reported_and_moved():
    net = kite()
    ps = kite_paths(net)
    tm = tm_of(net, {("A", "D"): 24 * G})
    r = routing_with(ps, net, {("A", "D"): [1 / 3, 1 / 3, 1 / 3]})
    ex = export_sr(net, r, tm, max_sid_depth=1, slots=2)
    assert ex.unexpressible[["src", "dst", "path", "depth"]].values.tolist() == [["A", "D", "A-C-D", 2]]
    assert ex.sid_depths().max() == 1
    assert ex.mlu["expressible"] == pytest.approx(1.2)  # 12 and 12 Gbit/s on the two 1-SID paths
    assert ex.mlu["quantised"] == pytest.approx(1.2)


def test_sid_plan_checks():
    with pytest.raises(ValidationError, match="overlap"):
        SidPlan(srgb_base=16000, adjacency_base=16002).check(kite())
    with pytest.raises(ValidationError, match="MPLS range"):
        SidPlan(srgb_base=1_048_575).check(kite())
    with pytest.raises(ValidationError, match="'slots' parameter"):
        export_sr(kite(), Routing.first_path(kite_paths(kite())), slots=0)


# ---------------------------------------------------------------------------------------- few policies
@pytest.fixture(scope="module")
def morocco_case():
    net = morocco()
    rng = np.random.default_rng(3)
    pop = net.nodes["population"].to_numpy(float)
    tm = np.outer(pop, pop) * rng.uniform(0.5, 1.5, (net.n_nodes,) * 2)
    np.fill_diagonal(tm, 0.0)
    ps = k_shortest_paths(net, k=4)
    igp_mlu = evaluate(net, Routing(ps, ecmp_splits(net, ps)), tm).mlu
    tm *= 1.2 / igp_mlu  # IGP routing at 120%: TE has work to do
    return net, ps, tm


def test_few_policies_curve_reaches_the_optimum(morocco_case):
    net, ps, tm = morocco_case
    opt = solve(net, ps, tm, "optimal").info["mlu"]
    r, curve = few_policies(net, ps, tm, target_gap=0.02)
    assert curve["mlu"].iloc[0] == pytest.approx(1.2)
    assert (np.diff(curve["mlu"]) <= 1e-9).all()  # each policy lowers the MLU
    assert r.info["mlu"] <= opt * 1.02 + 1e-9
    assert evaluate(net, r, tm).mlu == pytest.approx(r.info["mlu"])
    n = len(curve) - 1
    assert 0 < n == len(r.info["policies"])
    ex = export_sr(net, r, tm, curve=curve)
    chosen = {(ps.node_names[ps.od_src[k]], ps.node_names[ps.od_dst[k]]) for k in r.info["policies"]}
    assert {(p.headend, p.endpoint) for p in ex.policies} <= chosen  # only chosen ODs differ from the IGP
    assert ex.n_policies >= n - 2 and ex.mlu["expressible"] == pytest.approx(r.info["mlu"])
    r2, curve2 = few_policies(net, ps, tm, max_policies=2)
    assert len(curve2) == 3 and curve2["mlu"].iloc[-1] == pytest.approx(curve["mlu"].iloc[2])
    r0, _ = few_policies(net, ps, tm, max_policies=0)
    assert export_sr(net, r0, tm).n_policies == 0


def test_few_policies_reach_the_goal_where_ods_must_move_together():
    """Morocco with gravity traffic: adding one OD at a time stalls at 0.891 (four links tied, each
    relief needs two ODs to move); the LP + backward elimination step reaches the goal."""
    from surgeguard.serve.loaders import load_inputs
    net, ts = load_inputs("morocco", "gravity")
    tm = ts.matrix(0)
    ps = k_shortest_paths(net, k=4)
    opt = solve(net, ps, tm, "optimal").info["mlu"]
    r, curve = few_policies(net, ps, tm, target_gap=0.02, reference_mlu=opt)
    assert r.info["mlu"] <= opt * 1.02 + 1e-9
    assert (np.diff(curve["mlu"]) <= 1e-9).all() and len(curve) - 1 < 40
    assert evaluate(net, r, tm).mlu == pytest.approx(r.info["mlu"])


def test_report_section_formats_the_export(morocco_case):
    net, ps, tm = morocco_case
    r, curve = few_policies(net, ps, tm, max_policies=3)
    ex = export_sr(net, r, tm, curve=curve)
    title, html = sr_policies_section(ex)
    assert title.startswith("Deploy")
    assert f"{ex.mlu['quantised']:.4f}" in html and f"{ex.mlu['igp']:.4f}" in html
    assert html.count("<circle") == len(curve) and "optimum" in html
    assert html.count("<tr><td>") >= ex.n_policies
    _, empty = sr_policies_section(export_sr(net, Routing(ps, ecmp_splits(net, ps)), tm))
    assert "No OD pair needs a policy" in empty


# ---------------------------------------------------------------------------------------- formats
@pytest.fixture(scope="module")
def morocco_export(morocco_case):
    net, ps, tm = morocco_case
    r = solve(net, ps, tm, "optimal")
    return r, export_sr(net, r, tm, slots=32), tm


def test_json_round_trips_into_the_same_routing(morocco_export, tmp_path):
    r, ex, tm = morocco_export
    net, ps = ex.network, r.paths
    assert ex.n_policies > 10 and len(ex.unexpressible) == 0
    write_export(ex, tmp_path, "json")
    docs = read_json_policies(tmp_path)
    exact = routing_from_policies(net, ps, docs, use="split")
    d = ps.demand(tm)
    has = d[ps.path_od] > 0
    # ODs with traffic: the routing itself, but for splits under SPLIT_TOL (no segment list for them)
    np.testing.assert_allclose(exact.splits[has], r.splits[has], atol=1e-5)
    np.testing.assert_allclose(exact.splits, ex.routings["expressible"].splits, atol=1e-12)
    weighted = routing_from_policies(net, ps, docs)
    np.testing.assert_allclose(weighted.splits, ex.routings["quantised"].splits, atol=1e-12)
    assert evaluate(net, weighted, tm).mlu == pytest.approx(ex.mlu["quantised"])
    doc = json.loads(next(p for p in sorted(tmp_path.glob("*.json")) if p.name != "summary.json").read_text())
    pol = doc["policies"][0]
    assert {"color", "endpoint", "candidate_paths"} <= set(pol)
    cp = pol["candidate_paths"][0]
    assert cp["preference"] == 100 and sum(sl["weight"] for sl in cp["segment_lists"]) == 32
    assert all(s["segment_type"] == "A" for sl in cp["segment_lists"] for s in sl["segments"])


def test_json_import_rejects_foreign_documents(tmp_path, morocco_export):
    (tmp_path / "x.json").write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a surgeguard SR policy document"):
        read_json_policies(tmp_path)
    r, ex, _ = morocco_export
    write_export(ex, tmp_path / "ok", "json")
    with pytest.raises(InputError):
        routing_from_policies(kite(), kite_paths(kite()), read_json_policies(tmp_path / "ok"))


def test_frr_parser_accepts_every_generated_file(morocco_export, tmp_path):
    exe = vtysh_or_skip()
    r, ex, _ = morocco_export
    files = write_export(ex, tmp_path, "frr")
    confs = [p for p in files if p.suffix == ".conf"]
    assert len(confs) == len(ex.headends()) > 5
    for p in confs:
        ok, text = check_frr_config(p, exe)
        assert ok, f"{p.name}: {text}"
    # the kite's adjacency SID and multi-list policies too
    net = kite()
    kr = routing_with(kite_paths(net), net, {("A", "D"): [0.5, 0.25, 0.25]})
    kx = export_sr(net, kr, tm_of(net, {("A", "D"): 8 * G}), slots=8)
    for p in write_export(kx, tmp_path / "kite", "frr"):
        if p.suffix == ".conf":
            ok, text = check_frr_config(p, exe)
            assert ok, text
            assert "one segment list per candidate path" in p.read_text()
    # the parser is a real check: a broken line is named
    bad = tmp_path / "bad.conf"
    bad.write_text(confs[0].read_text().replace("mpls label", "mpls lable", 1))
    ok, text = check_frr_config(bad, exe)
    assert not ok and "Unknown command" in text


def test_frr_and_pola_keep_one_list_and_say_what_it_costs(morocco_export, tmp_path):
    r, ex, _ = morocco_export
    multi = [p for p in ex.policies if len(p.deployed) > 1]
    assert multi, "the optimum splits some OD"
    assert ex.mlu["single_list"] >= ex.mlu["quantised"] - 1e-12
    frr = render(ex, "frr")
    text = "".join(frr.values())
    assert f"{ex.mlu['single_list']:.6g}" in text
    assert text.count("segment-list ") == 2 * ex.n_policies  # one list defined and used per policy
    write_export(ex, tmp_path, "frr")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["mlu_of_format"] == ex.mlu["single_list"] and "one segment list" in summary["expresses"]
    pola = render(ex, "pola")
    assert len(pola) == ex.n_policies
    p = multi[0]
    doc = yaml.safe_load(next(v for k, v in pola.items() if k.endswith(f"/{p.name}.yaml")))["srPolicy"]
    assert doc["srcAddr"] == p.headend_address and doc["dstAddr"] == p.endpoint_address
    assert doc["color"] == p.color and doc["pcepSessionAddr"] == p.headend_address
    assert [int(s["sid"]) for s in doc["segmentList"]] == list(p.single.labels)
    assert all("localAddr" in s for s in doc["segmentList"])


def test_iosxr_carries_every_list_with_its_weight(morocco_export):
    r, ex, _ = morocco_export
    cfg = render(ex, "iosxr")
    assert len(cfg) == len(ex.headends())
    text = "".join(cfg.values())
    n_lists = sum(len(p.deployed) for p in ex.policies)
    assert text.count("explicit segment-list ") == n_lists
    weights = [int(line.split()[1]) for line in text.splitlines() if line.strip().startswith("weight ")]
    assert len(weights) == n_lists and sum(weights) == 32 * ex.n_policies
    assert text.count(" end-point ipv4 ") == ex.n_policies


def test_reexport_removes_files_of_head_ends_that_lost_their_policies(tmp_path):
    net = kite()
    ps = kite_paths(net)
    tm = tm_of(net, {("A", "D"): 24 * G})
    ex = export_sr(net, routing_with(ps, net, {("A", "D"): [1 / 3, 1 / 3, 1 / 3]}), tm)
    write_export(ex, tmp_path, "iosxr")
    assert (tmp_path / "A.cfg").is_file()
    write_export(export_sr(net, Routing(ps, ecmp_splits(net, ps)), tm), tmp_path, "iosxr")
    assert not (tmp_path / "A.cfg").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["policies"] == 0


# ---------------------------------------------------------------------------------------- CLI
runner = CliRunner()


@pytest.fixture
def cli_files(tmp_path):
    nodes = [{"id": n} for n in "ABCD"]
    links = []
    for a, b, m in [("A", "B", 1), ("B", "D", 1), ("A", "C", 1), ("C", "D", 2), ("A", "D", 5)]:
        links += [{"source": a, "target": b, "capacity": 10 * G, "metric": m},
                  {"source": b, "target": a, "capacity": 10 * G, "metric": m}]
    net = tmp_path / "kite.json"
    net.write_text(json.dumps({"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}))
    tm = tmp_path / "tm.csv"
    tm.write_text("ds,src,dst,bps\n2020-03-20T00:00Z,A,D,24e9\n2020-03-20T00:00Z,B,D,1e9\n"
                  "2020-03-20T00:15Z,A,D,12e9\n2020-03-20T00:15Z,B,D,1e9\n")
    return tmp_path, str(net), str(tm)


def test_cli_exports_and_the_json_round_trips(cli_files):
    tmp, net, tm = cli_files
    out = tmp / "sr"
    res = runner.invoke(app, ["export", "sr", "--network", net, "--traffic", tm, "--policy", "optimal",
                              "--format", "json", "--out", str(out), "--slots", "3", "--k", "3", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["step"] == 0  # the step with the most traffic
    assert summary["mlu"]["routing"] == pytest.approx(25 / 30)  # 25 Gbit/s over three 10 Gbit/s paths
    assert summary["policies"] >= 1 and (out / "A.json").is_file()
    from surgeguard.io import read_network
    network = read_network(net)
    ps = k_shortest_paths(network, k=3)
    back = routing_from_policies(network, ps, read_json_policies(out))
    tmx = np.zeros((4, 4))
    tmx[0, 3], tmx[1, 3] = 24e9, 1e9
    assert evaluate(network, back, tmx).mlu == pytest.approx(summary["mlu"]["quantised"])
    # re-running into its own folder needs no --force; every format writes
    for fmt in ("iosxr", "frr", "pola", "json"):
        res = runner.invoke(app, ["export", "sr", "-n", net, "-t", tm, "-f", fmt, "-o", str(tmp / fmt),
                                  "--target-gap", "0.02", "--k", "3"])
        assert res.exit_code == 0, res.output
        assert "policies: " in res.output and (tmp / fmt / "summary.json").is_file()


@pytest.mark.parametrize("args, words", [
    (["--format", "xml"], ["--format", "'xml'", "json"]),
    (["--format", "json", "--max-policies", "2", "--target-gap", "0.1"], ["--max-policies", "--target-gap"]),
    (["--format", "json", "--slots", "0"], ["--slots", "0"]),
    (["--format", "json", "--max-sid-depth", "0"], ["--max-sid-depth"]),
    (["--format", "json", "--target-gap", "-1"], ["--target-gap", "-1"]),
    (["--format", "json", "--policy", "nope"], ["nope"]),
])
def test_cli_bad_input_is_one_line(cli_files, args, words):
    tmp, net, tm = cli_files
    res = runner.invoke(app, ["export", "sr", "-n", net, "-t", tm, "-o", str(tmp / "o")] + args)
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for w in words:
        assert w in text, text
    assert not (tmp / "o").exists()


def test_cli_keeps_files_of_another_result_unless_forced(cli_files):
    tmp, net, tm = cli_files
    (tmp / "p").mkdir()
    (tmp / "p" / "A.json").write_text("{}")  # not an export's folder: no summary.json
    args = ["export", "sr", "-n", net, "-t", tm, "-f", "json", "-o", str(tmp / "p"), "--k", "3"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "A.json" in res.output and "--force" in res.output, res.output
    assert (tmp / "p" / "A.json").read_text() == "{}"
    res = runner.invoke(app, args + ["--force"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp / "p" / "A.json").read_text())["headend"]["node"] == "A"
