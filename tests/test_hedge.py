"""The hedge policy (online blend of policies) and online fine-tuning of the learned model."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from surgeguard.evaluate import evaluate, replay  # noqa: E402
from surgeguard.exceptions import ValidationError  # noqa: E402
from surgeguard.routing import Routing, get_policy, solve  # noqa: E402
from surgeguard.routing.hedge import Hedge, simplex_grid  # noqa: E402
from surgeguard.routing.learned import LearnedRouter  # noqa: E402
from surgeguard.serve.cli import app  # noqa: E402
from test_learned import _files, _toy  # noqa: E402

runner = CliRunner()


def test_simplex_grid_rows_are_weights():
    g = simplex_grid(3, 4)
    assert g.shape == (15, 3) and np.allclose(g.sum(axis=1), 1) and (g >= 0).all()
    assert {tuple(r) for r in simplex_grid(2, 1)} == {(0.0, 1.0), (1.0, 0.0)}


def test_weights_move_to_the_better_expert_and_splits_stay_on_the_simplex():
    net, ps, ts = _toy()
    h = Hedge(experts=("shortest", "optimal-last"), grid=1, eta=30.0, share=0.01, warmup=30)
    r = h.decide(net, ps, ts.window(0, 80))
    assert np.allclose(ps.od_sum(r.splits), 1.0) and (r.splits >= 0).all()
    w = dict(zip(h.expert_names_, h.weights_ @ h.blends_))
    # on the toy, shortest puts S->T on one path while its background swings: optimal-last is far better
    shortest_ratio = np.mean([rec["ratio_shortest"] for rec in h.history_])
    opt_ratio = np.mean([rec["ratio_optimal-last"] for rec in h.history_])
    assert shortest_ratio > opt_ratio
    assert w["optimal-last"] > 0.9 and r.info["expert_weights"]["optimal-last"] > 0.9


def test_blend_is_never_worse_than_its_worst_expert_and_uses_no_future():
    net, ps, ts = _toy()
    res = replay(net, ps, ts, [Hedge(warmup=12), "optimal-last", get_policy("robust")], start=60, stop=90,
                 progress=False)
    st = res.steps.pivot(index="step", columns="policy", values="mlu")
    # convexity: the blend's MLU <= the weighted mean of its experts' MLUs <= the worst expert's
    assert (st["hedge"] <= np.maximum(st["optimal-last"], st["robust"]) + 1e-9).all()
    # no look-ahead: a decision at t is the same when the matrices from t on are replaced
    a = Hedge(warmup=12).decide(net, ps, ts.window(0, 70))
    changed = ts.with_values(np.where(np.arange(len(ts))[:, None, None] >= 70, ts.values * 3.0, ts.values))
    b = Hedge(warmup=12).decide(net, ps, changed.window(0, 70))
    assert np.allclose(a.splits, b.splits)


def test_hedge_with_a_learned_expert_and_online_refit():
    net, ps, ts = _toy()
    m = LearnedRouter(history=2, hidden=(16,), epochs=15, prior=None, random_state=0).fit(
        net, ps, ts.window(0, 60), val_start=50, val_stop=60, progress=False)
    before = [p.detach().clone() for p in m.module_.parameters()]
    h = Hedge(model=m, refit_every=5, refit_window=40, refit_epochs=2, warmup=6)
    for t in range(70, 81):
        r = h.decide(net, ps, ts.window(0, t))
        assert np.allclose(ps.od_sum(r.splits), 1.0)
    assert h.expert_names_ == ["optimal-last", "robust", "learned"]
    assert len(m.online_log_) == 2 and m.online_log_[-1]["steps"] == 38
    assert any(not np.allclose(a.numpy(), b.detach().numpy()) for a, b in zip(before, m.module_.parameters()))


def test_partial_fit_learns_a_new_regime():
    """A model trained where one path is free, fine-tuned where the other is: it moves its splits."""
    net, ps, ts = _toy()
    m = LearnedRouter(history=2, hidden=(16,), epochs=40, prior=None, lr=3e-3, random_state=0).fit(
        net, ps, ts.window(0, 80), val_start=70, val_stop=80, progress=False)
    # new regime: background only on S->A, so S->T should go S-B-T
    v = ts.values.copy()
    i = {n: k for k, n in enumerate(net.node_names)}
    v[:, i["S"], i["A"]] = 9e9
    v[:, i["B"], i["T"]] = 0.0
    new = ts.with_values(v).window(80, 160)

    def ratio():
        out = []
        for t in range(10, 40):
            s = m.predict_splits(new.total[t - 2:t])
            out.append(evaluate(net, Routing(ps, s), new.matrix(t)).mlu / solve(net, ps, new.matrix(t)).info["mlu"])
        return float(np.mean(out))

    r0 = ratio()
    last = new.total[38:40]
    s0 = m.predict_splits(last)
    assert np.array_equal(m.predict_splits(last), s0)  # the same history twice: the same answer
    m.partial_fit(net, ps, new.window(0, 40), epochs=30, lr=3e-3)
    s1 = m.predict_splits(last)  # new weights: not the remembered answer of the old ones
    m._last_out_ = None
    assert np.array_equal(s1, m.predict_splits(last)) and not np.allclose(s1, s0)
    r1 = ratio()
    assert r1 < r0 - 0.01, (r0, r1)


def test_bad_settings_are_refused():
    net, ps, ts = _toy()
    with pytest.raises(ValidationError, match="distinct"):
        Hedge(experts=("robust", "robust")).decide(net, ps, ts.window(0, 10))
    with pytest.raises(ValidationError, match="hedge itself"):
        Hedge(experts=("hedge",)).decide(net, ps, ts.window(0, 10))
    with pytest.raises(ValidationError, match="share"):
        Hedge(share=1.0).decide(net, ps, ts.window(0, 10))


def test_cli_train_all_data_resume_and_replay_hedge(tmp_path):
    net, tm = _files(tmp_path)
    model = tmp_path / "m.pt"
    r = runner.invoke(app, ["train", "--network", net, "--traffic", tm, "--k", "2", "--out", str(model),
                            "--epochs", "3", "--history", "2", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout.strip().splitlines()[-1])
    # by default it learns from the whole series: the last step read is the series' last
    assert info["trained_on"][1].startswith("2020-03-20T14:45")
    more = tmp_path / "m2.pt"
    r = runner.invoke(app, ["train", "--network", net, "--traffic", tm, "--k", "2", "--out", str(more),
                            "--resume", str(model), "--epochs", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["steps"] == 58
    assert len(LearnedRouter.load(more).online_log_) == 1
    r = runner.invoke(app, ["replay", "--network", net, "--traffic", tm, "--k", "2", "--policy", "hedge,robust",
                            "--model", str(more), "--start", "48", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["policies"]
    assert s["hedge"]["steps"] == 12 and s["hedge"]["ratio_mean"] >= 1.0 - 1e-6
