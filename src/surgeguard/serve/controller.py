"""The controller: a routing decision every interval from live telemetry, kept in the store.

One :meth:`Controller.step` per interval ``ds`` (the interval ``[ds, ds + step)`` has just
ended), in this order, each stage timed (``stages``, seconds):

1. **query**: the interval's link loads and node totals from the
   :class:`~surgeguard.telemetry.sources.TelemetrySource` (Prometheus, or a counter/rate file).
   A value the source lacks (a missing interface or router, a counter reset, a scrape gap) is
   **carried forward** from its last good value and marked stale (the store's ``stale`` list and
   ``link_rates.stale``, the ``surgeguard_controller_stale_inputs`` gauge, the log line); a value
   never seen stays unknown (a link then gives the estimator no equation).
2. **estimate**: the traffic matrix from the loads (:mod:`surgeguard.estimate`, the estimator
   prepared once for the network's IGP routing matrix), with its fit residual.
3. **forecast**: the next interval's matrix (:mod:`surgeguard.forecast`, fitted on the history
   read at start; until then, and when it fails, the last estimate).
4. **detect**: the surge detector (:mod:`surgeguard.detect`) on the new estimate; alerts stored.
5. **decide**: the configured policy routes the forecast (``[policy] input = "forecast"``) or
   decides from the estimated history (``"history"``); with traffic classes configured, the
   ``priority`` policy protects the critical class (strict-priority allocation) with the configured
   solver. Then **evaluate**: the predicted MLU of the routing on the forecast and, when the policy
   certifies one, the lower bound.
6. **store**: every part of the interval in one transaction (:meth:`Store.write_interval`); only
   then is the interval logged as stored. ``decisions.ds`` is the interval whose data made the
   decision; the routing is for the next interval (``info['for']``), the one forecast.
7. **export** (with ``[export] dir``): the routing as SR-TE policies (:func:`~surgeguard.deploy.export_sr`,
   weights chosen on the forecast) compared with the policies in force; when they differ,
   ``DIR/<ds>/`` appears whole with the files of the changed and added policies only,
   ``summary.json`` and ``changes.json`` (added, removed, changed: before and after), and
   ``DIR/current.json`` records the policies now in force (a restart diffs against it). A failed
   export is a note of the interval, never a stopped controller. (Not one of :data:`STAGES`: its
   seconds are in :attr:`IntervalResult.export`.)

Faults, and what the controller does:

* **policy failure or solver time limit** (any exception from the policy): the last good
  routing, while it is at most ``fallback_age`` intervals old, else shortest paths (IGP ECMP);
  the decision is stored with ``status = 'fallback'`` and the reason.
* **telemetry unreachable** (:class:`~surgeguard.telemetry.sources.SourceUnavailable`, e.g.
  Prometheus down): retries with exponential backoff (``retry_initial`` doubling up to
  ``retry_max``), logging each try; the routing in force stays. When the source answers again the
  intervals that came due meanwhile are read from its history and stored in order (none lost, none
  twice): each is estimated, forecast and run through the detector, and its decision records the
  routing that stayed in force (``status = 'fallback'``, reason: telemetry unavailable when it was
  due); the newest interval gets a fresh decision. Where Prometheus has no samples for an interval
  (it was down for the whole of it), its values are carried forward and marked stale.
* **restart** (also after ``kill -9``): the run resumes at ``store.last_interval() + step``; the
  store's transactional writes make an interval either fully stored or absent. The routing decided
  for the last stored interval is put back in force from its stored splits (matched to the
  candidate paths by OD pair, path index and links), and counts as the last good routing when its
  status was ``ok``.

:meth:`Controller.run` paces the steps by the source (the wall clock, the simulator's accelerated
clock, or as fast as a file allows) and serves the controller's own metrics at ``/metrics``
(:class:`ControllerMetrics`). The demo runs the same class in process: build it with a
:class:`~surgeguard.telemetry.sources.LoadsSource` and a store, call :meth:`Controller.warm_up`
with a history, then :meth:`Controller.run` (or :meth:`Controller.step` per interval).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from .. import __version__
from ..classes import ClassConfig
from ..deploy import export_sr, write_export
from ..detect import Alert, get_detector
from ..estimate import fit_quality, get_estimator
from ..exceptions import InputError, SurgeguardError, ValidationError
from ..forecast import get_forecaster
from ..igp import ecmp_routing_matrix
from ..io.common import one_line
from ..io.output import atomic_write_json, make_output_dir
from ..network import Network
from ..paths import PathSet, k_shortest_paths
from ..routing import Routing, get_policy
from ..routing.learned import LearnedRouter
from ..routing.policies import Policy, policy_accepts
from ..routing.priority import PriorityPolicy
from ..store import Decision, MatrixRecord, Store, Stored, open_store, splits_frame, utc_time
from ..telemetry.files import interface_map_for
from ..telemetry.loads import LinkLoads
from ..telemetry.prometheus import PrometheusSource, TelemetryError
from ..telemetry.sources import (CounterFileSource, LoadsSource, PrometheusTelemetry, SourceUnavailable,
                                 TelemetrySource, notes_between)
from ..traffic import TrafficSeries
from .config import NO_DETECTOR, RunConfig
from .loaders import load_network

__all__ = ["Controller", "ControllerMetrics", "IntervalResult", "build_controller", "STAGES", "DETECTOR_DAYS",
           "policy_records", "policy_changes", "write_decision_export", "EXPORT_STATE", "EXPORT_CHANGES"]

#: the timed stages of an interval, in order
STAGES = ("query", "estimate", "forecast", "detect", "decide", "evaluate", "store")
#: reference traffic a detector needs before it is fitted (days)
DETECTOR_DAYS = 1.0
#: history read and kept beyond the detector's day (seconds): the first hour may be partial
DETECTOR_MARGIN = 3600.0
#: intervals read from the source in one query when catching up
BATCH = 288


def _iso(t) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


# ---------------------------------------------------------------------------------------------- metrics
class ControllerMetrics:
    """The controller's own Prometheus metrics (one :class:`CollectorRegistry` per controller)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        r = self.registry = registry if registry is not None else CollectorRegistry()
        p = "surgeguard_controller_"
        self.stage_seconds = Gauge(p + "stage_seconds", "Seconds the last interval spent in each stage", ["stage"],
                                   registry=r)
        self.decision_seconds = Histogram(p + "decision_seconds", "Seconds per interval, all stages together",
                                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=r)
        self.intervals = Counter(p + "intervals", "Intervals stored, by decision status", ["status"], registry=r)
        self.measured_mlu = Gauge(p + "measured_mlu", "Highest measured link utilisation of the last interval "
                                                     "(fraction of capacity)", registry=r)
        self.estimated_mlu = Gauge(p + "estimated_mlu", "MLU of the last estimated matrix under the routing in force "
                                                       "(fraction of capacity)", registry=r)
        self.predicted_mlu = Gauge(p + "predicted_mlu", "Predicted MLU of the decided routing on the forecast matrix",
                                   registry=r)
        self.lower_bound = Gauge(p + "predicted_mlu_lower_bound", "Certified lower bound on the best MLU for the "
                                                                   "forecast (NaN when the policy gives none)", registry=r)
        self.alerts = Counter(p + "alerts", "Surge alerts raised", ["place", "direction"], registry=r)
        self.stale_inputs = Gauge(p + "stale_inputs", "Inputs (link rates, node totals) carried forward in the last "
                                                     "interval", registry=r)
        self.stale_values = Counter(p + "stale_values", "Input values carried forward, all intervals", registry=r)
        self.unknown_inputs = Gauge(p + "unknown_inputs", "Inputs never measured (no value to carry forward) in the "
                                                         "last interval", registry=r)
        self.telemetry_up = Gauge(p + "telemetry_up", "1 when the last telemetry query succeeded, 0 when the source "
                                                     "was unreachable", registry=r)
        self.telemetry_errors = Counter(p + "telemetry_errors", "Telemetry queries that failed (source unreachable)",
                                        registry=r)
        self.telemetry_notes = Counter(p + "telemetry_notes", "Lines the telemetry reader reported (counter resets, "
                                                             "wraps, gaps, missing series)", registry=r)
        self.fallbacks = Counter(p + "fallbacks", "Decisions that fell back, by the routing used", ["routing"],
                                 registry=r)
        self.last_interval = Gauge(p + "last_interval_timestamp_seconds", "Start (ds) of the last stored interval, "
                                                                         "Unix seconds", registry=r)
        self.telemetry_up.set(1)
        self.server = None
        self.port: int | None = None

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve ``/metrics`` on ``host:port`` (0: a free port) in a background thread; returns the port."""
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as err:
            raise ValidationError(f"cannot serve the controller's metrics on {host}:{port} ({err.strerror or err}); "
                                  "choose another port (0 takes a free one) or turn the metrics off") from None
        self.server = server
        self.port = int(server.server_address[1])
        return self.port

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# ---------------------------------------------------------------------------------------------- results
@dataclass
class IntervalResult:
    """What one interval gave: the decision, its numbers, what was stale, the seconds per stage."""

    ds: pd.Timestamp
    status: str
    policy: str
    reason: str = ""
    measured_mlu: float = float("nan")
    estimated_mlu: float = float("nan")
    predicted_mlu: float = float("nan")
    lower_bound: float = float("nan")
    residual: float = float("nan")
    stale: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    alerts: list = field(default_factory=list)
    notes: tuple[str, ...] = ()
    stages: dict = field(default_factory=dict)
    stored: Stored | None = None
    estimate: np.ndarray | None = None
    forecast: np.ndarray | None = None
    routing: Routing | None = None
    kept: bool = False
    #: with ``[export] dir``: folder (None when no policy changed), added, removed, changed, seconds
    export: dict | None = None

    @property
    def seconds(self) -> float:
        return float(sum(self.stages.values()))

    def line(self) -> str:
        """The one-line log of the interval."""
        f = (lambda v: "-" if not math.isfinite(v) else f"{v:.3f}")
        parts = [_iso(self.ds)]
        parts.append(f"est misfit {self.residual:.1e}" if math.isfinite(self.residual) else "est -")
        parts.append(f"MLU measured {f(self.measured_mlu)} estimated {f(self.estimated_mlu)}")
        dec = f"{self.policy} predicted MLU {f(self.predicted_mlu)}"
        if math.isfinite(self.lower_bound):
            dec += f" (bound {self.lower_bound:.3f})"
        if self.status != "ok":
            dec = f"FALLBACK {dec}: {self.reason}"
        parts.append(dec)
        parts.append(f"{len(self.alerts)} alert(s)" + (f" ({', '.join(f'{a.place} {a.direction} {a.shift:+.0%}' for a in self.alerts[:3])})"
                                                     if self.alerts else ""))
        if self.stale:
            parts.append(f"stale {len(self.stale)}: {', '.join(self.stale[:4])}{' ...' if len(self.stale) > 4 else ''}")
        if self.unknown:
            parts.append(f"unknown {len(self.unknown)}")
        times = " ".join(f"{k} {v:.2f}" for k, v in self.stages.items())
        parts.append(f"{self.seconds:.2f} s [{times}]")
        parts.append(str(self.stored) if self.stored is not None else "NOT stored")
        return " | ".join(parts)


# ---------------------------------------------------------------------------------------------- controller
class Controller:
    """Estimate, forecast, detect, decide and store, one interval at a time (module docstring).

    Parameters
    ----------
    network : the network, with the capacities to judge utilisation by.
    source : the :class:`~surgeguard.telemetry.sources.TelemetrySource`.
    store : the :class:`~surgeguard.store.Store` (None: nothing is stored; for benchmarks).
    config : the :class:`~surgeguard.serve.config.RunConfig` (step, methods, policy, ...).
    paths : candidate paths (default: ``k_shortest_paths(network, k=config.network.k_paths)``).
    policy : a policy object replacing the configured one (tests inject failing policies).
    log : called with each log line (default: print).
    metrics : a :class:`ControllerMetrics` (default: a new one; served by :meth:`run` when the
        configuration says so).
    """

    def __init__(self, network: Network, source: TelemetrySource, store: Store | None = None, *,
                 config: RunConfig | None = None, paths: PathSet | None = None, policy: Policy | None = None,
                 log: Callable[[str], None] | None = None, metrics: ControllerMetrics | None = None,
                 routing_matrix=None):
        self.config = cfg = config if config is not None else RunConfig()
        self.network = network
        self.source = source
        self.store = store
        self.log = log if log is not None else print
        self.metrics = metrics if metrics is not None else ControllerMetrics()
        self.step_s = cfg.step_seconds
        self.interval = pd.Timedelta(seconds=self.step_s)
        t0 = time.perf_counter()
        self.routing_matrix = routing_matrix if routing_matrix is not None else ecmp_routing_matrix(network)
        self.paths = paths if paths is not None else k_shortest_paths(network, k=cfg.network.k_paths)
        self.estimator = get_estimator(cfg.estimate.method, missing="skip").prepare(self.routing_matrix)
        self.estimator_warm = None  # where the estimator's last interval ended (see TMEstimator.predict)
        self.setup_seconds = time.perf_counter() - t0
        self.forecaster = get_forecaster(cfg.forecast.model)
        self.forecaster_fitted = False
        det = cfg.detect.detector
        self.detector = None if det == NO_DETECTOR else get_detector(det)
        self.detector_fitted = False
        self._detector_wait = 0
        self.policy, self.policy_note = (policy, "") if policy is not None else self._make_policy()
        self.shortest = get_policy("shortest")
        nodes, links = network.node_names, network.link_names
        self.nodes = tuple(nodes)
        self._link_names = np.asarray(links, dtype=object)
        self._node_labels = np.asarray([f"{n} totals" for n in nodes], dtype=object)
        L, N = network.n_links, network.n_nodes
        self._last_bps = np.full(L, np.nan)
        self._last_in = np.full(N, np.nan)
        self._last_out = np.full(N, np.nan)
        self._keep = max(1, self._intervals_wanted())
        self._hist: list[tuple[pd.Timestamp, np.ndarray]] = []
        self.last_good: Routing | None = None
        self.last_good_ds: pd.Timestamp | None = None
        self.in_force: Routing | None = None
        self.in_force_ds: pd.Timestamp | None = None
        self.next_ds: pd.Timestamp | None = None
        self.run_id: int | None = None
        self.results: list[IntervalResult] = []
        self.on_wait: Callable[[pd.Timestamp, float], None] | None = None
        #: the SR policies in force as last exported ({name: record}); None: read the export folder's record
        self.exported: dict | None = None

    # ------------------------------------------------------------------ set-up
    def _make_policy(self) -> tuple[Policy, str]:
        pc = self.config.policy
        limit = pc.time_limit if pc.time_limit > 0 else None
        if pc.classes:
            classes = ClassConfig.from_spec(pc.classes)
            solver = "fast" if pc.name == "fast" else "highs"
            note = (f"critical-class protection: priority allocation of classes {', '.join(classes.names)} "
                    f"(solver {solver})" + ("" if pc.name in ("optimal", "fast", "priority") else
                                            f"; it replaces policy {pc.name!r}"))
            return PriorityPolicy(classes=classes, solver=solver, time_limit=limit), note
        opts = {"time_limit": limit} if policy_accepts(pc.name, "time_limit") else {}
        if pc.model:  # RunConfig.check has refused a model for a policy that takes none, or a missing file
            opts["model"] = LearnedRouter.load(pc.model)  # a missing or damaged file stops the start, in one line
        return get_policy(pc.name, **opts), ""

    def _history_series(self, name: str = "estimates") -> TrafficSeries | None:
        if not self._hist:
            return None
        times = pd.DatetimeIndex([t for t, _ in self._hist])
        return TrafficSeries(np.stack([m for _, m in self._hist]), self.nodes, times, name=name)

    def warm_up(self, history: TrafficSeries | None = None, *, end=None) -> dict:
        """Fit the forecaster and the detector on a history of matrices before the first step.

        ``history``: matrices (bit/s) in any node order covering the network's (estimates, or
        measured matrices); None reads the configured history before ``end`` (default: the next
        interval) from the store's estimates when it holds them all, else from the source
        (estimated here). Returns what was done (``{'intervals', 'from', 'forecaster',
        'detector'}``), also logged."""
        end = self.next_ds if end is None else utc_time(end)
        info = {"intervals": 0, "from": "none", "forecaster": "not fitted", "detector": "off"}
        if history is None and end is not None:
            history, info["from"] = self._read_history(end)
        elif history is not None:
            info["from"] = "given"
        if history is not None and len(history):
            history = history.reorder(list(self.nodes))
            info["intervals"] = len(history)
            keep = history.window(max(0, len(history) - self._keep), len(history))
            self._hist = [(t, keep.total[k]) for k, t in enumerate(keep.times)]
            try:
                self.forecaster.fit(history)
                self.forecaster_fitted = True
                info["forecaster"] = f"{self.forecaster.name} fitted on {len(history)} interval(s)"
            except SurgeguardError as err:
                info["forecaster"] = f"not fitted ({one_line(err)}); the last estimate is the forecast until it is"
            if self.detector is not None:
                info["detector"] = self._fit_detector(history)
        elif self.detector is not None:
            info["detector"] = "waiting for a day of estimates"
        self.log(f"warm-up: {info['intervals']} interval(s) of history ({info['from']}); forecaster: "
                 f"{info['forecaster']}; detector: {info['detector']}")
        return info

    def _fit_detector(self, history: TrafficSeries) -> str:
        try:
            self.detector.fit(history)
        except SurgeguardError as err:
            self._detector_wait = max(1, int(round(3600.0 / self.step_s)))  # try again in an hour
            return f"not fitted ({one_line(err)}); tried again in an hour"
        self.detector_fitted = True
        return f"{self.detector.name} fitted on {len(history)} interval(s)"

    def _intervals_wanted(self) -> int:
        """Intervals of history to read at start and keep: the configured history, and a day
        and an hour when a detector is on (it needs whole days of whole hours)."""
        want = self.config.history_seconds
        if self.detector is not None:
            want = max(want, DETECTOR_DAYS * 86400.0 + DETECTOR_MARGIN)
        return int(math.ceil(want / self.step_s - 1e-9))

    def _read_history(self, end: pd.Timestamp) -> tuple[TrafficSeries | None, str]:
        n = self._intervals_wanted()
        if n <= 0:
            return None, "none"
        start = end - n * self.interval
        if self.store is not None:
            try:
                stored = self.store.estimate_series(list(self.nodes), start, end)
            except SurgeguardError:
                stored = None
            if stored is not None and len(stored) == n:
                return stored, "the store"
        try:
            loads = self.source.loads(start, end - self.interval, self.step_s)
        except TelemetryError as err:
            self.log(f"warm-up: history not readable ({one_line(err)}); starting without it")
            return None, "none"
        rows = []
        for k, ds in enumerate(loads.times):
            bps, tin, tout, _, _ = self._carry(loads.bps[k].copy(), loads.ingress[k].copy() if loads.ingress is not None
                                              else np.full(len(self.nodes), np.nan),
                                              loads.egress[k].copy() if loads.egress is not None
                                              else np.full(len(self.nodes), np.nan))
            x = self._estimate_one(ds, bps, tin, tout)[0]
            if x is not None:
                rows.append((ds, x))
        if not rows:
            return None, "none"
        times = pd.DatetimeIndex([t for t, _ in rows])
        return TrafficSeries(np.stack([x for _, x in rows]), self.nodes, times, name="history estimates"), \
            f"{self.source.name}, estimated"

    def start(self, ds=None) -> pd.Timestamp:
        """Choose the first interval (``ds``; else the configured start; else resume after the
        store's last interval; else the latest complete interval, or the first after the history
        for a file), record the run in the store; returns it."""
        cfg = self.config.controller
        last = self.store.last_interval() if self.store is not None else None
        how = ""
        if ds is not None:
            first, how = utc_time(ds, "start"), "as asked"
        elif last is not None:
            first, how = last + self.interval, f"resumed after the store's last interval {_iso(last)}"
        elif cfg.start:
            first, how = utc_time(cfg.start, "[controller] start"), "configured start"
        else:
            times = getattr(self.source, "times", None)
            if times is not None and len(times):
                first = times[min(self._intervals_wanted(), len(times) - 1)]
                how = "the first interval after the history in the telemetry"
            else:
                first = self.source.latest(self.step_s)
                how = "the latest complete interval"
                if first is None:
                    raise InputError(f"telemetry {self.source.name}: no complete interval yet; start later or give a "
                                     "start time")
        self.next_ds = first
        restored = ""
        if last is not None and ds is None:
            restored = "; " + self._restore(last)
        if self.store is not None:
            self.run_id = self.store.start_run(self.config.to_dict(), network=self.network.name, version=__version__)
        self.log(f"start at {_iso(first)} ({how}){restored}; run {self.run_id}; {self.network.describe()}; "
                 f"{self.paths.n_paths} candidate paths; policy {getattr(self.policy, 'name', self.policy)}"
                 + (f"; {self.policy_note}" if self.policy_note else ""))
        return first

    def _restore(self, ds: pd.Timestamp) -> str:
        """Put the routing decided at ``ds`` (stored) back in force: its splits, matched to this
        controller's candidate paths by OD pair, path index and links. Returns what was done."""
        end = ds + pd.Timedelta(microseconds=1)
        dec = self.store.decisions(ds, end)
        if not len(dec):
            return "no decision stored for it, no routing in force yet"
        row = dec.iloc[0]
        sp = self.store.splits(ds, end)
        ps = self.paths
        if not len(sp):
            return "its decision has no stored splits, no routing in force yet"
        pos = pd.Index(list(ps.node_names))
        od = pd.MultiIndex.from_arrays([ps.od_src, ps.od_dst]).get_indexer(
            pd.MultiIndex.from_arrays([pos.get_indexer(sp["src"]), pos.get_indexer(sp["dst"])]))
        k = np.asarray(sp["path"], dtype=np.int64)
        ok = (od >= 0) & (k >= 0)
        ok[ok] &= k[ok] < ps.paths_per_od[od[ok]]
        p = np.where(ok, ps.od_ptr[np.maximum(od, 0)] + k, -1)
        names = np.asarray(ps.link_names, dtype=object)
        for j in np.flatnonzero(ok):
            have = names[ps.link_idx[ps.link_ptr[p[j]]:ps.link_ptr[p[j] + 1]]].tolist()
            ok[j] = have == list(sp["links"].iloc[j])
        splits = np.zeros(ps.n_paths)
        splits[p[ok]] = np.asarray(sp["weight"], dtype=float)[ok]
        try:
            if not ok.all():
                raise ValidationError(f"{int((~ok).sum())} stored path(s) are not among the candidate paths")
            routing = Routing(ps, splits, policy=str(row["policy"]), info={"restored_from": _iso(ds)})
        except ValidationError as err:
            return f"its routing does not fit these candidate paths ({one_line(err)}), no routing in force yet"
        self.in_force, self.in_force_ds = routing, ds
        if row["status"] == "ok":
            self.last_good, self.last_good_ds = routing, ds
        return f"the routing decided then ({routing.policy}, {row['status']}) is in force again"

    # ------------------------------------------------------------------ one interval
    def _carry(self, bps, tin, tout):
        """Fill NaNs from the last good values; returns arrays, stale names, unknown names."""
        stale, unknown = [], []
        for arr, last, labels in ((bps, self._last_bps, self._link_names), (tin, self._last_in, self._node_labels),
                                  (tout, self._last_out, self._node_labels)):
            nan = np.isnan(arr)
            fill = nan & ~np.isnan(last)
            arr[fill] = last[fill]
            last[~nan] = arr[~nan]
            stale.extend(labels[fill].tolist())
            unknown.extend(labels[nan & ~fill].tolist())
        return bps, tin, tout, tuple(dict.fromkeys(stale)), tuple(dict.fromkeys(unknown))

    def _estimate_one(self, ds, bps, tin, tout) -> tuple[np.ndarray | None, float, str]:
        if np.isnan(tin).any() or np.isnan(tout).any():
            k = int(np.flatnonzero(np.isnan(tin) | np.isnan(tout))[0])
            return None, float("nan"), f"no estimate: node {self.nodes[k]!r} has never had its totals measured"
        if np.isnan(bps).all():
            return None, float("nan"), "no estimate: no link has ever been measured"
        # conjugate gradients start from the last interval's multipliers (large networks: half the iterations)
        x = self.estimator.predict(self.routing_matrix, bps[None], tin[None], tout[None], times=[ds],
                                   warm=self.estimator_warm)
        self.estimator_warm = self.estimator.warm_
        q = fit_quality(self.routing_matrix, x, bps[None], tin[None], tout[None])
        return x[0], float(q["link_rel_l2"].iloc[0]), ""

    def _routing_mlu(self, routing: Routing | None, tm) -> float:
        if tm is None:
            return float("nan")
        r = routing if routing is not None else self._shortest(tm)
        # the MLU alone (what evaluate().mlu is), without the loss and latency model: 3 s less at 1,000 nodes
        return float((r.link_loads(np.asarray(tm, dtype=float)) / self.network.capacity).max(initial=0.0))

    def _shortest(self, tm) -> Routing:
        return self.shortest.route(self.network, self.paths, tm)

    def _decide(self, ds, forecast, history: TrafficSeries | None) -> tuple[Routing, str, str, bool]:
        """(routing, status, reason, fresh): the policy's routing, or a fallback."""
        name = getattr(self.policy, "name", type(self.policy).__name__)
        try:
            if self.config.policy.input == "history" and history is not None:
                r = self.policy.decide(self.network, self.paths, history, warm=self.last_good)
            else:
                r = self.policy.route(self.network, self.paths, forecast, warm=self.last_good)
            if not isinstance(r, Routing) or r.paths is not self.paths:
                raise SurgeguardError(f"policy {name} returned {type(r).__name__} not over the controller's paths")
            return r, "ok", "", True
        except Exception as err:  # noqa: BLE001 - any failure of the policy is a fallback, said in the decision
            why = f"policy {name} failed ({type(err).__name__}: {one_line(err)})"
        age = None if self.last_good_ds is None else int(round((ds - self.last_good_ds) / self.interval))
        limit = self.config.controller.fallback_age
        if self.last_good is not None and age <= limit:
            return self.last_good, "fallback", (f"{why}; the last good routing ({self.last_good.policy}, decided at "
                                                f"{_iso(self.last_good_ds)}) kept"), False
        tail = "no good routing yet" if self.last_good is None else \
            f"the last good routing is {age} intervals old (more than {limit})"
        return self._shortest(forecast), "fallback", f"{why}; shortest paths (IGP ECMP): {tail}", False

    def step(self, ds=None, loads: LinkLoads | None = None, *, query_seconds: float | None = None,
             kept: str | None = None) -> IntervalResult:
        """Run one interval (default: the next one) and store it; returns its :class:`IntervalResult`.

        ``loads``: the interval's row when already read (else it is read from the source; an
        unreachable source raises :class:`~surgeguard.telemetry.sources.SourceUnavailable`).
        ``kept``: the reason the routing in force is recorded instead of a new decision (an
        interval that came due while the telemetry was unavailable).
        """
        ds = self.next_ds if ds is None else utc_time(ds, "ds")
        if ds is None:
            raise ValidationError("the controller has no interval to run; call start() first or give ds")
        stages: dict[str, float] = {}
        t = time.perf_counter()
        if loads is None:
            loads = self.source.loads(ds, ds, self.step_s)
        stages["query"] = time.perf_counter() - t if query_seconds is None else query_seconds
        net = self.network
        N = net.n_nodes
        if len(loads.times) != 1 or loads.times[0] != ds:
            raise ValidationError(f"controller: loads for {list(loads.times)[:2]} given for interval {_iso(ds)}; give "
                                  "the interval's row")
        bps = loads.bps[0].astype(float)
        tin = loads.ingress[0].astype(float) if loads.ingress is not None else np.full(N, np.nan)
        tout = loads.egress[0].astype(float) if loads.egress is not None else np.full(N, np.nan)
        bps, tin, tout, stale, unknown = self._carry(bps, tin, tout)
        notes = list(loads.notes)
        res = IntervalResult(ds=ds, status="ok", policy="", stale=stale, unknown=unknown)
        with np.errstate(invalid="ignore", divide="ignore"):
            util = bps / net.capacity
        res.measured_mlu = float(np.nanmax(util)) if np.isfinite(util).any() else float("nan")
        # estimate
        t = time.perf_counter()
        x, res.residual, why = self._estimate_one(ds, bps, tin, tout)
        if why:
            notes.append(why)
        stages["estimate"] = time.perf_counter() - t
        # forecast
        t = time.perf_counter()
        if x is not None:
            self._hist.append((ds, x))
            del self._hist[:-self._keep]
        history = self._history_series()
        fc, model = None, ""
        if x is not None or self._hist:
            base = x if x is not None else self._hist[-1][1]
            fc, model = base, "last estimate"
            if self.forecaster_fitted and history is not None:
                try:
                    fc = np.asarray(self.forecaster.predict_next(history), dtype=float)
                    model = self.forecaster.name
                except SurgeguardError as err:
                    notes.append(f"forecast failed ({one_line(err)}); the last estimate is the forecast")
        stages["forecast"] = time.perf_counter() - t
        # detect
        t = time.perf_counter()
        alerts: list[Alert] = []
        if self.detector is not None and x is not None:
            if self.detector_fitted:
                try:
                    alerts = self.detector.update(TrafficSeries(x[None], self.nodes, pd.DatetimeIndex([ds])))
                except SurgeguardError as err:
                    notes.append(f"detector failed ({one_line(err)})")
            elif self._detector_wait > 0:
                self._detector_wait -= 1
            elif len(self._hist) * self.step_s >= DETECTOR_DAYS * 86400.0 and history is not None:
                notes.append(f"detector: {self._fit_detector(history)}")
        res.alerts = alerts
        stages["detect"] = time.perf_counter() - t
        # decide
        t = time.perf_counter()
        res.estimated_mlu = self._routing_mlu(self.in_force, x)
        fresh = False
        if fc is None:
            routing = self.in_force if self.in_force is not None else self._shortest(np.zeros((N, N)))
            status, reason = "fallback", "no estimate yet (" + "; ".join(notes[-1:]) + "); the routing in force kept"
        elif kept is not None:
            routing = self.in_force if self.in_force is not None else self._shortest(fc)
            status, reason = "fallback", kept
        else:
            routing, status, reason, fresh = self._decide(ds, fc, history)
        stages["decide"] = time.perf_counter() - t
        # evaluate
        t = time.perf_counter()
        pred = self._routing_mlu(routing, fc) if fc is not None else float("nan")
        lb = _num(routing.info.get("lower_bound")) if fresh and self.config.policy.input == "forecast" else float("nan")
        if math.isfinite(lb) and math.isfinite(pred) and lb > pred * (1 + 1e-6) + 1e-12:
            notes.append(f"the policy's lower bound {lb:.6g} exceeds the evaluated MLU {pred:.6g}; not stored")
            lb = float("nan")
        stages["evaluate"] = time.perf_counter() - t
        res.status, res.reason, res.policy, res.routing = status, reason, routing.policy, routing
        res.predicted_mlu, res.lower_bound, res.kept = pred, lb, kept is not None
        res.estimate, res.forecast, res.notes = x, fc, tuple(notes)
        # store
        t = time.perf_counter()
        if self.store is not None:
            info = {k: v for k, v in routing.info.items() if k != "allocation"}
            info.update({"for": _iso(ds + self.interval), "configured_policy": getattr(self.policy, "name", ""),
                         "input": self.config.policy.input, "forecast_model": model})
            decision = Decision(policy=routing.policy, mlu=pred, lower_bound=lb, status=status, reason=reason,
                                splits=splits_frame(routing) if self.config.store.splits else None, info=info)
            link_rates = pd.DataFrame({"link": list(net.link_names), "bps": bps,
                                       "stale": np.isin(self._link_names, stale)})
            node_totals = pd.DataFrame({"node": list(self.nodes), "ingress_bps": tin, "egress_bps": tout})
            res.stored = self.store.write_interval(
                ds, run=self.run_id, link_rates=link_rates, node_totals=node_totals,
                estimate=None if x is None else MatrixRecord(x, self.nodes, self.estimator.name, res.residual),
                forecast=None if fc is None else MatrixRecord(fc[None], self.nodes, model or "last estimate",
                                                              times=[ds + self.interval]),
                alerts=alerts, decision=decision, stages=stages, stale=stale)
        stages["store"] = time.perf_counter() - t
        res.stages = stages
        # state after the interval is durable
        if fresh:
            self.last_good, self.last_good_ds = routing, ds
        self.in_force, self.in_force_ds = routing, ds
        self.next_ds = ds + self.interval
        if self.config.export.dir:
            self._export(res)
        self._observe(res)
        self.results.append(res)
        self.log(res.line())
        for line in res.notes:
            self.log(f"  note: {line}")
        return res

    def _export(self, res: IntervalResult) -> None:
        """The interval's routing as SR-TE policies, written when they changed (module notes, 7)."""
        ec = self.config.export
        t = time.perf_counter()
        try:
            ex = export_sr(self.network, res.routing, res.forecast, max_sid_depth=ec.max_sid_depth, slots=ec.slots,
                           milp_seconds=EXPORT_MILP_SECONDS)
            out = write_decision_export(ec.dir, res.ds, ex, ec.format, self.exported)
        except (SurgeguardError, OSError) as err:
            res.notes = res.notes + (f"SR export to {ec.dir} failed ({one_line(err)}); the decision is stored, "
                                     "its policies are not exported",)
            return
        self.exported = out.pop("records")
        out["seconds"] = time.perf_counter() - t
        res.export = out
        if out["folder"] is not None:
            res.notes = res.notes + (f"SR export: policies {out['added']} added, {out['removed']} removed, "
                                     f"{out['changed']} changed; written to {out['folder']}",)

    def _observe(self, res: IntervalResult) -> None:
        m = self.metrics
        for k, v in res.stages.items():
            m.stage_seconds.labels(k).set(v)
        m.decision_seconds.observe(res.seconds)
        m.intervals.labels(res.status).inc()
        m.measured_mlu.set(res.measured_mlu)
        m.estimated_mlu.set(res.estimated_mlu)
        m.predicted_mlu.set(res.predicted_mlu)
        m.lower_bound.set(res.lower_bound)
        for a in res.alerts:
            m.alerts.labels(a.place, a.direction).inc()
        m.stale_inputs.set(len(res.stale))
        m.stale_values.inc(len(res.stale))
        m.unknown_inputs.set(len(res.unknown))
        m.telemetry_notes.inc(len(res.notes))
        if res.status != "ok":
            m.fallbacks.labels(res.policy).inc()
        m.last_interval.set(res.ds.timestamp())

    # ------------------------------------------------------------------ the loop
    def run(self, *, stop: threading.Event | None = None, max_intervals: int | None = None,
            serve_metrics: bool | None = None) -> list[IntervalResult]:
        """Step through the intervals as the source makes them available, until ``stop`` is set,
        ``max_intervals`` (default: the configured; 0 = no limit) are done, or a file source ends.
        Returns the results of this call."""
        stop = stop if stop is not None else threading.Event()
        cfg = self.config
        limit = cfg.controller.max_intervals if max_intervals is None else max_intervals
        serve = cfg.metrics.enabled if serve_metrics is None else serve_metrics
        if serve and self.metrics.server is None:
            port = self.metrics.serve(cfg.metrics.host, cfg.metrics.port)
            self.log(f"metrics: http://{cfg.metrics.host}:{port}/metrics")
        if self.next_ds is None:
            self.start()
        out: list[IntervalResult] = []
        attempt = 0
        catch_up_until = None
        outage_from = None
        while not stop.is_set() and not (limit and len(out) >= limit):
            latest = self.source.latest(self.step_s)
            end = getattr(self.source, "exhausted_after", None)
            if latest is None or latest < self.next_ds:
                if end is not None and self.next_ds > end:
                    self.log(f"end of telemetry after {_iso(end)}; {len(out)} interval(s) run")
                    break
                wait = max(0.05, min(5.0, self.source.ready_at(self.next_ds, self.step_s) - time.time()))
                if self.on_wait is not None:
                    self.on_wait(self.next_ds, wait)
                stop.wait(wait)
                continue
            last = min(latest, self.next_ds + (BATCH - 1) * self.interval)
            if limit:
                last = min(last, self.next_ds + (limit - len(out) - 1) * self.interval)
            t0 = time.perf_counter()
            try:
                loads = self.source.loads(self.next_ds, last, self.step_s)
            except SourceUnavailable as err:
                attempt += 1
                outage_from = outage_from or self.next_ds
                delay = min(cfg.controller.retry_max, cfg.controller.retry_initial * 2 ** (attempt - 1))
                self.metrics.telemetry_up.set(0)
                self.metrics.telemetry_errors.inc()
                force = ("none yet" if self.in_force is None else
                         f"{self.in_force.policy} decided at {_iso(self.in_force_ds)}")
                self.log(f"telemetry unavailable: {one_line(err)}; retry {attempt} in {delay:g} s; routing in force "
                         f"kept ({force})")
                stop.wait(delay)
                continue
            if attempt:
                self.metrics.telemetry_up.set(1)
                catch_up_until = latest
                missed = int(round((latest - self.next_ds) / self.interval))
                self.log(f"telemetry back after {attempt} failed tries; {missed} interval(s) came due meanwhile "
                         f"(from {_iso(self.next_ds)}), read from the source's history with the routing that stayed "
                         f"in force; {_iso(latest)} gets a new decision")
                attempt = 0
            q = (time.perf_counter() - t0) / max(len(loads.times), 1)
            for k, ds in enumerate(loads.times):
                if stop.is_set():
                    break
                kept = None
                if catch_up_until is not None and ds < catch_up_until:
                    kept = (f"telemetry unavailable when this interval was due (since {_iso(outage_from)}); the "
                            "routing in force stayed")
                row = loads.window(k, k + 1)
                if len(loads.times) > 1:  # each interval gets the notes that concern it
                    row = dataclasses.replace(row, notes=notes_between(loads.notes, ds, ds + self.interval))
                out.append(self.step(ds, row, query_seconds=q, kept=kept))
            if catch_up_until is not None and self.next_ds > catch_up_until:
                catch_up_until = outage_from = None
        return out

    def close(self) -> None:
        """Stop serving metrics and close the store."""
        self.metrics.close()
        if self.store is not None:
            self.store.close()


