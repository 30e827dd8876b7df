"""Capacity planning: the cheapest port modules to add so that every scenario fits.

Problem
-------
Given a network, candidate paths, a traffic series (optionally under a scenario such as the
lockdown) and a catalogue of port modules (:class:`PortModule`: rate, cost per module, cost per km
of fibre), choose how many modules of each kind to add on each *fibre* -- the two directions of a
link share them, a module adds its rate in both directions -- at minimum total cost, such that in
every planning scenario the traffic can be routed over the candidate paths with every link's
utilisation at most the target.

Planning scenarios are (peak traffic matrix) x (failure state):

* **Peak matrices** (:func:`select_peak_tms`): the ``top_days`` highest-total steps, at most one per
  UTC day, plus, for each link, the step where its load under shortest-path routing (ECMP) is
  highest; at most ``max_tms`` of them, those that are the worst case of the most links first.
  Every other step of the series is then checked after the optimisation (``verify_all``) and added
  when violated, so the plan holds for every step without failures, not only the chosen ones.
* **Failures**: none, or ``"single-link"``: each bidirectional fibre cut in turn. Under a failure
  the paths crossing the cut are removed (re-routing over the surviving candidate paths); an OD
  with no surviving path cannot be helped by capacity and its demand is reported as lost (the
  scenario's ``lost_bps``), not an error. Under failures the bound is ``failure_util`` (default:
  the target). With ``protect="critical"`` only the highest-priority class must fit under
  failures, within its latency bound while one of its allowed paths survives (else on the
  lowest-latency surviving path): strict priority makes it independent of the other classes.

Critical traffic: with strict-priority queues the highest class is fully served whenever its own
load fits, which every scenario's bound (<= 1) implies; the plan reports, for every scenario, the
critical class's own MLU on the upgraded network within its latency bound (``critical_mlu``).

Method
------
A mixed-integer LP solved by HiGHS (``integrality_`` of a ``HighsLp`` built with the matrix API):

    min  sum_{e,m} (cost_m + cost_per_km_m * length_e) y_em                  y_em integer >= 0
    s.t. sum_{p in P_s(k)} f_sp = d_sk                       every active scenario s, OD k
         sum_{p ni l} f_sp - u_s sum_m rate_m y_{e(l),m} <= u_s c_l    every surviving link l of s
         f >= 0

with ``P_s(k)`` the candidate paths of OD k that survive in s and ``u_s`` its bound. Scenarios are
generated, not enumerated: the MILP starts with the hardest peak matrices without failure; each round the
upgraded network is checked on every scenario with the min-MLU LP (:class:`~surgeguard.routing.
priority.PathLP`), and the ``add_per_round`` most violated ones join the MILP, until none is
violated (``max_rounds``). The result is optimal for the active scenarios and feasible for all.

Each round the MILP gets a feasible start (HiGHS partial MIP start: the module counts; it
completes the flows): the previous round's modules *repaired* for the new scenarios. So a MILP that
stops at its time limit returns at least that start.

Heuristic (``method="heuristic"``, a MILP over ``max_milp_columns``, or the MILP budget spent):
(1) the LP relaxation (its cost is a lower bound); (2) each fibre's fractional capacity rounded up
to the cheapest module combination that covers it (an exact small knapsack per fibre,
:func:`cheapest_modules`); (3) *repair*: while a scenario is violated, add to the most utilised link
of its min-MLU routing the cheapest modules covering its shortfall; (4) *consolidate*: each fibre's
modules replaced by the cheapest combination of the same total rate; (5) *prune*: fibre by fibre,
most expensive first, the least added rate that keeps every scenario feasible (binary search in
steps of the smallest module; feasibility is monotone in one fibre's capacity). ``time_limit`` is
the budget of all MILP solves together; when it is spent the remaining rounds use (3)-(5).
``gap = (cost - bound) / cost`` with ``bound`` the best of the MILP dual bounds and the LP
relaxation over the final active scenarios: valid, since the active scenarios are a subset of all.

Binding scenario of an addition: remove one module (the smallest on that fibre) and re-check the
active scenarios; the one with the highest utilisation relative to its bound is binding (for an
optimal MILP every module has one, else it could be removed).

The default module catalogue (:data:`DEFAULT_MODULES`) has illustrative relative costs, in cost
units (cu; 1 cu ~ one 10G module pair), not vendor prices: pass your own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import SolverError, ValidationError
from ..network import Network
from ..traffic import TrafficSeries

__all__ = ["PortModule", "DEFAULT_MODULES", "parse_modules", "fibres", "cheapest_modules", "select_peak_tms",
           "PlanScenario", "CapacityPlan", "plan_capacity", "shortest_upgrade", "planning_series",
           "check_capacity", "CapacityCheck", "capacity_plan_section", "lockdown_plan_study"]


# ====================================================================================== modules
@dataclass(frozen=True)
class PortModule:
    """A capacity module for one fibre: ``rate_bps`` in each direction.

    Parameters
    ----------
    name : label (``"100G"``).
    rate_bps : capacity added in each direction, bit/s.
    cost : cost per module (both ends), cost units.
    cost_per_km : cost per module per km of fibre (amplifiers, optical line), cost units / km.
    """

    name: str
    rate_bps: float
    cost: float
    cost_per_km: float = 0.0

    def __post_init__(self):
        if not (np.isfinite(self.rate_bps) and self.rate_bps > 0):
            raise ValidationError(f"module {self.name!r}: rate {self.rate_bps!r} bit/s must be > 0")
        if not (np.isfinite(self.cost) and self.cost >= 0 and np.isfinite(self.cost_per_km) and self.cost_per_km >= 0):
            raise ValidationError(f"module {self.name!r}: costs must be finite and >= 0")
        if self.cost + self.cost_per_km <= 0:
            raise ValidationError(f"module {self.name!r} costs nothing; give it a cost > 0 or a cost per km > 0")

    def cost_for(self, length_km: float) -> float:
        """Cost of one module on a fibre of ``length_km`` km."""
        return float(self.cost + self.cost_per_km * (length_km if np.isfinite(length_km) else 0.0))


#: Illustrative catalogue (relative cost units, not prices): 10G at 1 cu + 0.002 cu/km, 100G at
#: 4 cu + 0.01 cu/km, 400G at 10 cu + 0.025 cu/km (higher rates are cheaper per bit/s).
DEFAULT_MODULES: tuple[PortModule, ...] = (
    PortModule("10G", 10e9, 1.0, 0.002),
    PortModule("100G", 100e9, 4.0, 0.01),
    PortModule("400G", 400e9, 10.0, 0.025),
)


def parse_modules(spec: str | Sequence[PortModule] | None) -> tuple[PortModule, ...]:
    """Modules from ``'10G:1:0.002,100G:4:0.01'`` (rate:cost[:cost_per_km], rate with G/T/M
    suffix in bit/s), or a sequence of :class:`PortModule`; None gives :data:`DEFAULT_MODULES`."""
    if spec is None:
        return DEFAULT_MODULES
    if not isinstance(spec, str):
        mods = tuple(spec)
        if not mods or not all(isinstance(m, PortModule) for m in mods):
            raise ValidationError("modules must be PortModule objects or a spec like '10G:1:0.002,100G:4:0.01'")
        return mods
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if not 2 <= len(parts) <= 3:
            raise ValidationError(f"module spec {item!r} is not RATE:COST[:COST_PER_KM]; write e.g. 100G:4:0.01")
        rate_txt = parts[0].strip().upper()
        mult = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(rate_txt[-1:], None)
        try:
            rate = float(rate_txt[:-1]) * mult if mult else float(rate_txt)
            cost = float(parts[1])
            per_km = float(parts[2]) if len(parts) == 3 else 0.0
        except ValueError:
            raise ValidationError(f"module spec {item!r}: rate, cost and cost per km must be numbers; write e.g. 100G:4:0.01") from None
        out.append(PortModule(parts[0].strip(), rate, cost, per_km))
    if not out:
        raise ValidationError(f"module spec {spec!r} is empty; write e.g. '10G:1:0.002,100G:4:0.01,400G:10:0.025'")
    return tuple(out)


def cheapest_modules(amount_bps: float, modules: Sequence[PortModule], length_km: float = 0.0,
                     ) -> tuple[np.ndarray, float]:
    """The cheapest module counts whose total rate is at least ``amount_bps`` (exact, a small
    unbounded knapsack over multiples of the rates' common divisor).

    >>> n, c = cheapest_modules(120e9, DEFAULT_MODULES)
    >>> n.tolist(), c
    ([2, 1, 0], 6.0)
    """
    m = len(modules)
    if amount_bps <= 0:
        return np.zeros(m, dtype=np.int64), 0.0
    rates = np.array([mod.rate_bps for mod in modules])
    unit = _rate_unit(rates)
    r = np.round(rates / unit).astype(np.int64)
    need = int(math.ceil(amount_bps / unit - 1e-9))
    costs = np.array([mod.cost_for(length_km) for mod in modules])
    top = need + int(r.max())
    if top > 200_000:  # huge: fill with the cheapest per bit/s, then the knapsack for the rest
        best = int(np.argmin(costs / r))
        bulk_n = max(0, (need - int(r.max())) // int(r[best]))
        n, c = cheapest_modules((need - bulk_n * r[best]) * unit, modules, length_km)
        n[best] += bulk_n
        return n, float(c + bulk_n * costs[best])
    inf = float("inf")
    best_cost = np.full(top + 1, inf)
    choice = np.full(top + 1, -1, dtype=np.int64)
    best_cost[0] = 0.0
    for v in range(1, top + 1):
        for j in range(m):
            prev = max(v - int(r[j]), 0)
            c = best_cost[prev] + costs[j]
            if c < best_cost[v] - 1e-12:
                best_cost[v] = c
                choice[v] = j
    # cheapest over all v >= need (best_cost[v] for v<r covers "at least v")
    v = int(need + np.argmin(best_cost[need:]))
    n = np.zeros(m, dtype=np.int64)
    total = float(best_cost[v])
    while v > 0:
        j = int(choice[v])
        n[j] += 1
        v = max(v - int(r[j]), 0)
    return n, total


def _rate_unit(rates: np.ndarray) -> float:
    """The largest 'round' divisor (1 Mbit/s resolution) of every rate."""
    mb = np.round(np.asarray(rates) / 1e6).astype(np.int64)
    g = int(np.gcd.reduce(mb)) if len(mb) else 1
    return max(g, 1) * 1e6


# ====================================================================================== fibres
def fibres(network: Network) -> tuple[np.ndarray, pd.DataFrame]:
    """Group the directed links into fibres (a link and its reverse share one fibre).

    Returns
    -------
    (fibre index of every link (n_links,), frame indexed by fibre name ``'A--B'`` with columns
    ``links`` (tuple of link indices), ``length_km`` (the longest of its links; 0 if unknown)).
    Parallel links pair up in order (``A->B#0`` with ``B->A#0``); a link without a reverse is a
    fibre of its own.
    """
    src = np.asarray(network.links["src"])
    dst = np.asarray(network.links["dst"])
    fib = np.full(network.n_links, -1, dtype=np.int64)
    groups: dict[tuple, list] = {}
    for l in range(network.n_links):
        groups.setdefault((src[l], dst[l]), []).append(l)
    names, links, lengths = [], [], []
    length = network.links["length_km"].to_numpy(float)
    for l in range(network.n_links):
        if fib[l] >= 0:
            continue
        same = groups[(src[l], dst[l])]
        rank = same.index(l)
        rev = groups.get((dst[l], src[l]), [])
        partner = rev[rank] if rank < len(rev) and fib[rev[rank]] < 0 else None
        e = len(names)
        members = (l,) if partner is None else (l, partner)
        for x in members:
            fib[x] = e
        a, b = sorted((str(src[l]), str(dst[l])))
        name = f"{a}--{b}" + (f"#{rank}" if len(same) > 1 else "")
        names.append(name)
        links.append(members)
        ls = length[list(members)]
        lengths.append(float(np.nanmax(ls)) if np.isfinite(ls).any() else 0.0)
    return fib, pd.DataFrame({"links": links, "length_km": lengths}, index=pd.Index(names, name="fibre"))


# ====================================================================================== peak TMs
def select_peak_tms(network: Network, paths, series: TrafficSeries, *, top_days: int = 4,
                    per_link: bool = True, max_tms: int = 12) -> list[int]:
    """Steps of ``series`` to plan for (see the module notes).

    Parameters
    ----------
    top_days : the highest-total steps, at most one per UTC day.
    per_link : add each link's worst step under shortest-path routing.
    max_tms : at most this many steps in all (the top-total ones first, then those that are the worst
        case of the most links).

    Returns
    -------
    Sorted step indices.
    """
    from ..routing import ShortestPath

    if len(series) == 0:
        raise ValidationError(f"traffic {series.name!r} has no steps to plan for")
    tot = series.total.sum(axis=(1, 2))
    days = series.times.floor("D")
    order = np.argsort(-tot, kind="stable")
    chosen: list[int] = []
    seen_days = set()
    for t in order:
        if len(chosen) >= top_days:
            break
        if days[t] in seen_days:
            continue
        seen_days.add(days[t])
        chosen.append(int(t))
    if per_link and len(chosen) < max_tms:
        r = ShortestPath().route(network, paths, None)
        mats = series.total
        d = mats[:, paths.od_src, paths.od_dst]
        loads = (paths.incidence @ (d[:, paths.path_od] * r.splits).T)  # (L, T)
        worst = np.argmax(loads, axis=1)
        has = loads.max(axis=1) > 0
        cnt = pd.Series(worst[has]).value_counts()
        # most links covered first, then the higher total
        cand = sorted((int(t) for t in cnt.index if int(t) not in chosen), key=lambda t: (-cnt[t], -tot[t]))
        chosen += cand[:max(0, max_tms - len(chosen))]
    return sorted(chosen[:max_tms])


# ====================================================================================== scenarios
@dataclass(frozen=True, eq=False)
class PlanScenario:
    """One planning scenario: a traffic matrix, a failure state and a utilisation bound.

    Attributes
    ----------
    name : ``'<time> normal'`` or ``'<time> cut A--B'``.
    step : step of the planning series.
    time : its UTC time.
    failed_fibre : fibre name or None.
    util_bound : maximum utilisation allowed.
    demand : (n_od,) bit/s that must be routed (ODs with no surviving path removed).
    usable : (n_paths,) bool, the paths that survive (and, for a protected class, are allowed).
    lost_bps : demand of the ODs with no surviving path (cannot be helped by capacity).
    lost_od : those ODs as ``'A->B'`` names.
    what : ``'all'`` (the whole demand) or the protected class's name.
    """

    name: str
    step: int
    time: pd.Timestamp
    failed_fibre: str | None
    util_bound: float
    demand: np.ndarray
    usable: np.ndarray
    lost_bps: float
    lost_od: tuple[str, ...]
    what: str = "all"
    failed_links: tuple[int, ...] = ()


def _scenarios(network, paths, series, steps, fib, ftab, *, failures, target_util, failure_util, protect,
               classes, totals=None) -> list[PlanScenario]:
    from ..classes import class_config

    totals = series.total if totals is None else totals

    cfg = class_config(classes, network)
    allowed, _ = cfg.allowed_paths(paths)
    prot = cfg.names[0] if protect == "critical" else None
    seg = np.repeat(np.arange(paths.n_paths), paths.hops)
    out = []
    fail_list: list[int | None] = [None]
    if failures == "single-link":
        fail_list += list(range(len(ftab)))
    for t in steps:
        mats_c = cfg.class_matrices(series, int(t)) if prot else None
        d_all = paths.demand(totals[int(t)], what=f"traffic step {t}")
        for e in fail_list:
            if e is None:
                use = np.ones(paths.n_paths, dtype=bool)
                d = d_all.copy()
                bound, what, fl = target_util, "all", ()
            else:
                fl = tuple(int(x) for x in ftab["links"].iloc[e])
                dead = np.zeros(network.n_links, dtype=bool)
                dead[list(fl)] = True
                use = np.bincount(seg, weights=dead[paths.link_idx], minlength=paths.n_paths) == 0
                if prot:
                    d = paths.demand(mats_c[0], what=f"{prot} traffic step {t}")
                    # the latency bound holds while one of the class's paths survives; an OD whose
                    # allowed paths are all cut falls back to its lowest-latency surviving path
                    within = use & allowed[0]
                    ok_od = np.add.reduceat(within.astype(np.int64), paths.od_ptr[:-1]) > 0
                    lat = np.where(use, paths.latency_ms, np.inf)
                    best = np.minimum.reduceat(lat, paths.od_ptr[:-1])
                    fallback = use & (lat <= best[paths.path_od]) & ~ok_od[paths.path_od]
                    use = within | fallback
                    what = prot
                else:
                    d = d_all.copy()
                    what = "all"
                bound = failure_util
            has = np.add.reduceat(use.astype(np.int64), paths.od_ptr[:-1]) > 0
            gone = (d > 0) & ~has
            lost = float(d[gone].sum())
            lost_od = tuple(f"{paths.node_names[paths.od_src[k]]}->{paths.node_names[paths.od_dst[k]]}"
                            for k in np.flatnonzero(gone))
            d = np.where(has, d, 0.0)
            tname = series.times[int(t)].strftime("%Y-%m-%d %H:%M")
            fname = None if e is None else str(ftab.index[e])
            name = f"{tname} " + ("normal" if e is None else f"cut {fname}") + ("" if what == "all" else f" ({what})")
            out.append(PlanScenario(name, int(t), series.times[int(t)], fname, float(bound), d, use, lost, lost_od,
                                    what, fl))
    return out


# ====================================================================================== the plan
@dataclass(eq=False)
class CapacityPlan:
    """The result of :func:`plan_capacity`.

    Attributes
    ----------
    network : the network planned (capacities before).
    modules : the catalogue.
    added : (n_fibres, n_modules) modules added per fibre.
    fibre_table : fibres (:func:`fibres`) with ``length_km``.
    fibre_of_link : (n_links,) fibre index per link.
    cost : total cost, cost units.
    method : ``'milp'``, ``'milp (time limit)'`` or ``'heuristic'``.
    gap : relative gap to the best bound (0 when proven optimal within HiGHS' mip_rel_gap).
    lower_bound : the best bound on the cost.
    scenarios : every scenario checked; ``active`` the indices the MILP constrained.
    check : per-scenario frame on the upgraded network: name, step, time, failed_fibre, bound,
        mlu_before, mlu_after, lost_bps (no surviving path), critical_mlu, ok.
    binding : per upgraded fibre, the binding scenario and the utilisation it reaches without one
        module.
    target_util, failures, seconds, rounds, info.
    """

    network: Network
    modules: tuple[PortModule, ...]
    added: np.ndarray
    fibre_table: pd.DataFrame
    fibre_of_link: np.ndarray
    cost: float
    method: str
    gap: float
    lower_bound: float
    scenarios: list
    active: list
    check: pd.DataFrame
    binding: dict
    target_util: float
    failures: str | None
    seconds: float
    rounds: int
    info: dict = field(default_factory=dict)

    @property
    def added_bps(self) -> np.ndarray:
        """(n_fibres,) capacity added per fibre and direction, bit/s."""
        return self.added @ np.array([m.rate_bps for m in self.modules])

    @property
    def capacity_after(self) -> np.ndarray:
        """(n_links,) capacities after the additions, bit/s."""
        return self.network.capacity + self.added_bps[self.fibre_of_link]

    def upgraded(self) -> Network:
        """The network with the additions."""
        net = self.network.with_capacity(self.capacity_after)
        net.meta["capacity_source"] = (self.network.meta.get("capacity_source", "given")
                                       + f"; plus capacity plan ({self.cost:.4g} cu)")
        return net

    def additions(self) -> pd.DataFrame:
        """One row per upgraded fibre: links, length, modules per kind, added bit/s, capacity
        before/after (bit/s, the larger direction), cost, binding scenario and its utilisation
        without one module."""
        rows = []
        cap = self.network.capacity
        for e in np.flatnonzero(self.added.sum(axis=1) > 0):
            links = self.fibre_table["links"].iloc[e]
            length = float(self.fibre_table["length_km"].iloc[e])
            row = {"fibre": str(self.fibre_table.index[e]),
                   "links": ", ".join(self.network.link_names[l] for l in links), "length_km": length}
            for j, m in enumerate(self.modules):
                row[f"n_{m.name}"] = int(self.added[e, j])
            row["added_bps"] = float(self.added_bps[e])
            row["capacity_before_bps"] = float(max(cap[l] for l in links))
            row["capacity_after_bps"] = row["capacity_before_bps"] + row["added_bps"]
            row["cost"] = float(sum(self.added[e, j] * m.cost_for(length) for j, m in enumerate(self.modules)))
            b = self.binding.get(str(self.fibre_table.index[e]), {})
            row["binding_scenario"] = b.get("scenario", "")
            row["binding_util_without"] = b.get("util_without", float("nan"))
            rows.append(row)
        cols = ["fibre", "links", "length_km"] + [f"n_{m.name}" for m in self.modules] + [
            "added_bps", "capacity_before_bps", "capacity_after_bps", "cost", "binding_scenario", "binding_util_without"]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict:
        """JSON-ready summary (the CLI's ``--json``)."""
        ok = bool(self.check["ok"].all()) if len(self.check) else True
        return {
            "network": self.network.name, "target_util": self.target_util, "failures": self.failures,
            "method": self.method, "cost": self.cost, "gap": self.gap, "lower_bound": self.lower_bound,
            "modules": [{"name": m.name, "rate_bps": m.rate_bps, "cost": m.cost, "cost_per_km": m.cost_per_km}
                        for m in self.modules],
            "additions": self.additions().to_dict(orient="records"),
            "scenarios_checked": int(len(self.check)), "scenarios_active": int(len(self.active)),
            "all_scenarios_ok": ok,
            "worst_mlu_before": float(self.check["mlu_before"].replace(np.inf, np.nan).max()) if len(self.check) else 0.0,
            "worst_mlu_after": float(self.check["mlu_after"].replace(np.inf, np.nan).max()) if len(self.check) else 0.0,
            "lost_bps_no_path_max": float(self.check["lost_bps"].max()) if len(self.check) else 0.0,
            "critical_mlu_max": float(self.check["critical_mlu"].replace(np.inf, np.nan).max()) if len(self.check) else 0.0,
            "rounds": self.rounds, "seconds": self.seconds, **{k: v for k, v in self.info.items() if k != "series"},
        }

    def summary_text(self) -> str:
        add = self.additions()
        lines = [f"capacity plan for {self.network.name}: target utilisation {self.target_util:g}, failures "
                 f"{self.failures or 'none'}; {len(self.check)} scenarios checked, {len(self.active)} in the MILP",
                 f"method {self.method}: cost {self.cost:.4g} cu (bound {self.lower_bound:.4g}, gap {100 * self.gap:.2f}%), "
                 f"{self.seconds:.1f} s"]
        if add.empty:
            lines.append("no addition needed: every scenario already fits")
        for _, r in add.iterrows():
            mods = ", ".join(f"{int(r[f'n_{m.name}'])} x {m.name}" for m in self.modules if r[f"n_{m.name}"] > 0)
            lines.append(f"  {r['fibre']:<28} +{r['added_bps'] / 1e9:>7.0f} Gbit/s ({mods}) "
                         f"{r['capacity_before_bps'] / 1e9:.0f} -> {r['capacity_after_bps'] / 1e9:.0f} Gbit/s, "
                         f"cost {r['cost']:.3g} cu; binding: {r['binding_scenario']}")
        bad = self.check[~self.check["ok"]]
        if len(bad):
            lines.append(f"WARNING: {len(bad)} scenarios still violate their bound: {', '.join(bad['name'][:5])}")
        lost = self.check[self.check["lost_bps"] > 0]
        if len(lost):
            lines.append(f"{len(lost)} failure scenarios disconnect OD pairs: up to "
                         f"{lost['lost_bps'].max() / 1e9:.2f} Gbit/s lost whatever the capacity")
        return "\n".join(lines)


def _check_scenarios(lp, paths, scenarios, capacity, flows_out: list | None = None) -> np.ndarray:
    """Min MLU of each scenario on ``capacity`` (failed links at 0); the flows of the scenarios
    without failure are appended to ``flows_out`` when given."""
    out = np.zeros(len(scenarios))
    for i, sc in enumerate(scenarios):
        cap = capacity.copy()
        if sc.failed_links:
            cap[list(sc.failed_links)] = 0.0
        u, f = lp.min_mlu(sc.demand, cap, sc.usable)
        out[i] = u
        if flows_out is not None and not sc.failed_links and np.isfinite(u):
            flows_out.append(f)
    return out


def _violated(lp, paths, scen, cap, active, last_ratio, want: int) -> list:
    """Scenarios outside ``active`` violated on ``cap``, most violated first. They are checked in
    order of their last ratio (updated in place) and the search stops once ``want`` violations are
    found after checking at least ``2 * want`` scenarios; an empty list means every one was checked
    and none is violated."""
    act = set(active)
    order = [i for i in np.argsort(-last_ratio) if i not in act]
    found = []
    for n, i in enumerate(order):
        sc = scen[i]
        c = cap.copy()
        if sc.failed_links:
            c[list(sc.failed_links)] = 0.0
        u, _ = lp.min_mlu(sc.demand, c, sc.usable)
        last_ratio[i] = u / sc.util_bound
        if last_ratio[i] > 1 + 1e-6:
            found.append(i)
        if len(found) >= want and n + 1 >= 2 * want:
            break
    return sorted(found, key=lambda i: -last_ratio[i])


def _screen(paths, D: np.ndarray, cap: np.ndarray, flows: list, bound: float) -> np.ndarray:
    """Steps (rows of ``D``, (T, n_od) bit/s) proven to fit under ``bound``: some routing taken from
    ``flows`` (min-MLU solutions of other matrices, as split ratios) gives them an MLU <= bound.
    A sufficient test only; the others need the LP."""
    ok = np.zeros(len(D), dtype=bool)
    if not len(flows) or not len(D):
        return ok
    R = paths.incidence
    first = np.zeros(paths.n_paths)
    first[paths.od_ptr[:-1]] = 1.0
    for f in flows:
        tot = np.add.reduceat(f, paths.od_ptr[:-1])
        split = np.where(np.repeat(tot > 0, paths.paths_per_od),
                         f / np.repeat(np.where(tot > 0, tot, 1.0), paths.paths_per_od), first)
        todo = np.flatnonzero(~ok)
        if not len(todo):
            break
        load = R @ (split[:, None] * D[todo][:, paths.path_od].T)  # (L, n_todo)
        ok[todo] = (load / cap[:, None]).max(axis=0) <= bound
    return ok


def _build_milp(network, paths, fib, ftab, modules, scenarios, *, relax: bool, unit: float):
    """The MILP of the module notes as a HighsLp (column-wise)."""
    import highspy
    import scipy.sparse as sp

    E, M = len(ftab), len(modules)
    lengths = ftab["length_km"].to_numpy(float)
    ycost = np.array([[m.cost_for(lengths[e]) for m in modules] for e in range(E)]).ravel()
    rates = np.array([m.rate_bps for m in modules]) / unit
    cap = network.capacity / unit
    # upper bound on modules: enough to carry every scenario's total demand on one fibre
    tot = max(float(sc.demand.sum()) / max(sc.util_bound, 1e-9) for sc in scenarios) / unit
    yub = np.ceil(tot / rates) + 1
    blocks_rows, blocks_cols, blocks_vals = [], [], []
    row_lo, row_hi = [], []
    col_cost = [ycost]
    col_ub = [np.tile(yub, E)]
    n_row, n_col = 0, E * M
    R = paths.incidence
    inf = highspy.kHighsInf
    for sc in scenarios:
        dk = sc.demand > 0
        use = sc.usable & dk[paths.path_od]
        P = np.flatnonzero(use)
        ods = np.flatnonzero(dk)
        odpos = np.full(paths.n_od, -1)
        odpos[ods] = np.arange(len(ods))
        alive = np.ones(network.n_links, dtype=bool)
        if sc.failed_links:
            alive[list(sc.failed_links)] = False
        links = np.flatnonzero(alive)
        lpos = np.full(network.n_links, -1)
        lpos[links] = np.arange(len(links))
        nP = len(P)
        # OD rows
        blocks_rows.append(n_row + odpos[paths.path_od[P]])
        blocks_cols.append(n_col + np.arange(nP))
        blocks_vals.append(np.ones(nP))
        row_lo.append(sc.demand[ods] / unit)
        row_hi.append(sc.demand[ods] / unit)
        base_link = n_row + len(ods)
        sub = R[:, P].tocoo()
        keep = alive[sub.row]
        blocks_rows.append(base_link + lpos[sub.row[keep]])
        blocks_cols.append(n_col + sub.col[keep])
        blocks_vals.append(np.ones(int(keep.sum())))
        # y terms: -u_s * rate_m on the link's fibre
        lr = np.repeat(base_link + np.arange(len(links)), M)
        lc = (fib[links][:, None] * M + np.arange(M)[None, :]).ravel()
        blocks_rows.append(lr)
        blocks_cols.append(lc)
        blocks_vals.append(np.tile(-sc.util_bound * rates, len(links)))
        row_lo.append(np.full(len(links), -inf))
        row_hi.append(sc.util_bound * cap[links])
        n_row = base_link + len(links)
        col_cost.append(np.zeros(nP))
        col_ub.append(np.full(nP, inf))
        n_col += nP
    A = sp.csc_matrix((np.concatenate(blocks_vals), (np.concatenate(blocks_rows), np.concatenate(blocks_cols))),
                      shape=(n_row, n_col))
    A.sum_duplicates()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_col, n_row
    lp.col_cost_ = np.concatenate(col_cost)
    lp.col_lower_ = np.zeros(n_col)
    lp.col_upper_ = np.concatenate(col_ub)
    lp.row_lower_ = np.concatenate(row_lo)
    lp.row_upper_ = np.concatenate(row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_col, n_row
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * (E * M) + [highspy.HighsVarType.kContinuous] * (n_col - E * M)
    return lp, n_col


def _solve_milp(lp, n_int, *, relax, time_limit, mip_rel_gap, threads, start=None):
    """Solve; returns (y or None, cost, bound, gap, status text). ``start``: module counts given to
    HiGHS as a partial MIP start (it completes the flows itself)."""
    import highspy

    from ..optimise.highs import new_highs as _new_highs

    opts = {"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap)}
    if threads is not None:
        opts["threads"] = int(threads)
    h = _new_highs(opts)
    h.passModel(lp)
    if start is not None and not relax:
        idx = np.arange(len(start), dtype=np.int32)
        h.setSolution(len(start), idx, np.asarray(start, dtype=np.float64))
    h.run()
    st = h.getModelStatus()
    text = h.modelStatusToString(st)
    info = h.getInfo()
    sol = h.getSolution()
    has = bool(getattr(sol, "value_valid", False)) and info.primal_solution_status >= 2
    if st == highspy.HighsModelStatus.kInfeasible:
        raise SolverError("the capacity-planning MILP is infeasible; check that every OD with demand has a path")
    if not has:
        return None, float("nan"), float(info.mip_dual_bound) if not relax else float("nan"), float("nan"), text
    x = np.asarray(sol.col_value)
    y = x[:n_int]
    cost = float(info.objective_function_value)
    if relax:
        return y, cost, cost, 0.0, text
    bound = float(info.mip_dual_bound)
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else float("nan")
    return np.round(y).astype(np.int64), cost, bound, gap, text


def plan_capacity(network: Network, series: TrafficSeries, *, paths=None, k: int = 4, target_util: float = 0.8,
                  failures: str | None = None, failure_util: float | None = None, protect: str = "all",
                  classes=None, modules=None, steps: Sequence[int] | None = None, top_days: int = 4,
                  max_tms: int = 12, verify_all: bool = True, method: str = "auto", time_limit: float = 60.0,
                  mip_rel_gap: float = 1e-4, max_rounds: int = 10, add_per_round: int = 4, initial_scenarios: int = 4,
                  max_milp_columns: int = 2_000_000, threads: int | None = None,
                  progress=None) -> CapacityPlan:
    """Minimum-cost capacity additions in port modules (see the module notes).

    Parameters
    ----------
    network : the network (capacities in bit/s).
    series : the planning traffic (bit/s), already under any scenario (see :func:`planning_series`).
    paths : candidate paths (default: ``k`` shortest per OD pair).
    target_util : utilisation bound in every scenario without failure, in (0, 1].
    failures : None or ``"single-link"`` (every fibre cut in turn).
    failure_util : bound under failures (default ``target_util``), in (0, 1].
    protect : ``"all"`` (the whole demand must fit under failures) or ``"critical"`` (only the
        highest-priority class, within its latency bound).
    classes : class configuration for ``protect`` and the critical check (default: network's or default).
    modules : :class:`PortModule` sequence or spec (default :data:`DEFAULT_MODULES`).
    steps : plan for these steps instead of :func:`select_peak_tms` (``top_days``, ``max_tms``).
    verify_all : also check every step of the series without failure (violations join the MILP).
    method : ``"auto"`` (MILP, the heuristic when the MILP is too large or finds nothing in time),
        ``"milp"`` or ``"heuristic"``.
    time_limit : seconds for the MILP solves of all rounds together; when it runs out, the last
        incumbent is repaired by the heuristic (``method`` then reads e.g. ``'milp + repair'``).
    mip_rel_gap : HiGHS' relative MIP gap at which it stops.
    max_rounds, add_per_round, initial_scenarios : scenario generation (see the module notes): the
        MILP starts with the ``initial_scenarios`` hardest matrices without failure and takes up to
        ``add_per_round`` violated scenarios per round.
    max_milp_columns : above this many MILP columns use the heuristic.

    Returns
    -------
    CapacityPlan

    Examples
    --------
    >>> from surgeguard.examples import two_paths
    >>> net = two_paths()
    >>> tm = np.zeros((4, 4)); tm[0, 3] = 20e9
    >>> ts = TrafficSeries(tm[None], net.node_names)
    >>> plan = plan_capacity(net, ts, target_util=0.8, modules="10G:1")
    >>> plan.cost, len(plan.additions())      # one 10G module on both fibres of one route
    (2.0, 2)
    """
    from ..routing import k_shortest_paths
    from ..routing.priority import PathLP

    t_start = time.perf_counter()
    if not 0 < target_util <= 1:
        raise ValidationError(f"target utilisation must be in (0, 1], got {target_util}; e.g. --target-util 0.8")
    failure_util = target_util if failure_util is None else float(failure_util)
    if not 0 < failure_util <= 1:
        raise ValidationError(f"failure utilisation must be in (0, 1], got {failure_util}")
    if failures not in (None, "none", "single-link"):
        raise ValidationError(f"unknown failures {failures!r}; use 'single-link' or leave it out")
    failures = None if failures == "none" else failures
    if protect not in ("all", "critical"):
        raise ValidationError(f"protect={protect!r} must be 'all' or 'critical'")
    if method not in ("auto", "milp", "heuristic"):
        raise ValidationError(f"method={method!r} must be 'auto', 'milp' or 'heuristic'")
    mods = parse_modules(modules)
    series = series.reorder(network.node_names)
    paths = k_shortest_paths(network, k=k) if paths is None else paths
    paths.check_network(network)
    fib, ftab = fibres(network)
    if steps is None:
        steps = select_peak_tms(network, paths, series, top_days=top_days, max_tms=max_tms)
    steps = [int(s) for s in steps]
    bad = [s for s in steps if not 0 <= s < len(series)]
    if bad:
        raise ValidationError(f"plan steps {bad} are outside the series' {len(series)} steps")
    kw = dict(failures=failures, target_util=target_util, failure_util=failure_util, protect=protect, classes=classes)
    totals = series.total
    scen = _scenarios(network, paths, series, steps, fib, ftab, **kw, totals=totals)
    n_screened = n_lp_checked = 0
    extra_steps = [t for t in range(len(series)) if t not in set(steps)] if verify_all else []
    lp = PathLP(network, paths)
    unit = 1e9
    cap0 = network.capacity.astype(float)
    mlu_before = _check_scenarios(lp, paths, scen, cap0)
    # the MILP starts with the hardest matrices without failure (highest min-MLU now); the others
    # join only when the check finds them violated
    normal = [i for i, sc in enumerate(scen) if sc.failed_fibre is None]
    active = sorted(normal, key=lambda i: -mlu_before[i])[:max(1, int(initial_scenarios))]
    added = np.zeros((len(ftab), len(mods)), dtype=np.int64)
    status = ""
    rounds = 0
    verified_extra: list = []
    rates = np.array([m.rate_bps for m in mods])
    last_ratio = mlu_before / np.array([sc.util_bound for sc in scen])
    milp_end = time.perf_counter() + float(time_limit)
    bound = 0.0  # the best valid lower bound: a MILP (or its LP relaxation) over a subset of scenarios
    used: list[str] = []
    imp = _Improver(network, paths, fib, ftab, mods, lp)
    while True:
        rounds += 1
        act = [scen[i] for i in active]
        n_cols_est = len(ftab) * len(mods) + sum(int((sc.usable & (sc.demand > 0)[paths.path_od]).sum()) for sc in act)
        remaining = milp_end - time.perf_counter()
        use_milp = (method == "milp" or (method == "auto" and n_cols_est <= max_milp_columns)) and remaining > 0.5
        if use_milp:
            # a feasible start for the active scenarios: the previous modules, repaired (greedy at round 1)
            start = imp.repair(added, act)
            lpm, _ = _build_milp(network, paths, fib, ftab, mods, act, relax=False, unit=unit)
            y, _, b, _, status = _solve_milp(lpm, len(ftab) * len(mods), relax=False, time_limit=remaining,
                                             mip_rel_gap=mip_rel_gap, threads=threads, start=start.ravel())
            if np.isfinite(b):
                bound = max(bound, b)
            if y is not None and imp.cost(y.reshape(start.shape)) <= imp.cost(start) + 1e-9:
                added = y.reshape(len(ftab), len(mods))
                used.append("milp" if status == "Optimal" else f"milp ({status.lower()})")
            else:
                added = imp.prune(start, act)
                used.append("milp start + prune" if y is not None else "repair + prune")
        else:
            if method == "milp":
                raise SolverError(f"the capacity MILP ran out of its {time_limit:g} s budget; raise --time-limit "
                                  "or use --method heuristic")
            added, b = _heuristic(network, paths, fib, ftab, mods, act, lp, max(remaining, 10.0), threads, unit,
                                  n_cols_est <= max_milp_columns and rounds == 1, start=added if rounds > 1 else None)
            bound = max(bound, b)
            used.append("heuristic" if rounds == 1 else "repair + prune")
        cap1 = cap0 + (added @ rates)[fib]
        viol = _violated(lp, paths, scen, cap1, active, last_ratio, add_per_round)
        if verify_all and not viol and extra_steps:
            # every other step without failure: screened by the routings just found, the rest by LP
            flows: list = []
            _check_scenarios(lp, paths, [scen[i] for i in active if scen[i].failed_fibre is None], cap1, flows)
            D = totals[extra_steps][:, paths.od_src, paths.od_dst]
            proven = _screen(paths, D, cap1, flows, target_util)
            rest = [t for t, p in zip(extra_steps, proven) if not p]
            ext = _scenarios(network, paths, series, rest, fib, ftab, **{**kw, "failures": None}, totals=totals)
            ue = _check_scenarios(lp, paths, ext, cap1)
            n_screened += int(proven.sum())
            n_lp_checked += len(rest)
            vi = [i for i in np.argsort(-ue) if ue[i] > target_util * (1 + 1e-6)]
            if vi:
                new = [ext[i] for i in vi[:add_per_round]]
                for sc in new:
                    scen.append(sc)
                    extra_steps.remove(sc.step)
                mb = _check_scenarios(lp, paths, new, cap0)
                mlu_before = np.concatenate([mlu_before, mb])
                last_ratio = np.concatenate([last_ratio, mb / target_util])
                viol = list(range(len(scen) - len(new), len(scen)))
            else:
                verified_extra = [int(t) for t in extra_steps]
        if not viol:
            break
        active += viol[:add_per_round]
        if rounds >= max_rounds:
            # out of rounds: the violated scenarios join and the repair makes the plan feasible for
            # every scenario checked (repeated until none is violated)
            while True:
                act = [scen[i] for i in active]
                added = imp.prune(imp.repair(added, act), act)
                more = _violated(lp, paths, scen, cap0 + (added @ rates)[fib], active, last_ratio, len(scen))
                if not more:
                    break
                active += more
            used.append("repair + prune")
            break
    method_used = used[0] if len(set(used)) == 1 else " + ".join(dict.fromkeys(used))
    cap1 = cap0 + (added @ rates)[fib]
    u_after = _check_scenarios(lp, paths, scen, cap1)
    cost = float(sum(added[e, j] * m.cost_for(ftab["length_km"].iloc[e]) for e in range(len(ftab))
                     for j, m in enumerate(mods)))
    if used and all(u_ == "milp" for u_ in used):  # optimal for the active scenarios, feasible for all
        bound = cost if not np.isfinite(bound) else min(max(bound, 0.0), cost)
    elif cost > 0:
        # not proven optimal: the LP relaxation over every active scenario is a valid lower bound too
        act = [scen[i] for i in active]
        n_cols_est = len(ftab) * len(mods) + sum(int((sc.usable & (sc.demand > 0)[paths.path_od]).sum()) for sc in act)
        if n_cols_est <= max_milp_columns:
            lpm, _ = _build_milp(network, paths, fib, ftab, mods, act, relax=True, unit=unit)
            yb, b, *_ = _solve_milp(lpm, len(ftab) * len(mods), relax=True, time_limit=min(float(time_limit), 60.0),
                                    mip_rel_gap=mip_rel_gap, threads=threads)
            if yb is not None and np.isfinite(b):
                bound = max(bound, b)
    gap = max(0.0, (cost - bound) / cost) if cost > 0 else 0.0
    # the protected class's own MLU per scenario on the upgraded network (priority: it goes first)
    crit = _critical_mlu(network, paths, series, scen, cap1, classes, lp)
    check = pd.DataFrame({
        "name": [s.name for s in scen], "step": [s.step for s in scen], "time": [s.time for s in scen],
        "failed_fibre": [s.failed_fibre for s in scen], "bound": [s.util_bound for s in scen],
        "what": [s.what for s in scen], "mlu_before": mlu_before, "mlu_after": u_after,
        "lost_bps": [s.lost_bps for s in scen], "critical_mlu": crit,
        "ok": u_after <= np.array([s.util_bound for s in scen]) * (1 + 1e-6),
        "active": np.isin(np.arange(len(scen)), active)})
    binding = _binding(paths, scen, active, added, mods, fib, ftab, cap0, lp)
    return CapacityPlan(network, mods, added, ftab, fib, cost, method_used, float(gap), float(bound), scen, active,
                        check, binding, float(target_util), failures, time.perf_counter() - t_start, rounds,
                        {"steps": steps, "verified_steps_without_failure": len(verified_extra) + len(
                            [s for s in scen if s.failed_fibre is None]),
                         "steps_screened": n_screened, "steps_lp_checked": n_lp_checked,
                         "status": status, "failure_util": failure_util, "protect": protect,
                         "paths": int(paths.n_paths)})


def _critical_mlu(network, paths, series, scen, cap, classes, lp) -> np.ndarray:
    from ..classes import class_config

    cfg = class_config(classes, network)
    allowed, _ = cfg.allowed_paths(paths)
    out = np.zeros(len(scen))
    cache: dict[int, np.ndarray] = {}
    for i, sc in enumerate(scen):
        if sc.step not in cache:
            cache[sc.step] = paths.demand(cfg.class_matrices(series, sc.step)[0])
        d = cache[sc.step]
        use = sc.usable & allowed[0]
        c = cap.copy()
        if sc.failed_links:
            c[list(sc.failed_links)] = 0.0
        has = np.add.reduceat(use.astype(np.int64), paths.od_ptr[:-1]) > 0
        out[i], _ = lp.min_mlu(np.where(has, d, 0.0), c, use)
    return out


def _binding(paths, scen, active, added, mods, fib, ftab, cap0, lp) -> dict:
    """Per upgraded fibre: the active scenario that prevents removing its smallest module."""
    rates = np.array([m.rate_bps for m in mods])
    out = {}
    act = [scen[i] for i in active]
    bounds = np.array([sc.util_bound for sc in act])
    for e in np.flatnonzero(added.sum(axis=1) > 0):
        less = added.copy()
        j = int(np.flatnonzero(less[e] > 0)[np.argmin(rates[less[e] > 0])])
        less[e, j] -= 1
        cap = cap0 + (less @ rates)[fib]
        u = _check_scenarios(lp, paths, act, cap)
        r = u / bounds
        i = int(np.argmax(r))
        out[str(ftab.index[e])] = {"scenario": act[i].name if r[i] > 1 + 1e-9 else "(none: slack)",
                                   "util_without": float(u[i]), "bound": float(bounds[i])}
    return out


class _Improver:
    """Feasibility checks, repair, consolidation and pruning of module counts (the heuristic's steps)."""

    def __init__(self, network, paths, fib, ftab, mods, lp):
        self.paths, self.fib, self.mods, self.lp = paths, fib, mods, lp
        self.rates = np.array([m.rate_bps for m in mods])
        self.lengths = ftab["length_km"].to_numpy(float)
        self.cost_of = np.array([[m.cost_for(self.lengths[e]) for m in mods] for e in range(len(ftab))])
        self.cap0 = network.capacity.astype(float)
        self.order: dict[int, float] = {}  # id(scenario) -> last ratio, to test the tightest first

    def caps(self, added):
        return self.cap0 + (added @ self.rates)[self.fib]

    def cost(self, added) -> float:
        return float((added * self.cost_of).sum())

    def feasible(self, added, act) -> bool:
        """All of ``act`` within bound; the tightest scenarios (last seen) are tried first."""
        cap = self.caps(added)
        for sc in sorted(act, key=lambda x: -self.order.get(id(x), 0.0)):
            c = cap.copy()
            if sc.failed_links:
                c[list(sc.failed_links)] = 0.0
            u, _ = self.lp.min_mlu(sc.demand, c, sc.usable)
            self.order[id(sc)] = u / sc.util_bound
            if u > sc.util_bound * (1 + 1e-6):
                return False
        return True

    def repair(self, added, act, max_steps: int = 10_000):
        """Add modules until every scenario of ``act`` fits: the worst scenario first, on its most
        utilised link, by the shortfall there (cheapest module combination)."""
        added = added.copy()
        for _ in range(max_steps):
            u = _check_scenarios(self.lp, self.paths, act, self.caps(added))
            r = u / np.array([sc.util_bound for sc in act])
            for sc, x in zip(act, r):
                self.order[id(sc)] = x
            i = int(np.argmax(r))
            if r[i] <= 1 + 1e-6:
                break
            sc = act[i]
            while True:  # fix this scenario
                c = self.caps(added)
                if sc.failed_links:
                    c[list(sc.failed_links)] = 0.0
                uu, f = self.lp.min_mlu(sc.demand, c, sc.usable)
                if uu <= sc.util_bound * (1 + 1e-6):
                    break
                load = self.paths.incidence @ f
                util = np.where(c > 0, load / np.where(c > 0, c, 1.0), 0.0)
                l = int(np.argmax(util))
                e = int(self.fib[l])
                short = load[l] / sc.util_bound - c[l]
                n, _ = cheapest_modules(max(short, 1.0), self.mods, self.lengths[e])
                added[e] += n
        return self.consolidate(added)

    def consolidate(self, added):
        """Each fibre's modules replaced by the cheapest combination of at least the same rate."""
        added = added.copy()
        for e in np.flatnonzero(added.sum(axis=1) > 0):
            total = float(added[e] @ self.rates)
            n, c = cheapest_modules(total * (1 - 1e-12), self.mods, self.lengths[e])
            if c < float(added[e] @ self.cost_of[e]) - 1e-12:
                added[e] = n
        return added

    def prune(self, added, act):
        """Per fibre, most expensive first: the least added rate that keeps every scenario feasible
        (binary search in steps of the smallest module rate; feasibility is monotone in capacity),
        then the cheapest modules for it."""
        added = added.copy()
        step = float(self.rates.min())
        for e in sorted(np.flatnonzero(added.sum(axis=1) > 0), key=lambda e: -float(added[e] @ self.cost_of[e])):
            total = float(added[e] @ self.rates)
            lo, hi = 0, int(round(total / step))  # hi feasible
            while lo < hi:
                mid = (lo + hi) // 2
                trial = added.copy()
                trial[e], _ = cheapest_modules(mid * step * (1 - 1e-12), self.mods, self.lengths[e])
                if self.feasible(trial, act):
                    hi = mid
                else:
                    lo = mid + 1
            best, c = cheapest_modules(hi * step * (1 - 1e-12), self.mods, self.lengths[e])
            if c <= float(added[e] @ self.cost_of[e]) + 1e-12:
                added[e] = best
        return added


def _heuristic(network, paths, fib, ftab, mods, act, lp, time_limit, threads, unit, try_lp, start=None):
    """LP relaxation + rounding + repair + prune (see the module notes). Returns (added, bound).

    With ``start`` (module counts), rounding is skipped: the repair and prune start from it."""
    E, M = len(ftab), len(mods)
    imp = _Improver(network, paths, fib, ftab, mods, lp)
    bound = 0.0
    need = np.zeros(E)
    if try_lp and time_limit > 0 and start is None:
        lpm, _ = _build_milp(network, paths, fib, ftab, mods, act, relax=True, unit=unit)
        y, cost, b, _, _ = _solve_milp(lpm, E * M, relax=True, time_limit=time_limit, mip_rel_gap=1e-4,
                                       threads=threads)
        if y is not None:
            bound = b
            need = (y.reshape(E, M) * (imp.rates / unit)).sum(axis=1) * unit
    added = np.zeros((E, M), dtype=np.int64)
    if start is not None:
        added = np.asarray(start, dtype=np.int64).copy()
    else:
        for e in range(E):
            if need[e] > 1e-6 * unit:
                added[e], _ = cheapest_modules(need[e] * (1 - 1e-9), mods, imp.lengths[e])
    added = imp.repair(added, act)
    added = imp.prune(added, act)
    return added, bound


# ====================================================================================== baselines
def shortest_upgrade(network: Network, series: TrafficSeries, *, paths=None, k: int = 4, target_util: float = 0.8,
                     modules=None, steps: Sequence[int] | None = None, congest_util: float | None = None) -> dict:
    """The per-link baseline: every fibre whose utilisation under shortest-path routing (ECMP)
    exceeds ``congest_util`` (default ``target_util``) in any step gets the cheapest modules that
    bring its peak utilisation to ``target_util`` (routing unchanged).

    Returns
    -------
    dict: ``cost``, ``added`` (n_fibres, n_modules), ``fibres`` (names upgraded), ``capacity_after``
    (n_links,) bit/s, ``peak_util`` (n_links,) before.
    """
    from ..routing import ShortestPath, k_shortest_paths

    mods = parse_modules(modules)
    series = series.reorder(network.node_names)
    paths = k_shortest_paths(network, k=k) if paths is None else paths
    fib, ftab = fibres(network)
    r = ShortestPath().route(network, paths, None)
    mats = series.total if steps is None else series.total[list(steps)]
    d = mats[:, paths.od_src, paths.od_dst]
    peak = (paths.incidence @ (d[:, paths.path_od] * r.splits).T).max(axis=1)
    cap = network.capacity
    util = peak / cap
    thr = target_util if congest_util is None else congest_util
    added = np.zeros((len(ftab), len(mods)), dtype=np.int64)
    cost = 0.0
    lengths = ftab["length_km"].to_numpy(float)
    for e in range(len(ftab)):
        links = list(ftab["links"].iloc[e])
        if not (util[links] > thr * (1 + 1e-9)).any():
            continue
        short = max(float((peak[links] / target_util - cap[links]).max()), 0.0)
        added[e], c = cheapest_modules(short, mods, lengths[e])
        cost += c
    after = cap + (added @ np.array([m.rate_bps for m in mods]))[fib]
    return {"cost": float(cost), "added": added, "fibres": [str(ftab.index[e]) for e in np.flatnonzero(added.sum(1))],
            "capacity_after": after, "peak_util": util}


# ====================================================================================== checking
@dataclass(eq=False)
class CapacityCheck:
    """Congested intervals of a series on one or more capacity vectors (see :func:`check_capacity`).

    Attributes
    ----------
    frame : one row per (network variant, policy): intervals, intervals_over_1 (MLU > 1),
        intervals_over_target, mlu_max, lost_bits (``evaluate``'s loss model).
    per_step : variant -> policy -> (n_steps,) MLU.
    """

    frame: pd.DataFrame
    per_step: dict
    times: pd.DatetimeIndex
    seconds: float


def check_capacity(network: Network, paths, series: TrafficSeries, capacities: dict, *, start: int = 0,
                   stop: int | None = None, target_util: float = 0.8, latency_stage: bool = True,
                   policies=("shortest", "optimal", "oracle")) -> CapacityCheck:
    """Replay ``series`` on several capacity vectors with up to three routings and count congestion.

    For each variant (``{name: capacity (n_links,) bit/s}``) and step t: ``shortest`` (ECMP),
    ``optimal`` (the min-MLU LP of step t-1 with the latency stage, judged on step t: what the
    ``optimal`` policy does in a replay; shortest paths at the first step) and ``oracle`` (the
    min-MLU LP of step t). Loss follows :func:`surgeguard.evaluate.evaluate` (each overloaded link
    drops its excess in proportion). ``policies`` is a tuple for every variant or a dict
    ``{variant: tuple}``; only ``optimal``/``oracle`` need LPs (about 10-15 ms a step on Morocco).
    """
    from ..routing import ShortestPath
    from ..routing.priority import PathLP

    t0 = time.perf_counter()
    series = series.reorder(network.node_names)
    stop = len(series) if stop is None else stop
    if not 0 <= start < stop <= len(series):
        raise ValidationError(f"check range {start}..{stop} is outside the series' {len(series)} steps")
    sp_split = ShortestPath().route(network, paths, None).splits
    D = series.total[:, paths.od_src, paths.od_dst]  # (T, n_od)
    R = paths.incidence
    dt = series.step.total_seconds() if series.step is not None else 0.0
    rows, per = [], {}

    def mlu_loss(cap, flows):
        load = R @ flows
        util = load / cap
        over = util > 1
        frac = np.where(over, 1 - cap / np.where(load > 0, load, 1.0), 0.0)
        pf = np.maximum.reduceat(frac[paths.link_idx], paths.link_ptr[:-1])
        return float(util.max()), float((flows * pf).sum())

    known = ("shortest", "optimal", "oracle")
    lp = None
    for name, cap in capacities.items():
        cap = np.asarray(cap, dtype=float)
        pols = tuple(policies.get(name, known) if isinstance(policies, dict) else policies)
        bad = [p for p in pols if p not in known]
        if bad:
            raise ValidationError(f"check policies {bad} unknown; choose from {list(known)}")
        need_lp = "optimal" in pols or "oracle" in pols
        if need_lp and lp is None:
            lp = PathLP(network, paths)
        res = {p: np.zeros(stop - start) for p in pols}
        lost = {p: 0.0 for p in res}
        prev_split = None
        if "shortest" in pols:
            flows_all = sp_split[:, None] * D[start:stop][:, paths.path_od].T  # (n_paths, n_steps)
            for i in range(stop - start):
                m, ls = mlu_loss(cap, flows_all[:, i])
                res["shortest"][i], lost["shortest"] = m, lost["shortest"] + ls
        for i, t in enumerate(range(start, stop)) if need_lp else ():
            d = D[t]
            u, f = lp.min_mlu(d, cap, latency_stage=latency_stage and "optimal" in pols)
            if "oracle" in pols:
                res["oracle"][i] = u
            if "optimal" in pols:
                tot = np.add.reduceat(f, paths.od_ptr[:-1])
                split = np.where(np.repeat(tot > 0, paths.paths_per_od),
                                 f / np.repeat(np.where(tot > 0, tot, 1.0), paths.paths_per_od), sp_split)
                if prev_split is None:  # no history: shortest paths (as the replay's fallback)
                    prev_split = sp_split
                m, ls = mlu_loss(cap, prev_split * d[paths.path_od])
                res["optimal"][i], lost["optimal"] = m, lost["optimal"] + ls
                prev_split = split
        per[name] = res
        for p, v in res.items():
            rows.append({"variant": name, "policy": p, "intervals": int(len(v)), "intervals_over_1": int((v > 1 + 1e-9).sum()),
                         "intervals_over_target": int((v > target_util + 1e-9).sum()), "mlu_max": float(v.max()),
                         "lost_bits": float(lost[p] * dt) if p != "oracle" else float("nan")})
    return CapacityCheck(pd.DataFrame(rows), per, series.times[start:stop], time.perf_counter() - t0)


def planning_series(series: TrafficSeries, scenario=None, *, network: Network | None = None) -> TrafficSeries:
    """The series a plan is made for: ``scenario`` applied *in full from the first step*.

    A scenario without ``start`` (a spec without ``start=``, or an object whose ``start`` is None)
    is planned as if it held over the whole series: ``start`` = the first step and, unless the spec
    gives it, ``ramp_days = 0``. An explicit start is kept. ``None`` or ``'none'`` returns the
    series unchanged.
    """
    import dataclasses

    from ..scenario import get_scenario
    from ..scenario.base import split_spec

    if scenario is None:
        return series
    if isinstance(scenario, str):
        name, kv = split_spec(scenario)
        sc = get_scenario(scenario)
        full = "start" not in kv or kv["start"].lower() in ("", "auto")
        keep_ramp = "ramp_days" in kv
    else:
        sc = scenario
        name = getattr(sc, "name", "")
        full = getattr(sc, "start", None) is None
        keep_ramp = not full
    if name == "none":
        return series
    if full and dataclasses.is_dataclass(sc) and hasattr(sc, "start"):
        changes = {"start": series.times[0]}
        if hasattr(sc, "ramp_days") and not keep_ramp:
            changes["ramp_days"] = 0.0
        sc = dataclasses.replace(sc, **changes)
    return sc.apply(series, network=network)


# ====================================================================================== demo study
def lockdown_plan_study(network: Network, paths, series: dict | tuple, before: int, *, scenario="lockdown",
                        classes=None, target_util: float = 0.8, modules=None, failures: str | None = None,
                        time_limit: float = 60.0, check_start: int | None = None, latency_stage: bool = True,
                        full_check: bool = False) -> dict:
    """The demo's capacity-plan study, in one call.

    Plan with the traffic known before step ``before`` (the steps ``0 .. before-1`` of ``series``
    *without* the scenario, i.e. what was measured up to the plan date -- pass the baseline series
    here, not the lockdown one) under ``scenario`` in full (:func:`planning_series`); then replay
    the actual ``check series`` on the network before and after the plan, and on the per-link
    baseline (:func:`shortest_upgrade` on the same planning traffic).

    Parameters
    ----------
    network, paths : the network before the plan and its candidate paths.
    series : a dict ``{"planning": baseline series, "actual": the series to check (e.g. the
        lockdown replay's)}`` or a pair of series in that order.
    before : planning uses the baseline steps ``[0, before)``.
    check_start : first step of the actual series to check (default 0).
    full_check : check every variant with all three routings; by default (faster) the plan with
        ``shortest``, ``optimal`` and ``oracle``, the network before with ``shortest`` and
        ``optimal``, and the two baselines with ``shortest`` (they are sized for it).

    Returns
    -------
    dict: ``plan`` (:class:`CapacityPlan`), ``baseline`` (:func:`shortest_upgrade` result: every fibre
    above the target under shortest paths), ``baseline_congest`` (only fibres above 100 %),
    ``check`` (:class:`CapacityCheck` with variants ``before``, ``plan``, ``shortest-upgrade``,
    ``congested-upgrade``), ``planning_series``, ``seconds``.
    """
    t0 = time.perf_counter()
    if isinstance(series, dict):
        base, actual = series["planning"], series["actual"]
    else:
        base, actual = series
    if not 0 < before <= len(base):
        raise ValidationError(f"before={before} must be within the planning series' {len(base)} steps")
    plan_ts = planning_series(base.window(0, before), scenario, network=network)
    plan = plan_capacity(network, plan_ts, paths=paths, target_util=target_util, modules=modules, failures=failures,
                         classes=classes, time_limit=time_limit)
    base_up = shortest_upgrade(network, plan_ts, paths=paths, target_util=target_util, modules=plan.modules)
    base_congest = shortest_upgrade(network, plan_ts, paths=paths, target_util=target_util, modules=plan.modules,
                                    congest_util=1.0)
    allp = ("shortest", "optimal", "oracle")
    pols = {v: allp for v in ("before", "plan", "shortest-upgrade", "congested-upgrade")} if full_check else {
        "before": ("shortest", "optimal"), "plan": allp, "shortest-upgrade": ("shortest",),
        "congested-upgrade": ("shortest",)}
    check = check_capacity(network, paths, actual, {"before": network.capacity, "plan": plan.capacity_after,
                                                   "shortest-upgrade": base_up["capacity_after"],
                                                   "congested-upgrade": base_congest["capacity_after"]},
                           start=check_start or 0, target_util=target_util, latency_stage=latency_stage,
                           policies=pols)
    return {"plan": plan, "baseline": base_up, "baseline_congest": base_congest, "check": check,
            "planning_series": plan_ts, "seconds": time.perf_counter() - t0}


def capacity_plan_section(study: dict) -> tuple[str, str]:
    """The demo report's "Capacity plan" section: ``(heading, html)``, self-contained (tables).

    Parameters
    ----------
    study : the result of :func:`lockdown_plan_study`.
    """
    from html import escape

    plan: CapacityPlan = study["plan"]
    base = study["baseline"]
    chk: CapacityCheck = study["check"]
    add = plan.additions()
    mods = plan.modules
    head = ("<tr><th>fibre</th><th>length (km)</th>" + "".join(f"<th>{escape(m.name)}</th>" for m in mods)
            + "<th>added (Gbit/s)</th><th>capacity (Gbit/s)</th><th>cost (cu)</th><th>binding scenario</th>"
              "<th>util. without one module</th></tr>")
    rows = []
    for _, r in add.iterrows():
        rows.append(
            f"<tr><td>{escape(r['fibre'])}</td><td>{r['length_km']:.0f}</td>"
            + "".join(f"<td>{int(r[f'n_{m.name}'])}</td>" for m in mods)
            + f"<td>{r['added_bps'] / 1e9:,.0f}</td><td>{r['capacity_before_bps'] / 1e9:,.0f} → "
              f"{r['capacity_after_bps'] / 1e9:,.0f}</td><td>{r['cost']:.2f}</td><td>{escape(r['binding_scenario'])}</td>"
              f"<td>{r['binding_util_without']:.3f}</td></tr>")
    t1 = (f'<div class="table-wrap"><table class="data"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>' if rows
          else "<p>No addition needed.</p>")
    fr = chk.frame
    vh = ("<tr><th>network</th><th>policy</th><th>intervals</th><th>MLU &gt; 1</th>"
          f"<th>MLU &gt; {plan.target_util:g}</th><th>max MLU</th><th>lost (Tbit)</th></tr>")
    labels = {"before": "as sized before the plan", "plan": f"with the plan ({plan.cost:.1f} cu)",
              "shortest-upgrade": f"every fibre above {plan.target_util:g} under shortest upgraded ({base['cost']:.1f} cu)",
              "congested-upgrade": f"every fibre above 100% under shortest upgraded "
                                   f"({study['baseline_congest']['cost']:.1f} cu)"}
    vrows = "".join(
        f"<tr><td>{escape(labels.get(r.variant, r.variant))}</td><td>{escape(r.policy)}</td><td>{r.intervals}</td>"
        f"<td>{r.intervals_over_1}</td><td>{r.intervals_over_target}</td><td>{r.mlu_max:.3f}</td>"
        f"<td>{'' if not np.isfinite(r.lost_bits) else f'{r.lost_bits / 1e12:,.3f}'}</td></tr>"
        for r in fr.itertuples())
    t2 = f'<div class="table-wrap"><table class="data"><thead>{vh}</thead><tbody>{vrows}</tbody></table></div>'
    p_opt = fr[(fr.variant == "plan") & (fr.policy == "optimal")]
    b_opt = fr[(fr.variant == "before") & (fr.policy == "optimal")]
    p_sh = fr[(fr.variant == "plan") & (fr.policy == "shortest")]
    verdict = ""
    if len(p_opt) and len(b_opt):
        verdict = (f"<p>Replayed on the upgraded network, the min-MLU policy has <b>{int(p_opt.intervals_over_1.iloc[0])}</b> "
                   f"congested intervals (MLU &gt; 1), against {int(b_opt.intervals_over_1.iloc[0])} before; the plan costs "
                   f"<b>{plan.cost:.1f} cu</b>, the per-link upgrade of every fibre above {plan.target_util:g} under "
                   f"shortest paths {base['cost']:.1f} cu ({len(base['fibres'])} fibres); upgrading only the fibres above "
                   f"100% would cost {study['baseline_congest']['cost']:.1f} cu ({len(study['baseline_congest']['fibres'])} "
                   f"fibres).")
        if len(p_sh):
            verdict += (f" The plan counts on traffic engineering: with shortest-path routing alone the upgraded network "
                        f"still has {int(p_sh.intervals_over_1.iloc[0])} congested intervals.")
        verdict += "</p>"
    mtxt = ", ".join(f"{escape(m.name)} {m.cost:g} cu + {m.cost_per_km:g} cu/km" for m in mods)
    intro = (f'<p class="sub">Planned with the traffic measured before the plan date under the lockdown scenario in full '
             f"({len(plan.info.get('steps', []))} peak matrices, then every step checked), target utilisation "
             f"{plan.target_util:g}, failures {escape(plan.failures or 'none')}. Cheapest modules per fibre (both "
             f"directions), a MILP solved by HiGHS ({escape(plan.method)}, gap {100 * plan.gap:.2f}%, {plan.seconds:.1f} s). "
             f"Modules: {mtxt} (illustrative relative costs).</p>")
    return "Capacity plan", intro + verdict + t1 + "<h3>Replay of the actual traffic</h3>" + t2 + (
        f'<p class="sub">Check: {chk.frame.intervals.iloc[0]} intervals, {chk.seconds:.1f} s; study {study["seconds"]:.1f} s.</p>')
