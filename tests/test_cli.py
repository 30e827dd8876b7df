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


# ------------------------------------------------------------------ options: one line, exit 2
@pytest.fixture
def series_files(tmp_path):
    net = _net_json(tmp_path / "net.json")
    times = pd.date_range("2020-03-20", periods=12, freq="15min", tz="UTC")
    rows = [(t, a, b, 1e9 * (1 + i % 4)) for i, t in enumerate(times) for a in "ABC" for b in "ABC" if a != b]
    return tmp_path, net, _traffic_csv(tmp_path / "tm.csv", rows)


# (command and options after --network/--traffic, words the one line must hold)
OPTION_CASES = [
    (["solve", "--k", "0"], ["--k", "got 0", "[1, inf)"]),
    (["solve", "--k", "abc"], ["--k", "'abc'", "an int"]),
    (["solve", "--k", "1.5"], ["--k", "'1.5'"]),
    (["solve", "--k", "1e308"], ["--k", "'1e308'"]),
    (["solve", "--k", "nan"], ["--k", "'nan'"]),
    (["solve", "--scale", "nan"], ["--scale", "nan"]),
    (["solve", "--scale", "-1"], ["--scale", "-1"]),
    (["solve", "--scale", "inf"], ["--scale", "inf"]),
    (["solve", "--size-util", "1.5"], ["--size-util", "1.5", "(0, 1]"]),
    (["solve", "--time-limit", "0"], ["--time-limit", "0"]),
    (["solve", "--time-limit", "nan"], ["--time-limit", "nan"]),
    (["solve", "--at", "99"], ["--at", "99", "12 steps"]),
    (["solve", "--at", "-13"], ["--at", "-13"]),
    (["solve", "--at", "x"], ["--at", "'x'"]),
    (["solve", "--policy", "shortest,optimal"], ["--policy", "one policy"]),
    (["replay", "--start", "-1"], ["--start", "-1"]),
    (["replay", "--start", "99999"], ["--start", "99999", "[0, 11]"]),
    (["replay", "--start", "5", "--stop", "3"], ["--start 5", "--stop 3", "reversed"]),
    (["replay", "--start", "5", "--stop", "5"], ["--start 5", "--stop 5"]),
    (["replay", "--stop", "99"], ["--stop", "99"]),
    (["replay", "--stop", "0"], ["--stop", "0"]),
    (["replay", "--k", "0"], ["--k", "0"]),
    (["whatif", "--top", "-1"], ["--top", "-1"]),
    (["whatif", "--top", "0"], ["--top", "0"]),
    (["whatif", "--at", "500"], ["--at", "500"]),
    (["whatif", "--k", "0"], ["--k"]),
    (["sweep", "--steps", "1.5"], ["--steps", "'1.5'", "ints"]),
    (["sweep", "--steps", "99"], ["--steps", "99"]),
    (["sweep", "--steps", ""], ["--steps"]),
    (["sweep", "--steps", "1,,2"], ["--steps"]),
    (["sweep", "--surge", "nan"], ["--surge", "'nan'"]),
    (["sweep", "--surge", "1e308"], ["--surge", "'1e308'"]),
    (["sweep", "--surge", "-1"], ["--surge", "'-1'"]),
    (["sweep", "--workers", "0"], ["--workers", "0"]),
    (["sweep", "--peaks", "0"], ["--peaks", "0"]),
    (["sweep", "--chunk", "0"], ["--chunk", "0"]),
    (["sweep", "--steps", "0", "--peaks", "1"], ["--steps", "--peaks"]),
    (["runout", "--thresholds", "0.9,0.7"], ["--thresholds", "'0.9,0.7'", "below"]),
    (["runout", "--thresholds", "0.7"], ["--thresholds"]),
    (["runout", "--thresholds", "0.7,nan"], ["--thresholds", "nan"]),
    (["runout", "--thresholds", "a,b"], ["--thresholds", "'a,b'"]),
    (["runout", "--growth", "1e308"], ["--growth", "1e+308", "(-1, 100]"]),
    (["runout", "--growth", "nan"], ["--growth", "nan"]),
    (["runout", "--growth", "-1"], ["--growth", "-1"]),
    (["runout", "--window-days", "0"], ["--window-days", "0"]),
    (["runout", "--window-days", "nan"], ["--window-days", "nan"]),
    (["runout", "--forecast-days", "0"], ["--forecast-days"]),
    (["runout", "--top", "-1"], ["--top", "-1"]),
    (["runout", "--growth", "0.3", "--forecast", "naive"], ["--growth", "--forecast"]),
    (["plan", "--target-util", "0"], ["--target-util", "0"]),
    (["plan", "--target-util", "nan"], ["--target-util", "nan"]),
    (["plan", "--time-limit", "-1"], ["--time-limit", "-1"]),
    (["plan", "--top-days", "0"], ["--top-days", "0"]),
    (["plan", "--max-tms", "0"], ["--max-tms", "0"]),
    (["detect", "--reference-days", "nan"], ["--reference-days", "nan"]),
    (["detect", "--reference-days", "1e308"], ["--reference-days"]),
    (["detect", "--reference-days", "0.5"], ["--reference-days", "0.5"]),
    (["detect", "--reference-days", "30"], ["--reference-days", "30"]),
    (["detect", "--threshold", "-1"], ["--threshold", "-1"]),
    (["forecast", "--horizon", "0"], ["--horizon", "0"]),
    (["forecast", "--horizon", "nan"], ["--horizon", "'nan'"]),
    (["forecast", "--holdout", "0.9"], ["--holdout", "0.9"]),
    (["forecast", "--seed", "-1"], ["--seed", "-1"]),
    (["train", "--out", "m.pt", "--epochs", "0"], ["--epochs", "0"]),
    (["train", "--out", "m.pt", "--max-minutes", "-1"], ["--max-minutes", "-1"]),
    (["train", "--out", "m.pt", "--history", "0"], ["--history", "0"]),
    (["train", "--out", "m.pt", "--alpha", "nan"], ["--alpha", "nan"]),
    (["train", "--out", "m.pt", "--holdout", "1.5"], ["--holdout", "1.5"]),
]