# ---------------------------------------------------------------------------------------------- SR export diffs
#: the export folder's record of the policies in force (what the next decision is compared with)
EXPORT_STATE = "current.json"
#: the list of what changed, in each decision's folder
EXPORT_CHANGES = "changes.json"
#: seconds for each weight-rounding integer program of a decision's export
EXPORT_MILP_SECONDS = 1.0


def policy_records(export, fmt: str) -> dict[str, dict]:
    """``{policy name: what a router is given}`` of an SR export in one format: head-end, endpoint,
    colour and the deployed segment lists (labels, weight, path); FRR and pola carry one list."""
    out = {}
    for p in export.policies:
        lists = [p.single] if fmt in ("frr", "pola") else list(p.deployed)
        out[p.name] = {"headend": p.headend, "endpoint": p.endpoint, "color": int(p.color),
                       "segment_lists": [{"labels": list(sl.labels), "weight": 1 if fmt in ("frr", "pola") else
                                          int(sl.weight), "path": list(sl.path)} for sl in lists]}
    return out


def policy_changes(before: dict[str, dict], after: dict[str, dict]) -> dict[str, list]:
    """``{"added": [...], "removed": [...], "changed": [...]}`` between two :func:`policy_records`
    (added and removed: the records with their names; changed: name, before, after), by name.

    >>> a = {"P": {"segment_lists": [{"labels": [16001], "weight": 64}]}}
    >>> b = {"P": {"segment_lists": [{"labels": [16002], "weight": 64}]}, "Q": {"segment_lists": []}}
    >>> {k: [x["name"] for x in v] for k, v in policy_changes(a, b).items()}
    {'added': ['Q'], 'removed': [], 'changed': ['P']}
    """
    return {"added": [{"name": n, **after[n]} for n in sorted(after.keys() - before.keys())],
            "removed": [{"name": n, **before[n]} for n in sorted(before.keys() - after.keys())],
            "changed": [{"name": n, "before": before[n], "after": after[n]}
                        for n in sorted(after.keys() & before.keys()) if after[n] != before[n]]}


