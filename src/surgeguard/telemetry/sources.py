"""Telemetry sources: where a controller reads each interval's link loads from.

A :class:`TelemetrySource` answers three questions, all on a grid of intervals of ``step``
seconds (a row stamped ``ds`` is the mean over ``[ds, ds + step)``, UTC):

* :meth:`~TelemetrySource.loads` ``(start, end, step) -> LinkLoads``: the rows
  ``ds = start, start + step, ..., end`` over the network's links and nodes, NaN where nothing was
  measured (a missing interface or router, a counter reset, a gap);
* :meth:`~TelemetrySource.latest` ``(step) -> Timestamp | None``: the last interval complete now
  (None: none yet);
* :meth:`~TelemetrySource.ready_at` ``(ds, step) -> float``: the wall-clock time (Unix seconds)
  from which interval ``ds`` can be read, to wait for it;
* :meth:`~TelemetrySource.capacity` ``() -> ndarray | None``: the links' capacities (bit/s, NaN
  where unknown) as the routers report them (``ifHighSpeed``), None when they report none.

Two implementations:

* :class:`LoadsSource` over :class:`~surgeguard.telemetry.LinkLoads` already in memory, and
  :class:`CounterFileSource` over a counter or rate file (:func:`~surgeguard.telemetry.read_link_loads`),
  replayed interval by interval: every interval at once (``speed=None``), or paced at ``speed``
  simulated seconds per wall second from ``wall_start``. With ``follow=True`` the file is read again
  when it has changed and an interval past its end is asked for (a collector appending to it).
  The reader's notes that name a span of time (a counter reset, a wrap, a gap) come with the
  intervals that span touches (:func:`notes_between`).
* :class:`PrometheusTelemetry`, an adapter of :class:`~surgeguard.telemetry.PrometheusSource`: the
  intervals Prometheus has scraped, on its clock (or the simulator's accelerated clock), ``lag``
  wall seconds after each interval's end (the last scrape must have arrived). A server that cannot be
  reached raises :class:`SourceUnavailable` (retrying later may succeed); a server that answers but
  holds no data for an interval gives NaN loads there, with a note.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..network import Network
from .files import read_link_loads
from .loads import LinkLoads
from .prometheus import PrometheusSource, TelemetryError
from .simulate import SimClock, to_unix

__all__ = ["TelemetrySource", "SourceUnavailable", "LoadsSource", "CounterFileSource", "PrometheusTelemetry",
           "interval_grid", "step_seconds", "notes_between"]

_TIME = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?\+00:00)"
#: the span a counter note names (``... between 2020-03-19 06:00:00+00:00 and 2020-03-19 06:05:00+00:00 ...``,
#: as :func:`~surgeguard.telemetry.counter_rates` writes them)
_SPAN = re.compile(f"between {_TIME} and {_TIME}")
_AT = re.compile(_TIME)


def notes_between(notes, start, end) -> tuple[str, ...]:
    """The notes of a telemetry read that concern the time ``[start, end)``: those naming a span
    (``between A and B``, as the counter reader writes) that overlaps it, those naming times (``in
    the interval T``, as :class:`~surgeguard.telemetry.PrometheusSource` writes) one of which lies
    in it, and those naming no time.

    >>> notes = ["r1/ae0 in: counter reset between 2020-03-19 02:30:00+00:00 and 2020-03-19 02:35:00+00:00",
    ...          "x went down in the interval 2020-03-19 02:35:00+00:00: a reset", "no series for r9/ae0"]
    >>> notes_between(notes, "2020-03-19 02:30Z", "2020-03-19 02:35Z")[0][:13], len(notes_between(notes, "2020-03-19 02:35Z", "2020-03-19 02:40Z"))
    ('r1/ae0 in: co', 2)
    """
    a, b = pd.Timestamp(to_unix(start), unit="s", tz="UTC"), pd.Timestamp(to_unix(end), unit="s", tz="UTC")
    out = []
    for line in notes:
        span = _SPAN.search(line)
        if span:
            if pd.Timestamp(span.group(1)) < b and pd.Timestamp(span.group(2)) > a:
                out.append(line)
            continue
        times = _AT.findall(line)
        if not times or any(a <= pd.Timestamp(t) < b for t in times):
            out.append(line)
    return tuple(out)


class SourceUnavailable(TelemetryError):
    """The telemetry source cannot be reached now (server down, connection refused, timeout);
    asking again later may succeed."""


def step_seconds(step, what: str = "step") -> float:
    """Seconds of an interval length: a number of seconds or a duration such as ``'5min'``.

    >>> step_seconds("5min"), step_seconds(300)
    (300.0, 300.0)
    """
    if isinstance(step, pd.Timedelta):
        s = step.total_seconds()
    elif isinstance(step, (int, float, np.integer, np.floating)) and not isinstance(step, bool):
        s = float(step)
    else:
        try:
            s = pd.Timedelta(step).total_seconds()
        except (ValueError, TypeError):
            s = float("nan")
    if not (math.isfinite(s) and s > 0):
        raise ValidationError(f"The '{what}' parameter must be a positive duration (seconds, or e.g. '5min'). "
                              f"Got {step!r} instead.")
    return s


def interval_grid(start, end, step) -> pd.DatetimeIndex:
    """``start, start + step, ..., end`` (UTC; ``end`` included when on the grid).

    >>> list(interval_grid("2020-03-20 10:00", "2020-03-20 10:10", "5min").strftime("%H:%M"))
    ['10:00', '10:05', '10:10']
    """
    s = step_seconds(step)
    a, b = float(to_unix(start)), float(to_unix(end))
    if b < a:
        raise ValidationError(f"telemetry: end {end} is before start {start}; give start <= end")
    n = int(math.floor((b - a) / s + 1e-9)) + 1
    ns = np.round((a + s * np.arange(n)) * 1e9).astype(np.int64)
    return pd.DatetimeIndex(pd.to_datetime(ns, utc=True))


@runtime_checkable
class TelemetrySource(Protocol):
    """What a controller reads telemetry through (see the module docstring)."""

    name: str

    def loads(self, start, end, step) -> LinkLoads:
        """Rows ``ds = start .. end`` every ``step`` (NaN where not measured), over the network."""

    def latest(self, step) -> pd.Timestamp | None:
        """The last interval complete now, or None."""

    def ready_at(self, ds, step) -> float:
        """Wall-clock Unix seconds from which interval ``ds`` can be read."""

    def capacity(self) -> np.ndarray | None:
        """The links' capacities (bit/s, NaN where unknown) the routers report, or None."""


