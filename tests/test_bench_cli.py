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


# ---------------------------------------------------------------------- uneven sizings (issue 16)
def _abilene_first_path_need(ladder):
    """Per link: the larger direction's first-path load of the ladder's base matrix / 0.7."""
    import numpy as np

    from surgeguard.failures import circuit_frame
    from surgeguard.io import read_topohub
    from surgeguard.paths import k_shortest_paths

    net = read_topohub("sndlib/abilene")
    paths = k_shortest_paths(net, k=4, method="deviation")
    base, _ = ladder.bench_matrices(net, 1)
    first = paths.od_ptr[:-1]
    load = np.zeros(net.n_links)
    d = paths.demand(base)
    for p, dem in zip(first, d):
        load[paths.link_idx[paths.link_ptr[p]:paths.link_ptr[p + 1]]] += dem
    circuit, _ = circuit_frame(net)
    per = np.zeros(circuit.max() + 1)
    np.maximum.at(per, circuit, load / 0.7)
    return net, paths, base, per[circuit], circuit


def test_hard_sizing_is_seeded_and_within_its_spread():
    import numpy as np

    from surgeguard.plan.sizing import round_to_ports

    ladder = cmd_bench.load_te_ladder()
    assert ladder.SIZINGS["hard"] == {"target_util": 0.7, "spread": (0.6, 1.2), "seed": 0}
    net, paths, base, need, circuit = _abilene_first_path_need(ladder)
    a = ladder.size_network(net, paths, base, "hard")
    b = ladder.size_network(net, paths, base, "hard")
    assert np.array_equal(a.capacity, b.capacity)                       # seeded
    assert np.all(a.capacity >= round_to_ports(need * 0.6) - 1e-3)      # factor >= 0.6, rounded up
    assert np.all(a.capacity <= round_to_ports(need * 1.2) + 1e-3)      # factor <= 1.2
    for c in np.unique(circuit):                                        # both directions alike
        assert len(set(a.capacity[circuit == c])) == 1
    even = ladder.size_network(net, paths, base, "first-path")
    assert not np.array_equal(a.capacity, even.capacity)
    assert "U(0.6, 1.2)" in a.meta["capacity_source"]


def test_hard_core_sizing_is_hard_with_headroom_on_the_forced_loads():
    """``hard-core``: the ``hard`` draws, and every link's forced load (of the ODs that must cross it)
    at no more than 50 % (30 % before the factor >= 0.6), where ``hard`` leaves caida-701's optimum on
    such links; never less capacity than ``hard``."""
    import numpy as np

    from surgeguard.io import read_topohub
    from surgeguard.optimise.first_order import get_operator
    from surgeguard.paths import k_shortest_paths

    ladder = cmd_bench.load_te_ladder()
    assert ladder.SIZINGS["hard-core"] == {**ladder.SIZINGS["hard"], "forced_util": 0.3}
    net = read_topohub("caida/2024-08/701")
    paths = k_shortest_paths(net, k=4, method="deviation")
    base, _ = ladder.bench_matrices(net, 1)
    hard = ladder.size_network(net, paths, base, "hard")
    hc = ladder.size_network(net, paths, base, "hard-core")
    assert np.all(hc.capacity >= hard.capacity * (1 - 1e-12))
    d = paths.demand(base)
    op = get_operator(paths, "cpu")
    assert op.forced_util(d, hc.capacity).max() <= 0.5 + 1e-9
    assert op.forced_util(d, hard.capacity).max() > 0.8
    assert "forced load / 0.3" in hc.meta["capacity_source"] and "U(0.6, 1.2)" in hc.meta["capacity_source"]


