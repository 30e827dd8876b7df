"""Traffic scenarios and synthetic traffic.

* :func:`get_scenario` builds a scenario from the spec form ``name[:key=value,...]``
  (``'none'``, ``'lockdown'``, ``'lockdown:growth=0.3,regions=Casablanca-Settat:1.5'``); every
  scenario has ``apply(series, network=None) -> TrafficSeries``.
* :func:`gravity_series` / :func:`gravity_matrix` generate gravity traffic with a diurnal and
  weekly profile fitted on real backbone series (:func:`load_profile`).

Examples
--------
>>> sc = get_scenario("lockdown:growth=0.3,ramp_days=5")
>>> type(sc).__name__, sc.growth
('Lockdown', 0.3)
>>> available_scenarios()
['lockdown', 'none']
"""

from __future__ import annotations

from .base import SCENARIOS, NoScenario, Scenario, available_scenarios, get_scenario, register_scenario, split_spec
from .lockdown import LOCKDOWN_DATE, Lockdown
from .profile import ProfileParams, load_profile, profile_document
from .synthetic import gravity_matrix, gravity_series, node_weights

__all__ = [
    "Scenario", "NoScenario", "Lockdown", "LOCKDOWN_DATE", "SCENARIOS", "get_scenario",
    "available_scenarios", "register_scenario", "split_spec",
    "gravity_series", "gravity_matrix", "node_weights", "ProfileParams", "load_profile",
    "profile_document",
]
