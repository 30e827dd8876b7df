"""``surgeguard plan`` (minimum-cost capacity additions) and ``surgeguard runout`` (run-out dates)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from ..classes import class_config
from ..exceptions import ValidationError
from ..plan.capacity import parse_modules, plan_capacity, planning_series
from ..plan.runout import runout_dates
from ..scenario import get_scenario
from ..io.output import atomic_path, atomic_write_json, json_text, make_output_dir
from .loaders import load_routing_inputs, parse_policies
from .options import (AT_LEAST_ONE, FORCE_HELP, POSITIVE, UTILISATION, OptionError, claim_output_dir, in_range,
                      option_message)
from .options import thresholds as parse_thresholds


#: the files ``plan --out`` writes; the first marks a folder that holds a plan (replaced without --force)
PLAN_FILES = ("plan.json", "additions.csv", "scenarios.csv")

app = typer.Typer()


@app.command()
def plan(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s",
                                           help="plan under a scenario in full, e.g. lockdown or lockdown:growth=0.5"),
    failures: str = typer.Option("none", "--failures", "-f", help="none | single-link (every fibre cut)"),
    target_util: float = typer.Option(0.8, "--target-util", callback=UTILISATION,
                                      help="max utilisation in every scenario, in (0, 1]"),
    failure_util: Optional[float] = typer.Option(None, "--failure-util", callback=UTILISATION,
                                                 help="max utilisation under failures, in (0, 1] (default: target)"),
    protect: str = typer.Option("all", "--protect", help="all | critical: what must fit under failures"),
    classes: Optional[str] = typer.Option(None, "--classes",
                                          help="traffic classes, e.g. critical:0.05:1.5x,interactive:0.35:2x,bulk:0.6"),
    modules: Optional[str] = typer.Option(None, "--modules",
                                          help="RATE:COST[:COST_PER_KM],... e.g. 10G:1:0.002,100G:4:0.01,400G:10:0.025"),
    method: str = typer.Option("auto", "--method", help="auto | milp | heuristic"),
    time_limit: float = typer.Option(60.0, "--time-limit", callback=POSITIVE, help="seconds per MILP solve"),
    top_days: int = typer.Option(4, "--top-days", callback=AT_LEAST_ONE,
                                 help="peak matrices: the busiest step of this many days"),
    max_tms: int = typer.Option(12, "--max-tms", callback=AT_LEAST_ONE, help="at most this many peak matrices"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file (src dst:n-n-n,...)"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE, help="candidate paths per OD pair"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation first, in (0, 1]"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="write plan.json, additions.csv, scenarios.csv to this folder; re-running "
                                            "into a plan's folder replaces them, other files of those names need "
                                            "--force"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print plan.json to stdout"),
):
    """Minimum-cost capacity additions (port modules per fibre) so every scenario fits the target."""
    out = claim_output_dir(out, "--out", files=PLAN_FILES, force=force)
    mods = parse_modules(modules)
    if classes is not None:
        class_config(classes)  # one-line error for a bad spec, before the slow part
    net, ts, ps = load_routing_inputs(network, traffic, paths_file=paths_file, k=k, scale=scale, size_util=size_util)
    ts = planning_series(ts, scenario, network=net)
    p = plan_capacity(net, ts, paths=ps, target_util=target_util, failures=failures, failure_util=failure_util,
                      protect=protect, classes=classes, modules=mods, method=method, time_limit=time_limit,
                      top_days=top_days, max_tms=max_tms)
    doc = p.to_dict()
    doc["scenario"] = scenario or "none"
    if out is not None:
        make_output_dir(out)
        atomic_write_json(out / "plan.json", doc)
        with atomic_path(out / "additions.csv") as tmp:
            p.additions().to_csv(tmp, index=False)
        with atomic_path(out / "scenarios.csv") as tmp:
            p.check.to_csv(tmp, index=False)
    if as_json:
        typer.echo(json_text(doc))
    else:
        typer.echo(p.summary_text())
        if out is not None:
            typer.echo(f"plan.json, additions.csv and scenarios.csv written to {out}/")

@app.command()
def runout(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir (measured history)"),
    growth: Optional[float] = typer.Option(None, "--growth", callback=in_range(float, -1, 100, "right"),
                                           help="stated growth per year, in (-1, 100] (0.3 = +30%/year)"),
    forecast: Optional[str] = typer.Option(None, "--forecast",
                                           help="a forecaster name (e.g. seasonal_naive, ets) instead of the trend"),
    forecast_days: float = typer.Option(28.0, "--forecast-days", callback=in_range(float, 0, 3660, "right"),
                                        help="days the forecaster looks ahead, in (0, 3660]"),
    model: str = typer.Option("linear", "--model", help="linear | compound growth"),
    thresholds: str = typer.Option("0.7,0.9", "--thresholds",
                                   help="warning,critical utilisation, in (0, 1], the warning below the critical"),
    policy: str = typer.Option("shortest", "--policy", "-p", help="the fixed routing (shortest, optimal, ...)"),
    window_days: float = typer.Option(7.0, "--window-days", callback=POSITIVE,
                                      help="with --growth: base = peak of the last N days (> 0)"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s", help="apply a scenario to the history first"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE, help="candidate paths per OD pair"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation first, in (0, 1]"),
    top: int = typer.Option(15, "--top", callback=AT_LEAST_ONE, help="links shown (soonest critical date first)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
):
    """Per link, the date its peak utilisation crosses the warning and critical thresholds."""
    th = parse_thresholds(thresholds)
    names = parse_policies(policy)
    if len(names) != 1 or names[0] == "oracle":
        raise OptionError(option_message("--policy", "one policy name (not oracle), e.g. --policy shortest", policy))
    pol = names[0]
    if growth is not None and forecast is not None:
        raise ValidationError("options --growth and --forecast exclude each other; give one")
    net, ts, ps = load_routing_inputs(network, traffic, paths_file=paths_file, k=k, scale=scale, size_util=size_util)
    if scenario:
        ts = get_scenario(scenario).apply(ts, network=net)
    steps = None
    if forecast is not None and ts.step is not None:
        steps = max(1, int(round(pd.Timedelta(days=forecast_days) / ts.step)))
    res = runout_dates(net, ts, paths=ps, policy=pol, growth=growth, model=model, thresholds=th,
                       window_days=window_days, forecast=forecast, forecast_steps=steps)
    if as_json:
        typer.echo(json_text(res.to_dict()))
    else:
        typer.echo(res.text(top))
        horizon = res.info.get("horizon_days")
        shown = min(top, len(res.frame))
        typer.echo(f"{shown} of {len(res.frame)} links shown (--top); '-': not within the horizon"
                   + (f" of {horizon / 365.25:.0f} years" if horizon else "") + "; '(crossed)': already above")
