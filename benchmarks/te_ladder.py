"""The traffic-engineering benchmark ladder: path building, HiGHS (IPM, simplex, PDLP) and ``fast``.

One process, one run, topology after topology (smallest first):

1. read the topology from topohub (IGP metric = hop count, as :func:`~surgeguard.io.read_topohub`
   gives it) and build ``k`` candidate paths for all OD pairs with the scalable builder
   (:func:`~surgeguard.paths.deviation_paths`, i.e. ``k_shortest_paths(method="deviation")``), timed;
2. one base gravity matrix (10 Gbit/s per node on average, node weights log-normal(0, 1), seeded)
   and capacities for it: each link's load when every OD uses its shortest candidate, the larger
   of the two directions of its circuit, divided by 0.6 and rounded up to a standard port
   (:func:`~surgeguard.plan.sizing.round_to_ports`); or one of the other :data:`SIZINGS`
   (``core``, and the uneven ``hard`` and ``shifted`` of issue 16);
3. ``n_tm`` matrices: the base times independent log-normal(0, 0.3) factors per OD pair;
4. on each: HiGHS IPM (and simplex, PDLP on the first matrix) within a time cap, "did not finish"
   when the cap is hit, "skipped" when the LP is beyond the size limit; ``fast`` on every matrix,
   with its certified gap and, where the LP finished, its gap to the LP optimum;
5. warm starts: the first matrix with every demand scaled by a factor in [0.9, 1.1], and with the
   most loaded link of the ``fast`` routing failed (its paths masked; ODs it cuts off dropped),
   each solved cold and warm from the first routing;
6. peak memory (the process's peak RSS after each topology) and, over the ladder, the exponent
   ``b`` of ``time = a * n_paths^b`` (least squares in log-log) for each method.

:func:`run_te_bench` writes ``te_<tag>.json`` and ``te_<tag>.md`` (with the machine's description,
from ``benchmarks/machine.py``) into ``out_dir``. ``benchmarks/bench_te.py`` (a script) and
``surgeguard bench te`` (which loads this file from the source checkout) call it; the library never
imports it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from surgeguard.examples import two_paths
from surgeguard.exceptions import SolverError, ValidationError
from surgeguard.failures import circuit_frame
from surgeguard.io import read_topohub
from surgeguard.io.output import atomic_write_text
from surgeguard.optimise.first_order import (clear_operator_cache, get_operator, resolve_device, solve_fast,
                                             torch_threads)
from surgeguard.optimise.mlu import solve_mlu_lp
from surgeguard.paths import deviation_paths, k_shortest_paths
from surgeguard.plan.sizing import round_to_ports
from surgeguard.routing import Routing
from surgeguard.scenario import gravity_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402  (benchmarks/machine.py, beside this file)

__all__ = ["LADDER", "QUICK_LADDER", "SIZINGS", "Rung", "run_te_bench", "run_rung", "size_first_path",
           "size_network", "sizing_matrix", "failure_mask",
           "bench_matrices", "fit_exponent", "to_markdown"]


@dataclass
class Rung:
    """One topology of the ladder and how much of each solver to run on it."""

    name: str
    key: str
    n_tm: int = 20               #: matrices for ``fast``
    n_lp: int = 20               #: matrices for HiGHS IPM (the first ``n_lp``)
    lp_max_nnz: float = 2.5e7    #: larger path-link matrices skip the LP (memory and time)
    others: bool = True          #: simplex and PDLP on the first matrix
    warm: bool = True            #: warm-start tests (on the CPU only up to 20M paths: time)
    extra: dict = field(default_factory=dict)


#: The ladder of issue 3 (a ~1,000-node backbone: backbone/americas, 1,138 nodes).
LADDER: tuple[Rung, ...] = (
    Rung("abilene", "sndlib/abilene"),
    Rung("geant", "sndlib/geant"),
    Rung("caida-701", "caida/2024-08/701", n_lp=5),
    Rung("caida-3356", "caida/2024-08/3356", n_lp=2),
    Rung("americas", "backbone/americas", n_tm=5, n_lp=0, others=False),
    Rung("eurasia", "backbone/eurasia", n_tm=1, n_lp=0, others=False),
    Rung("world", "backbone/world", n_tm=1, n_lp=0, others=False),
)

#: A smoke run: two small topologies, a few matrices.
QUICK_LADDER: tuple[Rung, ...] = (
    Rung("abilene", "sndlib/abilene", n_tm=3, n_lp=3),
    Rung("geant", "sndlib/geant", n_tm=3, n_lp=3),
)


# ---------------------------------------------------------------------- helpers
def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, GB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def proc_status_gb(*keys: str) -> dict:
    """Memory figures of this process from ``/proc/self/status`` in GB (Linux reports kB), e.g.
    ``VmRSS`` (resident now) and ``VmHWM`` (its peak); NaN where they cannot be read."""
    out = dict.fromkeys(keys, float("nan"))
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                name = line.split(":", 1)[0]
                if name in out:
                    out[name] = int(line.split()[1]) / 1e6
    except OSError:
        pass
    return out


def current_rss_gb() -> float:
    return proc_status_gb("VmRSS")["VmRSS"]


def size_first_path(net, paths, tm, target_util: float = 0.6, device: str = "cpu",
                    forced_util: float | None = None, spread: tuple[float, float] | None = None,
                    seed: int = 0):
    """Capacities for ``tm`` when every OD uses its first (shortest) candidate path: the larger
    direction's load / ``target_util``, rounded up to a standard port. Returns a new network.

    With ``forced_util`` ("core" sizing), each link also gets at least its *forced* load (the
    demand of the ODs whose every candidate path crosses it: a stub node's access link, a bridge)
    / ``forced_util``. Sized on first-path loads alone, those links set the optimum of most
    matrices, and the optimum is then known from a bound without any routing decision; with
    headroom on them the optimum is set in the meshed core, where traffic engineering matters.

    With ``spread = (lo, hi)`` ("hard" sizing), each circuit's need is multiplied by its own
    factor drawn uniformly from ``[lo, hi]`` (``numpy.random.default_rng(seed)``, one draw per
    circuit in circuit order) before rounding: an unevenly provisioned network where a circuit
    whose factor is below ``target_util`` carries more than its capacity on first-path routing
    (before rounding up to a port), so the optimum is set by the routing around it.

    Loads come from the ``fast`` operator (float64), so this works at any size."""
    op = get_operator(paths, device)
    d = paths.demand(tm)
    f = np.zeros(op.n_od * op.K, dtype=np.float64 if op.nnz <= 5e7 else np.float32)  # float32: memory
    f[op.slot_of_path[paths.od_ptr[:-1]]] = d
    load = op.loads(torch.from_numpy(f).to(op.device)).cpu().numpy().astype(np.float64)
    op.release(torch.float64)
    need = load / target_util
    if forced_util is not None:
        forced = op.forced_util(d, np.ones(net.n_links))
        need = np.maximum(need, forced / forced_util)
    # both directions of a circuit get the larger need
    circuit, _ = circuit_frame(net)
    per_circuit = np.zeros(circuit.max() + 1 if len(circuit) else 0)
    np.maximum.at(per_circuit, circuit, need)
    if spread is not None:
        per_circuit = per_circuit * np.random.default_rng(seed).uniform(spread[0], spread[1], len(per_circuit))
    need = per_circuit[circuit]
    out = net.with_capacity(round_to_ports(need))
    out.meta["capacity_source"] = (f"sized: first-path load / {target_util:g}"
                                   + (f", forced load / {forced_util:g}" if forced_util is not None else "")
                                   + (f" x U({spread[0]:g}, {spread[1]:g}) per circuit (seed {seed})"
                                      if spread is not None else "")
                                   + ", rounded to standard ports")
    return out


#: capacity sizings of the benchmark (``run_te_bench(sizing=...)``): keyword arguments of
#: :func:`size_first_path`, plus ``shift`` (see :func:`sizing_matrix`: the matrix the capacities
#: are sized for, when it is not the base matrix of the solved ones).
#:
#: * ``first-path``: every circuit at 60% of its first-path load (the optimum is often set by the
#:   forced links: known from a bound before any routing is chosen);
#: * ``core``: as ``first-path``, and forced loads at no more than 30%;
#: * ``hard`` (issue 16): each circuit's capacity = the larger direction's first-path load / 0.7
#:   x a factor uniform in [0.6, 1.2] (one per circuit, seed 0), rounded up to a standard port:
#:   unevenly provisioned, some circuits under-provisioned, the optimum usually above 1. Measured
#:   (``te_cpu-hard.md``): on caida-701 and caida-3356 the forced links still certify 9 of 10
#:   matrices: of 62 stub nodes (caida-701) one almost surely draws a factor near 0.6, and its
#:   access link then carries ~0.7 / 0.6 of its own (forced) load whatever the routing;
#: * ``hard-core``: ``hard`` with ``core``'s headroom on the forced loads: each circuit's need is
#:   the larger of its first-path load / 0.7 and its forced load / 0.3, times its factor uniform in
#:   [0.6, 1.2] (the same draws as ``hard``), rounded up: unevenly provisioned, and a stub's access
#:   link at no more than 50% of its forced load, so the optimum is set where routing decides it
#:   (``hard`` and ``shifted`` are certified by the forced links on the caida rungs);
#: * ``shifted``: traffic has shifted since the network was built: capacities are the
#:   first-path loads / 0.7 of a *different* gravity matrix, the base one with every node's
#:   weight multiplied by its own log-normal(0, 0.5) factor (seed 1; same total), rounded up to a
#:   standard port; the matrices solved are the usual ones.
SIZINGS = {"first-path": {}, "core": {"forced_util": 0.3},
           "hard": {"target_util": 0.7, "spread": (0.6, 1.2), "seed": 0},
           "hard-core": {"target_util": 0.7, "spread": (0.6, 1.2), "seed": 0, "forced_util": 0.3},
           "shifted": {"target_util": 0.7, "shift": {"sigma": 0.5, "seed": 1}}}


def sizing_matrix(base: np.ndarray, shift: dict | None = None) -> np.ndarray:
    """The matrix the capacities are sized for: ``base``, or with ``shift = {"sigma", "seed"}``
    the gravity matrix ``base`` with node ``i``'s weight times ``s_i ~ log-normal(0, sigma)``
    (``default_rng(seed)``), i.e. ``base_ij * s_i * s_j``, rescaled to ``base``'s total."""
    if not shift:
        return base
    s = np.random.default_rng(shift["seed"]).lognormal(0.0, shift["sigma"], base.shape[0])
    out = base * np.outer(s, s)
    return out * (base.sum() / out.sum())


def size_network(net, paths, base, sizing: str, device: str = "cpu"):
    """``net`` with the capacities of sizing ``sizing`` (a key of :data:`SIZINGS`) for ``base``."""
    kw = dict(SIZINGS[sizing])
    tm = sizing_matrix(base, kw.pop("shift", None))
    out = size_first_path(net, paths, tm, device=device, **kw)
    if tm is not base:
        out.meta["capacity_source"] = out.meta["capacity_source"].replace(
            "first-path load", f"first-path load of a shifted matrix (node weights x logN(0, {SIZINGS[sizing]['shift']['sigma']:g}))", 1)
    return out


def bench_matrices(net, n: int, seed: int = 0):
    """(base gravity matrix, list of ``n`` log-normal variations of it)."""
    rng = np.random.default_rng(seed)
    base = gravity_matrix(net, 10e9 * net.n_nodes, weights=rng.lognormal(0.0, 1.0, net.n_nodes))
    return base, [base * rng.lognormal(0.0, 0.3, base.shape) for _ in range(n)]


def fit_exponent(sizes, times) -> float | None:
    """``b`` in ``time = a * size^b`` by least squares on logs (None with fewer than 2 points)."""
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.asarray(times, dtype=float))
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return None
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def _lp(net, paths, tm, solver: str, cap_s: float) -> dict:
    t0 = time.perf_counter()
    try:
        _, info = solve_mlu_lp(net, paths, tm, solver=solver, second_stage=False, time_limit=cap_s)
    except SolverError as exc:
        return {"status": "did not finish", "seconds": time.perf_counter() - t0, "cap_s": cap_s,
                "reason": str(exc)[:160]}
    return {"status": "optimal", "seconds": time.perf_counter() - t0, "mlu": info["mlu"]}


