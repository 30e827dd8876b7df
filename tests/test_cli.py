"""The CLI contract: JSON lines from solve, summary.json from replay, and one-line errors (exit 2)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard.io import write_frame
from surgeguard.serve.cli import app
from surgeguard import TrafficSeries

runner = CliRunner()


def _net_json(path, capacity=10e9, extra_isolated=False):
    nodes = [{"id": n} for n in ["A", "B", "C"] + (["D"] if extra_isolated else [])]
    links = []
    for a, b in [("A", "B"), ("B", "C"), ("A", "C")]:
        links += [{"source": a, "target": b, "capacity": capacity}, {"source": b, "target": a, "capacity": capacity}]
    path.write_text(json.dumps({"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}))
    return str(path)


def _traffic_csv(path, rows):
    pd.DataFrame(rows, columns=["ds", "src", "dst", "bps"]).to_csv(path, index=False)
    return str(path)


@pytest.fixture
def files(tmp_path):
    net = _net_json(tmp_path / "net.json")
    times = pd.date_range("2020-03-20", periods=3, freq="15min", tz="UTC")
    rows = [(t, a, b, 1e9 * (1 + i)) for i, t in enumerate(times) for a in "ABC" for b in "ABC" if a != b]
    tr = _traffic_csv(tmp_path / "tm.csv", rows)
    return tmp_path, net, tr


def _err(result):
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    return text


def test_solve_json_lines(files):
    tmp, net, tr = files
    r = runner.invoke(app, ["solve", "--network", net, "--traffic", tr, "--policy", "optimal", "--json"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["index"] for x in recs] == [0, 1, 2]
    assert {"index", "time", "policy", "mlu", "solve_seconds"} <= set(recs[0])
    assert recs[0]["time"].startswith("2020-03-20T00:00")
    r1 = runner.invoke(app, ["solve", "--network", net, "--traffic", tr, "--policy", "shortest", "--at", "1", "--json"])
    assert [json.loads(x)["index"] for x in r1.stdout.splitlines()] == [1]


def test_replay_writes_summary(files):
    tmp, net, tr = files
    out = tmp / "out"
    r = runner.invoke(app, ["replay", "--network", net, "--traffic", tr, "--policy", "shortest,optimal",
                            "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert set(summary["policies"]) == {"shortest", "optimal", "oracle"}
    assert json.loads((out / "summary.json").read_text())["policies"]["oracle"]["ratio_max"] == pytest.approx(1.0)
    assert (out / "steps.csv").exists() and (out / "steps.parquet").exists()


def test_replay_with_lockdown_scenario(files):
    tmp, net, tr = files
    r = runner.invoke(app, ["replay", "--network", net, "--traffic", tr, "--scenario", "lockdown:growth=0.5",
                            "--json"])
    assert r.exit_code == 0, r.output


def test_bad_input_unreadable_file(files):
    tmp, net, tr = files
    text = _err(runner.invoke(app, ["solve", "--network", str(tmp / "missing.json"), "--traffic", tr]))
    assert "missing.json" in text


def test_bad_input_malformed_file(files):
    tmp, net, tr = files
    bad = tmp / "bad.json"
    bad.write_text("{not json")
    text = _err(runner.invoke(app, ["solve", "--network", str(bad), "--traffic", tr]))
    assert "bad.json" in text and len(text.splitlines()) == 1


def test_bad_input_unknown_node_in_tm(files):
    tmp, net, _ = files
    tr = _traffic_csv(tmp / "x.csv", [("2020-03-20", "A", "ZZZ", 1e9)])
    text = _err(runner.invoke(app, ["solve", "--network", net, "--traffic", tr]))
    assert "ZZZ" in text


def test_bad_input_non_positive_capacity(files):
    tmp, _, tr = files
    net = _net_json(tmp / "zero.json", capacity=0.0)
    text = _err(runner.invoke(app, ["solve", "--network", net, "--traffic", tr]))
    assert "capacity" in text


def test_bad_input_od_without_path(files):
    tmp, _, _ = files
    net = _net_json(tmp / "iso.json", extra_isolated=True)
    tr = _traffic_csv(tmp / "iso.csv", [("2020-03-20", "A", "D", 1e9)])
    text = _err(runner.invoke(app, ["solve", "--network", net, "--traffic", tr]))
    assert "A->D" in text and "no candidate path" in text


@pytest.mark.parametrize("value,word", [(-5e8, "negative"), (float("nan"), "NaN")])
def test_bad_input_negative_or_nan_demand(files, value, word):
    tmp, net, _ = files
    tr = _traffic_csv(tmp / "neg.csv", [("2020-03-20", "A", "B", value)])
    text = _err(runner.invoke(app, ["solve", "--network", net, "--traffic", tr]))
    assert word in text or "missing" in text


def test_bad_input_unknown_policy(files):
    tmp, net, tr = files
    text = _err(runner.invoke(app, ["replay", "--network", net, "--traffic", tr, "--policy", "shortest,magic"]))
    assert "magic" in text and "optimal" in text


def test_bad_input_unknown_scenario_key(files):
    tmp, net, tr = files
    text = _err(runner.invoke(app, ["replay", "--network", net, "--traffic", tr, "--scenario", "lockdown:bogus=1"]))
    assert "bogus" in text
