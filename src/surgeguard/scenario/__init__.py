"""Traffic scenarios and synthetic traffic.

* :func:`get_scenario` builds a scenario from the CLI form ``name[:key=value,...]``
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

from ..exceptions import ValidationError
from .base import NoScenario, Scenario, split_spec
from .lockdown import LOCKDOWN_DATE, Lockdown
from .profile import ProfileParams, load_profile, profile_document
from .synthetic import gravity_matrix, gravity_series, node_weights

__all__ = [
    "Scenario", "NoScenario", "Lockdown", "LOCKDOWN_DATE", "SCENARIOS", "get_scenario",
    "available_scenarios", "register_scenario",
    "gravity_series", "gravity_matrix", "node_weights", "ProfileParams", "load_profile",
    "profile_document",
]

#: Scenario classes by name, as used in ``--scenario NAME[:key=value,...]``.
SCENARIOS: dict[str, type[Scenario]] = {"none": NoScenario, "lockdown": Lockdown}


def register_scenario(cls: type[Scenario]) -> type[Scenario]:
    """Add a :class:`Scenario` subclass to :data:`SCENARIOS` under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Scenario)):
        raise ValidationError(f"register_scenario needs a Scenario subclass, got {cls!r}")
    SCENARIOS[cls.name] = cls
    return cls


def available_scenarios() -> list[str]:
    """Names accepted by :func:`get_scenario`."""
    return sorted(SCENARIOS)


def get_scenario(spec: str) -> Scenario:
    """A scenario from ``'name[:key=value,...]'``.

    Unknown names or keys raise :class:`~surgeguard.ValidationError` listing the valid ones.
    Mapping values use ``name:factor`` items separated by ``;``, lists use ``;``:
    ``'lockdown:regions=Casablanca-Settat:1.5;Fès-Meknès:1.2,hubs=Casablanca;Rabat'``.
    """
    if isinstance(spec, Scenario):
        return spec
    name, _ = split_spec(spec)
    if name not in SCENARIOS:
        raise ValidationError(f"unknown scenario {name!r}; choose one of {available_scenarios()}")
    return SCENARIOS[name].from_string(spec)
