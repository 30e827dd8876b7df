"""Traffic classes: names, strict-priority order, latency bounds and demand shares.

A :class:`ClassConfig` is an ordered tuple of :class:`TrafficClass` -- highest priority first --
configured per network (``network.meta['traffic_classes']``) or given explicitly. The default
(:data:`DEFAULT_CLASSES`) is the one the Morocco demo uses:

==============  ======  ==================  ==========================================================
class           share   latency bound       what it stands for
==============  ======  ==================  ==========================================================
``critical``    5 %     1.5 x the shortest  government videoconference (Government Council), hospital
                                            telemedicine, e-learning platforms of the ministries
``interactive`` 35 %    2 x the shortest    web, messaging, other videoconference, remote work
``bulk``        60 %    none                video streaming, software updates, backups
==============  ======  ==================  ==========================================================

The shares are an assumption for a national backbone (not a measurement); they are only used when
the traffic has no class axis. With a class axis (``TrafficSeries.classes``), the demand of each
class comes from the data, and each configured class collects the series classes listed in its
``members`` (by default its own name).

Latency bound of a class: a candidate path is *allowed* for the class when its propagation latency
is at most ``max_latency_ms`` and at most ``max_stretch`` times the lowest latency among the OD's
candidate paths. The bound cannot beat propagation: an OD whose lowest-latency candidate already
exceeds ``max_latency_ms`` keeps that one path (listed by :meth:`ClassConfig.allowed_paths`).

Lockdown factors (:data:`LOCKDOWN_CLASS_FACTORS`): what a lockdown does to each class on top of the
overall growth, for :class:`surgeguard.scenario.Lockdown` (``class_factors=``). Critical traffic
x3: videoconferencing doubled within a week (DE-CIX, March 2020) and the government and hospitals
moved meetings and consultations online (the issue's "videoconference x2-4"); 3 is the middle of
that range, an assumption to vary.

Examples
--------
>>> cfg = ClassConfig.from_spec("critical:0.05:1.5x,interactive:0.35:40ms,bulk:0.6")
>>> cfg.names, cfg.get("interactive").max_latency_ms
(('critical', 'interactive', 'bulk'), 40.0)
>>> cfg.to_spec()
'critical:0.05:1.5x,interactive:0.35:40ms,bulk:0.6'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .exceptions import InputError, ValidationError
from .network import Network
from .traffic import TrafficSeries

__all__ = ["TrafficClass", "ClassConfig", "DEFAULT_CLASSES", "LOCKDOWN_CLASS_FACTORS", "class_config",
           "class_od_demands"]


@dataclass(frozen=True)
class TrafficClass:
    """One traffic class.

    Parameters
    ----------
    name : the class name (``critical``, ``interactive``, ``bulk``, ...).
    share : fraction of every OD's demand in this class when the traffic has no class axis
        (the shares of a config are normalised to sum 1); None: the class gets no demand then.
    max_latency_ms : only candidate paths with propagation latency <= this (ms); None: no bound.
    max_stretch : only candidate paths with latency <= ``max_stretch`` x the OD's lowest candidate
        latency; None: no bound.
    members : series class names this class collects (default: its own name).
    description : free text for reports.
    """

    name: str
    share: float | None = None
    max_latency_ms: float | None = None
    max_stretch: float | None = None
    members: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(f"traffic class name {self.name!r} must be a non-empty string")
        object.__setattr__(self, "name", self.name.strip())
        if self.share is not None:
            s = _number(self.share, f"class {self.name!r} share")
            if not (np.isfinite(s) and 0 <= s <= 1):
                raise ValidationError(f"class {self.name!r} share={self.share!r} must be a fraction in [0, 1] "
                                      "(e.g. 0.05 for 5 %)")
            object.__setattr__(self, "share", s)
        if self.max_latency_ms is not None:
            v = _number(self.max_latency_ms, f"class {self.name!r} max_latency_ms")
            if not (np.isfinite(v) and v > 0):
                raise ValidationError(f"class {self.name!r} max_latency_ms={self.max_latency_ms!r} must be > 0 ms")
            object.__setattr__(self, "max_latency_ms", v)
        if self.max_stretch is not None:
            v = _number(self.max_stretch, f"class {self.name!r} max_stretch")
            if not (np.isfinite(v) and v >= 1):
                raise ValidationError(
                    f"class {self.name!r} max_stretch={self.max_stretch!r} must be >= 1 (1.5 = paths up to 1.5x "
                    "the lowest latency)")
            object.__setattr__(self, "max_stretch", v)
        members = tuple(str(m) for m in (self.members or (self.name,)))
        object.__setattr__(self, "members", members)

    @property
    def bound_text(self) -> str:
        """The latency bound in words (for reports)."""
        parts = []
        if self.max_latency_ms is not None:
            parts.append(f"<= {self.max_latency_ms:g} ms")
        if self.max_stretch is not None:
            parts.append(f"<= {self.max_stretch:g} x shortest")
        return " and ".join(parts) if parts else "none"


def _number(x, what: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise ValidationError(f"{what}={x!r} is not a number") from None


@dataclass(frozen=True)
class ClassConfig:
    """Traffic classes in strict-priority order, highest first.

    Build one with :meth:`from_spec` (the CLI form ``name:share[:bound],...``), :meth:`from_records`
    (dicts, e.g. from JSON) or :meth:`from_file`; :func:`class_config` picks the network's own
    (``network.meta['traffic_classes']``) or :data:`DEFAULT_CLASSES`.
    """

    classes: tuple[TrafficClass, ...]
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        cl = tuple(self.classes)
        if not cl:
            raise ValidationError("a class configuration needs at least one traffic class")
        names = [c.name for c in cl]
        if len(set(names)) != len(names):
            raise ValidationError(f"traffic classes {names} have duplicate names; make them unique")
        seen: dict[str, str] = {}
        for c in cl:
            for m in c.members:
                if m in seen and seen[m] != c.name:
                    raise ValidationError(
                        f"series class {m!r} is a member of both {seen[m]!r} and {c.name!r}; give it to one class")
                seen[m] = c.name
        object.__setattr__(self, "classes", cl)

    # ------------------------------------------------------------------ views
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self):
        return iter(self.classes)

    def index(self, name: str) -> int:
        """Priority rank (0 = highest) of class ``name``; unknown names raise an error listing them."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValidationError(f"unknown traffic class {name!r}; classes are {list(self.names)}") from None

    def get(self, name: str) -> TrafficClass:
        return self.classes[self.index(name)]

    def shares(self) -> np.ndarray:
        """(C,) shares normalised to sum 1 (classes without a share get 0)."""
        s = np.array([c.share if c.share is not None else 0.0 for c in self.classes], dtype=float)
        if not s.sum() > 0:
            raise ValidationError(
                f"traffic classes {list(self.names)} have no shares; give shares (e.g. critical:0.05) to split "
                "traffic without a class axis")
        return s / s.sum()

    def shares_dict(self) -> dict[str, float]:
        """``{class: share}``, normalised: what :func:`surgeguard.scenario.gravity_series` takes as ``classes``."""
        return dict(zip(self.names, self.shares().tolist()))

    # ------------------------------------------------------------------ traffic
    def class_matrices(self, traffic, step: int | None = None) -> np.ndarray:
        """(C, N, N) demand per class in bit/s, in this config's order.

        Parameters
        ----------
        traffic : an (N, N) aggregate matrix (split by :meth:`shares`), a (C, N, N) array already in
            this order, or a :class:`TrafficSeries` (with ``step``; classes mapped by ``members``,
            a series without classes split by shares).
        step : the series step (required when the series has more than one).
        """
        if isinstance(traffic, TrafficSeries):
            if step is None:
                if len(traffic) != 1:
                    raise ValidationError(
                        f"traffic {traffic.name!r} has {len(traffic)} steps; pass step=I to pick one")
                step = 0
            if not -len(traffic) <= step < len(traffic):
                raise ValidationError(f"step {step} is outside traffic {traffic.name!r} (0..{len(traffic) - 1})")
            if traffic.classes is None:
                return self.shares()[:, None, None] * traffic.values[step][None]
            return self._map_classes(traffic.classes, traffic.values[step], traffic.name)
        a = np.asarray(traffic, dtype=float)
        if a.ndim == 2:
            return self.shares()[:, None, None] * a[None]
        if a.ndim == 3 and a.shape[0] == len(self):
            return a
        raise ValidationError(
            f"class traffic has shape {a.shape}; expected (N, N) or ({len(self)}, N, N) for classes {list(self.names)}")

    def split(self, series: TrafficSeries) -> TrafficSeries:
        """The series with a class axis in this config's order (see :meth:`class_matrices`)."""
        if series.classes is None:
            vals = series.values[:, None] * self.shares()[None, :, None, None]
        else:
            vals = np.stack([self._map_classes(series.classes, series.values[t], series.name)
                             for t in range(len(series))]) if len(series) else np.zeros(
                (0, len(self), series.n_nodes, series.n_nodes))
        return TrafficSeries(vals, series.nodes, series.times, self.names, series.name, dict(series.meta))

    def _map_classes(self, series_classes: Sequence[str], values: np.ndarray, name: str) -> np.ndarray:
        pos = {m: i for i, c in enumerate(self.classes) for m in c.members}
        extra = [c for c in series_classes if c not in pos]
        if extra:
            raise ValidationError(
                f"traffic {name!r} has classes {extra} that no configured class collects (classes "
                f"{list(self.names)}); add them to a class's members or rename them")
        out = np.zeros((len(self),) + values.shape[-2:])
        for i, c in enumerate(series_classes):
            out[pos[c]] += values[i]
        return out

    # ------------------------------------------------------------------ paths
    def allowed_paths(self, paths) -> tuple[np.ndarray, list[list[int]]]:
        """(C, n_paths) bool: the paths each class may use, and per class the OD indices whose bound
        was relaxed to their lowest-latency candidate (no candidate met ``max_latency_ms``).

        Parameters
        ----------
        paths : a :class:`~surgeguard.routing.PathSet`.
        """
        lat = np.asarray(paths.latency_ms, dtype=float)
        best_p = paths.od_min(lat)[paths.path_od]
        out = np.ones((len(self), paths.n_paths), dtype=bool)
        relaxed: list[list[int]] = []
        for i, c in enumerate(self.classes):
            ok = np.ones(paths.n_paths, dtype=bool)
            if c.max_stretch is not None:
                ok &= lat <= c.max_stretch * best_p * (1 + 1e-9) + 1e-9
            if c.max_latency_ms is not None:
                ok &= lat <= c.max_latency_ms * (1 + 1e-12)
            has = paths.od_sum(ok.astype(np.int64)) > 0
            bad = np.flatnonzero(~has)
            if len(bad):  # keep the lowest-latency candidate of those ODs
                is_best = np.isclose(lat, best_p) & np.isin(paths.path_od, bad)
                ok |= is_best
            out[i] = ok
            relaxed.append(bad.tolist())
        return out, relaxed

    # ------------------------------------------------------------------ construction / text
    @classmethod
    def from_records(cls, records: Iterable[Mapping]) -> "ClassConfig":
        """From dicts with keys ``name``, ``share``, ``max_latency_ms``, ``max_stretch``, ``members``,
        ``description`` (e.g. a JSON list). Unknown keys raise an error listing the valid ones."""
        valid = {"name", "share", "max_latency_ms", "max_stretch", "members", "description"}
        out = []
        for rec in records:
            if not isinstance(rec, Mapping):
                raise ValidationError(f"class record {rec!r} is not a mapping; write {{'name': 'critical', 'share': 0.05}}")
            bad = sorted(set(rec) - valid)
            if bad:
                raise ValidationError(f"class record {dict(rec)!r} has unknown keys {bad}; valid keys are {sorted(valid)}")
            if "name" not in rec:
                raise ValidationError(f"class record {dict(rec)!r} needs a 'name'")
            kw = dict(rec)
            if "members" in kw:
                kw["members"] = tuple(kw["members"])
            out.append(TrafficClass(**kw))
        return cls(tuple(out))

    @classmethod
    def from_file(cls, path) -> "ClassConfig":
        """From a JSON file: a list of class records, or ``{"classes": [...]}``."""
        p = Path(path)
        try:
            doc = json.loads(p.read_text())
        except OSError as exc:
            raise InputError(f"class file {str(path)!r} cannot be read ({exc.strerror}); give an existing JSON file") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"class file {str(path)!r} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if isinstance(doc, Mapping):
            doc = doc.get("classes", doc)
        if not isinstance(doc, list):
            raise InputError(f"class file {str(path)!r} must hold a list of class records or {{'classes': [...]}}")
        return cls.from_records(doc)

    @classmethod
    def from_spec(cls, spec: str) -> "ClassConfig":
        """From ``'name:share[:bound],...'`` (highest priority first); ``bound`` is ``40ms`` (absolute)
        or ``1.5x`` (stretch), or both joined by ``+`` (``40ms+1.5x``). A path to a ``.json`` file is
        read with :meth:`from_file`."""
        if not isinstance(spec, str) or not spec.strip():
            raise ValidationError(f"class spec {spec!r} is empty; write e.g. 'critical:0.05:1.5x,interactive:0.35,bulk:0.6'")
        s = spec.strip()
        if s.endswith(".json"):
            return cls.from_file(s)
        out = []
        for item in s.split(","):
            item = item.strip()
            if not item:
                continue
            parts = [p.strip() for p in item.split(":")]
            if len(parts) > 3 or not parts[0]:
                raise ValidationError(f"class spec item {item!r} is not name:share[:bound]; write e.g. critical:0.05:1.5x")
            kw: dict = {"name": parts[0]}
            if len(parts) >= 2 and parts[1]:
                kw["share"] = _number(parts[1], f"class {parts[0]!r} share")
            if len(parts) == 3 and parts[2]:
                for b in parts[2].split("+"):
                    b = b.strip().lower()
                    if b.endswith("ms"):
                        kw["max_latency_ms"] = _number(b[:-2], f"class {parts[0]!r} latency bound")
                    elif b.endswith("x"):
                        kw["max_stretch"] = _number(b[:-1], f"class {parts[0]!r} stretch bound")
                    else:
                        raise ValidationError(
                            f"class {parts[0]!r} bound {b!r} must end in 'ms' (e.g. 40ms) or 'x' (e.g. 1.5x)")
            out.append(TrafficClass(**kw))
        return cls(tuple(out))

    def to_spec(self) -> str:
        items = []
        for c in self.classes:
            bound = "+".join(([f"{c.max_latency_ms:g}ms"] if c.max_latency_ms is not None else [])
                             + ([f"{c.max_stretch:g}x"] if c.max_stretch is not None else []))
            share = f"{c.share:g}" if c.share is not None else ""
            items.append(":".join([c.name, share] + ([bound] if bound else [])).rstrip(":"))
        return ",".join(items)

    def to_records(self) -> list[dict]:
        return [{"name": c.name, "share": c.share, "max_latency_ms": c.max_latency_ms,
                 "max_stretch": c.max_stretch, "members": list(c.members), "description": c.description}
                for c in self.classes]

    def with_class(self, name: str, **changes) -> "ClassConfig":
        """A copy with class ``name``'s fields changed."""
        i = self.index(name)
        cl = list(self.classes)
        cl[i] = replace(cl[i], **changes)
        return ClassConfig(tuple(cl), dict(self.meta))


