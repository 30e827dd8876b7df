"""``optimal``: the exact minimum-MLU routing over the candidate paths, an LP solved by HiGHS.

Formulation, in path flows (one column per candidate path, one more for U)::

    min  U
    s.t. sum_{p in P(k)} f_p = d_k / c0                 for every OD k      (demand served)
         sum_{p ni l} f_p - (c_l / c0) U <= 0            for every link l    (load <= U * capacity)
         f >= 0

The constraint matrix is the path-OD incidence stacked on the path-link incidence ``R`` and does
not depend on the traffic: a new traffic matrix only changes the right-hand side. The model is
therefore built once per (network, paths) and kept by the policy object; each new matrix is a
row-bound change, and HiGHS re-solves from the previous basis (dual simplex hot start). Demands are
divided by ``c0 * s`` with ``s`` the MLU of first-path routing, so that U is of order 1 and HiGHS'
tolerances are relative. A second stage (on by default) keeps ``U <= U* (1 + stage2_rtol)`` and
minimises total latency (sum of path latency x flow): among MLU-optimal routings, the one with
the shortest paths. Split ratios are ``f_p / d_k``.

The model is passed to highspy's matrix API (``HighsLp``, column-wise CSC); the model status is read
explicitly and anything but optimal raises :class:`~surgeguard.SolverError`.
"""

from __future__ import annotations

import time

import numpy as np

from ..exceptions import SolverError
from ..network import Network
from .paths import PathSet
from .policies import Policy, register_policy
from .routing import Routing

__all__ = ["Optimal", "MluLP", "solve_mlu_lp"]


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


class MluLP:
    """The min-MLU LP of one (network, paths), kept alive between solves.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths(); lp = MluLP(net, k_shortest_paths(net, k=2))
    >>> tm = np.zeros((4, 4)); tm[0, 3] = 15e9
    >>> splits, info = lp.solve(tm)
    >>> round(info["mlu"], 6)
    0.75
    """

    def __init__(self, network: Network, paths: PathSet, *, solver: str = "auto", time_limit: float | None = None,
                 threads: int | None = None):
        import highspy

        paths.check_network(network)
        self.network, self.paths = network, paths
        t0 = time.perf_counter()
        n_x, n_od, L = paths.n_paths, paths.n_od, network.n_links
        self.c0 = float(network.capacity.mean())
        hops = paths.hops
        # column p: [OD row k(p), link rows of p]; column n_x (U): -(c_l / c0) on every link row
        start = np.concatenate([[0], np.cumsum(1 + hops)])
        index = np.empty(start[-1], dtype=np.int32)
        is_od = np.zeros(start[-1], bool)
        is_od[start[:-1]] = True
        index[is_od] = paths.path_od
        index[~is_od] = n_od + paths.link_idx
        value = np.ones(start[-1])
        index = np.concatenate([index, n_od + np.arange(L, dtype=np.int32)])
        value = np.concatenate([value, -network.capacity / self.c0])
        start = np.concatenate([start, [start[-1] + L]])
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_x + 1, n_od + L
        lp.col_cost_ = np.concatenate([np.zeros(n_x), [1.0]])
        lp.col_lower_ = np.zeros(n_x + 1)
        lp.col_upper_ = np.full(n_x + 1, highspy.kHighsInf)
        lp.row_lower_ = np.concatenate([np.zeros(n_od), np.full(L, -highspy.kHighsInf)])
        lp.row_upper_ = np.zeros(n_od + L)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = start.astype(np.int32)
        lp.a_matrix_.index_ = index
        lp.a_matrix_.value_ = value
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_x + 1, n_od + L
        if solver == "auto":
            solver = "simplex" if n_x <= 50_000 else "ipm"
        opts = {"solver": solver}
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
        if threads is not None:
            opts["threads"] = int(threads)
        self.solver = solver
        self.h = _new_highs(opts)
        self.h.passModel(lp)
        lat = paths.latency_ms + 1e-3 * paths.cost / max(float(paths.cost.max()), 1.0)
        self._lat_cost = lat / max(float(lat.max()), 1e-12)
        self._od_rows = np.arange(n_od, dtype=np.int32)
        self._all_cols = np.arange(n_x + 1, dtype=np.int32)
        self.build_seconds = time.perf_counter() - t0
        self.n_solves = 0
        self._stage2_active = False

    def solve(self, tm: np.ndarray, *, second_stage: bool = True, stage2_rtol: float = 1e-7):
        """Split ratios (n_paths,) and info (``mlu``, timings) for the N x N matrix ``tm``."""
        import highspy

        ps, h = self.paths, self.h
        t0 = time.perf_counter()
        d = ps.demand(tm)
        n_x = ps.n_paths
        splits = np.zeros(n_x)
        splits[ps.od_ptr[:-1]] = 1.0
        info = {"status": "optimal", "solver": self.solver, "build_seconds": self.build_seconds if self.n_solves == 0 else 0.0}
        if not (d > 0).any():
            info.update(mlu=0.0, solve_seconds=time.perf_counter() - t0, stage1_seconds=0.0)
            return splits, info
        first = np.zeros(n_x)
        first[ps.od_ptr[:-1]] = d
        s = float(np.max((ps.incidence @ first) / self.network.capacity))  # first-path MLU >= U*
        rhs = d / (self.c0 * s)
        h.changeRowsBounds(len(rhs), self._od_rows, rhs, rhs)
        if self._stage2_active:  # restore the stage-1 objective and U bound
            h.changeColsCost(n_x + 1, self._all_cols, np.concatenate([np.zeros(n_x), [1.0]]))
            h.changeColBounds(n_x, 0.0, highspy.kHighsInf)
            self._stage2_active = False
        self.n_solves += 1
        t1 = time.perf_counter()
        h.run()
        _check(h, f"the min-MLU LP ({n_x} paths, {self.network.n_links} links)")
        u = h.getInfo().objective_function_value
        x = np.asarray(h.getSolution().col_value)[:-1]
        t2 = time.perf_counter()
        info.update(mlu=u * s, stage1_seconds=t2 - t1)
        if second_stage:
            h.changeColsCost(n_x + 1, self._all_cols, np.concatenate([self._lat_cost, [0.0]]))
            h.changeColBounds(n_x, 0.0, u * (1 + stage2_rtol))
            self._stage2_active = True
            h.run()
            try:
                _check(h, "the latency stage of the min-MLU LP")
                x = np.asarray(h.getSolution().col_value)[:-1]
                info["stage2_seconds"] = time.perf_counter() - t2
            except SolverError:
                info["stage2_status"] = "failed; stage-1 routing kept"
        x = np.clip(x, 0.0, None)
        sums = np.add.reduceat(x, ps.od_ptr[:-1])
        has = sums > 0
        frac = x / np.repeat(np.where(has, sums, 1.0), ps.paths_per_od)
        splits = np.where(np.repeat(has, ps.paths_per_od), frac, splits)
        info["solve_seconds"] = time.perf_counter() - t0
        return splits, info


