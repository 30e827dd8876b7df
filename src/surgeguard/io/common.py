"""Helpers shared by the readers: opening files, node lists, naming rules, placeholder capacity."""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import os
import stat
import zlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, ValidationError
from ..network import LINK_RANGES, NODE_RANGES, as_float
from ..validation import NoneOr, check_param

__all__ = ["read_table", "utc_times", "PLACEHOLDER_CAPACITY", "as_path", "check_regular", "open_bytes", "read_text", "node_list",
           "choose_names", "rename_nodes", "fill_capacity", "one_line", "link_number", "node_number"]

#: Capacity (bit/s) given to links whose source has none. One bit per second is absurd on purpose:
#: any load on such a link shows as a huge utilisation, so a forgotten sizing step cannot pass
#: silently. ``network.meta['capacity_source']`` says which links carry it.
PLACEHOLDER_CAPACITY = 1.0


def one_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened, for one-line errors."""
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def check_regular(p: Path, what: str, *, directory: bool = False) -> Path:
    """Refuse, before anything opens it, a path that is not a regular file (or, with ``directory``,
    a folder): reading a FIFO or a device blocks or never ends. Symbolic links are followed.

    >>> check_regular(Path("/dev/null"), "traffic")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.InputError: traffic '/dev/null' is a character device, not a regular file; give a file
    """
    try:
        mode = os.stat(p).st_mode
    except OSError as err:
        raise InputError(f"{what} {str(p)!r} cannot be read ({err.strerror or one_line(err)}); check the path") from None
    if stat.S_ISREG(mode):
        return p
    if stat.S_ISDIR(mode):
        if directory:
            return p
        raise InputError(f"{what} {str(p)!r} is a directory; give a file")
    kind = next((label for test, label in _KINDS if test(mode)), "not a regular file")
    want = "a file or a folder" if directory else "a file"
    raise InputError(f"{what} {str(p)!r} is {kind}, not a regular file; give {want}")


def as_path(path, what: str, *, directory: bool = False) -> Path:
    """``path`` as an existing regular file (or folder, with ``directory``); a one-line
    :class:`InputError` otherwise (see :func:`check_regular`)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what}: expected a file path, got {type(path).__name__} {path!r}")
    try:
        p = Path(path).expanduser()
        exists = p.exists()
    except (OSError, ValueError) as err:  # a NUL byte, a name too long
        raise InputError(f"{what} {str(path)!r}: not a usable path ({one_line(err)})") from None
    if not exists:
        raise InputError(f"{what} {str(path)!r}: no such file or directory; check the path")
    return check_regular(p, what, directory=directory)


