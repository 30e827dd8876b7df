"""Evaluate a routing on a traffic matrix: loads, utilisation, MLU, congestion, loss, stretch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..network import Network
from ..routing.routing import Routing

__all__ = ["Evaluation", "evaluate", "link_loss_fraction", "path_loss_fraction", "OVERLOAD_RTOL"]

#: A link counts as overloaded when its load exceeds capacity by more than this relative margin
#: (the LP's own tolerance: a routing at exactly 100% loses nothing).
OVERLOAD_RTOL = 1e-9


def link_loss_fraction(load: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The loss model, for every stage: the fraction of each link's traffic that is dropped.

    A link whose load exceeds its capacity (beyond :data:`OVERLOAD_RTOL`) drops ``1 - capacity /
    load`` of every flow crossing it: the excess, charged in proportion to rate. ``load`` may
    have extra trailing axes (one column per scenario or class).

    >>> link_loss_fraction(np.array([5.0, 20.0]), np.array([10.0, 10.0])).tolist()
    [0.0, 0.5]
    """
    load = np.asarray(load, dtype=float)
    cap = np.asarray(capacity, dtype=float).reshape((-1,) + (1,) * (load.ndim - 1))
    over = load > cap * (1.0 + OVERLOAD_RTOL)
    return np.where(over, 1.0 - cap / np.where(load > 0, load, 1.0), 0.0)


def path_loss_fraction(paths, load: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """(n_paths,) fraction of each path's flow that is lost: the largest link loss along the path.

    A flow dropped at its first congested hop is not counted again downstream, so the loss of a
    path is the maximum, not the sum, of its links' loss fractions.
    """
    return paths.path_max(link_loss_fraction(load, capacity))


@dataclass(frozen=True, eq=False)
class Evaluation:
    """What a routing does to one traffic matrix.

    Attributes
    ----------
    link_load : (n_links,) bit/s offered to each link.
    util : (n_links,) load / capacity.
    mlu : maximum link utilisation.
    congested : names of links with utilisation > 1.
    demand_bps : total demand routed, bit/s.
    lost_bps : traffic that does not fit. A link with load above capacity drops the fraction
        1 - capacity / load of every flow crossing it (the excess, charged in proportion to rate);
        a path loses the largest such fraction along it, so one flow's loss is not counted again
        at each congested hop downstream.
    latency_stretch : demand-weighted mean of (path latency / the OD's lowest-latency candidate).
    """

    network: Network
    link_load: np.ndarray
    util: np.ndarray
    mlu: float
    congested: tuple[str, ...]
    demand_bps: float
    lost_bps: float
    latency_stretch: float

    @property
    def worst_link(self) -> str:
        return self.network.link_names[int(np.argmax(self.util))]

    def links_frame(self) -> pd.DataFrame:
        """One row per link: src, dst, capacity, load_bps, util."""
        lk = self.network.links
        return pd.DataFrame({"src": lk["src"], "dst": lk["dst"], "capacity": lk["capacity"],
                             "load_bps": self.link_load, "util": self.util}, index=lk.index)

    def as_dict(self) -> dict:
        return {"mlu": self.mlu, "congested_links": len(self.congested), "worst_link": self.worst_link,
                "demand_bps": self.demand_bps, "lost_bps": self.lost_bps,
                "latency_stretch": self.latency_stretch}


def evaluate(network: Network, routing: Routing, tm: np.ndarray) -> Evaluation:
    """Evaluate ``routing`` on the N x N matrix ``tm`` (bit/s).

    >>> import numpy as np
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.routing import k_shortest_paths, Routing
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((net.n_nodes,) * 2); tm[0, -1] = 15e9
    >>> ev = evaluate(net, Routing.first_path(ps), tm)
    >>> round(ev.mlu, 2), round(ev.lost_bps / 1e9, 2)
    (1.5, 5.0)
    """
    ps = routing.paths
    ps.check_network(network)
    flows = routing.path_flows(tm)
    R = ps.incidence
    load = R @ flows
    cap = network.capacity
    util = load / cap
    over = load > cap * (1.0 + OVERLOAD_RTOL)
    lost = flows * path_loss_fraction(ps, load, cap)
    d = ps.demand(tm)
    # latency stretch against the best candidate of each OD
    ref = ps.od_min(ps.latency_ms)[ps.path_od]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ref > 0, ps.latency_ms / np.where(ref > 0, ref, 1.0), 1.0)
    total = flows.sum()
    stretch = float((flows * ratio).sum() / total) if total > 0 else 1.0
    return Evaluation(network, load, util, float(util.max()) if len(util) else 0.0,
                      tuple(np.asarray(network.link_names, dtype=object)[over]), float(d.sum()),
                      float(lost.sum()), stretch)
