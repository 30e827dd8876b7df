"""Candidate paths and the path-link incidence matrix shared by every solver.

A :class:`PathSet` holds, for a list of origin-destination (OD) pairs, their candidate paths as
sequences of link indices of one :class:`~surgeguard.network.Network`. Paths of one OD are
contiguous (``od_ptr``) and sorted by IGP cost. The incidence ``R`` (links x paths, CSC) turns path
flows into link loads: ``load = R @ f``.

Path builders
-------------
``k_shortest_paths(net, k)`` chooses between

* ``"yen"``: exact k shortest loopless paths (Yen's algorithm, as networkx implements it), per OD.
  Exact but a Python loop per OD: the default up to 5,000 OD pairs.
* ``"deviation"``: k shortest *simple* paths by a vectorised Eppstein-style enumeration, for all
  OD pairs at once. Per source s (in chunks of sources) it builds the shortest-path tree of s and,
  for every node x, the cheapest ``fanout`` *sidetracks* on the tree path s -> x (a link (v, u)
  that is not u's tree link, costing ``w(v, u) + D[s, v] - D[s, u]`` extra). Every path is then a
  tree path plus a list of sidetracks; each OD pops walks from its own pool in cost order (up to
  ``max_pops``), accepts the simple ones (loops are detected exactly and in O(1) per chain by
  pre-order/subtree-size ancestor tests on the tree), and pushes the popped walk's cheapest child
  and its parent's next sidetrack. With unlimited fanout and pops this is exact (Eppstein's order
  restricted to walks with simple prefixes); the defaults (fanout k + 4, 4k pops) agree with Yen
  on 99-100% of the first two ranks and 94-99% of ranks 3-4 on SNDlib networks (tests measure
  it). The result also carries a compressed form for the ``fast`` solver: per path, the few tree
  pieces and sidetrack links it is made of (``meta["_trees"]``). Link lists are int32.
"""

from __future__ import annotations

import ctypes
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .exceptions import InputError, NoPathError, ValidationError
from .io.traffic import read_tunnels
from .network import Network
from .resources import check_memory, format_count

__all__ = ["PathSet", "index_dtype", "k_shortest_paths", "all_simple_paths", "paths_from_node_lists", "read_tunnels_file",
           "all_pairs", "deviation_paths", "YEN_MAX_PAIRS", "MAX_K_YEN", "MAX_K_DEVIATION", "YEN_MAX_SECONDS",
           "MAX_SIMPLE_PATHS", "check_path_budget"]

#: ``method="auto"`` uses Yen's exact algorithm up to this many OD pairs (and ``k <= MAX_K_YEN``),
#: "deviation" beyond.
YEN_MAX_PAIRS = 5000
#: The most paths per OD pair Yen's algorithm builds. It is exact but a Python loop per OD whose
#: time grows with k: on GÉANT's 462 OD pairs k=64 takes about 3 s, k=256 about 20 s, k=10000 hours.
MAX_K_YEN = 64
#: The most paths per OD pair the deviation builder builds (its per-OD pools grow with k; k=256
#: takes about 4 s on GÉANT). Every k used in the tests, benchmarks and the TE ladder is <= 6.
MAX_K_DEVIATION = 256
#: Yen's time per path and per link of the network, seconds (measured: 29,568 paths on GÉANT's 72
#: links in 2.9 s; 358,800 paths on a 300-node graph of 1,200 links in 656 s).
YEN_SECONDS_PER_PATH_LINK = 1.5e-6
#: The longest Yen build accepted, estimated as paths x links x :data:`YEN_SECONDS_PER_PATH_LINK`;
#: ``method="auto"`` takes the deviation builder beyond it.
YEN_MAX_SECONDS = 120.0
#: :func:`all_simple_paths` stops with an error beyond this many paths (their number grows
#: exponentially with the network's size).
MAX_SIMPLE_PATHS = 1_000_000


