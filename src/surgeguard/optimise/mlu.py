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

The model is built and run through :mod:`surgeguard.optimise.highs` (column-wise CSC, status read
explicitly). What-ifs change the model in place: :meth:`MluLP.set_usable` closes candidate paths
(column upper bounds to 0) and :meth:`MluLP.set_capacity` changes link capacities (the U
coefficients); both keep the basis for HiGHS' hot start.

``solver="central"`` solves by interior point without the crossover to a vertex (see
:func:`surgeguard.optimise.highs.solver_options`): the same minimum MLU, but the routing lies near
the centre of the optimal face, so the links that do not bind keep headroom instead of sitting at
``U`` as a vertex's do. That is the routing to use for the *next* interval (``optimal-last``):
measured numbers are in :mod:`surgeguard.optimise.scenario`.
"""

from __future__ import annotations

import time

import numpy as np

from ..exceptions import InfeasibleError, SolverError
from ..network import Network
from ..paths import PathSet
from . import highs

__all__ = ["MluLP", "solve_mlu_lp"]


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
        paths.check_network(network)
        self.network, self.paths = network, paths
        t0 = time.perf_counter()
        n_x, n_od, L = paths.n_paths, paths.n_od, network.n_links
        self.capacity = np.asarray(network.capacity, dtype=float).copy()
        self.c0 = float(self.capacity.mean())
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
        value = np.concatenate([value, -self.capacity / self.c0])
        start = np.concatenate([start, [start[-1] + L]])
        lp = highs.build_lp(cost=np.concatenate([np.zeros(n_x), [1.0]]), lower=np.zeros(n_x + 1),
                            upper=np.full(n_x + 1, highs.INF),
                            row_lower=np.concatenate([np.zeros(n_od), np.full(L, -highs.INF)]),
                            row_upper=np.zeros(n_od + L), start=start, index=index, value=value)
        if solver == "auto":
            solver = "simplex" if n_x <= 50_000 else "ipm"
        self.solver = solver
        self._options = highs.solver_options(solver, time_limit, threads)
        self.h = highs.load(lp, self._options)
        self._lp = lp
        self.h2 = None  # the latency stage's own model, built on first use (see ``solve``)
        lat = paths.latency_ms + 1e-3 * paths.cost / max(float(paths.cost.max()), 1.0)
        self._lat_cost = lat / max(float(lat.max()), 1e-12)
        self._od_rows = np.arange(n_od, dtype=np.int32)
        self._all_cols = np.arange(n_x + 1, dtype=np.int32)
        self._usable = np.ones(n_x, bool)
        self.build_seconds = time.perf_counter() - t0
        self.n_solves = 0

    def set_usable(self, usable: np.ndarray | None) -> None:
        """Allow flow only on the paths where ``usable`` is true (``None``: all paths).

        A failure what-if closes the paths that cross a failed link; the model and its basis stay.
        """
        n_x = self.paths.n_paths
        usable = np.ones(n_x, bool) if usable is None else np.asarray(usable, bool)
        if usable.shape != (n_x,):
            raise ValueError(f"usable has shape {usable.shape}; expected ({n_x},)")
        for h in self._models():
            h.changeColsBounds(n_x, self._all_cols[:-1], np.zeros(n_x), np.where(usable, highs.INF, 0.0))
        self._usable = usable.copy()

    def _models(self):
        return [self.h] if self.h2 is None else [self.h, self.h2]

    def _latency_model(self):
        """The latency stage as a second model with the latency objective fixed: each solve only
        changes bounds, so HiGHS restarts from its previous (dual feasible) basis, and the stage-1
        model keeps its own basis too (switching one model's objective back and forth cost ~4x)."""
        if self.h2 is None:
            n_x = self.paths.n_paths
            h2 = highs.load(self._lp, self._options)
            h2.changeColsCost(n_x + 1, self._all_cols, np.concatenate([self._lat_cost, [0.0]]))
            h2.changeColsBounds(n_x, self._all_cols[:-1], np.zeros(n_x), np.where(self._usable, highs.INF, 0.0))
            n_od = self.paths.n_od
            base = -np.asarray(self.network.capacity, dtype=float) / self.c0
            for l in np.flatnonzero(-self.capacity / self.c0 != base):
                h2.changeCoeff(int(n_od + l), int(n_x), float(-self.capacity[l] / self.c0))
            self.h2 = h2
        return self.h2

    def set_capacity(self, capacity: np.ndarray) -> None:
        """Change link capacities (bit/s) in place: the U coefficient of each changed link row."""
        capacity = np.asarray(capacity, dtype=float)
        if capacity.shape != self.capacity.shape:
            raise ValueError(f"capacity has shape {capacity.shape}; expected {self.capacity.shape}")
        n_od, n_x = self.paths.n_od, self.paths.n_paths
        for l in np.flatnonzero(capacity != self.capacity):
            for h in self._models():
                h.changeCoeff(int(n_od + l), int(n_x), float(-capacity[l] / self.c0))
        self.capacity = capacity.copy()

    def solve(self, tm: np.ndarray, *, second_stage: bool = True, stage2_rtol: float = 1e-7):
        """Split ratios (n_paths,) and info (``mlu``, timings) for the N x N matrix ``tm``."""
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
        s = float(np.max((ps.incidence @ first) / self.capacity))  # first-path MLU >= U*
        rhs = d / (self.c0 * s)
        h.changeRowsBounds(len(rhs), self._od_rows, rhs, rhs)
        self.n_solves += 1
        t1 = time.perf_counter()
        what = f"the min-MLU LP ({n_x} paths, {self.network.n_links} links)"
        highs.run(h, what)
        u = highs.objective(h, what)
        x = highs.primal(h, what)[:-1]
        t2 = time.perf_counter()
        info.update(mlu=u * s, stage1_seconds=t2 - t1)
        if second_stage:
            h2 = self._latency_model()
            h2.changeRowsBounds(len(rhs), self._od_rows, rhs, rhs)
            h2.changeColBounds(n_x, 0.0, u * (1 + stage2_rtol))
            try:
                highs.run(h2, "the latency stage of the min-MLU LP")
                x = highs.primal(h2, "the latency stage of the min-MLU LP")[:-1]
                info["stage2_seconds"] = time.perf_counter() - t2
            except (SolverError, InfeasibleError):
                info["stage2_status"] = "failed; stage-1 routing kept"
        splits = ps.normalise(np.clip(x, 0.0, None), fallback=splits)
        info["solve_seconds"] = time.perf_counter() - t0
        return splits, info


def solve_mlu_lp(network: Network, paths: PathSet, tm: np.ndarray, *, solver: str = "auto",
                 second_stage: bool = True, stage2_rtol: float = 1e-7, time_limit: float | None = None,
                 threads: int | None = None) -> tuple[np.ndarray, dict]:
    """Solve the min-MLU LP once; returns (splits over all paths, info with ``mlu`` and timings)."""
    lp = MluLP(network, paths, solver=solver, time_limit=time_limit, threads=threads)
    return lp.solve(tm, second_stage=second_stage, stage2_rtol=stage2_rtol)


