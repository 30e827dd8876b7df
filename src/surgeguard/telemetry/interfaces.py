"""Which router interface is which link: the interface map, as data.

Counters arrive per interface, labelled ``(instance, ifName)`` as ``snmp_exporter``'s ``if_mib``
module labels them. An :class:`InterfaceMap` says what each interface measures:

* ``role = core``: a backbone interface on ``node``. Its **out** octets are the load of the
  directed link ``link`` (which starts at ``node``); its **in** octets are the load of
  ``in_link`` (by default the reverse link ``dst->src`` when exactly one exists).
* ``role = edge`` (synonyms ``customer``, ``peer``): a customer- or peer-facing interface; its in
  octets add to the node's ingress total, its out octets to the node's egress total.

Map files (CSV or Parquet) have the columns ``instance, ifName, node, role, link`` and optionally
``in_link, ifIndex, ifAlias``. :meth:`InterfaceMap.default` is the naming the telemetry simulator
uses; :meth:`InterfaceMap.from_network` reads ``ifName`` link and ``instance`` node attributes of
a topology. Arrays inside: :meth:`InterfaceMap.rates_to_loads` turns per-interface rates into
:class:`~surgeguard.telemetry.LinkLoads` and :meth:`InterfaceMap.interface_rates_from_loads` goes
back.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, ValidationError
from ..network import Network
from ..io.common import read_table
from .loads import LinkLoads

__all__ = ["InterfaceMap", "read_interface_map", "TelemetryWarning", "ROLES", "MAP_COLUMNS"]

#: Accepted ``role`` values and what they mean.
ROLES: dict[str, str] = {"core": "core", "edge": "edge", "customer": "edge", "peer": "edge"}

#: Columns of a map file, required first.
MAP_COLUMNS = ("instance", "ifName", "node", "role", "link", "in_link", "ifIndex", "ifAlias")
_REQUIRED = ("instance", "ifName", "node", "role")


class TelemetryWarning(UserWarning):
    """Telemetry that is usable but incomplete: a link no interface measures, a node without
    edge interface (its totals are unknown), interfaces the map does not know."""


def _listing(names: Sequence[str], limit: int = 10) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (f" ... ({len(names)} in all)" if len(names) > limit else "")


@dataclass(frozen=True, eq=False)
class InterfaceMap:
    """The interfaces of a network and what each measures (see the module docstring).

    Build one with :meth:`from_frame`, :func:`read_interface_map`, :meth:`from_network` or
    :meth:`default`; they validate. Arrays are in interface order (``n_interfaces``).

    Attributes
    ----------
    network : Network
    instance, ifname, if_alias : tuple of str, one per interface
    node : (n,) int, the node index of each interface
    core : (n,) bool, True for backbone interfaces, False for edge ones
    link, in_link : (n,) int, the link index each interface's out / in octets measure, -1 for none
    if_index : (n,) int, ``ifIndex`` or -1 when not given
    notes : what validation saw (warnings), one line each

    Examples
    --------
    >>> from surgeguard.examples import triangle
    >>> m = InterfaceMap.default(triangle())
    >>> print(m.to_frame().head(2).to_string(index=False))
    instance   ifName node role link in_link  ifIndex ifAlias
           A et-0/0/0    A core A->B    B->A        1    to B
           B et-0/0/0    B core B->C    C->B        1    to C
    """

    network: Network
    instance: tuple[str, ...]
    ifname: tuple[str, ...]
    node: np.ndarray
    core: np.ndarray
    link: np.ndarray
    in_link: np.ndarray
    if_index: np.ndarray
    if_alias: tuple[str, ...]
    notes: tuple[str, ...] = ()
    name: str = "interface map"

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.instance)

    @property
    def n_interfaces(self) -> int:
        return len(self.instance)

    @cached_property
    def out_of_link(self) -> np.ndarray:
        """(L,) the interface whose out octets measure each link, -1 for none."""
        out = np.full(self.network.n_links, -1, dtype=np.int64)
        k = np.flatnonzero(self.link >= 0)
        out[self.link[k]] = k
        return out

    @cached_property
    def in_of_link(self) -> np.ndarray:
        """(L,) the interface whose in octets measure each link, -1 for none."""
        out = np.full(self.network.n_links, -1, dtype=np.int64)
        k = np.flatnonzero(self.in_link >= 0)
        out[self.in_link[k]] = k
        return out

    @cached_property
    def edge_count(self) -> np.ndarray:
        """(N,) the number of edge interfaces on each node."""
        return np.bincount(self.node[~self.core], minlength=self.network.n_nodes)

    def lookup(self, instance: Sequence[str], ifname: Sequence[str]) -> np.ndarray:
        """Positions in this map of the interfaces ``(instance[k], ifname[k])``, -1 for unknown ones.

        >>> from surgeguard.examples import triangle
        >>> m = InterfaceMap.default(triangle())
        >>> pos = m.lookup(["B", "Z"], ["ae0", "ae0"])
        >>> m.instance[pos[0]], m.ifname[pos[0]], int(pos[1])
        ('B', 'ae0', -1)
        """
        key = pd.MultiIndex.from_arrays([np.asarray(instance, dtype=str), np.asarray(ifname, dtype=str)])
        return self._index.get_indexer(key).astype(np.int64)

    @cached_property
    def _index(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_arrays([np.asarray(self.instance, dtype=str), np.asarray(self.ifname, dtype=str)])

    # ------------------------------------------------------------------ rates <-> loads
    def rates_to_loads(self, in_bps, out_bps, times, *, speed_bps=None, notes: Sequence[str] = (),
                       name: str = "link loads") -> LinkLoads:
        """Link loads and node totals from per-interface rates.

        Parameters
        ----------
        in_bps, out_bps : (T, n_interfaces) bit/s in this map's interface order, NaN = unknown.
        times : the T row times (UTC; a row is the mean over ``[ds, ds + step)``).
        speed_bps : (n_interfaces,) interface speeds in bit/s (``ifHighSpeed`` * 1e6), NaN where
            unknown; gives the loads' ``capacity`` (the speed of the interface measuring a link).
        notes : carried into the result, before the lines added here.

        Returns
        -------
        LinkLoads
            Over ``network.link_names`` / ``node_names``. A link's load is the out rate of its
            core interface, or, where that is unknown, the in rate of the far end's interface
            (``in_link``); NaN when neither measures it. Ingress (egress) is the sum of the in
            (out) rates of a node's edge interfaces, NaN when one of them is unknown or the node
            has none; ``ingress``/``egress`` are None when the map has no edge interface.

        >>> from surgeguard.examples import triangle
        >>> m = InterfaceMap.default(triangle())
        >>> i, o = np.zeros((1, len(m))), np.arange(len(m), dtype=float)[None] * 1e6
        >>> m.rates_to_loads(i, o, ["2020-01-01"]).bps[0, :2].tolist()
        [0.0, 1000000.0]
        """
        n, L = self.n_interfaces, self.network.n_links
        times = pd.DatetimeIndex(times) if not isinstance(times, pd.DatetimeIndex) else times
        T = len(times)
        in_bps = np.asarray(in_bps, dtype=float)
        out_bps = np.asarray(out_bps, dtype=float)
        for arr, label in ((in_bps, "in_bps"), (out_bps, "out_bps")):
            if arr.shape != (T, n):
                raise ValidationError(f"{self.name}: {label} has shape {arr.shape}, expected ({T}, {n}) "
                                      "(times x interfaces in map order)")
        notes = list(notes)
        bps = np.full((T, L), np.nan)
        has_out = self.out_of_link >= 0
        bps[:, has_out] = out_bps[:, self.out_of_link[has_out]]
        has_in = self.in_of_link >= 0
        fill = np.isnan(bps) & has_in[None, :]
        if fill.any():
            far = np.full((T, L), np.nan)
            far[:, has_in] = in_bps[:, self.in_of_link[has_in]]
            bps[fill] = far[fill]
            filled = fill & ~np.isnan(far)
            if filled.any():
                names = [self.network.link_names[l] for l in np.flatnonzero(filled.any(axis=0))]
                notes.append(f"{int(filled.sum())} link load(s) taken from the far end's in counter where the "
                             f"out counter was unknown: {_listing(names)}")
        ingress = egress = None
        edge = np.flatnonzero(~self.core)
        if len(edge):
            N = self.network.n_nodes
            ingress, egress = np.zeros((N, T)), np.zeros((N, T))
            np.add.at(ingress, self.node[edge], in_bps[:, edge].T)
            np.add.at(egress, self.node[edge], out_bps[:, edge].T)
            none = self.edge_count == 0
            ingress[none] = np.nan
            egress[none] = np.nan
            ingress, egress = ingress.T, egress.T
        capacity = None
        if speed_bps is not None:
            speed = np.asarray(speed_bps, dtype=float)
            if speed.shape != (n,):
                raise ValidationError(f"{self.name}: speed_bps has shape {speed.shape}, expected ({n},)")
            capacity = np.full(L, np.nan)
            for of in (self.in_of_link, self.out_of_link):  # out wins: written last
                ok = of >= 0
                val = speed[of[ok]]
                cap = capacity[ok]
                capacity[ok] = np.where(np.isfinite(val) & (val > 0), val, cap)
        kw = {} if ingress is None else {"nodes": self.network.node_names, "ingress": ingress, "egress": egress}
        return LinkLoads(times, self.network.link_names, bps, capacity=capacity, notes=tuple(notes), name=name, **kw)

    def interface_rates_from_loads(self, loads: LinkLoads) -> tuple[np.ndarray, np.ndarray]:
        """``(in_bps, out_bps)``, each (T, n_interfaces): the rates every interface sees when the
        network carries ``loads`` (the inverse of :meth:`rates_to_loads`, for the simulator).

        A core interface's out rate is the load of its link and its in rate the load of its
        ``in_link`` (0 when it has none: nothing is routed into it); an edge interface's in
        (out) rate is its node's ingress (egress), shared equally between the node's edge
        interfaces. ``loads`` needs node totals when the map has edge interfaces.
        """
        if loads.links != self.network.link_names or (loads.has_totals and loads.nodes != self.network.node_names):
            loads = loads.align(self.network)
        T = len(loads)
        in_bps, out_bps = np.zeros((T, self.n_interfaces)), np.zeros((T, self.n_interfaces))
        core = np.flatnonzero(self.core)
        out_bps[:, core] = loads.bps[:, self.link[core]]
        has_in = core[self.in_link[core] >= 0]
        in_bps[:, has_in] = loads.bps[:, self.in_link[has_in]]
        edge = np.flatnonzero(~self.core)
        if len(edge):
            if not loads.has_totals:
                raise ValidationError(f"{self.name}: link loads {loads.name!r} have no node totals, which the map's "
                                      f"{len(edge)} edge interfaces need; give ingress and egress totals")
            share = 1.0 / self.edge_count[self.node[edge]]
            in_bps[:, edge] = loads.ingress[:, self.node[edge]] * share
            out_bps[:, edge] = loads.egress[:, self.node[edge]] * share
        return in_bps, out_bps

    # ------------------------------------------------------------------ frames
    def to_frame(self) -> pd.DataFrame:
        """The map as a frame with the columns of :data:`MAP_COLUMNS` (``in_link`` written out;
        empty strings for none, ``ifIndex`` missing as <NA>)."""
        links = np.asarray(self.network.link_names + ("",), dtype=object)
        nodes = np.asarray(self.network.node_names, dtype=object)
        return pd.DataFrame({
            "instance": list(self.instance), "ifName": list(self.ifname), "node": nodes[self.node],
            "role": np.where(self.core, "core", "edge").astype(object), "link": links[self.link],
            "in_link": links[self.in_link],
            "ifIndex": pd.array([int(i) if i >= 0 else pd.NA for i in self.if_index], dtype="Int64"),
            "ifAlias": list(self.if_alias)})

    @classmethod
    def from_frame(cls, df: pd.DataFrame, network: Network, *, what: str | None = None,
                   name: str = "interface map") -> "InterfaceMap":
        """Build and validate a map from a frame with the columns of :data:`MAP_COLUMNS`
        (names matched without regard to case).

        Raises :class:`InputError`, naming the data row, for a missing cell, an unknown role,
        node or link (an interface that maps to no link), a core link that does not start at its
        node (an ``in_link`` that does not end there), a repeated ``(instance, ifName)`` and a
        link claimed by two interfaces. Warns (:class:`TelemetryWarning`, also kept in
        ``notes``) for links no interface measures (their loads will be NaN) and nodes without
        an edge interface (their totals will be unknown).
        """
        what = what or name
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"{what}: expected a DataFrame, got {type(df).__name__}")
        lower = {str(c).strip().lower(): c for c in df.columns}
        missing = [c for c in _REQUIRED if c.lower() not in lower]
        if missing:
            raise InputError(f"{what} lacks columns {missing}; expected {', '.join(MAP_COLUMNS[:5])} "
                             f"[, {', '.join(MAP_COLUMNS[5:])}] (got {list(df.columns)})")
        if len(df) == 0:
            raise InputError(f"{what} has no rows; give one row per interface")

        def col(c: str, required: bool) -> np.ndarray:
            if c.lower() not in lower:
                return np.full(len(df), "", dtype=object)
            raw = df[lower[c.lower()]]
            vals = np.asarray([("" if pd.isna(x) else str(x).strip()) for x in raw.to_numpy(object)], dtype=object)
            if required and (vals == "").any():
                k = int(np.flatnonzero(vals == "")[0])
                raise InputError(f"{what}: data row {k + 1} has no {c}; fill every {', '.join(_REQUIRED)} cell")
            return vals

        instance, ifname, node_s, role_s = (col(c, True) for c in _REQUIRED)
        link_s, in_s, alias = col("link", False), col("in_link", False), col("ifAlias", False)
        role_key = np.asarray([r.lower() for r in role_s], dtype=object)
        bad = ~np.isin(role_key, list(ROLES))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"{what}: role {role_s[k]!r} in data row {k + 1} is not a role; use core (a backbone "
                             "interface of a link) or edge (customer or peer facing; also 'customer', 'peer')")
        core = np.asarray([ROLES[r] == "core" for r in role_key], dtype=bool)
        node = pd.Index(network.node_names).get_indexer(node_s.astype(str))
        if (node < 0).any():
            k = int(np.flatnonzero(node < 0)[0])
            raise InputError(f"{what}: node {node_s[k]!r} in data row {k + 1} is not in network {network.name!r}; "
                             f"fix the name (nodes start with {list(network.node_names[:3])})")
        lidx = pd.Index(network.link_names)
        link = np.where(link_s == "", -1, lidx.get_indexer(link_s.astype(str))).astype(np.int64)
        given_in = np.where(in_s == "", -1, lidx.get_indexer(in_s.astype(str))).astype(np.int64)
        for k in range(len(df)):
            if core[k]:
                if link_s[k] == "":
                    raise InputError(f"{what}: core interface {instance[k]}/{ifname[k]} in data row {k + 1} has no "
                                     "link; give the directed link its out octets measure (src->dst)")
                if link[k] < 0:
                    raise InputError(f"{what}: interface {instance[k]}/{ifname[k]} in data row {k + 1} maps to no "
                                     f"link: {link_s[k]!r} is not a link of network {network.name!r}; links are "
                                     f"named 'src->dst' (e.g. {network.link_names[0]!r})")
                if network.src[link[k]] != node[k]:
                    raise InputError(f"{what}: interface {instance[k]}/{ifname[k]} in data row {k + 1} is on node "
                                     f"{node_s[k]} but link {link_s[k]} starts at "
                                     f"{network.node_names[network.src[link[k]]]}; a core interface's link starts "
                                     "at its node")
                if in_s[k] != "":
                    if given_in[k] < 0:
                        raise InputError(f"{what}: in_link {in_s[k]!r} in data row {k + 1} is not a link of network "
                                         f"{network.name!r}; fix it or leave it empty for the reverse link")
                    if network.dst[given_in[k]] != node[k]:
                        raise InputError(f"{what}: in_link {in_s[k]} in data row {k + 1} does not end at node "
                                         f"{node_s[k]}; the in octets of an interface measure a link into its node")
            elif link_s[k] != "" or in_s[k] != "":
                raise InputError(f"{what}: edge interface {instance[k]}/{ifname[k]} in data row {k + 1} names a "
                                 "link; leave link and in_link empty for edge interfaces, or set role core")
        if_index = _if_index(df[lower["ifindex"]] if "ifindex" in lower else None, len(df), what)
        key = pd.MultiIndex.from_arrays([instance.astype(str), ifname.astype(str)])
        dup = key.duplicated(keep=False)
        if dup.any():
            a, b = np.flatnonzero(dup)[:2]
            same = np.flatnonzero((instance == instance[a]) & (ifname == ifname[a]))
            raise InputError(f"{what}: data rows {same[0] + 1} and {same[1] + 1} both describe interface "
                             f"{instance[a]}/{ifname[a]}; give each (instance, ifName) once")
        _check_claims(link, what, "its out octets", network)
        _check_claims(given_in, what, "its in octets (in_link)", network)
        in_link = _default_in_links(network, core, link, given_in)
        self = cls(network, tuple(str(x) for x in instance), tuple(str(x) for x in ifname), node.astype(np.int64),
                   core, link, in_link, if_index, tuple(str(x) for x in alias), (), name)
        notes = []
        seen = np.zeros(network.n_links, bool)
        seen[link[link >= 0]] = True
        seen[in_link[in_link >= 0]] = True
        if not seen.all():
            names = [network.link_names[l] for l in np.flatnonzero(~seen)]
            notes.append(f"{what}: {len(names)} link(s) have no interface, their loads will be unknown (NaN): "
                         f"{_listing(names)}")
        if (self.edge_count == 0).any():
            names = [network.node_names[i] for i in np.flatnonzero(self.edge_count == 0)]
            notes.append(f"{what}: {len(names)} node(s) have no edge (customer/peer) interface, their ingress and "
                         f"egress totals will be unknown: {_listing(names)}")
        for line in notes:
            warnings.warn(line, TelemetryWarning, stacklevel=2)
        object.__setattr__(self, "notes", tuple(notes))
        return self

    @classmethod
    def default(cls, network: Network) -> "InterfaceMap":
        """The naming the telemetry simulator uses: instance = node name; the core interfaces of
        each node numbered in link order ``et-0/0/{k}`` (``ifIndex`` k + 1, ``ifAlias``
        ``'to <dst>'``); one edge interface ``ae0`` per node (``ifIndex`` 1000, ``ifAlias``
        ``'customers'``)."""
        src = np.asarray(network.links["src"], dtype=object)
        dst = np.asarray(network.links["dst"], dtype=object)
        k = pd.Series(src).groupby(src).cumcount().to_numpy()
        core = pd.DataFrame({"instance": src, "ifName": [f"et-0/0/{i}" for i in k], "node": src, "role": "core",
                             "link": list(network.link_names), "ifIndex": k + 1, "ifAlias": [f"to {d}" for d in dst]})
        nodes = list(network.node_names)
        edge = pd.DataFrame({"instance": nodes, "ifName": "ae0", "node": nodes, "role": "edge", "link": "",
                             "ifIndex": 1000, "ifAlias": "customers"})
        return cls.from_frame(pd.concat([core, edge], ignore_index=True), network, name="default interface map")

    @classmethod
    def from_network(cls, network: Network) -> "InterfaceMap":
        """The map a topology carries: link attribute ``ifName`` (the interface at the link's
        source whose out octets measure it; optional ``ifIndex``, ``ifAlias``), node attribute
        ``instance`` (the exporter's instance label; default the node name) and node attribute
        ``edge_ifName`` (comma-separated customer/peer interfaces). Links without ``ifName`` are
        unmeasured (a warning names them)."""
        lk, nd = network.links, network.nodes
        if "ifName" not in lk.columns:
            raise InputError(f"network {network.name!r} carries no 'ifName' link attribute; give an interface map "
                             "file (instance, ifName, node, role, link) or use the default naming")
        inst = {n: (str(v).strip() if "instance" in nd.columns and not pd.isna(v) and str(v).strip() else n)
                for n, v in zip(nd.index, nd["instance"] if "instance" in nd.columns else nd.index)}
        rows = []
        for lname, row in lk.iterrows():
            ifn = row.get("ifName")
            if ifn is None or pd.isna(ifn) or not str(ifn).strip():
                continue
            rows.append({"instance": inst[row["src"]], "ifName": str(ifn).strip(), "node": row["src"], "role": "core",
                         "link": lname, "ifIndex": row.get("ifIndex"), "ifAlias": row.get("ifAlias")})
        if "edge_ifName" in nd.columns:
            for n, v in nd["edge_ifName"].items():
                if v is None or pd.isna(v):
                    continue
                for ifn in str(v).split(","):
                    if ifn.strip():
                        rows.append({"instance": inst[n], "ifName": ifn.strip(), "node": n, "role": "edge", "link": ""})
        if not rows:
            raise InputError(f"network {network.name!r}: no link has an ifName; give an interface map file")
        return cls.from_frame(pd.DataFrame(rows), network, name=f"interfaces of network {network.name!r}")

    def __repr__(self) -> str:
        return (f"<InterfaceMap {self.name!r}: {int(self.core.sum())} core and {int((~self.core).sum())} edge "
                f"interfaces on network {self.network.name!r}>")


def read_interface_map(path, network: Network) -> InterfaceMap:
    """Read an interface map file (CSV or Parquet, columns of :data:`MAP_COLUMNS`) for
    ``network`` and validate it (:meth:`InterfaceMap.from_frame`); messages name the file."""
    df = read_table(path, "interface map", dtype=str)
    return InterfaceMap.from_frame(df, network, what=f"interface map {str(path)!r}", name=f"interface map {path}")


def _if_index(raw: pd.Series | None, n: int, what: str) -> np.ndarray:
    if raw is None:
        return np.full(n, -1, dtype=np.int64)
    out = np.full(n, -1, dtype=np.int64)
    for k, x in enumerate(raw.to_numpy(object)):
        if x is None or pd.isna(x) or (isinstance(x, str) and not x.strip()):
            continue
        text = str(x).strip()
        try:
            v = float(text)
        except ValueError:
            v = -1.0
        if not (v >= 0 and v == int(v) and v < 2**31):
            raise InputError(f"{what}: ifIndex {text!r} in data row {k + 1} is not a non-negative integer; fix it "
                             "or leave it empty")
        out[k] = int(v)
    return out


def _check_claims(idx: np.ndarray, what: str, how: str, network: Network) -> None:
    ok = np.flatnonzero(idx >= 0)
    counts = np.bincount(idx[ok], minlength=network.n_links)
    if (counts > 1).any():
        l = int(np.flatnonzero(counts > 1)[0])
        rows = ok[idx[ok] == l][:2] + 1
        raise InputError(f"{what}: data rows {rows[0]} and {rows[1]} both measure link {network.link_names[l]} with "
                         f"{how}; one interface measures each link in each direction")


def _default_in_links(network: Network, core: np.ndarray, link: np.ndarray, given: np.ndarray) -> np.ndarray:
    """``in_link`` of every interface: the given one, else (core) the reverse of its link when
    exactly one exists and no other interface claims it; -1 otherwise."""
    out = given.copy()
    rev_key = pd.MultiIndex.from_arrays([network.dst, network.src])
    fwd_key = pd.MultiIndex.from_arrays([network.src, network.dst])
    n_pair = pd.Series(1, index=fwd_key).groupby(level=[0, 1]).size()
    counts = n_pair.reindex(rev_key).fillna(0).to_numpy(int)  # links dst->src, per link
    first = pd.Series(np.arange(network.n_links), index=fwd_key).groupby(level=[0, 1]).first()
    reverse = np.where(counts == 1, first.reindex(rev_key).fillna(-1).to_numpy(), -1).astype(np.int64)
    want = core & (out < 0)
    cand = np.where(want, reverse[np.maximum(link, 0)], -1)
    taken = np.zeros(network.n_links + 1, np.int64)
    np.add.at(taken, np.where(cand >= 0, cand, network.n_links), 1)
    np.add.at(taken, np.where(out >= 0, out, network.n_links), 1)
    ok = (cand >= 0) & (taken[np.maximum(cand, 0)] == 1)
    out[ok] = cand[ok]
    return out
