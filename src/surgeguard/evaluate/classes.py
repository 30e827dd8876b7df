"""Traffic classes judged class by class: per-class losses and latency, and a class-aware replay.

Loss model of :func:`evaluate_classes` (per class, per link), the one of
:func:`~surgeguard.evaluate.metrics.link_loss_fraction` applied to what each class can use:
``discipline="priority"`` is strict priority queueing -- a class gets what the offered load of
the classes above leaves of the link's capacity, so it loses ``1 - max(0, c_l - higher_l) /
load_cl`` when its load exceeds that; ``"fifo"`` (no QoS: every class shares one queue) drops the
same fraction ``1 - c_l / load_l`` of every class on an overloaded link (as
:func:`surgeguard.evaluate.evaluate`). Either way a path loses the largest fraction along it
(:func:`~surgeguard.evaluate.metrics.path_loss_fraction`), and loads are offered loads (drops
upstream are not subtracted downstream).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..classes import ClassConfig, class_config, class_od_demands
from ..exceptions import ValidationError
from ..network import Network
from ..paths import PathSet
from ..routing.optimal import Optimal
from ..routing.priority import ClassAllocation, allocate_classes
from ..routing.routing import Routing
from ..routing.shortest import ShortestPath
from ..traffic import TrafficSeries
from .metrics import path_loss_fraction
from .replay import replay_steps

__all__ = ["ClassEvaluation", "evaluate_classes", "ClassReplayResult", "replay_classes", "CLASS_REPLAY_POLICIES"]


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
    routings : a :class:`~surgeguard.routing.priority.ClassAllocation` (its per-class splits), a
        list of one :class:`Routing` per class, or one :class:`Routing` used for every class (a
        class-unaware policy).
    traffic : (C, N, N) bit/s in the configuration's order, an (N, N) matrix (split by shares) or a
        :class:`TrafficSeries` with ``step``.
    classes : the class configuration (default: the allocation's, else the network's or the default).
    discipline : ``"priority"`` or ``"fifo"`` (see the module notes).

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
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
    d = class_od_demands(ps, mats)  # (C, n_od)
    flows = splits * d[:, ps.path_od]  # (C, n_paths)
    load = (ps.incidence @ flows.T).T  # (C, L)
    cap = network.capacity
    total = load.sum(axis=0)
    # capacity each class can use: all of it in one FIFO queue, what the classes above leave under
    # strict priority
    higher = np.cumsum(load, axis=0) - load
    usable_cap = np.clip(cap[None] - higher, 0.0, None)
    fifo_loss = path_loss_fraction(ps, total, cap) if discipline == "fifo" else None
    C = len(cfg)
    lost = np.zeros(C)
    lat_mean = np.full(C, np.nan)
    lat_max = np.full(C, np.nan)
    for c in range(C):
        pf = fifo_loss if fifo_loss is not None else path_loss_fraction(ps, load[c], usable_cap[c])
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
    FIFO queue. As :func:`surgeguard.evaluate.replay`, a policy decides from the steps before
    ``t`` only.

    Parameters
    ----------
    series : traffic with a class axis (mapped by members) or without (split by shares).
    classes : the configuration (default: the network's or :data:`~surgeguard.classes.DEFAULT_CLASSES`).
    start, stop, stride : steps ``start, start + stride, ... < stop``.
    latency_stage : the min-latency stage of each class LP (off: about half the time).
    progress : show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    ClassReplayResult
    """
    paths.check_network(network)
    cfg = class_config(classes, network)
    series = series.reorder(network.node_names)
    it = replay_steps(len(series), start, stop, stride, desc="class replay", progress=progress)
    stop = len(series) if stop is None else stop
    bad = [p for p in policies if p not in CLASS_REPLAY_POLICIES]
    if bad:
        raise ValidationError(f"unknown class-replay policies {bad}; choose from {list(CLASS_REPLAY_POLICIES)}")
    lps: dict = {}
    sp_routing = ShortestPath().route(network, paths, None)
    opt = Optimal() if "optimal" in policies else None
    rows = []
    prev_alloc, prev_t, prev_sec = None, None, 0.0
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
