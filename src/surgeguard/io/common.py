"""Helpers shared by the readers: opening files, node lists, naming rules, placeholder capacity."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..exceptions import InputError, ValidationError

__all__ = ["PLACEHOLDER_CAPACITY", "as_path", "open_bytes", "read_text", "node_list", "choose_names",
           "rename_nodes", "fill_capacity", "one_line"]

#: Capacity (bit/s) given to links whose source has none. One bit per second is absurd on purpose:
#: any load on such a link shows as a huge utilisation, so a forgotten sizing step cannot pass
#: silently. ``network.meta['capacity_source']`` says which links carry it.
PLACEHOLDER_CAPACITY = 1.0


def one_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened, for one-line errors."""
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_path(path, what: str) -> Path:
    """``path`` as an existing :class:`~pathlib.Path`; a one-line :class:`InputError` otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what}: expected a file path, got {type(path).__name__} {path!r}")
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{what} {str(path)!r}: no such file or directory; check the path")
    return p


def open_bytes(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when it ends in .xz, .gz or .bz2."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xz":
            return lzma.decompress(path.read_bytes())
        if suffix == ".gz":
            return gzip.decompress(path.read_bytes())
        if suffix == ".bz2":
            return bz2.decompress(path.read_bytes())
        return path.read_bytes()
    except (OSError, lzma.LZMAError, EOFError) as err:
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
    (every link from ``default_capacity``)."""
    cap = np.asarray(list(cap), dtype=float)
    missing = ~np.isfinite(cap)
    if not missing.any():
        return cap, "file"
    fill = PLACEHOLDER_CAPACITY if default_capacity is None else float(default_capacity)
    if not (np.isfinite(fill) and fill > 0):
        raise ValidationError(f"default capacity {default_capacity!r} bit/s: give a capacity > 0")
    cap = np.where(missing, fill, cap)
    if missing.all():
        return cap, "none" if default_capacity is None else "default"
    return cap, "partial"
