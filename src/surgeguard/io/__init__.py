"""Readers and writers: topologies to :class:`~surgeguard.Network`, traffic to
:class:`~surgeguard.TrafficSeries` (bit/s, UTC).

Topologies: :func:`read_network` dispatches to :func:`read_topohub`, :func:`read_sndlib_network`,
:func:`read_node_link_json`, :func:`read_graphml` and :func:`read_cfrrl`.
Traffic: :func:`read_traffic` dispatches to :func:`read_sndlib_demands`, :func:`read_zhang`,
:func:`read_dote_hist` and :func:`read_frame`; :func:`write_frame` writes the long format;
:func:`read_tunnels` reads DOTE/FIGRET candidate paths.
"""

from .common import PLACEHOLDER_CAPACITY
from .topology import (ABILENE_NODES, GEANT_NODES, read_cfrrl, read_graphml, read_network,
                       read_node_link_json, read_sndlib_network, read_topohub, topohub_keys)
from .traffic import (RATE_COLUMNS, read_dote_hist, read_frame, read_sndlib_demands, read_traffic,
                      read_tunnels, read_zhang, write_frame)

__all__ = [
    "ABILENE_NODES",
    "GEANT_NODES",
    "PLACEHOLDER_CAPACITY",
    "RATE_COLUMNS",
    # topologies
    "read_network",
    "read_topohub",
    "topohub_keys",
    "read_sndlib_network",
    "read_node_link_json",
    "read_graphml",
    "read_cfrrl",
    # traffic
    "read_traffic",
    "read_sndlib_demands",
    "read_zhang",
    "read_dote_hist",
    "read_frame",
    "write_frame",
    "read_tunnels",
]
