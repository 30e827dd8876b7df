"""The controller (issue 12, section 2): `surgeguard run` on a counter file, end to end.

Morocco with a day and a bit of synthetic traffic and a sharp surge, routed over the IGP by the
telemetry simulator and written as router counters (a real file, read by the real reader); the
controller estimates, forecasts, detects, decides and stores every interval in a real DuckDB file.
Checked against independent computations: the stored link rates are the simulator's loads, each
estimate reproduces them through the IGP routing matrix, each decision's predicted MLU is the MLU
of its stored splits on the stored forecast, a restart resumes after the last stored interval with
no duplicate and the routing that was in force, and bad configurations are one line, exit 2.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard.evaluate import evaluate
from surgeguard.examples import morocco
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.plan import size_capacities
from surgeguard.routing import Routing
from surgeguard.scenario import Lockdown, gravity_series
from surgeguard.serve.cli import app
from surgeguard.serve.config import SETTINGS, load_config
from surgeguard.serve.controller import build_controller
from surgeguard.store import open_store
from surgeguard.telemetry.files import write_counters
from surgeguard.telemetry.simulate import TelemetrySimulator

STEP = pd.Timedelta(minutes=5)
SURGE = pd.Timestamp("2020-03-20T01:00Z")
N = 14  # intervals run: 01:00 .. 02:05, the detector's hourly bin of the surge ends at 02:00


def write_case(folder: Path, *, hours: float = 30.0, surge: bool = True, resets=(), drop=None, seed: int = 1):
    """Counters of Morocco (capacities sized for 60 % peak) for ``hours`` of 5-minute traffic from
    2020-03-19, with traffic doubling at :data:`SURGE`; ``drop(frame) -> frame`` removes samples.
    Returns ``(network, series, simulator, counters path, interface map path)``."""
    net = morocco()
    ts = gravity_series(net, "2020-03-19", int(hours * 12), "5min", total_bps=800e9, random_state=seed)
    net = size_capacities(net, ts, target_util=0.6)
    if surge:
        ts = Lockdown(start=SURGE, growth=1.0, ramp_days=0.01, daytime_boost=0.0, upload_extra=0.0).apply(
            ts, network=net)
    sim = TelemetrySimulator(net, ts, seed=seed, resets=list(resets))
    frame = sim.counter_frame()
    if drop is not None:
        frame = drop(frame)
    folder.mkdir(parents=True, exist_ok=True)
    counters = write_counters(frame, folder / "counters.parquet")
    imap = folder / "interfaces.csv"
    sim.interfaces.to_frame().to_csv(imap, index=False)
    return net, ts, sim, counters, imap


def file_config(counters, imap, store, **more):
    values = {"telemetry.source": "file", "telemetry.file": str(counters), "network.interfaces": str(imap),
              "store.path": str(store), "metrics.enabled": False, "log.progress": "plain",
              "controller.history": "2h", "detect.detector": "none"}
    values.update(more)
    return load_config(None, values)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return write_case(tmp_path_factory.mktemp("case"))


def splits_routing(paths, frame: pd.DataFrame) -> Routing:
    """A routing from a stored splits frame, matched to ``paths`` by OD and path index (independent
    of the controller's own matching)."""
    s = np.zeros(paths.n_paths)
    names = list(paths.node_names)
    od = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(paths.od_src, paths.od_dst))}
    for r in frame.itertuples():
        s[paths.od_ptr[od[names.index(r.src), names.index(r.dst)]] + int(r.path)] = r.weight
    return Routing(paths, s, "stored")


