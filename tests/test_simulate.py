"""The telemetry simulator: counters a router would keep for the IGP loads of a traffic series.

Checked against independent computations: link loads from the IGP routing matrix
(``ecmp_routing_matrix(net).loads``) and node totals from the matrices; counters as exact Python
integers modulo 2**64; the exposition parsed by ``prometheus_client``'s own parsers; the counter
file read back by the telemetry file reader; the CLI in-process and as a served process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from typer.testing import CliRunner

from surgeguard import TrafficSeries
from surgeguard.examples import morocco, ring
from surgeguard.exceptions import ValidationError
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.plan import size_capacities
from surgeguard.scenario import gravity_series
from surgeguard.serve.cli import app
from surgeguard.telemetry.files import read_counters, read_link_loads, write_counters
from surgeguard.telemetry.openmetrics import backfill_times, openmetrics_text
from surgeguard.telemetry.simulate import (COUNTER_MODULUS, IF_MIB, SimClock, TelemetrySimulator, text_exposition,
                                           to_unix)

M = COUNTER_MODULUS


@pytest.fixture(scope="module")
def case():
    net = morocco()
    ts = gravity_series(net, "2020-03-20", 12, "5min", total_bps=800e9, random_state=1)
    net = size_capacities(net, ts, target_util=0.6)
    rm = ecmp_routing_matrix(net)
    return net, ts, rm


def _truth(rm, ts):
    """Independent per-interval loads: links through the routing matrix, node totals from the matrices."""
    tm = ts.total
    return rm.loads(tm), tm.sum(axis=2), tm.sum(axis=1)


def _ints(c: np.ndarray) -> np.ndarray:
    return np.array(c.tolist(), dtype=object)


def test_rates_from_counter_differences_equal_the_routed_loads(case):
    net, ts, rm = case
    sim = TelemetrySimulator(net, ts, seed=5, routing=rm)
    links, ingress, egress = _truth(rm, ts)
    bounds = np.append(sim.starts, sim.ends[-1])
    c = _ints(sim.counters(bounds))  # (T+1, n, 2) Python ints
    delta = (c[1:] - c[:-1]) % M  # octets per interval, exact integers
    rates = delta.astype(float) * 8 / 300.0
    loads = sim.interfaces.rates_to_loads(rates[:, :, 0], rates[:, :, 1], ts.times)
    # counters are whole octets: each interval's count is the integral rounded, within one octet
    np.testing.assert_allclose(loads.bps, links, rtol=1e-12, atol=8 / 300.0 * 1.01)
    np.testing.assert_allclose(loads.ingress, ingress, rtol=1e-12, atol=8 / 300.0 * 1.01)
    np.testing.assert_allclose(loads.egress, egress, rtol=1e-12, atol=8 / 300.0 * 1.01)
    # the in counter of a core interface is the load of the reverse link
    m = sim.interfaces
    k = int(np.flatnonzero(m.core)[0])
    np.testing.assert_allclose(rates[:, k, 0], links[:, m.in_link[k]], rtol=1e-12, atol=0.03)
    # inside an interval the rate is constant: half an interval counts half the octets
    mid = sim.starts + 150.0
    half = ((_ints(sim.counters(mid)) - c[:-1]) % M).astype(float)
    np.testing.assert_allclose(half * 2, delta.astype(float), rtol=1e-12, atol=2.0)


def test_counters_monotone_integers_and_wraps_exact(case):
    net, ts, rm = case
    sim = TelemetrySimulator(net, ts, seed=11, near_wrap=1.0, routing=rm)
    assert sim.counters(sim.starts).dtype == np.uint64
    t = np.sort(np.random.default_rng(0).uniform(sim.starts[0], sim.ends[-1], 400))
    c = _ints(sim.counters(t))
    octets = np.floor(sim.octets(t)).astype(np.int64).astype(object)
    # modulo 2**64 every counter only moves forward, by exactly the octets counted
    step = (c[1:] - c[:-1]) % M
    assert ((octets[1:] - octets[:-1]) == step).all()
    assert (c >= 0).all() and (c < M).all()
    # every interface carrying traffic wraps once, from near 2**64 to a small value
    drops = c[1:] < c[:-1]
    carries = sim.octets(sim.ends[-1])[0] > 0
    assert (drops.sum(axis=0)[carries] == 1).all()
    tt, ii, dd = np.nonzero(drops)
    assert all(c[a, i, d] > M - 2**63 for a, i, d in zip(tt, ii, dd))
    assert all(c[a + 1, i, d] + M - c[a, i, d] == step[a, i, d] for a, i, d in zip(tt, ii, dd))
    assert len(sim.near_wrap_interfaces) == sim.interfaces.n_interfaces


def test_counter_reset_restarts_from_zero(case):
    net, ts, rm = case
    at = ts.times[5] + pd.Timedelta(seconds=100)
    sim = TelemetrySimulator(net, ts, seed=2, routing=rm, resets=[("Rabat", "ae0", at)])
    plain = TelemetrySimulator(net, ts, seed=2, routing=rm)
    i = int(sim.interfaces.lookup(["Rabat"], ["ae0"])[0])
    after = at + pd.Timedelta(seconds=30)
    c = sim.counters(after)[0, i].astype(np.int64)
    counted = np.floor(sim.octets(after)[0, i]) - np.floor(sim.octets(at)[0, i])
    assert (c == counted).all() and (c > 0).all() and (c < 2**50).all()
    before = at - pd.Timedelta(seconds=1)
    assert (sim.counters(before) == plain.counters(before)).all()
    others = np.arange(sim.interfaces.n_interfaces) != i
    assert (sim.counters(after)[0, others] == plain.counters(after)[0, others]).all()
    with pytest.raises(ValidationError, match="interface Rabat/xe-9 is not in"):
        TelemetrySimulator(net, ts, routing=rm, resets=[("Rabat", "xe-9", at)])


def test_seeds_reproducible_and_distinct(case):
    net, ts, rm = case
    a = TelemetrySimulator(net, ts, seed=3, routing=rm, near_wrap=0.2)
    b = TelemetrySimulator(net, ts, seed=3, routing=rm, near_wrap=0.2)
    c = TelemetrySimulator(net, ts, seed=4, routing=rm, near_wrap=0.2)
    t = ts.times[7]
    assert (a.counters(t) == b.counters(t)).all() and a.near_wrap_interfaces == b.near_wrap_interfaces
    assert a.exposition(1e9) == b.exposition(1e9)
    assert (a.counters(t) != c.counters(t)).mean() > 0.99
    assert len(set(a.start_octets[:, 0].tolist())) == a.interfaces.n_interfaces  # per-interface offsets


def test_accelerated_clock_counts_true_rate_per_wall_second(case):
    net, ts, rm = case
    clock = SimClock(wall_start=1_000_000.0, sim_start=ts.times[4].timestamp(), speed=60.0)
    sim = TelemetrySimulator(net, ts, seed=1, routing=rm, clock=clock)
    links, _, _ = _truth(rm, ts)
    assert clock.to_sim(clock.to_wall(ts.times[9])) == pytest.approx(ts.times[9].timestamp())
    assert clock.wall_duration(ts.times[6], ts.times[7]) == pytest.approx(5.0)   # live: 300 s / 60
    assert clock.wall_duration(ts.times[1], ts.times[2]) == pytest.approx(300.0)  # history: 1x
    m = sim.interfaces
    k = int(np.flatnonzero(m.core)[3])
    for j in (2, 6):  # one interval of history, one live
        a, b = clock.to_wall(sim.starts[j]), clock.to_wall(sim.ends[j])
        inc = (_ints(sim.counters(clock.to_sim(b))) - _ints(sim.counters(clock.to_sim(a))))[0, k, 1] % M
        assert inc * 8 / (b - a) == pytest.approx(links[j, m.link[k]], rel=1e-9, abs=8 / (b - a))
    # with_clock: same offsets, counters before the series start unchanged (a server can switch)
    other = sim.with_clock(SimClock.identity())
    assert (other.counters(ts.times[0] - pd.Timedelta("1h")) == sim.counters(ts.times[0] - pd.Timedelta("1h"))).all()
    with pytest.raises(ValidationError, match="speed"):
        SimClock(0, 0, 0)


def test_exposition_is_snmp_exporter_text_and_parses(case):
    net, ts, rm = case
    sim = TelemetrySimulator(net, ts, seed=9, routing=rm)
    wall = ts.times[3].timestamp() + 42.0
    text = sim.exposition(wall)
    lines = text.splitlines()
    for name, (kind, _) in IF_MIB.items():
        assert f"# TYPE {name} {kind}" in lines
    assert any(l.startswith("ifHCInOctets{") for l in lines) and "_total" not in text
    fams = {f.name: f for f in parse_text(text)}
    assert fams["ifHCInOctets"].type == "counter" and fams["ifHighSpeed"].type == "gauge"
    m = sim.interfaces
    cin, cout = sim.counters_at(wall)
    for fam, values in (("ifHCInOctets", cin), ("ifHCOutOctets", cout)):
        samples = fams[fam].samples
        assert len(samples) == m.n_interfaces
        for s in samples:
            assert set(s.labels) == {"instance", "ifName", "ifIndex", "ifAlias", "ifDescr"}
            i = int(m.lookup([s.labels["instance"]], [s.labels["ifName"]])[0])
            assert s.value == float(values[i])  # float64, as Prometheus holds it
    speeds = {(s.labels["instance"], s.labels["ifName"]): s.value for s in fams["ifHighSpeed"].samples}
    out_cap = pd.Series(net.capacity, index=net.links["src"].to_numpy()).groupby(level=0).sum()
    for i in range(m.n_interfaces):
        got = speeds[(m.instance[i], m.ifname[i])]
        want = net.capacity[m.link[i]] / 1e6 if m.core[i] else out_cap[net.node_names[m.node[i]]] / 1e6
        assert got == round(want)
    clock = {f.name: f.samples[0].value for f in fams.values() if f.name.startswith("surgeguard_sim")}
    assert clock["surgeguard_sim_time_seconds"] == pytest.approx(wall)
    assert clock["surgeguard_sim_interval"] == 3
    assert clock["surgeguard_sim_interval_start_seconds"] == ts.times[3].timestamp()
    assert SimClock.from_values(clock) == sim.clock


def test_served_metrics_snmp_and_timestamps(case):
    net, ts, rm = case
    sim = TelemetrySimulator(net, ts, seed=9, routing=rm)
    with sim.serve() as srv:
        with urllib.request.urlopen(f"{srv.url}/metrics") as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = r.read().decode()
        assert len(next(f for f in parse_text(body) if f.name == "ifHCOutOctets").samples) == sim.interfaces.n_interfaces
        with urllib.request.urlopen(f"{srv.url}/snmp?target=Rabat&module=if_mib&timestamps=1") as r:
            fams = {f.name: f for f in parse_text(r.read().decode())}
        rabat = fams["ifHCOutOctets"].samples
        assert len(rabat) == sum(1 for x in sim.interfaces.instance if x == "Rabat")
        assert all("instance" not in s.labels and s.timestamp is not None for s in rabat)
        for query in ("target=Nowhere", "", "target=Rabat&module=if_mib_x"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(f"{srv.url}/snmp?{query}")
            assert err.value.code == 400
        with pytest.raises(ValidationError, match=f"cannot serve the simulator on 127.0.0.1:{srv.port}"):
            sim.serve(port=srv.port)
        assert srv.scrapes == 2


def test_counter_file_round_trip_through_the_reader(case, tmp_path):
    net, ts, rm = case
    sim = TelemetrySimulator(net, ts, seed=4, routing=rm, near_wrap=0.3)
    path = write_counters(sim.counter_frame(), tmp_path / "counters.csv")
    back = read_counters(path)
    assert back.in_octets.dtype == np.uint64 and back.in_octets.max() > 2**63  # exact 64-bit values
    loads = read_link_loads(path, net, interfaces=sim.interfaces)
    links, ingress, egress = _truth(rm, ts)
    np.testing.assert_allclose(loads.bps, links, rtol=1e-12, atol=0.03)
    np.testing.assert_allclose(loads.ingress, ingress, rtol=1e-12, atol=0.03)
    assert any("wrap" in n for n in loads.notes)


def test_openmetrics_history_parses_on_the_grid(case):
    net, ts, rm = case
    clock = SimClock(1_800_000_000.0, ts.times[6].timestamp(), 60.0)
    sim = TelemetrySimulator(net, ts, seed=1, routing=rm, clock=clock)
    text = openmetrics_text(sim, end=ts.times[6], every=60, labels={"job": "sim"})
    assert text.endswith("# EOF\n")
    fams = {f.name: f for f in parse_openmetrics(text)}  # strict OpenMetrics
    assert fams["ifHCInOctets"].type == "unknown" and fams["ifHighSpeed"].type == "gauge"
    times = backfill_times(sim, end=ts.times[6], every=60)
    assert times[-1] == clock.wall_start and np.all(np.diff(times) == 60) and len(times) == 6 * 5 + 1
    samples = fams["ifHCOutOctets"].samples
    assert len(samples) == len(times) * sim.interfaces.n_interfaces
    s = samples[len(times) + 7]  # second interface, eighth time
    assert s.labels["job"] == "sim" and float(s.timestamp) == times[7]
    i = int(sim.interfaces.lookup([s.labels["instance"]], [s.labels["ifName"]])[0])
    assert int(s.value) == int(sim.counters(clock.to_sim(times[7]))[0, i, 1])
    with pytest.raises(ValidationError, match="set by the simulator"):
        openmetrics_text(sim, labels={"instance": "x"})


def test_single_matrix_needs_a_step_and_bad_parameters_are_named():
    net = ring(4)
    one = TrafficSeries(np.full((4, 4), 1e6), net.node_names, ["2020-01-01"])
    with pytest.raises(ValidationError, match="'step' parameter"):
        TelemetrySimulator(net, one)
    sim = TelemetrySimulator(net, one, step=60)
    assert sim.ends[0] - sim.starts[0] == 60
    with pytest.raises(ValidationError, match="'near_wrap' parameter"):
        TelemetrySimulator(net, one, step=60, near_wrap=2)
    with pytest.raises(ValidationError, match="start_octets"):
        TelemetrySimulator(net, one, step=60, start_octets=2**64)
    assert to_unix("1970-01-01T00:01Z") == 60.0
    assert text_exposition([]) == "\n"


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_backfill_counters_once(tmp_path):
    runner = CliRunner()
    om, cnt = tmp_path / "h" / "history.om", tmp_path / "c" / "counters.parquet"
    res = runner.invoke(app, ["simulate", "telemetry", "--network", "morocco", "--traffic",
                              "synthetic:days=0.25,step=5min", "--size-util", "0.6", "--scenario", "lockdown",
                              "--backfill", str(om), "--duration", "2h", "--counters", str(cnt), "--intervals", "0"])
    assert res.exit_code == 0, res.output
    assert "history: 24 intervals" in res.output and "nothing to serve" in res.output
    fams = {f.name: f for f in parse_openmetrics(om.read_text())}
    stamps = sorted({float(s.timestamp) for s in fams["ifHCInOctets"].samples})
    assert len(stamps) == 24 * 5 + 1 and stamps[-1] <= time.time() and stamps[-1] % 60 == 0
    assert (cnt.parent / "interfaces.csv").is_file()
    assert len(read_counters(cnt).times) == 72 + 1
    # again without --force: the outputs exist
    res = runner.invoke(app, ["simulate", "telemetry", "--network", "morocco", "--traffic", "synthetic:days=0.25",
                              "--backfill", str(om), "--intervals", "0"])
    assert res.exit_code == 2 and "already exists" in res.output
    # --once: the exposition alone on stdout
    res = runner.invoke(app, ["simulate", "telemetry", "--network", "morocco", "--traffic", "gravity", "--once"])
    assert res.exit_code == 0
    assert {f.name for f in parse_text(res.stdout)} >= set(IF_MIB)
    # the gravity matrix on unsized capacities overloads links: said on stderr, naming the fix
    assert "warning: the traffic exceeds some link capacities" in res.stderr and "--size-util" in res.stderr


@pytest.mark.parametrize("args, needle", [
    (["--duration", "1h"], "--duration sets how much history --backfill writes"),
    (["--scenario", "surge"], "unknown scenario 'surge'"),
    (["--speed", "0"], "option --speed must be"),
    (["--traffic", "synthetic:days=x"], "days and total must be numbers"),
])
def test_cli_bad_options_one_line(args, needle):
    base = ["simulate", "telemetry", "--network", "morocco", "--traffic", "synthetic:days=0.1", "--intervals", "0"]
    if "--traffic" in args:
        base = base[:4] + base[6:]
    res = CliRunner().invoke(app, base + args)
    assert res.exit_code == 2, res.output
    lines = [l for l in res.output.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], res.output


def test_cli_serves_interval_by_interval(tmp_path):
    """The command as a process: it prints its URL, serves /metrics, logs one line per interval
    and stops after --intervals."""
    exe = Path(sys.executable).with_name("surgeguard")
    cmd = [str(exe), "simulate", "telemetry", "--network", "morocco", "--traffic", "synthetic:days=0.1",
           "--size-util", "0.6", "--speed", "300", "--port", "0", "--intervals", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = []
        while not any(l.startswith("serving ") for l in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        url = lines[-1].split()[1]
        assert url.endswith("/metrics")
        with urllib.request.urlopen(url, timeout=5) as r:
            fams = {f.name: f for f in parse_text(r.read().decode())}
        assert len(fams["ifHCOutOctets"].samples) == 90
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    log = "".join(lines) + out
    assert log.count("entering") == 3 and "interval 3/29" in log and "done: 3 interval(s) served" in log
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.socket() as s:  # the port is released (no listener; the client's TIME_WAIT may remain)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
