"""The lockdown scenario: what a stay-at-home order does to a backbone's traffic.

Motivation: after Morocco's lockdown of 20 March 2020 network usage rose about 30 % within days
and some services saw ten times more users. Comparable measurements elsewhere:

* A. Feldmann et al., "The Lockdown Effect: Implications of the COVID-19 Pandemic on Internet
  Traffic", ACM IMC 2020: +15-20 % traffic within a week at an ISP and IXPs; workday patterns
  become weekend-like (more daytime traffic).
* Nokia Deepfield, network traffic reports, March 2020: busy-hour peaks +30-50 %, daytime traffic
  +40-80 %.
* DE-CIX press release, March 2020: videoconferencing traffic doubled (x2) within a week.

The model multiplies every demand ``x_cij(t)`` (class c, origin i, destination j) by::

    (1 + growth r) * s(t) * (1 + (f_c - 1) r) * (1 + (f_ij - 1) r) * (1 + upload_extra r u_ij)

with the ramp ``r(t)`` going linearly from 0 at ``start`` to 1 at ``start + ramp_days`` (0 before):

* ``growth`` -- volume growth of all traffic.
* ``s(t)`` -- weekday reshaping: local weekday hours inside ``[day_start_hour, day_end_hour)``
  (1-hour soft edges) are boosted by ``daytime_boost``, then each local day (its part after
  ``start``) is rescaled so that its volume is unchanged. The day becomes weekend-like (a daytime plateau) and ``growth`` stays
  the volume growth. Weekend days are left alone.
* ``f_c`` -- ``class_factors`` per traffic class (only when the series has classes).
* ``f_ij`` -- ``regions`` factors: a demand with an end in a listed region grows by its factor (the
  larger one if both ends are listed).
* ``u_ij`` -- 1 from a non-hub node to a hub node (uploads from residential access towards the data
  centres: video calls, cloud backups), else 0. Hubs are ``hubs`` or the network's ``hub`` column.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import ClassVar, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..network import Network
from ..traffic import TrafficSeries
from ..validation import InstanceOf, Interval, NoneOr, check_param
from .base import SCENARIOS, Scenario, parse_days, parse_mapping, parse_names, parse_timestamp
from .profile import local_hours

__all__ = ["Lockdown", "LOCKDOWN_DATE"]

#: Start of Morocco's lockdown (state of health emergency), 20 March 2020, 18:00 local = 17:00 UTC;
#: the scenario's default uses the day, 00:00 UTC.
LOCKDOWN_DATE = pd.Timestamp("2020-03-20T00:00", tz="UTC")

_EDGE_HOURS = 1.0


def _default_class_factors() -> dict[str, float]:
    # 'critical': users x10 on some services (mission brief, Morocco March 2020: e-learning,
    # e-government, telemedicine); 'videoconf': x2 within a week (DE-CIX, March 2020).
    return {"critical": 10.0, "videoconf": 2.0}


@SCENARIOS.register("lockdown")
@dataclass
class Lockdown(Scenario):
    """A lockdown surge, applied to any traffic series from a start time.

    Parameters
    ----------
    start : when the lockdown begins (UTC; str or Timestamp). None (``start=auto`` in a spec):
        2020-03-20T00:00Z when that is inside the series, else the series' midpoint.
    growth : volume growth after the ramp. Default 0.30: +30 % network usage within days (Morocco,
        March 2020, mission brief); Nokia Deepfield reports peaks +30-50 %, Feldmann et al. (IMC
        2020) +15-20 % within a week.
    ramp_days : days over which the effects grow linearly to full size. Default 5 ("within days",
        Morocco; "within a week", Feldmann et al. and DE-CIX).
    daytime_boost : relative boost of weekday daytime before the day is rescaled to keep its volume.
        Default 0.5, which with ``growth=0.3`` gives about +55-65 % in daytime and +5-10 % at
        night on a typical profile, inside Nokia Deepfield's daytime +40-80 %; Feldmann et al.:
        workdays become weekend-like.
    day_start_hour, day_end_hour : local daytime window (default 9 to 18 h, office hours moved home).
    weekend_days : local weekend days, Monday = 0 (default Saturday and Sunday, as in Morocco).
    regions : ``{region: factor}``, extra growth of demands to or from a region's nodes (needs the
        network), e.g. ``{'Casablanca-Settat': 1.5}``. Default none.
    class_factors : ``{class: factor}``, growth of a traffic class when the series has classes.
        Default ``{'critical': 10, 'videoconf': 2}``: users x10 on some services (Morocco, March
        2020, mission brief) and videoconferencing x2 in a week (DE-CIX, March 2020). Classes the
        series does not have are ignored (listed in the result's ``meta``).
    upload_extra : extra growth of traffic from access nodes to hub nodes (upload), on top of the
        rest. Default 0.2, an assumption rather than a measurement: video calls and remote work
        send more traffic upstream, so uploads grew faster than downloads during the lockdowns;
        set it from your own access-network counters when you have them.
    hubs : data-centre / hub node names; None: the nodes with ``hub`` True in the network. Without
        hubs there is no upload asymmetry.
    utc_offset_hours : local time minus UTC; None: the series' ``meta['utc_offset_hours']``, else
        the network's, else 0 (Morocco, March 2020: +1).

    Examples
    --------
    >>> sc = Lockdown.from_string("lockdown:growth=0.2,regions=Casablanca-Settat:1.5")
    >>> sc.growth, sc.regions
    (0.2, {'Casablanca-Settat': 1.5})
    >>> sc.to_string()
    'lockdown:growth=0.2,regions=Casablanca-Settat:1.5'
    """

    start: pd.Timestamp | str | None = None
    growth: float = 0.30
    ramp_days: float = 5.0
    daytime_boost: float = 0.5
    day_start_hour: float = 9.0
    day_end_hour: float = 18.0
    weekend_days: tuple[int, ...] = (5, 6)
    regions: dict[str, float] = field(default_factory=dict)
    class_factors: dict[str, float] = field(default_factory=_default_class_factors)
    upload_extra: float = 0.2
    hubs: tuple[str, ...] | None = None
    utc_offset_hours: float | None = None

    name: ClassVar[str] = "lockdown"
    _parsers: ClassVar[dict] = {
        "start": lambda k, v: None if v.lower() in ("", "auto") else parse_timestamp(k, v), "weekend_days": parse_days, "regions": parse_mapping,
        "class_factors": parse_mapping, "hubs": parse_names,
    }

    _parameter_constraints = {
        "start": [NoneOr(), InstanceOf(pd.Timestamp)],
        "growth": [Interval(float, -1, None, closed="neither")],
        "ramp_days": [Interval(float, 0, None)],
        "daytime_boost": [Interval(float, 0, None)],
        "day_start_hour": [Interval(float, 0, 24, closed="left")],
        "day_end_hour": [Interval(float, 0, 24, closed="right")],
        "weekend_days": [InstanceOf(tuple)],
        "regions": [InstanceOf(dict)],
        "class_factors": [InstanceOf(dict)],
        "upload_extra": [Interval(float, -1, None, closed="neither")],
        "hubs": [NoneOr(), InstanceOf(tuple)],
        "utc_offset_hours": [NoneOr(), Interval(float, -14, 14)],
    }

    def __post_init__(self):
        # normalise the forms (timestamps in UTC, floats, tuples, plain dicts); ranges are checked
        # by validate() when apply() starts or a spec is parsed
        if self.start is not None:
            self.start = parse_timestamp("start", self.start)
        for key in ("growth", "ramp_days", "daytime_boost", "day_start_hour", "day_end_hour", "upload_extra",
                    "utc_offset_hours"):
            setattr(self, key, _as_float(getattr(self, key)))
        if isinstance(self.weekend_days, (list, tuple, np.ndarray)):
            self.weekend_days = tuple(int(d) if isinstance(d, numbers.Integral) else d for d in self.weekend_days)
        for key in ("regions", "class_factors"):
            value = getattr(self, key)
            if isinstance(value, Mapping):
                setattr(self, key, {str(k): _as_float(v) for k, v in value.items()})
        if self.hubs is not None:
            self.hubs = tuple(str(h) for h in ([self.hubs] if isinstance(self.hubs, str) else self.hubs))

    def validate(self) -> "Lockdown":
        """Check the declared ranges, the daytime window, the weekend days and the factors; returns self."""
        super().validate()
        if not self.day_start_hour < self.day_end_hour:
            raise ValidationError(
                f"The daytime window of Lockdown must satisfy day_start_hour < day_end_hour. Got "
                f"{self.day_start_hour:g}-{self.day_end_hour:g} h instead.")
        for d in self.weekend_days:
            check_param("Lockdown", "weekend_days", d, [Interval(int, 0, 6)])
        for key in ("regions", "class_factors"):
            for v in getattr(self, key).values():
                check_param("Lockdown", key, v, [Interval(float, 0, None, closed="neither")])
        return self

    # ------------------------------------------------------------------ pieces
    def resolve_start(self, series: TrafficSeries) -> pd.Timestamp:
        """The start used for ``series``: ``start``, else 2020-03-20T00:00Z if inside, else the midpoint."""
        t = series.times
        if self.start is not None:
            if len(t) and not (t[0] - pd.Timedelta(days=float(self.ramp_days)) <= self.start <= t[-1]):
                raise ValidationError(
                    f"lockdown start {self.start.isoformat()} is outside the series ({t[0].isoformat()} .. "
                    f"{t[-1].isoformat()}, allowing the {self.ramp_days:g}-day ramp before it); give a start "
                    "within the series, or none (2020-03-20 if inside, else the midpoint)")
            return self.start
        if len(t) and t[0] <= LOCKDOWN_DATE <= t[-1]:
            return LOCKDOWN_DATE
        return t[0] + (t[-1] - t[0]) / 2 if len(t) else LOCKDOWN_DATE

    def ramp(self, times, start: pd.Timestamp) -> np.ndarray:
        """``r(t)``: 0 before ``start``, linear to 1 at ``start + ramp_days``, then 1."""
        idx = pd.DatetimeIndex(times)
        days = (idx - start) / pd.Timedelta(days=1)
        days = np.asarray(days, dtype=float)
        if self.ramp_days == 0:
            return (days >= 0).astype(float)
        return np.clip(days / self.ramp_days, 0.0, 1.0)

    def daytime_window(self, hours) -> np.ndarray:
        """Weight in [0, 1] of local ``hours`` in the daytime window (1-hour soft edges)."""
        h = np.asarray(hours, dtype=float)
        up = np.clip((h - self.day_start_hour) / _EDGE_HOURS + 0.5, 0.0, 1.0)
        down = np.clip((self.day_end_hour - h) / _EDGE_HOURS + 0.5, 0.0, 1.0)
        return up * down

    def multiplier(self, series: TrafficSeries, network: Network | None = None) -> np.ndarray:
        """The factor applied to every demand, same shape as ``series.values``."""
        self.validate()
        if not isinstance(series, TrafficSeries):
            raise ValidationError(f"lockdown applies to a TrafficSeries, got {type(series).__name__}")
        T, n = len(series), series.n_nodes
        start = self.resolve_start(series)
        r = self.ramp(series.times, start)
        offset = self._offset(series, network)
        hours, dow = local_hours(series.times, offset)

        # weekday reshaping, volume-neutral per local day
        total = series.total.sum(axis=(1, 2))
        weekday = ~np.isin(dow, self.weekend_days)
        raw = 1.0 + self.daytime_boost * r * self.daytime_window(hours) * weekday
        local_day = np.asarray((series.times.tz_convert(None) + pd.Timedelta(hours=offset)).floor("D").asi8)
        s = np.ones(T)
        active = weekday & (r > 0)
        for day in np.unique(local_day[active]):
            m = active & (local_day == day)  # steps before start keep s = 1
            w = total[m] if total[m].sum() > 0 else np.ones(m.sum())
            s[m] = raw[m] * w.sum() / (raw[m] * w).sum()
        f_time = (1.0 + self.growth * r) * s

        # OD factors: regions and upload
        f_od = np.ones((T, n, n))
        node_tab = self._node_table(series, network)
        if self.regions:
            reg = node_tab["region"].astype(str).to_numpy()
            known = sorted(set(reg) - {""})
            bad = sorted(set(self.regions) - set(known))
            if bad:
                raise ValidationError(f"lockdown regions {bad} are not regions of the network; known: {known}")
            g = np.array([self.regions.get(x, 1.0) for x in reg])
            big = np.maximum(g[:, None], g[None, :])
            f_od *= 1.0 + (big[None] - 1.0) * r[:, None, None]
        hub = self._hub_mask(series, node_tab)
        if hub.any() and self.upload_extra:
            up = (~hub)[:, None] & hub[None, :]
            f_od *= 1.0 + self.upload_extra * r[:, None, None] * up[None]

        mult = f_time[:, None, None] * f_od
        if series.classes is None:
            return mult
        fc = np.array([self.class_factors.get(c, 1.0) for c in series.classes])
        f_cls = 1.0 + (fc[None, :] - 1.0) * r[:, None]
        return mult[:, None] * f_cls[:, :, None, None]

    def apply(self, series: TrafficSeries, network: Network | None = None) -> TrafficSeries:
        """The series under lockdown: demands times :meth:`multiplier`; the input is not changed.

        Parameters
        ----------
        series : traffic in bit/s (any step, with or without classes).
        network : needed for ``regions`` (the node ``region`` column) and for hubs from the ``hub``
            column; its node names must cover the series' nodes.

        Returns
        -------
        TrafficSeries named ``'<name>+lockdown'``; ``meta`` gains ``scenario`` (the spec),
        ``lockdown_start`` and ``lockdown_ignored_classes``.
        """
        out = series.with_values(series.values * self.multiplier(series, network),
                                 name=f"{series.name}+lockdown")
        out.meta.update({
            "scenario": self.to_string(),
            "lockdown_start": self.resolve_start(series).isoformat(),
            "lockdown_ignored_classes": sorted(set(self.class_factors) - set(series.classes or ())),
        })
        return out

    # ------------------------------------------------------------------ helpers
    def _offset(self, series: TrafficSeries, network: Network | None) -> float:
        for v in (self.utc_offset_hours, series.meta.get("utc_offset_hours"),
                  network.meta.get("utc_offset_hours") if network is not None else None):
            if v is not None:
                return float(v)
        return 0.0

    def _node_table(self, series: TrafficSeries, network: Network | None) -> pd.DataFrame:
        if network is None:
            if self.regions:
                raise ValidationError(
                    f"lockdown regions {sorted(self.regions)} need the network's node regions; "
                    "call apply(series, network=net)")
            return pd.DataFrame(index=pd.Index(series.nodes))
        missing = [nd for nd in series.nodes if nd not in network.node_index]
        if missing:
            raise ValidationError(
                f"traffic {series.name!r} has nodes {missing[:5]} that network {network.name!r} lacks; "
                "pass the network the traffic belongs to")
        return network.nodes.loc[list(series.nodes)]

    def _hub_mask(self, series: TrafficSeries, node_tab: pd.DataFrame) -> np.ndarray:
        if self.hubs is not None:
            bad = [h for h in self.hubs if h not in series.nodes]
            if bad:
                raise ValidationError(
                    f"lockdown hubs {bad} are not nodes of traffic {series.name!r}; nodes start with "
                    f"{list(series.nodes[:5])}")
            return np.isin(np.asarray(series.nodes, dtype=object), list(self.hubs))
        if "hub" in node_tab.columns:
            return node_tab["hub"].fillna(False).astype(bool).to_numpy()
        return np.zeros(series.n_nodes, dtype=bool)


def _as_float(v):
    """A real number as a float (bools and other values are left for validate() to report)."""
    return float(v) if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) else v
