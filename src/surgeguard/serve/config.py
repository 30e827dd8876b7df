"""The controller's configuration: a TOML file, every option also a command-line flag.

``surgeguard run --config FILE`` reads a TOML file (stdlib :mod:`tomllib`) of sections and keys;
every key has a default, and every key is also a flag of ``surgeguard run`` that overrides the
file (:data:`SETTINGS` lists them: section, key, flag, type, default, meaning). An example::

    [network]
    topology = "morocco"            # a topology file, a topohub key, or morocco
    capacity = "auto"               # ifHighSpeed where the routers report it, else the topology's

    [telemetry]
    source = "prometheus"           # or "file" (a counter or rate file, replayed)
    url = "http://127.0.0.1:9090"
    matchers = 'job="surgeguard-sim"'

    [controller]
    step = "5min"
    history = "1d"                  # read at start to fit the forecaster and the detector

    [policy]
    name = "optimal"
    time_limit = 30.0               # seconds per solve; 0 = no limit
    classes = "critical:0.05:1.5x,interactive:0.35,bulk:0.6"   # critical-class protection

    [store]
    path = "live-output/surgeguard.duckdb"

    [export]
    dir = "live-output/sr"          # each decision that changes the SR policies: DIR/<ds>/ with the
    format = "iosxr"                # changed ones and changes.json (empty: no export)

A bad value stops before anything runs, in one line naming the key (or flag), the value and the
fix: ``config live.toml: [policy] time_limit = -1 must be a number >= 0 (seconds per solve, 0 = no
limit); fix it or remove the key (default 30.0)``. Unknown sections and keys are refused, listing
the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..classes import ClassConfig
from ..detect import available_detectors
from ..estimate import available_estimators
from ..exceptions import InputError, SurgeguardError, ValidationError
from ..forecast import available_forecasters
from ..routing import policy_names
from ..routing.policies import policy_accepts
from ..telemetry.sources import step_seconds
from .options import OptionError

__all__ = ["RunConfig", "NetworkSettings", "TelemetrySettings", "ControllerSettings", "EstimateSettings",
           "ForecastSettings", "DetectSettings", "PolicySettings", "StoreSettings", "ExportSettings", "MetricsSettings",
           "LogSettings", "Setting", "SETTINGS", "load_config", "duration_seconds", "NO_DETECTOR"]

#: the ``[detect] detector`` value that turns surge detection off
NO_DETECTOR = "none"


def _opt(default, help: str, flag: str, kind: str = "", *, choices=(), low=None, high=None, low_open=False):
    return field(default=default, metadata={"help": help, "flag": flag, "kind": kind, "choices": tuple(choices),
                                            "low": low, "high": high, "low_open": low_open})


def duration_seconds(text) -> float:
    """Seconds of a positive duration such as ``5min``, ``1d``, ``90s`` (or a number of seconds);
    NaN when it is not one (:func:`~surgeguard.telemetry.sources.step_seconds` without the error).

    >>> duration_seconds("5min"), duration_seconds("1d"), duration_seconds(30), duration_seconds("soon")
    (300.0, 86400.0, 30.0, nan)
    """
    try:
        return step_seconds(text.strip() if isinstance(text, str) else text)
    except ValidationError:
        return float("nan")


# ---------------------------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class NetworkSettings:
    topology: str = _opt("morocco", "topology file, topohub key, or morocco", "--network")
    interfaces: str = _opt("", "interface map file (instance, ifName, node, role, link); empty: the topology's "
                               "ifName attributes, else the simulator's naming", "--interfaces", "path")
    capacity: str = _opt("auto", "link capacities: auto (ifHighSpeed where reported, else the topology's), "
                                 "telemetry (ifHighSpeed only) or topology", "--capacity",
                         choices=("auto", "telemetry", "topology"))
    k_paths: int = _opt(4, "candidate paths per OD pair", "--k", low=1, high=64)


@dataclass(frozen=True)
class TelemetrySettings:
    source: str = _opt("prometheus", "where link loads come from: prometheus or file", "--source",
                       choices=("prometheus", "file"))
    url: str = _opt("http://127.0.0.1:9090", "Prometheus base URL", "--url")
    file: str = _opt("", "counter or rate file (CSV/Parquet) for source = file", "--telemetry-file", "path")
    node_totals: str = _opt("", "node totals file (ds, node, ingress_bps, egress_bps) for a rate file",
                            "--node-totals", "path")
    follow: bool = _opt(False, "read the telemetry file again as it grows (source = file)", "--follow/--no-follow")
    replay_speed: float = _opt(0.0, "pace of a file replay: simulated seconds per wall second (0: as fast as possible)",
                        "--replay-speed", low=0.0, high=1e9)
    matchers: str = _opt("", "PromQL label matchers added to every selector, e.g. job=\"snmp\"", "--matchers")
    clock: str = _opt("auto", "Prometheus times: auto (the simulator's accelerated clock when its gauges are "
                              "there, else wall time) or wall", "--clock", choices=("auto", "wall"))
    lag: float = _opt(2.0, "wall seconds to wait after an interval ends before reading it", "--lag", low=0.0,
                      high=3600.0)
    timeout: float = _opt(10.0, "seconds to wait for each Prometheus answer", "--timeout", low=0.0, high=3600.0,
                          low_open=True)


@dataclass(frozen=True)
class ControllerSettings:
    step: str = _opt("5min", "interval length", "--step", "duration")
    start: str = _opt("", "first interval (ISO time); empty: resume after the store's last interval, else "
                          "the latest complete interval (the first after the history for a file)", "--start", "time")
    history: str = _opt("1d", "history read at start to fit the forecaster and the detector (0 for none)",
                        "--history", "duration0")
    max_intervals: int = _opt(0, "stop after this many intervals (0: run until stopped or the file ends)",
                              "--intervals", low=0)
    retry_initial: float = _opt(1.0, "first wait (s) before retrying unreachable telemetry; doubles each try",
                                "--retry-initial", low=0.0, high=3600.0, low_open=True)
    retry_max: float = _opt(60.0, "longest wait (s) between retries", "--retry-max", low=0.0, high=86400.0,
                            low_open=True)
    fallback_age: int = _opt(12, "intervals a last good routing may be kept when the policy fails, before "
                                 "shortest paths take over", "--fallback-age", low=0)


@dataclass(frozen=True)
class EstimateSettings:
    method: str = _opt("tomogravity", "traffic-matrix estimation method", "--estimator", "estimator")


@dataclass(frozen=True)
class ForecastSettings:
    model: str = _opt("naive", "forecaster of the next interval's matrix", "--forecaster", "forecaster")


@dataclass(frozen=True)
class DetectSettings:
    detector: str = _opt("seasonal", "surge detector, or none", "--detector", "detector")


@dataclass(frozen=True)
class PolicySettings:
    name: str = _opt("optimal", "routing policy", "--policy", "policy")
    time_limit: float = _opt(30.0, "seconds per solve, 0 = no limit", "--time-limit", low=0.0, high=86400.0)
    classes: str = _opt("", "traffic classes for critical-class protection (priority allocation), e.g. "
                            "critical:0.05:1.5x,interactive:0.35,bulk:0.6 or a .json file; empty: none",
                        "--classes", "classes")
    model: str = _opt("", "a model file from `surgeguard train`, for the learned and hedge policies (hedge "
                          "then blends it with optimal-last and robust); empty: none", "--model", "path")
    input: str = _opt("forecast", "what the policy routes: forecast (route the forecast matrix) or history "
                                  "(the policy decides from the estimated history itself)", "--policy-input",
                      choices=("forecast", "history"))


@dataclass(frozen=True)
class StoreSettings:
    path: str = _opt("surgeguard.duckdb", "the DuckDB store (a file path or :memory:)", "--store", "path")
    splits: bool = _opt(True, "store every decision's splits (path weights)", "--store-splits/--no-store-splits")


@dataclass(frozen=True)
class ExportSettings:
    dir: str = _opt("", "folder for the SR-TE policies of each decision that changes them (a folder per decision "
                        "with the changed policies and changes.json); empty: no export", "--export-dir", "path")
    format: str = _opt("json", "format of the exported SR-TE policies", "--export-format",
                       choices=("json", "iosxr", "frr", "pola"))
    slots: int = _opt(64, "weighted-ECMP entries per exported SR policy", "--export-slots", low=1, high=65536)
    max_sid_depth: int = _opt(10, "most SIDs a head-end pushes (deeper segment lists are not exported)",
                              "--export-max-sid-depth", low=1, high=64)


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = _opt(True, "serve the controller's metrics at /metrics", "--metrics/--no-metrics")
    host: str = _opt("127.0.0.1", "address of /metrics", "--metrics-host")
    port: int = _opt(9180, "port of /metrics (0: any free port, logged)", "--metrics-port", low=0, high=65535)


@dataclass(frozen=True)
class LogSettings:
    progress: str = _opt("auto", "auto (rich on a terminal), rich, plain (one line per interval) or quiet",
                         "--progress", choices=("auto", "rich", "plain", "quiet"))


_SECTIONS = {"network": NetworkSettings, "telemetry": TelemetrySettings, "controller": ControllerSettings,
             "estimate": EstimateSettings, "forecast": ForecastSettings, "detect": DetectSettings,
             "policy": PolicySettings, "store": StoreSettings, "export": ExportSettings, "metrics": MetricsSettings,
             "log": LogSettings}


@dataclass(frozen=True)
class Setting:
    """One option: ``[section] key`` in the file, ``flag`` on the command line."""

    section: str
    key: str
    type: type
    default: Any
    help: str
    flag: str
    kind: str
    choices: tuple
    low: float | None
    high: float | None
    low_open: bool

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def flag_name(self) -> str:
        """The flag without its ``--no-`` half (``--metrics``)."""
        return self.flag.split("/")[0]

    def need(self) -> str:
        """What a valid value is, in words."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind == "estimator":
            return "an estimation method: " + ", ".join(available_estimators())
        if self.kind == "forecaster":
            return "a forecaster: " + ", ".join(available_forecasters())
        if self.kind == "detector":
            return "a detector: " + ", ".join(available_detectors() + [NO_DETECTOR])
        if self.kind == "policy":
            return "a policy: " + ", ".join(policy_names())
        if self.kind == "duration":
            return "a positive duration such as 5min, 300s or 1h"
        if self.kind == "duration0":
            return "a duration such as 1d, 6h or 0"
        if self.kind == "time":
            return "an ISO time such as 2020-03-20T10:05:00Z, or empty"
        if self.kind == "classes":
            return "a class spec such as critical:0.05:1.5x,bulk:0.95, a .json class file, or empty"
        if self.type is bool:
            return "true or false"
        if self.type in (int, float):
            word = "an int" if self.type is int else "a number"
            lo = None if self.low is None else (f"> {self.low:g}" if self.low_open else f">= {self.low:g}")
            hi = None if self.high is None else f"<= {self.high:g}"
            rng = " and ".join(x for x in (lo, hi) if x)
            return f"{word}{' ' + rng if rng else ''} ({self.help})"
        return "a string"


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(sec, f.name, {"str": str, "int": int, "float": float, "bool": bool}[f.type] if isinstance(f.type, str)
            else f.type, f.default, f.metadata["help"], f.metadata["flag"], f.metadata["kind"],
            f.metadata["choices"], f.metadata["low"], f.metadata["high"], f.metadata["low_open"])
    for sec, cls in _SECTIONS.items() for f in dataclasses.fields(cls))
