"""Failure what-ifs: every single-link, single-node or SRLG failure, re-routed two ways.

For each failure of a list (:func:`surgeguard.failures.failure_scenarios`) the traffic is re-routed

* by **shortest-path reconvergence** (policy ``"shortest"``): what the IGP does on its own. Every
  router splits traffic toward a destination equally over its next hops on shortest paths of the
  *surviving* graph (hop-by-hop ECMP, parallel links included), on the IGP metric or on hop count.
  :class:`EcmpReconvergence` keeps, per destination, the shortest-path DAG of the intact network;
  a failure re-computes only the destinations whose DAG uses a failed link (one Dijkstra per
  affected destination, vectorised by scipy), and the loads are updated by subtracting their old
  contribution and adding the new one. Loads along each DAG are propagated for all affected
  destinations at once with one sparse matrix (see :meth:`EcmpReconvergence.link_loads`);
* by **re-optimised TE** (policy ``"optimal"``, or any other registered policy): the min-MLU LP
  over the surviving candidate paths. Paths crossing a failed link are switched off
  (:meth:`surgeguard.optimise.mlu.MluLP.set_usable`: the model is kept alive and re-solved from the
  previous basis); an OD pair that loses all its candidates gets its k shortest paths on the
  surviving graph (added once with :meth:`surgeguard.paths.PathSet.with_paths`, enabled only for
  that failure); an OD pair the failure disconnects is reported as
  unrouted traffic, not an error.

Per failure and policy the result holds the MLU, the links above 100 % utilisation, and the
traffic lost (bit/s, per traffic class when the traffic has classes) as two parts:

* ``unrouted_bps``: demand with no surviving path (disconnected OD pairs, and all demand from or
  to a failed node);
* ``dropped_bps``: traffic that does not fit, by the one loss model of
  :mod:`surgeguard.evaluate.metrics` (:func:`link_loss_fraction`): a link with load above capacity
  drops the fraction ``1 - capacity / load`` of every flow crossing it and a flow loses the largest
  such fraction along its path. For ECMP the "paths" are those of each
  destination's DAG with their hop-by-hop shares; the sum over paths is computed exactly by one
  extra DAG propagation per distinct congested fraction.

:class:`WhatIfResult` then ranks the failures (traffic lost first, then MLU) and gives, per link,
its worst-case utilisation over all failures and the failure that causes it: the table of Cisco
WAE's Simulation Analysis. Its report section is :func:`surgeguard.report.sections.whatif.failures_section`.

Examples
--------
>>> import numpy as np
>>> from surgeguard.examples import ring
>>> net = ring(4)
>>> fails = failure_scenarios(net, "single-link")
>>> len(fails), fails[0].name, fails[0].links
(4, 'R0<->R1', ('R0->R1', 'R1->R0'))
>>> tm = np.zeros((4, 4)); tm[0, 1] = 4e9
>>> ev = evaluate_failure(net, fails[0], tm)          # R0->R1 now goes the long way round
>>> round(ev.mlu, 2), ev.lost_bps
(0.4, 0.0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from ..evaluate.metrics import OVERLOAD_RTOL, link_loss_fraction, path_loss_fraction
from ..exceptions import ValidationError
from ..failures import NO_FAILURE, Failure, as_failure, failure_masks, failure_scenarios
from ..io.output import atomic_path, atomic_write_json, make_output_dir
from ..network import Network
from ..optimise.mlu import MluLP
from ..paths import PathSet, k_shortest_paths
from ..routing import get_policy
from ..traffic import TrafficSeries

__all__ = ["EcmpReconvergence", "LinkLoads", "FailureEvaluation", "WhatIf", "WhatIfResult", "evaluate_failure",
           "run_whatif", "pick_traffic"]


def _as_demands(network: Network, traffic, classes=None) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """(C, N, N) bit/s and class names (None for one aggregate) from a matrix or class stack."""
    if isinstance(traffic, TrafficSeries):
        raise ValidationError("give one traffic matrix, not a series; pick a step with "
                              "pick_traffic(series, network, at=...)")
    dem = np.asarray(traffic, dtype=float)
    n = network.n_nodes
    if dem.ndim == 2:
        dem = dem[None]
    if dem.ndim != 3 or dem.shape[1:] != (n, n):
        raise ValidationError(f"traffic has shape {np.shape(traffic)}; expected ({n}, {n}) or (classes, {n}, {n}) "
                              f"for network {network.name!r}")
    if classes is not None:
        classes = tuple(str(c) for c in classes)
        if len(classes) != dem.shape[0]:
            raise ValidationError(f"{len(classes)} class names for {dem.shape[0]} class matrices; give one name each")
    elif dem.shape[0] > 1:
        classes = tuple(f"class{i}" for i in range(dem.shape[0]))
    if not np.isfinite(dem).all() or (dem < 0).any():
        raise ValidationError("traffic has negative, NaN or infinite demand; demands must be finite and >= 0 bit/s")
    dem = dem.copy()
    idx = np.arange(n)
    dem[:, idx, idx] = 0.0
    return dem, classes


def pick_traffic(series: TrafficSeries, network: Network, *, at: int | None = None) -> dict:
    """One step of a series for a what-if: step ``at``, or (default) the busiest step.

    Returns
    -------
    dict with ``demands`` ((C, N, N) bit/s in the network's node order), ``classes`` (names or
    None), ``index`` (the step), ``time`` (its UTC timestamp) and ``how`` (``'at'`` or ``'peak'``).
    """
    ts = series.reorder(network.node_names)
    if at is None:
        tot = ts.total.sum(axis=(1, 2))
        i, how = int(np.argmax(tot)), "peak"
    else:
        if not -len(ts) <= at < len(ts):
            raise ValidationError(f"step {at} is outside the series' {len(ts)} steps (0..{len(ts) - 1}); pick "
                                  "another step, or none for the busiest")
        i, how = int(at) % len(ts), "at"
    v = ts.values[i]
    dem = v if ts.classes is not None else v[None]
    return {"demands": dem, "classes": ts.classes, "index": i, "time": ts.times[i], "how": how}


@dataclass(eq=False)
class LinkLoads:
    """Link loads of one routing of one traffic (by class), with what was not routed.

    Attributes
    ----------
    load : (n_links, C) bit/s per link and class (column order of the demands).
    unrouted : (C,) bit/s of demand with no path (disconnected, or from/to a failed node).
    affected : number of destinations whose routing was recomputed (ECMP) or of OD pairs given
        new paths (TE); for reports.
    dropped : (C,) bit/s lost to congestion (``None`` until computed).
    """

    load: np.ndarray
    unrouted: np.ndarray
    affected: int = 0
    dropped: np.ndarray | None = None

    @property
    def total(self) -> np.ndarray:
        """(n_links,) bit/s summed over classes."""
        return self.load.sum(axis=1)


class EcmpReconvergence:
    """IGP shortest-path routing with hop-by-hop ECMP, on a network and on its failures.

    Parameters
    ----------
    network : the intact network.
    igp : ``"metric"`` (the links' IGP metric) or ``"hops"`` (every link costs 1).
    rtol : relative tolerance for equal-cost paths.
    max_rows : destinations × nodes propagated in one sparse matrix (bounds memory).

    Notes
    -----
    For destination ``t``, ``D[t, x]`` is the IGP distance from ``x`` to ``t`` and link ``l = (u, v)``
    is on the shortest-path DAG when ``w_l + D[t, v] == D[t, u]``. Router ``u`` sends ``1/fan_t(u)`` of
    what it holds for ``t`` on each DAG link (``fan_t(u)``: its number of DAG links toward ``t``,
    parallel links counted). The traffic at every node is ``f = b + P^T f`` with ``b`` the demand
    toward ``t`` and ``P`` the split matrix; ``P`` is nilpotent (a DAG), so ``f = sum_k (P^T)^k b``,
    computed for all destinations at once by repeated sparse products until nothing moves (as many
    products as the deepest DAG has hops). A link's load is ``f[u] / fan_t(u)`` summed over ``t``.

    Examples
    --------
    >>> from surgeguard.examples import ring
    >>> net = ring(4); eng = EcmpReconvergence(net)
    >>> tm = np.zeros((4, 4)); tm[0, 2] = 2e9              # two equal paths: 1 Gbit/s each
    >>> ll = eng.link_loads(tm)
    >>> sorted(set(np.round(ll.total / 1e9, 6).tolist()))
    [0.0, 1.0]
    """

    def __init__(self, network: Network, *, igp: str = "metric", rtol: float = 1e-9, max_rows: int = 2_000_000):
        if igp not in ("metric", "hops"):
            raise ValidationError(f"igp must be 'metric' or 'hops', got {igp!r}")
        self.network, self.igp, self.rtol, self.max_rows = network, igp, float(rtol), int(max_rows)
        self.n, self.L = network.n_nodes, network.n_links
        self.src, self.dst = network.src, network.dst
        self.w = network.metric.astype(float) if igp == "metric" else np.ones(self.L)
        # links sorted by (src, dst, weight): the first of each (src, dst) group is the cheapest
        self._order = np.lexsort((self.w, self.dst, self.src))
        self._Psrc = sp.csr_matrix((np.ones(self.L), (np.arange(self.L), self.src)), shape=(self.L, self.n))
        t0 = time.perf_counter()
        alive = np.ones(self.L, bool)
        self.D = self._distances(alive, np.arange(self.n))        # (N, N): D[t, x] = dist x -> t
        self.on, self.fan = self._dag(self.D, alive)              # (N, L) bool, (N, N)
        self.build_seconds = time.perf_counter() - t0
        self._base_cache: dict = {}

    # ------------------------------------------------------------------ building blocks
    def _distances(self, alive: np.ndarray, targets: np.ndarray) -> np.ndarray:
        o = self._order[alive[self._order]]
        s, d, w = self.src[o], self.dst[o], self.w[o]
        first = np.ones(len(o), bool)
        first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
        # reversed graph (v -> u for each link u -> v): distances from t are distances to t
        Wr = sp.csr_matrix((w[first], (d[first], s[first])), shape=(self.n, self.n))
        if len(targets) == 0:
            return np.zeros((0, self.n))
        return dijkstra(Wr, directed=True, indices=targets)

    def _dag(self, D: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Ds, Dd = D[:, self.src], D[:, self.dst]
        with np.errstate(invalid="ignore"):
            on = (np.abs(self.w[None, :] + Dd - Ds) <= self.rtol * np.maximum(1.0, Ds)) & np.isfinite(Ds)
        on &= alive[None, :]
        fan = np.asarray((self._Psrc.T @ on.T.astype(float)).T)   # (a, N) DAG links out of each node
        return on, fan

    def _propagate(self, targets: np.ndarray, on: np.ndarray, fan: np.ndarray, dem: np.ndarray,
                   cut: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Link loads (L, C) and arrivals (a, C) of the demand toward ``targets`` over their DAGs.

        ``cut``: links whose traffic is removed (absorbed) instead of forwarded; used for loss.
        """
        C = dem.shape[0]
        loads = np.zeros((self.L, C))
        arrived = np.zeros((len(targets), C))
        per = max(1, self.max_rows // max(self.n, 1))
        for c0 in range(0, len(targets), per):
            tg = targets[c0:c0 + per]
            a = len(tg)
            ii, ll = np.nonzero(on[c0:c0 + per])
            if cut is not None:
                keep = ~cut[ll]
            su = self.src[ll]
            fr = fan[c0:c0 + per][ii, su]
            val = 1.0 / fr
            base = ii * self.n
            b = np.ascontiguousarray(dem[:, :, tg].transpose(2, 1, 0)).reshape(a * self.n, C)
            if cut is None:
                M = sp.csr_matrix((val, (base + self.dst[ll], base + su)), shape=(a * self.n, a * self.n))
            else:
                M = sp.csr_matrix((val[keep], (base[keep] + self.dst[ll[keep]], base[keep] + su[keep])),
                                  shape=(a * self.n, a * self.n))
            f = b.copy()
            r = b
            for _ in range(self.n + 1):
                r = M @ r
                if not r.any():
                    break
                f += r
            E = sp.csr_matrix((val, (ll, base + su)), shape=(self.L, a * self.n))
            loads += E @ f
            arrived[c0:c0 + per] = f[np.arange(a) * self.n + tg]
        return loads, arrived

    def _unrouted(self, D: np.ndarray, targets: np.ndarray, dem: np.ndarray) -> np.ndarray:
        """(C,) demand toward ``targets`` from nodes that cannot reach them."""
        unreach = ~np.isfinite(D)                                  # (a, N)
        unreach[np.arange(len(targets)), targets] = False
        # dem[c, x, t] for t in targets: (C, N, a)
        return np.einsum("cxa,ax->c", dem[:, :, targets], unreach.astype(float))

    def _baseline(self, dem: np.ndarray):
        key = (dem.shape, hash(dem.tobytes()))
        hit = self._base_cache.get(key)
        if hit is None:
            tg = np.arange(self.n)
            load, _ = self._propagate(tg, self.on, self.fan, dem)
            unreach = ~np.isfinite(self.D)
            unreach[tg, tg] = False
            unr_t = np.einsum("cxt,tx->tc", dem, unreach.astype(float))   # (N, C) per destination
            hit = (load, unr_t)
            self._base_cache = {key: hit}  # keep the last traffic only
        return hit

    # ------------------------------------------------------------------ public
    def failure_masks(self, failure: Failure | None) -> tuple[np.ndarray, np.ndarray]:
        """(alive links mask, failed node indices) of a failure; see :func:`failure_masks`."""
        return failure_masks(self.network, failure)

    def link_loads(self, traffic, failure: Failure | None = None, *, dropped: bool = False) -> LinkLoads:
        """Link loads after the IGP has reconverged around ``failure`` (None: intact network).

        Parameters
        ----------
        traffic : (N, N) or (C, N, N) bit/s.
        failure : a :class:`Failure` (or None).
        dropped : also compute the traffic lost to congestion (:attr:`LinkLoads.dropped`).

        Returns
        -------
        :class:`LinkLoads` with loads per link and class in bit/s.
        """
        dem, _ = _as_demands(self.network, traffic)
        base_load, base_unr_t = self._baseline(dem)
        alive, fnodes = self.failure_masks(failure)
        dead = ~alive
        if not dead.any() and not len(fnodes):
            ll = LinkLoads(base_load.copy(), base_unr_t.sum(axis=0), 0)
            on_of = None
        else:
            affected = self.on[:, dead].any(axis=1)
            dem_f = dem
            if len(fnodes):
                affected[fnodes] = True
                affected |= dem[:, fnodes, :].sum(axis=(0, 1)) > 0  # their demand disappears everywhere
                dem_f = dem.copy()
                dem_f[:, fnodes, :] = 0.0
                dem_f[:, :, fnodes] = 0.0
            A = np.flatnonzero(affected)
            D_A = self._distances(alive, A)
            on_A, fan_A = self._dag(D_A, alive)
            stranded = dem.sum(axis=(1, 2)) - dem_f.sum(axis=(1, 2))
            if 2 * len(A) >= self.n:        # most destinations changed: recompute all of them
                on_all, fan_all = self.on.copy(), self.fan.copy()
                on_all[A], fan_all[A] = on_A, fan_A
                load, _ = self._propagate(np.arange(self.n), on_all, fan_all, dem_f)
            else:                           # subtract the affected destinations' old loads, add the new
                old, _ = self._propagate(A, self.on[A], self.fan[A], dem)
                new, _ = self._propagate(A, on_A, fan_A, dem_f)
                load = base_load - old + new
                load[load < 1e-9 * max(1.0, float(np.abs(base_load).max(initial=0.0)))] = 0.0
            load[dead] = 0.0
            unr = base_unr_t.sum(axis=0) - base_unr_t[A].sum(axis=0) + self._unrouted(D_A, A, dem_f) + stranded
            ll = LinkLoads(load, np.maximum(unr, 0.0), len(A))
            on_of = (A, on_A, fan_A, dem_f)
        if dropped:
            ll.dropped = self._dropped(ll.load, on_of, dem)
        return ll

    def _dropped(self, load: np.ndarray, on_of, dem: np.ndarray) -> np.ndarray:
        """(C,) traffic lost to congestion: each flow loses the largest drop fraction on its path."""
        C = load.shape[1]
        frac = link_loss_fraction(load.sum(axis=1), self.network.capacity)
        if not (frac > 0).any():
            return np.zeros(C)
        on, fan, dm = self.on, self.fan, dem
        if on_of is not None:
            A, on_A, fan_A, dm = on_of
            on, fan = on.copy(), fan.copy()
            on[A], fan[A] = on_A, fan_A
        cong = frac > 0
        rel = np.flatnonzero(on[:, cong].any(axis=1))            # destinations whose DAG meets congestion
        on_r, fan_r = on[rel], fan[rel]
        levels = np.unique(frac[cong])[::-1]                      # theta_1 > theta_2 > ... > 0
        _, arrived_all = self._propagate(rel, on_r, fan_r, dm)
        out = np.zeros(C)
        for k, th in enumerate(levels):
            nxt = levels[k + 1] if k + 1 < len(levels) else 0.0
            _, arr = self._propagate(rel, on_r, fan_r, dm, cut=frac >= th)
            out += (th - nxt) * (arrived_all - arr).sum(axis=0)    # flow meeting a link with frac >= th
        return np.maximum(out, 0.0)


# ============================================================================== re-optimised TE
class _TeEngine:
    """The min-MLU LP over the surviving candidate paths, one HiGHS model for all failures."""

    def __init__(self, network: Network, paths: PathSet, *, k: int = 4, policy: str = "optimal",
                 solver: str = "auto", second_stage: bool = True, time_limit: float | None = None):
        paths.check_network(network)
        self.network, self.base, self.k = network, paths, int(k)
        self.policy, self.solver, self.second_stage, self.time_limit = policy, solver, second_stage, time_limit
        self._extra: dict[tuple[int, tuple[int, ...]], set] = {}   # (od, links) -> failure keys
        self._done: set = set()
        self._aug = None
        self._lp = None
        self._tag = None          # per augmented path: -1 base, else index into self._extra_list

    # -- candidate paths per failure
    def prepare(self, failures: Iterable[Failure]) -> None:
        """Find the OD pairs that lose every candidate under each failure and give them new paths."""
        ps, net = self.base, self.network
        changed = False
        for f in failures:
            key = f.name, f.links, f.nodes
            if key in self._done:
                continue
            self._done.add(key)
            alive, fnodes = failure_masks(net, f)
            if alive.all():
                continue
            lacking = ps.od_sum(ps.usable_without(~alive).astype(float)) == 0
            if len(fnodes):
                lacking &= ~np.isin(ps.od_src, fnodes) & ~np.isin(ps.od_dst, fnodes)
            if not lacking.any():
                continue
            keep = np.flatnonzero(alive)
            surv = net.without_links([net.link_names[i] for i in np.flatnonzero(~alive)])
            extra = k_shortest_paths(surv, k=self.k, pairs=(ps.od_src[lacking], ps.od_dst[lacking]))
            lookup = ps.od_lookup
            for p in range(extra.n_paths):
                od = int(lookup[extra.od_src[extra.path_od[p]], extra.od_dst[extra.path_od[p]]])
                links = tuple(int(x) for x in keep[extra.link_idx[extra.link_ptr[p]:extra.link_ptr[p + 1]]])
                self._extra.setdefault((od, links), set()).add(key)
                changed = True
        if changed or self._lp is None:
            self._build()

    def _build(self) -> None:
        ps, net = self.base, self.network
        items = sorted(self._extra.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        self._extra_list = [keys for _, keys in items]
        aug, pos = ps.with_paths(net, [od for (od, _), _ in items], [links for (_, links), _ in items],
                                 method=ps.method + "+failover")
        tag = np.full(aug.n_paths, -1, dtype=np.int64)
        tag[pos] = np.arange(len(pos))
        self._aug, self._tag = aug, tag
        if self.policy == "optimal":
            self._lp = MluLP(net, aug, solver=self.solver, time_limit=self.time_limit)
        else:
            self._lp = get_policy(self.policy)

    def _enabled(self, failure: Failure, alive: np.ndarray) -> np.ndarray:
        key = failure.name, failure.links, failure.nodes
        ok = self._aug.usable_without(~alive)
        extra = self._tag >= 0
        if extra.any():
            mine = np.array([key in self._extra_list[t] for t in self._tag[extra]])
            ok[extra] &= mine
        return ok

    def link_loads(self, dem: np.ndarray, failure: Failure) -> tuple[LinkLoads, dict]:
        self.prepare([failure])
        ps, net = self._aug, self.network
        alive, fnodes = failure_masks(net, failure)
        enabled = self._enabled(failure, alive)
        has = ps.od_sum(enabled.astype(float)) > 0
        if len(fnodes):
            has &= ~np.isin(ps.od_src, fnodes) & ~np.isin(ps.od_dst, fnodes)
        d_c = dem[:, ps.od_src, ps.od_dst]                         # (C, n_od)
        unrouted = d_c[:, ~has].sum(axis=1)
        # demand of pairs outside the path set (cannot happen for all-pairs sets) is unrouted too
        covered = np.zeros(dem.shape[1:], bool)
        covered[ps.od_src, ps.od_dst] = True
        unrouted = unrouted + (dem * ~covered[None]).sum(axis=(1, 2))
        tm = np.zeros(dem.shape[1:])
        tm[ps.od_src[has], ps.od_dst[has]] = d_c[:, has].sum(axis=0)
        t0 = time.perf_counter()
        if self.policy == "optimal":
            self._lp.set_usable(enabled)
            splits, info = self._lp.solve(tm, second_stage=self.second_stage)
        else:
            r = self._lp.route(net, ps.subset(enabled), tm)   # ODs left without a path are dropped
            splits = np.zeros(ps.n_paths)
            splits[enabled] = r.splits
            info = dict(r.info)
        info["route_seconds"] = time.perf_counter() - t0
        splits = np.where(enabled, splits, 0.0)
        flows = splits[:, None] * d_c.T[ps.path_od] * has[ps.path_od][:, None]   # (n_paths, C)
        load = ps.incidence @ flows
        ll = LinkLoads(np.asarray(load), unrouted, int((enabled & (self._tag >= 0)).sum()))
        ll.dropped = (flows * path_loss_fraction(ps, ll.total, net.capacity)[:, None]).sum(axis=0)
        return ll, info


# ============================================================================== results
@dataclass(frozen=True, eq=False)
class FailureEvaluation:
    """What one failure does under one re-routing policy.

    Attributes
    ----------
    failure : the :class:`Failure` (``NO_FAILURE`` for the intact network).
    policy : ``'shortest'`` (IGP reconvergence) or the TE policy's name.
    network : the intact network (failed links have load 0).
    link_load : (n_links,) bit/s, summed over classes, in the network's link order.
    util : (n_links,) load / capacity.
    mlu : maximum link utilisation.
    over : names of links above 100 % utilisation.
    demand_bps : total demand (bit/s), lost or not.
    unrouted_bps, dropped_bps, lost_bps : demand with no path, traffic lost to congestion, their sum.
    lost_by_class : ``{class: bit/s}`` lost (unrouted + dropped) per class, or None without classes.
    info : ``seconds``, ``affected`` (destinations recomputed / OD pairs on new paths), solver facts.
    """

    failure: Failure
    policy: str
    network: Network
    link_load: np.ndarray
    util: np.ndarray
    mlu: float
    over: tuple[str, ...]
    demand_bps: float
    unrouted_bps: float
    dropped_bps: float
    lost_bps: float
    lost_by_class: dict | None = None
    info: dict = field(default_factory=dict)

    @property
    def worst_link(self) -> str:
        return self.network.link_names[int(np.argmax(self.util))] if len(self.util) else ""

    def as_dict(self) -> dict:
        """One flat record (the row of :attr:`WhatIfResult.failures`)."""
        rec = {"failure": self.failure.name, "kind": self.failure.kind, "failed_links": len(self.failure.links),
               "policy": self.policy, "mlu": self.mlu, "worst_link": self.worst_link,
               "links_over_100": len(self.over), "over_links": ";".join(self.over),
               "demand_bps": self.demand_bps, "unrouted_bps": self.unrouted_bps,
               "dropped_bps": self.dropped_bps, "lost_bps": self.lost_bps,
               "lost_share": self.lost_bps / self.demand_bps if self.demand_bps > 0 else 0.0}
        for c, v in (self.lost_by_class or {}).items():
            rec[f"lost_bps[{c}]"] = v
        rec["affected"] = int(self.info.get("affected", 0))
        rec["seconds"] = float(self.info.get("seconds", 0.0))
        return rec


def _make_eval(network, failure, policy, ll: LinkLoads, dem, classes, info) -> FailureEvaluation:
    tot = ll.total
    util = tot / network.capacity
    over = tuple(np.asarray(network.link_names, dtype=object)[tot > network.capacity * (1.0 + OVERLOAD_RTOL)])
    dropped = ll.dropped if ll.dropped is not None else np.zeros(dem.shape[0])
    lost_c = ll.unrouted + dropped
    by_class = {c: float(v) for c, v in zip(classes, lost_c)} if classes else None
    info = dict(info)
    info.setdefault("affected", ll.affected)
    return FailureEvaluation(failure, policy, network, tot, util, float(util.max()) if len(util) else 0.0, over,
                             float(dem.sum()), float(ll.unrouted.sum()), float(dropped.sum()),
                             float(lost_c.sum()), by_class, info)


class WhatIf:
    """Failure what-ifs of one network: the re-routing engines, built once, reused for every failure.

    Parameters
    ----------
    network : the intact network (with capacities).
    policies : re-routing policies: ``"shortest"`` (IGP reconvergence with ECMP on the surviving
        graph, :class:`EcmpReconvergence`) and/or ``"optimal"`` (min-MLU LP over the surviving
        candidate paths) or another registered TE policy.
    paths : candidate paths for TE (default: ``k`` shortest paths of every OD pair).
    k : candidate paths per OD pair, also for OD pairs that lose all of theirs.
    igp : ``"metric"`` or ``"hops"`` for the reconvergence.
    second_stage : TE picks, among MLU-optimal routings, the least-latency one (so the loads of
        non-bottleneck links mean something in the per-link worst-case table).
    solver, time_limit : HiGHS options of the TE LP.
    """

    def __init__(self, network: Network, *, policies: Sequence[str] = ("shortest", "optimal"), paths=None,
                 k: int = 4, igp: str = "metric", second_stage: bool = True, solver: str = "auto",
                 time_limit: float | None = None):
        if isinstance(policies, str):
            policies = [p.strip() for p in policies.split(",") if p.strip()]
        if not policies:
            raise ValidationError("no policy given; use 'shortest', 'optimal' or both")
        for p in policies:
            if p != "shortest":
                get_policy(p)   # unknown names: one-line error listing the valid ones
        if len(set(policies)) != len(policies):
            raise ValidationError(f"policies {list(policies)} repeat a name; give each once")
        if int(k) < 1:
            raise ValidationError(f"k must be >= 1 candidate paths per OD pair, got {k}")
        self.network, self.policies, self.k, self.igp = network, tuple(policies), int(k), igp
        self.second_stage, self.solver, self.time_limit = second_stage, solver, time_limit
        self._paths = paths
        self._ecmp: EcmpReconvergence | None = None
        self._te: dict[str, _TeEngine] = {}

    @property
    def ecmp(self) -> EcmpReconvergence:
        if self._ecmp is None:
            self._ecmp = EcmpReconvergence(self.network, igp=self.igp)
        return self._ecmp

    def paths(self) -> PathSet:
        """The TE candidate paths (built on first use: ``k`` shortest per OD pair)."""
        if self._paths is None:
            self._paths = k_shortest_paths(self.network, k=self.k)
        return self._paths

    def _te_engine(self, policy: str) -> _TeEngine:
        if policy not in self._te:
            self._te[policy] = _TeEngine(self.network, self.paths(), k=self.k, policy=policy, solver=self.solver,
                                         second_stage=self.second_stage, time_limit=self.time_limit)
        return self._te[policy]

    def prepare(self, failures: Sequence[Failure]) -> None:
        """Build the engines and the TE's extra paths for ``failures`` ahead of :meth:`evaluate`."""
        for p in self.policies:
            if p == "shortest":
                _ = self.ecmp
            else:
                self._te_engine(p).prepare(failures)

    def evaluate(self, failure, traffic, *, policy: str | None = None, classes=None) -> FailureEvaluation:
        """One failure (a :class:`Failure`, link/node names, or None for none) under one policy."""
        policy = policy or self.policies[0]
        if policy not in self.policies:
            raise ValidationError(f"policy {policy!r} is not one of this what-if's {list(self.policies)}")
        failure = as_failure(self.network, failure)
        dem, classes = _as_demands(self.network, traffic, classes)
        t0 = time.perf_counter()
        if policy == "shortest":
            ll = self.ecmp.link_loads(dem, failure, dropped=True)
            info = {}
        else:
            ll, info = self._te_engine(policy).link_loads(dem, failure)
        info["seconds"] = time.perf_counter() - t0
        return _make_eval(self.network, failure, policy, ll, dem, classes, info)

    def run(self, traffic, failures="single-link", *, classes=None, progress: bool = False,
            meta: dict | None = None) -> "WhatIfResult":
        """Every failure under every policy, plus the intact network as baseline.

        Parameters
        ----------
        traffic : (N, N) or (C, N, N) bit/s (see :func:`pick_traffic` for a series).
        failures : a kind for :func:`failure_scenarios`, or a list of :class:`Failure`.
        classes : names of the C class matrices.
        """
        if isinstance(failures, str):
            failures = failure_scenarios(self.network, failures)
        failures = [as_failure(self.network, f) for f in failures]
        if not failures:
            raise ValidationError("the failure list is empty; give at least one failure")
        dem, classes = _as_demands(self.network, traffic, classes)
        t0 = time.perf_counter()
        self.prepare(failures)
        base = {p: self.evaluate(NO_FAILURE, dem, policy=p, classes=classes) for p in self.policies}
        evals = []
        it = [(f, p) for f in failures for p in self.policies]
        if progress:
            it = tqdm(it, desc="failures", unit="case", leave=False)
        for f, p in it:
            evals.append(self.evaluate(f, dem, policy=p, classes=classes))
        m = dict(meta or {})
        m.update(seconds=time.perf_counter() - t0, k=self.k, igp=self.igp, second_stage=self.second_stage)
        return WhatIfResult(self.network, base, evals, classes, m)


class WhatIfResult:
    """The failures' evaluations, ranked, with the per-link worst case.

    Attributes
    ----------
    baseline : ``{policy: FailureEvaluation}`` of the intact network.
    evaluations : one :class:`FailureEvaluation` per failure and policy.
    failures : frame, one row per failure and policy (:meth:`FailureEvaluation.as_dict`).
    links : frame, one row per policy and link: ``capacity`` (bit/s), ``base_util``,
        ``worst_util``, ``worst_load_bps``, ``worst_failure`` (the failure causing the worst
        utilisation; ``'(none)'`` where no failure raises it above the intact network's).
    """

    def __init__(self, network: Network, baseline: dict, evaluations: list, classes=None, meta: dict | None = None):
        self.network, self.baseline, self.evaluations = network, baseline, evaluations
        self.classes, self.meta = classes, dict(meta or {})
        self.policies = tuple(baseline)
        self.failures = pd.DataFrame([e.as_dict() for e in evaluations])
        self.links = self._links_frame()

    def _links_frame(self) -> pd.DataFrame:
        net = self.network
        rows = []
        for p in self.policies:
            evs = [e for e in self.evaluations if e.policy == p]
            base = self.baseline[p]
            if evs:
                U = np.stack([e.util for e in evs])               # (F, L)
                j = np.argmax(U, axis=0)
                worst = U[j, np.arange(net.n_links)]
                load = np.stack([e.link_load for e in evs])[j, np.arange(net.n_links)]
                names = [evs[i].failure.name for i in j]
            else:
                worst, load, names = base.util, base.link_load, ["(none)"] * net.n_links
            names = [n if w > b * (1 + 1e-12) + 1e-15 else "(none)" for n, w, b in zip(names, worst, base.util)]
            worst = np.maximum(worst, base.util)
            rows.append(pd.DataFrame({
                "policy": p, "link": list(net.link_names), "src": net.links["src"].to_numpy(),
                "dst": net.links["dst"].to_numpy(), "capacity": net.capacity, "base_util": base.util,
                "worst_util": worst, "worst_load_bps": np.where(worst > base.util, load, base.link_load),
                "worst_failure": names}))
        out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        return out.sort_values(["policy", "worst_util"], ascending=[True, False], kind="stable").reset_index(drop=True)

    def worst(self, n: int = 10, policy: str | None = None) -> pd.DataFrame:
        """The ``n`` worst failures per policy: most traffic lost first, then highest MLU."""
        df = self.failures
        if policy is not None:
            df = df[df["policy"] == policy]
        df = df.sort_values(["policy", "lost_bps", "mlu"], ascending=[True, False, False], kind="stable")
        return df.groupby("policy", sort=False).head(n).reset_index(drop=True)

    def summary(self, top: int = 10) -> dict:
        """JSON-ready summary: per policy the baseline, counts and the worst failures and links."""
        out = {"network": self.network.name, "nodes": self.network.n_nodes, "links": self.network.n_links,
               "failures": int(len(self.failures) // max(len(self.policies), 1)), "classes": list(self.classes or []),
               **{k: v for k, v in self.meta.items() if k not in ("time",)}, "policies": {}}
        if "time" in self.meta:
            out["time"] = str(self.meta["time"])
        for p in self.policies:
            df = self.failures[self.failures["policy"] == p]
            b = self.baseline[p]
            lk = self.links[self.links["policy"] == p]
            out["policies"][p] = {
                "baseline_mlu": b.mlu, "baseline_lost_bps": b.lost_bps,
                "worst_mlu": float(df["mlu"].max()) if len(df) else b.mlu,
                "failures_over_100": int((df["links_over_100"] > 0).sum()),
                "failures_with_loss": int((df["lost_bps"] > 0).sum()),
                "failures_unrouted": int((df["unrouted_bps"] > 0).sum()),
                "seconds": float(df["seconds"].sum()),
                "worst_failures": _records(self.worst(top, p).drop(columns=["policy"])),
                "worst_links": _records(lk.head(top).drop(columns=["policy"])),
            }
        return out

    def write(self, out_dir) -> dict:
        """Write ``failures.csv``, ``links.csv`` and ``summary.json`` to ``out_dir``; returns the paths."""
        out = make_output_dir(out_dir)
        files = {"failures": out / "failures.csv", "links": out / "links.csv", "summary": out / "summary.json"}
        with atomic_path(files["failures"]) as tmp:
            self.failures.to_csv(tmp, index=False)
        with atomic_path(files["links"]) as tmp:
            self.links.to_csv(tmp, index=False)
        atomic_write_json(files["summary"], self.summary())
        return files


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in df.to_dict("records")]


# ============================================================================== one-call API
def evaluate_failure(network: Network, failure, traffic, *, policy: str = "shortest", paths=None, k: int = 4,
                     igp: str = "metric", classes=None, whatif: WhatIf | None = None) -> FailureEvaluation:
    """What one failure does to one traffic matrix, after re-routing with ``policy``.

    Parameters
    ----------
    network : the intact network, with capacities (bit/s).
    failure : a :class:`Failure`, a link or node name, a list of them, or None (no failure).
    traffic : (N, N) bit/s, or (C, N, N) with ``classes``.
    policy : ``"shortest"`` (IGP reconvergence, ECMP on the surviving graph) or ``"optimal"``
        (min-MLU LP over the surviving candidate paths; new k shortest paths for OD pairs that
        lose all theirs) or another registered TE policy.
    paths, k : candidate paths for TE (default: ``k`` shortest per OD pair).
    igp : ``"metric"`` or ``"hops"``.
    whatif : a :class:`WhatIf` to reuse (its engines are kept between calls: much faster when
        evaluating many failures; ``paths``, ``k``, ``igp`` are then taken from it).

    Returns
    -------
    :class:`FailureEvaluation`.

    Examples
    --------
    >>> import numpy as np
    >>> from surgeguard.examples import triangle
    >>> net = triangle()
    >>> tm = np.zeros((3, 3)); tm[0, 1] = 5e9
    >>> ev = evaluate_failure(net, "C", tm, policy="optimal")   # node C down
    >>> round(ev.mlu, 2), ev.unrouted_bps
    (0.5, 0.0)
    >>> evaluate_failure(net, ["A->B", "B->A", "A->C", "C->A"], tm).unrouted_bps   # A is cut off
    5000000000.0
    """
    if whatif is None:
        whatif = WhatIf(network, policies=(policy,), paths=paths, k=k, igp=igp)
    elif policy not in whatif.policies:
        raise ValidationError(f"policy {policy!r} is not one of the given WhatIf's {list(whatif.policies)}")
    return whatif.evaluate(failure, traffic, policy=policy, classes=classes)


def run_whatif(network: Network, traffic, failures="single-link", *, policies=("shortest", "optimal"),
               at: int | None = None, paths=None, k: int = 4, igp: str = "metric", second_stage: bool = True,
               progress: bool = False) -> WhatIfResult:
    """Every failure of a set, re-routed by each policy: the what-if table.

    Parameters
    ----------
    network : the intact network with capacities.
    traffic : a :class:`TrafficSeries` (step ``at``, default the busiest step) or a matrix
        ((N, N) or (C, N, N) bit/s).
    failures : ``'single-link'``, ``'single-node'``, ``'srlg'``, a failures file, or a list of
        :class:`Failure`.
    policies : see :class:`WhatIf`.

    Returns
    -------
    :class:`WhatIfResult`.
    """
    meta = {}
    classes = None
    if isinstance(traffic, TrafficSeries):
        pick = pick_traffic(traffic, network, at=at)
        dem, classes = pick["demands"], pick["classes"]
        meta = {"step": pick["index"], "time": pick["time"], "step_choice": pick["how"], "traffic": traffic.name}
    else:
        dem = traffic
    wi = WhatIf(network, policies=policies, paths=paths, k=k, igp=igp, second_stage=second_stage)
    return wi.run(dem, failures, classes=classes, progress=progress, meta=meta)
