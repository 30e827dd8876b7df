"""Scenario sweeps: the rows are right, and the same on local processes and on a real Ray head.

The Ray test starts its own head with the venv's ``ray`` CLI on loopback only (every port chosen
free on 127.0.0.1, its own short temp dir), runs a sweep on it, compares with the local run and
stops it. It stops only the processes it started: the ``ray start --block`` process group, then any
process whose command line names its own temp dir (``ray stop --force`` would end every Ray
process on the machine, other users' included). It is skipped, with the reason, only when the
machine cannot run a Ray head (e.g. no shared memory); any other failure fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard.exceptions import ValidationError
from surgeguard.failures import NO_FAILURE, failure_scenarios
from surgeguard.network import Network
from surgeguard.plan.sweep import plan_sweep, select_steps, sweep
from surgeguard.plan.whatif import WhatIf
from surgeguard.serve.cli import app
from surgeguard.traffic import TrafficSeries


def small_case(n_steps: int = 4):
    g = nx.gnm_random_graph(8, 12, seed=11)
    rng = np.random.default_rng(3)
    links = [{"src": f"n{u}", "dst": f"n{v}", "capacity": float(rng.choice([10e9, 40e9])),
              "metric": float(rng.choice([1.0, 2.0]))} for u, v in g.edges]
    net = Network.from_records([{"name": f"n{i}"} for i in range(8)], links, bidirectional=True, name="sweep8")
    base = rng.uniform(0, 1.5e9, (8, 8))
    np.fill_diagonal(base, 0)
    vals = np.stack([base * (1 + 0.3 * t) for t in range(n_steps)])
    ts = TrafficSeries(vals, net.node_names, times=pd.date_range("2020-03-20", periods=n_steps, freq="15min"))
    return net, ts


# ---------------------------------------------------------------------------------- local
def test_sweep_rows_match_direct_evaluation():
    net, ts = small_case()
    res = sweep(net, ts, "single-link", peaks=2, surges=(0.0, 0.5), policies=("shortest", "optimal"),
                executor="serial", chunk_size=4)
    fails = failure_scenarios(net, "single-link")
    assert select_steps(ts, peaks=2) == [2, 3]
    assert len(res.rows) == 2 * 2 * (len(fails) + 1) * 2
    wi = WhatIf(net, policies=("shortest", "optimal"))
    rows = res.rows.set_index(["step", "surge", "failure", "policy"])
    for st, s in [(3, 0.5), (2, 0.0)]:
        for f in [NO_FAILURE] + fails[:4]:
            for p in ("shortest", "optimal"):
                ev = wi.evaluate(f, ts.matrix(st) * (1 + s), policy=p)
                r = rows.loc[(st, s, f.name, p)]
                assert r["mlu"] == pytest.approx(ev.mlu, rel=1e-6)
                assert r["unrouted_bps"] == pytest.approx(ev.unrouted_bps, rel=1e-9, abs=1.0)
                if p == "shortest":  # TE's drops depend on which MLU-optimal routing the LP returns
                    assert r["lost_bps"] == pytest.approx(ev.lost_bps, rel=1e-9, abs=1.0)
                assert r["demand_bps"] == pytest.approx(ts.matrix(st).sum() * (1 + s))
    # +50 % demand: MLU of the reconvergence scales exactly (routing does not depend on traffic)
    sp = res.rows[res.rows.policy == "shortest"].pivot_table(index=["step", "failure"], columns="surge", values="mlu")
    np.testing.assert_allclose(sp[0.5], 1.5 * sp[0.0], rtol=1e-9)
    summ = res.summary()
    assert len(summ["cases"]) == 2 * 2 * 2 and summ["meta"]["tasks"] == 2 * 2 * -(-len(fails) // 4)


def test_sweep_process_pool_equals_serial():
    net, ts = small_case()
    kw = dict(peaks=1, surges=(0.0, 0.3), policies=("shortest", "optimal"), chunk_size=5)
    a = sweep(net, ts, "single-link", executor="serial", **kw)
    b = sweep(net, ts, "single-link", executor="process", workers=2, **kw)
    assert b.meta["executor"] == "process" and b.meta["tasks"] > 2
    pd.testing.assert_frame_equal(a.rows, b.rows, check_exact=True)


def test_sweep_bad_input():
    net, ts = small_case()
    with pytest.raises(ValidationError, match="surge sizes \\[-2.0\\] must be > -1"):
        plan_sweep(net, ts, "single-link", surges=(-2,))
    with pytest.raises(ValidationError, match="outside the series' 4 steps"):
        plan_sweep(net, ts, "single-link", steps=[9])
    with pytest.raises(ValidationError, match="unknown executor"):
        sweep(net, ts, "single-link", executor="spark")
    with pytest.raises(ValidationError, match="unknown policy"):
        sweep(net, ts, "single-link", policies=("fastest",), executor="serial")


def test_cli_sweep(tmp_path):
    r = CliRunner().invoke(app, ["sweep", "--network", "sndlib/abilene", "--traffic", "gravity", "--surge", "0,0.5",
                                 "--workers", "1", "--json", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert len(s["cases"]) == 2 and s["cases"][1]["worst_mlu"] == pytest.approx(1.5 * s["cases"][0]["worst_mlu"])
    assert (tmp_path / "sweep.parquet").exists()
    r = CliRunner().invoke(app, ["sweep", "--network", "sndlib/abilene", "--traffic", "gravity", "--surge", "x"])
    assert r.exit_code == 2 and "comma-separated numbers" in r.stderr


# ---------------------------------------------------------------------------------- Ray
def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _free_range(width: int) -> tuple[int, int]:
    """A run of ``width`` consecutive ports free on 127.0.0.1 (for Ray's worker ports)."""
    rng = np.random.default_rng()
    for _ in range(200):
        lo = int(rng.integers(20000, 60000 - width))
        ok = True
        for p in range(lo, lo + width):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return lo, lo + width - 1
    raise RuntimeError("no free port range on 127.0.0.1")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _own_pids(marker: str) -> list[int]:
    """PIDs of processes whose command line contains ``marker`` (this test's unique temp dir)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            out.append(int(d.name))
    return out


#: log lines that mean the machine cannot host a Ray head (skip), not that surgeguard is wrong
_MACHINE_LIMITS = ("/dev/shm", "shared memory", "Operation not permitted", "No space left on device",
                   "Cannot allocate memory", "too many open files")


@pytest.fixture(scope="module")
def ray_head():
    ray_bin = Path(sys.executable).parent / "ray"
    assert ray_bin.exists(), f"{ray_bin} missing: install the 'scale' extra (ray[default]) into the venv"
    tmp = tempfile.mkdtemp(prefix="sgray", dir="/tmp")   # short: Ray's unix socket paths must stay < 108 chars
    (gcs, nm, om, client, agent_grpc, agent_http, metrics, renv) = _free_ports(8)
    wlo, whi = _free_range(24)
    cmd = [str(ray_bin), "start", "--head", f"--port={gcs}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
           "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={tmp}", f"--node-manager-port={nm}",
           f"--object-manager-port={om}", f"--ray-client-server-port={client}",
           f"--dashboard-agent-grpc-port={agent_grpc}", f"--dashboard-agent-listen-port={agent_http}",
           f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={renv}", f"--min-worker-port={wlo}",
           f"--max-worker-port={whi}", "--object-store-memory=150000000", "--block"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    log = open(Path(tmp) / "ray-start.log", "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def stop():
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        deadline = time.time() + 15
        while time.time() < deadline:
            left = _own_pids(tmp)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL if time.time() > deadline - 10 else signal.SIGTERM)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        log.close()

    try:
        deadline = time.time() + 60
        while not _listening(gcs):
            if proc.poll() is not None or time.time() > deadline:
                log.seek(0)
                text = log.read()
                stop()
                shutil.rmtree(tmp, ignore_errors=True)
                reason = next((m for m in _MACHINE_LIMITS if m.lower() in text.lower()), None)
                if reason:
                    pytest.skip(f"this machine cannot start a Ray head ({reason}): {text.strip()[-300:]}")
                pytest.fail(f"ray start did not come up within 60 s (exit {proc.poll()}): {text[-1500:]}")
            time.sleep(0.5)
        time.sleep(2.0)  # raylet registers after the GCS port opens
        yield {"address": f"127.0.0.1:{gcs}", "temp_dir": tmp, "proc": proc}
    finally:
        stop()
        left = _own_pids(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"Ray processes left running: {left}"


def test_sweep_on_ray_equals_local(ray_head, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    net, ts = small_case()
    kw = dict(peaks=2, surges=(0.0, 0.4), policies=("shortest", "optimal"), chunk_size=6)
    local = sweep(net, ts, "single-link", executor="process", workers=2, **kw)
    on_ray = sweep(net, ts, "single-link", executor="ray", ray_address=ray_head["address"], timeout=120, **kw)
    assert on_ray.meta["executor"] == "ray" and on_ray.meta["ray_nodes"] == 1
    assert on_ray.meta["ray_address"].endswith(ray_head["address"].split(":")[1])
    assert local.meta["tasks"] == on_ray.meta["tasks"] >= 4
    pd.testing.assert_frame_equal(local.rows, on_ray.rows, check_exact=True)
    # RAY_ADDRESS alone selects Ray in 'auto'
    monkeypatch.setenv("RAY_ADDRESS", ray_head["address"])
    auto = sweep(net, ts, "single-link", peaks=1, surges=(0.0,), policies=("shortest",), timeout=120)
    assert auto.meta["executor"] == "ray"
    pd.testing.assert_frame_equal(auto.rows, local.rows[(local.rows.step == 3) & (local.rows.surge == 0.0)
                                                        & (local.rows.policy == "shortest")].reset_index(drop=True),
                                  check_exact=True)
