"""IGP metric optimisation (issue 14): the incremental ECMP engine, the search, its limits, configs and CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard import TrafficSeries
from surgeguard.deploy.formats import check_frr_config
from surgeguard.deploy.metrics import MetricChange, metric_config, optimise_metrics, select_matrices, start_weights
from surgeguard.deploy.metrics_ecmp import IncrementalEcmp
from surgeguard.examples import morocco, ring, two_paths
from surgeguard.exceptions import ValidationError
from surgeguard.failures import failure_masks, failure_scenarios
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.io import ABILENE_NODES, read_cfrrl, read_network, read_zhang
from surgeguard.network import Network
from surgeguard.paths import k_shortest_paths
from surgeguard.plan.whatif import EcmpReconvergence
from surgeguard.scenario.synthetic import gravity_matrix
from surgeguard.serve.cli import app

runner = CliRunner()


def _with_metrics(net: Network, w) -> Network:
    links = net.links.copy()
    links["metric"] = np.asarray(w, dtype=float)
    return Network(net.nodes, links, name=net.name)


def _mlu(net: Network, w, tm) -> float:
    """MLU of ECMP on metrics ``w``, by the library's own routing matrix (independent of the search)."""
    rm = ecmp_routing_matrix(_with_metrics(net, w))
    return float((rm.loads(tm) / net.capacity).max())


def _morocco_tm(total=400e9):
    net = morocco()
    return net, gravity_matrix(net, total)


# ---------------------------------------------------------------------------------------------- engine
def test_incremental_engine_matches_routing_matrix_and_reconvergence():
    net, tm = _morocco_tm()
    rng = np.random.default_rng(1)
    w = rng.integers(1, 30, net.n_links).astype(float)
    fails = failure_scenarios(net, "single-link")[:3]
    alive = np.stack([np.ones(net.n_links, bool)] + [failure_masks(net, f)[0] for f in fails])
    eng = IncrementalEcmp(net, np.stack([tm, 0.5 * tm.T]), w, alive)
    for _ in range(15):                                  # random weight changes, each applied incrementally
        eng.commit(eng.trial(int(rng.integers(net.n_links)), float(rng.integers(1, 40))))
    ref_net = _with_metrics(net, eng.w)
    rm = ecmp_routing_matrix(ref_net)
    assert np.allclose(eng.total[0][:, 0], rm.loads(tm), rtol=1e-9, atol=1e-3)
    assert np.allclose(eng.total[0][:, 1], rm.loads(0.5 * tm.T), rtol=1e-9, atol=1e-3)
    rec = EcmpReconvergence(ref_net)
    for s, f in enumerate(fails, start=1):
        assert np.allclose(eng.total[s][:, 0], rec.link_loads(tm, f).total, rtol=1e-9, atol=1e-3)
    # the same in blocks of 3 destinations (how large networks are solved)
    small = IncrementalEcmp(net, np.stack([tm, 0.5 * tm.T]), eng.w, alive)
    small.block_entries = 3 * net.n_nodes ** 2
    small.set_weights(eng.w)
    for s in range(len(alive)):
        assert np.allclose(small.total[s], eng.total[s], rtol=1e-9, atol=1e-3)


# ---------------------------------------------------------------------------------------------- search
def test_hand_checked_hotspot_is_fixed_by_one_tie():
    """two_paths: 15 Gbit/s S->T all on S-A-T (1+1) at the start, MLU 1.5 on 10 Gbit/s links. Making one
    hop of either route tie the other (cost 4 both ways) splits it 7.5 / 7.5: MLU 0.75, the optimum."""
    net = two_paths()
    tm = np.zeros((4, 4))
    tm[0, 3] = 15e9
    res = optimise_metrics(net, tm, max_evaluations=500, seed=0)
    assert res.mlu_start == pytest.approx(1.5)
    assert res.mlu == pytest.approx(0.75)
    assert res.n_changes == 1                            # the pruning leaves the single change that is needed
    c = res.changes[0]
    assert c.mlu == pytest.approx(0.75)
    assert c.link in ("S->A", "A->T", "S->B", "B->T")
    i = net.link_names.index(c.link)
    assert res.weights[i] == c.new and res.weights_start[i] == c.old
    # the two routes now cost the same
    w = dict(zip(net.link_names, res.weights))
    assert w["S->A"] + w["A->T"] == w["S->B"] + w["B->T"]
    # the routing handed on is the optimised ECMP routing
    assert float((res.routing_matrix.loads(tm) / net.capacity).max()) == pytest.approx(0.75)
    ps = k_shortest_paths(net, k=2)
    assert res.to_routing(ps, tm).info["mlu"] == pytest.approx(0.75)


