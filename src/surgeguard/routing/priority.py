"""``priority``: traffic classes allocated in strict-priority order, as B4 and SWAN do.

B4 (Jain et al., SIGCOMM 2013) and SWAN (Hong et al., SIGCOMM 2013) allocate bandwidth class by
class, highest priority first, each class in the capacity the classes above it left. Here, for the
classes of a :class:`~surgeguard.classes.ClassConfig` (highest first) and one traffic matrix per
class:

1. Class ``c`` may use the candidate paths inside its latency bound (``ClassConfig.allowed_paths``)
   whose links all have capacity left, ``r_l = capacity_l - load of the classes above`` (a
   path through a full link is unusable; an OD with no usable path gets nothing).
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

Every LP is one model per (network, paths, class), built once with highspy's matrix API (columns:
one flow per candidate path and ``U``; rows: one per OD, one per link, one for the total served).
A new matrix, a new residual capacity or a new phase only changes bounds, costs and the ``U``
column's coefficients (``changeCoeff``), and HiGHS re-solves from the previous basis. The same
:class:`PathLP` serves capacity planning (:mod:`surgeguard.plan.capacity`) to check scenarios.

``solver="fast"`` (or any other registered min-MLU policy name, e.g. ``"optimal"``) replaces
step 2 by that policy on the residual network restricted to the class's usable paths; when the
class does not fit, its flows are scaled by ``1 / U*`` (max-concurrent flow, step 3a only: a
first-order min-MLU solver has no max-throughput stage). ``fast`` is used only when
``surgeguard.routing.fast`` is importable and registers it.

Loss model of :func:`evaluate_classes` (per class, per link): ``discipline="priority"`` is strict
priority queueing -- a class gets what the offered load of the classes above leaves of the link's
capacity, ``served fraction = min(1, max(0, c_l - higher_l) / load_cl)``; ``"fifo"`` (no QoS:
every class shares one queue) drops the same fraction ``1 - c_l / load_l`` of every class on an
overloaded link (as :func:`surgeguard.evaluate.evaluate`). Either way a path loses the largest
fraction along it, and loads are offered loads (drops upstream are not subtracted downstream).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..classes import ClassConfig, class_config
from ..exceptions import SolverError, ValidationError
from ..network import Network
from ..traffic import TrafficSeries
from ..optimise.highs import new_highs as _new_highs
from ..paths import PathSet
from .policies import Policy, get_policy, register_policy
from .routing import Routing

__all__ = ["PathLP", "ClassAllocation", "allocate_classes", "PriorityPolicy", "ClassEvaluation",
           "evaluate_classes", "ClassReplayResult", "replay_classes", "critical_services_section",
           "fast_available"]

_FIT_TOL = 1e-6
#: Warm-start the fast solver from the previous routing of the same class. Off: measured on the
#: Morocco demo, warm starts across intervals (other residual capacities) left it at its iteration
#: limit on some intervals (certified gaps of 14-27 % measured), while cold starts met its tolerance
#: (benchmarks/bench_classes.py).
FAST_WARM_START = False


def fast_available() -> bool:
    """Whether the ``fast`` solver (``surgeguard.routing.fast``) is installed."""
    return _fast_policy() is not None


def _fast_policy():
    """A ``fast`` policy object: the registered one, else ``FastTE`` from ``routing/fast.py``; None
    when neither exists."""
    from .policies import policy_names

    if "fast" in policy_names():
        return get_policy("fast")
    try:
        from .fast import FastTE  # noqa: PLC0415
    except ImportError:
        return None
    return FastTE()


# ============================================================================== the LP engine
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
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> lp = PathLP(net, ps)
    >>> d = np.zeros(ps.n_od); d[ps.od_lookup[0, 3]] = 15e9
    >>> u, f = lp.min_mlu(d, net.capacity)
    >>> round(u, 6)
    0.75
    """

    def __init__(self, network: Network, paths: PathSet, *, time_limit: float | None = None,
                 threads: int | None = None):
        import highspy

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
        inf = highspy.kHighsInf
        self._inf = inf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_x + 1, n_od + L + 1
        lp.col_cost_ = np.concatenate([np.zeros(n_x), [1.0]])
        lp.col_lower_ = np.zeros(n_x + 1)
        lp.col_upper_ = np.full(n_x + 1, inf)
        lp.row_lower_ = np.concatenate([np.zeros(n_od), np.full(L + 1, -inf)])
        lp.row_upper_ = np.concatenate([np.zeros(n_od + L), [inf]])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = start.astype(np.int32)
        lp.a_matrix_.index_ = index
        lp.a_matrix_.value_ = value
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_x + 1, n_od + L + 1
        opts = {"solver": "simplex"}
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
        if threads is not None:
            opts["threads"] = int(threads)
        self._lp, self._opts = lp, opts
        self.h = _new_highs(opts)
        self.h.passModel(lp)
        self._r = network.capacity / self.c0  # current U coefficients (positive)
        self._twin: PathLP | None = None  # a second copy for the latency stages (keeps each basis warm)
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
        import highspy

        self.n_runs += 1
        self.h.run()
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"HiGHS stopped on {what} with status '{self.h.modelStatusToString(status)}'; "
                              "raise the time limit or check the demand and capacities")

    def _x(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_value)

    def _prepare(self, demand: np.ndarray, capacity: np.ndarray, usable: np.ndarray | None):
        """Usable paths (links with capacity left), servable ODs and the scale ``s``."""
        ps = self.paths
        d = np.asarray(demand, dtype=float)
        cap = np.asarray(capacity, dtype=float)
        if d.shape != (ps.n_od,):
            raise ValidationError(f"demand has shape {d.shape}; expected ({ps.n_od},) one value per OD pair")
        if cap.shape != (self.L,):
            raise ValidationError(f"capacity has shape {cap.shape}; expected ({self.L},) one value per link")
        # a link with less than 1e-6 of its installed capacity left counts as full (numerical dust)
        cap = np.where(cap > 1e-6 * self.network.capacity, cap, 0.0)
        use = np.ones(ps.n_paths, dtype=bool) if usable is None else np.asarray(usable, dtype=bool).copy()
        dead = cap[ps.link_idx] <= 0
        if dead.any():
            seg = np.repeat(np.arange(ps.n_paths), ps.hops)
            use &= np.bincount(seg, weights=dead, minlength=ps.n_paths) == 0
        has = np.add.reduceat(use.astype(np.int64), ps.od_ptr[:-1]) > 0 if ps.n_od else np.zeros(0, bool)
        d_ok = np.where(has, d, 0.0)
        # scale s: a lower bound of U*, max_k d_k / sum of the bottleneck capacities of k's usable paths
        # (the most OD k could get on its paths), so that the scaled optimum is >= 1 and of order 1
        s = 0.0
        if has.any() and ps.n_paths:
            bott = np.minimum.reduceat(cap[ps.link_idx], ps.link_ptr[:-1])
            width = np.add.reduceat(np.where(use, bott, 0.0), ps.od_ptr[:-1])
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
        u, x = self._phase_min_u(d_ok, cap, use, s, latency_stage, rtol)
        return u, x

    def _twin_lp(self) -> "PathLP":
        """The copy that runs the latency (and max-throughput) stages: switching one model between
        objectives costs hundreds of simplex iterations each way; two models each stay warm."""
        if self._twin is None:
            t = PathLP.__new__(PathLP)
            t.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("h", "_twin")})
            t.h = _new_highs(self._opts)
            t.h.passModel(self._lp)
            t._r = self.network.capacity / self.c0
            t._twin = None
            t._last = None
            self._twin = t
        return self._twin

    def _load(self, rhs_lo, rhs_hi, cap, use, cost, u_upper):
        """Set every bound, cost and the capacities of this model (unchanged parts are skipped)."""
        n_x, inf = self.n_x, self._inf
        self._set_capacity(cap / self.c0)
        last = getattr(self, "_last", None)
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
        n_x, inf = self.n_x, self._inf
        scale = self.c0 * s
        rhs = d_ok / scale
        self._load(rhs, rhs, cap, use, np.concatenate([np.zeros(n_x), [1.0]]), inf)
        self._run(f"the min-MLU path LP ({n_x} paths, {self.L} links)")
        x = self._x()
        u_scaled = float(x[-1])
        if latency_stage:
            tw = self._twin_lp()
            tw._load(rhs, rhs, cap, use, np.concatenate([self._lat_cost, [0.0]]), u_scaled * (1 + rtol) + 1e-12)
            try:
                tw._run("the latency stage of the path LP")
                x = tw._x()
            except SolverError:
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
        u, x = self._phase_min_u(d_ok, cap, use, s, latency_stage and True, rtol)
        fits = u <= 1 + _FIT_TOL
        if not fits:
            # max-throughput with every usable OD served >= lambda* d, then min latency
            n_x, inf = self.n_x, self._inf
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
                except SolverError:
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