def _fast(net, paths, tm, device, tol, fast_options: dict, **kw) -> tuple[dict, Routing]:
    """One ``fast`` solve: its record, and the routing (for warm starts)."""
    t0 = time.perf_counter()
    splits, info = solve_fast(net, paths, tm, device=device, tol=tol, **{**fast_options, **kw})
    wall = time.perf_counter() - t0
    out = {k: info.get(k) for k in ("mlu", "lower_bound", "gap", "bound", "iterations", "status", "setup_seconds",
                                    "solve_seconds", "bound_lps", "bound_lp_seconds")}
    out["wall_seconds"] = wall
    return out, Routing(paths, splits, "fast", {k: v for k, v in info.items() if k != "history"})


def failure_mask(net, paths, routing, tm, device="cpu"):
    """Mask of the paths through the most loaded link of ``routing``, and the matrix without the
    ODs that this failure cuts off."""
    op = get_operator(paths, device)
    f = np.zeros(op.n_od * op.K, dtype=np.float64 if op.nnz <= 5e7 else np.float32)
    f[op.slot_of_path] = routing.splits * paths.demand(tm)[paths.path_od]
    util = op.loads(torch.from_numpy(f).to(op.device)).cpu().numpy() / net.capacity
    op.release(torch.float64)
    link = int(np.argmax(util))
    hit = np.zeros(paths.n_paths, dtype=bool)
    for c0 in range(0, paths.n_paths, 1 << 22):  # chunks keep the temporaries small
        c1 = min(c0 + (1 << 22), paths.n_paths)
        seg = paths.link_idx[paths.link_ptr[c0]:paths.link_ptr[c1]] == link
        if seg.any():
            pos = np.flatnonzero(seg) + paths.link_ptr[c0]
            hit[np.searchsorted(paths.link_ptr, pos, side="right") - 1] = True
    usable = ~hit
    served = paths.od_sum(usable.astype(np.int64)) > 0
    tm2 = tm.copy()
    tm2[paths.od_src[~served], paths.od_dst[~served]] = 0.0
    return usable, tm2, net.link_names[link], int((~served).sum())


