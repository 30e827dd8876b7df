"""The bad-input battery: every row of ``benchmarks/bad_input.py`` (the one copy of the table) must be
answered well: exit 2 with one ``error: `` line naming the input, nothing on stdout and nothing on
disk changed; or, for valid input, exit 0 and the correct answer.

The cases run once per session, two at a time, each in its own folder under ``tmp_path`` and its own
process (with a timeout and a memory limit); each is then one test here. Rows that read the real data
skip where ``../shared/data`` is absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bad_input as bi  # noqa: E402

#: the whole battery runs in the first test's setup: give it room (a hang costs a case its timeout only)
pytestmark = pytest.mark.timeout(1800)
WORKERS = int(os.environ.get("SURGEGUARD_BAD_INPUT_WORKERS", "2"))


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    """``{case id: Outcome}`` of the cases this session selected (``-k`` runs fewer)."""
    wanted = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and getattr(item, "originalname", "") == "test_bad_input":
            wanted.add(callspec.params["case"].id)
    data = bi.DEFAULT_DATA if bi.DEFAULT_DATA.is_dir() else None
    cases = [c for c in bi.CASES if c.id in wanted and (data is not None or not c.data)]
    return bi.run_cases(cases, tmp_path_factory.mktemp("bad_input"), data=data, workers=WORKERS)


@pytest.mark.parametrize("case", bi.CASES, ids=[c.id for c in bi.CASES])
def test_bad_input(case, outcomes, request):
    if case.data:
        request.getfixturevalue("shared_data")  # skips with a message where ../shared/data is absent
    out = outcomes[case.id]
    assert out.grade == "well", out.describe()


def test_table_covers_every_command_and_reader():
    """At least 150 cases; every command and every reader; ids unique; every row says what it expects."""
    assert len(bi.CASES) >= 150
    ids = [c.id for c in bi.CASES]
    assert len(set(ids)) == len(ids)
    assert set(bi.COMMANDS) <= {c.command for c in bi.CASES}
    assert set(bi.READERS) <= {c.reader for c in bi.CASES}
    for c in bi.CASES:
        assert c.expect in ("error", "ok", "bounded") and c.owner in bi.OWNERS and c.what
        assert c.expect == "error" or c.check is not None, f"{c.id}: a valid input needs a check of its answer"


def test_grading_rules(tmp_path):
    """The grader itself: one line is well; a box, a traceback, exit 0 or stdout on failure are not."""
    case = bi.Case("x", "info", ("info",), "error", "x", bi.OWNERS[1], must=("--k",))

    def graded(rc, out, err):
        return bi.grade(bi.Outcome(case, rc, out, err, 0.1, False, tmp_path), "")[0]

    assert graded(2, "", "error: --k 0 must be >= 1\n") == "well"
    assert graded(2, "", "error: k must be >= 1\n") == "weak"
    assert graded(2, "", "Usage: x\n╭─ Error ─╮\n│ Invalid value for '--k' │\n╰──╯\n") == "weak"
    assert graded(1, "", "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: x\n") == "failed"
    assert graded(0, "{\"mlu\": 1}\n", "") == "failed"
    assert graded(2, "partial\n", "error: --k 0 must be >= 1\n") == "failed"
    assert bi.grade(bi.Outcome(case, None, "", "", 9.0, True, tmp_path), "")[0] == "failed"
