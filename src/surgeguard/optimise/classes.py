"""The strict-priority class allocation LP (B4 / SWAN), arrays in and arrays out.

B4 (Jain et al., SIGCOMM 2013) and SWAN (Hong et al., SIGCOMM 2013) allocate bandwidth class by
class, highest priority first, each class in the capacity the classes above it left. Here, for
per-class demands (highest class first) and the paths each class may use:

1. Class ``c`` may use its allowed candidate paths (e.g. inside its latency bound) whose links all
   have capacity left, ``r_l = capacity_l - load of the classes above`` (a path through a full
   link is unusable; an OD with no usable path gets nothing).
2. **Min own-MLU** (an LP): ``min U  s.t.  sum_{p in P_c(k)} f_p = d_ck,  sum_{p ni l} f_p <= U r_l``.
   ``U*`` is the class's own MLU in the capacity left. If ``U* <= 1`` the class fits: a second LP
   (``latency_stage``) keeps ``U <= U* (1 + 1e-7)`` and minimises the total latency of its flows
   (sum of path latency x flow), so the class takes the shortest paths among those that keep its
   MLU minimal.
3. **Does not fit** (``U* > 1``): the class is served as much as possible, defined in this order:

   a. *max-concurrent flow*: the largest fraction ``lambda`` of every OD's demand that fits. By
      scale invariance of the LP above, ``lambda* = 1 / U*`` (no extra solve);
   b. *max-throughput*: with every usable OD served at least ``lambda* d_ck`` and at most
      ``d_ck``, and every link at most ``r_l``, maximise the total served (an LP);
   c. *min latency*: with the total served kept (to 1e-7), minimise the total latency.

   What is not served is the class's lost traffic. Fairness first (every OD keeps at least the
   common fraction), then efficiency (no capacity left idle that could serve someone).
4. The class's loads are subtracted from ``r`` and the next class is allocated.

Every LP is one model per (network, paths, class), built once through
:mod:`surgeguard.optimise.highs` (columns: one flow per candidate path and ``U``; rows: one per
OD, one per link, one for the total served). A new matrix, a new residual capacity or a new phase
only changes bounds, costs and the ``U`` column's coefficients (``changeCoeff``), and HiGHS
re-solves from the previous basis. The same :class:`PathLP` serves capacity planning to check
scenarios. The policy (:mod:`surgeguard.routing.priority`) adds the class configuration and the
other solvers (a registered min-MLU policy per class).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ..exceptions import InfeasibleError, SolverError, ValidationError
from ..network import Network
from ..paths import PathSet
from . import highs

__all__ = ["PathLP", "FIT_TOL", "residual_usable", "allocate_priority"]

#: A class fits when its own MLU in the capacity left is at most ``1 + FIT_TOL``.
FIT_TOL = 1e-6


def residual_usable(paths: PathSet, capacity: np.ndarray, installed: np.ndarray,
                    usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The capacity left, the usable paths and the ODs that have one.

    A link with less than ``1e-6`` of its ``installed`` capacity left counts as full (numerical
    dust); a path through a full link is unusable.

    Returns
    -------
    (capacity with full links at 0, (n_paths,) usable paths, (n_od,) ODs with a usable path).

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> cap = net.capacity.copy(); cap[net.link_ids(["S->A"])] = 1.0
    >>> r, use, has = residual_usable(ps, cap, net.capacity)   # S->A is full: S-A-T is unusable
    >>> k = ps.od_lookup[0, 3]; use[ps.od_ptr[k]:ps.od_ptr[k + 1]].tolist(), bool(has[k])
    ([False, True], True)
    """
    cap = np.asarray(capacity, dtype=float)
    cap = np.where(cap > 1e-6 * np.asarray(installed, dtype=float), cap, 0.0)
    use = np.ones(paths.n_paths, dtype=bool) if usable is None else np.asarray(usable, dtype=bool).copy()
    dead = cap <= 0
    if dead.any():
        use &= paths.usable_without(dead)
    has = paths.od_sum(use.astype(np.int64)) > 0
    return cap, use, has


