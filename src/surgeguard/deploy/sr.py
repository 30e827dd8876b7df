"""SR-TE policies (RFC 9256) from any :class:`~surgeguard.routing.Routing`: what a head-end runs.

A routing gives each OD pair split ratios over candidate paths. An operator deploys it as Segment
Routing policies: per head-end, endpoint and colour, one candidate path (preference
:data:`PREFERENCE`) holding one or more segment lists with integer weights (weighted ECMP).

**Segment lists** (:func:`compress_path`). A node SID steers a packet from where it is to that node
along the IGP's shortest paths, *spread over all equal-cost ones*. surgeguard uses a node SID for a
stretch ``a .. b`` of a path only when that stretch is the **unique** IGP shortest path from ``a`` to
``b`` (parallel links of equal metric count as distinct paths), so that every segment list pins
exactly one path and the deployed loads are the routing's loads; a stretch inside an IGP ECMP set
is split at the divergence instead. A hop that is not itself the unique shortest path between its
ends (a detour link, one of equal parallel links) takes the link's adjacency SID. The greedy
longest-reach cover is optimal here, because every piece of a unique shortest path is a unique
shortest path. Labels: node SID ``srgb_base + node index`` (SRGB 16000, IOS-XR's default), adjacency
SID ``adjacency_base + link index`` (24000 up); loopbacks ``loopback_base + node index + 1``
(10.255.0.1 up). Segment lists deeper than ``max_sid_depth`` cannot be pushed: they are reported
and their share goes to the OD's other lists (an OD with none left stays on the IGP).

**Which ODs get a policy.** An OD whose splits equal the IGP's ECMP splits
(:func:`surgeguard.routing.shortest.ecmp_splits`) needs none: its traffic follows the IGP; given a
matrix, neither does an OD without traffic (the deployed routings route it on the IGP).
:func:`few_policies` keeps IGP routing for every OD but a few, chosen greedily (each step an LP
moves the bottleneck's largest candidates, the best one is kept) until the MLU is within a target
of the optimum or a number of policies is reached, and reports the curve of MLU against policies.

**Weights** (:func:`quantise`). Hardware spreads a policy over ``slots`` weighted-ECMP entries.
surgeguard writes integer weights that sum to ``slots`` per policy, so what it exports is what the
hardware runs: largest-remainder rounding first, then single-slot moves off the most loaded link
while they lower the MLU, then the integer program (min MLU over integer weights, HiGHS, a few
seconds) where it does better: never worse than largest remainder. The one list per policy that
FRR 8.4 and pola carry is the same problem with one slot. Beside it, the
MLU a device gives when the exact weights are written at full resolution
(:func:`device_slots`: largest remainder over ``slots`` entries, and with ``vendor_drop`` the
behaviour of devices that drop segment lists whose weight is below the average slot, 1/slots of
the policy's total, before spreading).

Formats (JSON, IOS-XR, FRR ``pathd``, pola PCE YAML) live in :mod:`surgeguard.deploy.formats`.

>>> from surgeguard.examples import two_paths
>>> from surgeguard.paths import k_shortest_paths
>>> net = two_paths(); ps = k_shortest_paths(net, k=2)
>>> tm = np.zeros((4, 4)); tm[0, 3] = 15e9
>>> from surgeguard.routing import solve
>>> ex = export_sr(net, solve(net, ps, tm, "optimal"), tm, slots=4)
>>> [(p.headend, p.endpoint, [(sl.weight, sl.labels) for sl in p.segment_lists]) for p in ex.policies]
[('S', 'T', [(2, (16003,)), (2, (16002, 16003))])]
>>> round(ex.mlu["quantised"], 3), round(ex.mlu["igp"], 3)
(0.75, 1.5)
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ..evaluate import evaluate
from ..exceptions import InfeasibleError, InputError, SolverError, ValidationError
from ..network import Network
from ..optimise import highs
from ..paths import PathSet
from ..routing.routing import Routing
from ..routing.shortest import ecmp_splits
from ..validation import Boolean, Interval, NoneOr, Options, check_param

__all__ = ["Segment", "SegmentList", "SrPolicy", "SrExport", "SidPlan", "IgpPaths", "compress_path",
           "device_slots", "quantise", "safe_node_names", "largest_remainder", "few_policies", "export_sr", "routing_from_policies",
           "PREFERENCE", "DEFAULT_COLOR", "SPLIT_TOL"]

#: preference of the one candidate path surgeguard writes per policy
PREFERENCE = 100
#: colour of surgeguard's policies (the intent "minimum MLU")
DEFAULT_COLOR = 100
#: a path whose split is below this carries nothing (it gets no segment list); two routings whose
#: splits differ by less per path route alike (an OD with such splits needs no policy)
SPLIT_TOL = 1e-6
#: branch-and-bound nodes of the weight-rounding integer program (:func:`quantise`)
MILP_MAX_NODES = 2000
#: relative tolerance of equal IGP costs (as :func:`surgeguard.igp.ecmp_routing_matrix`)
RTOL = 1e-9


# ---------------------------------------------------------------------------------------- objects
@dataclass(frozen=True)
class Segment:
    """One SR-MPLS segment (RFC 9256 type A: an MPLS label) and what it names.

    ``kind`` is ``"node"`` (``node`` is the node whose prefix SID it is) or ``"adjacency"``
    (``link`` is the link name, ``node`` its far end, where the packet is after it).
    """

    kind: str
    sid: int
    node: str
    link: str | None = None


@dataclass(frozen=True)
class SegmentList:
    """A segment list of a candidate path: the path it pins (node names), its integer ``weight``
    (slots of the head-end's weighted ECMP) and ``split``, the routing's exact share."""

    segments: tuple[Segment, ...]
    weight: int
    split: float
    path: tuple[str, ...]

    @property
    def labels(self) -> tuple[int, ...]:
        return tuple(s.sid for s in self.segments)

    @property
    def depth(self) -> int:
        return len(self.segments)


@dataclass(frozen=True)
class SrPolicy:
    """An SR policy (RFC 9256): head-end, colour, endpoint; one candidate path of ``preference``
    with weighted segment lists. Addresses are the nodes' loopbacks (:class:`SidPlan`);
    ``single_index`` picks the list that formats with one list per candidate path keep."""

    name: str
    headend: str
    endpoint: str
    color: int
    headend_address: str
    endpoint_address: str
    preference: int
    segment_lists: tuple[SegmentList, ...]
    single_index: int = 0

    @property
    def deployed(self) -> tuple[SegmentList, ...]:
        """The segment lists with a positive weight (a list whose share rounds to no slot is kept,
        with weight 0, only in the JSON document, so that it round-trips)."""
        return tuple(sl for sl in self.segment_lists if sl.weight > 0)

    @property
    def single(self) -> SegmentList:
        """The segment list a format with one list per candidate path keeps (FRR 8.4 ``pathd``,
        pola): chosen by :func:`export_sr` to keep the MLU low (:func:`quantise` with one slot: the
        heaviest list, then moves off the most loaded link)."""
        return self.segment_lists[self.single_index]


@dataclass(frozen=True, eq=False)
class SrExport:
    """SR policies for one routing, and what deploying them costs.

    Attributes
    ----------
    network : the network.
    policies : the policies, by head-end then endpoint.
    mlu : MLU (on the matrix given) of ``routing`` (the input), ``igp`` (no policy at all),
        ``expressible`` (paths deeper than the SID limit removed), ``quantised`` (the exported
        integer weights), ``device_exact_weights`` (the exact splits written at full resolution, as
        a device spreads them over its slots, see :func:`device_slots`) and ``single_list`` (one
        segment list per policy, :attr:`SrPolicy.single`: FRR 8.4 ``pathd`` and pola express no
        more); None values without a matrix.
    unexpressible : one row per path with traffic whose segment list is deeper than the limit:
        src, dst, path, depth, split.
    routings : the deployed routings over the same paths: ``expressible``, ``quantised``,
        ``single_list``, ``igp``.
    curve : for :func:`few_policies` routings, the MLU after each added policy (columns
        n_policies, src, dst, mlu); None otherwise.
    params : the export's parameters (color, max_sid_depth, slots, vendor_drop, SID plan).
    """

    network: Network
    policies: tuple[SrPolicy, ...]
    mlu: dict
    unexpressible: pd.DataFrame
    routings: dict
    curve: pd.DataFrame | None
    params: dict
    info: dict = field(default_factory=dict)

    @property
    def n_policies(self) -> int:
        return len(self.policies)

    def headends(self) -> list[str]:
        """Head-ends with at least one policy, in the network's node order."""
        have = {p.headend for p in self.policies}
        return [n for n in self.network.node_names if n in have]

    def sid_depths(self) -> np.ndarray:
        """Depth (number of SIDs) of every deployed segment list (weight > 0)."""
        return np.array([sl.depth for p in self.policies for sl in p.deployed], dtype=np.int64)

    def frame(self) -> pd.DataFrame:
        """One row per segment list (weight 0 included): policy, headend, endpoint, color, weight, split,
        depth, labels, path."""
        rows = [{"policy": p.name, "headend": p.headend, "endpoint": p.endpoint, "color": p.color,
                 "weight": sl.weight, "split": sl.split, "depth": sl.depth,
                 "labels": " ".join(map(str, sl.labels)), "path": "-".join(sl.path)}
                for p in self.policies for sl in p.segment_lists]
        return pd.DataFrame(rows, columns=["policy", "headend", "endpoint", "color", "weight", "split", "depth",
                                           "labels", "path"])

    def summary(self) -> dict:
        """Plain numbers for JSON and reports."""
        d = self.sid_depths()
        return {"network": self.network.name, "policies": self.n_policies, "headends": len(self.headends()),
                "segment_lists": int(len(d)), "max_depth": int(d.max()) if len(d) else 0,
                "depth_histogram": {int(k): int(v) for k, v in zip(*np.unique(d, return_counts=True))},
                "unexpressible_paths": int(len(self.unexpressible)),
                "unexpressible": self.unexpressible.to_dict(orient="records"), "mlu": dict(self.mlu),
                "params": dict(self.params),
                "policies_curve": None if self.curve is None else self.curve.to_dict(orient="list")}


# ---------------------------------------------------------------------------------------- SIDs
@dataclass(frozen=True)
class SidPlan:
    """The labels and loopbacks of a network: node SID ``srgb_base + i``, adjacency SID
    ``adjacency_base + l``, loopback ``loopback_base + i + 1`` (node index ``i``, link index ``l``).

    >>> from surgeguard.examples import triangle
    >>> plan = SidPlan(); plan.node_sid(2), plan.adjacency_sid(5), plan.address(0)
    (16002, 24005, '10.255.0.1')
    """

    srgb_base: int = 16000
    adjacency_base: int = 24000
    loopback_base: str = "10.255.0.0"

    def node_sid(self, i: int) -> int:
        return int(self.srgb_base + i)

    def adjacency_sid(self, link: int) -> int:
        return int(self.adjacency_base + link)

    def address(self, i: int) -> str:
        return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address(self.loopback_base)) + int(i) + 1))

    def check(self, network: Network) -> None:
        """Labels must stay in the MPLS range and apart; loopbacks must exist."""
        n, m = network.n_nodes, network.n_links
        for what, lo, hi in (("srgb_base", self.srgb_base, self.srgb_base + n),
                             ("adjacency_base", self.adjacency_base, self.adjacency_base + m)):
            if lo < 16 or hi > 1_048_575:
                raise ValidationError(f"The {what!r} parameter of SidPlan must leave labels {lo}..{hi - 1} inside "
                                      f"the MPLS range 16..1048575. Got {lo} instead.")
        a = (self.srgb_base, self.srgb_base + n)
        b = (self.adjacency_base, self.adjacency_base + m)
        if a[0] < b[1] and b[0] < a[1]:
            raise ValidationError(f"node SIDs {a[0]}..{a[1] - 1} and adjacency SIDs {b[0]}..{b[1] - 1} overlap; "
                                  "move srgb_base or adjacency_base apart")
        try:
            ipaddress.IPv4Address(int(ipaddress.IPv4Address(self.loopback_base)) + n)
        except (ipaddress.AddressValueError, ValueError):
            raise ValidationError(f"loopback_base {self.loopback_base!r} leaves no IPv4 address for {n} nodes; "
                                  "give an address such as 10.255.0.0") from None

    def as_dict(self) -> dict:
        return {"srgb_base": self.srgb_base, "adjacency_base": self.adjacency_base,
                "loopback_base": self.loopback_base}


