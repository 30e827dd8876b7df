"""Link loads: what interface counters say about a network, in bit/s over UTC times.

A :class:`LinkLoads` holds, for each time step, the mean load of every directed link (bit/s, NaN
where nothing measured it) and, when known, each node's ingress and egress totals (the traffic
entering and leaving the network at its customer- and peer-facing interfaces). It is what the
telemetry readers produce (counter files, rate files, Prometheus) and what traffic-matrix
estimation consumes. Arrays inside, long frames at the edges (:meth:`LinkLoads.to_frames`,
:meth:`LinkLoads.from_frames`).

A row stamped ``ds`` is the mean over ``[ds, ds + step)``, as in a
:class:`~surgeguard.TrafficSeries`; :meth:`LinkLoads.from_traffic` gives the exact loads a
measured series puts on the links through the IGP routing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, ValidationError
from ..io.common import one_line, utc_times
from ..network import Network
from ..traffic import DEMAND_RANGE, TrafficSeries, check_unique
from ..units import MAX_RATE_BPS, to_bps

if TYPE_CHECKING:
    from ..igp import RoutingMatrix

__all__ = ["LinkLoads", "LOAD_RANGE", "LINK_COLUMNS", "NODE_COLUMNS", "link_ends",
           "check_rates", "repeated_rows"]

#: Declared range of one measured load (bit/s): ``0 <= x <= MAX_RATE_BPS``; NaN means not measured.
LOAD_RANGE = DEMAND_RANGE

#: Columns of the two long frames (:meth:`LinkLoads.to_frames`).
LINK_COLUMNS = ("ds", "src", "dst", "link", "bps")
NODE_COLUMNS = ("ds", "node", "ingress_bps", "egress_bps")


def link_ends(names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(src, dst)`` node names from link names ``'A->B'`` (``'A->B#1'`` for parallel links);
    empty strings where a name has no ``->``.

    >>> link_ends(["A->B", "B->A#1", "x"])
    (array(['A', 'B', ''], dtype=object), array(['B', 'A', ''], dtype=object))
    """
    src, dst = [], []
    for n in names:
        s, sep, d = str(n).partition("->")
        if not sep:
            s, d = "", ""
        elif "#" in d:
            d = d.rsplit("#", 1)[0]
        src.append(s)
        dst.append(d)
    return np.asarray(src, dtype=object), np.asarray(dst, dtype=object)


def repeated_rows(first: np.ndarray, second: np.ndarray) -> tuple[int, int] | None:
    """The first two rows (0-based, in order) that share ``(first, second)`` (non-negative
    integer codes, e.g. time and link positions), or None when every pair is distinct.

    >>> repeated_rows(np.array([0, 0, 1, 0]), np.array([0, 1, 1, 1]))
    (1, 3)
    """
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    key = first * (int(second.max(initial=0)) + 1) + second
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(np.diff(key[order]) == 0)
    if not len(dup):
        return None
    a, b = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
    return a, b


def check_rates(values: np.ndarray, what: str, where) -> None:
    """Refuse a rate (bit/s) that is negative, infinite or above ``MAX_RATE_BPS``; NaN (not
    measured) passes. ``where(k)`` describes the offending flat position ``k`` for the message.

    >>> check_rates(np.array([1.0, np.nan, -2.0]), "loads", lambda k: f"entry {k}")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: loads: negative rate -2.0 bit/s at entry 2; a rate must be a float in [0, 1e+15] bit/s (leave it empty when not measured)
    """
    v = np.asarray(values, dtype=float).ravel()
    with np.errstate(invalid="ignore"):
        bad = (v < LOAD_RANGE.low) | (v > LOAD_RANGE.high) | np.isinf(v)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        kind = "negative" if v[k] < 0 else "infinite" if np.isinf(v[k]) else "too large"
        raise ValidationError(f"{what}: {kind} rate {float(v[k])!r} bit/s at {where(k)}; a rate must be "
                              f"{LOAD_RANGE.describe()} bit/s (leave it empty when not measured)")


