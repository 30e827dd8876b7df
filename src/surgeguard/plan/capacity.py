"""Capacity planning: the cheapest port modules to add so that every scenario fits.

Problem
-------
Given a network, candidate paths, a traffic series (optionally under a scenario such as the
lockdown) and a catalogue of port modules (:class:`PortModule`: rate, cost per module, cost per km
of fibre), choose how many modules of each kind to add on each *fibre* -- a bidirectional circuit
of :func:`surgeguard.failures.circuit_frame` (``'A<->B'``): the two directions of a link share
them, a module adds its rate in both directions -- at minimum total cost, such that in every
planning scenario the traffic can be routed over the candidate paths with every link's
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
This module builds the scenarios and reads the results; the solvers are in
:mod:`surgeguard.optimise.capacity`: a mixed-integer LP solved by HiGHS,

    min  sum_{e,m} (cost_m + cost_per_km_m * length_e) y_em                  y_em integer >= 0
    s.t. sum_{p in P_s(k)} f_sp = d_sk                       every active scenario s, OD k
         sum_{p ni l} f_sp - u_s sum_m rate_m y_{e(l),m} <= u_s c_l    every surviving link l of s
         f >= 0

with ``P_s(k)`` the candidate paths of OD k that survive in s and ``u_s`` its bound. Scenarios are
generated, not enumerated: the MILP starts with the hardest peak matrices without failure; each
round the upgraded network is checked on every scenario with the min-MLU LP
(:class:`~surgeguard.optimise.classes.PathLP`), and the ``add_per_round`` most violated ones join
the MILP, until none is violated (``max_rounds``). The result is optimal for the active scenarios
and feasible for all.

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

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..classes import class_config
from ..evaluate.metrics import path_loss_fraction
from ..exceptions import SolverError, ValidationError
from ..failures import circuit_frame
from ..network import Network
from ..optimise.capacity import (CapacityProblem, ModuleImprover, binding_cases, build_milp, case_mlu,
                                 cheapest_combination, heuristic, proven_by_routings, solve_milp, violated_cases)
from ..paths import k_shortest_paths
from ..routing import ShortestPath
from ..optimise.classes import PathLP
from ..scenario import get_scenario, split_spec
from ..traffic import TrafficSeries
from ..validation import Interval, NoneOr, Options, check_param

__all__ = ["PortModule", "DEFAULT_MODULES", "parse_modules", "cheapest_modules", "select_peak_tms",
           "PlanScenario", "PlanSettings", "CapacityPlan", "plan_capacity", "shortest_upgrade", "planning_series",
           "check_capacity", "CapacityCheck", "lockdown_plan_study"]


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
    """The cheapest module counts whose total rate is at least ``amount_bps`` on a fibre of
    ``length_km`` km (exact: :func:`surgeguard.optimise.capacity.cheapest_combination`).

    >>> n, c = cheapest_modules(120e9, DEFAULT_MODULES)
    >>> n.tolist(), c
    ([2, 1, 0], 6.0)
    """
    return cheapest_combination(amount_bps, _rates(modules), np.array([m.cost_for(length_km) for m in modules]))


def _rates(modules: Sequence[PortModule]) -> np.ndarray:
    return np.array([m.rate_bps for m in modules])


def _module_costs(modules: Sequence[PortModule], fibre_table: pd.DataFrame) -> np.ndarray:
    """(n_fibres, n_modules) cost of one module on each fibre."""
    lengths = fibre_table["length_km"].to_numpy(float)
    return np.array([[m.cost_for(lengths[e]) for m in modules] for e in range(len(fibre_table))])


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


# ====================================================================================== settings
@dataclass(frozen=True)
class PlanSettings:
    """The options of :func:`plan_capacity` (each can also be given to it as a keyword).

    Attributes
    ----------
    k : candidate paths per OD pair when no paths are given.
    target_util : utilisation bound in every scenario without failure, in (0, 1].
    failures : None (or ``"none"``) or ``"single-link"`` (every fibre cut in turn).
    failure_util : bound under failures (None: ``target_util``), in (0, 1].
    protect : ``"all"`` (the whole demand must fit under failures) or ``"critical"`` (only the
        highest-priority class, within its latency bound).
    classes : class configuration for ``protect`` and the critical check (default: network's or default).
    modules : :class:`PortModule` sequence or spec (default :data:`DEFAULT_MODULES`).
    steps : plan for these steps instead of :func:`select_peak_tms` (``top_days``, ``max_tms``).
    verify_all : also check every step of the series without failure (violations join the MILP).
    method : ``"auto"`` (MILP, the heuristic when the MILP is too large or finds nothing in time),
        ``"milp"`` or ``"heuristic"``.
    time_limit : seconds for the MILP solves of all rounds together; when it runs out, the last
        incumbent is repaired by the heuristic (the plan's ``method`` then reads e.g. ``'milp + repair'``).
    mip_rel_gap : HiGHS' relative MIP gap at which it stops.
    max_rounds, add_per_round, initial_scenarios : scenario generation (see the module notes): the
        MILP starts with the ``initial_scenarios`` hardest matrices without failure and takes up to
        ``add_per_round`` violated scenarios per round.
    max_milp_columns : above this many MILP columns use the heuristic.
    threads : HiGHS threads (None: its default).

    >>> PlanSettings(target_util=0.7, failures="none").failures is None
    True
    """

    k: int = 4
    target_util: float = 0.8
    failures: str | None = None
    failure_util: float | None = None
    protect: str = "all"
    classes: Any = None
    modules: Any = None
    steps: Sequence[int] | None = None
    top_days: int = 4
    max_tms: int = 12
    verify_all: bool = True
    method: str = "auto"
    time_limit: float = 60.0
    mip_rel_gap: float = 1e-4
    max_rounds: int = 10
    add_per_round: int = 4
    initial_scenarios: int = 4
    max_milp_columns: int = 2_000_000
    threads: int | None = None

    _parameter_constraints = {
        "target_util": [Interval(float, 0, 1, closed="right")],
        "failure_util": [NoneOr(), Interval(float, 0, 1, closed="right")],
        "failures": [NoneOr(), Options({"none", "single-link"})],
        "protect": [Options({"all", "critical"})],
        "method": [Options({"auto", "milp", "heuristic"})],
    }

    def __post_init__(self):
        for name, cons in self._parameter_constraints.items():
            check_param("PlanSettings", name, getattr(self, name), cons)
        if self.failures == "none":
            object.__setattr__(self, "failures", None)

    @property
    def failure_bound(self) -> float:
        """The utilisation bound under failures."""
        return self.target_util if self.failure_util is None else float(self.failure_util)

    @classmethod
    def from_options(cls, settings: "PlanSettings | None" = None, **options) -> "PlanSettings":
        """``settings`` (default: the defaults) with ``options`` replaced; unknown names are refused."""
        names = [f.name for f in dataclasses.fields(cls)]
        bad = sorted(set(options) - set(names))
        if bad:
            raise ValidationError(f"unknown capacity-plan options {bad}; the options are {names}")
        return dataclasses.replace(settings or cls(), **options)


# ====================================================================================== scenarios
@dataclass(frozen=True, eq=False)
class PlanScenario:
    """One planning scenario: a traffic matrix, a failure state and a utilisation bound.

    Attributes
    ----------
    name : ``'<time> normal'`` or ``'<time> cut A<->B'``.
    step : step of the planning series.
    time : its UTC time.
    failed_fibre : fibre name or None.
    util_bound : maximum utilisation allowed.
    demand : (n_od,) bit/s that must be routed (ODs with no surviving path removed).
    usable : (n_paths,) bool, the paths that survive (and, for a protected class, are allowed).
    lost_bps : demand of the ODs with no surviving path (cannot be helped by capacity).
    lost_od : those ODs as ``'A->B'`` names.
    what : ``'all'`` (the whole demand) or the protected class's name.
    failed_links : indices of the links cut.
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


class _ScenarioBuilder:
    """Planning scenarios of one (network, paths, series, settings): steps x failure states."""

    def __init__(self, network: Network, paths, series: TrafficSeries, fibre_table: pd.DataFrame,
                 settings: PlanSettings):
        self.paths, self.series, self.fibre_table, self.settings = paths, series, fibre_table, settings
        self.totals = series.total
        self.classes = class_config(settings.classes, network)
        self.allowed = self.classes.allowed_paths(paths)[0][0]  # the highest class's allowed paths
        self.protected = self.classes.names[0] if settings.protect == "critical" else None

    def build(self, steps: Sequence[int], failures: str | None) -> list[PlanScenario]:
        """Every (step, failure state): no failure, then (``'single-link'``) each fibre cut."""
        cuts: list[int | None] = [None]
        if failures == "single-link":
            cuts += list(range(len(self.fibre_table)))
        out = []
        for t in steps:
            d_all = self.paths.demand(self.totals[int(t)], what=f"traffic step {t}")
            critical = None
            for e in cuts:
                if e is not None and self.protected and critical is None:
                    critical = self.paths.demand(self.classes.class_matrices(self.series, int(t))[0],
                                                 what=f"{self.protected} traffic step {t}")
                out.append(self._scenario(int(t), e, d_all, critical))
        return out

    def _scenario(self, t: int, cut: int | None, d_all: np.ndarray, critical: np.ndarray | None) -> PlanScenario:
        ps, cfg = self.paths, self.settings
        if cut is None:
            use = np.ones(ps.n_paths, dtype=bool)
            d, bound, what, failed = d_all.copy(), cfg.target_util, "all", ()
        else:
            failed = tuple(int(x) for x in self.fibre_table["links"].iloc[cut])
            use = ps.usable_without(list(failed))
            if self.protected:
                d = critical
                # the latency bound holds while one of the class's paths survives; an OD whose
                # allowed paths are all cut falls back to its lowest-latency surviving path
                within = use & self.allowed
                ok_od = ps.od_sum(within.astype(np.int64)) > 0
                lat = np.where(use, ps.latency_ms, np.inf)
                best = ps.od_min(lat)
                fallback = use & (lat <= best[ps.path_od]) & ~ok_od[ps.path_od]
                use = within | fallback
                what = self.protected
            else:
                d, what = d_all.copy(), "all"
            bound = cfg.failure_bound
        has = ps.od_sum(use.astype(np.int64)) > 0
        gone = (d > 0) & ~has
        lost = float(d[gone].sum())
        lost_od = tuple(f"{ps.node_names[ps.od_src[k]]}->{ps.node_names[ps.od_dst[k]]}" for k in np.flatnonzero(gone))
        d = np.where(has, d, 0.0)
        when = self.series.times[t]
        fname = None if cut is None else str(self.fibre_table.index[cut])
        name = (f"{when.strftime('%Y-%m-%d %H:%M')} " + ("normal" if cut is None else f"cut {fname}")
                + ("" if what == "all" else f" ({what})"))
        return PlanScenario(name, t, when, fname, float(bound), d, use, lost, lost_od, what, failed)

    def critical_mlu(self, problem: CapacityProblem, scenarios: Sequence[PlanScenario], capacity: np.ndarray,
                     ) -> np.ndarray:
        """The highest class's own min MLU in each scenario, within its latency bound."""
        ps = self.paths
        out = np.zeros(len(scenarios))
        cache: dict[int, np.ndarray] = {}
        for i, sc in enumerate(scenarios):
            if sc.step not in cache:
                cache[sc.step] = ps.demand(self.classes.class_matrices(self.series, sc.step)[0])
            d = cache[sc.step]
            use = sc.usable & self.allowed
            c = capacity.copy()
            if sc.failed_links:
                c[list(sc.failed_links)] = 0.0
            has = ps.od_sum(use.astype(np.int64)) > 0
            out[i], _ = problem.lp.min_mlu(np.where(has, d, 0.0), c, use)
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
    fibre_table : fibres (:func:`surgeguard.failures.circuit_frame`): ``links``, ``length_km``.
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
        """JSON-ready summary."""
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


# ====================================================================================== solving
class _Rounds:
    """Scenario generation (see the module notes): solve over the active scenarios, check all of
    them (and, with ``verify_all``, every other step without failure), add the most violated,
    repeat."""

    def __init__(self, problem: CapacityProblem, builder: _ScenarioBuilder, scenarios: list[PlanScenario],
                 steps: Sequence[int], settings: PlanSettings):
        self.pb, self.builder, self.scen, self.cfg = problem, builder, scenarios, settings
        self.mlu_before = case_mlu(problem, scenarios, problem.capacity)
        # the MILP starts with the hardest matrices without failure (highest min-MLU now); the others
        # join only when the check finds them violated
        normal = [i for i, sc in enumerate(scenarios) if sc.failed_fibre is None]
        self.active = sorted(normal, key=lambda i: -self.mlu_before[i])[:max(1, int(settings.initial_scenarios))]
        self.last_ratio = self.mlu_before / np.array([sc.util_bound for sc in scenarios])
        self.added = np.zeros(problem.shape, dtype=np.int64)
        self.extra_steps = [t for t in range(len(builder.series)) if t not in set(steps)] if settings.verify_all else []
        self.verified_extra: list[int] = []
        self.n_screened = self.n_lp_checked = 0
        self.bound = 0.0  # the best valid lower bound: a MILP (or its LP relaxation) over a subset of scenarios
        self.used: list[str] = []
        self.status = ""
        self.rounds = 0
        self.milp_end = time.perf_counter() + float(settings.time_limit)
        self.improver = ModuleImprover(problem)

    def run(self) -> None:
        cfg = self.cfg
        while True:
            self.rounds += 1
            self._solve_active()
            viol = self._violations(self.pb.capacity_after(self.added))
            if not viol:
                return
            self.active += viol[:cfg.add_per_round]
            if self.rounds >= cfg.max_rounds:
                self._repair_the_rest()
                return

    def _solve_active(self) -> None:
        """One round's module counts for the active scenarios: the MILP (started from the previous
        counts, repaired) while its budget lasts, else the heuristic."""
        cfg, imp = self.cfg, self.improver
        act = [self.scen[i] for i in self.active]
        n_cols = self.pb.n_columns(act)
        remaining = self.milp_end - time.perf_counter()
        use_milp = (cfg.method == "milp" or (cfg.method == "auto" and n_cols <= cfg.max_milp_columns)) \
            and remaining > 0.5
        if use_milp:
            # a feasible start for the active scenarios: the previous modules, repaired (greedy at round 1)
            start = imp.repair(self.added, act)
            res = solve_milp(build_milp(self.pb, act), self.pb.shape, time_limit=remaining,
                             mip_rel_gap=cfg.mip_rel_gap, threads=cfg.threads, start=start)
            self.status = res.status
            if np.isfinite(res.bound):
                self.bound = max(self.bound, res.bound)
            if res.added is not None and self.pb.cost(res.added) <= self.pb.cost(start) + 1e-9:
                self.added = res.added
                self.used.append("milp" if res.status == "Optimal" else f"milp ({res.status.lower()})")
            else:
                self.added = imp.prune(start, act)
                self.used.append("milp start + prune" if res.added is not None else "repair + prune")
        else:
            if cfg.method == "milp":
                raise SolverError(f"the capacity MILP ran out of its {cfg.time_limit:g} s budget; raise the time "
                                  "limit or use the heuristic method")
            self.added, b = heuristic(self.pb, act, time_limit=max(remaining, 10.0), threads=cfg.threads,
                                      try_lp=n_cols <= cfg.max_milp_columns and self.rounds == 1,
                                      start=self.added if self.rounds > 1 else None)
            self.bound = max(self.bound, b)
            self.used.append("heuristic" if self.rounds == 1 else "repair + prune")

    def _violations(self, cap: np.ndarray) -> list[int]:
        """Violated scenarios on ``cap`` (indices into the scenario list, which may grow)."""
        viol = violated_cases(self.pb, self.scen, cap, self.active, self.last_ratio, self.cfg.add_per_round)
        if self.cfg.verify_all and not viol and self.extra_steps:
            viol = self._verify_other_steps(cap)
        return viol

    def _verify_other_steps(self, cap: np.ndarray) -> list[int]:
        """Every other step without failure: screened by the routings just found, the rest by LP;
        the most violated join the scenarios."""
        pb, cfg, ps = self.pb, self.cfg, self.pb.paths
        flows: list = []
        case_mlu(pb, [self.scen[i] for i in self.active if self.scen[i].failed_fibre is None], cap, flows)
        D = self.builder.totals[self.extra_steps][:, ps.od_src, ps.od_dst]
        proven = proven_by_routings(ps, D, cap, flows, cfg.target_util)
        rest = [t for t, p in zip(self.extra_steps, proven) if not p]
        ext = self.builder.build(rest, None)
        ue = case_mlu(pb, ext, cap)
        self.n_screened += int(proven.sum())
        self.n_lp_checked += len(rest)
        vi = [i for i in np.argsort(-ue) if ue[i] > cfg.target_util * (1 + 1e-6)]
        if not vi:
            self.verified_extra = [int(t) for t in self.extra_steps]
            return []
        new = [ext[i] for i in vi[:cfg.add_per_round]]
        for sc in new:
            self.scen.append(sc)
            self.extra_steps.remove(sc.step)
        mb = case_mlu(pb, new, pb.capacity)
        self.mlu_before = np.concatenate([self.mlu_before, mb])
        self.last_ratio = np.concatenate([self.last_ratio, mb / cfg.target_util])
        return list(range(len(self.scen) - len(new), len(self.scen)))

    def _repair_the_rest(self) -> None:
        """Out of rounds: the violated scenarios join and the repair makes the plan feasible for
        every scenario checked (repeated until none is violated)."""
        imp = self.improver
        while True:
            act = [self.scen[i] for i in self.active]
            self.added = imp.prune(imp.repair(self.added, act), act)
            more = violated_cases(self.pb, self.scen, self.pb.capacity_after(self.added), self.active,
                                  self.last_ratio, len(self.scen))
            if not more:
                break
            self.active += more
        self.used.append("repair + prune")

    @property
    def method(self) -> str:
        return self.used[0] if len(set(self.used)) == 1 else " + ".join(dict.fromkeys(self.used))

    def lower_bound(self, cost: float) -> float:
        """The best valid bound on the cost: the MILP's own when every round was solved to
        optimality, else also the LP relaxation over the final active scenarios."""
        bound, cfg = self.bound, self.cfg
        if self.used and all(u == "milp" for u in self.used):  # optimal for the active scenarios, feasible for all
            return cost if not np.isfinite(bound) else min(max(bound, 0.0), cost)
        if cost > 0:
            act = [self.scen[i] for i in self.active]
            if self.pb.n_columns(act) <= cfg.max_milp_columns:
                res = solve_milp(build_milp(self.pb, act, relax=True), self.pb.shape, relax=True,
                                 time_limit=min(float(cfg.time_limit), 60.0), mip_rel_gap=cfg.mip_rel_gap,
                                 threads=cfg.threads)
                if res.added is not None and np.isfinite(res.bound):
                    bound = max(bound, res.bound)
        return bound


def plan_capacity(network: Network, series: TrafficSeries, settings: PlanSettings | None = None, *, paths=None,
                  **options) -> CapacityPlan:
    """Minimum-cost capacity additions in port modules (see the module notes).

    Parameters
    ----------
    network : the network (capacities in bit/s).
    series : the planning traffic (bit/s), already under any scenario (see :func:`planning_series`).
    settings : a :class:`PlanSettings` (default: its defaults).
    paths : candidate paths (default: ``k`` shortest per OD pair).
    **options : any field of :class:`PlanSettings` (``target_util``, ``failures``, ``modules``,
        ``method``, ``time_limit``, ...), replacing the one in ``settings``.

    Returns
    -------
    CapacityPlan

    Raises
    ------
    ValidationError
        For an option out of its range or unknown.
    InfeasibleError
        When HiGHS proves the MILP infeasible.

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
    t_start = time.perf_counter()
    cfg = PlanSettings.from_options(settings, **options)
    mods = parse_modules(cfg.modules)
    series = series.reorder(network.node_names)
    paths = k_shortest_paths(network, k=cfg.k) if paths is None else paths
    paths.check_network(network)
    fib, ftab = circuit_frame(network)
    steps = _plan_steps(network, paths, series, cfg)
    builder = _ScenarioBuilder(network, paths, series, ftab, cfg)
    scen = builder.build(steps, cfg.failures)
    problem = CapacityProblem(paths, network.capacity.astype(float), fib, _rates(mods), _module_costs(mods, ftab),
                              PathLP(network, paths))
    rounds = _Rounds(problem, builder, scen, steps, cfg)
    rounds.run()
    return _assemble(network, mods, ftab, fib, problem, builder, rounds, steps, cfg, t_start)


def _plan_steps(network: Network, paths, series: TrafficSeries, cfg: PlanSettings) -> list[int]:
    """The steps to plan for: given, or the peak matrices."""
    steps = cfg.steps
    if steps is None:
        steps = select_peak_tms(network, paths, series, top_days=cfg.top_days, max_tms=cfg.max_tms)
    steps = [int(s) for s in steps]
    bad = [s for s in steps if not 0 <= s < len(series)]
    if bad:
        raise ValidationError(f"plan steps {bad} are outside the series' {len(series)} steps")
    return steps


def _assemble(network, mods, ftab, fib, problem, builder, rounds: _Rounds, steps, cfg: PlanSettings,
              t_start: float) -> CapacityPlan:
    """The plan: cost and bound, every scenario re-checked on the upgraded network, the critical
    class's MLU and the binding scenario of each addition."""
    scen, added, active = rounds.scen, rounds.added, rounds.active
    cap1 = problem.capacity_after(added)
    u_after = case_mlu(problem, scen, cap1)
    cost = float(sum(added[e, j] * problem.module_cost[e, j] for e in range(len(ftab)) for j in range(len(mods))))
    bound = rounds.lower_bound(cost)
    gap = max(0.0, (cost - bound) / cost) if cost > 0 else 0.0
    # the protected class's own MLU per scenario on the upgraded network (priority: it goes first)
    crit = builder.critical_mlu(problem, scen, cap1)
    bounds = np.array([s.util_bound for s in scen])
    check = pd.DataFrame({
        "name": [s.name for s in scen], "step": [s.step for s in scen], "time": [s.time for s in scen],
        "failed_fibre": [s.failed_fibre for s in scen], "bound": [s.util_bound for s in scen],
        "what": [s.what for s in scen], "mlu_before": rounds.mlu_before, "mlu_after": u_after,
        "lost_bps": [s.lost_bps for s in scen], "critical_mlu": crit,
        "ok": u_after <= bounds * (1 + 1e-6),
        "active": np.isin(np.arange(len(scen)), active)})
    act = [scen[i] for i in active]
    binding = {}
    for e, (i, u) in binding_cases(problem, act, added).items():
        b = act[i].util_bound
        binding[str(ftab.index[e])] = {"scenario": act[i].name if u / b > 1 + 1e-9 else "(none: slack)",
                                       "util_without": u, "bound": float(b)}
    info = {"steps": steps,
            "verified_steps_without_failure": len(rounds.verified_extra) + len([s for s in scen if s.failed_fibre is None]),
            "steps_screened": rounds.n_screened, "steps_lp_checked": rounds.n_lp_checked,
            "status": rounds.status, "failure_util": cfg.failure_bound, "protect": cfg.protect,
            "paths": int(problem.paths.n_paths)}
    return CapacityPlan(network, mods, added, ftab, fib, cost, rounds.method, float(gap), float(bound), scen, active,
                        check, binding, float(cfg.target_util), cfg.failures,
                        time.perf_counter() - t_start, rounds.rounds, info)


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
    mods = parse_modules(modules)
    series = series.reorder(network.node_names)
    paths = k_shortest_paths(network, k=k) if paths is None else paths
    fib, ftab = circuit_frame(network)
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
    after = cap + (added @ _rates(mods))[fib]
    return {"cost": float(cost), "added": added, "fibres": [str(ftab.index[e]) for e in np.flatnonzero(added.sum(1))],
            "capacity_after": after, "peak_util": util}


# ====================================================================================== checking
@dataclass(eq=False)
class CapacityCheck:
    """Congested intervals of a series on one or more capacity vectors (see :func:`check_capacity`).

    Attributes
    ----------
    frame : one row per (network variant, policy): intervals, intervals_over_1 (MLU > 1),
        intervals_over_target, mlu_max, lost_bits (:func:`surgeguard.evaluate.metrics.path_loss_fraction`).
    per_step : variant -> policy -> (n_steps,) MLU.
    """

    frame: pd.DataFrame
    per_step: dict
    times: pd.DatetimeIndex
    seconds: float


_CHECK_POLICIES = ("shortest", "optimal", "oracle")


def check_capacity(network: Network, paths, series: TrafficSeries, capacities: dict, *, start: int = 0,
                   stop: int | None = None, target_util: float = 0.8, latency_stage: bool = True,
                   policies=_CHECK_POLICIES, known: dict | None = None) -> CapacityCheck:
    """Replay ``series`` on several capacity vectors with up to three routings and count congestion.

    For each variant (``{name: capacity (n_links,) bit/s}``) and step t: ``shortest`` (ECMP),
    ``optimal`` (the min-MLU LP of step t-1 with the latency stage, judged on step t: what the
    ``optimal`` policy does in a replay; shortest paths at the first step) and ``oracle`` (the
    min-MLU LP of step t). Loss is the one loss model of :mod:`surgeguard.evaluate.metrics` (each
    overloaded link drops its excess in proportion). ``policies`` is a tuple for every variant or a
    dict ``{variant: tuple}``; only ``optimal``/``oracle`` need LPs (about 10-15 ms a step on Morocco).
    ``known`` gives results already computed elsewhere, ``{variant: {policy: (mlu, lost_bps)}}`` with
    one value per checked step in each array (e.g. a replay's ``optimal`` on the network as it is):
    those are taken as they are instead of being solved again.
    """
    t0 = time.perf_counter()
    series = series.reorder(network.node_names)
    stop = len(series) if stop is None else stop
    if not 0 <= start < stop <= len(series):
        raise ValidationError(f"check range {start}..{stop} is outside the series' {len(series)} steps")
    sp_split = ShortestPath().route(network, paths, None).splits
    D = series.total[:, paths.od_src, paths.od_dst]  # (T, n_od)
    dt = series.step.total_seconds() if series.step is not None else 0.0
    rows, per = [], {}
    lp = None
    for name, cap in capacities.items():
        cap = np.asarray(cap, dtype=float)
        pols = tuple(policies.get(name, _CHECK_POLICIES) if isinstance(policies, dict) else policies)
        bad = [p for p in pols if p not in _CHECK_POLICIES]
        if bad:
            raise ValidationError(f"check policies {bad} unknown; choose from {list(_CHECK_POLICIES)}")
        given = _known_results((known or {}).get(name, {}), pols, name, stop - start)
        todo = tuple(p for p in pols if p not in given)
        need_lp = "optimal" in todo or "oracle" in todo
        if need_lp and lp is None:
            lp = PathLP(network, paths)
        res, lost = _replay_variant(paths, lp, D, cap, todo, sp_split, start, stop, latency_stage)
        for p, (m, ls) in given.items():
            res[p], lost[p] = m, float(ls.sum())
        res = {p: res[p] for p in pols}
        per[name] = res
        for p, v in res.items():
            rows.append({"variant": name, "policy": p, "intervals": int(len(v)), "intervals_over_1": int((v > 1 + 1e-9).sum()),
                         "intervals_over_target": int((v > target_util + 1e-9).sum()), "mlu_max": float(v.max()),
                         "lost_bits": float(lost[p] * dt) if p != "oracle" else float("nan")})
    return CapacityCheck(pd.DataFrame(rows), per, series.times[start:stop], time.perf_counter() - t0)


def _known_results(given: dict, pols: tuple, variant: str, n_steps: int) -> dict:
    """The ``known`` results of one variant (see :func:`check_capacity`), checked: policies it
    checks, one value per step."""
    out = {}
    for p, pair in given.items():
        if p not in pols:
            raise ValidationError(f"known results for policy {p!r} of variant {variant!r}, which checks only "
                                  f"{list(pols)}; give results for those policies")
        m, ls = (np.asarray(a, dtype=float) for a in pair)
        if m.shape != (n_steps,) or ls.shape != (n_steps,):
            raise ValidationError(f"known results for {variant!r}/{p!r} have {m.shape} MLUs and {ls.shape} losses; "
                                  f"expected one of each per checked step ({n_steps})")
        out[p] = (m, ls)
    return out


def _mlu_and_loss(paths, cap: np.ndarray, flows: np.ndarray) -> tuple[float, float]:
    """MLU and lost bit/s of path flows on ``cap``."""
    load = paths.incidence @ flows
    return float((load / cap).max()), float((flows * path_loss_fraction(paths, load, cap)).sum())


def _replay_variant(paths, lp, D, cap, pols, sp_split, start, stop, latency_stage):
    """Per policy, the MLU of each step and the total lost bit/s (see :func:`check_capacity`)."""
    res = {p: np.zeros(stop - start) for p in pols}
    lost = {p: 0.0 for p in res}
    if "shortest" in pols:
        flows_all = sp_split[:, None] * D[start:stop][:, paths.path_od].T  # (n_paths, n_steps)
        for i in range(stop - start):
            m, ls = _mlu_and_loss(paths, cap, flows_all[:, i])
            res["shortest"][i], lost["shortest"] = m, lost["shortest"] + ls
    if not ("optimal" in pols or "oracle" in pols):
        return res, lost
    prev_split = None
    for i, t in enumerate(range(start, stop)):
        d = D[t]
        u, f = lp.min_mlu(d, cap, latency_stage=latency_stage and "optimal" in pols)
        if "oracle" in pols:
            res["oracle"][i] = u
        if "optimal" in pols:
            split = paths.normalise(f, fallback=sp_split)
            if prev_split is None:  # no history: shortest paths (as the replay's fallback)
                prev_split = sp_split
            m, ls = _mlu_and_loss(paths, cap, prev_split * d[paths.path_od])
            res["optimal"][i], lost["optimal"] = m, lost["optimal"] + ls
            prev_split = split
    return res, lost


def planning_series(series: TrafficSeries, scenario=None, *, network: Network | None = None) -> TrafficSeries:
    """The series a plan is made for: ``scenario`` applied *in full from the first step*.

    A scenario without ``start`` (a spec without ``start=``, or an object whose ``start`` is None)
    is planned as if it held over the whole series: ``start`` = the first step and, unless the spec
    gives it, ``ramp_days = 0``. An explicit start is kept. ``None`` or ``'none'`` returns the
    series unchanged.
    """
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
                        full_check: bool = False, method: str = "auto", known: dict | None = None) -> dict:
    """The demo's capacity-plan study, in one call.

    Plan with the traffic known before step ``before`` (the steps ``0 .. before-1`` of ``series``
    *without* the scenario, i.e. what was measured up to the plan date -- pass the baseline series
    here, not the lockdown one) under ``scenario`` in full (:func:`planning_series`); then replay
    the actual ``check series`` on the network before and after the plan, and on the per-link
    baseline (:func:`shortest_upgrade` on the same planning traffic). The report section
    :func:`surgeguard.report.sections.capacity.capacity_plan_section` formats the result.

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
    method, time_limit : the plan's (:class:`PlanSettings`).
    known : results of the check computed elsewhere, as :func:`check_capacity` takes them (e.g. the
        replay's ``optimal`` on the network ``before`` the plan).

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
                         classes=classes, time_limit=time_limit, method=method)
    base_up = shortest_upgrade(network, plan_ts, paths=paths, target_util=target_util, modules=plan.modules)
    base_congest = shortest_upgrade(network, plan_ts, paths=paths, target_util=target_util, modules=plan.modules,
                                    congest_util=1.0)
    pols = {v: _CHECK_POLICIES for v in ("before", "plan", "shortest-upgrade", "congested-upgrade")} if full_check else {
        "before": ("shortest", "optimal"), "plan": _CHECK_POLICIES, "shortest-upgrade": ("shortest",),
        "congested-upgrade": ("shortest",)}
    check = check_capacity(network, paths, actual, {"before": network.capacity, "plan": plan.capacity_after,
                                                   "shortest-upgrade": base_up["capacity_after"],
                                                   "congested-upgrade": base_congest["capacity_after"]},
                           start=check_start or 0, target_util=target_util, latency_stage=latency_stage,
                           policies=pols, known=known)
    return {"plan": plan, "baseline": base_up, "baseline_congest": base_congest, "check": check,
            "planning_series": plan_ts, "seconds": time.perf_counter() - t0}
