"""The report sections on deploying a routing: SR-TE policies and IGP metric changes, as HTML.

* :func:`sr_policies_section`: an :class:`~surgeguard.deploy.sr.SrExport` (computed by
  :func:`surgeguard.deploy.sr.export_sr` and, for a few policies,
  :func:`surgeguard.deploy.sr.few_policies`): what deploying costs in MLU (routing, exported
  integer weights, exact weights on a device, one segment list per policy as FRR 8.4 and pola
  carry, IGP), the SID depth distribution, the policies with their segment lists, the paths that
  cannot be expressed, and the MLU against the number of policies (inline SVG).
* :func:`metric_changes_section`: a :class:`~surgeguard.deploy.metrics.MetricResult` (computed by
  :func:`surgeguard.deploy.metrics.optimise_metrics`): each metric change in deployment order with
  the MLU it buys, and the configuration text given.
* :func:`deploy_section`: both side by side for one matrix (the demo's lockdown peak): every way
  to deploy with its MLU, then the two above.

Nothing here computes: every number comes from the result objects given.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ...deploy.metrics import MetricResult
    from ...deploy.sr import SrExport

__all__ = ["sr_policies_section", "policy_curve_svg", "metric_changes_section", "deploy_section"]

#: the most policies listed in the table (the files hold them all)
MAX_ROWS = 40


def _mlu(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _n(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def policy_curve_svg(curve: pd.DataFrame, optimum: float | None = None, width: int = 520, height: int = 200) -> str:
    """MLU against the number of policies (a step line), with the optimum as a dashed line.

    >>> svg = policy_curve_svg(pd.DataFrame({"n_policies": [0, 1, 2], "mlu": [1.0, 0.8, 0.7]}), 0.68)
    >>> svg.startswith("<svg") and svg.count("<circle") == 3
    True
    """
    n = curve["n_policies"].to_numpy(float)
    m = curve["mlu"].to_numpy(float)
    lo = min(m.min(), optimum if optimum is not None else m.min())
    hi = max(m.max(), lo * 1.0001 + 1e-12)
    pad = 0.05 * (hi - lo) + 1e-12
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 48, 12, 10, 28
    xw, yh = width - left - right, height - top - bottom
    nmax = max(float(n.max()), 1.0)

    def x(v):
        return left + xw * v / nmax

    def y(v):
        return top + yh * (hi - v) / (hi - lo)

    pts = []
    for i in range(len(n)):
        if i:
            pts.append(f"{x(n[i]):.1f},{y(m[i - 1]):.1f}")
        pts.append(f"{x(n[i]):.1f},{y(m[i]):.1f}")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="MLU against the number of SR policies">',
             f'<line x1="{left}" y1="{top + yh}" x2="{left + xw}" y2="{top + yh}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + yh}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{hi:.3f}</text>',
             f'<text x="{left - 4}" y="{top + yh}" font-size="10" text-anchor="end">{lo:.3f}</text>',
             f'<text x="{left + xw}" y="{height - 6}" font-size="10" text-anchor="end">{int(nmax)} policies</text>',
             f'<text x="{left}" y="{height - 6}" font-size="10">0 (IGP)</text>']
    if optimum is not None:
        parts.append(f'<line x1="{left}" y1="{y(optimum):.1f}" x2="{left + xw}" y2="{y(optimum):.1f}" '
                     f'stroke="#2a7" stroke-dasharray="4 3"><title>optimum {optimum:.4f}</title></line>')
    parts.append(f'<polyline fill="none" stroke="#c33" stroke-width="1.5" points="{" ".join(pts)}"/>')
    for i in range(len(n)):
        parts.append(f'<circle cx="{x(n[i]):.1f}" cy="{y(m[i]):.1f}" r="2.5" fill="#c33">'
                     f'<title>{int(n[i])} policies: MLU {m[i]:.4f}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def sr_policies_section(export: "SrExport", *, formats_note: dict | None = None) -> tuple[str, str]:
    """The report's "Deploy: SR-TE policies" section: ``(heading, html)``, self-contained.

    Parameters
    ----------
    export : the result of :func:`surgeguard.deploy.sr.export_sr`.
    formats_note : optional ``{format: what it expresses}`` (``surgeguard.deploy.formats.FORMAT_NOTES``)
        listed under the MLU table.
    """
    m, p = export.mlu, export.params
    summ = export.summary()
    mlu_rows = [("the routing (exact splits)", m.get("routing")),
                (f"exported weights ({p['slots']} slots per policy): JSON, IOS-XR", m.get("quantised")),
                ("exact weights written as they are, spread by the device"
                 + (" (lists under the average slot dropped)" if p.get("vendor_drop") else ""),
                 m.get("device_exact_weights")),
                ("one segment list per policy: FRR 8.4 pathd, pola", m.get("single_list")),
                ("IGP routing, no policy", m.get("igp"))]
    t1 = ('<div class="table-wrap"><table class="data"><thead><tr><th>what is deployed</th><th>MLU</th></tr></thead>'
          "<tbody>" + "".join(f"<tr><td>{escape(k)}</td><td>{_mlu(v)}</td></tr>" for k, v in mlu_rows)
          + "</tbody></table></div>")
    hist = summ["depth_histogram"]
    depth = ", ".join(f"{k} SID{'s' if k != 1 else ''}: {v}" for k, v in hist.items()) or "none"
    intro = (f'<p class="sub">{summ["policies"]} SR policies (RFC 9256: colour {p["color"]}, one candidate path of '
             f"preference 100 each) on {summ['headends']} head-ends, {summ['segment_lists']} segment lists "
             f"(depth {escape(depth)}; at most {p['max_sid_depth']} SIDs). A node SID is used only where the "
             "stretch it covers is the unique IGP shortest path, an adjacency SID where a hop is not; node SID = "
             f"{p['srgb_base']} + node index, adjacency SID = {p['adjacency_base']} + link index.</p>")
    notes = ""
    if formats_note:
        notes = "<ul>" + "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in formats_note.items()) + "</ul>"
    fr = export.frame()
    fr = fr[fr["weight"] > 0]
    shown = fr[fr["policy"].isin(fr["policy"].drop_duplicates().head(MAX_ROWS))]
    rows = "".join(f"<tr><td>{escape(r.headend)}</td><td>{escape(r.endpoint)}</td><td>{r.weight}</td>"
                   f"<td>{r.split:.3f}</td><td>{escape(r.labels)}</td><td>{escape(r.path)}</td></tr>"
                   for r in shown.itertuples())
    more = fr["policy"].nunique() - shown["policy"].nunique()
    t2 = ("<p>No OD pair needs a policy: the IGP routes as the routing does.</p>" if not len(fr) else
          '<div class="table-wrap"><table class="data"><thead><tr><th>head-end</th><th>endpoint</th><th>weight</th>'
          "<th>split</th><th>labels</th><th>path</th></tr></thead><tbody>" + rows + "</tbody></table></div>"
          + (f"<p>... and {more} more policies (in the exported files).</p>" if more > 0 else ""))
    bad = export.unexpressible
    t3 = "" if not len(bad) else (
        f"<p>{len(bad)} path(s) need more than {p['max_sid_depth']} SIDs and are not deployed (their traffic moves "
        "to the OD's other paths):</p>" + '<div class="table-wrap"><table class="data"><thead><tr><th>src</th>'
        "<th>dst</th><th>path</th><th>SIDs</th><th>split</th></tr></thead><tbody>"
        + "".join(f"<tr><td>{escape(r.src)}</td><td>{escape(r.dst)}</td><td>{escape(r.path)}</td><td>{r.depth}</td>"
                  f"<td>{r.split:.3f}</td></tr>" for r in bad.head(MAX_ROWS).itertuples())
        + "</tbody></table></div>")
    curve = ""
    if export.curve is not None and len(export.curve):
        c = export.curve
        opt = export.info.get("reference_mlu")
        curve = (f"<h3>MLU against the number of policies</h3><p>IGP routing for every OD pair but the ones given "
                 f"a policy, chosen greedily: {len(c) - 1} policies take the MLU from {c['mlu'].iloc[0]:.4f} to "
                 f"{c['mlu'].iloc[-1]:.4f}" + (f" (optimum {opt:.4f})" if opt is not None else "") + ".</p>"
                 + policy_curve_svg(c, opt))
    return "Deploy: SR-TE policies", intro + t1 + notes + curve + t2 + t3


def metric_changes_section(result: "MetricResult", *, config: dict | None = None,
                           config_label: str = "IOS-XR") -> tuple[str, str]:
    """The report's "Deploy: IGP metric changes" section: ``(heading, html)``.

    Parameters
    ----------
    result : the result of :func:`surgeguard.deploy.metrics.optimise_metrics`.
    config : optional ``{router: configuration text}`` for the changes
        (:func:`surgeguard.deploy.metrics.metric_config`), shown folded.
    config_label : what the configuration is (e.g. ``IOS-XR``, ``FRR``).
    """
    info = result.info or {}
    limit = info.get("max_changes")
    changes = list(result.changes)
    bound = f"at most {limit} changed links" if limit is not None else "no limit on changed links"
    intro = (f'<p class="sub">Local search over integer IGP metrics with the routers\' hop-by-hop ECMP '
             f"(Fortz-Thorup style), {bound}"
             f"{', over ' + str(info['matrices']) + ' matrices' if info.get('matrices', 1) > 1 else ''}"
             f"{', every single failure counted' if info.get('failure_states', 0) else ''}: "
             f"MLU {result.mlu_start:.4f} with the current metrics, {result.mlu:.4f} with "
             f"{len(changes)} change{'s' if len(changes) != 1 else ''}"
             + (f" ({info['seconds']:.1f} s of search)" if "seconds" in info else "") + ". "
             "Changes are listed in the order to deploy them; each row's MLU holds once it and every row "
             "above are applied (rows with the same step go in together).</p>")
    if not changes:
        return "Deploy: IGP metric changes", intro + "<p>No metric change lowers the MLU.</p>"
    rows, prev = [], result.mlu_start
    for c in changes:
        rows.append(f"<tr><td>{c.step}</td><td>{escape(c.link)}</td><td>{c.old:g}</td><td>{c.new:g}</td>"
                    f"<td>{c.mlu:.4f}</td><td>{prev - c.mlu:+.4f}</td></tr>")
        prev = c.mlu
    table = ('<div class="table-wrap"><table class="data"><thead><tr><th>step</th><th>link</th><th>old metric</th>'
             "<th>new metric</th><th>MLU after</th><th>MLU bought</th></tr></thead><tbody>" + "".join(rows)
             + "</tbody></table></div>")
    cfg = ""
    if config:
        blocks = "".join(f"<p><b>{escape(str(router))}</b></p><pre>{escape(str(text))}</pre>"
                         for router, text in config.items())
        cfg = f"<details><summary>{escape(config_label)} configuration of the changes</summary>{blocks}</details>"
    return "Deploy: IGP metric changes", intro + table + cfg


def deploy_section(sr: "SrExport", *, few: "SrExport | None" = None, metrics: "MetricResult | None" = None,
                   optimum: float | None = None, when: str = "", config: dict | None = None,
                   config_label: str = "IOS-XR", formats_note: dict | None = None) -> tuple[str, str]:
    """The report's "Deploy" section for one matrix: ``(heading, html)``.

    Parameters
    ----------
    sr : the export of the decided routing (:func:`surgeguard.deploy.sr.export_sr`).
    few : the export of :func:`surgeguard.deploy.sr.few_policies`' routing, with its curve.
    metrics : the metric search on the same matrix (:func:`surgeguard.deploy.metrics.optimise_metrics`).
    optimum : the LP optimum's MLU on the matrix (every OD free over its candidate paths).
    when : the matrix, in words (e.g. ``the lockdown peak, 2020-03-26 11:45 UTC``).
    config, config_label : the metric changes' configuration (:func:`metric_changes_section`).
    formats_note : ``{format: what it expresses}`` under the SR table.
    """
    m = sr.mlu
    p = sr.params
    rows = []
    if optimum is not None:
        rows.append(("LP optimum (every OD pair free over its candidate paths)", "-", optimum))
    npol = _n(sr.n_policies, "policy", "policies")
    rows += [(f"the decided routing ({escape(str(p.get('policy', '')))}), exact splits", npol, m.get("routing")),
             (f"SR policies, exported weights ({p['slots']} slots): JSON, IOS-XR", npol, m.get("quantised")),
             ("SR policies, one segment list each: FRR 8.4 pathd, pola", npol, m.get("single_list"))]
    if few is not None:
        rows.append(("SR policies for the fewest OD pairs (IGP for the rest), exported weights",
                     _n(few.n_policies, "policy", "policies"), few.mlu.get("quantised")))
    if metrics is not None:
        rows.append(("IGP with optimised metrics", _n(metrics.n_changes, "metric change", "metric changes"),
                     metrics.mlu))
    rows.append(("IGP with the current metrics", "nothing", m.get("igp")))
    table = ('<div class="table-wrap"><table class="data"><thead><tr><th>what is deployed</th><th>changes on the '
             "routers</th><th>MLU</th></tr></thead><tbody>"
             + "".join(f"<tr><td>{k}</td><td>{escape(n)}</td><td>{_mlu(v)}</td></tr>" for k, n, v in rows)
             + "</tbody></table></div>")
    intro = (f'<p class="sub">Deploying a routing{" at " + escape(when) if when else ""}: as Segment Routing '
             "policies (RFC 9256) pushed to the head-ends, or without SR as IGP metric changes. Every MLU is "
             "evaluated on the same matrix."
             + (" The decided routing was chosen before this interval's traffic was known: here it does worse than "
                "the IGP, and the few policies chosen on the matrix itself show what TE could do."
                if m.get("routing") is not None and m.get("igp") is not None and m["routing"] > m["igp"] else "")
             + "</p>")
    _, sr_html = sr_policies_section(sr, formats_note=formats_note)
    parts = [intro, table, "<h3>SR policies of the decided routing</h3>", sr_html]
    if few is not None:
        c = few.curve
        opt = few.info.get("reference_mlu", optimum)
        fr = few.frame()
        fr = fr[fr["weight"] > 0]
        lst = "".join(f"<li>{escape(r.headend)} &rarr; {escape(r.endpoint)}: weight {r.weight}, path "
                      f"{escape(r.path)} (labels {escape(r.labels)})</li>" for r in fr.head(MAX_ROWS).itertuples())
        parts += ["<h3>The fewest policies</h3>",
                  f"<p>IGP routing for every OD pair but the ones given a policy, chosen greedily until the MLU is "
                  f"within the target of the optimum: {_n(few.n_policies, 'policy', 'policies')}"
                  + (f" {'takes' if few.n_policies == 1 else 'take'} the MLU from {c['mlu'].iloc[0]:.4f} "
                     f"to {c['mlu'].iloc[-1]:.4f}" if c is not None and len(c) else "")
                  + (f" (optimum {opt:.4f})" if opt is not None else "") + ".</p>",
                  (policy_curve_svg(c, opt) if c is not None and len(c) > 1 else ""),
                  (f"<ul>{lst}</ul>" if lst else "")]
    if metrics is not None:
        _, mh = metric_changes_section(metrics, config=config, config_label=config_label)
        parts += ["<h3>IGP metric changes</h3>", mh]
    return "Deploy: SR-TE policies and IGP metrics", "".join(parts)