#: The default classes (see the module notes): critical 5 % within 1.5x the lowest latency,
#: interactive 35 % within 2x, bulk 60 % unbounded.
DEFAULT_CLASSES = ClassConfig((
    TrafficClass("critical", 0.05, max_stretch=1.5,
                 description="government videoconference, hospital telemedicine, public e-learning"),
    TrafficClass("interactive", 0.35, max_stretch=2.0,
                 description="web, messaging, other videoconference, remote work"),
    TrafficClass("bulk", 0.60, description="video streaming, software updates, backups"),
))

#: Lockdown growth per class on top of the overall growth (``Lockdown(class_factors=...)``); see
#: the module notes. An assumption, not a measurement.
LOCKDOWN_CLASS_FACTORS: dict[str, float] = {"critical": 3.0}


def class_config(classes=None, network: Network | None = None) -> ClassConfig:
    """Resolve a class configuration.

    Parameters
    ----------
    classes : a :class:`ClassConfig`, a spec string (:meth:`ClassConfig.from_spec`), a list of
        records, or None: the network's ``meta['traffic_classes']`` (any of these forms), else
        :data:`DEFAULT_CLASSES`.
    network : the network whose configuration to use when ``classes`` is None.
    """
    if classes is None and network is not None:
        classes = network.meta.get("traffic_classes")
    if classes is None:
        return DEFAULT_CLASSES
    if isinstance(classes, ClassConfig):
        return classes
    if isinstance(classes, str):
        return ClassConfig.from_spec(classes)
    if isinstance(classes, (list, tuple)):
        if all(isinstance(c, TrafficClass) for c in classes):
            return ClassConfig(tuple(classes))
        return ClassConfig.from_records(classes)
    raise ValidationError(
        f"traffic classes must be a ClassConfig, a spec like 'critical:0.05:1.5x,bulk:0.95' or a list of records; "
        f"got {type(classes).__name__}")


def class_od_demands(paths, mats: np.ndarray) -> np.ndarray:
    """(C, n_od) demand per class and OD pair of ``paths`` (a :class:`~surgeguard.paths.PathSet`)
    from (C, N, N) class matrices (:meth:`ClassConfig.class_matrices`), bit/s.

    >>> from surgeguard.examples import two_paths
    >>> from surgeguard.paths import k_shortest_paths
    >>> ps = k_shortest_paths(two_paths(), k=2)
    >>> mats = DEFAULT_CLASSES.class_matrices(np.full((4, 4), 1e9))
    >>> class_od_demands(ps, mats).shape == (3, ps.n_od)
    True
    """
    if not len(mats):
        return np.zeros((0, paths.n_od))
    return np.stack([paths.demand(m, what="class traffic matrix") for m in mats])
