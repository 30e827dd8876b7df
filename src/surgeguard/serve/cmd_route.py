"""``surgeguard solve`` (route each matrix of a series) and ``surgeguard replay`` (walk a series as a
controller would, beside the oracle)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..evaluate import evaluate
from ..evaluate import replay as run_replay
from ..evaluate.tables import summary_table
from ..scenario import get_scenario
from ..exceptions import ValidationError
from ..io.output import json_text
from .loaders import load_routing_inputs, parse_policies, with_model
from .options import (AT_LEAST_ONE, FORCE_HELP, NON_NEGATIVE_INT, POSITIVE, TIME_LIMIT_HELP, UTILISATION,
                      OptionError, check_step, check_steps, claim_output_dir, option_message)

#: the files ``replay --out`` writes (:meth:`~surgeguard.evaluate.replay.ReplayResult.write`); the
#: first marks a folder that holds a replay's results (replaced without --force when re-run)
REPLAY_FILES = ("steps.csv", "steps.parquet", "summary.json")

app = typer.Typer()


@app.command()
def solve(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key (e.g. sndlib/abilene)"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    policy: str = typer.Option("optimal", "--policy", "-p", help="routing policy"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file (src dst:n-n-n,...)"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE, help="candidate paths per OD pair (k shortest)"),
    at: Optional[int] = typer.Option(None, "--at", help="solve only step I of the series (negative: from the end)"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation, in (0, 1]"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", callback=POSITIVE, help=TIME_LIMIT_HELP),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    model: Optional[str] = typer.Option(None, "--model", help="model file for policies that take one (learned)"),
):
    """Route each traffic matrix of a series with a policy and report its MLU."""
    names = parse_policies(policy)
    if len(names) != 1 or names[0] == "oracle":
        raise OptionError(option_message("--policy", "one policy name (not oracle), e.g. --policy optimal", policy))
    name = names[0]
    pol = with_model([name], model, time_limit=time_limit)[0]
    net, ts, ps = load_routing_inputs(network, traffic, paths_file=paths_file, k=k, scale=scale,
                                      size_util=size_util)
    at = check_step(at, len(ts))
    steps = [at] if at is not None else range(len(ts))
    warm = None
    if not as_json:
        typer.echo(f"{net.describe()}; {ps.n_od} OD pairs, {ps.n_paths} paths ({ps.method})")
        typer.echo(f"{'index':>5}  {'time (UTC)':<20} {'policy':<10} {'MLU':>8} {'lost Gbit/s':>12} {'seconds':>8}")
    for i in steps:
        tm = ts.matrix(i)
        t0 = time.perf_counter()
        routing = pol.route(net, ps, tm, warm=warm)
        sec = time.perf_counter() - t0
        warm = routing
        ev = evaluate(net, routing, tm)
        rec = {"index": int(i), "time": ts.times[i].isoformat(), "policy": name, "mlu": ev.mlu,
               "solve_seconds": sec, "lost_bps": ev.lost_bps, "congested_links": len(ev.congested),
               "worst_link": ev.worst_link, "demand_bps": ev.demand_bps}
        for key in ("gap", "lower_bound", "iterations"):
            if key in routing.info:
                rec[key] = routing.info[key]
        if as_json:
            typer.echo(json_text(rec))
        else:
            typer.echo(f"{i:>5}  {ts.times[i].strftime('%Y-%m-%d %H:%M'):<20} {name:<10} {ev.mlu:>8.4f} "
                       f"{ev.lost_bps / 1e9:>12.3f} {sec:>8.3f}")


@app.command()
def replay(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir"),
    policy: str = typer.Option("shortest,optimal", "--policy", "-p", help="comma-separated policies"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s", help="e.g. lockdown or lockdown:growth=0.5"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE, help="candidate paths per OD pair"),
    start: int = typer.Option(0, "--start", callback=NON_NEGATIVE_INT,
                              help="first step evaluated (earlier steps are history)"),
    stop: Optional[int] = typer.Option(None, "--stop", callback=AT_LEAST_ONE, help="stop before this step"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation, in (0, 1]"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", callback=POSITIVE, help=TIME_LIMIT_HELP),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="write steps.csv/.parquet and summary.json to this folder; re-running "
                                            "into a replay's folder replaces its results, other files of those "
                                            "names need --force"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
    model: Optional[str] = typer.Option(None, "--model", help="model file for policies that take one (learned)"),
):
    """Walk a series: each policy sees only the past and is judged on the actual matrix, beside the oracle."""
    out = claim_output_dir(out, "--out", files=REPLAY_FILES, force=force)
    names = parse_policies(policy)
    names = [p if p == "oracle" else q for p, q in zip(names, with_model(names, model, time_limit=time_limit))]
    scen = get_scenario(scenario) if scenario else None
    net, ts, ps = load_routing_inputs(network, traffic, paths_file=paths_file, k=k, scale=scale,
                                      size_util=size_util)
    if ts.step is None or len(ts) < 2:
        raise ValidationError(f"--traffic {traffic!r} holds a single matrix; a replay walks a time series: give a "
                              "series, or use `surgeguard solve` for one matrix")
    check_steps(start, stop, len(ts))
    scen_info = {}
    if scen is not None:
        scen_info = scen.describe(ts)
        ts = scen.apply(ts, network=net)
    result = run_replay(net, ps, ts, names, start=start, stop=stop, progress=None if not as_json else False,
                        scenario=scen_info)
    summary = result.summary()
    if out is not None:
        result.write(out)
    if as_json:
        typer.echo(json_text(summary))
    else:
        typer.echo(f"{net.describe()}; {len(ts)} steps of {ts.step}; {ps.n_paths} paths")
        typer.echo(summary_table(summary))
        if out is not None:
            typer.echo(f"per-step results and summary.json written to {out}/")
