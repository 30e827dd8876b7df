"""``surgeguard whatif``: every single-link, single-node or SRLG failure, re-routed and ranked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..exceptions import ValidationError
from ..failures import failure_scenarios
from ..plan.whatif import run_whatif
from .loaders import load_inputs, parse_policies


def _table(res, top: int) -> str:
    lines = []
    for p in res.policies:
        b = res.baseline[p]
        df = res.worst(top, p)
        lines.append(f"== {p}: intact MLU {b.mlu:.3f}; worst MLU {res.failures[res.failures.policy == p]['mlu'].max():.3f}"
                     f"; {int((res.failures[res.failures.policy == p]['links_over_100'] > 0).sum())} failure(s) with a "
                     "link > 100%")
        lines.append(f"{'failure':<32} {'MLU':>7} {'>100%':>5} {'unrouted Gb/s':>13} {'dropped Gb/s':>12}  worst link")
        for r in df.to_dict("records"):
            lines.append(f"{r['failure'][:32]:<32} {r['mlu']:>7.3f} {r['links_over_100']:>5d} "
                         f"{r['unrouted_bps'] / 1e9:>13.3f} {r['dropped_bps'] / 1e9:>12.3f}  {r['worst_link']}")
        lk = res.links[res.links.policy == p].head(top)
        lines.append(f"{'link':<32} {'intact':>7} {'worst':>7}  caused by")
        for r in lk.to_dict("records"):
            lines.append(f"{r['link'][:32]:<32} {r['base_util']:>7.3f} {r['worst_util']:>7.3f}  {r['worst_failure']}")
        lines.append("")
    return "\n".join(lines)


app = typer.Typer()


@app.command()
def whatif(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    failures: str = typer.Option("single-link", "--failures", "-f",
                                 help="single-link | single-node | srlg | FILE (one failure per line)"),
    at: Optional[int] = typer.Option(None, "--at", help="use step I of the series"),
    peak: bool = typer.Option(False, "--peak", help="use the busiest step of the series (the default)"),
    policy: str = typer.Option("shortest,optimal", "--policy", "-p",
                               help="re-routing: shortest (IGP reconvergence, ECMP), optimal (re-optimised TE)"),
    igp: str = typer.Option("metric", "--igp", help="reconvergence on the IGP 'metric' or on 'hops'"),
    k: int = typer.Option(4, "--k", min=1, help="candidate paths per OD pair for TE"),
    scale: float = typer.Option(1.0, "--scale", help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", help="size capacities for this peak utilisation"),
    top: int = typer.Option(10, "--top", min=1, help="rows in the worst-case tables"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write failures.csv, links.csv, summary.json here"),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """For every failure: re-route (IGP reconvergence and re-optimised TE), then rank the failures and give
    each link's worst-case utilisation and the failure that causes it."""
    if at is not None and peak:
        raise ValidationError("--at and --peak exclude each other; give one (the default is --peak)")
    names = parse_policies(policy)
    if "oracle" in names:
        raise ValidationError("--policy oracle has no meaning for a what-if; use shortest and/or optimal")
    net, ts = load_inputs(network, traffic, scale=scale, size_util=size_util)
    fails = failure_scenarios(net, failures)
    res = run_whatif(net, ts, fails, policies=names, at=at, k=k, igp=igp, progress=not as_json)
    if out is not None:
        res.write(out)
    if as_json:
        typer.echo(json.dumps(res.summary(top), default=str))
        return
    typer.echo(f"{net.describe()}; {len(fails)} failures ({failures}); traffic step {res.meta['step']} "
               f"({res.meta['step_choice']}) at {res.meta['time']}; {res.meta['seconds']:.2f} s")
    typer.echo(_table(res, top))
    if out is not None:
        typer.echo(f"failures.csv, links.csv and summary.json written to {out}/")