class IgpPaths:
    """IGP shortest-path distances ``D[a, b]`` and the number of shortest paths ``count[a, b]``
    (parallel links of equal metric are distinct paths) on ``network.metric``.

    >>> from surgeguard.examples import ring
    >>> igp = IgpPaths(ring(4)); int(igp.count[0, 2]), int(igp.count[0, 1])
    (2, 1)
    """

    def __init__(self, network: Network, rtol: float = RTOL):
        self.network, self.rtol = network, rtol
        n = network.n_nodes
        src, dst, w = network.src, network.dst, network.metric.astype(float)
        order = np.lexsort((w, dst, src))
        s_, d_, w_ = src[order], dst[order], w[order]
        first = np.ones(len(order), bool)
        first[1:] = (s_[1:] != s_[:-1]) | (d_[1:] != d_[:-1])
        W = sp.csr_matrix((w_[first], (s_[first], d_[first])), shape=(n, n))
        self.D = dijkstra(W, directed=True)
        # count[a, b]: shortest paths a -> b, by increasing distance from a
        count = np.zeros((n, n))
        np.fill_diagonal(count, 1.0)
        for a in range(n):
            da = self.D[a]
            tight = np.isfinite(da[src]) & self._eq(da[src] + w, da[dst])
            ts, td = src[tight], dst[tight]
            for v in np.argsort(da, kind="stable"):
                if v == a or not np.isfinite(da[v]):
                    continue
                count[a, v] = count[a, ts[td == v]].sum()
        self.count = count

    def _eq(self, x, y):
        return np.abs(x - y) <= self.rtol * np.maximum(1.0, np.abs(y))

    def unique_shortest(self, a: int, b: int, cost: float) -> bool:
        """Whether a path from ``a`` to ``b`` of IGP ``cost`` is the one IGP shortest path."""
        return bool(self._eq(cost, self.D[a, b]) and self.count[a, b] == 1)

    def shortest_links(self, a: int, b: int) -> list[int]:
        """The links of the unique shortest path ``a -> b``; :class:`InputError` if it is not unique."""
        net = self.network
        if a == b:
            return []
        if not np.isfinite(self.D[a, b]) or self.count[a, b] != 1:
            raise InputError(f"a node SID from {net.node_names[a]} to {net.node_names[b]} does not pin one path "
                             f"({int(self.count[a, b])} IGP shortest paths); the segment list does not match "
                             "this network's metrics")
        links, x = [], a
        w = net.metric.astype(float)
        while x != b:
            out = np.flatnonzero((net.src == x) & self._eq(w + self.D[net.dst, b], self.D[x, b]))
            links.append(int(out[0]))
            x = int(net.dst[out[0]])
        return links


