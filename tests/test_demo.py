"""The demo end to end, on one day instead of fourteen."""

import json
from html import escape

import pandas as pd
import pytest
from typer.testing import CliRunner

from surgeguard.serve.demo import DEMO_SIDE_STAGES, DEMO_STAGES, LOCKDOWN_START
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
    # the deploy section: the decided routing as SR policies, the fewest policies, IGP metric changes
    assert "Deploy: SR-TE policies and IGP metrics" in html and "IGP metric changes" in html
    dep = summary["deploy"]
    assert dep["optimum_mlu"] <= dep["decided"]["mlu"]["routing"] + 1e-9
    igp = dep["igp_metrics"]
    assert igp["mlu_start"] == pytest.approx(dep["decided"]["mlu"]["igp"], rel=1e-9)
    assert igp["changes"] <= 10 and len(igp["changes_list"]) == igp["changes"]
    assert igp["mlu"] < igp["mlu_start"] if igp["changes"] else igp["mlu"] == igp["mlu_start"]
    assert dep["few_policies"]["curve"][0] == pytest.approx(dep["decided"]["mlu"]["igp"], rel=1e-9)
    assert dep["few_policies"]["curve"][-1] <= dep["optimum_mlu"] * 1.02 + 1e-9
    assert f"{dep['decided']['mlu']['quantised']:.4f}" in html and f"{dep['igp_metrics']['mlu']:.4f}" in html
    for c in dep["igp_metrics"]["changes_list"]:
        assert escape(c["link"]) in html
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["policies"].keys() == pols.keys()
    # every stage timed, in order, and together no more than the whole run
    for key in ("stage_seconds", "stage_cpu_seconds"):
        assert list(summary[key]) == list(DEMO_STAGES)
        assert all(v >= 0 for v in summary[key].values())
    # the side stages ran in a second process alongside the others (stage_parallel): the rest fit in the run
    assert summary["stage_parallel"] == list(DEMO_SIDE_STAGES)
    assert sum(v for k, v in summary["stage_seconds"].items() if k not in DEMO_SIDE_STAGES) <= summary["seconds"] + 1e-6
    # the learned model saw only the past: its last training/validation target is before the lockdown
    lockdown = pd.Timestamp(LOCKDOWN_START)
    info = summary["learned"]
    assert written["learned"] == info
    assert pd.Timestamp(info["trained_on"][0]) < pd.Timestamp(info["val_start"]) < pd.Timestamp(info["trained_on"][1])
    assert pd.Timestamp(info["trained_on"][1]) < lockdown
    model = LearnedRouter.load(tmp_path / "learned.pt")
    assert model.trained_on_ == info["trained_on"]
    assert pd.Timestamp(model.trained_on_[1]) <= lockdown - pd.Timedelta(hours=1)


def _without_timings(d):
    """A summary entry without what depends on the clock or the output folder."""
    if isinstance(d, dict):
        return {k: _without_timings(v) for k, v in d.items()
                if not any(w in k for w in ("seconds", "store", "model_file"))}
    if isinstance(d, list):
        return [_without_timings(v) for v in d]
    return d


def test_demo_side_stages_same_in_one_process(tmp_path):
    """The side stages give the same results run in this process, in order (``parallel=False``), as in
    the second process of a parallel run; only the shortest/optimal replay, to keep it short."""
    from surgeguard.serve.demo import run_demo

    runs = {par: run_demo(tmp_path / str(par), days=1, policies=("shortest", "optimal"), progress=False,
                          parallel=par) for par in (True, False)}
    par, seq = runs[True], runs[False]
    assert par["summary"]["stage_parallel"] == list(DEMO_SIDE_STAGES) and seq["summary"]["stage_parallel"] == []
    # every stage timed in both, and one process's stages fit in its run
    assert list(seq["summary"]["stage_seconds"]) == list(DEMO_STAGES)
    assert sum(seq["summary"]["stage_seconds"].values()) <= seq["summary"]["seconds"] + 1e-6
    for key in ("policies", "deploy", "controller"):
        assert _without_timings(par["summary"][key]) == _without_timings(seq["summary"][key]), key
    lines = {k: [ln for ln in r["text"].splitlines() if ln.startswith(("surge detector", "controller:"))]
             for k, r in runs.items()}
    assert len(lines[True]) == 2 and lines[True][0] == lines[False][0]
    # the report has the side stages' sections in both
    for r in runs.values():
        html = r["files"]["report"].read_text()
        assert "Critical services" in html and "Surge detection" in html and "Failures" in html
