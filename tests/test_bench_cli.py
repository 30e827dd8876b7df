"""``surgeguard bench te``: the command finds the benchmark in the source checkout, or says it is not there."""

import pytest
from typer.testing import CliRunner

from surgeguard.serve import cmd_bench
from surgeguard.serve.cli import app

runner = CliRunner()


def test_bench_te_help():
    r = runner.invoke(app, ["bench", "te", "--help"])
    assert r.exit_code == 0
    assert "--quick" in r.output


def test_ladder_loads_from_the_checkout():
    ladder = cmd_bench.load_te_ladder()
    assert callable(ladder.run_te_bench)
    assert [r.name for r in ladder.QUICK_LADDER] == ["abilene", "geant"]


def test_missing_checkout_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cmd_bench, "BENCHMARKS_DIR", tmp_path / "benchmarks")
    r = runner.invoke(app, ["bench", "te", "--quick", "--out", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert r.output.strip().startswith("error:") and "source checkout" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unknown_sizing_is_a_one_line_error(tmp_path):
    r = runner.invoke(app, ["bench", "te", "--sizing", "nope", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "unknown sizing 'nope'" in r.output