_BY_NAME = {s.name: s for s in SETTINGS}


class _Invalid(Exception):
    pass


def _value(s: Setting, value):
    """The checked value of setting ``s`` (raises _Invalid)."""
    if s.type is bool:
        if not isinstance(value, bool):
            raise _Invalid
        return value
    if s.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid
    elif s.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Invalid
        value = float(value)
    elif not isinstance(value, str):
        raise _Invalid
    if s.type in (int, float):
        if s.low is not None and (value < s.low or (s.low_open and value == s.low)):
            raise _Invalid
        if s.high is not None and value > s.high:
            raise _Invalid
        return value
    value = value.strip()
    if s.choices and value not in s.choices:
        raise _Invalid
    if s.kind == "estimator" and value.lower().replace("-", "_") not in available_estimators():
        raise _Invalid
    if s.kind == "forecaster" and value not in available_forecasters():
        raise _Invalid
    if s.kind == "detector" and value not in available_detectors() + [NO_DETECTOR]:
        raise _Invalid
    if s.kind == "policy" and value not in policy_names():
        raise _Invalid
    if s.kind == "duration":
        d = duration_seconds(value)
        if not (math.isfinite(d) and d > 0):
            raise _Invalid
    if s.kind == "duration0":
        d = duration_seconds(value) if value not in ("0", "") else 0.0
        if not (math.isfinite(d) and d >= 0):
            raise _Invalid
    if s.kind == "time" and value:
        try:
            t = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise _Invalid from None
        if t is pd.NaT:
            raise _Invalid
    if s.kind == "classes" and value:
        try:
            ClassConfig.from_spec(value)
        except SurgeguardError as err:
            raise _Invalid(str(err)) from None
    return value


