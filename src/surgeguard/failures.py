"""Failures: what can break, named once for every stage.

One fibre model: :func:`circuits` pairs each directed link with its reverse (a bidirectional
circuit, named ``'A<->B'``); what-ifs fail circuits, capacity planning buys ports per circuit,
sizing makes both directions equal. :class:`Failure` is one failure (links and nodes down at the
same time); :func:`failure_scenarios` gives every single-link, single-node or SRLG failure of a
network, :func:`read_failures_file` reads them from a file, :func:`failure_masks` turns one into
link and node masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .exceptions import InputError, ValidationError
from .network import Network

__all__ = ["Failure", "FAILURE_KINDS", "NO_FAILURE", "circuits", "circuit_frame", "failure_scenarios",
           "read_failures_file", "failure_masks", "as_failure"]

#: Built-in failure sets accepted by :func:`failure_scenarios` (anything else is read as a file).
FAILURE_KINDS = ("single-link", "single-node", "srlg")


@dataclass(frozen=True)
class Failure:
    """One failure: a set of links (and nodes) down at the same time.

    Attributes
    ----------
    name : label for reports: ``'A<->B'`` (a fibre), ``'node A'``, ``'srlg TAG'``, or the file line.
    kind : ``'link'``, ``'node'``, ``'srlg'`` or ``'file'``.
    links : names of the failed directed links (a node failure lists all links at the node).
    nodes : names of failed nodes; all demand from or to them is lost (unrouted).
    """

    name: str
    kind: str
    links: tuple[str, ...]
    nodes: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "links": list(self.links), "nodes": list(self.nodes)}


#: The "no failure" case (the intact network), used for baselines.
NO_FAILURE = Failure("(none)", "none", ())


def circuits(network: Network) -> list[tuple[str, tuple[int, ...]]]:
    """The bidirectional circuits (fibres) of a network: each link paired with its reverse.

    A link A->B pairs with the link B->A of the same rank among parallel links (A->B#0 with B->A#0);
    a link without a reverse is a circuit of its own.

    Returns
    -------
    list of ``(name, link indices)`` in order of first link: name ``'A<->B'`` (``'A<->B#k'`` for the
    k-th of parallel circuits).

    >>> from surgeguard.examples import triangle
    >>> [c for c, _ in circuits(triangle())]
    ['A<->B', 'B<->C', 'A<->C']
    """
    lk = network.links
    src, dst = lk["src"].to_numpy(), lk["dst"].to_numpy()
    rank = pd.Series(np.zeros(len(lk), int)).groupby([src, dst]).cumcount().to_numpy() if len(lk) else []
    where = {(s, d, int(r)): i for i, (s, d, r) in enumerate(zip(src, dst, rank))}
    multi = pd.Series(1, index=pd.MultiIndex.from_arrays([src, dst])).groupby(level=[0, 1]).size() \
        if len(lk) else pd.Series(dtype=int)
    seen = np.zeros(len(lk), bool)
    out = []
    for i, (s, d, r) in enumerate(zip(src, dst, rank)):
        if seen[i]:
            continue
        j = where.get((d, s, int(r)))
        members = (i,) if j is None or seen[j] else (i, j)
        seen[list(members)] = True
        par = int(multi.get((s, d), 1)) > 1
        name = f"{s}<->{d}" if j is not None else f"{s}->{d}"
        if par:
            name += f"#{int(r)}"
        out.append((name, members))
    return out


def failure_scenarios(network: Network, kind: str) -> list[Failure]:
    """The failures of one kind, in a stable order.

    Parameters
    ----------
    network : the network.
    kind : ``'single-link'`` (each bidirectional circuit: both directions of a link pair, see
        :func:`circuits`), ``'single-node'`` (each node with all its links), ``'srlg'`` (for each
        tag in the links' ``srlg`` column, every link carrying it), or the path of a failures file
        (see :func:`read_failures_file`).

    Returns
    -------
    list of :class:`Failure`.

    Raises
    ------
    ValidationError
        For an unknown kind that is not a file, or ``'srlg'`` on a network without SRLG tags.

    >>> from surgeguard.examples import triangle
    >>> [f.name for f in failure_scenarios(triangle(), "single-node")]
    ['node A', 'node B', 'node C']
    """
    names = network.link_names
    if kind == "single-link":
        return [Failure(name, "link", tuple(names[i] for i in idx)) for name, idx in circuits(network)]
    if kind == "single-node":
        lk = network.links
        out = []
        for n in network.node_names:
            at = lk.index[(lk["src"] == n) | (lk["dst"] == n)]
            out.append(Failure(f"node {n}", "node", tuple(at), (n,)))
        return out
    if kind == "srlg":
        tags: dict[str, list[str]] = {}
        for lname, text in zip(network.link_names, network.links["srlg"].astype(str)):
            for tag in (t.strip() for t in text.split(",")):
                if tag:
                    tags.setdefault(tag, []).append(lname)
        if not tags:
            raise ValidationError(
                f"network {network.name!r} has no SRLG tags (the links' 'srlg' column is empty); tag the "
                "links that share a duct or a conduit (comma-separated names), or use the 'single-link' failures")
        return [Failure(f"srlg {t}", "srlg", tuple(ls)) for t, ls in tags.items()]
    path = Path(str(kind))
    if path.is_file():
        return read_failures_file(network, path)
    raise ValidationError(
        f"failures {kind!r} is neither one of {', '.join(FAILURE_KINDS)} nor a readable file; give a kind or "
        "the path of a file with one failure per line (link or node names)")


def read_failures_file(network: Network, path) -> list[Failure]:
    """Failures from a text file: one failure per line, its items separated by commas.

    An item is a directed link name (``A->B``; list ``B->A`` too to cut the fibre) or a node name
    (the node and every link at it). Where an item is neither, it is split on whitespace and each
    word must be a link or node name (so ``A->B B->A`` works too). Blank lines and lines starting
    with ``#`` are skipped. The failure's name is the line itself.

    Raises
    ------
    InputError
        If the file cannot be read, or has no failure.
    ValidationError
        Naming the line and the item that is neither a link nor a node of the network.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"failures file {str(path)!r} cannot be read ({exc}); give a text file with one "
                         "failure per line") from None
    links = set(network.link_names)
    nodes = set(network.node_names)
    lk = network.links
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        items: list[str] = []
        for item in (x.strip() for x in line.split(",")):
            if not item:
                continue
            if item in links or item in nodes:
                items.append(item)
                continue
            words = item.split()
            bad = [w for w in words if w not in links and w not in nodes]
            if bad or not words:
                raise ValidationError(
                    f"failures file {str(path)!r} line {lineno}: {bad[0] if bad else item!r} is neither a link "
                    f"nor a node of {network.name!r}; links are named like {network.link_names[0]!r}, nodes "
                    f"like {network.node_names[0]!r}")
            items.extend(words)
        f_links: list[str] = []
        f_nodes: list[str] = []
        for item in items:
            if item in links:
                f_links.append(item)
            else:
                f_nodes.append(item)
                f_links.extend(lk.index[(lk["src"] == item) | (lk["dst"] == item)])
        f_links = list(dict.fromkeys(f_links))
        out.append(Failure(line, "file", tuple(f_links), tuple(dict.fromkeys(f_nodes))))
    if not out:
        raise InputError(f"failures file {str(path)!r} has no failure; write one per line (link or node names)")
    return out


def as_failure(network: Network, failure) -> Failure:
    """A :class:`Failure` from ``None`` (no failure), a :class:`Failure` (its names checked), or a
    link or node name or a list of them (a node takes every link at it down).

    >>> from surgeguard.examples import triangle
    >>> f = as_failure(triangle(), "C")
    >>> f.nodes, sorted(f.links)
    (('C',), ['A->C', 'B->C', 'C->A', 'C->B'])
    """
    if failure is None:
        return NO_FAILURE
    if isinstance(failure, Failure):
        network.link_ids(failure.links)  # unknown names: one-line error
        if failure.nodes:
            network.node_ids(failure.nodes)
        return failure
    if isinstance(failure, str):
        failure = [failure]
    items = list(failure)
    links = set(network.link_names)
    lk = network.links
    f_links, f_nodes = [], []
    for item in items:
        if item in links:
            f_links.append(item)
        elif item in network.node_index:
            f_nodes.append(item)
            f_links.extend(lk.index[(lk["src"] == item) | (lk["dst"] == item)])
        else:
            raise ValidationError(f"failure item {item!r} is neither a link nor a node of {network.name!r}; "
                                  f"links are named like {network.link_names[0]!r}")
    return Failure(", ".join(items), "given", tuple(dict.fromkeys(f_links)), tuple(f_nodes))


def failure_masks(network: Network, failure: Failure | None) -> tuple[np.ndarray, np.ndarray]:
    """The links that survive ``failure`` (bool mask in link order) and the failed node indices.

    A failed node takes every link at it down, whether or not the failure lists them.
    """
    alive = np.ones(network.n_links, bool)
    nodes = np.zeros(0, dtype=np.int64)
    if failure is not None:
        if failure.links:
            alive[network.link_ids(failure.links)] = False
        if failure.nodes:
            nodes = network.node_ids(failure.nodes)
            alive[np.isin(network.src, nodes) | np.isin(network.dst, nodes)] = False
    return alive, nodes


def circuit_frame(network: Network) -> tuple[np.ndarray, pd.DataFrame]:
    """The circuits as arrays: (circuit index of every link (n_links,), frame indexed by circuit
    name with columns ``links`` (tuple of link indices) and ``length_km`` (the longest of its
    links; 0 if unknown)).

    >>> from surgeguard.examples import triangle
    >>> idx, frame = circuit_frame(triangle())
    >>> list(frame.index), idx.tolist()
    (['A<->B', 'B<->C', 'A<->C'], [0, 1, 2, 0, 1, 2])
    """
    circ = circuits(network)
    idx = np.full(network.n_links, -1, dtype=np.int64)
    length = network.links["length_km"].to_numpy(float) if network.n_links else np.zeros(0)
    names, links, lengths = [], [], []
    for c, (name, members) in enumerate(circ):
        idx[list(members)] = c
        names.append(name)
        links.append(tuple(int(m) for m in members))
        ls = length[list(members)]
        lengths.append(float(np.nanmax(ls)) if np.isfinite(ls).any() else 0.0)
    return idx, pd.DataFrame({"links": links, "length_km": lengths}, index=pd.Index(names, name="circuit"))