@pytest.mark.parametrize("case", range(4))
def test_never_worse_than_start(case):
    rng = np.random.default_rng(case)
    net, tm = _morocco_tm(total=float(rng.uniform(100e9, 900e9)))
    tm = tm * rng.uniform(0.2, 3.0, tm.shape)
    start = rng.integers(1, 50, net.n_links).astype(float)
    res = optimise_metrics(net, tm, start=start, max_evaluations=int(rng.integers(0, 300)), seed=case,
                           time_limit=None, max_kicks=2)
    assert res.mlu <= res.mlu_start * (1 + 1e-12)
    assert res.mlu_start == pytest.approx(_mlu(net, start, tm), rel=1e-9)
    assert res.mlu == pytest.approx(_mlu(net, res.weights, tm), rel=1e-9)
    assert len(res.changes) == int((res.weights != start).sum())
    if res.changes:
        assert res.changes[-1].mlu == pytest.approx(res.mlu, rel=1e-9)


def test_zero_budget_returns_the_start():
    net, tm = _morocco_tm()
    res = optimise_metrics(net, tm, max_evaluations=0, time_limit=None)
    assert res.n_changes == 0 and np.array_equal(res.weights, net.metric)
    assert res.mlu == res.mlu_start


@pytest.mark.parametrize("k", [0, 1, 3])
def test_max_changes_respected(k):
    net, tm = _morocco_tm(600e9)
    res = optimise_metrics(net, tm, max_changes=k, max_evaluations=1000, seed=0, time_limit=None)
    assert res.n_changes <= k and int((res.weights != net.metric).sum()) <= k
    assert res.mlu <= res.mlu_start * (1 + 1e-12)
    if k == 0:
        assert res.mlu == res.mlu_start
    else:
        assert res.mlu < res.mlu_start
    # each listed change's MLU is that of the changes so far, applied in order
    w = net.metric.astype(float).copy()
    for c in res.changes:
        w[net.link_names.index(c.link)] = c.new
        assert c.mlu == pytest.approx(_mlu(net, w, tm), rel=1e-9)


def test_symmetric_changes_move_both_directions():
    net, tm = _morocco_tm(600e9)
    tm = tm * np.random.default_rng(5).uniform(0.3, 2.0, tm.shape)        # asymmetric demand
    res = optimise_metrics(net, tm, symmetric=True, max_changes=6, max_evaluations=800, seed=0, time_limit=None)
    rev = {(s, d): i for i, (s, d) in enumerate(zip(net.src, net.dst))}
    for i, (s, d) in enumerate(zip(net.src, net.dst)):
        assert res.weights[i] == res.weights[rev[d, s]]
    assert res.n_changes <= 6 and res.n_changes % 2 == 0 and res.n_changes >= 2
    assert res.mlu < res.mlu_start
    assert res.mlu == pytest.approx(_mlu(net, res.weights, tm), rel=1e-9)
    steps = pd.Series([c.step for c in res.changes]).value_counts()
    assert (steps % 2 == 0).all()                          # a fibre's two directions go in the same step


def test_several_matrices_and_single_failures():
    net = ring(5)
    rng = np.random.default_rng(3)
    tms = rng.uniform(0, 2e9, (2, 5, 5))
    res = optimise_metrics(net, tms, failures="single", max_evaluations=400, seed=0, time_limit=None)
    fails = failure_scenarios(net, "single-link")
    assert len(res.scenario_mlu) == 2 * (1 + len(fails))
    assert res.mlu == pytest.approx(res.scenario_mlu["mlu"].max())
    assert res.mlu_start == pytest.approx(res.scenario_mlu["mlu_start"].max())
    assert res.mlu <= res.mlu_start * (1 + 1e-12)
    # the failure rows agree with the what-if's reconvergence on the optimised metrics
    rec = EcmpReconvergence(res.optimised)
    worst = max(float((rec.link_loads(tm, f).total / net.capacity).max()) for tm in tms for f in fails)
    assert worst == pytest.approx(res.scenario_mlu.loc[res.scenario_mlu.failure != "(none)", "mlu"].max(), rel=1e-9)