class PathLP:
    """A path-flow LP over one :class:`PathSet` whose capacities, demands and usable paths change.

    Columns: ``f_p`` (one per candidate path, units of ``c0`` bit/s) and ``U``. Rows: per OD
    ``sum_{p in P(k)} f_p`` in ``[lo_k, hi_k]``; per link ``sum_{p ni l} f_p - r_l U <= 0``; one row
    ``sum_p f_p >= total_lo``. Built once; :meth:`min_mlu` and :meth:`allocate` change bounds,
    costs and the ``U`` column, and HiGHS re-solves from the previous basis.

    Parameters
    ----------
    network, paths : the network (its link order) and candidate paths.
    time_limit : seconds per HiGHS run (None: no limit).
    threads : HiGHS threads.

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> lp = PathLP(net, ps)
    >>> d = np.zeros(ps.n_od); d[ps.od_lookup[0, 3]] = 15e9
    >>> u, f = lp.min_mlu(d, net.capacity)
    >>> round(u, 6)
    0.75
    """

    def __init__(self, network: Network, paths: PathSet, *, time_limit: float | None = None,
                 threads: int | None = None):
        paths.check_network(network)
        self.network, self.paths = network, paths
        t0 = time.perf_counter()
        n_x, n_od, L = paths.n_paths, paths.n_od, network.n_links
        self.n_x, self.n_od, self.L = n_x, n_od, L
        self.c0 = float(network.capacity.mean())
        hops = paths.hops
        # column p: OD row, link rows, total row; column U: every link row (coefficient -r_l / c0)
        start = np.concatenate([[0], np.cumsum(2 + hops)])
        index = np.empty(start[-1], dtype=np.int32)
        kind = np.zeros(start[-1], dtype=np.int8)  # 0 link, 1 OD, 2 total
        kind[start[:-1]] = 1
        kind[start[1:] - 1] = 2
        index[kind == 1] = paths.path_od
        index[kind == 0] = n_od + paths.link_idx
        index[kind == 2] = n_od + L
        value = np.ones(start[-1])
        self.row_link0 = n_od
        self.row_total = n_od + L
        self.col_u = n_x
        index = np.concatenate([index, n_od + np.arange(L, dtype=np.int32)])
        value = np.concatenate([value, -network.capacity / self.c0])
        start = np.concatenate([start, [start[-1] + L]])
        inf = highs.INF
        self._lp = highs.build_lp(
            cost=np.concatenate([np.zeros(n_x), [1.0]]), lower=np.zeros(n_x + 1), upper=np.full(n_x + 1, inf),
            row_lower=np.concatenate([np.zeros(n_od), np.full(L + 1, -inf)]),
            row_upper=np.concatenate([np.zeros(n_od + L), [inf]]), start=start, index=index, value=value)
        self._opts = highs.solver_options("simplex", time_limit, threads)
        self.h = highs.load(self._lp, self._opts)
        self._r = network.capacity / self.c0  # current U coefficients (positive)
        self._twin: PathLP | None = None  # a second copy for the latency stages (keeps each basis warm)
        self._last = None
        lat = paths.latency_ms + 1e-3 * paths.cost / max(float(paths.cost.max()) if n_x else 1.0, 1.0)
        self._lat_cost = lat / max(float(lat.max()) if n_x else 1.0, 1e-12)
        self._cols = np.arange(n_x + 1, dtype=np.int32)
        self._rows = np.arange(n_od + L + 1, dtype=np.int32)
        self.build_seconds = time.perf_counter() - t0
        self.n_runs = 0

    # ------------------------------------------------------------------ low level
    def _set_capacity(self, r_scaled: np.ndarray) -> None:
        changed = np.flatnonzero(np.abs(r_scaled - self._r) > 1e-15 * np.maximum(1.0, np.abs(self._r)))
        for l in changed:
            self.h.changeCoeff(int(self.row_link0 + l), int(self.col_u), float(-r_scaled[l]))
        self._r = r_scaled.copy()

    def _run(self, what: str) -> None:
        self.n_runs += 1
        self._what = what
        highs.run(self.h, what)

    def _x(self) -> np.ndarray:
        return highs.primal(self.h, getattr(self, "_what", "the path LP"))

    def _prepare(self, demand: np.ndarray, capacity: np.ndarray, usable: np.ndarray | None):
        """Usable paths (links with capacity left), servable ODs and the scale ``s``."""
        ps = self.paths
        d = np.asarray(demand, dtype=float)
        cap = np.asarray(capacity, dtype=float)
        if d.shape != (ps.n_od,):
            raise ValidationError(f"demand has shape {d.shape}; expected ({ps.n_od},) one value per OD pair")
        if cap.shape != (self.L,):
            raise ValidationError(f"capacity has shape {cap.shape}; expected ({self.L},) one value per link")
        cap, use, has = residual_usable(ps, cap, self.network.capacity, usable)
        d_ok = np.where(has, d, 0.0)
        # scale s: a lower bound of U*, max_k d_k / sum of the bottleneck capacities of k's usable paths
        # (the most OD k could get on its paths), so that the scaled optimum is >= 1 and of order 1
        s = 0.0
        if has.any() and ps.n_paths:
            width = ps.od_sum(np.where(use, ps.path_min(cap), 0.0))
            k = has & (d_ok > 0)
            if k.any():
                s = float(np.max(d_ok[k] / width[k]))
        return d, d_ok, cap, use, has, s

    # ------------------------------------------------------------------ problems
    def min_mlu(self, demand: np.ndarray, capacity: np.ndarray, usable: np.ndarray | None = None,
                *, latency_stage: bool = False, rtol: float = 1e-7) -> tuple[float, np.ndarray]:
        """Minimum MLU of routing ``demand`` over the usable paths with link capacities ``capacity``.

        Parameters
        ----------
        demand : (n_od,) bit/s.
        capacity : (n_links,) bit/s; links with 0 are unusable (e.g. failed).
        usable : (n_paths,) bool, or None for all paths.

        Returns
        -------
        (U*, path flows in bit/s). ``U* = inf`` (and zero flows) when an OD with demand has no usable
        path; ``0`` without demand.
        """
        d, d_ok, cap, use, has, s = self._prepare(demand, capacity, usable)
        if (d[~has] > 0).any():
            return float("inf"), np.zeros(self.n_x)
        if s <= 0:
            return 0.0, np.zeros(self.n_x)
        return self._phase_min_u(d_ok, cap, use, s, latency_stage, rtol)

    def _twin_lp(self) -> "PathLP":
        """The copy that runs the latency (and max-throughput) stages: switching one model between
        objectives costs hundreds of simplex iterations each way; two models each stay warm."""
        if self._twin is None:
            t = PathLP.__new__(PathLP)
            t.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("h", "_twin")})
            t.h = highs.load(self._lp, self._opts)
            t._r = self.network.capacity / self.c0
            t._twin = None
            t._last = None
            self._twin = t
        return self._twin

    def _load(self, rhs_lo, rhs_hi, cap, use, cost, u_upper):
        """Set every bound, cost and the capacities of this model (unchanged parts are skipped)."""
        n_x, inf = self.n_x, highs.INF
        self._set_capacity(cap / self.c0)
        last = self._last
        if last is None or not np.array_equal(last[0], use):
            self.h.changeColsBounds(n_x + 1, self._cols, np.zeros(n_x + 1),
                                    np.concatenate([np.where(use, inf, 0.0), [u_upper]]))
        elif last[1] != u_upper:
            self.h.changeColBounds(n_x, 0.0, u_upper)
        lo = np.concatenate([rhs_lo, np.full(self.L + 1, -inf)])
        hi = np.concatenate([rhs_hi, np.zeros(self.L), [inf]])
        self.h.changeRowsBounds(len(self._rows), self._rows, lo, hi)
        if last is None or not np.array_equal(last[2], cost):
            self.h.changeColsCost(n_x + 1, self._cols, cost)
        self._last = (use.copy(), u_upper, cost.copy())

    def _phase_min_u(self, d_ok, cap, use, s, latency_stage, rtol):
        n_x = self.n_x
        scale = self.c0 * s
        rhs = d_ok / scale
        self._load(rhs, rhs, cap, use, np.concatenate([np.zeros(n_x), [1.0]]), highs.INF)
        self._run(f"the min-MLU path LP ({n_x} paths, {self.L} links)")
        x = self._x()
        u_scaled = float(x[-1])
        if latency_stage:
            tw = self._twin_lp()
            tw._load(rhs, rhs, cap, use, np.concatenate([self._lat_cost, [0.0]]), u_scaled * (1 + rtol) + 1e-12)
            try:
                tw._run("the latency stage of the path LP")
                x = tw._x()
            except (SolverError, InfeasibleError):
                pass
        return u_scaled * s, np.clip(x[:-1], 0.0, None) * scale

    def allocate(self, demand: np.ndarray, capacity: np.ndarray, usable: np.ndarray | None = None, *,
                 latency_stage: bool = True, rtol: float = 1e-7) -> tuple[np.ndarray, dict]:
        """One class's allocation (see the module notes, steps 1-3).

        Returns
        -------
        (path flows in bit/s, info): ``own_mlu`` (U*, in the capacity given; inf when some OD with
        demand has no usable path), ``fits``, ``concurrent`` (lambda*, 1 when it fits),
        ``served_bps``, ``demand_bps``, ``unusable_od`` (ODs with demand and no usable path),
        ``solve_seconds``.
        """
        t0 = time.perf_counter()
        d, d_ok, cap, use, has, s = self._prepare(demand, capacity, usable)
        blocked = np.flatnonzero((d > 0) & ~has)
        info = {"demand_bps": float(d.sum()), "unusable_od": blocked.tolist()}
        if s <= 0:
            info.update(own_mlu=0.0 if not len(blocked) else float("inf"), fits=not len(blocked),
                        concurrent=1.0 if not len(blocked) else 0.0, served_bps=0.0,
                        solve_seconds=time.perf_counter() - t0)
            return np.zeros(self.n_x), info
        u, x = self._phase_min_u(d_ok, cap, use, s, latency_stage, rtol)
        fits = u <= 1 + FIT_TOL
        if not fits:
            # max-throughput with every usable OD served >= lambda* d, then min latency
            n_x, inf = self.n_x, highs.INF
            lam = 1.0 / u
            scale = self.c0 * s
            rhs = d_ok / scale
            tw = self._twin_lp()
            tw._load(lam * rhs * (1 - 1e-6), rhs, cap, use, np.concatenate([np.where(use, -1.0, 0.0), [0.0]]), 1.0 / s)
            tw._run("the max-throughput stage of the class LP")
            xs = tw._x()
            total = float(xs[:-1].sum())
            if latency_stage:
                tw.h.changeRowBounds(tw.row_total, total * (1 - rtol), inf)
                tw.h.changeColsCost(n_x + 1, self._cols, np.concatenate([self._lat_cost, [0.0]]))
                try:
                    tw._run("the latency stage of the class LP")
                    xs = tw._x()
                except (SolverError, InfeasibleError):
                    pass
                tw.h.changeRowBounds(tw.row_total, -inf, inf)
                tw._last = None
            x = np.clip(xs[:-1], 0.0, None) * scale
            info["concurrent"] = lam if not len(blocked) else 0.0
        else:
            info["concurrent"] = 1.0 if not len(blocked) else 0.0
        info.update(own_mlu=float(u) if not len(blocked) else float("inf"), fits=bool(fits and not len(blocked)),
                    served_bps=float(x.sum()), solve_seconds=time.perf_counter() - t0)
        return x, info


