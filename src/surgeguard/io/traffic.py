"""Traffic readers: SNDlib demand XML, Zhang's Abilene X files, DOTE ``.hist``, long frames.

Every reader returns a :class:`~surgeguard.TrafficSeries` in bit/s over UTC times. Units are read
from the source (SNDlib ``<unit>``, the rate column's name in a frame) or fixed by the format
(Zhang: 100 bytes per 5 minutes; DOTE: bit/s), and converted with :func:`surgeguard.units.to_bps`.
"""

from __future__ import annotations

import lzma
import re
import tarfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import InputError, SurgeguardError, ValidationError
from ..traffic import DEMAND_RANGE, TrafficSeries
from ..units import to_bps
from .output import atomic_path, make_output_dir
from .common import as_path, check_regular, node_list, one_line, open_bytes, read_table, read_text, utc_times
from .topology import ABILENE_NODES

__all__ = [
    "read_sndlib_demands",
    "read_zhang",
    "read_dote_hist",
    "read_frame",
    "write_frame",
    "read_tunnels",
    "read_traffic",
    "RATE_COLUMNS",
]

#: Rate columns :func:`read_frame` accepts, with their unit (the column name is the unit).
RATE_COLUMNS: dict[str, str] = {"bps": "bps", "kbps": "kbps", "mbps": "mbps", "gbps": "gbps"}

_TRAFFIC_FORMATS = ("a folder or .tar.xz of SNDlib demand XMLs (sndlib:), a Zhang X file .txt[.xz] with "
                    "144 or 720 columns (zhang:), a DOTE .hist (dote:, needs nodes), a .csv/.parquet long "
                    "frame (frame:)")


# ---------------------------------------------------------------------- SNDlib demand XML
_DEMAND_RE = re.compile(
    rb"<source>\s*([^<\s]+)\s*</source>\s*<target>\s*([^<\s]+)\s*</target>\s*"
    rb"<demandValue>\s*([^<\s]+)\s*</demandValue>")
_TIME_RE = re.compile(rb"<time>\s*([^<]*?)\s*</time>")
_UNIT_RE = re.compile(rb"<unit>\s*([^<]*?)\s*</unit>")
_NODE_RE = re.compile(rb"<node\s+id=\"([^\"]+)\"")
_STAMP_RE = re.compile(r"(\d{8}-\d{4})")


def _parse_time(text: str | None, label: str) -> datetime:
    for cand in (text or "", label):
        m = _STAMP_RE.search(cand)
        if m:
            try:
                return datetime.strptime(m.group(1), "%Y%m%d-%H%M").replace(tzinfo=timezone.utc)
            except ValueError:
                raise InputError(f"SNDlib demand file {label!r}: time {m.group(1)!r} is not a valid YYYYMMDD-HHMM "
                                 "time; fix the <time> element") from None
    raise InputError(f"SNDlib demand file {label!r}: no <time>YYYYMMDD-HHMM</time> and no stamp in the file "
                     "name; cannot place it in time")


def _parse_demand_xml(blob: bytes, label: str):
    """``(time, unit, sources, targets, values, declared_nodes)`` of one SNDlib demand file.

    A regular expression reads the common layout fast; files it does not fully account for
    (other element order, prefixes) are parsed with ElementTree, which also catches malformed XML.
    """
    stripped = blob.rstrip()
    start = blob.find(b"<demands")
    n_open = blob.count(b"<demand ", max(start, 0)) + blob.count(b"<demand>", max(start, 0))
    found = _DEMAND_RE.findall(blob, max(start, 0)) if start >= 0 else []
    if start >= 0 and len(found) == n_open and stripped.endswith(b"</network>"):
        tm, un = _TIME_RE.search(blob), _UNIT_RE.search(blob)
        time = _parse_time(tm.group(1).decode("utf-8", "replace") if tm else None, label)
        unit = un.group(1).decode("utf-8", "replace") if un else "MBITPERSEC"
        nodes = [n.decode("utf-8", "replace") for n in _NODE_RE.findall(blob, 0, start)]
        if found:
            src, dst, val = zip(*found)
            return (time, unit, [s.decode("utf-8", "replace") for s in src],
                    [t.decode("utf-8", "replace") for t in dst], [v.decode("utf-8", "replace") for v in val], nodes)
        return time, unit, [], [], [], nodes
    # slow path: full XML parse
    try:
        root = ET.fromstring(blob)
    except (ET.ParseError, LookupError, ValueError) as err:  # LookupError: an unknown encoding
        raise InputError(f"SNDlib demand file {label!r} is not well-formed XML ({one_line(err)}); "
                         "fix or re-download it") from None
    if root.tag.rsplit("}", 1)[-1] != "network":
        raise InputError(f"SNDlib demand file {label!r}: root element is not <network>; not an SNDlib file")
    tm = root.findtext("{*}meta/{*}time") or root.findtext("meta/time")
    unit = (root.findtext("{*}meta/{*}unit") or root.findtext("meta/unit") or "MBITPERSEC").strip()
    nodes = [n.get("id") for n in root.iter() if n.tag.rsplit("}", 1)[-1] == "node" and n.get("id")]
    src, dst, val = [], [], []
    for d in root.iter():
        if d.tag.rsplit("}", 1)[-1] != "demand":
            continue
        parts = {c.tag.rsplit("}", 1)[-1]: (c.text or "").strip() for c in d}
        if not parts.get("source") or not parts.get("target") or "demandValue" not in parts:
            raise InputError(f"SNDlib demand file {label!r}: demand {d.get('id')!r} lacks source, target or "
                             "demandValue")
        src.append(parts["source"]); dst.append(parts["target"]); val.append(parts["demandValue"])
    return _parse_time(tm, label), unit, src, dst, val, nodes


