"""``surgeguard sweep``: failures × traffic steps × surge sizes, on local processes or on Ray."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..exceptions import ValidationError
from ..io.output import json_text
from ..plan.sweep import sweep as run_sweep
from .loaders import accepts, load_inputs, parse_policies
from .options import (AT_LEAST_ONE, FORCE_HELP, POSITIVE, UTILISATION, check_step, claim_output_dir, in_range,
                      number_list)


#: the files ``sweep --out`` writes; the first marks a folder that holds a sweep (replaced without --force)
SWEEP_FILES = ("sweep.csv", "sweep.parquet", "summary.json")

app = typer.Typer()


@app.command()
def sweep(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    failures: str = typer.Option("single-link", "--failures", "-f",
                                 help="single-link | single-node | srlg | FILE (one failure per line)"),
    steps: Optional[str] = typer.Option(None, "--steps",
                                        help="comma-separated steps of the series (negative: from the end)"),
    peaks: Optional[int] = typer.Option(None, "--peaks", callback=AT_LEAST_ONE, help="the N busiest steps (default 1)"),
    surge: str = typer.Option("0", "--surge",
                              help="demand growth sizes in (-1, 100], e.g. 0,0.3,0.6 (= +0%, +30%, +60%)"),
    policy: str = typer.Option("shortest", "--policy", "-p", help="shortest (IGP reconvergence) and/or optimal"),
    igp: str = typer.Option("metric", "--igp", help="reconvergence on the IGP 'metric' or on 'hops'"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE, help="candidate paths per OD pair for TE"),
    ray: Optional[str] = typer.Option(None, "--ray", help="run on the Ray cluster at ADDRESS (or set RAY_ADDRESS)"),
    ray_timeout: Optional[float] = typer.Option(None, "--ray-timeout", callback=POSITIVE,
                                                help="seconds to wait to reach the Ray cluster (default: the "
                                                     "library's limit)"),
    workers: int = typer.Option(2, "--workers", callback=in_range(int, 1, 1024),
                                help="local worker processes (without Ray), 1 to 1024"),
    chunk: Optional[int] = typer.Option(None, "--chunk", callback=AT_LEAST_ONE, help="failures per task"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation, in (0, 1]"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", callback=POSITIVE,
                                               help="seconds per TE solve (optimal); none by default"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="write sweep.csv/.parquet and summary.json to this folder; re-running "
                                            "into a sweep's folder replaces them, other files of those names need "
                                            "--force"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Every failure at every chosen traffic step and surge size, re-routed; local processes or Ray."""
    out = claim_output_dir(out, "--out", files=SWEEP_FILES, force=force)
    names = parse_policies(policy)
    step_list = number_list(steps, "--steps", kind=int, example="0,12,24")
    surges = number_list(surge, "--surge", low=-1, high=100, closed="right", example="0,0.3,0.6")
    if steps is not None and peaks is not None:
        raise ValidationError("options --steps and --peaks exclude each other; give one")
    extra = {}
    if time_limit is not None:
        if not accepts(run_sweep, "time_limit"):
            raise ValidationError("option --time-limit is not supported by this version's sweep")
        extra["time_limit"] = time_limit
    if ray_timeout is not None:
        if not accepts(run_sweep, "ray_timeout"):
            raise ValidationError("option --ray-timeout is not supported by this version's sweep")
        extra["ray_timeout"] = ray_timeout
    net, ts = load_inputs(network, traffic, scale=scale, size_util=size_util)
    if step_list is not None:
        step_list = [check_step(s, len(ts), "--steps") for s in step_list]
    executor = "ray" if (ray or os.environ.get("RAY_ADDRESS")) else "process"
    res = run_sweep(net, ts, failures, steps=step_list, peaks=peaks, surges=surges,
                    policies=names, k=k, igp=igp, executor=executor, ray_address=ray, workers=workers,
                    chunk_size=chunk, **extra)
    if out is not None:
        res.write(out)
    summ = res.summary()
    if as_json:
        typer.echo(json_text(summ))
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
