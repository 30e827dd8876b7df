"""``surgeguard demo``: the Morocco lockdown demo (:mod:`surgeguard.serve.demo`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .demo import run_demo

app = typer.Typer()


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="where the report and results go"),
    days: float = typer.Option(14.0, "--days", help="days of traffic around 20 March 2020"),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Morocco, March 2020: a national backbone, two weeks of traffic with the lockdown, replayed."""
    res = run_demo(out, days=days, progress=None if not as_json else False)
    if as_json:
        typer.echo(json.dumps(res["summary"], default=str))
    else:
        typer.echo(res["text"])
