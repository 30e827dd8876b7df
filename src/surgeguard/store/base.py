"""The store interface: what a controller keeps, interval by interval, and how it reads it back.

A :class:`Store` holds one history of a watched network: the runs of the controller, and per
interval (named by its start ``ds``, UTC) the measured link rates and node totals, the estimated
traffic matrix, the forecasts made, the alerts raised, the routing decided (policy, predicted MLU,
certified bound, fallback status, the splits) and the seconds each stage took. The tables and
their units are in :mod:`surgeguard.store.schema`.

Writing: :meth:`Store.write_interval` checks every input first (one-line
:class:`~surgeguard.ValidationError`\\ s naming the field), then stores all of the interval's rows
in **one transaction**, replacing whatever that interval held before (writing it twice leaves it
once). When it returns, the interval is durable: a controller logs "stored" only after it
returns, so a process killed at any moment (``kill -9``) loses no interval it had logged, and
never leaves half of one. A restarted controller resumes at :meth:`Store.last_interval` plus
its step.

Reading: long frames per table (:meth:`Store.read` and the named readers), filtered by interval
(``start <= ds < end``, naive times are UTC) and paged by ``limit``/``offset`` in a stable order,
plus numpy helpers (:meth:`Store.estimate_matrix`, :meth:`Store.estimate_series`,
:meth:`Store.link_rate_array`).

:class:`~surgeguard.store.DuckDBStore` is the one implementation (an embedded file). A server
database (PostgreSQL, for several controllers sharing one history) would implement the abstract
methods: :meth:`~Store.commit_interval`, :meth:`~Store.read`, :meth:`~Store.count`,
:meth:`~Store.last_interval`, :meth:`~Store.start_run`, :meth:`~Store.verify`,
:meth:`~Store.migrate`, :attr:`~Store.schema_version`, :meth:`~Store.export_parquet` and
:meth:`~Store.close`; the checks and conversions here are shared.
"""

from __future__ import annotations

import abc
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..io.common import one_line
from ..io.output import json_text
from ..traffic import TrafficSeries
from ..units import MAX_RATE_BPS
from .schema import INTERVAL_TABLES, TABLES

__all__ = ["Store", "MatrixRecord", "Decision", "IntervalRows", "Stored", "DECISION_STATUSES", "ALERT_DIRECTIONS",
           "interval_rows", "utc_time", "splits_frame"]

#: the values of ``decisions.status``: the configured policy's routing, or a fallback (the last
#: good routing, shortest paths) taken for the ``reason`` given
DECISION_STATUSES = ("ok", "fallback")
#: the values of ``alerts.direction`` (as :class:`surgeguard.detect.Alert`)
ALERT_DIRECTIONS = ("total", "in", "out")
#: a lower bound may exceed the MLU by this relative amount (solver tolerances), no more
BOUND_RTOL = 1e-6
#: split weights of one OD pair must sum to 1 within this
SPLIT_ATOL = 1e-6


# ---------------------------------------------------------------------------------------------- records
@dataclass(frozen=True, eq=False)
class MatrixRecord:
    """A traffic matrix to store: an estimate (one ``(N, N)`` matrix) or a forecast (``(H, N, N)``
    matrices for the UTC ``times`` they predict), in bit/s.

    Parameters
    ----------
    values : ``(N, N)`` or ``(H, N, N)`` bit/s, finite and >= 0; rows are sources, columns
        destinations, in ``nodes`` order. Zero entries are not stored (they read back as 0).
    nodes : the N node names.
    method : the estimation method or forecasting model.
    residual : an estimate's fit residual (relative L2 misfit of the link loads it reproduces,
        ``||R x - y|| / ||y||``), NaN when unknown; unused for forecasts.
    times : the H predicted interval starts of a forecast (naive = UTC); None for an estimate.
    """

    values: Any
    nodes: Sequence[str]
    method: str
    residual: float = float("nan")
    times: Any = None


@dataclass(frozen=True, eq=False)
class Decision:
    """The routing decided for an interval.

    Parameters
    ----------
    policy : the policy whose routing this is (for a fallback, the routing actually used, e.g.
        ``'shortest'``).
    mlu : predicted maximum link utilisation (fraction of capacity) on the predicted matrix; NaN
        when not computed.
    lower_bound : certified lower bound on the best achievable MLU for that matrix; NaN when none.
    status : one of :data:`DECISION_STATUSES`.
    reason : why a fallback was taken (required for ``'fallback'``).
    splits : long frame ``src, dst, path, nodes, links, weight`` (see :func:`splits_frame`); None
        for no splits.
    info : solver facts; scalars are kept (JSON), arrays dropped.
    """

    policy: str
    mlu: float = float("nan")
    lower_bound: float = float("nan")
    status: str = "ok"
    reason: str = ""
    splits: pd.DataFrame | None = None
    info: Mapping = field(default_factory=dict)

    @classmethod
    def from_routing(cls, routing, *, status: str = "ok", reason: str = "", mlu: float | None = None,
                     lower_bound: float | None = None) -> "Decision":
        """From a :class:`~surgeguard.routing.Routing`: its policy, ``info['mlu']`` and
        ``info['lower_bound']`` (unless given), and its non-zero splits."""
        info = dict(getattr(routing, "info", {}) or {})
        mlu = info.get("mlu", float("nan")) if mlu is None else mlu
        lower_bound = info.get("lower_bound", float("nan")) if lower_bound is None else lower_bound
        return cls(policy=str(routing.policy), mlu=_num_or_nan(mlu), lower_bound=_num_or_nan(lower_bound),
                   status=status, reason=reason, splits=splits_frame(routing), info=info)


