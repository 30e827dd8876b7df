"""IGP metric optimisation: link weights whose ECMP shortest paths keep the MLU low.

Without SR or RSVP-TE, an operator's one lever is the IGP metric. :func:`optimise_metrics` runs a
local search over integer link weights (Fortz and Thorup, INFOCOM 2000, in spirit) with the
routers' own hop-by-hop ECMP (:mod:`surgeguard.deploy.metrics_ecmp`, the model of
:func:`surgeguard.igp.ecmp_routing_matrix` and the what-if's :class:`~surgeguard.plan.whatif.EcmpReconvergence`),
and minimises, lexicographically,

1. the MLU: the largest utilisation over every link, every traffic matrix given (a peak hour, a
   set of peak hours, forecasts) and, optionally, every single-link failure (the IGP reconverges
   on the survivors with the same weights);
2. with failures, then the MLU of the intact network (a cut that forces its load onto one link
   fixes the worst case whatever the weights; the intact network should still gain);
3. then Fortz-Thorup's convex piecewise-linear link cost Φ (slopes 1, 3, 10, 70, 500, 5000 at
   utilisations 1/3, 2/3, 0.9, 1, 1.1), summed over links and scenarios, as the tie-break. Φ is
   taken on utilisation *relative to the start's MLU*, so its steep pieces sit where the hot links
   are whatever the absolute load: it is what moves the search across MLU plateaus.

**Neighbourhood.** Changing the weight ``x`` of one link ``l = (u, v)`` changes the routing toward
``t`` only where ``x`` crosses a *breakpoint* ``D_{-l}(y, t) - D(y, u) - D(v, t)`` (``y`` any node;
``D_{-l}`` distances without ``l``): below it ``y`` prefers the path through ``l``, at it ``y`` splits
(ECMP), above it ``y`` avoids ``l``. Between two breakpoints every weight gives the same routing,
so a link's moves are its breakpoints (ties) and one integer per interval between them, the one
closest to the current weight (operators like small changes), restricted to the destinations
that load the bottleneck link (only those can lower the MLU). Each iteration evaluates every such
move (per link the ``values_per_link`` nearest ones on either side plus the two extremes) and
takes the best; at a local optimum it perturbs a few random links ("kicks") and goes on; the best
weights seen are kept. A move's loads are updated incrementally (only destinations it can move).

**Symmetric metrics.** With ``symmetric=True`` a move sets both directions of a fibre
(:func:`~surgeguard.failures.circuits`) to one metric, as many operators require; its candidate
weights are the union of both directions' breakpoints.

**Fewer changes.** ``max_changes`` bounds the number of links whose weight differs from the start,
during the search. Afterwards changes that lower neither MLU are reverted (Φ may rise), and the rest are
ordered greedily (each step applies the remaining change that gives the lowest MLU), so
:attr:`MetricResult.changes` reads as the order to deploy them and what each buys. Where no
single remaining change keeps the MLU at or below the level reached so far, the next changes form
one ``step`` (to be applied together) until it does.

The result is never worse than the start: the start is the first solution the search holds.

>>> import numpy as np
>>> from surgeguard.examples import two_paths
>>> net = two_paths()                       # S-A-T (metric 1+1) and S-B-T (metric 2+2), 10 Gbit/s links
>>> tm = np.zeros((4, 4)); tm[0, 3] = 15e9  # all of it on S-A-T at the start: MLU 1.5
>>> res = optimise_metrics(net, tm, time_limit=5, seed=0)
>>> round(res.mlu_start, 3), round(res.mlu, 3)  # a tie puts half on each path
(1.5, 0.75)
>>> len(res.changes) >= 1
True
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..failures import Failure, circuits, failure_masks, failure_scenarios
from ..igp import RoutingMatrix, ecmp_routing_matrix
from ..io.output import atomic_write_json, atomic_write_text, make_output_dir
from ..network import Network
from ..paths import PathSet
from ..routing.routing import Routing
from ..routing.shortest import ecmp_splits
from ..traffic import TrafficSeries
from .metrics_ecmp import IncrementalEcmp

__all__ = ["optimise_metrics", "MetricResult", "MetricChange", "phi_cost", "metric_config", "select_matrices",
           "start_weights", "METRIC_FORMATS", "METRIC_PROTOCOLS", "START_METRICS", "PHI_SLOPES", "PHI_BREAKS"]

#: Fortz-Thorup link cost: slopes of the convex piecewise-linear Φ(u) and where they start (utilisation).
PHI_SLOPES = (1.0, 3.0, 10.0, 70.0, 500.0, 5000.0)
PHI_BREAKS = (0.0, 1 / 3, 2 / 3, 9 / 10, 1.0, 11 / 10)
#: configuration formats of :func:`metric_config`, and the IGPs it writes
METRIC_FORMATS = ("iosxr", "frr")
METRIC_PROTOCOLS = ("isis", "ospf")
#: starting weights: the network's own metrics, 1 everywhere, or inverse capacity (reference: the largest)
START_METRICS = ("current", "unit", "invcap")
#: the largest metric accepted by both IS-IS wide metrics and OSPF interface costs
MAX_METRIC_DEFAULT = 65535


def _phi_intercepts() -> np.ndarray:
    c = [0.0]
    for k in range(1, len(PHI_SLOPES)):
        # continuity at PHI_BREAKS[k]: s_{k-1} b - c_{k-1} = s_k b - c_k
        c.append(c[-1] + (PHI_SLOPES[k] - PHI_SLOPES[k - 1]) * PHI_BREAKS[k])
    return np.asarray(c)


_PHI_C = _phi_intercepts()
_PHI_S = np.asarray(PHI_SLOPES)


def phi_cost(util: np.ndarray, capacity: np.ndarray) -> float:
    """Fortz-Thorup cost ``sum_l capacity_l * phi(util_l)`` (``util`` (L,) or (L, C), any further columns summed).

    >>> round(phi_cost(np.array([0.5, 1.0]), np.array([1.0, 1.0])), 4)   # (3*0.5 - 2/3) + (70 - 178/3)
    11.5
    """
    u = np.asarray(util, dtype=float)
    cap = np.asarray(capacity, dtype=float).reshape((-1,) + (1,) * (u.ndim - 1))
    phi = (u[..., None] * _PHI_S - _PHI_C).max(axis=-1)
    return float((cap * phi).sum())


# ====================================================================== inputs
def start_weights(network: Network, start: str = "current") -> np.ndarray:
    """Starting weights (L,): ``current`` (the network's metrics), ``unit`` (1) or ``invcap``
    (largest capacity / capacity, rounded, >= 1: Cisco's reference-bandwidth rule)."""
    if start == "current":
        return network.metric.astype(float).copy()
    if start == "unit":
        return np.ones(network.n_links)
    if start == "invcap":
        cap = network.capacity
        return np.maximum(1.0, np.round(cap.max() / cap))
    raise ValidationError(f"start metrics {start!r} unknown; use one of {', '.join(START_METRICS)}")


def select_matrices(series: TrafficSeries, spec: str = "peak") -> tuple[np.ndarray, list[int]]:
    """Matrices of a series to optimise over, and their steps.

    ``spec``: ``peak`` (the busiest step by total traffic), ``top:N`` (the N busiest), ``all``,
    ``steps:I,J,..`` (0-based, negative from the end) or ``hours:A-B`` (every step whose UTC hour
    is in ``[A, B)``, wrapping past midnight when ``A > B``).

    >>> import numpy as np
    >>> ts = TrafficSeries(np.arange(4.0)[:, None, None] * np.ones((4, 2, 2)), ("a", "b"))
    >>> select_matrices(ts, "top:2")[1]
    [3, 2]
    """
    text = str(spec).strip().lower()
    tot = series.total.sum(axis=(1, 2))
    T = len(series)
    example = "peak, top:5, all, steps:0,12 or hours:18-22"
    kind, _, arg = text.partition(":")
    if kind == "peak" and not arg:
        steps = [int(np.argmax(tot))]
    elif kind == "all" and not arg:
        steps = list(range(T))
    elif kind == "top":
        try:
            k = int(arg)
        except ValueError:
            k = 0
        if k < 1:
            raise ValidationError(f"matrices {spec!r}: top:N needs an integer N >= 1; use e.g. top:5")
        steps = [int(i) for i in np.argsort(-tot, kind="stable")[:k]]
    elif kind == "steps":
        try:
            steps = [int(x) for x in arg.split(",") if x.strip()]
        except ValueError:
            steps = []
        if not steps:
            raise ValidationError(f"matrices {spec!r}: steps:I,J needs integer steps; use e.g. steps:0,12")
        bad = [s for s in steps if not -T <= s < T]
        if bad:
            raise ValidationError(f"matrices {spec!r}: step {bad[0]} is outside the series' {T} steps (0..{T - 1})")
        steps = list(dict.fromkeys(s % T for s in steps))
    elif kind == "hours":
        m = re.fullmatch(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*", arg)
        a, b = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
        if not (0 <= a <= 23 and 0 <= b <= 24 and a != b):
            raise ValidationError(f"matrices {spec!r}: hours:A-B needs UTC hours 0 <= A, B <= 24, A != B; "
                                  "use e.g. hours:18-22")
        hrs = np.asarray(series.times.hour)
        keep = (hrs >= a) & (hrs < b) if a < b else (hrs >= a) | (hrs < b)
        steps = [int(i) for i in np.flatnonzero(keep)]
        if not steps:
            raise ValidationError(f"matrices {spec!r}: no step of the series falls in UTC hours {a}-{b}")
    else:
        raise ValidationError(f"matrices {spec!r} unknown; use {example}")
    return series.total[steps], steps


def _as_matrices(network: Network, traffic) -> np.ndarray:
    if isinstance(traffic, TrafficSeries):
        dem = traffic.reorder(network.node_names).total
    else:
        dem = np.asarray(traffic, dtype=float)
    n = network.n_nodes
    if dem.ndim == 2:
        dem = dem[None]
    if dem.ndim != 3 or dem.shape[1:] != (n, n) or len(dem) == 0:
        raise ValidationError(f"traffic has shape {np.shape(dem)}; expected ({n}, {n}) or (matrices, {n}, {n}) "
                              f"in the node order of network {network.name!r}")
    if not np.isfinite(dem).all() or (dem < 0).any():
        raise ValidationError("traffic has negative, NaN or infinite demand; demands must be finite and >= 0 bit/s")
    return dem


def _failure_list(network: Network, failures) -> list[Failure]:
    if failures is None or failures == "none":
        return []
    if isinstance(failures, str):
        return failure_scenarios(network, "single-link" if failures == "single" else failures)
    return list(failures)


# ====================================================================== result
@dataclass(frozen=True)
class MetricChange:
    """One metric change, in deployment order: the MLU (and Φ) once it and every change before it are
    applied. ``step``: changes with the same step go in together (applied alone, the first of them
    would raise the MLU above what the previous step reached)."""

    link: str
    src: str
    dst: str
    old: float
    new: float
    mlu: float
    phi: float
    step: int = 1

    def as_dict(self) -> dict:
        return {"step": self.step, "link": self.link, "src": self.src, "dst": self.dst, "old_metric": self.old,
                "new_metric": self.new, "mlu_after": self.mlu, "phi_after": self.phi}


@dataclass(eq=False)
class MetricResult:
    """What :func:`optimise_metrics` found.

    Attributes
    ----------
    network : the network as given; :attr:`optimised` is the same with the new metrics.
    weights_start, weights : (L,) metrics before and after.
    changes : :class:`MetricChange` list in deployment order (greedy: largest MLU gain first).
    mlu_start, mlu : worst utilisation over matrices (and failures) before and after.
    phi_start, phi : the Φ tie-break before and after (relative utilisation, per unit capacity).
    scenario_mlu : frame, one row per matrix x failure state: ``matrix``, ``failure``, ``mlu_start``, ``mlu``.
    info : seconds, evaluations, iterations, kicks, why it stopped, parameters.
    """

    network: Network
    weights_start: np.ndarray
    weights: np.ndarray
    changes: list
    mlu_start: float
    mlu: float
    phi_start: float
    phi: float
    scenario_mlu: pd.DataFrame
    info: dict = field(default_factory=dict)

    @cached_property
    def optimised(self) -> Network:
        """The network with the optimised metrics."""
        links = self.network.links.copy()
        links["metric"] = self.weights
        return Network(self.network.nodes, links, name=self.network.name, meta=dict(self.network.meta))

    @cached_property
    def routing_matrix(self) -> RoutingMatrix:
        """The optimised IGP routing (ECMP) as a :class:`~surgeguard.igp.RoutingMatrix`."""
        return ecmp_routing_matrix(self.optimised)

    def to_routing(self, paths: PathSet, tm: np.ndarray | None = None) -> Routing:
        """The optimised IGP routing over ``paths`` (it must hold the equal-cost paths; see
        :func:`~surgeguard.routing.shortest.ecmp_splits`); with ``tm``, ``info["mlu"]`` on it."""
        r = Routing(paths, ecmp_splits(self.optimised, paths), "igp-metrics", {"changes": len(self.changes)})
        if tm is not None:
            r.info["mlu"] = float((r.link_loads(tm) / self.network.capacity).max(initial=0.0))
        return r

    @property
    def mlu_intact(self) -> float:
        """MLU of the intact network (the worst over the matrices) with the optimised metrics."""
        return float(self.scenario_mlu.loc[self.scenario_mlu["failure"] == "(none)", "mlu"].max())

    @property
    def n_changes(self) -> int:
        return len(self.changes)

    def changes_frame(self) -> pd.DataFrame:
        cols = ["step", "link", "src", "dst", "old_metric", "new_metric", "mlu_after", "phi_after"]
        return pd.DataFrame([c.as_dict() for c in self.changes], columns=cols)

    def metrics_frame(self) -> pd.DataFrame:
        """Every link: ``src``, ``dst``, ``capacity`` (bit/s), ``old_metric``, ``new_metric``, ``changed``."""
        lk = self.network.links
        return pd.DataFrame({"src": lk["src"].to_numpy(), "dst": lk["dst"].to_numpy(),
                             "capacity": lk["capacity"].to_numpy(), "old_metric": self.weights_start,
                             "new_metric": self.weights, "changed": self.weights != self.weights_start},
                            index=pd.Index(lk.index, name="link"))

    def config(self, format: str = "iosxr", *, protocol: str = "isis", instance: str = "CORE") -> dict[str, str]:
        """Configuration per router for the changes (:func:`metric_config`)."""
        return metric_config(self.network, self.changes, format=format, protocol=protocol, instance=instance)

    def summary(self) -> dict:
        return {"network": self.network.name, "links": self.network.n_links,
                "mlu_start": self.mlu_start, "mlu": self.mlu,
                "mlu_gain": (self.mlu_start - self.mlu) / self.mlu_start if self.mlu_start > 0 else 0.0,
                "mlu_intact": self.mlu_intact, "phi_start": self.phi_start, "phi": self.phi,
                "n_changes": self.n_changes,
                "changes": [c.as_dict() for c in self.changes],
                "scenarios": self.scenario_mlu.to_dict("records"), "info": self.info}

    def write(self, out_dir, *, format: str = "iosxr", protocol: str = "isis", instance: str = "CORE") -> dict:
        """Write ``metrics.csv`` (every link), ``changes.csv``, ``summary.json`` and the configuration
        (``metrics-iosxr.cfg`` or ``metrics-frr.conf``, one section per router); returns the paths."""
        out = make_output_dir(out_dir)
        files = {"metrics": out / "metrics.csv", "changes": out / "changes.csv", "summary": out / "summary.json",
                 "config": out / config_file_name(format)}
        atomic_write_text(files["metrics"], self.metrics_frame().to_csv())
        atomic_write_text(files["changes"], self.changes_frame().to_csv(index=False))
        conf = self.config(format, protocol=protocol, instance=instance)
        atomic_write_text(files["config"], "".join(conf.values()) if conf else
                          "! surgeguard optimise-metrics: no metric change\n")
        atomic_write_json(files["summary"], self.summary())
        return files


def config_file_name(format: str) -> str:
    """``metrics-iosxr.cfg`` or ``metrics-frr.conf``."""
    return "metrics-iosxr.cfg" if format == "iosxr" else "metrics-frr.conf"


def _ifname(network: Network, link: str) -> tuple[str, bool]:
    """The interface of a link: its ``interface`` column when the network has one, else ``to-<dst>``."""
    lk = network.links
    if "interface" in lk.columns:
        v = lk.at[link, "interface"]
        if isinstance(v, str) and v.strip():
            return v.strip(), True
    return "to-" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(lk.at[link, "dst"])), False


def metric_config(network: Network, changes: Sequence[MetricChange], *, format: str = "iosxr",
                  protocol: str = "isis", instance: str = "CORE") -> dict[str, str]:
    """Configuration text per router for metric changes.

    ``iosxr``: ``router isis INSTANCE / interface IF / address-family ipv4 unicast / metric N``
    (``router ospf INSTANCE / area 0 / interface IF / cost N`` for OSPF). ``frr``: an
    ``interface IF`` block with ``isis metric N`` or ``ip ospf cost N``. The interface is the link's
    ``interface`` column where the network has one, else ``to-<neighbour>`` with a comment saying
    so. Metrics are integers (rounded).

    >>> from surgeguard.examples import two_paths
    >>> net = two_paths()
    >>> ch = [MetricChange("S->A", "S", "A", 1.0, 3.0, 0.75, 1.0)]
    >>> print(metric_config(net, ch, format="frr")["S"], end="")
    ! router S: 1 metric change(s) (surgeguard optimise-metrics)
    ! link S->A: 1 -> 3, deployment step 1 (interface name assumed: to-A; replace it with the real one)
    interface to-A
     isis metric 3
    exit
    !
    """
    if format not in METRIC_FORMATS:
        raise ValidationError(f"configuration format {format!r} unknown; use one of {', '.join(METRIC_FORMATS)}")
    if protocol not in METRIC_PROTOCOLS:
        raise ValidationError(f"IGP {protocol!r} unknown; use one of {', '.join(METRIC_PROTOCOLS)}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", str(instance)):
        raise ValidationError(f"IGP instance name {instance!r} must be 1-40 letters, digits, '_', '.' or '-'")
    by_router: dict[str, list] = {}
    for c in changes:
        by_router.setdefault(c.src, []).append(c)
    out = {}
    for router, items in by_router.items():
        lines = [f"! router {router}: {len(items)} metric change(s) (surgeguard optimise-metrics)"]
        body = []
        for c in items:
            ifn, known = _ifname(network, c.link)
            note = "" if known else f" (interface name assumed: {ifn}; replace it with the real one)"
            lines.append(f"! link {c.link}: {c.old:g} -> {int(round(c.new))}, deployment step {c.step}{note}")
            n = int(round(c.new))
            if format == "frr":
                body += [f"interface {ifn}", f" isis metric {n}" if protocol == "isis" else f" ip ospf cost {n}",
                         "exit", "!"]
            elif protocol == "isis":
                body += [f" interface {ifn}", "  address-family ipv4 unicast", f"   metric {n}", "  !", " !"]
            else:
                body += [f"  interface {ifn}", f"   cost {n}", "  !"]
        if format == "iosxr":
            body = ([f"router isis {instance}"] + body + ["!"] if protocol == "isis" else
                    [f"router ospf {instance}", " area 0"] + body + [" !", "!"])
        out[router] = "\n".join(lines + body) + "\n"
    return out


# ====================================================================== search
class _Objective:
    """(MLU, Φ) over every failure state and matrix, per state cached."""

    def __init__(self, eng: IncrementalEcmp, capacity: np.ndarray, u_ref: float):
        self.eng, self.cap, self.u_ref = eng, capacity, u_ref
        self.norm = 1.0 / (capacity.sum() * eng.n_states * eng.C)
        self.state = np.array([self.of_total(t) for t in eng.total])     # (S, 2)

    def of_total(self, total: np.ndarray) -> tuple[float, float]:
        util = total / self.cap[:, None]
        return float(util.max(initial=0.0)), phi_cost(util / self.u_ref, self.cap) * self.norm

    def value(self, state: np.ndarray | None = None) -> tuple[float, float, float]:
        """(worst MLU over every state, MLU of the intact network, Φ): compared in this order."""
        st = self.state if state is None else state
        return float(st[:, 0].max()), float(st[0, 0]), float(st[:, 1].sum())

    def with_trial(self, trial) -> tuple[tuple[float, float], np.ndarray]:
        st = self.state.copy()
        for s, rec in trial.states.items():
            st[s] = self.of_total(rec[4])
        return self.value(st), st


def _better(a, b, rtol: float = 1e-9) -> bool:
    """Lexicographic (worst MLU, intact MLU, Φ): ``a`` strictly better than ``b`` (MLUs equal within ``rtol``)."""
    for k, (x, y) in enumerate(zip(a, b)):
        tol = (rtol if k + 1 < len(a) else 1e-12) * max(abs(y), 1e-300)
        if x < y - tol:
            return True
        if x > y + tol:
            return False
    return False


def _candidates(eng: IncrementalEcmp, link: int, state: int, targets: np.ndarray, max_metric: int,
                per_side: int) -> list[float]:
    """Integer weights for ``link`` at which the routing toward ``targets`` differs from now (see module doc)."""
    u, v = eng.src[link], eng.dst[link]
    D = eng.D[state]
    Dm = eng.distances_without(state, link)[targets]                     # (a, N): y -> t without link
    with np.errstate(invalid="ignore"):
        c = Dm - D[u][None, :] - D[targets, v][:, None]
    c = c[np.isfinite(c) & (c > 0)]
    B = np.unique(np.round(c, 9))
    w = float(eng.w[link])
    # regions: ties at integral breakpoints, and the open intervals between breakpoints
    edges = np.concatenate([[0.0], B, [max_metric + 1.0]])
    pts = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        a, b = math.floor(lo) + 1, math.ceil(hi) - 1
        if a <= b and a <= max_metric:
            b = min(b, max_metric)
            if not (lo < w < hi):
                pts.append(float(min(max(round(w), a), b)))
    for bp in B:
        if bp == round(bp) and 1 <= bp <= max_metric and bp != w:
            pts.append(float(bp))
    pts = sorted(set(pts) - {w})
    below = [p for p in pts if p < w][-per_side:]
    above = [p for p in pts if p > w][:per_side]
    ext = [p for p in (pts[:1] + pts[-1:]) if p not in below and p not in above]
    return below + above + ext


def optimise_metrics(network: Network, traffic, *, failures=None, max_changes: int | None = None,
                     start="current", max_metric: int = MAX_METRIC_DEFAULT, time_limit: float | None = 30.0,
                     max_evaluations: int | None = None, max_kicks: int = 20, values_per_link: int = 4,
                     symmetric: bool = False, seed: int = 0, rtol: float = 1e-9) -> MetricResult:
    """Local search over integer IGP metrics minimising the MLU (then Φ) under ECMP; see the module doc.

    Parameters
    ----------
    network : the network; its capacities and (with ``start='current'``) metrics.
    traffic : (N, N) or (M, N, N) bit/s in the network's node order, or a :class:`TrafficSeries`
        (every step; pick steps with :func:`select_matrices`).
    failures : None, ``'single'``/``'single-link'`` (every fibre cut, :func:`~surgeguard.failures.failure_scenarios`),
        another failure kind, or a list of :class:`~surgeguard.failures.Failure`: these states count too.
    max_changes : at most this many links get a metric different from the start (None: no limit).
    start : ``'current'``, ``'unit'``, ``'invcap'`` (:func:`start_weights`) or an (L,) array of metrics.
    max_metric : largest metric allowed (65535 suits OSPF and IS-IS wide metrics; 63 for narrow).
    time_limit : seconds of search (None: no limit; then ``max_evaluations`` or ``max_kicks`` stop it).
    max_evaluations : candidate evaluations at most (deterministic runs).
    max_kicks : perturbations in a row that do not improve the best before stopping.
    values_per_link : candidate weights per link on each side of its current weight.
    symmetric : both directions of a fibre (:func:`~surgeguard.failures.circuits`) always get the same
        metric (a change moves both; ``max_changes`` still counts directed links, so a fibre counts 2).
    seed : random seed of the move order and the kicks.
    rtol : ECMP tie tolerance (as :func:`~surgeguard.igp.ecmp_routing_matrix`).

    Returns
    -------
    MetricResult
    """
    t0 = time.perf_counter()
    dem = _as_matrices(network, traffic)
    if max_changes is not None and (not isinstance(max_changes, (int, np.integer)) or max_changes < 0):
        raise ValidationError(f"max_changes must be an integer >= 0 or None; got {max_changes!r}")
    if not isinstance(max_metric, (int, np.integer)) or not 1 <= max_metric <= 16_777_215:
        raise ValidationError(f"max_metric must be an integer in [1, 16777215]; got {max_metric!r}")
    for name, v, low in (("values_per_link", values_per_link, 1), ("max_kicks", max_kicks, 0), ("seed", seed, 0)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ValidationError(f"{name} must be an integer >= {low}; got {v!r}")
    if time_limit is not None and not (time_limit > 0):
        raise ValidationError(f"time_limit must be > 0 seconds or None; got {time_limit!r}")
    w0 = start_weights(network, start) if isinstance(start, str) else np.asarray(start, dtype=float).copy()
    if w0.shape != (network.n_links,) or not np.isfinite(w0).all() or (w0 <= 0).any():
        raise ValidationError(f"start metrics must be {network.n_links} finite numbers > 0, one per link")
    fails = _failure_list(network, failures)
    alive = np.stack([np.ones(network.n_links, bool)] + [failure_masks(network, f)[0] for f in fails])
    names = ["(none)"] + [f.name for f in fails]
    cap = network.capacity.astype(float)
    rng = np.random.default_rng(seed)
    eng = IncrementalEcmp(network, dem, w0, alive, rtol=rtol)
    u_ref = max(max(float((t / cap[:, None]).max(initial=0.0)) for t in eng.total), 1e-12)
    obj = _Objective(eng, cap, u_ref)
    start_val = obj.value()
    start_state = obj.state.copy()
    cur_val = start_val
    best_w, best_val = w0.copy(), start_val
    evals = iters = kicks = since_best = 0
    stop = "local optimum"
    limit = max_changes if max_changes is not None else network.n_links
    # what one move changes: a link, or (symmetric) every link of a fibre
    units = [tuple(int(i) for i in idx) for _, idx in circuits(network)] if symmetric else \
        [(l,) for l in range(network.n_links)]
    deadline = None if time_limit is None else t0 + float(time_limit)

    def out_of_budget() -> bool:
        return (deadline is not None and time.perf_counter() > deadline) or \
            (max_evaluations is not None and evals >= max_evaluations)

    def moves() -> list[tuple[tuple, tuple]]:
        """(links, their new weights) of every move; bottlenecks of the worst state and of the intact one."""
        changed = eng.w != w0
        n_changed = int(changed.sum())
        out: set = set()
        for s_star in dict.fromkeys((int(np.argmax(obj.state[:, 0])), 0)):
            util = eng.total[s_star] / cap[:, None]
            top = util.max(initial=0.0)
            if top <= 0:
                continue
            lk, cc = np.nonzero(util >= (1 - 1e-6) * top)
            tgt = np.flatnonzero((eng.dest_loads[s_star][:, lk, cc] > 0).any(axis=1))
            if not len(tgt):
                continue
            for u in units:
                if n_changed + int((~changed[list(u)]).sum()) > limit:
                    continue
                for l in u:
                    out.update((u, (x,) * len(u))
                               for x in _candidates(eng, l, s_star, tgt, max_metric, values_per_link)
                               if not np.all(eng.w[list(u)] == x))
        out.update((u, tuple(float(w0[i]) for i in u)) for u in units if changed[list(u)].any())
        return sorted(out)

    while not out_of_budget():
        iters += 1
        cand = moves()
        rng.shuffle(cand)
        best_move = None
        for u, x in cand:
            if out_of_budget():
                stop = "time or evaluation limit"
                break
            tr = eng.trial(u, x)
            evals += 1
            val, st = obj.with_trial(tr)
            if _better(val, cur_val) and (best_move is None or _better(val, best_move[1])):
                best_move = (tr, val, st)
        if best_move is not None:
            eng.commit(best_move[0])
            obj.state, cur_val = best_move[2], best_move[1]
            if _better(cur_val, best_val):
                best_w, best_val, since_best = eng.w.copy(), cur_val, 0
            continue
        if out_of_budget():
            stop = "time or evaluation limit"
            break
        # a local optimum: kick a few links to random candidate weights, keep going from there
        since_best += 1
        if since_best > max_kicks:
            stop = "no improvement after kicks"
            break
        kicks += 1
        n_kick = max(2, int(round(0.05 * network.n_links)))
        pool = cand if cand else [(u, (float(rng.integers(1, max_metric + 1)),) * len(u)) for u in units]
        for _ in range(n_kick):
            u, x = pool[int(rng.integers(len(pool)))]
            new_w = eng.w.copy()
            new_w[list(u)] = x
            if np.array_equal(new_w, eng.w) or int((new_w != w0).sum()) > limit:
                continue
            tr = eng.trial(u, x)
            evals += 1
            cur_val, obj.state = obj.with_trial(tr)
            eng.commit(tr)
    else:
        stop = "time or evaluation limit"
    search_seconds = time.perf_counter() - t0

    # ---------------------------------------------------------------- prune and order the changes
    eng.set_weights(best_w)
    obj.state = np.array([obj.of_total(t) for t in eng.total])
    best_val = obj.value()
    pruned = 0
    improved = True
    while improved:
        improved = False
        for u in [u for u in units if (eng.w[list(u)] != w0[list(u)]).any()]:
            tr = eng.trial(u, w0[list(u)])
            val, st = obj.with_trial(tr)
            if val[0] <= best_val[0] * (1 + 1e-9) and val[1] <= best_val[1] * (1 + 1e-9):
                eng.commit(tr)
                obj.state, best_val = st, val
                pruned += 1
                improved = True
    final_w = eng.w.copy()
    if _better(start_val, best_val):             # never return something worse than the start
        final_w, best_val = w0.copy(), start_val
    eng.set_weights(w0)
    obj.state = start_state.copy()
    todo = [u for u in units if (final_w[list(u)] != w0[list(u)]).any()]
    changes = []
    names_l = network.link_names
    step, level = 0, start_val[0]        # a step: changes to apply together (none of them alone helps)
    while todo:
        scored = [(obj.with_trial(tr), tr, u) for tr, u in ((eng.trial(u, final_w[list(u)]), u) for u in todo)]
        k = 0
        for i in range(1, len(scored)):
            if _better(scored[i][0][0], scored[k][0][0]):
                k = i
        (val, st), tr, u = scored[k]
        eng.commit(tr)
        obj.state = st
        todo.remove(u)
        changes += [MetricChange(names_l[l], network.node_names[network.src[l]], network.node_names[network.dst[l]],
                                 float(w0[l]), float(final_w[l]), val[0], val[2], step + 1)
                    for l in u if final_w[l] != w0[l]]
        if val[0] <= level * (1 + 1e-9) or not todo:
            step, level = step + 1, min(level, val[0])
    final_val = obj.value()
    mlu_end = np.array([[float((eng.total[s][:, c] / cap).max(initial=0.0)) for c in range(eng.C)]
                        for s in range(eng.n_states)])
    eng.set_weights(w0)
    mlu_beg = np.array([[float((eng.total[s][:, c] / cap).max(initial=0.0)) for c in range(eng.C)]
                        for s in range(eng.n_states)])
    frame = pd.DataFrame({"matrix": np.tile(np.arange(eng.C), eng.n_states),
                          "failure": np.repeat(names, eng.C),
                          "mlu_start": mlu_beg.ravel(), "mlu": mlu_end.ravel()})
    info = {"seconds": time.perf_counter() - t0, "search_seconds": search_seconds, "evaluations": evals,
            "iterations": iters, "kicks": kicks, "pruned": pruned, "stopped": stop,
            "matrices": int(eng.C), "failure_states": len(fails), "max_changes": max_changes,
            "start": start if isinstance(start, str) else "given", "max_metric": int(max_metric),
            "time_limit": time_limit, "seed": seed, "symmetric": bool(symmetric), "phi_reference_utilisation": u_ref}
    return MetricResult(network, w0, final_w, changes, start_val[0], final_val[0], start_val[2], final_val[2],
                        frame, info)
