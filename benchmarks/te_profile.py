"""Where one ``fast`` iteration's time goes (issue 16), against the two sparse products it needs.

Usage::

    python benchmarks/te_profile.py                          # caida-701, sizings hard and shifted, matrix 0
    python benchmarks/te_profile.py --topology caida-3356 --sizings core --threads 1

One process, one run, on one topology of the ladder (``benchmarks/te_ladder.py``: same paths,
matrices and sizings as ``bench_te.py``):

1. the reference products on the solved matrix: one links <- paths (``R f``) and one
   paths <- links (``R^T y``) sparse product with the plain path-link matrix (float32 CSR, the
   slots of the solver's ``(n_od, K)`` layout), each the median of ``--repeats`` runs; the same pair
   through the solver's own operator (``op.loads``, ``op.prices``: the tree-compressed form for
   deviation paths); and a memory-bandwidth probe (a 256 MB float32 copy, bytes read + written);
2. for each sizing of ``--sizings``: ``solve_fast`` on matrix ``--tm`` once untimed (warm-up),
   once plain (its ``solve_seconds``) and once with ``profile=`` (seconds per phase: see
   :func:`~surgeguard.optimise.first_order.solve_fast`);
3. the phases grouped as sparse products (the iteration's two, and the extra ones of the bound
   checks), bound LPs, forced-link work, dense passes over the ``(n_od, K)`` splits, Python
   bookkeeping, set-up and certificate; ms per iteration against the reference pair.

Steps 1 and 2 run once per torch CPU thread count of ``--threads`` (default 1; e.g. ``1,2``): on a
shared, loaded 2-core machine every parallel torch call with 2 threads can wait for a descheduled
thread (milliseconds per call), which a 2-thread run shows beside the single-thread numbers.

Writes ``te_profile.json`` and ``te_profile.md`` (with ``benchmarks/machine.py``'s description and
the load average: the machine may be shared, so compare only numbers of one run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from surgeguard.io import read_topohub
from surgeguard.io.output import atomic_write_json, atomic_write_text
from surgeguard.optimise.first_order import get_operator, solve_fast, torch_threads
from surgeguard.paths import k_shortest_paths

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402  (benchmarks/machine.py, beside this file)
from te_ladder import LADDER, bench_matrices, size_network  # noqa: E402

#: the profile's phases (keys of ``solve_fast(profile=...)``) by kind of work
GROUPS = {
    "sparse products (the iteration's two)": ("loads (links <- paths)", "prices (paths <- links)"),
    "bound checks (averaged prices: extra products)": ("bound checks (averaged prices)",),
    "bound LPs": ("bound LPs",),
    "forced links": ("forced links",),
    "dense passes over the splits": ("flows", "link prices", "iterate bound", "gradient", "Adam step", "softmax"),
    "Python bookkeeping": ("bookkeeping",),
    "set-up and start": ("set-up",),
    "certificate (float64)": ("certificate",),
}
#: the phases inside the iteration loop (set-up, forced links and the certificate are once per solve)
LOOP = tuple(p for g, ps in GROUPS.items() for p in ps if p not in ("forced links", "set-up", "certificate"))


#: the clock of the measurements: "cpu" (``time.process_time``: CPU seconds of this process, the
#: work without the time spent descheduled on a shared machine; with one torch thread) or "wall"
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
TIMER = {"clock": "cpu"}


def median_seconds(fn, repeats: int) -> float:
    timer = CLOCKS[TIMER["clock"]]
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = timer()
        fn()
        ts.append(timer() - t0)
    return float(np.median(ts))


def plain_matrices(paths, op):
    """The path-link matrix over the solver's slots: ``R`` (links x slots) and ``R^T`` (slots x
    links), float32 CSR tensors (one stored copy each, as the solver keeps both directions)."""
    hops = np.diff(paths.link_ptr)
    rows = np.repeat(op.slot_of_path, hops)
    rt = sp.csr_matrix((np.ones(len(paths.link_idx), dtype=np.float32), (rows, paths.link_idx)),
                       shape=(op.n_od * op.K, paths.n_links))
    r = rt.T.tocsr()

    def tt(m):  # as the solver builds its matrices: 32-bit indices, no invariant checks
        return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int32)),
                                       torch.from_numpy(m.indices.astype(np.int32)),
                                       torch.from_numpy(m.data), size=m.shape, check_invariants=False)
    return tt(r), tt(rt)


def bandwidth_gb_s(repeats: int) -> float:
    """Bytes read + written per second by a 256 MB float32 copy (median)."""
    a = torch.ones(1 << 26, dtype=torch.float32)
    b = torch.empty_like(a)
    return 2 * a.numel() * 4 / median_seconds(lambda: b.copy_(a), repeats) / 1e9


def run_profile(topology: str = "caida-701", sizings=("hard", "shifted"), tm_index: int = 0, k: int = 4,
                repeats: int = 50, tol: float = 0.01, threads=(1,), clock: str = "cpu", log=print) -> dict:
    """The measurements of the module notes, as a dict: for each torch CPU thread count of
    ``threads`` (None: torch's setting), the reference products and the profiled solves."""
    TIMER["clock"] = clock
    rung = next((r for r in LADDER if r.name == topology), None)
    key = rung.key if rung else topology
    net0 = read_topohub(key)
    paths = k_shortest_paths(net0, k=k, method="deviation")
    base, tms = bench_matrices(net0, max(tm_index + 1, 1))
    tm = tms[tm_index]
    op = get_operator(paths, "cpu")
    # the tree-compressed form, for comparison, where the solver chose the plain matrix
    tree = (get_operator(paths, "cpu", compressed=True) if op.kind != "tree" and "_trees" in paths.meta
            else None)
    n_slots = op.n_od * op.K
    rec = {"benchmark": "te_profile", "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "topology": topology,
           "key": key, "tm": tm_index, "k": k, "tol": tol, "n_nodes": net0.n_nodes, "n_links": net0.n_links,
           "n_od": paths.n_od, "n_paths": paths.n_paths, "slots": n_slots, "nnz": int(len(paths.link_idx)),
           "operator": op.kind, "operator_nnz": op.nnz, "repeats": repeats, "clock": clock, "machine": machine_info("cpu"),
           "runs": []}
    nets = {sizing: size_network(net0, paths, base, sizing) for sizing in sizings}
    r, rt = plain_matrices(paths, op)
    for t in threads:
        with torch_threads(t):
            run = {"threads": torch.get_num_threads(),
                   "reference": reference_products(r, rt, op, rec, repeats, tree=tree)}
            ref = run["reference"]
            tag = f"[{topology}, {run['threads']} thread(s)]"
            log(f"{tag} reference: plain R f {ref['plain_links_from_paths_ms']:.3f} ms, R^T y "
                f"{ref['plain_paths_from_links_ms']:.3f} ms; operator loads {ref['operator_loads_ms']:.3f} ms, prices "
                f"{ref['operator_prices_ms']:.3f} ms; copy {ref['copy_bandwidth_gb_s']:.1f} GB/s")
            run["solves"] = [profile_solve(nets[sz], paths, tm, sz, ref, tol, log=lambda m: log(f"{tag} {m}"))
                             for sz in sizings]
            # the reference again after the solves (a shared machine's load changes during a run):
            # the ratios are against the mean of the two
            after = reference_products(r, rt, op, rec, repeats, tree=tree)
            run["reference_after"] = after
            for key2 in ("plain_pair_ms", "operator_pair_ms"):
                ref[key2 + "_before"] = ref[key2]
                ref[key2] = 0.5 * (ref[key2] + after[key2])
            for sv in run["solves"]:
                sv["iteration_vs_plain_pair"] = sv["loop_ms_per_iteration"] / ref["plain_pair_ms"]
                sv["iteration_vs_operator_pair"] = sv["loop_ms_per_iteration"] / ref["operator_pair_ms"]
            log(f"{tag} reference after the solves: plain pair {after['plain_pair_ms']:.3f} ms (before "
                f"{ref['plain_pair_ms_before']:.3f} ms); ratios against the mean, {ref['plain_pair_ms']:.3f} ms: "
                + ", ".join(f"{sv['sizing']} {sv['iteration_vs_plain_pair']:.1f}x" for sv in run["solves"]))
            rec["runs"].append(run)
    rec["load_average"] = machine_info("cpu").get("load_average")
    return rec


def reference_products(r, rt, op, rec: dict, repeats: int, tree=None) -> dict:
    """Median ms of one plain ``R f`` and one ``R^T y``, of the operator's ``loads`` and ``prices``
    (and of the tree-compressed operator ``tree``'s, when it is not the solver's), the per-OD
    softmax, and the copy bandwidth."""
    f = torch.rand(rec["slots"], dtype=torch.float32)
    y = torch.rand(rec["n_links"], dtype=torch.float32)
    ref = {"plain_links_from_paths_ms": 1e3 * median_seconds(lambda: torch.mv(r, f), repeats),
           "plain_paths_from_links_ms": 1e3 * median_seconds(lambda: torch.mv(rt, y), repeats),
           "operator_loads_ms": 1e3 * median_seconds(lambda: op.loads(f), repeats),
           "operator_prices_ms": 1e3 * median_seconds(lambda: op.prices(y), repeats),
           "copy_bandwidth_gb_s": bandwidth_gb_s(max(repeats // 5, 3))}
    # the per-OD softmax over the logits (the largest dense pass), in the solver's rank-major
    # (K, n_od) layout (what it runs) and in the OD-major (n_od, K) layout it used before (torch's
    # kernel, and max, exp, sum, divide)
    th = torch.randn(op.n_od, op.K, dtype=torch.float32)
    tk = th.t().contiguous()

    def manual_softmax():
        e = (th - th.amax(dim=1, keepdim=True)).exp_()
        return e.div_(e.sum(dim=1, keepdim=True))
    ref["softmax_torch_ms"] = 1e3 * median_seconds(lambda: torch.softmax(th, dim=1), repeats)
    ref["softmax_exp_sum_ms"] = 1e3 * median_seconds(manual_softmax, repeats)
    ref["softmax_rank_major_ms"] = 1e3 * median_seconds(lambda: torch.softmax(tk, dim=0), repeats)
    if tree is not None:
        ref["tree_loads_ms"] = 1e3 * median_seconds(lambda: tree.loads(f), repeats)
        ref["tree_prices_ms"] = 1e3 * median_seconds(lambda: tree.prices(y), repeats)
        ref["tree_pair_ms"] = ref["tree_loads_ms"] + ref["tree_prices_ms"]
    ref["plain_pair_ms"] = ref["plain_links_from_paths_ms"] + ref["plain_paths_from_links_ms"]
    ref["operator_pair_ms"] = ref["operator_loads_ms"] + ref["operator_prices_ms"]
    # bytes of the pair: each matrix's values (float32) and column indices (int32), both row
    # pointer arrays (int32), and each product's input and output vector (float32)
    n_vec = rec["slots"] + rec["n_links"]
    ref["plain_pair_bytes"] = 2 * rec["nnz"] * (4 + 4) + 4 * n_vec + 2 * 4 * n_vec
    ref["plain_pair_at_copy_bandwidth_ms"] = 1e3 * ref["plain_pair_bytes"] / (ref["copy_bandwidth_gb_s"] * 1e9)
    return ref


def profile_solve(net, paths, tm, sizing: str, ref: dict, tol: float, log=print) -> dict:
    """One sizing: a warm-up solve, a plain one and a profiled one; per-phase seconds and ms per
    iteration against the reference pair of products ``ref``."""
    solve_fast(net, paths, tm, device="cpu", tol=tol)  # warm-up (first-call costs of torch and HiGHS)
    _, info = solve_fast(net, paths, tm, device="cpu", tol=tol)
    plain = {k2: info[k2] for k2 in ("mlu", "lower_bound", "gap", "bound", "iterations", "status",
                                     "solve_seconds", "bound_lps", "bound_lp_seconds")}
    prof: dict = {"clock": TIMER["clock"]}
    _, info_p = solve_fast(net, paths, tm, device="cpu", tol=tol, profile=prof)
    rec = {"sizing": sizing, "capacity_source": net.meta.get("capacity_source"), "plain_solve": plain,
           "profiled_solve": {k2: info_p[k2] for k2 in plain},
           "phases_seconds": {k2: v for k2, v in prof.items() if k2 != "iterations"}}
    it = max(int(prof.get("iterations", 0)), 1)
    ph = rec["phases_seconds"]
    rec["groups_seconds"] = {g: sum(ph.get(p, 0.0) for p in ps) for g, ps in GROUPS.items()}
    loop = sum(ph.get(p, 0.0) for p in LOOP)
    rec["iterations"] = it
    rec["loop_ms_per_iteration"] = 1e3 * loop / it
    rec["solve_ms_per_iteration"] = 1e3 * plain["solve_seconds"] / max(plain["iterations"], 1)
    rec["iteration_vs_plain_pair"] = rec["loop_ms_per_iteration"] / ref["plain_pair_ms"]
    rec["iteration_vs_operator_pair"] = rec["loop_ms_per_iteration"] / ref["operator_pair_ms"]
    own = sum(ph.get(p, 0.0) for p in GROUPS["sparse products (the iteration's two)"])
    rec["loop_products_ms_per_iteration"] = 1e3 * own / it
    rec["iteration_vs_loop_products"] = loop / own if own > 0 else float("nan")
    rec["unaccounted_seconds"] = info_p["solve_seconds"] - sum(ph.values())
    log(f"{sizing}: {it} iterations ({plain['bound']}), {rec['loop_ms_per_iteration']:.1f} ms each in the loop "
        f"({rec['iteration_vs_plain_pair']:.1f}x the plain pair of products); solve {plain['solve_seconds']:.2f}s "
        f"unprofiled, {info_p['solve_seconds']:.2f}s profiled")
    return rec


def to_markdown(rec: dict) -> str:
    """The profile as a Markdown report."""
    m = rec["machine"]
    lines = [f"# Where a `fast` iteration's time goes: {rec['topology']}", "",
             f"Run {rec['started']}, one process, CPU. {rec['n_nodes']} nodes, {rec['n_links']} links, "
             f"{rec['n_od']:,} OD pairs, {rec['n_paths']:,} paths (k = {rec['k']}) in {rec['slots']:,} slots, "
             f"{rec['nnz']:,} path-link non-zeros; the solver's operator is `{rec['operator']}` "
             f"({rec['operator_nnz']:,} non-zeros). Matrix {rec['tm']} of the ladder (`bench_te.py`), "
             f"sizings {', '.join('`' + x['sizing'] + '`' for x in rec['runs'][0]['solves'])}. "
             f"`fast` to a certified gap of {rec['tol']:.0%}.", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in m.items()), "",
             f"Load average at the end: {tuple(round(v, 2) for v in rec['load_average'] or ())} "
             "(shared machine: compare numbers of this run only).", "",
             ]
    for run in rec["runs"]:
        ref = run["reference"]
        lines += [f"# {run['threads']} torch thread(s)", "",
                  f"## Reference products ({run['threads']} thread(s); same matrix, same run; median of "
                  f"{rec['repeats']})", "",
                  "| product | ms |", "|---|---|",
                  f"| plain path-link matrix, links <- paths (R f) | {ref['plain_links_from_paths_ms']:.3f} |",
                  f"| plain path-link matrix, paths <- links (R^T y) | {ref['plain_paths_from_links_ms']:.3f} |",
                  f"| **plain pair** (the mean of before and after the solves) | **{ref['plain_pair_ms']:.3f}** |",
                  *([f"| plain pair before the solves / after them | {ref['plain_pair_ms_before']:.3f} / "
                     f"{run['reference_after']['plain_pair_ms']:.3f} |"] if "reference_after" in run else []),
                  f"| solver operator `loads` (links <- paths) | {ref['operator_loads_ms']:.3f} |",
                  f"| solver operator `prices` (paths <- links) | {ref['operator_prices_ms']:.3f} |",
                  f"| solver operator pair | {ref['operator_pair_ms']:.3f} |",
                  f"| plain pair's bytes at the copy bandwidth ({ref['copy_bandwidth_gb_s']:.1f} GB/s, "
                  f"{ref['plain_pair_bytes'] / 1e6:.1f} MB) | {ref['plain_pair_at_copy_bandwidth_ms']:.3f} |",
                  f"| per-OD softmax over ({rec['n_od']:,}, {rec['slots'] // rec['n_od']}) logits (OD-major, "
                  f"the old layout), `torch.softmax` | {ref['softmax_torch_ms']:.3f} |",
                  f"| the same as max, exp, sum, divide | {ref['softmax_exp_sum_ms']:.3f} |"]
        if "softmax_rank_major_ms" in ref:
            lines.append(f"| per-OD softmax over ({rec['slots'] // rec['n_od']}, {rec['n_od']:,}) logits (rank-major, "
                         f"what the solver runs), `torch.softmax` | {ref['softmax_rank_major_ms']:.3f} |")
        if "tree_pair_ms" in ref:
            lines.append(f"| tree-compressed operator pair (not used here: the plain matrix is cheaper) | "
                         f"{ref['tree_pair_ms']:.3f} |")
        for x in run["solves"]:
            lines += solve_lines(x, run["threads"])
    clock = rec.get("clock", "wall")
    lines += ["", f"Notes: times are {'CPU seconds of the process (`time.process_time`, one torch thread: the work done, without the time spent descheduled on the shared machine)' if clock == 'cpu' else 'wall-clock seconds'}, "
              "for the reference products as for the phases, except the `Unprofiled` solve seconds (wall clock). "
              "The reference products are the median of back-to-back runs on a cache-warm matrix, measured before "
              "and after the solves (the ratios use the mean: on a shared machine the two differ by up to 30%); "
              "inside the loop the same products run with the matrix evicted by the passes between them, hence "
              "the iteration's own products are slower than the reference pair. "
              "Phases are laps inside `solve_fast(profile=...)` (each charges the time since the previous lap); `set-up`, `forced links` and `certificate` run once per solve, the "
              "others per iteration (the bound checks every 5th, twice as far apart after each that did not improve "
              "the bound; the bound LPs, while the gap is open, every 5th "
              "once the best routing has stalled and at least every 10th unless the forced-link bound is within 3% of "
              "the best routing, while their CPU time stays within a "
              "quarter of the iterations'). `dense passes` are the elementwise and "
              "per-OD operations over the (K, n_od) splits (flows d x, softmax weights, per-OD minimum of "
              "the path prices, gradient, fused Adam, softmax); Python's own overhead is in `bookkeeping` and in "
              "the dispatch of each torch call (a few microseconds each).", ""]
    return "\n".join(lines)


def solve_lines(rec: dict, threads: int) -> list[str]:
    ph, gr = rec["phases_seconds"], rec["groups_seconds"]
    it = rec["iterations"]
    total = sum(ph.values())
    lines = ["", f"## Sizing `{rec['sizing']}`, {threads} thread(s)", "", f"Capacities: {rec['capacity_source']}.", "",
             f"Unprofiled: {rec['plain_solve']['iterations']} iterations, {rec['plain_solve']['solve_seconds']:.2f} s "
             f"({rec['solve_ms_per_iteration']:.1f} ms per iteration, set-up and certificate included), MLU "
             f"{rec['plain_solve']['mlu']:.5f}, certified gap {rec['plain_solve']['gap']:.4f} "
             f"(bound: {rec['plain_solve']['bound']}), status {rec['plain_solve']['status']}, "
             f"{rec['plain_solve']['bound_lps']} bound LPs ({rec['plain_solve']['bound_lp_seconds']:.2f} s).",
             f"Profiled: {it} iterations, {rec['profiled_solve']['solve_seconds']:.2f} s; "
             f"**{rec['loop_ms_per_iteration']:.1f} ms per iteration in the loop = "
             f"{rec['iteration_vs_plain_pair']:.1f}x the plain pair of products** "
             f"({rec['iteration_vs_operator_pair']:.1f}x the operator's pair"
             + (f"; {rec['iteration_vs_loop_products']:.1f}x the iteration's own two products as timed in the loop, "
                f"{rec['loop_products_ms_per_iteration']:.2f} ms" if "iteration_vs_loop_products" in rec else "")
             + ").", "",
             "| kind of work | phase | s | ms / iteration | share |", "|---|---|---|---|---|"]
    for g, ps in GROUPS.items():
        for p in ps:
            if p in ph:
                lines.append(f"| {g} | {p} | {ph[p]:.3f} | {1e3 * ph[p] / it:.2f} | {ph[p] / total:.1%} |")
    lines += ["", "| kind of work | s | ms / iteration | share |", "|---|---|---|---|"]
    for g, v in sorted(gr.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {g} | {v:.3f} | {1e3 * v / it:.2f} | {v / total:.1%} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--topology", default="caida-701", help="a rung name of the ladder or a topohub key")
    ap.add_argument("--sizings", default="hard,shifted", help="comma-separated sizings of te_ladder.SIZINGS")
    ap.add_argument("--tm", type=int, default=0, help="which matrix of the ladder")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", default="1", help="comma-separated torch CPU thread counts, one run each")
    ap.add_argument("--clock", default="cpu", choices=sorted(CLOCKS),
                    help="cpu: CPU seconds of the process (robust on a shared machine, with 1 thread); wall")
    ap.add_argument("--tag", default=None, help="file name part: te_profile[-TAG].{json,md}")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = ap.parse_args(argv)
    rec = run_profile(a.topology, a.sizings.split(","), a.tm, repeats=a.repeats, threads=[int(t) for t in a.threads.split(",")], clock=a.clock,
                      log=lambda s: print(s, flush=True))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "te_profile" + (f"-{a.tag}" if a.tag else "")
    atomic_write_json(out / f"{name}.json", rec, indent=1)
    atomic_write_text(out / f"{name}.md", to_markdown(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
