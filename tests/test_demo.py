"""The demo end to end, on one day instead of fourteen."""

import json

from typer.testing import CliRunner

from surgeguard.serve.cli import app


def test_demo_one_day(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--days", "1", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    pols = summary["policies"]
    assert set(pols) >= {"shortest", "optimal", "oracle"}
    assert pols["oracle"]["steps"] == 96
    # the oracle is a lower bound; optimal on the previous interval is no worse than shortest on average
    assert pols["optimal"]["ratio_mean"] >= 1.0 - 1e-9
    assert pols["optimal"]["mlu_mean"] <= pols["shortest"]["mlu_mean"] + 1e-9
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "Casablanca" in html and "lockdown" in html
    assert json.loads((tmp_path / "summary.json").read_text())["policies"].keys() == pols.keys()
