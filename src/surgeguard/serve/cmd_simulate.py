"""``surgeguard simulate telemetry``: a live network to watch (:mod:`surgeguard.telemetry.simulate`).

The traffic series is routed over the network's IGP (ECMP) and served as router interface counters
(``ifHCInOctets``, ``ifHCOutOctets``, ``ifHighSpeed``) at ``/metrics`` (and ``/snmp?target=ROUTER``,
as ``snmp_exporter``), interval by interval, at an accelerated clock (``--speed``: an interval of
``step`` simulated seconds lasts ``step / speed`` wall seconds; counters advance at the true rate
per wall second, so ``rate(ifHCOutOctets[W]) * 8`` is the true bit/s).

With ``--backfill FILE`` the first ``--duration`` of the series (default: all of it) is written as
OpenMetrics history at the 1x clock, ending now, for ``promtool tsdb create-blocks-from
openmetrics``; the live part continues from there at ``--speed``. ``--counters FILE`` writes the
counters at every interval boundary (the series' own dates, 1x) as a long CSV/Parquet file, with
the interface map (``interfaces.csv``) beside it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import typer

from ..igp import ecmp_routing_matrix
from ..io.output import atomic_path, make_output_dir
from ..plan.sizing import size_capacities
from ..scenario import get_scenario
from ..telemetry.files import interface_map_for, write_counters
from ..telemetry.openmetrics import write_openmetrics
from ..telemetry.simulate import SimClock, TelemetrySimulator
from ..traffic import TrafficSeries
from .loaders import load_inputs, load_network, needs_sizing, note, synthetic_series
from .options import FORCE_HELP, NON_NEGATIVE_INT, UTILISATION, OptionError, claim_output_file, in_range, option_message

app = typer.Typer(help="Simulated networks: telemetry that a monitoring system can scrape.", no_args_is_help=True)

#: the interface map written beside ``--counters``
MAP_FILE = "interfaces.csv"
#: intervals a single traffic matrix is repeated for when no --intervals is given (a day at 5 min)
ONE_MATRIX_INTERVALS = 288


def _duration(text: str | None, option: str) -> pd.Timedelta | None:
    if text is None:
        return None
    try:
        d = pd.Timedelta(text)
    except (ValueError, TypeError):
        d = None
    if d is None or d is pd.NaT or d <= pd.Timedelta(0):
        raise OptionError(option_message(option, "a positive duration such as 1d, 12h or 90min", text))
    return d


def _inputs(network: str, traffic: str, step: pd.Timedelta, intervals: int | None, size_util: float | None):
    if traffic.strip().lower().startswith("synthetic"):
        raw = load_network(network)
        ts = synthetic_series(traffic, raw)
        sized = size_util is not None or needs_sizing(raw)
        net = size_capacities(raw, ts, target_util=size_util or 0.6) if sized else raw
        if needs_sizing(raw):
            note(f"note: {network!r} has no capacities; sized for {size_util or 0.6:.0%} peak utilisation of the "
                 "traffic on shortest paths (standard ports); set --size-util to change")
    else:
        net, ts = load_inputs(network, traffic, size_util=size_util)
    if len(ts) == 1:
        n = intervals if intervals else ONE_MATRIX_INTERVALS
        start = pd.Timestamp.now(tz="UTC").floor(step)
        note(f"note: --traffic {traffic!r} is one matrix; repeating it for {n} interval(s) of {step.total_seconds():g} s "
             f"from {start.isoformat()}")
        times = pd.date_range(start, periods=n, freq=step)
        ts = TrafficSeries(np.repeat(ts.values, n, axis=0), ts.nodes, times, ts.classes, ts.name, dict(ts.meta))
    return net, ts


@app.command("telemetry")
def telemetry(
    network: str = typer.Option(..., "--network", "-n", help="topology file, topohub key, or morocco"),
    traffic: str = typer.Option(..., "--traffic", "-t",
                                help="traffic series file/dir; 'synthetic[:days=1,step=5min,total=BPS,seed=0,"
                                     "start=2020-03-20]' (gravity with the fitted daily shape); or "
                                     "'gravity[:total=BPS]' (one matrix, repeated)"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s", help="e.g. lockdown or lockdown:growth=0.5"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation of the traffic "
                                                   "(before the scenario), in (0, 1]"),
    interfaces: Optional[str] = typer.Option(None, "--interfaces",
                                             help="interface map file (instance, ifName, node, role, link); "
                                                  "default: the topology's ifName attributes, else the "
                                                  "simulator's naming (et-0/0/k, ae0)"),
    seed: int = typer.Option(0, "--seed", callback=NON_NEGATIVE_INT, help="seed of the counters' start offsets"),
    near_wrap: float = typer.Option(0.0, "--near-wrap", callback=in_range(float, 0, 1),
                                    help="fraction of interfaces whose counters start near 2**64 and wrap"),
    speed: float = typer.Option(60.0, "--speed", callback=in_range(float, 0, 1e6, closed="right"),
                                help="simulated seconds per wall second in the live part"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to serve on"),
    port: int = typer.Option(9116, "--port", callback=in_range(int, 0, 65535),
                             help="port to serve on (0: any free port, printed)"),
    backfill: Optional[Path] = typer.Option(None, "--backfill",
                                            help="write the history as OpenMetrics to this file (for promtool)"),
    duration: Optional[str] = typer.Option(None, "--duration",
                                           help="history backfilled, from the series start (e.g. 1d, 12h; "
                                                "default: the whole series); the live part follows it"),
    every: float = typer.Option(60.0, "--every", callback=in_range(float, 0, 86400, closed="right"),
                                help="seconds between backfilled samples"),
    job: str = typer.Option("surgeguard-sim", "--job",
                            help="job label of the backfilled samples (the job name of the live scrape)"),
    counters: Optional[Path] = typer.Option(None, "--counters",
                                            help="write the counters at every interval boundary to this .csv or "
                                                 ".parquet file (the interface map goes beside it)"),
    intervals: Optional[int] = typer.Option(None, "--intervals", callback=NON_NEGATIVE_INT,
                                            help="serve this many intervals, then stop (0: do not serve)"),
    once: bool = typer.Option(False, "--once", help="print the /metrics text at the live start and exit"),
    step: str = typer.Option("5min", "--step", help="interval length when the traffic is one matrix"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
):
    """Serve a network's interface counters at /metrics, interval by interval, at an accelerated clock."""
    step_td = _duration(step, "--step")
    dur = _duration(duration, "--duration")
    if dur is not None and backfill is None:
        raise OptionError("option --duration sets how much history --backfill writes; add --backfill FILE or drop "
                          "--duration")
    backfill = claim_output_file(backfill, "--backfill", force=force)
    counters = claim_output_file(counters, "--counters", force=force)
    if counters is not None:
        if not counters.name.lower().endswith((".csv", ".csv.gz", ".parquet", ".pq")):
            raise OptionError(option_message("--counters", "a .csv or .parquet file", str(counters)))
        claim_output_file(counters.parent / MAP_FILE, "--counters map", force=force)
    net, ts = _inputs(network, traffic, step_td, intervals, size_util)
    if scenario:
        ts = get_scenario(scenario).apply(ts, network=net)
    imap, map_notes = interface_map_for(net, interfaces)
    for line in map_notes:
        note(f"note: {line}")
    rm = ecmp_routing_matrix(net)
    step_s = None if ts.step is not None else step_td.total_seconds()
    # the counters on the series' own dates (1x clock), for --counters and to find the intervals
    probe = TelemetrySimulator(net, ts, interfaces=imap, seed=seed, near_wrap=near_wrap, routing=rm, step=step_s)
    T = probe.n_intervals
    # the history: the first intervals up to --duration (all of them with --backfill alone)
    if backfill is not None:
        k_hist = T if dur is None else min(T, int(np.searchsorted(probe.ends, probe.starts[0] + dur.total_seconds()
                                                                  - 1e-6, side="left")) + 1)
        pivot_wall = math.floor(time.time() / every) * every  # the history ends now, on the sample grid
    else:
        k_hist = 0
        pivot_wall = math.ceil(time.time()) + 1.0
    pivot_sim = probe.starts[k_hist] if k_hist < T else probe.ends[-1]
    clock = SimClock(pivot_wall, pivot_sim, speed)
    sim = TelemetrySimulator(net, ts, interfaces=imap, seed=seed, clock=clock, near_wrap=near_wrap, routing=rm,
                             step=step_s)
    say = note if once else typer.echo  # with --once, stdout holds the exposition alone
    util = np.max(sim.loads.bps / net.capacity[None, :])
    if util > 1:
        worst = net.link_names[int(np.argmax(np.max(sim.loads.bps / net.capacity[None, :], axis=0)))]
        note(f"warning: the traffic exceeds some link capacities (up to {util:.0%} on {worst}); the counters count "
             "it all (the simulator drops nothing), but readers take rates above an interface's speed for counter "
             "glitches, so `estimate` will find those links missing: size the capacities with --size-util 0.6, "
             "or scale the traffic down")
    say(f"{net.describe()}; {imap.n_interfaces} interfaces on {len(set(imap.instance))} routers; "
               f"{T} interval(s) of {sim.step:g} s from {ts.times[0].isoformat()}")
    if sim.near_wrap_interfaces:
        say(f"counters near 2**64 (they wrap): {', '.join('/'.join(x) for x in sim.near_wrap_interfaces[:8])}"
                   f"{' ...' if len(sim.near_wrap_interfaces) > 8 else ''}")
    if counters is not None:
        write_counters(probe.counter_frame(), counters)
        with atomic_path(counters.parent / MAP_FILE) as tmp:
            imap.to_frame().to_csv(tmp, index=False)
        say(f"counters at every interval boundary (1x, the series' dates) written to {counters}, the "
                   f"interface map to {counters.parent / MAP_FILE}")
    if backfill is not None:
        make_output_dir(backfill.parent)
        write_openmetrics(sim, backfill, start=sim.starts[0], end=pivot_sim, every=every, labels={"job": job})
        say(f"history: {k_hist} intervals ({ts.times[0].isoformat()} .. "
                   f"{pd.Timestamp(pivot_sim, unit='s', tz='UTC').isoformat()}) written to {backfill}, sampled every "
                   f"{every:g} s and ending {pd.Timestamp(pivot_wall, unit='s', tz='UTC').isoformat()}; load it with "
                   f"`promtool tsdb create-blocks-from openmetrics {backfill} DATA_DIR`")
    if once:
        typer.echo(sim.exposition(pivot_wall), nl=False)
        return
    last = T if intervals is None else min(T, k_hist + intervals)
    if last <= k_hist:
        typer.echo("nothing to serve: " + ("--intervals 0" if intervals == 0 else "the history covers the whole series"))
        return
    with sim.serve(host, port) as srv:
        typer.echo(f"serving {srv.url}/metrics (every router; scrape with honor_labels: true) and "
                   f"{srv.url}/snmp?target=ROUTER&module=if_mib (one router, as snmp_exporter)")
        typer.echo(f"clock: simulated {pd.Timestamp(pivot_sim, unit='s', tz='UTC').isoformat()} at "
                   f"{pd.Timestamp(pivot_wall, unit='s', tz='UTC').isoformat()}, speed {speed:g} (an interval lasts "
                   f"{sim.step / speed:g} s; rate(ifHCOutOctets[{sim.step / speed:g}s]) * 8 is the load in bit/s); "
                   f"{last - k_hist} interval(s) to serve; Ctrl-C stops")
        done = k_hist
        try:
            for k in range(k_hist, last):
                time.sleep(max(0.0, clock.to_wall(sim.starts[k]) - time.time()))
                typer.echo(sim.interval_summary(k))
                done = k + 1
            time.sleep(max(0.0, clock.to_wall(sim.ends[last - 1]) - time.time()))
        except KeyboardInterrupt:
            typer.echo(f"stopped after {done - k_hist} interval(s)")
            return
    typer.echo(f"done: {last - k_hist} interval(s) served")
