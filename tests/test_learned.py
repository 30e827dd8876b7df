"""The learned policy: valid splits, training that beats simple routings, save/load, no look-ahead, CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from surgeguard import TrafficSeries  # noqa: E402
from surgeguard.evaluate import evaluate, replay  # noqa: E402
from surgeguard.examples import two_paths  # noqa: E402
from surgeguard.exceptions import InputError, NotFittedError, ValidationError  # noqa: E402
from surgeguard.routing import Routing, get_policy, k_shortest_paths, paths_from_node_lists, solve  # noqa: E402
from surgeguard.routing.learned import Learned, LearnedRouter  # noqa: E402
from surgeguard.routing.robust import Robust  # noqa: E402
from surgeguard.serve.cli import app  # noqa: E402

N_STEPS = 160


def _toy():
    """two_paths (10 Gbit/s): S->T over S-A-T or S-B-T, with background S->A and B->T that swing
    slowly in opposite phase, so the best split of S->T moves with the recent past."""
    net = two_paths()
    ps = paths_from_node_lists(net, [("S", "T", [["S", "A", "T"], ["S", "B", "T"]]),
                                     ("S", "A", [["S", "A"]]), ("B", "T", [["B", "T"]])])
    i = {n: k for k, n in enumerate(net.node_names)}
    rng = np.random.default_rng(0)
    t = np.arange(N_STEPS)
    phase = 2 * np.pi * t / 40
    v = np.zeros((N_STEPS, 4, 4))
    v[:, i["S"], i["T"]] = 8e9 * np.exp(rng.normal(0, 0.02, N_STEPS))
    v[:, i["S"], i["A"]] = 4e9 * (1 + 0.9 * np.sin(phase))
    v[:, i["B"], i["T"]] = 4e9 * (1 - 0.9 * np.sin(phase))
    ts = TrafficSeries(v, net.node_names, pd.date_range("2020-03-20", periods=N_STEPS, freq="15min", tz="UTC"))
    return net, ps, ts


@pytest.fixture(scope="module")
def trained():
    net, ps, ts = _toy()
    m = LearnedRouter(history=2, hidden=(32,), epochs=60, batch_size=16, lr=3e-3, smooth=0.02, patience=60,
                      prior=None, random_state=0)
    m.fit(net, ps, ts, val_start=100, val_stop=120, progress=False)
    return net, ps, ts, m


def _ratios(net, ps, ts, splits_of, start, stop):
    out = []
    for t in range(start, stop):
        r = Routing(ps, splits_of(t))
        out.append(evaluate(net, r, ts.matrix(t)).mlu / solve(net, ps, ts.matrix(t), "optimal").info["mlu"])
    return np.array(out)


def test_learned_beats_uniform_and_shortest_on_held_out_steps(trained):
    net, ps, ts, m = trained
    lr = _ratios(net, ps, ts, lambda t: m.predict_splits(ts.total[t - 2:t]), 120, N_STEPS)
    uni = _ratios(net, ps, ts, lambda t: Routing.uniform(ps).splits, 120, N_STEPS)
    sp = _ratios(net, ps, ts, lambda t: Routing.first_path(ps).splits, 120, N_STEPS)
    assert lr.mean() < uni.mean() - 0.05
    assert lr.mean() < sp.mean() - 0.05
    assert lr.mean() < 1.1
    assert m.log_[m.best_epoch_ - 1]["val_ratio_mean"] < m.log_[0]["val_ratio_mean"]


def test_splits_are_valid(trained):
    net, ps, ts, m = trained
    rng = np.random.default_rng(1)
    for _ in range(5):
        h = ts.total[:2] * rng.uniform(0.1, 10, (2, 4, 4))
        s = m.predict_splits(h)
        assert s.shape == (ps.n_paths,) and (s >= 0).all()
        np.testing.assert_allclose(np.add.reduceat(s, ps.od_ptr[:-1]), 1.0, atol=1e-9)
    # scale-free inputs: the same routing for the same traffic x 1.3 (a lockdown's growth)
    np.testing.assert_allclose(m.predict_splits(1.3 * ts.total[:2]), m.predict_splits(ts.total[:2]), atol=1e-6)


@pytest.mark.parametrize("prior", [None, "robust"])
def test_save_load_round_trip_identical_splits(trained, tmp_path, prior):
    net, ps, ts, m = trained
    if prior:
        m = LearnedRouter(history=2, hidden=(8,), epochs=2, prior="robust", mix=0.5, prior_window=4)
        m.fit(net, ps, ts.window(0, 40), progress=False)
        assert m.mix_ == 0.5
        with pytest.raises(ValidationError, match="network"):
            m.predict_splits(ts.total[:4])
    path = m.save(tmp_path / "model.pt")
    m2 = LearnedRouter.load(path)
    assert m2.get_params() == m.get_params()
    for t in (20, 33, 39):
        a = m.predict_splits(ts.total[t - 4:t], network=net, paths=ps)
        b = m2.predict_splits(ts.total[t - 4:t], network=net, paths=ps)
        np.testing.assert_array_equal(a, b)


def test_auto_mix_is_the_best_on_validation_and_is_used(trained):
    net, ps, ts, _ = trained
    m = LearnedRouter(history=2, hidden=(16,), epochs=5, prior="robust", prior_window=4)
    m.fit(net, ps, ts, val_start=100, val_stop=120, progress=False)
    scores = {r["mix"]: r["val_ratio_mean"] for r in m.mix_log_}
    assert set(scores) == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert scores[m.mix_] == min(scores.values())
    t = 110
    pure = LearnedRouter.__new__(LearnedRouter)
    pure.__dict__.update(m.__dict__, mix_=0.0)
    prior = Robust(window=4).decide(net, ps, ts.window(0, t)).splits
    want = m.mix_ * prior + (1 - m.mix_) * pure.predict_splits(ts.total[t - 4:t])
    np.testing.assert_allclose(m.predict_splits(ts.total[t - 4:t], network=net, paths=ps), want, atol=1e-6)


def test_errors_name_the_input(trained, tmp_path):
    net, ps, ts, m = trained
    with pytest.raises(NotFittedError, match="fit"):
        LearnedRouter().predict_splits(ts.total[:12])
    with pytest.raises(InputError, match="not found"):
        LearnedRouter.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a model")
    with pytest.raises(InputError, match="surgeguard"):
        LearnedRouter.load(tmp_path / "junk.pt")
    with pytest.raises(ValidationError, match="paths"):
        Learned(model=m).decide(net, k_shortest_paths(net, k=2), ts.window(0, 10))
    with pytest.raises(ValidationError, match="history"):
        LearnedRouter(history=0).fit(net, ps, ts, progress=False)
    with pytest.raises(ValidationError, match="model"):
        Learned().decide(net, ps, ts.window(0, 10))


def test_decide_uses_only_the_last_history_steps_and_falls_back(trained):
    net, ps, ts, m = trained
    pol = Learned(model=m)
    for t in (2, 50, 130):
        r = pol.decide(net, ps, ts.window(0, t))
        np.testing.assert_allclose(r.splits, m.predict_splits(ts.total[t - 2:t]), atol=1e-12)
    # before H steps: the stated fallback (robust over what there is; shortest with nothing)
    r1 = pol.decide(net, ps, ts.window(0, 1))
    assert r1.info["fallback"] == "robust"
    np.testing.assert_allclose(r1.splits, Robust().decide(net, ps, ts.window(0, 1)).splits, atol=1e-9)
    r0 = pol.decide(net, ps, ts.window(0, 0))
    np.testing.assert_allclose(r0.splits, get_policy("shortest").route(net, ps, ts.matrix(0)).splits)


def test_no_future_leakage_in_replay(trained):
    """Changing the traffic from step t0 on cannot change any decision up to t0."""
    net, ps, ts, m = trained
    t0 = 130
    v = ts.values.copy()
    v[t0:] *= np.random.default_rng(5).uniform(0.1, 3.0, v[t0:].shape)  # a very different future
    other = ts.with_values(v)
    ra = replay(net, ps, ts, [Learned(model=m)], start=100, stop=N_STEPS, progress=False)
    rb = replay(net, ps, other, [Learned(model=m)], start=100, stop=N_STEPS, progress=False)
    a = ra.steps[ra.steps.policy == "learned"].set_index("step")["mlu"]
    b = rb.steps[rb.steps.policy == "learned"].set_index("step")["mlu"]
    np.testing.assert_array_equal(a.loc[:t0 - 1].to_numpy(), b.loc[:t0 - 1].to_numpy())
    # the decision at t0 is the same routing, judged on a different matrix
    sa = Learned(model=m).decide(net, ps, ts.window(0, t0)).splits
    sb = Learned(model=m).decide(net, ps, other.window(0, t0)).splits
    np.testing.assert_array_equal(sa, sb)
    assert b.loc[t0] == pytest.approx(evaluate(net, Routing(ps, sb), other.matrix(t0)).mlu)


# ---------------------------------------------------------------------- CLI
runner = CliRunner()


def _files(tmp_path, n=60):
    nodes = [{"id": x} for x in "ABCD"]
    links = []
    for a, b in [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("A", "C")]:
        links += [{"source": a, "target": b, "capacity": 10e9}, {"source": b, "target": a, "capacity": 10e9}]
    net = tmp_path / "net.json"
    net.write_text(json.dumps({"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}))
    rng = np.random.default_rng(0)
    times = pd.date_range("2020-03-20", periods=n, freq="15min", tz="UTC")
    rows = [(t, a, b, 1e9 * rng.uniform(0.5, 2.0)) for t in times for a in "ABCD" for b in "ABCD" if a != b]
    tm = tmp_path / "tm.csv"
    pd.DataFrame(rows, columns=["ds", "src", "dst", "bps"]).to_csv(tm, index=False)
    return str(net), str(tm)


def _err(result):
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1
    return text


def test_cli_train_then_replay_and_solve_with_the_model(tmp_path):
    net, tm = _files(tmp_path)
    model = tmp_path / "m.pt"
    r = runner.invoke(app, ["train", "--network", net, "--traffic", tm, "--k", "2", "--out", str(model),
                            "--epochs", "3", "--history", "2", "--holdout", "0.2", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["epochs_run"] <= 3 and info["val_ratio_mean"] >= 1.0 - 1e-6 and model.is_file()
    # --holdout 0.2: the last 20 % were never read (validation is the 10 % before them)
    assert pd.Timestamp(info["trained_on"][1]) < pd.Timestamp("2020-03-20", tz="UTC") + pd.Timedelta(minutes=15 * 48)
    r = runner.invoke(app, ["replay", "--network", net, "--traffic", tm, "--k", "2", "--policy", "learned,robust",
                            "--model", str(model), "--start", "48", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["policies"]
    assert {"learned", "robust", "oracle"} <= set(s) and s["learned"]["steps"] == 12
    assert s["learned"]["ratio_mean"] >= 1.0 - 1e-6
    r = runner.invoke(app, ["solve", "--network", net, "--traffic", tm, "--k", "2", "--policy", "learned",
                            "--model", str(model), "--at", "5", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["policy"] == "learned"
    # errors: one line, exit 2
    assert "--k" in _err(runner.invoke(app, ["replay", "--network", net, "--traffic", tm, "--k", "1", "--policy",
                                             "learned", "--model", str(model)]))
    assert "--model" in _err(runner.invoke(app, ["replay", "--network", net, "--traffic", tm, "--policy",
                                                 "shortest", "--model", str(model)]))
    assert "--model" in _err(runner.invoke(app, ["solve", "--network", net, "--traffic", tm, "--policy", "learned"]))
    assert "--holdout" in _err(runner.invoke(app, ["train", "--network", net, "--traffic", tm, "--out",
                                                   str(model), "--holdout", "1.5"]))
    assert "not found" in _err(runner.invoke(app, ["replay", "--network", net, "--traffic", tm, "--policy",
                                                   "learned", "--model", str(tmp_path / "nope.pt")]))
