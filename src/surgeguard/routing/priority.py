"""``priority``: traffic classes allocated in strict-priority order, as B4 and SWAN do.

For the classes of a :class:`~surgeguard.classes.ClassConfig` (highest first) and one traffic
matrix per class, each class may use the candidate paths inside its latency bound
(``ClassConfig.allowed_paths``) and is allocated in the capacity the classes above it left: the
LPs of :mod:`surgeguard.optimise.classes` (min own-MLU, then min latency when it fits;
max-concurrent, max-throughput and min latency when it does not).

``solver="fast"`` (or any other registered min-MLU policy name, e.g. ``"optimal"``) replaces the
min own-MLU LP by that policy on the residual network restricted to the class's usable paths;
when the class does not fit, its flows are scaled by ``1 / U*`` (max-concurrent flow only: a
first-order min-MLU solver has no max-throughput stage).

How per-class routings are judged (strict-priority or FIFO queues) is
:mod:`surgeguard.evaluate.classes`.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from ..classes import ClassConfig, class_config, class_od_demands
from ..exceptions import ValidationError
from ..network import Network
from ..optimise.classes import FIT_TOL, allocate_priority, residual_usable
from ..paths import PathSet
from ..traffic import TrafficSeries
from ..validation import Boolean, InstanceOf, NoneOr
from ..optimise.first_order import solve_fast
from .policies import POLICIES, TIME_LIMIT, Policy, get_policy, policy_accepts, register_policy
from .routing import Routing

__all__ = ["ClassAllocation", "allocate_classes", "PriorityPolicy", "fast_available", "FAST_WARM_START"]

#: Warm-start the fast solver from the previous routing of the same class. Off: measured on the
#: Morocco demo, warm starts across intervals (other residual capacities) left it at its iteration
#: limit on some intervals (certified gaps of 14-27 % measured), while cold starts met its tolerance
#: (benchmarks/bench_classes.py).
FAST_WARM_START = False


def fast_available() -> bool:
    """Whether the ``fast`` solver can run: it is registered and PyTorch is installed."""
    return "fast" in POLICIES and importlib.util.find_spec("torch") is not None


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
        return self.paths.od_sum(self.path_flows)

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
            tot = ps.od_sum(f)
            has = tot > 1e-12 * max(float(tot.max()) if len(tot) else 0.0, 1.0)
            frac = f / np.repeat(np.where(has, tot, 1.0), ps.paths_per_od)
            lat = np.where(self.allowed[c], ps.latency_ms, np.inf)
            is_best = lat <= ps.od_min(lat)[ps.path_od]
            # first best path per OD
            firstp = ps.od_min(np.where(is_best, np.arange(ps.n_paths), ps.n_paths))
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


def allocate_classes(network: Network, paths: PathSet, traffic, classes=None, *, step: int | None = None,
                     solver: str = "highs", latency_stage: bool = True, lps: dict | None = None,
                     capacity: np.ndarray | None = None, time_limit: float | None = None) -> ClassAllocation:
    """Allocate traffic classes in strict-priority order (:func:`surgeguard.optimise.classes.allocate_priority`).

    Parameters
    ----------
    network, paths : the network and candidate paths.
    traffic : an (N, N) aggregate matrix (split by the configured shares), a (C, N, N) array in
        the configuration's class order, or a :class:`~surgeguard.traffic.TrafficSeries` (with
        ``step``); bit/s.
    classes : a :class:`~surgeguard.classes.ClassConfig`, a spec string, or None (the network's
        ``meta['traffic_classes']``, else the default critical / interactive / bulk).
    step : the series step when ``traffic`` is a series with several steps.
    solver : ``"highs"`` (the LPs of :mod:`surgeguard.optimise.classes`) or a registered min-MLU
        policy name (``"fast"`` where installed, ``"optimal"``), see the module notes.
    latency_stage : run the min-latency stage of each class.
    lps : a dict to keep the LP models in between calls (re-solved from their previous basis).
    capacity : (n_links,) bit/s to allocate in instead of the network's capacities.
    time_limit : seconds per solve (None: no limit): per HiGHS run of the class LPs (stopped
        without an optimum: :class:`~surgeguard.SolverError`), or passed to the ``solver`` policy.

    Returns
    -------
    ClassAllocation

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((3, 4, 4)); tm[0, 0, 3] = 4e9; tm[2, 0, 3] = 20e9   # critical 4G, bulk 20G
    >>> a = allocate_classes(net, ps, tm, "critical:0.1,interactive:0.3,bulk:0.6")
    >>> (a.summary()["served_bps"] / 1e9).round(3).tolist()
    [4.0, 0.0, 16.0]
    """
    paths.check_network(network)
    cfg = class_config(classes, network)
    if isinstance(traffic, TrafficSeries) and tuple(traffic.nodes) != tuple(network.node_names):
        traffic = traffic.reorder(network.node_names)
    mats = cfg.class_matrices(traffic, step)
    if mats.shape[-1] != network.n_nodes:
        raise ValidationError(
            f"class traffic is {mats.shape[-1]}x{mats.shape[-1]} but network {network.name!r} has {network.n_nodes} nodes")
    demand = class_od_demands(paths, mats)
    allowed, relaxed = cfg.allowed_paths(paths)
    lps = {} if lps is None else lps
    allocate_one = None if solver == "highs" else partial(_allocate_with_policy, network, paths, solver, lps,
                                                          time_limit)
    flows, infos = allocate_priority(network, paths, demand, allowed, capacity, latency_stage=latency_stage,
                                     lps=lps, allocate_one=allocate_one, time_limit=time_limit)
    for c, tc in enumerate(cfg.classes):
        infos[c]["class"] = tc.name
        infos[c]["bound_relaxed_od"] = relaxed[c]
    return ClassAllocation(cfg, paths, demand, flows, allowed, infos)


def _allocate_with_policy(network, paths, solver, cache, time_limit, class_index, d, residual, allowed):
    """One class with a min-MLU policy (``fast``, ``optimal``) on the residual network (the
    ``allocate_one`` of :func:`~surgeguard.optimise.classes.allocate_priority`)."""
    t0 = time.perf_counter()
    key = ("policy", solver, time_limit)
    if key not in cache:
        if solver == "fast" and not fast_available():
            raise ValidationError("solver 'fast' is not available (it needs PyTorch); use solver='highs'")
        opts = {"time_limit": time_limit} if time_limit is not None and policy_accepts(solver, "time_limit") else {}
        cache[key] = get_policy(solver, **opts)
    pol = cache[key]
    cap = network.capacity
    r, use, has = residual_usable(paths, residual, cap, allowed)
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
        wkey = ("fast-warm", class_index)
        warm = cache.get(wkey) if FAST_WARM_START else None
        splits, finfo = solve_fast(net_r, paths, tm, path_mask=use, warm=warm, tol=getattr(pol, "tol", 0.005),
                                   max_iter=getattr(pol, "max_iter", 1000), device=getattr(pol, "device", "auto"),
                                   time_limit=time_limit)
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
    fits = u <= 1 + FIT_TOL
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
    time_limit : seconds per solve (None: no limit). A class LP stopped by it without an optimum
        raises :class:`~surgeguard.SolverError` (no partial allocation is returned); with
        ``solver="fast"`` the best routing so far is used, its ``gap`` in the class's info.

    ``route`` splits an aggregate matrix by the configured shares (or takes (C, N, N) class
    matrices); ``decide`` uses the class axis of the last observed step when the history has one.
    The returned :class:`Routing` is the aggregate (class splits weighted by class demand); its
    ``info['allocation']`` is the :class:`ClassAllocation` with the per-class splits.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((4, 4)); tm[0, 3] = 15e9
    >>> r = PriorityPolicy(classes="critical:0.2,bulk:0.8").route(net, ps, tm)
    >>> round(r.info["mlu"], 3), r.info["served_share"]
    (0.75, [1.0, 1.0])
    >>> PriorityPolicy(latency_stage="yes").route(net, ps, tm)
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: The 'latency_stage' parameter of PriorityPolicy must be a bool. Got 'yes' instead.
    """

    name = "priority"
    _parameter_constraints = {
        "classes": [NoneOr(), InstanceOf(ClassConfig, str, list, tuple)],
        "solver": [InstanceOf(str)],
        "latency_stage": [Boolean()],
        "time_limit": TIME_LIMIT,
    }

    def __init__(self, classes=None, solver: str = "highs", latency_stage: bool = True,
                 time_limit: float | None = None):
        self.classes = classes
        self.solver = solver
        self.latency_stage = latency_stage
        self.time_limit = time_limit

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        self.validate()
        if not hasattr(self, "lps_"):
            self.lps_ = {}
        alloc = allocate_classes(network, paths, tm, self.classes, solver=self.solver,
                                 latency_stage=self.latency_stage, lps=self.lps_, time_limit=self.time_limit)
        r = alloc.routing(self.name)
        loads = alloc.link_load.sum(axis=0)
        r.info["mlu"] = float((loads / network.capacity).max()) if network.n_links else 0.0
        r.info["served_share"] = [float(x) for x in alloc.summary()["served_share"]]
        return r

    def decide(self, network, paths, history, *, warm=None) -> Routing:
        self.validate()
        if len(history) == 0:
            return get_policy(self.fallback).route(network, paths, np.zeros((network.n_nodes,) * 2))
        cfg = class_config(self.classes, network)
        mats = cfg.class_matrices(history.reorder(network.node_names), len(history) - 1)
        return self.route(network, paths, mats, warm=warm)


register_policy("priority", PriorityPolicy)
