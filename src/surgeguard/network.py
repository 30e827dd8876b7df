"""The :class:`Network`: nodes and directed links, shared by every stage.

A network is effectively immutable: what-ifs (a failed link, more capacity) return a new one.
Nodes and links are pandas frames indexed by name; the column schemas below give each column's
unit and default, and :meth:`Network.validate` checks them once at construction.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping

import numpy as np
import networkx as nx
import pandas as pd

from .exceptions import ValidationError
from .units import (FIBRE_KM_PER_MS, MAX_LATENCY_MS, MAX_LENGTH_KM, MAX_METRIC, MAX_RATE_BPS,
                    great_circle_km)
from .validation import Interval, NoneOr, check_param

__all__ = ["Network", "NODE_SCHEMA", "LINK_SCHEMA", "LINK_RANGES", "NODE_RANGES", "as_float"]

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

#: Declared ranges of the numeric link columns, checked by :meth:`Network.validate` and by every
#: reader (which names the file). ``length_km`` and ``latency_ms`` may also be missing (NaN).
#: The bounds are :data:`surgeguard.units.MAX_RATE_BPS` and its neighbours (see there why).
LINK_RANGES: dict[str, Interval] = {
    "capacity": Interval(float, 0, MAX_RATE_BPS, closed="right"),
    "metric": Interval(float, 0, MAX_METRIC, closed="right"),
    "length_km": Interval(float, 0, MAX_LENGTH_KM),
    "latency_ms": Interval(float, 0, MAX_LATENCY_MS),
}

#: Declared ranges of the numeric node columns (each may be missing, NaN). Coordinates are only
#: required to be finite: planar layouts (topohub's gabriel graphs) use x/y beyond +-180/+-90.
NODE_RANGES: dict[str, Interval] = {
    "lon": Interval(float, None, None),
    "lat": Interval(float, None, None),
    "population": Interval(float, 0, None),
}

_UNITS = {"capacity": " bit/s", "length_km": " km", "latency_ms": " ms", "metric": "", "lon": "", "lat": "",
          "population": ""}


def as_float(x) -> float | None:
    """``x`` as a float, NaN for a missing value (None, NaN, pandas NA), or ``None`` when it is not a number.

    Numbers and numeric text (``'1e9'``, ``' 5 '``) are numbers; booleans, other text
    (``'10 Gbps'``) and containers are not. Integers too large for a float give ``inf``.

    >>> as_float("2.5e9"), as_float(None), as_float("10 Gbps"), as_float(True)
    (2500000000.0, nan, None, None)
    """
    if x is None or x is pd.NA or x is pd.NaT:
        return float("nan")
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (numbers.Real, np.integer, np.floating)):
        try:
            return float(x)
        except OverflowError:
            return float("inf") if x > 0 else float("-inf")
    if isinstance(x, str):
        try:
            return float(x.strip())
        except ValueError:
            return None
    return None


def _float_column(frame: pd.DataFrame, col: str, what: str, row_names) -> pd.Series:
    """A column as floats (missing stays NaN); a given value that is not a number is an error."""
    raw = frame[col]
    if raw.dtype.kind in "fiu":
        return raw.astype(float)
    vals = [as_float(x) for x in raw.to_numpy(object)]
    bad = [k for k, v in enumerate(vals) if v is None]
    if bad:
        k = bad[0]
        unit = _UNITS.get(col, "")
        raise ValidationError(f"{what} {row_names[k]!r} has {col} {raw.iloc[k]!r}, which is not a number; "
                              f"give {col} as a number{' in' + unit if unit else ''}")
    return pd.Series(vals, index=frame.index, dtype=float)


def _out_of_range(values: np.ndarray, rng: Interval, allow_nan: bool) -> np.ndarray:
    """Mask of ``values`` outside ``rng`` (NaN is outside unless ``allow_nan``)."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values)
        if rng.low is not None:
            ok &= values >= rng.low if rng.closed in ("both", "left") else values > rng.low
        if rng.high is not None:
            ok &= values <= rng.high if rng.closed in ("both", "right") else values < rng.high
    if allow_nan:
        ok |= np.isnan(values)
    return ~ok


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
        check_param("Network.from_records", "default_capacity", default_capacity,
                    [NoneOr(), LINK_RANGES["capacity"]])
        nd = pd.DataFrame(list(nodes) if not isinstance(nodes, pd.DataFrame) else nodes)
        if "name" in nd.columns:
            nd = nd.set_index("name")
        nd.index = nd.index.map(str)
        nd.index.name = "node"
        if nd.index.has_duplicates:
            dups = sorted(set(nd.index[nd.index.duplicated()]))[:5]
            raise ValidationError(f"network {name!r}: duplicate node names {dups}; rename them")
        for col, (_, default, _) in NODE_SCHEMA.items():
            if col not in nd.columns:
                nd[col] = default
        nd["region"] = nd["region"].fillna("").astype(str)
        for col in NODE_RANGES:
            nd[col] = _float_column(nd, col, f"network {name!r}: node", list(nd.index))
        nd = nd[list(NODE_SCHEMA) + [c for c in nd.columns if c not in NODE_SCHEMA]]

        lk = pd.DataFrame(list(links) if not isinstance(links, pd.DataFrame) else links).reset_index(drop=True)
        if len(lk) == 0:
            raise ValidationError(f"network {name!r} has {len(nd)} nodes but no links; give at least one link")
        lk = lk.drop(columns=[c for c in ("name", "link") if c in lk.columns])
        for col in ("src", "dst"):
            if col not in lk.columns:
                raise ValidationError(f"link records need a {col!r} field; got columns {list(lk.columns)}")
            lk[col] = lk[col].map(str)
        if "capacity" not in lk.columns:
            lk["capacity"] = np.nan
        for col, (_, default, _) in LINK_SCHEMA.items():
            if col not in lk.columns:
                lk[col] = default
        labels = list(lk["src"] + "->" + lk["dst"])
        for col in LINK_RANGES:
            lk[col] = _float_column(lk, col, f"network {name!r}: link", labels)
        if default_capacity is not None:
            lk["capacity"] = lk["capacity"].fillna(float(default_capacity))
        lk["metric"] = lk["metric"].fillna(1.0)
        if bidirectional:
            rev = lk.copy()
            rev["src"], rev["dst"] = lk["dst"].to_numpy(), lk["src"].to_numpy()
            lk = pd.concat([lk, rev], ignore_index=True)
        lk["srlg"] = lk["srlg"].fillna("").astype(str)
        # lengths and latencies from coordinates where missing
        known = nd.index
        ok = lk["src"].isin(known) & lk["dst"].isin(known)
        length = lk["length_km"]
        if ok.any():
            s = nd.reindex(lk["src"]); d = nd.reindex(lk["dst"])
            gc = great_circle_km(s["lon"].to_numpy(float), s["lat"].to_numpy(float),
                                 d["lon"].to_numpy(float), d["lat"].to_numpy(float))
            length = length.fillna(pd.Series(gc, index=lk.index))
        lk["length_km"] = length
        lk["latency_ms"] = lk["latency_ms"].fillna(lk["length_km"] / FIBRE_KM_PER_MS)
        names = lk["src"] + "->" + lk["dst"]
        dup = names.duplicated(keep=False)
        if dup.any():  # parallel links: A->B#0, A->B#1
            names = names.where(~dup, names + "#" + names.groupby(names).cumcount().astype(str))
        lk.index = pd.Index(names, name="link")
        lk = lk[list(LINK_SCHEMA) + [c for c in lk.columns if c not in LINK_SCHEMA]]
        return cls(nodes=nd, links=lk, name=name, meta=dict(meta or {}))

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check the schema once: unique names, known end points, and every numeric column in its
        declared range (:data:`LINK_RANGES`, :data:`NODE_RANGES`). A network without links is
        refused where one is built (:meth:`from_records`, the readers) but allowed here: a
        what-if may fail every link."""
        nd, lk = self.nodes, self.links
        if not isinstance(nd, pd.DataFrame) or not isinstance(lk, pd.DataFrame):
            raise ValidationError(f"network {self.name!r}: nodes and links must be DataFrames; build one with "
                                  "Network.from_records")
        if nd.index.has_duplicates:
            dups = sorted(set(map(str, nd.index[nd.index.duplicated()])))[:5]
            raise ValidationError(f"network {self.name!r}: duplicate node names {dups}; rename them")
        if len(nd) < 2:
            raise ValidationError(f"network {self.name!r} has {len(nd)} node(s); a network needs at least 2")
        missing = [c for c in ("src", "dst", "capacity", "metric") if c not in lk.columns]
        if missing:
            raise ValidationError(f"network {self.name!r}: links lack columns {missing}; build the network with "
                                  "Network.from_records")
        if lk.index.has_duplicates:
            dups = sorted(set(map(str, lk.index[lk.index.duplicated()])))[:5]
            raise ValidationError(f"network {self.name!r}: duplicate link names {dups}; give each link once")
        unknown = sorted((set(lk["src"]) | set(lk["dst"])) - set(nd.index), key=str)
        if unknown:
            raise ValidationError(
                f"network {self.name!r}: links refer to unknown nodes {unknown[:5]}; add them to the nodes")
        loops = lk.index[lk["src"] == lk["dst"]]
        if len(loops):
            raise ValidationError(f"network {self.name!r}: self-loop links {list(loops[:5])}; remove them")
        for col, rng in LINK_RANGES.items():
            if col in lk.columns:
                self._check_range(lk, col, rng, "link", allow_nan=col in ("length_km", "latency_ms"))
        for col, rng in NODE_RANGES.items():
            if col in nd.columns:
                self._check_range(nd, col, rng, "node", allow_nan=True)

    def _check_range(self, frame: pd.DataFrame, col: str, rng: Interval, kind: str, allow_nan: bool) -> None:
        try:
            values = frame[col].to_numpy(float)
        except (TypeError, ValueError):
            raise ValidationError(f"network {self.name!r}: {kind} column {col!r} holds values that are not "
                                  f"numbers; give {col} as numbers") from None
        bad = _out_of_range(values, rng, allow_nan)
        if not bad.any():
            return
        k = int(np.flatnonzero(bad)[0])
        unit = _UNITS.get(col, "")
        more = f" ({int(bad.sum())} {kind}s in all)" if bad.sum() > 1 else ""
        hint = ""
        if col == "capacity":
            hint = (" (give every link a capacity, or size them with surgeguard.plan.size_capacities)"
                    if np.isnan(values[k]) else "")
            what = "missing capacity" if np.isnan(values[k]) else f"capacity {float(values[k])!r}{unit}"
        else:
            what = f"{col} {float(values[k])!r}{unit}"
        raise ValidationError(f"network {self.name!r}: {kind} {str(frame.index[k])!r} has {what}{more}; "
                              f"{col} must be {rng.describe()}{unit}{hint}")

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
        idx = self.link_ids(capacity.keys()) if isinstance(capacity, Mapping) else None
        try:
            if idx is not None:
                cap = lk["capacity"].to_numpy(float).copy()
                cap[idx] = np.asarray(list(capacity.values()), dtype=float)
            else:
                cap = np.broadcast_to(np.asarray(capacity, dtype=float), (self.n_links,))
        except (TypeError, ValueError) as err:
            raise ValidationError(f"network {self.name!r}: new capacities must be numbers in bit/s, one per link "
                                  f"({self.n_links}); {err}") from None
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