def solve_mlu_lp(network: Network, paths: PathSet, tm: np.ndarray, *, solver: str = "auto",
                 second_stage: bool = True, stage2_rtol: float = 1e-7, time_limit: float | None = None,
                 threads: int | None = None) -> tuple[np.ndarray, dict]:
    """Solve the min-MLU LP once; returns (splits over all paths, info with ``mlu`` and timings)."""
    lp = MluLP(network, paths, solver=solver, time_limit=time_limit, threads=threads)
    return lp.solve(tm, second_stage=second_stage, stage2_rtol=stage2_rtol)


class Optimal(Policy):
    """Exact min-MLU routing over the candidate paths (HiGHS LP, see module notes).

    Parameters
    ----------
    solver : "auto" (simplex up to 20,000 paths, interior point beyond), "simplex", "ipm", "pdlp".
    second_stage : among MLU-optimal routings, pick the one with least demand-weighted latency.
    time_limit : seconds for HiGHS; hitting it raises :class:`~surgeguard.SolverError`.

    In a replay, ``decide`` routes the previous interval's matrix: what a controller can know.
    The LP is built on the first call and re-solved from the previous basis on later calls with
    the same network and paths.
    """

    name = "optimal"

    def __init__(self, solver: str = "auto", second_stage: bool = True, time_limit: float | None = None,
                 threads: int | None = None):
        self.solver = solver
        self.second_stage = second_stage
        self.time_limit = time_limit
        self.threads = threads

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        key = (id(network), id(paths))
        if getattr(self, "_lp_key_", None) != key:  # one live model per (network, paths)
            self.lp_ = MluLP(network, paths, solver=self.solver, time_limit=self.time_limit, threads=self.threads)
            self._lp_key_ = key
        splits, info = self.lp_.solve(tm, second_stage=self.second_stage)
        return Routing(paths, splits, self.name, info)


register_policy("optimal", Optimal)
