"""A live network to watch: a traffic series routed over the IGP, served as router interface counters.

:class:`TelemetrySimulator` routes a :class:`~surgeguard.TrafficSeries` over the network's IGP
(hop-by-hop ECMP, :func:`surgeguard.igp.ecmp_routing_matrix`) and turns the loads into the
counters routers keep for every interface (the :class:`~surgeguard.telemetry.InterfaceMap`, by
default :meth:`InterfaceMap.default <surgeguard.telemetry.InterfaceMap.default>`):

* ``ifHCInOctets`` / ``ifHCOutOctets``: 64-bit octet counters, integers, monotone, wrapping modulo
  ``2**64``, each starting at its own random offset (from ``seed``; :data:`START_OCTETS_HIGH`
  bounds it), optionally near ``2**64`` (``near_wrap``) so that it wraps during the series, and
  optionally reset to 0 at a chosen time (``resets``, for fault tests). A core interface's out
  octets count the load of its link, its in octets the load of the reverse link; an edge
  (customer-facing) interface counts its node's ingress (in) and egress (out) totals, self-traffic
  included.
* ``ifHighSpeed``: the interface speed in Mbit/s (link capacity / 1e6; an edge interface gets the
  sum of the capacities of its node's outgoing links, shared between the node's edge interfaces).

The traffic of interval ``k`` (stamped ``ds_k``, the mean over ``[ds_k, ds_k+1)``) flows at a
constant rate for the whole interval; the counter is the integral of the rate, rounded down to
whole octets: ``counter(t) = (start + floor(octets counted up to t)) mod 2**64``. Before the
series starts and after it ends the interfaces carry nothing.

Time: the simulated clock
-------------------------
The series has its own (simulated) times; a :class:`SimClock` maps them to wall-clock time (Unix
seconds, UTC), the time Prometheus stamps its samples with:

* from the pivot ``(wall_start, sim_start)`` on, simulated time runs ``speed`` times faster than
  the wall clock: ``sim = sim_start + (wall - wall_start) * speed``; an interval of ``step``
  simulated seconds lasts ``step / speed`` wall seconds;
* before the pivot (backfilled history), the clock runs at 1x: ``sim = sim_start + (wall -
  wall_start)``;
* counters always advance at the true byte rate **per wall second**: the simulated network is a
  network whose traffic changes every ``step / speed`` seconds. So ``rate(ifHCOutOctets[W]) * 8``
  in PromQL is the true load in bit/s, whatever the speed, and the load of interval ``ds`` is
  that rate evaluated at wall time ``to_wall(ds + step)`` over the wall window
  ``W = to_wall(ds + step) - to_wall(ds)`` (``step / speed`` when live, ``step`` in the history).

The default clock is the identity (``speed`` 1, wall time = simulated time): the counters a router
would have kept on the series' own dates. The served metrics include the clock, as gauges, so a
reader can map Prometheus timestamps back to the series' ``ds`` (:meth:`SimClock.from_values`):
``surgeguard_sim_time_seconds`` (simulated time at the scrape), ``surgeguard_sim_speed``,
``surgeguard_sim_start_seconds`` and ``surgeguard_sim_wall_start_seconds`` (the pivot),
``surgeguard_sim_interval`` (index of the interval being simulated; -1 before the series,
``T`` after it) and ``surgeguard_sim_interval_start_seconds`` (its ``ds``).

Exposition
----------
:meth:`TelemetrySimulator.families` gives the metric families as :mod:`prometheus_client`
objects (also through :class:`SimulatorCollector`, a ``prometheus_client`` collector), and
:func:`text_exposition` writes them in the Prometheus text format 0.0.4 exactly as
``snmp_exporter``'s ``if_mib`` module does: ``# TYPE ifHCInOctets counter`` and samples named
``ifHCInOctets`` (``prometheus_client.generate_latest`` would rename the family
``ifHCInOctets_total`` in the TYPE line, which then no longer matches the samples), labels
``ifAlias``, ``ifDescr``, ``ifIndex``, ``ifName``. :class:`SimulatorServer` serves it over HTTP:

* ``/metrics``: every router, each sample with an ``instance`` label (the router); scrape it with
  ``honor_labels: true`` so that Prometheus keeps that label;
* ``/snmp?target=ROUTER&module=if_mib``: one router without ``instance`` label, as
  ``snmp_exporter`` answers; Prometheus sets ``instance`` by relabelling ``__param_target``
  (the standard ``snmp_exporter`` scrape configuration).

>>> from surgeguard.examples import triangle
>>> from surgeguard import TrafficSeries
>>> net = triangle()
>>> tm = np.full((3, 3), 8e6)   # 8 Mbit/s = 1e6 octets/s between every pair
>>> sim = TelemetrySimulator(net, TrafficSeries(np.stack([tm, 2 * tm]), net.node_names,
...                          pd.date_range("2020-03-20", periods=2, freq="5min")), seed=1)
>>> a = sim.counters("2020-03-20 00:01")[0]
>>> b = sim.counters("2020-03-20 00:06")[0]
>>> (b - a)[0].tolist()  # A's et-0/0/0 (A->B), in and out: 4 min at 1e6 octets/s, 1 min at 2e6
[360000000, 360000000]
>>> print(sim.exposition(pd.Timestamp("2020-03-20 00:01").timestamp()).splitlines()[1])
# TYPE ifHCInOctets counter
"""

