"""``surgeguard demo``: the Morocco lockdown demo (:mod:`surgeguard.serve.demo`)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..io.output import json_text
from .demo import DEMO_FILES, run_demo
from .options import FORCE_HELP, claim_output_dir, in_range

app = typer.Typer()


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o",
                             help="folder for the report and results; re-running into a demo's folder replaces "
                                  "them, other files of those names need --force"),
    days: float = typer.Option(14.0, "--days", callback=in_range(float, 1, 60),
                               help="days of traffic around 20 March 2020 (1 to 60)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
):
    """Morocco, March 2020: a national backbone, two weeks of traffic with the lockdown, replayed."""
    claim_output_dir(out, "--out", files=DEMO_FILES, force=force)
    res = run_demo(out, days=days, progress=None if not as_json else False)
    if as_json:
        typer.echo(json_text(res["summary"]))
    else:
        typer.echo(res["text"])