def compress_path(network: Network, igp: IgpPaths, links, plan: SidPlan = SidPlan()) -> tuple[Segment, ...]:
    """The shortest segment list that pins the path ``links`` (link indices in travel order).

    From each position the farthest node reached by a unique IGP shortest path takes its node
    SID; a hop that is not one takes the link's adjacency SID (see the module notes).

    >>> from surgeguard.examples import two_paths
    >>> net = two_paths(); igp = IgpPaths(net)
    >>> [s.sid for s in compress_path(net, igp, net.link_ids(["S->A", "A->T"]))]
    [16003]
    >>> [s.sid for s in compress_path(net, igp, net.link_ids(["S->B", "B->T"]))]
    [16002, 16003]
    """
    links = [int(l) for l in links]
    src, dst, w = network.src, network.dst, network.metric.astype(float)
    nodes = [int(src[links[0]])] + [int(dst[l]) for l in links]
    prefix = np.concatenate([[0.0], np.cumsum(w[links])])
    names = network.node_names
    out, i, k = [], 0, len(links)
    while i < k:
        j = i
        while j < k and igp.unique_shortest(nodes[i], nodes[j + 1], prefix[j + 1] - prefix[i]):
            j += 1
        if j == i:  # the hop itself is not the unique shortest path: its adjacency SID
            l = links[i]
            out.append(Segment("adjacency", plan.adjacency_sid(l), names[nodes[i + 1]], network.link_names[l]))
            i += 1
        else:
            out.append(Segment("node", plan.node_sid(nodes[j]), names[nodes[j]]))
            i = j
    return tuple(out)


# ---------------------------------------------------------------------------------------- weights
def largest_remainder(share: np.ndarray, slots: int) -> np.ndarray:
    """Integers summing to ``slots`` closest to ``share * slots`` (``share`` sums to 1): floors,
    then one more to the largest remainders (first index on ties).

    >>> largest_remainder(np.array([0.5, 0.3, 0.2]), 4).tolist()
    [2, 1, 1]
    """
    share = np.asarray(share, dtype=float)
    x = share / share.sum() * slots
    q = np.floor(x + 1e-12).astype(np.int64)
    rest = int(slots - q.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(x)), -(x - q)))
        q[order[:rest]] += 1
    return q


def device_slots(share: np.ndarray, slots: int, vendor_drop: bool = False) -> np.ndarray:
    """The slots a device gives segment lists configured with weights proportional to ``share``:
    largest remainder over ``slots`` entries; with ``vendor_drop``, lists whose weight is below the
    average slot (a share below ``1 / slots``) are dropped first (the largest is always kept).

    >>> device_slots(np.array([0.7, 0.2, 0.1]), 8).tolist(), device_slots(np.array([0.7, 0.2, 0.1]), 8, True).tolist()
    ([6, 1, 1], [6, 2, 0])
    """
    share = np.asarray(share, dtype=float)
    keep = share > 0
    if vendor_drop:
        keep &= share >= 1.0 / slots - 1e-12
        if not keep.any():
            keep[int(np.argmax(share))] = True
    out = np.zeros(len(share), np.int64)
    out[keep] = largest_remainder(share[keep], slots)
    return out