from __future__ import annotations

import copy
import math
import socketserver
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import numpy as np
import pandas as pd
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ..exceptions import ValidationError
from ..igp import ecmp_routing_matrix
from ..network import Network
from ..traffic import TrafficSeries
from .interfaces import InterfaceMap
from .loads import LinkLoads

__all__ = ["TelemetrySimulator", "SimClock", "SimulatorCollector", "SimulatorServer", "text_exposition",
           "to_unix", "IF_MIB", "SIM_GAUGES", "START_OCTETS_HIGH", "COUNTER_MODULUS", "TEXT_CONTENT_TYPE"]

#: 64-bit counters wrap modulo this.
COUNTER_MODULUS = 2**64
#: Random start offsets lie in ``[0, START_OCTETS_HIGH)``: months of traffic at 100 Gbit/s, above
#: ``2**53`` (so Prometheus, which keeps float64 values, rounds them, as it does a real router's).
START_OCTETS_HIGH = 2**56
#: The ``if_mib`` names the simulator serves, and their HELP (after IF-MIB, RFC 2863).
IF_MIB = {
    "ifHCInOctets": ("counter", "The total number of octets received on the interface, including framing "
                                "characters (64-bit) - 1.3.6.1.2.1.31.1.1.1.6"),
    "ifHCOutOctets": ("counter", "The total number of octets transmitted out of the interface, including framing "
                                 "characters (64-bit) - 1.3.6.1.2.1.31.1.1.1.10"),
    "ifHighSpeed": ("gauge", "An estimate of the interface's current bandwidth in units of 1,000,000 bits per "
                             "second - 1.3.6.1.2.1.31.1.1.1.15"),
}
#: The simulator's clock gauges (see the module docstring).
SIM_GAUGES = {
    "surgeguard_sim_time_seconds": "Simulated time at this scrape, Unix seconds (UTC)",
    "surgeguard_sim_speed": "Simulated seconds per wall-clock second from the pivot on (1 before it)",
    "surgeguard_sim_start_seconds": "Simulated time at the pivot, Unix seconds",
    "surgeguard_sim_wall_start_seconds": "Wall-clock time at the pivot, Unix seconds",
    "surgeguard_sim_interval": "Index of the traffic interval being simulated (-1 before the series, T after it)",
    "surgeguard_sim_interval_start_seconds": "Start (ds) of the interval being simulated, Unix seconds",
}
#: Content type of the text format 0.0.4.
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def to_unix(t) -> float | np.ndarray:
    """Unix seconds (float) of a time: a number (already Unix seconds), a string or timestamp (naive
    = UTC), or a sequence / index of them (an array).

    >>> to_unix("2020-03-20T00:00Z"), to_unix(1584662400)
    (1584662400.0, 1584662400.0)
    """
    if isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool):
        return float(t)
    if isinstance(t, (str, pd.Timestamp)) or hasattr(t, "tzinfo"):
        try:
            ts = pd.Timestamp(t)
        except (ValueError, TypeError):
            raise ValidationError(f"time {t!r} is not a time; give Unix seconds or an ISO time such as "
                                  "2020-03-20T00:00Z") from None
        if ts is pd.NaT:
            raise ValidationError("time NaT is not a time; give Unix seconds or an ISO time")
        ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
        return ts.value / 1e9
    arr = np.asarray(t)
    if arr.dtype.kind in "iuf":
        return arr.astype(float)
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(np.asarray(t, dtype=object).ravel(), utc=True))
    except (ValueError, TypeError):
        raise ValidationError("times: expected Unix seconds or ISO times such as 2020-03-20T00:00Z") from None
    return (idx.asi8 / 1e9).reshape(arr.shape)


