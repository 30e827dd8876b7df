"""What the API serves from: the network, the store, the controller (when it runs in this
process), the jobs, and small caches keyed by the newest stored interval.

Every read goes to the store (its readers use their own DuckDB cursor and see the last committed
interval, so a read never sees half of one); answers about the newest interval are cached until a
newer one is stored, which keeps many dashboards cheap.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import pandas as pd

from ...classes import ClassConfig
from ...exceptions import ValidationError
from ...failures import circuits
from ...network import Network
from ...paths import PathSet, k_shortest_paths
from ...plan.whatif import WhatIf
from ...store import Store, utc_time
from .jobs import JobManager
from .live import ControllerRunner
from .settings import ApiSettings

__all__ = ["ApiState", "NotFound", "Unavailable", "num", "nums"]

#: one microsecond: the store's time resolution (an interval [ds, ds + 1 us) selects ds alone)
US = pd.Timedelta(microseconds=1)


class NotFound(ValidationError):
    """Nothing stored for what was asked (404)."""


class Unavailable(ValidationError):
    """Not available yet: e.g. no interval stored (409)."""


def num(x) -> float | None:
    """A finite float, or None (JSON null) for NaN, infinities and None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def nums(values) -> list[float | None]:
    return [num(v) for v in np.asarray(values, dtype=float).tolist()]


class _Lru:
    """A small LRU cache whose concurrent misses of one key compute it once (the others wait)."""

    def __init__(self, size: int = 32):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()
        self.pending: dict = {}

    def peek(self, key):
        """The cached value, or None (never waits, never computes)."""
        with self.lock:
            return self.data.get(key)

    def get(self, key, make: Callable[[], Any]):
        while True:
            with self.lock:
                if key in self.data:
                    self.data.move_to_end(key)
                    return self.data[key]
                wait = self.pending.get(key)
                if wait is None:
                    self.pending[key] = threading.Event()
                    break
            wait.wait(30.0)   # another thread computes it; take its value (or compute after a failure)
        try:
            value = make()
            with self.lock:
                self.data[key] = value
                while len(self.data) > self.size:
                    self.data.popitem(last=False)
            return value
        finally:
            with self.lock:
                self.pending.pop(key).set()