def _iter_demand_blobs(p: Path):
    """``(label, bytes)`` for each demand XML in a folder, a tar archive or a single file."""
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.xml") if f.is_file())
        if not files:
            raise InputError(f"SNDlib demands {str(p)!r}: the folder holds no .xml files")
        for f in files:
            yield str(f), open_bytes(f)
        return
    name = p.name.lower()
    if name.endswith(".xml") or name.endswith(".xml.xz") or name.endswith(".xml.gz"):
        yield str(p), open_bytes(p)
        return
    try:
        tf = tarfile.open(p, "r:*")
    except (tarfile.TarError, OSError, lzma.LZMAError, EOFError) as err:
        raise InputError(f"SNDlib demands {str(p)!r}: not a readable tar archive ({one_line(err)}); give a folder, "
                         "a .tar.xz of XML files, or one .xml") from None
    n = 0
    with tf:
        try:
            for m in tf:
                if m.isfile() and m.name.lower().endswith(".xml"):
                    fh = tf.extractfile(m)
                    if fh is not None:
                        n += 1
                        yield m.name, fh.read()
        except (tarfile.TarError, lzma.LZMAError, EOFError, OSError) as err:
            raise InputError(f"SNDlib demands {str(p)!r}: archive is damaged after {n} files ({one_line(err)}); "
                             "re-download it") from None
    if n == 0:
        raise InputError(f"SNDlib demands {str(p)!r}: the archive holds no .xml files")


