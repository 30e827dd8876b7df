"""The telemetry simulator against a REAL Prometheus (Debian package ``prometheus`` 2.42, never a mock).

(a) live: Prometheus scrapes the simulator at an accelerated clock, three ways at once (``/metrics``
    with ``honor_labels``, ``/snmp?target=`` relabelled as an snmp_exporter deployment, and
    ``/metrics?timestamps=1``); the link loads read back through PromQL (PrometheusSource) equal the
    simulated ones.
(b) backfill: a day of OpenMetrics history (with 64-bit wraps and a counter reset) loaded by
    ``promtool tsdb create-blocks-from openmetrics``, Prometheus started on it, ``query_range`` gives
    the simulated loads per interval, near-exactly.
(c) errors: Prometheus down, not a Prometheus, a PromQL error: one line naming the URL and the fix;
    interfaces absent from Prometheus: NaN loads and a note naming them.

Skipped when the binaries are absent, unless SURGEGUARD_REQUIRE_PROMETHEUS is set (CI: a failure).
"""

from __future__ import annotations

import math
import socket
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner
from prometheus_server import (create_blocks, free_port, prometheus_config, require_prometheus, running_prometheus,
                               scrape_job, wait_for)

from surgeguard.estimate import estimate
from surgeguard.examples import morocco
from surgeguard.igp import ecmp_routing_matrix
from surgeguard.plan import size_capacities
from surgeguard.scenario import gravity_series
from surgeguard.serve.cli import app
from surgeguard.telemetry import InterfaceMap, read_link_loads, write_counters
from surgeguard.telemetry.openmetrics import write_openmetrics
from surgeguard.telemetry.prometheus import PrometheusSource, TelemetryError
from surgeguard.telemetry.simulate import SimClock, TelemetrySimulator

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def network():
    require_prometheus()
    net = morocco()
    base = gravity_series(net, "2020-03-19", 288, "5min", total_bps=800e9, random_state=0)
    return size_capacities(net, base, target_util=0.6), base


def _rel_err(got: np.ndarray, want: np.ndarray) -> float:
    assert not np.isnan(got).any(), "a load read back is unknown (NaN)"
    return float(np.max(np.abs(got - want) / np.maximum(want, 1.0)))


def test_live_scrape_rates_equal_simulated_loads(network, tmp_path):
    """Prometheus scrapes the simulator every 250 ms (500 ms through /snmp); at speed 100 an interval
    of 300 s lasts 3 wall seconds, and ``rate(ifHCOutOctets[3s]) * 8`` at each interval's end must be
    its load.

    Tolerances: with sample timestamps (the time each counter was read, ms) the rate is exact up to
    float64 rounding of counters near 2**56 (< 1e-7 relative); without them Prometheus stamps a
    sample when the scrape starts and the counter is read a few ms later (2-15 ms measured here, more
    on a loaded machine), so the two ends of a 3 s window can be off by that jitter: 2% allows 60 ms.
    """
    net, base = network
    ts = base.window(0, 4)
    speed = 100.0
    # idle until the scrapes run: the pivot is far ahead, so the counters stay at their start offsets
    idle = TelemetrySimulator(net, ts, seed=7, clock=SimClock(time.time() + 3600, ts.times[0].timestamp(), speed))
    routers = sorted(set(idle.interfaces.instance))
    with idle.serve() as srv:
        target = f"127.0.0.1:{srv.port}"
        config = prometheus_config(scrape_job(target, job="metrics"),
                                   scrape_job(target, job="stamped", params={"timestamps": "1"}),
                                   scrape_job(target, job="snmp", routers=routers, interval="500ms"))
        with running_prometheus(tmp_path / "prom", config) as prom:
            probe = PrometheusSource(prom.url, interfaces=idle.interfaces)
            t_up = time.time()
            wait_for(lambda: (r := probe.instant(f"count(timestamp(up == 1) > {t_up})"))
                     and float(r[0]["value"][1]) == 2 + len(routers), 25, "every scrape target up")
            sim = idle.with_clock(SimClock.live(ts.times[0], speed, now=time.time() + 0.5))
            srv.simulator = sim
            time.sleep(max(0.0, sim.clock.to_wall(sim.ends[-1]) - time.time() + 0.8))
            for job, rtol in (("stamped", 1e-7), ("metrics", 0.02), ("snmp", 0.02)):
                src = PrometheusSource(prom.url, interfaces=sim.interfaces, matchers={"job": job})
                clock = src.sim_clock()
                assert clock == sim.clock, job
                src.clock = clock
                loads = src.query_range(ts.times[0], ts.times[-1], "5min")
                assert loads.links == net.link_names and len(loads) == len(ts)
                assert list(loads.times) == list(ts.times)
                assert _rel_err(loads.bps, sim.loads.bps) < rtol, job
                assert _rel_err(loads.ingress, sim.loads.ingress) < rtol, job
                assert _rel_err(loads.egress, sim.loads.egress) < rtol, job
                np.testing.assert_allclose(loads.capacity, net.capacity)
                assert loads.notes == (), (job, loads.notes)
                assert f'rate(ifHCOutOctets{{job="{job}"}}[3s]) * 8' in src.queries
            # the last complete interval, as a controller asks for it
            last = src.latest("5min", at=sim.ends[-1])
            assert list(last.times) == [ts.times[-1]]
            assert _rel_err(last.bps, sim.loads.bps[-1:]) < 0.02


