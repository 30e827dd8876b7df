"""The scenario contract, the scenario registry and the ``name[:key=value,...]`` spec parser.

A scenario is a dataclass of parameters with ``apply(series, network=None) -> TrafficSeries``; it
never changes its input. Its parameters follow :class:`~surgeguard.validation.Params`
(``get_params``, ``clone``, ``validate`` against the declared ``_parameter_constraints``, checked
when ``apply`` starts and when a spec is parsed). ``Scenario.from_string`` builds one from the
spec form ``name:key=value,key=value``; :func:`get_scenario` looks the name up in
:data:`SCENARIOS`. Values that are lists or mappings use ``;`` (or ``|``) between items
and ``:`` (or ``=``) between a name and its number: ``regions=Casablanca-Settat:1.5;Fès-Meknès:1.2``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, ClassVar, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..network import Network
from ..traffic import TrafficSeries
from ..validation import Params, Registry

__all__ = ["Scenario", "NoScenario", "SCENARIOS", "get_scenario", "available_scenarios", "register_scenario",
           "split_spec", "parse_float", "parse_mapping", "parse_names", "parse_timestamp", "parse_days"]

#: every scenario by name, as used in the spec ``NAME[:key=value,...]``; see :func:`register_scenario`.
SCENARIOS = Registry("scenario")


def split_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``'lockdown:growth=0.3,ramp_days=5'`` -> ``('lockdown', {'growth': '0.3', 'ramp_days': '5'})``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValidationError(f"scenario spec {spec!r} is empty; use e.g. 'lockdown' or 'lockdown:growth=0.3'")
    name, _, rest = spec.strip().partition(":")
    out: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ValidationError(
                f"scenario spec {spec!r}: {part!r} is not key=value; write e.g. '{name.strip()}:growth=0.3'")
        key = key.strip()
        if key in out:
            raise ValidationError(f"scenario spec {spec!r} gives {key!r} twice; give it once")
        out[key] = value.strip()
    return name.strip().lower(), out


def parse_float(key: str, value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise ValidationError(f"{key}={value!r} is not a number; write e.g. {key}=0.3") from None
    return v


def _items(value: str) -> list[str]:
    return [p.strip() for p in value.replace("|", ";").split(";") if p.strip()]


def parse_mapping(key: str, value: str) -> dict[str, float]:
    """``'Casablanca-Settat:1.5;Fès-Meknès:1.2'`` -> ``{'Casablanca-Settat': 1.5, 'Fès-Meknès': 1.2}``."""
    out = {}
    for item in _items(value):
        cut = max(item.rfind(":"), item.rfind("="))
        if cut <= 0:
            raise ValidationError(
                f"{key}: item {item!r} needs name:factor; write e.g. {key}=NAME:1.5;OTHER:2")
        out[item[:cut].strip()] = parse_float(f"{key}[{item[:cut].strip()}]", item[cut + 1:].strip())
    return out


def parse_names(key: str, value: str) -> tuple[str, ...]:
    """``'Casablanca;Rabat'`` -> ``('Casablanca', 'Rabat')``."""
    return tuple(_items(value))


_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def parse_days(key: str, value: str) -> tuple[int, ...]:
    """``'5;6'`` or ``'sat;sun'`` -> ``(5, 6)`` (Monday = 0)."""
    out = []
    for item in _items(value):
        d = _DAYS.get(item.lower()[:3]) if not item.isdigit() else int(item)
        if d is None or not 0 <= d <= 6:
            raise ValidationError(f"{key}: {item!r} is not a day; use 0-6 (Monday = 0) or mon..sun")
        out.append(d)
    return tuple(out)


def parse_timestamp(key: str, value) -> pd.Timestamp:
    """A UTC timestamp from a string or Timestamp (naive = UTC)."""
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValidationError(f"{key}={value!r} is not a date/time; write e.g. {key}=2020-03-20") from None
    if t is pd.NaT:
        raise ValidationError(f"{key}={value!r} is not a date/time; write e.g. {key}=2020-03-20")
    return t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")


@dataclass
class Scenario(Params):
    """Base class: a named set of parameters that transforms a traffic series.

    Subclasses are dataclasses; they set ``name``, ``_parsers`` (field -> ``f(key, text)``) and
    ``_parameter_constraints`` (field -> allowed values, see :mod:`surgeguard.validation`), and
    implement :meth:`apply`, which starts with :meth:`validate`.
    """

    name: ClassVar[str] = "scenario"
    _parsers: ClassVar[Mapping[str, Callable[[str, str], object]]] = {}

    def apply(self, series: TrafficSeries, network: Network | None = None) -> TrafficSeries:
        raise NotImplementedError

    @classmethod
    def from_string(cls, spec: str) -> "Scenario":
        """Build from ``'<name>[:key=value,...]'``; unknown keys raise an error listing the valid ones."""
        name, kv = split_spec(spec)
        if name != cls.name:
            raise ValidationError(f"scenario spec {spec!r} names {name!r}, expected {cls.name!r}")
        valid = [f.name for f in fields(cls)]
        bad = sorted(set(kv) - set(valid))
        if bad:
            hint = f"valid keys are {valid}" if valid else f"{cls.name!r} takes no parameters"
            raise ValidationError(f"unknown {cls.name} parameter(s) {bad} in {spec!r}; {hint}")
        kwargs = {k: cls._parsers.get(k, parse_float)(k, v) for k, v in kv.items()}
        return cls(**kwargs).validate()

    def describe(self, series: TrafficSeries | None = None) -> dict:
        """Name, spec and every parameter, for reports (``start`` resolved when ``series`` is given)."""
        out = {"name": self.name, "spec": self.to_string()}
        out.update({f.name: getattr(self, f.name) for f in fields(self)})
        if series is not None and hasattr(self, "resolve_start"):
            out["start"] = self.resolve_start(series)
        return out

    def to_string(self) -> str:
        """The spec of this scenario (only parameters that differ from the defaults)."""
        parts = []
        default = type(self)()
        for f in fields(self):
            v = getattr(self, f.name)
            if _same(v, getattr(default, f.name)):
                continue
            if isinstance(v, Mapping):
                text = ";".join(f"{k}:{x:g}" for k, x in v.items())
            elif isinstance(v, (tuple, list)):
                text = ";".join(str(x) for x in v)
            elif isinstance(v, pd.Timestamp):
                text = v.strftime("%Y-%m-%dT%H:%M")
            elif isinstance(v, float):
                text = f"{v:g}"
            else:
                text = str(v)
            parts.append(f"{f.name}={text}")
        return self.name + (":" + ",".join(parts) if parts else "")


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return bool(a == b or (np.isnan(a) and np.isnan(b)))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@SCENARIOS.register("none")
@dataclass
class NoScenario(Scenario):
    """The identity scenario (``'none'``): the series unchanged, as a baseline."""

    name: ClassVar[str] = "none"

    def apply(self, series: TrafficSeries, network: Network | None = None) -> TrafficSeries:
        """Return ``series`` itself."""
        return series


def register_scenario(cls: type[Scenario]) -> type[Scenario]:
    """Add a :class:`Scenario` subclass to :data:`SCENARIOS` under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Scenario)):
        raise ValidationError(f"register_scenario needs a Scenario subclass, got {cls!r}")
    return SCENARIOS.register(cls.name, cls)


def available_scenarios() -> list[str]:
    """Names accepted by :func:`get_scenario`."""
    return SCENARIOS.names()


def get_scenario(spec: str | Scenario) -> Scenario:
    """A scenario from ``'name[:key=value,...]'`` (a :class:`Scenario` is returned as it is).

    Unknown names or keys raise :class:`~surgeguard.ValidationError` listing the valid ones.
    Mapping values use ``name:factor`` items separated by ``;``, lists use ``;``:
    ``'lockdown:regions=Casablanca-Settat:1.5;Fès-Meknès:1.2,hubs=Casablanca;Rabat'``.

    >>> get_scenario("none")
    NoScenario()
    >>> get_scenario("surge")
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: unknown scenario 'surge'; choose one of: lockdown, none
    """
    if isinstance(spec, Scenario):
        return spec
    name, _ = split_spec(spec)
    return SCENARIOS[name].from_string(spec)
