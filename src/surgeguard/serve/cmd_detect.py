"""``surgeguard detect``: learn normal traffic on the start of a series, replay the rest online and
print the surge alerts."""

from __future__ import annotations

from typing import Optional

import pandas as pd
import typer

from ..detect import get_detector
from ..exceptions import ValidationError
from ..scenario import get_scenario
from ..io.output import json_text
from .loaders import load_network, load_traffic
from .options import POSITIVE, in_range


app = typer.Typer()


@app.command()
def detect(
    network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key"),
    traffic: str = typer.Option(..., "--traffic", "-t", help="traffic series file/dir"),
    detector: str = typer.Option("seasonal", "--detector", "-d", help="seasonal (default), cusum or residual"),
    reference_days: float = typer.Option(3.0, "--reference-days", callback=in_range(float, 1, None),
                                         help="days at the start that define normal traffic (>= 1)"),
    places: Optional[str] = typer.Option(None, "--places",
                                         help="'all' (total and every node's in/out) or 'total' (default: the "
                                              "detector's: seasonal 'total' and class totals, cusum/residual 'all')"),
    threshold: Optional[float] = typer.Option(None, "--threshold", callback=POSITIVE,
                                              help="seasonal: step_z, cusum: h, residual: z, in sigma units "
                                                   "(default: the library's)"),
    utc_offset: Optional[float] = typer.Option(None, "--utc-offset", callback=in_range(float, -14, 14),
                                               help="seasonal: local time minus UTC, hours, for workdays/weekends "
                                                    "(default: the traffic's, else 0)"),
    scenario: Optional[str] = typer.Option(None, "--scenario", "-s",
                                           help="inject a surge first, e.g. lockdown:growth=0.3,start=2004-03-05"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per alert, then a summary object"),
):
    """Replay a traffic series through an online surge detector and print its alerts (UTC)."""
    name = detector.strip().lower()
    params = {} if places is None else {"places": places}
    if threshold is not None:
        params[{"cusum": "threshold", "seasonal": "step_z"}.get(name, "z")] = threshold
    if utc_offset is not None:
        if name != "seasonal":
            raise ValidationError(f"option --utc-offset applies to the seasonal detector, not {detector!r}; "
                                  "drop it or use --detector seasonal")
        params["utc_offset_hours"] = utc_offset
    det = get_detector(detector, **params)
    net = load_network(network)
    ts = load_traffic(traffic, net)
    if ts.step is None:
        raise ValidationError(f"--traffic {traffic!r} holds a single matrix; detection needs a time series")
    if scenario:
        ts = get_scenario(scenario).apply(ts, network=net)
    span = (ts.times[-1] - ts.times[0]) / pd.Timedelta(days=1)
    ref = int(round(reference_days / (ts.step / pd.Timedelta(days=1)))) if reference_days <= span else len(ts)
    if ref >= len(ts):
        raise ValidationError(f"option --reference-days must be shorter than the series ({len(ts)} steps of "
                              f"{ts.step} = {span:.1f} days); got {reference_days:g}")
    det.fit(ts.window(0, ref))
    if str(getattr(det, "sigma_source_", "")).startswith("bin-to-bin"):
        typer.echo(f"note: the reference ({reference_days:g} days) holds under two days of a day type, so the "
                   "thresholds rest on bin-to-bin noise and expect false alarms; give 3 days or more", err=True)
    alerts = det.predict(ts.window(ref, len(ts)))
    days = (ts.times[-1] - ts.times[ref]) / pd.Timedelta(days=1)
    if as_json:
        for a in alerts:
            typer.echo(json_text(a.to_dict()))
        typer.echo(json_text({"summary": True, "detector": det.name, "params": det.get_params(),
                               "reference": [ts.times[0].isoformat(), ts.times[ref - 1].isoformat()],
                               "monitored_days": days, "alerts": len(alerts),
                               "scenario": ts.meta.get("scenario")}))
        return
    typer.echo(f"{det!r}: normal learned on {ts.times[0]:%Y-%m-%d %H:%M} .. {ts.times[ref - 1]:%Y-%m-%d %H:%M} UTC; "
               f"{days:.1f} days monitored" + (f"; scenario {ts.meta.get('scenario')}" if scenario else ""))
    for a in alerts:
        typer.echo(str(a))
    typer.echo(f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}")