# ----------------------------------------------------------------------------------- in memory / files
class LoadsSource:
    """Link loads held in memory, served interval by interval.

    Parameters
    ----------
    loads : :class:`LinkLoads` (aligned here to ``network`` when given).
    network : the network the rows are for (links and nodes in its order).
    speed : None (every interval is ready at once) or simulated seconds per wall second: interval
        ``ds`` is ready at ``wall_start + (ds + step - first ds) / speed``.
    wall_start : the wall time of the first interval's start (default: when created).

    >>> from surgeguard.examples import triangle
    >>> net = triangle()
    >>> ll = LinkLoads(pd.date_range("2020-03-20", periods=3, freq="5min"), net.link_names,
    ...                np.ones((3, net.n_links)))
    >>> src = LoadsSource(ll, network=net)
    >>> src.latest("5min"), len(src.loads("2020-03-20 00:05", "2020-03-20 00:15", "5min"))
    (Timestamp('2020-03-20 00:10:00+0000', tz='UTC'), 3)
    >>> bool(np.isnan(src.loads("2020-03-20 00:15", "2020-03-20 00:15", 300).bps).all())
    True
    """

    def __init__(self, loads: LinkLoads, *, network: Network | None = None, speed: float | None = None,
                 wall_start: float | None = None, name: str | None = None):
        if not isinstance(loads, LinkLoads):
            raise ValidationError(f"The 'loads' parameter of LoadsSource must be LinkLoads. "
                                  f"Got {type(loads).__name__} instead.")
        if speed is not None and not (isinstance(speed, (int, float)) and not isinstance(speed, bool)
                                      and math.isfinite(speed) and speed > 0):
            raise ValidationError(f"The 'speed' parameter of LoadsSource must be None or a float in (0, inf). "
                                  f"Got {speed!r} instead.")
        self.network = network
        self.speed = None if speed is None else float(speed)
        self.wall_start = time.time() if wall_start is None else float(wall_start)
        self.name = name or loads.name
        self._set(loads)
        #: notes of the whole series (wraps, resets, gaps the reader handled), said once
        self.notes: tuple[str, ...] = self._loads.notes

    def _set(self, loads: LinkLoads) -> None:
        self._loads = loads.align(self.network) if self.network is not None else loads
        self._index = pd.Index(self._loads.times.asi8)

    @property
    def times(self) -> pd.DatetimeIndex:
        """The intervals held."""
        return self._loads.times

    def _refresh(self) -> None:
        """Hook: re-read the data (files that grow)."""

    def loads(self, start, end, step) -> LinkLoads:
        grid = interval_grid(start, end, step)
        if len(grid) and grid[-1] > self._loads.times[-1]:
            self._refresh()
        src = self._loads
        pos = self._index.get_indexer(grid.asi8)
        have = pos >= 0
        T = len(grid)

        def take(arr, width):
            out = np.full((T, width), np.nan)
            out[have] = arr[pos[have]]
            return out

        missing = int((~have).sum())
        notes = (f"{self.name}: {missing} of {T} interval(s) not in the data, loads unknown (NaN)",) if missing else ()
        if T:  # the reader's notes that name a time in the window (wraps, resets, gaps)
            timed = tuple(line for line in src.notes if _AT.search(line))
            notes += notes_between(timed, grid[0], grid[-1] + pd.Timedelta(seconds=step_seconds(step)))
        return LinkLoads(grid, src.links, take(src.bps, len(src.links)), src.nodes,
                         None if src.ingress is None else take(src.ingress, len(src.nodes)),
                         None if src.egress is None else take(src.egress, len(src.nodes)),
                         src.capacity, notes, name=self.name)

    def latest(self, step) -> pd.Timestamp | None:
        self._refresh()
        times = self._loads.times
        if not len(times):
            return None
        if self.speed is None:
            return times[-1]
        s = step_seconds(step)
        sim_now = to_unix(times[0]) + (time.time() - self.wall_start) * self.speed
        k = int(np.searchsorted(times.asi8 / 1e9 + s, sim_now + 1e-9, side="right")) - 1
        return times[min(k, len(times) - 1)] if k >= 0 else None

    def ready_at(self, ds, step) -> float:
        if self.speed is None:
            return time.time()
        s = step_seconds(step)
        return self.wall_start + (to_unix(ds) + s - to_unix(self._loads.times[0])) / self.speed

    def capacity(self) -> np.ndarray | None:
        return None if self._loads.capacity is None else np.asarray(self._loads.capacity, dtype=float)

    @property
    def exhausted_after(self) -> pd.Timestamp | None:
        """The last interval there will ever be (None: more may come)."""
        return self._loads.times[-1] if len(self._loads.times) else None

    def __repr__(self) -> str:
        t = self._loads.times
        span = f"{t[0]} .. {t[-1]}" if len(t) else "empty"
        return f"<{type(self).__name__} {self.name!r}: {len(t)} interval(s), {span}>"