def test_backfilled_history_read_back_exactly(network, tmp_path):
    """A day of history at 1x, sampled every 60 s (on the grid of the 5-min intervals), with 10% of
    the counters wrapping past 2**64 and one counter reset: every interval's load comes back from
    the promtool-created TSDB near-exactly (float64 holds counters near 2**64 to 4096 octets, i.e.
    ~110 bit/s over 300 s), wraps and the reset handled and named in the notes."""
    net, ts = network
    pivot = math.floor(time.time() / 60) * 60  # the history ends now, on the sample grid
    clock = SimClock(pivot, ts.times[-1].timestamp() + 300, 60.0)
    reset_at = ts.times[100].timestamp() + 123.0
    sim = TelemetrySimulator(net, ts, seed=3, clock=clock, near_wrap=0.1, resets=[("Fes", "ae0", reset_at)])
    om = write_openmetrics(sim, tmp_path / "history.om", every=60, labels={"job": "sim"})
    create_blocks(om, tmp_path / "tsdb")
    with running_prometheus(tmp_path / "prom", data_dir=tmp_path / "tsdb") as prom:
        src = PrometheusSource(prom.url, interfaces=sim.interfaces, matchers={"job": "sim"})
        src.clock = src.sim_clock(at=pivot)
        assert src.clock == clock
        loads = src.query_range(ts.times[0], ts.times[-1], 300)
        assert len(loads) == 288 and list(loads.times) == list(ts.times)
        assert _rel_err(loads.bps, sim.loads.bps) < 1e-6
        # the reset loses what Fes/ae0 counted between the last poll (reset_at - 3 s) and the reset
        want_in, want_out = sim.loads.ingress.copy(), sim.loads.egress.copy()
        fes = net.node_names.index("Fes")
        pos = int(sim.interfaces.lookup(["Fes"], ["ae0"])[0])
        lost = sim.octets(reset_at)[0, pos] - sim.octets(reset_at - 3.0)[0, pos]
        want_in[100, fes] -= lost[0] * 8 / 300
        want_out[100, fes] -= lost[1] * 8 / 300
        assert lost.min() > 0
        assert _rel_err(loads.ingress, want_in) < 1e-6
        assert _rel_err(loads.egress, want_out) < 1e-6
        text = "\n".join(loads.notes)
        assert "Fes/ae0 went down in the interval 2020-03-19 08:20:00+00:00: a reset" in text
        wrapped = {f"{i}/{f}" for i, f in sim.near_wrap_interfaces}
        assert len(wrapped) >= 9
        assert all(f"{name} went down" in text for name in wrapped)
        assert text.count("a 64-bit wrap") >= len(wrapped)

        # (c) a PromQL error from the real server: one line, the URL and the fix
        bad = PrometheusSource(prom.url, interfaces=sim.interfaces, matchers='job=~"("', clock=clock)
        with pytest.raises(TelemetryError) as err:
            bad.query_range(ts.times[0], ts.times[3], 300)
        msg = str(err.value)
        assert "\n" not in msg and prom.url in msg and "refused the query" in msg and "matchers" in msg
        # a metric Prometheus does not hold: one line naming the PromQL sent
        none = PrometheusSource(prom.url, interfaces=sim.interfaces, in_metric="ifHCInOctetz", clock=clock)
        with pytest.raises(TelemetryError, match=r"has no data for 'rate\(ifHCInOctetz\[300s\]\) \* 8'"):
            none.query_range(ts.times[0], ts.times[3], 300)
        # interfaces the map names but Prometheus lacks: NaN loads and a note naming them
        frame = sim.interfaces.to_frame()
        frame.loc[frame["instance"] == "Tanger", "instance"] = "tanger-re0"
        renamed = InterfaceMap.from_frame(frame, net)
        part = PrometheusSource(prom.url, interfaces=renamed, clock=clock).query_range(ts.times[0], ts.times[3], 300)
        # links: from the far ends' in counters; Tanger's own totals: unknown
        assert _rel_err(part.bps, sim.loads.bps[:4]) < 1e-6
        tanger = net.node_names.index("Tanger")
        assert np.isnan(part.ingress[:, tanger]).all() and np.isnan(part.egress[:, tanger]).all()
        assert not np.isnan(np.delete(part.ingress, tanger, axis=1)).any()
        notes = "\n".join(part.notes)
        assert "tanger-re0/et-0/0/0" in notes and "Tanger/ae0" in notes  # missing, and not in the map
        assert "far end's in counter" in notes


