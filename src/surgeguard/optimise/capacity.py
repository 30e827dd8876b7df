"""The capacity-planning MILP and its heuristic: arrays in, arrays out.

The problem (:class:`CapacityProblem`): links with capacities, grouped into fibres (both directions
of a link share its modules), a catalogue of port modules (rate per module, cost of one module on
each fibre), candidate paths, and a list of *cases* -- each a per-OD demand, the usable paths, the
failed links and a utilisation bound (any object with ``demand``, ``usable``, ``failed_links`` and
``util_bound``, e.g. :class:`surgeguard.plan.capacity.PlanScenario`). Find integer module counts
``y`` (n_fibres, n_modules) of minimum cost such that every case can be routed within its bound::

    min  sum_{e,m} cost_em y_em                                            y_em integer >= 0
    s.t. sum_{p in P_s(k)} f_sp = d_sk                         every case s, OD k with demand
         sum_{p ni l} f_sp - u_s sum_m rate_m y_{e(l),m} <= u_s c_l      every surviving link l of s
         f >= 0

:func:`build_milp` builds it (or its LP relaxation) through :mod:`surgeguard.optimise.highs` and
:func:`solve_milp` solves it there (a feasible point at the time limit is accepted; an infeasible
MILP raises :class:`~surgeguard.InfeasibleError`). The heuristic (:class:`ModuleImprover`,
:func:`heuristic`) repairs, consolidates and prunes module counts with a min-MLU LP: any object
with ``min_mlu(demand, capacity, usable) -> (mlu, path flows)`` (e.g.
:class:`surgeguard.optimise.classes.PathLP`). :func:`cheapest_combination` is the exact knapsack
that turns a rate into the cheapest modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np
import scipy.sparse as sp

from ..exceptions import SolverError
from ..paths import PathSet
from . import highs

__all__ = ["PlanningCase", "CapacityProblem", "MilpResult", "cheapest_combination", "rate_unit", "case_mlu",
           "violated_cases", "proven_by_routings", "build_milp", "solve_milp", "ModuleImprover", "heuristic",
           "binding_cases"]


class PlanningCase(Protocol):
    """What the solvers need of one planning case (scenario)."""

    demand: np.ndarray          # (n_od,) bit/s to route
    usable: np.ndarray          # (n_paths,) bool
    failed_links: tuple         # link indices at capacity 0
    util_bound: float           # maximum utilisation


@dataclass(frozen=True, eq=False)
class CapacityProblem:
    """The fixed data of a capacity plan.

    Attributes
    ----------
    paths : candidate paths.
    capacity : (n_links,) installed capacities, bit/s.
    fibre_of_link : (n_links,) fibre index of every link.
    rates : (n_modules,) bit/s a module adds in each direction.
    module_cost : (n_fibres, n_modules) cost of one module on each fibre.
    lp : a min-MLU LP: ``lp.min_mlu(demand, capacity, usable) -> (mlu, path flows)``.
    unit : bit/s per MILP flow unit (scales the MILP's numbers to order 1).
    """

    paths: PathSet
    capacity: np.ndarray
    fibre_of_link: np.ndarray
    rates: np.ndarray
    module_cost: np.ndarray
    lp: Any
    unit: float = 1e9

    @property
    def shape(self) -> tuple[int, int]:
        """(n_fibres, n_modules): the shape of a module-count array."""
        return self.module_cost.shape

    def capacity_after(self, added: np.ndarray) -> np.ndarray:
        """(n_links,) capacities with ``added`` modules."""
        return self.capacity + (added @ self.rates)[self.fibre_of_link]

    def cost(self, added: np.ndarray) -> float:
        """Total cost of ``added`` modules."""
        return float((added * self.module_cost).sum())

    def n_columns(self, cases: Sequence[PlanningCase]) -> int:
        """Columns of the MILP over ``cases`` (module counts plus one flow per usable path with demand)."""
        ps = self.paths
        return int(np.prod(self.shape)) + sum(int((c.usable & (c.demand > 0)[ps.path_od]).sum()) for c in cases)


@dataclass(frozen=True)
class MilpResult:
    """One MILP (or LP relaxation) solve: ``added`` (module counts, None without a feasible point;
    fractional for a relaxation), ``cost``, ``bound`` (the best lower bound), ``gap``, ``status``."""

    added: np.ndarray | None
    cost: float
    bound: float
    gap: float
    status: str


# ====================================================================================== knapsack
def rate_unit(rates: np.ndarray) -> float:
    """The largest 'round' divisor (1 Mbit/s resolution) of every rate.

    >>> rate_unit(np.array([10e9, 100e9, 400e9]))
    10000000000.0
    """
    mb = np.round(np.asarray(rates) / 1e6).astype(np.int64)
    g = int(np.gcd.reduce(mb)) if len(mb) else 1
    return max(g, 1) * 1e6


def cheapest_combination(amount_bps: float, rates: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, float]:
    """The cheapest module counts whose total rate is at least ``amount_bps`` (exact, a small
    unbounded knapsack over multiples of the rates' common divisor).

    >>> n, c = cheapest_combination(120e9, np.array([10e9, 100e9]), np.array([1.0, 4.0]))
    >>> n.tolist(), c
    ([2, 1], 6.0)
    """
    rates = np.asarray(rates, dtype=float)
    costs = np.asarray(costs, dtype=float)
    m = len(rates)
    if amount_bps <= 0:
        return np.zeros(m, dtype=np.int64), 0.0
    unit = rate_unit(rates)
    r = np.round(rates / unit).astype(np.int64)
    need = int(math.ceil(amount_bps / unit - 1e-9))
    top = need + int(r.max())
    if top > 200_000:  # huge: fill with the cheapest per bit/s, then the knapsack for the rest
        best = int(np.argmin(costs / r))
        bulk_n = max(0, (need - int(r.max())) // int(r[best]))
        n, c = cheapest_combination((need - bulk_n * r[best]) * unit, rates, costs)
        n[best] += bulk_n
        return n, float(c + bulk_n * costs[best])
    inf = float("inf")
    best_cost = np.full(top + 1, inf)
    choice = np.full(top + 1, -1, dtype=np.int64)
    best_cost[0] = 0.0
    for v in range(1, top + 1):
        for j in range(m):
            prev = max(v - int(r[j]), 0)
            c = best_cost[prev] + costs[j]
            if c < best_cost[v] - 1e-12:
                best_cost[v] = c
                choice[v] = j
    # cheapest over all v >= need (best_cost[v] for v<r covers "at least v")
    v = int(need + np.argmin(best_cost[need:]))
    n = np.zeros(m, dtype=np.int64)
    total = float(best_cost[v])
    while v > 0:
        j = int(choice[v])
        n[j] += 1
        v = max(v - int(r[j]), 0)
    return n, total


# ====================================================================================== checks
def _case_capacity(capacity: np.ndarray, case: PlanningCase) -> np.ndarray:
    cap = capacity.copy()
    if case.failed_links:
        cap[list(case.failed_links)] = 0.0
    return cap


def case_mlu(problem: CapacityProblem, cases: Sequence[PlanningCase], capacity: np.ndarray,
             flows_out: list | None = None) -> np.ndarray:
    """(n_cases,) minimum MLU of each case on ``capacity`` (its failed links at 0). The path flows
    of the cases without failure are appended to ``flows_out`` when given."""
    out = np.zeros(len(cases))
    for i, case in enumerate(cases):
        u, f = problem.lp.min_mlu(case.demand, _case_capacity(capacity, case), case.usable)
        out[i] = u
        if flows_out is not None and not case.failed_links and np.isfinite(u):
            flows_out.append(f)
    return out


def violated_cases(problem: CapacityProblem, cases: Sequence[PlanningCase], capacity: np.ndarray,
                   active: Sequence[int], last_ratio: np.ndarray, want: int) -> list[int]:
    """Cases outside ``active`` violated on ``capacity``, most violated first.

    They are checked in order of their last ratio (MLU / bound, updated in place) and the search
    stops once ``want`` violations are found after checking at least ``2 * want`` cases; an empty
    list means every one was checked and none is violated.
    """
    act = set(active)
    order = [i for i in np.argsort(-last_ratio) if i not in act]
    found = []
    for n, i in enumerate(order):
        case = cases[i]
        u, _ = problem.lp.min_mlu(case.demand, _case_capacity(capacity, case), case.usable)
        last_ratio[i] = u / case.util_bound
        if last_ratio[i] > 1 + 1e-6:
            found.append(i)
        if len(found) >= want and n + 1 >= 2 * want:
            break
    return sorted(found, key=lambda i: -last_ratio[i])


def proven_by_routings(paths: PathSet, demands: np.ndarray, capacity: np.ndarray, flows: list,
                       bound: float) -> np.ndarray:
    """(T,) bool: the demands (rows of ``demands``, (T, n_od) bit/s) proven to fit under ``bound``.

    Some routing taken from ``flows`` (min-MLU path flows of other matrices, used as split ratios)
    gives them an MLU <= bound. A sufficient test only; the others need the LP.
    """
    ok = np.zeros(len(demands), dtype=bool)
    if not len(flows) or not len(demands):
        return ok
    R = paths.incidence
    for f in flows:
        split = paths.normalise(f)
        todo = np.flatnonzero(~ok)
        if not len(todo):
            break
        load = R @ (split[:, None] * demands[todo][:, paths.path_od].T)  # (L, n_todo)
        ok[todo] = (load / capacity[:, None]).max(axis=0) <= bound
    return ok


# ====================================================================================== the MILP
def build_milp(problem: CapacityProblem, cases: Sequence[PlanningCase], *, relax: bool = False):
    """The MILP of the module notes over ``cases`` (its LP relaxation with ``relax``), built with
    :func:`surgeguard.optimise.highs.build_lp`. The first ``n_fibres * n_modules`` columns are the
    module counts (row-major)."""
    ps = problem.paths
    E, M = problem.shape
    n_links = len(problem.capacity)
    unit = problem.unit
    ycost = problem.module_cost.ravel()
    rates = problem.rates / unit
    cap = problem.capacity / unit
    fib = problem.fibre_of_link
    # upper bound on modules: enough to carry every case's total demand on one fibre
    tot = max(float(c.demand.sum()) / max(c.util_bound, 1e-9) for c in cases) / unit
    yub = np.ceil(tot / rates) + 1
    rows, cols, vals = [], [], []
    row_lo, row_hi = [], []
    col_cost = [ycost]
    col_ub = [np.tile(yub, E)]
    n_row, n_col = 0, E * M
    R = ps.incidence
    for case in cases:
        dk = case.demand > 0
        use = case.usable & dk[ps.path_od]
        P = np.flatnonzero(use)
        ods = np.flatnonzero(dk)
        odpos = np.full(ps.n_od, -1)
        odpos[ods] = np.arange(len(ods))
        alive = np.ones(n_links, dtype=bool)
        if case.failed_links:
            alive[list(case.failed_links)] = False
        links = np.flatnonzero(alive)
        lpos = np.full(n_links, -1)
        lpos[links] = np.arange(len(links))
        nP = len(P)
        # OD rows: the demand is served
        rows.append(n_row + odpos[ps.path_od[P]])
        cols.append(n_col + np.arange(nP))
        vals.append(np.ones(nP))
        row_lo.append(case.demand[ods] / unit)
        row_hi.append(case.demand[ods] / unit)
        # link rows: load - u_s * rate_m y_{e(l), m} <= u_s c_l
        base_link = n_row + len(ods)
        sub = R[:, P].tocoo()
        keep = alive[sub.row]
        rows.append(base_link + lpos[sub.row[keep]])
        cols.append(n_col + sub.col[keep])
        vals.append(np.ones(int(keep.sum())))
        rows.append(np.repeat(base_link + np.arange(len(links)), M))
        cols.append((fib[links][:, None] * M + np.arange(M)[None, :]).ravel())
        vals.append(np.tile(-case.util_bound * rates, len(links)))
        row_lo.append(np.full(len(links), -highs.INF))
        row_hi.append(case.util_bound * cap[links])
        n_row = base_link + len(links)
        col_cost.append(np.zeros(nP))
        col_ub.append(np.full(nP, highs.INF))
        n_col += nP
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_row, n_col))
    A.sum_duplicates()
    return highs.build_lp(cost=np.concatenate(col_cost), lower=np.zeros(n_col), upper=np.concatenate(col_ub),
                          row_lower=np.concatenate(row_lo), row_upper=np.concatenate(row_hi), matrix=A,
                          integer=None if relax else E * M)


def solve_milp(lp, shape: tuple[int, int], *, relax: bool = False, time_limit: float = 60.0,
               mip_rel_gap: float = 1e-4, threads: int | None = None, start: np.ndarray | None = None) -> MilpResult:
    """Solve a model of :func:`build_milp`; ``shape`` is (n_fibres, n_modules).

    ``start``: module counts given to HiGHS as a partial MIP start (it completes the flows). A stop
    at the time limit with a feasible point returns that point; without one, ``added`` is None
    (with the MILP's dual bound). An infeasible model raises :class:`~surgeguard.InfeasibleError`.
    """
    n_int = int(np.prod(shape))
    h = highs.load(lp, highs.solver_options(time_limit=time_limit, threads=threads, mip_rel_gap=float(mip_rel_gap)))
    if start is not None and not relax:
        h.setSolution(n_int, np.arange(n_int, dtype=np.int32), np.asarray(start, dtype=np.float64).ravel())
    what = "the LP relaxation of the capacity-planning MILP" if relax else "the capacity-planning MILP"
    try:
        status = highs.run(h, what, accept_feasible=True)
    except SolverError:  # stopped without a feasible point
        bound = float("nan") if relax else float(h.getInfo().mip_dual_bound)
        return MilpResult(None, float("nan"), bound, float("nan"), "no feasible point")
    y = highs.primal(h, what)[:n_int]
    cost = highs.objective(h, what)
    if relax:
        return MilpResult(y.reshape(shape), cost, cost, 0.0, status)
    info = h.getInfo()
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else float("nan")
    return MilpResult(np.round(y).astype(np.int64).reshape(shape), cost, float(info.mip_dual_bound), gap, status)


# ====================================================================================== heuristic
class ModuleImprover:
    """Feasibility checks, repair, consolidation and pruning of module counts (the heuristic's steps).

    Parameters
    ----------
    problem : the :class:`CapacityProblem`.
    """

    def __init__(self, problem: CapacityProblem):
        self.problem = problem
        self.order: dict[int, float] = {}  # id(case) -> last ratio, to test the tightest first

    def cheapest(self, amount_bps: float, fibre: int) -> tuple[np.ndarray, float]:
        """The cheapest modules of at least ``amount_bps`` on ``fibre``."""
        return cheapest_combination(amount_bps, self.problem.rates, self.problem.module_cost[fibre])

    def feasible(self, added: np.ndarray, cases: Sequence[PlanningCase]) -> bool:
        """All of ``cases`` within bound; the tightest cases (last seen) are tried first."""
        cap = self.problem.capacity_after(added)
        for case in sorted(cases, key=lambda x: -self.order.get(id(x), 0.0)):
            u, _ = self.problem.lp.min_mlu(case.demand, _case_capacity(cap, case), case.usable)
            self.order[id(case)] = u / case.util_bound
            if u > case.util_bound * (1 + 1e-6):
                return False
        return True

    def repair(self, added: np.ndarray, cases: Sequence[PlanningCase], max_steps: int = 10_000) -> np.ndarray:
        """Add modules until every case fits: the worst case first, on its most utilised link, by
        the shortfall there (cheapest module combination); then :meth:`consolidate`."""
        pb = self.problem
        added = added.copy()
        for _ in range(max_steps):
            u = case_mlu(pb, cases, pb.capacity_after(added))
            r = u / np.array([c.util_bound for c in cases])
            for c, x in zip(cases, r):
                self.order[id(c)] = x
            i = int(np.argmax(r))
            if r[i] <= 1 + 1e-6:
                break
            case = cases[i]
            while True:  # fix this case
                c = _case_capacity(pb.capacity_after(added), case)
                uu, f = pb.lp.min_mlu(case.demand, c, case.usable)
                if uu <= case.util_bound * (1 + 1e-6):
                    break
                load = pb.paths.incidence @ f
                util = np.where(c > 0, load / np.where(c > 0, c, 1.0), 0.0)
                link = int(np.argmax(util))
                e = int(pb.fibre_of_link[link])
                short = load[link] / case.util_bound - c[link]
                n, _ = self.cheapest(max(short, 1.0), e)
                added[e] += n
        return self.consolidate(added)

    def consolidate(self, added: np.ndarray) -> np.ndarray:
        """Each fibre's modules replaced by the cheapest combination of at least the same rate."""
        pb = self.problem
        added = added.copy()
        for e in np.flatnonzero(added.sum(axis=1) > 0):
            total = float(added[e] @ pb.rates)
            n, c = self.cheapest(total * (1 - 1e-12), e)
            if c < float(added[e] @ pb.module_cost[e]) - 1e-12:
                added[e] = n
        return added

    def prune(self, added: np.ndarray, cases: Sequence[PlanningCase]) -> np.ndarray:
        """Per fibre, most expensive first: the least added rate that keeps every case feasible
        (binary search in steps of the smallest module rate; feasibility is monotone in capacity),
        then the cheapest modules for it."""
        pb = self.problem
        added = added.copy()
        step = float(pb.rates.min())
        for e in sorted(np.flatnonzero(added.sum(axis=1) > 0), key=lambda e: -float(added[e] @ pb.module_cost[e])):
            total = float(added[e] @ pb.rates)
            lo, hi = 0, int(round(total / step))  # hi feasible
            while lo < hi:
                mid = (lo + hi) // 2
                trial = added.copy()
                trial[e], _ = self.cheapest(mid * step * (1 - 1e-12), e)
                if self.feasible(trial, cases):
                    hi = mid
                else:
                    lo = mid + 1
            best, c = self.cheapest(hi * step * (1 - 1e-12), e)
            if c <= float(added[e] @ pb.module_cost[e]) + 1e-12:
                added[e] = best
        return added


def heuristic(problem: CapacityProblem, cases: Sequence[PlanningCase], *, time_limit: float,
              threads: int | None = None, try_lp: bool = True, start: np.ndarray | None = None,
              ) -> tuple[np.ndarray, float]:
    """LP relaxation, rounding per fibre, repair and prune. Returns (module counts, lower bound).

    The LP relaxation (when ``try_lp``) gives the bound and each fibre's fractional capacity, rounded
    up to the cheapest modules; with ``start`` (module counts) the relaxation and rounding are
    skipped and the repair and prune start from it (bound 0).
    """
    E, M = problem.shape
    unit = problem.unit
    imp = ModuleImprover(problem)
    bound = 0.0
    need = np.zeros(E)
    if try_lp and time_limit > 0 and start is None:
        res = solve_milp(build_milp(problem, cases, relax=True), (E, M), relax=True, time_limit=time_limit,
                         mip_rel_gap=1e-4, threads=threads)
        if res.added is not None:
            bound = res.bound
            need = (res.added * (problem.rates / unit)).sum(axis=1) * unit
    if start is not None:
        added = np.asarray(start, dtype=np.int64).copy()
    else:
        added = np.zeros((E, M), dtype=np.int64)
        for e in range(E):
            if need[e] > 1e-6 * unit:
                added[e], _ = imp.cheapest(need[e] * (1 - 1e-9), e)
    added = imp.repair(added, cases)
    added = imp.prune(added, cases)
    return added, bound


def binding_cases(problem: CapacityProblem, cases: Sequence[PlanningCase], added: np.ndarray,
                  ) -> dict[int, tuple[int, float]]:
    """Per upgraded fibre: remove its smallest module and re-check ``cases``; returns
    ``{fibre: (index of the case with the highest MLU / bound, its MLU)}``."""
    rates = problem.rates
    out = {}
    bounds = np.array([c.util_bound for c in cases])
    for e in np.flatnonzero(added.sum(axis=1) > 0):
        less = added.copy()
        j = int(np.flatnonzero(less[e] > 0)[np.argmin(rates[less[e] > 0])])
        less[e, j] -= 1
        u = case_mlu(problem, cases, problem.capacity_after(less))
        i = int(np.argmax(u / bounds))
        out[int(e)] = (i, float(u[i]))
    return out