# ---------------------------------------------------------------------------------------------- end to end
def test_file_source_end_to_end_then_resume_without_duplicates(case, tmp_path):
    net, ts, sim, counters, imap = case
    store_path = tmp_path / "s.duckdb"
    cfg = file_config(counters, imap, store_path, **{"controller.history": "1d", "detect.detector": "cusum"})
    lines: list[str] = []
    ctl = build_controller(cfg, log=lines.append)
    try:
        # a day and an hour of history read (the detector needs whole hours of a whole day)
        assert ctl.next_ds == ts.times[300] == pd.Timestamp("2020-03-20T01:00Z")
        assert ctl.detector_fitted and ctl.forecaster_fitted
        # capacities from the counters' ifHighSpeed: the sized ones, not the topology's 100G
        np.testing.assert_allclose(ctl.network.capacity, net.capacity)
        results = ctl.run(max_intervals=N)
        paths = ctl.paths
    finally:
        ctl.close()
    assert [r.ds for r in results] == list(ts.times[300:300 + N])
    rm = ecmp_routing_matrix(net)
    with open_store(store_path, read_only=True) as st:
        assert st.count("intervals") == N and st.verify().empty
        dec = st.decisions()
        assert list(dec["ds"]) == list(ts.times[300:300 + N]) and (dec["status"] == "ok").all()
        assert (dec["policy"] == "optimal").all() and np.isfinite(dec["mlu"]).all()
        # the stored link rates are the simulator's loads (whole octets over 300 s)
        t, bps = st.link_rate_array(net.link_names)
        np.testing.assert_allclose(bps, sim.loads.bps[300:300 + N], rtol=1e-9, atol=1.0)
        est = st.estimate_series(net.node_names)
        for k, ds in enumerate(est.times):
            # each estimate reproduces the measured loads through the IGP routing matrix
            loads = rm.loads(est.values[k][None])[0]
            assert np.linalg.norm(loads - bps[k]) <= 1e-6 * np.linalg.norm(bps[k])
            # the decision's predicted MLU is its stored splits' MLU on the stored forecast
            fc = st.forecasts(ds, ds + STEP)
            assert (fc["ds"] == ds + STEP).all()
            F = np.zeros((net.n_nodes, net.n_nodes))
            names = list(net.node_names)
            F[[names.index(x) for x in fc["src"]], [names.index(x) for x in fc["dst"]]] = fc["bps"]
            # the naive forecast is the interval's own estimate
            np.testing.assert_allclose(F, est.values[k], rtol=1e-9)
            routing = splits_routing(paths, st.splits(ds, ds + STEP))
            mlu = float(evaluate(net, routing, F).mlu)
            assert mlu == pytest.approx(dec["mlu"].iloc[k], rel=1e-6)
            # optimal is no worse than the IGP's ECMP routing of the matrix it routed
            igp = float((rm.loads(F[None])[0] / net.capacity).max())
            assert 0 < mlu <= igp + 1e-9
        # the surge at 01:00 doubles the traffic: the detector raises alerts, stored
        alerts = st.alerts()
        assert len(alerts) >= 1 and (alerts["ds"] >= SURGE).all() and (alerts["shift"] > 0).all()
        assert (alerts["detector"] == "cusum").all()
    assert sum(len(r.alerts) for r in results) == len(alerts)
    assert all(" | stored " in x for x in lines if x.startswith("2020-03-20T"))
    assert sum(x.startswith("2020-03-20T") for x in lines) == N

    # restart: resumes after the last stored interval, with the routing that was in force
    lines.clear()
    ctl = build_controller(cfg, log=lines.append)
    try:
        assert ctl.next_ds == ts.times[300 + N]
        assert ctl.in_force is not None and ctl.in_force_ds == ts.times[299 + N]
        np.testing.assert_allclose(ctl.in_force.splits, results[-1].routing.splits, atol=1e-12)
        more = ctl.run(max_intervals=3)
    finally:
        ctl.close()
    assert any("is in force again" in x for x in lines)
    assert [r.ds for r in more] == list(ts.times[300 + N:303 + N])
    # the first resumed interval judges its estimate under the routing restored from the store
    assert more[0].estimated_mlu == pytest.approx(float(evaluate(net, results[-1].routing, more[0].estimate).mlu))
    with open_store(store_path, read_only=True) as st:
        iv = st.intervals()
        assert list(iv["ds"]) == list(ts.times[300:303 + N]) and iv["ds"].is_unique
        assert list(iv["run"]) == [1] * N + [2] * 3
        assert len(st.runs()) == 2 and st.count("decisions") == N + 3


