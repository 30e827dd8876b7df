"""The report section "Failures": a :class:`~surgeguard.plan.whatif.WhatIfResult` as HTML.

The what-if is computed by :func:`surgeguard.plan.whatif.run_whatif`; this module only formats it:
the policies' summary, the worst failures, and per link its worst-case utilisation with the failure
that causes it (tables and an inline SVG bar chart, no external resources).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from ...network import Network

if TYPE_CHECKING:
    from ...plan.whatif import WhatIfResult

__all__ = ["failures_section", "utilisation_bars_svg"]


def utilisation_bars_svg(rows: pd.DataFrame, width: int = 640) -> str:
    """Horizontal bars of worst-case utilisation per link, with the intact utilisation as a dark line.

    ``rows`` has columns ``link``, ``base_util``, ``worst_util`` and ``worst_failure`` (the rows of
    :attr:`WhatIfResult.links`).

    >>> rows = pd.DataFrame({"link": ["A->B"], "base_util": [0.5], "worst_util": [1.2], "worst_failure": ["B<->C"]})
    >>> svg = utilisation_bars_svg(rows)
    >>> svg.startswith("<svg") and "A-&gt;B" in svg and "120%" in svg
    True
    """
    bar_h, gap, left, right = 14, 6, 210, 64
    h = len(rows) * (bar_h + gap) + 26
    umax = max(1.0, float(rows["worst_util"].max()) if len(rows) else 1.0)
    scale = (width - left - right) / umax

    def col(u):
        return "#c92a2a" if u > 1 else "#e8590c" if u > 0.9 else "#f59f00" if u > 0.7 else "#2f9e44"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" style="max-width:{width}px" '
             'role="img" aria-label="worst-case utilisation per link">']
    x1 = left + scale * 1.0
    parts.append(f'<line x1="{x1:.1f}" y1="0" x2="{x1:.1f}" y2="{h - 18}" stroke="#495057" stroke-dasharray="3 3"/>')
    parts.append(f'<text x="{x1:.1f}" y="{h - 4}" font-size="11" text-anchor="middle" fill="#495057">100%</text>')
    for i, r in enumerate(rows.itertuples()):
        y = i * (bar_h + gap) + 4
        parts.append(f'<text x="{left - 6}" y="{y + bar_h - 3}" font-size="11.5" text-anchor="end">'
                     f'{escape(str(r.link))}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(scale * r.worst_util, 0.5):.1f}" height="{bar_h}" '
                     f'fill="{col(r.worst_util)}" rx="2"><title>{escape(str(r.link))}: worst {r.worst_util:.1%} '
                     f'({escape(str(r.worst_failure))}), intact {r.base_util:.1%}</title></rect>')
        parts.append(f'<rect x="{left}" y="{y + bar_h / 2 - 1.5:.1f}" width="{max(scale * r.base_util, 0.5):.1f}" '
                     'height="3" fill="#212529" opacity="0.55"/>')
        parts.append(f'<text x="{left + scale * r.worst_util + 5:.1f}" y="{y + bar_h - 3}" font-size="11">'
                     f'{r.worst_util:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def failures_section(network: Network, *, result: WhatIfResult, top: int = 10) -> tuple[str, str]:
    """The report section "Failures": worst failures and per-link worst-case utilisation.

    Parameters
    ----------
    network : the intact network the what-if ran on.
    result : the what-if (:func:`surgeguard.plan.whatif.run_whatif`).
    top : rows in each table.

    Returns
    -------
    ``(heading, html)``: a self-contained HTML fragment (tables and an inline SVG, no external
    resources) for ``extra_sections`` of :func:`surgeguard.report.html.write_replay_report`.

    >>> import numpy as np
    >>> from surgeguard.examples import ring
    >>> from surgeguard.plan.whatif import run_whatif
    >>> net = ring(4); tm = np.zeros((4, 4)); tm[0, 1] = 4e9
    >>> heading, html = failures_section(net, result=run_whatif(net, tm, policies=("shortest",)))
    >>> heading, "R0&lt;-&gt;R1" in html
    ('Failures', True)
    """
    res = result

    def pct(x):
        return f"{x:.1%}"

    def gb(x):
        return "0" if x == 0 else f"{x / 1e9:,.2f}"

    n_f = len(res.failures) // max(len(res.policies), 1)
    when = ""
    if "time" in res.meta:
        when = f" at {pd.Timestamp(res.meta['time']):%Y-%m-%d %H:%M} UTC ({res.meta.get('step_choice', '')} step)"
    kinds = sorted(set(res.failures["kind"])) if len(res.failures) else []
    html = [f'<p class="sub">{n_f} failure scenarios ({escape(", ".join(kinds))}) of {escape(network.name)}{when}; '
            "each re-routed by IGP reconvergence (<b>shortest</b>: ECMP on the surviving graph) and by re-optimised "
            "TE (<b>optimal</b>: min-MLU LP over the surviving candidate paths). Lost traffic = demand with no "
            "surviving path + traffic dropped on overloaded links.</p>"]
    # summary per policy
    html.append('<div class="table-wrap"><table><thead><tr><th class="l">policy</th><th>MLU intact</th>'
                "<th>worst MLU</th><th>failures with a link &gt; 100%</th><th>failures losing traffic</th>"
                "<th>worst loss, Gbit/s</th></tr></thead><tbody>")
    for p in res.policies:
        df = res.failures[res.failures["policy"] == p]
        wm = df["mlu"].max() if len(df) else res.baseline[p].mlu
        cls = ' class="bad"' if wm > 1 else ""
        html.append(f'<tr><td class="l pname">{escape(p)}</td><td>{pct(res.baseline[p].mlu)}</td><td{cls}>{pct(wm)}'
                    f"</td><td>{int((df['links_over_100'] > 0).sum())}</td><td>{int((df['lost_bps'] > 0).sum())}</td>"
                    f"<td>{gb(df['lost_bps'].max() if len(df) else 0.0)}</td></tr>")
    html.append("</tbody></table></div>")
    # worst failures
    class_cols = [c for c in res.failures.columns if c.startswith("lost_bps[")]
    html.append(f"<h3 style='margin-top:14px'>Worst {top} failures per policy</h3>"
                '<div class="table-wrap"><table><thead><tr><th class="l">policy</th><th class="l">failure</th>'
                "<th>MLU</th><th class='l'>worst link</th><th>links &gt; 100%</th><th>unrouted, Gbit/s</th>"
                "<th>dropped, Gbit/s</th>"
                + "".join(f"<th>lost {escape(c[9:-1])}, Gbit/s</th>" for c in class_cols) + "</tr></thead><tbody>")
    for r in res.worst(top).to_dict("records"):
        cls = ' class="bad"' if r["mlu"] > 1 else ' class="warn"' if r["mlu"] > 0.9 else ""
        html.append(f"<tr><td class='l'>{escape(r['policy'])}</td><td class='l'>{escape(r['failure'])}</td>"
                    f"<td{cls}>{pct(r['mlu'])}</td><td class='l'>{escape(r['worst_link'])}</td>"
                    f"<td>{r['links_over_100']}</td><td>{gb(r['unrouted_bps'])}</td><td>{gb(r['dropped_bps'])}</td>"
                    + "".join(f"<td>{gb(r[c])}</td>" for c in class_cols) + "</tr>")
    html.append("</tbody></table></div>")
    # per-link worst case
    html.append(f"<h3 style='margin-top:14px'>Per link: worst-case utilisation and the failure that causes it "
                f"(top {top})</h3>")
    for p in res.policies:
        lk = res.links[res.links["policy"] == p].head(top)
        html.append(f'<p class="sub"><b>{escape(p)}</b></p><div class="table-wrap"><table><thead><tr>'
                    "<th class='l'>link</th><th>capacity, Gbit/s</th><th>intact</th><th>worst case</th>"
                    "<th class='l'>caused by</th></tr></thead><tbody>")
        for r in lk.to_dict("records"):
            cls = ' class="bad"' if r["worst_util"] > 1 else ' class="warn"' if r["worst_util"] > 0.9 else ""
            html.append(f"<tr><td class='l'>{escape(r['link'])}</td><td>{r['capacity'] / 1e9:,.0f}</td>"
                        f"<td>{pct(r['base_util'])}</td><td{cls}>{pct(r['worst_util'])}</td>"
                        f"<td class='l'>{escape(str(r['worst_failure']))}</td></tr>")
        html.append("</tbody></table></div>")
        html.append(f"<figure style='margin-top:8px'><figcaption class='sub'>{escape(p)}: worst-case utilisation "
                    "(bar) and intact utilisation (dark line), top links</figcaption>"
                    f"{utilisation_bars_svg(lk)}</figure>")
    return "Failures", "".join(html)
