"""``surgeguard bench te``: the traffic-engineering benchmark ladder (same as benchmarks/bench_te.py).

The benchmark code is not part of the library: it lives in the source checkout's
``benchmarks/te_ladder.py`` (``src/surgeguard/../../benchmarks``), which this command loads by path.
Without a checkout (an installed wheel), the command says so in one line.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

import typer

from ..exceptions import InputError
from .options import OptionError, check_device, claim_output_dir, option_message

#: the source checkout's benchmarks folder: src/surgeguard/serve/cmd_bench.py -> <checkout>/benchmarks
BENCHMARKS_DIR = Path(__file__).resolve().parents[3] / "benchmarks"
#: the name the ladder module is registered under in ``sys.modules``
LADDER_MODULE = "surgeguard_benchmarks_te_ladder"


def load_te_ladder(benchmarks_dir: Path | None = None) -> ModuleType:
    """``benchmarks/te_ladder.py`` of the source checkout, imported by path (once per process)."""
    path = Path(benchmarks_dir or BENCHMARKS_DIR) / "te_ladder.py"
    loaded = sys.modules.get(LADDER_MODULE)
    if loaded is not None and Path(loaded.__file__) == path:
        return loaded
    if not path.is_file():
        raise InputError(f"the TE benchmark runs from a source checkout of surgeguard; {path} is not there "
                         "(clone the repository and install it with `pip install -e .`)")
    spec = importlib.util.spec_from_file_location(LADDER_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[LADDER_MODULE] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[LADDER_MODULE]
        raise
    return module


app = typer.Typer(help="Benchmarks; results go to benchmarks/results/ with the machine's description.",
                  no_args_is_help=True)


@app.command("te")
def te(
    topologies: Optional[str] = typer.Option(None, "--topologies", help="comma-separated rungs or topohub keys"),
    quick: bool = typer.Option(False, "--quick", help="smoke run: abilene and GÉANT, 3 matrices"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps"),
    out: Path = typer.Option(Path("benchmarks/results"), "--out", "-o",
                             help="the folder where te_<tag>.{json,md} go (a re-run with the same tag replaces them)"),
    tag: Optional[str] = typer.Option(None, "--tag", help="file tag: letters, digits, '.', '_', '-' (default: the device)"),
    sizing: str = typer.Option("first-path", "--sizing",
                               help="capacities: first-path, core (forced loads at <= 30%), hard (70% x "
                                    "U(0.6, 1.2) per circuit), hard-core (hard, forced loads at <= 30% before "
                                    "the factor) or shifted (sized for a shifted matrix)"),
    lp_matrices: Optional[str] = typer.Option(
        None, "--lp-matrices", help="matrices HiGHS IPM solves per rung, as RUNG=N pairs, e.g. "
                                    "caida-701=20,caida-3356=5 (default: the ladder's)"),
    lp_cap: float = typer.Option(300.0, "--lp-cap", min=1.0, help="seconds for one HiGHS IPM solve"),
    n_tm: Optional[int] = typer.Option(None, "--n-tm", min=1, help="matrices per rung (default: the ladder's)"),
    threads: Optional[int] = typer.Option(
        None, "--threads", min=1, help="torch CPU threads for `fast` (default: torch's; on a shared, loaded "
                                       "machine 1 gives steadier times)"),
):
    """Path building, HiGHS IPM/simplex/PDLP and `fast` on a ladder up to 3,815 nodes, in one run."""
    if tag is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", tag):
        raise OptionError(option_message("--tag", "letters, digits, '.', '_' or '-', e.g. cpu-night", tag))
    n_lp = None
    if lp_matrices:
        n_lp = {}
        for part in lp_matrices.split(","):
            name, _, count = part.partition("=")
            if not name.strip() or not count.strip().isdigit():
                raise OptionError(option_message("--lp-matrices", "RUNG=N pairs separated by commas, e.g. "
                                                 "caida-701=20,caida-3356=5", lp_matrices))
            n_lp[name.strip()] = int(count)
    device = check_device(device)
    claim_output_dir(out, "--out")
    ladder = load_te_ladder()
    ladder.run_te_bench(topologies.split(",") if topologies else None, out, quick=quick, device=device,
                        tag=tag, sizing=sizing, n_lp=n_lp, lp_cap_s=lp_cap, n_tm=n_tm, threads=threads)
