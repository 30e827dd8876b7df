"""The :class:`Network`: nodes and directed links, shared by every stage.

A network is effectively immutable: what-ifs (a failed link, more capacity) return a new one.
Nodes and links are pandas frames indexed by name; the column schemas below give each column's
unit and default, and :meth:`Network.validate` checks them once at construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping

import numpy as np
import networkx as nx
import pandas as pd

from .exceptions import ValidationError
from .units import FIBRE_KM_PER_MS, great_circle_km

__all__ = ["Network", "NODE_SCHEMA", "LINK_SCHEMA"]

#: column -> (unit, default, description). ``None`` default means required.
NODE_SCHEMA: dict[str, tuple[str, object, str]] = {
    "lon": ("degree", np.nan, "longitude (WGS84)"),
    "lat": ("degree", np.nan, "latitude (WGS84)"),
    "region": ("", "", "administrative region or group, used by scenarios"),
    "population": ("people", np.nan, "population served, used as gravity weight"),
}
LINK_SCHEMA: dict[str, tuple[str, object, str]] = {
    "src": ("node", None, "origin node"),
    "dst": ("node", None, "destination node"),
    "capacity": ("bit/s", None, "installed capacity, > 0"),
    "metric": ("", 1.0, "IGP metric, > 0"),
    "length_km": ("km", np.nan, "fibre length; great-circle distance when not given"),
    "latency_ms": ("ms", np.nan, "propagation latency; length_km / 200 km/ms when not given"),
    "srlg": ("", "", "shared-risk link group tags, comma-separated"),
}


@dataclass(frozen=True, eq=False)
class Network:
    """A directed network with capacities.

    Parameters
    ----------
    nodes : DataFrame indexed by node name (str) with columns of :data:`NODE_SCHEMA`.
    links : DataFrame indexed by link name (str) with columns of :data:`LINK_SCHEMA`.
    name : a label for reports.

    Build one with :meth:`from_records` or a reader in :mod:`surgeguard.io`.

    Examples
    --------
    >>> net = Network.from_records(
    ...     nodes=[{"name": "A"}, {"name": "B"}],
    ...     links=[{"src": "A", "dst": "B", "capacity": 10e9}], bidirectional=True)
    >>> net.n_nodes, net.n_links, net.link_names
    (2, 2, ('A->B', 'B->A'))
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    name: str = "network"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(
        cls,
        nodes: Iterable[Mapping] | pd.DataFrame,
        links: Iterable[Mapping] | pd.DataFrame,
        *,
        name: str = "network",
        bidirectional: bool = False,
        default_capacity: float | None = None,
        meta: dict | None = None,
    ) -> "Network":
        """Build a network from node and link records (dicts or frames).

        Node records need ``name``; link records need ``src``, ``dst`` and ``capacity`` (bit/s,
        or pass ``default_capacity``). With ``bidirectional=True`` every link is added in both
        directions with the same attributes. Missing lengths come from the great-circle distance
        of the end points, missing latencies from the length at 200 km/ms.
        """
        nd = pd.DataFrame(list(nodes) if not isinstance(nodes, pd.DataFrame) else nodes)
        if "name" in nd.columns:
            nd = nd.set_index("name")
        nd.index = nd.index.map(str)
        nd.index.name = "node"
        for col, (_, default, _) in NODE_SCHEMA.items():
            if col not in nd.columns:
                nd[col] = default
        nd["region"] = nd["region"].fillna("").astype(str)
        nd = nd[list(NODE_SCHEMA) + [c for c in nd.columns if c not in NODE_SCHEMA]]

        lk = pd.DataFrame(list(links) if not isinstance(links, pd.DataFrame) else links).reset_index(drop=True)
        if lk.empty:
            lk = pd.DataFrame(columns=["src", "dst", "capacity"])
        lk = lk.drop(columns=[c for c in ("name", "link") if c in lk.columns])
        for col in ("src", "dst"):
            if col not in lk.columns:
                raise ValidationError(f"link records need a {col!r} field; got columns {list(lk.columns)}")
            lk[col] = lk[col].map(str)
        if "capacity" not in lk.columns:
            lk["capacity"] = np.nan
        if default_capacity is not None:
            lk["capacity"] = lk["capacity"].fillna(default_capacity)
        for col, (_, default, _) in LINK_SCHEMA.items():
            if col not in lk.columns:
                lk[col] = default
        if bidirectional:
            rev = lk.copy()
            rev["src"], rev["dst"] = lk["dst"].to_numpy(), lk["src"].to_numpy()
            lk = pd.concat([lk, rev], ignore_index=True)
        lk["srlg"] = lk["srlg"].fillna("").astype(str)
        lk["metric"] = pd.to_numeric(lk["metric"], errors="coerce").fillna(1.0).astype(float)
        lk["capacity"] = pd.to_numeric(lk["capacity"], errors="coerce").astype(float)
        # lengths and latencies from coordinates where missing
        known = nd.index
        ok = lk["src"].isin(known) & lk["dst"].isin(known)
        length = pd.to_numeric(lk["length_km"], errors="coerce").astype(float)
        if ok.any():
            s = nd.reindex(lk["src"]); d = nd.reindex(lk["dst"])
            gc = great_circle_km(s["lon"].to_numpy(float), s["lat"].to_numpy(float),
                                 d["lon"].to_numpy(float), d["lat"].to_numpy(float))
            length = length.fillna(pd.Series(gc, index=lk.index))
        lk["length_km"] = length
        lat = pd.to_numeric(lk["latency_ms"], errors="coerce").astype(float)
        lk["latency_ms"] = lat.fillna(lk["length_km"] / FIBRE_KM_PER_MS)
        names = lk["src"] + "->" + lk["dst"]
        dup = names.duplicated(keep=False)
        if dup.any():  # parallel links: A->B#0, A->B#1
            names = names.where(~dup, names + "#" + names.groupby(names).cumcount().astype(str))
        lk.index = pd.Index(names, name="link")
        lk = lk[list(LINK_SCHEMA) + [c for c in lk.columns if c not in LINK_SCHEMA]]
        return cls(nodes=nd, links=lk, name=name, meta=dict(meta or {}))

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check the schema once: unique names, known end points, capacity and metric > 0."""
        nd, lk = self.nodes, self.links
        if nd.index.has_duplicates:
            dups = sorted(set(nd.index[nd.index.duplicated()]))[:5]
            raise ValidationError(f"network {self.name!r}: duplicate node names {dups}; rename them")
        if len(nd) < 2:
            raise ValidationError(f"network {self.name!r} has {len(nd)} node(s); a network needs at least 2")
        unknown = sorted((set(lk["src"]) | set(lk["dst"])) - set(nd.index))
        if unknown:
            raise ValidationError(
                f"network {self.name!r}: links refer to unknown nodes {unknown[:5]}; add them to the nodes")
        loops = lk.index[lk["src"] == lk["dst"]]
        if len(loops):
            raise ValidationError(f"network {self.name!r}: self-loop links {list(loops[:5])}; remove them")
        cap = lk["capacity"].to_numpy(float)
        bad = ~(np.isfinite(cap) & (cap > 0))
        if bad.any():
            names = list(lk.index[bad][:5])
            raise ValidationError(
                f"network {self.name!r}: links {names} have non-positive or missing capacity "
                f"{cap[bad][:5].tolist()} bit/s; give every link a capacity > 0 (or size them with "
                "surgeguard.plan.size_capacities)")
        met = lk["metric"].to_numpy(float)
        bad = ~(np.isfinite(met) & (met > 0))
        if bad.any():
            raise ValidationError(
                f"network {self.name!r}: links {list(lk.index[bad][:5])} have non-positive IGP metric; "
                "use metrics > 0")

    # ------------------------------------------------------------------ views as arrays
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_links(self) -> int:
        return len(self.links)

    @cached_property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self.nodes.index)

    @cached_property
    def link_names(self) -> tuple[str, ...]:
        return tuple(self.links.index)

    @cached_property
    def node_index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.nodes.index)}

    @cached_property
    def src(self) -> np.ndarray:
        """Origin node index of each link."""
        return self.nodes.index.get_indexer(self.links["src"]).astype(np.int64)

    @cached_property
    def dst(self) -> np.ndarray:
        """Destination node index of each link."""
        return self.nodes.index.get_indexer(self.links["dst"]).astype(np.int64)

    @cached_property
    def capacity(self) -> np.ndarray:
        """Capacity of each link in bit/s."""
        return self.links["capacity"].to_numpy(float)

    @cached_property
    def metric(self) -> np.ndarray:
        return self.links["metric"].to_numpy(float)

    @cached_property
    def latency_ms(self) -> np.ndarray:
        lat = self.links["latency_ms"].to_numpy(float)
        return np.where(np.isfinite(lat), lat, 0.0)

    def node_ids(self, names: Iterable[str], what: str = "node") -> np.ndarray:
        """Indices of ``names``; unknown names raise a one-line error listing them."""
        names = [str(n) for n in names]
        idx = self.nodes.index.get_indexer(names)
        if (idx < 0).any():
            bad = sorted({n for n, i in zip(names, idx) if i < 0})
            raise ValidationError(
                f"unknown {what}(s) {bad[:5]} for network {self.name!r}; known nodes start with "
                f"{list(self.node_names[:5])}")
        return idx.astype(np.int64)

    def link_ids(self, names: Iterable[str]) -> np.ndarray:
        names = list(names)
        idx = self.links.index.get_indexer(names)
        if (idx < 0).any():
            bad = [n for n, i in zip(names, idx) if i < 0]
            raise ValidationError(f"unknown link(s) {bad[:5]} in network {self.name!r}; links are named 'A->B'")
        return idx.astype(np.int64)

    # ------------------------------------------------------------------ what-ifs
    def with_capacity(self, capacity) -> "Network":
        """A copy with new capacities: an array in link order, or a ``{link: bit/s}`` mapping."""
        lk = self.links.copy()
        if isinstance(capacity, Mapping):
            idx = self.link_ids(capacity.keys())
            cap = lk["capacity"].to_numpy(float).copy()
            cap[idx] = list(capacity.values())
        else:
            cap = np.broadcast_to(np.asarray(capacity, dtype=float), (self.n_links,))
        lk["capacity"] = cap
        return Network(self.nodes, lk, name=self.name, meta=dict(self.meta))

    def without_links(self, names: Iterable[str]) -> "Network":
        """A copy with the named links removed (a failure)."""
        idx = self.link_ids(names)
        keep = np.ones(self.n_links, bool)
        keep[idx] = False
        return Network(self.nodes, self.links[keep].copy(), name=self.name, meta=dict(self.meta))

    def to_networkx(self):
        """A ``networkx.MultiDiGraph`` with link attributes (``capacity``, ``metric``, ...)."""

        g = nx.MultiDiGraph(name=self.name)
        for n, row in self.nodes.iterrows():
            g.add_node(n, **row.to_dict())
        for lname, row in self.links.iterrows():
            g.add_edge(row["src"], row["dst"], key=lname, **row.drop(["src", "dst"]).to_dict())
        return g

    def describe(self) -> str:
        cap = self.capacity
        return (f"{self.name}: {self.n_nodes} nodes, {self.n_links} directed links, capacity "
                f"{cap.min() / 1e9:.3g}-{cap.max() / 1e9:.3g} Gbit/s")

    def __repr__(self) -> str:
        return f"<Network {self.describe()}>"
