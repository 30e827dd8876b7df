"""The REST API (issue 13): reads from the controller's store, what-ifs and capacity questions as
jobs, errors that name the field, security that refuses, the OpenAPI schema as the contract
(schemathesis), and a started server (``surgeguard serve``) bound to loopback.

The store is filled by the real controller on the embedded Morocco example (counters file,
tomogravity, priority policy, DuckDB in memory), stepped here interval by interval.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from surgeguard.failures import circuits  # noqa: E402
from surgeguard.plan.whatif import evaluate_failure  # noqa: E402
from surgeguard.serve.api import ApiSettings, ApiState, ControllerRunner, create_app, embedded_example  # noqa: E402
from surgeguard.exceptions import ValidationError  # noqa: E402

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INTERVALS = 4


@pytest.fixture(scope="module")
def example():
    ex = embedded_example(speed=None)
    for _ in range(INTERVALS):
        ex.controller.step()
    yield ex
    ex.close()


def make_state(ex, **settings) -> ApiState:
    ctl = ex.controller
    return ApiState(ctl.network, ctl.store, settings=ApiSettings(**{"token": TOKEN, **settings}),
                    runner=ControllerRunner(ctl, ex.log), autostart=False)


@pytest.fixture(scope="module")
def client(example):
    with TestClient(create_app(make_state(example))) as c:
        yield c


def wait_job(client, job_id, timeout=120.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        assert job["status"] in ("queued", "running", "done", "failed")
        assert job["progress"] is None or 0.0 <= job["progress"] <= 1.0
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


# ---------------------------------------------------------------------------------------------- reads
def test_network_has_coordinates_and_capacities(client, example):
    net = example.controller.network
    doc = client.get("/api/v1/network").json()
    assert [n["name"] for n in doc["nodes"]] == list(net.node_names)
    assert all(-20 < n["lon"] < 0 and 20 < n["lat"] < 37 for n in doc["nodes"])   # Morocco
    caps = {l["name"]: l["capacity_bps"] for l in doc["links"]}
    assert caps == dict(zip(net.link_names, net.capacity.tolist()))
    assert {l["circuit"] for l in doc["links"]} == {c for c, _ in circuits(net)}


def test_latest_utilisation_is_the_stored_rates_over_capacity(client, example):
    ctl = example.controller
    doc = client.get("/api/v1/utilisation/latest").json()
    last = ctl.results[-1]
    assert pd.Timestamp(doc["ds"]) == last.ds
    rates = ctl.store.link_rates(last.ds, last.ds + pd.Timedelta(microseconds=1))
    want = dict(zip(rates["link"], rates["bps"] / pd.Series(ctl.network.capacity, index=ctl.network.link_names)
                    .reindex(rates["link"]).to_numpy()))
    got = {r["link"]: r["util"] for r in doc["links"]}
    assert len(got) == ctl.network.n_links
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12)
    assert doc["mlu"] == pytest.approx(last.measured_mlu, rel=1e-9)


def test_history_is_filtered_by_iso_times_and_paginated(client, example):
    ctl = example.controller
    times = [r.ds for r in ctl.results]
    a, b = times[1], times[3]
    q = urlencode({"start": a.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": b.isoformat()})   # Z and +00:00 forms
    full = client.get(f"/api/v1/utilisation?{q}&limit=10000").json()
    assert full["total"] == 2 * ctl.network.n_links == len(full["rows"])
    assert {pd.Timestamp(r["ds"]) for r in full["rows"]} == {times[1], times[2]}
    pages = [client.get(f"/api/v1/utilisation?{q}&limit=50&offset={o}").json() for o in range(0, full["total"], 50)]
    assert [r for p in pages for r in p["rows"]] == full["rows"]
    assert all(p["total"] == full["total"] for p in pages)
    beyond = client.get(f"/api/v1/utilisation?{q}&limit=5&offset={full['total'] + 10}").json()
    assert beyond["rows"] == [] and beyond["total"] == full["total"]
    est = client.get(f"/api/v1/matrices/estimated?{q}&src=Rabat&dst=Casablanca").json()
    assert est["total"] == 2 and all(r["src"] == "Rabat" and r["dst"] == "Casablanca" for r in est["rows"])
    m = ctl.store.estimate_matrix(list(ctl.network.node_names), times[1])[1]
    i, j = ctl.network.node_names.index("Rabat"), ctl.network.node_names.index("Casablanca")
    assert est["rows"][0]["bps"] == pytest.approx(m[i, j])
    fc = client.get(f"/api/v1/matrices/forecast?{q}&limit=3").json()
    assert fc["total"] > 0 and all(pd.Timestamp(r["ds"]) > pd.Timestamp(r["made_at"]) for r in fc["rows"])


def test_decisions_carry_the_predicted_mlu_and_the_next_interval(client, example):
    rows = client.get("/api/v1/decisions").json()["rows"]
    res = example.controller.results
    assert [pd.Timestamp(r["ds"]) for r in rows] == [r.ds for r in res]
    step = example.controller.interval
    for r, x in zip(rows, res):
        assert r["mlu"] == pytest.approx(x.predicted_mlu, rel=1e-9)
        assert pd.Timestamp(r["for_interval"]) == x.ds + step
        assert r["status"] == "ok" and r["policy"] == x.policy
        assert r["lower_bound"] is None or r["lower_bound"] <= r["mlu"] * (1 + 1e-6)


def test_charts_and_classes(client, example):
    res = example.controller.results
    mlu = client.get("/api/v1/charts/mlu").json()
    assert len(mlu["times"]) == len(res)
    assert mlu["measured"] == pytest.approx([r.measured_mlu for r in res], rel=1e-9)
    assert mlu["policies"][res[0].policy] == pytest.approx([r.predicted_mlu for r in res], rel=1e-9)
    tr = client.get("/api/v1/charts/traffic").json()
    assert tr["ingress_bps"][0] == pytest.approx(float(example.controller.store.node_totals(
        res[0].ds, res[0].ds + pd.Timedelta(microseconds=1))["ingress_bps"].sum()))
    assert tr["forecast_bps"][0] is None and all(v > 0 for v in tr["forecast_bps"][1:])
    node = client.get("/api/v1/charts/traffic?node=Rabat").json()
    assert node["node"] == "Rabat" and node["ingress_bps"][0] < tr["ingress_bps"][0]
    cl = client.get("/api/v1/classes").json()
    assert cl["configured"] and cl["critical"] == "critical"
    assert [c["name"] for c in cl["classes"]] == ["critical", "interactive", "bulk"]
    served = res[-1].routing.info["served_share"]
    assert [c["served_share"][-1] for c in cl["classes"]] == pytest.approx(served)
    assert cl["critical_ok"] == (served[0] >= 1 - 1e-6)


def test_worst_case_per_link(client, example):
    doc = client.get("/api/v1/utilisation/worst-case").json()
    assert doc["failures"] == len(circuits(example.controller.network))
    names = {c for c, _ in circuits(example.controller.network)} | {"(none)"}
    for r in doc["links"]:
        assert r["worst_util"] >= r["base_util"] - 1e-12 and r["worst_failure"] in names
    assert max(r["worst_util"] for r in doc["links"]) > 1.0   # Morocco has single points of pain


def test_health(client, example):
    h = client.get("/api/v1/health").json()
    assert h["intervals"] == INTERVALS and h["writes_enabled"] is True
    assert pd.Timestamp(h["last_interval"]) == example.controller.results[-1].ds
    assert h["controller"]["policy"] == "priority" and h["controller"]["running"] is False


# ---------------------------------------------------------------------------------------------- bad input
BAD = [
    ("/api/v1/utilisation?start=yesterday", "query.start"),
    ("/api/v1/utilisation?start=2020-03-20T18:00Z&end=2020-03-20T17:00Z", "query.end"),
    ("/api/v1/utilisation?start=0001-01-01T00:00:00Z", "query.start"),
    ("/api/v1/utilisation?limit=0", "query.limit"),
    ("/api/v1/utilisation?limit=100001", "query.limit"),
    ("/api/v1/utilisation?offset=-1", "query.offset"),
    ("/api/v1/utilisation?link=Rabat-Casablanca", "query.link[0]"),
    ("/api/v1/matrices/estimated?src=Paris", "query.src[0]"),
    ("/api/v1/decisions?status=maybe", "query.status"),
    ("/api/v1/charts/traffic?node=Atlantis", "query.node[0]"),
    ("/api/v1/charts/mlu?hours=-1", "query.hours"),
    ("/api/v1/utilisation/worst-case?ds=1999-01-01T00:00:00Z", "query.ds"),
]


@pytest.mark.parametrize("path,field", BAD)
def test_bad_reads_are_4xx_naming_the_field(client, path, field):
    r = client.get(path)
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    assert set(body) == {"error", "message", "field", "fix"}
    assert field in body["message"] and "\n" not in body["message"]


BAD_BODIES = [
    ({}, "body"),
    ({"failure": {"links": ["A->Z"]}}, "body.failure.links[0]"),
    ({"failure": {"nodes": ["Atlantis"]}}, "body.failure.nodes[0]"),
    ({"failure": {"srlgs": ["duct-7"]}}, "body.failure.srlgs[0]"),
    ({"failure": {}}, "body.failure"),
    ({"all_single": "srlg"}, "body.all_single"),
    ({"all_single": "everything"}, "body.all_single"),
    ({"all_single": "link", "policies": ["shortest", "shortest"]}, "body.policies"),
    ({"all_single": "link", "policies": ["magic"]}, "body.policies"),
    ({"all_single": "link", "top": 0}, "body.top"),
    ({"all_single": "link", "ds": "2019-01-01T00:00:00Z"}, "body.ds"),
    ({"all_single": "link", "colour": "red"}, "body.colour"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES)
def test_bad_whatif_requests_are_refused_before_any_job(client, body, field):
    before = len(client.get("/api/v1/jobs").json()["jobs"])
    r = client.post("/api/v1/whatif", json=body, headers=AUTH)
    assert 400 <= r.status_code < 500, r.text
    assert field in r.json()["message"]
    assert len(client.get("/api/v1/jobs").json()["jobs"]) == before


def test_bad_plan_and_runout_requests(client):
    for path, body, field in [("/api/v1/capacity/runout", {"warning": 0.9, "critical": 0.7}, "body.warning"),
                              ("/api/v1/capacity/plan", {"target_util": 1.5}, "body.target_util"),
                              ("/api/v1/capacity/plan", {"failure_util": 0.9}, "body.failure_util"),
                              ("/api/v1/capacity/runout", {"start": "2030-01-01T00:00:00Z"}, "body.start")]:
        r = client.post(path, json=body, headers=AUTH)
        assert 400 <= r.status_code < 500 and field in r.json()["message"], (path, r.text)
    r = client.post("/api/v1/whatif", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body"
    assert client.get("/api/v1/jobs/0123abcd").status_code == 404


# ---------------------------------------------------------------------------------------------- jobs
def test_whatif_of_one_fibre_cut_is_the_library_result(client, example):
    ctl = example.controller
    r = client.post("/api/v1/whatif", json={"failure": {"links": ["Rabat->Casablanca", "Casablanca->Rabat"]}},
                    headers=AUTH)
    assert r.status_code == 202 and r.json()["url"] == f"/api/v1/jobs/{r.json()['id']}"
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "done" and job["progress"] == 1.0, job
    res = job["result"]
    assert res["failure"]["name"] == "Rabat<->Casablanca"
    ds, tm = ctl.store.estimate_matrix(list(ctl.network.node_names))
    assert pd.Timestamp(res["ds"]) == ds
    ev = evaluate_failure(ctl.network, ["Rabat->Casablanca", "Casablanca->Rabat"], tm, policy="shortest")
    assert res["map"]["shortest"]["util"] == pytest.approx(ev.util.tolist(), rel=1e-9, abs=1e-12)
    assert res["map"]["shortest"]["lost_bps"] == pytest.approx(ev.lost_bps, rel=1e-9)
    k = res["links"].index("Rabat->Casablanca")
    assert res["map"]["shortest"]["util"][k] == 0 and res["map"]["optimal"]["util"][k] == 0
    assert res["map"]["optimal"]["mlu"] <= res["map"]["shortest"]["mlu"] + 1e-6   # TE re-optimises


def test_all_single_failures_job_reports_progress_and_ranks(client, example):
    r = client.post("/api/v1/whatif", json={"all_single": "node", "policies": ["shortest"], "top": 5}, headers=AUTH)
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "done"
    pol = job["result"]["summary"]["policies"]["shortest"]
    assert job["result"]["failures"] == example.controller.network.n_nodes
    lost = [w["lost_bps"] for w in pol["worst_failures"]]
    assert len(lost) == 5 and lost == sorted(lost, reverse=True) and lost[0] > 0   # a failed node loses its traffic


def test_runout_and_plan_jobs(client, example):
    net = example.controller.network
    r = client.post("/api/v1/capacity/runout", json={"growth": 0.5, "model": "compound"}, headers=AUTH)
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "done", job
    links = job["result"]["links"]
    assert len(links) == net.n_links
    dates = [x["critical_date"] for x in links if x["critical_date"]]
    assert dates == sorted(dates) and len(dates) > 0
    r = client.post("/api/v1/capacity/plan", json={"target_util": 0.5, "time_limit": 30}, headers=AUTH)
    job = wait_job(client, r.json()["id"], timeout=180)
    assert job["status"] == "done", job
    plan = job["result"]
    after = {x["link"]: x for x in plan["links"]}
    assert all(x["capacity_after_bps"] >= x["capacity_before_bps"] for x in after.values())
    assert plan["cost"] > 0 and plan["additions"] and plan["worst_mlu_after"] <= 0.5 + 1e-6


# ---------------------------------------------------------------------------------------------- security
def test_writes_need_the_bearer_token(client, example):
    body = {"all_single": "link", "policies": ["shortest"]}
    r = client.post("/api/v1/whatif", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["field"] == "header.Authorization"
    assert client.post("/api/v1/whatif", json=body, headers={"Authorization": "Bearer wrong-token-xx"}).status_code == 401
    assert client.post("/api/v1/whatif", json=body, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    ok = client.post("/api/v1/whatif", json=body, headers=AUTH)
    assert ok.status_code == 202
    wait_job(client, ok.json()["id"])
    st = make_state(example, token="")
    with TestClient(create_app(st)) as c:
        r = c.post("/api/v1/whatif", json=body, headers=AUTH)
        assert r.status_code == 403 and "no API token" in r.json()["message"]
        assert c.get("/api/v1/health").json()["writes_enabled"] is False


def test_token_is_compared_in_constant_time():
    src = (Path(__file__).parents[1] / "src/surgeguard/serve/api/security.py").read_text()
    assert "hmac.compare_digest" in src and "== token" not in src and "token ==" not in src


def test_request_bodies_above_the_limit_are_refused(client):
    r = client.post("/api/v1/whatif", content=b"{" + b" " * 70_000 + b"}", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    def chunks():  # no Content-Length: refused while it streams
        for _ in range(40):
            yield b" " * 4096
    r = client.post("/api/v1/whatif", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_no_wildcard_cors(example):
    with pytest.raises(ValidationError, match="wildcard"):
        ApiSettings(cors_origins=("*",))
    with pytest.raises(ValidationError, match="not an origin"):
        ApiSettings(cors_origins=("http://*.example.com",))
    with TestClient(create_app(make_state(example))) as c:   # default: no CORS at all
        r = c.get("/api/v1/health", headers={"Origin": "http://evil.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    st = make_state(example, cors_origins=("http://127.0.0.1:9000",))
    with TestClient(create_app(st)) as c:
        good = c.get("/api/v1/health", headers={"Origin": "http://127.0.0.1:9000"})
        assert good.headers["access-control-allow-origin"] == "http://127.0.0.1:9000"
        bad = c.get("/api/v1/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in bad.headers
        pre = c.options("/api/v1/whatif", headers={"Origin": "http://evil.example",
                                                   "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers


def test_dashboard_is_served_without_external_assets(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("app.js", "style.css"):
        text = client.get(f"/dashboard/{asset}").text
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), asset
    assert not re.search(r"(src|href)=\"https?://", page.text)


# ---------------------------------------------------------------------------------------------- contract
def test_openapi_schema_is_versioned_and_typed(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["paths"] and all(p.startswith("/api/v1/") for p in doc["paths"])
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = op["responses"].get("200") or op["responses"].get("202")
            assert "$ref" in json.dumps(ok["content"]["application/json"]["schema"]), (method, path)
            if method == "post":
                assert {"401", "413", "422"} <= set(op["responses"]), path


def test_schemathesis_finds_no_server_error(example):
    """Every operation of the schema, valid and invalid inputs (a few examples each): never a 5xx."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable

    st = make_state(example, max_jobs=1)
    app = create_app(st)
    seen = []
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
        ops = [r.ok() for r in schema.get_all_operations()]
        assert len(ops) >= 15
        for op in ops:
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                @given(case=op.as_strategy(generation_mode=mode))
                @settings(max_examples=int(os.environ.get("SURGEGUARD_SCHEMATHESIS_EXAMPLES", "5")), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                          database=None)
                def check(case):
                    response = case.call(headers=AUTH)
                    seen.append(response.status_code)
                    assert response.status_code < 500, (case.method, case.path, case.query, case.body,
                                                        response.text[:300])
                try:
                    check()
                except Unsatisfiable:   # no invalid input exists (an operation without parameters)
                    assert mode == schemathesis.GenerationMode.NEGATIVE
    assert any(code == 200 for code in seen) and any(400 <= code < 500 for code in seen)