def quantise(network: Network, paths: PathSet, splits: np.ndarray, tm: np.ndarray | None, groups: list[np.ndarray],
             slots: int, *, max_moves: int | None = None, milp_seconds: float | None = 5.0) -> tuple[np.ndarray, dict]:
    """Integer weights (slots) per path for the policy ``groups`` (each an array of path indices of
    one OD, summing to ``slots``), chosen so the MLU moves as little as possible.

    Start: largest remainder per group. Then, while it lowers the MLU (or keeps it and unloads a
    link at the maximum), move one slot of one policy from a list crossing the most loaded link to
    a list of the same policy that avoids it, taking the best such move each time. Then (unless
    ``milp_seconds`` is None) the integer program itself, min MLU over integer weights summing to
    ``slots`` per policy, solved by HiGHS within :data:`MILP_MAX_NODES` branch-and-bound nodes (and
    ``milp_seconds``, a guard against a slow machine); its answer is kept when it is better (so the result is never worse than the descent, and optimal when HiGHS proves it).
    Paths outside the groups keep ``splits`` (the IGP's share, or a policy without traffic).
    Without a matrix the result is largest remainder. Returns the (n_paths,) weights (0 outside
    the groups) and facts (``moves``, ``mlu_largest_remainder``, ``mlu_descent``, ``mlu``,
    ``method``: ``largest-remainder``, ``descent`` or ``milp`` (with ``milp_status``)).
    """
    w = np.zeros(paths.n_paths, np.int64)
    for g in groups:
        w[g] = largest_remainder(splits[g], slots)
    facts = {"moves": 0}
    if tm is None or not groups:
        return w, facts
    d = paths.demand(tm)
    cap = network.capacity
    in_group = np.zeros(paths.n_paths, bool)
    for g in groups:
        in_group[g] = True
    R = paths.incidence
    base = R @ np.where(in_group, 0.0, splits * d[paths.path_od])
    cols = np.concatenate(groups)
    Rg = R[:, cols].toarray()  # (L, n_group_paths)
    unit = np.concatenate([np.full(len(g), d[paths.path_od[g[0]]] / slots) for g in groups])  # bit/s per slot
    load = base + Rg @ (w[cols] * unit)
    util = load / cap
    facts["mlu_largest_remainder"] = float(util.max(initial=0.0))
    max_moves = max_moves if max_moves is not None else 20 * len(cols) + 100
    gid = np.concatenate([np.full(len(g), k) for k, g in enumerate(groups)])
    starts = np.concatenate([[0], np.cumsum([len(g) for g in groups])])
    for _ in range(max_moves):
        top = float(util.max())
        at_top = util >= top * (1 - 1e-12)
        l_star = int(np.argmax(util))
        cross = Rg[l_star] > 0
        best = None
        for a in np.flatnonzero(cross & (w[cols] > 0) & (unit > 0)):
            k = gid[a]
            for b in range(starts[k], starts[k + 1]):
                if cross[b]:
                    continue
                new = (load + unit[a] * (Rg[:, b] - Rg[:, a])) / cap
                key = (float(new.max()), int((new >= top * (1 - 1e-12)).sum()))
                if best is None or key < best[0]:
                    best = (key, a, b)
        if best is None:
            break
        (new_top, n_top), a, b = best
        if not (new_top < top * (1 - 1e-12) or (new_top <= top and n_top < int(at_top.sum()))):
            break
        load = load + unit[a] * (Rg[:, b] - Rg[:, a])
        util = load / cap
        w[cols[a]] -= 1
        w[cols[b]] += 1
        facts["moves"] += 1
    facts["mlu"] = facts["mlu_descent"] = float(util.max(initial=0.0))
    facts["method"] = "descent" if facts["moves"] else "largest-remainder"
    if milp_seconds is not None and facts["mlu"] > 0:
        try:
            wm, um, status = _quantise_milp(Rg, unit, base, cap, starts, slots, milp_seconds)
        except (SolverError, InfeasibleError) as exc:  # no integer point in time: the descent stands
            facts["milp_status"] = str(exc)
        else:
            facts["milp_status"] = status
            if um < facts["mlu"] * (1 - 1e-9):
                w[cols] = wm
                facts.update(mlu=float(((base + Rg @ (wm * unit)) / cap).max()), method="milp")
    return w, facts


def _quantise_milp(Rg: np.ndarray, unit: np.ndarray, base: np.ndarray, cap: np.ndarray, starts: np.ndarray,
                   slots: int, seconds: float) -> tuple[np.ndarray, float, str]:
    """min U over integer slots ``w`` (one block of columns per policy, ``starts`` its offsets)
    with ``sum w = slots`` per policy and ``base + Rg (w * unit) <= U cap``; through
    :mod:`surgeguard.optimise.highs` with a time limit (a feasible point is accepted)."""
    n_w, L = Rg.shape[1], Rg.shape[0]
    n_g = len(starts) - 1
    c0 = float(cap.mean())
    scale = max(float(((base + Rg @ (unit * slots)) / cap).max()), 1e-12)
    A_link = Rg * (unit / (c0 * scale))[None, :]
    A_group = np.zeros((n_g, n_w))
    for k in range(n_g):
        A_group[k, starts[k]:starts[k + 1]] = 1.0
    A = sp.vstack([sp.csr_matrix(np.hstack([A_group, np.zeros((n_g, 1))])),
                   sp.csr_matrix(np.hstack([A_link, -(cap / c0)[:, None]]))]).tocsc()
    lp = highs.build_lp(cost=np.concatenate([np.zeros(n_w), [1.0]]), lower=np.zeros(n_w + 1),
                        upper=np.concatenate([np.full(n_w, float(slots)), [highs.INF]]),
                        row_lower=np.concatenate([np.full(n_g, float(slots)), np.full(L, -highs.INF)]),
                        row_upper=np.concatenate([np.full(n_g, float(slots)), -base / (c0 * scale)]),
                        matrix=A, integer=n_w)
    # a node limit first, so that the same inputs give the same weights on any machine; the time
    # limit only guards against a slow one
    h = highs.load(lp, highs.solver_options(time_limit=seconds, mip_rel_gap=1e-6, mip_max_nodes=MILP_MAX_NODES))
    what = f"the weight-rounding MILP ({n_g} policies, {slots} slots each)"
    status = highs.run(h, what, accept_feasible=True)
    x = highs.primal(h, what)
    w = np.rint(x[:n_w]).astype(np.int64)
    for k in range(n_g):  # integral within HiGHS' tolerance: repair a sum the rounding moved
        blk = slice(starts[k], starts[k + 1])
        w[blk][np.argmax(w[blk])] += slots - int(w[blk].sum())
    return w, float(((base + Rg @ (w * unit)) / cap).max()), status