def test_start_weights_and_bad_parameters():
    net = two_paths(capacity=10e9)
    assert start_weights(net, "unit").tolist() == [1.0] * net.n_links
    assert start_weights(net, "invcap").tolist() == [1.0] * net.n_links
    tm = np.zeros((4, 4))
    with pytest.raises(ValidationError, match="start metrics"):
        optimise_metrics(net, tm, start="bogus")
    with pytest.raises(ValidationError, match="max_changes"):
        optimise_metrics(net, tm, max_changes=-1)
    with pytest.raises(ValidationError, match="expected"):
        optimise_metrics(net, np.zeros((3, 3)))


def test_select_matrices():
    times = pd.date_range("2020-03-20T16:00Z", periods=6, freq="1h")
    v = np.array([1.0, 5, 3, 4, 2, 6])[:, None, None] * np.ones((6, 2, 2))
    ts = TrafficSeries(v, ("a", "b"), times)
    assert select_matrices(ts, "peak")[1] == [5]
    assert select_matrices(ts, "top:3")[1] == [5, 1, 3]
    assert select_matrices(ts, "steps:0,-1")[1] == [0, 5]
    assert select_matrices(ts, "hours:18-20")[1] == [2, 3]
    assert select_matrices(ts, "hours:20-17")[1] == [0, 4, 5]
    for bad in ("top:0", "steps:9", "hours:5-5", "bogus", "hours:3-4"):
        with pytest.raises(ValidationError, match="matrices"):
            select_matrices(ts, bad)


# ---------------------------------------------------------------------------------------------- configs
def _changes():
    return [MetricChange("S->A", "S", "A", 1.0, 3.0, 0.75, 1.0), MetricChange("B->T", "B", "T", 2.0, 7.0, 0.7, 1.0)]


def test_iosxr_config_text():
    conf = metric_config(two_paths(), _changes(), format="iosxr", protocol="isis", instance="CORE")
    assert set(conf) == {"S", "B"}
    lines = conf["S"].splitlines()
    i = lines.index("router isis CORE")
    assert lines[i + 1:i + 4] == [" interface to-A", "  address-family ipv4 unicast", "   metric 3"]
    ospf = metric_config(two_paths(), _changes(), format="iosxr", protocol="ospf", instance="1")["B"]
    assert "router ospf 1\n area 0\n  interface to-T\n   cost 7\n" in ospf


@pytest.mark.parametrize("protocol", ["isis", "ospf"])
def test_frr_config_accepted_by_frr(tmp_path, protocol):
    conf = metric_config(two_paths(), _changes(), format="frr", protocol=protocol)
    p = tmp_path / "frr.conf"
    p.write_text("".join(conf.values()))
    try:
        ok, msg = check_frr_config(p)
    except Exception as err:  # noqa: BLE001 - FRR absent: nothing to check against
        pytest.skip(f"FRR's vtysh unavailable: {err}")
    assert ok, msg
    assert (" isis metric 3" if protocol == "isis" else " ip ospf cost 3") in conf["S"]


def test_config_uses_interface_column():
    net = two_paths()
    links = net.links.copy()
    links["interface"] = [f"Gi0/0/0/{i}" for i in range(net.n_links)]
    net = Network(net.nodes, links, name="x")
    text = metric_config(net, _changes()[:1], format="iosxr")["S"]
    assert " interface Gi0/0/0/0" in text and "assumed" not in text


