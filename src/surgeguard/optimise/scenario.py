"""The scenario (robust) LP: one routing for a set of S traffic matrices, minimising their mean MLU.

In split variables ``x_p`` (the fraction of its OD's demand path ``p`` carries)::

    min  (1/S) sum_s U_s
    s.t. sum_{p in P(k)} x_p = 1                                 for every OD k
         sum_{p ni l} (d_{s,k(p)} / c0) x_p - (c_l / c0) U_s <= 0   for every scenario s, link l
         x >= 0

The constraint matrix is built column-wise (CSC) straight from the path-link incidence ``R`` and
built, loaded and run through :mod:`surgeguard.optimise.highs`, as :class:`~surgeguard.optimise.mlu.MluLP`
is; demands are divided by ``c0 * m`` with ``c0`` the mean capacity and ``m`` the scenarios' mean
first-path MLU, so the U_s are of order 1. The LP is rebuilt for each new scenario set (its
coefficients are the demands) and re-solved from the previous optimal basis, which stays valid as
a starting basis because the shape does not change.

Why the mean: on the real GÉANT and Abilene series, the mean-MLU routing of the last 12 matrices
hedges across the recent variation of every OD pair; the element-wise peak matrix over-weights
pairs whose peaks never coincide, and min-max over the window is driven by its single worst
matrix (both were clearly worse than optimal-on-the-last-matrix in our checks, issue 4).

An optional second stage (``second_stage=True``) keeps ``mean_s U_s`` within ``stage2_rtol`` of its
optimum and minimises ``max_s U_s``: among the mean-optimal routings it picks the one whose worst
scenario is best. On the validation parts of the real series it did not help (Abilene: mean ratio
to the oracle 1.0515 with it, 1.0468 without; GÉANT: equal) and doubles the solve time.

Arrays in, arrays out: the policy over this engine is :class:`surgeguard.routing.robust.Robust`.
"""

from __future__ import annotations

import time

import numpy as np

from ..exceptions import InfeasibleError, SolverError, ValidationError
from ..network import Network
from ..paths import PathSet
from . import highs

__all__ = ["ScenarioLP", "solve_scenario_lp"]