def test_a_file_ends_and_the_run_stops(tmp_path):
    _, ts, _, counters, imap = write_case(tmp_path / "c", hours=2.5, surge=False)
    cfg = file_config(counters, imap, tmp_path / "s.duckdb", **{"controller.history": "2h"})
    lines: list[str] = []
    ctl = build_controller(cfg, log=lines.append)
    try:
        results = ctl.run()  # no limit: until the file ends
    finally:
        ctl.close()
    assert [r.ds for r in results] == list(ts.times[24:])
    assert "end of telemetry after 2020-03-19T02:25:00Z" in lines[-1]


def test_hedge_policy_decides_from_the_estimated_history(case, tmp_path):
    """`policy = "hedge"` (no model: optimal-last and robust blended) with `input = "history"`: every
    decision is the hedge's, stored with its splits on the simplex, and no worse than its worst expert."""
    _, ts, _, counters, imap = case
    cfg = file_config(counters, imap, tmp_path / "s.duckdb", **{"policy.name": "hedge", "policy.input": "history"})
    ctl = build_controller(cfg, log=lambda _: None)
    try:
        results = ctl.run(max_intervals=4)
        weights = ctl.policy.weights_ @ ctl.policy.blends_
    finally:
        ctl.close()
    assert [r.status for r in results] == ["ok"] * 4 and all(r.policy == "hedge" for r in results)
    assert ctl.policy.expert_names_ == ["optimal-last", "robust"] and weights.sum() == pytest.approx(1.0)
    assert len(ctl.policy.history_) >= 4  # scored every interval seen (warm-up included)
    with open_store(tmp_path / "s.duckdb", read_only=True) as st:
        assert (st.decisions()["policy"] == "hedge").all()