# ============================================================================== allocation
@dataclass(frozen=True, eq=False)
class ClassAllocation:
    """The result of allocating traffic classes in priority order.

    Attributes
    ----------
    classes : the class configuration (priority order, highest first).
    paths : the candidate paths.
    demand : (C, n_od) demand per class and OD, bit/s.
    path_flows : (C, n_paths) allocated (served) flow per class and path, bit/s.
    allowed : (C, n_paths) the paths inside each class's latency bound.
    info : one dict per class: ``own_mlu`` (the class's MLU in the capacity left to it), ``fits``,
        ``concurrent`` (max-concurrent fraction), ``served_bps``, ``solve_seconds``, ...
    """

    classes: ClassConfig
    paths: PathSet
    demand: np.ndarray
    path_flows: np.ndarray
    allowed: np.ndarray
    info: list = field(default_factory=list)

    @property
    def served(self) -> np.ndarray:
        """(C, n_od) served bit/s."""
        return np.add.reduceat(self.path_flows, self.paths.od_ptr[:-1], axis=1) if self.paths.n_od else \
            np.zeros((len(self.classes), 0))

    @property
    def lost(self) -> np.ndarray:
        """(C, n_od) demand not allocated, bit/s."""
        return np.clip(self.demand - self.served, 0.0, None)

    @property
    def link_load(self) -> np.ndarray:
        """(C, n_links) load per class, bit/s."""
        return (self.paths.incidence @ self.path_flows.T).T

    @property
    def splits(self) -> np.ndarray:
        """(C, n_paths) split ratios per class: allocated flows normalised per OD. An OD that got
        nothing keeps its lowest-latency allowed path (where the class's traffic would go)."""
        ps = self.paths
        out = np.zeros_like(self.path_flows)
        for c in range(len(self.classes)):
            f = self.path_flows[c]
            tot = np.add.reduceat(f, ps.od_ptr[:-1]) if ps.n_od else np.zeros(0)
            has = tot > 1e-12 * max(float(tot.max()) if len(tot) else 0.0, 1.0)
            frac = f / np.repeat(np.where(has, tot, 1.0), ps.paths_per_od)
            lat = np.where(self.allowed[c], ps.latency_ms, np.inf)
            best = np.minimum.reduceat(lat, ps.od_ptr[:-1]) if ps.n_od else np.zeros(0)
            is_best = lat <= best[ps.path_od]
            # first best path per OD
            idx = np.where(is_best, np.arange(ps.n_paths), ps.n_paths)
            firstp = np.minimum.reduceat(idx, ps.od_ptr[:-1])
            fb = np.zeros(ps.n_paths)
            fb[firstp] = 1.0
            out[c] = np.where(np.repeat(has, ps.paths_per_od), frac, fb)
        return out

    def class_routings(self, policy: str = "priority") -> list[Routing]:
        """One :class:`Routing` per class (its split ratios)."""
        return [Routing(self.paths, s, f"{policy}:{name}", dict(inf))
                for s, name, inf in zip(self.splits, self.classes.names, self.info)]

    def routing(self, policy: str = "priority") -> Routing:
        """The aggregate routing: per OD, the class splits weighted by class demand."""
        ps = self.paths
        sp_ = self.splits
        w = self.demand[:, ps.path_od]  # (C, n_paths)
        num = (sp_ * w).sum(axis=0)
        den = w.sum(axis=0)
        agg = np.where(den > 0, num / np.where(den > 0, den, 1.0), sp_[0])
        info = {"classes": list(self.classes.names), "allocation": self,
                "solve_seconds": float(sum(i.get("solve_seconds", 0.0) for i in self.info))}
        return Routing(ps, agg, policy, info)

    def summary(self) -> pd.DataFrame:
        """One row per class (priority order): demand, served, lost (bit/s), served share, own MLU,
        concurrent fraction, fits, served-weighted mean and max path latency (ms), latency bound."""
        ps = self.paths
        rows = []
        for c, tc in enumerate(self.classes):
            f = self.path_flows[c]
            dem = float(self.demand[c].sum())
            srv = float(f.sum())
            carrying = f > 1e-9 * max(srv, 1.0)
            rows.append({
                "class": tc.name, "priority": c, "demand_bps": dem, "served_bps": srv,
                "lost_bps": max(dem - srv, 0.0), "served_share": srv / dem if dem > 0 else 1.0,
                "own_mlu": self.info[c].get("own_mlu", float("nan")) if c < len(self.info) else float("nan"),
                "concurrent": self.info[c].get("concurrent", float("nan")) if c < len(self.info) else float("nan"),
                "fits": bool(self.info[c].get("fits", False)) if c < len(self.info) else False,
                "latency_ms_mean": float((f * ps.latency_ms).sum() / srv) if srv > 0 else float("nan"),
                "latency_ms_max": float(ps.latency_ms[carrying].max()) if carrying.any() else float("nan"),
                "bound": tc.bound_text,
            })
        return pd.DataFrame(rows)


