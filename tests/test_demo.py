"""The demo end to end, on one day instead of fourteen."""

import json

import pandas as pd
from typer.testing import CliRunner

from surgeguard.serve.demo import LOCKDOWN_START
from surgeguard.routing.learned import LearnedRouter
from surgeguard.serve.cli import app


def test_demo_one_day(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--days", "1", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    pols = summary["policies"]
    assert set(pols) >= {"shortest", "optimal", "learned", "oracle"}
    assert pols["oracle"]["steps"] == 96
    assert pols["learned"]["steps"] == 96
    # the oracle is a lower bound; optimal on the previous interval is no worse than shortest on average
    assert pols["optimal"]["ratio_mean"] >= 1.0 - 1e-9
    assert pols["learned"]["ratio_mean"] >= 1.0 - 1e-9
    assert pols["optimal"]["mlu_mean"] <= pols["shortest"]["mlu_mean"] + 1e-9
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "Casablanca" in html and "lockdown" in html
    assert "Learned routing" in html and ">learned<" in html
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["policies"].keys() == pols.keys()
    # the learned model saw only the past: its last training/validation target is before the lockdown
    lockdown = pd.Timestamp(LOCKDOWN_START)
    info = summary["learned"]
    assert written["learned"] == info
    assert pd.Timestamp(info["trained_on"][0]) < pd.Timestamp(info["val_start"]) < pd.Timestamp(info["trained_on"][1])
    assert pd.Timestamp(info["trained_on"][1]) < lockdown
    model = LearnedRouter.load(tmp_path / "learned.pt")
    assert model.trained_on_ == info["trained_on"]
    assert pd.Timestamp(model.trained_on_[1]) <= lockdown - pd.Timedelta(hours=1)
