"""The measurement system of traffic-matrix estimation, and the two solvers every method shares.

The unknowns are the demands ``x`` of the **variables**: every ordered pair ``i -> j`` that the IGP
can route (``RoutingMatrix.reachable``), plus, when self-traffic is estimated, the diagonal
``i -> i``. The measurements ``b`` are, per interval, the load of every measured link (``A x``)
and each node's ingress and egress totals (row and column sums of the matrix, the diagonal
included). Written as one matrix, ``B x = b`` with ``B = [A; R; C]`` (``R``, ``C``: 0/1 row- and
column-sum incidences). Self-traffic has no column in ``A``: it crosses no link and is seen only in
the totals (see :mod:`surgeguard.estimate`).

Two operations are shared by the methods:

* :meth:`System.project`: the weighted least-squares correction of a prior ``g`` onto the
  measurements, ``x = g + S B^T (B S B^T)^+ (b - B g)`` with the prior covariance
  ``S = diag(w) + U diag(s) U^T`` (Zhang et al. use ``S = diag(g)``). It is the ``x`` closest to
  ``g`` in the ``S^-1`` norm among those that reproduce ``b``. Small systems form ``B S B^T``
  (Jacobi-scaled, plus a ridge of 1e-12 of its mean diagonal against the redundant totals row)
  and solve it by Cholesky; large ones run conjugate gradients on it with a Jacobi
  preconditioner, two sparse products per iteration, stopping when the measurements are
  reproduced to ``tol`` (relative L2). Conjugate gradients may start from the multipliers
  ``lam`` of an earlier interval (:class:`WarmStart`): consecutive intervals differ little and
  ``lam`` does not change when all traffic is scaled (``S`` and ``b - B g`` scale together), so
  the start is close and about half the iterations go (backbone/americas: 131 -> about 60).
* :func:`ipf`: iterative proportional fitting of a non-negative ``x`` onto the node totals
  (alternately scaling rows and columns), as Zhang et al. do after clipping negative demands.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh

from ..igp import RoutingMatrix
from ..resources import check_memory, format_count

__all__ = ["System", "WarmStart", "ipf", "DENSE_MAX_ROWS", "DENSE_MAX_NNZ", "THREADED_MIN_NNZ"]

#: ``solver='auto'`` forms ``B S B^T`` densely up to this many measurement rows ...
DENSE_MAX_ROWS = 3000
#: ... and this many non-zeros in the routing matrix; beyond, conjugate gradients.
DENSE_MAX_NNZ = 20_000_000
#: Routing matrices with at least this many non-zeros are multiplied in row blocks on several
#: threads (scipy's sparse products release the GIL): 1.5x faster on 2 cores.
THREADED_MIN_NNZ = 2_000_000


def ipf(x: np.ndarray, src: np.ndarray, dst: np.ndarray, ingress: np.ndarray, egress: np.ndarray, *,
        max_iter: int = 100, tol: float = 1e-9) -> np.ndarray:
    """Scale the non-negative ``x`` (demands of the pairs ``src -> dst``) so that its row sums
    equal ``ingress`` and its column sums ``egress``; returns a new array.

    When the two totals disagree on the network total, ``egress`` is first scaled to the total of
    ``ingress`` (the rows are matched exactly, the columns up to that factor). Rows or columns with
    no positive entry cannot be scaled and are left as they are. Stops when every row and column
    is within ``tol`` (relative to the largest total) or after ``max_iter`` sweeps.

    >>> src, dst = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    >>> ipf(np.ones(4), src, dst, np.array([3.0, 1.0]), np.array([2.0, 2.0])).round(3).tolist()
    [1.5, 1.5, 0.5, 0.5]
    """
    n = len(ingress)
    x = np.array(x, dtype=float)
    tin = np.asarray(ingress, dtype=float)
    tout = np.asarray(egress, dtype=float)
    s_in, s_out = tin.sum(), tout.sum()
    if s_out > 0 and s_in > 0 and abs(s_in - s_out) > 1e-12 * s_in:
        tout = tout * (s_in / s_out)
    scale = max(float(tin.max(initial=0.0)), float(tout.max(initial=0.0)), 1e-300)
    for _ in range(max_iter):
        r = np.bincount(src, x, n)
        f = np.divide(tin, r, out=np.ones(n), where=r > 0)
        x *= f[src]
        c = np.bincount(dst, x, n)
        f = np.divide(tout, c, out=np.ones(n), where=c > 0)
        x *= f[dst]
        r = np.bincount(src, x, n)
        if np.max(np.abs(np.where(r > 0, r - tin, 0.0)), initial=0.0) <= tol * scale:
            break
    return x


@dataclass(frozen=True, eq=False)
class WarmStart:
    """Where conjugate gradients ended in an interval, to start the next one from there.

    Attributes
    ----------
    multipliers : ``(L + 2N,)`` the multipliers ``lam`` of the projection over every link (0 for
        a link that was not measured), then the N ingress and the N egress rows.
    n_links, n_nodes : the size of the system it belongs to (another size is not used).
    """

    multipliers: np.ndarray
    n_links: int
    n_nodes: int

    def fits(self, n_links: int, n_nodes: int) -> bool:
        """Whether it belongs to a system of this size."""
        return self.n_links == n_links and self.n_nodes == n_nodes


class System:
    """The variables and measurement operator ``B`` of one routing matrix.

    Parameters
    ----------
    routing : the IGP routing matrix (links x ordered pairs).
    self_traffic : include the diagonal ``i -> i`` as unknowns (seen only in the totals).

    Attributes
    ----------
    src, dst : node indices of the ``P`` variables (reachable ordered pairs, then the diagonal).
    n_nodes, n_links, n_vars.
    """

    def __init__(self, routing: RoutingMatrix, self_traffic: bool = True):
        self.routing = routing
        self.self_traffic = bool(self_traffic)
        n = routing.n_nodes
        keep = np.flatnonzero(routing.reachable)
        self._all_reachable = len(keep) == routing.n_od
        self._od_keep = None if self._all_reachable else keep
        src = routing.od_src if self._all_reachable else routing.od_src[keep]
        dst = routing.od_dst if self._all_reachable else routing.od_dst[keep]
        self.n_od = len(src)
        if self.self_traffic:
            eye = np.arange(n)
            src, dst = np.concatenate([src, eye]), np.concatenate([dst, eye])
        self.src, self.dst = src.astype(np.int64), dst.astype(np.int64)
        self.n_nodes, self.n_links, self.n_vars = n, routing.n_links, len(self.src)
        # every ordered pair i != j, by source then destination (igp.all_od_pairs), then the diagonal
        # when estimated: the sums and broadcasts over nodes then run on an N x N array (3x faster
        # than bincount and fancy indexing at 1,000 nodes)
        self._square = self._all_reachable and n > 1 and np.array_equal(
            routing.od_src, np.repeat(np.arange(n), n - 1)) and np.array_equal(
            routing.od_dst, np.arange(n * n)[np.arange(n * n) % (n + 1) != 0] % n)
        self._AT = None  # A^T as CSR (n_od x L): fast A^T v and, as its transpose (CSC), fast A x
        self._A2T = None  # elementwise square, for the Jacobi diagonal
        self._blocks = None  # (start, stop, rows of AT) for the threaded products
        self._pool = None
        #: the multipliers of the last :meth:`project` (a :class:`WarmStart`), None before
        self.last_start: WarmStart | None = None

    # ------------------------------------------------------------------ pieces
    @property
    def AT(self) -> sp.csr_matrix:
        if self._AT is None:
            A = self.routing.A
            if self._od_keep is not None:
                A = A.tocsc()[:, self._od_keep]
            check_memory(12.0 * A.nnz + 8.0 * A.shape[1], f"the transposed routing matrix ({format_count(A.nnz)} "
                         "non-zeros)", "use a smaller network or a machine with more memory")
            self._AT = sp.csr_matrix(A.T)
            self._AT.sort_indices()
        return self._AT

    def prepare(self) -> "System":
        """Build the transposed routing matrix and its row blocks now (else on first use); returns self."""
        self._split()
        return self

    def _split(self):
        if self._blocks is None:
            AT = self.AT
            k = min(os.cpu_count() or 1, 8) if AT.nnz >= THREADED_MIN_NNZ else 1
            if k <= 1:
                self._blocks = []
            else:  # row blocks of equal non-zeros, sharing AT's arrays (no copy of the entries)
                cuts = np.searchsorted(AT.indptr, np.linspace(0, AT.nnz, k + 1)[1:-1])
                edges = [0, *sorted(set(int(c) for c in cuts)), AT.shape[0]]
                self._blocks = [(a, b, _row_block(AT, a, b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
                self._pool = ThreadPoolExecutor(len(self._blocks), thread_name_prefix="surgeguard-estimate")
        return self._blocks

    def A_times(self, x: np.ndarray) -> np.ndarray:
        """Link loads ``A x`` of the variables' demands ``x`` (``(P,)`` or ``(P, k)``)."""
        blocks = self._split()
        if not blocks:
            return self.AT.T @ x[: self.n_od]
        parts = self._pool.map(lambda blk: blk[2].T @ x[blk[0]:blk[1]], blocks)
        return sum(parts)

    def AT_times(self, v: np.ndarray) -> np.ndarray:
        """``A^T v`` for a vector ``v`` over the links."""
        blocks = self._split()
        if not blocks:
            return self.AT @ v
        return np.concatenate(list(self._pool.map(lambda blk: blk[2] @ v, blocks)))

    def full_matrix(self, x: np.ndarray) -> np.ndarray:
        """Variables ``(..., P)`` -> matrices ``(..., N, N)`` (pairs that are not variables are 0)."""
        n = self.n_nodes
        out = np.zeros(x.shape[:-1] + (n, n))
        out[..., self.src, self.dst] = x
        return out

    def variables(self, tm: np.ndarray) -> np.ndarray:
        """Matrices ``(..., N, N)`` -> the variables' demands ``(..., P)``."""
        return np.asarray(tm, dtype=float)[..., self.src, self.dst]

    def row_sums(self, x: np.ndarray) -> np.ndarray:
        if self._square:
            return self._as_square(x).sum(axis=1)
        return np.bincount(self.src, x, self.n_nodes)

    def col_sums(self, x: np.ndarray) -> np.ndarray:
        if self._square:
            return self._as_square(x).sum(axis=0)
        return np.bincount(self.dst, x, self.n_nodes)

    def _as_square(self, x: np.ndarray) -> np.ndarray:
        """The variables ``x`` (1-D) as the N x N matrix (square layout only; pairs that are not
        variables are 0)."""
        n = self.n_nodes
        full = np.empty(n * n)
        _off_diagonal(full, n)[:] = x[: self.n_od].reshape(n - 1, n)
        full[:: n + 1] = x[self.n_od:] if self.self_traffic else 0.0
        return full.reshape(n, n)

    def _add_outer(self, out: np.ndarray, a: np.ndarray, c: np.ndarray) -> None:
        """``out += a[src] + c[dst]`` over the variables."""
        if not self._square:
            out += a[self.src] + c[self.dst]
            return
        n = self.n_nodes
        G = np.add.outer(a, c).reshape(-1)
        out[: self.n_od].reshape(n - 1, n)[:] += _off_diagonal(G, n)
        if self.self_traffic:
            out[self.n_od:] += np.diagonal(G.reshape(n, n))

    def gravity(self, ingress: np.ndarray, egress: np.ndarray) -> np.ndarray:
        """The gravity matrix over the variables: ``in_i out_j / total``; when the variables are not
        every pair (no self-traffic, unreachable pairs), that matrix fitted to the totals by IPF."""
        tin, tout = np.asarray(ingress, float), np.asarray(egress, float)
        total = tin.sum()
        if not total > 0:
            return np.zeros(self.n_vars)
        g = tin[self.src] * tout[self.dst] / total
        if self.self_traffic and self._all_reachable:
            return g
        return ipf(g, self.src, self.dst, tin, tout)

    # ------------------------------------------------------------------ the operator B
    def measure(self, x: np.ndarray, links: np.ndarray) -> np.ndarray:
        """``B x`` for the measured links (indices ``links``), then ingress and egress rows."""
        y = self.A_times(x)
        if x.ndim == 1:
            if self._square:
                sq = self._as_square(x)
                return np.concatenate([y[links], sq.sum(axis=1), sq.sum(axis=0)])
            return np.concatenate([y[links], self.row_sums(x), self.col_sums(x)])
        n = self.n_nodes
        R = np.stack([np.bincount(self.src, x[:, k], n) for k in range(x.shape[1])], axis=1)
        C = np.stack([np.bincount(self.dst, x[:, k], n) for k in range(x.shape[1])], axis=1)
        return np.concatenate([y[links], R, C], axis=0)

    def adjoint(self, v: np.ndarray, links: np.ndarray) -> np.ndarray:
        """``B^T v`` (``v`` over the measured links, then ingress and egress rows)."""
        m, n = len(links), self.n_nodes
        vl = np.zeros(self.n_links)
        vl[links] = v[:m]
        out = np.empty(self.n_vars)
        out[: self.n_od] = self.AT_times(vl)
        out[self.n_od:] = 0.0
        self._add_outer(out, v[m:m + n], v[m + n:])
        return out

    def sparse_matrix(self, links: np.ndarray) -> sp.csr_matrix:
        n, P = self.n_nodes, self.n_vars
        A = sp.csr_matrix(self.AT.T)[links]
        A = sp.hstack([A, sp.csr_matrix((len(links), P - self.n_od))]) if P > self.n_od else A
        cols = np.arange(P)
        R = sp.csr_matrix((np.ones(P), (self.src, cols)), shape=(n, P))
        C = sp.csr_matrix((np.ones(P), (self.dst, cols)), shape=(n, P))
        return sp.vstack([A, R, C]).tocsr()

    def use_dense(self, solver: str) -> bool:
        if solver == "dense":
            return True
        if solver == "cg":
            return False
        return self.n_links + 2 * self.n_nodes <= DENSE_MAX_ROWS and self.routing.A.nnz <= DENSE_MAX_NNZ

    # ------------------------------------------------------------------ the projection
    def project(self, prior: np.ndarray, b: np.ndarray, links: np.ndarray, w: np.ndarray,
                U: np.ndarray | None = None, s: np.ndarray | None = None, *, solver: str = "auto",
                tol: float = 1e-6, max_iter: int = 500, cache: dict | None = None,
                warm: WarmStart | None = None) -> tuple[np.ndarray, dict]:
        """The weighted least-squares correction of ``prior`` onto the measurements ``b``.

        Parameters
        ----------
        prior : (P,) the prior demands.
        b : measured loads of ``links``, then the N ingress and the N egress totals.
        links : indices of the measured links (the others carry no equation).
        w, U, s : the prior covariance ``diag(w) + U diag(s) U^T`` (``U`` (P, k), optional).
        solver : 'auto', 'dense' or 'cg'; ``tol`` and ``max_iter`` bound conjugate gradients.
        cache : a dict kept by the caller across intervals (the sparse ``B`` of the dense path).
        warm : conjugate gradients start from these multipliers (those of an earlier interval, see
            :attr:`last_start`) instead of 0; not used when that start fits ``b`` worse than 0
            does, by the dense path, or when it belongs to another system size.

        Returns
        -------
        (x, info) with ``info`` = ``{'solver', 'iterations', 'residual', 'start'}``: the relative
        L2 misfit of ``B x`` to ``b`` before any clipping, and how conjugate gradients started
        (``'cold'``, ``'warm'``, ``'cold (warm start rejected)'``; ``'none'`` for the dense path).
        :attr:`last_start` then holds this interval's multipliers as a :class:`WarmStart`.
        """
        r0 = b - self.measure(prior, links)
        BU = self.measure(U, links) if U is not None else None
        nb = float(np.linalg.norm(b)) or 1.0
        if self.use_dense(solver):
            key = ("B", links.tobytes())
            if cache is not None and key in cache:
                Bs = cache[key]
            else:
                Bs = self.sparse_matrix(links)
                if cache is not None:
                    cache.clear()
                    cache[key] = Bs
            M = (Bs.multiply(w[None, :]).tocsr() @ Bs.T).toarray()
            if BU is not None:
                M += (BU * s[None, :]) @ BU.T
            lam = _solve_psd(M, r0)
            iters, start = 0, "none"
        else:
            lam0 = None
            if warm is not None and warm.fits(self.n_links, self.n_nodes):
                lam0 = np.concatenate([warm.multipliers[links], warm.multipliers[self.n_links:]])
            lam, iters, start = self._cg(r0, links, w, BU, s, tol=tol * nb, max_iter=max_iter, lam0=lam0)
        x = prior + w * self.adjoint(lam, links)
        if U is not None:
            x += U @ (s * (BU.T @ lam))
        res = float(np.linalg.norm(b - self.measure(x, links))) / nb
        full = np.zeros(self.n_links + 2 * self.n_nodes)
        full[links] = lam[: len(links)]
        full[self.n_links:] = lam[len(links):]
        self.last_start = WarmStart(full, self.n_links, self.n_nodes)
        return x, {"solver": "dense" if self.use_dense(solver) else "cg", "iterations": iters, "residual": res,
                   "start": start}

    def _jacobi(self, links: np.ndarray, w: np.ndarray, BU, s) -> np.ndarray:
        if self._A2T is None:
            AT = self.AT
            self._A2T = sp.csr_matrix((AT.data ** 2, AT.indices, AT.indptr), shape=AT.shape)
        d = np.concatenate([(self._A2T.T @ w[: self.n_od])[links], self.row_sums(w), self.col_sums(w)])
        if BU is not None:
            d += (BU ** 2) @ s
        return np.where(d > 0, d, 1.0)

    def _cg(self, r0: np.ndarray, links, w, BU, s, *, tol: float, max_iter: int,
            lam0: np.ndarray | None = None) -> tuple[np.ndarray, int, str]:
        """Preconditioned CG on ``(B S B^T) lam = r0`` from ``lam0`` (else 0); the residual
        ``r0 - M lam`` is the misfit ``b - B x`` of the corrected demands, so it stops when that is
        below ``tol`` (absolute). A start whose misfit exceeds the cold one's is dropped (one
        product spent). Returns ``(lam, iterations, start)``."""
        def M(v):
            out = self.measure(w * self.adjoint(v, links), links)
            if BU is not None:
                out += BU @ (s * (BU.T @ v))
            return out

        dinv = 1.0 / self._jacobi(links, w, BU, s)
        lam, r, start = np.zeros_like(r0), r0.copy(), "cold"
        if lam0 is not None and np.isfinite(lam0).all() and lam0.any():
            r_warm = r0 - M(lam0)
            if np.linalg.norm(r_warm) < np.linalg.norm(r0):
                lam, r, start = lam0.copy(), r_warm, "warm"
            else:
                start = "cold (warm start rejected)"
        z = dinv * r
        p = z.copy()
        rz = float(r @ z)
        k = 0
        for k in range(1, max_iter + 1):
            if np.linalg.norm(r) <= tol or rz <= 0:
                k -= 1
                break
            q = M(p)
            pq = float(p @ q)
            if pq <= 0:
                break
            alpha = rz / pq
            lam += alpha * p
            r -= alpha * q
            z = dinv * r
            rz_new = float(r @ z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        return lam, k, start


def _off_diagonal(flat: np.ndarray, n: int) -> np.ndarray:
    """The off-diagonal entries of the row-major ``n x n`` matrix ``flat`` (length ``n * n``) as an
    ``(n - 1, n)`` view whose rows, read in order, are the pairs ``i != j`` by ``i`` then ``j``."""
    return flat[:-1].reshape(n - 1, n + 1)[:, 1:]


def _row_block(M: sp.csr_matrix, a: int, b: int) -> sp.csr_matrix:
    """Rows ``a:b`` of the CSR ``M`` as a matrix over views of its arrays."""
    lo, hi = int(M.indptr[a]), int(M.indptr[b])
    return sp.csr_matrix((M.data[lo:hi], M.indices[lo:hi], M.indptr[a:b + 1] - lo), shape=(b - a, M.shape[1]))


def _solve_psd(M: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Solve the symmetric positive semi-definite ``M lam = r`` (least squares where singular)."""
    d = np.diag(M).copy()
    d = np.where(d > 0, d, 1.0)
    sc = 1.0 / np.sqrt(d)
    Ms = M * sc[:, None] * sc[None, :]
    rs = r * sc
    for ridge in (1e-12, 1e-9, 1e-6):
        try:
            c = cho_factor(Ms + ridge * np.eye(len(Ms)), lower=True, check_finite=False)
            return sc * cho_solve(c, rs, check_finite=False)
        except LinAlgError:
            continue
    vals, vecs = eigh(Ms, check_finite=False)
    keep = vals > 1e-10 * max(float(vals.max(initial=0.0)), 1e-300)
    return sc * (vecs[:, keep] @ ((vecs[:, keep].T @ rs) / vals[keep]))
