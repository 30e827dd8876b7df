"""Capacity sizing for topologies published without capacities (Topology Zoo, CAIDA, topohub).

The rule, one for all: route the traffic on IGP shortest paths (ECMP), take each link's peak load
over the traffic given, divide by the target utilisation, and round up to a standard port size
(1, 10, 40, 100, 400 Gbit/s; beyond 400G, a bundle of 400G ports). Both directions of a link get the
larger of the two (ports are bidirectional: a circuit of :func:`surgeguard.failures.circuits`).
Links that carry nothing get the smallest port.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ValidationError
from ..failures import circuit_frame
from ..network import Network
from ..paths import k_shortest_paths
from ..routing import ShortestPath
from ..traffic import TrafficSeries

__all__ = ["size_capacities", "STANDARD_PORTS_BPS", "round_to_ports"]

#: standard Ethernet port rates, bit/s
STANDARD_PORTS_BPS = (1e9, 10e9, 40e9, 100e9, 400e9)


def round_to_ports(required_bps: np.ndarray, ports=STANDARD_PORTS_BPS) -> np.ndarray:
    """Smallest standard port >= required; above the largest, a bundle of the largest.

    >>> (round_to_ports(np.array([0.0, 3e9, 120e9, 900e9])) / 1e9).tolist()
    [1.0, 10.0, 400.0, 1200.0]
    """
    ports = np.sort(np.asarray(ports, dtype=float))
    req = np.asarray(required_bps, dtype=float)
    i = np.searchsorted(ports, req, side="left")
    big = i >= len(ports)
    out = ports[np.minimum(i, len(ports) - 1)]
    out[big] = np.ceil(req[big] / ports[-1]) * ports[-1]
    return out


def size_capacities(network: Network, traffic, *, target_util: float = 0.6, ports=STANDARD_PORTS_BPS,
                    symmetric: bool = True, k: int = 4, paths=None) -> Network:
    """A copy of ``network`` with capacities sized for ``traffic`` at ``target_util`` peak utilisation.

    Parameters
    ----------
    traffic : an N x N matrix (bit/s) or a :class:`TrafficSeries` (sized to the peak over its steps).
    target_util : peak utilisation the sizing aims at, in (0, 1].
    """
    if not 0 < target_util <= 1:
        raise ValidationError(f"target utilisation must be in (0, 1], got {target_util}")
    if isinstance(traffic, TrafficSeries):
        mats = traffic.reorder(network.node_names).total
    else:
        mats = np.asarray(traffic, dtype=float)[None]
    if paths is None:
        ps = k_shortest_paths(network, k=k)
    else:
        ps = paths
    routing = ShortestPath().route(network, ps, None)
    d = mats[:, ps.od_src, ps.od_dst]  # (T, n_od)
    flows = d[:, ps.path_od] * routing.splits  # (T, n_paths)
    loads = (ps.incidence @ flows.T).max(axis=1)  # (L,)
    if symmetric:  # both directions of a circuit get the larger load
        circuit, _ = circuit_frame(network)
        peak = np.zeros(circuit.max() + 1 if len(circuit) else 0)
        np.maximum.at(peak, circuit, loads)
        loads = peak[circuit]
    cap = round_to_ports(loads / target_util, ports)
    out = network.with_capacity(cap)
    out.meta.update({"capacity_source": f"sized: shortest-path peak load / {target_util:g}, rounded to ports "
                                        f"{[p / 1e9 for p in ports]} Gbit/s"})
    return out
