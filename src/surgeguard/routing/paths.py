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
* ``"deviation"``: the shortest path plus the k-1 cheapest *single-deviation* paths: leave the
  shortest s->t path at one of its nodes u by a link (u, v) that is not its next hop, then follow
  the shortest path from v to t. This is the set of paths with one "sidetrack" in Eppstein's sense
  (it contains the second-shortest walk); paths that would revisit a node are dropped. It is fully
  vectorised over all ODs from an all-pairs distance and next-hop matrix, so it scales to
  thousands of nodes; the cost is that the 3rd and later paths may differ from Yen's (they are the
  best paths that differ from the shortest path in one place).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ..exceptions import InputError, NoPathError, ValidationError
from ..network import Network

__all__ = ["PathSet", "k_shortest_paths", "all_simple_paths", "paths_from_node_lists", "read_tunnels_file",
           "all_pairs", "YEN_MAX_PAIRS"]

#: ``method="auto"`` uses Yen's exact algorithm up to this many OD pairs, "deviation" beyond.
YEN_MAX_PAIRS = 5000


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
        d = tm[self.od_src, self.od_dst]
        covered = np.zeros_like(tm, dtype=bool)
        covered[self.od_src, self.od_dst] = True
        np.fill_diagonal(covered, True)
        missing = (tm > 0) & ~covered
        if missing.any():
            i, j = np.nonzero(missing)
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

    def subset_ods(self, mask: np.ndarray) -> "PathSet":
        """The path set restricted to the ODs where ``mask`` is true."""
        keep_od = np.flatnonzero(mask)
        counts = self.paths_per_od[keep_od]
        pidx = np.concatenate([np.arange(self.od_ptr[k], self.od_ptr[k + 1]) for k in keep_od]) if len(keep_od) else np.zeros(0, int)
        return self._subset_paths(keep_od, counts, pidx)

    def _subset_paths(self, keep_od, counts, pidx) -> "PathSet":
        hops = self.hops[pidx]
        link_ptr = np.concatenate([[0], np.cumsum(hops)])
        starts = self.link_ptr[pidx]
        gather = np.repeat(starts - link_ptr[:-1], hops) + np.arange(link_ptr[-1])
        return PathSet(self.node_names, self.link_names, self.od_src[keep_od], self.od_dst[keep_od],
                       np.concatenate([[0], np.cumsum(counts)]), link_ptr, self.link_idx[gather],
                       self.cost[pidx], self.latency_ms[pidx], self.method, dict(self.meta))

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
    as DOTE/FIGRET's ``tunnels.txt``)."""
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputError(f"paths file {str(path)!r} cannot be read ({exc.strerror}); give an existing tunnels file") from None
    names = net.node_names
    od_paths = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            head, body = line.split(":", 1)
            s, d = (int(x) for x in head.split())
            plist = [[names[int(x)] for x in seg.split("-")] for seg in body.split(",") if seg]
            od_paths.append((names[s], names[d], plist))
        except (ValueError, IndexError):
            raise InputError(
                f"paths file {str(path)!r} line {lineno} is not 'src dst:n-n-n,n-n-n' with node indices "
                f"0..{len(names) - 1}: {line[:60]!r}") from None
    return paths_from_node_lists(net, od_paths, method=f"tunnels:{p.name}")


def _yen(net: Network, k: int, pairs, disjoint: bool) -> PathSet:
    import itertools

    import networkx as nx

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


def _walk(start, target, nh, link_of, ptr_out, out, offset0, n_steps):
    """Write the links of the next-hop walks start->target into ``out`` at ``ptr_out + offset0``."""
    cur = start.copy()
    off = offset0.copy()
    act = np.arange(len(cur))
    for _ in range(int(n_steps.max()) if len(n_steps) else 0):
        m = cur[act] != target[act]
        act = act[m]
        if not len(act):
            break
        nxt = nh[cur[act], target[act]]
        out[ptr_out[act] + off[act]] = link_of[cur[act], nxt]
        cur[act] = nxt
        off[act] += 1
    return off


