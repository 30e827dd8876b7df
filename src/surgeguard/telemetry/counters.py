"""Interface octet counters to rates (bit/s), with 64-bit wraps, counter resets and gaps.

Routers count the octets each interface sends and receives (``ifHCInOctets`` /
``ifHCOutOctets``, 64-bit, wrapping modulo ``2**64``). A rate is the counter's increase between
two samples times 8 over the time between them. This module computes those rates exactly (the
counters stay unsigned 64-bit integers; differences are taken modulo ``2**64``) and says what it
saw, one line per event, in ``notes``:

* **wrap**: the counter drops from above ``2**63`` and the increase through ``2**64`` implies a
  rate the interface can carry (at most its speed plus ``tolerance``, or ``MAX_RATE_BPS`` when
  the speed is unknown). The interval's rate is exact.
* **reset** (a reboot, a line card swap, a cleared counter): any other drop. The interval's rate
  is left unknown (NaN): the counter restarted at an unknown moment inside the interval, so the
  value after the reset counts only part of it and would understate the rate.
* **over speed**: an increase implying more than the interface's speed (``ifHighSpeed``) plus
  ``tolerance``: a counter that is not what it claims to be; the rate is left unknown.
* **gap**: missing samples. The rate across a gap of at most ``max_gap`` steps is the mean over
  the gap (exact in total, spread evenly), given to each step it spans; longer gaps stay unknown.

Samples at irregular times (each router scraped at its own moment) are resampled to a regular
grid as time-weighted means of the piecewise-constant rate between samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import InputError, ValidationError
from ..units import MAX_RATE_BPS
from ..validation import Interval, check_param
from .interfaces import InterfaceMap
from ..io.common import utc_times
from .loads import LinkLoads, repeated_rows

__all__ = ["InterfaceCounters", "InterfaceRates", "counter_rates", "octet_column", "resample_rates",
           "COUNTER_COLUMNS", "WRAP"]

#: A 64-bit counter wraps to 0 at this value.
WRAP = 2 ** 64
_HALF = np.uint64(2 ** 63)

#: Columns of a counters frame: required, then optional.
COUNTER_COLUMNS = ("ds", "instance", "ifName", "in_octets", "out_octets", "speed_mbps")

#: At most this many event lines per kind in ``notes``; a last line counts the rest.
MAX_NOTES = 20


def octet_column(col: pd.Series, what: str, field: str) -> tuple[np.ndarray, np.ndarray]:
    """``(values, present)``: a counter column as exact unsigned 64-bit integers and a mask of
    the cells that hold one (empty cells are missing samples). Text of digits is read exactly up
    to ``2**64 - 1``; floats must be whole numbers. Anything else is an :class:`InputError` naming
    the data row and the value.

    >>> v, ok = octet_column(pd.Series(["18446744073709551615", "", "7"]), "f.csv", "in_octets")
    >>> v.tolist(), ok.tolist()
    ([18446744073709551615, 0, 7], [True, False, True])
    """
    n = len(col)
    values = np.zeros(n, dtype=np.uint64)
    kind = col.dtype.kind

    def refuse(k: int, why: str):
        raise InputError(f"{what}: {field} {str(col.iloc[k])!r} in data row {k + 1} {why}; give octet counters as "
                         "whole numbers from 0 to 2**64 - 1 (leave the cell empty for a missing sample)")

    if kind == "b":
        refuse(0, "is true/false, not a counter")
    if isinstance(col.dtype, pd.api.extensions.ExtensionDtype) and kind in "iu":
        present = ~col.isna().to_numpy()
        raw = col.to_numpy(dtype=np.int64 if kind == "i" else np.uint64, na_value=0)
        if kind == "i" and (raw < 0).any():
            refuse(int(np.flatnonzero(raw < 0)[0]), "is negative")
        return raw.astype(np.uint64), present
    if kind == "u":
        return col.to_numpy(np.uint64), np.ones(n, bool)
    if kind == "i":
        raw = col.to_numpy(np.int64)
        if (raw < 0).any():
            refuse(int(np.flatnonzero(raw < 0)[0]), "is negative")
        return raw.astype(np.uint64), np.ones(n, bool)
    if kind == "f":
        raw = col.to_numpy(float)
        present = ~np.isnan(raw)
        with np.errstate(invalid="ignore"):
            bad = present & ~((raw >= 0) & (raw < float(WRAP)) & (raw == np.floor(raw)))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            refuse(k, "is negative" if raw[k] < 0 else "is not a whole number below 2**64")
        values[present] = raw[present].astype(np.uint64)
        return values, present
    missing = col.isna().to_numpy()
    try:  # fast path: ASCII digits only (surrounding blanks allowed), exact
        cells = np.char.strip(col.to_numpy(object)[~missing].astype(str).astype("S"))  # non-ASCII: ValueError
        if np.char.isdigit(cells).all():
            values[~missing] = cells.astype(np.uint64)
            return values, ~missing
    except (ValueError, OverflowError, TypeError):
        pass  # find and name the bad cell below
    values[:] = 0
    text = col.astype("string").str.strip().fillna("")
    present = (text != "").to_numpy()
    digits = text.str.fullmatch(r"\d{1,20}").fillna(False).to_numpy(bool)
    other = present & ~digits
    if other.any():  # '1.2e3', '12.0': whole numbers written as floats, exact below 2**53
        num = pd.to_numeric(text[other], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            ok = (num >= 0) & (num <= 2.0 ** 53) & (num == np.floor(num))
        if not ok.all():
            k = int(np.flatnonzero(other)[np.flatnonzero(~ok)[0]])
            refuse(k, "is negative" if num[np.flatnonzero(~ok)[0]] < 0 else "is not a whole number")
        values[other] = num.astype(np.uint64)
    if digits.any():
        strings = text[digits].to_numpy(str)
        try:
            values[digits] = strings.astype(np.uint64)
        except OverflowError:
            k = next(int(np.flatnonzero(digits)[i]) for i, s in enumerate(strings) if int(s) >= WRAP)
            refuse(k, "is above 2**64 - 1, the largest 64-bit counter")
    return values, present


class _Notes:
    """Event lines by kind, at most :data:`MAX_NOTES` each, then a count of the rest."""

    def __init__(self):
        self.lines: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}

    def add(self, kind: str, line: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= MAX_NOTES:
            self.lines.setdefault(kind, []).append(line)

    def done(self) -> list[str]:
        out = []
        for kind, lines in self.lines.items():
            out.extend(lines)
            if self.counts[kind] > MAX_NOTES:
                out.append(f"... and {self.counts[kind] - MAX_NOTES} more {kind} event(s)")
        return out


def counter_rates(times, octets: np.ndarray, present: np.ndarray | None = None, *, speed_bps=None,
                  labels: Sequence[str] | None = None, max_gap: int = 3, tolerance: float = 0.1,
                  notes: list | None = None) -> np.ndarray:
    """Per-interval rates in bit/s from counter samples on a common time axis.

    Parameters
    ----------
    times : T strictly increasing sample times (UTC).
    octets : (T, n) counters, unsigned 64-bit integers (floats are converted).
    present : (T, n) bool, which samples exist; default all.
    speed_bps : (n,) interface speeds in bit/s, NaN where unknown.
    labels : (n,) names for the notes (e.g. ``'r1/et-0/0/0 out'``).
    max_gap : the longest gap, in steps (the median sample spacing), filled with its mean rate.
    tolerance : a rate may exceed the interface speed by this fraction (timestamp jitter).
    notes : a list that receives one line per event (wraps, resets, over-speed, gaps).

    Returns
    -------
    (T - 1, n) float: row ``i`` is the mean rate over ``[times[i], times[i + 1])``, NaN where
    unknown (no sample on one side, a reset, over speed, a gap longer than ``max_gap``).

    >>> t = pd.date_range("2020-01-01", periods=4, freq="10s")
    >>> c = np.array([[2**64 - 100], [2**64 - 50], [50], [150]], dtype=np.uint64)  # wraps after row 1
    >>> counter_rates(t, c).ravel().tolist()
    [40.0, 80.0, 80.0]
    """
    check_param("counter_rates", "max_gap", max_gap, [Interval(int, 1, None)])
    check_param("counter_rates", "tolerance", tolerance, [Interval(float, 0, 10)])
    stamp = utc_times(times, "counter samples")
    t = stamp.asi8
    T = len(t)
    oct_ = np.asarray(octets)
    if oct_.dtype != np.uint64:
        oct_ = np.asarray(oct_, dtype=float)
        oct_ = np.where(np.isfinite(oct_), oct_, 0).astype(np.uint64)
    if oct_.ndim != 2 or oct_.shape[0] != T:
        raise ValidationError(f"counters have shape {oct_.shape}, expected ({T}, n) for {T} sample times")
    n = oct_.shape[1]
    present = np.ones((T, n), bool) if present is None else np.asarray(present, dtype=bool)
    if T > 1 and not (np.diff(t) > 0).all():
        k = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise ValidationError(f"counter sample times must increase, but sample {k + 1} does not come after sample {k}; "
                              "sort the samples and drop repeats")
    labels = list(labels) if labels is not None else [f"column {j}" for j in range(n)]
    speed = np.full(n, np.nan) if speed_bps is None else np.asarray(speed_bps, dtype=float)
    log = _Notes()
    out = np.full((max(T - 1, 0), n), np.nan)
    if T < 2 or n == 0:
        return out
    rows = np.arange(T)[:, None]
    prev_valid = np.maximum.accumulate(np.where(present, rows, -1), axis=0)
    next_valid = np.minimum.accumulate(np.where(present, rows, T)[::-1], axis=0)[::-1]
    # segments: a present sample k (row) and the present sample p before it, per column
    seg = present.copy()
    seg[0] = False
    seg[1:] &= prev_valid[:-1] >= 0
    k_r, j_r = np.nonzero(seg)
    p_r = prev_valid[k_r - 1, j_r]
    cur, prv = oct_[k_r, j_r], oct_[p_r, j_r]
    delta = cur - prv  # modulo 2**64: a wrap is already the right increase
    dt = (t[k_r] - t[p_r]) / 1e9
    rate = delta.astype(float) * 8.0 / dt
    cap = np.where(np.isfinite(speed) & (speed > 0), speed * (1 + tolerance), MAX_RATE_BPS)[j_r]
    drop = cur < prv
    wrap = drop & (prv > _HALF) & (rate <= cap)
    reset = drop & ~wrap
    over = ~drop & (rate > cap)
    step_ns = float(np.median(t[k_r] - t[p_r])) if len(k_r) else float(np.median(np.diff(t)))
    spans = (t[k_r] - t[p_r]) / step_ns
    long_gap = spans > max_gap + 0.5
    gap = ~long_gap & (spans > 1.5)
    rate[reset | over | long_gap] = np.nan
    for e in np.flatnonzero(wrap):
        log.add("wrap", f"{labels[j_r[e]]}: 64-bit counter wrap between {stamp[p_r[e]]} and {stamp[k_r[e]]} "
                        f"({int(prv[e])} -> {int(cur[e])}), handled")
    for e in np.flatnonzero(reset):
        hint = " (a 32-bit counter? use the 64-bit ifHC counters)" if prv[e] < 2 ** 32 and prv[e] > 2 ** 31 else ""
        log.add("reset", f"{labels[j_r[e]]}: counter reset between {stamp[p_r[e]]} and {stamp[k_r[e]]} "
                         f"({int(prv[e])} -> {int(cur[e])}){hint}; rate unknown there")
    for e in np.flatnonzero(over):
        limit = (f"the interface speed {speed[j_r[e]]:.4g} bit/s" if np.isfinite(speed[j_r[e]]) and speed[j_r[e]] > 0
                 else f"any plausible rate ({MAX_RATE_BPS:g} bit/s)")
        log.add("over-speed", f"{labels[j_r[e]]}: implied rate {float(delta[e]) * 8.0 / dt[e]:.4g} bit/s between "
                              f"{stamp[p_r[e]]} and {stamp[k_r[e]]} exceeds {limit}; rate unknown there")
    for e in np.flatnonzero(gap | long_gap):
        filled = "filled with the mean rate across it" if gap[e] else f"longer than {max_gap} steps, rate unknown"
        log.add("gap", f"{labels[j_r[e]]}: {int(k_r[e] - p_r[e] - 1)} missing sample(s) between {stamp[p_r[e]]} "
                       f"and {stamp[k_r[e]]}, {filled}")
    at = np.full((T, n), np.nan)
    at[k_r, j_r] = rate
    # interval i lies in the segment that ends at the next present sample after it
    nxt = next_valid[1:]
    ok = (prev_valid[:-1] >= 0) & (nxt < T)
    cols = np.broadcast_to(np.arange(n), nxt.shape)
    out[ok] = at[nxt[ok], cols[ok]]
    if notes is not None:
        notes.extend(log.done())
    return out


def resample_rates(times, rates: np.ndarray, grid) -> np.ndarray:
    """Time-weighted means of piecewise-constant rates over a new grid of intervals.

    ``rates[i]`` holds over ``[times[i], times[i + 1])`` (so ``len(times) == len(rates) + 1``);
    the result's row ``g`` is the mean over ``[grid[g], grid[g + 1])``, NaN where any part of it is
    unknown or outside ``times``.

    >>> t = pd.to_datetime([0, 4, 10], unit="s", utc=True)
    >>> resample_rates(t, np.array([[1.0], [4.0]]), pd.to_datetime([0, 5, 10], unit="s", utc=True)).ravel().tolist()
    [1.6, 4.0]
    """
    t = utc_times(times, "rate times").asi8
    g = utc_times(grid, "grid").asi8
    rates = np.asarray(rates, dtype=float)
    if len(t) != len(rates) + 1:
        raise ValidationError(f"{len(rates)} rate rows need {len(rates) + 1} interval bounds, got {len(t)}")
    if len(g) < 2:
        return np.empty((0, rates.shape[1]))
    bounds = np.union1d(t, g)
    bounds = bounds[(bounds >= g[0]) & (bounds <= g[-1])]
    start, width = bounds[:-1], np.diff(bounds).astype(float)
    u = np.searchsorted(t, start, side="right") - 1
    inside = (u >= 0) & (u < len(rates))
    vals = np.full((len(start), rates.shape[1]), np.nan)
    vals[inside] = rates[u[inside]]
    gi = np.searchsorted(g, start, side="right") - 1
    out = np.zeros((len(g) - 1, rates.shape[1]))
    np.add.at(out, gi, vals * width[:, None])
    return out / np.diff(g).astype(float)[:, None]


@dataclass(frozen=True, eq=False)
class InterfaceRates:
    """Per-interface rates in bit/s: row ``i`` is the mean over ``[times[i], times[i] + step)``.

    ``in_bps`` / ``out_bps`` are (T, n), NaN where unknown; ``speed_bps`` (n,) the interface
    speeds (NaN unknown); ``notes`` what the counters showed (wraps, resets, gaps)."""

    times: pd.DatetimeIndex
    instance: tuple[str, ...]
    ifname: tuple[str, ...]
    in_bps: np.ndarray
    out_bps: np.ndarray
    speed_bps: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    name: str = "interface rates"

    def __post_init__(self):
        times = utc_times(self.times, self.name) if len(self.times) else pd.DatetimeIndex([], tz="UTC")
        object.__setattr__(self, "times", times)
        n = len(self.instance)
        if len(self.ifname) != n:
            raise ValidationError(f"{self.name}: {n} instance labels but {len(self.ifname)} ifName labels")
        for label in ("in_bps", "out_bps"):
            arr = np.asarray(getattr(self, label), dtype=float)
            if arr.shape != (len(times), n):
                raise ValidationError(f"{self.name}: {label} has shape {arr.shape}, expected ({len(times)}, {n}) "
                                      "(times x interfaces)")
            object.__setattr__(self, label, arr)
        speed = np.full(n, np.nan) if self.speed_bps is None else np.asarray(self.speed_bps, dtype=float)
        if speed.shape != (n,):
            raise ValidationError(f"{self.name}: speed_bps has shape {speed.shape}, expected ({n},)")
        object.__setattr__(self, "speed_bps", speed)

    def to_link_loads(self, interfaces: InterfaceMap, *, name: str | None = None) -> LinkLoads:
        """Link loads and node totals through ``interfaces`` (:meth:`InterfaceMap.rates_to_loads`).

        Interfaces the map does not know (management ports, loopbacks) are left out and counted
        in ``notes``; map interfaces without rates here are unknown (NaN). No interface in common
        is an :class:`InputError`.
        """
        pos = interfaces.lookup(self.instance, self.ifname)
        known = pos >= 0
        if not known.any():
            ex = ", ".join(f"{i}/{f}" for i, f in list(zip(self.instance, self.ifname))[:3])
            mp = ", ".join(f"{i}/{f}" for i, f in list(zip(interfaces.instance, interfaces.ifname))[:3])
            raise InputError(f"{self.name}: none of the {len(pos)} interfaces (e.g. {ex}) is in {interfaces.name} "
                             f"(e.g. {mp}); give the interface map that matches these counters")
        m = interfaces.n_interfaces
        T = len(self.times)
        in_bps, out_bps, speed = np.full((T, m), np.nan), np.full((T, m), np.nan), np.full(m, np.nan)
        in_bps[:, pos[known]] = self.in_bps[:, known]
        out_bps[:, pos[known]] = self.out_bps[:, known]
        speed[pos[known]] = self.speed_bps[known]
        notes = list(self.notes)
        if (~known).any():
            names = [f"{i}/{f}" for i, f, k in zip(self.instance, self.ifname, known) if not k]
            notes.append(f"{len(names)} interface(s) not in {interfaces.name}, left out: {', '.join(names[:10])}"
                         f"{' ...' if len(names) > 10 else ''}")
        unseen = np.setdiff1d(np.arange(m), pos[known])
        if len(unseen):
            names = [f"{interfaces.instance[i]}/{interfaces.ifname[i]}" for i in unseen]
            notes.append(f"{len(names)} interface(s) of {interfaces.name} have no counters, unknown: "
                         f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
        return interfaces.rates_to_loads(in_bps, out_bps, self.times, speed_bps=speed, notes=notes,
                                         name=name or self.name)


@dataclass(frozen=True, eq=False)
class InterfaceCounters:
    """Octet counter samples per interface: ``in_octets`` / ``out_octets`` (T, n) unsigned
    64-bit, ``in_present`` / ``out_present`` (T, n) which samples exist, over the T sample times
    (UTC) of all interfaces together; ``speed_bps`` (n,) the largest speed seen (NaN unknown).
    Build from a long frame with :meth:`from_frame`."""

    times: pd.DatetimeIndex
    instance: tuple[str, ...]
    ifname: tuple[str, ...]
    in_octets: np.ndarray
    out_octets: np.ndarray
    in_present: np.ndarray
    out_present: np.ndarray
    speed_bps: np.ndarray
    name: str = "counters"
    notes: tuple[str, ...] = field(default=())

    @property
    def n_interfaces(self) -> int:
        return len(self.instance)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, what: str | None = None, name: str = "counters") -> "InterfaceCounters":
        """From a long frame ``ds, instance, ifName, in_octets, out_octets[, speed_mbps]`` (ds ISO
        8601, naive = UTC; speed in Mbit/s as ``ifHighSpeed``). A missing column, a bad value or a
        repeated (ds, instance, ifName) is an :class:`InputError` naming ``what``, the data row
        and the value.

        >>> df = pd.DataFrame({"ds": ["2020-01-01T00:00Z", "2020-01-01T00:05Z"], "instance": "r1",
        ...                    "ifName": "et-0/0/0", "in_octets": [0, 3750], "out_octets": [10, 10]})
        >>> InterfaceCounters.from_frame(df).rates().in_bps.tolist()
        [[100.0]]
        """
        what = what or name
        lower = {str(c).strip().lower(): c for c in df.columns}
        need = [c for c in COUNTER_COLUMNS[:5] if c.lower() not in lower]
        if need:
            raise InputError(f"{what} lacks columns {need}; expected {', '.join(COUNTER_COLUMNS[:5])} "
                             f"[, speed_mbps] (got {list(df.columns)})")
        if len(df) == 0:
            raise InputError(f"{what} has no rows; give one row per sample and interface")
        get = {c: df[lower[c.lower()]] for c in COUNTER_COLUMNS if c.lower() in lower}
        labels = {}
        for c in ("instance", "ifName"):
            vals = get[c].astype("string").str.strip()
            empty = (vals.isna() | (vals == "")).to_numpy(bool)
            if empty.any():
                k = int(np.flatnonzero(empty)[0])
                raise InputError(f"{what}: data row {k + 1} has no {c}; give every row an instance and ifName")
            labels[c] = vals.to_numpy(str)
        ds = utc_times(get["ds"], what)
        in_v, in_ok = octet_column(get["in_octets"], what, "in_octets")
        out_v, out_ok = octet_column(get["out_octets"], what, "out_octets")
        speed_row = np.full(len(df), np.nan)
        if "speed_mbps" in get:
            sp = get["speed_mbps"]
            num = pd.to_numeric(sp, errors="coerce").to_numpy(float)
            bad = (np.isnan(num) & ~sp.isna().to_numpy() & (sp.astype("string").str.strip() != "").fillna(False)
                   .to_numpy(bool))
            with np.errstate(invalid="ignore"):
                bad |= ~np.isnan(num) & ~((num >= 0) & (num * 1e6 <= MAX_RATE_BPS))
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise InputError(f"{what}: speed_mbps {str(sp.iloc[k])!r} in data row {k + 1} is not a speed; give "
                                 "ifHighSpeed in Mbit/s (0 or empty when unknown)")
            speed_row = np.where(num > 0, num * 1e6, np.nan)
        key = pd.MultiIndex.from_arrays([labels["instance"], labels["ifName"]])
        codes, uniq = pd.factorize(key)
        times = ds.unique().sort_values()
        ti = times.get_indexer(ds)
        rep = repeated_rows(ti, codes)
        if rep is not None:
            a, b = rep
            raise InputError(f"{what}: data rows {a + 1} and {b + 1} both give a sample of {labels['instance'][a]}/"
                             f"{labels['ifName'][a]} at {ds[a]}; give each interface one sample per time")
        T, n = len(times), len(uniq)
        arrays = []
        for vals, ok in ((in_v, in_ok), (out_v, out_ok)):
            v = np.zeros((T, n), dtype=np.uint64)
            p = np.zeros((T, n), dtype=bool)
            v[ti, codes] = vals
            p[ti, codes] = ok
            arrays += [v, p]
        speed = np.full(n, np.nan)
        has = ~np.isnan(speed_row)
        if has.any():
            speed = pd.Series(speed_row[has]).groupby(codes[has]).max().reindex(range(n)).to_numpy(float)
        inst = tuple(str(a) for a, _ in uniq)
        ifn = tuple(str(b) for _, b in uniq)
        return cls(times, inst, ifn, arrays[0], arrays[2], arrays[1], arrays[3], speed, name=name)

    def to_frame(self) -> pd.DataFrame:
        """The long frame ``ds, instance, ifName, in_octets, out_octets, speed_mbps`` (counters as
        nullable unsigned 64-bit integers, exact; one row per time and interface with a sample)."""
        T, n = self.in_octets.shape
        any_ = self.in_present | self.out_present
        ti, ji = np.nonzero(any_)
        inst = np.asarray(self.instance, dtype=object)
        ifn = np.asarray(self.ifname, dtype=object)
        return pd.DataFrame({
            "ds": self.times[ti], "instance": inst[ji], "ifName": ifn[ji],
            "in_octets": pd.arrays.IntegerArray(self.in_octets[ti, ji], ~self.in_present[ti, ji]),
            "out_octets": pd.arrays.IntegerArray(self.out_octets[ti, ji], ~self.out_present[ti, ji]),
            "speed_mbps": self.speed_bps[ji] / 1e6})

    def rates(self, *, max_gap: int = 3, tolerance: float = 0.1, step=None) -> InterfaceRates:
        """Rates in bit/s per interface and interval (see :func:`counter_rates`).

        Samples on a regular time axis give one row per interval between samples. Irregular
        sample times (each router scraped at its own moment) are resampled to a regular grid of
        ``step`` (default the median spacing of each interface's samples) aligned to whole
        multiples of the step since 1970, as time-weighted means.
        """
        labels_in = [f"{i}/{f} in" for i, f in zip(self.instance, self.ifname)]
        labels_out = [f"{i}/{f} out" for i, f in zip(self.instance, self.ifname)]
        notes = list(self.notes)
        rin = counter_rates(self.times, self.in_octets, self.in_present, speed_bps=self.speed_bps, labels=labels_in,
                            max_gap=max_gap, tolerance=tolerance, notes=notes)
        rout = counter_rates(self.times, self.out_octets, self.out_present, speed_bps=self.speed_bps,
                             labels=labels_out, max_gap=max_gap, tolerance=tolerance, notes=notes)
        times = self.times
        t = times.asi8
        if step is None:
            step_ns = _sample_step(t, self.in_present | self.out_present)
        else:
            try:
                step_ns = int(pd.Timedelta(step).value)
            except (ValueError, TypeError):
                step_ns = 0
            if step_ns <= 0:
                raise ValidationError(f"The 'step' parameter of InterfaceCounters.rates must be a positive duration "
                                      f"such as '5min'. Got {step!r} instead.")
        regular = len(t) > 1 and (np.diff(t) == step_ns).all()
        if len(t) > 1 and not regular:
            g0 = -(-t[0] // step_ns) * step_ns
            grid = np.arange(g0, t[-1] + 1, step_ns)
            if len(grid) < 2:
                raise InputError(f"{self.name}: samples from {times[0]} to {times[-1]} do not cover one whole step of "
                                 f"{pd.Timedelta(step_ns, unit='ns')}; give a longer series or a shorter step")
            gidx = pd.to_datetime(grid, utc=True)
            rin, rout = resample_rates(times, rin, gidx), resample_rates(times, rout, gidx)
            notes.append(f"{self.name}: samples at irregular times resampled to {len(grid) - 1} regular step(s) of "
                         f"{pd.Timedelta(step_ns, unit='ns')} (time-weighted means)")
            times = gidx[:-1]
        else:
            times = times[:-1]
        return InterfaceRates(times, self.instance, self.ifname, rin, rout, self.speed_bps.copy(), tuple(notes),
                              name=self.name)


def _sample_step(t: np.ndarray, present: np.ndarray) -> int:
    """The median spacing (ns) of consecutive samples of the same interface."""
    if len(t) < 2:
        return 1
    rows = np.arange(len(t))[:, None]
    prev_valid = np.maximum.accumulate(np.where(present, rows, -1), axis=0)
    seg = present[1:] & (prev_valid[:-1] >= 0)
    k, j = np.nonzero(seg)
    if not len(k):
        return int(np.median(np.diff(t)))
    return int(np.median(t[k + 1] - t[prev_valid[k, j]]))
