"""Inline SVG drawings for the HTML reports, built from plain strings (no plotting library).

Two drawings, reusable by later report sections:

* :func:`network_map_svg` -- the network drawn from node longitude/latitude (equirectangular with
  a cos(latitude) correction; a circular layout when coordinates are missing), links coloured by
  utilisation (:func:`util_color`, bands :data:`UTIL_BANDS`) and sized by capacity.
* :func:`line_chart_svg` -- time series over a UTC axis, downsampled to one point per pixel
  column keeping each column's maximum, so that short peaks stay visible.

Every piece of text goes through :func:`html.escape`. Coordinates are rounded to 0.1 px to keep
the files small.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["UTIL_BANDS", "util_color", "util_legend_html", "network_map_svg", "node_labels", "Line", "line_chart_svg",
           "time_ticks", "nice_ticks"]

#: Utilisation colour bands: (upper bound, colour, legend label). Green below 0.6, yellow and
#: orange up to 0.9, red up to 1, purple above 1 (traffic is being lost).
UTIL_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.6, "#2f9e44", "< 0.6"),
    (0.75, "#e0b000", "0.6 – 0.75"),
    (0.9, "#f08c00", "0.75 – 0.9"),
    (1.0, "#e03131", "0.9 – 1.0"),
    (math.inf, "#7b1fa2", "> 1.0 (overload)"),
)
_NO_DATA = "#adb5bd"


def util_color(u: float) -> str:
    """The band colour of utilisation ``u`` (grey for NaN)."""
    if u is None or not np.isfinite(u):
        return _NO_DATA
    for upper, colour, _ in UTIL_BANDS:
        if u <= upper:
            return colour
    return UTIL_BANDS[-1][1]  # pragma: no cover


def _n(x: float) -> str:
    """A coordinate with at most one decimal."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _text_width(text: str, size: float) -> float:
    """Rough rendered width of ``text`` in a sans-serif font of ``size`` px."""
    wide = sum(1 for c in text if c.isupper() or c in "mwMW")
    return size * (0.55 * len(text) + 0.12 * wide)


# ------------------------------------------------------------------------------------ legend
def util_legend_html(capacity_bps: Sequence[float] | None = None) -> str:
    """The shared map legend: utilisation bands and, when capacities differ, line widths."""
    items = "".join(
        f'<span class="lg-item"><span class="lg-line" style="background:{c}"></span>{escape(lbl)}</span>'
        for _, c, lbl in UTIL_BANDS)
    out = f'<div class="legend"><span class="lg-title">Link utilisation (max of both directions)</span>{items}'
    if capacity_bps is not None and len(capacity_bps):
        cap = np.asarray(capacity_bps, float)
        lo, hi = float(np.nanmin(cap)), float(np.nanmax(cap))
        if hi > lo * 1.0001:
            out += ('<span class="lg-title lg-sep">Line width</span>'
                    f'<span class="lg-item"><span class="lg-line" style="height:{_n(_width(lo, hi))}px;'
                    f'background:#495057"></span>{escape(_gbps(lo))}</span>'
                    f'<span class="lg-item"><span class="lg-line" style="height:{_n(_width(hi, hi))}px;'
                    f'background:#495057"></span>{escape(_gbps(hi))}</span>')
        else:
            out += f'<span class="lg-title lg-sep">All links {escape(_gbps(hi))}</span>'
    return out + "</div>"


def _gbps(bps: float) -> str:
    g = bps / 1e9
    return f"{g:,.0f} Gbit/s" if g >= 10 else f"{g:.3g} Gbit/s"


def _width(cap: float, cap_max: float, lo: float = 1.6, hi: float = 6.0) -> float:
    """Line width for a capacity: area-like (square root) scale from ``lo`` to ``hi`` px."""
    if not (cap_max > 0) or not np.isfinite(cap):
        return (lo + hi) / 2
    return lo + (hi - lo) * math.sqrt(max(cap, 0.0) / cap_max)