# ---------------------------------------------------------------------------------------- few policies
#: the utilisation levels (times the goal) above which :func:`few_policies` charges a link (the
#: second criterion after the MLU: a convex piecewise-linear cost; one level, the goal itself, gave
#: the fewest policies on the benchmark cases)
PENALTY_LEVELS = (1.0,)


def _penalty(util: np.ndarray, theta: float) -> float:
    """sum over links and levels of the utilisation above ``level * theta``."""
    return float(sum(np.clip(util - lv * theta, 0.0, None).sum() for lv in PENALTY_LEVELS))


def _partial_lp(network: Network, paths: PathSet, d: np.ndarray, free: np.ndarray, base_load: np.ndarray,
                theta: float = 0.0, eps: float = 0.0, *, u_cost: float = 1.0, u_max: float | None = None,
                path_cost: np.ndarray | None = None):
    """The LP of :func:`few_policies`: the free ODs' demand routed on their paths, the others' load
    ``base_load`` fixed; minimise ``U + eps * sum z`` subject to ``load_l <= U c_l`` and, for each
    level ``v`` of :data:`PENALTY_LEVELS`, ``load_l <= (v theta + z_vl) c_l`` (``z >= 0``).

    With ``u_cost=0``, ``u_max`` (an MLU) and ``path_cost`` (per path of the free ODs, per bit/s of
    flow, as a fraction of the OD's demand) it minimises the cost of the flows instead, keeping the
    MLU at most ``u_max``.

    Returns ``(U, penalty = sum z, path indices, their splits)``. Built and solved through
    :mod:`surgeguard.optimise.highs`, in units of ``c0 * scale`` so that U is of order 1."""
    cap = network.capacity.astype(float)
    c0 = float(cap.mean())
    ods = np.flatnonzero(free)
    pidx = np.concatenate([np.arange(paths.od_ptr[k], paths.od_ptr[k + 1]) for k in ods])
    n_x, n_od, L, V = len(pidx), len(ods), network.n_links, len(PENALTY_LEVELS)
    Rsub = paths.incidence[:, pidx]
    row_of_od = np.full(paths.n_od, -1)
    row_of_od[ods] = np.arange(len(ods))
    A_od = sp.csr_matrix((np.ones(n_x), (row_of_od[paths.path_od[pidx]], np.arange(n_x))), shape=(n_od, n_x))
    neg_cap = sp.diags(-cap / c0)
    # rows: OD, U rows, one block per level; columns: paths, U, z (one block of L per level)
    blocks = [[A_od, None] + [None] * V, [Rsub, sp.csr_matrix((-cap / c0)[:, None])] + [None] * V]
    for v in range(V):
        blocks.append([Rsub, None] + [neg_cap if j == v else None for j in range(V)])
    A = sp.bmat(blocks, format="csc")
    scale = max(float((base_load / cap).max(initial=0.0)), float(d[ods].sum() / c0), 1e-12)
    rhs = d[ods] / (c0 * scale)
    row_upper = np.concatenate([rhs, -base_load / (c0 * scale)]
                               + [(lv * theta * cap - base_load) / (c0 * scale) for lv in PENALTY_LEVELS])
    n_col = n_x + 1 + V * L
    flow_cost = np.zeros(n_x) if path_cost is None else np.asarray(path_cost, float) * scale * c0 / np.maximum(
        d[paths.path_od[pidx]], 1e-300)  # per unit of x = bit/s / (c0 scale), as a share of the OD's demand
    upper = np.full(n_col, highs.INF)
    if u_max is not None:
        upper[n_x] = u_max / scale
    lp = highs.build_lp(cost=np.concatenate([flow_cost, [u_cost], np.full(V * L, eps)]), lower=np.zeros(n_col),
                        upper=upper,
                        row_lower=np.concatenate([rhs, np.full((1 + V) * L, -highs.INF)]), row_upper=row_upper,
                        matrix=A)
    h = highs.load(lp, highs.solver_options("simplex"))
    what = f"the few-policies LP ({n_od} OD pairs with a policy)"
    highs.run(h, what)
    sol = highs.primal(h, what)
    x = np.clip(sol[:n_x], 0.0, None)
    return float(sol[n_x]) * scale, float(np.clip(sol[n_x + 1:], 0.0, None).sum()) * scale, pidx, x


