"""The estimator contract: link loads and node totals in, traffic matrices out, all in bit/s.

Every method is a :class:`TMEstimator` (a :class:`~surgeguard.validation.Params`: ``__init__``
stores parameters, ranges are declared in ``_parameter_constraints`` and checked when work starts)
registered in :data:`ESTIMATORS`:

``fit(history=None, routing=None) -> self``
    Learn from measured matrices (a :class:`~surgeguard.TrafficSeries`), where the method uses
    them; the others only validate their parameters. ``routing`` may be given to prepare for it.
``predict(routing, link_loads, ingress, egress, *, times=None) -> (T, N, N)``
    Estimate one matrix per interval from the ``(T, L)`` link loads (bit/s, the routing matrix's
    link order) and the ``(T, N)`` node totals (bit/s entering and leaving the network at each node,
    self-traffic included). ``times`` (UTC) are needed by methods that use the time of day.
    After it, ``info_`` holds one dict per interval: the solver used, its iterations, how it
    started, and the relative misfit of the corrected estimate to the measurements before clipping;
    ``warm_`` where conjugate gradients ended (a :class:`~surgeguard.estimate.system.WarmStart`).
``predict(..., warm=previous.warm_)`` (or ``warm=True``)
    Start the conjugate gradients of large networks from where an earlier interval ended, then
    each interval of the call from the one before: the same answer to within ``tol`` in about half
    the iterations when consecutive intervals are alike (a controller estimating one interval at a
    time passes the last ``warm_`` back). Without it every interval starts from 0.

Bad input is refused with one line naming the input, the interval, the link or node and the
value: a shape that does not match the routing, a negative, infinite or too large rate, a NaN
load (unless ``missing='skip'``: the link then carries no equation in that interval) or a NaN
node total (always: the gravity prior needs every total).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from ..exceptions import NotFittedError, ValidationError
from ..igp import RoutingMatrix
from ..resources import check_memory, format_count
from ..telemetry.loads import check_rates
from ..traffic import TrafficSeries
from ..validation import Boolean, Interval, Options, Params, Registry
from .system import System, WarmStart

__all__ = ["TMEstimator", "ESTIMATORS", "register_estimator", "get_estimator", "available_estimators",
           "check_measurements"]

#: every estimator by name; see :func:`register_estimator`. Names are matched case-insensitively,
#: with ``-`` read as ``_``.
ESTIMATORS = Registry("estimator", normalise=lambda s: str(s).strip().lower().replace("-", "_"))


def register_estimator(name: str):
    """Class decorator adding a :class:`TMEstimator` subclass to :data:`ESTIMATORS` under ``name``."""
    return ESTIMATORS.register(name)


def available_estimators() -> list[str]:
    """The registered method names, sorted."""
    return ESTIMATORS.names()


def get_estimator(name: str, **params) -> "TMEstimator":
    """A new, unfitted estimator by name ('gravity', 'tomogravity', 'history').

    Unknown names or parameters raise :class:`~surgeguard.ValidationError` listing the valid ones.

    >>> get_estimator("tomogravity", self_traffic=False).self_traffic
    False
    >>> get_estimator("kalman")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: unknown estimator 'kalman'; choose one of: gravity, ...
    """
    return ESTIMATORS.get(name, **params)


def _when(t: int, times) -> str:
    if times is not None:
        return f"interval {t} ({pd.Timestamp(times[t]).isoformat()})"
    return f"interval {t}"


def _rows(values, what: str) -> np.ndarray:
    """``values`` as a float array of rows (a 1-D vector is one row)."""
    try:
        a = np.array(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{what} must be numbers in bit/s ({err})") from None
    return a[None, :] if a.ndim == 1 else a


def check_measurements(routing: RoutingMatrix, link_loads, ingress, egress, *, missing: str = "error",
                       times=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs of :meth:`TMEstimator.predict` as float arrays ``(T, L)``, ``(T, N)``, ``(T, N)``
    after the checks listed in the module notes; a 1-D load vector is one interval."""
    if not isinstance(routing, RoutingMatrix):
        raise ValidationError(f"routing must be a RoutingMatrix (surgeguard.igp.ecmp_routing_matrix), got "
                              f"{type(routing).__name__}")
    net = routing.network
    L, n = routing.n_links, routing.n_nodes
    y = _rows(link_loads, "link loads")
    if y.ndim != 2 or y.shape[1] != L:
        raise ValidationError(f"link loads have shape {y.shape}, but network {net.name!r} has {L} links; give a "
                              f"(T, {L}) array in the network's link order (LinkLoads.align(network) reorders)")
    T = y.shape[0]
    if T == 0:
        raise ValidationError("link loads have no intervals; give at least one row")
    if times is not None and len(times) != T:
        raise ValidationError(f"{len(times)} times for {T} intervals of link loads; give one time per interval")
    names = net.link_names
    check_rates(y, "link loads", lambda k: f"link {names[k % L]!r}, {_when(k // L, times)}")
    nan = np.isnan(y)
    if nan.any() and missing == "error":
        t, l = np.argwhere(nan)[0]
        raise ValidationError(
            f"link loads: link {names[l]!r} has no measurement (NaN) in {_when(int(t), times)} ({int(nan.sum())} "
            f"missing in all); give a load for every link, or set missing='skip' to estimate from the measured "
            f"links only")
    nodes = net.node_names
    out = []
    for what, arr in (("ingress", ingress), ("egress", egress)):
        if arr is None:
            raise ValidationError(
                f"node totals: no {what} given; the estimators need each node's ingress and egress totals (bit/s "
                f"through its customer- and peer-facing interfaces): link loads alone cannot tell a node's own "
                f"traffic from transit")
        a = _rows(arr, f"node totals: {what}")
        if a.shape != (T, n):
            raise ValidationError(f"node totals: {what} has shape {a.shape}, expected ({T}, {n}) for {T} intervals "
                                  f"and the {n} nodes of network {net.name!r} in its node order")
        check_rates(a, f"node totals ({what})", lambda k: f"node {nodes[k % n]!r}, {_when(k // n, times)}")
        if np.isnan(a).any():
            t, i = np.argwhere(np.isnan(a))[0]
            raise ValidationError(f"node totals: {what} of node {nodes[i]!r} is not measured (NaN) in "
                                  f"{_when(int(t), times)}; every node needs its totals (map an edge interface "
                                  f"to it, or give 0 for a node without customers)")
        out.append(a)
    return y, out[0], out[1]