# ------------------------------------------------------------------------------------ network map
def _layout(network, width: float, pad: float, max_aspect: float = 1.25, min_aspect: float = 0.5):
    """Node positions (x, y arrays in px), the drawing height, and whether it is geographic."""
    nd = network.nodes
    n = len(nd)
    lon = pd.to_numeric(nd["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(nd["lat"], errors="coerce").to_numpy(float)
    geo = bool(np.isfinite(lon).all() and np.isfinite(lat).all())
    if geo:
        lat0 = math.radians(float(np.mean(lat)))
        px, py = lon * math.cos(lat0), -lat
        if np.ptp(px) <= 1e-9 and np.ptp(py) <= 1e-9:
            geo = False  # all nodes at one place: a map would be a dot
    if not geo:
        ang = np.pi / 2 - 2 * np.pi * np.arange(n) / max(n, 1)
        px, py = np.cos(ang), -np.sin(ang)
        height = width * 0.8
    else:
        dx, dy = max(np.ptp(px), 1e-9), max(np.ptp(py), 1e-9)
        height = width * min(max(dy / dx, min_aspect), max_aspect)
    dx, dy = max(np.ptp(px), 1e-9), max(np.ptp(py), 1e-9)
    s = min((width - 2 * pad) / dx, (height - 2 * pad) / dy)
    x = (px - px.min()) * s + (width - dx * s) / 2
    y = (py - py.min()) * s + (height - dy * s) / 2
    return x, y, height, geo


def _seg_hits_box(x1, y1, x2, y2, box) -> bool:
    """Whether segment (x1, y1)-(x2, y2) crosses the box (x0, y0, x1, y1) (Liang-Barsky)."""
    bx0, by0, bx1, by1 = box
    dx, dy = x2 - x1, y2 - y1
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x1 - bx0), (dx, bx1 - x1), (-dy, y1 - by0), (dy, by1 - y1)):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            if r > t1:
                return False
            t0 = max(t0, r)
        else:
            if r < t0:
                return False
            t1 = min(t1, r)
    return t0 <= t1


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _place_labels(x, y, labels, order, segments, width, height, size, r_node, drop_if_crowded):
    """Greedy label placement: for each node (in ``order``) the candidate position around it with
    the least overlap with placed labels, nodes and links, inside the drawing."""
    node_boxes = [(xi - r_node - 1, yi - r_node - 1, xi + r_node + 1, yi + r_node + 1) for xi, yi in zip(x, y)]
    placed: list[tuple] = []
    out: dict[int, tuple[float, float, str]] = {}
    g = r_node + 3  # gap between node and label
    asc, desc = 0.72 * size, 0.25 * size
    for i in order:
        w = _text_width(labels[i], size)
        cands = [  # (anchor x, baseline y, text-anchor, box)
            (x[i] + g, y[i] + asc / 2 - 1, "start"),
            (x[i] - g, y[i] + asc / 2 - 1, "end"),
            (x[i], y[i] - g - desc, "middle"),
            (x[i], y[i] + g + asc, "middle"),
            (x[i] + g * 0.7, y[i] - g * 0.7 - desc, "start"),
            (x[i] + g * 0.7, y[i] + g * 0.7 + asc, "start"),
            (x[i] - g * 0.7, y[i] - g * 0.7 - desc, "end"),
            (x[i] - g * 0.7, y[i] + g * 0.7 + asc, "end"),
        ]
        best, best_score = None, math.inf
        for k, (ax, by, anchor) in enumerate(cands):
            x0 = ax if anchor == "start" else ax - w if anchor == "end" else ax - w / 2
            box = (x0 - 1, by - asc - 1, x0 + w + 1, by + desc + 1)
            if box[0] < 1 or box[2] > width - 1 or box[1] < 1 or box[3] > height - 1:
                continue
            hard = sum(_overlap(box, p) for p in placed)
            hard += sum(_overlap(box, nb) for j, nb in enumerate(node_boxes) if j != i)
            soft = sum(1 for s in segments if s[0] != i and s[1] != i and _seg_hits_box(*s[2:], box))
            soft += sum(0.5 for s in segments if (s[0] == i or s[1] == i) and _seg_hits_box(*s[2:], box))
            score = hard * 10 + soft * 3 + k * 0.5
            if score < best_score:
                best, best_score = (ax, by, anchor, box, hard), score
        if best is None or (drop_if_crowded and best[4] > 0):
            continue
        placed.append(best[3])
        out[i] = best[:4]
    return out