def _od_demands(paths: PathSet, mats: np.ndarray) -> np.ndarray:
    return np.stack([paths.demand(m, what="class traffic matrix") for m in mats]) if len(mats) else \
        np.zeros((0, paths.n_od))


def allocate_classes(network: Network, paths: PathSet, traffic, classes=None, *, step: int | None = None,
                     solver: str = "highs", latency_stage: bool = True, lps: dict | None = None,
                     capacity: np.ndarray | None = None) -> ClassAllocation:
    """Allocate traffic classes in strict-priority order (see the module notes).

    Parameters
    ----------
    network, paths : the network and candidate paths.
    traffic : an (N, N) aggregate matrix (split by the configured shares), a (C, N, N) array in
        the configuration's class order, or a :class:`~surgeguard.traffic.TrafficSeries` (with
        ``step``); bit/s.
    classes : a :class:`~surgeguard.classes.ClassConfig`, a spec string, or None (the network's
        ``meta['traffic_classes']``, else the default critical / interactive / bulk).
    step : the series step when ``traffic`` is a series with several steps.
    solver : ``"highs"`` (the LPs of the module notes) or a registered min-MLU policy name
        (``"fast"`` where installed, ``"optimal"``), see the module notes.
    latency_stage : run the min-latency stage of each class.
    lps : a dict to keep the LP models in between calls (re-solved from their previous basis).
    capacity : (n_links,) bit/s to allocate in instead of the network's capacities.

    Returns
    -------
    ClassAllocation

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((3, 4, 4)); tm[0, 0, 3] = 4e9; tm[2, 0, 3] = 20e9   # critical 4G, bulk 20G
    >>> a = allocate_classes(net, ps, tm, "critical:0.1,interactive:0.3,bulk:0.6")
    >>> (a.summary()["served_bps"] / 1e9).round(3).tolist()
    [4.0, 0.0, 16.0]
    """
    paths.check_network(network)
    cfg = class_config(classes, network)
    mats = cfg.class_matrices(traffic, step)
    if isinstance(traffic, TrafficSeries):
        if tuple(traffic.nodes) != tuple(network.node_names):
            traffic = traffic.reorder(network.node_names)
            mats = cfg.class_matrices(traffic, step)
    if mats.shape[-1] != network.n_nodes:
        raise ValidationError(
            f"class traffic is {mats.shape[-1]}x{mats.shape[-1]} but network {network.name!r} has {network.n_nodes} nodes")
    demand = _od_demands(paths, mats)
    allowed, relaxed = cfg.allowed_paths(paths)
    cap = network.capacity.astype(float) if capacity is None else np.asarray(capacity, dtype=float)
    residual = cap.copy()
    flows = np.zeros((len(cfg), paths.n_paths))
    infos = []
    lps = {} if lps is None else lps
    for c, tc in enumerate(cfg.classes):
        if solver == "highs":
            key = ("highs", id(network), id(paths), c)
            if key not in lps:
                lps.clear() if any(k[1:3] != key[1:3] for k in lps) else None
                lps[key] = PathLP(network, paths)
            f, info = lps[key].allocate(demand[c], residual, allowed[c], latency_stage=latency_stage)
        else:
            f, info = _allocate_with_policy(network, paths, demand[c], residual, allowed[c], solver, lps, c)
        info["class"] = tc.name
        info["bound_relaxed_od"] = relaxed[c]
        infos.append(info)
        flows[c] = f
        load = paths.incidence @ f
        residual = np.clip(residual - load, 0.0, None)
    return ClassAllocation(cfg, paths, demand, flows, allowed, infos)