# ---------------------------------------------------------------------------------------------- a started server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _outside_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))   # no packet is sent: picks the outgoing interface
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def test_surgeguard_serve_runs_the_controller_and_binds_loopback(tmp_path):
    httpx = pytest.importorskip("httpx")
    port = _free_port()
    env = dict(os.environ, SURGEGUARD_API_TOKEN=TOKEN)
    exe = Path(sys.executable).with_name("surgeguard")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--speed", "600", "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("dashboard:"):
                break
        assert any(f"http://127.0.0.1:{port}/dashboard/#token={TOKEN}" in x for x in lines), lines
        base = f"http://127.0.0.1:{port}/api/v1"
        seen = set()
        t0 = time.monotonic()
        while len(seen) < 3 and time.monotonic() - t0 < 60:   # the controller decides as the replay runs
            h = httpx.get(f"{base}/health", timeout=10).json()
            if h["last_interval"]:
                seen.add(h["last_interval"])
            time.sleep(0.2)
        assert len(seen) >= 3 and h["controller"]["running"], h
        assert httpx.get(f"{base}/utilisation/latest", timeout=10).json()["mlu"] > 0
        assert httpx.post(f"{base}/whatif", json={"all_single": "link"}, timeout=10).status_code == 401
        outside = _outside_address()
        if outside is not None:   # bound to 127.0.0.1: the machine's other address refuses
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{outside}:{port}/api/v1/health", timeout=5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, -signal.SIGINT, 130), proc.returncode


def test_alerts_say_what_moved(example):
    """Alerts read back with their kind (level / step / shape) from a store of their own."""
    from surgeguard.detect import Alert
    from surgeguard.store import open_store

    net = example.controller.network
    store = open_store(":memory:")
    t0 = pd.Timestamp("2020-03-20 17:00", tz="UTC")
    store.write_interval(t0, alerts=[Alert(t0, "total", "total", 0.3, "seasonal", 6.0, kind="step"),
                                     Alert(t0, net.node_names[0], "out", 0.2, "seasonal", 4.0, kind="shape")])
    state = ApiState(net, store, settings=ApiSettings(token=TOKEN))
    with TestClient(create_app(state)) as c:
        rows = c.get("/api/v1/alerts").json()["rows"]
    assert sorted((r["place"], r["kind"]) for r in rows) == sorted([("total", "step"), (net.node_names[0], "shape")])
    store.close()