def write_decision_export(root, ds: pd.Timestamp, export, fmt: str, before: dict[str, dict] | None) -> dict:
    """Write the policies of ``export`` that changed since ``before`` (None: read the folder's
    :data:`EXPORT_STATE`; none there: every policy is new) into ``root/<ds>/`` (files of the
    format for the changed and added policies, ``summary.json``, and :data:`EXPORT_CHANGES`
    listing added, removed and changed policies), then record the policies in force. The folder
    appears whole (written aside, then renamed). Nothing is written when nothing changed.
    Returns ``{"folder", "added", "removed", "changed", "records"}`` (folder None when unchanged)."""
    root = make_output_dir(root, what="export folder")
    if before is None:
        try:
            before = json.loads((root / EXPORT_STATE).read_text())["policies"]
        except (OSError, ValueError, KeyError, TypeError):
            before = {}
    records = policy_records(export, fmt)
    diff = policy_changes(before, records)
    out = {"folder": None, "records": records, **{k: len(v) for k, v in diff.items()}}
    if not any(diff.values()):
        return out
    moved = {x["name"] for x in diff["added"]} | {x["name"] for x in diff["changed"]}
    part = dataclasses.replace(export, policies=tuple(p for p in export.policies if p.name in moved))
    name = ds.strftime("%Y%m%dT%H%M%SZ")
    final = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        write_export(part, tmp, fmt)
        atomic_write_json(tmp / EXPORT_CHANGES, {"ds": _iso(ds), "format": fmt, "policies_in_force": len(records),
                                                 "mlu": export.mlu, **diff})
        os.chmod(tmp, 0o755)
        if final.exists():   # the same interval again (a re-run): the new folder replaces it
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=root))
            os.replace(final, old / name)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_json(root / EXPORT_STATE, {"ds": _iso(ds), "format": fmt, "folder": name, "policies": records})
    out["folder"] = final
    return out


