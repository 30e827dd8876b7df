"""surgeguard: an open network-resilience engine for telecom backbones.

Pipeline: read a :class:`Network` and a :class:`TrafficSeries` (:mod:`surgeguard.io`), build
candidate paths and their path-link incidence (:mod:`surgeguard.paths`), choose a
:class:`Routing` with a policy (:mod:`surgeguard.routing`), evaluate it
(:func:`surgeguard.evaluate.evaluate`), replay a series with a scenario
(:mod:`surgeguard.scenario`, :mod:`surgeguard.evaluate.replay`).
"""

from .exceptions import (InfeasibleError, InputError, NoPathError, NotFittedError, SolverError,
                         SurgeguardError, ValidationError)
from .network import Network
from .traffic import TrafficSeries

__version__ = "0.1.0"

__all__ = [
    "Network", "TrafficSeries",
    "SurgeguardError", "ValidationError", "InputError", "NoPathError", "InfeasibleError",
    "SolverError", "NotFittedError",
]
