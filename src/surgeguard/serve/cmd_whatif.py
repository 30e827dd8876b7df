"""``surgeguard whatif``: every single-link, single-node or SRLG failure, re-routed and ranked."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..exceptions import ValidationError
from ..failures import failure_scenarios
from ..io.output import json_text
from ..plan.whatif import WhatIf, pick_traffic, run_whatif
from .loaders import accepts, load_inputs, parse_policies
from .options import AT_LEAST_ONE, FORCE_HELP, POSITIVE, UTILISATION, check_step, claim_output_dir

#: the files ``whatif --out`` writes; the first marks a folder that holds a what-if (replaced without --force)
WHATIF_FILES = ("failures.csv", "links.csv", "summary.json")


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
    at: Optional[int] = typer.Option(None, "--at", help="use step I of the series (negative: from the end)"),
    peak: bool = typer.Option(False, "--peak", help="use the busiest step of the series (the default)"),
    policy: str = typer.Option("shortest,optimal", "--policy", "-p",
                               help="re-routing: shortest (IGP reconvergence, ECMP), optimal (re-optimised TE)"),
    igp: str = typer.Option("metric", "--igp", help="reconvergence on the IGP 'metric' or on 'hops'"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE, help="candidate paths per OD pair for TE"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation, in (0, 1]"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", callback=POSITIVE,
                                               help="seconds per TE solve (optimal); none by default"),
    top: int = typer.Option(10, "--top", callback=AT_LEAST_ONE, help="rows in the worst-case tables"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="write failures.csv, links.csv, summary.json to this folder; re-running "
                                            "into a what-if's folder replaces them, other files of those names need "
                                            "--force"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """For every failure: re-route (IGP reconvergence and re-optimised TE), then rank the failures and give
    each link's worst-case utilisation and the failure that causes it."""
    out = claim_output_dir(out, "--out", files=WHATIF_FILES, force=force)
    if at is not None and peak:
        raise ValidationError("--at and --peak exclude each other; give one (the default is --peak)")
    names = parse_policies(policy)
    if "oracle" in names:
        raise ValidationError("--policy oracle has no meaning for a what-if; use shortest and/or optimal")
    net, ts = load_inputs(network, traffic, scale=scale, size_util=size_util)
    at = check_step(at, len(ts))
    fails = failure_scenarios(net, failures)
    if time_limit is None or accepts(run_whatif, "time_limit"):
        extra = {} if time_limit is None else {"time_limit": time_limit}
        res = run_whatif(net, ts, fails, policies=names, at=at, k=k, igp=igp, progress=not as_json, **extra)
    else:  # this version's run_whatif has no time limit: WhatIf has
        pick = pick_traffic(ts, net, at=at)
        meta = {"step": pick["index"], "time": pick["time"], "step_choice": pick["how"], "traffic": ts.name}
        res = WhatIf(net, policies=names, k=k, igp=igp, time_limit=time_limit).run(
            pick["demands"], fails, classes=pick["classes"], progress=not as_json, meta=meta)
    if out is not None:
        res.write(out)
    if as_json:
        typer.echo(json_text(res.summary(top)))
        return
    typer.echo(f"{net.describe()}; {len(fails)} failures ({failures}); traffic step {res.meta['step']} "
               f"({res.meta['step_choice']}) at {res.meta['time']}; {res.meta['seconds']:.2f} s")
    typer.echo(_table(res, top))
    if out is not None:
        typer.echo(f"failures.csv, links.csv and summary.json written to {out}/")