@dataclass(frozen=True, eq=False)
class IntervalRows:
    """An interval's checked rows, one frame per table of :data:`~surgeguard.store.schema.INTERVAL_TABLES`
    (columns as the table's, ``ds`` UTC), ready for :meth:`Store.commit_interval`."""

    ds: pd.Timestamp
    run: int | None
    stages: dict[str, float]
    stale: tuple[str, ...]
    frames: dict[str, pd.DataFrame]

    @property
    def counts(self) -> dict[str, int]:
        return {t: len(self.frames[t]) for t in INTERVAL_TABLES}


@dataclass(frozen=True)
class Stored:
    """What :meth:`Store.write_interval` returns once the interval is committed: its ``ds``, the
    UTC time of the write (``acknowledged_at``) and the rows it holds per table."""

    ds: pd.Timestamp
    acknowledged_at: pd.Timestamp
    rows: dict[str, int]

    def __str__(self) -> str:
        return f"stored {iso(self.ds)} ({sum(self.rows.values())} rows)"


# ---------------------------------------------------------------------------------------------- times
def iso(t: pd.Timestamp) -> str:
    """``2020-03-20T10:05:00Z`` for a UTC timestamp."""
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def _parse_time(v) -> tuple[pd.Timestamp, bool]:
    if v is None or isinstance(v, (bool, np.bool_, numbers.Number)):
        raise ValueError("not a time")
    t = pd.Timestamp(v.strip() if isinstance(v, str) else v)
    if t is pd.NaT:
        raise ValueError("empty")
    aware = t.tzinfo is not None
    t = t.tz_convert("UTC") if aware else t.tz_localize("UTC")
    return t.as_unit("ns").floor("us"), aware


def utc_time(value, what: str = "time") -> pd.Timestamp:
    """One UTC timestamp (naive = UTC), floored to the microsecond (the store's resolution).

    >>> utc_time("2020-03-20 10:05"), utc_time("2020-03-20T11:05+01:00")
    (Timestamp('2020-03-20 10:05:00+0000', tz='UTC'), Timestamp('2020-03-20 10:05:00+0000', tz='UTC'))
    """
    try:
        return _parse_time(value)[0]
    except (ValueError, TypeError, OverflowError):
        raise ValidationError(f"{what} {value!r} is not a time; use ISO times such as 2020-03-20T10:05:00Z") from None


def _times(values, field: str, where: str) -> tuple[pd.DatetimeIndex, set]:
    """UTC times of a column (floored to µs) and the set of awareness flags it holds."""
    if isinstance(values, (pd.DatetimeIndex, pd.Series)) and values.dtype.kind == "M":
        idx = pd.DatetimeIndex(values)
        aware = idx.tz is not None
        idx = idx.tz_convert("UTC") if aware else idx.tz_localize("UTC")
        if idx.hasnans:
            k = int(np.flatnonzero(idx.isna())[0])
            raise ValidationError(f"{where}: {field} is empty in row {k + 1}; give every row a time")
        return idx.as_unit("ns").floor("us"), {aware}
    arr = np.asarray(values.to_numpy(object) if isinstance(values, (pd.Series, pd.Index)) else values,
                     dtype=object).ravel()
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    if (codes < 0).any():
        k = int(np.flatnonzero(codes < 0)[0])
        raise ValidationError(f"{where}: {field} is empty in row {k + 1}; give every row a time")
    stamps = np.empty(len(uniques), dtype=np.int64)
    flags = set()
    for u, v in enumerate(uniques):
        try:
            t, aware = _parse_time(v)
        except (ValueError, TypeError, OverflowError):
            k = int(np.flatnonzero(codes == u)[0])
            raise ValidationError(f"{where}: {field} {v!r} in row {k + 1} is not a time; use ISO times such as "
                                  "2020-03-20T10:05:00Z") from None
        stamps[u] = t.value
        flags.add(aware)
    return pd.DatetimeIndex(stamps[codes].view("datetime64[ns]")).tz_localize("UTC"), flags


# ---------------------------------------------------------------------------------------------- checks
def _num_or_nan(x) -> float:
    if x is None:
        return float("nan")
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _floats(values, field: str, where: str, unit: str) -> np.ndarray:
    try:
        return np.asarray(pd.to_numeric(pd.Series(values, dtype=object), errors="raise"), dtype=float) \
            if not isinstance(values, np.ndarray) or values.dtype == object else np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{where}: {field} must be numbers in {unit} ({one_line(err)})") from None


def _check_range(v: np.ndarray, field: str, where: str, label, *, nan_ok: bool, low: float = 0.0,
                 high: float = MAX_RATE_BPS, unit: str = "bit/s") -> None:
    """Refuse NaN (unless ``nan_ok``), infinities and values outside ``[low, high]``;
    ``label(k)`` names row ``k`` in the message."""
    with np.errstate(invalid="ignore"):
        bad = np.isinf(v) | (v < low) | (v > high)
        if not nan_ok:
            bad |= np.isnan(v)
    if not bad.any():
        return
    k = int(np.flatnonzero(bad)[0])
    x = float(v[k])
    kind = ("NaN" if math.isnan(x) else "infinite" if math.isinf(x) else "negative" if x < 0 <= low
            else "out of range")
    allowed = f"a number in [{low:g}, {high:g}] {unit}" + (" (NaN when unknown)" if nan_ok else "")
    raise ValidationError(f"{where}: {field} is {kind} ({x!r}) for {label(k)}; it must be {allowed}")


def _names(values, field: str, where: str) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for k, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()):
            raise ValidationError(f"{where}: {field} is empty in row {k + 1}; give every row a name")
        out[k] = v if isinstance(v, str) else str(v)
    return out


def _unique(frame: pd.DataFrame, keys: list[str], field: str, where: str) -> None:
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())[:2]
        key = ", ".join(f"{c}={frame[c].iloc[rows[0]]}" for c in keys if c != "ds")
        raise ValidationError(f"{where}: {field} has repeated rows {rows[0] + 1} and {rows[1] + 1} ({key}); "
                              "give each once")


