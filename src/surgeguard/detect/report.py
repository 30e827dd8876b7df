"""The surge-detection section of the HTML report: total traffic with alert markers (inline SVG)."""

from __future__ import annotations

from html import escape
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..report.svg import Line, line_chart_svg
from ..traffic import TrafficSeries
from .base import Alert, SurgeDetector

__all__ = ["detector_section"]


def detector_section(series: TrafficSeries, alerts: Sequence[Alert], *, detector: SurgeDetector | None = None,
                     max_markers: int = 8, max_rows: int = 30, title: str = "Surge detection") -> tuple[str, str]:
    """A self-contained HTML snippet: total traffic, the detector's normal band, and its alerts.

    Parameters
    ----------
    series : the traffic the detector watched (bit/s).
    alerts : the alerts it raised (e.g. ``detector.predict(series)``).
    detector : the fitted detector, to draw its expected normal total (daily profile); optional.
    max_markers : vertical markers drawn for the first alerts (all alerts are listed in the table,
        up to ``max_rows``).
    title : heading.

    Returns
    -------
    (heading, html).
    """
    if not isinstance(series, TrafficSeries):
        raise ValidationError(f"detector_section needs a TrafficSeries, got {type(series).__name__}")
    alerts = sorted(alerts, key=lambda a: pd.Timestamp(a.time))
    times = series.times
    total = series.total.sum(axis=(1, 2)) - np.einsum("tii->t", series.total)
    lines = [Line("total traffic", total / 1e9, "#495057", width=1.3)]
    if detector is not None and hasattr(detector, "profile_"):
        expected = detector.expected(times)
        lines.append(Line("expected (normal)", expected / 1e9, "#2f9e44", dash="5,4", width=1.2))
    vlines = [(pd.Timestamp(a.time), f"{a.place if a.place == 'total' else a.place + ' ' + a.direction} "
               f"{a.shift:+.0%}") for a in alerts[:max_markers]]
    svg = line_chart_svg(times, lines, height=280, y_label="Gbit/s", y_fmt="{:,.1f}", tip_fmt="{:,.2f} Gbit/s",
                         vlines=vlines, chart_id="chart-detect", title="Total traffic and surge alerts")
    rows = "".join(
        f"<tr><td class=\"l\">{escape(pd.Timestamp(a.time).strftime('%Y-%m-%d %H:%M'))}</td>"
        f"<td class=\"l\">{escape(a.place)}</td><td class=\"l\">{escape(a.direction)}</td>"
        f"<td>{a.shift:+.1%}</td><td class=\"l\">{escape(a.detector)} {escape(a.kind)}</td><td>{a.score:.1f}</td></tr>"
        for a in alerts[:max_rows])
    more = f"<p class=\"sub\">… and {len(alerts) - max_rows} more.</p>" if len(alerts) > max_rows else ""
    table = ("<table><thead><tr><th class=\"l\">Time (UTC)</th><th class=\"l\">Place</th><th class=\"l\">Direction"
             "</th><th>Shift</th><th class=\"l\">Detector, kind</th><th>Score</th></tr></thead><tbody>"
             f"{rows}</tbody></table>{more}") if alerts else "<p>No alert was raised.</p>"
    if detector is not None:
        how = (f"Detector <code>{escape(repr(detector))}</code>: normal traffic is a daily profile per signal "
               f"(per day type for 'seasonal') learned on {getattr(detector, 'n_reference_days_', float('nan')):.1f} "
               "reference days; each "
               "alert re-baselines its signal, so one surge gives one alert per place unless it keeps growing.")
    else:
        how = "Alerts as raised online, each using only the traffic up to its time."
    first = (f" First alert: {escape(pd.Timestamp(alerts[0].time).strftime('%Y-%m-%d %H:%M'))} UTC at "
             f"{escape(alerts[0].place)}{'' if alerts[0].place == 'total' else ' ' + escape(alerts[0].direction)}"
             f" ({alerts[0].shift:+.1%}).") if alerts else ""
    body = (f'<p class="sub">{how} {len(alerts)} alert{"s" if len(alerts) != 1 else ""}.{first} Shift = estimated '
            "relative change against normal at the time of the alert.</p>"
            f'<div class="chart-box">{svg}</div>{table}')
    return title, body
