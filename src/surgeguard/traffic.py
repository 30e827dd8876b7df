"""The traffic series: one origin-destination matrix (bit/s) per time step.

Inside, a :class:`TrafficSeries` is a dense array ``values[t, i, j]`` (or ``values[t, c, i, j]``
with a traffic-class axis) in bit/s over a UTC time index and a fixed node order. At the edges it
is a long frame with columns ``src``, ``dst``, ``ds``, ``bps`` (and ``class``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .exceptions import ValidationError
from .units import MAX_RATE_BPS
from .validation import Interval

__all__ = ["TrafficSeries", "DEMAND_RANGE", "check_unique"]

#: Declared range of one demand in bit/s: ``0 <= d <= MAX_RATE_BPS`` (1 Pbit/s, see
#: :data:`surgeguard.units.MAX_RATE_BPS`); it keeps every total and link load finite.
DEMAND_RANGE = Interval(float, 0, MAX_RATE_BPS)


def check_unique(names, what: str, fix: str) -> None:
    """Refuse repeated names: ``ValidationError("{what} [first repeats]; {fix}")``."""
    if len(set(names)) != len(names):
        seen, dups = set(), []
        for x in names:
            if x in seen and x not in dups:
                dups.append(x)
            seen.add(x)
        raise ValidationError(f"{what} {dups[:5]}; {fix}")


def _check_demands(v: np.ndarray, nodes, name: str) -> None:
    """Every demand finite and in :data:`DEMAND_RANGE`; the message names the step, OD and value."""
    if v.size == 0:
        return
    lo, hi = v.min(), v.max()  # NaN propagates into both
    if lo >= DEMAND_RANGE.low and hi <= DEMAND_RANGE.high:
        return
    nan = np.isnan(v)
    if nan.any():
        pos, kind = np.argwhere(nan)[0], "NaN"
    elif np.isinf(v).any():
        pos, kind = np.argwhere(np.isinf(v))[0], "infinite"
    elif lo < 0:
        pos, kind = np.argwhere(v < 0)[0], "negative"
    else:
        pos, kind = np.argwhere(v > DEMAND_RANGE.high)[0], "too large"
    i, j = int(pos[-2]), int(pos[-1])
    raise ValidationError(
        f"traffic {name!r}: {kind} demand {float(v[tuple(pos)])!r} bit/s at step {int(pos[0])} for "
        f"{nodes[i]}->{nodes[j]}; a demand must be {DEMAND_RANGE.describe()} bit/s (fill or drop missing values)")


def _utc_index(times) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(times))
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.tz_convert("UTC")


@dataclass(frozen=True, eq=False)
class TrafficSeries:
    """Traffic matrices over time, in bit/s.

    Parameters
    ----------
    values : array of shape (T, N, N), or (T, C, N, N) with ``classes``; bit/s, each demand in
        :data:`DEMAND_RANGE` (finite, ``0 <= d <= MAX_RATE_BPS``, so every sum stays finite).
    nodes : the N (>= 1) distinct node names, in the order of the matrix rows and columns.
    times : T strictly increasing UTC timestamps (naive timestamps are taken as UTC); default:
        0, 1, 2, ... minutes.
    classes : distinct names of the C traffic classes, or None for a single aggregate.
    name : a label for reports.

    Examples
    --------
    >>> import numpy as np
    >>> ts = TrafficSeries(np.ones((2, 2, 2)) - np.eye(2), nodes=["A", "B"],
    ...                    times=["2020-03-20 00:00", "2020-03-20 00:15"])
    >>> len(ts), ts.step
    (2, Timedelta('0 days 00:15:00'))
    >>> ts.to_frame().columns.tolist()
    ['ds', 'src', 'dst', 'bps']
    """

    values: np.ndarray
    nodes: tuple[str, ...]
    times: pd.DatetimeIndex | None = None
    classes: tuple[str, ...] | None = None
    name: str = "traffic"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        try:
            v = np.asarray(self.values, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValidationError(f"traffic {self.name!r}: values must be numbers in bit/s ({err})") from None
        if isinstance(self.nodes, (str, bytes)):
            raise ValidationError(f"traffic {self.name!r}: nodes must be a list of names, got the string {self.nodes!r}")
        object.__setattr__(self, "nodes", tuple(str(n) for n in self.nodes))
        n = len(self.nodes)
        if n == 0:
            raise ValidationError(f"traffic {self.name!r} has no nodes; give the node names of the matrices")
        check_unique(self.nodes, f"traffic {self.name!r}: duplicate node names", "give each node once")
        if self.classes is not None:
            if isinstance(self.classes, (str, bytes)):
                raise ValidationError(f"traffic {self.name!r}: classes must be a list of names, got the string "
                                      f"{self.classes!r}")
            object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
            check_unique(self.classes, f"traffic {self.name!r}: duplicate class names", "give each class once")
            if v.ndim == 3:
                v = v[None]
            want = 4
        else:
            if v.ndim == 2:
                v = v[None]
            want = 3
        if v.ndim != want or v.shape[-1] != n or v.shape[-2] != n:
            raise ValidationError(
                f"traffic {self.name!r}: values have shape {v.shape}, expected (T, {'C, ' if want == 4 else ''}"
                f"{n}, {n}) for {n} nodes")
        if self.classes is not None and v.shape[1] != len(self.classes):
            raise ValidationError(
                f"traffic {self.name!r}: {v.shape[1]} class slices but {len(self.classes)} class names")
        _check_demands(v, self.nodes, self.name)
        object.__setattr__(self, "values", v)
        times = self.times
        if times is None:
            times = pd.date_range("1970-01-01", periods=v.shape[0], freq="min", tz="UTC")
        try:
            times = _utc_index(times)
        except (TypeError, ValueError, OverflowError) as err:
            raise ValidationError(f"traffic {self.name!r}: times are not timestamps ({err})") from None
        if len(times) != v.shape[0]:
            raise ValidationError(f"traffic {self.name!r}: {len(times)} timestamps for {v.shape[0]} matrices")
        if times.hasnans:
            k = int(np.flatnonzero(times.isna())[0])
            raise ValidationError(f"traffic {self.name!r}: time {k} is missing (NaT); give every step a time")
        if len(times) > 1 and not (np.diff(times.asi8) > 0).all():
            k = int(np.flatnonzero(np.diff(times.asi8) <= 0)[0])
            raise ValidationError(f"traffic {self.name!r}: times must increase, but step {k + 1} ({times[k + 1]}) "
                                  f"does not come after step {k} ({times[k]}); sort the steps and drop repeats")
        object.__setattr__(self, "times", times)

    # ------------------------------------------------------------------ basic views
    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def step(self) -> pd.Timedelta | None:
        """The time step (median spacing), or None for a single matrix."""
        if len(self.times) < 2:
            return None
        return pd.Timedelta(np.median(np.diff(self.times.as_unit("ns").asi8)), unit="ns")

    @property
    def total(self) -> np.ndarray:
        """(T, N, N) bit/s summed over traffic classes."""
        return self.values if self.classes is None else self.values.sum(axis=1)

    def matrix(self, t: int) -> np.ndarray:
        """The aggregate N x N matrix of step ``t`` (bit/s)."""
        if not -len(self) <= t < len(self):
            raise ValidationError(f"traffic {self.name!r}: step {t} out of range 0..{len(self) - 1}")
        return self.total[t]

    def window(self, start: int, stop: int) -> "TrafficSeries":
        """Steps ``start`` to ``stop - 1`` (a view of the same numbers).

        A slice of a checked series needs no checks: it is built without re-validating (a replay
        takes one window per step; checking 10 days of matrices each time cost ~20 ms a step).
        """
        out = object.__new__(TrafficSeries)
        for name, value in (("values", self.values[start:stop]), ("nodes", self.nodes),
                            ("times", self.times[start:stop]), ("classes", self.classes), ("name", self.name),
                            ("meta", dict(self.meta))):
            object.__setattr__(out, name, value)
        return out

    def with_values(self, values: np.ndarray, name: str | None = None) -> "TrafficSeries":
        return TrafficSeries(values, self.nodes, self.times, self.classes, name or self.name, dict(self.meta))

    def scale(self, factor: float) -> "TrafficSeries":
        """All demands multiplied by ``factor`` (e.g. to express utilisation on tight capacities)."""
        with np.errstate(over="ignore", invalid="ignore"):  # the constructor names an overflow
            values = self.values * float(factor)
        return self.with_values(values, name=f"{self.name}*{factor:g}")

    def reorder(self, nodes: Sequence[str]) -> "TrafficSeries":
        """The same traffic over ``nodes`` (a network's order). Nodes missing here get zero demand;
        nodes with traffic that are not in ``nodes`` raise an error naming them."""
        nodes = [str(n) for n in nodes]
        pos = {n: i for i, n in enumerate(nodes)}
        extra = [n for n in self.nodes if n not in pos]
        if extra:
            v = self.total
            k = [self.nodes.index(n) for n in extra]
            if v[:, k, :].any() or v[:, :, k].any():
                raise ValidationError(
                    f"traffic {self.name!r} has demand at nodes {extra[:5]} that are not in the network; "
                    "check node names or the network")
        if list(self.nodes) == nodes:
            return self
        src_keep = [i for i, n in enumerate(self.nodes) if n in pos]
        dst_pos = [pos[self.nodes[i]] for i in src_keep]
        shape = self.values.shape[:-2] + (len(nodes), len(nodes))
        out = np.zeros(shape)
        sub = self.values[..., src_keep, :][..., :, src_keep]
        out[(..., *np.ix_(dst_pos, dst_pos))] = sub
        return TrafficSeries(out, tuple(nodes), self.times, self.classes, self.name, dict(self.meta))

    # ------------------------------------------------------------------ long frames
    def to_frame(self, *, drop_zero: bool = True) -> pd.DataFrame:
        """Long frame ``ds, src, dst, bps`` (plus ``class``), one row per non-zero demand."""
        v = self.values
        idx = np.nonzero(v) if drop_zero else np.indices(v.shape).reshape(v.ndim, -1)
        nodes = np.asarray(self.nodes, dtype=object)
        cols = {"ds": self.times[idx[0]]}
        if self.classes is not None:
            cols["class"] = np.asarray(self.classes, dtype=object)[idx[1]]
        cols["src"] = nodes[idx[-2]]
        cols["dst"] = nodes[idx[-1]]
        cols["bps"] = v[tuple(idx)]
        return pd.DataFrame(cols)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, nodes: Sequence[str] | None = None, *, name: str = "traffic",
                   bps_col: str = "bps", what: str | None = None) -> "TrafficSeries":
        """Build from a long frame ``ds, src, dst, bps`` (optionally ``class``).

        ``nodes`` fixes the matrix order (e.g. a network's); by default the sorted union of
        ``src`` and ``dst``. Missing (ds, src, dst) rows are zero demand; a repeated
        (ds, src, dst[, class]) row, an empty cell or a value that is not a number is an error
        (``what`` names the source in messages; default ``traffic frame <name>``).

        >>> df = pd.DataFrame({"ds": ["2020-01-01"] * 2, "src": ["A", "A"], "dst": ["B", "B"], "bps": [1.0, 2.0]})
        >>> TrafficSeries.from_frame(df)
        Traceback (most recent call last):
        ...
        surgeguard.exceptions.ValidationError: traffic frame 'traffic' has 1 repeated (ds, src, dst) row(s), first data rows 1 and 2 (2020-01-01 00:00:00+00:00, A->B); give each demand once (add up parts before)
        """
        what = what or f"traffic frame {name!r}"
        if not isinstance(df, pd.DataFrame):
            raise ValidationError(f"{what}: expected a DataFrame, got {type(df).__name__}")
        missing = [c for c in ("ds", "src", "dst", bps_col) if c not in df.columns]
        if missing:
            raise ValidationError(
                f"{what} lacks columns {missing}; expected ds, src, dst, {bps_col} [, class]")
        if len(df) == 0:
            raise ValidationError(f"{what} has no rows; give at least one (ds, src, dst, {bps_col}) row")
        cols = ["ds", "src", "dst"] + (["class"] if "class" in df.columns else [])
        for col in cols:
            empty = df[col].isna().to_numpy()
            if empty.any():
                k = int(np.flatnonzero(empty)[0])
                raise ValidationError(f"{what}: data row {k + 1} has no {col}; fill every {', '.join(cols)} cell")
        src = df["src"].astype(str).to_numpy()
        dst = df["dst"].astype(str).to_numpy()
        if nodes is None:
            nodes = sorted(set(src) | set(dst))
        nodes = [str(n) for n in nodes]
        node_pos = pd.Index(nodes)
        if node_pos.has_duplicates:
            check_unique(nodes, f"{what}: nodes has duplicate names", "give each node once")
        si, di = node_pos.get_indexer(src), node_pos.get_indexer(dst)
        if (si < 0).any() or (di < 0).any():
            bad = sorted(set(src[si < 0]) | set(dst[di < 0]))
            raise ValidationError(
                f"{what} names unknown node(s) {bad[:5]}; they are not in the network (known: {nodes[:5]}...)")
        try:
            ds = _utc_index(df["ds"])
        except (TypeError, ValueError, OverflowError) as err:
            raise ValidationError(f"{what}: column ds has values that are not times ({err})") from None
        raw = df[bps_col]
        if raw.dtype.kind == "b":
            raise ValidationError(f"{what}: column {bps_col} holds booleans; give rates as numbers")
        vals = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        bad = np.isnan(vals)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            problem = "is missing (empty or NaN)" if pd.isna(raw.iloc[k]) else f"{str(raw.iloc[k])!r} is not a number"
            raise ValidationError(f"{what}: the {bps_col} value in data row {k + 1} {problem}; give every row a rate")
        out_of_range = ~((vals >= DEMAND_RANGE.low) & (vals <= DEMAND_RANGE.high))
        if out_of_range.any():
            k = int(np.flatnonzero(out_of_range)[0])
            kind = "negative" if vals[k] < 0 else "infinite" if np.isinf(vals[k]) else "too large"
            raise ValidationError(f"{what}: {kind} demand {float(vals[k])!r} bit/s in data row {k + 1} "
                                  f"({src[k]}->{dst[k]}); a demand must be {DEMAND_RANGE.describe()} bit/s")
        key = pd.DataFrame({"ds": ds.asi8, "src": si, "dst": di})
        if "class" in df.columns:
            key["class"] = df["class"].astype(str).to_numpy()
        rep = key.duplicated(keep=False).to_numpy()
        if rep.any():
            first = int(np.flatnonzero(rep)[0])
            same = np.flatnonzero(rep & (key == key.iloc[first]).all(axis=1).to_numpy())
            n_rep = int(key.duplicated().sum())
            cls_ = f", class {key['class'].iloc[first]}" if "class" in key.columns else ""
            raise ValidationError(
                f"{what} has {n_rep} repeated ({', '.join(cols)}) row(s), first data rows {same[0] + 1} and "
                f"{same[1] + 1} ({ds[first]}, {src[first]}->{dst[first]}{cls_}); give each demand once "
                "(add up parts before)")
        times = ds.unique().sort_values()
        ti = times.get_indexer(ds)
        classes = None
        if "class" in df.columns:
            classes = tuple(sorted(df["class"].astype(str).unique()))
            ci = pd.Index(classes).get_indexer(df["class"].astype(str))
            out = np.zeros((len(times), len(classes), len(nodes), len(nodes)))
            out[ti, ci, si, di] = vals
        else:
            out = np.zeros((len(times), len(nodes), len(nodes)))
            out[ti, si, di] = vals
        return cls(out, tuple(nodes), times, classes, name)

    def __repr__(self) -> str:
        span = f"{self.times[0]} .. {self.times[-1]}" if len(self) else "empty"
        cls_ = f", classes {list(self.classes)}" if self.classes else ""
        return f"<TrafficSeries {self.name!r}: {len(self)} x {self.n_nodes}x{self.n_nodes} bit/s, {span}{cls_}>"