def _text(v, field: str, where: str, *, empty_ok: bool = False) -> str:
    if not isinstance(v, str) or (not empty_ok and not v.strip()):
        raise ValidationError(f"{where}: {field} must be a {'' if empty_ok else 'non-empty '}string, got {v!r}")
    return v


def _frame(obj, field: str, where: str, columns: Sequence[str], optional: Sequence[str] = ()) -> pd.DataFrame:
    if not isinstance(obj, pd.DataFrame):
        raise ValidationError(f"{where}: {field} must be a data frame with columns {', '.join(columns)}, "
                              f"got {type(obj).__name__}")
    missing = [c for c in columns if c not in obj.columns]
    if missing:
        raise ValidationError(f"{where}: {field} lacks column(s) {', '.join(missing)} (has "
                              f"{', '.join(map(str, obj.columns))}); give {', '.join(columns)}"
                              + (f" and optionally {', '.join(optional)}" if optional else ""))
    return obj.reset_index(drop=True)


class _Times:
    """Collects the awareness of every time given for one interval (a naive/aware mix is refused)."""

    def __init__(self, ds_aware: bool, where: str):
        self.ds_aware, self.where = ds_aware, where

    def check(self, flags: set, field: str) -> None:
        if len(flags) > 1:
            raise ValidationError(f"{self.where}: {field} mixes naive and time-zone-aware times; give every time "
                                  "of an interval with a time zone (UTC) or every time naive (taken as UTC)")
        if flags and flags != {self.ds_aware}:
            have, other = ("time-zone-aware", "naive") if not self.ds_aware else ("naive", "time-zone-aware")
            raise ValidationError(f"{self.where}: {field} has {have} times but ds is {other}; give every time of "
                                  "an interval with a time zone (UTC) or every time naive (taken as UTC)")

    def same_ds(self, values, ds: pd.Timestamp, field: str) -> None:
        """A ``ds`` column given with a table's rows must name this interval."""
        idx, flags = _times(values, field, self.where)
        self.check(flags, field)
        other = idx != ds
        if other.any():
            k = int(np.flatnonzero(other)[0])
            raise ValidationError(f"{self.where}: {field} has rows for {iso(idx[k])} (row {k + 1}); write one "
                                  "interval at a time")


def _row_at(times, ds: pd.Timestamp, field: str, where: str, checker: _Times) -> int:
    idx, flags = _times(times, f"{field}.times", where)
    checker.check(flags, f"{field}.times")
    pos = np.flatnonzero(idx == ds)
    if not len(pos):
        span = f"{iso(idx[0])} to {iso(idx[-1])}" if len(idx) else "no times"
        raise ValidationError(f"{where}: {field} has no row for this interval (it holds {span}); give the "
                              "interval's rates")
    return int(pos[0])


# ---------------------------------------------------------------------------------------------- per table
def _link_rates(obj, ds, stale: set, where: str, times: _Times) -> pd.DataFrame:
    f = "link_rates"
    if hasattr(obj, "links") and hasattr(obj, "bps") and hasattr(obj, "times"):  # a LinkLoads
        k = _row_at(obj.times, ds, f, where, times)
        df = pd.DataFrame({"link": list(obj.links), "bps": np.asarray(obj.bps, dtype=float)[k]})
    elif isinstance(obj, (Mapping, pd.Series)):
        items = list(obj.items())
        df = pd.DataFrame({"link": [k for k, _ in items], "bps": [v for _, v in items]}, columns=["link", "bps"])
    else:
        if isinstance(obj, pd.DataFrame) and "link" not in obj.columns and {"src", "dst"} <= set(obj.columns):
            obj = obj.assign(link=obj["src"].astype(str) + "->" + obj["dst"].astype(str))
        df = _frame(obj, f, where, ["link", "bps"], ["stale", "ds"])
        if "ds" in df.columns:
            times.same_ds(df["ds"], ds, f"{f}.ds")
    link = _names(df["link"].tolist(), f"{f}.link", where)
    bps = _floats(df["bps"].to_numpy(), f"{f}.bps", where, "bit/s")
    _check_range(bps, f"{f}.bps", where, lambda k: f"link {link[k]!r}", nan_ok=True)
    if "stale" in df.columns:
        st = df["stale"].to_numpy()
        if not all(isinstance(x, (bool, np.bool_)) for x in st):
            raise ValidationError(f"{where}: {f}.stale must be true/false per row")
        st = st.astype(bool)
    else:
        st = np.zeros(len(df), dtype=bool)
    st = st | np.fromiter((x in stale for x in link), dtype=bool, count=len(link))
    out = pd.DataFrame({"ds": ds, "link": link, "bps": bps, "stale": st})
    _unique(out, ["link"], f, where)
    return out


def _node_totals(obj, ds, where: str, times: _Times) -> pd.DataFrame:
    f = "node_totals"
    if hasattr(obj, "nodes") and hasattr(obj, "ingress") and hasattr(obj, "times"):  # a LinkLoads
        if obj.ingress is None:
            return _empty("node_totals")
        k = _row_at(obj.times, ds, f, where, times)
        df = pd.DataFrame({"node": list(obj.nodes), "ingress_bps": np.asarray(obj.ingress, float)[k],
                           "egress_bps": np.asarray(obj.egress, float)[k]})
    else:
        df = _frame(obj, f, where, ["node", "ingress_bps", "egress_bps"], ["ds"])
        if "ds" in df.columns:
            times.same_ds(df["ds"], ds, f"{f}.ds")
    node = _names(df["node"].tolist(), f"{f}.node", where)
    cols = {}
    for c in ("ingress_bps", "egress_bps"):
        v = _floats(df[c].to_numpy(), f"{f}.{c}", where, "bit/s")
        _check_range(v, f"{f}.{c}", where, lambda k: f"node {node[k]!r}", nan_ok=True)
        cols[c] = v
    out = pd.DataFrame({"ds": ds, "node": node, **cols})
    _unique(out, ["node"], f, where)
    return out


