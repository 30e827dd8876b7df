"""Errors raised by surgeguard.

Every error a user can cause is a :class:`SurgeguardError`; its message is one line that names the
offending input and the fix. The CLI turns these into exit code 2 without a traceback, the REST
API into a 4xx response.
"""

from __future__ import annotations

__all__ = [
    "SurgeguardError",
    "ValidationError",
    "InputError",
    "NoPathError",
    "InfeasibleError",
    "SolverError",
    "NotFittedError",
]


class SurgeguardError(Exception):
    """Base class of every error surgeguard raises on purpose."""


class ValidationError(SurgeguardError, ValueError):
    """A value is out of its allowed range (negative demand, non-positive capacity, ...)."""


class InputError(SurgeguardError, ValueError):
    """A file or key cannot be read, or its content is malformed."""


class NoPathError(ValidationError):
    """An origin-destination pair with demand has no candidate path."""


class InfeasibleError(SurgeguardError):
    """The optimisation problem has no feasible solution."""


class SolverError(SurgeguardError, RuntimeError):
    """A solver stopped without an optimal solution (time limit, numerical trouble, ...)."""


class NotFittedError(SurgeguardError, ValueError, AttributeError):
    """A model was used before ``fit`` was called."""
