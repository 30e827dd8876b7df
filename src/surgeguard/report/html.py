"""The replay report: one self-contained HTML file (inline CSS, inline SVG, a few lines of JS).

:func:`write_replay_report` turns a :class:`~surgeguard.evaluate.ReplayResult` into a page an
operator can open offline or attach to an e-mail: network facts, a per-policy summary table,
utilisation maps at each policy's worst interval, MLU and demand over time, the scenario's
parameters, and any extra sections later stages add (forecast, failures, capacity plan).

Nothing is fetched: no fonts, scripts, stylesheets or images from the network.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import __version__
from ..io.output import atomic_write_text, make_output_dir

from .svg import Line, line_chart_svg, network_map_svg, node_labels, util_legend_html

__all__ = ["write_replay_report", "render_replay_report", "fmt_ratio", "fmt_count", "fmt_tbit",
           "fmt_share", "fmt_ms", "POLICY_COLORS", "POLICY_NOTES"]

#: Line colours for policies, in order of appearance (the oracle is always black, dashed).
POLICY_COLORS = ("#1c7ed6", "#7048e8", "#0c8599", "#d6336c", "#5c940d", "#a61e4d", "#495057", "#1098ad")
ORACLE = "oracle"

#: One-line descriptions of the built-in policies, shown under their names.
POLICY_NOTES = {
    "shortest": "IGP shortest paths, ECMP splits",
    "optimal": "min-MLU LP on the previous interval's matrix",
    "learned": "neural split ratios from the last matrices (DOTE-style)",
    "oracle": "min-MLU LP on the actual matrix (lower bound, unknowable in advance)",
}


# ---------------------------------------------------------------------------------- formatting
def fmt_ratio(x: float) -> str:
    """MLUs and ratios: three decimals (``0.873``)."""
    return "–" if x is None or not np.isfinite(x) else f"{x:.3f}"


def fmt_count(n: int) -> str:
    return f"{int(n):,}"


def fmt_tbit(bits: float) -> str:
    """Traffic volume in Tbit, three significant digits (``0`` when none)."""
    if bits is None or not np.isfinite(bits):
        return "–"
    tb = bits / 1e12
    if tb == 0:
        return "0"
    return f"{tb:,.0f}" if tb >= 1000 else f"{tb:.3g}"


def fmt_share(share: float) -> str:
    """A share as a percentage (``0.42 %``; ``< 0.01 %`` when tiny but not zero)."""
    if share is None or not np.isfinite(share):
        return "–"
    if share == 0:
        return "0 %"
    pct = share * 100
    if pct < 0.01:
        return "< 0.01 %"
    return f"{pct:.2f} %" if pct < 10 else f"{pct:.1f} %"


def fmt_ms(seconds: float) -> str:
    """A duration given in seconds, shown in milliseconds."""
    if seconds is None or not np.isfinite(seconds):
        return "–"
    ms = seconds * 1e3
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.3g}" if ms >= 0.01 else f"{ms:.2g}"


def _fmt_step(step: pd.Timedelta | None) -> str:
    if step is None:
        return "single interval"
    s = step.total_seconds()
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if s >= size and s % size == 0:
            v = int(s // size)
            return f"{v} {unit}" + ("s" if unit == "day" and v > 1 else "")
    return str(step)


def _fmt_time(t: pd.Timestamp) -> str:
    return _utc(t).strftime("%Y-%m-%d %H:%M UTC")


def _utc(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")


def _gbps_range(cap: np.ndarray) -> str:
    if not len(cap):
        return "–"
    lo, hi = float(np.min(cap)) / 1e9, float(np.max(cap)) / 1e9
    f = (lambda g: f"{g:,.0f}" if g >= 10 else f"{g:.3g}")  # noqa: E731
    return f"{f(lo)} Gbit/s" if math.isclose(lo, hi, rel_tol=1e-6) else f"{f(lo)} – {f(hi)} Gbit/s"


def _fmt_value(v) -> str:
    """A scenario parameter as text."""
    if isinstance(v, (pd.Timestamp, datetime)):
        t = pd.Timestamp(v)
        return _fmt_time(t) if t.tz is not None else t.strftime("%Y-%m-%d %H:%M") + " (UTC)"
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, pd.Timedelta):
        return _fmt_step(v)
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}" if abs(int(v)) >= 10_000 else str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not np.isfinite(v):
            return str(v)
        return f"{v:,.6g}" if abs(v) < 1e6 else f"{v:.6g}"
    if isinstance(v, (dict, list, tuple, set)):
        if isinstance(v, set):
            v = sorted(v, key=str)
        return json.dumps(v, default=str, ensure_ascii=False)
    if isinstance(v, np.ndarray):
        return json.dumps(v.tolist(), default=str)
    return str(v)


def _slug(text: str, used: set) -> str:
    base = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "section"
    base = "-".join(filter(None, base.split("-")))[:40]
    s, k = base, 2
    while s in used:
        s, k = f"{base}-{k}", k + 1
    used.add(s)
    return s


# ---------------------------------------------------------------------------------- page parts
_CSS = """
:root{--fg:#212529;--muted:#6c757d;--line:#dee2e6;--bg:#fff;--panel:#f8f9fa;--accent:#1c7ed6}
*{box-sizing:border-box}
body{margin:0;background:#f1f3f5;color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
main{max-width:1320px;margin:0 auto;padding:28px 28px 40px}
header{margin-bottom:8px}
h1{font-size:26px;line-height:1.25;margin:0 0 6px;font-weight:650;letter-spacing:-.01em}
h2{font-size:18px;margin:0 0 4px;font-weight:620}
h3{font-size:15px;margin:0;font-weight:600}
p{margin:6px 0}
.sub{color:var(--muted);font-size:13px}
.intro{font-size:15px;max-width:900px;color:#343a40}
nav{margin:14px 0 4px;display:flex;flex-wrap:wrap;gap:6px}
nav a{font-size:13px;color:var(--accent);text-decoration:none;padding:3px 10px;border:1px solid #d0ebff;
border-radius:999px;background:#e7f5ff}
nav a:hover{background:#d0ebff}
section{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:16px 0}
.facts{display:flex;flex-wrap:wrap;gap:10px 12px;margin:14px 0 0}
.fact{flex:1 1 auto;min-width:130px;background:var(--bg);border:1px solid var(--line);border-radius:8px;
padding:8px 14px}
.fact dt{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.fact dd{margin:2px 0 0;font-size:14px;font-weight:550;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto;margin-top:10px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px}
th,td{padding:6px 10px;border-bottom:1px solid #e9ecef;text-align:right;white-space:nowrap}
th{font-weight:600;color:#495057;background:var(--panel)}
thead tr:first-child th{border-bottom:none;font-size:11px;text-transform:uppercase;letter-spacing:.05em;
color:var(--muted)}
th.grp{text-align:center;border-left:1px solid var(--line)}
td.l,th.l{text-align:left}
.gs{border-left:1px solid var(--line)}
tbody tr:hover td{background:#f8f9fa}
td.pol{white-space:normal;min-width:180px}
.pname{font-weight:600}
.pnote{display:block;color:var(--muted);font-size:11.5px;line-height:1.3}
.sw{display:inline-block;width:16px;height:3px;border-radius:2px;vertical-align:middle;margin-right:7px}
.sw.dash{background:repeating-linear-gradient(90deg,#000 0 5px,transparent 5px 8px)!important}
.bad{color:#c92a2a;font-weight:600}
.warn{color:#d9480f}
.pct{color:var(--muted);font-size:11.5px;margin-left:3px}
.notes{color:var(--muted);font-size:12.5px;margin-top:10px}
.notes li{margin:2px 0}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px;font-size:12.5px;margin:10px 0 12px}
.lg-title{color:var(--muted);font-weight:600}
.lg-sep{margin-left:12px}
.lg-item{display:inline-flex;align-items:center;gap:6px}
.lg-line{display:inline-block;width:26px;height:5px;border-radius:3px}
.maps{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:16px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 12px 12px;background:var(--bg)}
figcaption{margin-bottom:8px}
figcaption .meta{display:flex;flex-direction:column;color:var(--muted);font-size:12.5px;line-height:1.45;
font-variant-numeric:tabular-nums}
figure{display:flex;flex-direction:column}figure svg{margin-top:auto}
svg{display:block;width:100%;height:auto}
.chart-legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:12.5px;margin:8px 0 4px}
.chart-legend span{display:inline-flex;align-items:center}
.chart-box{position:relative}
.tip{position:fixed;pointer-events:none;background:rgba(33,37,41,.94);color:#fff;font-size:12px;
padding:6px 9px;border-radius:6px;line-height:1.45;z-index:10;display:none;font-variant-numeric:tabular-nums}
.tip b{font-weight:600}
.tip i{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.kv{max-width:760px}
.kv td{text-align:left;white-space:normal}
.kv td:first-child{color:#495057;font-weight:600;width:34%}
.kv code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:22px}
@media print{body{background:#fff}section{break-inside:avoid;border:none;padding:0}nav,.tip{display:none}}
"""

_JS = """
(function(){var tip=document.createElement('div');tip.className='tip';document.body.appendChild(tip);
document.querySelectorAll('rect.hover').forEach(function(r){var d=JSON.parse(r.getAttribute('data-tip'));
var svg=r.ownerSVGElement,xh=svg.querySelector('.xhair'),vb=svg.viewBox.baseVal;
r.addEventListener('mousemove',function(e){var b=svg.getBoundingClientRect(),x=(e.clientX-b.left)*vb.width/b.width,
lo=0,hi=d.x.length-1;while(hi-lo>1){var m=(lo+hi)>>1;if(d.x[m]<x)lo=m;else hi=m;}
var i=(Math.abs(d.x[lo]-x)<=Math.abs(d.x[hi]-x))?lo:hi;xh.setAttribute('x1',d.x[i]);xh.setAttribute('x2',d.x[i]);
xh.setAttribute('visibility','visible');var h='<b>'+d.t[i]+'</b>';d.s.forEach(function(s){if(s.v[i]!==null)
h+='<br><i style="background:'+s.c+'"></i>'+s.n+': '+s.v[i];});tip.innerHTML=h;tip.style.display='block';
var w=tip.offsetWidth;tip.style.left=(e.clientX+w+24>window.innerWidth?e.clientX-w-14:e.clientX+14)+'px';
tip.style.top=(e.clientY+14)+'px';});
r.addEventListener('mouseleave',function(){tip.style.display='none';xh.setAttribute('visibility','hidden');});});})();
"""


def _policy_colors(policies: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    out, k = {}, 0
    for p in policies:
        if p == ORACLE:
            out[p] = ("#000000", "5 4")
        else:
            out[p] = (POLICY_COLORS[k % len(POLICY_COLORS)], None)
            k += 1
    return out


def _swatch(color: str, dash: str | None) -> str:
    return f'<span class="sw{" dash" if dash else ""}" style="background:{color}"></span>'


def _policy_cell(name: str, colors) -> str:
    c, d = colors[name]
    note = POLICY_NOTES.get(name)
    note_html = f'<span class="pnote">{escape(note)}</span>' if note else ""
    return f'<td class="l pol">{_swatch(c, d)}<span class="pname">{escape(name)}</span>{note_html}</td>'


def _summary_section(result, policies, colors) -> str:
    summ = result.summary()["policies"]
    n_steps = {p: summ[p]["steps"] for p in policies}
    rows = []
    for p in policies:
        s = summ[p]
        mmax = s["mlu_max"]
        mlu_cls = ' class="bad"' if mmax > 1 else ' class="warn"' if mmax > 0.9 else ""
        o1, o9 = s["intervals_over_1"], s["intervals_over_0_9"]

        def cnt(c, n=n_steps[p], bad=False):
            if c == 0:
                return "<td class=\"gs\">0</td>" if bad else "<td>0</td>"
            pct = f'<span class="pct">{100 * c / max(n, 1):.1f}%</span>'
            return (f'<td class="gs"><span class="bad">{fmt_count(c)}</span>{pct}</td>' if bad
                    else f"<td>{fmt_count(c)}{pct}</td>")

        ratio_cells = (f'<td class="gs">{fmt_ratio(s["ratio_mean"])}</td><td>{fmt_ratio(s["ratio_p99"])}</td>'
                       f'<td>{fmt_ratio(s["ratio_max"])}</td>')
        lost_cls = ' class="gs bad"' if s["lost_bits"] > 0 else ' class="gs"'
        rows.append(
            "<tr>" + _policy_cell(p, colors)
            + f'<td class="gs">{fmt_ratio(s["mlu_mean"])}</td><td>{fmt_ratio(s["mlu_p50"])}</td>'
            f'<td>{fmt_ratio(s["mlu_p90"])}</td><td>{fmt_ratio(s["mlu_p99"])}</td>'
            f"<td{mlu_cls}>{fmt_ratio(mmax)}</td>"
            + ratio_cells + cnt(o1, bad=True) + cnt(o9)
            + f"<td{lost_cls}>{fmt_tbit(s['lost_bits'])}</td><td>{fmt_share(s['lost_share'])}</td>"
            f'<td class="gs">{fmt_ms(s["decision_seconds_mean"])}</td></tr>')
    head = ('<thead><tr><th class="l"></th><th class="grp" colspan="5">MLU</th>'
            '<th class="grp" colspan="3">Ratio to oracle</th><th class="grp" colspan="2">Intervals</th>'
            '<th class="grp" colspan="2">Traffic lost</th><th class="grp">Decision</th></tr>'
            '<tr><th class="l">Policy</th><th class="gs">mean</th><th>p50</th><th>p90</th><th>p99</th>'
            '<th>max</th><th class="gs">mean</th><th>p99</th><th>max</th><th class="gs">MLU&nbsp;&gt;&nbsp;1</th>'
            '<th>MLU&nbsp;&gt;&nbsp;0.9</th><th class="gs">Tbit</th><th>share</th>'
            '<th class="gs">mean ms</th></tr></thead>')
    step = result.series.step
    notes = [
        "MLU: maximum link utilisation of an interval (load / capacity of the busiest link); "
        "above 1 the busiest link is overloaded and traffic is lost.",
        "Ratio to oracle: a policy's MLU divided by the oracle's MLU in the same interval (1 = as good as "
        "the best routing with perfect knowledge of that interval's traffic).",
        "Traffic lost: on each overloaded link the excess over capacity, charged to the flows crossing it"
        + (f", integrated over the {escape(_fmt_step(step))} intervals" if step is not None else "")
        + "; share of all demand.",
        "Decision: mean wall-clock time a policy took to choose its routing for an interval.",
    ]
    n_max = max(n_steps.values(), default=0)
    return (f'<h2>Summary</h2><p class="sub">{fmt_count(n_max)} interval{"s" if n_max != 1 else ""} per policy.</p>'
            f'<div class="table-wrap"><table class="summary">{head}<tbody>{"".join(rows)}</tbody></table></div>'
            f'<ul class="notes">{"".join(f"<li>{n}</li>" for n in notes)}</ul>')


def _policy_steps(result, policy: str) -> pd.DataFrame:
    return result.steps[result.steps["policy"] == policy].reset_index(drop=True)


def _maps_section(result, policies, colors) -> str:
    net = result.network
    labels = node_labels(net)
    figs = []
    for p in policies:
        util = result.link_util.get(p)
        g = _policy_steps(result, p)
        if util is None or not len(g):
            continue
        w = result.worst_step(p)
        row = g.iloc[w]
        u = np.asarray(util[w], float)
        k = int(np.nanargmax(u)) if np.isfinite(u).any() else None
        n_over = int((u > 1.0).sum())
        line2 = f"MLU <b>{fmt_ratio(row['mlu'])}</b>"
        if p != ORACLE:
            line2 += f" · oracle {fmt_ratio(row['oracle_mlu'])}"
        if n_over:
            line2 += f' · <span class="bad">{n_over} overloaded link{"s" if n_over != 1 else ""}</span>'
        line3 = "&nbsp;"
        if k is not None:
            a, b = labels[int(net.src[k])], labels[int(net.dst[k])]
            line3 = f"busiest link {escape(a)} → {escape(b)} at {fmt_ratio(u[k])}"
        meta = (f"<span>worst interval {escape(_fmt_time(row['time']))} (step {int(row['step'])})</span>"
                f"<span>{line2}</span><span>{line3}</span>")
        svg = network_map_svg(net, u, title=f"{p}: link utilisation at {_fmt_time(row['time'])}")
        c, d = colors[p]
        figs.append(f'<figure><figcaption><h3>{_swatch(c, d)}{escape(p)}</h3>'
                    f'<span class="meta">{meta}</span></figcaption>{svg}</figure>')
    return ('<h2>Utilisation maps at each policy\'s worst interval</h2>'
            '<p class="sub">Each map shows the interval with the policy\'s highest MLU. Hover a link or a city '
            'for its figures.</p>'
            + util_legend_html(net.capacity) + f'<div class="maps">{"".join(figs)}</div>')


def _scenario_start(scenario: dict):
    if "start" not in scenario or scenario["start"] is None:
        return None
    try:
        return _utc(scenario["start"])
    except (ValueError, TypeError):
        return None


def _charts_section(result, policies, colors) -> str:
    steps = result.steps
    first = _policy_steps(result, policies[0])
    times = pd.DatetimeIndex(pd.to_datetime(first["time"]))
    lines = []
    for p in policies:
        g = _policy_steps(result, p)
        c, d = colors[p]
        lines.append(Line(p, g["mlu"].to_numpy(float), c, dash=d, width=1.3 if p == ORACLE else 1.6))
    # draw the oracle last, on top
    lines.sort(key=lambda ln: ln.name == ORACLE)
    vlines, start_note = [], ""
    start = _scenario_start(result.scenario)
    if start is not None:
        name = str(result.scenario.get("name", "scenario"))
        label = f"{name} starts · {start.strftime('%d %b %H:%M')} UTC"
        t0, t1 = _utc(times.min()), _utc(times.max())
        if t0 <= start <= t1:
            vlines.append((start, label))
        else:
            start_note = (f'<p class="sub">The scenario starts {escape(_fmt_time(start))}, outside the replayed '
                          "span.</p>")
    mlu_svg = line_chart_svg(times, lines, height=360, y_label="MLU", y_fmt="{:.2f}", tip_fmt="{:.3f}",
                             hlines=[(1.0, "capacity", "#c92a2a"), (0.9, "0.9", "#f08c00")],
                             vlines=vlines, chart_id="chart-mlu", title="MLU over time per policy")
    legend = "".join(f"<span>{_swatch(*colors[p])}{escape(p)}</span>" for p in policies)
    # total demand: the same for every policy; take the oracle's rows (else the first policy's)
    dp = ORACLE if ORACLE in policies else policies[0]
    dem = _policy_steps(result, dp)
    dem_svg = line_chart_svg(pd.to_datetime(dem["time"]), [Line("demand", dem["demand_bps"].to_numpy(float) / 1e9,
                                                                "#495057", fill=True, width=1.3)],
                             height=200, y_label="Gbit/s", y_fmt="{:,.0f}", tip_fmt="{:,.1f} Gbit/s",
                             vlines=vlines, chart_id="chart-demand", title="Total demand over time")
    d = dem["demand_bps"].to_numpy(float) / 1e9
    dem_facts = ""
    if len(d) and np.isfinite(d).any():
        i = int(np.nanargmax(d))
        dem_facts = (f"mean {np.nanmean(d):,.1f} Gbit/s, peak {d[i]:,.1f} Gbit/s at "
                     f"{escape(_fmt_time(dem['time'].iloc[i]))}")
    n = len(first)
    ds_note = " Long series are drawn with each pixel column's maximum, so peaks stay visible." if n > 1100 else ""
    return ('<h2>MLU over time</h2>'
            f'<p class="sub">Per interval, the maximum link utilisation of each policy; dashed lines at 0.9 and 1.0.'
            f'{ds_note} Hover for values.</p>'
            f'{start_note}<div class="chart-legend">{legend}</div><div class="chart-box">{mlu_svg}</div>'
            f'<h2 style="margin-top:18px">Total demand</h2><p class="sub">{dem_facts}</p>'
            f'<div class="chart-box">{dem_svg}</div>')


def _scenario_section(scenario: dict) -> str:
    if not scenario:
        return '<h2>Scenario</h2><p class="sub">No scenario parameters recorded.</p>'
    rows = []
    for k, v in scenario.items():
        text = _fmt_value(v)
        if str(k).endswith("_bps") and isinstance(v, (int, float, np.integer, np.floating)) \
                and not isinstance(v, (bool, np.bool_)) and np.isfinite(v):
            text = f"{float(v) / 1e9:,.4g} Gbit/s ({text} bit/s)"
        cell = f"<code>{escape(text)}</code>" if isinstance(v, (dict, list, tuple, set, np.ndarray)) else escape(text)
        rows.append(f'<tr><td>{escape(str(k))}</td><td>{cell}</td></tr>')
    return f'<h2>Scenario</h2><table class="kv"><tbody>{"".join(rows)}</tbody></table>'


def _facts(result, policies) -> str:
    net, steps = result.network, result.steps
    src, dst = np.asarray(net.src), np.asarray(net.dst)
    pairs = len({(min(a, b), max(a, b)) for a, b in zip(src.tolist(), dst.tolist())})
    first = _policy_steps(result, policies[0]) if policies else steps
    times = pd.to_datetime(first["time"]) if len(first) else pd.Series([], dtype="datetime64[ns, UTC]")
    step = result.series.step
    if len(times):
        t0, t1 = _utc(times.min()), _utc(times.max())
        end = t1 + step if step is not None else t1
        span = (f"{t0.strftime('%Y-%m-%d %H:%M')} → {end.strftime('%Y-%m-%d %H:%M')} UTC" if end > t0
                else _fmt_time(t0))
    else:
        span = "–"
    n_int = len(first)
    step_text = (f"{escape(_fmt_step(step))} · {fmt_count(n_int)} interval{'s' if n_int != 1 else ''}"
                 if step is not None else f"{fmt_count(n_int)} interval{'s' if n_int != 1 else ''}")
    facts = [
        ("Network", escape(str(net.name))),
        ("Nodes", fmt_count(net.n_nodes)),
        ("Links", f"{fmt_count(pairs)} ({fmt_count(net.n_links)} directed)"),
        ("Link capacity", escape(_gbps_range(net.capacity))),
        ("Time span", escape(span)),
        ("Step", step_text),
        ("Traffic", escape(str(result.series.name))),
        ("Policies", escape(", ".join(policies))),
    ]
    start = _scenario_start(result.scenario or {})
    if result.scenario:
        name = escape(str(result.scenario.get("name", "scenario")))
        facts.append(("Scenario", name + (f" from {escape(start.strftime('%d %b %Y %H:%M'))} UTC"
                                          if start is not None else "")))
    if len(first) and "demand_bps" in first:
        d = first["demand_bps"].to_numpy(float)
        if np.isfinite(d).any():
            facts.append(("Peak demand", f"{np.nanmax(d) / 1e9:,.1f} Gbit/s"))
    return '<dl class="facts">' + "".join(
        f'<div class="fact"><dt>{k}</dt><dd>{v}</dd></div>' for k, v in facts) + "</dl>"


# ---------------------------------------------------------------------------------- the page
def render_replay_report(result, *, title: str, intro: str = "",
                         extra_sections: list[tuple[str, str]] | None = None) -> str:
    """The report page as a string; see :func:`write_replay_report`."""

    policies = result.policies
    colors = _policy_colors(policies)
    used: set = set()
    sections: list[tuple[str, str, str]] = []  # (id, nav label, html)
    if policies:
        sections.append((_slug("summary", used), "Summary", _summary_section(result, policies, colors)))
        sections.append((_slug("maps", used), "Maps", _maps_section(result, policies, colors)))
        sections.append((_slug("mlu over time", used), "MLU over time", _charts_section(result, policies, colors)))
    else:
        sections.append((_slug("summary", used), "Summary", '<h2>Summary</h2><p class="sub">The replay has no '
                         "steps.</p>"))
    sections.append((_slug("scenario", used), "Scenario", _scenario_section(result.scenario or {})))
    for heading, body in extra_sections or []:
        sid = _slug(str(heading), used)
        sections.append((sid, str(heading), f"<h2>{escape(str(heading))}</h2>{body}"))
    nav = "".join(f'<a href="#{sid}">{escape(label)}</a>' for sid, label, _ in sections)
    body = "".join(f'<section id="{sid}">{html}</section>' for sid, _, html in sections)
    intro_html = f'<p class="intro">{escape(intro)}</p>' if intro else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="surgeguard ' + escape(__version__) + '">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<header><h1>{escape(title)}</h1>{intro_html}{_facts(result, policies)}<nav>{nav}</nav></header>"
        f"{body}<footer>surgeguard {escape(__version__)} · replay report · self-contained page, "
        "no external resources</footer></main>"
        f"<script>{_JS}</script></body></html>\n")


def write_replay_report(result, path, *, title: str, intro: str = "",
                        extra_sections: list[tuple[str, str]] | None = None) -> Path:
    """Write the replay report of ``result`` as one self-contained HTML file.

    Parameters
    ----------
    result : a :class:`~surgeguard.evaluate.ReplayResult`.
    path : the file to write (its folder is created); conventionally ``report.html``.
    title, intro : the page heading and an introductory paragraph (plain text, escaped).
    extra_sections : ``(heading, html)`` pairs appended after the built-in sections; the heading is
        escaped, the html is inserted as-is (it must be self-contained too).

    Returns
    -------
    The path written.

    The page shows the network facts and time span, a summary table per policy (MLU statistics,
    ratio to the oracle, congested intervals, traffic lost, decision time), a utilisation map at
    each policy's worst interval, MLU and total demand over time, and the scenario's parameters.
    Charts are inline SVG downsampled to one point per pixel column (keeping maxima), so a
    two-week replay at 15 minutes stays well under a megabyte.
    """
    out = Path(path)
    make_output_dir(out.parent)
    atomic_write_text(out, render_replay_report(result, title=title, intro=intro, extra_sections=extra_sections),
                      encoding="utf-8")
    return out