def node_labels(network) -> list[str]:
    """Display names of the nodes: the ``city`` column where the nodes have one, else the names."""
    nd = network.nodes
    names = [str(v) for v in nd.index]
    if "city" not in nd.columns:
        return names
    return [c.strip() if isinstance(c, str) and c.strip() else nm for c, nm in zip(nd["city"], names)]


def network_map_svg(network, util: Sequence[float], *, width: float = 460, pad: float = 22,
                    label_size: float = 12.0, title: str | None = None, annotate_max: bool = True) -> str:
    """The network as an inline SVG, links coloured by utilisation ``util`` (one per directed link).

    The two directions of a link (and parallel links) are drawn as one line coloured by the highest
    utilisation among them and sized by the largest capacity of a direction. Each line and node
    has a tooltip (``<title>``) with its figures; with ``annotate_max`` the busiest line is labelled
    with its utilisation. Node labels use the ``city`` column when the nodes
    have one, else the node names; with many nodes, labels that would collide are left out.
    """
    util = np.asarray(util, float)
    nd = network.nodes
    n = len(nd)
    x, y, height, geo = _layout(network, width, pad)
    names = [str(v) for v in nd.index]
    labels = node_labels(network)
    src, dst = np.asarray(network.src), np.asarray(network.dst)
    cap = network.capacity
    # group directed links by unordered node pair
    pairs: dict[tuple[int, int], dict] = {}
    for k in range(len(src)):
        a, b = int(src[k]), int(dst[k])
        key = (min(a, b), max(a, b))
        p = pairs.setdefault(key, {"fwd": [], "rev": []})
        p["fwd" if a == key[0] else "rev"].append(k)
    cap_dir = []
    for p in pairs.values():
        c = max(sum(cap[k] for k in p["fwd"]), sum(cap[k] for k in p["rev"]))
        u = [util[k] for k in p["fwd"] + p["rev"] if np.isfinite(util[k])]
        p["cap"], p["u"] = c, (max(u) if u else float("nan"))
        cap_dir.append(c)
    cap_max = max(cap_dir) if cap_dir else 1.0
    segments = [(a, b, x[a], y[a], x[b], y[b]) for (a, b) in pairs]

    parts = [f'<svg class="map" viewBox="0 0 {_n(width)} {_n(height)}" '
             f'role="img" aria-label="{escape(title or "network map")}" '
             f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    parts.append(f'<rect width="{_n(width)}" height="{_n(height)}" fill="#f8f9fa" rx="6"/>')
    if not geo:
        parts.append(f'<text x="8" y="{_n(height - 8)}" font-size="10" fill="#868e96">schematic layout '
                     '(no coordinates)</text>')
    parts.append('<g stroke-linecap="round">')
    order = sorted(pairs.items(), key=lambda kv: (np.nan_to_num(kv[1]["u"], nan=-1.0)))
    for (a, b), p in order:
        w = _width(p["cap"], cap_max)
        col = util_color(p["u"])
        fu = max((util[k] for k in p["fwd"]), default=float("nan"))
        ru = max((util[k] for k in p["rev"]), default=float("nan"))
        tip = (f"{labels[a]} → {labels[b]}: {_u(fu)}\n{labels[b]} → {labels[a]}: {_u(ru)}\n"
               f"capacity {_gbps(p['cap'])}")
        coords = f'x1="{_n(x[a])}" y1="{_n(y[a])}" x2="{_n(x[b])}" y2="{_n(y[b])}"'
        glow = (f'<line {coords} stroke="{col}" stroke-opacity="0.28" stroke-width="{_n(w + 7)}"/>'
                if np.isfinite(p["u"]) and p["u"] > 0.9 else "")
        parts.append(f'<g><title>{escape(tip)}</title>{glow}<line {coords} stroke="#fff" '
                     f'stroke-width="{_n(w + 2.5)}"/><line {coords} stroke="{col}" stroke-width="{_n(w)}"/></g>')
    parts.append("</g>")
    r = 3.6 if n <= 60 else 2.4
    deg = np.bincount(np.concatenate([src, dst]), minlength=n) if len(src) else np.zeros(n)
    parts.append('<g fill="#fff" stroke="#343a40" stroke-width="1.4">')
    for i in range(n):
        tip = labels[i] if labels[i] == names[i] else f"{labels[i]} ({names[i]})"
        if "region" in nd.columns and str(nd["region"].iloc[i]):
            tip += f"\n{nd['region'].iloc[i]}"
        pop = nd["population"].iloc[i] if "population" in nd.columns else float("nan")
        if pd.notna(pop):
            tip += f"\npopulation {float(pop):,.0f}"
        parts.append(f'<circle cx="{_n(x[i])}" cy="{_n(y[i])}" r="{r}"><title>{escape(tip)}</title></circle>')
    parts.append("</g>")
    # label order: most populous (else best connected) first, so that they get the best places
    pop = pd.to_numeric(nd["population"], errors="coerce").to_numpy(float) if "population" in nd.columns \
        else np.full(n, np.nan)
    key = np.where(np.isfinite(pop), pop, -1.0)
    order_nodes = sorted(range(n), key=lambda i: (-key[i], -deg[i], i))
    placed = _place_labels(x, y, labels, order_nodes, segments, width, height, label_size, r,
                           drop_if_crowded=n > 30)
    parts.append(f'<g font-size="{_n(label_size)}" fill="#212529" stroke="#f8f9fa" stroke-width="3" '
                 'stroke-linejoin="round" paint-order="stroke">')
    for i, (ax, by, anchor, _) in placed.items():
        parts.append(f'<text x="{_n(ax)}" y="{_n(by)}" text-anchor="{anchor}">{escape(labels[i])}</text>')
    parts.append("</g>")
    if annotate_max and pairs:
        parts.append(_max_annotation(pairs, x, y, [b[3] for b in placed.values()], width, height))
    parts.append("</svg>")
    return "".join(parts)


def _max_annotation(pairs, x, y, boxes, width, height, size: float = 11.5) -> str:
    """The busiest line's utilisation, written beside its middle on the freer side."""
    (a, b), p = max(pairs.items(), key=lambda kv: np.nan_to_num(kv[1]["u"], nan=-1.0))
    if not np.isfinite(p["u"]):
        return ""
    text = f"{p['u']:.2f}"
    w, asc = _text_width(text, size), 0.72 * size
    mx, my = (x[a] + x[b]) / 2, (y[a] + y[b]) / 2
    dx, dy = x[b] - x[a], y[b] - y[a]
    norm = math.hypot(dx, dy) or 1.0
    best, best_score = None, math.inf
    for sign in (1, -1):
        for dist in (9, 15):
            cx, cy = mx - sign * dy / norm * (dist + w / 2), my + sign * dx / norm * (dist + asc / 2)
            box = (cx - w / 2 - 1, cy - asc / 2 - 1, cx + w / 2 + 1, cy + asc / 2 + 1)
            score = sum(_overlap(box, q) for q in boxes) + dist * 0.1
            if box[0] < 1 or box[2] > width - 1 or box[1] < 1 or box[3] > height - 1:
                score += 1e6
            if score < best_score:
                best, best_score = (cx, cy), score
    cx, cy = best
    return (f'<text x="{_n(cx)}" y="{_n(cy + asc / 2)}" text-anchor="middle" font-size="{size}" font-weight="700" '
            f'fill="{util_color(p["u"])}" stroke="#fff" stroke-width="3" paint-order="stroke">{text}</text>')


def _u(u: float) -> str:
    return "–" if not np.isfinite(u) else f"{u:.3f}"


# ------------------------------------------------------------------------------------ line chart
@dataclass
class Line:
    """One series of a line chart."""

    name: str
    values: np.ndarray
    color: str
    dash: str | None = None
    width: float = 1.6
    fill: bool = False


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values from at or below ``lo`` to at or above ``hi``, about ``n`` of them."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    # the finest round step giving at most n + 2 ticks: little headroom above hi
    cands = [m * mag for m in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20)]
    step = next((c for c in cands
                 if math.ceil(hi / c - 1e-9) - math.floor(lo / c + 1e-9) + 1 <= n + 2), cands[-1])
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


