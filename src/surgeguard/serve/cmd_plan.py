"""``surgeguard plan`` (minimum-cost capacity additions) and ``surgeguard runout`` (run-out dates)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from ..classes import class_config
from ..exceptions import ValidationError
from ..plan.capacity import parse_modules, plan_capacity, planning_series
from ..plan.runout import runout_dates
from ..scenario import get_scenario
from .loaders import load_routing_inputs, parse_policies


def _load(network: str, traffic: str, scale: float, size_util: Optional[float], paths_file: Optional[str], k: int):
    """:func:`~surgeguard.serve.loaders.load_routing_inputs`, after checking ``--k`` and ``--scale``."""
    if k < 1:
        raise ValidationError(f"--k {k} must be >= 1 candidate path per OD pair")
    if not scale > 0:
        raise ValidationError(f"--scale {scale} must be > 0")
    return load_routing_inputs(network, traffic, paths_file=paths_file, k=k, scale=scale, size_util=size_util)


def _thresholds(text: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValidationError(f"--thresholds {text!r} must be numbers separated by commas, e.g. 0.7,0.9") from None
    if len(out) != 2:
        raise ValidationError(f"--thresholds {text!r} needs two utilisations (warning,critical), e.g. 0.7,0.9")
    return out


app = typer.Typer()


@app.command()
def plan(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s",
                                           help="plan under a scenario in full, e.g. lockdown or lockdown:growth=0.5"),
    failures: str = typer.Option("none", "--failures", "-f", help="none | single-link (every fibre cut)"),
    target_util: float = typer.Option(0.8, "--target-util", help="max utilisation in every scenario, in (0, 1]"),
    failure_util: Optional[float] = typer.Option(None, "--failure-util",
                                                 help="max utilisation under failures (default: target)"),
    protect: str = typer.Option("all", "--protect", help="all | critical: what must fit under failures"),
    classes: Optional[str] = typer.Option(None, "--classes",
                                          help="traffic classes, e.g. critical:0.05:1.5x,interactive:0.35:2x,bulk:0.6"),
    modules: Optional[str] = typer.Option(None, "--modules",
                                          help="RATE:COST[:COST_PER_KM],... e.g. 10G:1:0.002,100G:4:0.01,400G:10:0.025"),
    method: str = typer.Option("auto", "--method", help="auto | milp | heuristic"),
    time_limit: float = typer.Option(60.0, "--time-limit", help="seconds per MILP solve"),
    top_days: int = typer.Option(4, "--top-days", help="peak matrices: the busiest step of this many days"),
    max_tms: int = typer.Option(12, "--max-tms", help="at most this many peak matrices"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file (src dst:n-n-n,...)"),
    k: int = typer.Option(4, "--k", help="candidate paths per OD pair"),
    scale: float = typer.Option(1.0, "--scale", help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", help="size capacities for this peak utilisation first"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write plan.json, additions.csv, scenarios.csv here"),
    as_json: bool = typer.Option(False, "--json", help="print plan.json to stdout"),
):
    """Minimum-cost capacity additions (port modules per fibre) so every scenario fits the target."""
    if top_days < 1 or max_tms < 1:
        raise ValidationError(f"--top-days {top_days} and --max-tms {max_tms} must be >= 1")
    if not time_limit > 0:
        raise ValidationError(f"--time-limit {time_limit} must be > 0 seconds")
    mods = parse_modules(modules)
    if classes is not None:
        class_config(classes)  # one-line error for a bad spec, before the slow part
    net, ts, ps = _load(network, traffic, scale, size_util, paths_file, k)
    ts = planning_series(ts, scenario, network=net)
    p = plan_capacity(net, ts, paths=ps, target_util=target_util, failures=failures, failure_util=failure_util,
                      protect=protect, classes=classes, modules=mods, method=method, time_limit=time_limit,
                      top_days=top_days, max_tms=max_tms)
    doc = p.to_dict()
    doc["scenario"] = scenario or "none"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "plan.json").write_text(json.dumps(doc, indent=2, default=str))
        p.additions().to_csv(out / "additions.csv", index=False)
        p.check.to_csv(out / "scenarios.csv", index=False)
    if as_json:
        typer.echo(json.dumps(doc, default=str))
    else:
        typer.echo(p.summary_text())
        if out is not None:
            typer.echo(f"plan.json, additions.csv and scenarios.csv written to {out}/")

@app.command()
def runout(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir (measured history)"),
    growth: Optional[float] = typer.Option(None, "--growth", help="stated growth per year (0.3 = +30%/year)"),
    forecast: Optional[str] = typer.Option(None, "--forecast",
                                           help="a forecaster name (e.g. seasonal_naive, ets) instead of the trend"),
    forecast_days: float = typer.Option(28.0, "--forecast-days", help="days the forecaster looks ahead"),
    model: str = typer.Option("linear", "--model", help="linear | compound growth"),
    thresholds: str = typer.Option("0.7,0.9", "--thresholds", help="warning,critical utilisation"),
    policy: str = typer.Option("shortest", "--policy", "-p", help="the fixed routing (shortest, optimal, ...)"),
    window_days: float = typer.Option(7.0, "--window-days", help="with --growth: base = peak of the last N days"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s", help="apply a scenario to the history first"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file"),
    k: int = typer.Option(4, "--k", help="candidate paths per OD pair"),
    scale: float = typer.Option(1.0, "--scale", help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", help="size capacities for this peak utilisation first"),
    top: int = typer.Option(15, "--top", help="links shown (soonest critical date first)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
):
    """Per link, the date its peak utilisation crosses the warning and critical thresholds."""
    th = _thresholds(thresholds)
    if not forecast_days > 0:
        raise ValidationError(f"--forecast-days {forecast_days} must be > 0")
    (pol,) = parse_policies(policy)[:1]
    net, ts, ps = _load(network, traffic, scale, size_util, paths_file, k)
    if scenario:
        ts = get_scenario(scenario).apply(ts, network=net)
    steps = None
    if forecast is not None and ts.step is not None:
        steps = max(1, int(round(pd.Timedelta(days=forecast_days) / ts.step)))
    res = runout_dates(net, ts, paths=ps, policy=pol, growth=growth, model=model, thresholds=th,
                       window_days=window_days, forecast=forecast, forecast_steps=steps)
    if as_json:
        typer.echo(json.dumps(res.to_dict(), default=str))
    else:
        typer.echo(res.text(top))