def _matrix_frame(values, nodes, field: str, where: str, ndim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index tuple of non-zero entries, their values, node names) of a checked matrix stack."""
    if isinstance(nodes, (str, bytes)):
        raise ValidationError(f"{where}: {field}.nodes must be a list of names, got the string {nodes!r}")
    names = _names(list(nodes), f"{field}.nodes", where)
    if len(set(names)) != len(names):
        raise ValidationError(f"{where}: {field}.nodes repeats a name; give each node once")
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{where}: {field}.values must be numbers in bit/s ({one_line(err)})") from None
    n = len(names)
    want = (n, n) if ndim == 2 else (None, n, n)
    if v.ndim != ndim or v.shape[-2:] != (n, n):
        raise ValidationError(f"{where}: {field}.values has shape {v.shape}, expected "
                              f"{tuple('H' if s is None else s for s in want)} for {n} nodes")
    flat = v.ravel()

    def label(k):
        pos = np.unravel_index(k, v.shape)
        pre = f"step {pos[0]}, " if ndim == 3 else ""
        return f"{pre}{names[pos[-2]]}->{names[pos[-1]]}"
    _check_range(flat, f"{field}.values", where, label, nan_ok=False)
    idx = np.nonzero(v)
    return idx, v[idx], names


def _estimate(obj, ds, where: str, times: _Times) -> pd.DataFrame:
    f = "estimate"
    if isinstance(obj, TrafficSeries):
        if obj.classes is not None:
            raise ValidationError(f"{where}: {f} has traffic classes; store the aggregate matrix")
        k = _row_at(obj.times, ds, f, where, times)
        obj = MatrixRecord(obj.values[k], obj.nodes, str(obj.meta.get("method", obj.name)),
                           _num_or_nan(obj.meta.get("residual")))
    if isinstance(obj, MatrixRecord):
        method = _text(obj.method, f"{f}.method", where)
        idx, vals, names = _matrix_frame(obj.values, obj.nodes, f, where, 2)
        residual = _num_or_nan(obj.residual)
        out = pd.DataFrame({"ds": ds, "src": names[idx[0]], "dst": names[idx[1]], "bps": vals, "method": method,
                            "residual": residual})
    else:
        df = _frame(obj, f, where, ["src", "dst", "bps", "method"], ["residual", "ds"])
        if "ds" in df.columns:
            times.same_ds(df["ds"], ds, f"{f}.ds")
        src = _names(df["src"].tolist(), f"{f}.src", where)
        dst = _names(df["dst"].tolist(), f"{f}.dst", where)
        method = _names(df["method"].tolist(), f"{f}.method", where)
        bps = _floats(df["bps"].to_numpy(), f"{f}.bps", where, "bit/s")
        _check_range(bps, f"{f}.bps", where, lambda k: f"{src[k]}->{dst[k]}", nan_ok=False)
        residual = (_floats(df["residual"].to_numpy(), f"{f}.residual", where, "")
                    if "residual" in df.columns else np.full(len(df), np.nan))
        out = pd.DataFrame({"ds": ds, "src": src, "dst": dst, "bps": bps, "method": method, "residual": residual})
        out = out[out["bps"] > 0].reset_index(drop=True)
    if out["method"].nunique() > 1:
        raise ValidationError(f"{where}: {f} mixes methods {sorted(out['method'].unique())[:3]}; store one estimate "
                              "per interval")
    res = out["residual"].to_numpy(dtype=float)
    _check_range(res, f"{f}.residual", where, lambda k: f"{out['src'][k]}->{out['dst'][k]}", nan_ok=True,
                 high=math.inf, unit="(relative misfit)")
    _unique(out, ["src", "dst"], f, where)
    return out


def _forecast(obj, ds, where: str, times: _Times) -> pd.DataFrame:
    f = "forecast"
    if isinstance(obj, TrafficSeries):
        if obj.classes is not None:
            raise ValidationError(f"{where}: {f} has traffic classes; store the aggregate matrices")
        obj = MatrixRecord(obj.values, obj.nodes, str(obj.meta.get("model", obj.name)), times=obj.times)
    if isinstance(obj, MatrixRecord):
        model = _text(obj.method, f"{f}.method", where)
        idx, vals, names = _matrix_frame(obj.values, obj.nodes, f, where, 3)
        if obj.times is None:
            raise ValidationError(f"{where}: {f}.times is missing; give the interval each forecast matrix predicts")
        target, flags = _times(obj.times, f"{f}.times", where)
        times.check(flags, f"{f}.times")
        h = np.asarray(obj.values).shape[0]
        if len(target) != h:
            raise ValidationError(f"{where}: {f} has {len(target)} times for {h} matrices")
        if len(set(target.asi8)) != len(target):
            raise ValidationError(f"{where}: {f}.times repeats a time; give each predicted interval once")
        out = pd.DataFrame({"made_at": ds, "ds": target[idx[0]], "src": names[idx[1]], "dst": names[idx[2]],
                            "bps": vals, "model": model})
    else:
        df = _frame(obj, f, where, ["ds", "src", "dst", "bps", "model"], ["made_at"])
        if "made_at" in df.columns:
            times.same_ds(df["made_at"], ds, f"{f}.made_at")
        target, flags = _times(df["ds"], f"{f}.ds", where)
        times.check(flags, f"{f}.ds")
        src = _names(df["src"].tolist(), f"{f}.src", where)
        dst = _names(df["dst"].tolist(), f"{f}.dst", where)
        model = _names(df["model"].tolist(), f"{f}.model", where)
        bps = _floats(df["bps"].to_numpy(), f"{f}.bps", where, "bit/s")
        _check_range(bps, f"{f}.bps", where, lambda k: f"{iso(target[k])} {src[k]}->{dst[k]}", nan_ok=False)
        out = pd.DataFrame({"made_at": ds, "ds": target, "src": src, "dst": dst, "bps": bps, "model": model})
        out = out[out["bps"] > 0].reset_index(drop=True)
    _unique(out, ["ds", "src", "dst", "model"], f, where)
    return out


def _alerts(obj, ds, where: str, times: _Times) -> pd.DataFrame:
    f = "alerts"
    if isinstance(obj, pd.DataFrame):
        df = obj.reset_index(drop=True)
        if "time" not in df.columns and "ds" in df.columns:
            df = df.rename(columns={"ds": "time"})
        df = _frame(df, f, where, ["time", "place", "direction", "shift", "detector"], ["score", "kind"])
        if "score" not in df.columns:
            df = df.assign(score=np.nan)
        if "kind" not in df.columns:
            df = df.assign(kind="level")
    else:
        if isinstance(obj, (str, bytes)) or not isinstance(obj, Iterable):
            raise ValidationError(f"{where}: {f} must be a list of Alert objects or a data frame, got "
                                  f"{type(obj).__name__}")
        rows = []
        for k, a in enumerate(obj):
            try:
                rows.append({"time": a.time, "place": a.place, "direction": a.direction, "shift": a.shift,
                             "detector": a.detector, "score": getattr(a, "score", float("nan")),
                             "kind": getattr(a, "kind", "level")})
            except AttributeError:
                raise ValidationError(f"{where}: {f}[{k}] is a {type(a).__name__}, not an Alert (time, place, "
                                      "direction, shift, detector, score)") from None
        df = pd.DataFrame(rows, columns=["time", "place", "direction", "shift", "detector", "score", "kind"])
    t, flags = _times(df["time"], f"{f}.time", where)
    times.check(flags, f"{f}.time")
    place = _names(df["place"].tolist(), f"{f}.place", where)
    direction = _names(df["direction"].tolist(), f"{f}.direction", where)
    bad = [d for d in direction if d not in ALERT_DIRECTIONS]
    if bad:
        raise ValidationError(f"{where}: {f}.direction {bad[0]!r} is not one of {', '.join(ALERT_DIRECTIONS)}")
    detector = _names(df["detector"].tolist(), f"{f}.detector", where)
    shift = _floats(df["shift"].to_numpy(), f"{f}.shift", where, "")
    _check_range(shift, f"{f}.shift", where, lambda k: f"{place[k]} {direction[k]}", nan_ok=False, low=-math.inf,
                 high=math.inf, unit="(relative shift)")
    score = _floats(df["score"].to_numpy(), f"{f}.score", where, "")
    _check_range(score, f"{f}.score", where, lambda k: f"{place[k]} {direction[k]}", nan_ok=True, low=-math.inf,
                 high=math.inf, unit="(detector statistic)")
    kind = _names(df["kind"].tolist(), f"{f}.kind", where)
    out = pd.DataFrame({"ds": ds, "time": t, "place": place, "direction": direction, "shift": shift, "score": score,
                        "detector": detector, "kind": kind})
    _unique(out, ["time", "place", "direction", "detector"], f, where)
    return out


def splits_frame(routing) -> pd.DataFrame:
    """The non-zero splits of a :class:`~surgeguard.routing.Routing` as a long frame
    ``src, dst, path, nodes, links, weight``: ``path`` is the index among the OD pair's
    candidate paths (0 = its first), ``nodes`` and ``links`` the names along it, ``weight`` the
    fraction of the OD's demand it carries."""
    ps = routing.paths
    s = np.asarray(routing.splits, dtype=float)
    nz = np.flatnonzero(s > 0)
    od = ps.path_od[nz]
    node_names = np.asarray(ps.node_names, dtype=object)
    link_names = np.asarray(ps.link_names, dtype=object)
    starts, ends = ps.link_ptr[nz], ps.link_ptr[nz + 1]
    link_src = ps.meta.get("_link_src")
    link_dst = ps.meta.get("_link_dst")
    links, nodes = [], []
    for p, a, b in zip(nz, starts, ends):
        li = ps.link_idx[a:b]
        links.append(link_names[li].tolist())
        if link_src is not None and link_dst is not None and len(li):
            nodes.append([node_names[link_src[li[0]]]] + node_names[np.asarray(link_dst)[li]].tolist())
        else:
            nodes.append(list(ps.path_nodes(int(p))))
    return pd.DataFrame({"src": node_names[ps.od_src[od]], "dst": node_names[ps.od_dst[od]],
                         "path": (nz - ps.od_ptr[od]).astype(np.int64), "nodes": nodes, "links": links,
                         "weight": s[nz]})