def few_policies(network: Network, paths: PathSet, tm: np.ndarray, *, max_policies: int | None = None,
                 target_gap: float | None = None, reference_mlu: float | None = None, candidates: int = 8,
                 policy: str = "few-policies") -> tuple[Routing, pd.DataFrame]:
    """IGP routing for every OD pair but a few, which get SR policies, chosen greedily.

    ``theta`` is the goal: ``reference_mlu`` (the optimum; by default the LP with every OD free)
    times ``1 + target_gap``. Each step ranks the ODs without a policy by their traffic on the
    links above ``theta`` (weighted by those links' utilisation; if none of them helps, by their
    traffic on the links within 20% of the MLU, twice as many; then, without a target, every OD with
    traffic and two paths or more), and for the first ``candidates``
    solves the LP in which the ODs with a policy (and it) may use any of their candidate paths
    while every other OD keeps its IGP (ECMP) split, minimising the MLU and then the total
    utilisation above ``theta`` (:func:`_partial_lp`): an OD that relieves one of several equally
    loaded links counts. The best (MLU, then excess) is kept if it improves either. It stops after
    ``max_policies`` policies, at the goal, or when no candidate helps; in the last case, with a
    target, ODs that must move together are added by :func:`_reach_goal` (an LP that reaches the
    goal moving the least traffic off the IGP's paths, then backward elimination).

    Returns the routing (``info``: ``mlu``, ``policies`` (OD indices in the order chosen),
    ``reference_mlu``) and the curve: one row per number of policies (0: IGP) with the OD added
    and the MLU.
    """
    owner = "few_policies"
    check_param(owner, "max_policies", max_policies, [NoneOr(), Interval(int, 0, None)])
    check_param(owner, "target_gap", target_gap, [NoneOr(), Interval(float, 0, None)])
    check_param(owner, "candidates", candidates, [Interval(int, 1, None)])
    paths.check_network(network)
    t0 = time.perf_counter()
    d = paths.demand(tm)
    igp = ecmp_splits(network, paths)
    if reference_mlu is None:
        reference_mlu = _partial_lp(network, paths, d, d > 0, np.zeros(network.n_links))[0]
    theta = reference_mlu * (1 + (target_gap or 0.0))
    limit = int((d > 0).sum()) if max_policies is None else max_policies
    eps = 1e-3 / max(network.n_links * len(PENALTY_LEVELS), 1)
    splits = igp.copy()
    R, cap = paths.incidence, network.capacity
    free = np.zeros(paths.n_od, bool)
    chosen: list[int] = []
    load = R @ (splits * d[paths.path_od])
    util = load / cap
    mlu = float(util.max(initial=0.0))
    excess = _penalty(util, theta)
    rows = [{"n_policies": 0, "src": "", "dst": "", "mlu": mlu}]
    names = paths.node_names
    while len(chosen) < limit and (target_gap is None or mlu > theta * (1 + 1e-9)):
        # tier 1: ODs on the links above the goal; tier 2 (when none helps): ODs on links within 20%
        # of the MLU, whose move can make room on the alternatives of the first; tier 3: every OD
        # (with a target, :func:`_reach_goal` replaces tier 3: it finds ODs that must move together)
        tiers = [np.clip(util - theta, 0.0, None) * util, np.where(util >= 0.8 * mlu, util, 0.0), np.ones_like(util)]
        if target_gap is not None:
            tiers = tiers[:2]
        tried: set[int] = set()
        step = None
        for tier, weight in enumerate(tiers):
            per_od = np.bincount(paths.path_od, weights=(R.T @ weight) * splits * d[paths.path_od],
                                 minlength=paths.n_od)
            per_od[free | (paths.paths_per_od < 2)] = 0.0
            per_od[list(tried)] = 0.0
            n_cand = (candidates, 2 * candidates, paths.n_od)[tier]
            cand = [int(k) for k in np.argsort(-per_od, kind="stable")[:n_cand] if per_od[k] > 0]
            best = None
            for k in cand:
                tried.add(k)
                trial = free.copy()
                trial[k] = True
                base = R @ np.where(trial[paths.path_od], 0.0, splits * d[paths.path_od])
                u, z, pidx, x = _partial_lp(network, paths, d, trial, base, theta, eps)
                if best is None or (u, z) < best[:2]:
                    best = (u, z, k, pidx, x)
            if best is None:
                continue
            u, z, k, pidx, x = best
            new = splits.copy()
            new[pidx] = x
            new = paths.normalise(np.where((free | (np.arange(paths.n_od) == k))[paths.path_od], new, igp),
                                  fallback=igp)
            new_load = R @ (new * d[paths.path_od])
            new_util = new_load / cap
            new_mlu = float(new_util.max(initial=0.0))
            new_excess = _penalty(new_util, theta)
            if new_mlu < mlu * (1 - 1e-9) or (new_mlu <= mlu * (1 + 1e-12) and new_excess < excess * (1 - 1e-6)):
                step = (k, new, new_load, new_util, new_mlu, new_excess)
                break
        if step is None:
            break
        k, new, new_load, new_util, new_mlu, new_excess = step
        free[k] = True
        chosen.append(k)
        splits, load, util, mlu, excess = new, new_load, new_util, new_mlu, new_excess
        rows.append({"n_policies": len(chosen), "src": names[paths.od_src[k]], "dst": names[paths.od_dst[k]],
                     "mlu": mlu})
    if target_gap is not None and mlu > theta * (1 + 1e-9) and len(chosen) < limit:
        more = _reach_goal(network, paths, d, igp, free, theta, eps)
        for k, new in more[:limit - len(chosen)]:
            free[k] = True
            chosen.append(k)
            splits = new
            mlu = float(((R @ (splits * d[paths.path_od])) / cap).max(initial=0.0))
            rows.append({"n_policies": len(chosen), "src": names[paths.od_src[k]], "dst": names[paths.od_dst[k]],
                         "mlu": mlu})
    routing = Routing(paths, splits, policy, {"mlu": mlu, "policies": chosen, "reference_mlu": float(reference_mlu),
                                              "solve_seconds": time.perf_counter() - t0})
    return routing, pd.DataFrame(rows, columns=["n_policies", "src", "dst", "mlu"])


