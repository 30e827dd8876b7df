"""The first-order min-MLU solver behind the ``fast`` policy: PyTorch (CPU or CUDA), with certified bounds.

Problem (the same as :mod:`~surgeguard.optimise.mlu`)::

    min_x  U(x) = max_l  sum_p R_lp d_k(p) x_p / c_l      over  x_p >= 0,  sum_{p in P(k)} x_p = 1

Algorithm
---------
Primal: Adam on per-OD split logits ``theta`` (``x = softmax(theta)`` per OD) over the smoothed MLU
``tau U log sum_l exp(u_l / (tau U))``, with link utilisations ``u = R (d x) / c`` and a temperature
``tau`` annealed from 5% to 0.2% of the MLU over the first 100 iterations. Its gradient is the
dual prices themselves: with link weights ``w = softmax(u / (tau U))`` and prices ``y = w / c``
(normalised so that ``sum_l c_l y_l = 1``), ``dU/dx_p = d_k pi_p`` with path prices
``pi = R^T y``. Each iteration:

1. loads ``u`` (one sparse pass, links <- paths);
2. weights ``w`` and prices ``y``; path prices ``pi`` (one sparse pass, paths <- links) and per OD
   the cheapest ``pi_min``;
3. the certified lower bound ``LB(y) = sum_k d_k pi_min(k)``: by LP duality every routing over
   these paths has ``U >= sum_l y_l load_l >= LB``, so ``gap = (U_best - LB_best) / U_best`` bounds
   the distance of the best routing seen to the optimum of the LP;
4. the logit gradient ``x_p (pi_p - sum_q x_q pi_q)`` (the per-OD demand factor drops out: Adam is
   invariant to it, so every OD moves by its price differences) and one fused Adam step. Adam's
   epsilon follows the largest gradient (``eps_rel``), so ODs whose paths differ by a vanishing
   price do not take full steps (this matters after a warm start, at low temperature).

The softmax prices of one iteration are a weak bound near the optimum (their weights spread over
the near-tight links by tiny load differences). Three better bounds are tried:

* every ``check_every`` iterations, exponential averages of the prices (with the path-link
  matrix, all in one product with several columns; all weight on one link is not tried: its
  bound never exceeds the forced-link one below), twice as far apart after each check that did
  not improve the bound (see :meth:`_Bounds.check_averages`);
* while the gap is open, :func:`tight_dual_bound`: the best prices supported on the links within
  ``delta`` (20%, widened to 30% when short) of the top of the best routing so far, by a small LP
  (HiGHS; only ODs whose every path crosses those links enter it, their rows reduced: see
  :func:`_merge_od_rows`). When the routing is near-optimal the links that set the optimum are
  among these, and this LP returns the optimal bound. It runs every ``lp_bound_every`` (5)
  iterations once the best routing has stalled (improved by less than ``tol`` in those
  iterations), at least every ``lp_force_every`` (10), and only while the LPs' time, the next one
  estimated at the last one's, stays within ``lp_share`` (a quarter) of the iterations' (on the
  CPU modelled from their sizes, :class:`LPCostModel`, so that a solve does not depend on the
  clock; wall seconds on an accelerator). Measured (issue 16,
  ``te_profile*.md``, CPU seconds, one thread): the reduction makes the LP 5-70x cheaper at the
  same optimum (caida-3356 ``core``, the links within 30% of the top: 0.75-9 s -> 0.09-0.17 s);
  with the stall rule and ``delta`` 20%, caida-3356 ``core`` takes 20 iterations instead of 30
  (matrices 0-2: 77 -> 51 summed), the bound LPs 25-31% of the loop's time instead of 52%, and
  an iteration 3.4-3.7x the two plain products instead of 5.0-5.4x (2.4x without the LPs);
  caida-701 and caida-3356 ``hard``/``shifted`` are unchanged (29-62 iterations summed, the same
  counts). An LP is not repeated on the same best routing with the same ``delta`` (same answer).
  HiGHS gets the LP straight from the arrays (:func:`~surgeguard.optimise.highs.load_arrays`):
  SciPy's ``linprog`` wrapper cost about as much as the dual simplex itself (caida-3356 ``core``
  matrix 0, two LPs: 0.15 -> 0.115 s; caida-701 ``core``: 0.027 -> 0.020 s, the same iterations);
* the *forced* load: links that every candidate path of some OD crosses (a stub node's only link,
  a bridge) carry that demand whatever the routing, so ``max_l forced_l / c_l`` is a bound
  (computed once per path set, in bounded-memory chunks).

A cold start puts 99% of each OD on its cheapest path (networks are dimensioned for shortest-path
routing; a uniform start over long alternative paths can overload thin links a hundredfold).
A warm start takes the previous splits (with 0.1% of the uniform split, so unused paths can come
back; the share of failed paths spread evenly over each OD's usable ones), the previous bound's
link weights, and starts at a low temperature with a smaller step (``warm_lr``) when nothing was
lost; after a failure the cold start is taken instead when its MLU is lower (:func:`_start`).
Every ``check_every`` iterations the MLU of an exponential average of the splits is checked too
(``primal_ema``): it damps the iterates' swings.

Warm starts and the fixed cost of a solve (issue 16, ``benchmarks/te_warm.py``): a warm solve that
certifies in one iteration cost 25-30 ms at caida-701 (0.1 s at caida-3356) where a cold
iteration costs 6-8 ms (20-30 ms). That fixed cost was per-path NumPy work (segment reductions
over the paths to spread lost shares and renormalise, twice, and a scatter of the splits into
slots), a float64 prices product in the certificate, the bound of the warm link weights (a
prices product) and one more product and softmax for the first iterate. Now the set-up runs in
the slot layout (per-OD sums over the short first axis, a gather instead of a scatter, the
no-mask arrays kept with the operator), the certificate reuses the per-OD minimum prices of the
float32 product that found the best bound (float64 sums over ODs, lowered by the rounding bound:
:func:`_certify`), the warm link weights are priced only when the first iterate leaves the gap
open, an iteration stops before its prices product when the bound it already has certifies it
(a forced-link bound), and the first iterate of a warm start is the warm point (no softmax, and
after a failure the product that chose it is reused). Measured (``te_warm.md``, CPU seconds, one
thread): a one-iteration warm solve after a +-10% demand change 25-30 -> 7-8 ms at caida-701,
95-100 -> 25-31 ms at caida-3356; after a failure certified by forced links 25-36 -> 9-11 ms and
100-117 -> 33-37 ms. A second pass (issue 16's >= 5x target): a warm solve certified at once takes
no logits (``log``) and sets up no Adam; the per-path splits are a ``np.take`` (caida-3356, 638k
paths: 4.1 -> 1.9 ms); the forced-link load is one weighted ``np.bincount`` over the forced pairs'
ODs kept with the operator (:attr:`FastOperator.FORCED_OD_KEEP`; 2.9 -> 1.0 ms, 4.1 -> 2.3 ms under
a mask); a mask's usable slots and counts come from the masked paths alone (3.4 -> 2.1 ms).
Before/after, the two versions interleaved in one process (fastest of 7, load ~3): a one-iteration
warm solve at caida-3356 ``hard``/``shifted`` after a failure 32-33 -> 26.5-27 ms, after a demand
change 25.7-26.5 -> 21.5-22.4 ms; caida-701 ``hard`` 9.2 -> 7.4 and 7.2 -> 4.7 ms; Abilene 1.7 ->
1.5 ms, GEANT 1.4 unchanged; the cold solves (7-9 iterations) 1-4 ms less. After a failure the lost
share is also water-filled over the surviving paths (:func:`_repair`) and the first bound LP comes
early (``warm_lp_first``). A warm start that no bound certifies yet but kept every OD's share
(a demand change, a failure that only cuts off ODs) has its hot links relieved by the same
water-filling (:func:`_relieve`), kept when that certifies it at once. Tried and dropped (warm
iterations summed over the 36 +-10% demand cases,
118 with the defaults): starting the temperature where the cold solve ended (``warm_tau`` 0.002:
126; 0.005: 128; 0.02: 116, but caida-3356 ``core`` matrix 2 7 -> 10); Adam's moments and step count
carried over from the warm solve (125: Abilene ``shifted`` 11/15 -> 19/19); the bound LP over the
warm link weights' own support (2-3 links, the old optimum's: the same bound); an exact polish LP
over the ODs of the binding links was not built: the whole min-MLU LP of Abilene takes 12.8 ms
(``solve_mlu_lp``), 3-4x a warm solve there, and the bound LP alone 90-170 ms at caida-3356
``core``. After a demand change the warm link weights certify within 1% of the new optimum's bound
only (0.990-0.995 of it on Abilene), so the routing must come within 0.1-0.5% of the optimum: that,
not the start, is what the remaining iterations do.

Fewer iterations where the optimum is set in the core (issue 16), what was measured and why the
defaults stay: with 99% on the cheapest path and Adam's first moment at 0.9, each OD's logits
need 20-30 steps of ``lr`` before much traffic leaves an overloaded shortest path (``shifted``
caida-701: MLU 153 -> 133 in the first 9 of 20 iterations). Starting at 95% (a logit gap of 3.0
instead of 5.7) with a first moment of 0.8 (``init_shortest=0.95, betas=(0.8, 0.99)``) cut the
iterations to a 1% certified gap, summed over 3 matrices each (2 on caida-3356), from 740 to 472
(caida-701 ``core``/``hard``/``shifted`` 52/29/62 -> 33/17/40, caida-3356 47/20/22 -> 40/13/10,
GEANT 115/87/35 -> 75/49/31, Abilene ``core``/``shifted`` 79/192 -> 60/104), but on two
+-10% variations of caida-3356 ``core`` matrices it took 140-400 iterations against 20 and 30: the
iterates then swing 2-4% above the bound at the final temperature and never reach the 1% gap.
Each change alone did the same (60-70 iterations); a larger ``lr`` (0.3, 0.5) sent caida-3356
``core`` to 550-590 iterations on one matrix. Until the final phase is made stable (a decaying
step, or an exact polish over the links that bind), the defaults stay. The loop stops at
``gap <= tol``, ``max_iter`` or ``time_limit``; ``info["bound"]`` says whether the forced links or
prices certified the result.

Why this method: each iteration costs two sparse products (the cost that matters at 10^8
non-zeros) plus about ten dense passes over the ``(K, n_od)`` splits; it needs no projection or
line search; the gradient *is* the dual, so the bound is free; Adam's per-coordinate steps cope
with ODs whose demands span six orders of magnitude. An earlier version ran optimistic
multiplicative weights on both sides: on long-haul backbones its splits swung between the
paths (MLU of the iterates up to 40x the best) and on instances whose optimum is set in the
meshed core it stopped 5% above the LP optimum after 1,000 iterations (caida 3356), where this
one takes 20-60 iterations. Tuned on sndlib abilene/geant/germany50, caida 701/3356 and
backbone/americas, capacities sized on first-path loads (with and without headroom on the
forced links); the benchmark results are in ``benchmarks/results/te_*.md``.

The products
------------
Splits live in a dense ``(K, n_od)`` array (K = most paths of any OD; missing slots have price
``inf`` and share 0; rank-major, so the per-OD minimum, sum and softmax are reductions over the
short first axis: elementwise operations between ``K`` contiguous rows, 6-16x faster on the CPU
than over the last axis of ``(n_od, K)``; ``torch.softmax`` over those 4 x 44,310 logits of
caida-701 takes 0.58 ms against 5.7 ms in the other layout).
The per-iteration profile (``benchmarks/te_profile.py``, ``results/te_profile*.md``) compares an
iteration with one plain links <- paths plus one paths <- links product on the same matrix.
For a path set from ``k_shortest_paths(method="deviation")`` whose path-link matrix has more than
:attr:`FastOperator.TREE_MIN_RATIO` times as many non-zeros, the solver uses its compressed form
(``paths.meta["_trees"]``): each path is a few tree pieces of the shortest-path tree of its source
plus a few links, so ``R^T y`` is a prefix sum of ``y`` down each source's tree (a row-wise cumulative
sum over the tree's pre-order) followed by a sparse product with ~3 non-zeros per path, and
``R f`` is the transpose (subtree sums). On long-haul backbones (paths of 20+ hops) this needs 5-10
times fewer memory accesses than the path-link matrix. Any other path set uses the path-link
matrix itself. Products run in float32; the prefix sums, and the final certificate (the MLU of the
returned routing and the bound), run in float64 (above 5e7 non-zeros in float32 with a 1e-4
relative margin, since float64 copies of the matrices would double the memory).

All of ``torch`` is imported inside this module only, and only when a solve or an operator needs it.
The policy over this solver is :class:`~surgeguard.routing.fast.FastTE`.
"""

from __future__ import annotations

import contextlib
import time
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Protocol

import numpy as np
import scipy.sparse as sp

from ..exceptions import InfeasibleError, SolverError, ValidationError
from ..network import Network
from ..paths import PathSet, index_dtype
from .highs import INF, load_arrays, primal, row_duals, run, simplex_iterations

__all__ = ["FastOperator", "get_operator", "clear_operator_cache", "resolve_device", "torch_threads",
           "tight_dual_bound", "solve_fast", "WarmStart", "CERTIFY_F64_MAX_NNZ", "F32_MARGIN", "LPCostModel",
           "LP_COST"]

#: above this many non-zeros the final certificate runs in float32 with a relative margin
CERTIFY_F64_MAX_NNZ = 50_000_000
#: up to this many non-zeros the certificate's float64 matrices stay cached with the operator (8
#: bytes a non-zero; building their values cost 2 x 12 ms a solve at caida-3356, 1.8M non-zeros,
#: a fifth of a one-iteration warm solve)
CERTIFY_KEEP_F64_NNZ = 5_000_000
F32_MARGIN = 1e-4


def _torch():
    try:
        import torch  # lazy: torch is heavy and optional (only the first-order solver needs it)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValidationError(
            "the 'fast' policy needs PyTorch; install it with `pip install torch==2.13.0` "
            "(a CPU build) or use the 'optimal' policy") from exc
    return torch


def resolve_device(device=None):
    """The torch device for ``device``: "auto" or None is CUDA when PyTorch sees one, else the CPU.

    >>> str(resolve_device("cpu"))
    'cpu'
    """
    torch = _torch()
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError(f"device {device!r} asked for, but PyTorch sees no CUDA device; use device='cpu'")
    return dev


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads, restored afterwards; None or 0 changes nothing.

    The one such helper of the package (``fast``, the learned router and the neural forecasters use
    it): on a small shared CPU, torch's thread pool spinning against other processes can make a
    step ten times slower, so callers default to 1.

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if not threads:
        yield
        return
    torch = _torch()
    saved = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _csr_index(torch, ptr, idx, shape, device):
    """(row pointers, column indices) of a torch CSR tensor: 32-bit where they fit (half the index
    traffic); shared by the float32 and float64 matrices of an operator."""
    it = torch.int32 if (len(idx) < 2**31 - 1 and max(shape) < 2**31 - 1) else torch.int64
    npi = np.int32 if it == torch.int32 else np.int64
    crow = torch.from_numpy(np.ascontiguousarray(ptr, dtype=npi)).to(device)
    col = torch.from_numpy(np.ascontiguousarray(idx, dtype=npi)).to(device)
    return crow, col


def _sparse_csr(torch, index, v, shape):
    """A torch CSR tensor from :func:`_csr_index`'s ``index`` and the values ``v`` (a tensor)."""
    crow, col = index
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, v, size=shape, check_invariants=False)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each start ``s`` and length ``n`` (int64)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, dtype=np.int64) - offs, lengths) + np.arange(total, dtype=np.int64)


def _transpose_csr(ptr, idx, val, shape):
    """CSR of the transpose (a counting sort, O(nnz)), through scipy."""
    m = sp.csr_matrix((val, idx, ptr), shape=shape)
    t = m.T.tocsr()
    t.sort_indices()
    return t.indptr, t.indices, t.data


#: paths gathered at a time when an operator re-orders its rows into slot order (:func:`_rows_by_slot`)
ROWS_CHUNK = 1 << 22


def _rows_by_slot(ptr, idx, val, slot, n_slots):
    """A per-path CSR (``ptr`` over paths) re-ordered into slot order: (ptr over slots, idx, val).

    Gathered :data:`ROWS_CHUNK` paths at a time, so the int64 gather positions never exceed one chunk's
    entries (at backbone/world, 188M tree entries: 1.5 GB of positions, and 3x that while
    :func:`_ranges` builds them, in one piece)."""
    lengths = np.diff(ptr)
    cnt = np.zeros(n_slots, dtype=np.int64)
    cnt[slot] = lengths
    out_ptr = np.zeros(n_slots + 1, dtype=np.int64)
    np.cumsum(cnt, out=out_ptr[1:])
    order = np.argsort(slot, kind="stable")                 # paths in slot order
    out_idx = np.empty(int(out_ptr[-1]), dtype=idx.dtype)
    out_val = None if val is None else np.empty(len(out_idx), dtype=val.dtype)
    o, chunk = 0, max(int(ROWS_CHUNK), 1)
    for c0 in range(0, len(order), chunk):
        sel = order[c0:c0 + chunk]
        take = _ranges(np.asarray(ptr[:-1])[sel], lengths[sel])
        out_idx[o:o + len(take)] = idx[take]
        if out_val is not None:
            out_val[o:o + len(take)] = val[take]
        o += len(take)
    return out_ptr, out_idx, out_val


