"""Telemetry files: interface counters and link rates, long CSV or Parquet.

* **Counters**: ``ds, instance, ifName, in_octets, out_octets`` (``ds`` ISO 8601, UTC or with an
  offset, naive = UTC; octets as whole numbers up to ``2**64 - 1``, read exactly) and optionally
  ``speed_mbps`` (``ifHighSpeed``, Mbit/s). Rates come from :mod:`~surgeguard.telemetry.counters`
  (wraps, resets and gaps handled and reported in ``notes``) and become link loads through an
  :class:`~surgeguard.telemetry.InterfaceMap`.
* **Rates**: ``ds, src, dst, bps`` per directed link (or ``ds, link, bps``; the rate column may be
  named by another unit: ``kbps``, ``mbps``, ``gbps``), plus node totals
  ``ds, node, ingress_bps, egress_bps`` in a second file.

:func:`read_link_loads` tells the two apart by their columns. Writers go through
:mod:`surgeguard.io.output`: atomic, CSV or Parquet by suffix.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import InputError
from ..io.output import atomic_path, make_output_dir
from ..io.traffic import RATE_COLUMNS
from ..network import Network
from .counters import COUNTER_COLUMNS, InterfaceCounters
from .interfaces import InterfaceMap, read_interface_map
from ..io.common import read_table, utc_times
from .loads import LinkLoads

__all__ = ["read_counters", "write_counters", "read_link_loads", "write_link_loads", "read_node_totals",
           "interface_map_for"]


def _suffix(path, what: str) -> str:
    low = Path(path).name.lower()
    if low.endswith(".parquet") or low.endswith(".pq"):
        return "parquet"
    if ".csv" in low:
        return "csv"
    raise InputError(f"{what} {str(path)!r}: unknown extension; use .csv or .parquet")


def _write(df: pd.DataFrame, path, what: str) -> Path:
    """Write ``df`` atomically, CSV (ISO times with offset) or Parquet by suffix."""
    kind = _suffix(path, what)
    p = Path(path).expanduser()
    make_output_dir(p.parent)
    with atomic_path(p) as tmp:
        if kind == "parquet":
            df.to_parquet(tmp, index=False)
        else:  # ISO times with offset, each distinct time formatted once
            codes, stamps = pd.factorize(df["ds"])
            stamps = pd.DatetimeIndex(stamps)
            fine = bool(len(stamps)) and bool((stamps.microsecond != 0).any() or (stamps.nanosecond != 0).any())
            fmt = "%Y-%m-%dT%H:%M:%S.%f%z" if fine else "%Y-%m-%dT%H:%M:%S%z"
            text = np.asarray(stamps.strftime(fmt), dtype=object)
            df.assign(ds=text[codes] if len(codes) else df["ds"]).to_csv(tmp, index=False)
    return p


# ---------------------------------------------------------------------- counters
def read_counters(path, *, name: str | None = None) -> InterfaceCounters:
    """Read an octet-counter file (see the module docstring) into
    :class:`~surgeguard.telemetry.InterfaceCounters`; ``.rates()`` gives bit/s per interface.

    Raises
    ------
    InputError
        If the file cannot be read, lacks a column, or a row has a bad time, counter or speed, or
        repeats a (ds, instance, ifName); the message names the file, column, data row and value.
    """
    df = read_table(path, "counters", dtype=str, nullable=True)
    return InterfaceCounters.from_frame(df, what=f"counters {str(path)!r}", name=name or Path(path).name)


def write_counters(counters, path) -> Path:
    """Write counters (an :class:`~surgeguard.telemetry.InterfaceCounters` or a long frame with
    the counter columns) to ``path`` (``.csv`` or ``.parquet``), atomically; counters stay exact
    64-bit integers. Returns the path.

    >>> import tempfile, os
    >>> df = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=2, freq="5min", tz="UTC"), "instance": "r1",
    ...                    "ifName": "ae0", "in_octets": np.array([2**64 - 1, 10], dtype=np.uint64),
    ...                    "out_octets": np.array([0, 1], dtype=np.uint64)})
    >>> f = write_counters(df, os.path.join(tempfile.mkdtemp(), "c.csv"))
    >>> read_counters(f).in_octets[:, 0].tolist()
    [18446744073709551615, 10]
    """
    if isinstance(counters, InterfaceCounters):
        df = counters.to_frame()
    elif isinstance(counters, pd.DataFrame):
        lower = {str(c).lower(): c for c in counters.columns}
        need = [c for c in COUNTER_COLUMNS[:5] if c.lower() not in lower]
        if need:
            raise InputError(f"write_counters: the frame lacks columns {need}; expected "
                             f"{', '.join(COUNTER_COLUMNS[:5])} [, speed_mbps]")
        df = counters.rename(columns={lower[c.lower()]: c for c in COUNTER_COLUMNS if c.lower() in lower})
        df = df[[c for c in COUNTER_COLUMNS if c in df.columns]].copy()
        df["ds"] = utc_times(df["ds"], "write_counters")
    else:
        raise InputError(f"write_counters: expected InterfaceCounters or a DataFrame, got {type(counters).__name__}")
    return _write(df, path, "counters file")


# ---------------------------------------------------------------------- link loads
def interface_map_for(network: Network, interfaces=None) -> tuple[InterfaceMap, list[str]]:
    """The interface map to read counters with, and a note saying where it came from:
    ``interfaces`` (an :class:`InterfaceMap` or a map file), else the topology's own attributes
    (:meth:`InterfaceMap.from_network`, when its links carry ``ifName``), else the simulator's
    naming (:meth:`InterfaceMap.default`)."""
    if isinstance(interfaces, InterfaceMap):
        if interfaces.network.link_names != network.link_names or interfaces.network.node_names != network.node_names:
            raise InputError(f"{interfaces.name} belongs to network {interfaces.network.name!r}, not "
                             f"{network.name!r}; build the map for the network the loads are read for")
        return interfaces, []
    if interfaces is not None:
        imap = read_interface_map(interfaces, network)
        return imap, [f"interfaces mapped by {str(interfaces)!r}"]
    if "ifName" in network.links.columns:
        return InterfaceMap.from_network(network), [f"interfaces mapped by the ifName attributes of network "
                                                    f"{network.name!r}"]
    return InterfaceMap.default(network), ["no interface map given: interfaces assumed named as the simulator "
                                           "names them (instance = node, et-0/0/k in link order, ae0 for customers)"]


def read_node_totals(path, network: Network | None = None) -> pd.DataFrame:
    """Read a node totals file ``ds, node, ingress_bps, egress_bps`` (CSV or Parquet) as a frame
    (values checked when it joins link loads, :meth:`LinkLoads.from_frames`)."""
    df = read_table(path, "node totals", dtype=str)
    lower = {c.lower(): c for c in df.columns}
    need = [c for c in ("ds", "node", "ingress_bps", "egress_bps") if c not in lower]
    if need:
        raise InputError(f"node totals {str(path)!r} lack columns {need}; expected ds, node, ingress_bps, egress_bps "
                         f"(got {list(df.columns)})")
    return df.rename(columns={lower[c]: c for c in ("ds", "node", "ingress_bps", "egress_bps")})


def read_link_loads(path, network: Network, *, interfaces=None, node_totals=None, max_gap: int = 3,
                    tolerance: float = 0.1, step=None, name: str | None = None) -> LinkLoads:
    """Read link loads from a counters file or a rates file, told apart by the columns.

    Parameters
    ----------
    path : str or Path
        CSV or Parquet: counters ``ds, instance, ifName, in_octets, out_octets[, speed_mbps]``,
        or rates ``ds, src, dst, bps`` / ``ds, link, bps`` (``kbps``, ``mbps``, ``gbps`` also).
    network : Network
        The links and nodes the loads are for; the result is aligned to its order.
    interfaces : InterfaceMap or path, optional
        For counters: which interface measures which link (see :func:`interface_map_for` for
        the default). Ignored for rates.
    node_totals : path, optional
        A totals file ``ds, node, ingress_bps, egress_bps``. For counters it replaces the totals
        from edge interfaces (said in ``notes``).
    max_gap, tolerance, step
        For counters: see :func:`~surgeguard.telemetry.counter_rates` and
        :meth:`InterfaceCounters.rates`.

    Returns
    -------
    LinkLoads
        Over ``network.link_names``; unmeasured links NaN; ``notes`` says what was handled.

    Raises
    ------
    InputError
        If the file has neither the counter nor the rate columns, or a value, name or row is bad
        (the message names the file, the column, the data row and the value).
    """
    what = f"link loads {str(path)!r}"
    df = read_table(path, "link loads", dtype=str, nullable=True)
    lower = {c.lower(): c for c in df.columns}
    label = name or Path(path).name
    totals = read_node_totals(node_totals, network) if node_totals is not None else None
    twhat = f"node totals {str(node_totals)!r}"
    if "in_octets" in lower or "out_octets" in lower:
        counters = InterfaceCounters.from_frame(df, what=what, name=label)
        imap, notes = interface_map_for(network, interfaces)
        rates = counters.rates(max_gap=max_gap, tolerance=tolerance, step=step)
        loads = rates.to_link_loads(imap, name=label)
        loads = replace(loads, notes=tuple(notes) + loads.notes)
        if totals is not None:
            loads = loads.with_node_totals(totals, network, what=twhat)
        return loads
    rate = [lower[k] for k in RATE_COLUMNS if k in lower]
    has_links = "link" in lower or ("src" in lower and "dst" in lower)
    if "ds" not in lower or len(rate) != 1 or not has_links:
        raise InputError(f"{what}: neither counters ({', '.join(COUNTER_COLUMNS[:5])}) nor rates (ds, src, dst, bps "
                         f"or ds, link, bps; the rate column may be {', '.join(RATE_COLUMNS)}, one of them) "
                         f"(got {list(df.columns)}); fix the header")
    cols = {lower[c]: c for c in ("ds", "src", "dst", "link") if c in lower}
    cols[rate[0]] = rate[0].lower()
    frame = df[list(cols)].rename(columns=cols)
    return LinkLoads.from_frames(frame, totals, network, name=label, what=what, nodes_what=twhat,
                                 rate_col=rate[0].lower())


def write_link_loads(loads: LinkLoads, path, *, node_totals=None) -> Path:
    """Write ``loads`` as a rates file ``ds, src, dst, link, bps`` (every time and link; NaN,
    unmeasured, as an empty cell) to ``path``, and, with ``node_totals``, its totals as
    ``ds, node, ingress_bps, egress_bps`` there; CSV or Parquet by suffix, atomically. Returns the
    rates file's path; :func:`read_link_loads` reads both back to the same loads.
    """
    if not isinstance(loads, LinkLoads):
        raise InputError(f"write_link_loads: expected LinkLoads, got {type(loads).__name__}")
    links, nodes = loads.to_frames()
    if node_totals is not None:
        if not loads.has_totals:
            raise InputError(f"write_link_loads: link loads {loads.name!r} have no node totals to write to "
                             f"{str(node_totals)!r}; leave node_totals out")
        _suffix(node_totals, "node totals file")
    out = _write(links, path, "link loads file")
    if node_totals is not None:
        _write(nodes, node_totals, "node totals file")
    return out
