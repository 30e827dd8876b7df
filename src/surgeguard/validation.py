"""Parameters declared, not hand-checked: constraints, one message form, ``get_params``, registries.

Every configurable object (policies, forecasters, detectors, scenarios) declares the valid range of
each constructor parameter once, as a class attribute ``_parameter_constraints``, and checks it with
:func:`validate_params` when it starts work (``fit``, ``route``, ``apply``), never in ``__init__``.
The message is always the same form::

    The 'window' parameter of Robust must be an int in [1, inf). Got 0 instead.

:class:`Params` gives ``get_params`` (read from the ``__init__`` signature), ``clone`` and a
``repr``; :class:`Registry` is the one registry shape (policies, forecasters, detectors, scenarios),
whose unknown names and unknown parameters raise :class:`~surgeguard.ValidationError` listing the
valid ones.

Examples
--------
>>> class Window(Params):
...     _parameter_constraints = {"size": [Interval(int, 1, None)], "how": [Options({"mean", "max"})]}
...     def __init__(self, size=12, how="mean"):
...         self.size, self.how = size, how
>>> Window(size=3)
Window(size=3, how='mean')
>>> Window(size=0).validate()
Traceback (most recent call last):
...
surgeguard.exceptions.ValidationError: The 'size' parameter of Window must be an int in [1, inf). Got 0 instead.
>>> reg = Registry("window")
>>> _ = reg.register("window")(Window)
>>> reg.get("window", size=4).size
4
>>> reg.get("windw")
Traceback (most recent call last):
...
surgeguard.exceptions.ValidationError: unknown window 'windw'; choose one of: window
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any, Callable, ClassVar, Iterable

import numpy as np

from .exceptions import ValidationError

__all__ = ["Interval", "Options", "Boolean", "NoneOr", "Callable_", "InstanceOf", "validate_params", "check_param",
           "Params", "Registry", "check_finite_array"]


class Constraint:
    """One allowed set of values; ``describe()`` is the phrase after 'must be'."""

    def accepts(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class Interval(Constraint):
    """A real or integer number in a range; ``None`` bounds are open to infinity.

    ``closed`` is 'both' (default), 'left', 'right' or 'neither'. NaN and infinities are refused
    unless a bound is ``None`` on that side (and ``inf`` is still refused: a parameter is finite).
    """

    def __init__(self, kind: type, low: float | None, high: float | None, closed: str = "both"):
        if kind not in (int, float, numbers.Real, numbers.Integral):
            raise TypeError("Interval kind must be int or float")
        self.kind = int if kind in (int, numbers.Integral) else float
        self.low, self.high, self.closed = low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.kind is int:
            if not isinstance(value, (numbers.Integral, np.integer)):
                return False
        elif not isinstance(value, (numbers.Real, np.floating, np.integer)):
            return False
        v = float(value)
        if not math.isfinite(v):
            return False
        left_ok = self.low is None or (v >= self.low if self.closed in ("both", "left") else v > self.low)
        right_ok = self.high is None or (v <= self.high if self.closed in ("both", "right") else v < self.high)
        return left_ok and right_ok

    def describe(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        lb = "[" if self.closed in ("both", "left") and self.low is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        return f"{'an int' if self.kind is int else 'a float'} in {lb}{lo}, {hi}{rb}"


class Options(Constraint):
    """One of a fixed set of values (usually strings)."""

    def __init__(self, options: Iterable):
        self.options = frozenset(options)

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.options
        except TypeError:
            return False

    def describe(self) -> str:
        return "one of {" + ", ".join(repr(o) for o in sorted(self.options, key=str)) + "}"


class Boolean(Constraint):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self) -> str:
        return "a bool"


class NoneOr(Constraint):
    """``None`` is accepted too (written as the first alternative in the message)."""

    def accepts(self, value: Any) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


class Callable_(Constraint):
    def accepts(self, value: Any) -> bool:
        return callable(value)

    def describe(self) -> str:
        return "a callable"


class InstanceOf(Constraint):
    def __init__(self, *types: type):
        self.types = types

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        return " or ".join(f"an instance of {t.__name__}" for t in self.types)




def check_param(owner: str, name: str, value: Any, constraints: list[Constraint]) -> None:
    """Raise the one-form :class:`ValidationError` unless ``value`` meets one of ``constraints``."""
    if any(c.accepts(value) for c in constraints):
        return
    allowed = " or ".join(c.describe() for c in constraints)
    raise ValidationError(f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead.")


def validate_params(obj: Any, constraints: dict[str, list[Constraint]] | None = None) -> None:
    """Check every declared parameter of ``obj`` (its ``_parameter_constraints`` by default)."""
    constraints = getattr(type(obj), "_parameter_constraints", {}) if constraints is None else constraints
    owner = type(obj).__name__
    for name, cons in constraints.items():
        check_param(owner, name, getattr(obj, name), cons)


def check_finite_array(values, what: str, *, nonnegative: bool = False, positive: bool = False) -> np.ndarray:
    """``values`` as a float array, refusing NaN, infinities and (optionally) signs, naming ``what``.

    >>> check_finite_array([1.0, 2.0], "capacity", positive=True).tolist()
    [1.0, 2.0]
    >>> check_finite_array([1.0, float("nan")], "demand")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: demand has 1 non-finite value(s) (first: nan at position 1); give finite numbers
    """
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be numbers; {exc}") from None
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValidationError(f"{what} has {int(bad.sum())} non-finite value(s) (first: {float(a.ravel()[i])!r} at "
                              f"position {i}); give finite numbers")
    if positive and (a <= 0).any():
        i = int(np.flatnonzero((a <= 0).ravel())[0])
        raise ValidationError(f"{what} must be > 0; got {float(a.ravel()[i])!r} at position {i}")
    if nonnegative and (a < 0).any():
        i = int(np.flatnonzero((a < 0).ravel())[0])
        raise ValidationError(f"{what} must be >= 0; got {float(a.ravel()[i])!r} at position {i}")
    return a


class Params:
    """scikit-learn's parameter contract: ``__init__`` stores each argument under its own name.

    ``get_params`` reads the ``__init__`` signature (so a constructor that renames or derives a
    value is caught by ``clone``), ``validate`` checks ``_parameter_constraints``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [k for k, p in sig.parameters.items()
                if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self) -> dict:
        """Constructor parameters, read from the ``__init__`` signature."""
        return {k: getattr(self, k) for k in self._param_names()}

    def clone(self):
        """A new, unfitted object with the same parameters."""
        return type(self)(**self.get_params())

    def validate(self):
        """Check the declared parameter ranges; returns ``self``."""
        validate_params(self)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Registry:
    """Names to factories, with one error type and one message form.

    ``kind`` is the word used in messages ('policy', 'forecaster', ...). ``normalise`` maps a user's
    spelling to the key (default: strip and lower-case).
    """

    def __init__(self, kind: str, *, normalise: Callable[[str], str] | None = None,
                 loader: Callable[[], None] | None = None):
        self.kind = kind
        self._items: dict[str, Callable[..., Any]] = {}
        self._normalise = normalise or (lambda s: str(s).strip().lower())
        self._loader = loader

    def _load(self) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader()

    def register(self, name: str, factory: Callable[..., Any] | None = None):
        """``register(name, factory)``, or ``@register(name)`` as a class decorator (sets ``cls.name``)."""

        def add(f):
            if isinstance(f, type) and "name" not in f.__dict__:
                f.name = name
            self._items[name] = f
            return f

        return add if factory is None else add(factory)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load()
        return self._normalise(name) in self._items

    def __getitem__(self, name: str) -> Callable[..., Any]:
        self._load()
        key = self._normalise(name)
        if key not in self._items:
            raise ValidationError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")
        return self._items[key]

    def get(self, name: str, **params) -> Any:
        """A new object by name; unknown parameters are named with the accepted ones."""
        factory = self[name]
        target = factory.__init__ if isinstance(factory, type) else factory
        sig = inspect.signature(target)
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            accepted = set(sig.parameters) - {"self"}
            bad = sorted(set(params) - accepted)
            if bad:
                raise ValidationError(f"{self.kind} {self._normalise(name)!r} has no parameter(s) {bad}; "
                                      f"accepted: {sorted(accepted)}")
        return factory(**params)
