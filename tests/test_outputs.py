"""Outputs: checked before the work starts, written atomically (temp file + rename), never half-written.

Tests run as root, which ignores permission bits: an unwritable folder is simulated by making the
probe fail (``probe_writable``), and the real refusals are tested with paths that are files or lie
below one.
"""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard import TrafficSeries
from surgeguard.evaluate import replay
from surgeguard.examples import triangle
from surgeguard.io import output, write_frame
from surgeguard.io.output import (OutputError, OutputExistsError, atomic_path, atomic_write_bytes, atomic_write_text,
                                  check_output_dir, check_output_file, make_output_dir)
from surgeguard.plan.sweep import sweep
from surgeguard.plan.whatif import run_whatif
from surgeguard.report.html import write_replay_report
from surgeguard.routing import k_shortest_paths
from surgeguard.serve import cmd_bench
from surgeguard.serve.cli import app

runner = CliRunner()


def _temps(folder):
    """Leftover temporary or probe files anywhere below ``folder``."""
    return [p for p in folder.rglob("*") if p.name.startswith((output.TEMP_PREFIX, output.PROBE_PREFIX))]


def _series(n=6):
    net = triangle()
    times = pd.date_range("2020-03-20", periods=n, freq="15min", tz="UTC")
    v = np.zeros((n, 3, 3))
    for i in range(3):
        for j in range(3):
            if i != j:
                v[:, i, j] = 1e9 * (1 + np.arange(n) / n)
    return net, TrafficSeries(v, net.node_names, times, name="toy")


class Boom(RuntimeError):
    pass


def _half_then_raise(kind="text"):
    """A writer that writes part of its file, then fails (as a crash or a full disk would)."""
    def write(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("half a fi")
        raise Boom("interrupted")
    return write


# ------------------------------------------------------------------------------------ atomic writes
def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.json"
    atomic_write_text(p, "old")
    atomic_write_text(p, "new")
    assert p.read_text() == "new"
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert _temps(tmp_path) == []


def test_atomic_path_keeps_previous_file_when_the_writer_fails(tmp_path):
    p = tmp_path / "steps.csv"
    p.write_text("previous")
    with pytest.raises(Boom):
        with atomic_path(p) as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith("steps.csv") and tmp.name.startswith(".")
            tmp.write_text("half a fi")
            raise Boom("interrupted")
    assert p.read_text() == "previous"
    assert _temps(tmp_path) == []


def test_atomic_path_keyboard_interrupt_leaves_nothing(tmp_path):
    p = tmp_path / "x.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(p) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert not p.exists() and list(tmp_path.iterdir()) == []


def test_atomic_path_failed_rename_is_a_write_error(tmp_path, monkeypatch):
    p = tmp_path / "summary.json"
    p.write_text("previous")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))
    monkeypatch.setattr(output.os, "replace", refuse)
    with pytest.raises(OutputError, match=r"cannot write .*summary\.json.*Permission denied"):
        atomic_write_text(p, "new")
    assert p.read_text() == "previous"
    assert _temps(tmp_path) == []