# ---------------------------------------------------------------------------------------------- CLI
def _cfrrl_two_paths(path):
    rows = [(0, 1, 1), (1, 0, 1), (1, 3, 1), (3, 1, 1), (0, 2, 2), (2, 0, 2), (2, 3, 2), (3, 2, 2)]
    lines = [f"Node_num: 4\tEdge_num: {len(rows)}", "Link_index\tSource\tDestination\tOSPF\tCapacity(kbps)"]
    lines += [f"{k}\t{s}\t{t}\t{w}\t10000000" for k, (s, t, w) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def cli_files(tmp_path):
    net = _cfrrl_two_paths(tmp_path / "net.txt")
    times = pd.date_range("2020-03-20", periods=3, freq="15min", tz="UTC")
    rows = [(t, "0", "3", 5e9 * (1 + i)) for i, t in enumerate(times)]
    tr = tmp_path / "tm.csv"
    pd.DataFrame(rows, columns=["ds", "src", "dst", "bps"]).to_csv(tr, index=False)
    return tmp_path, net, str(tr)


def test_cli_round_trip(cli_files):
    tmp, net, tr = cli_files
    out = tmp / "out"
    r = runner.invoke(app, ["optimise-metrics", "-n", net, "-t", tr, "--matrices", "top:2", "--format", "frr",
                            "--symmetric", "--time-limit", "5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mlu_start"] == pytest.approx(1.5) and summary["mlu"] == pytest.approx(0.75)
    assert summary["info"]["steps"] == [2, 1]
    metrics = pd.read_csv(out / "metrics.csv", index_col="link")
    changes = pd.read_csv(out / "changes.csv")
    assert len(changes) == summary["n_changes"] == int(metrics["changed"].sum()) >= 2      # --symmetric: pairs
    assert summary["info"]["symmetric"] is True
    # the written metrics, read back into the network, give the MLU the summary states
    base = read_network(net)
    w = metrics.loc[list(base.link_names), "new_metric"].to_numpy()
    assert _mlu(base, w, np.pad(np.array([[0, 0, 0, 15e9]]), ((0, 3), (0, 0)))) == pytest.approx(summary["mlu"])
    assert (out / "metrics-frr.conf").read_text().count("interface to-") == len(changes)
    # again into its own folder: allowed without --force
    r = runner.invoke(app, ["optimise-metrics", "-n", net, "-t", tr, "--max-changes", "0", "--failures", "single",
                            "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["n_changes"] == 0 and summary["mlu"] == summary["mlu_start"]
    assert len(summary["scenarios"]) == 1 + 4            # the peak matrix, intact and each of the 4 fibres cut


@pytest.mark.parametrize("args,words", [
    (["--format", "junos"], ["--format", "iosxr, frr", "'junos'"]),
    (["--protocol", "rip"], ["--protocol", "'rip'"]),
    (["--failures", "double"], ["--failures", "'double'"]),
    (["--matrices", "top:0"], ["--matrices", "top:0"]),
    (["--matrices", "steps:99"], ["--matrices", "99"]),
    (["--max-changes", "-1"], ["--max-changes", "-1"]),
    (["--max-metric", "0"], ["--max-metric", "0"]),
    (["--time-limit", "0"], ["--time-limit"]),
    (["--instance", "bad name"], ["--instance", "'bad name'"]),
    (["--start", "random"], ["--start", "'random'"]),
])
def test_cli_errors_are_one_line(cli_files, args, words):
    tmp, net, tr = cli_files
    r = runner.invoke(app, ["optimise-metrics", "-n", net, "-t", tr, "--time-limit", "2", *args,
                            "--out", str(tmp / "o")])
    assert r.exit_code == 2, r.output
    text = r.output.strip()
    assert len(text.splitlines()) == 1 and text.startswith("error:") and "Traceback" not in text, text
    for w in words:
        assert w in text, text


# ---------------------------------------------------------------------------------------------- real data
def test_abilene_peak_gains(shared_data):
    """The busiest Abilene interval (CFR-RL OSPF weights): the search lowers the MLU by > 25 %."""
    d = shared_data / "abilene"
    net = read_cfrrl(d / "topology" / "cfrrl_Abilene.txt", node_names=ABILENE_NODES)
    ts = read_zhang(d / "zhang_real_od" / "X01_real_144col.txt.xz").reorder(net.node_names)
    tms, _ = select_matrices(ts, "peak")
    res = optimise_metrics(net, tms, max_evaluations=2000, time_limit=None, seed=0)
    assert res.mlu < 0.75 * res.mlu_start
    assert res.mlu == pytest.approx(_mlu(net, res.weights, tms[0]), rel=1e-9)
