"""The API's questions that take time, checked at once and answered in a job:

* :func:`whatif_job`: fail links, nodes or SRLGs (one failure), or every single fibre, node or SRLG
  in turn, on a stored interval's estimated matrix; re-routed by IGP reconvergence (``shortest``)
  and/or re-optimised TE (``optimal``), through :class:`surgeguard.plan.whatif.WhatIf`;
* :func:`plan_job`: minimum-cost capacity additions for the stored estimates
  (:func:`surgeguard.plan.capacity.plan_capacity`);
* :func:`runout_job`: the dates each link's peak utilisation crosses the warning and critical
  thresholds (:func:`surgeguard.plan.runout.runout_dates`).

Each ``*_job(state, request)`` checks the request (a bad one raises a one-line
:class:`~surgeguard.ValidationError` naming the field: the POST answers 422, no job starts) and
returns ``run(report)``, the work, which reports its progress and returns a JSON-ready dict.
"""

from __future__ import annotations

import json
import time
from typing import Callable

import numpy as np
import pandas as pd

from ...exceptions import ValidationError
from ...failures import NO_FAILURE, Failure, failure_scenarios
from ...io.output import json_text
from ...plan.capacity import plan_capacity
from ...plan.runout import runout_dates
from ...plan.whatif import WhatIf, WhatIfResult
from ...traffic import TrafficSeries
from .models import PlanRequest, RunoutRequest, WhatIfRequest
from .state import ApiState, NotFound, Unavailable

__all__ = ["whatif_job", "plan_job", "runout_job", "WHATIF_TIME_LIMIT"]

#: seconds per TE solve of a what-if
WHATIF_TIME_LIMIT = 20.0
_KINDS = {"link": "single-link", "node": "single-node", "srlg": "srlg"}


def _plain(obj) -> dict:
    """JSON-ready (NaN -> null, timestamps -> ISO text)."""
    return json.loads(json_text(obj))


def _matrix(state: ApiState, ds, field: str) -> tuple[pd.Timestamp, np.ndarray]:
    if ds is None:
        t = state.store.last_interval(with_rows="estimates")
        if t is None:
            raise Unavailable("the store holds no estimated matrix yet; ask again after the controller's first "
                              "interval")
    else:
        t = state.time_arg(ds, field)
    try:
        return state.store.estimate_matrix(state.node_names, t)
    except ValidationError:
        raise NotFound(f"{field} {t.isoformat()}: the store holds no estimated matrix for that interval; give the "
                       "start of a stored interval (GET /api/v1/decisions lists them) or leave it out for the latest") \
            from None


def _failure(state: ApiState, fs) -> Failure:
    net = state.network
    links: list[str] = []
    names: list[str] = []
    for k, name in enumerate(fs.links):
        if name not in state.link_index:
            raise ValidationError(f"body.failure.links[{k}] {name!r} is not a link of {net.name!r}; links are named "
                                  f"src->dst, like {state.link_names[0]!r}")
        links.append(name)
    names += fs.links
    nodes = []
    lk = net.links
    for k, name in enumerate(fs.nodes):
        if name not in net.node_index:
            raise ValidationError(f"body.failure.nodes[{k}] {name!r} is not a node of {net.name!r}; nodes are like "
                                  f"{state.node_names[0]!r}")
        nodes.append(name)
        links += list(lk.index[(lk["src"] == name) | (lk["dst"] == name)])
        names.append(f"node {name}")
    for k, tag in enumerate(fs.srlgs):
        if tag not in state.srlgs:
            known = ", ".join(sorted(state.srlgs)[:5]) or "none: the links carry no SRLG tag"
            raise ValidationError(f"body.failure.srlgs[{k}] {tag!r} is not an SRLG tag of {net.name!r}; tags are "
                                  f"{known}")
        links += state.srlgs[tag]
        names.append(f"srlg {tag}")
    if not links and not nodes:
        raise ValidationError("body.failure is empty; list links, nodes or srlgs to fail (or give all_single instead)")
    parts = []
    if fs.links:
        given = set(fs.links)
        circ = sorted({state.circuit_of[x] for x in given})
        whole = all(set(state.circuit_links[c]) <= given for c in circ)
        parts = circ if whole else list(dict.fromkeys(fs.links))
    label = ", ".join(parts + names[len(fs.links):])
    return Failure(label or "given", "given", tuple(dict.fromkeys(links)), tuple(nodes))


