"""One call from measurements to matrices: :func:`estimate` -> :class:`Estimate`.

Every estimate says how well it reproduces what was measured (:func:`fit_quality`): per interval,
the relative L2 misfit of its link loads ``||A x - y|| / ||y||`` over the measured links, and of its
node totals (row and column sums against ingress and egress). Tomogravity and ``history`` fit both
exactly before negative demands are clipped; the IPF that follows keeps the totals exact and moves
the link loads by what the clipping took away. Gravity reproduces the totals only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..igp import RoutingMatrix, ecmp_routing_matrix
from ..network import Network
from ..telemetry.loads import LinkLoads
from ..traffic import TrafficSeries
from .base import TMEstimator, get_estimator

__all__ = ["Estimate", "estimate", "fit_quality", "QUALITY_COLUMNS"]

#: Columns of :attr:`Estimate.quality` (one row per interval, indexed by ``ds``).
QUALITY_COLUMNS = ("link_rel_l2", "totals_rel_l2", "links_measured", "iterations")


def _rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = np.sqrt(np.nansum((a - b) ** 2, axis=1))
    den = np.sqrt(np.nansum(b ** 2, axis=1))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, 0.0))


def fit_quality(routing: RoutingMatrix, estimates, link_loads, ingress, egress) -> pd.DataFrame:
    """Per interval: ``link_rel_l2`` (``||A x - y|| / ||y||`` over the measured links, NaN where none
    is measured), ``totals_rel_l2`` (``||[rows - ingress; cols - egress]|| / ||[ingress; egress]||``)
    and ``links_measured``.

    >>> from surgeguard.examples import ring
    >>> rm = ecmp_routing_matrix(ring(4))
    >>> tm = np.ones((1, 4, 4))
    >>> fit_quality(rm, tm, rm.loads(tm), tm.sum(2), tm.sum(1)).iloc[0].tolist()
    [0.0, 0.0, 8.0]
    """
    x = np.asarray(estimates, dtype=float)
    x = x[None] if x.ndim == 2 else x
    y = np.asarray(link_loads, dtype=float)
    y = y[None] if y.ndim == 1 else y
    loads = routing.loads(x)
    measured = ~np.isnan(y)
    diff = np.where(measured, loads, np.nan)
    link = _rel(diff, y)
    link = np.where(measured.any(axis=1), link, np.nan)
    tin = np.asarray(ingress, dtype=float).reshape(len(x), -1)
    tout = np.asarray(egress, dtype=float).reshape(len(x), -1)
    tot = _rel(np.concatenate([x.sum(axis=2), x.sum(axis=1)], axis=1), np.concatenate([tin, tout], axis=1))
    return pd.DataFrame({"link_rel_l2": link, "totals_rel_l2": tot, "links_measured": measured.sum(axis=1)})


@dataclass(frozen=True, eq=False)
class Estimate:
    """Estimated traffic matrices with the evidence of how well they fit the measurements.

    Attributes
    ----------
    series : the estimated matrices (bit/s) over the measured intervals, the network's nodes.
    quality : one row per interval (index ``ds``): :data:`QUALITY_COLUMNS`.
    method : the estimator's name; ``params`` its parameters.
    seconds : time spent estimating (routing matrix excluded); ``routing_seconds`` building it
        (0 when it was given).
    notes : what the link-load reader reported, then what the estimator did.
    """

    series: TrafficSeries
    quality: pd.DataFrame
    method: str
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    routing_seconds: float = 0.0
    notes: tuple[str, ...] = ()

    def summary(self) -> dict:
        """Mean, 90th percentile and maximum of each misfit, and the counts (JSON-ready)."""
        out = {"method": self.method, "params": dict(self.params), "intervals": int(len(self.quality)),
               "seconds": float(self.seconds), "routing_seconds": float(self.routing_seconds)}
        for col in ("link_rel_l2", "totals_rel_l2"):
            v = self.quality[col].to_numpy(float)
            v = v[np.isfinite(v)]
            out[col] = ({"mean": float(v.mean()), "p90": float(np.quantile(v, 0.9)), "max": float(v.max())}
                        if len(v) else {"mean": None, "p90": None, "max": None})
        out["links_measured_min"] = int(self.quality["links_measured"].min())
        out["notes"] = list(self.notes)
        return out

    def to_frame(self, *, drop_zero: bool = True) -> pd.DataFrame:
        """The long frame ``ds, src, dst, bps`` (the format traffic readers take)."""
        return self.series.to_frame(drop_zero=drop_zero)

    def __str__(self) -> str:
        s = self.summary()
        link, tot = s["link_rel_l2"], s["totals_rel_l2"]
        def fmt(d):
            return "n/a" if d["mean"] is None else f"mean {d['mean']:.2e}, p90 {d['p90']:.2e}, max {d['max']:.2e}"

        return (f"{self.method}: {s['intervals']} interval(s) in {self.seconds:.2f} s; link-load misfit "
                f"{fmt(link)}; node-total misfit {fmt(tot)}")


def estimate(network_or_routing: Network | RoutingMatrix, loads: LinkLoads, method: str | TMEstimator = "tomogravity",
             history: TrafficSeries | None = None, **params) -> Estimate:
    """Estimate the traffic matrices behind measured link loads and node totals.

    Parameters
    ----------
    network_or_routing : the network (its IGP ECMP routing matrix is built from the link metrics)
        or a routing matrix already built (:func:`surgeguard.igp.ecmp_routing_matrix`).
    loads : measured :class:`~surgeguard.telemetry.LinkLoads` with node totals; aligned to the
        network here (links named ``src->dst``).
    method : a name of :data:`~surgeguard.estimate.ESTIMATORS` or an estimator object.
    history : measured matrices for methods that learn from them (``history``).
    **params : parameters of the method (with a name only).

    Examples
    --------
    >>> from surgeguard.examples import ring
    >>> from surgeguard.scenario import gravity_series
    >>> net = ring(4)
    >>> ts = gravity_series(net, "2020-03-16", periods=3, freq="1h", total_bps=1e9, random_state=0)
    >>> rm = ecmp_routing_matrix(net)
    >>> est = estimate(rm, LinkLoads.from_traffic(rm, ts), "tomogravity")
    >>> est.series.total.shape, bool(est.quality["link_rel_l2"].max() < 1e-6)
    ((3, 4, 4), True)
    """
    if not isinstance(loads, LinkLoads):
        raise ValidationError(f"loads must be LinkLoads (surgeguard.telemetry), got {type(loads).__name__}")
    t0 = time.perf_counter()
    if isinstance(network_or_routing, RoutingMatrix):
        routing = network_or_routing
    elif isinstance(network_or_routing, Network):
        routing = ecmp_routing_matrix(network_or_routing)
    else:
        raise ValidationError(f"network_or_routing must be a Network or a RoutingMatrix, got "
                              f"{type(network_or_routing).__name__}")
    routing_s = time.perf_counter() - t0 if not isinstance(network_or_routing, RoutingMatrix) else 0.0
    net = routing.network
    if isinstance(method, TMEstimator):
        if params:
            raise ValidationError("give parameters either in the estimator object or as keywords with a method name")
        est = method
    else:
        est = get_estimator(method, **params)
    if len(loads) == 0:
        raise ValidationError(f"link loads {loads.name!r} have no intervals; give at least one")
    aligned = loads.align(net)
    t1 = time.perf_counter()
    est.fit(history, routing)
    x = est.predict(routing, aligned.bps, aligned.ingress, aligned.egress, times=aligned.times)
    seconds = time.perf_counter() - t1
    q = fit_quality(routing, x, aligned.bps, aligned.ingress, aligned.egress)
    q["iterations"] = [int(i.get("iterations", 0)) for i in est.info_]
    q.index = pd.DatetimeIndex(aligned.times, name="ds")
    series = TrafficSeries(x, net.node_names, aligned.times, name=f"{est.name} estimate of {loads.name}",
                           meta={"estimator": est.name, "params": est.get_params()})
    notes = list(aligned.notes)
    clipped = sum(int(i.get("clipped", 0)) for i in est.info_)
    if clipped:
        notes.append(f"{clipped} negative demand(s) of the least-squares correction set to 0 (then IPF onto the "
                     "totals)")
    return Estimate(series, q, est.name, est.get_params(), seconds, routing_s, tuple(notes))
