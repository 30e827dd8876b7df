"""The forecast section of the HTML report: forecast against actual total traffic (inline SVG)."""

from __future__ import annotations

import time
from html import escape
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..report.svg import Line, line_chart_svg
from ..traffic import TrafficSeries
from .base import TMForecaster, get_forecaster

__all__ = ["forecast_section"]

_ACTUAL, _FC, _BAND = "#495057", "#1c7ed6", "#74c0fc"


def _swatch(color: str, dash: str | None = None) -> str:
    style = "dashed" if dash else "solid"
    return (f'<span style="display:inline-block;width:18px;border-top:2px {style} {color};'
            'vertical-align:middle;margin-right:5px"></span>')


def forecast_section(series: TrafficSeries, *, model: str | TMForecaster = "lgbm", fit_fraction: float = 0.7,
                     quantiles: Sequence[float] = (0.1, 0.9), lead: int = 1,
                     title: str | None = None) -> tuple[str, str]:
    """A self-contained HTML snippet: the forecaster replayed over the end of a series.

    The model is fitted on the first ``fit_fraction`` of ``series`` and then, at every later step,
    forecasts ``lead`` steps ahead from the actual past only (no retraining), as a replay would.
    The chart shows the network total (sum of all OD flows, Gbit/s): actual, forecast and the
    conformal band between the two ``quantiles``.

    Parameters
    ----------
    series : traffic (bit/s) with enough steps for the model (e.g. a few days).
    model : a registry name ('lgbm', 'neural', 'seasonal_naive', ...) or an unfitted forecaster.
    fit_fraction : share of the series used for fitting (the rest is forecast).
    quantiles : the band's lower and upper levels.
    lead : steps ahead (1 = next interval).
    title : heading; default 'Traffic forecast (<model>)'.

    Returns
    -------
    (heading, html) for ``report.write_replay_report(..., extra_sections=[...])``.
    """
    if not isinstance(series, TrafficSeries):
        raise ValidationError(f"forecast_section needs a TrafficSeries, got {type(series).__name__}")
    if not 0 < fit_fraction < 1:
        raise ValidationError(f"fit_fraction={fit_fraction} must be in (0, 1)")
    m = get_forecaster(model) if isinstance(model, str) else model.clone()
    T, n = len(series), series.n_nodes
    cut = int(round(fit_fraction * T))
    t0 = time.perf_counter()
    m.fit(series.window(0, cut))
    fit_s = time.perf_counter() - t0
    Y = series.total.reshape(T, n * n)[:, m.active_]
    start = max(cut, m.min_history_)
    origins = np.arange(start, T - lead + 1)
    if len(origins) == 0:
        raise ValidationError(f"forecast_section: nothing left to forecast after {cut} fitted steps; lower fit_fraction")
    qs = sorted(float(q) for q in quantiles)
    t0 = time.perf_counter()
    fc = m.rolling_forecast(Y, series.times, origins, lead, quantiles=qs)
    pred_ms = 1e3 * (time.perf_counter() - t0) / len(origins)
    tgt = origins + lead - 1
    actual_tot = series.total.sum(axis=(1, 2))
    pred_tot = fc["mean"][:, lead - 1].sum(axis=1)
    lo_tot = fc[qs[0]][:, lead - 1].sum(axis=1)
    hi_tot = fc[qs[-1]][:, lead - 1].sum(axis=1)
    e_tot = pred_tot - actual_tot[tgt]
    nmae_tot = float(np.abs(e_tot).sum() / max(actual_tot[tgt].sum(), 1e-12))
    e_flow = fc["mean"][:, lead - 1] - Y[tgt]
    nmae_flow = float(np.abs(e_flow).sum() / max(np.abs(Y[tgt]).sum(), 1e-12))
    cover = float(((actual_tot[tgt] >= lo_tot) & (actual_tot[tgt] <= hi_tot)).mean())

    # chart: the whole series' actual total, forecasts over the forecast part
    times = series.times
    f_line = np.full(T, np.nan)
    lo_line, hi_line = np.full(T, np.nan), np.full(T, np.nan)
    f_line[tgt], lo_line[tgt], hi_line[tgt] = pred_tot, lo_tot, hi_tot
    lines = [Line("actual", actual_tot / 1e9, _ACTUAL, width=1.3),
             Line(f"q{qs[-1]:g}", hi_line / 1e9, _BAND, dash="3,3", width=1.0),
             Line(f"q{qs[0]:g}", lo_line / 1e9, _BAND, dash="3,3", width=1.0),
             Line(f"forecast ({m.name})", f_line / 1e9, _FC, width=1.5)]
    vlines = [(times[cut], "forecasts start")] if cut < T else []
    svg = line_chart_svg(times, lines, height=300, y_label="Gbit/s", y_fmt="{:,.1f}", tip_fmt="{:,.2f} Gbit/s",
                         vlines=vlines, chart_id="chart-forecast", title="Total traffic: forecast and actual")
    step = series.step
    lead_txt = f"{lead} step{'s' if lead > 1 else ''} ({escape(str(step * lead))})" if step is not None else str(lead)
    legend = (f'<div class="chart-legend"><span>{_swatch(_ACTUAL)}actual</span>'
              f'<span>{_swatch(_FC)}forecast ({escape(m.name)})</span>'
              f'<span>{_swatch(_BAND, "d")}{qs[0]:.0%}–{qs[-1]:.0%} band</span></div>')
    facts = (
        "<table><thead><tr><th class=\"l\">Measure</th><th>Value</th></tr></thead><tbody>"
        f"<tr><td class=\"l\">Model</td><td>{escape(repr(m))}</td></tr>"
        f"<tr><td class=\"l\">Fitted on</td><td>{cut} steps, {escape(_t(times[0]))} – {escape(_t(times[cut - 1]))}"
        f" ({fit_s:.1f} s)</td></tr>"
        f"<tr><td class=\"l\">Forecast</td><td>{len(origins)} steps, {lead_txt} ahead, "
        f"{pred_ms:.1f} ms per step</td></tr>"
        f"<tr><td class=\"l\">NMAE, network total</td><td>{nmae_tot:.3f}</td></tr>"
        f"<tr><td class=\"l\">NMAE, per OD flow</td><td>{nmae_flow:.3f}</td></tr>"
        f"<tr><td class=\"l\">Total inside the {qs[0]:.0%}–{qs[-1]:.0%} band</td><td>{cover:.0%}</td></tr>"
        "</tbody></table>")
    note = ("<p class=\"sub\">Each forecast uses only the traffic before it (no retraining after the fit). "
            "NMAE = sum of absolute errors / sum of actual traffic. The band sums the per-flow conformal "
            "quantiles (residuals of one-step forecasts on held-out data, widened with the square root of the "
            "lead), so for the total it is conservative.</p>")
    heading = title or f"Traffic forecast ({m.name})"
    return heading, note + legend + f'<div class="chart-box">{svg}</div>' + facts


def _t(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M UTC")