def _reach_goal(network: Network, paths: PathSet, d: np.ndarray, igp: np.ndarray, free: np.ndarray, theta: float,
                eps: float) -> list[tuple[int, np.ndarray]]:
    """Where adding one OD at a time stalls above the goal ``theta`` (relieving one link needs two
    ODs to move together): the LP over every OD that keeps the MLU at ``theta`` while moving the
    least traffic off the IGP's paths, then backward elimination of the ODs it moves (least moved
    first: dropped when the others still reach ``theta``). Returns the ODs kept, most moved first,
    each with the routing once it is added (the curve's points); [] when the goal is out of reach."""
    R = paths.incidence
    with_traffic = d > 0
    off_igp = (igp <= 0).astype(float)
    try:
        _, _, pidx, x = _partial_lp(network, paths, d, with_traffic, np.zeros(network.n_links), u_cost=0.0,
                                    u_max=theta, path_cost=off_igp[np.concatenate(
                                        [np.arange(paths.od_ptr[k], paths.od_ptr[k + 1])
                                         for k in np.flatnonzero(with_traffic)])])
    except InfeasibleError:
        return []
    s2 = igp.copy()
    s2[pidx] = x
    s2 = paths.normalise(np.where(with_traffic[paths.path_od], s2, igp), fallback=igp)
    moved = d * paths.od_sum(np.abs(s2 - igp)) / 2  # bit/s each OD moves
    extra = [int(k) for k in np.argsort(moved, kind="stable")
             if not free[k] and with_traffic[k] and paths.od_sum(np.abs(s2 - igp) > SPLIT_TOL)[k] > 0]
    keep = free.copy()
    keep[extra] = True

    def solve_with(mask):
        base = R @ np.where(mask[paths.path_od], 0.0, igp * d[paths.path_od])
        u, _, pi, xx = _partial_lp(network, paths, d, mask, base, theta, eps)
        out = igp.copy()
        out[pi] = xx
        return u, paths.normalise(np.where(mask[paths.path_od], out, igp), fallback=igp)

    for k in extra:  # least moved first
        trial = keep.copy()
        trial[k] = False
        if solve_with(trial)[0] <= theta * (1 + 1e-9):
            keep = trial
    kept = sorted((k for k in extra if keep[k]), key=lambda k: -moved[k])
    result, mask = [], free.copy()
    for k in kept:
        mask[k] = True
        result.append((k, solve_with(mask)[1]))
    return result


# ---------------------------------------------------------------------------------------- export
def safe_node_names(network: Network) -> list[str]:
    """Policy-name-safe node names ([A-Za-z0-9_.-]); node indices where that makes two alike."""
    safe = ["".join(c if c.isalnum() or c in "_.-" else "_" for c in n) for n in network.node_names]
    if len(set(safe)) < len(safe) or any(not s for s in safe):
        safe = [f"N{i}" for i in range(network.n_nodes)]
    return safe


def export_sr(network: Network, routing: Routing, tm: np.ndarray | None = None, *, max_sid_depth: int = 10,
              slots: int = 64, vendor_drop: bool = False, color: int = DEFAULT_COLOR,
              plan: SidPlan | None = None, curve: pd.DataFrame | None = None,
              milp_seconds: float | None = 5.0) -> SrExport:
    """SR policies for ``routing`` (see the module notes) and the MLU of what they deploy on ``tm``.

    Parameters
    ----------
    network, routing : the routing to deploy, over paths of ``network``.
    tm : (N, N) bit/s; the weights are chosen for it and every MLU is evaluated on it. Without a
        matrix weights are largest remainder and no MLU is given.
    max_sid_depth : the most SIDs a head-end pushes (a segment list deeper than this is not
        deployed and is reported).
    slots : weighted-ECMP entries per policy; the exported weights of a policy sum to it.
    vendor_drop : model devices that drop segment lists whose weight is below the average slot
        (for the ``device_exact_weights`` MLU).
    color : the policies' colour; plan : labels and loopbacks (default :class:`SidPlan`).
    curve : the MLU-against-policies curve to keep (from :func:`few_policies`).
    milp_seconds : time for the integer program of :func:`quantise` (weights, and the one list
        per policy of FRR and pola); None: the descent only.
    """
    owner = "export_sr"
    check_param(owner, "max_sid_depth", max_sid_depth, [Interval(int, 1, None)])
    check_param(owner, "slots", slots, [Interval(int, 1, None)])
    check_param(owner, "vendor_drop", vendor_drop, [Boolean()])
    check_param(owner, "color", color, [Interval(int, 1, 2**32 - 1)])
    check_param(owner, "milp_seconds", milp_seconds, [NoneOr(), Interval(float, 0, None, "neither")])
    plan = SidPlan() if plan is None else plan
    plan.check(network)
    ps = routing.paths
    ps.check_network(network)
    t0 = time.perf_counter()
    igp_paths = IgpPaths(network)
    igp = ecmp_splits(network, ps)
    s = routing.splits
    differs = np.abs(s - igp) > SPLIT_TOL
    od_moves = np.bincount(ps.path_od, weights=differs, minlength=ps.n_od) > 0
    d = ps.demand(tm) if tm is not None else None
    if d is not None:  # an OD without traffic has nothing to steer: it stays on the IGP
        od_moves &= d > 0
    # segment lists of the ODs that need a policy; unexpressible paths dropped
    expressible = np.where(od_moves[ps.path_od], 0.0, igp)
    seg_of: dict[int, tuple[Segment, ...]] = {}
    bad_rows = []
    policy_ods = []
    for k in np.flatnonzero(od_moves):
        lo, hi = ps.od_ptr[k], ps.od_ptr[k + 1]
        kept = []
        for p in range(lo, hi):
            if s[p] <= SPLIT_TOL:
                continue
            segs = compress_path(network, igp_paths, ps.link_idx[ps.link_ptr[p]:ps.link_ptr[p + 1]], plan)
            if len(segs) > max_sid_depth:
                bad_rows.append({"src": ps.node_names[ps.od_src[k]], "dst": ps.node_names[ps.od_dst[k]],
                                 "path": "-".join(ps.path_nodes(p)), "depth": len(segs), "split": float(s[p])})
                continue
            seg_of[p] = segs
            kept.append(p)
        if kept:
            expressible[kept] = s[kept]
            policy_ods.append(k)
        else:
            expressible[lo:hi] = igp[lo:hi]
    expressible = ps.normalise(expressible, fallback=igp)
    groups = [np.array([p for p in range(ps.od_ptr[k], ps.od_ptr[k + 1]) if p in seg_of]) for k in policy_ods]
    weights, qfacts = quantise(network, ps, expressible, tm, groups, slots, milp_seconds=milp_seconds)
    quantised = expressible.copy()
    device = expressible.copy()
    single = expressible.copy()
    # one list per policy (FRR pathd, pola): the same problem with one slot, over every expressible
    # list of the policy (a list too light for a slot of the weighted formats may be the best single one)
    one, ofacts = quantise(network, ps, expressible, tm, groups, 1, milp_seconds=milp_seconds)
    for g in groups:
        quantised[g] = weights[g] / slots
        device[g] = device_slots(expressible[g], slots, vendor_drop) / slots
        single[g] = one[g]
    routings = {"expressible": Routing(ps, expressible, routing.policy + "+sr"),
                "quantised": Routing(ps, ps.normalise(quantised, fallback=igp), routing.policy + "+sr-quantised"),
                "device_exact_weights": Routing(ps, ps.normalise(device, fallback=igp),
                                                routing.policy + "+sr-device"),
                "single_list": Routing(ps, ps.normalise(single, fallback=igp), routing.policy + "+sr-single"),
                "igp": Routing(ps, igp, "shortest")}
    mlu = {"routing": None, **{k: None for k in routings}}
    if tm is not None:
        mlu["routing"] = evaluate(network, routing, tm).mlu
        for k, r in routings.items():
            mlu[k] = evaluate(network, r, tm).mlu
    safe = safe_node_names(network)
    policies = []
    for k, g in zip(policy_ods, groups):
        a, b = int(ps.od_src[k]), int(ps.od_dst[k])
        lists = tuple(SegmentList(seg_of[int(p)], int(weights[p]), float(expressible[p]), tuple(ps.path_nodes(int(p))))
                      for p in g)
        single_index = int(np.flatnonzero(one[g] > 0)[0])
        policies.append(SrPolicy(f"SG_{safe[a]}_{safe[b]}_c{color}", ps.node_names[a], ps.node_names[b], int(color),
                                 plan.address(a), plan.address(b), PREFERENCE, lists, single_index))
    policies.sort(key=lambda p: (network.node_index[p.headend], network.node_index[p.endpoint]))
    bad = pd.DataFrame(bad_rows, columns=["src", "dst", "path", "depth", "split"])
    params = {"color": int(color), "max_sid_depth": int(max_sid_depth), "slots": int(slots),
              "vendor_drop": bool(vendor_drop), "policy": routing.policy, **plan.as_dict()}
    info = {"seconds": time.perf_counter() - t0, "quantise_moves": qfacts.get("moves", 0),
            "quantise_method": qfacts.get("method"), "quantise_milp_status": qfacts.get("milp_status"),
            "single_list_method": ofacts.get("method"), "single_list_milp_status": ofacts.get("milp_status"),
            "demand_bps": None if d is None else float(d.sum()), "reference_mlu": routing.info.get("reference_mlu")}
    return SrExport(network, tuple(policies), mlu, bad, routings, curve, params, info)


