"""Time path building + the exact `optimal` LP (HiGHS) on real topologies with a gravity TM.

Usage: python benchmarks/bench_optimal.py [--keys sndlib/abilene,...] [--solver ipm] [--k 4]

For each topology: read it from topohub, make one gravity matrix (10 Gbit/s per node, node
weights = population where known, else uniform), size capacities for 60% peak utilisation on
shortest paths (standard ports), build k candidate paths for all OD pairs, solve the min-MLU LP.
Writes benchmarks/results/optimal.{json,md} with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from surgeguard.evaluate import evaluate  # noqa: E402
from surgeguard.io import read_topohub  # noqa: E402
from surgeguard.plan import size_capacities  # noqa: E402
from surgeguard.routing import Optimal, ShortestPath, k_shortest_paths  # noqa: E402
from surgeguard.scenario import gravity_matrix  # noqa: E402

KEYS = ["sndlib/abilene", "sndlib/geant", "caida/2024-08/701", "caida/2024-08/3356"]


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def run(key: str, k: int, solver: str) -> dict:
    net = read_topohub(key)
    tm = gravity_matrix(net, 10e9 * net.n_nodes)
    net = size_capacities(net, tm, target_util=0.6)
    t0 = time.perf_counter()
    ps = k_shortest_paths(net, k=k)
    _ = ps.incidence
    t_paths = time.perf_counter() - t0
    sp = evaluate(net, ShortestPath().route(net, ps, tm), tm).mlu
    t0 = time.perf_counter()
    r = Optimal(solver=solver, second_stage=False).route(net, ps, tm)
    t_lp = time.perf_counter() - t0
    mlu = evaluate(net, r, tm).mlu
    return {"topology": key, "nodes": net.n_nodes, "links": net.n_links, "od_pairs": ps.n_od,
            "paths": ps.n_paths, "path_link_nnz": int(len(ps.link_idx)), "path_method": ps.method,
            "path_build_s": round(t_paths, 3), "lp_solver": solver, "lp_build_s": round(r.info["build_seconds"], 3),
            "lp_solve_s": round(r.info["stage1_seconds"], 3), "lp_total_s": round(t_lp, 3),
            "mlu_optimal": mlu, "mlu_shortest": sp, "peak_rss_gb": round(peak_rss_gb(), 2)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", default=",".join(KEYS))
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--solver", default="ipm")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args(argv)
    rows = []
    for key in a.keys.split(","):
        row = run(key, a.k, a.solver)
        print(json.dumps(row), flush=True)
        rows.append(row)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "paths + optimal LP", "k": a.k, "traffic": "gravity, 10 Gbit/s per node",
           "capacities": "sized for 60% peak utilisation on shortest paths, standard ports",
           "machine": machine_info(), "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "results": rows}
    (out / "optimal.json").write_text(json.dumps(doc, indent=2))
    cols = ["topology", "nodes", "links", "paths", "path_link_nnz", "path_method", "path_build_s", "lp_solver",
            "lp_build_s", "lp_solve_s", "mlu_shortest", "mlu_optimal", "peak_rss_gb"]
    md = [f"# Paths + optimal LP benchmark\n",
          f"Machine: {doc['machine']}; run {doc['when_utc']}; k={a.k}; {doc['traffic']}; {doc['capacities']}.\n",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        md.append("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    (out / "optimal.md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