class CounterFileSource(LoadsSource):
    """A counter or rate file (CSV/Parquet, :func:`~surgeguard.telemetry.read_link_loads`) replayed
    interval by interval.

    Parameters
    ----------
    path : counters ``ds, instance, ifName, in_octets, out_octets[, speed_mbps]`` or rates
        ``ds, src, dst, bps`` (with ``node_totals``).
    network : the network.
    interfaces : the interface map (an :class:`~surgeguard.telemetry.InterfaceMap` or a file) for
        counters; default as :func:`~surgeguard.telemetry.interface_map_for`.
    node_totals : a node totals file ``ds, node, ingress_bps, egress_bps``.
    step : the interval length the counters are resampled to when their samples are irregular.
    speed, wall_start : pacing, as :class:`LoadsSource`.
    follow : read the file again when it changed and an interval past its end is asked for.
    """

    def __init__(self, path, network: Network, *, interfaces=None, node_totals=None, step=None,
                 speed: float | None = None, wall_start: float | None = None, follow: bool = False):
        self.path = Path(path)
        self._read_args = {"interfaces": interfaces, "node_totals": node_totals, "step": step}
        self.follow = bool(follow)
        self._mtime = self._stamp()
        super().__init__(read_link_loads(self.path, network, **self._read_args), network=network, speed=speed,
                         wall_start=wall_start, name=self.path.name)

    def _stamp(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        if not self.follow:
            return
        stamp = self._stamp()
        if stamp is None or stamp == self._mtime:
            return
        self._mtime = stamp
        self._set(read_link_loads(self.path, self.network, **self._read_args))
        self.notes = self._loads.notes

    @property
    def exhausted_after(self) -> pd.Timestamp | None:
        return None if self.follow else super().exhausted_after


# ----------------------------------------------------------------------------------- Prometheus
class PrometheusTelemetry:
    """A :class:`~surgeguard.telemetry.PrometheusSource` as a :class:`TelemetrySource`.

    Parameters
    ----------
    source : the PrometheusSource (its ``clock``, when set, maps simulated times to Prometheus's).
    network : the network the loads are aligned to.
    lag : wall seconds after an interval's end before it is read (the last scrape of the interval
        must have been ingested; one or two scrape intervals).

    :meth:`loads` turns an unreachable server into :class:`SourceUnavailable`; any other
    :class:`~surgeguard.telemetry.TelemetryError` from a server that answers (no data for the
    intervals asked) gives NaN loads for them with the error as a note.
    """

    def __init__(self, source: PrometheusSource, network: Network, *, lag: float = 2.0):
        if not isinstance(source, PrometheusSource):
            raise ValidationError(f"The 'source' parameter of PrometheusTelemetry must be a PrometheusSource. "
                                  f"Got {type(source).__name__} instead.")
        if not (isinstance(lag, (int, float)) and not isinstance(lag, bool) and math.isfinite(lag) and lag >= 0):
            raise ValidationError(f"The 'lag' parameter of PrometheusTelemetry must be a float in [0, inf). "
                                  f"Got {lag!r} instead.")
        self.source = source
        self.network = network
        self.lag = float(lag)
        self.name = f"Prometheus {source.url}"

    @property
    def clock(self) -> SimClock | None:
        return self.source.clock

    def reachable(self) -> bool:
        """Whether the server answers a trivial query now."""
        try:
            self.source.instant("1")
        except TelemetryError:
            return False
        return True

    def loads(self, start, end, step) -> LinkLoads:
        grid = interval_grid(start, end, step)
        try:
            got = self.source.query_range(grid[0], grid[-1], step_seconds(step), name=self.name)
        except TelemetryError as err:
            if not self.reachable():
                raise SourceUnavailable(str(err)) from None
            n, L = self.network.n_nodes, self.network.n_links
            nan = np.full((len(grid), n), np.nan)
            return LinkLoads(grid, self.network.link_names, np.full((len(grid), L), np.nan), self.network.node_names,
                             nan, nan.copy(), None, (f"{err}",), name=self.name)
        return got.align(self.network)

    def capacity(self) -> np.ndarray | None:
        """Link capacities from the speed metric (``ifHighSpeed``) as Prometheus holds it now;
        None when it holds none (or no speed metric is configured). Raises
        :class:`SourceUnavailable` when the server cannot be reached."""
        src = self.source
        if src.speed_metric is None:
            return None
        m = src.interfaces
        try:
            res = src.instant(src.selector(src.speed_metric))
        except TelemetryError as err:
            if not self.reachable():
                raise SourceUnavailable(str(err)) from None
            raise
        speed = np.full(m.n_interfaces, np.nan)
        labels = [r.get("metric", {}) for r in res]
        pos = np.asarray(m.lookup([x.get(src.instance_label, "") for x in labels],
                                  [x.get(src.ifname_label, "") for x in labels]), dtype=np.int64) if res else []
        for k, r in zip(pos, res):
            if k >= 0:
                speed[k] = float(r["value"][1]) * src.speed_scale
        if not np.isfinite(speed).any():
            return None
        nan = np.full((1, m.n_interfaces), np.nan)
        return m.rates_to_loads(nan, nan, [pd.Timestamp(0, tz="UTC")], speed_bps=speed).capacity

    def _sim_now(self) -> float:
        wall = time.time() - self.lag
        return float(self.clock.to_sim(wall)) if self.clock is not None else wall

    def latest(self, step) -> pd.Timestamp | None:
        s = step_seconds(step)
        ds = math.floor(self._sim_now() / s + 1e-9) * s - s
        return pd.Timestamp(round(ds * 1e9), unit="ns", tz="UTC")

    def ready_at(self, ds, step) -> float:
        end = float(to_unix(ds)) + step_seconds(step)
        wall = float(self.clock.to_wall(end)) if self.clock is not None else end
        return wall + self.lag

    exhausted_after = None

    def __repr__(self) -> str:
        return f"<PrometheusTelemetry {self.source!r}, lag {self.lag:g} s>"