@pytest.mark.parametrize("args,words", OPTION_CASES, ids=[" ".join(a) for a, _ in OPTION_CASES])
def test_option_errors_are_one_line(series_files, args, words):
    tmp, net, tr = series_files
    cmd, rest = args[0], args[1:]
    rest = [str(tmp / x) if x == "m.pt" else x for x in rest]
    text = _err(runner.invoke(app, [cmd, "--network", net, "--traffic", tr, *rest]))
    assert len(text.splitlines()) == 1 and text.startswith("error:")
    for w in words:
        assert w in text, text
    assert "Usage:" not in text and "╭" not in text


@pytest.mark.parametrize("args,words", [
    (["demo", "--days", "nan"], ["--days", "nan"]),
    (["demo", "--days", "0"], ["--days"]),
    (["demo", "--days", "1e308"], ["--days"]),
    (["bench", "te", "--device", "bogus"], ["--device", "'bogus'", "cpu, cuda, cuda:N or mps"]),
    (["bench", "te", "--tag", "../x"], ["--tag"]),
    (["solve"], ["--network"]),
    (["solve", "--network", "x", "--traffic", "y", "--bogus"], ["--bogus"]),
    (["--bogus"], ["--bogus"]),
])
def test_option_errors_without_inputs(tmp_path, args, words):
    text = _err(runner.invoke(app, [*args, "--out", str(tmp_path / "o")] if args[0] in ("demo", "bench")
                              else args))
    for w in words:
        assert w in text, text
    assert not (tmp_path / "o").exists()


def test_gravity_options(files):
    tmp, net, _ = files
    assert "'foo'" in _err(runner.invoke(app, ["solve", "--network", net, "--traffic", "gravity:foo"]))
    assert "bogus" in _err(runner.invoke(app, ["solve", "--network", net, "--traffic", "gravity:bogus=1"]))
    for bad in ("nan", "-1", "inf", "x"):
        assert "total" in _err(runner.invoke(app, ["solve", "--network", net, "--traffic", f"gravity:total={bad}"]))
    r = runner.invoke(app, ["solve", "--network", net, "--traffic", "gravity:total=1e9", "--json"])
    assert r.exit_code == 0, r.output


