"""``optimal``: the exact minimum-MLU routing over the candidate paths, an LP solved by HiGHS.

Formulation (paths of ODs with positive demand only)::

    min  U
    s.t. sum_{p in P(k)} x_p = 1                       for every OD k      (demand served)
         sum_{p ni l} d_{k(p)} x_p / c_l - U <= 0       for every link l    (load <= U * capacity)
         x >= 0

``x_p`` is the share of OD ``k(p)``'s demand ``d`` on path ``p``; the capacity rows are the
path-link incidence ``R`` scaled by demand and capacity. Demands are rescaled internally so that
U is near 1, which keeps HiGHS' tolerances relative. A second stage (on by default) keeps
``U <= U* (1 + stage2_rtol)`` and minimises the demand-weighted latency, so that among the
MLU-optimal routings the one with the shortest paths is returned.

The model is built as one CSC matrix and passed to highspy's matrix API (``HighsLp``); the model
status is read explicitly and anything but optimal raises :class:`~surgeguard.SolverError`.
"""

from __future__ import annotations

import time

import numpy as np

from ..exceptions import SolverError
from ..network import Network
from .paths import PathSet
from .policies import Policy, register_policy
from .routing import Routing

__all__ = ["Optimal", "build_mlu_lp", "solve_mlu_lp"]