class ApiState:
    """The API's shared state (one per app).

    Parameters
    ----------
    network : the network the store describes (capacities in bit/s).
    store : the :class:`~surgeguard.store.Store` to read.
    settings : :class:`~surgeguard.serve.api.ApiSettings`.
    runner : the :class:`~surgeguard.serve.api.live.ControllerRunner` when the controller runs in
        this process (started with the app, stopped with it); None for a store alone.
    paths : candidate paths for TE what-ifs and plans (default: the controller's, else 4 shortest
        per OD pair, built on first use).
    classes : the class configuration text the controller protects ('' when none; default: the
        controller's).
    on_close : called when the app stops (e.g. closing the example's files).
    autostart : start the controller's thread with the app (False: the caller steps it, as tests do).
    """

    def __init__(self, network: Network, store: Store, *, settings: ApiSettings | None = None,
                 runner: ControllerRunner | None = None, paths: PathSet | None = None, classes: str | None = None,
                 on_close: Callable[[], None] | None = None, autostart: bool = True):
        self.network, self.store = network, store
        self.autostart = autostart
        self.settings = settings if settings is not None else ApiSettings()
        self.runner = runner
        ctl = runner.controller if runner is not None else None
        self._paths = paths if paths is not None else (ctl.paths if ctl is not None else None)
        self.classes = classes if classes is not None else (ctl.config.policy.classes if ctl is not None else "")
        self.on_close = on_close
        self.jobs = JobManager(workers=1, max_active=self.settings.max_jobs, keep=self.settings.keep_jobs)
        self.link_names = list(network.link_names)
        self.node_names = list(network.node_names)
        self.link_index = {n: i for i, n in enumerate(self.link_names)}
        self.capacity = np.asarray(network.capacity, dtype=float)
        self.circuit_of: dict[str, str] = {}
        self.circuit_links: dict[str, list[str]] = {}
        for name, idx in circuits(network):
            self.circuit_links[name] = [self.link_names[i] for i in idx]
            for i in idx:
                self.circuit_of[self.link_names[i]] = name
        tags: dict[str, list[str]] = {}
        for lname, text in zip(self.link_names, network.links["srlg"].astype(str)):
            for tag in (t.strip() for t in text.split(",")):
                if tag:
                    tags.setdefault(tag, []).append(lname)
        self.srlgs = tags
        self._latest: tuple[float, pd.Timestamp | None] = (0.0, None)
        self._latest_lock = threading.Lock()
        self.cache = _Lru(64)
        self.responses = _Lru(512)
        #: the queries asked lately, {(path, query): render}, re-rendered for each new interval
        self.recent: OrderedDict = OrderedDict()
        self.published: pd.Timestamp | None = None
        self._local = threading.local()
        self._stop = threading.Event()
        self._warmer: threading.Thread | None = None
        self.schema_version = store.schema_version
        self._whatif_lock = threading.Lock()
        self._worst_engine: WhatIf | None = None
        self._paths_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.runner is not None and self.autostart:
            self.runner.start()
            self._warmer = threading.Thread(target=self._warm, name="surgeguard-api-warmer", daemon=True)
            self._warmer.start()

    def close(self) -> None:
        self._stop.set()
        if self.runner is not None:
            self.runner.stop()
        self.jobs.close()
        if self.on_close is not None:
            self.on_close()

    def remember(self, path: str, query: bytes, render: Callable[[], bytes]) -> None:
        """Keep ``render`` of a query, to re-render it for each new interval (:meth:`_warm`)."""
        with self._latest_lock:
            self.recent[(path, query)] = render
            self.recent.move_to_end((path, query))
            while len(self.recent) > 48:
                self.recent.popitem(last=False)

    def _warm(self) -> None:
        """While the controller runs: when it stores an interval, render the recent queries for it,
        then publish it (readers get the previous interval's answers until then, never a wait)."""
        results = self.runner.controller.results
        while not self._stop.is_set():
            new = results[-1].ds if results else None
            if new is not None and new != self.published:
                self._local.as_of = new
                try:
                    with self._latest_lock:
                        todo = list(self.recent.items())
                    for (path, query), render in todo:
                        try:
                            self.responses.get((path, query, new, 0), render)
                        except Exception:  # noqa: BLE001 - a query that fails now is answered (and fails) on demand
                            pass
                finally:
                    self._local.as_of = None
                self.published = new
            self._stop.wait(0.05)

    @property
    def paths(self) -> PathSet:
        with self._paths_lock:
            if self._paths is None:
                self._paths = k_shortest_paths(self.network, k=4)
            return self._paths

    # ------------------------------------------------------------------ times
    def latest_ds(self, max_age: float = 0.2) -> pd.Timestamp | None:
        """The newest stored interval (asked of the store at most every ``max_age`` seconds)."""
        as_of = getattr(self._local, "as_of", None)
        if as_of is not None:   # the warmer renders answers for an interval not yet published
            return as_of
        if self.runner is not None:
            if self._warmer is not None and self.published is not None:
                return self.published
            results = self.runner.controller.results
            if results:   # appended once the interval is stored: the newest, without asking the store
                return results[-1].ds
        now = time.monotonic()
        with self._latest_lock:
            at, ds = self._latest
            if now - at <= max_age:
                return ds
        ds = self.store.last_interval()
        with self._latest_lock:
            self._latest = (now, ds)
        return ds

    def need_latest(self) -> pd.Timestamp:
        ds = self.latest_ds()
        if ds is None:
            raise Unavailable("the store holds no interval yet; the controller stores its first one at the end of "
                              "its first interval: ask again shortly (GET /api/v1/health says when)")
        return ds

    @staticmethod
    def time_arg(value, field: str) -> pd.Timestamp | None:
        if value is None:
            return None
        try:
            return utc_time(value, field)
        except ValidationError:
            raise ValidationError(f"{field} {value!s} is not a time the store can hold (years 1678-2261); give an "
                                  "ISO 8601 UTC time such as 2020-03-20T10:05:00Z") from None

    def window(self, start, end, *, hours: float | None = None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """``[start, end)`` from query values (checked), or the last ``hours`` up to the newest interval."""
        a, b = self.time_arg(start, "query.start"), self.time_arg(end, "query.end")
        if a is not None and b is not None and b <= a:
            raise ValidationError(f"query.end {b.isoformat()} is not after query.start {a.isoformat()}; give an end "
                                  "later than the start")
        if a is None and hours is not None:
            last = b - US if b is not None else self.latest_ds()
            if last is not None:
                a = last - pd.Timedelta(hours=hours) + US
        return a, b

    # ------------------------------------------------------------------ names
    def check_links(self, links, field: str = "query.link") -> list[str] | None:
        if not links:
            return None
        for k, name in enumerate(links):
            if name not in self.link_index:
                raise ValidationError(f"{field}[{k}] {name!r} is not a link of {self.network.name!r}; links are named "
                                      f"src->dst, like {self.link_names[0]!r} (GET /api/v1/network lists them)")
        return list(links)

    def check_nodes(self, nodes, field: str = "query.node") -> list[str] | None:
        if not nodes:
            return None
        for k, name in enumerate(nodes):
            if name not in self.network.node_index:
                raise ValidationError(f"{field}[{k}] {name!r} is not a node of {self.network.name!r}; nodes are like "
                                      f"{self.node_names[0]!r} (GET /api/v1/network lists them)")
        return list(nodes)

    # ------------------------------------------------------------------ reads
    def page(self, table: str, start, end, where: dict, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
        where = {k: v for k, v in where.items() if v is not None}
        total = self.store.count(table, start, end, where=where)
        rows = self.store.read(table, start, end, where=where, limit=limit, offset=offset) if offset < total \
            else self.store.read(table, start, end, where=where, limit=0)
        return rows, total

    def util_rows(self, df: pd.DataFrame) -> list[dict]:
        idx = np.array([self.link_index.get(n, -1) for n in df["link"]], dtype=int)
        cap = np.where(idx >= 0, self.capacity[np.maximum(idx, 0)], np.nan)
        util = df["bps"].to_numpy(dtype=float) / cap
        return [{"ds": ds, "link": link, "bps": num(b), "util": num(u), "stale": bool(s)}
                for ds, link, b, u, s in zip(df["ds"], df["link"], df["bps"], util, df["stale"])]

    def latest_utilisation(self) -> dict:
        ds = self.need_latest()

        def make():
            df = self.store.link_rates(ds, ds + US)
            by = dict(zip(df["link"], zip(df["bps"].to_numpy(dtype=float), df["stale"])))
            links, utils = [], []
            for name, cap in zip(self.link_names, self.capacity):
                bps, stale = by.get(name, (float("nan"), False))
                u = bps / cap
                utils.append(u)
                links.append({"link": name, "bps": num(bps), "capacity_bps": float(cap), "util": num(u),
                              "stale": bool(stale)})
            finite = [u for u in utils if math.isfinite(u)]
            return {"ds": ds, "mlu": max(finite) if finite else None, "links": links}
        return self.cache.get(("latest-util", ds), make)

    def worst_case(self, ds=None) -> dict:
        """Every single-fibre failure on the interval's estimated matrix, IGP reconvergence (ECMP):
        per link its worst utilisation and the failure causing it."""
        t = self.time_arg(ds, "query.ds") if ds is not None else self.store.last_interval(with_rows="estimates")
        if t is None:
            raise Unavailable("the store holds no estimated matrix yet; ask again after the controller's first "
                              "interval")

        def make():
            try:
                t_, tm = self.store.estimate_matrix(self.node_names, t)
            except ValidationError:
                raise NotFound(f"query.ds {t.isoformat()}: the store holds no estimated matrix for that interval; give "
                               "the start of a stored interval (GET /api/v1/decisions lists them)") from None
            with self._whatif_lock:
                if self._worst_engine is None:
                    self._worst_engine = WhatIf(self.network, policies=("shortest",))
                res = self._worst_engine.run(tm, "single-link")
            lk = res.links
            return {"ds": t_, "policy": "shortest", "failures": int(len(res.failures)),
                    "links": [{"link": r.link, "base_util": float(r.base_util), "worst_util": float(r.worst_util),
                               "worst_failure": str(r.worst_failure)} for r in lk.itertuples()]}
        return self.cache.get(("worst", t), make)

    def decisions_rows(self, df: pd.DataFrame) -> list[dict]:
        out = []
        for r in df.itertuples(index=False):
            try:
                info = json.loads(r.info) if isinstance(r.info, str) and r.info else {}
            except ValueError:
                info = {}
            mlu, lb = num(r.mlu), num(r.lower_bound)
            gap = (mlu - lb) / mlu if mlu and lb is not None and mlu > 0 else None
            when = info.get("for")
            try:
                for_ds = utc_time(when) if when else None
            except ValidationError:
                for_ds = None
            out.append({"ds": r.ds, "for_interval": for_ds, "policy": r.policy, "mlu": mlu, "lower_bound": lb,
                        "gap": gap, "status": r.status, "reason": r.reason, "info": _json_safe(info)})
        return out

    def mlu_series(self, start, end) -> dict:
        key = ("mlu", start, end, self.latest_ds())

        def make():
            rates = self.store.link_rates(start, end)
            dec = self.store.decisions(start, end)
            times = pd.DatetimeIndex(sorted(set(rates["ds"]) | set(dec["ds"])))
            measured = np.full(len(times), np.nan)
            if len(rates):
                idx = np.array([self.link_index.get(n, -1) for n in rates["link"]])
                ok = idx >= 0
                util = rates["bps"].to_numpy(dtype=float)[ok] / self.capacity[idx[ok]]
                m = pd.Series(util).groupby(times.get_indexer(rates["ds"][ok])).max()
                measured[m.index.to_numpy()] = m.to_numpy()
            pol: dict[str, np.ndarray] = {}
            lb = np.full(len(times), np.nan)
            status = [""] * len(times)
            for ds, p, mlu, bound, st in zip(dec["ds"], dec["policy"], dec["mlu"], dec["lower_bound"], dec["status"]):
                k = times.get_loc(ds)
                pol.setdefault(p, np.full(len(times), np.nan))[k] = mlu
                lb[k] = bound
                status[k] = st
            return {"times": list(times), "measured": nums(measured), "policies": {p: nums(v) for p, v in pol.items()},
                    "lower_bound": nums(lb), "status": status}
        return self.cache.get(key, make)

    def traffic_series(self, start, end, node: str | None) -> dict:
        key = ("traffic", start, end, node, self.latest_ds())

        def make():
            tot = self.store.node_totals(start, end, nodes=[node] if node else None)
            times = pd.DatetimeIndex(sorted(set(tot["ds"])))
            g = tot.groupby("ds")[["ingress_bps", "egress_bps"]].sum(min_count=1).reindex(times)
            fc = self._forecast_totals(start, end, node)
            fvals = fc.reindex(times).to_numpy(dtype=float) if len(times) else np.zeros(0)
            al = self.store.alerts(start, end)
            if node:
                al = al[al["place"].isin([node, "total"])]
            return {"times": list(times), "node": node, "ingress_bps": nums(g["ingress_bps"]),
                    "egress_bps": nums(g["egress_bps"]), "forecast_bps": nums(fvals),
                    "alerts": alert_rows(al)}
        return self.cache.get(key, make)

    def _forecast_totals(self, start, end, node) -> pd.Series:
        """Forecast traffic per forecast interval ``ds`` in [start, end): entering the network (or
        at ``node``: from it), from the latest forecast made before that interval."""
        made_from = start - pd.Timedelta(days=1) if start is not None else None
        fc = self.store.forecasts(made_from, end, src=[node] if node else None)
        if not len(fc):
            return pd.Series(dtype=float)
        if start is not None:
            fc = fc[fc["ds"] >= start]
        if end is not None:
            fc = fc[fc["ds"] < end]
        fc = fc[fc["made_at"] < fc["ds"]]
        if not len(fc):
            return pd.Series(dtype=float)
        last = fc.groupby("ds")["made_at"].transform("max")
        fc = fc[fc["made_at"] == last]
        return fc.groupby("ds")["bps"].sum()

    def classes_status(self, start, end) -> dict:
        key = ("classes", start, end, self.latest_ds())

        def make():
            spec = self.classes or ""
            shares, bounds, names = {}, {}, []
            if spec:
                cfg = ClassConfig.from_spec(spec)
                names = list(cfg.names)
                shares = {c.name: num(c.share) for c in cfg}
                bounds = {c.name: c.bound_text for c in cfg}
            times, served = [], {}
            for ds, cls, share in self._class_service(start, end):
                if not names:
                    names = list(cls)
                k = len(times)
                times.append(ds)
                for c, s in zip(cls, share):
                    served.setdefault(c, [None] * k).append(num(s))
                for c in served:
                    if len(served[c]) < k + 1:
                        served[c].append(None)
            classes = [{"name": c, "share": shares.get(c), "bound": bounds.get(c, ""),
                        "served_share": served.get(c, [None] * len(times))} for c in names]
            critical = names[0] if names else None
            ok = None
            if critical and times:
                last = served.get(critical, [None])[-1]
                ok = None if last is None else bool(last >= 1 - 1e-6)
            return {"configured": bool(spec) or bool(times), "spec": spec, "times": times, "classes": classes,
                    "critical": critical, "critical_ok": ok}
        return self.cache.get(key, make)

    def _class_service(self, start, end):
        """``(ds, class names, served shares)`` per decision in ``[start, end)``: from the store's
        decision info when it holds them, else from the results of the controller running here
        (the store keeps scalar solver facts only)."""
        dec = self.store.decisions(start, end)
        out = {}
        for ds, text in zip(dec["ds"], dec["info"]):
            try:
                info = json.loads(text) if text else {}
            except ValueError:
                info = {}
            cls, share = info.get("classes"), info.get("served_share")
            if isinstance(cls, list) and isinstance(share, list):
                out[ds] = (cls, share)
        if self.runner is not None:
            for res in list(self.runner.controller.results):
                info = getattr(res.routing, "info", None) or {}
                cls, share = info.get("classes"), info.get("served_share")
                in_range = (start is None or res.ds >= start) and (end is None or res.ds < end)
                if in_range and isinstance(cls, list) and isinstance(share, list) and res.ds not in out:
                    out[res.ds] = (cls, share)
        return [(ds, *out[ds]) for ds in sorted(out)]

    # ------------------------------------------------------------------ health
    def health(self) -> dict:
        ds = self.latest_ds()
        n = self.cache.get(("count-intervals", ds), lambda: self.store.count("intervals"))
        ctl_info = None
        status = "read-only"
        if self.runner is not None:
            r = self.runner
            c = r.controller
            behind = None
            try:
                latest = c.source.latest(c.step_s)
                if latest is not None and c.next_ds is not None:
                    behind = max(0, int(round((latest - c.next_ds) / c.interval)) + 1)
            except Exception:  # noqa: BLE001 - a source that cannot say now (Prometheus down): unknown
                behind = None
            ctl_info = {"running": r.alive, "policy": getattr(c.policy, "name", str(c.policy)),
                        "step_seconds": float(c.step_s), "speed": getattr(c.source, "speed", None),
                        "next_interval": c.next_ds, "intervals_run": len(c.results),
                        "fallbacks": sum(x.status != "ok" for x in c.results), "behind": behind, "error": r.error,
                        "last_lines": list(r.log.lines)[-8:]}
            if not r.alive and r.thread is not None:
                status = "stopped"
            elif ds is None:
                status = "starting"
            elif behind is not None and behind > 1:
                status = "behind"
            else:
                status = "ok"
        return {"status": status, "network": self.network.name, "store": self.store.location,
                "schema_version": self.schema_version, "last_interval": ds, "intervals": n,
                "now": pd.Timestamp.now(tz="UTC"), "controller": ctl_info, "poll_seconds": self.settings.poll_seconds,
                "writes_enabled": self.settings.token_set}


def alert_rows(df: pd.DataFrame) -> list[dict]:
    return [{"ds": r.ds, "time": r.time, "place": r.place, "direction": r.direction, "shift": float(r.shift),
             "score": num(r.score), "detector": r.detector,
             "kind": r.kind if isinstance(getattr(r, "kind", None), str) else None} for r in df.itertuples(index=False)]


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float):
        return num(obj)
    return obj