# ---------------------------------------------------------------------------------------------- building
def _retrying(fn, what: str, cfg: RunConfig, log, stop: threading.Event | None):
    attempt = 0
    while True:
        try:
            return fn()
        except SourceUnavailable as err:
            attempt += 1
            delay = min(cfg.controller.retry_max, cfg.controller.retry_initial * 2 ** (attempt - 1))
            log(f"{what}: telemetry unavailable ({one_line(err)}); retry {attempt} in {delay:g} s")
            if stop is not None and stop.wait(delay):
                raise
            if stop is None:
                time.sleep(delay)


def _capacities(net: Network, cap: np.ndarray | None, mode: str, log) -> Network:
    if mode == "topology":
        return net
    cap = np.asarray(cap, dtype=float) if cap is not None else np.full(net.n_links, np.nan)
    known = np.isfinite(cap)
    if mode == "telemetry" and not known.all():
        missing = [net.link_names[k] for k in np.flatnonzero(~known)]
        raise InputError(f"telemetry gives no interface speed (ifHighSpeed) for {len(missing)} link(s) "
                         f"({', '.join(missing[:5])}); set the network capacity option to auto or topology")
    if not known.any():
        log("capacities: the telemetry reports no interface speed; the topology's capacities are used")
        return net
    new = np.where(known, cap, net.capacity)
    log(f"capacities: ifHighSpeed of {int(known.sum())} of {net.n_links} link(s)"
        + ("" if known.all() else "; the topology's for the rest"))
    return net.with_capacity(new)