def routing_from_policies(network: Network, paths: PathSet, policies, *, use: str = "weight",
                          policy: str = "sr-import") -> Routing:
    """The routing a set of SR policies deploys, over ``paths``: the inverse of :func:`export_sr`.

    ``policies`` are (headend, endpoint, [(segments, weight, split), ...]) with ``segments`` a list
    of :class:`Segment`. Each segment list is expanded into its path (node SIDs along the unique IGP
    shortest path, adjacency SIDs by link) and must be one of the OD's candidate paths. Splits are
    the weights normalised (``use="weight"``, what routers do) or the exact ``split`` values
    (``use="split"``); ODs without a policy follow the IGP (ECMP).
    """
    check_param("routing_from_policies", "use", use, [Options(("weight", "split"))])
    paths.check_network(network)
    igp_paths = IgpPaths(network)
    igp = ecmp_splits(network, paths)
    idx = network.node_index
    link_index = {n: i for i, n in enumerate(network.link_names)}
    out = igp.copy()
    seen = set()
    for head, end, lists in policies:
        for n in (head, end):
            if n not in idx:
                raise InputError(f"SR policy {head}->{end} names node {n!r}, which is not in network "
                                 f"{network.name!r}; export and import with the same network")
        a, b = idx[head], idx[end]
        k = int(paths.od_lookup[a, b])
        if k < 0:
            raise InputError(f"SR policy {head}->{end}: the path set has no OD pair {head}->{end}; "
                             "import with the path set the policies were exported from")
        if k in seen:
            raise InputError(f"two SR policies for {head}->{end}; keep one per head-end, endpoint and colour")
        seen.add(k)
        lo, hi = paths.od_ptr[k], paths.od_ptr[k + 1]
        by_links = {tuple(paths.link_idx[paths.link_ptr[p]:paths.link_ptr[p + 1]].tolist()): p for p in range(lo, hi)}
        w = np.zeros(hi - lo)
        for segments, weight, split in lists:
            links, x = [], a
            for seg in segments:
                if seg.kind == "adjacency":
                    if seg.link not in link_index:
                        raise InputError(f"SR policy {head}->{end}: adjacency SID {seg.sid} names link {seg.link!r}, "
                                         f"which is not in network {network.name!r}")
                    l = link_index[seg.link]
                    if network.src[l] != x:
                        raise InputError(f"SR policy {head}->{end}: adjacency SID {seg.sid} ({seg.link}) does not "
                                         f"start at {network.node_names[x]}, where the packet is")
                    links.append(l)
                    x = int(network.dst[l])
                else:
                    if seg.node not in idx:
                        raise InputError(f"SR policy {head}->{end}: node SID {seg.sid} names node {seg.node!r}, "
                                         f"which is not in network {network.name!r}")
                    links += igp_paths.shortest_links(x, idx[seg.node])
                    x = idx[seg.node]
            if x != b or tuple(links) not in by_links:
                raise InputError(f"SR policy {head}->{end}: segment list {[s.sid for s in segments]} is not one of "
                                 "the OD's candidate paths; import with the network and paths it was exported from")
            w[by_links[tuple(links)] - lo] += float(weight if use == "weight" else split)
        if w.sum() <= 0:
            raise InputError(f"SR policy {head}->{end} has no segment list with a positive {use}")
        out[lo:hi] = w / w.sum()
    return Routing(paths, out, policy)
