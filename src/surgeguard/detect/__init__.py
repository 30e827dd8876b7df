"""Surge detection: online detectors over total and per-node traffic, offline change points.

* :class:`SurgeDetector` -- ``fit(reference_series) -> self``, ``predict(series) -> [Alert]``
  (online replay from a fresh state), ``update(series) -> [Alert]`` (streaming).
* Detectors by name (:func:`get_detector`): ``'seasonal'`` (:class:`SeasonalDetector`, the
  recommended one: workday/weekend profiles at 15 minutes, step, level and shape tests),
  ``'cusum'`` (:class:`CUSUMDetector`) and ``'residual'`` (:class:`ResidualDetector`, EWMA of
  forecast residuals), both over hourly bins of one daily profile.
* :class:`Alert` -- time (UTC), place ('total' or a node), direction ('total'/'in'/'out'),
  relative shift, detector, score.
* :func:`offline_changepoints` -- ruptures PELT over the whole series, for labelling.
* :mod:`surgeguard.detect.evaluate` -- injected-surge evaluation; :mod:`surgeguard.detect.report`
  -- the HTML section.

Examples
--------
>>> from surgeguard.detect import available_detectors
>>> available_detectors()
['cusum', 'residual', 'seasonal']
"""

from .base import DETECTORS, Alert, SurgeDetector, available_detectors, get_detector, register_detector, traffic_signals
from .detectors import CUSUMDetector, ResidualDetector
from .seasonal import SeasonalDetector
from .offline import offline_changepoints

__all__ = [
    "Alert",
    "SurgeDetector",
    "CUSUMDetector",
    "ResidualDetector",
    "SeasonalDetector",
    "get_detector",
    "register_detector",
    "available_detectors",
    "DETECTORS",
    "traffic_signals",
    "offline_changepoints",
]