def _scalar_info(info: Mapping) -> dict:
    out = {}
    for k, v in dict(info or {}).items():
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or isinstance(v, (str, bool, int, float)):
            out[str(k)] = v
    return out


def _decision(obj, ds, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    f = "decision"
    if not isinstance(obj, Decision):
        if hasattr(obj, "paths") and hasattr(obj, "splits"):  # a Routing
            obj = Decision.from_routing(obj)
        else:
            raise ValidationError(f"{where}: {f} must be a Decision or a Routing, got {type(obj).__name__}")
    policy = _text(obj.policy, f"{f}.policy", where)
    status = _text(obj.status, f"{f}.status", where)
    if status not in DECISION_STATUSES:
        raise ValidationError(f"{where}: {f}.status {status!r} is not one of {', '.join(DECISION_STATUSES)}")
    reason = _text(obj.reason, f"{f}.reason", where, empty_ok=True)
    if status == "fallback" and not reason.strip():
        raise ValidationError(f"{where}: {f}.reason is empty for a fallback; say why the fallback was taken")
    vals = {}
    for name in ("mlu", "lower_bound"):
        v = getattr(obj, name)
        if v is not None and (isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.number))):
            raise ValidationError(f"{where}: {f}.{name} must be a number, got {v!r}")
        x = _num_or_nan(v)
        _check_range(np.array([x]), f"{f}.{name}", where, lambda k: f"policy {policy!r}", nan_ok=True,
                     high=math.inf, unit="(fraction of capacity)")
        vals[name] = x
    if not math.isnan(vals["mlu"]) and not math.isnan(vals["lower_bound"]) \
            and vals["lower_bound"] > vals["mlu"] * (1 + BOUND_RTOL) + 1e-12:
        raise ValidationError(f"{where}: {f}.lower_bound {vals['lower_bound']!r} exceeds the predicted MLU "
                              f"{vals['mlu']!r}; a certified lower bound cannot exceed an achieved MLU")
    dec = pd.DataFrame({"ds": [ds], "policy": [policy], "mlu": [vals["mlu"]], "lower_bound": [vals["lower_bound"]],
                        "status": [status], "reason": [reason], "info": [json_text(_scalar_info(obj.info))]})
    if obj.splits is None:
        return dec, _empty("splits")
    sf = "decision.splits"
    df = _frame(obj.splits, sf, where, ["src", "dst", "path", "nodes", "links", "weight"])
    src = _names(df["src"].tolist(), f"{sf}.src", where)
    dst = _names(df["dst"].tolist(), f"{sf}.dst", where)
    path = _floats(df["path"].to_numpy(), f"{sf}.path", where, "")
    if (np.isnan(path) | (path < 0) | (path != np.round(path))).any():
        k = int(np.flatnonzero(np.isnan(path) | (path < 0) | (path != np.round(path)))[0])
        raise ValidationError(f"{where}: {sf}.path is {path[k]!r} for {src[k]}->{dst[k]}; it must be an int >= 0")
    weight = _floats(df["weight"].to_numpy(), f"{sf}.weight", where, "")
    _check_range(weight, f"{sf}.weight", where, lambda k: f"{src[k]}->{dst[k]} path {int(path[k])}", nan_ok=False,
                 high=1.0, unit="(fraction of the OD's demand)")
    lists = {}
    for c in ("nodes", "links"):
        col = []
        for k, v in enumerate(df[c].tolist()):
            if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple, np.ndarray)):
                raise ValidationError(f"{where}: {sf}.{c} in row {k + 1} must be a list of names, got {v!r}")
            col.append([str(x) for x in v])
        lists[c] = col
    out = pd.DataFrame({"ds": ds, "src": src, "dst": dst, "path": path.astype(np.int64), **lists, "weight": weight})
    _unique(out, ["src", "dst", "path"], sf, where)
    if len(out):
        sums = out.groupby(["src", "dst"], sort=False)["weight"].sum()
        off = np.abs(sums.to_numpy() - 1.0) > SPLIT_ATOL
        if off.any():
            (a, b), tot = sums.index[int(np.flatnonzero(off)[0])], sums.to_numpy()[int(np.flatnonzero(off)[0])]
            raise ValidationError(f"{where}: {sf}.weight of {a}->{b} sums to {tot:.9g}, not 1; give every path "
                                  "of an OD pair that carries traffic, weights summing to 1")
    return dec, out


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in TABLES[table].column_names})