def _deviation(net: Network, k: int, pairs, chunk: int = 2_000_000) -> PathSet:
    n = net.n_nodes
    W, sel = _best_link_matrix(net)
    link_of = np.full((n, n), -1, dtype=np.int64)
    link_of[net.src[sel], net.dst[sel]] = sel
    # distances to each target on the reversed graph give next hops toward the target
    D_to, pred = dijkstra(W.T.tocsr(), directed=True, return_predecessors=True)
    D = D_to.T  # D[x, t] = distance x -> t
    nh = pred.T.astype(np.int64)  # nh[x, t] = next hop from x toward t (-9999 when none/self)
    # hop counts along next-hop paths: H[x, t]
    H = np.zeros((n, n), dtype=np.int64)
    reach = np.isfinite(D)
    np.fill_diagonal(reach, False)
    xs, ts = np.nonzero(reach)
    cur = xs.copy()
    act = np.arange(len(xs))
    while len(act):
        cur[act] = nh[cur[act], ts[act]]
        H[xs[act], ts[act]] += 1
        act = act[cur[act] != ts[act]]
    s_all, t_all = (np.asarray(a, dtype=np.int64) for a in pairs)
    ok = np.isfinite(D[s_all, t_all]) & (s_all != t_all)
    s_all, t_all = s_all[ok], t_all[ok]
    # outgoing links per node (cheapest per neighbour), CSR by node
    osrc, odst = net.src[sel], net.dst[sel]
    order = np.argsort(osrc, kind="stable")
    out_ptr = np.concatenate([[0], np.cumsum(np.bincount(osrc, minlength=n))])
    out_dst = odst[order]
    out_w = net.metric[sel][order]
    deg = np.diff(out_ptr)

    res_src, res_dst, res_cnt, res_ptr_parts, res_links_parts = [], [], [], [], []
    total_links = 0
    for c0 in range(0, len(s_all), chunk):
        s, t = s_all[c0:c0 + chunk], t_all[c0:c0 + chunk]
        m = len(s)
        hst = H[s, t]
        # prefix nodes of each shortest path: position j = 0..hst-1 (node u_j, from which we deviate)
        pref_od = np.repeat(np.arange(m), hst)
        pref_pos = np.arange(hst.sum()) - np.repeat(np.cumsum(hst) - hst, hst)
        pref_node = np.empty(len(pref_od), dtype=np.int64)
        cur = s.copy()
        base = np.cumsum(hst) - hst
        act = np.arange(m)
        j = 0
        while len(act):
            pref_node[base[act] + j] = cur[act]
            cur[act] = nh[cur[act], t[act]]
            j += 1
            act = act[j < hst[act]]
        # candidate deviations: every out-link of each prefix node except the next hop
        cdeg = deg[pref_node]
        c_pref = np.repeat(np.arange(len(pref_node)), cdeg)
        c_slot = np.arange(cdeg.sum()) - np.repeat(np.cumsum(cdeg) - cdeg, cdeg) + np.repeat(out_ptr[pref_node], cdeg)
        c_v = out_dst[c_slot]
        c_u = pref_node[c_pref]
        c_od = pref_od[c_pref]
        c_t = t[c_od]
        c_s = s[c_od]
        pos = pref_pos[c_pref]
        cost = D[c_s, c_u] + out_w[c_slot] + D[c_v, c_t]
        # drop: the next hop itself, unreachable, and loops (the shortest path from v runs back through u)
        loop = D[c_v, c_u] + D[c_u, c_t] <= D[c_v, c_t] * (1 + 1e-12) + 1e-12
        valid = (c_v != nh[c_u, c_t]) & np.isfinite(cost) & ~loop
        # a deviation back onto an earlier prefix node is also a loop: v on prefix before u
        # (covered by `loop`: the shortest path from such a v passes through u)
        c_od, cost, c_u, c_v, pos, c_slot = c_od[valid], cost[valid], c_u[valid], c_v[valid], pos[valid], c_slot[valid]
        # keep the k-1 cheapest per OD: sort by (od, cost)
        o = np.lexsort((cost, c_od))
        c_od, cost, c_u, c_v, pos = c_od[o], cost[o], c_u[o], c_v[o], pos[o]
        first = np.concatenate([[0], np.flatnonzero(np.diff(c_od)) + 1]) if len(c_od) else np.zeros(0, int)
        rank = np.arange(len(c_od)) - np.repeat(first, np.diff(np.concatenate([first, [len(c_od)]])))
        keep = rank < (k - 1)
        c_od, c_u, c_v, pos = c_od[keep], c_u[keep], c_v[keep], pos[keep]
        ndev = np.bincount(c_od, minlength=m)
        cnt = 1 + ndev
        # path order within each OD: shortest first, then deviations by cost (already sorted)
        dev_first = np.cumsum(cnt) - cnt + 1  # path index (chunk-local) of each OD's first deviation
        dev_rank = np.arange(len(c_od)) - np.repeat(np.cumsum(ndev) - ndev, ndev)
        dev_path = dev_first[c_od] + dev_rank
        sp_path = np.cumsum(cnt) - cnt
        n_p = int(cnt.sum())
        hops = np.empty(n_p, dtype=np.int64)
        hops[sp_path] = hst
        hops[dev_path] = pos + 1 + H[c_v, t[c_od]]
        ptr = np.concatenate([[0], np.cumsum(hops)])
        links = np.empty(ptr[-1], dtype=np.int64)
        # shortest paths: walk s -> t
        _walk(s, t, nh, link_of, ptr[sp_path], links, np.zeros(m, np.int64), hst)
        # deviations: walk s -> u along the shortest path to t (pos hops), link (u, v), walk v -> t
        dv_start = s[c_od]
        dv_t = t[c_od]
        cur = dv_start.copy()
        base = ptr[dev_path]
        act = np.arange(len(c_od))
        j = 0
        while len(act):
            act = act[j < pos[act]]
            if not len(act):
                break
            nxt = nh[cur[act], dv_t[act]]
            links[base[act] + j] = link_of[cur[act], nxt]
            cur[act] = nxt
            j += 1
        links[base + pos] = link_of[c_u, c_v]
        _walk(c_v, dv_t, nh, link_of, base + pos + 1, links, np.zeros(len(c_od), np.int64),
              H[c_v, dv_t] if len(c_od) else np.zeros(0, np.int64))
        res_src.append(s); res_dst.append(t); res_cnt.append(cnt)
        res_ptr_parts.append(ptr[1:] + total_links)
        res_links_parts.append(links)
        total_links += ptr[-1]
    od_src = np.concatenate(res_src) if res_src else np.zeros(0, np.int64)
    od_dst = np.concatenate(res_dst) if res_dst else np.zeros(0, np.int64)
    counts = np.concatenate(res_cnt) if res_cnt else np.zeros(0, np.int64)
    link_ptr = np.concatenate([[0]] + res_ptr_parts)
    link_idx = np.concatenate(res_links_parts) if res_links_parts else np.zeros(0, np.int64)
    return _finish(net, od_src, od_dst, counts, link_ptr, link_idx, "deviation", {"k": k})


