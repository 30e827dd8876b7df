"""The IGP's routing as a matrix: which fraction of each OD pair's traffic crosses each link.

Routers forward on shortest paths of the IGP metric and split equally over equal-cost next hops
(hop-by-hop ECMP). For a network whose operator runs no traffic engineering this fixes the routing
matrix ``A`` (links x OD pairs): the load of link ``l`` is ``sum_p A[l, p] * x[p]`` for the demands
``x``. It is what a telemetry simulator uses to turn a traffic matrix into interface counters, and
what traffic-matrix estimation inverts (``y = A x``, Zhang et al., SIGMETRICS 2003).

:func:`ecmp_routing_matrix` builds ``A`` for all ordered pairs without enumerating paths. For each
destination ``d`` the equal-cost next hops form a DAG; with ``P_d`` the next-hop probabilities
(node x node) and ``M_d`` the first-hop link probabilities (node x link), the fraction of ``s -> d``
traffic on every link is row ``s`` of ``F_d = M_d + P_d M_d + P_d^2 M_d + ...`` (``P_d`` is
nilpotent: the series stops after the longest shortest path). Destinations are processed in blocks
(a block-diagonal ``P``); the terms are kept apart and summed once
when the final matrix is assembled. The number of sparse products is the diameter times the number of
blocks, not the number of nodes.

>>> from surgeguard.examples import ring
>>> rm = ecmp_routing_matrix(ring(4))
>>> rm.n_od, rm.A.shape
(12, (8, 12))
>>> import numpy as np
>>> tm = np.zeros((4, 4)); tm[0, 2] = 10.0   # two equal-cost paths, 5 bit/s on each
>>> sorted(rm.loads(tm)[rm.loads(tm) > 0].tolist())
[5.0, 5.0, 5.0, 5.0]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .exceptions import InputError
from .network import Network
from .resources import check_memory

__all__ = ["RoutingMatrix", "ecmp_routing_matrix", "all_od_pairs"]


def all_od_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``i != j`` of ``n`` nodes, sorted by source then destination."""
    i, j = np.divmod(np.arange(n * n), n)
    keep = i != j
    return i[keep], j[keep]