def build_mlu_lp(network: Network, paths: PathSet, d: np.ndarray, scale: float):
    """Arrays of the min-MLU LP for OD demands ``d`` (bit/s): returns (HighsLp, active path idx, active OD idx)."""
    import highspy

    act_od = np.flatnonzero(d > 0)
    counts = paths.paths_per_od[act_od]
    pidx = (np.repeat(paths.od_ptr[act_od] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
            + np.arange(counts.sum()))
    n_x, n_od, L = len(pidx), len(act_od), network.n_links
    hops = paths.hops[pidx]
    od_row = np.repeat(np.arange(n_od), counts)
    # column j: [od row, link rows...]
    nnz_col = 1 + hops
    start = np.concatenate([[0], np.cumsum(nnz_col)])
    index = np.empty(start[-1] + 1, dtype=np.int32)
    value = np.empty(start[-1] + 1, dtype=np.float64)
    index[start[:-1]] = od_row
    value[start[:-1]] = 1.0
    pos = np.arange(start[-1])
    is_link = np.ones(start[-1], bool)
    is_link[start[:-1]] = False
    lpos = pos[is_link]
    src_entry = np.repeat(paths.link_ptr[pidx], hops) + (np.arange(hops.sum()) - np.repeat(np.cumsum(hops) - hops, hops))
    links = paths.link_idx[src_entry]
    dcol = d[act_od][od_row] / scale
    index[lpos] = n_od + links
    value[lpos] = np.repeat(dcol, hops) / network.capacity[links]
    # U column: -1 on every link row
    index[start[-1]:] = 0  # placeholder, replaced below
    u_index = n_od + np.arange(L)
    index = np.concatenate([index[:-1], u_index]).astype(np.int32)
    value = np.concatenate([value[:-1], -np.ones(L)])
    start = np.concatenate([start, [start[-1] + L]])

    lp = highspy.HighsLp()
    lp.num_col_ = n_x + 1
    lp.num_row_ = n_od + L
    lp.col_cost_ = np.concatenate([np.zeros(n_x), [1.0]])
    lp.col_lower_ = np.zeros(n_x + 1)
    lp.col_upper_ = np.concatenate([np.full(n_x, highspy.kHighsInf), [highspy.kHighsInf]])
    lp.row_lower_ = np.concatenate([np.ones(n_od), np.full(L, -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([np.ones(n_od), np.zeros(L)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    lp.a_matrix_.num_col_ = n_x + 1
    lp.a_matrix_.num_row_ = n_od + L
    return lp, pidx, act_od


_BANNER_DONE = False


def _new_highs(options: dict):
    """A silent Highs instance. HiGHS prints a banner to file descriptor 1 when the first instance
    is created, before any option can be set; that would corrupt ``--json`` output, so the first
    construction runs with fd 1 pointed at /dev/null."""
    import os
    import sys

    import highspy

    global _BANNER_DONE
    if not _BANNER_DONE:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_DONE = True
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in options.items():
        h.setOptionValue(k, v)
    return h


def _check(h, what: str):
    import highspy

    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"HiGHS stopped on {what} with status '{h.modelStatusToString(status)}'; "
                          "raise the time limit or try another solver (--solver ipm|simplex|pdlp)")


def solve_mlu_lp(network: Network, paths: PathSet, tm: np.ndarray, *, solver: str = "auto",
                 second_stage: bool = True, stage2_rtol: float = 1e-7, time_limit: float | None = None,
                 threads: int | None = None) -> tuple[np.ndarray, dict]:
    """Solve the min-MLU LP; returns (splits over all paths, info with ``mlu`` and timings)."""
    t0 = time.perf_counter()
    d = paths.demand(tm)
    splits = np.zeros(paths.n_paths)
    splits[paths.od_ptr[:-1]] = 1.0  # ODs without demand: first path (irrelevant to loads)
    if not (d > 0).any():
        return splits, {"mlu": 0.0, "status": "optimal", "solve_seconds": 0.0, "build_seconds": 0.0}
    # scale so that U* is of order 1: the MLU of first-path routing is an upper bound on U*
    first = np.zeros(paths.n_paths)
    first[paths.od_ptr[:-1]] = d
    scale = float(np.max((paths.incidence @ first) / network.capacity))
    lp, pidx, act_od = build_mlu_lp(network, paths, d, scale)
    if solver == "auto":
        solver = "simplex" if len(pidx) <= 20000 else "ipm"
    opts = {"solver": solver}
    if time_limit is not None:
        opts["time_limit"] = float(time_limit)
    if threads is not None:
        opts["threads"] = int(threads)
    h = _new_highs(opts)
    h.passModel(lp)
    t1 = time.perf_counter()
    h.run()
    _check(h, f"the min-MLU LP ({len(pidx)} paths, {network.n_links} links)")
    u_scaled = h.getInfo().objective_function_value
    x = np.asarray(h.getSolution().col_value)[:-1]
    t2 = time.perf_counter()
    info = {"mlu": u_scaled * scale, "status": "optimal", "solver": solver, "build_seconds": t1 - t0,
            "stage1_seconds": t2 - t1, "n_paths_lp": int(len(pidx)), "n_od_lp": int(len(act_od))}
    if second_stage:
        lat = paths.latency_ms[pidx] + 1e-3 * paths.cost[pidx] / max(paths.cost.max(), 1.0)
        w = d[paths.path_od[pidx]] * lat
        n_x = len(pidx)
        h.changeColsCost(n_x + 1, np.arange(n_x + 1, dtype=np.int32), np.concatenate([w / w.sum(), [0.0]]))
        h.changeColBounds(n_x, 0.0, u_scaled * (1 + stage2_rtol))
        h.run()
        try:
            _check(h, "the latency stage of the min-MLU LP")
            x = np.asarray(h.getSolution().col_value)[:-1]
            info["stage2_seconds"] = time.perf_counter() - t2
        except SolverError:
            info["stage2_status"] = "failed; stage-1 routing kept"
    x = np.clip(x, 0.0, None)
    splits[pidx] = x
    # normalise each active OD (round-off from the solver)
    sums = np.add.reduceat(splits, paths.od_ptr[:-1])
    splits /= np.repeat(np.where(sums > 0, sums, 1.0), paths.paths_per_od)
    info["solve_seconds"] = time.perf_counter() - t0
    return splits, info


class Optimal(Policy):
    """Exact min-MLU routing over the candidate paths (HiGHS LP, see module notes).

    Parameters
    ----------
    solver : "auto" (simplex up to 20,000 paths, interior point beyond), "simplex", "ipm", "pdlp".
    second_stage : among MLU-optimal routings, pick the one with least demand-weighted latency.
    time_limit : seconds for HiGHS; hitting it raises :class:`~surgeguard.SolverError`.

    In a replay, ``decide`` routes the previous interval's matrix: what a controller can know.
    """

    name = "optimal"

    def __init__(self, solver: str = "auto", second_stage: bool = True, time_limit: float | None = None,
                 threads: int | None = None):
        self.solver = solver
        self.second_stage = second_stage
        self.time_limit = time_limit
        self.threads = threads

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        splits, info = solve_mlu_lp(network, paths, tm, solver=self.solver, second_stage=self.second_stage,
                                    time_limit=self.time_limit, threads=self.threads)
        return Routing(paths, splits, self.name, info)


register_policy("optimal", Optimal)
