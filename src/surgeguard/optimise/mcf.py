"""An independent check of the path LP: the edge-based multicommodity-flow formulation of min-MLU.

Commodities are aggregated by source (one flow per origin node): flow conservation at every node,
and the sum of all commodities on a link at most U times its capacity. With every simple path as
a candidate the path LP must give the same optimum (flow decomposition); the two share no code.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..network import Network
from . import highs

__all__ = ["edge_mcf_mlu"]


def edge_mcf_mlu(network: Network, tm: np.ndarray) -> float:
    """Minimum MLU of ``tm`` on ``network`` with unrestricted (fractional) routing."""
    n, L = network.n_nodes, network.n_links
    tm = np.asarray(tm, dtype=float).copy()
    np.fill_diagonal(tm, 0.0)
    sources = np.flatnonzero(tm.sum(axis=1) > 0)
    S = len(sources)
    scale = tm.max() if tm.max() > 0 else 1.0  # flows in units of the largest demand
    # variables: f[s, l] for each source s and link l (S*L), then U
    nv = S * L + 1
    rows, cols, vals = [], [], []
    row_lo, row_hi = [], []
    r = 0
    # conservation: out - in = supply at node v for commodity s
    for k, s in enumerate(sources):
        supply = -tm[s] / scale
        supply[s] = tm[s].sum() / scale
        for v in range(n):
            out = np.flatnonzero(network.src == v)
            inn = np.flatnonzero(network.dst == v)
            rows += [r] * (len(out) + len(inn))
            cols += list(k * L + out) + list(k * L + inn)
            vals += [1.0] * len(out) + [-1.0] * len(inn)
            row_lo.append(supply[v]); row_hi.append(supply[v])
            r += 1
    # capacity: sum_s f[s,l] - U c_l / scale_c <= 0   (capacities scaled by the same factor)
    for l in range(L):
        rows += [r] * (S + 1)
        cols += [k * L + l for k in range(S)] + [S * L]
        vals += [1.0] * S + [-network.capacity[l] / scale]
        row_lo.append(-highs.INF); row_hi.append(0.0)
        r += 1
    A = sp.csc_matrix((vals, (rows, cols)), shape=(r, nv))
    lp = highs.build_lp(cost=np.concatenate([np.zeros(nv - 1), [1.0]]), lower=np.zeros(nv),
                        upper=np.full(nv, highs.INF), row_lower=row_lo, row_upper=row_hi, matrix=A)
    h = highs.load(lp, {"solver": "simplex"})
    what = f"the edge multicommodity-flow LP ({n} nodes, {L} links)"
    highs.run(h, what)
    return highs.objective(h, what)
