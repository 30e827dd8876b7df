"""Evaluate a routing on a traffic matrix: loads, utilisation, MLU, congestion, loss, stretch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..network import Network
from ..routing.routing import Routing

__all__ = ["Evaluation", "evaluate"]


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
    over = util > 1.0
    # loss: each path loses flow * the largest (1 - cap/load) over its congested links
    frac = np.where(over, 1.0 - cap / np.where(load > 0, load, 1.0), 0.0)
    path_frac = np.maximum.reduceat(frac[ps.link_idx], ps.link_ptr[:-1]) if ps.n_paths else np.zeros(0)
    lost = flows * path_frac
    d = ps.demand(tm)
    # latency stretch against the best candidate of each OD
    best = np.minimum.reduceat(ps.latency_ms, ps.od_ptr[:-1]) if ps.n_od else np.zeros(0)
    ref = best[ps.path_od]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ref > 0, ps.latency_ms / np.where(ref > 0, ref, 1.0), 1.0)
    total = flows.sum()
    stretch = float((flows * ratio).sum() / total) if total > 0 else 1.0
    return Evaluation(network, load, util, float(util.max()) if len(util) else 0.0,
                      tuple(np.asarray(network.link_names, dtype=object)[over]), float(d.sum()),
                      float(lost.sum()), stretch)