# ---------------------------------------------------------------------- the run
def run_rung(rung: Rung, *, k: int = 4, device: str = "cpu", tol: float = 0.01, lp_cap_s: float = 300.0,
             other_cap_s: float = 60.0, lp: bool = True, workers: int | None = None, sizing: str = "first-path",
             fast_options: dict | None = None, warm: bool = True, log=print) -> dict:
    """Benchmark one topology; returns its record (see the module notes). ``fast_options`` are
    extra keywords of every ``fast`` solve (e.g. ``time_limit``); ``warm=False`` skips the
    warm-start tests."""
    fast_options = fast_options or {}
    rec: dict = {"name": rung.name, "key": rung.key, "k": k}
    net = read_topohub(rung.key)
    rec.update(n_nodes=net.n_nodes, n_links=net.n_links, metric="hop count")
    t0 = time.perf_counter()
    if workers is None:
        paths = k_shortest_paths(net, k=k, method="deviation")
    else:
        paths = deviation_paths(net, k, workers=workers)
    rec["path_build_seconds"] = time.perf_counter() - t0
    rec.update(n_od=paths.n_od, n_paths=paths.n_paths, nnz=int(len(paths.link_idx)),
               mean_hops=float(len(paths.link_idx) / max(paths.n_paths, 1)),
               compressed_nnz=int(len(paths.meta["_trees"]["q_idx"])) if "_trees" in paths.meta else None)
    log(f"[{rung.name}] {net.n_nodes} nodes, {paths.n_paths:,} paths, {rec['nnz']:,} path-link entries; "
        f"paths built in {rec['path_build_seconds']:.1f}s")
    base, tms = bench_matrices(net, rung.n_tm)
    t0 = time.perf_counter()
    dev = str(resolve_device(device))
    net = size_network(net, paths, base, sizing, device=dev)
    rec["sizing"] = sizing
    rec["capacity_source"] = net.meta.get("capacity_source")
    rec["sizing_seconds"] = time.perf_counter() - t0
    rec["fast_setup_seconds"] = get_operator(paths, dev).setup_seconds   # built once, for sizing
    # LP runs
    rec["lp"] = []
    lp_ok = lp and rung.n_lp > 0 and rec["nnz"] <= rung.lp_max_nnz
    if lp and rung.n_lp > 0 and not lp_ok:
        rec["lp_skipped"] = f"path-link matrix of {rec['nnz']:,} entries > {rung.lp_max_nnz:,.0f}"
    if lp and rung.n_lp == 0:
        rec["lp_skipped"] = "not run at this size (the LP would exceed the time and memory budget)"
    if lp_ok:
        for i in range(min(rung.n_lp, len(tms))):
            r = _lp(net, paths, tms[i], "ipm", lp_cap_s)
            r["tm"] = i
            rec["lp"].append(r)
            log(f"[{rung.name}] tm {i}: HiGHS ipm {r['status']} in {r['seconds']:.1f}s"
                + (f", MLU {r['mlu']:.4f}" if "mlu" in r else ""))
            if r["status"] != "optimal":
                break
        if rung.others:
            rec["lp_others"] = {}
            for solver in ("simplex", "pdlp"):
                r = _lp(net, paths, tms[0], solver, other_cap_s)
                rec["lp_others"][solver] = r
                log(f"[{rung.name}] tm 0: HiGHS {solver} {r['status']} in {r['seconds']:.1f}s")
    # fast on every matrix
    rec["fast"] = []
    first = None
    for i, tm in enumerate(tms):
        r, routing = _fast(net, paths, tm, device, tol, fast_options)
        r["tm"] = i
        opt = next((x["mlu"] for x in rec["lp"] if x["tm"] == i and "mlu" in x), None)
        if opt is not None:
            r["gap_to_lp"] = r["mlu"] / opt - 1.0
        rec["fast"].append(r)
        if first is None:
            first = routing
        log(f"[{rung.name}] tm {i}: fast MLU {r['mlu']:.4f} gap {r['gap']:.4f} "
            + (f"(to LP {r['gap_to_lp']:+.4f}) " if opt is not None else "")
            + f"{r['iterations']} it {r['solve_seconds']:.2f}s (+setup {r['setup_seconds']:.1f}s)")
    # warm starts
    if warm and rung.warm and (dev.startswith("cuda") or rec["n_paths"] <= 2e7):
        rng = np.random.default_rng(1)
        tm_d = tms[0] * rng.uniform(0.9, 1.1, size=tms[0].shape)
        cold, _ = _fast(net, paths, tm_d, device, tol, fast_options)
        warm, _ = _fast(net, paths, tm_d, device, tol, fast_options, warm=first)
        rec["warm_demand"] = {"cold": cold, "warm": warm}
        usable, tm_f, link, cut = failure_mask(net, paths, first, tms[0], device=dev)
        cold_f, _ = _fast(net, paths, tm_f, device, tol, fast_options, path_mask=usable)
        warm_f, _ = _fast(net, paths, tm_f, device, tol, fast_options, path_mask=usable, warm=first)
        rec["warm_failure"] = {"link": link, "ods_cut_off": cut, "cold": cold_f, "warm": warm_f}
        log(f"[{rung.name}] warm start: demand +-10% {cold['solve_seconds']:.2f}s ({cold['iterations']} it) -> "
            f"{warm['solve_seconds']:.2f}s ({warm['iterations']} it), failure of {link} "
            f"{cold_f['solve_seconds']:.2f}s ({cold_f['iterations']} it) -> {warm_f['solve_seconds']:.2f}s "
            f"({warm_f['iterations']} it)")
    else:
        rec["warm_skipped"] = ("not run at this size on the CPU (time)" if warm and rung.warm
                               else "not run in this run (time)")
    try:
        rec["load_average"] = os.getloadavg()
    except OSError:
        pass
    rec["peak_rss_gb"] = peak_rss_gb()
    rec["rss_gb"] = current_rss_gb()
    _summarise(rec)
    clear_operator_cache(paths)
    if dev.startswith("cuda"):
        rec["gpu_peak_memory_gb"] = torch.cuda.max_memory_allocated() / 1e9
        torch.cuda.empty_cache()
    return rec


