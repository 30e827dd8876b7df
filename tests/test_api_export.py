"""``GET /api/v1/export/sr`` (issue 14): the controller's decision as SR-TE policies from the API.

The store is filled by the real controller on the embedded Morocco example (counters file,
tomogravity, priority policy, DuckDB in memory), stepped into the lockdown (17:00 UTC) so that
the decided routing moves traffic off the IGP's paths. The export is checked against the library
(:func:`surgeguard.deploy.export_sr` on the controller's own routing and forecast), the JSON
documents are read back into the routing, the zip holds exactly the files listed, a decision is
rebuilt from the store alone, and bad input is refused naming the field.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from surgeguard.deploy import FORMATS, check_frr_config, export_sr, read_json_policies, routing_from_policies  # noqa: E402
from surgeguard.evaluate import evaluate  # noqa: E402
from surgeguard.paths import k_shortest_paths  # noqa: E402
from surgeguard.serve.api import ApiSettings, ApiState, ControllerRunner, create_app, embedded_example  # noqa: E402
from surgeguard.serve.api.export import stored_routing  # noqa: E402
from surgeguard.store import open_store, splits_frame  # noqa: E402

TOKEN = "export-token-0123456789"
INTERVALS = 18   # 16:00 .. 17:25 UTC: the lockdown has begun, the decision beats the IGP
SR = "/api/v1/export/sr"


@pytest.fixture(scope="module")
def example():
    ex = embedded_example(speed=None)
    for _ in range(INTERVALS):
        ex.controller.step()
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def client(example):
    ctl = example.controller
    state = ApiState(ctl.network, ctl.store, settings=ApiSettings(token=TOKEN),
                     runner=ControllerRunner(ctl, example.log), autostart=False)
    with TestClient(create_app(state)) as c:
        yield c


@pytest.fixture(scope="module")
def read_only(example):
    """The same store served without the controller (``surgeguard serve --store``): decisions are
    rebuilt from the stored splits over the API's own candidate paths."""
    ctl = example.controller
    with TestClient(create_app(ApiState(ctl.network, ctl.store, settings=ApiSettings(token=TOKEN)))) as c:
        yield c


def lists_of(doc_files) -> dict:
    """{(headend, endpoint): sorted [(labels, split)]} of the JSON documents."""
    out = {}
    for f in doc_files:
        doc = f["document"]
        for p in doc["policies"]:
            sls = p["candidate_paths"][0]["segment_lists"]
            out[(doc["headend"]["node"], p["endpoint_node"])] = sorted(
                (tuple(s["sid"] for s in sl["segments"]), round(sl["split"], 9)) for sl in sls)
    return out