@dataclass(frozen=True, eq=False)
class PathSet:
    """Candidate paths for a set of OD pairs over one network.

    Attributes
    ----------
    node_names, link_names : the network's orders (checked when used with a network).
    od_src, od_dst : (n_od,) node indices of each OD pair.
    od_ptr : (n_od + 1,) paths of OD ``k`` are ``od_ptr[k]:od_ptr[k+1]``.
    link_ptr, link_idx : CSR of the links of each path, in travel order.
    cost : (n_paths,) IGP cost of each path.
    latency_ms : (n_paths,) propagation latency of each path.
    method : how the paths were built (for reports).
    """

    node_names: tuple[str, ...]
    link_names: tuple[str, ...]
    od_src: np.ndarray
    od_dst: np.ndarray
    od_ptr: np.ndarray
    link_ptr: np.ndarray
    link_idx: np.ndarray
    cost: np.ndarray
    latency_ms: np.ndarray
    method: str = ""
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes and orders
    @property
    def n_od(self) -> int:
        return len(self.od_src)

    @property
    def n_paths(self) -> int:
        return len(self.link_ptr) - 1

    @property
    def n_links(self) -> int:
        return len(self.link_names)

    @property
    def n_nodes(self) -> int:
        return len(self.node_names)

    @cached_property
    def path_od(self) -> np.ndarray:
        """(n_paths,) OD index of each path."""
        return np.repeat(np.arange(self.n_od), np.diff(self.od_ptr))

    @cached_property
    def paths_per_od(self) -> np.ndarray:
        return np.diff(self.od_ptr)

    @cached_property
    def hops(self) -> np.ndarray:
        return np.diff(self.link_ptr)

    @cached_property
    def od_lookup(self) -> np.ndarray:
        """(N, N) OD index of each (src, dst) pair, -1 where the set has no such pair."""
        out = np.full((self.n_nodes, self.n_nodes), -1, dtype=np.int64)
        out[self.od_src, self.od_dst] = np.arange(self.n_od)
        return out

    @cached_property
    def od_flat(self) -> np.ndarray:
        """(n_od,) flat index ``src * N + dst`` of each OD pair in an N x N matrix."""
        n = self.n_nodes
        return (self.od_src.astype(np.int64) * n + self.od_dst).astype(index_dtype(n * n), copy=False)

    @cached_property
    def uncovered_pairs(self) -> np.ndarray:
        """Flat indices (``src * N + dst``) of the off-diagonal node pairs the set has no paths for:
        the only entries :meth:`demand` has to check (none when every pair is covered; computed once,
        a tenth of a warm ``fast`` solve at caida-3356 when it was rebuilt per call)."""
        covered = np.zeros((self.n_nodes, self.n_nodes), dtype=bool)
        covered[self.od_src, self.od_dst] = True
        np.fill_diagonal(covered, True)
        return np.flatnonzero(~covered).astype(index_dtype(covered.size), copy=False)

    @cached_property
    def incidence(self) -> sp.csc_matrix:
        """R: (n_links x n_paths) 0/1 matrix, CSC. Link loads are ``R @ path_flows``."""
        data = np.ones(len(self.link_idx), dtype=np.float64)
        return sp.csc_matrix((data, self.link_idx, self.link_ptr), shape=(self.n_links, self.n_paths))

    @cached_property
    def od_incidence(self) -> sp.csr_matrix:
        """(n_od x n_paths) 0/1 matrix: which paths serve which OD."""
        data = np.ones(self.n_paths)
        return sp.csr_matrix((data, np.arange(self.n_paths), self.od_ptr), shape=(self.n_od, self.n_paths))

    def check_network(self, network: Network) -> None:
        if tuple(network.node_names) != self.node_names or tuple(network.link_names) != self.link_names:
            raise ValidationError(
                f"path set was built for another network (nodes/links differ from {network.name!r}); "
                "rebuild the paths for this network")

    # ------------------------------------------------------------------ demand mapping
    def demand(self, tm: np.ndarray, *, what: str = "traffic matrix") -> np.ndarray:
        """(n_od,) demand in bit/s of each OD pair from an N x N matrix.

        Raises :class:`NoPathError` naming the OD pairs that have demand but no candidate path.
        """
        tm = np.asarray(tm, dtype=float)
        if tm.shape != (self.n_nodes, self.n_nodes):
            raise ValidationError(f"{what} has shape {tm.shape}; expected ({self.n_nodes}, {self.n_nodes})")
        flat = tm.ravel()
        d = np.take(flat, self.od_flat)  # 4x faster than tm[od_src, od_dst] (caida-3356: 0.26 vs 1.06 ms)
        uncovered = self.uncovered_pairs
        if len(uncovered) and (np.take(flat, uncovered) > 0).any():
            i, j = np.divmod(uncovered[np.take(flat, uncovered) > 0], self.n_nodes)
            names = [f"{self.node_names[a]}->{self.node_names[b]}" for a, b in zip(i[:5], j[:5])]
            raise NoPathError(
                f"{what} has demand for OD pair(s) {names} ({len(i)} in all) with no candidate path; "
                "connect them in the network or add paths for them")
        return d

    # ------------------------------------------------------------------ inspection
    def path_nodes(self, p: int) -> list[str]:
        """Node names along path ``p``."""
        links = self.link_idx[self.link_ptr[p]:self.link_ptr[p + 1]]
        src_of = self.meta.get("_link_src")
        dst_of = self.meta.get("_link_dst")
        nodes = [self.node_names[src_of[links[0]]]] + [self.node_names[dst_of[l]] for l in links]
        return nodes

    def to_tunnels(self) -> str:
        """Write in the DOTE/FIGRET tunnels format ``src dst:n-n-n,n-n-n`` (node indices)."""
        idx = {n: i for i, n in enumerate(self.node_names)}
        lines = []
        for k in range(self.n_od):
            ps = ["-".join(str(idx[n]) for n in self.path_nodes(p)) for p in range(self.od_ptr[k], self.od_ptr[k + 1])]
            lines.append(f"{self.od_src[k]} {self.od_dst[k]}:{','.join(ps)}")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ per-OD arithmetic
    def od_sum(self, values: np.ndarray) -> np.ndarray:
        """Per-OD sums of a per-path array (last axis ``n_paths`` -> ``n_od``); 0 for an OD without paths.

        >>> from surgeguard.examples import two_paths
        >>> ps = k_shortest_paths(two_paths(), k=2)
        >>> ps.od_sum(np.ones(ps.n_paths)).tolist() == ps.paths_per_od.tolist()
        True
        """
        return self._od_reduce(np.add, values, 0)

    def od_min(self, values: np.ndarray) -> np.ndarray:
        """Per-OD minimum of a per-path array (e.g. the best latency of each OD); the dtype's largest
        value (inf for floats) for an OD without paths."""
        values = np.asarray(values)
        big = np.iinfo(values.dtype).max if np.issubdtype(values.dtype, np.integer) else np.inf
        return self._od_reduce(np.minimum, values, big)

    def _od_reduce(self, ufunc, values, empty) -> np.ndarray:
        values = np.asarray(values)
        if values.dtype == bool:
            values = values.astype(np.int64)  # a sum of booleans is a count
        nonempty = self.paths_per_od > 0
        dtype = values.dtype
        out = np.full(values.shape[:-1] + (self.n_od,), empty, dtype=dtype)
        if nonempty.any():
            # starts of non-empty ODs are strictly increasing; empty ODs in between span no paths
            out[..., nonempty] = ufunc.reduceat(values, self.od_ptr[:-1][nonempty], axis=-1)
        return out

    def path_max(self, link_values: np.ndarray) -> np.ndarray:
        """Per-path maximum of a per-link array over the path's links (e.g. the worst loss fraction)."""
        link_values = np.asarray(link_values)
        if self.n_paths == 0:
            return np.zeros(0, dtype=link_values.dtype)
        return np.maximum.reduceat(link_values[self.link_idx], self.link_ptr[:-1])

    def path_min(self, link_values: np.ndarray) -> np.ndarray:
        """Per-path minimum of a per-link array (e.g. the bottleneck capacity)."""
        link_values = np.asarray(link_values)
        if self.n_paths == 0:
            return np.zeros(0, dtype=link_values.dtype)
        return np.minimum.reduceat(link_values[self.link_idx], self.link_ptr[:-1])

    def normalise(self, weights: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
        """Split ratios from non-negative per-path weights: each OD's weights divided by their sum.

        An OD whose weights sum to 0 takes ``fallback`` (default: all on its first path).

        >>> from surgeguard.examples import two_paths
        >>> ps = k_shortest_paths(two_paths(), k=2)
        >>> w = np.zeros(ps.n_paths); w[ps.od_ptr[0]:ps.od_ptr[1]] = 3.0
        >>> s = ps.normalise(w); bool(np.allclose(ps.od_sum(s), 1.0))
        True
        """
        w = np.asarray(weights, dtype=float)
        if fallback is None:
            fallback = np.zeros(self.n_paths)
            fallback[self.od_ptr[:-1][self.paths_per_od > 0]] = 1.0
        sums = self.od_sum(w)
        has = sums > 0
        frac = w / np.repeat(np.where(has, sums, 1.0), self.paths_per_od)
        return np.where(np.repeat(has, self.paths_per_od), frac, fallback)

    def usable_without(self, links) -> np.ndarray:
        """(n_paths,) bool: the paths that cross none of ``links`` (indices or a boolean link mask)."""
        links = np.asarray(links)
        failed = np.zeros(self.n_links, bool)
        if links.dtype == bool:
            failed[:] = links
        else:
            failed[links.astype(np.int64)] = True
        if self.n_paths == 0:
            return np.zeros(0, bool)
        return ~np.maximum.reduceat(failed[self.link_idx], self.link_ptr[:-1])

    # ------------------------------------------------------------------ subsets
    def subset_ods(self, mask: np.ndarray) -> "PathSet":
        """The path set restricted to the ODs where ``mask`` is true."""
        keep_od = np.flatnonzero(mask)
        keep = np.repeat(np.isin(np.arange(self.n_od), keep_od), self.paths_per_od)
        return self.subset(keep, drop_empty=False, ods=keep_od)

    def subset(self, path_mask: np.ndarray, *, drop_empty: bool = True, ods: np.ndarray | None = None) -> "PathSet":
        """The path set with only the paths where ``path_mask`` is true (order kept).

        ODs left with no path are dropped (``drop_empty``); ``ods`` restricts the ODs kept
        explicitly (all ODs by default, then those without paths are dropped if asked).
        """
        path_mask = np.asarray(path_mask, bool)
        counts_all = np.bincount(self.path_od[path_mask], minlength=self.n_od) if self.n_paths else \
            np.zeros(self.n_od, np.int64)
        keep_od = np.arange(self.n_od) if ods is None else np.asarray(ods, dtype=np.int64)
        if drop_empty:
            keep_od = keep_od[counts_all[keep_od] > 0]
        pidx = np.flatnonzero(path_mask & np.isin(self.path_od, keep_od))
        return self._take(keep_od, counts_all[keep_od], pidx)

    def _take(self, keep_od: np.ndarray, counts: np.ndarray, pidx: np.ndarray) -> "PathSet":
        """ODs ``keep_od`` (in that order) with ``counts`` paths each, the paths ``pidx`` (grouped by OD)."""
        hops = self.hops[pidx]
        link_ptr = np.concatenate([[0], np.cumsum(hops)]).astype(np.int64)
        starts = self.link_ptr[pidx]
        gather = np.repeat(starts - link_ptr[:-1], hops) + np.arange(link_ptr[-1])
        return PathSet(self.node_names, self.link_names, self.od_src[keep_od], self.od_dst[keep_od],
                       np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), link_ptr,
                       self.link_idx[gather], self.cost[pidx], self.latency_ms[pidx], self.method, dict(self.meta))

    def with_paths(self, network: Network, ods, link_lists: Sequence[Sequence[int]], *,
                   method: str | None = None) -> tuple["PathSet", np.ndarray]:
        """This path set with extra paths: ``link_lists[i]`` (link indices in travel order) is added
        after the paths of OD ``ods[i]``; extras of one OD keep their given order.

        Every path's cost and latency are (re)computed from ``network``. Without extra paths this
        set itself is returned.

        Returns
        -------
        ``(paths, position)``: the new set, and the index of each extra path in it.

        >>> from surgeguard.examples import ring
        >>> net = ring(4); ps = k_shortest_paths(net, k=1)
        >>> aug, pos = ps.with_paths(net, [0], [net.link_ids(["R0->R3", "R3->R2", "R2->R1"])])
        >>> aug.n_paths - ps.n_paths, pos.tolist(), aug.paths_per_od[0].item(), aug.cost[1].item()
        (1, [1], 2, 3.0)
        """
        self.check_network(network)
        ods = np.asarray(ods, dtype=np.int64).reshape(-1)
        if len(ods) != len(link_lists):
            raise ValidationError(f"{len(ods)} OD indices for {len(link_lists)} extra paths; give one OD per path")
        if not len(ods):
            return self, np.zeros(0, dtype=np.int64)
        if ods.min() < 0 or ods.max() >= self.n_od:
            raise ValidationError(f"OD indices must lie in 0..{self.n_od - 1}; got {ods.min()}..{ods.max()}")
        base_cnt = self.paths_per_od
        od_ptr = np.concatenate([[0], np.cumsum(base_cnt + np.bincount(ods, minlength=self.n_od))]).astype(np.int64)
        n_paths = int(od_ptr[-1])
        # base paths keep their rank within their OD; extras follow, in the order given
        pos_base = np.arange(self.n_paths) + np.repeat(od_ptr[:-1] - self.od_ptr[:-1], base_cnt)
        order = np.argsort(ods, kind="stable")
        sorted_ods = ods[order]
        rank = np.empty(len(ods), dtype=np.int64)
        rank[order] = np.arange(len(ods)) - np.searchsorted(sorted_ods, sorted_ods, side="left")
        pos_extra = od_ptr[ods] + base_cnt[ods] + rank
        extra = [np.asarray(links, dtype=np.int64) for links in link_lists]
        hops = np.zeros(n_paths, dtype=np.int64)
        hops[pos_base] = self.hops
        hops[pos_extra] = [len(x) for x in extra]
        link_ptr = np.concatenate([[0], np.cumsum(hops)]).astype(np.int64)
        link_idx = np.empty(link_ptr[-1], dtype=np.int64)
        link_idx[np.repeat(link_ptr[pos_base] - self.link_ptr[:-1], self.hops) + np.arange(len(self.link_idx))] = \
            self.link_idx
        for p, links in zip(pos_extra, extra):
            link_idx[link_ptr[p]:link_ptr[p + 1]] = links
        seg = np.repeat(np.arange(n_paths), hops)
        cost = np.bincount(seg, weights=network.metric[link_idx], minlength=n_paths)
        latency = np.bincount(seg, weights=network.latency_ms[link_idx], minlength=n_paths)
        return (PathSet(self.node_names, self.link_names, self.od_src, self.od_dst, od_ptr, link_ptr, link_idx, cost,
                        latency, self.method if method is None else method, dict(self.meta)), pos_extra)

    def __repr__(self) -> str:
        return (f"<PathSet {self.method}: {self.n_od} OD pairs, {self.n_paths} paths, "
                f"{len(self.link_idx)} path-link entries>")