class TMEstimator(Params):
    """Base class of the traffic-matrix estimators.

    Parameters shared by every method
    ---------------------------------
    self_traffic : estimate the diagonal ``i -> i`` (traffic entering and leaving at the same node:
        it crosses no link and is known only through the totals). With False it is fixed at 0 and
        the totals are taken to hold none.
    missing : 'error' (a NaN link load is refused) or 'skip' (that link gives no equation).
    solver : 'auto' (dense up to ~3,000 measurement rows, else conjugate gradients), 'dense' or 'cg'.
    tol : conjugate gradients stop when the corrected estimate reproduces the measurements to this
        relative L2 misfit.
    max_iter : at most this many conjugate-gradient iterations per interval.

    Subclasses implement ``_prepare(system, times)`` (optional) and
    ``_estimate(system, t, y, links, ingress, egress, ctx) -> (x, info)`` over the variables of
    :class:`~surgeguard.estimate.system.System`.
    """

    name: ClassVar[str] = "base"
    uses_history: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict] = {
        "self_traffic": [Boolean()],
        "missing": [Options({"error", "skip"})],
        "solver": [Options({"auto", "dense", "cg"})],
        "tol": [Interval(float, 0, 1, closed="neither")],
        "max_iter": [Interval(int, 1, None)],
    }

    def __init__(self, self_traffic: bool = True, missing: str = "error", solver: str = "auto",
                 tol: float = 1e-4, max_iter: int = 500):
        self.self_traffic = self_traffic
        self.missing = missing
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    # ------------------------------------------------------------------ fit
    def fit(self, history: TrafficSeries | None = None, routing: RoutingMatrix | None = None) -> "TMEstimator":
        """Validate the parameters and learn from ``history`` where the method uses it; returns self."""
        self.validate()
        if history is not None and not isinstance(history, TrafficSeries):
            raise ValidationError(f"history must be a TrafficSeries of measured matrices, got {type(history).__name__}")
        if routing is not None and not isinstance(routing, RoutingMatrix):
            raise ValidationError(f"routing must be a RoutingMatrix, got {type(routing).__name__}")
        self._fit(history, routing)
        self.fitted_ = True
        return self

    def _fit(self, history, routing) -> None:
        """Learn from ``history``; the default ignores it."""

    # ------------------------------------------------------------------ predict
    def predict(self, routing: RoutingMatrix, link_loads, ingress=None, egress=None, *, times=None,
                warm: WarmStart | bool | None = None) -> np.ndarray:
        """Estimate the ``(T, N, N)`` traffic matrices (bit/s) behind the measurements.

        Parameters
        ----------
        routing : the IGP routing matrix of the network (``surgeguard.igp.ecmp_routing_matrix``).
        link_loads : (T, L) bit/s in the routing's link order (NaN: not measured, see ``missing``).
        ingress, egress : (T, N) bit/s per node, self-traffic included.
        times : T UTC timestamps (needed by methods that use the time of day).
        warm : None or False: conjugate gradients start every interval from 0. True: each interval
            starts from the previous one's multipliers (the first from 0). A
            :class:`~surgeguard.estimate.system.WarmStart` (``warm_`` of an earlier call, same
            network): the first interval starts from it, the others as with True. A start that
            fits worse than 0, or from a network of another size, is not used. The answers agree
            with the cold ones to within ``tol`` (the misfit they must reach).
        """
        if not getattr(self, "fitted_", False):
            if self.uses_history:
                raise NotFittedError(f"the {self.name!r} estimator is not fitted; call fit(history) with measured "
                                     "matrices first")
            self.fit()
        self.validate()
        if times is not None:
            times = pd.DatetimeIndex(pd.to_datetime(times, utc=True))
        y, tin, tout = check_measurements(routing, link_loads, ingress, egress, missing=self.missing, times=times)
        T, n = y.shape[0], routing.n_nodes
        check_memory(8.0 * T * n * n * 2, f"{format_count(T)} estimated {format_count(n)} x {format_count(n)} "
                     "matrices", "estimate fewer intervals at a time")
        if warm is not None and not isinstance(warm, (bool, WarmStart)):
            raise ValidationError(f"warm must be None, True or False, or the warm_ of an earlier predict "
                                  f"(a WarmStart), got {type(warm).__name__}")
        system = self._system(routing)
        ctx = self._prepare(system, times)
        ctx["warm"] = warm if isinstance(warm, WarmStart) else None
        out = np.zeros((T, n, n))
        self.info_ = []
        self.warm_ = None
        system.last_start = None
        all_links = np.arange(routing.n_links)
        for t in range(T):
            measured = ~np.isnan(y[t])
            links = all_links if measured.all() else np.flatnonzero(measured)
            x, info = self._estimate(system, t, y[t], links, tin[t], tout[t], ctx)
            out[t, system.src, system.dst] = x
            info["links_measured"] = int(len(links))
            self.info_.append(info)
            self.warm_ = system.last_start
            if warm is not None and warm is not False:
                ctx["warm"] = self.warm_
        return out

    def prepare(self, routing: RoutingMatrix) -> "TMEstimator":
        """Do the one-off work for ``routing`` now (for large networks: transpose the routing matrix
        and split it for the threads), so that ``predict`` times only the intervals; returns self."""
        if not isinstance(routing, RoutingMatrix):
            raise ValidationError(f"routing must be a RoutingMatrix, got {type(routing).__name__}")
        self.validate()
        system = self._system(routing)
        if not system.use_dense(self.solver):
            system.prepare()
        return self

    def _system(self, routing: RoutingMatrix) -> System:
        key = (id(routing), bool(self.self_traffic))
        cached = getattr(self, "_system_cache", None)
        if cached is not None and cached[0] == key and cached[1].routing is routing:
            return cached[1]
        system = System(routing, self.self_traffic)
        self._system_cache = (key, system)
        return system

    def _prepare(self, system: System, times) -> dict:
        return {"cache": {}}

    def _estimate(self, system: System, t: int, y: np.ndarray, links: np.ndarray, ingress: np.ndarray,
                  egress: np.ndarray, ctx: dict) -> tuple[np.ndarray, dict]:  # pragma: no cover - interface
        raise NotImplementedError

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_system_cache", None)
        return state