class FastOperator:
    """The path-link incidence of a :class:`PathSet` on one torch device.

    ``loads(f)``: link loads from per-slot flows ``f`` (``K * n_od``); ``prices(y)``: per-slot price
    ``sum_{l in p} y_l`` from link prices ``y``. Built once per path set and device and cached.

    Slots are rank-major: slot ``r * n_od + k`` is the ``r``-th path of OD ``k``, so per-slot vectors
    are ``(K, n_od)`` arrays (:attr:`shape`) whose per-OD reductions (minimum, sum, softmax) run
    over the short first axis, as elementwise operations between ``K`` contiguous rows: measured
    6-16x faster on the CPU than the same reductions over the short last axis of ``(n_od, K)``.

    Attributes
    ----------
    kind : "tree" (compressed form of the deviation builder) or "links" (path-link matrix).
    n_od, K, shape : slot layout ``(K, n_od)``; ``valid`` (K, n_od) marks real paths (``valid_np``:
        the same in NumPy, read-only); ``slot_of_path`` maps paths to slots.
    max_hops : the most links on any path.
    setup_seconds : time to build it.
    """

    #: with ``compressed=None`` the tree form is used when the path-link matrix has more than this
    #: many times its non-zeros: each tree product also passes over ``sources x nodes`` prefix-sum
    #: cells (float64) and indexes them three times, so at 1.2x (caida 701, 3356: paths of 2-4
    #: hops) the plain matrix's pair of products is 2x faster (``te_profile.md``), while on
    #: long-haul backbones (6x, americas; 7x, eurasia) the tree form reads far less memory.
    TREE_MIN_RATIO = 2.0

    def __init__(self, paths: PathSet, device="cpu", *, compressed: bool | None = None):
        torch = _torch()
        t0 = time.perf_counter()
        self.device = device = torch.device(device)
        self.n_od, self.n_links, self.n_paths = paths.n_od, paths.n_links, paths.n_paths
        counts = paths.paths_per_od
        self.K = K = int(counts.max()) if paths.n_od else 1
        self.shape = (K, paths.n_od)
        rank = np.arange(paths.n_paths) - np.repeat(paths.od_ptr[:-1], counts)
        slot = rank * paths.n_od + paths.path_od            # slot of each path (rank-major)
        del rank
        n_slots = paths.n_od * K
        slot = self.slot_of_path = self._narrow(slot, n_slots)   # int32 where it fits (world: -0.23 GB)
        valid = np.zeros(n_slots, dtype=bool)
        valid[slot] = True
        self.valid = torch.from_numpy(valid.reshape(self.shape)).to(device)
        self.valid_np = valid.reshape(self.shape)
        self.valid_np.flags.writeable = False
        # what a solve without a path mask needs, built once: every path usable, the minimum's mask
        self.all_paths = np.ones(paths.n_paths, dtype=bool)
        self.all_paths.flags.writeable = False
        self.big_valid = torch.where(self.valid, 0.0, 1e30)
        #: the most links on a path: bounds the float32 rounding of a path's price (a sum of that many terms)
        self.max_hops = int(np.diff(paths.link_ptr).max()) if paths.n_paths else 0
        # first, while little else is held: its sorts' temporaries then do not stack on the matrices'
        # (backbone/world: 0.9 GB of forced links as per-OD lists, 2.6 GB more while finding them)
        self._forced = self._forced_links(paths)
        self._forced_od = None
        self._forced_masks = {}      # (ODs, their paths' usable flags) -> their forced links under a mask
        trees = paths.meta.get("_trees")
        usable = trees is not None and trees.get("_link_ptr") is paths.link_ptr
        if compressed is None:
            compressed = usable and len(paths.link_idx) > self.TREE_MIN_RATIO * len(trees["q_idx"])
        if compressed and not usable:
            raise ValidationError("compressed=True needs a path set built by k_shortest_paths(method='deviation')")
        self.kind = "tree" if compressed else "links"
        L = paths.n_links
        if self.kind == "links":
            # slots x links (row per slot), and its transpose
            ptr, idx, _ = _rows_by_slot(paths.link_ptr, paths.link_idx, None, slot, n_slots)
            ptr = self._narrow(ptr, len(idx))
            ones = np.ones(len(idx), dtype=np.float32)
            self._fw = (ptr, idx, (n_slots, L))
            tptr, tidx, _ = _transpose_csr(ptr, idx, ones, (n_slots, L))
            self._bw = (tptr, tidx, (L, n_slots))
            self._sgn = None
            self.n_cells = 0
            self.nnz = int(len(idx))
        else:
            n = trees["n_nodes"]
            rows = len(trees["sources"])
            C = rows * n
            self.n_cells = C
            ptr, idx, sgn = _rows_by_slot(trees["q_ptr"], trees["q_idx"], trees["q_sgn"], slot, n_slots)
            ptr = self._narrow(ptr, len(idx))
            sgn = sgn.astype(np.float32)
            self._fw = (ptr, idx, (n_slots, C + L))
            tptr, tidx, tval = _transpose_csr(ptr, idx, sgn, (n_slots, C + L))
            self._bw = (tptr, tidx, (C + L, n_slots))
            self._sgn = (sgn, tval.astype(np.float32, copy=False))
            self.nnz = int(len(idx))
            tin = trees["tin"].astype(np.int64)
            size = trees["size"].astype(np.int64)
            row = np.repeat(np.arange(rows, dtype=np.int64), n)
            self._rows, self._n = rows, n
            self.pos = torch.from_numpy(row * (n + 1) + tin).to(device)
            self.pos_last = torch.from_numpy(row * (n + 1) + tin + size - 1).to(device)
            self.pos_end = torch.from_numpy(row * (n + 1) + tin + size).to(device)
            tl = trees["tree_link"].astype(np.int64)
            has = tl >= 0
            cells = np.flatnonzero(has)
            o = np.argsort(tl[has], kind="stable")
            cptr = np.zeros(L + 1, dtype=np.int64)
            np.cumsum(np.bincount(tl[has], minlength=L), out=cptr[1:])
            self._ctl = (self._narrow(cptr, C), self._narrow(cells[o], C), (L, C))
            self.tl = torch.from_numpy(np.where(has, tl, L)).to(device)
        self._mats = {}
        self._index = {}
        self._path_of_slot = None
        self._loads_err = None
        self.setup_seconds = time.perf_counter() - t0
        self._mat(torch.float32)
        self.setup_seconds = time.perf_counter() - t0

    @staticmethod
    def _narrow(a: np.ndarray, top: int) -> np.ndarray:
        """``a`` (indices or offsets up to ``top``) as int32 where they fit: the torch matrices'
        index arrays (:func:`_csr_index`) then share it instead of keeping a second, int32 copy."""
        return a.astype(np.int32) if index_dtype(top) is np.int32 and a.dtype != np.int32 else a

    def slots_on(self, links: np.ndarray) -> np.ndarray:
        """The slots of the paths that cross ``links`` (their rows of the links <- slots matrix; a
        slot once per link of ``links`` it crosses). Path-link operator only (``kind == "links"``)."""
        tptr, tidx, _ = self._bw
        return tidx[_ranges(tptr[links].astype(np.int64), (tptr[links + 1] - tptr[links]).astype(np.int64))]

    def loads_error(self) -> np.ndarray:
        """(n_links,) relative error bound of a float32 :meth:`loads` product divided by capacity,
        against the exact value of its float32 splits (see :func:`_exact_mlu`): ``(n_l + 8) 2^-24 / (1 -
        (n_l + 8) 2^-24)`` for a link crossed by ``n_l`` slots. Path-link operator only; kept."""
        if self._loads_err is None:
            g = (np.diff(self._bw[0].astype(np.int64)) + 8.0) * 2.0 ** -24
            self._loads_err = np.where(g < 0.5, g / (1.0 - np.minimum(g, 0.5)), np.inf)   # inf: no bound
        return self._loads_err

    @property
    def path_of_slot(self) -> np.ndarray:
        """(K, n_od) the path of each slot (0 on the empty ones: ``valid_np`` marks the real slots);
        built on first use (a warm start: gathering per-path splits into slots is 2-3x faster than
        scattering them) and kept."""
        if self._path_of_slot is None:
            n = self.n_od * self.K
            inv = np.zeros(n, dtype=index_dtype(self.n_paths))
            inv[self.slot_of_path] = np.arange(self.n_paths, dtype=inv.dtype)
            self._path_of_slot = inv.reshape(self.shape)
        return self._path_of_slot

    @property
    def forced_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(OD indices, link indices): the pairs where every candidate path of the OD crosses the link
        (held as per-OD link lists, :meth:`_forced_links`; the OD of each pair built on each call)."""
        cnt, links = self._forced
        return np.repeat(np.arange(self.n_od, dtype=links.dtype), cnt), links

    #: path-link entries per sort when finding forced links (bounds the set-up's memory: about
    #: 80 bytes an entry in temporaries, 0.7 GB a chunk)
    FORCED_CHUNK = 1 << 23

    @classmethod
    def _forced_pairs(cls, paths: PathSet, usable: np.ndarray | None = None,
                      ods: np.ndarray | None = None):
        """(OD, link) pairs where every candidate path of the OD crosses the link, as arrays (the
        per-OD lists of :meth:`_forced_links` with the OD of each pair)."""
        ods = np.arange(paths.n_od, dtype=np.int64) if ods is None else np.asarray(ods, dtype=np.int64)
        cnt, links = cls._forced_links(paths, usable, ods)
        return np.repeat(ods.astype(links.dtype), cnt), links

    @classmethod
    def _forced_links(cls, paths: PathSet, usable: np.ndarray | None = None,
                      ods: np.ndarray | None = None):
        """(count per OD of ``ods``, links): the links every candidate path of the OD crosses, as one
        list per OD (the OD's links in order, the lists in the order of ``ods``).

        The load those ODs put on a link is unavoidable, so ``max_l (sum of their demand) / c_l``
        is a lower bound on the MLU; it is exact when the optimum is set by such a link (a stub
        node's only link, or a bridge), where the dual iterates would take long to find it.
        ``usable`` restricts to usable paths, ``ods`` to some ODs (all by default). Sorted chunk by
        chunk of :attr:`FORCED_CHUNK` path-link entries, so memory stays bounded at any size; int32
        where the counts allow, and one link (4 bytes) a pair instead of an (OD, link) pair: 2.9
        pairs a path at backbone/americas, 0.8 GB of links at backbone/world."""
        L = paths.n_links
        ods = np.arange(paths.n_od, dtype=np.int64) if ods is None else np.asarray(ods, dtype=np.int64)
        it = index_dtype(max(paths.n_od, L))
        if len(ods) == 0 or len(paths.link_idx) == 0:
            return np.zeros(len(ods), np.int32), np.zeros(0, it)
        od_ptr, link_ptr = paths.od_ptr, paths.link_ptr
        od_nnz = link_ptr[od_ptr[ods + 1]] - link_ptr[od_ptr[ods]]
        cum = np.cumsum(od_nnz)
        cuts = np.searchsorted(cum, np.arange(cls.FORCED_CHUNK, cum[-1], cls.FORCED_CHUNK), side="right")
        bounds = np.unique(np.concatenate([[0], cuts, [len(ods)]]))
        count = np.zeros(len(ods), np.int32)
        out_l = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            sub = ods[a:b]
            n_p = od_ptr[sub + 1] - od_ptr[sub]
            p = _ranges(od_ptr[sub], n_p)
            local = np.repeat(np.arange(len(sub), dtype=np.int64), n_p)
            if usable is not None:
                keep = usable[p]
                p, local = p[keep], local[keep]
            n_use = np.bincount(local, minlength=len(sub))
            hops = link_ptr[p + 1] - link_ptr[p]
            key = np.repeat(local, hops) * L + paths.link_idx[_ranges(link_ptr[p], hops)]
            key.sort()
            first = np.ones(len(key), bool)
            first[1:] = key[1:] != key[:-1]
            starts = np.flatnonzero(first)
            cnt = np.diff(np.append(starts, len(key)))
            k = key[starts]
            o, l = k // L, k % L
            f = cnt == n_use[o]
            count[a:b] = np.bincount(o[f], minlength=len(sub))    # o sorted: each OD's links together
            out_l.append(l[f].astype(it))
            del key, first, starts, cnt, k, o, l, f
        return count, np.concatenate(out_l)

    @classmethod
    def _add_forced(cls, out: np.ndarray, ods: np.ndarray, count: np.ndarray, links: np.ndarray,
                    d: np.ndarray) -> None:
        """``out[l] += d[od]`` over the per-OD link lists ``(count, links)`` of ``ods``, in list order,
        :attr:`FORCED_CHUNK` links at a time (``np.add.at``: the same additions in the same order as
        one ``np.bincount`` with weights, without a float64 weight per pair at once: 1.6 GB at
        backbone/world)."""
        ptr = np.zeros(len(count) + 1, np.int64)
        np.cumsum(count, out=ptr[1:])
        cuts = np.searchsorted(ptr, np.arange(cls.FORCED_CHUNK, ptr[-1], cls.FORCED_CHUNK), side="right") - 1
        bounds = np.unique(np.concatenate([[0], cuts, [len(count)]]))
        for a, b in zip(bounds[:-1], bounds[1:]):
            np.add.at(out, links[ptr[a]:ptr[b]], np.repeat(d[ods[a:b]], count[a:b]))

    def forced_util(self, d: np.ndarray, cap: np.ndarray, paths: PathSet | None = None,
                    usable: np.ndarray | None = None, n_use: np.ndarray | None = None) -> np.ndarray:
        """Per link, (demand of the ODs that must cross it) / capacity, in the units of ``d / cap``;
        its maximum is a lower bound on the MLU. With ``usable`` (a path mask), over the usable
        paths only (recomputed for the ODs that lost a path; ``n_use``, the usable paths per OD
        when the caller has them, finds those ODs without a pass over the paths)."""
        count, links = self._forced
        out = np.zeros(len(cap))
        all_ods = np.arange(self.n_od)
        pair_od = self._pair_od()
        if usable is not None and paths is not None and usable is not self.all_paths and (
                n_use is not None or not usable.all()):
            if n_use is None:
                n_use = paths.od_sum(usable)
            lost = n_use < paths.paths_per_od
            hit = np.flatnonzero(lost)
            # the ODs that kept all their paths first (a lost OD adds +0.0: d >= 0), then the others
            c2, l2 = self._forced_links_of_mask(paths, usable, hit)
            if pair_od is not None:
                out = np.bincount(np.concatenate([links, l2]), minlength=len(cap),
                                  weights=np.concatenate([np.where(lost, 0.0, d)[pair_od], np.repeat(d[hit], c2)]))
            else:
                self._add_forced(out, all_ods, count, links, np.where(lost, 0.0, d))
                self._add_forced(out, hit, c2, l2, d)
            n_pairs = len(links) - int(count[lost].sum()) + len(l2)
        else:
            if pair_od is not None:
                out = np.bincount(links, weights=d[pair_od], minlength=len(cap))
            else:
                self._add_forced(out, all_ods, count, links, d)
            n_pairs = len(links)
        return out / cap if n_pairs else np.zeros(len(cap))

    #: the forced links of the ODs that lost a path under this many path masks are kept (the most
    #: recent ones), each of at most :attr:`FORCED_MASK_KEEP_PAIRS` pairs
    FORCED_MASKS_KEPT = 8
    FORCED_MASK_KEEP_PAIRS = 1 << 20

    def _forced_links_of_mask(self, paths: PathSet, usable: np.ndarray, hit: np.ndarray):
        """:meth:`_forced_links` of the ODs ``hit`` (those that lost a path) under the mask ``usable``,
        kept for the last :attr:`FORCED_MASKS_KEPT` masks, keyed by those ODs and the usable flags of
        their paths (the only part of the mask they depend on). A failure stays for many intervals
        of a controller, and every solve under it needs them: GEANT 0.25 ms of a 1 ms warm solve,
        caida-3356 2 ms (issue 16)."""
        pth = _ranges(paths.od_ptr[hit], paths.od_ptr[hit + 1] - paths.od_ptr[hit])
        key = (hit.tobytes(), np.packbits(usable[pth]).tobytes())
        kept = self._forced_masks
        got = kept.pop(key, None)
        if got is None:
            got = self._forced_links(paths, usable, hit)
            if len(got[1]) > self.FORCED_MASK_KEEP_PAIRS:
                return got
        kept[key] = got                                  # the most recent last
        while len(kept) > self.FORCED_MASKS_KEPT:
            kept.pop(next(iter(kept)))
        return got

    #: up to this many forced (OD, link) pairs the OD of each pair is kept with the operator (4
    #: bytes a pair): :meth:`forced_util` is then one weighted ``np.bincount`` (the same sums, bit
    #: for bit) instead of the per-OD repeat and ``np.add.at`` chunks (caida-3356, 98k pairs: 2.9
    #: -> 1.0 ms, 4.1 -> 2.3 ms under a mask, paid by every solve; backbone/world's ~230M pairs keep
    #: the chunks)
    FORCED_OD_KEEP = 1 << 22

    def _pair_od(self) -> np.ndarray | None:
        """The OD of each forced pair (int32), built on first use and kept when there are at most
        :attr:`FORCED_OD_KEEP` pairs; None above."""
        count, links = self._forced
        if len(links) > self.FORCED_OD_KEEP:
            return None
        if self._forced_od is None:
            self._forced_od = np.repeat(np.arange(self.n_od, dtype=np.int32), count)
        return self._forced_od

    # ------------------------------------------------------------------ matrices per dtype
    def _mat(self, dtype):
        torch = _torch()
        if dtype in self._mats:
            return self._mats[dtype]
        npd = np.float32 if dtype == torch.float32 else np.float64
        parts = {"fw": self._fw, "bw": self._bw, **({"ctl": self._ctl} if self.kind == "tree" else {})}
        if not self._index:   # the index arrays, once (a certificate's float64 matrices reuse them)
            self._index = {k: _csr_index(torch, p, i, shape, self.device) for k, (p, i, shape) in parts.items()}
        mats = {}
        for k, (p, i, shape) in parts.items():
            if self._sgn is not None and k != "ctl":
                v = torch.from_numpy(np.asarray(self._sgn[0 if k == "fw" else 1], dtype=npd)).to(self.device)
            else:
                v = torch.ones(len(i), dtype=dtype, device=self.device)
            mats[k] = _sparse_csr(torch, self._index[k], v, shape)
        self._mats[dtype] = mats
        return mats

    @staticmethod
    def _mv(m, v):
        return _torch().mv(m, v)

    def _buffer(self, name):
        """A float64 (rows, n+1) work array whose last column stays 0 (pre-order slots 0..n-1 are
        all overwritten on every use)."""
        torch = _torch()
        buf = getattr(self, name, None)
        if buf is None:
            buf = torch.zeros(self._rows * (self._n + 1), dtype=torch.float64, device=self.device)
            setattr(self, name, buf)
        return buf

    def loads(self, f):
        """Link loads (n_links,) from slot flows ``f`` (n_od * K,), in ``f``'s dtype."""
        mats = self._mat(f.dtype)
        z = self._mv(mats["bw"], f)
        if self.kind == "links":
            return z
        torch = _torch()
        C = self.n_cells
        P = self._buffer("_P")
        P.index_copy_(0, self.pos, z[:C].double())
        cum = torch.cumsum(P.view(self._rows, self._n + 1), dim=1).view(-1)
        S = cum.index_select(0, self.pos_last) - cum.index_select(0, self.pos) + P.index_select(0, self.pos)
        return z[C:] + self._mv(mats["ctl"], S.to(f.dtype))

    def prices(self, y):
        """Slot prices (n_od * K,) from link prices ``y`` (n_links,), in ``y``'s dtype."""
        mats = self._mat(y.dtype)
        if self.kind == "links":
            return self._mv(mats["fw"], y)
        torch = _torch()
        v = torch.cat([y.double(), y.new_zeros(1, dtype=torch.float64)]).index_select(0, self.tl)
        E = self._buffer("_E")
        E.view(self._rows, self._n + 1)[:, self._n] = 0.0
        E.index_copy_(0, self.pos, v)
        E.index_add_(0, self.pos_end, -v)
        Y = torch.cumsum(E.view(self._rows, self._n + 1), dim=1).view(-1).index_select(0, self.pos)
        return self._mv(mats["fw"], torch.cat([Y.to(y.dtype), y]))

    def prices_many(self, Y):
        """Slot prices ``(n_od * K, m)`` for ``m`` price vectors, the columns of ``Y`` ``(n_links, m)``;
        with the path-link matrix in one pass over it."""
        if self.kind == "links":
            return _torch().sparse.mm(self._mat(Y.dtype)["fw"], Y)
        return _torch().stack([self.prices(Y[:, j].contiguous()) for j in range(Y.shape[1])], dim=1)

    def release(self, dtype):
        """Drop the matrices of one dtype (the float64 ones after a certificate)."""
        self._mats.pop(dtype, None)


_CACHE: "weakref.WeakKeyDictionary[PathSet, dict]" = weakref.WeakKeyDictionary()


def get_operator(paths: PathSet, device="cpu", *, compressed: bool | None = None) -> FastOperator:
    """The cached :class:`FastOperator` of ``paths`` on ``device`` (built on first use)."""
    torch = _torch()
    dev = torch.device(device)
    per = _CACHE.setdefault(paths, {})
    key = (str(dev), compressed)
    if key not in per:
        per[key] = FastOperator(paths, dev, compressed=compressed)
    return per[key]


def _is_cached(paths: PathSet, device, compressed: bool | None) -> bool:
    return paths in _CACHE and (str(device), compressed) in _CACHE[paths]


def clear_operator_cache(paths: PathSet | None = None) -> None:
    """Drop the cached operators of ``paths`` (every path set's with None), freeing their memory.

    Operators are cached per path set (weakly: they go with it); a benchmark that keeps its path
    sets alive calls this between topologies.
    """
    if paths is None:
        _CACHE.clear()
    else:
        _CACHE.pop(paths, None)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: well-spread 64-bit keys from integers (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _merge_od_rows(t_of, d, e_row, e_col, n_cols):
    """The rows of :func:`tight_dual_bound`'s LP, reduced without changing its optimum.

    ``t_of`` (rows,): the OD of each row (a path; rows sorted by OD); ``d``: demand per OD; the
    (row, column) pairs ``e_row``, ``e_col`` (sorted by row): the links of ``S`` on each path, at
    least one per row. A row whose link set contains another row's of the same OD is redundant
    (``t_k <=`` the smaller sum already); ODs left with the same link sets have the same
    constraints, so they merge into one with their summed demand (each OD's ``t_k`` then takes the
    same value; the optimum is the same). Link sets are compared through sums of 64-bit mixed
    keys (a collision could only weaken the LP's prices; the bound of the prices it returns is
    computed exactly over every OD afterwards). Returns (OD group of each kept row, demand per
    group, e_row, e_col) with rows and groups renumbered from 0.

    Measured (caida-3356 ``core``, the links within 15-30% of the top): 7,896 -> 145 rows,
    26,282 -> 1,840, 57,466 -> 8,446."""
    n_rows = len(t_of)
    ns = np.bincount(e_row, minlength=n_rows)
    e_ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(ns, out=e_ptr[1:])
    # pairs (p, q) of distinct rows of one OD; q makes p redundant when S(q) is within S(p)
    # (equal sets: the lower row stays)
    first = np.searchsorted(t_of, t_of, side="left")
    n_od_rows = np.searchsorted(t_of, t_of, side="right") - first
    p = np.repeat(np.arange(n_rows), n_od_rows)
    q = _ranges(first, n_od_rows)
    cand = (p != q) & (ns[q] <= ns[p])
    p, q = p[cand], q[cand]
    # is every S-link of q on p?  keys (row, link), sorted, looked up for each link of q
    keys = np.sort(e_row * n_cols + e_col)
    pair = np.repeat(np.arange(len(p)), ns[q])
    look = np.repeat(p, ns[q]) * n_cols + e_col[_ranges(e_ptr[q], ns[q])]
    pos = np.minimum(np.searchsorted(keys, look), len(keys) - 1)
    hits = np.bincount(pair[keys[pos] == look], minlength=len(p))
    dom = (hits == ns[q]) & ((ns[q] < ns[p]) | (q < p))
    drop = np.zeros(n_rows, dtype=bool)
    drop[p[dom]] = True
    # a hash of each row's link set, then of each OD's set of rows
    with np.errstate(over="ignore"):
        h_row = np.add.reduceat(_mix64(e_col), e_ptr[:-1])         # a set's key: the sum of its links'
        kept = np.flatnonzero(~drop)
        od_start = np.flatnonzero(np.r_[True, t_of[kept][1:] != t_of[kept][:-1]])
        h_od = np.add.reduceat(_mix64(h_row[kept]), od_start)
    _, rep, grp = np.unique(h_od, return_index=True, return_inverse=True)
    d_grp = np.bincount(grp.ravel(), weights=d[t_of[kept][od_start]], minlength=len(rep))
    # rows of each group's representative OD
    rep_od = t_of[kept][od_start][rep]
    od_grp = np.full(int(t_of.max()) + 1, -1, dtype=np.int64)
    od_grp[rep_od] = np.arange(len(rep))
    rows = kept[od_grp[t_of[kept]] >= 0]
    new_row = np.full(n_rows, -1, dtype=np.int64)
    new_row[rows] = np.arange(len(rows))
    sel = new_row[e_row] >= 0
    return od_grp[t_of[rows]], d_grp, new_row[e_row[sel]], e_col[sel]


def tight_dual_bound(paths: PathSet, op: "FastOperator", u, d, cap, usable_slots, *,
                      delta: float = 0.1, max_rows: int = 600_000, widen_to: float | None = None,
                      stats: dict | None = None):
    """Link prices from a small LP over the links within ``delta`` of the most loaded one.

    Any prices ``y >= 0`` with ``sum_l c_l y_l = 1`` certify ``MLU >= sum_k d_k min_p price_p(y)``.
    The best such prices supported on a link set ``S`` solve::

        max sum_k d_k t_k   s.t.  t_k <= sum_{l in p, l in S} y_l  (every usable path p of OD k),
                                  sum_{l in S} c_l y_l = 1,  y, t >= 0

    where only ODs whose every usable path crosses ``S`` can have ``t_k > 0``. When the routing is
    near-optimal, the links that set the optimum are among its most loaded ones, so this LP (a few
    thousand rows) gives the optimal bound where averaged softmax prices converge slowly. Solved
    by HiGHS' dual simplex (:func:`~surgeguard.optimise.highs.load_arrays`); ``u`` (link utilisations), ``d`` (demand per OD), ``cap`` are tensors/arrays in the
    solver's scaled units. Returns the prices (numpy, ``(n_links,)``) or None.

    ``widen_to``: when no OD with demand must cross the links within ``delta`` (the LP would be
    empty: its bound is 0), ``delta`` grows by half up to this before the LP is built (one more
    links <- paths indicator product each time) instead of returning None. Measured (issue 16,
    caida-701 ``core``, matrices 0 and 2): the first LP of a cold solve saw one link within 20% of
    the top and returned None (6 ms); the solve's second LP, 10 iterations later at 30%, certified.
    ``max_rows``: the paths of the ODs that must cross the links (before their rows are merged) at
    most; above, ``delta`` is halved. The merge leaves few rows (backbone/americas ``core``: 87,116
    paths -> 78 rows, 1.6 M -> 11,224), so the cap bounds the arrays built, not the LP. Measured
    (issue 16, americas ``core`` matrix 0, 5.0 M paths, CPU seconds, one thread): with 150,000 the
    set shrank to 2-7 links within 0.1-2% of the top, 14 LPs of 5-78 rows bounded the MLU at
    1,093 (the optimum ~1,104) and the solve took 360 iterations, 96 s; with 600,000 (or 2 M) a
    bound of 1,104.3 by iteration 61 (91) and 192 iterations, 53 s; backbone/eurasia ``core``
    matrix 0 (16.3 M paths): 90 iterations, 85 s -> 65 iterations, 67 s.
    ``stats`` (a dict): filled with ``delta`` (the one used), ``links``, ``rows`` (of the paths that
    enter the LP), ``passes`` (indicator products), and once the LP is built ``lp_rows``, ``lp_nnz``
    and, after HiGHS ran, ``simplex`` (its iterations): what :class:`LPCostModel` prices."""
    torch = _torch()
    u = np.asarray(u, dtype=np.float64)
    U = float(u.max())
    d = np.asarray(d, dtype=np.float64)
    cap = np.asarray(cap, dtype=np.float64)
    shrunk = False
    passes = 0
    while True:
        passes += 1
        S = np.flatnonzero(u >= U * (1.0 - delta))
        ind = torch.zeros(len(u), dtype=torch.float32, device=op.device)
        ind[torch.from_numpy(S).to(op.device)] = 1.0
        cnt = op.prices(ind).reshape(op.shape)
        cnt = torch.where(usable_slots, cnt, torch.full_like(cnt, float("inf")))
        rel_od = (cnt.amin(dim=0) >= 0.5).cpu().numpy() & (d > 0)
        n_rows = int(np.asarray(usable_slots.sum(dim=0).cpu())[rel_od].sum())
        if not n_rows and not shrunk and widen_to is not None and delta < widen_to:
            delta = min(1.5 * delta, widen_to)    # no OD must cross these links: widen the set
            continue
        if n_rows <= max_rows or delta < 1e-3:
            break
        delta /= 2.0
        shrunk = True
    if stats is not None:
        stats.update(delta=delta, links=len(S), rows=n_rows, passes=passes)
    rel = np.flatnonzero(rel_od)
    if not len(rel) or n_rows > max_rows:
        return None
    n_p = paths.od_ptr[rel + 1] - paths.od_ptr[rel]
    pp = _ranges(paths.od_ptr[rel], n_p)
    t_of = np.repeat(np.arange(len(rel)), n_p)
    keep = np.asarray(usable_slots.reshape(-1).cpu())[op.slot_of_path[pp]]
    pp, t_of = pp[keep], t_of[keep]
    hops = paths.link_ptr[pp + 1] - paths.link_ptr[pp]
    links = paths.link_idx[_ranges(paths.link_ptr[pp], hops)]
    col = np.full(len(u), -1, dtype=np.int64)
    col[S] = np.arange(len(S))
    m = col[links] >= 0
    e_row = np.repeat(np.arange(len(pp)), hops)[m]     # the S-links of each path (rows in OD order)
    e_col = col[links[m]]
    t_of, d_t, e_row, e_col = _merge_od_rows(t_of, d[rel], e_row, e_col, len(S))
    nS, n_t, n_r = len(S), len(d_t), int(e_row.max()) + 1
    # rows: t_k - sum_{l in S on p} y_l <= 0 per kept path; the last, sum_l c_l y_l = 1 (c scaled)
    A = sp.csc_matrix((np.concatenate([-np.ones(len(e_row)), np.ones(n_r), cap[S] / cap[S].max()]),
                       (np.concatenate([e_row, np.arange(n_r), np.full(nS, n_r)]),
                        np.concatenate([e_col, nS + t_of, np.arange(nS)]))), shape=(n_r + 1, nS + n_t))
    c = np.concatenate([np.zeros(nS), -d_t / d_t.max()])
    # dual simplex without presolve: 25-30% faster on these small reduced LPs (caida-3356 ``core``);
    # passed to HiGHS from the arrays (SciPy's linprog wrapper cost as much as the solve)
    if stats is not None:
        stats.update(lp_rows=n_r + 1, lp_nnz=int(A.nnz))
    h = load_arrays(cost=c, lower=np.zeros(nS + n_t), upper=np.full(nS + n_t, INF),
                    row_lower=np.r_[np.full(n_r, -INF), 1.0], row_upper=np.r_[np.zeros(n_r), 1.0],
                    start=A.indptr, index=A.indices, value=A.data,
                    options={"solver": "simplex", "simplex_strategy": 1, "presolve": "off"})
    try:
        run(h, "the bound LP of the fast solver")
        x = primal(h, "the bound LP of the fast solver")
    except (SolverError, InfeasibleError):
        return None
    finally:
        if stats is not None:
            stats["simplex"] = simplex_iterations(h)
    y = np.zeros(len(u))
    y[S] = np.maximum(x[:nS], 0.0)
    tot = float((y * cap).sum())
    return y / tot if tot > 0 else None


class _Clock:
    """Wall-clock seconds per phase, added into a dict (``solve_fast(profile=...)``): each
    :meth:`lap` charges the time since the previous one to its phase. On CUDA it waits for the
    device first, so kernels are charged to the phase that queued them. Only built when asked for:
    without a profile the solver's only extra work is an ``is None`` test per phase."""

    def __init__(self, out: dict, device, timer=time.perf_counter):
        self.out = out
        self.sync = _torch().cuda.synchronize if str(device).startswith("cuda") else None
        self.timer = timer
        self.t = timer()

    def lap(self, phase: str) -> None:
        if self.sync is not None:
            self.sync()
        now = self.timer()
        self.out[phase] = self.out.get(phase, 0.0) + (now - self.t)
        self.t = now


def _fused_adam_ok(t) -> bool:
    """Whether torch's fused Adam (one pass per step) runs on ``t``'s device."""
    torch = _torch()
    if t.device.type not in ("cpu", "cuda"):
        return False
    major, minor = (int(v) for v in torch.__version__.split(".")[:2])
    return (major, minor) >= (2, 4) or t.device.type == "cuda"


class _Adam:
    """Adam on one tensor of logits, through torch's functional ``torch.optim.adam.adam`` (fused
    where :func:`_fused_adam_ok`): the arithmetic of ``torch.optim.Adam``, without its per-step
    wrapper (hooks, the profiler's record, the state look-ups). Measured (issue 16, caida-701
    ``core``, 177,240 logits, one thread): 0.40 -> 0.32 ms a step, a twentieth of an iteration.
    ``eps`` is given at each step (it follows the largest gradient, ``eps_rel`` of :func:`solve_fast`)."""

    def __init__(self, theta, lr: float, betas):
        from torch.optim.adam import adam  # lazy: torch is optional
        self._adam = adam
        self.theta, self.lr, self.betas = theta, float(lr), betas
        # fused (one pass) where torch has it; the keywords built once, not at every step
        self._kind = {"fused": True} if _fused_adam_ok(theta) else {"foreach": False}
        self.reset(lr=self.lr)

    def reset(self, lr: float) -> None:
        """Fresh moments and step count, and the step size ``lr``."""
        torch = _torch()
        self.lr = float(lr)
        self.m = torch.zeros_like(self.theta)
        self.v = torch.zeros_like(self.theta)
        self.step_t = torch.zeros((), dtype=torch.float32, device=self.theta.device)

    def step(self, g, eps: float) -> None:
        """One Adam step of the logits along the gradient ``g`` (in place)."""
        self._adam([self.theta], [g], [self.m], [self.v], [], [self.step_t],
             **self._kind,
             amsgrad=False, beta1=self.betas[0], beta2=self.betas[1], lr=self.lr, weight_decay=0.0,
             eps=eps, maximize=False)


class WarmStart(Protocol):
    """What a warm start needs: a previous routing (a :class:`~surgeguard.routing.Routing`)."""

    paths: PathSet
    splits: np.ndarray
    info: dict


# ---------------------------------------------------------------------- the steps of a solve
def _usable_slots(paths: PathSet, op: "FastOperator", d: np.ndarray, path_mask):
    """(usable paths mask, usable paths per OD, usable slots ``(K, n_od)``, the uniform split over
    each OD's usable paths per slot ``(K, n_od)``), in the operator's slot layout (per-OD sums over
    the short first axis: no per-path segment reductions, issue 16's warm-start set-up).

    Every OD with demand needs a usable path. ODs with none carry no demand: any split summing to
    1 will do, so theirs is uniform over all their paths."""
    valid = op.valid_np
    if path_mask is None:
        usable = op.all_paths
        ok = valid
        n_use = paths.paths_per_od
    else:
        usable = np.asarray(path_mask, dtype=bool)
        if usable.shape != (paths.n_paths,):
            raise ValidationError(f"path_mask has shape {usable.shape}; expected ({paths.n_paths},)")
        # from the masked paths only (a failure masks few), not a gather of the mask into slots and a
        # count over them: caida-3356, 638k paths, 3.4 -> 2.1 ms with the base below
        off = np.flatnonzero(~usable)
        ok = valid.copy()
        ok.reshape(-1)[op.slot_of_path[off]] = False
        n_use = paths.paths_per_od - np.bincount(paths.path_od[off], minlength=paths.n_od)
    stranded = (n_use == 0) & (d > 0)
    if stranded.any():
        k = int(np.flatnonzero(stranded)[0])
        raise ValidationError(
            f"OD {paths.node_names[paths.od_src[k]]}->{paths.node_names[paths.od_dst[k]]} has demand but no usable "
            f"path ({int(stranded.sum())} such ODs); add paths or drop their demand")
    none = n_use == 0
    base = ok * (1.0 / np.maximum(n_use, 1)).astype(np.float32)      # float32: starts are float32 logits
    if none.any():
        base[:, none] = valid[:, none] / np.maximum(paths.paths_per_od[none], 1)
    return usable, n_use, ok, base


@dataclass
class _Problem:
    """One solve's data on the device, in scaled units: demand / its maximum (``dscale``) and
    capacity / its maximum (``cscale``), so that the MLU is of order 1 in float32."""

    paths: PathSet
    op: FastOperator
    usable: np.ndarray      # (n_paths,) bool: paths that may carry traffic
    n_use: np.ndarray       # (n_od,) usable paths per OD
    ok_np: np.ndarray       # (K, n_od) bool: usable slots
    base: np.ndarray        # (K, n_od) uniform split over each OD's usable paths (slots), float32
    d: np.ndarray           # (n_od,) demand, absolute
    cap64: np.ndarray       # (n_links,) capacity, absolute
    dscale: float
    cscale: float
    dd: Any                 # (n_od,) scaled demand, float32 tensor
    cap: Any                # (n_links,) scaled capacity, float32 tensor
    ok: Any                 # (K, n_od) usable slots
    live: Any               # (K, n_od) slots whose logits are finite (usable, or an OD without usable paths)
    big: Any                # (K, n_od) 0 on usable slots, 1e30 elsewhere: keeps them out of the minimum
    lb_forced: float        # the forced-link bound (scaled)

    @classmethod
    def build(cls, network: Network, paths: PathSet, op: FastOperator, d, usable, n_use, ok_np, base,
              clock: _Clock | None = None) -> "_Problem":
        torch = _torch()
        dev = op.device
        cap64 = np.asarray(network.capacity, dtype=np.float64)
        dscale = float(d.max())
        cscale = float(cap64.max())
        dd = torch.from_numpy((d / dscale).astype(np.float32)).to(dev)
        cap = torch.from_numpy((cap64 / cscale).astype(np.float32)).to(dev)
        if ok_np is op.valid_np:
            # no mask: every path usable (the operator keeps these, so a solve builds nothing)
            ok, live, big = op.valid, op.valid, op.big_valid
        else:
            ok = torch.from_numpy(ok_np).to(dev)
            # the logits of unusable paths stay at -inf, except for ODs with no usable path at all
            # (they carry no demand; their split stays the uniform one, never NaN)
            none = n_use == 0
            live = ok if not none.any() else torch.from_numpy(ok_np | (op.valid_np & none)).to(dev)
            big = torch.where(ok, 0.0, 1e30)
        if clock is not None:
            clock.lap("set-up")
        lb_forced = float(op.forced_util(d / dscale, cap64 / cscale, paths, usable, n_use).max())
        if clock is not None:
            clock.lap("forced links")
        return cls(paths, op, usable, n_use, ok_np, base, d, cap64, dscale, cscale, dd, cap, ok, live, big,
                   lb_forced)

    def lower_bound(self, y) -> tuple[float, Any]:
        """(``sum_k d_k min_p price_p(y)``, the per-OD minima ``min_p price_p(y)``): the first is a
        bound on the MLU for prices with ``sum_l c_l y_l = 1``."""
        pmin = self.op.prices(y).reshape(self.op.shape).add_(self.big).amin(dim=0)
        return float(_torch().dot(self.dd, pmin)), pmin

    def lower_bounds(self, ys: list) -> list[tuple[float, Any]]:
        """:meth:`lower_bound` of each price vector of ``ys``; with the path-link matrix, all in one
        sparse product with ``len(ys)`` columns (one pass over the matrix)."""
        if len(ys) < 2 or self.op.kind != "links":
            return [self.lower_bound(y) for y in ys]
        torch = _torch()
        pv = self.op.prices_many(torch.stack(ys, dim=1)).view(*self.op.shape, len(ys))
        pmin = pv.add_(self.big.unsqueeze(2)).amin(dim=0)
        return [(lb, pmin[:, j]) for j, lb in enumerate((self.dd @ pmin).tolist())]

    def utilisation(self, x):
        """The link utilisations (scaled, float32) of splits ``x`` ``(K, n_od)``: one links <- paths product."""
        return self.op.loads((x * self.dd).reshape(-1)).div_(self.cap)

    def splits_of_paths(self, x) -> np.ndarray:
        """Per-path split ratios from slot splits ``x`` ((K, n_od), numpy or tensor); ``np.take``
        (caida-3356, 638k paths: 1.9 ms against 4.1 ms for the same gather by fancy indexing)."""
        x = x if isinstance(x, np.ndarray) else x.cpu().numpy()
        return np.take(x.reshape(-1), self.op.slot_of_path)


def _cold_splits(pb: _Problem, init_shortest: float) -> np.ndarray:
    """The cold start per slot ``(K, n_od)``: ``init_shortest`` of each OD on its first usable
    (cheapest) path (what the network runs without TE), the rest uniform over its usable paths."""
    if init_shortest <= 0:
        return pb.base
    ok = pb.ok_np
    first = np.empty_like(ok)
    seen = np.zeros(ok.shape[1], dtype=bool)
    for r in range(ok.shape[0]):                     # slots are rank-major: the first usable rank
        np.greater(ok[r], seen, out=first[r])
        seen |= ok[r]
    x = np.multiply(pb.base, np.float32(1.0 - init_shortest))
    x += np.float32(init_shortest) * first
    return x


def _cold_start(pb: _Problem, init_shortest: float, *, tol: float, delta: float, passes: int = 3,
                rounds: int = 8, gain: float = 0.02):
    """The cold start (:func:`_cold_splits`) as tensors ``(splits, utilisations, the product they were
    derived from or None, relieved)``, its hot links relieved: while the forced links do not certify
    it, up to ``passes`` passes of :func:`_relieve` over the links within ``delta`` of the top, each
    kept when it lowers the MLU by at least ``gain`` (relative), the next one only while the start is
    still not certified and the last one cost less than a product (its rounds over the entries at
    most the matrix's non-zeros). ``delta`` 0: the start as it is (one product: the first
    iteration's).

    Why (issue 16): the cold start puts 99% of each OD on its shortest path, which on an unevenly
    provisioned network loads some links far above the optimum (1.1-1.8x on the ladder; caida-701
    ``core`` after its most loaded link fails, 3.2x), and Adam spends its first 10-90 iterations
    spreading that load. Water-filling the hot links' shares over each OD's paths, as the warm starts
    do (:func:`_relieve`), starts within 1-35% of the optimum. Measured over the ladder (Abilene,
    GEANT, caida-701, caida-3356 x ``core``/``hard``/``hard-core``/``shifted`` x 3 matrices, each
    solved plain and after its most loaded link fails: 96 cold solves, CPU seconds, the fastest of 2,
    one thread; see the ``cold_relieve`` notes of :func:`solve_fast` for the totals)."""
    op = pb.op
    xc = _cold_splits(pb, init_shortest)
    x0 = _tensor(xc, op.device)
    u0 = pb.utilisation(x0)
    U0 = Uc = float(u0.max())
    if delta <= 0 or op.kind != "links" or not np.isfinite(U0):   # (non-finite: the loop stops on it)
        return x0, u0, None, False
    uc = u0
    for _ in range(max(int(passes), 0)):
        if Uc * (1.0 - tol) <= pb.lb_forced:        # certified already by the forced links
            break
        rel = _relieve(pb, xc, uc, delta=delta, rounds=rounds)
        if rel is None or float(rel[1].max()) >= (1.0 - gain) * Uc:
            break
        xc, uc, Uc = rel[0], rel[1], float(rel[1].max())
        if rel[2] * rounds > op.nnz:                # a pass costs more than a product: no more
            break
    if not Uc < U0:
        return x0, u0, None, False
    return _tensor(xc, op.device), _tensor(uc, op.device), u0, True


def _warm_splits(pb: _Problem, warm: WarmStart, warm_mix: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(the warm start per slot ``(K, n_od)``, the share each OD lost to paths no longer usable or
    None when none did, the factor each OD's warm splits were scaled by): the warm splits on the
    usable paths, the share an OD had on paths no longer usable (a failure) spread evenly over its
    usable ones, mixed with ``warm_mix`` of the uniform split (unused paths can come back).
    :func:`_repair` may then move the lost share elsewhere.

    Measured (most loaded link failed, iterations of the warm solves summed over GEANT
    ``core``/``shifted`` and caida-701 ``core``/``hard``/``shifted``, 3 matrices each, and caida-3356
    ``core``): renormalising that share in proportion to the warm shares 105 + 36 (caida-3356),
    putting it on the cheapest usable path as the cold start does 59 on caida-3356 alone, evenly
    100 + 10."""
    op = pb.op
    x = np.take(np.asarray(warm.splits, dtype=np.float32), op.path_of_slot)
    x *= op.valid_np
    tot = x.sum(axis=0)
    lost = None
    if pb.ok_np is not op.valid_np:
        x *= pb.ok_np
        lost = tot - x.sum(axis=0)
        hit = np.flatnonzero(lost > 0)
        x[:, hit] += pb.base[:, hit] * lost[hit]
    if not (tot > 0).all():                    # an OD with no warm share: the uniform split
        x[:, tot <= 0] = pb.base[:, tot <= 0]
        tot[tot <= 0] = 1.0
    scale = (1.0 - warm_mix) / tot
    x *= scale
    x += np.float32(warm_mix) * pb.base
    return x, (lost if lost is not None and lost.any() else None), scale


#: a failure whose hit ODs' usable paths have more path-link entries than this is not repaired (the
#: even spread is kept): :func:`_repair` holds about 40 bytes an entry (160 MB here); caida-3356's
#: most loaded link: 28k entries
REPAIR_MAX_ENTRIES = 1 << 22


def _repair(pb: _Problem, x: np.ndarray, u, lost: np.ndarray, scale: np.ndarray, *, rounds: int = 16,
            temp: float = 0.02) -> tuple[np.ndarray, np.ndarray] | None:
    """The warm start ``x`` (:func:`_warm_splits`, utilisations ``u``) with the share each OD lost
    to a failure moved, in ``rounds`` equal parts, onto its usable paths by a softmin (temperature
    ``temp`` of the top utilisation) of the utilisation each path's most loaded link would reach
    with that part on it, the utilisations updated after each part: a few steps of water-filling
    of the displaced traffic, computed over the paths of the ODs that lost a share only (no
    product over the whole matrix). Returns (splits, utilisations as float64) or None when no OD
    with demand lost a share, or their paths have more than :data:`REPAIR_MAX_ENTRIES` path-link
    entries (memory).

    Measured (issue 16, the most loaded link failed, MLU of the start / the optimum, 3 matrices
    per rung): the lost share spread evenly is within 1% on Abilene and most caida rungs, but
    caida-3356 ``core`` matrix 0 1.35, caida-701 ``core`` matrix 2 1.04, GEANT ``core``/``hard``
    1.07-1.52; this repair 1.04, 1.0007 and 1.07-1.21 there (worse than even on caida-3356
    ``core`` matrix 2: 1.10 against 0.998, so both are priced). All of an OD's lost share on its
    single best path by this measure (one round) or by the warm link weights' prices (the dual
    of the unfailed optimum, ``fast_state``) was tried and dropped: 1.55 instead of 1.04 on
    caida-701 ``core`` matrix 2, 2.84 on caida-3356 ``core`` matrix 2 (a whole OD's displaced
    traffic piled on one path)."""
    hit = np.flatnonzero((lost > 0) & (pb.d > 0))
    if len(hit) == 0:
        return None
    rep = _water_fill(pb, x, u, hit, lost[hit].astype(np.float64) * scale[hit], None, rounds=rounds, temp=temp)
    return None if rep is None else rep[:2]


def _water_fill(pb: _Problem, x: np.ndarray, u, hit: np.ndarray, moved: np.ndarray, off, *, rounds: int,
                temp: float) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Move ``moved`` (the share, as in ``x``) of each OD of ``hit`` onto its usable paths in
    ``rounds`` equal parts, each part by a softmin (temperature ``temp`` of the top utilisation) of
    the utilisation each path's most loaded link would reach with that part on it, the
    utilisations updated after each part. Where that share sits in ``x`` now: ``off`` ((sorted
    slots, the share to move from each), summing to ``moved`` over each OD's usable slots), or
    None: spread evenly (a failure's lost share, :func:`_warm_splits`). Computed over the ``hit``
    ODs' paths only (no product); (splits, utilisations as float64, path-link entries of those paths), or None when
    they have more than :data:`REPAIR_MAX_ENTRIES`. Shared by :func:`_repair` and :func:`_relieve`."""
    paths, op = pb.paths, pb.op
    cnt = paths.od_ptr[hit + 1] - paths.od_ptr[hit]
    pth = _ranges(paths.od_ptr[hit], cnt)
    keep = pb.usable[pth]
    pth = pth[keep]
    od_of = np.repeat(np.arange(len(hit)), cnt)[keep]            # each path's OD among ``hit``
    hops = paths.link_ptr[pth + 1] - paths.link_ptr[pth]
    if int(hops.sum()) > REPAIR_MAX_ENTRIES:
        return None
    lk = paths.link_idx[_ranges(paths.link_ptr[pth], hops)]
    starts = np.cumsum(hops) - hops
    entry = np.repeat(np.arange(len(pth)), hops)                 # each link entry's path
    L = len(pb.cap64)
    # utilisation each entry's link gets when all of its OD's moved share takes that path
    add = (moved * (pb.d[hit] / pb.dscale))[od_of][entry] / (pb.cap64[lk] / pb.cscale)
    slots = op.slot_of_path[pth]
    # where the moved share sits now, per path as a fraction of ``moved``
    if off is None:
        even = 1.0 / pb.n_use[hit][od_of]
    else:
        at = np.minimum(np.searchsorted(off[0], slots), len(off[0]) - 1)
        even = np.where(off[0][at] == slots, off[1][at], 0.0) / moved[od_of]
    up = _float64(u) - np.bincount(lk, weights=even[entry] * add, minlength=L)
    top = max(float(up.max()), pb.lb_forced, 1e-30)
    placed = np.zeros(len(pth))
    # each OD's first path (``od_of`` is sorted): the per-OD minimum as one ``reduceat`` (exact, as
    # ``np.minimum.at``, several times faster) when every OD has a usable path
    n_of = np.bincount(od_of, minlength=len(hit))
    first = np.cumsum(n_of) - n_of if n_of.all() else None
    # the same arithmetic each round, written to cost few NumPy calls (``take`` for gathers, the
    # round's part and the temperature computed once): at Abilene/GEANT the calls, not the data,
    # are the cost (1.3 -> 0.9 ms a repair)
    part = add / rounds
    tt = temp * top
    for _ in range(max(int(rounds), 1)):
        b = np.maximum.reduceat(up.take(lk) + part, starts)
        if first is not None:
            low = np.minimum.reduceat(b, first)
        else:
            low = np.full(len(hit), np.inf)
            np.minimum.at(low, od_of, b)
        z = np.exp((low.take(od_of) - b) / tt)
        z /= np.bincount(od_of, weights=z, minlength=len(hit)).take(od_of)
        z /= rounds
        placed += z
        up += np.bincount(lk, weights=z.take(entry) * add, minlength=L)
    xr = x.copy()
    flat = xr.reshape(-1)
    flat[slots] = np.maximum(flat[slots] + ((placed - even) * moved[od_of]).astype(np.float32), 0.0)
    return xr, up, len(lk)


def _relieve(pb: _Problem, x: np.ndarray, u, *, delta: float, rounds: int = 8,
             temp: float = 0.02) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The warm start ``x`` (utilisations ``u``) with the share each OD has on paths crossing a
    *hot* link (utilisation within ``delta`` of the top) water-filled over its usable paths
    (:func:`_water_fill`, the hot ones included): (splits, utilisations as float64, path-link
    entries water-filled over), or None
    (nothing to move, too many path-link entries, or the tree operator, which has no link ->
    slots rows to find the hot links' ODs by). No product over the matrix: the hot links' rows of
    the links <- slots matrix give their slots, the rest runs over those ODs' paths.

    Why (issue 16, ``te_warm.md``): after a +-10% demand change, or a failure that only cuts off
    ODs (the old bottleneck, a forced link, is gone), the warm routing is 1-6% above what the warm
    link weights (or the forced links) certify, and Adam's first steps from it swing (Abilene
    ``core`` matrix 0: 6.35 -> 6.56 -> 6.31, 8 iterations where 6.30 certifies). Relieving the
    links within 1% of the top certifies the start at once in most of those cases. :func:`_start`
    runs up to 3 passes (each on the last one's routing, while each halves the excess over the
    certified level and costs less than a product: its rounds over the entries at most the
    matrix's non-zeros, so one pass at Abilene/GEANT, where a pass costs 0.9-1.5 ms, 1-5
    iterations; GEANT ``core`` matrix 1 needed 3 there, now 3 iterations instead of 1) and keeps
    the result only when it certifies: a relieved start that does not
    was taken in an earlier version whenever its MLU was lower, and measured worse on 3 of the 18
    +-10% instances of ``tests/test_fast.py`` (GEANT seed 3 10 -> 19 iterations, germany50 seed 4
    5 -> 15; Adam from the water-filled point swings more) though better on 5 and on the ladder.
    Measured over the 72 cases of ``te_warm.py`` (iterations of the warm solves summed): 220 without,
    152 with (150 without the cost cap on passes; 8 rounds; 16 rounds 148 at twice the cost of a
    pass: 0.8 -> 1.2 ms at Abilene, where the NumPy calls are the cost; 4 rounds or a softmin
    temperature of 0.01 instead of 0.02: 173-203;
    1 pass 157, accepted whatever it certifies 140; hot links within 0.5%, 2%, 5% of the top: 146,
    165, 210 with one pass); on the 36 instances of ``tests/test_fast.py`` (seeds 0-5, most loaded
    link failed and +-10%) the same iterations on all 36 (without the cost cap on passes: Abilene
    seed 4 3 -> 1, none worse). CPU seconds (``te_warm.md``, load ~2, cold > 2 iterations, median /
    worst speed-up before -> after): +-10% demand Abilene ``core`` 3.7/2.8 -> 7.9/3.0x,
    ``shifted`` 4.1/3.1 -> 16.9/6.6x, caida-3356 ``core`` 6.8/4.1 -> 8.8/8.7x; after a failure
    caida-701 ``hard`` 6.0/3.8 -> 6.0/5.6-5.7x, caida-3356 ``hard`` 5.3/3.5 -> 5.3/4.5-5.0x (two
    runs); worse where the one pass at Abilene/GEANT does not certify: Abilene ``hard`` +-10% worst
    6.7 -> 4.8-5.0x, GEANT ``core`` 5.9 -> 3.4-3.7x (matrix 1: 3 iterations either way, plus the pass)."""
    op = pb.op
    if op.kind != "links":
        return None
    up = _float64(u)
    hot = np.flatnonzero(up >= (1.0 - delta) * up.max())
    # sorted and unique by marks, not np.unique's sorts (the same arrays; a third of a pass at GEANT)
    on = op.slots_on(hot)
    flat = x.reshape(-1)
    on = on[(flat[on] > 0) & pb.ok_np.reshape(-1)[on] & (pb.d[on % op.n_od] > 0)]
    if len(on) == 0:
        return None
    mark = np.zeros(len(flat), dtype=bool)
    mark[on] = True
    s = np.flatnonzero(mark)
    ods = s % op.n_od
    share = flat[s].astype(np.float64)
    seen = np.zeros(op.n_od, dtype=bool)
    seen[ods] = True
    hit = np.flatnonzero(seen)
    inv = (np.cumsum(seen) - 1)[ods]
    moved = np.bincount(inv, weights=share, minlength=len(hit))
    return _water_fill(pb, x, up, hit, moved, (s, share), rounds=rounds, temp=temp)


def _restricted_lp(pb: _Problem, x: np.ndarray, u, *, delta: float, tol: float = 0.01, lb: float = 0.0,
                   rows_at: float = 0.0, max_rounds: int = 3, max_cols: int = 10_000,
                   max_share: float = 0.25) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    """The warm start ``x`` (utilisations ``u``) with the splits of the ODs that carry traffic over a
    *hot* link (within ``delta`` of the top) replaced by those of a restricted exact LP: minimise the
    MLU over those ODs' usable paths, every other OD fixed as background load, one row per hot link
    (with ``rows_at`` > 0, also one per link loaded above ``rows_at``, its fixed ODs not freed).
    A link that the LP's routing then loads above its optimum is added as a row, the ODs that cross
    it freed, and the LP solved again (constraint generation). When no link is overloaded, the link
    rows' duals are priced over every OD (:meth:`_Problem.lower_bound`: the fixed ODs at their
    cheapest paths); when that bound (or ``lb``, one known already) is within ``tol`` of the LP's
    MLU the routing is certified and returned, else the fixed ODs crossing the binding rows (non-zero
    duals) are freed and the LP solved again. Up to ``max_rounds`` LPs, each of at most ``max_cols``
    columns and ``max_share`` of the paths (counted before it is built). Returns (splits,
    utilisations as float64, (the duals' bound, their per-OD minimum path prices, the prices
    normalised to ``sum_l c_l y_l = 1``) for :class:`_Bounds`), or None (the tree operator, a cap,
    the rounds spent, or HiGHS failing).

    Why (issue 16, ``te_warm.md``): after a failure that moves the bottleneck (GEANT ``core``,
    ``hard`` matrix 2) the warm routing spread evenly is 8-52% above the new optimum, the cold start
    5-30%, and Adam takes 13-31 iterations from either (about 0.7 ms each); the optimum there is set
    by the links that the displaced traffic reaches, and the LP over the 70-110 ODs crossing them
    (200-310 columns, 1-2 LPs, 1.5-2.8 ms) finds it exactly, its duals certifying it: 1 iteration.
    Measured (the most loaded link failed, CPU seconds, one thread; ``te_warm.md`` without
    (``--warm-option warm_restricted=0``) -> with, same run conditions, load ~2): GEANT ``core``
    matrices 0/1/2 0.9/0.8/4.6x -> 1.9/2.8/4.4x (13/18/5 -> 1 iteration; 12.7/15.6/10.8 ->
    6.2/4.8/11.2 ms), ``hard`` matrix 2 0.9 -> 3.0x (22 -> 1), caida-3356 ``core`` matrices 0/2
    6.2/8.2x -> 11.9/18.4x (5 -> 1: 1,100-7,300 columns, 2 LPs, 25-40 ms; 134/143 -> 74/66 ms),
    caida-701 ``core`` matrix 0 1.1 -> 3.5x (61 -> 1: 368 -> 114 ms, the retry below); no other
    of the 36 failure cases runs it (the forced links certify their even start); on
    ``tests/test_fast.py``'s instances (seeds 0-5, most loaded link failed) warm iterations 223 -> 139
    in all, GEANT seed 5 5 -> 1, germany50 seeds 1/4/5 43/13/27 -> 1, none more; where it gives up
    its LPs are paid (germany50 seeds 2/3: 4-40 ms on 18-58 iterations).

    :func:`_certified_restricted` first runs it with the hot links as rows, then (when that gives
    up) with every link above 80% of the forced-link bound as a row from the start: GEANT ``core``
    matrix 2 (the hot links' LP dumps their ODs on 59 other links, whose ODs would grow to all 462:
    given up after 1.4 ms; the retry, 45 rows, 2 LPs, 5.5 ms, certifies) and caida-701 ``core``
    matrix 0 (42 ms + 63 ms, 4 LPs of 4,400-4,900 columns). Rows from 80% of the forced bound first
    instead: caida-3356 ``core`` matrix 0 12 ms instead of 37, but matrix 2 46 instead of 29 and
    GEANT ``core`` matrix 0 not certified (3.7 ms for nothing, then 13 iterations).

    Tried and dropped: the same LP from the repaired start (:func:`_repair`) or the cold one (the
    same optimum, so the repair is skipped and the even start used); hot links within 1-2% of the
    top as the first rows (2-3 LPs where 10% needs 1-2); all the links the freed ODs cross as rows
    at once, without freeing (one LP, 2-19% above the optimum: ODs kept fixed on those links must
    move too, the binding-row rule above); the second LP hot-started (rows and columns added to the
    same HiGHS object): 2.4 -> 2.3 ms GEANT ``core`` matrix 0, 2.8 -> 2.5 ms ``hard`` matrix 2, but
    caida-3356 ``core`` matrix 0 30 -> 36 ms; a cap by network size instead of columns (caida-3356
    and caida-701 pay; a 25,500-column LP at caida-701 took 157 ms for nothing, given up now before
    it is built); ``np.unique`` of the crossing ODs instead of a mask: 1 ms at caida-701. After a
    +-10% demand change (where the hot-link relief of :func:`_start` does not certify: Abilene
    ``core``/``hard``/``shifted`` matrix 0, GEANT ``core`` matrix 1), from the relieved routing: the
    freed ODs grow past a quarter of the paths (a near-optimal routing has many links near the top)
    and it gives up; allowed all of them (``max_share`` 1, hot links within 1%) it certifies in 1
    iteration, but it is then the full LP (518 of 528 columns at Abilene, 1,834 at GEANT): 8-9 ms
    against 3-7 ms warm at Abilene, 29 ms against 6 ms at GEANT. Dropped."""
    op, paths = pb.op, pb.paths
    if op.kind != "links":
        return None
    L = len(pb.cap64)
    cap = pb.cap64 / pb.cscale
    dem = pb.d / pb.dscale
    up = _float64(u)
    flat = x.reshape(-1)

    def crossing(links):
        # the ODs with demand and a share on a path through ``links``
        s = op.slots_on(links)
        mark = np.zeros(op.n_od, dtype=bool)        # a mask, not np.unique: 1 ms -> 0.1 ms at caida-701
        mark[s[flat[s] > 0] % op.n_od] = True
        return np.flatnonzero(mark & (dem > 0))

    R = np.flatnonzero(up >= (1.0 - delta) * up.max())
    F = crossing(R)
    if rows_at > 0:            # more rows from the start, their fixed ODs not freed (yet)
        R = np.flatnonzero(up >= min(rows_at, (1.0 - delta) * up.max()))
    what = "the restricted LP of a warm start"
    for _ in range(max(int(max_rounds), 1)):
        if not len(F) or int(pb.n_use[F].sum()) > min(max_cols, max_share * paths.n_paths):
            return None                                      # the LP's columns, counted before they are built
        cnt = paths.od_ptr[F + 1] - paths.od_ptr[F]
        pth = _ranges(paths.od_ptr[F], cnt)
        od_of = np.repeat(np.arange(len(F)), cnt)
        keep = pb.usable[pth]
        pth, od_of = pth[keep], od_of[keep]
        n_p = len(pth)
        hops = paths.link_ptr[pth + 1] - paths.link_ptr[pth]
        lk = paths.link_idx[_ranges(paths.link_ptr[pth], hops)]
        entry = np.repeat(np.arange(n_p), hops)                  # each link entry's column (path)
        slots = op.slot_of_path[pth]
        w = dem[F][od_of]                                        # each path's OD demand
        wl = w[entry] / cap[lk]                                  # utilisation per unit of split, per entry
        bg = up - np.bincount(lk, weights=flat[slots].astype(np.float64)[entry] * wl, minlength=L)
        row = np.full(L, -1, dtype=np.int64)
        row[R] = np.arange(len(R))
        m = row[lk] >= 0
        # columns: each path (its hot links' rows, then its OD's row: sum of splits = 1), then the MLU
        # (-1 in every link row); rows: load_l + bg_l - U <= 0
        e_col = np.concatenate([entry[m], np.arange(n_p)])
        o = np.argsort(e_col, kind="stable")
        index = np.concatenate([np.concatenate([row[lk[m]], len(R) + od_of])[o], np.arange(len(R))])
        value = np.concatenate([np.concatenate([wl[m], np.ones(n_p)])[o], -np.ones(len(R))])
        start = np.r_[np.searchsorted(e_col[o], np.arange(n_p + 1)), len(index)]
        cost = np.zeros(n_p + 1)
        cost[-1] = 1.0
        h = load_arrays(cost=cost, lower=np.zeros(n_p + 1), upper=np.full(n_p + 1, INF),
                        row_lower=np.r_[np.full(len(R), -INF), np.ones(len(F))],
                        row_upper=np.r_[-bg[R], np.ones(len(F))], start=start, index=index, value=value,
                        options={"solver": "simplex", "presolve": "off"})
        try:
            run(h, what)
            sol = primal(h, what)
            dual = row_duals(h, what)
        except (SolverError, InfeasibleError):
            return None
        xp = np.maximum(sol[:n_p], 0.0)
        un = bg + np.bincount(lk, weights=xp[entry] * wl, minlength=L)
        over = np.flatnonzero(un > sol[-1] * (1.0 + 1e-9))
        over = over[row[over] < 0]
        if len(over) == 0:
            y = np.zeros(L)
            y[R] = np.abs(dual[:len(R)]) / cap[R]            # any prices >= 0 give a valid bound
            tot = float((y * cap).sum())
            yt = _tensor(y / tot if tot > 0 else y, op.device)
            LB, pmin = pb.lower_bound(yt) if tot > 0 else (0.0, None)
            if tot > 0 and float(un.max()) * (1.0 - tol) <= max(LB, lb):
                xr = x.copy()
                xr.reshape(-1)[slots] = xp.astype(np.float32)
                return xr, un, (LB, pmin, yt)
            # the fixed ODs on the binding rows hold the LP above the optimum: free them
            over = np.setdiff1d(crossing(R[dual[:len(R)] != 0]), F)
            if len(over) == 0:
                return None
            F = np.union1d(F, over)
            continue
        R = np.union1d(R, over)
        F = np.union1d(F, crossing(over))          # both sorted
    return None


def _certified_restricted(pb: _Problem, x: np.ndarray, u, *, delta: float, tol: float, lb: float):
    """:func:`_restricted_lp` from ``x`` (utilisations ``u``), certified at once by its duals' bound or
    ``lb`` (a bound known already); when it gives up, once more with every link above 80% of the
    forced-link bound as a row from the start (measured there). (splits and utilisations as
    tensors, (its duals' bound, their per-OD minimum path prices, the prices) for
    :class:`_Bounds`), else None."""
    rlp = _restricted_lp(pb, x, u, delta=delta, tol=tol, lb=lb)
    if rlp is None and pb.lb_forced > 0:
        # again with every link above 80% of the forced-link bound as a row from the start
        rlp = _restricted_lp(pb, x, u, delta=delta, tol=tol, lb=lb, rows_at=0.8 * pb.lb_forced)
    if rlp is None:
        return None
    return _tensor(rlp[0], pb.op.device), _tensor(rlp[1], pb.op.device), rlp[2]


def _start(pb: _Problem, warm: WarmStart | None, *, init_shortest: float, warm_mix: float, warm_tau: float,
           tau_start: float, tau_end: float, tol: float, cold_margin: float = 1e-3, repair_rounds: int = 16,
           relieve_delta: float = 0.0, relieve_passes: int = 3, relieve_rounds: int = 8,
           relieve_stall: float = 0.5, restricted_delta: float = 0.0, cold_relieve: float = 0.0,
           cold_relieve_passes: int = 3):
    """The cold or warm start: (split logits (K, n_od), link weights of the warm routing or None,
    the starting temperature, which start was taken: "cold" or "warm").

    A warm start keeps the warm splits on the usable paths (:func:`_warm_splits`). When some OD
    lost a share to paths no longer usable (a failure), the warm and the cold start (relieved as a cold
    solve's, :func:`_cold_start`) are priced (one links <- paths product each) and the cold one is taken
    when its MLU is lower by more than
    ``cold_margin`` (relative): the solve is then a cold one (cold temperature, no warm link
    weights), never slower than it. Measured (issue 16, the most loaded link failed,
    ``te_warm.md``): on GEANT ``core`` the warm start is 6-15% above the cold one (the failure
    moves the bottleneck: the old optimum's splits load the links that take the failed link's
    traffic) and takes 35/28/14 iterations where the cold solve takes 13/18/11; with the choice,
    13/18/11. Blends of the two (the best convex combination by MLU, an exact line search on the
    link loads) were tried and dropped: on caida-3356 ``core`` a 92% warm blend of lower MLU took 28
    iterations where the warm start takes 10. The choice costs nothing without a failure.

    First (``restricted_delta`` > 0), a failure whose even start the forced links do not certify has
    the ODs on its hot links (within ``restricted_delta`` of the top) re-routed by the restricted
    exact LP of :func:`_restricted_lp`; when that LP's duals certify its routing (``_Start.restricted``,
    its bound offered as ``w_bound``) it is taken and neither the repair nor the cold start is
    priced: the solve is then one iteration. Otherwise (the LP gave up or its routing is not the
    optimum) the start is chosen as below, the LP's cost paid on top (measured in :func:`_restricted_lp`).

    Before the cold start is priced, the lost share is also placed by :func:`_repair` (``repair_rounds``
    parts; 0 = off) and that start kept when its MLU is lower (``_Start.repaired``; no product: its
    utilisations are updated from the even start's over the hit ODs' paths). When only ODs without
    demand (cut off by the failure) lost a share, neither is priced: every OD with demand keeps its
    warm routing (a demand change), and the cold start was never the cheaper one there (issue 16,
    ``te_warm.md``: caida-701/caida-3356 ``hard``/``shifted``; one product and a cold start's
    set-up saved, 5 of 50 ms at caida-3356). Measured with the repair (16 rounds; the most loaded link
    failed, Abilene, GEANT, caida-701, caida-3356 x ``core``/``hard``/``shifted``, 3 matrices each,
    warm iterations): it is taken on 5 of the 36 and changes 4: GEANT ``hard`` matrix 2 31 (the cold
    start) -> 22, caida-701 ``core`` matrix 2 2 -> 1, GEANT ``core`` matrix 2 and caida-3356 ``core``
    matrix 0 unchanged by it alone (10: their certificate waits for the bound LP, see ``lp_first`` of
    :func:`_adam_loop`); 8 rounds took 11 on caida-3356 ``core`` matrix 0 and 24 on GEANT ``hard``.
    On the instances of ``tests/test_fast.py`` (gravity, seeds 0-5, the most loaded link failed)
    it is taken on 8 of 18: germany50 seeds 2/3/4 116/18/21 -> 58/9/13 iterations, Abilene seed 3
    55 -> 44, GEANT seed 2 11 -> 5, none worse.
    A repaired start keeps the failure's step ``lr``: with ``warm_lr`` (0.1) GEANT ``core``/``hard``
    took 8/31 iterations instead of 5/22 and caida-3356 ``core`` matrix 0 13 instead of 5.

    A warm start that kept every OD's share (``relieve_delta`` > 0; a demand change, or a failure
    that only cut off ODs) and that neither the forced links nor the warm link weights certify
    (their bound is priced here, then offered to :class:`_Bounds` instead of at the first
    iteration) is relieved by :func:`_relieve`, up to ``relieve_passes`` passes while each halves
    the excess over the certified level, and that start taken only when it is certified at once."""
    torch = _torch()
    op = pb.op
    w_warm = u0 = w_bound = u0_base = None
    lost = moved = False
    repaired = relieved = restricted = False
    if warm is not None and warm.paths is pb.paths:
        x0, lost_share, scale = _warm_splits(pb, warm, warm_mix)
        lost = lost_share is not None
        xw = x0
        x0 = _tensor(x0, op.device)
        kind = "warm"
        if lost:
            u0 = pb.utilisation(x0)
            U0 = float(u0.max())
            up_w = u0                            # the product the utilisations below are derived from
            # only ODs without demand (cut off by the failure) lost a share: the warm routing of
            # every other OD is intact, a demand change; no repair or cold start to price
            moved = bool((lost_share[pb.d > 0] > 0).any())
            if restricted_delta > 0 and moved and U0 * (1.0 - tol) > pb.lb_forced:
                # the hot links' ODs re-routed by an exact LP; taken only when its duals certify it
                got = _certified_restricted(pb, xw, u0, delta=restricted_delta, tol=tol, lb=pb.lb_forced)
                if got is not None:
                    x0, u0, w_bound = got
                    U0, restricted, u0_base = float(u0.max()), True, up_w
            if U0 * (1.0 - tol) > pb.lb_forced and repair_rounds and moved and not restricted:
                rep = _repair(pb, xw, u0, lost_share, scale, rounds=repair_rounds)
                if rep is not None and float(rep[1].max()) < (1.0 - cold_margin) * U0:
                    x0, u0 = _tensor(rep[0], op.device), _tensor(rep[1], op.device)
                    U0, repaired, u0_base = float(u0.max()), True, up_w
            if U0 * (1.0 - tol) > pb.lb_forced and moved and not restricted:   # not certified yet
                xc, uc, bc, rc = _cold_start(pb, init_shortest, tol=tol, delta=cold_relieve,
                                             passes=cold_relieve_passes, rounds=relieve_rounds)
                if float(uc.max()) < (1.0 - cold_margin) * U0:
                    x0, u0, kind, repaired, u0_base, relieved = xc, uc, "cold", False, bc, rc
        if kind == "warm":
            state = warm.info.get("fast_state") or {}
            if state.get("w") is not None and len(state["w"]) == pb.cap.numel():
                w_warm = torch.as_tensor(np.asarray(state["w"], dtype=np.float32), device=op.device)
            # near the optimum already: start at a lower temperature
            tau_start = max(min(tau_start, warm_tau), tau_end)
        if kind == "warm" and relieve_delta > 0 and not moved:
            if u0 is None:
                u0 = pb.utilisation(x0)          # the first iteration's product, done here
            U0 = float(u0.max())
            up_w = u0
            LB = pb.lb_forced
            if U0 * (1.0 - tol) > LB and w_warm is not None:
                # the warm link weights' bound (the first iteration's, priced here): may certify
                yw = _warm_prices(pb, w_warm)
                w_bound = (*pb.lower_bound(yw), yw)
                LB = max(LB, w_bound[0])
            # water-fill the hot links' shares, pass after pass while each halves the excess over
            # what the bound certifies; kept only when the start is then certified at once
            target = LB / (1.0 - tol)
            xr, ur, Ur = xw, u0, U0
            for _ in range(relieve_passes):
                if Ur <= target:
                    break
                rel = _relieve(pb, xr, ur, delta=relieve_delta, rounds=relieve_rounds)
                if rel is None or float(rel[1].max()) >= (1.0 - cold_margin) * Ur:
                    break
                Un = float(rel[1].max())
                # another pass only while it halves the excess, and costs less than a product (its
                # rounds over the entries against the matrix's non-zeros): at Abilene/GEANT a pass
                # costs 0.9-1.5 ms, 1-5 iterations
                slow = Un - target > relieve_stall * (Ur - target) or rel[2] * relieve_rounds > op.nnz
                xr, ur, Ur = rel[0], rel[1], Un
                if slow:
                    break
            if Ur <= target < U0:
                x0, u0, relieved, u0_base = _tensor(xr, op.device), _tensor(ur, op.device), True, up_w
    else:
        x0, u0, u0_base, relieved = _cold_start(pb, init_shortest, tol=tol, delta=cold_relieve,
                                                passes=cold_relieve_passes, rounds=relieve_rounds)
        kind = "cold"
    theta = None
    if kind == "cold":
        # the first iterate is the cold start itself (its utilisations known); the logits, from it
        theta = torch.log(x0)      # -inf on unused slots
    return _Start(theta, x0, u0, w_warm, tau_start, kind, kind == "warm" and lost, repaired, relieved, w_bound,
                  restricted, u0_base)


@dataclass
class _Start:
    """Where the iterations start: the split logits ``theta`` (K, n_od) and their splits ``x0``
    (the first iterate; a warm start's is the warm point itself, and its logits, ``log(x0)``, are
    taken only before a first step: a warm solve certified at once skips that pass and Adam's
    set-up), the link utilisations of ``x0`` when they were computed to
    choose the start (the first iteration's product then skipped), the warm link weights (or
    None), the starting temperature, "cold" or "warm", and whether the warm routing lost a share
    to unusable paths."""

    theta: Any
    x0: Any
    u0: Any
    w_warm: Any
    tau_start: float
    kind: str
    lost: bool = False      # a warm start whose routing lost a share to unusable paths (a failure)
    repaired: bool = False  # the lost share placed by :func:`_repair` (not spread evenly)
    relieved: bool = False  # the hot links' shares water-filled by :func:`_relieve`
    w_bound: Any = None     # (bound, per-OD minimum prices, prices) of the warm link weights, when priced
    restricted: bool = False  # re-routed by :func:`_restricted_lp` (w_bound: its duals' bound)
    u0_base: Any = None     # the float32 product u0 was derived from when it is not a product of x0 itself
                            # (water-filled or LP utilisations; its error bound: :func:`_derived_err`)


def _tensor(x: np.ndarray, device):
    """A float32 tensor on ``device`` from a NumPy array."""
    return _torch().from_numpy(x.astype(np.float32, copy=False)).to(device)


def _float64(u) -> np.ndarray:
    """A float64 NumPy array from a tensor (on any device) or an array (the inverse of :func:`_tensor`)."""
    if isinstance(u, np.ndarray):
        return u.astype(np.float64, copy=False)
    return u.double().cpu().numpy()


def _lp_clock(device):
    """The clock of the bound LPs' reported seconds (``info["bound_lp_seconds"]``), and of their
    share of the iterations' time on an accelerator: CPU seconds of the process on the CPU (the
    work done, whatever the machine's load), the wall clock on an accelerator (its iterations cost
    the CPU little, the LPs run on the CPU)."""
    return time.process_time if str(device) == "cpu" else time.perf_counter


@dataclass(frozen=True)
class LPCostModel:
    """Modelled CPU seconds of one iteration of :func:`solve_fast` and of one bound LP
    (:func:`tight_dual_bound`), from their sizes: what the LPs' share of the iterations
    (``lp_share``) is counted in on the CPU, instead of a clock, so that the same input always
    gets the same LPs at the same iterations, hence the same routing.

    With the clock (before issue 16's last round), 4 of 18 Abilene/GEANT ladder instances (``core``,
    ``hard``, ``shifted``, 3 matrices each) solved 8 times in a row in one process took 3-4
    different iteration counts each (GEANT ``core`` matrix 0: 35-55) and returned routings
    0.5% apart: the same matrix, another decision.

    Fitted (least squares on relative error, one torch thread, this project's 2-core AMD EPYC
    machine) on 170 solves and 150 LPs of Abilene, GEANT, germany50, caida-701 and caida-3356 x
    ``core``/``hard``/``shifted``. Checked (``benchmarks/lp_cost_model.py``, 45 solves, 3 matrices
    each, ``results/lp_cost_model.md``): the model is 0.75-1.24x an iteration's CPU seconds and
    0.24-1.50x an LP's (median 0.99): HiGHS' pivots vary in cost with the LP's structure, and
    germany50's dense LPs cost up to 4x more than their sizes say; the schedule needs the ratio
    of the two, roughly. 0 of the 45 solves differed over 6 runs each."""

    it_fixed: float = 5.4e-4          #: per iteration (about 30 tensor calls)
    it_nnz: float = 4.2e-9            #: per path-link non-zero (the two products)
    it_slot: float = 1.0e-8           #: per split slot (the dense passes)
    pass_fixed: float = 1.0e-4        #: per indicator product (the links near the top -> ODs that must cross them)
    pass_nnz: float = 5.2e-9          #: ... per path-link non-zero
    lp_fixed: float = 2.4e-3          #: per LP built and solved (its arrays, HiGHS' set-up)
    lp_row: float = 5.5e-7            #: per path row entering the LP (before the rows are merged)
    lp_nnz: float = 2.7e-7            #: per non-zero of the reduced LP
    pivot: float = 1.5e-5             #: per simplex iteration
    pivot_nnz: float = 6.6e-10        #: ... per non-zero of the LP

    def iteration(self, op: "FastOperator") -> float:
        """Modelled seconds of one iteration with the operator ``op``."""
        return self.it_fixed + self.it_nnz * op.nnz + self.it_slot * op.n_od * op.K

    def lp(self, op: "FastOperator", stats: dict, priced: bool = False) -> float:
        """Modelled seconds of one :func:`tight_dual_bound` call, from its ``stats``, and with
        ``priced`` of the bound of its prices (one more product)."""
        cost = (stats.get("passes", 1) + priced) * (self.pass_fixed + self.pass_nnz * op.nnz)
        if "lp_nnz" in stats:
            nnz = stats["lp_nnz"]
            cost += (self.lp_fixed + self.lp_row * stats.get("rows", 0) + self.lp_nnz * nnz
                     + stats.get("simplex", 0) * (self.pivot + self.pivot_nnz * nnz))
        return cost


#: the CPU's cost model of the bound LPs' schedule (see :class:`LPCostModel`)
LP_COST = LPCostModel()


def _warm_prices(pb: _Problem, w_warm):
    """Link prices from the warm link weights (shares of ``sum_l c_l y_l``), normalised to ``sum_l c_l y_l = 1``."""
    yw = w_warm / pb.cap
    return yw / (yw * pb.cap).sum()


@dataclass
class _Bounds:
    """The best certified bound so far and the price candidates tried for it."""

    best_LB: float
    best_y: Any = None
    best_pmin: Any = None                       # per-OD minimum path prices of best_y (float32)
    pending: Any = None                         # warm prices whose bound is not computed yet
    avg_every: int = 0                          # iterations between checks of the averaged prices
    avg_next: int = 0                           # the next iteration that checks them
    ema: dict = field(default_factory=dict)     # decay -> exponential average of the prices
    lp_seconds: float = 0.0                     # seconds of the bound LPs (``clock``; reported)
    lp_cost: float = 0.0                        # their cost in the schedule (``lp_share``), outside ``lp_first``'s
    n_lp: int = 0
    lp_delta: float = 0.1
    lp_last: float = 0.0                        # the cost of the last bound LP (the next one's estimate)
    clock: Any = time.perf_counter              # the clock of lp_seconds (see :func:`_lp_clock`)
    it_cost: float | None = None                # modelled seconds of an iteration (CPU: :data:`LP_COST`);
                                                # None: the LPs' share is counted with ``clock``
    lp_log: list = field(default_factory=list)  # per bound LP: its stats, seconds and cost
    lp_input: tuple = ()                        # (best MLU, delta) of the last bound LP
    LP_DELTA_MAX: ClassVar[float] = 0.3         # the widest link set of the bound LPs (within 30% of the top)

    def lp_affordable(self, iterations: int, since: float, share: float) -> bool:
        """Whether one more bound LP (estimated to cost as much as the last one) keeps all of them
        within ``share`` of the cost of the ``iterations`` so far: modelled on the CPU
        (:class:`LPCostModel`), the seconds of ``clock`` since ``since`` elsewhere."""
        elapsed = iterations * self.it_cost if self.it_cost is not None else self.clock() - since
        return self.lp_cost + self.lp_last <= share * elapsed

    @classmethod
    def start(cls, pb: _Problem, w_warm, dual_ema, lp_delta: float = 0.1, w_bound=None) -> "_Bounds":
        """The forced-link bound, and the bound of the warm routing's link weights when there are any
        (``w_bound`` when :func:`_start` priced it already)."""
        cpu = str(pb.op.device) == "cpu"
        b = cls(pb.lb_forced, lp_delta=lp_delta, clock=_lp_clock(pb.op.device),
                it_cost=LP_COST.iteration(pb.op) if cpu else None)
        yw = None
        if w_bound is not None:
            yw = w_bound[2]
            b.offer(*w_bound)
        elif w_warm is not None:
            yw = _warm_prices(pb, w_warm)
            b.pending = yw
        b.ema = {e: (None if yw is None else yw.clone()) for e in dual_ema}
        return b

    def check_pending(self, pb: _Problem) -> None:
        """The bound of the warm link weights, priced only when the first iteration's bounds leave
        the gap open (a product saved where the forced links or the iterate certify at once)."""
        if self.pending is not None:
            yw, self.pending = self.pending, None
            self.offer(*pb.lower_bound(yw), yw)

    def offer(self, LB: float, pmin, y) -> float:
        """Keep prices ``y`` (with their per-OD minimum path prices ``pmin``, for the certificate)
        when their bound ``LB`` is the best so far; returns ``LB``."""
        if LB > self.best_LB:
            self.best_LB, self.best_pmin, self.best_y = LB, pmin, y
        return LB

    def average(self, y) -> None:
        for e in self.ema:
            self.ema[e] = y.clone() if self.ema[e] is None else self.ema[e].mul_(e).add_(y, alpha=1.0 - e)

    def check_averages(self, pb: _Problem, every: int, it: int) -> None:
        """Averaged prices (they smooth the oscillation of the softmax weights), all in one product.
        (All weight on one link ``j`` would bound the MLU by the demand that must cross ``j`` over
        ``c_j``: never above the forced-link bound, so that candidate is not tried.)

        Checked every ``every`` iterations while they improve the bound, else twice as far apart
        each time (up to 4 ``every``). Measured (issue 16, caida-701 and caida-3356
        ``core``/``hard``/``shifted``, 3 matrices each): they never improved the certificate there (254
        iterations in all with or without them, or with one average instead of two), at 11% of
        an iteration's time (``te_profile.md``)."""
        cap = pb.cap
        best = self.best_LB
        ys = [e / (e * cap).sum() for e in self.ema.values() if e is not None]
        for yc, (lb, pmin) in zip(ys, pb.lower_bounds(ys)):
            self.offer(lb, pmin, yc)
        self.avg_every = every if self.best_LB > best else min(2 * self.avg_every, 4 * every)
        self.avg_next = it + self.avg_every

    def check_lp(self, pb: _Problem, best_u, best_U: float, tol: float) -> None:
        """The bound of :func:`tight_dual_bound` over the links near the top of the best routing so
        far (the current iterate may swing); widens the link set when it falls short."""
        torch = _torch()
        self.lp_input = (best_U, self.lp_delta)
        t_lp = self.clock()
        used = {}
        yl = tight_dual_bound(pb.paths, pb.op, best_u.double().cpu().numpy(), pb.d / pb.dscale,
                              pb.cap64 / pb.cscale, pb.live, delta=self.lp_delta, widen_to=self.LP_DELTA_MAX,
                              stats=used)
        self.lp_delta = max(self.lp_delta, used.get("delta", self.lp_delta))
        self.n_lp += 1
        LBl = -1.0
        if yl is not None:
            yl = torch.from_numpy(yl.astype(np.float32)).to(pb.op.device)
            LBl = self.offer(*pb.lower_bound(yl), yl)
        seconds = self.clock() - t_lp
        self.lp_seconds += seconds
        self.lp_last = LP_COST.lp(pb.op, used, priced=yl is not None) if self.it_cost is not None else seconds
        self.lp_cost += self.lp_last
        self.lp_log.append(dict(used, seconds=seconds, cost=self.lp_last, certified=LBl >= best_U * (1.0 - tol)))
        if LBl < best_U * (1.0 - tol):
            self.lp_delta = min(1.5 * self.lp_delta, self.LP_DELTA_MAX)   # not enough links in the set: widen it


@dataclass
class _Run:
    """What the iterations leave: the best routing seen and why they stopped."""

    best_U: float
    best_x: Any
    iterations: int
    status: str
    history: list
    best_u: Any = None      # float32 utilisations of best_x (scaled), for :func:`_exact_mlu`
    best_base: Any = None   # the product best_u was derived from when not one of best_x (``_Start.u0_base``)


def _adam_loop(pb: _Problem, start: _Start, bounds: _Bounds, *, t0: float, tol: float, max_iter: int, lr: float,
               betas, eps_rel: float, tau_end: float, anneal: int, check_every: int,
               lp_bound_every: int, time_limit: float | None, clock: _Clock | None = None,
               primal_ema: float = 0.0, lp_share: float = 0.25, lp_force_every: int = 10,
               restart_after: int = 0, lp_forced_near: float = 3.0, bound_every: int = 1,
               lp_first: bool = False) -> _Run:
    """Adam on the split logits over the smoothed MLU until the certified gap is ``tol`` (see the
    module notes); every iteration also offers its prices' bound to ``bounds``. With ``lp_first`` (a
    warm start after a failure) the bound LP also runs at iteration ``lp_bound_every`` whether or
    not the best routing has stalled (see ``warm_lp_first`` of :func:`solve_fast`)."""
    torch = _torch()
    op, cap, dd, big = pb.op, pb.cap, pb.dd, pb.big
    theta, x, u0, tau_start = start.theta, start.x0, start.u0, start.tau_start
    flows = torch.empty_like(x)          # (K, n_od) work arrays, reused by every iteration
    masked = torch.empty_like(x)
    best_U, best_x, best_u = float("inf"), x, None
    best_base = u_base = None           # what best_u / u was derived from when not a float32 product (the start's)
    x_avg = None
    # Adam on the logits (one fused pass); its epsilon follows the largest gradient (see eps_rel)
    opt = None                           # Adam on the logits, set up before the first step
    vmax = 0.0
    b2 = betas[1]
    status = "iteration limit"
    history = []
    it = 0
    c0 = bounds.clock()                  # the bound LPs' share of the iterations' time counts from here
    bounds.avg_every = bounds.avg_next = check_every
    it_best = 0
    n_restarts = 0
    if clock is not None:
        clock.lap("set-up")
    while it < max_iter:
        it += 1
        if u0 is not None:          # the start's utilisations, computed to choose it
            u, u0, u_base = u0, None, start.u0_base
        else:
            u_base = None
            torch.mul(x, dd, out=flows)
            if clock is not None:
                clock.lap("flows")
            u = op.loads(flows.view(-1)).div_(cap)
        if clock is not None:
            clock.lap("loads (links <- paths)")
        U_t = u.max()
        if bounds.best_LB > 0:
            U = float(U_t)
            if U * (1.0 - tol) <= bounds.best_LB:
                # certified already (the forced links, or an earlier bound): the prices product and
                # the step are not needed (a one-iteration warm solve then costs one product)
                if U < best_U:
                    best_U, best_x, best_u, best_base = U, x, u, u_base
                history.append((U, float("nan"), best_U, bounds.best_LB))
                status = "converged"
                break
        tau = max(tau_end, tau_start * (tau_end / tau_start) ** min(it / max(anneal, 1), 1.0))
        w = torch.exp((u - U_t) / (tau * U_t))
        y = w.div_((w * cap).sum())
        if clock is not None:
            clock.lap("link prices")
        pr = op.prices(y).view(op.shape)
        if clock is not None:
            clock.lap("prices (paths <- links)")
        if it <= check_every or it % bound_every == 0:
            pmin = torch.add(pr, big, out=masked).amin(dim=0)
            LB_t = torch.dot(dd, pmin)
            U, LB = torch.stack([U_t, LB_t]).tolist()
        else:
            U, LB, pmin = float(U_t), float("nan"), None
        if clock is not None:
            clock.lap("iterate bound")
        if not np.isfinite(U):
            # NaN or inf in the iterates (overflow, a bad device kernel): stop with the best routing
            # seen before it, if any (``_finish`` refuses to return non-finite splits)
            status = "numerical trouble"
            break
        if U < best_U:
            best_U, best_x, best_u, best_base = U, x, u, u_base
            it_best = it
        if primal_ema:
            x_avg = x.clone() if x_avg is None else x_avg.lerp_(x, 1.0 - primal_ema)
        if pmin is not None:
            bounds.offer(LB, pmin, y)
        bounds.average(y)
        if clock is not None:
            clock.lap("bookkeeping")
        if check_every and it >= bounds.avg_next:
            bounds.check_averages(pb, check_every, it)
        if check_every and it % check_every == 0:
            if x_avg is not None:
                u_avg = op.loads(torch.mul(x_avg, dd, out=flows).view(-1)).div_(cap)
                U_avg = float(u_avg.max())
                if U_avg < best_U:
                    best_U, best_x, best_u, best_base = U_avg, x_avg.clone(), u_avg, None
                    it_best = it
            if clock is not None:
                clock.lap("bound checks (averaged prices)")
        # a bound LP every ``lp_bound_every`` iterations once the best routing has stalled (improved
        # by less than ``tol`` since the last chance), at least every ``lp_force_every``; all of them
        # within ``lp_share`` of the iterations' time
        first = lp_first and it == lp_bound_every
        if (lp_bound_every and it % lp_bound_every == 0 and (best_U - bounds.best_LB) > tol * best_U
                and ((len(history) >= lp_bound_every and best_U >= (1.0 - tol) * history[-lp_bound_every][2])
                     or first
                     or (lp_force_every and it % lp_force_every == 0
                         and pb.lb_forced < (1.0 - lp_forced_near * tol) * best_U))
                and bounds.lp_input != (best_U, bounds.lp_delta)     # the same LP again gives the same bound
                and bounds.lp_affordable(it, c0, lp_share)):
            spent = (bounds.lp_cost, bounds.lp_last)
            bounds.check_lp(pb, best_u, best_U, tol)
            if first:
                # outside the LPs' share of the time: the later LPs keep the schedule they had without it
                bounds.lp_cost, bounds.lp_last = spent
            if clock is not None:
                clock.lap("bound LPs")
        if bounds.pending is not None and best_U - bounds.best_LB > tol * best_U:
            bounds.check_pending(pb)
            if clock is not None:
                clock.lap("bound checks (averaged prices)")
        gap = (best_U - bounds.best_LB) / best_U
        history.append((U, LB, best_U, bounds.best_LB))
        if gap <= tol:
            status = "converged"
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            status = "time limit"
            break
        # gradient of the smoothed MLU  tau U log sum_l exp(u_l / (tau U))  in the split logits:
        # d MLU / d x_p = d_k * price_p, then through the per-OD softmax:
        # x_p d_k (price_p - sum_q x_q price_q). Adam is invariant to the constant per-OD factor d_k,
        # so it is left out (every OD moves by its price differences). Dead slots have x = 0.
        t = pr.mul_(x)
        g = torch.addcmul(t, x, t.sum(dim=0), value=-1.0, out=masked)
        gmin, gmax = torch.aminmax(g)
        gmax = max(float(gmax), -float(gmin))
        vmax = b2 * vmax + (1.0 - b2) * gmax * gmax        # bounds max(v) of Adam's second moment
        if opt is None:
            if theta is None:            # a warm start: the logits of the warm point
                theta = torch.log(x)     # -inf on unused slots
            opt = _Adam(theta, lr, betas)
        if clock is not None:
            clock.lap("gradient")
        opt.step(g, eps_rel * (vmax / (1.0 - b2 ** it)) ** 0.5 + 1e-30)
        del t, g, pr
        if clock is not None:
            clock.lap("Adam step")
        if restart_after and it - it_best >= restart_after:
            # the iterates have swung above the best routing for ``restart_after`` iterations: start
            # again from it with half the step and fresh moments
            theta.copy_(torch.log(best_x))
            opt.reset(lr=0.5 * opt.lr)
            it_best = it
            n_restarts += 1
        x = torch.softmax(theta, dim=0)
        if clock is not None:
            clock.lap("softmax")
    if clock is not None:
        clock.lap("bookkeeping")
    return _Run(best_U, best_x, it, status, history, best_u, best_base)


def _derived_err(pb: _Problem, u_product, u_new) -> np.ndarray:
    """An error bound on utilisations ``u_new`` derived in float64 from the float32 product
    ``u_product`` (:func:`_relieve`, :func:`_repair`, :func:`_restricted_lp` add exact float64 changes
    to it), stored in float32: the product's error (:meth:`FastOperator.loads_error`), carried as an
    absolute error, plus the rounding of the result."""
    up = _float64(u_product)
    un = _float64(u_new)
    eps = pb.op.loads_error()
    return eps * up / (1.0 - eps) + 2.0 ** -22 * (np.abs(un) + np.abs(up))


#: the exact MLU is computed over the candidate links' rows only while they hold at most this share of
#: the matrix's non-zeros (else one float64 product over the whole matrix), and from this many
#: non-zeros on (below, the product's few calls cost less: GEANT, 0.13 against 0.28 ms)
EXACT_MLU_MAX_SHARE = 0.25
EXACT_MLU_MIN_NNZ = 50_000


def _exact_mlu(pb: _Problem, xb, run: _Run, r: float) -> float | None:
    """The MLU of splits ``xb`` (float64: ``run.best_x`` normalised per OD, whose float32 sums were
    within ``r`` of 1) in float64, from the rows of only the
    links that can hold the maximum: the float32 utilisations of the best routing (``run.best_u``,
    kept from the iterations) bound each link's exact one within their rounding error, so every
    link whose upper bound is below the largest lower bound is left out; the rest (the links within
    a few 1e-4 of the top, typically a handful) are summed exactly. Path-link operator only; None
    (the caller then runs a float64 product) without those utilisations, or when the candidates'
    rows exceed :data:`EXACT_MLU_MAX_SHARE` of the non-zeros.

    The bound (``u`` = 2^-24): a float32 product sums a link's ``n_l`` non-negative terms, each the
    product of a split and a demand (each a float32 rounding of the float64 value), divided by its
    capacity: within ``(n_l + 8) u / (1 - (n_l + 8) u)`` of the exact value of the float32 splits,
    whatever the order of summation (:meth:`FastOperator.loads_error`); utilisations derived from such a
    product (a water-filled or LP start) carry that product's (:func:`_derived_err`); and the
    splits, normalised per OD in float64, differ from the float32 ones by a factor within ``1 +- r``,
    so a link's exact utilisation is within the same factor of theirs.

    Why (issue 16): the float64 product over the matrix was a third of a one-iteration warm solve
    at caida-3356 (7.4 of 26-33 ms: float64 values are twice the bytes, and above 5e6 non-zeros the
    float64 matrices were rebuilt on every solve); over the candidate links it is a few hundredths of
    a millisecond, and no float64 matrix is built."""
    op = pb.op
    if run.best_u is None:
        return None
    torch = _torch()
    u = _float64(run.best_u)
    eps = op.loads_error()
    if run.best_base is None:
        err = eps * u / (1.0 - eps)
    else:
        err = _derived_err(pb, run.best_base, u)
    if not (np.isfinite(u).all() and np.isfinite(err).all()) or r >= 0.5:
        return None
    lo = float(((u - err) / (1.0 + r)).max())
    cand = np.flatnonzero((u + err) / (1.0 - r) >= lo)
    tptr = op._bw[0]
    rows = tptr[cand + 1].astype(np.int64) - tptr[cand]      # each candidate link's slots
    n_cand = int(rows.sum())
    if n_cand > EXACT_MLU_MAX_SHARE * op.nnz:
        return None
    slots = op.slots_on(cand)
    link = np.repeat(np.arange(len(cand)), rows)
    x = xb.reshape(-1)[torch.from_numpy(slots.astype(np.int64)).to(xb.device)].cpu().numpy()
    load = np.bincount(link, weights=x * (pb.d[slots % op.n_od] / pb.dscale), minlength=len(cand))
    return float((load / (pb.cap64[cand] / pb.cscale)).max())


def _certify(pb: _Problem, run: _Run, bounds: _Bounds, certify: bool):
    """(best splits (n_od, K) float64, MLU, bound), scaled: recomputed in float64 with ``certify``
    (in float32 with a margin above :data:`CERTIFY_F64_MAX_NNZ` non-zeros)."""
    torch = _torch()
    op, cap = pb.op, pb.cap
    xb = run.best_x.double()
    sums = xb.sum(dim=0)
    xb = xb.div_(sums)          # (the sums' distance from 1 is in _exact_mlu's error bound)
    mlu, lb = run.best_U, bounds.best_LB
    best_y, lb_forced = bounds.best_y, pb.lb_forced
    if certify and op.nnz > CERTIFY_F64_MAX_NNZ:
        # float64 copies of the matrices would not fit beside the float32 ones: certify in float32
        # with a margin well above its rounding (sums of non-negative terms, prefix sums in float64)
        mlu = float((op.loads((pb.dd * xb.float()).reshape(-1)) / cap).max()) * (1 + F32_MARGIN)
        if best_y is not None:
            yb = best_y / (best_y * cap).sum()
            lb = max(pb.lower_bound(yb)[0] * (1 - F32_MARGIN), lb_forced)
        else:
            lb = lb_forced
    elif certify:
        dd64 = torch.from_numpy(pb.d / pb.dscale).to(op.device)
        cap_64 = torch.from_numpy(pb.cap64 / pb.cscale).to(op.device)
        mlu = None
        if op.kind == "links" and op.nnz >= EXACT_MLU_MIN_NNZ:
            mlu = _exact_mlu(pb, xb, run, float((sums - 1.0).abs().max()))
        if mlu is None:
            mlu = float((op.loads((dd64 * xb).reshape(-1)) / cap_64).max())
        if best_y is not None:
            if op.kind == "links" and bounds.best_pmin is not None:
                # no product: the per-OD minimum path prices of best_y, kept from the float32
                # product that found it, are sums of at most max_hops non-negative float32 terms
                # (the link prices), each within a relative max_hops * 2^-24 of the exact sum; the
                # normalisation and the demand-weighted sum are redone in float64 and the bound
                # lowered by that relative error (a float64 product over the matrix cost a
                # quarter of a one-iteration warm solve at caida-701)
                lb_p = float((dd64 * bounds.best_pmin.double()).sum() / (best_y.double() * cap_64).sum())
                lb = max(lb_p / (1.0 + (op.max_hops + 1) * 2.0 ** -24), lb_forced)
            else:
                y64 = best_y.double()
                y64 = y64 / (y64 * cap_64).sum()
                p64 = op.prices(y64).reshape(op.shape) + pb.big.double()
                lb = max(float((dd64 * p64.amin(dim=0)).sum()), lb_forced)
        if op.nnz > CERTIFY_KEEP_F64_NNZ:
            op.release(torch.float64)
    return xb, mlu, lb


def _finish(pb: _Problem, run: _Run, bounds: _Bounds, *, certify: bool, setup: float, t0: float,
            t_start: float) -> tuple[np.ndarray, dict]:
    """The splits over all paths and the ``info`` of :func:`solve_fast`, in absolute units."""
    t_iter = time.perf_counter()
    if not np.isfinite(run.best_U):
        raise SolverError(f"the fast solver's iterates became non-finite (NaN or inf) after {run.iterations} "
                          "iteration(s) with no finite routing before; use the 'optimal' policy or check the demands "
                          "and capacities for values far out of range")
    xb, mlu, lb = _certify(pb, run, bounds, certify)
    op, cap, best_y = pb.op, pb.cap, bounds.best_y
    bound = "forced links" if best_y is None or lb <= pb.lb_forced else "prices"
    # warm-start state: the link weights (shares of sum_l c_l y_l) of the best bound
    state_w = None if best_y is None else (best_y * cap / (best_y * cap).sum()).cpu().numpy()
    # unusable slots have logits -inf, so share exactly 0; xb is normalised per OD in float64
    splits = pb.splits_of_paths(xb)
    if not (np.isfinite(splits).all() and np.isfinite(mlu)):
        raise SolverError(f"the fast solver produced non-finite split ratios or MLU (status '{run.status}', "
                          f"{run.iterations} iteration(s)); use the 'optimal' policy or check the demands and "
                          "capacities for values far out of range")
    scale = pb.dscale / pb.cscale
    mlu_abs = mlu * scale
    lb_abs = min(max(lb, 0.0) * scale, mlu_abs)
    info = {"mlu": mlu_abs, "lower_bound": lb_abs, "gap": (mlu_abs - lb_abs) / mlu_abs if mlu_abs > 0 else 0.0,
            "bound": bound, "iterations": run.iterations, "status": run.status, "bound_lps": bounds.n_lp,
            "bound_lp_seconds": bounds.lp_seconds, "bound_lp_log": bounds.lp_log, "setup_seconds": setup,
            "iterate_seconds": t_iter - t0, "solve_seconds": time.perf_counter() - t0,
            "total_seconds": time.perf_counter() - t_start, "device": str(op.device), "operator": op.kind,
            "nnz": op.nnz, "fast_state": {"w": state_w}, "history": run.history}
    return splits, info


def solve_fast(network: Network, paths: PathSet, tm: np.ndarray, *, tol: float = 0.01,
               max_iter: int = 1000, device="auto", warm: WarmStart | None = None, lr: float = 0.2,
               tau_start: float = 0.05, tau_end: float = 0.002, anneal: int = 100,
               betas: tuple[float, float] = (0.9, 0.99), eps_rel: float = 1e-4, dual_ema: tuple[float, ...] = (0.9,),
               init_shortest: float = 0.99, warm_mix: float = 1e-3, warm_tau: float = 0.01, warm_lr: float = 0.1,
               warm_repair: int = 16, warm_lp_first: bool = True, warm_relieve: float = 0.01,
               warm_relieve_passes: int = 3, warm_restricted: float = 0.1, cold_relieve: float = 0.1,
               cold_relieve_passes: int = 3, path_mask: np.ndarray | None = None,
               compressed: bool | None = None, time_limit: float | None = None, check_every: int = 5,
               lp_bound_every: int = 5, lp_share: float = 0.25, lp_delta: float = 0.2, lp_force_every: int = 10,
               restart_after: int = 20, iterate_bound_every: int = 5,
               threads: int | None = None,
               certify: bool = True, profile: dict | None = None,
               primal_ema: float = 0.9) -> tuple[np.ndarray, dict]:
    """Run the first-order method (see module notes); returns (splits over all paths, info).

    Parameters
    ----------
    tol : stop when the certified relative gap is at most this.
    max_iter : iteration limit.
    device : "auto" (CUDA when available), "cpu", "cuda", ...
    warm : a previous routing over the same path set; its splits (mixed with ``warm_mix`` of the
        uniform split, so unused paths can come back), and its link weights when it was computed by
        this function, are the starting point; the temperature then starts at ``warm_tau``. With a
        ``path_mask`` that takes paths the warm routing used, the cold start is taken instead when
        its MLU is lower (``info["start"]`` says which: "warm" or "cold").
    warm_repair : after a failure, the share each OD lost is also placed by a water-filling of
        this many parts over its usable paths (:func:`_repair`), and that start taken when its MLU
        is lower than the even spread's (``info["repaired"]``); 0 = off. See :func:`_start`.
    warm_lp_first : after a failure, a warm start's first bound LP runs at iteration
        ``lp_bound_every`` even while the best routing still improves. The warm link weights are
        then of little use (the failed link, the most loaded, carried their weight) and the warm
        routing is near the new optimum within a few iterations, so the certificate is what waits.
        Measured (issue 16, ``te_warm.md``, the most loaded link failed, CPU seconds, one thread):
        caida-3356 ``core`` matrices 0 and 2 10 -> 5 iterations (0.24 -> 0.14-0.16 s), GEANT ``core``
        matrix 2 10 -> 5; no other of the 36 failure cases changed; on the instances of
        ``tests/test_fast.py`` (gravity, seeds 0-5) GEANT seeds 2 and 5 10 -> 5, germany50 seed 3
        10 -> 9, none worse. That LP is kept out of ``lp_share``: counted in, its cost on a routing
        still 16% above the optimum blocked the one at iteration 10 (germany50 seed 4: 13 -> 25
        iterations). After a +-10% demand change it
        was tried and dropped: the LP at iteration 5 did not certify earlier (Abilene ``core``
        matrix 0: 8 iterations either way, 5.3 -> 8.8 ms; caida-3356 ``core`` matrix 2: 7, 145 ->
        181 ms): there the warm link weights' bound is already within 1% of the optimum.
    warm_relieve, warm_relieve_passes : a warm start that kept every OD's share (a demand change, or
        a failure that only cut off ODs) and that no bound certifies yet has the shares on paths
        crossing links within ``warm_relieve`` (1%) of the top water-filled over each OD's paths,
        up to ``warm_relieve_passes`` times (:func:`_relieve`; a pass after the first only where
        it costs less than a product); taken when that start is then
        certified at once by the warm link weights or the forced links (``info["relieved"]``, which
        also marks a cold start relieved by ``cold_relieve``),
        else the warm start as it was. 0 = off. Measured (issue 16, ``te_warm.md``, CPU seconds,
        one thread): Abilene ``core``/``shifted`` +-10% 5-15 -> 1 iteration on 4 of 6 matrices,
        caida-3356 ``core`` 3/7 -> 1, caida-701 ``hard`` after a failure that only cuts off ODs 2
        -> 1, caida-3356 ``hard`` 2 -> 1; a pass costs 0.9-1.5 ms at Abilene/GEANT (1-5 of their
        iterations), 3-6 ms at caida-3356 (a quarter of one), paid also where it does not certify.
    warm_restricted : after a failure that the forced links do not certify at once, the ODs
        crossing the links within this share (10%) of the top of the warm routing are re-routed by
        a restricted exact LP (the other ODs fixed; rows added where it overloads a link, ODs freed
        on its binding rows while its duals do not certify it, up to 3 LPs of at most 10,000 columns
        and a quarter of the paths, tried twice: :func:`_restricted_lp`), and that routing taken when
        the LP's duals certify it (``info["restricted"]``): then no repair, no cold start and one
        iteration. 0 = off. Measured (issue 16, ``te_warm.md``, CPU seconds, one thread): GEANT
        ``core`` after a failure 0.9/0.8/4.6x -> 1.9/2.8/4.4x, GEANT ``hard`` matrix 2 0.9 ->
        3.0x, caida-3356 ``core`` 6.2/8.2x -> 11.9/18.4x, caida-701 ``core`` matrix 0 1.1 -> 3.5x; where
        it gives up, its LPs are paid (germany50 of ``tests/test_fast.py``: 4-40 ms on 18-58 iterations).
    warm_lr : Adam's step from a warm start when no share was lost to unusable paths (a demand
        change). Adam's first step moves every logit by about ``lr`` whatever its gradient, which
        throws a near-optimal warm point far off: caida-3356 ``core`` matrix 2 after +-10%, MLU
        142.6 -> 183.9 (scaled) in the first step, 40 iterations where the cold solve takes 30;
        with 0.1, 7. Measured (issue 16, Abilene, GEANT, caida-701, caida-3356 x
        ``core``/``hard``/``shifted``, 3 matrices each, warm iterations summed): after +-10% demand,
        158 (0.2) -> 116 (0.1), 127 (0.05); after a failure 128 (0.2) -> 155 (0.1), so a warm start
        after a failure keeps ``lr`` (shares must move off the failed paths' neighbours).
    lr, betas : Adam's step on the split logits and its moment decays.
    eps_rel : Adam's epsilon, relative to the largest gradient (root mean square): logits whose
        gradient is far smaller than that move proportionally less instead of a full step.
    tau_start, tau_end, anneal : the smoothing temperature, relative to the MLU: geometric from
        ``tau_start`` to ``tau_end`` over ``anneal`` iterations, then constant.
    dual_ema : decays of the exponential averages of the link prices whose bounds are checked.
        One (0.9) instead of two (0.8, 0.9): the same iterations (859 and 854 cold, 245 warm, over
        the 36 instances of ``warm_lr``'s measurements) with a one-column product instead of two.
    primal_ema : decay of an exponential average of the splits, whose MLU is checked with the
        dual averages (one extra links <- paths product every ``check_every`` iterations) and kept
        when it beats the iterates (0 = off). Averaging damps the iterates' swings between
        paths near the end. Measured (GEANT ``core``/``shifted``, caida-701 ``core``/``hard``/
        ``shifted``, 3 matrices each, iterations summed): warm starts after a +-10% demand change
        46 -> 32, after the most loaded link fails 100 -> 89; cold solves unchanged (276).
    init_shortest : cold start with this share of each OD on its cheapest usable path and the
        rest spread evenly (networks are usually dimensioned for shortest-path routing, so this
        starts near a feasible routing; the spread lets the other paths grow). 0 = uniform.
    cold_relieve, cold_relieve_passes : the cold start (also the one a failure's warm start is
        priced against) has the shares on links within ``cold_relieve`` (10%) of the top
        water-filled over each OD's paths, up to ``cold_relieve_passes`` passes while each lowers
        the MLU by 2% and the start is not certified (:func:`_cold_start`); 0 = off. Measured
        (issue 16; Abilene, GEANT, caida-701, caida-3356 x ``core``/``hard``/``shifted``/
        ``hard-core`` x 3 matrices, each plain and after its most loaded link fails: 96 cold
        solves, CPU seconds, fastest of 2, one thread, restarts after 10 both ways): 2,098 -> 1,021
        iterations, 12.0 -> 7.9 s. ``hard`` at caida 9-11 -> 1 iteration (120-185 -> 18-85 ms: the
        start is within 0.2% of the forced bound); caida-3356 ``hard-core`` after a failure 38/85 ->
        10/22 iterations (0.63/1.38 -> 0.19/0.36 s); caida-701 ``core`` after its failure 89 -> 19
        (420 -> 114 ms); Abilene ``shifted`` matrix 2 93 -> 55. Slower: caida-3356 ``core`` matrices
        1/2 (266/232 -> 350/513 ms: the relieved routing's hot links are not the optimum's, so the
        first bound LP does not certify and a second, wider one is paid), caida-701 ``core``
        matrices 0/1 (67/59 -> 87/93 ms: 3 passes, 45 ms, save 2-3 iterations), GEANT ``core``
        after a failure 9 -> 12 ms. On ``tests/test_fast.py``'s instances (seeds 0-2) 7 of 9 take
        fewer iterations (Abilene 55/50/33 -> 10/15/21), GEANT seed 0 55 -> 70, germany50 seed 2
        327 -> 550 (both slow tails: Adam creeping from 5% above the optimum); 1,037 iterations in
        all either way. Tried: the first bound LP at iteration 5 after a relieved start (as
        ``warm_lp_first``): 7.7 -> 8.9 s over the 96 (caida-3356 ``hard-core``/``core`` pay it).
    path_mask : (n_paths,) bool, False for paths that may not be used (a failed link): their
        share is forced to 0; every OD with demand needs one usable path.
    check_every : every so many iterations, the bound of the averaged prices (one extra product;
        twice as far apart after a check that did not improve the bound, up to 4 ``check_every``)
        and the MLU of the averaged splits (``primal_ema``).
    iterate_bound_every : the bound of each iteration's own prices (a pass over the splits: the
        per-OD minimum) is computed on every one of the first ``check_every`` iterations, then on
        every ``iterate_bound_every``-th. Measured (issue 16; Abilene, GEANT, caida-701, caida-3356,
        ``core``/``hard``/``shifted``, 3 matrices each, cold, after a failure and after a +-10% demand
        change): the same iterations as with every one (859 cold, 248 warm; a bound of the
        averaged prices or an LP certifies later on), 5% of a caida-701 iteration saved.
    restart_after : when the best routing has not improved for this many iterations, the iterates
        restart from it with half the step and fresh Adam moments (0 = never). Measured (issue 16):
        a warm start after a +-10% demand change on caida-3356 ``core`` (matrix 2) swung 1-2% above
        its best routing for 200 iterations (220 in all, 1.2% gap); with restarts after 20: 40
        iterations; cold solves of abilene/GEANT/caida-701 ``core``/``shifted``, 3 matrices each,
        unchanged but one GEANT matrix (50 -> 45 iterations). Restarts after 10 were tried: from the
        unrelieved cold start caida-3356 ``hard-core`` (5 matrices) 649 -> 485 iterations, but with
        ``cold_relieve`` no gain (1,021 against 1,012 iterations over the 96 solves of its notes) and
        backbone/americas ``core`` 187 -> 286 iterations (48 -> 82 CPU s); a restart after 10 only
        when all of the last 10 iterates were 2% above the best: the same as after 20 on both.
    lp_bound_every, lp_force_every, lp_share, lp_delta : the bound of :func:`tight_dual_bound`
        (a small LP over the links within ``lp_delta`` of the top of the best routing so far)
        every ``lp_bound_every`` iterations while the gap is open, when the best routing improved
        by less than ``tol`` since the last of them or the iteration is a multiple of
        ``lp_force_every`` (that one not while the forced-link bound is within 3 ``tol`` of the best
        routing: the iterates are about to be certified by it; measured on caida-701 and
        caida-3356 ``core``/``hard``/``shifted``, 3 matrices each: the same 254 iterations, 3 of the
        LPs of ``hard``/``shifted`` saved), and only while the LPs take at most ``lp_share`` of the
        iterations' cost (on the CPU modelled from their sizes, :data:`LP_COST`, not the clock: the
        same input gets the same LPs at the same iterations; wall seconds on an accelerator; the
        next LP estimated at the last one's cost), and
        not again on the same best routing with the same ``lp_delta`` (its answer would not change);
        0 = never.
    threads : torch CPU threads for this call (restored afterwards, :func:`torch_threads`);
        default: torch's setting.
    profile : a dict (default None: no timing): wall-clock seconds per phase are added into it
        (the set-up, the forced links, each step of the iteration, the bound checks and LPs, the
        certificate), with ``iterations``. With ``profile={"clock": "cpu"}`` the phases are CPU
        seconds of the process (``time.process_time``: on a shared machine, the work done without
        the time spent descheduled; meaningful with one torch thread). On CUDA each phase waits for
        the device, which slows the solve. The arithmetic is the same as without it (only what depends on the clock, the
        ``time_limit``, and on an accelerator the ``lp_share`` cap on the bound LPs, can see a difference).

    ``info`` holds ``mlu`` (float64 MLU of the returned splits), ``lower_bound`` (certified: no
    routing over these paths has a lower MLU), ``gap`` (``(mlu - lower_bound) / mlu``),
    ``bound`` (which bound certified it: "prices" or "forced links"), ``iterations``,
    ``setup_seconds`` (building the operator, once per path set and device; 0 when cached),
    ``solve_seconds``, ``device``, ``status`` ("converged", "iteration limit", "time limit" or
    "numerical trouble"), ``fast_state`` (the link weights of the best bound, for warm starts), and
    ``bound_lps``, ``bound_lp_seconds``, ``bound_lp_log`` (per bound LP: the ``stats`` of
    :func:`tight_dual_bound`, its seconds, its cost in the schedule and whether it certified).

    ``time_limit`` (seconds, wall clock, the set-up included): the iterations stop when it is
    spent and the best routing seen is returned, certified like any other (its ``gap`` says how far
    from optimal it may be), with ``status`` "time limit"; at least one iteration runs. Non-finite
    iterates stop the iterations the same way ("numerical trouble"); with no finite routing before
    them, or non-finite final splits, :class:`~surgeguard.SolverError` is raised: a routing is never
    built from NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> net = two_paths(); ps = k_shortest_paths(net, k=2)
    >>> tm = np.zeros((net.n_nodes,) * 2); tm[0, -1] = 15e9
    >>> splits, info = solve_fast(net, ps, tm, device="cpu", threads=1)
    >>> round(info["mlu"], 2), info["status"]
    (0.75, 'converged')
    """
    with torch_threads(threads):
        # set-up: the operator (cached per path set and device), the usable paths, the scaled data
        t_start = time.perf_counter()
        paths.check_network(network)
        d = paths.demand(tm)
        dev = resolve_device(device)
        cached = _is_cached(paths, dev, compressed)
        op = get_operator(paths, dev, compressed=compressed)
        setup = 0.0 if cached else op.setup_seconds
        t0 = time.perf_counter()
        usable, n_use, ok_np, base = _usable_slots(paths, op, d, path_mask)
        if not (d > 0).any():
            return base.reshape(-1)[op.slot_of_path], {"mlu": 0.0, "lower_bound": 0.0, "gap": 0.0, "iterations": 0, "status": "converged",
                          "bound": "none", "setup_seconds": setup, "solve_seconds": time.perf_counter() - t0,
                          "device": str(dev), "operator": op.kind}
        clock = None
        if profile is not None:
            cpu = profile.pop("clock", "wall") == "cpu"
            clock = _Clock(profile, op.device, time.process_time if cpu else time.perf_counter)
            if not cpu:
                clock.t = t0
        pb = _Problem.build(network, paths, op, d, usable, n_use, ok_np, base, clock)
        start = _start(pb, warm, init_shortest=init_shortest, warm_mix=warm_mix, warm_tau=warm_tau,
                       tau_start=tau_start, tau_end=tau_end, tol=tol, repair_rounds=warm_repair,
                       relieve_delta=warm_relieve, relieve_passes=warm_relieve_passes,
                       restricted_delta=warm_restricted, cold_relieve=cold_relieve,
                       cold_relieve_passes=cold_relieve_passes)
        bounds = _Bounds.start(pb, start.w_warm, dual_ema, lp_delta, start.w_bound)
        # the loop measures from t0; the set-up before it counts against the limit too
        left = None if time_limit is None else max(float(time_limit) - (t0 - t_start), 0.0)
        run = _adam_loop(pb, start, bounds, t0=t0, tol=tol, max_iter=max_iter,
                         lr=warm_lr if start.kind == "warm" and not start.lost else lr, betas=betas,
                         eps_rel=eps_rel, tau_end=tau_end, anneal=anneal,
                         check_every=check_every, lp_bound_every=lp_bound_every, time_limit=left, clock=clock,
                         lp_share=lp_share, lp_force_every=lp_force_every, restart_after=restart_after,
                         primal_ema=primal_ema, bound_every=iterate_bound_every,
                         lp_first=warm_lp_first and start.kind == "warm" and start.lost)
        out = _finish(pb, run, bounds, certify=certify, setup=setup, t0=t0, t_start=t_start)
        out[1]["start"] = start.kind
        out[1]["repaired"] = start.repaired
        out[1]["relieved"] = start.relieved
        out[1]["restricted"] = start.restricted
        if clock is not None:
            clock.lap("certificate")
            profile["iterations"] = profile.get("iterations", 0) + run.iterations
        return out
