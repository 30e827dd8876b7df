"""``shortest``: IGP shortest paths with ECMP, what a network runs without traffic engineering."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ..network import Network
from ..paths import PathSet
from ..validation import Interval
from .policies import Policy, register_policy
from .routing import Routing

__all__ = ["ShortestPath", "ecmp_splits"]


def ecmp_splits(network: Network, paths: PathSet, rtol: float = 1e-9) -> np.ndarray:
    """Hop-by-hop ECMP split ratios over the candidate paths.

    Each router splits traffic toward ``t`` equally over its next hops on shortest paths. A
    shortest candidate path therefore carries the product over its hops of 1 / (number of
    equal-cost next hops at that hop). Candidate paths longer than the shortest get nothing. When
    every equal-cost path is a candidate (the usual case for k >= the ECMP width) this is exactly
    the routers' split; otherwise the weights are renormalised over the candidates present. An
    OD pair none of whose shortest paths is a candidate gets its cheapest candidate.

    On ``ring(4)`` (equal metrics) node 0 reaches node 2 over two equal-cost paths:

    >>> from surgeguard.examples import ring
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = ring(4); ps = k_shortest_paths(net, k=2)
    >>> s = ecmp_splits(net, ps); k = ps.od_lookup[0, 2]
    >>> s[ps.od_ptr[k]:ps.od_ptr[k + 1]].tolist()
    [0.5, 0.5]
    """
    n = network.n_nodes
    # parallel links: a CSR matrix would sum their metrics; keep the minimum metric instead
    order = np.lexsort((network.metric, network.dst, network.src))
    s, d, m = network.src[order], network.dst[order], network.metric[order]
    first = np.ones(len(order), bool)
    first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
    W = sp.csr_matrix((m[first], (s[first], d[first])), shape=(n, n))
    targets = np.unique(paths.od_dst)
    D_to = dijkstra(W.T.tocsr(), directed=True, indices=targets)  # D_to[k, x] = dist x -> targets[k]
    tpos = np.full(n, -1)
    tpos[targets] = np.arange(len(targets))
    # number of equal-cost next hops at each node toward each target (all links, parallel ones too)
    src, dst, w = network.src, network.dst, network.metric
    on_sp = np.abs(w[:, None] + D_to[:, dst].T - D_to[:, src].T) <= rtol * np.maximum(1.0, D_to[:, src].T)
    fan = np.zeros((len(targets), n))
    for k in range(len(targets)):
        fan[k] = np.bincount(src[on_sp[:, k]], minlength=n)
    # per path: is it a shortest path, and its ECMP weight
    od_cost = D_to[tpos[paths.od_dst], paths.od_src]
    is_sp = paths.cost <= od_cost[paths.path_od] * (1 + rtol) + rtol
    seg = np.repeat(np.arange(paths.n_paths), paths.hops)
    link_t = tpos[paths.od_dst[paths.path_od]][seg]
    f = fan[link_t, src[paths.link_idx]]
    logw = -np.bincount(seg, weights=np.log(np.maximum(f, 1.0)), minlength=paths.n_paths)
    wgt = np.where(is_sp, np.exp(logw), 0.0)
    # an OD whose shortest path is not a candidate falls back to its cheapest candidate
    return paths.normalise(wgt)


class ShortestPath(Policy):
    """Shortest paths on the IGP metric, ECMP on ties (see :func:`ecmp_splits`).

    Parameters
    ----------
    rtol : relative tolerance under which two path costs are equal (ECMP ties).

    The routing does not depend on traffic, so ``decide`` needs no history and ``route`` accepts
    ``tm=None``. Given a matrix, ``info["mlu"]`` is the routing's MLU on it; without one the
    routing cannot know its MLU and ``info`` has no ``mlu``.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((4, 4)); tm[0, 3] = 15e9  # all of it on S-A-T, the cheaper route
    >>> round(ShortestPath().route(net, ps, tm).info["mlu"], 6)
    1.5
    >>> "mlu" in ShortestPath().route(net, ps, None).info
    False
    """

    name = "shortest"
    _parameter_constraints = {"rtol": [Interval(float, 0, None)]}

    def __init__(self, rtol: float = 1e-9):
        self.rtol = rtol

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        self.validate()
        t0 = time.perf_counter()
        key = (id(paths), self.rtol)
        cache = paths.meta.setdefault("_ecmp_cache", {})
        if key not in cache:
            cache[key] = ecmp_splits(network, paths, self.rtol)
        r = Routing(paths, cache[key], self.name, {"solve_seconds": time.perf_counter() - t0})
        if tm is not None:
            r.info["mlu"] = float((r.link_loads(tm) / network.capacity).max(initial=0.0))
        return r

    def decide(self, network, paths, history, *, warm=None) -> Routing:
        return self.route(network, paths, None)


register_policy("shortest", ShortestPath)