def test_atomic_path_keeps_mode_and_follows_links(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = atomic_write_text(tmp_path / "fresh.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_atomic_path_refuses_a_folder_or_special_file(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        atomic_write_text(tmp_path / "d", "x")
    with pytest.raises(OutputError, match="not a regular file"):
        atomic_write_text("/dev/null", "x")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_compressed_csv_keeps_its_compression(tmp_path):
    _, ts = _series()
    p = write_frame(ts, tmp_path / "tm.csv.gz")
    with open(p, "rb") as fh:
        assert fh.read(2) == b"\x1f\x8b"
    assert _temps(tmp_path) == []


# ----------------------------------------------------------------- library writers, interrupted
def test_replay_write_interrupted_keeps_previous_results(tmp_path, monkeypatch):
    net, ts = _series()
    res = replay(net, k_shortest_paths(net, k=2), ts, ["shortest"], start=1, progress=False)
    files = res.write(tmp_path)
    before = {k: p.read_bytes() for k, p in files.items()}
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _half_then_raise())
    with pytest.raises(Boom):
        res.write(tmp_path)
    assert {k: p.read_bytes() for k, p in files.items()} == before
    assert _temps(tmp_path) == []


def test_whatif_and_sweep_writes_interrupted(tmp_path, monkeypatch):
    net, ts = _series()
    w = run_whatif(net, ts, "single-link", policies=["shortest"])
    wfiles = w.write(tmp_path / "w")
    s = sweep(net, ts, "single-link", executor="serial")
    sfiles = s.write(tmp_path / "s")
    before = {p: p.read_bytes() for p in [*wfiles.values(), *sfiles.values()]}
    monkeypatch.setattr(pd.DataFrame, "to_csv", _half_then_raise())
    with pytest.raises(Boom):
        w.write(tmp_path / "w")
    with pytest.raises(Boom):
        s.write(tmp_path / "s")
    assert {p: p.read_bytes() for p in before} == before
    assert _temps(tmp_path) == []


def test_report_and_frame_writes_interrupted(tmp_path, monkeypatch):
    net, ts = _series()
    res = replay(net, k_shortest_paths(net, k=2), ts, ["shortest"], start=1, progress=False)
    report = write_replay_report(res, tmp_path / "report.html", title="toy")
    frame = write_frame(ts, tmp_path / "tm.csv")
    before = {p: p.read_bytes() for p in (report, frame)}
    monkeypatch.setattr(pd.DataFrame, "to_csv", _half_then_raise())
    with pytest.raises(Boom):
        write_frame(ts, frame)

    def broken_write_text(self, *a, **k):
        self.write_bytes(b"<html>half")
        raise Boom("interrupted")
    monkeypatch.setattr(type(tmp_path), "write_text", broken_write_text)
    with pytest.raises(Boom):
        write_replay_report(res, report, title="toy")
    assert {p: p.read_bytes() for p in before} == before
    assert _temps(tmp_path) == []


def test_learned_save_interrupted(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from surgeguard.routing.learned import LearnedRouter
    net, ts = _series(12)
    ps = k_shortest_paths(net, k=2)
    m = LearnedRouter(history=2, hidden=(4,), epochs=1, prior=None).fit(net, ps, ts, progress=False)
    p = m.save(tmp_path / "m.pt")
    before = p.read_bytes()

    def broken_save(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04half")
        raise Boom("interrupted")
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(Boom):
        m.save(p)
    assert p.read_bytes() == before
    assert _temps(tmp_path) == []


# --------------------------------------------------------------------------------- output checks
def test_check_output_dir(tmp_path, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(f)
    with pytest.raises(OutputError, match="'.*afile' is a file"):
        check_output_dir(f / "sub" / "deeper")
    new = tmp_path / "a" / "b"
    assert check_output_dir(new) == new and not (tmp_path / "a").exists()  # the check creates nothing
    # a folder holding the owner's mark is replaced; foreign files of the same names need force
    own = tmp_path / "own"
    own.mkdir()
    (own / "steps.csv").write_text("x")
    (own / "summary.json").write_text("{}")
    check_output_dir(own, files=("steps.csv", "summary.json"))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "summary.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="summary.json"):
        check_output_dir(foreign, files=("steps.csv", "summary.json"))
    check_output_dir(foreign, files=("steps.csv", "summary.json"), force=True)
    (foreign / "steps.csv").mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        check_output_dir(foreign, files=("steps.csv",), force=True)
    assert _temps(tmp_path) == []


def test_check_output_unwritable_folder(tmp_path, monkeypatch):
    def denied(folder):
        raise PermissionError(13, "Permission denied", str(folder))
    monkeypatch.setattr(output, "probe_writable", denied)
    with pytest.raises(OutputError, match=r"not writable \(Permission denied\)"):
        check_output_dir(tmp_path / "new")
    with pytest.raises(OutputError, match=r"cannot write to .*Permission denied"):
        check_output_dir(tmp_path)
    with pytest.raises(OutputError, match=r"not writable \(Permission denied\)"):
        check_output_file(tmp_path / "model.pt")


def test_probe_is_real(tmp_path):
    output.probe_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError):
        output.probe_writable(tmp_path / "missing")


def test_check_output_file(tmp_path):
    f = tmp_path / "model.pt"
    assert check_output_file(f) == f and not f.exists()
    f.write_text("x")
    with pytest.raises(OutputExistsError, match="already exists"):
        check_output_file(f)
    assert check_output_file(f, force=True) == f
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(str(tmp_path / "new") + "/")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_file(f / "x.pt")
    with pytest.raises(OutputError, match="not a regular file"):
        check_output_file("/dev/null", force=True)


def test_make_output_dir(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        make_output_dir(f)
    with pytest.raises(OutputError, match="is a file, not a folder"):
        make_output_dir(f / "sub")
    assert make_output_dir(tmp_path / "a" / "b").is_dir()


def test_output_errors_are_surgeguard_and_os_errors():
    from surgeguard import SurgeguardError
    assert issubclass(OutputError, SurgeguardError) and issubclass(OutputError, OSError)
    assert issubclass(OutputExistsError, FileExistsError)


# ------------------------------------------------------------------------------- the CLI's outputs
@pytest.fixture
def files(tmp_path):
    net, ts = _series(8)
    net_path = tmp_path / "net.json"
    links = [{"source": s, "target": d, "capacity": 10e9} for s, d in zip(net.links["src"], net.links["dst"])]
    net_path.write_text(json.dumps({"directed": True, "multigraph": False, "graph": {},
                                    "nodes": [{"id": n} for n in net.node_names], "links": links}))
    tm = write_frame(ts, tmp_path / "tm.csv")
    return tmp_path, str(net_path), str(tm)


def _err(r, *words):
    assert r.exit_code == 2, r.output
    text = r.output.strip()
    assert len(text.splitlines()) == 1 and text.startswith("error:"), text
    for w in words:
        assert w in text, text
    return text


@pytest.mark.parametrize("cmd", [
    ["replay", "--policy", "shortest"], ["whatif", "--policy", "shortest"], ["sweep"],
    ["plan", "--method", "heuristic"],
])
def test_folder_outputs_checked_first(files, cmd):
    tmp, net, tm = files
    (tmp / "afile").write_text("x")
    base = cmd + ["--network", net, "--traffic", tm]
    _err(runner.invoke(app, base + ["--out", str(tmp / "afile")]), "afile", "is a file")
    _err(runner.invoke(app, base + ["--out", str(tmp / "afile" / "sub")]), "afile", "is a file, not a folder")
    assert (tmp / "afile").read_text() == "x"


def test_replay_reruns_into_its_folder_but_not_another(files):
    tmp, net, tm = files
    out = tmp / "out"
    args = ["replay", "--network", net, "--traffic", tm, "--policy", "shortest", "--out", str(out), "--json"]
    assert runner.invoke(app, args).exit_code == 0
    (out / "steps.csv").write_text("stale")
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert (out / "steps.csv").read_text().startswith("step,time,policy")
    # a what-if into the replay's folder would replace its summary.json: refused without --force
    w = ["whatif", "--network", net, "--traffic", tm, "--policy", "shortest", "--out", str(out), "--json"]
    summary = (out / "summary.json").read_text()
    _err(runner.invoke(app, w), "summary.json", "--force")
    assert (out / "summary.json").read_text() == summary and not (out / "failures.csv").exists()
    assert runner.invoke(app, w + ["--force"]).exit_code == 0
    assert (out / "failures.csv").exists()
    assert _temps(tmp) == []


def test_file_outputs_need_force(files):
    tmp, net, tm = files
    out = tmp / "fc.csv"
    out.write_text("keep me")
    args = ["forecast", "--network", net, "--traffic", tm, "-m", "naive", "-o", str(out)]
    _err(runner.invoke(app, args), "fc.csv", "already exists", "--force")
    assert out.read_text() == "keep me"
    r = runner.invoke(app, args + ["--force"])
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("ds,src,dst")


def test_train_checks_out_before_training(files, monkeypatch):
    tmp, net, tm = files
    from surgeguard.routing.learned import LearnedRouter

    def no_training(*a, **k):
        raise AssertionError("trained before checking --out")
    monkeypatch.setattr(LearnedRouter, "fit", no_training)
    args = ["train", "--network", net, "--traffic", tm, "--out"]
    _err(runner.invoke(app, args + [str(tmp)]), "is a folder")
    (tmp / "m.pt").write_text("old model")
    _err(runner.invoke(app, args + [str(tmp / "m.pt")]), "already exists", "--force")
    (tmp / "afile").write_text("x")
    _err(runner.invoke(app, args + [str(tmp / "afile" / "m.pt")]), "is a file, not a folder")


def test_unwritable_output_is_refused_before_work(files, monkeypatch):
    tmp, net, tm = files

    def denied(folder):
        raise PermissionError(13, "Permission denied", str(folder))
    monkeypatch.setattr(output, "probe_writable", denied)
    _err(runner.invoke(app, ["replay", "--network", net, "--traffic", tm, "--out", str(tmp / "new")]),
         "not writable", "Permission denied")


def test_demo_and_bench_leave_no_empty_folder(tmp_path, monkeypatch):
    _err(runner.invoke(app, ["demo", "--days", "nan", "--out", str(tmp_path / "demo")]), "--days")
    _err(runner.invoke(app, ["bench", "te", "--device", "bogus", "--out", str(tmp_path / "b1")]), "--device")
    assert list(tmp_path.iterdir()) == []

    class FailingLadder:  # the ladder creates its folder, then fails on a rung
        @staticmethod
        def run_te_bench(topologies, out, **kw):
            (out / "partial").mkdir(parents=True)
            (out / "partial").rmdir()
            raise OSError(2, "No such file or directory", "topology.xml")
    monkeypatch.setattr(cmd_bench, "load_te_ladder", lambda: FailingLadder)
    _err(runner.invoke(app, ["bench", "te", "--quick", "--out", str(tmp_path / "b2" / "deep")]), "topology.xml")
    assert list(tmp_path.iterdir()) == []


def test_write_failure_is_worded_as_a_write(files, monkeypatch):
    tmp, net, tm = files
    out = tmp / "res"

    class WritingLadder:
        @staticmethod
        def run_te_bench(topologies, out_dir, **kw):
            out_dir.mkdir(parents=True, exist_ok=True)
            raise PermissionError(1, "Operation not permitted", str(out_dir / "te_cpu.json"))
    monkeypatch.setattr(cmd_bench, "load_te_ladder", lambda: WritingLadder)
    text = _err(runner.invoke(app, ["bench", "te", "--quick", "--out", str(out)]), "cannot write", "te_cpu.json")
    assert "cannot read" not in text


# ------------------------------------------------------------------------------------ strict JSON
def _strict_loads(text):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_is_strict(tmp_path):
    from surgeguard.io.output import atomic_write_json, json_text
    doc = {"mlu": float("inf"), "gap": np.float32("nan"), "n": np.int64(3), "a": np.array([1.0, np.nan]),
           "t": pd.Timestamp("2020-03-20", tz="UTC"), 1: (2, -np.inf)}
    assert _strict_loads(json_text(doc)) == {"mlu": None, "gap": None, "n": 3, "a": [1.0, None],
                                             "t": "2020-03-20 00:00:00+00:00", "1": [2, None]}
    p = atomic_write_json(tmp_path / "s.json", doc)
    assert _strict_loads(p.read_text())["mlu"] is None


def test_cli_json_and_summary_files_are_strict(files):
    tmp, net, tm = files
    r = runner.invoke(app, ["runout", "--network", net, "--traffic", tm, "--growth", "0.3", "--json"])
    assert r.exit_code == 0, r.output
    _strict_loads(r.stdout)
    r = runner.invoke(app, ["replay", "--network", net, "--traffic", tm, "--policy", "shortest", "--json",
                            "--out", str(tmp / "r")])
    assert r.exit_code == 0, r.output
    _strict_loads(r.stdout)
    _strict_loads((tmp / "r" / "summary.json").read_text())


@pytest.mark.parametrize("cmd", [
    ["solve", "--policy", "shortest"], ["whatif", "--policy", "shortest"], ["sweep"], ["forecast", "-m", "naive"],
    ["detect", "--reference-days", "1"], ["plan", "--method", "heuristic"],
])
def test_every_json_output_is_strict(files, cmd):
    tmp, net, tm = files
    if cmd[0] == "detect":  # needs more than a day
        tm = str(write_frame(_series(200)[1], tmp / "long.csv"))
    r = runner.invoke(app, [*cmd, "--network", net, "--traffic", tm, "--json"])
    assert r.exit_code == 0, r.output
    for line in r.stdout.splitlines():
        if line.startswith(("{", "[")):
            _strict_loads(line)
