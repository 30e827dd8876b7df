"""``surgeguard sweep``: failures × traffic steps × surge sizes, on local processes or on Ray."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from ..exceptions import ValidationError
from ..plan.sweep import sweep as run_sweep
from .loaders import load_inputs, parse_policies


def _floats(text: str, what: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValidationError(f"{what} {text!r} must be comma-separated numbers, e.g. 0,0.3,0.6") from None
    if not out:
        raise ValidationError(f"{what} is empty; give comma-separated numbers, e.g. 0,0.3,0.6")
    return out


app = typer.Typer()


@app.command()
def sweep(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    failures: str = typer.Option("single-link", "--failures", "-f",
                                 help="single-link | single-node | srlg | FILE (one failure per line)"),
    steps: Optional[str] = typer.Option(None, "--steps", help="comma-separated steps of the series"),
    peaks: Optional[int] = typer.Option(None, "--peaks", help="the N busiest steps (default 1)"),
    surge: str = typer.Option("0", "--surge", help="demand growth sizes, e.g. 0,0.3,0.6 (= +0%, +30%, +60%)"),
    policy: str = typer.Option("shortest", "--policy", "-p", help="shortest (IGP reconvergence) and/or optimal"),
    igp: str = typer.Option("metric", "--igp", help="reconvergence on the IGP 'metric' or on 'hops'"),
    k: int = typer.Option(4, "--k", min=1, help="candidate paths per OD pair for TE"),
    ray: Optional[str] = typer.Option(None, "--ray", help="run on the Ray cluster at ADDRESS (or set RAY_ADDRESS)"),
    workers: int = typer.Option(2, "--workers", min=1, help="local worker processes (without Ray)"),
    chunk: Optional[int] = typer.Option(None, "--chunk", min=1, help="failures per task"),
    scale: float = typer.Option(1.0, "--scale", help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", help="size capacities for this peak utilisation"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write sweep.csv/.parquet and summary.json here"),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Every failure at every chosen traffic step and surge size, re-routed; local processes or Ray."""
    names = parse_policies(policy)
    step_list = [int(x) for x in _floats(steps, "--steps")] if steps else None
    net, ts = load_inputs(network, traffic, scale=scale, size_util=size_util)
    executor = "ray" if (ray or os.environ.get("RAY_ADDRESS")) else "process"
    res = run_sweep(net, ts, failures, steps=step_list, peaks=peaks, surges=_floats(surge, "--surge"),
                    policies=names, k=k, igp=igp, executor=executor, ray_address=ray, workers=workers,
                    chunk_size=chunk)
    if out is not None:
        res.write(out)
    summ = res.summary()
    if as_json:
        typer.echo(json.dumps(summ, default=str))
        return
    m = res.meta
    typer.echo(f"{net.describe()}; {m['failures']} failures x {len(m['steps'])} step(s) x {len(m['surges'])} "
               f"surge size(s) x {len(names)} policy(ies) = {len(res.rows)} rows; {m['tasks']} tasks on "
               f"{m['executor']}{' at ' + str(m.get('ray_address')) if m['executor'] == 'ray' else ''}; "
               f"{m['seconds']:.1f} s")
    typer.echo(f"{'step':>5} {'surge':>6} {'policy':<9} {'MLU intact':>10} {'worst MLU':>9} {'>100%':>5} "
               f"{'lossy':>5} {'worst loss Gb/s':>15}  worst failure")
    for c in summ["cases"]:
        typer.echo(f"{c['step']:>5} {c['surge']:>+6.0%} {c['policy']:<9} {c['mlu_intact']:>10.3f} "
                   f"{c['worst_mlu']:>9.3f} {c['failures_over_100']:>5d} {c['failures_with_loss']:>5d} "
                   f"{c['worst_loss_bps'] / 1e9:>15.3f}  {c['worst_mlu_failure']}")
    if out is not None:
        typer.echo(f"rows and summary.json written to {out}/")
