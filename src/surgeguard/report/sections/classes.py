"""The "Critical services" section: a class replay (:func:`surgeguard.evaluate.classes.replay_classes`)
as a table per policy and class, and a chart of the protected class's served share."""

from __future__ import annotations

from html import escape

import pandas as pd

from ...evaluate.classes import ClassReplayResult
from ..svg import Line, line_chart_svg

__all__ = ["critical_services_section", "served_chart", "POLICY_LABELS", "POLICY_COLOURS"]

#: What each class-replay policy is, in words.
POLICY_LABELS = {"priority": "priority (B4/SWAN, previous interval)", "priority-oracle": "priority on the actual interval",
                 "shortest": "shortest paths, one FIFO queue", "shortest+pq": "shortest paths, strict-priority queues",
                 "optimal": "min-MLU LP, one FIFO queue"}
POLICY_COLOURS = {"priority": "#2f9e44", "priority-oracle": "#000000", "shortest": "#e03131", "shortest+pq": "#1c7ed6",
                  "optimal": "#7048e8"}


def critical_services_section(result: ClassReplayResult, *, protected: str | None = None,
                              lockdown_start=None) -> tuple[str, str]:
    """The demo report's "Critical services" section: ``(heading, html)``, self-contained.

    Parameters
    ----------
    result : a :func:`~surgeguard.evaluate.classes.replay_classes` result.
    protected : the class the text is about (default: the highest-priority class).
    lockdown_start : UTC timestamp drawn as a marker on the chart (optional).
    """
    cfg = result.classes
    protected = protected or cfg.names[0]
    summ = result.summary()["policies"]
    head = ("<tr><th>policy</th><th>class</th><th>latency bound</th><th>demand (Tbit)</th><th>lost (Tbit)</th>"
            "<th>lost share</th><th>intervals with loss</th><th>fully served when carriable</th>"
            "<th>mean latency (ms)</th><th>max latency (ms)</th></tr>")
    body = []
    for pol in summ:
        for name in cfg.names:
            s = summ[pol][name]
            ok = s["carriable_fully_served"], s["intervals_carriable"]
            body.append(
                f"<tr><td>{escape(POLICY_LABELS.get(pol, pol))}</td><td>{escape(name)}</td>"
                f"<td>{escape(cfg.get(name).bound_text)}</td>"
                f"<td>{s['demand_bits'] / 1e12:,.1f}</td><td>{s['lost_bits'] / 1e12:,.3f}</td>"
                f"<td>{100 * s['lost_share']:.3f}%</td><td>{s['intervals_with_loss']}</td>"
                f"<td>{ok[0]} / {ok[1]}</td><td>{s['latency_ms_mean']:.2f}</td><td>{s['latency_ms_max']:.2f}</td></tr>")
    pr = summ.get("priority", {}).get(protected)
    sh = summ.get("shortest", {}).get(protected)
    lines = []
    if pr is not None:
        lines.append(
            f"With priority allocation, <b>{escape(protected)}</b> traffic was fully served in "
            f"{pr['carriable_fully_served']} of the {pr['intervals_carriable']} intervals where the network could "
            f"carry it ({pr['intervals']} intervals in all); lost share {100 * pr['lost_share']:.4f}%.")
    if sh is not None:
        lines.append(
            f"With shortest paths and no QoS it lost traffic in {sh['intervals_with_loss']} intervals "
            f"({sh['lost_bits'] / 1e12:,.3f} Tbit, {100 * sh['lost_share']:.4f}%).")
    intro = ("<p class=\"sub\">Classes in strict priority, highest first: "
             + ", ".join(f"<b>{escape(c.name)}</b> ({escape(c.description or c.bound_text)}; latency bound "
                         f"{escape(c.bound_text)})" for c in cfg.classes)
             + ". The priority policy allocates each class in the capacity the classes above leave (B4/SWAN, "
               "SIGCOMM 2013): min-MLU within its latency bound, or, when it does not fit, max-concurrent then "
               "max-throughput. Losses: strict-priority queues for the priority policies and shortest+pq, one FIFO "
               "queue for the others.</p>")
    chart = served_chart(result, protected, lockdown_start)
    html = (intro + "<p>" + " ".join(lines) + "</p>" + chart
            + f'<div class="table-wrap"><table class="data"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table></div>'
            + f'<p class="sub">Class spec: <code>{escape(cfg.to_spec())}</code>; {len(result.steps["step"].unique())} '
              f"intervals of {result.step_seconds / 60:g} min; computed in {result.meta.get('seconds', float('nan')):.1f} s.</p>")
    return "Critical services", html


def served_chart(result: ClassReplayResult, protected: str, lockdown_start=None) -> str:
    """Served share of the ``protected`` class over time per policy (inline SVG); '' without steps."""
    st = result.steps[result.steps["class"] == protected]
    lines = []
    times = None
    for pol, g in st.groupby("policy", sort=False):
        g = g.sort_values("step")
        times = g["time"]
        lines.append(Line(name=pol, values=100 * g["served_share"].to_numpy(float),
                          color=POLICY_COLOURS.get(pol, "#495057")))
    if times is None:
        return ""
    vlines = [(pd.Timestamp(lockdown_start), "lockdown")] if lockdown_start is not None else ()
    lo = float(min(100 * st["served_share"].min(), 99.0))
    return line_chart_svg(times, lines, y_label=f"{protected} served (%)", y_min=max(0.0, lo - 1), y_max=100.5,
                          y_fmt="{:.1f}", chart_id="critical-served", height=260, vlines=vlines)