# ---------------------------------------------------------------------- helpers
def _best_link_matrix(net: Network):
    """Sparse N x N matrix of the cheapest metric between adjacent nodes, and the link achieving it."""
    n = net.n_nodes
    order = np.lexsort((net.metric, net.dst, net.src))  # cheapest first within (src, dst)
    s, d = net.src[order], net.dst[order]
    first = np.ones(len(order), bool)
    first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
    sel = order[first]
    W = sp.csr_matrix((net.metric[sel], (net.src[sel], net.dst[sel])), shape=(n, n))
    return W, sel


def all_pairs(net: Network) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (s, t), s != t, of the network's nodes."""
    n = net.n_nodes
    s, t = np.nonzero(~np.eye(n, dtype=bool))
    return s, t


def _finish(net: Network, od_src, od_dst, counts, link_lists_ptr, link_idx, method, meta=None) -> PathSet:
    od_src = np.asarray(od_src, dtype=np.int64)
    od_dst = np.asarray(od_dst, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    link_ptr = np.asarray(link_lists_ptr, dtype=np.int64)
    link_idx = np.asarray(link_idx, dtype=np.int64)
    hops = np.diff(link_ptr)
    seg = np.repeat(np.arange(len(hops)), hops)
    cost = np.bincount(seg, weights=net.metric[link_idx], minlength=len(hops))
    lat = np.bincount(seg, weights=net.latency_ms[link_idx], minlength=len(hops))
    m = dict(meta or {})
    m["_link_src"] = net.src
    m["_link_dst"] = net.dst
    keep = counts > 0
    ps = PathSet(tuple(net.node_names), tuple(net.link_names), od_src, od_dst,
                 np.concatenate([[0], np.cumsum(counts)]), link_ptr, link_idx, cost, lat, method, m)
    if not keep.all():
        ps = ps.subset_ods(keep)
    return ps


def paths_from_node_lists(net: Network, od_paths: Sequence[tuple[str, str, Sequence[Sequence[str]]]],
                          method: str = "given") -> PathSet:
    """Build a PathSet from node-name paths: ``[(src, dst, [[src, ..., dst], ...]), ...]``.

    Each hop uses the cheapest link between the two nodes; a hop with no link raises an error.
    """
    W, sel = _best_link_matrix(net)
    link_of = {(int(net.src[l]), int(net.dst[l])): int(l) for l in sel}
    idx = net.node_index
    od_src, od_dst, counts, ptr, links = [], [], [], [0], []
    for src, dst, plist in od_paths:
        for name in (src, dst):
            if name not in idx:
                raise ValidationError(f"path list names unknown node {name!r}; use the network's node names")
        od_src.append(idx[src]); od_dst.append(idx[dst]); counts.append(len(plist))
        for path in plist:
            if path[0] != src or path[-1] != dst:
                raise ValidationError(f"path {'-'.join(path)} does not run from {src} to {dst}; fix the path list")
            for a, b in zip(path[:-1], path[1:]):
                key = (idx.get(a, -1), idx.get(b, -1))
                if key not in link_of:
                    raise ValidationError(
                        f"path {'-'.join(map(str, path))} uses {a}->{b}, which is not a link of {net.name!r}; "
                        "fix the path list or the network")
                links.append(link_of[key])
            ptr.append(len(links))
    return _finish(net, od_src, od_dst, counts, ptr, links, method)


def read_tunnels_file(net: Network, path) -> PathSet:
    """Paths from a tunnels file (``src dst:n-n-n,n-n-n`` per line, node indices in network order,
    as DOTE/FIGRET's ``tunnels.txt``), read and checked by :func:`surgeguard.io.read_tunnels`
    (an empty, binary or malformed file, or one that is not a regular file, is an
    :class:`InputError`); each hop must be a link of ``net``."""
    ods = read_tunnels(path, net.node_names)
    try:
        return paths_from_node_lists(net, ods, method=f"tunnels:{Path(path).name}")
    except ValidationError as err:
        raise ValidationError(f"tunnels file {str(path)!r}: {err}") from None


def _yen(net: Network, k: int, pairs, disjoint: bool) -> PathSet:


    W, sel = _best_link_matrix(net)
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    link_of = {}
    for l in sel:
        a, b = int(net.src[l]), int(net.dst[l])
        g.add_edge(a, b, weight=float(net.metric[l]))
        link_of[(a, b)] = int(l)
    od_src, od_dst, counts, ptr, links = [], [], [], [0], []
    for s, t in zip(*pairs):
        s, t = int(s), int(t)
        found = []
        if disjoint:
            h = g.copy()
            for _ in range(k):
                try:
                    p = nx.shortest_path(h, s, t, weight="weight")
                except nx.NetworkXNoPath:
                    break
                found.append(p)
                h.remove_edges_from(zip(p[:-1], p[1:]))
        else:
            try:
                found = list(itertools.islice(nx.shortest_simple_paths(g, s, t, weight="weight"), k))
            except nx.NetworkXNoPath:
                found = []
        od_src.append(s); od_dst.append(t); counts.append(len(found))
        for p in found:
            links.extend(link_of[(a, b)] for a, b in zip(p[:-1], p[1:]))
            ptr.append(len(links))
    return _finish(net, od_src, od_dst, counts, ptr, links, "yen-disjoint" if disjoint else "yen",
                   {"k": k})


def index_dtype(top: int):
    """The NumPy integer type for indices or offsets up to ``top``: int32 where they fit (half the
    memory of int64 for the path-link arrays), int64 beyond.

    >>> index_dtype(1000), index_dtype(2**31)
    (<class 'numpy.int32'>, <class 'numpy.int64'>)
    """
    return np.int32 if top < 2**31 - 1 else np.int64


# ---------------------------------------------------------------------- scalable k shortest paths
#: default sizes of the "deviation" builder (see :func:`_deviation`)
_DEV_CHUNK_CELLS = 1 << 17
#: the deviation builder's memory estimate (:func:`check_path_budget`): bytes per path-link entry
#: (int32 link lists and the temporaries that grow with them) and per OD pair of a chunk in flight
#: (two chunks of up to ``_DEV_CHUNK_CELLS`` pairs run at once)
DEV_BYTES_PER_ENTRY = 8.0
DEV_BYTES_PER_PAIR_IN_FLIGHT = 5000.0


def _dev_graph(net: Network):
    """Arrays of the cheapest link per node pair: (W, src, dst, metric, net link id, sorted keys)."""
    W, sel = _best_link_matrix(net)
    n = net.n_nodes
    lsrc = net.src[sel].astype(np.int64)
    ldst = net.dst[sel].astype(np.int64)
    key = lsrc * n + ldst
    order = np.argsort(key, kind="stable")
    return {"n": n, "W": W, "lsrc": lsrc, "ldst": ldst, "lw": net.metric[sel].astype(np.float64),
            "lid": sel.astype(np.int32), "key_sorted": key[order], "key_order": order.astype(np.int64),
            "metric": net.metric, "latency": net.latency_ms}


def _dev_trees(g, srcs):
    """Shortest-path out-trees of ``srcs``, flattened over (row, node): parent, depth, Euler
    numbering (for O(1) ancestor tests), levels, and every tree path as a list of links."""
    n, c = g["n"], len(srcs)
    D, pi = dijkstra(g["W"], directed=True, indices=srcs, return_predecessors=True)
    cn = c * n
    base = (np.arange(c, dtype=np.int64) * n)[:, None]
    par = np.where(pi >= 0, pi.astype(np.int64) + base, -1).ravel()
    D = D.ravel()
    # depth by pointer doubling: dep[x] = hops from x up to jump[x]
    nonroot = par >= 0
    jump = np.where(nonroot, par, np.arange(cn, dtype=np.int64))
    dep = nonroot.astype(np.int32)
    while True:
        jj = jump[jump]
        if np.array_equal(jj, jump):
            break
        dep = dep + dep[jump]
        jump = jj
    maxd = int(dep.max()) if cn else 0
    lvl_order = np.argsort(dep, kind="stable")
    lvl_ptr = np.searchsorted(dep[lvl_order], np.arange(maxd + 2))
    levels = [lvl_order[lvl_ptr[d]:lvl_ptr[d + 1]] for d in range(maxd + 1)]
    # subtree sizes (bottom up), then pre-order numbers (top down, siblings in node order)
    size = np.ones(cn, dtype=np.int32)
    for d in range(maxd, 0, -1):
        idx = levels[d]
        np.add.at(size, par[idx], size[idx])
    kids = lvl_order[lvl_ptr[1]:]
    if len(kids):
        o = kids[np.argsort(par[kids], kind="stable")]
        excl = np.cumsum(size[o], dtype=np.int64) - size[o]
        p_o = par[o]
        first = np.ones(len(o), bool)
        first[1:] = p_o[1:] != p_o[:-1]
        grp = np.cumsum(first) - 1
        off = np.zeros(cn, dtype=np.int64)
        off[o] = excl - excl[np.flatnonzero(first)][grp]
    else:
        off = np.zeros(cn, dtype=np.int64)
    tin = np.zeros(cn, dtype=np.int64)
    for d in range(1, maxd + 1):
        idx = levels[d]
        tin[idx] = tin[par[idx]] + 1 + off[idx]
    # nodes the source cannot reach: numbered after its tree (their own one-node trees)
    unr = np.flatnonzero(~np.isfinite(D))
    if len(unr):
        r_u = unr // n
        n_reach = size[np.asarray(srcs, dtype=np.int64) + np.arange(c, dtype=np.int64) * n]
        first_u = np.searchsorted(r_u, r_u, side="left")
        tin[unr] = n_reach[r_u] + (np.arange(len(unr)) - first_u)
    # tree link into each node, and the link list of every tree path s -> x
    node = np.arange(cn, dtype=np.int64) % n
    tl = np.full(cn, -1, dtype=np.int64)
    kk = kids
    if len(kk):
        pos = np.searchsorted(g["key_sorted"], (par[kk] % n) * n + node[kk])
        tl[kk] = g["lid"][g["key_order"][pos]]
    tptr = np.zeros(cn + 1, dtype=np.int64)
    np.cumsum(dep, out=tptr[1:])
    tlinks = np.empty(int(tptr[-1]), dtype=np.int32)
    tlat = np.zeros(cn)  # latency of the tree path s -> x
    for d in range(1, maxd + 1):
        idx = levels[d]
        tlat[idx] = tlat[par[idx]] + g["latency"][tl[idx]]
        if d > 1:
            ar = np.tile(np.arange(d - 1, dtype=np.int64), len(idx))
            tlinks[np.repeat(tptr[idx], d - 1) + ar] = tlinks[np.repeat(tptr[par[idx]], d - 1) + ar]
        tlinks[tptr[idx] + d - 1] = tl[idx]
    return {"c": c, "D": D, "par": par, "dep": dep, "levels": levels, "size": size, "tin": tin,
            "tptr": tptr, "tlinks": tlinks, "tl": tl, "tlat": tlat}


def _dev_sidetracks(g, tr, srcs, M):
    """For every (row s, node x): the M cheapest sidetracks on the tree path s -> x (x excluded
    of nothing, s excluded), as (extra cost, link) pairs sorted by extra cost.

    Read backwards (from x towards s), the tree path is Eppstein's path to the root of the reversed
    graph; a sidetrack at node u is a link (v, u) that is not u's tree link, and it costs
    ``w(v, u) + D[s, v] - D[s, u]`` more than the tree path."""
    n, c = g["n"], tr["c"]
    cn = c * n
    lsrc, ldst = g["lsrc"], g["ldst"]
    D = tr["D"].reshape(c, n)
    parn = tr["par"].reshape(c, n) % n
    with np.errstate(invalid="ignore"):  # inf - inf where neither end is reachable
        delta = g["lw"][None, :] + D[:, lsrc] - D[:, ldst]
    ok = np.isfinite(delta) & (parn[:, ldst] != lsrc[None, :]) & (ldst[None, :] != np.asarray(srcs)[:, None])
    rr, jj = np.nonzero(ok)
    dd = delta[rr, jj]
    key = rr.astype(np.int64) * n + ldst[jj]
    o = np.lexsort((dd, key))
    key, dd, jj = key[o], dd[o], jj[o]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    rank = np.arange(len(key)) - starts[np.cumsum(first) - 1]
    m = rank < M
    own_d = np.full((cn, M), np.inf)
    own_l = np.full((cn, M), -1, dtype=np.int32)
    own_d[key[m], rank[m]] = dd[m]
    own_l[key[m], rank[m]] = jj[m]
    top_d = np.full((cn, M), np.inf)
    top_l = np.full((cn, M), -1, dtype=np.int32)
    par = tr["par"]
    for d in range(1, len(tr["levels"])):
        idx = tr["levels"][d]
        cd = np.concatenate([own_d[idx], top_d[par[idx]]], axis=1)
        cl = np.concatenate([own_l[idx], top_l[par[idx]]], axis=1)
        oo = np.argsort(cd, axis=1, kind="stable")[:, :M]
        top_d[idx] = np.take_along_axis(cd, oo, axis=1)
        top_l[idx] = np.take_along_axis(cl, oo, axis=1)
    return top_d, top_l


def _dev_chunk(g, srcs, od_row, od_t, k, M, R, cell_off=0, n_cells=0):
    """k shortest simple paths for the OD pairs (srcs[od_row], od_t) of one chunk of sources.

    Each OD pops walks from its own pool in cost order (Eppstein's enumeration over the reversed
    graph, rooted at the source); a popped walk is recorded (its parent record and last sidetrack),
    accepted when simple, and pushes two entries: its cheapest admissible child and its parent's
    next admissible child (siblings are the parent's sidetrack list, already sorted by cost)."""
    n = g["n"]
    lsrc, ldst = g["lsrc"], g["ldst"]
    tr = _dev_trees(g, srcs)
    tin, size = tr["tin"], tr["size"]
    rbase = od_row.astype(np.int64) * n
    m_od = len(od_t)
    d0 = tr["D"][rbase + od_t]
    R = max(int(R), 1)
    acc = np.zeros(m_od, dtype=np.int64)
    acc_rec = np.full((m_od, k), -1, dtype=np.int64)
    if k > 1 and R > 1:
        top_d, top_l = _dev_sidetracks(g, tr, srcs, M)
    # records of popped walks: id = od * R + pop number
    rec_par = np.full(m_od * R, -1, dtype=np.int64)
    rec_j = np.full(m_od * R, -1, dtype=np.int32)
    rec_m = np.zeros(m_od * R, dtype=np.int16)
    rec_fb = np.zeros(m_od * R, dtype=np.int64)      # flat tree index of the last chain's bottom
    rec_cost = np.zeros(m_od * R, dtype=np.float64)
    rec_ok = np.zeros(m_od * R, dtype=np.int64)      # bit c: child c is admissible
    rec_simple = np.zeros(m_od * R, dtype=np.int64)  # bit c: child c is a simple path
    # pools, unsorted, R wide (a row never holds more than R entries: each pop removes one and
    # adds at most two): cost, and code = (parent record + 1) * 64 + slot in its sidetrack list
    pool_c = np.full((m_od, R), np.inf)
    pool_c[:, 0] = d0
    pool_x = np.zeros((m_od, R), dtype=np.int64)
    active = np.flatnonzero(np.isfinite(d0))
    bits = np.int64(1) << np.arange(M, dtype=np.int64)

    def lowest(mask):  # index of the lowest set bit (mask > 0)
        low = mask & -mask
        return np.log2(low.astype(np.float64)).astype(np.int64)

    for it in range(R):
        if not len(active):
            break
        pc = pool_c[active]
        col = np.argmin(pc, axis=1)
        hc = pc[np.arange(len(active)), col]
        code = pool_x[active, col]
        hp = (code >> 6) - 1
        hs = code & 63
        root = hp < 0
        hpp = np.maximum(hp, 0)
        pfb = rec_fb[hpp]
        j = np.where(root, -1, top_l[pfb, hs] if k > 1 and R > 1 else -1).astype(np.int64)
        m = np.where(root, 0, rec_m[hpp].astype(np.int64) + 1)
        fb = np.where(root, rbase[active] + od_t[active], rbase[active] + lsrc[np.maximum(j, 0)])
        simple = root | ((rec_simple[hpp] >> hs) & 1).astype(bool)
        rid = active * R + it
        rec_par[rid] = hp
        rec_j[rid] = j
        rec_m[rid] = m
        rec_fb[rid] = fb
        rec_cost[rid] = hc
        a = active[simple]
        acc_rec[a, acc[a]] = rid[simple]
        acc[a] += 1
        go = acc[active] < k
        if it == R - 1 or k == 1 or not go.any():
            break
        ex = active[go]
        ne = len(ex)
        hc, hp, hs, m, fb, rid, simple, pfb = hc[go], hp[go], hs[go], m[go], fb[go], rid[go], simple[go], pfb[go]
        hpp = np.maximum(hp, 0)
        rb = rbase[ex]
        # --- entry 1: the parent's next admissible sidetrack
        nxt_mask = np.where(hp >= 0, rec_ok[hpp] >> (hs + 1), 0)
        has1 = nxt_mask > 0
        c1 = hs + 1 + lowest(np.where(has1, nxt_mask, 1))
        e1_c = np.where(has1, rec_cost[hpp] + top_d[pfb, np.minimum(c1, M - 1)], np.inf)
        # --- entry 2: the cheapest admissible child of the popped walk
        cj = top_l[fb]                                   # (ne, M) sidetracks on the last chain
        cd = top_d[fb]
        cjs = np.maximum(cj, 0)
        u = rb[:, None] + ldst[cjs]
        v = rb[:, None] + lsrc[cjs]
        tu, su = tin[u], size[u]
        tv, sv = tin[v], size[v]
        tb = tin[fb][:, None]
        ok = np.isfinite(cd)
        cur = (tu <= tv) & (tv < tu + su)                # v below u: the new chain runs through u
        simple_c = ~cur
        ok &= ~(cur & (tv <= tb) & (tb < tv + sv))       # v on (b_m .. u): every descendant loops
        # earlier chains of the popped walk: bottoms b_i and tops a_{i+1}, walking up the records
        mmax = int(m.max()) if ne else 0
        if mmax:
            rcur = rid.copy()
            jl = np.empty((ne, mmax), dtype=np.int64)
            for q in range(mmax):  # jl[:, q] = sidetrack q+1 counted from the end (j_m, j_{m-1}, ...)
                jl[:, q] = rec_j[rcur]
                rcur = np.maximum(rec_par[rcur], 0)
            nons = ~simple
            for i in range(mmax):  # chain i: bottom b_i (b_0 = t), top a_{i+1}
                has = i < m
                if not has.any():
                    break
                # j_{i+1} sits at jl[:, m - 1 - i]
                ji = np.take_along_axis(jl, np.clip(m - 1 - i, 0, mmax - 1)[:, None], axis=1)[:, 0]
                ji = np.maximum(ji, 0)
                top = rb + ldst[ji]
                if i == 0:
                    bot = rb + od_t[ex]
                else:
                    jb = np.take_along_axis(jl, np.clip(m - i, 0, mmax - 1)[:, None], axis=1)[:, 0]
                    bot = rb + lsrc[np.maximum(jb, 0)]
                tt, st, tbo = tin[top][:, None], size[top][:, None], tin[bot][:, None]
                hs_ = has[:, None]
                hit = hs_ & (tt <= tv) & (tv < tt + st)
                simple_c &= ~hit
                ok &= ~(hit & (tv <= tbo) & (tbo < tv + sv))
                pre = has & nons & (tin[top] <= tin[fb]) & (tin[fb] < tin[top] + size[top])
                if pre.any():
                    ok &= ~(pre[:, None] & (tu <= tbo) & (tbo < tu + su))
        okm = (ok * bits).sum(axis=1)
        rec_ok[rid] = okm
        rec_simple[rid] = (simple_c * bits).sum(axis=1)
        has2 = okm > 0
        c2 = lowest(np.where(has2, okm, 1))
        e2_c = np.where(has2, hc + cd[np.arange(ne), c2], np.inf)
        # --- pool: the parent's next sidetrack takes the head's slot, the child the first free one
        hcol = col[go]
        pool_c[ex, hcol] = e1_c
        pool_x[ex, hcol] = (hp + 1) * 64 + c1
        free = np.argmax(pool_c[ex] == np.inf, axis=1)
        put = has2 & (pool_c[ex, free] == np.inf)
        pool_c[ex[put], free[put]] = e2_c[put]
        pool_x[ex[put], free[put]] = (rid[put] + 1) * 64 + c2[put]
        active = ex[np.isfinite(pool_c[ex].min(axis=1))]
    # sidetrack lists of the accepted walks, in order j_1..j_m (from t)
    acc_m = np.where(acc_rec >= 0, rec_m[np.maximum(acc_rec, 0)], 0).astype(np.int64)
    acc_l = np.full((m_od, k, R), -1, dtype=np.int32)
    cur = np.maximum(acc_rec, 0)
    mm = acc_m.copy()
    for _ in range(int(acc_m.max()) if acc_m.size else 0):
        o, s_ = np.nonzero(mm > 0)
        acc_l[o, s_, mm[o, s_] - 1] = rec_j[cur[o, s_]]
        cur[o, s_] = rec_par[cur[o, s_]]
        mm[o, s_] -= 1
    acc_cost = np.where(acc_rec >= 0, rec_cost[np.maximum(acc_rec, 0)], np.inf)
    out = _dev_materialise(g, tr, od_row, od_t, acc, acc_l, acc_m, acc_cost, cell_off, n_cells)
    out["tin"] = tr["tin"].astype(np.int32)
    out["size"] = tr["size"]
    tl = np.full(len(tr["par"]), -1, dtype=np.int32)
    kid = tr["par"] >= 0
    tl[kid] = tr["tl"][kid]
    out["tree_link"] = tl
    return out


def _dev_materialise(g, tr, od_row, od_t, acc, acc_l, acc_m, acc_cost, cell_off, n_cells):
    """Link lists (network link ids, travel order) of the accepted walks of one chunk.

    A walk with sidetracks j_1..j_m (from t backwards; link j_i runs b_i -> a_i, b_0 = t) is, in
    travel order: the tree path s -> b_m, link j_m, the tree segment a_m -> b_{m-1}, ...,
    link j_1, the tree segment a_1 -> t. Tree segments are slices of the stored tree paths, so the
    whole chunk is one gather."""
    n = g["n"]
    dep, tptr, tlinks = tr["dep"], tr["tptr"], tr["tlinks"]
    k = acc_l.shape[1]
    po, ps = np.nonzero(np.arange(k)[None, :] < acc[:, None])
    npath = len(po)
    m = acc_m[po, ps].astype(np.int64)
    rb = od_row[po].astype(np.int64) * n
    npc = 2 * m + 1
    pptr = np.zeros(npath + 1, dtype=np.int64)
    np.cumsum(npc, out=pptr[1:])
    pp = np.repeat(np.arange(npath), npc)                  # path of each piece
    q = np.arange(int(pptr[-1]), dtype=np.int64) - pptr[pp]
    h = q >> 1
    i = m[pp] - h                                          # tree piece h is chain i = m - h
    even = (q & 1) == 0
    po_p, ps_p = po[pp], ps[pp]
    # tree pieces: bottom b_i, from below a_{i+1} (chain i's top; 0 for the last chain) to b_i
    jb = acc_l[po_p, ps_p, np.clip(i - 1, 0, None)].astype(np.int64)
    jt = acc_l[po_p, ps_p, np.clip(i, 0, acc_l.shape[2] - 1)].astype(np.int64)
    rbp = rb[pp]
    x = np.where(i == 0, rbp + od_t[po_p], rbp + g["lsrc"][np.maximum(jb, 0)])
    lo = np.where(h == 0, 0, dep[rbp + g["ldst"][np.maximum(jt, 0)]])
    plen = np.where(even, dep[x] - lo, 1)
    # link pieces: j_{m-h}, stored after the tree paths
    lj = acc_l[po_p, ps_p, np.clip(i - 1, 0, None)]
    combined = np.concatenate([tlinks, g["lid"][np.maximum(lj[~even], 0)]])
    pstart = np.empty(len(q), dtype=np.int64)
    pstart[even] = tptr[x[even]] + lo[even]
    pstart[~even] = len(tlinks) + np.arange(int((~even).sum()))
    hops = np.bincount(pp, weights=plen, minlength=npath).astype(np.int64)
    # the compressed form for the solvers: per path, +1 at the bottom cell of each tree piece,
    # -1 at its top cell (none for the piece that starts at the source), +1 at each link piece
    two = even & (plen > 0) & (h >= 1)
    e_cnt = np.where(even, (plen > 0).astype(np.int64) + two, 1)
    e_off = np.cumsum(e_cnt) - e_cnt
    q_top = n_cells + (int(g["lid"].max()) + 1 if len(g["lid"]) else 0)   # every tree cell, then the links
    q_idx = np.empty(int(e_cnt.sum()), dtype=index_dtype(q_top))
    q_sgn = np.ones(len(q_idx), dtype=np.int8)
    f = e_cnt > 0
    q_idx[e_off[f]] = np.where(even[f], cell_off + x[f], n_cells + g["lid"][np.maximum(lj[f], 0)])
    t2 = np.flatnonzero(two)
    q_idx[e_off[t2] + 1] = cell_off + rbp[t2] + g["ldst"][np.maximum(jt[t2], 0)]
    q_sgn[e_off[t2] + 1] = -1
    q_cnt = np.bincount(pp, weights=e_cnt, minlength=npath).astype(np.int64)
    # the link lists: one gather; idx runs through each piece's slice, built as a cumulative sum
    nz = plen > 0
    plen, pstart = plen[nz], pstart[nz]
    tot = int(plen.sum())
    first = np.zeros(len(plen), dtype=np.int64)
    np.cumsum(plen[:-1], out=first[1:])
    idt = index_dtype(len(combined))
    step = np.ones(tot, dtype=idt)
    if len(plen):
        jump = np.empty(len(plen), dtype=np.int64)
        jump[0] = pstart[0]
        jump[1:] = pstart[1:] - (pstart[:-1] + plen[:-1] - 1)
        step[first] = jump
    idx = np.cumsum(step, dtype=idt)
    links = combined[idx]
    tlat = tr["tlat"]
    a_lat = np.where(h >= 1, tlat[rbp + g["ldst"][np.maximum(jt, 0)]], 0.0)
    piece_lat = np.where(even, tlat[x] - a_lat, g["latency"][g["lid"][np.maximum(lj, 0)]])
    lat = np.bincount(pp, weights=piece_lat, minlength=npath)
    cost = acc_cost[po, ps]
    return {"counts": acc, "hops": hops, "links": links, "cost": cost, "lat": lat,
            "q_cnt": q_cnt, "q_idx": q_idx, "q_sgn": q_sgn}


def _dev_run_chunk(args):
    out = _dev_chunk(*args)
    _release_heap()
    return out


#: glibc's ``malloc_trim`` once looked up (None: not yet; False: not there)
_MALLOC_TRIM: list = [None]


def _release_heap() -> None:
    """Hand the C heap's freed pages back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    The builder's temporaries are mostly under glibc's mmap threshold (which grows to 32 MB once
    larger blocks are freed), so they come from the heaps of the worker threads, and freed they
    stay resident: measured at backbone/americas (5.0M paths) 0.9 GB of the 2.0 GB resident
    after the build was such freed heap, handed back by one ``malloc_trim(0)`` (a few ms)."""
    trim = _MALLOC_TRIM[0]
    if trim is None:
        try:
            trim = ctypes.CDLL(None).malloc_trim     # the process's own symbols: glibc's when linked
        except (OSError, AttributeError, TypeError):
            trim = False
        _MALLOC_TRIM[0] = trim
    if trim:
        trim(0)


def _deviation(net: Network, k: int, pairs, *, fanout: int | None = None, max_pops: int | None = None,
               chunk_cells: int = _DEV_CHUNK_CELLS, workers: int | None = None) -> PathSet:
    """Up to ``k`` shortest simple paths per OD pair, vectorised over all pairs (see module notes).

    Parameters
    ----------
    fanout : sidetracks kept per tree path (children per expanded walk); default ``k + 4``.
    max_pops : walks each OD may take from its pool (accepted or rejected as loops); default ``4k``.
    chunk_cells : sources are processed in chunks of about ``chunk_cells / n_nodes`` sources.
    workers : threads over chunks (numpy releases the GIL in most of the work); default
        ``min(4, cpu count)``.
    """

    n = net.n_nodes
    M = min(int(fanout or (k + 4)), 62)  # slots are 6-bit codes and 64-bit masks
    R = int(max_pops or (4 * k))
    g = _dev_graph(net)
    s_all = np.asarray(pairs[0], dtype=np.int64)
    t_all = np.asarray(pairs[1], dtype=np.int64)
    ok = s_all != t_all
    s_all, t_all = s_all[ok], t_all[ok]
    order = np.argsort(s_all, kind="stable")
    s_sorted, t_sorted = s_all[order], t_all[order]
    uniq, first = np.unique(s_sorted, return_index=True)
    bounds = np.concatenate([first, [len(s_sorted)]])
    per = max(1, int(chunk_cells) // max(n, 1))
    n_cells = len(uniq) * n
    jobs = []
    for c0 in range(0, len(uniq), per):
        srcs = uniq[c0:c0 + per]
        lo, hi = bounds[c0], bounds[min(c0 + per, len(uniq))]
        row = np.repeat(np.arange(len(srcs)), np.diff(bounds[c0:c0 + len(srcs) + 1]))
        jobs.append((g, srcs, row, t_sorted[lo:hi], k, M, R, c0 * n, n_cells))
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_dev_run_chunk, jobs))
    else:
        results = [_dev_run_chunk(j) for j in jobs]
    del jobs

    def cat(key, dtype):
        """Concatenate one output over the chunks, freeing each chunk's part once copied
        (the result's pages fill as they are written, and the freed parts go back to the system
        (:func:`_release_heap`), so the peak stays near one copy)."""
        total = sum(len(r[key]) for r in results)
        out = np.empty(total, dtype=dtype)
        o = 0
        for i, r in enumerate(results):
            part = r[key]
            out[o:o + len(part)] = part
            o += len(part)
            r[key] = part = None
            if i % 8 == 7:
                _release_heap()
        _release_heap()
        return out

    counts = cat("counts", np.int64)
    hops = cat("hops", np.int64)
    links = cat("links", np.int32)
    cost = cat("cost", np.float64)
    lat = cat("lat", np.float64)
    q_cnt = cat("q_cnt", np.int64)
    q_idx = cat("q_idx", index_dtype(n_cells + net.n_links))
    q_sgn = cat("q_sgn", np.int8)
    trees = {"n_nodes": n, "sources": uniq, "tin": cat("tin", np.int32), "size": cat("size", np.int32),
             "tree_link": cat("tree_link", np.int32)}
    del results
    link_ptr = np.zeros(len(hops) + 1, dtype=np.int64)
    np.cumsum(hops, out=link_ptr[1:])
    q_ptr = np.zeros(len(q_cnt) + 1, dtype=np.int64)
    np.cumsum(q_cnt, out=q_ptr[1:])
    keep = counts > 0
    od_ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=od_ptr[1:])
    meta = {"k": k, "algorithm": "eppstein-simple", "fanout": M, "max_pops": R,
            "_link_src": net.src, "_link_dst": net.dst}
    ps = PathSet(tuple(net.node_names), tuple(net.link_names), s_sorted, t_sorted, od_ptr, link_ptr, links,
                 cost, lat, "deviation", meta)
    if not keep.all() or not np.array_equal(order, np.arange(len(order))):
        # back to the caller's pair order, dropping unreachable pairs
        sel_sorted = np.flatnonzero(keep)
        sel_sorted = sel_sorted[np.argsort(order[sel_sorted], kind="stable")]
        cnt = counts[sel_sorted]
        pidx = (np.repeat(ps.od_ptr[sel_sorted] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
                + np.arange(int(cnt.sum())))
        ps = ps._take(sel_sorted, cnt, pidx)
        q_ptr, q_idx, q_sgn = _csr_rows(q_ptr, (q_idx, q_sgn), pidx)
    trees.update(q_ptr=q_ptr, q_idx=q_idx, q_sgn=q_sgn, _link_ptr=ps.link_ptr)
    ps.meta["_trees"] = trees
    _release_heap()
    return ps


def _csr_rows(ptr, values, rows):
    """Rows ``rows`` of a CSR structure: (new ptr, tuple of gathered value arrays)."""
    cnt = ptr[1:][rows] - ptr[:-1][rows]
    new_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(cnt, out=new_ptr[1:])
    gather = np.repeat(ptr[:-1][rows] - new_ptr[:-1], cnt) + np.arange(int(new_ptr[-1]))
    return (new_ptr, *(v[gather] for v in values))


def deviation_paths(net: Network, k: int = 4, *, pairs: tuple[Iterable[int], Iterable[int]] | None = None,
                    fanout: int | None = None, max_pops: int | None = None, workers: int | None = None) -> PathSet:
    """``k_shortest_paths(net, k, pairs=pairs, method="deviation")`` with the builder's knobs.

    Parameters
    ----------
    fanout : sidetracks kept per tree path; default ``k + 4`` (more: closer to exact).
    max_pops : walks each OD may take from its pool; default ``4k``.
    workers : threads over chunks of sources; default ``min(4, cpu count)``.

    >>> from surgeguard.examples import ring
    >>> net = ring(6)
    >>> deviation_paths(net, k=2, workers=1).n_paths == k_shortest_paths(net, k=2, method="deviation").n_paths
    True
    """
    pairs = _checked_pairs(net, k, pairs)
    check_path_budget(net, k, len(pairs[0]), "deviation")
    return _deviation(net, k, pairs, fanout=fanout, max_pops=max_pops, workers=workers)


def _checked_pairs(net: Network, k: int, pairs) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` as two int64 arrays (all ordered pairs by default), after checking ``k``."""
    if k < 1:
        raise ValidationError(f"k must be >= 1 paths per OD pair, got {k}")
    if pairs is None:
        pairs = all_pairs(net)
    return np.asarray(pairs[0], dtype=np.int64), np.asarray(pairs[1], dtype=np.int64)


def k_shortest_paths(net: Network, k: int = 4, *, pairs: tuple[Iterable[int], Iterable[int]] | None = None,
                     method: str = "auto", disjoint: bool = False) -> PathSet:
    """Up to ``k`` candidate paths per OD pair, cheapest IGP cost first.

    Parameters
    ----------
    net : the network.
    k : paths per OD pair (>= 1; at most :data:`MAX_K_YEN` with Yen, :data:`MAX_K_DEVIATION`
        with the deviation builder).
    pairs : (src indices, dst indices); default all ordered pairs. Unreachable pairs get no path.
    method : "yen" (exact), "deviation" (scalable, see module notes) or "auto" (Yen up to
        :data:`YEN_MAX_PAIRS` pairs, ``k <= MAX_K_YEN`` and an estimated :data:`YEN_MAX_SECONDS`).

    The size is checked before building (:func:`check_path_budget`): k above the limit, or an
    estimated memory above what is available, raises :class:`~surgeguard.ValidationError`.
    disjoint : link-disjoint paths (greedy: shortest path, remove its links, repeat); Yen only.

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> ps = k_shortest_paths(two_paths(), k=2)
    >>> ps.n_paths >= ps.n_od
    True
    """
    pairs = _checked_pairs(net, k, pairs)
    auto = method == "auto"
    if auto:
        n = len(pairs[0])
        fits = n <= YEN_MAX_PAIRS and k <= MAX_K_YEN and _yen_seconds(net, n * k) <= YEN_MAX_SECONDS
        method = "yen" if (fits or disjoint) else "deviation"
    if method == "yen":
        check_path_budget(net, k, len(pairs[0]), "yen", chosen=not auto)
        return _yen(net, k, pairs, disjoint)
    if method == "deviation":
        if disjoint:
            raise ValidationError("disjoint paths need method='yen'")
        check_path_budget(net, k, len(pairs[0]), "deviation", chosen=not auto)
        return _deviation(net, k, pairs)
    raise ValidationError(f"unknown path method {method!r}; use 'auto', 'yen' or 'deviation'")


def _mean_hops(net: Network, samples: int = 8) -> float:
    """Mean hop count of shortest paths, from breadth-first searches out of a few spread sources."""
    n = net.n_nodes
    if n < 2 or net.n_links == 0:
        return 1.0
    A = sp.csr_matrix((np.ones(net.n_links), (net.src, net.dst)), shape=(n, n))
    src = np.unique(np.linspace(0, n - 1, min(samples, n)).astype(np.int64))
    D = dijkstra(A, unweighted=True, indices=src)
    reach = D[np.isfinite(D) & (D > 0)]
    return float(reach.mean()) if reach.size else 1.0


def _yen_seconds(net: Network, n_paths: float) -> float:
    """Estimated seconds of Yen's algorithm for ``n_paths`` paths on ``net``."""
    return float(n_paths) * max(net.n_links, 1) * YEN_SECONDS_PER_PATH_LINK


def check_path_budget(net: Network, k: int, n_pairs: int, method: str, *, chosen: bool = True) -> None:
    """Refuse a path build that is too large, before building it, with one line.

    ``k`` above the builder's limit (:data:`MAX_K_YEN`, :data:`MAX_K_DEVIATION`), a Yen build of
    estimated to take more than :data:`YEN_MAX_SECONDS`, or an estimated memory (OD pairs x k x the mean hop
    count plus two, times the bytes each path-link entry and path takes while building) above what
    the machine has available raise :class:`~surgeguard.ValidationError` naming k and the estimated
    path count (and the builder, when the caller ``chosen`` it rather than ``method="auto"``).

    >>> from surgeguard.examples import ring
    >>> check_path_budget(ring(4), 4, 12, "yen")
    >>> check_path_budget(ring(4), 10000, 12, "yen")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: k=10000 paths per OD pair (12 OD pairs x 10000 = about 120,000 paths) is above the limit of 64 for Yen's algorithm; use k <= 64
    """
    n_paths = float(n_pairs) * float(k)
    count = f"{format_count(n_pairs)} OD pairs x {k} = about {format_count(n_paths)} paths"
    limit = MAX_K_YEN if method == "yen" else MAX_K_DEVIATION
    label = (" for Yen's algorithm" if method == "yen" else " for the deviation path builder") if chosen else ""
    if k > limit:
        raise ValidationError(f"k={k} paths per OD pair ({count}) is above the limit of {limit}{label}; "
                              f"use k <= {limit}")
    secs = _yen_seconds(net, n_paths)
    if method == "yen" and secs > YEN_MAX_SECONDS:
        raise ValidationError(f"k={k} with Yen's algorithm would build {count} on {net.n_links} links, about "
                              f"{secs:,.0f} s of work (more than its budget of {YEN_MAX_SECONDS:g} s); use method "
                              "'deviation' or a smaller k")
    hops = _mean_hops(net) + 2.0  # the k-th path of an OD is longer than its shortest one
    if method == "yen":
        need = n_paths * (hops * 48.0 + 64.0)
    else:
        # the result (int32 link lists, per-path offsets, costs and the tree form: ~4 bytes an entry,
        # ~50 a path) and what the chunks in flight hold; measured peak above the start (issue 16,
        # benchmarks/results/te_memory.md): backbone/eurasia 3.7 GB for 16.3M paths of 23.6 hops
        # (this estimate 5.3 GB: it counts k paths for every pair), americas 1.8 GB (estimate 2.5 GB);
        # world's estimate 17.1 GB
        need = n_paths * (hops * DEV_BYTES_PER_ENTRY + 64.0) + DEV_BYTES_PER_PAIR_IN_FLIGHT * min(
            float(n_pairs), 2.0 * _DEV_CHUNK_CELLS)
    check_memory(need, f"building k={k} paths per OD pair ({count})", "use a smaller k or fewer OD pairs")


def all_simple_paths(net: Network, pairs=None, cutoff: int | None = None) -> PathSet:
    """Every simple path of every OD pair (small networks only: used to cross-check the LP).

    ``cutoff``: the most hops a path may have (None: any). More than :data:`MAX_SIMPLE_PATHS` paths
    in all raise :class:`~surgeguard.ValidationError` as soon as the count passes it.
    """

    W, sel = _best_link_matrix(net)
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    link_of = {}
    for l in sel:
        a, b = int(net.src[l]), int(net.dst[l])
        g.add_edge(a, b)
        link_of[(a, b)] = int(l)
    if pairs is None:
        pairs = all_pairs(net)
    od_src, od_dst, counts, ptr, links = [], [], [], [0], []
    total = 0
    for s, t in zip(*pairs):
        found = list(itertools.islice(nx.all_simple_paths(g, int(s), int(t), cutoff=cutoff),
                                      MAX_SIMPLE_PATHS - total + 1))
        total += len(found)
        if total > MAX_SIMPLE_PATHS:
            raise ValidationError(
                f"network {net.name!r} has more than {format_count(MAX_SIMPLE_PATHS)} simple paths"
                f"{'' if cutoff is None else f' of at most {cutoff} hops'}; give a (smaller) cutoff in hops "
                "or use k_shortest_paths")
        od_src.append(int(s)); od_dst.append(int(t)); counts.append(len(found))
        for p in found:
            links.extend(link_of[(a, b)] for a, b in zip(p[:-1], p[1:]))
            ptr.append(len(links))
    return _finish(net, od_src, od_dst, counts, ptr, links, "all-simple")
