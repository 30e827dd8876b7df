"""The controller when things go wrong (issue 12, section 2): one test per fault, each injected
into real components.

* a router missing from the counter file for longer than the reader fills (its totals and one
  link's both counters): its values are carried forward from the last interval that had them and
  marked stale (store, result, metrics, log); fresh values come back after it;
* a counter reset in the file: that interval's rate is unknown, carried forward, marked stale, the
  reset named in that interval's notes and log;
* Prometheus down: a REAL Prometheus stopped mid-run and restarted on the same port and TSDB; the
  controller retries with backoff, keeps the routing in force, then stores every interval that
  came due meanwhile (none lost, none twice) with the kept routing, and decides afresh after;
* solver failure: a real HiGHS time limit of 1e-9 s (and a policy that raises): the last good
  routing while it is at most ``fallback_age`` intervals old, then shortest paths.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

from surgeguard.evaluate import evaluate
from surgeguard.examples import morocco
from surgeguard.plan import size_capacities
from surgeguard.routing import get_policy
from surgeguard.scenario import gravity_series
from surgeguard.serve.config import load_config
from surgeguard.serve.controller import build_controller
from surgeguard.store import open_store
from surgeguard.telemetry.interfaces import InterfaceMap
from surgeguard.telemetry.simulate import SimClock, TelemetrySimulator

from prometheus_server import PrometheusServer, prometheus_config, require_prometheus, scrape_job, wait_for
from test_controller import STEP, file_config, splits_routing, write_case


def run_file(tmp_path, case, start, n, **more):
    _, ts, sim, counters, imap = case
    cfg = file_config(counters, imap, tmp_path / "s.duckdb",
                      **{"controller.start": start.isoformat(), "controller.history": "1h", **more})
    lines: list[str] = []
    ctl = build_controller(cfg, log=lines.append)
    try:
        results = ctl.run(max_intervals=n)
    finally:
        ctl.close()
    return results, lines, tmp_path / "s.duckdb", ctl


# ---------------------------------------------------------------------------------------------- missing
def test_a_missing_router_is_carried_forward_and_marked_stale(tmp_path):
    gone = pd.date_range("2020-03-19T02:30Z", "2020-03-19T03:00Z", freq=STEP)  # 7 samples: longer than max_gap
    net = morocco()
    far = {}

    def drop(frame):
        # Fes's own counters, and the far end of Fes's first link: that link and its reverse have
        # no counter at all
        m = InterfaceMap.default(net)
        link = next(k for k, name in enumerate(net.link_names) if name.startswith("Fes->"))
        k = int(np.flatnonzero(np.asarray(m.in_link) == link)[0])
        far.update(link=net.link_names[link], rev=f"{m.instance[k]}->Fes")
        hit = frame["ds"].isin(gone) & ((frame["instance"] == "Fes") |
                                        ((frame["instance"] == m.instance[k]) & (frame["ifName"] == m.ifname[k])))
        return frame[~hit]

    case = write_case(tmp_path / "c", hours=5, surge=False, drop=drop)
    net, ts, sim = case[:3]
    start = pd.Timestamp("2020-03-19T02:00Z")
    results, lines, store_path, ctl = run_file(tmp_path, case, start, 14)
    by_ds = {r.ds: r for r in results}
    # intervals that touch a missing sample: [02:25, 03:05) have no rate for Fes
    stale_ds = pd.date_range("2020-03-19T02:25Z", "2020-03-19T03:00Z", freq=STEP)
    link = far["link"]
    li = net.link_names.index(link)
    fes = net.node_names.index("Fes")
    last_good = by_ds[stale_ds[0] - STEP]
    for ds in stale_ds:
        r = by_ds[ds]
        assert set(r.stale) == {"Fes totals", link, far["rev"]}, (ds, r.stale)
        assert r.status == "ok" and np.isfinite(r.predicted_mlu) and r.estimate is not None
    for ds in set(by_ds) - set(stale_ds):
        assert by_ds[ds].stale == (), ds
    assert sum("| stale 3: " in x and "Fes totals" in x for x in lines) == len(stale_ds)
    with open_store(store_path, read_only=True) as st:
        rates = st.link_rates(links=[link]).set_index("ds")
        tot = st.node_totals(nodes=["Fes"]).set_index("ds")
        for ds in stale_ds:
            # carried forward: the last good interval's value, flagged stale
            assert bool(rates.loc[ds, "stale"]) and rates.loc[ds, "bps"] == pytest.approx(sim.loads.bps[24 + 4, li])
            assert tot.loc[ds, "ingress_bps"] == pytest.approx(sim.loads.ingress[28, fes], rel=1e-9)
        after = stale_ds[-1] + STEP
        k = int(ts.times.get_loc(after))
        assert not bool(rates.loc[after, "stale"])
        assert rates.loc[after, "bps"] == pytest.approx(sim.loads.bps[k, li], rel=1e-9)
        iv = st.intervals().set_index("ds")
        assert all(link in list(iv.loc[ds, "stale"]) for ds in stale_ds)
    assert last_good.ds == ts.times[28]
    assert ctl.metrics.stale_values._value.get() == 3 * len(stale_ds)


# ---------------------------------------------------------------------------------------------- reset
def test_a_counter_reset_is_handled_and_reported_in_its_interval(tmp_path):
    at = pd.Timestamp("2020-03-19T02:30Z") + pd.Timedelta(seconds=100)
    case = write_case(tmp_path / "c", hours=4, surge=False, resets=[("Rabat", "ae0", at.timestamp())])
    net, ts, sim = case[:3]
    start = pd.Timestamp("2020-03-19T02:15Z")
    results, lines, store_path, ctl = run_file(tmp_path, case, start, 6)
    by_ds = {r.ds: r for r in results}
    hit = pd.Timestamp("2020-03-19T02:30Z")
    r = by_ds[hit]
    assert r.stale == ("Rabat totals",) and r.status == "ok"
    assert any("Rabat/ae0" in n and "counter reset" in n for n in r.notes), r.notes
    for ds, other in by_ds.items():
        if ds != hit:
            assert other.stale == () and not any("counter reset" in n for n in other.notes), ds
    assert sum("counter reset" in x for x in lines if x.startswith("  note:")) == len(
        [n for n in r.notes if "counter reset" in n])
    rabat = net.node_names.index("Rabat")
    k = int(ts.times.get_loc(hit))
    with open_store(store_path, read_only=True) as st:
        tot = st.node_totals(nodes=["Rabat"]).set_index("ds")
        # the reset interval carries the interval before forward; the next is measured again
        assert tot.loc[hit, "ingress_bps"] == pytest.approx(sim.loads.ingress[k - 1, rabat], rel=1e-9)
        assert tot.loc[hit + STEP, "ingress_bps"] == pytest.approx(sim.loads.ingress[k + 1, rabat], rel=1e-9)
        assert list(st.intervals(hit, hit + STEP)["stale"].iloc[0]) == ["Rabat totals"]
    assert ctl.metrics.telemetry_notes._value.get() >= 1


# ---------------------------------------------------------------------------------------------- Prometheus
def _restart(server: PrometheusServer) -> None:
    """Start the stopped server again on the SAME port and TSDB (as a restarted service)."""
    args = [server.binary, f"--config.file={server.config_file}", f"--storage.tsdb.path={server.data_dir}",
            f"--web.listen-address=127.0.0.1:{server.port}", f"--storage.tsdb.retention.time={server.retention}"]
    with open(server.log_file, "ab") as log:
        server.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=server.workdir)

    def ready():
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(ready, 30, "Prometheus to be ready again")


def test_prometheus_down_mid_run_retries_keeps_routing_and_catches_up(tmp_path):
    require_prometheus()
    net = morocco()
    ts = gravity_series(net, "2020-03-20", 400, "5min", total_bps=800e9, random_state=2)
    net = size_capacities(net, ts, target_util=0.6)
    speed = 100.0  # a 5-minute interval lasts 3 s
    sim = TelemetrySimulator(net, ts, seed=2, clock=SimClock.live(ts.times[0], speed))
    lines: list[str] = []
    stop = threading.Event()
    with sim.serve() as srv:
        target = srv.url.split("//", 1)[1]
        server = PrometheusServer(tmp_path / "prom", prometheus_config(scrape_job(target, interval="200ms")))
        server.start()
        ctl = None
        try:
            def has_clock():
                with urllib.request.urlopen(f"{server.url}/api/v1/query?query=surgeguard_sim_speed", timeout=2) as r:
                    return b'"value"' in r.read()
            wait_for(has_clock, 20, "the first scrape")
            cfg = load_config(None, {
                "telemetry.url": server.url, "telemetry.matchers": 'job="surgeguard-sim"', "telemetry.lag": 0.6,
                "telemetry.timeout": 2.0, "controller.history": "0", "detect.detector": "none",
                "controller.retry_initial": 0.25, "controller.retry_max": 1.0, "store.path": str(tmp_path / "s.duckdb"),
                "metrics.enabled": False, "log.progress": "plain", "policy.time_limit": 10.0})
            ctl = build_controller(cfg, log=lines.append, stop=stop)
            assert ctl.source.clock == sim.clock
            thread = threading.Thread(target=ctl.run, kwargs={"stop": stop}, daemon=True)
            thread.start()
            wait_for(lambda: len(ctl.results) >= 3, 40, "three intervals before the outage")
            server.stop()  # Prometheus down
            down = time.monotonic()
            wait_for(lambda: any("retry 3 in 1 s" in x for x in lines), 30, "three retries")
            n_before = len([r for r in ctl.results if r.status == "ok"])
            time.sleep(max(0.0, 10.0 - (time.monotonic() - down)))  # three or four intervals come due
            _restart(server)
            wait_for(lambda: any("telemetry back after" in x for x in lines), 30, "the telemetry to come back")

            def fresh_after_outage():
                kept = [k for k, r in enumerate(ctl.results) if "telemetry unavailable when" in r.reason]
                # (a restarted Prometheus scrapes again some seconds after it is ready: its target
                # discovery updates every 5 s)
                return bool(kept) and sum(not r.stale for r in ctl.results[kept[-1] + 1:]) >= 2
            wait_for(fresh_after_outage, 60, "two measured intervals after the outage")
            stop.set()
            thread.join(30)
            assert not thread.is_alive()
        finally:
            stop.set()
            server.stop()
            if ctl is not None:
                ctl.close()
    retries = [x for x in lines if x.startswith("telemetry unavailable")]
    assert "retry 1 in 0.25 s" in retries[0] and "retry 2 in 0.5 s" in retries[1] and "retry 3 in 1 s" in retries[2]
    assert all("routing in force kept (optimal decided at" in x for x in retries)
    assert ctl.metrics.telemetry_errors._value.get() == len(retries)
    with open_store(tmp_path / "s.duckdb", read_only=True) as st:
        iv = st.intervals()
        ds = iv["ds"]
        # none lost, none twice: one contiguous run of 5-minute intervals
        assert ds.is_unique and list(ds) == list(pd.date_range(ds.iloc[0], ds.iloc[-1], freq=STEP))
        dec = st.decisions().set_index("ds")
        kept = dec[dec["reason"].str.contains("telemetry unavailable when this interval was due")]
        assert len(kept) >= 2 and (kept["status"] == "fallback").all() and (kept["policy"] == "optimal").all()
        # the kept routing is the one decided before the outage
        before = dec[(dec.index < kept.index[0]) & (dec["status"] == "ok")].index[-1]
        ref = splits_routing(ctl.paths, st.splits(before, before + STEP))
        for k in kept.index:
            got = splits_routing(ctl.paths, st.splits(k, k + STEP))
            np.testing.assert_allclose(got.splits, ref.splits, atol=1e-12)
        # after the outage: fresh decisions again
        after = dec[dec.index > kept.index[-1]]
        assert len(after) >= 2 and (after["status"] == "ok").all()
        # intervals Prometheus never scraped (while down, and until it scrapes again): carried
        # forward, marked stale; the last two are measured again
        stale = iv[iv["stale"].map(len) > 0]
        assert len(set(stale["ds"]) & set(kept.index)) >= 1 and stale["ds"].min() >= kept.index[0]
        assert iv["stale"].iloc[-2:].map(len).sum() == 0
        # the first fully measured interval after the outage equals the simulated loads
        t, bps = st.link_rate_array(net.link_names, after.index[-1], after.index[-1] + STEP)
        k = int(ts.times.get_loc(t[0]))
        assert np.nanmax(np.abs(bps[0] - sim.loads.bps[k]) / np.maximum(sim.loads.bps[k], 1.0)) < 0.05
    assert n_before >= 1  # a fresh routing was in force when Prometheus went down


# ---------------------------------------------------------------------------------------------- solver
class Raising:
    """A policy that fails as a solver can (any exception), for fault injection."""

    name = "raising"

    def route(self, network, paths, tm, *, warm=None):
        raise MemoryError("out of memory in the solver")


@pytest.mark.parametrize("fault", ["time limit", "exception"])
def test_solver_failure_keeps_the_last_good_routing_then_shortest_paths(tmp_path, fault):
    case = write_case(tmp_path / "c", hours=4, surge=False)
    net, ts, sim, counters, imap = case
    cfg = file_config(counters, imap, tmp_path / "s.duckdb", **{
        "controller.start": "2020-03-19T02:00:00Z", "controller.history": "1h", "controller.fallback_age": 2})
    lines: list[str] = []
    ctl = build_controller(cfg, log=lines.append)
    try:
        good = ctl.run(max_intervals=2)
        # the fault: a real HiGHS time limit far too short, or a policy that raises
        ctl.policy = get_policy("optimal", time_limit=1e-9) if fault == "time limit" else Raising()
        bad = ctl.run(max_intervals=4)
        paths = ctl.paths
    finally:
        ctl.close()
    assert [r.status for r in good] == ["ok", "ok"]
    assert [r.status for r in bad] == ["fallback"] * 4
    want = "SolverError" if fault == "time limit" else "MemoryError: out of memory in the solver"
    assert all(want in r.reason for r in bad)
    # ages 1 and 2: the last good routing; then shortest paths (IGP ECMP)
    for r in bad[:2]:
        assert "the last good routing (optimal, decided at 2020-03-19T02:05:00Z) kept" in r.reason
        np.testing.assert_allclose(r.routing.splits, good[-1].routing.splits)
        assert r.predicted_mlu == pytest.approx(float(evaluate(net, good[-1].routing, r.forecast).mlu))
    shortest = get_policy("shortest")
    for r in bad[2:]:
        assert r.policy == "shortest" and "more than 2" in r.reason
        ref = shortest.route(net, paths, r.forecast)
        np.testing.assert_allclose(r.routing.splits, ref.splits)
        assert r.predicted_mlu == pytest.approx(float(evaluate(net, ref, r.forecast).mlu))
    with open_store(tmp_path / "s.duckdb", read_only=True) as st:
        dec = st.decisions()
        assert list(dec["status"]) == ["ok"] * 2 + ["fallback"] * 4
        assert list(dec["policy"]) == ["optimal"] * 4 + ["shortest"] * 2
        assert dec["reason"].iloc[2:].str.contains(want, regex=False).all()
    assert sum("FALLBACK" in x for x in lines) == 4