def interval_rows(ds, *, run=None, link_rates=None, node_totals=None, estimate=None, forecast=None, alerts=None,
                  decision=None, stages=None, stale=()) -> IntervalRows:
    """Check and convert one interval's inputs (see :meth:`Store.write_interval`) to table rows.

    >>> rows = interval_rows("2020-03-20 10:05", link_rates={"A->B": 1e9, "B->A": float("nan")}, stale=["B->A"])
    >>> rows.frames["link_rates"]
                             ds  link           bps  stale
    0 2020-03-20 10:05:00+00:00  A->B  1.000000e+09  False
    1 2020-03-20 10:05:00+00:00  B->A           NaN   True
    >>> interval_rows("2020-03-20 10:05", link_rates={"A->B": -1.0})
    Traceback (most recent call last):
    ...
    surgeguard.exceptions.ValidationError: store interval 2020-03-20T10:05:00Z: link_rates.bps is negative (-1.0) for link 'A->B'; it must be a number in [0, 1e+15] bit/s (NaN when unknown)
    """
    try:
        t, ds_aware = _parse_time(ds)
    except (ValueError, TypeError, OverflowError):
        raise ValidationError(f"store interval: ds {ds!r} is not a time; use ISO times such as "
                              "2020-03-20T10:05:00Z") from None
    where = f"store interval {iso(t)}"
    times = _Times(ds_aware, where)
    if run is not None and (isinstance(run, (bool, np.bool_)) or not isinstance(run, (numbers.Integral,))
                            or int(run) < 1):
        raise ValidationError(f"{where}: run must be a run id (an int >= 1 from start_run) or None, got {run!r}")
    if isinstance(stale, (str, bytes)) or not isinstance(stale, Iterable):
        raise ValidationError(f"{where}: stale must be a list of input names, got {stale!r}")
    stale_names = tuple(_names(list(stale), "stale", where).tolist())
    st = {}
    if stages is not None:
        if not isinstance(stages, Mapping):
            raise ValidationError(f"{where}: stages must be a mapping {{stage: seconds}}, got {type(stages).__name__}")
        for name, sec in stages.items():
            _text(name, "stages name", where)
            x = _num_or_nan(sec) if isinstance(sec, (numbers.Real, np.generic)) and not isinstance(sec, bool) \
                else float("nan")
            _check_range(np.array([x]), f"stages[{name!r}]", where, lambda k: "the stage", nan_ok=False,
                         high=math.inf, unit="seconds")
            st[name] = x
    frames = {t_: _empty(t_) for t_ in INTERVAL_TABLES}
    if link_rates is not None:
        frames["link_rates"] = _link_rates(link_rates, t, set(stale_names), where, times)
    if node_totals is not None:
        frames["node_totals"] = _node_totals(node_totals, t, where, times)
    if estimate is not None:
        frames["estimates"] = _estimate(estimate, t, where, times)
    if forecast is not None:
        frames["forecasts"] = _forecast(forecast, t, where, times)
    if alerts is not None:
        frames["alerts"] = _alerts(alerts, t, where, times)
    if decision is not None:
        frames["decisions"], frames["splits"] = _decision(decision, t, where)
    return IntervalRows(t, None if run is None else int(run), st, stale_names, frames)