_TICK_STEPS = [pd.Timedelta(m) for m in ("15min", "30min", "1h", "2h", "3h", "6h", "12h", "1D", "2D",
                                         "7D", "14D", "28D")]


def time_ticks(t0: pd.Timestamp, t1: pd.Timestamp, max_ticks: int) -> tuple[list[pd.Timestamp], bool]:
    """UTC tick times between ``t0`` and ``t1``: whole days when the span allows, else hours.

    Returns the ticks and whether they are day ticks (at midnight UTC).
    """
    span = t1 - t0
    step = next((s for s in _TICK_STEPS if span / s <= max_ticks), _TICK_STEPS[-1])
    if step >= pd.Timedelta("1D"):
        first = t0.ceil("1D")
        days = step // pd.Timedelta("1D")
        if days == 7:  # weekly ticks on Mondays
            first = first + pd.Timedelta(days=(7 - first.dayofweek) % 7)
        return list(pd.date_range(first, t1, freq=step)), True
    first = t0.ceil(step)
    return list(pd.date_range(first, t1, freq=step)), False


def _downsample(tsec: np.ndarray, values: list[np.ndarray], buckets: int):
    """Per bucket of consecutive points: the bucket's mean time and each series' maximum.

    Returns (times, values, edges): bucket ``k`` holds the points ``edges[k]:edges[k + 1]``.
    """
    n = len(tsec)
    if n <= buckets:
        return tsec, [np.asarray(v, float) for v in values], np.arange(n + 1)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    edges = np.unique(edges)
    starts = edges[:-1]
    tt = np.add.reduceat(tsec, starts) / np.diff(edges)
    out = []
    for v in values:
        v = np.asarray(v, float)
        m = np.where(np.isnan(v), -np.inf, v)
        mx = np.maximum.reduceat(m, starts)
        mx[~np.isfinite(mx)] = np.nan
        out.append(mx)
    return tt, out, edges