class RoutingMatrix:
    """The routing of a network as a sparse links x OD-pairs matrix of traffic fractions.

    Attributes: ``network``; ``od_src``, ``od_dst`` (node indices of the ``n_od`` OD pairs, all
    ordered pairs ``i != j``, by source then destination); ``A`` (CSR, ``(n_links, n_od)``);
    ``reachable`` (bool per OD pair: a path exists). Self-traffic (``i -> i``) crosses no link and
    has no column; it appears only in node totals.
    """

    def __init__(self, network: Network, od_src: np.ndarray, od_dst: np.ndarray, A: sp.csr_matrix,
                 reachable: np.ndarray, method: str):
        self.network = network
        self.od_src = np.asarray(od_src, dtype=np.int64)
        self.od_dst = np.asarray(od_dst, dtype=np.int64)
        self.A = A
        self.reachable = np.asarray(reachable, dtype=bool)
        self.method = method

    @property
    def n_od(self) -> int:
        return len(self.od_src)

    @property
    def n_links(self) -> int:
        return self.A.shape[0]

    @property
    def n_nodes(self) -> int:
        return self.network.n_nodes

    def _check_tm(self, tm) -> np.ndarray:
        tm = np.asarray(tm, dtype=float)
        n = self.n_nodes
        if tm.ndim not in (2, 3) or tm.shape[-2:] != (n, n):
            raise InputError(f"traffic matrix: shape {tm.shape} does not match the network's {n} nodes; "
                             f"fix: give an ({n}, {n}) matrix or a (T, {n}, {n}) series in the network's node order")
        return tm

    def od_vector(self, tm) -> np.ndarray:
        """The OD demands of a matrix ``(N, N)`` as ``(n_od,)``, or of a series ``(T, N, N)`` as ``(T, n_od)``."""
        tm = self._check_tm(tm)
        return tm[..., self.od_src, self.od_dst]

    def to_matrix(self, x) -> np.ndarray:
        """Inverse of :meth:`od_vector`: ``(n_od,)`` -> ``(N, N)``, ``(T, n_od)`` -> ``(T, N, N)``; zero diagonal."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1] != self.n_od or x.ndim not in (1, 2):
            raise InputError(f"OD vector: shape {x.shape} does not match the {self.n_od} OD pairs; "
                             f"fix: give ({self.n_od},) or (T, {self.n_od})")
        n = self.n_nodes
        out = np.zeros(x.shape[:-1] + (n, n))
        out[..., self.od_src, self.od_dst] = x
        return out

    def loads(self, tm) -> np.ndarray:
        """Link loads in bit/s: ``(N, N)`` -> ``(L,)``, ``(T, N, N)`` -> ``(T, L)`` (the diagonal is ignored)."""
        x = self.od_vector(tm)
        if x.ndim == 1:
            return self.A @ x
        return (self.A @ x.T).T

    def __repr__(self) -> str:
        return (f"RoutingMatrix({self.network.name!r}, {self.n_links} links x {self.n_od} OD pairs, "
                f"nnz={self.A.nnz}, {self.method})")


def ecmp_routing_matrix(network: Network, *, rtol: float = 1e-9, block: int | None = None) -> RoutingMatrix:
    """Hop-by-hop ECMP routing on ``network.metric`` for all ordered node pairs.

    Each router splits the traffic toward ``d`` equally over all its links (parallel links
    included) that lie on a shortest path to ``d`` (metric sums equal within ``rtol``, relative).
    The result agrees with :func:`surgeguard.routing.shortest.ecmp_splits` over a path set that
    holds every equal-cost path. ``block``: destinations per sparse block (default: sized so a block
    holds about 2 million node-link entries).
    """
    n, m = network.n_nodes, network.n_links
    src, dst, w = network.src, network.dst, network.metric.astype(float)
    # shortest distances to every destination: D[x, d] (parallel links: keep the lowest metric)
    order = np.lexsort((w, dst, src))
    s_, d_, w_ = src[order], dst[order], w[order]
    first = np.ones(m, bool)
    first[1:] = (s_[1:] != s_[:-1]) | (d_[1:] != d_[:-1])
    W = sp.csr_matrix((w_[first], (s_[first], d_[first])), shape=(n, n))
    D = dijkstra(W, directed=True)  # D[x, y] = distance x -> y
    od_src, od_dst = all_od_pairs(n)
    reachable = np.isfinite(D[od_src, od_dst])
    # OD index of (s, d): s * (n - 1) + d - (d > s)
    if block is None:
        block = int(max(1, min(n, 2_000_000 // max(m, 1))))
    rows_all, cols_all, vals_all = [], [], []
    for d0 in range(0, n, block):
        dests = np.arange(d0, min(n, d0 + block))
        B = len(dests)
        Dd = D[:, dests]  # (n, B) distance to each destination
        du, dv = Dd[src], Dd[dst]  # (m, B)
        with np.errstate(invalid="ignore"):
            on = np.isfinite(du) & (np.abs(w[:, None] + dv - du) <= rtol * np.maximum(1.0, du))
        e_idx, b_idx = np.nonzero(on)
        u = src[e_idx]
        nh = np.bincount(u * B + b_idx, minlength=n * B).astype(float)
        prob = 1.0 / nh[u * B + b_idx]
        row = b_idx * n + u  # block row of node u for destination b
        P = sp.csr_matrix((prob, (row, b_idx * n + dst[e_idx])), shape=(B * n, B * n))
        T = sp.csr_matrix((prob, (row, e_idx)), shape=(B * n, m))
        for _ in range(n + 1):  # P is nilpotent: at most n - 1 products
            F = T.tocoo()
            b, s = np.divmod(F.row.astype(np.int64), n)
            d = dests[b]
            rows_all.append(F.col.astype(np.int64))
            cols_all.append(s * (n - 1) + d - (d > s))
            vals_all.append(F.data)
            T = P @ T
            if T.nnz == 0:
                break
        check_memory(sum(len(v) for v in vals_all) * 24 * n / (d0 + B), "the ECMP routing matrix",
                     "use a smaller network or a machine with more memory")
    rows = np.concatenate(rows_all) if rows_all else np.zeros(0, np.int64)
    cols = np.concatenate(cols_all) if cols_all else np.zeros(0, np.int64)
    vals = np.concatenate(vals_all) if vals_all else np.zeros(0)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(m, len(od_src)))
    return RoutingMatrix(network, od_src, od_dst, A, reachable, method="ecmp")