# ----------------------------------------------------------------------------------- the clock
@dataclass(frozen=True)
class SimClock:
    """Wall-clock time <-> simulated time (both Unix seconds, UTC).

    From the pivot ``(wall_start, sim_start)`` on, ``sim = sim_start + (wall - wall_start) *
    speed``; before it (history), ``sim = sim_start + (wall - wall_start)``. Counters advance at
    the true rate per wall second (see the module docstring).

    >>> c = SimClock(wall_start=1000.0, sim_start=5000.0, speed=60.0)
    >>> c.to_sim(1010.0), c.to_wall(5600.0), c.to_wall(4000.0), c.wall_duration(4700.0, 5600.0)
    (5600.0, 1010.0, 0.0, 310.0)
    """

    wall_start: float
    sim_start: float
    speed: float = 1.0

    def __post_init__(self):
        for name in ("wall_start", "sim_start", "speed"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not math.isfinite(v):
                raise ValidationError(f"The '{name}' parameter of SimClock must be a finite number. Got {v!r} instead.")
            object.__setattr__(self, name, float(v))
        if not self.speed > 0:
            raise ValidationError(f"The 'speed' parameter of SimClock must be a float in (0, inf). "
                                  f"Got {self.speed!r} instead.")

    @classmethod
    def identity(cls) -> "SimClock":
        """Wall time = simulated time (a router replaying the series on its own dates)."""
        return cls(0.0, 0.0, 1.0)

    @classmethod
    def live(cls, sim_start, speed: float, *, now: float | None = None, align: float = 1.0) -> "SimClock":
        """A clock whose simulated time ``sim_start`` (a time, see :func:`to_unix`) is the next
        multiple of ``align`` wall seconds after ``now`` (default: the current time)."""
        now = time.time() if now is None else float(now)
        wall = math.ceil(now / align) * align if align > 0 else now
        return cls(wall, to_unix(sim_start), speed)

    def to_sim(self, wall):
        """Simulated time(s) at wall time(s) ``wall`` (Unix seconds)."""
        w = np.asarray(wall, dtype=float) - self.wall_start
        out = self.sim_start + np.where(w >= 0, w * self.speed, w)
        return float(out) if out.ndim == 0 else out

    def to_wall(self, sim):
        """Wall time(s) at simulated time(s) ``sim`` (Unix seconds, or times)."""
        x = np.asarray(to_unix(sim), dtype=float) - self.sim_start
        out = self.wall_start + np.where(x >= 0, x / self.speed, x)
        return float(out) if out.ndim == 0 else out

    def wall_duration(self, a, b):
        """Wall seconds between simulated times ``a`` and ``b`` (the length of the PromQL window
        that covers ``[a, b)``)."""
        return self.to_wall(b) - self.to_wall(a)

    @classmethod
    def from_values(cls, values: dict) -> "SimClock":
        """The clock from the gauges' values (``{"surgeguard_sim_speed": ..., ...}``)."""
        need = ("surgeguard_sim_wall_start_seconds", "surgeguard_sim_start_seconds", "surgeguard_sim_speed")
        missing = [k for k in need if k not in values]
        if missing:
            raise ValidationError(f"simulator clock: gauges {missing} are missing; they come from a surgeguard "
                                  "telemetry simulator")
        return cls(values[need[0]], values[need[1]], values[need[2]])


# ----------------------------------------------------------------------------------- the simulator
class TelemetrySimulator:
    """Router interface counters for a traffic series routed over the network's IGP (ECMP).

    Parameters
    ----------
    network : the network; its ``metric`` gives the IGP routing, its ``capacity`` ``ifHighSpeed``.
    series : the traffic (bit/s), in any node order covering the network's nodes; classes are
        summed. A row ``ds`` is the mean over ``[ds, next ds)`` (the last over ``[ds, ds + step)``).
    interfaces : the :class:`InterfaceMap` (default: :meth:`InterfaceMap.default`).
    seed : seed of the start offsets (and of the choice of near-wrap interfaces).
    clock : the :class:`SimClock` (default: :meth:`SimClock.identity`).
    step : the length of the last interval in seconds (default: the series' step; required for a
        series of one matrix).
    start_octets : None (random in ``[0, START_OCTETS_HIGH)`` from ``seed``), an int for every
        counter, or an array ``(n_interfaces, 2)`` (in, out) of ints in ``[0, 2**64)``.
    near_wrap : the fraction (0..1) of interfaces (at least one when > 0) whose counters start
        near ``2**64`` so that they wrap during the series (after 20-80% of its octets).
    resets : ``(instance, ifName, time)`` triples: that interface's counters restart from 0 at
        that simulated time (a router reboot or a line-card reset).

    Attributes: ``network``, ``series`` (in network node order), ``interfaces``, ``loads``
    (:class:`LinkLoads`, the exact loads of every interval, the truth a reader must find again),
    ``in_bps`` / ``out_bps`` ((T, n) per-interface rates), ``speed_mbps`` ((n,) ``ifHighSpeed``),
    ``start_octets`` ((n, 2) uint64), ``near_wrap_interfaces``, ``clock``, ``step`` (seconds),
    ``starts`` / ``ends`` (Unix seconds of every interval).
    """

    def __init__(self, network: Network, series: TrafficSeries, *, interfaces: InterfaceMap | None = None,
                 seed: int = 0, clock: SimClock | None = None, step: float | None = None, start_octets=None,
                 near_wrap: float = 0.0, resets: Sequence[tuple] = (), routing=None):
        if not isinstance(network, Network):
            raise ValidationError(f"The 'network' parameter of TelemetrySimulator must be a Network. "
                                  f"Got {type(network).__name__} instead.")
        if not isinstance(series, TrafficSeries):
            raise ValidationError(f"The 'series' parameter of TelemetrySimulator must be a TrafficSeries. "
                                  f"Got {type(series).__name__} instead.")
        if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
            raise ValidationError(f"The 'seed' parameter of TelemetrySimulator must be an int >= 0. Got {seed!r} instead.")
        if not (isinstance(near_wrap, (int, float)) and 0 <= near_wrap <= 1):
            raise ValidationError(f"The 'near_wrap' parameter of TelemetrySimulator must be a float in [0, 1]. "
                                  f"Got {near_wrap!r} instead.")
        self.network = network
        self.series = series.reorder(network.node_names)
        self.interfaces = interfaces if interfaces is not None else InterfaceMap.default(network)
        if self.interfaces.network is not network and self.interfaces.network.link_names != network.link_names:
            raise ValidationError("The 'interfaces' parameter of TelemetrySimulator must be a map of the same "
                                  "network (its links differ); build it with that network")
        self.seed = int(seed)
        self.clock = clock if clock is not None else SimClock.identity()
        if not isinstance(self.clock, SimClock):
            raise ValidationError(f"The 'clock' parameter of TelemetrySimulator must be a SimClock. "
                                  f"Got {type(self.clock).__name__} instead.")
        times = self.series.times
        if step is None:
            st = self.series.step
            if st is None:
                raise ValidationError("The 'step' parameter of TelemetrySimulator is needed for a series of one "
                                      "matrix: give the interval length in seconds, e.g. step=300")
            step = st.total_seconds()
        if not (isinstance(step, (int, float, np.integer, np.floating)) and math.isfinite(step) and step > 0):
            raise ValidationError(f"The 'step' parameter of TelemetrySimulator must be a float in (0, inf) seconds. "
                                  f"Got {step!r} instead.")
        self.step = float(step)
        self.t0 = times[0]
        # interval bounds as seconds since the first ds (exact: from integer nanoseconds)
        rel = (times.asi8 - times.asi8[0]) / 1e9
        self._bounds = np.append(rel, rel[-1] + self.step)
        self.starts = self.t0.value / 1e9 + self._bounds[:-1]
        self.ends = self.t0.value / 1e9 + self._bounds[1:]
        rm = routing if routing is not None else ecmp_routing_matrix(network)
        self.loads = LinkLoads.from_traffic(rm, self.series, name=f"{self.series.name} (simulated)")
        self.in_bps, self.out_bps = self.interfaces.interface_rates_from_loads(self.loads)
        self.speed_mbps = self._speeds()
        n = self.interfaces.n_interfaces
        # per-interval octets per wall second, (T, n, 2): in, out
        self._rate = np.stack([self.in_bps, self.out_bps], axis=-1) / 8.0
        rng = np.random.default_rng(self.seed)
        starts = rng.integers(0, START_OCTETS_HIGH, size=(n, 2), dtype=np.uint64)
        if start_octets is not None:
            starts = self._given_starts(start_octets, n)
        self._set_clock(self.clock)
        self.near_wrap_interfaces: tuple[tuple[str, str], ...] = ()
        if near_wrap > 0:
            k = max(1, int(math.ceil(near_wrap * n)))
            pick = np.sort(rng.choice(n, size=min(k, n), replace=False))
            u = rng.uniform(0.2, 0.8, size=(len(pick), 2))
            total = self._cum[-1, pick]  # octets over the series
            for j, i in enumerate(pick):
                for d in range(2):
                    ahead = int(math.floor(u[j, d] * total[j, d]))
                    starts[i, d] = np.uint64(COUNTER_MODULUS - max(ahead, 1))
            self.near_wrap_interfaces = tuple((self.interfaces.instance[i], self.interfaces.ifname[i]) for i in pick)
        self.start_octets = starts
        self.resets = self._check_resets(resets)

    # ------------------------------------------------------------------ setup helpers
    def _speeds(self) -> np.ndarray:
        m, net = self.interfaces, self.network
        cap = net.capacity
        speed = np.zeros(m.n_interfaces)
        core = m.core
        speed[core] = cap[m.link[core]] / 1e6
        out_cap = np.bincount(net.src, weights=cap, minlength=net.n_nodes)
        edge = ~core
        if edge.any():
            speed[edge] = out_cap[m.node[edge]] / np.maximum(m.edge_count[m.node[edge]], 1) / 1e6
        return np.round(speed)

    @staticmethod
    def _given_starts(start_octets, n: int) -> np.ndarray:
        try:
            arr = np.broadcast_to(np.asarray(start_octets, dtype=object), (n, 2))
            vals = [[int(x) for x in row] for row in arr]
        except (TypeError, ValueError):
            raise ValidationError(f"The 'start_octets' parameter of TelemetrySimulator must be an int or an array "
                                  f"({n}, 2) of ints in [0, 2**64). Got {start_octets!r} instead.") from None
        flat = [x for row in vals for x in row]
        if any(x < 0 or x >= COUNTER_MODULUS for x in flat):
            raise ValidationError("The 'start_octets' parameter of TelemetrySimulator must hold ints in [0, 2**64). "
                                  f"Got {min(flat)}..{max(flat)} instead.")
        return np.array(vals, dtype=np.uint64)

    def _check_resets(self, resets) -> tuple[tuple[int, float], ...]:
        out = []
        for r in resets:
            try:
                inst, ifn, t = r
            except (TypeError, ValueError):
                raise ValidationError(f"The 'resets' parameter of TelemetrySimulator must hold (instance, ifName, "
                                      f"time) triples. Got {r!r} instead.") from None
            pos = int(self.interfaces.lookup([str(inst)], [str(ifn)])[0])
            if pos < 0:
                raise ValidationError(f"resets: interface {inst}/{ifn} is not in the {self.interfaces.name}; "
                                      f"name an interface of it (e.g. {self.interfaces.instance[0]}/"
                                      f"{self.interfaces.ifname[0]})")
            out.append((pos, float(to_unix(t)) - self.t0.value / 1e9))
        return tuple(out)

    def _g(self, x) -> np.ndarray:
        """Wall seconds from the pivot at simulated seconds ``x`` since the first ds."""
        d = np.asarray(x, dtype=float) - self._pivot
        return np.where(d >= 0, d / self.clock.speed, d)

    def _rel(self, t) -> np.ndarray:
        return np.atleast_1d(np.asarray(to_unix(t), dtype=float)) - self.t0.value / 1e9

    # ------------------------------------------------------------------ counters
    def octets(self, t) -> np.ndarray:
        """Octets counted since the series start up to simulated time(s) ``t``, as floats,
        ``(m, n_interfaces, 2)`` (in, out); no offset, no wrap, no reset."""
        x = self._rel(t)
        T = len(self._bounds) - 1
        k = np.searchsorted(self._bounds, x, side="right") - 1
        kc = np.clip(k, 0, T - 1)
        part = self._cum[kc] + self._rate[kc] * (self._g(x) - self._G[kc])[:, None, None]
        out = np.where((k < 0)[:, None, None], 0.0, np.where((k >= T)[:, None, None], self._cum[-1][None], part))
        return out

    def counters(self, t) -> np.ndarray:
        """The 64-bit counters at simulated time(s) ``t``: uint64 ``(m, n_interfaces, 2)``
        (``[..., 0]`` = ``ifHCInOctets``, ``[..., 1]`` = ``ifHCOutOctets``), ``m`` = number of times."""
        whole = np.floor(self.octets(t)).astype(np.uint64)
        out = self.start_octets[None] + whole  # uint64 arithmetic wraps modulo 2**64
        if self.resets:
            x = self._rel(t)
            for i, r in self.resets:
                after = x >= r
                if after.any():
                    base = np.floor(self.octets(r + self.t0.value / 1e9)[0, i]).astype(np.uint64)
                    out[after, i] = whole[after, i] - base
        return out

    def counters_at(self, t) -> tuple[np.ndarray, np.ndarray]:
        """``(ifHCInOctets, ifHCOutOctets)`` of every interface at one simulated time ``t``, uint64."""
        c = self.counters(t)[0]
        return c[:, 0], c[:, 1]

    def interval_index(self, t) -> int:
        """Index of the interval holding simulated time ``t`` (-1 before the series, T after it)."""
        x = float(self._rel(t)[0])
        return int(np.searchsorted(self._bounds, x, side="right") - 1)

    def counter_frame(self, times=None) -> pd.DataFrame:
        """Long counters ``ds, instance, ifName, in_octets, out_octets, speed_mbps`` at
        simulated ``times`` (default: every interval start and the series end), uint64 octets."""
        t = np.append(self.starts, self.ends[-1]) if times is None else np.atleast_1d(to_unix(times))
        c = self.counters(t)
        n = self.interfaces.n_interfaces
        ds = pd.to_datetime(np.round(np.repeat(t, n) * 1e9).astype(np.int64), utc=True)
        return pd.DataFrame({"ds": ds, "instance": np.tile(np.asarray(self.interfaces.instance, dtype=object), len(t)),
                             "ifName": np.tile(np.asarray(self.interfaces.ifname, dtype=object), len(t)),
                             "in_octets": c[:, :, 0].ravel(), "out_octets": c[:, :, 1].ravel(),
                             "speed_mbps": np.tile(self.speed_mbps, len(t))})

    # ------------------------------------------------------------------ exposition
    def interface_labels(self, i: int, *, with_instance: bool = True) -> dict[str, str]:
        """The labels of interface ``i``'s samples, as ``snmp_exporter``'s ``if_mib`` module gives
        them (``ifAlias``, ``ifDescr`` = ``ifName``, ``ifIndex``, ``ifName``), plus ``instance``."""
        m = self.interfaces
        idx = int(m.if_index[i])
        labels = {"ifAlias": m.if_alias[i], "ifDescr": m.ifname[i], "ifIndex": str(idx if idx >= 0 else i + 1),
                  "ifName": m.ifname[i]}
        if with_instance:
            labels["instance"] = m.instance[i]
        return labels

    def clock_values(self, wall: float) -> dict[str, float]:
        """The clock gauges' values at wall time ``wall``."""
        sim = self.clock.to_sim(wall)
        k = self.interval_index(sim)
        T = len(self.starts)
        start = self.starts[k] if 0 <= k < T else float("nan")
        return {"surgeguard_sim_time_seconds": sim, "surgeguard_sim_speed": self.clock.speed,
                "surgeguard_sim_start_seconds": self.clock.sim_start,
                "surgeguard_sim_wall_start_seconds": self.clock.wall_start,
                "surgeguard_sim_interval": float(k), "surgeguard_sim_interval_start_seconds": start}

    def families(self, wall: float | None = None, *, target: str | None = None, timestamp: bool = False,
                 counter_type: str = "counter") -> list[Metric]:
        """The metric families at wall time ``wall`` (default: now) as ``prometheus_client``
        metrics: ``if_mib`` counters and speed for every interface (those of router ``target``
        only, without ``instance`` label, when given), then the clock gauges. With
        ``timestamp``, every sample carries ``wall`` as its timestamp; ``counter_type`` is the
        type given to the octet counters (``unknown`` for OpenMetrics, see
        :mod:`surgeguard.telemetry.openmetrics`)."""
        wall = time.time() if wall is None else float(wall)
        if timestamp:  # the exposition's timestamps are whole milliseconds: read the counters then
            wall = round(wall * 1000) / 1000
        sim = self.clock.to_sim(wall)
        c = self.counters(sim)[0]
        m = self.interfaces
        if target is None:
            rows = range(m.n_interfaces)
        else:
            rows = [i for i in range(m.n_interfaces) if m.instance[i] == target]
            if not rows:
                raise ValidationError(f"target {target!r} is not a router of the simulated network; give one of "
                                      f"{sorted(set(m.instance))[:5]}")
        ts = wall if timestamp else None
        out = []
        for name, (kind, doc) in IF_MIB.items():
            fam = Metric(name, doc, counter_type if kind == "counter" else kind)
            for i in rows:
                labels = self.interface_labels(i, with_instance=target is None)
                if name == "ifHighSpeed":
                    value = float(self.speed_mbps[i])
                else:
                    value = int(c[i, 0 if name == "ifHCInOctets" else 1])
                fam.add_sample(name, labels, value, timestamp=ts)
            out.append(fam)
        for name, value in self.clock_values(wall).items():
            fam = Metric(name, SIM_GAUGES[name], "gauge")
            if not math.isnan(value):
                fam.add_sample(name, {}, value, timestamp=ts)
            out.append(fam)
        return out

    def exposition(self, wall: float | None = None, *, target: str | None = None, timestamp: bool = False) -> str:
        """The text format 0.0.4 a scrape at wall time ``wall`` (default: now) receives
        (see :func:`text_exposition`); with ``timestamp``, each sample carries the time (whole
        milliseconds) its counter was read, as streaming telemetry that exports device timestamps."""
        return text_exposition(self.families(wall, target=target, timestamp=timestamp))

    def with_clock(self, clock: SimClock) -> "TelemetrySimulator":
        """The same simulator (interfaces, rates, start offsets, resets) on another clock. Counters
        before a clock's series start equal the start offsets, so a server can switch from one
        simulator to the other (:attr:`SimulatorServer.simulator`) without a jump while the
        series has not started; near-wrap offsets stay those computed for the first clock."""
        if not isinstance(clock, SimClock):
            raise ValidationError(f"The 'clock' parameter of TelemetrySimulator must be a SimClock. "
                                  f"Got {type(clock).__name__} instead.")
        other = copy.copy(self)
        other._set_clock(clock)
        return other

    def _set_clock(self, clock: SimClock) -> None:
        """Set the clock and what depends on it: the wall seconds of every interval bound from
        the pivot (``_G``) and the octets counted up to each bound (``_cum``, (T+1, n, 2))."""
        self.clock = clock
        self._pivot = clock.sim_start - self.t0.value / 1e9
        self._G = self._g(self._bounds)
        self._cum = np.concatenate([np.zeros((1,) + self._rate.shape[1:]),
                                    np.cumsum(self._rate * np.diff(self._G)[:, None, None], axis=0)])

    def collector(self, now: Callable[[], float] = time.time, *, target: str | None = None) -> "SimulatorCollector":
        """A ``prometheus_client`` collector of this simulator (see :class:`SimulatorCollector`)."""
        return SimulatorCollector(self, now=now, target=target)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> "SimulatorServer":
        """Serve ``/metrics`` and ``/snmp`` over HTTP in a background thread (see :class:`SimulatorServer`)."""
        return SimulatorServer(self, host=host, port=port)

    # ------------------------------------------------------------------ views
    @property
    def n_intervals(self) -> int:
        return len(self.starts)

    def interval_summary(self, k: int) -> str:
        """One line about interval ``k``: its time, the traffic entering the network and the
        busiest link."""
        ll = self.loads
        util = ll.bps[k] / self.network.capacity
        j = int(np.argmax(util))
        total = float(np.nansum(ll.ingress[k])) if ll.ingress is not None else float("nan")
        ds = pd.Timestamp(self.starts[k], unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M")
        return (f"{ds}Z  interval {k + 1}/{self.n_intervals}  entering {total / 1e9:.1f} Gbit/s  busiest link "
                f"{self.network.link_names[j]} {ll.bps[k, j] / 1e9:.2f} Gbit/s ({util[j]:.0%})")

    def __repr__(self) -> str:
        return (f"<TelemetrySimulator {self.network.name!r}: {self.interfaces.n_interfaces} interfaces, "
                f"{self.n_intervals} intervals of {self.step:g} s, speed {self.clock.speed:g}>")


# ----------------------------------------------------------------------------------- exposition
def _escape_label(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n")


def _value(v) -> str:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return floatToGoString(float(v))
    return floatToGoString(v)


def text_exposition(families: Iterable[Metric]) -> str:
    """The Prometheus text format 0.0.4 of ``families``, keeping sample names as they are: a
    ``counter`` family named ``ifHCInOctets`` has ``# TYPE ifHCInOctets counter`` and samples
    ``ifHCInOctets{...}``, as ``snmp_exporter`` writes them (``prometheus_client``'s
    ``generate_latest`` would add ``_total`` to the TYPE line only). Values as float64, the way
    the Go client writes them; labels sorted by name; ``unknown`` becomes ``untyped``."""
    lines = []
    for fam in families:
        kind = "untyped" if fam.type == "unknown" else fam.type
        lines.append(f"# HELP {fam.name} {_escape_help(fam.documentation)}")
        lines.append(f"# TYPE {fam.name} {kind}")
        for s in fam.samples:
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(s.labels.items()))
            ts = "" if s.timestamp is None else f" {int(round(float(s.timestamp) * 1000))}"
            lines.append(f"{s.name}{{{labels}}} {_value(s.value)}{ts}" if labels else f"{s.name} {_value(s.value)}{ts}")
    return "\n".join(lines) + "\n"


class SimulatorCollector(Collector):
    """A ``prometheus_client`` collector: :meth:`collect` yields the simulator's families at the
    wall time ``now()`` (all routers with ``instance`` labels, or router ``target`` alone).
    It can be registered in a ``prometheus_client.CollectorRegistry``; note that
    ``generate_latest`` then writes ``# TYPE ifHCInOctets_total counter`` above samples named
    ``ifHCInOctets``; :func:`text_exposition` writes what ``snmp_exporter`` writes."""

    def __init__(self, simulator: TelemetrySimulator, *, now: Callable[[], float] = time.time,
                 target: str | None = None):
        self.simulator = simulator
        self.now = now
        self.target = target

    def collect(self):
        yield from self.simulator.families(self.now(), target=self.target)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class SimulatorServer:
    """The simulator over HTTP, in a background thread, until :meth:`close` (also a context manager).

    * ``GET /metrics``: all routers, ``instance`` label on every sample (scrape with
      ``honor_labels: true``);
    * ``GET /snmp?target=ROUTER&module=if_mib``: router ``ROUTER`` alone, without ``instance``
      label, as ``snmp_exporter`` answers (400 for a missing or unknown target or module);
    * ``GET /``: a short text index.

    ``&timestamps=1`` (or ``?timestamps=1``) adds to every sample the time its counter was read
    (as gNMI collectors exporting device timestamps do). :attr:`simulator` may be replaced while
    serving (see :meth:`TelemetrySimulator.with_clock`).

    ``port`` 0 takes a free port; :attr:`port` and :attr:`url` tell which. ``now`` gives the wall
    time of a scrape (default: the system clock).
    """

    def __init__(self, simulator: TelemetrySimulator, *, host: str = "127.0.0.1", port: int = 0,
                 now: Callable[[], float] = time.time):
        self.simulator = simulator
        self.now = now
        self.scrapes = 0
        try:
            self._server = make_server(host, int(port), self._app, server_class=_ThreadingWSGIServer,
                                       handler_class=_QuietHandler)
        except (OSError, OverflowError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise ValidationError(f"cannot serve the simulator on {host}:{port} ({reason}); choose another port (0 "
                                  "takes a free one) or host") from None
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"surgeguard-sim-{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        status, ctype, body = "200 OK", TEXT_CONTENT_TYPE, ""
        stamped = (query.get("timestamps") or ["0"])[0] not in ("", "0", "false")
        if path == "/metrics":
            body = self.simulator.exposition(self.now(), timestamp=stamped)
            self.scrapes += 1
        elif path == "/snmp":
            target = (query.get("target") or [""])[0]
            module = (query.get("module") or ["if_mib"])[0]
            routers = set(self.simulator.interfaces.instance)
            if not target:
                status, ctype, body = "400 Bad Request", "text/plain", "'target' parameter must be specified\n"
            elif module != "if_mib":
                status, ctype, body = "400 Bad Request", "text/plain", f"Unknown module '{module}'\n"
            elif target not in routers:
                status, ctype, body = "400 Bad Request", "text/plain", f"Unknown target '{target}'\n"
            else:
                body = self.simulator.exposition(self.now(), target=target, timestamp=stamped)
                self.scrapes += 1
        elif path == "/":
            ctype = "text/plain; charset=utf-8"
            body = (f"surgeguard telemetry simulator: {self.simulator!r}\n"
                    "/metrics  every router (instance label; scrape with honor_labels: true)\n"
                    "/snmp?target=ROUTER&module=if_mib  one router, as snmp_exporter\n"
                    "&timestamps=1  samples stamped with the time the counters were read\n")
        else:
            status, ctype, body = "404 Not Found", "text/plain", "not found; try /metrics\n"
        data = body.encode("utf-8")
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
        return [data]

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "SimulatorServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SimulatorServer {self.url}>"