def _shown(v) -> str:
    return json.dumps(v) if isinstance(v, (str, bool)) else repr(v)


# ---------------------------------------------------------------------------------------------- the config
@dataclass(frozen=True)
class RunConfig:
    """The whole configuration, one typed section per TOML table (defaults everywhere)."""

    network: NetworkSettings = field(default_factory=NetworkSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    controller: ControllerSettings = field(default_factory=ControllerSettings)
    estimate: EstimateSettings = field(default_factory=EstimateSettings)
    forecast: ForecastSettings = field(default_factory=ForecastSettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    #: where the values came from (the file, if any), for messages
    source: str = ""

    # ------------------------------------------------------------------ access
    def get(self, name: str):
        """The value of ``section.key``."""
        sec, key = name.split(".", 1)
        return getattr(getattr(self, sec), key)

    def to_dict(self) -> dict:
        """``{section: {key: value}}`` (JSON- and TOML-ready)."""
        return {sec: dataclasses.asdict(getattr(self, sec)) for sec in _SECTIONS}

    def to_toml(self) -> str:
        """The configuration as TOML text (every key, with its meaning as a comment)."""
        lines = []
        for sec in _SECTIONS:
            lines.append(f"[{sec}]")
            for s in SETTINGS:
                if s.section == sec:
                    lines.append(f"{s.key} = {_shown(self.get(s.name))}  # {s.help}")
            lines.append("")
        return "\n".join(lines)

    @property
    def step_seconds(self) -> float:
        return duration_seconds(self.controller.step)

    @property
    def history_seconds(self) -> float:
        h = self.controller.history.strip()
        return 0.0 if h in ("", "0") else duration_seconds(h)

    # ------------------------------------------------------------------ changes
    def replace(self, values: Mapping[str, Any], *, where: str = "flag") -> "RunConfig":
        """A copy with ``{"section.key": value}`` set (None values are skipped), each checked;
        ``where='flag'`` words errors by the flag (``option --k ...``), ``'python'`` by the key."""
        changes: dict[str, dict] = {}
        for name, v in values.items():
            if v is None:
                continue
            s = _BY_NAME.get(name)
            if s is None:
                raise ValidationError(f"unknown setting {name!r}; settings are {', '.join(_BY_NAME)}")
            try:
                v = _value(s, v)
            except _Invalid as err:
                detail = f" ({err})" if str(err) else ""
                if where == "flag":
                    raise OptionError(f"option {s.flag_name} must be {s.need()}; got {_shown(v)}{detail}") from None
                raise ValidationError(f"setting {s.name} = {_shown(v)} must be {s.need()}{detail}") from None
            changes.setdefault(s.section, {})[s.key] = v
        out = self
        for sec, kv in changes.items():
            out = dataclasses.replace(out, **{sec: dataclasses.replace(getattr(out, sec), **kv)})
        return out.check()

    def check(self) -> "RunConfig":
        """Checks across keys (one-line errors naming them)."""
        where = f"config {self.source}: " if self.source else ""
        t = self.telemetry
        if t.source == "file" and not t.file:
            raise ValidationError(f"{where}[telemetry] source = \"file\" needs [telemetry] file (a counter or rate "
                                  "file); set it or use source = \"prometheus\"")
        if self.controller.retry_max < self.controller.retry_initial:
            raise ValidationError(f"{where}[controller] retry_max = {self.controller.retry_max!r} is below "
                                  f"retry_initial = {self.controller.retry_initial!r}; make it at least that")
        pc = self.policy
        if pc.model and not policy_accepts(pc.name, "model"):
            raise ValidationError(f"{where}[policy] model = {pc.model!r} is given but policy {pc.name!r} takes no "
                                  "model; use name = \"learned\" or \"hedge\", or leave model empty")
        if pc.model and not Path(pc.model).is_file():
            raise ValidationError(f"{where}[policy] model = {pc.model!r} not found; give the path of a model "
                                  "written by `surgeguard train`")
        return self


def load_config(path=None, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """The configuration in the TOML file ``path`` (None: the defaults), then ``overrides``
    (``{"section.key": value}`` from the command line's flags; None values are skipped)."""
    cfg = RunConfig()
    if path is not None:
        p = Path(path)
        label = str(path)
        try:
            with open(p, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise InputError(f"config file {label!r} does not exist; give an existing TOML file") from None
        except IsADirectoryError:
            raise InputError(f"config file {label!r} is a folder; give a TOML file") from None
        except OSError as err:
            raise InputError(f"config file {label!r} cannot be read ({err.strerror}); check its permissions") from None
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"config file {label!r} is not valid TOML ({err}); fix the syntax") from None
        except UnicodeDecodeError:
            raise InputError(f"config file {label!r} is not UTF-8 text; give a TOML file") from None
        values = {}
        for sec, table in doc.items():
            if sec not in _SECTIONS:
                raise InputError(f"config {label}: unknown section [{sec}]; sections are "
                                 f"{', '.join(f'[{s}]' for s in _SECTIONS)}")
            if not isinstance(table, dict):
                raise InputError(f"config {label}: {sec} = {_shown(table)} must be a table [{sec}] of keys")
            keys = [s.key for s in SETTINGS if s.section == sec]
            for key, v in table.items():
                if key not in keys:
                    raise InputError(f"config {label}: unknown key [{sec}] {key}; keys of [{sec}] are {', '.join(keys)}")
                s = _BY_NAME[f"{sec}.{key}"]
                try:
                    values[s.name] = _value(s, v)
                except _Invalid as err:
                    detail = f" ({err})" if str(err) else ""
                    raise InputError(f"config {label}: [{sec}] {key} = {_shown(v)} must be {s.need()}{detail}; fix it "
                                     f"or remove the key (default {_shown(s.default)})") from None
        cfg = dataclasses.replace(cfg, source=label).replace(values, where="python")
    return cfg.replace(dict(overrides or {}), where="flag")