def read_sndlib_demands(path, nodes=None, *, drop_empty: bool = True, name: str | None = None) -> TrafficSeries:
    """Read SNDlib demand matrices (one XML file per time step).

    Parameters
    ----------
    path : str or Path
        A folder of SNDlib demand XMLs (searched recursively), a tar archive of them
        (``.tar.xz``, read member by member in memory, nothing is extracted), or one XML file.
        Each file gives ``<meta><time>YYYYMMDD-HHMM</time>`` (UTC; the stamp in the file name is
        used when missing), ``<meta><unit>`` (default ``MBITPERSEC``) and ``<demand>`` elements
        with ``source``, ``target`` and ``demandValue`` (an average rate over the step).
    nodes : sequence of str or Network, optional
        Node order of the matrices; default the sorted union of the nodes the files declare and
        the demand end points. Demands at nodes outside ``nodes`` raise :class:`ValidationError`.
    drop_empty : bool, default True
        Drop steps whose file lists no demand at all (GÉANT's first two files are empty). With
        False they stay as zero matrices and ``meta['empty_steps']`` lists their indices.
    name : str, optional
        Series name; default the file or folder name.

    Returns
    -------
    TrafficSeries
        Sorted by time; ODs missing from a file are zero. ``meta`` holds ``source``,
        ``empty_steps`` (indices of empty steps that were kept) and ``dropped_empty`` (ISO
        times of the empty steps that were dropped).

    Raises
    ------
    InputError
        If the path is unreadable, a file is malformed, or two files share a time stamp.
    ValidationError
        If a demand names a node outside ``nodes`` or has a negative or non-numeric value.
    """
    p = as_path(path, "SNDlib demands", directory=True)
    want = node_list(nodes)
    times, units, srcs, dsts, vals, counts, labels = [], [], [], [], [], [], []
    declared: set[str] = set()
    for label, blob in _iter_demand_blobs(p):
        t, unit, s, d, v, nd = _parse_demand_xml(blob, label)
        times.append(t); units.append(unit); labels.append(label)
        srcs.extend(s); dsts.extend(d); vals.extend(v); counts.append(len(v)); declared.update(nd)
    counts_a = np.array(counts, dtype=np.int64)
    file_of = np.repeat(np.arange(len(counts)), counts_a)
    try:
        values = np.array(vals, dtype=float)
    except ValueError:
        k = next(i for i, x in enumerate(vals) if not _is_float(x))
        raise ValidationError(f"SNDlib demand file {labels[file_of[k]]!r}: demandValue {vals[k]!r} of "
                              f"{srcs[k]}->{dsts[k]} is not a number; fix the file") from None
    factors = np.empty(len(units))
    for k, u in enumerate(units):
        try:
            factors[k] = float(to_bps(1.0, u))
        except SurgeguardError:
            raise InputError(f"SNDlib demand file {labels[k]!r}: unknown <unit> {u!r}; expected MBITPERSEC") from None
    with np.errstate(over="ignore", invalid="ignore"):
        values = values * np.repeat(factors, counts_a)
    bad = _out_of_range(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"SNDlib demand file {labels[file_of[k]]!r}: demandValue {vals[k]!r} "
                              f"{units[file_of[k]]} of {srcs[k]}->{dsts[k]} is {_why(values[k], vals[k])}; a demand must be "
                              f"{DEMAND_RANGE.describe()} bit/s")
    src = np.asarray(srcs, dtype=object)
    dst = np.asarray(dsts, dtype=object)
    if want is None:
        want = sorted(declared | set(srcs) | set(dsts))
    idx = pd.Index(want)
    si, di = idx.get_indexer(src), idx.get_indexer(dst)
    if (si < 0).any() or (di < 0).any():
        bad = sorted(set(src[si < 0]) | set(dst[di < 0]))
        raise ValidationError(f"SNDlib demands {str(p)!r} name node(s) {bad[:5]} that are not in nodes "
                              f"(known: {want[:5]}...); pass the network's nodes or fix the names")
    if len(values):
        repeated = pd.DataFrame({"f": file_of, "s": si, "d": di}).duplicated().to_numpy()
        if repeated.any():
            k = int(np.flatnonzero(repeated)[0])
            raise InputError(f"SNDlib demand file {labels[file_of[k]]!r} lists the demand {srcs[k]}->{dsts[k]} "
                             "more than once; give each demand once")
    stamps = pd.DatetimeIndex(times)
    order = np.argsort(stamps.asi8, kind="stable")
    sorted_stamps = stamps[order]
    dup = sorted_stamps.duplicated()
    if dup.any():
        t0 = sorted_stamps[dup][0]
        same = [labels[k] for k in order if stamps[k] == t0]
        raise InputError(f"SNDlib demands {str(p)!r}: files {same[:2]} share the time {t0}; remove duplicates")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ti = np.repeat(rank, counts_a)
    out = np.zeros((len(times), len(want), len(want)))
    np.add.at(out, (ti, si, di), values)
    empty_sorted = [int(rank[k]) for k in range(len(times)) if counts[k] == 0]
    meta = {"source": str(p), "unit": sorted(set(units)), "empty_steps": sorted(empty_sorted), "dropped_empty": []}
    if drop_empty and empty_sorted:
        keep = np.ones(len(times), bool)
        keep[empty_sorted] = False
        meta["dropped_empty"] = [t.isoformat() for t in sorted_stamps[~keep]]
        meta["empty_steps"] = []
        out, sorted_stamps = out[keep], sorted_stamps[keep]
    if len(out) == 0:
        raise InputError(f"SNDlib demands {str(p)!r}: every file is empty; nothing to read "
                         "(use drop_empty=False to keep empty steps)")
    return TrafficSeries(out, tuple(want), sorted_stamps, name=name or _stem(p), meta=meta)


def _out_of_range(values: np.ndarray) -> np.ndarray:
    """Mask of demands (bit/s) outside :data:`~surgeguard.traffic.DEMAND_RANGE`, NaN included."""
    with np.errstate(invalid="ignore"):
        return ~((values >= DEMAND_RANGE.low) & (values <= DEMAND_RANGE.high))