def build_controller(cfg: RunConfig, *, log: Callable[[str], None] = print, stop: threading.Event | None = None,
                     policy: Policy | None = None) -> Controller:
    """A :class:`Controller` from a configuration: the network, the telemetry source (Prometheus,
    with the simulator's clock when its gauges are there; or a file), capacities from the routers'
    ``ifHighSpeed`` (per ``[network] capacity``), the store; started and warmed up.
    An unreachable Prometheus is retried with backoff, as in :meth:`Controller.run`."""
    net = load_network(cfg.network.topology)
    t = cfg.telemetry
    if t.source == "file":
        source = CounterFileSource(t.file, net, interfaces=cfg.network.interfaces or None,
                                   node_totals=t.node_totals or None, step=cfg.controller.step, follow=t.follow,
                                   speed=t.replay_speed or None)
        for line in source.notes:
            log(f"telemetry note: {line}")
        capacity = source.capacity()
    else:
        imap, notes = interface_map_for(net, cfg.network.interfaces or None)
        for line in notes:
            log(f"telemetry: {line}")
        prom = PrometheusSource(t.url, interfaces=imap, matchers=t.matchers or None, timeout=t.timeout)
        source = PrometheusTelemetry(prom, net, lag=t.lag)
        if t.clock == "auto":
            def read_clock():
                if not source.reachable():
                    raise SourceUnavailable(f"Prometheus at {t.url} is unreachable")
                try:
                    return prom.sim_clock()
                except TelemetryError:
                    return None
            clock = _retrying(read_clock, "simulator clock", cfg, log, stop)
            prom.clock = clock
            log(f"clock: {'the simulator gauges: ' + repr(clock) if clock is not None else 'wall time (no simulator)'}")
        capacity = _retrying(source.capacity, "interface speeds", cfg, log, stop) \
            if cfg.network.capacity != "topology" else None
    net = _capacities(net, capacity, cfg.network.capacity, log)
    store = open_store(cfg.store.path)
    ctl = Controller(net, source, store, config=cfg, log=log, policy=policy)
    ctl.start()
    if isinstance(source, LoadsSource) and source.speed is not None and len(source.times):
        # a paced replay: the first interval run ends one paced step from now
        source.wall_start = time.time() - (ctl.next_ds - source.times[0]).total_seconds() / source.speed
    ctl.warm_up()
    return ctl