def test_json_export_is_the_latest_decision_as_sr_policies(client, example, tmp_path):
    ctl = example.controller
    res = ctl.results[-1]
    r = client.get(SR, params={"format": "json"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert pd.Timestamp(d["ds"]) == res.ds and d["policy"] == res.policy and d["status"] == res.status
    assert d["matrix"] == "forecast" and pd.Timestamp(d["for_interval"]) == res.ds + ctl.interval
    # what the library exports from the controller's own routing and forecast
    want = export_sr(ctl.network, res.routing, res.forecast)
    assert d["policies"] == want.n_policies > 0
    assert d["mlu"]["routing"] == pytest.approx(res.predicted_mlu, rel=1e-9)
    assert d["mlu"]["igp"] == pytest.approx(want.mlu["igp"], rel=1e-9)
    assert d["mlu"]["routing"] < 0.95 * d["mlu"]["igp"]   # the lockdown: the decision beats the IGP
    assert d["mlu_of_format"] == pytest.approx(d["mlu"]["quantised"])
    assert d["mlu"]["quantised"] <= d["mlu"]["device_exact_weights"] + 1e-12   # never worse than largest remainder
    expected = {(p.headend, p.endpoint): sorted((sl.labels, round(sl.split, 9)) for sl in p.segment_lists)
                for p in want.policies}
    assert lists_of(d["files"]) == expected
    assert [f["name"] for f in d["files"]] == sorted(f"{h}.json" for h in want.headends())
    assert all(f["headend"] == f["document"]["headend"]["node"] for f in d["files"])
    for f in d["files"]:
        for p in f["document"]["policies"]:
            assert sum(sl["weight"] for sl in p["candidate_paths"][0]["segment_lists"]) == 64
    # the documents read back into the decided routing (exact splits) on every OD with traffic
    for f in d["files"]:
        (tmp_path / f["name"]).write_text(f["text"])
    back = routing_from_policies(ctl.network, res.routing.paths, read_json_policies(tmp_path), use="split")
    assert evaluate(ctl.network, back, res.forecast).mlu == pytest.approx(d["mlu"]["expressible"], rel=1e-9)


def test_download_is_a_zip_of_the_listed_files_and_summary(client):
    listing = client.get(SR, params={"format": "iosxr", "slots": 16}).json()
    r = client.get(listing["download"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    stamp = pd.Timestamp(listing["ds"]).strftime("%Y%m%dT%H%M%SZ")
    top = f"surgeguard-sr-iosxr-{stamp}"
    assert r.headers["content-disposition"] == f'attachment; filename="{top}.zip"'
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(z.namelist()) == sorted([f"{top}/summary.json"] + [f"{top}/{f['name']}" for f in listing["files"]])
    for f in listing["files"]:
        text = z.read(f"{top}/{f['name']}").decode()
        assert text == f["text"] and f"policy SG_{f['headend']}_" in text and "weight" in text
    summary = json.loads(z.read(f"{top}/summary.json"))
    assert summary["format"] == "iosxr" and summary["params"]["slots"] == 16
    assert summary["policies"] == listing["policies"] and summary["mlu"] == listing["mlu"]
    assert r.content == client.get(listing["download"]).content   # the same export is the same bytes


def test_every_format_and_frr_files_pass_frrs_parser(client, tmp_path):
    counts = {}
    for fmt in FORMATS:
        d = client.get(SR, params={"format": fmt}).json()
        counts[fmt] = d["policies"]
        assert d["format"] == fmt and d["files"]
        if fmt in ("frr", "pola"):
            assert d["mlu_of_format"] == pytest.approx(d["mlu"]["single_list"])
            assert "one segment list" in d["expresses"]
    assert len(set(counts.values())) == 1
    pola = client.get(SR, params={"format": "pola"}).json()
    assert len(pola["files"]) == pola["policies"] and all(f["name"].endswith(".yaml") for f in pola["files"])
    vtysh = shutil.which("vtysh")
    if vtysh is None:
        pytest.skip("FRR's vtysh not found (scripts/install_services.sh installs FRR); the FRR files are unchecked")
    for f in client.get(SR, params={"format": "frr"}).json()["files"]:
        p = tmp_path / f["name"]
        p.write_text(f["text"])
        ok, text = check_frr_config(p, vtysh)
        assert ok, (f["name"], text)


def test_an_earlier_decision_is_rebuilt_from_the_store(client, read_only, example):
    ctl = example.controller
    res = ctl.results[-6]
    ds = res.ds.strftime("%Y-%m-%dT%H:%M:%SZ")
    live = client.get(SR, params={"format": "json", "ds": ds}).json()
    stored = read_only.get(SR, params={"format": "json", "ds": ds}).json()
    assert pd.Timestamp(live["ds"]) == pd.Timestamp(stored["ds"]) == res.ds
    assert lists_of(stored["files"]) == lists_of(live["files"]) != {}
    for k in ("routing", "igp", "expressible"):
        assert stored["mlu"][k] == pytest.approx(live["mlu"][k], rel=1e-9)
    assert stored["mlu"]["routing"] == pytest.approx(res.predicted_mlu, rel=1e-9)


def test_stored_routing_adds_the_paths_the_candidates_lack(example):
    ctl = example.controller
    res = ctl.results[-1]
    one = k_shortest_paths(ctl.network, k=1)
    back = stored_routing(ctl.network, one, splits_frame(res.routing), res.policy)
    assert back.paths.n_paths > one.n_paths and back.policy == res.policy
    want = evaluate(ctl.network, res.routing, res.forecast)
    got = evaluate(ctl.network, back, res.forecast)
    assert got.mlu == pytest.approx(want.mlu, rel=1e-9)
    np.testing.assert_allclose(got.link_load, want.link_load, rtol=1e-9, atol=1e-3)


def test_few_policies_export_returns_the_curve(client):
    d = client.get(SR, params={"format": "json", "max_policies": 3}).json()
    curve = d["curve"]
    assert 1 <= len(curve) <= 4 and d["policies"] == len(curve) - 1 <= 3
    assert [c["n_policies"] for c in curve] == list(range(len(curve)))
    assert curve[0]["mlu"] == pytest.approx(d["mlu"]["igp"], rel=1e-9) and curve[0]["src"] is None
    assert all(b["mlu"] <= a["mlu"] + 1e-12 for a, b in zip(curve, curve[1:]))
    assert d["mlu"]["routing"] == pytest.approx(curve[-1]["mlu"], rel=1e-9)
    assert {(c["src"], c["dst"]) for c in curve[1:]} == set(lists_of(d["files"]))
    assert "max_policies=3" in d["download"]
    gap = client.get(SR, params={"format": "json", "target_gap": 0.5}).json()
    assert gap["curve"] is not None and gap["policies"] <= d["policies"] + 3


@pytest.mark.parametrize("query, status, field", [
    ({"format": "bogus"}, 422, "query.format"),
    ({"slots": 0}, 422, "query.slots"),
    ({"slots": "many"}, 422, "query.slots"),
    ({"max_sid_depth": 0}, 422, "query.max_sid_depth"),
    ({"color": 0}, 422, "query.color"),
    ({"max_policies": -1}, 422, "query.max_policies"),
    ({"target_gap": "nan"}, 422, "query.target_gap"),
    ({"vendor_drop": "perhaps"}, 422, "query.vendor_drop"),
    ({"ds": "yesterday"}, 422, "query.ds"),
    ({"ds": "1500-01-01T00:00:00Z"}, 422, "query.ds"),
    ({"ds": "2020-01-01T00:00:00Z"}, 404, "query.ds"),
    ({"max_policies": 2, "target_gap": 0.1}, 422, "query.max_policies"),
])
def test_bad_input_names_the_field_and_the_fix(client, query, status, field):
    r = client.get(SR, params=query)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["field"] == field and body["message"].startswith(field)
    assert "; " in body["message"] or body["fix"]


def test_no_decision_yet_is_409_and_the_schema_lists_the_route(example):
    ctl = example.controller
    empty = open_store(":memory:")
    try:
        with TestClient(create_app(ApiState(ctl.network, empty, settings=ApiSettings(token=TOKEN)))) as c:
            r = c.get(SR)
            assert r.status_code == 409 and "no decision" in r.json()["message"]
            schema = c.get("/api/v1/openapi.json").json()
    finally:
        empty.close()
    op = schema["paths"][SR]["get"]
    assert "application/zip" in op["responses"]["200"]["content"]
    params = {p["name"] for p in op["parameters"]}
    assert {"format", "ds", "slots", "max_sid_depth", "max_policies", "target_gap", "download"} <= params