def _allocate_with_policy(network, paths, d, residual, allowed, solver, cache, class_index=0):
    """One class with a min-MLU policy (``fast``, ``optimal``) on the residual network."""
    t0 = time.perf_counter()
    key = ("policy", solver)
    if key not in cache:
        if solver == "fast":
            pol = _fast_policy()
            if pol is None:
                raise ValidationError("solver 'fast' is not available (surgeguard.routing.fast is not installed); "
                                      "use solver='highs'")
        else:
            pol = get_policy(solver)
        cache[key] = pol
    pol = cache[key]
    cap = network.capacity
    r = np.where(residual > 1e-6 * cap, residual, 0.0)
    use = allowed.copy()
    dead = r[paths.link_idx] <= 0
    if dead.any():
        seg = np.repeat(np.arange(paths.n_paths), paths.hops)
        use &= np.bincount(seg, weights=dead, minlength=paths.n_paths) == 0
    has = np.add.reduceat(use.astype(np.int64), paths.od_ptr[:-1]) > 0
    blocked = np.flatnonzero((d > 0) & ~has)
    info = {"demand_bps": float(d.sum()), "unusable_od": blocked.tolist(), "solver": solver}
    keep_od = has & (d > 0)
    x = np.zeros(paths.n_paths)
    if not keep_od.any():
        info.update(own_mlu=0.0 if not len(blocked) else float("inf"), fits=not len(blocked),
                    concurrent=1.0 if not len(blocked) else 0.0, served_bps=0.0,
                    solve_seconds=time.perf_counter() - t0)
        return x, info
    # links with nothing left carry nothing (their paths are not usable); giving them their installed
    # capacity instead of ~0 keeps a first-order solver's dual prices well scaled
    net_r = network.with_capacity(np.where(r > 0, r, cap))
    tm = np.zeros((network.n_nodes,) * 2)
    kod = np.flatnonzero(keep_od)
    tm[paths.od_src[kod], paths.od_dst[kod]] = d[kod]
    if solver == "fast" and hasattr(pol, "tol"):
        # the fast solver takes the usable paths as a mask over the whole path set (its operator is
        # cached per path set) and warm-starts from this class's previous routing
        from .fast import solve_fast

        wkey = ("fast-warm", class_index)
        warm = cache.get(wkey) if FAST_WARM_START else None
        splits, finfo = solve_fast(net_r, paths, tm, path_mask=use, warm=warm, tol=getattr(pol, "tol", 0.005),
                                   max_iter=getattr(pol, "max_iter", 1000), device=getattr(pol, "device", "auto"))
        cache[wkey] = Routing(paths, splits, "fast", finfo)
        routing_info = finfo
        f_all = splits * d[paths.path_od] * keep_od[paths.path_od]
        sub, f = paths, f_all
        pidx = np.arange(paths.n_paths)
    else:
        # the sub-path set: usable paths of servable ODs on the residual network
        sub = paths.subset(use, ods=kod)
        pidx = np.flatnonzero(use & np.isin(paths.path_od, kod))
        routing = pol.route(net_r, sub, tm)
        routing_info = routing.info
        f = routing.splits * d[kod][sub.path_od]
    load = sub.incidence @ f
    u = float(np.max(load / np.where(r > 0, r, np.inf)))
    fits = u <= 1 + _FIT_TOL
    if not fits:
        f = f / u
    x[pidx] = f
    info.update(own_mlu=u if not len(blocked) else float("inf"), fits=bool(fits and not len(blocked)),
                concurrent=(1.0 if fits else 1.0 / u) if not len(blocked) else 0.0, served_bps=float(x.sum()),
                solve_seconds=time.perf_counter() - t0, gap=routing_info.get("gap"))
    return x, info


