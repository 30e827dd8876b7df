"""The scenario (robust) LP: one routing for a set of S traffic matrices, minimising their mean MLU.

In split variables ``x_p`` (the fraction of its OD's demand path ``p`` carries)::

    min  (1/S) sum_s U_s
    s.t. sum_{p in P(k)} x_p = 1                                 for every OD k
         sum_{p ni l} (d_{s,k(p)} / c0) x_p - (c_l / c0) U_s <= 0   for every scenario s, link l
         x >= 0

The constraint matrix is built column-wise (CSC) straight from the path-link incidence ``R`` and
built, loaded and run through :mod:`surgeguard.optimise.highs`, as :class:`~surgeguard.optimise.mlu.MluLP`
is; demands are divided by ``c0 * m`` with ``c0`` the mean capacity and ``m`` the scenarios' mean
first-path MLU, so the U_s are of order 1.

With ``solver="simplex"``, consecutive solves on a sliding window (``robust`` every interval: the window drops its oldest
matrix and gains the newest) are cheap because each scenario keeps its *slot*: the block of L
link rows and the U column it had in the previous solve. A matrix already in the last scenario
set (compared by its demands, exactly) stays in its slot; the new matrices take the slots of the
ones that left. The LP is rebuilt in that slot order (its coefficients are the demands; building
takes a few ms, and it goes to HiGHS as arrays: :func:`~surgeguard.optimise.highs.load_arrays`)
and solved by dual simplex from the previous optimal basis, which then differs from an optimal one
only in the replaced slot's rows. On GÉANT (12 matrices, 1,386 paths, 72 links; 300 consecutive
windows) that is 19 simplex iterations a solve on average (max 171) and 0.03 s, where the previous
code (the last basis given to a window shifted by one, HiGHS' default scaling and tolerances) took
~900 iterations with outliers of 6,000-8,000 (3-4 s), and a cold solve ~1,800. The answer is the
LP optimum either way: the basis is only a start (warm and cold objectives agree to ~1e-14;
tests/test_scenario_warm.py). A window that grows (the first matrices of a replay) keeps the
basis, with the new slots' rows basic; one that shrinks starts cold. The exact same scenario set
as the last solve returns the last answer without solving (``info["start"]``: "cached").

Which optimum: the LP has many optimal routings (only the links that bind at the optimum are
constrained; the rest of the routing is free), and the routing is used on the *next* interval,
whose matrix none of them has seen. A vertex (the simplex' answer) pushes as many links as it
can to their bound ``U_s``, so the next matrix finds many nearly full links; the point HiGHS'
interior-point method reaches without crossover (``solver="central"``, the default) lies near
the centre of the optimal face and leaves headroom on the links that do not bind. Measured on
the test parts of the real series (``bench_replay``'s split: train 70 %, validation 10 %, test
the last 20 %, Abilene 576 intervals, GÉANT 65; ratio to the oracle, mean / p99 / max):

=================  ==========================  ==========================
robust, window 12  Abilene                     GÉANT
=================  ==========================  ==========================
simplex (vertex)   1.0371 / 1.1801 / 1.5233    1.0325 / 1.2295 / 1.3805
central            1.0273 / 1.1531 / 1.2425    1.0140 / 1.0791 / 1.1291
=================  ==========================  ==========================

(``optimal-last`` likewise, :mod:`surgeguard.optimise.mlu`: Abilene 1.0643 / 1.2267 / 1.3616
with the latency stage, 1.0408 / 1.1644 / 1.2192 central; GÉANT 1.0688 / 1.3007 / 1.3117 ->
1.0258 / 1.1373 / 1.1638.) A cheaper linear tie-break (a small cost on each path's
utilisation-weighted length, simplex) got part of it: Abilene 1.0296 / 1.1549 / 1.2581, GÉANT
1.0224 / 1.1628 / 1.2391. The central solve costs ~0.1 s a decision on Abilene and ~0.15 s on
GÉANT (1 core), against ~0.01 s for the warm-started simplex below; both are far inside the
controller's interval. The price is a denser routing: the centre splits nearly every OD pair over
all its paths (on the 26-node ``morocco`` example, k = 4: 3.7 paths per OD pair carry >= 5 % of its
traffic, against 1.01 for ``optimal``'s vertex with its latency stage), i.e. more SR-TE segment
lists or weighted ECMP entries per router; where that matters, ``solver="simplex"``.

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

__all__ = ["ScenarioLP", "solve_scenario_lp", "SIMPLEX_OPTIONS"]

#: HiGHS options of the simplex solves, measured on 300 consecutive GÉANT windows (warm starts,
#: slots kept). With HiGHS' defaults: 224 iterations a solve on average, outliers of 7,000 (3.6 s),
#: and a warm solve could stop up to 2e-7 above the cold optimum (within the default 1e-7
#: tolerances). Tolerances 1e-9: 60 on average, max 346, objectives equal to ~1e-14. With max-value
#: scaling ("4") instead of the default equilibration as well (the LP is already normalised: demands
#: / (c0 m), capacities / c0): 19, max 171. Abilene: 121 / 886 -> 75 / 324. A cold GÉANT solve also
#: drops from ~1,800 iterations to ~750.
SIMPLEX_OPTIONS = {"simplex_scale_strategy": 4, "primal_feasibility_tolerance": 1e-9,
                   "dual_feasibility_tolerance": 1e-9}


class ScenarioLP:
    """The min-mean-MLU scenario LP of one (network, paths), re-solved per scenario set.

    Parameters
    ----------
    network, paths : the network and candidate paths.
    solver : "central" (HiGHS' interior-point method without crossover: a routing near the centre of
        the optimal face; see the module docstring), "simplex" (a vertex, warm-started from the last
        basis), "ipm" (interior point, then crossover to a vertex), "pdlp"; "auto" = "central".
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
        self.solver = "central" if solver == "auto" else solver
        self.options = highs.solver_options(self.solver, time_limit, threads,
                                            **(SIMPLEX_OPTIONS if self.solver == "simplex" else {}))
        self.h = None
        self.c0 = float(network.capacity.mean())
        R = paths.incidence.tocsc()
        # per path: its link rows (CSC of R), repeated once per scenario
        self._R_indptr, self._R_indices = R.indptr.astype(np.int64), R.indices.astype(np.int64)
        self._slot_keys = None  # per LP slot: the bytes of the demands (bit/s) it held last solve
        self._basis = None  # the last optimal basis and its number of scenarios
        self._basis_S = 0
        self._last = None  # (what was asked, the demands, splits, info) of the last solve
        self._struct = None  # the demand-free arrays of the LP for the last number of scenarios
        self.n_solves = 0

    # ------------------------------------------------------------------ model
    def _structure(self, S: int) -> dict:
        """The arrays of the S-scenario LP that do not depend on the demands (kept for the last S):
        CSC ``start``/``index``, a ``value`` template (the OD rows' 1s and the U columns'
        -c_l/c0), where the demand entries go (``pos``) and which scenario and OD each one takes."""
        if self._struct is not None and self._struct["S"] == S:
            return self._struct
        ps, L = self.paths, self.network.n_links
        n_od, n_x = ps.n_od, ps.n_paths
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
        # U columns: -(c_l / c0) on the rows of scenario s
        capn = self.network.capacity / self.c0
        u_index = (n_od + np.arange(S * L)).astype(np.int64)
        u_start = start[-1] + L * np.arange(S + 1)
        self._struct = {
            "S": S, "pos": pos, "s_of": s_of, "od_of": ps.path_od[p_of],
            "start": np.concatenate([start, u_start[1:]]).astype(np.int32),
            "index": np.concatenate([index, u_index]).astype(np.int32),
            "value": np.concatenate([value, -np.tile(capn, S)]),
            "lower": np.zeros(n_x + S), "upper": np.concatenate([np.ones(n_x), np.full(S, highs.INF)]),
            "row_lower": np.concatenate([np.ones(n_od), np.full(S * L, -highs.INF)]),
            "row_upper": np.concatenate([np.ones(n_od), np.zeros(S * L)])}
        return self._struct

    def lp_arrays(self, D: np.ndarray, weights: np.ndarray | None = None) -> dict:
        """The LP for the (S, n_od) normalised demands ``D`` (U_s cost: ``weights``, default 1/S) as
        the keyword arrays of :func:`~surgeguard.optimise.highs.build_lp` (``cost``, bounds, CSC)."""
        S = D.shape[0]
        st = self._structure(S)
        value = st["value"].copy()
        value[st["pos"]] = D[st["s_of"], st["od_of"]]
        u_cost = np.full(S, 1.0 / S) if weights is None else np.asarray(weights, dtype=float)
        return {"cost": np.concatenate([np.zeros(self.paths.n_paths), u_cost]), "lower": st["lower"],
                "upper": st["upper"], "row_lower": st["row_lower"], "row_upper": st["row_upper"],
                "start": st["start"], "index": st["index"], "value": value}

    def build(self, D: np.ndarray, weights: np.ndarray | None = None):
        """The ``HighsLp`` for the (S, n_od) normalised demands ``D`` (U_s cost: ``weights``, default 1/S)."""
        return highs.build_lp(**self.lp_arrays(D, weights))

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
            ``n_scenarios``, ``start`` ("cold", "warm": from the last basis, "cached": the same
            scenarios as the last solve, not solved again), ``kept_scenarios`` (how many scenarios
            kept their slot from the last solve), ``simplex_iterations``.
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
        asked = (bool(second_stage), float(stage2_rtol), None if w is None else w.tobytes())
        if self._last is not None and self._last[0] == asked and np.array_equal(self._last[1], D):
            splits, last = self._last[2], self._last[3]
            info.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in last.items()})
            info.update(start="cached", solve_seconds=time.perf_counter() - t0)
            return splits.copy(), info
        R, cap = ps.incidence, self.network.capacity
        fp = np.array([float(np.max((R @ (first * d[ps.path_od])) / cap)) for d in D])  # first-path MLUs
        m = float(fp[fp > 0].mean())
        order, kept = self.slot_order(D)
        lp = self.lp_arrays(D[order] / (self.c0 * m), None if w is None else w[order])
        self.h = h = highs.load_arrays(**lp, options=self.options)
        start = self._warm_start(h, S)
        self.n_solves += 1
        what = f"the scenario LP ({S} scenarios, {ps.n_paths} paths, {self.network.n_links} links)"
        highs.run(h, what)
        obj = highs.objective(h, what)
        if self.solver != "central":
            self._basis, self._basis_S = h.getBasis(), S
        self._slot_keys = [D[i].tobytes() for i in order]
        col = highs.primal(h, what)
        if second_stage and S > 1:
            col = self._second_stage(h, lp["cost"], obj, stage2_rtol, info, col)
        x = np.clip(col[:ps.n_paths], 0.0, None)
        # ODs without demand in any scenario keep their first path
        x = np.where(np.repeat((D > 0).any(axis=0), ps.paths_per_od), x, 0.0)
        splits = ps.normalise(x, fallback=first)
        loads = R @ (splits[None, :] * D[:, ps.path_od]).T  # (L, S), the caller's scenario order
        smlu = (loads / cap[:, None]).max(axis=0)
        mean = float(smlu.mean()) if weights is None else float(obj * m)
        info.update(mlu=mean, mean_mlu=mean, scenario_mlu=smlu, start=start,
                    kept_scenarios=kept if start == "warm" else 0, simplex_iterations=highs.simplex_iterations(h))
        kept_info = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in info.items()
                     if k not in ("status", "solver", "n_scenarios")}
        self._last = (asked, D, splits.copy(), kept_info)
        info["solve_seconds"] = time.perf_counter() - t0
        return splits, info

    def slot_order(self, D: np.ndarray) -> tuple[np.ndarray, int]:
        """Which scenario goes in which LP slot: ``order[i]`` is the row of ``D`` (S, n_od) placed in
        slot ``i``, and ``kept`` how many scenarios sit in the slot they had in the last solve.

        A scenario whose demands equal (exactly) those a slot ``i < S`` held last time stays there;
        the others fill the remaining slots in their order in ``D``.

        >>> from surgeguard.examples import two_paths
        >>> from surgeguard.paths import k_shortest_paths
        >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
        >>> tms = np.zeros((4, 4, 4)); tms[:, 0, 3] = [1e9, 2e9, 3e9, 4e9]
        >>> lp = ScenarioLP(net, ps); _ = lp.solve(tms[:3])  # slots 0, 1, 2 hold 1, 2, 3 Gbit/s
        >>> D = np.stack([ps.demand(tm) for tm in tms[1:]])  # 2, 3, 4 Gbit/s: 1 left, 4 came
        >>> order, kept = lp.slot_order(D)
        >>> order.tolist(), kept
        ([2, 0, 1], 2)
        """
        S = len(D)
        waiting: dict[bytes, list[int]] = {}
        for s in range(S):
            waiting.setdefault(D[s].tobytes(), []).append(s)
        order = np.full(S, -1, dtype=np.int64)
        for i, key in enumerate((self._slot_keys or [])[:S]):
            if waiting.get(key):
                order[i] = waiting[key].pop(0)
        kept = int((order >= 0).sum())
        rest = sorted(s for left in waiting.values() for s in left)
        order[order < 0] = rest
        return order, kept

    def _warm_start(self, h, S: int) -> str:
        """Start ``h`` (S scenarios) from the last optimal basis where it fits: "warm" or "cold"
        ("interior" for the central solver, which has no basis)."""
        if self.solver == "central":
            return "interior"
        if self._basis is None or self._basis_S > S:
            return "cold"
        basis = self._basis
        if self._basis_S < S:  # a growing window: the new slots' link rows basic, their U at 0
            grow = S - self._basis_S
            basis = highs.grow_basis(basis, n_cols_at_lower=grow, n_rows_basic=grow * self.network.n_links)
        return "warm" if highs.set_basis(h, basis) else "cold"

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
