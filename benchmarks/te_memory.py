"""Where the memory of a ``fast`` solve goes on a long-haul backbone (issue 16), stage by stage.

Usage::

    python benchmarks/te_memory.py                          # americas and eurasia, hard sizing
    python benchmarks/te_memory.py --topologies americas --max-iter 10
    python benchmarks/te_memory.py --topologies world --max-iter 3 --tag world --rss-limit 23
                                                            # ends itself when its RSS passes 23 GB
                                                            # (measured 2026-12-06: peak 19.7 GB)

One process per topology (a fresh interpreter, so each peak is its own), stage after stage:

1. ``topology``: read it from topohub (and import torch);
2. ``paths``: the deviation builder (``k_shortest_paths(method="deviation")``, k = 4);
3. ``forced pairs``: the links every candidate path of an OD crosses, as per-OD lists, alone (the
   operator's set-up finds them again);
4. ``operator``: :class:`~surgeguard.optimise.first_order.FastOperator` set-up (tree form on these
   backbones) with its float32 matrices;
5. ``sizing``: the ``hard`` sizing of ``benchmarks/te_ladder.py`` (first-path loads through the operator);
6. ``solve``: ``solve_fast`` for ``max_iter`` iterations without the certificate (the solve's work
   arrays, the bound LPs);
7. ``certify``: the same solve with the final certificate.

For each stage: wall seconds, the resident memory after it and its peak (``VmHWM`` of
``/proc/self/status``, reset before the stage through ``/proc/self/clear_refs``), and the
arrays it leaves (name, dtype, length, bytes), with the bytes per path-link non-zero.
Then an extrapolation to ``backbone/world`` (its sizes from ``results/te_cuda.md``; see
:func:`extrapolate`). ``--rss-limit`` ends a run whose resident memory passes a limit (for world on a
machine with less memory than it may need), keeping the stages measured before. Writes ``te_memory[-tag].json`` and ``.md`` to
``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402  (benchmarks/machine.py, beside this file)

from surgeguard.io import read_topohub  # noqa: E402
from surgeguard.io.output import atomic_write_text  # noqa: E402
from surgeguard.optimise.first_order import FastOperator, get_operator, solve_fast, torch_threads  # noqa: E402
from surgeguard.paths import k_shortest_paths  # noqa: E402
from te_ladder import bench_matrices, proc_status_gb, size_network  # noqa: E402  (beside this file)

RESULTS = Path(__file__).resolve().parent / "results"
#: backbone/world's sizes (k = 4, the deviation builder; results/te_cuda.md, 2026-11-26)
WORLD = {"nodes": 3815, "od": 14_550_410, "paths": 57_610_025, "nnz": 1_579_279_536, "qnnz": 188_402_811}
KEYS = {"americas": "backbone/americas", "eurasia": "backbone/eurasia", "world": "backbone/world"}


def vm() -> dict:
    """Resident memory now and its peak since the last reset, GB (from /proc/self/status)."""
    out = proc_status_gb("VmRSS", "VmHWM")
    return {"rss_gb": out["VmRSS"], "peak_gb": out["VmHWM"]}


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def watch_rss(limit_gb: float, stage: list) -> None:
    """End this process (exit 3) as soon as its resident memory passes ``limit_gb``: a limit on
    physical memory, checked every 20 ms (an address-space limit, ``prlimit --as``, also counts
    reserved but untouched pages, e.g. a concatenation's whole output while its parts are
    still held, and stops a build that would fit)."""
    def run():
        while True:
            rss = vm()["rss_gb"]
            if rss > limit_gb:
                print(f"LIMIT RSS {rss:.2f} GB > {limit_gb:g} GB in stage {stage[0]!r}", flush=True)
                os._exit(3)
            time.sleep(0.02)
    threading.Thread(target=run, daemon=True).start()


def _nbytes(a) -> tuple[str, int, int] | None:
    if isinstance(a, np.ndarray):
        return str(a.dtype), a.size, a.nbytes
    if type(a).__module__.startswith("torch") and hasattr(a, "element_size"):
        if getattr(a, "layout", None) is not None and "sparse" in str(a.layout):
            return None       # its parts are listed on their own
        return str(a.dtype).replace("torch.", ""), a.numel(), a.numel() * a.element_size()
    return None


def arrays_of(prefix: str, obj, seen: set, out: list, depth: int = 0) -> None:
    """(name, dtype, length, bytes, driver) of every NumPy array and torch tensor reachable from
    ``obj`` through dicts, tuples, lists and attributes (each buffer counted once)."""
    if depth > 4 or obj is None:
        return
    nb = _nbytes(obj)
    if nb is not None:
        key = obj.ctypes.data if isinstance(obj, np.ndarray) else obj.data_ptr()
        base = obj.base if isinstance(obj, np.ndarray) else None
        if key in seen or (base is not None and isinstance(base, np.ndarray) and base.ctypes.data in seen):
            return
        seen.add(key)
        if nb[2] >= 1 << 20:
            out.append({"name": prefix, "dtype": nb[0], "length": nb[1], "bytes": nb[2]})
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            arrays_of(f"{prefix}[{k!r}]", v, seen, out, depth + 1)
    elif isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            arrays_of(f"{prefix}[{i}]", v, seen, out, depth + 1)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("surgeguard"):
        for k, v in vars(obj).items():
            arrays_of(f"{prefix}.{k}", v, seen, out, depth + 1)


def driver(length: int, sizes: dict) -> str:
    """The count an array is a vector over (its length equals it, or a multiple of it)."""
    for name in ("nnz", "qnnz", "slots", "paths", "cells", "od"):
        n = sizes.get(name)
        if n and length in (n, n + 1, n + 2):
            return name
    for name in ("cells", "od"):
        n = sizes.get(name)
        if n and length % n == 0 and length // n <= 8:
            return name
    return "other"


def run_one(name: str, max_iter: int, threads: int, sizing: str, trim: bool = False,
            rss_limit: float | None = None) -> dict:
    """All stages for one topology in this process; returns its record."""

    rec: dict = {"name": name, "key": KEYS.get(name, name), "stages": [], "max_iter": max_iter,
                 "threads": threads, "sizing": sizing}
    start = vm()
    rec["rss_at_start_gb"] = start["rss_gb"]
    current = ["start"]
    if rss_limit:
        watch_rss(rss_limit, current)

    def stage(label, fn):
        current[0] = label
        reset_peak()
        before = vm()["rss_gb"]
        t0 = time.perf_counter()
        out = fn()
        s = {"stage": label, "seconds": time.perf_counter() - t0, "rss_before_gb": before, **vm()}
        if trim:   # what the C heap keeps of freed memory (glibc's malloc_trim hands it back)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            s["rss_trimmed_gb"] = vm()["rss_gb"]
        rec["stages"].append(s)
        print("STAGE " + json.dumps(s), flush=True)    # kept by the parent should a later stage fail
        print(f"[{name}] {label}: {s['seconds']:.1f} s, RSS {before:.2f} -> {s['rss_gb']:.2f} GB, "
              f"peak {s['peak_gb']:.2f} GB" + (f", trimmed {s['rss_trimmed_gb']:.2f} GB" if trim else ""), flush=True)
        return out

    with torch_threads(threads):
        net = stage("topology", lambda: read_topohub(rec["key"]))
        paths = stage("paths", lambda: k_shortest_paths(net, k=4, method="deviation"))
        trees = paths.meta.get("_trees") or {}
        K = int(paths.paths_per_od.max())
        sizes = {"nodes": net.n_nodes, "od": paths.n_od, "paths": paths.n_paths, "nnz": int(len(paths.link_idx)),
                 "qnnz": int(len(trees.get("q_idx", ()))), "slots": paths.n_od * K,
                 "cells": len(trees.get("sources", ())) * net.n_nodes, "K": K, "links": net.n_links}
        rec["sizes"] = sizes
        forced = stage("forced pairs", lambda: FastOperator._forced_links(paths))
        rec["forced_pairs"] = len(forced[1])
        del forced
        op = stage("operator", lambda: get_operator(paths, "cpu"))
        rec["operator_kind"] = op.kind
        base, tms = bench_matrices(net, 1)
        net2 = stage("sizing", lambda: size_network(net, paths, base, sizing))
        kw = dict(device="cpu", max_iter=max_iter, tol=0.0)
        _, info = stage("solve", lambda: solve_fast(net2, paths, tms[0], certify=False, **kw))
        _, info2 = stage("certify", lambda: solve_fast(net2, paths, tms[0], certify=True, **kw))
        rec["solve"] = {k: info2.get(k) for k in ("iterations", "mlu", "gap", "bound", "bound_lps", "solve_seconds")}
        arrays: list = []
        seen: set = set()
        arrays_of("paths", {f: getattr(paths, f) for f in ("od_src", "od_dst", "od_ptr", "link_ptr", "link_idx",
                                                          "cost", "latency_ms")}, seen, arrays)
        arrays_of("paths", {k: v for k, v in vars(paths).items() if k not in paths.__dataclass_fields__}, seen, arrays)
        arrays_of("paths.meta", paths.meta, seen, arrays)
        arrays_of("op", op, seen, arrays)
        arrays_of("op._index", op._index, seen, arrays)
        for a in arrays:
            a["driver"] = driver(a["length"], sizes)
        rec["arrays"] = arrays
        rec["arrays_total_gb"] = sum(a["bytes"] for a in arrays) / 1e9
        rec["peak_gb"] = max(s["peak_gb"] for s in rec["stages"])
        rec["bytes_per_nnz"] = rec["peak_gb"] * 1e9 / sizes["nnz"]
        try:
            rec["load_average"] = os.getloadavg()
        except OSError:
            pass
    return rec


#: stages whose temporaries are bounded by their chunks (path builder: sources per chunk; forced
#: pairs: FastOperator.FORCED_CHUNK entries per sort), not by the network's size
CHUNKED = ("paths", "forced pairs")


def extrapolate(rec: dict) -> dict:
    """World's memory from one rung's measurements.

    ``resident_arrays_gb``: the arrays left after the run, each scaled by its count's world/rung
    ratio (path-link non-zeros, tree entries, paths, OD pairs, slots, cells). ``stage_peaks_gb``:
    per stage, what the earlier stages left resident plus this stage's rise to its peak, every
    rise scaled by the paths ratio (the path-link non-zeros' for the path build), except the
    temporaries of the chunked stages (:data:`CHUNKED`: their peak above what they leave), which
    are kept as measured; ``linear_peak_gb`` scales those too (an upper estimate)."""
    s = rec["sizes"]
    world = {"nnz": WORLD["nnz"], "qnnz": WORLD["qnnz"], "paths": WORLD["paths"], "od": WORLD["od"],
             "slots": WORLD["od"] * s["K"], "cells": WORLD["nodes"] ** 2}
    ratio = {k: world[k] / s[k] for k in world if s.get(k)}
    arrays = sum(a["bytes"] * ratio.get(a["driver"], 1.0) for a in rec["arrays"]) / 1e9
    resident, out, linear = rec["rss_at_start_gb"], {}, {}
    stages = rec["stages"]
    for i, st in enumerate(stages):
        r = ratio["nnz"] if st["stage"] == "paths" else ratio["paths"]
        above = st["peak_gb"] - st["rss_gb"]               # its temporaries at the peak
        rise = (st["peak_gb"] - st["rss_before_gb"]) * r
        out[st["stage"]] = resident + rise - (above * (r - 1) if st["stage"] in CHUNKED else 0)
        linear[st["stage"]] = resident + rise
        # what is resident when the next stage starts (the forced pairs measured alone are dropped)
        nxt = stages[i + 1]["rss_before_gb"] if i + 1 < len(stages) else st["rss_gb"]
        resident += (nxt - st["rss_before_gb"]) * r
    return {"ratios": ratio, "resident_arrays_gb": arrays, "stage_peaks_gb": out,
            "peak_gb": max(out.values()), "linear_peak_gb": max(linear.values())}


def to_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"# Memory of a `fast` solve, stage by stage ({result['started']})", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in m.items()), "",
             "Each topology in its own process; the peak of a stage is VmHWM reset before it "
             "(/proc/self/clear_refs). `solve`: `solve_fast(certify=False)`, `certify`: the same with the final "
             "certificate (both with `max_iter` iterations, tol 0).", ""]
    for r in result["rungs"]:
        if "error" in r:
            lines += [f"## {r['name']}: stopped", "", f"`{r['error']}`", "",
                      "| stage | seconds | RSS before (GB) | peak (GB) | RSS after (GB) |", "|---|---|---|---|---|"]
            lines += [f"| {st['stage']} | {st['seconds']:.1f} | {st['rss_before_gb']:.2f} | {st['peak_gb']:.2f} | "
                      f"{st['rss_gb']:.2f} |" for st in r.get("stages", [])]
            lines += [""]
            continue
        s = r["sizes"]
        lines += [f"## {r['name']} ({s['nodes']} nodes, {s['od']:,} OD pairs, {s['paths']:,} paths, "
                  f"{s['nnz']:,} path-link non-zeros, {s['qnnz']:,} in the tree form, operator `{r['operator_kind']}`)",
                  "", f"Peak {r['peak_gb']:.2f} GB = {r['bytes_per_nnz']:.1f} bytes per path-link non-zero "
                  f"({r['peak_gb'] * 1e9 / s['paths']:.0f} bytes per path); sizing `{r['sizing']}`, "
                  f"{r['threads']} torch thread(s), load average after "
                  f"{tuple(round(v, 2) for v in r.get('load_average', ()))}.", "",
                  "| stage | seconds | RSS before (GB) | peak (GB) | RSS after (GB) | after malloc_trim (GB) |",
                  "|---|---|---|---|---|---|"]
        for st in r["stages"]:
            lines.append(f"| {st['stage']} | {st['seconds']:.1f} | {st['rss_before_gb']:.2f} | {st['peak_gb']:.2f} | "
                         f"{st['rss_gb']:.2f} | {st['rss_trimmed_gb'] if 'rss_trimmed_gb' in st else '-'} |")
        lines += ["", "Arrays held after the run (>= 1 MB; each buffer once):", "",
                  "| array | dtype | length | MB | per | bytes per path-link nnz |", "|---|---|---|---|---|---|"]
        for a in sorted(r["arrays"], key=lambda a: -a["bytes"]):
            lines.append(f"| `{a['name']}` | {a['dtype']} | {a['length']:,} | {a['bytes'] / 1e6:,.0f} | {a['driver']} | "
                         f"{a['bytes'] / s['nnz']:.2f} |")
        lines += ["", f"In all {r['arrays_total_gb']:.2f} GB of arrays.", ""]
        x = r.get("world")
        if x:
            lines += [f"Extrapolated to world from {r['name']} (ratios "
                      + ", ".join(f"{k} {v:.2f}" for k, v in x["ratios"].items())
                      + f"): resident arrays {x['resident_arrays_gb']:.1f} GB; stage peaks "
                      + ", ".join(f"{k} {v:.1f}" for k, v in x["stage_peaks_gb"].items())
                      + f" GB; peak {x['peak_gb']:.1f} GB (every temporary scaled too: {x['linear_peak_gb']:.1f} GB).",
                      ""]
    lines += result.get("notes", [])
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topologies", default="americas,eurasia")
    ap.add_argument("--max-iter", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizing", default="hard")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--rss-limit", type=float, default=None, help="GB: end the run when its RSS passes this")
    ap.add_argument("--trim", action="store_true", help="malloc_trim after each stage (RSS trimmed: heap kept)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)   # the child process: one topology
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    if a.one:
        rec = run_one(a.one, a.max_iter, a.threads, a.sizing, a.trim, a.rss_limit)
        print("RESULT " + json.dumps(rec, default=float), flush=True)
        return 0
    result = {"benchmark": "te_memory", "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "machine": machine_info("cpu"), "rungs": []}
    for name in a.topologies.split(","):
        cmd = [sys.executable, __file__, "--one", name, "--max-iter", str(a.max_iter), "--threads", str(a.threads),
               "--sizing", a.sizing] + (["--trim"] if a.trim else []) + (
            ["--rss-limit", str(a.rss_limit)] if a.rss_limit else [])
        p = subprocess.run(cmd, capture_output=True, text=True)
        sys.stdout.write("".join(l + "\n" for l in p.stdout.splitlines() if not l.startswith(("RESULT ", "STAGE "))))
        line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
        if p.returncode != 0 or not line:
            limit = [l for l in p.stdout.splitlines() if l.startswith("LIMIT ")]
            rec = {"name": name, "error": limit[0] if limit else f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}",
                   "stages": [json.loads(l[len("STAGE "):]) for l in p.stdout.splitlines() if l.startswith("STAGE ")]}
            print(rec["error"], flush=True)
        else:
            rec = json.loads(line[0][len("RESULT "):])
            if name != "world":
                rec["world"] = extrapolate(rec)
        result["rungs"].append(rec)
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        tag = "te_memory" + (f"-{a.tag}" if a.tag else "")
        atomic_write_text(out / f"{tag}.json", json.dumps(result, indent=1, default=float) + "\n")
        atomic_write_text(out / f"{tag}.md", to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
