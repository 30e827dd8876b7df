"""Read link loads from a real Prometheus server through its HTTP API and PromQL.

:class:`PrometheusSource` asks Prometheus (``POST /api/v1/query_range``) for the rate of every
interface's octet counters, as ``snmp_exporter``'s ``if_mib`` module names them, and turns the
per-interface rates into :class:`~surgeguard.telemetry.LinkLoads` through an
:class:`~surgeguard.telemetry.InterfaceMap` (which ``(instance, ifName)`` measures which link,
which interfaces face customers).

The PromQL sent
---------------
For a window ``W`` (the interval length, e.g. ``300s``) and the configured names and matchers::

    rate(ifHCInOctets{job="snmp"}[300s]) * 8
    rate(ifHCOutOctets{job="snmp"}[300s]) * 8
    resets(ifHCInOctets{job="snmp"}[300s])          (only to find wraps and resets, see below)
    resets(ifHCOutOctets{job="snmp"}[300s])
    ifHighSpeed{job="snmp"}                         (instant, at the last time; Mbit/s -> * 1e6)

The row stamped ``ds`` is the mean over ``[ds, ds + W)``: the rate is evaluated at ``ds + W``
(``query_range`` from the first ``ds + W`` to the last, every ``step``). ``{job="snmp"}`` stands for
the configured matchers (none by default: ``rate(ifHCOutOctets[300s]) * 8``). The series are
matched to interfaces by their ``instance`` and ``ifName`` labels (configurable, e.g. gnmic's
``source`` and ``interface_name``, with metric names such as
``interfaces_interface_state_counters_out_octets``).

Counter wraps and resets: ``rate()`` treats any decrease as a reset to 0, which is right for a
router reboot but wrong for a 64-bit wrap (it loses ``2**64 - previous value``). Where
``resets(...)`` is positive, the source fetches that window's raw samples (``metric{...}[W]``) and
recomputes the rate itself: a drop from above ``2**63`` is a wrap (the increase is ``2**64 -
previous + next``), any other drop a reset (the counter restarted from 0); each case is reported
in ``notes``.

A simulated network: when the data come from
:class:`~surgeguard.telemetry.simulate.TelemetrySimulator` at an accelerated clock, give the
:class:`~surgeguard.telemetry.simulate.SimClock` (``clock=``, or read it from the simulator's
gauges with :meth:`PrometheusSource.sim_clock`): ``ds`` are then simulated times, evaluated at
wall time ``clock.to_wall(ds + W)`` over the wall window ``clock.wall_duration(ds, ds + W)``.

Errors are one line (:class:`TelemetryError`, an :class:`~surgeguard.exceptions.InputError`)
naming the URL and the fix: Prometheus unreachable or too slow, an HTTP error, a PromQL error, a
URL that is not a Prometheus, no data at all for a metric. A series missing for an interface gives
NaN loads there and a note naming ``instance/ifName``.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Mapping

import numpy as np
import pandas as pd

from ..exceptions import InputError, ValidationError
from .counters import InterfaceRates
from .interfaces import InterfaceMap
from .loads import LinkLoads
from .simulate import COUNTER_MODULUS, SimClock, to_unix

__all__ = ["PrometheusSource", "TelemetryError", "promql_duration", "label_matchers", "MAX_POINTS"]

#: Prometheus refuses range queries of more than 11,000 points per series; longer spans are split.
MAX_POINTS = 11_000
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class TelemetryError(InputError):
    """Telemetry cannot be read: the server is unreachable or refuses the query, or has no data."""


def promql_duration(seconds: float) -> str:
    """A PromQL duration for ``seconds`` (whole milliseconds): ``300s``, ``2500ms``.

    >>> promql_duration(300), promql_duration(2.5), promql_duration(3.0004)
    ('300s', '2500ms', '3s')
    """
    ms = int(round(float(seconds) * 1000))
    if ms <= 0:
        raise ValidationError(f"a PromQL window must be at least 1 ms; got {seconds!r} s")
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _escape(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def label_matchers(matchers) -> str:
    """The text inside ``{...}`` for ``matchers``: a mapping ``{"job": "snmp"}`` (equality
    matchers) or a string of PromQL matchers (``'job="snmp",site=~"par.*"'``, used as it is).

    >>> label_matchers({"job": "snmp", "site": 'a"b'})
    'job="snmp",site="a\\\\"b"'
    """
    if matchers is None or matchers == "" or matchers == {}:
        return ""
    if isinstance(matchers, str):
        text = matchers.strip()
        if "{" in text or "}" in text:
            raise ValidationError(f"The 'matchers' parameter of PrometheusSource must be label matchers without "
                                  f"braces, e.g. job=\"snmp\". Got {matchers!r} instead.")
        return text
    if isinstance(matchers, Mapping):
        parts = []
        for k, v in matchers.items():
            if not _LABEL.match(str(k)):
                raise ValidationError(f"The 'matchers' parameter of PrometheusSource has {k!r}, which is not a label "
                                      "name (letters, digits, '_')")
            parts.append(f'{k}="{_escape(v)}"')
        return ",".join(parts)
    raise ValidationError(f"The 'matchers' parameter of PrometheusSource must be a mapping or a string. "
                          f"Got {type(matchers).__name__} instead.")


def _seconds(value, what: str) -> float:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        s = float(value)
    else:
        try:
            s = pd.Timedelta(value).total_seconds()
        except (ValueError, TypeError):
            s = float("nan")
    if not (math.isfinite(s) and s > 0):
        raise ValidationError(f"The '{what}' parameter of PrometheusSource must be a positive duration (seconds, "
                              f"or e.g. '5min'). Got {value!r} instead.")
    return s


def _runs(e_ms: np.ndarray) -> list[np.ndarray]:
    """Split positions of increasing times into maximal arithmetic runs of at most MAX_POINTS."""
    out, i, n = [], 0, len(e_ms)
    while i < n:
        j = i + 1
        if j < n:
            d = e_ms[j] - e_ms[i]
            while j + 1 < n and e_ms[j + 1] - e_ms[j] == d and j + 1 - i < MAX_POINTS:
                j += 1
            j += 1
        out.append(np.arange(i, j))
        i = j
    return out


class PrometheusSource:
    """Link loads from a Prometheus server (see the module docstring for the PromQL sent).

    Parameters
    ----------
    url : the server's base URL, e.g. ``http://localhost:9090``.
    interfaces : the :class:`InterfaceMap` of the network.
    in_metric, out_metric : the octet counters (default ``ifHCInOctets``, ``ifHCOutOctets``).
    speed_metric : the interface speed (default ``ifHighSpeed``, Mbit/s) or None; ``speed_scale``
        turns its unit into bit/s (default 1e6).
    instance_label, ifname_label : the labels naming the router and the interface (default
        ``instance``, ``ifName``).
    matchers : extra label matchers added to every selector: ``{"job": "snmp"}`` or a PromQL
        string such as ``'job="snmp",site=~"par.*"'``.
    scale : bits per counter unit (8 for octets; 1 for counters already in bits).
    timeout : seconds to wait for each answer.
    clock : a :class:`SimClock` mapping the series' times to Prometheus (wall) time; None = the
        times are Prometheus times.
    """

    def __init__(self, url: str, *, interfaces: InterfaceMap, in_metric: str = "ifHCInOctets",
                 out_metric: str = "ifHCOutOctets", speed_metric: str | None = "ifHighSpeed",
                 speed_scale: float = 1e6, instance_label: str = "instance", ifname_label: str = "ifName",
                 matchers=None, scale: float = 8.0, timeout: float = 10.0, clock: SimClock | None = None):
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url.strip()):
            raise TelemetryError(f"Prometheus URL {url!r} is not an http(s) URL; give the server's base URL, e.g. "
                                 "http://localhost:9090")
        if not isinstance(interfaces, InterfaceMap):
            raise ValidationError(f"The 'interfaces' parameter of PrometheusSource must be an InterfaceMap. "
                                  f"Got {type(interfaces).__name__} instead.")
        names = (("in_metric", in_metric, _NAME, "a metric name"), ("out_metric", out_metric, _NAME, "a metric name"),
                 ("speed_metric", speed_metric, _NAME, "a metric name or None"),
                 ("instance_label", instance_label, _LABEL, "a label name"),
                 ("ifname_label", ifname_label, _LABEL, "a label name"))
        for what, name, pattern, kind in names:
            if not (name is None and what == "speed_metric") and not (isinstance(name, str) and pattern.match(name)):
                raise ValidationError(f"The '{what}' parameter of PrometheusSource must be {kind}. Got {name!r} instead.")
        for what, v in (("scale", scale), ("speed_scale", speed_scale), ("timeout", timeout)):
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
                raise ValidationError(f"The '{what}' parameter of PrometheusSource must be a float in (0, inf). "
                                      f"Got {v!r} instead.")
        if clock is not None and not isinstance(clock, SimClock):
            raise ValidationError(f"The 'clock' parameter of PrometheusSource must be a SimClock or None. "
                                  f"Got {type(clock).__name__} instead.")
        self.url = url.strip().rstrip("/")
        self.interfaces = interfaces
        self.in_metric, self.out_metric, self.speed_metric = in_metric, out_metric, speed_metric
        self.speed_scale, self.scale, self.timeout = float(speed_scale), float(scale), float(timeout)
        self.instance_label, self.ifname_label = instance_label, ifname_label
        self.matchers = label_matchers(matchers)
        self.clock = clock
        #: the PromQL the last :meth:`interface_rates` / :meth:`query_range` sent
        self.queries: tuple[str, ...] = ()

    # ------------------------------------------------------------------ PromQL
    def selector(self, metric: str, extra: str = "") -> str:
        """``metric{matchers}`` (no braces when there is no matcher)."""
        inside = ",".join(p for p in (self.matchers, extra) if p)
        return f"{metric}{{{inside}}}" if inside else metric

    def promql(self, metric: str, window: float) -> str:
        """The rate query for ``metric`` over ``window`` seconds, in bit/s:
        ``rate(ifHCOutOctets{...}[300s]) * 8``."""
        return f"rate({self.selector(metric)}[{promql_duration(window)}]) * {self.scale:g}"

    # ------------------------------------------------------------------ HTTP API
    def api(self, path: str, params: Mapping[str, str]) -> dict:
        """``POST`` ``params`` to ``path`` of the HTTP API; the ``data`` of a successful answer."""
        url = self.url + path
        body = urllib.parse.urlencode(dict(params)).encode()
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"})
        query = params.get("query", "")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raw = err.read() or b""
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and doc.get("status") == "error":
                raise TelemetryError(f"Prometheus at {self.url} refused the query {query!r}: {doc.get('errorType')}: "
                                     f"{doc.get('error')}; fix the metric or label names or the matchers") from None
            raise TelemetryError(f"{url} answered HTTP {err.code} {err.reason}; is {self.url} a Prometheus server? "
                                 "give its base URL, e.g. http://localhost:9090") from None
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise TelemetryError(f"Prometheus at {self.url} did not answer within {self.timeout:g} s; check the "
                                     "server (or its load) or allow a longer timeout") from None
            raise TelemetryError(f"Prometheus at {self.url} is unreachable ({getattr(reason, 'strerror', None) or reason}); "
                                 "start it or fix the URL (scheme, host and port, e.g. http://localhost:9090)") from None
        except (socket.timeout, TimeoutError):
            raise TelemetryError(f"Prometheus at {self.url} did not answer within {self.timeout:g} s; check the "
                                 "server (or its load) or allow a longer timeout") from None
        except (OSError, ValueError) as err:  # connection reset, bad URL parts
            raise TelemetryError(f"Prometheus at {self.url} cannot be queried ({type(err).__name__}: {err}); check "
                                 "the URL and that the server runs") from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise TelemetryError(f"{url} did not answer with JSON; is {self.url} a Prometheus server? give its base "
                                 "URL, e.g. http://localhost:9090") from None
        if not isinstance(doc, dict) or doc.get("status") != "success" or "data" not in doc:
            err = doc.get("error") if isinstance(doc, dict) else None
            raise TelemetryError(f"Prometheus at {self.url} answered {query!r} without data ({err or 'no status'}); "
                                 "check the query and the server")
        return doc["data"]

    def instant(self, query: str, at: float | None = None) -> list[dict]:
        """The result of an instant query at Unix time ``at`` (default: the server's now)."""
        params = {"query": query}
        if at is not None:
            params["time"] = f"{float(at):.3f}"
        return self.api("/api/v1/query", params).get("result", [])

    def range(self, query: str, start: float, end: float, step: float) -> list[dict]:
        """The result (a matrix) of a range query from ``start`` to ``end`` (Unix seconds) every ``step``."""
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):.3f}"}
        return self.api("/api/v1/query_range", params).get("result", [])

    # ------------------------------------------------------------------ clock
    def sim_clock(self, at=None) -> SimClock:
        """The simulator's clock from its gauges (``surgeguard_sim_*``) as Prometheus holds them at
        ``at`` (default: now; a time or Unix seconds)."""
        values = {}
        when = None if at is None else float(to_unix(at))
        for name in ("surgeguard_sim_wall_start_seconds", "surgeguard_sim_start_seconds", "surgeguard_sim_speed"):
            res = self.instant(f"max({self.selector(name)})", when)
            if not res:
                raise TelemetryError(f"Prometheus at {self.url} holds no {name} (a surgeguard telemetry simulator's "
                                     f"clock gauge){'' if at is None else f' at {at}'}; the data do not come from a "
                                     "simulator (give the times as they are) or give a time inside the data")
            values[name] = float(res[0]["value"][1])
        return SimClock.from_values(values)

    # ------------------------------------------------------------------ reading
    def _grid(self, start, end, step, window):
        step_s = _seconds(step, "step")
        win_s = step_s if window is None else _seconds(window, "window")
        a, b = float(to_unix(start)), float(to_unix(end))
        if b < a:
            raise ValidationError(f"PrometheusSource: end {end} is before start {start}; give start <= end")
        n = int(math.floor((b - a) / step_s + 1e-9)) + 1
        if n > 1_000_000:
            raise ValidationError(f"PrometheusSource: {n} intervals from {start} to {end}; give a shorter span or a "
                                  "longer step")
        ds = a + step_s * np.arange(n)
        clock = self.clock
        if clock is None:
            e, w = ds + win_s, np.full(n, win_s)
        else:
            e = np.asarray(clock.to_wall(ds + win_s), dtype=float).reshape(n)
            w = e - np.asarray(clock.to_wall(ds), dtype=float).reshape(n)
        return ds, np.round(e * 1000).astype(np.int64), np.round(w * 1000).astype(np.int64), win_s

    def _match(self, results: list[dict], query: str, seen_unknown: set) -> dict[int, dict]:
        """Result series by interface position; unknown interfaces are collected; a duplicate is an error."""
        labelled = []
        for r in results:
            labels = r.get("metric", {})
            inst, ifn = labels.get(self.instance_label), labels.get(self.ifname_label)
            if inst is None or ifn is None:
                seen_unknown.add(f"{{{', '.join(f'{k}={v}' for k, v in sorted(labels.items()))}}} (no "
                                 f"{self.instance_label}/{self.ifname_label} label)")
                continue
            labelled.append((r, labels, inst, ifn))
        # one lookup for the whole answer (a lookup per series cost ~95 % of a read)
        where = self.interfaces.lookup([x[2] for x in labelled], [x[3] for x in labelled]) if labelled else []
        by_pos: dict[int, dict] = {}
        for (r, labels, inst, ifn), pos in zip(labelled, where):
            pos = int(pos)
            if pos < 0:
                seen_unknown.add(f"{inst}/{ifn}")
                continue
            if pos in by_pos:
                a = by_pos[pos].get("metric", {})
                raise TelemetryError(f"Prometheus at {self.url}: {query!r} gives two series for {inst}/{ifn} "
                                     f"({dict(sorted(a.items()))} and {dict(sorted(labels.items()))}); add label "
                                     "matchers (e.g. job) that keep one")
            by_pos[pos] = r
        return by_pos

    def _raw_rate(self, metric: str, pos: int, e_ms: int, w_ms: int) -> tuple[float, str]:
        """The rate (bit/s) over one window from raw samples, with wraps and resets handled."""
        m = self.interfaces
        inst, ifn = m.instance[pos], m.ifname[pos]
        sel = self.selector(metric, f'{self.instance_label}="{_escape(inst)}",{self.ifname_label}="{_escape(ifn)}"')
        res = self.instant(f"{sel}[{promql_duration(w_ms / 1000)}]", e_ms / 1000)
        if not res or len(res[0].get("values", [])) < 2:
            return float("nan"), "too few samples"
        vals = res[0]["values"]
        t = np.array([float(x[0]) for x in vals])
        v = [float(x[1]) for x in vals]
        inc, kinds = 0.0, []
        for prev, cur in zip(v[:-1], v[1:]):
            if cur >= prev:
                inc += cur - prev
            elif prev > COUNTER_MODULUS / 2:
                inc += COUNTER_MODULUS - prev + cur
                kinds.append("a 64-bit wrap")
            else:
                inc += cur
                kinds.append(f"a reset (from {prev:.0f} to {cur:.0f})")
        span = float(t[-1] - t[0])
        if span <= 0:
            return float("nan"), "too few samples"
        return inc * self.scale / span, " and ".join(dict.fromkeys(kinds)) or "no decrease"

    def interface_rates(self, start, end, step, window=None) -> InterfaceRates:
        """Per-interface in/out rates (:class:`~surgeguard.telemetry.counters.InterfaceRates`, in
        the map's interface order, NaN where Prometheus has none) for the intervals
        ``ds = start, start + step, ..., end`` (each the mean over ``[ds, ds + window)``;
        ``window`` defaults to ``step``). :attr:`queries` then holds the PromQL sent."""
        ds, e_ms, w_ms, win_s = self._grid(start, end, step, window)
        m = self.interfaces
        T, n = len(ds), m.n_interfaces
        rates = {self.in_metric: np.full((T, n), np.nan), self.out_metric: np.full((T, n), np.nan)}
        found = {self.in_metric: np.zeros((T, n), bool), self.out_metric: np.zeros((T, n), bool)}
        notes: list[str] = []
        queries: list[str] = []
        unknown: set = set()
        groups: dict[int, list[int]] = {}
        for k, w in enumerate(w_ms.tolist()):
            groups.setdefault(w, []).append(k)
        fixes = []
        for w, rows in groups.items():
            rows = np.asarray(rows)
            for run in _runs(e_ms[rows]):
                idx = rows[run]
                t0, t1 = e_ms[idx[0]] / 1000, e_ms[idx[-1]] / 1000
                dt = (e_ms[idx[1]] - e_ms[idx[0]]) / 1000 if len(idx) > 1 else 1.0
                row_of = {int(e): int(k) for e, k in zip(e_ms[idx], idx)}
                for metric in (self.in_metric, self.out_metric):
                    q = self.promql(metric, w / 1000)
                    queries.append(q)
                    for pos, r in self._match(self.range(q, t0, t1, dt), q, unknown).items():
                        for tv, val in r.get("values", []):
                            k = row_of.get(int(round(float(tv) * 1000)))
                            if k is not None:
                                rates[metric][k, pos] = float(val)
                                found[metric][k, pos] = True
                    qr = f"resets({self.selector(metric)}[{promql_duration(w / 1000)}])"
                    queries.append(qr)
                    for pos, r in self._match(self.range(qr, t0, t1, dt), qr, set()).items():
                        for tv, val in r.get("values", []):
                            k = row_of.get(int(round(float(tv) * 1000)))
                            if k is not None and float(val) > 0:
                                fixes.append((metric, k, pos, int(e_ms[k]), w))
        for metric in (self.in_metric, self.out_metric):
            if not found[metric].any():
                first = ds[0]
                raise TelemetryError(f"Prometheus at {self.url} has no data for {self.promql(metric, win_s)!r} "
                                     f"for the intervals from {pd.Timestamp(first, unit='s', tz='UTC')} to "
                                     f"{pd.Timestamp(ds[-1], unit='s', tz='UTC')}"
                                     f"{'' if self.clock is None else ' (simulated times, mapped by the clock)'}; "
                                     "check the metric name, the label matchers and the time range")
        for metric, k, pos, e, w in fixes:
            val, kind = self._raw_rate(metric, pos, e, w)
            rates[metric][k, pos] = val
            when = pd.Timestamp(ds[k], unit="s", tz="UTC")
            notes.append(f"{metric} of {m.instance[pos]}/{m.ifname[pos]} went down in the interval {when}: {kind}; "
                         + ("rate recomputed from the raw samples" if math.isfinite(val) else "rate unknown (NaN)"))
        for metric in (self.in_metric, self.out_metric):
            bad = ~np.isfinite(rates[metric]) & found[metric]
            if bad.any():
                rates[metric][bad] = np.nan
            none = ~found[metric].any(axis=0)
            if none.any():
                names = [f"{m.instance[i]}/{m.ifname[i]}" for i in np.flatnonzero(none)]
                notes.append(f"Prometheus has no {metric} series for {len(names)} interface(s) of the map, their "
                             f"rates are unknown (NaN): {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
            gaps = int((~found[metric][:, ~none]).sum())
            if gaps:
                notes.append(f"{gaps} (interval, interface) {metric} rate(s) missing in Prometheus (gaps), unknown (NaN)")
        if unknown:
            names = sorted(unknown)
            notes.append(f"{len(names)} interface(s) in Prometheus are not in the interface map and were ignored: "
                         f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
        speed = None
        if self.speed_metric is not None:
            sel = self.selector(self.speed_metric)
            queries.append(sel)
            res = self._match(self.instant(sel, e_ms[-1] / 1000), sel, set())
            speed = np.full(n, np.nan)
            for pos, r in res.items():
                speed[pos] = float(r["value"][1]) * self.speed_scale
            if not res:
                notes.append(f"Prometheus has no {self.speed_metric}; link capacities unknown")
        times = pd.DatetimeIndex(pd.to_datetime(np.round(ds * 1e9).astype(np.int64), utc=True))
        self.queries = tuple(dict.fromkeys(queries))
        return InterfaceRates(times, m.instance, m.ifname, rates[self.in_metric], rates[self.out_metric], speed,
                              tuple(notes), name=f"Prometheus {self.url}")

    def query_range(self, start, end, step, window=None, *, name: str | None = None) -> LinkLoads:
        """Link loads (and node totals) for the intervals ``ds = start, start + step, ..., end``:
        row ``ds`` is the mean over ``[ds, ds + window)`` (``window`` defaults to ``step``).
        ``start``/``end``: times (Unix seconds or ISO; simulated times when a ``clock`` is set),
        ``step``/``window``: seconds or durations such as ``'5min'``."""
        r = self.interface_rates(start, end, step, window)
        return self.interfaces.rates_to_loads(r.in_bps, r.out_bps, r.times, speed_bps=r.speed_bps, notes=r.notes,
                                              name=name or f"Prometheus {self.url}")

    def latest(self, step, window=None, *, at=None, name: str | None = None) -> LinkLoads:
        """The last complete interval at ``at`` (default: now; simulated time when a ``clock`` is
        set, else Prometheus time): ``ds`` on the grid of multiples of ``step`` since the epoch
        such that ``ds + window <= at``."""
        step_s = _seconds(step, "step")
        win_s = step_s if window is None else _seconds(window, "window")
        if at is None:
            now = time.time()
            at = self.clock.to_sim(now) if self.clock is not None else now
        t = float(to_unix(at))
        ds = math.floor((t - win_s) / step_s + 1e-9) * step_s
        return self.query_range(ds, ds, step_s, win_s, name=name)

    def __repr__(self) -> str:
        return (f"PrometheusSource({self.url!r}, {self.in_metric}/{self.out_metric} by "
                f"{self.instance_label}/{self.ifname_label}{', ' + self.matchers if self.matchers else ''})")
