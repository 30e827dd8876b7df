"""``surgeguard optimise-metrics``: IGP metrics whose ECMP routing keeps the MLU low, and the config to deploy them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..deploy.metrics import (METRIC_FORMATS, METRIC_PROTOCOLS, START_METRICS, config_file_name, optimise_metrics,
                              select_matrices)
from ..exceptions import ValidationError
from ..io.output import json_text
from .loaders import load_inputs
from .options import FORCE_HELP, NON_NEGATIVE_INT, POSITIVE, UTILISATION, claim_output_dir, in_range

#: the files ``optimise-metrics --out`` writes; the first marks a folder that holds such a result
METRICS_FILES = ("metrics.csv", "changes.csv", "summary.json") + tuple(config_file_name(f) for f in METRIC_FORMATS)
FAILURE_CHOICES = ("none", "single")

app = typer.Typer()


def _choice(value: str, choices, option: str) -> str:
    v = value.strip().lower()
    if v not in choices:
        raise ValidationError(f"option {option} must be one of {', '.join(choices)}; got {value!r}")
    return v


@app.command("optimise-metrics")
def optimise_metrics_cmd(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    matrices: str = typer.Option("peak", "--matrices", "-m",
                                 help="which steps to optimise over: peak | top:N | all | steps:I,J | hours:A-B (UTC)"),
    failures: str = typer.Option("none", "--failures", "-f",
                                 help="none, or single (every single fibre cut counts too)"),
    max_changes: Optional[int] = typer.Option(None, "--max-changes", callback=NON_NEGATIVE_INT,
                                              help="change at most this many link metrics (default: no limit)"),
    symmetric: bool = typer.Option(False, "--symmetric", help="keep both directions of a fibre at one metric"),
    start: str = typer.Option("current", "--start", help="starting metrics: current | unit | invcap"),
    max_metric: int = typer.Option(65535, "--max-metric", callback=in_range(int, 1, 16_777_215),
                                   help="largest metric allowed (63 for IS-IS narrow metrics)"),
    fmt: str = typer.Option("iosxr", "--format", help="configuration format: iosxr | frr"),
    protocol: str = typer.Option("isis", "--protocol", help="IGP of the configuration: isis | ospf"),
    instance: str = typer.Option("CORE", "--instance", help="IGP instance (process) name in the configuration"),
    time_limit: float = typer.Option(30.0, "--time-limit", callback=POSITIVE, help="seconds of search"),
    seed: int = typer.Option(0, "--seed", callback=NON_NEGATIVE_INT, help="random seed of the search"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation, in (0, 1]"),
    out: Path = typer.Option(..., "--out", "-o",
                             help="write metrics.csv, changes.csv, summary.json and the configuration here"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Search IGP link metrics (ECMP, as the routers do) that minimise the MLU over the chosen matrices
    (and single fibre cuts), list each change with the MLU it buys, and write the router configuration."""
    fmt = _choice(fmt, METRIC_FORMATS, "--format")
    protocol = _choice(protocol, METRIC_PROTOCOLS, "--protocol")
    start = _choice(start, START_METRICS, "--start")
    failures = _choice(failures, FAILURE_CHOICES, "--failures")
    out = claim_output_dir(out, "--out", files=METRICS_FILES, force=force)
    net, ts = load_inputs(network, traffic, scale=scale, size_util=size_util)
    try:
        tms, steps = select_matrices(ts, matrices)
    except ValidationError as err:
        raise ValidationError(f"option --matrices: {err}") from None
    res = optimise_metrics(net, tms, failures=failures, max_changes=max_changes, start=start, symmetric=symmetric,
                           max_metric=max_metric, time_limit=time_limit, seed=seed)
    res.info["steps"] = steps
    res.info["times"] = [str(ts.times[s]) for s in steps]
    try:
        res.config(fmt, protocol=protocol, instance=instance)
    except ValidationError as err:
        raise ValidationError(f"option --instance: {err}") from None
    res.write(out, format=fmt, protocol=protocol, instance=instance)
    if as_json:
        typer.echo(json_text(res.summary()))
        return
    typer.echo(f"{net.describe()}; {len(steps)} matrix(es), failures: {failures}; {res.info['seconds']:.1f} s, "
               f"{res.info['evaluations']} evaluations ({res.info['stopped']})")
    typer.echo(f"MLU {res.mlu_start:.4f} -> {res.mlu:.4f} with {res.n_changes} metric change(s)")
    for c in res.changes:
        typer.echo(f"  step {c.step:<3d} {c.link:<28} {c.old:>8g} -> {c.new:<8g} MLU {c.mlu:.4f}")
    typer.echo(f"metrics.csv, changes.csv, summary.json and {config_file_name(fmt)} written to {out}/")