# ============================================================================== the policy
class PriorityPolicy(Policy):
    """Strict-priority class allocation (B4 / SWAN) as a routing policy.

    Parameters
    ----------
    classes : a :class:`~surgeguard.classes.ClassConfig` or spec; None: the network's or the default.
    solver : ``"highs"`` or a registered min-MLU policy name (``"fast"`` where installed).
    latency_stage : run the min-latency stage of each class.

    ``route`` splits an aggregate matrix by the configured shares (or takes (C, N, N) class
    matrices); ``decide`` uses the class axis of the last observed step when the history has one.
    The returned :class:`Routing` is the aggregate (class splits weighted by class demand); its
    ``info['allocation']`` is the :class:`ClassAllocation` with the per-class splits.
    """

    name = "priority"

    def __init__(self, classes=None, solver: str = "highs", latency_stage: bool = True):
        self.classes = classes
        self.solver = solver
        self.latency_stage = latency_stage

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        if not hasattr(self, "lps_"):
            self.lps_ = {}
        alloc = allocate_classes(network, paths, tm, self.classes, solver=self.solver,
                                 latency_stage=self.latency_stage, lps=self.lps_)
        r = alloc.routing(self.name)
        loads = alloc.link_load.sum(axis=0)
        r.info["mlu"] = float((loads / network.capacity).max()) if network.n_links else 0.0
        r.info["served_share"] = [float(x) for x in alloc.summary()["served_share"]]
        return r

    def decide(self, network, paths, history, *, warm=None) -> Routing:
        if len(history) == 0:
            return get_policy(self.fallback).route(network, paths, np.zeros((network.n_nodes,) * 2))
        cfg = class_config(self.classes, network)
        mats = cfg.class_matrices(history.reorder(network.node_names), len(history) - 1)
        return self.route(network, paths, mats, warm=warm)


register_policy("priority", PriorityPolicy)


# ============================================================================== evaluation
@dataclass(frozen=True, eq=False)
class ClassEvaluation:
    """What per-class routings do to per-class traffic (see the module notes for the loss model).

    Attributes
    ----------
    classes : class names, priority order.
    discipline : ``"priority"`` (strict priority queues) or ``"fifo"`` (one queue).
    demand_bps, lost_bps : (C,) per class, bit/s.
    latency_ms_mean : (C,) demand-weighted mean path latency of each class, ms.
    latency_ms_max : (C,) largest latency of a path carrying the class, ms.
    link_load : (C, n_links) offered load per class, bit/s.
    util : (n_links,) total utilisation; ``mlu`` its maximum.
    """

    classes: tuple[str, ...]
    discipline: str
    demand_bps: np.ndarray
    lost_bps: np.ndarray
    latency_ms_mean: np.ndarray
    latency_ms_max: np.ndarray
    link_load: np.ndarray
    util: np.ndarray
    mlu: float

    @property
    def served_bps(self) -> np.ndarray:
        return self.demand_bps - self.lost_bps

    @property
    def served_share(self) -> np.ndarray:
        return np.where(self.demand_bps > 0, self.served_bps / np.where(self.demand_bps > 0, self.demand_bps, 1.0), 1.0)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"class": list(self.classes), "demand_bps": self.demand_bps, "lost_bps": self.lost_bps,
                             "served_share": self.served_share, "latency_ms_mean": self.latency_ms_mean,
                             "latency_ms_max": self.latency_ms_max})