class ScenarioLP:
    """The min-mean-MLU scenario LP of one (network, paths), re-solved per scenario set.

    Parameters
    ----------
    network, paths : the network and candidate paths.
    solver : HiGHS solver name ("simplex", "ipm", "pdlp"); "auto" = simplex.
    time_limit : seconds per HiGHS run; hitting it raises :class:`~surgeguard.SolverError`.
    threads : HiGHS threads (None: HiGHS' default).

    Examples
    --------
    Two scenarios on ``two_paths`` (15 Gbit/s, then 5 Gbit/s from S to T over two 10 Gbit/s
    paths): any split x on the upper path gives MLUs max(x, 1-x) * 1.5 and max(x, 1-x) * 0.5, so
    the mean is minimised by x = 1/2: MLUs 0.75 and 0.25, mean 0.5.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tms = np.zeros((2, 4, 4)); tms[0, 0, 3] = 15e9; tms[1, 0, 3] = 5e9
    >>> splits, info = ScenarioLP(net, ps).solve(tms)
    >>> k = ps.od_lookup[0, 3]
    >>> np.round(splits[ps.od_ptr[k]:ps.od_ptr[k + 1]], 6).tolist(), np.round(info["scenario_mlu"], 6).tolist()
    ([0.5, 0.5], [0.75, 0.25])
    >>> round(info["mean_mlu"], 6)
    0.5
    """

    def __init__(self, network: Network, paths: PathSet, *, solver: str = "auto",
                 time_limit: float | None = None, threads: int | None = None):
        paths.check_network(network)
        self.network, self.paths = network, paths
        self.solver = "simplex" if solver == "auto" else solver
        self.options = highs.solver_options(self.solver, time_limit, threads)
        self.h = None
        self.c0 = float(network.capacity.mean())
        R = paths.incidence.tocsc()
        # per path: its link rows (CSC of R), repeated once per scenario
        self._R_indptr, self._R_indices = R.indptr.astype(np.int64), R.indices.astype(np.int64)
        self._last_shape = None
        self._basis = None
        self.n_solves = 0

    # ------------------------------------------------------------------ model
    def build(self, D: np.ndarray, weights: np.ndarray | None = None):
        """The ``HighsLp`` for the (S, n_od) normalised demands ``D`` (U_s cost: ``weights``, default 1/S)."""
        ps, L = self.paths, self.network.n_links
        S, n_od, n_x = D.shape[0], ps.n_od, ps.n_paths
        hops = ps.hops.astype(np.int64)
        # column p: OD row, then for s = 0..S-1 the rows n_od + s*L + link of its links
        nnz_col = 1 + S * hops
        start = np.concatenate([[0], np.cumsum(nnz_col)])
        index = np.empty(start[-1], dtype=np.int64)
        value = np.empty(start[-1])
        index[start[:-1]] = ps.path_od
        value[start[:-1]] = 1.0
        # positions of the link entries: for path p, scenario s, hop j -> start[p] + 1 + s*hops[p] + j
        p_of = np.repeat(np.arange(n_x), S * hops)
        within = np.arange(len(p_of)) - np.repeat(np.cumsum(S * hops) - S * hops, S * hops)
        s_of = within // np.repeat(hops, S * hops)
        j_of = within % np.repeat(hops, S * hops)
        link = self._R_indices[self._R_indptr[p_of] + j_of]
        pos = start[p_of] + 1 + within
        index[pos] = n_od + s_of * L + link
        value[pos] = D[s_of, ps.path_od[p_of]]
        # U columns: -(c_l / c0) on the rows of scenario s
        capn = self.network.capacity / self.c0
        u_index = (n_od + np.arange(S * L)).astype(np.int64)
        u_value = -np.tile(capn, S)
        u_start = start[-1] + L * np.arange(S + 1)
        u_cost = np.full(S, 1.0 / S) if weights is None else weights
        return highs.build_lp(
            cost=np.concatenate([np.zeros(n_x), u_cost]),
            lower=np.zeros(n_x + S),
            upper=np.concatenate([np.ones(n_x), np.full(S, highs.INF)]),
            row_lower=np.concatenate([np.ones(n_od), np.full(S * L, -highs.INF)]),
            row_upper=np.concatenate([np.ones(n_od), np.zeros(S * L)]),
            start=np.concatenate([start, u_start[1:]]), index=np.concatenate([index, u_index]),
            value=np.concatenate([value, u_value]))

    def solve(self, tms: np.ndarray, *, weights: np.ndarray | None = None, second_stage: bool = False,
              stage2_rtol: float = 1e-6) -> tuple[np.ndarray, dict]:
        """Splits minimising the (weighted) mean MLU over the scenarios ``tms``.

        Parameters
        ----------
        tms : (S, N, N) traffic matrices in bit/s (S >= 1); one (N, N) matrix is one scenario.
        weights : (S,) non-negative scenario weights (normalised to sum 1); default equal.
        second_stage : among mean-optimal routings, minimise the worst scenario's MLU.
        stage2_rtol : relative slack on the mean kept by the second stage.

        Returns
        -------
        splits : (n_paths,) split ratios.
        info : ``mean_mlu`` (the optimal (weighted) mean MLU over the scenarios, the LP's
            objective; also under ``mlu``, the objective of this engine), ``scenario_mlu`` (S,) the
            routing's MLU on each scenario, ``status``, ``solver``, ``solve_seconds``,
            ``n_scenarios``.
        """
        tms = np.asarray(tms, dtype=float)
        if tms.ndim == 2:
            tms = tms[None]
        ps = self.paths
        if tms.ndim != 3 or tms.shape[0] < 1:
            raise ValidationError(f"scenario LP needs (S, N, N) matrices; got shape {tms.shape}")
        t0 = time.perf_counter()
        S = tms.shape[0]
        D = np.stack([ps.demand(tm, what=f"scenario {s}") for s, tm in enumerate(tms)])  # (S, n_od) bit/s
        first = np.zeros(ps.n_paths)
        first[ps.od_ptr[:-1]] = 1.0
        info = {"status": "optimal", "solver": self.solver, "n_scenarios": S}
        if not (D > 0).any():
            info.update(mlu=0.0, mean_mlu=0.0, scenario_mlu=np.zeros(S), solve_seconds=time.perf_counter() - t0)
            return first, info
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=float)
            if w.shape != (S,) or (w < 0).any() or w.sum() <= 0:
                raise ValidationError(f"scenario weights must be {S} non-negative numbers with a positive sum")
            w = w / w.sum()
        R, cap = ps.incidence, self.network.capacity
        fp = np.array([float(np.max((R @ (first * d[ps.path_od])) / cap)) for d in D])  # first-path MLUs
        m = float(fp[fp > 0].mean())
        lp = self.build(D / (self.c0 * m), w)
        self.h = h = highs.load(lp, self.options)
        shape = (lp.num_col_, lp.num_row_)
        if self._basis is not None and self._last_shape == shape:
            h.setBasis(self._basis)
        self._last_shape = shape
        self.n_solves += 1
        what = f"the scenario LP ({S} scenarios, {ps.n_paths} paths, {self.network.n_links} links)"
        highs.run(h, what)
        obj = highs.objective(h, what)
        self._basis = h.getBasis()
        col = highs.primal(h, what)
        if second_stage and S > 1:
            col = self._second_stage(h, np.asarray(lp.col_cost_), obj, stage2_rtol, info, col)
        x = np.clip(col[:ps.n_paths], 0.0, None)
        # ODs without demand in any scenario keep their first path
        x = np.where(np.repeat((D > 0).any(axis=0), ps.paths_per_od), x, 0.0)
        splits = ps.normalise(x, fallback=first)
        loads = R @ (splits[None, :] * D[:, ps.path_od]).T  # (L, S)
        smlu = (loads / cap[:, None]).max(axis=0)
        mean = float(smlu.mean()) if weights is None else float(obj * m)
        info.update(mlu=mean, mean_mlu=mean, scenario_mlu=smlu, solve_seconds=time.perf_counter() - t0)
        return splits, info

    def _second_stage(self, h, cost: np.ndarray, obj: float, rtol: float, info: dict, col: np.ndarray) -> np.ndarray:
        """Keep the mean within ``rtol`` of ``obj`` and minimise ``max_s U_s`` (one extra column z >= U_s)."""
        n_x = self.paths.n_paths
        S = len(cost) - n_x
        h.addCol(1.0, 0.0, highs.INF, 0, np.zeros(0, np.int32), np.zeros(0))
        h.changeColsCost(n_x + S, np.arange(n_x + S, dtype=np.int32), np.zeros(n_x + S))
        # rows: U_s - z <= 0 ; sum_s c_s U_s <= obj (1 + rtol)
        for s in range(S):
            h.addRow(-highs.INF, 0.0, 2, np.array([n_x + s, n_x + S], np.int32), np.array([1.0, -1.0]))
        h.addRow(-highs.INF, obj * (1 + rtol), S, np.arange(n_x, n_x + S, dtype=np.int32), cost[n_x:])
        try:
            highs.run(h, "the second stage of the scenario LP")
            return highs.primal(h, "the second stage of the scenario LP")
        except (SolverError, InfeasibleError):  # stage 1 stays valid
            info["stage2_status"] = "failed; stage-1 routing kept"
            return col


def solve_scenario_lp(network: Network, paths: PathSet, tms: np.ndarray, **options) -> tuple[np.ndarray, dict]:
    """Solve the min-mean-MLU scenario LP once (see :class:`ScenarioLP`); ``options`` go to ``solve``.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((4, 4)); tm[0, 3] = 15e9
    >>> round(solve_scenario_lp(net, ps, tm)[1]["mean_mlu"], 6)
    0.75
    """
    return ScenarioLP(network, paths).solve(tms, **options)
