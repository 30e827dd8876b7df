"""``switching``: run one policy in normal times and another once a surge detector fires.

At every decision the policy feeds the steps it has not seen yet to an online surge detector
(:mod:`surgeguard.detect`); the detector learns normal traffic from the history available at its
first decision (at least ``reference_days``). On the first alert the policy switches from ``base``
to ``on_alert`` and stays there for ``hold_hours`` (None: for the rest of the run). The decision at
which it switches carries ``info['switched']`` (time, from, to, the alert), which
:func:`~surgeguard.evaluate.replay` collects into ``ReplayResult.switches``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..detect import get_detector
from ..traffic import TrafficSeries
from ..validation import InstanceOf, Interval, NoneOr
from .policies import TIME_LIMIT, Policy, get_policy, policy_accepts, register_policy
from .routing import Routing

__all__ = ["Switching"]


class Switching(Policy):
    """Policy ``base`` until the surge ``detector`` fires, then ``on_alert``.

    Parameters
    ----------
    base : policy name used in normal times (default ``optimal-last``, what a controller re-solving
        the last matrix does).
    on_alert : policy name used after an alert (default ``robust``).
    detector : detector name for :func:`surgeguard.detect.get_detector` (default ``cusum``).
    detector_options : keyword options for the detector.
    reference_days : days of history the detector learns normal traffic from before it watches
        (it is fitted once, on all the history available when this much exists).
    hold_hours : hours to stay switched after the last alert; None: until the end.
    base_options, on_alert_options : keyword options for the two policies (e.g. ``{'model': path}``
        for ``learned``).
    time_limit : seconds per solve (None: no limit), given to both policies when they are named
        (not objects), take a ``time_limit`` and their options do not set one; what a stop at the
        limit does is theirs (see :class:`~surgeguard.routing.Policy`).

    ``route(tm)`` routes with ``base``, and its ``info`` (``mlu`` included: the routing's MLU on
    ``tm``) is the base policy's.

    Examples
    --------
    >>> p = Switching(base="optimal-last", on_alert="robust")
    >>> p.name
    'switching'
    """

    name = "switching"
    _parameter_constraints = {
        "base": [InstanceOf(str, Policy)], "on_alert": [InstanceOf(str, Policy)], "detector": [InstanceOf(str)],
        "detector_options": [NoneOr(), InstanceOf(dict)], "reference_days": [Interval(float, 0, None, closed="neither")],
        "hold_hours": [NoneOr(), Interval(float, 0, None)], "base_options": [NoneOr(), InstanceOf(dict)],
        "on_alert_options": [NoneOr(), InstanceOf(dict)], "time_limit": TIME_LIMIT}

    def __init__(self, base: str = "optimal-last", on_alert: str = "robust", detector: str = "cusum",
                 detector_options: dict | None = None, reference_days: float = 1.0,
                 hold_hours: float | None = None, base_options: dict | None = None,
                 on_alert_options: dict | None = None, time_limit: float | None = None):
        self.base = base
        self.on_alert = on_alert
        self.detector = detector
        self.detector_options = detector_options
        self.reference_days = reference_days
        self.hold_hours = hold_hours
        self.base_options = base_options
        self.on_alert_options = on_alert_options
        self.time_limit = time_limit

    def _policies(self):
        if getattr(self, "base_", None) is None:
            self.validate()
            self.base_ = get_policy(self.base, **self._options(self.base, self.base_options))
            self.alt_ = get_policy(self.on_alert, **self._options(self.on_alert, self.on_alert_options))
            self.active_ = "base"
            self.alerts_ = []
            self.switch_log_ = []
            self.last_alert_ = None
        return self.base_, self.alt_

    def _options(self, policy, options: dict | None) -> dict:
        """A policy's options, with this policy's ``time_limit`` where it takes one and none is set."""
        opts = dict(options or {})
        if (self.time_limit is not None and isinstance(policy, str) and "time_limit" not in opts
                and policy_accepts(policy, "time_limit")):
            opts["time_limit"] = self.time_limit
        return opts

    def _watch(self, history: TrafficSeries):
        """Feed the unseen steps to the detector; returns the new alerts."""
        n = len(history)
        if getattr(self, "detector_", None) is None:
            step = history.step
            if step is None or n * step < pd.Timedelta(days=float(self.reference_days)):
                return []
            self.detector_ = get_detector(self.detector, **(self.detector_options or {})).fit(history)
            self.seen_ = n
            return []
        if n < self.seen_:  # a new replay from an earlier point: start over
            self.detector_, self.base_ = None, None
            self._policies()
            return self._watch(history)
        new = history.window(self.seen_, n)
        self.seen_ = n
        return self.detector_.update(new) if len(new) else []

    def route(self, network, paths, tm, *, warm=None) -> Routing:
        base, _ = self._policies()
        r = base.route(network, paths, tm, warm=warm)
        return Routing(paths, r.splits, self.name, {**r.info, "active": self.base})

    def decide(self, network, paths, history: TrafficSeries, *, warm=None) -> Routing:
        base, alt = self._policies()
        alerts = self._watch(history) if len(history) else []
        switched = None
        now = history.times[-1] if len(history) else None
        if alerts:
            self.alerts_.extend(alerts)
            self.last_alert_ = now
            if self.active_ == "base":
                self.active_ = "alert"
                first = alerts[0]
                switched = {"time": str(now), "from": self.base, "to": self.on_alert, "alert": str(first),
                            "alert_place": first.place, "alert_shift": float(first.shift)}
        elif self.active_ == "alert" and self.hold_hours is not None and now is not None and \
                now - self.last_alert_ > pd.Timedelta(hours=float(self.hold_hours)):
            self.active_ = "base"
            switched = {"time": str(now), "from": self.on_alert, "to": self.base, "alert": None}
        pol = alt if self.active_ == "alert" else base
        r = pol.decide(network, paths, history, warm=warm)
        info = {**r.info, "active": self.on_alert if self.active_ == "alert" else self.base}
        if switched is not None:
            self.switch_log_.append(switched)
            info["switched"] = switched
        return Routing(paths, np.asarray(r.splits), self.name, info)


register_policy("switching", Switching)