def _why(v: float, raw=None) -> str:
    """What is wrong with demand ``v`` (bit/s), converted from ``raw``: a finite ``raw`` that
    overflows in the conversion is 'too large', not 'infinite'."""
    if np.isnan(v):
        return "NaN"
    if v < 0:
        return "negative"
    if np.isinf(v) and (raw is None or not np.isfinite(_as_float(raw))):
        return "infinite"
    return "too large"


def _as_float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _is_float(x) -> bool:
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def _stem(p: Path) -> str:
    n = p.name
    for suf in (".tar.xz", ".tar.gz", ".tar.bz2", ".txt.xz", ".hist.xz", ".tgz", ".tar", ".xz", ".gz"):
        if n.lower().endswith(suf):
            return n[: -len(suf)]
    return p.stem if p.suffix else n


# ---------------------------------------------------------------------- numeric text (Zhang, DOTE)
def _numeric_rows(p: Path, what: str) -> np.ndarray:
    """Whitespace-separated numbers, one row per non-empty line, as a (rows, cols) array."""
    text = read_text(p)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"{what} {str(p)!r} is empty; expected one line of numbers per traffic matrix")
    tokens = text.split()
    ncol = len(lines[0].split())
    if len(tokens) != ncol * len(lines):
        for k, ln in enumerate(lines, start=1):
            if len(ln.split()) != ncol:
                raise InputError(f"{what} {str(p)!r}, line {k}: {len(ln.split())} values where line 1 has {ncol}; "
                                 "every line must hold one full matrix")
    try:
        arr = np.array(tokens, dtype=float)
    except ValueError:
        bad = next(t for t in tokens if not _is_float(t))
        raise InputError(f"{what} {str(p)!r}: {bad!r} is not a number; expected whitespace-separated numbers") from None
    return arr.reshape(len(lines), ncol)


def _times(start, step, n: int, what: str) -> pd.DatetimeIndex:
    try:
        t0 = pd.Timestamp(start)
        dt = pd.Timedelta(step)
    except (ValueError, TypeError) as err:
        raise InputError(f"{what}: start {start!r} / step {step!r} not understood ({one_line(err)}); "
                         "use e.g. start='2004-03-01', step='5min'") from None
    if t0 is pd.NaT or dt is pd.NaT:
        raise InputError(f"{what}: start {start!r} / step {step!r} is not a time; use e.g. start='2004-03-01', "
                         "step='5min'")
    if t0.tzinfo is None:
        t0 = t0.tz_localize("UTC")
    if dt <= pd.Timedelta(0):
        raise InputError(f"{what}: step {step!r} must be positive")
    try:
        return pd.date_range(t0.tz_convert("UTC"), periods=n, freq=dt)
    except (ValueError, OverflowError) as err:  # OutOfBoundsDatetime is a ValueError
        raise InputError(f"{what}: {n} steps of {step!r} from {start!r} run past the dates pandas can hold "
                         f"({one_line(err)}); give an earlier start or a shorter step") from None


def _check_rows(values: np.ndarray, what: str, names, stride: int = 1, raw: np.ndarray | None = None,
                unit: str = "bit/s") -> None:
    """Every demand of a (lines, N*N) array of bit/s in range; the message names line, column and OD
    and shows the value as the file gives it (``raw``, in ``unit``)."""
    bad = _out_of_range(values)
    if bad.any():
        line, col = (int(x) for x in np.argwhere(bad)[0])
        n = len(names)
        shown = values if raw is None else raw
        raise ValidationError(f"{what}, line {line + 1}, value {col * stride + 1} ({names[col // n]}->"
                              f"{names[col % n]}): {_why(values[line, col], shown[line, col])} demand "
                              f"{float(shown[line, col])!r} {unit}; a demand must be {DEMAND_RANGE.describe()} bit/s")


def _zhang_start(p: Path) -> pd.Timestamp:
    """Start of Zhang week ``X<k>``: 2004-03-01 + 7 (k - 1) days; 2004-03-01 when the name has no week."""
    m = re.match(r"X(\d{1,2})(?!\d)", p.name)
    week = int(m.group(1)) if m else 1
    return pd.Timestamp("2004-03-01", tz="UTC") + pd.Timedelta(days=7 * (week - 1))