def test_prometheus_down_or_not_prometheus_is_one_line(network):
    net, ts = network
    imap = InterfaceMap.default(net)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(TelemetryError) as err:
        PrometheusSource(url, interfaces=imap).query_range(ts.times[0], ts.times[1], 300)
    msg = str(err.value)
    assert "\n" not in msg and url in msg and "unreachable" in msg and "fix the URL" in msg
    # a server that is not Prometheus (the simulator itself): its 404 named, and the fix
    sim = TelemetrySimulator(net, ts.window(0, 2), seed=0)
    with sim.serve() as srv:
        with pytest.raises(TelemetryError) as err:
            PrometheusSource(srv.url, interfaces=imap).query_range(ts.times[0], ts.times[1], 300)
    msg = str(err.value)
    assert "\n" not in msg and "HTTP 404" in msg and "a Prometheus server?" in msg
    with pytest.raises(TelemetryError, match="not an http"):
        PrometheusSource("localhost:9090", interfaces=imap)
    # a server that accepts the connection but never answers: the timeout, in one line
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        silent = f"http://127.0.0.1:{s.getsockname()[1]}"
        t0 = time.monotonic()
        with pytest.raises(TelemetryError, match="did not answer within 0.5 s"):
            PrometheusSource(silent, interfaces=imap, timeout=0.5).query_range(ts.times[0], ts.times[1], 300)
        assert time.monotonic() - t0 < 5


def test_estimates_from_promql_equal_estimates_from_files(network, tmp_path):
    """The issue's end-to-end check: two hours of simulated counters (with 64-bit wraps) backfilled
    with promtool into a real Prometheus; the matrices estimated from the PromQL rates (Python API
    and ``surgeguard estimate --prometheus``) equal those estimated from the same counters written
    to a file (``--link-loads``), and both reproduce the measured link loads."""
    net, ts = network
    ts = ts.window(0, 24)
    pivot = math.floor(time.time() / 60) * 60
    clock = SimClock(pivot, ts.times[-1].timestamp() + 300, 60.0)
    sim = TelemetrySimulator(net, ts, seed=11, clock=clock, near_wrap=0.2)
    om = write_openmetrics(sim, tmp_path / "history.om", every=60, labels={"job": "sim"})
    create_blocks(om, tmp_path / "tsdb")
    counters = write_counters(sim.counter_frame(), tmp_path / "counters.csv")
    rm = ecmp_routing_matrix(net)
    from_file = estimate(rm, read_link_loads(counters, net, interfaces=sim.interfaces), "tomogravity")
    with running_prometheus(tmp_path / "prom", data_dir=tmp_path / "tsdb") as prom:
        src = PrometheusSource(prom.url, interfaces=sim.interfaces, matchers={"job": "sim"}, clock=clock)
        loads = src.query_range(ts.times[0], ts.times[-1], 300)
        from_prom = estimate(rm, loads, "tomogravity")
        runner = CliRunner()
        out_p, out_f = tmp_path / "prom.csv", tmp_path / "file.csv"
        r = runner.invoke(app, ["estimate", "-n", "morocco", "--prometheus", prom.url, "--matchers", 'job="sim"',
                                "--sim-clock", "--start", ts.times[0].isoformat(), "--end", ts.times[-1].isoformat(),
                                "--step", "5min", "-o", str(out_p)])
        assert r.exit_code == 0, r.output
    r2 = CliRunner().invoke(app, ["estimate", "-n", "morocco", "--link-loads", str(counters), "-o", str(out_f)])
    assert r2.exit_code == 0, r2.output
    assert list(from_prom.series.times) == list(ts.times) == list(from_file.series.times)
    truth = ts.values.sum()
    # counters near 2**56 read back as float64 by Prometheus: ~1e-7 relative on a rate
    assert np.abs(from_prom.series.values - from_file.series.values).max() < 1e-6 * truth
    assert from_prom.quality["link_rel_l2"].max() < 1e-6 and from_file.quality["link_rel_l2"].max() < 1e-6
    # the written files: the same (ds, src, dst) rows up to pairs estimated at (near) zero, which the
    # writer leaves out, and the same rates
    both = pd.read_csv(out_p).merge(pd.read_csv(out_f), on=["ds", "src", "dst"], how="outer",
                                    suffixes=("_prom", "_file")).fillna(0.0)
    assert len(both) > 0.99 * 24 * len(net.node_names) ** 2
    np.testing.assert_allclose(both["bps_prom"], both["bps_file"], rtol=0, atol=1e-6 * truth)
    assert "wrap" in " ".join(loads.notes)  # the wraps were met and handled on the way
