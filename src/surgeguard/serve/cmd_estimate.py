"""``surgeguard estimate``: traffic matrices from link loads and node totals (counter or rate files,
or a Prometheus server queried with PromQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..estimate import available_estimators, estimate as run_estimate, get_estimator
from ..exceptions import ValidationError
from ..igp import ecmp_routing_matrix
from ..io.output import json_text
from ..io.traffic import write_frame
from ..telemetry import read_link_loads
from ..store import utc_time
from ..telemetry.files import interface_map_for, read_node_totals
from ..telemetry.prometheus import PrometheusSource
from .loaders import load_network, load_traffic
from .options import FORCE_HELP, claim_output_file

app = typer.Typer()

#: at most this many intervals are listed one per line; longer runs print the summary only
_LIST_MAX = 12


def _fmt(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.2e}"


@app.command()
def estimate(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key (IGP metrics give the "
                                                              "ECMP routing)"),
    link_loads: Optional[str] = typer.Option(None, "--link-loads", "-l",
                                             help="counters (ds, instance, ifName, in_octets, out_octets) or rates (ds, "
                                                  "src, dst, bps) file, CSV or Parquet (or give --prometheus)"),
    prometheus: Optional[str] = typer.Option(None, "--prometheus",
                                             help="Prometheus base URL to read the interface counters from with "
                                                  "PromQL (rate(ifHCOutOctets[step]) * 8), instead of --link-loads"),
    start: Optional[str] = typer.Option(None, "--start", help="with --prometheus: first interval, ISO 8601 (UTC)"),
    end: Optional[str] = typer.Option(None, "--end", help="with --prometheus: last interval, ISO 8601 (UTC)"),
    step: str = typer.Option("5min", "--step", help="with --prometheus: interval length, e.g. 5min, 300s"),
    matchers: Optional[str] = typer.Option(None, "--matchers",
                                           help='with --prometheus: PromQL label matchers, e.g. job="snmp"'),
    sim_clock: bool = typer.Option(False, "--sim-clock",
                                   help="with --prometheus: the counters come from `surgeguard simulate telemetry`; "
                                        "read its clock gauges and give --start/--end in simulated time"),
    node_totals: Optional[str] = typer.Option(None, "--node-totals",
                                              help="ds, node, ingress_bps, egress_bps file (required with rates; "
                                                   "replaces the edge-interface totals of counters)"),
    interfaces: Optional[str] = typer.Option(None, "--interfaces",
                                             help="interface map (instance, ifName, node, role, link) for counters"),
    history: Optional[str] = typer.Option(None, "--history",
                                          help="measured traffic matrices to learn from (method history)"),
    method: str = typer.Option("tomogravity", "--method", "-m", help=", ".join(available_estimators())),
    out: Path = typer.Option(..., "--out", "-o", help="estimated matrices, long ds, src, dst, bps (.csv or .parquet)"),
    allow_missing: bool = typer.Option(False, "--allow-missing",
                                       help="estimate from the measured links when some loads are missing (NaN)"),
    no_self_traffic: bool = typer.Option(False, "--no-self-traffic",
                                         help="the totals hold no traffic that enters and leaves at the same node"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
):
    """Estimate the traffic matrix of every interval of the link loads, write them to --out and
    print how well they reproduce the measured link loads and node totals."""
    low = out.name.lower()
    if not (low.endswith(".csv") or low.endswith(".parquet") or low.endswith(".pq")):
        raise ValidationError(f"--out {str(out)!r} must end in .csv or .parquet")
    out = claim_output_file(out, "--out", force=force)
    est = get_estimator(method, missing="skip" if allow_missing else "error", self_traffic=not no_self_traffic)
    if est.uses_history and history is None:
        raise ValidationError(f"method {est.name!r} learns from measured matrices; give them with --history")
    if (link_loads is None) == (prometheus is None):
        raise ValidationError("give the measured loads either as a file (--link-loads) or as a Prometheus URL "
                              "(--prometheus), not " + ("both" if link_loads else "neither"))
    if prometheus is not None and (start is None or end is None):
        raise ValidationError("--prometheus needs --start and --end (ISO 8601 UTC times of the first and last "
                              "interval)")
    if prometheus is None and (start or end or matchers or sim_clock):
        raise ValidationError("--start, --end, --matchers and --sim-clock go with --prometheus; remove them or "
                              "give --prometheus URL")
    net = load_network(network)
    if prometheus is not None:
        imap, _ = interface_map_for(net, interfaces)
        source = PrometheusSource(prometheus, interfaces=imap, matchers=matchers)
        if sim_clock:
            source.clock = source.sim_clock()
        loads = source.query_range(utc_time(start, "--start"), utc_time(end, "--end"), step)
        if node_totals is not None:
            loads = loads.with_node_totals(read_node_totals(node_totals, net), net)
        what = f"--prometheus {prometheus!r}"
    else:
        loads = read_link_loads(link_loads, net, interfaces=interfaces, node_totals=node_totals)
        what = f"--link-loads {link_loads!r}"
    if loads.ingress is None:
        raise ValidationError(f"{what} carries no node totals; give --node-totals (ds, node, "
                              "ingress_bps, egress_bps) or counters with edge interfaces")
    hist = load_traffic(history, net) if history is not None else None
    routing = ecmp_routing_matrix(net)
    result = run_estimate(routing, loads, est, history=hist)
    write_frame(result.series, out)
    summary = result.summary()
    if as_json:
        typer.echo(json_text({**summary, "network": net.name, "out": str(out),
                               "quality": [{"ds": t.isoformat(), **{k: (None if not np.isfinite(v) else float(v))
                                                                    for k, v in row.items()}}
                                           for t, row in result.quality.iterrows()]}))
        return
    for note in result.notes:
        typer.echo(f"note: {note}")
    q = result.quality
    typer.echo(f"{result.method} on network {net.name!r}: {len(q)} interval(s) "
               f"({q.index[0].strftime('%Y-%m-%d %H:%M')} .. {q.index[-1].strftime('%Y-%m-%d %H:%M')} UTC), "
               f"{result.seconds:.2f} s")
    typer.echo("fit to the measurements (relative L2 misfit, 0 = reproduced exactly):")
    if len(q) <= _LIST_MAX:
        typer.echo(f"  {'time (UTC)':<17} {'link loads':>11} {'node totals':>12} {'links':>6}")
        for t, row in q.iterrows():
            typer.echo(f"  {t.strftime('%Y-%m-%d %H:%M'):<17} {_fmt(row['link_rel_l2']):>11} "
                       f"{_fmt(row['totals_rel_l2']):>12} {int(row['links_measured']):>6}")
    for key, label in (("link_rel_l2", "link loads"), ("totals_rel_l2", "node totals")):
        d = summary[key]
        typer.echo(f"  {label:<12} mean {_fmt(d['mean'])}  p90 {_fmt(d['p90'])}  max {_fmt(d['max'])}")
    typer.echo(f"estimated matrices (ds, src, dst, bps) written to {out}")