def _summarise(rec: dict) -> None:
    f = rec["fast"]
    rec["fast_median_seconds"] = float(np.median([x["solve_seconds"] for x in f]))
    rec.setdefault("fast_setup_seconds", float(f[0]["setup_seconds"]) if f else None)
    rec["fast_median_gap"] = float(np.median([x["gap"] for x in f]))
    rec["fast_max_gap"] = float(np.max([x["gap"] for x in f]))
    to_lp = [x["gap_to_lp"] for x in f if "gap_to_lp" in x]
    rec["fast_median_gap_to_lp"] = float(np.median(to_lp)) if to_lp else None
    rec["fast_max_gap_to_lp"] = float(np.max(to_lp)) if to_lp else None
    ipm = [x["seconds"] for x in rec["lp"] if x["status"] == "optimal"]
    rec["ipm_median_seconds"] = float(np.median(ipm)) if ipm else None
    if rec["ipm_median_seconds"]:
        same = [(x["seconds"], y["solve_seconds"]) for x in rec["lp"] for y in f
                if x["tm"] == y["tm"] and x["status"] == "optimal"]
        rec["speedup_vs_ipm"] = float(np.median([a / b for a, b in same])) if same else None
        rec["speedup_vs_ipm_worst"] = float(np.min([a / b for a, b in same])) if same else None
    rec["certified_by"] = {kind: sum(x.get("bound") == kind for x in f) for kind in ("forced links", "prices")}
    if "warm_demand" in rec:
        wd, wf = rec["warm_demand"], rec["warm_failure"]
        rec["warm_speedup_demand"] = wd["cold"]["solve_seconds"] / max(wd["warm"]["solve_seconds"], 1e-9)
        rec["warm_speedup_failure"] = wf["cold"]["solve_seconds"] / max(wf["warm"]["solve_seconds"], 1e-9)