# ---------------------------------------------------------------------------------------------- interface
class Store(abc.ABC):
    """One history of a watched network: runs, and per interval what was measured, estimated,
    forecast, detected and decided. See the module docstring for the write and read contracts.

    Use as a context manager (``with DuckDBStore(path) as store: ...``) or call :meth:`close`.
    """

    #: a label for messages (a file path, a server URL)
    location: str = ""
    #: whether writes are refused
    read_only: bool = False

    # ------------------------------------------------------------------ lifecycle
    @property
    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version of the store (see :mod:`surgeguard.store.schema`)."""

    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Apply the missing migrations in order, each in its own transaction; returns the
        versions applied (empty when up to date)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ runs
    @abc.abstractmethod
    def start_run(self, config: Mapping | None = None, *, network: str = "", version: str | None = None) -> int:
        """Record a controller run (its configuration as JSON, the network's name, the surgeguard
        version; started now, UTC) and return its id (1, 2, ...)."""

    def runs(self) -> pd.DataFrame:
        """Every run: ``id, started, config, network, version``."""
        return self.read("runs")

    # ------------------------------------------------------------------ writes
    def write_interval(self, ds, *, run: int | None = None, link_rates=None, node_totals=None, estimate=None,
                       forecast=None, alerts=None, decision=None, stages: Mapping[str, float] | None = None,
                       stale: Iterable[str] = ()) -> Stored:
        """Store everything of the interval starting at ``ds`` (UTC; naive = UTC) in ONE
        transaction, replacing what the interval held; returns once it is committed.

        Parameters (each optional; an omitted part stores no rows of its table)
        ----------
        ds : the interval's start.
        run : the run writing it (:meth:`start_run`), or None.
        link_rates : mean rate per directed link, bit/s (NaN = not measured): a
            :class:`~surgeguard.telemetry.LinkLoads` (its row at ``ds``), a mapping
            ``{link: bps}``, or a frame ``link, bps[, stale][, ds]`` (or ``src, dst`` for ``link``).
        node_totals : a LinkLoads with totals, or a frame ``node, ingress_bps, egress_bps[, ds]``
            (bit/s, NaN = unknown).
        estimate : the estimated matrix: a :class:`MatrixRecord` (N, N), a frame
            ``src, dst, bps, method[, residual][, ds]``, or a
            :class:`~surgeguard.TrafficSeries` (its row at ``ds``; method ``meta['method']`` or its
            name). bit/s, finite, >= 0; zeros are not stored.
        forecast : the matrices forecast at this interval: a :class:`MatrixRecord` (H, N, N) with
            ``times``, a frame ``ds, src, dst, bps, model`` (``ds`` = the predicted interval), or a
            TrafficSeries over the predicted times (model ``meta['model']`` or its name).
        alerts : :class:`~surgeguard.detect.Alert`\\ s, or a frame ``time, place, direction,
            shift, detector[, score]``.
        decision : a :class:`Decision` or a :class:`~surgeguard.routing.Routing`.
        stages : seconds per stage, e.g. ``{"query": 0.2, "estimate": 0.5, "decide": 1.1}``.
        stale : names of the inputs carried forward in this interval (links named here get
            ``stale = true`` in ``link_rates``).

        Every time given (``ds`` and the times inside the inputs) must be naive (UTC) or
        time-zone-aware, not a mix. Bad input raises a one-line
        :class:`~surgeguard.ValidationError` naming the field, before anything is written.
        """
        rows = interval_rows(ds, run=run, link_rates=link_rates, node_totals=node_totals, estimate=estimate,
                             forecast=forecast, alerts=alerts, decision=decision, stages=stages, stale=stale)
        return self.commit_interval(rows)

    @abc.abstractmethod
    def commit_interval(self, rows: IntervalRows) -> Stored:
        """In one transaction: delete every row of ``rows.ds`` (all tables), insert ``rows``,
        record the interval (``intervals``, with its row counts), commit. Nothing of it is visible
        or durable before the commit, all of it after."""

    # ------------------------------------------------------------------ reads
    @abc.abstractmethod
    def read(self, table: str, start=None, end=None, *, where: Mapping | None = None, limit: int | None = None,
             offset: int = 0) -> pd.DataFrame:
        """Rows of ``table`` whose interval column (``ds``; ``made_at`` for forecasts; ``started``
        for runs) lies in ``[start, end)`` (None = open; naive = UTC), filtered by ``where``
        (``{column: value or list of values}``), sorted by the table's order, ``offset`` rows
        skipped and at most ``limit`` returned. Times come back UTC, NULL rates as NaN, lists as
        Python lists."""

    @abc.abstractmethod
    def count(self, table: str, start=None, end=None, *, where: Mapping | None = None) -> int:
        """How many rows :meth:`read` would return without ``limit``/``offset`` (for paging)."""

    @abc.abstractmethod
    def last_interval(self, run: int | None = None, *, with_rows: str | None = None) -> pd.Timestamp | None:
        """The latest stored interval, UTC (of ``run``, when given; holding rows of the table
        ``with_rows``, when given); None when there is none. A restarted controller resumes at
        ``last_interval() + step``."""

    def intervals(self, start=None, end=None, *, run: int | None = None, limit: int | None = None,
                  offset: int = 0) -> pd.DataFrame:
        """Stored intervals: ``ds, run, acknowledged_at, stages, stale, n_<table>...``."""
        return self.read("intervals", start, end, where=_where(run=run), limit=limit, offset=offset)

    def link_rates(self, start=None, end=None, *, links=None, limit=None, offset=0) -> pd.DataFrame:
        """``ds, link, bps, stale`` (bit/s; NaN = not measured)."""
        return self.read("link_rates", start, end, where=_where(link=links), limit=limit, offset=offset)

    def node_totals(self, start=None, end=None, *, nodes=None, limit=None, offset=0) -> pd.DataFrame:
        """``ds, node, ingress_bps, egress_bps`` (bit/s; NaN = unknown)."""
        return self.read("node_totals", start, end, where=_where(node=nodes), limit=limit, offset=offset)

    def estimates(self, start=None, end=None, *, src=None, dst=None, limit=None, offset=0) -> pd.DataFrame:
        """``ds, src, dst, bps, method, residual`` (bit/s; pairs absent are 0)."""
        return self.read("estimates", start, end, where=_where(src=src, dst=dst), limit=limit, offset=offset)

    def forecasts(self, start=None, end=None, *, src=None, dst=None, model=None, limit=None,
                  offset=0) -> pd.DataFrame:
        """``made_at, ds, src, dst, bps, model``; ``start``/``end`` filter ``made_at``."""
        return self.read("forecasts", start, end, where=_where(src=src, dst=dst, model=model), limit=limit,
                         offset=offset)

    def alerts(self, start=None, end=None, *, place=None, detector=None, limit=None, offset=0) -> pd.DataFrame:
        """``ds, time, place, direction, shift, score, detector``."""
        return self.read("alerts", start, end, where=_where(place=place, detector=detector), limit=limit,
                         offset=offset)

    def decisions(self, start=None, end=None, *, policy=None, status=None, limit=None, offset=0) -> pd.DataFrame:
        """``ds, policy, mlu, lower_bound, status, reason, info`` (``info`` JSON text)."""
        return self.read("decisions", start, end, where=_where(policy=policy, status=status), limit=limit,
                         offset=offset)

    def splits(self, start=None, end=None, *, src=None, dst=None, limit=None, offset=0) -> pd.DataFrame:
        """``ds, src, dst, path, nodes, links, weight``: the decided routings, one row per used path."""
        return self.read("splits", start, end, where=_where(src=src, dst=dst), limit=limit, offset=offset)

    @abc.abstractmethod
    def verify(self, start=None, end=None) -> pd.DataFrame:
        """Intervals whose tables do not hold the rows they recorded: ``ds, table, expected,
        found`` (``expected`` is NULL for rows of an interval that was never recorded). Empty
        when the store is whole."""

    # ------------------------------------------------------------------ numpy helpers
    def estimate_matrix(self, nodes: Sequence[str], ds=None) -> tuple[pd.Timestamp, np.ndarray]:
        """``(ds, M)``: the estimated matrix of interval ``ds`` (default: the latest with an
        estimate) as an (N, N) array in bit/s over ``nodes`` (rows sources); absent pairs are 0."""
        if ds is None:
            ds = self.last_interval(with_rows="estimates")
            if ds is None:
                raise ValidationError(f"store {self.location!r} holds no estimate yet; write an interval with an "
                                      "estimate first")
        t = utc_time(ds, "ds")
        series = self.estimate_series(nodes, t, t + pd.Timedelta(microseconds=1))
        if not len(series.times):
            raise ValidationError(f"store {self.location!r} holds no estimate for {iso(t)}")
        return t, series.values[0]

    def estimate_series(self, nodes: Sequence[str], start=None, end=None, *, name: str = "estimates") \
            -> TrafficSeries:
        """The stored estimates in ``[start, end)`` as a :class:`~surgeguard.TrafficSeries` over
        ``nodes`` (intervals without estimate rows are left out). A stored node not in ``nodes``
        is a :class:`~surgeguard.ValidationError`."""
        nodes = [str(n) for n in nodes]
        df = self.estimates(start, end)
        times = pd.DatetimeIndex(pd.unique(df["ds"])) if len(df) else pd.DatetimeIndex([], tz="UTC")
        pos = pd.Index(nodes)
        si, di = pos.get_indexer(df["src"]), pos.get_indexer(df["dst"])
        if (si < 0).any() or (di < 0).any():
            k = int(np.flatnonzero((si < 0) | (di < 0))[0])
            bad = df["src"].iloc[k] if si[k] < 0 else df["dst"].iloc[k]
            raise ValidationError(f"store {self.location!r}: estimate of {iso(df['ds'].iloc[k])} names node {bad!r}, "
                                  "not among the nodes given; give the network's node names")
        ti = times.get_indexer(df["ds"])
        values = np.zeros((len(times), len(nodes), len(nodes)))
        values[ti, si, di] = df["bps"].to_numpy(dtype=float)
        methods = df["method"].unique().tolist()
        return TrafficSeries(values, nodes, times=times, name=name, meta={"methods": methods})

    def link_rate_array(self, links: Sequence[str], start=None, end=None) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """``(times, bps)``: the stored link rates in ``[start, end)`` as a (T, L) array in bit/s
        over ``links`` (NaN where not measured or not stored); times are the intervals with rates."""
        links = [str(x) for x in links]
        df = self.link_rates(start, end, links=links)
        times = pd.DatetimeIndex(pd.unique(df["ds"])) if len(df) else pd.DatetimeIndex([], tz="UTC")
        out = np.full((len(times), len(links)), np.nan)
        out[times.get_indexer(df["ds"]), pd.Index(links).get_indexer(df["link"])] = df["bps"].to_numpy(dtype=float)
        return times, out

    # ------------------------------------------------------------------ export
    @abc.abstractmethod
    def export_parquet(self, folder) -> dict[str, Any]:
        """Write every table (and ``meta``) to ``folder/<table>.parquet`` from one snapshot, each
        file atomically; returns ``{table: path}``."""


def _where(**filters) -> dict:
    return {k: v for k, v in filters.items() if v is not None}