#: One class's allocation by another solver: ``(class index, demand (n_od,), capacity left
#: (n_links,), allowed paths (n_paths,)) -> (path flows, info)``.
ClassAllocator = Callable[[int, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, dict]]


def allocate_priority(network: Network, paths: PathSet, demand: np.ndarray, allowed: np.ndarray,
                      capacity: np.ndarray | None = None, *, latency_stage: bool = True, lps: dict | None = None,
                      allocate_one: ClassAllocator | None = None,
                      time_limit: float | None = None) -> tuple[np.ndarray, list[dict]]:
    """Allocate classes in strict-priority order (see the module notes), highest class first.

    Parameters
    ----------
    network, paths : the network and candidate paths.
    demand : (C, n_od) bit/s per class and OD.
    allowed : (C, n_paths) bool, the paths each class may use.
    capacity : (n_links,) bit/s to allocate in (default: the network's capacities).
    latency_stage : run the min-latency stage of each class.
    lps : a dict to keep the LP models in between calls (re-solved from their previous basis).
    allocate_one : allocate one class with another solver instead of :meth:`PathLP.allocate`.
    time_limit : seconds per HiGHS run of the class LPs (None: no limit); a min-MLU or
        max-throughput stage stopped by it raises :class:`~surgeguard.SolverError`, a latency stage
        stopped by it keeps the routing of the stage before.

    Returns
    -------
    (path flows (C, n_paths) bit/s, one info dict per class, see :meth:`PathLP.allocate`).

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> d = np.zeros((2, ps.n_od)); d[:, ps.od_lookup[0, 3]] = [4e9, 20e9]
    >>> flows, infos = allocate_priority(net, ps, d, np.ones((2, ps.n_paths), bool))
    >>> (flows.sum(axis=1) / 1e9).round(3).tolist(), infos[1]["fits"]
    ([4.0, 16.0], False)
    """
    demand = np.asarray(demand, dtype=float)
    residual = network.capacity.astype(float) if capacity is None else np.asarray(capacity, dtype=float).copy()
    flows = np.zeros((len(demand), paths.n_paths))
    infos = []
    lps = {} if lps is None else lps
    for c in range(len(demand)):
        if allocate_one is None:
            key = ("highs", id(network), id(paths), c, time_limit)
            if key not in lps:
                if any(k[1:3] != key[1:3] or k[4:] != key[4:] for k in lps):
                    lps.clear()
                lps[key] = PathLP(network, paths, time_limit=time_limit)
            f, info = lps[key].allocate(demand[c], residual, allowed[c], latency_stage=latency_stage)
        else:
            f, info = allocate_one(c, demand[c], residual, allowed[c])
        infos.append(info)
        flows[c] = f
        residual = np.clip(residual - paths.incidence @ f, 0.0, None)
    return flows, infos
