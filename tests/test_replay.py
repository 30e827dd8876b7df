"""The replay contract: policies see only the past."""

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries
from surgeguard.evaluate import replay
from surgeguard.examples import ring
from surgeguard.routing import Policy, Routing, get_policy, k_shortest_paths


class Spy(Policy):
    """Records every history it is given; routes with the LP optimum of the last matrix."""

    name = "spy"

    def __init__(self):
        self.seen = []

    def route(self, network, paths, tm, *, warm=None):
        return get_policy("optimal").route(network, paths, tm)

    def decide(self, network, paths, history, *, warm=None):
        self.seen.append(history.values.copy())
        return super().decide(network, paths, history, warm=warm)


class Cheat(Policy):
    """Would be the oracle if the replay leaked the current matrix through ``history``."""

    name = "cheat"

    def decide(self, network, paths, history, *, warm=None):
        return get_policy("optimal").route(network, paths, history.matrix(-1)) if len(history) else \
            Routing.first_path(paths)


def _series(n_steps=8, seed=0):
    net = ring(5)
    rng = np.random.default_rng(seed)
    v = rng.uniform(0, 4e9, (n_steps, 5, 5))
    v[:, np.arange(5), np.arange(5)] = 0
    ts = TrafficSeries(v, net.node_names, pd.date_range("2020-03-20", periods=n_steps, freq="15min", tz="UTC"))
    return net, k_shortest_paths(net, k=3), ts


def test_policy_sees_only_the_past():
    net, ps, ts = _series()
    spy = Spy()
    replay(net, ps, ts, [spy], start=2, progress=False)
    assert len(spy.seen) == len(ts) - 2
    for k, hist in enumerate(spy.seen):
        t = 2 + k
        assert hist.shape[0] == t  # steps 0..t-1
        np.testing.assert_array_equal(hist, ts.values[:t])


def test_a_policy_using_the_past_is_not_the_oracle():
    """Would fail if the replay handed a policy the matrix it is judged on."""
    net, ps, ts = _series(seed=3)
    res = replay(net, ps, ts, [Cheat()], start=1, progress=False)
    cheat = res.steps[res.steps.policy == "cheat"]
    assert (cheat["ratio"] >= 1 - 1e-7).all()
    assert (cheat["ratio"] > 1 + 1e-4).any()


def test_summary_keys_and_write(tmp_path):
    net, ps, ts = _series()
    res = replay(net, ps, ts, ["shortest", "optimal"], progress=False)
    s = res.summary()["policies"]
    assert set(s) == {"shortest", "optimal", "oracle"}
    keys = {"steps", "mlu_mean", "mlu_p50", "mlu_p90", "mlu_p99", "mlu_max", "ratio_mean", "ratio_p50",
            "ratio_p90", "ratio_p99", "ratio_max", "intervals_over_1", "lost_bits", "decision_seconds_mean"}
    assert keys <= set(s["shortest"])
    files = res.write(tmp_path)
    assert pd.read_parquet(files["steps_parquet"]).shape[0] == 3 * len(ts)
    # optimal in a replay = the optimum of the previous interval: equals the oracle one step late
    o = res.steps[res.steps.policy == "oracle"].reset_index(drop=True)
    opt = res.steps[res.steps.policy == "optimal"].reset_index(drop=True)
    assert opt["mlu"].iloc[0] >= o["mlu"].iloc[0] - 1e-9