def evaluate_classes(network: Network, routings, traffic, classes=None, *, discipline: str = "priority",
                     step: int | None = None) -> ClassEvaluation:
    """Evaluate per-class routings on per-class traffic.

    Parameters
    ----------
    network : the network.
    routings : a :class:`ClassAllocation` (its per-class splits), a list of one :class:`Routing` per
        class, or one :class:`Routing` used for every class (a class-unaware policy).
    traffic : (C, N, N) bit/s in the configuration's order, an (N, N) matrix (split by shares) or a
        :class:`TrafficSeries` with ``step``.
    classes : the class configuration (default: the allocation's, else the network's or the default).
    discipline : ``"priority"`` or ``"fifo"`` (see the module notes).

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths, Routing
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((2, 4, 4)); tm[0, 0, 3] = 5e9; tm[1, 0, 3] = 10e9   # 15G on one 10G route
    >>> cfg = "critical:0.5,bulk:0.5"
    >>> ev = evaluate_classes(net, Routing.first_path(ps), tm, cfg, discipline="fifo")
    >>> (ev.lost_bps / 1e9).round(3).tolist()
    [1.667, 3.333]
    >>> ev = evaluate_classes(net, Routing.first_path(ps), tm, cfg, discipline="priority")
    >>> (ev.lost_bps / 1e9).round(3).tolist()
    [0.0, 5.0]
    """
    if discipline not in ("priority", "fifo"):
        raise ValidationError(f"discipline {discipline!r} must be 'priority' or 'fifo'")
    if isinstance(routings, ClassAllocation):
        cfg = routings.classes if classes is None else class_config(classes, network)
        splits = routings.splits
        ps = routings.paths
    else:
        cfg = class_config(classes, network)
        if isinstance(routings, Routing):
            routings = [routings] * len(cfg)
        if len(routings) != len(cfg):
            raise ValidationError(f"{len(routings)} routings for {len(cfg)} classes {list(cfg.names)}; give one per class")
        ps = routings[0].paths
        splits = np.stack([r.splits for r in routings])
    ps.check_network(network)
    if isinstance(traffic, TrafficSeries) and tuple(traffic.nodes) != tuple(network.node_names):
        traffic = traffic.reorder(network.node_names)
    mats = cfg.class_matrices(traffic, step)
    d = _od_demands(ps, mats)  # (C, n_od)
    flows = splits * d[:, ps.path_od]  # (C, n_paths)
    R = ps.incidence
    load = (R @ flows.T).T  # (C, L)
    cap = network.capacity
    total = load.sum(axis=0)
    if discipline == "fifo":
        frac = np.where(total > cap, 1.0 - cap / np.where(total > 0, total, 1.0), 0.0)
        link_frac = np.broadcast_to(frac, load.shape)
    else:
        higher = np.cumsum(load, axis=0) - load
        avail = np.clip(cap[None] - higher, 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            served = np.where(load > 0, np.minimum(1.0, avail / np.where(load > 0, load, 1.0)), 1.0)
        link_frac = 1.0 - served
    C = len(cfg)
    lost = np.zeros(C)
    lat_mean = np.full(C, np.nan)
    lat_max = np.full(C, np.nan)
    for c in range(C):
        pf = np.maximum.reduceat(link_frac[c][ps.link_idx], ps.link_ptr[:-1]) if ps.n_paths else np.zeros(0)
        lost[c] = float((flows[c] * pf).sum())
        tot = flows[c].sum()
        if tot > 0:
            lat_mean[c] = float((flows[c] * ps.latency_ms).sum() / tot)
            lat_max[c] = float(ps.latency_ms[flows[c] > 1e-9 * tot].max())
    util = total / cap
    return ClassEvaluation(tuple(cfg.names), discipline, d.sum(axis=1), lost, lat_mean, lat_max, load, util,
                           float(util.max()) if len(util) else 0.0)


# ============================================================================== replay
#: Policies :func:`replay_classes` knows: priority (decides on the previous interval), its
#: oracle on the actual interval, shortest paths with one FIFO queue, shortest paths with strict
#: priority queues, and the min-MLU LP of the previous interval with one FIFO queue.
CLASS_REPLAY_POLICIES = ("priority", "priority-oracle", "shortest", "shortest+pq", "optimal")


@dataclass(eq=False)
class ClassReplayResult:
    """Per step, policy and class: demand, served, lost and latency.

    Attributes
    ----------
    steps : long frame: step, time, policy, class, demand_bps, lost_bps, served_share,
        latency_ms_mean, latency_ms_max, carriable (the class fits in the interval, given the
        classes above it: the priority allocation on the actual matrix serves it in full),
        decision_seconds.
    classes : the configuration.
    step_seconds : the series' step (for bits).
    """

    steps: pd.DataFrame
    classes: ClassConfig
    step_seconds: float
    meta: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Per policy and class: demand and lost bits, lost share, intervals with loss, intervals
        where the class was carriable and those among them fully served, latency statistics."""
        out: dict = {}
        dt = self.step_seconds
        for (pol, cls), g in self.steps.groupby(["policy", "class"], sort=False):
            lost = g["lost_bps"].to_numpy(float)
            dem = g["demand_bps"].to_numpy(float)
            carr = g["carriable"].to_numpy(bool)
            full = lost <= 1e-6 * np.maximum(dem, 1.0)
            out.setdefault(pol, {})[cls] = {
                "intervals": int(len(g)),
                "demand_bits": float(dem.sum() * dt), "lost_bits": float(lost.sum() * dt),
                "lost_share": float(lost.sum() / max(dem.sum(), 1e-300)),
                "intervals_with_loss": int((~full).sum()),
                "intervals_carriable": int(carr.sum()),
                "carriable_fully_served": int((full & carr).sum()),
                "served_in_every_carriable_interval": bool((full | ~carr).all()),
                "min_served_share": float(g["served_share"].min()),
                "latency_ms_mean": float(np.nanmean(g["latency_ms_mean"])) if g["latency_ms_mean"].notna().any() else float("nan"),
                "latency_ms_max": float(np.nanmax(g["latency_ms_max"])) if g["latency_ms_max"].notna().any() else float("nan"),
                "decision_seconds_mean": float(g["decision_seconds"].mean()),
            }
        return {"policies": out, "classes": list(self.classes.names), "step_seconds": dt,
                "class_spec": self.classes.to_spec(), **self.meta}


def replay_classes(network: Network, paths: PathSet, series: TrafficSeries, classes=None, *,
                   policies: Sequence[str] = ("priority", "shortest", "shortest+pq"), start: int = 0,
                   stop: int | None = None, stride: int = 1, latency_stage: bool = True,
                   progress: bool | None = None) -> ClassReplayResult:
    """Replay a series class by class (see :data:`CLASS_REPLAY_POLICIES`).

    At step ``t``: the priority allocation of the actual matrix is always computed (it says whether
    each class is carriable, and is ``priority-oracle``); ``priority`` routes each class with the
    allocation of step ``t - 1`` (what a controller knows) and is judged on step ``t`` with strict
    priority queues; ``shortest`` is IGP/ECMP with one FIFO queue, ``shortest+pq`` the same
    routing with strict priority queues, ``optimal`` the min-MLU LP of step ``t - 1`` with one
    FIFO queue.

    Parameters
    ----------
    series : traffic with a class axis (mapped by members) or without (split by shares).
    classes : the configuration (default: the network's or :data:`~surgeguard.classes.DEFAULT_CLASSES`).
    start, stop, stride : steps ``start, start + stride, ... < stop``.
    latency_stage : the min-latency stage of each class LP (off: about half the time).

    Returns
    -------
    ClassReplayResult
    """
    from .optimal import Optimal
    from .shortest import ShortestPath

    paths.check_network(network)
    cfg = class_config(classes, network)
    series = series.reorder(network.node_names)
    stop = len(series) if stop is None else stop
    if not 0 <= start < stop <= len(series):
        raise ValidationError(f"replay range {start}..{stop} is outside the series' {len(series)} steps")
    if int(stride) != stride or stride < 1:
        raise ValidationError(f"stride={stride!r} must be an integer >= 1")
    bad = [p for p in policies if p not in CLASS_REPLAY_POLICIES]
    if bad:
        raise ValidationError(f"unknown class-replay policies {bad}; choose from {list(CLASS_REPLAY_POLICIES)}")
    lps: dict = {}
    sp_routing = ShortestPath().route(network, paths, None)
    opt = Optimal() if "optimal" in policies else None
    rows = []
    prev_alloc, prev_t = None, None
    it = range(start, stop, int(stride))
    try:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="class replay", unit="step", leave=False,
                  disable=(progress is False) if progress is not None else None)
    except ImportError:  # pragma: no cover
        pass
    t_all = time.perf_counter()
    for t in it:
        mats = cfg.class_matrices(series, t)
        t0 = time.perf_counter()
        alloc = allocate_classes(network, paths, mats, cfg, latency_stage=latency_stage, lps=lps)
        sec_alloc = time.perf_counter() - t0
        carriable = [bool(i.get("fits", False)) for i in alloc.info]
        evs: dict[str, tuple[ClassEvaluation, float]] = {}
        if "priority-oracle" in policies:
            evs["priority-oracle"] = (evaluate_classes(network, alloc, mats, cfg, discipline="priority"), sec_alloc)
        if "priority" in policies:
            if t == 0:
                dec, sec = None, 0.0
            elif prev_t == t - 1:
                dec, sec = prev_alloc, prev_sec
            else:
                t1 = time.perf_counter()
                dec = allocate_classes(network, paths, cfg.class_matrices(series, t - 1), cfg,
                                       latency_stage=latency_stage, lps=lps)
                sec = time.perf_counter() - t1
            if dec is None:  # no history: shortest paths with priority queues
                evs["priority"] = (evaluate_classes(network, sp_routing, mats, cfg, discipline="priority"), 0.0)
            else:
                evs["priority"] = (evaluate_classes(network, dec, mats, cfg, discipline="priority"), sec)
        if "shortest" in policies:
            evs["shortest"] = (evaluate_classes(network, sp_routing, mats, cfg, discipline="fifo"), 0.0)
        if "shortest+pq" in policies:
            evs["shortest+pq"] = (evaluate_classes(network, sp_routing, mats, cfg, discipline="priority"), 0.0)
        if opt is not None:
            t1 = time.perf_counter()
            r = opt.decide(network, paths, series.window(0, t))
            evs["optimal"] = (evaluate_classes(network, r, mats, cfg, discipline="fifo"), time.perf_counter() - t1)
        for pol in policies:
            ev, sec = evs[pol]
            for c, name in enumerate(cfg.names):
                rows.append({"step": t, "time": series.times[t], "policy": pol, "class": name,
                             "demand_bps": float(ev.demand_bps[c]), "lost_bps": float(ev.lost_bps[c]),
                             "served_share": float(ev.served_share[c]),
                             "latency_ms_mean": float(ev.latency_ms_mean[c]),
                             "latency_ms_max": float(ev.latency_ms_max[c]),
                             "carriable": carriable[c], "decision_seconds": sec, "mlu": ev.mlu})
        prev_alloc, prev_t, prev_sec = alloc, t, sec_alloc
    steps = pd.DataFrame(rows)
    step = series.step
    return ClassReplayResult(steps, cfg, step.total_seconds() * stride if step is not None else 0.0,
                             {"seconds": time.perf_counter() - t_all, "stride": int(stride),
                              "start": int(start), "stop": int(stop)})


# ============================================================================== report section
def critical_services_section(result: ClassReplayResult, *, protected: str | None = None,
                              lockdown_start=None) -> tuple[str, str]:
    """The demo report's "Critical services" section: ``(heading, html)``, self-contained.

    Parameters
    ----------
    result : a :func:`replay_classes` result.
    protected : the class the text is about (default: the highest-priority class).
    lockdown_start : UTC timestamp drawn as a marker on the chart (optional).
    """
    from html import escape

    cfg = result.classes
    protected = protected or cfg.names[0]
    summ = result.summary()["policies"]
    pols = list(summ)
    labels = {"priority": "priority (B4/SWAN, previous interval)", "priority-oracle": "priority on the actual interval",
              "shortest": "shortest paths, one FIFO queue", "shortest+pq": "shortest paths, strict-priority queues",
              "optimal": "min-MLU LP, one FIFO queue"}
    head = ("<tr><th>policy</th><th>class</th><th>latency bound</th><th>demand (Tbit)</th><th>lost (Tbit)</th>"
            "<th>lost share</th><th>intervals with loss</th><th>fully served when carriable</th>"
            "<th>mean latency (ms)</th><th>max latency (ms)</th></tr>")
    body = []
    for pol in pols:
        for name in cfg.names:
            s = summ[pol][name]
            ok = s["carriable_fully_served"], s["intervals_carriable"]
            body.append(
                f"<tr><td>{escape(labels.get(pol, pol))}</td><td>{escape(name)}</td>"
                f"<td>{escape(cfg.get(name).bound_text)}</td>"
                f"<td>{s['demand_bits'] / 1e12:,.1f}</td><td>{s['lost_bits'] / 1e12:,.3f}</td>"
                f"<td>{100 * s['lost_share']:.3f}%</td><td>{s['intervals_with_loss']}</td>"
                f"<td>{ok[0]} / {ok[1]}</td><td>{s['latency_ms_mean']:.2f}</td><td>{s['latency_ms_max']:.2f}</td></tr>")
    pr = summ.get("priority", {}).get(protected)
    sh = summ.get("shortest", {}).get(protected)
    lines = []
    if pr is not None:
        lines.append(
            f"With priority allocation, <b>{escape(protected)}</b> traffic was fully served in "
            f"{pr['carriable_fully_served']} of the {pr['intervals_carriable']} intervals where the network could "
            f"carry it ({pr['intervals']} intervals in all); lost share {100 * pr['lost_share']:.4f}%.")
    if sh is not None:
        lines.append(
            f"With shortest paths and no QoS it lost traffic in {sh['intervals_with_loss']} intervals "
            f"({sh['lost_bits'] / 1e12:,.3f} Tbit, {100 * sh['lost_share']:.4f}%).")
    intro = ("<p class=\"sub\">Classes in strict priority, highest first: "
             + ", ".join(f"<b>{escape(c.name)}</b> ({escape(c.description or c.bound_text)}; latency bound "
                         f"{escape(c.bound_text)})" for c in cfg.classes)
             + ". The priority policy allocates each class in the capacity the classes above leave (B4/SWAN, "
               "SIGCOMM 2013): min-MLU within its latency bound, or, when it does not fit, max-concurrent then "
               "max-throughput. Losses: strict-priority queues for the priority policies and shortest+pq, one FIFO "
               "queue for the others.</p>")
    chart = _served_chart(result, protected, lockdown_start)
    html = (intro + "<p>" + " ".join(lines) + "</p>" + chart
            + f'<div class="table-wrap"><table class="data"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table></div>'
            + f'<p class="sub">Class spec: <code>{escape(cfg.to_spec())}</code>; {len(result.steps["step"].unique())} '
              f"intervals of {result.step_seconds / 60:g} min; computed in {result.meta.get('seconds', float('nan')):.1f} s.</p>")
    return "Critical services", html


def _served_chart(result: ClassReplayResult, protected: str, lockdown_start) -> str:
    """Served share of the protected class over time per policy (inline SVG), or '' without the
    report's chart helper."""
    try:
        from ..report.svg import Line, line_chart_svg
    except ImportError:  # pragma: no cover - the report package is optional here
        return ""
    st = result.steps[result.steps["class"] == protected]
    colours = {"priority": "#2f9e44", "priority-oracle": "#000000", "shortest": "#e03131", "shortest+pq": "#1c7ed6",
               "optimal": "#7048e8"}
    lines = []
    times = None
    for pol, g in st.groupby("policy", sort=False):
        g = g.sort_values("step")
        times = g["time"]
        lines.append(Line(name=pol, values=100 * g["served_share"].to_numpy(float),
                          color=colours.get(pol, "#495057")))
    if times is None:
        return ""
    import inspect

    kw = {}
    params = inspect.signature(line_chart_svg).parameters
    if lockdown_start is not None and "vlines" in params:
        kw["vlines"] = [(pd.Timestamp(lockdown_start), "lockdown")]
    lo = float(min(100 * st["served_share"].min(), 99.0))
    try:
        return line_chart_svg(times, lines, y_label=f"{protected} served (%)", y_min=max(0.0, lo - 1), y_max=100.5,
                              y_fmt="{:.1f}", chart_id="critical-served", height=260, **kw)
    except TypeError:  # pragma: no cover - a changed helper signature: leave the chart out
        return ""