def _warm_up(device: str) -> None:
    """One tiny ``fast`` solve and one tiny LP, so that the first rung's first timings do not carry
    the one-time costs of the first torch and HiGHS calls of the process (seconds on a CPU)."""
    net = two_paths()
    paths = k_shortest_paths(net, k=2)
    tm = np.zeros((net.n_nodes,) * 2)
    tm[0, -1] = 15e9
    solve_fast(net, paths, tm, device=device)
    solve_mlu_lp(net, paths, tm, solver="ipm", second_stage=False)


def run_te_bench(topologies=None, out_dir="benchmarks/results", *, quick: bool = False, device: str = "cpu",
                 k: int = 4, tol: float = 0.01, lp: bool = True, lp_cap_s: float = 300.0,
                 other_cap_s: float = 60.0, n_tm: int | None = None, tag: str | None = None,
                 workers: int | None = None, lp_rungs=None, time_limit: float | None = None,
                 threads: int | None = None, sizing: str = "first-path", warm: bool = True,
                 n_lp: dict | None = None, log=print) -> dict:
    """Run the ladder and write ``te_<tag>.json`` and ``te_<tag>.md`` to ``out_dir``.

    Parameters
    ----------
    topologies : rung names or topohub keys to run (default: the whole :data:`LADDER`, or
        :data:`QUICK_LADDER` with ``quick``); keys not in the ladder get 5 matrices, LP on 2.
    device : where ``fast`` runs ("cpu", "cuda").
    tol : ``fast``'s certified gap target.
    lp : run HiGHS at all (IPM within ``lp_cap_s``; simplex and PDLP within ``other_cap_s``).
    n_tm : override the matrices per topology.
    tag : file name part; default ``cpu`` / ``cuda`` (``quick`` adds ``-quick``).
    lp_rungs : rung names where HiGHS runs (default: all, as each rung allows).
    time_limit : seconds for each ``fast`` solve's iterations (it then reports its gap).
    threads : torch CPU threads for the run (default: torch's setting; on a shared, loaded machine
        1 is often faster than 2).
    workers : threads of the path builder (default: its own).
    sizing : "first-path" (capacities for 60% on first-path loads), "core" (also forced loads at
        no more than 30%, so the optimum is set in the meshed core), "hard" (70% x a random factor
        in [0.6, 1.2] per circuit) or "shifted" (sized for another matrix): see :data:`SIZINGS`.
    warm : run the warm-start tests (False: skip them, to save time).
    n_lp : rung name -> matrices solved by HiGHS IPM there (default: the rung's ``n_lp``; at most
        its matrices), e.g. ``{"caida-3356": 5}`` where 20 IPM solves would take too long.

    Returns the result dict (also written as JSON).
    """
    fast_options = {} if time_limit is None else {"time_limit": time_limit}
    ladder = QUICK_LADDER if quick else LADDER
    by_name = {r.name: r for r in ladder}
    by_key = {r.key: r for r in ladder}
    rungs = []
    for t in (topologies or [r.name for r in ladder]):
        r = by_name.get(t) or by_key.get(t) or {x.name: x for x in LADDER}.get(t)
        r = r or Rung(t.replace("/", "-"), t, n_tm=5, n_lp=2)
        if n_tm is not None:
            r = dataclasses.replace(r, n_tm=n_tm, n_lp=min(r.n_lp, n_tm))
        if n_lp and r.name in n_lp:
            r = dataclasses.replace(r, n_lp=min(int(n_lp[r.name]), r.n_tm))
        rungs.append(r)
    if sizing not in SIZINGS:
        raise ValidationError(f"unknown sizing {sizing!r}; use one of {', '.join(SIZINGS)}")
    tag = tag or (device.split(":")[0] + ("" if sizing == "first-path" else f"-{sizing}") + ("-quick" if quick else ""))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch_threads(threads):
        result = {"benchmark": "te", "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "device": device,
                  "k": k, "tol": tol, "time_limit": time_limit, "sizing": sizing, "n_lp": n_lp,
                  "machine": machine_info(device), "rungs": []}
        t_all = time.perf_counter()
        _warm_up(device)
        for rung in rungs:
            rec = run_rung(rung, k=k, device=device, tol=tol, lp_cap_s=lp_cap_s, other_cap_s=other_cap_s,
                           lp=lp and (lp_rungs is None or rung.name in lp_rungs), workers=workers, sizing=sizing,
                           fast_options=fast_options, warm=warm, log=log)
            result["rungs"].append(rec)
            result["total_seconds"] = time.perf_counter() - t_all
            _write(result, out_dir, tag)  # after every rung: a crash keeps what was measured
    rs = result["rungs"]
    result["scaling_exponents"] = {
        "path_build": fit_exponent([r["n_paths"] for r in rs], [r["path_build_seconds"] for r in rs]),
        "fast": fit_exponent([r["n_paths"] for r in rs], [r["fast_median_seconds"] for r in rs]),
        "highs_ipm": fit_exponent([r["n_paths"] for r in rs if r.get("ipm_median_seconds")],
                                  [r["ipm_median_seconds"] for r in rs if r.get("ipm_median_seconds")]),
    }
    result["total_seconds"] = time.perf_counter() - t_all
    _write(result, out_dir, tag)
    return result


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _write(result: dict, out_dir: Path, tag: str) -> None:
    atomic_write_text(out_dir / f"te_{tag}.json", json.dumps(result, indent=1, default=_json_default) + "\n")
    atomic_write_text(out_dir / f"te_{tag}.md", to_markdown(result))


