"""The dashboard in a real browser (issue 13): Playwright driving Debian's Chromium
(``/usr/bin/chromium``; Playwright's own browser download is not possible offline).

A uvicorn server serves the API and the dashboard over the embedded Morocco example, whose
controller this test steps interval by interval: the page draws one element per link, a new
interval recolours links live, a click on a link runs the what-if and shows it, and a screenshot
is saved (to ``$SURGEGUARD_SCREENSHOT`` too when set, e.g. ``docs/dashboard.png``).

Without Chromium (or Playwright) the tests skip, unless ``SURGEGUARD_REQUIRE_CHROMIUM=1`` (CI),
where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRE = os.environ.get("SURGEGUARD_REQUIRE_CHROMIUM", "") not in ("", "0")
TOKEN = "dashboard-token-0123456789"
# the dashboard's colour scale (app.js): ColorBrewer YlOrRd over these utilisation bins
BINS = [0.3, 0.5, 0.7, 0.9, 1.0]
COLOURS = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"]


def _missing(why: str):
    if REQUIRE:
        pytest.fail(f"{why} (SURGEGUARD_REQUIRE_CHROMIUM=1: install it with scripts/install_browser.sh)")
    pytest.skip(why)


if not os.access(CHROMIUM, os.X_OK):
    _missing(f"{CHROMIUM} not found; install Debian's chromium (scripts/install_browser.sh)")
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    _missing("playwright is not installed (pip install playwright; no browser download needed)")
uvicorn = pytest.importorskip("uvicorn")

from surgeguard.serve.api import ApiSettings, ApiState, ControllerRunner, create_app, embedded_example  # noqa: E402


def colour_of(u: float) -> str:
    return COLOURS[int(np.searchsorted(BINS, u, side="right"))]


@pytest.fixture(scope="module")
def served():
    ex = embedded_example(speed=None)
    ctl = ex.controller
    for _ in range(3):
        ctl.step()
    state = ApiState(ctl.network, ctl.store, settings=ApiSettings(token=TOKEN, poll_seconds=0.3),
                     runner=ControllerRunner(ctl, ex.log), autostart=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not server.started and time.monotonic() - t0 < 30:
        time.sleep(0.05)
    assert server.started
    yield ex, state, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)
    ex.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, served):
    _, _, base = served
    pg = browser.new_page(viewport={"width": 1366, "height": 900})
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(f"{base}/dashboard/#token={TOKEN}")
    pg.wait_for_selector("body[data-ready='1']", timeout=30_000)
    yield pg
    pg.close()
    assert errors == []


def stroke(pg, link: str) -> str:
    return pg.get_attribute(f'#map .link[data-link="{link}"]', "stroke")


def test_map_has_one_element_per_link_and_fits_a_laptop(page, served):
    ex, _, _ = served
    net = ex.controller.network
    assert page.locator("#map .link").count() == net.n_links
    assert sorted(page.eval_on_selector_all("#map .link", "els => els.map(e => e.dataset.link)")) == sorted(net.link_names)
    assert page.locator("#map .node").count() == net.n_nodes
    assert page.locator("#legend .key").count() == len(COLOURS) + 1
    assert "token" not in page.url   # the token leaves the address bar
    for width in (1366, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(100)
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), width


def test_links_are_coloured_by_the_stored_utilisation(page, served):
    ex, state, _ = served
    latest = state.latest_utilisation()
    page.wait_for_function("ds => document.body.dataset.lastInterval === ds",
                           arg=latest["ds"].strftime("%Y-%m-%dT%H:%M:%SZ"), timeout=15_000)
    for row in latest["links"][:: 7]:
        assert stroke(page, row["link"]) == colour_of(row["util"]), row


def test_a_live_update_changes_a_link_colour(page, served):
    ex, state, _ = served
    ctl = ex.controller
    shown = {r["link"]: colour_of(r["util"]) for r in state.latest_utilisation()["links"]}
    page.wait_for_function(f"() => document.querySelector('#map .link').getAttribute('stroke') !== '#7b8794'")
    changed = None
    for _ in range(40):   # the lockdown arrives at 17:00 UTC: utilisation moves across the bins
        res = ctl.step()
        now = {r["link"]: colour_of(r["util"]) for r in state.latest_utilisation()["links"]}
        diff = [k for k in now if now[k] != shown[k]]
        if diff:
            changed = (diff[0], now[diff[0]], res.ds)
            break
    assert changed is not None, "no link changed colour in 40 intervals"
    link, colour, ds = changed
    page.wait_for_function("ds => document.body.dataset.lastInterval === ds", arg=ds.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           timeout=15_000)
    assert stroke(page, link) == colour != shown[link]


def test_clicking_a_link_shows_the_whatif_on_the_map(page, served):
    link = "Rabat->Casablanca"
    page.click(f'#map .link[data-link="{link}"]', force=True)
    page.wait_for_selector("#whatif-summary", timeout=60_000)
    assert "Rabat<->Casablanca" in page.inner_text("#whatif-summary")
    assert "What-if" in page.inner_text("#map-title")
    for l in ("Rabat->Casablanca", "Casablanca->Rabat"):
        assert "failed" in page.get_attribute(f'#map .link[data-link="{l}"]', "class")
    rows = page.inner_text("#whatif-result table")
    assert "shortest" in rows and "optimal" in rows
    # the map shows the re-routed utilisation: some link is now above 100 % (Morocco's backbone has few detours)
    assert page.locator(f'#map .link[stroke="{COLOURS[-1]}"]').count() > 0
    page.select_option("#whatif-policy", "optimal")
    assert "optimal" in page.inner_text("#map-title")
    page.click("#back-live")
    assert "failed" not in page.get_attribute(f'#map .link[data-link="{link}"]', "class")


def test_sr_export_downloads_the_chosen_format(page, served):
    _, state, _ = served
    page.wait_for_selector("body[data-export]", timeout=30_000)
    page.select_option("#export-format", "frr")
    page.wait_for_function("() => (document.body.dataset.export || '').startsWith('frr ')", timeout=30_000)
    text = page.inner_text("#export-summary")
    assert "policies on" in text and "one segment list" in text
    with page.expect_download(timeout=30_000) as info:
        page.click("#export-download")
    dl = info.value
    assert dl.suggested_filename.startswith("surgeguard-sr-frr-") and dl.suggested_filename.endswith(".zip")
    z = zipfile.ZipFile(dl.path())
    top = dl.suggested_filename[:-4]
    summary = json.loads(z.read(f"{top}/summary.json"))
    assert summary["format"] == "frr" and summary["ds"].startswith(page.evaluate("document.body.dataset.export")[4:14])
    confs = [n for n in z.namelist() if n.endswith(".conf")]
    assert len(confs) == summary["headends"] == len(summary["files"])
    shown = page.locator("#export-files tbody tr").count()
    assert shown == min(12, len(confs))
    assert all(b"segment-routing" in z.read(n) for n in confs)


def test_tables_and_screenshot(page, served, tmp_path):
    ex, _, _ = served
    ctl = ex.controller
    while len(ctl.results) < 26:   # across the lockdown (17:00 UTC), so the charts show it
        res = ctl.step()
    page.wait_for_function("ds => document.body.dataset.lastInterval === ds",
                           arg=res.ds.strftime("%Y-%m-%dT%H:%M:%SZ"), timeout=15_000)
    page.hover('#map .link[data-link="Casablanca->Khouribga"]', force=True)
    assert "worst single failure" in page.inner_text("#tooltip")
    page.click("#run-worst")
    page.wait_for_selector("#worst tr.clickable", timeout=90_000)
    assert page.locator("#worst tr.clickable").count() == 12
    page.click("#runout-form button")
    page.wait_for_selector("#runout tbody tr", timeout=60_000)
    page.fill("#plan-target", "0.5")
    page.click("#plan-form button")
    page.wait_for_selector("#plan tbody tr", timeout=120_000)
    assert page.locator("#plan-chart rect").count() > 0 and page.locator("#runout-chart rect").count() > 0
    page.click('#map .link[data-link="Rabat->Casablanca"]', force=True)
    page.wait_for_selector("#whatif-summary", timeout=60_000)
    page.hover('#map .link[data-link="Casablanca->Khouribga"]', force=True)
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    dest = os.environ.get("SURGEGUARD_SCREENSHOT")
    if dest:
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(dest).with_suffix(".png.tmp")
        shutil.copyfile(shot, tmp)
        os.replace(tmp, dest)
