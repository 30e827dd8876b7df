"""``surgeguard export sr``: a routing as SR-TE policies a network can run (:mod:`surgeguard.deploy`).

The policy routes one matrix of the series (``--at``; by default the one with the most traffic);
its routing becomes SR policies (RFC 9256) written per head-end in one format under ``--out``, with
``summary.json`` (policies, SID depths, unexpressible paths, and the MLU of the routing, of the
exported integer weights, of what the format expresses and of IGP routing). With
``--max-policies N`` or ``--target-gap G`` every OD pair keeps its IGP route but the few that get a
policy, and the MLU-against-policies curve goes into the summary; the policy then only gives the
optimum the gap is measured against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..deploy import FORMATS, export_sr, few_policies, write_export
from ..deploy.formats import FORMAT_NOTES, SUMMARY_FILE, output_names
from ..io.output import json_text
from .loaders import load_routing_inputs, parse_policies, with_model
from .options import (AT_LEAST_ONE, FORCE_HELP, NON_NEGATIVE_INT, POSITIVE, TIME_LIMIT_HELP, UTILISATION,
                      OptionError, check_step, claim_output_dir, in_range, option_message)

app = typer.Typer(help="Deployable exports of a routing (SR-TE policies).", no_args_is_help=True)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@app.command("sr")
def sr(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key (e.g. sndlib/abilene)"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir, or 'gravity[:total=BPS]'"),
    policy: str = typer.Option("optimal", "--policy", "-p", help="routing policy whose routing is exported"),
    fmt: str = typer.Option(..., "--format", "-f", help="json, iosxr, frr or pola"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the files (one per head-end) and summary.json"),
    paths_file: Optional[str] = typer.Option(None, "--paths", help="tunnels file (src dst:n-n-n,...)"),
    k: int = typer.Option(4, "--k", callback=AT_LEAST_ONE, help="candidate paths per OD pair (k shortest)"),
    at: Optional[int] = typer.Option(None, "--at", help="route step I of the series (negative: from the end); "
                                                         "default: the step with the most traffic"),
    max_sid_depth: int = typer.Option(10, "--max-sid-depth", callback=AT_LEAST_ONE,
                                      help="most SIDs a head-end pushes; deeper segment lists are reported"),
    slots: int = typer.Option(64, "--slots", callback=AT_LEAST_ONE,
                              help="weighted-ECMP entries per policy; exported weights sum to it"),
    vendor_drop: bool = typer.Option(False, "--vendor-drop",
                                     help="model devices that drop segment lists under the average slot "
                                          "(for the MLU of exact weights written as they are)"),
    max_policies: Optional[int] = typer.Option(None, "--max-policies", callback=NON_NEGATIVE_INT,
                                               help="IGP routing but for at most N OD pairs, chosen greedily"),
    target_gap: Optional[float] = typer.Option(None, "--target-gap", callback=in_range(float, 0, None),
                                               help="IGP routing but for the fewest OD pairs that bring the MLU "
                                                    "within this fraction of the policy's (e.g. 0.02)"),
    color: int = typer.Option(100, "--color", callback=in_range(int, 1, 2**32 - 1), help="colour of the policies"),
    scale: float = typer.Option(1.0, "--scale", callback=POSITIVE, help="multiply all demands by this factor"),
    size_util: Optional[float] = typer.Option(None, "--size-util", callback=UTILISATION,
                                              help="size capacities for this peak utilisation, in (0, 1]"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", callback=POSITIVE, help=TIME_LIMIT_HELP),
    model: Optional[str] = typer.Option(None, "--model", help="model file for policies that take one (learned)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Export a routing as SR-TE policies (JSON, IOS-XR, FRR pathd or pola PCE YAML)."""
    if fmt not in FORMATS:
        raise OptionError(option_message("--format", f"one of {', '.join(FORMATS)}", fmt))
    if max_policies is not None and target_gap is not None:
        raise OptionError("options --max-policies and --target-gap exclude each other; give one of them")
    names = parse_policies(policy)
    if len(names) != 1 or names[0] == "oracle":
        raise OptionError(option_message("--policy", "one policy name (not oracle), e.g. --policy optimal", policy))
    out = claim_output_dir(out, "--out", files=(SUMMARY_FILE,), force=force)
    pol = with_model(names, model, time_limit=time_limit)[0]
    net, ts, ps = load_routing_inputs(network, traffic, paths_file=paths_file, k=k, scale=scale,
                                      size_util=size_util)
    out = claim_output_dir(out, "--out", files=output_names(net, fmt), force=force)  # every head-end's file
    step = check_step(at, len(ts))
    if step is None:
        step = int(np.argmax(ts.values.reshape(len(ts), -1).sum(axis=1)))
    tm = ts.matrix(step)
    routing = pol.route(net, ps, tm)
    curve = None
    if max_policies is not None or target_gap is not None:
        reference = float(routing.info.get("mlu", np.nan))
        routing, curve = few_policies(net, ps, tm, max_policies=max_policies, target_gap=target_gap,
                                      reference_mlu=reference if np.isfinite(reference) else None)
    export = export_sr(net, routing, tm, max_sid_depth=max_sid_depth, slots=slots, vendor_drop=vendor_drop,
                       color=color, curve=curve)
    write_export(export, out, fmt)
    summary = export.summary()
    summary.update(step=step, time=ts.times[step].isoformat(), format=fmt)
    if as_json:
        typer.echo(json_text(summary))
        return
    m = export.mlu
    typer.echo(f"{net.describe()}; step {step} ({ts.times[step].isoformat()}), {summary['segment_lists']} segment "
               f"lists in {export.n_policies} policies on {summary['headends']} head-ends")
    typer.echo(f"MLU: routing {_fmt(m['routing'])}, exported weights ({slots} slots) {_fmt(m['quantised'])}, "
               f"exact weights on the device {_fmt(m['device_exact_weights'])}, one list per policy "
               f"{_fmt(m['single_list'])}, IGP {_fmt(m['igp'])}")
    if fmt in ("frr", "pola"):
        typer.echo(f"note: {fmt} expresses {FORMAT_NOTES[fmt]}; MLU of these files: {_fmt(m['single_list'])}")
    if len(export.unexpressible):
        typer.echo(f"note: {len(export.unexpressible)} path(s) need more than {max_sid_depth} SIDs and are not "
                   f"exported (listed in {SUMMARY_FILE}); their traffic moves to the OD's other paths")
    if curve is not None:
        ref = routing.info["reference_mlu"]
        reached = "" if target_gap is None else (
            f"; within {target_gap:.1%} of it" if curve["mlu"].iloc[-1] <= ref * (1 + target_gap) * (1 + 1e-9)
            else f"; the target {target_gap:.1%} above it is out of reach over these candidate paths")
        typer.echo(f"policies: {len(curve) - 1}, MLU {curve['mlu'].iloc[0]:.4f} (IGP) -> {curve['mlu'].iloc[-1]:.4f} "
                   f"(optimum {ref:.4f}{reached})")
    typer.echo(f"{fmt} files and {SUMMARY_FILE} written to {out}/")
