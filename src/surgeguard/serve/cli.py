"""The ``surgeguard`` command line.

Every command reads its inputs through :mod:`surgeguard.serve.loaders`; any
:class:`~surgeguard.SurgeguardError` (bad file, unknown node, negative demand, unknown policy, ...)
is printed as one line on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..exceptions import SurgeguardError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="surgeguard: traffic surges, routing and resilience for telecom backbones.")


def _guard(fn):
    """Turn surgeguard errors (and unreadable files) into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SurgeguardError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            typer.echo(f"error: cannot read {exc.filename!r} ({exc.strerror}); check the path", err=True)
            raise typer.Exit(2)

    return wrapper


def _prepare(network: str, traffic: str, paths_file: Optional[str], k: int, scale: float,
             size_util: Optional[float]):
    from .loaders import load_inputs, load_paths

    net, ts = load_inputs(network, traffic, scale=scale, size_util=size_util)
    ps = load_paths(net, paths_file, k)
    return net, ts, ps


@app.command()
@_guard
def solve(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key (e.g. sndlib/abilene)"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    policy: str = typer.Option("optimal", "--policy", "-p", help="routing policy"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file (src dst:n-n-n,...)"),
    k: int = typer.Option(4, "--k", min=1, help="candidate paths per OD pair (k shortest)"),
    at: Optional[int] = typer.Option(None, "--at", help="solve only step I of the series"),
    scale: float = typer.Option(1.0, "--scale", help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", help="size capacities for this peak utilisation"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    model: Optional[str] = typer.Option(None, "--model", help="model file for policies that take one (learned)"),
):
    """Route each traffic matrix of a series with a policy and report its MLU."""
    from ..evaluate import evaluate
    from .loaders import parse_policies

    (name,) = parse_policies(policy)[:1] or [policy]
    pol = _with_model([name], model)[0]
    net, ts, ps = _prepare(network, traffic, paths_file, k, scale, size_util)
    if at is not None and not -len(ts) <= at < len(ts):
        raise typer.BadParameter(f"--at {at} is outside the series' {len(ts)} steps (0..{len(ts) - 1})")
    steps = [at % len(ts)] if at is not None else range(len(ts))
    warm = None
    if not as_json:
        typer.echo(f"{net.describe()}; {ps.n_od} OD pairs, {ps.n_paths} paths ({ps.method})")
        typer.echo(f"{'index':>5}  {'time (UTC)':<20} {'policy':<10} {'MLU':>8} {'lost Gbit/s':>12} {'seconds':>8}")
    for i in steps:
        tm = ts.matrix(i)
        import time as _t

        t0 = _t.perf_counter()
        routing = pol.route(net, ps, tm, warm=warm)
        sec = _t.perf_counter() - t0
        warm = routing
        ev = evaluate(net, routing, tm)
        rec = {"index": int(i), "time": ts.times[i].isoformat(), "policy": name, "mlu": ev.mlu,
               "solve_seconds": sec, "lost_bps": ev.lost_bps, "congested_links": len(ev.congested),
               "worst_link": ev.worst_link, "demand_bps": ev.demand_bps}
        for key in ("gap", "lower_bound", "iterations"):
            if key in routing.info:
                rec[key] = routing.info[key]
        if as_json:
            typer.echo(json.dumps(rec))
        else:
            typer.echo(f"{i:>5}  {ts.times[i].strftime('%Y-%m-%d %H:%M'):<20} {name:<10} {ev.mlu:>8.4f} "
                       f"{ev.lost_bps / 1e9:>12.3f} {sec:>8.3f}")


def _with_model(names: list[str], model: Optional[str]) -> list:
    """Policies for ``names``; those whose constructor takes ``model`` get ``--model``."""
    import inspect

    from ..exceptions import ValidationError
    from ..routing import get_policy

    out, used = [], False
    for n in names:
        if n == "oracle":
            out.append(n)
            continue
        pol = get_policy(n)
        if model is not None and "model" in inspect.signature(type(pol)).parameters:
            pol, used = get_policy(n, model=model), True
        elif model is None and getattr(pol, "requires_model", False):
            raise ValidationError(f"policy {n!r} needs a trained model: add --model MODEL (from `surgeguard train`)")
        out.append(pol)
    if model is not None and not used:
        raise ValidationError(f"--model is given but none of the policies {names} takes a model; "
                              "use --policy learned or drop --model")
    return out


