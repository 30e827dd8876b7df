"""``surgeguard bench te``: the traffic-engineering benchmark ladder (same as benchmarks/bench_te.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer, guard) -> None:
    bench = typer.Typer(help="Benchmarks; results go to benchmarks/results/ with the machine's description.",
                        no_args_is_help=True)

    @bench.command("te")
    @guard
    def te(
        topologies: Optional[str] = typer.Option(None, "--topologies", help="comma-separated rungs or topohub keys"),
        quick: bool = typer.Option(False, "--quick", help="smoke run: abilene and GÉANT, 3 matrices"),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
        out: Path = typer.Option(Path("benchmarks/results"), "--out", "-o", help="where te_<tag>.{json,md} go"),
        tag: Optional[str] = typer.Option(None, "--tag", help="file tag (default: the device)"),
        sizing: str = typer.Option("first-path", "--sizing",
                                   help="capacities: first-path, or core (forced loads at <= 30%)"),
    ):
        """Path building, HiGHS IPM/simplex/PDLP and `fast` on a ladder up to 3,815 nodes, in one run."""
        from ..evaluate.bench_te import run_te_bench

        run_te_bench(topologies.split(",") if topologies else None, out, quick=quick, device=device, tag=tag,
                     sizing=sizing)

    app.add_typer(bench, name="bench")