def _bucket_label(a: float, b: float) -> str:
    ta = pd.Timestamp(a, unit="s", tz="UTC")
    if b <= a:
        return ta.strftime("%a %d %b %Y %H:%M UTC")
    tb = pd.Timestamp(b, unit="s", tz="UTC")
    end = tb.strftime("%H:%M") if tb.normalize() == ta.normalize() else tb.strftime("%d %b %H:%M")
    return ta.strftime("%a %d %b %Y %H:%M") + f"–{end} UTC (max)"


def line_chart_svg(times, lines: Sequence[Line], *, width: float = 1200, height: float = 340,
                   y_label: str = "", y_min: float = 0.0, y_max: float | None = None,
                   y_fmt: str = "{:.2f}", hlines: Sequence[tuple[float, str, str]] = (),
                   vlines: Sequence[tuple[pd.Timestamp, str]] = (), chart_id: str = "chart",
                   tip_fmt: str | None = None, title: str | None = None) -> str:
    """A time-series chart as inline SVG.

    Parameters
    ----------
    times : UTC timestamps (naive = UTC), one per value.
    lines : the series; NaNs break a line. With more points than pixel columns each column keeps
        its maximum, so peaks are not hidden.
    hlines : (y, label, colour) dashed horizontal reference lines.
    vlines : (time, label) vertical markers (drawn only inside the time range).
    chart_id : id of the SVG. The downsampled data ride along as a ``data-tip`` attribute (JSON,
        names pre-escaped since the page's hover script writes them as HTML) for the tooltip.
    """
    t = pd.DatetimeIndex(pd.to_datetime(times))
    t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    tsec = (t.as_unit("ns").asi8 / 1e9).astype(float)
    ml, mr, mt, mb = 62, 64, 14, 38  # the same margins for every chart: stacked charts align
    pw, ph = width - ml - mr, height - mt - mb
    if len(tsec) == 0:
        return f'<svg class="chart" viewBox="0 0 {_n(width)} 60"><text x="10" y="30">no data</text></svg>'
    t0, t1 = tsec.min(), tsec.max()
    if t1 <= t0:
        t0, t1 = t0 - 1800, t1 + 1800
    ts, vals, edges = _downsample(tsec, [ln.values for ln in lines], int(pw))
    finite = [v[np.isfinite(v)] for v in vals]
    vmax = max([float(f.max()) for f in finite if len(f)] + [y_min + 1e-9] + [h[0] for h in hlines])
    if y_max is None:
        y_max = vmax * 1.03 if vmax > 0 else 1.0
    yt = nice_ticks(y_min, y_max, 5)
    y_max = max(y_max, yt[-1])

    def X(s):
        return ml + (s - t0) / (t1 - t0) * pw

    def Y(v):
        return mt + ph - (v - y_min) / (y_max - y_min) * ph

    font = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"'
    p = [f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {_n(width)} {_n(height)}" '
         f'{font} font-size="11" role="img" '
         f'aria-label="{escape(title or y_label)}" data-x0="{ml}" data-pw="{_n(pw)}">']
    if title:
        p.append(f"<title>{escape(title)}</title>")
    # grid and y axis
    p.append('<g stroke="#e9ecef" stroke-width="1">')
    for v in yt:
        p.append(f'<line x1="{ml}" x2="{_n(ml + pw)}" y1="{_n(Y(v))}" y2="{_n(Y(v))}"/>')
    p.append("</g>")
    p.append('<g fill="#495057" text-anchor="end">')
    for v in yt:
        p.append(f'<text x="{ml - 6}" y="{_n(Y(v) + 4)}">{escape(y_fmt.format(v))}</text>')
    p.append("</g>")
    if y_label:
        p.append(f'<text transform="translate(14 {_n(mt + ph / 2)}) rotate(-90)" text-anchor="middle" '
                 f'fill="#495057">{escape(y_label)}</text>')
    # x axis: day (or hour) ticks in UTC
    tt0, tt1 = pd.Timestamp(t0, unit="s", tz="UTC"), pd.Timestamp(t1, unit="s", tz="UTC")
    ticks, days = time_ticks(tt0, tt1, max(2, int(pw // 70)))
    p.append('<g stroke="#dee2e6">')
    for tk in ticks:
        xs = X(tk.value / 1e9)
        p.append(f'<line x1="{_n(xs)}" x2="{_n(xs)}" y1="{mt}" y2="{_n(mt + ph)}"/>')
    p.append("</g>")
    p.append(f'<g fill="#495057" text-anchor="{"start" if days else "middle"}">')
    for tk in ticks:
        xs = X(tk.value / 1e9)
        if days:
            lbl, xs = tk.strftime("%a %d %b"), xs + 3
        else:
            lbl = tk.strftime("%d %b %H:%M") if (tk.hour == 0 and tk.minute == 0) or tk is ticks[0] \
                else tk.strftime("%H:%M")
        if xs + _text_width(lbl, 11) / (1 if days else 2) > width - 2:
            continue
        p.append(f'<text x="{_n(xs)}" y="{_n(mt + ph + 16)}">{escape(lbl)}</text>')
    p.append("</g>")
    p.append(f'<text x="{_n(ml + pw)}" y="{_n(height - 4)}" text-anchor="end" fill="#868e96">time (UTC)</text>')
    p.append(f'<line x1="{ml}" x2="{_n(ml + pw)}" y1="{_n(mt + ph)}" y2="{_n(mt + ph)}" stroke="#adb5bd"/>')
    # reference lines
    last_y = []
    for v, lbl, col in hlines:
        if y_min <= v <= y_max:
            yv = Y(v)
            p.append(f'<line x1="{ml}" x2="{_n(ml + pw)}" y1="{_n(yv)}" y2="{_n(yv)}" stroke="{col}" '
                     'stroke-width="1.2" stroke-dasharray="6 4"/>')
            if lbl and all(abs(yv - q) >= 12 for q in last_y):
                last_y.append(yv)
                p.append(f'<text x="{_n(ml + pw + 6)}" y="{_n(yv + 4)}" fill="{col}" font-size="10.5" '
                         f'font-weight="600">{escape(lbl)}</text>')
    for tv, lbl in vlines:
        tv = pd.Timestamp(tv)
        tv = tv.tz_localize("UTC") if tv.tz is None else tv.tz_convert("UTC")
        s = tv.value / 1e9
        if t0 <= s <= t1:
            xs = X(s)
            p.append(f'<line x1="{_n(xs)}" x2="{_n(xs)}" y1="{mt}" y2="{_n(mt + ph)}" stroke="#1c7ed6" '
                     'stroke-width="1.5" stroke-dasharray="2 3"/>')
            if lbl:
                right = xs + _text_width(lbl, 10.5) + 8 < ml + pw
                p.append(f'<text x="{_n(xs + 5 if right else xs - 5)}" y="{mt + 12}" fill="#1c7ed6" '
                         f'font-size="10.5" font-weight="600" text-anchor="{"start" if right else "end"}" '
                         f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(lbl)}</text>')
    # the series
    xs_all = X(ts)
    for ln, v in zip(lines, vals):
        ok = np.isfinite(v)
        runs = np.split(np.arange(len(v)), np.flatnonzero(np.diff(ok.astype(int))) + 1)
        for run in runs:
            if not len(run) or not ok[run[0]]:
                continue
            pts = " ".join(f"{_n(xs_all[i])},{_n(Y(v[i]))}" for i in run)
            if ln.fill and len(run) > 1:
                area = f"{_n(xs_all[run[0]])},{_n(Y(y_min))} {pts} {_n(xs_all[run[-1]])},{_n(Y(y_min))}"
                p.append(f'<polygon points="{area}" fill="{ln.color}" fill-opacity="0.12" stroke="none"/>')
            dash = f' stroke-dasharray="{ln.dash}"' if ln.dash else ""
            if len(run) == 1:
                p.append(f'<circle cx="{_n(xs_all[run[0]])}" cy="{_n(Y(v[run[0]]))}" r="2" fill="{ln.color}"/>')
            else:
                p.append(f'<polyline points="{pts}" fill="none" stroke="{ln.color}" '
                         f'stroke-width="{_n(ln.width)}" stroke-linejoin="round"{dash}/>')
    # hover: a crosshair and a tooltip fed by the downsampled data
    tfmt = tip_fmt or y_fmt
    data = {"x": [round(float(xx), 1) for xx in xs_all],
            "t": [_bucket_label(tsec[a], tsec[b - 1]) for a, b in zip(edges[:-1], edges[1:])],
            "s": [{"n": escape(ln.name), "c": escape(ln.color),
                   "v": [None if not np.isfinite(a) else tfmt.format(a) for a in v]} for ln, v in zip(lines, vals)]}
    p.append(f'<line class="xhair" x1="0" x2="0" y1="{mt}" y2="{_n(mt + ph)}" stroke="#868e96" '
             'stroke-width="1" visibility="hidden"/>')
    p.append(f'<rect class="hover" x="{ml}" y="{mt}" width="{_n(pw)}" height="{_n(ph)}" fill="transparent" '
             f'data-tip="{escape(json.dumps(data, separators=(",", ":")))}"/>')
    p.append("</svg>")
    return "".join(p)