def _s(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def _per_matrix_lines(result: dict) -> list[str]:
    """Per matrix where the LP finished: IPM and ``fast`` seconds, their ratio, the gaps, the
    certificate; then the median and the worst ratio; and the load average of the run."""
    lines = []
    for r in result["rungs"]:
        lp = {x["tm"]: x for x in r["lp"] if x["status"] == "optimal"}
        if not lp:
            continue
        lines += ["", f"Per matrix, {r['name']} (HiGHS IPM vs `fast`, same process, same run):", "",
                  "| matrix | IPM (s) | LP MLU | fast (s) | iterations | fast MLU | speed-up | gap to LP | "
                  "certified gap | bound set by | status |", "|" + "---|" * 11]
        ratios = []
        for x in r["fast"]:
            y = lp.get(x["tm"])
            if y is None:
                continue
            ratios.append(y["seconds"] / x["solve_seconds"])
            lines.append(f"| {x['tm']} | {y['seconds']:.2f} | {y['mlu']:.5f} | {x['solve_seconds']:.2f} | "
                         f"{x['iterations']} | {x['mlu']:.5f} | {ratios[-1]:.2f}x | {x['gap_to_lp']:+.4f} | "
                         f"{x['gap']:.4f} | {x.get('bound')} | {x['status']} |")
        if ratios:
            lines += ["", f"{r['name']}: speed-up vs IPM median {np.median(ratios):.2f}x, worst "
                      f"{np.min(ratios):.2f}x; gap to LP median {r['fast_median_gap_to_lp']:+.4f}, worst "
                      f"{r['fast_max_gap_to_lp']:+.4f}; certified by forced links "
                      f"{r['certified_by']['forced links']}, by prices {r['certified_by']['prices']} "
                      f"(of {len(r['fast'])} matrices)."]
    loads = [f"{r['name']} {tuple(round(v, 2) for v in r['load_average'])}" for r in result["rungs"]
             if r.get("load_average")]
    start = result["machine"].get("load_average")
    if start or loads:
        lines += ["", "Load average (1, 5, 15 min): "
                  + (f"at the start {tuple(round(v, 2) for v in start)}; " if start else "")
                  + ("after " + ", ".join(loads) if loads else "")
                  + ". The machine is shared: compare times within this run only."]
    return lines


def to_markdown(result: dict) -> str:
    """The result as a Markdown report."""
    m = result["machine"]
    lines = [f"# Traffic-engineering benchmark ({result['device']})", "",
             f"Run {result['started']}, {result.get('total_seconds', 0):.0f} s in all, one process. "
             f"k = {result['k']} paths per OD pair (scalable builder), all-pairs gravity matrices, "
             f"`fast` stops at a certified gap of {result['tol']:.1%}. Capacities: "
             f"{result['rungs'][0].get('capacity_source', 'first-path sizing') if result['rungs'] else '-'} "
             f"(sizing `{result.get('sizing', 'first-path')}`).", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in m.items()), "",
             "| topology | nodes | OD pairs | paths | path-link nnz | compressed nnz | paths built (s) | "
             "HiGHS IPM (s) | simplex (s) | PDLP (s) | LP MLU | fast (s, median) | fast setup (s) | "
             "fast MLU | iterations | certified gap (median / max) | gap to LP (median / max) | "
             "speed-up vs IPM | bound set by (forced links / prices) | warm: demand ±10% (s) | "
             "warm: link failure (s) | peak RSS (GB) |",
             "|" + "---|" * 22]
    for r in result["rungs"]:
        f = r["fast"]
        lp_mlu = next((x["mlu"] for x in r["lp"] if "mlu" in x), None)
        others = r.get("lp_others") or {}

        def oth(name):
            o = others.get(name)
            if not o:
                return "-"
            return f"{o['seconds']:.1f}" if o["status"] == "optimal" else f"did not finish ({o['cap_s']:.0f})"
        ipm = r.get("ipm_median_seconds")
        if ipm is None:
            dnf = [x for x in r["lp"] if x["status"] != "optimal"]
            ipm_s = f"did not finish ({dnf[0]['cap_s']:.0f})" if dnf else ("skipped" if r.get("lp_skipped") else "-")
        else:
            ipm_s = f"{ipm:.1f}"
        wd, wf = r.get("warm_demand"), r.get("warm_failure")

        def wstr(w):
            if not w:
                return "-"
            return (f"{w['cold']['solve_seconds']:.3g} ({w['cold']['iterations']} it) -> "
                    f"{w['warm']['solve_seconds']:.3g} ({w['warm']['iterations']} it)")
        lines.append(
            f"| {r['name']} | {r['n_nodes']} | {r['n_od']:,} | {r['n_paths']:,} | {r['nnz']:,} | "
            f"{_s(r.get('compressed_nnz'), '{:,}')} | {r['path_build_seconds']:.1f} | {ipm_s} | {oth('simplex')} | "
            f"{oth('pdlp')} | {_s(lp_mlu, '{:.4f}')} | {r['fast_median_seconds']:.3g} | "
            f"{_s(r.get('fast_setup_seconds'), '{:.1f}')} | {f[0]['mlu']:.4f} | "
            f"{int(np.median([x['iterations'] for x in f]))} | {r['fast_median_gap']:.4f} / {r['fast_max_gap']:.4f}"
            f"{'' if all(x['status'] == 'converged' for x in f) else ' (not all converged)'} | "
            f"{_s(r.get('fast_median_gap_to_lp'), '{:+.4f}')} / {_s(r.get('fast_max_gap_to_lp'), '{:+.4f}')} | "
            f"{_s(r.get('speedup_vs_ipm'), '{:.3g}x')} | "
            f"{sum(x.get('bound') == 'forced links' for x in f)} / {sum(x.get('bound') == 'prices' for x in f)} | "
            f"{wstr(wd)} | {wstr(wf)} | {r['peak_rss_gb']:.1f} |")
    se = result.get("scaling_exponents") or {}
    if se:
        lines += ["", "Scaling exponent b of time = a * n_paths^b (least squares over the ladder): "
                  + ", ".join(f"{k} {_s(v)}" for k, v in se.items()) + "."]
    lines += _per_matrix_lines(result)
    if result.get("notes"):     # added by hand when rungs of two runs are merged (say which and why)
        lines += [""] + [f"Note: {n}" for n in result["notes"]]
    skipped = [f"{r['name']}: {r['lp_skipped']}" for r in result["rungs"] if r.get("lp_skipped")]
    if skipped:
        lines += ["", "LP not run: " + "; ".join(skipped) + "."]
    lines += ["", "Notes: times are wall-clock seconds; `fast (s)` excludes the one-time set-up (operator "
              "build and transfer, `fast setup`); `certified gap` is (MLU - dual lower bound) / MLU of the "
              "returned routing; `gap to LP` is MLU(fast) / MLU(LP) - 1 on the matrices where the LP "
              "finished; peak RSS is the process peak after the topology (monotone over the run). "
              "Warm starts: cold -> warm solve seconds of the first matrix with demands scaled by "
              "U(0.9, 1.1), and with the most loaded link failed. `bound set by`: matrices whose certificate "
              "is the forced-link bound (demand that must cross a link whatever the routing: the optimum is "
              "then known without routing) vs. link prices (softmax averages or the small LP over the "
              "most loaded links).", ""]
    return "\n".join(lines)
