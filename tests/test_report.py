"""The HTML replay report: self-contained, escaped, complete, small."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surgeguard import Network, TrafficSeries
from surgeguard.evaluate import ReplayResult, replay
from surgeguard.report import write_replay_report
from surgeguard.report.html import fmt_ms, fmt_ratio, fmt_share, fmt_tbit
from surgeguard.report.svg import line_chart_svg, Line, nice_ticks, time_ticks, util_color
from surgeguard.routing import k_shortest_paths

CITIES = [("Casablanca", -7.5898, 33.5731, 3_359_818), ("Rabat", -6.8498, 34.0209, 577_827),
          ("Marrakech", -7.9811, 31.6295, 928_850)]
EXTERNAL = re.compile(r"""(?:src|href|xlink:href|action|poster)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)


def _triangle(coords: bool = True) -> Network:
    nodes = [{"name": n, "lon": lon, "lat": lat, "population": pop} if coords else {"name": n}
             for n, lon, lat, pop in CITIES]
    links = [{"src": "Casablanca", "dst": "Rabat", "capacity": 40e9},
             {"src": "Rabat", "dst": "Marrakech", "capacity": 10e9},
             {"src": "Casablanca", "dst": "Marrakech", "capacity": 20e9}]
    return Network.from_records(nodes=nodes, links=links, bidirectional=True, name="tri")


@pytest.fixture(scope="module")
def result() -> ReplayResult:
    net = _triangle()
    rng = np.random.default_rng(7)
    T = 192  # two days of 15 minutes
    times = pd.date_range("2020-03-19", periods=T, freq="15min", tz="UTC")
    level = 1 + 0.6 * (times >= pd.Timestamp("2020-03-20", tz="UTC"))
    v = rng.uniform(2e9, 9e9, size=(T, 3, 3)) * np.asarray(level)[:, None, None]
    v[:, np.arange(3), np.arange(3)] = 0.0
    series = TrafficSeries(v, nodes=net.node_names, times=times, name="random")
    paths = k_shortest_paths(net, k=2)
    return replay(net, paths, series, ["shortest", "optimal"], progress=False,
                  scenario={"name": "lockdown", "start": "2020-03-20T00:00Z", "surge": 1.6,
                            "regions": ["Casablanca-Settat"]})