def read_zhang(path, nodes=ABILENE_NODES, start=None, step="5min", *, keep_diagonal: bool = False,
               name: str | None = None) -> TrafficSeries:
    """Read one of Yin Zhang's Abilene traffic-matrix files (``X01`` ... ``X24``).

    Parameters
    ----------
    path : str or Path
        Whitespace-separated text, optionally ``.xz``, one line per 5-minute matrix. Lines have
        N*N values (OD ``i*N + j``, the real measurements) or 5*N*N (per OD: real and four
        estimates; the real values are columns ``0::5``). Unit: 100 bytes per 5 minutes.
    nodes : sequence of str or Network, default :data:`ABILENE_NODES`
        Node order of the file.
    start : str or Timestamp, optional
        Time of the first line (UTC). Default: from the week number in the file name,
        ``X<k>`` starts 2004-03-01 + 7 (k - 1) days (X01: 2004-03-01, X02: 2004-03-08); files
        without a week number start 2004-03-01.
    step : str, default '5min'
        Time between lines.
    keep_diagonal : bool, default False
        Keep the i -> i entries. Zhang's files count traffic that enters and leaves at the same
        PoP (about 17 % of the bytes in X01); it never crosses a backbone link and SNDlib's copy
        of the same data leaves it out, so by default it is set to zero (its share of the total
        is kept in ``meta['diagonal_share']``).
    name : str, optional
        Series name; default the file name without suffixes.

    Returns
    -------
    TrafficSeries
        bit/s = value * 100 * 8 / 300. Off the diagonal the series equals SNDlib's
        ``directed-abilene-zhang-5min`` XML matrices of the same times (to their 6-decimal rounding).

    Raises
    ------
    InputError
        If lines are ragged, not numeric, or have neither N*N nor 5*N*N values.
    """
    p = as_path(path, "Zhang traffic file")
    names = node_list(nodes)
    if not names:
        raise InputError(f"Zhang traffic file {str(p)!r}: pass nodes= (the file's node order, by default the 12 "
                         "Abilene nodes)")
    n = len(names)
    arr = _numeric_rows(p, "Zhang traffic file")
    if arr.shape[1] == n * n:
        od = arr
    elif arr.shape[1] == 5 * n * n:
        od = arr[:, 0::5]
    else:
        raise InputError(f"Zhang traffic file {str(p)!r}: {arr.shape[1]} columns, expected {n * n} (N*N) or "
                         f"{5 * n * n} (5*N*N) for {n} nodes; check the file or the nodes")
    t0 = _zhang_start(p) if start is None else start
    times = _times(t0, step, len(od), f"Zhang traffic file {str(p)!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        bps = to_bps(od, "100bytes/5min")
    _check_rows(bps, f"Zhang traffic file {str(p)!r}", names, stride=arr.shape[1] // (n * n), raw=od,
                unit="x 100 bytes/5 min")
    od = bps
    values = od.reshape(len(od), n, n)
    total = float(values.sum())
    eye = np.arange(n)
    share = float(values[:, eye, eye].sum()) / total if total > 0 else 0.0
    if not keep_diagonal:
        values[:, eye, eye] = 0.0
    return TrafficSeries(values, tuple(names), times, name=name or _stem(p),
                         meta={"source": str(p), "unit": "100bytes/5min", "columns": int(arr.shape[1]),
                               "diagonal_share": share, "diagonal_kept": bool(keep_diagonal)})


def read_dote_hist(path, nodes, start=None, step=None, *, name: str | None = None) -> TrafficSeries:
    """Read a DOTE/FIGRET ``.hist`` file: one N*N row-major matrix in bit/s per line.

    Parameters
    ----------
    path : str or Path
        The ``.hist`` file (optionally ``.xz``); entry ``i*N + j`` of a line is the demand i -> j.
    nodes : sequence of str or Network
        The N node names in the file's index order (e.g. ``read_node_link_json(...).node_names``,
        or :data:`~surgeguard.io.GEANT_NODES` for FIGRET's GÉANT). Required.
    start : str or Timestamp, optional
        Time of the first line (UTC). ``.hist`` files carry no times; default 1970-01-01 00:00 UTC,
        with ``meta['synthetic_times'] = True``.
    step : str, optional
        Time between lines; default one minute.
    name : str, optional
        Series name; default the file stem.

    Returns
    -------
    TrafficSeries

    Raises
    ------
    InputError
        If a line does not hold N*N numbers.
    """
    p = as_path(path, "DOTE .hist file")
    names = node_list(nodes)
    if not names:
        raise InputError(f"DOTE .hist file {str(p)!r}: pass nodes= (the network's node order); "
                         ".hist files hold no node names")
    n = len(names)
    arr = _numeric_rows(p, "DOTE .hist file")
    if arr.shape[1] != n * n:
        raise InputError(f"DOTE .hist file {str(p)!r}: lines hold {arr.shape[1]} values but {n} nodes need "
                         f"{n * n} (N*N); pass the network's nodes that match this file")
    _check_rows(arr, f"DOTE .hist file {str(p)!r}", names)
    synthetic = start is None
    times = _times("1970-01-01" if start is None else start, "1min" if step is None else step, len(arr),
                   f"DOTE .hist file {str(p)!r}")
    return TrafficSeries(arr.reshape(len(arr), n, n), tuple(names), times, name=name or _stem(p),
                         meta={"source": str(p), "unit": "bps", "synthetic_times": synthetic})


# ---------------------------------------------------------------------- long frames
def read_frame(path, nodes=None, *, name: str | None = None) -> TrafficSeries:
    """Read a long-format traffic table (CSV or Parquet).

    Parameters
    ----------
    path : str or Path
        ``.csv`` (optionally compressed, e.g. ``.csv.gz``) or ``.parquet``/``.pq`` with columns
        ``ds`` (time; naive times are UTC), ``src``, ``dst``, exactly one rate column named by
        its unit (``bps``, ``kbps``, ``mbps`` or ``gbps``) and optionally ``class``.
    nodes : sequence of str or Network, optional
        Matrix node order; default the sorted union of ``src`` and ``dst``. A node outside
        ``nodes`` raises :class:`ValidationError`.
    name : str, optional
        Series name; default the file stem.

    Returns
    -------
    TrafficSeries
        Missing (ds, src, dst) rows are zero demand.

    Raises
    ------
    InputError
        If the file cannot be read, has no rows, or lacks ``ds``/``src``/``dst`` or a rate column.
    ValidationError
        If a demand is missing, not a number, negative or above ``MAX_RATE_BPS``, a row repeats
        a (ds, src, dst[, class]) of an earlier one, or a row names an unknown node.
    """
    p = as_path(path, "traffic frame")
    df = read_table(p, "traffic frame")
    lower = {c.lower(): c for c in df.columns}
    rate = [lower[k] for k in RATE_COLUMNS if k in lower]
    need = [c for c in ("ds", "src", "dst") if c not in lower]
    if need or len(rate) != 1:
        what = (f"lacks columns {need}" if need else
                f"has several rate columns {rate}" if rate else "has no rate column")
        raise InputError(f"traffic frame {str(p)!r} {what}; expected ds, src, dst and one of "
                         f"{list(RATE_COLUMNS)} [, class] (got {list(df.columns)})")
    cols = {lower["ds"]: "ds", lower["src"]: "src", lower["dst"]: "dst"}
    if "class" in lower:
        cols[lower["class"]] = "class"
    what = f"traffic frame {str(p)!r}"
    unit = RATE_COLUMNS[rate[0].lower()]
    frame = df[list(cols)].rename(columns=cols)
    if df[rate[0]].dtype.kind == "b":
        raise ValidationError(f"{what}: column {rate[0]} holds true/false values; give rates as numbers")
    rates = pd.to_numeric(df[rate[0]], errors="coerce")
    bad = rates.isna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raw = df[rate[0]].iloc[k]
        problem = "is missing (empty or NaN)" if pd.isna(raw) else f"{str(raw)!r} is not a number"
        raise ValidationError(f"{what}: the {rate[0]} value in data row {k + 1} {problem}; give every row a rate")
    raw = rates.to_numpy(float)
    with np.errstate(over="ignore", invalid="ignore"):
        bps = to_bps(raw, unit)
    bad = _out_of_range(bps)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        shown = f"{float(raw[k])!r} {rate[0]}" + (f" (= {float(bps[k])!r} bit/s)" if unit != "bps" and
                                                  np.isfinite(raw[k]) else "")
        raise ValidationError(f"{what}: {_why(bps[k], raw[k])} demand {shown} in data row {k + 1} "
                              f"({frame['src'].iloc[k]}->{frame['dst'].iloc[k]}); a demand must be "
                              f"{DEMAND_RANGE.describe()} bit/s")
    frame["bps"] = bps
    frame["ds"] = utc_times(frame["ds"], what)
    ts = TrafficSeries.from_frame(frame, nodes=node_list(nodes), name=name or _stem(p), what=what)
    ts.meta.update({"source": str(p), "unit": unit})
    return ts


def write_frame(series: TrafficSeries, path, *, drop_zero: bool = True) -> Path:
    """Write ``series`` as a long table ``ds, src, dst, bps`` (and ``class``), CSV or Parquet.

    Parameters
    ----------
    series : TrafficSeries
    path : str or Path
        Ends in ``.csv`` (optionally ``.csv.gz``) or ``.parquet``/``.pq``.
    drop_zero : bool, default True
        Leave out zero demands. Time steps and nodes that would vanish are kept with one zero
        row each, so :func:`read_frame` (given the same ``nodes``) returns the same series.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> ts = TrafficSeries(np.array([[[0, 5e6], [1e6, 0]]]), ["A", "B"], ["2020-01-01"])
    >>> f = write_frame(ts, os.path.join(tempfile.mkdtemp(), "tm.csv"))
    >>> float(read_frame(f).values.sum())
    6000000.0
    """
    if not isinstance(series, TrafficSeries):
        raise InputError(f"write_frame: expected a TrafficSeries, got {type(series).__name__}")
    p = Path(path).expanduser()
    low = p.name.lower()
    if not (low.endswith(".parquet") or low.endswith(".pq") or ".csv" in low):
        raise InputError(f"write_frame {str(path)!r}: unknown extension; use .csv or .parquet")
    df = series.to_frame(drop_zero=drop_zero)
    if drop_zero and len(series.nodes) >= 2:
        pad = []
        cls = {"class": series.classes[0]} if series.classes else {}
        n0, n1 = series.nodes[0], series.nodes[1]
        for t in series.times.difference(pd.DatetimeIndex(df["ds"].unique())):
            pad.append({"ds": t, **cls, "src": n0, "dst": n1, "bps": 0.0})
        seen = set(df["src"]) | set(df["dst"])
        for nd in series.nodes:
            if nd not in seen:
                pad.append({"ds": series.times[0], **cls, "src": nd, "dst": n1 if nd == n0 else n0, "bps": 0.0})
        if pad:
            df = pd.concat([df, pd.DataFrame(pad)], ignore_index=True).sort_values("ds", kind="stable")
    make_output_dir(p.parent)
    with atomic_path(p) as tmp:
        if low.endswith(".parquet") or low.endswith(".pq"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    return p


# ---------------------------------------------------------------------- tunnels
def read_tunnels(path, nodes) -> list[tuple[str, str, list[list[str]]]]:
    """Read DOTE/FIGRET candidate paths (``tunnels.txt``).

    Parameters
    ----------
    path : str or Path
        One line per OD: ``src dst:n-n-n,n-n-n`` with 0-based node indices; each path is a
        ``-``-joined node sequence from ``src`` to ``dst``.
    nodes : sequence of str or Network
        Names of the node indices (e.g. :data:`~surgeguard.io.GEANT_NODES`).

    Returns
    -------
    list of (src, dst, paths)
        ``paths`` is a list of node-name lists, in file order.

    Raises
    ------
    InputError
        If the file is empty, a line is malformed, an index is out of range, a pair repeats or has
        no path, or a path does not join src to dst or visits a node twice.
    """
    p = as_path(path, "tunnels file")
    names = node_list(nodes)
    if not names:
        raise InputError(f"tunnels file {str(p)!r}: pass nodes= (the names of the node indices)")
    n = len(names)
    what = f"tunnels file {str(p)!r}"
    out = []
    seen: dict[tuple[int, int], int] = {}
    for k, ln in enumerate(read_text(p).splitlines(), start=1):
        if not ln.strip():
            continue
        try:
            head, body = ln.split(":", 1)
            s, t = (_index(x) for x in head.split())
            paths = [[_index(x) for x in seg.strip().split("-")] for seg in body.split(",") if seg.strip()]
        except ValueError:
            raise InputError(f"{what}, line {k}: expected 'src dst:n-n-n,n-n-n' with node indices, got "
                             f"{ln.strip()[:60]!r}") from None
        for path_ in [[s, t]] + paths:
            if any(not 0 <= i < n for i in path_):
                raise InputError(f"{what}, line {k}: node index out of range 0..{n - 1}; pass the matching nodes")
        if s == t:
            raise InputError(f"{what}, line {k}: source and destination are both {s}; list paths between two nodes")
        if (s, t) in seen:
            raise InputError(f"{what}, lines {seen[s, t]} and {k} both list paths for {s} {t}; give each pair once")
        seen[s, t] = k
        if not paths:
            raise InputError(f"{what}, line {k}: no path for {s} {t}; list at least one 'n-n-n' path")
        for path_ in paths:
            if path_[0] != s or path_[-1] != t:
                raise InputError(f"{what}, line {k}: path {'-'.join(map(str, path_))} does not run from {s} to {t}")
            if len(set(path_)) != len(path_):
                raise InputError(f"{what}, line {k}: path {'-'.join(map(str, path_))} visits a node twice; "
                                 "give loop-free paths")
        out.append((names[s], names[t], [[names[i] for i in path_] for path_ in paths]))
    if not out:
        raise InputError(f"{what} is empty; expected one 'src dst:paths' line per OD")
    return out


def _index(text: str) -> int:
    """A node index written in ASCII digits (``int`` alone would also take '+1', '1_0' or other scripts)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise ValueError(text)
    return int(text)


# ---------------------------------------------------------------------- dispatch
_PREFIXES = ("sndlib", "zhang", "dote", "frame")


def _first_line_columns(p: Path) -> int:
    try:
        opener = lzma.open if p.name.lower().endswith(".xz") else open
        with opener(p, "rb") as fh:
            for raw in fh:
                if raw.strip():
                    toks = raw.split()
                    return len(toks) if all(_is_float(x) for x in toks[:5]) else -1
    except (OSError, lzma.LZMAError, EOFError):
        return -1
    return -1


def read_traffic(spec, nodes=None, **kwargs) -> TrafficSeries:
    """Read a traffic series, choosing the reader from the path.

    Parameters
    ----------
    spec : str or Path
        A path, optionally prefixed ``sndlib:``, ``zhang:``, ``dote:`` or ``frame:`` to force
        the reader. Without a prefix: a folder, a tar archive or an ``.xml`` file ->
        :func:`read_sndlib_demands`; ``.hist`` -> :func:`read_dote_hist` (needs ``nodes``);
        ``.csv``/``.parquet`` -> :func:`read_frame`; ``X<k>*.txt[.xz]``, or any ``.txt``/``.txt.xz``
        whose lines hold N*N or 5*N*N numbers (N = ``len(nodes)``, default the 12 Abilene
        nodes) -> :func:`read_zhang`.
    nodes : sequence of str or Network, optional
        Node order, passed to the reader.
    **kwargs
        Passed to the reader (``start``, ``step``, ``drop_empty``, ``name``).

    Returns
    -------
    TrafficSeries

    Raises
    ------
    InputError
        If the path does not exist or matches no format.
    """
    s = str(spec)
    kind = None
    m = re.match(r"^(\w+):(?!//)(.*)$", s) if isinstance(spec, str) else None
    if m and m.group(1).lower() in _PREFIXES:
        kind, s = m.group(1).lower(), m.group(2)
    try:
        p = Path(s).expanduser()
        exists = p.exists()
    except (OSError, ValueError):
        exists = False
    if not exists:
        raise InputError(f"traffic {s!r}: no such file or directory; give {_TRAFFIC_FORMATS}")
    check_regular(p, "traffic", directory=True)
    low = p.name.lower()
    if kind is None:
        if p.is_dir() or re.search(r"\.(tar(\.(xz|gz|bz2))?|tgz|xml)$", low):
            kind = "sndlib"
        elif low.endswith(".hist") or low.endswith(".hist.xz"):
            kind = "dote"
        elif re.search(r"\.(csv(\.\w+)?|parquet|pq)$", low):
            kind = "frame"
        elif re.search(r"\.txt(\.xz)?$", low):
            n = len(node_list(nodes)) if nodes is not None else len(ABILENE_NODES)
            if re.match(r"x\d{1,2}(?!\d)", low) or _first_line_columns(p) in (n * n, 5 * n * n):
                kind = "zhang"
    if kind is None:
        raise InputError(f"traffic {s!r}: unrecognised format; give {_TRAFFIC_FORMATS}")
    if kind == "sndlib":
        return read_sndlib_demands(p, nodes, **kwargs)
    if kind == "dote":
        if nodes is None:
            raise InputError(f"traffic {s!r}: a .hist file holds no node names; pass nodes= (the network's "
                             "node order)")
        return read_dote_hist(p, nodes, **kwargs)
    if kind == "frame":
        return read_frame(p, nodes, **kwargs)
    return read_zhang(p, ABILENE_NODES if nodes is None else nodes, **kwargs)