def test_shifted_sizing_sizes_for_another_matrix_of_the_same_total():
    import numpy as np

    ladder = cmd_bench.load_te_ladder()
    net, paths, base, _, _ = _abilene_first_path_need(ladder)
    shifted = ladder.sizing_matrix(base, ladder.SIZINGS["shifted"]["shift"])
    assert shifted.sum() == pytest.approx(base.sum())
    assert np.all(np.diag(shifted) == 0) and not np.allclose(shifted, base)
    assert ladder.sizing_matrix(base, None) is base
    a = ladder.size_network(net, paths, base, "shifted")
    assert "shifted matrix" in a.meta["capacity_source"]
    assert not np.array_equal(a.capacity, ladder.size_network(net, paths, base, "first-path").capacity)


def test_bench_te_hard_quick_run(tmp_path):
    import json

    out = tmp_path / "out"
    r = runner.invoke(app, ["bench", "te", "--quick", "--topologies", "abilene", "--sizing", "hard",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "te_cpu-hard-quick.json").read_text())
    assert res["sizing"] == "hard"
    (rung,) = res["rungs"]
    assert "U(0.6, 1.2)" in rung["capacity_source"]
    assert sum(rung["certified_by"].values()) == len(rung["fast"]) == 3
    for x in rung["fast"]:
        assert x["gap"] <= 0.01 + 1e-9 and x["bound"] in ("forced links", "prices")
        assert x["gap_to_lp"] >= -1e-6          # never below the LP optimum: the bound is certified
    md = (out / "te_cpu-hard-quick.md").read_text()
    assert "Per matrix, abilene" in md and "Load average" in md


def test_solve_fast_profile_times_the_phases_and_changes_nothing():
    import numpy as np

    from surgeguard.optimise.first_order import solve_fast

    ladder = cmd_bench.load_te_ladder()
    net, paths, base, _, _ = _abilene_first_path_need(ladder)
    net = ladder.size_network(net, paths, base, "hard")
    tm = ladder.bench_matrices(net, 1)[1][0]
    kw = dict(device="cpu", threads=1, lp_bound_every=0, tol=1e-3)   # no clock-dependent bound LPs
    s0, i0 = solve_fast(net, paths, tm, **kw)
    prof = {}
    s1, i1 = solve_fast(net, paths, tm, profile=prof, **kw)
    assert np.array_equal(s0, s1) and i0["mlu"] == i1["mlu"] and i0["iterations"] == i1["iterations"]
    assert prof["iterations"] == i1["iterations"]
    phases = ["set-up", "forced links", "loads (links <- paths)", "prices (paths <- links)", "certificate"]
    phases += ["Adam step"] if i1["status"] != "converged" or i1["iterations"] > 1 else []
    for phase in phases:
        assert prof[phase] >= 0.0
    assert sum(v for k, v in prof.items() if k != "iterations") <= i1["solve_seconds"] + 1e-3


def test_lp_matrices_sets_the_ipm_solves_per_rung(tmp_path):
    import json

    out = tmp_path / "out"
    r = runner.invoke(app, ["bench", "te", "--quick", "--topologies", "abilene", "--lp-matrices", "abilene=1",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "te_cpu-quick.json").read_text())
    (rung,) = res["rungs"]
    assert len(rung["lp"]) == 1 and len(rung["fast"]) == 3 and res["n_lp"] == {"abilene": 1}


def test_bad_lp_matrices_is_a_one_line_error(tmp_path):
    r = runner.invoke(app, ["bench", "te", "--lp-matrices", "caida-701:20", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "--lp-matrices" in r.output and "caida-701:20" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_n_tm_and_threads_reach_the_ladder(tmp_path):
    import json

    out = tmp_path / "out"
    r = runner.invoke(app, ["bench", "te", "--quick", "--topologies", "abilene", "--n-tm", "2", "--threads", "1",
                            "--lp-matrices", "abilene=1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "te_cpu-quick.json").read_text())
    (rung,) = res["rungs"]
    assert len(rung["fast"]) == 2 and len(rung["lp"]) == 1
    assert res["machine"]["torch_threads"] == 1


@pytest.mark.parametrize("flag", ["--n-tm", "--threads"])
def test_n_tm_and_threads_below_one_are_one_line_errors(tmp_path, flag):
    r = runner.invoke(app, ["bench", "te", flag, "0", "--out", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert flag in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
