"""ECMP link loads under changing link weights, updated per destination (the metric search's engine).

Routers forward on shortest paths of the IGP metric and split equally over every link on a
shortest path (hop-by-hop ECMP, parallel links counted): the model of
:func:`surgeguard.igp.ecmp_routing_matrix` and :class:`surgeguard.plan.whatif.EcmpReconvergence`.
Those build the routing once for fixed metrics; a metric search changes one weight at a time and
asks for the loads thousands of times, so :class:`IncrementalEcmp` keeps the loads **per
destination** and recomputes only the destinations a change can move:

* raising the weight of link ``l = (u, v)`` moves the traffic toward ``t`` only where ``l`` is on
  ``t``'s shortest-path DAG;
* lowering it moves it where ``l`` is on the DAG already, or joins it: ``x + D(v, t) <= D(u, t)``.

For each such destination one Dijkstra (all affected destinations in one call), the DAG, and the
node flows ``f = b + Q f`` (``Q`` the split matrix, nilpotent, so a few batched dense products)
give its new link loads; the total is the old total minus their old loads plus the new ones. It
holds several traffic matrices at once (columns) and several failure states (a mask of surviving
links each: the IGP reconverges on the survivors with the same weights).

Dense per-destination arrays (destinations x nodes x nodes) keep the products in numpy's batched
matmul: meant for backbones of up to a few hundred nodes.

>>> import numpy as np
>>> from surgeguard.examples import ring
>>> net = ring(4)
>>> tm = np.zeros((4, 4)); tm[0, 2] = 2e9                  # two equal-cost paths: 1 Gbit/s each
>>> eng = IncrementalEcmp(net, tm[None], net.metric)
>>> sorted(set((eng.total[0][:, 0] / 1e9).round(6).tolist()))
[0.0, 1.0]
>>> l = net.link_names.index("R0->R1")
>>> trial = eng.trial(l, 3.0)                              # the R0->R1 path now costs more
>>> eng.commit(trial); float(eng.total[0][l, 0])
0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ..exceptions import ValidationError
from ..network import Network
from ..resources import check_memory

__all__ = ["IncrementalEcmp", "EcmpTrial"]


@dataclass(eq=False)
class EcmpTrial:
    """A weight change evaluated but not applied: ``link`` (indices, (k,)) set to ``weight``, and per
    failure state the destinations it moved with their new distances, DAG and loads, and the new totals."""

    link: np.ndarray
    weight: np.ndarray
    states: dict          # state index -> (targets, D, on, loads (a, L, C), total (L, C))


class IncrementalEcmp:
    """ECMP link loads of ``demands`` for link ``weights``, per destination, on each failure state.

    Parameters
    ----------
    network : the network (its ``metric`` is not used: ``weights`` are).
    demands : (C, N, N) bit/s, C matrices routed at once (columns of the loads).
    weights : (L,) link weights > 0.
    alive : (S, L) bool, the links that survive in each state (default one state, all alive).
    rtol : relative tolerance of equal-cost ties (as :func:`~surgeguard.igp.ecmp_routing_matrix`).

    Attributes
    ----------
    w : (L,) current weights. ``D[s]`` (N, N): ``D[s][t, x]`` distance from ``x`` to ``t``;
    ``on[s]`` (N, L) bool: link on ``t``'s shortest-path DAG; ``dest_loads[s]`` (N, L, C) bit/s by
    destination; ``total[s]`` (L, C) bit/s.
    """

    #: entries of the dense split matrices solved at once (destinations x nodes x nodes)
    block_entries = 4_000_000

    def __init__(self, network: Network, demands: np.ndarray, weights, alive: np.ndarray | None = None,
                 *, rtol: float = 1e-9):
        dem = np.asarray(demands, dtype=float)
        n, L = network.n_nodes, network.n_links
        if dem.ndim != 3 or dem.shape[1:] != (n, n):
            raise ValidationError(f"demands have shape {dem.shape}; expected (matrices, {n}, {n}) in the node order "
                                  f"of network {network.name!r}")
        self.network, self.n, self.L, self.rtol = network, n, L, float(rtol)
        self.src, self.dst = network.src, network.dst
        dem = dem.copy()
        dem[:, np.arange(n), np.arange(n)] = 0.0
        self.b = np.ascontiguousarray(dem.transpose(2, 1, 0))      # b[t, x, c]: demand x -> t
        self.C = dem.shape[0]
        self.alive = np.ones((1, L), bool) if alive is None else np.asarray(alive, dtype=bool).reshape(-1, L)
        # per state: loads by destination (N, L, C), distances (N, N), DAG (N, L); plus one dense block
        check_memory(8.0 * self.alive.shape[0] * n * (L * self.C + n + L) + 8.0 * 3 * self.block_entries,
                     "the metric search's ECMP loads (states x destinations x links x matrices)",
                     "give fewer matrices or failure states, or a smaller network")
        self._src1h = np.zeros((L, n))
        self._src1h[np.arange(L), self.src] = 1.0
        self.set_weights(weights)

    @property
    def n_states(self) -> int:
        return self.alive.shape[0]

    # ------------------------------------------------------------------ core
    def distances(self, w: np.ndarray, alive: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(a, N): distance from every node to each target, over the ``alive`` links with weights ``w``.

        Small problems run a dense min-plus Bellman-Ford (a handful of numpy reductions, far cheaper
        than a Dijkstra call's overhead at backbone sizes); large ones scipy's Dijkstra.
        """
        n = self.n
        big = np.full((n, n), np.inf)                             # big[x, y]: cheapest alive link x -> y
        np.minimum.at(big, (self.src[alive], self.dst[alive]), w[alive])
        a = len(targets)
        if a * n * n > 4_000_000:
            fin = np.isfinite(big)
            Wr = sp.csr_matrix((big.T[fin.T], np.nonzero(fin.T)), shape=(n, n))   # reversed graph
            return dijkstra(Wr, directed=True, indices=targets)
        D = np.full((a, n), np.inf)
        D[np.arange(a), targets] = 0.0
        for _ in range(n):
            nxt = np.minimum(D, (big[None, :, :] + D[:, None, :]).min(axis=2))
            if np.array_equal(nxt, D):
                break
            D = nxt
        return D

    def solve(self, w: np.ndarray, alive: np.ndarray, targets: np.ndarray):
        """Distances (a, N), DAG membership (a, L) and link loads (a, L, C) of the demand toward ``targets``
        (in blocks of targets, so the dense split matrices stay near 4 million entries)."""
        per = max(1, self.block_entries // (self.n * self.n))
        if len(targets) <= per:
            return self._solve_block(w, alive, targets)
        parts = [self._solve_block(w, alive, targets[i:i + per]) for i in range(0, len(targets), per)]
        return tuple(np.concatenate(x) for x in zip(*parts))

    def _solve_block(self, w: np.ndarray, alive: np.ndarray, targets: np.ndarray):
        D = self.distances(w, alive, targets)
        Ds, Dd = D[:, self.src], D[:, self.dst]
        with np.errstate(invalid="ignore"):
            on = (np.abs(w[None, :] + Dd - Ds) <= self.rtol * np.maximum(1.0, Ds)) & np.isfinite(Ds)
        on &= alive[None, :]
        fan = on.astype(float) @ self._src1h                      # (a, N) DAG links out of each node
        a, n = len(targets), self.n
        k, ll = np.nonzero(on)
        val = 1.0 / fan[k, self.src[ll]]
        Q = np.bincount(k * n * n + self.dst[ll] * n + self.src[ll], weights=val,
                        minlength=a * n * n).reshape(a, n, n)
        b = self.b[targets]
        f, r = b.copy(), b
        for _ in range(n):
            r = Q @ r
            if not r.any():
                break
            f += r
        V = np.zeros((a, self.L))
        V[k, ll] = val
        loads = V[:, :, None] * f[:, self.src, :]
        return D, on, loads

    def set_weights(self, weights) -> None:
        """Recompute everything for new weights."""
        w = np.asarray(weights, dtype=float).copy()
        if w.shape != (self.L,) or not np.isfinite(w).all() or (w <= 0).any():
            raise ValidationError(f"weights must be {self.L} finite numbers > 0, one per link")
        self.w = w
        allt = np.arange(self.n)
        self.D, self.on, self.dest_loads, self.total = [], [], [], []
        for s in range(self.n_states):
            D, on, loads = self.solve(w, self.alive[s], allt)
            self.D.append(D)
            self.on.append(on)
            self.dest_loads.append(loads)
            self.total.append(loads.sum(axis=0))

    def affected(self, state: int, link: int, weight: float) -> np.ndarray:
        """Destinations whose routing may change when ``link`` gets ``weight`` in ``state`` (bool, N)."""
        if not self.alive[state, link] or weight == self.w[link]:
            return np.zeros(self.n, bool)
        on = self.on[state][:, link]
        if weight > self.w[link]:
            return on.copy()
        D = self.D[state]
        u, v = self.src[link], self.dst[link]
        with np.errstate(invalid="ignore"):
            join = np.isfinite(D[:, v]) & (weight + D[:, v] <= D[:, u] + self.rtol * np.maximum(1.0, D[:, u]))
        return on | join

    def trial(self, link, weight, states=None) -> EcmpTrial:
        """Evaluate ``link`` (an index, or several) at ``weight`` (one for all, or one each); nothing changes until
        :meth:`commit`. With several links a destination is recomputed when any one change may move it:
        a change that moves no destination on its own leaves its distances alone, so the others' tests hold."""
        links = np.atleast_1d(np.asarray(link, dtype=np.int64))
        weights = np.broadcast_to(np.asarray(weight, dtype=float), links.shape).copy()
        w = self.w.copy()
        w[links] = weights
        out = {}
        for s in (range(self.n_states) if states is None else states):
            aff = np.zeros(self.n, bool)
            for l, x in zip(links, weights):
                aff |= self.affected(s, int(l), float(x))
            aff = np.flatnonzero(aff)
            if not len(aff):
                continue
            D, on, loads = self.solve(w, self.alive[s], aff)
            total = self.total[s] - self.dest_loads[s][aff].sum(axis=0) + loads.sum(axis=0)
            np.maximum(total, 0.0, out=total)
            out[s] = (aff, D, on, loads, total)
        return EcmpTrial(links, weights, out)

    def commit(self, trial: EcmpTrial) -> None:
        """Apply a trial's change (totals re-summed from the per-destination loads: no drift)."""
        self.w[trial.link] = trial.weight
        for s, (aff, D, on, loads, _) in trial.states.items():
            self.D[s][aff] = D
            self.on[s][aff] = on
            self.dest_loads[s][aff] = loads
            self.total[s] = self.dest_loads[s].sum(axis=0)

    def distances_without(self, state: int, link: int) -> np.ndarray:
        """(N, N) distances to every target with ``link`` removed (for the weights at which routing changes)."""
        alive = self.alive[state].copy()
        alive[link] = False
        return self.distances(self.w, alive, np.arange(self.n))