def _names(values, what: str, kind: str) -> tuple[str, ...]:
    names = tuple(str(x) for x in values)
    check_unique(names, f"{what}: duplicate {kind} names", f"give each {kind} once")
    return names


def _matrix(values, shape: tuple[int, int], what: str, field: str) -> np.ndarray:
    try:
        arr = np.array(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{what}: {field} must be numbers in bit/s ({one_line(err)})") from None
    if arr.shape != shape:
        raise ValidationError(f"{what}: {field} has shape {arr.shape}, expected {shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class LinkLoads:
    """Measured link loads and node totals over time, in bit/s.

    Parameters
    ----------
    times : T strictly increasing UTC timestamps (naive = UTC); a row stamped ``ds`` is the mean
        over ``[ds, ds + step)``.
    links : the L distinct link names (``Network.link_names`` order once :meth:`align`-ed).
    bps : (T, L) bit/s, each in :data:`LOAD_RANGE` or NaN (not measured).
    nodes : node names of the totals (N, may be empty).
    ingress, egress : (T, N) bit/s entering / leaving the network at each node (edge interfaces,
        in and out), NaN where unknown; None when no totals were measured.
    capacity : (L,) bit/s per link (from ``ifHighSpeed``), NaN where unknown; None when unknown.
    notes : what the reader saw and handled (counter wraps, resets, gaps), one line each.
    name : a label for messages and reports.

    Examples
    --------
    >>> ll = LinkLoads(["2020-01-01 00:00", "2020-01-01 00:05"], ["A->B", "B->A"],
    ...                [[1e9, np.nan], [2e9, 3e9]])
    >>> len(ll), ll.step, ll.links
    (2, Timedelta('0 days 00:05:00'), ('A->B', 'B->A'))
    >>> print(ll.to_frames()[0].to_string(index=False))
                           ds src dst link          bps
    2020-01-01 00:00:00+00:00   A   B A->B 1000000000.0
    2020-01-01 00:00:00+00:00   B   A B->A          NaN
    2020-01-01 00:05:00+00:00   A   B A->B 2000000000.0
    2020-01-01 00:05:00+00:00   B   A B->A 3000000000.0
    """

    times: pd.DatetimeIndex
    links: tuple[str, ...]
    bps: np.ndarray
    nodes: tuple[str, ...] = ()
    ingress: np.ndarray | None = None
    egress: np.ndarray | None = None
    capacity: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    name: str = "link loads"

    def __post_init__(self):
        what = f"link loads {self.name!r}"
        try:
            times = utc_times(self.times, what) if len(self.times) else pd.DatetimeIndex([], tz="UTC")
        except InputError as err:
            raise ValidationError(str(err)) from None
        if len(times) > 1 and not (np.diff(times.asi8) > 0).all():
            k = int(np.flatnonzero(np.diff(times.asi8) <= 0)[0])
            raise ValidationError(f"{what}: times must increase, but step {k + 1} ({times[k + 1]}) does not come "
                                  f"after step {k} ({times[k]}); sort the steps and drop repeats")
        object.__setattr__(self, "times", times)
        links = _names(self.links, what, "link")
        nodes = _names(self.nodes, what, "node")
        object.__setattr__(self, "links", links)
        object.__setattr__(self, "nodes", nodes)
        T, L, N = len(times), len(links), len(nodes)
        bps = _matrix(self.bps, (T, L), what, "bps")
        check_rates(bps, what, lambda k: f"step {k // L} ({times[k // L]}), link {links[k % L]}")
        object.__setattr__(self, "bps", bps)
        if (self.ingress is None) != (self.egress is None):
            raise ValidationError(f"{what}: give both ingress and egress totals, or neither")
        for field in ("ingress", "egress"):
            val = getattr(self, field)
            if val is None:
                continue
            arr = _matrix(val, (T, N), what, field)
            check_rates(arr, what, lambda k: f"step {k // N} ({times[k // N]}), node {nodes[k % N]} ({field})")
            object.__setattr__(self, field, arr)
        if self.capacity is not None:
            cap = _matrix(self.capacity, (L,), what, "capacity")
            with np.errstate(invalid="ignore"):
                bad = ~np.isnan(cap) & ~((cap > 0) & (cap <= MAX_RATE_BPS))
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise ValidationError(f"{what}: link {links[k]} has capacity {float(cap[k])!r} bit/s; a capacity "
                                      f"must be in (0, {MAX_RATE_BPS:g}] bit/s or NaN when unknown")
            object.__setattr__(self, "capacity", cap)
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.times)

    @property
    def n_links(self) -> int:
        return len(self.links)

    @property
    def has_totals(self) -> bool:
        """Whether node ingress/egress totals are present."""
        return self.ingress is not None

    @property
    def step(self) -> pd.Timedelta | None:
        """The time step (median spacing), or None for a single row."""
        if len(self.times) < 2:
            return None
        return pd.Timedelta(int(np.median(np.diff(self.times.asi8))), unit="ns")

    def _replace(self, **changes) -> "LinkLoads":
        fields = {f: getattr(self, f) for f in ("times", "links", "bps", "nodes", "ingress", "egress", "capacity",
                                                 "notes", "name")}
        fields.update(changes)
        return LinkLoads(**fields)

    def window(self, start, stop) -> "LinkLoads":
        """Rows ``start`` to ``stop - 1`` (integers), or the rows stamped in ``[start, stop)``
        (times; naive = UTC).

        >>> ll = LinkLoads(pd.date_range("2020-01-01", periods=4, freq="5min"), ["A->B"], [[1.0], [2], [3], [4]])
        >>> ll.window(1, 3).bps.ravel().tolist(), len(ll.window("2020-01-01 00:05", "2020-01-01 00:15"))
        ([2.0, 3.0], 2)
        """
        if isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer)):
            sl = slice(int(start), int(stop))
        else:
            a, b = utc_times([start, stop], f"link loads {self.name!r} window")
            sl = slice(int(self.times.searchsorted(a)), int(self.times.searchsorted(b)))
        tot = {} if self.ingress is None else {"ingress": self.ingress[sl], "egress": self.egress[sl]}
        return self._replace(times=self.times[sl], bps=self.bps[sl], **tot)

    def align(self, network: Network) -> "LinkLoads":
        """The same loads over ``network.link_names`` and ``network.node_names``.

        A link or node here that the network lacks is an :class:`InputError` naming it; network
        links (nodes) without a measurement get NaN loads (totals), said in ``notes``.
        """
        what = f"link loads {self.name!r}"
        lpos = pd.Index(network.link_names).get_indexer(list(self.links))
        if (lpos < 0).any():
            bad = [l for l, p in zip(self.links, lpos) if p < 0]
            raise InputError(f"{what} name link(s) {bad[:5]} that network {network.name!r} lacks; links are named "
                             f"'src->dst' (known: {list(network.link_names[:3])}...); fix the names or the network")
        notes = list(self.notes)
        T, L = len(self), network.n_links
        bps = np.full((T, L), np.nan)
        bps[:, lpos] = self.bps
        missing = sorted(set(network.link_names) - set(self.links), key=network.link_names.index)
        if missing:
            notes.append(f"{len(missing)} link(s) of network {network.name!r} not measured, loads unknown (NaN): "
                         f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
        cap = None
        if self.capacity is not None:
            cap = np.full(L, np.nan)
            cap[lpos] = self.capacity
        ingress = egress = None
        if self.ingress is not None:
            npos = pd.Index(network.node_names).get_indexer(list(self.nodes))
            if (npos < 0).any():
                bad = [n for n, p in zip(self.nodes, npos) if p < 0]
                raise InputError(f"{what} give totals for node(s) {bad[:5]} that network {network.name!r} lacks; "
                                 "fix the names or the network")
            ingress = np.full((T, network.n_nodes), np.nan)
            egress = np.full((T, network.n_nodes), np.nan)
            ingress[:, npos] = self.ingress
            egress[:, npos] = self.egress
            nmiss = [n for n in network.node_names if n not in set(self.nodes)]
            if nmiss:
                notes.append(f"{len(nmiss)} node(s) without totals, unknown (NaN): {', '.join(nmiss[:10])}"
                             f"{' ...' if len(nmiss) > 10 else ''}")
        return self._replace(links=network.link_names, bps=bps, nodes=network.node_names if ingress is not None
                             else (), ingress=ingress, egress=egress, capacity=cap, notes=tuple(notes))

    # ------------------------------------------------------------------ long frames
    def to_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(links, nodes)`` long frames: ``ds, src, dst, link, bps`` (one row per time and link,
        NaN where not measured) and ``ds, node, ingress_bps, egress_bps`` (empty without totals)."""
        T, L = self.bps.shape
        src, dst = link_ends(self.links)
        links = pd.DataFrame({"ds": self.times.repeat(L), "src": np.tile(src, T), "dst": np.tile(dst, T),
                              "link": np.tile(np.asarray(self.links, dtype=object), T), "bps": self.bps.ravel()})
        if self.ingress is None:
            nodes = pd.DataFrame({"ds": pd.DatetimeIndex([], tz="UTC"), "node": pd.Series([], dtype=object),
                                  "ingress_bps": pd.Series([], dtype=float), "egress_bps": pd.Series([], dtype=float)})
        else:
            N = len(self.nodes)
            nodes = pd.DataFrame({"ds": self.times.repeat(N), "node": np.tile(np.asarray(self.nodes, dtype=object), T),
                                  "ingress_bps": self.ingress.ravel(), "egress_bps": self.egress.ravel()})
        return links, nodes

    @classmethod
    def from_frames(cls, links_df: pd.DataFrame, nodes_df: pd.DataFrame | None = None,
                    network: Network | None = None, *, name: str = "link loads", what: str | None = None,
                    nodes_what: str | None = None, notes: Sequence[str] = (), rate_col: str = "bps") -> "LinkLoads":
        """Build from long frames: links ``ds, bps`` and ``src, dst`` or ``link``; nodes
        ``ds, node, ingress_bps, egress_bps``.

        Rows name links by ``link`` (``'A->B'``) or by ``src, dst`` (with a ``network``; a pair
        joined by parallel links needs ``link``). A (ds, link) missing from the frame, or an empty
        ``bps``, is not measured (NaN). With a ``network`` the result is :meth:`align`-ed to it and
        every row must name one of its links and nodes. ``rate_col`` names the rate column by its
        unit (``bps``, ``kbps``, ``mbps``, ``gbps``). ``what`` / ``nodes_what`` name the sources
        in messages (e.g. the file); errors give the data row, the value and the fix.

        >>> df = pd.DataFrame({"ds": ["2020-01-01"] * 2, "src": ["A", "B"], "dst": ["B", "A"], "bps": [1e9, 2e9]})
        >>> LinkLoads.from_frames(df).bps.tolist()
        [[1000000000.0, 2000000000.0]]
        """
        what = what or f"link loads {name!r}"
        if not isinstance(links_df, pd.DataFrame):
            raise ValidationError(f"{what}: expected a DataFrame, got {type(links_df).__name__}")
        have_pair = "src" in links_df.columns and "dst" in links_df.columns
        missing = [c for c in ("ds", rate_col) if c not in links_df.columns]
        if missing or not (have_pair or "link" in links_df.columns):
            need = missing + ([] if have_pair or "link" in links_df.columns else ["src, dst (or link)"])
            raise InputError(f"{what} lacks columns {need}; expected ds, src, dst, {rate_col} (or ds, link, "
                             f"{rate_col}) (got {list(links_df.columns)})")
        link_names = _link_column(links_df, network, what)
        raw = _rate_column(links_df[rate_col], what, rate_col)
        with np.errstate(over="ignore", invalid="ignore"):
            bps = np.asarray(to_bps(raw, rate_col), dtype=float)
        given = (lambda k: "") if rate_col == "bps" else (lambda k: f", {float(raw[k])!r} {rate_col}")
        check_rates(bps, what, lambda k: f"data row {k + 1} ({link_names[k]}{given(k)})")
        ds = utc_times(links_df["ds"], what)
        tot = None
        if nodes_df is not None:
            nwhat = nodes_what or f"node totals {name!r}"
            tot = _parse_totals(nodes_df, nwhat, network) + (nwhat,)
        times = ds.unique() if tot is None else ds.unique().union(tot[0].unique())
        times = times.sort_values()
        link_order = list(dict.fromkeys(link_names)) if network is None else list(network.link_names)
        lpos = pd.Index(link_order).get_indexer(link_names)
        ti = times.get_indexer(ds)
        _check_repeats(ti, lpos, ds, link_names, what, "link")
        out = np.full((len(times), len(link_order)), np.nan)
        out[ti, lpos] = bps
        extra = list(notes)
        n_empty = int(np.isnan(bps).sum())
        if n_empty:
            extra.append(f"{what}: {n_empty} empty {rate_col} value(s), loads unknown there (NaN)")
        n_absent = out.size - len(bps)
        if n_absent:
            extra.append(f"{what}: {n_absent} (ds, link) value(s) absent from the rows, loads unknown there (NaN)")
        kw = {}
        if tot is not None:
            tds, nodes, ing, eg, nwhat = tot
            node_order = list(dict.fromkeys(nodes)) if network is None else list(network.node_names)
            npos = pd.Index(node_order).get_indexer(nodes)
            nti = times.get_indexer(tds)
            _check_repeats(nti, npos, tds, nodes, nwhat, "node")
            ingress = np.full((len(times), len(node_order)), np.nan)
            egress = np.full((len(times), len(node_order)), np.nan)
            ingress[nti, npos] = ing
            egress[nti, npos] = eg
            kw = {"nodes": tuple(node_order), "ingress": ingress, "egress": egress}
        loads = cls(times, tuple(link_order), out, notes=tuple(extra), name=name, **kw)
        return loads if network is None else loads.align(network)

    def with_node_totals(self, nodes_df: pd.DataFrame, network: Network, *, what: str | None = None) -> "LinkLoads":
        """The same link loads with the node totals of ``nodes_df`` (``ds, node, ingress_bps,
        egress_bps``) over ``network.node_names`` at this object's times, replacing any it had;
        missing (time, node) totals are NaN, rows at other times are left out (both said in
        ``notes``)."""
        what = what or "node totals"
        tds, nodes, ing, eg = _parse_totals(nodes_df, what, network)
        ti = self.times.get_indexer(tds)
        ni = pd.Index(network.node_names).get_indexer(nodes)
        keep = ti >= 0
        _check_repeats(ti[keep], ni[keep], tds[keep], [n for n, k in zip(nodes, keep) if k], what, "node")
        T, N = len(self), network.n_nodes
        ingress, egress = np.full((T, N), np.nan), np.full((T, N), np.nan)
        ingress[ti[keep], ni[keep]] = ing[keep]
        egress[ti[keep], ni[keep]] = eg[keep]
        notes = list(self.notes) + [f"node totals from {what}"]
        if (~keep).any():
            notes.append(f"{what}: {int((~keep).sum())} row(s) at times without link loads left out")
        if np.isnan(ingress).any():
            notes.append(f"{what}: {int(np.isnan(ingress).sum())} (time, node) total(s) missing, unknown (NaN)")
        return self._replace(nodes=network.node_names, ingress=ingress, egress=egress, notes=tuple(notes))

    @classmethod
    def from_traffic(cls, routing_matrix: "RoutingMatrix", series: TrafficSeries, *,
                     name: str | None = None) -> "LinkLoads":
        """The exact loads ``series`` puts on the links of ``routing_matrix.network`` through its
        IGP routing, with node totals: ``ingress[t, i] = sum_j tm[t, i, j]`` and
        ``egress[t, j] = sum_i tm[t, i, j]`` (self-traffic, the diagonal, included: it enters and
        leaves the network at that node but crosses no link). Traffic classes are summed."""
        net = routing_matrix.network
        ts = series.reorder(net.node_names)
        tm = ts.total
        unreachable = getattr(routing_matrix, "reachable", None)
        if unreachable is not None and not np.all(unreachable):
            lost = routing_matrix.od_vector(tm)[:, ~unreachable]
            if lost.any():
                t, q = np.argwhere(lost > 0)[0]
                p = np.flatnonzero(~unreachable)[q]
                s, d = net.node_names[routing_matrix.od_src[p]], net.node_names[routing_matrix.od_dst[p]]
                raise ValidationError(f"traffic {series.name!r} has demand {float(lost[t, q]):g} bit/s from {s} to "
                                      f"{d} at {ts.times[t]}, but network {net.name!r} has no path between them; "
                                      "fix the network or drop that demand")
        bps = np.asarray(routing_matrix.loads(tm), dtype=float)
        with np.errstate(invalid="ignore"):
            bps = np.where(bps < 0, 0.0, bps)  # -0.0 and rounding below zero
        return cls(ts.times, net.link_names, bps, nodes=net.node_names, ingress=tm.sum(axis=2),
                   egress=tm.sum(axis=1), capacity=net.capacity.copy(),
                   notes=(f"computed from traffic {series.name!r} through the IGP routing of network {net.name!r}",),
                   name=name or f"{series.name} link loads")

    def __repr__(self) -> str:
        span = f"{self.times[0]} .. {self.times[-1]}" if len(self) else "empty"
        tot = f", totals at {len(self.nodes)} nodes" if self.ingress is not None else ""
        return f"<LinkLoads {self.name!r}: {len(self)} x {self.n_links} links bit/s, {span}{tot}>"


# ---------------------------------------------------------------------- frame helpers
def _label_column(col: pd.Series, what: str, field: str) -> list[str]:
    empty = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        k = int(np.flatnonzero(empty)[0])
        raise InputError(f"{what}: data row {k + 1} has no {field}; fill every {field} cell")
    return [str(x).strip() for x in col.to_numpy(object)]


def _rate_column(col: pd.Series, what: str, field: str) -> np.ndarray:
    """A rate column as floats; empty cells are NaN (not measured), other text is an error.
    Text is converted with Python's exact float parsing (pandas' numeric parser may be 1 ulp off)."""
    if col.dtype.kind == "b":
        raise InputError(f"{what}: column {field} holds true/false values; give rates as numbers in bit/s")
    if col.dtype.kind in "iuf":
        return col.to_numpy(dtype=float, na_value=np.nan)
    cells = col.astype(object).to_numpy()
    text = pd.Series(cells, dtype=object).astype(str).str.strip()
    blank = col.isna().to_numpy() | (text == "").to_numpy()
    if not any(isinstance(x, (bool, np.bool_)) for x in cells[:1]):
        try:  # fast path: every cell is a number or empty
            return np.where(blank, np.nan, np.where(blank, "nan", text.to_numpy(str)).astype(float))
        except ValueError:
            pass  # find and name the bad cell below
    out = np.full(len(cells), np.nan)
    for k, x in enumerate(cells):
        if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
            continue
        text = str(x).strip()
        if not text or isinstance(x, (bool, np.bool_)):
            if text:
                raise InputError(f"{what}: {field} {text!r} in data row {k + 1} is not a number; give rates in bit/s")
            continue
        try:
            out[k] = float(text)
        except ValueError:
            raise InputError(f"{what}: {field} {text!r} in data row {k + 1} is not a number; give rates in bit/s "
                             "(leave the cell empty when not measured)") from None
    return out


def _parse_totals(nodes_df: pd.DataFrame, what: str, network: Network | None):
    """``(times, nodes, ingress, egress)`` of a node totals frame, every value checked."""
    if not isinstance(nodes_df, pd.DataFrame):
        raise ValidationError(f"{what}: expected a DataFrame, got {type(nodes_df).__name__}")
    need = [c for c in NODE_COLUMNS if c not in nodes_df.columns]
    if need:
        raise InputError(f"{what} lacks columns {need}; expected {', '.join(NODE_COLUMNS)} "
                         f"(got {list(nodes_df.columns)})")
    nodes = _label_column(nodes_df["node"], what, "node")
    if network is not None:
        _check_known(nodes, network.node_names, what, "node", f"{network.name!r}; fix the name or the network")
    ing = _rate_column(nodes_df["ingress_bps"], what, "ingress_bps")
    eg = _rate_column(nodes_df["egress_bps"], what, "egress_bps")
    check_rates(ing, what, lambda k: f"data row {k + 1} (node {nodes[k]}, ingress_bps)")
    check_rates(eg, what, lambda k: f"data row {k + 1} (node {nodes[k]}, egress_bps)")
    return utc_times(nodes_df["ds"], what), nodes, ing, eg


def _check_known(names: list[str], known: Sequence[str], what: str, kind: str, tail: str) -> None:
    pos = pd.Index(known).get_indexer(names)
    if (pos < 0).any():
        k = int(np.flatnonzero(pos < 0)[0])
        raise InputError(f"{what}: {kind} {names[k]!r} in data row {k + 1} is not in network {tail}")


def _link_column(df: pd.DataFrame, network: Network | None, what: str) -> list[str]:
    """Link names of every row: the ``link`` column, else ``src->dst`` (checked against ``network``)."""
    if "link" in df.columns:
        names = _label_column(df["link"], what, "link")
        if network is not None:
            _check_known(names, network.link_names, what, "link",
                         f"{network.name!r}; links are named 'src->dst' (e.g. {network.link_names[0]!r})")
        return names
    src = _label_column(df["src"], what, "src")
    dst = _label_column(df["dst"], what, "dst")
    names = [f"{s}->{d}" for s, d in zip(src, dst)]
    if network is None:
        return names
    by_pair: dict[tuple[str, str], list[str]] = {}
    for lname, s, d in zip(network.link_names, network.links["src"], network.links["dst"]):
        by_pair.setdefault((s, d), []).append(lname)
    pairs = pd.MultiIndex.from_tuples(list(by_pair))
    count = np.array([len(v) for v in by_pair.values()])
    pos = pairs.get_indexer(pd.MultiIndex.from_arrays([src, dst]))
    n = np.where(pos >= 0, count[pos], 0)
    if (n != 1).any():
        k = int(np.flatnonzero(n != 1)[0])
        if n[k] == 0:
            raise InputError(f"{what}: data row {k + 1} names link {src[k]}->{dst[k]}, which network "
                             f"{network.name!r} lacks; fix src/dst or the network")
        raise InputError(f"{what}: data row {k + 1} names {src[k]}->{dst[k]}, which {n[k]} parallel links join; "
                         "give a link column with the link names (e.g. A->B#0)")
    first = np.asarray([v[0] for v in by_pair.values()], dtype=object)
    return list(first[pos])


def _check_repeats(ti: np.ndarray, pos: np.ndarray, ds: pd.DatetimeIndex, labels: list[str], what: str,
                   kind: str) -> None:
    rep = repeated_rows(ti, pos)
    if rep is not None:
        a, b = rep
        raise InputError(f"{what}: data rows {a + 1} and {b + 1} both give ({ds[a]}, {kind} {labels[a]}); "
                         f"give each {kind} once per time")