def whatif_job(state: ApiState, req: WhatIfRequest) -> Callable:
    """Check a what-if request; returns the work (module docstring)."""
    if (req.failure is None) == (req.all_single is None):
        raise ValidationError("body: give exactly one of failure (links, nodes, srlgs failing together) and "
                              "all_single ('link', 'node' or 'srlg': every single failure in turn)")
    if len(set(req.policies)) != len(req.policies):
        raise ValidationError(f"body.policies {req.policies} repeats a name; give each once")
    ds, tm = _matrix(state, req.ds, "body.ds")
    if req.failure is not None:
        failures = [_failure(state, req.failure)]
    else:
        try:
            failures = failure_scenarios(state.network, _KINDS[req.all_single])
        except ValidationError as err:
            raise ValidationError(f"body.all_single {req.all_single!r}: {err}") from None
    policies = tuple(req.policies)
    single = req.failure is not None

    def run(report) -> dict:
        t0 = time.perf_counter()
        report(0.0, "building the re-routing engines")
        wi = WhatIf(state.network, policies=policies, paths=state.paths if "optimal" in policies else None,
                    time_limit=WHATIF_TIME_LIMIT)
        wi.prepare(failures)
        base = {p: wi.evaluate(NO_FAILURE, tm, policy=p) for p in policies}
        cases = [(f, p) for f in failures for p in policies]
        evals = []
        for k, (f, p) in enumerate(cases):
            report(k / len(cases), f"{f.name} ({p}), {k + 1} of {len(cases)}")
            evals.append(wi.evaluate(f, tm, policy=p))
        res = WhatIfResult(state.network, base, evals, None,
                           {"time": ds, "step_choice": "stored estimate", "traffic": "store estimates"})
        out = {"ds": ds.isoformat(), "failures": len(failures), "seconds": time.perf_counter() - t0,
               "summary": _plain(res.summary(req.top))}
        if single:
            f = failures[0]
            out["failure"] = {"name": f.name, "links": list(f.links), "nodes": list(f.nodes)}
            out["map"] = {e.policy: {"util": [float(u) for u in e.util], "load_bps": [float(x) for x in e.link_load],
                                     "mlu": float(e.mlu), "lost_bps": e.lost_bps, "unrouted_bps": e.unrouted_bps,
                                     "dropped_bps": e.dropped_bps, "demand_bps": e.demand_bps, "over": list(e.over)}
                          for e in evals}
            out["baseline"] = {p: {"mlu": float(b.mlu), "lost_bps": b.lost_bps} for p, b in base.items()}
            out["links"] = state.link_names
        return _plain(out)
    return run


def _series(state: ApiState, start, end, what: str) -> TrafficSeries:
    a, b = state.time_arg(start, "body.start"), state.time_arg(end, "body.end")
    if a is not None and b is not None and b <= a:
        raise ValidationError(f"body.end {b.isoformat()} is not after body.start {a.isoformat()}; give a later end")
    series = state.store.estimate_series(state.node_names, a, b)
    if len(series) == 0:
        raise Unavailable(f"the store holds no estimated matrix in the interval asked for; a {what} needs the "
                          "controller's estimates (widen body.start/body.end or wait for the first interval)")
    return series


def plan_job(state: ApiState, req: PlanRequest) -> Callable:
    """Check a capacity-plan request; returns the work."""
    series = _series(state, req.start, req.end, "capacity plan")
    if req.growth:
        series = TrafficSeries(series.values * (1.0 + req.growth), series.nodes, series.times, series.classes,
                               f"{series.name} x {1 + req.growth:g}", dict(series.meta))
    if req.failure_util is not None and req.failures == "none":
        raise ValidationError("body.failure_util applies under failures; set body.failures to 'single-link' or drop "
                              "failure_util")
    opts = dict(target_util=req.target_util, failures=req.failures, failure_util=req.failure_util,
                method=req.method, time_limit=req.time_limit, max_tms=req.max_tms,
                top_days=max(1, min(4, int(np.ceil(len(series) * (series.step or pd.Timedelta("5min"))
                                                   / pd.Timedelta(days=1))))))

    def run(report) -> dict:
        report(None, f"planning for {len(series)} stored interval(s): peak matrices, then the MILP")
        p = plan_capacity(state.network, series, paths=state.paths, **opts)
        doc = p.to_dict()
        doc["growth"] = req.growth
        doc["intervals"] = int(len(series))
        doc["from"], doc["to"] = series.times[0].isoformat(), series.times[-1].isoformat()
        doc["links"] = [{"link": n, "capacity_before_bps": float(a), "capacity_after_bps": float(b)}
                        for n, a, b in zip(state.link_names, state.network.capacity, p.capacity_after)]
        return _plain(doc)
    return run


def runout_job(state: ApiState, req: RunoutRequest) -> Callable:
    """Check a run-out request; returns the work."""
    if not req.warning < req.critical:
        raise ValidationError(f"body.warning {req.warning:g} must be below body.critical {req.critical:g}; give "
                              "e.g. warning 0.7 and critical 0.9")
    series = _series(state, req.start, req.end, "run-out report")

    def run(report) -> dict:
        report(None, f"run-out dates from {len(series)} stored interval(s)")
        res = runout_dates(state.network, series, paths=state.paths, policy=req.policy, growth=req.growth,
                           model=req.model, thresholds=(req.warning, req.critical))
        doc = res.to_dict()
        doc["links"] = sorted(doc["links"], key=lambda r: (r.get("critical_date") is None, r.get("critical_date") or "",
                                                            -(r.get("peak_util") or 0)))
        doc["intervals"] = int(len(series))
        return _plain(doc)
    return run