def _summary_table(summary: dict) -> str:
    head = (f"{'policy':<10} {'MLU mean':>8} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} "
            f"{'ratio':>7} {'r p99':>7} {'r max':>7} {'>1':>5} {'>0.9':>5} {'lost Tbit':>10} {'ms':>8}")
    lines = [head, "-" * len(head)]
    for name, s in summary["policies"].items():
        lines.append(
            f"{name:<10} {s['mlu_mean']:>8.3f} {s['mlu_p50']:>7.3f} {s['mlu_p90']:>7.3f} {s['mlu_p99']:>7.3f} "
            f"{s['mlu_max']:>7.3f} {s['ratio_mean']:>7.3f} {s['ratio_p99']:>7.3f} {s['ratio_max']:>7.3f} "
            f"{s['intervals_over_1']:>5d} {s['intervals_over_0_9']:>5d} {s['lost_bits'] / 1e12:>10.3f} "
            f"{1e3 * s['decision_seconds_mean']:>8.1f}")
    return "\n".join(lines)


@app.command()
@_guard
def replay(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir"),
    policy: str = typer.Option("shortest,optimal", "--policy", "-p", help="comma-separated policies"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s", help="e.g. lockdown or lockdown:growth=0.5"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file"),
    k: int = typer.Option(4, "--k", min=1, help="candidate paths per OD pair"),
    start: int = typer.Option(0, "--start", min=0, help="first step evaluated (earlier steps are history)"),
    stop: Optional[int] = typer.Option(None, "--stop", help="stop before this step"),
    scale: float = typer.Option(1.0, "--scale", help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", help="size capacities for this peak utilisation"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write steps.csv/.parquet and summary.json here"),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
    model: Optional[str] = typer.Option(None, "--model", help="model file for policies that take one (learned)"),
):
    """Walk a series: each policy sees only the past and is judged on the actual matrix, beside the oracle."""
    from ..evaluate import replay as run_replay
    from ..scenario import get_scenario
    from .loaders import parse_policies

    names = parse_policies(policy)
    names = [p if p == "oracle" else q for p, q in zip(names, _with_model(names, model))]
    scen = get_scenario(scenario) if scenario else None
    net, ts, ps = _prepare(network, traffic, paths_file, k, scale, size_util)
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
        typer.echo(json.dumps(summary, default=str))
    else:
        typer.echo(f"{net.describe()}; {len(ts)} steps of {ts.step}; {ps.n_paths} paths")
        typer.echo(_summary_table(summary))
        if out is not None:
            typer.echo(f"per-step results and summary.json written to {out}/")


@app.command()
@_guard
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="where the report and results go"),
    days: float = typer.Option(14.0, "--days", help="days of traffic around 20 March 2020"),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Morocco, March 2020: a national backbone, two weeks of traffic with the lockdown, replayed."""
    from ..demo import run_demo

    res = run_demo(out, days=days, progress=None if not as_json else False)
    if as_json:
        typer.echo(json.dumps(res["summary"], default=str))
    else:
        typer.echo(res["text"])


@app.command()
@_guard
def info(network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key")):
    """Describe a network: nodes, links, capacities and where they came from."""
    from .loaders import load_network

    net = load_network(network)
    typer.echo(net.describe())
    typer.echo(f"capacity source: {net.meta.get('capacity_source', 'given')}")


#: Command modules that add themselves to ``app``: ``surgeguard/serve/cmd_<name>.py`` defining
#: ``register(app)``. A module that is not there yet is skipped; an import error inside one is not.
COMMAND_MODULES = ("bench", "forecast", "detect", "learn", "whatif", "plan", "sweep", "api")


def _register_command_modules() -> None:
    import importlib

    for name in COMMAND_MODULES:
        modname = f"{__package__}.cmd_{name}"
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue
            raise
        mod.register(app, guard=_guard)


_register_command_modules()


def main():  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
