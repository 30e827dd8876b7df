"""The controller writes the SR export of each decision that changes it (issue 14): ``[export] dir``.

The real controller on the embedded Morocco example (counters file, tomogravity, priority policy,
DuckDB in memory), stepped into the lockdown with ``[export] dir`` set: each decision whose
policies differ from those in force gets ``DIR/<ds>/`` holding the files of the changed and added
policies only and ``changes.json``; replaying the changes from nothing gives the policies in force
(``current.json``), which are the library's export of the decided routing; an unchanged decision
writes nothing; a restarted controller diffs against ``current.json``; a broken export folder is a
note, never a stopped controller.
"""

from __future__ import annotations

import json
import re

import pytest

from surgeguard.deploy import export_sr
from surgeguard.serve.api import embedded_example
from surgeguard.serve.config import load_config
from surgeguard.serve.controller import (EXPORT_CHANGES, EXPORT_STATE, policy_changes, policy_records,
                                         write_decision_export)

INTERVALS = 16


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sr-export")
    ex = embedded_example(speed=None)
    ctl = ex.controller
    ctl.config = ctl.config.replace({"export.dir": str(root / "sr"), "export.format": "iosxr"}, where="python")
    results = [ctl.step() for _ in range(INTERVALS)]
    yield ex, root / "sr", results
    ex.close()


def apply(state: dict, changes: dict) -> dict:
    out = dict(state)
    for x in changes["removed"]:
        assert x["name"] in out
        del out[x["name"]]
    for x in changes["added"]:
        assert x["name"] not in out
        out[x["name"]] = {k: v for k, v in x.items() if k != "name"}
    for x in changes["changed"]:
        assert out[x["name"]] == x["before"] != x["after"]
        out[x["name"]] = x["after"]
    return out


def test_each_changing_decision_gets_a_folder_of_its_changed_policies(run):
    ex, root, results = run
    written = [r for r in results if r.export is not None and r.export["folder"] is not None]
    assert written and written[0] is results[0]   # the first decision: every policy is new
    first = json.loads((written[0].export["folder"] / EXPORT_CHANGES).read_text())
    assert first["removed"] == [] and first["changed"] == [] and len(first["added"]) == first["policies_in_force"] > 0
    state = {}
    for r in results:
        folder = r.export["folder"]
        if folder is None:
            continue
        assert folder.name == r.ds.strftime("%Y%m%dT%H%M%SZ") and folder.parent == root
        changes = json.loads((folder / EXPORT_CHANGES).read_text())
        state = apply(state, changes)
        assert len(state) == changes["policies_in_force"]
        moved = {x["name"] for x in changes["added"]} | {x["name"] for x in changes["changed"]}
        in_files = set()
        for cfg in folder.glob("*.cfg"):
            in_files |= set(re.findall(r"^  policy (\S+)$", cfg.read_text(), flags=re.M))
        assert in_files == moved   # only what changed is written
        assert json.loads((folder / "summary.json").read_text())["policies"] == len(moved)
    # the changes replayed from nothing are the policies in force, the library's export of the last routing
    current = json.loads((root / EXPORT_STATE).read_text())
    assert current["policies"] == state and current["format"] == "iosxr"
    last = results[-1]
    want = policy_records(export_sr(ex.controller.network, last.routing, last.forecast), "iosxr")
    assert set(want) == set(state)
    for name, rec in want.items():
        assert [sl["labels"] for sl in rec["segment_lists"]] == [sl["labels"] for sl in state[name]["segment_lists"]]
    assert not list(root.glob(".*"))   # no half-written folder left behind


def test_an_unchanged_decision_writes_nothing_and_a_restart_diffs_against_the_record(run, tmp_path):
    ex, _, results = run
    ctl = ex.controller
    last = results[-1]
    export = export_sr(ctl.network, last.routing, last.forecast)
    first = write_decision_export(tmp_path, last.ds, export, "json", None)
    assert first["folder"] is not None and first["added"] == export.n_policies
    assert sorted(p.name for p in first["folder"].glob("*.json") if p.name not in ("summary.json", EXPORT_CHANGES)) \
        == sorted(f"{h}.json" for h in export.headends())
    again = write_decision_export(tmp_path, last.ds + ctl.interval, export, "json", first["records"])
    restarted = write_decision_export(tmp_path, last.ds + 2 * ctl.interval, export, "json", None)
    assert again["folder"] is None and restarted["folder"] is None
    assert (again["added"], again["removed"], again["changed"]) == (0, 0, 0)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1
    # a policy gone and one changed: both listed, only the changed one written
    recs = dict(first["records"])
    gone, kept = sorted(recs)[:2]
    recs[gone] = dict(recs[gone], color=999)
    recs["SG_extra"] = recs[kept]
    diff = policy_changes(recs, first["records"])
    assert [x["name"] for x in diff["removed"]] == ["SG_extra"] and [x["name"] for x in diff["changed"]] == [gone]


def test_a_broken_export_folder_is_a_note_not_a_stopped_controller(tmp_path):
    ex = embedded_example(speed=None)
    try:
        ctl = ex.controller
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the export folder should be")
        ctl.config = ctl.config.replace({"export.dir": str(blocker)}, where="python")
        res = ctl.step()
        assert res.stored is not None and res.status == "ok"
        assert res.export is None and any("export" in n and "not-a-folder" in n for n in res.notes)
    finally:
        ex.close()


def test_export_settings_are_checked():
    cfg = load_config(None, {"export.dir": "sr", "export.format": "frr", "export.slots": 8})
    assert (cfg.export.dir, cfg.export.format, cfg.export.slots) == ("sr", "frr", 8)
    assert load_config(None).export.dir == ""   # off by default
    with pytest.raises(Exception, match="--export-format"):
        load_config(None, {"export.format": "junos"})