def k_shortest_paths(net: Network, k: int = 4, *, pairs: tuple[Iterable[int], Iterable[int]] | None = None,
                     method: str = "auto", disjoint: bool = False) -> PathSet:
    """Up to ``k`` candidate paths per OD pair, cheapest IGP cost first.

    Parameters
    ----------
    net : the network.
    k : paths per OD pair (>= 1).
    pairs : (src indices, dst indices); default all ordered pairs. Unreachable pairs get no path.
    method : "yen" (exact), "deviation" (scalable, see module notes) or "auto" (Yen up to
        :data:`YEN_MAX_PAIRS` pairs).
    disjoint : link-disjoint paths (greedy: shortest path, remove its links, repeat); Yen only.

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> ps = k_shortest_paths(two_paths(), k=2)
    >>> ps.n_paths >= ps.n_od
    True
    """
    if k < 1:
        raise ValidationError(f"k must be >= 1 paths per OD pair, got {k}")
    if pairs is None:
        pairs = all_pairs(net)
    pairs = (np.asarray(pairs[0], dtype=np.int64), np.asarray(pairs[1], dtype=np.int64))
    if method == "auto":
        method = "yen" if (len(pairs[0]) <= YEN_MAX_PAIRS or disjoint) else "deviation"
    if method == "yen":
        return _yen(net, k, pairs, disjoint)
    if method == "deviation":
        if disjoint:
            raise ValidationError("disjoint paths need method='yen'")
        return _deviation(net, k, pairs)
    raise ValidationError(f"unknown path method {method!r}; use 'auto', 'yen' or 'deviation'")


def all_simple_paths(net: Network, pairs=None, cutoff: int | None = None) -> PathSet:
    """Every simple path of every OD pair (small networks only: used to cross-check the LP)."""
    import networkx as nx

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
    for s, t in zip(*pairs):
        found = list(nx.all_simple_paths(g, int(s), int(t), cutoff=cutoff))
        od_src.append(int(s)); od_dst.append(int(t)); counts.append(len(found))
        for p in found:
            links.extend(link_of[(a, b)] for a, b in zip(p[:-1], p[1:]))
            ptr.append(len(links))
    return _finish(net, od_src, od_dst, counts, ptr, links, "all-simple")
