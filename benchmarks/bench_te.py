"""Traffic-engineering benchmark ladder (issue 3): path building, HiGHS IPM/simplex/PDLP, ``fast``.

Usage::

    python benchmarks/bench_te.py                 # the whole ladder on the CPU (~40 min on 2 cores)
    python benchmarks/bench_te.py --quick         # smoke run: abilene + geant, 3 matrices
    python benchmarks/bench_te.py --device cuda --no-lp --tag cuda
    python benchmarks/bench_te.py --topologies abilene,caida-3356
    python benchmarks/bench_te.py --sizing core   # the optimum set in the meshed core (te_cpu-core.*)
    python benchmarks/bench_te.py --sizing hard --topologies caida-701,caida-3356 --n-tm 5 --no-warm
                                                  # unevenly provisioned (te_cpu-hard.*); also --sizing hard-core, shifted

Writes benchmarks/results/te_<tag>.{json,md}. The logic lives in benchmarks/te_ladder.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from te_ladder import run_te_bench  # noqa: E402  (benchmarks/te_ladder.py, beside this file)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topologies", default=None, help="comma-separated rung names or topohub keys")
    ap.add_argument("--quick", action="store_true", help="smoke run")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-lp", action="store_true", help="skip HiGHS")
    ap.add_argument("--lp-topologies", default=None, help="comma-separated rung names where HiGHS runs")
    ap.add_argument("--lp-cap", type=float, default=300.0, help="seconds for HiGHS IPM")
    ap.add_argument("--other-cap", type=float, default=60.0, help="seconds for simplex and PDLP")
    ap.add_argument("--n-tm", type=int, default=None, help="matrices per topology")
    ap.add_argument("--tol", type=float, default=0.01)
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per fast solve")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--sizing", default="first-path",
                    help="first-path, core (forced loads at <= 30%%), hard (70%% x U(0.6, 1.2) per circuit), "
                         "hard-core (hard, forced loads at <= 30%% before the factor) or shifted (sized for a "
                         "shifted matrix); see te_ladder.SIZINGS")
    ap.add_argument("--no-warm", action="store_true", help="skip the warm-start tests")
    ap.add_argument("--workers", type=int, default=None, help="path-builder threads")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args(argv)
    run_te_bench(a.topologies.split(",") if a.topologies else None, a.out, quick=a.quick, device=a.device,
                 tol=a.tol, lp=not a.no_lp, lp_cap_s=a.lp_cap, other_cap_s=a.other_cap, n_tm=a.n_tm,
                 tag=a.tag, workers=a.workers, log=lambda s: print(s, flush=True),
                 lp_rungs=a.lp_topologies.split(",") if a.lp_topologies else None, time_limit=a.time_limit,
                 threads=a.threads, sizing=a.sizing, warm=not a.no_warm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