def test_replay_of_a_single_matrix_is_refused(files):
    tmp, net, _ = files
    text = _err(runner.invoke(app, ["replay", "--network", net, "--traffic", "gravity"]))
    assert "single matrix" in text and "solve" in text


def test_time_limit_reaches_the_solving_policies(files, monkeypatch):
    from surgeguard.serve.loaders import with_model
    pols = with_model(["shortest", "optimal", "oracle"], None, time_limit=2.5)
    assert pols[2] == "oracle" and pols[1].time_limit == 2.5
    tmp, net, tr = files
    r = runner.invoke(app, ["solve", "--network", net, "--traffic", tr, "--time-limit", "5", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["solve", "--network", net, "--traffic", tr, "-p", "shortest", "--time-limit", "5"])
    assert r.exit_code == 0 and "--time-limit does not apply" in r.output


# ----------------------------------------------------------------------------------- the handler
def _boom(exc):
    def raiser(*a, **k):
        raise exc
    return raiser


@pytest.mark.parametrize("exc,code,words", [
    (RuntimeError("boom\nsecond line"), 1, ["RuntimeError: boom; second line", "--debug"]),
    (KeyError("k"), 1, ["KeyError", "--debug"]),
    (MemoryError(), 2, ["out of memory"]),
    (KeyboardInterrupt(), 130, ["interrupted"]),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 2, ["not utf-8 text"]),
    (FileExistsError(17, "File exists", "x.json"), 2, ["x.json", "File exists"]),
    (NotADirectoryError(20, "Not a directory", "a/b"), 2, ["a/b", "Not a directory"]),
    (IsADirectoryError(21, "Is a directory", "d"), 2, ["'d'", "Is a directory"]),
    (PermissionError(13, "Permission denied", "p.xml"), 2, ["cannot read 'p.xml'", "Permission denied"]),
    (OSError(5, "Input/output error"), 2, ["Input/output error"]),
])
def test_every_failure_is_one_line(monkeypatch, exc, code, words):
    from surgeguard.serve import cmd_info
    monkeypatch.setattr(cmd_info, "load_network", _boom(exc))
    r = runner.invoke(app, ["info", "--network", "x"])
    assert r.exit_code == code, r.output
    text = r.output.strip()
    assert len(text.splitlines()) == 1 and text.startswith("error:") and "Traceback" not in text, text
    for w in words:
        assert w in text, text


def test_debug_shows_the_traceback(monkeypatch):
    from surgeguard.serve import cmd_info
    monkeypatch.setattr(cmd_info, "load_network", _boom(RuntimeError("boom")))
    r = runner.invoke(app, ["--debug", "info", "--network", "x"])
    assert r.exit_code == 1
    assert "Traceback" in r.output and r.output.strip().splitlines()[-1].startswith("error: RuntimeError: boom")


def test_warnings_before_an_error_are_dropped(monkeypatch):
    import warnings as w
    from surgeguard.serve import cmd_info

    def warn_then_fail(spec):
        w.warn("invalid value encountered in subtract", RuntimeWarning)
        raise ValidationError_("bad network")
    from surgeguard.exceptions import ValidationError as ValidationError_
    monkeypatch.setattr(cmd_info, "load_network", warn_then_fail)
    text = _err(runner.invoke(app, ["info", "--network", "x"]))
    assert text == "error: bad network"


def test_help_still_works():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "--debug" in r.output
    r = runner.invoke(app, ["replay", "--help"])
    assert r.exit_code == 0 and "--force" in r.output and "--time-limit" in r.output
    r = runner.invoke(app, ["bench"])
    assert "te" in r.output and "error:" not in r.output


def test_duplicate_policy_is_refused(files):
    tmp, net, tr = files
    text = _err(runner.invoke(app, ["replay", "--network", net, "--traffic", tr, "--policy", "shortest,Shortest"]))
    assert "--policy" in text and "twice" in text