@pytest.fixture(scope="module")
def page(result, tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("report") / "sub" / "report.html"
    out = write_replay_report(result, path, title="Lockdown <replay> & test",
                              intro="Synthetic triangle, 20 March 2020 <b>surge</b>.",
                              extra_sections=[("Forecast & backtest", "<p id='extra-body'>forecast here</p>")])
    assert out == path
    return out, out.read_text(encoding="utf-8")


def test_file_is_written_and_html_shaped(page):
    path, text = page
    assert path.is_file()
    assert text.startswith("<!DOCTYPE html>")
    assert text.rstrip().endswith("</html>")
    for tag in ("<html", "<head>", "<body>", "<title>", "<style>", "<table", "<svg"):
        assert tag in text
    assert text.count("<svg") == text.count("</svg>") >= 5  # three maps, two charts
    assert 10_000 < path.stat().st_size < 2_000_000


def test_policies_maps_and_sections(page, result):
    _, text = page
    for p in ("shortest", "optimal", "oracle"):
        assert f'<span class="pname">{p}</span>' in text
        assert f"{p}: link utilisation at" in text  # one map per policy
    for city in ("Casablanca", "Rabat", "Marrakech"):
        assert f">{city}</text>" in text
    assert "40 Gbit/s" not in text or "10 – 40 Gbit/s" in text
    assert "10 – 40 Gbit/s" in text
    assert "2020-03-19 00:00 → 2020-03-21 00:00 UTC" in text
    assert "15 min" in text
    # worst interval of each policy is named
    for p in result.policies:
        g = result.steps[result.steps["policy"] == p].reset_index(drop=True)
        t = g.loc[result.worst_step(p), "time"]
        assert f"worst interval {t.strftime('%Y-%m-%d %H:%M')} UTC" in text
    # scenario table and start marker
    assert "<td>surge</td><td>1.6</td>" in text
    assert "<code>[&quot;Casablanca-Settat&quot;]</code>" in text
    assert "lockdown starts · 20 Mar 00:00 UTC" in text
    # extra section appended as-is, heading escaped, reachable from the nav
    assert "<h2>Forecast &amp; backtest</h2><p id='extra-body'>forecast here</p>" in text
    assert 'href="#forecast-backtest"' in text and 'id="forecast-backtest"' in text


def test_summary_numbers_are_shown(page, result):
    _, text = page
    summ = result.summary()["policies"]
    for p, s in summ.items():
        row = text[text.index(f'<span class="pname">{p}</span>'):]
        row = row[:row.index("</tr>")]
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        plain = [re.sub(r"<[^>]+>", " ", c).split()[0] if re.sub(r"<[^>]+>", " ", c).split() else ""
                 for c in cells]
        want = [fmt_ratio(s[k]) for k in ("mlu_mean", "mlu_p50", "mlu_p90", "mlu_p99", "mlu_max",
                                            "ratio_mean", "ratio_p99", "ratio_max")]
        want += [f"{s['intervals_over_1']:,}", f"{s['intervals_over_0_9']:,}", fmt_tbit(s["lost_bits"]),
                 fmt_share(s["lost_share"]).split()[0], fmt_ms(s["decision_seconds_mean"])]
        assert plain == want, (p, plain, want)
        assert f"{s['mlu_max']:.3f}" in row
    assert summ["oracle"]["ratio_max"] == pytest.approx(1.0)


def test_no_external_resources_and_text_escaped(page):
    _, text = page
    assert "http://" not in text and "https://" not in text
    assert not EXTERNAL.search(text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert "<title>Lockdown &lt;replay&gt; &amp; test</title>" in text
    assert "<h1>Lockdown &lt;replay&gt; &amp; test</h1>" in text
    assert "20 March 2020 &lt;b&gt;surge&lt;/b&gt;." in text
    assert "<replay>" not in text


def test_hover_data_is_valid_json(page):
    _, text = page
    blobs = re.findall(r'data-tip="([^"]*)"', text)
    assert len(blobs) == 2
    import html

    d = json.loads(html.unescape(blobs[0]))
    assert [s["n"] for s in d["s"]] == ["shortest", "optimal", "oracle"]
    assert len(d["x"]) == len(d["t"]) == len(d["s"][0]["v"]) == 192


def test_circular_layout_without_coordinates(tmp_path, result):
    net = _triangle(coords=False)
    r = ReplayResult(result.steps, result.link_util, net, result.series, {})
    text = write_replay_report(r, tmp_path / "r.html", title="t").read_text()
    assert "schematic layout" in text
    assert "No scenario parameters recorded." in text
    assert "<circle" in text


def test_scenario_start_outside_span_and_timestamp(tmp_path, result):
    r = ReplayResult(result.steps, result.link_util, result.network, result.series,
                     {"name": "lockdown", "start": pd.Timestamp("2021-01-01", tz="UTC"),
                      "ramp": pd.Timedelta("1D")})
    text = write_replay_report(r, tmp_path / "r.html", title="t").read_text()
    assert "outside the replayed span" in text
    assert "lockdown starts" not in text
    assert "<td>start</td><td>2021-01-01 00:00 UTC</td>" in text
    assert "<td>ramp</td><td>1 day</td>" in text


def _big_result(T: int = 1344, n: int = 26) -> ReplayResult:
    """A two-week, 15-minute replay shaped result, without solving anything."""
    rng = np.random.default_rng(0)
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    nodes = [{"name": f"N{i}", "lon": -7 + 4 * np.cos(a), "lat": 32 + 4 * np.sin(a), "population": 1e5 * (i + 1)}
             for i, a in enumerate(ang)]
    links = [{"src": f"N{i}", "dst": f"N{(i + 1) % n}", "capacity": 100e9} for i in range(n)]
    links += [{"src": f"N{i}", "dst": f"N{(i + 7) % n}", "capacity": 40e9} for i in range(0, n, 3)]
    net = Network.from_records(nodes=nodes, links=links, bidirectional=True, name="big")
    times = pd.date_range("2020-03-16", periods=T, freq="15min", tz="UTC")
    series = TrafficSeries(np.zeros((T, n, n)), nodes=net.node_names, times=times)
    oracle = 0.5 + 0.3 * np.sin(np.arange(T) / 96 * 2 * np.pi) ** 2
    rows, util = [], {}
    for name, f in (("shortest", 1.4), ("optimal", 1.05), ("oracle", 1.0)):
        mlu = oracle * f
        if name == "shortest":
            mlu = mlu.copy()
            mlu[777] = 3.21  # a one-interval spike the chart must keep
        rows.append(pd.DataFrame({"step": np.arange(T), "time": times, "policy": name, "mlu": mlu,
                                  "oracle_mlu": oracle, "ratio": mlu / oracle,
                                  "congested_links": (mlu > 1).astype(int), "demand_bps": 4e11,
                                  "lost_bps": np.maximum(mlu - 1, 0) * 1e9, "decision_seconds": 0.01}))
        util[name] = rng.uniform(0, 1, (T, net.n_links)) * mlu[:, None]
    steps = pd.concat(rows, ignore_index=True)
    return ReplayResult(steps, util, net, series, {"name": "lockdown", "start": "2020-03-20"})


def test_two_week_report_is_small_and_keeps_peaks(tmp_path):
    r = _big_result()
    path = write_replay_report(r, tmp_path / "big.html", title="big")
    size = path.stat().st_size
    assert size < 2_000_000, size
    text = path.read_text()
    # polylines are downsampled to at most one point per pixel column
    for pts in re.findall(r'<polyline points="([^"]*)"', text):
        assert len(pts.split()) <= 1200
    # the 3.21 spike survives the downsampling (y axis reaches it, hover data carries it)
    assert "3.210" in text
    assert "Mon 16 Mar" in text and "Sun 29 Mar" in text  # day ticks in UTC
    assert "1,344 intervals" in text


def test_svg_helpers():
    assert util_color(0.1) == util_color(0.59)
    assert len({util_color(u) for u in (0.3, 0.7, 0.8, 0.95, 1.2)}) == 5
    assert util_color(float("nan")) not in {util_color(u) for u in (0.3, 0.7, 0.8, 0.95, 1.2)}
    for hi in (0.004, 1.03, 1.37, 3.3, 420.0, 6e11):
        t = nice_ticks(0, hi)
        step = t[1] - t[0]
        assert t[0] == 0 and t[-1] >= hi and t[-1] - hi < step and 3 <= len(t) <= 7, (hi, t)
    assert nice_ticks(0, 1.37) == [0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    ticks, days = time_ticks(pd.Timestamp("2020-03-16", tz="UTC"), pd.Timestamp("2020-03-29 23:45", tz="UTC"), 15)
    assert days and len(ticks) == 14 and all(t.hour == 0 for t in ticks)
    ticks, days = time_ticks(pd.Timestamp("2020-03-16", tz="UTC"), pd.Timestamp("2020-03-16 12:00", tz="UTC"), 15)
    assert not days and len(ticks) >= 3
    # a single point still draws
    svg = line_chart_svg(pd.DatetimeIndex(["2020-03-20"]), [Line("a", np.array([0.5]), "#000")])
    assert "<circle" in svg


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine (apt-get install chromium)")
def test_renders_in_headless_chromium(page, tmp_path):
    path, _ = page
    png = tmp_path / "report.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tempfile.mkdtemp()}", "--window-size=1400,2400", f"--screenshot={png}",
           path.resolve().as_uri()]
    try:
        subprocess.run(cmd, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pytest.skip("headless Chromium did not finish in 120 s")
    assert png.is_file()
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a blank 1400x2400 page compresses to a few kB