def open_bytes(path: Path) -> bytes:
    """The bytes of ``path`` (a regular file), decompressed when it ends in .xz, .gz or .bz2."""
    check_regular(path, "file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".xz":
            return lzma.decompress(path.read_bytes())
        if suffix == ".gz":
            return gzip.decompress(path.read_bytes())
        if suffix == ".bz2":
            return bz2.decompress(path.read_bytes())
        return path.read_bytes()
    except (OSError, lzma.LZMAError, EOFError, ValueError, zlib.error) as err:
        raise InputError(f"file {str(path)!r} cannot be read ({one_line(err)}); check that it is complete") from None


def read_text(path: Path) -> str:
    """The text of ``path`` (UTF-8, falling back to Latin-1), decompressed by suffix."""
    raw = open_bytes(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def node_list(nodes, what: str = "nodes") -> list[str] | None:
    """Node names from a sequence of names or a :class:`~surgeguard.Network` (its order); None stays None."""
    if nodes is None:
        return None
    names = getattr(nodes, "node_names", None)
    if names is None:
        if isinstance(nodes, (str, bytes)):
            raise InputError(f"{what}: expected a list of node names or a Network, got the string {nodes!r}")
        names = list(nodes)
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        seen, dups = set(), []
        for n in names:
            if n in seen:
                dups.append(n)
            seen.add(n)
        raise ValidationError(f"{what}: duplicate node names {dups[:5]}; give each node once")
    return names


def choose_names(ids: Sequence, labels: Sequence) -> tuple[list[str], bool]:
    """Node names: the labels when every node has a non-empty label and no two share one, else
    ``str(id)``. Returns ``(names, used_labels)``; callers keep the labels in a ``label`` column
    when ``used_labels`` is False.
    """
    clean = [None if (lab is None or (isinstance(lab, float) and np.isnan(lab)) or str(lab).strip() == "")
             else str(lab).strip() for lab in labels]
    if clean and all(c is not None for c in clean) and len(set(clean)) == len(clean):
        return clean, True
    names = [str(i) for i in ids]
    return names, False


def rename_nodes(ids: Sequence, node_names, what: str) -> list[str]:
    """Names for the nodes with ``ids`` (file order) from ``node_names``.

    ``node_names`` is a mapping ``{id: name}`` (ids as in the file, or as strings), or a sequence:
    indexed by the id when the ids are the integers ``0..N-1``, else by the position in the file.
    """
    n = len(ids)
    if isinstance(node_names, Mapping):
        out = []
        for i in ids:
            if i in node_names:
                out.append(str(node_names[i]))
            elif str(i) in node_names:
                out.append(str(node_names[str(i)]))
            else:
                raise InputError(f"{what}: node_names has no entry for node id {i!r}; map every id to a name")
        return out
    names = node_list(node_names, "node_names")
    if len(names) != n:
        raise InputError(f"{what}: node_names has {len(names)} names for {n} nodes; give one name per node")
    try:
        as_int = [int(i) for i in ids]
    except (TypeError, ValueError):
        as_int = None
    if as_int is not None and sorted(as_int) == list(range(n)) and all(str(a) == str(i) for a, i in zip(as_int, ids)):
        return [names[k] for k in as_int]
    return names


def fill_capacity(cap: Iterable, default_capacity: float | None) -> tuple[np.ndarray, str]:
    """Fill missing capacities; returns ``(capacity, source)`` with source 'file', 'none', 'partial'
    (file values where present, ``default_capacity`` or the placeholder elsewhere) or 'default'
    (every link from ``default_capacity``). NaN marks a missing capacity: readers have already
    refused given values that are not valid (:func:`link_number`)."""
    check_param("the reader", "default_capacity", default_capacity, [NoneOr(), LINK_RANGES["capacity"]])
    cap = np.asarray(list(cap), dtype=float)
    missing = np.isnan(cap)
    if not missing.any():
        return cap, "file"
    fill = PLACEHOLDER_CAPACITY if default_capacity is None else float(default_capacity)
    cap = np.where(missing, fill, cap)
    if missing.all():
        return cap, "none" if default_capacity is None else "default"
    return cap, "partial"


def _number(raw, what: str, owner: str, field: str, rng, *, factor: float, unit: str, note: str) -> float:
    v = as_float(raw)
    if v is None or (isinstance(raw, str) and not raw.strip()):
        raise InputError(f"{what}: {owner} has {field} {raw!r}, which is not a number; give {field} as a "
                         f"number{' in' + unit if unit else ''}{note}")
    if not math.isfinite(v):
        raise ValidationError(f"{what}: {owner} has {field} {raw!r}; {field} must be {rng.describe()}{unit}{note}")
    with np.errstate(over="ignore"):
        scaled = float(np.float64(v) * factor)
    if not rng.accepts(scaled):
        shown = f"{raw!r} (= {scaled:g}{unit})" if factor != 1.0 else repr(raw)
        raise ValidationError(f"{what}: {owner} has {field} {shown}; {field} must be {rng.describe()}{unit}{note}")
    return scaled


_LINK_UNITS = {"capacity": " bit/s", "length_km": " km", "latency_ms": " ms", "metric": ""}


def link_number(raw, what: str, link: str, field: str, *, factor: float = 1.0) -> float:
    """A link attribute given in a file, as a float in its declared range (:data:`LINK_RANGES`).

    ``raw`` is the value as read (number or text), ``factor`` converts it to the internal unit
    (e.g. 1e6 for Mbit/s). Text that is not a number is an :class:`InputError`; NaN, infinities
    and values out of range (after conversion) a :class:`ValidationError`. Both name ``what``
    (the file), the link and the value. Callers leave a link's field out when the file gives none.

    >>> link_number("2.5", "f.xml", "A->B", "capacity", factor=1e6)
    2500000.0
    >>> link_number("NaN", "f.xml", "A->B", "capacity")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: f.xml: link A->B has capacity 'NaN'; capacity must be a float in (0, 1e+15] bit/s (leave it out to size the link later)
    """
    note = " (leave it out to size the link later)" if field == "capacity" else ""
    return _number(raw, what, f"link {link}", field, LINK_RANGES[field], factor=factor,
                   unit=_LINK_UNITS.get(field, ""), note=note)


def node_number(raw, what: str, node: str, field: str) -> float:
    """A node attribute (``lon``, ``lat``, ``population``) given in a file, checked like
    :func:`link_number`; ``None`` or empty text (not given) is NaN."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return float("nan")
    return _number(raw, what, f"node {node}", field, NODE_RANGES[field], factor=1.0, unit="", note="")


def read_table(path, what: str, *, dtype: dict | None = None, nullable: bool = False) -> pd.DataFrame:
    """A CSV (``.csv``, optionally compressed, e.g. ``.csv.gz``) or Parquet (``.parquet``/``.pq``)
    table, column names stripped; a one-line :class:`InputError` naming ``what`` and the path when
    it cannot be read or has no rows. ``dtype`` is passed to the CSV reader; with ``nullable``,
    Parquet integer columns keep missing values without turning into floats (exact 64-bit
    counters).

    >>> read_table("/nonexistent.csv", "counters")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.InputError: counters '/nonexistent.csv': no such file or directory; check the path
    """
    p = as_path(path, what)
    low = p.name.lower()
    label = f"{what} {str(p)!r}"
    try:
        if low.endswith(".parquet") or low.endswith(".pq"):
            df = pd.read_parquet(p, dtype_backend="numpy_nullable") if nullable else pd.read_parquet(p)
        elif ".csv" in low:
            df = pd.read_csv(p, dtype=dtype, float_precision="round_trip")
        else:
            raise InputError(f"{label}: unknown extension; use .csv or .parquet")
    except InputError:
        raise
    except Exception as err:  # pandas/pyarrow raise many types for unreadable files
        raise InputError(f"{label} cannot be read ({type(err).__name__}: {one_line(err)}); "
                         "give a CSV or Parquet file") from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise InputError(f"{label} has a header but no rows; give at least one row")
    return df


def utc_times(values, what: str) -> pd.DatetimeIndex:
    """UTC times from a ``ds`` column: ISO 8601 in any of its spellings (``Z``, offsets, naive =
    UTC, each value on its own); an :class:`InputError` naming ``what``, the data row and the value
    otherwise.

    Each distinct value is parsed by itself: pandas' vectorised ISO 8601 parser gives a naive time
    the offset of the time before it when a column mixes both.

    >>> utc_times(["2004-03-01T00:05:00+01:00", "2004-03-01 00:05"], "f.csv")
    DatetimeIndex(['2004-02-29 23:05:00+00:00', '2004-03-01 00:05:00+00:00'], dtype='datetime64[ns, UTC]', freq=None)
    """
    if isinstance(values, pd.DatetimeIndex) or (isinstance(values, pd.Series) and values.dtype.kind == "M"):
        idx = pd.DatetimeIndex(values)
        return (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns")
    arr = np.asarray(values.to_numpy(object) if isinstance(values, pd.Series) else values, dtype=object).ravel()
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    if (codes < 0).any():
        k = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"{what}: data row {k + 1} has no ds (the column is empty there); give every row a time")
    stamps = np.empty(len(uniques), dtype=np.int64)
    for u, v in enumerate(uniques):
        try:
            if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
                raise ValueError("a number")
            t = pd.Timestamp(v.strip() if isinstance(v, str) else v)
            if t is pd.NaT:
                raise ValueError("empty")
            t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
            stamps[u] = t.as_unit("ns").value
        except (ValueError, TypeError, OverflowError, AttributeError):
            k = int(np.flatnonzero(codes == u)[0])
            raise InputError(f"{what}: ds {str(v)!r} in data row {k + 1} is not a time; use ISO times such as "
                             "2004-03-01T00:05:00Z") from None
    return pd.DatetimeIndex(stamps[codes].view("datetime64[ns]")).tz_localize("UTC")