def test_metrics_served_and_critical_class_protection(case, tmp_path):
    net, ts, _, counters, imap = case
    cfg = file_config(counters, imap, tmp_path / "s.duckdb", **{
        "metrics.enabled": True, "metrics.port": 0, "controller.start": "2020-03-20T01:20:00Z",
        "policy.classes": "critical:0.05:1.5x,interactive:0.35,bulk:0.6", "controller.history": "1h"})
    lines: list[str] = []
    ctl = build_controller(cfg, log=lines.append)
    try:
        results = ctl.run(max_intervals=3)
        with urllib.request.urlopen(f"http://127.0.0.1:{ctl.metrics.port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        ctl.close()
    assert [r.ds for r in results] == list(pd.date_range("2020-03-20T01:20Z", periods=3, freq=STEP))
    assert all(r.policy == "priority" and r.status == "ok" for r in results)
    assert any("critical-class protection" in x for x in lines)
    values = {}
    for line in text.splitlines():
        if line.startswith("surgeguard_controller_") and " " in line:
            name, v = line.rsplit(" ", 1)
            values[name] = float(v)
    last = results[-1]
    assert values["surgeguard_controller_predicted_mlu"] == pytest.approx(last.predicted_mlu)
    assert values["surgeguard_controller_estimated_mlu"] == pytest.approx(last.estimated_mlu)
    assert values["surgeguard_controller_decision_seconds_count"] == 3
    assert values['surgeguard_controller_intervals_total{status="ok"}'] == 3
    assert values["surgeguard_controller_stale_inputs"] == 0
    assert values["surgeguard_controller_last_interval_timestamp_seconds"] == last.ds.timestamp()
    # the priority allocation protects the critical class: its predicted MLU is that of the routing
    assert np.isfinite(last.predicted_mlu) and last.predicted_mlu > 0


# ---------------------------------------------------------------------------------------------- the CLI
def test_cli_round_trip_config_file_and_flags(case, tmp_path):
    _, ts, _, counters, imap = case
    store_path = tmp_path / "cli.duckdb"
    conf = tmp_path / "run.toml"
    conf.write_text(f"""
[network]
topology = "morocco"
interfaces = "{imap}"

[telemetry]
source = "file"
file = "{counters}"

[controller]
history = "1h"
start = "2020-03-19T12:00:00Z"
max_intervals = 2

[detect]
detector = "none"

[store]
path = "{store_path}"

[metrics]
enabled = false

[log]
progress = "plain"
""")
    runner = CliRunner()
    res = runner.invoke(app, ["run", "--config", str(conf)])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "start at 2020-03-19T12:00:00Z (configured start)" in out
    assert out.count("| stored 2020-03-19T12:0") == 2 and "done: 2 interval(s)" in out
    # flags override the file; the second run resumes after the stored intervals
    res = runner.invoke(app, ["run", "--config", str(conf), "--policy", "shortest", "--intervals", "1"])
    assert res.exit_code == 0, res.output
    assert "resumed after the store's last interval 2020-03-19T12:05:00Z" in res.output
    with open_store(store_path, read_only=True) as st:
        dec = st.decisions()
        assert list(dec["ds"]) == list(pd.date_range("2020-03-19T12:00Z", periods=3, freq=STEP))
        assert list(dec["policy"]) == ["optimal", "optimal", "shortest"]
        runs = st.runs()
        assert json.loads(runs["config"].iloc[1])["policy"]["name"] == "shortest"
    # every setting is a flag of `surgeguard run`
    help_text = runner.invoke(app, ["run", "--help"], terminal_width=200).output
    for s in SETTINGS:
        assert s.flag_name in help_text, s.flag_name


BAD_CONFIGS = [
    ("[policy]\nnmae = \"optimal\"\n", [], ["unknown key [policy] nmae", "keys of [policy] are", "name"]),
    ("[polcy]\nname = \"optimal\"\n", [], ["unknown section [polcy]", "[policy]"]),
    ("[policy]\ntime_limit = -1\n", [], ["[policy] time_limit = -1", ">= 0", "default 30.0"]),
    ("[policy]\nname = \"optimus\"\n", [], ["[policy] name = \"optimus\"", "a policy: ", "optimal"]),
    ("[controller]\nstep = \"five minutes\"\n", [], ["[controller] step = \"five minutes\"", "a positive duration"]),
    ("[network]\nk_paths = \"4\"\n", [], ["[network] k_paths = \"4\"", "an int"]),
    ("[policy\nname = 1\n", [], ["is not valid TOML", "fix the syntax"]),
    ("[telemetry]\nsource = \"file\"\n", [], ["source = \"file\" needs [telemetry] file"]),
    ("", ["--k", "0"], ["option --k must be an int >= 1", "got 0"]),
    ("[policy]\nname = \"optimal\"\nmodel = \"m.pt\"\n", [], ["[policy] model = 'm.pt'", "takes no model"]),
    ("[policy]\nname = \"hedge\"\nmodel = \"nope.pt\"\n", [], ["[policy] model = 'nope.pt' not found"]),
    ("", ["--policy-input", "tomorrow"], ["option --policy-input must be one of forecast, history", "tomorrow"]),
    ("", ["--classes", "critical:abc"], ["option --classes must be a class spec", "critical:abc", "not a number"]),
    ("", ["--retry-initial", "10", "--retry-max", "5"], ["retry_max = 5.0 is below retry_initial = 10.0"]),
]


@pytest.mark.parametrize("text,flags,needles", BAD_CONFIGS, ids=[f"bad{k}" for k in range(len(BAD_CONFIGS))])
def test_bad_configuration_is_one_line_exit_2(tmp_path, text, flags, needles):
    conf = tmp_path / "bad.toml"
    conf.write_text(text)
    res = CliRunner().invoke(app, ["run", "--config", str(conf), *flags])
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "surgeguard.duckdb").exists()


def test_missing_config_file_and_unreachable_store_folder_are_one_line(tmp_path):
    res = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "nope.toml' does not exist" in res.output
    assert len(res.output.strip().splitlines()) == 1
