"""Runs INSIDE the pyNTM virtual environment (benchmarks/.venv-pyntm), never with surgeguard.

Usage: python pyntm_runner.py SPEC.json OUT.json

SPEC: {"nodes": [name, ...], "circuits": [[a, b, cost, capacity], ...],
       "demands": [[src, dst, traffic], ...], "fail": [circuit index, ...]}
OUT:  {"pyntm": version, "networkx": version, "build_s", "baseline_s",
       "baseline": [load per interface], "baseline_unrouted": traffic,
       "failures": [{"circuit": i, "seconds": s, "unfail_seconds": s, "loads": [...], "unrouted": traffic}]}

Interfaces are listed circuit by circuit, a->b then b->a. The model is built from pyNTM's own
classes (Node, Interface, Demand, Model) rather than ``Model.load_model_file``, whose per-demand
duplicate check is quadratic in the number of demands (minutes for 20,000 demands); the routing
code exercised (``update_simulation``) is the same. A failure is ``fail_interface`` on the a->b
interface (pyNTM fails the circuit's remote interface too) followed by ``update_simulation``; its
time covers both and reading every interface's traffic.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import json
import sys
import time


def main(spec_path: str, out_path: str) -> None:
    from pyNTM import Demand, Interface, Model, Node

    spec = json.load(open(spec_path))
    t0 = time.perf_counter()
    nodes = {n: Node(n) for n in spec["nodes"]}
    ifaces = []
    for i, (a, b, cost, cap) in enumerate(spec["circuits"]):
        ifaces.append(Interface(f"{a}-to-{b}-c{i}", cost, cap, nodes[a], nodes[b], i))
        ifaces.append(Interface(f"{b}-to-{a}-c{i}", cost, cap, nodes[b], nodes[a], i))
    demands = {Demand(nodes[s], nodes[t], float(x), f"d{k}") for k, (s, t, x) in enumerate(spec["demands"])}
    model = Model(set(ifaces), set(nodes.values()), demands, set())
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        model.validate_model()
    build_s = time.perf_counter() - t0

    def loads():
        return [0.0 if x.traffic == "Down" else float(x.traffic) for x in ifaces]   # failed: "Down"

    def unrouted():
        return float(sum(d.traffic for d in model.demand_objects if d.path == "Unrouted"))

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        model.update_simulation()
    base = loads()
    baseline_s = time.perf_counter() - t0
    out = {"pyntm": md.version("pyntm"), "networkx": md.version("networkx"), "python": sys.version.split()[0],
           "build_s": build_s, "baseline_s": baseline_s, "baseline": base, "baseline_unrouted": unrouted(),
           "failures": []}
    for i in spec["fail"]:
        a, b = spec["circuits"][i][:2]
        name = f"{a}-to-{b}-c{i}"
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sink):
            model.fail_interface(name, a)
            model.update_simulation()
        got = loads()
        sec = time.perf_counter() - t0
        unr = unrouted()
        t1 = time.perf_counter()
        with contextlib.redirect_stdout(sink):
            model.unfail_interface(name, a)
        out["failures"].append({"circuit": i, "seconds": sec, "unfail_seconds": time.perf_counter() - t1,
                                "loads": got, "unrouted": unr})
        print(f"pyNTM circuit {i}: {sec:.2f} s", file=sys.stderr, flush=True)
    with open(out_path, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
