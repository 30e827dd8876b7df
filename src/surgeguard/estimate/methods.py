"""The estimation methods: ``gravity``, ``tomogravity`` and ``history``.

``gravity``
    ``x_ij = in_i out_j / total`` from the node totals alone (fitted to the totals by IPF when
    some pairs are not unknowns: no self-traffic, unreachable pairs). Ignores the link loads.
``tomogravity`` (Zhang, Roughan, Duffield, Greenberg, SIGMETRICS 2003)
    The gravity prior ``g``, corrected by weighted least squares to reproduce the measured link
    loads and the node totals exactly: ``x = g + W B^T (B W B^T)^+ (b - B g)`` with Zhang's weights
    ``W = diag(g)`` (the correction of each pair is proportional to its prior: large pairs absorb
    most of it, and a pair with no prior stays at 0); then negative demands are set to 0 and the
    matrix is fitted back onto the totals by iterative proportional fitting, as Zhang et al. do.
    The clipping and IPF move the link loads slightly off the measurements: the fit quality reports
    how far.
``history``: tomography with a prior learned from measured matrices (``fit(history)``)
    When a week of measured matrices exists (NetFlow, a past measurement campaign), it says how
    traffic departs from gravity. For each pair the method learns the **interaction**
    ``K_ij(tau) = sum x_ij / sum g_ij`` over the history intervals whose time of day is within
    ``window_hours`` of ``tau`` (``g``: the gravity matrix of each history interval); the prior of
    an interval at time of day ``tau`` is ``g ⊙ K(tau)`` fitted onto that interval's totals by IPF
    (the totals move the prior with today's volumes; ``K`` carries the structure, as the fanouts of
    Papagiannaki et al. do, but in both directions). ``K`` is floored at ``floor`` (a pair absent
    from the history keeps a small prior). The correction is the Bayesian one: the prior covariance
    is learned too, as a factor model of the history's relative prior errors
    ``(x - prior) / prior``: its ``rank`` leading principal components plus a diagonal, scaled by
    the prior (``S = diag(p) (V diag(s) V^T + diag(d)) diag(p)``), and the estimate is the ``x``
    that reproduces the measurements and is closest to the prior in the ``S^-1`` norm (the
    posterior mean of a Gaussian prior given exact measurements); then clipping and IPF as above.

    Measured effect. Development fold (Abilene 2004-03-04 and -05, the three days before as
    history; the choices below were made there): tomogravity 0.254 mean relative L2 error; the same
    correction from the interaction prior with Zhang's weights ``W = diag(p)`` 0.133; with the
    learned covariance, rank 5, 0.128 (rank 0, diagonal only: 0.129; a fanout prior
    ``in_i f_ij(tau)`` instead of the interaction: 0.135; a time-of-day window of +-3 h beat 0,
    +-0.5, +-1 h and the whole day). Test (``benchmarks/results/estimation.md``): Abilene, the X01
    week as history, X02's three days: 0.134 against tomogravity's 0.252 (1.9x lower); GÉANT, its
    first day as history, the remaining 2.4 days: 0.145 against 0.546 (3.8x lower).

Methods tried without history, none of which beat tomogravity by more than a few per cent on the
development fold (so none is offered): fanouts held constant over a trailing window of 1 to 12 h
and fitted to that window's link loads (0.27 to 0.73: the changing node totals barely identify
them); a gravity prior with a distance or hop-count deterrence term fitted to the link loads
(0.27 to 0.38); the running mean of earlier estimates' interaction as the prior (0.27); maximum
entropy instead of least squares (0.255); weights ``g^a`` for a = 0.5, 1.5, 2 (0.263, 0.265,
0.284; Zhang's a = 1 is best); a covariance-based (second-moment) prior (worse than gravity even
with the true variances). Link loads and totals fix only about 53 of Abilene's 144 unknowns per
interval; what fills the rest must come from outside the measurements, such as measured matrices.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..resources import check_memory, format_count
from ..validation import Interval
from .base import TMEstimator, register_estimator
from .system import System, ipf

__all__ = ["Gravity", "Tomogravity", "HistoryPrior"]

_DAY_S = 86400.0


def _measurements(y: np.ndarray, links: np.ndarray, tin: np.ndarray, tout: np.ndarray) -> np.ndarray:
    return np.concatenate([y[links], tin, tout])


def _misfit(system: System, x: np.ndarray, b: np.ndarray, links: np.ndarray) -> float:
    return float(np.linalg.norm(b - system.measure(x, links))) / (float(np.linalg.norm(b)) or 1.0)


@register_estimator("gravity")
class Gravity(TMEstimator):
    """The gravity model from the node totals (the link loads are only checked, not used).

    >>> from surgeguard.examples import ring
    >>> from surgeguard.igp import ecmp_routing_matrix
    >>> rm = ecmp_routing_matrix(ring(4))
    >>> tm = np.full((4, 4), 1e9)
    >>> est = Gravity().predict(rm, rm.loads(tm), tm.sum(1), tm.sum(0))
    >>> est.shape, float(est[0, 0, 1]) / 1e9
    ((1, 4, 4), 1.0)
    """

    def _estimate(self, system, t, y, links, tin, tout, ctx):
        x = system.gravity(tin, tout)
        b = _measurements(y, links, tin, tout)
        return x, {"solver": "none", "iterations": 0, "residual": _misfit(system, x, b, links)}


@register_estimator("tomogravity")
class Tomogravity(TMEstimator):
    """Zhang et al.'s tomogravity: gravity prior, weighted least-squares fit to the link loads and
    totals (weights = the prior), negative demands clipped, IPF onto the totals.

    >>> from surgeguard.examples import ring
    >>> from surgeguard.igp import ecmp_routing_matrix
    >>> rm = ecmp_routing_matrix(ring(4))
    >>> tm = np.arange(16.0).reshape(4, 4) * 1e8
    >>> est = Tomogravity().predict(rm, rm.loads(tm), tm.sum(1), tm.sum(0))
    >>> bool(np.allclose(rm.loads(est[0]), rm.loads(tm), rtol=1e-6))
    True
    """

    def _estimate(self, system, t, y, links, tin, tout, ctx):
        g = system.gravity(tin, tout)
        return _correct(self, system, g, y, links, tin, tout, ctx, w=g)


def _correct(est: TMEstimator, system: System, prior, y, links, tin, tout, ctx, *, w, U=None, s=None):
    """Project ``prior`` onto the measurements, clip at 0, IPF onto the totals."""
    b = _measurements(y, links, tin, tout)
    x, info = system.project(prior, b, links, w, U, s, solver=est.solver, tol=est.tol, max_iter=est.max_iter,
                             cache=ctx["cache"], warm=ctx.get("warm"))
    info["clipped"] = int((x < 0).sum())
    x = ipf(np.maximum(x, 0.0), system.src, system.dst, tin, tout)
    return x, info


def time_of_day_s(times) -> np.ndarray:
    """Seconds since midnight UTC of each timestamp."""
    idx = pd.DatetimeIndex(pd.to_datetime(times, utc=True))
    return np.asarray((idx - idx.normalize()).total_seconds(), dtype=float)


@register_estimator("history")
class HistoryPrior(TMEstimator):
    """Tomography with a prior learned from measured matrices (see the module notes).

    Parameters (besides the shared ones)
    ----------
    window_hours : history intervals within this many hours of the interval's time of day (UTC)
        make its interaction prior (12 or more: the whole day).
    rank : principal components of the prior's relative errors kept in the prior covariance
        (0: diagonal only).
    floor : the interaction of a pair is at least this (a pair absent from the history keeps this
        share of its gravity prior).

    Examples
    --------
    >>> from surgeguard.examples import ring
    >>> from surgeguard import TrafficSeries
    >>> from surgeguard.igp import ecmp_routing_matrix
    >>> rm = ecmp_routing_matrix(ring(4))
    >>> hist = TrafficSeries(np.tile(np.arange(1.0, 17.0).reshape(4, 4) * 1e8, (48, 1, 1)),
    ...                      ring(4).node_names, pd.date_range("2020-01-01", periods=48, freq="h"))
    >>> est = HistoryPrior().fit(hist)
    >>> tm = hist.total[:2]
    >>> x = est.predict(rm, rm.loads(tm), tm.sum(2), tm.sum(1), times=hist.times[:2])
    >>> float(np.abs(x - tm).max() / tm.max()) < 1e-6
    True
    """

    uses_history: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict] = {
        **TMEstimator._parameter_constraints,
        "window_hours": [Interval(float, 0, 24)],
        "rank": [Interval(int, 0, None)],
        "floor": [Interval(float, 0, 1)],
    }

    def __init__(self, self_traffic: bool = True, missing: str = "error", solver: str = "auto",
                 tol: float = 1e-4, max_iter: int = 500, window_hours: float = 3.0, rank: int = 5,
                 floor: float = 0.01):
        super().__init__(self_traffic=self_traffic, missing=missing, solver=solver, tol=tol, max_iter=max_iter)
        self.window_hours = window_hours
        self.rank = rank
        self.floor = floor

    def _fit(self, history, routing) -> None:
        if history is None:
            raise ValidationError("the 'history' method learns its prior from measured traffic matrices; give a "
                                  "history (a TrafficSeries, e.g. a week of NetFlow matrices)")
        if len(history) < 1:
            raise ValidationError("the history has no intervals; give at least a day of measured matrices")
        total = history.total
        if not (total.sum(axis=(1, 2)) > 0).any():
            raise ValidationError(f"the history {history.name!r} has no traffic at all; give measured matrices")
        self.history_ = history
        self._learned = None
        if routing is not None:
            self._learn(self._system(routing))

    # ------------------------------------------------------------------ learning
    def _learn(self, system: System) -> dict:
        if self._learned is not None and self._learned["system"] is system:
            return self._learned
        net = system.routing.network
        hist = self.history_
        missing_nodes = [n for n in net.node_names if n not in set(hist.nodes)]
        if len(missing_nodes) == net.n_nodes:
            raise ValidationError(f"the history {hist.name!r} has none of the nodes of network {net.name!r} (e.g. "
                                  f"{net.node_names[0]!r}); give matrices of this network")
        T_h, P = len(hist), system.n_vars
        check_memory(8.0 * T_h * P * 5, f"the history prior ({format_count(T_h)} intervals x "
                     f"{format_count(P)} pairs)", "give a shorter history")
        tm = hist.reorder(net.node_names).total
        XH = system.variables(tm)
        tin, tout = tm.sum(axis=2), tm.sum(axis=1)
        GH = np.stack([system.gravity(tin[k], tout[k]) for k in range(T_h)])
        tod = time_of_day_s(hist.times)
        learned = {"system": system, "XH": XH, "GH": GH, "tod": tod, "K": {}}
        self._learned = learned
        # the factor model of the relative prior errors on the history itself
        prior = np.stack([self._prior(learned, tod[k], GH[k], tin[k], tout[k]) for k in range(T_h)])
        scale = np.maximum(prior, 1e-9 * max(float(prior.max()), 1e-300))
        rel = np.clip((XH - prior) / scale, -5.0, 5.0)
        rel -= rel.mean(axis=0)
        var = (rel ** 2).sum(axis=0) / max(T_h - 1, 1)
        k = int(min(self.rank, max(T_h - 1, 0), P))
        if k > 0:
            _, sv, vt = np.linalg.svd(rel, full_matrices=False)
            V, s = vt[:k].T.copy(), sv[:k] ** 2 / max(T_h - 1, 1)
            d = var - (V ** 2) @ s
        else:
            V, s, d = None, None, var
        # a floor: no pair is taken as known exactly (a history that repeats itself has no error)
        d = np.maximum(d, max(1e-3 * float(var.mean()), 1e-6))
        learned.update(V=V, s=s, d=d)
        return learned

    def _interaction(self, learned: dict, tau: float) -> np.ndarray:
        key = round(float(tau), 3)
        K = learned["K"].get(key)
        if K is None:
            dist = np.abs((learned["tod"] - tau + _DAY_S / 2) % _DAY_S - _DAY_S / 2)
            sel = dist <= self.window_hours * 3600.0 + 1e-6
            if not sel.any():
                sel[:] = True
            num = learned["XH"][sel].sum(axis=0)
            den = learned["GH"][sel].sum(axis=0)
            K = np.divide(num, den, out=np.ones_like(num), where=den > 0)
            K = np.maximum(K, self.floor)
            learned["K"][key] = K
        return K

    def _prior(self, learned, tau, g, tin, tout) -> np.ndarray:
        system = learned["system"]
        return ipf(g * self._interaction(learned, tau), system.src, system.dst, tin, tout)

    # ------------------------------------------------------------------ predicting
    def _prepare(self, system, times) -> dict:
        if times is None:
            raise ValidationError("the 'history' method needs the time (UTC) of each interval: its prior depends "
                                  "on the time of day; pass times (LinkLoads carry them)")
        return {"cache": {}, "learned": self._learn(system), "tod": time_of_day_s(times)}

    def _estimate(self, system, t, y, links, tin, tout, ctx):
        learned = ctx["learned"]
        g = system.gravity(tin, tout)
        p = self._prior(learned, ctx["tod"][t], g, tin, tout)
        w = p * p * learned["d"]
        U = p[:, None] * learned["V"] if learned["V"] is not None else None
        return _correct(self, system, p, y, links, tin, tout, ctx, w=w, U=U, s=learned["s"])

    def __getstate__(self):
        state = super().__getstate__()
        state["_learned"] = None
        return state
